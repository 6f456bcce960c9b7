-- Bars, one row per (symbol, exchange, timeframe, bar start).
--
-- Instants are INTEGER Unix seconds (UTC) rather than sqlx's default TEXT encoding of
-- chrono types: half the bytes per row and integer comparisons in the gap query.
-- A daily bar's bar_start is its session date at 00:00 UTC (see store/mod.rs).
-- WITHOUT ROWID: the primary key is the only access path, so the table is the index and
-- each row is stored once instead of once in the table and once in the key's index.
CREATE TABLE bars (
    symbol     TEXT    NOT NULL,
    exchange   TEXT    NOT NULL,
    timeframe  TEXT    NOT NULL CHECK (timeframe IN ('1d', '1m')),
    bar_start  INTEGER NOT NULL,
    open       REAL    NOT NULL,
    high       REAL    NOT NULL,
    low        REAL    NOT NULL,
    close      REAL    NOT NULL,
    volume     INTEGER NOT NULL CHECK (volume >= 0),
    written_at INTEGER NOT NULL,
    CHECK (low <= high),
    PRIMARY KEY (symbol, exchange, timeframe, bar_start)
) WITHOUT ROWID;
