//! API errors as JSON `{"error": "..."}` with the status that fits; bad input from the command
//! layer (unknown ids, refused documents, bad ranges) becomes 400 or 404.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
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

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> ApiError {
        let not_found = err.chain().any(|c| {
            matches!(
                c.downcast_ref::<crate::catalogue::CatalogueError>(),
                Some(crate::catalogue::CatalogueError::NotFound(_))
            )
        });
        if not_found {
            ApiError::not_found(format!("{err:#}"))
        } else if crate::exit_code(&err) == 2 {
            ApiError::bad_request(format!("{err:#}"))
        } else {
            ApiError::internal(format!("{err:#}"))
        }
    }
}

impl From<crate::catalogue::CatalogueError> for ApiError {
    fn from(err: crate::catalogue::CatalogueError) -> ApiError {
        anyhow::Error::new(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// Parses a JSON body, naming what is wrong with it (400).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}
