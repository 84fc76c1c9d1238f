//! A session's transcript, its aligned timeline and the corrections made to it (revisions).

use chrono::{DateTime, Utc};
use serde::Serialize;
use session::Transcript;
use sqlx::Row;
use transcriber::align::{AgendaSource, Edit, Timeline};

use super::{
    hold_for_writing, json_column, json_text, number, parse_time, timestamp, Catalogue,
    CatalogueError, Result,
};
impl Catalogue {
    /// Stores (replacing) a session's transcript.
    pub async fn put_transcript(&self, id: &str, transcript: &Transcript) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        hold_for_writing(&mut tx, id).await?;
        let exists = sqlx::query("SELECT id FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(CatalogueError::NotFound(id.to_owned()));
        }
        sqlx::query("DELETE FROM transcripts WHERE session_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO transcripts (session_id, model, language, duration_ms, word_count, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&transcript.model)
        .bind(&transcript.language)
        .bind(transcript.duration_ms.0 as i64)
        .bind(transcript.words().count() as i64)
        .bind(timestamp(Utc::now()))
        .bind(session::to_json(transcript))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session's current transcript, if it has one.
    pub async fn transcript(&self, id: &str) -> Result<Option<Transcript>> {
        let row = sqlx::query("SELECT document FROM transcripts WHERE session_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let text: String = row.try_get("document")?;
            session::from_json(&text).map_err(|_| CatalogueError::Corrupt {
                table: "transcripts",
                column: "document",
                value: text.chars().take(80).collect(),
            })
        })
        .transpose()
    }
}

/// A session's aligned timeline as stored: corrections applied.
#[derive(Clone, Debug)]
pub struct StoredTimeline {
    /// The timeline as aligned, before any correction.
    pub base: Timeline,
    pub timeline: Timeline,
    pub agenda_source: AgendaSource,
    pub warnings: Vec<String>,
    pub aligned_at: DateTime<Utc>,
}

/// One correction of a session's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    pub number: u64,
    pub author: String,
    pub created_at: DateTime<Utc>,
    /// What was asked: a `Correction`, or `{"op": "revert", "revision": N}`.
    pub correction: serde_json::Value,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// The edit that takes the timeline back to `before`.
    #[serde(skip)]
    pub undo: Edit,
    pub reverted_by: Option<u64>,
}

/// A revision to store; `reverts` names the revision it undoes.
#[derive(Clone, Debug)]
pub struct NewRevision {
    pub author: String,
    pub correction: serde_json::Value,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub undo: Edit,
    pub reverts: Option<u64>,
}

impl Catalogue {
    /// Stores (replacing) a session's aligned timeline: as aligned, and with corrections applied;
    /// its search lines in the same transaction. `NotFound` for an unknown session.
    pub async fn put_timeline(
        &self,
        id: &str,
        base: &Timeline,
        timeline: &Timeline,
        agenda_source: AgendaSource,
        warnings: &[String],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM timelines WHERE session_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let exists = sqlx::query("SELECT id FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Err(CatalogueError::NotFound(id.to_owned()));
        }
        sqlx::query(
            "INSERT INTO timelines (session_id, aligned_at, agenda_source, warnings, base_document,
                                    document)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(timestamp(Utc::now()))
        .bind(json_text(&agenda_source))
        .bind(json_text(&warnings))
        .bind(json_text(base))
        .bind(json_text(timeline))
        .execute(&mut *tx)
        .await?;
        self.write_index(&mut tx, id, timeline).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session's timeline; `NotAligned` when it has none yet.
    pub async fn timeline(&self, id: &str) -> Result<StoredTimeline> {
        self.get(id).await?;
        let row = sqlx::query(
            "SELECT aligned_at, agenda_source, warnings, base_document, document
             FROM timelines WHERE session_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| CatalogueError::NotAligned(id.to_owned()))?;
        Ok(StoredTimeline {
            base: json_column(&row, "timelines", "base_document")?,
            timeline: json_column(&row, "timelines", "document")?,
            agenda_source: json_column(&row, "timelines", "agenda_source")?,
            warnings: json_column(&row, "timelines", "warnings")?,
            aligned_at: parse_time(row.try_get("aligned_at")?)?,
        })
    }

    /// A session's revisions, oldest first.
    pub async fn revisions(&self, id: &str) -> Result<Vec<Revision>> {
        self.get(id).await?;
        let rows = sqlx::query(
            "SELECT number, author, created_at, correction, before_doc, after_doc, undo_edit, reverted_by
             FROM revisions WHERE session_id = $1 ORDER BY number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Revision {
                    number: number(row.try_get("number")?, "revisions", "number")?.into(),
                    author: row.try_get("author")?,
                    created_at: parse_time(row.try_get("created_at")?)?,
                    correction: json_column(row, "revisions", "correction")?,
                    before: json_column(row, "revisions", "before_doc")?,
                    after: json_column(row, "revisions", "after_doc")?,
                    undo: json_column(row, "revisions", "undo_edit")?,
                    reverted_by: row
                        .try_get::<Option<i64>, _>("reverted_by")?
                        .map(|n| number(n, "revisions", "reverted_by").map(u64::from))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Stores a revision, the timeline it produced and its search lines in one transaction;
    /// `Conflict` when another revision was stored since the caller read revision `last_seen` (0 for
    /// none).
    pub async fn add_revision(
        &self,
        id: &str,
        last_seen: u64,
        revision: &NewRevision,
        timeline: &Timeline,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        hold_for_writing(&mut tx, id).await?;
        let last: Option<i64> =
            sqlx::query("SELECT MAX(number) AS n FROM revisions WHERE session_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        let last = last.unwrap_or(0) as u64;
        if last != last_seen {
            return Err(CatalogueError::Conflict(id.to_owned()));
        }
        let number = last + 1;
        sqlx::query(
            "INSERT INTO revisions (session_id, number, author, created_at, correction, before_doc,
                                    after_doc, undo_edit, reverted_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(id)
        .bind(number as i64)
        .bind(&revision.author)
        .bind(timestamp(Utc::now()))
        .bind(json_text(&revision.correction))
        .bind(json_text(&revision.before))
        .bind(json_text(&revision.after))
        .bind(json_text(&revision.undo))
        .execute(&mut *tx)
        .await?;
        if let Some(reverted) = revision.reverts {
            sqlx::query(
                "UPDATE revisions SET reverted_by = $1 WHERE session_id = $2 AND number = $3",
            )
            .bind(number as i64)
            .bind(id)
            .bind(reverted as i64)
            .execute(&mut *tx)
            .await?;
        }
        let updated = sqlx::query("UPDATE timelines SET document = $1 WHERE session_id = $2")
            .bind(json_text(timeline))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(CatalogueError::NotAligned(id.to_owned()));
        }
        self.write_index(&mut tx, id, timeline).await?;
        tx.commit().await?;
        Ok(number)
    }
}
