//! The bar store: where loaded bars live, in SQLite (the embedded default, one file) or
//! PostgreSQL (production, or one schema per development dataset).
//!
//! Invariants every caller may rely on:
//! - **One key per bar**: (symbol, exchange, timeframe, bar start). A daily bar's start is
//!   its *session date at 00:00 UTC*, never the session's open instant, so the key does
//!   not depend on the exchange's hours and a calendar correction never orphans rows.
//!   A minute bar's start is the UTC instant the minute begins.
//! - **`written_at` is when the data was observed** (the provider stamps the time it was
//!   asked, before fetching), not when the row was committed. A daily bar is *final* iff
//!   `written_at >= its session's close`; a minute bar iff `written_at >= start + 1 min`.
//!   Anything else is *stale* and counts as a gap.
//! - **One call to [`Store::write_bars`] is one transaction**: after a crash, a kill -9
//!   or a constraint violation either every bar of the call is stored or none is.
//! - **Writes are idempotent upserts that never go back in time**: writing the same bars
//!   again leaves the same rows, and a row is only replaced by a write whose `written_at`
//!   is at least as new, so a re-delivered old job cannot turn a final bar stale again.
//! - **Gaps are computed per symbol batch with one query**, never per day: the store reads
//!   the stamps of the stored bars in the range and [`crate::gaps`] (pure) does the rest.
//!
//! The two backends sit behind one enum rather than a trait object: there are exactly two,
//! the SQL differs in every method anyway, and an enum keeps `Store` `Clone` and cheap.
//!
//! Depends on the core (`bar`, `calendar`, `gaps`, `plan`) and sqlx; never on `provider`,
//! `queue`, `plugin` or edges.

mod ledger;
mod migrations;
mod postgres;
mod sessions;
mod sql;
mod sqlite;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar::Session;
use crate::gaps;

/// File used when neither `--db` nor `TICKSTOCK_DB` names a store.
pub const DEFAULT_SQLITE_FILE: &str = "tickstock.db";

/// Environment variable naming the store (a path, `sqlite:` URL or `postgres://` URL).
pub const DB_ENVIRONMENT_VARIABLE: &str = "TICKSTOCK_DB";

/// How many symbols one gap query covers. Bounded so a SQLite `IN (...)` list stays far
/// below the bound-parameter limit and one batch's rows fit comfortably in memory.
const GAP_SYMBOL_BATCH: usize = 500;

// The timeframe is a core type (`plan`), shared with plans, queue payloads and
// providers; the store adds nothing to it.
pub use crate::plan::{Timeframe, UnknownTimeframe};

// A bar is a core domain type; the store is where it lives.
pub use crate::bar::Bar;

pub use sessions::CompleteSession;

pub use ledger::{
    DeadJobRecord, JobRef, JobState, LedgerJob, LedgerTotals, LoadRecord, LoadState, MAX_DEAD_LISTED, MAX_LOADS_LISTED,
    NewLoad, Settled, Settlement, TierCounts,
};

/// What one [`Store::write_bars`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteSummary {
    /// Distinct bars in the call (duplicates of one key inside a call count once).
    pub bars_received: u64,
    /// Rows inserted or changed. Lower than `bars_received` when some stored rows were
    /// newer than the incoming ones (and so were kept) or already identical.
    pub rows_written: u64,
}

/// Which bars a count, read or delete applies to. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BarSelection {
    pub symbol: Option<String>,
    pub exchange: Option<String>,
    pub timeframe: Option<Timeframe>,
    /// Inclusive lower bound on the bar start.
    pub start_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the bar start.
    pub start_before: Option<DateTime<Utc>>,
}

/// The bars to keep when trimming a dataset ([`Store::delete_outside`]): bars of
/// `timeframe` starting in `[start_from, start_before)`. Other timeframes are untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepWindow {
    pub timeframe: Timeframe,
    pub start_from: DateTime<Utc>,
    pub start_before: DateTime<Utc>,
}

/// The question gap detection answers: which of these sessions lack a final bar for
/// each symbol? `sessions` come from the calendar for the requested date range (sorted
/// by date, as the calendar returns them).
#[derive(Debug, Clone, Copy)]
pub struct GapRequest<'a> {
    pub exchange: &'a str,
    pub timeframe: Timeframe,
    pub symbols: &'a [String],
    pub sessions: &'a [Session],
}

/// A run of consecutive expected sessions with no final bar, for one symbol. Holidays and
/// weekends between the sessions do not split a gap: they are not sessions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SymbolGap {
    pub symbol: String,
    pub first_session: NaiveDate,
    pub last_session: NaiveDate,
    /// How many sessions the gap spans.
    pub session_count: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {location}: {source}")]
    Open { location: String, source: sqlx::Error },
    #[error("cannot open the store at {location}: no answer within {} seconds; is the server up and the address right?", .timeout.as_secs())]
    OpenTimedOut { location: String, timeout: std::time::Duration },
    #[error(
        "the store URL {location} names no database: add one (postgres://host:5432/tickstock), so bars never land in the server's default database"
    )]
    NoDatabaseName { location: String },
    #[error(
        "{location} is not a tickstock store (it holds other tables: {tables}); it was left untouched: give another --db"
    )]
    NotOurs { location: String, tables: String },
    #[error("cannot apply the store's migrations at {location}: {source}")]
    Migrate { location: String, source: sqlx::migrate::MigrateError },
    #[error(
        "invalid PostgreSQL schema name {0:?}: use lowercase ASCII letters, digits and `_`, \
         starting with a letter, at most 63 characters"
    )]
    InvalidSchemaName(String),
    #[error("bar {index} of the batch ({symbol} {timeframe} {start}) is invalid, nothing was written: {reason}")]
    InvalidBar { index: usize, symbol: String, timeframe: Timeframe, start: DateTime<Utc>, reason: String },
    #[error("database error while {operation}: {source}")]
    Database { operation: &'static str, source: sqlx::Error },
    #[error("a stored row cannot be read back: {0}")]
    CorruptRow(String),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed (a busy or unreachable
    /// database) as opposed to a bug or bad input that will fail again.
    pub fn is_transient(&self) -> bool {
        let source = match self {
            StoreError::Open { source, .. } | StoreError::Database { source, .. } => source,
            _ => return false,
        };
        match source {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            sqlx::Error::Database(database_error) => {
                // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED. PostgreSQL: class 40
                // (serialization failure, deadlock), 53 (resources), 57P (shutdown).
                let code = database_error.code().map(|code| code.into_owned()).unwrap_or_default();
                matches!(code.as_str(), "5" | "6" | "517" | "261")
                    || code.starts_with("40")
                    || code.starts_with("53")
                    || code.starts_with("57P")
            }
            _ => false,
        }
    }
}

/// A handle on one bar store; cheap to clone (a connection pool inside).
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The benchmark's baseline, not a store operation: the same rows into a bare copy of
    /// the bars table by the backend's fastest bulk path (one multi-row `INSERT`
    /// transaction on SQLite, binary `COPY FROM STDIN` on PostgreSQL), without upsert semantics.
    pub async fn raw_bulk_insert(&self, jobs: &[Vec<Bar>]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlite.raw_bulk_insert(jobs).await,
            Backend::Postgres(postgres) => postgres.raw_bulk_copy(jobs).await,
        }
    }

    /// Opens (creating and migrating on first use) the store named by `location`:
    /// a `postgres://` or `postgresql://` URL (schema `public`), a `sqlite:` URL, or a
    /// plain file path for SQLite.
    pub async fn open(location: &str) -> Result<Store, StoreError> {
        let backend = if is_postgres_url(location) {
            Backend::Postgres(postgres::PostgresStore::open(location, None).await?)
        } else {
            Backend::Sqlite(sqlite::SqliteStore::open(location).await?)
        };
        Ok(Store { backend })
    }

    /// Opens the store at `location` to read only: no file is created, nothing migrated
    /// or written. A store that does not exist yet (no SQLite file, no tables in the
    /// PostgreSQL database) reads as empty. What a dry run (`tickstock plan`) uses.
    pub async fn open_read_only(location: &str) -> Result<Store, StoreError> {
        let backend = if is_postgres_url(location) {
            postgres::PostgresStore::open_read_only(location).await?.map(Backend::Postgres)
        } else {
            sqlite::SqliteStore::open_read_only(location).await?.map(Backend::Sqlite)
        };
        let backend = match backend {
            Some(backend) => backend,
            None => Backend::Sqlite(
                sqlite::SqliteStore::nothing_stored(format!(
                    "{} (nothing stored yet)",
                    crate::redact::redact_url(location)
                ))
                .await?,
            ),
        };
        Ok(Store { backend })
    }

    /// Opens the store in its own PostgreSQL schema (created if missing), as a
    /// development dataset or a test uses it: tables, migrations and rows all live in
    /// `schema`, invisible to other schemas.
    pub async fn open_schema(postgres_url: &str, schema: &str) -> Result<Store, StoreError> {
        validate_schema_name(schema)?;
        Ok(Store { backend: Backend::Postgres(postgres::PostgresStore::open(postgres_url, Some(schema)).await?) })
    }

    /// Drops a dataset's PostgreSQL schema and everything in it. Dropping a missing
    /// schema is not an error.
    pub async fn drop_schema(postgres_url: &str, schema: &str) -> Result<(), StoreError> {
        validate_schema_name(schema)?;
        postgres::drop_schema(postgres_url, schema).await
    }

    /// Where the store is, for messages (a PostgreSQL password is never shown).
    pub fn location(&self) -> &str {
        match &self.backend {
            Backend::Sqlite(store) => store.location(),
            Backend::Postgres(store) => store.location(),
        }
    }

    /// Upserts `bars` in one transaction. Every bar is validated first
    /// ([`Bar::invalid_reason`]); one invalid bar rejects the whole call unwritten.
    pub async fn write_bars(&self, bars: &[Bar]) -> Result<WriteSummary, StoreError> {
        self.write_bars_of(bars, None, &[]).await
    }

    /// Upserts a job's bars and records the job done in the ledger (with its rows, and the
    /// jobs split off it for its failing symbols) in the same transaction: the ledger says
    /// done exactly when the bars are there. `complete` names the minute sessions these
    /// bars cover completely with final bars (see `sessions`), recorded in the same
    /// transaction.
    pub async fn write_job(
        &self,
        bars: &[Bar],
        job: JobRef<'_>,
        split: &[LedgerJob],
        complete: &[CompleteSession],
    ) -> Result<WriteSummary, StoreError> {
        self.write_bars_of(bars, Some((job, split)), complete).await
    }

    async fn write_bars_of(
        &self,
        bars: &[Bar],
        job: Option<(JobRef<'_>, &[LedgerJob])>,
        complete: &[CompleteSession],
    ) -> Result<WriteSummary, StoreError> {
        for (index, bar) in bars.iter().enumerate() {
            if let Some(reason) = bar.invalid_reason() {
                return Err(StoreError::InvalidBar {
                    index,
                    symbol: bar.symbol.clone(),
                    timeframe: bar.timeframe,
                    start: bar.start,
                    reason,
                });
            }
        }
        let deduplicated = keep_newest_per_key(bars);
        let bars: &[Bar] = deduplicated.as_deref().unwrap_or(bars);
        match &self.backend {
            Backend::Sqlite(store) => store.write_bars(bars, job, complete).await,
            Backend::Postgres(store) => store.write_bars(bars, job, complete).await,
        }
    }

    /// Number of stored bars matching `selection`.
    pub async fn count_bars(&self, selection: &BarSelection) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.count_bars(selection).await,
            Backend::Postgres(store) => store.count_bars(selection).await,
        }
    }

    /// Stored bars matching `selection`, ordered by symbol, exchange, timeframe, start.
    pub async fn read_bars(&self, selection: &BarSelection) -> Result<Vec<Bar>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.read_bars(selection).await,
            Backend::Postgres(store) => store.read_bars(selection).await,
        }
    }

    /// Deletes the bars of `window.timeframe` that start outside the window, in one
    /// transaction; returns how many were deleted. A refresh uses it to trim a rolling
    /// dataset.
    pub async fn delete_outside(&self, window: &KeepWindow) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.delete_outside(window).await,
            Backend::Postgres(store) => store.delete_outside(window).await,
        }
    }

    /// Replaces the dataset's metadata (table `dataset_meta`) with `entries`, in one
    /// transaction. `refresh` records the profile, its feature tags and its window there.
    pub async fn replace_dataset_meta(&self, entries: &BTreeMap<String, String>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.replace_dataset_meta(entries).await,
            Backend::Postgres(store) => store.replace_dataset_meta(entries).await,
        }
    }

    /// The dataset's metadata; empty for a store no refresh has written.
    pub async fn dataset_meta(&self) -> Result<BTreeMap<String, String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.dataset_meta().await,
            Backend::Postgres(store) => store.dataset_meta().await,
        }
    }

    /// Missing or stale ranges per symbol, coalesced into the fewest runs of consecutive
    /// sessions, ordered by symbol (as given) then date. A symbol with no gap yields
    /// nothing. Daily bars: one query per batch of symbols over their bars (one per
    /// session). Minute bars: the recorded complete sessions first (one row per session,
    /// see `sessions`), then the bars only of the sessions not recorded, so a rerun over
    /// loaded data reads rows per session, not per bar.
    pub async fn gaps(&self, request: &GapRequest<'_>) -> Result<Vec<SymbolGap>, StoreError> {
        let (Some(first_session), Some(last_session)) = (request.sessions.first(), request.sessions.last()) else {
            return Ok(Vec::new());
        };
        let mut all_gaps = Vec::new();
        for symbol_batch in request.symbols.chunks(GAP_SYMBOL_BATCH) {
            let mut present = match request.timeframe {
                Timeframe::Daily => self.present_in_bars(request, symbol_batch, first_session, last_session).await?,
                Timeframe::Minute => self.present_minute_sessions(request, symbol_batch).await?,
            };
            for symbol in symbol_batch {
                let present = present.remove(symbol).unwrap_or_else(|| vec![false; request.sessions.len()]);
                for range in gaps::coalesce_missing(&present) {
                    all_gaps.push(SymbolGap {
                        symbol: symbol.clone(),
                        first_session: request.sessions[range.start].date,
                        last_session: request.sessions[range.end - 1].date,
                        session_count: range.len(),
                    });
                }
            }
        }
        Ok(all_gaps)
    }

    /// For each symbol, which of the request's sessions have final bars, from the bars of
    /// the sessions `first..=last` (sessions outside are reported absent).
    async fn present_in_bars(
        &self,
        request: &GapRequest<'_>,
        symbols: &[String],
        first: &Session,
        last: &Session,
    ) -> Result<std::collections::HashMap<String, Vec<bool>>, StoreError> {
        // Bounds on bar starts that cover every expected bar: daily keys are midnights of
        // session dates, minute keys lie inside [open, close).
        let (start_from, start_before) = match request.timeframe {
            Timeframe::Daily => (
                Timeframe::daily_bar_start(first.date),
                Timeframe::daily_bar_start(last.date) + chrono::Duration::seconds(1),
            ),
            Timeframe::Minute => (first.open, last.close),
        };
        let query =
            StampQuery { exchange: request.exchange, timeframe: request.timeframe, symbols, start_from, start_before };
        let stamps = match &self.backend {
            Backend::Sqlite(store) => store.bar_stamps(&query).await?,
            Backend::Postgres(store) => store.bar_stamps(&query).await?,
        };
        let mut stamps_by_symbol: std::collections::HashMap<String, Vec<gaps::BarStamp>> =
            std::collections::HashMap::with_capacity(symbols.len());
        for (symbol, stamp) in stamps {
            stamps_by_symbol.entry(symbol).or_default().push(stamp);
        }
        Ok(symbols
            .iter()
            .map(|symbol| {
                let stamps = stamps_by_symbol.remove(symbol).unwrap_or_default();
                (symbol.clone(), gaps::sessions_with_final_bars(request.timeframe, request.sessions, &stamps))
            })
            .collect())
    }

    /// `present_in_bars` for minute bars, reading the recorded complete sessions first and
    /// the bars only of the span of sessions no record covers.
    async fn present_minute_sessions(
        &self,
        request: &GapRequest<'_>,
        symbols: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<bool>>, StoreError> {
        let expected = request.sessions;
        let (Some(first), Some(last)) = (expected.first(), expected.last()) else {
            return Ok(std::collections::HashMap::new());
        };
        let recorded = match &self.backend {
            Backend::Sqlite(store) => {
                sessions::sqlite::recorded(
                    &mut *store.connection().await?,
                    request.exchange,
                    request.timeframe,
                    symbols,
                    first.open,
                    last.close,
                )
                .await?
            }
            Backend::Postgres(store) => {
                sessions::postgres::recorded(
                    &mut *store.connection().await?,
                    request.exchange,
                    request.timeframe,
                    symbols,
                    first.open,
                    last.close,
                )
                .await?
            }
        };
        // A record counts only when it has the shape the calendar gives the session now.
        let shapes: Vec<sessions::SessionShape> = expected
            .iter()
            .map(|session| sessions::SessionShape::of(session, gaps::minute_bar_starts(session).count()))
            .collect();
        let index_by_open: std::collections::HashMap<i64, usize> =
            shapes.iter().enumerate().map(|(index, shape)| (shape.open, index)).collect();
        let mut present: std::collections::HashMap<String, Vec<bool>> =
            symbols.iter().map(|symbol| (symbol.clone(), vec![false; expected.len()])).collect();
        for (symbol, shape) in recorded {
            if let Some(&index) = index_by_open.get(&shape.open)
                && shapes[index] == shape
                && let Some(flags) = present.get_mut(&symbol)
            {
                flags[index] = true;
            }
        }
        // The rest from the bars, over the span of the sessions no record covers.
        let mut unrecorded: Vec<String> = Vec::new();
        let (mut span_first, mut span_last) = (usize::MAX, 0usize);
        for symbol in symbols {
            let flags = &present[symbol];
            if let (Some(first_missing), Some(last_missing)) =
                (flags.iter().position(|flag| !flag), flags.iter().rposition(|flag| !flag))
            {
                unrecorded.push(symbol.clone());
                span_first = span_first.min(first_missing);
                span_last = span_last.max(last_missing);
            }
        }
        if !unrecorded.is_empty() {
            let from_bars =
                self.present_in_bars(request, &unrecorded, &expected[span_first], &expected[span_last]).await?;
            for (symbol, found) in from_bars {
                if let Some(flags) = present.get_mut(&symbol) {
                    for (flag, found) in flags.iter_mut().zip(found) {
                        *flag |= found;
                    }
                }
            }
        }
        Ok(present)
    }

    /// Bytes the bars table takes with its indexes: its pages on SQLite (the `dbstat`
    /// table; the bars table is its own index), `pg_total_relation_size` on PostgreSQL.
    pub async fn bars_bytes(&self) -> Result<Option<u64>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => {
                let bytes: Option<i64> = sqlx::query_scalar("SELECT SUM(pgsize) FROM dbstat WHERE name = 'bars'")
                    .fetch_one(&mut *store.connection().await?)
                    .await
                    .map_err(|source| StoreError::Database { operation: "measuring the bars table", source })?;
                Ok(bytes.and_then(|bytes| u64::try_from(bytes).ok()))
            }
            Backend::Postgres(store) => {
                let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('bars')")
                    .fetch_one(&mut *store.connection().await?)
                    .await
                    .map_err(|source| StoreError::Database { operation: "measuring the bars table", source })?;
                Ok(u64::try_from(bytes).ok())
            }
        }
    }

    /// Up to `limit` symbols with bars of `exchange` and `timeframe`, in order, after
    /// `after` (exclusive; "" for the first page). A loose index scan: one primary-key
    /// probe per symbol, so its cost grows with the symbols listed, not with the bars.
    pub async fn symbols(
        &self,
        exchange: &str,
        timeframe: Timeframe,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        const SYMBOLS: &str = "WITH RECURSIVE found(symbol, n) AS ( \
                SELECT MIN(symbol), CAST(1 AS BIGINT) FROM bars \
                    WHERE symbol > $1 AND exchange = $2 AND timeframe = $3 \
                UNION ALL \
                SELECT (SELECT MIN(b.symbol) FROM bars b \
                        WHERE b.symbol > found.symbol AND b.exchange = $2 AND b.timeframe = $3), \
                       found.n + 1 \
                    FROM found WHERE found.symbol IS NOT NULL AND found.n < $4 \
            ) SELECT symbol FROM found WHERE symbol IS NOT NULL ORDER BY symbol";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let database = |source| StoreError::Database { operation: "listing stored symbols", source };
        match &self.backend {
            Backend::Sqlite(store) => sqlx::query_scalar(SYMBOLS)
                .bind(after)
                .bind(exchange)
                .bind(timeframe.as_str())
                .bind(limit)
                .fetch_all(&mut *store.connection().await?)
                .await
                .map_err(database),
            Backend::Postgres(store) => sqlx::query_scalar(SYMBOLS)
                .bind(after)
                .bind(exchange)
                .bind(timeframe.as_str())
                .bind(limit)
                .fetch_all(&mut *store.connection().await?)
                .await
                .map_err(database),
        }
    }

    /// Records a load and its planned jobs (all queued) in the ledger, in one transaction,
    /// before the jobs are enqueued. Recording the same load again changes nothing.
    pub async fn record_load(&self, load: &NewLoad) -> Result<(), StoreError> {
        let commit = |source| StoreError::Database { operation: "committing a load to the ledger", source };
        match &self.backend {
            Backend::Sqlite(store) => {
                let mut transaction = store.begin().await?;
                ledger::sqlite::record_load(&mut transaction, load).await?;
                transaction.commit().await.map_err(commit)
            }
            Backend::Postgres(store) => {
                let mut transaction = store.begin().await?;
                ledger::postgres::record_load(&mut transaction, load).await?;
                transaction.commit().await.map_err(commit)
            }
        }
    }

    /// Records a job's outcome that wrote no bars (retried, dead) and the jobs split off
    /// it, in one transaction. A job the ledger does not know changes nothing.
    pub async fn settle_job(&self, settlement: &Settlement<'_>) -> Result<(), StoreError> {
        let commit = |source| StoreError::Database { operation: "committing a job's outcome", source };
        let now = Utc::now();
        match &self.backend {
            Backend::Sqlite(store) => {
                let mut transaction = store.begin().await?;
                ledger::sqlite::settle(&mut transaction, settlement, now).await?;
                transaction.commit().await.map_err(commit)
            }
            Backend::Postgres(store) => {
                let mut transaction = store.begin().await?;
                ledger::postgres::settle(&mut transaction, settlement, now).await?;
                transaction.commit().await.map_err(commit)
            }
        }
    }

    /// Marks a load failed for a reason outside its jobs (they could not be enqueued).
    pub async fn fail_load(&self, load_id: &str, error: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        match &self.backend {
            Backend::Sqlite(store) => {
                ledger::sqlite::fail_load(&mut *store.connection().await?, load_id, error, now).await
            }
            Backend::Postgres(store) => {
                ledger::postgres::fail_load(&mut *store.connection().await?, load_id, error, now).await
            }
        }
    }

    /// One load with its counts per tier and its dead jobs; None when the ledger has no
    /// such load.
    pub async fn load_record(&self, load_id: &str) -> Result<Option<LoadRecord>, StoreError> {
        let now = Utc::now();
        match &self.backend {
            Backend::Sqlite(store) => ledger::sqlite::load(&mut *store.connection().await?, load_id, now).await,
            Backend::Postgres(store) => ledger::postgres::load(&mut *store.connection().await?, load_id, now).await,
        }
    }

    /// Up to `limit` loads (at most [`MAX_LOADS_LISTED`]), newest first; `before` pages on
    /// from a load id of the previous page.
    pub async fn list_loads(&self, limit: usize, before: Option<&str>) -> Result<Vec<LoadRecord>, StoreError> {
        let now = Utc::now();
        match &self.backend {
            Backend::Sqlite(store) => ledger::sqlite::list(&mut *store.connection().await?, limit, before, now).await,
            Backend::Postgres(store) => {
                ledger::postgres::list(&mut *store.connection().await?, limit, before, now).await
            }
        }
    }

    /// Up to `limit` dead jobs of every load, oldest first, with their payloads.
    pub async fn dead_jobs(&self, limit: usize) -> Result<Vec<DeadJobRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => ledger::sqlite::dead_jobs(&mut *store.connection().await?, limit).await,
            Backend::Postgres(store) => ledger::postgres::dead_jobs(&mut *store.connection().await?, limit).await,
        }
    }

    /// Jobs by state and rows written over every load, for `/metrics`.
    pub async fn ledger_totals(&self) -> Result<LedgerTotals, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => ledger::sqlite::totals(&mut *store.connection().await?).await,
            Backend::Postgres(store) => ledger::postgres::totals(&mut *store.connection().await?).await,
        }
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}

/// The store named by the environment (`TICKSTOCK_DB`) or the default file. The CLI's
/// `--db` flag, when given, takes precedence over both.
pub fn default_location() -> crate::redact::SecretUrl {
    crate::redact::SecretUrl::new(
        std::env::var(DB_ENVIRONMENT_VARIABLE)
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| DEFAULT_SQLITE_FILE.to_string()),
    )
}

/// Bounds of one stamp query: a symbol batch and a bar-start range `[from, before)`.
struct StampQuery<'a> {
    exchange: &'a str,
    timeframe: Timeframe,
    symbols: &'a [String],
    start_from: DateTime<Utc>,
    start_before: DateTime<Utc>,
}

fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Schema names are spliced into SQL (`CREATE SCHEMA`, `search_path`), which cannot take
/// them as bound parameters, so only a conservative alphabet is accepted.
fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut characters = schema.chars();
    let starts_with_letter = characters.next().is_some_and(|first| first.is_ascii_lowercase());
    let rest_ok = schema
        .chars()
        .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_');
    if starts_with_letter && rest_ok && schema.len() <= 63 {
        Ok(())
    } else {
        Err(StoreError::InvalidSchemaName(schema.to_string()))
    }
}

/// `None` when every key in `bars` is distinct (the usual case, no copy); otherwise one
/// bar per key, the newest `written_at` winning (the later one on a tie), in first-seen
/// order. PostgreSQL's `ON CONFLICT DO UPDATE` refuses to touch one row twice in a
/// statement, and the rule "never go back in time" should not depend on row order.
fn keep_newest_per_key(bars: &[Bar]) -> Option<Vec<Bar>> {
    use std::collections::HashMap;
    let mut index_by_key: HashMap<(&str, &str, Timeframe, DateTime<Utc>), usize> = HashMap::with_capacity(bars.len());
    let mut has_duplicates = false;
    for (index, bar) in bars.iter().enumerate() {
        let key = (bar.symbol.as_str(), bar.exchange.as_str(), bar.timeframe, bar.start);
        if let Some(kept) = index_by_key.get_mut(&key) {
            has_duplicates = true;
            if bars[*kept].written_at <= bar.written_at {
                *kept = index;
            }
        } else {
            index_by_key.insert(key, index);
        }
    }
    if !has_duplicates {
        return None;
    }
    let mut kept_indices: Vec<usize> = index_by_key.into_values().collect();
    kept_indices.sort_unstable();
    Some(kept_indices.into_iter().map(|index| bars[index].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(symbol: &str, day: u32, written_hour: u32) -> Bar {
        let date = NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
        Bar {
            symbol: symbol.into(),
            exchange: "XNYS".into(),
            timeframe: Timeframe::Daily,
            start: Timeframe::daily_bar_start(date),
            open: 10.0,
            high: 11.0,
            low: 9.0,
            close: 10.5,
            volume: 100,
            written_at: date.and_hms_opt(written_hour, 0, 0).unwrap().and_utc(),
        }
    }

    #[test]
    fn duplicate_keys_in_one_batch_keep_the_newest_observation() {
        let batch = vec![bar("A", 2, 22), bar("A", 3, 22), bar("A", 2, 15), bar("B", 2, 22)];
        let kept = keep_newest_per_key(&batch).expect("has duplicates");
        assert_eq!(kept, vec![bar("A", 2, 22), bar("A", 3, 22), bar("B", 2, 22)]);
        assert_eq!(keep_newest_per_key(&batch[..2]), None);
    }

    #[test]
    fn bars_breaking_ohlc_order_or_the_key_convention_are_invalid() {
        assert_eq!(bar("A", 2, 22).invalid_reason(), None);
        let mut high_below_close = bar("A", 2, 22);
        high_below_close.high = 10.0;
        assert!(high_below_close.invalid_reason().unwrap().contains("low <= open"));
        let mut daily_not_at_midnight = bar("A", 2, 22);
        daily_not_at_midnight.start += chrono::Duration::hours(14);
        assert!(daily_not_at_midnight.invalid_reason().unwrap().contains("midnight"));
        let mut negative_volume = bar("A", 2, 22);
        negative_volume.volume = -1;
        assert!(negative_volume.invalid_reason().is_some());
        let mut not_a_number = bar("A", 2, 22);
        not_a_number.open = f64::NAN;
        assert!(not_a_number.invalid_reason().is_some());
    }

    #[test]
    fn schema_names_outside_the_safe_alphabet_are_refused() {
        assert!(validate_schema_name("dataset_patterns_2").is_ok());
        for bad in ["", "2fast", "Upper", "a-b", "a;drop table bars", &"x".repeat(64)] {
            assert!(validate_schema_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
