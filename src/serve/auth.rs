//! Who is asking: a script's token (32 random bytes shown once; the catalogue keeps only its
//! SHA-256) in the `Authorization` header, else a browser's signed-in web session (the
//! `aula_session` cookie), else the anonymous public. A token that is not known is refused; a
//! cookie that is not (expired, signed out, its user disabled) is the public. The [`guard`]
//! middleware finds the caller once per request and refuses a state-changing request that the
//! cookie authenticates without the session's CSRF token.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::catalogue::Catalogue;

pub use crate::catalogue::Role;

/// The cookie of a signed-in web session.
pub const SESSION_COOKIE: &str = "aula_session";
/// The header a page's script sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field a page's form sends the session's CSRF token in.
pub const CSRF_FIELD: &str = "csrf";

/// The caller of a request: its role from the `Authorization: Bearer` token or the signed-in
/// user's cookie, or public, and who it is (the token's hash, or `user:NAME`), which owns the
/// jobs it asks for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub role: Role,
    /// The token's SHA-256 or `user:NAME`; `None` for the public.
    pub owner: Option<String>,
    /// The signed-in user, when the cookie (not a token) authenticated the request.
    pub web: Option<WebUser>,
}

/// A user signed in by the cookie, as the pages show it.
#[derive(Clone, Debug, Serialize)]
pub struct WebUser {
    pub name: String,
    pub role: Role,
    pub csrf_token: String,
}

impl Caller {
    pub fn public() -> Caller {
        Caller {
            role: Role::Public,
            owner: None,
            web: None,
        }
    }

    /// Who a correction or a mark is by: the signed-in user's name, else `api` for a token.
    pub fn author(&self) -> &str {
        self.web.as_ref().map_or("api", |w| w.name.as_str())
    }

    /// Whether the caller's role grants what `role` may do. Roles are ordered (clerk, press,
    /// admin), except that live control, the clerk's, is not the press office's: press is
    /// above clerk for clips and the unpublished, not for steering a session.
    pub fn grants(&self, role: Role) -> bool {
        match role {
            Role::Clerk => matches!(self.role, Role::Clerk | Role::Admin),
            role => self.role >= role,
        }
    }

    /// Refuses a caller whose role does not grant `role` ([`Caller::grants`]): 401 for the
    /// public, 403 for a token or user not enough.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        match self.role {
            _ if self.grants(role) => Ok(()),
            Role::Public => Err(ApiError::unauthorized(format!(
                "this needs a {} token (Authorization: Bearer ...) or a {} user signed in at /signin",
                role.as_str(),
                role.as_str()
            ))),
            r => Err(ApiError::forbidden(format!(
                "a {} {} cannot do this; it needs {}",
                r.as_str(),
                if self.web.is_some() { "user" } else { "token" },
                if role == Role::Clerk {
                    "clerk or admin"
                } else {
                    role.as_str()
                }
            ))),
        }
    }

    pub fn sees_unpublished(&self) -> bool {
        self.role >= Role::Press
    }

    /// Whether the caller may see closed parts (the presidency's staff).
    pub fn sees_closed(&self) -> bool {
        self.role >= Role::Admin
    }
}

/// The token of an `Authorization` header value: the scheme `Bearer` in any case (RFC 9110),
/// one or more spaces, the token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already looked up for this request (the router's guard keeps it).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        // Tokens come in the header only: in a URL they would end up in logs and histories.
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return from_cookie(&parts.headers, state).await;
        };
        let token =
            header.to_str().ok().and_then(bearer_token).ok_or_else(|| {
                ApiError::unauthorized("Authorization must be \"Bearer <token>\"")
            })?;
        let owner = hash(token);
        match state.catalogue.token_role(&owner).await? {
            Some(role) => Ok(Caller {
                role,
                owner: Some(owner),
                web: None,
            }),
            None => Err(ApiError::unauthorized("unknown token")),
        }
    }
}

/// The value of the cookie `name` in a request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The caller a request's session cookie signs in, or the public.
async fn from_cookie(headers: &HeaderMap, state: &AppState) -> Result<Caller, ApiError> {
    let Some(value) = cookie(headers, SESSION_COOKIE).filter(|v| !v.is_empty() && v.len() <= 128)
    else {
        return Ok(Caller::public());
    };
    let found = crate::ops::accounts::session(&state.catalogue, value).await?;
    Ok(found.map_or_else(Caller::public, |s| Caller {
        role: s.role,
        owner: Some(format!("user:{}", s.user)),
        web: Some(WebUser {
            name: s.user,
            role: s.role,
            csrf_token: s.csrf_token,
        }),
    }))
}

tokio::task_local! {
    /// The user signed in for the request being answered, for the pages' header.
    static VIEWER: Option<WebUser>;
}

/// The user the cookie signed in for the request being answered (none outside a request).
pub fn viewer() -> Option<WebUser> {
    VIEWER.try_with(Clone::clone).ok().flatten()
}

/// A `Set-Cookie` value; `Secure` when the service is reached over HTTPS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age_s: i64) -> String {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}")
}

/// The CSRF token a request carries: the header, else a `csrf` field of a urlencoded form body
/// (the body is read and given back to the handler).
async fn csrf_of(request: Request) -> Result<(Request, Option<String>), ApiError> {
    if let Some(v) = request.headers().get(CSRF_HEADER) {
        let token = v.to_str().ok().map(str::to_owned);
        return Ok((request, token));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, super::BODY_LIMIT_BYTES)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// Finds the caller once for every route and keeps it for the handlers. A request carrying a
/// token that is not known is refused (401), never taken for the public. A POST, PUT, PATCH or
/// DELETE that the session cookie authenticates must carry the session's CSRF token (403); a
/// token in the header is exempt, since a browser never adds it by itself. A session cookie
/// that no longer signs anyone in is cleared in the answer.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let stale_cookie =
        caller.role == Role::Public && cookie(&parts.headers, SESSION_COOKIE).is_some();
    let changes_state = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let mut request = Request::from_parts(parts, body);
    if let (Some(web), true) = (&caller.web, changes_state) {
        let (checked, token) = match csrf_of(request).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        };
        let good = token.is_some_and(|t| crate::ops::accounts::same_secret(&t, &web.csrf_token));
        if !good {
            return ApiError::forbidden(format!(
                "missing or wrong CSRF token: a request signed in by the {SESSION_COOKIE} cookie \
                 that changes something must send the session's token in the {CSRF_HEADER} \
                 header or a {CSRF_FIELD} form field (pages have it in <meta name=\"csrf-token\">)"
            ))
            .into_response();
        }
        request = checked;
    }
    let viewer = caller.web.clone();
    request.extensions_mut().insert(caller);
    let mut response = VIEWER.scope(viewer, next.run(request)).await;
    if stale_cookie {
        if let Ok(v) = HeaderValue::from_str(&set_cookie(&state, SESSION_COOKIE, "", "/", 0)) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a token for `role`; returns it (the only time it is seen).
pub async fn create_token(
    catalogue: &Catalogue,
    role: Role,
    label: &str,
) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let token = format!("aula_{}", hex(&bytes));
    catalogue.add_token(&hash(&token), role, label).await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_control_is_the_clerks_and_the_presidencys_not_the_press_offices() {
        let as_role = |role| Caller {
            role,
            owner: None,
            web: None,
        };
        let may = |role, needed| as_role(role).grants(needed);
        assert!(may(Role::Clerk, Role::Clerk) && may(Role::Admin, Role::Clerk));
        assert!(!may(Role::Press, Role::Clerk) && !may(Role::Public, Role::Clerk));
        assert!(may(Role::Press, Role::Press) && !may(Role::Clerk, Role::Press));
        assert!(may(Role::Admin, Role::Admin) && !may(Role::Press, Role::Admin));
        assert!(may(Role::Public, Role::Public));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}
