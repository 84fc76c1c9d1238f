//! The sessions board: every session with how far it has come (its stage), its clips, and the
//! jobs whose last run failed, for the workspace's first page.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use session::SessionId;

use crate::catalogue::{Catalogue, Job, JobKind, JobState, Progress};
use crate::config::Config;

/// How far a session has come, in the order a session goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Imported; nothing recorded yet.
    Scheduled,
    /// Streaming live now.
    Live,
    /// A recording to cut from exists.
    Recorded,
    Transcribed,
    Aligned,
    /// Every agenda item is marked as reviewed by a person.
    Reviewed,
    /// At least one clip is in a press kit.
    Published,
    /// A press kit reached a delivery destination.
    Delivered,
}

/// What decides a session's stage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    pub live: bool,
    pub recorded: bool,
    pub transcribed: bool,
    pub aligned: bool,
    pub reviewed: bool,
    pub published: bool,
    pub delivered: bool,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Scheduled,
        Stage::Live,
        Stage::Recorded,
        Stage::Transcribed,
        Stage::Aligned,
        Stage::Reviewed,
        Stage::Published,
        Stage::Delivered,
    ];

    /// The furthest stage the facts show; live wins while the session streams.
    pub fn of(f: Facts) -> Stage {
        if f.live {
            Stage::Live
        } else if f.delivered {
            Stage::Delivered
        } else if f.published {
            Stage::Published
        } else if f.aligned && f.reviewed {
            Stage::Reviewed
        } else if f.aligned {
            Stage::Aligned
        } else if f.transcribed {
            Stage::Transcribed
        } else if f.recorded {
            Stage::Recorded
        } else {
            Stage::Scheduled
        }
    }
}

/// A job of the session whose latest run of its kind failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub job: String,
    pub kind: JobKind,
    /// The last line of the job's log: what went wrong.
    pub error: String,
    pub at: String,
}

/// One session on the board.
#[derive(Clone, Debug, Serialize)]
pub struct BoardRow {
    pub id: SessionId,
    pub title: String,
    pub body: String,
    pub start: DateTime<Utc>,
    pub stage: Stage,
    pub clips: u64,
    pub published_clips: u64,
    pub failures: Vec<Failure>,
}

/// The jobs looked at for failures: the newest this many.
const JOBS_LOOKED_AT: u32 = 2_000;

/// Every session, in start order, with its stage, clips and failures.
pub async fn board(catalogue: &Catalogue, config: &Config) -> Result<Vec<BoardRow>> {
    let sessions = catalogue.list().await?;
    let progress = catalogue.progress().await?;
    let jobs = catalogue.jobs(None, JOBS_LOOKED_AT).await?;
    let mut rows = Vec::with_capacity(sessions.len());
    for s in sessions {
        let p = progress
            .iter()
            .find(|p| p.session == s.id.as_str())
            .cloned()
            .unwrap_or_default();
        let recorded = match catalogue.get(s.id.as_str()).await {
            Ok(stored) => super::clip::recording(
                &stored.session,
                &stored.base_dir,
                &config.recordings_dir(&s.id),
            )
            .is_ok_and(|media| media.path.is_file()),
            Err(_) => false,
        };
        let facts = Facts {
            live: super::record::is_live(config, &s.id),
            recorded,
            transcribed: p.transcribed,
            aligned: p.aligned,
            reviewed: p.reviewed,
            published: p.published_clips > 0,
            delivered: p.delivered,
        };
        rows.push(row(s, &p, facts, &jobs));
    }
    Ok(rows)
}

fn row(s: crate::catalogue::SessionSummary, p: &Progress, facts: Facts, jobs: &[Job]) -> BoardRow {
    BoardRow {
        failures: failures(s.id.as_str(), jobs),
        title: s.title,
        body: s.body,
        start: s.start,
        stage: Stage::of(facts),
        clips: p.clips,
        published_clips: p.published_clips,
        id: s.id,
    }
}

/// The session's jobs whose newest run of their kind failed (`jobs` newest first).
pub fn failures(session: &str, jobs: &[Job]) -> Vec<Failure> {
    JobKind::ALL
        .into_iter()
        .filter_map(|kind| {
            let latest = jobs
                .iter()
                .find(|j| j.session == session && j.kind == kind)?;
            (latest.state == JobState::Failed).then(|| Failure {
                job: latest.id.clone(),
                kind,
                error: latest
                    .log
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("failed")
                    .to_owned(),
                at: latest.updated_at.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_is_the_furthest_the_facts_show_and_live_wins() {
        let none = Facts::default();
        assert_eq!(Stage::of(none), Stage::Scheduled);
        let recorded = Facts {
            recorded: true,
            ..none
        };
        assert_eq!(Stage::of(recorded), Stage::Recorded);
        let aligned = Facts {
            transcribed: true,
            aligned: true,
            ..recorded
        };
        assert_eq!(Stage::of(aligned), Stage::Aligned);
        let reviewed = Facts {
            reviewed: true,
            ..aligned
        };
        assert_eq!(Stage::of(reviewed), Stage::Reviewed);
        let published = Facts {
            published: true,
            ..reviewed
        };
        assert_eq!(Stage::of(published), Stage::Published);
        let delivered = Facts {
            delivered: true,
            ..published
        };
        assert_eq!(Stage::of(delivered), Stage::Delivered);
        assert_eq!(
            Stage::of(Facts {
                live: true,
                ..delivered
            }),
            Stage::Live
        );
    }

    fn job(id: &str, session: &str, kind: JobKind, state: JobState, log: &str) -> Job {
        Job {
            id: id.into(),
            kind,
            session: session.into(),
            params: serde_json::Value::Null,
            state,
            progress: 0,
            log: log.into(),
            outputs: serde_json::Value::Null,
            attempts: 1,
            max_attempts: 3,
            priority: 0,
            worker: None,
            created_at: String::new(),
            updated_at: "2026-12-01T10:00:00Z".into(),
            owner: None,
        }
    }

    #[test]
    fn a_failure_shows_until_a_newer_run_of_its_kind_succeeds() {
        // Newest first, as the catalogue lists them.
        let jobs = [
            job("c2", "s1", JobKind::Clip, JobState::Done, "done\n"),
            job(
                "t1",
                "s1",
                JobKind::Transcribe,
                JobState::Failed,
                "started\nno model installed\n\n",
            ),
            job(
                "c1",
                "s1",
                JobKind::Clip,
                JobState::Failed,
                "range outside\n",
            ),
            job(
                "p1",
                "s2",
                JobKind::Publish,
                JobState::Failed,
                "disk full\n",
            ),
        ];
        let failed = failures("s1", &jobs);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].job, "t1");
        assert_eq!(failed[0].error, "no model installed");
        assert_eq!(failures("s2", &jobs)[0].error, "disk full");
        assert!(failures("s3", &jobs).is_empty());
    }
}
