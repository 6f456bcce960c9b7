//! Putting a load's jobs on the queue, and saying so when that waits: backpressure
//! (`--max-pending`) holds a submit until workers take jobs, and a submit that waits
//! without a word looks hung. Also what a load prints when Ctrl-C or SIGTERM stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::queue::{JobPayload, JobQueue, Queue, QueueError};
use crate::worker::WorkerCounters;

/// Most jobs handed to one `enqueue_many`: what the Redis backend sends in one round trip
/// (four script calls of 1,000), so counting submitted jobs chunk by chunk costs no
/// extra round trips.
const SUBMIT_CHUNK: usize = 4_000;

/// How long the submit may make no progress before it says why.
const FIRST_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// How often a submit that still waits says so again.
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// What a submit-only load queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Submitted {
    pub jobs: u64,
    /// Ctrl-C or SIGTERM stopped it before every job was queued.
    pub interrupted: bool,
}

/// Queues `jobs` in order, in chunks small enough to wait on backpressure and large
/// enough to cost nothing extra; `submitted` counts the jobs queued so far.
pub(super) async fn submit(queue: &Queue, jobs: &[JobPayload], submitted: &AtomicU64) -> Result<(), QueueError> {
    let chunk = usize::try_from(queue.max_backlog()).unwrap_or(usize::MAX).clamp(1, SUBMIT_CHUNK);
    for jobs in jobs.chunks(chunk) {
        queue.enqueue_many(jobs).await?;
        submitted.fetch_add(jobs.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Queues every job for other processes (`tickstock worker`) to do. While backpressure
/// holds it, says on stderr what it waits for, once and then every [`NOTICE_EVERY`]; at
/// Ctrl-C or SIGTERM stops submitting and says how far it got.
pub(super) async fn submit_only(
    queue: &Queue,
    jobs: &[JobPayload],
    shutdown: watch::Receiver<bool>,
) -> Result<Submitted, QueueError> {
    let total = jobs.len() as u64;
    let submitted = AtomicU64::new(0);
    let enqueue = submit(queue, jobs, &submitted);
    tokio::pin!(enqueue);
    let stop = crate::shutdown::requested(shutdown);
    tokio::pin!(stop);
    let mut ticks = tokio::time::interval_at(Instant::now() + FIRST_NOTICE_AFTER, FIRST_NOTICE_AFTER);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = 0;
    let mut last_notice: Option<Instant> = None;
    loop {
        tokio::select! {
            outcome = &mut enqueue => {
                outcome?;
                return Ok(Submitted { jobs: total, interrupted: false });
            }
            () = &mut stop => {
                // Jobs of a chunk the queue was adding may have landed too; they are
                // harmless (the next run plans what is still missing, and a job done twice
                // writes the same rows).
                let jobs = submitted.load(Ordering::Relaxed);
                eprintln!(
                    "stopping: submitted {jobs} of {total} jobs; the rest are not queued and the next run plans them again"
                );
                return Ok(Submitted { jobs, interrupted: true });
            }
            _ = ticks.tick() => {
                let now_submitted = submitted.load(Ordering::Relaxed);
                let stalled = now_submitted == seen;
                seen = now_submitted;
                let due = last_notice.is_none_or(|last| last.elapsed() >= NOTICE_EVERY);
                if stalled && due {
                    // The status is only for the message: a queue that does not answer
                    // fails the enqueue itself, with its own error.
                    if let Ok(status) = queue.status().await
                        && status.backlog() >= status.max_backlog
                    {
                        eprintln!(
                            "waiting: the queue holds {} of at most {} jobs; waiting for workers to take some \
                             ({now_submitted} of {total} submitted); start `tickstock worker --queue ...` on this \
                             queue, or press Ctrl-C to stop submitting",
                            status.backlog(),
                            status.max_backlog
                        );
                        last_notice = Some(Instant::now());
                    }
                }
            }
        }
    }
}

/// Says what stopping means once Ctrl-C or SIGTERM asks a load to stop: the jobs in flight
/// are finished, and the jobs not yet queued are left to the next run. Runs as its own
/// task until the load ends (then it is aborted).
pub(super) async fn announce_stop(
    shutdown: watch::Receiver<bool>,
    counters: Arc<WorkerCounters>,
    submitted: Arc<AtomicU64>,
    total: u64,
) {
    crate::shutdown::requested(shutdown).await;
    let queued = submitted.load(Ordering::Relaxed);
    let mut notice = counters.stopping_notice();
    if queued < total {
        notice += &format!("; {} of {total} jobs were not queued yet", total - queued);
    }
    eprintln!("{notice}; the next run loads what is missing");
}
