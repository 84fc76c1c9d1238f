//! Durable jobs as rows: kind, session, parameters, state, progress, log and outputs. A worker
//! claims the oldest queued job; the claim's state check hands each job to one worker only.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::{column, json_column, number, Catalogue, CatalogueError, Result};

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub created_at: String,
    pub updated_at: String,
    /// The caller that asked for it (its token's hash): never shown.
    #[serde(skip)]
    pub owner: Option<String>,
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
                           created_at, updated_at, owner";

fn now() -> String {
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
                                   attempts, created_at, updated_at, owner)
                 SELECT $1, $2, $3, $4, 'queued', 0, '', 'null', 0, $5, $5, $6
                 WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $2 AND session_id = $3
                                   AND params = $4 AND owner = $6
                                   AND state IN ('queued', 'running'))
                   AND (SELECT COUNT(*) FROM jobs WHERE owner = $6 AND state = 'queued') < $7",
            )
            .bind(&job.id)
            .bind(job.kind.as_str())
            .bind(&job.session)
            .bind(&params)
            .bind(now())
            .bind(&job.owner)
            .bind(i64::try_from(max_queued).unwrap_or(i64::MAX))
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

    /// Queues again the jobs left running by a process that died; returns how many.
    pub async fn recover_jobs(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', log = log || $1, updated_at = $2
             WHERE state = 'running'",
        )
        .bind("interrupted (the server stopped); queued again\n")
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Takes the oldest queued job of one of `kinds`, if any, and marks it running: the update
    /// only takes a job still queued, so two workers never take one.
    pub async fn claim_job(&self, kinds: &[JobKind]) -> Result<Option<Job>> {
        let placeholders: Vec<_> = (1..=kinds.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND kind IN ({}) \
             ORDER BY created_at, id LIMIT 1",
            placeholders.join(", ")
        );
        loop {
            let row = kinds
                .iter()
                .fold(sqlx::query(&sql), |q, k| q.bind(k.as_str()))
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let id: String = column(&row, "jobs", "id")?;
            let taken = sqlx::query(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 5,
                                 updated_at = $2
                 WHERE id = $1 AND state = 'queued'",
            )
            .bind(&id)
            .bind(now())
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                if let Some(job) = self.job(&id).await? {
                    return Ok(Some(job));
                }
            }
        }
    }

    /// A running job's progress, in percent (a job no longer running keeps its own).
    pub async fn note_job_progress(&self, id: &str, percent: u32) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET progress = $2, updated_at = $3 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(i64::from(percent.min(100)))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a job in `state` with a line of log and its outputs (none: null).
    pub async fn finish_job(
        &self,
        id: &str,
        state: JobState,
        log: &str,
        outputs: Option<&serde_json::Value>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = $2, progress = $3, log = log || $4, outputs = $5,
                             updated_at = $6
             WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(if state == JobState::Done { 100i64 } else { 0 })
        .bind(format!("{log}\n"))
        .bind(outputs.unwrap_or(&serde_json::Value::Null).to_string())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn new_job(id: &str, from_ms: u64, owner: &str) -> NewJob {
        NewJob {
            id: id.to_owned(),
            kind: JobKind::Clip,
            session: "s1".to_owned(),
            params: serde_json::json!({ "from": from_ms, "to": from_ms + 1000 }),
            owner: owner.to_owned(),
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
                        while let Some(job) = catalogue.claim_job(&JobKind::ALL).await.unwrap() {
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
    async fn recover_queues_the_running_jobs_again() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            for k in 0..3 {
                queued(
                    catalogue
                        .submit_job(&new_job(&format!("j{k}"), k * 1000, "a"), 10)
                        .await
                        .unwrap(),
                );
            }
            let running = catalogue.claim_job(&JobKind::ALL).await.unwrap().unwrap();
            let done = catalogue.claim_job(&JobKind::ALL).await.unwrap().unwrap();
            catalogue
                .finish_job(
                    &done.id,
                    JobState::Done,
                    "done",
                    Some(&serde_json::json!([1])),
                )
                .await
                .unwrap();
            assert_eq!(catalogue.recover_jobs().await.unwrap(), 1);
            let again = catalogue.job(&running.id).await.unwrap().unwrap();
            assert_eq!((again.state, again.attempts), (JobState::Queued, 1));
            assert!(again.log.contains("interrupted"), "{}", again.log);
            let done = catalogue.job(&done.id).await.unwrap().unwrap();
            assert_eq!((done.state, done.progress), (JobState::Done, 100));
            assert_eq!(done.outputs, serde_json::json!([1]));
            let retaken = catalogue.claim_job(&JobKind::ALL).await.unwrap().unwrap();
            assert_eq!((retaken.id, retaken.attempts), (running.id, 2));
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
            let heavy = catalogue.claim_job(&JobKind::HEAVY).await.unwrap().unwrap();
            assert_eq!(heavy.id, "c1");
            assert!(catalogue
                .claim_job(&JobKind::HEAVY)
                .await
                .unwrap()
                .is_none());
            let recorder = catalogue
                .claim_job(&[JobKind::Record])
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
                .claim_job(&[JobKind::Record])
                .await
                .unwrap()
                .unwrap();
            catalogue
                .finish_job(&running.id, JobState::Done, "", None)
                .await
                .unwrap();
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
