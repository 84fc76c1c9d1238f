//! The jobs as the API asks for them: clip, publish, transcribe, align, deliver and record
//! requests become rows of the catalogue's queue (queued, running, done, failed, cancelled;
//! progress; log) that the workers ([`crate::ops::jobs`]) of this process or of `aula worker` on
//! any host run; a cancel reaches the job's worker wherever it runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::auth::{Caller, Role};
use super::error::ApiError;
use crate::catalogue::{Catalogue, NewJob, Submission};
use crate::ops::jobs::WorkerOptions;

pub use crate::catalogue::{Job, JobKind, JobState};

/// How jobs run in this process or in a worker's: the lease and the per-kind limits.
#[derive(Clone, Debug, clap::Args)]
pub struct QueueArgs {
    /// Seconds a worker holds a job without renewing its lease (once a second); after that a
    /// worker that died or was cut off loses it to another.
    #[arg(long, env = "AULA_JOB_LEASE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub lease_secs: u64,
    /// At most N jobs of KIND at once in this process, e.g. transcribe=1 (the default for
    /// transcribe); repeatable.
    #[arg(long = "limit", value_name = "KIND=N", value_parser = parse_limit)]
    pub limits: Vec<(JobKind, usize)>,
}

impl QueueArgs {
    /// The options of a worker taking `kinds`, `concurrency` heavy jobs at once.
    pub fn options(&self, kinds: Vec<JobKind>, concurrency: usize) -> WorkerOptions {
        let mut limits = WorkerOptions::DEFAULT_LIMITS.to_vec();
        limits.extend(self.limits.iter().copied());
        WorkerOptions {
            kinds,
            concurrency,
            limits,
            lease: Duration::from_secs(self.lease_secs),
        }
    }
}

fn parse_limit(text: &str) -> Result<(JobKind, usize), String> {
    let (kind, n) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected KIND=N, e.g. transcribe=1"))?;
    let kind = parse_kind(kind)?;
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{n:?}: expected a number of jobs of at least 1"))?;
    Ok((kind, n))
}

/// A job kind by its name (`clip`, `publish`, ...).
pub fn parse_kind(text: &str) -> Result<JobKind, String> {
    JobKind::ALL
        .into_iter()
        .find(|k| k.as_str() == text.trim())
        .ok_or_else(|| {
            let names: Vec<_> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("{text:?}: not a job kind (one of {})", names.join(", "))
        })
}

/// The role a caller needs to ask for a job of `kind`.
pub fn role_for(kind: JobKind) -> Role {
    match kind {
        JobKind::Clip | JobKind::Publish | JobKind::Deliver => Role::Press,
        JobKind::Record => Role::Clerk,
        JobKind::Transcribe | JobKind::Align => Role::Admin,
    }
}

/// The jobs table, and the wake-up of this process's workers.
#[derive(Clone)]
pub struct Jobs {
    catalogue: Catalogue,
    wake: Arc<Notify>,
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
            max_queued,
        }
    }

    /// Notified when a job is queued here, for this process's workers.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// How urgent a job is: a recording first, then work on a session being recorded (live
    /// clips), then the archive's.
    async fn priority(&self, kind: JobKind, session: &str) -> Result<i64, ApiError> {
        if kind == JobKind::Record {
            return Ok(100);
        }
        let live = self
            .recording(session)
            .await?
            .is_some_and(|r| r.state == JobState::Running);
        Ok(if live { 50 } else { 0 })
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
            priority: self.priority(kind, session).await?,
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
                self.catalogue
                    .cancel_queued_job(id, "cancelled before it ran")
                    .await?;
            }
            JobState::Running => {
                self.catalogue.request_cancel(id).await?;
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
            self.catalogue
                .cancel_queued_job(&job.id, "stopped before it started")
                .await?;
        } else {
            self.catalogue.request_cancel(&job.id).await?;
        }
        self.get(&job.id).await
    }
}
