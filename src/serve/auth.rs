//! Roles and tokens: a token is 32 random bytes shown once; the catalogue keeps only its SHA-256.
//! Requests without a token are the anonymous public; a token that is not known is refused.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::catalogue::Catalogue;

pub use crate::catalogue::Role;

/// The caller of a request: its role from the `Authorization: Bearer` token, or public, and who
/// it is (the token's hash), which owns the jobs it asks for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub role: Role,
    /// The token's SHA-256; `None` for the public.
    pub owner: Option<String>,
}

impl Caller {
    pub fn public() -> Caller {
        Caller {
            role: Role::Public,
            owner: None,
        }
    }

    /// Refuses a caller below `role`: 401 without a token, 403 with one that is not enough.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        match self.role {
            r if r >= role => Ok(()),
            Role::Public => Err(ApiError::unauthorized(format!(
                "this needs a {} token (Authorization: Bearer ...)",
                role.as_str()
            ))),
            r => Err(ApiError::forbidden(format!(
                "a {} token cannot do this; it needs {}",
                r.as_str(),
                role.as_str()
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
        // Already looked up for this request (the router's token check keeps it).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        // Tokens come in the header only: in a URL they would end up in logs and histories.
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller::public());
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
            }),
            None => Err(ApiError::unauthorized("unknown token")),
        }
    }
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
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}
