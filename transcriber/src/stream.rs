//! Streaming transcription for live captions: 16 kHz sound as it comes, Whisper over a sliding
//! window, and words committed once two consecutive passes agree on them (the LocalAgreement-2
//! policy of Macháček et al., 2023). The voice-activity detector skips silence; when a pass takes
//! longer than the sound it covers, the window shrinks, then the next (smaller) model takes over.
//! Runs on its own thread; the results go to a callback, never to a streaming thread's caller.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::audio::SAMPLE_RATE_HZ;
use crate::vad::{Chunk, Chunker, Piece};
use crate::whisper::{transcribe_chunk, Model, Timing, TranscribeError, TranscribeOptions};

/// Sound from the stream: `samples` at 16 kHz mono, the first at `start_ms` on the stream's clock.
#[derive(Clone, Debug)]
pub struct StreamBlock {
    pub start_ms: u64,
    pub samples: Vec<f32>,
}

/// A committed word, on the stream's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// What the transcriber tells its consumer.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// Words committed, in order; none of them will change.
    Words(Vec<StreamWord>),
    /// No word committed from now on will start before this time: captions up to here are final.
    Through(u64),
}

#[derive(Clone, Debug)]
pub struct StreamOptions {
    pub transcribe: TranscribeOptions,
    /// A pass runs after this much new sound.
    pub step_ms: u64,
    /// The longest window a pass sees; sound before it is committed as the last pass heard it.
    pub window_ms: u64,
    /// The window never shrinks below this when passes fall behind.
    pub min_window_ms: u64,
    /// Quiet after speech that ends an utterance: its last words are committed at once.
    pub end_of_speech_ms: u64,
    /// The committed text kept as the next passes' context, in characters.
    pub context_chars: usize,
}

impl StreamOptions {
    pub fn new(language: &str, prompt: Option<String>) -> StreamOptions {
        let mut transcribe = TranscribeOptions::new(language);
        transcribe.prompt = prompt;
        // Word starts come from the alignment heads (DTW), decoding without timestamp tokens;
        // the window has no speech edges of its own.
        transcribe.timing = Timing {
            dtw: true,
            vad_edges: false,
        };
        // A pass must end within the step: one decode, over a window-sized encoder context.
        transcribe.temperature_fallback = false;
        transcribe.min_audio_ctx = 750;
        StreamOptions {
            transcribe,
            step_ms: 1000,
            window_ms: 10_000,
            min_window_ms: 4000,
            end_of_speech_ms: 700,
            context_chars: 200,
        }
    }
}

/// How the streaming went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StreamStats {
    pub passes: u64,
    /// The sound covered by the stream, and the time spent in Whisper.
    pub audio_ms: u64,
    pub inference_ms: u64,
    pub words: u64,
    /// Times the window shrank, and the model given up for a smaller one.
    pub shrinks: u32,
    pub fallbacks: u32,
    /// Gaps in the stream's clock (dropped blocks), where the window started again.
    pub gaps: u32,
    /// The model that ended the stream.
    pub model: String,
}

/// How many of `new`'s words, from the first, `previous` says too (text compared without case and
/// punctuation): the words two passes agree on.
pub fn agreed(previous: &[StreamWord], new: &[StreamWord]) -> usize {
    previous
        .iter()
        .zip(new)
        .take_while(|(a, b)| same_word(&a.text, &b.text))
        .count()
}

fn same_word(a: &str, b: &str) -> bool {
    let key = |w: &str| -> String {
        w.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    key(a) == key(b)
}

/// How many of a new window's first words repeat the last words committed before it (`context`):
/// Whisper, given the committed text as its prompt, often says its end again at the start of
/// the next window, with times inside the new sound. Up to five words, and only where they start
/// within 2 s of the window's floor.
fn heard_again(context: &str, words: &[StreamWord], floor_ms: u64) -> usize {
    let tail: Vec<&str> = context.split_whitespace().rev().take(5).collect();
    (1..=tail.len().min(words.len()))
        .rev()
        .find(|&n| {
            words[0].start_ms < floor_ms + 2000
                && words[..n]
                    .iter()
                    .zip(tail[..n].iter().rev())
                    .all(|(w, t)| same_word(&w.text, t))
        })
        .unwrap_or(0)
}

/// The last `chars` characters of `text`, starting at a word.
fn tail_words(text: &str, chars: usize) -> &str {
    let n = text.chars().count();
    if n <= chars {
        return text;
    }
    let cut = text.char_indices().nth(n - chars).map_or(0, |(i, _)| i);
    if text[..cut].ends_with(' ') {
        return &text[cut..];
    }
    text[cut..]
        .split_once(' ')
        .map_or(&text[cut..], |(_, rest)| rest)
}

/// The window's state: pure, apart from the pass that `run` is given. The window holds the
/// sound from the start of the utterance (or the last cut); each pass transcribes all of it, and
/// the words two passes agree on beyond those already committed are committed.
struct Window {
    opts: StreamOptions,
    chunker: Chunker,
    audio: Vec<f32>,
    /// Stream time of `audio[0]`.
    start_ms: u64,
    /// The last pass's words over the window, and how many of them are committed.
    heard: Vec<StreamWord>,
    done: usize,
    /// Words of an earlier window that a pass hears again are dropped: they start before this.
    floor_ms: u64,
    committed_end_ms: u64,
    /// The committed text of earlier windows (the prompt), and of this one.
    context: String,
    window_text: Vec<String>,
    last_speech_ms: Option<u64>,
    since_pass_ms: u64,
    window_ms: u64,
}

fn ms_of(samples: usize) -> u64 {
    samples as u64 * 1000 / u64::from(SAMPLE_RATE_HZ)
}

fn samples_of(ms: u64) -> usize {
    usize::try_from(ms.saturating_mul(u64::from(SAMPLE_RATE_HZ)) / 1000).unwrap_or(usize::MAX)
}

impl Window {
    fn new(opts: StreamOptions) -> Window {
        Window {
            chunker: Chunker::new(opts.transcribe.vad.clone()),
            window_ms: opts.window_ms,
            opts,
            audio: Vec::new(),
            start_ms: 0,
            heard: Vec::new(),
            done: 0,
            floor_ms: 0,
            committed_end_ms: 0,
            context: String::new(),
            window_text: Vec::new(),
            last_speech_ms: None,
            since_pass_ms: 0,
        }
    }

    fn end_ms(&self) -> u64 {
        self.start_ms + ms_of(self.audio.len())
    }

    /// Adds a block; a jump in the stream's clock commits what was heard and starts again.
    fn push(&mut self, block: &StreamBlock, out: &mut Vec<StreamWord>) -> bool {
        let gap = !self.audio.is_empty() && block.start_ms.abs_diff(self.end_ms()) > 200;
        if gap {
            self.commit_rest(out);
            self.restart_at(u64::MAX);
        }
        if self.audio.is_empty() {
            self.start_ms = block.start_ms;
        }
        self.audio.extend_from_slice(&block.samples);
        self.chunker.push(&block.samples);
        if self.chunker.in_speech() {
            self.last_speech_ms = Some(self.end_ms());
        }
        self.since_pass_ms += ms_of(block.samples.len());
        gap
    }

    /// Commits the words the last pass heard that are not committed yet.
    fn commit_rest(&mut self, out: &mut Vec<StreamWord>) {
        let rest = self
            .heard
            .get(self.done..)
            .map(<[StreamWord]>::to_vec)
            .unwrap_or_default();
        self.done = self.heard.len();
        self.commit(rest, out);
    }

    fn commit(&mut self, words: Vec<StreamWord>, out: &mut Vec<StreamWord>) {
        for w in words {
            if w.start_ms + 100 < self.floor_ms.max(self.committed_end_ms) {
                continue;
            }
            self.committed_end_ms = self.committed_end_ms.max(w.end_ms);
            self.window_text.push(w.text.clone());
            out.push(w);
        }
    }

    /// Starts a new window at `ms` (the sound before it dropped; all of it for `u64::MAX`): what
    /// this one committed becomes context.
    fn restart_at(&mut self, ms: u64) {
        let cut = samples_of(ms.saturating_sub(self.start_ms)).min(self.audio.len());
        self.audio.drain(..cut);
        self.start_ms += ms_of(cut);
        if !self.window_text.is_empty() {
            let text = self.window_text.join(" ");
            self.window_text.clear();
            self.context = format!("{} {text}", self.context).trim().to_owned();
            let keep = tail_words(&self.context, self.opts.context_chars).len();
            self.context.drain(..self.context.len() - keep);
        }
        self.heard.clear();
        self.done = 0;
        self.floor_ms = self.committed_end_ms;
    }

    fn heard_speech(&self) -> bool {
        self.last_speech_ms.is_some_and(|t| t > self.start_ms)
    }

    /// Whether a pass is due: enough new sound, and speech in the window.
    fn due(&mut self) -> bool {
        if self.since_pass_ms < self.opts.step_ms {
            return false;
        }
        if !self.heard_speech() {
            // Silence: keep only a little of it, as pre-roll for the speech to come.
            let end = self.end_ms();
            self.restart_at(end.saturating_sub(300));
            self.since_pass_ms = 0;
            return false;
        }
        true
    }

    /// The options of the next pass: the session's prompt and the earlier windows' text.
    fn pass_options(&self) -> TranscribeOptions {
        let mut opts = self.opts.transcribe.clone();
        let prompt = [opts.prompt.as_deref().unwrap_or(""), self.context.as_str()]
            .join(" ")
            .trim()
            .to_owned();
        opts.prompt = (!prompt.is_empty()).then_some(prompt);
        opts
    }

    fn chunk(&self) -> Chunk {
        Chunk {
            audio: self.audio.clone(),
            pieces: vec![Piece {
                chunk_start: 0,
                session_start: self.start_ms * u64::from(SAMPLE_RATE_HZ) / 1000,
                len: self.audio.len(),
                lead: 0,
                tail: 0,
            }],
        }
    }

    /// Takes a pass's words: commits those it and the last pass agree on, all of them once the
    /// speech has paused, and what falls out of a full window.
    fn take_pass(&mut self, words: Vec<StreamWord>, out: &mut Vec<StreamWord>) {
        self.since_pass_ms = 0;
        let mut words: Vec<StreamWord> = words
            .into_iter()
            .filter(|w| w.start_ms + 100 >= self.floor_ms)
            .collect();
        let again = heard_again(&self.context, &words, self.floor_ms);
        words.drain(..again);
        let n = agreed(&self.heard, &words);
        let agreed_new: Vec<StreamWord> = words
            .get(self.done..n)
            .map(<[StreamWord]>::to_vec)
            .unwrap_or_default();
        self.done = self.done.max(n);
        self.heard = words;
        self.commit(agreed_new, out);
        let end = self.end_ms();
        let paused = self
            .last_speech_ms
            .is_some_and(|t| end.saturating_sub(t) >= self.opts.end_of_speech_ms);
        if paused {
            self.commit_rest(out);
            self.restart_at(end.saturating_sub(300));
            return;
        }
        if end - self.start_ms > self.window_ms {
            // The window is full: what lies in its first half is committed as last heard.
            let cut = end - self.window_ms / 2;
            let old: Vec<StreamWord> = self
                .heard
                .iter()
                .skip(self.done)
                .take_while(|w| w.end_ms <= cut)
                .cloned()
                .collect();
            self.commit(old, out);
            self.restart_at(cut.min(self.committed_end_ms.max(self.start_ms)));
        }
    }

    /// Captions before this time are final.
    fn through_ms(&self) -> u64 {
        match self.heard.get(self.done) {
            Some(w) => w.start_ms.max(self.committed_end_ms),
            None if self.heard_speech() => self.committed_end_ms.max(self.start_ms),
            None => self.end_ms(),
        }
    }
}

/// Runs one pass of `model` over the window.
fn pass(model: &Model, window: &Window) -> Result<Vec<StreamWord>, TranscribeError> {
    let mut state = model
        .ctx
        .create_state()
        .map_err(|e| TranscribeError::Whisper(e.to_string()))?;
    let segments = transcribe_chunk(
        &mut state,
        model.ctx.token_eot(),
        &window.chunk(),
        &window.pass_options(),
    )?;
    Ok(segments
        .into_iter()
        .flat_map(|s| s.words)
        .map(|w| StreamWord {
            text: w.text,
            start_ms: w.start_ms.0,
            end_ms: w.end_ms.0,
        })
        .collect())
}

/// Starts the streaming transcriber on its own thread: `blocks` in, events to `emit`, until
/// `blocks` is closed (its senders dropped). `models` are tried in order, the next when one falls
/// behind at the smallest window.
pub fn spawn(
    models: Vec<Model>,
    opts: StreamOptions,
    blocks: Receiver<StreamBlock>,
    mut emit: impl FnMut(StreamEvent) + Send + 'static,
) -> std::io::Result<JoinHandle<StreamStats>> {
    std::thread::Builder::new()
        .name("live-captions".into())
        .spawn(move || {
            let mut stats = StreamStats::default();
            let mut window = Window::new(opts);
            let mut models = models.into_iter();
            let Some(mut model) = models.next() else {
                return stats;
            };
            stats.model = model.name.clone();
            let mut slow_passes = 0;
            let mut out = Vec::new();
            let mut open = true;
            while open {
                match blocks.recv_timeout(Duration::from_millis(200)) {
                    Ok(block) => {
                        stats.gaps += u32::from(window.push(&block, &mut out));
                        stats.audio_ms += ms_of(block.samples.len());
                        // Everything already waiting joins this pass.
                        while let Ok(block) = blocks.try_recv() {
                            stats.gaps += u32::from(window.push(&block, &mut out));
                            stats.audio_ms += ms_of(block.samples.len());
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => open = false,
                }
                if open && window.due() {
                    let covered_ms = window.since_pass_ms;
                    let began = Instant::now();
                    match pass(&model, &window) {
                        Ok(words) => window.take_pass(words, &mut out),
                        Err(e) => {
                            tracing::warn!("live captions: a pass failed: {e}");
                            window.since_pass_ms = 0;
                        }
                    }
                    let took_ms = began.elapsed().as_millis() as u64;
                    tracing::debug!(
                        "live captions: pass over {} - {} ms (speech until {:?}) took {took_ms} ms; committed through {} ms, open: {:?}",
                        window.start_ms,
                        window.end_ms(),
                        window.last_speech_ms,
                        window.committed_end_ms,
                        window.heard.iter().skip(window.done).map(|w| w.text.as_str()).collect::<Vec<_>>()
                    );
                    stats.passes += 1;
                    stats.inference_ms += took_ms;
                    // Behind: a pass took longer than the sound that came meanwhile.
                    slow_passes = if took_ms > covered_ms { slow_passes + 1 } else { 0 };
                    if slow_passes >= 3 {
                        slow_passes = 0;
                        if window.window_ms > window.opts.min_window_ms {
                            window.window_ms =
                                (window.window_ms * 3 / 4).max(window.opts.min_window_ms);
                            stats.shrinks += 1;
                            tracing::warn!(
                                "live captions behind ({took_ms} ms for {covered_ms} ms of sound): window now {} ms",
                                window.window_ms
                            );
                        } else if let Some(next) = models.next() {
                            tracing::warn!(
                                "live captions behind with {}: going on with {}",
                                model.name,
                                next.name
                            );
                            model = next;
                            stats.model = model.name.clone();
                            stats.fallbacks += 1;
                            window.window_ms = window.opts.window_ms;
                        }
                    }
                }
                if !open {
                    if window.heard_speech() {
                        if let Ok(words) = pass(&model, &window) {
                            let words: Vec<StreamWord> = words
                                .into_iter()
                                .filter(|w| w.start_ms + 100 >= window.floor_ms)
                                .collect();
                            let done = agreed(&window.heard, &words).min(window.done);
                            window.heard = words;
                            window.done = done;
                        }
                    }
                    window.commit_rest(&mut out);
                }
                if !out.is_empty() {
                    stats.words += out.len() as u64;
                    emit(StreamEvent::Words(std::mem::take(&mut out)));
                }
                emit(StreamEvent::Through(if open {
                    window.through_ms()
                } else {
                    u64::MAX
                }));
            }
            stats
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start_ms: u64) -> StreamWord {
        StreamWord {
            text: text.into(),
            start_ms,
            end_ms: start_ms + 300,
        }
    }

    fn words(text: &str, from_ms: u64) -> Vec<StreamWord> {
        text.split(' ')
            .enumerate()
            .map(|(i, t)| word(t, from_ms + 400 * i as u64))
            .collect()
    }

    fn block(start_ms: u64, len_ms: u64, loud: bool) -> StreamBlock {
        let n = samples_of(len_ms);
        StreamBlock {
            start_ms,
            samples: (0..n)
                .map(|i| {
                    if loud {
                        // A tone whose loudness varies like speech does.
                        let envelope = ((i as f32 / 1600.0).sin()).abs();
                        0.3 * envelope * (i as f32 * 0.2).sin()
                    } else {
                        0.0
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn a_new_window_does_not_say_the_last_words_again() {
        let context = "Good evening, I declare the City Council session";
        let heard = words("the city council session. Open we now move", 5000);
        assert_eq!(heard_again(context, &heard, 5000), 4);
        assert_eq!(heard_again(context, &words("we now move", 5000), 5000), 0);
        assert_eq!(heard_again("", &heard, 5000), 0);
        // Far from the window's floor, a repeat is speech said again.
        assert_eq!(heard_again(context, &heard, 2000), 0);
    }

    #[test]
    fn two_passes_commit_what_they_agree_on() {
        assert_eq!(
            agreed(&words("the council is", 0), &words("The council, it", 0)),
            2
        );
        let mut w = Window::new(StreamOptions::new("en", None));
        let mut out = Vec::new();
        w.push(&block(0, 3000, true), &mut out);
        w.take_pass(words("the council is", 0), &mut out);
        assert!(out.is_empty(), "one pass commits nothing");
        w.push(&block(3000, 1000, true), &mut out);
        w.take_pass(words("the council is now in session", 0), &mut out);
        let texts: Vec<&str> = out.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["the", "council", "is"]);
        assert_eq!(
            w.through_ms(),
            1200,
            "the first word still open starts there"
        );
        assert_eq!(w.window_text, ["the", "council", "is"]);
    }

    #[test]
    fn the_end_of_speech_commits_the_rest_and_silence_is_skipped() {
        let mut w = Window::new(StreamOptions::new("en", None));
        let mut out = Vec::new();
        w.push(&block(0, 2000, true), &mut out);
        w.take_pass(words("good evening", 0), &mut out);
        w.push(&block(2000, 1000, false), &mut out);
        w.take_pass(words("good evening everyone", 0), &mut out);
        let texts: Vec<&str> = out.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["good", "evening", "everyone"]);
        assert!(w.heard.is_empty());
        // Silence from here on: no pass is due, and captions are final up to the sound's end.
        w.push(&block(3000, 2000, false), &mut out);
        assert!(!w.due());
        assert_eq!(w.through_ms(), 5000);
        assert!(w.audio.len() <= samples_of(300));
    }

    #[test]
    fn a_full_window_commits_its_old_half_and_a_gap_restarts_it() {
        let mut opts = StreamOptions::new("en", None);
        opts.window_ms = 4000;
        let mut w = Window::new(opts);
        let mut out = Vec::new();
        w.push(&block(0, 5000, true), &mut out);
        w.take_pass(words("a b c d e f g h i j k l", 0), &mut out);
        assert!(out.iter().all(|w| w.end_ms <= 3000));
        assert!(out.len() >= 7, "{out:?}");
        assert!(w.end_ms() - w.start_ms <= 4200);
        out.clear();
        w.push(&block(5000, 1000, true), &mut out);
        w.take_pass(words("h i j k l m", 2800), &mut out);
        assert!(out.is_empty(), "a new window's first pass commits nothing");
        assert!(
            w.push(&block(9000, 1000, true), &mut out),
            "a jump is a gap"
        );
        assert_eq!(w.start_ms, 9000);
        assert!(
            !out.is_empty(),
            "what was heard before the gap is committed"
        );
    }

    #[test]
    fn the_context_keeps_the_last_words() {
        assert_eq!(tail_words("one two three four", 10), "three four");
        assert_eq!(tail_words("short", 10), "short");
    }
}
