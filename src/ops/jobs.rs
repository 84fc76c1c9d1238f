//! The job workers of `aula worker` and `aula serve`: slots that claim jobs from the queue the
//! catalogue keeps (shared by every host), run them with the operations the command line runs,
//! renew their leases every second with the progress, and end them, retried with backoff or
//! handed back; a job whose lease was lost is left alone, its output unwritten.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify};

use crate::cancel::Cancel;
use crate::catalogue::{Catalogue, Job, JobKind, JobState, Lease, WorkerRecord};
use crate::config::Config;
use crate::ops;
use crate::storage::ObjectStorage;
use anyhow::Context;

/// Sessions one worker records at once: recordings run beside the heavy jobs, not in their place,
/// so clips are cut while a session is live.
pub const RECORDERS: usize = 4;

/// How often a running job's lease is renewed and its progress noted, and how often a worker
/// advertises itself.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// The wait before a failed job's first retry; it doubles at each further attempt.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What a worker takes and how much at once.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The kinds it takes.
    pub kinds: Vec<JobKind>,
    /// Heavy jobs (all but recordings) at once.
    pub concurrency: usize,
    /// Jobs of one kind at once, below `concurrency` (one transcription at a time on a CPU).
    pub limits: Vec<(JobKind, usize)>,
    /// How long a claim holds a job without a heartbeat.
    pub lease: Duration,
}

impl WorkerOptions {
    /// The limits a worker has unless told otherwise: one transcription at a time.
    pub const DEFAULT_LIMITS: [(JobKind, usize); 1] = [(JobKind::Transcribe, 1)];

    fn limit(&self, kind: JobKind) -> usize {
        self.limits
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map_or(usize::MAX, |(_, n)| *n)
    }
}

/// A worker process's slots, its advertisement and its jobs running now.
#[derive(Clone)]
pub struct Worker {
    id: String,
    host: String,
    config: Config,
    catalogue: Catalogue,
    options: Arc<WorkerOptions>,
    wake: Arc<Notify>,
    /// Jobs running now, per kind; held while a slot claims, so the limits hold.
    running: Arc<Mutex<HashMap<JobKind, usize>>>,
    load: Arc<AtomicUsize>,
    /// The object store holding the outputs, when not the data folder.
    storage: Option<ObjectStorage>,
}

impl Worker {
    /// A worker with a new id (host, process, random); `wake` is notified when a job is queued
    /// in this process (others poll every second).
    pub fn new(
        config: Config,
        catalogue: Catalogue,
        options: WorkerOptions,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Worker> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let mut bytes = [0u8; 3];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random worker id: {e}"))?;
        let tag: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let id = format!("{host}-{}-{tag}", std::process::id());
        let storage = config
            .storage
            .as_ref()
            .map(ObjectStorage::open)
            .transpose()?;
        Ok(Worker {
            storage,
            id,
            host,
            config,
            catalogue,
            options: Arc::new(options),
            wake,
            running: Arc::new(Mutex::new(HashMap::new())),
            load: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs the slots (`concurrency` heavy ones, [`RECORDERS`] recorders when it takes
    /// recordings) and the advertisement until `stop`; a job interrupted by `stop` goes back to
    /// the queue.
    pub fn start(&self, stop: Cancel) -> Vec<tokio::task::JoinHandle<()>> {
        let heavy: Vec<JobKind> = self
            .options
            .kinds
            .iter()
            .copied()
            .filter(|k| *k != JobKind::Record)
            .collect();
        let mut slots: Vec<Vec<JobKind>> = Vec::new();
        if !heavy.is_empty() {
            slots.extend((0..self.options.concurrency).map(|_| heavy.clone()));
        }
        if self.options.kinds.contains(&JobKind::Record) {
            slots.extend((0..RECORDERS).map(|_| vec![JobKind::Record]));
        }
        let mut tasks: Vec<_> = slots
            .into_iter()
            .map(|kinds| tokio::spawn(self.clone().slot(kinds, stop.clone())))
            .collect();
        tasks.push(tokio::spawn(self.clone().advertise(stop)));
        tasks
    }

    /// Heartbeats the worker's row (its load) until `stop`, then removes it.
    async fn advertise(self, stop: Cancel) {
        let kinds: Vec<&str> = self.options.kinds.iter().map(|k| k.as_str()).collect();
        let mut record = WorkerRecord {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            kinds: kinds.join(","),
            concurrency: u32::try_from(self.options.concurrency).unwrap_or(u32::MAX),
            running: 0,
            started_at: chrono::Utc::now().to_rfc3339(),
            heartbeat_age_ms: 0,
            alive: true,
        };
        while !stop.is_cancelled() {
            record.running = u32::try_from(self.load.load(Ordering::Relaxed)).unwrap_or(0);
            if let Err(e) = self.catalogue.advertise_worker(&record).await {
                tracing::warn!("worker {}: not advertised: {e}", self.id);
            }
            tokio::time::sleep(HEARTBEAT).await;
        }
        if let Err(e) = self.catalogue.retire_worker(&self.id).await {
            tracing::warn!("worker {}: not removed from the list: {e}", self.id);
        }
    }

    /// Claims a job of `kinds` that this worker's limits allow, counting it as running.
    async fn claim(&self, kinds: &[JobKind]) -> anyhow::Result<Option<Job>> {
        let mut running = self.running.lock().await;
        let allowed: Vec<JobKind> = kinds
            .iter()
            .copied()
            .filter(|k| running.get(k).copied().unwrap_or(0) < self.options.limit(*k))
            .collect();
        if allowed.is_empty() {
            return Ok(None);
        }
        let lease_ms = u64::try_from(self.options.lease.as_millis()).unwrap_or(u64::MAX);
        let job = self
            .catalogue
            .claim_job(&self.id, &allowed, lease_ms)
            .await?;
        if let Some(job) = &job {
            *running.entry(job.kind).or_default() += 1;
            self.load.fetch_add(1, Ordering::Relaxed);
        }
        Ok(job)
    }

    async fn release(&self, kind: JobKind) {
        if let Some(n) = self.running.lock().await.get_mut(&kind) {
            *n = n.saturating_sub(1);
        }
        self.load.fetch_sub(1, Ordering::Relaxed);
        // A slot waiting on a limit may claim now.
        self.wake.notify_waiters();
    }

    async fn slot(self, kinds: Vec<JobKind>, stop: Cancel) {
        while !stop.is_cancelled() {
            let job = match self.claim(&kinds).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    let _ = tokio::time::timeout(HEARTBEAT, self.wake.notified()).await;
                    continue;
                }
                Err(e) => {
                    tracing::error!("worker {}: claiming a job: {e:#}", self.id);
                    tokio::time::sleep(HEARTBEAT).await;
                    continue;
                }
            };
            let kind = job.kind;
            self.run(job, &stop).await;
            self.release(kind).await;
        }
    }

    /// The local end of a lease renewed at `sent`: a fifth early, so the work stops before the
    /// database hands the job to another worker.
    fn lease_end(&self, sent: Instant) -> Instant {
        sent + self.options.lease - self.options.lease / 5
    }

    /// Runs one claimed job and ends it, unless its lease was lost meanwhile.
    async fn run(&self, job: Job, stop: &Cancel) {
        let lease = job.lease();
        let cancel = Cancel::default();
        cancel.hold_until(self.lease_end(Instant::now()));
        let asked = Arc::new(AtomicBool::new(false));
        let heartbeat = tokio::spawn(self.clone().heartbeat(
            lease.clone(),
            cancel.clone(),
            stop.clone(),
            asked.clone(),
        ));
        tracing::info!(
            "job {} ({}, attempt {}) on session {} started by {}",
            job.id,
            job.kind,
            job.attempts,
            job.session,
            self.id
        );
        let result = self.run_staged(&job, cancel.clone()).await;
        heartbeat.abort();
        if cancel.lease_lost() {
            tracing::warn!(
                "job {}: worker {} lost its lease (cut off from the catalogue too long); its \
                 output is not written, another worker runs it",
                job.id,
                self.id
            );
            return;
        }
        let ended = if stop.is_cancelled() {
            tracing::info!("job {} interrupted by the stop; queued again", job.id);
            self.catalogue
                .requeue_job(
                    &lease,
                    &format!("interrupted: worker {} stopped; queued again", self.id),
                    0,
                    false,
                )
                .await
        } else {
            self.end(&job, &lease, result, asked.load(Ordering::SeqCst))
                .await
        };
        match ended {
            Ok(true) => tracing::info!("job {} ended", job.id),
            Ok(false) => tracing::warn!(
                "job {}: its lease was lost as it ended; another worker's result stands",
                job.id
            ),
            Err(e) => tracing::error!("job {}: not ended: {e}", job.id),
        }
    }

    /// Runs the job in the data folder, or (the outputs in an object store; a live recording
    /// stays on its host) in a scratch folder: the session's files taken from the store, the job
    /// run there, what it made put back while the lease holds, the folder removed.
    async fn run_staged(&self, job: &Job, cancel: Cancel) -> anyhow::Result<Outcome> {
        let Some(store) = self
            .storage
            .as_ref()
            .filter(|_| job.kind != JobKind::Record)
        else {
            return run_job(&self.config, &self.catalogue, job, cancel).await;
        };
        let scratch = self.config.staging_dir(&job.id);
        let staged = async {
            std::fs::create_dir_all(&scratch)
                .with_context(|| format!("creating {}", scratch.display()))?;
            // The models and presets are read where they are.
            for shared in ["models", "presets"] {
                let real = self.config.home.join(shared);
                if real.is_dir() {
                    std::os::unix::fs::symlink(&real, scratch.join(shared)).with_context(|| {
                        format!("linking {} into the scratch folder", real.display())
                    })?;
                }
            }
            let before = store
                .fetch(&format!("sessions/{}/", job.session), &scratch)
                .await?;
            let config = Config {
                home: scratch.clone(),
                ..self.config.clone()
            };
            let outcome = run_job(&config, &self.catalogue, job, cancel.clone()).await?;
            let written = store.put_back(&scratch, &before, &cancel).await?;
            tracing::info!("job {}: {written} object(s) put in the store", job.id);
            anyhow::Ok(outcome)
        }
        .await;
        if let Err(e) = std::fs::remove_dir_all(&scratch) {
            tracing::warn!(
                "job {}: scratch folder {} not removed: {e}",
                job.id,
                scratch.display()
            );
        }
        staged
    }

    /// Ends a job that ran: done, cancelled, failed, or queued again for a retry when the
    /// failure was not the request's fault and attempts are left.
    async fn end(
        &self,
        job: &Job,
        lease: &Lease,
        result: anyhow::Result<Outcome>,
        asked_to_cancel: bool,
    ) -> Result<bool, crate::catalogue::CatalogueError> {
        match result {
            Ok(Outcome { outputs, warnings }) => {
                let log: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
                self.catalogue
                    .finish_job(lease, JobState::Done, &(log + "done"), Some(&outputs))
                    .await
            }
            Err(e) if asked_to_cancel => {
                self.catalogue
                    .finish_job(
                        lease,
                        JobState::Cancelled,
                        &format!("cancelled: {e:#}"),
                        None,
                    )
                    .await
            }
            Err(e)
                if retried(job.kind)
                    && ops::kind_of(&e) == ops::ErrorKind::Internal
                    && job.attempts < job.max_attempts =>
            {
                let wait = RETRY_AFTER * 2u32.saturating_pow(job.attempts.saturating_sub(1));
                let log = format!(
                    "failed (attempt {} of {}): {e:#}; tried again in {} s",
                    job.attempts,
                    job.max_attempts,
                    wait.as_secs()
                );
                let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                self.catalogue.requeue_job(lease, &log, wait_ms, true).await
            }
            Err(e) => {
                self.catalogue
                    .finish_job(lease, JobState::Failed, &format!("failed: {e:#}"), None)
                    .await
            }
        }
    }

    /// Every [`HEARTBEAT`] while the job runs: renews its lease with its progress and reads
    /// whether a cancel was asked. A lost lease, or a stop, cancels the work.
    async fn heartbeat(self, lease: Lease, cancel: Cancel, stop: Cancel, asked: Arc<AtomicBool>) {
        let lease_ms = u64::try_from(self.options.lease.as_millis()).unwrap_or(u64::MAX);
        while !stop.is_cancelled() {
            tokio::time::sleep(HEARTBEAT).await;
            let percent = 5 + (cancel.progress() * 94.0) as u32;
            let sent = Instant::now();
            match self.catalogue.renew_lease(&lease, lease_ms, percent).await {
                Ok(Some(cancel_asked)) => {
                    cancel.hold_until(self.lease_end(sent));
                    if cancel_asked && !asked.swap(true, Ordering::SeqCst) {
                        tracing::info!("job {}: cancel asked", lease.job);
                        cancel.cancel();
                    }
                }
                Ok(None) => {
                    tracing::warn!("job {}: the lease is lost to another worker", lease.job);
                    cancel.hold_until(Instant::now());
                    return;
                }
                // The local end of the lease stops the work if this lasts.
                Err(e) => tracing::warn!("job {}: lease not renewed: {e}", lease.job),
            }
        }
        cancel.cancel();
    }
}

/// Whether a failed job of `kind` is tried again: a delivery retries each destination itself,
/// and a live recording cannot be had again.
fn retried(kind: JobKind) -> bool {
    !matches!(kind, JobKind::Deliver | JobKind::Record)
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
