//! The `adaptive` batch policy: sizes jobs so that each takes about `TARGET_JOB_MILLIS`
//! at the throughput recent loads achieved, halves them while the error rate is high (a
//! failing job then costs less to retry), and respects the host's symbol and memory
//! limits (each job's bars within the budget, whatever the timeframe). Without statistics it starts from a conservative 50 symbols per job. Gaps of
//! one symbol always stay in one job, so two jobs never fetch the same symbol.

wit_bindgen::generate!({ path: "../../wit", world: "batch-policy-plugin" });

use exports::tickstock::plugins::batch_policy::{Guest as PolicyGuest, Job, PlanRequest, PolicyError, Timeframe};
use tickstock::plugins::types::PluginKind;

/// How long one job should take; long enough to amortise a transaction and a provider
/// round trip, short enough that a crash or a retry costs little.
const TARGET_JOB_MILLIS: f64 = 2_000.0;
/// Job size when there are no statistics to go by.
const COLD_START_SYMBOLS: u32 = 50;
/// Above this error rate, jobs are halved.
const HIGH_ERROR_RATE: f64 = 0.2;

struct Adaptive;

impl Guest for Adaptive {
    fn describe() -> Identity {
        Identity {
            kind: PluginKind::BatchPolicy,
            name: "adaptive".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "jobs sized from recent throughput to about 2 s each".into(),
        }
    }
}

impl PolicyGuest for Adaptive {
    fn plan(request: PlanRequest) -> Result<Vec<Job>, PolicyError> {
        if request.gaps.is_empty() {
            return Ok(Vec::new());
        }
        let bars_per_session = match request.timeframe {
            Timeframe::Daily => 1,
            Timeframe::Minute => policy_packing::MINUTE_BARS_PER_SESSION,
        };
        let symbols = policy_packing::group_by_symbol(
            request.gaps.iter().map(|gap| (gap.symbol.as_str(), gap.sessions)),
            bars_per_session,
        );
        let total_bars = symbols.iter().fold(0u64, |total, work| total.saturating_add(work.bars));
        let mean_bars_per_symbol = (total_bars / symbols.len() as u64).max(1);

        let mut per_job = match request.stats {
            Some(stats) if stats.jobs_observed > 0 && stats.rows_per_second > 0.0 => {
                let target_rows = stats.rows_per_second * TARGET_JOB_MILLIS / 1000.0;
                let sized = (target_rows / mean_bars_per_symbol as f64).floor() as u32;
                if stats.error_rate > HIGH_ERROR_RATE { sized / 2 } else { sized }
            }
            _ => COLD_START_SYMBOLS,
        };
        per_job = per_job.clamp(1, request.limits.max_symbols_per_job.max(1));

        // If the size would need more jobs than allowed, grow jobs up to the symbol limit.
        let job_count = symbols.len().div_ceil(per_job as usize);
        if job_count > request.limits.max_jobs as usize {
            per_job = (symbols.len().div_ceil(request.limits.max_jobs.max(1) as usize) as u32)
                .min(request.limits.max_symbols_per_job)
                .max(1);
        }
        let budget = policy_packing::budget_bars(request.limits.memory_budget_bytes);
        let jobs = policy_packing::pack(&symbols, per_job as usize, budget).map_err(PolicyError::Unsupported)?;
        if jobs.len() > request.limits.max_jobs as usize {
            return Err(PolicyError::Unsupported(format!(
                "{} symbols need {} jobs of at most {per_job} symbols within the memory budget, over the limit of {} jobs",
                symbols.len(),
                jobs.len(),
                request.limits.max_jobs
            )));
        }
        Ok(jobs.into_iter().map(|gaps| Job { tier: request.tier, gaps }).collect())
    }
}

export!(Adaptive);
