//! The trust boundary: hostile documents, ids and bodies are refused with the reason and leave
//! nothing behind; jobs belong to their caller; errors are JSON; tokens travel in the header only.

mod common;

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Aula;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A data directory two folders below the test's own, so that a write that escapes it is seen.
struct Service {
    aula: Aula,
    app: axum::Router,
    admin: String,
    press: String,
}

impl Service {
    async fn new() -> Service {
        let aula = Aula::new();
        let admin = aula
            .ok(&["token", "create", "--role", "admin"])
            .trim()
            .to_owned();
        let press = aula
            .ok(&["token", "create", "--role", "press"])
            .trim()
            .to_owned();
        let config = aula::config::Config::resolve(Some(aula.path().join("data")), None).unwrap();
        let app = aula::serve::app(aula::serve::prepare(&config, 3).await.unwrap());
        Service {
            aula,
            app,
            admin,
            press,
        }
    }

    fn home(&self) -> PathBuf {
        self.aula.path().join("data")
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let request = request
            .header("Content-Type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        (status, value)
    }

    async fn sessions(&self) -> Value {
        self.call("GET", "/api/v1/sessions", Some(&self.admin), "")
            .await
            .1
    }
}

/// Every file and folder under `root`, but those under `except`.
fn tree(root: &Path, except: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(except) {
                continue;
            }
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

fn document(id: &str, extra: Value) -> Value {
    let mut doc = json!({
        "id": id, "body": "Consiglio comunale", "title": "Seduta",
        "start": "2024-03-15T17:00:00Z", "mode": "hybrid",
        "roster": [
            {"id": "rossi", "name": "Mario Rossi", "role": "councillor", "seat": 1},
            {"id": "bianchi", "name": "Anna Bianchi", "role": "councillor", "seat": 2}
        ],
        "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc
}

/// The hostile documents of issue 8 and the field each is refused by.
fn hostile_documents() -> Vec<(Value, &'static str)> {
    let long_id = "a".repeat(300);
    let mut out: Vec<(Value, &'static str)> = [
        "../../tmp/x",
        "..",
        ".",
        "",
        "/tmp/aula-absolute",
        "a/b",
        "a\nb",
        "<script>",
        long_id.as_str(),
    ]
    .into_iter()
    .map(|id| (document(id, json!({})), "id"))
    .collect();
    let closed = |ranges: Value| document("s1", json!({ "closed_ranges": ranges }));
    out.extend([
        (
            document("s1", json!({"floor_events": [{"at": "2024-03-15T17:00:05Z", "seat": 40, "action": "mic_on"}]})),
            "floor_events[0].seat",
        ),
        (
            document("s1", json!({"floor_events": [{"at": "2024-03-15T17:00:05Z", "person": "nobody", "action": "mic_on"}]})),
            "floor_events[0].person",
        ),
        (
            closed(json!([{"start_ms": 1000, "end_ms": 5000}, {"start_ms": 4000, "end_ms": 8000}])),
            "closed_ranges[1]",
        ),
        (closed(json!([{"start_ms": 5000, "end_ms": 5000}])), "closed_ranges[0]"),
        (closed(json!([{"start_ms": 50000, "end_ms": 30000}])), "closed_ranges[0]"),
        (document("s1", json!({"language": "italiano"})), "language"),
        (
            document("s1", json!({"agenda": [{"number": 0, "title": "Zero", "kind": "other"}]})),
            "agenda[0].number",
        ),
        (
            document("s1", json!({"agenda_markers": [{"at": "2024-03-15T17:00:05Z", "item": 7}]})),
            "agenda_markers[0].item",
        ),
        (
            document("s1", json!({"sources": [{"id": "cam", "kind": "camera", "uri": "javascript:alert(1)"}]})),
            "sources[0].uri",
        ),
        (
            document("s1", json!({"agenda": [
                {"number": 1, "title": "A", "kind": "other"},
                {"number": 1, "title": "B", "kind": "other"}]})),
            "agenda[1].number",
        ),
        (
            document("s1", json!({"roster": [
                {"id": "rossi", "name": "Mario Rossi", "role": "councillor"},
                {"id": "rossi", "name": "Luigi Rossi", "role": "councillor"}]})),
            "roster[1].id",
        ),
        (
            document("s1", json!({"title": "x".repeat(1_000_000)})),
            "title",
        ),
    ]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_posted_to_the_api_are_refused_and_leave_nothing() {
    let s = Service::new().await;
    let before_outside = tree(s.aula.path(), &s.home());
    let before = s.sessions().await;
    for (doc, field) in hostile_documents() {
        let (status, body) = s
            .call("POST", "/api/v1/sessions", Some(&s.admin), &doc.to_string())
            .await;
        let shown: String = doc.to_string().chars().take(120).collect();
        // The 1 MB title is over the body limit: refused before it is read.
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            assert!(body["error"].is_string(), "{body}");
            continue;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}: {body}");
        let paths: Vec<&str> = body["problems"]
            .as_array()
            .unwrap_or_else(|| panic!("{shown}: no problems in {body}"))
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&field), "{shown}: {field} not in {paths:?}");
    }
    assert_eq!(s.sessions().await, before, "the catalogue changed");
    assert_eq!(tree(s.aula.path(), &s.home()), before_outside);
    assert!(!Path::new("/tmp/aula-absolute").exists());
    let sessions = s.home().join("sessions");
    assert!(!sessions.exists() || std::fs::read_dir(&sessions).unwrap().next().is_none());
}

#[test]
fn hostile_documents_imported_with_the_cli_are_refused_with_exit_2() {
    let aula = Aula::new();
    aula.ok(&["session", "list"]);
    let before_outside = tree(aula.path(), &aula.path().join("data"));
    for (k, (doc, field)) in hostile_documents().into_iter().enumerate() {
        let file = aula.path().join(format!("doc-{k}.json"));
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = aula.run(&["session", "import", file.to_str().unwrap()]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert!(
            err.contains(&format!("{field}:")),
            "{field} not named: {err}"
        );
        std::fs::remove_file(&file).unwrap();
    }
    assert_eq!(aula.ok(&["session", "list"]), "");
    assert_eq!(tree(aula.path(), &aula.path().join("data")), before_outside);
}

#[test]
fn deleting_a_hostile_or_unknown_id_deletes_nothing() {
    let aula = Aula::new();
    let doc = aula.path().join("s1.json");
    std::fs::write(&doc, document("s1", json!({})).to_string()).unwrap();
    aula.ok(&["session", "import", doc.to_str().unwrap()]);
    let victim = aula.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "keep").unwrap();
    let before = tree(aula.path(), &aula.path().join("none"));
    for id in ["..", ".", victim.to_str().unwrap(), "../victim", "unknown"] {
        let out = aula.run(&["session", "delete", id]);
        assert_eq!(out.status.code(), Some(2), "{id}: {}", common::stderr(&out));
    }
    assert_eq!(tree(aula.path(), &aula.path().join("none")), before);
    assert_eq!(aula.ok(&["session", "list"]).lines().count(), 1);
    aula.ok(&["session", "delete", "s1"]);
    assert_eq!(aula.ok(&["session", "list"]), "");
    assert!(victim.join("keep.txt").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_objects_get_a_json_400_on_every_post_route() {
    let s = Service::new().await;
    let doc = document("s1", json!({}));
    let (status, _) = s
        .call("POST", "/api/v1/sessions", Some(&s.admin), &doc.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Each route with the bodies it must refuse: anything but an object (the evidence routes take
    // an array of objects).
    let objects = ["[]", "1", "\"x\"", "true", "null", "{\"a\":"];
    let arrays = ["{}", "1", "\"x\"", "true", "null", "[1]", "[\"x\"]", "[[]]"];
    let routes = [
        ("/api/v1/sessions", &objects[..]),
        ("/api/v1/sessions/s1/clips", &objects[..]),
        ("/api/v1/sessions/s1/publish", &objects[..]),
        ("/api/v1/sessions/s1/floor-events", &arrays[..]),
        ("/api/v1/sessions/s1/agenda-markers", &arrays[..]),
        ("/api/v1/sessions/s1/corrections", &objects[..]),
        ("/api/v1/sessions/s1/closed", &objects[..]),
    ];
    for (route, bodies) in routes {
        for body in bodies {
            let (status, reply) = s.call("POST", route, Some(&s.admin), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route} {body}: {reply}");
            assert!(reply["error"].is_string(), "{route} {body}: {reply}");
        }
    }
    let (_, metrics) = s.call("GET", "/metrics", None, "").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("aula_http_panics_total 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_and_a_server_error_shows_no_internals() {
    let s = Service::new().await;
    let cases = [
        ("GET", "/no/such/route", StatusCode::NOT_FOUND),
        ("DELETE", "/api/v1/sessions", StatusCode::METHOD_NOT_ALLOWED),
        ("GET", "/api/v1/search", StatusCode::BAD_REQUEST),
        ("GET", "/api/v1/sessions/..", StatusCode::BAD_REQUEST),
        ("GET", "/api/v1/sessions/unknown", StatusCode::NOT_FOUND),
        ("GET", "/api/v1/sessions/a%2Fb", StatusCode::BAD_REQUEST),
        ("GET", "/files/s1/", StatusCode::NOT_FOUND),
    ];
    for (method, uri, expected) in cases {
        let (status, body) = s.call(method, uri, None, "").await;
        assert_eq!(status, expected, "{method} {uri}: {body}");
        assert!(body["error"].is_string(), "{method} {uri}: {body}");
    }
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, body) = s
        .call("POST", "/api/v1/sessions", Some(&s.admin), &big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_travel_in_the_header_only_and_its_scheme_has_any_case() {
    let s = Service::new().await;
    let (status, _) = s
        .call("GET", &format!("/api/v1/jobs?token={}", s.press), None, "")
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token in the URL was taken"
    );
    let request = Request::builder()
        .uri("/api/v1/jobs")
        .header("Authorization", format!("bearer {}", s.press))
        .body(Body::empty())
        .unwrap();
    let response = s.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, doc) = s.call("GET", "/api/v1/openapi.json", None, "").await;
    let post = &doc["paths"]["/api/v1/sessions/{id}/clips"]["post"];
    assert_eq!(post["security"][0]["token"], json!([]), "{post}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_part_declared_live_hides_its_words_from_press_but_not_admin() {
    let s = Service::new().await;
    let start = chrono::Utc::now() - chrono::Duration::seconds(100);
    let mut doc = document("live1", json!({}));
    doc["start"] = json!(start.to_rfc3339());
    let (status, body) = s
        .call("POST", "/api/v1/sessions", Some(&s.admin), &doc.to_string())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let closed = "/api/v1/sessions/live1/closed";
    // Live control is the clerk's (and so press's and admin's); the public cannot.
    let (status, _) = s.call("POST", closed, None, r#"{"start":null}"#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, open) = s
        .call("POST", closed, Some(&s.admin), r#"{"start":null}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert!(open["start_ms"].as_u64().unwrap() >= 100_000, "{open}");
    assert!(open["end_ms"].is_null(), "{open}");
    let (status, again) = s
        .call("POST", closed, Some(&s.admin), r#"{"start":null}"#)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (_, session) = s.call("GET", "/api/v1/sessions/live1", None, "").await;
    assert!(session["closed_ranges"][0]["end_ms"].is_null(), "{session}");
    let (status, ended) = s
        .call("POST", closed, Some(&s.admin), r#"{"end":null}"#)
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert!(ended["end_ms"].as_u64().unwrap() >= open["start_ms"].as_u64().unwrap());
    let (status, _) = s
        .call("POST", closed, Some(&s.admin), r#"{"end":null}"#)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_belong_to_their_caller_and_identical_requests_join() {
    let s = Service::new().await;
    let doc = document("s1", json!({}));
    s.call("POST", "/api/v1/sessions", Some(&s.admin), &doc.to_string())
        .await;
    // No worker runs in this app: jobs stay queued.
    let (status, admin_job) = s
        .call("POST", "/api/v1/sessions/s1/align", Some(&s.admin), "")
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{admin_job}");
    let job = admin_job["id"].as_str().unwrap();
    let (status, _) = s
        .call("GET", &format!("/api/v1/jobs/{job}"), Some(&s.press), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/jobs/{job}/cancel"),
            Some(&s.press),
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = s.call("GET", "/api/v1/jobs", Some(&s.press), "").await;
    assert_eq!(listed, json!([]));
    let clip = r#"{"from": 1000, "to": 5000, "preset": "audio-mp3"}"#;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let (status, job) = s
            .call("POST", "/api/v1/sessions/s1/clips", Some(&s.press), clip)
            .await;
        assert!(status.is_success(), "{job}");
        ids.push(job["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "ten identical requests made {} jobs",
        ids.len()
    );
    let (_, listed) = s.call("GET", "/api/v1/jobs", Some(&s.press), "").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // The queue has a limit per caller (3 in this test's service).
    for padding in [0, 100] {
        let body = format!(
            r#"{{"from": 1000, "to": 5000, "preset": "audio-mp3", "padding_ms": {padding}}}"#
        );
        let (status, _) = s
            .call("POST", "/api/v1/sessions/s1/clips", Some(&s.press), &body)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/sessions/s1/clips",
            Some(&s.press),
            r#"{"item": 1}"#,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Requests that can be refused at once are.
    for bad in [
        r#"{"from": 5000, "to": 1000}"#,
        r#"{"item": 9}"#,
        r#"{"person": "nobody"}"#,
        r#"{"item": 1, "id": "other"}"#,
    ] {
        let (status, body) = s
            .call("POST", "/api/v1/sessions/s1/clips", Some(&s.press), bad)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_route_follows_no_link_and_keeps_the_kits_bookkeeping() {
    let s = Service::new().await;
    let doc = document("s1", json!({}));
    s.call("POST", "/api/v1/sessions", Some(&s.admin), &doc.to_string())
        .await;
    let dir = s.home().join("sessions/s1");
    std::fs::create_dir_all(dir.join("packages/press")).unwrap();
    std::fs::write(dir.join("packages/press/index.html"), "kit").unwrap();
    std::fs::write(dir.join("packages/press/.state.json"), "{}").unwrap();
    let secret = s.aula.path().join("secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    std::os::unix::fs::symlink(&secret, dir.join("packages/press/link.txt")).unwrap();
    std::os::unix::fs::symlink(s.aula.path(), dir.join("up")).unwrap();
    let (status, _) = s
        .call("GET", "/files/s1/packages/press/index.html", None, "")
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in ["packages/press/.state.json", "packages/press/link.txt"] {
        let (status, _) = s.call("GET", &format!("/files/s1/{path}"), None, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = s
        .call("GET", "/files/s1/up/secret.txt", Some(&s.admin), "")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
