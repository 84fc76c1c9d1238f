//! Transcript search, the pure part: a timeline's public lines (closed ranges left out) and a light
//! Italian stemmer applied to both the indexed words and the query, so "approvata" finds
//! "approvato". The catalogue (`catalogue::search`) keeps the SQLite FTS5 index of these lines.

use serde::Serialize;
use session::{Session, Timeline};

/// One line of a session's transcript: one speaker, at most ~20 words.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub start_ms: u64,
    pub end_ms: u64,
    pub person: Option<String>,
    pub text: String,
}

/// A search hit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub session: String,
    pub title: String,
    pub start_ms: u64,
    pub text: String,
}

const MAX_LINE_WORDS: usize = 20;

/// The public lines of a timeline: words inside closed ranges are left out, and a line never
/// spans a closed range, a change of speaker, or a pause of 2 s.
pub fn public_lines(session: &Session, timeline: &Timeline) -> Vec<Line> {
    let closed = |ms: u64| session.closed_at(session::SessionMs(ms));
    let mut lines: Vec<Line> = Vec::new();
    let mut count = 0;
    let mut last_end: Option<u64> = None;
    for w in &timeline.words {
        let (start, end) = (w.start_ms.0, w.end_ms.0);
        if closed(start) || closed(end.saturating_sub(1)) {
            last_end = None;
            continue;
        }
        let joins = lines.last().is_some_and(|l| {
            l.person == w.person
                && count < MAX_LINE_WORDS
                && last_end.is_some_and(|e| start.saturating_sub(e) < 2_000)
        });
        if joins {
            let l = lines.last_mut().expect("a line");
            l.text.push(' ');
            l.text.push_str(w.text.trim());
            l.end_ms = end;
            count += 1;
        } else {
            lines.push(Line {
                start_ms: start,
                end_ms: end,
                person: w.person.clone(),
                text: w.text.trim().to_owned(),
            });
            count = 1;
        }
        last_end = Some(end);
    }
    lines
}

/// Lower case, accents folded (as the alignment folds them), letters and digits only.
fn fold(word: &str) -> String {
    transcriber::align::words::fold(word)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A light Italian stemmer: strips the commonest inflectional and derivational endings from words
/// longer than four letters (the stem keeps at least four).
pub fn stem(word: &str) -> String {
    const ENDINGS: [&str; 34] = [
        "amente", "azioni", "azione", "mente", "zioni", "zione", "ando", "endo", "ante", "enti",
        "ente", "ato", "ata", "ati", "ate", "ito", "ita", "iti", "ite", "uto", "uta", "uti", "ute",
        "are", "ere", "ire", "io", "ia", "ie", "ii", "a", "e", "i", "o",
    ];
    let w = fold(word);
    if w.chars().count() <= 4 {
        return w;
    }
    for ending in ENDINGS {
        if let Some(stem) = w.strip_suffix(ending) {
            if stem.chars().count() >= 4 {
                return stem.to_owned();
            }
        }
    }
    w
}

/// The stems of a line's words, as the index keeps them.
pub fn stems(text: &str) -> String {
    text.split_whitespace()
        .map(stem)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The query's words, stemmed, all required; quoted so that no FTS5 syntax gets through.
pub fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split_whitespace()
        .map(stem)
        .filter(|s| !s.is_empty())
        .map(|s| format!("\"{s}\"*"))
        .collect();
    (!terms.is_empty()).then(|| format!("stems : ({})", terms.join(" AND ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_meet_across_inflections_and_accents() {
        assert_eq!(stem("approvata"), stem("approvato"));
        assert_eq!(stem("bilanci"), stem("bilancio"));
        assert_eq!(stem("Città"), stem("citta"));
        assert_eq!(stem("votazione"), stem("votazioni"));
        assert_eq!(stem("per"), "per");
    }

    #[test]
    fn queries_are_quoted_and_stemmed() {
        assert_eq!(
            fts_query("Bilancio approvato").unwrap(),
            "stems : (\"bilanc\"* AND \"approv\"*)"
        );
        // FTS5 syntax in a query is only ever a quoted word.
        assert_eq!(fts_query("\" OR *").unwrap(), "stems : (\"or\"*)");
        assert_eq!(fts_query("\" * :"), None);
    }
}
