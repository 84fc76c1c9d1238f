//! Clips made from a session, published or not.

use chrono::{DateTime, Utc};
use serde::Serialize;
use session::SessionMs;
use sqlx::Row;

use super::{json_column, json_text, ms, parse_time, small, timestamp, Catalogue, Result};

/// A clip as the catalogue keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClipRecord {
    pub id: String,
    pub session: String,
    pub slug: String,
    pub title: String,
    pub item: Option<u32>,
    pub person: Option<String>,
    pub start_ms: SessionMs,
    pub end_ms: SessionMs,
    pub preset: String,
    pub mode: String,
    pub subtitles: String,
    /// The media file, relative to the session's folder.
    pub path: String,
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
    /// Roster ids of the people heard in the clip.
    pub speakers: Vec<String>,
    /// When a press package carried it (none: not published).
    pub published_at: Option<DateTime<Utc>>,
}

impl Catalogue {
    /// Stores a clip, replacing one with the same id.
    pub async fn put_clip(&self, clip: &ClipRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM clips WHERE id = $1")
            .bind(&clip.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO clips (id, session_id, slug, title, item, person_id, start_ms, end_ms,
                                preset, mode, subtitles, path, bytes, created_at, speakers,
                                published_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&clip.id)
        .bind(&clip.session)
        .bind(&clip.slug)
        .bind(&clip.title)
        .bind(clip.item.map(i64::from))
        .bind(clip.person.clone())
        .bind(clip.start_ms.0 as i64)
        .bind(clip.end_ms.0 as i64)
        .bind(&clip.preset)
        .bind(&clip.mode)
        .bind(&clip.subtitles)
        .bind(&clip.path)
        .bind(clip.bytes as i64)
        .bind(timestamp(clip.created_at))
        .bind(json_text(&clip.speakers))
        .bind(clip.published_at.map(timestamp))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session's clips, by start.
    pub async fn clips(&self, session: &str) -> Result<Vec<ClipRecord>> {
        let rows = sqlx::query(
            "SELECT id, session_id, slug, title, item, person_id, start_ms, end_ms, preset, mode,
                    subtitles, path, bytes, created_at, speakers, published_at
             FROM clips WHERE session_id = $1 ORDER BY start_ms, id",
        )
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClipRecord {
                    id: row.try_get("id")?,
                    session: row.try_get("session_id")?,
                    slug: row.try_get("slug")?,
                    title: row.try_get("title")?,
                    item: small(row.try_get("item")?, "clips", "item")?,
                    person: row.try_get("person_id")?,
                    start_ms: ms(row.try_get("start_ms")?, "clips", "start_ms")?,
                    end_ms: ms(row.try_get("end_ms")?, "clips", "end_ms")?,
                    preset: row.try_get("preset")?,
                    mode: row.try_get("mode")?,
                    subtitles: row.try_get("subtitles")?,
                    path: row.try_get("path")?,
                    bytes: ms(row.try_get("bytes")?, "clips", "bytes")?.0,
                    created_at: parse_time(row.try_get("created_at")?)?,
                    speakers: json_column(row, "clips", "speakers")?,
                    published_at: row
                        .try_get::<Option<String>, _>("published_at")?
                        .map(parse_time)
                        .transpose()?,
                })
            })
            .collect()
    }
}
