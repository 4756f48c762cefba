//! The `users` function: profiles, privacy, search, stats, deactivation, health.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use shared::domain::page::{Page, PageQuery};
use shared::domain::profile::{NotificationPatch, ProfilePatch};
use shared::domain::social::ListedUser;
use shared::domain::user::OwnUserView;
use shared::http::{Caller, JsonBody, MaybeCaller, PathParam, QueryParams};
use shared::services::users::{DeactivateRequest, Profile, SearchQuery, Stats};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/users/search", get(search))
        .route("/api/users/profile", put(update_profile))
        .route("/api/users/notifications", put(update_notifications))
        .route("/api/users/deactivate", post(deactivate))
        .route("/api/users/by-username/{username}", get(by_username))
        .route("/api/users/{user_id}", get(profile))
        .route("/api/users/{user_id}/stats", get(stats))
        .route("/health", get(health))
        .route("/health/detailed", get(health_detailed))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

async fn search(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    QueryParams(query): QueryParams<SearchQuery>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<ListedUser>>> {
    Ok(Json(state.search(caller.as_ref(), query, page.validate()?).await?))
}

async fn profile(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(user_id): PathParam<String>,
) -> AppResult<Json<Profile>> {
    Ok(Json(state.profile(caller.as_ref(), &user_id).await?))
}

async fn by_username(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(username): PathParam<String>,
) -> AppResult<Json<Profile>> {
    Ok(Json(state.profile_by_username(caller.as_ref(), &username).await?))
}

async fn stats(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    PathParam(user_id): PathParam<String>,
) -> AppResult<Json<Stats>> {
    Ok(Json(state.stats(caller.as_ref(), &user_id).await?))
}

async fn update_profile(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<ProfilePatch>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.update_profile(&caller, patch).await?))
}

async fn update_notifications(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(patch): JsonBody<NotificationPatch>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.update_notifications(&caller, patch).await?))
}

async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<DeactivateRequest>,
) -> AppResult<Json<Value>> {
    state.deactivate(&caller, body).await?;
    Ok(Json(json!({})))
}

/// Liveness only: touches no dependency.
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn health_detailed(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (healthy, report) = state.health_report().await;
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}
