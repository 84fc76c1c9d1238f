//! `aula presets list | show`: the output presets in force (built-in, and user files in
//! `$AULA_HOME/presets/`).

use anyhow::Result;
use clap::Subcommand;

use super::print_json;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum PresetsCommand {
    /// The presets: name, mode, picture, and what they are for.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One preset in full (TOML; JSON with --json).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, cmd: PresetsCommand) -> Result<()> {
    let set = crate::ops::load_presets(config)?;
    match cmd {
        PresetsCommand::List { json } => {
            if json {
                return print_json(&set.iter().collect::<Vec<_>>());
            }
            for p in set.iter() {
                let picture = p.video.as_ref().map_or_else(
                    || "audio only".to_owned(),
                    |v| format!("{}x{}", v.width, v.height),
                );
                let mode = match p.mode {
                    presets::Mode::Encode => "encode",
                    presets::Mode::Copy => "copy",
                };
                println!(
                    "{:<16} {:<7} {:<11} {}",
                    p.name, mode, picture, p.description
                );
            }
            Ok(())
        }
        PresetsCommand::Show { name, json } => {
            let preset = set.get(&name)?;
            if json {
                print_json(preset)
            } else {
                print!("{}", toml::to_string(preset)?);
                Ok(())
            }
        }
    }
}
