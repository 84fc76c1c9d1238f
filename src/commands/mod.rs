//! The command line: clap definitions and what each command does.

mod align;
pub(crate) mod clip;
mod models;
mod presets;
pub(crate) mod publish;
mod record;
mod report;
mod sample;
mod session;
mod transcribe;

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
pub(crate) use presets::load as load_presets;
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
    /// Record a session's sources in crash-safe segments, join them, show the recordings.
    Record(record::RecordArgs),
    /// Sessions held, clips produced and the list of published clips over a period.
    Report(report::ReportArgs),
    /// The output presets (built-in, and user files in $AULA_HOME/presets/).
    #[command(subcommand)]
    Presets(presets::PresetsCommand),
    /// Serve the API, the public pages and the downloads, and run the jobs, until SIGTERM/Ctrl-C.
    Serve(crate::serve::ServeArgs),
    /// Access tokens for `aula serve`.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a role and print it (once: only its hash is kept).
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
        Command::Report(args) => report::run(&config, args).await,
        Command::Record(cmd) => record::run(&config, cmd, cancel).await,
        Command::Serve(args) => crate::serve::run(config, args, cancel).await,
        Command::Token(TokenCommand::Create { role, label }) => {
            if role == crate::serve::auth::Role::Public {
                return Err(crate::BadInput(
                    "the public needs no token; use press or admin".into(),
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

/// A session transcribed with the default model, as a job does it.
pub(crate) async fn transcribe_for_job(
    config: &Config,
    id: &::session::SessionId,
    cancel: Cancel,
) -> Result<()> {
    let model = transcribe::ModelArgs {
        model: "default".into(),
        timing: transcribe::TimingArg::DtwVad,
        threads: None,
        beam: 1,
        allow_truncated: false,
    };
    transcribe::transcribe_session(config.clone(), id.clone(), model, cancel).await
}

pub(crate) async fn align_for_job(
    config: &Config,
    id: &::session::SessionId,
    cancel: Cancel,
) -> Result<()> {
    align::align_session(config, id, &cancel).await.map(|_| ())
}

/// A correction from the API, stored as a revision like `aula session fix`.
pub(crate) async fn correct(
    config: &Config,
    id: &::session::SessionId,
    request: &crate::serve::api::CorrectionRequest,
    author: &str,
) -> Result<serde_json::Value> {
    use crate::serve::api::CorrectionRequest as R;
    use ::session::SessionMs;
    let command = match request {
        R::Reassign {
            from_ms,
            to_ms,
            person,
        } => align::FixCommand::Reassign {
            from: SessionMs(*from_ms),
            to: SessionMs(*to_ms),
            person: person.clone().unwrap_or_else(|| "unknown".into()),
        },
        R::MoveItem { item, start_ms } => align::FixCommand::MoveItem {
            item: *item,
            start: SessionMs(*start_ms),
        },
        R::ReplaceText {
            from_ms,
            to_ms,
            text,
        } => align::FixCommand::ReplaceText {
            from: SessionMs(*from_ms),
            to: SessionMs(*to_ms),
            text: text.clone(),
        },
        R::Undo => align::FixCommand::Undo,
    };
    Ok(align::apply_fix(config, id, command, author.to_owned())
        .await?
        .0)
}

/// The report over a period (days, `YYYY-MM-DD`; default: everything).
pub(crate) async fn build_report(
    config: &Config,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<serde_json::Value> {
    let day = |text: Option<&str>, default: chrono::NaiveDate| -> Result<chrono::NaiveDate> {
        text.map_or(Ok(default), |t| {
            t.parse().map_err(|e| {
                crate::BadInput(format!("{t:?} is not a day (YYYY-MM-DD): {e}")).into()
            })
        })
    };
    let from = day(from, chrono::NaiveDate::MIN)?;
    let to = day(to, chrono::NaiveDate::MAX)?;
    Ok(serde_json::to_value(
        report::build(config, from, to).await?,
    )?)
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
