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
    /// When its first frame was captured (`EXT-X-PROGRAM-DATE-TIME`), where known.
    pub captured_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The peak bitrate of the segments (bits per second), what BANDWIDTH declares.
pub fn peak_bps(segments: &[MediaSegment]) -> Option<u64> {
    segments
        .iter()
        .filter(|s| s.duration_ms > 0)
        .map(|s| s.bytes * 8 * 1000 / s.duration_ms)
        .max()
}

/// Where a player joins a live playlist: this far behind its end, not at the session's start.
pub const LIVE_START_OFFSET_S: f64 = -6.0;

/// The media playlist; `ended` turns the EVENT playlist into a complete VOD one. While live,
/// players are told to start near the live edge (`EXT-X-START`).
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
    if !ended {
        out.push_str(&format!(
            "#EXT-X-START:TIME-OFFSET={LIVE_START_OFFSET_S:.1}\n"
        ));
    }
    for s in segments {
        if s.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(at) = s.captured_at {
            out.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ));
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
    let (mut duration_ms, mut discontinuity, mut captured_at) = (None, false, None);
    for line in text.lines().map(str::trim) {
        if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if let Some(date) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            captured_at = chrono::DateTime::parse_from_rfc3339(date)
                .ok()
                .map(|d| d.with_timezone(&chrono::Utc));
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
                    captured_at: captured_at.take(),
                });
                discontinuity = false;
            }
        }
    }
    out
}

/// A subtitle rendition: the live captions' WebVTT playlist.
#[derive(Clone, Debug, PartialEq)]
pub struct Subtitles {
    /// BCP 47 language of the captions.
    pub language: String,
    /// What players list it as.
    pub label: String,
    /// Its playlist, from the multivariant playlist's folder.
    pub uri: String,
}

/// The subtitle group every variant names.
pub const SUBTITLES_GROUP: &str = "captions";

/// The multivariant playlist: each rendition's bandwidth, resolution and codecs (H.264 High,
/// AAC-LC), and the subtitle rendition, on by default, that every variant names.
pub fn multivariant(renditions: &[Rendition], subtitles: Option<&Subtitles>) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    let mut group = String::new();
    if let Some(s) = subtitles {
        let quoted = |v: &str| v.replace('"', "'");
        out.push_str(&format!(
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLES_GROUP}\",NAME=\"{}\",LANGUAGE=\"{}\",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI=\"{}\"\n",
            quoted(&s.label),
            quoted(&s.language),
            quoted(&s.uri)
        ));
        group = format!(",SUBTITLES=\"{SUBTITLES_GROUP}\"");
    }
    for r in renditions {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{},CODECS=\"avc1.64001f,mp4a.40.2\"{group}\n{}/index.m3u8\n",
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
                captured_at: None,
            },
            MediaSegment {
                file: "segment-00001.ts".into(),
                duration_ms: 2040,
                bytes: 102_000,
                discontinuity: false,
                session_span: None,
                captured_at: None,
            },
        ];
        let live = media_playlist(&segments, false);
        assert!(live.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
        assert!(live.contains("#EXT-X-TARGETDURATION:3"));
        assert!(live.contains("#EXTINF:2.040,\nsegment-00001.ts\n"));
        assert!(!live.contains("ENDLIST"));
        assert!(live.contains("#EXT-X-START:TIME-OFFSET=-6.0\n"));
        assert_eq!(peak_bps(&segments), Some(1_000_000));
        let done = media_playlist(&segments, true);
        assert!(done.contains("#EXT-X-PLAYLIST-TYPE:VOD") && done.ends_with("#EXT-X-ENDLIST\n"));
        assert!(
            !done.contains("EXT-X-START"),
            "a finished session plays from its start"
        );
        let renditions = [
            Rendition {
                name: "720p".into(),
                width: 1280,
                height: 720,
                bandwidth_bps: 2_900_000,
            },
            Rendition {
                name: "360p".into(),
                width: 640,
                height: 360,
                bandwidth_bps: 900_000,
            },
        ];
        let master = multivariant(&renditions, None);
        assert!(master.contains("BANDWIDTH=2900000,RESOLUTION=1280x720"));
        assert!(master.ends_with("360p/index.m3u8\n"));
        assert!(!master.contains("SUBTITLES"));
        let subtitles = Subtitles {
            language: "it".into(),
            label: "Italiano \"auto\"".into(),
            uri: "captions/index.m3u8".into(),
        };
        let master = multivariant(&renditions, Some(&subtitles));
        assert!(master.contains("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"captions\",NAME=\"Italiano 'auto'\",LANGUAGE=\"it\",DEFAULT=YES,AUTOSELECT=YES"));
        assert_eq!(master.matches(",SUBTITLES=\"captions\"\n").count(), 2);
    }

    #[test]
    fn a_restarted_stream_is_marked_and_read_back() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-02T18:00:00.250Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let segment = |file: &str, discontinuity| MediaSegment {
            file: file.into(),
            duration_ms: 2000,
            bytes: 0,
            discontinuity,
            session_span: None,
            captured_at: Some(start),
        };
        let segments = [
            segment("segment-00000.ts", false),
            segment("segment-00001.ts", false),
            segment("segment-00002.ts", true),
        ];
        let text = media_playlist(&segments, false);
        assert!(text.contains(
            "segment-00001.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-12-02T18:00:00.250Z\n#EXTINF:2.000,\nsegment-00002.ts"
        ));
        assert_eq!(parse_media_playlist(&text), segments);
        assert_eq!(
            parse_media_playlist(&media_playlist(&segments, true)),
            segments
        );
        assert!(parse_media_playlist("").is_empty());
    }
}
