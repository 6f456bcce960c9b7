-- Bars, one row per (symbol, exchange, timeframe, bar start).
--
-- A daily bar's bar_start is its session date at 00:00 UTC (see store/mod.rs).
-- Unqualified names: the store sets search_path to the dataset's schema, so the same
-- migration creates the table in `public` or in a refresh dataset's own schema.
CREATE TABLE bars (
    symbol     TEXT             NOT NULL,
    exchange   TEXT             NOT NULL,
    timeframe  TEXT             NOT NULL CHECK (timeframe IN ('1d', '1m')),
    bar_start  TIMESTAMPTZ      NOT NULL,
    open       DOUBLE PRECISION NOT NULL,
    high       DOUBLE PRECISION NOT NULL,
    low        DOUBLE PRECISION NOT NULL,
    close      DOUBLE PRECISION NOT NULL,
    volume     BIGINT           NOT NULL CHECK (volume >= 0),
    written_at TIMESTAMPTZ      NOT NULL,
    CHECK (low <= high),
    PRIMARY KEY (symbol, exchange, timeframe, bar_start)
);
