//! Instances kept between calls, so that a call into a plugin is a call and not an
//! instantiation: a fresh store and instance cost about 20 us (mostly mapping, faulting
//! in and then unmapping the guest's memory), the call itself a few.
//!
//! A kept instance carries the state its earlier calls left in its memory. That is no new
//! power: a plugin already reads clocks and randomness, so its answers were never
//! guaranteed to repeat, and every answer is checked whatever instance gave it. What reuse
//! must not do is let one call's trouble or growth reach the next, so an instance goes
//! back to the pool only when the call that just used it
//!
//! - succeeded, answer checked (a trap, a deadline, the memory cap or an invalid answer
//!   drops the instance: a store that saw a trap must never run again);
//! - wrote nothing to stdout or stderr (the output pipes and their per-call cap belong
//!   to a fresh instance);
//! - left no WASI resource behind in its table;
//! - did not grow memory or a table, unless it was the instance's first call (which
//!   instantiated it): a plugin that keeps what it allocates grows, and is then dropped,
//!   so it can never accumulate its way to the memory cap across calls;
//! - and the instance holds at most [`KEEP_MEMORY_BYTES`] of memory and has served fewer
//!   than [`CALLS_PER_INSTANCE`] calls.
//!
//! At most [`IDLE_PER_PLUGIN`] instances wait per generation; more concurrent callers
//! instantiate their own and drop them afterwards. The pool dies with its generation, so
//! a swap never hands a call an instance of the old code.

use std::sync::Mutex;

use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::state::CallState;

/// Instances waiting per generation: enough for the concurrent callers of one process
/// (workers asking a calendar, requests asking a policy) without holding much memory.
pub const IDLE_PER_PLUGIN: usize = 4;

/// An instance whose memory grew beyond this is dropped after its call rather than kept:
/// a built-in plugin's memory is 1-2 MiB, and a kept instance should not pin a big one.
pub const KEEP_MEMORY_BYTES: u64 = 8 * 1024 * 1024;

/// Calls one instance serves before it is dropped, bounding whatever a plugin could
/// accumulate without growing (an allocator's fragmentation, state of its own).
pub const CALLS_PER_INSTANCE: u32 = 1000;

/// A store with its output pipes and, once instantiated, the plugin's instance.
pub(crate) struct Warm<I> {
    pub store: Store<CallState>,
    pub instance: Option<I>,
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
    /// Calls this instance has served, the current one included.
    pub calls: u32,
}

/// How a call that used a `Warm` ended, as far as keeping it is concerned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallEnd {
    pub succeeded: bool,
    pub wrote_output: bool,
}

/// The idle instances of one generation.
pub(crate) struct InstancePool<I> {
    idle: Mutex<Vec<Warm<I>>>,
}

impl<I> Default for InstancePool<I> {
    fn default() -> Self {
        InstancePool { idle: Mutex::new(Vec::with_capacity(IDLE_PER_PLUGIN)) }
    }
}

impl<I> InstancePool<I> {
    /// An idle instance, if one waits.
    pub fn take(&self) -> Option<Warm<I>> {
        self.lock().pop()
    }

    /// Keeps `warm` for a later call if the call that used it allows it (the rules in the
    /// module docs); drops it otherwise. Returns whether it was kept.
    pub fn give_back(&self, warm: Warm<I>, end: CallEnd) -> bool {
        if !reusable(&warm, end) {
            return false;
        }
        let mut idle = self.lock();
        if idle.len() >= IDLE_PER_PLUGIN {
            return false;
        }
        idle.push(warm);
        true
    }

    /// Drops every idle instance (the next call instantiates afresh).
    pub fn clear(&self) {
        let idle = std::mem::take(&mut *self.lock());
        drop(idle);
    }

    /// How many instances wait.
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    /// A poisoned lock only means a thread panicked while holding a `Vec` push or pop;
    /// the vector is still whole.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Warm<I>>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn reusable<I>(warm: &Warm<I>, end: CallEnd) -> bool {
    let state = warm.store.data();
    end.succeeded
        && !end.wrote_output
        && warm.instance.is_some()
        && !state.holds_resources()
        && (warm.calls <= 1 || !state.grew_this_call())
        && state.largest_memory_bytes() <= KEEP_MEMORY_BYTES
        && warm.calls < CALLS_PER_INSTANCE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store as a call leaves it; `()` stands for the instance.
    fn warm(calls: u32) -> Warm<()> {
        let stdout = MemoryOutputPipe::new(64);
        let stderr = MemoryOutputPipe::new(64);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().stdout(stdout.clone()).stderr(stderr.clone()).build();
        let store = Store::new(&wasmtime::Engine::default(), CallState::new(wasi, 1 << 20));
        Warm { store, instance: Some(()), stdout, stderr, calls }
    }

    const CLEAN: CallEnd = CallEnd { succeeded: true, wrote_output: false };

    /// Output is judged by the call, not by the fixture: a guest that printed may also
    /// have grown or kept its stream, and either would hide this rule in a fixture test.
    #[test]
    fn a_call_that_wrote_output_gives_its_instance_up() {
        let pool = InstancePool::default();
        assert!(!pool.give_back(warm(2), CallEnd { wrote_output: true, ..CLEAN }));
        assert!(!pool.give_back(warm(2), CallEnd { succeeded: false, ..CLEAN }));
        assert!(pool.give_back(warm(2), CLEAN));
        assert_eq!(pool.idle(), 1);
    }

    #[test]
    fn no_more_than_idle_per_plugin_wait() {
        let pool = InstancePool::default();
        let kept = (0..IDLE_PER_PLUGIN + 3).filter(|_| pool.give_back(warm(1), CLEAN)).count();
        assert_eq!(kept, IDLE_PER_PLUGIN);
        assert_eq!(pool.idle(), IDLE_PER_PLUGIN);
        pool.clear();
        assert_eq!(pool.idle(), 0);
    }
}
