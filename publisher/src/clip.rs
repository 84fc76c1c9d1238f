//! Cutting a clip out of a recording with FFmpeg. Stream copy starts at the keyframe at or before the
//! requested start and reports that real start; a re-encode decodes from the keyframe before, trims
//! to the exact frame and sample, brings the picture to the preset's size (pad, crop), burns in the
//! subtitles and name captions through libass, and can carry the subtitles as a mov_text track.
//! The file is written under a `.part` name and renamed when complete.

use std::path::Path;

use ffmpeg::{codec, decoder, encoder, filter, format, frame, media, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;
use presets::{AudioCodec, Container, Fit, Preset};

use crate::cues::Cue;

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
    #[error("cancelled")]
    Cancelled,
}

impl ClipError {
    /// Whether the request or the recording is at fault rather than the system.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ClipError::Open { .. } | ClipError::NoStream { .. } | ClipError::Empty { .. }
        )
    }
}

fn ff(during: impl Into<String>) -> impl FnOnce(ffmpeg::Error) -> ClipError {
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
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClipResult {
    pub mode: CutMode,
    /// Where the clip really starts in the recording (the keyframe, for a stream copy).
    pub start_ms: u64,
    pub duration_ms: u64,
    pub bytes: u64,
}

/// Cuts `spec` out of `input` into `output` (written as `output.part`, then renamed).
pub fn cut(
    input: &Path,
    output: &Path,
    spec: &ClipSpec,
    cancelled: &dyn Fn() -> bool,
) -> Result<ClipResult, ClipError> {
    ffmpeg::init().map_err(ff("initialising"))?;
    ffmpeg::log::set_level(ffmpeg::log::Level::Error);
    let part = part_path(output);
    let result = match (spec.preset.mode, spec.accurate) {
        (presets::Mode::Copy, false) => copy(input, &part, spec, cancelled),
        (presets::Mode::Copy, true) => smart(input, &part, spec, cancelled),
        (presets::Mode::Encode, _) => encode(input, &part, spec, cancelled),
    };
    let (mode, start_ms, duration_ms) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    let io = |source| ClipError::Io {
        path: output.display().to_string(),
        source,
    };
    let bytes = std::fs::metadata(&part).map_err(io)?.len();
    std::fs::rename(&part, output).map_err(io)?;
    Ok(ClipResult {
        mode,
        start_ms,
        duration_ms,
        bytes,
    })
}

pub fn part_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

fn open(input: &Path) -> Result<format::context::Input, ClipError> {
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

/// Seeks every stream to the keyframe at or before `ms`.
fn seek(ictx: &mut format::context::Input, ms: u64) -> Result<(), ClipError> {
    let ts = ms as i64 * 1000;
    ictx.seek(ts, ..ts)
        .map_err(ff(format!("seeking to {ms} ms")))
}

fn to_ms(ts: i64, tb: Rational) -> i64 {
    ts * 1000 * i64::from(tb.numerator()) / i64::from(tb.denominator()).max(1)
}

fn from_ms(ms: i64, tb: Rational) -> i64 {
    ms * i64::from(tb.denominator()) / (1000 * i64::from(tb.numerator()).max(1))
}

/// Stream copy of video and audio from the keyframe at or before the start.
fn copy(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    cancelled: &dyn Fn() -> bool,
) -> Result<(CutMode, u64, u64), ClipError> {
    let mut ictx = open(input)?;
    let mut octx = format::output_as(part, container_name(spec.preset.container))
        .map_err(ff("creating the output"))?;
    let video = ictx.streams().best(media::Type::Video).map(|s| s.index());
    let mut mapping: Vec<Option<usize>> = vec![None; ictx.nb_streams() as usize];
    let mut in_tb = vec![Rational(1, 1000); ictx.nb_streams() as usize];
    for ist in ictx.streams() {
        let medium = ist.parameters().medium();
        if medium != media::Type::Video && medium != media::Type::Audio {
            continue;
        }
        let mut ost = octx
            .add_stream(encoder::find(codec::Id::None))
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
    octx.write_header_with(header_options(spec.preset, true))
        .map_err(ff("writing the header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    seek(&mut ictx, spec.start_ms)?;

    let mut real_start_ms: Option<i64> = None;
    let mut last_ms = 0i64;
    let mut pending_audio: Vec<Packet> = Vec::new();
    for (stream, mut packet) in ictx.packets() {
        if cancelled() {
            return Err(ClipError::Cancelled);
        }
        let index = stream.index();
        let Some(out) = mapping[index] else { continue };
        let tb = in_tb[index];
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let pts_ms = to_ms(pts, tb);
        let is_video = Some(index) == video;
        if real_start_ms.is_none() {
            if video.is_none() || (is_video && packet.is_key()) {
                real_start_ms = Some(pts_ms.min(spec.start_ms as i64));
            } else {
                if !is_video {
                    pending_audio.push(packet.clone());
                }
                continue;
            }
        }
        let start = real_start_ms.expect("set above");
        if to_ms(packet.dts().unwrap_or(pts), tb) >= spec.end_ms as i64 {
            if is_video || video.is_none() {
                break;
            }
            continue;
        }
        let mut batch = std::mem::take(&mut pending_audio);
        batch.push(packet.clone());
        for mut p in batch {
            let Some(p_pts) = p.pts() else { continue };
            let p_index = p.stream();
            let p_tb = in_tb[p_index];
            if to_ms(p_pts, p_tb) < start {
                continue;
            }
            let shift = from_ms(start, p_tb);
            p.set_pts(Some(p_pts - shift));
            p.set_dts(p.dts().map(|d| d - shift));
            let p_out = mapping[p_index].expect("mapped");
            p.rescale_ts(p_tb, out_tb[p_out]);
            p.set_position(-1);
            p.set_stream(p_out);
            p.write_interleaved(&mut octx)
                .map_err(ff("writing a packet"))?;
        }
        last_ms = last_ms.max(pts_ms + to_ms(packet.duration(), tb));
        packet.set_stream(out);
    }
    octx.write_trailer().map_err(ff("finishing the file"))?;
    let start = real_start_ms.ok_or_else(|| ClipError::Empty {
        path: input.display().to_string(),
        start_ms: spec.start_ms,
        end_ms: spec.end_ms,
    })?;
    let end = last_ms.min(spec.end_ms as i64).max(start);
    Ok((CutMode::Copy, start as u64, (end - start) as u64))
}

/// The parameter sets (SPS, PPS) of an H.264 `avcC` record and its NAL length size.
fn parse_avcc(extradata: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
    if extradata.len() < 7 || extradata[0] != 1 {
        return None;
    }
    let length_size = usize::from(extradata[4] & 0x03) + 1;
    let mut nals = Vec::new();
    let mut at = 5;
    for group in 0..2 {
        let count = usize::from(*extradata.get(at)? & if group == 0 { 0x1F } else { 0xFF });
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([
                *extradata.get(at)?,
                *extradata.get(at + 1)?,
            ]));
            nals.push(extradata.get(at + 2..at + 2 + len)?.to_vec());
            at += 2 + len;
        }
    }
    Some((length_size, nals))
}

/// NAL units from an Annex B byte stream (start codes), as `length_size`-byte length prefixes.
fn annexb_to_length_prefixed(data: &[u8], length_size: usize) -> Vec<u8> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(data.len() + 8);
    for (k, &(_, begin)) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |s| s.0);
        // A four-byte start code leaves a zero at the end of the NAL before it.
        while end > begin && data[end - 1] == 0 && k + 1 < starts.len() {
            end -= 1;
        }
        prefix(&mut out, &data[begin..end], length_size);
    }
    out
}

fn prefix(out: &mut Vec<u8>, nal: &[u8], length_size: usize) {
    let len = (nal.len() as u32).to_be_bytes();
    out.extend_from_slice(&len[4 - length_size..]);
    out.extend_from_slice(nal);
}

/// Frame-accurate cut of an H.264 recording: frames from the start up to the next keyframe are
/// encoded again (with their own parameter sets in band), the source's packets are copied from that
/// keyframe on, with the source's parameter sets put back in band there. Audio is copied.
fn smart(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    cancelled: &dyn Fn() -> bool,
) -> Result<(CutMode, u64, u64), ClipError> {
    let mut ictx = open(input)?;
    let vist = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| ClipError::NoStream {
            path: input.display().to_string(),
            what: "video",
            preset: spec.preset.name.clone(),
        })?;
    let v_in = vist.index();
    let v_tb = vist.time_base();
    let start_ms = first_frame_ms(&vist, spec.start_ms);
    let parameters = vist.parameters();
    // SAFETY: reading the stream's own extradata, alive as long as `ictx`.
    let extradata = unsafe {
        let p = parameters.as_ptr();
        if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
        }
    };
    let (length_size, parameter_sets) = match (parameters.id(), parse_avcc(&extradata)) {
        (codec::Id::H264, Some(avcc)) => avcc,
        _ => {
            return Err(ClipError::NoStream {
                path: input.display().to_string(),
                what: "H.264 (MP4) video",
                preset: format!("{} with a frame-accurate cut", spec.preset.name),
            })
        }
    };
    let mut fps = vist.avg_frame_rate();
    if fps.numerator() <= 0 {
        fps = Rational(25, 1);
    }
    let mut decoder = threaded_video_decoder(&vist)?;

    let mut octx = format::output_as(part, container_name(spec.preset.container))
        .map_err(ff("creating the output"))?;
    let mut mapping: Vec<Option<usize>> = vec![None; ictx.nb_streams() as usize];
    let mut in_tb = vec![Rational(1, 1000); ictx.nb_streams() as usize];
    for ist in ictx.streams() {
        let medium = ist.parameters().medium();
        if medium != media::Type::Video && medium != media::Type::Audio {
            continue;
        }
        let mut ost = octx
            .add_stream(encoder::find(codec::Id::None))
            .map_err(ff("adding a stream"))?;
        ost.set_parameters(ist.parameters());
        // SAFETY: as in `copy`.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
        mapping[ist.index()] = Some(ost.index());
        in_tb[ist.index()] = ist.time_base();
    }
    let v_out = mapping[v_in].expect("the video stream is mapped");

    let h264 = encoder::find_by_name("libx264").ok_or(ClipError::NoEncoder("H.264"))?;
    let mut enc = codec::context::Context::new_with_codec(h264)
        .encoder()
        .video()
        .map_err(ff("creating the H.264 encoder"))?;
    enc.set_width(decoder.width());
    enc.set_height(decoder.height());
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(v_tb);
    enc.set_frame_rate(Some(fps));
    enc.set_max_b_frames(0);
    enc.set_gop(10_000);
    let mut options = Dictionary::new();
    // At most one GOP is encoded: the fastest preset, at a quality close to the source's.
    options.set("preset", "ultrafast");
    options.set("tune", "zerolatency");
    options.set("crf", "14");
    let profile = match parameters_profile(&vist) {
        66 => "baseline",
        77 => "main",
        _ => "high",
    };
    options.set("profile", profile);
    let mut head_encoder = enc
        .open_with(options)
        .map_err(ff("opening the H.264 encoder"))?;

    octx.write_header_with(header_options(spec.preset, false))
        .map_err(ff("writing the header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    seek(&mut ictx, spec.start_ms)?;
    let start_ts = from_ms(start_ms as i64, v_tb);
    let end_ms = spec.end_ms as i64;

    let write_head = |encoder: &mut encoder::Video,
                      octx: &mut format::context::Output|
     -> Result<(), ClipError> {
        let mut packet = Packet::empty();
        while encoder.receive_packet(&mut packet).is_ok() {
            let data = annexb_to_length_prefixed(packet.data().unwrap_or_default(), length_size);
            let mut out = Packet::copy(&data);
            out.set_pts(packet.pts());
            out.set_dts(packet.pts());
            out.set_duration(packet.duration().max(1));
            out.set_flags(packet.flags());
            out.set_stream(v_out);
            out.rescale_ts(v_tb, out_tb[v_out]);
            out.write_interleaved(octx).map_err(ff("writing video"))?;
        }
        Ok(())
    };

    // Encodes every frame the decoder has ready that belongs to the clip.
    let drain = |decoder: &mut decoder::Video,
                 encoder: &mut encoder::Video,
                 octx: &mut format::context::Output|
     -> Result<(), ClipError> {
        let mut decoded = frame::Video::empty();
        while decoder.receive_frame(&mut decoded).is_ok() {
            let Some(ts) = decoded.timestamp() else {
                continue;
            };
            if ts < start_ts || to_ms(ts, v_tb) >= end_ms {
                continue;
            }
            decoded.set_pts(Some(ts - start_ts));
            decoded.set_kind(ffmpeg::picture::Type::None);
            encoder.send_frame(&decoded).map_err(ff("encoding video"))?;
            write_head(encoder, octx)?;
        }
        Ok(())
    };

    let mut copying = false;
    let mut video_done = false;
    for (stream, packet) in ictx.packets() {
        if cancelled() {
            return Err(ClipError::Cancelled);
        }
        let index = stream.index();
        let Some(out) = mapping[index] else { continue };
        let tb = in_tb[index];
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        if index != v_in {
            let ms = to_ms(pts, tb);
            if ms >= start_ms as i64 && ms < end_ms {
                let shift = from_ms(start_ms as i64, tb);
                let mut p = packet.clone();
                p.set_pts(Some(pts - shift));
                p.set_dts(p.dts().map(|d| d - shift));
                p.set_stream(out);
                p.rescale_ts(tb, out_tb[out]);
                p.set_position(-1);
                p.write_interleaved(&mut octx)
                    .map_err(ff("writing audio"))?;
            }
            if ms >= end_ms && video_done {
                break;
            }
            continue;
        }
        if video_done {
            continue;
        }
        if to_ms(packet.dts().unwrap_or(pts), tb) >= end_ms {
            video_done = true;
            continue;
        }
        if !copying && packet.is_key() && pts >= start_ts {
            // From this keyframe on the source is copied: the frames still in the (threaded)
            // decoder are encoded, then the head encoder is done.
            let _ = decoder.send_eof();
            drain(&mut decoder, &mut head_encoder, &mut octx)?;
            head_encoder.send_eof().map_err(ff("encoding video"))?;
            write_head(&mut head_encoder, &mut octx)?;
            copying = true;
            let mut data = Vec::new();
            for nal in &parameter_sets {
                prefix(&mut data, nal, length_size);
            }
            data.extend_from_slice(packet.data().unwrap_or_default());
            let mut p = Packet::copy(&data);
            p.set_pts(Some(pts - start_ts));
            p.set_dts(packet.dts().map(|d| d - start_ts));
            p.set_duration(packet.duration());
            p.set_flags(packet.flags());
            p.set_stream(v_out);
            p.rescale_ts(tb, out_tb[v_out]);
            p.write_interleaved(&mut octx)
                .map_err(ff("writing video"))?;
            continue;
        }
        if copying {
            let mut p = packet.clone();
            p.set_pts(Some(pts - start_ts));
            p.set_dts(packet.dts().map(|d| d - start_ts));
            p.set_stream(v_out);
            p.rescale_ts(tb, out_tb[v_out]);
            p.set_position(-1);
            p.write_interleaved(&mut octx)
                .map_err(ff("writing video"))?;
            continue;
        }
        decoder.send_packet(&packet).map_err(ff("decoding video"))?;
        drain(&mut decoder, &mut head_encoder, &mut octx)?;
    }
    if !copying {
        let _ = decoder.send_eof();
        drain(&mut decoder, &mut head_encoder, &mut octx)?;
        let _ = head_encoder.send_eof();
        write_head(&mut head_encoder, &mut octx)?;
    }
    octx.write_trailer().map_err(ff("finishing the file"))?;
    Ok((CutMode::Smart, start_ms, spec.end_ms - start_ms))
}

/// A video decoder using every core (frame threading).
fn threaded_video_decoder(ist: &format::stream::Stream) -> Result<decoder::Video, ClipError> {
    let mut context = codec::context::Context::from_parameters(ist.parameters())
        .map_err(ff("opening the video decoder"))?;
    context.set_threading(codec::threading::Config {
        kind: codec::threading::Type::Frame,
        count: 0,
        ..codec::threading::Config::default()
    });
    context
        .decoder()
        .video()
        .map_err(ff("opening the video decoder"))
}

fn parameters_profile(ist: &format::stream::Stream) -> i32 {
    // SAFETY: reading a plain field of the stream's parameters.
    unsafe { (*ist.parameters().as_ptr()).profile }
}

struct VideoPath {
    input: usize,
    output: usize,
    decoder: decoder::Video,
    graph: filter::Graph,
    encoder: encoder::Video,
    in_tb: Rational,
    start_ts: i64,
    /// The clip's length in ms: frames after it end the decoding.
    length_ms: i64,
    /// One frame's duration in `in_tb`, for packets the encoder leaves without one.
    frame_ticks: i64,
    done: bool,
}

struct AudioPath {
    input: usize,
    output: usize,
    decoder: decoder::Audio,
    graph: filter::Graph,
    encoder: encoder::Audio,
    in_tb: Rational,
    start_ts: i64,
    length_ms: i64,
    done: bool,
}

/// Decode, trim, transform and encode again.
fn encode(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    cancelled: &dyn Fn() -> bool,
) -> Result<(CutMode, u64, u64), ClipError> {
    let preset = spec.preset;
    let mut ictx = open(input)?;
    let mut octx = format::output_as(part, container_name(preset.container))
        .map_err(ff("creating the output"))?;
    let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    // The clip starts on the first frame at or after the requested start, at time zero.
    let start_ms = match (&preset.video, ictx.streams().best(media::Type::Video)) {
        (Some(_), Some(ist)) => first_frame_ms(&ist, spec.start_ms),
        _ => spec.start_ms,
    };
    if start_ms >= spec.end_ms {
        return Err(ClipError::Empty {
            path: input.display().to_string(),
            start_ms: spec.start_ms,
            end_ms: spec.end_ms,
        });
    }
    let spec = &ClipSpec {
        start_ms,
        end_ms: spec.end_ms,
        preset: spec.preset,
        accurate: spec.accurate,
        burn: spec.burn,
        soft: spec.soft,
    };
    let duration_s = (spec.end_ms - spec.start_ms) as f64 / 1000.0;
    let missing = |what| ClipError::NoStream {
        path: input.display().to_string(),
        what,
        preset: preset.name.clone(),
    };

    let mut video = match &preset.video {
        Some(settings) => {
            let ist = ictx
                .streams()
                .best(media::Type::Video)
                .ok_or_else(|| missing("video"))?;
            Some(video_path(
                &ist, &mut octx, settings, spec, duration_s, global,
            )?)
        }
        None => None,
    };
    let mut audio = match &preset.audio {
        Some(settings) => match ictx.streams().best(media::Type::Audio) {
            Some(ist) => Some(audio_path(
                &ist, &mut octx, settings, spec, duration_s, global,
            )?),
            None if preset.video.is_some() => None,
            None => return Err(missing("audio")),
        },
        None => None,
    };
    let subtitles = match spec.soft {
        Some(_) => Some(add_mov_text(&mut octx)?),
        None => None,
    };
    octx.write_header_with(header_options(preset, false))
        .map_err(ff("writing the header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    if let (Some(index), Some(cues)) = (subtitles, spec.soft) {
        write_mov_text(&mut octx, index, out_tb[index], cues)?;
    }

    seek(&mut ictx, spec.start_ms)?;
    for (stream, packet) in ictx.packets() {
        if cancelled() {
            return Err(ClipError::Cancelled);
        }
        let index = stream.index();
        if let Some(v) = video.as_mut().filter(|v| v.input == index && !v.done) {
            v.decoder
                .send_packet(&packet)
                .map_err(ff("decoding video"))?;
            v.drain(&mut octx, &out_tb, false)?;
        } else if let Some(a) = audio.as_mut().filter(|a| a.input == index && !a.done) {
            a.decoder
                .send_packet(&packet)
                .map_err(ff("decoding audio"))?;
            a.drain(&mut octx, &out_tb, false)?;
        }
        if video.as_ref().is_none_or(|v| v.done) && audio.as_ref().is_none_or(|a| a.done) {
            break;
        }
    }
    if let Some(v) = video.as_mut() {
        // Packets still inside the decoder are flushed; frames past the end are dropped by trim.
        let _ = v.decoder.send_eof();
        v.drain(&mut octx, &out_tb, true)?;
    }
    if let Some(a) = audio.as_mut() {
        let _ = a.decoder.send_eof();
        a.drain(&mut octx, &out_tb, true)?;
    }
    octx.write_trailer().map_err(ff("finishing the file"))?;
    Ok((CutMode::Encode, spec.start_ms, spec.end_ms - spec.start_ms))
}

/// The time (ms, rounded down) of the first frame at or after `ms`, for a stream of constant frame
/// rate counted from its start time.
fn first_frame_ms(ist: &format::stream::Stream, ms: u64) -> u64 {
    let tb = ist.time_base();
    let rate = ist.avg_frame_rate();
    if rate.numerator() <= 0 || rate.denominator() <= 0 || tb.numerator() <= 0 {
        return ms;
    }
    let ticks_per_frame = i64::from(tb.denominator()) * i64::from(rate.denominator())
        / (i64::from(tb.numerator()) * i64::from(rate.numerator()));
    if ticks_per_frame <= 0 {
        return ms;
    }
    let first = ist.start_time().max(0);
    let at = from_ms(ms as i64, tb).max(first);
    let frames = (at - first + ticks_per_frame - 1) / ticks_per_frame;
    let ts = first + frames * ticks_per_frame;
    // Rounded down to the ms, then the frame's own tick is still at or after it.
    to_ms(ts, tb).max(0) as u64
}

fn pixel_format_id(format: format::Pixel) -> i32 {
    ffmpeg::ffi::AVPixelFormat::from(format) as i32
}

/// Single-quoted for a filter graph argument.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    format!(
        "'{}'",
        text.replace('\\', "\\\\").replace('\'', "'\\\\\\''")
    )
}

fn video_path(
    ist: &format::stream::Stream,
    octx: &mut format::context::Output,
    settings: &presets::Video,
    spec: &ClipSpec,
    duration_s: f64,
    global: bool,
) -> Result<VideoPath, ClipError> {
    let decoder = codec::context::Context::from_parameters(ist.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ff("opening the video decoder"))?;
    let in_tb = ist.time_base();
    let mut fps = ist.avg_frame_rate();
    if fps.numerator() <= 0 || fps.denominator() <= 0 {
        fps = Rational(25, 1);
    }
    let sar = decoder.aspect_ratio();
    let sar = if sar.numerator() <= 0 {
        Rational(1, 1)
    } else {
        sar
    };
    let mut graph = filter::Graph::new();
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        decoder.width(),
        decoder.height(),
        pixel_format_id(decoder.format()),
        in_tb.numerator(),
        in_tb.denominator(),
        sar.numerator(),
        sar.denominator()
    );
    let find = |name| filter::find(name).ok_or(ClipError::NoEncoder("filter"));
    graph
        .add(&find("buffer")?, "in", &args)
        .map_err(ff("setting up the video filters"))?;
    graph
        .add(&find("buffersink")?, "out", "")
        .map_err(ff("setting up the video filters"))?;
    let (w, h) = (settings.width, settings.height);
    let fit = match settings.fit {
        Fit::Pad => format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        ),
        Fit::Crop | Fit::Speaker => {
            format!("scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1")
        }
    };
    let burn = spec
        .burn
        .map(|ass| format!(",subtitles=filename={}", quote(ass)))
        .unwrap_or_default();
    let chain = format!("trim=start=0:end={duration_s:.3},{fit}{burn},format=yuv420p");
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&chain))
        .map_err(ff(format!("building the video filters {chain:?}")))?;
    graph.validate().map_err(ff("checking the video filters"))?;

    let codec = encoder::find_by_name("libx264")
        .or_else(|| encoder::find(codec::Id::H264))
        .ok_or(ClipError::NoEncoder("H.264"))?;
    let mut ost = octx
        .add_stream(codec)
        .map_err(ff("adding the video stream"))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(ff("creating the H.264 encoder"))?;
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(in_tb);
    enc.set_frame_rate(Some(fps));
    enc.set_aspect_ratio(Rational(1, 1));
    enc.set_bit_rate(settings.bitrate_kbps as usize * 1000);
    enc.set_max_bit_rate(settings.bitrate_kbps as usize * 1500);
    let gop = (f64::from(settings.keyframe_interval_ms) / 1000.0 * f64::from(fps)).round() as u32;
    enc.set_gop(gop.max(1));
    if global {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut options = Dictionary::new();
    options.set("preset", &settings.speed);
    options.set("bufsize", &(settings.bitrate_kbps * 2000).to_string());
    let encoder = enc
        .open_with(options)
        .map_err(ff("opening the H.264 encoder"))?;
    ost.set_parameters(&encoder);
    ost.set_time_base(in_tb);
    Ok(VideoPath {
        input: ist.index(),
        output: ost.index(),
        decoder,
        graph,
        encoder,
        in_tb,
        start_ts: from_ms(spec.start_ms as i64, in_tb),
        length_ms: (spec.end_ms - spec.start_ms) as i64,
        frame_ticks: (i64::from(in_tb.denominator()) * i64::from(fps.denominator())
            / (i64::from(in_tb.numerator()) * i64::from(fps.numerator())).max(1))
        .max(1),
        done: false,
    })
}

impl VideoPath {
    fn drain(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
        eof: bool,
    ) -> Result<(), ClipError> {
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            let Some(ts) = decoded.timestamp() else {
                continue;
            };
            let relative = ts - self.start_ts;
            if to_ms(relative, self.in_tb) > self.length_ms + 40 {
                self.done = true;
            }
            decoded.set_pts(Some(relative));
            self.graph
                .get("in")
                .expect("the graph has an input")
                .source()
                .add(&decoded)
                .map_err(ff("filtering video"))?;
            self.pull(octx, out_tb)?;
        }
        if eof || self.done {
            let _ = self.graph.get("in").expect("input").source().flush();
            self.pull(octx, out_tb)?;
            let _ = self.encoder.send_eof();
            self.write_packets(octx, out_tb)?;
            self.done = true;
        }
        Ok(())
    }

    fn pull(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
    ) -> Result<(), ClipError> {
        let mut filtered = frame::Video::empty();
        while self
            .graph
            .get("out")
            .expect("the graph has an output")
            .sink()
            .frame(&mut filtered)
            .is_ok()
        {
            filtered.set_kind(ffmpeg::picture::Type::None);
            self.encoder
                .send_frame(&filtered)
                .map_err(ff("encoding video"))?;
            self.write_packets(octx, out_tb)?;
        }
        Ok(())
    }

    fn write_packets(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
    ) -> Result<(), ClipError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            if packet.duration() <= 0 {
                packet.set_duration(self.frame_ticks);
            }
            packet.set_stream(self.output);
            packet.rescale_ts(self.in_tb, out_tb[self.output]);
            packet
                .write_interleaved(octx)
                .map_err(ff("writing video"))?;
        }
        Ok(())
    }
}

fn audio_path(
    ist: &format::stream::Stream,
    octx: &mut format::context::Output,
    settings: &presets::Audio,
    spec: &ClipSpec,
    duration_s: f64,
    global: bool,
) -> Result<AudioPath, ClipError> {
    let mut decoder = codec::context::Context::from_parameters(ist.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(ff("opening the audio decoder"))?;
    decoder
        .set_parameters(ist.parameters())
        .map_err(ff("opening the audio decoder"))?;
    let in_tb = ist.time_base();
    let (codec_id, name, sample_format) = match settings.codec {
        AudioCodec::Aac => (
            codec::Id::AAC,
            "AAC",
            format::Sample::F32(format::sample::Type::Planar),
        ),
        AudioCodec::Mp3 => (
            codec::Id::MP3,
            "MP3",
            format::Sample::F32(format::sample::Type::Planar),
        ),
    };
    let codec = encoder::find(codec_id).ok_or(ClipError::NoEncoder(name))?;
    let layout = ffmpeg::ChannelLayout::default(settings.channels as i32);
    let mut ost = octx
        .add_stream(codec)
        .map_err(ff("adding the audio stream"))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(ff("creating the audio encoder"))?;
    enc.set_rate(settings.sample_rate_hz as i32);
    enc.set_channel_layout(layout);
    enc.set_channels(settings.channels as i32);
    enc.set_format(sample_format);
    enc.set_bit_rate(settings.bitrate_kbps as usize * 1000);
    enc.set_time_base((1, settings.sample_rate_hz as i32));
    if global {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let encoder = enc
        .open_as(codec)
        .map_err(ff(format!("opening the {name} encoder")))?;
    ost.set_parameters(&encoder);
    ost.set_time_base((1, settings.sample_rate_hz as i32));

    let mut in_layout = decoder.channel_layout();
    if in_layout.bits() == 0 {
        in_layout = ffmpeg::ChannelLayout::default(i32::from(decoder.channels()));
    }
    let args = format!(
        "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
        in_tb.numerator(),
        in_tb.denominator(),
        decoder.rate(),
        decoder.format().name(),
        in_layout.bits()
    );
    let mut graph = filter::Graph::new();
    let find = |name| filter::find(name).ok_or(ClipError::NoEncoder("filter"));
    graph
        .add(&find("abuffer")?, "in", &args)
        .map_err(ff("setting up the audio filters"))?;
    graph
        .add(&find("abuffersink")?, "out", "")
        .map_err(ff("setting up the audio filters"))?;
    let layout_name = if settings.channels == 1 {
        "mono"
    } else {
        "stereo"
    };
    let chain = format!(
        "atrim=start=0:end={duration_s:.3},aresample={},aformat=sample_fmts=fltp:channel_layouts={layout_name}",
        settings.sample_rate_hz
    );
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&chain))
        .map_err(ff(format!("building the audio filters {chain:?}")))?;
    graph.validate().map_err(ff("checking the audio filters"))?;
    if let Some(mut out) = graph.get("out") {
        out.sink().set_frame_size(encoder.frame_size());
    }
    Ok(AudioPath {
        input: ist.index(),
        output: ost.index(),
        decoder,
        graph,
        encoder,
        in_tb,
        start_ts: from_ms(spec.start_ms as i64, in_tb),
        length_ms: (spec.end_ms - spec.start_ms) as i64,
        done: false,
    })
}

impl AudioPath {
    fn drain(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
        eof: bool,
    ) -> Result<(), ClipError> {
        let mut decoded = frame::Audio::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            let Some(ts) = decoded.timestamp() else {
                continue;
            };
            let relative = ts - self.start_ts;
            decoded.set_pts(Some(relative));
            self.graph
                .get("in")
                .expect("the graph has an input")
                .source()
                .add(&decoded)
                .map_err(ff("filtering audio"))?;
            self.pull(octx, out_tb)?;
            if to_ms(relative, self.in_tb) > self.length_ms + 200 {
                self.done = true;
                break;
            }
        }
        if eof || self.done {
            let _ = self.graph.get("in").expect("input").source().flush();
            self.pull(octx, out_tb)?;
            let _ = self.encoder.send_eof();
            self.write_packets(octx, out_tb)?;
            self.done = true;
        }
        Ok(())
    }

    fn pull(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
    ) -> Result<(), ClipError> {
        let mut filtered = frame::Audio::empty();
        while self
            .graph
            .get("out")
            .expect("the graph has an output")
            .sink()
            .frame(&mut filtered)
            .is_ok()
        {
            self.encoder
                .send_frame(&filtered)
                .map_err(ff("encoding audio"))?;
            self.write_packets(octx, out_tb)?;
        }
        Ok(())
    }

    fn write_packets(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
    ) -> Result<(), ClipError> {
        let enc_tb = Rational(1, self.encoder.rate() as i32);
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.output);
            packet.rescale_ts(enc_tb, out_tb[self.output]);
            packet
                .write_interleaved(octx)
                .map_err(ff("writing audio"))?;
        }
        Ok(())
    }
}

/// The 3GPP timed-text sample description FFmpeg's own mov_text encoder writes: default style,
/// bottom centred, white, one font ("Sans").
const TX3G_SAMPLE_ENTRY: [u8; 47] = [
    0x00, 0x00, 0x00, 0x00, // displayFlags
    0x01, // horizontal justification: centre
    0xFF, // vertical justification: bottom
    0x00, 0x00, 0x00, 0x00, // background colour
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // text box
    0x00, 0x00, 0x00, 0x00, // style: start, end char
    0x00, 0x01, // font id
    0x00, // face style
    0x12, // font size
    0xFF, 0xFF, 0xFF, 0xFF, // text colour
    0x00, 0x00, 0x00, 0x11, b'f', b't', b'a', b'b', // font table box, 17 bytes
    0x00, 0x01, // one font
    0x00, 0x01, // font id
    0x04, b'S', b'a', b'n', b's', // name length, name
];

fn add_mov_text(octx: &mut format::context::Output) -> Result<usize, ClipError> {
    let mut ost = octx
        .add_stream(encoder::find(codec::Id::MOV_TEXT))
        .map_err(ff("adding the subtitle stream"))?;
    let mut parameters = codec::Parameters::new();
    parameters.set_medium(media::Type::Subtitle);
    parameters.set_id(codec::Id::MOV_TEXT);
    let entry = &TX3G_SAMPLE_ENTRY[..];
    // SAFETY: the parameters were just allocated; the extradata buffer is allocated by FFmpeg's
    // allocator with the padding FFmpeg requires, and freed with the parameters.
    unsafe {
        let p = parameters.as_mut_ptr();
        let size = entry.len();
        let buffer =
            ffmpeg::ffi::av_mallocz(size + ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize)
                as *mut u8;
        if buffer.is_null() {
            return Err(ClipError::Ffmpeg {
                during: "allocating the subtitle description".into(),
                source: ffmpeg::Error::from(-12),
            });
        }
        std::ptr::copy_nonoverlapping(entry.as_ptr(), buffer, size);
        (*p).extradata = buffer;
        (*p).extradata_size = size as i32;
    }
    ost.set_parameters(parameters);
    ost.set_time_base((1, 1000));
    Ok(ost.index())
}

/// One timed-text sample per cue: the text's length (16 bits, big-endian) and the UTF-8 text; an
/// empty sample clears the screen between cues.
fn write_mov_text(
    octx: &mut format::context::Output,
    index: usize,
    tb: Rational,
    cues: &[Cue],
) -> Result<(), ClipError> {
    let mut at = 0u64;
    let mut samples: Vec<(u64, u64, String)> = Vec::new();
    for cue in cues {
        if cue.start_ms > at {
            samples.push((at, cue.start_ms, String::new()));
        }
        samples.push((
            cue.start_ms,
            cue.end_ms.max(cue.start_ms + 1),
            cue.lines.join("\n"),
        ));
        at = cue.end_ms.max(cue.start_ms + 1);
    }
    for (start, end, text) in samples {
        let bytes = text.as_bytes();
        let mut payload = Vec::with_capacity(bytes.len() + 2);
        payload.extend_from_slice(&(bytes.len().min(u16::MAX as usize) as u16).to_be_bytes());
        payload.extend_from_slice(&bytes[..bytes.len().min(u16::MAX as usize)]);
        let mut packet = Packet::copy(&payload);
        packet.set_pts(Some(start as i64));
        packet.set_dts(Some(start as i64));
        packet.set_duration((end - start) as i64);
        packet.set_stream(index);
        packet.rescale_ts(Rational(1, 1000), tb);
        packet
            .write_interleaved(octx)
            .map_err(ff("writing subtitles"))?;
    }
    Ok(())
}

/// A JPEG of the frame shown at `at_ms`, `width` pixels wide, written atomically.
pub fn poster(input: &Path, at_ms: u64, width: u32, output: &Path) -> Result<(), ClipError> {
    ffmpeg::init().map_err(ff("initialising"))?;
    let mut ictx = open(input)?;
    let ist = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| ClipError::NoStream {
            path: input.display().to_string(),
            what: "video",
            preset: "poster".into(),
        })?;
    let index = ist.index();
    let tb = ist.time_base();
    let mut decoder = codec::context::Context::from_parameters(ist.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(ff("opening the video decoder"))?;
    seek(&mut ictx, at_ms)?;
    let target = from_ms(at_ms as i64, tb);
    let mut chosen: Option<frame::Video> = None;
    'read: for (stream, packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        decoder.send_packet(&packet).map_err(ff("decoding video"))?;
        let mut decoded = frame::Video::empty();
        while decoder.receive_frame(&mut decoded).is_ok() {
            let ts = decoded.timestamp().unwrap_or(0);
            chosen = Some(decoded.clone());
            if ts >= target {
                break 'read;
            }
        }
    }
    let decoded = chosen.ok_or_else(|| ClipError::Empty {
        path: input.display().to_string(),
        start_ms: at_ms,
        end_ms: at_ms,
    })?;
    let height = ((u64::from(width) * u64::from(decoded.height())
        / u64::from(decoded.width().max(1))) as u32)
        & !1;
    let mut scaler = ffmpeg::software::scaling::Context::get(
        decoded.format(),
        decoded.width(),
        decoded.height(),
        format::Pixel::YUVJ420P,
        width,
        height,
        ffmpeg::software::scaling::Flags::BICUBIC,
    )
    .map_err(ff("scaling the poster"))?;
    let mut scaled = frame::Video::empty();
    scaler
        .run(&decoded, &mut scaled)
        .map_err(ff("scaling the poster"))?;
    let codec = encoder::find(codec::Id::MJPEG).ok_or(ClipError::NoEncoder("JPEG"))?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(ff("creating the JPEG encoder"))?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(format::Pixel::YUVJ420P);
    enc.set_time_base((1, 25));
    let mut options = Dictionary::new();
    options.set("qmin", "2");
    options.set("qmax", "4");
    let mut encoder = enc
        .open_with(options)
        .map_err(ff("opening the JPEG encoder"))?;
    scaled.set_pts(Some(0));
    encoder
        .send_frame(&scaled)
        .map_err(ff("encoding the poster"))?;
    encoder.send_eof().map_err(ff("encoding the poster"))?;
    let mut packet = Packet::empty();
    encoder
        .receive_packet(&mut packet)
        .map_err(ff("encoding the poster"))?;
    let data = packet.data().unwrap_or_default();
    let part = part_path(output);
    let io = |source| ClipError::Io {
        path: output.display().to_string(),
        source,
    };
    std::fs::write(&part, data).map_err(io)?;
    std::fs::rename(&part, output).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avcc_parameter_sets() {
        // version 1, profile 66, compat, level 30, 4-byte lengths, 1 SPS (3 bytes), 1 PPS (2 bytes).
        let avcc = [1, 66, 0xC0, 30, 0xFF, 0xE1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9];
        let (length_size, nals) = parse_avcc(&avcc).unwrap();
        assert_eq!(length_size, 4);
        assert_eq!(nals, vec![vec![0x67, 1, 2], vec![0x68, 9]]);
        assert!(parse_avcc(&[0, 0, 0]).is_none());
        assert!(parse_avcc(&[1, 66, 0, 30, 0xFF, 0xE1, 0, 9, 0x67]).is_none());
    }

    #[test]
    fn annex_b_becomes_length_prefixed() {
        let annexb = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 9, 0, 0, 0, 1, 0x65, 7, 7, 7];
        assert_eq!(
            annexb_to_length_prefixed(&annexb, 4),
            [0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 9, 0, 0, 0, 4, 0x65, 7, 7, 7]
        );
        assert_eq!(annexb_to_length_prefixed(&[0, 0, 1, 0x41, 5], 2), [0, 2, 0x41, 5]);
    }
}
