//! Delivery of a published press kit to real servers the tests start on loopback ports: Debian's
//! OpenSSH server (SFTP, key authentication, a pinned host key), Python's aiosmtpd (SMTP with
//! STARTTLS on a certificate made here) and a webhook receiver that checks the signature; the
//! retries and the log when the SFTP server is gone; a host key other than the pinned one refused;
//! a kit delivered once not sent twice; the API's job and log; a bad destination refused by name.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::serve::{fixture, http, start_server};
use common::{read_json, stderr, Aula};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_of(path: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the published fixture session with `destinations` as its `aula.toml`.
fn configured(destinations: &str) -> (Aula, String) {
    let f = fixture();
    let aula = f.aula.copy();
    std::fs::write(aula.path().join("data").join("aula.toml"), destinations).unwrap();
    (aula, f.id.clone())
}

fn packages(aula: &Aula, id: &str) -> PathBuf {
    aula.path()
        .join("data")
        .join("sessions")
        .join(id)
        .join("packages")
}

/// The delivery log of `id`, read from the catalogue.
fn log(aula: &Aula, id: &str) -> Vec<aula::catalogue::Attempt> {
    let home = aula.path().join("data");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let config = aula::config::Config::resolve(Some(home), None).unwrap();
        let catalogue = aula::catalogue::Catalogue::open(&config.database_url)
            .await
            .unwrap();
        catalogue.deliveries(id).await.unwrap()
    })
}

/// Debian's sshd as the current user on a loopback port: a temporary host key, one authorized
/// key, internal-sftp, and an inbox folder.
struct Sshd {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let path = d.join(key);
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-f",
                    path.to_str().unwrap(),
                ],
            );
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir(d.join("inbox")).unwrap();
        let port = free_port();
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", key.join(" ")),
        )
        .unwrap();
        let config = format!(
            "ListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
            dir = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd started by root wants its privilege separation folder.
        if unsafe { libc::geteuid() } == 0 {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .args(["-p", &port.to_string()])
            .stderr(log)
            .spawn()
            .unwrap();
        wait_for_port(port, "sshd");
        Sshd {
            child: Some(child),
            port,
            dir,
        }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    fn destination(&self, name: &str, upload: &str) -> String {
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let d = self.dir.path().display();
        format!(
            "[[delivery]]\nname = \"{name}\"\nkind = \"sftp\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nuser = \"{user}\"\nremote_dir = \"{d}/inbox\"\n\
             private_key = \"{d}/client_key\"\nknown_hosts = \"{d}/known_hosts\"\n\
             upload = \"{upload}\"\nbackoff_ms = 200\n",
            port = self.port,
            user = user.trim(),
        )
    }

    /// Pins another key than the server's in `known_hosts`.
    fn pin_another_key(&self) {
        let d = self.dir.path();
        let other = d.join("other_key");
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                other.to_str().unwrap(),
            ],
        );
        let key = std::fs::read_to_string(d.join("other_key.pub")).unwrap();
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{} {}\n", self.port, key.join(" ")),
        )
        .unwrap();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn sftp_delivery_uploads_the_zip_and_the_package_with_matching_sha256() {
    let sshd = Sshd::start();
    let (aula, id) = configured(&sshd.destination("agenzia", "both"));
    let out = aula.run(&["deliver", &id, "--json"]);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        std::fs::read_to_string(sshd.dir.path().join("sshd.log")).unwrap()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["destinations"][0]["status"], "delivered", "{report}");
    assert_eq!(report["destinations"][0]["attempts"], 1);

    let local = packages(&aula, &id);
    let zip = format!("{id}-press.zip");
    assert_eq!(
        sha256_of(&sshd.inbox().join(&zip)),
        sha256_of(&local.join(&zip))
    );
    let manifest = read_json(local.join("press").join("manifest.json"));
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() > 5, "{manifest}");
    let arrived = sshd.inbox().join(format!("{id}-press"));
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert_eq!(
            sha256_of(&arrived.join(path)),
            f["sha256"].as_str().unwrap(),
            "{path}"
        );
    }
    assert_eq!(
        sha256_of(&arrived.join("manifest.json")),
        sha256_of(&local.join("press").join("manifest.json"))
    );
    // Nothing was left under a temporary name.
    let leftovers: Vec<_> = walk(&sshd.inbox())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_sftp_server_with_another_host_key_is_refused_and_gets_nothing() {
    let sshd = Sshd::start();
    sshd.pin_another_key();
    let (aula, id) = configured(&sshd.destination("agenzia", "zip"));
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("host key: the key of 127.0.0.1:"), "{err}");
    assert!(err.contains("differs from the one in"), "{err}");
    assert!(walk(&sshd.inbox()).is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_stopped_sftp_server_is_retried_then_reported_with_its_answer() {
    let mut sshd = Sshd::start();
    let (aula, id) = configured(&sshd.destination("agenzia", "zip"));
    aula.ok(&["deliver", &id]);
    sshd.stop();

    let started = Instant::now();
    let out = aula.run(&["deliver", &id, "--again"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("delivery failed to agenzia"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(err.contains("attempt 3 of 3"), "{err}");
    // Backoff of 200 ms, then 400 ms.
    assert!(took >= Duration::from_millis(600), "{took:?}");

    let attempts = log(&aula, &id);
    let outcomes: Vec<(u32, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, "delivered"),
            (1, "failed"),
            (2, "failed"),
            (3, "failed")
        ]
    );
    for failed in &attempts[1..] {
        assert_eq!(failed.destination, "agenzia");
        assert!(
            failed.answer.contains("Connection refused"),
            "{}",
            failed.answer
        );
    }
}

/// Python's aiosmtpd, requiring STARTTLS with a certificate for 127.0.0.1 made by openssl.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("mail")).unwrap();
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                d.join("key.pem").to_str().unwrap(),
                "-out",
                d.join("cert.pem").to_str().unwrap(),
            ],
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv-tests/bin/python");
        assert!(
            python.is_file(),
            "{} is missing: run scripts/setup",
            python.display()
        );
        let port = free_port();
        let mut child = Command::new(python)
            .arg(root.join("tests/fixtures/smtp_sink.py"))
            .arg(port.to_string())
            .arg(d.join("mail"))
            .arg(d.join("cert.pem"))
            .arg(d.join("key.pem"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        SmtpSink { child, port, dir }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn smtp_delivery_over_starttls_mails_the_links_and_the_excerpts() {
    let sink = SmtpSink::start();
    let (aula, id) = configured(&format!(
        "public_url = \"https://aula.example.org\"\n\n\
         [[delivery]]\nname = \"lista-stampa\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\n\
         port = {port}\nca_file = \"{cert}\"\nfrom = \"Ufficio stampa <stampa@example.org>\"\n\
         to = [\"redazione@example.org\", \"agenzia@example.org\"]\n",
        port = sink.port,
        cert = sink.dir.path().join("cert.pem").display()
    ));
    let out = aula.run(&["deliver", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("lista-stampa (smtp): delivered"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mail = read_json(sink.dir.path().join("mail").join("1.json"));
    assert_eq!(mail["tls"], true, "{mail}");
    assert_eq!(mail["mail_from"], "stampa@example.org");
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["redazione@example.org", "agenzia@example.org"])
    );
    let text = mail["text"].as_str().unwrap();
    let base = format!("https://aula.example.org/files/{id}/packages");
    assert!(text.contains(&format!("{base}/{id}-press.zip")), "{text}");
    assert!(text.contains(&format!("{base}/press/index.html")), "{text}");
    let metadata = read_json(packages(&aula, &id).join("press").join("metadata.json"));
    let session_title = metadata["session"]["title"].as_str().unwrap();
    assert!(mail["subject"].as_str().unwrap().contains(session_title));
    for clip in metadata["clips"].as_array().unwrap() {
        let link = format!("{base}/press/{}", clip["media"].as_str().unwrap());
        assert!(text.contains(&link), "{link} not in {text}");
        assert!(text.contains(clip["title"].as_str().unwrap()), "{text}");
        let excerpt = clip["excerpt"].as_str().unwrap();
        let start: String = excerpt.chars().take(30).collect();
        assert!(text.contains(&start), "{start:?} not in {text}");
    }
}

/// One request as the webhook receiver got it.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on a loopback port answering `status` to every POST.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(status: u16, answer: &'static str) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let Some((k, v)) = line.trim_end().split_once(": ") else {
                        break;
                    };
                    headers.push((k.to_owned(), v.to_owned()));
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                kept.lock().unwrap().push(Received { headers, body });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Receiver { port, got }
    }

    fn destination(&self, name: &str, secret: &str) -> String {
        format!(
            "[[delivery]]\nname = \"{name}\"\nkind = \"webhook\"\n\
             url = \"http://127.0.0.1:{}/hooks/aula\"\nsecret = \"{secret}\"\n\
             attempts = 2\nbackoff_ms = 50\n",
            self.port
        )
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

const SECRET: &str = "s3cret-of-the-city-web-team";

#[test]
fn webhook_delivery_is_signed_with_the_secret_and_lists_the_files() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    aula.ok(&["deliver", &id, "--to", "sito"]);

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&request.body);
    let expected = format!("sha256={}", hex(&mac.finalize().into_bytes()));
    assert_eq!(request.header("X-Aula-Signature"), Some(expected.as_str()));
    let sent_at: i64 = request.header("X-Aula-Timestamp").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 120);
    // A body signed with another secret does not verify.
    let mut other = Hmac::<Sha256>::new_from_slice(b"another secret").unwrap();
    other.update(&request.body);
    assert_ne!(
        request.header("X-Aula-Signature"),
        Some(format!("sha256={}", hex(&other.finalize().into_bytes())).as_str())
    );

    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["session"]["id"], id.as_str());
    let local = packages(&aula, &id);
    let zip = format!("{id}-press.zip");
    assert_eq!(body["zip"]["sha256"], sha256_of(&local.join(&zip)));
    assert_eq!(
        body["zip"]["url"],
        format!("http://localhost:8080/files/{id}/packages/{zip}")
    );
    let files = body["files"].as_array().unwrap();
    assert!(files.len() > 5, "{body}");
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert_eq!(
            f["sha256"],
            sha256_of(&local.join("press").join(path)),
            "{path}"
        );
    }
}

#[test]
fn a_webhook_answering_an_error_fails_with_its_status_and_answer() {
    let receiver = Receiver::start(503, "maintenance until noon");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 503: maintenance until noon"),
        "{}",
        stderr(&out)
    );
    assert_eq!(receiver.received().len(), 2, "two attempts");
    let attempts = log(&aula, &id);
    assert_eq!(attempts.len(), 2);
    assert!(attempts
        .iter()
        .all(|a| a.answer.contains("HTTP 503: maintenance until noon")));
}

#[test]
fn a_kit_delivered_once_is_not_sent_again_unless_asked() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    aula.ok(&["deliver", &id]);
    let again = aula.ok(&["deliver", &id]);
    assert!(
        again.contains("sito (webhook): has this kit already"),
        "{again}"
    );
    assert!(again.contains("nothing sent"), "{again}");
    assert_eq!(receiver.received().len(), 1, "nothing sent the second time");
    aula.ok(&["deliver", &id, "--again"]);
    assert_eq!(receiver.received().len(), 2, "--again sends it");
}

#[test]
fn the_api_queues_a_deliver_job_and_shows_the_log() {
    let receiver = Receiver::start(200, "ok");
    let (aula, id) = configured(&receiver.destination("sito", SECRET));
    let press = fixture().press.clone();
    let server = start_server(&aula.path().join("data"), None);
    let path = format!("/api/v1/sessions/{id}/deliver");
    let (status, body) = http(server.port, "POST", &path, None, "{}");
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(
        server.port,
        "POST",
        &path,
        Some(&press),
        r#"{"to": ["nope"]}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no destination \\\"nope\\\""), "{body}");
    let (status, body) = http(
        server.port,
        "POST",
        &path,
        Some(&press),
        r#"{"to": ["sito"]}"#,
    );
    assert_eq!(status, 202, "{body}");
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(job["kind"], "deliver");
    let job_id = job["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let (_, body) = http(
            server.port,
            "GET",
            &format!("/api/v1/jobs/{job_id}"),
            Some(&press),
            "",
        );
        let job: serde_json::Value = serde_json::from_str(&body).unwrap();
        if !matches!(job["state"].as_str(), Some("queued" | "running")) {
            break job;
        }
        assert!(Instant::now() < deadline, "{job}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(receiver.received().len(), 1);

    let (status, body) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{id}/deliveries"),
        Some(&press),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let log: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log[0]["destination"], "sito");
    assert_eq!(log[0]["outcome"], "delivered");
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["job_id"], job_id.as_str());
    assert!(log[0]["answer"].as_str().unwrap().starts_with("HTTP 200"));
}

#[test]
fn a_bad_destination_is_refused_by_name_and_field_before_anything_is_sent() {
    let (aula, id) = configured(
        "[[delivery]]\nname = \"lista-stampa\"\nkind = \"smtp\"\nhost = \"smtp.example.org\"\n\
         tls = \"none\"\nfrom = \"stampa@example.org\"\nto = [\"redazione@example.org\"]\n",
    );
    let out = aula.run(&["deliver", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "delivery[0] (lista-stampa): tls: \"none\" for smtp.example.org (only a server on \
             the loopback interface may go without STARTTLS)"
        ),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(aula.path().join("data").join("aula.toml")).unwrap();
    assert!(log(&aula, &id).is_empty());
}
