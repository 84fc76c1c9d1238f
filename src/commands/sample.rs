//! `aula sample create`: generated sessions with known truth.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use sample::{script::Lang, SampleOptions};
use session::Mode;

use super::print_json;
use crate::cancel::Cancel;
use crate::config::absolute;

#[derive(Debug, Subcommand)]
pub enum SampleCommand {
    /// Write DIR/session.json, the media, DIR/floor_events.json and DIR/truth.json.
    Create(SampleArgs),
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Output folder (created when missing).
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value = "it")]
    pub lang: LangArg,
    /// Same seed, same session.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Draw the people from this seed instead: sessions of other seeds with the same cast seed
    /// share their roster (the same person ids, names, groups and seats).
    #[arg(long)]
    pub cast_seed: Option<u64>,
    /// Length of the session in seconds.
    #[arg(long, default_value_t = 120)]
    pub seconds: u64,
    /// Councillors besides the chair.
    #[arg(long, default_value_t = 3)]
    pub speakers: u32,
    /// Agenda items.
    #[arg(long, default_value_t = 3)]
    pub items: u32,
    #[arg(long, value_enum, default_value = "in_person")]
    pub mode: ModeArg,
    /// Largest offset of a floor event from the speech it marks.
    #[arg(long, default_value_t = 300)]
    pub jitter_ms: u64,
    /// Silence as a share of the session (each line followed by proportionally long silence).
    #[arg(long, value_name = "PERCENT")]
    pub silence_percent: Option<u64>,
    /// Add a stretch of music (tones, then noise) after the opening.
    #[arg(long, default_value_t = 0)]
    pub music_seconds: u64,
    /// A councillor's turn starts this long before another person's line ends (at most a quarter
    /// of either line), as in a heated debate.
    #[arg(long, default_value_t = 0)]
    pub overlap_ms: u64,
    /// Steady room noise (pink, like ventilation) this many dB below the speech.
    #[arg(long, value_name = "DB")]
    pub noise_snr_db: Option<u32>,
    /// Babble from the public gallery: unintelligible voices 15 dB below the speech throughout.
    #[arg(long)]
    pub babble: bool,
    /// A part held behind closed doors, in seconds (e.g. 40-55): a marker tone and a spoken marker
    /// word replace its turns, and the document lists it as a closed range.
    #[arg(long, value_name = "FROM-TO", value_parser = parse_seconds_range)]
    pub closed: Option<(u64, u64)>,
    /// Also record the room with one channel per seat's microphone (room-mics.wav, a room_audio
    /// source with channel_seats).
    #[arg(long)]
    pub mic_channels: bool,
    /// Print a summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LangArg {
    It,
    En,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ModeArg {
    InPerson,
    Hybrid,
}

pub async fn create(args: SampleArgs, cancel: Cancel) -> Result<()> {
    let opts = SampleOptions {
        lang: match args.lang {
            LangArg::It => Lang::It,
            LangArg::En => Lang::En,
        },
        seed: args.seed,
        cast_seed: args.cast_seed,
        seconds: args.seconds,
        speakers: args.speakers,
        items: args.items,
        mode: match args.mode {
            ModeArg::InPerson => Mode::InPerson,
            ModeArg::Hybrid => Mode::Hybrid,
        },
        jitter_ms: args.jitter_ms,
        mic_channels: args.mic_channels,
        closed_ms: args.closed.map(|(a, b)| (a * 1000, b * 1000)),
        pacing: sample::script::Pacing {
            silence_percent: args.silence_percent,
            music_ms: args.music_seconds * 1000,
            overlap_ms: args.overlap_ms,
            noise_snr_db: args.noise_snr_db,
            babble: args.babble,
        },
    };
    let dir = absolute(&args.dir)?;
    let created =
        tokio::task::spawn_blocking(move || sample::create(&dir, &opts, &|| cancel.is_cancelled()))
            .await?;
    let summary = created?;
    if args.json {
        print_json(&summary)
    } else {
        println!(
            "sample session {} ({} s, {} utterances) in {}: {}",
            summary.session,
            summary.duration_ms / 1000,
            summary.utterances,
            summary.dir.display(),
            summary.files.join(", ")
        );
        Ok(())
    }
}

fn parse_seconds_range(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{text:?} is not a range of seconds (expected FROM-TO, e.g. 40-55)");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if b <= a {
        return Err(bad());
    }
    Ok((a, b))
}
