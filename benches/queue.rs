//! Benchmark: aula beyond one machine. (1) Clip jobs per minute with 1, 2 and 3 `aula worker`
//! processes (one job at a time each) beside `aula serve --workers 0` on one PostgreSQL catalogue:
//! short `audio-mp3` clips posted through the API, timed from the first post to the last `done`.
//! (2) Search latency (median, p95 over the queries, each run 5 times) on 200 generated 3-hour
//! sessions' worth of Italian transcript (about 23,000 words each), on SQLite (FTS5) and on
//! PostgreSQL (tsvector + GIN), with the time to index them. Run by `make bench`.
//!
//! Environment: AULA_BENCH_QUEUE_JOBS (clip jobs per round, default 60), AULA_BENCH_SEARCH_SESSIONS
//! (default 200; 0 skips the search), AULA_BENCH_SEARCH_MINUTES (length of each, default 180).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aula::catalogue::Catalogue;
use aula::search::Filters;
use session::{SessionMs, Timeline, TimelineWord};
use transcriber::align::AgendaSource;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn aula(home: &Path, database: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aula"));
    command
        .args(args)
        .env("AULA_HOME", home)
        .env("AULA_DATABASE", database)
        .env("RUST_LOG", "warn");
    command
}

fn output(mut command: Command) -> String {
    let out = command.output().expect("running aula");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// One HTTP/1.1 request; the status and the body.
fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writing");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("reading");
    let status = response[9..12].parse().unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn clip_jobs_per_minute() {
    let jobs = env_u64("AULA_BENCH_QUEUE_JOBS", 60);
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-queue");
    let _ = std::fs::remove_dir_all(&work);
    let (home, sample) = (work.join("home"), work.join("sample"));
    let database = testdb::database();
    output(aula(
        &home,
        &database,
        &[
            "sample",
            "create",
            sample.to_str().unwrap(),
            "--lang",
            "en",
            "--seconds",
            "70",
            "--items",
            "1",
            "--speakers",
            "2",
        ],
    ));
    let id = output(aula(
        &home,
        &database,
        &[
            "session",
            "import",
            sample.join("session.json").to_str().unwrap(),
        ],
    ))
    .trim()
    .to_owned();
    let press = output(aula(
        &home,
        &database,
        &["token", "create", "--role", "press"],
    ))
    .trim()
    .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut serve = aula(
        &home,
        &database,
        &[
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "0",
            "--max-queued-jobs",
            "10000",
        ],
    );
    let _server = Killed(serve.stdout(Stdio::null()).spawn().expect("aula serve"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aula serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "clip jobs ({jobs} audio-mp3 clips of 0.8 s per round, one job at a time per worker):"
    );
    for workers in 1..=3u64 {
        let running: Vec<Killed> = (0..workers)
            .map(|_| {
                let mut worker = aula(
                    &home,
                    &database,
                    &["worker", "--kinds", "clip", "--concurrency", "1"],
                );
                Killed(worker.stdout(Stdio::null()).spawn().expect("aula worker"))
            })
            .collect();
        std::thread::sleep(Duration::from_secs(2));
        let started = Instant::now();
        let ids: Vec<String> = (0..jobs)
            .map(|k| {
                let from_ms = 1000 + (k % 60) * 1000 + workers * 10;
                let (status, body) = http(
                    port,
                    "POST",
                    &format!("/api/v1/sessions/{id}/clips"),
                    &press,
                    &format!(
                        r#"{{"from": {from_ms}, "to": {}, "preset": "audio-mp3"}}"#,
                        from_ms + 800
                    ),
                );
                assert_eq!(status, 202, "{body}");
                let job: serde_json::Value = serde_json::from_str(&body).expect("a job");
                job["id"].as_str().expect("an id").to_owned()
            })
            .collect();
        for job in &ids {
            loop {
                let (_, body) = http(port, "GET", &format!("/api/v1/jobs/{job}"), &press, "");
                let state: serde_json::Value = serde_json::from_str(&body).expect("a job");
                match state["state"].as_str() {
                    Some("done") => break,
                    Some("failed" | "cancelled") => panic!("{state}"),
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "  {workers} worker(s): {jobs} jobs in {seconds:.1} s = {:.0} jobs/min",
            jobs as f64 * 60.0 / seconds
        );
        drop(running);
    }
}

/// Words of council speech, common first (a Zipf-like draw), inflected forms included so that
/// stemming matters.
const WORDS: [&str; 60] = [
    "il",
    "la",
    "di",
    "che",
    "e",
    "per",
    "un",
    "una",
    "non",
    "del",
    "della",
    "consiglio",
    "comunale",
    "sindaco",
    "assessore",
    "bilancio",
    "delibera",
    "mozione",
    "voto",
    "votazione",
    "approvata",
    "approvato",
    "approvare",
    "cittadini",
    "cittadino",
    "quartiere",
    "quartieri",
    "scuola",
    "scuole",
    "strada",
    "strade",
    "piano",
    "regolatore",
    "parcheggio",
    "parcheggi",
    "ambiente",
    "ambientale",
    "trasporto",
    "trasporti",
    "pubblico",
    "pubblica",
    "lavori",
    "cantiere",
    "cantieri",
    "giunta",
    "presidente",
    "interrogazione",
    "risposta",
    "emendamento",
    "emendamenti",
    "spesa",
    "spese",
    "fondi",
    "progetto",
    "progetti",
    "verde",
    "parco",
    "parchi",
    "sicurezza",
    "illuminazione",
];

/// A session's timeline: `minutes` of speech at 130 words a minute by 8 speakers, turns of about
/// 90 s; one word in 5,000 is a rare name (`toponimo<n>`).
fn timeline(seed: u64, minutes: u64) -> Timeline {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let count = minutes * 130;
    let words = (0..count)
        .map(|k| {
            let at_ms = k * 60_000 / 130;
            let r = next();
            let text = if r % 5000 == 0 {
                format!("toponimo{}", next() % 100)
            } else {
                // Zipf-like: index = n * u^3 for u in [0, 1).
                let u = (r % 10_000) as f64 / 10_000.0;
                WORDS[((WORDS.len() as f64) * u * u * u) as usize].to_owned()
            };
            TimelineWord {
                text,
                start_ms: SessionMs(at_ms),
                end_ms: SessionMs(at_ms + 400),
                person: Some(format!("p{}", (at_ms / 90_000 + seed) % 8)),
                item: None,
                confidence: 1.0,
                asr_confidence: 1.0,
                segment: (at_ms / 90_000) as usize,
            }
        })
        .collect();
    Timeline {
        words,
        ..Timeline::default()
    }
}

fn session_document(k: u64) -> String {
    let roster: Vec<String> = (0..8)
        .map(|p| {
            format!(
                r#"{{"id": "p{p}", "name": "Consigliere {p}", "role": "councillor", "group": "Gruppo {}"}}"#,
                p % 3
            )
        })
        .collect();
    format!(
        r#"{{"id": "s{k:03}", "body": "Consiglio comunale", "title": "Seduta {k}",
            "start": "2025-{:02}-{:02}T17:00:00Z", "mode": "in_person", "language": "it",
            "roster": [{}]}}"#,
        1 + k % 12,
        1 + k % 28,
        roster.join(", ")
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn search_latency(name: &str, url: &str, sessions: u64, minutes: u64) {
    let catalogue = Catalogue::open(url).await.expect("the catalogue");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-search-media");
    std::fs::create_dir_all(&dir).expect("a folder");
    let started = Instant::now();
    for k in 0..sessions {
        let session =
            session::parse(&session_document(k), session::Format::Json).expect("a session");
        catalogue
            .import(&session, &dir, true)
            .await
            .expect("imported");
        let timeline = timeline(k, minutes);
        catalogue
            .put_timeline(
                session.id.as_str(),
                &timeline,
                &timeline,
                AgendaSource::Transcript,
                &[],
            )
            .await
            .expect("a timeline");
    }
    let indexing = started.elapsed().as_secs_f64();
    let queries: [(&str, Filters); 6] = [
        ("bilancio", Filters::default()),
        ("approvazione", Filters::default()),
        ("\"piano regolatore\"", Filters::default()),
        ("toponimo7", Filters::default()),
        ("parcheggi scuola", Filters::default()),
        (
            "cantieri",
            Filters {
                person: Some("p3".into()),
                ..Filters::default()
            },
        ),
    ];
    let mut times = Vec::new();
    let mut hits = Vec::new();
    for (q, filters) in &queries {
        for _ in 0..5 {
            let t = Instant::now();
            let found = catalogue.search(q, filters, 50).await.expect("a search");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            hits.push(found.len());
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "  {name:10}: indexed in {indexing:.0} s; search median {:.1} ms, p95 {:.1} ms (50 hits asked; found {:?})",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        hits.iter().step_by(5).collect::<Vec<_>>()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    clip_jobs_per_minute();
    let sessions = env_u64("AULA_BENCH_SEARCH_SESSIONS", 200);
    let minutes = env_u64("AULA_BENCH_SEARCH_MINUTES", 180);
    if sessions == 0 {
        return;
    }
    println!(
        "search ({sessions} sessions of {minutes} min, {} words in all):",
        sessions * minutes * 130
    );
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let sqlite = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-search.db");
    let _ = std::fs::remove_file(&sqlite);
    runtime.block_on(search_latency(
        "SQLite",
        &format!("sqlite://{}?mode=rwc", sqlite.display()),
        sessions,
        minutes,
    ));
    runtime.block_on(search_latency(
        "PostgreSQL",
        &testdb::database(),
        sessions,
        minutes,
    ));
}
