//! The card that stands in for a closed part in the archive: a few seconds of the closed slate
//! (its colour, "Seduta segreta") over silence, encoded as H.264 and AAC in an MP4 with the
//! program's size, frame rate and sound, so that it plays between the program's pieces.

use std::path::Path;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::gst::{add_chain, element, gst_error, io_error, PipelineError};
use crate::program::{slate_captions, CLOSED_SLATE_ARGB};
use crate::watchdog::{self, Watchdog};

/// What the card looks and sounds like.
#[derive(Clone, Debug, PartialEq)]
pub struct CardSpec {
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction (25/1).
    pub fps: (i32, i32),
    pub duration_ms: u64,
    pub sample_rate_hz: u32,
    pub channels: u32,
    /// A keyframe every this many frames.
    pub keyframe_frames: u32,
}

/// Writes the card to `output` (under a part name, renamed once complete).
pub fn write_card(output: &Path, spec: &CardSpec) -> Result<(), PipelineError> {
    gst::init().map_err(gst_error)?;
    let part = session::PartFile::new(output);
    let pipeline = gst::Pipeline::with_name("card");
    let frames = (spec.duration_ms * spec.fps.0.max(1) as u64)
        .div_ceil(1000 * spec.fps.1.max(1) as u64)
        .max(1);
    let video = element("videotestsrc")?;
    video.set_property("num-buffers", frames as i32);
    video.set_property_from_str("pattern", "solid-color");
    video.set_property("foreground-color", CLOSED_SLATE_ARGB);
    let video_caps = element("capsfilter")?;
    video_caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", spec.width as i32)
            .field("height", spec.height as i32)
            .field("framerate", gst::Fraction::new(spec.fps.0, spec.fps.1))
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    );
    let [title, subtitle] = slate_captions()?;
    let x264 = element("x264enc")?;
    x264.set_property("key-int-max", spec.keyframe_frames.max(1));
    x264.set_property_from_str("speed-preset", "veryfast");
    let h264_parse = element("h264parse")?;
    let mux = element("mp4mux")?;
    let sink = element("filesink")?;
    sink.set_property("location", part.path());
    pipeline.add_many([&mux, &sink]).map_err(gst_error)?;
    mux.link(&sink).map_err(gst_error)?;
    add_chain(
        &pipeline,
        &[
            video,
            video_caps,
            title,
            subtitle,
            element("videoconvert")?,
            x264,
            h264_parse.clone(),
        ],
    )?;
    h264_parse.link(&mux).map_err(gst_error)?;

    let samples_per_buffer = 1024u64;
    let buffers = (spec.duration_ms * u64::from(spec.sample_rate_hz))
        .div_ceil(1000 * samples_per_buffer)
        .max(1);
    let audio = element("audiotestsrc")?;
    audio.set_property_from_str("wave", "silence");
    audio.set_property("samplesperbuffer", samples_per_buffer as i32);
    audio.set_property("num-buffers", buffers as i32);
    let audio_caps = element("capsfilter")?;
    audio_caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw")
            .field("rate", spec.sample_rate_hz as i32)
            .field("channels", spec.channels as i32)
            .build(),
    );
    let aac = element("avenc_aac")?;
    let aac_parse = element("aacparse")?;
    add_chain(
        &pipeline,
        &[
            audio,
            element("audioconvert")?,
            audio_caps,
            aac,
            aac_parse.clone(),
        ],
    )?;
    aac_parse.link(&mux).map_err(gst_error)?;

    let result = watchdog::run_to_eos(
        &pipeline,
        &Watchdog::new(watchdog::DEFAULT_STALL_MS),
        &|| false,
    );
    pipeline.set_state(gst::State::Null).map_err(gst_error)?;
    result?;
    part.commit().map_err(|e| io_error(output, e))
}
