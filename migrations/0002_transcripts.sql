-- The current transcript of each session (the JSON document), replaced by each new transcription.
CREATE TABLE transcripts (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id),
    model TEXT NOT NULL,
    language TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    word_count BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    document TEXT NOT NULL
);
