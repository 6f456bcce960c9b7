//! Running a load in this process: plan, enqueue, work the queue off, report.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use tokio::sync::watch;

use super::progress::{self, ProgressStyle};
use super::submit;
use super::{LoadError, LoadPlan, LoadReport, LoadRequest, plan_load};
use crate::plugin::Registry;
use crate::provider::Provider;
use crate::queue::Queue;
use crate::store::Store;
use crate::worker::{WorkerContext, WorkerCounters, WorkerOptions, WorkerSummary, run_workers};

#[derive(Clone)]
pub struct RunOptions {
    pub workers: WorkerOptions,
    pub progress: ProgressStyle,
    /// Enqueue the jobs and return: other processes (`tickstock worker`) do the work.
    pub submit_only: bool,
    /// Told about every job event (metrics); None for a plain CLI load.
    pub observer: Option<crate::worker::JobObserver>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("workers", &self.workers)
            .field("progress", &self.progress)
            .field("submit_only", &self.submit_only)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .finish()
    }
}

/// Plans the load, enqueues its jobs and, unless `submit_only`, works the queue off in
/// this process until it is empty or `shutdown` turns true.
pub async fn run(
    registry: Arc<Registry>,
    store: Store,
    provider: Arc<dyn Provider>,
    queue: Queue,
    request: &LoadRequest,
    options: RunOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let plan = plan_load(&registry, &store, request).await?;
    run_plan(registry, store, provider, queue, plan, options, shutdown, started).await
}

/// Enqueues the jobs of a plan already made and works them off, as `run` does after
/// planning. For callers that look at the plan first (`refresh` reports the bars missing
/// and skips the workers when there is nothing to do); `started` is when the caller began,
/// so the report's time includes its planning.
#[allow(clippy::too_many_arguments)]
pub async fn run_plan(
    registry: Arc<Registry>,
    store: Store,
    provider: Arc<dyn Provider>,
    queue: Queue,
    plan: LoadPlan,
    options: RunOptions,
    shutdown: watch::Receiver<bool>,
    started: Instant,
) -> Result<LoadReport, LoadError> {
    super::log::started(&plan);
    let counters = Arc::new(WorkerCounters::default());
    // The ledger first: whichever process settles a job then finds its load.
    store.record_load(&plan.ledger_entry()).await?;

    let worker_summary = if options.submit_only {
        let submitted = submit::submit_only(&queue, &plan.jobs, shutdown).await;
        let submitted = fail_on_enqueue_error(&store, &plan.load_id, submitted).await?;
        if submitted.interrupted {
            let reason = format!(
                "interrupted after {} of {} jobs were queued; the same command queues what is still missing",
                submitted.jobs,
                plan.jobs.len()
            );
            record_failure(&store, &plan.load_id, &reason).await;
        }
        WorkerSummary {
            jobs_done: 0,
            jobs_retried: 0,
            jobs_dead: 0,
            rows_written: 0,
            bars_fetched: 0,
            stopped_by_signal: submitted.interrupted,
        }
    } else {
        // Enqueue concurrently with the workers: a plan larger than the queue's backlog
        // limit only fits as workers ack, so waiting for the whole enqueue first could
        // wait forever.
        let (more_jobs_sender, more_jobs_coming) = watch::channel(true);
        let submitted = Arc::new(AtomicU64::new(0));
        let enqueue_queue = queue.clone();
        let jobs = plan.jobs.clone();
        let enqueue_count = submitted.clone();
        let enqueue = tokio::spawn(async move {
            let outcome = submit::submit(&enqueue_queue, &jobs, &enqueue_count).await;
            let _ = more_jobs_sender.send(false);
            outcome
        });
        let announcer =
            tokio::spawn(submit::announce_stop(shutdown.clone(), counters.clone(), submitted, plan.jobs.len() as u64));
        let (progress_done, progress_done_receiver) = watch::channel(false);
        let progress = tokio::spawn(progress::show(
            options.progress,
            counters.clone(),
            plan.summary.expected_rows,
            plan.jobs.len() as u64,
            progress_done_receiver,
        ));
        let context = WorkerContext {
            registry,
            store: store.clone(),
            provider: provider.clone(),
            queue: queue.clone(),
            counters: counters.clone(),
            observer: options.observer.clone(),
        };
        let summary = run_workers(context, options.workers, shutdown, more_jobs_coming).await;
        // Stopped by a signal: let the notice be said (the workers can see the signal
        // before its task runs); it prints at once. Otherwise it has nothing to say.
        if summary.as_ref().is_ok_and(|summary| summary.stopped_by_signal) {
            let _ = announcer.await;
        } else {
            announcer.abort();
        }
        let _ = progress_done.send(true);
        let _ = progress.await;
        if summary.as_ref().map(|s| s.stopped_by_signal).unwrap_or(true) {
            // Jobs not yet enqueued are not lost: the next run plans them again.
            enqueue.abort();
            if matches!(queue, Queue::Memory(_)) {
                // The in-process queue ends with this process: its jobs will not run.
                let reason = "interrupted before every job ran; the same command loads what is still missing";
                record_failure(&store, &plan.load_id, reason).await;
            }
        } else {
            let enqueued = enqueue.await.map_err(|error| LoadError::Worker(error.to_string()))?;
            fail_on_enqueue_error(&store, &plan.load_id, enqueued).await?;
        }
        summary?
    };

    let dead_letters = counters.dead_reasons.lock().map(|reasons| reasons.clone()).unwrap_or_default();
    let report = LoadReport::new(
        plan.summary,
        plan.load_id,
        store.location().to_string(),
        queue.backend_name().to_string(),
        provider.name(),
        &worker_summary,
        started.elapsed().as_secs_f64(),
        dead_letters,
    );
    super::log::finished(
        &report.load_id,
        super::log::LoadTotals {
            rows_written: report.rows_written,
            jobs_done: report.jobs_done,
            jobs_dead: report.jobs_dead,
            seconds: report.seconds,
        },
    );
    Ok(report)
}

/// Passes an enqueue's outcome on, recording a failure in the ledger first so the load
/// reads `failed` with the reason rather than `queued` for ever.
async fn fail_on_enqueue_error<T>(
    store: &Store,
    load_id: &str,
    enqueued: Result<T, crate::queue::QueueError>,
) -> Result<T, LoadError> {
    match enqueued {
        Ok(value) => Ok(value),
        Err(error) => {
            record_failure(store, load_id, &format!("its jobs could not all be enqueued: {error}")).await;
            Err(LoadError::Queue(error))
        }
    }
}

/// Marks the load failed in the ledger; a store that cannot say so is logged, the load's
/// own outcome (its error or report) still goes to the caller.
async fn record_failure(store: &Store, load_id: &str, reason: &str) {
    if let Err(error) = store.fail_load(load_id, reason).await {
        tracing::warn!(load = %load_id, %error, "could not record the failed load in the ledger");
    }
}
