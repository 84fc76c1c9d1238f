//! Audio decoding with GStreamer: any file (or URI) GStreamer can read becomes 16 kHz mono f32,
//! delivered in blocks with back-pressure so that memory does not grow with the session's length.
//!
//! A local file is checked before decoding starts: a folder, a WAV header that cannot be right
//! ([`crate::wav`]), or media that end more than [`TRUNCATION_TOLERANCE_MS`] before the duration
//! their container declares (a copy cut short, a recorder killed mid-file) are refused, the last
//! two unless the caller asks for [`Truncated::Allow`]. Where the data end is found with a few
//! seeks ([`probe_extent`]), not by decoding the whole file, so the check costs well under a
//! second even on a long session.

use session::ErrorKind;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::wav::{self, WavHeader, WavProblem};

pub const SAMPLE_RATE_HZ: u32 = 16_000;

/// How far short of its declared duration a file may end before it counts as truncated.
pub const TRUNCATION_TOLERANCE_MS: u64 = 1000;

/// How close to the real end of the data [`probe_extent`] finds it.
const EXTENT_PRECISION_MS: u64 = 20;

/// How long a probe waits for the pipeline to settle after opening or seeking.
const PROBE_TIMEOUT_S: u64 = 30;

/// `12345` ms as `12.345`, for messages in seconds.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{0}: no such file")]
    NotFound(String),
    #[error("{0}: is a folder, not an audio or video file")]
    IsFolder(String),
    #[error(
        "{path} ends at {} s of the {} s its container declares: the file is truncated; use --allow-truncated to go on with what is there",
        seconds(*.data_end_ms),
        seconds(*.declared_ms)
    )]
    Truncated {
        path: String,
        data_end_ms: u64,
        declared_ms: u64,
    },
    #[error("{path}: not a usable WAV file: {problem}")]
    BadWav { path: String, problem: WavProblem },
    #[error(
        "{path}: the WAV header gives no data size (0xFFFFFFFF: its writer never finished the file), so how long it should be is unknown; it holds {} s of samples; use --allow-truncated to go on with them",
        seconds(*.present_ms)
    )]
    UnknownWavSize { path: String, present_ms: u64 },
    #[error("{0}: the audio track holds no samples")]
    NoSamples(String),
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
    /// A missing, broken or cut input is the caller's; GStreamer failing, the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AudioError::Gst(_) => ErrorKind::Internal,
            _ => ErrorKind::BadInput,
        }
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

/// What to do with a file that ends before the duration its container (or WAV header) declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Truncated {
    /// Refuse it with [`AudioError::Truncated`] (or [`AudioError::UnknownWavSize`]).
    #[default]
    Refuse,
    /// Decode what is there; [`AudioDecoder::extent`] tells how much that is.
    Allow,
}

/// How far a file's data reaches against the duration its container declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub declared_ms: u64,
    /// The end of the last packet of any stream (within [`EXTENT_PRECISION_MS`] when the file is
    /// truncated; at least `declared_ms - TRUNCATION_TOLERANCE_MS` when it is not).
    pub data_end_ms: u64,
}

impl Extent {
    pub fn is_truncated(&self) -> bool {
        self.data_end_ms + TRUNCATION_TOLERANCE_MS < self.declared_ms
    }
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
    extent: Option<Extent>,
    samples_out: u64,
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
    /// Opens a local file, refusing one that is truncated.
    pub fn open_file(path: &Path, selection: Selection) -> Result<AudioDecoder, AudioError> {
        Self::open_file_with(path, selection, Truncated::Refuse)
    }

    /// Opens a local file after checking that it is whole (see the module doc); a truncated file
    /// is refused or decoded as far as it goes, as `truncated` says.
    pub fn open_file_with(
        path: &Path,
        selection: Selection,
        truncated: Truncated,
    ) -> Result<AudioDecoder, AudioError> {
        let label = path.display().to_string();
        if path.is_dir() {
            return Err(AudioError::IsFolder(label));
        }
        if !path.is_file() {
            return Err(AudioError::NotFound(label));
        }
        let wav_extent = check_wav(path, &label, truncated)?;
        gst::init().map_err(|e| AudioError::Gst(e.to_string()))?;
        let uri = gst::glib::filename_to_uri(
            std::path::absolute(path).map_err(|e| AudioError::Gst(e.to_string()))?,
            None,
        )
        .map_err(|e| AudioError::Gst(e.to_string()))?;
        let extent = match wav_extent {
            Some(extent) => Some(extent),
            None => probe_extent(&uri, &label)?,
        };
        if let Some(extent) = extent.filter(Extent::is_truncated) {
            if truncated == Truncated::Refuse {
                return Err(AudioError::Truncated {
                    path: label,
                    data_end_ms: extent.data_end_ms,
                    declared_ms: extent.declared_ms,
                });
            }
            tracing::warn!(
                "{label} ends at {} s of the {} s its container declares: decoding what is there",
                seconds(extent.data_end_ms),
                seconds(extent.declared_ms)
            );
        }
        let mut decoder = Self::open_uri(&uri, &label, selection)?;
        decoder.extent = extent;
        Ok(decoder)
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
        let source = audio_source(uri)?;
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
            extent: None,
            samples_out: 0,
            done: false,
        })
    }

    /// How far the file's data reaches against its declared duration, when it was checked
    /// ([`AudioDecoder::open_file_with`] on a file whose container declares a duration).
    pub fn extent(&self) -> Option<Extent> {
        self.extent
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
                let block = self.convert(&sample)?;
                self.samples_out += block.len() as u64;
                return Ok(Some(block));
            }
            if self.sink.is_eos() {
                self.done = true;
                self.check_bus()?;
                if self.samples_out == 0 {
                    return Err(AudioError::NoSamples(self.label.clone()));
                }
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

/// The extent a WAV file's header declares, checked against the file; `None` for other files
/// (and for a WAV of unknown size that the caller allows), which GStreamer probes instead.
fn check_wav(path: &Path, label: &str, truncated: Truncated) -> Result<Option<Extent>, AudioError> {
    let bad = |problem| AudioError::BadWav {
        path: label.to_owned(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(WavProblem::Io(e.to_string())))?;
    let file_len = file
        .metadata()
        .map_err(|e| bad(WavProblem::Io(e.to_string())))?
        .len();
    match wav::check(std::io::BufReader::new(file), file_len).map_err(bad)? {
        WavHeader::NotWav => Ok(None),
        WavHeader::Sound { declared_ms } => Ok(Some(Extent {
            declared_ms,
            data_end_ms: declared_ms,
        })),
        WavHeader::Cut {
            declared_ms,
            present_ms,
        } => Ok(Some(Extent {
            declared_ms,
            data_end_ms: present_ms,
        })),
        WavHeader::UnknownSize { present_ms } => match truncated {
            Truncated::Refuse => Err(AudioError::UnknownWavSize {
                path: label.to_owned(),
                present_ms,
            }),
            Truncated::Allow => {
                tracing::warn!(
                    "{label}: the WAV header gives no data size: decoding the {} s of samples the file holds",
                    seconds(present_ms)
                );
                Ok(None)
            }
        },
    }
}

/// A pipeline that demuxes every stream of a file into fakesinks and notes, per stream, the end
/// of the last buffer since the latest flush: seeking it near a time tells whether any data lies
/// past that time.
struct ExtentProbe {
    pipeline: gst::Pipeline,
    label: String,
    ends_ns: Arc<Mutex<Vec<Arc<AtomicU64>>>>,
}

/// A `uridecodebin` for `uri` that decodes only sound: video and subtitle streams are left
/// encoded (decoding a camera's picture only to drop it would cost more than the whole audio path).
fn audio_source(uri: &str) -> Result<gst::Element, AudioError> {
    let source = gst::ElementFactory::make("uridecodebin")
        .property("uri", uri)
        .build()
        .map_err(|_| AudioError::Gst("element uridecodebin missing (run scripts/setup)".into()))?;
    source.connect("autoplug-continue", false, |values| {
        let keep_going = values
            .get(2)
            .and_then(|v| v.get::<gst::Caps>().ok())
            .and_then(|caps| caps.structure(0).map(|s| !is_elementary_non_audio(s)))
            .unwrap_or(true);
        Some(keep_going.to_value())
    });
    Ok(source)
}

impl ExtentProbe {
    fn open(uri: &str, label: &str) -> Result<ExtentProbe, AudioError> {
        gst::init().map_err(|e| AudioError::Gst(e.to_string()))?;
        let pipeline = gst::Pipeline::new();
        // Pictures stay encoded: their packets' times are all the probe needs.
        let source = audio_source(uri)?;
        pipeline
            .add(&source)
            .map_err(|e| AudioError::Gst(e.to_string()))?;
        let ends_ns: Arc<Mutex<Vec<Arc<AtomicU64>>>> = Arc::default();
        let (ends, pipeline_weak) = (ends_ns.clone(), pipeline.downgrade());
        source.connect_pad_added(move |_, pad| {
            let Some(pipeline) = pipeline_weak.upgrade() else {
                return;
            };
            let end = Arc::new(AtomicU64::new(0));
            ends.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(end.clone());
            pad.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    match &info.data {
                        Some(gst::PadProbeData::Buffer(buffer)) => {
                            if let Some(pts) = buffer.pts() {
                                let stop = pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
                                end.fetch_max(stop.nseconds(), Ordering::SeqCst);
                            }
                        }
                        Some(gst::PadProbeData::Event(event))
                            if event.type_() == gst::EventType::FlushStop =>
                        {
                            end.store(0, Ordering::SeqCst);
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
            let Ok(sink) = gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .build()
            else {
                return;
            };
            if pipeline.add(&sink).is_ok() && sink.sync_state_with_parent().is_ok() {
                if let Some(target) = sink.static_pad("sink") {
                    let _ = pad.link(&target);
                }
            }
        });
        let probe = ExtentProbe {
            pipeline,
            label: label.to_owned(),
            ends_ns,
        };
        probe
            .pipeline
            .set_state(gst::State::Paused)
            .map_err(|e| AudioError::Gst(format!("cannot start probing {label}: {e}")))?;
        probe.settle()?;
        Ok(probe)
    }

    /// Waits until every stream has prerolled (or ended); false if the pipeline cannot preroll
    /// (a live source), an error if it failed.
    fn settle(&self) -> Result<bool, AudioError> {
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| AudioError::Gst("pipeline without a bus".into()))?;
        let timeout = gst::ClockTime::from_seconds(PROBE_TIMEOUT_S);
        match bus.timed_pop_filtered(
            timeout,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        ) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(err) => Err(gst_error(&self.label, err)),
                _ => Ok(true),
            },
            None => Ok(false),
        }
    }

    /// The end of the furthest buffer any stream delivered since the last seek, in ms.
    fn reached_ms(&self) -> u64 {
        self.ends_ns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|end| end.load(Ordering::SeqCst) / 1_000_000)
            .max()
            .unwrap_or(0)
    }

    /// Seeks to `at_ms` and returns how far the data then reaches; `None` if the file cannot seek.
    fn reached_from(&self, at_ms: u64) -> Result<Option<u64>, AudioError> {
        if self
            .pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::ClockTime::from_mseconds(at_ms),
            )
            .is_err()
        {
            return Ok(None);
        }
        Ok(self.settle()?.then(|| self.reached_ms()))
    }
}

impl Drop for ExtentProbe {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// How far the data of `uri` reaches against the duration its container declares, found with a
/// seek to just before the declared end and, when nothing is there, a bisection of seeks for where
/// the data stops. `None` when the container declares no duration or the input cannot seek.
pub fn probe_extent(uri: &str, label: &str) -> Result<Option<Extent>, AudioError> {
    let probe = ExtentProbe::open(uri, label)?;
    let Some(declared_ms) = probe
        .pipeline
        .query_duration::<gst::ClockTime>()
        .map(|d| d.mseconds())
    else {
        return Ok(None);
    };
    let mut lo_ms = probe.reached_ms();
    let mut hi_ms = declared_ms.saturating_sub(TRUNCATION_TOLERANCE_MS);
    if lo_ms > hi_ms {
        return Ok(Some(Extent {
            declared_ms,
            data_end_ms: lo_ms,
        }));
    }
    let Some(reached_ms) = probe.reached_from(hi_ms)? else {
        return Ok(None);
    };
    if reached_ms > hi_ms {
        return Ok(Some(Extent {
            declared_ms,
            data_end_ms: reached_ms,
        }));
    }
    // The data stops somewhere in [lo, hi): every seek before the stop reaches past its target.
    lo_ms = lo_ms.max(reached_ms);
    while hi_ms - lo_ms > EXTENT_PRECISION_MS {
        let mid_ms = lo_ms + (hi_ms - lo_ms) / 2;
        let Some(reached_ms) = probe.reached_from(mid_ms)? else {
            return Ok(None);
        };
        if reached_ms > mid_ms {
            lo_ms = reached_ms.min(hi_ms);
        } else {
            lo_ms = lo_ms.max(reached_ms);
            hi_ms = mid_ms;
        }
    }
    Ok(Some(Extent {
        declared_ms,
        data_end_ms: lo_ms,
    }))
}
