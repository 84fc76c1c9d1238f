//! Media in an S3-compatible object store (`[storage] kind = "s3"`): the s3s-fs server (a real
//! implementation of the protocol, built by scripts/setup) on a private port, one
//! `aula serve --workers 0` and one `aula worker` on PostgreSQL. A clip and a press kit made by
//! the worker land in the bucket, a download through the API is a signed link into the store that
//! gives the clip's bytes, and the worker's staging folder is left empty. A live recording's HLS
//! reaches the bucket as it is made, every playlist with the segments it lists.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::serve::{free_port, http, http_raw, spawn, start_serving_only, Server};
use common::{Aula, Evidence, Spec};

const ACCESS_KEY: &str = "aula-test";
const SECRET_KEY: &str = "aula-test-secret-key";

/// s3s-fs as scripts/setup built it into the build folder.
fn s3s_fs() -> PathBuf {
    let tools = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("tools/bin/s3s-fs");
    assert!(
        tools.is_file(),
        "{} is missing: run scripts/setup",
        tools.display()
    );
    tools
}

/// The S3 server, its folder (a bucket is a folder in it) and its port.
struct S3 {
    _server: Server,
    root: tempfile::TempDir,
    port: u16,
}

impl S3 {
    fn start() -> S3 {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("aula")).unwrap();
        let port = free_port();
        let mut command = std::process::Command::new(s3s_fs());
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let server = spawn(command);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3 {
            _server: server,
            root,
            port,
        }
    }

    /// The object at `key` of the bucket, as the server keeps it.
    fn object(&self, key: &str) -> PathBuf {
        self.root.path().join("aula").join(key)
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn wait_done(port: u16, token: &str, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (status, body) = http(port, "GET", &format!("/api/v1/jobs/{id}"), Some(token), "");
        assert_eq!(status, 200, "{body}");
        let job = json(&body);
        match job["state"].as_str().unwrap() {
            "done" => return job,
            "failed" | "cancelled" => panic!("job {id} ended: {job}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "job {id} did not end: {job}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET of an absolute `http://127.0.0.1:PORT/...` URL (a signed link: the Host it was signed
/// for); the status and the body's bytes.
fn get_url(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status = head[9..12].parse().unwrap();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    (status, response[head_end..].to_vec())
}

/// Points `aula`'s data directory at the bucket of `s3`.
fn store_in(aula: &Aula, s3: &S3) -> PathBuf {
    let data = aula.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("aula.toml"),
        format!(
            "[storage]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:{}\"\nbucket = \"aula\"\n\
             access_key_id = \"{ACCESS_KEY}\"\nsecret_access_key = \"{SECRET_KEY}\"\n",
            s3.port
        ),
    )
    .unwrap();
    data
}

#[test]
fn clips_and_the_press_kit_go_to_the_object_store_and_download_from_it() {
    let s3 = S3::start();
    let aula = Aula::on_postgres();
    let data = store_in(&aula, &s3);
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 30,
        items: 2,
        speakers: 2,
        seed: 31,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.transcribed(&id, "tiny.en");
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let server = start_serving_only(&aula, &[]);
    let port = server.port;
    let mut worker = aula.command(&["worker", "--kinds", "clip,publish", "--concurrency", "1"]);
    worker.stdout(std::process::Stdio::null());
    let _worker = spawn(worker);

    // A clip: made by the worker, put in the bucket.
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/sessions/{id}/clips"),
        Some(&press),
        r#"{"from": 2000, "to": 9000, "preset": "audio-mp3"}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job = wait_done(port, &press, json(&body)["id"].as_str().unwrap());
    let path = job["outputs"][0]["path"].as_str().unwrap().to_owned();
    let object = s3.object(&format!("sessions/{id}/{path}"));
    let stored =
        std::fs::read(&object).unwrap_or_else(|e| panic!("{}: {e}; job {job}", object.display()));
    assert_eq!(
        stored.len() as u64,
        job["outputs"][0]["bytes"].as_u64().unwrap()
    );
    assert!(
        !data.join("sessions").join(&id).join(&path).exists(),
        "the clip was kept in the data folder too"
    );

    // Its download through the API: a signed link into the store, which gives the same bytes.
    let response = http_raw(
        port,
        "GET",
        &format!("/files/{id}/{path}"),
        Some(&press),
        "",
    );
    assert!(response.starts_with("HTTP/1.1 307"), "{response}");
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("a location")
        .trim()
        .to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let (status, bytes) = get_url(&location);
    assert_eq!(status, 200);
    assert_eq!(bytes, stored, "the signed link gave other bytes");
    // The public does not get a link to an unpublished clip.
    let (status, _) = http(port, "GET", &format!("/files/{id}/{path}"), None, "");
    assert_eq!(status, 404);

    // The press kit: the ZIP and its index in the bucket.
    let (status, body) = http(
        port,
        "POST",
        &format!("/api/v1/sessions/{id}/publish"),
        Some(&press),
        r#"{"presets": ["audio-mp3"]}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job = wait_done(port, &press, json(&body)["id"].as_str().unwrap());
    let zip = s3.object(&format!("sessions/{id}/packages/{id}-press.zip"));
    assert!(
        zip.metadata().is_ok_and(|m| m.len() > 0),
        "no kit ZIP in the bucket; job {job}"
    );
    assert!(s3
        .object(&format!("sessions/{id}/packages/press/index.html"))
        .is_file());

    // Nothing left in the worker's staging folder.
    let staging = data.join("staging");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", staging.display());

    // Deleting the session deletes its objects.
    aula.ok(&["session", "delete", &id]);
    let kept = common::deliver::walk(&s3.object(&format!("sessions/{id}")));
    assert!(kept.is_empty(), "still in the bucket: {kept:?}");
}

#[test]
fn the_live_hls_reaches_the_bucket_as_it_is_made() {
    let s3 = S3::start();
    let aula = Aula::new();
    store_in(&aula, &s3);
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 20,
        items: 1,
        speakers: 2,
        seed: 32,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.ok(&["record", &id, "--live"]);
    let live = s3.object(&format!("sessions/{id}/live"));
    let master = std::fs::read_to_string(live.join("index.m3u8"))
        .unwrap_or_else(|e| panic!("no multivariant playlist in the bucket: {e}"));
    let renditions: Vec<&str> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(!renditions.is_empty(), "{master}");
    for rendition in renditions {
        let playlist = std::fs::read_to_string(live.join(rendition))
            .unwrap_or_else(|e| panic!("{rendition} not in the bucket: {e}"));
        assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
        let dir = live.join(rendition).parent().unwrap().to_path_buf();
        let segments: Vec<&str> = playlist
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert!(!segments.is_empty(), "{playlist}");
        for segment in segments {
            assert!(
                dir.join(segment).metadata().is_ok_and(|m| m.len() > 0),
                "{rendition} lists {segment}, not in the bucket"
            );
        }
    }
}
