//! The job queue between the planner and the workers: one trait (`JobQueue`), two
//! backends (in-process `memory`, and Redis Streams `redis`), and `Queue`, the enum the
//! rest of tickstock holds so a URL picks the backend at run time.
//!
//! Semantics shared by both backends (the integration suite runs the same tests on each):
//!
//! - **At least once.** A delivered job stays "in flight" until `ack`; a worker acks only
//!   after the store committed the job's transaction. A job whose worker died (no ack, no
//!   nack) is handed out again once it has been idle for `claim_idle`, and so is one whose
//!   ack the Redis queue had buffered but not sent when its process died.
//! - **Tiers are separate queues.** `try_dequeue(tier)` never waits on another tier, so a
//!   dispatcher can do weighted-fair selection and per-tier caps itself; `dequeue(tiers,
//!   timeout)` waits for the first job of any of the given tiers, preferring them in order.
//! - **Backpressure, never trimming.** Queued + in-flight jobs (the backlog) never exceed
//!   `max_backlog`: `try_enqueue` returns `QueueError::Full`, `enqueue`/`enqueue_many`
//!   wait for room. Trimming a Redis stream (MAXLEN) would delete jobs still in flight.
//! - **Dead letters.** `dead_letter` for a permanent failure; `nack` for a transient one,
//!   which re-queues the job with its attempt count and last error until it has been
//!   delivered `max_deliveries` times, then dead-letters it with that error. A job whose
//!   payload this build cannot read (a newer `format`, or garbage) is dead-lettered with
//!   the reason at dequeue, never dropped, and so is a job taken over from silent
//!   consumers once too often; no worker sees those, so the handle that buried them
//!   reports them (`Queue::take_dead_at_dequeue`) for the workers' counts. `retry_dead`
//!   re-queues every dead letter.
//!
//! Depends on `plan` and redis; never on the store, plugins, workers or edges.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{Gap, Tier, Timeframe};

pub mod memory;
pub mod redis;

pub use self::memory::MemoryQueue;
pub use self::redis::RedisQueue;

/// The payload format this build writes and reads. A worker dead-letters a job of a newer
/// format instead of guessing at its meaning; bump this when a field changes meaning.
pub const JOB_FORMAT: u32 = 1;

/// Longest job or load id read from a payload (ours are 32 hex digits or so).
const MAX_ID_CHARS: usize = 64;

/// Most gaps one payload may hold: the planner's jobs hold at most 100,000 symbols' gaps.
const MAX_GAPS_PER_JOB: usize = 1_000_000;

/// One job: a set of gaps the worker loads together, in one store transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPayload {
    /// Always `JOB_FORMAT` for jobs this build creates.
    pub format: u32,
    /// Unique per job, stable across re-deliveries and retries (see `new_job_id`).
    pub id: String,
    /// The load (run) this job belongs to.
    pub load_id: String,
    pub tier: Tier,
    pub timeframe: Timeframe,
    pub gaps: Vec<Gap>,
    /// How many times the job was delivered before this copy was queued: 0 for a new job;
    /// `nack` re-queues it with the deliveries so far.
    pub attempt: u32,
}

impl JobPayload {
    /// A new job of the current format with a fresh id.
    pub fn new(load_id: impl Into<String>, tier: Tier, timeframe: Timeframe, gaps: Vec<Gap>) -> JobPayload {
        JobPayload { format: JOB_FORMAT, id: new_job_id(), load_id: load_id.into(), tier, timeframe, gaps, attempt: 0 }
    }

    /// How many distinct symbols the job's gaps name.
    pub fn symbol_count(&self) -> usize {
        let mut symbols: Vec<&str> = self.gaps.iter().map(|gap| gap.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        symbols.len()
    }

    /// The payload as stored in the queue (JSON).
    pub fn encode(&self) -> Result<String, QueueError> {
        serde_json::to_string(self).map_err(|source| QueueError::Encode { job_id: self.id.clone(), source })
    }

    /// Reads a stored payload, checking its format first so that a job written by a newer
    /// build is reported as such rather than as a confusing missing-field error.
    pub fn decode(text: &str) -> Result<JobPayload, QueueError> {
        #[derive(Deserialize)]
        struct FormatOnly {
            format: u32,
        }
        let format = serde_json::from_str::<FormatOnly>(text)
            .map_err(|error| QueueError::Undecodable {
                // serde quotes the value it could not read: the payload's, so bounded.
                reason: format!(
                    "no readable `format` field: {}",
                    crate::redact::untrusted_text(&error.to_string(), 200)
                ),
            })?
            .format;
        if format != JOB_FORMAT {
            return Err(QueueError::UnsupportedFormat { found: format, supported: JOB_FORMAT });
        }
        let job: JobPayload = serde_json::from_str(text).map_err(|error| QueueError::Undecodable {
            reason: crate::redact::untrusted_text(&error.to_string(), 200),
        })?;
        job.check().map_err(|reason| QueueError::Undecodable { reason })?;
        Ok(job)
    }

    /// What a worker must not trust in a payload it did not write: ids, symbols and
    /// exchanges that are not what the planner makes, an empty job, a backwards gap, more
    /// gaps than a job may hold. (A gap's `sessions` is checked against the calendar by the
    /// worker, which has one.)
    fn check(&self) -> Result<(), String> {
        if !is_id(&self.id) {
            return Err(format!("job id {} is not an id", crate::text::quoted_prefix(&self.id, 40)));
        }
        if !is_id(&self.load_id) {
            return Err(format!("load id {} is not an id", crate::text::quoted_prefix(&self.load_id, 40)));
        }
        if self.gaps.is_empty() {
            return Err("the job has no gaps".to_string());
        }
        if self.gaps.len() > MAX_GAPS_PER_JOB {
            return Err(format!("the job has {} gaps, over the limit of {MAX_GAPS_PER_JOB}", self.gaps.len()));
        }
        for (index, gap) in self.gaps.iter().enumerate() {
            let symbol = crate::plan::parse_symbol(&gap.symbol).map_err(|error| format!("gap {index}: {error}"))?;
            let exchange =
                crate::plan::parse_mic(&gap.exchange, "exchange").map_err(|error| format!("gap {index}: {error}"))?;
            // Whatever their case, they must be whole: no padding a worker would carry
            // into a provider's URL or the store.
            if !symbol.eq_ignore_ascii_case(&gap.symbol) || !exchange.eq_ignore_ascii_case(&gap.exchange) {
                return Err(format!(
                    "gap {index}: {} on {} has surrounding whitespace",
                    crate::text::quoted_prefix(&gap.symbol, 32),
                    crate::text::quoted_prefix(&gap.exchange, 8)
                ));
            }
            if gap.start > gap.end || gap.sessions == 0 {
                return Err(format!(
                    "gap {index} ({symbol} {}..{}, {} sessions) is empty",
                    gap.start, gap.end, gap.sessions
                ));
            }
        }
        Ok(())
    }
}

/// Whether `text` is a job or load id as `new_job_id` makes them: 1 to 64 ASCII letters,
/// digits, `-` and `_`. The one rule for ids in payloads, URL paths and queries.
pub fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID_CHARS
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

/// A job id unique across processes and time: milliseconds since the epoch, a random
/// per-process nonce and a per-process counter, all hex. Ordered by creation time within a
/// process, which makes logs easy to read. Chosen over a UUID crate to keep dependencies
/// lean: uniqueness is all the queue needs.
pub fn new_job_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{millis:011x}-{:08x}-{sequence:x}", process_nonce() as u32)
}

/// Random bits fixed for the life of the process, from the standard library's randomly
/// seeded hasher (no `rand` dependency for a few bits).
fn process_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NONCE.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish()
    })
}

/// A consumer name unique per live process: `hostname-pid-random`. Two processes sharing
/// a name would hide a crash (the survivor keeps "owning" the dead one's jobs).
pub fn unique_consumer_name() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_string());
    // Several queues opened in one process (tests, benchmarks) are separate consumers.
    static OPENED: AtomicU64 = AtomicU64::new(0);
    let opened = OPENED.fetch_add(1, Ordering::Relaxed);
    format!(
        "{hostname}-{}-{:08x}{}",
        std::process::id(),
        process_nonce() as u32,
        if opened == 0 { String::new() } else { format!("-{opened}") }
    )
}

/// Tunables of a queue; `Default` gives the production values.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Prefix of every Redis key (`{prefix}jobs:{tier}`, `{prefix}dead:{tier}`). Tests use
    /// a unique prefix each to isolate themselves. Ignored by the in-process queue.
    pub key_prefix: String,
    /// How long a delivered job may go without ack, nack or `keep_alive` before another
    /// consumer takes it over (its worker is presumed dead).
    pub claim_idle: Duration,
    /// Deliveries after which a failing job is dead-lettered instead of re-queued.
    pub max_deliveries: u32,
    /// Most jobs queued + in flight at once, over all tiers; enqueue waits beyond it.
    pub max_backlog: u64,
    /// This process's consumer name; None = `unique_consumer_name()`.
    pub consumer_name: Option<String>,
    /// Most entries one read takes from a tier's stream (Redis `XREADGROUP ... COUNT`),
    /// 1..=`MAX_READ_BATCH`; the ones beyond the first wait in this consumer's stash. A
    /// consumer starts at one and doubles while it drains its reads quickly, so a worker
    /// of slow jobs does not hold entries others could run. Acks are buffered up to twice
    /// this many and sent with the next read. Ignored by the in-process queue.
    pub read_batch: usize,
}

/// Largest `QueueOptions::read_batch`: one read's reply stays well under a megabyte of
/// typical payloads, and the acks buffered meanwhile (twice as many) are what a crash
/// makes another consumer run again.
pub const MAX_READ_BATCH: usize = 1024;

/// The default `QueueOptions::read_batch`: enough to make the round trip a small share of
/// a job's cost (32 jobs per read and ack pipeline), small enough that a crashed
/// consumer leaves little to re-run.
pub const DEFAULT_READ_BATCH: usize = 32;

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            key_prefix: "tickstock:".to_string(),
            claim_idle: Duration::from_secs(30),
            max_deliveries: 5,
            max_backlog: 50_000,
            consumer_name: None,
            read_batch: DEFAULT_READ_BATCH,
        }
    }
}

/// A job handed to a consumer. Pass it back to exactly one of `ack`, `nack` or
/// `dead_letter`; dropping it leaves the job in flight until `claim_idle` passes.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub job: JobPayload,
    /// The tier the job was queued in (the stream it came from).
    pub tier: Tier,
    /// Times the job has been delivered, this delivery included (1 on the first).
    pub deliveries: u32,
    /// The error of the previous attempt, when it was nacked.
    pub last_error: Option<String>,
    /// The backend's id of this queue entry (a Redis stream id).
    pub entry_id: String,
}

/// What `nack` did with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NackOutcome {
    /// Queued again (at the back of its tier) for another attempt.
    Requeued,
    /// Delivered `max_deliveries` times: moved to the dead letters with the error.
    DeadLettered,
    /// The entry was no longer in flight (another consumer took it over after
    /// `claim_idle`); nothing was changed.
    NotInFlight,
}

/// A dead letter: a job that failed permanently, or too often, or could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    /// The backend's id of the dead letter (used by `retry_dead`).
    pub dead_id: String,
    pub tier: Tier,
    /// The stored payload exactly as it was queued; see `job()`.
    pub payload: String,
    /// Why the job is dead: the permanent error, the last transient error, or why the
    /// payload could not be read.
    pub reason: String,
    pub deliveries: u32,
    /// The consumer that gave up on it.
    pub consumer: String,
}

impl DeadJob {
    /// The job, when this build can read its payload.
    pub fn job(&self) -> Result<JobPayload, QueueError> {
        JobPayload::decode(&self.payload)
    }
}

/// Depth of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierDepth {
    pub tier: Tier,
    /// Waiting for a consumer.
    pub queued: u64,
    /// Delivered and neither acked, nacked nor dead-lettered yet.
    pub in_flight: u64,
    pub dead: u64,
}

/// Depth of every tier and the backpressure limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// In `Tier::ALL` order.
    pub tiers: Vec<TierDepth>,
    pub max_backlog: u64,
}

impl QueueStatus {
    /// Queued + in flight over all tiers: what backpressure limits.
    pub fn backlog(&self) -> u64 {
        self.tiers.iter().map(|depth| depth.queued + depth.in_flight).sum()
    }

    pub fn tier(&self, tier: Tier) -> TierDepth {
        self.tiers.iter().copied().find(|depth| depth.tier == tier).unwrap_or(TierDepth {
            tier,
            queued: 0,
            in_flight: 0,
            dead: 0,
        })
    }
}

/// Jobs one queue handle dead-lettered itself while dequeuing, since it was last asked:
/// how many, and the reasons of the most recent ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadAtDequeue {
    pub count: u64,
    /// At most [`MAX_DEAD_AT_DEQUEUE_REASONS`], newest last.
    pub reasons: Vec<String>,
}

/// Reasons kept between two looks: enough for a summary, bounded however many there were.
pub const MAX_DEAD_AT_DEQUEUE_REASONS: usize = 100;

/// Where a backend notes the jobs it dead-lettered at dequeue (see [`DeadAtDequeue`]).
#[derive(Debug, Default)]
pub(crate) struct DeadAtDequeueLog {
    // A std mutex: a push or a swap, never held across an await.
    pending: Mutex<DeadAtDequeue>,
}

impl DeadAtDequeueLog {
    pub(crate) fn record(&self, reason: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.count = pending.count.saturating_add(1);
        if pending.reasons.len() >= MAX_DEAD_AT_DEQUEUE_REASONS {
            pending.reasons.remove(0);
        }
        pending.reasons.push(reason.to_string());
    }

    pub(crate) fn take(&self) -> DeadAtDequeue {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(
        "the queue has been unreachable for {seconds} s, so the workers gave up (--max-queue-outage-secs); last error: {last}"
    )]
    Unavailable { seconds: u64, last: String },
    #[error(
        "queue URL {url:?} is not supported: give redis://host:port[/db] (or rediss://), or no URL for the in-process queue"
    )]
    UnsupportedUrl { url: String },
    #[error("Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("the queue is full: {backlog} jobs queued or in flight, limit {max_backlog}; wait for workers to ack some")]
    Full { backlog: u64, max_backlog: u64 },
    #[error("job {job_id} could not be encoded: {source}")]
    Encode { job_id: String, source: serde_json::Error },
    #[error(
        "job payload format {found} is newer than this build reads ({supported}); run a newer tickstock worker, then retry the dead letters"
    )]
    UnsupportedFormat { found: u32, supported: u32 },
    #[error("job payload could not be read: {reason}")]
    Undecodable { reason: String },
    #[error("unexpected reply from Redis to {command}: {detail}")]
    UnexpectedReply { command: &'static str, detail: String },
    #[error("max_backlog is 0, so no job could ever be queued; give a positive limit")]
    ZeroBacklogLimit,
}

/// The queue operations, identical in meaning for every backend. Methods return `Send`
/// futures so a dispatcher can run them on a multi-threaded tokio runtime.
pub trait JobQueue: Send + Sync {
    /// Queues one job in its tier, waiting while the backlog is at `max_backlog`.
    fn enqueue(&self, job: &JobPayload) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Queues one job, or returns `QueueError::Full` at once when the backlog is at the limit.
    fn try_enqueue(&self, job: &JobPayload) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Queues many jobs, in order, pipelined; waits for room whenever the backlog is at the
    /// limit (so a bulk submit larger than `max_backlog` completes as workers ack).
    fn enqueue_many(&self, jobs: &[JobPayload]) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Queues a payload as stored text without reading it, waiting for room. For tools that
    /// forward payloads they do not decode, and for tests of format handling.
    fn enqueue_raw(&self, tier: Tier, payload: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// The next job of `tier`, or None at once when it has none. Never waits on other tiers.
    /// Await it to the end: on Redis a read cancelled midway strands the entries Redis
    /// delivered to it until `claim_idle` passes (`dequeue`, which is raced in `select!`,
    /// hands its reads to a task of their own instead).
    fn try_dequeue(&self, tier: Tier) -> impl Future<Output = Result<Option<Delivery>, QueueError>> + Send;

    /// The next job of any of `tiers` (preferred in the given order), waiting up to
    /// `timeout` for one to arrive; None when none did. Call it from one dispatch loop per
    /// process (Redis serves one blocking read per process at a time), and let it finish
    /// rather than cancelling it: a job Redis delivered to a cancelled call waits in
    /// flight until `claim_idle` passes.
    fn dequeue(
        &self,
        tiers: &[Tier],
        timeout: Duration,
    ) -> impl Future<Output = Result<Option<Delivery>, QueueError>> + Send;

    /// The job is done (its store transaction committed): remove it for good. The Redis
    /// queue buffers the ack and sends it with its next read, or within
    /// `redis::ACK_FLUSH_DELAY` (this handle's `status` and `retire` send it first); a
    /// crash before then re-delivers the job after `claim_idle`, as any crash between
    /// commit and ack does, and the idempotent store makes that harmless.
    fn ack(&self, delivery: &Delivery) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// The attempt failed transiently: queue the job again with `error` as its last error,
    /// or dead-letter it when it has been delivered `max_deliveries` times.
    fn nack(&self, delivery: &Delivery, error: &str) -> impl Future<Output = Result<NackOutcome, QueueError>> + Send;

    /// Part of the job committed and the rest failed transiently: replace the job with
    /// `job` (the rest) as `nack` would re-queue it, atomically with removing the
    /// delivered one, so a crash never leaves neither; dead-letters `job` instead when the
    /// delivery was the last allowed.
    fn requeue_as(
        &self,
        delivery: &Delivery,
        job: &JobPayload,
        error: &str,
    ) -> impl Future<Output = Result<NackOutcome, QueueError>> + Send;

    /// The job failed permanently: move it to the dead letters with `reason` at once.
    fn dead_letter(&self, delivery: &Delivery, reason: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Adds a dead letter for a job that was never queued: the failing symbol of a job
    /// that committed the others (see `worker::job`), dead from birth with `reason`.
    fn dead_letter_new(&self, job: &JobPayload, reason: &str) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Resets the job's idle time so a long job is not taken over after `claim_idle`.
    /// Returns false when the job is no longer this consumer's (another one took it over,
    /// or it was acked): the worker may stop working on it.
    fn keep_alive(&self, delivery: &Delivery) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Up to `limit` dead letters, oldest first, tier by tier.
    fn list_dead(&self, limit: usize) -> impl Future<Output = Result<Vec<DeadJob>, QueueError>> + Send;

    /// Queues every dead letter again with a fresh delivery budget (attempt 0), waiting for
    /// room as `enqueue` does; returns how many were re-queued.
    fn retry_dead(&self) -> impl Future<Output = Result<usize, QueueError>> + Send;

    /// Depth of every tier.
    fn status(&self) -> impl Future<Output = Result<QueueStatus, QueueError>> + Send;
}

/// The queue tickstock runs with, chosen by URL. An enum rather than `Box<dyn>`: the
/// trait's methods return `impl Future`, which is not object safe, and two backends are
/// a closed set.
#[derive(Debug, Clone)]
pub enum Queue {
    Memory(MemoryQueue),
    Redis(RedisQueue),
}

impl Queue {
    /// None = the in-process queue; `redis://...` or `rediss://...` = Redis Streams.
    pub async fn open(url: Option<&str>, options: QueueOptions) -> Result<Queue, QueueError> {
        match url {
            None => Ok(Queue::Memory(MemoryQueue::new(options))),
            Some(url)
                if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") =>
            {
                Ok(Queue::Redis(RedisQueue::open(url, options).await?))
            }
            Some(url) => Err(QueueError::UnsupportedUrl { url: crate::redact::redact_url(url) }),
        }
    }

    /// Another consumer of the same queue (same jobs, its own name and, for Redis, its own
    /// connections), as a second worker process would be.
    pub async fn another_consumer(&self) -> Result<Queue, QueueError> {
        match self {
            Queue::Memory(queue) => Ok(Queue::Memory(queue.another_consumer())),
            Queue::Redis(queue) => Ok(Queue::Redis(queue.another_consumer().await?)),
        }
    }

    /// This consumer's name.
    pub fn consumer_name(&self) -> &str {
        match self {
            Queue::Memory(queue) => queue.consumer_name(),
            Queue::Redis(queue) => queue.consumer_name(),
        }
    }

    /// Sends the acks this handle still buffers (Redis sends them with its next read, or
    /// within 10 ms): what a worker does before it stops, so its last jobs are not
    /// delivered again.
    pub async fn flush_acks(&self) -> Result<(), QueueError> {
        match self {
            Queue::Memory(_) => Ok(()),
            Queue::Redis(queue) => queue.flush_acks().await,
        }
    }

    /// Leaves the consumer group at shutdown if this consumer has no job in flight (a
    /// Redis group otherwise lists every consumer that ever ran); false while it still
    /// holds jobs, which then stay claimable by others.
    pub async fn retire(&self) -> Result<bool, QueueError> {
        match self {
            Queue::Memory(queue) => Ok(queue.retire()),
            Queue::Redis(queue) => queue.retire().await,
        }
    }

    /// The jobs this handle dead-lettered while dequeuing since the last call (payloads it
    /// could not read, jobs delivered too often), which no worker ran and so no worker
    /// counted. Clones of a handle share the count; another consumer has its own.
    pub fn take_dead_at_dequeue(&self) -> DeadAtDequeue {
        match self {
            Queue::Memory(queue) => queue.take_dead_at_dequeue(),
            Queue::Redis(queue) => queue.take_dead_at_dequeue(),
        }
    }

    /// Most jobs queued or in flight at once (`QueueOptions::max_backlog`).
    pub fn max_backlog(&self) -> u64 {
        match self {
            Queue::Memory(queue) => queue.max_backlog(),
            Queue::Redis(queue) => queue.max_backlog(),
        }
    }

    /// Which backend this is, for logs and reports.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Queue::Memory(_) => "in-process",
            Queue::Redis(_) => "redis",
        }
    }

    /// Deletes every job of this queue: queued, in flight and dead. For tests, benchmarks
    /// and an operator who means it.
    pub async fn purge(&self) -> Result<(), QueueError> {
        match self {
            Queue::Memory(queue) => {
                queue.purge();
                Ok(())
            }
            Queue::Redis(queue) => queue.purge().await,
        }
    }
}

/// Delegates every method to the backend.
macro_rules! delegate {
    ($self:ident, $queue:ident => $call:expr) => {
        match $self {
            Queue::Memory($queue) => $call.await,
            Queue::Redis($queue) => $call.await,
        }
    };
}

impl JobQueue for Queue {
    async fn enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        delegate!(self, queue => queue.enqueue(job))
    }
    async fn try_enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        delegate!(self, queue => queue.try_enqueue(job))
    }
    async fn enqueue_many(&self, jobs: &[JobPayload]) -> Result<(), QueueError> {
        delegate!(self, queue => queue.enqueue_many(jobs))
    }
    async fn enqueue_raw(&self, tier: Tier, payload: &str) -> Result<(), QueueError> {
        delegate!(self, queue => queue.enqueue_raw(tier, payload))
    }
    async fn try_dequeue(&self, tier: Tier) -> Result<Option<Delivery>, QueueError> {
        delegate!(self, queue => queue.try_dequeue(tier))
    }
    async fn dequeue(&self, tiers: &[Tier], timeout: Duration) -> Result<Option<Delivery>, QueueError> {
        delegate!(self, queue => queue.dequeue(tiers, timeout))
    }
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        delegate!(self, queue => queue.ack(delivery))
    }
    async fn nack(&self, delivery: &Delivery, error: &str) -> Result<NackOutcome, QueueError> {
        delegate!(self, queue => queue.nack(delivery, error))
    }
    async fn requeue_as(&self, delivery: &Delivery, job: &JobPayload, error: &str) -> Result<NackOutcome, QueueError> {
        delegate!(self, queue => queue.requeue_as(delivery, job, error))
    }
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        delegate!(self, queue => queue.dead_letter(delivery, reason))
    }
    async fn dead_letter_new(&self, job: &JobPayload, reason: &str) -> Result<(), QueueError> {
        delegate!(self, queue => queue.dead_letter_new(job, reason))
    }
    async fn keep_alive(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        delegate!(self, queue => queue.keep_alive(delivery))
    }
    async fn list_dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        delegate!(self, queue => queue.list_dead(limit))
    }
    async fn retry_dead(&self) -> Result<usize, QueueError> {
        delegate!(self, queue => queue.retry_dead())
    }
    async fn status(&self) -> Result<QueueStatus, QueueError> {
        delegate!(self, queue => queue.status())
    }
}

/// The delay before the next look for room while the queue is full: doubling from 1 ms
/// to 50 ms. Redis has no notification when an ack frees room, so the producer polls;
/// 50 ms caps the wasted wait without hammering Redis with backlog checks.
pub(crate) fn next_full_wait(previous: Duration) -> Duration {
    (previous * 2).clamp(Duration::from_millis(1), Duration::from_millis(50))
}

/// Index of a tier in `Tier::ALL` (and in per-tier arrays).
pub(crate) fn tier_index(tier: Tier) -> usize {
    match tier {
        Tier::Critical => 0,
        Tier::High => 1,
        Tier::Normal => 2,
        Tier::Low => 3,
    }
}

/// Reason recorded when a job is dead-lettered because it was delivered too often.
pub(crate) fn too_many_deliveries_reason(deliveries: u32, last_error: Option<&str>) -> String {
    match last_error {
        Some(error) => format!("delivered {deliveries} times; last error: {error}"),
        None => format!("delivered {deliveries} times without an ack (its workers stopped or timed out)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_unique_within_a_process() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_job_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn a_newer_format_is_reported_as_such() {
        let error = JobPayload::decode(r#"{"format":2,"id":"x","anything":"else"}"#).unwrap_err();
        assert!(matches!(error, QueueError::UnsupportedFormat { found: 2, supported: 1 }), "{error}");
    }

    #[test]
    fn a_payload_round_trips() {
        let gap = Gap {
            symbol: "AAPL".into(),
            exchange: "XNAS".into(),
            start: chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            end: chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap(),
            sessions: 4,
        };
        let job = JobPayload::new("load-1", Tier::High, Timeframe::Daily, vec![gap]);
        assert_eq!(JobPayload::decode(&job.encode().unwrap()).unwrap(), job);
    }

    #[test]
    fn a_payload_a_worker_should_not_trust_is_undecodable_with_a_reason() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        let good = Gap { symbol: "AAPL".into(), exchange: "XNAS".into(), start: day, end: day, sessions: 1 };
        let job = JobPayload::new("load-1", Tier::High, Timeframe::Daily, vec![good.clone()]);
        let cases: Vec<(JobPayload, &str)> = vec![
            (JobPayload { gaps: vec![Gap { symbol: String::new(), ..good.clone() }], ..job.clone() }, "not a ticker"),
            (JobPayload { gaps: vec![Gap { symbol: "-5".into(), ..good.clone() }], ..job.clone() }, "not a ticker"),
            (JobPayload { gaps: vec![Gap { symbol: " AAPL".into(), ..good.clone() }], ..job.clone() }, "whitespace"),
            (JobPayload { gaps: vec![Gap { exchange: "X\nNYS".into(), ..good.clone() }], ..job.clone() }, "not a MIC"),
            (JobPayload { gaps: vec![Gap { sessions: 0, ..good.clone() }], ..job.clone() }, "is empty"),
            (JobPayload { gaps: vec![], ..job.clone() }, "no gaps"),
            (JobPayload { id: "x".repeat(1000), ..job.clone() }, "not an id"),
        ];
        for (bad, expected) in cases {
            let error = JobPayload::decode(&bad.encode().unwrap()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
            assert!(error.len() < 300, "{error}");
        }
        // An attempt count at the top of its range decodes (the queues add to it saturating).
        let worn = JobPayload { attempt: u32::MAX, ..job };
        assert_eq!(JobPayload::decode(&worn.encode().unwrap()).unwrap().attempt, u32::MAX);
    }
}
