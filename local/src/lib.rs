//! The local server: every function's routes on one port, at the same paths as the
//! HTTP API, with the CORS answers API Gateway gives in AWS.

pub mod outbox;

use axum::Router;
use shared::AppState;

/// All routes of the service, as the tests and the local server mount them.
pub fn app(state: AppState) -> Router {
    let routes = auth::routes().merge(users::routes()).merge(social::routes());
    shared::http::service(routes, state)
}

/// The CORS layer from `CORS_ALLOWED_ORIGINS`, with the settings API Gateway uses.
pub fn cors_from_env() -> Result<tower_http::cors::CorsLayer, shared::error::BoxError> {
    use shared::http::cors;
    use tower_http::cors::{AllowOrigin, CorsLayer};

    let origins = std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_else(|_| cors::DEFAULT_ALLOWED_ORIGINS.into());
    let allow_origin = if origins.trim() == "*" {
        AllowOrigin::any()
    } else {
        let list = origins.split(',').map(|o| o.trim().parse()).collect::<Result<Vec<http::HeaderValue>, _>>()?;
        AllowOrigin::list(list)
    };
    let methods = cors::ALLOWED_METHODS.iter().map(|m| m.parse()).collect::<Result<Vec<http::Method>, _>>()?;
    let headers = |names: &[&str]| names.iter().map(|h| h.parse()).collect::<Result<Vec<http::HeaderName>, _>>();
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(methods)
        .allow_headers(headers(cors::ALLOWED_HEADERS)?)
        .expose_headers(headers(cors::EXPOSED_HEADERS)?)
        .max_age(std::time::Duration::from_secs(cors::MAX_AGE_SECS)))
}
