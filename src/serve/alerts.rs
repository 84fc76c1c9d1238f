//! The alert pages (`/avvisi`): the subscription form, the confirmation and unsubscribe links of
//! the mails (each a page with a button, and the one-click POST of RFC 8058 for unsubscribing),
//! and each subscription's Atom feed. The work is [`ops::alerts`]'.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::pages::{render, render_fragment, Lang};
use super::signin::field;
use super::AppState;
use crate::ops::alerts::{self, AlertError, Subscribed};
use crate::search::{Topic, ITEM_KINDS};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/avvisi", get(form_page).post(subscribe))
        .route("/avvisi/conferma", get(confirm_page).post(confirm))
        .route("/avvisi/disdici", get(unsubscribe_page).post(unsubscribe))
        .route("/avvisi/{id}/feed.atom", get(feed))
}

#[derive(Deserialize)]
struct LinkQuery {
    lang: Option<String>,
    /// The token of a mail's link.
    #[serde(default)]
    t: String,
}

/// One state of `alerts.html` with `status`; a page reached by a token's link keeps it out of
/// the `Referer` of what it links to.
fn page(lang: Lang, status: StatusCode, page: Value) -> Result<Response, ApiError> {
    let mut response = (status, render("alerts.html", lang, page)?).into_response();
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// The form, with the councillors and groups the search knows, what was entered and what is
/// wrong with it.
async fn form(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    entered: Value,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let (people, groups) = state.catalogue.search_choices().await?;
    page(
        lang,
        status,
        json!({
            "step": if state.config.alerts.is_some() { "form" } else { "not_offered" },
            "people": people.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "groups": groups,
            "kinds": ITEM_KINDS,
            "entered": entered,
            "error": error,
        }),
    )
}

#[derive(Deserialize)]
struct FormQuery {
    lang: Option<String>,
}

async fn form_page(
    State(state): State<AppState>,
    Query(q): Query<FormQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    let status = if state.config.alerts.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    form(&state, lang, status, json!({ "topic": "words" }), None).await
}

async fn subscribe(
    State(state): State<AppState>,
    Query(q): Query<FormQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    let email = field(&body, "email");
    let kind = field(&body, "topic");
    let value = match kind.as_str() {
        "words" | "person" | "group" | "kind" => field(&body, &kind),
        _ => String::new(),
    };
    let entered = json!({ "email": email, "topic": kind, kind.clone(): value });
    let refuse = |message: String| {
        form(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            entered.clone(),
            Some(message),
        )
    };
    let topic = match Topic::new(&kind, &value) {
        Ok(topic) => topic,
        Err(problem) => return refuse(problem).await,
    };
    let (people, groups) = state.catalogue.search_choices().await?;
    let known = match &topic {
        Topic::Person(p) => people.iter().any(|(id, _)| id == p),
        Topic::Group(g) => groups.contains(g),
        Topic::Words(_) | Topic::Kind(_) => true,
    };
    if !known {
        return refuse(format!(
            "{kind}: {value:?} is not in the council's transcripts"
        ))
        .await;
    }
    match alerts::subscribe(&state.config, &state.catalogue, &email, topic, lang.code()).await {
        Ok(Subscribed::Pending | Subscribed::Already | Subscribed::TooMany) => {
            page(lang, StatusCode::OK, json!({ "step": "sent" }))
        }
        Err(e @ AlertError::BadEmail(_)) => refuse(e.to_string()).await,
        Err(AlertError::NotOffered) => {
            form(&state, lang, StatusCode::NOT_FOUND, entered.clone(), None).await
        }
        Err(e @ AlertError::Mail(_)) => {
            tracing::warn!("alerts: {e}");
            page(
                lang,
                StatusCode::BAD_GATEWAY,
                json!({ "step": "mail_failed" }),
            )
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// A link whose token is not (or no longer) known.
fn unknown_link(lang: Lang) -> Result<Response, ApiError> {
    page(lang, StatusCode::NOT_FOUND, json!({ "step": "unknown" }))
}

/// A token as the links carry it: hexadecimal, never longer than ours.
fn plausible(token: &str) -> bool {
    (1..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The page a mail's link opens: a button that does what the link is for (a GET alone, as a
/// mail scanner's, changes nothing).
fn button_page(q: &LinkQuery, step: &str) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    if !plausible(&q.t) {
        return unknown_link(lang);
    }
    page(lang, StatusCode::OK, json!({ "step": step, "token": q.t }))
}

async fn confirm_page(Query(q): Query<LinkQuery>) -> Result<Response, ApiError> {
    button_page(&q, "confirm")
}

async fn confirm(
    State(state): State<AppState>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    if !plausible(&q.t) {
        return unknown_link(lang);
    }
    match alerts::confirm(&state.catalogue, &q.t)
        .await
        .map_err(ApiError::internal)?
    {
        Some(s) => page(
            lang,
            StatusCode::OK,
            json!({
                "step": "confirmed",
                "topic": alerts::topic_label(&s.topic, lang.code()),
                "feed": alerts::feed_url(&state.config, &s.id),
                "unsubscribe": format!("/avvisi/disdici?t={}", s.unsubscribe_token),
            }),
        ),
        None => unknown_link(lang),
    }
}

async fn unsubscribe_page(Query(q): Query<LinkQuery>) -> Result<Response, ApiError> {
    button_page(&q, "unsubscribe")
}

/// The page's button and the mail client's one-click POST (`List-Unsubscribe=One-Click`) alike.
async fn unsubscribe(
    State(state): State<AppState>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    if !plausible(&q.t) || !state.catalogue.unsubscribe(&q.t).await? {
        return unknown_link(lang);
    }
    page(lang, StatusCode::OK, json!({ "step": "unsubscribed" }))
}

async fn feed(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let found = if plausible(&id) {
        alerts::feed(&state.config, &state.catalogue, &id)
            .await
            .map_err(ApiError::internal)?
    } else {
        None
    };
    let Some(feed) = found else {
        return Err(ApiError::not_found(format!("no alert feed {id:?}")));
    };
    let xml = render_fragment("alert_feed.xml", &feed)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/atom+xml; charset=utf-8"),
        )],
        xml,
    )
        .into_response())
}
