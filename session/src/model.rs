//! The session document: what an acts-management system exports about one council session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::SessionId;
use crate::time::{SessionClock, SessionMs};

/// One council session (seduta) with its sources, roster, agenda and live evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub id: SessionId,
    pub body: String,
    pub title: String,
    /// Wall-clock start (UTC): session time zero.
    pub start: DateTime<Utc>,
    pub mode: Mode,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub roster: Vec<Person>,
    #[serde(default)]
    pub agenda: Vec<AgendaItem>,
    #[serde(default)]
    pub closed_ranges: Vec<ClosedRange>,
    #[serde(default)]
    pub floor_events: Vec<FloorEvent>,
    #[serde(default)]
    pub agenda_markers: Vec<AgendaMarker>,
    /// The votes taken, as the conference system reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<Vote>,
}

fn default_language() -> String {
    "it".to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    InPerson,
    Remote,
    Hybrid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPerson => "in_person",
            Mode::Remote => "remote",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// A media input of the session: a chamber camera, the room audio, a remote participant, the program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub kind: SourceKind,
    /// `file://`, a path relative to the document, `rtsp://`, `srt://`, `rtmp://`, `http(s)://` (HLS).
    pub uri: String,
    /// The participant a remote source carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// Room audio with one channel per microphone: the seat each channel serves, in channel order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_seats: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Camera,
    RoomAudio,
    Remote,
    Program,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Camera => "camera",
            SourceKind::RoomAudio => "room_audio",
            SourceKind::Remote => "remote",
            SourceKind::Program => "program",
        }
    }
}

/// A member of the roster: councillor, chair, mayor, executive member, secretary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Seat number in the chamber; none for a participant who only joins remotely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Chair,
    ViceChair,
    Mayor,
    Executive,
    Councillor,
    Secretary,
    Other,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chair => "chair",
            Role::ViceChair => "vice_chair",
            Role::Mayor => "mayor",
            Role::Executive => "executive",
            Role::Councillor => "councillor",
            Role::Secretary => "secretary",
            Role::Other => "other",
        }
    }
}

/// One item (punto) of the agenda (ordine del giorno).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaItem {
    pub number: u32,
    pub title: String,
    pub kind: ItemKind,
    /// The act's reference in the acts-management system, e.g. `DCC 12/2021`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<String>,
    /// Person id of the rapporteur (relatore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rapporteur: Option<String>,
    /// The council group that tabled the motion or question (a `group` of the roster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer_group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Resolution,
    Motion,
    Question,
    Communication,
    Other,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Resolution => "resolution",
            ItemKind::Motion => "motion",
            ItemKind::Question => "question",
            ItemKind::Communication => "communication",
            ItemKind::Other => "other",
        }
    }
}

/// A part of the session held behind closed doors (seduta segreta): never published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedRange {
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ClosedRange {
    /// The end of a closed part declared live and not yet ended: closed until further notice.
    pub const OPEN_END: SessionMs = SessionMs(i64::MAX as u64);

    /// The range's first and last instant, in order even when it was written in reverse (a
    /// reversed range still closes the time between its ends).
    pub fn bounds(&self) -> (SessionMs, SessionMs) {
        (
            self.start_ms.min(self.end_ms),
            self.start_ms.max(self.end_ms),
        )
    }

    /// Whether the range is still open (declared live, not yet ended).
    pub fn is_open(&self) -> bool {
        self.bounds().1 >= Self::OPEN_END
    }

    /// Whether `start..end` shares any instant with the range.
    pub fn overlaps(&self, start: SessionMs, end: SessionMs) -> bool {
        let (a, b) = self.bounds();
        a < end && start < b
    }

    /// Whether the instant `at` is closed.
    pub fn contains(&self, at: SessionMs) -> bool {
        let (a, b) = self.bounds();
        a <= at && at < b
    }
}

/// A microphone switched on or off by the chamber's conference system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorEvent {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub action: MicAction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MicAction {
    MicOn,
    MicOff,
}

impl MicAction {
    pub fn as_str(self) -> &'static str {
        match self {
            MicAction::MicOn => "mic_on",
            MicAction::MicOff => "mic_off",
        }
    }
}

/// The clerk's console marking the start of an agenda item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaMarker {
    pub at: DateTime<Utc>,
    pub item: u32,
}

/// A vote of the council on an agenda item, as the conference system reports it. `at` is wall
/// clock like the floor events' and the agenda markers'; a secret ballot has counts and no ballots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The agenda item's number.
    pub item: u32,
    pub at: DateTime<Utc>,
    /// What was voted on: the resolution, the motion, an amendment.
    pub subject: String,
    pub result: VoteResult,
    pub counts: VoteCounts,
    /// Each person's vote; empty for a secret ballot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ballots: Vec<Ballot>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteResult {
    Approved,
    Rejected,
    /// Not enough members present for the vote to count (mancanza del numero legale).
    NoQuorum,
}

impl VoteResult {
    pub fn as_str(self) -> &'static str {
        match self {
            VoteResult::Approved => "approved",
            VoteResult::Rejected => "rejected",
            VoteResult::NoQuorum => "no_quorum",
        }
    }
}

/// How many voted in favour, against, and abstained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteCounts {
    pub favour: u32,
    pub against: u32,
    pub abstained: u32,
}

impl VoteCounts {
    /// The counts of a list of choices.
    pub fn of(choices: impl IntoIterator<Item = Choice>) -> VoteCounts {
        let mut counts = VoteCounts::default();
        for choice in choices {
            match choice {
                Choice::Favour => counts.favour += 1,
                Choice::Against => counts.against += 1,
                Choice::Abstained => counts.abstained += 1,
            }
        }
        counts
    }
}

/// One person's vote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    pub person: String,
    pub vote: Choice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Favour,
    Against,
    Abstained,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Favour => "favour",
            Choice::Against => "against",
            Choice::Abstained => "abstained",
        }
    }
}

impl Session {
    pub fn clock(&self) -> SessionClock {
        SessionClock::new(self.start)
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.roster.iter().find(|p| p.id == id)
    }

    /// The name of the roster's person `id`; the id itself when the roster has nobody by it.
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.person(id).map_or(id, |p| p.name.as_str())
    }

    pub fn item(&self, number: u32) -> Option<&AgendaItem> {
        self.agenda.iter().find(|i| i.number == number)
    }

    /// Whether `start..end` touches a closed part: the product's key rule, written once.
    pub fn touches_closed(&self, start: SessionMs, end: SessionMs) -> bool {
        self.closed_ranges.iter().any(|r| r.overlaps(start, end))
    }

    /// Whether the instant `at` lies in a closed part.
    pub fn closed_at(&self, at: SessionMs) -> bool {
        self.closed_ranges.iter().any(|r| r.contains(at))
    }

    /// The votes the public may see: those not taken inside a closed part.
    pub fn public_votes(&self) -> impl Iterator<Item = &Vote> {
        let clock = self.clock();
        self.votes
            .iter()
            .filter(move |v| clock.to_session(v.at).is_some_and(|at| !self.closed_at(at)))
    }
}
