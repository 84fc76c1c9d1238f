//! Closed parts of a session (seduta segreta) on the live side, as plain functions: when the
//! program must show the closed slate, and which live segments must never be listed because a
//! part of them is closed and the slate was not surely on for the whole of it.

use std::sync::{Arc, Mutex};

/// A closed part of the session, in session time; `end_ms: None` is closed until further notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedSpan {
    pub start_ms: u64,
    pub end_ms: Option<u64>,
}

/// Closed parts shared with whoever declares them (the catalogue, the admin API); the caller may
/// replace them while the program runs.
pub type SharedClosed = Arc<Mutex<Vec<ClosedSpan>>>;

/// When the program showed the closed slate, in session time; `off_ms: None` while it still does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlateSpan {
    pub on_ms: u64,
    pub off_ms: Option<u64>,
}

/// A live segment's span in session time, from its first frame to the next segment's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SegmentSpan {
    pub start_ms: u64,
    pub end_ms: u64,
}

/// What the compositor, the mixer and the encoders may still hold from before the slate went on
/// (or may show after it went off): a segment counts as slate only this far inside the slate's
/// time, and the slate stays on this long after a closed part ends.
pub const MARGIN_MS: u64 = 500;

/// Whether the program shows the closed slate at `now_ms`: inside a closed part or less than
/// `hold_ms` after its end.
pub fn closed_at(closed: &[ClosedSpan], now_ms: u64, hold_ms: u64) -> bool {
    closed.iter().any(|c| {
        c.start_ms <= now_ms
            && c.end_ms
                .is_none_or(|end| now_ms < end.saturating_add(hold_ms))
    })
}

/// Whether `segment` must not be public: it overlaps a closed part and no slate span covers it
/// whole with `margin_ms` on each side.
pub fn must_withhold(
    segment: SegmentSpan,
    closed: &[ClosedSpan],
    slate: &[SlateSpan],
    margin_ms: u64,
) -> bool {
    // A segment of no length still holds the frame at its start.
    let end_ms = segment.end_ms.max(segment.start_ms + 1);
    let overlaps = closed
        .iter()
        .any(|c| segment.start_ms < c.end_ms.unwrap_or(u64::MAX) && c.start_ms < end_ms);
    let covered = slate.iter().any(|s| {
        s.on_ms.saturating_add(margin_ms) <= segment.start_ms
            && s.off_ms
                .is_none_or(|off| end_ms.saturating_add(margin_ms) <= off)
    });
    overlaps && !covered
}

/// The indices of `segments` that must not be public (see [`must_withhold`]).
pub fn withheld(
    segments: &[SegmentSpan],
    closed: &[ClosedSpan],
    slate: &[SlateSpan],
    margin_ms: u64,
) -> Vec<usize> {
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| must_withhold(**s, closed, slate, margin_ms))
        .map(|(k, _)| k)
        .collect()
}

/// What the ladder needs to judge a segment: the closed parts declared now, when the slate was
/// on, and how the pipeline's running time maps onto session time.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    pub closed: Vec<ClosedSpan>,
    pub slate: Vec<SlateSpan>,
    /// Session time minus the program pipeline's running time.
    pub session_minus_running_ms: i64,
}

impl Gate {
    /// The session-time span of a segment from its running times.
    pub fn span(&self, start_running_ms: u64, end_running_ms: u64) -> SegmentSpan {
        let at = |running_ms: u64| {
            u64::try_from((running_ms as i64).saturating_add(self.session_minus_running_ms))
                .unwrap_or(0)
        };
        SegmentSpan {
            start_ms: at(start_running_ms),
            end_ms: at(end_running_ms),
        }
    }

    pub fn must_withhold(&self, segment: SegmentSpan) -> bool {
        must_withhold(segment, &self.closed, &self.slate, MARGIN_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_ms: u64, end_ms: u64) -> SegmentSpan {
        SegmentSpan { start_ms, end_ms }
    }

    #[test]
    fn only_segments_of_a_closed_part_not_wholly_slate_are_withheld() {
        let closed = [ClosedSpan {
            start_ms: 10_000,
            end_ms: Some(20_000),
        }];
        // The slate went on 100 ms after the start (the next poll), off 600 ms after the end.
        let slate = [SlateSpan {
            on_ms: 10_100,
            off_ms: Some(20_600),
        }];
        let segments = [
            seg(6_000, 8_000),   // before: public
            seg(8_000, 10_000),  // ends at the start: public
            seg(9_000, 11_000),  // straddles the start: input then slate
            seg(10_400, 12_400), // inside but the slate was on only 300 ms before
            seg(10_600, 12_600), // slate for the whole of it
            seg(12_600, 19_900), // slate, ends 700 ms before the slate went off
            seg(19_000, 20_200), // slate went off less than the margin after it
            seg(19_900, 22_000), // straddles the end
            seg(20_000, 22_000), // after: public even if partly slate
        ];
        assert_eq!(
            withheld(&segments, &closed, &slate, MARGIN_MS),
            vec![2, 3, 6, 7]
        );
    }

    #[test]
    fn a_part_declared_late_or_left_open_withholds_what_the_slate_did_not_cover() {
        // Declared at 30 s for 10..20 s: no slate was ever on.
        let late = [ClosedSpan {
            start_ms: 10_000,
            end_ms: Some(20_000),
        }];
        let segments = [seg(8_000, 10_000), seg(10_000, 12_000), seg(18_000, 20_000)];
        assert_eq!(withheld(&segments, &late, &[], MARGIN_MS), vec![1, 2]);
        // Closed until further notice, the slate still on.
        let open = [ClosedSpan {
            start_ms: 10_000,
            end_ms: None,
        }];
        let slate = [SlateSpan {
            on_ms: 10_050,
            off_ms: None,
        }];
        let segments = [
            seg(9_000, 11_000),
            seg(11_000, 13_000),
            seg(500_000, 500_000),
        ];
        assert_eq!(withheld(&segments, &open, &slate, MARGIN_MS), vec![0]);
        // An earlier slate does not cover a later closed part.
        let two = [
            ClosedSpan {
                start_ms: 1_000,
                end_ms: Some(2_000),
            },
            ClosedSpan {
                start_ms: 10_000,
                end_ms: Some(20_000),
            },
        ];
        let slate = [SlateSpan {
            on_ms: 1_000,
            off_ms: Some(2_500),
        }];
        assert_eq!(
            withheld(&[seg(12_000, 14_000)], &two, &slate, MARGIN_MS),
            vec![0]
        );
    }

    #[test]
    fn the_slate_shows_inside_a_closed_part_and_briefly_after() {
        let closed = [
            ClosedSpan {
                start_ms: 10_000,
                end_ms: Some(20_000),
            },
            ClosedSpan {
                start_ms: 60_000,
                end_ms: None,
            },
        ];
        assert!(!closed_at(&closed, 9_999, MARGIN_MS));
        assert!(closed_at(&closed, 10_000, MARGIN_MS));
        assert!(closed_at(&closed, 20_400, MARGIN_MS));
        assert!(!closed_at(&closed, 20_500, MARGIN_MS));
        assert!(closed_at(&closed, 1_000_000, MARGIN_MS));
        assert!(!closed_at(&[], 0, MARGIN_MS));
    }

    #[test]
    fn running_time_maps_to_session_time() {
        let gate = Gate {
            session_minus_running_ms: 20_000,
            ..Gate::default()
        };
        assert_eq!(gate.span(1_000, 3_000), seg(21_000, 23_000));
        let behind = Gate {
            session_minus_running_ms: -5_000,
            ..Gate::default()
        };
        assert_eq!(behind.span(1_000, 7_000), seg(0, 2_000));
    }
}
