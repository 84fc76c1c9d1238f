//! Transcript search, the pure part: a timeline's public lines (closed ranges left out), Snowball
//! stems in the session's language (rust-stemmers) for the indexed words and the query, so
//! "approvata" finds "approvato", and the query syntax (words, `"phrases"`). The catalogue
//! (`catalogue::search`) keeps the SQLite FTS5 index of these lines.

use rust_stemmers::{Algorithm, Stemmer};
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
    /// The session's day, `YYYY-MM-DD`.
    pub date: String,
    pub start_ms: u64,
    pub text: String,
    /// The speaker's roster id and name, when known.
    pub person: Option<String>,
    pub speaker: Option<String>,
    /// The agenda item under way, its title and kind.
    pub item: Option<u32>,
    pub item_title: Option<String>,
    /// The passage in runs, those that match the query marked (all of it unmarked without one).
    pub fragments: Vec<Fragment>,
}

/// A run of a passage's text, matching the query or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Fragment {
    pub text: String,
    pub hit: bool,
}

/// The character before and after each match in a text the database marked (PostgreSQL's
/// `ts_headline`).
pub const MARK_START: char = '\u{1}';
pub const MARK_END: char = '\u{2}';

/// The lowest [`word_similarity`] at which a query is taken for a councillor's name.
pub const NAME_SIMILARITY: f64 = 0.5;

/// Trigrams of `text` as PostgreSQL's `pg_trgm` makes them, in order: each word (letters and
/// digits, lower case, accents folded) padded with two spaces before and one after.
fn trigrams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let padded: Vec<char> = format!("  {} ", fold(&word.to_lowercase()))
            .chars()
            .collect();
        out.extend(padded.windows(3).map(|w| w.iter().collect::<String>()));
    }
    out
}

/// How well `query` matches a part of `name`, as `pg_trgm`'s `word_similarity`: the best
/// Jaccard similarity between the query's trigrams and any run of the name's trigrams in order
/// (so "rosi" matches "Anna Rossi" and "bianki" matches "Luca Bianchi").
pub fn word_similarity(query: &str, name: &str) -> f64 {
    let mut wanted = trigrams(query);
    wanted.sort();
    wanted.dedup();
    let sequence = trigrams(name);
    let mut best = 0.0f64;
    for start in 0..sequence.len() {
        let mut extent: Vec<&str> = Vec::new();
        for trigram in &sequence[start..] {
            if !extent.contains(&trigram.as_str()) {
                extent.push(trigram);
            }
            let shared = extent
                .iter()
                .filter(|t| wanted.binary_search_by(|w| w.as_str().cmp(t)).is_ok())
                .count();
            let union = wanted.len() + extent.len() - shared;
            if union > 0 {
                best = best.max(shared as f64 / union as f64);
            }
        }
    }
    best
}

/// The runs of a text marked with [`MARK_START`] and [`MARK_END`].
pub fn fragments_of_marked(marked: &str) -> Vec<Fragment> {
    let mut out: Vec<Fragment> = Vec::new();
    let mut hit = false;
    let mut text = String::new();
    for c in marked.chars() {
        if c == MARK_START || c == MARK_END {
            push_run(&mut out, std::mem::take(&mut text), hit);
            hit = c == MARK_START;
        } else {
            text.push(c);
        }
    }
    push_run(&mut out, text, hit);
    out
}

fn push_run(out: &mut Vec<Fragment>, text: String, hit: bool) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.hit == hit => last.text.push_str(&text),
        _ => out.push(Fragment { text, hit }),
    }
}

/// The runs of `text` with the words that match `q` marked, as the SQLite index matches them: a
/// word whose stem (Italian or English) begins with the stem of a word of the query.
pub fn fragments(text: &str, q: &str) -> Vec<Fragment> {
    let wanted: Vec<String> = q
        .split(|c: char| c.is_whitespace() || c == '"')
        .flat_map(|w| QUERY_LANGUAGES.map(|lang| stem(w, lang)))
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = Vec::new();
    for (k, word) in text.split(' ').enumerate() {
        if k > 0 {
            push_run(&mut out, " ".to_owned(), false);
        }
        let hit = QUERY_LANGUAGES.iter().any(|lang| {
            let own = stem(word, lang);
            !own.is_empty() && wanted.iter().any(|w| own.starts_with(w.as_str()))
        });
        push_run(&mut out, word.to_owned(), hit);
    }
    out
}

/// What a search may be narrowed to; `None` is no limit. A search's query string carries them
/// (`person`, `group`, `from`, `to`, `kind`), unchecked until [`Filters::checked`].
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct Filters {
    /// A speaker's roster id.
    pub person: Option<String>,
    /// A council group's name.
    pub group: Option<String>,
    /// The first and the last day, `YYYY-MM-DD`, both included.
    pub from: Option<String>,
    pub to: Option<String>,
    /// An agenda item kind (`motion`, `question`, ...).
    pub kind: Option<String>,
    /// One session's id.
    #[serde(skip)]
    pub session: Option<String>,
}

impl Filters {
    /// The filters with empty fields as none, and the days checked: `YYYY-MM-DD`, else what is
    /// wrong, naming the field.
    pub fn checked(self) -> Result<Filters, String> {
        let some = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let day = |name: &str, v: Option<String>| -> Result<Option<String>, String> {
            match some(v) {
                Some(d) if chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").is_err() => {
                    Err(format!("{name}: {d:?} is not a day (expected YYYY-MM-DD)"))
                }
                v => Ok(v),
            }
        };
        Ok(Filters {
            person: some(self.person),
            group: some(self.group),
            from: day("from", self.from)?,
            to: day("to", self.to)?,
            kind: some(self.kind),
            session: some(self.session),
        })
    }
}

/// The agenda item kinds a search or an alert may be narrowed to.
pub const ITEM_KINDS: [&str; 5] = ["motion", "question", "resolution", "communication", "other"];

/// What an alert follows: words (or a `"phrase"`), a councillor (roster id), a group (its name)
/// or an agenda item kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topic {
    Words(String),
    Person(String),
    Group(String),
    Kind(String),
}

/// The longest topic accepted, in characters.
const MAX_TOPIC_CHARS: usize = 200;

impl Topic {
    /// A topic from its kind's name (`words`, `person`, `group`, `kind`) and value, checked:
    /// words that make a query, an item kind that exists, no more than 200 characters.
    pub fn new(kind: &str, value: &str) -> Result<Topic, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{kind}: empty (expected what the alert follows)"));
        }
        if value.chars().count() > MAX_TOPIC_CHARS {
            return Err(format!("{kind}: longer than {MAX_TOPIC_CHARS} characters"));
        }
        let value = value.to_owned();
        match kind {
            "words" if fts_query(&value).is_none() => {
                Err(format!("words: {value:?} has no word to look for"))
            }
            "words" => Ok(Topic::Words(value)),
            "person" => Ok(Topic::Person(value)),
            "group" => Ok(Topic::Group(value)),
            "kind" if !ITEM_KINDS.contains(&value.as_str()) => Err(format!(
                "kind: {value:?} (expected one of {})",
                ITEM_KINDS.join(", ")
            )),
            "kind" => Ok(Topic::Kind(value)),
            other => Err(format!(
                "topic: {other:?} (expected words, person, group or kind)"
            )),
        }
    }

    /// The kind's name, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Topic::Words(_) => "words",
            Topic::Person(_) => "person",
            Topic::Group(_) => "group",
            Topic::Kind(_) => "kind",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Topic::Words(v) | Topic::Person(v) | Topic::Group(v) | Topic::Kind(v) => v,
        }
    }

    /// The search that finds the topic's passages: words to match, if any, and filters.
    pub fn search(&self) -> (Option<&str>, Filters) {
        let mut filters = Filters::default();
        match self {
            Topic::Words(q) => return (Some(q), filters),
            Topic::Person(p) => filters.person = Some(p.clone()),
            Topic::Group(g) => filters.group = Some(g.clone()),
            Topic::Kind(k) => filters.kind = Some(k.clone()),
        }
        (None, filters)
    }
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

/// The Snowball stemmer of a session's language (`it`, `en`; Italian for any other).
fn stemmer(language: &str) -> Stemmer {
    Stemmer::create(if language.starts_with("en") {
        Algorithm::English
    } else {
        Algorithm::Italian
    })
}

/// A word's stem in `language`: lower case, Snowball's stem (rust-stemmers), then accents folded,
/// so "approvata" and "approvato", "Città" and "citta" meet.
pub fn stem(word: &str, language: &str) -> String {
    let lower: String = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    fold(&stemmer(language).stem(&lower))
}

/// The stems of a line's words, as the index keeps them.
pub fn stems(text: &str, language: &str) -> String {
    text.split_whitespace()
        .map(|w| stem(w, language))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The languages a query is stemmed in: the index holds each session's lines stemmed in the
/// session's own language.
const QUERY_LANGUAGES: [&str; 2] = ["it", "en"];

/// A query for the index: every word required (a word matches as a prefix of a stem), a
/// `"quoted phrase"` matches those words one after the other; each stemmed in Italian and in
/// English. Everything is quoted, so that no FTS5 syntax gets through.
pub fn fts_query(q: &str) -> Option<String> {
    let mut terms = Vec::new();
    let parts: Vec<&str> = q.split('"').collect();
    for (k, part) in parts.iter().enumerate() {
        // Between two quotes (an unclosed one quotes nothing).
        let phrase = k % 2 == 1 && k + 1 < parts.len();
        let words: Vec<&str> = part.split_whitespace().collect();
        if phrase && stems(part, "it").split(' ').count() > 1 {
            let mut forms: Vec<String> = QUERY_LANGUAGES
                .iter()
                .map(|lang| format!("\"{}\"", stems(part, lang)))
                .collect();
            forms.dedup();
            terms.push(format!("({})", forms.join(" OR ")));
            continue;
        }
        for word in words {
            let mut forms: Vec<String> = QUERY_LANGUAGES
                .iter()
                .map(|lang| stem(word, lang))
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{s}\"*"))
                .collect();
            forms.dedup();
            if !forms.is_empty() {
                terms.push(format!("({})", forms.join(" OR ")));
            }
        }
    }
    (!terms.is_empty()).then(|| format!("stems : ({})", terms.join(" AND ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_name_is_near_the_councillor_and_far_from_the_others() {
        assert!(word_similarity("rosi", "Anna Rossi") >= NAME_SIMILARITY);
        assert!(word_similarity("bianki", "Luca Bianchi") >= NAME_SIMILARITY);
        assert!(word_similarity("Nicolò", "Nicolo Verdi") > 0.99);
        assert!(word_similarity("rosi", "Luca Bianchi") < NAME_SIMILARITY);
        assert!(word_similarity("bilancio", "Anna Rossi") < NAME_SIMILARITY);
        assert_eq!(word_similarity("", "Anna Rossi"), 0.0);
    }

    #[test]
    fn the_words_a_query_matches_are_marked_in_the_passage() {
        let runs = |fragments: Vec<Fragment>| -> Vec<(String, bool)> {
            fragments.into_iter().map(|f| (f.text, f.hit)).collect()
        };
        assert_eq!(
            runs(fragments("Il bilancio è approvato, grazie.", "approvata")),
            [
                ("Il bilancio è ".to_owned(), false),
                ("approvato,".to_owned(), true),
                (" grazie.".to_owned(), false)
            ]
        );
        assert_eq!(
            runs(fragments_of_marked(
                "le \u{1}scuole\u{2} \u{1}approvate\u{2}"
            )),
            [
                ("le ".to_owned(), false),
                ("scuole".to_owned(), true),
                (" ".to_owned(), false),
                ("approvate".to_owned(), true)
            ]
        );
        assert_eq!(
            runs(fragments("nulla qui", "bilancio")),
            [("nulla qui".to_owned(), false)]
        );
    }

    #[test]
    fn a_topic_is_checked_and_becomes_a_search() {
        let words = Topic::new("words", " \"piano regolatore\" ").unwrap();
        assert_eq!(
            words.search(),
            (Some("\"piano regolatore\""), Filters::default())
        );
        let kind = Topic::new("kind", "motion").unwrap();
        assert_eq!(kind.search().1.kind.as_deref(), Some("motion"));
        assert_eq!(Topic::new(kind.kind(), kind.value()), Ok(kind));
        assert!(Topic::new("kind", "petition")
            .unwrap_err()
            .contains("motion"));
        assert!(Topic::new("words", "\"\" ?")
            .unwrap_err()
            .contains("no word"));
        assert!(Topic::new("person", "  ").unwrap_err().contains("empty"));
        assert!(Topic::new("person", &"x".repeat(201)).is_err());
        assert!(Topic::new("colour", "red").unwrap_err().contains("colour"));
    }

    #[test]
    fn stems_meet_across_inflections_and_accents() {
        assert_eq!(stem("approvata", "it"), stem("approvato", "it"));
        assert_eq!(stem("bilanci", "it"), stem("bilancio", "it"));
        assert_eq!(stem("Città", "it"), stem("citta", "it"));
        assert_eq!(stem("votazione", "it"), stem("votazioni", "it"));
        assert_eq!(stem("villages", "en"), stem("village", "en"));
        assert_eq!(stem("per", "it"), "per");
    }

    #[test]
    fn queries_are_quoted_and_stemmed_in_both_languages() {
        let q = fts_query("Bilancio approvato").unwrap();
        assert!(q.starts_with("stems : ((\"bilanc\"* OR "), "{q}");
        assert!(q.contains(") AND (\"approv\"* OR "), "{q}");
        // A phrase is its stems one after the other, without prefixes.
        let q = fts_query("\"small villages\" report").unwrap();
        assert!(q.contains("\"small villag\""), "{q}");
        assert!(q.ends_with("AND (\"report\"*))"), "{q}");
        // FTS5 syntax in a query is only ever a quoted word.
        assert_eq!(fts_query("\" OR *").unwrap(), "stems : ((\"or\"*))");
        assert_eq!(fts_query("\" * :"), None);
    }
}
