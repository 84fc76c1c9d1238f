//! Smart cut: frame-accurate without re-encoding it all.

use std::path::Path;

use ffmpeg::{codec, decoder, encoder, format, frame, media, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::encode::first_frame_ms;
use super::{
    container_name, copy_streams, ff, from_ms, header_options, open, packet_ms, seek, to_ms,
    ClipError, ClipSpec, CutMode, GoOn,
};

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
pub(super) fn smart(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    go_on: GoOn,
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
    let (mapping, in_tb) = copy_streams(&ictx, &mut octx)?;
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
        if !go_on(packet_ms(&stream, &packet)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avcc_parameter_sets() {
        // version 1, profile 66, compat, level 30, 4-byte lengths, 1 SPS (3 bytes), 1 PPS (2 bytes).
        let avcc = [
            1, 66, 0xC0, 30, 0xFF, 0xE1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9,
        ];
        let (length_size, nals) = parse_avcc(&avcc).unwrap();
        assert_eq!(length_size, 4);
        assert_eq!(nals, vec![vec![0x67, 1, 2], vec![0x68, 9]]);
        assert!(parse_avcc(&[0, 0, 0]).is_none());
        assert!(parse_avcc(&[1, 66, 0, 30, 0xFF, 0xE1, 0, 9, 0x67]).is_none());
    }

    #[test]
    fn annex_b_becomes_length_prefixed() {
        let annexb = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 9, 0, 0, 0, 1, 0x65, 7, 7, 7,
        ];
        assert_eq!(
            annexb_to_length_prefixed(&annexb, 4),
            [0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 9, 0, 0, 0, 4, 0x65, 7, 7, 7]
        );
        assert_eq!(
            annexb_to_length_prefixed(&[0, 0, 1, 0x41, 5], 2),
            [0, 2, 0x41, 5]
        );
    }
}
