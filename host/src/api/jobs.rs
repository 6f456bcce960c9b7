//! Dead letters as `tickstock jobs dead` prints them and `GET /jobs/dead` serves them, from
//! a Redis queue's dead-letter streams or from the store's ledger (the in-process queue's).

use serde::{Deserialize, Serialize};

use crate::plan::Tier;
use crate::queue::{DeadJob, JobPayload};
use crate::store::DeadJobRecord;

/// Most dead letters one answer lists.
pub const MAX_DEAD_LETTERS: usize = crate::store::MAX_DEAD_LISTED;

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The queue's id of the dead letter, or the job's id in the ledger.
    pub id: String,
    pub tier: Tier,
    pub reason: String,
    pub deliveries: u32,
    /// The consumer that gave up on it.
    pub consumer: String,
    /// The job as queued (JSON); what `retry-dead` queues again.
    pub payload: String,
}

impl DeadLetter {
    pub fn from_queue(job: DeadJob) -> DeadLetter {
        DeadLetter {
            id: job.dead_id,
            tier: job.tier,
            reason: job.reason,
            deliveries: job.deliveries,
            consumer: job.consumer,
            payload: job.payload,
        }
    }

    pub fn from_ledger(job: DeadJobRecord) -> DeadLetter {
        let payload = job.payload.unwrap_or_default();
        let deliveries = JobPayload::decode(&payload).map(|job| job.attempt).unwrap_or(0);
        DeadLetter {
            id: job.job_id,
            tier: job.tier,
            reason: job.reason,
            deliveries,
            consumer: job.worker.unwrap_or_default(),
            payload,
        }
    }

    /// The job's gaps in one line, or why the payload cannot be read.
    pub fn gaps_text(&self) -> String {
        match JobPayload::decode(&self.payload) {
            Ok(job) => job
                .gaps
                .iter()
                .map(|gap| format!("{} {}..{}", gap.symbol, gap.start, gap.end))
                .collect::<Vec<_>>()
                .join("; "),
            Err(error) => error.to_string(),
        }
    }
}
