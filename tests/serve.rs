//! `aula serve` on a generated, transcribed and published session with a closed part: every API
//! endpoint for each role, bad requests, the public never seeing a closed-session word, and a
//! clip job that survives the server being killed.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{model, read_json, Aula};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub struct Fixture {
    pub aula: Aula,
    pub id: String,
    pub admin: String,
    pub press: String,
    /// The word spoken only inside the closed range.
    pub closed_word: String,
}

/// One session for all the tests of this file: English, 60 s, 2 items, closed 40-52 s,
/// transcribed with tiny.en and published in web-720p.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let aula = Aula::new();
        let dir = aula.path().join("sample");
        aula.ok(&[
            "sample",
            "create",
            dir.to_str().unwrap(),
            "--lang",
            "en",
            "--seconds",
            "60",
            "--items",
            "2",
            "--speakers",
            "2",
            "--seed",
            "7",
            "--closed",
            "40-52",
        ]);
        let truth = read_json(dir.join("truth.json"));
        let closed_word = truth["closed"][0]["word"].as_str().unwrap().to_lowercase();
        let id = aula
            .ok(&[
                "session",
                "import",
                dir.join("session.json").to_str().unwrap(),
                "--floor-events",
                dir.join("floor_events.json").to_str().unwrap(),
            ])
            .trim()
            .to_owned();
        let markers = dir.join("agenda_markers.json");
        aula.ok(&[
            "session",
            "evidence",
            &id,
            "--agenda-markers",
            markers.to_str().unwrap(),
        ]);
        let model = model("tiny.en");
        aula.ok(&[
            "session",
            "transcribe",
            &id,
            "--model",
            model.to_str().unwrap(),
        ]);
        aula.ok(&["publish", &id, "--presets", "web-720p"]);
        let admin = aula
            .ok(&["token", "create", "--role", "admin"])
            .trim()
            .to_owned();
        let press = aula
            .ok(&[
                "token",
                "create",
                "--role",
                "press",
                "--label",
                "ufficio stampa",
            ])
            .trim()
            .to_owned();
        Fixture {
            aula,
            id,
            admin,
            press,
            closed_word,
        }
    })
}

impl Fixture {
    pub fn home(&self) -> PathBuf {
        self.aula.path().join("data")
    }

    async fn app(&self) -> axum::Router {
        let config = aula::config::Config::resolve(Some(self.home()), None).unwrap();
        aula::serve::app(aula::serve::prepare(&config).await.unwrap())
    }
}

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
        ("POST", s("/align"), None, [unauth, forbidden, accepted]),
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
    // The word is in the press's transcript (so this test can fail) ...
    let press: &'static str = Box::leak(f.press.clone().into_boxed_str());
    let (_, full) = get(format!("/api/v1/sessions/{}/transcript", f.id), Some(press)).await;
    assert!(
        String::from_utf8_lossy(&full)
            .to_lowercase()
            .contains(word.as_str()),
        "the closed word {word:?} was not transcribed"
    );
    // ... and nowhere the public looks.
    for uri in [
        format!("/api/v1/sessions/{}/transcript", f.id),
        format!("/api/v1/sessions/{}/interventions", f.id),
        format!("/api/v1/sessions/{}/clips", f.id),
        format!("/api/v1/search?q={word}"),
        format!("/sessions/{}", f.id),
        format!("/sessions/{}?lang=en", f.id),
        "/".to_owned(),
    ] {
        let (status, body) = get(uri.clone(), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let text = String::from_utf8_lossy(&body).to_lowercase();
        assert!(
            !text.contains(word.as_str()),
            "{uri} shows the closed word {word:?}"
        );
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

/// A blocking HTTP/1.1 request to 127.0.0.1:port; returns the status and the body.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The tests that run `aula serve` share the fixture's catalogue: one at a time, so that one's
/// workers never take the other's jobs.
static SERVER_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn server_lock() -> std::sync::MutexGuard<'static, ()> {
    SERVER_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `aula serve` on a free port and waits until /healthz answers.
pub fn start_server(home: &Path, port: Option<u16>) -> Server {
    let port = port.unwrap_or_else(|| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    });
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_aula"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .env("AULA_HOME", home)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/healthz", None, "").0 == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "aula serve did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    Server { child, port }
}

fn job_state(port: u16, token: &str, id: &str) -> serde_json::Value {
    let (status, body) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_clip_job_survives_the_server_being_killed() {
    let f = fixture();
    let _one_server = server_lock();
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
    let deadline = Instant::now() + Duration::from_secs(60);
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
    let done = loop {
        let state = job_state(server.port, &f.press, &id);
        match state["state"].as_str().unwrap() {
            "done" => break state,
            "failed" | "cancelled" => panic!("the job ended {state}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the job did not finish after the restart: {state}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
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
    let parts: Vec<_> = walk(&f.home().join("sessions"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".part"))
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

/// chromedriver on a free port, stopped with the test.
struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver not found: run scripts/setup (chromium-driver)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, port }
}

async fn js_f64(client: &fantoccini::Client, script: &str) -> f64 {
    client
        .execute(script, vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// Polls `script` (a number) until `ok` holds or `secs` pass; returns the last value.
async fn wait_for(
    client: &fantoccini::Client,
    script: &str,
    secs: u64,
    ok: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = js_f64(client, script).await;
        if ok(v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // held on purpose: one server at a time (see SERVER_LOCK)
async fn the_pages_work_in_a_real_browser() {
    use fantoccini::Locator;
    let f = fixture();
    let _one_server = server_lock();
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required", "--mute-audio"] }),
    );
    let client = fantoccini::ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connecting to chromedriver");

    // The player plays: its time advances.
    client
        .goto(&format!("{base}/sessions/{}?lang=en", f.id))
        .await
        .unwrap();
    let t = wait_for(
        &client,
        "return document.getElementById('player').currentTime",
        30,
        |t| t > 1.0,
    )
    .await;
    assert!(t > 1.0, "the player did not play (currentTime {t})");

    // Clicking a transcript line seeks within 0.5 s of its time.
    let lines = client
        .find_all(Locator::Css("#transcript .line"))
        .await
        .unwrap();
    assert!(lines.len() >= 4, "{} transcript lines", lines.len());
    let line = &lines[lines.len() * 2 / 3];
    let target_ms: f64 = line
        .attr("data-ms")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    line.click().await.unwrap();
    let at = wait_for(&client, "const v = document.getElementById('player'); return (v.seeking || v.readyState < 2) ? -1e9 : window.aulaSessionMs()", 20, |ms| (ms - target_ms).abs() <= 500.0).await;
    let state = client
        .execute("const v = document.getElementById('player'); return JSON.stringify({src: v.currentSrc, t: v.currentTime, seeking: v.seeking, ready: v.readyState, error: v.error && v.error.message, paused: v.paused})", vec![])
        .await
        .unwrap();
    assert!(
        (at - target_ms).abs() <= 500.0,
        "clicked a line at {target_ms} ms, the player is at {at} ms ({state})"
    );
    let highlighted = client.find(Locator::Css("#transcript .line.playing")).await;
    assert!(highlighted.is_ok(), "no line is highlighted while playing");

    // Searching a spoken word finds the session, and the link opens the player at that second.
    let word: String = line
        .text()
        .await
        .unwrap()
        .split_whitespace()
        .skip(2)
        .find(|w| w.len() >= 6)
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect())
        .expect("a long word in the line");
    client
        .goto(&format!("{base}/search?lang=en"))
        .await
        .unwrap();
    client
        .find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys(&word)
        .await
        .unwrap();
    client
        .find(Locator::Css("form[role=search] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let hit = client
        .wait()
        .for_element(Locator::Css("ol.hits a"))
        .await
        .unwrap();
    let href = hit.attr("href").await.unwrap().unwrap();
    let second: f64 = href
        .split("t=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    hit.click().await.unwrap();
    let at = wait_for(&client, "const v = document.getElementById('player'); return (!v || v.seeking || v.readyState < 2) ? -1e9 : window.aulaSessionMs()", 20, |ms| (ms / 1000.0 - second).abs() <= 1.5).await;
    assert!(
        (at / 1000.0 - second).abs() <= 1.5,
        "the hit at {second} s opened the player at {at} ms ({href})"
    );

    // The press page requests a clip, the job finishes, the download lasts as asked.
    client.goto(&format!("{base}/press?lang=en")).await.unwrap();
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&f.press)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[value=range]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let from = client.find(Locator::Css("#from")).await.unwrap();
    from.clear().await.unwrap();
    from.send_keys("3").await.unwrap();
    let to = client.find(Locator::Css("#to")).await.unwrap();
    to.clear().await.unwrap();
    to.send_keys("9").await.unwrap();
    client
        .find(Locator::Css("#request"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = client
        .wait()
        .at_most(Duration::from_secs(180))
        .for_element(Locator::Css("#outputs a.output"))
        .await
        .expect("the clip job did not finish");
    let href = link.attr("href").await.unwrap().unwrap();
    client.close().await.unwrap();
    let (status, _) = http(server.port, "GET", &href, None, "");
    assert_eq!(status, 200, "{href}");
    let path = href
        .split('?')
        .next()
        .unwrap()
        .trim_start_matches(&format!("/files/{}/", f.id));
    let file = f.home().join("sessions").join(&f.id).join(path);
    let info = publisher::probe::info(&file).unwrap();
    // 3 s to 9 s of session time, with the default 300 ms of padding each side.
    assert!(
        (info.duration_ms as i64 - 6_600).abs() <= 100,
        "{href}: {info:?}"
    );
}
