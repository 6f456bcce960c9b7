//! The in-process queue (the default): per-tier `VecDeque`s under one mutex, with the
//! same in-flight, reclaim, dead-letter and backpressure semantics as the Redis backend,
//! so a dispatcher tested on it behaves the same on Redis. Payloads are stored encoded,
//! as in Redis, so format checks and `enqueue_raw` mean the same here.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    DeadAtDequeue, DeadAtDequeueLog, DeadJob, Delivery, JobPayload, JobQueue, NackOutcome, QueueError, QueueOptions,
    QueueStatus, TierDepth, next_full_wait, tier_index, too_many_deliveries_reason, unique_consumer_name,
};
use crate::plan::Tier;

/// A handle on an in-process queue. Clones are the same consumer; `another_consumer`
/// gives a handle with its own consumer name on the same jobs.
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    shared: Arc<Shared>,
    consumer: Arc<str>,
    /// Jobs this consumer dead-lettered at dequeue, not yet reported.
    dead_at_dequeue: Arc<DeadAtDequeueLog>,
}

#[derive(Debug)]
struct Shared {
    options: QueueOptions,
    // A std mutex, not a tokio one: no await happens while it is held, and every critical
    // section is a few pointer moves.
    state: Mutex<State>,
    /// Woken when a job is queued (new, nacked or retried).
    job_queued: Notify,
    /// Woken when the backlog shrinks (ack, dead letter, purge).
    room_freed: Notify,
}

#[derive(Debug, Default)]
struct State {
    queued: [VecDeque<Entry>; 4],
    in_flight: HashMap<String, InFlight>,
    dead: [VecDeque<DeadJob>; 4],
    next_entry: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    entry_id: String,
    payload: Arc<str>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct InFlight {
    tier: Tier,
    entry: Entry,
    consumer: Arc<str>,
    /// Deliveries of this entry (Redis's delivery counter); the job's `attempt` adds the
    /// deliveries of earlier entries of the same job.
    times_delivered: u32,
    idle_since: Instant,
}

impl State {
    fn backlog(&self) -> u64 {
        (self.queued.iter().map(VecDeque::len).sum::<usize>() + self.in_flight.len()) as u64
    }

    fn push(&mut self, tier: Tier, payload: Arc<str>, last_error: Option<String>) {
        self.next_entry += 1;
        let entry_id = format!("{}-0", self.next_entry);
        self.queued[tier_index(tier)].push_back(Entry { entry_id, payload, last_error });
    }
}

/// What a dequeue step found under the lock, decoded outside it.
enum Taken {
    Nothing,
    Entry { entry: Entry, times_delivered: u32 },
}

impl MemoryQueue {
    pub fn new(options: QueueOptions) -> MemoryQueue {
        let consumer: Arc<str> = options.consumer_name.clone().unwrap_or_else(unique_consumer_name).into();
        MemoryQueue {
            shared: Arc::new(Shared {
                options,
                state: Mutex::new(State::default()),
                job_queued: Notify::new(),
                room_freed: Notify::new(),
            }),
            consumer,
            dead_at_dequeue: Arc::default(),
        }
    }

    /// A handle on the same jobs with its own consumer name.
    pub fn another_consumer(&self) -> MemoryQueue {
        MemoryQueue {
            shared: self.shared.clone(),
            consumer: unique_consumer_name().into(),
            dead_at_dequeue: Arc::default(),
        }
    }

    pub fn consumer_name(&self) -> &str {
        &self.consumer
    }

    /// See `Queue::take_dead_at_dequeue`.
    pub fn take_dead_at_dequeue(&self) -> DeadAtDequeue {
        self.dead_at_dequeue.take()
    }

    pub fn max_backlog(&self) -> u64 {
        self.options().max_backlog
    }

    /// Dead-letters an entry this consumer just took (unreadable, or delivered too often)
    /// and notes it for `take_dead_at_dequeue`.
    fn bury_at_dequeue(&self, tier: Tier, entry_id: &str, reason: String, deliveries: u32) {
        let noted = reason.clone();
        if self.bury(tier, entry_id, reason, deliveries) {
            self.dead_at_dequeue.record(&noted);
        }
    }

    /// True when this consumer holds no job in flight (the in-process queue keeps no
    /// consumer list, so there is nothing else to remove).
    pub fn retire(&self) -> bool {
        !self.lock().in_flight.values().any(|in_flight| in_flight.consumer == self.consumer)
    }

    /// Deletes every job: queued, in flight and dead.
    pub fn purge(&self) {
        *self.lock() = State::default();
        self.shared.room_freed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain collections behind, never a broken
        // invariant worth refusing service over, so poisoning is ignored.
        self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn options(&self) -> &QueueOptions {
        &self.shared.options
    }

    /// Queues as many of `payloads` (from `start`) as fit; returns how many did.
    fn push_what_fits(&self, payloads: &[(Tier, Arc<str>)]) -> Result<usize, QueueError> {
        let max_backlog = self.options().max_backlog;
        if max_backlog == 0 {
            return Err(QueueError::ZeroBacklogLimit);
        }
        let pushed = {
            let mut state = self.lock();
            let room = max_backlog.saturating_sub(state.backlog()) as usize;
            let pushed = room.min(payloads.len());
            for (tier, payload) in &payloads[..pushed] {
                state.push(*tier, payload.clone(), None);
            }
            pushed
        };
        if pushed > 0 {
            self.shared.job_queued.notify_waiters();
        }
        Ok(pushed)
    }

    /// Queues every payload, waiting for room whenever the backlog is at the limit.
    async fn push_all_waiting(&self, payloads: &[(Tier, Arc<str>)]) -> Result<(), QueueError> {
        let mut done = 0;
        while done < payloads.len() {
            // Registered before looking, so an ack between the look and the wait still
            // wakes this producer.
            let room_freed = self.shared.room_freed.notified();
            tokio::pin!(room_freed);
            room_freed.as_mut().enable();
            done += self.push_what_fits(&payloads[done..])?;
            if done < payloads.len() {
                room_freed.await;
            }
        }
        Ok(())
    }

    /// Takes the next entry of `tier`: first one whose consumer has been silent for
    /// `claim_idle` (presumed dead), else the oldest queued one.
    fn take(&self, tier: Tier) -> Taken {
        let claim_idle = self.options().claim_idle;
        let now = Instant::now();
        let mut state = self.lock();
        let abandoned = state
            .in_flight
            .iter()
            .filter(|(_, in_flight)| in_flight.tier == tier && now.duration_since(in_flight.idle_since) >= claim_idle)
            .min_by_key(|(_, in_flight)| in_flight.idle_since)
            .map(|(entry_id, _)| entry_id.clone());
        if let Some(entry_id) = abandoned {
            let in_flight = state.in_flight.get_mut(&entry_id).expect("found above");
            in_flight.times_delivered += 1;
            in_flight.idle_since = now;
            in_flight.consumer = self.consumer.clone();
            return Taken::Entry { entry: in_flight.entry.clone(), times_delivered: in_flight.times_delivered };
        }
        let Some(entry) = state.queued[tier_index(tier)].pop_front() else {
            return Taken::Nothing;
        };
        state.in_flight.insert(
            entry.entry_id.clone(),
            InFlight {
                tier,
                entry: entry.clone(),
                consumer: self.consumer.clone(),
                times_delivered: 1,
                idle_since: now,
            },
        );
        Taken::Entry { entry, times_delivered: 1 }
    }

    /// Moves an in-flight entry to the dead letters; false when it was not in flight.
    fn bury(&self, tier: Tier, entry_id: &str, reason: String, deliveries: u32) -> bool {
        let buried = {
            let mut state = self.lock();
            match state.in_flight.remove(entry_id) {
                None => false,
                Some(in_flight) => {
                    state.next_entry += 1;
                    let dead_id = format!("{}-0", state.next_entry);
                    state.dead[tier_index(tier)].push_back(DeadJob {
                        dead_id,
                        tier,
                        payload: in_flight.entry.payload.to_string(),
                        reason,
                        deliveries,
                        consumer: self.consumer.to_string(),
                    });
                    true
                }
            }
        };
        if buried {
            self.shared.room_freed.notify_waiters();
        }
        buried
    }
}

impl JobQueue for MemoryQueue {
    async fn enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        self.push_all_waiting(&[(job.tier, job.encode()?.into())]).await
    }

    async fn try_enqueue(&self, job: &JobPayload) -> Result<(), QueueError> {
        let payload: Arc<str> = job.encode()?.into();
        if self.push_what_fits(&[(job.tier, payload)])? == 1 {
            Ok(())
        } else {
            Err(QueueError::Full { backlog: self.lock().backlog(), max_backlog: self.options().max_backlog })
        }
    }

    async fn enqueue_many(&self, jobs: &[JobPayload]) -> Result<(), QueueError> {
        let payloads =
            jobs.iter().map(|job| Ok((job.tier, job.encode()?.into()))).collect::<Result<Vec<_>, QueueError>>()?;
        self.push_all_waiting(&payloads).await
    }

    async fn enqueue_raw(&self, tier: Tier, payload: &str) -> Result<(), QueueError> {
        self.push_all_waiting(&[(tier, payload.into())]).await
    }

    async fn try_dequeue(&self, tier: Tier) -> Result<Option<Delivery>, QueueError> {
        loop {
            let (entry, times_delivered) = match self.take(tier) {
                Taken::Nothing => return Ok(None),
                Taken::Entry { entry, times_delivered } => (entry, times_delivered),
            };
            let job = match JobPayload::decode(&entry.payload) {
                Ok(job) => job,
                Err(error) => {
                    self.bury_at_dequeue(tier, &entry.entry_id, error.to_string(), times_delivered);
                    continue;
                }
            };
            let deliveries = job.attempt.saturating_add(times_delivered);
            if deliveries > self.options().max_deliveries {
                // Taken over from a consumer that went silent once too often.
                let reason = too_many_deliveries_reason(deliveries.saturating_sub(1), entry.last_error.as_deref());
                self.bury_at_dequeue(tier, &entry.entry_id, reason, deliveries.saturating_sub(1));
                continue;
            }
            return Ok(Some(Delivery {
                job,
                tier,
                deliveries,
                last_error: entry.last_error,
                entry_id: entry.entry_id,
            }));
        }
    }

    async fn dequeue(&self, tiers: &[Tier], timeout: Duration) -> Result<Option<Delivery>, QueueError> {
        let deadline = Instant::now() + timeout;
        // Abandoned jobs become claimable without any notification, so the wait is cut
        // into slices short enough to notice them soon after `claim_idle`.
        let slice = (self.options().claim_idle / 4).max(Duration::from_millis(10));
        loop {
            let job_queued = self.shared.job_queued.notified();
            tokio::pin!(job_queued);
            job_queued.as_mut().enable();
            for &tier in tiers {
                if let Some(delivery) = self.try_dequeue(tier).await? {
                    return Ok(Some(delivery));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ = tokio::time::timeout_at((now + slice).min(deadline), job_queued).await;
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let removed = self.lock().in_flight.remove(&delivery.entry_id).is_some();
        if removed {
            self.shared.room_freed.notify_waiters();
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
            return Ok(if self.bury(delivery.tier, &delivery.entry_id, reason, delivery.deliveries) {
                NackOutcome::DeadLettered
            } else {
                NackOutcome::NotInFlight
            });
        }
        let retried = JobPayload { attempt: delivery.deliveries, ..job.clone() };
        let payload: Arc<str> = retried.encode()?.into();
        {
            let mut state = self.lock();
            if state.in_flight.remove(&delivery.entry_id).is_none() {
                return Ok(NackOutcome::NotInFlight);
            }
            state.push(delivery.tier, payload, Some(error.to_string()));
        }
        self.shared.job_queued.notify_waiters();
        Ok(NackOutcome::Requeued)
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), QueueError> {
        self.bury(delivery.tier, &delivery.entry_id, reason.to_string(), delivery.deliveries);
        Ok(())
    }

    async fn dead_letter_new(&self, job: &JobPayload, reason: &str) -> Result<(), QueueError> {
        let payload = job.encode()?;
        let mut state = self.lock();
        state.next_entry += 1;
        let dead_id = format!("{}-0", state.next_entry);
        state.dead[tier_index(job.tier)].push_back(DeadJob {
            dead_id,
            tier: job.tier,
            payload,
            reason: reason.to_string(),
            deliveries: job.attempt,
            consumer: self.consumer.to_string(),
        });
        Ok(())
    }

    async fn keep_alive(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        let mut state = self.lock();
        match state.in_flight.get_mut(&delivery.entry_id) {
            Some(in_flight) if in_flight.consumer == self.consumer => {
                in_flight.idle_since = Instant::now();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list_dead(&self, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let state = self.lock();
        Ok(state.dead.iter().flatten().take(limit).cloned().collect())
    }

    async fn retry_dead(&self) -> Result<usize, QueueError> {
        let max_backlog = self.options().max_backlog;
        if max_backlog == 0 {
            return Err(QueueError::ZeroBacklogLimit);
        }
        let mut retried = 0;
        let mut wait = Duration::ZERO;
        loop {
            let room_freed = self.shared.room_freed.notified();
            tokio::pin!(room_freed);
            room_freed.as_mut().enable();
            let outcome = {
                let mut state = self.lock();
                let Some(tier) = Tier::ALL.into_iter().find(|&tier| !state.dead[tier_index(tier)].is_empty()) else {
                    return Ok(retried);
                };
                if state.backlog() >= max_backlog {
                    false
                } else {
                    let dead = state.dead[tier_index(tier)].pop_front().expect("not empty");
                    state.push(tier, retry_payload(&dead.payload).into(), None);
                    true
                }
            };
            if outcome {
                retried += 1;
                self.shared.job_queued.notify_waiters();
            } else {
                wait = next_full_wait(wait);
                let _ = tokio::time::timeout(wait, room_freed).await;
            }
        }
    }

    async fn status(&self) -> Result<QueueStatus, QueueError> {
        let state = self.lock();
        let mut tiers: Vec<TierDepth> = Tier::ALL
            .into_iter()
            .map(|tier| TierDepth {
                tier,
                queued: state.queued[tier_index(tier)].len() as u64,
                in_flight: 0,
                dead: state.dead[tier_index(tier)].len() as u64,
            })
            .collect();
        for in_flight in state.in_flight.values() {
            tiers[tier_index(in_flight.tier)].in_flight += 1;
        }
        Ok(QueueStatus { tiers, max_backlog: self.options().max_backlog })
    }
}

/// The payload a dead letter is retried with: attempt reset to 0 (a fresh delivery
/// budget) when this build can read it, else the stored text unchanged (a newer worker
/// may read it).
pub(crate) fn retry_payload(stored: &str) -> String {
    match JobPayload::decode(stored) {
        Ok(job) => JobPayload { attempt: 0, ..job }.encode().unwrap_or_else(|_| stored.to_string()),
        Err(_) => stored.to_string(),
    }
}
