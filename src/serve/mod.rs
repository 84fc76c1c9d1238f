//! `aula serve`: tokio + axum on the catalogue. The JSON API under `/api/v1` (OpenAPI at
//! `/api/v1/openapi.json`), the durable jobs' workers, file downloads with HTTP Range, the public
//! and press pages, `/healthz` and Prometheus `/metrics`; stops gracefully on SIGTERM.

pub mod alerts;
pub mod api;
pub mod assets;
pub mod auth;
pub mod control;
pub mod documents;
pub mod error;
pub mod jobs;
pub mod kit;
pub mod pages;
pub mod people;
pub mod public;
pub mod review;
pub mod search;
pub mod signin;
pub mod workspace;

use std::net::SocketAddr;
use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use session::{Session, SessionId, SessionMs};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeFile;

use crate::cancel::Cancel;
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::ops::jobs::Worker;
use auth::Caller;
use error::ApiError;
use jobs::{JobKind, JobState, Jobs};

/// Options of `aula serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Job workers (heavy jobs at once); default: one per core. 0 serves without running jobs
    /// (`aula worker` processes run them).
    #[arg(long)]
    pub workers: Option<usize>,
    #[command(flatten)]
    pub queue: jobs::QueueArgs,
    /// Jobs one caller may have waiting at once; more are refused with 429.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_queued_jobs: u32,
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
    bytes_served: AtomicU64,
    next_request: AtomicU64,
}

/// The id of a request, in its log lines, its `x-request-id` header and a 5xx body.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub catalogue: Catalogue,
    pub jobs: Jobs,
    pub metrics: Arc<Metrics>,
    /// Recent failed sign-ins per name, which slow the next attempts down.
    pub throttle: Arc<crate::ops::accounts::Throttle>,
    /// The object store holding the sessions' outputs, when not the data folder.
    pub storage: Option<crate::storage::ObjectStorage>,
}

impl AppState {
    pub fn new(config: Config, catalogue: Catalogue, max_queued_jobs: usize) -> AppState {
        AppState {
            config: Arc::new(config),
            jobs: Jobs::new(catalogue.clone(), max_queued_jobs),
            catalogue,
            metrics: Arc::default(),
            throttle: Arc::default(),
            storage: None,
        }
    }

    pub fn presets(&self) -> Result<presets::PresetSet, ApiError> {
        crate::ops::load_presets(&self.config).map_err(|e| ApiError::from(anyhow::Error::new(e)))
    }

    /// The live multivariant playlist's address while the session is live (an EVENT playlist not
    /// yet ended), else none.
    pub fn live_playlist(&self, id: &SessionId) -> Option<String> {
        crate::ops::record::is_live(&self.config, id)
            .then(|| format!("/files/{id}/live/index.m3u8"))
    }
}

/// The largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// The whole application: API, files, pages, health and metrics.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(api::openapi))
        .route(
            "/sessions",
            get(api::list_sessions).post(api::import_session),
        )
        .route("/sessions/{id}", get(api::get_session))
        .route("/sessions/{id}/transcript", get(api::transcript))
        .route("/sessions/{id}/timeline", get(api::timeline))
        .route("/sessions/{id}/interventions", get(api::interventions))
        .route(
            "/sessions/{id}/clips",
            get(api::list_clips).post(api::request_clip),
        )
        .route("/sessions/{id}/publish", post(api::request_publish))
        .route("/sessions/{id}/deliver", post(api::request_deliver))
        .route("/sessions/{id}/deliveries", get(api::list_deliveries))
        .route("/sessions/{id}/transcribe", post(api::request_transcribe))
        .route("/sessions/{id}/align", post(api::request_align))
        .route("/sessions/{id}/floor-events", post(api::post_floor_events))
        .route(
            "/sessions/{id}/agenda-markers",
            post(api::post_agenda_markers),
        )
        .route(
            "/sessions/{id}/corrections",
            get(review::history).post(api::post_correction),
        )
        .route(
            "/sessions/{id}/reviews",
            get(review::list_reviews).post(review::post_review),
        )
        .route("/sessions/{id}/closed", post(api::post_closed))
        .route("/sessions/{id}/recording", get(control::recording))
        .route("/sessions/{id}/recording/start", post(control::start))
        .route("/sessions/{id}/recording/stop", post(control::stop))
        .route("/sessions/{id}/live-actions", post(control::live_action))
        .route("/jobs", get(api::list_jobs))
        .route("/jobs/{id}", get(api::get_job))
        .route("/jobs/{id}/cancel", post(api::cancel_job))
        .route("/jobs/{id}/retry", post(api::retry_job))
        .route("/workers", get(api::list_workers))
        .route("/presets", get(api::list_presets))
        .route("/report", get(api::report))
        .route("/search", get(api::search_transcripts));
    Router::new()
        .nest("/api/v1", api)
        .route("/files/{session}/{*path}", get(file))
        .route("/feed.xml", get(feed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(pages::routes())
        .merge(search::routes())
        .merge(people::routes())
        .merge(workspace::routes())
        .merge(review::routes())
        .merge(kit::routes())
        .merge(signin::routes())
        .merge(documents::routes())
        .merge(public::routes())
        .merge(alerts::routes())
        .fallback(no_route)
        .layer(middleware::map_response(no_framing))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn(pages::browser_language))
        .layer(CatchPanicLayer::custom({
            let metrics = Arc::clone(&state.metrics);
            move |_: Box<dyn std::any::Any + Send>| {
                metrics.panics.fetch_add(1, Ordering::Relaxed);
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// No page may be shown in another site's frame (clickjacking) but the embeddable player, whose
/// own policy names the sites that may.
async fn no_framing(mut response: Response) -> Response {
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    response
}

async fn no_route(request: Request) -> ApiError {
    ApiError::not_found(format!("no route {}", request.uri().path()))
}

/// Every error answered as JSON, whoever made it (axum's own rejections: 400 for a bad query
/// string, 405, 413 for a body over the limit); a 5xx's body carries only the request's id.
async fn json_error(response: Response, id: &RequestId) -> Response {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_server_error() {
        let body = serde_json::json!({ "error": "internal error", "request_id": id.0 });
        return (status, axum::Json(body)).into_response();
    }
    // A page answering an error (the sign-in form's) stays a page.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_json || is_html {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.trim().to_owned()
    };
    let mut fresh = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}

async fn count(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let id = RequestId(format!(
        "{:x}-{}",
        std::process::id(),
        state.metrics.next_request.fetch_add(1, Ordering::Relaxed)
    ));
    request.extensions_mut().insert(id.clone());
    let started = std::time::Instant::now();
    let span = tracing::info_span!("request", request_id = %id.0);
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    let mut response = json_error(response, &id).await;
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert("x-request-id", v);
    }
    tracing::info!(
        request_id = %id.0,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if response.status().is_server_error() {
        state.metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    let bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    state
        .metrics
        .bytes_served
        .fetch_add(bytes, Ordering::Relaxed);
    response
}

/// The press feed of every published session (written by `aula publish`).
async fn feed(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let path = state.config.feed_path();
    if !path.is_file() {
        return Err(ApiError::not_found("nothing is published yet"));
    }
    let mut response = ServeFile::new(&path)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?
        .map(Body::new);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/rss+xml; charset=utf-8"),
    );
    Ok(response)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.catalogue.ping().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("catalogue: {e}\n")).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = &state.metrics;
    let mut out = String::new();
    out.push_str("# HELP aula_http_requests_total HTTP requests answered.\n# TYPE aula_http_requests_total counter\n");
    out.push_str(&format!(
        "aula_http_requests_total {}\n",
        m.requests.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP aula_http_errors_total Requests answered with a server error.\n# TYPE aula_http_errors_total counter\n");
    out.push_str(&format!(
        "aula_http_errors_total {}\n",
        m.errors.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP aula_http_panics_total Handlers that panicked (answered 500).\n# TYPE aula_http_panics_total counter\n");
    out.push_str(&format!(
        "aula_http_panics_total {}\n",
        m.panics.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP aula_bytes_served_total Response body bytes sent.\n# TYPE aula_bytes_served_total counter\n");
    out.push_str(&format!(
        "aula_bytes_served_total {}\n",
        m.bytes_served.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP aula_jobs Jobs in the catalogue by state.\n# TYPE aula_jobs gauge\n");
    let counts = state.jobs.count_by_state().await?;
    for s in JobState::ALL {
        let n = counts.iter().find(|c| c.0 == s).map_or(0, |c| c.1);
        out.push_str(&format!("aula_jobs{{state=\"{}\"}} {n}\n", s.as_str()));
    }
    let live = state
        .catalogue
        .list()
        .await?
        .iter()
        .filter(|s| state.live_playlist(&s.id).is_some())
        .count();
    out.push_str(
        "# HELP aula_live_sessions Sessions streaming live now.\n# TYPE aula_live_sessions gauge\n",
    );
    out.push_str(&format!("aula_live_sessions {live}\n"));
    out.push_str(
        "# HELP aula_catalogue_pools_opened Catalogue connection pools this process opened (one when all share it).\n# TYPE aula_catalogue_pools_opened gauge\n",
    );
    out.push_str(&format!(
        "aula_catalogue_pools_opened {}\n",
        Catalogue::pools_opened()
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// `path` inside a session's folder, or none when it could leave it (`..`, absolute, empty).
fn inside(dir: &FsPath, path: &str) -> Option<PathBuf> {
    let relative = FsPath::new(path);
    let safe = !path.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    safe.then(|| dir.join(relative))
}

/// Whether `path` is a file of the session's archive made for the closed parts the session has
/// now (not one being made, nor one made before a closed part was declared): then anyone may
/// fetch it.
async fn current_archive(
    state: &AppState,
    session: &SessionId,
    path: &str,
) -> Result<bool, ApiError> {
    if !path.starts_with("archive/") {
        return Ok(false);
    }
    let stored = state.catalogue.get(session).await?;
    Ok(crate::ops::archive::current(&state.config, &stored.session).is_some())
}

/// Whether the public may fetch `path` of a session (not the archive's, [`current_archive`]):
/// the live stream, the published press kit (not its bookkeeping), and published clips with
/// their subtitles and posters.
async fn public_file(state: &AppState, session: &SessionId, path: &str) -> Result<bool, ApiError> {
    if path.starts_with("live/") {
        return Ok(true);
    }
    if let Some(kit) = path.strip_prefix("packages/press/") {
        return Ok(!kit.split('/').any(|part| part.starts_with('.')));
    }
    if path == format!("packages/{session}-press.zip") {
        return Ok(true);
    }
    let stem = |p: &str| {
        FsPath::new(p)
            .with_extension("")
            .to_string_lossy()
            .into_owned()
    };
    Ok(state
        .catalogue
        .clips(session)
        .await?
        .iter()
        .any(|c| c.published_at.is_some() && (c.path == path || stem(&c.path) == stem(path))))
}

/// Whether a file (not the archive's, [`current_archive`]) may hold closed time: a live segment
/// not yet vetted (`live.pending/`), a recorded segment whose span touches a closed part, or any
/// other recording file (a joined one, an index) of a session with closed parts. Those are for
/// admin only.
fn holds_closed(state: &AppState, session: &Session, path: &str) -> bool {
    if path.starts_with("live.pending/") {
        return true;
    }
    let Some(rest) = path.strip_prefix("recordings/") else {
        return false;
    };
    if session.closed_ranges.is_empty() {
        return false;
    }
    let Some((source, file)) = rest.split_once('/') else {
        return true;
    };
    let index =
        pipeline::RecordingIndex::load(&state.config.recordings_dir(&session.id).join(source));
    let segment = index
        .ok()
        .and_then(|index| index.segments.into_iter().find(|s| s.file == file));
    match segment {
        Some(s) => session.touches_closed(
            SessionMs(s.start_ms),
            SessionMs(s.end_ms.max(s.start_ms + 1)),
        ),
        None => true,
    }
}

/// Whether `target` or a folder between it and `dir` is a symbolic link (never followed).
fn through_link(dir: &FsPath, target: &FsPath) -> bool {
    let Ok(relative) = target.strip_prefix(dir) else {
        return true;
    };
    let mut at = dir.to_path_buf();
    relative.components().any(|c| {
        at.push(c);
        std::fs::symlink_metadata(&at).map_or(true, |m| m.file_type().is_symlink())
    })
}

/// Whether a Range header is one byte range (`bytes=A-B`, `bytes=A-`, `bytes=-N`). Anything else
/// (another unit, several ranges, a syntax error) is ignored, as RFC 9110 allows: the whole file
/// is sent with 200 rather than a 416.
fn single_byte_range(value: &str) -> bool {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return false;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return false;
    };
    let number = |t: &str| !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit());
    match (first.trim(), last.trim()) {
        ("", "") => false,
        ("", n) => number(n),
        (a, "") => number(a),
        (a, b) => number(a) && number(b) && a.parse::<u64>().ok() <= b.parse::<u64>().ok(),
    }
}

/// A file name safe in a Content-Disposition header.
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim_matches(['.', '_']).is_empty() {
        "download".into()
    } else {
        cleaned
    }
}

/// A session's file, with HTTP Range; `?download=1` asks the browser to save it.
async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path((session, path)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no file {path:?} in session {session:?}"));
    let session = SessionId::parse(&session).map_err(|_| not_found())?;
    let dir = state.config.session_dir(&session);
    let Some(target) = inside(&dir, &path) else {
        return Err(not_found());
    };
    let local = state.storage.is_none();
    if target.extension().is_some_and(|e| e == "part")
        || (local && (!target.is_file() || through_link(&dir, &target)))
    {
        return Err(not_found());
    }
    if path.starts_with("archive") {
        // The archive (each of its segments asked in turn): one look at the session and at
        // archive.json says whether it was made for the closed parts the session has now.
        if !caller.sees_closed() && !current_archive(&state, &session, &path).await? {
            return Err(not_found());
        }
    } else {
        if !caller.sees_unpublished() && !public_file(&state, &session, &path).await? {
            return Err(not_found());
        }
        if !caller.sees_closed() {
            let stored = state.catalogue.get(&session).await?;
            if holds_closed(&state, &stored.session, &path) {
                return Err(not_found());
            }
        }
    }
    if let Some(store) = &state.storage {
        // In the object store: a short-lived signed link to the object itself.
        let key = format!("sessions/{session}/{path}");
        if !store.exists(&key).await.map_err(ApiError::internal)? {
            return Err(not_found());
        }
        let url = store
            .download_url(&key, SIGNED_LINK)
            .await
            .map_err(ApiError::internal)?;
        let mut response = axum::response::Redirect::temporary(&url).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        return Ok(response);
    }
    let download = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "download=1"));
    let mut request = request;
    let keep = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(single_byte_range);
    if !keep {
        request.headers_mut().remove(header::RANGE);
    }
    let mut response = ServeFile::new(&target)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?
        .map(Body::new);
    // The city's website may play the live stream and the archive in its own player.
    if path.starts_with("live/") || path.starts_with("archive/") {
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    if download {
        let name = safe_file_name(&target.file_name().unwrap_or_default().to_string_lossy());
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// How long a download link into the object store works.
const SIGNED_LINK: std::time::Duration = std::time::Duration::from_secs(300);

/// Opens everything `aula serve` needs: catalogue, search index, object store.
pub async fn prepare(config: &Config, max_queued_jobs: usize) -> Result<AppState> {
    config.ensure_home()?;
    let stale = crate::fsutil::remove_stale_parts(&config.home.join("sessions"));
    if stale > 0 {
        tracing::info!("removed {stale} half-written file(s) left by a stopped process");
    }
    let catalogue = Catalogue::open(&config.database_url).await?;
    if !catalogue.searchable() {
        anyhow::bail!(
            "aula serve needs a catalogue that keeps the transcript search: SQLite with FTS5, or \
             PostgreSQL with the unaccent extension (see the log)"
        );
    }
    // The catalogue keeps the index in step with every timeline; sessions aligned before it had
    // one are indexed now.
    let indexed = catalogue.index_unindexed().await?;
    if indexed > 0 {
        tracing::info!("indexed the transcripts of {indexed} session(s) for the search");
    }
    let mut state = AppState::new(config.clone(), catalogue, max_queued_jobs);
    state.storage = config
        .storage
        .as_ref()
        .map(crate::storage::ObjectStorage::open)
        .transpose()?;
    Ok(state)
}

pub async fn run(config: Config, args: ServeArgs, cancel: Cancel) -> Result<()> {
    let state = prepare(&config, args.max_queued_jobs as usize).await?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut tasks = Vec::new();
    if workers > 0 {
        let options = args.queue.options(JobKind::ALL.to_vec(), workers);
        let worker = Worker::new(
            config.clone(),
            state.catalogue.clone(),
            options,
            state.jobs.wake(),
        )?;
        tracing::info!("worker {} runs the jobs here", worker.id());
        tasks.extend(worker.start(cancel.clone()));
    }
    if workers > 0 && config.alerts.is_some() {
        tasks.push(tokio::spawn(alert_rounds(state.clone(), cancel.clone())));
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("serving on http://{addr}/ ({workers} job worker(s))");
    println!("http://{addr}/");
    let shutdown = {
        let cancel = cancel.clone();
        async move {
            while !cancel.is_cancelled() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    for t in tasks {
        let _ = t.await;
    }
    tracing::info!("stopped; unfinished jobs went back to the queue");
    Ok(())
}

/// How often the server mails the alerts that waited for a subscription's daily limit and
/// deletes the unconfirmed subscriptions that expired.
const ALERT_ROUND: std::time::Duration = std::time::Duration::from_secs(15 * 60);

async fn alert_rounds(state: AppState, cancel: Cancel) {
    let mut next = tokio::time::Instant::now() + ALERT_ROUND;
    while !cancel.is_cancelled() {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if tokio::time::Instant::now() < next {
            continue;
        }
        next += ALERT_ROUND;
        match crate::ops::alerts::send_due(&state.config, &state.catalogue).await {
            Ok(report) => {
                for f in &report.failed {
                    tracing::warn!("an alert could not be mailed: {f}");
                }
            }
            Err(e) => tracing::warn!("alerts: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_session() {
        let dir = FsPath::new("/data/sessions/s1");
        assert_eq!(inside(dir, "clips/a.mp4"), Some(dir.join("clips/a.mp4")));
        assert_eq!(inside(dir, "../s2/clips/a.mp4"), None);
        assert_eq!(inside(dir, "clips/../../x"), None);
        assert_eq!(inside(dir, "/etc/passwd"), None);
        assert_eq!(inside(dir, ""), None);
    }

    #[test]
    fn only_one_byte_range_is_honoured() {
        for good in ["bytes=0-99", "bytes=100-", "bytes=-500", "bytes= 5-5"] {
            assert!(single_byte_range(good), "{good}");
        }
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-5",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "0-5",
        ] {
            assert!(!single_byte_range(ignored), "{ignored}");
        }
    }

    #[test]
    fn download_names_are_plain() {
        assert_eq!(safe_file_name("s1-item-2.mp4"), "s1-item-2.mp4");
        assert_eq!(safe_file_name("a\"b\r\nc.mp4"), "a_b__c.mp4");
        assert_eq!(safe_file_name(".."), "download");
    }
}
