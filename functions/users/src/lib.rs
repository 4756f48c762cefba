//! The `users` function: profiles, privacy, search, stats, deactivation, health.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use shared::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

/// Liveness only: touches no dependency.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
