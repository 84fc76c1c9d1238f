//! The workspace's sessions board on `aula serve`: each session's stage, its clips, the jobs that
//! failed with what went wrong, and the retry button that runs a failed job again; an agenda
//! item's "reviewed" mark.

mod common;

use std::time::{Duration, Instant};

use common::serve::{http, start_server};
use common::{Aula, Evidence, Spec};

/// Waits until the job `id` has ended; its final state.
fn ended(port: u16, token: &str, id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
        assert_eq!(status, 200, "{body}");
        let job: serde_json::Value = serde_json::from_str(&body).unwrap();
        let state = job["state"].as_str().unwrap().to_owned();
        if !matches!(state.as_str(), "queued" | "running") {
            return state;
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_board_shows_each_stage_and_a_failed_job_with_a_retry_that_runs_it_again() {
    let aula = Aula::new();
    let spec = Spec {
        seconds: 20,
        items: 1,
        speakers: 1,
        ..Spec::default()
    };
    let recorded = aula.imported(&aula.sample_in("recorded", &spec), Evidence::None);
    // The second session's media vanish after import: nothing to cut from.
    let gone = aula.sample_in("gone", &Spec { seed: 2, ..spec });
    let gone_id = aula.imported(&gone, Evidence::None);
    for entry in std::fs::read_dir(gone.document().parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mp4" || e == "wav") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let server = start_server(&aula.path().join("data"), None);

    let (status, body) = http(
        server.port,
        "POST",
        &format!("/api/v1/sessions/{gone_id}/clips"),
        Some(&press),
        r#"{"from": 1000, "to": 5000, "preset": "audio-mp3"}"#,
    );
    assert_eq!(status, 202, "{body}");
    let failed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let failed_id = failed["id"].as_str().unwrap();
    assert_eq!(ended(server.port, &press, failed_id), "failed");

    let (status, page) = http(server.port, "GET", "/workspace?lang=en", Some(&press), "");
    assert_eq!(status, 200, "{page}");
    let row = |id: &str| {
        let at = page
            .find(&format!("/sessions/{id}"))
            .unwrap_or_else(|| panic!("{id} not on the board: {page}"));
        let end = page[at..].find("</tr>").unwrap() + at;
        page[at..end].to_owned()
    };
    assert!(row(&recorded).contains(">recorded<"), "{}", row(&recorded));
    let gone_row = row(&gone_id);
    assert!(gone_row.contains(">scheduled<"), "{gone_row}");
    assert!(
        gone_row.contains("cannot open the recording"),
        "the failure says what went wrong: {gone_row}"
    );
    assert!(
        gone_row.contains(&format!("/workspace/jobs/{failed_id}/retry")),
        "no retry for the failed clip job: {gone_row}"
    );
    assert!(!row(&recorded).contains("/retry"), "nothing failed there");

    // The retry button: a new job of the same request, then back to the board.
    let (status, _) = http(
        server.port,
        "POST",
        &format!("/workspace/jobs/{failed_id}/retry?lang=en"),
        Some(&press),
        "",
    );
    assert_eq!(status, 303);
    let (_, jobs) = http(server.port, "GET", "/api/v1/jobs", Some(&press), "");
    let jobs: serde_json::Value = serde_json::from_str(&jobs).unwrap();
    let again = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] != failed["id"])
        .expect("a new job");
    assert_eq!(again["params"], failed["params"]);
    assert_eq!(
        ended(server.port, &press, again["id"].as_str().unwrap()),
        "failed"
    );
    let (_, page) = http(server.port, "GET", "/workspace", Some(&press), "");
    assert!(
        page.contains(&format!(
            "/workspace/jobs/{}/retry",
            again["id"].as_str().unwrap()
        )),
        "the board shows the newest failure"
    );
}

#[test]
fn retrying_a_job_that_does_not_exist_is_not_found() {
    let aula = Aula::new();
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let server = start_server(&aula.path().join("data"), None);
    let (status, body) = http(
        server.port,
        "POST",
        "/api/v1/jobs/job-nope/retry",
        Some(&press),
        "",
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("job-nope"), "{body}");
}

#[test]
fn a_visitor_who_has_not_signed_in_is_sent_to_sign_in_and_back() {
    let aula = Aula::new();
    let server = start_server(&aula.path().join("data"), None);
    let response = common::serve::http_raw(server.port, "GET", "/workspace", None, "");
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(
        response
            .to_lowercase()
            .contains("location: /signin?next=%2fworkspace"),
        "{response}"
    );
}

#[test]
fn an_item_is_marked_reviewed_by_name_and_an_unknown_item_is_refused() {
    let aula = Aula::new();
    let id = aula.imported(
        &aula.sample(&Spec {
            seconds: 20,
            items: 2,
            speakers: 1,
            ..Spec::default()
        }),
        Evidence::None,
    );
    let marks: serde_json::Value = serde_json::from_str(&aula.ok(&[
        "session",
        "review",
        &id,
        "--item",
        "2",
        "--author",
        "segreteria",
        "--json",
    ]))
    .unwrap();
    assert_eq!(marks[0]["item"], 2);
    assert_eq!(marks[0]["reviewer"], "segreteria");
    let out = aula.run(&["session", "review", &id, "--item", "7"]);
    assert_eq!(out.status.code(), Some(2));
    let message = common::stderr(&out);
    assert!(
        message.contains("no agenda item 7") && message.contains("1, 2"),
        "{message}"
    );
    let marks = aula.ok(&["session", "review", &id, "--item", "2", "--clear", "--json"]);
    assert_eq!(marks.trim(), "[]");
}
