//! A mov_text (3GPP timed text) subtitle track written sample by sample.

use ffmpeg::{codec, encoder, format, media, Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::{ff, ClipError};
use crate::cues::Cue;

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

pub(super) fn add_mov_text(octx: &mut format::context::Output) -> Result<usize, ClipError> {
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
pub(super) fn write_mov_text(
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
