//! `aula transcribe FILE` and `aula session transcribe ID`: speech to text with word times.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use session::{SessionId, Transcript};
use transcriber::whisper::Timing;

use super::open_catalogue;
use crate::cancel::Cancel;
use crate::config::Config;
use crate::fsutil::{part_path, write_atomic};
use crate::ops::transcribe::{self as op, FileRequest, ModelChoice, MAX_BEAM};
use crate::BadInput;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    Json,
    Srt,
    Vtt,
    Txt,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TimingArg {
    /// whisper.cpp's raw token times.
    Raw,
    /// DTW token times over the model's alignment heads.
    Dtw,
    /// Raw token times snapped to the detected speech edges.
    Vad,
    /// DTW token times snapped to the detected speech edges (the default).
    DtwVad,
}

impl From<TimingArg> for Timing {
    fn from(t: TimingArg) -> Timing {
        let (dtw, vad_edges) = match t {
            TimingArg::Raw => (false, false),
            TimingArg::Dtw => (true, false),
            TimingArg::Vad => (false, true),
            TimingArg::DtwVad => (true, true),
        };
        Timing { dtw, vad_edges }
    }
}

/// Options shared by both transcribe commands.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Installed model name (`aula models list`) or a ggml .bin file; default = base.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// How word times are found.
    #[arg(long, value_enum, default_value = "dtw-vad")]
    pub timing: TimingArg,
    /// Whisper threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Beam search width (1 = greedy decoding, the fastest).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_BEAM)))]
    pub beam: u32,
    /// Transcribe a file that ends before the duration its container declares (a recording that
    /// really was cut) as far as it goes, with a warning, instead of refusing it.
    #[arg(long)]
    pub allow_truncated: bool,
}

impl ModelArgs {
    pub fn choice(&self) -> ModelChoice {
        ModelChoice {
            model: self.model.clone(),
            timing: self.timing.into(),
            threads: self.threads,
            beam: self.beam,
            allow_truncated: self.allow_truncated,
        }
    }
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Any audio or video file GStreamer can read.
    pub file: PathBuf,
    /// Language code (it, en, de...).
    #[arg(long, default_value = "it")]
    pub lang: String,
    #[arg(long, value_enum, default_value = "json")]
    pub format: OutputFormat,
    /// Write here (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Audio track when the file has several (0 = first).
    #[arg(long, default_value_t = 0)]
    pub track: usize,
    /// Take one channel (0 = first) instead of mixing all down.
    #[arg(long)]
    pub channel: Option<u32>,
    #[command(flatten)]
    pub model: ModelArgs,
}

fn render(transcript: &Transcript, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => session::to_json(transcript) + "\n",
        OutputFormat::Srt => session::subtitles::to_srt(transcript),
        OutputFormat::Vtt => session::subtitles::to_vtt(transcript),
        OutputFormat::Txt => transcript.text(),
    }
}

/// Refuses an `--out` that cannot be written (its folder missing, not a folder, not writable, or
/// the path itself a folder) before any work is done: the probe writes and removes the very
/// temporary file the atomic write will use.
pub fn check_out(path: &Path) -> Result<()> {
    let shown = path.display();
    if path.is_dir() {
        return Err(BadInput(format!("--out {shown}: is a folder, not a file")).into());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(BadInput(format!(
            "--out {shown}: the folder {} does not exist",
            parent.display()
        ))
        .into());
    }
    let part = part_path(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)
        .map_err(|e| {
            BadInput(format!(
                "--out {shown}: cannot write in {}: {e}",
                parent.display()
            ))
        })?;
    let _ = std::fs::remove_file(&part);
    Ok(())
}

pub async fn transcribe_file(config: Config, args: TranscribeArgs, cancel: Cancel) -> Result<()> {
    if let Some(out) = &args.out {
        check_out(out)?;
    }
    let request = FileRequest {
        file: args.file,
        language: args.lang,
        track: args.track,
        channel: args.channel,
        model: args.model.choice(),
    };
    let shown = crate::progress::show(&cancel, "transcribing");
    let transcript =
        tokio::task::spawn_blocking(move || op::transcribe_file(&config, &request, &cancel))
            .await?;
    drop(shown);
    let text = render(&transcript?, args.format);
    match &args.out {
        Some(path) => write_atomic(path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// `aula session transcribe ID`: the transcript's path, then the alignment's report.
pub async fn transcribe_session(
    config: &Config,
    id: &SessionId,
    args: &ModelArgs,
    cancel: Cancel,
) -> Result<()> {
    let catalogue = open_catalogue(config).await?;
    let shown = crate::progress::show(&cancel, "transcribing");
    let report = op::transcribe_session(config, &catalogue, id, &args.choice(), &cancel).await;
    drop(shown);
    let report = report?;
    println!("{}", report.transcript.display());
    if let Some(live) = &report.live_captions {
        eprintln!(
            "live captions against this transcript: {:.1}% WER ({} live words, {} here)",
            live.wer * 100.0,
            live.live_words,
            live.offline_words
        );
    }
    super::align::print_report(&report.align, &mut std::io::stderr().lock())?;
    Ok(())
}
