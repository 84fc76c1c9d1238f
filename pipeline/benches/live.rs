//! Benchmark: one 1080p camera recorded as received plus the program's 720p + 360p live ladder,
//! paced in real time, on this machine; CPU use, whether it keeps up, and the latency from a
//! frame's capture to its segment being listed in the live playlist. The peer, run in the same
//! go on the same input: the same ladder written by `hlssink2` with its defaults
//! (target-duration 15 s). Run by `make bench`.
//!
//! Environment: AULA_BENCH_LIVE_SECONDS (input length, default 60).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gstreamer as gst;
use gstreamer::prelude::*;
use pipeline::program::{ProgramInput, ProgramOptions};
use pipeline::{Input, RecordOptions, SourceInput};

fn work() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-live");
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

/// A 1080p 25 fps H.264 + AAC camera recording, keyframes every 2 s (cached).
fn camera(seconds: u64) -> PathBuf {
    let path = work().join(format!("camera-1080p-{seconds}s.mp4"));
    if path.is_file() {
        return path;
    }
    let part = path.with_extension("part.mp4");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1920x1080:r=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            &seconds.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-b:v",
            "8M",
            "-g",
            "50",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
        ])
        .arg(&part)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&part, &path).expect("rename");
    path
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

struct Figures {
    wall_s: f64,
    cpu_s: f64,
    latencies_ms: Vec<u64>,
}

fn report(name: &str, media_s: f64, f: &Figures) {
    let mut l = f.latencies_ms.clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{name:<34} wall {:>6.1} s for {media_s:.0} s of media (real-time factor {:.2}), CPU {:>6.1} s = {:>4.0}% of one core ({:.0}% of 2 cores); \
         capture-to-listed latency of a segment's first frame: median {} ms, max {} ms ({} segments)",
        f.wall_s,
        media_s / f.wall_s,
        f.cpu_s,
        100.0 * f.cpu_s / f.wall_s,
        50.0 * f.cpu_s / f.wall_s,
        pct(0.5),
        pct(1.0),
        l.len()
    );
}

fn aula(input: &Path, dir: &Path) -> Figures {
    let set = presets::PresetSet::builtin();
    let opts = RecordOptions {
        dir: dir.join("recordings"),
        segment_ms: 10_000,
        realtime: true,
        offset_ms: 0,
        program: Some(ProgramOptions {
            live: pipeline::live::LiveOptions {
                dir: dir.join("live"),
                renditions: vec![
                    set.get("live-720p").unwrap().clone(),
                    set.get("live-360p").unwrap().clone(),
                ],
                segment_ms: 2_000,
                captions: None,
            },
            inputs: vec![ProgramInput {
                source: "cam".into(),
                video: true,
                audio: true,
                person: None,
            }],
            turns: Default::default(),
            closed: Default::default(),
            names: Default::default(),
            canvas: (1280, 720),
            record_dir: None,
            segment_ms: 10_000,
            slate_text: "Connection lost".into(),
            captions_feed: None,
        }),
        resume: false,
    };
    let sources = [SourceInput {
        id: "cam".into(),
        input: Input::File(input.to_path_buf()),
    }];
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let report = pipeline::record(&sources, &opts, &|| false, &mut |_| {}).expect("recording");
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let program = report.program.expect("program");
    Figures {
        wall_s,
        cpu_s,
        latencies_ms: program
            .listed
            .iter()
            .filter(|l| l.rendition == "720p")
            .map(|l| l.latency_ms)
            .collect(),
    }
}

/// The same work with `hlssink2` at its defaults: decode paced in real time, scale, x264 with the
/// same settings as aula's ladder, AAC; the playlist is watched for new segments.
fn hlssink2(input: &Path, dir: &Path) -> Figures {
    std::fs::create_dir_all(dir.join("720p")).unwrap();
    std::fs::create_dir_all(dir.join("360p")).unwrap();
    let branch = |name: &str, w: u32, h: u32, kbps: u32| {
        format!(
            "t. ! queue ! videoscale ! video/x-raw,width={w},height={h} ! x264enc bitrate={kbps} speed-preset=veryfast tune=zerolatency key-int-max=50 \
             ! h264parse ! {name}.video \
             a. ! queue ! audioconvert ! avenc_aac ! aacparse ! {name}.audio \
             hlssink2 name={name} location={d}/{name}/segment%05d.ts playlist-location={d}/{name}/index.m3u8 ",
            d = dir.display()
        )
    };
    let description = format!(
        "filesrc location={} ! decodebin name=dec dec. ! video/x-raw ! identity sync=true ! videoconvert ! tee name=t \
         dec. ! audio/x-raw ! identity sync=true ! tee name=a {} {}",
        input.display(),
        branch("h720", 1280, 720, 2500),
        branch("h360", 640, 360, 800)
    )
    .replace("/h720/", "/720p/")
    .replace("/h360/", "/360p/");
    let p = gst::parse::launch(&description).expect("peer pipeline");
    let playlist = dir.join("720p/index.m3u8");
    let seen = Arc::new(std::sync::Mutex::new(Vec::<(u64, SystemTime)>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, done, playlist) = (seen.clone(), done.clone(), playlist.clone());
        std::thread::spawn(move || {
            let (mut count, mut start_ms) = (0, 0u64);
            while !done.load(Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&playlist) {
                    let durations: Vec<f64> = text
                        .lines()
                        .filter_map(|l| l.strip_prefix("#EXTINF:"))
                        .filter_map(|l| l.split(',').next()?.trim().parse().ok())
                        .collect();
                    // hlssink2 keeps 5 segments: the media sequence says how many came before.
                    let sequence: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut seen = seen.lock().unwrap();
                    while count < sequence + durations.len() {
                        seen.push((start_ms, SystemTime::now()));
                        let duration_s = durations.get(count.saturating_sub(sequence)).copied();
                        start_ms += (duration_s.unwrap_or(0.0) * 1000.0) as u64;
                        count += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    p.set_state(gst::State::Playing).unwrap();
    let base = SystemTime::now();
    let msg = p.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::NONE,
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let ended = SystemTime::now();
    p.set_state(gst::State::Null).unwrap();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert_eq!(
        msg.map(|m| m.type_()),
        Some(gst::MessageType::Eos),
        "the peer failed"
    );
    let seen = seen.lock().unwrap();
    Figures {
        wall_s,
        cpu_s,
        // The last segment is listed at the end of the input, not by the segment length.
        latencies_ms: seen
            .iter()
            .filter(|(_, at)| *at < ended)
            .map(|(start_ms, at)| {
                let capture = base + Duration::from_millis(*start_ms);
                at.duration_since(capture)
                    .map_or(0, |d| d.as_millis() as u64)
            })
            .collect(),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    gst::init().unwrap();
    let seconds: u64 = std::env::var("AULA_BENCH_LIVE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let input = camera(seconds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "live: 1080p25 H.264 8 Mbit/s camera, {seconds} s, paced in real time; ladder live-720p + live-360p (x264 veryfast, zerolatency); {cores} cores"
    );
    let dir = work().join("aula");
    let _ = std::fs::remove_dir_all(&dir);
    let ours = aula(&input, &dir);
    report("aula (record + program + ladder)", seconds as f64, &ours);
    let dir = work().join("hlssink2");
    let _ = std::fs::remove_dir_all(&dir);
    let peer = hlssink2(&input, &dir);
    report("hlssink2 defaults (ladder only)", seconds as f64, &peer);
}
