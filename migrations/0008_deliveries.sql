-- Every attempt to deliver a session's press kit to a destination of `[[delivery]]`: which kit
-- (the SHA-256 of its manifest), the attempt's number and time, delivered or failed, and the
-- server's answer (its reply, or the error).
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    kit_sha256 TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL,
    job_id TEXT
);
CREATE INDEX deliveries_session ON deliveries (session_id, destination, at);
