//! Live captions as broadcasters roll them up: words in, a display of at most 2 lines of at most
//! 42 characters, a new line opened with the speaker's name when the speaker changes, cleared after
//! a pause; the display cut into WebVTT segments that match the video's, each mapped to the MPEG-TS
//! timestamps of its video segment (`X-TIMESTAMP-MAP`). Times are the pipeline's running time.
//! Pure logic.

pub const MAX_LINE_CHARS: usize = 42;
pub const MAX_LINES: usize = 2;
/// The display stays this long after the last word when no other follows.
pub const LINGER_MS: u64 = 3000;

/// A word to caption: running time, and the speaker's name when known.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: Option<String>,
}

/// A captioned word and how long after its end its cue was listed (none: never listed).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaptionedWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub listed_after_ms: Option<u64>,
}

/// What the screen shows from `start_ms` to `end_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub lines: Vec<String>,
    /// Where its bottom edge goes, as a share of the frame height (`line:N%,end`), when it must
    /// clear the program's lower third; else the player's default, at the bottom.
    pub line_pct: Option<u32>,
}

/// The roll-up display, fed words in order; the cues up to a time are taken segment by segment.
#[derive(Debug, Default)]
pub struct RollUp {
    lines: Vec<String>,
    speaker: Option<String>,
    /// The display now, from when, and the end of its last word.
    open: Option<(u64, u64)>,
    closed: Vec<Cue>,
    /// Cues before this were written: a later word cannot appear before it.
    written_ms: u64,
}

impl RollUp {
    /// Adds a word; a word that comes after its time was written appears at the next segment.
    pub fn push(&mut self, word: CaptionWord) {
        let start_ms = word.start_ms.max(self.written_ms);
        let end_ms = word.end_ms.max(start_ms);
        if let Some((from, last_end)) = self.open {
            let until = (last_end + LINGER_MS).min(start_ms);
            self.close_display(from, until);
            if start_ms >= last_end + LINGER_MS {
                self.lines.clear();
            }
        }
        let new_speaker = word.speaker.is_some() && word.speaker != self.speaker;
        if new_speaker {
            self.speaker.clone_from(&word.speaker);
            let name = word.speaker.as_deref().unwrap_or_default();
            self.new_line(format!(">> {name}:"));
            // The first word goes on the name's line when it fits.
        }
        self.add_word(&word.text);
        self.open = Some((start_ms, end_ms));
    }

    /// Clears the screen at `at_ms` (a closed part begins).
    pub fn clear(&mut self, at_ms: u64) {
        if let Some((from, last_end)) = self.open.take() {
            self.close_display(from, (last_end + LINGER_MS).min(at_ms.max(from)));
        }
        self.lines.clear();
        self.speaker = None;
    }

    fn close_display(&mut self, from: u64, until: u64) {
        if until > from && !self.lines.is_empty() {
            self.closed.push(Cue {
                start_ms: from,
                end_ms: until,
                lines: self.lines.clone(),
                line_pct: None,
            });
        }
    }

    fn new_line(&mut self, text: String) {
        self.lines.push(text);
        if self.lines.len() > MAX_LINES {
            self.lines.remove(0);
        }
    }

    fn add_word(&mut self, text: &str) {
        let mut rest: Vec<char> = text.chars().collect();
        // A word longer than a line is cut across lines.
        while rest.len() > MAX_LINE_CHARS {
            let piece: String = rest.drain(..MAX_LINE_CHARS).collect();
            self.new_line(piece);
        }
        let word: String = rest.into_iter().collect();
        match self.lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= MAX_LINE_CHARS => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => self.new_line(word),
        }
    }

    /// The cues shown before `end_ms`, cut there; the display still on goes on in the next take.
    pub fn take_until(&mut self, end_ms: u64) -> Vec<Cue> {
        let mut out: Vec<Cue> = Vec::new();
        let mut kept = Vec::new();
        for cue in std::mem::take(&mut self.closed) {
            if cue.start_ms >= end_ms {
                kept.push(cue);
            } else if cue.end_ms > end_ms {
                out.push(Cue {
                    end_ms,
                    ..cue.clone()
                });
                kept.push(Cue {
                    start_ms: end_ms,
                    ..cue
                });
            } else {
                out.push(cue);
            }
        }
        self.closed = kept;
        if let Some((from, last_end)) = self.open {
            let until = last_end + LINGER_MS;
            if from < end_ms && !self.lines.is_empty() {
                out.push(Cue {
                    start_ms: from,
                    end_ms: until.min(end_ms),
                    lines: self.lines.clone(),
                    line_pct: None,
                });
                if until <= end_ms {
                    self.open = None;
                    self.lines.clear();
                } else {
                    self.open = Some((end_ms, last_end));
                }
            }
        }
        self.written_ms = self.written_ms.max(end_ms);
        out
    }
}

/// `HH:MM:SS.mmm`, WebVTT's cue time.
fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// One WebVTT segment: the cues it overlaps, its local clock (the running time) mapped to the
/// 90 kHz MPEG-TS clock by `mpegts_at_zero` (the PTS that running time 0 has in the segments).
pub fn vtt_segment(cues: &[Cue], mpegts_at_zero: u64) -> String {
    let mut out = format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts_at_zero},LOCAL:00:00:00.000\n");
    for cue in cues {
        let settings = cue
            .line_pct
            .map_or_else(String::new, |pct| format!(" line:{pct}%,end"));
        out.push_str(&format!(
            "\n{} --> {}{settings}\n{}\n",
            vtt_time(cue.start_ms),
            vtt_time(cue.end_ms),
            cue.lines.join("\n")
        ));
    }
    out
}

/// The cues of a WebVTT text written by [`vtt_segment`], and its timestamp map.
pub fn parse_vtt(text: &str) -> Option<(u64, Vec<Cue>)> {
    let mut lines = text.lines();
    if lines.next()? != "WEBVTT" {
        return None;
    }
    let map = lines.next()?.strip_prefix("X-TIMESTAMP-MAP=MPEGTS:")?;
    let mpegts = map.split(',').next()?.parse().ok()?;
    let parse_time = |t: &str| -> Option<u64> {
        let (hms, millis) = t.trim().split_once('.')?;
        let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
        let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
        Some(((h * 60 + m) * 60 + s) * 1000 + millis.parse::<u64>().ok()?)
    };
    let mut cues = Vec::new();
    let mut current: Option<Cue> = None;
    for line in lines {
        if let Some((a, rest)) = line.split_once(" --> ") {
            cues.extend(current.take());
            let (b, settings) = rest.split_once(' ').unwrap_or((rest, ""));
            let line_pct = settings
                .split_whitespace()
                .find_map(|s| s.strip_prefix("line:")?.split_once("%,end")?.0.parse().ok());
            current = Some(Cue {
                start_ms: parse_time(a)?,
                end_ms: parse_time(b)?,
                lines: Vec::new(),
                line_pct,
            });
        } else if line.is_empty() {
            cues.extend(current.take());
        } else if let Some(cue) = &mut current {
            cue.lines.push(line.to_owned());
        }
    }
    cues.extend(current);
    Some((mpegts, cues))
}

/// The 90 kHz PTS of the first video frame (else of the first PES) in an MPEG-TS file.
pub fn first_pts(ts: &[u8]) -> Option<u64> {
    let mut first_any = None;
    for packet in ts.chunks_exact(188) {
        if packet[0] != 0x47 || packet[1] & 0x40 == 0 {
            continue;
        }
        let start = match (packet[3] >> 4) & 3 {
            1 => 4,
            3 => 5 + usize::from(packet[4]),
            _ => continue,
        };
        let Some(pes) = packet.get(start..) else {
            continue;
        };
        if pes.len() < 14 || pes[..3] != [0, 0, 1] || pes[7] & 0x80 == 0 {
            continue;
        }
        let p = &pes[9..14];
        let pts = (u64::from(p[0] >> 1) & 7) << 30
            | u64::from(p[1]) << 22
            | u64::from(p[2] >> 1) << 15
            | u64::from(p[3]) << 7
            | u64::from(p[4] >> 1);
        if (0xE0..=0xEF).contains(&pes[3]) {
            return Some(pts);
        }
        first_any.get_or_insert(pts);
    }
    first_any
}

/// The PTS that running time 0 has, from a segment's first PTS and its first frame's running time
/// (the 33-bit clock wraps).
pub fn mpegts_at_zero(first_pts: u64, first_running_ms: u64) -> u64 {
    let wrap = 1u64 << 33;
    (first_pts + wrap - (first_running_ms * 90) % wrap) % wrap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64, speaker: &str) -> CaptionWord {
        CaptionWord {
            text: text.into(),
            start_ms,
            end_ms: start_ms + 300,
            speaker: (!speaker.is_empty()).then(|| speaker.to_owned()),
        }
    }

    #[test]
    fn lines_roll_up_within_the_limits_and_name_a_new_speaker() {
        let mut r = RollUp::default();
        let text = "the council is now in session and the first item on the agenda is the budget";
        for (i, w) in text.split(' ').enumerate() {
            r.push(word(w, 1000 + 400 * i as u64, "Anna Rossi"));
        }
        r.push(word("thank", 8000, "Marco Bianchi"));
        let cues = r.take_until(20_000);
        assert!(cues.len() > 10);
        for c in &cues {
            assert!(c.lines.len() <= MAX_LINES, "{c:?}");
            assert!(c.lines.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS));
            assert!(c.start_ms < c.end_ms);
        }
        assert_eq!(cues[0].lines, [">> Anna Rossi: the"]);
        assert_eq!(cues[0].start_ms, 1000);
        let last = cues.last().unwrap();
        assert_eq!(last.lines[1], ">> Marco Bianchi: thank");
        assert_eq!(last.end_ms, 8300 + LINGER_MS);
        // Each cue starts at the word it adds, and ends when the next word comes.
        assert_eq!(cues[1].start_ms, 1400);
        assert_eq!(cues[0].end_ms, 1400);
    }

    #[test]
    fn a_pause_clears_the_screen_and_cues_are_cut_at_segment_ends() {
        let mut r = RollUp::default();
        r.push(word("hello", 0, ""));
        r.push(word("again", 10_000, ""));
        let first = r.take_until(2000);
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].start_ms, first[0].end_ms), (0, 2000));
        let second = r.take_until(4000);
        assert_eq!((second[0].start_ms, second[0].end_ms), (2000, 3300));
        assert!(r.take_until(10_000).is_empty());
        let third = r.take_until(12_000);
        assert_eq!(third[0].lines, ["again"], "the pause cleared the line");
        // A word that arrives after its time was written shows from the next segment on.
        r.push(word("late", 11_000, ""));
        assert_eq!(r.take_until(14_000)[0].start_ms, 12_000);
    }

    #[test]
    fn a_closed_part_clears_the_screen() {
        let mut r = RollUp::default();
        r.push(word("public", 0, "Anna"));
        r.clear(500);
        let cues = r.take_until(10_000);
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].end_ms, 500);
        r.push(word("again", 20_000, "Anna"));
        assert_eq!(r.take_until(30_000)[0].lines, [">> Anna: again"]);
    }

    #[test]
    fn vtt_segments_round_trip_with_their_timestamp_map() {
        let cues = vec![
            Cue {
                start_ms: 3_723_004,
                end_ms: 3_725_000,
                lines: vec![">> Anna:".into(), "buonasera".into()],
                line_pct: None,
            },
            Cue {
                start_ms: 3_725_000,
                end_ms: 3_726_000,
                lines: vec!["a tutti".into()],
                line_pct: Some(81),
            },
        ];
        let text = vtt_segment(&cues, 126_000);
        assert!(text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n"));
        assert!(text.contains("01:02:03.004 --> 01:02:05.000\n>> Anna:\nbuonasera\n"));
        assert!(text.contains("01:02:05.000 --> 01:02:06.000 line:81%,end\na tutti\n"));
        assert_eq!(parse_vtt(&text), Some((126_000, cues)));
        assert_eq!(mpegts_at_zero(126_000 + 90 * 2000, 2000), 126_000);
        assert_eq!(mpegts_at_zero(10, 1), (1 << 33) - 80);
    }

    #[test]
    fn the_first_video_pts_is_read_from_the_transport_stream() {
        let mut packet = vec![0u8; 188];
        packet[..4].copy_from_slice(&[0x47, 0x41, 0x00, 0x10]);
        let pts: u64 = 8_589_934_000;
        let pes = [
            0,
            0,
            1,
            0xE0,
            0,
            0,
            0x80,
            0x80,
            5,
            0x21 | ((pts >> 29) & 0x0E) as u8,
            (pts >> 22) as u8,
            ((pts >> 14) & 0xFE) as u8 | 1,
            (pts >> 7) as u8,
            ((pts << 1) & 0xFE) as u8 | 1,
        ];
        packet[4..4 + pes.len()].copy_from_slice(&pes);
        assert_eq!(first_pts(&packet), Some(pts));
        assert_eq!(first_pts(&[0u8; 188]), None);
    }
}
