//! `aula serve` runs its handlers and job workers on one catalogue: twenty clip jobs through the
//! API leave `aula_catalogue_pools_opened` at 1.

mod common;

use std::time::{Duration, Instant};

use common::serve::{http, start_server};
use common::Aula;

/// The metric's value in a `/metrics` body.
fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[test]
fn twenty_jobs_share_the_one_catalogue_of_the_server() {
    // A session of its own (not the other tests' fixture): no other kind of job is queued in it.
    let aula = Aula::new();
    let dir = aula.path().join("sample");
    aula.ok(&[
        "sample",
        "create",
        dir.to_str().unwrap(),
        "--lang",
        "en",
        "--seconds",
        "30",
        "--items",
        "1",
        "--speakers",
        "2",
        "--seed",
        "11",
    ]);
    let id = aula
        .ok(&[
            "session",
            "import",
            dir.join("session.json").to_str().unwrap(),
        ])
        .trim()
        .to_owned();
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
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

    let deadline = Instant::now() + Duration::from_secs(300);
    for job in &jobs {
        loop {
            let (status, answer) = http(
                port,
                "GET",
                &format!("/api/v1/jobs/{job}"),
                Some(&press),
                "",
            );
            assert_eq!(status, 200, "{answer}");
            let state: serde_json::Value = serde_json::from_str(&answer).unwrap();
            match state["state"].as_str().unwrap() {
                "done" => break,
                "failed" | "cancelled" => panic!("job {job} ended {state}"),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "job {job} did not finish: {state}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    let (status, body) = http(port, "GET", "/metrics", None, "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(metric(&body, "aula_jobs{state=\"done\"}"), 20, "{body}");
    assert_eq!(metric(&body, "aula_catalogue_pools_opened"), 1, "{body}");
}
