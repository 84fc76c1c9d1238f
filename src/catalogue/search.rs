//! The transcript search index: SQLite FTS5 rows of every session's public lines (the pure
//! `crate::search` makes them), accent-insensitive, written in the transaction of the change.

use session::Timeline;
use sqlx::AnyConnection;
use sqlx::Row;

use super::{json_column, ms, read_session, Catalogue, CatalogueError, Result};
use crate::search::{fts_query, public_lines, stems, Hit};

/// Creates the index table (SQLite with FTS5 only).
pub(super) async fn ensure_index(pool: &sqlx::AnyPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_lines USING fts5(\
         session_id UNINDEXED, start_ms UNINDEXED, text, stems, \
         tokenize = 'unicode61 remove_diacritics 2')",
    )
    .execute(pool)
    .await?;
    Ok(())
}

impl Catalogue {
    /// Replaces a session's lines with the public lines of `timeline`, on `conn` (the transaction
    /// that writes the timeline). The session's closed ranges are read there too.
    pub(super) async fn write_index(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        timeline: &Timeline,
    ) -> Result<()> {
        if !self.searchable {
            return Ok(());
        }
        // A write first: the transaction holds the database's write lock before it reads.
        sqlx::query("DELETE FROM search_lines WHERE session_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let session = read_session(&mut *conn, id).await?.session;
        for line in public_lines(&session, timeline) {
            sqlx::query(
                "INSERT INTO search_lines (session_id, start_ms, text, stems)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(line.start_ms as i64)
            .bind(&line.text)
            .bind(stems(&line.text))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Brings a session's lines in step with what `conn` holds: its timeline's public lines, none
    /// when the session or its timeline is gone.
    pub(super) async fn refresh_index(&self, conn: &mut AnyConnection, id: &str) -> Result<()> {
        if !self.searchable {
            return Ok(());
        }
        let row = sqlx::query("SELECT document FROM timelines WHERE session_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => {
                let timeline: Timeline = json_column(&row, "timelines", "document")?;
                self.write_index(conn, id, &timeline).await
            }
            None => {
                sqlx::query("DELETE FROM search_lines WHERE session_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }
    }

    /// Indexes the sessions that have a timeline and nothing in the index (aligned before the
    /// index existed), each in a transaction; returns how many.
    pub async fn index_unindexed(&self) -> Result<usize> {
        if !self.searchable {
            return Ok(0);
        }
        let ids = self.unindexed().await?;
        for id in &ids {
            let mut tx = self.pool.begin().await?;
            self.refresh_index(&mut tx, id).await?;
            tx.commit().await?;
        }
        Ok(ids.len())
    }

    /// The sessions with a timeline and no line in the index.
    pub async fn unindexed(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT session_id FROM timelines
             WHERE session_id NOT IN (SELECT DISTINCT session_id FROM search_lines)
             ORDER BY session_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("session_id")?))
            .collect()
    }

    /// The public lines that have every word of `q` (stemmed), best first, at most `limit`.
    pub async fn search(&self, q: &str, limit: u32) -> Result<Vec<Hit>> {
        let Some(query) = fts_query(q) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT s.session_id AS session_id, s.start_ms AS start_ms, s.text AS text,
                    x.title AS title
             FROM search_lines s JOIN sessions x ON x.id = s.session_id
             WHERE search_lines MATCH $1 ORDER BY rank LIMIT $2",
        )
        .bind(query)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Hit {
                    session: row.try_get("session_id")?,
                    title: row.try_get("title")?,
                    start_ms: ms(row.try_get("start_ms")?, "search_lines", "start_ms")?.0,
                    text: row.try_get("text")?,
                })
            })
            .collect::<Result<_, CatalogueError>>()
    }
}

#[cfg(test)]
mod tests {
    use session::{SessionMs, TimelineWord};
    use transcriber::align::AgendaSource;

    use super::*;

    fn timeline(words: &[(&str, u64)]) -> Timeline {
        Timeline {
            words: words
                .iter()
                .map(|(text, at_ms)| TimelineWord {
                    text: (*text).to_owned(),
                    start_ms: SessionMs(*at_ms),
                    end_ms: SessionMs(at_ms + 400),
                    person: None,
                    item: None,
                    confidence: 1.0,
                    asr_confidence: 1.0,
                    segment: 0,
                })
                .collect(),
            ..Timeline::default()
        }
    }

    /// Whatever writes a timeline (an alignment, a correction from the CLI or the API, a session
    /// imported again, a closed part declared) leaves the search as the timeline says, with a
    /// closed range left out.
    #[tokio::test]
    async fn the_catalogue_keeps_the_index_in_step_with_the_timeline() {
        let dir = tempfile::tempdir().unwrap();
        let catalogue = Catalogue::open(&Catalogue::sqlite_url(dir.path()))
            .await
            .unwrap();
        assert!(catalogue.searchable());
        let session = session::parse(
            r#"{"id":"s1","body":"Consiglio","title":"Seduta","start":"2021-03-15T17:00:00Z",
                "mode":"in_person","closed_ranges":[{"start_ms":10000,"end_ms":20000}]}"#,
            session::Format::Json,
        )
        .unwrap();
        catalogue.import(&session, dir.path(), false).await.unwrap();
        let found = |q: &'static str| {
            let catalogue = catalogue.clone();
            async move { catalogue.search(q, 10).await.unwrap().len() }
        };
        let first = timeline(&[
            ("mozione", 1_000),
            ("approvata", 1_500),
            ("segreto", 12_000),
            ("bilancio", 30_000),
        ]);
        catalogue
            .put_timeline("s1", &first, &first, AgendaSource::Transcript, &[])
            .await
            .unwrap();
        assert_eq!(found("approvato").await, 1, "stemmed");
        assert_eq!(found("segreto").await, 0, "closed range");
        catalogue
            .open_closed("s1", SessionMs(25_000))
            .await
            .unwrap();
        assert_eq!(found("bilancio").await, 0, "closed part declared");
        let corrected = timeline(&[("mozione", 1_000), ("respinta", 1_500)]);
        catalogue
            .put_timeline("s1", &first, &corrected, AgendaSource::Transcript, &[])
            .await
            .unwrap();
        assert_eq!(found("approvata").await, 0);
        assert_eq!(found("respinta").await, 1);
        assert!(catalogue.unindexed().await.unwrap().is_empty());
        catalogue.import(&session, dir.path(), true).await.unwrap();
        assert_eq!(found("mozione").await, 0, "imported again: no timeline yet");
    }

    /// The index rows are written by the timeline's own transaction: when they cannot be written,
    /// the timeline stays as it was.
    #[tokio::test]
    async fn a_timeline_is_not_stored_without_its_lines() {
        let dir = tempfile::tempdir().unwrap();
        let catalogue = Catalogue::open(&Catalogue::sqlite_url(dir.path()))
            .await
            .unwrap();
        let session = session::parse(
            r#"{"id":"s1","body":"Consiglio","title":"Seduta","start":"2021-03-15T17:00:00Z",
                "mode":"in_person"}"#,
            session::Format::Json,
        )
        .unwrap();
        catalogue.import(&session, dir.path(), false).await.unwrap();
        let first = timeline(&[("mozione", 1_000)]);
        catalogue
            .put_timeline("s1", &first, &first, AgendaSource::Transcript, &[])
            .await
            .unwrap();
        sqlx::query("DROP TABLE search_lines")
            .execute(&catalogue.pool)
            .await
            .unwrap();
        let second = timeline(&[("bilancio", 1_000)]);
        let err = catalogue
            .put_timeline("s1", &first, &second, AgendaSource::Transcript, &[])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("search_lines"), "{err}");
        let stored = catalogue.timeline("s1").await.unwrap().timeline;
        assert_eq!(stored.words[0].text, "mozione");
    }
}
