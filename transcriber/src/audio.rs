//! Audio decoding with GStreamer: any file (or URI) GStreamer can read becomes 16 kHz mono f32,
//! delivered in blocks with back-pressure so that memory does not grow with the session's length.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

pub const SAMPLE_RATE_HZ: u32 = 16_000;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{0}: no such file")]
    NotFound(String),
    #[error("{path}: no audio track (the file has {streams} stream(s), none of them audio)")]
    NoAudio { path: String, streams: usize },
    #[error("{path}: audio track {track} asked for, the file has {found}")]
    NoSuchTrack {
        path: String,
        track: usize,
        found: usize,
    },
    #[error("{path}: channel {channel} asked for, the audio has {channels}")]
    NoSuchChannel {
        path: String,
        channel: u32,
        channels: u32,
    },
    #[error("{path}: cannot decode: GStreamer error from {element}: {message} ({debug})")]
    Decode {
        path: String,
        element: String,
        message: String,
        debug: String,
    },
    #[error("GStreamer: {0}")]
    Gst(String),
}

impl AudioError {
    /// Whether the input is at fault (exit code 2) rather than the system.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, AudioError::Gst(_))
    }
}

/// Which audio to take from a file with several tracks or channels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection {
    /// The audio track, in the order the container lists them (0 = first).
    pub track: usize,
    /// One channel (0 = first); `None` mixes all channels down.
    pub channel: Option<u32>,
}

/// A running decoder; `next_block` yields 16 kHz mono samples until the end of the input.
pub struct AudioDecoder {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    label: String,
    selection: Selection,
    audio_pads: Arc<AtomicUsize>,
    other_pads: Arc<AtomicUsize>,
    no_more_pads: Arc<AtomicBool>,
    done: bool,
}

fn gst_error(label: &str, msg: &gst::message::Error) -> AudioError {
    AudioError::Decode {
        path: label.to_owned(),
        element: msg
            .src()
            .map_or_else(|| "pipeline".into(), |s| s.path_string().to_string()),
        message: msg.error().to_string(),
        debug: msg.debug().map_or_else(String::new, |d| d.to_string()),
    }
}

/// Containers whose caps name starts with `video/` but which hold audio too and must be demuxed.
const CONTAINERS: [&str; 9] = [
    "video/quicktime",
    "video/x-matroska",
    "video/webm",
    "video/mpegts",
    "video/x-msvideo",
    "video/x-flv",
    "video/x-ms-asf",
    "video/ogg",
    "video/x-dv",
];

/// An encoded picture or text stream (not a container): nothing in it is audio.
fn is_elementary_non_audio(s: &gst::StructureRef) -> bool {
    let name = s.name().as_str();
    if name.starts_with("image/") || name.starts_with("text/") || name.starts_with("subpicture/") {
        return true;
    }
    if !name.starts_with("video/") || CONTAINERS.contains(&name) {
        return false;
    }
    // MPEG program streams are containers; MPEG video elementary streams are not.
    !(name == "video/mpeg" && s.get::<bool>("systemstream").unwrap_or(false))
}

impl AudioDecoder {
    /// Opens a local file.
    pub fn open_file(path: &Path, selection: Selection) -> Result<AudioDecoder, AudioError> {
        let label = path.display().to_string();
        if !path.is_file() {
            return Err(AudioError::NotFound(label));
        }
        gst::init().map_err(|e| AudioError::Gst(e.to_string()))?;
        let uri = gst::glib::filename_to_uri(
            std::path::absolute(path).map_err(|e| AudioError::Gst(e.to_string()))?,
            None,
        )
        .map_err(|e| AudioError::Gst(e.to_string()))?;
        Self::open_uri(&uri, &label, selection)
    }

    /// Opens any URI GStreamer can read (file, http, rtsp, srt...).
    pub fn open_uri(
        uri: &str,
        label: &str,
        selection: Selection,
    ) -> Result<AudioDecoder, AudioError> {
        gst::init().map_err(|e| AudioError::Gst(e.to_string()))?;
        let make = |factory: &str| {
            gst::ElementFactory::make(factory).build().map_err(|_| {
                AudioError::Gst(format!("element {factory} missing (run scripts/setup)"))
            })
        };
        let pipeline = gst::Pipeline::new();
        let source = gst::ElementFactory::make("uridecodebin")
            .property("uri", uri)
            .build()
            .map_err(|_| {
                AudioError::Gst("element uridecodebin missing (run scripts/setup)".into())
            })?;
        // Video and subtitle streams are left encoded: decoding a camera's picture only to drop it
        // would cost more than the whole audio path.
        source.connect("autoplug-continue", false, |values| {
            let keep_going = values
                .get(2)
                .and_then(|v| v.get::<gst::Caps>().ok())
                .and_then(|caps| caps.structure(0).map(|s| !is_elementary_non_audio(s)))
                .unwrap_or(true);
            Some(keep_going.to_value())
        });
        let convert = make("audioconvert")?;
        let resample = make("audioresample")?;
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("rate", SAMPLE_RATE_HZ as i32)
            .field("layout", "interleaved")
            .build();
        let sink = gst_app::AppSink::builder()
            .caps(&caps)
            .max_buffers(16)
            .drop(false)
            .sync(false)
            .build();
        pipeline
            .add_many([&source, &convert, &resample, sink.upcast_ref()])
            .map_err(|e| AudioError::Gst(e.to_string()))?;
        gst::Element::link_many([&convert, &resample, sink.upcast_ref()])
            .map_err(|e| AudioError::Gst(e.to_string()))?;

        let audio_pads = Arc::new(AtomicUsize::new(0));
        let other_pads = Arc::new(AtomicUsize::new(0));
        let no_more_pads = Arc::new(AtomicBool::new(false));
        let (audio, other, pipeline_weak) =
            (audio_pads.clone(), other_pads.clone(), pipeline.downgrade());
        let convert_weak = convert.downgrade();
        let track = selection.track;
        source.connect_pad_added(move |_, pad| {
            let is_audio = pad
                .current_caps()
                .or_else(|| Some(pad.query_caps(None)))
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("audio/")))
                .unwrap_or(false);
            let (Some(pipeline), Some(convert)) = (pipeline_weak.upgrade(), convert_weak.upgrade())
            else {
                return;
            };
            let index = if is_audio {
                audio.fetch_add(1, Ordering::SeqCst)
            } else {
                other.fetch_add(1, Ordering::SeqCst);
                usize::MAX
            };
            let target = if index == track {
                convert.static_pad("sink")
            } else {
                // Streams we do not use run into a fakesink so they do not stall the rest.
                let fake = gst::ElementFactory::make("fakesink")
                    .property("sync", false)
                    .property("async", false)
                    .build()
                    .ok();
                fake.and_then(|f| {
                    pipeline.add(&f).ok()?;
                    f.sync_state_with_parent().ok()?;
                    f.static_pad("sink")
                })
            };
            if let Some(target) = target {
                let _ = pad.link(&target);
            }
        });
        let flag = no_more_pads.clone();
        source.connect_no_more_pads(move |_| flag.store(true, Ordering::SeqCst));

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| AudioError::Gst(format!("cannot start decoding: {e}")))?;
        Ok(AudioDecoder {
            pipeline,
            sink,
            label: label.to_owned(),
            selection,
            audio_pads,
            other_pads,
            no_more_pads,
            done: false,
        })
    }

    /// The input's duration in milliseconds, once known.
    pub fn duration_ms(&self) -> Option<u64> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| d.mseconds())
    }

    fn check_bus(&self) -> Result<(), AudioError> {
        let Some(bus) = self.pipeline.bus() else {
            return Ok(());
        };
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(gst_error(&self.label, err));
            }
        }
        Ok(())
    }

    fn check_streams(&self) -> Result<(), AudioError> {
        if !self.no_more_pads.load(Ordering::SeqCst) {
            return Ok(());
        }
        let audio = self.audio_pads.load(Ordering::SeqCst);
        if audio == 0 {
            return Err(AudioError::NoAudio {
                path: self.label.clone(),
                streams: self.other_pads.load(Ordering::SeqCst),
            });
        }
        if self.selection.track >= audio {
            return Err(AudioError::NoSuchTrack {
                path: self.label.clone(),
                track: self.selection.track,
                found: audio,
            });
        }
        Ok(())
    }

    /// The next block of 16 kHz mono samples, or `None` at the end of the input.
    pub fn next_block(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        if self.done {
            return Ok(None);
        }
        loop {
            self.check_bus()?;
            if let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
            {
                return self.convert(&sample).map(Some);
            }
            if self.sink.is_eos() {
                self.done = true;
                self.check_bus()?;
                return Ok(None);
            }
            self.check_streams()?;
        }
    }

    fn convert(&self, sample: &gst::Sample) -> Result<Vec<f32>, AudioError> {
        let channels = sample
            .caps()
            .and_then(|c| c.structure(0).and_then(|s| s.get::<i32>("channels").ok()))
            .unwrap_or(1)
            .max(1) as usize;
        let buffer = sample
            .buffer()
            .ok_or_else(|| AudioError::Gst("sample without buffer".into()))?;
        let map = buffer
            .map_readable()
            .map_err(|_| AudioError::Gst("unreadable buffer".into()))?;
        let frames = map.chunks_exact(4 * channels);
        let value = |b: &[u8], c: usize| {
            f32::from_le_bytes([b[4 * c], b[4 * c + 1], b[4 * c + 2], b[4 * c + 3]])
        };
        match self.selection.channel {
            Some(ch) if ch as usize >= channels => Err(AudioError::NoSuchChannel {
                path: self.label.clone(),
                channel: ch,
                channels: channels as u32,
            }),
            Some(ch) => Ok(frames.map(|f| value(f, ch as usize)).collect()),
            None => Ok(frames
                .map(|f| (0..channels).map(|c| value(f, c)).sum::<f32>() / channels as f32)
                .collect()),
        }
    }
}

impl Drop for AudioDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
