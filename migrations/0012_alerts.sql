-- Alerts: a subscriber's address and what they follow (words, a councillor, a group, an item
-- kind), kept only for this. The confirmation token is kept as its SHA-256; the unsubscribe token
-- is in every mail. Times are milliseconds since 1970. An unconfirmed subscription is deleted
-- after 7 days.
CREATE TABLE alert_subscriptions (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    topic_kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    lang TEXT NOT NULL,
    confirm_sha256 TEXT NOT NULL UNIQUE,
    unsubscribe_token TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    confirmed_ms BIGINT,
    mailed_ms BIGINT
);

CREATE INDEX alert_subscriptions_email ON alert_subscriptions (email);

-- The published sessions with passages for a subscription: queued when published, mailed at most
-- once a day per subscription.
CREATE TABLE alert_sessions (
    subscription_id TEXT NOT NULL REFERENCES alert_subscriptions (id),
    session_id TEXT NOT NULL,
    queued_ms BIGINT NOT NULL,
    mailed_ms BIGINT,
    PRIMARY KEY (subscription_id, session_id)
);
