-- Jobs on a queue shared by worker processes on several hosts. A running job is held by one
-- worker (worker_id) under a lease that the worker renews while it runs and that expires when it
-- dies or is cut off (lease_until_ms, by the database's clock); attempts is the fencing token.
-- A failed job waits until run_after_ms before its retry, up to max_attempts; live work has a
-- higher priority; a cancel asked anywhere reaches the worker through cancel_requested.
ALTER TABLE jobs ADD COLUMN worker_id TEXT;
ALTER TABLE jobs ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN run_after_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 3;
ALTER TABLE jobs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_claim ON jobs (state, priority, created_at);

-- The worker processes, as each advertises itself: where it runs, what it takes, how busy it is.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    kinds TEXT NOT NULL,
    concurrency BIGINT NOT NULL,
    running BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_ms BIGINT NOT NULL
);
