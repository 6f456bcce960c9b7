//! The data of one call's store: its WASI context (granting nothing) and the memory cap
//! that refuses growth and remembers that it did. Used by `runtime` (the linker is typed
//! over it) and `sandbox` (which builds one per call); depends on neither.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The data of one call's store.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
}

impl CallState {
    /// A call's state: its WASI context and a memory cap of `memory_cap_bytes`.
    pub fn new(wasi: WasiCtx, memory_cap_bytes: u64) -> CallState {
        CallState { wasi, table: ResourceTable::new(), limiter: MemoryCap { cap_bytes: memory_cap_bytes, hit: false } }
    }

    /// For `Store::limiter`.
    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }

    /// Whether the call was refused memory past its cap (then the failure is the cap,
    /// whatever trap the guest's allocator made of the refusal).
    pub fn memory_cap_hit(&self) -> bool {
        self.limiter.hit
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Refuses memory growth past the cap and remembers that it did, so the failure is
/// reported as the memory limit rather than as whatever trap the guest's allocator turns
/// the refusal into.
struct MemoryCap {
    cap_bytes: u64,
    hit: bool,
}

#[derive(Debug)]
struct MemoryCapHit;

impl std::fmt::Display for MemoryCapHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory cap reached")
    }
}

impl std::error::Error for MemoryCapHit {}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.cap_bytes {
            self.hit = true;
            return Err(wasmtime::Error::new(MemoryCapHit));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any honest
        // plugin and bounds the host memory a table can take.
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        // A component made of a few core modules; more is a sign of abuse.
        32
    }
}
