//! `tickstock bench ...` at a small size: every benchmark the README quotes a figure from
//! runs to its end and prints a report of the right shape, so a broken benchmark fails
//! the suite instead of waiting for someone to reproduce the README. Figures are not
//! checked against any bound: timing bounds belong in the benchmarks, not in tests.

use serde_json::Value;

use crate::support::{postgres_url, redis_url, tickstock};

/// Runs `tickstock bench <args> --json` and returns its JSON report.
fn bench_json(args: &[&str]) -> Value {
    let cache = tempfile::tempdir().unwrap();
    let output = tickstock(cache.path()).arg("bench").args(args).arg("--json").output().unwrap();
    assert!(
        output.status.success(),
        "tickstock bench {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "tickstock bench {} printed no JSON ({error}): {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn number(report: &Value, pointer: &str) -> f64 {
    report.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("no number at {pointer} in {report}"))
}

/// Regression: the instants started at 2000-01-01 00:00 UTC, which is still 1999 in New
/// York, so `bench calendar` failed with "XNYS: year 1999 is outside the calendar's range"
/// (and XTSE, covered from 2010, failed on a third of them). They are now clipped to the
/// years each calendar covers.
#[test]
fn bench_calendar_measures_every_exchange_inside_its_covered_years() {
    let reports = bench_json(&["calendar", "--exchanges", "XNYS,XTKS,XTSE", "--queries", "2000"]);
    let reports = reports.as_array().expect("a list of reports");
    let exchanges: Vec<&str> = reports.iter().map(|report| report["exchange"].as_str().unwrap()).collect();
    assert_eq!(exchanges, ["XNYS", "XTKS", "XTSE"]);
    for report in reports {
        let open_share = number(report, "/open_share");
        assert!(open_share > 0.0 && open_share < 1.0, "open share {open_share} in {report}");
        for figure in ["is_open", "status", "next_open", "next_close"] {
            assert!(number(report, &format!("/warm_ns/{figure}")) > 0.0, "{figure} in {report}");
        }
        assert!(number(report, "/cold_year_through_plugin_us") > 0.0, "{report}");
    }
}

/// The instants of the calendar benchmark start at local midnight of the calendar's first
/// year when that is later than 2000-01-01 UTC, and never leave the covered years.
#[test]
fn bench_range_starts_at_the_first_covered_local_midnight() {
    use chrono::{TimeZone as _, Utc};
    use tickstock::bench::calendar::{bench_range, random_instants};

    let exchanges = tickstock::exchanges::Exchanges::builtin().expect("built-in calendars");
    let cases = [
        ("XNYS", Utc.with_ymd_and_hms(2000, 1, 1, 5, 0, 0).unwrap()),
        ("XTKS", Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()),
        ("XTSE", Utc.with_ymd_and_hms(2010, 1, 1, 5, 0, 0).unwrap()),
    ];
    for (mic, expected_start) in cases {
        let calendar = exchanges.calendar(mic).unwrap();
        let range = bench_range(calendar.spec()).unwrap();
        assert_eq!(range, (expected_start, Utc.with_ymd_and_hms(2030, 12, 1, 0, 0, 0).unwrap()), "{mic}");
        for at in random_instants(range, 2024, 10_000) {
            assert!(range.0 <= at && at < range.1, "{mic}: {at} outside {range:?}");
            calendar.status(at).unwrap_or_else(|error| panic!("{mic} at {at}: {error}"));
            calendar.next_open(at).unwrap_or_else(|error| panic!("{mic} next open after {at}: {error}"));
        }
    }
}

#[test]
fn bench_queue_measures_the_in_process_queue_and_redis() {
    let redis = redis_url();
    let mut args = vec!["queue", "--singles", "50", "--bulk", "200", "--drain", "200"];
    if let Some(url) = &redis {
        args.extend(["--queue", url, "--redis-benchmark-requests", "100"]);
    }
    let report = bench_json(&args);
    let backends: Vec<&str> =
        report["backends"].as_array().unwrap().iter().map(|backend| backend["backend"].as_str().unwrap()).collect();
    let expected: &[&str] = if redis.is_some() { &["in-process", "redis"] } else { &["in-process"] };
    assert_eq!(backends, expected, "{report}");
    for backend in report["backends"].as_array().unwrap() {
        assert!(number(backend, "/bulk_submit_jobs_per_second") > 0.0, "{backend}");
        assert!(number(backend, "/single_submit_us/p50") > 0.0, "{backend}");
    }
}

#[test]
fn bench_load_writes_every_expected_row_into_sqlite_and_postgres() {
    let mut stores = vec![None];
    if let Some(url) = postgres_url() {
        stores.push(Some(url));
    }
    for db in stores {
        let mut args = vec!["load", "--symbols", "5", "--years", "1"];
        if let Some(url) = &db {
            args.extend(["--db", url]);
        }
        let report = bench_json(&args);
        // 5 symbols x one year of XNYS sessions (250-253 a year).
        let rows = number(&report, "/rows");
        assert!((5.0 * 250.0..=5.0 * 253.0).contains(&rows), "{rows} rows in {report}");
        assert!(number(&report, "/jobs") >= 1.0, "{report}");
        assert_eq!(number(&report, "/rerun_jobs"), 0.0, "the second plan finds it all there: {report}");
        assert!(number(&report, "/bytes_per_bar") > 0.0, "{report}");
    }
}

#[test]
fn bench_load_measures_minute_bars_next_to_a_raw_insert() {
    let mut stores = vec![None];
    if let Some(url) = postgres_url() {
        stores.push(Some(url));
    }
    for db in stores {
        let mut args = vec!["load", "--symbols", "3", "--years", "1", "--timeframe", "1m", "--raw"];
        if let Some(url) = &db {
            args.extend(["--db", url]);
        }
        let report = bench_json(&args);
        assert_eq!(report["timeframe"], "1m", "{report}");
        // 3 symbols x a year of XNYS minute sessions (about 97,000 minutes each).
        let rows = number(&report, "/rows");
        assert!((3.0 * 95_000.0..=3.0 * 99_000.0).contains(&rows), "{rows} rows in {report}");
        assert_eq!(number(&report, "/rerun_jobs"), 0.0, "{report}");
        assert!(number(&report, "/raw_rows_per_second") > 0.0, "{report}");
    }
}

#[test]
fn bench_plugins_measures_every_built_in() {
    let report = bench_json(&["plugins", "--calls", "20"]);
    let names: Vec<String> = report
        .as_array()
        .expect("a list of plugins")
        .iter()
        .map(|plugin| plugin["plugin"].as_str().unwrap_or_default().to_string())
        .collect();
    for expected in ["calendar/XNYS", "calendar/XTKS", "batch-policy/fixed", "refresh-profile/dev"] {
        assert!(names.iter().any(|name| name == expected), "{expected} missing from {names:?}");
    }
}

#[test]
fn bench_serve_swaps_plugins_and_answers_every_status_request() {
    let report = bench_json(&["serve", "--swaps", "2", "--requests", "200", "--connections", "2"]);
    assert_eq!(report["swaps"], 2, "{report}");
    assert_eq!(report["status_requests"], 200, "{report}");
    assert_eq!(report["status_failures"], 0, "{report}");
}
