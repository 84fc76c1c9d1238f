//! Voice activity of a whole source: when a remote participant's own stream, or one microphone
//! channel of the room audio, carries speech. The source's time zero is the session's start.

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
    }
}
