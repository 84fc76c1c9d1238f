//! Signing in and out in the browser: `GET /signin` (the form), `POST /signin` (name, password,
//! the form's token; then to `?next=` if it is a path of this site, else `/workspace`) and
//! `POST /signout`. The session cookie lasts [`SESSION_HOURS`] hours; the form's own CSRF
//! protection is a double-submit cookie (`aula_signin`, set with the form, whose value the form
//! must send back), since there is no session yet to hold a token.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::auth::{cookie, set_cookie, Caller, SESSION_COOKIE};
use super::error::ApiError;
use super::pages::{render, Lang};
use super::AppState;
use crate::ops::accounts::{self, SESSION_HOURS};

/// The double-submit cookie of the sign-in form.
const FORM_COOKIE: &str = "aula_signin";
/// How long a sign-in form may be left open before it is sent, in seconds.
const FORM_MAX_AGE_S: i64 = 3600;
/// Where a signed-in user goes when `next` is missing or not a path of this site.
const DEFAULT_NEXT: &str = "/workspace";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin", get(form).post(sign_in))
        .route("/signout", axum::routing::post(sign_out))
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    lang: Option<String>,
    next: Option<String>,
}

/// `next` if it is a path of this site: one leading `/`, no backslash, no control character
/// (`//host` and `/\host` would leave the site).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2048;
    local.then_some(next)
}

/// Why the form is shown again.
#[derive(Clone, Copy)]
enum Refusal {
    WrongPassword,
    StaleForm,
}

/// The sign-in form with a fresh form token (its cookie set alongside).
fn page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    next: &str,
    name: &str,
    refusal: Option<Refusal>,
) -> Result<Response, ApiError> {
    let token = accounts::form_token().map_err(ApiError::internal)?;
    let error = refusal.map(|r| match r {
        Refusal::WrongPassword => "wrong_password",
        Refusal::StaleForm => "stale_form",
    });
    let html = render(
        "signin.html",
        lang,
        json!({ "form_csrf": token, "next": next, "name": name, "error": error }),
    )?;
    let mut response = (status, html).into_response();
    append_cookie(
        &mut response,
        &set_cookie(state, FORM_COOKIE, &token, "/signin", FORM_MAX_AGE_S),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn append_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn redirect(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static(DEFAULT_NEXT));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

async fn form(
    State(state): State<AppState>,
    Query(q): Query<SignInQuery>,
) -> Result<Response, ApiError> {
    let next = q.next.as_deref().and_then(local_path).unwrap_or("");
    page(
        &state,
        Lang::parse(q.lang.as_deref()),
        StatusCode::OK,
        next,
        "",
        None,
    )
}

/// The client's address, when the server knows it.
fn client(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string())
}

/// A urlencoded form's field; empty when the form has none.
pub(super) fn field(body: &[u8], name: &str) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn sign_in(
    State(state): State<AppState>,
    Query(q): Query<SignInQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let lang = Lang::parse(q.lang.as_deref());
    let address = client(&request);
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, super::BODY_LIMIT_BYTES)
        .await
        .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    let name = field(&body, "name");
    let next_field = field(&body, "next");
    let next = local_path(&next_field)
        .or_else(|| q.next.as_deref().and_then(local_path))
        .unwrap_or("");
    let sent = field(&body, "csrf");
    let expected = cookie(&parts.headers, FORM_COOKIE).unwrap_or("");
    if sent.is_empty() || !accounts::same_secret(&sent, expected) {
        tracing::warn!(user = ?short(&name), client = %address, "sign-in form without its token refused");
        return page(
            &state,
            lang,
            StatusCode::FORBIDDEN,
            next,
            &name,
            Some(Refusal::StaleForm),
        );
    }
    let password = field(&body, "password");
    let signed = accounts::sign_in(&state.catalogue, &state.throttle, &name, &password).await?;
    let signed = match signed {
        Ok(signed) => signed,
        Err(refused) => {
            tracing::warn!(
                user = ?short(&name),
                client = %address,
                recent_failures = refused.failures,
                "sign-in refused: wrong user name or password"
            );
            return page(
                &state,
                lang,
                StatusCode::UNAUTHORIZED,
                next,
                &name,
                Some(Refusal::WrongPassword),
            );
        }
    };
    tracing::info!(user = %signed.session.user, client = %address, "signed in");
    let to = if next.is_empty() {
        format!("{DEFAULT_NEXT}{}", lang.query())
    } else {
        next.to_owned()
    };
    let mut response = redirect(&to);
    append_cookie(
        &mut response,
        &set_cookie(
            &state,
            SESSION_COOKIE,
            &signed.cookie,
            "/",
            SESSION_HOURS * 3600,
        ),
    );
    append_cookie(
        &mut response,
        &set_cookie(&state, FORM_COOKIE, "", "/signin", 0),
    );
    Ok(response)
}

/// A user name as logged: at most 80 characters (the log quotes and escapes it).
fn short(name: &str) -> String {
    name.chars().take(80).collect()
}

/// Ends the session of the cookie (the guard has checked the CSRF token) and clears the cookie.
async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SignInQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let (Some(web), Some(value)) = (&caller.web, cookie(&headers, SESSION_COOKIE)) {
        accounts::sign_out(&state.catalogue, value).await?;
        tracing::info!(user = %web.name, "signed out");
    }
    let lang = Lang::parse(q.lang.as_deref());
    let mut response = redirect(&format!("/{}", lang.query()));
    append_cookie(
        &mut response,
        &set_cookie(&state, SESSION_COOKIE, "", "/", 0),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        for good in ["/press", "/sessions/s1?lang=en", "/"] {
            assert_eq!(local_path(good), Some(good));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil.example",
            "",
            "/a\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
