//! Session time: integer milliseconds from the session's start, and its mapping to the wall clock.

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A point in session time: milliseconds since the session's start (never negative).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SessionMs(pub u64);

impl SessionMs {
    pub const ZERO: SessionMs = SessionMs(0);

    /// The distance to a later point, or zero when `later` is not later.
    pub fn until(self, later: SessionMs) -> u64 {
        later.0.saturating_sub(self.0)
    }
}

impl Add<u64> for SessionMs {
    type Output = SessionMs;
    fn add(self, ms: u64) -> SessionMs {
        SessionMs(self.0 + ms)
    }
}

impl Sub<u64> for SessionMs {
    type Output = SessionMs;
    fn sub(self, ms: u64) -> SessionMs {
        SessionMs(self.0.saturating_sub(ms))
    }
}

impl SessionMs {
    /// Hours, minutes, seconds and milliseconds.
    fn parts(self) -> (u64, u64, u64, u64) {
        let ms = self.0;
        (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    }

    /// `HH:MM:SS` then `separator` and the milliseconds: `,` for SRT, `.` for WebVTT.
    pub fn clock(self, separator: char) -> String {
        let (h, m, s, ms) = self.parts();
        format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
    }

    /// `HH:MM:SS`, to the second (a page's timestamps).
    pub fn clock_seconds(self) -> String {
        let (h, m, s, _) = self.parts();
        format!("{h:02}:{m:02}:{s:02}")
    }

    /// `H:MM:SS.cc`, the ASS subtitle format's centiseconds.
    pub fn ass_clock(self) -> String {
        let (h, m, s, ms) = self.parts();
        format!("{h}:{m:02}:{s:02}.{:02}", ms / 10)
    }
}

/// `HH:MM:SS.mmm`, the way a clip range or a cue is read by a person.
impl fmt::Display for SessionMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.clock('.'))
    }
}

/// A session time as a person writes it: `HH:MM:SS[.mmm]`, `MM:SS[.mmm]`, or seconds (`75.5`).
impl FromStr for SessionMs {
    type Err = TimeParseError;

    fn from_str(text: &str) -> Result<SessionMs, TimeParseError> {
        let bad = || TimeParseError(text.to_owned());
        let t = text.trim();
        let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
        if fraction.len() > 3 || !fraction.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let ms = format!("{fraction:0<3}")
            .parse::<u64>()
            .map_err(|_| bad())?;
        let parts: Vec<&str> = whole.split(':').collect();
        if parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(bad());
        }
        let mut seconds: u64 = 0;
        for (k, part) in parts.iter().enumerate() {
            let value: u64 = part.parse().map_err(|_| bad())?;
            if k > 0 && value >= 60 {
                return Err(bad());
            }
            seconds = seconds
                .checked_mul(60)
                .and_then(|s| s.checked_add(value))
                .ok_or_else(bad)?;
        }
        seconds
            .checked_mul(1000)
            .and_then(|s| s.checked_add(ms))
            .map(SessionMs)
            .ok_or_else(bad)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a session time (expected HH:MM:SS.mmm, MM:SS or seconds)")]
pub struct TimeParseError(pub String);

/// Maps between the wall clock and session time for one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionClock {
    pub start: DateTime<Utc>,
}

impl SessionClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        SessionClock { start }
    }

    /// Session time of a wall-clock instant, or `None` when it lies before the session's start.
    pub fn to_session(&self, at: DateTime<Utc>) -> Option<SessionMs> {
        let ms = (at - self.start).num_milliseconds();
        u64::try_from(ms).ok().map(SessionMs)
    }

    pub fn to_wall(&self, at: SessionMs) -> DateTime<Utc> {
        // Session times fit in i64 milliseconds for ~292 million years.
        self.start + Duration::milliseconds(at.0 as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_reads_in_every_clock_format() {
        let t = SessionMs(3_723_456);
        assert_eq!(t.to_string(), "01:02:03.456");
        assert_eq!(t.clock(','), "01:02:03,456");
        assert_eq!(t.clock_seconds(), "01:02:03");
        assert_eq!(t.ass_clock(), "1:02:03.45");
    }

    #[test]
    fn wall_clock_round_trip() {
        let clock = SessionClock::new("2021-03-15T17:00:00Z".parse().unwrap());
        let at: DateTime<Utc> = "2021-03-15T17:02:03.456Z".parse().unwrap();
        let ms = clock.to_session(at).unwrap();
        assert_eq!(ms, SessionMs(123_456));
        assert_eq!(clock.to_wall(ms), at);
        assert_eq!(
            clock.to_session("2021-03-15T16:59:59Z".parse().unwrap()),
            None
        );
    }

    #[test]
    fn parses_what_people_write() {
        for (text, ms) in [
            ("01:02:03.004", 3_723_004),
            ("02:03", 123_000),
            ("75.5", 75_500),
            ("0", 0),
            (" 00:00:01.25 ", 1_250),
        ] {
            assert_eq!(text.parse::<SessionMs>(), Ok(SessionMs(ms)), "{text}");
        }
        for text in ["", "1:61", "a:00", "1.2345", "1:2:3:4", "-5", "1e3"] {
            let err = text.parse::<SessionMs>().unwrap_err();
            assert!(err.to_string().contains("is not a session time"), "{text}");
        }
    }

    #[test]
    fn displays_as_clock_time() {
        assert_eq!(SessionMs(3_723_004).to_string(), "01:02:03.004");
    }
}
