-- The load ledger: every load and the outcome of each of its jobs, written by whichever
-- process does the work (the job's outcome in the same transaction as its bars), so that
-- `GET /loads`, `/metrics` and `tickstock loads` tell one story whatever process asks.
--
-- Instants are BIGINT Unix milliseconds (`*_ms`) in both backends, so the ledger's SQL is
-- one text for SQLite and PostgreSQL (see store/ledger.rs).
CREATE TABLE loads (
    id            TEXT   NOT NULL PRIMARY KEY,
    created_ms    BIGINT NOT NULL,
    -- When the load failed outside its jobs (with error); otherwise NULL, and its end is
    -- derived from its jobs (the last settled), as its state is.
    finished_ms   BIGINT,
    -- The plan summary as JSON: policy, timeframe, range, symbols, exchanges, totals.
    plan          TEXT   NOT NULL,
    -- Why the load failed outside its jobs (its jobs could not be enqueued), or NULL.
    error         TEXT
);
-- No foreign key to loads: a job of a load this store never recorded (submitted against
-- another store, or by an older build) must still commit its bars; its ledger writes
-- then change nothing.
CREATE TABLE load_jobs (
    load_id       TEXT   NOT NULL,
    job_id        TEXT   NOT NULL,
    tier          TEXT   NOT NULL,
    state         TEXT   NOT NULL CHECK (state IN ('queued', 'done', 'dead')),
    -- The job this one was split off (its failing symbols), or NULL for a planned job.
    parent        TEXT,
    symbols       BIGINT NOT NULL,
    expected_rows BIGINT NOT NULL,
    rows_written  BIGINT NOT NULL DEFAULT 0,
    retries       BIGINT NOT NULL DEFAULT 0,
    -- The last transient error while queued, or why it is dead.
    reason        TEXT,
    -- The consumer that last settled it.
    worker        TEXT,
    -- The job's payload while it is dead, so a later process can retry it.
    payload       TEXT,
    updated_ms    BIGINT NOT NULL,
    PRIMARY KEY (load_id, job_id)
);
CREATE INDEX load_jobs_by_state ON load_jobs (state, updated_ms);
