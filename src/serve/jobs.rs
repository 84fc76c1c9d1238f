//! Durable jobs: clip, publish, transcribe, align and deliver requests are rows in the catalogue (queued,
//! running, done, failed, cancelled; progress; log) run by a pool of workers, one heavy job per
//! core. A job that was running when the process died is queued again at start; its outputs are
//! written under temporary names and renamed, so a retry never shows a half file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::auth::{Caller, Role};
use super::error::ApiError;
use crate::cancel::Cancel;
use crate::catalogue::{Catalogue, NewJob, Submission};
use crate::config::Config;
use crate::ops;

pub use crate::catalogue::{Job, JobKind, JobState};

/// Sessions recorded at once: recordings run beside the heavy workers, not in their place, so
/// clips are cut while a session is live.
pub const RECORDERS: usize = 4;

/// The role a caller needs to ask for a job of `kind`.
pub fn role_for(kind: JobKind) -> Role {
    match kind {
        JobKind::Clip | JobKind::Publish | JobKind::Deliver => Role::Press,
        JobKind::Record => Role::Clerk,
        JobKind::Transcribe | JobKind::Align => Role::Admin,
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
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
        let job = NewJob {
            id: format!(
                "job-{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
            kind,
            session: session.to_owned(),
            params,
            owner: caller.owner.clone().unwrap_or_default(),
        };
        match self
            .catalogue
            .submit_job(&job, self.max_queued as u64)
            .await?
        {
            Submission::Queued(job) => {
                self.wake.notify_waiters();
                Ok(Submitted { job, joined: false })
            }
            Submission::Joined(job) => Ok(Submitted { job, joined: true }),
            Submission::Full { queued } => Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{queued} of your jobs are waiting already (at most {}); wait for them or cancel some",
                    self.max_queued
                ),
            )),
        }
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
        self.catalogue
            .job(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))
    }

    /// The newest jobs the caller may see: all for admin, its own for press.
    pub async fn list(&self, caller: &Caller) -> Result<Vec<Job>, ApiError> {
        let owner = (caller.role < Role::Admin).then(|| caller.owner.clone().unwrap_or_default());
        Ok(self.catalogue.jobs(owner.as_deref(), 200).await?)
    }

    pub async fn count_by_state(&self) -> Result<Vec<(JobState, u64)>, ApiError> {
        Ok(self.catalogue.job_counts().await?)
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

    /// Runs a failed or cancelled job again: a new job of the same kind, session and parameters,
    /// the caller's, if the caller may ask for that kind.
    pub async fn retry(&self, id: &str, caller: &Caller) -> Result<Submitted, ApiError> {
        let job = self.get(id).await?;
        caller.require(role_for(job.kind))?;
        if !matches!(job.state, JobState::Failed | JobState::Cancelled) {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!(
                    "job {id} is {}: only a failed or cancelled job is run again",
                    job.state.as_str()
                ),
            ));
        }
        self.submit(job.kind, &job.session, job.params, caller)
            .await
    }

    /// The session's recording: its newest record job, in any state.
    pub async fn recording(&self, session: &str) -> Result<Option<Job>, ApiError> {
        Ok(self.catalogue.latest_job(session, JobKind::Record).await?)
    }

    /// Starts recording the session live, unless a recording of it is queued or running (409).
    pub async fn start_recording(&self, session: &str, caller: &Caller) -> Result<Job, ApiError> {
        if let Some(job) = self.recording(session).await? {
            if matches!(job.state, JobState::Queued | JobState::Running) {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    format!(
                        "session {session} is being recorded already (job {})",
                        job.id
                    ),
                ));
            }
        }
        Ok(self
            .submit(JobKind::Record, session, serde_json::json!({}), caller)
            .await?
            .job)
    }

    /// Stops the session's recording, whoever started it: its sources close their segments and
    /// the recording is joined (409 when none is running).
    pub async fn stop_recording(&self, session: &str) -> Result<Job, ApiError> {
        let job = self
            .recording(session)
            .await?
            .filter(|j| matches!(j.state, JobState::Queued | JobState::Running))
            .ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    format!("session {session} is not being recorded"),
                )
            })?;
        if job.state == JobState::Queued {
            self.finish(
                &job.id,
                JobState::Cancelled,
                "stopped before it started",
                None,
            )
            .await?;
        } else if let Some(c) = self.running.lock().expect("running lock").get(&job.id) {
            c.cancel();
        }
        self.get(&job.id).await
    }

    /// Jobs left running by a process that died are queued again.
    pub async fn recover(&self) -> Result<u64, ApiError> {
        Ok(self.catalogue.recover_jobs().await?)
    }

    /// Takes the oldest queued job of `kinds`, if any (two workers never take one).
    async fn claim(&self, kinds: &[JobKind]) -> Result<Option<Job>, ApiError> {
        Ok(self.catalogue.claim_job(kinds).await?)
    }

    /// A running job's progress, in percent.
    async fn note_progress(&self, id: &str, percent: u32) {
        if let Err(e) = self.catalogue.note_job_progress(id, percent).await {
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
        Ok(self
            .catalogue
            .finish_job(id, state, log, outputs.as_ref())
            .await?)
    }

    /// Runs `workers` heavy workers and [`RECORDERS`] recorders until `stop`; a job interrupted
    /// by `stop` stays resumable.
    pub fn start_workers(
        &self,
        config: Config,
        workers: usize,
        stop: Cancel,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let heavy = (0..workers).map(|_| &JobKind::HEAVY[..]);
        let recorders = (0..RECORDERS).map(|_| &[JobKind::Record][..]);
        heavy
            .chain(recorders)
            .map(|kinds| {
                let (jobs, config, stop) = (self.clone(), config.clone(), stop.clone());
                tokio::spawn(async move { jobs.work(config, stop, kinds).await })
            })
            .collect()
    }

    async fn work(self, config: Config, stop: Cancel, kinds: &'static [JobKind]) {
        while !stop.is_cancelled() {
            let job = match self.claim(kinds).await {
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
                        let percent = 5 + (cancel.progress() * 94.0) as u32;
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
    match job.kind {
        JobKind::Clip => {
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
        JobKind::Publish => {
            let mut request: ops::publish::PublishRequest =
                serde_json::from_value(job.params.clone())?;
            request.id = session;
            let report = ops::publish::publish(config, catalogue, &request, cancel).await?;
            Ok(Outcome {
                outputs: serde_json::to_value(&report)?,
                warnings: report.warnings,
            })
        }
        JobKind::Transcribe => {
            let choice = ops::transcribe::ModelChoice::default();
            let report =
                ops::transcribe::transcribe_session(config, catalogue, &session, &choice, &cancel)
                    .await?;
            Ok(Outcome {
                outputs: serde_json::json!({ "transcribed": job.session }),
                warnings: report.align.warnings,
            })
        }
        JobKind::Record => {
            let report = ops::record::run_live(config, catalogue, &session, cancel).await?;
            Ok(Outcome {
                outputs: serde_json::to_value(&report)?,
                warnings: Vec::new(),
            })
        }
        JobKind::Align => {
            let report = ops::align::align(config, catalogue, &session, &cancel).await?;
            Ok(Outcome {
                outputs: serde_json::json!({ "aligned": job.session }),
                warnings: report.warnings,
            })
        }
        JobKind::Deliver => {
            let mut request: ops::deliver::DeliverRequest =
                serde_json::from_value(job.params.clone())?;
            request.id = session;
            let quiet = |_: &str| {};
            let report =
                ops::deliver::deliver(config, catalogue, &request, Some(&job.id), &quiet, cancel)
                    .await?;
            report.check()?;
            Ok(Outcome {
                outputs: serde_json::to_value(&report)?,
                warnings: Vec::new(),
            })
        }
    }
}
