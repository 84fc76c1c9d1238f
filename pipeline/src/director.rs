//! The program feed's choices as plain functions: who is speaking (floor turns, then remote voice
//! activity), which input is shown large and when a switch is allowed, where each input goes on
//! the canvas, and the gain that brings an input's speech to the program's loudness.

/// A chamber microphone turn (from floor events) in session time.
#[derive(Clone, Debug, PartialEq)]
pub struct FloorTurn {
    pub person: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// A rectangle on the canvas, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub zorder: u32,
}

/// Who speaks at `now_ms`: a remote participant whose own stream carries voice wins (they are
/// not on the chamber's floor system); otherwise the latest chamber turn covering `now_ms`.
pub fn speaker_at<'a>(
    turns: &'a [FloorTurn],
    remote_speaking: &'a [String],
    now_ms: u64,
) -> Option<&'a str> {
    if let Some(p) = remote_speaking.first() {
        return Some(p);
    }
    turns
        .iter()
        .filter(|t| t.start_ms <= now_ms && now_ms < t.end_ms)
        .max_by_key(|t| t.start_ms)
        .map(|t| t.person.as_str())
}

/// Keeps the large picture on one input for at least `min_hold_ms`, so that short interjections
/// do not make the picture flicker.
#[derive(Clone, Debug)]
pub struct Director {
    pub min_hold_ms: u64,
    current: usize,
    since_ms: u64,
}

impl Director {
    pub fn new(min_hold_ms: u64) -> Director {
        Director {
            min_hold_ms,
            current: 0,
            since_ms: 0,
        }
    }

    pub fn current(&self) -> usize {
        self.current
    }

    /// The input wanted large at `now_ms`; returns the new one when the picture switches.
    pub fn choose(&mut self, now_ms: u64, wanted: usize) -> Option<usize> {
        if wanted == self.current || now_ms.saturating_sub(self.since_ms) < self.min_hold_ms {
            return None;
        }
        self.current = wanted;
        self.since_ms = now_ms;
        Some(wanted)
    }
}

/// The large input fills the canvas; the others are quarter-size pictures along the bottom, from
/// the right, above it.
pub fn layout(inputs: usize, large: usize, canvas: (i32, i32)) -> Vec<Rect> {
    let (w, h) = canvas;
    let (small_w, small_h) = ((w / 4) & !1, (h / 4) & !1);
    let margin = (h / 40).max(2) & !1;
    let mut slot = 0;
    (0..inputs)
        .map(|i| {
            if i == large {
                Rect {
                    x: 0,
                    y: 0,
                    width: w,
                    height: h,
                    zorder: 0,
                }
            } else {
                slot += 1;
                Rect {
                    x: w - slot * (small_w + margin),
                    y: h - small_h - margin,
                    width: small_w,
                    height: small_h,
                    zorder: 1,
                }
            }
        })
        .collect()
}

/// The gain (dB) that brings speech measured at `speech_db` RMS to `target_db`, limited to
/// -12..+18 dB so that noise is never pumped up without end.
pub fn matched_gain_db(speech_db: f64, target_db: f64) -> f64 {
    (target_db - speech_db).clamp(-12.0, 18.0)
}

/// An input's RMS level (dBFS) counts as speech above this.
pub const SPEECH_DB: f64 = -45.0;

/// A slowly moving speech loudness estimate: only frames above `SPEECH_DB` count.
#[derive(Clone, Debug, Default)]
pub struct Loudness {
    speech_db: Option<f64>,
}

impl Loudness {
    pub fn update(&mut self, rms_db: f64) -> Option<f64> {
        if rms_db > SPEECH_DB {
            self.speech_db = Some(match self.speech_db {
                Some(old) => old * 0.9 + rms_db * 0.1,
                None => rms_db,
            });
        }
        self.speech_db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_voice_beats_the_floor_and_turns_pick_the_latest() {
        let turns = vec![
            FloorTurn {
                person: "chair".into(),
                start_ms: 0,
                end_ms: 60_000,
            },
            FloorTurn {
                person: "rossi".into(),
                start_ms: 10_000,
                end_ms: 20_000,
            },
        ];
        assert_eq!(speaker_at(&turns, &[], 5_000), Some("chair"));
        assert_eq!(speaker_at(&turns, &[], 15_000), Some("rossi"));
        assert_eq!(
            speaker_at(&turns, &["bianchi".into()], 15_000),
            Some("bianchi")
        );
        assert_eq!(speaker_at(&turns, &[], 70_000), None);
    }

    #[test]
    fn the_director_holds_before_switching() {
        let mut d = Director::new(2_000);
        assert_eq!(d.choose(500, 1), None);
        assert_eq!(d.choose(2_500, 1), Some(1));
        assert_eq!(d.choose(3_000, 0), None);
        assert_eq!(d.choose(3_000, 1), None);
        assert_eq!(d.choose(4_600, 0), Some(0));
        assert_eq!(d.current(), 0);
    }

    #[test]
    fn layout_keeps_small_pictures_inside_and_apart() {
        let rects = layout(3, 1, (1280, 720));
        assert_eq!(
            rects[1],
            Rect {
                x: 0,
                y: 0,
                width: 1280,
                height: 720,
                zorder: 0
            }
        );
        for r in [rects[0], rects[2]] {
            assert!(r.x >= 0 && r.x + r.width <= 1280 && r.y + r.height <= 720);
            assert_eq!((r.width, r.height, r.zorder), (320, 180, 1));
        }
        assert!(
            rects[0].x + rects[0].width <= rects[2].x || rects[2].x + rects[2].width <= rects[0].x
        );
    }

    #[test]
    fn loudness_ignores_silence_and_gain_is_bounded() {
        let mut l = Loudness::default();
        assert_eq!(l.update(-70.0), None);
        assert_eq!(l.update(-30.0), Some(-30.0));
        assert!((l.update(-20.0).unwrap() + 29.0).abs() < 1e-9);
        assert_eq!(matched_gain_db(-30.0, -23.0), 7.0);
        assert_eq!(matched_gain_db(-60.0, -23.0), 18.0);
        assert_eq!(matched_gain_db(0.0, -23.0), -12.0);
    }
}
