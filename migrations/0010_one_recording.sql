-- At most one recording of a session queued or running at a time, whoever asks (two clerks
-- pressing "start" at the same instant get one recording and a conflict).
CREATE UNIQUE INDEX jobs_one_recording ON jobs (session_id)
    WHERE kind = 'record' AND state IN ('queued', 'running');
