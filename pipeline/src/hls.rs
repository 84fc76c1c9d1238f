//! HLS playlists (RFC 8216): a media playlist per rendition, EVENT while the session runs (every
//! segment kept: the DVR window is the whole session) and VOD once it ends, and the multivariant
//! playlist that lists the renditions. Pure text.

use crate::closed::SegmentSpan;

/// One rendition of the ladder.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendition {
    /// Folder name and playlist path: `720p/index.m3u8`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Declared peak bandwidth, bits per second.
    pub bandwidth_bps: u64,
}

/// A written segment of a rendition.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    pub file: String,
    pub duration_ms: u64,
    pub bytes: u64,
    /// The first segment after the stream was interrupted and started again (a new encoder,
    /// new timestamps): players must reset their decoders here.
    pub discontinuity: bool,
    /// Its span in session time, when this ladder wrote it (not read back from a playlist).
    pub session_span: Option<SegmentSpan>,
}

/// The peak bitrate of the segments (bits per second), what BANDWIDTH declares.
pub fn peak_bps(segments: &[MediaSegment]) -> Option<u64> {
    segments
        .iter()
        .filter(|s| s.duration_ms > 0)
        .map(|s| s.bytes * 8 * 1000 / s.duration_ms)
        .max()
}

/// The media playlist; `ended` turns the EVENT playlist into a complete VOD one.
pub fn media_playlist(segments: &[MediaSegment], ended: bool) -> String {
    let target_s = segments
        .iter()
        .map(|s| s.duration_ms.div_ceil(1000))
        .max()
        .unwrap_or(2)
        .max(1);
    let mut out = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target_s}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:{}\n",
        if ended { "VOD" } else { "EVENT" }
    );
    for s in segments {
        if s.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        out.push_str(&format!(
            "#EXTINF:{:.3},\n{}\n",
            s.duration_ms as f64 / 1000.0,
            s.file
        ));
    }
    if ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// The segments a media playlist written by [`media_playlist`] lists (sizes left at 0), to go on
/// from where a stopped ladder left it.
pub fn parse_media_playlist(text: &str) -> Vec<MediaSegment> {
    let mut out = Vec::new();
    let (mut duration_ms, mut discontinuity) = (None, false);
    for line in text.lines().map(str::trim) {
        if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let seconds = rest.split(',').next().and_then(|d| d.parse::<f64>().ok());
            duration_ms = seconds.map(|s| (s * 1000.0).round() as u64);
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(duration_ms) = duration_ms.take() {
                out.push(MediaSegment {
                    file: line.to_owned(),
                    duration_ms,
                    bytes: 0,
                    discontinuity,
                    session_span: None,
                });
                discontinuity = false;
            }
        }
    }
    out
}

/// The multivariant playlist: each rendition's bandwidth, resolution and codecs (H.264 High, AAC-LC).
pub fn multivariant(renditions: &[Rendition]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for r in renditions {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"avc1.64001f,mp4a.40.2\"\n{}/index.m3u8\n",
            r.bandwidth_bps, r.width, r.height, r.name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_then_vod() {
        let segments = [
            MediaSegment {
                file: "segment-00000.ts".into(),
                duration_ms: 2000,
                bytes: 250_000,
                discontinuity: false,
                session_span: None,
            },
            MediaSegment {
                file: "segment-00001.ts".into(),
                duration_ms: 2040,
                bytes: 102_000,
                discontinuity: false,
                session_span: None,
            },
        ];
        let live = media_playlist(&segments, false);
        assert!(live.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
        assert!(live.contains("#EXT-X-TARGETDURATION:3"));
        assert!(live.contains("#EXTINF:2.040,\nsegment-00001.ts\n"));
        assert!(!live.contains("ENDLIST"));
        assert_eq!(peak_bps(&segments), Some(1_000_000));
        let done = media_playlist(&segments, true);
        assert!(done.contains("#EXT-X-PLAYLIST-TYPE:VOD") && done.ends_with("#EXT-X-ENDLIST\n"));
        let master = multivariant(&[Rendition {
            name: "720p".into(),
            width: 1280,
            height: 720,
            bandwidth_bps: 2_900_000,
        }]);
        assert!(master.contains("BANDWIDTH=2900000,RESOLUTION=1280x720"));
        assert!(master.ends_with("720p/index.m3u8\n"));
    }

    #[test]
    fn a_restarted_stream_is_marked_and_read_back() {
        let segment = |file: &str, discontinuity| MediaSegment {
            file: file.into(),
            duration_ms: 2000,
            bytes: 0,
            discontinuity,
            session_span: None,
        };
        let segments = [
            segment("segment-00000.ts", false),
            segment("segment-00001.ts", false),
            segment("segment-00002.ts", true),
        ];
        let text = media_playlist(&segments, false);
        assert!(text
            .contains("segment-00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nsegment-00002.ts"));
        assert_eq!(parse_media_playlist(&text), segments);
        assert_eq!(
            parse_media_playlist(&media_playlist(&segments, true)),
            segments
        );
        assert!(parse_media_playlist("").is_empty());
    }
}
