//! Store write benchmark: 1000 symbols x 1260 daily bars (5 years) through the store,
//! next to a plain bulk insert of the same rows, on SQLite (a temp file) and on PostgreSQL
//! (fresh schemas, dropped afterwards) when `TICKSTOCK_BENCH_POSTGRES_URL` or
//! `TICKSTOCK_TEST_POSTGRES_URL` names one.
//!
//! `cargo bench --bench store` prints one JSON report per line, then a summary.
//! `TICKSTOCK_BENCH_SYMBOLS` / `TICKSTOCK_BENCH_SESSIONS` / `TICKSTOCK_BENCH_SYMBOLS_PER_JOB`
//! change the shape. PostgreSQL runs three ways: one writer and four, in jobs of 100
//! symbols (the default policy's), and one writer with a transaction per symbol, the
//! worst case of a policy that plans one-symbol jobs.
//!
//! Plain `main` instead of criterion: one run writes 1.26 M rows in seconds; criterion's
//! repeated sampling would take minutes and say nothing more about a figure this coarse.

use tickstock::bench::store::{BenchReport, BenchShape, run};
use tickstock::store::Store;

fn shape_from_environment(writers: usize, symbols_per_job: Option<usize>) -> BenchShape {
    let number =
        |name: &str, default: usize| std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default);
    let default = BenchShape::THOUSAND_SYMBOLS_FIVE_YEARS;
    BenchShape {
        symbols: number("TICKSTOCK_BENCH_SYMBOLS", default.symbols),
        sessions: number("TICKSTOCK_BENCH_SESSIONS", default.sessions),
        writers,
        symbols_per_job: symbols_per_job
            .unwrap_or_else(|| number("TICKSTOCK_BENCH_SYMBOLS_PER_JOB", default.symbols_per_job)),
    }
}

fn print_report(report: &BenchReport) {
    println!("{}", serde_json::to_string(report).expect("a report serialises"));
    eprintln!(
        "{:<8} writers={} symbols/job={:<4} rows={:>9}  store {:>6.2} s ({:>8.0} rows/s, rewrite {:>6.2} s)  raw {:>6.2} s ({:>8.0} rows/s)  store/raw {:>4.0} %",
        report.backend,
        report.shape.writers,
        report.shape.symbols_per_job,
        report.rows,
        report.store_write_seconds,
        report.store_rows_per_second,
        report.store_rewrite_seconds,
        report.raw_insert_seconds,
        report.raw_rows_per_second,
        report.store_to_raw_ratio * 100.0
    );
}

#[tokio::main]
async fn main() {
    let directory = tempfile::tempdir().expect("a temp dir");
    let sqlite_report = run(shape_from_environment(1, None), |side| {
        let path = directory.path().join(format!("{side}.db"));
        async move { Store::open(path.to_str().expect("utf-8 temp path")).await }
    })
    .await
    .expect("SQLite benchmark");
    print_report(&sqlite_report);

    let postgres_url = ["TICKSTOCK_BENCH_POSTGRES_URL", "TICKSTOCK_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
    let Some(postgres_url) = postgres_url else {
        eprintln!("PostgreSQL skipped: set TICKSTOCK_BENCH_POSTGRES_URL to include it");
        return;
    };
    for (writers, symbols_per_job) in [(1, None), (4, None), (1, Some(1))] {
        let schema_prefix = format!("bench_store_{}_{}", std::process::id(), symbols_per_job.unwrap_or(0));
        let report = run(shape_from_environment(writers, symbols_per_job), |side| {
            let postgres_url = postgres_url.clone();
            let schema = format!("{schema_prefix}_{writers}_{side}");
            async move {
                Store::drop_schema(&postgres_url, &schema).await?;
                Store::open_schema(&postgres_url, &schema).await
            }
        })
        .await;
        for side in ["store", "raw"] {
            let schema = format!("{schema_prefix}_{writers}_{side}");
            Store::drop_schema(&postgres_url, &schema).await.expect("dropping a benchmark schema");
        }
        print_report(&report.expect("PostgreSQL benchmark"));
    }
}
