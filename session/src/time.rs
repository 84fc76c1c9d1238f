//! Session time: integer milliseconds from the session's start, and its mapping to the wall clock.

use std::fmt;
use std::ops::{Add, Sub};

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

/// `HH:MM:SS.mmm`, the way a clip range or a cue is read by a person.
impl fmt::Display for SessionMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        write!(
            f,
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }
}

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
    fn displays_as_clock_time() {
        assert_eq!(SessionMs(3_723_004).to_string(), "01:02:03.004");
    }
}
