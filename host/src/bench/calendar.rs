//! `tickstock bench calendar`: warm ns per query (is_open, status, next_open, next_close)
//! on random instants, and the cold build of one exchange-year through the plugin.
//! `cargo bench --bench calendar` measures the same queries under criterion; both draw
//! their instants from `random_instants`, and the peer script in host/benches/peers/
//! draws the same ones with the same generator.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone as _, Utc};

use crate::calendar::{Calendar, CalendarError, CalendarSpec};
use crate::exchanges::Exchanges;
use crate::plugin::PluginKind;

/// Warm and cold figures for each of `mics` (default XNYS and XTKS: one without and one
/// with a lunch break).
pub fn measure(
    exchanges: &Exchanges,
    mics: &[String],
    queries: usize,
    seed: u64,
) -> anyhow::Result<Vec<CalendarReport>> {
    let default_mics = ["XNYS".to_string(), "XTKS".to_string()];
    let mics = if mics.is_empty() { &default_mics[..] } else { mics };
    mics.iter().map(|mic| calendar_report(exchanges, mic, queries.max(1), seed)).collect()
}

/// The instants benchmarks query: uniform over 2000-01-01..2030-12-01 UTC, whole minutes
/// (so the minute-based peer library gets the very same ones), clipped to the years each
/// calendar covers by `bench_range`.
pub const BENCH_RANGE: (NaiveDate, NaiveDate) = (
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date"),
    NaiveDate::from_ymd_opt(2030, 12, 1).expect("valid date"),
);

/// The instants to query `spec`'s calendar at: `BENCH_RANGE` clipped to the years the
/// calendar covers. Midnight UTC on 2000-01-01 is still 1999 in New York, a year XNYS does
/// not cover, so an unclipped range fails on its first evening; XTSE starts in 2010. The
/// last covered year is left out of the range so that `next_open` and `next_close` of the
/// latest instant still land inside the calendar. host/benches/peers/exchange_calendars.py
/// clips the same way.
pub fn bench_range(spec: &CalendarSpec) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let new_year_utc = |year: i32| -> anyhow::Result<DateTime<Utc>> {
        let midnight = NaiveDate::from_ymd_opt(year, 1, 1)
            .with_context(|| format!("{}: year {year} has no January 1st", spec.mic))?
            .and_time(chrono::NaiveTime::MIN);
        let local = spec.timezone.from_local_datetime(&midnight);
        let local = local.earliest().with_context(|| format!("{}: no local midnight on {year}-01-01", spec.mic))?;
        Ok(local.with_timezone(&Utc))
    };
    let utc_midnight = |date: NaiveDate| date.and_time(chrono::NaiveTime::MIN).and_utc();
    let start = utc_midnight(BENCH_RANGE.0).max(new_year_utc(spec.first_year)?);
    let end = utc_midnight(BENCH_RANGE.1).min(new_year_utc(spec.last_year)?);
    anyhow::ensure!(
        start < end,
        "{}: its years {}..={} leave no instant of 2000-01-01..2030-12-01 to benchmark; pick another exchange",
        spec.mic,
        spec.first_year,
        spec.last_year
    );
    Ok((start, end))
}

/// `count` pseudo-random whole-minute instants in `[range.0, range.1)`, from xorshift64*
/// seeded with `seed`. host/benches/peers/exchange_calendars.py implements the same
/// generator.
pub fn random_instants(range: (DateTime<Utc>, DateTime<Utc>), seed: u64, count: usize) -> Vec<DateTime<Utc>> {
    let start = range.0.timestamp();
    let minutes = ((range.1.timestamp() - start) / 60).max(1) as u64;
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
    let instants = random_instants(bench_range(calendar.spec())?, seed, queries);
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

pub fn print_calendar_reports(reports: &[CalendarReport]) {
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
