//! Open data: what the public site shows of each session as documents anyone may reuse, under the
//! licence the configuration names: per session a JSON document (the session, its agenda, the
//! interventions, the votes and the public transcript, closed parts left out) and a CSV of its transcript
//! passages, and an index of every session in JSON and CSV. The JSON follows the schema shipped
//! in `web/open-data.schema.json`. Pure functions over the catalogue's data.

use serde::Serialize;
use session::{Session, Timeline};

use crate::search;

/// The licence when the configuration names none.
pub const DEFAULT_LICENCE: &str = "CC-BY-4.0";

/// One session's open data (`/open-data/sessions/{id}.json`).
#[derive(Clone, Debug, Serialize)]
pub struct SessionData<'a> {
    pub licence: &'a str,
    pub session: SessionFacts<'a>,
    pub agenda: Vec<AgendaEntry<'a>>,
    pub interventions: Vec<InterventionEntry<'a>>,
    pub votes: Vec<VoteEntry<'a>>,
    pub transcript: Vec<Passage<'a>>,
}

/// A vote not taken in a closed part: its counts and, unless the ballot was secret, each
/// person's vote.
#[derive(Clone, Debug, Serialize)]
pub struct VoteEntry<'a> {
    pub item: u32,
    /// Milliseconds from the session's start.
    pub at_ms: u64,
    pub subject: &'a str,
    pub result: &'static str,
    pub counts: session::VoteCounts,
    pub ballots: Vec<BallotEntry<'a>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BallotEntry<'a> {
    pub person: &'a str,
    pub vote: session::Choice,
}

#[derive(Clone, Debug, Serialize)]
pub struct SessionFacts<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub title: &'a str,
    /// RFC 3339, UTC.
    pub start: String,
    pub mode: &'static str,
    pub language: &'a str,
    /// Where it plays.
    pub url: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AgendaEntry<'a> {
    pub number: u32,
    pub title: &'a str,
    pub kind: &'static str,
    pub act: Option<&'a str>,
    /// Where the alignment puts it, when it does.
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InterventionEntry<'a> {
    pub person: Option<&'a str>,
    pub name: Option<&'a str>,
    pub group: Option<&'a str>,
    pub item: Option<u32>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// A link into the player at its first second.
    pub url: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Passage<'a> {
    pub start_ms: u64,
    pub end_ms: u64,
    pub item: Option<u32>,
    pub person: Option<String>,
    pub speaker: Option<&'a str>,
    pub text: String,
}

/// The open data of `session`; `base_url` is where the site is reached (no trailing slash).
pub fn session_data<'a>(
    session: &'a Session,
    timeline: &'a Timeline,
    licence: &'a str,
    base_url: &str,
) -> SessionData<'a> {
    let page = format!("{base_url}/sessions/{}", session.id);
    let open = timeline.without_closed(session);
    let agenda = session
        .agenda
        .iter()
        .map(|a| {
            let span = timeline.items.iter().find(|s| s.number == a.number);
            AgendaEntry {
                number: a.number,
                title: &a.title,
                kind: a.kind.as_str(),
                act: a.act.as_deref(),
                start_ms: span.map(|s| s.start_ms.0),
                end_ms: span.map(|s| s.end_ms.0),
            }
        })
        .collect();
    let interventions = open
        .interventions
        .iter()
        .map(|i| {
            let person = i.person.as_deref().and_then(|p| session.person(p));
            InterventionEntry {
                person: person.map(|p| p.id.as_str()),
                name: person.map(|p| p.name.as_str()),
                group: person.and_then(|p| p.group.as_deref()),
                item: i.item,
                start_ms: i.start_ms.0,
                end_ms: i.end_ms.0,
                url: format!("{page}?t={}", i.start_ms.0 / 1000),
            }
        })
        .collect();
    let clock = session.clock();
    let votes = session
        .public_votes()
        .map(|v| VoteEntry {
            item: v.item,
            at_ms: clock.to_session(v.at).map_or(0, |at| at.0),
            subject: &v.subject,
            result: v.result.as_str(),
            counts: v.counts,
            ballots: v
                .ballots
                .iter()
                .map(|b| BallotEntry {
                    person: &b.person,
                    vote: b.vote,
                })
                .collect(),
        })
        .collect();
    let transcript = search::public_lines(session, timeline)
        .into_iter()
        .map(|l| Passage {
            item: timeline.item_at(session::SessionMs(l.start_ms)),
            speaker: l
                .person
                .as_deref()
                .and_then(|p| session.person(p))
                .map(|p| p.name.as_str()),
            start_ms: l.start_ms,
            end_ms: l.end_ms,
            person: l.person,
            text: l.text,
        })
        .collect();
    SessionData {
        licence,
        session: SessionFacts {
            id: session.id.as_str(),
            body: &session.body,
            title: &session.title,
            start: session.start.to_rfc3339(),
            mode: session.mode.as_str(),
            language: &session.language,
            url: page,
        },
        agenda,
        interventions,
        votes,
        transcript,
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180); a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so that a spreadsheet never runs it as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn row(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The transcript passages of one session as CSV, with a header line.
pub fn transcript_csv(data: &SessionData) -> String {
    let mut out = row(&[
        "session".into(),
        "item".into(),
        "start_ms".into(),
        "end_ms".into(),
        "person".into(),
        "speaker".into(),
        "text".into(),
    ]);
    for p in &data.transcript {
        out.push_str(&row(&[
            data.session.id.to_owned(),
            p.item.map(|i| i.to_string()).unwrap_or_default(),
            p.start_ms.to_string(),
            p.end_ms.to_string(),
            p.person.clone().unwrap_or_default(),
            p.speaker.unwrap_or_default().to_owned(),
            p.text.clone(),
        ]));
    }
    out
}

/// One row of the index of sessions.
#[derive(Clone, Debug, Serialize)]
pub struct IndexEntry {
    pub id: String,
    pub body: String,
    pub title: String,
    pub start: String,
    pub json: String,
    pub csv: String,
}

/// The index of every session (`/open-data/index.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Index<'a> {
    pub licence: &'a str,
    pub schema: String,
    pub sessions: Vec<IndexEntry>,
}

/// The index as CSV, with a header line.
pub fn index_csv(index: &Index) -> String {
    let mut out = row(&[
        "id".into(),
        "body".into(),
        "title".into(),
        "start".into(),
        "json".into(),
        "csv".into(),
        "licence".into(),
    ]);
    for s in &index.sessions {
        out.push_str(&row(&[
            s.id.clone(),
            s.body.clone(),
            s.title.clone(),
            s.start.clone(),
            s.json.clone(),
            s.csv.clone(),
            index.licence.to_owned(),
        ]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_run_as_formulas() {
        assert_eq!(field("semplice"), "semplice");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("il \"sì\""), "\"il \"\"sì\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-3"), "'-3");
        assert_eq!(
            row(&["1".into(), "due\nrighe".into()]),
            "1,\"due\nrighe\"\r\n"
        );
    }

    /// A vote taken in a closed part is not open data; the others are, with their ballots.
    #[test]
    fn the_votes_are_those_outside_closed_parts() {
        let mut session = crate::ops::testing::session();
        let item = session.agenda[0].number;
        let person = session.roster[0].id.clone();
        let vote = |at_s: i64, subject: &str| session::Vote {
            item,
            at: session.start + chrono::Duration::seconds(at_s),
            subject: subject.into(),
            result: session::VoteResult::Approved,
            counts: session::VoteCounts {
                favour: 1,
                against: 0,
                abstained: 0,
            },
            ballots: vec![session::Ballot {
                person: person.clone(),
                vote: session::Choice::Favour,
            }],
        };
        session.votes = vec![vote(20, "in public"), vote(52, "behind closed doors")];
        let timeline = Timeline::default();
        let data = session_data(&session, &timeline, DEFAULT_LICENCE, "https://aula.example");
        let subjects: Vec<_> = data.votes.iter().map(|v| v.subject).collect();
        assert_eq!(subjects, ["in public"]);
        assert_eq!(data.votes[0].at_ms, 20_000);
        assert_eq!(data.votes[0].ballots[0].person, person);
    }
}
