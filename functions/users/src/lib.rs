//! The `users` function: profiles, privacy, search, stats, deactivation, health, and
//! the OpenAPI document of the whole service.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use shared::domain::page::{Page, PageQuery};
use shared::domain::profile::{NotificationPatch, ProfilePatch};
use shared::domain::social::ListedUser;
use shared::domain::user::OwnUserView;
use shared::domain::Id;
use shared::http::{Caller, JsonBody, MaybeCaller, PathParam, QueryParams};
use shared::openapi::{ApiError, Empty, RateLimited};
use shared::services::accounts::DeactivateRequest;
use shared::services::exports::{ExportStarted, ExportView};
use shared::services::health::{Health, HealthReport, Liveness};
use shared::services::profiles::{Profile, SearchQuery, Stats};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users/search", get(search))
        .route("/api/users/profile", put(update_profile))
        .route("/api/users/notifications", put(update_notifications))
        .route("/api/users/deactivate", post(deactivate))
        .route("/api/users/me/export", post(request_export))
        .route("/api/users/me/exports/{export_id}", get(export_status))
        .route("/api/users/by-username/{username}", get(by_username))
        .route("/api/users/{user_id}", get(profile))
        .route("/api/users/{user_id}/stats", get(stats))
        .route("/health", get(health))
        .route("/health/detailed", get(health_detailed))
        .route("/api/openapi.json", get(openapi_document))
        .route("/api/docs", get(api_docs))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        search,
        profile,
        by_username,
        update_profile,
        update_notifications,
        deactivate,
        request_export,
        export_status,
        stats,
        health,
        health_detailed,
        openapi_document,
        api_docs
    ),
    tags((name = "users", description = "Profiles, privacy, search and account state"))
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/api/users/search", tag = "users",
    params(SearchQuery, PageQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Matching users, an exact username first", body = Page<ListedUser>),
        (status = 400, description = "VALIDATION_ERROR (`q`, `limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED: a token was sent and is not valid", body = ApiError),
    ))]
async fn search(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    QueryParams(query): QueryParams<SearchQuery>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<ListedUser>>> {
    Ok(Json(state.profiles().search(caller.as_ref(), query.try_into()?, page.validate()?).await?))
}

#[utoipa::path(get, path = "/api/users/{userId}", tag = "users",
    params(("userId" = String, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "OwnUser for the caller, else User or LimitedUser", body = Profile),
        (status = 401, description = "UNAUTHORIZED: a token was sent and is not valid", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn profile(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<Profile>> {
    Ok(Json(state.profiles().profile(caller.as_ref(), &user_id).await?))
}

#[utoipa::path(get, path = "/api/users/by-username/{username}", tag = "users",
    params(("username" = String, Path, description = "Compared without regard to case")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "OwnUser for the caller, else User or LimitedUser", body = Profile),
        (status = 401, description = "UNAUTHORIZED: a token was sent and is not valid", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn by_username(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(username): PathParam<String>,
) -> AppResult<Json<Profile>> {
    Ok(Json(state.profiles().profile_by_username(caller.as_ref(), &username).await?))
}

#[utoipa::path(get, path = "/api/users/{userId}/stats", tag = "users",
    params(("userId" = String, Path)),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Stats),
        (status = 401, description = "UNAUTHORIZED: a token was sent and is not valid", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn stats(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<Stats>> {
    Ok(Json(state.profiles().stats(caller.as_ref(), &user_id).await?))
}

#[utoipa::path(put, path = "/api/users/profile", tag = "users",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated account; `null` clears a field", body = OwnUserView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn update_profile(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<ProfilePatch>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.profiles().update_profile(&caller, patch).await?))
}

#[utoipa::path(put, path = "/api/users/notifications", tag = "users",
    request_body = NotificationPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated account", body = OwnUserView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn update_notifications(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<NotificationPatch>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.profiles().update_notifications(&caller, patch).await?))
}

#[utoipa::path(post, path = "/api/users/deactivate", tag = "users",
    request_body = DeactivateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deactivated; every session ended", body = Empty),
        (status = 401, description = "UNAUTHORIZED or INVALID_CREDENTIALS (wrong password)", body = ApiError),
        (status = 429, description = "RATE_LIMITED: too many wrong passwords", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds"))),
    ))]
async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<DeactivateRequest>,
) -> AppResult<Json<Empty>> {
    state.accounts().deactivate(&caller, body.try_into()?).await?;
    Ok(Json(Empty {}))
}

#[utoipa::path(post, path = "/api/users/me/export", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The export is being built; a message announces it, and its status gives the link", body = ExportStarted),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: with MFA on, the session must have passed the second factor", body = ApiError),
        RateLimited,
    ))]
async fn request_export(State(state): State<AppState>, caller: Caller) -> AppResult<(StatusCode, Json<ExportStarted>)> {
    Ok((StatusCode::ACCEPTED, Json(state.exports().request(&caller).await?)))
}

#[utoipa::path(get, path = "/api/users/me/exports/{exportId}", tag = "users",
    params(("exportId" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export; when ready, a fresh link valid 24 hours", body = ExportView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such export of the caller (or it expired after 7 days)", body = ApiError),
    ))]
async fn export_status(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(export_id): PathParam<Id>,
) -> AppResult<Json<ExportView>> {
    Ok(Json(state.exports().status(&caller, &export_id).await?))
}

/// Liveness only: touches no dependency.
#[utoipa::path(get, path = "/health", tag = "users", responses((status = 200, body = Liveness)))]
async fn health() -> Json<Liveness> {
    Json(Liveness { status: Health::Ok })
}

#[utoipa::path(get, path = "/health/detailed", tag = "users",
    responses(
        (status = 200, description = "Every dependency answers", body = HealthReport),
        (status = 503, description = "DynamoDB does not answer", body = HealthReport),
    ))]
async fn health_detailed(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let report = state.health().report().await;
    let status = if report.status == Health::Ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}

/// The document changes only with a deployment.
#[utoipa::path(get, path = "/api/openapi.json", tag = "users",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
async fn openapi_document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")],
        shared::openapi::SPEC,
    )
}

/// The reference page, built from the document (`scripts/api-docs`): gzipped as built
/// in for every client that takes gzip (every browser), unpacked for one that does not.
#[utoipa::path(get, path = "/api/docs", tag = "users",
    security(()),
    responses((status = 200, description = "The API reference page (HTML, self-contained)", content_type = "text/html")))]
async fn api_docs(headers: HeaderMap) -> impl IntoResponse {
    let page_headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=300"),
        (header::CONTENT_SECURITY_POLICY, shared::openapi::docs_policy()),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::VARY, "accept-encoding"),
    ];
    if takes_gzip(&headers) {
        let body = axum::body::Body::from(shared::openapi::DOCS_PAGE_GZIP);
        (page_headers, [(header::CONTENT_ENCODING, "gzip")], body).into_response()
    } else {
        (page_headers, shared::openapi::docs_page()).into_response()
    }
}

/// Whether `Accept-Encoding` admits gzip (by name or `*`, with a weight above zero).
fn takes_gzip(headers: &HeaderMap) -> bool {
    let accepted = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    accepted.flat_map(|value| value.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}
