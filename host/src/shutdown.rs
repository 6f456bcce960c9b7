//! Ctrl-C and SIGTERM, the same in every long-running command (`load`, `worker`, `serve`):
//! the first asks the process to stop taking work and finish what is in flight; the
//! second exits at once with [`INTERRUPTED`], the shell's code for an interrupted
//! command. SIGTERM is what service managers and `kill` send, so treating it as anything
//! but a Ctrl-C would make a script's `kill` behave differently from a person's keyboard.
//!
//! Depends on tokio and tracing only; never on the rest of tickstock.

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

/// Exit code of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report).
pub const INTERRUPTED: u8 = 130;

/// Both stop signals, registered at once so that neither keeps its default (kill the
/// process) once this exists.
struct StopSignals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl StopSignals {
    fn register() -> StopSignals {
        let register = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for {name}; it will stop the process at once");
                None
            }
        };
        StopSignals {
            interrupt: register(SignalKind::interrupt(), "SIGINT"),
            terminate: register(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// Resolves at the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        async fn receive(signal: &mut Option<Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = receive(&mut self.interrupt) => {}
            () = receive(&mut self.terminate) => {}
        }
    }
}

/// Starts listening for Ctrl-C and SIGTERM. The receiver turns true at the first one; the
/// second exits the process with [`INTERRUPTED`] at once, whatever it is doing (the store
/// is not closed: every committed job is durable, and the jobs in flight are redone by
/// the next run). Call it inside the tokio runtime, before the work starts, so a signal
/// that comes early is not lost.
pub fn listen() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    let mut signals = StopSignals::register();
    tokio::spawn(async move {
        signals.next().await;
        let _ = sender.send(true);
        signals.next().await;
        eprintln!("stopping now (second interrupt): jobs in flight are abandoned and will be redone");
        std::process::exit(i32::from(INTERRUPTED));
    });
    receiver
}

/// Resolves once `stop` turns true (or its sender is gone, which can no longer stop
/// anything, so it never resolves then).
pub async fn requested(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
