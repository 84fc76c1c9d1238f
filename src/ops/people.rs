//! Councillors and council groups across sessions, as the public pages show them: a person's
//! interventions, time spoken, items and voting record; a group's members, interventions and the
//! items it tabled with their outcome. Plain functions over sessions and their timelines, with
//! everything inside a closed part left out, and [`load`] reading them from the catalogue.
//!
//! A person is the same roster id in every session; their name, role, group and seat are those of
//! the latest session they sit in. A group has no id of its own in the documents: its id is its
//! name folded to lower-case ASCII letters and digits joined by `-` ([`group_id`]).

use anyhow::Result;
use serde::Serialize;
use session::{
    Choice, Intervention, ItemKind, Role, Session, SessionId, Timeline, VoteCounts, VoteResult,
};

use crate::catalogue::{Catalogue, CatalogueError, ClipRecord};

/// The words of an intervention's opening shown in lists.
const FIRST_WORDS: usize = 12;

/// One session as the people pages read it: its document, its corrected timeline (none before it
/// is aligned) and its published clips.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub session: Session,
    pub timeline: Option<Timeline>,
    pub clips: Vec<ClipRecord>,
}

/// Every session of the catalogue, newest first, with its timeline and published clips.
pub async fn load(catalogue: &Catalogue) -> Result<Vec<SessionRecord>> {
    let mut records = Vec::new();
    for summary in catalogue.list().await?.iter().rev() {
        let session = catalogue.get(&summary.id).await?.session;
        let timeline = match catalogue.timeline(&summary.id).await {
            Ok(stored) => Some(stored.timeline),
            Err(CatalogueError::NotAligned(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let clips = catalogue
            .clips(&summary.id)
            .await?
            .into_iter()
            .filter(|c| c.published_at.is_some())
            .collect();
        records.push(SessionRecord {
            session,
            timeline,
            clips,
        });
    }
    Ok(records)
}

/// The ids of the councillors' and the groups' pages the rosters of `sessions` make, sorted,
/// each once.
pub fn page_ids<'a>(sessions: impl IntoIterator<Item = &'a Session>) -> (Vec<String>, Vec<String>) {
    let mut people = Vec::new();
    let mut groups = Vec::new();
    for s in sessions {
        for p in &s.roster {
            people.push(p.id.clone());
            groups.extend(p.group.as_deref().map(group_id));
        }
    }
    for ids in [&mut people, &mut groups] {
        ids.sort();
        ids.dedup();
    }
    (people, groups)
}

/// A group's id: its name folded to lower-case ASCII, runs of anything but letters and digits
/// turned into one `-` ("Centro Città" is `centro-citta`).
pub fn group_id(name: &str) -> String {
    let folded = transcriber::align::words::fold(name);
    let mut id = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

/// A generated portrait for a person without a photo: initials on a colour of their own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Monogram {
    /// The first letters of the first and the last word of the name.
    pub initials: String,
    /// A hue (0..360) from the person's id, the same on every page.
    pub hue: u32,
}

impl Monogram {
    pub fn of(id: &str, name: &str) -> Monogram {
        let words: Vec<&str> = name.split_whitespace().collect();
        let initial = |w: Option<&&str>| {
            w.and_then(|w| w.chars().next())
                .map(|c| c.to_uppercase().collect::<String>())
                .unwrap_or_default()
        };
        let initials = if words.len() > 1 {
            initial(words.first()) + &initial(words.last())
        } else {
            initial(words.first())
        };
        // FNV-1a: a stable hash, the same in every build.
        let hash = id.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        Monogram {
            initials,
            hue: hash % 360,
        }
    }
}

/// Where a public thing of a session sits: the session, its date and title.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRef {
    pub id: SessionId,
    pub title: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

impl SessionRef {
    fn of(session: &Session) -> SessionRef {
        SessionRef {
            id: session.id.clone(),
            title: session.title.clone(),
            date: session.start.format("%Y-%m-%d").to_string(),
        }
    }
}

/// One public intervention of a person.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spoken {
    pub session: SessionRef,
    pub person: String,
    pub name: String,
    pub item: Option<u32>,
    pub item_title: Option<String>,
    pub start_ms: u64,
    pub end_ms: u64,
    pub duration_ms: u64,
    /// The first words said, with `…` when there are more.
    pub first_words: String,
    /// A published clip with it (the media file, relative to the session's folder).
    pub clip: Option<String>,
}

/// A person's time at the microphone in one session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionTime {
    pub session: SessionRef,
    pub interventions: usize,
    pub spoken_ms: u64,
}

/// An agenda item a person spoke on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ItemRef {
    pub session: SessionRef,
    pub number: u32,
    pub title: String,
    pub start_ms: u64,
}

/// A person's vote in a roll call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoteRecord {
    pub session: SessionRef,
    pub item: u32,
    pub item_title: String,
    pub subject: String,
    pub vote: Choice,
    pub result: VoteResult,
}

/// A councillor's page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Councillor {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub group: Option<String>,
    pub group_id: Option<String>,
    pub seat: Option<u32>,
    pub monogram: Monogram,
    /// Newest session first, in order of time within a session.
    pub interventions: Vec<Spoken>,
    /// Every session they sit in, newest first, spoken or not.
    pub sessions: Vec<SessionTime>,
    pub items: Vec<ItemRef>,
    pub votes: Vec<VoteRecord>,
}

/// The public interventions of a session: none before alignment, none touching a closed part.
fn public_interventions(record: &SessionRecord) -> Vec<Intervention> {
    record.timeline.as_ref().map_or_else(Vec::new, |t| {
        t.without_closed(&record.session).interventions
    })
}

fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = words[..words.len().min(FIRST_WORDS)].join(" ");
    if words.len() > FIRST_WORDS {
        out.push('…');
    }
    out
}

/// The published clip that best shows an intervention: one of the person that overlaps it, else
/// one of its item that holds its start.
fn clip_of(clips: &[ClipRecord], i: &Intervention) -> Option<String> {
    let media = |c: &&ClipRecord| c.path.ends_with(".mp4") || c.path.ends_with(".mp3");
    let own = clips.iter().filter(media).find(|c| {
        c.person.is_some() && c.person == i.person && c.start_ms < i.end_ms && i.start_ms < c.end_ms
    });
    let item = || {
        clips.iter().filter(media).find(|c| {
            c.person.is_none()
                && c.item.is_some()
                && c.item == i.item
                && c.start_ms <= i.start_ms
                && i.start_ms < c.end_ms
        })
    };
    own.or_else(item).map(|c| c.path.clone())
}

fn spoken(record: &SessionRecord, i: &Intervention, person: &str) -> Spoken {
    let s = &record.session;
    Spoken {
        session: SessionRef::of(s),
        person: person.to_owned(),
        name: s.name_of(person).to_owned(),
        item: i.item,
        item_title: i.item.and_then(|n| s.item(n)).map(|a| a.title.clone()),
        start_ms: i.start_ms.0,
        end_ms: i.end_ms.0,
        duration_ms: i.start_ms.until(i.end_ms),
        first_words: first_words(&i.text),
        clip: clip_of(&record.clips, i),
    }
}

/// The page of person `id` over `sessions` (newest first); none when no roster has them.
pub fn councillor(id: &str, sessions: &[SessionRecord]) -> Option<Councillor> {
    let latest = sessions.iter().find_map(|r| r.session.person(id))?;
    let mut page = Councillor {
        id: id.to_owned(),
        name: latest.name.clone(),
        role: latest.role,
        group: latest.group.clone(),
        group_id: latest.group.as_deref().map(group_id),
        seat: latest.seat,
        monogram: Monogram::of(id, &latest.name),
        interventions: Vec::new(),
        sessions: Vec::new(),
        items: Vec::new(),
        votes: Vec::new(),
    };
    for record in sessions {
        let s = &record.session;
        if s.person(id).is_none() {
            continue;
        }
        let mine: Vec<Intervention> = public_interventions(record)
            .into_iter()
            .filter(|i| i.person.as_deref() == Some(id))
            .collect();
        page.sessions.push(SessionTime {
            session: SessionRef::of(s),
            interventions: mine.len(),
            spoken_ms: mine.iter().map(|i| i.start_ms.until(i.end_ms)).sum(),
        });
        for i in &mine {
            let Some(item) = i.item.and_then(|n| s.item(n)) else {
                continue;
            };
            let seen = page
                .items
                .iter()
                .any(|r| r.session.id == s.id && r.number == item.number);
            if !seen {
                page.items.push(ItemRef {
                    session: SessionRef::of(s),
                    number: item.number,
                    title: item.title.clone(),
                    start_ms: i.start_ms.0,
                });
            }
        }
        page.interventions
            .extend(mine.iter().map(|i| spoken(record, i, id)));
        for vote in s.public_votes() {
            let Some(ballot) = vote.ballots.iter().find(|b| b.person == id) else {
                continue;
            };
            page.votes.push(VoteRecord {
                session: SessionRef::of(s),
                item: vote.item,
                item_title: s
                    .item(vote.item)
                    .map_or_else(String::new, |a| a.title.clone()),
                subject: vote.subject.clone(),
                vote: ballot.vote,
                result: vote.result,
            });
        }
    }
    Some(page)
}

/// A member of a group, as of the latest session they sit in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub monogram: Monogram,
}

/// An item a group tabled, with the votes on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tabled {
    pub session: SessionRef,
    pub number: u32,
    pub title: String,
    pub kind: ItemKind,
    /// Where the item starts in the session, when it is aligned.
    pub start_ms: Option<u64>,
    /// The outcome: the last vote's result (none before a vote).
    pub outcome: Option<VoteResult>,
    pub counts: Option<VoteCounts>,
}

/// A group's page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub members: Vec<Member>,
    /// Its members' interventions made while in the group, newest session first.
    pub interventions: Vec<Spoken>,
    pub tabled: Vec<Tabled>,
}

/// The page of group `id` over `sessions` (newest first); none when no roster names it.
pub fn group(id: &str, sessions: &[SessionRecord]) -> Option<Group> {
    let in_group = |g: &Option<String>| g.as_deref().is_some_and(|g| group_id(g) == id);
    let name = sessions.iter().find_map(|r| {
        r.session
            .roster
            .iter()
            .find(|p| in_group(&p.group))
            .and_then(|p| p.group.clone())
    })?;
    let mut page = Group {
        id: id.to_owned(),
        name,
        members: Vec::new(),
        interventions: Vec::new(),
        tabled: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    for record in sessions {
        for p in &record.session.roster {
            if seen.contains(&p.id.as_str()) {
                continue;
            }
            seen.push(&p.id);
            if in_group(&p.group) {
                page.members.push(Member {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    role: p.role,
                    monogram: Monogram::of(&p.id, &p.name),
                });
            }
        }
    }
    page.members.sort_by(|a, b| a.name.cmp(&b.name));
    for record in sessions {
        let s = &record.session;
        for i in public_interventions(record) {
            let Some(person) = i.person.as_deref() else {
                continue;
            };
            if s.person(person).is_some_and(|p| in_group(&p.group)) {
                page.interventions.push(spoken(record, &i, person));
            }
        }
        for item in &s.agenda {
            if !in_group(&item.proposer_group) {
                continue;
            }
            let last = s.public_votes().filter(|v| v.item == item.number).last();
            page.tabled.push(Tabled {
                session: SessionRef::of(s),
                number: item.number,
                title: item.title.clone(),
                kind: item.kind,
                start_ms: record
                    .timeline
                    .as_ref()
                    .and_then(|t| t.items.iter().find(|x| x.number == item.number))
                    .map(|x| x.start_ms.0),
                outcome: last.map(|v| v.result),
                counts: last.map(|v| v.counts),
            });
        }
    }
    Some(page)
}

#[cfg(test)]
mod tests {
    use session::{SessionMs, TimelineWord};

    use super::*;

    fn record(id: &str, date: &str, group_of_rossi: &str) -> SessionRecord {
        let session: Session = serde_json::from_value(serde_json::json!({
            "id": id, "body": "Consiglio", "title": format!("Seduta {date}"),
            "start": format!("{date}T17:00:00Z"), "mode": "in_person",
            "roster": [
                {"id": "chair", "name": "Anna Bianchi", "role": "chair"},
                {"id": "rossi", "name": "Mario Rossi", "role": "councillor", "group": group_of_rossi},
                {"id": "verdi", "name": "Lia Verdi", "role": "councillor", "group": "Centro Città"}],
            "agenda": [{"number": 1, "title": "Bilancio", "kind": "resolution"},
                       {"number": 2, "title": "Mozione sui parchi", "kind": "motion",
                        "proposer_group": "Centro Città"}],
            "closed_ranges": [{"start_ms": 50000, "end_ms": 60000}],
            "votes": [
                {"item": 2, "at": format!("{date}T17:01:30Z"), "subject": "Mozione sui parchi",
                 "result": "approved", "counts": {"favour": 2, "against": 1, "abstained": 0},
                 "ballots": [{"person": "rossi", "vote": "against"},
                             {"person": "verdi", "vote": "favour"},
                             {"person": "chair", "vote": "favour"}]},
                {"item": 1, "at": format!("{date}T17:00:55Z"), "subject": "Segreto",
                 "result": "rejected", "counts": {"favour": 0, "against": 3, "abstained": 0},
                 "ballots": [{"person": "rossi", "vote": "against"},
                             {"person": "verdi", "vote": "against"},
                             {"person": "chair", "vote": "against"}]}]
        }))
        .unwrap();
        assert!(session.validate().is_empty(), "{:?}", session.validate());
        let turn = |person: &str, item, start: u64, end: u64, text: &str| Intervention {
            person: Some(person.into()),
            item: Some(item),
            start_ms: SessionMs(start),
            end_ms: SessionMs(end),
            text: text.into(),
        };
        let timeline = Timeline {
            items: Vec::new(),
            interventions: vec![
                turn("chair", 1, 0, 5_000, "Apriamo la seduta"),
                turn(
                    "rossi",
                    1,
                    6_000,
                    20_000,
                    "uno due tre quattro cinque sei sette otto nove dieci undici dodici tredici",
                ),
                turn("verdi", 2, 30_000, 40_000, "Sui parchi"),
                turn("rossi", 2, 41_000, 45_000, "Contrario"),
                turn("rossi", 1, 52_000, 58_000, "Parole segrete"),
                turn("rossi", 1, 58_000, 61_000, "Oltre il confine"),
            ],
            words: Vec::<TimelineWord>::new(),
        };
        let clip = ClipRecord {
            id: "c1".into(),
            session: id.into(),
            slug: "item-2".into(),
            title: "Punto 2".into(),
            item: Some(2),
            person: None,
            start_ms: SessionMs(29_000),
            end_ms: SessionMs(46_000),
            preset: "web-720p".into(),
            mode: "item".into(),
            subtitles: "sidecar".into(),
            path: "clips/c1.mp4".into(),
            bytes: 1,
            created_at: chrono::Utc::now(),
            speakers: Vec::new(),
            published_at: Some(chrono::Utc::now()),
        };
        SessionRecord {
            session,
            timeline: Some(timeline),
            clips: vec![clip],
        }
    }

    /// Two sessions, newest first; Rossi moved from "Gruppo Misto" to "Centro Città".
    fn sessions() -> Vec<SessionRecord> {
        vec![
            record("s2", "2021-04-12", "Centro Città"),
            record("s1", "2021-03-15", "Gruppo Misto"),
        ]
    }

    #[test]
    fn a_councillor_s_interventions_across_sessions_leave_the_closed_part_out() {
        let page = councillor("rossi", &sessions()).unwrap();
        assert_eq!(page.name, "Mario Rossi");
        assert_eq!(page.group.as_deref(), Some("Centro Città"));
        assert_eq!(page.group_id.as_deref(), Some("centro-citta"));
        let found: Vec<(&str, u64, u64)> = page
            .interventions
            .iter()
            .map(|i| (i.session.id.as_str(), i.start_ms, i.end_ms))
            .collect();
        assert_eq!(
            found,
            [
                ("s2", 6_000, 20_000),
                ("s2", 41_000, 45_000),
                ("s1", 6_000, 20_000),
                ("s1", 41_000, 45_000)
            ],
            "neither the turn inside the closed part nor the one crossing its end"
        );
        assert_eq!(
            page.interventions[0].first_words,
            "uno due tre quattro cinque sei sette otto nove dieci undici dodici…"
        );
        assert_eq!(page.interventions[0].clip, None);
        assert_eq!(page.interventions[1].clip.as_deref(), Some("clips/c1.mp4"));
        assert_eq!(
            page.sessions
                .iter()
                .map(|s| (s.interventions, s.spoken_ms))
                .collect::<Vec<_>>(),
            [(2, 18_000), (2, 18_000)]
        );
        assert_eq!(page.items.len(), 4);
        assert_eq!(
            page.votes
                .iter()
                .map(|v| (v.session.id.as_str(), v.item, v.vote, v.result))
                .collect::<Vec<_>>(),
            [
                ("s2", 2, Choice::Against, VoteResult::Approved),
                ("s1", 2, Choice::Against, VoteResult::Approved)
            ],
            "the vote taken in the closed part is not on the record"
        );
        assert_eq!(councillor("nobody", &sessions()), None);
    }

    #[test]
    fn a_group_has_its_members_their_turns_while_in_it_and_its_tabled_items() {
        let page = group("centro-citta", &sessions()).unwrap();
        assert_eq!(page.name, "Centro Città");
        assert_eq!(
            page.members
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>(),
            ["verdi", "rossi"],
            "by name"
        );
        let turns: Vec<(&str, &str)> = page
            .interventions
            .iter()
            .map(|i| (i.session.id.as_str(), i.person.as_str()))
            .collect();
        assert_eq!(
            turns,
            [
                ("s2", "rossi"),
                ("s2", "verdi"),
                ("s2", "rossi"),
                ("s1", "verdi")
            ],
            "Rossi's turns of s1 were made for Gruppo Misto"
        );
        assert_eq!(page.tabled.len(), 2);
        assert_eq!(page.tabled[0].outcome, Some(VoteResult::Approved));
        assert_eq!(page.tabled[0].counts.map(|c| c.favour), Some(2));
        assert_eq!(group("gruppo-misto", &sessions()).unwrap().members.len(), 0);
        assert_eq!(group("nessuno", &sessions()), None);
    }

    #[test]
    fn group_ids_and_monograms() {
        assert_eq!(group_id("Centro Città"), "centro-citta");
        assert_eq!(
            group_id("  Lista Civica: Insieme! "),
            "lista-civica-insieme"
        );
        let m = Monogram::of("rossi", "Mario De Rossi");
        assert_eq!(m.initials, "MR");
        assert_eq!(m, Monogram::of("rossi", "Mario De Rossi"));
        assert!(m.hue < 360);
        assert_eq!(Monogram::of("x", "Cher").initials, "C");
    }
}
