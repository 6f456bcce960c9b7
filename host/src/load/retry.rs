//! Retrying the dead jobs the store's ledger keeps, in this process: what `tickstock jobs
//! retry-dead` does on the in-process queue, whose dead letters would otherwise have
//! ended with the process that made them.

use std::sync::Arc;

use tokio::sync::watch;

use super::LoadError;
use crate::plugin::Registry;
use crate::provider::Provider;
use crate::queue::{JobPayload, JobQueue, Queue, QueueOptions};
use crate::store::{MAX_DEAD_LISTED, Store};
use crate::worker::{WorkerContext, WorkerCounters, WorkerOptions, WorkerSummary, run_workers};

/// What a retry of the ledger's dead jobs did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetryReport {
    /// Dead jobs queued again and worked off.
    pub retried: u64,
    /// Dead jobs whose kept payload this build cannot read; left dead, with the reason.
    pub unreadable: Vec<String>,
    pub workers: WorkerSummary,
    /// Why the jobs that died again died.
    pub dead_letters: Vec<String>,
}

/// Puts the ledger's dead jobs (up to `MAX_DEAD_LISTED` at a time) on an in-process queue
/// with a fresh delivery budget and works them off here; each that succeeds is recorded
/// done, each that fails again dead with its new reason.
pub async fn retry_dead_in_process(
    registry: Arc<Registry>,
    store: Store,
    provider: Arc<dyn Provider>,
    options: WorkerOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<RetryReport, LoadError> {
    let dead = store.dead_jobs(MAX_DEAD_LISTED).await?;
    let mut jobs = Vec::with_capacity(dead.len());
    let mut unreadable = Vec::new();
    for record in &dead {
        match record.payload.as_deref().map(JobPayload::decode) {
            Some(Ok(job)) if job.id == record.job_id && job.load_id == record.load_id => {
                jobs.push(JobPayload { attempt: 0, ..job });
            }
            Some(Ok(_)) => unreadable.push(format!("{}: its payload names another job", record.job_id)),
            Some(Err(error)) => unreadable.push(format!("{}: {error}", record.job_id)),
            None => unreadable.push(format!("{}: no payload was kept", record.job_id)),
        }
    }
    // The ledger keeps them dead (with their payloads) until each is done again: an
    // interrupted retry leaves nothing queued that no queue holds.
    let queue = Queue::open(None, QueueOptions::default()).await?;
    queue.enqueue_many(&jobs).await?;
    let counters = Arc::new(WorkerCounters::default());
    let context = WorkerContext { registry, store, provider, queue, counters: counters.clone(), observer: None };
    let (_all_queued, no_more_jobs) = watch::channel(false);
    let workers =
        run_workers(context, WorkerOptions { exit_when_idle: true, ..options }, shutdown, no_more_jobs).await?;
    let dead_letters = counters.dead_reasons.lock().map(|reasons| reasons.clone()).unwrap_or_default();
    Ok(RetryReport { retried: jobs.len() as u64, unreadable, workers, dead_letters })
}
