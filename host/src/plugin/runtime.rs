//! The one `wasmtime::Engine` of the process, its linker (WASI p2 with nothing granted),
//! the epoch ticker that enforces call deadlines, and the per-call limits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::artifact_cache::ArtifactCache;
use super::error::{CallFailure, PluginId};
use super::state::CallState;

/// How often the epoch advances. A deadline fires between `deadline - TICK` and
/// `deadline` after the call starts; 10 ms keeps that slack small at a negligible cost (one
/// thread waking 100 times a second).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one call.
    pub deadline: Duration,
    /// Cap on a plugin instance's linear memory, in bytes.
    pub memory_bytes: u64,
    /// Cap on what one call may write to stdout, and separately to stderr, in bytes; more
    /// traps.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { deadline: Duration::from_millis(100), memory_bytes: 64 * 1024 * 1024, output_bytes: 64 * 1024 }
    }
}

/// Options for building a `Runtime`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub limits: Limits,
    /// Folder for precompiled artifacts; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

/// One finished plugin call, as a call observer sees it.
#[derive(Debug, Clone, Copy)]
pub struct CallRecord<'a> {
    /// `kind/name`, or the origin of a plugin not yet described.
    pub plugin: &'a PluginId,
    /// 0 for a candidate that has not gone live.
    pub generation: u64,
    pub function: &'static str,
    /// None when the call succeeded.
    pub failure: Option<&'a CallFailure>,
    pub elapsed: Duration,
}

/// Called after every sandboxed call (metrics count calls, errors and limit hits with
/// it). It runs on the calling thread, so it must be cheap and must not call plugins.
pub type CallObserver = Box<dyn Fn(&CallRecord<'_>) + Send + Sync>;

/// Engine, linker, limits and artifact cache, shared by every plugin of the process.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) limits: Limits,
    pub(crate) cache: Option<ArtifactCache>,
    /// Set at most once (a `OnceLock`, not a `Mutex<Option<..>>`): a call reads it with
    /// one atomic load and takes no lock.
    pub(crate) call_observer: OnceLock<CallObserver>,
    ticker_stop: Arc<AtomicBool>,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Arc<Runtime>> {
        let mut config = Config::new();
        // Epoch interruption, not fuel: fuel instruments every block and slows every call,
        // while an epoch check is one load and compare at loop headers and calls.
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;

        let mut linker = Linker::new(&engine);
        // Guests built with std import wasi:io, wasi:cli and friends even when they never
        // use them; the context behind these imports grants nothing (see sandbox.rs).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;

        let cache = options.cache_dir.map(|dir| ArtifactCache::new(dir, &engine));
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(&engine, ticker_stop.clone());
        Ok(Arc::new(Runtime {
            engine,
            linker,
            limits: options.limits,
            cache,
            call_observer: OnceLock::new(),
            ticker_stop,
        }))
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Installs the observer every later call reports to. There is one per runtime; a
    /// second observer is handed back unused.
    pub fn observe_calls(&self, observer: CallObserver) -> Result<(), CallObserver> {
        self.call_observer.set(observer)
    }

    /// Epoch ticks a call may run before it is interrupted.
    /// Epoch ticks in `deadline`, at least one.
    pub(crate) fn ticks_for(deadline: Duration) -> u64 {
        let ticks = deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// One thread per engine advances the epoch. It holds only a weak reference, so it never
/// keeps an engine alive, and stops when the runtime is dropped.
fn spawn_epoch_ticker(engine: &Engine, stop: Arc<AtomicBool>) {
    let weak_engine = engine.weak();
    std::thread::Builder::new()
        .name("tickstock-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak_engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawn the epoch ticker thread");
}
