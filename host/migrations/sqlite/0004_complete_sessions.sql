-- Minute sessions known to be complete: every expected minute (open to close, lunch
-- break excluded) has a final bar. Gap detection reads one row here per session instead
-- of one row per bar in `bars`; a session without a row is checked against its bars.
-- A cache that errs one way (see host/src/store/sessions.rs): written in the transaction
-- of the bars it describes, deleted with them, and matched against the session's shape
-- (open, close, break, minutes) as the calendar gives it at read time.
-- Instants are Unix seconds (UTC).
CREATE TABLE complete_sessions (
    symbol      TEXT    NOT NULL,
    exchange    TEXT    NOT NULL,
    timeframe   TEXT    NOT NULL,
    open_at     INTEGER NOT NULL,
    close_at    INTEGER NOT NULL,
    break_start INTEGER,
    break_end   INTEGER,
    minutes     INTEGER NOT NULL CHECK (minutes > 0),
    PRIMARY KEY (symbol, exchange, timeframe, open_at)
) WITHOUT ROWID;
