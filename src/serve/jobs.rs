//! Durable jobs: clip, publish, transcribe and align requests are rows in the catalogue (queued,
//! running, done, failed, cancelled; progress; log) run by a pool of workers, one heavy job per
//! core. A job that was running when the process died is queued again at start; its outputs are
//! written under temporary names and renamed, so a retry never shows a half file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::sync::Notify;

use super::auth::{Caller, Role};
use super::error::ApiError;
use crate::cancel::Cancel;
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::ops;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Clip,
    Publish,
    Transcribe,
    Align,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            JobKind::Clip => "clip",
            JobKind::Publish => "publish",
            JobKind::Transcribe => "transcribe",
            JobKind::Align => "align",
        }
    }
}

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

    fn parse(text: &str) -> JobState {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .unwrap_or(JobState::Failed)
    }
}

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn job_from(row: &sqlx::any::AnyRow) -> Job {
    Job {
        id: row.get("id"),
        kind: row.get("kind"),
        session: row.get("session_id"),
        params: serde_json::from_str(&row.get::<String, _>("params")).unwrap_or_default(),
        state: JobState::parse(&row.get::<String, _>("state")),
        progress: row.get::<i64, _>("progress") as u32,
        log: row.get("log"),
        outputs: serde_json::from_str(&row.get::<String, _>("outputs")).unwrap_or_default(),
        attempts: row.get::<i64, _>("attempts") as u32,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        owner: row.get("owner"),
    }
}

/// The jobs table and the workers' wake-up and cancel switches.
#[derive(Clone)]
pub struct Jobs {
    catalogue: Catalogue,
    wake: Arc<Notify>,
    running: Arc<Mutex<HashMap<String, Cancel>>>,
    /// Queued jobs one caller may have at once.
    max_queued: usize,
}

/// A job submitted: made now, or the identical one already queued or running, joined.
pub struct Submitted {
    pub job: Job,
    pub joined: bool,
}

impl Jobs {
    pub fn new(catalogue: Catalogue, max_queued: usize) -> Jobs {
        Jobs {
            catalogue,
            wake: Arc::new(Notify::new()),
            running: Arc::new(Mutex::new(HashMap::new())),
            max_queued,
        }
    }

    /// Queues a job for `caller`. An identical request of the same caller (same kind, session and
    /// parameters) queued or running is joined instead; a caller with `max_queued` jobs waiting
    /// is refused (429).
    pub async fn submit(
        &self,
        kind: JobKind,
        session: &str,
        params: serde_json::Value,
        caller: &Caller,
    ) -> Result<Submitted, ApiError> {
        let params = params.to_string();
        let owner = caller.owner.clone().unwrap_or_default();
        let same = sqlx::query(
            "SELECT id FROM jobs WHERE kind = $1 AND session_id = $2 AND params = $3 AND owner = $4 \
             AND state IN ('queued', 'running') ORDER BY created_at LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(session)
        .bind(&params)
        .bind(&owner)
        .fetch_optional(self.catalogue.pool())
        .await
        .map_err(ApiError::internal)?;
        if let Some(row) = same {
            let id: String = row.get(0);
            return Ok(Submitted {
                job: self.get(&id).await?,
                joined: true,
            });
        }
        let queued: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE owner = $1 AND state = 'queued'")
                .bind(&owner)
                .fetch_one(self.catalogue.pool())
                .await
                .map_err(ApiError::internal)?
                .get("n");
        if queued >= self.max_queued as i64 {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{queued} of your jobs are waiting already (at most {}); wait for them or cancel some",
                    self.max_queued
                ),
            ));
        }
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
        let id = format!(
            "job-{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let at = now();
        sqlx::query(
            "INSERT INTO jobs (id, kind, session_id, params, state, progress, log, outputs, attempts, created_at, updated_at, owner) \
             VALUES ($1, $2, $3, $4, 'queued', 0, '', 'null', 0, $5, $5, $6)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(session)
        .bind(&params)
        .bind(&at)
        .bind(&owner)
        .execute(self.catalogue.pool())
        .await
        .map_err(ApiError::internal)?;
        self.wake.notify_waiters();
        Ok(Submitted {
            job: self.get(&id).await?,
            joined: false,
        })
    }

    /// A job the caller may see: admin sees every job, press its own (another's is unknown, 404).
    pub async fn get_for(&self, id: &str, caller: &Caller) -> Result<Job, ApiError> {
        let job = self.get(id).await?;
        if caller.role >= Role::Admin || (job.owner.is_some() && job.owner == caller.owner) {
            Ok(job)
        } else {
            Err(ApiError::not_found(format!("no job {id:?}")))
        }
    }

    pub async fn get(&self, id: &str) -> Result<Job, ApiError> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.catalogue.pool())
            .await
            .map_err(ApiError::internal)?;
        row.map(|r| job_from(&r))
            .ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))
    }

    /// The newest jobs the caller may see: all for admin, its own for press.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<Job>, ApiError> {
        let rows = if caller.role >= Role::Admin {
            sqlx::query("SELECT * FROM jobs ORDER BY created_at DESC LIMIT 200")
                .fetch_all(self.catalogue.pool())
                .await
        } else {
            sqlx::query("SELECT * FROM jobs WHERE owner = $1 ORDER BY created_at DESC LIMIT 200")
                .bind(caller.owner.clone().unwrap_or_default())
                .fetch_all(self.catalogue.pool())
                .await
        }
        .map_err(ApiError::internal)?;
        Ok(rows.iter().map(job_from).collect())
    }

    pub async fn count_by_state(&self) -> Result<Vec<(JobState, i64)>, ApiError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(self.catalogue.pool())
            .await
            .map_err(ApiError::internal)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    JobState::parse(&r.get::<String, _>("state")),
                    r.get::<i64, _>("n"),
                )
            })
            .collect())
    }

    /// Cancels a queued job at once, a running one at its next check; press cancels only its own.
    pub async fn cancel(&self, id: &str, caller: &Caller) -> Result<Job, ApiError> {
        let job = self.get_for(id, caller).await?;
        match job.state {
            JobState::Queued => {
                self.finish(id, JobState::Cancelled, "cancelled before it ran", None)
                    .await?
            }
            JobState::Running => {
                if let Some(c) = self.running.lock().expect("running lock").get(id) {
                    c.cancel();
                }
            }
            _ => {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    format!("job {id} is already {}", job.state.as_str()),
                ))
            }
        }
        self.get(id).await
    }

    /// Jobs left running by a process that died are queued again.
    pub async fn recover(&self) -> Result<u64, ApiError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', log = log || $1, updated_at = $2 WHERE state = 'running'",
        )
        .bind("interrupted (the server stopped); queued again\n")
        .bind(now())
        .execute(self.catalogue.pool())
        .await
        .map_err(ApiError::internal)?;
        Ok(done.rows_affected())
    }

    /// Takes the oldest queued job, if any (the state check makes two workers never take one).
    async fn claim(&self) -> Result<Option<Job>, ApiError> {
        loop {
            let row = sqlx::query(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at LIMIT 1",
            )
            .fetch_optional(self.catalogue.pool())
            .await
            .map_err(ApiError::internal)?;
            let Some(row) = row else { return Ok(None) };
            let id: String = row.get(0);
            let taken = sqlx::query(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, progress = 5, updated_at = $2 \
                 WHERE id = $1 AND state = 'queued'",
            )
            .bind(&id)
            .bind(now())
            .execute(self.catalogue.pool())
            .await
            .map_err(ApiError::internal)?;
            if taken.rows_affected() == 1 {
                return self.get(&id).await.map(Some);
            }
        }
    }

    /// A running job's progress, in percent.
    async fn note_progress(&self, id: &str, percent: i64) {
        let noted = sqlx::query(
            "UPDATE jobs SET progress = $2, updated_at = $3 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(percent)
        .bind(now())
        .execute(self.catalogue.pool())
        .await;
        if let Err(e) = noted {
            tracing::warn!("job {id}: progress not noted: {e}");
        }
    }

    async fn finish(
        &self,
        id: &str,
        state: JobState,
        log: &str,
        outputs: Option<serde_json::Value>,
    ) -> Result<(), ApiError> {
        sqlx::query(
            "UPDATE jobs SET state = $2, progress = $3, log = log || $4, outputs = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(if state == JobState::Done { 100i64 } else { 0 })
        .bind(format!("{log}\n"))
        .bind(outputs.unwrap_or(serde_json::Value::Null).to_string())
        .bind(now())
        .execute(self.catalogue.pool())
        .await
        .map_err(ApiError::internal)?;
        Ok(())
    }

    /// Runs `workers` workers until `stop`; a job interrupted by `stop` stays resumable.
    pub fn start_workers(
        &self,
        config: Config,
        workers: usize,
        stop: Cancel,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..workers)
            .map(|_| {
                let (jobs, config, stop) = (self.clone(), config.clone(), stop.clone());
                tokio::spawn(async move { jobs.work(config, stop).await })
            })
            .collect()
    }

    async fn work(self, config: Config, stop: Cancel) {
        while !stop.is_cancelled() {
            let job = match self.claim().await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!("jobs: {}", e.message);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let cancel = Cancel::default();
            self.running
                .lock()
                .expect("running lock")
                .insert(job.id.clone(), cancel.clone());
            // A shutdown cancels the job's work but leaves it running in the table: it resumes.
            // Meanwhile the job's progress reaches its row every second.
            let watcher = {
                let (jobs, id) = (self.clone(), job.id.clone());
                let (stop, cancel) = (stop.clone(), cancel.clone());
                tokio::spawn(async move {
                    let (mut shown, mut tick) = (0, 0u32);
                    while !stop.is_cancelled() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        tick += 1;
                        let percent = 5 + (cancel.progress() * 94.0) as i64;
                        if tick % 10 == 0 && percent != shown {
                            shown = percent;
                            jobs.note_progress(&id, percent).await;
                        }
                    }
                    cancel.cancel();
                })
            };
            tracing::info!(
                "job {} ({}) on session {} started",
                job.id,
                job.kind,
                job.session
            );
            let result = run_job(&config, &self.catalogue, &job, cancel.clone()).await;
            watcher.abort();
            self.running.lock().expect("running lock").remove(&job.id);
            if stop.is_cancelled() {
                tracing::info!(
                    "job {} interrupted by the shutdown; it resumes at the next start",
                    job.id
                );
                break;
            }
            let finished = match result {
                Ok(Outcome { outputs, warnings }) => {
                    let log: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
                    self.finish(&job.id, JobState::Done, &(log + "done"), Some(outputs))
                        .await
                }
                Err(e) if cancel.is_cancelled() => {
                    self.finish(
                        &job.id,
                        JobState::Cancelled,
                        &format!("cancelled: {e:#}"),
                        None,
                    )
                    .await
                }
                Err(e) => {
                    self.finish(&job.id, JobState::Failed, &format!("failed: {e:#}"), None)
                        .await
                }
            };
            if let Err(e) = finished {
                tracing::error!("job {}: {}", job.id, e.message);
            }
            tracing::info!("job {} ended", job.id);
        }
    }
}

/// What a job made, and what its requester should know (the job's log carries the warnings).
struct Outcome {
    outputs: serde_json::Value,
    warnings: Vec<String>,
}

/// Runs one job with the operations the command line runs.
async fn run_job(
    config: &Config,
    catalogue: &Catalogue,
    job: &Job,
    cancel: Cancel,
) -> anyhow::Result<Outcome> {
    let session = session::SessionId::parse(&job.session)?;
    match job.kind.as_str() {
        "clip" => {
            let mut request: ops::clip::ClipRequest = serde_json::from_value(job.params.clone())?;
            request.id = session;
            let report = ops::clip::clip(config, catalogue, &request, cancel).await?;
            let outputs = serde_json::json!(report
                .clips
                .iter()
                .map(|(_, record)| serde_json::json!({
                    "clip": record.id,
                    "path": record.path,
                    "start_ms": record.start_ms,
                    "end_ms": record.end_ms,
                    "bytes": record.bytes,
                }))
                .collect::<Vec<_>>());
            Ok(Outcome {
                outputs,
                warnings: report.warnings,
            })
        }
        "publish" => {
            let mut request: ops::publish::PublishRequest =
                serde_json::from_value(job.params.clone())?;
            request.id = session;
            let report = ops::publish::publish(config, catalogue, &request, cancel).await?;
            Ok(Outcome {
                outputs: serde_json::to_value(&report)?,
                warnings: report.warnings,
            })
        }
        "transcribe" => {
            let choice = ops::transcribe::ModelChoice::default();
            let report =
                ops::transcribe::transcribe_session(config, catalogue, &session, &choice, &cancel)
                    .await?;
            Ok(Outcome {
                outputs: serde_json::json!({ "transcribed": job.session }),
                warnings: report.align.warnings,
            })
        }
        "align" => {
            let report = ops::align::align(config, catalogue, &session, &cancel).await?;
            Ok(Outcome {
                outputs: serde_json::json!({ "aligned": job.session }),
                warnings: report.warnings,
            })
        }
        other => anyhow::bail!("unknown job kind {other:?}"),
    }
}
