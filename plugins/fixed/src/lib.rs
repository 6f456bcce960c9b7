//! The `fixed` batch policy: every job holds the gaps of at most N symbols (100 by
//! default, fewer when the host's `max-symbols-per-job` limit is lower), in the order the
//! gaps arrive, at the requested tier, and never more bars than the host's memory budget
//! (so minute bars are cut into smaller jobs than daily ones). Predictable and easy to
//! reason about; the baseline other policies are compared against.

wit_bindgen::generate!({ path: "../../wit", world: "batch-policy-plugin" });

use exports::tickstock::plugins::batch_policy::{Guest as PolicyGuest, Job, PlanRequest, PolicyError, Timeframe};
use tickstock::plugins::types::PluginKind;

const SYMBOLS_PER_JOB: u32 = 100;

struct Fixed;

impl Guest for Fixed {
    fn describe() -> Identity {
        Identity {
            kind: PluginKind::BatchPolicy,
            name: "fixed".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "at most 100 symbols per job, within the memory budget, in request order".into(),
        }
    }
}

impl PolicyGuest for Fixed {
    fn plan(request: PlanRequest) -> Result<Vec<Job>, PolicyError> {
        let per_job = SYMBOLS_PER_JOB.min(request.limits.max_symbols_per_job).max(1) as usize;
        let bars_per_session = match request.timeframe {
            Timeframe::Daily => 1,
            Timeframe::Minute => policy_packing::MINUTE_BARS_PER_SESSION,
        };
        let symbols = policy_packing::group_by_symbol(
            request.gaps.iter().map(|gap| (gap.symbol.as_str(), gap.sessions)),
            bars_per_session,
        );
        let budget = policy_packing::budget_bars(request.limits.memory_budget_bytes);
        let jobs = policy_packing::pack(&symbols, per_job, budget).map_err(PolicyError::Unsupported)?;
        if jobs.len() > request.limits.max_jobs as usize {
            return Err(PolicyError::Unsupported(format!(
                "{} jobs of at most {per_job} symbols exceed the limit of {} jobs",
                jobs.len(),
                request.limits.max_jobs
            )));
        }
        Ok(jobs.into_iter().map(|gaps| Job { tier: request.tier, gaps }).collect())
    }
}

export!(Fixed);
