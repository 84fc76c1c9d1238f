//! From Whisper tokens to words, and the guards against Whisper's failures on long audio (text in
//! silence, annotations such as "[Music]", repetition loops). Pure logic.

use std::io::Write;

/// One text token of a segment, with times in ms relative to the chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub bytes: Vec<u8>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// whisper.cpp's DTW time for the token, when DTW is on.
    pub dtw_ms: Option<u64>,
    pub probability: f32,
}

/// A word before it is mapped to session time.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkWord {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub dtw_ms: Option<u64>,
    pub confidence: f32,
}

fn is_punctuation(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim();
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_punctuation() || "«»“”‘’…¿¡".contains(c))
}

/// Joins BPE pieces into words: a piece that starts with a space begins a new word, others
/// continue it; punctuation sticks to the word before it. Bytes are joined before decoding, so a
/// character split across tokens (such as "è") comes out whole.
pub fn merge(tokens: &[Token]) -> Vec<ChunkWord> {
    struct Building {
        bytes: Vec<u8>,
        start_ms: u64,
        end_ms: u64,
        dtw_ms: Option<u64>,
        probabilities: Vec<f32>,
    }
    let mut words: Vec<Building> = Vec::new();
    for token in tokens {
        if token.bytes.is_empty() {
            continue;
        }
        let punct = is_punctuation(&token.bytes);
        let starts_word = token.bytes[0] == b' ' && !punct;
        match words.last_mut() {
            Some(word) if !starts_word => {
                word.bytes.extend_from_slice(&token.bytes);
                if !punct {
                    word.end_ms = word.end_ms.max(token.end_ms);
                    word.probabilities.push(token.probability);
                }
            }
            _ if punct => {}
            _ => words.push(Building {
                bytes: token.bytes.clone(),
                start_ms: token.start_ms,
                end_ms: token.end_ms.max(token.start_ms),
                dtw_ms: token.dtw_ms,
                probabilities: vec![token.probability],
            }),
        }
    }
    words
        .into_iter()
        .filter_map(|w| {
            let text = String::from_utf8_lossy(&w.bytes).trim().to_owned();
            (!text.is_empty()).then(|| ChunkWord {
                text,
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                dtw_ms: w.dtw_ms,
                confidence: w.probabilities.iter().sum::<f32>() / w.probabilities.len() as f32,
            })
        })
        .collect()
}

/// Text that only describes sound ("[Music]", "(applause)", "♪ ♪", "*silence*").
pub fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    let enclosed = |open: char, close: char| t.starts_with(open) && t.ends_with(close);
    enclosed('[', ']')
        || enclosed('(', ')')
        || enclosed('*', '*')
        || t.chars().all(|c| !c.is_alphanumeric())
}

/// Length of the text over the length of its DEFLATE compression: high for looping text.
pub fn compression_ratio(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(text.as_bytes());
    let compressed = enc.finish().map(|v| v.len()).unwrap_or(text.len());
    text.len() as f32 / compressed.max(1) as f32
}

fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a segment is dropped, or `None` to keep it.
pub fn reject_reason(
    text: &str,
    previous: Option<&str>,
    max_compression_ratio: f32,
) -> Option<String> {
    if is_annotation(text) {
        return Some(format!("annotation {:?}", text.trim()));
    }
    let ratio = compression_ratio(text);
    if ratio > max_compression_ratio {
        return Some(format!("repetitive text (compression ratio {ratio:.1})"));
    }
    if previous.is_some_and(|p| normalized(p) == normalized(text)) {
        return Some("repeats the previous segment".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, start: u64, end: u64) -> Token {
        Token {
            bytes: text.as_bytes().to_vec(),
            start_ms: start,
            end_ms: end,
            dtw_ms: None,
            probability: 0.9,
        }
    }

    #[test]
    fn joins_pieces_and_attaches_punctuation() {
        let words = merge(&[
            tok(" Pass", 0, 200),
            tok("iamo", 200, 400),
            tok(" al", 450, 500),
            tok(" punto", 520, 800),
            tok(" 2", 820, 900),
            tok(".", 900, 950),
        ]);
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Passiamo", "al", "punto", "2."]);
        assert_eq!((words[0].start_ms, words[0].end_ms), (0, 400));
        assert_eq!(
            words[3].end_ms, 900,
            "punctuation does not stretch the word"
        );
    }

    #[test]
    fn a_character_split_across_tokens_comes_out_whole() {
        let e_grave = "è".as_bytes();
        let words = merge(&[
            Token {
                bytes: vec![b' ', e_grave[0]],
                ..tok("", 0, 100)
            },
            Token {
                bytes: vec![e_grave[1]],
                ..tok("", 100, 200)
            },
        ]);
        assert_eq!(words[0].text, "è");
    }

    #[test]
    fn annotations_loops_and_repeats_are_rejected() {
        assert!(reject_reason("[Music]", None, 2.4).is_some());
        assert!(reject_reason(" (applausi) ", None, 2.4).is_some());
        assert!(reject_reason("♪ ♪", None, 2.4).is_some());
        let looping = "Thank you. ".repeat(20);
        assert!(reject_reason(&looping, None, 2.4)
            .unwrap()
            .contains("compression"));
        assert!(reject_reason("Grazie.", Some("grazie"), 2.4).is_some());
        assert_eq!(reject_reason("Passiamo al punto due.", None, 2.4), None);
    }
}
