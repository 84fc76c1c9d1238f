//! The live control room's API: start and stop a session's recording (a job the server runs,
//! whoever closes the browser), each source's state as it changes, and the clerk's one-click
//! actions at the server's session time now.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use session::SessionId;

use super::auth::Caller;
use super::error::{parse_json, ApiError};
use super::jobs::{role_for, Job, JobKind};
use super::AppState;
use crate::ops::live::LiveAction;

/// The recording's job, the log of markers, turns and closed parts, each source's state (`connecting`, `live`, `lost`, `ended`, with the
/// detail: the gap after a reconnection, a refused caller) and the live playlist (clerk).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/recording", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404)))]
pub async fn recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<Json<Value>, ApiError> {
    caller.require(role_for(JobKind::Record))?;
    let session = state.catalogue.get(&id).await?.session;
    let job = state.jobs.recording(&id).await?;
    let sources: Value = std::fs::read(state.config.live_sources(&id))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_else(|| json!([]));
    Ok(Json(json!({
        "job": job,
        "sources": sources,
        "live": state.live_playlist(&id),
        "log": crate::ops::live::event_log(&session),
    })))
}

/// Starts the session's live recording (clerk): 202 with its job; 409 when it runs already.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/recording/start", params(("id" = String, Path)),
    responses((status = 202, body = Job), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    caller.require(role_for(JobKind::Record))?;
    state.catalogue.get(&id).await?;
    let job = state.jobs.start_recording(&id, &caller).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Stops the session's recording (clerk): the sources close their segments, then the recording
/// is joined; 409 when none runs.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/recording/stop", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<Json<Job>, ApiError> {
    caller.require(role_for(JobKind::Record))?;
    state.catalogue.get(&id).await?;
    Ok(Json(state.jobs.stop_recording(&id).await?))
}

/// One of the clerk's actions at the session time now (clerk): `{"item_starts": 2}`,
/// `"closed_starts"`, `"closed_ends"`, `{"has_the_floor": "rossi"}`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/live-actions", params(("id" = String, Path)),
    request_body = LiveAction,
    responses((status = 200, body = Object), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
pub async fn live_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(role_for(JobKind::Record))?;
    let action: LiveAction = parse_json(&body)?;
    let report = crate::ops::live::act(&state.catalogue, &id, &action, chrono::Utc::now()).await?;
    Ok(Json(json!(report)))
}
