//! The `fixed` batch policy: every job holds the gaps of at most N symbols (100 by
//! default, fewer when the host's `max-symbols-per-job` limit is lower), in the order the
//! gaps arrive, at the requested tier. Predictable and easy to reason about; the baseline
//! other policies are compared against.

wit_bindgen::generate!({ path: "../../wit", world: "batch-policy-plugin" });

use exports::tickstock::plugins::batch_policy::{Guest as PolicyGuest, Job, PlanRequest, PolicyError};
use tickstock::plugins::types::PluginKind;

const SYMBOLS_PER_JOB: u32 = 100;

struct Fixed;

impl Guest for Fixed {
    fn describe() -> Identity {
        Identity {
            kind: PluginKind::BatchPolicy,
            name: "fixed".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "at most 100 symbols per job, in request order".into(),
        }
    }
}

impl PolicyGuest for Fixed {
    fn plan(request: PlanRequest) -> Result<Vec<Job>, PolicyError> {
        let per_job = SYMBOLS_PER_JOB.min(request.limits.max_symbols_per_job).max(1) as usize;
        let mut jobs: Vec<Job> = Vec::new();
        // Gaps of one symbol stay together: a job is a set of symbols, so splitting one
        // symbol's gaps across jobs would make two jobs fetch from the same file or API.
        let mut current_symbols: Vec<&str> = Vec::new();
        let mut current_gaps: Vec<u32> = Vec::new();
        for (index, gap) in request.gaps.iter().enumerate() {
            let known = current_symbols.contains(&gap.symbol.as_str());
            if !known && current_symbols.len() == per_job {
                jobs.push(Job { tier: request.tier, gaps: std::mem::take(&mut current_gaps) });
                current_symbols.clear();
            }
            if !known {
                current_symbols.push(&gap.symbol);
            }
            current_gaps.push(index as u32);
        }
        if !current_gaps.is_empty() {
            jobs.push(Job { tier: request.tier, gaps: current_gaps });
        }
        if jobs.len() > request.limits.max_jobs as usize {
            return Err(PolicyError::Unsupported(format!(
                "{} jobs of {per_job} symbols exceed the limit of {} jobs",
                jobs.len(),
                request.limits.max_jobs
            )));
        }
        Ok(jobs)
    }
}

export!(Fixed);
