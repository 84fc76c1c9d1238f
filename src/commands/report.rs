//! `aula report --from DATE --to DATE`: the seed's indicators (sessions held, clips produced, clips
//! per session) and the list of published clips, as HTML, CSV or JSON.

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use publisher::package::{Report, ReportClip};

use super::open_catalogue;
use crate::config::Config;
use crate::BadInput;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// First day (YYYY-MM-DD), included.
    #[arg(long)]
    pub from: NaiveDate,
    /// Last day (YYYY-MM-DD), included.
    #[arg(long)]
    pub to: NaiveDate,
    #[arg(long, value_enum, default_value = "json")]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
    Json,
}

pub async fn run(config: &Config, args: ReportArgs) -> Result<()> {
    let report = build(config, args.from, args.to).await?;
    match args.format {
        ReportFormat::Json => super::print_json(&report),
        ReportFormat::Csv => {
            print!("{}", report.to_csv());
            Ok(())
        }
        ReportFormat::Html => {
            print!("{}", report.to_html());
            Ok(())
        }
    }
}

/// The report over `from..=to` (days).
pub async fn build(config: &Config, from: NaiveDate, to: NaiveDate) -> Result<Report> {
    let args = Period { from, to };
    if args.to < args.from {
        return Err(BadInput(format!(
            "--to {} is before --from {} (expected a period)",
            args.to, args.from
        ))
        .into());
    }
    let catalogue = open_catalogue(config).await?;
    let mut sessions = catalogue.list().await?;
    sessions.retain(|s| {
        let day = s.start.date_naive();
        args.from <= day && day <= args.to
    });
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
                    .map(|p| {
                        session
                            .person(p)
                            .map_or_else(|| p.clone(), |x| x.name.clone())
                    })
                    .collect(),
                duration_s: clip.start_ms.until(clip.end_ms) as f64 / 1000.0,
                preset: clip.preset.clone(),
                published_at: Some(published.to_rfc3339()),
            });
        }
    }
    Ok(Report::new(
        args.from.to_string(),
        args.to.to_string(),
        sessions.len(),
        list,
    ))
}

struct Period {
    from: NaiveDate,
    to: NaiveDate,
}
