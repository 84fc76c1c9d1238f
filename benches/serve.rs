//! Benchmark: `aula serve` answering 100 concurrent clients that download a clip with HTTP Range
//! requests (256 KiB at random offsets, a new connection each) from 127.0.0.1 for 30 s: errors,
//! requests/s, p50/p99 latency and the server's peak memory (VmHWM). Run by `make bench`.
//!
//! Environment: AULA_BENCH_SERVE_SECONDS (default 30), AULA_BENCH_SERVE_CLIENTS (default 100).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn aula(home: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(args)
        .env("AULA_HOME", home)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running aula");
    assert!(
        out.status.success(),
        "aula {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// One ranged GET on a new connection; returns whether it was a complete 206.
async fn ranged_get(port: u16, path: &str, token: &str, from: u64, len: u64) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nRange: bytes={from}-{}\r\nConnection: close\r\n\r\n",
        from + len - 1
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut response = Vec::with_capacity(len as usize + 512);
    if stream.read_to_end(&mut response).await.is_err() {
        return false;
    }
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    response.starts_with(b"HTTP/1.1 206") && (response.len() - head_end) as u64 == len
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = env_u64("AULA_BENCH_SERVE_SECONDS", 30);
    let clients = env_u64("AULA_BENCH_SERVE_CLIENTS", 100);
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-serve");
    let _ = std::fs::remove_dir_all(&work);
    let home = work.join("home");
    let sample = work.join("sample");
    aula(
        &home,
        &[
            "sample",
            "create",
            sample.to_str().unwrap(),
            "--lang",
            "en",
            "--seconds",
            "60",
            "--items",
            "1",
            "--speakers",
            "2",
        ],
    );
    let id = aula(
        &home,
        &[
            "session",
            "import",
            sample.join("session.json").to_str().unwrap(),
        ],
    )
    .trim()
    .to_owned();
    let clips = home.join("sessions").join(&id).join("clips");
    std::fs::create_dir_all(&clips).unwrap();
    std::fs::copy(sample.join("camera.mp4"), clips.join("bench.mp4")).unwrap();
    let size = std::fs::metadata(clips.join("bench.mp4")).unwrap().len();
    let token = aula(&home, &["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("AULA_HOME", &home)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("aula serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aula serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let path = format!("/files/{id}/clips/bench.mp4");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chunk = 256 * 1024u64.min(size);
    let (latencies, errors) = runtime.block_on(async {
        let end = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (path, token) = (path.clone(), token.clone());
                tokio::spawn(async move {
                    let (mut lat, mut errors) = (Vec::new(), 0u64);
                    let mut seed = c.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    while Instant::now() < end {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let from = seed % (size - chunk);
                        let t = Instant::now();
                        if ranged_get(port, &path, &token, from, chunk).await {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await.unwrap();
            all.extend(lat);
            errors += e;
        }
        (all, errors)
    });
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ?")
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_owned();
    let _ = server.kill();
    let _ = server.wait();
    let mut l = latencies;
    l.sort();
    let pct = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "serve: {clients} clients, {seconds} s, 256 KiB Range requests on a {:.1} MB clip, new connection each: \
         {} requests ({:.0}/s, {:.0} MB/s), {errors} errors, latency p50 {:.1} ms, p99 {:.1} ms; server peak memory {peak} kB; {} cores",
        size as f64 / 1e6,
        l.len(),
        l.len() as f64 / seconds as f64,
        l.len() as f64 * chunk as f64 / 1e6 / seconds as f64,
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
}
