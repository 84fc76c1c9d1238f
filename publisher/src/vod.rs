//! The whole session as one HLS VOD: each public piece of the recording, cut out first, is
//! segmented into MPEG-TS without re-encoding (FFmpeg's `hls` muxer); the card that replaces a
//! closed part is segmented the same way. [`VodMap`] maps session time to the VOD's time and
//! back, and writes the chapters; it is pure logic.

use std::path::Path;

use ffmpeg::{format, Dictionary, Rational};
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};

use crate::clip::{copy_streams, ff, open, ClipError};
use crate::cues::{Cue, CueWord};

/// One segment file written by [`segment`].
#[derive(Clone, Debug, PartialEq)]
pub struct VodSegment {
    pub file: String,
    pub duration_ms: u64,
    pub bytes: u64,
}

/// Segments `input` (H.264 and AAC, an MP4 cut from the recording) into `dir/<prefix>-NNNNN.ts`
/// of about `segment_ms` each (cut at keyframes), copying its packets; returns the segments.
pub fn segment(
    input: &Path,
    dir: &Path,
    prefix: &str,
    segment_ms: u64,
) -> Result<Vec<VodSegment>, ClipError> {
    ffmpeg::init().map_err(ff("initialising"))?;
    let mut ictx = open(input)?;
    let playlist = dir.join(format!(".{prefix}.m3u8"));
    let mut octx = format::output_as(&playlist, "hls").map_err(ff("creating the segmenter"))?;
    let (mapping, in_tb) = copy_streams(&ictx, &mut octx)?;
    let mut options = Dictionary::new();
    options.set("hls_time", &format!("{:.3}", segment_ms as f64 / 1000.0));
    options.set("hls_list_size", "0");
    options.set("hls_playlist_type", "vod");
    options.set(
        "hls_segment_filename",
        &dir.join(format!("{prefix}-%05d.ts")).to_string_lossy(),
    );
    octx.write_header_with(options)
        .map_err(ff("writing the segmenter's header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    for (stream, mut packet) in ictx.packets() {
        let Some(out) = mapping[stream.index()] else {
            continue;
        };
        packet.rescale_ts(in_tb[stream.index()], out_tb[out]);
        packet.set_position(-1);
        packet.set_stream(out);
        packet
            .write_interleaved(&mut octx)
            .map_err(ff("writing a segment"))?;
    }
    octx.write_trailer().map_err(ff("finishing the segments"))?;
    let io = |source| ClipError::Io {
        path: playlist.display().to_string(),
        source,
    };
    let text = std::fs::read_to_string(&playlist).map_err(io)?;
    std::fs::remove_file(&playlist).map_err(io)?;
    let mut segments = Vec::new();
    for (duration_ms, file) in listed(&text) {
        let bytes = std::fs::metadata(dir.join(&file))
            .map_err(|source| ClipError::Io {
                path: dir.join(&file).display().to_string(),
                source,
            })?
            .len();
        segments.push(VodSegment {
            file,
            duration_ms,
            bytes,
        });
    }
    if segments.is_empty() {
        return Err(ClipError::Empty {
            path: input.display().to_string(),
            start_ms: 0,
            end_ms: u64::MAX,
        });
    }
    Ok(segments)
}

/// The `(duration in ms, file)` of each segment a media playlist lists.
fn listed(playlist: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut duration_ms = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            let seconds = rest.split(',').next().unwrap_or("").trim();
            duration_ms = seconds
                .parse::<f64>()
                .ok()
                .map(|s| (s * 1000.0).round() as u64);
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(ms) = duration_ms.take() {
                out.push((ms, line.to_owned()));
            }
        }
    }
    out
}

/// What plays at one stretch of the VOD: a piece of the recording, or the card of a closed part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stretch {
    /// Where it starts in the VOD.
    pub vod_start_ms: u64,
    pub duration_ms: u64,
    /// The session time it shows (a piece), or the closed part it stands for (a card).
    pub session_start_ms: u64,
    pub session_end_ms: u64,
    /// The card of a closed part, not the recording.
    pub card: bool,
}

/// The VOD's stretches in order, and the maps between session time and VOD time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VodMap {
    pub stretches: Vec<Stretch>,
}

impl VodMap {
    /// Adds a piece of the recording (`session_start_ms..session_end_ms`) that plays for
    /// `duration_ms` in the VOD.
    pub fn push_piece(&mut self, session_start_ms: u64, session_end_ms: u64, duration_ms: u64) {
        self.push(session_start_ms, session_end_ms, duration_ms, false);
    }

    /// Adds the card standing for the closed `session_start_ms..session_end_ms`.
    pub fn push_card(&mut self, session_start_ms: u64, session_end_ms: u64, duration_ms: u64) {
        self.push(session_start_ms, session_end_ms, duration_ms, true);
    }

    fn push(&mut self, session_start_ms: u64, session_end_ms: u64, duration_ms: u64, card: bool) {
        self.stretches.push(Stretch {
            vod_start_ms: self.duration_ms(),
            duration_ms,
            session_start_ms,
            session_end_ms,
            card,
        });
    }

    pub fn duration_ms(&self) -> u64 {
        self.stretches
            .last()
            .map_or(0, |s| s.vod_start_ms + s.duration_ms)
    }

    /// Where session time `session_ms` plays in the VOD: inside a closed part, where its card
    /// starts; past the end, the end.
    pub fn vod_ms(&self, session_ms: u64) -> u64 {
        for s in &self.stretches {
            if session_ms < s.session_end_ms {
                if s.card || session_ms < s.session_start_ms {
                    return s.vod_start_ms;
                }
                return (s.vod_start_ms + (session_ms - s.session_start_ms))
                    .min(s.vod_start_ms + s.duration_ms);
            }
        }
        self.duration_ms()
    }

    /// The session time shown at `vod_ms` of the VOD: during a card, the end of its closed part.
    pub fn session_ms(&self, vod_ms: u64) -> u64 {
        let Some(s) = self
            .stretches
            .iter()
            .find(|s| vod_ms < s.vod_start_ms + s.duration_ms)
            .or(self.stretches.last())
        else {
            return 0;
        };
        if s.card {
            return s.session_end_ms;
        }
        (s.session_start_ms + vod_ms.saturating_sub(s.vod_start_ms)).min(s.session_end_ms)
    }

    /// Words in session time, as they play in the VOD: those of the pieces only, moved to VOD time.
    pub fn words(&self, words: &[CueWord]) -> Vec<CueWord> {
        let mut out = Vec::new();
        for s in self.stretches.iter().filter(|s| !s.card) {
            for w in words
                .iter()
                .filter(|w| w.start_ms >= s.session_start_ms && w.start_ms < s.session_end_ms)
            {
                let end_ms = w.end_ms.clamp(w.start_ms, s.session_end_ms);
                out.push(CueWord {
                    start_ms: self.vod_ms(w.start_ms),
                    end_ms: self.vod_ms(w.start_ms) + (end_ms - w.start_ms),
                    ..w.clone()
                });
            }
        }
        out
    }

    /// A WebVTT chapters track: one cue per chapter `(session start, session end, title)`, in
    /// VOD time; a chapter wholly inside a closed part starts and ends at its card.
    pub fn chapters_vtt(&self, chapters: &[(u64, u64, String)]) -> String {
        let cues: Vec<Cue> = chapters
            .iter()
            .map(|(start_ms, end_ms, title)| {
                let start = self.vod_ms(*start_ms);
                Cue {
                    start_ms: start,
                    end_ms: self.vod_ms(*end_ms).max(start + 1),
                    lines: vec![title.clone()],
                    speaker: None,
                    too_fast: false,
                    words: 0..0,
                }
            })
            .collect();
        crate::cues::to_vtt(&cues, &|_| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0-20 s public, 20-30 s closed (a 3 s card), 30-50 s public.
    fn map() -> VodMap {
        let mut map = VodMap::default();
        map.push_piece(0, 20_000, 20_000);
        map.push_card(20_000, 30_000, 3_000);
        map.push_piece(30_000, 50_000, 20_000);
        map
    }

    #[test]
    fn session_time_maps_onto_the_vod_around_the_card() {
        let map = map();
        assert_eq!(map.duration_ms(), 43_000);
        assert_eq!(map.vod_ms(5_000), 5_000);
        assert_eq!(
            map.vod_ms(25_000),
            20_000,
            "inside the closed part: the card"
        );
        assert_eq!(map.vod_ms(30_000), 23_000);
        assert_eq!(map.vod_ms(45_000), 38_000);
        assert_eq!(map.vod_ms(90_000), 43_000);
        assert_eq!(map.session_ms(5_000), 5_000);
        assert_eq!(map.session_ms(21_000), 30_000, "during the card: after it");
        assert_eq!(map.session_ms(38_000), 45_000);
        assert_eq!(map.session_ms(99_000), 50_000);
    }

    #[test]
    fn words_move_to_vod_time_and_closed_words_stay_out() {
        let word = |text: &str, start_ms, end_ms| CueWord {
            text: text.into(),
            start_ms,
            end_ms,
            speaker: None,
        };
        let words = [
            word("aperta", 1_000, 1_500),
            word("segreta", 25_000, 25_500),
            word("ancora", 31_000, 31_400),
        ];
        let moved = map().words(&words);
        assert_eq!(
            moved
                .iter()
                .map(|w| (w.text.as_str(), w.start_ms, w.end_ms))
                .collect::<Vec<_>>(),
            vec![("aperta", 1_000, 1_500), ("ancora", 24_000, 24_400)]
        );
    }

    #[test]
    fn chapters_are_cues_in_vod_time() {
        let vtt = map().chapters_vtt(&[
            (0, 20_000, "Appello".into()),
            (22_000, 28_000, "Nomine".into()),
            (30_000, 50_000, "Bilancio".into()),
        ]);
        assert!(vtt.starts_with("WEBVTT"), "{vtt}");
        assert!(
            vtt.contains("00:00:00.000 --> 00:00:20.000\nAppello"),
            "{vtt}"
        );
        assert!(
            vtt.contains("00:00:20.000 --> 00:00:20.001\nNomine"),
            "{vtt}"
        );
        assert!(
            vtt.contains("00:00:23.000 --> 00:00:43.000\nBilancio"),
            "{vtt}"
        );
    }

    #[test]
    fn a_playlist_lists_its_segments_with_their_durations() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\np-00000.ts\n#EXTINF:1.480,\np-00001.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(
            listed(text),
            vec![(2_000, "p-00000.ts".into()), (1_480, "p-00001.ts".into())]
        );
    }
}
