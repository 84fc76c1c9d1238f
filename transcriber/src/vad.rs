//! Voice activity and chunking: an energy detector with hysteresis and an adaptive noise floor finds
//! speech; stationary sound (tones, steady noise, much music) is rejected by its flat envelope; the
//! speech regions are packed, with short spacers, into chunks of at most 30 s cut at pauses.
//! Every chunk keeps the map from its own samples back to session samples. Pure logic, streaming.

use std::collections::VecDeque;

use crate::audio::SAMPLE_RATE_HZ;

#[derive(Clone, Debug)]
pub struct VadSettings {
    pub frame_ms: u32,
    /// Audio kept before the detected onset and after the detected end of speech.
    pub pad_ms: u32,
    /// Quiet time that ends a speech region.
    pub hangover_ms: u32,
    /// Loud time needed to start a region.
    pub onset_ms: u32,
    /// A frame is loud when this far above the noise floor...
    pub above_floor_db: f32,
    /// ...and above this absolute level.
    pub min_level_dbfs: f32,
    /// Regions whose frame levels vary less than this (standard deviation) are not speech.
    pub min_envelope_std_db: f32,
    pub max_chunk_ms: u32,
    /// Silence put between two regions inside one chunk.
    pub spacer_ms: u32,
    /// Of the hangover after a region, this much stays in the chunk.
    pub keep_tail_ms: u32,
}

impl Default for VadSettings {
    fn default() -> Self {
        VadSettings {
            frame_ms: 20,
            pad_ms: 150,
            hangover_ms: 400,
            onset_ms: 60,
            above_floor_db: 12.0,
            min_level_dbfs: -50.0,
            min_envelope_std_db: 4.0,
            max_chunk_ms: 30_000,
            spacer_ms: 200,
            keep_tail_ms: 200,
        }
    }
}

/// A stretch of a chunk that came from the session: `len` samples at `chunk_start` in the chunk
/// are the samples at `session_start` in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub chunk_start: usize,
    pub session_start: u64,
    pub len: usize,
    /// Samples of pre-roll before the detected onset (0 where a long region was cut).
    pub lead: usize,
    /// Samples of hangover after the detected end of speech (0 where a long region was cut).
    pub tail: usize,
}

/// A piece's session span and the detected start and end of the speech inside it, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeechEdges {
    pub piece_ms: (u64, u64),
    pub onset_ms: u64,
    pub offset_ms: u64,
}

/// Audio for one Whisper call, at most `max_chunk_ms` long.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub audio: Vec<f32>,
    pub pieces: Vec<Piece>,
}

impl Chunk {
    /// Session time (ms) of a time inside the chunk (ms); times in a spacer snap to the nearest
    /// piece edge.
    pub fn to_session_ms(&self, chunk_ms: u64) -> u64 {
        let rate = u64::from(SAMPLE_RATE_HZ);
        let at = (chunk_ms * rate / 1000) as usize;
        let mut best = 0u64;
        for p in &self.pieces {
            if at < p.chunk_start {
                return if best == 0 {
                    p.session_start * 1000 / rate
                } else {
                    best
                };
            }
            let offset = (at - p.chunk_start).min(p.len) as u64;
            best = (p.session_start + offset) * 1000 / rate;
        }
        best
    }

    /// The piece (session span in ms) that holds a chunk time, or the nearest one.
    pub fn piece_span_ms(&self, chunk_ms: u64) -> (u64, u64) {
        let rate = u64::from(SAMPLE_RATE_HZ);
        let at = (chunk_ms * rate / 1000) as usize;
        let piece = self
            .pieces
            .iter()
            .min_by_key(|p| {
                if at < p.chunk_start {
                    p.chunk_start - at
                } else {
                    at.saturating_sub(p.chunk_start + p.len)
                }
            })
            .copied()
            .unwrap_or(Piece {
                chunk_start: 0,
                session_start: 0,
                len: 0,
                lead: 0,
                tail: 0,
            });
        (
            piece.session_start * 1000 / rate,
            (piece.session_start + piece.len as u64) * 1000 / rate,
        )
    }

    /// Each piece's session span and where speech was detected to start and end in it, in ms.
    pub fn speech_edges_ms(&self) -> Vec<SpeechEdges> {
        let rate = u64::from(SAMPLE_RATE_HZ);
        self.pieces
            .iter()
            .map(|p| {
                let end = p.session_start + p.len as u64;
                let onset = p.session_start + p.lead as u64;
                let offset = end.saturating_sub(p.tail as u64).max(onset);
                SpeechEdges {
                    piece_ms: (p.session_start * 1000 / rate, end * 1000 / rate),
                    onset_ms: onset * 1000 / rate,
                    offset_ms: offset * 1000 / rate,
                }
            })
            .collect()
    }

    /// The part of the chunk that holds the session span `from_ms..to_ms`: the same audio (spacers
    /// included) and the same map back to session time, for decoding that stretch again alone.
    pub fn within(&self, from_ms: u64, to_ms: u64) -> Chunk {
        let rate = u64::from(SAMPLE_RATE_HZ);
        let (from, to) = (from_ms * rate / 1000, to_ms * rate / 1000);
        let mut pieces = Vec::new();
        for p in &self.pieces {
            let (start, end) = (p.session_start, p.session_start + p.len as u64);
            let (a, b) = (start.max(from), end.min(to));
            if a >= b {
                continue;
            }
            pieces.push(Piece {
                chunk_start: p.chunk_start + (a - start) as usize,
                session_start: a,
                len: (b - a) as usize,
                lead: if a == start { p.lead } else { 0 },
                tail: if b == end { p.tail } else { 0 },
            });
        }
        let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
            return Chunk::default();
        };
        let offset = first.chunk_start;
        let audio = self.audio[offset..last.chunk_start + last.len].to_vec();
        for p in &mut pieces {
            p.chunk_start -= offset;
        }
        Chunk { audio, pieces }
    }

    pub fn duration_ms(&self) -> u64 {
        self.audio.len() as u64 * 1000 / u64::from(SAMPLE_RATE_HZ)
    }

    pub fn speech_ms(&self) -> u64 {
        self.pieces.iter().map(|p| p.len as u64).sum::<u64>() * 1000 / u64::from(SAMPLE_RATE_HZ)
    }
}

struct Region {
    start: u64,
    lead: usize,
    samples: Vec<f32>,
    levels_db: Vec<f32>,
}

/// Streaming detector and chunker: `push` blocks of 16 kHz audio, take the finished chunks.
pub struct Chunker {
    s: VadSettings,
    frame_len: usize,
    pending: Vec<f32>,
    /// Session sample index of `pending[0]`.
    position: u64,
    floor_db: f32,
    /// Recent frames kept while silent, for the pre-roll: (start, samples, level).
    recent: VecDeque<(u64, Vec<f32>, f32)>,
    loud_run: usize,
    quiet_run: usize,
    region: Option<Region>,
    chunk: Chunk,
    ready: VecDeque<Chunk>,
}

fn level_db(frame: &[f32]) -> f32 {
    let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * (energy + 1e-12).log10()
}

impl Chunker {
    pub fn new(settings: VadSettings) -> Chunker {
        let frame_len = (SAMPLE_RATE_HZ * settings.frame_ms / 1000) as usize;
        Chunker {
            s: settings,
            frame_len,
            pending: Vec::new(),
            position: 0,
            floor_db: -70.0,
            recent: VecDeque::new(),
            loud_run: 0,
            quiet_run: 0,
            region: None,
            chunk: Chunk::default(),
            ready: VecDeque::new(),
        }
    }

    fn frames(&self, ms: u32) -> usize {
        (ms / self.s.frame_ms).max(1) as usize
    }

    fn samples(&self, ms: u32) -> usize {
        (SAMPLE_RATE_HZ * ms / 1000) as usize
    }

    pub fn push(&mut self, block: &[f32]) {
        self.pending.extend_from_slice(block);
        let mut used = 0;
        while self.pending.len() - used >= self.frame_len {
            let frame = self.pending[used..used + self.frame_len].to_vec();
            let start = self.position;
            self.position += self.frame_len as u64;
            used += self.frame_len;
            self.frame(start, frame);
        }
        self.pending.drain(..used);
    }

    fn frame(&mut self, start: u64, frame: Vec<f32>) {
        let level = level_db(&frame);
        // The floor follows quiet frames down at once and rises slowly (0.5 dB/s at 20 ms frames).
        if level < self.floor_db {
            self.floor_db = level.max(-100.0);
        } else {
            self.floor_db += 0.01;
        }
        let loud = level > self.floor_db + self.s.above_floor_db && level > self.s.min_level_dbfs;
        let max_len = self.samples(self.s.max_chunk_ms);
        let hangover = self.frames(self.s.hangover_ms);
        match &mut self.region {
            None => {
                self.recent.push_back((start, frame, level));
                let keep = self.frames(self.s.pad_ms) + self.frames(self.s.onset_ms);
                while self.recent.len() > keep {
                    self.recent.pop_front();
                }
                self.loud_run = if loud { self.loud_run + 1 } else { 0 };
                if self.loud_run >= self.frames(self.s.onset_ms) {
                    let first = self.recent.front().map_or(start, |f| f.0);
                    let mut region = Region {
                        start: first,
                        lead: (start + self.frame_len as u64).saturating_sub(first) as usize
                            - self.frames(self.s.onset_ms) * self.frame_len,
                        samples: Vec::new(),
                        levels_db: Vec::new(),
                    };
                    for (_, samples, level) in self.recent.drain(..) {
                        region.samples.extend(samples);
                        region.levels_db.push(level);
                    }
                    self.region = Some(region);
                    self.quiet_run = 0;
                }
            }
            Some(region) => {
                region.samples.extend_from_slice(&frame);
                region.levels_db.push(level);
                self.quiet_run = if loud { 0 } else { self.quiet_run + 1 };
                if self.quiet_run >= hangover {
                    let tail = self.quiet_run * self.frame_len;
                    if let Some(region) = self.region.take() {
                        self.finish_region(region, tail);
                    }
                    self.loud_run = 0;
                } else if region.samples.len() >= max_len {
                    self.split_long_region();
                }
            }
        }
    }

    /// A region as long as a chunk: cut it at its quietest frame in the last third.
    fn split_long_region(&mut self) {
        let Some(mut region) = self.region.take() else {
            return;
        };
        let n = region.levels_db.len();
        let from = n * 2 / 3;
        let cut = (from..n)
            .min_by(|&a, &b| region.levels_db[a].total_cmp(&region.levels_db[b]))
            .unwrap_or(n - 1)
            .max(1);
        let tail = Region {
            start: region.start + (cut * self.frame_len) as u64,
            lead: 0,
            samples: region.samples.split_off(cut * self.frame_len),
            levels_db: region.levels_db.split_off(cut),
        };
        self.finish_region(region, 0);
        self.region = Some(tail);
    }

    fn finish_region(&mut self, region: Region, tail: usize) {
        // The envelope is judged on the sound itself, without the pre-roll and hangover.
        let levels = &region.levels_db;
        let from = (region.lead / self.frame_len).min(levels.len());
        let to = levels.len().saturating_sub(tail / self.frame_len).max(from);
        let sound = &levels[from..to];
        let n = sound.len().max(1) as f32;
        let mean = sound.iter().sum::<f32>() / n;
        let var = sound.iter().map(|l| (l - mean).powi(2)).sum::<f32>() / n;
        if sound.is_empty() || var.sqrt() < self.s.min_envelope_std_db {
            tracing::debug!(
                "skipping {} ms of steady sound at sample {} (envelope std {:.1} dB)",
                region.samples.len() * 1000 / SAMPLE_RATE_HZ as usize,
                region.start,
                var.sqrt()
            );
            return;
        }
        // Most of the hangover is silence already seen: keep only `keep_tail_ms` of it.
        let mut region = region;
        let trim = tail.saturating_sub(self.samples(self.s.keep_tail_ms));
        region
            .samples
            .truncate(region.samples.len() - trim.min(region.samples.len()));
        let tail = tail - trim;
        let spacer = self.samples(self.s.spacer_ms);
        let max = self.samples(self.s.max_chunk_ms);
        let needed = region.samples.len()
            + if self.chunk.audio.is_empty() {
                0
            } else {
                spacer
            };
        if self.chunk.audio.len() + needed > max {
            self.ready.push_back(std::mem::take(&mut self.chunk));
        }
        if !self.chunk.audio.is_empty() {
            self.chunk.audio.extend(std::iter::repeat_n(0.0, spacer));
        }
        self.chunk.pieces.push(Piece {
            chunk_start: self.chunk.audio.len(),
            session_start: region.start,
            len: region.samples.len(),
            lead: region.lead,
            tail,
        });
        self.chunk.audio.extend(region.samples);
    }

    /// The next finished chunk, if any.
    pub fn pop(&mut self) -> Option<Chunk> {
        self.ready.pop_front()
    }

    /// Ends the input: the last region and chunk are finished.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            let frame = std::mem::take(&mut self.pending);
            let start = self.position;
            self.position += frame.len() as u64;
            self.frame(start, frame);
        }
        if let Some(region) = self.region.take() {
            let tail = self.quiet_run * self.frame_len;
            self.finish_region(region, tail);
        }
        if !self.chunk.audio.is_empty() {
            self.ready.push_back(std::mem::take(&mut self.chunk));
        }
    }

    /// Whether the last frame pushed is inside a speech region.
    pub fn in_speech(&self) -> bool {
        self.region.is_some()
    }

    /// Samples consumed so far.
    pub fn position(&self) -> u64 {
        self.position + self.pending.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = SAMPLE_RATE_HZ as usize;

    /// A syllabic "speech-like" signal: a 200 Hz tone amplitude-modulated at 4 Hz.
    fn speechy(ms: usize) -> Vec<f32> {
        (0..ms * RATE / 1000)
            .map(|i| {
                let t = i as f32 / RATE as f32;
                let envelope = (std::f32::consts::PI * 4.0 * t).sin().abs();
                0.3 * envelope * (2.0 * std::f32::consts::PI * 200.0 * t).sin()
            })
            .collect()
    }

    fn silence(ms: usize) -> Vec<f32> {
        vec![0.0005; ms * RATE / 1000]
    }

    fn tone(ms: usize) -> Vec<f32> {
        (0..ms * RATE / 1000)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / RATE as f32).sin())
            .collect()
    }

    fn run(parts: &[Vec<f32>]) -> Vec<Chunk> {
        let mut c = Chunker::new(VadSettings::default());
        for p in parts {
            for block in p.chunks(1000) {
                c.push(block);
            }
        }
        c.finish();
        std::iter::from_fn(|| c.pop()).collect()
    }

    #[test]
    fn a_span_of_a_chunk_keeps_its_audio_and_its_map_to_session_time() {
        let chunks = run(&[
            silence(3000),
            speechy(2000),
            silence(4000),
            speechy(3000),
            silence(2000),
        ]);
        let chunk = &chunks[0];
        let part = chunk.within(4000, 9500);
        assert_eq!(part.pieces.len(), 2);
        assert_eq!(part.pieces[0].chunk_start, 0);
        assert_eq!(part.pieces[0].session_start, 4000 * RATE as u64 / 1000);
        assert_eq!(part.pieces[1].lead, chunk.pieces[1].lead);
        assert_eq!(part.pieces[1].tail, 0, "cut before the region's end");
        let end = part.pieces[1];
        assert_eq!(part.audio.len(), end.chunk_start + end.len);
        // The same session time comes out of both for a time in the second piece.
        let in_chunk = (chunk.pieces[1].chunk_start + RATE / 4) as u64 * 1000 / RATE as u64;
        let in_part = (end.chunk_start + RATE / 4) as u64 * 1000 / RATE as u64;
        assert_eq!(chunk.to_session_ms(in_chunk), part.to_session_ms(in_part));
        assert!(chunk.within(20_000, 30_000).audio.is_empty());
    }

    #[test]
    fn finds_speech_and_maps_it_back_to_session_time() {
        let chunks = run(&[
            silence(3000),
            speechy(2000),
            silence(4000),
            speechy(1500),
            silence(1000),
        ]);
        assert_eq!(chunks.len(), 1);
        let pieces = &chunks[0].pieces;
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let start_ms = |p: &Piece| p.session_start * 1000 / RATE as u64;
        assert!((2700..=3000).contains(&start_ms(&pieces[0])), "{pieces:?}");
        assert!((8700..=9000).contains(&start_ms(&pieces[1])), "{pieces:?}");
        // 1 s into the second piece of the chunk is 1 s after that piece's session start.
        let chunk_ms = pieces[1].chunk_start as u64 * 1000 / RATE as u64 + 1000;
        assert_eq!(
            chunks[0].to_session_ms(chunk_ms),
            start_ms(&pieces[1]) + 1000
        );
        assert!(chunks[0].speech_ms() < 5000);
    }

    #[test]
    fn steady_tone_is_not_speech() {
        let chunks = run(&[silence(1000), tone(5000), silence(1000)]);
        assert!(
            chunks.is_empty(),
            "{:?}",
            chunks.iter().map(|c| &c.pieces).collect::<Vec<_>>()
        );
    }

    #[test]
    fn chunks_never_exceed_30_seconds() {
        let mut parts = Vec::new();
        for _ in 0..12 {
            parts.push(speechy(7000));
            parts.push(silence(800));
        }
        parts.push(speechy(45_000));
        let chunks = run(&parts);
        assert!(chunks.len() >= 5);
        for c in &chunks {
            assert!(c.duration_ms() <= 30_000, "{}", c.duration_ms());
        }
        let total: u64 = chunks.iter().map(Chunk::speech_ms).sum();
        assert!(total >= 12 * 7000 + 45_000, "speech lost: {total} ms");
    }
}
