//! The store's write benchmark: N symbols x M daily sessions of synthetic bars written
//! through [`Store::write_bars`], one transaction per job of `symbols_per_job` symbols
//! (the loader's workers write a job in one transaction, and the default `fixed` policy
//! puts 100 symbols in a job), next to a plain bulk insert of the same rows in the same run: multi-row `INSERT` in
//! one transaction on SQLite, binary `COPY FROM STDIN` on PostgreSQL. Each side gets a fresh
//! database (file or schema) so neither warms the other's pages.
//!
//! Library code rather than a test: numbers belong in benchmarks, never in timed tests. Run by
//! `cargo bench --bench store`; the CLI may expose it as `tickstock bench store`.

use std::time::Instant;

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::calendar::Session;
use crate::provider::FetchRequest;
use crate::provider::synthetic::synthetic_bars;
use crate::store::Bar;
use crate::store::{Store, StoreError, Timeframe};

/// What to write.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BenchShape {
    pub symbols: usize,
    /// Daily sessions per symbol (252 a year).
    pub sessions: usize,
    /// Concurrent writers through the store (the loader's workers). SQLite serialises
    /// writers anyway; PostgreSQL can overlap them.
    pub writers: usize,
    /// Symbols written per `write_bars` call, i.e. per transaction: a job's worth.
    pub symbols_per_job: usize,
}

impl BenchShape {
    /// The target of the issue: 1000 symbols x 5 years of daily bars, in jobs of 100
    /// symbols as the default policy plans them.
    pub const THOUSAND_SYMBOLS_FIVE_YEARS: BenchShape =
        BenchShape { symbols: 1000, sessions: 1260, writers: 1, symbols_per_job: 100 };
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub backend: &'static str,
    pub shape: BenchShape,
    pub rows: usize,
    /// Generating the synthetic bars (not part of either write figure).
    pub generate_seconds: f64,
    /// All symbols through `write_bars`, one transaction per job, into an empty store.
    pub store_write_seconds: f64,
    /// The same bars again (every row already there): the cost of a re-delivered load.
    pub store_rewrite_seconds: f64,
    /// The plain bulk insert of the same rows into an empty table of the same shape.
    pub raw_insert_seconds: f64,
    pub store_rows_per_second: f64,
    pub raw_rows_per_second: f64,
    /// store rows/s divided by raw rows/s.
    pub store_to_raw_ratio: f64,
}

/// Runs the benchmark on two fresh stores that `open_fresh` returns (called twice; the
/// first is written through the store, the second by the raw insert).
pub async fn run<Open, OpenFuture>(shape: BenchShape, open_fresh: Open) -> Result<BenchReport, StoreError>
where
    Open: Fn(&'static str) -> OpenFuture,
    OpenFuture: Future<Output = Result<Store, StoreError>>,
{
    let generate_started = Instant::now();
    let sessions = weekday_sessions(shape.sessions);
    let observed_at = sessions.last().map(|session| session.close + Duration::days(1)).unwrap_or_default();
    let symbols: Vec<Vec<Bar>> = (0..shape.symbols)
        .map(|index| {
            let symbol = format!("SYN{index:05}");
            synthetic_bars(&FetchRequest {
                symbol: &symbol,
                exchange: "XNYS",
                timeframe: Timeframe::Daily,
                sessions: &sessions,
                observed_at,
            })
        })
        .collect();
    let jobs: Vec<Vec<Bar>> = symbols.chunks(shape.symbols_per_job.max(1)).map(|job| job.concat()).collect();
    drop(symbols);
    let generate_seconds = generate_started.elapsed().as_secs_f64();
    let rows: usize = jobs.iter().map(Vec::len).sum();

    let store = open_fresh("store").await?;
    let write_started = Instant::now();
    write_jobs(&store, &jobs, shape.writers).await?;
    let store_write_seconds = write_started.elapsed().as_secs_f64();
    let rewrite_started = Instant::now();
    write_jobs(&store, &jobs, shape.writers).await?;
    let store_rewrite_seconds = rewrite_started.elapsed().as_secs_f64();
    let backend = store.backend_name();
    store.close().await;

    let raw = open_fresh("raw").await?;
    let raw_started = Instant::now();
    raw.raw_bulk_insert(&jobs).await?;
    let raw_insert_seconds = raw_started.elapsed().as_secs_f64();
    raw.close().await;

    let store_rows_per_second = rows as f64 / store_write_seconds;
    let raw_rows_per_second = rows as f64 / raw_insert_seconds;
    Ok(BenchReport {
        backend,
        shape,
        rows,
        generate_seconds,
        store_write_seconds,
        store_rewrite_seconds,
        raw_insert_seconds,
        store_rows_per_second,
        raw_rows_per_second,
        store_to_raw_ratio: store_rows_per_second / raw_rows_per_second,
    })
}

/// Writes every job through the store with `writers` concurrent tasks taking jobs in turn.
async fn write_jobs(store: &Store, jobs: &[Vec<Bar>], writers: usize) -> Result<(), StoreError> {
    let writers = writers.max(1);
    let next_job = std::sync::atomic::AtomicUsize::new(0);
    let writer = || async {
        loop {
            let index = next_job.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(job) = jobs.get(index) else { return Ok::<(), StoreError>(()) };
            store.write_bars(job).await?;
        }
    };
    let outcomes = futures_join_all((0..writers).map(|_| writer())).await;
    outcomes.into_iter().collect()
}

/// Runs futures concurrently on the current task (no spawn, so they may borrow).
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|output| output.expect("every future completed")).collect()
}

/// `count` New-York-like sessions on consecutive weekdays from 2019-01-02: the shape of
/// five years of daily bars without needing a calendar plugin in a store benchmark.
fn weekday_sessions(count: usize) -> Vec<Session> {
    let first = NaiveDate::from_ymd_opt(2019, 1, 2).expect("valid date");
    first
        .iter_days()
        .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        .take(count)
        .map(|date| {
            let open = date.and_hms_opt(14, 30, 0).expect("valid time").and_utc();
            Session { date, open, close: open + Duration::minutes(390), lunch_break: None }
        })
        .collect()
}
