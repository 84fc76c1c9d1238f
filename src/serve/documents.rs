//! The press office's printable documents (press and up): a session's resoconto and the final
//! report on the clips produced, as HTML, PDF (printed by Chromium off the request's thread) and,
//! for the report, CSV.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use session::SessionId;

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::pages::segment;
use super::AppState;
use crate::ops::documents::Lang;
use crate::ops::pdf::Printer;
use crate::ops::report::{self, ClipsReport, Period};
use crate::ops::resoconto;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions/{id}/resoconto", get(resoconto_html))
        .route("/sessions/{id}/resoconto.pdf", get(resoconto_pdf))
        .route("/report", get(report_html))
        .route("/report.csv", get(report_csv))
        .route("/report.pdf", get(report_pdf))
}

/// The resoconto of session `id` (HTML; `pdf` for the PDF), for a link from another page.
pub fn resoconto_url(id: &SessionId, pdf: bool) -> String {
    let ext = if pdf { ".pdf" } else { "" };
    format!("/sessions/{}/resoconto{ext}", segment(id))
}

#[derive(Debug, Default, Deserialize)]
pub struct DocQuery {
    lang: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl DocQuery {
    /// `?lang=`, else the browser's language.
    fn lang(&self) -> Lang {
        super::pages::Lang::parse(self.lang.as_deref()).into()
    }

    fn period(&self) -> Result<Period, ApiError> {
        let today = chrono::Utc::now().date_naive();
        Period::parse_year(self.from.as_deref(), self.to.as_deref(), today)
            .map_err(|e| ApiError::bad_request(e.0))
    }
}

fn page(html: Result<String, minijinja::Error>, what: &str) -> Result<Html<String>, ApiError> {
    html.map(Html)
        .map_err(|e| ApiError::internal(format!("{what}: {e:#}")))
}

/// Prints `html` to PDF on a blocking thread, in the data folder's scratch space.
async fn pdf(state: &AppState, html: String, file_name: String) -> Result<Response, ApiError> {
    let scratch = state.config.scratch_dir();
    let bytes =
        tokio::task::spawn_blocking(move || Printer::default().render_bytes(&html, &scratch))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("printing {file_name}: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn resoconto_doc(
    state: &AppState,
    caller: &Caller,
    id: &SessionId,
    q: &DocQuery,
) -> Result<String, ApiError> {
    caller.require(Role::Press)?;
    let doc = resoconto::resoconto(&state.catalogue, id).await?;
    page(doc.html(q.lang()), "resoconto").map(|h| h.0)
}

async fn resoconto_html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<DocQuery>,
) -> Result<Html<String>, ApiError> {
    resoconto_doc(&state, &caller, &id, &q).await.map(Html)
}

async fn resoconto_pdf(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    let html = resoconto_doc(&state, &caller, &id, &q).await?;
    // The id is checked: letters, digits and `-._` only, safe in a header.
    pdf(&state, html, format!("resoconto-{id}.pdf")).await
}

async fn clips_report(
    state: &AppState,
    caller: &Caller,
    q: &DocQuery,
) -> Result<ClipsReport, ApiError> {
    caller.require(Role::Press)?;
    Ok(report::clips_report(&state.catalogue, q.period()?).await?)
}

async fn report_html(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DocQuery>,
) -> Result<Html<String>, ApiError> {
    let r = clips_report(&state, &caller, &q).await?;
    page(r.html(q.lang()), "report")
}

async fn report_csv(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    let r = clips_report(&state, &caller, &q).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"clips-{}-{}.csv\"", r.from, r.to),
            ),
        ],
        r.to_csv(),
    )
        .into_response())
}

async fn report_pdf(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    let r = clips_report(&state, &caller, &q).await?;
    let html = page(r.html(q.lang()), "report")?.0;
    pdf(&state, html, format!("clips-{}-{}.pdf", r.from, r.to)).await
}
