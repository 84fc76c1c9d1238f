//! Poster images: the frame shown at a time, as a JPEG.

use std::path::Path;

use ffmpeg::{codec, encoder, format, frame, media, Dictionary, Packet};
use ffmpeg_next as ffmpeg;

use super::{ff, from_ms, open, seek, ClipError};

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
    session::write_atomic(output, data).map_err(|source| ClipError::Io {
        path: output.display().to_string(),
        source,
    })
}
