-- Jobs belong to the caller that asked for them (the token's hash; NULL for jobs made before
-- owners existed, which only admin sees).
ALTER TABLE jobs ADD COLUMN owner TEXT;
CREATE INDEX jobs_owner ON jobs (owner, state);
