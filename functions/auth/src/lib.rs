//! The `auth` function: sign-up, sign-in, the caller's account, and the published keys.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use shared::domain::user::OwnUserView;
use shared::services::verification::{ForgotPasswordRequest, ResetPasswordRequest, TokenRequest};
use shared::http::{Caller, ClientInfo, JsonBody, PathParam};
use shared::services::auth::{AuthResponse, LoginRequest, RegisterRequest, TokenPair};
use shared::services::sessions::{ChangePasswordRequest, LogoutRequest, RefreshRequest, Revoked, SessionList};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
        .route("/api/auth/change-password", post(change_password))
        .route("/api/auth/sessions", get(sessions).delete(revoke_other_sessions))
        .route("/api/auth/sessions/{session_id}", delete(revoke_session))
        .route("/api/auth/reactivate", post(reactivate))
        .route("/api/auth/verify-email", post(verify_email))
        .route("/api/auth/resend-verification", post(resend_verification))
        .route("/api/auth/forgot-password", post(forgot_password))
        .route("/api/auth/reset-password", post(reset_password))
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

async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<TokenRequest>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.verify_email(body, &client).await?))
}

async fn resend_verification(State(state): State<AppState>, caller: Caller) -> AppResult<(StatusCode, Json<Value>)> {
    state.resend_verification(&caller).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ForgotPasswordRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    state.forgot_password(body, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> AppResult<Json<Value>> {
    state.reset_password(body, &client).await?;
    Ok(Json(json!({})))
}

async fn reactivate(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<LoginRequest>,
) -> AppResult<Json<AuthResponse>> {
    Ok(Json(state.reactivate(body, &client).await?))
}

async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(state.refresh(body).await?))
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<LogoutRequest>,
) -> AppResult<StatusCode> {
    state.logout(&caller, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<impl IntoResponse> {
    Ok(Json(state.me(&caller).await?))
}

async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(state.change_password(&caller, body).await?))
}

async fn sessions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<SessionList>> {
    Ok(Json(state.sessions(&caller).await?))
}

async fn revoke_other_sessions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Revoked>> {
    Ok(Json(state.revoke_other_sessions(&caller).await?))
}

async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(session_id): PathParam<String>,
) -> AppResult<StatusCode> {
    state.revoke_session(&caller, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
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
