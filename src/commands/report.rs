//! `aula report --from DATE --to DATE`: the seed's indicators (sessions held, sessions with
//! published clips, clips produced) as JSON, the list of published clips as CSV, the table per
//! month as CSV (`--format months`), and the final report on the clips produced as HTML or PDF.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};

use super::{open_catalogue, serde_choice};
use crate::config::Config;
use crate::ops::documents::Lang;
use crate::ops::pdf::Printer;
use crate::ops::report::{self, Period};
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
    /// Write the final report as a PDF (printed by Chromium) to FILE instead.
    #[arg(long, value_name = "FILE")]
    pub pdf: Option<PathBuf>,
    /// The language of the HTML and PDF report.
    #[arg(long, value_name = "it|en", default_value = "it", value_parser = serde_choice::<Lang>)]
    pub lang: Lang,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    /// The final report on the clips produced (a printable page).
    Html,
    /// The published clips, one a line.
    Csv,
    /// The table per month with its total.
    Months,
    Json,
}

pub async fn run(config: &Config, args: ReportArgs) -> Result<()> {
    if args.to < args.from {
        return Err(BadInput(format!(
            "--to {} is before --from {} (expected a period)",
            args.to, args.from
        ))
        .into());
    }
    let period = Period::new(args.from, args.to)?;
    let catalogue = open_catalogue(config).await?;
    if let Some(pdf) = args.pdf {
        let html = report::clips_report(&catalogue, period)
            .await?
            .html(args.lang)
            .context("rendering the report")?;
        return Printer::default()
            .render(&html, &pdf, &config.scratch_dir())
            .with_context(|| format!("printing {}", pdf.display()));
    }
    match args.format {
        ReportFormat::Json => super::print_json(&report::report(&catalogue, period).await?),
        ReportFormat::Csv => {
            print!("{}", report::report(&catalogue, period).await?.to_csv());
            Ok(())
        }
        ReportFormat::Months => {
            print!(
                "{}",
                report::clips_report(&catalogue, period).await?.to_csv()
            );
            Ok(())
        }
        ReportFormat::Html => {
            let report = report::clips_report(&catalogue, period).await?;
            print!(
                "{}",
                report.html(args.lang).context("rendering the report")?
            );
            Ok(())
        }
    }
}
