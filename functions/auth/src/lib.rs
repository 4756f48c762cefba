//! The `auth` function: sign-up, sign-in, the caller's account, and the published keys.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use shared::http::{Caller, ClientInfo, JsonBody};
use shared::services::auth::{AuthResponse, LoginRequest, RegisterRequest};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/me", get(me))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(state.register(body, &client).await?)))
}

async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<LoginRequest>,
) -> AppResult<Json<AuthResponse>> {
    Ok(Json(state.login(body, &client).await?))
}

async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<impl IntoResponse> {
    Ok(Json(state.me(&caller).await?))
}

/// Public keys change only on rotation; consumers may cache them for a few minutes.
const PUBLIC_CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=300");

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([PUBLIC_CACHE], Json(state.tokens.public_jwks().clone()))
}

async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let issuer = state.tokens.issuer();
    let body = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
        "grant_types_supported": ["password", "refresh_token"],
    });
    ([PUBLIC_CACHE], Json(body))
}
