//! Durable jobs as rows: kind, session, parameters, state, progress, log and outputs, on a queue
//! that worker processes on several hosts share. A worker claims the most urgent ready job under
//! a lease it renews while it runs (one statement: `FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's
//! single writer otherwise); a lease that expires hands the job to another worker, and every
//! later write of the first is refused (the attempt number fences it).

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::{column, json_column, number, Catalogue, CatalogueError, Result};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Clip,
    Publish,
    Transcribe,
    Align,
    Deliver,
    /// A live session's recording, from its start until it is stopped, then joined.
    Record,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Clip,
        JobKind::Publish,
        JobKind::Transcribe,
        JobKind::Align,
        JobKind::Deliver,
        JobKind::Record,
    ];

    /// The kinds the heavy workers run (one at a time per core); recordings have their own.
    pub const HEAVY: [JobKind; 5] = [
        JobKind::Clip,
        JobKind::Publish,
        JobKind::Transcribe,
        JobKind::Align,
        JobKind::Deliver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Clip => "clip",
            JobKind::Publish => "publish",
            JobKind::Transcribe => "transcribe",
            JobKind::Align => "align",
            JobKind::Deliver => "deliver",
            JobKind::Record => "record",
        }
    }

    fn stored(text: String) -> Result<JobKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or(CatalogueError::Corrupt {
                table: "jobs",
                column: "kind",
                value: text,
            })
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job is: queued, running, or ended (done, failed, cancelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn stored(text: String) -> Result<JobState> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(CatalogueError::Corrupt {
                table: "jobs",
                column: "state",
                value: text,
            })
    }
}

/// A job as stored (and as the API shows it).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub session: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub state: JobState,
    /// 0 to 100.
    pub progress: u32,
    pub log: String,
    /// What the job made: clip files (relative to the session's folder), the package, ...
    #[schema(value_type = Object)]
    pub outputs: serde_json::Value,
    pub attempts: u32,
    /// Attempts allowed before it fails for good (a retry after a failure or a lost worker).
    pub max_attempts: u32,
    /// Higher runs first: live work before archive work.
    pub priority: i64,
    /// The worker that holds it (running) or held it last.
    pub worker: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The caller that asked for it (its token's hash): never shown.
    #[serde(skip)]
    pub owner: Option<String>,
}

impl Job {
    /// The lease of this job as claimed by its worker.
    pub fn lease(&self) -> Lease {
        Lease {
            job: self.id.clone(),
            worker: self.worker.clone().unwrap_or_default(),
            attempt: self.attempts,
        }
    }
}

/// A running job as one worker holds it: every write of the worker names the attempt, so a worker
/// whose lease expired and whose job was taken again changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub job: String,
    pub worker: String,
    pub attempt: u32,
}

/// A job to queue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: String,
    pub kind: JobKind,
    pub session: String,
    pub params: serde_json::Value,
    /// The caller's token hash.
    pub owner: String,
    /// Higher runs first.
    pub priority: i64,
}

/// What became of a job submitted.
#[derive(Clone, Debug)]
pub enum Submission {
    /// Queued now.
    Queued(Job),
    /// The identical request of the same owner, queued or running already.
    Joined(Job),
    /// The owner has this many jobs queued already, the most allowed.
    Full { queued: u64 },
}

const JOB_COLUMNS: &str = "id, kind, session_id, params, state, progress, log, outputs, attempts, \
                           max_attempts, priority, worker_id, created_at, updated_at, owner";

/// A job ready for a worker: queued and due, or running under a lease that expired with
/// attempts left (`{now}`: the database's clock in ms).
const READY: &str = "((state = 'queued' AND run_after_ms <= {now}) \
                     OR (state = 'running' AND lease_until_ms < {now} AND attempts < max_attempts))";

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn job_from(row: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: column(row, "jobs", "id")?,
        kind: JobKind::stored(column(row, "jobs", "kind")?)?,
        session: column(row, "jobs", "session_id")?,
        params: json_column(row, "jobs", "params")?,
        state: JobState::stored(column(row, "jobs", "state")?)?,
        progress: number(column(row, "jobs", "progress")?, "jobs", "progress")?,
        log: column(row, "jobs", "log")?,
        outputs: json_column(row, "jobs", "outputs")?,
        attempts: number(column(row, "jobs", "attempts")?, "jobs", "attempts")?,
        max_attempts: number(column(row, "jobs", "max_attempts")?, "jobs", "max_attempts")?,
        priority: column(row, "jobs", "priority")?,
        worker: column(row, "jobs", "worker_id")?,
        created_at: column(row, "jobs", "created_at")?,
        updated_at: column(row, "jobs", "updated_at")?,
        owner: column(row, "jobs", "owner")?,
    })
}

impl Catalogue {
    /// Queues `job`, unless the same owner has the identical request (kind, session, parameters)
    /// queued or running, which is joined, or has `max_queued` jobs queued. The insert checks
    /// both in one statement, so two identical requests at once make one job.
    pub async fn submit_job(&self, job: &NewJob, max_queued: u64) -> Result<Submission> {
        let params = job.params.to_string();
        loop {
            let inserted = sqlx::query(
                "INSERT INTO jobs (id, kind, session_id, params, state, progress, log, outputs,
                                   attempts, created_at, updated_at, owner, priority)
                 SELECT $1, $2, $3, $4, 'queued', 0, '', 'null', 0, $5, $5, $6, $8
                 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $2 AND session_id = $3
                                   AND params = $4 AND owner = $6
                                   AND state IN ('queued', 'running'))
                   AND (SELECT COUNT(*) FROM jobs WHERE owner = $6 AND state = 'queued') < $7",
            )
            .bind(&job.id)
            .bind(job.kind.as_str())
            .bind(&job.session)
            .bind(&params)
            .bind(now_text())
            .bind(&job.owner)
            .bind(i64::try_from(max_queued).unwrap_or(i64::MAX))
            .bind(job.priority)
            .execute(&self.pool)
            .await
            .map_err(|e| match e.as_database_error() {
                Some(d) if d.is_unique_violation() => CatalogueError::Busy(format!(
                    "session {} has a {} job queued or running already",
                    job.session,
                    job.kind.as_str()
                )),
                _ => e.into(),
            })?;
            if inserted.rows_affected() == 1 {
                let queued = self.job(&job.id).await?;
                return Ok(Submission::Queued(
                    queued.ok_or_else(|| CatalogueError::NotFound(job.id.clone()))?,
                ));
            }
            let same = sqlx::query(
                "SELECT id FROM jobs WHERE kind = $1 AND session_id = $2 AND params = $3
                 AND owner = $4 AND state IN ('queued', 'running') ORDER BY created_at LIMIT 1",
            )
            .bind(job.kind.as_str())
            .bind(&job.session)
            .bind(&params)
            .bind(&job.owner)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = same {
                let id: String = column(&row, "jobs", "id")?;
                if let Some(joined) = self.job(&id).await? {
                    return Ok(Submission::Joined(joined));
                }
                continue;
            }
            let queued: i64 = column(
                &sqlx::query(
                    "SELECT COUNT(*) AS n FROM jobs WHERE owner = $1 AND state = 'queued'",
                )
                .bind(&job.owner)
                .fetch_one(&self.pool)
                .await?,
                "jobs",
                "n",
            )?;
            let queued = u64::try_from(queued).unwrap_or(0);
            if queued >= max_queued {
                return Ok(Submission::Full { queued });
            }
            // The identical job ended or a queued one started meanwhile: try again.
        }
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// The session's newest job of `kind`, in any state.
    pub async fn latest_job(&self, session: &str, kind: JobKind) -> Result<Option<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE session_id = $1 AND kind = $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(session)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// The newest `limit` jobs, of one owner or (none) of everyone.
    pub async fn jobs(&self, owner: Option<&str>, limit: u32) -> Result<Vec<Job>> {
        let rows = match owner {
            None => {
                let sql =
                    format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC LIMIT $1");
                sqlx::query(&sql)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(owner) => {
                let sql = format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = $1 ORDER BY created_at DESC \
                     LIMIT $2"
                );
                sqlx::query(&sql)
                    .bind(owner)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(job_from).collect()
    }

    /// How many jobs are in each state (states with none left out).
    pub async fn job_counts(&self) -> Result<Vec<(JobState, u64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let n: i64 = column(row, "jobs", "n")?;
                Ok((
                    JobState::stored(column(row, "jobs", "state")?)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// The database's clock in ms since the epoch, as SQL: one clock for every host's leases.
    pub(super) fn now_ms_sql(&self) -> &'static str {
        if self.postgres {
            "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
        } else {
            "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
        }
    }

    /// Takes the most urgent ready job of one of `kinds` (priority, then age) for `worker`, under
    /// a lease of `lease_ms`: a queued job that is due, or a running one whose lease expired (its
    /// worker died or was cut off). A running job whose lease expired with no attempts left fails.
    pub async fn claim_job(
        &self,
        worker: &str,
        kinds: &[JobKind],
        lease_ms: u64,
    ) -> Result<Option<Job>> {
        let now = self.now_ms_sql();
        sqlx::query(&format!(
            "UPDATE jobs SET state = 'failed', progress = 0, updated_at = $1,
                 log = log || 'failed: its worker ' || COALESCE(worker_id, '?')
                           || ' was lost (the lease expired) on the last attempt allowed' || $2
             WHERE state = 'running' AND lease_until_ms < {now} AND attempts >= max_attempts"
        ))
        .bind(now_text())
        .bind("\n")
        .execute(&self.pool)
        .await?;
        let ready = READY.replace("{now}", now);
        let placeholders: Vec<_> = (5..5 + kinds.len()).map(|n| format!("${n}")).collect();
        let lock = if self.postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 5,
                 worker_id = $1, lease_until_ms = {now} + $2, cancel_requested = 0,
                 updated_at = $3,
                 log = log || CASE WHEN state = 'running'
                     THEN 'interrupted: the lease of worker ' || COALESCE(worker_id, '?')
                          || ' expired; taken again' || $4
                     ELSE '' END
             WHERE id = (SELECT id FROM jobs WHERE kind IN ({kinds}) AND {ready}
                         ORDER BY priority DESC, created_at, id LIMIT 1 {lock})
               AND {ready}
             RETURNING {JOB_COLUMNS}",
            kinds = placeholders.join(", "),
        );
        let row = kinds
            .iter()
            .fold(
                sqlx::query(&sql)
                    .bind(worker)
                    .bind(i64::try_from(lease_ms).unwrap_or(i64::MAX))
                    .bind(now_text())
                    .bind("\n"),
                |q, k| q.bind(k.as_str()),
            )
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// Renews `lease` for `lease_ms` more and notes the job's progress (percent); answers whether
    /// a cancel was asked, or `None` when the lease is lost (the job was taken again or ended).
    pub async fn renew_lease(
        &self,
        lease: &Lease,
        lease_ms: u64,
        percent: u32,
    ) -> Result<Option<bool>> {
        let sql = format!(
            "UPDATE jobs SET lease_until_ms = {} + $4, progress = $5, updated_at = $6
             WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'
             RETURNING cancel_requested",
            self.now_ms_sql()
        );
        let row = sqlx::query(&sql)
            .bind(&lease.job)
            .bind(&lease.worker)
            .bind(i64::from(lease.attempt))
            .bind(i64::try_from(lease_ms).unwrap_or(i64::MAX))
            .bind(i64::from(percent.min(100)))
            .bind(now_text())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(column::<i64>(&row, "jobs", "cancel_requested")? != 0))
            .transpose()
    }

    /// Ends the job held by `lease` in `state` with a line of log and its outputs (none: null);
    /// false (nothing written) when the lease is lost.
    pub async fn finish_job(
        &self,
        lease: &Lease,
        state: JobState,
        log: &str,
        outputs: Option<&serde_json::Value>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $4, progress = $5, log = log || $6, outputs = $7,
                             updated_at = $8, lease_until_ms = 0
             WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
        )
        .bind(&lease.job)
        .bind(&lease.worker)
        .bind(i64::from(lease.attempt))
        .bind(state.as_str())
        .bind(if state == JobState::Done { 100i64 } else { 0 })
        .bind(format!("{log}\n"))
        .bind(outputs.unwrap_or(&serde_json::Value::Null).to_string())
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts the job held by `lease` back in the queue, due in `delay_ms`, with a line of log: a
    /// retry after a failure, or (`counted` false: the attempt is given back) a job its worker
    /// stopped before it ended. False when the lease is lost.
    pub async fn requeue_job(
        &self,
        lease: &Lease,
        log: &str,
        delay_ms: u64,
        counted: bool,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE jobs SET state = 'queued', progress = 0, log = log || $4, worker_id = NULL,
                 lease_until_ms = 0, run_after_ms = {} + $5, max_attempts = max_attempts + $6,
                 updated_at = $7
             WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
            self.now_ms_sql()
        );
        let done = sqlx::query(&sql)
            .bind(&lease.job)
            .bind(&lease.worker)
            .bind(i64::from(lease.attempt))
            .bind(format!("{log}\n"))
            .bind(i64::try_from(delay_ms).unwrap_or(i64::MAX))
            .bind(if counted { 0i64 } else { 1 })
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a job that has not started; false when it is no longer queued.
    pub async fn cancel_queued_job(&self, id: &str, log: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', progress = 0, log = log || $2, updated_at = $3
             WHERE id = $1 AND state = 'queued'",
        )
        .bind(id)
        .bind(format!("{log}\n"))
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Asks the worker running the job, wherever it runs, to cancel it (at its next heartbeat);
    /// false when it is not running.
    pub async fn request_cancel(&self, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET cancel_requested = 1, updated_at = $2
             WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const LEASE_MS: u64 = 60_000;

    fn new_job(id: &str, from_ms: u64, owner: &str) -> NewJob {
        NewJob {
            id: id.to_owned(),
            kind: JobKind::Clip,
            session: "s1".to_owned(),
            params: serde_json::json!({ "from": from_ms, "to": from_ms + 1000 }),
            owner: owner.to_owned(),
            priority: 0,
        }
    }

    fn queued(submission: Submission) -> Job {
        match submission {
            Submission::Queued(job) => job,
            other => panic!("not queued: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_identical_request_joins_and_a_full_queue_refuses() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let first = queued(
                catalogue
                    .submit_job(&new_job("j1", 0, "a"), 2)
                    .await
                    .unwrap(),
            );
            assert_eq!((first.state, first.kind), (JobState::Queued, JobKind::Clip));
            assert_eq!(first.owner.as_deref(), Some("a"));
            match catalogue
                .submit_job(&new_job("j2", 0, "a"), 2)
                .await
                .unwrap()
            {
                Submission::Joined(job) => assert_eq!(job.id, "j1"),
                other => panic!("not joined: {other:?}"),
            }
            queued(
                catalogue
                    .submit_job(&new_job("j3", 0, "b"), 2)
                    .await
                    .unwrap(),
            );
            queued(
                catalogue
                    .submit_job(&new_job("j4", 5000, "a"), 2)
                    .await
                    .unwrap(),
            );
            assert!(matches!(
                catalogue
                    .submit_job(&new_job("j5", 9000, "a"), 2)
                    .await
                    .unwrap(),
                Submission::Full { queued: 2 }
            ));
            assert_eq!(catalogue.jobs(Some("a"), 200).await.unwrap().len(), 2);
            assert_eq!(catalogue.jobs(None, 200).await.unwrap().len(), 3);
        }
    }

    /// Eight workers race for twenty jobs: each job is taken exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_claim_never_hands_one_job_to_two_workers() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            for k in 0..20 {
                queued(
                    catalogue
                        .submit_job(&new_job(&format!("j{k:02}"), k * 1000, "a"), 100)
                        .await
                        .unwrap(),
                );
            }
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    let catalogue = catalogue.clone();
                    tokio::spawn(async move {
                        let mut taken = Vec::new();
                        while let Some(job) = catalogue
                            .claim_job("w", &JobKind::ALL, LEASE_MS)
                            .await
                            .unwrap()
                        {
                            assert_eq!((job.state, job.attempts), (JobState::Running, 1));
                            taken.push(job.id);
                        }
                        taken
                    })
                })
                .collect();
            let mut taken = Vec::new();
            for w in workers {
                taken.extend(w.await.unwrap());
            }
            let distinct: HashSet<_> = taken.iter().collect();
            assert_eq!((taken.len(), distinct.len()), (20, 20), "{taken:?}");
            assert_eq!(
                catalogue.job_counts().await.unwrap(),
                vec![(JobState::Running, 20)]
            );
        }
    }

    #[tokio::test]
    async fn an_expired_lease_hands_the_job_on_and_fences_the_first_worker() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            queued(
                catalogue
                    .submit_job(&new_job("j1", 0, "a"), 10)
                    .await
                    .unwrap(),
            );
            let first = catalogue
                .claim_job("w1", &JobKind::ALL, 300)
                .await
                .unwrap()
                .unwrap();
            assert_eq!((first.worker.as_deref(), first.attempts), (Some("w1"), 1));
            // Held: nobody else takes it, and its worker renews it.
            assert!(catalogue
                .claim_job("w2", &JobKind::ALL, LEASE_MS)
                .await
                .unwrap()
                .is_none());
            assert_eq!(
                catalogue
                    .renew_lease(&first.lease(), 300, 40)
                    .await
                    .unwrap(),
                Some(false)
            );
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            let second = catalogue
                .claim_job("w2", &JobKind::ALL, LEASE_MS)
                .await
                .unwrap()
                .expect("the expired job is taken again");
            assert_eq!(
                (
                    second.id.as_str(),
                    second.worker.as_deref(),
                    second.attempts
                ),
                ("j1", Some("w2"), 2)
            );
            assert!(
                second.log.contains("lease of worker w1 expired"),
                "{}",
                second.log
            );
            // The first worker, back, can neither renew, nor finish, nor requeue it.
            assert_eq!(
                catalogue
                    .renew_lease(&first.lease(), 300, 90)
                    .await
                    .unwrap(),
                None
            );
            assert!(!catalogue
                .finish_job(&first.lease(), JobState::Done, "late", None)
                .await
                .unwrap());
            assert!(!catalogue
                .requeue_job(&first.lease(), "late", 0, true)
                .await
                .unwrap());
            let outputs = serde_json::json!([1]);
            assert!(catalogue
                .finish_job(&second.lease(), JobState::Done, "done", Some(&outputs))
                .await
                .unwrap());
            let done = catalogue.job("j1").await.unwrap().unwrap();
            assert_eq!((done.state, done.progress), (JobState::Done, 100));
            assert_eq!(done.outputs, outputs);
            assert!(!done.log.contains("late"), "{}", done.log);
        }
    }

    #[tokio::test]
    async fn a_retry_waits_its_delay_and_a_job_lost_too_often_fails() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            queued(
                catalogue
                    .submit_job(&new_job("j1", 0, "a"), 10)
                    .await
                    .unwrap(),
            );
            let claim = |worker: &'static str, lease_ms: u64| {
                let catalogue = catalogue.clone();
                async move {
                    catalogue
                        .claim_job(worker, &JobKind::ALL, lease_ms)
                        .await
                        .unwrap()
                }
            };
            let first = claim("w1", LEASE_MS).await.unwrap();
            assert!(catalogue
                .requeue_job(&first.lease(), "failed: the disk was full", 400, true)
                .await
                .unwrap());
            assert!(
                claim("w1", LEASE_MS).await.is_none(),
                "taken before its delay"
            );
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
            let second = claim("w1", 50).await.unwrap();
            assert_eq!(second.attempts, 2);
            // Its worker is lost: the job is taken again, while attempts are left.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let third = claim("w2", 50).await.unwrap();
            assert_eq!((third.attempts, third.max_attempts), (3, 3));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            // Lost on its last attempt: failed, not taken a fourth time.
            assert!(claim("w3", LEASE_MS).await.is_none());
            let failed = catalogue.job("j1").await.unwrap().unwrap();
            assert_eq!(failed.state, JobState::Failed, "{}", failed.log);
            assert!(failed.log.contains("worker w2 was lost"), "{}", failed.log);
        }
    }

    #[tokio::test]
    async fn a_stopped_worker_gives_its_attempt_back_and_urgent_work_goes_first() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            queued(
                catalogue
                    .submit_job(&new_job("archive", 0, "a"), 10)
                    .await
                    .unwrap(),
            );
            let live = NewJob {
                priority: 50,
                ..new_job("live", 5000, "a")
            };
            queued(catalogue.submit_job(&live, 10).await.unwrap());
            let job = catalogue
                .claim_job("w1", &JobKind::ALL, LEASE_MS)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(job.id, "live");
            assert!(catalogue
                .requeue_job(&job.lease(), "stopped; queued again", 0, false)
                .await
                .unwrap());
            let again = catalogue
                .claim_job("w2", &JobKind::ALL, LEASE_MS)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (again.id.as_str(), again.attempts, again.max_attempts),
                ("live", 2, 4)
            );
            assert!(catalogue.request_cancel("live").await.unwrap());
            assert_eq!(
                catalogue
                    .renew_lease(&again.lease(), LEASE_MS, 50)
                    .await
                    .unwrap(),
                Some(true)
            );
            assert!(!catalogue.request_cancel("archive").await.unwrap());
            assert!(catalogue
                .cancel_queued_job("archive", "cancelled")
                .await
                .unwrap());
            assert!(!catalogue
                .cancel_queued_job("archive", "again")
                .await
                .unwrap());
        }
    }

    #[tokio::test]
    async fn a_recording_is_claimed_only_by_a_worker_that_takes_recordings() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let record = NewJob {
                kind: JobKind::Record,
                ..new_job("r1", 0, "a")
            };
            queued(catalogue.submit_job(&record, 10).await.unwrap());
            queued(
                catalogue
                    .submit_job(&new_job("c1", 0, "a"), 10)
                    .await
                    .unwrap(),
            );
            let heavy = catalogue
                .claim_job("w", &JobKind::HEAVY, LEASE_MS)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(heavy.id, "c1");
            assert!(catalogue
                .claim_job("w", &JobKind::HEAVY, LEASE_MS)
                .await
                .unwrap()
                .is_none());
            let recorder = catalogue
                .claim_job("w", &[JobKind::Record], LEASE_MS)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (recorder.id.as_str(), recorder.kind),
                ("r1", JobKind::Record)
            );
        }
    }

    #[tokio::test]
    async fn a_second_recording_of_a_session_is_refused_whoever_asks() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let record = |id: &str, owner: &str| NewJob {
                kind: JobKind::Record,
                params: serde_json::json!({}),
                ..new_job(id, 0, owner)
            };
            queued(
                catalogue
                    .submit_job(&record("r1", "anna"), 10)
                    .await
                    .unwrap(),
            );
            let err = catalogue
                .submit_job(&record("r2", "bruno"), 10)
                .await
                .unwrap_err();
            assert!(matches!(err, CatalogueError::Busy(_)), "{err}");
            assert_eq!(
                err.to_string(),
                "session s1 has a record job queued or running already"
            );
            let running = catalogue
                .claim_job("w", &[JobKind::Record], LEASE_MS)
                .await
                .unwrap()
                .unwrap();
            assert!(catalogue
                .finish_job(&running.lease(), JobState::Done, "", None)
                .await
                .unwrap());
            queued(
                catalogue
                    .submit_job(&record("r3", "bruno"), 10)
                    .await
                    .unwrap(),
            );
        }
    }

    #[tokio::test]
    async fn a_row_with_an_unknown_state_or_kind_is_an_error_naming_it() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            queued(
                catalogue
                    .submit_job(&new_job("j1", 0, "a"), 10)
                    .await
                    .unwrap(),
            );
            sqlx::query("UPDATE jobs SET state = 'paused' WHERE id = 'j1'")
                .execute(&catalogue.pool)
                .await
                .unwrap();
            let err = catalogue.job("j1").await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "catalogue holds a bad value in jobs.state: \"paused\""
            );
            assert!(catalogue.job_counts().await.is_err());
            sqlx::query("UPDATE jobs SET state = 'queued', kind = 'dub' WHERE id = 'j1'")
                .execute(&catalogue.pool)
                .await
                .unwrap();
            let err = catalogue.jobs(None, 10).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "catalogue holds a bad value in jobs.kind: \"dub\""
            );
            sqlx::query("UPDATE jobs SET kind = 'clip', outputs = 'not json' WHERE id = 'j1'")
                .execute(&catalogue.pool)
                .await
                .unwrap();
            let err = catalogue.job("j1").await.unwrap_err();
            assert!(err.to_string().contains("jobs.outputs"), "{err}");
        }
    }
}
