//! `aula publish ID`: the session's press kit, brought up to date (see [`crate::ops::publish`]).

use anyhow::Result;
use clap::Args;
use session::SessionId;

use super::{open_catalogue, print_json, serde_choice};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::ops::publish::{self, Per, PublishRequest};

#[derive(Clone, Debug, Args)]
pub struct PublishArgs {
    pub id: SessionId,
    /// One clip per agenda item, or per intervention (of a named speaker, at least 3 s long).
    #[arg(long, value_name = "item|intervention", default_value = "item", value_parser = serde_choice::<Per>)]
    pub per: Per,
    /// Presets, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "web-720p")]
    pub presets: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Config, args: PublishArgs, cancel: Cancel) -> Result<()> {
    let request = PublishRequest {
        id: args.id,
        per: args.per,
        presets: args.presets,
    };
    let catalogue = open_catalogue(config).await?;
    let shown = crate::progress::show(&cancel, "publishing");
    let report = publish::publish(config, &catalogue, &request, cancel).await;
    drop(shown);
    let report = report?;
    if args.json {
        return print_json(&report);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{}: {} clip(s), {} cut now, {} up to date; {} files",
        report.package.display(),
        report.clips,
        report.cut,
        report.clips - report.cut,
        report.files
    );
    Ok(())
}
