//! What a generated session says and when: the cast, the agenda, the lines, and their layout in
//! session time. Pure logic: speech durations come from a caller-supplied synthesizer.

use crate::speech::{FestivalVoice, Voice};
use session::{AgendaItem, ItemKind, Person, Role, SessionMs};

/// Deterministic generator (SplitMix64): the same seed gives the same session on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_a01a_c0c0_11e5)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    It,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::It => "it",
        }
    }
}

/// A person of the generated session and the voice that speaks for them.
#[derive(Clone, Debug)]
pub struct CastMember {
    pub person: Person,
    pub voice: Voice,
    /// Joins from home through a remote stream rather than from a seat in the chamber.
    pub remote: bool,
}

const NAMES_IT: [(&str, bool); 10] = [
    ("Marco Rossi", false),
    ("Giulia Bianchi", true),
    ("Luca Ferrari", false),
    ("Sara Romano", true),
    ("Paolo Esposito", false),
    ("Chiara Colombo", true),
    ("Andrea Ricci", false),
    ("Elena Marino", true),
    ("Davide Greco", false),
    ("Francesca Bruno", true),
];
const NAMES_EN: [(&str, bool); 10] = [
    ("John Carter", false),
    ("Mary Hughes", true),
    ("Peter Walsh", false),
    ("Susan Reed", true),
    ("David Brooks", false),
    ("Linda Foster", true),
    ("Robert Hayes", false),
    ("Karen Price", true),
    ("James Porter", false),
    ("Helen Ward", true),
];
const GROUPS_IT: [&str; 4] = [
    "Lista Civica Insieme",
    "Futuro Comune",
    "Centro Città",
    "Gruppo Misto",
];
const GROUPS_EN: [&str; 4] = ["Civic List", "Common Future", "City Centre", "Independents"];
const MALE_VOICES: [&str; 5] = ["m1", "m2", "m3", "m4", "m7"];
const FEMALE_VOICES: [&str; 4] = ["f1", "f2", "f3", "f4"];

/// The chair and `councillors` councillors; in hybrid mode the last councillor is remote.
pub fn cast(lang: Lang, councillors: u32, hybrid: bool, rng: &mut Rng) -> Vec<CastMember> {
    let (names, groups) = match lang {
        Lang::En => (&NAMES_EN, &GROUPS_EN),
        Lang::It => (&NAMES_IT, &GROUPS_IT),
    };
    let offset = rng.below(names.len() as u64) as usize;
    (0..=councillors as usize)
        .map(|i| {
            let (name, female) = names[(offset + i) % names.len()];
            let remote = hybrid && i == councillors as usize && i > 0;
            let chair = i == 0;
            CastMember {
                person: Person {
                    id: slug(name),
                    name: name.to_owned(),
                    role: if chair { Role::Chair } else { Role::Councillor },
                    group: (!chair).then(|| groups[i % groups.len()].to_owned()),
                    seat: (!remote).then_some(i as u32 + 1),
                },
                voice: voice(lang, female, i, rng),
                remote,
            }
        })
        .collect()
}

/// English speaks with espeak-ng; Italian with Festival's diphone voices, which Whisper hears far
/// better than espeak-ng's Italian. Pitch and pace vary per person.
fn voice(lang: Lang, female: bool, index: usize, rng: &mut Rng) -> Voice {
    match lang {
        Lang::En => {
            let voices: &[&str] = if female { &FEMALE_VOICES } else { &MALE_VOICES };
            Voice::Espeak {
                name: format!("en+{}", voices[index % voices.len()]),
                pitch: 30 + (rng.below(5) as u32) * 10,
                words_per_minute: 150 + (rng.below(4) as u32) * 10,
            }
        }
        Lang::It => Voice::Festival {
            voice: if female {
                FestivalVoice::ItalianLp
            } else {
                FestivalVoice::ItalianPc
            },
            pitch_pct: 85 + (rng.below(5) as u32) * 7,
            duration_pct: 92 + (rng.below(4) as u32) * 5,
        },
    }
}

fn slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

const TITLES_IT: [(&str, ItemKind); 8] = [
    (
        "Approvazione del bilancio di previsione",
        ItemKind::Resolution,
    ),
    ("Mozione sulla mobilità sostenibile", ItemKind::Motion),
    (
        "Interrogazione sulla manutenzione delle scuole",
        ItemKind::Question,
    ),
    (
        "Variazione al piano delle opere pubbliche",
        ItemKind::Resolution,
    ),
    (
        "Regolamento per l'uso dei parchi cittadini",
        ItemKind::Resolution,
    ),
    ("Mozione sulla raccolta differenziata", ItemKind::Motion),
    ("Comunicazioni del sindaco", ItemKind::Communication),
    ("Interrogazione sul trasporto pubblico", ItemKind::Question),
];
const TITLES_EN: [(&str, ItemKind); 8] = [
    ("Approval of the annual budget", ItemKind::Resolution),
    ("Motion on sustainable transport", ItemKind::Motion),
    ("Question on school maintenance", ItemKind::Question),
    ("Changes to the public works plan", ItemKind::Resolution),
    ("Rules for the use of city parks", ItemKind::Resolution),
    ("Motion on recycling", ItemKind::Motion),
    ("Statement by the mayor", ItemKind::Communication),
    ("Question on public transport", ItemKind::Question),
];

pub fn agenda(lang: Lang, items: u32, cast: &[CastMember], rng: &mut Rng) -> Vec<AgendaItem> {
    let titles = match lang {
        Lang::En => &TITLES_EN,
        Lang::It => &TITLES_IT,
    };
    let offset = rng.below(titles.len() as u64) as usize;
    (0..items as usize)
        .map(|i| {
            let (title, kind) = titles[(offset + i) % titles.len()];
            let number = i as u32 + 1;
            AgendaItem {
                number,
                title: title.to_owned(),
                kind,
                act: (kind == ItemKind::Resolution).then(|| format!("DCC {number}/2021")),
                rapporteur: (kind == ItemKind::Resolution && cast.len() > 1).then(|| {
                    cast[1 + rng.below(cast.len() as u64 - 1) as usize]
                        .person
                        .id
                        .clone()
                }),
                proposer_group: (matches!(kind, ItemKind::Motion | ItemKind::Question)
                    && cast.len() > 1)
                    .then(|| cast[1 + i % (cast.len() - 1)].person.group.clone())
                    .flatten(),
            }
        })
        .collect()
}

const SENTENCES_IT: [&str; 16] = [
    "Ringrazio la presidenza per la parola.",
    "Questo provvedimento riguarda tutti i cittadini del nostro comune.",
    "Il nostro gruppo voterà a favore della proposta.",
    "Chiediamo che la giunta presenti una relazione entro la fine dell'anno.",
    "Le risorse previste non sono sufficienti per le scuole dei quartieri.",
    "Abbiamo ascoltato le associazioni e i comitati di quartiere.",
    "Propongo un emendamento per aumentare i fondi destinati alle strade.",
    "I dati dell'ufficio tecnico mostrano un miglioramento rispetto allo scorso anno.",
    "Vorrei sapere quali sono i tempi previsti per i lavori.",
    "La commissione ha discusso la proposta lunedì mattina.",
    "Serve più attenzione per le periferie e per le persone anziane.",
    "Il parere dei revisori dei conti è favorevole.",
    "Il nostro gruppo non voterà perché mancano informazioni importanti.",
    "Invito i colleghi a sostenere questa mozione.",
    "Il trasporto pubblico deve arrivare anche nelle frazioni.",
    "Concludo ringraziando gli uffici per il lavoro svolto.",
];
const SENTENCES_EN: [&str; 16] = [
    "Thank you, chair, for giving me the floor.",
    "This decision matters to every resident of our city.",
    "Our group will vote in favour of the proposal.",
    "We want a full report before the end of the year.",
    "This budget does not give enough money to our schools.",
    "We have listened to the local associations and residents.",
    "I propose an amendment to increase the money for road repairs.",
    "The figures from the technical office show an improvement on last year.",
    "I would like to know when the works are expected to begin.",
    "The committee discussed this proposal on Monday morning.",
    "We need more help for older people in every part of the city.",
    "The financial report is positive.",
    "We will not vote because important information is missing.",
    "I invite my colleagues to support this motion.",
    "Public transport must also reach the small villages.",
    "Finally, I want to thank everyone for their work.",
];

fn opening(lang: Lang) -> String {
    match lang {
        Lang::En => "Good evening. I declare the city council session open.".into(),
        Lang::It => "Buonasera. Dichiaro aperta la seduta del consiglio comunale.".into(),
    }
}

fn announcement(lang: Lang, item: &AgendaItem) -> String {
    match lang {
        Lang::En => format!(
            "We now move to item {} on the agenda: {}.",
            item.number, item.title
        ),
        Lang::It => format!(
            "Passiamo al punto {} all'ordine del giorno: {}.",
            item.number, item.title
        ),
    }
}

fn give_floor(lang: Lang, person: &Person) -> String {
    match lang {
        Lang::En => format!("The next speaker is {}.", person.name),
        Lang::It => format!("Ha la parola {}.", person.name),
    }
}

fn closing(lang: Lang) -> String {
    match lang {
        Lang::En => "The session is closed. Thank you all.".into(),
        Lang::It => "La seduta è tolta. Grazie a tutti.".into(),
    }
}

/// A line to be spoken by one cast member (an index into the cast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub speaker: usize,
    pub text: String,
}

/// A line placed in session time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utterance {
    pub speaker: usize,
    pub item: Option<u32>,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemSpan {
    pub number: u32,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub duration_ms: u64,
    pub utterances: Vec<Utterance>,
    pub items: Vec<ItemSpan>,
    /// A stretch of music (tones and noise) between the opening and the first item.
    pub music: Option<(SessionMs, SessionMs)>,
}

/// What the session sounds like beyond its lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Silence as a share of the session: each line is followed by proportionally long silence.
    pub silence_percent: Option<u64>,
    /// Length of a music stretch after the opening (0 for none).
    pub music_ms: u64,
    /// A councillor's turn starts this long before another person's line ends (at most a quarter
    /// of either line), as in a heated debate; 0 for turns that wait their gap.
    pub overlap_ms: u64,
    /// Steady room noise (a ventilation hum's pink noise) this many dB below the speech.
    pub noise_snr_db: Option<u32>,
    /// Babble from the public gallery: unintelligible voices 15 dB below the speech throughout.
    pub babble: bool,
}

impl Pacing {
    /// The silence before a line of `dur` ms.
    fn gap(&self, rng: &mut Rng, dur: u64) -> u64 {
        let natural = rng.between(700, 2000);
        match self.silence_percent {
            Some(p) => natural.max(dur * p / (100 - p.min(95))),
            None => natural,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{seconds} s is too short for {items} agenda item(s): item {item}'s announcement does not fit (try --seconds {suggest})")]
    TooShort {
        seconds: u64,
        items: usize,
        item: u32,
        suggest: u64,
    },
    #[error("speech synthesis failed: {0}")]
    Synth(String),
}

const LEAD_IN_MS: u64 = 1500;
const TAIL_MS: u64 = 1500;

/// Places the opening, each item's announcement and councillors' turns, and the closing, with
/// silences between turns, so that everything ends within `duration_ms`. `speak` synthesizes a line
/// and returns its spoken duration in milliseconds.
pub fn lay_out(
    lang: Lang,
    cast: &[CastMember],
    agenda: &[AgendaItem],
    duration_ms: u64,
    pacing: Pacing,
    rng: &mut Rng,
    mut speak: impl FnMut(&Line) -> Result<u64, String>,
) -> Result<Layout, LayoutError> {
    let mut utterances = Vec::new();
    let mut items = Vec::new();
    let speech_end = duration_ms.saturating_sub(TAIL_MS);
    let mut t = LEAD_IN_MS;
    let mut place = |line: Line, item: Option<u32>, at: u64, dur: u64| {
        utterances.push(Utterance {
            speaker: line.speaker,
            item,
            start_ms: SessionMs(at),
            end_ms: SessionMs(at + dur),
            text: line.text,
        });
        at + dur
    };
    let mut say = |line: &Line| speak(line).map_err(LayoutError::Synth);
    // The speaker and length of the line placed last, for overlapping turns.
    let mut last_line: Option<(usize, u64)>;

    let open = Line {
        speaker: 0,
        text: opening(lang),
    };
    let open_ms = say(&open)?;
    if t + open_ms <= speech_end {
        t = place(open, None, t, open_ms);
    }
    let mut music = None;
    if pacing.music_ms > 0 {
        let start = t + 1000;
        music = Some((SessionMs(start), SessionMs(start + pacing.music_ms)));
        t = start + pacing.music_ms;
    }
    let item_count = agenda.len() as u64;
    let first_item_at = t;
    for (k, item) in agenda.iter().enumerate() {
        let budget_end = first_item_at
            + (speech_end - first_item_at.min(speech_end)) * (k as u64 + 1) / item_count;
        let line = Line {
            speaker: 0,
            text: announcement(lang, item),
        };
        let dur = say(&line)?;
        let start = t + pacing.gap(rng, dur);
        if start + dur > budget_end {
            return Err(LayoutError::TooShort {
                seconds: duration_ms / 1000,
                items: agenda.len(),
                item: item.number,
                suggest: item_count * 25 + 10,
            });
        }
        items.push(ItemSpan {
            number: item.number,
            start_ms: SessionMs(start),
            end_ms: SessionMs(duration_ms),
        });
        last_line = Some((line.speaker, dur));
        t = place(line, Some(item.number), start, dur);
        let mut previous = 0;
        loop {
            let councillor = if cast.len() > 2 {
                let mut c = 1 + rng.below(cast.len() as u64 - 1) as usize;
                if c == previous {
                    c = 1 + c % (cast.len() - 1);
                }
                c
            } else {
                cast.len() - 1
            };
            let mut lines = Vec::new();
            if councillor != 0 && rng.chance(50) {
                lines.push(Line {
                    speaker: 0,
                    text: give_floor(lang, &cast[councillor].person),
                });
            }
            let sentences = match lang {
                Lang::En => &SENTENCES_EN,
                Lang::It => &SENTENCES_IT,
            };
            let count = rng.between(1, 3) as usize;
            let first = rng.below(sentences.len() as u64) as usize;
            let text = (0..count)
                .map(|i| sentences[(first + i * 5) % sentences.len()])
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(Line {
                speaker: councillor,
                text,
            });
            let mut planned: Vec<(Line, u64, u64)> = Vec::new();
            let mut at = t;
            let mut before = last_line;
            for line in lines {
                let dur = say(&line)?;
                let gap = pacing.gap(rng, dur);
                let start = match before {
                    Some((speaker, len))
                        if pacing.overlap_ms > 0
                            && line.speaker != 0
                            && speaker != line.speaker =>
                    {
                        at - pacing.overlap_ms.min(len / 4).min(dur / 4)
                    }
                    _ => at + gap,
                };
                before = Some((line.speaker, dur));
                at = start + dur;
                planned.push((line, start, dur));
            }
            if at > budget_end {
                break;
            }
            for (line, start, dur) in planned {
                last_line = Some((line.speaker, dur));
                t = place(line, Some(item.number), start, dur);
            }
            previous = councillor;
        }
    }
    let close = Line {
        speaker: 0,
        text: closing(lang),
    };
    let close_ms = say(&close)?;
    let start = t + 1000;
    if start + close_ms <= speech_end + TAIL_MS / 2 {
        let last_item = agenda.last().map(|i| i.number);
        place(close, last_item, start, close_ms);
    }
    for k in 1..items.len() {
        items[k - 1].end_ms = items[k].start_ms;
    }
    Ok(Layout {
        duration_ms,
        utterances,
        items,
        music,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_speech(line: &Line) -> Result<u64, String> {
        Ok(line.text.len() as u64 * 70)
    }

    fn layout(seed: u64, seconds: u64, items: u32) -> Result<Layout, LayoutError> {
        paced_layout(Lang::It, true, seed, seconds, items, Pacing::default())
    }

    /// A layout of a three-councillor session (one remote when `hybrid`) paced by `pacing`.
    fn paced_layout(
        lang: Lang,
        hybrid: bool,
        seed: u64,
        seconds: u64,
        items: u32,
        pacing: Pacing,
    ) -> Result<Layout, LayoutError> {
        let mut rng = Rng::new(seed);
        let cast = cast(lang, 3, hybrid, &mut rng);
        let agenda = agenda(lang, items, &cast, &mut rng);
        lay_out(
            lang,
            &cast,
            &agenda,
            seconds * 1000,
            pacing,
            &mut rng,
            fake_speech,
        )
    }

    #[test]
    fn same_seed_same_layout() {
        assert_eq!(layout(7, 120, 3).unwrap(), layout(7, 120, 3).unwrap());
        assert_ne!(layout(7, 120, 3).unwrap(), layout(8, 120, 3).unwrap());
    }

    #[test]
    fn utterances_do_not_overlap_and_fit_the_duration() {
        let l = layout(1, 300, 4).unwrap();
        assert_eq!(l.items.len(), 4);
        for pair in l.utterances.windows(2) {
            assert!(pair[0].end_ms < pair[1].start_ms, "{pair:?}");
        }
        assert!(l.utterances.last().unwrap().end_ms.0 <= 300_000);
        assert_eq!(l.items.last().unwrap().end_ms, SessionMs(300_000));
    }

    #[test]
    fn every_item_starts_with_its_announcement_and_has_councillors() {
        let l = layout(3, 240, 3).unwrap();
        for span in &l.items {
            let within: Vec<_> = l
                .utterances
                .iter()
                .filter(|u| u.item == Some(span.number))
                .collect();
            assert_eq!(within[0].start_ms, span.start_ms);
            assert!(within[0].text.contains(&format!("punto {}", span.number)));
            assert!(
                within.iter().any(|u| u.speaker != 0),
                "item {}",
                span.number
            );
        }
    }

    #[test]
    fn silence_share_and_music_stretch() {
        let pacing = Pacing {
            silence_percent: Some(70),
            music_ms: 8000,
            ..Pacing::default()
        };
        let l = paced_layout(Lang::En, false, 2, 200, 2, pacing).unwrap();
        let speech: u64 = l.utterances.iter().map(|u| u.end_ms.0 - u.start_ms.0).sum();
        assert!(
            speech * 100 / 200_000 <= 30,
            "speech is {speech} ms of 200 s"
        );
        let (a, b) = l.music.unwrap();
        assert_eq!(b.0 - a.0, 8000);
        assert!(l
            .utterances
            .iter()
            .all(|u| u.end_ms <= a || u.start_ms >= b));
    }

    #[test]
    fn overlapping_turns_start_before_another_persons_line_ends() {
        let pacing = Pacing {
            overlap_ms: 600,
            ..Pacing::default()
        };
        let l = paced_layout(Lang::En, false, 4, 200, 2, pacing).unwrap();
        let overlaps = l
            .utterances
            .windows(2)
            .filter(|p| p[1].start_ms < p[0].end_ms)
            .inspect(|p| {
                assert_ne!(p[0].speaker, p[1].speaker);
                assert_ne!(p[1].speaker, 0, "the chair waits its turn");
                assert!(p[0].end_ms.0 - p[1].start_ms.0 <= 600);
                assert!(p[1].end_ms > p[0].end_ms);
            })
            .count();
        assert!(overlaps >= 5, "{overlaps} overlapping turns");
        assert!(l.utterances.iter().all(|u| u.end_ms.0 <= 200_000));
    }

    #[test]
    fn too_short_a_session_is_refused() {
        let err = layout(1, 10, 5).unwrap_err();
        assert!(matches!(err, LayoutError::TooShort { .. }), "{err}");
    }

    #[test]
    fn hybrid_cast_has_one_remote_councillor_without_a_seat() {
        let mut rng = Rng::new(1);
        let c = cast(Lang::En, 3, true, &mut rng);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].person.role, Role::Chair);
        let remote: Vec<_> = c.iter().filter(|m| m.remote).collect();
        assert_eq!(remote.len(), 1);
        assert_eq!(remote[0].person.seat, None);
    }
}
