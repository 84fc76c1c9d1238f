//! Jobs through `aula serve`, each test on a session and a server of its own: the handlers and job
//! workers run on one catalogue (twenty clip jobs leave `aula_catalogue_pools_opened` at 1), and a
//! job's log carries the warnings the command line prints.

mod common;

use std::time::{Duration, Instant};

use common::serve::{http, start_server};
use common::{stderr, Aula, Evidence, Spec};

/// The metric's value in a `/metrics` body.
fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

/// Waits until job `id` is done (at most five minutes) and returns it; a failed job fails the test.
fn wait_done(port: u16, token: &str, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (status, answer) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
        assert_eq!(status, 200, "{answer}");
        let state: serde_json::Value = serde_json::from_str(&answer).unwrap();
        match state["state"].as_str().unwrap() {
            "done" => return state,
            "failed" | "cancelled" => panic!("job {id} ended {state}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "job {id} did not finish: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A 30 s English session of its own with `seed` (and a closed part), imported into a fresh data
/// directory with a press token: the scratch directory, the session's id and the token.
fn own_session(seed: u64, closed: Option<(u64, u64)>) -> (Aula, String, String) {
    let aula = Aula::new();
    let spec = Spec {
        lang: "en",
        seconds: 30,
        items: 1,
        speakers: 2,
        seed,
        closed,
        ..Spec::default()
    };
    let id = aula.imported(&aula.sample(&spec), Evidence::None);
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    (aula, id, press)
}

#[test]
fn twenty_jobs_share_the_one_catalogue_of_the_server() {
    // A session of its own (not the other tests' fixture): no other kind of job is queued in it.
    let (aula, id, press) = own_session(11, None);
    let server = start_server(&aula.path().join("data"), None);
    let port = server.port;

    // Stream copies (archive) of twenty different second-long ranges: twenty jobs, none joined.
    let jobs: Vec<String> = (0..20u64)
        .map(|k| {
            let body = format!(
                r#"{{"from": {}, "to": {}, "preset": "archive", "subs": "none"}}"#,
                k * 1_000,
                k * 1_000 + 1_000
            );
            let (status, answer) = http(
                port,
                "POST",
                &format!("/api/v1/sessions/{id}/clips"),
                Some(&press),
                &body,
            );
            assert_eq!(status, 202, "job {k}: {answer}");
            let job: serde_json::Value = serde_json::from_str(&answer).unwrap();
            job["id"].as_str().unwrap().to_owned()
        })
        .collect();

    for job in &jobs {
        wait_done(port, &press, job);
    }

    let (status, body) = http(port, "GET", "/metrics", None, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(metric(&body, "aula_jobs{state=\"done\"}"), 20, "{body}");
    assert_eq!(metric(&body, "aula_catalogue_pools_opened"), 1, "{body}");
}

#[test]
fn a_clip_job_logs_the_warnings_aula_clip_prints() {
    let (aula, id, press) = own_session(12, Some((15, 25)));
    // 10-20 s runs into the closed part (15-25 s): it is trimmed, with a warning.
    let out = aula.run(&[
        "clip",
        &id,
        "--from",
        "10",
        "--to",
        "20",
        "--preset",
        "audio-mp3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(str::to_owned)
        .collect();
    assert!(
        printed.iter().any(|w| w.contains("closed-session range")),
        "{printed:?}"
    );

    let server = start_server(&aula.path().join("data"), None);
    let (status, body) = http(
        server.port,
        "POST",
        &format!("/api/v1/sessions/{id}/clips"),
        Some(&press),
        r#"{"from": 10000, "to": 20000, "preset": "audio-mp3"}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = wait_done(server.port, &press, &job);
    let logged: Vec<String> = done["log"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(logged, printed, "{done}");
}
