//! Stream copy from the keyframe at or before the start.

use std::path::Path;

use ffmpeg::{format, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::{
    container_name, copy_streams, ff, from_ms, header_options, open, packet_ms, seek, to_ms,
    ClipError, ClipSpec, CutMode, GoOn,
};

/// Stream copy of video and audio from the keyframe at or before the start.
pub(super) fn copy(
    input: &Path,
    part: &Path,
    spec: &ClipSpec,
    go_on: GoOn,
) -> Result<(CutMode, u64, u64), ClipError> {
    let mut ictx = open(input)?;
    let mut octx = format::output_as(part, container_name(spec.preset.container))
        .map_err(ff("creating the output"))?;
    let video = ictx.streams().best(media::Type::Video).map(|s| s.index());
    let (mapping, in_tb) = copy_streams(&ictx, &mut octx)?;
    octx.write_header_with(header_options(spec.preset, true))
        .map_err(ff("writing the header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    seek(&mut ictx, spec.start_ms)?;

    let mut real_start_ms: Option<i64> = None;
    let mut last_ms = 0i64;
    let mut pending_audio: Vec<Packet> = Vec::new();
    for (stream, mut packet) in ictx.packets() {
        if !go_on(packet_ms(&stream, &packet)) {
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
