//! Benchmark: live captions on a generated English session recorded live at its own pace, with the
//! live ladder (720p and 360p) running on the same machine, for tiny.en, base and base q8_0: WER
//! against the truth and against the offline transcript of the same session with the same model,
//! caption latency (a word's end to its cue being listed), the live segments' listing latency
//! (the caption delay included), CPU used, and whether the transcriber kept up (its passes' time
//! against the sound, the window shrinks and model fallbacks).
//!
//! Environment: AULA_BENCH_LIVE_SECONDS (session length, default 120).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sample::score::{normalize, wer};
use sample::Truth;

fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-live-captions")
}

fn aula(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.env("AULA_HOME", home).env("RUST_LOG", "warn");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("running a benchmark command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wall seconds and CPU seconds (user + system) of a command run to its end.
fn measure(cmd: &mut Command) -> (f64, f64) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawning a benchmark run");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: pid is our child; status and usage point to writable memory.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(rc, pid, "wait4 failed");
    // The child was reaped by wait4; this only releases its handle.
    let _ = child.try_wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "benchmark run failed: {cmd:?}"
    );
    // SAFETY: wait4 returned the child, so it filled `usage`.
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        started.elapsed().as_secs_f64(),
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
    )
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn main() {
    let seconds: u64 = std::env::var("AULA_BENCH_LIVE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let root = home();
    let models = root.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let installer = root.join("installer");
    std::fs::create_dir_all(&installer).unwrap();
    for (model, precision) in [("tiny.en", "f16"), ("base", "f16"), ("base", "q8_0")] {
        let name = if precision == "f16" {
            model.to_owned()
        } else {
            format!("{model}-{precision}")
        };
        if !models.join(format!("{name}.bin")).is_file() {
            run_ok(aula(&root).args(["models", "install", model, "--precision", precision]));
        }
    }
    let dir = root.join("sample");
    let closed = format!("{}-{}", seconds / 2, seconds / 2 + 10);
    if !dir.join("truth.json").is_file() {
        run_ok(aula(&root).args([
            "sample",
            "create",
            dir.to_str().unwrap(),
            "--lang",
            "en",
            "--seconds",
            &seconds.to_string(),
            "--items",
            "3",
            "--speakers",
            "3",
            "--seed",
            "31",
            "--closed",
            &closed,
        ]));
    }
    let truth: Truth = serde_json::from_value(json(&dir.join("truth.json"))).unwrap();
    let open = |start: u64, end: u64| {
        truth
            .closed
            .iter()
            .all(|c| end <= c.start_ms.0 || start >= c.end_ms.0)
    };
    let reference: Vec<String> = truth
        .utterances
        .iter()
        .filter(|u| open(u.start_ms.0, u.end_ms.0))
        .flat_map(|u| normalize(&u.text))
        .collect();

    println!(
        "Live captions, a {seconds} s English session recorded live (--live --realtime, 720p + 360p ladder), {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| model | WER vs truth | WER vs offline | offline WER | caption latency median / p95 | listing latency median / p95 | CPU (cores) | Whisper / sound | shrinks, fallbacks, gaps |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for model in ["tiny.en", "base", "base-q8_0"] {
        let home = root.join(format!("run-{model}"));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        std::os::unix::fs::symlink(&models, home.join("models")).unwrap();
        let id = run_ok(aula(&home).args([
            "session",
            "import",
            dir.join("session.json").to_str().unwrap(),
            "--floor-events",
            dir.join("floor_events.json").to_str().unwrap(),
        ]))
        .trim()
        .to_owned();
        let (wall_s, cpu_s) = measure(aula(&home).args([
            "record",
            &id,
            "--live",
            "--realtime",
            "--captions-model",
            model,
        ]));
        let report = json(&home.join(format!(
            "sessions/{id}/recordings/program/live-captions.json"
        )));
        let live: Vec<String> = report["words"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                open(
                    w["start_ms"].as_u64().unwrap(),
                    w["end_ms"].as_u64().unwrap(),
                )
            })
            .flat_map(|w| normalize(w["text"].as_str().unwrap()))
            .collect();
        let transcript = run_ok(aula(&home).args(["session", "transcribe", &id, "--model", model]));
        let offline_doc = json(Path::new(transcript.trim()));
        let offline: Vec<String> = offline_doc["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                open(
                    s["start_ms"].as_u64().unwrap(),
                    s["end_ms"].as_u64().unwrap(),
                )
            })
            .flat_map(|s| normalize(s["text"].as_str().unwrap()))
            .collect();
        let spread = |key: &str| {
            let s = &report[key];
            format!(
                "{:.1} / {:.1} s",
                s["median_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0,
                s["p95_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0
            )
        };
        let stream = &report["stream"];
        let ratio = stream["inference_ms"].as_f64().unwrap()
            / stream["audio_ms"].as_f64().unwrap().max(1.0);
        println!(
            "| {model} | {:.1}% | {:.1}% | {:.1}% | {} | {} | {:.2} | {:.2} | {}, {}, {} |",
            100.0 * wer(&reference, &live),
            100.0 * wer(&offline, &live),
            100.0 * wer(&reference, &offline),
            spread("caption_latency"),
            spread("listing_latency"),
            cpu_s / wall_s,
            ratio,
            stream["shrinks"],
            stream["fallbacks"],
            stream["gaps"],
        );
    }
}
