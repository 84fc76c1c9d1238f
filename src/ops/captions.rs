//! Live captions of a live recording: the program's sound goes to the streaming transcriber on
//! its own thread (an installed model, a smaller one as the fallback), the words come back to the
//! live ladder as its WebVTT rendition (`live/captions/`).

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use pipeline::captions::CaptionedWord;
use pipeline::live::CaptionOptions;
use pipeline::program::{CaptionFeed, CaptionUpdate, ProgramResult};
use serde::Serialize;
use session::Session;
use transcriber::stream::{self, StreamBlock, StreamEvent, StreamOptions, StreamStats};
use transcriber::whisper::{prompt_from_session, Model, Timing};

use super::transcribe::{load_model, ModelChoice};
use crate::config::Config;
use crate::fsutil::write_atomic;

/// The longest a live segment waits for its captions, by default: above the p95 caption latency
/// measured with base q8_0 and base on 2 cores with the ladder running (5.1 s and 5.4 s,
/// `benches/live_captions.rs`), so that nearly every cue shows with its words.
pub const DEFAULT_DELAY_MS: u64 = 6_000;

/// Blocks of sound (about 10 ms each) waiting for the transcriber before new ones are dropped.
const BACKLOG_BLOCKS: usize = 3000;

/// Which model captions a live recording, and how long the stream waits for them.
#[derive(Clone, Debug)]
pub struct CaptionsChoice {
    /// An installed model's name or a ggml file; "default" is the installed default model.
    pub model: String,
    pub max_delay_ms: u64,
}

impl Default for CaptionsChoice {
    fn default() -> Self {
        CaptionsChoice {
            model: "default".into(),
            max_delay_ms: DEFAULT_DELAY_MS,
        }
    }
}

/// A running transcriber and what the program needs of it.
pub struct Running {
    pub feed: CaptionFeed,
    pub options: CaptionOptions,
    pub thread: JoinHandle<StreamStats>,
}

/// The model that can caption `language`: `name`, then the smaller fallback when installed.
fn models(config: &Config, name: &str, language: &str) -> Result<Vec<Model>> {
    let load = |model: &str| {
        load_model(
            config,
            &ModelChoice {
                model: model.to_owned(),
                timing: Timing {
                    dtw: true,
                    vad_edges: false,
                },
                ..ModelChoice::default()
            },
        )
    };
    let main = load(name)?;
    if !main.hparams.is_multilingual() && language != "en" {
        anyhow::bail!(crate::BadInput(format!(
            "model {} is English-only; the session speaks {language:?}",
            main.name
        )));
    }
    let fallback = if language == "en" { "tiny.en" } else { "tiny" };
    let mut out = vec![main];
    if out[0].name != fallback {
        if let Ok(small) = load(fallback) {
            out.push(small);
        }
    }
    Ok(out)
}

/// Starts the transcriber for a live recording of `session`; none, with a warning, when no model
/// that speaks its language is installed (the stream goes out without captions).
pub fn start(config: &Config, session: &Session, choice: &CaptionsChoice) -> Option<Running> {
    let models = match models(config, &choice.model, &session.language) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("live captions off: {e:#}");
            return None;
        }
    };
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    tracing::info!("live captions with {}", names.join(", then "));
    let opts = StreamOptions::new(&session.language, Some(prompt_from_session(session)));
    let (blocks, heard) = mpsc::sync_channel::<StreamBlock>(BACKLOG_BLOCKS);
    let (updates, back) = mpsc::channel::<CaptionUpdate>();
    let thread = stream::spawn(models, opts, heard, move |event| {
        // An error means the program is gone: nothing is left to caption.
        let _ = match event {
            StreamEvent::Words(words) => words.into_iter().try_for_each(|w| {
                updates.send(CaptionUpdate::Word {
                    text: w.text,
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                })
            }),
            StreamEvent::Through(ms) => updates.send(CaptionUpdate::Through(ms)),
        };
    });
    let thread = match thread {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("live captions off: the transcriber does not start: {e}");
            return None;
        }
    };
    let feed = CaptionFeed::new(
        move |start_ms, samples| blocks.try_send(StreamBlock { start_ms, samples }).is_ok(),
        back,
    );
    let label = if session.language == "it" {
        "Italiano (automatici)".to_owned()
    } else {
        format!("{} (automatic)", session.language)
    };
    Some(Running {
        feed,
        options: CaptionOptions {
            language: session.language.clone(),
            label,
            max_delay_ms: choice.max_delay_ms,
        },
        thread,
    })
}

/// Median and 95th percentile, in ms.
#[derive(Debug, Serialize)]
pub struct Spread {
    pub count: usize,
    pub median_ms: u64,
    pub p95_ms: u64,
}

fn spread(mut values: Vec<u64>) -> Option<Spread> {
    values.sort_unstable();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (!values.is_empty()).then(|| Spread {
        count: values.len(),
        median_ms: at(0.5),
        p95_ms: at(0.95),
    })
}

/// `recordings/program/live-captions.json`: how the captioning went.
#[derive(Debug, Serialize)]
struct CaptionsReport<'a> {
    stream: StreamStats,
    /// From a word's end to its cue being listed.
    caption_latency: Option<Spread>,
    /// From a segment's first frame to its listing, first rendition (the delay included).
    listing_latency: Option<Spread>,
    words: &'a [CaptionedWord],
}

/// Writes what the live captions did (the words, their latency, the transcriber's figures)
/// beside the program's recording, for the editors and the benchmark.
pub fn write_report(dir: &Path, stream: StreamStats, program: &ProgramResult) -> Result<()> {
    tracing::info!(
        "live captions: {} words in {} passes, {} ms of Whisper for {} ms of sound, {} fallback(s), ended with {}",
        stream.words,
        stream.passes,
        stream.inference_ms,
        stream.audio_ms,
        stream.fallbacks,
        stream.model
    );
    let first = program.renditions.first().map(|(name, _)| name.as_str());
    let report = CaptionsReport {
        stream,
        caption_latency: spread(
            program
                .captioned
                .iter()
                .filter_map(|w| w.listed_after_ms)
                .collect(),
        ),
        listing_latency: spread(
            program
                .listed
                .iter()
                .filter(|l| Some(l.rendition.as_str()) == first)
                .map(|l| l.latency_ms)
                .collect(),
        ),
        words: &program.captioned,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(
        &dir.join("live-captions.json"),
        &serde_json::to_vec_pretty(&report)?,
    )
}
