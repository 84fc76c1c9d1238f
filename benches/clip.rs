//! Benchmark: cutting clips with aula (publisher, ffmpeg-next) against the ffmpeg command line doing
//! the same work in the same run, on a generated 2-hour 1080p recording: a 60 s stream copy, a
//! frame-accurate smart cut (against aula's own stream copy), and 60 s re-encoded to 720p with
//! burned subtitles; then publishing a generated session in web-720p with sidecar subtitles, first
//! re-encoded from its camera, then cut from its program recording (wall time). Run by
//! `make bench`.
//!
//! Environment: AULA_BENCH_MINUTES (recording length, default 120), AULA_BENCH_PUBLISH_SECONDS
//! (default 1800; 0 skips the publishing runs) and AULA_BENCH_PUBLISH_ITEMS (default 6; a
//! three-hour evening is 10800 and 16).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use presets::PresetSet;
use publisher::clip::{self, ClipSpec};
use publisher::cues::{self, AssStyle, CueLayout, CueWord};

const RUNS: usize = 3;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn work() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-clip");
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("running a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 1080p 25 fps H.264 + AAC recording with the running time drawn in, keyframes every 2 s.
fn recording(minutes: u64) -> PathBuf {
    let path = work().join(format!("recording-1080p-{minutes}min.mp4"));
    if path.is_file() {
        return path;
    }
    eprintln!(
        "generating a {minutes}-minute 1080p recording (once; cached in {})",
        path.display()
    );
    let part = path.with_extension("part.mp4");
    run(Command::new("ffmpeg").args([
        "-v", "error", "-y", "-f", "lavfi", "-i",
        "color=c=0x203050:s=1920x1080:r=25,drawtext=text='%{pts\\:hms}':fontsize=96:fontcolor=white:x=(w-tw)/2:y=h-200",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", &(minutes * 60).to_string(),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-g", "50",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
    ]).arg(&part));
    std::fs::rename(&part, &path).expect("renaming the recording");
    path
}

/// The median wall time of `f` over RUNS runs.
fn median(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

fn main() {
    let minutes = env_u64("AULA_BENCH_MINUTES", 120);
    let input = recording(minutes);
    let set = PresetSet::builtin();
    let (archive, web) = (set.get("archive").unwrap(), set.get("web-720p").unwrap());
    let start_ms = minutes * 60_000 / 2 + 500;
    let end_ms = start_ms + 60_000;
    let out = work().join("clip.mp4");
    let go_on = |_: u64| true;
    fn spec<'a>(
        range: (u64, u64),
        preset: &'a presets::Preset,
        accurate: bool,
        burn: Option<&'a Path>,
    ) -> ClipSpec<'a> {
        ClipSpec {
            start_ms: range.0,
            end_ms: range.1,
            preset,
            accurate,
            burn,
            soft: None,
            as_recorded: false,
        }
    }
    let range = (start_ms, end_ms);

    let copy_s = median(|| {
        clip::cut(&input, &out, &spec(range, archive, false, None), &go_on).expect("stream copy");
    });
    let ffmpeg_copy_s = median(|| {
        run(Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-ss",
                &format!("{:.3}", start_ms as f64 / 1000.0),
                "-i",
            ])
            .arg(&input)
            .args(["-t", "60", "-c", "copy", "-avoid_negative_ts", "make_zero"])
            .arg(work().join("ffmpeg-copy.mp4")));
    });
    let smart_s = median(|| {
        clip::cut(&input, &out, &spec(range, archive, true, None), &go_on).expect("smart cut");
    });

    // Burned subtitles: a cue every 3 s over the minute.
    let words: Vec<CueWord> = (0..60)
        .flat_map(|s| {
            ["Ringrazio", "la", "presidenza", "per", "la", "parola"]
                .iter()
                .enumerate()
                .map(move |(k, w)| CueWord {
                    text: (*w).to_owned(),
                    start_ms: s * 1000 + k as u64 * 150,
                    end_ms: s * 1000 + k as u64 * 150 + 140,
                    speaker: Some("rossi".into()),
                })
        })
        .collect();
    let layout = cues::layout(&words, &CueLayout::new(42, 2));
    let ass = work().join("subs.ass");
    let style = AssStyle {
        width: 1280,
        height: 720,
        font_size_px: 34,
        caption_font_size_px: 30,
    };
    std::fs::write(&ass, cues::to_ass(&layout, &[], &style)).expect("writing the ASS file");
    let burn_s = median(|| {
        clip::cut(&input, &out, &spec(range, web, false, Some(&ass)), &go_on).expect("burned clip");
    });
    let filter = format!(
        "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,subtitles=filename='{}',format=yuv420p",
        ass.display()
    );
    let ffmpeg_burn_s = median(|| {
        run(Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-ss",
                &format!("{:.3}", start_ms as f64 / 1000.0),
                "-i",
            ])
            .arg(&input)
            .args([
                "-t",
                "60",
                "-vf",
                &filter,
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-b:v",
                "2500k",
                "-maxrate",
                "3750k",
                "-bufsize",
                "5000k",
                "-g",
                "50",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-ar",
                "48000",
                "-movflags",
                "+faststart",
            ])
            .arg(work().join("ffmpeg-burn.mp4")));
    });

    println!("clip benchmark: 60 s from the middle of a {minutes}-minute 1920x1080 25 fps recording, median of {RUNS}, 2 cores");
    println!("| case                         | aula (s) | ffmpeg CLI (s) | ratio | target |");
    println!("|------------------------------|---------:|---------------:|------:|--------|");
    println!(
        "| stream copy                  | {copy_s:8.2} | {ffmpeg_copy_s:14.2} | {:5.2} | <= 1.1 |",
        copy_s / ffmpeg_copy_s
    );
    println!(
        "| smart cut (vs aula's copy)   | {smart_s:8.2} | {copy_s:14.2} | {:5.2} | <= 3   |",
        smart_s / copy_s
    );
    println!(
        "| 720p, burned subtitles       | {burn_s:8.2} | {ffmpeg_burn_s:14.2} | {:5.2} | <= 1.1, >= 1.5x real time (aula {:.1}x, ffmpeg {:.1}x) |",
        burn_s / ffmpeg_burn_s,
        60.0 / burn_s,
        60.0 / ffmpeg_burn_s
    );

    let seconds = env_u64("AULA_BENCH_PUBLISH_SECONDS", 1800);
    if seconds > 0 {
        publish_bench(seconds, env_u64("AULA_BENCH_PUBLISH_ITEMS", 6));
    }
}

fn aula(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aula"));
    cmd.env("AULA_HOME", home).env("RUST_LOG", "warn");
    cmd
}

/// Publishing a generated session in web-720p with sidecar subtitles (transcribed and aligned
/// first, not timed): re-encoded from the camera, then cut from a program recording in the live
/// 720p rendition's encoding (made here with the ffmpeg command line, not timed), and again unchanged.
fn publish_bench(seconds: u64, items: u64) {
    let home = work().join("publish-home");
    let _ = std::fs::remove_dir_all(&home);
    let dir = home.join("sample");
    run(aula(&home).args(["sample", "create"]).arg(&dir).args([
        "--lang",
        "en",
        "--seconds",
        &seconds.to_string(),
        "--items",
        &items.to_string(),
        "--speakers",
        "4",
        "--seed",
        "6",
    ]));
    run(aula(&home)
        .args(["session", "import"])
        .arg(dir.join("session.json"))
        .arg("--floor-events")
        .arg(dir.join("floor_events.json")));
    run(aula(&home).args(["models", "install", "tiny.en", "--precision", "q8_0"]));
    run(aula(&home).args([
        "session",
        "transcribe",
        "sample-en-6",
        "--model",
        "tiny.en-q8_0",
    ]));
    let publish = || {
        let started = Instant::now();
        run(aula(&home).args(["publish", "sample-en-6", "--presets", "web-720p"]));
        let wall_s = started.elapsed().as_secs_f64();
        let metadata: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                home.join("sessions/sample-en-6/packages/press/metadata.json"),
            )
            .expect("the press kit's metadata"),
        )
        .expect("metadata.json parses");
        let clips = metadata["clips"].as_array().expect("clips").clone();
        let smart = clips.iter().filter(|c| c["mode"] == "smart").count();
        (wall_s, clips.len(), smart)
    };
    let (encode_s, clips, _) = publish();
    make_program_recording(
        &dir.join("camera.mp4"),
        &home.join("sessions/sample-en-6/recordings"),
        seconds,
    );
    let (program_s, _, smart) = publish();
    let (again_s, _, _) = publish();
    let minutes = seconds / 60;
    println!("publish: a {minutes}-minute session, {clips} clips of {items} items, web-720p with sidecar subtitles, 2 cores");
    println!("| path                                   | wall (s) | x real time | clips cut by the smart cut |");
    println!("|----------------------------------------|---------:|------------:|---------------------------:|");
    println!(
        "| re-encoded from the camera (before)    | {encode_s:8.1} | {:11.1} | 0 of {clips} |",
        seconds as f64 / encode_s
    );
    println!(
        "| from the program recording (smart cut) | {program_s:8.1} | {:11.1} | {smart} of {clips} |",
        seconds as f64 / program_s
    );
    println!(
        "| again, unchanged                       | {again_s:8.2} | {:11.0} | - |",
        seconds as f64 / again_s
    );
}

/// A finalized program recording as `aula record --live` leaves it, in the live-720p rendition's
/// encoding (H.264 1280x720 25 fps at 2500 kbit/s, a keyframe a second, AAC 48 kHz stereo).
fn make_program_recording(camera: &Path, recordings: &Path, seconds: u64) {
    let folder = recordings.join("program");
    std::fs::create_dir_all(&folder).expect("the program's folder");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(camera)
        .args([
            "-vf",
            "scale=1280:720,fps=25",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-b:v",
            "2500k",
            "-maxrate",
            "2500k",
            "-bufsize",
            "5000k",
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-ac",
            "2",
        ])
        .arg(recordings.join("program.mp4")));
    let index = pipeline::RecordingIndex {
        source: "program".into(),
        segments: vec![pipeline::Segment {
            file: "segment-00000.mp4".into(),
            start_ms: 0,
            end_ms: seconds * 1000,
        }],
        finalized: Some("program.mp4".into()),
    };
    index.save(&folder).expect("writing the program's index");
}
