//! The JSON API under `/api/v1`: sessions, their transcript, timeline, interventions and clips;
//! jobs; floor events and agenda markers during a live session; corrections; presets, report and
//! search. Public callers see only what is published and never a word of a closed range.
//! Roles: live control (floor events, agenda markers, closed parts) needs clerk; clips,
//! publishing, jobs and the report press; imports, transcription, alignment, corrections and the
//! closed parts' content admin. A higher role may do what a lower one may.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use session::{AgendaMarker, ClosedRange, FloorEvent, Format, Session, SessionId, SessionMs};
use utoipa::OpenApi;

use super::auth::{Caller, Role};
use super::error::{parse_json, parse_object, ApiError};
use super::jobs::{Job, JobKind, Submitted};
use super::AppState;
use crate::catalogue::{Attempt, ClipRecord, WorkerRecord};
use crate::ops::clip::ClipRequest;
use crate::ops::correct::CorrectionRequest;
use crate::ops::deliver::DeliverRequest;
use crate::ops::evidence::{self, Checks};
use crate::ops::import::{ImportRequest, MediaPolicy};
use crate::ops::publish::PublishRequest;
use crate::ops::report::Period;
use crate::search::{self, Hit, Line};

type ApiResult<T> = Result<Json<T>, ApiError>;

#[derive(OpenApi)]
#[openapi(
    info(title = "aula", description = "Council sessions: recordings, transcripts, clips."),
    paths(
        list_sessions, import_session, get_session, transcript, timeline, interventions,
        list_clips, request_clip, request_publish, request_deliver, list_deliveries,
        request_transcribe, request_align,
        list_jobs, get_job, cancel_job, retry_job, list_workers, post_floor_events, post_agenda_markers, post_correction,
        post_closed, list_presets, report, search_transcripts, super::control::recording,
        super::control::start, super::control::stop, super::control::live_action,
        super::review::list_reviews, super::review::post_review, super::review::history
    ),
    components(schemas(Job, WorkerRecord, Line, Hit, ClipRequest, PublishRequest, DeliverRequest, Attempt,
        CorrectionRequest, crate::ops::live::LiveAction)),
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
        // Every operation takes the token; those open to the public work without one too.
        let requirement =
            utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("token", []);
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let public = [&op.summary, &op.description]
                    .into_iter()
                    .flatten()
                    .any(|d| d.contains("(public)"));
                let mut needs = vec![requirement.clone()];
                if public {
                    needs.push(utoipa::openapi::security::SecurityRequirement::default());
                }
                op.security = Some(needs);
            }
        }
    }
}

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn stored(
    state: &AppState,
    id: &SessionId,
) -> Result<crate::catalogue::StoredSession, ApiError> {
    Ok(state.catalogue.get(id).await?)
}

/// Sessions, newest first (public).
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
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    // The same validated import as `aula session import`; file sources only inside the data
    // directory, relative to it.
    let request = ImportRequest {
        text,
        format: Format::Json,
        base_dir: state.config.home.clone(),
        floor_events: Vec::new(),
        replace: false,
        media: MediaPolicy::InsideHome,
    };
    let report = crate::ops::import::import(&state.config, &state.catalogue, &request).await?;
    Ok((StatusCode::CREATED, Json(json!(report))))
}

/// Where each source of a session stands: its last recorded event.
fn sources_state(state: &AppState, session: &Session) -> Vec<Value> {
    let log = state
        .config
        .recordings_dir(&session.id)
        .join("events.jsonl");
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

/// A closed part as the API shows it: its bounds, `end_ms` null while it is open.
fn closed_view(r: &ClosedRange) -> Value {
    let (start, end) = r.bounds();
    json!({"start_ms": start, "end_ms": (!r.is_open()).then_some(end)})
}

/// A session: roster, agenda, closed ranges; sources' state for press and admin (public).
#[utoipa::path(get, path = "/api/v1/sessions/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> ApiResult<Value> {
    let s = stored(&state, &id).await?.session;
    let mut view = json!({
        "id": s.id, "body": s.body, "title": s.title, "start": s.start,
        "mode": s.mode, "language": s.language, "roster": s.roster, "agenda": s.agenda,
        "closed_ranges": s.closed_ranges.iter().map(closed_view).collect::<Vec<_>>(),
        "live": state.live_playlist(&s.id),
    });
    if caller.sees_unpublished() {
        view["sources"] = json!(sources_state(&state, &s));
        view["resoconto"] = json!({
            "html": super::documents::resoconto_url(&s.id, false),
            "pdf": super::documents::resoconto_url(&s.id, true),
        });
    }
    Ok(Json(view))
}

/// The transcript as lines with their speaker; closed ranges left out but for admin (public).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/transcript", params(("id" = String, Path)),
    responses((status = 200, body = [Line]), (status = 404)))]
pub async fn transcript(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> ApiResult<Vec<Line>> {
    let s = stored(&state, &id).await?.session;
    let timeline = state.catalogue.timeline(&id).await?.timeline;
    let mut public = s.clone();
    if caller.sees_closed() {
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
    Path(id): Path<SessionId>,
) -> ApiResult<Value> {
    caller.require(Role::Press)?;
    let s = stored(&state, &id).await?.session;
    let timeline = state.catalogue.timeline(&id).await?.timeline;
    if caller.sees_closed() {
        Ok(Json(json!(timeline)))
    } else {
        Ok(Json(json!(timeline.without_closed(&s))))
    }
}

/// Interventions (one person, one item, one turn); those touching a closed range are left out
/// but for admin (public).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/interventions", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn interventions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> ApiResult<Value> {
    let s = stored(&state, &id).await?.session;
    let timeline = state.catalogue.timeline(&id).await?.timeline;
    let shown: Vec<_> = timeline
        .interventions
        .iter()
        .filter(|i| {
            caller.sees_closed() || !s.touches_closed(i.start_ms, i.end_ms.max(i.start_ms + 1))
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

/// Clips: published ones for the public, all for press and admin (public).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/clips", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404)))]
pub async fn list_clips(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
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
    caller: &Caller,
    id: &SessionId,
    kind: JobKind,
    params: Value,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    stored(state, id).await?;
    Ok(accepted(state.jobs.submit(kind, id, params, caller).await?))
}

/// A job submitted: 202 when made now, 200 when an identical one was joined.
fn accepted(Submitted { job, joined }: Submitted) -> (StatusCode, Json<Job>) {
    let status = if joined {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(job))
}

/// A request body (a JSON object) with the session's id, read as `T`.
fn with_id<T: serde::de::DeserializeOwned>(body: &[u8], id: &SessionId) -> Result<T, ApiError> {
    let mut params = parse_object(body)?;
    if params.contains_key("id") {
        return Err(ApiError::bad_request(
            "malformed JSON body: id: the session is the one in the path; leave id out",
        ));
    }
    params.insert("id".into(), json!(id));
    parse_json(Value::Object(params).to_string().as_bytes())
}

/// Requests clips (press): `{"item": 2, "preset": "web-720p", "subs": "sidecar"}`, or
/// `intervention`, `person`, `from`/`to` (session ms). Returns the job (202), or the identical
/// job already queued or running (200).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/clips", params(("id" = String, Path)),
    request_body = ClipRequest,
    responses((status = 202, body = Job), (status = 200, body = Job), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 429)))]
pub async fn request_clip(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Press)?;
    let args: ClipRequest = with_id(&body, &id)?;
    let session = stored(&state, &id).await?.session;
    args.check(&session, &state.presets()?)
        .map_err(|e| ApiError::bad_request(e.0))?;
    let params = serde_json::to_value(&args).map_err(ApiError::internal)?;
    submit(&state, &caller, &id, JobKind::Clip, params).await
}

/// Builds the press kit (press): `{"per": "item", "presets": ["web-720p"]}`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/publish", params(("id" = String, Path)),
    request_body = PublishRequest,
    responses((status = 202, body = Job), (status = 200, body = Job), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 429)))]
pub async fn request_publish(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Press)?;
    let args: PublishRequest = with_id(&body, &id)?;
    args.check(&state.presets()?)
        .map_err(|e| ApiError::bad_request(e.0))?;
    let params = serde_json::to_value(&args).map_err(ApiError::internal)?;
    submit(&state, &caller, &id, JobKind::Publish, params).await
}

/// Delivers the press kit (press): `{"to": ["ansa"], "again": false}` (every destination of
/// `[[delivery]]` when `to` is left out). Queues a deliver job (202) whose attempts go to the
/// session's delivery log.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/deliver", params(("id" = String, Path)),
    request_body = DeliverRequest,
    responses((status = 202, body = Job), (status = 200, body = Job), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 429)))]
pub async fn request_deliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Press)?;
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    let args: DeliverRequest = with_id(&body, &id)?;
    args.destinations(&state.config)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let params = serde_json::to_value(&args).map_err(ApiError::internal)?;
    submit(&state, &caller, &id, JobKind::Deliver, params).await
}

/// The session's delivery log (press): every attempt, oldest first, with its outcome and the
/// server's answer.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/deliveries", params(("id" = String, Path)),
    responses((status = 200, body = [Attempt]), (status = 401), (status = 403), (status = 404)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> ApiResult<Vec<Attempt>> {
    caller.require(Role::Press)?;
    stored(&state, &id).await?;
    Ok(Json(state.catalogue.deliveries(id.as_str()).await?))
}

/// Transcribes the session with the default model (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/transcribe", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404)))]
pub async fn request_transcribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Admin)?;
    submit(&state, &caller, &id, JobKind::Transcribe, json!({})).await
}

/// Aligns the session again with the evidence received (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/align", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404)))]
pub async fn request_align(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(Role::Admin)?;
    submit(&state, &caller, &id, JobKind::Align, json!({})).await
}

#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = [Job]), (status = 401)))]
pub async fn list_jobs(State(state): State<AppState>, caller: Caller) -> ApiResult<Vec<Job>> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.list(&caller).await?))
}

/// The worker processes on every host, as each advertises itself: host, kinds, concurrency, jobs
/// running, time since its last heartbeat (admin). `alive` is false after 10 s without one.
#[utoipa::path(get, path = "/api/v1/workers",
    responses((status = 200, body = [WorkerRecord]), (status = 401), (status = 403)))]
pub async fn list_workers(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Vec<WorkerRecord>> {
    caller.require(Role::Admin)?;
    Ok(Json(state.catalogue.workers(10_000).await?))
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 401), (status = 404)))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Job> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.get_for(&id, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 401), (status = 404), (status = 409)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Job> {
    caller.require(Role::Press)?;
    Ok(Json(state.jobs.cancel(&id, &caller).await?))
}

/// Runs a failed or cancelled job again as a new job of the caller's (the role its kind needs).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 200, body = Job), (status = 401), (status = 403),
        (status = 404), (status = 409), (status = 429)))]
pub async fn retry_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    Ok(accepted(state.jobs.retry(&id, &caller).await?))
}

/// Floor events from the conference system during a live session (clerk):
/// `[{"at": "...", "seat": 12, "action": "mic_on"}]`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/floor-events", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_floor_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Clerk)?;
    let events: Vec<FloorEvent> = parse_json(&body)?;
    evidence::add(&state.catalogue, &id, &events, &[], Checks::Refuse).await?;
    Ok(Json(json!({ "added": events.len() })))
}

/// Agenda markers from the clerk's console (clerk): `[{"at": "...", "item": 2}]`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/agenda-markers", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_agenda_markers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Clerk)?;
    let markers: Vec<AgendaMarker> = parse_json(&body)?;
    evidence::add(&state.catalogue, &id, &[], &markers, Checks::Refuse).await?;
    Ok(Json(json!({ "added": markers.len() })))
}

/// Corrects the timeline (admin): `{"kind": "reassign", "from_ms": 1000, "to_ms": 5000,
/// "person": "rossi"}`, `move_item`, `replace_text`, `undo`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/corrections", params(("id" = String, Path)),
    request_body = CorrectionRequest,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn post_correction(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let request: CorrectionRequest = parse_json(&body)?;
    let revision = crate::ops::correct::correct(
        &state.config,
        &state.catalogue,
        &id,
        &request,
        caller.author(),
    )
    .await?;
    Ok(Json(json!(revision)))
}

/// A closed part (seduta segreta) declared during the session (clerk): `{"start": null}` or
/// `{"end": null}` at the current session time, or `{"start": MS}` / `{"end": MS}` at a session
/// time. The live program cuts to the slate at once; everything public leaves the closed part out.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/closed", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
pub async fn post_closed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> ApiResult<Value> {
    caller.require(Role::Clerk)?;
    let request: ClosedRequest = parse_json(&body)?;
    let session = stored(&state, &id).await?.session;
    let (ClosedRequest::Start(at) | ClosedRequest::End(at)) = request;
    let at = match at {
        Some(ms) => SessionMs(ms),
        None => {
            let elapsed = (chrono::Utc::now() - session.start).num_milliseconds();
            u64::try_from(elapsed).map(SessionMs).map_err(|_| {
                ApiError::bad_request(format!(
                    "the session starts at {}: there is no current session time yet",
                    session.start
                ))
            })?
        }
    };
    let range = match request {
        ClosedRequest::Start(_) => state.catalogue.open_closed(&id, at).await?,
        ClosedRequest::End(_) => state.catalogue.end_closed(&id, at).await?,
    };
    Ok(Json(closed_view(&range)))
}

/// The body of `POST /sessions/{id}/closed`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ClosedRequest {
    Start(Option<u64>),
    End(Option<u64>),
}

/// The presets clips can be cut in (public).
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
    let period = Period::parse(q.from.as_deref(), q.to.as_deref())
        .map_err(|e| ApiError::bad_request(e.0))?;
    let report = crate::ops::report::report(&state.catalogue, period).await?;
    Ok(Json(json!(report)))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
    #[serde(flatten)]
    filters: search::Filters,
}

/// Searches every session's public transcript (public): every word, Snowball stems in the
/// session's language, accents folded; `"a phrase"` in order; narrowed by speaker (roster id),
/// group, days (`YYYY-MM-DD`, both included) and agenda item kind.
#[utoipa::path(get, path = "/api/v1/search", params(("q" = String, Query),
    ("person" = Option<String>, Query), ("group" = Option<String>, Query),
    ("from" = Option<String>, Query), ("to" = Option<String>, Query),
    ("kind" = Option<String>, Query)),
    responses((status = 200, body = [Hit]), (status = 400)))]
pub async fn search_transcripts(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Vec<Hit>> {
    let filters = q.filters.checked().map_err(ApiError::bad_request)?;
    Ok(Json(state.catalogue.search(&q.q, &filters, 50).await?))
}
