//! Batch-policy plugins: a plan request converted to WIT, the policy called, its jobs
//! converted back and checked by the host (`plan::check_plan`) before anyone sees them.

use chrono::Datelike;

use super::bindings::calendar_world::tickstock::plugins::types as wit_types;
use super::bindings::policy_world::exports::tickstock::plugins::batch_policy as wit;
use super::error::CallError;
use super::limits;
use super::load::{Callable, WorldInstance, wrong_world};
use super::sandbox::InvalidAnswer;
use crate::plan::{PlanRequest, PlannedJob, Tier, Timeframe, check_plan};

/// Calls `plan` and checks the answer. A policy that refuses (its own error) or returns a
/// plan that fails the host's check is an `InvalidAnswer`.
/// Time a `plan` call gets per gap on top of the deadline. A policy must at least read
/// every gap and the host checks every answer inside the call, so the work of an honest
/// plan grows with the request: 100,000 gaps (the service's default symbol cap) get one
/// more second. Still a bound: a looping policy is stopped all the same.
pub const PLAN_ALLOWANCE_PER_GAP: std::time::Duration = std::time::Duration::from_micros(10);

pub fn plan(callable: &Callable, request: &PlanRequest) -> Result<Vec<PlannedJob>, CallError> {
    let wit_request = to_wit(request);
    let gaps = u32::try_from(request.gaps.len()).unwrap_or(u32::MAX);
    let allowance = PLAN_ALLOWANCE_PER_GAP.saturating_mul(gaps);
    callable.call_with_allowance("plan", allowance, |store, instance| {
        let answer = match instance {
            WorldInstance::Policy(plugin) => plugin.tickstock_plugins_batch_policy().call_plan(store, &wit_request)?,
            _ => return Err(wrong_world("plan")),
        };
        let jobs: Vec<PlannedJob> = match answer {
            Ok(jobs) => {
                check_sizes(request, &jobs).map_err(InvalidAnswer::error)?;
                jobs.into_iter().map(|job| PlannedJob { tier: tier_from_wit(job.tier), gaps: job.gaps }).collect()
            }
            Err(wit::PolicyError::Unsupported(reason)) => {
                return Err(InvalidAnswer::error(format!("the policy refused: {}", limits::excerpt(&reason))));
            }
        };
        check_plan(request, &jobs)
            .map_err(|reason| InvalidAnswer::error(format!("plan rejected by the host: {reason}")))?;
        Ok(jobs)
    })
}

/// The plan's size against the request before anything walks it: every gap is in exactly
/// one job, so a plan has at most one job per gap and at most as many gap indices, all
/// jobs together, as the request has gaps. A policy answering one job of a million
/// indices is refused here in constant time per job.
fn check_sizes(request: &PlanRequest, jobs: &[wit::Job]) -> Result<(), String> {
    let gaps = request.gaps.len();
    limits::check_count("the job list", jobs.len(), gaps)?;
    let mut indices: usize = 0;
    for (index, job) in jobs.iter().enumerate() {
        indices = indices.saturating_add(job.gaps.len());
        if indices > gaps {
            return Err(format!(
                "job {index} `gaps` brings the gap indices of jobs 0..={index} to {indices}, over the request's {gaps} gaps \
                 (so a gap is in more than one job, or out of range)"
            ));
        }
    }
    Ok(())
}

fn wit_date(date: chrono::NaiveDate) -> wit_types::Date {
    wit_types::Date { year: date.year(), month: date.month() as u8, day: date.day() as u8 }
}

fn tier_to_wit(tier: Tier) -> wit::Tier {
    match tier {
        Tier::Critical => wit::Tier::Critical,
        Tier::High => wit::Tier::High,
        Tier::Normal => wit::Tier::Normal,
        Tier::Low => wit::Tier::Low,
    }
}

fn tier_from_wit(tier: wit::Tier) -> Tier {
    match tier {
        wit::Tier::Critical => Tier::Critical,
        wit::Tier::High => Tier::High,
        wit::Tier::Normal => Tier::Normal,
        wit::Tier::Low => Tier::Low,
    }
}

fn to_wit(request: &PlanRequest) -> wit::PlanRequest {
    wit::PlanRequest {
        gaps: request
            .gaps
            .iter()
            .map(|gap| wit::Gap {
                symbol: gap.symbol.clone(),
                exchange: gap.exchange.clone(),
                range: wit::DateRange { start: wit_date(gap.start), end: wit_date(gap.end) },
                sessions: gap.sessions,
            })
            .collect(),
        tier: tier_to_wit(request.tier),
        timeframe: match request.timeframe {
            Timeframe::Daily => wit::Timeframe::Daily,
            Timeframe::Minute => wit::Timeframe::Minute,
        },
        limits: wit::Limits {
            max_symbols_per_job: request.limits.max_symbols_per_job,
            max_jobs: request.limits.max_jobs,
            memory_budget_bytes: request.limits.memory_budget_bytes,
        },
        stats: request.stats.map(|stats| wit::LoadStats {
            rows_per_second: stats.rows_per_second,
            error_rate: stats.error_rate,
            mean_job_millis: stats.mean_job_millis,
            jobs_observed: stats.jobs_observed,
        }),
    }
}
