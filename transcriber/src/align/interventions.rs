//! Interventions: one person, one agenda item, one contiguous turn, with its text. A short
//! interruption by the chair (or a few unattributed words) inside someone's turn stays inside it;
//! a change of item always ends an intervention.

use session::{Intervention, Person, Role, SessionMs};

use super::TimelineWord;

/// An interruption at most this long (and this many words) does not split a turn.
const SHORT_INTERRUPTION_MS: u64 = 4_000;
const SHORT_INTERRUPTION_WORDS: usize = 12;
/// A pause this long ends a turn even when the same person speaks again.
const LONG_PAUSE_MS: u64 = 30_000;

#[derive(Clone, Debug)]
struct Run {
    person: Option<String>,
    item: Option<u32>,
    words: Vec<usize>,
}

/// The interventions of a timeline's words (sorted by start), in time order, never overlapping.
pub fn derive(words: &[TimelineWord], roster: &[Person]) -> Vec<Intervention> {
    let mut runs: Vec<Run> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        match runs.last_mut() {
            Some(run)
                if run.person == w.person
                    && run.item == w.item
                    && run
                        .words
                        .last()
                        .is_none_or(|&j| w.start_ms.0 < words[j].end_ms.0 + LONG_PAUSE_MS) =>
            {
                run.words.push(i)
            }
            _ => runs.push(Run {
                person: w.person.clone(),
                item: w.item,
                words: vec![i],
            }),
        }
    }
    let interrupter = |run: &Run| match &run.person {
        None => true,
        Some(id) => roster
            .iter()
            .any(|p| &p.id == id && matches!(p.role, Role::Chair | Role::ViceChair)),
    };
    // A, short chair/unknown run, A (same item) -> one A run that keeps only A's words as text.
    let mut merged: Vec<Run> = Vec::new();
    let mut k = 0;
    while k < runs.len() {
        let mut run = runs[k].clone();
        k += 1;
        while k + 1 < runs.len() {
            let (middle, next) = (&runs[k], &runs[k + 1]);
            let short = middle.words.len() <= SHORT_INTERRUPTION_WORDS
                && span(words, &middle.words).1 .0 - span(words, &middle.words).0 .0
                    <= SHORT_INTERRUPTION_MS;
            if run.person.is_some()
                && next.person == run.person
                && next.item == run.item
                && middle.item == run.item
                && middle.person != run.person
                && short
                && interrupter(middle)
            {
                run.words.extend(&next.words);
                k += 2;
            } else {
                break;
            }
        }
        merged.push(run);
    }

    let mut out: Vec<Intervention> = merged
        .iter()
        .map(|run| {
            let (start_ms, end_ms) = span(words, &run.words);
            Intervention {
                person: run.person.clone(),
                item: run.item,
                start_ms,
                end_ms,
                text: run
                    .words
                    .iter()
                    .map(|&i| words[i].text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .collect();
    // Whisper's word times may overlap a little across a change of speaker: the earlier
    // intervention ends where the next one starts.
    for k in 1..out.len() {
        let next_start = out[k].start_ms;
        let previous = &mut out[k - 1];
        previous.end_ms = previous.end_ms.min(next_start).max(previous.start_ms);
    }
    out
}

fn span(words: &[TimelineWord], indices: &[usize]) -> (SessionMs, SessionMs) {
    let start = indices
        .iter()
        .map(|&i| words[i].start_ms)
        .min()
        .unwrap_or_default();
    let end = indices
        .iter()
        .map(|&i| words[i].end_ms)
        .max()
        .unwrap_or_default();
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, at_s: u64, person: Option<&str>, item: Option<u32>) -> TimelineWord {
        TimelineWord {
            text: text.into(),
            start_ms: SessionMs(at_s * 1000),
            end_ms: SessionMs(at_s * 1000 + 400),
            person: person.map(String::from),
            item,
            confidence: 1.0,
            asr_confidence: 1.0,
            segment: 0,
        }
    }

    fn roster() -> Vec<Person> {
        session::from_json::<Vec<Person>>(
            r#"[{"id":"chair","name":"C","role":"chair"},{"id":"rossi","name":"R","role":"councillor"},{"id":"verdi","name":"V","role":"councillor"}]"#,
        )
        .unwrap()
    }

    #[test]
    fn a_short_chair_interruption_stays_inside_the_turn() {
        let words = [
            word("Passiamo", 1, Some("chair"), Some(1)),
            word("Grazie", 3, Some("rossi"), Some(1)),
            word("colleghi", 4, Some("rossi"), Some(1)),
            word("Prego", 5, Some("chair"), Some(1)),
            word("dunque", 6, Some("rossi"), Some(1)),
            word("Grazie", 8, Some("verdi"), Some(1)),
        ];
        let out = derive(&words, &roster());
        let people: Vec<_> = out.iter().map(|i| i.person.as_deref().unwrap()).collect();
        assert_eq!(people, ["chair", "rossi", "verdi"]);
        assert_eq!(out[1].text, "Grazie colleghi dunque");
        assert_eq!((out[1].start_ms.0, out[1].end_ms.0), (3000, 6400));
    }

    #[test]
    fn a_councillor_interrupting_splits_and_an_item_change_ends_a_turn() {
        let words = [
            word("a", 1, Some("rossi"), Some(1)),
            word("b", 2, Some("verdi"), Some(1)),
            word("c", 3, Some("rossi"), Some(1)),
            word("d", 4, Some("rossi"), Some(2)),
        ];
        let out = derive(&words, &roster());
        assert_eq!(out.len(), 4);
        assert_eq!(out[3].item, Some(2));
    }
}
