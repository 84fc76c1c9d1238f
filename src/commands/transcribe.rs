//! `aula transcribe FILE` and `aula session transcribe ID`: speech to text with word times.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use session::{Person, Session, SessionId, SourceKind, Transcript};
use transcriber::audio::{AudioDecoder, Selection, Truncated};
use transcriber::whisper::{self, Model, Progress, Timing, TranscribeOptions};

use super::models::store;
use crate::cancel::Cancel;
use crate::config::Config;
use crate::fsutil::{part_path, write_atomic};
use crate::media;
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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_BEAM))]
    pub beam: u32,
    /// Transcribe a file that ends before the duration its container declares (a recording that
    /// really was cut) as far as it goes, with a warning, instead of refusing it.
    #[arg(long)]
    pub allow_truncated: bool,
}

/// The widest beam: whisper.cpp runs one decoder per beam and at most 8 of them
/// (`WHISPER_MAX_DECODERS`).
pub const MAX_BEAM: i64 = 8;

impl ModelArgs {
    fn truncated(&self) -> Truncated {
        if self.allow_truncated {
            Truncated::Allow
        } else {
            Truncated::Refuse
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

pub fn load_model(config: &Config, args: &ModelArgs) -> Result<Model> {
    let timing = Timing::from(args.timing);
    let path = Path::new(&args.model);
    if path.is_file() {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let hparams = transcriber::models::ggml::read_header(file)?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        return Ok(Model::load(path, &name, hparams, timing)?);
    }
    let (entry, path) = store(config).find(&args.model)?;
    Ok(Model::load(&path, &entry.name, entry.hparams, timing)?)
}

/// Runs a transcription with a progress bar on a terminal, log lines otherwise.
fn run_with_progress(
    model: &Model,
    decoder: &mut AudioDecoder,
    opts: &TranscribeOptions,
    cancel: &Cancel,
) -> Result<Transcript> {
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} transcribing [{bar:30}] {msg} ETA {eta}",
            )
            .expect("constant template")
            .progress_chars("=> "),
        );
        bar
    });
    let report = |p: Progress| {
        let elapsed_s = started.elapsed().as_secs_f64().max(0.001);
        let speed = p.done_ms as f64 / 1000.0 / elapsed_s;
        let total = p.total_ms.unwrap_or(p.done_ms).max(p.done_ms);
        cancel.set_progress(p.done_ms as f64 / total.max(1) as f64);
        let msg = format!(
            "{} / {} ({speed:.1}x real time)",
            session::SessionMs(p.done_ms),
            session::SessionMs(total)
        );
        match &bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(p.done_ms);
                bar.set_message(msg);
            }
            None => tracing::info!("transcribed {msg}"),
        }
    };
    let result = whisper::transcribe(model, decoder, opts, report, || cancel.is_cancelled());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let transcript = match result {
        Err(transcriber::whisper::TranscribeError::Cancelled) => {
            return Err(crate::cancel::Cancelled.into())
        }
        other => other?,
    };
    tracing::info!(
        "{} words in {} of audio, {:.1} s wall",
        transcript.words().count(),
        transcript.duration_ms,
        started.elapsed().as_secs_f64()
    );
    Ok(transcript)
}

fn options(language: &str, args: &ModelArgs, prompt: Option<String>) -> TranscribeOptions {
    let mut opts = TranscribeOptions::new(language);
    opts.timing = args.timing.into();
    opts.prompt = prompt;
    opts.beam_size = args.beam;
    if let Some(threads) = args.threads {
        opts.threads = threads.max(1);
    }
    opts
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
    let text = tokio::task::spawn_blocking(move || -> Result<String> {
        let mut decoder = AudioDecoder::open_file_with(
            &args.file,
            Selection {
                track: args.track,
                channel: args.channel,
            },
            args.model.truncated(),
        )?;
        let model = load_model(&config, &args.model)?;
        let opts = options(&args.lang, &args.model, None);
        let transcript = run_with_progress(&model, &mut decoder, &opts, &cancel)?;
        let text = render(&transcript, args.format);
        match &args.out {
            Some(path) => {
                write_atomic(path, text.as_bytes())?;
                Ok(String::new())
            }
            None => Ok(text),
        }
    })
    .await??;
    print!("{text}");
    Ok(())
}

/// The source whose audio is transcribed: the room audio, else the program, else the first camera.
pub fn audio_source(session: &Session) -> Option<&session::Source> {
    [
        SourceKind::RoomAudio,
        SourceKind::Program,
        SourceKind::Camera,
    ]
    .iter()
    .find_map(|kind| session.sources.iter().find(|s| s.kind == *kind))
}

pub async fn transcribe_session(
    config: Config,
    id: SessionId,
    args: ModelArgs,
    cancel: Cancel,
) -> Result<()> {
    let catalogue = super::open_catalogue(&config).await?;
    let stored = catalogue.get(&id).await?;
    let session = stored.session;
    let source = audio_source(&session).cloned().ok_or_else(|| {
        crate::BadInput(format!(
            "session {id} has no room_audio, program or camera source to transcribe"
        ))
    })?;
    // After `aula record`, its recording of the source (a live stream is gone by then).
    let input = media::source_media(
        &stored.base_dir,
        &config.session_dir(&id).join("recordings"),
        &source,
    );
    let dir = config.session_dir(&id).join("transcripts");
    let prompt = whisper::prompt_from_session(&session);
    let language = session.language.clone();
    let (worker_config, worker_cancel) = (config.clone(), cancel.clone());
    let transcript = tokio::task::spawn_blocking(move || -> Result<Transcript> {
        let (config, cancel) = (worker_config, worker_cancel);
        let mut decoder = match &input {
            Ok(file) => {
                AudioDecoder::open_file_with(&file.path, Selection::default(), args.truncated())?
            }
            Err(uri) => AudioDecoder::open_uri(uri, uri, Selection::default())?,
        };
        let model = load_model(&config, &args)?;
        let opts = options(&language, &args, Some(prompt));
        let mut transcript = run_with_progress(&model, &mut decoder, &opts, &cancel)?;
        if let Ok(file) = &input {
            file.place(&mut transcript);
        }
        Ok(transcript)
    })
    .await??;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_transcript_files(&dir, &transcript, &session.roster)?;
    catalogue.put_transcript(&id, &transcript).await?;
    println!("{}", dir.join("transcript.json").display());
    // Speakers and agenda items follow at once: the agenda needs no evidence beyond the words.
    let report = super::align::align_session(&config, &id, &cancel).await?;
    super::align::print_report(&report, &mut std::io::stderr().lock())?;
    Ok(())
}

/// `transcript.{json,srt,vtt,txt}` in `dir`; the text names the speaker of each passage when known.
pub fn write_transcript_files(
    dir: &Path,
    transcript: &Transcript,
    roster: &[Person],
) -> Result<()> {
    write_atomic(
        &dir.join("transcript.json"),
        session::to_json(transcript).as_bytes(),
    )?;
    write_atomic(
        &dir.join("transcript.srt"),
        session::subtitles::to_srt(transcript).as_bytes(),
    )?;
    write_atomic(
        &dir.join("transcript.vtt"),
        session::subtitles::to_vtt(transcript).as_bytes(),
    )?;
    write_atomic(
        &dir.join("transcript.txt"),
        text_with_speakers(transcript, roster).as_bytes(),
    )
}

/// One paragraph per change of speaker, headed by the time and the speaker's name; a transcript
/// without speakers is one segment a line.
fn text_with_speakers(transcript: &Transcript, roster: &[Person]) -> String {
    if transcript.words().all(|w| w.person.is_none()) {
        return transcript.text();
    }
    let mut out = String::new();
    let mut current: Option<Option<&str>> = None;
    for segment in &transcript.segments {
        let person = segment.words.first().and_then(|w| w.person.as_deref());
        if current == Some(person) {
            out.push(' ');
        } else {
            if current.is_some() {
                out.push_str("\n\n");
            }
            let name = person.map_or("(unknown)", |id| {
                roster
                    .iter()
                    .find(|p| p.id == id)
                    .map_or(id, |p| p.name.as_str())
            });
            out.push_str(&format!("[{}] {name}: ", segment.start_ms));
            current = Some(person);
        }
        out.push_str(segment.text.trim());
    }
    out.push('\n');
    out
}
