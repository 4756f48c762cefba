//! HTTP plumbing shared by every function: the request context, the JSON and bearer
//! extractors, and the layers that make every answer follow docs/API.md.

mod auth;
mod context;
pub mod cors;
mod json;

pub use crate::domain::client::{Caller, ClientInfo};
pub use auth::MaybeCaller;
pub use json::{parse_json, JsonBody, PathParam, QueryParams};

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::AppError;
use crate::state::AppState;

/// Request bodies above this answer 413 (docs/API.md).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Turns a function's routes into the complete service: the envelope for unknown routes
/// and wrong methods, the body limit, panic safety, the edge's check (when CloudFront is
/// in front), the request's deadline, request ids and security headers.
pub fn service(routes: Router<AppState>, state: AppState) -> Router {
    let deadline = std::time::Duration::from_millis(state.config.request_timeout_ms);
    routes
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(state.edge.clone(), context::through_the_edge))
        .layer(axum::middleware::from_fn_with_state(deadline, context::within_deadline))
        .layer(axum::middleware::from_fn(context::request_context))
        .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::internal("handler panicked").into_response()
}

/// Runs a function's router on Lambda, building it (AWS clients, keys) beside the
/// runtime's first poll instead of before it (see `Startup`).
pub async fn run_on_lambda<F>(build: F) -> Result<(), lambda_http::Error>
where
    F: std::future::Future<Output = Result<Router, crate::error::BoxError>> + Send + 'static,
{
    use tower::ServiceExt;

    let app = crate::startup::Startup::spawn(build);
    lambda_http::run(tower::service_fn(move |request: lambda_http::Request| {
        let app = app.clone();
        async move { app.get().await.clone().oneshot(request).await }
    }))
    .await
}
