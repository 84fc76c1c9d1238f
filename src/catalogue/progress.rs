//! How far each session has come, in one query: transcript, timeline, items reviewed, clips made
//! and published, press kit delivered.

use sqlx::Row;

use super::{Catalogue, Result};

/// What the catalogue knows of one session's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub session: String,
    pub transcribed: bool,
    pub aligned: bool,
    /// Whether every agenda item carries a "reviewed" mark (a session without items: never).
    pub reviewed: bool,
    pub clips: u64,
    pub published_clips: u64,
    /// Whether a press kit of the session reached a destination.
    pub delivered: bool,
}

impl Catalogue {
    /// Every session's progress, in the sessions' order (start, then id).
    pub async fn progress(&self) -> Result<Vec<Progress>> {
        let rows = sqlx::query(
            "SELECT s.id AS id,
                (SELECT COUNT(*) FROM transcripts t WHERE t.session_id = s.id) AS transcripts,
                (SELECT COUNT(*) FROM timelines l WHERE l.session_id = s.id) AS timelines,
                (SELECT COUNT(*) FROM agenda_items a WHERE a.session_id = s.id) AS items,
                (SELECT COUNT(*) FROM item_reviews r WHERE r.session_id = s.id) AS reviewed,
                (SELECT COUNT(*) FROM clips c WHERE c.session_id = s.id) AS clips,
                (SELECT COUNT(*) FROM clips c WHERE c.session_id = s.id
                    AND c.published_at IS NOT NULL) AS published,
                (SELECT COUNT(*) FROM deliveries d WHERE d.session_id = s.id
                    AND d.outcome = 'delivered') AS delivered
             FROM sessions s ORDER BY s.start_at, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let count = |column: &str| -> Result<u64> {
                    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
                };
                Ok(Progress {
                    session: row.try_get("id")?,
                    transcribed: count("transcripts")? > 0,
                    aligned: count("timelines")? > 0,
                    reviewed: count("items")? > 0 && count("reviewed")? >= count("items")?,
                    clips: count("clips")?,
                    published_clips: count("published")?,
                    delivered: count("delivered")? > 0,
                })
            })
            .collect()
    }
}
