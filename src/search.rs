//! Transcript search: SQLite FTS5 over the public lines of every session (closed ranges never
//! indexed), accent-insensitive (`unicode61 remove_diacritics 2`), with a light Italian stemmer
//! applied to both the indexed words and the query, so "approvata" finds "approvato". The
//! catalogue keeps the index in step with every change of a session's timeline.

use serde::Serialize;
use session::{Session, Timeline};
use sqlx::Row;

use crate::catalogue::Catalogue;

/// One line of a session's transcript: one speaker, at most ~20 words.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub start_ms: u64,
    pub end_ms: u64,
    pub person: Option<String>,
    pub text: String,
}

/// A search hit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub session: String,
    pub title: String,
    pub start_ms: u64,
    pub text: String,
}

const MAX_LINE_WORDS: usize = 20;

/// The public lines of a timeline: words inside closed ranges are left out, and a line never
/// spans a closed range, a change of speaker, or a pause of 2 s.
pub fn public_lines(session: &Session, timeline: &Timeline) -> Vec<Line> {
    let closed = |ms: u64| session.closed_at(session::SessionMs(ms));
    let mut lines: Vec<Line> = Vec::new();
    let mut count = 0;
    let mut last_end: Option<u64> = None;
    for w in &timeline.words {
        let (start, end) = (w.start_ms.0, w.end_ms.0);
        if closed(start) || closed(end.saturating_sub(1)) {
            last_end = None;
            continue;
        }
        let joins = lines.last().is_some_and(|l| {
            l.person == w.person
                && count < MAX_LINE_WORDS
                && last_end.is_some_and(|e| start.saturating_sub(e) < 2_000)
        });
        if joins {
            let l = lines.last_mut().expect("a line");
            l.text.push(' ');
            l.text.push_str(w.text.trim());
            l.end_ms = end;
            count += 1;
        } else {
            lines.push(Line {
                start_ms: start,
                end_ms: end,
                person: w.person.clone(),
                text: w.text.trim().to_owned(),
            });
            count = 1;
        }
        last_end = Some(end);
    }
    lines
}

/// Lower case, accents folded (as the alignment folds them), letters and digits only.
fn fold(word: &str) -> String {
    transcriber::align::words::fold(word)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A light Italian stemmer: strips the commonest inflectional and derivational endings from words
/// longer than four letters (the stem keeps at least four).
pub fn stem(word: &str) -> String {
    const ENDINGS: [&str; 34] = [
        "amente", "azioni", "azione", "mente", "zioni", "zione", "ando", "endo", "ante", "enti",
        "ente", "ato", "ata", "ati", "ate", "ito", "ita", "iti", "ite", "uto", "uta", "uti", "ute",
        "are", "ere", "ire", "io", "ia", "ie", "ii", "a", "e", "i", "o",
    ];
    let w = fold(word);
    if w.chars().count() <= 4 {
        return w;
    }
    for ending in ENDINGS {
        if let Some(stem) = w.strip_suffix(ending) {
            if stem.chars().count() >= 4 {
                return stem.to_owned();
            }
        }
    }
    w
}

fn stems(text: &str) -> String {
    text.split_whitespace()
        .map(stem)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates the index table (SQLite with FTS5 only).
pub(crate) async fn ensure(pool: &sqlx::AnyPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_lines USING fts5(\
         session_id UNINDEXED, start_ms UNINDEXED, text, stems, \
         tokenize = 'unicode61 remove_diacritics 2')",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Brings a session's lines up to date with its timeline (none when it has no timeline, or is gone).
pub(crate) async fn refresh(catalogue: &Catalogue, id: &str) -> anyhow::Result<()> {
    let lines = match (catalogue.get(id).await, catalogue.timeline(id).await) {
        (Ok(stored), Ok(t)) => public_lines(&stored.session, &t.timeline),
        _ => Vec::new(),
    };
    index(catalogue, id, &lines).await
}

/// The sessions with a timeline and nothing in the index (aligned before the index existed).
pub async fn unindexed(catalogue: &Catalogue) -> anyhow::Result<Vec<String>> {
    let indexed: std::collections::HashSet<String> =
        sqlx::query("SELECT DISTINCT session_id FROM search_lines")
            .fetch_all(catalogue.pool())
            .await?
            .iter()
            .map(|r| r.get("session_id"))
            .collect();
    Ok(sqlx::query("SELECT session_id FROM timelines")
        .fetch_all(catalogue.pool())
        .await?
        .iter()
        .map(|r| r.get::<String, _>("session_id"))
        .filter(|id| !indexed.contains(id))
        .collect())
}

/// Replaces a session's lines in the index.
async fn index(catalogue: &Catalogue, session: &str, lines: &[Line]) -> anyhow::Result<()> {
    let mut tx = catalogue.pool().begin().await?;
    sqlx::query("DELETE FROM search_lines WHERE session_id = $1")
        .bind(session)
        .execute(&mut *tx)
        .await?;
    for l in lines {
        sqlx::query(
            "INSERT INTO search_lines (session_id, start_ms, text, stems) VALUES ($1, $2, $3, $4)",
        )
        .bind(session)
        .bind(l.start_ms as i64)
        .bind(&l.text)
        .bind(stems(&l.text))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The query's words, stemmed, all required; quoted so that no FTS5 syntax gets through.
pub fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split_whitespace()
        .map(stem)
        .filter(|s| !s.is_empty())
        .map(|s| format!("\"{s}\"*"))
        .collect();
    (!terms.is_empty()).then(|| format!("stems : ({})", terms.join(" AND ")))
}

pub async fn search(catalogue: &Catalogue, q: &str, limit: i64) -> anyhow::Result<Vec<Hit>> {
    let Some(query) = fts_query(q) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(
        "SELECT s.session_id AS session_id, s.start_ms AS start_ms, s.text AS text, x.title AS title \
         FROM search_lines s JOIN sessions x ON x.id = s.session_id \
         WHERE search_lines MATCH $1 ORDER BY rank LIMIT $2",
    )
    .bind(query)
    .bind(limit)
    .fetch_all(catalogue.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Hit {
            session: r.get("session_id"),
            title: r.get("title"),
            start_ms: r.get::<i64, _>("start_ms") as u64,
            text: r.get("text"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use session::{SessionMs, TimelineWord};
    use transcriber::align::AgendaSource;

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
    /// imported again) leaves the search as the timeline says, with a closed range left out.
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
            async move { search(&catalogue, q, 10).await.unwrap().len() }
        };
        let first = timeline(&[
            ("mozione", 1_000),
            ("approvata", 1_500),
            ("segreto", 12_000),
        ]);
        catalogue
            .put_timeline("s1", &first, &first, AgendaSource::Transcript, &[])
            .await
            .unwrap();
        assert_eq!(found("approvato").await, 1, "stemmed");
        assert_eq!(found("segreto").await, 0, "closed range");
        let corrected = timeline(&[("mozione", 1_000), ("respinta", 1_500)]);
        catalogue
            .put_timeline("s1", &first, &corrected, AgendaSource::Transcript, &[])
            .await
            .unwrap();
        assert_eq!(found("approvata").await, 0);
        assert_eq!(found("respinta").await, 1);
        assert!(unindexed(&catalogue).await.unwrap().is_empty());
        catalogue.import(&session, dir.path(), true).await.unwrap();
        assert_eq!(found("mozione").await, 0, "imported again: no timeline yet");
    }

    #[test]
    fn stems_meet_across_inflections_and_accents() {
        assert_eq!(stem("approvata"), stem("approvato"));
        assert_eq!(stem("bilanci"), stem("bilancio"));
        assert_eq!(stem("Città"), stem("citta"));
        assert_eq!(stem("votazione"), stem("votazioni"));
        assert_eq!(stem("per"), "per");
    }

    #[test]
    fn queries_are_quoted_and_stemmed() {
        assert_eq!(
            fts_query("Bilancio approvato").unwrap(),
            "stems : (\"bilanc\"* AND \"approv\"*)"
        );
        // FTS5 syntax in a query is only ever a quoted word.
        assert_eq!(fts_query("\" OR *").unwrap(), "stems : (\"or\"*)");
        assert_eq!(fts_query("\" * :"), None);
    }
}
