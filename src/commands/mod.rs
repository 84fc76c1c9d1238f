//! The command line: clap definitions and what each command does.

mod align;
mod clip;
mod deliver;
mod models;
mod presets;
mod publish;
mod record;
mod report;
mod resoconto;
mod sample;
mod session;
mod transcribe;
mod user;
mod worker;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::cancel::Cancel;
use crate::catalogue::Catalogue;
use crate::config::Config;
pub use clip::ClipArgs;
pub use models::ModelsCommand;
pub use publish::PublishArgs;
pub use sample::SampleCommand;
pub use session::SessionCommand;

/// aula: record, transcribe, clip and publish city council sessions.
#[derive(Debug, Parser)]
#[command(
    name = "aula",
    version,
    about,
    after_help = "Exit codes: 0 success, 1 failure, 2 bad input or usage, 130 interrupted."
)]
pub struct Cli {
    /// Data directory (catalogue, sessions' outputs, models).
    #[arg(long, global = true, env = "AULA_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Catalogue URL (default: SQLite at $AULA_HOME/aula.db), e.g. postgres://host/aula.
    #[arg(long, global = true, env = "AULA_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import, list, show, transcribe, align, correct and delete sessions in the catalogue.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Generate sample sessions with known truth (speech, camera video, floor events).
    #[command(subcommand)]
    Sample(SampleCommand),
    /// Install, import, list and remove Whisper models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Transcribe an audio or video file: text with a time and a confidence for every word.
    Transcribe(transcribe::TranscribeArgs),
    /// Cut clips of a session per agenda item, intervention, person or range, with subtitles.
    Clip(clip::ClipArgs),
    /// Build the session's press kit: clips per item or intervention, subtitles, transcript,
    /// metadata, index page, feed, checksums and a ZIP; again, only what changed.
    Publish(publish::PublishArgs),
    /// Deliver the session's press kit to the destinations of `[[delivery]]` in aula.toml (SFTP,
    /// e-mail, webhook), with retries; a kit a destination has already is not sent again.
    Deliver(deliver::DeliverArgs),
    /// Record a session's sources in crash-safe segments, join them, show the recordings.
    Record(record::RecordArgs),
    /// Sessions held, clips produced and the list of published clips over a period.
    Report(report::ReportArgs),
    /// The output presets (built-in, and user files in $AULA_HOME/presets/).
    #[command(subcommand)]
    Presets(presets::PresetsCommand),
    /// Serve the API, the public pages and the downloads, and run the jobs, until SIGTERM/Ctrl-C.
    Serve(crate::serve::ServeArgs),
    /// Run jobs from the catalogue's queue without serving (`--kinds`, `--concurrency`), beside
    /// `aula serve` or on other hosts sharing its catalogue and media, until SIGTERM/Ctrl-C.
    Worker(worker::WorkerArgs),
    /// Access tokens for `aula serve`'s scripts (sent in the Authorization header).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Accounts that sign in to `aula serve` in a browser: create, list, disable, passwd.
    #[command(subcommand)]
    User(user::UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a role (clerk, press or admin) and print it (once: only its hash is
    /// kept).
    Create {
        #[arg(long, value_enum)]
        role: crate::serve::auth::Role,
        /// Whose token it is (for the record).
        #[arg(long, default_value = "")]
        label: String,
    },
}

pub async fn run(cli: Cli, cancel: Cancel) -> Result<()> {
    let config = Config::resolve(cli.home, cli.database)?;
    match cli.command {
        Command::Session(cmd) => session::run(config, cmd, cancel).await,
        Command::Sample(SampleCommand::Create(args)) => sample::create(args, cancel).await,
        Command::Models(cmd) => models::run(&config, cmd).await,
        Command::Transcribe(args) => transcribe::transcribe_file(config, args, cancel).await,
        Command::Clip(args) => clip::run(&config, args, cancel).await,
        Command::Presets(cmd) => presets::run(&config, cmd),
        Command::Publish(args) => publish::run(&config, args, cancel).await,
        Command::Deliver(args) => deliver::run(&config, args, cancel).await,
        Command::Report(args) => report::run(&config, args).await,
        Command::Record(cmd) => record::run(&config, cmd, cancel).await,
        Command::Serve(args) => crate::serve::run(config, args, cancel).await,
        Command::User(cmd) => user::run(&config, cmd).await,
        Command::Worker(args) => worker::run(&config, args, cancel).await,
        Command::Token(TokenCommand::Create { role, label }) => {
            if role == crate::serve::auth::Role::Public {
                return Err(crate::BadInput(
                    "the public needs no token; use clerk, press or admin".into(),
                )
                .into());
            }
            let catalogue = open_catalogue(&config).await?;
            println!(
                "{}",
                crate::serve::auth::create_token(&catalogue, role, &label).await?
            );
            Ok(())
        }
    }
}

pub(crate) async fn open_catalogue(config: &Config) -> Result<Catalogue> {
    config.ensure_home()?;
    Ok(Catalogue::open(&config.database_url).await?)
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A command-line value read as the API reads it (`--subs burn`, `--per intervention`).
pub(crate) fn serde_choice<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| format!("{text:?}: {e}"))
}
