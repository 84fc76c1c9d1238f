//! The live captions of a live recording set against the offline transcript of the same
//! recording, once `aula session transcribe` has made it.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use session::Session;

use crate::fsutil::write_atomic;

/// `transcripts/live-captions.json`: the live captions set against the offline transcript of the
/// same recording, outside the closed parts (which the live captions never carry). The archive
/// and the clips use the offline transcript; this says how far the live one was from it.
#[derive(Debug, Serialize)]
pub struct AgainstOffline {
    pub live_words: usize,
    pub offline_words: usize,
    /// Word error rate of the live captions with the offline transcript as the reference.
    pub wer: f64,
}

/// Compares the live captions of a live recording (when it had them) with `transcript`, and
/// writes the comparison into `transcripts_dir`.
pub fn compare(
    recordings_dir: &Path,
    transcripts_dir: &Path,
    session: &Session,
    transcript: &session::Transcript,
) -> Result<Option<AgainstOffline>> {
    let report = recordings_dir.join("program/live-captions.json");
    let Ok(bytes) = std::fs::read(&report) else {
        return Ok(None);
    };
    let report: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", report.display()))?;
    let live: Vec<String> = report["words"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["text"].as_str())
        .flat_map(sample::score::normalize)
        .collect();
    let offline: Vec<String> = transcript
        .words()
        .filter(|w| !session.closed_ranges.iter().any(|r| r.contains(w.start_ms)))
        .flat_map(|w| sample::score::normalize(&w.text))
        .collect();
    let compared = AgainstOffline {
        live_words: live.len(),
        offline_words: offline.len(),
        wer: sample::score::wer(&offline, &live),
    };
    tracing::info!(
        "live captions against the offline transcript: {:.1}% WER ({} live words, {} offline)",
        compared.wer * 100.0,
        compared.live_words,
        compared.offline_words
    );
    write_atomic(
        &transcripts_dir.join("live-captions.json"),
        &serde_json::to_vec_pretty(&compared)?,
    )?;
    Ok(Some(compared))
}
