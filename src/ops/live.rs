//! The clerk's one-click actions during a live session, at the server's session time now: an
//! agenda item starts, a closed part starts or ends, someone has the floor. The running program
//! reads them from the catalogue (within a quarter of a second, `record`).

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use session::{AgendaMarker, FloorEvent, MicAction, Session, SessionId, SessionMs};

use super::evidence::{self, Checks};
use crate::catalogue::Catalogue;
use crate::BadInput;

/// One action: `{"item_starts": 2}`, `"closed_starts"`, `"closed_ends"`,
/// `{"has_the_floor": "rossi"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LiveAction {
    ItemStarts(u32),
    ClosedStarts,
    ClosedEnds,
    HasTheFloor(String),
}

/// What an action did, at which session time.
#[derive(Clone, Debug, Serialize)]
pub struct ActionReport {
    pub at_ms: SessionMs,
    pub action: LiveAction,
}

/// Takes `action` at `now` (the server's clock).
pub async fn act(
    catalogue: &Catalogue,
    id: &SessionId,
    action: &LiveAction,
    now: DateTime<Utc>,
) -> Result<ActionReport> {
    let session = catalogue.get(id).await?.session;
    let at_ms = session.clock().to_session(now).ok_or_else(|| {
        BadInput(format!(
            "session {id} starts at {}: it has not begun yet",
            session.start
        ))
    })?;
    match action {
        LiveAction::ItemStarts(item) => {
            let marker = AgendaMarker {
                at: now,
                item: *item,
            };
            evidence::add(catalogue, id, &[], &[marker], Checks::Refuse).await?;
        }
        LiveAction::HasTheFloor(person) => {
            let events = floor_to(&session, person, now)?;
            evidence::add(catalogue, id, &events, &[], Checks::Refuse).await?;
        }
        LiveAction::ClosedStarts => {
            catalogue.open_closed(id, at_ms).await?;
        }
        LiveAction::ClosedEnds => {
            catalogue.end_closed(id, at_ms).await?;
        }
    }
    Ok(ActionReport {
        at_ms,
        action: action.clone(),
    })
}

/// The floor events giving `person` the floor at `now`: every other microphone still on goes off,
/// then theirs goes on (a manual turn overrides the conference system's).
/// The people whose microphone is on after the floor events up to `until`, in the order they
/// got the floor (the last one has it). A seat's event counts for the roster's person there.
fn mics_on(session: &Session, until: DateTime<Utc>) -> Vec<String> {
    let holder = |e: &FloorEvent| {
        e.person.clone().or_else(|| {
            let seat = e.seat?;
            let p = session.roster.iter().find(|p| p.seat == Some(seat))?;
            Some(p.id.clone())
        })
    };
    let mut on: Vec<String> = Vec::new();
    let mut events: Vec<_> = session
        .floor_events
        .iter()
        .filter(|e| e.at <= until)
        .collect();
    events.sort_by_key(|e| e.at);
    for e in events {
        let Some(who) = holder(e) else { continue };
        on.retain(|p| *p != who);
        if e.action == MicAction::MicOn {
            on.push(who);
        }
    }
    on
}

/// What a live session's public page shows as under way: the agenda item the clerk marked last
/// and who has the floor; neither while a closed part is open.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnderWay {
    pub closed: bool,
    pub item: Option<u32>,
    /// The roster id and name of who has the floor.
    pub floor: Option<Speaking>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Speaking {
    pub person: String,
    pub name: String,
}

/// What is under way in `session` at `now`.
pub fn under_way(session: &Session, now: DateTime<Utc>) -> UnderWay {
    let closed = session
        .clock()
        .to_session(now)
        .is_some_and(|at| session.closed_at(at));
    if closed {
        return UnderWay {
            closed,
            ..UnderWay::default()
        };
    }
    let item = session
        .agenda_markers
        .iter()
        .filter(|m| m.at <= now)
        .max_by_key(|m| m.at)
        .map(|m| m.item);
    let floor = mics_on(session, now).pop().map(|person| Speaking {
        name: session.name_of(&person).to_owned(),
        person,
    });
    UnderWay {
        closed,
        item,
        floor,
    }
}

pub fn floor_to(
    session: &Session,
    person: &str,
    now: DateTime<Utc>,
) -> Result<Vec<FloorEvent>, BadInput> {
    if session.person(person).is_none() {
        return Err(BadInput(format!(
            "{person:?} is not in the roster of session {}",
            session.id
        )));
    }
    let on = mics_on(session, now);
    let off = on.into_iter().filter(|p| p != person).map(|p| FloorEvent {
        at: now,
        seat: None,
        person: Some(p),
        action: MicAction::MicOff,
    });
    Ok(off
        .chain(std::iter::once(FloorEvent {
            at: now,
            seat: None,
            person: Some(person.to_owned()),
            action: MicAction::MicOn,
        }))
        .collect())
}

/// One line of the control room's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub at_ms: SessionMs,
    /// `item`, `floor`, `closed_start`, `closed_end`.
    pub kind: &'static str,
    /// The item's number and title, or the person's name and whether the microphone went on.
    pub detail: String,
}

/// What the session's evidence says happened, in time order: agenda markers, floor events, the
/// starts and ends of closed parts.
pub fn event_log(session: &Session) -> Vec<LogLine> {
    let clock = session.clock();
    let at = |t| clock.to_session(t).unwrap_or(SessionMs(0));
    let mut log: Vec<LogLine> = session
        .agenda_markers
        .iter()
        .map(|m| LogLine {
            at_ms: at(m.at),
            kind: "item",
            detail: session
                .agenda
                .iter()
                .find(|i| i.number == m.item)
                .map_or_else(
                    || m.item.to_string(),
                    |i| format!("{}. {}", i.number, i.title),
                ),
        })
        .collect();
    for e in &session.floor_events {
        let person = e
            .person
            .as_deref()
            .and_then(|p| session.person(p))
            .or_else(|| {
                let seat = e.seat?;
                session.roster.iter().find(|p| p.seat == Some(seat))
            });
        let who = person.map_or_else(
            || e.seat.map_or_else(String::new, |s| format!("seat {s}")),
            |p| p.name.clone(),
        );
        let mic = match e.action {
            MicAction::MicOn => "on",
            MicAction::MicOff => "off",
        };
        log.push(LogLine {
            at_ms: at(e.at),
            kind: "floor",
            detail: format!("{who}: {mic}"),
        });
    }
    for r in &session.closed_ranges {
        let (start, end) = r.bounds();
        log.push(LogLine {
            at_ms: start,
            kind: "closed_start",
            detail: String::new(),
        });
        if !r.is_open() {
            log.push(LogLine {
                at_ms: end,
                kind: "closed_end",
                detail: String::new(),
            });
        }
    }
    log.sort_by_key(|l| l.at_ms);
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing;

    #[test]
    fn the_floor_goes_to_one_person_and_every_other_microphone_goes_off() {
        let mut session = testing::session();
        let start = session.start;
        let at = |s: i64| start + chrono::Duration::seconds(s);
        let first = session.roster[0].clone();
        let second = session.roster[1].clone();
        session.floor_events = vec![
            FloorEvent {
                at: at(10),
                seat: first.seat,
                person: first.seat.is_none().then(|| first.id.clone()),
                action: MicAction::MicOn,
            },
            FloorEvent {
                at: at(20),
                seat: None,
                person: Some(second.id.clone()),
                action: MicAction::MicOn,
            },
            FloorEvent {
                at: at(30),
                seat: None,
                person: Some(second.id.clone()),
                action: MicAction::MicOff,
            },
        ];
        let events = floor_to(&session, &second.id, at(40)).unwrap();
        let view: Vec<_> = events
            .iter()
            .map(|e| (e.person.clone().unwrap(), e.action))
            .collect();
        assert_eq!(
            view,
            vec![
                (first.id.clone(), MicAction::MicOff),
                (second.id.clone(), MicAction::MicOn)
            ]
        );
        let refused = floor_to(&session, "nobody", at(40)).unwrap_err();
        assert!(refused.0.contains("\"nobody\""), "{}", refused.0);
    }

    #[test]
    fn the_log_lists_markers_turns_and_closed_parts_in_time_order() {
        let mut session = testing::session();
        let start = session.start;
        let at = |s: i64| start + chrono::Duration::seconds(s);
        let rossi = session.roster[1].clone();
        session.agenda_markers = vec![AgendaMarker {
            at: at(30),
            item: session.agenda[0].number,
        }];
        session.floor_events = floor_to(&session, &rossi.id, at(10)).unwrap();
        session.closed_ranges = vec![session::ClosedRange {
            start_ms: SessionMs(20_000),
            end_ms: session::ClosedRange::OPEN_END,
            reason: None,
        }];
        let log = event_log(&session);
        let view: Vec<_> = log.iter().map(|l| (l.at_ms.0, l.kind)).collect();
        assert_eq!(
            view,
            vec![
                (10_000, "floor"),
                (20_000, "closed_start"),
                (30_000, "item")
            ]
        );
        assert_eq!(log[0].detail, format!("{}: on", rossi.name));
        assert!(log[2]
            .detail
            .starts_with(&format!("{}. ", session.agenda[0].number)));
    }

    #[test]
    fn the_page_shows_the_item_marked_last_and_who_has_the_floor_but_not_behind_closed_doors() {
        let mut session = testing::session();
        let start = session.start;
        let at = |s: i64| start + chrono::Duration::seconds(s);
        let rossi = session.roster[1].clone();
        let item = session.agenda[0].number;
        assert_eq!(under_way(&session, at(5)), UnderWay::default());
        session.agenda_markers = vec![AgendaMarker { at: at(10), item }];
        session.floor_events = floor_to(&session, &rossi.id, at(12)).unwrap();
        let now = under_way(&session, at(20));
        assert_eq!(now.item, Some(item));
        assert_eq!(
            now.floor,
            Some(Speaking {
                person: rossi.id.clone(),
                name: rossi.name.clone()
            })
        );
        assert_eq!(under_way(&session, at(11)).floor, None, "not yet");
        let closed = under_way(&session, at(52));
        assert!(closed.closed);
        assert_eq!((closed.item, closed.floor), (None, None));
    }
}
