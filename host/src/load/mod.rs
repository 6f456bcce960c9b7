//! The load engine: from a request (listings x date range x timeframe, at a tier, under a
//! policy) to bars in the store.
//!
//! `plan_load` is the dry run and the first half of every load: expected sessions from the
//! calendar engine, gaps from the store (what is missing or stale), jobs from the batch
//! policy (checked by the host). `run` enqueues the jobs and works them off with the
//! workers (`crate::worker`), showing progress; the store is the ledger, so running the
//! same request again only does what is still missing.
//!
//! Depends on the core, `plugin`, `store`, `queue`, `provider`, `worker` and `shutdown`;
//! never on `cli` or `server`.

pub mod log;
mod progress;
mod report;
mod retry;
mod run;
mod submit;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::calendar::{CalendarError, Session};
use crate::plan::{Gap, Listing, LoadStats, PlanLimits, PlanRequest, Tier, Timeframe};
use crate::plugin::{CallError, PluginKind, Registry};
use crate::queue::{JobPayload, QueueError};
use crate::store::{GapRequest, JobState, LedgerJob, NewLoad, Store, StoreError};

pub use progress::ProgressStyle;
pub use report::LoadReport;
pub use retry::{RetryReport, retry_dead_in_process};
pub use run::{RunOptions, run, run_plan};

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub listings: Vec<Listing>,
    /// First and last exchange-local date, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timeframe: Timeframe,
    pub tier: Tier,
    /// Name of a loaded batch-policy plugin.
    pub policy: String,
    pub limits: PlanLimits,
    pub stats: Option<LoadStats>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("unknown exchange {mic:?} for {symbol}; known exchanges: {known}")]
    UnknownExchange { mic: String, symbol: String, known: String },
    #[error("unknown batch policy {name:?}; loaded policies: {known}")]
    UnknownPolicy { name: String, known: String },
    #[error("the date range is empty: --from {from} is after --to {to}")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    #[error("no symbols to load")]
    NoSymbols,
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The call error is in the message and not chained as a source, so a chain printed
    /// with `{:#}` says the cause once.
    #[error("the batch policy failed, nothing was enqueued: {0}")]
    Policy(CallError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("{0}")]
    Worker(String),
}

/// The jobs of one load, and what they amount to.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub load_id: String,
    pub jobs: Vec<JobPayload>,
    /// Bars each job will write, in `jobs` order.
    pub job_rows: Vec<u64>,
    pub summary: PlanSummary,
}

impl LoadPlan {
    /// The load and its jobs as the ledger records them before they are enqueued.
    pub fn ledger_entry(&self) -> NewLoad {
        let jobs = self
            .jobs
            .iter()
            .zip(&self.job_rows)
            .map(|(job, &rows)| LedgerJob {
                job_id: job.id.clone(),
                tier: job.tier,
                state: JobState::Queued,
                parent: None,
                symbols: job.symbol_count() as u64,
                expected_rows: rows,
                reason: None,
                payload: None,
            })
            .collect();
        NewLoad {
            id: self.load_id.clone(),
            created_at: chrono::Utc::now(),
            plan: serde_json::to_value(&self.summary).unwrap_or(serde_json::Value::Null),
            jobs,
        }
    }
}

/// What `tickstock plan` prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PlanSummary {
    pub policy: String,
    pub policy_version: String,
    pub policy_generation: u64,
    pub timeframe: String,
    pub from: String,
    pub to: String,
    pub symbols: usize,
    pub exchanges: Vec<String>,
    /// Sessions the calendar expects, summed over symbols.
    pub sessions_expected: u64,
    /// Of those, sessions without a final bar: the work.
    pub sessions_missing: u64,
    pub gaps: usize,
    pub jobs: usize,
    /// Bars the jobs will write (minute bars counted per session's open minutes).
    pub expected_rows: u64,
    /// Provider requests the jobs will make: one per gap.
    pub provider_calls: u64,
    pub tiers: Vec<TierPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierPlan {
    pub tier: Tier,
    pub jobs: usize,
    pub symbols: usize,
    pub sessions: u64,
    pub expected_rows: u64,
}

/// Bars a gap stands for: one per session for daily bars, the open minutes for minute bars.
pub fn expected_rows(timeframe: Timeframe, sessions: &[Session]) -> u64 {
    match timeframe {
        Timeframe::Daily => sessions.len() as u64,
        Timeframe::Minute => {
            sessions.iter().map(|session| crate::gaps::minute_bar_starts(session).count() as u64).sum()
        }
    }
}

/// The sessions of `all` (sorted by date) that fall in `[start, end]`.
pub fn sessions_in(all: &[Session], start: NaiveDate, end: NaiveDate) -> &[Session] {
    let first = all.partition_point(|session| session.date < start);
    let last = all.partition_point(|session| session.date <= end);
    &all[first..last.max(first)]
}

/// What can be refused without a store: an empty range or symbol list, an unknown policy
/// or exchange, dates outside an exchange calendar's years. Run before the store is
/// opened, so a request that cannot run creates and changes nothing.
pub fn check_request(registry: &Registry, request: &LoadRequest) -> Result<(), LoadError> {
    if request.from > request.to {
        return Err(LoadError::EmptyRange { from: request.from, to: request.to });
    }
    if request.listings.is_empty() {
        return Err(LoadError::NoSymbols);
    }
    if registry.get(PluginKind::BatchPolicy, &request.policy).is_none() {
        return Err(LoadError::UnknownPolicy {
            name: request.policy.clone(),
            known: registry.names(PluginKind::BatchPolicy).join(", "),
        });
    }
    let mut checked: Vec<&str> = Vec::new();
    for listing in &request.listings {
        // Requests name few exchanges; a short list beats a set here.
        if checked.contains(&listing.exchange.as_str()) {
            continue;
        }
        let calendar = registry.calendar(&listing.exchange).ok_or_else(|| LoadError::UnknownExchange {
            mic: listing.exchange.clone(),
            symbol: listing.symbol.clone(),
            known: registry.names(PluginKind::Calendar).join(", "),
        })?;
        let spec = calendar.spec();
        for year in [request.from.year(), request.to.year()] {
            if !(spec.first_year..=spec.last_year).contains(&year) {
                return Err(LoadError::Calendar(CalendarError::YearOutOfRange {
                    mic: listing.exchange.clone(),
                    year,
                    first: spec.first_year,
                    last: spec.last_year,
                }));
            }
        }
        checked.push(&listing.exchange);
    }
    Ok(())
}

/// Symbols by exchange (exchanges sorted), each exchange's symbols in first-seen order
/// with duplicates dropped. Linear: a request may name a million listings, and a
/// `Vec::contains` per listing made planning quadratic (100k symbols took 30 s).
fn symbols_by_exchange(listings: &[Listing]) -> BTreeMap<String, Vec<String>> {
    let mut seen: HashSet<(&str, &str)> = HashSet::with_capacity(listings.len());
    let mut by_exchange: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for listing in listings {
        if seen.insert((&listing.exchange, &listing.symbol)) {
            by_exchange.entry(listing.exchange.clone()).or_default().push(listing.symbol.clone());
        }
    }
    by_exchange
}

/// The dry run, and the first half of every load: gaps, then jobs. Nothing is written.
pub async fn plan_load(registry: &Arc<Registry>, store: &Store, request: &LoadRequest) -> Result<LoadPlan, LoadError> {
    check_request(registry, request)?;
    let policy = registry.get(PluginKind::BatchPolicy, &request.policy).ok_or_else(|| LoadError::UnknownPolicy {
        name: request.policy.clone(),
        known: registry.names(PluginKind::BatchPolicy).join(", "),
    })?;

    let by_exchange = symbols_by_exchange(&request.listings);

    let mut gaps: Vec<Gap> = Vec::new();
    let mut gap_rows: Vec<u64> = Vec::new();
    let mut summary = PlanSummary {
        policy: policy.name().to_string(),
        policy_version: policy.identity.version.clone(),
        policy_generation: policy.number(),
        timeframe: request.timeframe.as_str().to_string(),
        from: request.from.to_string(),
        to: request.to.to_string(),
        symbols: by_exchange.values().map(Vec::len).sum(),
        exchanges: by_exchange.keys().cloned().collect(),
        ..PlanSummary::default()
    };
    for (mic, symbols) in &by_exchange {
        let calendar = registry.calendar(mic).ok_or_else(|| LoadError::UnknownExchange {
            mic: mic.clone(),
            symbol: symbols[0].clone(),
            known: registry.names(PluginKind::Calendar).join(", "),
        })?;
        let (from, to) = (request.from, request.to);
        // A cold calendar year calls the plugin: keep that off the async workers.
        let sessions = tokio::task::spawn_blocking(move || calendar.sessions(from, to))
            .await
            .map_err(|error| LoadError::Worker(format!("calendar task failed: {error}")))??;
        summary.sessions_expected += sessions.len() as u64 * symbols.len() as u64;
        let store_gaps = store
            .gaps(&GapRequest { exchange: mic, timeframe: request.timeframe, symbols, sessions: &sessions })
            .await?;
        for gap in store_gaps {
            let rows = expected_rows(request.timeframe, sessions_in(&sessions, gap.first_session, gap.last_session));
            summary.sessions_missing += gap.session_count as u64;
            gaps.push(Gap {
                symbol: gap.symbol,
                exchange: mic.clone(),
                start: gap.first_session,
                end: gap.last_session,
                sessions: gap.session_count as u32,
            });
            gap_rows.push(rows);
        }
    }

    let plan_request = PlanRequest {
        gaps,
        tier: request.tier,
        timeframe: request.timeframe,
        limits: request.limits,
        stats: request.stats,
    };
    let planned = if plan_request.gaps.is_empty() {
        Vec::new()
    } else {
        let callable = policy.callable().clone();
        let for_policy = plan_request.clone();
        tokio::task::spawn_blocking(move || crate::plugin::policy::plan(&callable, &for_policy))
            .await
            .map_err(|error| LoadError::Worker(format!("policy task failed: {error}")))?
            .map_err(LoadError::Policy)?
    };

    let load_id = crate::queue::new_job_id();
    let mut tiers: BTreeMap<Tier, TierPlan> = BTreeMap::new();
    let mut jobs = Vec::with_capacity(planned.len());
    let mut job_rows = Vec::with_capacity(planned.len());
    for job in planned {
        let job_gaps: Vec<Gap> = job.gaps.iter().map(|&index| plan_request.gaps[index as usize].clone()).collect();
        let rows: u64 = job.gaps.iter().map(|&index| gap_rows[index as usize]).sum();
        let sessions: u64 = job_gaps.iter().map(|gap| u64::from(gap.sessions)).sum();
        let mut symbols: Vec<&str> = job_gaps.iter().map(|gap| gap.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let tier_plan = tiers.entry(job.tier).or_insert(TierPlan {
            tier: job.tier,
            jobs: 0,
            symbols: 0,
            sessions: 0,
            expected_rows: 0,
        });
        tier_plan.jobs += 1;
        tier_plan.symbols += symbols.len();
        tier_plan.sessions += sessions;
        tier_plan.expected_rows += rows;
        summary.expected_rows += rows;
        jobs.push(JobPayload::new(load_id.clone(), job.tier, request.timeframe, job_gaps));
        job_rows.push(rows);
    }
    summary.gaps = plan_request.gaps.len();
    summary.provider_calls = plan_request.gaps.len() as u64;
    summary.jobs = jobs.len();
    summary.tiers = tiers.into_values().collect();
    Ok(LoadPlan { load_id, jobs, job_rows, summary })
}
