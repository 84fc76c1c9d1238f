//! `aula session align | timeline | fix | history | evidence`: who spoke on which item, the
//! corrections of the presidency's staff with their history, and evidence sent after the fact.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use session::{AgendaMarker, FloorEvent, SessionId, SessionMs};
use transcriber::align;

use super::{open_catalogue, print_json};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::ops::align::AlignReport;
use crate::ops::correct::{self, CorrectionRequest};
use crate::ops::evidence::{self, Checks};
use crate::BadInput;

/// A correction, as typed on the command line.
#[derive(Debug, Subcommand)]
pub enum FixCommand {
    /// The words starting between --from and --to were said by --person (a roster id, or `unknown`).
    Reassign {
        #[arg(long, value_name = "TIME")]
        from: SessionMs,
        #[arg(long, value_name = "TIME")]
        to: SessionMs,
        #[arg(long)]
        person: String,
    },
    /// Agenda item N starts at --start (the span of N nearest that time moves).
    MoveItem {
        item: u32,
        #[arg(long, value_name = "TIME")]
        start: SessionMs,
    },
    /// The words starting between --from and --to read --text.
    ReplaceText {
        #[arg(long, value_name = "TIME")]
        from: SessionMs,
        #[arg(long, value_name = "TIME")]
        to: SessionMs,
        #[arg(long)]
        text: String,
    },
    /// Reverts the latest correction still in effect.
    Undo,
}

impl FixCommand {
    fn request(self) -> CorrectionRequest {
        match self {
            FixCommand::Reassign { from, to, person } => CorrectionRequest::Reassign {
                from_ms: from.0,
                to_ms: to.0,
                person: Some(person),
            },
            FixCommand::MoveItem { item, start } => CorrectionRequest::MoveItem {
                item,
                start_ms: start.0,
            },
            FixCommand::ReplaceText { from, to, text } => CorrectionRequest::ReplaceText {
                from_ms: from.0,
                to_ms: to.0,
                text,
            },
            FixCommand::Undo => CorrectionRequest::Undo,
        }
    }
}

pub async fn align(config: &Config, id: &SessionId, json: bool, cancel: Cancel) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let report = crate::ops::align::align(config, &catalogue, id, &cancel).await?;
    if json {
        print_json(&report)
    } else {
        Ok(print_report(&report, &mut std::io::stdout().lock())?)
    }
}

pub async fn timeline(config: &Config, id: &SessionId, json: bool) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let session = catalogue.get(id).await?.session;
    let stored = catalogue.timeline(id).await?;
    if json {
        return print_json(&stored.timeline);
    }
    let t = &stored.timeline;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} - {} ({} words, {:.1}% of word time attributed; items from the {})",
        session.id,
        session.title,
        t.words.len(),
        t.attributed_share() * 100.0,
        match stored.agenda_source {
            align::AgendaSource::Markers => "clerk's markers",
            align::AgendaSource::Transcript => "chair's announcements",
        }
    )?;
    writeln!(out, "items:")?;
    for s in &t.items {
        writeln!(
            out,
            "  {:>3}  {} - {}  ({:.2})  {}",
            s.number, s.start_ms, s.end_ms, s.confidence, s.title
        )?;
    }
    writeln!(out, "interventions:")?;
    for i in &t.interventions {
        let item = i.item.map_or_else(|| "-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "  {} - {}  {:<24} {:>3}  {}",
            i.start_ms,
            i.end_ms,
            i.person
                .as_deref()
                .map_or("(unknown)", |p| session.name_of(p)),
            item,
            shorten(&i.text, 60)
        )?;
    }
    for w in &stored.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        text.chars().take(chars - 1).collect::<String>() + "…"
    }
}

pub async fn fix(
    config: &Config,
    id: &SessionId,
    command: FixCommand,
    author: String,
    json: bool,
) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let revision = correct::correct(config, &catalogue, id, &command.request(), &author).await?;
    if json {
        return print_json(&revision);
    }
    println!("revision {}: {}", revision.revision, revision.description);
    Ok(())
}

pub async fn history(config: &Config, id: &SessionId, json: bool) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let session = catalogue.get(id).await?.session;
    let revisions = catalogue.revisions(id).await?;
    if json {
        return print_json(&revisions);
    }
    if revisions.is_empty() {
        println!("no corrections");
    }
    for r in &revisions {
        let reverted = r
            .reverted_by
            .map_or_else(String::new, |n| format!("  [reverted by {n}]"));
        println!(
            "{:>3}  {}  {:<12} {}{reverted}",
            r.number,
            r.created_at.format("%Y-%m-%d %H:%M:%S"),
            r.author,
            correct::describe(&r.correction, &session)
        );
        println!("       before: {}", r.before);
        println!("       after:  {}", r.after);
    }
    Ok(())
}

/// Floor events and agenda markers sent after the session was imported.
pub async fn evidence(
    config: &Config,
    id: &SessionId,
    floor_events: Option<PathBuf>,
    agenda_markers: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    fn read<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Vec<T>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
        session::from_json(&text).map_err(|e| {
            anyhow::Error::new(e).context(format!("{} is not a valid {what} list", path.display()))
        })
    }
    if floor_events.is_none() && agenda_markers.is_none() {
        return Err(
            BadInput("give --floor-events FILE and/or --agenda-markers FILE".into()).into(),
        );
    }
    let events: Vec<FloorEvent> = match &floor_events {
        Some(path) => read(path, "floor event")?,
        None => Vec::new(),
    };
    let markers: Vec<AgendaMarker> = match &agenda_markers {
        Some(path) => read(path, "agenda marker")?,
        None => Vec::new(),
    };
    let catalogue = open_catalogue(config).await?;
    let report = evidence::add(&catalogue, id, &events, &markers, Checks::Warn).await?;
    if json {
        return print_json(&report);
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "session {id}: {} floor event(s), {} agenda marker(s); \
         run `aula session align {id}` to use them",
        report.floor_events, report.agenda_markers
    );
    Ok(())
}

/// The report in one line, then its warnings, to `out` (warnings always to standard error).
pub fn print_report(report: &AlignReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "aligned {}: {} words, {:.1}% of word time attributed, {} item span(s) from the {}, \
         {} intervention(s), {} correction(s) re-applied",
        report.session,
        report.words,
        report.attributed_percent,
        report.items,
        match report.agenda_source {
            align::AgendaSource::Markers => "clerk's markers",
            align::AgendaSource::Transcript => "transcript",
        },
        report.interventions,
        report.corrections_applied
    )?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
