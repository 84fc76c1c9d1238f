//! What a media file holds: its streams, duration and frames, how far its packets really reach
//! (a truncated file declares more than it holds), and a small grey picture of the frame shown at
//! a time, for reports and for checking clips.

use std::path::Path;

use ffmpeg::{codec, format, frame, media};
use ffmpeg_next as ffmpeg;

use crate::clip::ClipError;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StreamInfo {
    pub kind: String,
    pub codec: String,
    /// Time of the first packet, in ms.
    pub start_ms: i64,
    /// Time after the last packet, in ms.
    pub end_ms: i64,
    pub packets: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MediaInfo {
    pub duration_ms: u64,
    pub streams: Vec<StreamInfo>,
}

impl MediaInfo {
    pub fn stream(&self, kind: &str) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == kind)
    }
}

fn open(path: &Path) -> Result<format::context::Input, ClipError> {
    ffmpeg::init().map_err(|source| ClipError::Ffmpeg {
        during: "initialising".into(),
        source,
    })?;
    format::input(path).map_err(|source| ClipError::Open {
        path: path.display().to_string(),
        source,
    })
}

/// The picture and sound of a file: what a card placed between its pieces must match.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Format {
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction (25/1).
    pub fps: (i32, i32),
    pub sample_rate_hz: u32,
    pub channels: u32,
}

/// The first video and audio streams' formats, from the header (no packet is read); a file
/// without video or audio is refused.
pub fn format(path: &Path) -> Result<Format, ClipError> {
    let ictx = open(path)?;
    let no = |what| ClipError::NoStream {
        path: path.display().to_string(),
        what,
        preset: "archive".into(),
    };
    let decoder = |s: &ffmpeg::format::stream::Stream| {
        ffmpeg::codec::context::Context::from_parameters(s.parameters())
            .map(|c| c.decoder())
            .map_err(|source| ClipError::Ffmpeg {
                during: format!("reading the format of {}", path.display()),
                source,
            })
    };
    let video_stream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| no("video"))?;
    let rate = video_stream.avg_frame_rate();
    let video = decoder(&video_stream)?
        .video()
        .map_err(|source| ClipError::Ffmpeg {
            during: "opening the video decoder".into(),
            source,
        })?;
    let audio_stream = ictx
        .streams()
        .best(media::Type::Audio)
        .ok_or_else(|| no("audio"))?;
    let audio = decoder(&audio_stream)?
        .audio()
        .map_err(|source| ClipError::Ffmpeg {
            during: "opening the audio decoder".into(),
            source,
        })?;
    Ok(Format {
        width: video.width(),
        height: video.height(),
        fps: if rate.numerator() > 0 {
            (rate.numerator(), rate.denominator())
        } else {
            (25, 1)
        },
        sample_rate_hz: audio.rate(),
        channels: u32::from(audio.channels()),
    })
}

/// The first video and audio streams' codecs, sizes, rates and average bitrates, from the header
/// (the MP4 demuxer works a stream's average out from its sample sizes and duration); a file
/// without video or audio is refused.
pub fn encoding(path: &Path) -> Result<presets::Encoding, ClipError> {
    let ictx = open(path)?;
    let no = |what| ClipError::NoStream {
        path: path.display().to_string(),
        what,
        preset: "cut as recorded".into(),
    };
    let video = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| no("video"))?;
    let audio = ictx
        .streams()
        .best(media::Type::Audio)
        .ok_or_else(|| no("audio"))?;
    let rate = video.avg_frame_rate();
    // SAFETY: plain fields of the streams' parameters, alive as long as `ictx`.
    let (v, a) = unsafe { (&*video.parameters().as_ptr(), &*audio.parameters().as_ptr()) };
    let kbps =
        |bits_per_second: i64| u32::try_from(bits_per_second.max(0) / 1000).unwrap_or(u32::MAX);
    Ok(presets::Encoding {
        video_codec: video.parameters().id().name().to_owned(),
        width: u32::try_from(v.width).unwrap_or(0),
        height: u32::try_from(v.height).unwrap_or(0),
        fps: if rate.numerator() > 0 && rate.denominator() > 0 {
            (rate.numerator(), rate.denominator())
        } else {
            (0, 1)
        },
        video_bitrate_kbps: kbps(v.bit_rate),
        audio_codec: audio.parameters().id().name().to_owned(),
        sample_rate_hz: u32::try_from(a.sample_rate).unwrap_or(0),
        channels: u32::try_from(a.ch_layout.nb_channels).unwrap_or(0),
        audio_bitrate_kbps: kbps(a.bit_rate),
    })
}

/// Reads every packet of `path`.
pub fn info(path: &Path) -> Result<MediaInfo, ClipError> {
    let mut ictx = open(path)?;
    let mut streams: Vec<StreamInfo> = ictx
        .streams()
        .map(|s| StreamInfo {
            kind: match s.parameters().medium() {
                media::Type::Video => "video",
                media::Type::Audio => "audio",
                media::Type::Subtitle => "subtitle",
                _ => "other",
            }
            .to_owned(),
            codec: s.parameters().id().name().to_owned(),
            start_ms: i64::MAX,
            end_ms: i64::MIN,
            packets: 0,
        })
        .collect();
    let time_bases: Vec<ffmpeg::Rational> = ictx.streams().map(|s| s.time_base()).collect();
    // A frame's duration for video packets that carry none (in ms; 0 when unknown).
    let frame_ms: Vec<i64> = ictx
        .streams()
        .map(|s| {
            let rate = s.avg_frame_rate();
            if s.parameters().medium() == media::Type::Video && rate.numerator() > 0 {
                1000 * i64::from(rate.denominator()) / i64::from(rate.numerator())
            } else {
                0
            }
        })
        .collect();
    let duration_ms = (ictx.duration().max(0) / 1000) as u64;
    for (stream, packet) in ictx.packets() {
        let i = stream.index();
        let tb = time_bases[i];
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let ms = |ts: i64| ts * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
        let s = &mut streams[i];
        s.packets += 1;
        s.start_ms = s.start_ms.min(ms(pts));
        let duration_ms = if packet.duration() > 0 {
            ms(packet.duration())
        } else {
            frame_ms[i]
        };
        s.end_ms = s.end_ms.max(ms(pts) + duration_ms);
    }
    Ok(MediaInfo {
        duration_ms,
        streams,
    })
}

/// The frame shown at `at_ms` (the first whose time is at or after it), as `width` x `height`
/// grey pixels.
pub fn frame_gray(path: &Path, at_ms: u64, width: u32, height: u32) -> Result<Vec<u8>, ClipError> {
    let ff = |during: &str| {
        let during = during.to_owned();
        move |source| ClipError::Ffmpeg { during, source }
    };
    let mut ictx = open(path)?;
    let ist = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| ClipError::NoStream {
            path: path.display().to_string(),
            what: "video",
            preset: "probe".into(),
        })?;
    let index = ist.index();
    let tb = ist.time_base();
    let mut decoder = codec::context::Context::from_parameters(ist.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ff("opening the decoder"))?;
    let ts = at_ms as i64 * 1000;
    ictx.seek(ts, ..ts).map_err(ff("seeking"))?;
    let target = at_ms as i64 * i64::from(tb.denominator()) / (1000 * i64::from(tb.numerator()));
    let mut found = None;
    let mut decoded = frame::Video::empty();
    'read: for (stream, packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        decoder.send_packet(&packet).map_err(ff("decoding"))?;
        while decoder.receive_frame(&mut decoded).is_ok() {
            if decoded.timestamp().unwrap_or(i64::MIN) >= target {
                found = Some(decoded.clone());
                break 'read;
            }
        }
    }
    let decoded = found.ok_or_else(|| ClipError::Empty {
        path: path.display().to_string(),
        start_ms: at_ms,
        end_ms: at_ms,
    })?;
    let mut scaler = ffmpeg::software::scaling::Context::get(
        decoded.format(),
        decoded.width(),
        decoded.height(),
        format::Pixel::GRAY8,
        width,
        height,
        ffmpeg::software::scaling::Flags::AREA,
    )
    .map_err(ff("scaling"))?;
    let mut gray = frame::Video::empty();
    scaler.run(&decoded, &mut gray).map_err(ff("scaling"))?;
    let stride = gray.stride(0);
    let data = gray.data(0);
    Ok((0..height as usize)
        .flat_map(|y| {
            data[y * stride..y * stride + width as usize]
                .iter()
                .copied()
        })
        .collect())
}

/// The container's duration, without reading the packets.
pub fn duration_ms(path: &Path) -> Result<u64, ClipError> {
    Ok((open(path)?.duration().max(0) / 1000) as u64)
}

/// How far short of its declared duration a file may end before it counts as truncated.
pub const TRUNCATION_TOLERANCE_MS: u64 = 1000;

/// How far a file's packets reach against the duration its container declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Extent {
    pub declared_ms: u64,
    /// The end of the furthest packet of any stream, from the start of the file (at least
    /// `declared_ms - TRUNCATION_TOLERANCE_MS` when the file is whole).
    pub data_end_ms: u64,
}

impl Extent {
    pub fn is_truncated(&self) -> bool {
        self.data_end_ms + TRUNCATION_TOLERANCE_MS < self.declared_ms
    }
}

/// The end of the furthest packet `packets` yields, in ms from `start_ms`; stops reading once one
/// ends after `enough_ms`.
fn reach_ms(ictx: &mut format::context::Input, start_ms: i64, enough_ms: Option<u64>) -> u64 {
    let time_bases: Vec<ffmpeg::Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let mut reach_ms = 0u64;
    for (stream, packet) in ictx.packets() {
        let tb = time_bases[stream.index()];
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let end = pts + packet.duration().max(0);
        let end_ms = end * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
        reach_ms = reach_ms.max((end_ms - start_ms).max(0) as u64);
        if enough_ms.is_some_and(|enough| reach_ms > enough) {
            break;
        }
    }
    reach_ms
}

/// How far the packets of `path` reach: a seek to just before the declared end tells a whole file
/// at once; only a file with nothing there is read from its start to find where its data stops.
pub fn extent(path: &Path) -> Result<Extent, ClipError> {
    let mut ictx = open(path)?;
    let declared_ms = (ictx.duration().max(0) / 1000) as u64;
    let start_ms = ictx
        .streams()
        .filter(|s| s.start_time() != ffmpeg::ffi::AV_NOPTS_VALUE)
        .map(|s| {
            let tb = s.time_base();
            s.start_time() * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator())
        })
        .min()
        .unwrap_or(0);
    let target_ms = declared_ms.saturating_sub(TRUNCATION_TOLERANCE_MS);
    let ts = (start_ms + target_ms as i64) * 1000;
    if ictx.seek(ts, ..ts).is_ok() && reach_ms(&mut ictx, start_ms, Some(target_ms)) > target_ms {
        return Ok(Extent {
            declared_ms,
            data_end_ms: declared_ms,
        });
    }
    let mut ictx = open(path)?;
    Ok(Extent {
        declared_ms,
        data_end_ms: reach_ms(&mut ictx, start_ms, None),
    })
}

/// The cues of the first mov_text subtitle track: (start ms, end ms, text), empty samples left out.
pub fn mov_text_cues(path: &Path) -> Result<Vec<(i64, i64, String)>, ClipError> {
    let mut ictx = open(path)?;
    let Some(stream) = ictx
        .streams()
        .find(|s| s.parameters().id() == codec::Id::MOV_TEXT)
    else {
        return Ok(Vec::new());
    };
    let (index, tb) = (stream.index(), stream.time_base());
    let ms = |ts: i64| ts * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator());
    let mut cues = Vec::new();
    for (stream, packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        let data = packet.data().unwrap_or_default();
        let Some(len) = data
            .get(..2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            continue;
        };
        let text = String::from_utf8_lossy(data.get(2..2 + len).unwrap_or_default()).into_owned();
        if !text.is_empty() {
            let start = ms(packet.pts().unwrap_or(0));
            cues.push((start, start + ms(packet.duration()), text));
        }
    }
    Ok(cues)
}
