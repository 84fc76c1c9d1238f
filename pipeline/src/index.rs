//! The recording index of one source: its segments and their spans in session time, written after
//! every closed segment (atomically), so that it survives the recorder.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingIndex {
    pub source: String,
    pub segments: Vec<Segment>,
    /// The joined file, once `finalize` made it (relative to the source's folder's parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalized: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// File name inside the source's folder.
    pub file: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl RecordingIndex {
    pub const FILE: &'static str = "index.json";

    /// The index a recording of `source` into `dir` starts from. With `resume` (a recorder started
    /// again during a live session, after a crash or a power cut) the segments already recorded
    /// are kept and the new ones follow them; otherwise a new recording replaces what was there.
    /// Temporary files left in `dir` by a recorder that died are removed either way.
    pub fn begin(dir: &Path, source: &str, resume: bool) -> std::io::Result<RecordingIndex> {
        session::remove_stale_parts(dir);
        if resume {
            match RecordingIndex::load(dir) {
                Ok(mut index) => {
                    // New segments make the joined file out of date.
                    index.finalized = None;
                    return Ok(index);
                }
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                Err(_) => {}
            }
        } else if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name == Self::FILE || (name.starts_with("segment-") && name.ends_with(".mp4")) {
                    std::fs::remove_file(entry.path())?;
                }
            }
        }
        Ok(RecordingIndex {
            source: source.to_owned(),
            segments: Vec::new(),
            finalized: None,
        })
    }

    pub fn load(dir: &Path) -> std::io::Result<RecordingIndex> {
        let text = std::fs::read_to_string(dir.join(Self::FILE))?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Writes `index.json` whole ([`session::write_atomic`]).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain data serializes");
        session::write_atomic(&dir.join(Self::FILE), text.as_bytes())
    }

    /// Adds a segment the writer closed and saves the index; a segment with no duration or no
    /// track (its writer closed before any frame reached it) is removed instead and `false`
    /// returned: a reader never sees a segment that does not play.
    pub fn add(&mut self, dir: &Path, segment: Segment) -> std::io::Result<bool> {
        let path = dir.join(&segment.file);
        if segment.end_ms <= segment.start_ms || !holds_tracks(&path)? {
            tracing::warn!(
                "{}: closed with no media ({}..{} ms); removed",
                path.display(),
                segment.start_ms,
                segment.end_ms
            );
            std::fs::remove_file(&path)?;
            return Ok(false);
        }
        self.segments.push(segment);
        self.save(dir)?;
        Ok(true)
    }

    /// The number the next segment file gets: one past the highest indexed, so that a writer
    /// opened again never overwrites a segment of the index.
    pub fn next_file_number(&self) -> u32 {
        self.segments
            .iter()
            .filter_map(|s| {
                s.file
                    .strip_prefix("segment-")?
                    .strip_suffix(".mp4")?
                    .parse::<u32>()
                    .ok()
            })
            .map(|n| n + 1)
            .max()
            .unwrap_or(0)
    }

    pub fn duration_ms(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.end_ms.saturating_sub(s.start_ms))
            .sum()
    }

    /// Each segment with where it starts in the joined file (the segments end to end).
    pub fn in_file(&self) -> impl Iterator<Item = (&Segment, u64)> {
        self.segments.iter().scan(0, |file_ms, s| {
            let at = *file_ms;
            *file_ms += s.end_ms.saturating_sub(s.start_ms);
            Some((s, at))
        })
    }

    /// Where session time `at_ms` is in the joined file; `None` before the first segment, after
    /// the last, or in a gap between two.
    pub fn file_ms(&self, at_ms: u64) -> Option<u64> {
        self.in_file()
            .find(|(s, _)| (s.start_ms..=s.end_ms).contains(&at_ms))
            .map(|(s, file_ms)| file_ms + (at_ms - s.start_ms))
    }

    /// The session time of the joined file's `file_ms` (past the end: the end).
    pub fn session_ms(&self, file_ms: u64) -> u64 {
        let mut last = 0;
        for (s, start) in self.in_file() {
            let end = start + s.end_ms.saturating_sub(s.start_ms);
            if file_ms < end {
                return s.start_ms + (file_ms.saturating_sub(start));
            }
            last = s.end_ms;
        }
        last
    }

    /// The session-time spans between segments that nothing was recorded in (a lost source).
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        self.segments
            .windows(2)
            .filter(|w| w[1].start_ms > w[0].end_ms)
            .map(|w| (w[0].end_ms, w[1].start_ms))
            .collect()
    }
}

/// Whether the MP4 file at `path` holds media: an `mdat` box with data, and a `moov` box with a
/// `trak`. The boxes are walked by their headers; nothing else is read.
fn holds_tracks(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let Some(top) = boxes(&mut file, 0, len)? else {
        return Ok(false);
    };
    let media = top
        .iter()
        .any(|b| &b.kind == b"mdat" && b.size > b.header_len);
    let Some(moov) = top.iter().find(|b| &b.kind == b"moov") else {
        return Ok(false);
    };
    let inside = boxes(&mut file, moov.at + moov.header_len, moov.at + moov.size)?;
    let tracks = inside.is_some_and(|children| children.iter().any(|b| &b.kind == b"trak"));
    Ok(media && tracks)
}

/// One MP4 box: where it starts, its whole size, its header's length and its type.
struct Mp4Box {
    at: u64,
    size: u64,
    header_len: u64,
    kind: [u8; 4],
}

/// The boxes from `start` to `end` of `file`; none when a box runs past `end` (a cut file).
fn boxes(file: &mut std::fs::File, start: u64, end: u64) -> std::io::Result<Option<Vec<Mp4Box>>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut found = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8])?;
        let mut size = u64::from(u32::from_be_bytes(header[..4].try_into().expect("4 bytes")));
        let kind: [u8; 4] = header[4..8].try_into().expect("4 bytes");
        let mut header_len = 8;
        if size == 1 && at + 16 <= end {
            file.read_exact(&mut header[8..16])?;
            size = u64::from_be_bytes(header[8..16].try_into().expect("8 bytes"));
            header_len = 16;
        } else if size == 0 {
            size = end - at;
        }
        if size < header_len || at + size > end {
            return Ok(None);
        }
        found.push(Mp4Box {
            at,
            size,
            header_len,
            kind,
        });
        at += size;
    }
    Ok(Some(found))
}

/// Follows a `splitmuxsink`'s messages and turns each closed fragment into a segment with its
/// span in session time (the writer's running time plus `offset_ms`).
#[derive(Debug, Default)]
pub struct SegmentTracker {
    opened: Option<(String, u64)>,
}

/// What a writer's message meant.
#[derive(Debug, PartialEq)]
pub enum Fragment {
    Opened { first: bool },
    Closed(Segment),
}

impl SegmentTracker {
    pub fn on_message(
        &mut self,
        s: &gstreamer::StructureRef,
        offset_ms: u64,
        first: bool,
    ) -> Option<Fragment> {
        let location = s.get::<String>("location").unwrap_or_default();
        let at_ms = s.get::<u64>("running-time").unwrap_or(0) / 1_000_000 + offset_ms;
        let file = Path::new(&location)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match s.name().as_str() {
            "splitmuxsink-fragment-opened" => {
                self.opened = Some((file, at_ms));
                Some(Fragment::Opened { first })
            }
            "splitmuxsink-fragment-closed" => {
                let start_ms = self.opened.take().map_or(at_ms, |o| o.1);
                Some(Fragment::Closed(Segment {
                    file,
                    start_ms,
                    end_ms: at_ms,
                }))
            }
            _ => None,
        }
    }

    /// The file of a fragment opened and not closed (its writer stopped mid-way).
    pub fn open_file(&self) -> Option<&str> {
        self.opened.as_ref().map(|o| o.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_duration() {
        let dir = std::env::temp_dir().join(format!("aula-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let index = RecordingIndex {
            source: "cam1".into(),
            segments: vec![
                Segment {
                    file: "segment-00000.mp4".into(),
                    start_ms: 0,
                    end_ms: 10_000,
                },
                Segment {
                    file: "segment-00001.mp4".into(),
                    start_ms: 10_000,
                    end_ms: 14_500,
                },
            ],
            finalized: None,
        };
        index.save(&dir).unwrap();
        assert_eq!(RecordingIndex::load(&dir).unwrap(), index);
        assert_eq!(index.duration_ms(), 14_500);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_resumed_recording_keeps_its_segments_and_a_new_one_replaces_them() {
        let dir = std::env::temp_dir().join(format!("aula-begin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut index = RecordingIndex::begin(&dir, "cam1", true).unwrap();
        assert!(index.segments.is_empty(), "nothing recorded yet");
        index.segments.push(segment(0, 10_000));
        index.finalized = Some("cam1.mp4".into());
        index.save(&dir).unwrap();
        std::fs::write(dir.join("segment-0.mp4"), b"recorded").unwrap();

        let resumed = RecordingIndex::begin(&dir, "cam1", true).unwrap();
        assert_eq!(resumed.segments, index.segments);
        assert_eq!(resumed.finalized, None, "the joined file is out of date");
        assert!(dir.join("segment-0.mp4").is_file());

        let replaced = RecordingIndex::begin(&dir, "cam1", false).unwrap();
        assert!(replaced.segments.is_empty());
        assert!(!dir.join("segment-0.mp4").exists() && !dir.join("index.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An MP4 box: its size, its type and what it holds.
    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn a_segment_closed_before_any_frame_is_removed_and_its_number_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = RecordingIndex::begin(dir.path(), "bridge", false).unwrap();
        let ftyp = mp4_box(b"ftyp", b"isom\0\0\0\0");
        let trak = mp4_box(b"trak", &mp4_box(b"tkhd", &[0; 84]));
        let playable = [
            ftyp.clone(),
            mp4_box(b"mdat", &[1; 64]),
            mp4_box(
                b"moov",
                &[mp4_box(b"mvhd", &[0; 100]), trak.clone()].concat(),
            ),
        ]
        .concat();
        let empty = [ftyp.clone(), mp4_box(b"moov", &mp4_box(b"mvhd", &[0; 100]))].concat();
        let no_data = [
            ftyp,
            mp4_box(b"mdat", &[]),
            mp4_box(
                b"moov",
                &[mp4_box(b"mvhd", &[0; 100]), trak.clone()].concat(),
            ),
        ]
        .concat();
        std::fs::write(dir.path().join("segment-00000.mp4"), &empty).unwrap();
        std::fs::write(dir.path().join("segment-00001.mp4"), &playable).unwrap();
        std::fs::write(dir.path().join("segment-00002.mp4"), &playable[..40]).unwrap();
        std::fs::write(dir.path().join("segment-00003.mp4"), &no_data).unwrap();
        let seg = |n: u32, start_ms: u64, end_ms: u64| Segment {
            file: format!("segment-{n:05}.mp4"),
            start_ms,
            end_ms,
        };

        assert!(
            !index.add(dir.path(), seg(0, 0, 2_000)).unwrap(),
            "no track"
        );
        assert!(index.add(dir.path(), seg(1, 2_000, 4_000)).unwrap());
        assert!(
            !index.add(dir.path(), seg(2, 4_000, 6_000)).unwrap(),
            "cut short"
        );
        assert!(
            !index.add(dir.path(), seg(3, 6_000, 8_000)).unwrap(),
            "no media data"
        );
        assert!(!dir.path().join("segment-00000.mp4").exists());
        assert!(!dir.path().join("segment-00003.mp4").exists());
        assert!(!dir.path().join("segment-00002.mp4").exists());
        let saved = RecordingIndex::load(dir.path()).unwrap();
        assert_eq!(saved.segments, vec![seg(1, 2_000, 4_000)]);
        assert_eq!(saved.next_file_number(), 2, "one past the highest indexed");
    }

    #[test]
    fn a_segment_with_no_duration_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = RecordingIndex::begin(dir.path(), "cam1", false).unwrap();
        std::fs::write(dir.path().join("segment-7.mp4"), b"any").unwrap();
        assert!(!index.add(dir.path(), segment(7, 7)).unwrap());
        assert!(index.segments.is_empty() && !dir.path().join("segment-7.mp4").exists());
        assert_eq!(index.next_file_number(), 0);
    }

    fn segment(start_ms: u64, end_ms: u64) -> Segment {
        Segment {
            file: format!("segment-{start_ms}.mp4"),
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn session_time_and_file_time_across_a_late_start_and_a_gap() {
        // Recording began 30 s into the session; the source was lost from 50 s to 57.5 s.
        let index = RecordingIndex {
            source: "cam1".into(),
            segments: vec![
                segment(30_000, 40_000),
                segment(40_000, 50_000),
                segment(57_500, 60_000),
            ],
            finalized: None,
        };
        assert_eq!(index.file_ms(29_999), None);
        assert_eq!(index.file_ms(30_000), Some(0));
        assert_eq!(index.file_ms(45_000), Some(15_000));
        assert_eq!(index.file_ms(50_000), Some(20_000));
        assert_eq!(index.file_ms(53_000), None, "in the gap");
        assert_eq!(index.file_ms(57_500), Some(20_000));
        assert_eq!(index.file_ms(60_000), Some(22_500));
        assert_eq!(index.file_ms(60_001), None);
        assert_eq!(index.session_ms(0), 30_000);
        assert_eq!(index.session_ms(15_000), 45_000);
        assert_eq!(index.session_ms(20_000), 57_500);
        assert_eq!(index.session_ms(21_000), 58_500);
        assert_eq!(index.session_ms(99_000), 60_000);
        assert_eq!(index.gaps(), vec![(50_000, 57_500)]);
        for at_ms in (30_000..50_000).chain(57_500..60_000).step_by(250) {
            assert_eq!(index.session_ms(index.file_ms(at_ms).unwrap()), at_ms);
        }
    }
}
