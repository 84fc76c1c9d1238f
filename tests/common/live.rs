//! Reading a live stream's output: a media playlist's segments, and whether a segment shows the
//! closed-session slate.

use std::path::{Path, PathBuf};

/// The media playlist's segments, in order.
pub fn listed(playlist: &Path) -> Vec<PathBuf> {
    let text = std::fs::read(playlist).unwrap();
    let m3u8_rs::Playlist::MediaPlaylist(media) = m3u8_rs::parse_playlist_res(&text).unwrap()
    else {
        panic!("{} is not a media playlist", playlist.display());
    };
    assert!(media.end_list, "{} did not end", playlist.display());
    let dir = playlist.parent().unwrap();
    media.segments.iter().map(|s| dir.join(&s.uri)).collect()
}

/// A playing pipeline that decodes `file`'s pictures through `convert` (after videoconvert) into
/// the returned sink.
fn pictures(file: &Path, convert: &str) -> (gstreamer::Pipeline, gstreamer_app::AppSink) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    gst::init().unwrap();
    let p = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! {convert} ! appsink name=v sync=false",
        file.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = p
        .by_name("v")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    (p, sink)
}

/// Whether a segment's first picture is the closed-session slate: dark red (mean luma about 55,
/// red difference well above grey's 128) with only the caption's letters brighter.
pub fn is_slate(file: &Path) -> bool {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    let (p, sink) = pictures(
        file,
        "videoscale ! video/x-raw,format=I420,width=64,height=36",
    );
    let sample = sink
        .try_pull_preroll(gst::ClockTime::from_seconds(30))
        .unwrap_or_else(|| panic!("{} has no picture", file.display()));
    let map = sample.buffer().unwrap().map_readable().unwrap();
    let (luma, chroma) = (64 * 36, 32 * 18);
    let mean = |bytes: &[u8]| bytes.iter().map(|b| f64::from(*b)).sum::<f64>() / bytes.len() as f64;
    let (y, cr) = (
        mean(&map[..luma]),
        mean(&map[luma + chroma..luma + 2 * chroma]),
    );
    drop(map);
    p.set_state(gst::State::Null).unwrap();
    (30.0..90.0).contains(&y) && cr > 140.0
}

/// The picture (I420, its size as recorded) a segment shows `offset_ms` after its first frame.
pub fn frame_at(file: &Path, offset_ms: u64) -> (u32, u32, Vec<u8>) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    let (p, sink) = pictures(file, "video/x-raw,format=I420");
    let mut first = None;
    let mut chosen = None;
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        let pts = sample.buffer().unwrap().pts().unwrap().mseconds();
        let first = *first.get_or_insert(pts);
        chosen = Some(sample);
        if pts - first >= offset_ms {
            break;
        }
    }
    p.set_state(gst::State::Null).unwrap();
    let sample = chosen.unwrap_or_else(|| panic!("{} has no picture", file.display()));
    let s = sample.caps().unwrap().structure(0).unwrap().to_owned();
    let (w, h) = (
        s.get::<i32>("width").unwrap(),
        s.get::<i32>("height").unwrap(),
    );
    let map = sample.buffer().unwrap().map_readable().unwrap();
    (w as u32, h as u32, map.to_vec())
}

/// The live segment of `playlist` (its folder's files) showing running time `at_ms`, and how far
/// into it.
pub fn segment_at(playlist: &Path, at_ms: u64) -> (PathBuf, u64) {
    let text = std::fs::read_to_string(playlist).unwrap();
    let dir = playlist.parent().unwrap();
    let mut start_ms = 0;
    for s in pipeline::hls::parse_media_playlist(&text) {
        if at_ms < start_ms + s.duration_ms {
            return (dir.join(&s.file), at_ms - start_ms);
        }
        start_ms += s.duration_ms;
    }
    panic!(
        "{} ends at {start_ms} ms, before {at_ms} ms",
        playlist.display()
    );
}
