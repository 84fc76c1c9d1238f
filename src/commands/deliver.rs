//! `aula deliver ID [--to NAME]... [--again]`: the press kit to its destinations (see
//! [`crate::ops::deliver`]); each attempt on standard error, exit 1 when a destination failed.

use anyhow::Result;
use clap::Args;
use session::SessionId;

use super::{open_catalogue, print_json};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::ops::deliver::{self, DeliverRequest, Status};

#[derive(Clone, Debug, Args)]
#[command(
    after_help = "Exit codes: 0 delivered (or had it already), 1 a destination failed, \
                        2 bad input or usage, 130 interrupted."
)]
pub struct DeliverArgs {
    pub id: SessionId,
    /// A destination's name (repeat for several); every destination when none is given.
    #[arg(long = "to", value_name = "NAME")]
    pub to: Vec<String>,
    /// Send even to destinations that have this kit already.
    #[arg(long, alias = "force")]
    pub again: bool,
    /// The report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Config, args: DeliverArgs, cancel: Cancel) -> Result<()> {
    let request = DeliverRequest {
        id: args.id,
        to: args.to,
        again: args.again,
    };
    let catalogue = open_catalogue(config).await?;
    let progress = |line: &str| eprintln!("{line}");
    let report = deliver::deliver(config, &catalogue, &request, None, &progress, cancel).await?;
    if args.json {
        print_json(&report)?;
    } else {
        for d in &report.destinations {
            match d.status {
                Status::Skipped => println!(
                    "{} ({}): has this kit already ({}); nothing sent (--again sends it anyway)",
                    d.name, d.kind, d.answer
                ),
                Status::Delivered => println!(
                    "{} ({}): delivered after {} attempt(s): {}",
                    d.name, d.kind, d.attempts, d.answer
                ),
                Status::Failed => println!(
                    "{} ({}): FAILED after {} attempt(s): {}",
                    d.name, d.kind, d.attempts, d.answer
                ),
            }
        }
    }
    Ok(report.check()?)
}
