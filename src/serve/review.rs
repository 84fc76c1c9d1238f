//! The review of a session's record (admin; press reads it): the recording in a player with the
//! transcript word by word beside it, each line's speaker and text corrected in place, the item
//! boundaries on a bar under the player, low-confidence words marked, the corrections' history
//! with undo, and a "reviewed" mark per agenda item. Its API: the marks and the history.

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use session::SessionId;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::auth::{Caller, Role};
use super::error::{parse_json, ApiError};
use super::pages::{render, Lang, PageQuery};
use super::workspace::{opened, person_name, refusal};
use super::AppState;
use crate::catalogue::ItemReview;
use crate::ops::correct::{describe, describe_in};
use crate::ops::review::{self, LOW_CONFIDENCE};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspace/sessions/{id}/review", get(review_page))
        .route("/workspace/sessions/{id}/media", get(media))
}

/// The file the player plays: the session's recording, for the press office and the
/// presidency; while the session has a closed part, for the presidency only.
async fn media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(Role::Press)?;
    let stored = state.catalogue.get(&id).await?;
    if !stored.session.closed_ranges.is_empty() && !caller.sees_closed() {
        return Err(ApiError::not_found(format!(
            "the recording of session {id} holds a closed part: only the presidency's staff see it"
        )));
    }
    let recording = crate::ops::clip::recording(
        &stored.session,
        &stored.base_dir,
        &state.config.recordings_dir(&id),
    )
    .map_err(|e| ApiError::not_found(e.to_string()))?;
    if !recording.path.is_file() {
        return Err(ApiError::not_found(format!(
            "session {id} has no recording yet"
        )));
    }
    let response = ServeFile::new(&recording.path)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?;
    Ok(response.map(axum::body::Body::new))
}

/// The review page: the presidency's staff correct; the press office reads (no correction
/// controls, no closed part).
async fn review_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let back = format!("/workspace/sessions/{id}/review");
    if let Some(refused) = refusal(&caller, Role::Press, &back) {
        return Ok(refused);
    }
    let edits = caller.sees_closed();
    let (stored, timeline) = opened(&state, &id).await?;
    let session = &stored.session;
    let title_of = |item: u32| {
        session
            .agenda
            .iter()
            .find(|i| i.number == item)
            .map(|i| i.title.clone())
    };
    let lines: Vec<Value> = review::lines(session, &timeline, edits)
        .into_iter()
        .map(|l| {
            let last_start = l.words.last().map_or(l.start_ms, |w| w.start_ms);
            json!({
                "start_ms": l.start_ms,
                "end_ms": l.end_ms,
                "to_ms": last_start + 1,
                "person": l.person,
                "speaker": person_name(session, &l.person),
                "item": l.item,
                "item_title": l.item.and_then(title_of),
                "closed": l.closed,
                "words": l.words,
            })
        })
        .collect();
    let reviews = state.catalogue.reviews(&id).await?;
    let end_ms = timeline
        .words
        .iter()
        .map(|w| w.end_ms.0)
        .chain(
            timeline
                .items
                .iter()
                .map(|s| s.end_ms.0)
                .filter(|e| *e < u64::MAX / 2),
        )
        .max()
        .unwrap_or(0)
        .max(1);
    let spans: Vec<Value> = timeline
        .items
        .iter()
        .map(|s| {
            json!({
                "number": s.number,
                "title": s.title,
                "start_ms": s.start_ms.0,
                "end_ms": s.end_ms.0.min(end_ms),
                "left_pct": s.start_ms.0 as f64 * 100.0 / end_ms as f64,
                "width_pct": s.end_ms.0.min(end_ms).saturating_sub(s.start_ms.0) as f64 * 100.0 / end_ms as f64,
            })
        })
        .collect();
    let agenda: Vec<Value> = session
        .agenda
        .iter()
        .map(|i| {
            let mark = reviews.iter().find(|r| r.item == i.number);
            json!({
                "number": i.number,
                "title": i.title,
                "start_ms": timeline.items.iter().find(|s| s.number == i.number).map(|s| s.start_ms.0),
                "reviewer": mark.map(|m| m.reviewer.clone()),
                "reviewed_at": mark.map(|m| m.reviewed_at.format("%Y-%m-%d %H:%M").to_string()),
            })
        })
        .collect();
    let roster: Vec<Value> = session
        .roster
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name }))
        .collect();
    let history: Vec<Value> = if edits {
        state
            .catalogue
            .revisions(&id)
            .await?
            .into_iter()
            .rev()
            .map(|r| {
                json!({
                    "number": r.number,
                    "author": r.author,
                    "at": r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    "description": describe_in(&r.correction, session, lang.into()),
                    "reverted_by": r.reverted_by,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let playable = session.closed_ranges.is_empty() || edits;
    let placements =
        crate::ops::clip::recording(session, &stored.base_dir, &state.config.recordings_dir(&id))
            .ok()
            .filter(|m| playable && m.path.is_file())
            .map(|m| review::placements(&m));
    let pick = |it, en| lang.pick(it, en);
    let text = json!({
        "saving": pick("Salvataggio…", "Saving…"),
        "saved": pick("Correzione salvata.", "Correction saved."),
        "failed": pick("Non riuscito:", "Failed:"),
        "now": pick("Adesso:", "Now:"),
    });
    let data = json!({
        "session": id,
        "edits": edits,
        "end_ms": end_ms,
        "placements": placements,
        "spans": spans,
        "text": text,
    });
    let html = render(
        "review.html",
        lang,
        json!({
            "id": id,
            "title": session.title,
            "edits": edits,
            "lines": lines,
            "roster": roster,
            "agenda": agenda,
            "spans": spans,
            "history": history,
            "has_media": placements.is_some(),
            "withheld": !playable,
            "low_pct": (LOW_CONFIDENCE * 100.0).round() as u32,
            "data": data,
        }),
    )?;
    Ok(html.into_response())
}

/// The session's "reviewed" marks (public): which agenda items a person has read through.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/reviews", params(("id" = String, Path)),
    responses((status = 200, body = [ItemReview]), (status = 404)))]
pub async fn list_reviews(
    State(state): State<AppState>,
    Path(id): Path<SessionId>,
) -> Result<Json<Vec<ItemReview>>, ApiError> {
    state.catalogue.get(&id).await?;
    Ok(Json(state.catalogue.reviews(&id).await?))
}

/// A "reviewed" mark set or taken away.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewMark {
    pub item: u32,
    /// False takes the mark away.
    #[serde(default = "yes")]
    pub reviewed: bool,
}

fn yes() -> bool {
    true
}

/// Marks an agenda item as reviewed by the caller, or takes the mark away (admin): `{"item": 2}`,
/// `{"item": 2, "reviewed": false}`. Answers the session's marks.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/reviews", params(("id" = String, Path)),
    request_body = ReviewMark,
    responses((status = 200, body = [ItemReview]), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
pub async fn post_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    body: Bytes,
) -> Result<Json<Vec<ItemReview>>, ApiError> {
    caller.require(Role::Admin)?;
    let mark: ReviewMark = parse_json(&body)?;
    let marks = review::mark(
        &state.catalogue,
        &id,
        mark.item,
        caller.author(),
        mark.reviewed,
    )
    .await?;
    Ok(Json(marks))
}

/// The corrections made to the session's timeline, oldest first, each with who made it, when,
/// what it changed and whether a later undo reverted it (admin: it may hold closed words).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/corrections", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401), (status = 403), (status = 404)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.require(Role::Admin)?;
    let session = state.catalogue.get(&id).await?.session;
    let revisions = state.catalogue.revisions(&id).await?;
    Ok(Json(
        revisions
            .into_iter()
            .map(|r| {
                json!({
                    "revision": r.number,
                    "author": r.author,
                    "at": r.created_at,
                    "description": describe(&r.correction, &session),
                    "correction": r.correction,
                    "before": r.before,
                    "after": r.after,
                    "reverted_by": r.reverted_by,
                })
            })
            .collect(),
    ))
}
