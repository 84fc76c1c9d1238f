-- Who spoke on which item: the aligned timeline of each session as aligned (base_document) and
-- with its corrections applied (document), every correction as a revision with its before, after
-- and undo, and the seats of room-audio channels.
ALTER TABLE sources ADD COLUMN channel_seats TEXT;

CREATE TABLE timelines (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id),
    aligned_at TEXT NOT NULL,
    agenda_source TEXT NOT NULL,
    warnings TEXT NOT NULL,
    base_document TEXT NOT NULL,
    document TEXT NOT NULL
);

CREATE TABLE revisions (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    number BIGINT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    correction TEXT NOT NULL,
    before_doc TEXT NOT NULL,
    after_doc TEXT NOT NULL,
    undo_edit TEXT NOT NULL,
    reverted_by BIGINT,
    PRIMARY KEY (session_id, number)
);
