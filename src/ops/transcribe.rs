//! Transcribing: a session's room audio (else program, else camera), or any file, to words with a
//! time and a confidence each, with a Whisper model from the store or a ggml file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use session::{Session, SessionId, SourceKind, Transcript};
use transcriber::audio::{AudioDecoder, Selection, Truncated};
use transcriber::models::ModelStore;
use transcriber::whisper::{self, Model, Progress, Timing, TranscribeOptions};

use super::align::AlignReport;
use crate::cancel::{Cancel, Cancelled};
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::media;
use crate::BadInput;

/// The widest beam: whisper.cpp runs one decoder per beam and at most 8 of them
/// (`WHISPER_MAX_DECODERS`).
pub const MAX_BEAM: u32 = 8;

/// Which model, and how it runs.
#[derive(Clone, Debug)]
pub struct ModelChoice {
    /// An installed model's name, or a ggml `.bin` file.
    pub model: String,
    pub timing: Timing,
    /// Whisper threads (none: one per core).
    pub threads: Option<usize>,
    /// Beam search width, 1 (greedy) to [`MAX_BEAM`].
    pub beam: u32,
    /// Transcribe a file cut short of its declared duration as far as it goes.
    pub allow_truncated: bool,
}

impl Default for ModelChoice {
    fn default() -> ModelChoice {
        ModelChoice {
            model: "default".into(),
            timing: Timing {
                dtw: true,
                vad_edges: true,
            },
            threads: None,
            beam: 1,
            allow_truncated: false,
        }
    }
}

impl ModelChoice {
    fn truncated(&self) -> Truncated {
        if self.allow_truncated {
            Truncated::Allow
        } else {
            Truncated::Refuse
        }
    }

    fn options(&self, language: &str, prompt: Option<String>) -> Result<TranscribeOptions> {
        if !(1..=MAX_BEAM).contains(&self.beam) {
            return Err(BadInput(format!("beam {}: expected 1 to {MAX_BEAM}", self.beam)).into());
        }
        let mut opts = TranscribeOptions::new(language);
        opts.timing = self.timing;
        opts.prompt = prompt;
        opts.beam_size = self.beam;
        if let Some(threads) = self.threads {
            opts.threads = threads.max(1);
        }
        Ok(opts)
    }
}

/// The store of installed models, `$AULA_HOME/models`.
pub fn model_store(config: &Config) -> ModelStore {
    ModelStore::new(config.models_dir())
}

/// The model `choice` names: a ggml file, else an installed model.
pub fn load_model(config: &Config, choice: &ModelChoice) -> Result<Model> {
    let path = Path::new(&choice.model);
    if path.is_file() {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let hparams = transcriber::models::ggml::read_header(file)?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        return Ok(Model::load(path, &name, hparams, choice.timing)?);
    }
    let (entry, path) = model_store(config).find(&choice.model)?;
    Ok(Model::load(
        &path,
        &entry.name,
        entry.hparams,
        choice.timing,
    )?)
}

/// A file to transcribe, and how.
#[derive(Clone, Debug)]
pub struct FileRequest {
    pub file: PathBuf,
    /// Language code (it, en, de...).
    pub language: String,
    /// Audio track (0 = first).
    pub track: usize,
    /// One channel instead of the mix of all.
    pub channel: Option<u32>,
    pub model: ModelChoice,
}

/// Transcribes any file GStreamer reads (blocking; progress and cancellation through `cancel`).
pub fn transcribe_file(
    config: &Config,
    request: &FileRequest,
    cancel: &Cancel,
) -> Result<Transcript> {
    let mut decoder = AudioDecoder::open_file_with(
        &request.file,
        Selection {
            track: request.track,
            channel: request.channel,
        },
        request.model.truncated(),
    )?;
    let opts = request.model.options(&request.language, None)?;
    let model = load_model(config, &request.model)?;
    run(&model, &mut decoder, &opts, cancel)
}

/// What transcribing a session did: the transcript written, and the alignment that followed.
#[derive(Debug, serde::Serialize)]
pub struct TranscribeReport {
    pub session: String,
    /// `transcripts/transcript.json`.
    pub transcript: PathBuf,
    pub words: usize,
    pub duration_ms: session::SessionMs,
    pub align: AlignReport,
    /// The live captions of a live recording against this transcript
    /// (`transcripts/live-captions.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_captions: Option<super::live_vs_offline::AgainstOffline>,
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

/// Transcribes a session (its recording when `aula record` made one), stores the transcript and
/// writes its files, then aligns it: the agenda needs no evidence beyond the words.
pub async fn transcribe_session(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    choice: &ModelChoice,
    cancel: &Cancel,
) -> Result<TranscribeReport> {
    let stored = catalogue.get(id).await?;
    let session = stored.session;
    let source = audio_source(&session).cloned().ok_or_else(|| {
        BadInput(format!(
            "session {id} has no room_audio, program or camera source to transcribe"
        ))
    })?;
    // After `aula record`, its recording of the source (a live stream is gone by then).
    let input = media::source_media(&stored.base_dir, &config.recordings_dir(id), &source);
    let opts = choice.options(
        &session.language,
        Some(whisper::prompt_from_session(&session)),
    )?;
    let (worker_config, worker_cancel, worker_choice) =
        (config.clone(), cancel.clone(), choice.clone());
    let transcript = tokio::task::spawn_blocking(move || -> Result<Transcript> {
        let mut decoder = match &input {
            Ok(file) => AudioDecoder::open_file_with(
                &file.path,
                Selection::default(),
                worker_choice.truncated(),
            )?,
            Err(uri) => AudioDecoder::open_uri(uri, uri, Selection::default())?,
        };
        let model = load_model(&worker_config, &worker_choice)?;
        let mut transcript = run(&model, &mut decoder, &opts, &worker_cancel)?;
        if let Ok(file) = &input {
            file.place(&mut transcript);
        }
        Ok(transcript)
    })
    .await??;
    let dir = config.transcripts_dir(id);
    super::outputs::write_transcript_files(&dir, &transcript, &session)?;
    catalogue.put_transcript(id, &transcript).await?;
    let live_captions =
        super::live_vs_offline::compare(&config.recordings_dir(id), &dir, &session, &transcript)?;
    let align = super::align::align(config, catalogue, id, cancel).await?;
    Ok(TranscribeReport {
        session: id.to_string(),
        transcript: dir.join("transcript.json"),
        words: transcript.words().count(),
        duration_ms: transcript.duration_ms,
        align,
        live_captions,
    })
}

/// Runs the model over the decoder, noting progress in `cancel`.
fn run(
    model: &Model,
    decoder: &mut AudioDecoder,
    opts: &TranscribeOptions,
    cancel: &Cancel,
) -> Result<Transcript> {
    let started = Instant::now();
    let report = |p: Progress| {
        let total = p.total_ms.unwrap_or(p.done_ms).max(p.done_ms);
        cancel.set_progress(p.done_ms as f64 / total.max(1) as f64);
    };
    let transcript =
        match whisper::transcribe(model, decoder, opts, report, || cancel.is_cancelled()) {
            Err(whisper::TranscribeError::Cancelled) => return Err(Cancelled.into()),
            other => other?,
        };
    let wall_s = started.elapsed().as_secs_f64();
    tracing::info!(
        "{} words in {} of audio, {wall_s:.1} s wall ({:.1}x real time)",
        transcript.words().count(),
        transcript.duration_ms,
        transcript.duration_ms.0 as f64 / 1000.0 / wall_s.max(0.001)
    );
    Ok(transcript)
}
