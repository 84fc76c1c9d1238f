//! Network sources on 127.0.0.1: an SRT listener with a passphrase and an SRT caller, an RTSP
//! camera served in process (and stopped for 5 s while the program stays live), an RTMP stream
//! pulled from Debian's nginx, and an HLS playlist pulled until it ends.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use pipeline::{Input, SourceInput, SourceState};

/// One network test at a time: live senders, servers and recorders running side by side on two
/// cores starved each other (CI saw an RTMP pull get no frames for seconds).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn srt_listener_records_the_sender_with_the_passphrase_and_refuses_a_wrong_one() {
    let _serial = one_at_a_time();
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let source = SourceInput {
        id: "remote-srt".into(),
        input: Input::Uri(format!(
            "srt://127.0.0.1:{port}?mode=listener&passphrase=council-secret-1"
        )),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let task = record_in_background(vec![source], options(tmp.path()), Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(1));
    let sender = |passphrase: &str, buffers: u32| {
        // 1024 samples a buffer at 48 kHz, for as long as the pictures.
        let audio_buffers = buffers * 48_000 / 25 / 1024;
        format!(
            "videotestsrc is-live=true num-buffers={buffers} ! video/x-raw,width=320,height=240,framerate=25/1 \
             ! x264enc tune=zerolatency key-int-max=25 ! h264parse config-interval=-1 ! mpegtsmux alignment=7 name=m \
             audiotestsrc is-live=true num-buffers={audio_buffers} ! audio/x-raw,rate=48000 ! avenc_aac ! aacparse ! m. \
             m. ! srtsink uri=srt://127.0.0.1:{port}?mode=caller&passphrase={passphrase}"
        )
    };
    assert!(
        !run_sender(&sender("not-the-secret", 50), Duration::from_secs(5)),
        "a caller with the wrong passphrase was let in"
    );
    // The listener may be reopening after the refusal: the sender retries, as encoders do.
    let sent = (0..5).any(|_| {
        run_sender(&sender("council-secret-1", 150), Duration::from_secs(15))
            || (std::thread::sleep(Duration::from_millis(500)), false).1
    });
    assert!(sent, "the sender with the right passphrase could not send");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let (report, events) = task.join().unwrap();
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.state == SourceState::Refused)
        .collect();
    assert!(
        refused
            .iter()
            .any(|e| e.detail.to_lowercase().contains("passphrase")
                || e.detail.contains("BADSECRET")),
        "the refused caller is not in the events: {events:?}"
    );
    assert!(events.iter().any(|e| e.state == SourceState::Live));
    let recorded_ms = check_segments(tmp.path(), &report);
    assert!(
        (4_000..=7_000).contains(&recorded_ms),
        "recorded {recorded_ms} ms of a 6 s stream"
    );
    let log = std::fs::read_to_string(tmp.path().join("events.jsonl")).unwrap();
    assert!(log.contains("\"refused\""), "events.jsonl: {log}");
}

/// An RTSP server in its own thread and main context, serving a test camera at `/cam`.
struct RtspServer {
    main_loop: glib::MainLoop,
    thread: std::thread::JoinHandle<()>,
}

impl RtspServer {
    fn start(port: u16) -> RtspServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let ctx = glib::MainContext::new();
            ctx.with_thread_default(|| {
                let server = rtsp::RTSPServer::new();
                server.set_address("127.0.0.1");
                server.set_service(&port.to_string());
                let factory = rtsp::RTSPMediaFactory::new();
                factory.set_launch(
                    "( videotestsrc is-live=true pattern=smpte ! video/x-raw,width=640,height=360,framerate=25/1 \
                     ! x264enc tune=zerolatency key-int-max=25 ! rtph264pay name=pay0 pt=96 \
                     audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )",
                );
                factory.set_shared(true);
                server.mount_points().unwrap().add_factory("/cam", factory);
                let id = server.attach(Some(&ctx)).unwrap();
                let main_loop = glib::MainLoop::new(Some(&ctx), false);
                tx.send(main_loop.clone()).unwrap();
                main_loop.run();
                server.client_filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
                if let Some(source) = ctx.find_source_by_id(&id) {
                    source.destroy();
                }
            })
            .unwrap();
        });
        RtspServer {
            main_loop: rx.recv().unwrap(),
            thread,
        }
    }

    fn stop(self) {
        self.main_loop.quit();
        self.thread.join().unwrap();
    }
}

/// Mean luma of the frame at 1 s into an HLS segment.
fn mean_luma(segment: &Path) -> f64 {
    let p = gst::parse::launch(&format!(
        "filesrc location={} ! tsdemux ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=sink sync=false",
        segment.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = p
        .by_name("sink")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let mut luma = None;
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        let map = buffer.map_readable().unwrap();
        luma = Some(map.iter().map(|v| f64::from(*v)).sum::<f64>() / map.len() as f64);
        if buffer.pts().is_some_and(|t| t.mseconds() % 2000 >= 1000) {
            break;
        }
    }
    p.set_state(gst::State::Null).unwrap();
    luma.expect("no frame in the segment")
}

#[test]
fn rtsp_camera_is_recorded_and_a_five_second_outage_shows_the_slate_and_resumes() {
    let _serial = one_at_a_time();
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Some(RtspServer::start(port));
    let live_dir = tmp.path().join("live");
    let mut opts = options(tmp.path());
    opts.program = Some(program("cam", live_dir.clone(), 1_000));
    let source = SourceInput {
        id: "cam".into(),
        input: Input::Uri(format!("rtsp://127.0.0.1:{port}/cam")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let task = record_in_background(vec![source], opts, Arc::clone(&stop));
    std::thread::sleep(Duration::from_secs(7));
    server.take().unwrap().stop();
    let down_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    server = Some(RtspServer::start(port));
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, Ordering::SeqCst);
    let (report, events) = task.join().unwrap();
    server.take().unwrap().stop();

    let lost = events
        .iter()
        .find(|e| e.state == SourceState::Lost)
        .unwrap_or_else(|| panic!("no loss in the events: {events:?}"));
    let back = events
        .iter()
        .find(|e| e.state == SourceState::Live && e.detail.starts_with("reconnected"))
        .unwrap_or_else(|| panic!("no reconnection in the events: {events:?}"));
    let gap_ms = back.at_ms - lost.at_ms;
    assert!(
        (2_000..=12_000).contains(&gap_ms),
        "the gap in the events is {gap_ms} ms for a 5 s outage ({events:?})"
    );
    assert!(
        lost.at_ms >= down_at.as_millis() as u64 - 500,
        "lost at {} ms, server stopped at {:?}",
        lost.at_ms,
        down_at
    );
    // The recording resumed in new segments after the gap, and all of them play.
    check_segments(tmp.path(), &report);
    let index = &report.indexes[0];
    assert!(index.segments.iter().any(|s| s.end_ms <= lost.at_ms));
    assert!(index
        .segments
        .iter()
        .any(|s| s.start_ms >= back.at_ms - 500));

    // The live output never stalled: a segment was listed at least every 3 s, outage included.
    let program = report.program.unwrap();
    let mut listed: Vec<_> = program.listed.iter().map(|l| l.listed_at).collect();
    listed.sort();
    assert!(listed.len() >= 15, "{} live segments", listed.len());
    for pair in listed.windows(2) {
        let gap = pair[1].duration_since(pair[0]).unwrap();
        assert!(
            gap <= Duration::from_secs(3),
            "the live playlist stalled for {gap:?}"
        );
    }
    // During the outage the picture is the dark slate; before it, the bright test camera.
    let segments = &program.renditions[0].1;
    let at = |ms: u64| {
        let mut t = 0;
        let seg = segments
            .iter()
            .find(|s| {
                t += s.duration_ms;
                t > ms
            })
            .unwrap();
        live_dir.join("360p").join(&seg.file)
    };
    let camera = mean_luma(&at(lost.at_ms - 3_000));
    let slate = mean_luma(&at(lost.at_ms + 2_500));
    assert!(
        camera > 80.0 && slate < 40.0,
        "luma: camera {camera:.0}, during the outage {slate:.0}"
    );
}

/// nginx with the RTMP module, run by the test in a temporary prefix.
struct Nginx {
    child: std::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_nginx(prefix: &Path, port: u16) -> Nginx {
    let module = PathBuf::from("/usr/lib/nginx/modules/ngx_rtmp_module.so");
    assert!(
        module.is_file(),
        "{} is missing: run scripts/setup (libnginx-mod-rtmp)",
        module.display()
    );
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module {module};\ndaemon off;\nmaster_process off;\npid {pid};\n\
             error_log {log} info;\nevents {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record off; }} }} }}\n",
            module = module.display(),
            pid = prefix.join("nginx.pid").display(),
            log = prefix.join("logs/error.log").display(),
        ),
    )
    .unwrap();
    let child = std::process::Command::new("nginx")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(prefix.join("logs/error.log"))
        .spawn()
        .expect("nginx not found: run scripts/setup");
    // Ready when it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Nginx { child }
}

#[test]
fn rtmp_stream_pushed_to_nginx_is_pulled_and_recorded() {
    let _serial = one_at_a_time();
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let _nginx = start_nginx(&tmp.path().join("nginx"), port);
    let url = format!("rtmp://127.0.0.1:{port}/live/council");
    let push = format!(
        "videotestsrc is-live=true num-buffers=500 ! video/x-raw,width=320,height=240,framerate=25/1 \
         ! x264enc tune=zerolatency key-int-max=25 ! h264parse ! flvmux streamable=true name=m \
         audiotestsrc is-live=true num-buffers=861 ! audio/x-raw,rate=44100 ! avenc_aac ! aacparse ! m. m. ! rtmp2sink location={url}"
    );
    let pusher = std::thread::spawn(move || run_sender(&push, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_secs(2));
    let stop = Arc::new(AtomicBool::new(false));
    let source = SourceInput {
        id: "bridge".into(),
        input: Input::Uri(url),
    };
    let task = record_in_background(
        vec![source],
        options(&tmp.path().join("rec")),
        Arc::clone(&stop),
    );
    // A pull can take a few seconds to get its first frames on a loaded machine: a 12 s window.
    std::thread::sleep(Duration::from_secs(12));
    stop.store(true, Ordering::SeqCst);
    let (report, events) = task.join().unwrap();
    assert!(pusher.join().unwrap(), "the RTMP push failed");
    assert!(
        events.iter().any(|e| e.state == SourceState::Live),
        "{events:?}"
    );
    let recorded_ms = check_segments(&tmp.path().join("rec"), &report);
    assert!(recorded_ms >= 4_000, "recorded {recorded_ms} ms");
}

#[test]
fn srt_caller_connects_to_a_listening_encoder() {
    let _serial = one_at_a_time();
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    // The encoder listens (as hardware encoders can); aula calls it.
    let encoder = listening_encoder(port, 125);
    std::thread::sleep(Duration::from_millis(500));
    let source = SourceInput {
        id: "encoder".into(),
        input: Input::Uri(format!("srt://127.0.0.1:{port}?mode=caller")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let task = record_in_background(vec![source], options(tmp.path()), Arc::clone(&stop));
    assert!(encoder.join().unwrap(), "the listening encoder failed");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let (report, events) = task.join().unwrap();
    assert!(
        events.iter().any(|e| e.state == SourceState::Live),
        "{events:?}"
    );
    let recorded_ms = check_segments(tmp.path(), &report);
    assert!(recorded_ms >= 3_000, "recorded {recorded_ms} ms of 5 s");
}

/// Serves the files of `dir` over HTTP/1.0 on 127.0.0.1 (GET only) until the test ends.
fn serve_files(dir: PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                let mut reader = BufReader::new(&stream);
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/');
                let mut stream = &stream;
                match std::fs::read(dir.join(path)) {
                    Ok(body) if !path.contains("..") => {
                        let _ = write!(
                            stream,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = write!(
                            stream,
                            "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                        );
                    }
                }
            });
        }
    });
    port
}

#[test]
fn hls_pull_is_recorded_until_the_playlist_ends() {
    let _serial = one_at_a_time();
    gst::init().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hls = tmp.path().join("hls");
    std::fs::create_dir_all(&hls).unwrap();
    assert!(run_sender(
        &format!(
            "videotestsrc num-buffers=200 ! video/x-raw,width=320,height=240,framerate=25/1 ! x264enc key-int-max=25 ! h264parse \
             ! hlssink2 name=h target-duration=2 playlist-length=0 location={d}/seg%05d.ts playlist-location={d}/index.m3u8 \
             audiotestsrc num-buffers=375 ! audio/x-raw,rate=48000 ! avenc_aac ! aacparse ! h.audio",
            d = hls.display()
        ),
        Duration::from_secs(60)
    ));
    let port = serve_files(hls);
    let source = SourceInput {
        id: "web".into(),
        input: Input::Uri(format!("http://127.0.0.1:{port}/index.m3u8")),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (report, events) =
        record_in_background(vec![source], options(&tmp.path().join("rec")), stop)
            .join()
            .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.state == SourceState::Ended && e.detail == "end of input"),
        "{events:?}"
    );
    let recorded_ms = check_segments(&tmp.path().join("rec"), &report);
    assert!(
        (7_000..=9_000).contains(&recorded_ms),
        "recorded {recorded_ms} ms of an 8 s playlist"
    );
}
