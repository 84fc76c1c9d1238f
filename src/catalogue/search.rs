//! The transcript search index: rows of every session's public lines (the pure `crate::search`
//! makes them) with their speaker, group and agenda item for the filters, accent-insensitive,
//! written in the transaction of the change. On SQLite an FTS5 table over Snowball stems; on
//! PostgreSQL a generated `tsvector` (the `italian` or `english` configuration with `unaccent`)
//! with a GIN index, queried with `websearch_to_tsquery`.

use session::Timeline;
use sqlx::AnyConnection;
use sqlx::Row;

use super::{json_column, ms, read_session, Catalogue, CatalogueError, Result};
use crate::search::{
    fragments, fragments_of_marked, fts_query, public_lines, stems, word_similarity, Filters,
    Fragment, Hit, MARK_END, MARK_START, NAME_SIMILARITY,
};

/// Which index a catalogue keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Index {
    Fts5,
    Postgres,
}

/// Creates the index (SQLite with FTS5, or PostgreSQL with `unaccent`); the lines of an older
/// SQLite index without the speaker and the item (`search_lines`) go, and `index_unindexed`
/// writes them again.
pub(super) async fn ensure_index(pool: &sqlx::AnyPool, url: &str) -> Result<Index, sqlx::Error> {
    if url.starts_with("postgres") {
        for sql in POSTGRES_INDEX {
            sqlx::query(sql).execute(pool).await?;
        }
        return Ok(Index::Postgres);
    }
    sqlx::query("DROP TABLE IF EXISTS search_lines")
        .execute(pool)
        .await?;
    sqlx::query(
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_passages USING fts5(\
         session_id UNINDEXED, start_ms UNINDEXED, person UNINDEXED, speaker UNINDEXED, \
         grp UNINDEXED, item UNINDEXED, item_title UNINDEXED, kind UNINDEXED, text, stems, \
         tokenize = 'unicode61 remove_diacritics 2')",
    )
    .execute(pool)
    .await?;
    Ok(Index::Fts5)
}

/// PostgreSQL's index: text search configurations that fold accents before stemming, and the
/// table with a generated `tsvector` in the session's language.
const POSTGRES_INDEX: [&str; 6] = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'aula_italian') THEN
         CREATE TEXT SEARCH CONFIGURATION aula_italian (COPY = pg_catalog.italian);
         ALTER TEXT SEARCH CONFIGURATION aula_italian
           ALTER MAPPING FOR hword, hword_part, word WITH unaccent, italian_stem;
       END IF;
       IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'aula_english') THEN
         CREATE TEXT SEARCH CONFIGURATION aula_english (COPY = pg_catalog.english);
         ALTER TEXT SEARCH CONFIGURATION aula_english
           ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
       END IF;
     END $$",
    "CREATE TABLE IF NOT EXISTS search_passages (
       session_id TEXT NOT NULL, start_ms BIGINT NOT NULL, person TEXT, speaker TEXT, grp TEXT,
       item BIGINT, item_title TEXT, kind TEXT, text TEXT NOT NULL, stems TEXT NOT NULL,
       english BOOLEAN NOT NULL,
       tsv tsvector GENERATED ALWAYS AS (CASE WHEN english
         THEN to_tsvector('aula_english'::regconfig, text)
         ELSE to_tsvector('aula_italian'::regconfig, text) END) STORED)",
    "CREATE INDEX IF NOT EXISTS search_passages_tsv ON search_passages USING GIN (tsv)",
    "CREATE INDEX IF NOT EXISTS search_passages_session ON search_passages (session_id)",
];

impl Catalogue {
    /// Replaces a session's lines with the public lines of `timeline`, on `conn` (the transaction
    /// that writes the timeline). The session's closed ranges are read there too.
    pub(super) async fn write_index(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        timeline: &Timeline,
    ) -> Result<()> {
        let Some(index) = self.index else {
            return Ok(());
        };
        // A write first: the transaction holds the database's write lock before it reads.
        sqlx::query("DELETE FROM search_passages WHERE session_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let session = read_session(&mut *conn, id).await?.session;
        let insert = match index {
            Index::Fts5 => {
                "INSERT INTO search_passages
                   (session_id, start_ms, person, speaker, grp, item, item_title, kind, text, stems)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            }
            Index::Postgres => {
                "INSERT INTO search_passages
                   (session_id, start_ms, person, speaker, grp, item, item_title, kind, text, stems,
                    english)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            }
        };
        let english = session.language.starts_with("en");
        for line in public_lines(&session, timeline) {
            let person = line.person.as_deref().and_then(|p| session.person(p));
            let item = timeline
                .item_at(session::SessionMs(line.start_ms))
                .and_then(|n| session.item(n));
            let query = sqlx::query(insert)
                .bind(id)
                .bind(line.start_ms as i64)
                .bind(person.map(|p| p.id.clone()))
                .bind(person.map(|p| p.name.clone()))
                .bind(person.and_then(|p| p.group.clone()))
                .bind(item.map(|i| i64::from(i.number)))
                .bind(item.map(|i| i.title.clone()))
                .bind(item.map(|i| i.kind.as_str().to_owned()))
                .bind(&line.text)
                .bind(stems(&line.text, &session.language));
            let query = match index {
                Index::Fts5 => query,
                Index::Postgres => query.bind(english),
            };
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Brings a session's lines in step with what `conn` holds: its timeline's public lines, none
    /// when the session or its timeline is gone.
    pub(super) async fn refresh_index(&self, conn: &mut AnyConnection, id: &str) -> Result<()> {
        if self.index.is_none() {
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
                sqlx::query("DELETE FROM search_passages WHERE session_id = $1")
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
        if self.index.is_none() {
            return Ok(0);
        }
        let ids = self.unindexed().await?;
        for id in &ids {
            let mut tx = self.pool.begin().await?;
            super::hold_for_writing(&mut tx, id).await?;
            self.refresh_index(&mut tx, id).await?;
            tx.commit().await?;
        }
        Ok(ids.len())
    }

    /// The sessions with a timeline and no line in the index.
    pub async fn unindexed(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT session_id FROM timelines
             WHERE session_id NOT IN (SELECT DISTINCT session_id FROM search_passages)
             ORDER BY session_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("session_id")?))
            .collect()
    }

    /// The public lines that match `q` (every word, stemmed; `"phrases"` in order) within
    /// `filters`, best first, at most `limit`.
    pub async fn search(&self, q: &str, filters: &Filters, limit: u32) -> Result<Vec<Hit>> {
        // The same words are looked for on both backends: none, no search.
        if fts_query(q).is_none() {
            return Ok(Vec::new());
        }
        self.hits(Some(q), filters, limit).await
    }

    /// The public lines within `filters` (which should narrow them), in the order they were
    /// said, the latest sessions first, at most `limit`.
    pub async fn passages(&self, filters: &Filters, limit: u32) -> Result<Vec<Hit>> {
        self.hits(None, filters, limit).await
    }

    async fn hits(&self, q: Option<&str>, filters: &Filters, limit: u32) -> Result<Vec<Hit>> {
        let query = match self.index {
            Some(Index::Postgres) => q.map(str::to_owned),
            _ => q.and_then(fts_query),
        };
        // FTS5 takes MATCH only as a condition of its own, never under an OR. PostgreSQL reads
        // the query (words, "phrases") in the row's language.
        const POSTGRES_QUERY: &str = "(CASE WHEN s.english \
             THEN websearch_to_tsquery('aula_english'::regconfig, $1) \
             ELSE websearch_to_tsquery('aula_italian'::regconfig, $1) END)";
        let rank = format!("ts_rank(s.tsv, {POSTGRES_QUERY}) DESC");
        // PostgreSQL marks the matches itself (`ts_headline`, the whole passage).
        let headline = format!(
            "ts_headline(CASE WHEN s.english THEN 'aula_english'::regconfig \
             ELSE 'aula_italian'::regconfig END, s.text, {POSTGRES_QUERY}, \
             'StartSel={MARK_START}, StopSel={MARK_END}, HighlightAll=true')"
        );
        let (matching, order, marked) = match (&query, self.index) {
            (Some(_), Some(Index::Postgres)) => {
                (format!("s.tsv @@ {POSTGRES_QUERY}"), rank, headline)
            }
            (Some(_), _) => (
                "search_passages MATCH $1".to_owned(),
                "rank".to_owned(),
                "s.text".to_owned(),
            ),
            (None, _) => (
                "CAST($1 AS TEXT) IS NULL".to_owned(),
                "x.start_at DESC, s.session_id, s.start_ms".to_owned(),
                "s.text".to_owned(),
            ),
        };
        let sql = format!(
            "SELECT s.session_id AS session_id, s.start_ms AS start_ms, s.text AS text,
                    s.person AS person, s.speaker AS speaker, s.item AS item,
                    s.item_title AS item_title, x.title AS title, x.start_at AS start_at,
                    {marked} AS marked
             FROM search_passages s JOIN sessions x ON x.id = s.session_id
             WHERE {matching}
               AND ($2 IS NULL OR s.person = $2) AND ($3 IS NULL OR s.grp = $3)
               AND ($4 IS NULL OR substr(x.start_at, 1, 10) >= $4)
               AND ($5 IS NULL OR substr(x.start_at, 1, 10) <= $5)
               AND ($6 IS NULL OR s.kind = $6) AND ($7 IS NULL OR s.session_id = $7)
             ORDER BY {order} LIMIT $8"
        );
        let rows = sqlx::query(&sql)
            .bind(query)
            .bind(filters.person.clone())
            .bind(filters.group.clone())
            .bind(filters.from.clone())
            .bind(filters.to.clone())
            .bind(filters.kind.clone())
            .bind(filters.session.clone())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let start_at: String = row.try_get("start_at")?;
                let text: String = row.try_get("text")?;
                let fragments = match (q, self.index) {
                    (Some(_), Some(Index::Postgres)) => {
                        fragments_of_marked(&row.try_get::<String, _>("marked")?)
                    }
                    (Some(q), _) => fragments(&text, q),
                    (None, _) => vec![Fragment {
                        text: text.clone(),
                        hit: false,
                    }],
                };
                Ok(Hit {
                    session: row.try_get("session_id")?,
                    title: row.try_get("title")?,
                    date: start_at.chars().take(10).collect(),
                    start_ms: ms(row.try_get("start_ms")?, "search_passages", "start_ms")?.0,
                    text,
                    fragments,
                    person: row.try_get("person")?,
                    speaker: row.try_get("speaker")?,
                    item: row
                        .try_get::<Option<i64>, _>("item")?
                        .and_then(|n| u32::try_from(n).ok()),
                    item_title: row.try_get("item_title")?,
                })
            })
            .collect::<Result<_, CatalogueError>>()
    }

    /// The councillors whose name `q` resembles (a misspelling, part of it, without accents),
    /// most alike first, at most `limit`: `(person id, name)`. PostgreSQL answers with
    /// `pg_trgm`'s `word_similarity`, SQLite with the same measure computed here.
    pub async fn people_like(&self, q: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let q = q.trim();
        if q.is_empty() || q.chars().count() > 100 {
            return Ok(Vec::new());
        }
        let mut scored: Vec<(f64, String, String)> = if self.postgres {
            sqlx::query(
                "SELECT id, name, MAX(word_similarity(unaccent(lower($1)), unaccent(lower(name))))
                          AS score
                 FROM persons GROUP BY id, name",
            )
            .bind(q)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<f32, _>("score")? as f64,
                    row.try_get("id")?,
                    row.try_get("name")?,
                ))
            })
            .collect::<Result<_, CatalogueError>>()?
        } else {
            sqlx::query("SELECT DISTINCT id, name FROM persons")
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    let name: String = row.try_get("name")?;
                    Ok((word_similarity(q, &name), row.try_get("id")?, name))
                })
                .collect::<Result<_, CatalogueError>>()?
        };
        scored.retain(|(score, ..)| *score >= NAME_SIMILARITY);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        scored.dedup_by(|a, b| a.1 == b.1);
        Ok(scored
            .into_iter()
            .take(limit)
            .map(|(_, id, name)| (id, name))
            .collect())
    }

    /// The speakers and groups found in the index, for a search form's choices: `(person id,
    /// name)` and group names, sorted.
    pub async fn search_choices(&self) -> Result<(Vec<(String, String)>, Vec<String>)> {
        let people = sqlx::query(
            "SELECT DISTINCT person, speaker FROM search_passages
             WHERE person IS NOT NULL ORDER BY speaker",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("person")?, row.try_get("speaker")?)))
        .collect::<Result<Vec<_>, CatalogueError>>()?;
        let groups = sqlx::query(
            "SELECT DISTINCT grp FROM search_passages WHERE grp IS NOT NULL ORDER BY grp",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok(row.try_get("grp")?))
        .collect::<Result<Vec<_>, CatalogueError>>()?;
        Ok((people, groups))
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
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let dir = tempfile::tempdir().unwrap();
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
                async move {
                    catalogue
                        .search(q, &Filters::default(), 10)
                        .await
                        .unwrap()
                        .len()
                }
            };
            let first = timeline(&[
                ("mozione", 1_000),
                ("approvata", 1_500),
                ("segreto", 12_000),
                ("bilancio", 30_000),
                ("città", 31_000),
            ]);
            catalogue
                .put_timeline("s1", &first, &first, AgendaSource::Transcript, &[])
                .await
                .unwrap();
            assert_eq!(found("approvato").await, 1, "stemmed");
            assert_eq!(found("segreto").await, 0, "closed range");
            assert_eq!(found("citta").await, 1, "accents folded");
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
    }

    fn only_session(id: &str) -> Filters {
        Filters {
            session: Some(id.to_owned()),
            ..Filters::default()
        }
    }

    /// A journalist's search: a stemmed word finds its inflections, a quoted phrase only those
    /// words in that order, and the filters narrow by speaker, group, day and item kind.
    #[tokio::test]
    async fn phrases_and_filters_narrow_the_search() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let dir = tempfile::tempdir().unwrap();
            for (id, day) in [("s1", "2024-03-15"), ("s2", "2024-05-20")] {
                let session = session::parse(
                &format!(
                    r#"{{"id":"{id}","body":"Consiglio","title":"Seduta","start":"{day}T17:00:00Z",
                    "mode":"in_person",
                    "roster":[{{"id":"rossi","name":"Anna Rossi","role":"councillor","group":"Lista Civica"}},
                              {{"id":"bianchi","name":"Luca Bianchi","role":"councillor","group":"Centro"}}],
                    "agenda":[{{"number":1,"title":"Bilancio","kind":"resolution"}},
                              {{"number":2,"title":"Scuole","kind":"question"}}]}}"#
                ),
                session::Format::Json,
            )
            .unwrap();
                catalogue.import(&session, dir.path(), false).await.unwrap();
                let word = |text: &str, at_ms: u64, person: &str| TimelineWord {
                    text: text.to_owned(),
                    start_ms: SessionMs(at_ms),
                    end_ms: SessionMs(at_ms + 400),
                    person: Some(person.to_owned()),
                    item: None,
                    confidence: 1.0,
                    asr_confidence: 1.0,
                    segment: 0,
                };
                let span = |number: u32, start_ms: u64, end_ms: u64| session::ItemSpan {
                    number,
                    title: String::new(),
                    start_ms: SessionMs(start_ms),
                    end_ms: SessionMs(end_ms),
                    confidence: 1.0,
                };
                let timeline = Timeline {
                    words: vec![
                        word("il", 1_000, "rossi"),
                        word("bilancio", 1_500, "rossi"),
                        word("approvato", 2_000, "rossi"),
                        word("le", 40_000, "bianchi"),
                        word("scuole", 40_500, "bianchi"),
                        word("approvate", 41_000, "bianchi"),
                        word("bilancio", 41_500, "bianchi"),
                    ],
                    items: vec![span(1, 0, 30_000), span(2, 30_000, 60_000)],
                    ..Timeline::default()
                };
                catalogue
                    .put_timeline(id, &timeline, &timeline, AgendaSource::Transcript, &[])
                    .await
                    .unwrap();
            }
            let found = |q: &'static str, filters: Filters| {
                let catalogue = catalogue.clone();
                async move {
                    let mut hits: Vec<String> = catalogue
                        .search(q, &filters, 10)
                        .await
                        .unwrap()
                        .iter()
                        .map(|h| {
                            format!(
                                "{} {} {}",
                                h.session,
                                h.speaker.clone().unwrap(),
                                h.item.unwrap()
                            )
                        })
                        .collect();
                    hits.sort();
                    hits
                }
            };
            assert_eq!(
                found("approvata", Filters::default()).await.len(),
                4,
                "stemmed"
            );
            // The inflected word that matched is the one marked, on both backends.
            let hit = &catalogue
                .search("approvata", &only_session("s1"), 10)
                .await
                .unwrap()[0];
            let marked: Vec<(&str, bool)> = hit
                .fragments
                .iter()
                .map(|f| (f.text.trim(), f.hit))
                .collect();
            assert!(
                marked.contains(&("approvato", true)) && marked.contains(&("il bilancio", false)),
                "{marked:?}"
            );
            assert_eq!(
                found("\"bilancio approvato\"", Filters::default()).await,
                ["s1 Anna Rossi 1", "s2 Anna Rossi 1"],
                "the phrase, not its words apart"
            );
            let only = |f: fn(&mut Filters)| {
                let mut filters = Filters::default();
                f(&mut filters);
                filters
            };
            assert_eq!(
                found("bilancio", only(|f| f.person = Some("bianchi".into()))).await,
                ["s1 Luca Bianchi 2", "s2 Luca Bianchi 2"]
            );
            assert_eq!(
                found("bilancio", only(|f| f.group = Some("Lista Civica".into()))).await,
                ["s1 Anna Rossi 1", "s2 Anna Rossi 1"]
            );
            assert_eq!(
                found("bilancio", only(|f| f.from = Some("2024-04-01".into()))).await,
                ["s2 Anna Rossi 1", "s2 Luca Bianchi 2"]
            );
            assert_eq!(
                found("bilancio", only(|f| f.to = Some("2024-03-15".into()))).await,
                ["s1 Anna Rossi 1", "s1 Luca Bianchi 2"]
            );
            assert_eq!(
                found("bilancio", only(|f| f.kind = Some("question".into()))).await,
                ["s1 Luca Bianchi 2", "s2 Luca Bianchi 2"]
            );
            assert_eq!(
                found("bilancio", only(|f| f.session = Some("s2".into()))).await,
                ["s2 Anna Rossi 1", "s2 Luca Bianchi 2"]
            );
            let said: Vec<(String, u64)> = catalogue
                .passages(&only(|f| f.person = Some("bianchi".into())), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.session, h.start_ms))
                .collect();
            assert_eq!(said, [("s2".into(), 40_000), ("s1".into(), 40_000)]);
            let (people, groups) = catalogue.search_choices().await.unwrap();
            assert_eq!(people[0], ("rossi".to_owned(), "Anna Rossi".to_owned()));
            let named = |q: &'static str| {
                let catalogue = catalogue.clone();
                async move { catalogue.people_like(q, 5).await.unwrap() }
            };
            assert_eq!(named("rosi").await, [("rossi".into(), "Anna Rossi".into())]);
            assert_eq!(
                named("bianki").await,
                [("bianchi".into(), "Luca Bianchi".into())]
            );
            assert!(named("bilancio").await.is_empty());
            assert_eq!(groups, ["Centro", "Lista Civica"]);
        }
    }

    /// The index rows are written by the timeline's own transaction: when they cannot be written,
    /// the timeline stays as it was.
    #[tokio::test]
    async fn a_timeline_is_not_stored_without_its_lines() {
        for crate::catalogue::testing::Backend {
            name, catalogue, ..
        } in crate::catalogue::testing::backends().await
        {
            eprintln!("on {name}");
            let dir = tempfile::tempdir().unwrap();
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
            sqlx::query("DROP TABLE search_passages")
                .execute(&catalogue.pool)
                .await
                .unwrap();
            let second = timeline(&[("bilancio", 1_000)]);
            let err = catalogue
                .put_timeline("s1", &first, &second, AgendaSource::Transcript, &[])
                .await
                .unwrap_err();
            assert!(err.to_string().contains("search_passages"), "{err}");
            let stored = catalogue.timeline("s1").await.unwrap().timeline;
            assert_eq!(stored.words[0].text, "mozione");
        }
    }
}
