//! The data of a plugin instance's store: its WASI context (granting nothing) and the
//! memory cap that refuses growth and remembers that it did, and what the instance pool
//! needs to know after a call (did it grow memory, does it hold resources). Used by
//! `runtime` (the linker is typed over it), `sandbox` (which builds one per instance) and
//! `pool`; depends on none of them.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// WASI resources (streams, pollables) an instance may hold at once. An honest plugin
/// holds a handful for a moment; wasmtime's default, a million, would let one call take
/// a hundred MiB or more of host memory that the memory cap does not see.
pub const RESOURCES_PER_INSTANCE: usize = 10_000;

/// The data of one instance's store.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
}

impl CallState {
    /// A call's state: its WASI context and a memory cap of `memory_cap_bytes`.
    pub fn new(wasi: WasiCtx, memory_cap_bytes: u64) -> CallState {
        let mut table = ResourceTable::new();
        table.set_max_capacity(RESOURCES_PER_INSTANCE);
        CallState {
            wasi,
            table,
            limiter: MemoryCap { cap_bytes: memory_cap_bytes, hit: false, grown: false, largest_bytes: 0 },
        }
    }

    /// Forgets what the previous call on this store did (its growth), before the next.
    pub fn start_call(&mut self) {
        self.limiter.grown = false;
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

    /// Whether a memory or table was created or grown since `start_call` (instantiation
    /// creates them, so a call that instantiated always says yes).
    pub fn grew_this_call(&self) -> bool {
        self.limiter.grown
    }

    /// The largest linear memory granted to this instance, in bytes.
    pub fn largest_memory_bytes(&self) -> u64 {
        self.limiter.largest_bytes
    }

    /// Whether the guest holds WASI resources (a stream, a pollable) that it never
    /// dropped.
    pub fn holds_resources(&self) -> bool {
        !self.table.is_empty()
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
    /// A memory or table was created or grown since the last `start_call`.
    grown: bool,
    largest_bytes: u64,
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
        self.grown = true;
        self.largest_bytes = self.largest_bytes.max(desired as u64);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any honest
        // plugin and bounds the host memory a table can take.
        let allowed = desired <= 1_000_000;
        self.grown |= allowed;
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        // A component made of a few core modules; more is a sign of abuse.
        32
    }
}
