//! The catalogue: imported sessions in SQL (SQLite by default; portable SQL so that PostgreSQL works
//! the same through sqlx's `Any` driver). Every change is one transaction.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use session::{
    AgendaItem, AgendaMarker, ClosedRange, ErrorKind, FloorEvent, Person, Session, SessionId,
    SessionMs, Source, Vote, VoteCounts,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

mod alerts;
mod clips;
mod deliveries;
mod jobs;
mod progress;
mod reviews;
mod search;
#[cfg(test)]
pub(crate) mod testing;
mod timeline;
mod tokens;
mod users;
mod workers;

pub use alerts::{AlertSession, Subscription};
pub use clips::ClipRecord;
pub use deliveries::{Attempt, Outcome as DeliveryOutcome};
pub use jobs::{Job, JobKind, JobState, Lease, NewJob, Submission};
pub use progress::Progress;
pub use reviews::ItemReview;
pub use timeline::{NewRevision, Revision, StoredTimeline};
pub use tokens::Role;
pub use users::{UserRecord, WebSessionRecord};
pub use workers::WorkerRecord;

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("catalogue migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalogue query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("session {0:?} is already in the catalogue")]
    AlreadyExists(String),
    #[error("no session {0:?} in the catalogue")]
    NotFound(String),
    #[error("{what} is before the session's start ({start})")]
    BeforeStart { what: String, start: String },
    #[error("session {0:?} has no transcript yet (run aula session transcribe {0})")]
    NoTranscript(String),
    #[error("session {0:?} has not been aligned yet (run aula session align {0})")]
    NotAligned(String),
    #[error("session {0:?} was corrected by someone else meanwhile; read it again and retry")]
    Conflict(String),
    /// A job that may run only once at a time is queued or running already.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    ClosedPart(String),
    #[error("catalogue column {table}.{column} cannot be read: {source}")]
    Column {
        table: &'static str,
        column: &'static str,
        source: sqlx::Error,
    },
    #[error(
        "tokens and accounts are for clerk, press or admin (the public needs none), not public"
    )]
    PublicToken,
    #[error("there is already a user {0:?}")]
    UserExists(String),
    #[error("no user {0:?} (see aula user list)")]
    NoUser(String),
    #[error("catalogue holds a bad value in {table}.{column}: {value:?}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        value: String,
    },
}

impl CatalogueError {
    /// An unknown id is not found; a taken one, or a closed part open already, a conflict; a
    /// step asked for too early, the caller's; the database failing, the system's.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CatalogueError::NotFound(_) | CatalogueError::NoUser(_) => ErrorKind::NotFound,
            CatalogueError::AlreadyExists(_)
            | CatalogueError::UserExists(_)
            | CatalogueError::Conflict(_)
            | CatalogueError::Busy(_)
            | CatalogueError::ClosedPart(_) => ErrorKind::Conflict,
            CatalogueError::BeforeStart { .. }
            | CatalogueError::NoTranscript(_)
            | CatalogueError::NotAligned(_)
            | CatalogueError::PublicToken => ErrorKind::BadInput,
            _ => ErrorKind::Internal,
        }
    }
}

type Result<T, E = CatalogueError> = std::result::Result<T, E>;

/// One line of `aula session list`.
#[derive(Clone, Debug, Serialize)]
pub struct SessionSummary {
    pub id: SessionId,
    pub body: String,
    pub title: String,
    pub start: DateTime<Utc>,
    pub mode: String,
    pub language: String,
}

/// A session as stored, with the folder its relative source paths are resolved against.
#[derive(Clone, Debug)]
pub struct StoredSession {
    pub session: Session,
    pub base_dir: PathBuf,
}

#[derive(Clone)]
pub struct Catalogue {
    pool: AnyPool,
    /// The transcript search index this catalogue keeps, when it can keep one.
    index: Option<search::Index>,
    /// PostgreSQL (else SQLite): where the SQL must differ.
    postgres: bool,
}

/// A write first, so that a transaction that reads then writes holds the write lock before it
/// reads: SQLite otherwise refuses its upgrade at once ("database is locked", whatever the busy
/// timeout) when another connection wrote meanwhile; PostgreSQL locks the session's row, so two
/// writers numbering the same session's rows take turns.
async fn hold_for_writing(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET title = title WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pools opened by [`Catalogue::open`] in this process.
static POOLS_OPENED: AtomicU64 = AtomicU64::new(0);

impl Catalogue {
    /// Opens (creating when needed) the catalogue at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Catalogue> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(|source| CatalogueError::Open {
                url: url.to_owned(),
                source,
            })?;
        POOLS_OPENED.fetch_add(1, Ordering::Relaxed);
        MIGRATOR.run(&pool).await?;
        let index = match search::ensure_index(&pool, url).await {
            Ok(index) => Some(index),
            Err(e) => {
                tracing::warn!("the catalogue keeps no transcript search: {e}");
                None
            }
        };
        Ok(Catalogue {
            pool,
            index,
            postgres: url.starts_with("postgres"),
        })
    }

    /// Whether this catalogue keeps the transcript search index (SQLite's FTS5, PostgreSQL's text
    /// search).
    pub fn searchable(&self) -> bool {
        self.index.is_some()
    }

    /// How many catalogue pools this process has opened (one for `aula serve`, whatever it runs).
    pub fn pools_opened() -> u64 {
        POOLS_OPENED.load(Ordering::Relaxed)
    }

    /// Whether the catalogue answers a trivial query (the health check).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The URL of the embedded SQLite catalogue in a data directory.
    pub fn sqlite_url(home: &Path) -> String {
        format!("sqlite://{}?mode=rwc", home.join("aula.db").display())
    }

    /// Stores a validated session in one transaction; refuses an existing id unless `replace`.
    /// Returns whether a session was replaced.
    pub async fn import(&self, session: &Session, base_dir: &Path, replace: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        hold_for_writing(&mut tx, session.id.as_str()).await?;
        let exists = sqlx::query("SELECT id FROM sessions WHERE id = $1")
            .bind(session.id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            if !replace {
                return Err(CatalogueError::AlreadyExists(session.id.to_string()));
            }
            delete_rows(&mut tx, &session.id).await?;
        }
        sqlx::query(
            "INSERT INTO sessions (id, body, title, start_at, mode, language, base_dir, imported_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session.id.as_str())
        .bind(&session.body)
        .bind(&session.title)
        .bind(timestamp(session.start))
        .bind(session.mode.as_str())
        .bind(&session.language)
        .bind(base_dir.to_string_lossy().into_owned())
        .bind(timestamp(Utc::now()))
        .execute(&mut *tx)
        .await?;
        for (ord, p) in session.roster.iter().enumerate() {
            sqlx::query(
                "INSERT INTO persons (session_id, ord, id, name, role, group_name, seat)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.id.as_str())
            .bind(ord as i64)
            .bind(&p.id)
            .bind(&p.name)
            .bind(p.role.as_str())
            .bind(p.group.clone())
            .bind(p.seat.map(i64::from))
            .execute(&mut *tx)
            .await?;
        }
        for (ord, s) in session.sources.iter().enumerate() {
            sqlx::query(
                "INSERT INTO sources (session_id, ord, id, kind, uri, person_id, channel_seats)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(session.id.as_str())
            .bind(ord as i64)
            .bind(&s.id)
            .bind(s.kind.as_str())
            .bind(&s.uri)
            .bind(s.person.clone())
            .bind((!s.channel_seats.is_empty()).then(|| {
                s.channel_seats
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }))
            .execute(&mut *tx)
            .await?;
        }
        for (ord, a) in session.agenda.iter().enumerate() {
            sqlx::query(
                "INSERT INTO agenda_items (session_id, ord, number, title, kind, act_ref, rapporteur,
                                           proposer_group)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(session.id.as_str())
            .bind(ord as i64)
            .bind(i64::from(a.number))
            .bind(&a.title)
            .bind(a.kind.as_str())
            .bind(a.act.clone())
            .bind(a.rapporteur.clone())
            .bind(a.proposer_group.clone())
            .execute(&mut *tx)
            .await?;
        }
        let clock = session.clock();
        for (ord, v) in session.votes.iter().enumerate() {
            let at_ms = clock
                .to_session(v.at)
                .ok_or_else(|| CatalogueError::BeforeStart {
                    what: format!("vote {ord} ({})", timestamp(v.at)),
                    start: timestamp(session.start),
                })?;
            sqlx::query(
                "INSERT INTO votes (session_id, ord, item, at_ms, subject, result, favour, against,
                                    abstained, ballots)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(session.id.as_str())
            .bind(ord as i64)
            .bind(i64::from(v.item))
            .bind(at_ms.0 as i64)
            .bind(&v.subject)
            .bind(v.result.as_str())
            .bind(i64::from(v.counts.favour))
            .bind(i64::from(v.counts.against))
            .bind(i64::from(v.counts.abstained))
            .bind(json_text(&v.ballots))
            .execute(&mut *tx)
            .await?;
        }
        for (ord, r) in session.closed_ranges.iter().enumerate() {
            sqlx::query(
                "INSERT INTO closed_ranges (session_id, ord, start_ms, end_ms, reason)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(session.id.as_str())
            .bind(ord as i64)
            .bind(r.start_ms.0 as i64)
            .bind(r.end_ms.0.min(ClosedRange::OPEN_END.0) as i64)
            .bind(r.reason.clone())
            .execute(&mut *tx)
            .await?;
        }
        // validate() guarantees every event and marker is at or after the start.
        insert_evidence(
            &mut tx,
            session,
            0,
            &session.floor_events,
            &session.agenda_markers,
        )
        .await?;
        // A replaced session has no timeline any more: its lines leave the search.
        self.refresh_index(&mut tx, &session.id).await?;
        tx.commit().await?;
        Ok(exists)
    }

    /// Appends floor events and agenda markers (as the conference system and the clerk's console
    /// send them) to a session; they are kept as sent, bad ones are reported by the alignment.
    /// Returns how many of each the session now has.
    pub async fn add_evidence(
        &self,
        id: &str,
        floor_events: &[FloorEvent],
        markers: &[AgendaMarker],
    ) -> Result<(usize, usize)> {
        let session = self.get(id).await?.session;
        let mut tx = self.pool.begin().await?;
        hold_for_writing(&mut tx, id).await?;
        let next = |table: &str| format!("SELECT COUNT(*) AS n FROM {table} WHERE session_id = $1");
        let events_before: i64 = sqlx::query(&next("floor_events"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        let markers_before: i64 = sqlx::query(&next("agenda_markers"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        insert_evidence(&mut tx, &session, events_before, floor_events, &[]).await?;
        insert_evidence(&mut tx, &session, markers_before, &[], markers).await?;
        tx.commit().await?;
        Ok((
            events_before as usize + floor_events.len(),
            markers_before as usize + markers.len(),
        ))
    }

    pub async fn list(&self) -> Result<Vec<SessionSummary>> {
        let rows = sqlx::query(
            "SELECT id, body, title, start_at, mode, language FROM sessions ORDER BY start_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionSummary {
                    id: stored_id(row.try_get("id")?)?,
                    body: row.try_get("body")?,
                    title: row.try_get("title")?,
                    start: parse_time(row.try_get("start_at")?)?,
                    mode: row.try_get("mode")?,
                    language: row.try_get("language")?,
                })
            })
            .collect()
    }

    pub async fn get(&self, id: &str) -> Result<StoredSession> {
        let mut conn = self.pool.acquire().await?;
        read_session(&mut conn, id).await
    }

    /// Declares a closed part (seduta segreta) starting at `start`, open until [`Self::end_closed`]:
    /// refused while another is open or when `start` lies in a closed part already.
    pub async fn open_closed(&self, id: &str, start: SessionMs) -> Result<ClosedRange> {
        let session = self.get(id).await?.session;
        if let Some(open) = session.closed_ranges.iter().find(|r| r.is_open()) {
            return Err(CatalogueError::ClosedPart(format!(
                "a closed part is open already, since {}",
                open.start_ms
            )));
        }
        if session.closed_ranges.iter().any(|r| r.bounds().1 > start) {
            return Err(CatalogueError::ClosedPart(format!(
                "{start} is not after the closed parts already declared"
            )));
        }
        let range = ClosedRange {
            start_ms: start,
            end_ms: ClosedRange::OPEN_END,
            reason: None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO closed_ranges (session_id, ord, start_ms, end_ms, reason)
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(id)
        .bind(session.closed_ranges.len() as i64)
        .bind(start.0 as i64)
        .bind(ClosedRange::OPEN_END.0 as i64)
        .execute(&mut *tx)
        .await?;
        self.refresh_index(&mut tx, id).await?;
        tx.commit().await?;
        Ok(range)
    }

    /// Ends the open closed part at `end`; refused when none is open or `end` is not after its start.
    pub async fn end_closed(&self, id: &str, end: SessionMs) -> Result<ClosedRange> {
        let session = self.get(id).await?.session;
        let Some(open) = session.closed_ranges.iter().find(|r| r.is_open()) else {
            return Err(CatalogueError::ClosedPart(
                "no closed part is open to end".to_owned(),
            ));
        };
        if end <= open.start_ms {
            return Err(CatalogueError::ClosedPart(format!(
                "the end {end} is not after the closed part's start {}",
                open.start_ms
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE closed_ranges SET end_ms = $3 WHERE session_id = $1 AND start_ms = $2")
            .bind(id)
            .bind(open.start_ms.0 as i64)
            .bind(end.0 as i64)
            .execute(&mut *tx)
            .await?;
        self.refresh_index(&mut tx, id).await?;
        tx.commit().await?;
        Ok(ClosedRange {
            end_ms: end,
            ..open.clone()
        })
    }

    /// Removes a session's rows; `NotFound` when there is none.
    pub async fn delete(&self, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !delete_rows(&mut tx, id).await? {
            return Err(CatalogueError::NotFound(id.to_owned()));
        }
        self.refresh_index(&mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A session as stored, read on `conn` (a transaction sees its own writes).
async fn read_session(conn: &mut AnyConnection, id: &str) -> Result<StoredSession> {
    let row = sqlx::query(
        "SELECT id, body, title, start_at, mode, language, base_dir FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| CatalogueError::NotFound(id.to_owned()))?;
    let start = parse_time(row.try_get("start_at")?)?;
    let mut session = Session {
        id: stored_id(row.try_get("id")?)?,
        body: row.try_get("body")?,
        title: row.try_get("title")?,
        start,
        mode: parse_enum("sessions", "mode", row.try_get("mode")?)?,
        language: row.try_get("language")?,
        sources: Vec::new(),
        roster: Vec::new(),
        agenda: Vec::new(),
        closed_ranges: Vec::new(),
        floor_events: Vec::new(),
        agenda_markers: Vec::new(),
        votes: Vec::new(),
    };
    let base_dir = PathBuf::from(row.try_get::<String, _>("base_dir")?);
    for row in rows(
        &mut *conn,
        "SELECT id, name, role, group_name, seat FROM persons",
        id,
    )
    .await?
    {
        session.roster.push(Person {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: parse_enum("persons", "role", row.try_get("role")?)?,
            group: row.try_get("group_name")?,
            seat: small(row.try_get("seat")?, "persons", "seat")?,
        });
    }
    for row in rows(
        &mut *conn,
        "SELECT id, kind, uri, person_id, channel_seats FROM sources",
        id,
    )
    .await?
    {
        let seats: Option<String> = row.try_get("channel_seats")?;
        session.sources.push(Source {
            id: row.try_get("id")?,
            kind: parse_enum("sources", "kind", row.try_get("kind")?)?,
            uri: row.try_get("uri")?,
            person: row.try_get("person_id")?,
            channel_seats: seats
                .iter()
                .flat_map(|s| s.split(','))
                .map(|seat| {
                    seat.parse().map_err(|_| CatalogueError::Corrupt {
                        table: "sources",
                        column: "channel_seats",
                        value: seat.to_owned(),
                    })
                })
                .collect::<Result<_>>()?,
        });
    }
    let query = "SELECT number, title, kind, act_ref, rapporteur, proposer_group FROM agenda_items";
    for row in rows(&mut *conn, query, id).await? {
        session.agenda.push(AgendaItem {
            number: number(row.try_get("number")?, "agenda_items", "number")?,
            title: row.try_get("title")?,
            kind: parse_enum("agenda_items", "kind", row.try_get("kind")?)?,
            act: row.try_get("act_ref")?,
            rapporteur: row.try_get("rapporteur")?,
            proposer_group: row.try_get("proposer_group")?,
        });
    }
    let query = "SELECT start_ms, end_ms, reason FROM closed_ranges";
    for row in rows(&mut *conn, query, id).await? {
        session.closed_ranges.push(ClosedRange {
            start_ms: ms(row.try_get("start_ms")?, "closed_ranges", "start_ms")?,
            end_ms: ms(row.try_get("end_ms")?, "closed_ranges", "end_ms")?,
            reason: row.try_get("reason")?,
        });
    }
    let clock = session.clock();
    let query = "SELECT at_ms, seat, person_id, action FROM floor_events";
    for row in rows(&mut *conn, query, id).await? {
        session.floor_events.push(FloorEvent {
            at: clock.to_wall(ms(row.try_get("at_ms")?, "floor_events", "at_ms")?),
            seat: small(row.try_get("seat")?, "floor_events", "seat")?,
            person: row.try_get("person_id")?,
            action: parse_enum("floor_events", "action", row.try_get("action")?)?,
        });
    }
    for row in rows(&mut *conn, "SELECT at_ms, item FROM agenda_markers", id).await? {
        session.agenda_markers.push(AgendaMarker {
            at: clock.to_wall(ms(row.try_get("at_ms")?, "agenda_markers", "at_ms")?),
            item: number(row.try_get("item")?, "agenda_markers", "item")?,
        });
    }
    let query =
        "SELECT item, at_ms, subject, result, favour, against, abstained, ballots FROM votes";
    for row in rows(&mut *conn, query, id).await? {
        let count = |column| number(row.try_get(column)?, "votes", column);
        session.votes.push(Vote {
            item: number(row.try_get("item")?, "votes", "item")?,
            at: clock.to_wall(ms(row.try_get("at_ms")?, "votes", "at_ms")?),
            subject: row.try_get("subject")?,
            result: parse_enum("votes", "result", row.try_get("result")?)?,
            counts: VoteCounts {
                favour: count("favour")?,
                against: count("against")?,
                abstained: count("abstained")?,
            },
            ballots: json_column(&row, "votes", "ballots")?,
        });
    }
    Ok(StoredSession { session, base_dir })
}

/// The rows of one session's child table, in document order.
async fn rows(conn: &mut AnyConnection, select_from: &str, id: &str) -> Result<Vec<AnyRow>> {
    let sql = format!("{select_from} WHERE session_id = $1 ORDER BY ord");
    Ok(sqlx::query(&sql).bind(id).fetch_all(conn).await?)
}

/// A column of a row, typed; the error names the column.
fn column<'r, T>(row: &'r AnyRow, table: &'static str, column: &'static str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column)
        .map_err(|source| CatalogueError::Column {
            table,
            column,
            source,
        })
}

fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

fn json_column<T: DeserializeOwned>(
    row: &AnyRow,
    table: &'static str,
    column: &'static str,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| CatalogueError::Corrupt {
        table,
        column,
        value: text.chars().take(80).collect(),
    })
}

/// Inserts floor events and markers with `ord` from `first_ord` on. Events before the session's
/// start are refused: session time is never negative.
async fn insert_evidence(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session: &Session,
    first_ord: i64,
    floor_events: &[FloorEvent],
    markers: &[AgendaMarker],
) -> Result<()> {
    let clock = session.clock();
    let before_start = |what: String| CatalogueError::BeforeStart {
        what,
        start: timestamp(session.start),
    };
    for (k, e) in floor_events.iter().enumerate() {
        let at_ms = clock
            .to_session(e.at)
            .ok_or_else(|| before_start(format!("floor event {k} ({})", timestamp(e.at))))?;
        sqlx::query(
            "INSERT INTO floor_events (session_id, ord, at_ms, seat, person_id, action)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.id.as_str())
        .bind(first_ord + k as i64)
        .bind(at_ms.0 as i64)
        .bind(e.seat.map(i64::from))
        .bind(e.person.clone())
        .bind(e.action.as_str())
        .execute(&mut **tx)
        .await?;
    }
    for (k, m) in markers.iter().enumerate() {
        let at_ms = clock
            .to_session(m.at)
            .ok_or_else(|| before_start(format!("agenda marker {k} ({})", timestamp(m.at))))?;
        sqlx::query(
            "INSERT INTO agenda_markers (session_id, ord, at_ms, item) VALUES ($1, $2, $3, $4)",
        )
        .bind(session.id.as_str())
        .bind(first_ord + k as i64)
        .bind(at_ms.0 as i64)
        .bind(i64::from(m.item))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Deletes a session and its child rows inside `tx`; false when there was no such session.
async fn delete_rows(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: &str) -> Result<bool> {
    for table in [
        "clips",
        "revisions",
        "timelines",
        "transcripts",
        "persons",
        "sources",
        "agenda_items",
        "closed_ranges",
        "floor_events",
        "agenda_markers",
        "votes",
        "item_reviews",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE session_id = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_time(text: String) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| CatalogueError::Corrupt {
            table: "sessions",
            column: "start_at",
            value: text,
        })
}

fn parse_enum<T: DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    value: String,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(value.clone())).map_err(|_| {
        CatalogueError::Corrupt {
            table,
            column,
            value,
        }
    })
}

fn number(value: i64, table: &'static str, column: &'static str) -> Result<u32> {
    u32::try_from(value).map_err(|_| CatalogueError::Corrupt {
        table,
        column,
        value: value.to_string(),
    })
}

fn small(value: Option<i64>, table: &'static str, column: &'static str) -> Result<Option<u32>> {
    value.map(|v| number(v, table, column)).transpose()
}

/// A session id read back from the catalogue (checked again: the catalogue may predate the check).
fn stored_id(text: String) -> Result<SessionId> {
    SessionId::parse(&text).map_err(|_| CatalogueError::Corrupt {
        table: "sessions",
        column: "id",
        value: text.chars().take(80).collect(),
    })
}

fn ms(value: i64, table: &'static str, column: &'static str) -> Result<SessionMs> {
    u64::try_from(value)
        .map(SessionMs)
        .map_err(|_| CatalogueError::Corrupt {
            table,
            column,
            value: value.to_string(),
        })
}
