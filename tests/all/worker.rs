//! The workers in-process, against a SQLite file and the in-process queue, with providers
//! and a market clock the tests control: per-tier caps (`--tier-cap`), the market-aware
//! throttle (`--max-jobs-while-open`, `--when-closed`) at chosen market hours, and the
//! provider's circuit breaker.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use tickstock::plan::{Gap, Tier, Timeframe};
use tickstock::provider::synthetic::synthetic_bars;
use tickstock::provider::{FetchFuture, FetchRequest, Provider, ProviderError, TransientError};
use tickstock::queue::{JobPayload, JobQueue, Queue, QueueOptions};
use tickstock::schedule::{Backoff, CircuitState};
use tickstock::worker::{JobEvent, JobObserver, MarketClock, Throttle, WorkerContext, WorkerOptions, WorkerSummary};
use tokio::sync::watch;

/// Friday 2024-03-15, 15:00 UTC: XNYS trades (13:30-20:00 UTC, daylight saving time).
fn xnys_open_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 15, 15, 0, 0).unwrap()
}

/// The close of that session.
fn xnys_close() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 15, 20, 0, 0).unwrap()
}

/// One job of one gap: a single XNYS session.
fn job(symbol: &str, tier: Tier) -> JobPayload {
    let day = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let gap = Gap { symbol: symbol.to_string(), exchange: "XNYS".into(), start: day, end: day, sessions: 1 };
    JobPayload::new("worker-test", tier, Timeframe::Daily, vec![gap])
}

/// A worker context on a fresh SQLite file and in-process queue holding `jobs`.
async fn context(
    scratch: &tempfile::TempDir,
    provider: Arc<dyn Provider>,
    jobs: &[JobPayload],
    observer: Option<JobObserver>,
) -> WorkerContext {
    let registry = tickstock::plugin::Registry::with_builtins(
        tickstock::plugin::Runtime::new(crate::support::patient_runtime_options()).unwrap(),
    )
    .unwrap();
    let path = scratch.path().join("bars.db");
    let store = tickstock::store::Store::open(&path.display().to_string()).await.unwrap();
    let queue = Queue::open(None, QueueOptions::default()).await.unwrap();
    queue.enqueue_many(jobs).await.unwrap();
    WorkerContext { registry: Arc::new(registry), store, provider, queue, counters: Default::default(), observer }
}

/// Runs the workers until the queue is drained.
async fn run(context: WorkerContext, options: WorkerOptions) -> WorkerSummary {
    let (_shutdown_sender, shutdown) = watch::channel(false);
    let (_more_sender, no_more) = watch::channel(false);
    let store = context.store.clone();
    let summary = tickstock::worker::run_workers(context, options, shutdown, no_more).await.unwrap();
    store.close().await;
    summary
}

/// Polls `condition` until it holds; fails the test after 30 s rather than hanging.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < give_up, "gave up waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Holds every fetch until the test opens the gate; records the symbols fetched.
#[derive(Debug)]
struct GatedProvider {
    started: Mutex<Vec<String>>,
    gate: watch::Receiver<bool>,
}

impl Provider for GatedProvider {
    fn name(&self) -> String {
        "gated".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            self.started.lock().unwrap().push(request.symbol.to_string());
            let mut gate = self.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            Ok(synthetic_bars(&request))
        })
    }
}

#[test]
fn tier_cap_bounds_the_jobs_of_a_tier_in_flight() {
    let scratch = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let (open_gate, gate) = watch::channel(false);
        let provider = Arc::new(GatedProvider { started: Mutex::new(Vec::new()), gate });
        let jobs: Vec<JobPayload> = ["C1", "C2", "C3"]
            .iter()
            .map(|symbol| job(symbol, Tier::Critical))
            .chain(["L1", "L2", "L3"].iter().map(|symbol| job(symbol, Tier::Low)))
            .collect();
        let context = context(&scratch, provider.clone(), &jobs, None).await;
        let queue = context.queue.clone();
        let mut options = WorkerOptions { workers: 6, ..WorkerOptions::default() };
        options.tier_caps.insert(Tier::Critical, 1);
        let workers = tokio::spawn(run(context, options));

        // Critical outweighs low 10 to 1, so without the cap the dispatcher takes all three
        // critical jobs before the third low one. With the cap, one critical job runs and
        // the other two wait in the queue while every low job is taken.
        let low_started = || provider.started.lock().unwrap().iter().filter(|symbol| symbol.starts_with('L')).count();
        wait_until("the three low jobs are being fetched", || low_started() == 3).await;
        let critical = queue.status().await.unwrap().tier(Tier::Critical);
        assert_eq!((critical.in_flight, critical.queued), (1, 2), "critical capped at 1: {critical:?}");

        open_gate.send(true).unwrap();
        let summary = workers.await.unwrap();
        assert_eq!(summary.jobs_done, 6);
    });
}

/// Counts the fetches in flight at once. The first fetch waits (up to `WINDOW`) for a
/// second one to start, so two jobs that may overlap do overlap.
#[derive(Debug, Default)]
struct OverlapProvider {
    fetches: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl OverlapProvider {
    /// How long the first fetch waits for company: ample for the dispatcher to start the
    /// other jobs it already took from the queue; the throttled run pays it once.
    const WINDOW: Duration = Duration::from_secs(2);
}

impl Provider for OverlapProvider {
    fn name(&self) -> String {
        "overlap".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(in_flight, Ordering::SeqCst);
            if self.fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                let give_up = Instant::now() + Self::WINDOW;
                while self.in_flight.load(Ordering::SeqCst) < 2 && Instant::now() < give_up {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(synthetic_bars(&request))
        })
    }
}

/// A clock stopped at one instant; the throttle under test never sleeps on it.
struct StoppedClock(DateTime<Utc>);

impl MarketClock for StoppedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        panic!("the throttle slept {duration:?} on a stopped clock")
    }
}

/// Most XNYS jobs in flight at once, three jobs on three workers with
/// `--max-jobs-while-open 1`, at `now`.
fn most_in_flight_with_one_job_while_open(now: DateTime<Utc>) -> usize {
    let scratch = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let provider = Arc::new(OverlapProvider::default());
        let jobs: Vec<JobPayload> = ["A", "B", "C"].iter().map(|symbol| job(symbol, Tier::Normal)).collect();
        let context = context(&scratch, provider.clone(), &jobs, None).await;
        let throttle =
            Throttle { max_jobs_while_open: Some(1), clock: Arc::new(StoppedClock(now)), ..Throttle::default() };
        let summary = run(context, WorkerOptions { workers: 3, throttle, ..WorkerOptions::default() }).await;
        assert_eq!(summary.jobs_done, 3);
        provider.most_in_flight.load(Ordering::SeqCst)
    })
}

#[test]
fn max_jobs_while_open_runs_one_job_per_exchange_while_it_trades() {
    let saturday = Utc.with_ymd_and_hms(2024, 3, 16, 15, 0, 0).unwrap();
    assert!(most_in_flight_with_one_job_while_open(saturday) >= 2, "closed: the jobs overlap freely");
    assert_eq!(most_in_flight_with_one_job_while_open(xnys_open_instant()), 1, "open: one at a time");
}

/// A clock the test sets, whose `sleep` moves it on at once and records the wait.
struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    slept: Mutex<Vec<Duration>>,
}

impl MarketClock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        *self.now.lock().unwrap() += chrono::Duration::from_std(duration).unwrap();
        self.slept.lock().unwrap().push(duration);
        Box::pin(tokio::task::yield_now())
    }
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("ManualClock").finish_non_exhaustive()
    }
}

/// Records the clock's time at every fetch.
#[derive(Debug)]
struct ClockReadingProvider {
    clock: Arc<ManualClock>,
    fetched_at: Mutex<Vec<DateTime<Utc>>>,
}

impl Provider for ClockReadingProvider {
    fn name(&self) -> String {
        "clock-reading".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            self.fetched_at.lock().unwrap().push(self.clock.now());
            Ok(synthetic_bars(&request))
        })
    }
}

#[test]
fn when_closed_holds_jobs_until_the_exchange_closes() {
    let scratch = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let clock = Arc::new(ManualClock { now: Mutex::new(xnys_open_instant()), slept: Mutex::new(Vec::new()) });
        let provider = Arc::new(ClockReadingProvider { clock: clock.clone(), fetched_at: Mutex::new(Vec::new()) });
        let jobs = [job("A", Tier::Normal), job("B", Tier::Normal)];
        let context = context(&scratch, provider.clone(), &jobs, None).await;
        let throttle = Throttle { only_when_closed: true, clock: clock.clone(), ..Throttle::default() };
        let summary = run(context, WorkerOptions { workers: 1, throttle, ..WorkerOptions::default() }).await;
        assert_eq!(summary.jobs_done, 2);

        let fetched_at = provider.fetched_at.lock().unwrap().clone();
        assert_eq!(fetched_at.len(), 2);
        for at in &fetched_at {
            assert!(*at >= xnys_close(), "fetched at {at}, before the close at {}", xnys_close());
        }
        // The first job waited from 15:00 to the close; the second found it closed.
        assert_eq!(*clock.slept.lock().unwrap(), [Duration::from_secs(5 * 3600)]);
    });
}

/// Fails the first `failures` fetches with a transient error, then serves; writes
/// "fetch failed" / "fetch" into a log the circuit events also go to.
#[derive(Debug)]
struct FlakyProvider {
    failures: usize,
    fetches: AtomicUsize,
    log: Arc<Mutex<Vec<String>>>,
}

impl Provider for FlakyProvider {
    fn name(&self) -> String {
        "flaky".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            if self.fetches.fetch_add(1, Ordering::SeqCst) < self.failures {
                self.log.lock().unwrap().push("fetch failed".into());
                return Err(ProviderError::Transient(TransientError::Connection {
                    url: "http://127.0.0.1:9/".into(),
                    detail: "connection refused".into(),
                }));
            }
            self.log.lock().unwrap().push("fetch".into());
            Ok(synthetic_bars(&request))
        })
    }
}

#[test]
fn circuit_opens_after_consecutive_provider_failures_and_one_probe_closes_it() {
    let scratch = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let log = Arc::new(Mutex::new(Vec::new()));
        let provider = Arc::new(FlakyProvider { failures: 2, fetches: AtomicUsize::new(0), log: log.clone() });
        let events = log.clone();
        let observer: JobObserver = Arc::new(move |event: &JobEvent<'_>| {
            if let JobEvent::Circuit { state, .. } = event {
                let state = match state {
                    CircuitState::Closed => "circuit closed",
                    CircuitState::Open => "circuit open",
                    CircuitState::HalfOpen => "circuit half-open",
                };
                events.lock().unwrap().push(state.to_string());
            }
        });
        let jobs = [job("A", Tier::Normal), job("B", Tier::Normal), job("C", Tier::Normal)];
        let context = context(&scratch, provider, &jobs, Some(observer)).await;
        let options = WorkerOptions {
            workers: 1,
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_millis(50),
            backoff: Backoff { first: Duration::from_millis(1), max: Duration::from_millis(1) },
            ..WorkerOptions::default()
        };
        let summary = run(context, options).await;
        assert_eq!((summary.jobs_done, summary.jobs_retried, summary.jobs_dead), (3, 2, 0));

        // Two failures open the circuit; nothing is fetched until the cooldown lets one
        // probe through, whose success closes it again.
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "circuit closed",
                "fetch failed",
                "fetch failed",
                "circuit open",
                "circuit half-open",
                "fetch",
                "circuit closed",
                "fetch",
                "fetch",
            ],
        );
    });
}
