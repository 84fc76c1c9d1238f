//! The live control room's API on `aula serve`: a hybrid session recorded as a job the server
//! runs, its sources' states as they change, the clerk's one-click actions at the server's time
//! reaching the live program, and the recording joined when it is stopped.

mod common;

use std::time::{Duration, Instant};

use common::live::{is_slate, listed};
use common::serve::{http, start_server};
use common::{read_json, Aula, Evidence, Spec};

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn a_live_session_is_started_steered_and_stopped_from_the_control_room() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        seconds: 26,
        items: 2,
        speakers: 2,
        mode: "hybrid",
        seed: 5,
        ..Spec::default()
    });
    // The session begins now: the clerk's actions are at the server's session time.
    let document = sample.document();
    let mut doc = read_json(&document);
    common::move_start(&mut doc, &chrono::Utc::now().to_rfc3339());
    std::fs::write(&document, doc.to_string()).unwrap();
    let id = aula.import(&document, Evidence::None);
    let admin = aula
        .ok(&["token", "create", "--role", "admin"])
        .trim()
        .to_owned();
    let home = aula.path().join("data");
    let server = start_server(&home, None);
    let api = |method: &str, path: &str, body: &str| {
        http(
            server.port,
            method,
            &format!("/api/v1/sessions/{id}{path}"),
            Some(&admin),
            body,
        )
    };

    let (status, body) = api("POST", "/recording/start", "");
    assert_eq!(status, 202, "{body}");
    let (status, body) = api("POST", "/recording/start", "");
    assert_eq!(status, 409, "a second recorder of the session: {body}");
    let started = Instant::now();
    let remote = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "remote")
        .expect("a hybrid session has a remote source")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    loop {
        let (_, body) = api("GET", "/recording", "");
        let status = json(&body);
        let live = status["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["source"] == remote.as_str() && s["state"] == "live");
        if live {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the remote source never went live: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let at =
        |secs: u64| std::thread::sleep(Duration::from_secs(secs).saturating_sub(started.elapsed()));
    at(5);
    let (status, body) = api("POST", "/live-actions", r#"{"item_starts": 2}"#);
    assert_eq!(status, 200, "{body}");
    let (status, body) = api("POST", "/live-actions", r#"{"item_starts": 9}"#);
    assert_eq!(status, 400, "an item not on the agenda: {body}");
    let speaker = &doc["roster"][0];
    let (status, body) = api(
        "POST",
        "/live-actions",
        &format!(r#"{{"has_the_floor": {}}}"#, speaker["id"]),
    );
    assert_eq!(status, 200, "{body}");
    // The public page follows: the item under way and who has the floor.
    let now = || {
        let (status, body) = http(
            server.port,
            "GET",
            &format!("/sessions/{id}/now.json"),
            None,
            "",
        );
        assert_eq!(status, 200, "{body}");
        json(&body)
    };
    let under_way = now();
    assert_eq!(under_way["item"], 2, "{under_way}");
    assert_eq!(under_way["floor"]["name"], speaker["name"], "{under_way}");
    let page = loop {
        let (_, page) = http(
            server.port,
            "GET",
            &format!("/sessions/{id}?lang=en"),
            None,
            "",
        );
        if page.contains("id=\"floor\"") || started.elapsed() > Duration::from_secs(8) {
            break page;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        page.contains(r#"<li data-item="2" class="current" aria-current="step">"#),
        "{page}"
    );
    let floor = page
        .split("id=\"floor\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        floor
            .split("</p>")
            .next()
            .unwrap()
            .contains(speaker["name"].as_str().unwrap()),
        "{floor}"
    );
    at(8);
    let (status, body) = api("POST", "/live-actions", r#""closed_starts""#);
    assert_eq!(status, 200, "{body}");
    let closed_from_ms = json(&body)["at_ms"].as_u64().unwrap();
    let under_way = now();
    assert_eq!(under_way["closed"], true, "{under_way}");
    assert!(
        under_way["item"].is_null() && under_way["floor"].is_null(),
        "{under_way}"
    );
    at(15);
    let (status, body) = api("POST", "/live-actions", r#""closed_ends""#);
    assert_eq!(status, 200, "{body}");
    at(19);
    let (status, body) = api("POST", "/recording/stop", "");
    assert_eq!(status, 200, "{body}");

    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let (_, body) = api("GET", "/recording", "");
        let status = json(&body);
        if status["job"]["state"] != "running" && status["job"]["state"] != "queued" {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the recording did not end: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(status["job"]["state"], "done", "{status}");
    let joined = status["job"]["outputs"]["joined"].as_array().unwrap();
    assert!(!joined.is_empty(), "nothing joined: {status}");
    for file in joined {
        assert!(
            std::path::Path::new(file.as_str().unwrap()).is_file(),
            "{file}"
        );
    }
    let kinds: Vec<_> = status["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["item", "floor", "closed_start", "closed_end"],
        "{status}"
    );
    assert!(status["log"][0]["detail"]
        .as_str()
        .unwrap()
        .starts_with("2. "));
    assert!(
        status["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "ended"),
        "{status}"
    );
    let segments = listed(&home.join(format!("sessions/{id}/live/360p/index.m3u8")));
    let slates = segments.iter().filter(|s| is_slate(s)).count();
    assert!(
        slates >= 2,
        "{slates} slate segments in the live program (closed from {closed_from_ms} ms)"
    );
    assert!(
        slates < segments.len() / 2,
        "the slate stayed on: {slates} of {}",
        segments.len()
    );
}
