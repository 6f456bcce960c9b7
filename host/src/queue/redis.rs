//! The Redis Streams queue (`--queue redis://...`).
//!
//! Layout: one stream per tier (`{prefix}jobs:{tier}`), one consumer group (`workers`)
//! on each, one dead-letter stream per tier (`{prefix}dead:{tier}`). Each stream entry
//! has a `job` field (the encoded `JobPayload`) and, when re-queued by `nack`, an `error`
//! field (the last error).
//!
//! Choices, each against a pitfall of Redis Streams as a queue:
//! - An entry is deleted (XACK then XDEL, atomically) only once it is acked, so the
//!   stream length is exactly the backlog (queued + in flight) and backpressure is a
//!   check of XLEN; nothing is ever trimmed (MAXLEN deletes jobs still in flight).
//! - Enqueue, nack, dead-letter, keep-alive and dead-letter retry are Lua scripts, so
//!   "check the backlog, then add" and "ack, then re-add elsewhere" are atomic: two
//!   producers cannot overshoot the limit, and a crash cannot lose or duplicate a job
//!   between the two halves.
//! - Blocking reads (XREADGROUP BLOCK) run on their own connection, with a response
//!   timeout above the BLOCK time (redis-rs 1.x's default 500 ms would fail them), so
//!   they never stall enqueues and acks on the command connection.
//! - One round trip per batch while a consumer drains: a read takes up to
//!   `QueueOptions::read_batch` entries of a tier (XREADGROUP COUNT) into the per-tier
//!   stash, and `ack` only buffers the entry id; the buffered acks travel in the same
//!   MULTI/EXEC as the next read (XACK then XDEL, each ack as atomic as a lone one), or a
//!   timer sends them `ACK_FLUSH_DELAY` after the first, or `status`/`retire` do. Stashed
//!   entries are pending in Redis like any delivered one, so a consumer that dies with
//!   a full stash or unsent acks leaves them to be taken over after `claim_idle`: at
//!   least once, never lost. The read size starts at one and doubles only while full
//!   reads are drained quickly, and an entry that waited a third of `claim_idle` in the
//!   stash is confirmed still ours, its idle time reset, before it is handed out (or
//!   dropped when another consumer took it over), so slow jobs neither hoard entries
//!   nor run twice.
//! - `dequeue`'s reads and claims, and ack sends, run on their own tokio task that the
//!   caller awaits: a `dequeue` cancelled mid-read (the workers race it in a `select!`)
//!   does not strand a batch that Redis already delivered, nor forget acks it already took
//!   from the buffer. `try_dequeue`, which callers await to the end, reads inline.
//! - Abandoned entries are taken over with XAUTOCLAIM after `claim_idle`, looping on its
//!   cursor (each call scans at most COUNT*10 entries) and resuming where the last run
//!   stopped; the delivery count then comes from XPENDING.
//! - Both connections are `ConnectionManager`s, which reconnect after a Redis restart.
//!   Job durability across a restart is the server's business: `appendonly yes`.
//!
//! Not supported: Redis Cluster (the scripts touch the four tier streams, which would
//! need one hash slot).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamRangeReply, StreamReadReply};
use redis::{FromRedisValue, RedisError, Script, Value};
use tokio::time::Instant;

use super::{
    DeadAtDequeue, DeadAtDequeueLog, DeadJob, Delivery, JobPayload, JobQueue, MAX_READ_BATCH, NackOutcome, QueueError,
    QueueOptions, QueueStatus, TierDepth, memory::retry_payload, next_full_wait, tier_index,
    too_many_deliveries_reason, unique_consumer_name,
};
use crate::plan::Tier;

/// The consumer group every worker joins.
pub const GROUP: &str = "workers";

/// Response timeout of the command connection: far above any single command's time, low
/// enough that a hung server surfaces as an error.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest single XREADGROUP BLOCK; a longer `dequeue` timeout is served in slices so
/// abandoned jobs are reclaimed meanwhile.
const LONGEST_BLOCK: Duration = Duration::from_secs(5);
/// Jobs per enqueue script call: big enough to amortise the round trip, small enough that
/// one call blocks the server for about a millisecond.
const ENQUEUE_CHUNK: usize = 1000;
/// Script calls sent per round trip by `enqueue_many`.
const CHUNKS_PER_ROUND_TRIP: usize = 4;
/// Entries one reclaim run takes over: one, handed out at once. Claiming a batch would
/// park the rest in this process's stash, where they age again if the dispatcher does
/// not ask for their tier soon, get taken over once more, and burn delivery counts of
/// jobs nobody worked on. (XAUTOCLAIM COUNT 1 still scans up to 10 pending entries.)
const RECLAIM_COUNT: usize = 1;
/// XAUTOCLAIM calls per run at most: up to 160 pending entries scanned per run; the rest
/// of the pending list is scanned by the next runs, which are then due at once.
const RECLAIM_CALLS_PER_RUN: usize = 16;
/// Longest an ack waits in the buffer when no read comes to carry it: short enough that
/// another process's producer waiting for room, or `status` on another host, sees it at
/// once for practical purposes; long enough that a consumer draining a batch sends its
/// acks with the next read rather than on their own.
pub const ACK_FLUSH_DELAY: Duration = Duration::from_millis(10);
/// Wait before sending acks again after a send failed (Redis restarting).
const ACK_RETRY_DELAY: Duration = Duration::from_millis(500);

/// KEYS[1..4]: the tier streams in `Tier::ALL` order. ARGV[1]: max backlog; then pairs of
/// (tier number 1..4, payload). Adds as many pairs as fit, in order; returns
/// {added, backlog before}.
const ENQUEUE_SCRIPT: &str = r"
local backlog = 0
for i = 1, #KEYS do backlog = backlog + redis.call('XLEN', KEYS[i]) end
local wanted = (#ARGV - 1) / 2
local added = math.min(wanted, tonumber(ARGV[1]) - backlog)
if added < 0 then added = 0 end
for j = 0, added - 1 do
  redis.call('XADD', KEYS[tonumber(ARGV[2 + 2 * j])], '*', 'job', ARGV[3 + 2 * j])
end
return {added, backlog}
";

/// KEYS[1]: tier stream. ARGV: group, entry id, new payload, error. Re-queues the job at
/// the back of its tier only if the entry was still in flight; returns 1, else 0.
const NACK_SCRIPT: &str = r"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[1], '*', 'job', ARGV[3], 'error', ARGV[4])
return 1
";

/// KEYS[1]: tier stream, KEYS[2]: its dead stream. ARGV: group, entry id, reason,
/// deliveries, consumer. Moves the entry's stored payload, byte for byte, to the dead
/// stream if it was still in flight; returns 1, else 0.
const DEAD_LETTER_SCRIPT: &str = r"
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local payload = ''
if #entry > 0 then
  local fields = entry[1][2]
  for i = 1, #fields, 2 do if fields[i] == 'job' then payload = fields[i + 1] end end
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'job', payload, 'reason', ARGV[3], 'deliveries', ARGV[4], 'consumer', ARGV[5])
return 1
";

/// KEYS[1]: tier stream. ARGV: group, entry id, consumer. Resets the entry's idle time if
/// it is still in flight with this consumer (never steals it back); returns 1, else 0.
const KEEP_ALIVE_SCRIPT: &str = r"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
";

/// KEYS[1..4]: tier streams, KEYS[5]: the dead stream. ARGV: max backlog, tier number,
/// dead id, payload. Moves one dead letter back to its tier: 1 moved, 0 already gone,
/// -1 no room.
const RETRY_DEAD_SCRIPT: &str = r"
local backlog = 0
for i = 1, 4 do backlog = backlog + redis.call('XLEN', KEYS[i]) end
if backlog >= tonumber(ARGV[1]) then return -1 end
if redis.call('XDEL', KEYS[5], ARGV[3]) == 0 then return 0 end
redis.call('XADD', KEYS[tonumber(ARGV[2])], '*', 'job', ARGV[4])
return 1
";

/// KEYS: the tier streams. ARGV: group, consumer. Removes the consumer from the group on
/// every stream only if it has nothing in flight on any (XGROUP DELCONSUMER would throw
/// its pending entries away); returns 1 if removed, else 0.
const RETIRE_SCRIPT: &str = r"
for i = 1, #KEYS do
  if #redis.call('XPENDING', KEYS[i], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
end
for i = 1, #KEYS do redis.call('XGROUP', 'DELCONSUMER', KEYS[i], ARGV[1], ARGV[2]) end
return 1
";

/// A handle on a Redis Streams queue; clones share the connections and consumer name.
#[derive(Clone)]
pub struct RedisQueue {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisQueue")
            .field("consumer", &self.shared.consumer)
            .field("key_prefix", &self.shared.options.key_prefix)
            .finish_non_exhaustive()
    }
}

struct Shared {
    url: String,
    options: QueueOptions,
    consumer: String,
    job_keys: [String; 4],
    dead_keys: [String; 4],
    commands: ConnectionManager,
    // A tokio mutex: it is held across the blocking read's await. One blocking read per
    // process at a time; concurrent `dequeue` callers wait their turn while `try_dequeue`
    // keeps using the command connection.
    blocking: tokio::sync::Mutex<ConnectionManager>,
    /// Per tier, entries already delivered to this consumer but not handed out yet (the
    /// rest of a batched read, extra streams' entries of a multi-stream blocking read,
    /// reclaimed entries) and the size of the next read.
    stash: Mutex<[TierStash; 4]>,
    /// Acks not sent to Redis yet.
    acks: Mutex<AckBuffer>,
    /// Per tier: the XAUTOCLAIM cursor to resume from, and when the next run is due.
    reclaim: Mutex<[ReclaimState; 4]>,
    scripts: Scripts,
    /// Jobs this consumer dead-lettered at dequeue, not yet reported.
    dead_at_dequeue: DeadAtDequeueLog,
}

struct Scripts {
    enqueue: Script,
    nack: Script,
    dead_letter: Script,
    keep_alive: Script,
    retry_dead: Script,
    retire: Script,
}

#[derive(Debug, Clone)]
struct StashedEntry {
    entry_id: String,
    payload: Option<String>,
    last_error: Option<String>,
    times_delivered: u32,
    /// When the read or claim that delivered it was sent: Redis's idle time of the entry
    /// is at most the time since.
    read_at: Instant,
}

#[derive(Debug)]
struct TierStash {
    entries: VecDeque<StashedEntry>,
    /// COUNT of the next read, 1..=read_batch.
    read_size: usize,
    /// When the last read was sent, and whether it came back full: the next read doubles
    /// only after a full one that was drained within `claim_idle / 8`.
    last_read: Option<(Instant, bool)>,
}

impl Default for TierStash {
    fn default() -> Self {
        TierStash { entries: VecDeque::new(), read_size: 1, last_read: None }
    }
}

/// Entry ids acked by the caller but not yet by Redis, per tier.
#[derive(Debug, Default)]
struct AckBuffer {
    ids: [Vec<String>; 4],
    count: usize,
    /// When the oldest ack in the buffer was buffered.
    oldest: Option<Instant>,
    /// Whether the flush timer task runs (at most one per queue; see `flush_timer`).
    timer_running: bool,
}

/// Who waits for a read: `dequeue`, which the workers' dispatcher races in a `select!`,
/// or `try_dequeue`, which callers await to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Cancellable,
    Awaited,
}

/// Acks taken from the buffer to be sent, per tier.
type TakenAcks = [Vec<String>; 4];

#[derive(Debug, Clone)]
struct ReclaimState {
    cursor: String,
    due: Instant,
}

impl StashedEntry {
    fn from_stream_entry(entry: &StreamId, times_delivered: u32, read_at: Instant) -> StashedEntry {
        StashedEntry {
            entry_id: entry.id.clone(),
            payload: entry.get("job"),
            last_error: entry.get("error"),
            times_delivered,
            read_at,
        }
    }
}

/// Runs `work` on its own task and waits for it. Dropping the caller (a `dequeue` that
/// lost a `select!`) then does not drop the work half done: a read Redis answered still
/// stashes its entries for the next call, and acks taken from the buffer are still sent
/// or put back. A panic in the work is the caller's panic.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, QueueError>> + Send + 'static,
) -> Result<T, QueueError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(QueueError::UnexpectedReply {
            command: "XREADGROUP/XACK",
            detail: "the task sending it was cancelled (the runtime is shutting down)".to_string(),
        }),
    }
}

/// Locks a std mutex of this module: every one guards plain data, never held across an
/// await, so a panic elsewhere cannot leave it half updated and poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The stream or its group is gone (a purge, or a Redis restart without persistence):
/// the caller creates the groups again. In a pipeline's error the code is only found
/// among the per-command server errors.
fn is_missing_group(error: &RedisError) -> bool {
    error.code() == Some("NOGROUP")
        || error
            .clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, error)| error.code() == "NOGROUP"))
}

impl RedisQueue {
    /// Connects (two connections: commands and blocking reads) and creates the consumer
    /// group on every tier stream if it is not there yet.
    pub async fn open(url: &str, options: QueueOptions) -> Result<RedisQueue, QueueError> {
        let client = redis::Client::open(url)?;
        // One plain connection first: a connection manager retries a refused connection
        // six times with backoff (about 10 s) before it says so; a wrong password or a
        // closed port should be reported at once. The managers keep retrying later outages.
        let probe_config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let mut probe = client.get_multiplexed_async_connection_with_config(&probe_config).await?;
        let _: String = redis::cmd("PING").query_async(&mut probe).await?;
        drop(probe);
        let commands = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(COMMAND_TIMEOUT)),
            )
            .await?;
        let blocking = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(LONGEST_BLOCK + COMMAND_TIMEOUT)),
            )
            .await?;
        let prefix = &options.key_prefix;
        let job_keys = Tier::ALL.map(|tier| format!("{prefix}jobs:{}", tier.as_str()));
        let dead_keys = Tier::ALL.map(|tier| format!("{prefix}dead:{}", tier.as_str()));
        let consumer = options.consumer_name.clone().unwrap_or_else(unique_consumer_name);
        let now = Instant::now();
        let queue = RedisQueue {
            shared: Arc::new(Shared {
                url: url.to_string(),
                consumer,
                job_keys,
                dead_keys,
                commands,
                blocking: tokio::sync::Mutex::new(blocking),
                stash: Mutex::new(Default::default()),
                acks: Mutex::new(AckBuffer::default()),
                reclaim: Mutex::new(std::array::from_fn(|_| ReclaimState { cursor: "0-0".to_string(), due: now })),
                scripts: Scripts {
                    enqueue: Script::new(ENQUEUE_SCRIPT),
                    nack: Script::new(NACK_SCRIPT),
                    dead_letter: Script::new(DEAD_LETTER_SCRIPT),
                    keep_alive: Script::new(KEEP_ALIVE_SCRIPT),
                    retry_dead: Script::new(RETRY_DEAD_SCRIPT),
                    retire: Script::new(RETIRE_SCRIPT),
                },
                dead_at_dequeue: DeadAtDequeueLog::default(),
                options,
            }),
        };
        queue.create_groups().await?;
        Ok(queue)
    }

    /// Another consumer on the same streams, with its own connections and name.
    pub async fn another_consumer(&self) -> Result<RedisQueue, QueueError> {
        let options = QueueOptions { consumer_name: None, ..self.shared.options.clone() };
        RedisQueue::open(&self.shared.url, options).await
    }

    pub fn consumer_name(&self) -> &str {
        &self.shared.consumer
    }

    /// See `Queue::take_dead_at_dequeue`.
    pub fn take_dead_at_dequeue(&self) -> DeadAtDequeue {
        self.shared.dead_at_dequeue.take()
    }

    pub fn max_backlog(&self) -> u64 {
        self.options().max_backlog
    }

    /// Removes this consumer from the group when it has no job in flight, so consumer
    /// names of finished processes do not pile up; false (and nothing removed) while it
    /// still holds jobs, which must be acked or taken over first.
    pub async fn retire(&self) -> Result<bool, QueueError> {
        // Acked jobs are not in flight: send their acks before asking.
        self.flush_acks().await?;
        let mut invocation = self.shared.scripts.retire.prepare_invoke();
        for key in &self.shared.job_keys {
            invocation.key(key);
        }
        invocation.arg(GROUP).arg(&self.shared.consumer);
        let retired: i64 = invocation.invoke_async(&mut self.connection()).await?;
        Ok(retired == 1)
    }

    /// The Redis keys this queue uses: the four tier streams, then the four dead streams.
    pub fn keys(&self) -> Vec<String> {
        self.shared.job_keys.iter().chain(&self.shared.dead_keys).cloned().collect()
    }

    /// Deletes every stream of this queue (queued, in-flight and dead jobs), leaving no
    /// key behind. The queue stays usable: the first read that finds the group missing
    /// creates it again (as after a Redis restart without persistence).
    pub async fn purge(&self) -> Result<(), QueueError> {
        let mut connection = self.shared.commands.clone();
        redis::cmd("DEL").arg(self.keys()).query_async::<()>(&mut connection).await?;
        lock(&self.shared.stash).iter_mut().for_each(|tier| tier.entries.clear());
        // Their entries are gone with the streams.
        self.take_acks();
        Ok(())
    }

    /// Creates the group on every tier stream (and the stream itself, MKSTREAM), reading
    /// from the stream's start so jobs queued before the first worker are delivered.
    async fn create_groups(&self) -> Result<(), QueueError> {
        let mut pipeline = redis::pipe();
        for key in &self.shared.job_keys {
            pipeline.cmd("XGROUP").arg("CREATE").arg(key).arg(GROUP).arg("0").arg("MKSTREAM");
        }
        // Each reply is OK or BUSYGROUP (the group exists); only the latter is expected.
        let replies: Vec<Value> = pipeline.ignore_errors().query_async(&mut self.shared.commands.clone()).await?;
        for reply in replies {
            if let Value::ServerError(error) = &reply
                && error.code() != "BUSYGROUP"
            {
                return Err(QueueError::UnexpectedReply { command: "XGROUP CREATE", detail: format!("{error:?}") });
            }
        }
        Ok(())
    }

    fn options(&self) -> &QueueOptions {
        &self.shared.options
    }

    fn connection(&self) -> ConnectionManager {
        // A clone shares the one multiplexed connection: concurrent callers pipeline.
        self.shared.commands.clone()
    }

    /// Sends up to `CHUNKS_PER_ROUND_TRIP` enqueue script calls in one pipeline; returns,
    /// per call, (added, backlog before).
    async fn enqueue_chunks(&self, chunks: &[&[(Tier, String)]]) -> Result<Vec<(usize, u64)>, QueueError> {
        let max_backlog = self.options().max_backlog;
        if max_backlog == 0 {
            return Err(QueueError::ZeroBacklogLimit);
        }
        let mut connection = self.connection();
        let mut pipeline = redis::pipe();
        for chunk in chunks {
            let mut invocation = self.shared.scripts.enqueue.prepare_invoke();
            for key in &self.shared.job_keys {
                invocation.key(key);
            }
            invocation.arg(max_backlog);
            for (tier, payload) in chunk.iter() {
                invocation.arg(tier_index(*tier) + 1).arg(payload.as_str());
            }
            pipeline.invoke_script(&invocation);
        }
        let replies: Result<Vec<(usize, u64)>, RedisError> = pipeline.query_async(&mut connection).await;
        match replies {
            Ok(replies) => Ok(replies),
            // After a Redis restart the script cache is empty: load and send once more. No
            // call of the pipeline ran (each failed on the unknown hash), so none repeats.
            Err(error) if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.shared.scripts.enqueue.prepare_invoke().load_async(&mut connection).await?;
                Ok(pipeline.query_async(&mut connection).await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Queues every payload in order, waiting (polling) for room when the queue is full.
    async fn enqueue_payloads(&self, payloads: &[(Tier, String)]) -> Result<(), QueueError> {
        let mut remaining: Vec<&[(Tier, String)]> = payloads.chunks(ENQUEUE_CHUNK).collect();
        let mut wait = Duration::ZERO;
        while !remaining.is_empty() {
            let batch: Vec<&[(Tier, String)]> = remaining.iter().take(CHUNKS_PER_ROUND_TRIP).copied().collect();
            let replies = self.enqueue_chunks(&batch).await?;
            // What did not fit, in order, is sent again after a wait; a chunk after a
            // partially added one may have been added meanwhile (an ack freed room), so
            // under backpressure the order of jobs is kept only approximately.
            let mut not_added: Vec<&[(Tier, String)]> = Vec::new();
            for (chunk, (added, _backlog)) in batch.iter().zip(&replies) {
                if *added < chunk.len() {
                    not_added.push(&chunk[*added..]);
                }
            }
            let full = !not_added.is_empty();
            not_added.extend(remaining.drain(..).skip(batch.len()));
            remaining = not_added;
            if full {
                wait = next_full_wait(wait);
                tokio::time::sleep(wait).await;
            } else {
                wait = Duration::ZERO;
            }
        }
        Ok(())
    }

    /// Most entries one read takes, and twice that the most acks buffered.
    fn read_batch(&self) -> usize {
        self.options().read_batch.clamp(1, MAX_READ_BATCH)
    }

    fn ack_limit(&self) -> usize {
        self.read_batch().saturating_mul(2)
    }

    /// The COUNT of the next read of `tier`, noting that it is sent now: double the last
    /// one after a full read drained within `claim_idle / 8` (the caller takes entries as
    /// fast as they come), else the same; never above `read_batch`.
    fn next_read_size(&self, tier: Tier) -> (usize, Instant) {
        let quickly = self.options().claim_idle / 8;
        let now = Instant::now();
        let mut stash = lock(&self.shared.stash);
        let state = &mut stash[tier_index(tier)];
        if let Some((last, true)) = state.last_read
            && now.duration_since(last) < quickly
        {
            state.read_size = state.read_size.saturating_mul(2);
        }
        state.read_size = state.read_size.clamp(1, self.read_batch());
        state.last_read = Some((now, false));
        (state.read_size, now)
    }

    /// An XREADGROUP of up to `count` new entries of `tier`, without blocking.
    fn read_command(&self, tier: Tier, count: usize) -> redis::Cmd {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.shared.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(&self.shared.job_keys[tier_index(tier)])
            .arg(">");
        command
    }

    /// Reads up to the tier's read size of new entries into the stash, with the buffered
    /// acks in the same round trip; detached (see `detached`) for a caller that may be
    /// cancelled. (Not for every caller: handing the work to another task and back costs
    /// two thread wake-ups when the caller is a `block_on`, more than the read itself.)
    async fn read_new(&self, tier: Tier, caller: Caller) -> Result<(), QueueError> {
        match caller {
            Caller::Awaited => self.read_new_here(tier).await,
            Caller::Cancellable => {
                let queue = self.clone();
                detached(async move { queue.read_new_here(tier).await }).await
            }
        }
    }

    async fn read_new_here(&self, tier: Tier) -> Result<(), QueueError> {
        let (count, sent_at) = self.next_read_size(tier);
        let acks = self.take_acks();
        // MULTI: acks, then the read. The read needs no atomicity; it rides along so the
        // whole batch costs one round trip. Errors come back per command (ignore_errors):
        // a missing group fails the read alone, after the acks ran.
        let mut pipeline = redis::pipe();
        pipeline.atomic().ignore_errors();
        self.add_acks(&mut pipeline, &acks);
        pipeline.add_command(self.read_command(tier, count));
        let replies: Vec<Value> = match pipeline.query_async(&mut self.connection()).await {
            Ok(replies) => replies,
            Err(error) => {
                // Whether they ran is unknown; sending an ack twice is harmless.
                self.put_back_acks(acks);
                return Err(error.into());
            }
        };
        let mut sent_at = sent_at;
        let reply: Option<StreamReadReply> = match replies.into_iter().next_back() {
            Some(Value::ServerError(error)) if error.code() == "NOGROUP" => {
                self.create_groups().await?;
                sent_at = Instant::now();
                self.read_command(tier, count).query_async(&mut self.connection()).await?
            }
            Some(Value::ServerError(error)) => return Err(RedisError::from(error).into()),
            Some(value) => FromRedisValue::from_redis_value(value).map_err(RedisError::from)?,
            None => {
                return Err(QueueError::UnexpectedReply { command: "XREADGROUP", detail: "no reply".to_string() });
            }
        };
        let entries: Vec<StashedEntry> = reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .map(|entry| StashedEntry::from_stream_entry(&entry, 1, sent_at))
            .collect();
        let full = entries.len() >= count;
        self.stash(tier, entries);
        if let Some((_, last_full)) = &mut lock(&self.shared.stash)[tier_index(tier)].last_read {
            *last_full = full;
        }
        Ok(())
    }

    /// The stash's next entry of `tier` that may be handed out. One that waited a third of
    /// `claim_idle` or more is first confirmed as still this consumer's and its idle time
    /// reset, so its worker gets the whole `claim_idle` before its first `keep_alive` as
    /// with a fresh read; it is dropped from the stash when another consumer took it over
    /// meanwhile (that consumer runs it). Such a wait also means this tier's entries are
    /// taken slowly: its reads shrink back to one entry.
    async fn next_stashed(&self, tier: Tier) -> Result<Option<StashedEntry>, QueueError> {
        let stale_after = self.options().claim_idle / 3;
        loop {
            let waited_long = {
                let mut stash = lock(&self.shared.stash);
                let state = &mut stash[tier_index(tier)];
                match state.entries.front() {
                    None => return Ok(None),
                    Some(entry) if entry.read_at.elapsed() < stale_after => return Ok(state.entries.pop_front()),
                    Some(entry) => {
                        state.read_size = 1;
                        entry.entry_id.clone()
                    }
                }
            };
            let checked_at = Instant::now();
            let still_ours = self.keep_alive_entry(tier, &waited_long).await?;
            let mut stash = lock(&self.shared.stash);
            let entries = &mut stash[tier_index(tier)].entries;
            if still_ours {
                if let Some(entry) = entries.iter_mut().find(|entry| entry.entry_id == waited_long) {
                    entry.read_at = checked_at;
                }
            } else {
                entries.retain(|entry| entry.entry_id != waited_long);
            }
        }
    }

    /// Adds entries to the stash; an entry already there (claimed again) is replaced.
    /// (A batch is read into an empty stash, so the search costs nothing on that path.)
    fn stash(&self, tier: Tier, entries: impl IntoIterator<Item = StashedEntry>) {
        let mut stash = lock(&self.shared.stash);
        let queue = &mut stash[tier_index(tier)].entries;
        for entry in entries {
            if !queue.is_empty() {
                queue.retain(|stashed| stashed.entry_id != entry.entry_id);
            }
            queue.push_back(entry);
        }
    }

    /// Resets the idle time of an entry in flight with this consumer (never steals it
    /// back from another); false when it is not in flight with this consumer.
    async fn keep_alive_entry(&self, tier: Tier, entry_id: &str) -> Result<bool, QueueError> {
        let kept: i64 = self
            .shared
            .scripts
            .keep_alive
            .key(&self.shared.job_keys[tier_index(tier)])
            .arg(GROUP)
            .arg(entry_id)
            .arg(&self.shared.consumer)
            .invoke_async(&mut self.connection())
            .await?;
        Ok(kept == 1)
    }

    /// Takes every buffered ack, to be sent by the caller.
    fn take_acks(&self) -> TakenAcks {
        let mut acks = lock(&self.shared.acks);
        acks.count = 0;
        acks.oldest = None;
        std::mem::take(&mut acks.ids)
    }

    /// Returns acks whose send failed to the buffer, to go with the next read or the retry
    /// timer. The buffer stays bounded: beyond `ack_limit`, the oldest are given up, and
    /// their jobs are delivered again after `claim_idle` (at least once; the store's
    /// upserts make the rerun harmless).
    fn put_back_acks(&self, taken: TakenAcks) {
        let limit = self.ack_limit();
        let mut given_up = 0usize;
        let start_timer = {
            let mut acks = lock(&self.shared.acks);
            for (index, ids) in taken.into_iter().enumerate() {
                for id in ids {
                    if acks.count < limit {
                        acks.ids[index].push(id);
                        acks.count += 1;
                    } else {
                        given_up += 1;
                    }
                }
            }
            if acks.count > 0 && acks.oldest.is_none() {
                acks.oldest = Some(Instant::now());
            }
            acks.count > 0 && !std::mem::replace(&mut acks.timer_running, true)
        };
        if given_up > 0 {
            tracing::warn!(
                given_up,
                "acks could not be sent and the buffer is full; those jobs will be delivered again"
            );
        }
        if start_timer {
            self.spawn_flush_timer();
        }
    }

    /// XACK then XDEL of each tier's acks, into a MULTI/EXEC pipeline: the same pair, in
    /// the same transaction, as a lone ack, so an entry is never deleted unacked nor left
    /// acked in the stream.
    fn add_acks(&self, pipeline: &mut redis::Pipeline, acks: &TakenAcks) {
        for (key, ids) in self.shared.job_keys.iter().zip(acks) {
            if ids.is_empty() {
                continue;
            }
            pipeline.cmd("XACK").arg(key).arg(GROUP).arg(ids).ignore();
            pipeline.cmd("XDEL").arg(key).arg(ids).ignore();
        }
    }

    /// Sends the buffered acks now (detached: see `detached`).
    pub(crate) async fn flush_acks(&self) -> Result<(), QueueError> {
        if lock(&self.shared.acks).count == 0 {
            return Ok(());
        }
        let queue = self.clone();
        detached(async move { queue.send_acks().await }).await
    }

    async fn send_acks(&self) -> Result<(), QueueError> {
        let acks = self.take_acks();
        if acks.iter().all(Vec::is_empty) {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        // Per-command errors (a stream purged meanwhile: NOGROUP) mean the entries are
        // gone, which is what the acks wanted.
        pipeline.atomic().ignore_errors();
        self.add_acks(&mut pipeline, &acks);
        match pipeline.query_async::<Vec<Value>>(&mut self.connection()).await {
            Ok(_) => Ok(()),
            Err(error) => {
                self.put_back_acks(acks);
                Err(error.into())
            }
        }
    }

    /// Starts the flush timer task; the caller has set `timer_running`.
    fn spawn_flush_timer(&self) {
        let queue = self.clone();
        tokio::spawn(async move { queue.flush_timer().await });
    }

    /// Sends the buffered acks once the oldest has waited `ACK_FLUSH_DELAY` without a read
    /// to carry it, and ends when the buffer is empty at a look. One such task at a time,
    /// started by the first ack it finds none running: an ack into an empty buffer, once
    /// per batch while a consumer drains, must not cost a task and a thread wake-up of its
    /// own. The task holds the queue, so dropping the last handle still sends the acks;
    /// only the process ending first loses them (their jobs then come back after
    /// `claim_idle`).
    async fn flush_timer(&self) {
        let mut wait = ACK_FLUSH_DELAY;
        loop {
            tokio::time::sleep(wait).await;
            let due_in = {
                let mut acks = lock(&self.shared.acks);
                match acks.oldest {
                    None => {
                        acks.timer_running = false;
                        return;
                    }
                    Some(oldest) => ACK_FLUSH_DELAY.saturating_sub(oldest.elapsed()),
                }
            };
            wait = if !due_in.is_zero() {
                due_in
            } else {
                match self.send_acks().await {
                    Ok(()) => ACK_FLUSH_DELAY,
                    Err(error) => {
                        tracing::warn!(%error, "could not send buffered acks; retrying");
                        ACK_RETRY_DELAY
                    }
                }
            };
        }
    }

    /// Takes over entries of `tier` idle for `claim_idle` (their consumer presumed dead)
    /// into the stash, if a run is due. Resumes the XAUTOCLAIM cursor of the last run, so
    /// a long pending list is scanned across runs with bounded work per run. Detached for
    /// a cancellable caller (see `detached`): a claimed entry reaches the stash even if the
    /// caller is gone.
    async fn reclaim_if_due(&self, tier: Tier, caller: Caller) -> Result<(), QueueError> {
        let due = lock(&self.shared.reclaim)[tier_index(tier)].due <= Instant::now();
        if !due {
            return Ok(());
        }
        match caller {
            Caller::Awaited => self.reclaim_here(tier).await,
            Caller::Cancellable => {
                let queue = self.clone();
                detached(async move { queue.reclaim_here(tier).await }).await
            }
        }
    }

    async fn reclaim_here(&self, tier: Tier) -> Result<(), QueueError> {
        let now = Instant::now();
        let mut cursor = {
            let reclaim = lock(&self.shared.reclaim);
            let state = &reclaim[tier_index(tier)];
            if state.due > now {
                return Ok(());
            }
            state.cursor.clone()
        };
        let key = &self.shared.job_keys[tier_index(tier)];
        let claim_idle_ms = self.options().claim_idle.as_millis() as u64;
        let mut connection = self.connection();
        let mut claimed: Vec<StreamId> = Vec::new();
        let claimed_at = Instant::now();
        for _ in 0..RECLAIM_CALLS_PER_RUN {
            let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(key)
                .arg(GROUP)
                .arg(&self.shared.consumer)
                .arg(claim_idle_ms)
                .arg(&cursor)
                .arg("COUNT")
                .arg(RECLAIM_COUNT)
                .query_async(&mut connection)
                .await
                .or_else(
                    |error| if is_missing_group(&error) { Ok(StreamAutoClaimReply::default()) } else { Err(error) },
                )?;
            cursor = if reply.next_stream_id.is_empty() { "0-0".to_string() } else { reply.next_stream_id };
            if !reply.deleted_ids.is_empty() {
                // Pending entries whose stream entry is gone (deleted by hand): nothing
                // to deliver, so only the pending-list entry is cleared.
                tracing::warn!(stream = %key, ids = ?reply.deleted_ids, "pending entries without a stream entry");
                redis::cmd("XACK")
                    .arg(key)
                    .arg(GROUP)
                    .arg(&reply.deleted_ids)
                    .query_async::<()>(&mut connection)
                    .await?;
            }
            claimed.extend(reply.claimed);
            if claimed.len() >= RECLAIM_COUNT || cursor == "0-0" {
                break;
            }
        }
        {
            let mut reclaim = lock(&self.shared.reclaim);
            let state = &mut reclaim[tier_index(tier)];
            // More to scan: due again at once; a full pass done: look again in a while.
            state.due = if cursor == "0-0" { Instant::now() + self.options().claim_idle / 4 } else { Instant::now() };
            state.cursor = cursor;
        }
        if claimed.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for entry in &claimed {
            pipeline.cmd("XPENDING").arg(key).arg(GROUP).arg(&entry.id).arg(&entry.id).arg(1);
        }
        let counts: Vec<StreamPendingCountReply> = pipeline.query_async(&mut connection).await?;
        let entries = claimed.iter().zip(counts).map(|(entry, count)| {
            let times_delivered = count.ids.first().map(|pending| pending.times_delivered as u32).unwrap_or(1);
            StashedEntry::from_stream_entry(entry, times_delivered, claimed_at)
        });
        self.stash(tier, entries.collect::<Vec<_>>());
        Ok(())
    }

    /// Turns an entry delivered to this consumer into a `Delivery`, or dead-letters it
    /// (unreadable payload, or too many deliveries) and returns None.
    async fn hand_out(&self, tier: Tier, entry: StashedEntry) -> Result<Option<Delivery>, QueueError> {
        let decoded = match &entry.payload {
            Some(payload) => JobPayload::decode(payload),
            None => Err(QueueError::Undecodable { reason: "the stream entry has no `job` field".to_string() }),
        };
        let job = match decoded {
            Ok(job) => job,
            Err(error) => {
                self.bury_at_dequeue(tier, &entry.entry_id, &error.to_string(), entry.times_delivered).await?;
                return Ok(None);
            }
        };
        let deliveries = job.attempt.saturating_add(entry.times_delivered);
        if deliveries > self.options().max_deliveries {
            let reason = too_many_deliveries_reason(deliveries.saturating_sub(1), entry.last_error.as_deref());
            self.bury_at_dequeue(tier, &entry.entry_id, &reason, deliveries.saturating_sub(1)).await?;
            return Ok(None);
        }
        Ok(Some(Delivery { job, tier, deliveries, last_error: entry.last_error, entry_id: entry.entry_id }))
    }

    /// Dead-letters an entry this consumer just took (unreadable, or delivered too often)
    /// and notes it for `take_dead_at_dequeue`.
    async fn bury_at_dequeue(
        &self,
        tier: Tier,
        entry_id: &str,
        reason: &str,
        deliveries: u32,
    ) -> Result<(), QueueError> {
        if self.bury(tier, entry_id, reason, deliveries).await? {
            self.shared.dead_at_dequeue.record(reason);
        }
        Ok(())
    }

    /// Moves an in-flight entry to its tier's dead stream; false if it was not in flight.
    async fn bury(&self, tier: Tier, entry_id: &str, reason: &str, deliveries: u32) -> Result<bool, QueueError> {
        let moved: i64 = self
            .shared
            .scripts
            .dead_letter
            .key(&self.shared.job_keys[tier_index(tier)])
            .key(&self.shared.dead_keys[tier_index(tier)])
            .arg(GROUP)
            .arg(entry_id)
            .arg(reason)
            .arg(deliveries)
            .arg(&self.shared.consumer)
            .invoke_async(&mut self.connection())
            .await?;
        Ok(moved == 1)
    }

    /// The next job of `tier`: from the stash, else a reclaimed one if a reclaim is due,
    /// else from a new read; None when the tier has none.
    async fn take_next(&self, tier: Tier, caller: Caller) -> Result<Option<Delivery>, QueueError> {
        loop {
            let entry = match self.next_stashed(tier).await? {
                Some(entry) => entry,
                None => {
                    self.reclaim_if_due(tier, caller).await?;
                    match self.next_stashed(tier).await? {
                        Some(entry) => entry,
                        None => {
                            self.read_new(tier, caller).await?;
                            match self.next_stashed(tier).await? {
                                Some(entry) => entry,
                                None => return Ok(None),
                            }
                        }
                    }
                }
            };
            if let Some(delivery) = self.hand_out(tier, entry).await? {
                return Ok(Some(delivery));
            }
        }
    }

    /// One blocking XREADGROUP over the given tiers' streams, for at most `block`; what
    /// arrives goes to the stash. One entry per stream (no batch): the caller may be
    /// cancelled while it waits (see `JobQueue::dequeue`), and what Redis delivered to a
    /// cancelled read is stranded until `claim_idle`. The batched reads that follow the
    /// wake-up are detached and take the rest.
    async fn block_for_new(&self, tiers: &[Tier], block: Duration) -> Result<(), QueueError> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.shared.consumer)
            .arg("COUNT")
            .arg(1)
            // BLOCK 0 would mean "forever".
            .arg("BLOCK")
            .arg((block.as_millis() as u64).max(1))
            .arg("STREAMS");
        for &tier in tiers {
            command.arg(&self.shared.job_keys[tier_index(tier)]);
        }
        for _ in tiers {
            command.arg(">");
        }
        let sent_at;
        let reply: Option<StreamReadReply> = {
            let mut connection = self.shared.blocking.lock().await;
            sent_at = Instant::now();
            match command.query_async(&mut *connection).await {
                Ok(reply) => reply,
                Err(error) if is_missing_group(&error) => {
                    drop(connection);
                    self.create_groups().await?;
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            }
        };
        for stream in reply.into_iter().flat_map(|reply| reply.keys) {
            let Some(tier) = tiers.iter().copied().find(|&tier| self.shared.job_keys[tier_index(tier)] == stream.key)
            else {
                continue;
            };
            self.stash(
                tier,
                stream.ids.iter().map(|entry| StashedEntry::from_stream_entry(entry, 1, sent_at)).collect::<Vec<_>>(),
            );
        }
        Ok(())
    }
}

impl JobQueue for RedisQueue {
    async fn enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        self.enqueue_payloads(&[(job.tier, job.encode()?)]).await
    }

    async fn try_enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        let payloads = [(job.tier, job.encode()?)];
        let replies = self.enqueue_chunks(&[&payloads]).await?;
        match replies.first() {
            Some((1, _)) => Ok(()),
            Some((_, backlog)) => Err(QueueError::Full { backlog: *backlog, max_backlog: self.options().max_backlog }),
            None => Err(QueueError::UnexpectedReply { command: "enqueue script", detail: "no reply".to_string() }),
        }
    }

    async fn enqueue_many(&self, jobs: &[JobPayload]) -> Result<(), QueueError> {
        let payloads = jobs.iter().map(|job| Ok((job.tier, job.encode()?))).collect::<Result<Vec<_>, QueueError>>()?;
        self.enqueue_payloads(&payloads).await
    }

    async fn enqueue_raw(&self, tier: Tier, payload: &str) -> Result<(), QueueError> {
        self.enqueue_payloads(&[(tier, payload.to_string())]).await
    }

    async fn try_dequeue(&self, tier: Tier) -> Result<Option<Delivery>, QueueError> {
        self.take_next(tier, Caller::Awaited).await
    }

    async fn dequeue(&self, tiers: &[Tier], timeout: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + timeout;
        // Slices short enough that abandoned jobs are reclaimed soon after `claim_idle`.
        let slice = (self.options().claim_idle / 4).clamp(Duration::from_millis(10), LONGEST_BLOCK);
        loop {
            for &tier in tiers {
                if let Some(delivery) = self.take_next(tier, Caller::Cancellable).await? {
                    return Ok(Some(delivery));
                }
            }
            let now = Instant::now();
            if now >= deadline || tiers.is_empty() {
                return Ok(None);
            }
            self.block_for_new(tiers, slice.min(deadline - now)).await?;
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        // Buffered: sent with the next read, by the timer, or now when the buffer is full.
        // No await before the buffer holds it, so an ack is never half taken.
        let (full, start_timer) = {
            let mut acks = lock(&self.shared.acks);
            acks.ids[tier_index(delivery.tier)].push(delivery.entry_id.clone());
            acks.count = acks.count.saturating_add(1);
            if acks.oldest.is_none() {
                acks.oldest = Some(Instant::now());
            }
            (acks.count >= self.ack_limit(), !std::mem::replace(&mut acks.timer_running, true))
        };
        if start_timer {
            self.spawn_flush_timer();
        }
        if full {
            return self.flush_acks().await;
        }
        Ok(())
    }

    async fn nack(&self, delivery: &Delivery, error: &str) -> Result<NackOutcome, QueueError> {
        self.requeue_as(delivery, &delivery.job, error).await
    }

    async fn requeue_as(&self, delivery: &Delivery, job: &JobPayload, error: &str) -> Result<NackOutcome, QueueError> {
        if job.id != delivery.job.id && delivery.deliveries >= self.options().max_deliveries {
            // Out of attempts: the replacement is dead-lettered in the job's place.
            let reason = too_many_deliveries_reason(delivery.deliveries, Some(error));
            self.dead_letter_new(&JobPayload { attempt: delivery.deliveries, ..job.clone() }, &reason).await?;
            self.ack(delivery).await?;
            return Ok(NackOutcome::DeadLettered);
        }
        if delivery.deliveries >= self.options().max_deliveries {
            let reason = too_many_deliveries_reason(delivery.deliveries, Some(error));
            return Ok(if self.bury(delivery.tier, &delivery.entry_id, &reason, delivery.deliveries).await? {
                NackOutcome::DeadLettered
            } else {
                NackOutcome::NotInFlight
            });
        }
        let retried = JobPayload { attempt: delivery.deliveries, ..job.clone() };
        let requeued: i64 = self
            .shared
            .scripts
            .nack
            .key(&self.shared.job_keys[tier_index(delivery.tier)])
            .arg(GROUP)
            .arg(&delivery.entry_id)
            .arg(retried.encode()?)
            .arg(error)
            .invoke_async(&mut self.connection())
            .await?;
        Ok(if requeued == 1 { NackOutcome::Requeued } else { NackOutcome::NotInFlight })
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        self.bury(delivery.tier, &delivery.entry_id, reason, delivery.deliveries).await?;
        Ok(())
    }

    async fn dead_letter_new(&self, job: &JobPayload, reason: &str) -> Result<(), QueueError> {
        let payload = job.encode()?;
        let _: String = redis::cmd("XADD")
            .arg(&self.shared.dead_keys[tier_index(job.tier)])
            .arg("*")
            .arg("job")
            .arg(payload)
            .arg("reason")
            .arg(reason)
            .arg("deliveries")
            .arg(job.attempt)
            .arg("consumer")
            .arg(&self.shared.consumer)
            .query_async(&mut self.connection())
            .await?;
        Ok(())
    }

    async fn keep_alive(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        self.keep_alive_entry(delivery.tier, &delivery.entry_id).await
    }

    async fn list_dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let mut dead = Vec::new();
        let mut connection = self.connection();
        for tier in Tier::ALL {
            if dead.len() >= limit {
                break;
            }
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&self.shared.dead_keys[tier_index(tier)])
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(limit - dead.len())
                .query_async(&mut connection)
                .await?;
            dead.extend(reply.ids.into_iter().map(|entry| DeadJob {
                tier,
                payload: entry.get("job").unwrap_or_default(),
                reason: entry.get("reason").unwrap_or_default(),
                deliveries: entry.get("deliveries").unwrap_or_default(),
                consumer: entry.get("consumer").unwrap_or_default(),
                dead_id: entry.id,
            }));
        }
        Ok(dead)
    }

    async fn retry_dead(&self) -> Result<usize, QueueError> {
        let mut retried = 0;
        let mut connection = self.connection();
        for tier in Tier::ALL {
            loop {
                let batch: StreamRangeReply = redis::cmd("XRANGE")
                    .arg(&self.shared.dead_keys[tier_index(tier)])
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(100)
                    .query_async(&mut connection)
                    .await?;
                if batch.ids.is_empty() {
                    break;
                }
                for entry in &batch.ids {
                    let payload = retry_payload(&entry.get::<String>("job").unwrap_or_default());
                    let mut wait = Duration::ZERO;
                    loop {
                        let mut invocation = self.shared.scripts.retry_dead.prepare_invoke();
                        for key in &self.shared.job_keys {
                            invocation.key(key);
                        }
                        invocation
                            .key(&self.shared.dead_keys[tier_index(tier)])
                            .arg(self.options().max_backlog)
                            .arg(tier_index(tier) + 1)
                            .arg(&entry.id)
                            .arg(&payload);
                        let moved: i64 = invocation.invoke_async(&mut connection).await?;
                        match moved {
                            1 => retried += 1,
                            0 => {}
                            _ => {
                                wait = next_full_wait(wait);
                                tokio::time::sleep(wait).await;
                                continue;
                            }
                        }
                        break;
                    }
                }
            }
        }
        Ok(retried)
    }

    async fn status(&self) -> Result<QueueStatus, QueueError> {
        // This handle's acks first, so that what it acked is not counted in flight.
        self.flush_acks().await?;
        let mut pipeline = redis::pipe();
        for tier in Tier::ALL {
            let job_key = &self.shared.job_keys[tier_index(tier)];
            pipeline.cmd("XLEN").arg(job_key);
            pipeline.cmd("XPENDING").arg(job_key).arg(GROUP);
            pipeline.cmd("XLEN").arg(&self.shared.dead_keys[tier_index(tier)]);
        }
        let replies: Vec<Value> = match pipeline.query_async(&mut self.connection()).await {
            Ok(replies) => replies,
            Err(error) if is_missing_group(&error) => {
                self.create_groups().await?;
                pipeline.query_async(&mut self.connection()).await?
            }
            Err(error) => return Err(error.into()),
        };
        let number = |value: &Value| -> Result<u64, QueueError> {
            match value {
                Value::Int(number) => Ok(*number as u64),
                // XPENDING's summary: [count, smallest id, greatest id, consumers].
                Value::Array(items) => match items.first() {
                    Some(Value::Int(number)) => Ok(*number as u64),
                    _ => Err(QueueError::UnexpectedReply { command: "XPENDING", detail: format!("{value:?}") }),
                },
                other => Err(QueueError::UnexpectedReply { command: "XLEN/XPENDING", detail: format!("{other:?}") }),
            }
        };
        let mut tiers = Vec::with_capacity(4);
        for (tier, replies) in Tier::ALL.into_iter().zip(replies.chunks(3)) {
            let length = number(&replies[0])?;
            let in_flight = number(&replies[1])?;
            tiers.push(TierDepth {
                tier,
                queued: length.saturating_sub(in_flight),
                in_flight,
                dead: number(&replies[2])?,
            });
        }
        Ok(QueueStatus { tiers, max_backlog: self.options().max_backlog })
    }
}
