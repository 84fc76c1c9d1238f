//! Jobs on a queue shared by processes: one `aula serve --workers 0` and `aula worker` processes
//! on one PostgreSQL catalogue and one data folder. Thirty clip jobs are each done exactly once; a
//! worker killed in the middle of a job loses it to another once its lease expires; a worker
//! frozen past its lease (SIGSTOP) and thawed writes nothing.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::deliver::walk;
use common::serve::{http, spawn, start_serving_only, Server};
use common::{Aula, Evidence, Spec};

/// The lease the workers of these tests hold a job for without a heartbeat.
const LEASE_SECS: &str = "5";

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn job(port: u16, token: &str, id: &str) -> serde_json::Value {
    let (status, body) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
    assert_eq!(status, 200, "{body}");
    json(&body)
}

/// Waits (at most `seconds`) until `check` holds for job `id`; returns the job.
fn wait_job(
    port: u16,
    token: &str,
    id: &str,
    seconds: u64,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let state = job(port, token, id);
        if check(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} never got there: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn post_clip(port: u16, token: &str, session: &str, body: &str) -> String {
    let (status, answer) = http(
        port,
        "POST",
        &format!("/api/v1/sessions/{session}/clips"),
        Some(token),
        body,
    );
    assert_eq!(status, 202, "{answer}");
    json(&answer)["id"].as_str().unwrap().to_owned()
}

/// A data folder with a 40 s session, its catalogue on PostgreSQL, a server that runs no jobs, and
/// the press and admin tokens.
struct Cluster {
    aula: Aula,
    session: String,
    server: Server,
    press: String,
    admin: String,
}

impl Cluster {
    fn new(seed: u64) -> Cluster {
        let aula = Aula::on_postgres();
        let sample = aula.sample(&Spec {
            lang: "en",
            seconds: 40,
            items: 2,
            speakers: 2,
            seed,
            ..Spec::default()
        });
        let session = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
        let token = |role: &str| {
            aula.ok(&["token", "create", "--role", role])
                .trim()
                .to_owned()
        };
        let (press, admin) = (token("press"), token("admin"));
        let server = start_serving_only(&aula, &["--max-queued-jobs", "100"]);
        Cluster {
            aula,
            session,
            server,
            press,
            admin,
        }
    }

    /// An `aula worker` taking clips, one at a time.
    fn worker(&self) -> Server {
        let mut command = self
            .aula
            .command(&["worker", "--kinds", "clip", "--concurrency", "1"]);
        command
            .env("AULA_JOB_LEASE_SECS", LEASE_SECS)
            .stdout(std::process::Stdio::null());
        spawn(command)
    }

    fn clips_dir(&self) -> PathBuf {
        self.aula
            .path()
            .join("data")
            .join("sessions")
            .join(&self.session)
            .join("clips")
    }

    /// The workers the API lists alive.
    fn workers_alive(&self) -> Vec<serde_json::Value> {
        let (status, body) = http(
            self.server.port,
            "GET",
            "/api/v1/workers",
            Some(&self.admin),
            "",
        );
        assert_eq!(status, 200, "{body}");
        json(&body)
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["alive"] == true)
            .cloned()
            .collect()
    }

    fn wait_workers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.workers_alive().len() != n {
            assert!(
                Instant::now() < deadline,
                "not {n} workers: {:?}",
                self.workers_alive()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A long clip job caught running on a lone worker: the worker, the job's id and the id of
    /// the worker holding it.
    fn caught_running(&self, from_ms: u64) -> (Server, String, String) {
        let worker = self.worker();
        self.wait_workers(1);
        let id = self.long_clip(from_ms);
        let running = wait_job(self.server.port, &self.press, &id, 120, |j| {
            j["state"] == "running"
        });
        let holder = running["worker"].as_str().unwrap().to_owned();
        std::thread::sleep(Duration::from_millis(500));
        (worker, id, holder)
    }

    /// Waits until job `id` is done; a job that fails or is cancelled fails the test.
    fn done(&self, id: &str) -> serde_json::Value {
        wait_job(self.server.port, &self.press, id, 300, |j| {
            assert!(
                !matches!(j["state"].as_str(), Some("failed" | "cancelled")),
                "{j}"
            );
            j["state"] == "done"
        })
    }

    /// A re-encode long enough to be caught in the middle (30 s to 720p, subtitles burned in).
    fn long_clip(&self, from_ms: u64) -> String {
        post_clip(
            self.server.port,
            &self.press,
            &self.session,
            &format!(
                r#"{{"from": {from_ms}, "to": {}, "preset": "web-720p", "subs": "burn"}}"#,
                from_ms + 30_000
            ),
        )
    }
}

/// The files in `dir` whose name starts with `stem` and ends with `.ext`.
fn outputs(dir: &Path, stem: &str, ext: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(stem) && n.ends_with(&format!(".{ext}")))
        .collect();
    names.sort();
    names
}

fn half_files(home: &Path) -> Vec<PathBuf> {
    walk(&home.join("data").join("sessions"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".part"))
        .collect()
}

#[test]
fn thirty_clip_jobs_on_two_workers_are_each_done_once() {
    let cluster = Cluster::new(21);
    let (_one, _two) = (cluster.worker(), cluster.worker());
    cluster.wait_workers(2);
    let worker = &cluster.workers_alive()[0];
    assert_eq!(
        (worker["kinds"].as_str(), worker["concurrency"].as_u64()),
        (Some("clip"), Some(1)),
        "{worker}"
    );
    // Only admin lists the workers.
    let (status, _) = http(
        cluster.server.port,
        "GET",
        "/api/v1/workers",
        Some(&cluster.press),
        "",
    );
    assert_eq!(status, 403);

    let ids: Vec<String> = (0..30u64)
        .map(|k| {
            post_clip(
                cluster.server.port,
                &cluster.press,
                &cluster.session,
                &format!(
                    r#"{{"from": {}, "to": {}, "preset": "audio-mp3"}}"#,
                    1000 + k * 1000,
                    1800 + k * 1000
                ),
            )
        })
        .collect();
    let done: Vec<serde_json::Value> = ids.iter().map(|id| cluster.done(id)).collect();
    assert!(
        done.iter().all(|j| j["attempts"] == 1),
        "a job was attempted twice: {done:?}"
    );
    let by: HashSet<&str> = done.iter().map(|j| j["worker"].as_str().unwrap()).collect();
    assert_eq!(by.len(), 2, "both workers took jobs: {by:?}");
    let paths: HashSet<&str> = done
        .iter()
        .map(|j| j["outputs"][0]["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 30, "{paths:?}");
    for path in &paths {
        let file = cluster
            .aula
            .path()
            .join("data")
            .join("sessions")
            .join(&cluster.session)
            .join(path);
        assert!(file.metadata().unwrap().len() > 0, "{}", file.display());
    }
    assert_eq!(outputs(&cluster.clips_dir(), "", "mp3").len(), 30);
    assert!(half_files(cluster.aula.path()).is_empty());
    // Thirty `done` rows, no other.
    let (_, jobs) = http(
        cluster.server.port,
        "GET",
        "/api/v1/jobs",
        Some(&cluster.press),
        "",
    );
    let jobs = json(&jobs);
    assert_eq!(jobs.as_array().unwrap().len(), 30);
    assert!(jobs
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["state"] == "done"));
}

#[test]
fn a_killed_worker_loses_its_job_to_another_once_the_lease_expires() {
    let cluster = Cluster::new(22);
    let (mut first, id, holder) = cluster.caught_running(2000);
    // SAFETY: kill(2) on a child of this process.
    unsafe { libc::kill(first.child.id() as i32, libc::SIGKILL) };
    let _ = first.child.wait();
    let killed_at = Instant::now();
    let _second = cluster.worker();

    let done = cluster.done(&id);
    assert!(
        killed_at.elapsed() >= Duration::from_secs(3),
        "taken again before the lease expired"
    );
    assert_eq!(done["attempts"], 2, "{done}");
    assert_ne!(done["worker"].as_str(), Some(holder.as_str()), "{done}");
    let log = done["log"].as_str().unwrap();
    assert!(
        log.contains(&format!("the lease of worker {holder} expired")),
        "{log}"
    );
    let path = done["outputs"][0]["path"].as_str().unwrap();
    let name = Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let stem = name.trim_end_matches(".mp4");
    assert_eq!(
        outputs(&cluster.clips_dir(), stem, "mp4"),
        vec![name.clone()]
    );
    assert!(cluster.clips_dir().join(&name).metadata().unwrap().len() > 0);
    // The killed worker's half file went when the next worker of this host started.
    assert!(
        half_files(cluster.aula.path()).is_empty(),
        "{:?}",
        half_files(cluster.aula.path())
    );
}

#[test]
fn a_worker_frozen_past_its_lease_writes_nothing_when_it_thaws() {
    let cluster = Cluster::new(23);
    let (frozen, id, holder) = cluster.caught_running(4000);
    // SAFETY: kill(2) on a child of this process.
    unsafe { libc::kill(frozen.child.id() as i32, libc::SIGSTOP) };
    let _other = cluster.worker();
    let done = cluster.done(&id);
    assert_ne!(done["worker"].as_str(), Some(holder.as_str()), "{done}");
    let path = done["outputs"][0]["path"].as_str().unwrap();
    let file = cluster
        .aula
        .path()
        .join("data")
        .join("sessions")
        .join(&cluster.session)
        .join(path);
    let written = |f: &Path| -> (SystemTime, u64) {
        let meta = f.metadata().unwrap();
        (meta.modified().unwrap(), meta.len())
    };
    let before = written(&file);

    // SAFETY: kill(2) on a child of this process.
    unsafe { libc::kill(frozen.child.id() as i32, libc::SIGCONT) };
    // Thawed, it finds its lease gone within a heartbeat or two; give it time to do harm.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(written(&file), before, "the thawed worker rewrote the clip");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        outputs(&cluster.clips_dir(), name.trim_end_matches(".mp4"), "mp4"),
        vec![name.clone()]
    );
    let after = job(cluster.server.port, &cluster.press, &id);
    assert_eq!(
        (
            &after["state"],
            &after["worker"],
            &after["attempts"],
            &after["outputs"]
        ),
        (
            &done["state"],
            &done["worker"],
            &done["attempts"],
            &done["outputs"]
        ),
        "the thawed worker changed the job"
    );
    assert!(
        half_files(cluster.aula.path()).is_empty(),
        "the thawed worker left a half file: {:?}",
        half_files(cluster.aula.path())
    );
    // Still alive and serving the queue: it gave the job up, not its life.
    assert!(frozen_is_running(&frozen));
}

fn frozen_is_running(worker: &Server) -> bool {
    Path::new(&format!("/proc/{}", worker.child.id())).exists()
}
