//! whisper-rs glue: loading a model, transcribing the chunks of a decoded input, and turning
//! tokens into words with session times. Inference runs on the caller's thread; the caller keeps
//! it off any streaming thread.

use session::ErrorKind;
use std::path::Path;

use session::{Segment, SessionMs, Transcript, Word};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState,
};

use crate::audio::{AudioDecoder, AudioError, SAMPLE_RATE_HZ};
use crate::models::{Hparams, ModelError};
use crate::vad::{Chunk, Chunker, SpeechEdges, VadSettings};
use crate::whisper_cpp::quiet_logs;
use crate::words::{self, ChunkWord, Token};

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("model {model} is English-only; it cannot transcribe language {language:?} (use a multilingual model such as base)")]
    EnglishOnly { model: String, language: String },
    #[error("{0:?} is not a language Whisper knows")]
    UnknownLanguage(String),
    #[error("whisper.cpp failed: {0}")]
    Whisper(String),
    #[error("cancelled")]
    Cancelled,
}

impl TranscribeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TranscribeError::Audio(e) => e.kind(),
            TranscribeError::Model(e) => e.kind(),
            TranscribeError::EnglishOnly { .. } | TranscribeError::UnknownLanguage(_) => {
                ErrorKind::BadInput
            }
            TranscribeError::Cancelled => ErrorKind::Cancelled,
            TranscribeError::Whisper(_) => ErrorKind::Internal,
        }
    }
}

/// How word times are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// whisper.cpp's DTW token times over the model's alignment heads instead of its raw token times.
    pub dtw: bool,
    /// Snap the first and last word of each speech region to the detected speech edges.
    pub vad_edges: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            dtw: true,
            vad_edges: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TranscribeOptions {
    pub language: String,
    /// Names and titles that should come out right (the roster, the agenda).
    pub prompt: Option<String>,
    pub threads: usize,
    pub timing: Timing,
    pub no_speech_threshold: f32,
    pub max_compression_ratio: f32,
    /// Beam search width; 1 decodes greedily.
    pub beam_size: u32,
    pub vad: VadSettings,
    /// Decode again at higher temperatures when a decode fails Whisper's checks.
    pub temperature_fallback: bool,
    /// The fewest encoder positions (20 ms each) a chunk is encoded with.
    pub min_audio_ctx: u64,
}

impl TranscribeOptions {
    pub fn new(language: &str) -> TranscribeOptions {
        TranscribeOptions {
            language: language.to_owned(),
            prompt: None,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            timing: Timing::default(),
            no_speech_threshold: 0.6,
            max_compression_ratio: 2.4,
            beam_size: 1,
            vad: VadSettings::default(),
            temperature_fallback: true,
            min_audio_ctx: 750,
        }
    }
}

/// A loaded Whisper model.
pub struct Model {
    pub(crate) ctx: WhisperContext,
    pub name: String,
    pub hparams: Hparams,
}

fn dtw_preset(hp: &Hparams) -> Option<DtwModelPreset> {
    Some(match (hp.size_name(), hp.is_multilingual()) {
        ("tiny", false) => DtwModelPreset::TinyEn,
        ("tiny", true) => DtwModelPreset::Tiny,
        ("base", false) => DtwModelPreset::BaseEn,
        ("base", true) => DtwModelPreset::Base,
        ("small", false) => DtwModelPreset::SmallEn,
        ("small", true) => DtwModelPreset::Small,
        ("medium", false) => DtwModelPreset::MediumEn,
        ("medium", true) => DtwModelPreset::Medium,
        _ => return None,
    })
}

impl Model {
    pub fn load(
        path: &Path,
        name: &str,
        hparams: Hparams,
        timing: Timing,
    ) -> Result<Model, ModelError> {
        quiet_logs();
        let path_str = path
            .to_str()
            .ok_or_else(|| ModelError::Load(path.to_path_buf()))?;
        let mut params = WhisperContextParameters::default();
        if timing.dtw {
            let mode = match dtw_preset(&hparams) {
                Some(model_preset) => DtwMode::ModelPreset { model_preset },
                None => DtwMode::TopMost {
                    n_top: hparams.n_text_layer.min(2),
                },
            };
            params.dtw_parameters(DtwParameters {
                mode,
                ..DtwParameters::default()
            });
        }
        let ctx = WhisperContext::new_with_params(path_str, params)
            .map_err(|_| ModelError::Load(path.to_path_buf()))?;
        Ok(Model {
            ctx,
            name: name.to_owned(),
            hparams,
        })
    }
}

/// How far a transcription has come.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub done_ms: u64,
    pub total_ms: Option<u64>,
}

/// Builds the initial prompt from the people and the agenda, within Whisper's prompt budget.
pub fn prompt_from_session(session: &session::Session) -> String {
    let mut prompt = format!("{}. {}.", session.body, session.title);
    let names: Vec<&str> = session.roster.iter().map(|p| p.name.as_str()).collect();
    if !names.is_empty() {
        prompt.push(' ');
        prompt.push_str(&names.join(", "));
        prompt.push('.');
    }
    for item in &session.agenda {
        prompt.push_str(&format!(" {}.", item.title));
    }
    // About 150 tokens: Whisper keeps at most half its 448-token context for the prompt.
    if prompt.len() > 600 {
        let mut cut = 600;
        while !prompt.is_char_boundary(cut) {
            cut -= 1;
        }
        prompt.truncate(cut);
    }
    prompt
}

/// Transcribes everything `decoder` yields. `cancelled` is polled between chunks.
pub fn transcribe(
    model: &Model,
    decoder: &mut AudioDecoder,
    opts: &TranscribeOptions,
    mut on_progress: impl FnMut(Progress),
    cancelled: impl Fn() -> bool,
) -> Result<Transcript, TranscribeError> {
    if !model.hparams.is_multilingual() && opts.language != "en" {
        return Err(TranscribeError::EnglishOnly {
            model: model.name.clone(),
            language: opts.language.clone(),
        });
    }
    if whisper_rs::get_lang_id(&opts.language).is_none() {
        return Err(TranscribeError::UnknownLanguage(opts.language.clone()));
    }
    let mut state = model
        .ctx
        .create_state()
        .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
    let mut chunker = Chunker::new(opts.vad.clone());
    let mut segments = Vec::new();
    let rate = u64::from(SAMPLE_RATE_HZ);
    let mut total_ms = None;
    loop {
        if cancelled() {
            return Err(TranscribeError::Cancelled);
        }
        let block = decoder.next_block()?;
        total_ms = total_ms.or_else(|| decoder.duration_ms());
        match &block {
            Some(samples) => chunker.push(samples),
            None => chunker.finish(),
        }
        while let Some(chunk) = chunker.pop() {
            if cancelled() {
                return Err(TranscribeError::Cancelled);
            }
            segments.extend(transcribe_chunk_whole(
                &mut state,
                model.ctx.token_eot(),
                &chunk,
                opts,
            )?);
            on_progress(Progress {
                done_ms: chunker.position() * 1000 / rate,
                total_ms,
            });
        }
        if block.is_none() {
            break;
        }
    }
    let duration_ms = chunker.position() * 1000 / rate;
    if tracing::enabled!(tracing::Level::DEBUG) {
        // whisper.cpp's own breakdown (mel, encode, decode...) through the logging hook.
        model.ctx.print_timings();
    }
    Ok(Transcript {
        language: opts.language.clone(),
        model: model.name.clone(),
        duration_ms: SessionMs(duration_ms),
        segments,
    })
}

fn full_params<'a>(opts: &'a TranscribeOptions, chunk: &Chunk) -> FullParams<'a, 'a> {
    let strategy = if opts.beam_size > 1 {
        SamplingStrategy::BeamSearch {
            beam_size: opts.beam_size as i32,
            patience: -1.0,
        }
    } else {
        SamplingStrategy::Greedy { best_of: 1 }
    };
    let mut params = FullParams::new(strategy);
    params.set_language(Some(&opts.language));
    params.set_n_threads(opts.threads as i32);
    params.set_no_context(true);
    params.set_token_timestamps(true);
    // With DTW the word times come from the alignment heads, so Whisper need not predict
    // timestamp tokens: fewer tokens, and each window is encoded once instead of re-seeking.
    params.set_no_timestamps(opts.timing.dtw);
    // The encoder sees 20 ms per position: a chunk shorter than 30 s needs fewer of the 1500
    // positions (with a margin, and by default never under half, where Whisper's accuracy is
    // known to drop).
    let positions =
        (chunk.duration_ms() / 20 + 64).clamp(opts.min_audio_ctx.min(1500), 1500) as i32;
    params.set_audio_ctx(positions);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    params.set_suppress_blank(true);
    params.set_suppress_nst(true);
    params.set_no_speech_thold(opts.no_speech_threshold);
    params.set_temperature(0.0);
    params.set_temperature_inc(if opts.temperature_fallback { 0.2 } else { 0.0 });
    params.set_entropy_thold(opts.max_compression_ratio);
    params.set_logprob_thold(-1.0);
    if let Some(prompt) = &opts.prompt {
        params.set_initial_prompt(prompt);
    }
    params
}

/// Detected speech this long without a word is decoded again on its own.
const UNHEARD_MS: u64 = 2000;

/// Transcribes one chunk, then decodes again alone each stretch of detected speech of at least
/// `UNHEARD_MS` where the first decode put no word: Whisper can end a window early or pass over
/// a stretch of noisy or overlapping speech, without timestamp tokens especially.
fn transcribe_chunk_whole(
    state: &mut WhisperState,
    eot: i32,
    chunk: &Chunk,
    opts: &TranscribeOptions,
) -> Result<Vec<Segment>, TranscribeError> {
    let mut segments = transcribe_chunk(state, eot, chunk, opts)?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        let pieces: Vec<(u64, u64)> = chunk.speech_edges_ms().iter().map(|e| e.piece_ms).collect();
        let text: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
        tracing::debug!("chunk of pieces {pieces:?} ms heard {text:?}");
    }
    for (from, to) in unheard(chunk, &segments, UNHEARD_MS) {
        let part = chunk.within(from.saturating_sub(200), to + 200);
        if part.audio.is_empty() {
            continue;
        }
        tracing::debug!("decoding {from}-{to} ms again alone: speech without words");
        for mut segment in transcribe_chunk(state, eot, &part, opts)? {
            segment.words.retain(|w| (from..to).contains(&w.start_ms.0));
            segments.extend(Segment::from_words(segment.words));
        }
    }
    segments.sort_by_key(|s| s.start_ms);
    Ok(segments)
}

/// Stretches (session ms) of at least `min_ms` of detected speech in which no word lies.
pub fn unheard(chunk: &Chunk, segments: &[Segment], min_ms: u64) -> Vec<(u64, u64)> {
    let mut words: Vec<(u64, u64)> = segments
        .iter()
        .flat_map(|s| &s.words)
        .map(|w| (w.start_ms.0, w.end_ms.0))
        .collect();
    words.sort_unstable();
    let mut out = Vec::new();
    for edges in chunk.speech_edges_ms() {
        let mut heard_until = edges.onset_ms;
        for &(start, end) in words
            .iter()
            .filter(|w| w.1 > edges.onset_ms && w.0 < edges.offset_ms)
        {
            if start >= heard_until + min_ms {
                out.push((heard_until, start));
            }
            heard_until = heard_until.max(end);
        }
        if edges.offset_ms >= heard_until + min_ms {
            out.push((heard_until, edges.offset_ms));
        }
    }
    out
}

/// Transcribes one chunk and maps its words to session time; tokens from `eot` on are special.
pub fn transcribe_chunk(
    state: &mut WhisperState,
    eot: i32,
    chunk: &Chunk,
    opts: &TranscribeOptions,
) -> Result<Vec<Segment>, TranscribeError> {
    state
        .full(full_params(opts, chunk), &chunk.audio)
        .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
    let mut out: Vec<Segment> = Vec::new();
    // The previous kept segment's text and the speech region it started in.
    let mut previous: Option<(String, (u64, u64))> = None;
    for segment in state.as_iter() {
        let text = segment
            .to_str_lossy()
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        if segment.no_speech_probability() > opts.no_speech_threshold
            && text.split_whitespace().count() < 3
        {
            tracing::debug!(
                "dropping {text:?}: no-speech probability {:.2}",
                segment.no_speech_probability()
            );
            continue;
        }
        let region =
            chunk.piece_span_ms(u64::try_from(segment.start_timestamp()).unwrap_or(0) * 10);
        // A repeat counts as a loop only inside one speech region: across a pause it was said again.
        let same_region_text = previous
            .as_ref()
            .filter(|(_, r)| *r == region)
            .map(|(t, _)| t.as_str());
        if let Some(reason) = words::reject_reason(&text, same_region_text) {
            tracing::debug!("dropping segment {text:?}: {reason}");
            continue;
        }
        let mut tokens = Vec::new();
        for i in 0..segment.n_tokens() {
            let Some(token) = segment.get_token(i) else {
                continue;
            };
            let data = token.token_data();
            if data.id >= eot {
                continue;
            }
            let ms = |centis: i64| u64::try_from(centis).unwrap_or(0) * 10;
            tokens.push(Token {
                bytes: token.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                start_ms: ms(data.t0),
                end_ms: ms(data.t1),
                dtw_ms: (data.t_dtw >= 0).then(|| ms(data.t_dtw)),
                probability: data.p,
            });
        }
        let mut chunk_words = words::merge(&tokens);
        let texts: Vec<String> = chunk_words.iter().map(|w| w.text.clone()).collect();
        if let Some(cut) = words::loop_start(&texts, opts.max_compression_ratio) {
            tracing::debug!(
                "cutting a repetition loop after {:?}",
                texts[..cut].join(" ")
            );
            chunk_words.truncate(cut);
        }
        let mut placed = place_words(&chunk_words, chunk, opts.timing);
        if let Some(cut) = words::echo_start(&placed) {
            tracing::debug!(
                "dropping an echo of the sentence before at {}",
                placed[cut].start_ms
            );
            placed.truncate(cut);
        }
        if placed.is_empty() {
            continue;
        }
        previous = Some((text, region));
        out.extend(
            words::split_sentences(placed, MAX_PAUSE_IN_SEGMENT_MS)
                .into_iter()
                .filter_map(Segment::from_words),
        );
    }
    Ok(out)
}

/// A pause longer than this starts a new segment.
const MAX_PAUSE_IN_SEGMENT_MS: u64 = 700;

/// Session times for the words of one segment, per the timing mode.
pub fn place_words(words: &[ChunkWord], chunk: &Chunk, timing: Timing) -> Vec<Word> {
    let edges = chunk.speech_edges_ms();
    let mut placed: Vec<Word> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let (mut start, mut end) = (w.start_ms, w.end_ms);
        if timing.dtw {
            if let Some(dtw) = w.dtw_ms {
                start = dtw;
                end = words
                    .get(i + 1)
                    .and_then(|next| next.dtw_ms)
                    .map_or(end.max(dtw), |next| next.max(dtw + 50));
            }
        }
        let (mut piece_start, mut piece_end) = chunk.piece_span_ms(start);
        let mut start_s = chunk.to_session_ms(start).clamp(piece_start, piece_end);
        // The word that closes a sentence belongs before the pause that follows it, even when its
        // alignment time drifted past the pause into the next speech region.
        if let (Some(prev), Some(prev_w)) = (placed.last(), i.checked_sub(1).map(|p| &words[p])) {
            let (prev_start, prev_end) = piece_of(&edges, prev.start_ms.0);
            let crossed = (prev_start, prev_end) != (piece_start, piece_end);
            if crossed && words::ends_sentence(&w.text) && !words::ends_sentence(&prev_w.text) {
                (piece_start, piece_end) = (prev_start, prev_end);
                start_s = prev.end_ms.0.clamp(piece_start, piece_end);
            }
        }
        let end_s = chunk
            .to_session_ms(end)
            .clamp(start_s, piece_end.max(start_s));
        placed.push(Word::heard(
            w.text.clone(),
            SessionMs(start_s),
            SessionMs(end_s),
            w.confidence,
        ));
    }
    if timing.vad_edges {
        snap_to_edges(&mut placed, &edges);
    }
    placed
}

/// The session span (ms) of the piece that holds a session time.
fn piece_of(edges: &[SpeechEdges], session_ms: u64) -> (u64, u64) {
    edges
        .iter()
        .map(|e| e.piece_ms)
        .find(|(a, b)| (*a..=*b).contains(&session_ms))
        .unwrap_or((session_ms, session_ms))
}

/// Within each speech region, no word starts or ends after the detected end of speech; the first
/// word starts at the detected onset and the last ends at the detected end when they are within 1 s.
fn snap_to_edges(words: &mut [Word], edges: &[SpeechEdges]) {
    for e in edges {
        let (p0, p1) = e.piece_ms;
        let inside: Vec<usize> = (0..words.len())
            .filter(|&i| (p0..=p1).contains(&words[i].start_ms.0))
            .collect();
        let (Some(&first), Some(&last)) = (inside.first(), inside.last()) else {
            continue;
        };
        for &i in &inside {
            let w = &mut words[i];
            w.start_ms = SessionMs(w.start_ms.0.min(e.offset_ms));
            w.end_ms = SessionMs(
                w.end_ms
                    .0
                    .clamp(w.start_ms.0, e.offset_ms.max(w.start_ms.0)),
            );
        }
        if words[first].start_ms.0.abs_diff(e.onset_ms) <= 1000 {
            words[first].start_ms = SessionMs(e.onset_ms.min(words[first].end_ms.0));
        }
        if words[last].end_ms.0.abs_diff(e.offset_ms) <= 1000 {
            words[last].end_ms = SessionMs(e.offset_ms.max(words[last].start_ms.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vad::Piece;

    const RATE: usize = SAMPLE_RATE_HZ as usize;

    /// Two speech regions: session 10.0-12.0 s and 20.0-22.0 s, packed with a 0.2 s spacer, each
    /// with 0.15 s of pre-roll and 0.2 s of kept hangover.
    fn chunk() -> Chunk {
        let piece = |chunk_s: f32, session_s: u64| Piece {
            chunk_start: (chunk_s * RATE as f32) as usize,
            session_start: session_s * RATE as u64,
            len: 2 * RATE,
            lead: RATE * 15 / 100,
            tail: RATE / 5,
        };
        Chunk {
            audio: vec![0.0; (4.2 * RATE as f32) as usize],
            pieces: vec![piece(0.0, 10), piece(2.2, 20)],
        }
    }

    fn word(text: &str, dtw_ms: u64) -> ChunkWord {
        ChunkWord {
            text: text.into(),
            start_ms: dtw_ms,
            end_ms: dtw_ms + 200,
            dtw_ms: Some(dtw_ms),
            confidence: 0.9,
        }
    }

    #[test]
    fn speech_without_words_for_two_seconds_is_unheard() {
        let chunk = Chunk {
            audio: vec![0.0; 10 * RATE],
            pieces: vec![Piece {
                chunk_start: 0,
                session_start: 0,
                len: 10 * RATE,
                lead: 0,
                tail: 0,
            }],
        };
        let segment = |words: &[(u64, u64)]| {
            Segment::from_words(
                words
                    .iter()
                    .map(|&(start, end)| {
                        Word::heard("parola", SessionMs(start), SessionMs(end), 0.9)
                    })
                    .collect(),
            )
            .unwrap()
        };
        let heard = [
            segment(&[(100, 500), (600, 2000)]),
            segment(&[(7000, 8500)]),
        ];
        assert_eq!(unheard(&chunk, &heard, 2000), [(2000, 7000)]);
        assert_eq!(unheard(&chunk, &heard[..1], 2000), [(2000, 10_000)]);
        assert_eq!(unheard(&chunk, &[], 2000), [(0, 10_000)]);
        assert!(unheard(&chunk, &heard, 6000).is_empty());
    }

    #[test]
    fn words_map_to_session_time_and_snap_to_speech_edges() {
        let words = [
            word("Buonasera", 300),
            word("a", 900),
            word("tutti.", 1300),
            word("Passiamo", 2500),
        ];
        let placed = place_words(&words, &chunk(), Timing::default());
        let times: Vec<(u64, u64)> = placed.iter().map(|w| (w.start_ms.0, w.end_ms.0)).collect();
        // The first word starts at the detected onset (10.15 s), the last word of the region ends
        // at the detected end (11.8 s), the next region's word starts at its onset (20.15 s).
        assert_eq!(times[0].0, 10_150);
        assert_eq!(times[2].1, 11_800);
        assert_eq!(times[3].0, 20_150);
        assert!(placed.windows(2).all(|p| p[0].start_ms <= p[1].start_ms));
    }

    #[test]
    fn a_sentence_end_that_drifted_past_the_pause_comes_back() {
        // DTW put "tutti." after the spacer, at the start of the next region.
        let words = [
            word("Buonasera", 300),
            word("a", 900),
            word("tutti.", 2300),
            word("Passiamo", 2500),
        ];
        let placed = place_words(&words, &chunk(), Timing::default());
        assert!(placed[2].start_ms.0 < 12_000, "{:?}", placed[2]);
        assert!(placed[2].end_ms.0 <= 11_800, "{:?}", placed[2]);
        assert_eq!(placed[3].start_ms.0, 20_150);
    }
}
