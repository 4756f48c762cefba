//! Sign-in with Google, Apple or any OpenID provider, and the caller's linked identities.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use shared::domain::identity::IdentityView;
use shared::http::{Caller, ClientInfo, JsonBody, PathParam, QueryParams};
use shared::openapi::{ApiError, RateLimited};
use shared::services::accounts::AuthResponse;
use shared::services::federation::{
    AuthorizeQuery, CallbackQuery, ExchangeRequest, FederatedSignIn, FederatedSignupRequest, FederatedTokenRequest,
    IdentityList, LinkRequest, ProviderList,
};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/federated/providers", get(federated_providers))
        .route("/api/auth/federated/{provider}/token", post(federated_token))
        .route("/api/auth/federated/{provider}/authorize", get(federated_authorize))
        .route("/api/auth/federated/{provider}/callback", get(federated_callback))
        .route("/api/auth/federated/exchange", post(federated_exchange))
        .route("/api/auth/federated/signup", post(federated_signup))
        .route("/api/auth/federated/link", post(federated_link))
        .route("/api/auth/identities", get(identities))
        .route("/api/auth/identities/{provider}", delete(unlink_identity))
}

/// A provider id from the path: `google`, `apple`, or one of the configuration's (any
/// other shape names no provider: 404).
#[derive(Debug, serde::Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct ProviderId(String);

impl TryFrom<String> for ProviderId {
    type Error = &'static str;

    fn try_from(segment: String) -> Result<Self, Self::Error> {
        let ok = !segment.is_empty()
            && segment.len() <= 32
            && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then_some(ProviderId(segment)).ok_or("not a provider id")
    }
}

fn found(location: String) -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, location)])
}

#[utoipa::path(get, path = "/api/auth/federated/providers", tag = "auth",
    responses((status = 200, description = "The providers accounts may sign in with", body = ProviderList)))]
pub(crate) async fn federated_providers(State(state): State<AppState>) -> Json<ProviderList> {
    Json(state.federation().providers())
}

#[utoipa::path(post, path = "/api/auth/federated/{provider}/token", tag = "auth",
    params(("provider" = String, Path)),
    request_body = FederatedTokenRequest,
    responses(
        (status = 200, description = "Signed in (`amr [\"fed\"]`, `aal1`), `mfaRequired`, or `signupRequired` with a `signupToken`", body = FederatedSignIn),
        (status = 401, description = "INVALID_TOKEN: signature, issuer, audience, expiry, issue time, nonce, or a token presented before", body = ApiError),
        (status = 403, description = "ACCOUNT_SUSPENDED; ACCOUNT_DEACTIVATED, within the reactivation window with `error.reactivationToken`, which `reactivate` takes", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such provider", body = ApiError),
        (status = 409, description = "ACCOUNT_EXISTS: an account has the identity's email; `error.linkToken` links it once its owner signs in", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn federated_token(
    State(state): State<AppState>,
    client: ClientInfo,
    PathParam(provider): PathParam<ProviderId>,
    JsonBody(body): JsonBody<FederatedTokenRequest>,
) -> AppResult<Json<FederatedSignIn>> {
    Ok(Json(state.federation().token(&provider.0, body, &client).await?))
}

#[utoipa::path(get, path = "/api/auth/federated/{provider}/authorize", tag = "auth",
    params(("provider" = String, Path), AuthorizeQuery),
    responses(
        (status = 302, description = "To the provider (code flow with PKCE S256; `state` and `nonce` kept 10 minutes)"),
        (status = 400, description = "VALIDATION_ERROR: `redirectUri` is not one of the app's configured ones", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such provider", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn federated_authorize(
    State(state): State<AppState>,
    client: ClientInfo,
    PathParam(provider): PathParam<ProviderId>,
    QueryParams(query): QueryParams<AuthorizeQuery>,
) -> AppResult<impl IntoResponse> {
    Ok(found(state.federation().authorize(&provider.0, query, &client).await?))
}

#[utoipa::path(get, path = "/api/auth/federated/{provider}/callback", tag = "auth",
    params(("provider" = String, Path), CallbackQuery),
    responses(
        (status = 302, description = "To the app's `redirectUri` with `?loginCode=` (single use, 60 s) or `?error=`"),
        (status = 401, description = "INVALID_TOKEN: an unknown, used or expired `state` (there is nowhere to send the browser back to)", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such provider", body = ApiError),
    ))]
pub(crate) async fn federated_callback(
    State(state): State<AppState>,
    PathParam(provider): PathParam<ProviderId>,
    QueryParams(query): QueryParams<CallbackQuery>,
) -> AppResult<impl IntoResponse> {
    Ok(found(state.federation().callback(&provider.0, query).await?))
}

#[utoipa::path(post, path = "/api/auth/federated/exchange", tag = "auth",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "As for `token`", body = FederatedSignIn),
        (status = 401, description = "INVALID_TOKEN: an unknown, used or expired `loginCode`", body = ApiError),
        (status = 403, description = "ACCOUNT_SUSPENDED; ACCOUNT_DEACTIVATED, within the reactivation window with `error.reactivationToken`, which `reactivate` takes", body = ApiError),
        (status = 409, description = "ACCOUNT_EXISTS, with `error.linkToken`", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn federated_exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ExchangeRequest>,
) -> AppResult<Json<FederatedSignIn>> {
    Ok(Json(state.federation().exchange(body, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/federated/signup", tag = "auth",
    request_body = FederatedSignupRequest,
    responses(
        (status = 201, description = "An account without a password (`hasPassword: false`), the identity linked, a first session", body = AuthResponse),
        (status = 400, description = "VALIDATION_ERROR", body = ApiError),
        (status = 401, description = "INVALID_TOKEN: an unknown, used or expired `signupToken`", body = ApiError),
        (status = 409, description = "USERNAME_TAKEN or EMAIL_TAKEN (the token stays usable for another username)", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn federated_signup(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<FederatedSignupRequest>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(state.federation().signup(body, &client).await?)))
}

#[utoipa::path(post, path = "/api/auth/federated/link", tag = "auth",
    request_body = LinkRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The identity is linked to the caller's account", body = IdentityView),
        (status = 401, description = "UNAUTHORIZED; INVALID_TOKEN: an unknown, used or expired `linkToken`, or one made for another account", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: with a second factor on, the session must have passed it", body = ApiError),
        (status = 409, description = "CONFLICT: the identity, or one of this provider, is linked already", body = ApiError),
    ))]
pub(crate) async fn federated_link(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<LinkRequest>,
) -> AppResult<Json<IdentityView>> {
    Ok(Json(state.federation().link(&caller, body).await?))
}

#[utoipa::path(get, path = "/api/auth/identities", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's linked identities", body = IdentityList),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
pub(crate) async fn identities(State(state): State<AppState>, caller: Caller) -> AppResult<Json<IdentityList>> {
    Ok(Json(state.federation().identities(&caller).await?))
}

#[utoipa::path(delete, path = "/api/auth/identities/{provider}", tag = "auth",
    params(("provider" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The identity no longer signs in to the account"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no identity of that provider", body = ApiError),
        (status = 409, description = "CONFLICT: it is the account's only way to sign in", body = ApiError),
    ))]
pub(crate) async fn unlink_identity(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(provider): PathParam<ProviderId>,
) -> AppResult<StatusCode> {
    state.federation().unlink(&caller, &provider.0).await?;
    Ok(StatusCode::NO_CONTENT)
}
