//! The press office's kit page of a session: build the press kit (a publish job), see and
//! download its files and ZIP, deliver it to the destinations of `aula.toml` (a deliver job) and
//! follow each destination's log while the job runs.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use session::SessionId;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::role_for;
use super::pages::{clip_presets, render, Lang, PageQuery};
use super::workspace::refusal;
use super::AppState;
use crate::catalogue::JobKind;
use crate::ops::deliver;
use crate::ops::publish::default_presets;

pub fn routes() -> Router<AppState> {
    Router::new().route("/workspace/sessions/{id}/kit", get(kit_page))
}

/// A size as people read it: bytes, kB or MB (powers of 1000, one decimal).
fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// The kit page (press): the build button and its progress, the files, the destinations with
/// the deliver button, and the delivery log.
async fn kit_page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::of(&q);
    let back = format!("/workspace/sessions/{id}/kit");
    if let Some(refused) = refusal(&caller, role_for(JobKind::Deliver), &back) {
        return Ok(refused);
    }
    let session = state.catalogue.get(&id).await?.session;
    let listing = deliver::listing(&state.config, &id)?;
    let file = |f: &deliver::ListedFile, prefix: &str| {
        json!({
            "name": f.path.strip_prefix(prefix).unwrap_or(&f.path),
            "path": f.path,
            "size": size(f.bytes),
        })
    };
    let files: Vec<_> = listing
        .iter()
        .flat_map(|l| &l.files)
        .map(|f| file(f, "packages/press/"))
        .collect();
    let zip = listing.as_ref().map(|l| file(&l.zip, "packages/"));
    let destinations: Vec<_> = state
        .config
        .deliveries
        .iter()
        .map(|d| json!({ "name": d.name, "kind": d.channel.kind(), "place": d.channel.place() }))
        .collect();
    let log = state.catalogue.deliveries(id.as_str()).await?;
    let pick = |it, en| lang.pick(it, en);
    let text = json!({
        "failed": pick("Non riuscito:", "Failed:"),
        "none_ticked": pick("Scegliere almeno una destinazione.", "Choose at least one destination."),
        "no_attempt": pick("mai consegnata", "never delivered"),
        "attempt": pick("tentativo", "attempt"),
        "earlier_kit": pick("(una cartella precedente)", "(an earlier kit)"),
        "skipped": pick("aveva già questa cartella: nulla inviato", "had this kit already: nothing sent"),
        "outcomes": {
            "delivered": pick("consegnata", "delivered"),
            "failed": pick("non riuscita", "failed"),
        },
        "states": {
            "queued": pick("in coda", "queued"),
            "running": pick("in corso", "running"),
            "done": pick("completata", "done"),
            "failed": pick("non riuscita", "failed"),
            "cancelled": pick("annullata", "cancelled"),
        },
    });
    let data = json!({
        "session": id,
        "kit": listing.as_ref().map(|l| &l.checksum),
        "log": log,
        "text": text,
    });
    let html = render(
        "kit.html",
        lang,
        json!({
            "id": id,
            "title": session.title,
            "presets": clip_presets(&state)?,
            "default_presets": default_presets(),
            "files": files,
            "zip": zip,
            "destinations": destinations,
            "data": data,
        }),
    )?;
    Ok(html.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_bytes_kilobytes_and_megabytes() {
        assert_eq!(
            [
                size(0),
                size(999),
                size(1_000),
                size(48_213),
                size(12_345_678)
            ],
            ["0 B", "999 B", "1.0 kB", "48.2 kB", "12.3 MB"]
        );
    }
}
