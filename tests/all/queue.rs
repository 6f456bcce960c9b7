//! The job queue's contract, run on both backends: the in-process queue, and Redis Streams
//! on the local Redis (`TICKSTOCK_TEST_REDIS_URL`), each test under its own key prefix,
//! deleted at the end even when the test fails. A restart test starts its own
//! `redis-server` with `appendonly yes` and kills it with SIGKILL.
//!
//! Waits use generous timeouts only so a broken queue fails instead of hanging; nothing
//! asserts on how long anything took.

use std::collections::HashSet;
use std::time::Duration;

use chrono::NaiveDate;
use tickstock::plan::{Gap, Tier, Timeframe};
use tickstock::queue::{JobPayload, JobQueue, NackOutcome, Queue, QueueError, QueueOptions, new_job_id};

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
    assert_eq!(status.tier(Tier::Critical).in_flight, 10, "{status:?}");

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
