//! What one generation's calls came to: how many, how many failed, and the last failure
//! (when, which function, why), for `GET /plugins` and `tickstock plugins list`. Metrics
//! count the same calls, but a counter cannot say *why* the last call failed, and an
//! operator looking at a plugin wants that first.
//!
//! Kept per generation (on its `Callable`), so a swap starts clean and a rollback shows
//! the old generation's record again only if it is the same generation.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::CallError;

/// Most characters of a failure's message kept: plugin text (a panic message, an invalid
/// answer's reason) is untrusted and a list of plugins must stay readable.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// The most recent failed call of a generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentCallError {
    pub at: DateTime<Utc>,
    /// The plugin function called (`info`, `special-days`, `plan`, ...).
    pub function: String,
    /// `deadline`, `memory`, `trap`, `invalid-answer` or `instantiation`.
    pub limit: String,
    /// The failure, at most `MAX_MESSAGE_CHARS` characters (cut with an ellipsis).
    pub message: String,
}

/// Counters and the last failure; updated after every call, read by `list`.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: AtomicU64,
    errors: AtomicU64,
    /// A `std::sync::Mutex`: held only to swap in a small record, never across a call.
    last_error: Mutex<Option<RecentCallError>>,
}

/// A copy of the stats at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSummary {
    pub calls: u64,
    pub errors: u64,
    pub last_error: Option<RecentCallError>,
}

impl CallStats {
    /// Counts one finished call, and keeps its failure if it failed.
    pub(crate) fn record<R>(&self, outcome: &Result<R, CallError>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = outcome {
            self.errors.fetch_add(1, Ordering::Relaxed);
            let recent = RecentCallError {
                at: Utc::now(),
                function: error.function.to_string(),
                limit: error.failure.label().to_string(),
                message: bounded(&error.failure.to_string()),
            };
            *self.last_error.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(recent);
        }
    }

    pub fn summary(&self) -> CallSummary {
        CallSummary {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|poison| poison.into_inner()).clone(),
        }
    }
}

/// `text` on one line, cut to `MAX_MESSAGE_CHARS` characters with an ellipsis.
fn bounded(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_message_is_cut_to_one_bounded_line() {
        let message = bounded(&format!("line one\n{}", "x".repeat(10_000)));
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 3);
        assert!(!message.contains('\n'));
        assert_eq!(bounded("short"), "short");
    }
}
