-- Clips cut from sessions' recordings: what they cover, how they were made, where the file is.
CREATE TABLE clips (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    item BIGINT,
    person_id TEXT,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    preset TEXT NOT NULL,
    mode TEXT NOT NULL,
    subtitles TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    speakers TEXT NOT NULL,
    published_at TEXT
);
