//! `aula record ID`, `aula record finalize ID`, `aula record status ID`: each source recorded as
//! received in self-contained segments under `$AULA_HOME/sessions/ID/recordings/<source>/`, and
//! joined into `recordings/<source>.mp4`.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{open_catalogue, print_json};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::ops::captions::CaptionsChoice;
use crate::ops::record::{self, RecordRequest};
use crate::BadInput;
use session::SessionId;

/// `aula record ID [--duration S]`, or one of the subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RecordArgs {
    #[command(subcommand)]
    pub command: Option<RecordCommand>,
    /// The session whose sources to record until they end, --duration passes or Ctrl-C (each
    /// source stops cleanly: its last segment is closed).
    #[arg(required = true)]
    pub id: Option<SessionId>,
    /// Stop after this many seconds of wall-clock time.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Longest segment, in seconds (cut at the next keyframe after it).
    #[arg(long, default_value_t = 10)]
    pub segment_seconds: u64,
    /// Pace file sources at their own speed, as a live capture (for rehearsals and tests).
    #[arg(long)]
    pub realtime: bool,
    /// Also stream the program (else the first camera) as live HLS under sessions/ID/live/, in the
    /// live-720p and live-360p presets.
    #[arg(long)]
    pub live: bool,
    /// Stream live without captions (by default the live stream is captioned with the installed
    /// default model, when one speaks the session's language).
    #[arg(long)]
    pub no_captions: bool,
    /// The model that captions the live stream: an installed model's name or a ggml file.
    #[arg(long, default_value = "default")]
    pub captions_model: String,
    /// The longest the live stream waits for its captions, in milliseconds (the picture and sound
    /// are delayed by up to this much so that each caption shows with its words).
    #[arg(long, default_value_t = crate::ops::captions::DEFAULT_DELAY_MS)]
    pub caption_delay_ms: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Join each source's segments into recordings/<source>.mp4, without re-encoding.
    Finalize {
        id: SessionId,
        /// Fail a join that makes no progress for this many seconds.
        #[arg(long, default_value_t = 30)]
        stall_seconds: u64,
        #[arg(long)]
        json: bool,
    },
    /// Each source's segments, recorded length and finalized file.
    Status {
        id: SessionId,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, mut args: RecordArgs, cancel: Cancel) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let cmd = match (args.command.take(), args.id.clone()) {
        (Some(cmd), _) => cmd,
        (None, Some(id)) => {
            let request = RecordRequest {
                id,
                duration: args.duration.map(Duration::from_secs),
                segment_ms: args.segment_seconds.saturating_mul(1000),
                realtime: args.realtime,
                live: args.live,
                captions: (!args.no_captions).then(|| CaptionsChoice {
                    model: args.captions_model.clone(),
                    max_delay_ms: args.caption_delay_ms.min(60_000),
                }),
            };
            let report = record::record(config, &catalogue, &request, cancel).await?;
            if args.json {
                return print_json(&report);
            }
            if !report.shots.is_empty() {
                println!("program: {} change(s) of speaker shown", report.shots.len());
            }
            for r in &report.live {
                println!("live {}: {} segment(s)", r.rendition, r.segments);
            }
            for index in &report.sources {
                println!(
                    "{}: {} segment(s), {} ms",
                    index.source,
                    index.segments.len(),
                    index.duration_ms()
                );
            }
            return Ok(());
        }
        (None, None) => return Err(BadInput("give a session id".into()).into()),
    };
    match cmd {
        RecordCommand::Finalize {
            id,
            stall_seconds,
            json,
        } => {
            let joined = record::finalize(
                config,
                &catalogue,
                &id,
                stall_seconds.saturating_mul(1000),
                &cancel,
            )
            .await?;
            if json {
                return print_json(&joined);
            }
            for path in joined {
                println!("{}", path.display());
            }
            Ok(())
        }
        RecordCommand::Status { id, json } => {
            let status = record::status(config, &catalogue, &id).await?;
            if json {
                return print_json(&status);
            }
            for s in status {
                println!(
                    "{:<20} {:>4} segment(s) {:>10} ms  {}",
                    s.source,
                    s.segments,
                    s.recorded_ms,
                    s.finalized
                        .map_or_else(|| "not finalized".to_owned(), |p| p.display().to_string())
                );
            }
            Ok(())
        }
    }
}
