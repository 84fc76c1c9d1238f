//! Real servers for the delivery tests, each on a loopback port and stopped with the test:
//! Debian's OpenSSH server (SFTP, key authentication, a pinned host key), Python's aiosmtpd
//! (SMTP with STARTTLS on a certificate made here) and a webhook receiver that keeps what it got.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_of(path: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

/// The `X-Aula-Signature` a body signed with `secret` carries: `sha256=` and the HMAC-SHA256.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

pub fn free_port() -> u16 {
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

/// Every file under `dir`, in its subfolders too.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
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

/// Checks that the kit of session `id` published in `packages` arrived in `inbox` whole: the
/// ZIP, and the package folder file by file (and its manifest), each with the SHA-256 of the
/// manifest; nothing left under a temporary name.
pub fn assert_kit_arrived(inbox: &Path, packages: &Path, id: &str) {
    let zip = format!("{id}-press.zip");
    assert_eq!(
        sha256_of(&inbox.join(&zip)),
        sha256_of(&packages.join(&zip))
    );
    let manifest = super::read_json(packages.join("press").join("manifest.json"));
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() > 5, "{manifest}");
    let arrived = inbox.join(format!("{id}-press"));
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
        sha256_of(&packages.join("press").join("manifest.json"))
    );
    // Nothing was left under a temporary name.
    let leftovers: Vec<_> = walk(inbox)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Debian's sshd as the current user on a loopback port: a temporary host key, one authorized
/// key, internal-sftp, and an inbox folder.
pub struct Sshd {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
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

    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    /// A `[[delivery]]` table for this server, uploading `upload` (zip, package or both), three
    /// attempts `backoff_ms` apart (doubled before the third).
    pub fn destination(&self, name: &str, upload: &str, backoff_ms: u64) -> String {
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let d = self.dir.path().display();
        format!(
            "[[delivery]]\nname = \"{name}\"\nkind = \"sftp\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nuser = \"{user}\"\nremote_dir = \"{d}/inbox\"\n\
             private_key = \"{d}/client_key\"\nknown_hosts = \"{d}/known_hosts\"\n\
             upload = \"{upload}\"\nbackoff_ms = {backoff_ms}\n",
            port = self.port,
            user = user.trim(),
        )
    }

    /// Pins another key than the server's in `known_hosts`.
    pub fn pin_another_key(&self) {
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

    pub fn stop(&mut self) {
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

/// Python's aiosmtpd, requiring STARTTLS with a certificate for 127.0.0.1 made by openssl.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
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

    /// A `[[delivery]]` table mailing `to` through this server, trusting its certificate.
    pub fn destination(&self, name: &str, to: &[&str]) -> String {
        let to: Vec<String> = to.iter().map(|a| format!("\"{a}\"")).collect();
        format!(
            "[[delivery]]\nname = \"{name}\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\n\
             port = {port}\nca_file = \"{cert}\"\nfrom = \"Ufficio stampa <stampa@example.org>\"\n\
             to = [{to}]\n",
            port = self.port,
            cert = self.dir.path().join("cert.pem").display(),
            to = to.join(", "),
        )
    }

    /// An `[alerts]` table sending through this server, trusting its certificate.
    pub fn alerts_table(&self) -> String {
        format!(
            "[alerts]\nhost = \"127.0.0.1\"\nport = {port}\nca_file = \"{cert}\"\n\
             from = \"Consiglio comunale <avvisi@example.org>\"\n",
            port = self.port,
            cert = self.dir.path().join("cert.pem").display(),
        )
    }

    /// The `n`th message as received, headers and all.
    pub fn raw_mail(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.path().join("mail").join(format!("{n}.eml"))).unwrap()
    }

    /// The `n`th message received (from 1): envelope, subject and text, as smtp_sink.py wrote it.
    pub fn mail(&self, n: usize) -> serde_json::Value {
        super::read_json(self.dir.path().join("mail").join(format!("{n}.json")))
    }

    /// How many messages arrived.
    pub fn mails(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json")
            })
            .count()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request as the webhook receiver got it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on a loopback port answering `status` to every POST.
pub struct Receiver {
    pub port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(status: u16, answer: &'static str) -> Receiver {
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

    pub fn destination(&self, name: &str, secret: &str) -> String {
        format!(
            "[[delivery]]\nname = \"{name}\"\nkind = \"webhook\"\n\
             url = \"http://127.0.0.1:{}/hooks/aula\"\nsecret = \"{secret}\"\n\
             attempts = 2\nbackoff_ms = 50\n",
            self.port
        )
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}
