//! The pages' scripts and styles, embedded in the binary (an installed `aula` needs no source
//! tree): our own files from `web/`, hls.js from npm through `build.rs`.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Every asset: its name under `/static/`, its media type and its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/app.js"),
    ),
    (
        "clips.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/clips.js"),
    ),
    (
        "control.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/control.js"),
    ),
    (
        "review.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/review.js"),
    ),
    (
        "kit.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/kit.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
    (
        "hls.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js")),
    ),
];

/// `GET /static/{name}`: an embedded asset.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, mime, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::not_found(format!("no asset {name:?}")))?;
    Ok(([(header::CONTENT_TYPE, *mime)], *bytes).into_response())
}
