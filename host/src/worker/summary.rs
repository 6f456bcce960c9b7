//! The workers' periodic INFO line: every `summary_every` while jobs settle, the totals
//! of this process's workers (jobs done, retried, dead, rows written) and the rows written
//! since the last line. A line is logged only when something changed since the previous
//! one, so an idle worker is silent however long it waits.
//!
//! A task of its own reading `WorkerCounters`, not a branch of the dispatcher loop: the
//! dispatcher waits on jobs and on the queue, and a timer there would wake it for nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::WorkerCounters;

/// The default interval between summary lines.
pub const DEFAULT_SUMMARY_EVERY: Duration = Duration::from_secs(30);

/// The counters a summary line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Totals {
    jobs_done: u64,
    jobs_retried: u64,
    jobs_dead: u64,
    rows_written: u64,
}

impl Totals {
    fn of(counters: &WorkerCounters) -> Totals {
        Totals {
            jobs_done: counters.jobs_done.load(Ordering::Relaxed),
            jobs_retried: counters.jobs_retried.load(Ordering::Relaxed),
            jobs_dead: counters.jobs_dead.load(Ordering::Relaxed),
            rows_written: counters.rows_written.load(Ordering::Relaxed),
        }
    }
}

/// Stops the summary task when the dispatcher returns, by any path.
pub(super) struct SummaryTask(Option<tokio::task::JoinHandle<()>>);

impl Drop for SummaryTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Starts the summary lines, or nothing when `every` is None or zero.
pub(super) fn spawn(counters: Arc<WorkerCounters>, every: Option<Duration>) -> SummaryTask {
    let Some(every) = every.filter(|every| !every.is_zero()) else { return SummaryTask(None) };
    SummaryTask(Some(tokio::spawn(async move {
        // The first tick one interval from now: a line at start would say nothing.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Totals::of(&counters);
        loop {
            ticks.tick().await;
            let now = Totals::of(&counters);
            if now == last {
                continue;
            }
            tracing::info!(
                jobs_done = now.jobs_done,
                jobs_retried = now.jobs_retried,
                jobs_dead = now.jobs_dead,
                rows_written = now.rows_written,
                rows_since_last = now.rows_written.saturating_sub(last.rows_written),
                interval_secs = every.as_secs_f64(),
                "workers summary"
            );
            last = now;
        }
    })))
}
