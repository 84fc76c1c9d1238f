//! API errors as JSON `{"error": "...", "problems": [...]}` with the status that fits; bad input
//! from the operations (unknown ids, refused documents, bad ranges) becomes 400, 404 or 409. A 5xx
//! shows no internal text: the log has it, under the request's id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use session::Problem;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Each problem of a refused document, with its field path.
    pub problems: Vec<Problem>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    /// A failure of the system: logged in full, shown to the client as "internal error".
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> ApiError {
        use crate::ops::ErrorKind;
        let status = match crate::ops::kind_of(&err) {
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => return ApiError::internal(format!("{err:#}")),
        };
        ApiError::new(status, format!("{err:#}"))
    }
}

impl From<crate::catalogue::CatalogueError> for ApiError {
    fn from(err: crate::catalogue::CatalogueError) -> ApiError {
        anyhow::Error::new(err).into()
    }
}

impl ApiError {
    /// The error of a refused document, with each of its problems.
    fn with_problems<E>(err: E, problems: Vec<Problem>) -> ApiError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        ApiError {
            problems,
            ..ApiError::from(anyhow::Error::new(err))
        }
    }
}

impl From<crate::ops::import::ImportError> for ApiError {
    fn from(err: crate::ops::import::ImportError) -> ApiError {
        let problems = err.problems();
        ApiError::with_problems(err, problems)
    }
}

impl From<crate::ops::evidence::EvidenceError> for ApiError {
    fn from(err: crate::ops::evidence::EvidenceError) -> ApiError {
        let problems = err.problems();
        ApiError::with_problems(err, problems)
    }
}

impl From<session::BadSessionId> for ApiError {
    fn from(err: session::BadSessionId) -> ApiError {
        ApiError::bad_request(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if !self.problems.is_empty() {
            body["problems"] = json!(self
                .problems
                .iter()
                .map(|p| json!({"path": p.path, "reason": p.reason}))
                .collect::<Vec<_>>());
        }
        (self.status, Json(body)).into_response()
    }
}

/// Parses a JSON body, naming what is wrong with it (400).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// Parses a JSON body that must be an object (400 for an array, a number, a string, ...).
pub fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match parse_json::<serde_json::Value>(body)? {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(ApiError::bad_request(format!(
            "the body must be a JSON object, not {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
