//! `aula serve` on a generated, transcribed and published session with a closed part: every API
//! endpoint for each role, bad requests, the public never seeing a closed-session word, and a
//! clip job that survives the server being killed.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::serve::{fixture, http, start_server};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        request = request.header("Authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_each_role_as_due() {
    let f = fixture();
    let app = f.app().await;
    let id = &f.id;
    let (public, press, admin) = (None, Some(f.press.as_str()), Some(f.admin.as_str()));
    let s = |p: &str| format!("/api/v1/sessions/{id}{p}");
    let ok = StatusCode::OK;
    let (unauth, forbidden) = (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN);
    let accepted = StatusCode::ACCEPTED;
    // (method, uri, body, [public, press, admin])
    type Row<'a> = (&'a str, String, Option<&'a str>, [StatusCode; 3]);
    let table: Vec<Row> = vec![
        ("GET", "/api/v1/sessions".into(), None, [ok, ok, ok]),
        ("GET", s(""), None, [ok, ok, ok]),
        ("GET", s("/transcript"), None, [ok, ok, ok]),
        ("GET", s("/timeline"), None, [unauth, ok, ok]),
        ("GET", s("/interventions"), None, [ok, ok, ok]),
        ("GET", s("/clips"), None, [ok, ok, ok]),
        (
            "POST",
            s("/clips"),
            Some(r#"{"item": 1, "preset": "audio-mp3"}"#),
            [unauth, accepted, accepted],
        ),
        (
            "POST",
            s("/publish"),
            Some(r#"{}"#),
            [unauth, accepted, accepted],
        ),
        // The fixture configures no destinations: the request is refused before a job is queued.
        (
            "POST",
            s("/deliver"),
            Some(r#"{}"#),
            [unauth, StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST],
        ),
        ("GET", s("/deliveries"), None, [unauth, ok, ok]),
        ("GET", s("/reviews"), None, [ok, ok, ok]),
        ("GET", s("/corrections"), None, [unauth, forbidden, ok]),
        (
            "POST",
            s("/reviews"),
            Some(r#"{"item": 1}"#),
            [unauth, forbidden, ok],
        ),
        (
            "POST",
            s("/reviews"),
            Some(r#"{"item": 99}"#),
            [unauth, forbidden, StatusCode::BAD_REQUEST],
        ),
        ("POST", s("/align"), None, [unauth, forbidden, accepted]),
        // Live control is the clerk's and admin's, not the press office's.
        (
            "POST",
            s("/floor-events"),
            Some("[]"),
            [unauth, forbidden, ok],
        ),
        (
            "POST",
            s("/agenda-markers"),
            Some("[]"),
            [unauth, forbidden, ok],
        ),
        ("GET", s("/recording"), None, [unauth, forbidden, ok]),
        ("GET", "/api/v1/jobs".into(), None, [unauth, ok, ok]),
        ("GET", "/api/v1/presets".into(), None, [ok, ok, ok]),
        ("GET", "/api/v1/report".into(), None, [unauth, ok, ok]),
        ("GET", "/api/v1/search?q=council".into(), None, [ok, ok, ok]),
        ("GET", "/api/v1/openapi.json".into(), None, [ok, ok, ok]),
        ("GET", "/healthz".into(), None, [ok, ok, ok]),
        ("GET", "/metrics".into(), None, [ok, ok, ok]),
        ("GET", "/".into(), None, [ok, ok, ok]),
        ("GET", format!("/sessions/{id}"), None, [ok, ok, ok]),
        ("GET", "/search?q=council".into(), None, [ok, ok, ok]),
        ("GET", "/press".into(), None, [ok, ok, ok]),
    ];
    for (method, uri, body, [want_public, want_press, want_admin]) in &table {
        for (who, token, want) in [
            ("public", public, want_public),
            ("press", press, want_press),
            ("admin", admin, want_admin),
        ] {
            let (status, bytes) = call(&app, method, uri, token, *body).await;
            assert_eq!(
                status,
                *want,
                "{method} {uri} as {who}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    // Unknown sessions and jobs are 404 for everyone allowed to ask.
    for uri in [
        "/api/v1/sessions/nope".to_owned(),
        "/api/v1/sessions/nope/transcript".to_owned(),
        "/api/v1/jobs/job-0000".to_owned(),
        "/sessions/nope".to_owned(),
    ] {
        let (status, _) = call(&app, "GET", &uri, admin, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    // An unknown token is refused, not taken for the public.
    let (status, _) = call(&app, "GET", "/api/v1/sessions", Some("aula_forged"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The OpenAPI document lists the paths.
    let (_, bytes) = call(&app, "GET", "/api/v1/openapi.json", None, None).await;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        doc["paths"]["/api/v1/sessions/{id}/clips"]["post"].is_object(),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_speaks_the_browsers_language_unless_asked_otherwise() {
    let f = fixture();
    let app = f.app().await;
    let page = |uri: &'static str, accept: &'static str| {
        let app = app.clone();
        async move {
            let request = Request::builder()
                .uri(uri)
                .header("Accept-Language", accept)
                .body(Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    assert!(page("/signin", "en-GB,en;q=0.9")
        .await
        .contains("lang=\"en\""));
    assert!(page("/signin", "it-IT,it;q=0.9,en;q=0.5")
        .await
        .contains("lang=\"it\""));
    assert!(page("/signin?lang=it", "en").await.contains("lang=\"it\""));
    assert!(page("/", "de-DE,en;q=0.8").await.contains("lang=\"en\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_reason() {
    let f = fixture();
    let app = f.app().await;
    let admin = Some(f.admin.as_str());
    let press = Some(f.press.as_str());
    let clips = format!("/api/v1/sessions/{}/clips", f.id);
    let (status, bytes) = call(&app, "POST", &clips, press, Some("{\"item\": ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&bytes).contains("malformed JSON"));
    let (status, bytes) = call(&app, "POST", &clips, press, Some(r#"{"item": "two"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&bytes).contains("item"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let (status, _) = call(
        &app,
        "POST",
        &clips,
        press,
        Some(r#"{"item": 1, "preset": "nope"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        "POST",
        &clips,
        press,
        Some(r#"{"preset": "web-720p"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let huge = format!("[{}]", vec!["{}"; 400_000].join(","));
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/sessions/{}/floor-events", f.id),
        admin,
        Some(&huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, bytes) = call(
        &app,
        "POST",
        "/api/v1/sessions",
        admin,
        Some(r#"{"id": "x"}"#),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    // Path traversal in file addresses: 404 whoever asks.
    for uri in [
        format!("/files/{}/../../aula.db", f.id),
        format!("/files/{}/..%2F..%2Faula.db", f.id),
        format!("/files/..%2F{}/transcripts/timeline.json", f.id),
        "/files/%2E%2E/aula.db".to_owned(),
        format!("/files/{}/%2Fetc%2Fpasswd", f.id),
    ] {
        let (status, _) = call(&app, "GET", &uri, admin, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_never_sees_a_closed_session_word() {
    let f = fixture();
    let app = f.app().await;
    let word = &f.closed_word;
    let get = |uri: String, token: Option<&'static str>| {
        let app = app.clone();
        async move { call(&app, "GET", &uri, token, None).await }
    };
    // The word is in the presidency's transcript (so this test can fail) ...
    let admin: &'static str = Box::leak(f.admin.clone().into_boxed_str());
    let press: &'static str = Box::leak(f.press.clone().into_boxed_str());
    let (_, full) = get(format!("/api/v1/sessions/{}/transcript", f.id), Some(admin)).await;
    assert!(
        String::from_utf8_lossy(&full)
            .to_lowercase()
            .contains(word.as_str()),
        "the closed word {word:?} was not transcribed"
    );
    // ... and nowhere press or the public looks.
    for token in [None, Some(press)] {
        for uri in [
            format!("/api/v1/sessions/{}/transcript", f.id),
            format!("/api/v1/sessions/{}/timeline", f.id),
            format!("/api/v1/sessions/{}/interventions", f.id),
            format!("/api/v1/sessions/{}/clips", f.id),
            format!("/api/v1/search?q={word}"),
            format!("/sessions/{}", f.id),
            format!("/sessions/{}?lang=en", f.id),
            "/".to_owned(),
        ] {
            let (status, body) = get(uri.clone(), token).await;
            if token.is_none() && uri.ends_with("/timeline") {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
                continue;
            }
            assert_eq!(status, StatusCode::OK, "{uri}");
            let text = String::from_utf8_lossy(&body).to_lowercase();
            assert!(
                !text.contains(word.as_str()),
                "{uri} shows the closed word {word:?} to {token:?}"
            );
        }
    }
    // The search page finds nothing (it shows only the query back).
    let (_, page) = get(format!("/search?q={word}&lang=en"), None).await;
    assert!(String::from_utf8_lossy(&page).contains("0 results"));
    // A public word is found, and the hit opens the session at its second.
    let (_, lines) = get(format!("/api/v1/sessions/{}/transcript", f.id), None).await;
    let lines: Vec<serde_json::Value> = serde_json::from_slice(&lines).unwrap();
    let line = lines
        .iter()
        .find(|l| {
            l["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .any(|w| w.len() >= 6)
        })
        .unwrap();
    let spoken: String = line["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.len() >= 6)
        .unwrap()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    let (_, hits) = get(format!("/api/v1/search?q={spoken}"), None).await;
    let hits: Vec<serde_json::Value> = serde_json::from_slice(&hits).unwrap();
    assert!(
        hits.iter().any(|h| h["session"] == f.id.as_str()),
        "{spoken}: {hits:?}"
    );
    // Unpublished clips are not listed for the public; their files are 404.
    let (_, clips) = get(format!("/api/v1/sessions/{}/clips", f.id), Some(press)).await;
    let clips: Vec<serde_json::Value> = serde_json::from_slice(&clips).unwrap();
    for c in clips.iter().filter(|c| c["published_at"].is_null()) {
        let (status, _) = get(c["url"].as_str().unwrap().to_owned(), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "unpublished {c}");
    }
    let published = clips
        .iter()
        .find(|c| !c["published_at"].is_null())
        .expect("a published clip");
    let (status, _) = get(published["url"].as_str().unwrap().to_owned(), None).await;
    assert_eq!(status, StatusCode::OK);
}

fn job_state(port: u16, token: &str, id: &str) -> serde_json::Value {
    let (status, body) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_clip_job_survives_the_server_being_killed() {
    let f = fixture();
    let server = start_server(&f.home(), None);
    let port = server.port;
    // Re-encoding 30 s to 720p with burned subtitles takes a few seconds here.
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/sessions/{}/clips", f.id),
        Some(&f.press),
        r#"{"from": 2000, "to": 32000, "preset": "web-720p", "subs": "burn"}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    // The jobs other tests queued may run first.
    let deadline = Instant::now() + Duration::from_secs(180);
    while job_state(port, &f.press, &id)["state"] != "running" {
        assert!(Instant::now() < deadline, "the job never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(800));
    // kill -9: no chance to clean up.
    let mut server = server;
    unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
    let _ = server.child.wait();
    drop(server);

    let server = start_server(&f.home(), Some(port));
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut progress = Vec::new();
    let done = loop {
        let state = job_state(server.port, &f.press, &id);
        match state["state"].as_str().unwrap() {
            "done" => break state,
            "failed" | "cancelled" => panic!("the job ended {state}"),
            "running" => progress.push(state["progress"].as_u64().unwrap()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the job did not finish after the restart: {state}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    // The press office saw the cut advance, never go back.
    assert!(
        progress.iter().any(|p| (6..100).contains(p)) && progress.windows(2).all(|w| w[0] <= w[1]),
        "progress while running: {progress:?}"
    );
    assert!(
        done["log"].as_str().unwrap().contains("interrupted"),
        "{done}"
    );
    // Exactly one output, and no half file anywhere.
    let path = done["outputs"][0]["path"].as_str().unwrap();
    let clips = f.home().join("sessions").join(&f.id).join("clips");
    let name = Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let stem = name.trim_end_matches(".mp4");
    let same: Vec<_> = std::fs::read_dir(&clips)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(stem) && n.ends_with(".mp4"))
        .collect();
    assert_eq!(same, vec![name.clone()], "outputs: {same:?}");
    // No half file of this clip (other tests' jobs may be running in the server meanwhile).
    let parts: Vec<_> = walk(&f.home().join("sessions"))
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            n.starts_with(stem) && n.ends_with(".part")
        })
        .collect();
    assert!(parts.is_empty(), "half files left: {parts:?}");
    let info = publisher::probe::info(&clips.join(&name)).unwrap();
    assert!(
        (info.duration_ms as i64 - 30_000).abs() <= 1_000,
        "{info:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
