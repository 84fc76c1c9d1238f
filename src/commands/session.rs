//! `aula session ...`: import, list, show and delete sessions in the catalogue; transcription and
//! alignment commands are dispatched from here.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use session::{FloorEvent, Format, Session, SessionId};

use super::{open_catalogue, print_json};
use crate::cancel::Cancel;
use crate::catalogue::CatalogueError;
use crate::config::{absolute, Config};
use crate::ops;
use crate::ops::import::{ImportRequest, MediaPolicy};
use crate::BadInput;

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Import a session document (JSON, or TOML by its .toml extension); prints the session's id.
    Import {
        /// The session document.
        file: PathBuf,
        /// Floor events (mic on/off) exported by the conference system, as a JSON array.
        #[arg(long, value_name = "FILE")]
        floor_events: Option<PathBuf>,
        /// Replace a session already imported with the same id.
        #[arg(long)]
        replace: bool,
        /// Print {"id": ...} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the sessions in the catalogue.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one session; with --json, the session document as stored.
    Show {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
    /// Transcribe the session's room audio (else program, else camera) and store the transcript.
    Transcribe {
        id: SessionId,
        #[command(flatten)]
        model: super::transcribe::ModelArgs,
    },
    /// Attribute every word to a speaker and an agenda item (floor events, remote streams' and
    /// microphone channels' voice activity, the clerk's markers or the chair's announcements);
    /// corrections in effect are applied again. `session transcribe` runs it by itself.
    Align {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
    /// Show the agenda items, the interventions and (with --json) every word with its speaker.
    Timeline {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
    /// Correct the timeline: reassign words, move an item boundary, replace text, or undo.
    /// Every correction is kept as a revision (`session history`).
    Fix {
        id: SessionId,
        #[command(subcommand)]
        fix: super::align::FixCommand,
        /// Who makes the correction (default: $AULA_AUTHOR, else $USER).
        #[arg(long, global = true)]
        author: Option<String>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// The corrections made to a session's timeline, with what each changed.
    History {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
    /// Mark an agenda item as reviewed (its record read through by a person), or take the mark
    /// away; prints the session's marks.
    Review {
        id: SessionId,
        /// The agenda item's number.
        #[arg(long)]
        item: u32,
        /// Take the mark away.
        #[arg(long)]
        clear: bool,
        /// Who reviewed it (default: $AULA_AUTHOR, else $USER).
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add floor events and/or agenda markers sent after the import (JSON arrays, kept as sent;
    /// `session align` warns about bad ones).
    Evidence {
        id: SessionId,
        #[arg(long, value_name = "FILE")]
        floor_events: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        agenda_markers: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a session from the catalogue together with its outputs under $AULA_HOME/sessions/ID.
    Delete { id: SessionId },
    /// The session's verbatim record (resoconto) per agenda item, as HTML, PDF or JSON; closed
    /// parts are marked and their words left out.
    Resoconto(super::resoconto::ResocontoArgs),
}

/// Who a correction or a mark is by: `--author`, else $AULA_AUTHOR, else $USER.
fn author_or_env(author: Option<String>) -> String {
    author
        .or_else(|| std::env::var("AULA_AUTHOR").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn review(
    config: &Config,
    id: &SessionId,
    item: u32,
    reviewed: bool,
    author: &str,
    json: bool,
) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let marks = ops::review::mark(&catalogue, id, item, author, reviewed).await?;
    if json {
        return print_json(&marks);
    }
    if marks.is_empty() {
        println!("no item of {id} is marked as reviewed");
    }
    for m in &marks {
        println!(
            "item {}: reviewed by {} at {}",
            m.item,
            m.reviewer,
            m.reviewed_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}

pub async fn run(config: Config, cmd: SessionCommand, cancel: Cancel) -> Result<()> {
    let config = &config;
    match cmd {
        SessionCommand::Align { id, json } => super::align::align(config, &id, json, cancel).await,
        SessionCommand::Timeline { id, json } => super::align::timeline(config, &id, json).await,
        SessionCommand::Fix {
            id,
            fix,
            author,
            json,
        } => super::align::fix(config, &id, fix, author_or_env(author), json).await,
        SessionCommand::Review {
            id,
            item,
            clear,
            author,
            json,
        } => review(config, &id, item, !clear, &author_or_env(author), json).await,
        SessionCommand::History { id, json } => super::align::history(config, &id, json).await,
        SessionCommand::Resoconto(args) => super::resoconto::run(config, args).await,
        SessionCommand::Evidence {
            id,
            floor_events,
            agenda_markers,
            json,
        } => super::align::evidence(config, &id, floor_events, agenda_markers, json).await,
        SessionCommand::Transcribe { id, model } => {
            super::transcribe::transcribe_session(config, &id, &model, cancel).await
        }
        SessionCommand::Import {
            file,
            floor_events,
            replace,
            json,
        } => {
            let request = import_request(&file, floor_events.as_deref())?;
            let catalogue = open_catalogue(config).await?;
            let report =
                ops::import::import(config, &catalogue, &ImportRequest { replace, ..request })
                    .await
                    .map_err(|e| {
                        let already = matches!(
                            e,
                            ops::import::ImportError::Catalogue(CatalogueError::AlreadyExists(_))
                        );
                        let err = anyhow::Error::new(e);
                        if already {
                            err.context(BadInput(format!(
                                "{} was not imported (use --replace to replace it)",
                                file.display()
                            )))
                        } else {
                            err.context(format!("{} was not imported", file.display()))
                        }
                    })?;
            tracing::info!(
                "imported session {} ({} people, {} agenda items, {} floor events)",
                report.id,
                report.persons,
                report.agenda_items,
                report.floor_events
            );
            if json {
                print_json(&serde_json::json!({ "id": report.id }))
            } else {
                println!("{}", report.id);
                Ok(())
            }
        }
        SessionCommand::List { json } => {
            let sessions = open_catalogue(config).await?.list().await?;
            if json {
                return print_json(&sessions);
            }
            let mut out = std::io::stdout().lock();
            for s in sessions {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    s.id,
                    s.start.format("%Y-%m-%d %H:%M"),
                    s.mode,
                    s.language,
                    s.title
                )?;
            }
            Ok(())
        }
        SessionCommand::Show { id, json } => {
            let catalogue = open_catalogue(config).await?;
            let stored = catalogue.get(&id).await?;
            if json {
                return print_json(&stored.session);
            }
            print_session(&stored.session);
            match catalogue.transcript(&id).await? {
                Some(t) => println!(
                    "transcript: {} words, {} segments, model {}, {} of audio",
                    t.words().count(),
                    t.segments.len(),
                    t.model,
                    t.duration_ms
                ),
                None => println!("transcript: none yet (aula session transcribe {id})"),
            }
            Ok(())
        }
        SessionCommand::Delete { id } => {
            let catalogue = open_catalogue(config).await?;
            ops::delete::delete(config, &catalogue, &id).await?;
            tracing::info!("deleted session {id}");
            Ok(())
        }
    }
}

/// Reads a session document and the floor events beside it, for the import.
fn import_request(file: &Path, floor_events: Option<&Path>) -> Result<ImportRequest> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))
    };
    let text = read(file)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let floor_events = match floor_events {
        Some(path) => session::from_json::<Vec<FloorEvent>>(&read(path)?).map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "{} is not a valid floor event list",
                path.display()
            ))
        })?,
        None => Vec::new(),
    };
    let base_dir = absolute(file)?
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    Ok(ImportRequest {
        text,
        format: Format::from_file_name(&name),
        base_dir,
        floor_events,
        replace: false,
        media: MediaPolicy::Anywhere,
    })
}

fn print_session(s: &Session) {
    println!("{} - {}, {}", s.id, s.body, s.title);
    println!(
        "start {}  mode {}  language {}",
        s.start.to_rfc3339(),
        s.mode.as_str(),
        s.language
    );
    println!("sources:");
    for src in &s.sources {
        println!("  {:<16} {:<10} {}", src.id, src.kind.as_str(), src.uri);
    }
    println!("roster:");
    for p in &s.roster {
        let seat = p
            .seat
            .map_or_else(|| "remote".into(), |n| format!("seat {n}"));
        let group = p.group.as_deref().unwrap_or("");
        println!(
            "  {:<20} {:<24} {:<10} {:<8} {}",
            p.id,
            p.name,
            p.role.as_str(),
            seat,
            group
        );
    }
    println!("agenda:");
    for a in &s.agenda {
        println!("  {:>3}. {} ({})", a.number, a.title, a.kind.as_str());
    }
    println!(
        "{} closed range(s), {} floor event(s), {} agenda marker(s)",
        s.closed_ranges.len(),
        s.floor_events.len(),
        s.agenda_markers.len()
    );
}
