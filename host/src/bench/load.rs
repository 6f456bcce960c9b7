//! `tickstock bench load`: the whole load path (calendar, gaps, policy, in-process queue,
//! workers, synthetic provider, store) for N symbols x Y years of daily or minute bars into
//! a fresh store: a temporary SQLite file, or a fresh schema of the given PostgreSQL
//! database (dropped afterwards). Reports rows/s end to end, the bytes the store takes per
//! bar, how long planning the same load again takes once everything is there (gap
//! detection over the loaded data: it should grow with sessions, not bars), and, with
//! `--raw`, a plain bulk insert (SQLite) or `COPY`-speed insert (PostgreSQL) of the same
//! rows into an empty table in the same run, as the anchor.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use tokio::sync::watch;

use crate::load::{LoadRequest, ProgressStyle, RunOptions};
use crate::plan::{Listing, PlanLimits, Tier, Timeframe};
use crate::plugin::Registry;
use crate::provider::SyntheticProvider;
use crate::queue::{Queue, QueueOptions};
use crate::store::Store;
use crate::worker::WorkerOptions;

#[derive(Debug, clap::Args)]
pub struct LoadBenchArgs {
    /// Symbols loaded.
    #[arg(long, default_value_t = 1000)]
    pub symbols: usize,
    /// Years of bars, ending with the last full year.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub years: i32,
    /// Concurrent jobs.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Batch policy.
    #[arg(long, default_value = "fixed")]
    pub policy: String,
    /// Bar timeframe: 1d or 1m.
    #[arg(long, default_value = "1d")]
    pub timeframe: Timeframe,
    /// Also time a raw insert of the same rows into an empty table (the anchor).
    #[arg(long)]
    pub raw: bool,
    /// A postgres:// URL to measure PostgreSQL (a fresh schema, dropped afterwards)
    /// [default: a temporary SQLite file].
    #[arg(long)]
    pub db: Option<String>,
    /// Print JSON (set from the command line's `--format`).
    #[arg(skip)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct LoadBenchReport {
    pub store: String,
    pub symbols: usize,
    pub years: i32,
    pub timeframe: Timeframe,
    pub policy: String,
    pub jobs: usize,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// The bars table's bytes (with its indexes) over its rows.
    pub bytes_per_bar: Option<f64>,
    /// Planning the same load again with everything stored: gap detection's cost.
    pub rerun_plan_seconds: f64,
    /// Jobs that second plan found (0 when the load was complete).
    pub rerun_jobs: usize,
    /// Microseconds of that plan per expected symbol-session.
    pub rerun_micros_per_session: f64,
    /// A raw insert of the same rows, when asked for.
    pub raw_rows_per_second: Option<f64>,
}

pub fn run(registry: Arc<Registry>, args: LoadBenchArgs) -> anyhow::Result<()> {
    let last_year = chrono::Utc::now().year() - 1;
    let first_year = last_year - args.years.max(1) + 1;
    let request = LoadRequest {
        listings: (1..=args.symbols.max(1))
            .map(|index| Listing { symbol: format!("SYN{index:04}"), exchange: "XNYS".to_string() })
            .collect(),
        from: NaiveDate::from_ymd_opt(first_year, 1, 1).expect("valid"),
        to: NaiveDate::from_ymd_opt(last_year, 12, 31).expect("valid"),
        timeframe: args.timeframe,
        tier: Tier::Normal,
        policy: args.policy.clone(),
        limits: PlanLimits::default(),
        stats: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let scratch = tempfile::tempdir()?;
        let schema = format!("bench_load_{}", std::process::id());
        let (store, label) = match &args.db {
            Some(url) => (Store::open_schema(url, &schema).await?, format!("postgresql (schema {schema})")),
            None => {
                let path = scratch.path().join("bench.db");
                (Store::open(&path.display().to_string()).await?, "sqlite (temporary file)".to_string())
            }
        };
        let (_shutdown_sender, shutdown) = watch::channel(false);
        let run_options = RunOptions {
            workers: WorkerOptions { workers: args.workers.max(1), ..WorkerOptions::default() },
            progress: ProgressStyle::Quiet,
            submit_only: false,
            observer: None,
        };
        let measured = measure(&registry, &store, &request, run_options, shutdown, args.raw).await;
        store.close().await;
        if let Some(url) = &args.db {
            Store::drop_schema(url, &schema).await.context("dropping the benchmark schema")?;
        }
        let measured = measured?;
        let report = &measured.report;
        let sessions = (report.plan.sessions_expected as f64).max(1.0);
        anyhow::Ok(LoadBenchReport {
            store: label,
            symbols: args.symbols,
            years: args.years,
            timeframe: args.timeframe,
            policy: args.policy.clone(),
            jobs: report.plan.jobs,
            rows: report.rows_written,
            seconds: report.seconds,
            rows_per_second: report.rows_per_second,
            bytes_per_bar: measured.bars_bytes.map(|bytes| bytes as f64 / (report.rows_written.max(1) as f64)),
            rerun_plan_seconds: measured.rerun_seconds,
            rerun_jobs: measured.rerun_jobs,
            rerun_micros_per_session: measured.rerun_seconds * 1e6 / sessions,
            raw_rows_per_second: measured.raw_seconds.map(|seconds| report.rows_written as f64 / seconds.max(1e-9)),
        })
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} symbols x {} years of {} bars into {}: {} rows in {} jobs, {:.2} s, {:.0} rows/s",
            report.symbols,
            report.years,
            report.timeframe,
            report.store,
            report.rows,
            report.jobs,
            report.seconds,
            report.rows_per_second
        );
        if let Some(bytes) = report.bytes_per_bar {
            println!("  store size: {bytes:.1} bytes per bar");
        }
        println!(
            "  planning it again: {:.3} s, {} jobs ({:.2} us per symbol-session)",
            report.rerun_plan_seconds, report.rerun_jobs, report.rerun_micros_per_session
        );
        if let Some(raw) = report.raw_rows_per_second {
            println!(
                "  raw insert of the same rows: {raw:.0} rows/s (the load reaches {:.0} %)",
                report.rows_per_second * 100.0 / raw.max(1e-9)
            );
        }
    }
    Ok(())
}

/// What one run measured.
struct Measured {
    report: crate::load::LoadReport,
    rerun_seconds: f64,
    rerun_jobs: usize,
    raw_seconds: Option<f64>,
    bars_bytes: Option<u64>,
}

/// The load, then planning it again, then (when asked) the raw insert of the same rows.
async fn measure(
    registry: &Arc<Registry>,
    store: &Store,
    request: &LoadRequest,
    run_options: RunOptions,
    shutdown: watch::Receiver<bool>,
    raw: bool,
) -> anyhow::Result<Measured> {
    let queue = Queue::open(None, QueueOptions::default()).await?;
    let report = crate::load::run(
        registry.clone(),
        store.clone(),
        Arc::new(SyntheticProvider),
        queue,
        request,
        run_options,
        shutdown,
    )
    .await?;
    let started = std::time::Instant::now();
    let again = crate::load::plan_load(registry, store, request).await?;
    let rerun_seconds = started.elapsed().as_secs_f64();
    // Measured before the raw insert, which adds a table of its own.
    let bars_bytes = store.bars_bytes().await?;
    let raw_seconds = if raw { Some(raw_insert(registry, store, request).await?) } else { None };
    Ok(Measured { report, rerun_seconds, rerun_jobs: again.jobs.len(), raw_seconds, bars_bytes })
}

/// Seconds to insert the load's rows, generated the same way, into an empty table with no
/// conflict handling (the store's `raw_bulk_insert`, in one transaction).
async fn raw_insert(registry: &Arc<Registry>, store: &Store, request: &LoadRequest) -> anyhow::Result<f64> {
    let calendar = registry.calendar("XNYS").context("the XNYS calendar")?;
    let (from, to) = (request.from, request.to);
    let sessions = tokio::task::spawn_blocking(move || calendar.sessions(from, to)).await??;
    let observed_at = chrono::Utc::now();
    let jobs: Vec<Vec<crate::bar::Bar>> = request
        .listings
        .iter()
        .map(|listing| {
            crate::provider::synthetic::synthetic_bars(&crate::provider::FetchRequest {
                symbol: &listing.symbol,
                exchange: &listing.exchange,
                timeframe: request.timeframe,
                sessions: &sessions,
                observed_at,
            })
        })
        .collect();
    let started = std::time::Instant::now();
    store.raw_bulk_insert(&jobs).await?;
    Ok(started.elapsed().as_secs_f64())
}
