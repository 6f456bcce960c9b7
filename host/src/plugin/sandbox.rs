//! One sandboxed call: an instance of the plugin (kept from an earlier call by the
//! generation's `InstancePool`, or instantiated into a fresh `Store` with an empty WASI
//! context), a memory cap and an epoch deadline, the call, and the failure classified.
//!
//! Instances are kept between calls only under the pool's rules (a call that failed,
//! wrote output, left resources or grew drops its instance), so the next call never sees
//! a store that trapped; see `pool.rs` for why reuse grants a plugin nothing new.

use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::error::{CallError, CallFailure, PluginId};
use super::pool::{CallEnd, InstancePool, Warm};
use super::runtime::{CallRecord, Runtime};
use super::state::CallState;

/// Returned from a call's body when the plugin answered but the answer breaks the
/// contract (a month 13, a plan that misses a gap). Raising it inside the call, rather
/// than checking afterwards, lets `call` classify it with every other failure, so logs and
/// metrics count it once, as the same call.
#[derive(Debug)]
pub struct InvalidAnswer(pub String);

impl std::fmt::Display for InvalidAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidAnswer {}

impl InvalidAnswer {
    /// As the error type a call's body returns.
    pub fn error(reason: impl Into<String>) -> wasmtime::Error {
        wasmtime::Error::new(InvalidAnswer(reason.into()))
    }
}

/// Who is being called, for error messages and log lines.
#[derive(Debug, Clone)]
pub struct CallTarget<'a> {
    /// Who is called (its origin when not described yet).
    pub plugin: &'a PluginId,
    pub generation: u64,
    pub function: &'static str,
    /// Time allowed on top of the runtime's deadline, for a call whose honest work grows
    /// with what it is given (a plan of 100,000 gaps); zero for the rest.
    pub allowance: Duration,
}

impl CallTarget<'_> {
    pub fn error(&self, failure: CallFailure) -> CallError {
        CallError { plugin: self.plugin.clone(), generation: self.generation, function: self.function, failure }
    }
}

/// Runs `body` on an instance of the plugin under the runtime's limits: an idle one from
/// `pool`, or one `instantiate` makes in a fresh store (inside the call's deadline and
/// memory cap). The error of either (a wasmtime error) is classified into the typed
/// `CallFailure` here. Whatever the guest wrote to stdout or stderr goes to the log under
/// the plugin's name. The instance goes back to `pool` if the call allows it.
pub(crate) fn call<I, R>(
    runtime: &Runtime,
    target: &CallTarget<'_>,
    pool: &InstancePool<I>,
    instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<I>,
    body: impl FnOnce(&mut Store<CallState>, &I) -> wasmtime::Result<R>,
) -> Result<R, CallError> {
    let limits = runtime.limits;
    let mut warm = pool.take().unwrap_or_else(|| fresh(runtime));
    warm.calls = warm.calls.saturating_add(1);
    let deadline = limits.deadline.saturating_add(target.allowance);
    let Warm { store, instance, stdout, stderr, .. } = &mut warm;
    store.data_mut().start_call();
    store.set_epoch_deadline(Runtime::ticks_for(deadline));

    let started = Instant::now();
    let outcome = match instance {
        Some(instance) => body(store, instance),
        None => match instantiate(store) {
            Ok(made) => body(store, instance.insert(made)),
            Err(error) => Err(error),
        },
    };
    let elapsed = started.elapsed();
    let wrote_output = forward_output(target, "stdout", stdout) | forward_output(target, "stderr", stderr);

    let outcome = outcome.map_err(|error| {
        let failure = if store.data().memory_cap_hit() {
            CallFailure::MemoryLimit { cap_bytes: limits.memory_bytes }
        } else if let Some(InvalidAnswer(reason)) = error.downcast_ref::<InvalidAnswer>() {
            CallFailure::InvalidAnswer { reason: reason.clone() }
        } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            CallFailure::DeadlineExceeded { deadline }
        } else {
            CallFailure::Trap { message: trap_message(&error, stderr) }
        };
        // Debug, not warn: the error goes back to the caller, who reports it where it
        // belongs (a CLI error line, /plugins, metrics); logging it here too would say it
        // twice.
        tracing::debug!(
            plugin = %target.plugin,
            generation = target.generation,
            function = target.function,
            elapsed_ms = elapsed.as_millis() as u64,
            limit = failure.label(),
            "plugin call failed: {failure}"
        );
        target.error(failure)
    });
    pool.give_back(warm, CallEnd { succeeded: outcome.is_ok(), wrote_output });
    if let Some(observer) = runtime.call_observer.get() {
        observer(&CallRecord {
            plugin: target.plugin,
            generation: target.generation,
            function: target.function,
            failure: outcome.as_ref().err().map(|error| &error.failure),
            elapsed,
        });
    }
    outcome
}

/// A fresh store, not yet instantiated: an empty WASI context, output pipes capped at
/// the runtime's limit, the memory cap, and deadlines that trap.
fn fresh<I>(runtime: &Runtime) -> Warm<I> {
    let limits = runtime.limits;
    let stdout = MemoryOutputPipe::new(limits.output_bytes);
    let stderr = MemoryOutputPipe::new(limits.output_bytes);
    // Nothing is granted: no preopened directories, no environment, no arguments, no
    // sockets, no name lookup. Clocks and randomness stay (WASI gives them to everyone and
    // std needs them); stdin is closed.
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let mut store = Store::new(&runtime.engine, CallState::new(wasi, limits.memory_bytes));
    store.limiter(CallState::limiter);
    store.epoch_deadline_trap();
    Warm { store, instance: None, stdout, stderr, calls: 0 }
}

/// A one-line description of a trap: the trap code when there is one (not wasmtime's
/// multi-line backtrace), else the root cause; plus the last line the guest wrote to
/// stderr, which for a Rust guest is its panic message.
fn trap_message(error: &wasmtime::Error, stderr: &MemoryOutputPipe) -> String {
    let mut message = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    message = message.lines().next().unwrap_or_default().to_string();
    let output = stderr.contents();
    let text = String::from_utf8_lossy(&output);
    // A Rust panic prints "thread '..' panicked at file:line:col:", the message on the
    // next line, then a "note: run with RUST_BACKTRACE" line that says nothing here.
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("note:")).collect();
    let said = match lines.iter().rposition(|line| line.contains("panicked at")) {
        Some(index) => Some(lines[index..].join(" ")),
        None => lines.last().map(|line| line.to_string()),
    };
    // The plugin chose those words and their length: quote at most an excerpt.
    if let Some(said) = said {
        message = format!("{message}; plugin stderr: {}", super::limits::excerpt(&said));
    }
    message
}

/// Logs what the guest wrote to `pipe`; returns whether it wrote anything.
fn forward_output(target: &CallTarget<'_>, stream: &'static str, pipe: &MemoryOutputPipe) -> bool {
    let contents = pipe.contents();
    if contents.is_empty() {
        return false;
    }
    for line in String::from_utf8_lossy(&contents).lines() {
        tracing::info!(target: "tickstock::plugin::output", plugin = %target.plugin, generation = target.generation, stream, "{line}");
    }
    true
}
