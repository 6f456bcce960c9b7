//! Workers: take jobs from the queue and turn them into bars in the store.
//!
//! One dispatcher per process hands jobs to up to `workers` concurrent tasks. It picks
//! the tier of the next job with `schedule::WeightedFair` (10/5/2/1 under per-tier caps,
//! so `low` is never starved), holds off while the provider's circuit is open or the jobs
//! in flight would exceed the memory budget, and keeps a long job alive in the queue so
//! it is not taken over while it runs.
//!
//! A job is: fetch every gap's bars from the provider, write them all in one store
//! transaction, then ack. Transient failures (provider timeouts, 429/5xx, a busy
//! database) are nacked after an exponential backoff with jitter, until the queue's
//! delivery limit dead-letters them; permanent ones (bad data, bad credentials, an
//! invalid bar) are dead-lettered at once with the reason. Acking only after the commit,
//! with idempotent upserts, makes a re-delivered job harmless.
//!
//! Here: the dispatcher (`run_workers`) and what it reports; `job` runs and settles one
//! job; `throttle` is the market-aware throttle.
//!
//! Depends on the core (`plan`, `schedule`), `plugin`, `provider`, `queue` and `store`;
//! never on `load`, `cli` or `server`.

mod job;
mod summary;
mod throttle;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::plan::{BAR_BYTES_IN_MEMORY, Tier, Timeframe};
use crate::plugin::Registry;
use crate::provider::Provider;
use crate::queue::{Delivery, JobQueue, Queue};
use crate::schedule::{Backoff, CircuitBreaker, CircuitState, DEFAULT_WEIGHTS, WeightedFair};
use crate::store::Store;
use job::{JobOutcome, run_job_kept_alive, settle};
use throttle::ExchangeThrottle;

pub use summary::DEFAULT_SUMMARY_EVERY;

/// How the workers run.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs running at once in this process.
    pub workers: usize,
    /// Most jobs of one tier running at once.
    pub tier_caps: BTreeMap<Tier, usize>,
    pub backoff: Backoff,
    /// Consecutive transient provider failures that open the circuit.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    /// Estimated bytes of bars the running jobs may hold; dequeuing pauses above it (one
    /// job always runs, however large).
    pub memory_budget_bytes: u64,
    /// Market-aware throttle.
    pub throttle: Throttle,
    /// Stop when the queue has nothing queued or in flight (a one-off load); otherwise run
    /// until shut down (`tickstock worker`).
    pub exit_when_idle: bool,
    /// How often a running job tells the queue it is alive.
    pub keep_alive_every: Duration,
    /// How long the queue may stay unreachable (no success between failures) before the
    /// workers give up with an error; None waits for ever (a long-running worker outlives
    /// a Redis restart).
    pub max_queue_outage: Option<Duration>,
    /// How often to log a summary line while jobs settle (`worker::summary`); None or
    /// zero for none.
    pub summary_every: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            workers: 4,
            tier_caps: Tier::ALL.iter().map(|&tier| (tier, usize::MAX)).collect(),
            backoff: Backoff::default(),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(10),
            memory_budget_bytes: 512 * 1024 * 1024,
            throttle: Throttle::default(),
            exit_when_idle: true,
            keep_alive_every: Duration::from_secs(10),
            max_queue_outage: None,
            summary_every: Some(DEFAULT_SUMMARY_EVERY),
        }
    }
}

/// Being kind to a provider while markets trade.
#[derive(Clone)]
pub struct Throttle {
    /// At most this many jobs per exchange run while that exchange is open.
    pub max_jobs_while_open: Option<usize>,
    /// Hold every job until its exchanges are all closed.
    pub only_when_closed: bool,
    /// Whose time "open" and "closed" are judged by: the system clock but in tests.
    pub clock: Arc<dyn MarketClock>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle { max_jobs_while_open: None, only_when_closed: false, clock: Arc::new(SystemClock) }
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Throttle")
            .field("max_jobs_while_open", &self.max_jobs_while_open)
            .field("only_when_closed", &self.only_when_closed)
            .finish_non_exhaustive()
    }
}

/// Where the market-aware throttle reads the time and waits for a close. A seam for
/// tests: they pass a clock set to chosen market hours (and whose `sleep` moves it on)
/// rather than waiting for real ones; production uses `SystemClock`.
pub trait MarketClock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Waits `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The system clock and tokio's timer.
pub struct SystemClock;

impl MarketClock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Counters of one worker process, readable while it runs (progress, metrics, reports).
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub jobs_done: AtomicU64,
    pub jobs_retried: AtomicU64,
    pub jobs_dead: AtomicU64,
    pub rows_written: AtomicU64,
    pub bars_fetched: AtomicU64,
    /// Jobs running now (taken from the queue and not yet settled).
    pub in_flight: AtomicU64,
    /// Jobs done per tier, in `Tier::ALL` order.
    pub done_by_tier: [AtomicU64; 4],
    /// Sum of job wall times in milliseconds, for mean job duration.
    pub job_millis: AtomicU64,
    /// The last reasons jobs were dead-lettered, newest last (bounded).
    pub dead_reasons: Mutex<Vec<String>>,
    /// Circuit state, for status displays.
    pub circuit: Mutex<Option<CircuitState>>,
}

impl WorkerCounters {
    pub fn done_in(&self, tier: Tier) -> u64 {
        self.done_by_tier[tier_index(tier)].load(Ordering::Relaxed)
    }

    /// What stopping means now, for the line a process prints at its first Ctrl-C or
    /// SIGTERM.
    pub fn stopping_notice(&self) -> String {
        match self.in_flight.load(Ordering::Relaxed) {
            0 => "stopping: nothing in flight".to_string(),
            1 => "stopping: finishing the 1 job in flight (Ctrl-C again to abort it)".to_string(),
            jobs => format!("stopping: finishing the {jobs} jobs in flight (Ctrl-C again to abort them)"),
        }
    }
}

fn tier_index(tier: Tier) -> usize {
    Tier::ALL.iter().position(|&t| t == tier).expect("every tier is in ALL")
}

/// What a worker run did.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerSummary {
    pub jobs_done: u64,
    pub jobs_retried: u64,
    pub jobs_dead: u64,
    pub rows_written: u64,
    /// Bars the provider returned, before the store's upsert (`refresh` divides it by the
    /// bars missing to show that nothing was fetched twice).
    pub bars_fetched: u64,
    pub stopped_by_signal: bool,
}

/// Something that happened to a job, for whoever watches (serve's metrics).
#[derive(Debug)]
pub enum JobEvent<'a> {
    Done {
        job: &'a crate::queue::JobPayload,
        tier: Tier,
        rows: u64,
    },
    Retried {
        job: &'a crate::queue::JobPayload,
        tier: Tier,
        error: &'a str,
    },
    Dead {
        job: &'a crate::queue::JobPayload,
        tier: Tier,
        reason: &'a str,
    },
    /// The provider's circuit changed state.
    Circuit {
        provider: &'a str,
        state: CircuitState,
    },
}

/// Called for every `JobEvent`, on the worker's task: keep it quick.
pub type JobObserver = Arc<dyn Fn(&JobEvent<'_>) + Send + Sync>;

/// What the workers need from the rest of tickstock.
#[derive(Clone)]
pub struct WorkerContext {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub provider: Arc<dyn Provider>,
    pub queue: Queue,
    pub counters: Arc<WorkerCounters>,
    /// Told about every finished, retried or dead job; None for a plain CLI load.
    pub observer: Option<JobObserver>,
}

impl WorkerContext {
    fn notify(&self, event: JobEvent<'_>) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }
}

/// Runs the dispatcher until the queue is drained (`exit_when_idle`) or `shutdown` turns
/// true; then waits for the jobs in flight to finish. `more_jobs_coming` stays true while
/// someone is still enqueueing, so an empty queue does not end a load too early.
pub async fn run_workers(
    context: WorkerContext,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
    more_jobs_coming: watch::Receiver<bool>,
) -> Result<WorkerSummary, crate::queue::QueueError> {
    let _summary = summary::spawn(context.counters.clone(), options.summary_every);
    let workers = options.workers.max(1);
    let caps: Vec<(Tier, u32, usize)> = DEFAULT_WEIGHTS
        .iter()
        .map(|&(tier, weight)| (tier, weight, *options.tier_caps.get(&tier).unwrap_or(&usize::MAX)))
        .collect();
    let mut fair = WeightedFair::new(&caps);
    let breaker = Arc::new(Mutex::new(CircuitBreaker::new(options.breaker_threshold, options.breaker_cooldown)));
    let throttle = Arc::new(ExchangeThrottle::new(options.throttle.clone()));
    let mut running: JoinSet<(Tier, u64, JobOutcome)> = JoinSet::new();
    let mut bytes_in_flight: u64 = 0;
    let mut empty_tiers: HashSet<Tier> = HashSet::new();
    let mut stopped_by_signal = false;
    let mut outage = Outage { since: None, limit: options.max_queue_outage };

    loop {
        count_dead_at_dequeue(&context);
        // Reap finished jobs without waiting.
        while let Some(finished) = running.try_join_next() {
            let finished = finished.expect("job tasks do not panic");
            reap(finished, &mut fair, &mut bytes_in_flight, &breaker);
            empty_tiers.clear();
        }
        if *shutdown.borrow() {
            stopped_by_signal = true;
            break;
        }
        let at_capacity =
            running.len() >= workers || (!running.is_empty() && bytes_in_flight >= options.memory_budget_bytes);
        let circuit = breaker.lock().expect("breaker lock").state(Instant::now());
        let previous = context.counters.circuit.lock().expect("counters lock").replace(circuit);
        if previous != Some(circuit) {
            context.notify(JobEvent::Circuit { provider: &context.provider.name(), state: circuit });
        }
        let circuit_blocks = match circuit {
            CircuitState::Closed => false,
            CircuitState::HalfOpen => !running.is_empty(),
            CircuitState::Open => true,
        };
        if at_capacity || circuit_blocks {
            let wait = if circuit == CircuitState::Open {
                breaker.lock().expect("breaker lock").wait(Instant::now()).max(Duration::from_millis(10))
            } else {
                Duration::from_secs(1)
            };
            if let Some(finished) = wait_for_change(&mut running, &mut shutdown, wait).await {
                reap(finished, &mut fair, &mut bytes_in_flight, &breaker);
            }
            continue;
        }

        if let Some(tier) = fair.pick(|tier| !empty_tiers.contains(&tier)) {
            let dequeued = match context.queue.try_dequeue(tier).await {
                Ok(dequeued) => {
                    outage.recovered();
                    dequeued
                }
                Err(error) => {
                    fair.cancel(tier);
                    outage.failed(&error, &mut shutdown).await?;
                    continue;
                }
            };
            match dequeued {
                Some(delivery) => {
                    let bytes = job_bytes(&delivery);
                    bytes_in_flight += bytes;
                    spawn_job(&mut running, context.clone(), options.clone(), throttle.clone(), delivery, bytes);
                }
                None => {
                    fair.cancel(tier);
                    empty_tiers.insert(tier);
                }
            }
            continue;
        }

        // Every tier with room is empty right now.
        if running.is_empty() && options.exit_when_idle && !*more_jobs_coming.borrow() {
            match context.queue.status().await {
                Ok(status) if status.backlog() == 0 => break,
                Ok(_) => outage.recovered(),
                Err(error) => {
                    outage.failed(&error, &mut shutdown).await?;
                    continue;
                }
            }
        }
        // Wait for new work (a blocking read on the tiers with room), a finished job or
        // the shutdown signal, whichever comes first.
        let open_tiers: Vec<Tier> = Tier::ALL
            .iter()
            .copied()
            .filter(|&tier| fair.running(tier) < *options.tier_caps.get(&tier).unwrap_or(&usize::MAX))
            .collect();
        empty_tiers.clear();
        if open_tiers.is_empty() {
            if let Some(finished) = wait_for_change(&mut running, &mut shutdown, Duration::from_millis(200)).await {
                reap(finished, &mut fair, &mut bytes_in_flight, &breaker);
            }
            continue;
        }
        let poll = if running.is_empty() { Duration::from_millis(250) } else { Duration::from_millis(50) };
        tokio::select! {
            delivery = context.queue.dequeue(&open_tiers, poll) => {
                let delivery = match delivery {
                    Ok(delivery) => {
                        outage.recovered();
                        delivery
                    }
                    Err(error) => {
                        outage.failed(&error, &mut shutdown).await?;
                        None
                    }
                };
                if let Some(delivery) = delivery {
                    fair.charge(delivery.tier);
                    let bytes = job_bytes(&delivery);
                    bytes_in_flight += bytes;
                    spawn_job(&mut running, context.clone(), options.clone(), throttle.clone(), delivery, bytes);
                }
            }
            Some(finished) = running.join_next(), if !running.is_empty() => {
                // A job finished while we waited for new work: book it now rather than
                // after the poll times out, so a load ends as soon as its last job does.
                reap(finished.expect("job tasks do not panic"), &mut fair, &mut bytes_in_flight, &breaker);
            }
            _ = shutdown.changed() => {}
        }
    }

    // Finish what is in flight: its bars are fetched or being written, and the next run
    // would only redo it.
    while let Some(finished) = running.join_next().await {
        let finished = finished.expect("job tasks do not panic");
        reap(finished, &mut fair, &mut bytes_in_flight, &breaker);
    }
    // Acks still buffered would otherwise be lost with the process, and their jobs run
    // again after the claim timeout: harmless, but wasted.
    if let Err(error) = context.queue.flush_acks().await {
        tracing::warn!(%error, "could not send the last acks; their jobs will be delivered again");
    }
    count_dead_at_dequeue(&context);
    let counters = &context.counters;
    Ok(WorkerSummary {
        jobs_done: counters.jobs_done.load(Ordering::Relaxed),
        jobs_retried: counters.jobs_retried.load(Ordering::Relaxed),
        jobs_dead: counters.jobs_dead.load(Ordering::Relaxed),
        rows_written: counters.rows_written.load(Ordering::Relaxed),
        bars_fetched: counters.bars_fetched.load(Ordering::Relaxed),
        stopped_by_signal,
    })
}

/// Most dead-letter reasons `WorkerCounters::dead_reasons` keeps.
const MAX_DEAD_REASONS: usize = 100;

/// Counts the jobs the queue dead-lettered while this dispatcher dequeued (payloads it
/// could not read, jobs delivered too often): no job task saw them, and a summary that
/// left them out would report fewer dead letters than `tickstock jobs dead` lists.
fn count_dead_at_dequeue(context: &WorkerContext) {
    let dead = context.queue.take_dead_at_dequeue();
    if dead.count == 0 {
        return;
    }
    context.counters.jobs_dead.fetch_add(dead.count, Ordering::Relaxed);
    let mut reasons = context.counters.dead_reasons.lock().expect("counters lock");
    for reason in dead.reasons {
        tracing::warn!("dead-lettered at dequeue: {reason}");
        if reasons.len() >= MAX_DEAD_REASONS {
            reasons.remove(0);
        }
        reasons.push(reason);
    }
}

/// The queue's current outage: since when it has failed with no success in between, and
/// how long that may last.
struct Outage {
    since: Option<Instant>,
    limit: Option<Duration>,
}

impl Outage {
    /// One more failure: an error once the outage is longer than the limit, else a short
    /// wait before the next try.
    async fn failed(
        &mut self,
        error: &crate::queue::QueueError,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), crate::queue::QueueError> {
        let since = *self.since.get_or_insert_with(Instant::now);
        if let Some(limit) = self.limit
            && since.elapsed() >= limit
        {
            return Err(crate::queue::QueueError::Unavailable { seconds: limit.as_secs(), last: error.to_string() });
        }
        queue_trouble(error, shutdown).await;
        Ok(())
    }

    fn recovered(&mut self) {
        self.since = None;
    }
}

/// The queue failed (Redis restarting, a network blip): say so and wait a little before
/// the next try. The workers outlive the outage; jobs whose ack was lost come back after
/// `claim_idle` and are rewritten harmlessly.
async fn queue_trouble(error: &crate::queue::QueueError, shutdown: &mut watch::Receiver<bool>) {
    tracing::warn!(%error, "queue unavailable; retrying in 500 ms");
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        _ = shutdown.changed() => {}
    }
}

/// Waits until a job finishes (returning it), the shutdown signal changes, or `timeout`
/// passes.
async fn wait_for_change(
    running: &mut JoinSet<(Tier, u64, JobOutcome)>,
    shutdown: &mut watch::Receiver<bool>,
    timeout: Duration,
) -> Option<(Tier, u64, JobOutcome)> {
    if running.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep(timeout) => {}
            _ = shutdown.changed() => {}
        }
        return None;
    }
    tokio::select! {
        finished = running.join_next() => finished.map(|result| result.expect("job tasks do not panic")),
        _ = tokio::time::sleep(timeout) => None,
        _ = shutdown.changed() => None,
    }
}

/// Books a finished job: frees its tier slot and its memory, feeds the breaker.
fn reap(
    (tier, bytes, outcome): (Tier, u64, JobOutcome),
    fair: &mut WeightedFair,
    bytes_in_flight: &mut u64,
    breaker: &Mutex<CircuitBreaker>,
) {
    fair.finished(tier);
    *bytes_in_flight = bytes_in_flight.saturating_sub(bytes);
    record_outcome(breaker, outcome);
}

fn record_outcome(breaker: &Mutex<CircuitBreaker>, outcome: JobOutcome) {
    let mut breaker = breaker.lock().expect("breaker lock");
    match outcome {
        // A job that committed some symbols but stopped at a provider failure counts as
        // the failure: the provider is what the breaker watches.
        JobOutcome::Done { split, .. } if split.provider_failure => breaker.record_failure(Instant::now()),
        JobOutcome::Done { .. } => breaker.record_success(),
        JobOutcome::Transient { provider_failure: true, .. } => breaker.record_failure(Instant::now()),
        JobOutcome::Transient { .. } | JobOutcome::Permanent { .. } | JobOutcome::Lost => {}
    }
}

/// Rough bytes of bars a job will hold: its sessions times bars per session.
fn job_bytes(delivery: &Delivery) -> u64 {
    let per_session = match delivery.job.timeframe {
        Timeframe::Daily => 1,
        Timeframe::Minute => 510,
    };
    let sessions = delivery.job.gaps.iter().fold(0u64, |sum, gap| sum.saturating_add(u64::from(gap.sessions)));
    sessions.saturating_mul(per_session).saturating_mul(BAR_BYTES_IN_MEMORY)
}

fn spawn_job(
    running: &mut JoinSet<(Tier, u64, JobOutcome)>,
    context: WorkerContext,
    options: WorkerOptions,
    throttle: Arc<ExchangeThrottle>,
    delivery: Delivery,
    bytes: u64,
) {
    let tier = delivery.tier;
    context.counters.in_flight.fetch_add(1, Ordering::Relaxed);
    running.spawn(async move {
        let started = Instant::now();
        let outcome = run_job_kept_alive(&context, &options, &throttle, &delivery).await;
        settle(&context, &options, &delivery, &outcome, started.elapsed()).await;
        context.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        (tier, bytes, outcome)
    });
}
