//! `tickstock bench`: the figures the README quotes, measured by the binary itself so they
//! can be reproduced without a Rust toolchain. `cargo bench --bench calendar` measures the
//! same queries under criterion; both draw their instants from `random_instants`, and the
//! peer script in host/benches/peers/ draws the same ones with the same generator.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use clap::Subcommand;

use super::GlobalOptions;
use crate::calendar::{Calendar, CalendarError};
use crate::exchanges::Exchanges;
use crate::plugin::PluginKind;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Calendar engine: warm ns/query for is_open, status, next_open, next_close on random
    /// instants, and the cold build of one exchange-year through the plugin.
    Calendar {
        /// Exchanges to measure [default: XNYS and XTKS, one without and one with a lunch
        /// break].
        #[arg(long, value_delimiter = ',')]
        exchanges: Vec<String>,
        /// Queries per timed round; each figure is the median of several rounds.
        #[arg(long, default_value_t = 1_000_000)]
        queries: usize,
        /// Seed of the instant generator (the peer script takes the same one).
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// `tickstock serve`: time from a plugin file landing to its generation serving (p50,
    /// p95 over several swaps), and `/calendars/{mic}/status` throughput over loopback.
    Serve(super::bench_serve::ServeBenchArgs),
    /// Job queue: single submit latency p50/p99 and bulk submit jobs/s, in-process and
    /// (with `--queue [redis://...]`) Redis, beside `redis-benchmark` XADD on the same server.
    Queue(super::bench_queue::QueueBenchArgs),
    /// Plugins: cold compile, load from the artifact cache, and the cost of an empty call
    /// (fresh store, instantiate, call) for every built-in.
    Plugins {
        /// Empty calls timed per plugin.
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        #[arg(long)]
        json: bool,
    },
    /// The whole load path, N symbols x Y years of daily bars into a fresh store.
    Load(super::bench_load::LoadBenchArgs),
    /// Planning alone (what `POST /loads` does before it answers): N generated symbols x
    /// Y years of daily bars against an empty store, from the request to the checked jobs.
    Plan {
        /// Symbols in the request.
        #[arg(long, default_value_t = 100_000)]
        symbols: u64,
        #[arg(long, default_value_t = 1)]
        years: u32,
        /// Most symbols one request may hold, as `serve --max-symbols-per-request`.
        #[arg(long, default_value_t = crate::api::load::RequestLimits::default().max_symbols)]
        max_symbols_per_request: usize,
    },
}

pub fn run(options: &GlobalOptions, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Calendar { exchanges: mics, queries, seed, json } => {
            let exchanges = Exchanges::from_registry(super::open_registry(options)?);
            let mics = if mics.is_empty() { vec!["XNYS".to_string(), "XTKS".to_string()] } else { mics };
            let mut reports = Vec::new();
            for mic in &mics {
                reports.push(calendar_report(&exchanges, mic, queries.max(1), seed)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else {
                print_calendar_reports(&reports);
            }
            Ok(())
        }
        BenchCommand::Serve(args) => super::bench_serve::run(options, args),
        BenchCommand::Queue(args) => super::bench_queue::run(args),
        BenchCommand::Plugins { calls, json } => super::bench_plugins::run(options, calls, json),
        BenchCommand::Load(args) => super::bench_load::run(options, args),
        BenchCommand::Plan { symbols, years, max_symbols_per_request } => {
            plan_bench(options, symbols, years, max_symbols_per_request)
        }
    }
}

/// Times one plan of `symbols` x `years` against an empty store; a request over the cap
/// is timed up to its refusal, which is what a server does with it.
fn plan_bench(options: &GlobalOptions, symbols: u64, years: u32, max_symbols: usize) -> anyhow::Result<()> {
    use crate::api::load::{LoadSpec, RequestLimits, SymbolsSpec};
    let registry = super::open_registry(options)?;
    let spec = LoadSpec {
        symbols: SymbolsSpec::Count(symbols),
        exchange: None,
        from: None,
        to: Some("2024-12-31".into()),
        years: Some(years),
        timeframe: None,
        tier: None,
        policy: None,
        max_symbols_per_job: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let missing = tempfile::tempdir()?;
        let store = crate::store::Store::open_read_only(&missing.path().join("none.db").display().to_string()).await?;
        let started = Instant::now();
        let request = spec.to_request(Utc::now().date_naive(), &RequestLimits { max_symbols });
        let outcome = match request {
            Ok(request) => crate::load::plan_load(&registry, &store, &request).await.map_err(anyhow::Error::from),
            Err(error) => Err(error.into()),
        };
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(plan) => println!(
                "planned {symbols} symbols x {years} years in {seconds:.3} s: {} gaps, {} jobs, {} expected rows",
                plan.summary.gaps, plan.summary.jobs, plan.summary.expected_rows
            ),
            Err(error) => println!("refused {symbols} symbols x {years} years in {seconds:.3} s: {error}"),
        }
        store.close().await;
        anyhow::Ok(())
    })
}

/// The instants benchmarks query: uniform over 2000-01-01..2030-12-01 UTC, whole minutes
/// (so the minute-based peer library gets the very same ones).
pub const BENCH_RANGE: (NaiveDate, NaiveDate) = (
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"),
    NaiveDate::from_ymd_opt(2030, 12, 1).expect("valid date"),
);

/// `count` pseudo-random whole-minute instants in `BENCH_RANGE`, from xorshift64* seeded
/// with `seed`. host/benches/peers/exchange_calendars.py implements the same generator.
pub fn random_instants(seed: u64, count: usize) -> Vec<DateTime<Utc>> {
    let start = BENCH_RANGE.0.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    let end = BENCH_RANGE.1.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    let minutes = ((end - start) / 60) as u64;
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..count)
        .map(|_| {
            let minute = (next() % minutes) as i64;
            DateTime::from_timestamp(start + minute * 60, 0).expect("in range")
        })
        .collect()
}

/// A calendar of a fresh generation of the exchange's plugin: no year built yet, so the
/// next query of a year pays the plugin call and the build.
pub fn fresh_calendar(exchanges: &Exchanges, mic: &str) -> anyhow::Result<Calendar> {
    let generation = exchanges
        .registry()
        .get(PluginKind::Calendar, &mic.to_ascii_uppercase())
        .with_context(|| format!("unknown exchange {mic:?}; known exchanges: {}", exchanges.mics().join(", ")))?;
    Ok(crate::plugin::calendar::build_calendar(generation.callable())?)
}

/// A calendar that builds from special days already fetched: the engine's own share of a
/// cold year, without the plugin call.
pub fn engine_only_calendar(template: &Calendar, year: i32) -> Result<Calendar, CalendarError> {
    let special_days = template.special_days(year)?.to_vec();
    Calendar::new(template.spec().clone(), Box::new(move |_| Ok(special_days.clone())))
}

#[derive(Debug, serde::Serialize)]
pub struct CalendarReport {
    pub exchange: String,
    pub queries_per_round: usize,
    pub seed: u64,
    /// Share of the instants at which the exchange is open: a cross-check with the peer
    /// script, which reports the same figure for the same instants.
    pub open_share: f64,
    /// Median ns per warm query.
    pub warm_ns: WarmFigures,
    /// Median microseconds to build one exchange-year on a fresh generation, the plugin's
    /// `special-days` call (a fresh sandboxed instance) included.
    pub cold_year_through_plugin_us: f64,
    /// The same without the plugin call: the engine's build alone.
    pub cold_year_engine_only_us: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct WarmFigures {
    pub is_open: f64,
    pub status: f64,
    pub next_open: f64,
    pub next_close: f64,
}

const ROUNDS: usize = 5;
const COLD_SAMPLES: i32 = 15;

fn calendar_report(exchanges: &Exchanges, mic: &str, queries: usize, seed: u64) -> anyhow::Result<CalendarReport> {
    let calendar: Arc<Calendar> = exchanges.calendar(mic)?;
    let instants = random_instants(seed, queries);
    // Warm every year the instants touch before timing anything.
    let mut open_count = 0usize;
    for instant in &instants {
        calendar.status(*instant)?;
        open_count += calendar.is_open(*instant)? as usize;
    }
    let warm_ns = WarmFigures {
        is_open: median_ns_per_query(&instants, |at| calendar.is_open(at).map(|open| open as i64))?,
        status: median_ns_per_query(&instants, |at| {
            calendar.status(at).map(|status| matches!(status, crate::calendar::Status::Open { .. }) as i64)
        })?,
        next_open: median_ns_per_query(&instants, |at| calendar.next_open(at).map(|next| next.timestamp()))?,
        next_close: median_ns_per_query(&instants, |at| calendar.next_close(at).map(|next| next.timestamp()))?,
    };

    let first_year = calendar.spec().first_year.max(BENCH_RANGE.0.year());
    let years: Vec<i32> =
        (0..COLD_SAMPLES).map(|offset| first_year + offset).filter(|&year| year <= calendar.spec().last_year).collect();
    let mut through_plugin = Vec::new();
    let mut engine_only = Vec::new();
    for &year in &years {
        let fresh = fresh_calendar(exchanges, mic)?;
        let started = Instant::now();
        fresh.warm([year])?;
        through_plugin.push(started.elapsed());

        let engine = engine_only_calendar(&calendar, year)?;
        let started = Instant::now();
        engine.warm([year])?;
        engine_only.push(started.elapsed());
    }
    Ok(CalendarReport {
        exchange: calendar.mic().to_string(),
        queries_per_round: queries,
        seed,
        open_share: open_count as f64 / instants.len() as f64,
        warm_ns,
        cold_year_through_plugin_us: median(through_plugin).as_secs_f64() * 1e6,
        cold_year_engine_only_us: median(engine_only).as_secs_f64() * 1e6,
    })
}

/// Runs `query` over every instant `ROUNDS` times and returns the median round's ns per
/// query. The results are folded into a checksum passed to `black_box`, so the optimiser
/// cannot drop the calls.
fn median_ns_per_query(
    instants: &[DateTime<Utc>],
    query: impl Fn(DateTime<Utc>) -> Result<i64, CalendarError>,
) -> anyhow::Result<f64> {
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut checksum = 0i64;
        for &at in instants {
            checksum = checksum.wrapping_add(query(black_box(at))?);
        }
        black_box(checksum);
        rounds.push(started.elapsed());
    }
    Ok(median(rounds).as_nanos() as f64 / instants.len() as f64)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn print_calendar_reports(reports: &[CalendarReport]) {
    println!(
        "{:<8} {:>12} {:>12} {:>12} {:>12} {:>18} {:>18}",
        "EXCHANGE", "IS_OPEN ns", "STATUS ns", "NEXT_OPEN ns", "NEXT_CLOSE ns", "COLD YEAR us", "ENGINE ONLY us"
    );
    for report in reports {
        println!(
            "{:<8} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>18.1} {:>18.1}",
            report.exchange,
            report.warm_ns.is_open,
            report.warm_ns.status,
            report.warm_ns.next_open,
            report.warm_ns.next_close,
            report.cold_year_through_plugin_us,
            report.cold_year_engine_only_us,
        );
    }
}
