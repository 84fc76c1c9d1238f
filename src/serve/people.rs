//! The public pages of councillors (`/consiglieri/{id}`, a roster id) and council groups
//! (`/gruppi/{id}`, [`ops::people::group_id`]): rendered from [`ops::people`], an unknown id
//! answered with a 404 page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::error::ApiError;
use super::pages::{render, Lang, PageQuery};
use super::AppState;
use crate::ops;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/consiglieri/{id}", get(councillor_page))
        .route("/gruppi/{id}", get(group_page))
}

/// The 404 page, saying what was not found.
fn not_found(lang: Lang, message: String) -> Result<Response, ApiError> {
    let page = render("not_found.html", lang, json!({ "message": message }))?;
    Ok((StatusCode::NOT_FOUND, page).into_response())
}

async fn councillor_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let sessions = ops::people::load(&state.catalogue).await?;
    match ops::people::councillor(&id, &sessions) {
        Some(page) => Ok(render("councillor.html", lang, page)?.into_response()),
        None => not_found(
            lang,
            format!(
                "{} {id:?}",
                lang.pick(
                    "Nessun consigliere con l'identificativo",
                    "No councillor with the id"
                )
            ),
        ),
    }
}

async fn group_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let sessions = ops::people::load(&state.catalogue).await?;
    match ops::people::group(&id, &sessions) {
        Some(page) => Ok(render("group.html", lang, page)?.into_response()),
        None => not_found(
            lang,
            format!(
                "{} {id:?}",
                lang.pick(
                    "Nessun gruppo consiliare con l'identificativo",
                    "No council group with the id"
                )
            ),
        ),
    }
}
