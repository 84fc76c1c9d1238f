-- The group that tabled an agenda item (a motion's or a question's proposer), and the votes of a
-- session as the conference system reports them: the counts, and each person's ballot as JSON
-- (`[]` for a secret ballot).
ALTER TABLE agenda_items ADD COLUMN proposer_group TEXT;

CREATE TABLE votes (
    session_id TEXT NOT NULL REFERENCES sessions (id),
    ord BIGINT NOT NULL,
    item BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    subject TEXT NOT NULL,
    result TEXT NOT NULL,
    favour BIGINT NOT NULL,
    against BIGINT NOT NULL,
    abstained BIGINT NOT NULL,
    ballots TEXT NOT NULL,
    PRIMARY KEY (session_id, ord)
);
