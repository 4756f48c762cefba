use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::{AppError, FieldError};

/// A JSON request body: 415 for another content type, 413 above the body limit,
/// `INVALID_JSON` for malformed JSON, `VALIDATION_ERROR` naming the field for a value of
/// the wrong type or an unknown field. An empty body reads as `{}`, so that missing
/// required fields are all reported at once by the validation that follows.
pub struct JsonBody<T>(pub T);

fn is_json(req: &Request) -> bool {
    let Some(value) = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let declared_json = is_json(&req);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge
            } else {
                AppError::InvalidJson("the body could not be read".into())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse_json(b"{}").map(JsonBody);
        }
        if !declared_json {
            return Err(AppError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON object into `T`, telling syntax errors apart from values of the wrong
/// shape. Every body of this API is an object (serde would also take an array for a struct).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::InvalidJson("the body must be a JSON object".into()));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Data => AppError::Validation(vec![FieldError::new(path, describe(&inner))]),
            _ => AppError::InvalidJson(describe(&inner)),
        }
    })?;
    deserializer.end().map_err(|err| AppError::InvalidJson(describe(&err)))?;
    Ok(value)
}

/// serde's message without its " at line L column C" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A path parameter; one that cannot be read (e.g. invalid percent-encoding) names no
/// resource, so it is a 404 in the envelope rather than axum's plain-text 400.
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for PathParam<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|_| AppError::NotFound)
    }
}

/// Query parameters; a value that cannot be read is a `VALIDATION_ERROR`. Unknown
/// parameters are ignored, as caches and proxies add their own.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|e| AppError::Validation(vec![FieldError::new("query", e.body_text())]))
    }
}
