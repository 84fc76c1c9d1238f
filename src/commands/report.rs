//! `aula report --from DATE --to DATE`: the seed's indicators (sessions held, clips produced, clips
//! per session) and the list of published clips, as HTML, CSV or JSON.

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};

use super::open_catalogue;
use crate::config::Config;
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
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Html,
    Csv,
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
    let report = report::report(&open_catalogue(config).await?, period).await?;
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
