//! The public site's reusable parts: the embeddable player (`/embed/{session}`, framed only by
//! the sites `embed_origins` names), its oEmbed description (`/oembed`), the open data
//! (`/open-data/`: every session's JSON and CSV, an index and the JSON Schema) and `sitemap.xml`.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use session::SessionId;

use super::error::ApiError;
use super::pages::{self, Lang, PageQuery};
use super::AppState;
use crate::ops::open_data;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/embed/{id}", get(embed))
        .route("/sessions/{id}/now.json", get(now))
        .route("/oembed", get(oembed))
        .route("/sitemap.xml", get(sitemap))
        .route("/open-data/", get(open_data_index))
        .route("/open-data/index.json", get(open_data_index))
        .route("/open-data/index.csv", get(open_data_index_csv))
        .route("/open-data/schema.json", get(schema))
        .route("/open-data/sessions/{file}", get(open_data_session))
}

/// The JSON Schema of the open data documents, shipped with aula.
const SCHEMA: &str = include_str!("../../web/open-data.schema.json");

/// What a live session's page shows as under way: the item the clerk marked last and who has the
/// floor, asked again every few seconds; never cached.
async fn now(
    State(state): State<AppState>,
    Path(id): Path<SessionId>,
) -> Result<Response, ApiError> {
    let stored = state.catalogue.get(&id).await?;
    let now = crate::ops::live::under_way(&stored.session, chrono::Utc::now());
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(now),
    )
        .into_response())
}

/// The player alone, for a frame on another site.
async fn embed(
    State(state): State<AppState>,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let stored = state.catalogue.get(&id).await?;
    let s = &stored.session;
    let published = pages::published_clips(&state, &id).await?;
    let player = pages::player(&state, s, &published, lang);
    let page = json!({
        "id": id,
        "title": s.title,
        "body": s.body,
        "language": s.language,
        "poster": player["archive"]["poster"],
        "player": player,
        "link": format!("{}/sessions/{}", state.config.public_url, pages::segment(&id)),
    });
    let mut response = pages::render("embed.html", lang, page)?.into_response();
    let ancestors = std::iter::once("'self'".to_owned())
        .chain(state.config.embed_origins.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    if let Ok(v) = HeaderValue::from_str(&format!("frame-ancestors {ancestors}")) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct OembedQuery {
    url: String,
    format: Option<String>,
    maxwidth: Option<u32>,
    maxheight: Option<u32>,
}

/// oEmbed 1.0 (`type: video`) for a session page's address: the embed page in an iframe.
async fn oembed(
    State(state): State<AppState>,
    Query(q): Query<OembedQuery>,
) -> Result<Response, ApiError> {
    if q.format.as_deref().is_some_and(|f| f != "json") {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            format!(
                "format {:?}: only json is offered",
                q.format.unwrap_or_default()
            ),
        ));
    }
    let prefix = format!("{}/sessions/", state.config.public_url);
    let not_ours = || {
        ApiError::not_found(format!(
            "{:?} is not a session page of this site (expected {prefix}ID)",
            q.url
        ))
    };
    let rest = q.url.strip_prefix(&prefix).ok_or_else(not_ours)?;
    let raw_id = rest.split(['?', '#', '/']).next().unwrap_or("");
    let id = SessionId::parse(raw_id).map_err(|_| not_ours())?;
    let stored = state.catalogue.get(&id).await?;
    let s = &stored.session;
    let width = q.maxwidth.unwrap_or(640).clamp(200, 1920);
    let height = (width * 9 / 16)
        .min(q.maxheight.unwrap_or(u32::MAX))
        .max(112);
    let src = format!("{}/embed/{}", state.config.public_url, pages::segment(&id));
    let html = pages::render_fragment(
        "oembed.html",
        json!({ "src": src, "width": width, "height": height, "title": s.title }),
    )?;
    let poster = state.config.archive_dir(&id).join("poster.jpg");
    let mut body = json!({
        "version": "1.0",
        "type": "video",
        "provider_name": "aula",
        "provider_url": state.config.public_url,
        "title": format!("{} - {}", s.body, s.title),
        "html": html,
        "width": width,
        "height": height,
    });
    if crate::ops::archive::current(&state.config, s).is_some() && poster.is_file() {
        body["thumbnail_url"] = json!(format!(
            "{}/files/{}/archive/poster.jpg",
            state.config.public_url,
            pages::segment(&id)
        ));
        body["thumbnail_width"] = json!(640);
    }
    Ok(Json(body).into_response())
}

/// Every public page's address, for search engines.
async fn sitemap(State(state): State<AppState>) -> Result<Response, ApiError> {
    let base = &state.config.public_url;
    let mut urls = vec![
        json!({ "loc": format!("{base}/") }),
        json!({ "loc": format!("{base}/search") }),
        json!({ "loc": format!("{base}/open-data/") }),
    ];
    let mut sessions = Vec::new();
    for s in state.catalogue.list().await? {
        urls.push(json!({
            "loc": format!("{base}/sessions/{}", pages::segment(&s.id)),
            "lastmod": s.start.format("%Y-%m-%d").to_string(),
        }));
        sessions.push(state.catalogue.get(&s.id).await?.session);
    }
    let (people, groups) = crate::ops::people::page_ids(&sessions);
    for (path, ids) in [("consiglieri", people), ("gruppi", groups)] {
        for id in ids {
            urls.push(json!({ "loc": format!("{base}/{path}/{}", pages::segment(&id)) }));
        }
    }
    let xml = pages::render_fragment("sitemap.xml", json!({ "urls": urls }))?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response())
}

async fn index(state: &AppState) -> Result<open_data::Index<'_>, ApiError> {
    let base = &state.config.public_url;
    let sessions = state
        .catalogue
        .list()
        .await?
        .into_iter()
        .map(|s| {
            let file =
                |ext: &str| format!("{base}/open-data/sessions/{}.{ext}", pages::segment(&s.id));
            open_data::IndexEntry {
                json: file("json"),
                csv: file("csv"),
                id: s.id.to_string(),
                body: s.body,
                title: s.title,
                start: s.start.to_rfc3339(),
            }
        })
        .collect();
    Ok(open_data::Index {
        licence: &state.config.licence,
        schema: format!("{base}/open-data/schema.json"),
        sessions,
    })
}

async fn open_data_index(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(index(&state).await?).into_response())
}

async fn open_data_index_csv(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(csv(open_data::index_csv(&index(&state).await?)))
}

async fn schema() -> Response {
    ([(header::CONTENT_TYPE, "application/schema+json")], SCHEMA).into_response()
}

/// `ID.json` or `ID.csv`: one session's open data.
async fn open_data_session(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no open data file {file:?}"));
    let (raw_id, ext) = file.rsplit_once('.').ok_or_else(not_found)?;
    let id = SessionId::parse(raw_id).map_err(|_| not_found())?;
    let stored = state.catalogue.get(&id).await?;
    let timeline = state
        .catalogue
        .timeline(&id)
        .await
        .map(|t| t.timeline)
        .unwrap_or_default();
    let data = open_data::session_data(
        &stored.session,
        &timeline,
        &state.config.licence,
        &state.config.public_url,
    );
    match ext {
        "json" => Ok(Json(data).into_response()),
        "csv" => Ok(csv(open_data::transcript_csv(&data))),
        _ => Err(not_found()),
    }
}

fn csv(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response()
}
