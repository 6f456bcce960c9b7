//! The job queue's contract, run on both backends: the in-process queue, and Redis Streams
//! on the local Redis (`TICKSTOCK_TEST_REDIS_URL`), each test under its own key prefix,
//! deleted at the end even when the test fails. A restart test starts its own
//! `redis-server` with `appendonly yes` and kills it with SIGKILL.
//!
//! Then what batched reads and buffered acks put at risk on Redis: a batch read but not
//! handed out is reclaimed when its consumer dies; acks still in the buffer when a
//! consumer is killed come back as re-deliveries that leave the store and the ledger
//! exact; and a drain costs one read (carrying the acks) per batch, counted with the
//! server's `INFO commandstats` on a Redis of the test's own.
//!
//! Waits use generous timeouts only so a broken queue fails instead of hanging; nothing
//! asserts on how long anything took.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone as _, Utc};
use tickstock::plan::{Gap, Tier, Timeframe};
use tickstock::provider::synthetic::synthetic_bars;
use tickstock::provider::{FetchFuture, FetchRequest, Provider};
use tickstock::queue::{
    DEFAULT_READ_BATCH, JobPayload, JobQueue, NackOutcome, Queue, QueueError, QueueOptions, new_job_id,
};
use tickstock::store::{BarSelection, JobRef, JobState, LedgerJob, NewLoad, Store};
use tickstock::worker::{WorkerContext, WorkerOptions};

use crate::support;

/// Long enough for any correct wait on a loaded 2-core machine; only a bug reaches it.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
enum Backend {
    InProcess,
    Redis,
}

/// A queue under test plus what it takes to clean up after it.
struct Fixture {
    queue: Queue,
    _keys: Option<RedisKeys>,
}

/// Deletes every key under a test's prefix when dropped (panics included), over a plain
/// synchronous connection because Drop cannot await.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut connection) = client.get_connection() else { return };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut connection).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// Test options: a short idle time so reclaim tests take a fraction of a second.
fn test_options() -> QueueOptions {
    QueueOptions { claim_idle: Duration::from_millis(200), max_deliveries: 3, ..QueueOptions::default() }
}

impl Fixture {
    /// The queue for `backend`, or None (with the reason printed) when Redis is not
    /// configured on this machine.
    async fn open(backend: Backend, options: QueueOptions) -> Option<Fixture> {
        match backend {
            Backend::InProcess => {
                Some(Fixture { queue: Queue::open(None, options).await.expect("in-process queue"), _keys: None })
            }
            Backend::Redis => {
                let url = support::redis_url()?;
                let prefix = format!("tickstock-test:{}:", new_job_id());
                let keys = RedisKeys { url: url.clone(), prefix: prefix.clone() };
                let queue = Queue::open(Some(&url), QueueOptions { key_prefix: prefix, ..options })
                    .await
                    .unwrap_or_else(|error| panic!("opening the Redis queue at {url}: {error}"));
                Some(Fixture { queue, _keys: Some(keys) })
            }
        }
    }
}

fn gap(symbol: &str) -> Gap {
    Gap {
        symbol: symbol.to_string(),
        exchange: "XNYS".to_string(),
        start: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        end: NaiveDate::from_ymd_opt(2024, 3, 28).unwrap(),
        sessions: 61,
    }
}

fn job(tier: Tier, symbol: &str) -> JobPayload {
    JobPayload::new("load-test", tier, Timeframe::Daily, vec![gap(symbol)])
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future).await.unwrap_or_else(|_| panic!("{what} did not finish within {PATIENCE:?}"))
}

/// Runs every scenario below once per backend, as `queue::in_process::<name>` and
/// `queue::on_redis::<name>`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod in_process {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::Backend::InProcess).await })*
        }
        mod on_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::Backend::Redis).await })*
        }
    };
}

on_both_backends!(
    every_tier_round_trips_through_enqueue_dequeue_ack,
    dequeue_prefers_tiers_in_the_given_order_and_waits_for_a_late_job,
    a_job_abandoned_by_a_dead_consumer_is_reclaimed_by_another_after_the_idle_time,
    keep_alive_reports_a_job_another_consumer_took_over,
    nacked_job_is_retried_then_dead_lettered_with_its_last_error,
    a_job_whose_consumers_keep_dying_is_dead_lettered_by_delivery_count,
    dead_letter_is_immediate_and_retry_dead_requeues_with_a_fresh_budget,
    backpressure_holds_the_backlog_at_the_limit_until_acks_free_room,
    a_job_of_a_newer_format_is_dead_lettered_with_the_reason_not_dropped,
    bulk_enqueue_of_several_chunks_keeps_every_job,
    a_consumer_retires_only_once_it_holds_no_job,
    a_purged_queue_is_empty_and_still_usable,
    a_batch_read_but_not_handed_out_is_reclaimed_once_its_consumer_dies,
);

async fn every_tier_round_trips_through_enqueue_dequeue_ack(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let jobs: Vec<JobPayload> = Tier::ALL.iter().map(|&tier| job(tier, tier.as_str())).collect();
    for job in &jobs {
        queue.enqueue(job).await.unwrap();
    }
    let mut deliveries = Vec::new();
    // Lowest tier first: a tier's dequeue must not hand out another tier's job.
    for job in jobs.iter().rev() {
        let delivery = queue.try_dequeue(job.tier).await.unwrap().expect("a job in this tier");
        assert_eq!(&delivery.job, job);
        assert_eq!(delivery.tier, job.tier);
        assert_eq!(delivery.deliveries, 1);
        assert_eq!(delivery.last_error, None);
        assert!(queue.try_dequeue(job.tier).await.unwrap().is_none(), "one job per tier");
        deliveries.push(delivery);
    }
    let status = queue.status().await.unwrap();
    for tier in Tier::ALL {
        assert_eq!((status.tier(tier).queued, status.tier(tier).in_flight), (0, 1), "{tier:?}: {status:?}");
    }
    for delivery in &deliveries {
        queue.ack(delivery).await.unwrap();
    }
    let status = queue.status().await.unwrap();
    assert_eq!(status.backlog(), 0, "{status:?}");
    for tier in Tier::ALL {
        assert!(queue.try_dequeue(tier).await.unwrap().is_none());
    }
}

async fn dequeue_prefers_tiers_in_the_given_order_and_waits_for_a_late_job(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    queue.enqueue(&job(Tier::Low, "LOW")).await.unwrap();
    queue.enqueue(&job(Tier::High, "HIGH")).await.unwrap();
    assert!(queue.try_dequeue(Tier::Critical).await.unwrap().is_none(), "no critical job, and no waiting on others");

    let first = queue.dequeue(&[Tier::High, Tier::Low], PATIENCE).await.unwrap().expect("a job");
    assert_eq!(first.tier, Tier::High);
    let second = queue.dequeue(&[Tier::High, Tier::Low], PATIENCE).await.unwrap().expect("a job");
    assert_eq!(second.tier, Tier::Low);
    queue.ack(&first).await.unwrap();
    queue.ack(&second).await.unwrap();

    // Nothing queued: dequeue waits until a producer adds a job. It is seen waiting (polled
    // once, still pending) before the job is enqueued, rather than racing a producer that
    // sleeps first.
    let late_job = job(Tier::Normal, "LATE");
    let waiting = queue.dequeue(&[Tier::Critical, Tier::Normal], PATIENCE);
    tokio::pin!(waiting);
    assert!(
        tokio::time::timeout(Duration::ZERO, &mut waiting).await.is_err(),
        "dequeue on an empty queue answered at once instead of waiting"
    );
    queue.enqueue(&late_job).await.unwrap();
    let late = within("waiting for the late job", waiting).await.unwrap().expect("the late job");
    assert_eq!(late.job, late_job);
    queue.ack(&late).await.unwrap();

    // And gives up with None after its timeout when nothing comes.
    assert!(queue.dequeue(&[Tier::Low], Duration::from_millis(50)).await.unwrap().is_none());
}

async fn a_job_abandoned_by_a_dead_consumer_is_reclaimed_by_another_after_the_idle_time(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let survivor = &fixture.queue;
    let abandoned = job(Tier::Normal, "ABANDONED");
    survivor.enqueue(&abandoned).await.unwrap();
    {
        let doomed = survivor.another_consumer().await.unwrap();
        assert_ne!(doomed.consumer_name(), survivor.consumer_name());
        let delivery = doomed.try_dequeue(Tier::Normal).await.unwrap().expect("the job");
        assert_eq!(delivery.deliveries, 1);
        // The consumer "dies": it and the delivery are dropped without ack or nack.
    }
    assert_eq!(survivor.status().await.unwrap().tier(Tier::Normal).in_flight, 1);
    let reclaimed =
        within("reclaiming", survivor.dequeue(&[Tier::Normal], PATIENCE)).await.unwrap().expect("reclaimed");
    assert_eq!(reclaimed.job, abandoned);
    assert_eq!(reclaimed.deliveries, 2);
    survivor.ack(&reclaimed).await.unwrap();
    assert_eq!(survivor.status().await.unwrap().backlog(), 0);
}

async fn keep_alive_reports_a_job_another_consumer_took_over(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let slow = &fixture.queue;
    slow.enqueue(&job(Tier::High, "SLOW")).await.unwrap();
    let slow_delivery = slow.try_dequeue(Tier::High).await.unwrap().expect("the job");
    assert!(slow.keep_alive(&slow_delivery).await.unwrap(), "its own in-flight job");

    let other = slow.another_consumer().await.unwrap();
    let taken_over = within("taking over", other.dequeue(&[Tier::High], PATIENCE)).await.unwrap().expect("taken over");
    assert_eq!(taken_over.job.id, slow_delivery.job.id);
    assert!(!slow.keep_alive(&slow_delivery).await.unwrap(), "no longer the slow consumer's");
    assert!(other.keep_alive(&taken_over).await.unwrap());
    other.ack(&taken_over).await.unwrap();
}

async fn nacked_job_is_retried_then_dead_lettered_with_its_last_error(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let flaky = job(Tier::Critical, "FLAKY");
    queue.enqueue(&flaky).await.unwrap();

    let errors = ["timeout talking to the provider", "HTTP 502", "provider said 503"];
    for (attempt, error) in errors.iter().enumerate() {
        let delivery = queue.try_dequeue(Tier::Critical).await.unwrap().expect("the job again");
        assert_eq!(delivery.job.id, flaky.id);
        assert_eq!(delivery.deliveries, attempt as u32 + 1);
        assert_eq!(delivery.last_error.as_deref(), attempt.checked_sub(1).map(|previous| errors[previous]));
        let expected = if attempt + 1 < errors.len() { NackOutcome::Requeued } else { NackOutcome::DeadLettered };
        assert_eq!(queue.nack(&delivery, error).await.unwrap(), expected);
    }
    assert!(queue.try_dequeue(Tier::Critical).await.unwrap().is_none());
    let dead = queue.list_dead(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].tier, Tier::Critical);
    assert_eq!(dead[0].deliveries, 3);
    assert!(dead[0].reason.contains("provider said 503"), "{}", dead[0].reason);
    assert_eq!(dead[0].job().unwrap().id, flaky.id);
    let status = queue.status().await.unwrap();
    assert_eq!((status.backlog(), status.tier(Tier::Critical).dead), (0, 1), "{status:?}");
}

async fn a_job_whose_consumers_keep_dying_is_dead_lettered_by_delivery_count(backend: Backend) {
    let options = QueueOptions { max_deliveries: 2, ..test_options() };
    let Some(fixture) = Fixture::open(backend, options).await else { return };
    let queue = &fixture.queue;
    let poison = job(Tier::Low, "POISON");
    queue.enqueue(&poison).await.unwrap();
    for deliveries in 1..=2 {
        let doomed = queue.another_consumer().await.unwrap();
        let delivery = within("delivery", doomed.dequeue(&[Tier::Low], PATIENCE)).await.unwrap().expect("the job");
        assert_eq!(delivery.deliveries, deliveries);
    }
    // The third delivery would exceed max_deliveries: dead-lettered instead of handed out.
    // Wait until it shows up as dead (a reclaim happens only after the idle time).
    within("dead-lettering", async {
        loop {
            assert!(queue.try_dequeue(Tier::Low).await.unwrap().is_none(), "handed out beyond max_deliveries");
            if queue.status().await.unwrap().tier(Tier::Low).dead == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let dead = queue.list_dead(10).await.unwrap();
    assert_eq!(dead[0].job().unwrap().id, poison.id);
    assert_eq!(dead[0].deliveries, 2);
    assert!(dead[0].reason.contains("delivered 2 times"), "{}", dead[0].reason);
    assert_eq!(queue.status().await.unwrap().backlog(), 0);
    // No worker ran it, so the handle that buried it reports it, for the workers' counts.
    let reported = queue.take_dead_at_dequeue();
    assert_eq!(reported.count, 1, "{reported:?}");
    assert!(reported.reasons[0].contains("delivered 2 times"), "{reported:?}");
}

async fn dead_letter_is_immediate_and_retry_dead_requeues_with_a_fresh_budget(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let delisted = job(Tier::Normal, "DELISTED");
    queue.enqueue(&delisted).await.unwrap();
    let delivery = queue.try_dequeue(Tier::Normal).await.unwrap().unwrap();
    assert_eq!(queue.nack(&delivery, "HTTP 500").await.unwrap(), NackOutcome::Requeued);
    let delivery = queue.try_dequeue(Tier::Normal).await.unwrap().unwrap();
    assert_eq!(delivery.deliveries, 2);
    queue.dead_letter(&delivery, "symbol DELISTED is unknown to the provider").await.unwrap();

    let dead = queue.list_dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "symbol DELISTED is unknown to the provider");
    assert_eq!(queue.status().await.unwrap().backlog(), 0);

    assert_eq!(queue.retry_dead().await.unwrap(), 1);
    assert!(queue.list_dead(10).await.unwrap().is_empty());
    let retried = queue.try_dequeue(Tier::Normal).await.unwrap().expect("the retried job");
    assert_eq!(retried.job.id, delisted.id);
    assert_eq!(retried.deliveries, 1, "a retried dead letter starts a fresh delivery budget");
    queue.ack(&retried).await.unwrap();
    assert_eq!(queue.status().await.unwrap().backlog(), 0);
}

async fn backpressure_holds_the_backlog_at_the_limit_until_acks_free_room(backend: Backend) {
    let options = QueueOptions { max_backlog: 10, ..test_options() };
    let Some(fixture) = Fixture::open(backend, options).await else { return };
    let queue = &fixture.queue;
    let first_ten: Vec<JobPayload> = (0..10).map(|index| job(Tier::Normal, &format!("S{index}"))).collect();
    queue.enqueue_many(&first_ten).await.unwrap();
    match queue.try_enqueue(&job(Tier::Critical, "ONE-TOO-MANY")).await {
        Err(QueueError::Full { backlog: 10, max_backlog: 10 }) => {}
        other => panic!("expected Full at 10 of 10, got {other:?}"),
    }

    // Five more wait for room; in-flight jobs count, so dequeuing alone frees none.
    let five_more: Vec<JobPayload> = (10..15).map(|index| job(Tier::Normal, &format!("S{index}"))).collect();
    let producer = {
        let queue = queue.clone();
        let five_more = five_more.clone();
        tokio::spawn(async move { queue.enqueue_many(&five_more).await })
    };
    let mut in_flight = Vec::new();
    for _ in 0..5 {
        in_flight.push(queue.try_dequeue(Tier::Normal).await.unwrap().expect("a job"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!producer.is_finished(), "enqueue must wait while the backlog is at the limit");
    assert_eq!(queue.status().await.unwrap().backlog(), 10);

    let mut seen = HashSet::new();
    for delivery in in_flight.drain(..) {
        seen.insert(delivery.job.id.clone());
        queue.ack(&delivery).await.unwrap();
    }
    within("the waiting producer", producer).await.unwrap().unwrap();
    assert_eq!(queue.status().await.unwrap().backlog(), 10);
    while let Some(delivery) = queue.try_dequeue(Tier::Normal).await.unwrap() {
        assert!(queue.status().await.unwrap().backlog() <= 10);
        seen.insert(delivery.job.id.clone());
        queue.ack(&delivery).await.unwrap();
    }
    let expected: HashSet<String> = first_ten.iter().chain(&five_more).map(|job| job.id.clone()).collect();
    assert_eq!(seen, expected);
}

async fn a_job_of_a_newer_format_is_dead_lettered_with_the_reason_not_dropped(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let from_the_future = r#"{"format":2,"id":"from-the-future","legs":[{"symbol":"AAPL"}]}"#;
    queue.enqueue_raw(Tier::Normal, from_the_future).await.unwrap();
    queue.enqueue_raw(Tier::Normal, "not json at all").await.unwrap();
    let readable = job(Tier::Normal, "READABLE");
    queue.enqueue(&readable).await.unwrap();

    let delivery = queue.try_dequeue(Tier::Normal).await.unwrap().expect("the readable job, after the unreadable ones");
    assert_eq!(delivery.job, readable);
    queue.ack(&delivery).await.unwrap();

    let dead = queue.list_dead(10).await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].payload, from_the_future, "kept byte for byte");
    assert!(dead[0].reason.contains("format 2 is newer than this build reads (1)"), "{}", dead[0].reason);
    assert!(matches!(dead[0].job(), Err(QueueError::UnsupportedFormat { found: 2, supported: 1 })));
    assert_eq!(dead[1].payload, "not json at all");
    assert!(dead[1].reason.contains("could not be read"), "{}", dead[1].reason);
    // Both were buried at dequeue, where no worker saw them: the handle reports them once.
    let reported = queue.take_dead_at_dequeue();
    assert_eq!(reported.count, 2, "{reported:?}");
    assert_eq!(reported.reasons, vec![dead[0].reason.clone(), dead[1].reason.clone()]);
    assert_eq!(queue.take_dead_at_dequeue().count, 0, "reported once");
}

async fn bulk_enqueue_of_several_chunks_keeps_every_job(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let jobs: Vec<JobPayload> = (0..4500).map(|index| job(Tier::ALL[index % 4], &format!("BULK{index}"))).collect();
    queue.enqueue_many(&jobs).await.unwrap();
    let status = queue.status().await.unwrap();
    assert_eq!(status.backlog(), 4500);
    assert_eq!(status.tier(Tier::Critical).queued, 1125);

    let mut seen = HashSet::new();
    for tier in Tier::ALL {
        let mut previous_symbol_number = None;
        while let Some(delivery) = queue.try_dequeue(tier).await.unwrap() {
            // Within a tier, jobs come out in the order they were submitted.
            let number: usize = delivery.job.gaps[0].symbol.trim_start_matches("BULK").parse().unwrap();
            assert!(previous_symbol_number < Some(number), "{previous_symbol_number:?} then {number}");
            previous_symbol_number = Some(number);
            seen.insert(delivery.job.id.clone());
            queue.ack(&delivery).await.unwrap();
        }
    }
    assert_eq!(seen.len(), 4500);
    assert_eq!(queue.status().await.unwrap().backlog(), 0);
}

async fn a_consumer_retires_only_once_it_holds_no_job(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    let worker = queue.another_consumer().await.unwrap();
    queue.enqueue(&job(Tier::High, "RETIRE")).await.unwrap();
    let delivery = worker.try_dequeue(Tier::High).await.unwrap().expect("the job");
    assert!(!worker.retire().await.unwrap(), "it holds a job in flight");
    assert_eq!(queue.status().await.unwrap().tier(Tier::High).in_flight, 1, "retiring kept the job in flight");
    worker.ack(&delivery).await.unwrap();
    assert!(worker.retire().await.unwrap());
}

async fn a_purged_queue_is_empty_and_still_usable(backend: Backend) {
    let Some(fixture) = Fixture::open(backend, test_options()).await else { return };
    let queue = &fixture.queue;
    queue.enqueue_many(&[job(Tier::Low, "A"), job(Tier::Low, "B"), job(Tier::High, "C")]).await.unwrap();
    let in_flight = queue.try_dequeue(Tier::Low).await.unwrap().expect("a job");
    queue.dead_letter(&in_flight, "gone").await.unwrap();
    queue.purge().await.unwrap();
    let status = queue.status().await.unwrap();
    assert_eq!((status.backlog(), status.tiers.iter().map(|depth| depth.dead).sum::<u64>()), (0, 0), "{status:?}");

    let after = job(Tier::Low, "AFTER");
    queue.enqueue(&after).await.unwrap();
    let delivery =
        within("the job after the purge", queue.dequeue(&[Tier::Low], PATIENCE)).await.unwrap().expect("a job");
    assert_eq!(delivery.job, after);
    queue.ack(&delivery).await.unwrap();
}

async fn a_batch_read_but_not_handed_out_is_reclaimed_once_its_consumer_dies(backend: Backend) {
    // A claim_idle of 2 s: a consumer's read size doubles only when its reads come within
    // claim_idle / 8 (250 ms) of each other, which a busy machine still manages; the
    // survivor then waits 2 s for the reclaim.
    let options = QueueOptions { claim_idle: Duration::from_secs(2), ..test_options() };
    let Some(fixture) = Fixture::open(backend, options).await else { return };
    let survivor = &fixture.queue;
    let jobs: Vec<JobPayload> = (0..40).map(|index| job(Tier::Normal, &format!("BATCH{index}"))).collect();
    survivor.enqueue_many(&jobs).await.unwrap();

    let (handed_out, held) = {
        let doomed = survivor.another_consumer().await.unwrap();
        let mut handed_out = HashSet::new();
        // On Redis, take jobs until the doomed consumer holds more than it handed out: the
        // rest of its last read, waiting in its stash and pending in Redis. The in-process
        // queue has no stash: what it holds is what it handed out.
        let held = loop {
            let delivery = doomed.try_dequeue(Tier::Normal).await.unwrap().expect("a job");
            assert_eq!(delivery.deliveries, 1);
            handed_out.insert(delivery.job.id.clone());
            let held = survivor.status().await.unwrap().tier(Tier::Normal).in_flight;
            match backend {
                Backend::InProcess if handed_out.len() == 5 => break held,
                Backend::InProcess => assert_eq!(held, handed_out.len() as u64),
                Backend::Redis if held > handed_out.len() as u64 => break held,
                Backend::Redis => assert!(handed_out.len() < 20, "no read of more than one job in 20 dequeues"),
            }
        };
        // The consumer dies: it and its deliveries are dropped without ack or nack.
        (handed_out, held)
    };

    // The survivor gets every job exactly once: at once those nobody read, after
    // claim_idle those the dead consumer held, handed out or not, as second deliveries.
    let mut deliveries_seen: HashMap<String, u32> = HashMap::new();
    within("draining", async {
        while deliveries_seen.len() < jobs.len() {
            let delivery = survivor.dequeue(&[Tier::Normal], PATIENCE).await.unwrap().expect("every job");
            let id = delivery.job.id.clone();
            assert!(deliveries_seen.insert(id.clone(), delivery.deliveries).is_none(), "{id} delivered twice");
            survivor.ack(&delivery).await.unwrap();
        }
    })
    .await;
    let expected: HashSet<String> = jobs.iter().map(|job| job.id.clone()).collect();
    assert_eq!(deliveries_seen.keys().cloned().collect::<HashSet<_>>(), expected);
    let redelivered: HashSet<String> =
        deliveries_seen.iter().filter(|(_, deliveries)| **deliveries == 2).map(|(id, _)| id.clone()).collect();
    assert!(handed_out.is_subset(&redelivered), "{handed_out:?} not all in {redelivered:?}");
    assert_eq!(redelivered.len() as u64, held, "exactly what the dead consumer held comes back");
    assert!(deliveries_seen.values().all(|deliveries| *deliveries <= 2), "{deliveries_seen:?}");
    assert_eq!(survivor.status().await.unwrap().backlog(), 0);
}

/// A `redis-server` of this test's own, persisting with AOF into a temp dir, killed with
/// SIGKILL when dropped.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    /// appendfsync always: every write is on disk before Redis replies, so a SIGKILL right
    /// after the last enqueue loses nothing, deterministically (everysec could lose the
    /// last second, which would make the test depend on timing).
    fn start(port: u16, dir: &std::path::Path) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"])
            .arg(dir)
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is on PATH");
        let own = OwnRedis { child, port, dir: dir.to_path_buf() };
        own.wait_until_ready();
        own
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_until_ready(&self) {
        let started = std::time::Instant::now();
        loop {
            let ready = redis::Client::open(self.url().as_str())
                .and_then(|client| client.get_connection())
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            match ready {
                Ok(_) => return,
                Err(error) if started.elapsed() > PATIENCE => {
                    panic!("redis-server on port {} never came up: {error}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL redis-server");
        self.child.wait().expect("reap redis-server");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_survives_a_redis_kill_and_restart_with_appendonly() {
    // The Redis tests are enabled by the same switch as the others; this one needs only
    // the redis-server binary.
    if support::redis_url().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = OwnRedis::start(port, dir.path());
    let options = QueueOptions { key_prefix: "restart:".to_string(), ..test_options() };
    let queue = Queue::open(Some(&server.url()), options.clone()).await.unwrap();
    let jobs: Vec<JobPayload> = (0..300).map(|index| job(Tier::ALL[index % 4], &format!("R{index}"))).collect();
    queue.enqueue_many(&jobs).await.unwrap();
    // Ten in flight when the server dies: they must survive as pending entries.
    for _ in 0..10 {
        queue.try_dequeue(Tier::Critical).await.unwrap().expect("a job");
    }
    // Read in batches, more than the ten handed out may be in flight (the rest of the last
    // read waits in the stash): all of them must survive.
    let in_flight = queue.status().await.unwrap().tier(Tier::Critical).in_flight;
    assert!(in_flight >= 10, "{in_flight} in flight");
    let dir_path = server.dir.clone();
    server.kill();

    let server = OwnRedis::start(port, &dir_path);
    // The old handle reconnects by itself (the first command may still see the broken
    // connection).
    let status = within("reconnecting", async {
        loop {
            match queue.status().await {
                Ok(status) => break status,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert_eq!(status.backlog(), 300, "{status:?}");
    assert_eq!(status.tier(Tier::Critical).in_flight, in_flight, "{status:?}");

    let restarted = Queue::open(Some(&server.url()), options).await.unwrap();
    let mut seen = HashSet::new();
    within("draining", async {
        while seen.len() < 300 {
            let delivery = restarted
                .dequeue(&Tier::ALL, PATIENCE)
                .await
                .unwrap()
                .expect("every job, the in-flight ones reclaimed");
            seen.insert(delivery.job.id.clone());
            restarted.ack(&delivery).await.unwrap();
        }
    })
    .await;
    let expected: HashSet<String> = jobs.iter().map(|job| job.id.clone()).collect();
    assert_eq!(seen, expected);
}

/// Sessions of every job of the crash test: XNYS 2024-01-02..04.
const CRASH_SESSIONS: u64 = 3;

/// The instant every bar of the crash test is observed at, whoever fetches it: a re-run of
/// a job then rewrites identical rows, which the store's upsert leaves alone, so the
/// ledger's rows are exact. (With the real clock a re-run a second later rewrites each
/// row's `written_at` and the ledger counts the rows again.)
fn crash_observed_at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap()
}

/// Synthetic bars, always observed at `crash_observed_at`.
#[derive(Debug)]
struct FixedObservationProvider;

impl Provider for FixedObservationProvider {
    fn name(&self) -> String {
        "synthetic at a fixed instant".into()
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(async move { Ok(synthetic_bars(&FetchRequest { observed_at: crash_observed_at(), ..request })) })
    }
}

/// A consumer takes jobs, commits each one's bars with its "done" in the ledger, acks them
/// (buffered, not yet sent) and is killed before the acks leave: its runtime is a
/// current-thread one that stops being driven right after the last `ack` returned and is
/// then dropped, so the timer that would send them never runs and its connections close,
/// as a SIGKILL would leave them. The acked jobs are still pending in Redis; a worker
/// takes them over after claim_idle and runs them again, and the store and the ledger
/// end exact: every job done once in the ledger, every bar once, the rows not counted
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_buffered_when_a_consumer_is_killed_come_back_and_the_store_and_ledger_stay_exact() {
    let options = QueueOptions { claim_idle: Duration::from_secs(1), ..test_options() };
    let Some(fixture) = Fixture::open(Backend::Redis, options).await else { return };
    let survivor = fixture.queue.clone();
    let scratch = tempfile::tempdir().unwrap();
    let db = scratch.path().join("bars.db").display().to_string();
    let store = Store::open(&db).await.unwrap();
    let registry = tickstock::plugin::Registry::with_builtins(
        tickstock::plugin::Runtime::new(support::patient_runtime_options()).unwrap(),
    )
    .unwrap();
    let first = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let last = NaiveDate::from_ymd_opt(2024, 1, 4).unwrap();
    let sessions = registry.calendar("XNYS").unwrap().sessions(first, last).unwrap();
    assert_eq!(sessions.len() as u64, CRASH_SESSIONS);

    let load_id = "crash-load";
    let jobs: Vec<JobPayload> = (0..12)
        .map(|index| {
            let gap = Gap {
                symbol: format!("CRASH{index}"),
                exchange: "XNYS".into(),
                start: first,
                end: last,
                sessions: CRASH_SESSIONS as u32,
            };
            JobPayload::new(load_id, Tier::Normal, Timeframe::Daily, vec![gap])
        })
        .collect();
    let ledger_jobs = jobs
        .iter()
        .map(|job| LedgerJob {
            job_id: job.id.clone(),
            tier: job.tier,
            state: JobState::Queued,
            parent: None,
            symbols: 1,
            expected_rows: CRASH_SESSIONS,
            reason: None,
            payload: None,
        })
        .collect();
    let load = NewLoad {
        id: load_id.into(),
        created_at: Utc::now(),
        plan: serde_json::json!({"jobs": jobs.len()}),
        jobs: ledger_jobs,
    };
    store.record_load(&load).await.unwrap();
    survivor.enqueue_many(&jobs).await.unwrap();

    let doomed_queue = survivor.clone();
    let doomed_db = db.clone();
    let acked_entries: Vec<String> = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let acked = runtime.block_on(async {
            let doomed = doomed_queue.another_consumer().await.unwrap();
            let store = Store::open(&doomed_db).await.unwrap();
            let mut deliveries = Vec::new();
            for _ in 0..5 {
                let delivery = doomed.try_dequeue(Tier::Normal).await.unwrap().expect("a job");
                let gap = &delivery.job.gaps[0];
                let request = FetchRequest {
                    symbol: &gap.symbol,
                    exchange: &gap.exchange,
                    timeframe: delivery.job.timeframe,
                    sessions: &sessions,
                    observed_at: crash_observed_at(),
                };
                let job = JobRef { load_id, job_id: &delivery.job.id, worker: doomed.consumer_name() };
                let written = store.write_job(&synthetic_bars(&request), job, &[], &[]).await.unwrap();
                assert_eq!(written.rows_written, CRASH_SESSIONS);
                deliveries.push(delivery);
            }
            store.close().await;
            // Committed, then acked: from here to the end of `block_on` nothing awaits, so
            // nothing else on this runtime runs, the ack timer included.
            for delivery in &deliveries {
                doomed.ack(delivery).await.unwrap();
            }
            deliveries.iter().map(|delivery| delivery.entry_id.clone()).collect::<Vec<String>>()
        });
        // Killed: the runtime and every task on it dropped, its connections closed.
        drop(runtime);
        acked
    })
    .join()
    .expect("the doomed consumer's thread");

    // The scenario happened: five jobs are done in the ledger and acked by their consumer,
    // yet their entries are still pending in Redis.
    let ledger = store.load_record(load_id).await.unwrap().expect("recorded");
    assert_eq!((ledger.total.done, ledger.total.rows_written), (5, 5 * CRASH_SESSIONS));
    let keys = fixture._keys.as_ref().expect("a Redis fixture");
    let mut connection =
        redis::Client::open(keys.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(format!("{}jobs:{}", keys.prefix, Tier::Normal.as_str()))
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(100)
        .query_async(&mut connection)
        .await
        .unwrap();
    let pending: HashSet<String> = pending.into_iter().map(|(entry_id, ..)| entry_id).collect();
    assert_eq!(acked_entries.len(), 5);
    for entry_id in &acked_entries {
        assert!(pending.contains(entry_id), "the killed consumer's ack of {entry_id} was sent after all");
    }

    let context = WorkerContext {
        registry: Arc::new(registry),
        store: store.clone(),
        provider: Arc::new(FixedObservationProvider),
        queue: survivor.clone(),
        counters: Default::default(),
        observer: None,
    };
    let worker_options = WorkerOptions {
        workers: 1,
        keep_alive_every: Duration::from_millis(300),
        summary_every: None,
        ..WorkerOptions::default()
    };
    let (_shutdown_sender, shutdown) = tokio::sync::watch::channel(false);
    let (_more_sender, no_more) = tokio::sync::watch::channel(false);
    let summary =
        within("the survivor's run", tickstock::worker::run_workers(context, worker_options, shutdown, no_more))
            .await
            .unwrap();
    // It ran every job once: those nobody had read, and after claim_idle all the killed
    // consumer held, the five it had committed and acked among them.
    assert_eq!((summary.jobs_done, summary.jobs_dead), (jobs.len() as u64, 0));
    assert_eq!(summary.rows_written, (jobs.len() as u64 - 5) * CRASH_SESSIONS, "the re-runs wrote no row");

    let ledger = store.load_record(load_id).await.unwrap().unwrap();
    assert_eq!((ledger.total.jobs, ledger.total.done, ledger.total.queued, ledger.total.dead), (12, 12, 0, 0));
    assert_eq!(ledger.total.rows_written, 12 * CRASH_SESSIONS, "every row counted once");
    assert_eq!(store.count_bars(&BarSelection::default()).await.unwrap(), 12 * CRASH_SESSIONS);
    let status = survivor.status().await.unwrap();
    assert_eq!((status.backlog(), status.tier(Tier::Normal).dead), (0, 0), "{status:?}");
    store.close().await;
}

/// The server's calls of `command` so far (`INFO commandstats`).
async fn server_calls(url: &str, command: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut connection).await.unwrap();
    tickstock::bench::queue::command_calls(&info, command)
}

/// One consumer draining 2,000 jobs (try_dequeue, ack, next) reads them in batches of
/// `DEFAULT_READ_BATCH` after a slow start (1, 2, 4, ...), and its acks ride with the
/// reads: counted on a Redis of the test's own, where no other client adds calls. Without
/// batching it would be 2,000 reads and 2,000 XACKs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_reads_in_batches_and_sends_its_acks_with_the_reads() {
    if support::redis_url().is_none() {
        return;
    }
    let server = support::OwnRedis::start();
    let url = server.url();
    // A long claim_idle: the read size doubles while reads come within claim_idle / 8.
    let options =
        QueueOptions { key_prefix: "batches:".into(), claim_idle: Duration::from_secs(300), ..QueueOptions::default() };
    let queue = Queue::open(Some(&url), options).await.unwrap();
    let jobs: Vec<JobPayload> = (0..2000).map(|index| job(Tier::Normal, &format!("D{index}"))).collect();
    queue.enqueue_many(&jobs).await.unwrap();

    let (reads_before, acks_before) = (server_calls(&url, "xreadgroup").await, server_calls(&url, "xack").await);
    let mut seen = HashSet::new();
    while let Some(delivery) = queue.try_dequeue(Tier::Normal).await.unwrap() {
        assert!(seen.insert(delivery.job.id.clone()), "{} twice", delivery.job.id);
        queue.ack(&delivery).await.unwrap();
    }
    let reads = server_calls(&url, "xreadgroup").await.checked_sub(reads_before).expect("counts only grow");
    let acks = server_calls(&url, "xack").await.checked_sub(acks_before).expect("counts only grow");
    assert_eq!(seen.len(), jobs.len());
    assert_eq!(queue.status().await.unwrap().backlog(), 0, "every ack reached Redis");

    // Five slow-start reads (1 + 2 + 4 + 8 + 16), 62 of 32 and the read that finds none: 68.
    let batches = jobs.len().div_ceil(DEFAULT_READ_BATCH) as u64;
    assert!(reads <= batches + 8, "{reads} XREADGROUP calls for {} jobs", jobs.len());
    // An XACK per read that carried acks, and one per flush of the 10 ms timer, which
    // fires only when the loop stalls for 10 ms between an ack and the next read.
    assert!(acks <= jobs.len() as u64 / 4, "{acks} XACK calls for {} jobs", jobs.len());
}
