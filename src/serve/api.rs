//! The JSON API under `/api/v1`: sessions, their transcript, timeline, interventions and clips;
//! jobs; floor events and agenda markers during a live session; corrections; presets, report and
//! search. Public callers see only what is published and never a word of a closed range.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use session::{AgendaMarker, FloorEvent, Session};
use utoipa::OpenApi;

use super::auth::{Caller, Role};
use super::error::{parse_json, ApiError};
use super::jobs::{Job, JobKind};
use super::AppState;
use crate::catalogue::ClipRecord;
use crate::search::{self, Hit, Line};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(OpenApi)]
#[openapi(
    info(title = "aula", description = "Council sessions: recordings, transcripts, clips."),
    paths(
        list_sessions, import_session, get_session, transcript, timeline, interventions,
        list_clips, request_clip, request_publish, request_transcribe, request_align,
        list_jobs, get_job, cancel_job, post_floor_events, post_agenda_markers, post_correction,
        list_presets, report, search_transcripts
    ),
    components(schemas(Job, Line, Hit, crate::commands::ClipArgs)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "token",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn stored(state: &AppState, id: &str) -> Result<crate::catalogue::StoredSession, ApiError> {
    Ok(state.catalogue.get(id).await?)
}

/// Sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", responses((status = 200, body = Object)))]
pub async fn list_sessions(State(state): State<AppState>) -> ApiResult<Value> {
    Ok(Json(json!(state.catalogue.list().await?)))
}

/// Imports a session document (admin).
#[utoipa::path(post, path = "/api/v1/sessions", request_body = Object,
    responses((status = 201, body = Object), (status = 400), (status = 401), (status = 403)))]
pub async fn import_session(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin)?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let session = session::from_json(text)
        .map_err(|e| ApiError::bad_request(format!("not a valid session document: {e}")))?;
    let base = state.config.home.clone();
    state.catalogue.import(&session, &base, false).await?;
    std::fs::create_dir_all(state.config.session_dir(&session.id)).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": session.id }))))
}

/// Where each source of a session stands: its last recorded event.
fn sources_state(state: &AppState, session: &Session) -> Vec<Value> {
    let log = state
        .config
        .session_dir(&session.id)
        .join("recordings/events.jsonl");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    session
        .sources
        .iter()
        .map(|s| {
            let last = text
                .lines()
                .rev()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| e["source"] == s.id.as_str() && e["state"] != "refused");
            json!({
                "id": s.id,
                "kind": s.kind.as_str(),
                "state": last.as_ref().map_or(json!("idle"), |e| e["state"].clone()),
                "since_ms": last.as_ref().map(|e| e["at_ms"].clone()),
            })
        })
        .collect()
}

/// A session: roster, agenda, closed ranges; sources' state for press and admin.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let s = stored(&state, &id).await?.session;
    let mut view = json!({
        "id": s.id, "body": s.body, "title": s.title, "start": s.start,
        "mode": s.mode, "language": s.language, "roster": s.roster, "agenda": s.agenda,
        "closed_ranges": s.closed_ranges.iter().map(|r| json!({"start_ms": r.start_ms, "end_ms": r.end_ms})).collect::<Vec<_>>(),
        "live": state.live_playlist(&s.id),
    });
    if caller.sees_unpublished() {
        view["sources"] = json!(sources_state(&state, &s));
    }
    Ok(Json(view))
}

/// The transcript as lines with their speaker; closed ranges left out for the public.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/transcript", params(("id" = String, Path)),
    responses((status = 200, body = [Line]), (status = 404)))]
pub async fn transcript(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<Line>> {
    let s = stored(&state, &id).await?.session;
    let timeline = state.catalogue.timeline(&id).await?.timeline;
    let mut public = s.clone();
    if caller.sees_unpublished() {
        public.closed_ranges.clear();
    }
    Ok(Json(search::public_lines(&public, &timeline)))
}

/// Every word with its speaker and item, the items' spans and the interventions (press).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/timeline", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401), (status = 404)))]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    caller.require(Role::Press)?;
    Ok(Json(json!(state.catalogue.timeline(&id).await?.timeline)))
}

/// Interventions (one person, one item, one turn); those touching a closed range are left out
/// for the public.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/interventions", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn interventions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let s = stored(&state, &id).await?.session;
    let timeline = state.catalogue.timeline(&id).await?.timeline;
    let shown: Vec<_> = timeline
        .interventions
        .iter()
        .filter(|i| {
            caller.sees_unpublished()
                || !s
                    .closed_ranges
                    .iter()
                    .any(|r| i.start_ms < r.end_ms && r.start_ms < i.end_ms)
        })
        .collect();
    Ok(Json(json!(shown)))
}

/// A clip as the API shows it, with its download address.
fn clip_view(c: &ClipRecord) -> Value {
    let mut v = json!(c);
    v["url"] = json!(format!("/files/{}/{}", c.session, c.path));
    v
}

/// Clips: published ones for the public, all for press and admin.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/clips", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn list_clips(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Vec<Value>> {
    stored(&state, &id).await?;
    let clips = state.catalogue.clips(&id).await?;
    Ok(Json(
        clips
            .iter()
            .filter(|c| caller.sees_unpublished() || c.published_at.is_some())
            .map(clip_view)
            .collect(),
    ))
}

async fn submit(
    state: &AppState,
    id: &str,
    kind: JobKind,
    params: Value,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    stored(state, id).await?;
    let job = state.jobs.submit(kind, id, params).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Requests clips (press): `{"item": 2, "preset": "web-720p", "subs": "sidecar"}`, or
/// `intervention`, `person`, `from`/`to` (session ms). Returns the job.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/clips", params(("id" = String, Path)),
    request_body = crate::commands::ClipArgs,
    responses((status = 202, body = Job), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn request_clip(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Press)?;
    let mut params: Value = parse_json(&body)?;
    params["id"] = json!(id);
    let args: crate::commands::ClipArgs = parse_json(params.to_string().as_bytes())?;
    let chosen = [
        args.item.is_some(),
        args.intervention.is_some(),
        args.person.is_some(),
        args.from.is_some() && args.to.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err(ApiError::bad_request(
            "say what to clip: exactly one of item, intervention, person, or from and to",
        ));
    }
    state
        .presets()?
        .get(&args.preset)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    submit(&state, &id, JobKind::Clip, params).await
}

/// Builds the press kit (press): `{"per": "item", "presets": ["web-720p"]}`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/publish", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404)))]
pub async fn request_publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Press)?;
    let mut params: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(&body)?
    };
    params["id"] = json!(id);
    if params.get("presets").is_none() {
        params["presets"] = json!(["web-720p"]);
    }
    if params.get("per").is_none() {
        params["per"] = json!("item");
    }
    let _: crate::commands::PublishArgs = parse_json(params.to_string().as_bytes())?;
    submit(&state, &id, JobKind::Publish, params).await
}

/// Transcribes the session with the default model (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/transcribe", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404)))]
pub async fn request_transcribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Admin)?;
    submit(&state, &id, JobKind::Transcribe, json!({})).await
}

/// Aligns the session again with the evidence received (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/align", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404)))]
pub async fn request_align(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Admin)?;
    submit(&state, &id, JobKind::Align, json!({})).await
}

#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = [Job]), (status = 401)))]
pub async fn list_jobs(State(state): State<AppState>, caller: Caller) -> ApiResult<Vec<Job>> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.list().await?))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 401), (status = 404)))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Job> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.get(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 401), (status = 404), (status = 409)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Job> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.cancel(&id).await?))
}

/// Floor events from the conference system during a live session (admin):
/// `[{"at": "...", "seat": 12, "action": "mic_on"}]`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/floor-events", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_floor_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let events: Vec<FloorEvent> = parse_json(&body)?;
    state.catalogue.add_evidence(&id, &events, &[]).await?;
    Ok(Json(json!({ "added": events.len() })))
}

/// Agenda markers from the clerk's console (admin): `[{"at": "...", "item": 2}]`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/agenda-markers", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_agenda_markers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let markers: Vec<AgendaMarker> = parse_json(&body)?;
    state.catalogue.add_evidence(&id, &[], &markers).await?;
    Ok(Json(json!({ "added": markers.len() })))
}

/// A correction of the timeline (admin), as `aula session fix` takes it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CorrectionRequest {
    Reassign {
        from_ms: u64,
        to_ms: u64,
        person: Option<String>,
    },
    MoveItem {
        item: u32,
        start_ms: u64,
    },
    ReplaceText {
        from_ms: u64,
        to_ms: u64,
        text: String,
    },
    Undo,
}

/// Corrects the timeline (admin): `{"kind": "reassign", "from_ms": 1000, "to_ms": 5000,
/// "person": "rossi"}`, `move_item`, `replace_text`, `undo`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/corrections", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_correction(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let request: CorrectionRequest = parse_json(&body)?;
    let revision = crate::commands::correct(&state.config, &id, &request, "api").await?;
    Ok(Json(revision))
}

#[utoipa::path(get, path = "/api/v1/presets", responses((status = 200, body = Object)))]
pub async fn list_presets(State(state): State<AppState>) -> ApiResult<Value> {
    Ok(Json(json!(state.presets()?.iter().collect::<Vec<_>>())))
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Sessions held, clips produced and published over a period (press).
#[utoipa::path(get, path = "/api/v1/report", params(("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = Object), (status = 401)))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Value> {
    caller.require(Role::Press)?;
    let report =
        crate::commands::build_report(&state.config, q.from.as_deref(), q.to.as_deref()).await?;
    Ok(Json(report))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
}

/// Searches every session's public transcript (accent-insensitive, Italian stems).
#[utoipa::path(get, path = "/api/v1/search", params(("q" = String, Query)),
    responses((status = 200, body = [Hit])))]
pub async fn search_transcripts(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Vec<Hit>> {
    Ok(Json(
        search::search(&state.catalogue, &q.q, 50)
            .await
            .map_err(ApiError::internal)?,
    ))
}
