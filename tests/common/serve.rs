//! The session `aula serve` is tested on, and helpers to run the server and talk to it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use super::{Aula, Evidence, Spec};

pub struct Fixture {
    pub aula: Aula,
    pub id: String,
    pub admin: String,
    pub press: String,
    /// The word spoken only inside the closed range.
    pub closed_word: String,
}

/// One session for all the tests of a test binary: English, 60 s, 2 items, closed 40-52 s,
/// transcribed with tiny.en and published in web-720p.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let aula = Aula::new();
        let sample = aula.sample(&Spec {
            lang: "en",
            seconds: 60,
            items: 2,
            speakers: 2,
            seed: 7,
            closed: Some((40, 52)),
            ..Spec::default()
        });
        let closed_word = sample.truth().closed[0].word.to_lowercase();
        let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
        aula.transcribed(&id, "tiny.en");
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

    pub async fn app(&self) -> axum::Router {
        let config = aula::config::Config::resolve(Some(self.home()), None).unwrap();
        aula::serve::app(aula::serve::prepare(&config, 20).await.unwrap())
    }
}

/// A blocking HTTP/1.1 request to 127.0.0.1:port; returns the status and the body.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    split(&http_raw(port, method, path, token, body))
}

/// A response's status and body.
fn split(text: &str) -> (u16, String) {
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

/// The same request; the whole response as received (status line, headers, body).
pub fn http_raw(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    request(port, method, path, token, "application/json", body)
}

/// A POST of a urlencoded form, as a browser sends it; the status and the body.
pub fn http_form(port: u16, path: &str, body: &str) -> (u16, String) {
    split(&request(
        port,
        "POST",
        path,
        None,
        "application/x-www-form-urlencoded",
        body,
    ))
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|pid| *pid != self.child.id());
    }
}

/// The servers this test process started and has not stopped: a server kept in a static is never
/// dropped, so they are killed when the process exits (else one outlives the tests, holding their
/// output open).
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

extern "C" fn kill_running_servers() {
    if let Ok(running) = RUNNING.lock() {
        for pid in running.iter() {
            // SAFETY: kill(2) on a child this process started; nothing is dereferenced.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn kill_at_exit(pid: u32) {
    static REGISTER: Once = Once::new();
    // SAFETY: atexit(3) with a function that only reads a static and calls kill(2).
    REGISTER.call_once(|| unsafe {
        libc::atexit(kill_running_servers);
    });
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// Starts `aula serve` on a free port and waits until /healthz answers.
pub fn start_server(home: &Path, port: Option<u16>) -> Server {
    start_server_with(home, port, None)
}

/// The same, on the catalogue at `database` when given (else the data directory's SQLite).
pub fn start_server_with(home: &Path, port: Option<u16>, database: Option<&str>) -> Server {
    let port = port.unwrap_or_else(free_port);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aula"));
    command
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .env("AULA_HOME", home)
        .env_remove("AULA_DATABASE")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    if let Some(url) = database {
        command.env("AULA_DATABASE", url);
    }
    start_serve_command(command, port)
}

/// A free TCP port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command`, an `aula serve` listening on `port`, and waits until /healthz answers.
pub fn start_serve_command(command: std::process::Command, port: u16) -> Server {
    let mut server = spawn(command);
    server.port = port;
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
    server
}

/// `aula serve --workers 0` (a server that runs no jobs) on `aula`'s data directory and catalogue,
/// on a free port, with `args` besides.
pub fn start_serving_only(aula: &Aula, args: &[&str]) -> Server {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut all = vec!["serve", "--addr", addr.as_str(), "--workers", "0"];
    all.extend_from_slice(args);
    let mut command = aula.command(&all);
    command.stdout(std::process::Stdio::null());
    start_serve_command(command, port)
}

/// Starts `command` (an `aula worker`, say: `port` is 0), killed when dropped.
pub fn spawn(mut command: std::process::Command) -> Server {
    let child = command.spawn().unwrap();
    kill_at_exit(child.id());
    Server { child, port: 0 }
}
