//! SQLite backend: one file, WAL mode, instants as INTEGER Unix seconds.
//!
//! Bulk writes are multi-row `INSERT ... ON CONFLICT DO UPDATE` statements of
//! [`ROWS_PER_STATEMENT`] rows inside one transaction. One statement per row would cost a
//! round trip to sqlx's SQLite worker thread per bar, which dominated a 1.26 M-bar load;
//! a JSON-array parameter unpacked by `json_each` was the other option, but it makes
//! SQLite parse text it was just handed as typed values.
//!
//! `synchronous = NORMAL` in WAL mode: a committed transaction survives the process being
//! killed (the case the loader cares about: kill -9, crash); only a power cut can lose the
//! last commits, never corrupt the file. `FULL` would fsync on every job's commit.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::sql::{COUNT_BARS, DELETE_DATASET_META, ORDER_BARS, SELECT_BARS, SELECT_DATASET_META, push_selection};
use super::{Bar, BarSelection, KeepWindow, StampQuery, StoreError, Timeframe, WriteSummary};
use crate::gaps::BarStamp;

/// The tables of the SQLite file `options` names, read on one read-only connection.
async fn existing_tables(options: SqliteConnectOptions) -> Result<Vec<String>, sqlx::Error> {
    use sqlx::Connection as _;
    let mut connection =
        sqlx::SqliteConnection::connect_with(&options.read_only(true).create_if_missing(false)).await?;
    let tables = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .fetch_all(&mut connection)
        .await;
    let _ = connection.close().await;
    tables
}

/// A file with tables but not our `bars` table belongs to someone else.
fn refuse_foreign(shown: &str, tables: &[String]) -> Result<(), StoreError> {
    if tables.is_empty() || tables.iter().any(|table| table == "bars") {
        return Ok(());
    }
    let mut named: Vec<String> = tables.iter().take(3).map(|table| crate::text::quoted_prefix(table, 32)).collect();
    if tables.len() > 3 {
        named.push(format!("and {} more", tables.len() - 3));
    }
    Err(StoreError::NotOurs { location: shown.to_string(), tables: named.join(", ") })
}

/// Rows per INSERT statement: 10 bound values each, far below SQLite's 32766-parameter
/// limit; larger statements measured no faster.
const ROWS_PER_STATEMENT: usize = 200;

/// How long a writer waits for another connection's write lock before failing. Workers
/// that write jobs concurrently queue on SQLite's single writer lock; they should wait,
/// not fail, while a job commits.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    location: String,
}

/// Brings `pool`'s database to the current schema (the embedded migrations).
async fn migrate(pool: &SqlitePool, shown: &str) -> Result<(), StoreError> {
    super::migrations::sqlite_migrator()
        .await
        .run(pool)
        .await
        .map_err(|source| StoreError::Migrate { location: shown.to_string(), source })
}

impl SqliteStore {
    pub(super) async fn open(location: &str) -> Result<SqliteStore, StoreError> {
        let shown = crate::redact::redact_url(location);
        let open_error = |source| StoreError::Open { location: shown.clone(), source };
        // A file that exists is read before it is changed: WAL mode and our migrations go
        // only into an empty file or one of ours, never into someone else's database.
        if !location.starts_with("sqlite:") && std::path::Path::new(location).exists() {
            let tables = existing_tables(SqliteConnectOptions::new().filename(location)).await.map_err(open_error)?;
            refuse_foreign(&shown, &tables)?;
        }
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location).map_err(open_error)?
        } else {
            SqliteConnectOptions::new().filename(location)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            // 64 MiB page cache per connection: bulk loads touch the B-tree's upper
            // levels constantly; the default 2 MiB makes them re-read pages.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            // SQLite has one writer at a time; more connections only help readers.
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        migrate(&pool, &shown).await?;
        Ok(SqliteStore { pool, location: shown })
    }

    /// Opens an existing store to read, changing nothing (no WAL switch, no migration):
    /// None when there is nothing stored (no file, or an empty one).
    pub(super) async fn open_read_only(location: &str) -> Result<Option<SqliteStore>, StoreError> {
        let shown = crate::redact::redact_url(location);
        let open_error = |source| StoreError::Open { location: shown.clone(), source };
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location).map_err(open_error)?
        } else if std::path::Path::new(location).exists() {
            SqliteConnectOptions::new().filename(location)
        } else {
            return Ok(None);
        };
        let options = options.read_only(true).create_if_missing(false).busy_timeout(BUSY_TIMEOUT);
        let tables = existing_tables(options.clone()).await.map_err(open_error)?;
        if tables.is_empty() {
            return Ok(None);
        }
        refuse_foreign(&shown, &tables)?;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(open_error)?;
        Ok(Some(SqliteStore { pool, location: shown }))
    }

    /// A store with nothing in it, in memory: what a dry run against a missing store reads.
    pub(super) async fn nothing_stored(shown: String) -> Result<SqliteStore, StoreError> {
        let open_error = |source| StoreError::Open { location: shown.clone(), source };
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(open_error)?;
        // One connection kept for the pool's life: every in-memory connection is its own
        // empty database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        migrate(&pool, &shown).await?;
        Ok(SqliteStore { pool, location: shown })
    }

    pub(super) fn location(&self) -> &str {
        &self.location
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    /// A connection from the pool, for the ledger's reads and writes.
    pub(super) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(|source| StoreError::Database { operation: "opening a connection", source })
    }

    /// A transaction, for the ledger's writes of several statements.
    pub(super) async fn begin(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(|source| StoreError::Database { operation: "beginning a transaction", source })
    }

    /// Upserts `bars` and, when they are a job's, records the job done in the ledger, in
    /// one transaction.
    pub(super) async fn write_bars(
        &self,
        bars: &[Bar],
        job: Option<(super::ledger::JobRef<'_>, &[super::ledger::LedgerJob])>,
        complete: &[super::CompleteSession],
    ) -> Result<WriteSummary, StoreError> {
        let database = |operation| move |source| StoreError::Database { operation, source };
        let mut transaction = self.pool.begin().await.map_err(database("beginning a write"))?;
        let mut rows_written = 0;
        for chunk in bars.chunks(ROWS_PER_STATEMENT) {
            // Every full chunk shares one SQL text, so sqlx prepares it once per connection.
            static FULL_CHUNK: OnceLock<String> = OnceLock::new();
            let remainder_text;
            let statement_text: &str = if chunk.len() == ROWS_PER_STATEMENT {
                FULL_CHUNK.get_or_init(|| upsert_statement(ROWS_PER_STATEMENT))
            } else {
                remainder_text = upsert_statement(chunk.len());
                &remainder_text
            };
            let query = bind_rows(sqlx::query(statement_text), chunk);
            let result = query.execute(&mut *transaction).await.map_err(database("writing bars"))?;
            rows_written += result.rows_affected();
        }
        if let Some((job, split)) = job {
            let settlement =
                super::ledger::Settlement { job, outcome: super::ledger::Settled::Done { rows: rows_written }, split };
            super::ledger::sqlite::settle(&mut transaction, &settlement, Utc::now()).await?;
        }
        super::sessions::sqlite::record(&mut transaction, complete).await?;
        transaction.commit().await.map_err(database("committing bars"))?;
        Ok(WriteSummary { bars_received: bars.len() as u64, rows_written })
    }

    pub(super) async fn count_bars(&self, selection: &BarSelection) -> Result<u64, StoreError> {
        let mut builder = QueryBuilder::<Sqlite>::new(COUNT_BARS);
        push_selection(&mut builder, selection, |instant| instant.timestamp());
        let count: i64 = builder
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(|source| StoreError::Database { operation: "counting bars", source })?;
        Ok(count as u64)
    }

    pub(super) async fn read_bars(&self, selection: &BarSelection) -> Result<Vec<Bar>, StoreError> {
        let mut builder = QueryBuilder::<Sqlite>::new(SELECT_BARS);
        push_selection(&mut builder, selection, |instant| instant.timestamp());
        builder.push(ORDER_BARS);
        let rows = builder
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|source| StoreError::Database { operation: "reading bars", source })?;
        rows.iter().map(bar_from_row).collect()
    }

    pub(super) async fn delete_outside(&self, window: &KeepWindow) -> Result<u64, StoreError> {
        let database = |operation| move |source| StoreError::Database { operation, source };
        let mut transaction = self.pool.begin().await.map_err(database("beginning a delete"))?;
        // The complete-session cache goes with the bars it describes, in one transaction.
        super::sessions::sqlite::forget_outside(
            &mut transaction,
            window.timeframe,
            window.start_from,
            window.start_before,
        )
        .await?;
        let result = sqlx::query("DELETE FROM bars WHERE timeframe = ? AND (bar_start < ? OR bar_start >= ?)")
            .bind(window.timeframe.as_str())
            .bind(window.start_from.timestamp())
            .bind(window.start_before.timestamp())
            .execute(&mut *transaction)
            .await
            .map_err(database("deleting bars outside the window"))?;
        transaction.commit().await.map_err(database("committing a delete"))?;
        Ok(result.rows_affected())
    }

    pub(super) async fn replace_dataset_meta(&self, entries: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let database = |operation| move |source| StoreError::Database { operation, source };
        let mut transaction = self.pool.begin().await.map_err(database("beginning a metadata write"))?;
        sqlx::query(DELETE_DATASET_META)
            .execute(&mut *transaction)
            .await
            .map_err(database("clearing dataset metadata"))?;
        for (key, value) in entries {
            sqlx::query("INSERT INTO dataset_meta (key, value) VALUES (?, ?)")
                .bind(key.as_str())
                .bind(value.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(database("writing dataset metadata"))?;
        }
        transaction.commit().await.map_err(database("committing dataset metadata"))
    }

    pub(super) async fn dataset_meta(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(SELECT_DATASET_META)
            .fetch_all(&self.pool)
            .await
            .map_err(|source| StoreError::Database { operation: "reading dataset metadata", source })?;
        Ok(rows.into_iter().collect())
    }

    pub(super) async fn bar_stamps(&self, query: &StampQuery<'_>) -> Result<Vec<(String, BarStamp)>, StoreError> {
        let mut builder =
            QueryBuilder::<Sqlite>::new("SELECT symbol, bar_start, written_at FROM bars WHERE exchange = ");
        builder.push_bind(query.exchange);
        builder.push(" AND timeframe = ").push_bind(query.timeframe.as_str());
        builder.push(" AND bar_start >= ").push_bind(query.start_from.timestamp());
        builder.push(" AND bar_start < ").push_bind(query.start_before.timestamp());
        builder.push(" AND symbol IN (");
        let mut separated = builder.separated(", ");
        for symbol in query.symbols {
            separated.push_bind(symbol.as_str());
        }
        builder.push(")");
        let rows = builder
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|source| StoreError::Database { operation: "reading stored bar stamps for gaps", source })?;
        rows.iter()
            .map(|row| {
                let symbol: String = row.get(0);
                Ok((symbol, BarStamp { start: instant(row.get(1))?, written_at: instant(row.get(2))? }))
            })
            .collect()
    }

    /// The benchmark's anchor: the same rows by plain multi-row `INSERT` (no conflict
    /// handling, no validation) in one transaction, into a table of the same shape.
    pub(super) async fn raw_bulk_insert(&self, jobs: &[Vec<Bar>]) -> Result<(), StoreError> {
        let database = |operation| move |source| StoreError::Database { operation, source };
        let table = include_str!("../../migrations/sqlite/0001_bars.sql")
            .replace("CREATE TABLE bars", "CREATE TABLE bench_raw_bars");
        sqlx::raw_sql(&table).execute(&self.pool).await.map_err(database("creating the benchmark table"))?;
        let statement = |rows: usize| {
            let mut text = upsert_statement(rows);
            text.truncate(text.find(" ON CONFLICT").expect("the upsert has a conflict clause"));
            text.replacen("INSERT INTO bars", "INSERT INTO bench_raw_bars", 1)
        };
        let full_chunk = statement(ROWS_PER_STATEMENT);
        let mut transaction = self.pool.begin().await.map_err(database("beginning a write"))?;
        for job in jobs {
            for chunk in job.chunks(ROWS_PER_STATEMENT) {
                let remainder_text;
                let statement_text: &str = if chunk.len() == ROWS_PER_STATEMENT {
                    &full_chunk
                } else {
                    remainder_text = statement(chunk.len());
                    &remainder_text
                };
                let query = bind_rows(sqlx::query(statement_text), chunk);
                query.execute(&mut *transaction).await.map_err(database("bulk inserting benchmark rows"))?;
            }
        }
        transaction.commit().await.map_err(database("committing benchmark rows"))?;
        Ok(())
    }
}

/// Binds `bars` to a multi-row statement's placeholders, ten per bar in column order
/// (instants as Unix seconds); shared by the upsert and the benchmark's raw insert so the
/// two write exactly the same values.
fn bind_rows<'query>(
    mut query: sqlx::query::Query<'query, Sqlite, sqlx::sqlite::SqliteArguments<'query>>,
    bars: &'query [Bar],
) -> sqlx::query::Query<'query, Sqlite, sqlx::sqlite::SqliteArguments<'query>> {
    for bar in bars {
        query = query
            .bind(bar.symbol.as_str())
            .bind(bar.exchange.as_str())
            .bind(bar.timeframe.as_str())
            .bind(bar.start.timestamp())
            .bind(bar.open)
            .bind(bar.high)
            .bind(bar.low)
            .bind(bar.close)
            .bind(bar.volume)
            .bind(bar.written_at.timestamp());
    }
    query
}

fn upsert_statement(rows: usize) -> String {
    let mut text = String::with_capacity(200 + rows * 24);
    text.push_str(
        "INSERT INTO bars (symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            text.push(',');
        }
        text.push_str("(?,?,?,?,?,?,?,?,?,?)");
    }
    // Replace only with an observation at least as new, and skip rows that would not
    // change: a re-delivered job then rewrites no page at all instead of every row.
    text.push_str(
        " ON CONFLICT (symbol, exchange, timeframe, bar_start) DO UPDATE SET \
         open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, \
         volume = excluded.volume, written_at = excluded.written_at \
         WHERE excluded.written_at >= bars.written_at \
         AND (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.written_at) \
         IS NOT (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.written_at)",
    );
    text
}

fn instant(unix_seconds: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(unix_seconds, 0)
        .ok_or_else(|| StoreError::CorruptRow(format!("instant {unix_seconds} is out of range")))
}

fn bar_from_row(row: &SqliteRow) -> Result<Bar, StoreError> {
    let timeframe_text: String = row.get(2);
    Ok(Bar {
        symbol: row.get(0),
        exchange: row.get(1),
        timeframe: Timeframe::from_str(&timeframe_text).map_err(|error| StoreError::CorruptRow(error.to_string()))?,
        start: instant(row.get(3))?,
        open: row.get(4),
        high: row.get(5),
        low: row.get(6),
        close: row.get(7),
        volume: row.get(8),
        written_at: instant(row.get(9))?,
    })
}
