//! The report over a period: sessions held, clips produced, clips per session (the seed's
//! indicators) and the list of published clips.

use anyhow::Result;
use chrono::NaiveDate;
use publisher::package::{Report, ReportClip};

use crate::catalogue::Catalogue;
use crate::BadInput;

/// A period of days, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// Every day there is.
    pub const ALL: Period = Period {
        from: NaiveDate::MIN,
        to: NaiveDate::MAX,
    };

    /// The period from two optional days (`YYYY-MM-DD`); a missing end is open.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Period, BadInput> {
        let day = |name: &str, text: Option<&str>, default: NaiveDate| {
            text.map_or(Ok(default), |t| {
                t.parse()
                    .map_err(|e| BadInput(format!("{name}: {t:?} is not a day (YYYY-MM-DD): {e}")))
            })
        };
        Period::new(
            day("from", from, NaiveDate::MIN)?,
            day("to", to, NaiveDate::MAX)?,
        )
    }

    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Period, BadInput> {
        if to < from {
            return Err(BadInput(format!(
                "to {to} is before from {from} (expected a period)"
            )));
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// The report over `period`.
pub async fn report(catalogue: &Catalogue, period: Period) -> Result<Report> {
    let mut sessions = catalogue.list().await?;
    sessions.retain(|s| period.contains(s.start.date_naive()));
    sessions.sort_by_key(|s| s.start);
    let mut list = Vec::new();
    for s in &sessions {
        let session = catalogue.get(&s.id).await?.session;
        for clip in catalogue.clips(&s.id).await? {
            let Some(published) = clip.published_at else {
                continue;
            };
            list.push(ReportClip {
                session: s.id.to_string(),
                session_date: s.start.format("%Y-%m-%d").to_string(),
                title: clip.title.clone(),
                item: clip.item,
                speakers: clip
                    .speakers
                    .iter()
                    .map(|p| session.name_of(p).to_owned())
                    .collect(),
                duration_s: clip.start_ms.until(clip.end_ms) as f64 / 1000.0,
                preset: clip.preset.clone(),
                published_at: Some(published.to_rfc3339()),
            });
        }
    }
    Ok(Report::new(
        period.from.to_string(),
        period.to.to_string(),
        sessions.len(),
        list,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_parsed_with_open_ends_and_refused_reversed() {
        let p = Period::parse(Some("2026-01-01"), None).unwrap();
        assert_eq!(p.from, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert_eq!(p.to, NaiveDate::MAX);
        assert_eq!(Period::parse(None, None).unwrap(), Period::ALL);
        let e = Period::parse(Some("2026-02-01"), Some("2026-01-01")).unwrap_err();
        assert!(e.0.contains("before"), "{e}");
        let e = Period::parse(Some("yesterday"), None).unwrap_err();
        assert!(e.0.contains("from: \"yesterday\""), "{e}");
    }
}
