//! Full re-encode: trim to the exact frame, fit to the preset, burn subtitles and captions.

use std::path::Path;

use ffmpeg::{codec, decoder, encoder, filter, format, frame, media, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;
use presets::{AudioCodec, Fit};

use super::movtext::{add_mov_text, write_mov_text};
use super::{
    container_name, ff, from_ms, header_options, open, packet_ms, seek, to_ms, ClipError, ClipSpec,
    CutMode, GoOn,
};

/// One stream's way through the re-encode: decoder, filter graph (trim and transform), encoder.
struct Transcode {
    input: usize,
    output: usize,
    decoder: decoder::Opened,
    graph: filter::Graph,
    encoder: encoder::Encoder,
    /// The decoder's time base, and the encoder's.
    in_tb: Rational,
    enc_tb: Rational,
    start_ts: i64,
    /// The clip's length in ms: frames `slack_ms` after it end the decoding.
    length_ms: i64,
    slack_ms: i64,
    /// One frame's duration in `enc_tb`, for video packets the encoder leaves without one.
    frame_ticks: Option<i64>,
    what: &'static str,
    done: bool,
}

/// Decode, trim, transform and encode again.
pub(super) fn encode(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    go_on: GoOn,
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
        as_recorded: false,
    };
    let duration_s = (spec.end_ms - spec.start_ms) as f64 / 1000.0;
    let missing = |what| ClipError::NoStream {
        path: input.display().to_string(),
        what,
        preset: preset.name.clone(),
    };

    let mut paths = Vec::new();
    if let Some(settings) = &preset.video {
        let ist = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| missing("video"))?;
        paths.push(video_path(
            &ist, &mut octx, settings, spec, duration_s, global,
        )?);
    }
    if let Some(settings) = &preset.audio {
        match ictx.streams().best(media::Type::Audio) {
            Some(ist) => paths.push(audio_path(
                &ist, &mut octx, settings, spec, duration_s, global,
            )?),
            None if preset.video.is_some() => {}
            None => return Err(missing("audio")),
        }
    }
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
        if !go_on(packet_ms(&stream, &packet)) {
            return Err(ClipError::Cancelled);
        }
        let index = stream.index();
        if let Some(t) = paths.iter_mut().find(|t| t.input == index && !t.done) {
            t.decoder
                .send_packet(&packet)
                .map_err(ff(format!("decoding {}", t.what)))?;
            t.drain(&mut octx, &out_tb, false)?;
        }
        if paths.iter().all(|t| t.done) {
            break;
        }
    }
    for t in &mut paths {
        // Packets still inside the decoder are flushed; frames past the end are dropped by trim.
        let _ = t.decoder.send_eof();
        t.drain(&mut octx, &out_tb, true)?;
    }
    octx.write_trailer().map_err(ff("finishing the file"))?;
    Ok((CutMode::Encode, spec.start_ms, spec.end_ms - spec.start_ms))
}

/// The time (ms, rounded down) of the first frame at or after `ms`, for a stream of constant frame
/// rate counted from its start time.
pub(super) fn first_frame_ms(ist: &format::stream::Stream, ms: u64) -> u64 {
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
) -> Result<Transcode, ClipError> {
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
    // No B-frames: every browser's decoder seeks in these files without trouble (Chromium's
    // FFmpeg decoder failed on B-pyramids after a seek), at a small cost in size.
    enc.set_max_b_frames(0);
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
    Ok(Transcode {
        input: ist.index(),
        output: ost.index(),
        decoder: decoder.0,
        graph,
        encoder: encoder.0 .0,
        in_tb,
        enc_tb: in_tb,
        start_ts: from_ms(spec.start_ms as i64, in_tb),
        length_ms: (spec.end_ms - spec.start_ms) as i64,
        slack_ms: 40,
        frame_ticks: Some(
            (i64::from(in_tb.denominator()) * i64::from(fps.denominator())
                / (i64::from(in_tb.numerator()) * i64::from(fps.numerator())).max(1))
            .max(1),
        ),
        what: "video",
        done: false,
    })
}

fn audio_path(
    ist: &format::stream::Stream,
    octx: &mut format::context::Output,
    settings: &presets::Audio,
    spec: &ClipSpec,
    duration_s: f64,
    global: bool,
) -> Result<Transcode, ClipError> {
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
    let enc_tb = Rational(1, encoder.rate() as i32);
    Ok(Transcode {
        input: ist.index(),
        output: ost.index(),
        decoder: decoder.0,
        graph,
        encoder: encoder.0 .0,
        in_tb,
        enc_tb,
        start_ts: from_ms(spec.start_ms as i64, in_tb),
        length_ms: (spec.end_ms - spec.start_ms) as i64,
        slack_ms: 200,
        frame_ticks: None,
        what: "audio",
        done: false,
    })
}

impl Transcode {
    /// Sends the decoder's frames (in clip time) through the graph and the encoder; at the end of
    /// the input or of the clip, flushes both.
    fn drain(
        &mut self,
        octx: &mut format::context::Output,
        out_tb: &[Rational],
        eof: bool,
    ) -> Result<(), ClipError> {
        let (mut video, mut audio) = (frame::Video::empty(), frame::Audio::empty());
        let decoded: &mut frame::Frame = if self.frame_ticks.is_some() {
            &mut video
        } else {
            &mut audio
        };
        while self.decoder.receive_frame(decoded).is_ok() {
            let Some(ts) = decoded.timestamp() else {
                continue;
            };
            let relative = ts - self.start_ts;
            decoded.set_pts(Some(relative));
            self.graph
                .get("in")
                .expect("the graph has an input")
                .source()
                .add(decoded)
                .map_err(ff(format!("filtering {}", self.what)))?;
            self.pull(octx, out_tb)?;
            if to_ms(relative, self.in_tb) > self.length_ms + self.slack_ms {
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
        let (mut video, mut audio) = (frame::Video::empty(), frame::Audio::empty());
        let filtered: &mut frame::Frame = if self.frame_ticks.is_some() {
            &mut video
        } else {
            &mut audio
        };
        while self
            .graph
            .get("out")
            .expect("the graph has an output")
            .sink()
            .frame(filtered)
            .is_ok()
        {
            if self.frame_ticks.is_some() {
                // The encoder chooses the picture types; the source's do not force keyframes.
                // SAFETY: a plain field of a frame we own.
                unsafe {
                    (*filtered.as_mut_ptr()).pict_type =
                        ffmpeg::ffi::AVPictureType::AV_PICTURE_TYPE_NONE;
                }
            }
            self.encoder
                .send_frame(filtered)
                .map_err(ff(format!("encoding {}", self.what)))?;
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
            if let Some(ticks) = self.frame_ticks.filter(|_| packet.duration() <= 0) {
                packet.set_duration(ticks);
            }
            packet.set_stream(self.output);
            packet.rescale_ts(self.enc_tb, out_tb[self.output]);
            packet
                .write_interleaved(octx)
                .map_err(ff(format!("writing {}", self.what)))?;
        }
        Ok(())
    }
}
