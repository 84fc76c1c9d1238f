//! Voice activity of a whole source: when a remote participant's own stream carries speech, and
//! which microphone channel of the room audio dominates when. The source's time zero is the
//! session's start.

use session::SessionMs;

use crate::audio::{AudioDecoder, AudioError};
use crate::vad::{Chunker, VadSettings};

/// Pauses shorter than this inside one person's speech do not end the span.
const JOIN_GAP_MS: u64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("cancelled")]
    Cancelled,
}

/// The speech spans of everything `decoder` yields, in session time, sorted and disjoint.
pub fn speech_spans(
    decoder: &mut AudioDecoder,
    settings: &VadSettings,
    cancelled: impl Fn() -> bool,
) -> Result<Vec<(SessionMs, SessionMs)>, ActivityError> {
    let mut chunker = Chunker::new(settings.clone());
    let mut spans: Vec<(u64, u64)> = Vec::new();
    loop {
        if cancelled() {
            return Err(ActivityError::Cancelled);
        }
        let block = decoder.next_block()?;
        match &block {
            Some(samples) => chunker.push(samples),
            None => chunker.finish(),
        }
        while let Some(chunk) = chunker.pop() {
            for edges in chunk.speech_edges_ms() {
                spans.push((edges.onset_ms, edges.offset_ms));
            }
        }
        if block.is_none() {
            break;
        }
    }
    Ok(join(spans)
        .into_iter()
        .map(|(a, b)| (SessionMs(a), SessionMs(b)))
        .collect())
}

/// Frame length of the levels `frame_levels_db` measures.
pub const LEVEL_FRAME_MS: u64 = 20;

/// The level (dBFS) of every 20 ms frame of what `decoder` yields.
pub fn frame_levels_db(
    decoder: &mut AudioDecoder,
    cancelled: impl Fn() -> bool,
) -> Result<Vec<f32>, ActivityError> {
    let frame = (u64::from(crate::audio::SAMPLE_RATE_HZ) * LEVEL_FRAME_MS / 1000) as usize;
    let mut levels = Vec::new();
    let mut pending: Vec<f32> = Vec::with_capacity(frame);
    while let Some(block) = decoder.next_block()? {
        if cancelled() {
            return Err(ActivityError::Cancelled);
        }
        for sample in block {
            pending.push(sample);
            if pending.len() == frame {
                let power = pending.iter().map(|s| s * s).sum::<f32>() / frame as f32;
                levels.push(10.0 * power.max(1e-12).log10());
                pending.clear();
            }
        }
    }
    Ok(levels)
}

/// For microphone channels that hear each other (every mic picks up the room), the spans where
/// each channel dominates: at least `margin_db` louder than every other channel and clearly above
/// its own noise floor, bridged across pauses shorter than `JOIN_GAP_MS`; this is how a
/// gain-sharing automixer decides which mic is live.
pub fn dominant_spans(levels_db: &[Vec<f32>], margin_db: f32) -> Vec<Vec<(SessionMs, SessionMs)>> {
    const ABOVE_FLOOR_DB: f32 = 15.0;
    const MIN_SPAN_MS: u64 = 100;
    let frames = levels_db.iter().map(Vec::len).max().unwrap_or(0);
    let floors: Vec<f32> = levels_db
        .iter()
        .map(|levels| {
            let mut sorted = levels.clone();
            sorted.sort_by(f32::total_cmp);
            sorted.get(sorted.len() / 10).copied().unwrap_or(-120.0)
        })
        .collect();
    let level = |c: usize, f: usize| levels_db[c].get(f).copied().unwrap_or(-120.0);
    let mut spans: Vec<Vec<(u64, u64)>> = vec![Vec::new(); levels_db.len()];
    for f in 0..frames {
        for (c, channel_spans) in spans.iter_mut().enumerate() {
            let loudest_other = (0..levels_db.len())
                .filter(|&o| o != c)
                .map(|o| level(o, f))
                .fold(-120.0f32, f32::max);
            let own = level(c, f);
            if own >= floors[c] + ABOVE_FLOOR_DB && own >= loudest_other + margin_db {
                let start = f as u64 * LEVEL_FRAME_MS;
                channel_spans.push((start, start + LEVEL_FRAME_MS));
            }
        }
    }
    spans
        .into_iter()
        .map(|s| {
            join(s)
                .into_iter()
                .filter(|(a, b)| b - a >= MIN_SPAN_MS)
                .map(|(a, b)| (SessionMs(a), SessionMs(b)))
                .collect()
        })
        .collect()
}

/// Sorts spans and joins those less than `JOIN_GAP_MS` apart.
fn join(mut spans: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    spans.sort();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (start, end) in spans {
        match out.last_mut() {
            Some(last) if start < last.1 + JOIN_GAP_MS => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Selection;

    #[test]
    fn spans_are_sorted_and_joined_across_short_pauses() {
        assert_eq!(
            join(vec![(5000, 6000), (0, 1000), (1200, 2000), (2400, 3000)]),
            [(0, 2000), (2400, 3000), (5000, 6000)]
        );
    }

    #[test]
    fn the_loudest_channel_dominates_and_bleed_does_not_count() {
        // Channel 0 speaks in frames 10..60, channel 1 in 100..150; each hears the other at -26 dB.
        let mut levels = vec![vec![-70.0f32; 200], vec![-70.0f32; 200]];
        for (c, frames, own, bleed) in [(0, 10..60, -20.0, -46.0), (1, 100..150, -18.0, -44.0)] {
            for f in frames {
                levels[c][f] = own;
                levels[1 - c][f] = bleed;
            }
        }
        let spans = dominant_spans(&levels, 10.0);
        assert_eq!(spans[0], [(SessionMs(200), SessionMs(1200))]);
        assert_eq!(spans[1], [(SessionMs(2000), SessionMs(3000))]);
        assert!(dominant_spans(&[], 10.0).is_empty());
    }

    /// A two-channel WAV: speech-like bursts on channel 0 at 1-3 s, on channel 1 at 5-7 s.
    #[test]
    fn each_microphone_channel_has_its_own_activity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("room.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut wav = hound::WavWriter::create(&path, spec).unwrap();
        let mut noise = 12345u32;
        for n in 0..16_000 * 9 {
            let t = n as f32 / 16_000.0;
            let speech = (t * 200.0 * std::f32::consts::TAU).sin()
                * (0.5 + 0.5 * (t * 4.0 * std::f32::consts::TAU).sin())
                * 0.4;
            noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let hiss = ((noise >> 16) as f32 / 32768.0 - 1.0) * 0.001;
            for (from, to) in [(1.0, 3.0), (5.0, 7.0)] {
                let s = if (from..to).contains(&t) { speech } else { 0.0 } + hiss;
                wav.write_sample((s * 32767.0) as i16).unwrap();
            }
        }
        wav.finalize().unwrap();
        for (channel, expected) in [(0, (1000, 3000)), (1, (5000, 7000))] {
            let selection = Selection {
                track: 0,
                channel: Some(channel),
            };
            let mut decoder = AudioDecoder::open_file(&path, selection).unwrap();
            let spans = speech_spans(&mut decoder, &VadSettings::default(), || false).unwrap();
            assert_eq!(spans.len(), 1, "channel {channel}: {spans:?}");
            let (start, end) = spans[0];
            assert!(
                start.0.abs_diff(expected.0) <= 150,
                "channel {channel}: {spans:?}"
            );
            assert!(
                end.0.abs_diff(expected.1) <= 250,
                "channel {channel}: {spans:?}"
            );
        }
        let levels: Vec<Vec<f32>> = (0..2)
            .map(|channel| {
                let selection = Selection {
                    track: 0,
                    channel: Some(channel),
                };
                let mut decoder = AudioDecoder::open_file(&path, selection).unwrap();
                frame_levels_db(&mut decoder, || false).unwrap()
            })
            .collect();
        let dominant = dominant_spans(&levels, 10.0);
        assert_eq!(dominant[0].len(), 1, "{dominant:?}");
        assert!(dominant[0][0].0 .0.abs_diff(1000) <= 60, "{dominant:?}");
        assert!(dominant[1][0].1 .0.abs_diff(7000) <= 60, "{dominant:?}");
    }
}
