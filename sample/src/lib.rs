//! Generated council sessions with known truth, the test bed for every stage (`aula sample create`),
//! and the scoring of transcripts, speakers and item starts against that truth ([`score`]).
//!
//! ```
//! use sample::script::{self, Lang, Pacing, Rng};
//!
//! // Seed 7's script: a chair and three councillors on two items in two minutes, timed with a
//! // stand-in for the synthesizer (70 ms a character) instead of rendered speech.
//! let mut rng = Rng::new(7);
//! let cast = script::cast(Lang::En, 3, false, &mut rng);
//! let agenda = script::agenda(Lang::En, 2, &cast, &mut rng);
//! let speak = |line: &script::Line| Ok(line.text.len() as u64 * 70);
//! let pacing = Pacing::default();
//! let layout = script::lay_out(Lang::En, &cast, &agenda, 120_000, pacing, &mut rng, speak)?;
//! let truth = sample::Truth::from_layout(&layout, &cast);
//! assert_eq!(truth.items.len(), 2);
//! assert_eq!(truth.utterances[0].person, cast[0].person.id, "the chair opens");
//! assert!(truth.utterances.iter().all(|u| u.end_ms.0 <= 120_000));
//! # Ok::<(), script::LayoutError>(())
//! ```
//!
//! [`create`] renders the whole session: a chair opens it and announces each agenda item in words,
//! councillors speak on the items with silences between turns (espeak-ng voices in English, Festival's in Italian), a 720p camera file
//! shows who speaks and the running time, floor events carry the conference system's jitter, the
//! clerk's agenda markers mark each item, a roll-call vote closes each resolution and motion, and
//! `truth.json` says who said what when.

pub mod render;
pub mod score;
pub mod script;
pub mod speech;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use session::{
    part_path, AgendaMarker, Ballot, Choice, FloorEvent, ItemKind, MicAction, Mode, Session,
    SessionId, SessionMs, Source, SourceKind, Vote, VoteCounts, VoteResult,
};

use render::RenderError;
use script::{CastMember, Lang, Layout, LayoutError, Rng};

/// Why a sample session was not generated.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// An option out of range.
    #[error("{0}")]
    BadOption(String),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("encoding {name}: {error}")]
    Encode { name: String, error: RenderError },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

impl SampleError {
    /// Options out of range, or too short for the agenda, are the caller's; a cancel is one;
    /// espeak-ng, GStreamer or the disk failing, the system's.
    pub fn kind(&self) -> session::ErrorKind {
        match self {
            SampleError::BadOption(_) | SampleError::Layout(LayoutError::TooShort { .. }) => {
                session::ErrorKind::BadInput
            }
            SampleError::Cancelled => session::ErrorKind::Cancelled,
            _ => session::ErrorKind::Internal,
        }
    }

    fn io(path: &Path, what: &str, e: std::io::Error) -> SampleError {
        SampleError::Io {
            path: path.display().to_string(),
            message: format!("{what}: {e}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub lang: Lang,
    pub seed: u64,
    /// Draw the cast (and so the roster) from this seed instead of `seed`: sessions with other
    /// seeds and the same cast seed share their people, ids included.
    pub cast_seed: Option<u64>,
    pub seconds: u64,
    /// Councillors besides the chair.
    pub speakers: u32,
    pub items: u32,
    pub mode: Mode,
    pub jitter_ms: u64,
    pub pacing: script::Pacing,
    /// Also record the room with one channel per seat's microphone (`room-mics.wav`).
    pub mic_channels: bool,
    /// A part held behind closed doors (start, end in ms): its turns are replaced by a marker tone
    /// and a spoken marker word, and the document lists it in `closed_ranges`.
    pub closed_ms: Option<(u64, u64)>,
}

/// The closed-session marker tone's frequency.
pub const MARKER_TONE_HZ: f32 = 1000.0;

impl SampleOptions {
    fn validate(&self) -> Result<(), SampleError> {
        let check = |ok: bool, what: String| {
            if ok {
                Ok(())
            } else {
                Err(SampleError::BadOption(what))
            }
        };
        check(
            (20..=4 * 3600).contains(&self.seconds),
            format!(
                "--seconds {} out of range (expected 20 to 14400)",
                self.seconds
            ),
        )?;
        check(
            (1..=9).contains(&self.speakers),
            format!(
                "--speakers {} out of range (expected 1 to 9)",
                self.speakers
            ),
        )?;
        check(
            (1..=8).contains(&self.items),
            format!("--items {} out of range (expected 1 to 8)", self.items),
        )?;
        check(
            self.jitter_ms <= 2000,
            format!(
                "--jitter-ms {} out of range (expected 0 to 2000)",
                self.jitter_ms
            ),
        )?;
        check(
            self.pacing
                .silence_percent
                .is_none_or(|p| (0..=90).contains(&p)),
            format!(
                "--silence-percent {} out of range (expected 0 to 90)",
                self.pacing.silence_percent.unwrap_or_default()
            ),
        )?;
        check(
            self.pacing.music_ms <= self.seconds * 500,
            format!(
                "--music-seconds {} is more than half the session",
                self.pacing.music_ms / 1000
            ),
        )?;
        check(
            self.pacing.overlap_ms <= 1500,
            format!(
                "--overlap-ms {} out of range (expected 0 to 1500)",
                self.pacing.overlap_ms
            ),
        )?;
        check(
            self.pacing.noise_snr_db.is_none_or(|db| db <= 40),
            format!(
                "--noise-snr-db {} out of range (expected 0 to 40)",
                self.pacing.noise_snr_db.unwrap_or_default()
            ),
        )?;
        if let Some((from, to)) = self.closed_ms {
            check(
                from >= 5000 && to >= from + 6000 && to + 5000 <= self.seconds * 1000,
                format!(
                    "--closed {}-{} out of range (expected at least 6 s long, 5 s inside the session)",
                    from / 1000,
                    to / 1000
                ),
            )?;
        }
        check(
            !self.mic_channels || self.mode == Mode::InPerson,
            "--mic-channels is generated for in_person sessions only".into(),
        )?;
        check(
            self.mode != Mode::Remote,
            "--mode remote is not generated (expected in_person or hybrid)".into(),
        )
    }
}

/// `truth.json`: who said what and when, and where each agenda item lies, in session time.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Truth {
    pub duration_ms: SessionMs,
    pub utterances: Vec<TruthUtterance>,
    pub items: Vec<TruthItem>,
    /// Stretches of music or noise where nobody speaks.
    #[serde(default)]
    pub music: Vec<TruthSpan>,
    /// Closed-session parts and the markers in them, which must never be published.
    #[serde(default)]
    pub closed: Vec<TruthClosed>,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthClosed {
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub tone_hz: f32,
    pub tone_ms: (SessionMs, SessionMs),
    pub word: String,
    pub word_ms: (SessionMs, SessionMs),
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthSpan {
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthUtterance {
    pub person: String,
    pub item: Option<u32>,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub text: String,
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthItem {
    pub number: u32,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
}

#[derive(Debug, Serialize)]
pub struct SampleSummary {
    pub dir: PathBuf,
    pub session: String,
    pub duration_ms: u64,
    pub utterances: usize,
    pub files: Vec<String>,
}

/// Writes the session's document, media, floor events, agenda markers and truth into `dir`;
/// `cancelled` is polled between lines and while encoding.
pub fn create(
    dir: &Path,
    opts: &SampleOptions,
    cancelled: &dyn Fn() -> bool,
) -> Result<SampleSummary, SampleError> {
    opts.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| SampleError::io(dir, "creating", e))?;
    let mut rng = Rng::new(opts.seed);
    let hybrid = opts.mode == Mode::Hybrid;
    let cast = match opts.cast_seed {
        Some(seed) => script::cast(opts.lang, opts.speakers, hybrid, &mut Rng::new(seed)),
        None => script::cast(opts.lang, opts.speakers, hybrid, &mut rng),
    };
    let agenda = script::agenda(opts.lang, opts.items, &cast, &mut rng);
    let duration_ms = opts.seconds * 1000;

    let scratch = dir.join(".speech.wav.part");
    let (mut layout, mut speech) =
        speak_and_lay_out(opts, &cast, &agenda, &mut rng, &scratch, cancelled)?;
    let closed = match opts.closed_ms {
        Some(range) => Some(close_part(
            opts.lang,
            range,
            &cast,
            &mut layout,
            &mut speech,
            &scratch,
        )?),
        None => None,
    };
    tracing::info!(
        "laid out {} utterances over {} s",
        layout.utterances.len(),
        opts.seconds
    );

    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2021-03-15T17:00:00Z")
        .expect("constant RFC 3339 date")
        .with_timezone(&Utc)
        + Duration::days((opts.seed % 365) as i64);
    let mut session = session_document(opts, &cast, agenda, start);
    session.votes = votes(&layout, &cast, &session.agenda, start);
    let floor_events = floor_events(&layout, &cast, start, opts);
    let mut truth = Truth::from_layout(&layout, &cast);
    if let Some(c) = &closed {
        session.closed_ranges.push(session::ClosedRange {
            start_ms: c.start_ms,
            end_ms: c.end_ms,
            reason: Some("sample: closed session".into()),
        });
    }

    let (room, remote_tracks) = mix(&layout, &cast, &speech, opts, closed.as_ref());
    truth.closed.extend(closed);
    let mut files = encode_media(
        dir,
        &layout,
        &cast,
        &session.title,
        &room,
        remote_tracks,
        cancelled,
    )?;
    if opts.mic_channels {
        write_mic_channels(dir, &layout, &cast, &speech, opts.seed)?;
        files.push(MIC_FILE.to_owned());
        session.sources.push(Source {
            id: "room".into(),
            kind: SourceKind::RoomAudio,
            uri: MIC_FILE.into(),
            person: None,
            channel_seats: cast.iter().filter_map(|m| m.person.seat).collect(),
        });
    }
    files.extend(write_documents(
        dir,
        &session,
        &floor_events,
        &layout,
        start,
        &truth,
    )?);
    Ok(SampleSummary {
        dir: dir.to_path_buf(),
        session: session.id.to_string(),
        duration_ms,
        utterances: layout.utterances.len(),
        files,
    })
}

/// Each line's rendered speech, keyed by speaker and text (a line said again is rendered once).
type Speech = HashMap<(usize, String), Vec<f32>>;

/// Lays the script out over the session, timing each line by rendering it.
fn speak_and_lay_out(
    opts: &SampleOptions,
    cast: &[CastMember],
    agenda: &[session::AgendaItem],
    rng: &mut Rng,
    scratch: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<(Layout, Speech), SampleError> {
    let mut speech = Speech::new();
    let layout = script::lay_out(
        opts.lang,
        cast,
        agenda,
        opts.seconds * 1000,
        opts.pacing,
        rng,
        |line| {
            if cancelled() {
                return Err("cancelled".into());
            }
            let key = (line.speaker, line.text.clone());
            if let Some(samples) = speech.get(&key) {
                return Ok(render::samples_to_ms(samples.len()));
            }
            let samples = speech::speak(&cast[line.speaker].voice, &line.text, scratch)
                .map_err(|e| e.to_string())?;
            let ms = render::samples_to_ms(samples.len());
            speech.insert(key, samples);
            Ok(ms)
        },
    );
    let _ = std::fs::remove_file(scratch);
    let layout = layout.map_err(|e| match e {
        LayoutError::Synth(_) if cancelled() => SampleError::Cancelled,
        e => SampleError::Layout(e),
    })?;
    Ok((layout, speech))
}

/// Holds `from..to` (ms) behind closed doors: its turns are dropped, and the chair's spoken
/// marker word, rendered into `speech`, will follow a marker tone there.
fn close_part(
    lang: Lang,
    (from, to): (u64, u64),
    cast: &[CastMember],
    layout: &mut Layout,
    speech: &mut Speech,
    scratch: &Path,
) -> Result<TruthClosed, SampleError> {
    layout
        .utterances
        .retain(|u| u.end_ms.0 <= from || u.start_ms.0 >= to);
    let word = match lang {
        Lang::En => "Confidential.",
        Lang::It => "Riservatissimo.",
    };
    let samples = speech::speak(&cast[0].voice, word, scratch).map_err(RenderError::from)?;
    let _ = std::fs::remove_file(scratch);
    let word_at = from + 2500;
    let word_end = word_at + render::samples_to_ms(samples.len());
    speech.insert((0, word.to_owned()), samples);
    Ok(TruthClosed {
        start_ms: SessionMs(from),
        end_ms: SessionMs(to),
        tone_hz: MARKER_TONE_HZ,
        tone_ms: (SessionMs(from + 500), SessionMs(from + 2000)),
        word: word.trim_end_matches('.').to_owned(),
        word_ms: (SessionMs(word_at), SessionMs(word_end.min(to))),
    })
}

/// The room's sound (speech, remote voices on the loudspeakers, noise, music, the closed part's
/// markers, room tone) and each remote councillor's own track.
fn mix(
    layout: &Layout,
    cast: &[CastMember],
    speech: &Speech,
    opts: &SampleOptions,
    closed: Option<&TruthClosed>,
) -> (Vec<f32>, HashMap<usize, Vec<f32>>) {
    let room_samples = render::ms_to_samples(layout.duration_ms);
    let mut room = vec![0.0f32; room_samples];
    let mut remote_tracks: HashMap<usize, Vec<f32>> = cast
        .iter()
        .enumerate()
        .filter(|(_, m)| m.remote)
        .map(|(i, _)| (i, vec![0.0f32; room_samples]))
        .collect();
    for u in &layout.utterances {
        let samples = &speech[&(u.speaker, u.text.clone())];
        match remote_tracks.get_mut(&u.speaker) {
            Some(track) => {
                render::mix_into(track, samples, u.start_ms.0, 0.9, false);
                render::mix_into(&mut room, samples, u.start_ms.0, 0.6, true);
            }
            None => render::mix_into(&mut room, samples, u.start_ms.0, 0.8, false),
        }
    }
    add_room_acoustics(&mut room, layout, speech, opts);
    if let Some((start, end)) = layout.music {
        render::add_music(&mut room, start.0, end.0);
    }
    if let Some(c) = closed {
        render::add_tone(&mut room, c.tone_ms.0 .0, c.tone_ms.1 .0, c.tone_hz);
        let word = &speech[&(0, format!("{}.", c.word))];
        render::mix_into(&mut room, word, c.word_ms.0 .0, 0.8, false);
    }
    render::add_room_tone(&mut room, opts.seed);
    for (&index, track) in remote_tracks.iter_mut() {
        render::add_room_tone(track, opts.seed ^ index as u64);
    }
    (room, remote_tracks)
}

/// Encodes the camera (720p, the room's sound) and each remote councillor's stream (360p, their
/// own track), each showing who speaks; returns the files' names.
fn encode_media(
    dir: &Path,
    layout: &Layout,
    cast: &[CastMember],
    title: &str,
    room: &[f32],
    remote_tracks: HashMap<usize, Vec<f32>>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<String>, SampleError> {
    let mut files = Vec::new();
    let spec = render::VideoSpec {
        width: 1280,
        height: 720,
        duration_ms: layout.duration_ms,
    };
    let captions = render::Captions {
        spans: layout
            .utterances
            .iter()
            .map(|u| (u.start_ms.0, u.end_ms.0, caption(&cast[u.speaker])))
            .collect(),
        idle: title.to_owned(),
    };
    encode(dir, "camera.mp4", room, &spec, captions, cancelled)?;
    files.push("camera.mp4".to_owned());
    for (index, track) in remote_tracks {
        let member = &cast[index];
        let name = format!("remote-{}.mp4", member.person.id);
        let captions = render::Captions {
            spans: layout
                .utterances
                .iter()
                .filter(|u| u.speaker == index)
                .map(|u| {
                    (
                        u.start_ms.0,
                        u.end_ms.0,
                        format!("{} (remote)", member.person.name),
                    )
                })
                .collect(),
            idle: format!("{} (remote, listening)", member.person.name),
        };
        let spec = render::VideoSpec {
            width: 640,
            height: 360,
            duration_ms: layout.duration_ms,
        };
        encode(dir, &name, &track, &spec, captions, cancelled)?;
        files.push(name);
    }
    Ok(files)
}

/// Writes the session document, the floor events, the agenda markers and the truth; returns
/// their names.
fn write_documents(
    dir: &Path,
    session: &Session,
    floor_events: &[FloorEvent],
    layout: &Layout,
    start: DateTime<Utc>,
    truth: &Truth,
) -> Result<Vec<String>, SampleError> {
    write_atomic(
        &dir.join("session.json"),
        session::to_json(session).as_bytes(),
    )?;
    write_atomic(
        &dir.join("floor_events.json"),
        session::to_json(&floor_events).as_bytes(),
    )?;
    write_atomic(
        &dir.join("agenda_markers.json"),
        session::to_json(&agenda_markers(layout, start)).as_bytes(),
    )?;
    write_atomic(&dir.join("truth.json"), session::to_json(truth).as_bytes())?;
    Ok([
        "session.json",
        "floor_events.json",
        "agenda_markers.json",
        "truth.json",
    ]
    .map(String::from)
    .to_vec())
}

const MIC_FILE: &str = "room-mics.wav";

/// The room's noise and the gallery's babble, at levels set against the speech already mixed in.
fn add_room_acoustics(room: &mut [f32], layout: &Layout, speech: &Speech, opts: &SampleOptions) {
    let spans: Vec<(u64, u64)> = layout
        .utterances
        .iter()
        .map(|u| (u.start_ms.0, u.end_ms.0))
        .collect();
    let level = render::speech_rms(room, &spans);
    if opts.pacing.babble {
        let voices: Vec<&[f32]> = layout
            .utterances
            .iter()
            .map(|u| speech[&(u.speaker, u.text.clone())].as_slice())
            .collect();
        render::add_babble(room, &voices, level, 15.0);
    }
    if let Some(snr_db) = opts.pacing.noise_snr_db {
        render::add_pink_noise(room, level, snr_db as f32, opts.seed ^ 0x006e_6f69_7365);
    }
}

/// The room as a mixing desk records it: one channel per seat, each carrying its own speaker
/// close up and the others (and the loudspeakers' remote voices) faintly.
fn write_mic_channels(
    dir: &Path,
    layout: &Layout,
    cast: &[CastMember],
    speech: &Speech,
    seed: u64,
) -> Result<(), SampleError> {
    let len = render::ms_to_samples(layout.duration_ms);
    let seated: Vec<usize> = (0..cast.len())
        .filter(|&i| cast[i].person.seat.is_some())
        .collect();
    let mut tracks = vec![vec![0.0f32; len]; seated.len()];
    for u in &layout.utterances {
        let samples = &speech[&(u.speaker, u.text.clone())];
        for (channel, &member) in seated.iter().enumerate() {
            let gain = if member == u.speaker { 0.8 } else { 0.04 };
            render::mix_into(&mut tracks[channel], samples, u.start_ms.0, gain, false);
        }
    }
    for (channel, track) in tracks.iter_mut().enumerate() {
        render::add_room_tone(track, seed ^ (0x00c0_ffee + channel as u64));
    }
    let path = dir.join(MIC_FILE);
    let part = part_path(&path);
    let refs: Vec<&[f32]> = tracks.iter().map(Vec::as_slice).collect();
    let written = render::write_multichannel_wav(&part, &refs)
        .map_err(SampleError::from)
        .and_then(|()| {
            std::fs::rename(&part, &path).map_err(|e| SampleError::io(&path, "renaming into", e))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SampleError> {
    session::write_atomic(path, bytes).map_err(|e| SampleError::io(path, "writing", e))
}

fn encode(
    dir: &Path,
    name: &str,
    track: &[f32],
    spec: &render::VideoSpec,
    captions: render::Captions,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), SampleError> {
    let wav = dir.join(format!(".{name}.wav.part"));
    let result = render::write_wav(&wav, track)
        .and_then(|()| render::encode_mp4(&dir.join(name), &wav, spec, captions, cancelled));
    let _ = std::fs::remove_file(&wav);
    result.map_err(|error| match error {
        RenderError::Cancelled => SampleError::Cancelled,
        error => SampleError::Encode {
            name: name.to_owned(),
            error,
        },
    })
}

fn caption(member: &CastMember) -> String {
    let p = &member.person;
    match &p.group {
        Some(group) => format!("{} - {}", p.name, group),
        None => format!("{} - {}", p.name, p.role.as_str().replace('_', " ")),
    }
}

fn session_document(
    opts: &SampleOptions,
    cast: &[CastMember],
    agenda: Vec<session::AgendaItem>,
    start: DateTime<Utc>,
) -> Session {
    let (body, title) = match opts.lang {
        Lang::En => ("Example City Council", "Ordinary session"),
        Lang::It => ("Consiglio comunale di Esempio", "Seduta ordinaria"),
    };
    let mut sources = vec![Source {
        id: "cam1".into(),
        kind: SourceKind::Camera,
        uri: "camera.mp4".into(),
        person: None,
        channel_seats: Vec::new(),
    }];
    sources.extend(cast.iter().filter(|m| m.remote).map(|m| Source {
        id: format!("remote-{}", m.person.id),
        kind: SourceKind::Remote,
        uri: format!("remote-{}.mp4", m.person.id),
        person: Some(m.person.id.clone()),
        channel_seats: Vec::new(),
    }));
    Session {
        id: SessionId::parse(&format!("sample-{}-{}", opts.lang.code(), opts.seed))
            .expect("a language code and a number make a safe id"),
        body: body.into(),
        title: title.into(),
        start,
        mode: opts.mode,
        language: opts.lang.code().into(),
        sources,
        roster: cast.iter().map(|m| m.person.clone()).collect(),
        agenda,
        closed_ranges: Vec::new(),
        floor_events: Vec::new(),
        agenda_markers: Vec::new(),
        votes: Vec::new(),
    }
}

/// A roll-call vote at the end of each resolution and motion, everyone voting: member `i` votes
/// against item `n` when `i + n` is a multiple of 4, abstains when it is one more, else in favour.
fn votes(
    layout: &Layout,
    cast: &[CastMember],
    agenda: &[session::AgendaItem],
    start: DateTime<Utc>,
) -> Vec<Vote> {
    layout
        .items
        .iter()
        .filter_map(|span| {
            let item = agenda.iter().find(|a| a.number == span.number)?;
            if !matches!(item.kind, ItemKind::Resolution | ItemKind::Motion) {
                return None;
            }
            let ballots: Vec<Ballot> = cast
                .iter()
                .enumerate()
                .map(|(i, m)| Ballot {
                    person: m.person.id.clone(),
                    vote: match (i as u32 + item.number) % 4 {
                        0 => Choice::Against,
                        1 => Choice::Abstained,
                        _ => Choice::Favour,
                    },
                })
                .collect();
            let counts = VoteCounts::of(ballots.iter().map(|b| b.vote));
            Some(Vote {
                item: item.number,
                at: start + Duration::milliseconds(span.end_ms.0 as i64),
                subject: item.title.clone(),
                result: if counts.favour > counts.against {
                    VoteResult::Approved
                } else {
                    VoteResult::Rejected
                },
                counts,
                ballots,
            })
        })
        .collect()
}

/// Mic on/off as a conference system reports them, each off by up to `jitter_ms` either way: a
/// councillor's mic is on for each of their turns; the chair's stays on from announcing an item
/// until the item's last word (the opening gets its own), so it is open while councillors speak.
fn floor_events(
    layout: &Layout,
    cast: &[CastMember],
    start: DateTime<Utc>,
    opts: &SampleOptions,
) -> Vec<FloorEvent> {
    let mut rng = Rng::new(opts.seed ^ 0xf100_e7e7);
    let mut jitter = |ms: u64| -> u64 {
        let j = rng.below(2 * opts.jitter_ms + 1);
        (ms + j).saturating_sub(opts.jitter_ms)
    };
    let mut turns: Vec<(u32, u64, u64)> = Vec::new();
    let mut chair: Option<(Option<u32>, u64, u64)> = None;
    for u in &layout.utterances {
        let Some(seat) = cast[u.speaker].person.seat else {
            continue;
        };
        if u.speaker != 0 {
            turns.push((seat, u.start_ms.0, u.end_ms.0));
        }
        match &mut chair {
            Some((item, _, end)) if *item == u.item => *end = u.end_ms.0,
            _ if u.speaker == 0 => {
                if let Some((_, from, to)) = chair.take() {
                    turns.push((seat, from, to));
                }
                chair = Some((u.item, u.start_ms.0, u.end_ms.0));
            }
            _ => {}
        }
    }
    if let (Some((_, from, to)), Some(seat)) = (chair, cast[0].person.seat) {
        turns.push((seat, from, to));
    }
    let mut events = Vec::new();
    for (seat, from, to) in turns {
        for (ms, action) in [
            (jitter(from), MicAction::MicOn),
            (jitter(to), MicAction::MicOff),
        ] {
            events.push(FloorEvent {
                at: start + Duration::milliseconds(ms as i64),
                seat: Some(seat),
                person: None,
                action,
            });
        }
    }
    events.sort_by_key(|e| e.at);
    events
}

/// The clerk's console marking each item's start as the chair announces it.
fn agenda_markers(layout: &Layout, start: DateTime<Utc>) -> Vec<AgendaMarker> {
    layout
        .items
        .iter()
        .map(|i| AgendaMarker {
            at: start + Duration::milliseconds(i.start_ms.0 as i64),
            item: i.number,
        })
        .collect()
}

impl Truth {
    /// The truth of a laid-out script (without closed parts, which [`create`] adds).
    pub fn from_layout(layout: &Layout, cast: &[CastMember]) -> Truth {
        Truth {
            duration_ms: SessionMs(layout.duration_ms),
            utterances: layout
                .utterances
                .iter()
                .map(|u| TruthUtterance {
                    person: cast[u.speaker].person.id.clone(),
                    item: u.item,
                    start_ms: u.start_ms,
                    end_ms: u.end_ms,
                    text: u.text.clone(),
                })
                .collect(),
            items: layout
                .items
                .iter()
                .map(|i| TruthItem {
                    number: i.number,
                    start_ms: i.start_ms,
                    end_ms: i.end_ms,
                })
                .collect(),
            music: layout
                .music
                .iter()
                .map(|&(start_ms, end_ms)| TruthSpan { start_ms, end_ms })
                .collect(),
            closed: Vec::new(),
        }
    }
}
