//! The report over a period: sessions held, clips produced, clips per session (the seed's
//! indicators) and the list of published clips.

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use publisher::package::{Report, ReportClip};
use serde::Serialize;

use super::documents::{self, Lang};
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

    /// The period of a year report: a missing end closes the other's calendar year, and with
    /// neither it is `today`'s year.
    pub fn parse_year(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period, BadInput> {
        let day = |name: &str, text: &str| {
            text.parse::<NaiveDate>()
                .map_err(|e| BadInput(format!("{name}: {text:?} is not a day (YYYY-MM-DD): {e}")))
        };
        let first = |year| NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = |year| NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(NaiveDate::MAX);
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (day("from", f)?, day("to", t)?),
            (Some(f), None) => {
                let f = day("from", f)?;
                (f, last(f.year()))
            }
            (None, Some(t)) => {
                let t = day("to", t)?;
                (first(t.year()), t)
            }
            (None, None) => (first(today.year()), last(today.year())),
        };
        Period::new(from, to)
    }
}

/// A session held in the period and its published clips.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeldSession {
    pub id: String,
    pub title: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub clips: Vec<ReportClip>,
}

/// One month of the indicator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    pub year: i32,
    /// 1 to 12.
    pub month_number: u32,
    pub held: usize,
    pub with_clips: usize,
    pub clips: usize,
}

/// The final report on the clips produced: the indicator (sessions with published clips out of
/// the sessions held), per month, and the published clips of each session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClipsReport {
    pub from: String,
    pub to: String,
    pub held: usize,
    pub with_clips: usize,
    pub clips: usize,
    pub months: Vec<MonthRow>,
    pub sessions: Vec<HeldSession>,
    pub chart: Chart,
}

/// A period of more months than this is tabled only over the months that held sessions.
const MAX_MONTHS: usize = 24;

impl ClipsReport {
    /// The report of `sessions` (held in `period`, by date).
    pub fn new(period: Period, sessions: Vec<HeldSession>) -> ClipsReport {
        let month_of = |date: &str| date.get(..7).unwrap_or(date).to_owned();
        let mut months: Vec<MonthRow> = Vec::new();
        let mut add = |year: i32, number: u32| {
            months.push(MonthRow {
                month: format!("{year:04}-{number:02}"),
                year,
                month_number: number,
                held: 0,
                with_clips: 0,
                clips: 0,
            })
        };
        let span = (period.to.year() - period.from.year()) as i64 * 12 + period.to.month() as i64
            - period.from.month() as i64
            + 1;
        if span as usize <= MAX_MONTHS {
            let (mut year, mut number) = (period.from.year(), period.from.month());
            for _ in 0..span {
                add(year, number);
                (year, number) = if number == 12 {
                    (year + 1, 1)
                } else {
                    (year, number + 1)
                };
            }
        } else {
            let mut seen: Vec<String> = sessions.iter().map(|s| month_of(&s.date)).collect();
            seen.dedup();
            for m in seen {
                let (y, n) = m.split_once('-').unwrap_or(("0", "1"));
                add(y.parse().unwrap_or(0), n.parse().unwrap_or(1));
            }
        }
        for s in &sessions {
            let month = month_of(&s.date);
            if let Some(row) = months.iter_mut().find(|m| m.month == month) {
                row.held += 1;
                row.with_clips += usize::from(!s.clips.is_empty());
                row.clips += s.clips.len();
            }
        }
        ClipsReport {
            from: period.from.to_string(),
            to: period.to.to_string(),
            held: sessions.len(),
            with_clips: sessions.iter().filter(|s| !s.clips.is_empty()).count(),
            clips: sessions.iter().map(|s| s.clips.len()).sum(),
            chart: Chart::of(&months),
            months,
            sessions,
        }
    }

    /// The table per month and its total, as CSV.
    pub fn to_csv(&self) -> String {
        let mut out =
            String::from("month,sessions_held,sessions_with_published_clips,clips_published\n");
        let rows = self
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.held, m.with_clips, m.clips))
            .chain([("total", self.held, self.with_clips, self.clips)]);
        for (month, held, with, clips) in rows {
            out.push_str(&format!("{},{held},{with},{clips}\n", csv_field(month)));
        }
        out
    }

    /// The printable page (`web/templates/report.html`), self-contained.
    pub fn html(&self, lang: Lang) -> Result<String, minijinja::Error> {
        documents::render("report.html", lang, self)
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The bar chart of the months: for each, a bar of the sessions held and one of those with
/// published clips, in the units of the SVG's view box.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    /// The y of the bars' foot.
    pub baseline: u32,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub month: String,
    pub month_number: u32,
    pub year: i32,
    /// The month's label under the bars, centred here.
    pub center: u32,
    pub held: Bar,
    pub with_clips: Bar,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub value: usize,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Chart {
    const LEFT: u32 = 8;
    const TOP: u32 = 24;
    const PLOT: u32 = 160;
    const COLUMN: u32 = 60;
    const BAR: u32 = 22;

    pub fn of(months: &[MonthRow]) -> Chart {
        let most = months.iter().map(|m| m.held).max().unwrap_or(0).max(1) as u32;
        let baseline = Chart::TOP + Chart::PLOT;
        let bar = |value: usize, x: u32| {
            let height = value as u32 * Chart::PLOT / most;
            Bar {
                value,
                x,
                y: baseline - height,
                width: Chart::BAR,
                height,
            }
        };
        let columns = months
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let left = Chart::LEFT + i as u32 * Chart::COLUMN;
                Column {
                    month: m.month.clone(),
                    month_number: m.month_number,
                    year: m.year,
                    center: left + Chart::COLUMN / 2,
                    held: bar(m.held, left + 6),
                    with_clips: bar(m.with_clips, left + 6 + Chart::BAR + 4),
                }
            })
            .collect();
        Chart {
            width: (Chart::LEFT * 2 + months.len() as u32 * Chart::COLUMN).max(320),
            height: baseline + 40,
            baseline,
            columns,
        }
    }
}

/// The sessions held in `period`, by date, with their published clips.
async fn held(catalogue: &Catalogue, period: Period) -> Result<Vec<HeldSession>> {
    let mut sessions = catalogue.list().await?;
    sessions.retain(|s| period.contains(s.start.date_naive()));
    sessions.sort_by_key(|s| s.start);
    let mut out = Vec::new();
    for s in &sessions {
        let session = catalogue.get(&s.id).await?.session;
        let mut list = Vec::new();
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
        out.push(HeldSession {
            id: s.id.to_string(),
            title: s.title.clone(),
            date: s.start.format("%Y-%m-%d").to_string(),
            clips: list,
        });
    }
    Ok(out)
}

/// The report over `period`.
pub async fn report(catalogue: &Catalogue, period: Period) -> Result<Report> {
    let sessions = held(catalogue, period).await?;
    let count = sessions.len();
    Ok(Report::new(
        period.from.to_string(),
        period.to.to_string(),
        count,
        sessions.into_iter().flat_map(|s| s.clips).collect(),
    ))
}

/// The final report on the clips produced over `period`.
pub async fn clips_report(catalogue: &Catalogue, period: Period) -> Result<ClipsReport> {
    Ok(ClipsReport::new(period, held(catalogue, period).await?))
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

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn held(id: &str, date: &str, clips: usize) -> HeldSession {
        let clip = ReportClip {
            session: id.into(),
            session_date: date.into(),
            title: "Punto 1".into(),
            item: Some(1),
            speakers: vec!["Anna Bianchi".into()],
            duration_s: 30.0,
            preset: "web-720p".into(),
            published_at: Some("2021-03-02T18:00:00+00:00".into()),
        };
        HeldSession {
            id: id.into(),
            title: format!("Seduta {id}"),
            date: date.into(),
            clips: vec![clip; clips],
        }
    }

    #[test]
    fn a_year_report_has_every_month_and_counts_sessions_with_clips() {
        let period = Period::parse_year(None, None, day("2021-06-15")).unwrap();
        assert_eq!(
            (period.from, period.to),
            (day("2021-01-01"), day("2021-12-31"))
        );
        let r = ClipsReport::new(
            period,
            vec![
                held("a", "2021-01-12", 2),
                held("b", "2021-01-26", 0),
                held("c", "2021-03-02", 1),
            ],
        );
        assert_eq!((r.held, r.with_clips, r.clips), (3, 2, 3));
        assert_eq!(r.months.len(), 12);
        let jan = &r.months[0];
        assert_eq!(
            (jan.month.as_str(), jan.held, jan.with_clips, jan.clips),
            ("2021-01", 2, 1, 2)
        );
        assert_eq!(r.months[1].held, 0);
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 14, "{csv}");
        assert_eq!(lines[1], "2021-01,2,1,2");
        assert_eq!(lines[13], "total,3,2,3");
    }

    #[test]
    fn a_long_period_tables_only_the_months_that_held_sessions() {
        let period = Period::new(day("2019-01-01"), day("2023-12-31")).unwrap();
        let r = ClipsReport::new(
            period,
            vec![held("a", "2020-05-01", 1), held("b", "2022-02-01", 1)],
        );
        let months: Vec<&str> = r.months.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(months, ["2020-05", "2022-02"]);
    }

    #[test]
    fn a_missing_end_closes_the_other_ends_year() {
        let today = day("2026-01-01");
        let p = Period::parse_year(Some("2021-03-01"), None, today).unwrap();
        assert_eq!(p.to, day("2021-12-31"));
        let p = Period::parse_year(None, Some("2021-03-01"), today).unwrap();
        assert_eq!(p.from, day("2021-01-01"));
        let e = Period::parse_year(Some("2021-13-01"), None, today).unwrap_err();
        assert!(e.0.starts_with("from: \"2021-13-01\""), "{e}");
    }

    #[test]
    fn the_bars_are_proportional_and_side_by_side() {
        let row = |month: &str, held, with_clips| MonthRow {
            month: month.into(),
            year: 2021,
            month_number: 1,
            held,
            with_clips,
            clips: with_clips,
        };
        let chart = Chart::of(&[
            row("2021-01", 4, 2),
            row("2021-02", 0, 0),
            row("2021-03", 2, 2),
        ]);
        let [jan, feb, mar] = &chart.columns[..] else {
            panic!("three columns")
        };
        // The busiest month reaches the top; the others are in proportion; all stand on the baseline.
        assert_eq!(jan.held.height, Chart::PLOT);
        assert_eq!(jan.with_clips.height, Chart::PLOT / 2);
        assert_eq!(mar.held.height, Chart::PLOT / 2);
        assert_eq!(feb.held.height, 0);
        for bar in [&jan.held, &jan.with_clips, &feb.held, &mar.with_clips] {
            assert_eq!(bar.y + bar.height, chart.baseline);
        }
        // Bars do not overlap, and every column fits in the view box.
        assert!(jan.held.x + jan.held.width < jan.with_clips.x);
        assert!(jan.with_clips.x + jan.with_clips.width < feb.held.x);
        assert!(mar.with_clips.x + mar.with_clips.width <= chart.width);
        assert!(chart.baseline + 30 <= chart.height);
    }

    #[test]
    fn a_csv_field_is_quoted_only_when_it_must_be() {
        assert_eq!(csv_field("2021-01"), "2021-01");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("a\nb"), "\"a\nb\"");
    }

    #[test]
    fn the_report_page_shows_the_indicator_and_escapes_titles() {
        let period = Period::parse_year(None, None, day("2021-06-15")).unwrap();
        let mut s = held("a", "2021-01-12", 1);
        s.title = "<img src=x onerror=alert(1)>".into();
        let r = ClipsReport::new(period, vec![s, held("b", "2021-02-01", 0)]);
        let html = r.html(Lang::It).unwrap();
        assert!(html.contains("1/2"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && !html.contains("<img"));
        assert!(html.contains("role=\"img\"") && html.contains("<title"));
        assert!(r
            .html(Lang::En)
            .unwrap()
            .contains("sessions with published clips"));
    }
}
