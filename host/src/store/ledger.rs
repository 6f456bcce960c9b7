//! The load ledger: each load (its plan, when it was created and finished, why it failed)
//! and each of its jobs' outcomes (queued, done with rows, retried, dead with the reason
//! and the payload), in tables `loads` and `load_jobs` next to the bars.
//!
//! Whichever process settles a job writes its outcome, and a job's "done" is written in
//! the same transaction as its bars ([`super::Store::write_job`]), so the ledger never
//! says done for bars that are not there, and never misses bars that are. Every reader
//! (`GET /loads`, `/metrics`, `tickstock loads`) derives a load's state from these rows,
//! so every process tells the same story.
//!
//! A load's state is derived, never stored: `failed` when it has an `error` (its jobs
//! could not be enqueued) or, once no job is queued, when some job is dead; `done` when
//! every job is done; `running` once any job settled or was retried; `queued` before.
//!
//! The SQL is one text for both backends (`$n` placeholders, which sqlx's SQLite driver
//! binds by number; BIGINT milliseconds for instants), and the code that runs it is
//! written once in [`ledger_backend`] and compiled for each backend's connection type.
//!
//! Depends on the core (`plan`); never on the queue or the workers (a job's payload is
//! opaque text here).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::plan::Tier;

/// Most loads one list returns.
pub const MAX_LOADS_LISTED: usize = 500;
/// Most dead jobs one read returns.
pub const MAX_DEAD_LISTED: usize = 10_000;
/// Longest reason stored for a retried or dead job; longer ones are cut.
const MAX_REASON_CHARS: usize = 2_000;
/// Rows per multi-row insert of job rows: 10 parameters each, below both backends' limits.
const JOBS_PER_INSERT: usize = 500;

/// Where a job stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Done,
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Option<JobState> {
        match text {
            "queued" => Some(JobState::Queued),
            "done" => Some(JobState::Done),
            "dead" => Some(JobState::Dead),
            _ => None,
        }
    }
}

/// A load's state, derived from its jobs (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadState {
    Queued,
    Running,
    Done,
    Failed,
}

impl LoadState {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Queued => "queued",
            LoadState::Running => "running",
            LoadState::Done => "done",
            LoadState::Failed => "failed",
        }
    }
}

/// A job as the ledger records it when it is planned or split off another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerJob {
    pub job_id: String,
    pub tier: Tier,
    pub state: JobState,
    /// The job it was split off, for the failing symbols of a job that committed the rest.
    pub parent: Option<String>,
    pub symbols: u64,
    pub expected_rows: u64,
    /// Why it is dead, when it is born dead (a split-off symbol that failed permanently).
    pub reason: Option<String>,
    /// Its payload, kept while it is dead.
    pub payload: Option<String>,
}

/// A load as recorded when its jobs are about to be enqueued.
#[derive(Debug, Clone)]
pub struct NewLoad {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// The plan summary, as JSON.
    pub plan: serde_json::Value,
    pub jobs: Vec<LedgerJob>,
}

/// How a job attempt ended, as the ledger records it.
#[derive(Debug, Clone, Copy)]
pub enum Settled<'a> {
    /// Committed: `rows` inserted or changed (added to what earlier deliveries wrote).
    Done { rows: u64 },
    /// Failed transiently and queued again.
    Retried { error: &'a str },
    /// Dead-lettered; `payload` is kept so a later process can retry it.
    Dead { reason: &'a str, payload: &'a str },
}

/// Which job a ledger write is about, and who writes it.
#[derive(Debug, Clone, Copy)]
pub struct JobRef<'a> {
    pub load_id: &'a str,
    pub job_id: &'a str,
    /// The consumer that settled it.
    pub worker: &'a str,
}

/// One job's outcome, and the jobs split off it (its failing symbols), written together.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    pub job: JobRef<'a>,
    pub outcome: Settled<'a>,
    pub split: &'a [LedgerJob],
}

/// Jobs of one tier of a load, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TierCounts {
    pub jobs: u64,
    pub queued: u64,
    pub done: u64,
    pub dead: u64,
    /// Transient failures that were retried, over all its jobs.
    pub retries: u64,
    pub rows_written: u64,
    pub expected_rows: u64,
}

impl TierCounts {
    fn add(&mut self, other: &TierCounts) {
        self.jobs += other.jobs;
        self.queued += other.queued;
        self.done += other.done;
        self.dead += other.dead;
        self.retries += other.retries;
        self.rows_written += other.rows_written;
        self.expected_rows += other.expected_rows;
    }
}

/// A dead job as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeadJobRecord {
    pub load_id: String,
    pub job_id: String,
    pub tier: Tier,
    pub reason: String,
    pub retries: u64,
    pub worker: Option<String>,
    pub died_at: DateTime<Utc>,
    /// The job's payload (JSON), to retry it; absent from API answers.
    #[serde(skip)]
    pub payload: Option<String>,
}

/// One load as `GET /loads/{id}` and `tickstock loads show` present it.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRecord {
    pub id: String,
    pub state: LoadState,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The plan summary recorded at submission.
    pub plan: serde_json::Value,
    /// Why the load failed, when it did.
    pub error: Option<String>,
    /// Every job in total (planned and split off), by state.
    pub total: TierCounts,
    pub tiers: BTreeMap<Tier, TierCounts>,
    /// Rows written per second since the load was created (until it finished).
    pub rows_per_second: f64,
    /// Seconds until the expected rows of the queued jobs are written at that rate.
    pub eta_seconds: Option<f64>,
    /// Dead jobs with their reasons (at most `MAX_DEAD_SHOWN`; `total.dead` counts all).
    pub dead_letters: Vec<DeadJobRecord>,
}

/// Most dead jobs shown with one load.
pub const MAX_DEAD_SHOWN: usize = 100;

/// Job counts over every load in the store, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerTotals {
    pub loads: u64,
    pub loads_unfinished: u64,
    pub jobs_queued: u64,
    pub jobs_done: u64,
    pub jobs_dead: u64,
    pub rows_written: u64,
}

/// A stored count as u64: the ledger only writes non-negative counts.
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count as the BIGINT it is stored as (saturating: no count reaches 2^63).
fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

fn instant(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A reason as stored: at most `MAX_REASON_CHARS` characters.
fn bounded(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}...", &reason[..cut]),
        None => reason.to_string(),
    }
}

/// The state of a load from its counts (see the module header).
pub fn derive_state(error: Option<&str>, total: &TierCounts) -> LoadState {
    if error.is_some() {
        return LoadState::Failed;
    }
    if total.queued == 0 {
        return if total.dead > 0 { LoadState::Failed } else { LoadState::Done };
    }
    if total.done + total.dead + total.retries > 0 { LoadState::Running } else { LoadState::Queued }
}

/// Builds a record from the loads row and its per-(tier, state) counts.
fn record_from(
    row: LoadRow,
    counts: Vec<JobCounts>,
    dead_letters: Vec<DeadJobRecord>,
    now: DateTime<Utc>,
) -> LoadRecord {
    let mut tiers: BTreeMap<Tier, TierCounts> = BTreeMap::new();
    // Expected rows of the jobs still queued: what the ETA is about.
    let mut remaining: u64 = 0;
    // When the last job settled: the load's end once none is queued.
    let mut last_settled_ms: Option<i64> = None;
    for (tier, state, jobs, rows, retries, expected, updated_ms) in counts {
        let (Ok(tier), Some(state)) = (tier.parse::<Tier>(), JobState::parse(&state)) else { continue };
        let entry = tiers.entry(tier).or_default();
        let jobs = count(jobs);
        if state != JobState::Queued {
            last_settled_ms = last_settled_ms.max(updated_ms);
        }
        entry.jobs += jobs;
        match state {
            JobState::Queued => {
                entry.queued += jobs;
                remaining += count(expected);
            }
            JobState::Done => entry.done += jobs,
            JobState::Dead => entry.dead += jobs,
        }
        entry.retries += count(retries);
        entry.rows_written += count(rows);
        entry.expected_rows += count(expected);
    }
    let mut total = TierCounts::default();
    for tier in tiers.values() {
        total.add(tier);
    }
    let created_at = instant(row.created_ms);
    let state = derive_state(row.error.as_deref(), &total);
    // Derived like the state: stamping it in the transaction of "the last job" would race
    // when two workers settle the last two jobs at once (each sees the other queued).
    let finished_at = match (row.finished_ms, state) {
        (Some(failed_ms), _) => Some(instant(failed_ms)),
        (None, LoadState::Done | LoadState::Failed) => Some(instant(last_settled_ms.unwrap_or(row.created_ms))),
        (None, LoadState::Queued | LoadState::Running) => None,
    };
    let until = match state {
        LoadState::Done | LoadState::Failed => finished_at.unwrap_or(now),
        LoadState::Queued | LoadState::Running => now,
    };
    let seconds = (until - created_at).num_milliseconds().max(1) as f64 / 1000.0;
    let rows_per_second = total.rows_written as f64 / seconds;
    let eta_seconds = match state {
        LoadState::Queued | LoadState::Running if rows_per_second > 0.0 => Some(remaining as f64 / rows_per_second),
        _ => None,
    };
    LoadRecord {
        id: row.id,
        state,
        created_at,
        finished_at,
        plan: serde_json::from_str(&row.plan).unwrap_or(serde_json::Value::Null),
        error: row.error,
        total,
        tiers,
        rows_per_second,
        eta_seconds,
        dead_letters,
    }
}

/// A load's jobs of one (tier, state): tier, state, jobs, rows written, retries, expected
/// rows, and when the last of them was updated.
type JobCounts = (String, String, i64, i64, i64, i64, Option<i64>);

/// A `loads` row as read.
struct LoadRow {
    id: String,
    created_ms: i64,
    finished_ms: Option<i64>,
    plan: String,
    error: Option<String>,
}

// SQL, one text for both backends.

const INSERT_LOAD: &str = "INSERT INTO loads (id, created_ms, plan) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
const INSERT_JOBS: &str = "INSERT INTO load_jobs \
     (load_id, job_id, tier, state, parent, symbols, expected_rows, reason, payload, updated_ms) ";
const INSERT_JOBS_CONFLICT: &str = " ON CONFLICT (load_id, job_id) DO NOTHING";
const LOAD_EXISTS: &str = "SELECT COUNT(*) FROM loads WHERE id = $1";
// A job already done keeps its rows: a re-delivered job run again (its ack lost in a
// crash) rewrites the same bars with a newer `written_at`, and those rows are not new.
const SETTLE_DONE: &str = "UPDATE load_jobs SET \
     rows_written = CASE WHEN state = 'done' THEN rows_written ELSE rows_written + $3 END, \
     state = 'done', worker = $4, payload = NULL, updated_ms = $5 WHERE load_id = $1 AND job_id = $2";
const SETTLE_RETRIED: &str = "UPDATE load_jobs SET retries = retries + 1, reason = $3, worker = $4, updated_ms = $5 \
     WHERE load_id = $1 AND job_id = $2 AND state = 'queued'";
const SETTLE_DEAD: &str = "UPDATE load_jobs SET state = 'dead', reason = $3, worker = $4, payload = $5, \
     updated_ms = $6 WHERE load_id = $1 AND job_id = $2 AND state <> 'done'";
const FAIL_LOAD: &str = "UPDATE loads SET error = $2, finished_ms = $3 WHERE id = $1";
const SELECT_LOAD: &str = "SELECT id, created_ms, finished_ms, plan, error FROM loads WHERE id = $1";
const LIST_LOADS: &str = "SELECT id, created_ms, finished_ms, plan, error FROM loads ORDER BY id DESC LIMIT $1";
const LIST_LOADS_BEFORE: &str =
    "SELECT id, created_ms, finished_ms, plan, error FROM loads WHERE id < $1 ORDER BY id DESC LIMIT $2";
const COUNT_JOBS: &str = "SELECT tier, state, COUNT(*), CAST(COALESCE(SUM(rows_written), 0) AS BIGINT), \
     CAST(COALESCE(SUM(retries), 0) AS BIGINT), CAST(COALESCE(SUM(expected_rows), 0) AS BIGINT), \
     MAX(updated_ms) FROM load_jobs WHERE load_id = $1 GROUP BY tier, state";
const DEAD_OF_LOAD: &str = "SELECT load_id, job_id, tier, reason, retries, worker, updated_ms, payload \
     FROM load_jobs WHERE load_id = $1 AND state = 'dead' ORDER BY updated_ms, job_id LIMIT $2";
const ALL_DEAD: &str = "SELECT load_id, job_id, tier, reason, retries, worker, updated_ms, payload \
     FROM load_jobs WHERE state = 'dead' ORDER BY updated_ms, job_id LIMIT $1";
const TOTALS_BY_STATE: &str =
    "SELECT state, COUNT(*), CAST(COALESCE(SUM(rows_written), 0) AS BIGINT) FROM load_jobs GROUP BY state";
const COUNT_LOADS: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN error IS NULL AND EXISTS \
     (SELECT 1 FROM load_jobs WHERE load_id = loads.id AND state = 'queued') THEN 1 ELSE 0 END), 0) AS BIGINT) FROM loads";

/// The ledger's operations for one backend, written once and compiled for each: the SQL is
/// shared, and only the connection type differs. (Generic functions over `sqlx::Database`
/// would need a dozen higher-ranked bounds on every one.)
macro_rules! ledger_backend {
    ($module:ident, $database:ty) => {
        pub(super) mod $module {
            use chrono::{DateTime, Utc};
            use sqlx::{QueryBuilder, Row};

            use super::*;
            use crate::store::StoreError;

            type Connection = <$database as sqlx::Database>::Connection;

            fn database(operation: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
                move |source| StoreError::Database { operation, source }
            }

            /// Inserts job rows (those already there are left alone).
            async fn insert_jobs(
                connection: &mut Connection,
                load_id: &str,
                jobs: &[LedgerJob],
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                for chunk in jobs.chunks(JOBS_PER_INSERT) {
                    let mut builder = QueryBuilder::<$database>::new(INSERT_JOBS);
                    builder.push_values(chunk, |mut row, job| {
                        row.push_bind(load_id.to_string())
                            .push_bind(job.job_id.clone())
                            .push_bind(job.tier.as_str())
                            .push_bind(job.state.as_str())
                            .push_bind(job.parent.clone())
                            .push_bind(bigint(job.symbols))
                            .push_bind(bigint(job.expected_rows))
                            .push_bind(job.reason.as_deref().map(bounded))
                            .push_bind(job.payload.clone())
                            .push_bind(millis(now));
                    });
                    builder.push(INSERT_JOBS_CONFLICT);
                    builder
                        .build()
                        .execute(&mut *connection)
                        .await
                        .map_err(database("recording jobs in the ledger"))?;
                }
                Ok(())
            }

            pub(in crate::store) async fn record_load(
                connection: &mut Connection,
                load: &NewLoad,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT_LOAD)
                    .bind(load.id.as_str())
                    .bind(millis(load.created_at))
                    .bind(load.plan.to_string())
                    .execute(&mut *connection)
                    .await
                    .map_err(database("recording a load in the ledger"))?;
                insert_jobs(connection, &load.id, &load.jobs, load.created_at).await
            }

            pub(in crate::store) async fn settle(
                connection: &mut Connection,
                settlement: &Settlement<'_>,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let JobRef { load_id, job_id, worker } = settlement.job;
                let query = match settlement.outcome {
                    Settled::Done { rows } => sqlx::query(SETTLE_DONE)
                        .bind(load_id)
                        .bind(job_id)
                        .bind(bigint(rows))
                        .bind(worker)
                        .bind(millis(now)),
                    Settled::Retried { error } => sqlx::query(SETTLE_RETRIED)
                        .bind(load_id)
                        .bind(job_id)
                        .bind(bounded(error))
                        .bind(worker)
                        .bind(millis(now)),
                    Settled::Dead { reason, payload } => sqlx::query(SETTLE_DEAD)
                        .bind(load_id)
                        .bind(job_id)
                        .bind(bounded(reason))
                        .bind(worker)
                        .bind(payload)
                        .bind(millis(now)),
                };
                query.execute(&mut *connection).await.map_err(database("recording a job's outcome"))?;
                if !settlement.split.is_empty() {
                    // Only for a load the ledger knows: a stray job must not create rows
                    // no load owns.
                    let known: i64 = sqlx::query_scalar(LOAD_EXISTS)
                        .bind(load_id)
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(database("reading the ledger"))?;
                    if known > 0 {
                        insert_jobs(connection, load_id, settlement.split, now).await?;
                    }
                }
                Ok(())
            }

            pub(in crate::store) async fn fail_load(
                connection: &mut Connection,
                load_id: &str,
                error: &str,
                now: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(FAIL_LOAD)
                    .bind(load_id)
                    .bind(bounded(error))
                    .bind(millis(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(database("recording a failed load"))?;
                Ok(())
            }

            fn load_row(row: &<$database as sqlx::Database>::Row) -> Result<LoadRow, sqlx::Error> {
                Ok(LoadRow {
                    id: row.try_get(0)?,
                    created_ms: row.try_get(1)?,
                    finished_ms: row.try_get(2)?,
                    plan: row.try_get(3)?,
                    error: row.try_get(4)?,
                })
            }

            fn dead_row(row: &<$database as sqlx::Database>::Row) -> Result<Option<DeadJobRecord>, sqlx::Error> {
                let tier: String = row.try_get(2)?;
                let Ok(tier) = tier.parse::<Tier>() else { return Ok(None) };
                Ok(Some(DeadJobRecord {
                    load_id: row.try_get(0)?,
                    job_id: row.try_get(1)?,
                    tier,
                    reason: row.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    retries: count(row.try_get(4)?),
                    worker: row.try_get(5)?,
                    died_at: instant(row.try_get(6)?),
                    payload: row.try_get(7)?,
                }))
            }

            async fn counts(connection: &mut Connection, load_id: &str) -> Result<Vec<JobCounts>, StoreError> {
                sqlx::query_as(COUNT_JOBS)
                    .bind(load_id)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(database("counting a load's jobs"))
            }

            pub(in crate::store) async fn load(
                connection: &mut Connection,
                load_id: &str,
                now: DateTime<Utc>,
            ) -> Result<Option<LoadRecord>, StoreError> {
                let row = sqlx::query(SELECT_LOAD)
                    .bind(load_id)
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(database("reading a load"))?;
                let Some(row) = row else { return Ok(None) };
                let row = load_row(&row).map_err(database("reading a load"))?;
                let counts = counts(connection, load_id).await?;
                let dead = sqlx::query(DEAD_OF_LOAD)
                    .bind(load_id)
                    .bind(MAX_DEAD_SHOWN as i64)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(database("reading a load's dead jobs"))?;
                let dead = dead
                    .iter()
                    .map(dead_row)
                    .filter_map(Result::transpose)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(database("reading a load's dead jobs"))?;
                Ok(Some(record_from(row, counts, dead, now)))
            }

            pub(in crate::store) async fn list(
                connection: &mut Connection,
                limit: usize,
                before: Option<&str>,
                now: DateTime<Utc>,
            ) -> Result<Vec<LoadRecord>, StoreError> {
                let limit = limit.clamp(1, MAX_LOADS_LISTED) as i64;
                let rows = match before {
                    Some(before) => sqlx::query(LIST_LOADS_BEFORE).bind(before).bind(limit),
                    None => sqlx::query(LIST_LOADS).bind(limit),
                }
                .fetch_all(&mut *connection)
                .await
                .map_err(database("listing loads"))?;
                let mut loads = Vec::with_capacity(rows.len());
                for row in &rows {
                    let row = load_row(row).map_err(database("listing loads"))?;
                    let counts = counts(connection, &row.id).await?;
                    loads.push(record_from(row, counts, Vec::new(), now));
                }
                Ok(loads)
            }

            pub(in crate::store) async fn dead_jobs(
                connection: &mut Connection,
                limit: usize,
            ) -> Result<Vec<DeadJobRecord>, StoreError> {
                let rows = sqlx::query(ALL_DEAD)
                    .bind(limit.clamp(1, MAX_DEAD_LISTED) as i64)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(database("reading dead jobs"))?;
                rows.iter()
                    .map(dead_row)
                    .filter_map(Result::transpose)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(database("reading dead jobs"))
            }

            pub(in crate::store) async fn totals(connection: &mut Connection) -> Result<LedgerTotals, StoreError> {
                let mut totals = LedgerTotals::default();
                let by_state: Vec<(String, i64, i64)> = sqlx::query_as(TOTALS_BY_STATE)
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(database("counting jobs"))?;
                for (state, jobs, rows) in by_state {
                    match JobState::parse(&state) {
                        Some(JobState::Queued) => totals.jobs_queued += count(jobs),
                        Some(JobState::Done) => totals.jobs_done += count(jobs),
                        Some(JobState::Dead) => totals.jobs_dead += count(jobs),
                        None => {}
                    }
                    totals.rows_written += count(rows);
                }
                let (loads, unfinished): (i64, i64) = sqlx::query_as(COUNT_LOADS)
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(database("counting loads"))?;
                totals.loads = count(loads);
                totals.loads_unfinished = count(unfinished);
                Ok(totals)
            }
        }
    };
}

ledger_backend!(sqlite, sqlx::Sqlite);
ledger_backend!(postgres, sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_is_done_failed_running_or_queued_by_its_jobs() {
        let counts = |queued, done, dead, retries| TierCounts {
            jobs: queued + done + dead,
            queued,
            done,
            dead,
            retries,
            ..TierCounts::default()
        };
        assert_eq!(derive_state(None, &counts(0, 3, 0, 0)), LoadState::Done);
        assert_eq!(derive_state(None, &counts(0, 2, 1, 0)), LoadState::Failed);
        assert_eq!(derive_state(None, &counts(1, 2, 1, 0)), LoadState::Running);
        assert_eq!(derive_state(None, &counts(3, 0, 0, 1)), LoadState::Running);
        assert_eq!(derive_state(None, &counts(3, 0, 0, 0)), LoadState::Queued);
        assert_eq!(derive_state(Some("enqueue failed"), &counts(3, 0, 0, 0)), LoadState::Failed);
        // A load with no jobs (nothing to do) is done at once.
        assert_eq!(derive_state(None, &counts(0, 0, 0, 0)), LoadState::Done);
    }

    #[test]
    fn stored_reasons_are_bounded() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_REASON_CHARS + 10);
        assert_eq!(bounded(&long).chars().count(), MAX_REASON_CHARS + 3);
    }
}
