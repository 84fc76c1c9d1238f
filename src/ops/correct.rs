//! Corrections of a session's timeline by the presidency's staff: reassign words, move an item's
//! start, replace text, undo. Each is stored as a revision; the corrections in effect are applied
//! again after every alignment.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use session::{Session, SessionId, SessionMs};
use transcriber::align::{self, Correction, Timeline};

use crate::catalogue::{Catalogue, CatalogueError, NewRevision, Revision};
use crate::config::Config;
use crate::ops::documents::Lang;
use crate::BadInput;

/// A correction as the API and `aula session fix` take it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CorrectionRequest {
    /// The words starting between `from_ms` and `to_ms` were said by `person` (none: unknown).
    Reassign {
        from_ms: u64,
        to_ms: u64,
        person: Option<String>,
    },
    /// Agenda item `item` starts at `start_ms` (the span of it nearest that time moves).
    MoveItem { item: u32, start_ms: u64 },
    /// The words starting between `from_ms` and `to_ms` read `text`.
    ReplaceText {
        from_ms: u64,
        to_ms: u64,
        text: String,
    },
    /// Reverts the latest correction still in effect.
    Undo,
}

impl CorrectionRequest {
    /// The correction asked for; none for an undo.
    fn correction(&self) -> Option<Correction> {
        match self {
            CorrectionRequest::Reassign {
                from_ms,
                to_ms,
                person,
            } => Some(Correction::Reassign {
                start_ms: SessionMs(*from_ms),
                end_ms: SessionMs(*to_ms),
                person: person.clone().filter(|p| p != "unknown"),
            }),
            CorrectionRequest::MoveItem { item, start_ms } => Some(Correction::MoveBoundary {
                item: *item,
                start_ms: SessionMs(*start_ms),
            }),
            CorrectionRequest::ReplaceText {
                from_ms,
                to_ms,
                text,
            } => Some(Correction::ReplaceText {
                start_ms: SessionMs(*from_ms),
                end_ms: SessionMs(*to_ms),
                text: text.clone(),
            }),
            CorrectionRequest::Undo => None,
        }
    }
}

/// A stored revision, as the API answers and `aula session fix --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct RevisionReport {
    pub revision: u64,
    pub correction: serde_json::Value,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// The revision in words ("item 2 now starts at 00:01:00.000").
    pub description: String,
}

/// A revision's request: a correction, or the revert of an earlier revision.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Request {
    Correction(Correction),
    Revert { op: Revert, revision: u64 },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Revert {
    Revert,
}

/// Applies a correction and stores it as a revision by `author`; the transcript files follow.
pub async fn correct(
    config: &Config,
    catalogue: &Catalogue,
    id: &SessionId,
    request: &CorrectionRequest,
    author: &str,
) -> Result<RevisionReport> {
    let stored_session = catalogue.get(id).await?;
    let session = &stored_session.session;
    let stored = catalogue.timeline(id).await?;
    let revisions = catalogue.revisions(id).await?;
    let last_seen = revisions.last().map_or(0, |r| r.number);
    let (revision, timeline) = match request.correction() {
        None => undo(id, &stored.base, &revisions, session, author)?,
        Some(correction) => {
            let mut timeline = stored.timeline.clone();
            let revision = redo(&mut timeline, &correction, session, author)?;
            (revision, timeline)
        }
    };
    let number = catalogue
        .add_revision(id, last_seen, &revision, &timeline)
        .await?;
    let transcript = catalogue
        .transcript(id)
        .await?
        .ok_or_else(|| CatalogueError::NoTranscript(id.to_string()))?;
    super::outputs::write_timeline_files(config, id, session, &transcript, &timeline)?;
    Ok(RevisionReport {
        revision: number,
        description: describe(&revision.correction, session),
        correction: revision.correction,
        before: revision.before,
        after: revision.after,
    })
}

/// The revision of `correction` applied to `timeline` (changed in place).
fn redo(
    timeline: &mut Timeline,
    correction: &Correction,
    session: &Session,
    author: &str,
) -> Result<NewRevision> {
    let edit = correction
        .edit(timeline, &session.roster)
        .map_err(|e| BadInput(e.to_string()))?;
    let before = edit.region(timeline);
    let undo =
        align::apply(timeline, &edit, &session.roster).map_err(|e| BadInput(e.to_string()))?;
    Ok(NewRevision {
        author: author.to_owned(),
        correction: serde_json::to_value(correction)?,
        before,
        after: undo.region(timeline),
        undo,
        reverts: None,
    })
}

/// The revision reverting the latest correction in effect, and the timeline without it: the
/// aligned `base` with every other correction in effect replayed.
fn undo(
    id: &SessionId,
    base: &Timeline,
    revisions: &[Revision],
    session: &Session,
    author: &str,
) -> Result<(NewRevision, Timeline)> {
    let (target, correction) = revisions
        .iter()
        .rev()
        .find_map(
            |r| match serde_json::from_value::<Request>(r.correction.clone()) {
                Ok(Request::Correction(c)) if r.reverted_by.is_none() => Some((r, c)),
                _ => None,
            },
        )
        .ok_or_else(|| BadInput(format!("session {id} has no correction to undo")))?;
    let remaining: Vec<Revision> = revisions
        .iter()
        .filter(|r| r.number != target.number)
        .cloned()
        .collect();
    let mut warnings = Vec::new();
    let (reverted, _) = replay(base, &remaining, session, &mut warnings);
    // The edit that takes the reverted timeline back is the correction made again.
    let undo = correction
        .edit(&reverted, &session.roster)
        .map_err(|e| BadInput(format!("revision {} cannot be undone: {e}", target.number)))?;
    let revision = NewRevision {
        author: author.to_owned(),
        correction: serde_json::to_value(Request::Revert {
            op: Revert::Revert,
            revision: target.number,
        })?,
        before: target.after.clone(),
        after: target.before.clone(),
        undo,
        reverts: Some(target.number),
    };
    Ok((revision, reverted))
}

/// The corrections in effect (not reverted), in order, applied to `base`; those that no longer fit
/// (after a new transcription, say) become warnings.
pub fn replay(
    base: &Timeline,
    revisions: &[Revision],
    session: &Session,
    warnings: &mut Vec<String>,
) -> (Timeline, usize) {
    let mut timeline = base.clone();
    let mut applied = 0;
    for revision in revisions.iter().filter(|r| r.reverted_by.is_none()) {
        let Ok(Request::Correction(correction)) =
            serde_json::from_value::<Request>(revision.correction.clone())
        else {
            continue;
        };
        match correction
            .edit(&timeline, &session.roster)
            .and_then(|edit| align::apply(&mut timeline, &edit, &session.roster))
        {
            Ok(_) => applied += 1,
            Err(e) => warnings.push(format!(
                "revision {} no longer applies: {e}",
                revision.number
            )),
        }
    }
    (timeline, applied)
}

/// A stored revision's request in words.
pub fn describe(correction: &serde_json::Value, session: &Session) -> String {
    describe_in(correction, session, Lang::En)
}

/// The correction in words, in `lang`.
pub fn describe_in(correction: &serde_json::Value, session: &Session, lang: Lang) -> String {
    let it = lang == Lang::It;
    let name = |person: Option<String>| {
        person.map_or_else(
            || if it { "(sconosciuto)" } else { "(unknown)" }.to_owned(),
            |id| session.name_of(&id).to_owned(),
        )
    };
    match serde_json::from_value::<Request>(correction.clone()) {
        Ok(Request::Correction(Correction::Reassign {
            start_ms,
            end_ms,
            person,
        })) if it => format!("parole {start_ms} - {end_ms} attribuite a {}", name(person)),
        Ok(Request::Correction(Correction::Reassign {
            start_ms,
            end_ms,
            person,
        })) => format!("words {start_ms} - {end_ms} reassigned to {}", name(person)),
        Ok(Request::Correction(Correction::MoveBoundary { item, start_ms })) if it => {
            format!("il punto {item} ora inizia alle {start_ms}")
        }
        Ok(Request::Correction(Correction::MoveBoundary { item, start_ms })) => {
            format!("item {item} now starts at {start_ms}")
        }
        Ok(Request::Correction(Correction::ReplaceText {
            start_ms,
            end_ms,
            text,
        })) if it => format!("parole {start_ms} - {end_ms} ora: «{text}»"),
        Ok(Request::Correction(Correction::ReplaceText {
            start_ms,
            end_ms,
            text,
        })) => format!("words {start_ms} - {end_ms} now read {text:?}"),
        Ok(Request::Revert { revision, .. }) if it => format!("revisione {revision} annullata"),
        Ok(Request::Revert { revision, .. }) => format!("revision {revision} reverted"),
        Err(_) => correction.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ops::testing;

    /// `revision` stored as the catalogue would keep it.
    fn stored(number: u64, revision: NewRevision, reverted_by: Option<u64>) -> Revision {
        Revision {
            number,
            author: revision.author,
            created_at: Utc::now(),
            correction: revision.correction,
            before: revision.before,
            after: revision.after,
            undo: revision.undo,
            reverted_by,
        }
    }

    fn reassign(from_ms: u64, to_ms: u64, person: &str) -> Correction {
        CorrectionRequest::Reassign {
            from_ms,
            to_ms,
            person: Some(person.into()),
        }
        .correction()
        .unwrap()
    }

    fn person_at(timeline: &Timeline, start_ms: u64) -> Option<String> {
        timeline
            .words
            .iter()
            .find(|w| w.start_ms.0 == start_ms)
            .and_then(|w| w.person.clone())
    }

    /// Words 20-21 s given to the chair, then 40 s to Rossi: the session, the timeline before and
    /// after, and the two revisions.
    fn two_corrections() -> (Session, Timeline, Timeline, [Revision; 2]) {
        let (session, base) = (testing::session(), testing::timeline());
        let mut t = base.clone();
        let mut revise = |from_ms, to_ms, person| {
            redo(&mut t, &reassign(from_ms, to_ms, person), &session, "staff").unwrap()
        };
        let (first, second) = (
            revise(19_000, 22_000, "chair"),
            revise(39_000, 41_000, "rossi"),
        );
        let revisions = [stored(1, first, None), stored(2, second, None)];
        (session, base, t, revisions)
    }

    #[test]
    fn corrections_in_effect_are_replayed_in_order_and_reverted_ones_skipped() {
        let (session, base, t, revisions) = two_corrections();
        let mut warnings = Vec::new();
        let (replayed, applied) = replay(&base, &revisions, &session, &mut warnings);
        assert_eq!((applied, warnings.len()), (2, 0));
        assert_eq!(replayed, t);

        let reverted = [
            revisions[0].clone(),
            Revision {
                reverted_by: Some(3),
                ..revisions[1].clone()
            },
        ];
        let (replayed, applied) = replay(&base, &reverted, &session, &mut warnings);
        assert_eq!(applied, 1);
        assert_eq!(person_at(&replayed, 20_000).as_deref(), Some("chair"));
        assert_eq!(person_at(&replayed, 40_000).as_deref(), Some("chair"));
    }

    #[test]
    fn a_correction_that_no_longer_fits_becomes_a_warning() {
        let (session, base) = (testing::session(), testing::timeline());
        let mut t = base.clone();
        let revision = redo(
            &mut t,
            &reassign(19_000, 22_000, "rossi"),
            &session,
            "staff",
        )
        .unwrap();
        let mut stale = stored(1, revision, None);
        stale.correction = serde_json::to_value(reassign(19_000, 22_000, "nobody")).unwrap();
        let mut warnings = Vec::new();
        let (replayed, applied) = replay(&base, &[stale], &session, &mut warnings);
        assert_eq!(applied, 0);
        assert_eq!(replayed, base);
        assert!(
            warnings[0].contains("revision 1 no longer applies"),
            "{warnings:?}"
        );
    }

    #[test]
    fn undo_reverts_the_latest_correction_in_effect_and_keeps_the_others() {
        let (session, base, _, revisions) = two_corrections();
        let id = session.id.clone();
        let (revision, timeline) = undo(&id, &base, &revisions, &session, "staff").unwrap();
        assert_eq!(revision.reverts, Some(2));
        assert_eq!(
            describe(&revision.correction, &session),
            "revision 2 reverted"
        );
        assert_eq!(person_at(&timeline, 40_000).as_deref(), Some("chair"));
        assert_eq!(person_at(&timeline, 20_000).as_deref(), Some("chair"));
        // Nothing left to undo once every correction is reverted.
        let none = [Revision {
            reverted_by: Some(3),
            ..revisions[0].clone()
        }];
        let e = undo(&id, &base, &none, &session, "staff").unwrap_err();
        assert!(e.to_string().contains("no correction to undo"), "{e}");
    }

    #[test]
    fn a_reassignment_is_described_with_the_person_s_name() {
        let session = testing::session();
        let text = describe(
            &serde_json::to_value(reassign(1_000, 2_000, "rossi")).unwrap(),
            &session,
        );
        assert!(text.ends_with("reassigned to Mario Rossi"), "{text}");
        let testo = describe_in(
            &serde_json::to_value(reassign(1_000, 2_000, "rossi")).unwrap(),
            &session,
            Lang::It,
        );
        assert!(testo.ends_with("attribuite a Mario Rossi"), "{testo}");
        let undo = serde_json::json!({"op": "revert", "revision": 3});
        assert_eq!(
            describe_in(&undo, &session, Lang::It),
            "revisione 3 annullata"
        );
    }
}
