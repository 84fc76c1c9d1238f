//! Cutting a clip out of a recording with FFmpeg, in one of three modes: stream copy from the
//! keyframe at or before the start (`copy`), a frame-accurate smart cut that re-encodes only up to
//! the next keyframe (`smart`), or a full re-encode that fits the picture to the preset and burns in
//! subtitles and name captions (`encode`, with an optional mov_text track from `movtext`); an
//! encoding preset takes the smart cut too when the recording already has its encoding. The file
//! is written under a `.part` name and renamed when complete.

mod copy;
mod encode;
mod movtext;
mod poster;
mod smart;

use session::ErrorKind;
use std::path::Path;

use ffmpeg::{format, Dictionary, Rational};
use ffmpeg_next as ffmpeg;
use presets::{Container, Preset};

use crate::cues::Cue;

pub use poster::poster;

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("{path}: cannot open the recording: {source}")]
    Open { path: String, source: ffmpeg::Error },
    #[error("{path}: no {what} stream, which preset {preset} needs")]
    NoStream {
        path: String,
        what: &'static str,
        preset: String,
    },
    #[error("FFmpeg failed while {during}: {source}")]
    Ffmpeg {
        during: String,
        source: ffmpeg::Error,
    },
    #[error("this FFmpeg has no {0} encoder")]
    NoEncoder(&'static str),
    #[error("nothing of {path} lies between {start_ms} ms and {end_ms} ms")]
    Empty {
        path: String,
        start_ms: u64,
        end_ms: u64,
    },
    #[error("writing {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
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
    #[error("cancelled")]
    Cancelled,
}

/// `12345` ms as `12.345`, for messages in seconds.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

impl ClipError {
    /// A request or recording that cannot be cut is the caller's; FFmpeg or the disk failing,
    /// the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClipError::Open { .. }
            | ClipError::NoStream { .. }
            | ClipError::Empty { .. }
            | ClipError::Truncated { .. } => ErrorKind::BadInput,
            ClipError::Cancelled => ErrorKind::Cancelled,
            _ => ErrorKind::Internal,
        }
    }
}

pub(crate) fn ff(during: impl Into<String>) -> impl FnOnce(ffmpeg::Error) -> ClipError {
    let during = during.into();
    move |source| ClipError::Ffmpeg { during, source }
}

/// How a clip was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutMode {
    /// Packets copied from the keyframe at or before the start.
    Copy,
    /// Frame-accurate without re-encoding it all: the frames from the start to the next keyframe
    /// are encoded again, the rest is copied.
    Smart,
    /// Decoded and encoded again from the exact frame.
    Encode,
}

/// What to cut, in recording time (the recording starts at session time zero).
pub struct ClipSpec<'a> {
    pub start_ms: u64,
    pub end_ms: u64,
    pub preset: &'a Preset,
    /// For a copying preset: start on the exact frame (smart cut) rather than at the keyframe.
    pub accurate: bool,
    /// An ASS script (clip time) to draw into the picture: subtitles and name captions.
    pub burn: Option<&'a Path>,
    /// Cues (clip time) to carry as a mov_text subtitle track.
    pub soft: Option<&'a [Cue]>,
    /// The recording is already encoded as the preset would encode it (see
    /// [`Preset::is_encoded_as`]): an encoding preset cuts it by the smart cut instead, when nothing
    /// is to be drawn into the picture nor added as a track.
    pub as_recorded: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClipResult {
    pub mode: CutMode,
    /// Where the clip really starts in the recording (the keyframe, for a stream copy).
    pub start_ms: u64,
    pub duration_ms: u64,
    pub bytes: u64,
}

/// Told how far a cut has read in the input (ms of the input); answers whether to go on (false
/// stops the cut with [`ClipError::Cancelled`]).
pub type GoOn<'a> = &'a dyn Fn(u64) -> bool;

/// Cuts `spec` out of `input` into `output` (written under a [`session::PartFile`], then renamed
/// if `go_on` still says so).
pub fn cut(
    input: &Path,
    output: &Path,
    spec: &ClipSpec,
    go_on: GoOn,
) -> Result<ClipResult, ClipError> {
    ffmpeg::init().map_err(ff("initialising"))?;
    ffmpeg::log::set_level(ffmpeg::log::Level::Error);
    let part = session::PartFile::new(output);
    let (mode, start_ms, duration_ms) = match (spec.preset.mode, spec.accurate) {
        (presets::Mode::Copy, false) => copy::copy(input, part.path(), spec, go_on),
        (presets::Mode::Copy, true) => smart::smart(input, part.path(), spec, go_on),
        (presets::Mode::Encode, _)
            if spec.as_recorded && spec.burn.is_none() && spec.soft.is_none() =>
        {
            smart::smart(input, part.path(), spec, go_on)
        }
        (presets::Mode::Encode, _) => encode::encode(input, part.path(), spec, go_on),
    }?;
    let io = |source| ClipError::Io {
        path: output.display().to_string(),
        source,
    };
    let bytes = std::fs::metadata(part.path()).map_err(io)?.len();
    // Asked once more just before the rename: a job that lost its lease leaves no output.
    if !go_on(spec.end_ms) {
        return Err(ClipError::Cancelled);
    }
    part.commit().map_err(io)?;
    Ok(ClipResult {
        mode,
        start_ms,
        duration_ms,
        bytes,
    })
}

pub(crate) fn open(input: &Path) -> Result<format::context::Input, ClipError> {
    format::input(input).map_err(|source| ClipError::Open {
        path: input.display().to_string(),
        source,
    })
}

fn container_name(container: Container) -> &'static str {
    match container {
        Container::Mp4 => "mp4",
        Container::Mp3 => "mp3",
    }
}

/// Muxer options; a stream copy shifts every stream by the same amount so that none starts below
/// zero (an encode keeps B-frame delay in the MP4 edit list instead).
fn header_options(preset: &Preset, copy: bool) -> Dictionary<'static> {
    let mut options = Dictionary::new();
    if preset.faststart && preset.container == Container::Mp4 {
        options.set("movflags", "+faststart");
    }
    if copy {
        options.set("avoid_negative_ts", "make_zero");
    }
    options
}

/// Adds an output stream with the same parameters for every video and audio stream of `ictx`;
/// returns, per input stream, its output stream (if copied) and its time base.
pub(crate) fn copy_streams(
    ictx: &format::context::Input,
    octx: &mut format::context::Output,
) -> Result<(Vec<Option<usize>>, Vec<Rational>), ClipError> {
    let mut mapping = vec![None; ictx.nb_streams() as usize];
    let mut in_tb = vec![Rational(1, 1000); ictx.nb_streams() as usize];
    for ist in ictx.streams() {
        let medium = ist.parameters().medium();
        if medium != ffmpeg::media::Type::Video && medium != ffmpeg::media::Type::Audio {
            continue;
        }
        let mut ost = octx
            .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
            .map_err(ff("adding a stream"))?;
        ost.set_parameters(ist.parameters());
        // SAFETY: the stream's parameters belong to `octx`, alive here; a zero tag lets the muxer
        // pick the right one for its container.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
        mapping[ist.index()] = Some(ost.index());
        in_tb[ist.index()] = ist.time_base();
    }
    Ok((mapping, in_tb))
}

/// Seeks every stream to the keyframe at or before `ms`.
pub(crate) fn seek(ictx: &mut format::context::Input, ms: u64) -> Result<(), ClipError> {
    let ts = ms as i64 * 1000;
    ictx.seek(ts, ..ts)
        .map_err(ff(format!("seeking to {ms} ms")))
}

/// Where `packet` of `stream` lies in the input, in ms (0 when it carries no time).
fn packet_ms(stream: &ffmpeg::format::stream::Stream, packet: &ffmpeg::Packet) -> u64 {
    packet
        .pts()
        .or(packet.dts())
        .map_or(0, |ts| to_ms(ts, stream.time_base()).max(0) as u64)
}

fn to_ms(ts: i64, tb: Rational) -> i64 {
    ts * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator()).max(1)
}

fn from_ms(ms: i64, tb: Rational) -> i64 {
    ms * i64::from(tb.denominator()) / (1000 * i64::from(tb.numerator()).max(1))
}
