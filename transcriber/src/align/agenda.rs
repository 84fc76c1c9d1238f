//! Agenda alignment: the item boundaries from the clerk's markers when there are any, otherwise from
//! the chair's announcements in the transcript ("passiamo al punto 3", "punto numero tre all'ordine
//! del giorno", "terzo punto", "item three on the agenda", the item's title matched fuzzily). Items
//! stay in agenda order; an item may be skipped, deferred ("rinviato", "postponed") or taken up again
//! ("riprendiamo il punto 4", "we return to item 4").

use session::{Role, Session, SessionMs};

use super::words::{number, ordinal, similarity, tokenize, Token};
use super::{ItemSpan, TimelineWord};

/// Item spans from the agenda markers; markers that name no agenda item are warned about and skipped.
pub fn from_markers(
    session: &Session,
    end: SessionMs,
    warnings: &mut Vec<String>,
) -> Vec<ItemSpan> {
    let clock = session.clock();
    let mut marks = Vec::new();
    let mut latest = None;
    for (index, m) in session.agenda_markers.iter().enumerate() {
        let at = clock.to_session(m.at);
        let label = format!(
            "agenda_markers[{index}] (item {} at {})",
            m.item,
            at.map_or_else(|| m.at.to_rfc3339(), |ms| ms.to_string())
        );
        if latest.is_some_and(|l| m.at < l) {
            warnings.push(format!(
                "{label} is earlier than the marker before it; markers are taken in time order"
            ));
        }
        latest = latest.max(Some(m.at));
        if session.item(m.item).is_none() {
            warnings.push(format!(
                "{label}: there is no item {} on the agenda; ignored",
                m.item
            ));
            continue;
        }
        let at = at.unwrap_or_else(|| {
            warnings.push(format!(
                "{label} is before the session's start; taken as the start"
            ));
            SessionMs::ZERO
        });
        marks.push((at, m.item, 1.0));
    }
    marks.sort_by_key(|m| m.0);
    marks.dedup_by(|later, earlier| later.1 == earlier.1);
    spans(session, marks, end, warnings)
}

/// What a cue in the transcript says about an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CueKind {
    Start,
    Deferred,
    Resumed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Cue {
    /// The first word of the sentence that holds the cue.
    word: usize,
    item: u32,
    score: f32,
    kind: CueKind,
}

const ITEM_NOUNS: [&str; 4] = ["punto", "argomento", "item", "point"];
const FILLERS: [&str; 8] = ["numero", "n", "nr", "no", "number", "il", "al", "the"];
const TRANSITIONS: [&str; 16] = [
    "passiamo",
    "passare",
    "passa",
    "passo",
    "procediamo",
    "trattazione",
    "esame",
    "prossimo",
    "successivo",
    "move",
    "moving",
    "next",
    "turn",
    "proceed",
    "come",
    "now",
];
const AGENDA_WORDS: [&str; 3] = ["ordine", "giorno", "agenda"];
const DEFERRALS: [&str; 14] = [
    "rinviato",
    "rinviata",
    "rinvio",
    "rinviare",
    "rinviamo",
    "posticipato",
    "differito",
    "ritirato",
    "stralciato",
    "postponed",
    "deferred",
    "withdrawn",
    "postpone",
    "defer",
];
const RESUMPTIONS: [&str; 9] = [
    "riprendiamo",
    "riprende",
    "ripresa",
    "torniamo",
    "tornare",
    "resume",
    "resuming",
    "return",
    "back",
];
const STOPWORDS: [&str; 22] = [
    "della", "delle", "dello", "degli", "dalla", "dalle", "sulla", "sulle", "sullo", "sugli",
    "nella", "nelle", "nello", "negli", "alla", "alle", "allo", "agli", "with", "from", "that",
    "this",
];

/// Item spans found in the transcript's words (sorted by time, attributed to speakers).
pub fn find_items(
    session: &Session,
    words: &[TimelineWord],
    end: SessionMs,
    warnings: &mut Vec<String>,
) -> Vec<ItemSpan> {
    let tokens = tokenize(words.iter().map(|w| w.text.as_str()));
    let chairs: Vec<&str> = session
        .roster
        .iter()
        .filter(|p| matches!(p.role, Role::Chair | Role::ViceChair))
        .map(|p| p.id.as_str())
        .collect();
    let by_chair = |word: usize| {
        words[word]
            .person
            .as_deref()
            .is_some_and(|p| chairs.contains(&p))
    };
    let mut cues = number_cues(session, &tokens, words, &by_chair);
    cues.extend(title_cues(session, &tokens, words, &by_chair));
    cues.sort_by_key(|c| c.word);

    let starts: Vec<Cue> = cues
        .iter()
        .copied()
        .filter(|c| c.kind == CueKind::Start)
        .collect();
    let mut chosen = in_agenda_order(&starts);
    let mut deferred = Vec::new();
    for cue in cues.iter().filter(|c| c.kind == CueKind::Deferred) {
        if !deferred.contains(&cue.item) {
            deferred.push(cue.item);
            warnings.push(format!(
                "item {} was deferred at {}",
                cue.item, words[cue.word].start_ms
            ));
        }
    }
    let mut resumed: Vec<Cue> = Vec::new();
    for cue in cues.iter().filter(|c| c.kind == CueKind::Resumed) {
        let seen_before = chosen
            .iter()
            .chain(&resumed)
            .any(|c| c.item == cue.item && c.word < cue.word);
        let deferred_before = cues
            .iter()
            .any(|c| c.kind == CueKind::Deferred && c.item == cue.item && c.word < cue.word);
        let last_resumed = resumed.last().map(|c| c.item);
        if (seen_before || deferred_before) && last_resumed != Some(cue.item) {
            resumed.push(*cue);
        }
    }
    chosen.extend(resumed);
    chosen.sort_by_key(|c| c.word);
    let marks = chosen
        .iter()
        .map(|c| (words[c.word].start_ms, c.item, c.score.min(1.0)))
        .collect();
    let spans = spans(session, marks, end, warnings);
    for item in &session.agenda {
        if !spans.iter().any(|s| s.number == item.number) && !deferred.contains(&item.number) {
            warnings.push(format!(
                "item {} ({}) was not found in the transcript",
                item.number, item.title
            ));
        }
    }
    spans
}

/// Cues such as "punto 3", "punto numero tre", "terzo punto", "item three".
fn number_cues(
    session: &Session,
    tokens: &[Token],
    words: &[TimelineWord],
    by_chair: &dyn Fn(usize) -> bool,
) -> Vec<Cue> {
    let mut cues = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !ITEM_NOUNS.contains(&token.text.as_str()) {
            continue;
        }
        let after = tokens[i + 1..]
            .iter()
            .take(3)
            .find(|t| !FILLERS.contains(&t.text.as_str()))
            .and_then(|t| number(&t.text));
        let before = i.checked_sub(1).and_then(|k| ordinal(&tokens[k].text));
        let Some(item) = after.or(before) else {
            continue;
        };
        let Some(agenda_item) = session.item(item) else {
            continue;
        };
        // Context counts only inside the sentence that holds the cue.
        let sentence = sentence_start(words, token.word)..=sentence_end(words, token.word);
        let near = |from: usize, to: usize, list: &[&str]| {
            tokens[from.min(tokens.len())..to.min(tokens.len())]
                .iter()
                .any(|t| sentence.contains(&t.word) && list.contains(&t.text.as_str()))
        };
        let mut score = 0.6;
        if near(i.saturating_sub(6), i + 8, &TRANSITIONS) {
            score += 0.25;
        }
        if near(i + 1, i + 8, &AGENDA_WORDS) || near(i.saturating_sub(3), i, &AGENDA_WORDS) {
            score += 0.1;
        }
        // The title may follow in the next sentence ("Punto tre. Mozione sulla ...").
        let end = *sentence.end();
        let title_end = match words.get(end + 1) {
            Some(next) if next.start_ms.0 < words[end].end_ms.0 + 1000 => {
                sentence_end(words, end + 1)
            }
            _ => end,
        };
        let title_tokens: Vec<Token> = tokens[i + 1..]
            .iter()
            .take_while(|t| t.word <= title_end)
            .cloned()
            .collect();
        let title = title_match(&agenda_item.title, &title_tokens);
        if title >= 0.5 {
            score += 0.3 * title;
        }
        if by_chair(token.word) {
            score += 0.1;
        }
        let kind = if near(i.saturating_sub(4), i + 10, &DEFERRALS) {
            CueKind::Deferred
        } else if near(i.saturating_sub(6), i, &RESUMPTIONS) {
            CueKind::Resumed
        } else {
            CueKind::Start
        };
        cues.push(Cue {
            word: *sentence.start(),
            item,
            score,
            kind,
        });
    }
    cues
}

/// Cues where most of an item's title is said, with or without its number.
fn title_cues(
    session: &Session,
    tokens: &[Token],
    words: &[TimelineWord],
    by_chair: &dyn Fn(usize) -> bool,
) -> Vec<Cue> {
    let mut cues = Vec::new();
    for item in &session.agenda {
        let content = content_tokens(&item.title);
        if content.len() < 2 {
            continue;
        }
        let window = content.len() * 2 + 3;
        let mut i = 0;
        while i < tokens.len() {
            if similarity(&tokens[i].text, &content[0]) < 0.8 {
                i += 1;
                continue;
            }
            let matched = title_match(&item.title, &tokens[i..(i + window).min(tokens.len())]);
            if matched < 0.7 {
                i += 1;
                continue;
            }
            let mut score = 0.35 * matched;
            let from = i.saturating_sub(10);
            if tokens[from..i]
                .iter()
                .any(|t| TRANSITIONS.contains(&t.text.as_str()))
            {
                score += 0.2;
            }
            if by_chair(tokens[i].word) {
                score += 0.1;
            }
            cues.push(Cue {
                word: announcement_start(words, tokens, sentence_start(words, tokens[i].word)),
                item: item.number,
                score,
                kind: CueKind::Start,
            });
            i += window;
        }
    }
    cues
}

fn content_tokens(title: &str) -> Vec<String> {
    tokenize(title.split_whitespace())
        .into_iter()
        .map(|t| t.text)
        .filter(|t| t.chars().count() >= 4 && !STOPWORDS.contains(&t.as_str()))
        .collect()
}

/// The share of the title's content words found (fuzzily) among `tokens`.
fn title_match(title: &str, tokens: &[Token]) -> f32 {
    let content = content_tokens(title);
    if content.is_empty() {
        return 0.0;
    }
    let found = content
        .iter()
        .filter(|c| tokens.iter().any(|t| similarity(&t.text, c) >= 0.8))
        .count();
    found as f32 / content.len() as f32
}

/// The first word of the sentence holding `word`: back over words until one ends a sentence or a
/// pause of 700 ms or more, at most 15 words.
fn sentence_start(words: &[TimelineWord], word: usize) -> usize {
    let mut k = word;
    while k > 0 && word - k < 15 {
        let previous = &words[k - 1];
        let ends_sentence = previous.text.trim_end().ends_with(['.', '?', '!', ';']);
        let paused = words[k].start_ms.0 >= previous.end_ms.0 + 700;
        if ends_sentence || paused {
            break;
        }
        k -= 1;
    }
    k
}

/// Where an announcement starts when the title was said in its own sentence: the sentence just
/// before ("We now move to the next item on the agenda. Motion on recycling.") when it speaks of
/// items or the agenda and follows without a pause.
fn announcement_start(words: &[TimelineWord], tokens: &[Token], title_sentence: usize) -> usize {
    let Some(last) = title_sentence.checked_sub(1) else {
        return title_sentence;
    };
    if words[title_sentence].start_ms.0 >= words[last].end_ms.0 + 1000 {
        return title_sentence;
    }
    let previous = sentence_start(words, last);
    let speaks_of_items = tokens
        .iter()
        .filter(|t| (previous..title_sentence).contains(&t.word))
        .any(|t| {
            let t = t.text.as_str();
            ITEM_NOUNS.contains(&t) || AGENDA_WORDS.contains(&t) || TRANSITIONS.contains(&t)
        });
    if speaks_of_items {
        previous
    } else {
        title_sentence
    }
}

/// The last word of the sentence holding `word` (the same rules forward).
fn sentence_end(words: &[TimelineWord], word: usize) -> usize {
    let mut k = word;
    while k + 1 < words.len() && k - word < 15 {
        let ends_sentence = words[k].text.trim_end().ends_with(['.', '?', '!', ';']);
        let paused = words[k + 1].start_ms.0 >= words[k].end_ms.0 + 700;
        if ends_sentence || paused {
            break;
        }
        k += 1;
    }
    k
}

/// The highest-scoring chain of cues whose items rise strictly with time: one start per item,
/// items skipped where nobody announced them.
fn in_agenda_order(cues: &[Cue]) -> Vec<Cue> {
    let mut best: Vec<(f32, Option<usize>)> = Vec::with_capacity(cues.len());
    for (i, cue) in cues.iter().enumerate() {
        let mut entry = (cue.score, None);
        for (j, earlier) in cues[..i].iter().enumerate() {
            if earlier.item < cue.item && earlier.word < cue.word && best[j].0 + cue.score > entry.0
            {
                entry = (best[j].0 + cue.score, Some(j));
            }
        }
        best.push(entry);
    }
    let mut last = None;
    for (i, entry) in best.iter().enumerate() {
        if last.is_none_or(|l: usize| entry.0 > best[l].0) {
            last = Some(i);
        }
    }
    let mut chain = Vec::new();
    while let Some(i) = last {
        chain.push(cues[i]);
        last = best[i].1;
    }
    chain.reverse();
    chain
}

/// Item spans from `(start, item, confidence)` marks sorted by time: each lasts until the next.
fn spans(
    session: &Session,
    marks: Vec<(SessionMs, u32, f32)>,
    end: SessionMs,
    warnings: &mut Vec<String>,
) -> Vec<ItemSpan> {
    let mut out: Vec<ItemSpan> = Vec::new();
    for (k, &(start, number, confidence)) in marks.iter().enumerate() {
        let next = marks.get(k + 1);
        if let Some(&(next_start, next_number, _)) = next.filter(|m| m.0 <= start) {
            warnings.push(format!(
                "item {number} at {start} is followed by item {next_number} at {next_start}, \
                 the same moment; only item {next_number} kept"
            ));
            continue;
        }
        let until = next.map_or(end, |m| m.0);
        if start >= end {
            warnings.push(format!(
                "item {number} starts at {start}, after the end of the recording ({end}); ignored"
            ));
            continue;
        }
        out.push(ItemSpan {
            number,
            title: session
                .item(number)
                .map(|i| i.title.clone())
                .unwrap_or_default(),
            start_ms: start,
            end_ms: until,
            confidence: (confidence * 100.0).round() / 100.0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use session::{AgendaItem, ItemKind};

    fn session(titles: &[&str]) -> Session {
        let mut s: Session = session::from_json(
            r#"{"id":"s","body":"b","title":"t","start":"2021-03-15T17:00:00Z","mode":"in_person"}"#,
        )
        .unwrap();
        s.agenda = titles
            .iter()
            .enumerate()
            .map(|(i, t)| AgendaItem {
                number: i as u32 + 1,
                title: (*t).to_owned(),
                kind: ItemKind::Other,
                act: None,
                rapporteur: None,
                proposer_group: None,
            })
            .collect();
        s
    }

    /// Words of `lines` (time in seconds, text), 300 ms a word.
    fn words(lines: &[(u64, &str)]) -> Vec<TimelineWord> {
        let mut out = Vec::new();
        for (segment, (at_s, text)) in lines.iter().enumerate() {
            for (k, w) in text.split_whitespace().enumerate() {
                let start = at_s * 1000 + k as u64 * 300;
                out.push(TimelineWord {
                    text: w.to_owned(),
                    start_ms: SessionMs(start),
                    end_ms: SessionMs(start + 250),
                    person: None,
                    item: None,
                    confidence: 0.0,
                    asr_confidence: 0.9,
                    segment,
                });
            }
        }
        out
    }

    fn found(titles: &[&str], lines: &[(u64, &str)]) -> (Vec<(u32, u64)>, Vec<String>) {
        let mut warnings = Vec::new();
        let spans = find_items(
            &session(titles),
            &words(lines),
            SessionMs(600_000),
            &mut warnings,
        );
        (
            spans
                .iter()
                .map(|s| (s.number, s.start_ms.0 / 1000))
                .collect(),
            warnings,
        )
    }

    const IT: [&str; 4] = [
        "Approvazione del bilancio di previsione",
        "Mozione sulla mobilità sostenibile",
        "Interrogazione sulla manutenzione delle scuole",
        "Regolamento per l'uso dei parchi cittadini",
    ];

    #[test]
    fn italian_announcements_in_their_usual_forms() {
        let (spans, warnings) = found(
            &IT,
            &[
                (1, "Buonasera. Dichiaro aperta la seduta."),
                (
                    10,
                    "Passiamo al punto 1 all'ordine del giorno: approvazione del bilancio.",
                ),
                (60, "Il punto di vista del nostro gruppo è diverso."),
                (
                    100,
                    "Punto numero due all'ordine del giorno, mozione sulla mobilità.",
                ),
                (200, "Passiamo ora al terzo punto."),
                (
                    300,
                    "Ora il punto quattro: regolamento per l'uso dei parchi cittadini.",
                ),
            ],
        );
        assert_eq!(
            spans,
            [(1, 10), (2, 100), (3, 200), (4, 300)],
            "{warnings:?}"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn skipped_deferred_and_resumed_items() {
        let (spans, warnings) = found(
            &IT,
            &[
                (10, "Passiamo al punto uno."),
                (100, "Il punto due è rinviato alla prossima seduta."),
                (110, "Passiamo al punto tre."),
                (200, "Riprendiamo ora il punto due."),
                (300, "Passiamo al punto tre di nuovo? No."),
            ],
        );
        assert_eq!(spans, [(1, 10), (3, 110), (2, 200)], "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("item 2 was deferred")));
        assert!(warnings.iter().any(|w| w.contains("item 4 (Regolamento")));
    }

    #[test]
    fn a_title_alone_finds_its_item_and_a_misheard_word_is_forgiven() {
        let (spans, _) = found(
            &IT,
            &[
                (10, "Passiamo al punto uno."),
                (100, "Ora l'interrogazione sulla manutenzone delle scuole."),
            ],
        );
        assert_eq!(spans, [(1, 10), (3, 100)]);
    }

    #[test]
    fn english_announcements() {
        let titles = [
            "Approval of the annual budget",
            "Motion on recycling",
            "Question on school maintenance",
        ];
        let (spans, _) = found(
            &titles,
            &[
                (
                    5,
                    "We now move to item 1 on the agenda: approval of the annual budget.",
                ),
                (50, "We now move to item number two on the agenda."),
                (90, "I think the point three of the report is wrong."),
                (120, "The third item is the question on school maintenance."),
            ],
        );
        assert_eq!(spans, [(1, 5), (2, 50), (3, 120)]);
    }

    #[test]
    fn a_title_in_its_own_sentence_belongs_to_the_announcement_before() {
        let titles = ["Approval of the annual budget", "Motion on recycling"];
        let mut ws = words(&[(5, "We now move to item 1 on the agenda.")]);
        ws.extend(words(&[(
            50,
            "We now move to the next item on the agenda.",
        )]));
        // The title follows the announcing sentence at once, as its own sentence.
        let mut title = words(&[(53, "Motion on recycling.")]);
        for w in &mut title {
            w.start_ms.0 -= 200;
            w.end_ms.0 -= 200;
            w.segment = 1;
        }
        ws.extend(title);
        let mut warnings = Vec::new();
        let spans = find_items(&session(&titles), &ws, SessionMs(600_000), &mut warnings);
        let starts: Vec<(u32, u64)> = spans.iter().map(|s| (s.number, s.start_ms.0)).collect();
        assert_eq!(starts, [(1, 5000), (2, 50_000)], "{warnings:?}");
    }

    #[test]
    fn two_items_announced_at_the_same_moment_keep_only_the_later() {
        let mut warnings = Vec::new();
        let marks = vec![
            (SessionMs(0), 1, 0.9),
            (SessionMs(0), 2, 0.9),
            (SessionMs(5_000), 3, 0.9),
        ];
        let spans = spans(
            &session(&["A", "B", "C"]),
            marks,
            SessionMs(9_000),
            &mut warnings,
        );
        let got: Vec<(u32, u64, u64)> = spans
            .iter()
            .map(|s| (s.number, s.start_ms.0, s.end_ms.0))
            .collect();
        assert_eq!(got, [(2, 0, 5_000), (3, 5_000, 9_000)]);
        assert!(warnings[0].contains("only item 2 kept"), "{warnings:?}");
    }

    #[test]
    fn boundaries_start_at_the_announcing_sentence() {
        let ws = words(&[(10, "Bene. Allora colleghi passiamo al punto 2.")]);
        // "punto" is the 6th word; the sentence starts at "Allora", the 2nd.
        assert_eq!(sentence_start(&ws, 5), 1);
    }
}
