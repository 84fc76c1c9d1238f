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

/// Whether a word closes its sentence.
pub fn ends_sentence(text: &str) -> bool {
    text.ends_with(['.', '?', '!'])
}

/// Where a decoding echo starts: a closing sentence that repeats the one before it word for word
/// with no time of its own (each word squeezed to nothing at the end of the speech), which Whisper
/// writes when it decodes past the audio. `None` when the words end otherwise; a sentence said
/// twice takes time both times and stays.
pub fn echo_start(words: &[session::Word]) -> Option<usize> {
    let starts: Vec<usize> = (0..words.len())
        .filter(|&i| i == 0 || ends_sentence(&words[i - 1].text))
        .collect();
    let (&last, &before) = (starts.last()?, starts.iter().rev().nth(1)?);
    let text = |ws: &[session::Word]| {
        ws.iter()
            .map(|w| normalized(&w.text))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let echo = &words[last..];
    (echo.iter().all(|w| w.start_ms == w.end_ms) && text(echo) == text(&words[before..last]))
        .then_some(last)
}

/// Splits a run of words into segments after sentence-ending punctuation, at pauses longer than
/// `max_pause_ms`, and every 40 words at most.
pub fn split_sentences(words: Vec<session::Word>, max_pause_ms: u64) -> Vec<Vec<session::Word>> {
    let mut segments: Vec<Vec<session::Word>> = Vec::new();
    let mut current: Vec<session::Word> = Vec::new();
    for word in words {
        if let Some(last) = current.last() {
            let pause = last.end_ms.until(word.start_ms);
            let sentence_end = ends_sentence(&last.text);
            if sentence_end || pause > max_pause_ms || current.len() >= 40 {
                segments.push(std::mem::take(&mut current));
            }
        }
        current.push(word);
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
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

/// Why a segment is dropped, or `None` to keep it: it only describes sound, or it repeats the
/// previous segment of the same speech region.
pub fn reject_reason(text: &str, previous: Option<&str>) -> Option<String> {
    if is_annotation(text) {
        return Some(format!("annotation {:?}", text.trim()));
    }
    if previous.is_some_and(|p| normalized(p) == normalized(text)) {
        return Some("repeats the previous segment".into());
    }
    None
}

/// Where a repetition loop starts: the index of the first word after the first occurrence of a
/// phrase of 1 to 8 words that then repeats back to back (4 times for short phrases, 3 for phrases
/// of 3 words or more), on text that compresses more than `max_compression_ratio`. `None` when the
/// words do not loop.
pub fn loop_start(words: &[String], max_compression_ratio: f32) -> Option<usize> {
    if compression_ratio(&words.join(" ")) <= max_compression_ratio {
        return None;
    }
    let norm: Vec<String> = words.iter().map(|w| normalized(w)).collect();
    for start in 0..norm.len() {
        for n in 1..=8 {
            let needed = if n >= 3 { 3 } else { 4 };
            if start + n * needed > norm.len() {
                break;
            }
            let phrase = &norm[start..start + n];
            let repeats = (1..needed).all(|k| &norm[start + k * n..start + (k + 1) * n] == phrase);
            if repeats {
                return Some(start + n);
            }
        }
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

    fn placed(words: &[(&str, u64, u64)]) -> Vec<session::Word> {
        words
            .iter()
            .map(|&(text, start, end)| {
                session::Word::heard(
                    text,
                    session::SessionMs(start),
                    session::SessionMs(end),
                    0.9,
                )
            })
            .collect()
    }

    #[test]
    fn a_repeat_squeezed_past_the_speech_is_an_echo_and_a_repeat_said_again_is_not() {
        let echoed = placed(&[
            ("turbulence.", 17_940, 19_100),
            ("Thank", 19_100, 19_260),
            ("you.", 19_260, 19_260),
            ("Thank", 19_260, 19_260),
            ("you.", 19_260, 19_260),
        ]);
        assert_eq!(echo_start(&echoed), Some(3));
        let said_twice = placed(&[
            ("Thank", 1_000, 1_200),
            ("you.", 1_200, 1_400),
            ("thank", 1_700, 1_900),
            ("you!", 1_900, 2_100),
        ]);
        assert_eq!(echo_start(&said_twice), None);
        assert_eq!(
            echo_start(&echoed[..3]),
            None,
            "a sentence with time of its own"
        );
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
    fn sentences_and_pauses_split_segments() {
        let segments = split_sentences(
            placed(&[
                ("Buonasera.", 0, 500),
                ("Passiamo", 600, 900),
                ("al", 950, 1000),
                ("punto", 2000, 2300),
            ]),
            700,
        );
        let texts: Vec<Vec<&str>> = segments
            .iter()
            .map(|s| s.iter().map(|w| w.text.as_str()).collect())
            .collect();
        assert_eq!(
            texts,
            vec![vec!["Buonasera."], vec!["Passiamo", "al"], vec!["punto"]]
        );
    }

    #[test]
    fn annotations_and_repeats_are_rejected() {
        assert!(reject_reason("[Music]", None).is_some());
        assert!(reject_reason(" (applausi) ", None).is_some());
        assert!(reject_reason("♪ ♪", None).is_some());
        assert!(reject_reason("Grazie.", Some("grazie")).is_some());
        assert_eq!(reject_reason("Passiamo al punto due.", None), None);
    }

    #[test]
    fn loops_are_cut_after_their_first_occurrence() {
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        let looping = words(&format!("Buonasera a tutti. {}", "Thank you. ".repeat(20)));
        assert_eq!(loop_start(&looping, 2.4), Some(5));
        // Sentences said again by different people do not loop back to back.
        let repeated = words(
            "Our group will vote in favor of the proposal. The figures are good. \
             Our group will vote in favor of the proposal. We want a full report.",
        );
        assert_eq!(loop_start(&repeated, 2.4), None);
        assert_eq!(loop_start(&words("Passiamo al punto due."), 2.4), None);
    }
}
