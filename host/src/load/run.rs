//! Running a load in this process: plan, enqueue, work the queue off, report.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::progress::{self, ProgressStyle};
use super::{LoadError, LoadPlan, LoadReport, LoadRequest, plan_load};
use crate::plugin::Registry;
use crate::provider::Provider;
use crate::queue::{JobQueue, Queue};
use crate::store::Store;
use crate::worker::{WorkerContext, WorkerCounters, WorkerOptions, WorkerSummary, run_workers};

#[derive(Clone)]
pub struct RunOptions {
    pub workers: WorkerOptions,
    pub progress: ProgressStyle,
    /// Enqueue the jobs and return: other processes (`tickstock worker`) do the work.
    pub submit_only: bool,
    /// Told about every job event (metrics, a load board); None for a plain CLI load.
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
    let counters = Arc::new(WorkerCounters::default());

    // Enqueue concurrently with the workers: a plan larger than the queue's backlog limit
    // only fits as workers ack, so waiting for the whole enqueue first could wait forever.
    let (more_jobs_sender, more_jobs_coming) = watch::channel(true);
    let enqueue_queue = queue.clone();
    let jobs = plan.jobs.clone();
    let enqueue = tokio::spawn(async move {
        let outcome = enqueue_queue.enqueue_many(&jobs).await;
        let _ = more_jobs_sender.send(false);
        outcome
    });

    let worker_summary = if options.submit_only {
        enqueue.await.map_err(|error| LoadError::Worker(error.to_string()))??;
        WorkerSummary {
            jobs_done: 0,
            jobs_retried: 0,
            jobs_dead: 0,
            rows_written: 0,
            bars_fetched: 0,
            stopped_by_signal: false,
        }
    } else {
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
        let _ = progress_done.send(true);
        let _ = progress.await;
        if summary.as_ref().map(|s| s.stopped_by_signal).unwrap_or(true) {
            // Jobs not yet enqueued are not lost: the next run plans them again.
            enqueue.abort();
        } else {
            enqueue.await.map_err(|error| LoadError::Worker(error.to_string()))??;
        }
        summary?
    };

    let dead_letters = counters.dead_reasons.lock().map(|reasons| reasons.clone()).unwrap_or_default();
    Ok(LoadReport::new(
        plan.summary,
        plan.load_id,
        store.location().to_string(),
        queue.backend_name().to_string(),
        provider.name(),
        &worker_summary,
        started.elapsed().as_secs_f64(),
        dead_letters,
    ))
}
