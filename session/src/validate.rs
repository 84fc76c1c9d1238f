//! Checks a session document and reports every problem with its field path and the reason.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::model::{Mode, Session, SourceKind, VoteCounts};

/// One thing wrong with a document, e.g. `agenda[3].number: 4 appears twice`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Whether `id` can name a session, a person or a source, and so a folder or a file: 1 to 64 ASCII
/// letters, digits, `-`, `_` or `.`, starting with a letter or digit.
pub fn is_safe_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

const URI_SCHEMES: [&str; 8] = [
    "file", "rtsp", "rtsps", "srt", "rtmp", "rtmps", "http", "https",
];

/// The scheme of a source uri, or `None` for a plain path.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// The most sources, people, agenda items, closed parts and evidence entries a document may hold,
/// and the longest text of a field, in characters.
pub const MAX_SOURCES: usize = 64;
pub const MAX_PERSONS: usize = 2_000;
pub const MAX_ITEMS: usize = 1_000;
pub const MAX_CLOSED_RANGES: usize = 100;
pub const MAX_EVIDENCE: usize = 100_000;
pub const MAX_VOTES: usize = 1_000;
pub const MAX_TEXT_CHARS: usize = 2_000;

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            reason: reason.into(),
        });
    }

    fn id(&mut self, path: String, id: &str) {
        if !is_safe_id(id) {
            self.add(
                path,
                format!("{id:?} is not a valid id (expected 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit)"),
            );
        }
    }

    fn not_blank(&mut self, path: String, text: &str) {
        if text.trim().is_empty() {
            self.add(path, "must not be empty");
        }
    }

    /// Reports values seen before under `field`, e.g. a second agenda item numbered 4.
    fn unique<T: std::hash::Hash + Eq + fmt::Display>(
        &mut self,
        list: &str,
        field: &str,
        values: impl Iterator<Item = (usize, T)>,
    ) {
        let mut seen = HashSet::new();
        for (i, value) in values {
            if !seen.insert(value.to_string()) {
                self.add(
                    format!("{list}[{i}].{field}"),
                    format!("{value} appears twice"),
                );
            }
        }
    }
}

impl Session {
    /// Every problem of the document; empty when it is valid.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Problems(Vec::new());
        p.not_blank("body".into(), &self.body);
        p.not_blank("title".into(), &self.title);
        let lang_ok = (2..=3).contains(&self.language.len())
            && self.language.bytes().all(|b| b.is_ascii_lowercase());
        if !lang_ok {
            p.add(
                "language",
                format!(
                    "{:?} is not a language code (expected ISO 639-1 such as \"it\" or \"en\")",
                    self.language
                ),
            );
        }
        self.validate_roster(&mut p);
        self.validate_sources(&mut p);
        self.validate_agenda(&mut p);
        self.validate_closed_ranges(&mut p);
        self.validate_evidence(&mut p);
        self.validate_votes(&mut p);
        self.validate_sizes(&mut p);
        p.0
    }

    /// Bounds on a document's size, so that no field can swell every page and report.
    fn validate_sizes(&self, p: &mut Problems) {
        let lists = [
            ("sources", self.sources.len(), MAX_SOURCES),
            ("roster", self.roster.len(), MAX_PERSONS),
            ("agenda", self.agenda.len(), MAX_ITEMS),
            ("closed_ranges", self.closed_ranges.len(), MAX_CLOSED_RANGES),
            ("floor_events", self.floor_events.len(), MAX_EVIDENCE),
            ("agenda_markers", self.agenda_markers.len(), MAX_EVIDENCE),
            ("votes", self.votes.len(), MAX_VOTES),
        ];
        for (list, len, max) in lists {
            if len > max {
                p.add(list, format!("has {len} entries (at most {max})"));
            }
        }
        let mut texts: Vec<(String, &str)> =
            vec![("body".into(), &self.body), ("title".into(), &self.title)];
        for (i, x) in self.roster.iter().enumerate() {
            texts.push((format!("roster[{i}].name"), &x.name));
            if let Some(g) = &x.group {
                texts.push((format!("roster[{i}].group"), g));
            }
        }
        for (i, x) in self.agenda.iter().enumerate() {
            texts.push((format!("agenda[{i}].title"), &x.title));
            if let Some(g) = &x.proposer_group {
                texts.push((format!("agenda[{i}].proposer_group"), g));
            }
        }
        for (i, x) in self.votes.iter().enumerate() {
            texts.push((format!("votes[{i}].subject"), &x.subject));
        }
        for (i, x) in self.sources.iter().enumerate() {
            texts.push((format!("sources[{i}].uri"), &x.uri));
        }
        for (path, text) in texts {
            let chars = text.chars().count();
            if chars > MAX_TEXT_CHARS {
                p.add(
                    path,
                    format!("is {chars} characters long (at most {MAX_TEXT_CHARS})"),
                );
            }
        }
    }

    fn validate_roster(&self, p: &mut Problems) {
        for (i, person) in self.roster.iter().enumerate() {
            p.id(format!("roster[{i}].id"), &person.id);
            p.not_blank(format!("roster[{i}].name"), &person.name);
            if person.seat == Some(0) {
                p.add(
                    format!("roster[{i}].seat"),
                    "0 is not a seat (expected >= 1)",
                );
            }
        }
        p.unique(
            "roster",
            "id",
            self.roster.iter().map(|x| &x.id).enumerate(),
        );
        p.unique(
            "roster",
            "seat",
            self.roster
                .iter()
                .enumerate()
                .filter_map(|(i, x)| x.seat.map(|s| (i, s))),
        );
    }

    fn validate_sources(&self, p: &mut Problems) {
        for (i, source) in self.sources.iter().enumerate() {
            p.id(format!("sources[{i}].id"), &source.id);
            let bare_scheme = source.uri.split_once(':').is_some_and(|(scheme, _)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
            if source.uri.trim().is_empty() {
                p.add(format!("sources[{i}].uri"), "must not be empty");
            } else if source.uri.chars().any(char::is_control) {
                p.add(format!("sources[{i}].uri"), "holds a control character");
            } else if uri_scheme(&source.uri).is_none() && bare_scheme {
                p.add(
                    format!("sources[{i}].uri"),
                    format!(
                        "{:?} is neither a file path nor a uri of a supported scheme ({})",
                        source.uri,
                        URI_SCHEMES.join(", ")
                    ),
                );
            } else if let Some(scheme) = uri_scheme(&source.uri) {
                if !URI_SCHEMES.contains(&scheme) {
                    p.add(
                        format!("sources[{i}].uri"),
                        format!(
                            "unsupported scheme {scheme:?} (expected one of {})",
                            URI_SCHEMES.join(", ")
                        ),
                    );
                }
            }
            match (&source.person, source.kind) {
                (Some(person), _) if self.person(person).is_none() => p.add(
                    format!("sources[{i}].person"),
                    format!("{person:?} is not in the roster"),
                ),
                (None, SourceKind::Remote) => p.add(
                    format!("sources[{i}].person"),
                    "a remote source must name the participant it carries",
                ),
                _ => {}
            }
            if !source.channel_seats.is_empty() && source.kind != SourceKind::RoomAudio {
                p.add(
                    format!("sources[{i}].channel_seats"),
                    format!(
                        "only room_audio has microphone channels (this source is {})",
                        source.kind.as_str()
                    ),
                );
            }
            for (c, seat) in source.channel_seats.iter().enumerate() {
                if !self.roster.iter().any(|r| r.seat == Some(*seat)) {
                    p.add(
                        format!("sources[{i}].channel_seats[{c}]"),
                        format!("nobody in the roster sits at seat {seat}"),
                    );
                }
            }
            if source.kind == SourceKind::Remote && self.mode == Mode::InPerson {
                p.add(
                    format!("sources[{i}].kind"),
                    "a remote source in an in_person session (expected mode remote or hybrid)",
                );
            }
        }
        p.unique(
            "sources",
            "id",
            self.sources.iter().map(|x| &x.id).enumerate(),
        );
    }

    fn validate_agenda(&self, p: &mut Problems) {
        for (i, item) in self.agenda.iter().enumerate() {
            if item.number == 0 {
                p.add(
                    format!("agenda[{i}].number"),
                    "0 is not an item number (expected >= 1)",
                );
            }
            p.not_blank(format!("agenda[{i}].title"), &item.title);
            if let Some(who) = &item.rapporteur {
                if self.person(who).is_none() {
                    p.add(
                        format!("agenda[{i}].rapporteur"),
                        format!("{who:?} is not in the roster"),
                    );
                }
            }
            if let Some(group) = &item.proposer_group {
                if !self.roster.iter().any(|x| x.group.as_ref() == Some(group)) {
                    p.add(
                        format!("agenda[{i}].proposer_group"),
                        format!("{group:?} is not the group of anyone in the roster"),
                    );
                }
            }
        }
        p.unique(
            "agenda",
            "number",
            self.agenda.iter().map(|x| x.number).enumerate(),
        );
    }

    fn validate_closed_ranges(&self, p: &mut Problems) {
        for (i, range) in self.closed_ranges.iter().enumerate() {
            if range.end_ms <= range.start_ms {
                p.add(
                    format!("closed_ranges[{i}]"),
                    format!(
                        "ends at {} ms, not after its start at {} ms",
                        range.end_ms.0, range.start_ms.0
                    ),
                );
            }
            for (j, earlier) in self.closed_ranges[..i].iter().enumerate() {
                if range.start_ms < earlier.end_ms && earlier.start_ms < range.end_ms {
                    p.add(
                        format!("closed_ranges[{i}]"),
                        format!("overlaps closed_ranges[{j}]"),
                    );
                }
            }
        }
    }

    fn validate_evidence(&self, p: &mut Problems) {
        let clock = self.clock();
        let seats: HashMap<u32, &str> = self
            .roster
            .iter()
            .filter_map(|x| x.seat.map(|s| (s, x.id.as_str())))
            .collect();
        for (i, event) in self.floor_events.iter().enumerate() {
            let path = format!("floor_events[{i}]");
            match (&event.person, event.seat) {
                (None, None) => p.add(path.clone(), "names neither a seat nor a person"),
                (Some(person), _) if self.person(person).is_none() => p.add(
                    format!("{path}.person"),
                    format!("{person:?} is not in the roster"),
                ),
                (None, Some(seat)) if !seats.contains_key(&seat) => p.add(
                    format!("{path}.seat"),
                    format!("no person sits at seat {seat}"),
                ),
                (Some(person), Some(seat)) if seats.get(&seat) != Some(&person.as_str()) => p.add(
                    format!("{path}.seat"),
                    format!("seat {seat} is not {person:?}'s seat"),
                ),
                _ => {}
            }
            if clock.to_session(event.at).is_none() {
                p.add(
                    format!("{path}.at"),
                    format!("{} is before the session's start {}", event.at, self.start),
                );
            }
        }
        for (i, marker) in self.agenda_markers.iter().enumerate() {
            if self.item(marker.item).is_none() {
                p.add(
                    format!("agenda_markers[{i}].item"),
                    format!("{} is not an agenda item number", marker.item),
                );
            }
            if clock.to_session(marker.at).is_none() {
                p.add(
                    format!("agenda_markers[{i}].at"),
                    format!("{} is before the session's start {}", marker.at, self.start),
                );
            }
        }
    }
}

impl Session {
    /// Votes on items of the agenda, at or after the start, by people of the roster each voting
    /// once, with counts that are the ballots' when ballots are given.
    fn validate_votes(&self, p: &mut Problems) {
        let clock = self.clock();
        for (i, vote) in self.votes.iter().enumerate() {
            let path = format!("votes[{i}]");
            if self.item(vote.item).is_none() {
                p.add(
                    format!("{path}.item"),
                    format!("{} is not an agenda item number", vote.item),
                );
            }
            if clock.to_session(vote.at).is_none() {
                p.add(
                    format!("{path}.at"),
                    format!("{} is before the session's start {}", vote.at, self.start),
                );
            }
            p.not_blank(format!("{path}.subject"), &vote.subject);
            let mut first: HashMap<&str, usize> = HashMap::new();
            for (j, ballot) in vote.ballots.iter().enumerate() {
                let at = format!("{path}.ballots[{j}].person");
                if self.person(&ballot.person).is_none() {
                    p.add(at, format!("{:?} is not in the roster", ballot.person));
                    continue;
                }
                match first.entry(&ballot.person) {
                    Entry::Occupied(k) => p.add(
                        at,
                        format!(
                            "{:?} votes twice (first in ballots[{}])",
                            ballot.person,
                            k.get()
                        ),
                    ),
                    Entry::Vacant(slot) => {
                        slot.insert(j);
                    }
                }
            }
            if vote.ballots.is_empty() {
                continue;
            }
            let cast = VoteCounts::of(vote.ballots.iter().map(|b| b.vote));
            for (field, said, counted) in [
                ("favour", vote.counts.favour, cast.favour),
                ("against", vote.counts.against, cast.against),
                ("abstained", vote.counts.abstained, cast.abstained),
            ] {
                if said != counted {
                    p.add(
                        format!("{path}.counts.{field}"),
                        format!("is {said}, but {counted} of the ballots say {field}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Session {
        serde_json::from_str(
            r#"{
            "id": "cc-2021-03-15", "body": "Consiglio comunale", "title": "Seduta ordinaria",
            "start": "2021-03-15T17:00:00Z", "mode": "hybrid",
            "sources": [{"id": "cam1", "kind": "camera", "uri": "camera.mp4"},
                        {"id": "remote-anna", "kind": "remote", "uri": "srt://0.0.0.0:9000", "person": "anna"}],
            "roster": [{"id": "rossi", "name": "Mario Rossi", "role": "chair", "seat": 1},
                       {"id": "anna", "name": "Anna Verdi", "role": "councillor", "group": "Misto"}],
            "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution", "rapporteur": "anna"},
                       {"number": 2, "title": "Mozione", "kind": "motion"}],
            "closed_ranges": [{"start_ms": 1000, "end_ms": 2000}],
            "floor_events": [{"at": "2021-03-15T17:00:05Z", "seat": 1, "action": "mic_on"}],
            "agenda_markers": [{"at": "2021-03-15T17:01:00Z", "item": 2}],
            "votes": [{"item": 2, "at": "2021-03-15T17:20:00Z", "subject": "Mozione",
                       "result": "approved", "counts": {"favour": 1, "against": 0, "abstained": 0},
                       "ballots": [{"person": "anna", "vote": "favour"}]},
                      {"item": 2, "at": "2021-03-15T17:30:00Z", "subject": "Bilancio",
                       "result": "rejected", "counts": {"favour": 3, "against": 9, "abstained": 1}}]
        }"#,
        )
        .unwrap()
    }

    fn reasons(session: &Session) -> Vec<String> {
        session.validate().iter().map(Problem::to_string).collect()
    }

    #[test]
    fn a_good_document_has_no_problem() {
        assert_eq!(reasons(&sample()), Vec::<String>::new());
    }

    #[test]
    fn duplicate_agenda_numbers_name_the_second_item() {
        let mut s = sample();
        s.agenda[0].number = 2;
        assert_eq!(reasons(&s), ["agenda[1].number: 2 appears twice"]);
    }

    #[test]
    fn floor_event_for_an_empty_seat() {
        let mut s = sample();
        s.floor_events[0].seat = Some(31);
        assert_eq!(
            reasons(&s),
            ["floor_events[0].seat: no person sits at seat 31"]
        );
    }

    #[test]
    fn overlapping_closed_ranges() {
        let mut s = sample();
        s.closed_ranges.push(session_range(1500, 2500));
        assert_eq!(reasons(&s), ["closed_ranges[1]: overlaps closed_ranges[0]"]);
    }

    fn session_range(start: u64, end: u64) -> crate::model::ClosedRange {
        crate::model::ClosedRange {
            start_ms: crate::SessionMs(start),
            end_ms: crate::SessionMs(end),
            reason: None,
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut s = sample();
        s.roster[0].id = "../etc".into();
        s.sources[1].person = Some("nobody".into());
        s.agenda_markers[0].item = 9;
        s.floor_events[0].at = "2021-03-15T16:00:00Z".parse().unwrap();
        let found = reasons(&s);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("roster[0].id: \"../etc\" is not a valid id"));
        assert!(found
            .iter()
            .any(|r| r == "sources[1].person: \"nobody\" is not in the roster"));
        assert!(found
            .iter()
            .any(|r| r == "agenda_markers[0].item: 9 is not an agenda item number"));
        assert!(found
            .iter()
            .any(|r| r.starts_with("floor_events[0].at: 2021-03-15 16:00:00 UTC is before")));
    }

    #[test]
    fn a_vote_on_an_item_not_on_the_agenda() {
        let mut s = sample();
        s.votes[1].item = 7;
        assert_eq!(
            reasons(&s),
            ["votes[1].item: 7 is not an agenda item number"]
        );
    }

    #[test]
    fn a_ballot_of_someone_not_in_the_roster() {
        let mut s = sample();
        s.votes[0].ballots[0].person = "nobody".into();
        assert_eq!(
            reasons(&s),
            ["votes[0].ballots[0].person: \"nobody\" is not in the roster"]
        );
    }

    #[test]
    fn a_person_voting_twice() {
        let mut s = sample();
        s.votes[0].ballots.push(crate::Ballot {
            person: "anna".into(),
            vote: crate::Choice::Against,
        });
        s.votes[0].counts.against = 1;
        assert_eq!(
            reasons(&s),
            ["votes[0].ballots[1].person: \"anna\" votes twice (first in ballots[0])"]
        );
    }

    #[test]
    fn counts_that_do_not_add_up_to_the_ballots() {
        let mut s = sample();
        s.votes[0].counts.favour = 5;
        s.votes[0].counts.abstained = 1;
        assert_eq!(
            reasons(&s),
            [
                "votes[0].counts.favour: is 5, but 1 of the ballots say favour",
                "votes[0].counts.abstained: is 1, but 0 of the ballots say abstained",
            ]
        );
    }

    #[test]
    fn a_secret_ballot_has_counts_only_and_a_vote_is_never_before_the_start() {
        let mut s = sample();
        s.votes[1].at = "2021-03-15T16:59:00Z".parse().unwrap();
        assert_eq!(
            reasons(&s),
            ["votes[1].at: 2021-03-15 16:59:00 UTC is before the session's start 2021-03-15 17:00:00 UTC"]
        );
    }

    #[test]
    fn a_proposer_group_must_be_a_group_of_the_roster() {
        let mut s = sample();
        s.agenda[1].proposer_group = Some("Misto".into());
        assert_eq!(reasons(&s), Vec::<String>::new());
        s.agenda[1].proposer_group = Some("Altro".into());
        assert_eq!(
            reasons(&s),
            ["agenda[1].proposer_group: \"Altro\" is not the group of anyone in the roster"]
        );
    }

    #[test]
    fn safe_ids() {
        for good in ["cc-2021", "a", "seduta_1.it"] {
            assert!(is_safe_id(good), "{good}");
        }
        for bad in ["", "..", ".hidden", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!is_safe_id(bad), "{bad}");
        }
    }
}
