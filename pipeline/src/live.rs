//! Live HLS of the program feed: the input decoded once, then one H.264 + AAC encode per rendition
//! (sizes and bitrates from the `live-*` presets) cut into 2-second MPEG-TS segments; the media
//! playlists are EVENT playlists updated at every segment and become VOD at the end, beside a
//! multivariant playlist. Layout: `<dir>/index.m3u8`, `<dir>/<rendition>/index.m3u8`,
//! `<dir>/<rendition>/segment-NNNNN.ts`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::hls::{self, MediaSegment, Rendition};
use crate::record::PipelineError;

/// The ladder and where it goes.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub dir: PathBuf,
    pub renditions: Vec<presets::Preset>,
    pub segment_ms: u64,
    /// Pace a file input at its own speed, as a live feed arrives.
    pub realtime: bool,
}

fn err(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Gst(e.to_string())
}

fn write_atomic(path: &Path, text: &str) -> Result<(), PipelineError> {
    let part = path.with_extension("m3u8.part");
    std::fs::write(&part, text)
        .and_then(|()| std::fs::rename(&part, path))
        .map_err(|e| PipelineError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
}

struct Branch {
    name: String,
    video: presets::Video,
    audio: Option<presets::Audio>,
    sink: gst::Element,
}

/// Streams `input` as live HLS until it ends or `cancelled` says so; returns each rendition's
/// segments.
pub fn live_hls(
    input: &Path,
    opts: &LiveOptions,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<(String, Vec<MediaSegment>)>, PipelineError> {
    gst::init().map_err(err)?;
    std::fs::create_dir_all(&opts.dir).map_err(|e| PipelineError::Io {
        path: opts.dir.display().to_string(),
        message: e.to_string(),
    })?;
    let pipeline = gst::Pipeline::new();
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .map_err(|e| PipelineError::Gst(format!("cannot create {factory}: {e}")))
    };
    let filesrc = make("filesrc")?;
    filesrc.set_property("location", input.to_string_lossy().to_string());
    let decode = make("decodebin")?;
    pipeline.add_many([&filesrc, &decode]).map_err(err)?;
    filesrc.link(&decode).map_err(err)?;

    let mut branches = Vec::new();
    let mut renditions = Vec::new();
    for preset in &opts.renditions {
        let video = preset
            .video
            .clone()
            .ok_or_else(|| PipelineError::Gst(format!("preset {} has no video", preset.name)))?;
        let name = format!("{}p", video.height);
        let dir = opts.dir.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| PipelineError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let sink = gst::ElementFactory::make("splitmuxsink")
            .name(format!("hls-{name}"))
            .build()
            .map_err(err)?;
        sink.set_property(
            "location",
            dir.join("segment-%05d.ts").to_string_lossy().to_string(),
        );
        sink.set_property("max-size-time", opts.segment_ms * 1_000_000);
        sink.set_property("send-keyframe-requests", true);
        sink.set_property_from_str("muxer-factory", "mpegtsmux");
        pipeline.add(&sink).map_err(err)?;
        let audio_kbps = preset.audio.as_ref().map_or(0, |a| a.bitrate_kbps);
        renditions.push(Rendition {
            name: name.clone(),
            width: video.width,
            height: video.height,
            // Until segments are measured: the preset's bitrates.
            bandwidth_bps: u64::from(video.bitrate_kbps + audio_kbps) * 1000,
        });
        branches.push(Branch {
            name,
            video,
            audio: preset.audio.clone(),
            sink,
        });
    }
    write_atomic(
        &opts.dir.join("index.m3u8"),
        &hls::multivariant(&renditions),
    )?;

    let branches = Arc::new(branches);
    let weak = pipeline.downgrade();
    let b = Arc::clone(&branches);
    let realtime = opts.realtime;
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let kind = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let built = if kind.starts_with("video/") {
            video_branches(&pipeline, pad, &b, realtime)
        } else if kind.starts_with("audio/") {
            audio_branches(&pipeline, pad, &b, realtime)
        } else {
            Ok(())
        };
        if let Err(e) = built {
            tracing::error!("live: {e}");
        }
    });

    let segments: Arc<Mutex<Vec<Vec<MediaSegment>>>> =
        Arc::new(Mutex::new(vec![Vec::new(); branches.len()]));
    let mut opened = vec![0u64; branches.len()];
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::Gst("the live pipeline does not start".into()))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut eos_sent = false;
    let result = loop {
        if cancelled() && !eos_sent {
            pipeline.send_event(gst::event::Eos::new());
            eos_sent = true;
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(PipelineError::Element {
                    element: msg
                        .src()
                        .map_or_else(|| "pipeline".to_owned(), |s| s.path_string().to_string()),
                    message: e.error().to_string(),
                    debug: e.debug().map(|d| d.to_string()).unwrap_or_default(),
                })
            }
            gst::MessageView::Element(e) => {
                let (Some(s), Some(src)) = (e.structure(), msg.src()) else {
                    continue;
                };
                let Some(k) = branches
                    .iter()
                    .position(|b| src.name() == format!("hls-{}", b.name))
                else {
                    continue;
                };
                let at_ms = s.get::<u64>("running-time").unwrap_or(0) / 1_000_000;
                match s.name().as_str() {
                    "splitmuxsink-fragment-opened" => opened[k] = at_ms,
                    "splitmuxsink-fragment-closed" => {
                        let file = s
                            .get::<String>("location")
                            .ok()
                            .and_then(|l| {
                                Path::new(&l)
                                    .file_name()
                                    .map(|f| f.to_string_lossy().into_owned())
                            })
                            .unwrap_or_default();
                        let dir = opts.dir.join(&branches[k].name);
                        let bytes = std::fs::metadata(dir.join(&file)).map_or(0, |m| m.len());
                        let mut all = segments.lock().expect("segments lock");
                        all[k].push(MediaSegment {
                            file,
                            duration_ms: at_ms.saturating_sub(opened[k]),
                            bytes,
                        });
                        write_atomic(
                            &dir.join("index.m3u8"),
                            &hls::media_playlist(&all[k], false),
                        )?;
                        // BANDWIDTH is the peak segment bitrate measured so far.
                        if let Some(peak) = hls::peak_bps(&all[k]) {
                            renditions[k].bandwidth_bps = peak;
                            write_atomic(
                                &opts.dir.join("index.m3u8"),
                                &hls::multivariant(&renditions),
                            )?;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let all = segments.lock().expect("segments lock").clone();
    for (b, segs) in branches.iter().zip(&all) {
        write_atomic(
            &opts.dir.join(&b.name).join("index.m3u8"),
            &hls::media_playlist(segs, true),
        )?;
    }
    Ok(branches.iter().map(|b| b.name.clone()).zip(all).collect())
}

fn add_chain(pipeline: &gst::Pipeline, chain: &[gst::Element]) -> Result<(), PipelineError> {
    pipeline.add_many(chain).map_err(err)?;
    gst::Element::link_many(chain).map_err(err)?;
    for e in chain {
        e.sync_state_with_parent().map_err(err)?;
    }
    Ok(())
}

fn element(factory: &str) -> Result<gst::Element, PipelineError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|e| PipelineError::Gst(format!("cannot create {factory}: {e}")))
}

/// Decoded video -> tee -> per rendition: scale with borders, x264 with keyframes every segment.
fn video_branches(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    branches: &[Branch],
    realtime: bool,
) -> Result<(), PipelineError> {
    let queue = element("queue")?;
    let pace = element("identity")?;
    pace.set_property("sync", realtime);
    let convert = element("videoconvert")?;
    let tee = element("tee")?;
    add_chain(pipeline, &[queue.clone(), pace, convert, tee.clone()])?;
    pad.link(&queue.static_pad("sink").expect("queue sink"))
        .map_err(err)?;
    for b in branches {
        let q = element("queue")?;
        let scale = element("videoscale")?;
        scale.set_property("add-borders", true);
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", b.video.width as i32)
                .field("height", b.video.height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        );
        let x264 = element("x264enc")?;
        x264.set_property("bitrate", b.video.bitrate_kbps);
        x264.set_property_from_str("speed-preset", &b.video.speed);
        x264.set_property_from_str("tune", "zerolatency");
        x264.set_property("key-int-max", (b.video.keyframe_interval_ms / 40).max(1));
        let parse = element("h264parse")?;
        add_chain(pipeline, &[q.clone(), scale, caps, x264, parse.clone()])?;
        tee.link(&q).map_err(err)?;
        let target = b
            .sink
            .request_pad_simple("video")
            .ok_or_else(|| PipelineError::Gst("no video pad on splitmuxsink".into()))?;
        parse
            .static_pad("src")
            .expect("parser src")
            .link(&target)
            .map_err(err)?;
    }
    Ok(())
}

/// Decoded audio -> tee -> per rendition: AAC at the preset's bitrate.
fn audio_branches(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    branches: &[Branch],
    realtime: bool,
) -> Result<(), PipelineError> {
    let queue = element("queue")?;
    let pace = element("identity")?;
    pace.set_property("sync", realtime);
    let convert = element("audioconvert")?;
    let resample = element("audioresample")?;
    let tee = element("tee")?;
    add_chain(
        pipeline,
        &[queue.clone(), pace, convert, resample, tee.clone()],
    )?;
    pad.link(&queue.static_pad("sink").expect("queue sink"))
        .map_err(err)?;
    for b in branches {
        let Some(audio) = &b.audio else { continue };
        let q = element("queue")?;
        let caps = element("capsfilter")?;
        caps.set_property(
            "caps",
            gst::Caps::builder("audio/x-raw")
                .field("rate", audio.sample_rate_hz as i32)
                .field("channels", audio.channels as i32)
                .build(),
        );
        let convert = element("audioconvert")?;
        let aac = element("avenc_aac")?;
        aac.set_property("bitrate", (audio.bitrate_kbps * 1000) as i32);
        let parse = element("aacparse")?;
        add_chain(pipeline, &[q.clone(), convert, caps, aac, parse.clone()])?;
        tee.link(&q).map_err(err)?;
        let target = b
            .sink
            .request_pad_simple("audio_%u")
            .ok_or_else(|| PipelineError::Gst("no audio pad on splitmuxsink".into()))?;
        parse
            .static_pad("src")
            .expect("parser src")
            .link(&target)
            .map_err(err)?;
    }
    Ok(())
}
