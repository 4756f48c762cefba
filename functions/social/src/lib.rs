//! The `social` function: follows, follow requests, blocks, reports, relationships.
//! Its routes arrive with the social issue; until then every path answers 404.

use axum::Router;
use shared::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}
