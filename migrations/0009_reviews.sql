-- The "reviewed" marks of a session's agenda items: who read the item's record through, and when.
CREATE TABLE item_reviews (
    session_id TEXT NOT NULL,
    item BIGINT NOT NULL,
    reviewer TEXT NOT NULL,
    reviewed_at TEXT NOT NULL,
    PRIMARY KEY (session_id, item)
);
