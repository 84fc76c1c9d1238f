//! Roles and tokens: a token is 32 random bytes shown once; the catalogue keeps only its SHA-256.
//! Requests without a token are the anonymous public; a token that is not known is refused.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::error::ApiError;
use super::AppState;
use crate::catalogue::Catalogue;

/// Who is asking, from least to most allowed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Public,
    Press,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Press => "press",
            Role::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "press" => Some(Role::Press),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The caller of a request: its role from the `Authorization: Bearer` token, or public.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub Role);

impl Caller {
    /// Refuses a caller below `role`: 401 without a token, 403 with one that is not enough.
    pub fn require(self, role: Role) -> Result<(), ApiError> {
        match self.0 {
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

    pub fn sees_unpublished(self) -> bool {
        self.0 >= Role::Press
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already looked up for this request (the router's token check keeps it).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(*caller);
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // The pages' JavaScript passes the press token as a query parameter for downloads.
        let query_token = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(str::to_owned)
        });
        let token = match (header, query_token) {
            (Some(h), _) => Some(
                h.strip_prefix("Bearer ")
                    .ok_or_else(|| {
                        ApiError::unauthorized("Authorization must be \"Bearer <token>\"")
                    })?
                    .trim()
                    .to_owned(),
            ),
            (None, q) => q,
        };
        let Some(token) = token else {
            return Ok(Caller(Role::Public));
        };
        match role_of(&state.catalogue, &token).await? {
            Some(role) => Ok(Caller(role)),
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

async fn role_of(catalogue: &Catalogue, token: &str) -> Result<Option<Role>, ApiError> {
    let row = sqlx::query("SELECT role FROM tokens WHERE hash = $1")
        .bind(hash(token))
        .fetch_optional(catalogue.pool())
        .await
        .map_err(ApiError::internal)?;
    Ok(row.and_then(|r| Role::parse(&r.get::<String, _>(0))))
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
    sqlx::query("INSERT INTO tokens (hash, role, label, created_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(role.as_str())
        .bind(label)
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(catalogue.pool())
        .await?;
    Ok(token)
}
