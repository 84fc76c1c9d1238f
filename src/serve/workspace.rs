//! The workspace of the press office, the clerk and the presidency's staff: the sessions board
//! (every session's stage, clips and failed jobs, with a retry) and a session's live control
//! room, rendered on the server.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::json;
use session::SessionId;

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::jobs::role_for;
use super::pages::{clip_presets, render, segment, Lang, PageQuery};
use super::AppState;
use crate::catalogue::JobKind;
use crate::ops::board::{self, Failure, Stage};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace", get(board_page))
        .route("/workspace/jobs/{id}/retry", post(retry))
        .route("/workspace/sessions/{id}/live", get(control_page))
        .route("/workspace/sessions/{id}/clips", get(clips_page))
}

/// The answer for a caller who may not open the page: a signed-out visitor is sent to sign in
/// and brought back to `back`; a signed-in one below `role` is refused. None: the caller may.
pub(super) fn refusal(caller: &Caller, role: Role, back: &str) -> Option<Response> {
    if caller.role == Role::Public {
        let to = format!("/signin?next={}", segment(back));
        return Some(Redirect::to(&to).into_response());
    }
    caller.require(role).err().map(IntoResponse::into_response)
}

/// A session as a workspace page opens it: as stored, and its timeline (empty until aligned).
pub(super) async fn opened(
    state: &AppState,
    id: &SessionId,
) -> Result<(crate::catalogue::StoredSession, session::Timeline), ApiError> {
    let stored = state.catalogue.get(id).await?;
    let timeline = state
        .catalogue
        .timeline(id)
        .await
        .map(|t| t.timeline)
        .unwrap_or_default();
    Ok((stored, timeline))
}

/// The name of the roster member `person`; none for an unknown speaker.
pub(super) fn person_name(session: &session::Session, person: &Option<String>) -> Option<String> {
    person
        .as_deref()
        .and_then(|p| session.person(p))
        .map(|p| p.name.clone())
}

#[derive(Serialize)]
struct BoardLine {
    id: String,
    title: String,
    body: String,
    date: String,
    stage: Stage,
    clips: u64,
    published_clips: u64,
    failures: Vec<Failure>,
}

fn stage_name(stage: Stage, lang: Lang) -> &'static str {
    let (it, en) = match stage {
        Stage::Scheduled => ("in programma", "scheduled"),
        Stage::Live => ("in diretta", "live"),
        Stage::Recorded => ("registrata", "recorded"),
        Stage::Transcribed => ("trascritta", "transcribed"),
        Stage::Aligned => ("attribuita", "aligned"),
        Stage::Reviewed => ("rivista", "reviewed"),
        Stage::Published => ("pubblicata", "published"),
        Stage::Delivered => ("consegnata", "delivered"),
    };
    lang.pick(it, en)
}

fn kind_name(kind: JobKind, lang: Lang) -> &'static str {
    let (it, en) = match kind {
        JobKind::Clip => ("clip", "clip"),
        JobKind::Publish => ("pubblicazione", "publishing"),
        JobKind::Transcribe => ("trascrizione", "transcription"),
        JobKind::Align => ("attribuzione", "alignment"),
        JobKind::Deliver => ("consegna", "delivery"),
        JobKind::Record => ("registrazione", "recording"),
    };
    lang.pick(it, en)
}

async fn board_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    // Every signed-in member of staff, whatever the role.
    if let Some(refused) = refusal(&caller, Role::Public, "/workspace") {
        return Ok(refused);
    }
    let rows = board::board(&state.catalogue, &state.config).await?;
    let sessions: Vec<_> = rows
        .into_iter()
        .map(|r| BoardLine {
            id: r.id.to_string(),
            title: r.title,
            body: r.body,
            date: r.start.format("%Y-%m-%d %H:%M").to_string(),
            stage: r.stage,
            clips: r.clips,
            published_clips: r.published_clips,
            failures: r.failures,
        })
        .collect();
    let stage_names: serde_json::Map<_, _> = Stage::ALL
        .iter()
        .map(|s| (stage_key(*s), json!(stage_name(*s, lang))))
        .collect();
    let kind_names: serde_json::Map<_, _> = JobKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), json!(kind_name(*k, lang))))
        .collect();
    let html: Html<String> = render(
        "board.html",
        lang,
        json!({ "sessions": sessions, "stage_names": stage_names, "kind_names": kind_names }),
    )?;
    Ok(html.into_response())
}

fn stage_key(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The live control room of a session (clerk): start and stop, sources, program, actions, log.
async fn control_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let back = format!("/workspace/sessions/{id}/live");
    if let Some(refused) = refusal(&caller, role_for(JobKind::Record), &back) {
        return Ok(refused);
    }
    let session = state.catalogue.get(&id).await?.session;
    let pick = |it, en| lang.pick(it, en);
    let text = json!({
        "stopped": pick("nessuna registrazione", "not recording"),
        "failed": pick("Non riuscito:", "Failed:"),
        "floor": pick("Ha la parola:", "Has the floor:"),
        "states": {
            "queued": pick("in avvio", "starting"),
            "running": pick("in registrazione", "recording"),
            "done": pick("registrata e unita", "recorded and joined"),
            "failed": pick("non riuscita", "failed"),
            "cancelled": pick("fermata prima di iniziare", "stopped before it began"),
        },
        "sources": {
            "connecting": pick("in connessione", "connecting"),
            "live": pick("in diretta", "live"),
            "lost": pick("persa", "lost"),
            "ended": pick("terminata", "ended"),
            "refused": pick("rifiutata", "refused"),
        },
        "log": {
            "item": pick("Punto:", "Item:"),
            "floor": pick("Parola:", "Floor:"),
            "closed_start": pick("Inizio seduta segreta", "Closed session starts"),
            "closed_end": pick("Fine seduta segreta", "Closed session ends"),
        },
    });
    let agenda: Vec<_> = session
        .agenda
        .iter()
        .map(|i| json!({ "number": i.number, "title": i.title }))
        .collect();
    let roster: Vec<_> = session
        .roster
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name }))
        .collect();
    let html = render(
        "control.html",
        lang,
        json!({ "id": id, "title": session.title, "agenda": agenda, "roster": roster, "text": text }),
    )?;
    Ok(html.into_response())
}

/// The clip builder of a session (press): sentences picked in the transcript, presets and
/// subtitles, the job's progress and the download; the session's clips.
async fn clips_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let back = format!("/workspace/sessions/{id}/clips");
    if let Some(refused) = refusal(&caller, Role::Press, &back) {
        return Ok(refused);
    }
    let (stored, timeline) = opened(&state, &id).await?;
    let session = &stored.session;
    let lines: Vec<_> = crate::search::public_lines(session, &timeline)
        .into_iter()
        .map(|l| json!({ "start_ms": l.start_ms, "end_ms": l.end_ms, "speaker": person_name(session, &l.person).unwrap_or_default(), "text": l.text }))
        .collect();
    let closed: Vec<_> = session
        .closed_ranges
        .iter()
        .map(|r| {
            let (start, end) = r.bounds();
            [start.0, end.0]
        })
        .collect();
    let jobs = state.catalogue.jobs(None, JOBS_LOOKED_AT).await?;
    let clips: Vec<_> = state
        .catalogue
        .clips(&id)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "asked_by": asked_by(&jobs, &c.id, lang),
                "title": c.title,
                "start_ms": c.start_ms.0,
                "end_ms": c.end_ms.0,
                "preset": c.preset,
                "size": format!("{:.1} MB", c.bytes as f64 / 1_000_000.0),
                "published": c.published_at.is_some(),
                "url": format!("/files/{}/{}", segment(id.as_str()), super::pages::path(&c.path)),
            })
        })
        .collect();
    let presets = clip_presets(&state)?;
    let pick = |it, en| lang.pick(it, en);
    let text = json!({
        "nothing": pick("Nessuna selezione.", "Nothing selected."),
        "closed": pick("La selezione tocca una parte in seduta segreta: non può diventare una clip.",
            "The selection touches a closed part: it cannot become a clip."),
        "failed": pick("Non riuscito:", "Failed:"),
        "download": pick("Scarica", "Download"),
        "states": {
            "queued": pick("in coda", "queued"),
            "running": pick("in lavorazione", "cutting"),
            "done": pick("pronta", "ready"),
            "failed": pick("non riuscita", "failed"),
            "cancelled": pick("annullata", "cancelled"),
        },
    });
    let preview = (session.closed_ranges.is_empty() || caller.sees_closed())
        .then(|| {
            crate::ops::clip::recording(
                session,
                &stored.base_dir,
                &state.config.recordings_dir(&id),
            )
            .ok()
            .filter(|m| m.path.is_file())
            .map(|m| crate::ops::review::placements(&m))
        })
        .flatten();
    let data = json!({ "session": id, "lines": lines, "closed": closed, "text": text, "placements": preview });
    let html = render(
        "clips.html",
        lang,
        json!({ "id": id, "title": session.title, "lines": lines, "presets": presets, "clips": clips,
            "preview": preview.is_some(), "data": data }),
    )?;
    Ok(html.into_response())
}

/// The jobs looked at for who asked for a clip: the newest this many.
const JOBS_LOOKED_AT: u32 = 2_000;

/// Who asked for clip `clip`: the signed-in user of the newest job that made it, "API" for a
/// token's, the command line when no job made it (`aula clip`).
fn asked_by(jobs: &[crate::catalogue::Job], clip: &str, lang: Lang) -> String {
    let job = jobs.iter().find(|j| {
        j.kind == JobKind::Clip
            && j.outputs
                .as_array()
                .is_some_and(|o| o.iter().any(|c| c["clip"] == clip))
    });
    match job.and_then(|j| j.owner.as_deref()) {
        Some(owner) => owner
            .strip_prefix("user:")
            .map_or_else(|| "API".to_owned(), str::to_owned),
        None if job.is_some() => "API".to_owned(),
        None => lang.pick("riga di comando", "command line").to_owned(),
    }
}

/// The board's "retry" button: the failed job runs again; back to the board.
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    state.jobs.retry(&id, &caller).await?;
    let back = format!("/workspace{}", Lang::of(&q).query());
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response())
}
