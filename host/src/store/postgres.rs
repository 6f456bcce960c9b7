//! PostgreSQL backend: `TIMESTAMPTZ` instants, one schema per dataset via `search_path`.
//!
//! Bulk writes take one of three paths inside the job's transaction:
//! - a batch of [`COPY_FROM_ROWS`] rows or more none of whose keys can be stored yet (no
//!   stored row of its symbols, exchanges and timeframes between its first and last
//!   start: a load filling gaps, the common case) goes by binary `COPY` straight into
//!   `bars`, as fast as a raw `COPY`. A writer racing it to the same keys makes the COPY
//!   fail on the primary key; that rolls back to a savepoint and takes the next path;
//! - any other batch of that size goes through binary `COPY` into a temporary staging
//!   table (made once per connection, emptied at every commit), then one set-based
//!   `INSERT ... SELECT ... ON CONFLICT DO UPDATE` with the upsert's rules;
//! - a smaller one is `INSERT ... SELECT * FROM UNNEST($1::text[], ...) ON CONFLICT DO
//!   UPDATE`, ten bound parameters whatever the row count, so one prepared statement and
//!   binary arrays on the wire, in one round trip.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Executor, PgConnection, Postgres, QueryBuilder, Row};

use super::sql::{COUNT_BARS, DELETE_DATASET_META, ORDER_BARS, SELECT_BARS, SELECT_DATASET_META, push_selection};
use crate::redact::redact_url;

use super::{Bar, BarSelection, KeepWindow, StampQuery, StoreError, Timeframe, WriteSummary};
use crate::gaps::BarStamp;

/// Rows per UNNEST statement: bounds the size of one message and of the server's
/// per-statement memory; a job of 5 years of daily bars fits in one.
const ROWS_PER_STATEMENT: usize = 20_000;

/// An update that would change nothing is skipped (`IS DISTINCT FROM`): a re-delivered
/// job then writes no new row versions, which on PostgreSQL would otherwise be dead
/// tuples for vacuum and WAL for every row.
const UPSERT: &str = "INSERT INTO bars (symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[], \
                          $7::float8[], $8::float8[], $9::int8[], $10::timestamptz[]) \
     ON CONFLICT (symbol, exchange, timeframe, bar_start) DO UPDATE SET \
     open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, \
     volume = excluded.volume, written_at = excluded.written_at \
     WHERE excluded.written_at >= bars.written_at \
     AND (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.written_at) \
     IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.written_at)";

/// Rows from which a write goes through binary `COPY` and one set-based upsert rather than
/// UNNEST statements: below it, the extra round trips of COPY cost more than they save.
/// At 1,000, the store benchmark's jobs (1,260 rows) take the COPY path (README, "Store
/// alone", has the figures before and after).
const COPY_FROM_ROWS: usize = 1_000;

/// Bytes of COPY data sent per message.
const COPY_BUFFER_BYTES: usize = 1 << 20;

/// The staging table of one connection: the bars' columns without their constraints (the
/// upsert out of it applies them), emptied at every commit.
const CREATE_STAGING: &str = "CREATE TEMPORARY TABLE bars_staging (\
     symbol TEXT, exchange TEXT, timeframe TEXT, bar_start TIMESTAMPTZ, open DOUBLE PRECISION, \
     high DOUBLE PRECISION, low DOUBLE PRECISION, close DOUBLE PRECISION, volume BIGINT, \
     written_at TIMESTAMPTZ) ON COMMIT DELETE ROWS";

/// [`UPSERT`]'s rules, from the staging table: replace only with an observation at least as
/// new, and skip rows that would not change.
const UPSERT_FROM_STAGING: &str = "INSERT INTO bars (symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at) \
     SELECT symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at FROM bars_staging \
     ON CONFLICT (symbol, exchange, timeframe, bar_start) DO UPDATE SET \
     open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, \
     volume = excluded.volume, written_at = excluded.written_at \
     WHERE excluded.written_at >= bars.written_at \
     AND (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.written_at) \
     IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume, excluded.written_at)";

/// How long opening the store waits for the server to answer.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a `postgres://` URL has a database name in its path: without one, the
/// connection lands in the user's default database, which is never what was meant.
fn names_a_database(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_query = after_scheme.split(['?', '#']).next().unwrap_or_default();
    // The user info may hold a `/` in a password; the path starts after the host.
    let after_user_info = without_query.rsplit_once('@').map_or(without_query, |(_, rest)| rest);
    after_user_info.split_once('/').is_some_and(|(_, database)| !database.trim_matches('/').is_empty())
}

#[derive(Debug, Clone)]
pub(super) struct PostgresStore {
    pool: PgPool,
    location: String,
}

impl PostgresStore {
    pub(super) async fn open(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        let location = match schema {
            Some(schema) => format!("{} (schema {schema})", redact_url(url)),
            None => redact_url(url),
        };
        if !names_a_database(url) {
            return Err(StoreError::NoDatabaseName { location });
        }
        let open_error = |source| StoreError::Open { location: location.clone(), source };
        let mut options = PgConnectOptions::from_str(url).map_err(open_error)?;
        // One direct connection first: a pool retries a refused connection until its
        // acquire timeout (30 s) and then says only "pool timed out", hiding the cause.
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
            }
            Ok(Err(source)) => return Err(open_error(source)),
            Err(_) => return Err(StoreError::OpenTimedOut { location: location.clone(), timeout: CONNECT_TIMEOUT }),
        }
        if let Some(schema) = schema {
            create_schema(&options, schema).await.map_err(open_error)?;
            // Every pooled connection starts with the dataset's schema first in its
            // search path, so unqualified SQL (migrations included) lands there.
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await.map_err(open_error)?;
        super::migrations::postgres_migrator()
            .await
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { location: location.clone(), source })?;
        Ok(PostgresStore { pool, location })
    }

    /// Opens the store to read, in `public`, on read-only transactions: no migration, no
    /// write. None when its database has no `bars` table yet (nothing stored).
    pub(super) async fn open_read_only(url: &str) -> Result<Option<PostgresStore>, StoreError> {
        let location = redact_url(url);
        if !names_a_database(url) {
            return Err(StoreError::NoDatabaseName { location });
        }
        let open_error = |source| StoreError::Open { location: location.clone(), source };
        let options =
            PgConnectOptions::from_str(url).map_err(open_error)?.options([("default_transaction_read_only", "on")]);
        let mut connection = match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(connection) => connection.map_err(open_error)?,
            Err(_) => return Err(StoreError::OpenTimedOut { location: location.clone(), timeout: CONNECT_TIMEOUT }),
        };
        let has_bars: bool = sqlx::query_scalar("SELECT to_regclass('bars') IS NOT NULL")
            .fetch_one(&mut connection)
            .await
            .map_err(open_error)?;
        let _ = connection.close().await;
        if !has_bars {
            return Ok(None);
        }
        let pool = PgPoolOptions::new().max_connections(4).connect_with(options).await.map_err(open_error)?;
        Ok(Some(PostgresStore { pool, location }))
    }

    pub(super) fn location(&self) -> &str {
        &self.location
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    /// A connection from the pool, for the ledger's reads and writes.
    pub(super) async fn connection(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(|source| StoreError::Database { operation: "opening a connection", source })
    }

    /// A transaction, for the ledger's writes of several statements.
    pub(super) async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
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
        let rows_written = if bars.len() >= COPY_FROM_ROWS {
            copy_upsert(&mut transaction, bars).await?
        } else {
            unnest_upsert(&mut transaction, bars).await?
        };
        if let Some((job, split)) = job {
            let settlement =
                super::ledger::Settlement { job, outcome: super::ledger::Settled::Done { rows: rows_written }, split };
            super::ledger::postgres::settle(&mut transaction, &settlement, Utc::now()).await?;
        }
        super::sessions::postgres::record(&mut transaction, complete).await?;
        transaction.commit().await.map_err(database("committing bars"))?;
        Ok(WriteSummary { bars_received: bars.len() as u64, rows_written })
    }

    pub(super) async fn count_bars(&self, selection: &BarSelection) -> Result<u64, StoreError> {
        let mut builder = QueryBuilder::<Postgres>::new(COUNT_BARS);
        push_selection(&mut builder, selection, |instant| instant);
        let count: i64 = builder
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(|source| StoreError::Database { operation: "counting bars", source })?;
        Ok(count as u64)
    }

    pub(super) async fn read_bars(&self, selection: &BarSelection) -> Result<Vec<Bar>, StoreError> {
        let mut builder = QueryBuilder::<Postgres>::new(SELECT_BARS);
        push_selection(&mut builder, selection, |instant| instant);
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
        super::sessions::postgres::forget_outside(
            &mut transaction,
            window.timeframe,
            window.start_from,
            window.start_before,
        )
        .await?;
        let result = sqlx::query("DELETE FROM bars WHERE timeframe = $1 AND (bar_start < $2 OR bar_start >= $3)")
            .bind(window.timeframe.as_str())
            .bind(window.start_from)
            .bind(window.start_before)
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
            sqlx::query("INSERT INTO dataset_meta (key, value) VALUES ($1, $2)")
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
        let rows = sqlx::query(
            "SELECT symbol, bar_start, written_at FROM bars \
             WHERE symbol = ANY($1) AND exchange = $2 AND timeframe = $3 AND bar_start >= $4 AND bar_start < $5",
        )
        .bind(query.symbols)
        .bind(query.exchange)
        .bind(query.timeframe.as_str())
        .bind(query.start_from)
        .bind(query.start_before)
        .fetch_all(&self.pool)
        .await
        .map_err(|source| StoreError::Database { operation: "reading stored bar stamps for gaps", source })?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<String, _>(0), BarStamp { start: row.get(1), written_at: row.get(2) }))
            .collect())
    }

    /// The benchmark's anchor: the same rows by one binary `COPY FROM STDIN` (the fastest
    /// way into PostgreSQL, and the encoder the store itself uses) into a table of the same
    /// shape, in one transaction.
    pub(super) async fn raw_bulk_copy(&self, jobs: &[Vec<Bar>]) -> Result<(), StoreError> {
        let database = |operation| move |source| StoreError::Database { operation, source };
        let table = include_str!("../../migrations/postgres/0001_bars.sql")
            .replace("CREATE TABLE bars", "CREATE TABLE bench_raw_bars");
        sqlx::raw_sql(&table).execute(&self.pool).await.map_err(database("creating the benchmark table"))?;
        let mut connection = self.pool.acquire().await.map_err(database("acquiring a connection"))?;
        copy_binary(&mut connection, "bench_raw_bars", jobs.iter().flatten()).await.map_err(database("COPY"))?;
        Ok(())
    }
}

/// Upserts `bars` by UNNEST statements of at most [`ROWS_PER_STATEMENT`] rows: one round
/// trip for a small job.
async fn unnest_upsert(transaction: &mut PgConnection, bars: &[Bar]) -> Result<u64, StoreError> {
    let database = |operation| move |source| StoreError::Database { operation, source };
    let mut rows_written = 0;
    for chunk in bars.chunks(ROWS_PER_STATEMENT) {
        let result = sqlx::query(UPSERT)
            .bind(chunk.iter().map(|bar| bar.symbol.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.exchange.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.timeframe.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.start).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.open).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.high).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.low).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.close).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.volume).collect::<Vec<_>>())
            .bind(chunk.iter().map(|bar| bar.written_at).collect::<Vec<_>>())
            .execute(&mut *transaction)
            .await
            .map_err(database("writing bars"))?;
        rows_written += result.rows_affected();
    }
    Ok(rows_written)
}

/// Upserts `bars` (at least [`COPY_FROM_ROWS`] of them) by binary `COPY`: straight into
/// `bars` when none of them can be stored yet, else through the staging table.
async fn copy_upsert(transaction: &mut PgConnection, bars: &[Bar]) -> Result<u64, StoreError> {
    let database = |operation| move |source| StoreError::Database { operation, source };
    if !any_stored_within(transaction, bars).await? {
        sqlx::query("SAVEPOINT direct_copy")
            .execute(&mut *transaction)
            .await
            .map_err(database("setting a savepoint"))?;
        match copy_binary(transaction, "bars", bars).await {
            Ok(rows) => {
                sqlx::query("RELEASE SAVEPOINT direct_copy")
                    .execute(&mut *transaction)
                    .await
                    .map_err(database("releasing a savepoint"))?;
                return Ok(rows);
            }
            // Another writer stored one of these keys since the check: upsert instead.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                sqlx::query("ROLLBACK TO SAVEPOINT direct_copy")
                    .execute(&mut *transaction)
                    .await
                    .map_err(database("rolling back to a savepoint"))?;
            }
            Err(source) => return Err(StoreError::Database { operation: "copying bars into the table", source }),
        }
    }
    staged_upsert(transaction, bars).await
}

/// PostgreSQL's SQLSTATE for a unique (here: primary key) violation.
const UNIQUE_VIOLATION: &str = "23505";

/// Whether a stored row could share a key with `bars`: one of their symbols, exchanges
/// and timeframes, starting between their first and last start. An index range scan per
/// symbol on the primary key, stopped at the first row found; a loose envelope, so a
/// false "yes" only costs the staging path.
async fn any_stored_within(transaction: &mut PgConnection, bars: &[Bar]) -> Result<bool, StoreError> {
    let (Some(first), Some(last)) = (bars.iter().map(|bar| bar.start).min(), bars.iter().map(|bar| bar.start).max())
    else {
        return Ok(false);
    };
    let distinct = |field: fn(&Bar) -> &str| -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> = bars.iter().map(field).collect();
        set.into_iter().collect()
    };
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM bars WHERE symbol = ANY($1) AND exchange = ANY($2) AND timeframe = ANY($3)          AND bar_start BETWEEN $4 AND $5)",
    )
    .bind(distinct(|bar| bar.symbol.as_str()))
    .bind(distinct(|bar| bar.exchange.as_str()))
    .bind(distinct(|bar| bar.timeframe.as_str()))
    .bind(first)
    .bind(last)
    .fetch_one(&mut *transaction)
    .await
    .map_err(|source| StoreError::Database { operation: "looking for stored bars in a batch's range", source })
}

/// Upserts `bars` through a binary `COPY` into this connection's staging table, then one
/// set-based `INSERT ... SELECT ... ON CONFLICT` with the same rules as [`UPSERT`]. The
/// staging table is a temporary table made once per connection (`ON COMMIT DELETE ROWS`
/// empties it at every commit), so there is no catalog churn per job.
async fn staged_upsert(transaction: &mut PgConnection, bars: &[Bar]) -> Result<u64, StoreError> {
    let database = |operation| move |source| StoreError::Database { operation, source };
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('pg_temp.bars_staging') IS NOT NULL")
        .fetch_one(&mut *transaction)
        .await
        .map_err(database("looking for the staging table"))?;
    if !exists {
        sqlx::query(CREATE_STAGING).execute(&mut *transaction).await.map_err(database("creating the staging table"))?;
    }
    copy_binary(transaction, "bars_staging", bars).await.map_err(database("copying bars into the staging table"))?;
    let result = sqlx::query(UPSERT_FROM_STAGING)
        .execute(&mut *transaction)
        .await
        .map_err(database("upserting bars from the staging table"))?;
    // No TRUNCATE: the commit empties the table (ON COMMIT DELETE ROWS), and a rollback
    // takes its rows back with everything else.
    Ok(result.rows_affected())
}

/// `COPY table (...) FROM STDIN (FORMAT binary)` of `bars`, in messages of
/// [`COPY_BUFFER_BYTES`]; returns the rows copied. `table` is one of the names written in
/// this file, never input.
async fn copy_binary<'a>(
    transaction: &mut PgConnection,
    table: &str,
    bars: impl IntoIterator<Item = &'a Bar>,
) -> Result<u64, sqlx::Error> {
    let mut copy = transaction
        .copy_in_raw(&format!(
            "COPY {table} (symbol, exchange, timeframe, bar_start, open, high, low, close, volume, written_at) \
             FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let mut buffer: Vec<u8> = Vec::with_capacity(COPY_BUFFER_BYTES + 256);
    buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buffer.extend_from_slice(&0i32.to_be_bytes()); // flags
    buffer.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for bar in bars {
        encode_binary_row(&mut buffer, bar);
        if buffer.len() >= COPY_BUFFER_BYTES {
            copy.send(buffer.as_slice()).await?;
            buffer.clear();
        }
    }
    buffer.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buffer.as_slice()).await?;
    // A row the server refused (a key already stored) is reported here, once it has read
    // (and discarded) the rest: sending never waits for its answer.
    copy.finish().await
}

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 00:00 UTC.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One row in PostgreSQL's binary COPY format: the field count, then each field's length
/// and big-endian value (text as UTF-8, `timestamptz` as microseconds since 2000-01-01).
fn encode_binary_row(buffer: &mut Vec<u8>, bar: &Bar) {
    fn text(buffer: &mut Vec<u8>, value: &str) {
        buffer.extend_from_slice(&(value.len() as i32).to_be_bytes());
        buffer.extend_from_slice(value.as_bytes());
    }
    fn eight(buffer: &mut Vec<u8>, bytes: [u8; 8]) {
        buffer.extend_from_slice(&8i32.to_be_bytes());
        buffer.extend_from_slice(&bytes);
    }
    let instant = |at: DateTime<Utc>| (at.timestamp_micros() - POSTGRES_EPOCH_MICROS).to_be_bytes();
    buffer.extend_from_slice(&10i16.to_be_bytes());
    text(buffer, &bar.symbol);
    text(buffer, &bar.exchange);
    text(buffer, bar.timeframe.as_str());
    eight(buffer, instant(bar.start));
    eight(buffer, bar.open.to_be_bytes());
    eight(buffer, bar.high.to_be_bytes());
    eight(buffer, bar.low.to_be_bytes());
    eight(buffer, bar.close.to_be_bytes());
    eight(buffer, bar.volume.to_be_bytes());
    eight(buffer, instant(bar.written_at));
}

/// `CREATE SCHEMA IF NOT EXISTS` on a connection of its own (the pool's connections
/// would already point their search path at the schema being created). Two processes
/// creating the same schema at once can still collide on the catalog's unique index, so
/// that one error is taken as "it exists now".
async fn create_schema(options: &PgConnectOptions, schema: &str) -> Result<(), sqlx::Error> {
    let mut connection = PgConnection::connect_with(options).await?;
    let outcome = connection.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str()).await;
    let _ = connection.close().await;
    match outcome {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(error)) if matches!(error.code().as_deref(), Some("23505" | "42P06")) => Ok(()),
        Err(error) => Err(error),
    }
}

pub(super) async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    let database = |source| StoreError::Database { operation: "dropping a dataset schema", source };
    let options = PgConnectOptions::from_str(url).map_err(database)?;
    let mut connection = PgConnection::connect_with(&options).await.map_err(database)?;
    let outcome = connection.execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str()).await;
    let _ = connection.close().await;
    outcome.map(|_| ()).map_err(database)
}

fn bar_from_row(row: &PgRow) -> Result<Bar, StoreError> {
    let timeframe_text: String = row.get(2);
    let start: DateTime<Utc> = row.get(3);
    Ok(Bar {
        symbol: row.get(0),
        exchange: row.get(1),
        timeframe: Timeframe::from_str(&timeframe_text).map_err(|error| StoreError::CorruptRow(error.to_string()))?,
        start,
        open: row.get(4),
        high: row.get(5),
        low: row.get(6),
        close: row.get(7),
        volume: row.get(8),
        written_at: row.get(9),
    })
}
