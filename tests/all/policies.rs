//! The built-in batch policies (`fixed`, `adaptive`) and a contract-breaking fixture,
//! called through the real runtime: every plan the host accepts covers each gap once.

use chrono::NaiveDate;
use tickstock::plan::{Gap, LoadStats, PlanLimits, PlanRequest, Tier, Timeframe};
use tickstock::plugin::policy::plan;
use tickstock::plugin::{CallFailure, PluginKind, Registry, Runtime};

use crate::support::guest;

fn registry() -> Registry {
    let registry = Registry::with_builtins(Runtime::new(crate::support::patient_runtime_options()).unwrap()).unwrap();
    registry.load_file(&guest("fixture_bad_policy.wasm")).expect("the bad policy passes the gate's small sample");
    registry
}

/// `symbols` symbols, each with `gaps_per_symbol` one-month gaps of 20 sessions.
fn request(symbols: usize, gaps_per_symbol: usize, stats: Option<LoadStats>) -> PlanRequest {
    let mut gaps = Vec::new();
    for symbol in 0..symbols {
        for month in 0..gaps_per_symbol {
            let start = NaiveDate::from_ymd_opt(2023, month as u32 + 1, 1).unwrap();
            let end = NaiveDate::from_ymd_opt(2023, month as u32 + 1, 28).unwrap();
            gaps.push(Gap { symbol: format!("SYM{symbol:04}"), exchange: "XNYS".into(), start, end, sessions: 20 });
        }
    }
    PlanRequest { gaps, tier: Tier::High, timeframe: Timeframe::Daily, limits: PlanLimits::default(), stats }
}

fn symbols_per_job(request: &PlanRequest, jobs: &[tickstock::plan::PlannedJob]) -> Vec<usize> {
    jobs.iter()
        .map(|job| {
            let mut symbols: Vec<&str> = job.gaps.iter().map(|&i| request.gaps[i as usize].symbol.as_str()).collect();
            symbols.dedup();
            symbols.len()
        })
        .collect()
}

#[test]
fn fixed_cuts_a_hundred_symbols_per_job_at_the_requested_tier() {
    let registry = registry();
    let policy = registry.get(PluginKind::BatchPolicy, "fixed").unwrap();
    let request = request(250, 2, None);
    let jobs = plan(policy.callable(), &request).expect("a valid plan");
    assert_eq!(symbols_per_job(&request, &jobs), vec![100, 100, 50]);
    assert!(jobs.iter().all(|job| job.tier == Tier::High));
}

#[test]
fn adaptive_sizes_jobs_from_throughput_and_shrinks_them_on_errors() {
    let registry = registry();
    let policy = registry.get(PluginKind::BatchPolicy, "adaptive").unwrap();
    // 2 gaps x 20 sessions = 40 bars per symbol; 8000 rows/s x 2 s = 16000 rows = 400
    // symbols, capped by the host's limit of 500.
    let healthy = LoadStats { rows_per_second: 8000.0, error_rate: 0.0, mean_job_millis: 900.0, jobs_observed: 20 };
    let request_healthy = request(1000, 2, Some(healthy));
    let jobs = plan(policy.callable(), &request_healthy).unwrap();
    assert_eq!(symbols_per_job(&request_healthy, &jobs), vec![400, 400, 200]);

    let failing = LoadStats { error_rate: 0.5, ..healthy };
    let request_failing = request(1000, 2, Some(failing));
    let jobs = plan(policy.callable(), &request_failing).unwrap();
    assert_eq!(symbols_per_job(&request_failing, &jobs), vec![200; 5]);

    let cold = request(120, 1, None);
    let jobs = plan(policy.callable(), &cold).unwrap();
    assert_eq!(symbols_per_job(&cold, &jobs), vec![50, 50, 20]);
}

#[test]
fn a_plan_that_covers_a_gap_twice_is_refused() {
    let registry = registry();
    let policy = registry.get(PluginKind::BatchPolicy, "zz-bad").unwrap();
    let error = plan(policy.callable(), &request(10, 1, None)).unwrap_err();
    match &error.failure {
        CallFailure::InvalidAnswer { reason } => assert!(reason.contains("more than one job"), "{reason}"),
        other => panic!("expected an invalid answer, got {other:?}"),
    }
    assert_eq!(error.plugin.to_string(), "batch-policy/zz-bad");
}

/// `symbols` symbols with one gap each of `sessions` sessions, in `timeframe`.
fn one_gap_each(symbols: usize, sessions: u32, timeframe: Timeframe) -> PlanRequest {
    let (start, end) = (NaiveDate::from_ymd_opt(2023, 1, 3).unwrap(), NaiveDate::from_ymd_opt(2023, 12, 29).unwrap());
    let gaps = (0..symbols)
        .map(|symbol| Gap { symbol: format!("SYM{symbol:04}"), exchange: "XNYS".into(), start, end, sessions })
        .collect();
    PlanRequest { gaps, tier: Tier::Normal, timeframe, limits: PlanLimits::default(), stats: None }
}

#[test]
fn every_built_in_policy_plans_a_year_of_minute_bars_within_the_hosts_limits() {
    let registry = registry();
    // 100 symbols x 252 sessions x 510 bars x 96 bytes is about 1.2 GiB: several jobs under
    // the 256 MiB budget, each accepted by the host's own check.
    let request = one_gap_each(100, 252, Timeframe::Minute);
    let healthy = LoadStats { rows_per_second: 250_000.0, error_rate: 0.0, mean_job_millis: 900.0, jobs_observed: 20 };
    let with_stats = PlanRequest { stats: Some(healthy), ..request.clone() };
    for name in ["fixed", "adaptive"] {
        let policy = registry.get(PluginKind::BatchPolicy, name).unwrap();
        for request in [&request, &with_stats] {
            let jobs = plan(policy.callable(), request).unwrap_or_else(|error| panic!("{name}: {error}"));
            tickstock::plan::check_plan(request, &jobs).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(jobs.len() > 1, "{name} cut the year into several jobs");
        }
        // A symbol whose gaps alone are over the budget cannot be planned: a clear refusal,
        // not a plan the host would refuse.
        let too_long = one_gap_each(1, 30 * 252, Timeframe::Minute);
        let error = plan(policy.callable(), &too_long).unwrap_err().to_string();
        assert!(error.contains("SYM0000 alone needs"), "{name}: {error}");
    }
}
