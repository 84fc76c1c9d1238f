-- The catalogue of imported sessions. Portable SQL: runs on SQLite and PostgreSQL alike.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    title TEXT NOT NULL,
    start_at TEXT NOT NULL,
    mode TEXT NOT NULL,
    language TEXT NOT NULL,
    base_dir TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

CREATE TABLE persons (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    group_name TEXT,
    seat BIGINT,
    PRIMARY KEY (session_id, id)
);

CREATE TABLE sources (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    uri TEXT NOT NULL,
    person_id TEXT,
    PRIMARY KEY (session_id, id)
);

CREATE TABLE agenda_items (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    number BIGINT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    act_ref TEXT,
    rapporteur TEXT,
    PRIMARY KEY (session_id, number)
);

CREATE TABLE closed_ranges (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    reason TEXT,
    PRIMARY KEY (session_id, ord)
);

CREATE TABLE floor_events (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    seat BIGINT,
    person_id TEXT,
    action TEXT NOT NULL,
    PRIMARY KEY (session_id, ord)
);

CREATE TABLE agenda_markers (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    item BIGINT NOT NULL,
    PRIMARY KEY (session_id, ord)
);
