//! Scoring a transcript against a generated session's truth: word error rate (case, punctuation,
//! number words and British/American spelling normalised), each utterance's first-word start and
//! last-word end error, words found where nobody spoke, speaker attribution and agenda item starts.
//! Pure logic, used by tests and benches.

use serde::Serialize;
use session::Transcript;
use transcriber::align::{ItemSpan, TimelineWord};

use crate::Truth;

const NUMBERS: [(&str, &str); 34] = [
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("uno", "1"),
    ("una", "1"),
    ("due", "2"),
    ("tre", "3"),
    ("quattro", "4"),
    ("cinque", "5"),
    ("sei", "6"),
    ("sette", "7"),
    ("otto", "8"),
    ("nove", "9"),
    ("dieci", "10"),
    ("undici", "11"),
    ("dodici", "12"),
    ("first", "1"),
    ("second", "2"),
    ("third", "3"),
    ("primo", "1"),
    ("secondo", "2"),
    ("terzo", "3"),
    ("quarto", "4"),
    ("quinto", "5"),
];

/// British spellings written the American way, as Whisper's English normaliser does.
const SPELLINGS: [(&str, &str); 10] = [
    ("councillor", "councilor"),
    ("councillors", "councilors"),
    ("neighbourhoods", "neighborhoods"),
    ("neighbourhood", "neighborhood"),
    ("favour", "favor"),
    ("centre", "center"),
    ("programme", "program"),
    ("labour", "labor"),
    ("colour", "color"),
    ("organise", "organize"),
];

/// Lower-case words without punctuation, number words as digits.
pub fn normalize(text: &str) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .flat_map(char::to_lowercase)
        .collect();
    cleaned
        .split_whitespace()
        .map(|w| {
            NUMBERS
                .iter()
                .chain(SPELLINGS.iter())
                .find(|(from, _)| *from == w)
                .map_or_else(|| w.to_owned(), |(_, to)| (*to).to_owned())
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Sub(usize, usize),
    Del(usize),
    Ins(usize),
}

/// Levenshtein alignment of two word sequences.
fn align(reference: &[String], hypothesis: &[String]) -> Vec<Op> {
    let (n, m) = (reference.len(), hypothesis.len());
    let mut cost = vec![vec![0u32; m + 1]; n + 1];
    for (i, row) in cost.iter_mut().enumerate() {
        row[0] = i as u32;
    }
    for (j, cell) in cost[0].iter_mut().enumerate() {
        *cell = j as u32;
    }
    for i in 1..=n {
        for j in 1..=m {
            let diff = u32::from(reference[i - 1] != hypothesis[j - 1]);
            cost[i][j] = (cost[i - 1][j - 1] + diff)
                .min(cost[i - 1][j] + 1)
                .min(cost[i][j - 1] + 1);
        }
    }
    let (mut i, mut j, mut ops) = (n, m, Vec::new());
    while i > 0 || j > 0 {
        if i > 0 && j > 0 {
            let diff = u32::from(reference[i - 1] != hypothesis[j - 1]);
            if cost[i][j] == cost[i - 1][j - 1] + diff {
                ops.push(if diff == 0 {
                    Op::Same(i - 1, j - 1)
                } else {
                    Op::Sub(i - 1, j - 1)
                });
                i -= 1;
                j -= 1;
                continue;
            }
        }
        if i > 0 && cost[i][j] == cost[i - 1][j] + 1 {
            ops.push(Op::Del(i - 1));
            i -= 1;
        } else {
            ops.push(Op::Ins(j - 1));
            j -= 1;
        }
    }
    ops.reverse();
    ops
}

/// Word error rate: (substitutions + deletions + insertions) / reference words.
pub fn wer(reference: &[String], hypothesis: &[String]) -> f64 {
    let errors = align(reference, hypothesis)
        .iter()
        .filter(|op| !matches!(op, Op::Same(..)))
        .count();
    errors as f64 / reference.len().max(1) as f64
}

#[derive(Clone, Debug, Serialize)]
pub struct UtteranceTiming {
    pub text: String,
    /// Signed error (transcript minus truth) of the first word's start; `None` if nothing matched.
    pub start_error_ms: Option<i64>,
    pub end_error_ms: Option<i64>,
    /// The utterance's words, and how many of them the transcript has right.
    pub words: usize,
    pub words_kept: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Score {
    pub wer: f64,
    pub reference_words: usize,
    pub hypothesis_words: usize,
    pub utterances: Vec<UtteranceTiming>,
    /// Transcript words that overlap no utterance (with `margin_ms` either side).
    pub words_outside_speech: Vec<String>,
}

impl Score {
    pub fn max_start_error_ms(&self) -> Option<u64> {
        self.utterances
            .iter()
            .map(|u| u.start_error_ms.map(i64::unsigned_abs))
            .max()
            .flatten()
    }

    pub fn max_end_error_ms(&self) -> Option<u64> {
        self.utterances
            .iter()
            .map(|u| u.end_error_ms.map(i64::unsigned_abs))
            .max()
            .flatten()
    }

    pub fn mean_start_error_ms(&self) -> f64 {
        let errors: Vec<u64> = self
            .utterances
            .iter()
            .filter_map(|u| u.start_error_ms.map(i64::unsigned_abs))
            .collect();
        errors.iter().sum::<u64>() as f64 / errors.len().max(1) as f64
    }
}

pub fn score(truth: &Truth, transcript: &Transcript, margin_ms: u64) -> Score {
    let mut reference = Vec::new();
    let mut owner = Vec::new();
    for (k, u) in truth.utterances.iter().enumerate() {
        for w in normalize(&u.text) {
            reference.push(w);
            owner.push(k);
        }
    }
    // Each transcript word may normalise to several tokens ("all'ordine"): keep the source word.
    let mut hypothesis = Vec::new();
    let mut source = Vec::new();
    let words: Vec<_> = transcript.words().collect();
    for (i, w) in words.iter().enumerate() {
        for token in normalize(&w.text) {
            hypothesis.push(token);
            source.push(i);
        }
    }
    let ops = align(&reference, &hypothesis);
    let mut first: Vec<Option<usize>> = vec![None; truth.utterances.len()];
    let mut last: Vec<Option<usize>> = vec![None; truth.utterances.len()];
    let mut total = vec![0usize; truth.utterances.len()];
    let mut kept = vec![0usize; truth.utterances.len()];
    for &k in &owner {
        total[k] += 1;
    }
    for op in &ops {
        if let Op::Same(r, h) | Op::Sub(r, h) = *op {
            let k = owner[r];
            first[k].get_or_insert(source[h]);
            last[k] = Some(source[h]);
            if matches!(op, Op::Same(..)) {
                kept[k] += 1;
            }
        }
    }
    let utterances = truth
        .utterances
        .iter()
        .enumerate()
        .map(|(k, u)| UtteranceTiming {
            text: u.text.clone(),
            start_error_ms: first[k].map(|i| words[i].start_ms.0 as i64 - u.start_ms.0 as i64),
            end_error_ms: last[k].map(|i| words[i].end_ms.0 as i64 - u.end_ms.0 as i64),
            words: total[k],
            words_kept: kept[k],
        })
        .collect();
    let words_outside_speech = words
        .iter()
        .filter(|w| {
            !truth.utterances.iter().any(|u| {
                w.start_ms.0 < u.end_ms.0 + margin_ms && w.end_ms.0 + margin_ms > u.start_ms.0
            })
        })
        .map(|w| format!("{} at {}", w.text, w.start_ms))
        .collect();
    Score {
        wer: wer(&reference, &hypothesis),
        reference_words: reference.len(),
        hypothesis_words: hypothesis.len(),
        utterances,
        words_outside_speech,
    }
}

/// Word time attributed to the right person, the wrong one, or nobody, against the truth.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Attribution {
    pub right_ms: u64,
    pub wrong_ms: u64,
    pub unknown_ms: u64,
    /// Every word whose name is not the truth's: `"text at time: said by X, named Y"`.
    pub wrong_words: Vec<String>,
    /// Words that overlap no utterance of the truth (not scored).
    pub unscored_words: usize,
}

impl Attribution {
    /// The share of scored word time attributed to the right person.
    pub fn right_share(&self) -> f64 {
        let total = self.right_ms + self.wrong_ms + self.unknown_ms;
        self.right_ms as f64 / total.max(1) as f64
    }
}

/// Scores each word's person against the truth utterance it overlaps most.
pub fn attribution(truth: &Truth, words: &[TimelineWord]) -> Attribution {
    let mut out = Attribution::default();
    for w in words {
        let overlap = |u: &&crate::TruthUtterance| {
            let inter = w.end_ms.0.min(u.end_ms.0) as i64 - w.start_ms.0.max(u.start_ms.0) as i64;
            let inside = u.start_ms <= w.start_ms && w.start_ms <= u.end_ms;
            (inter, inside)
        };
        let Some(said_by) = truth
            .utterances
            .iter()
            .filter(|u| {
                let (inter, inside) = overlap(u);
                inter > 0 || inside
            })
            .max_by_key(|u| overlap(u).0)
        else {
            out.unscored_words += 1;
            continue;
        };
        let ms = w.start_ms.until(w.end_ms);
        match &w.person {
            None => out.unknown_ms += ms,
            Some(p) if *p == said_by.person => out.right_ms += ms,
            Some(p) => {
                out.wrong_ms += ms;
                out.wrong_words.push(format!(
                    "{} at {}: said by {}, named {p}",
                    w.text, w.start_ms, said_by.person
                ));
            }
        }
    }
    out
}

/// For each item of the truth, the signed error of the first span the timeline gives it (`None`
/// when the item was not found).
pub fn item_start_errors(truth: &Truth, items: &[ItemSpan]) -> Vec<(u32, Option<i64>)> {
    truth
        .items
        .iter()
        .map(|t| {
            let found = items.iter().find(|s| s.number == t.number);
            (
                t.number,
                found.map(|s| s.start_ms.0 as i64 - t.start_ms.0 as i64),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        normalize(text)
    }

    #[test]
    fn normalises_case_punctuation_numbers_and_spelling() {
        assert_eq!(
            words("Passiamo al punto due, all'ordine!"),
            ["passiamo", "al", "punto", "2", "all", "ordine"]
        );
        assert_eq!(
            words("Item 2: Councillor's FAVOUR"),
            ["item", "2", "councilor", "s", "favor"]
        );
        assert_eq!(words("item two"), words("Item 2."));
    }

    #[test]
    fn word_error_rate() {
        assert_eq!(wer(&words("a b c d"), &words("a b c d")), 0.0);
        assert_eq!(wer(&words("a b c d"), &words("a x c")), 0.5);
        assert_eq!(wer(&words("a b"), &words("a b c d")), 1.0);
    }
}
