-- Access tokens of `aula serve` (only the SHA-256 of a token is kept) and the durable jobs.
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress BIGINT NOT NULL,
    log TEXT NOT NULL,
    outputs TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_state ON jobs (state, created_at);
