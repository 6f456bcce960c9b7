//! `tickstock bench load`: the whole load path (calendar, gaps, policy, in-process queue,
//! workers, synthetic provider, store) for N symbols x Y years of daily bars into a fresh
//! store: a temporary SQLite file, or a fresh schema of the given PostgreSQL database
//! (dropped afterwards). Reports rows/s end to end.

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
    /// Years of daily bars, ending with the last full year.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=100))]
    pub years: i32,
    /// Concurrent jobs.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Batch policy.
    #[arg(long, default_value = "fixed")]
    pub policy: String,
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
    pub policy: String,
    pub jobs: usize,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
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
        timeframe: Timeframe::Daily,
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
        let queue = Queue::open(None, QueueOptions::default()).await?;
        let (_shutdown_sender, shutdown) = watch::channel(false);
        let run_options = RunOptions {
            workers: WorkerOptions { workers: args.workers.max(1), ..WorkerOptions::default() },
            progress: ProgressStyle::Quiet,
            submit_only: false,
            observer: None,
        };
        let outcome = crate::load::run(
            registry,
            store.clone(),
            Arc::new(SyntheticProvider),
            queue,
            &request,
            run_options,
            shutdown,
        )
        .await;
        store.close().await;
        if let Some(url) = &args.db {
            Store::drop_schema(url, &schema).await.context("dropping the benchmark schema")?;
        }
        let report = outcome?;
        anyhow::Ok(LoadBenchReport {
            store: label,
            symbols: args.symbols,
            years: args.years,
            policy: args.policy.clone(),
            jobs: report.plan.jobs,
            rows: report.rows_written,
            seconds: report.seconds,
            rows_per_second: report.rows_per_second,
        })
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} symbols x {} years daily into {}: {} rows in {} jobs, {:.2} s, {:.0} rows/s",
            report.symbols,
            report.years,
            report.store,
            report.rows,
            report.jobs,
            report.seconds,
            report.rows_per_second
        );
    }
    Ok(())
}
