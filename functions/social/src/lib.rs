//! The `social` function: follows, follow requests, lists, blocks, reports, relationships.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::domain::page::{Page, PageQuery};
use shared::domain::social::{ListedUser, Relationship};
use shared::http::{Caller, JsonBody, PathParam, QueryParams};
use shared::services::social::{
    BlockRequest, BlockStatus, FollowStatus, ReportCreated, ReportRequest, TargetRequest, UserList,
};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/social/follow", post(follow))
        .route("/api/social/unfollow", post(unfollow))
        .route("/api/social/{user_id}/followers", get(followers))
        .route("/api/social/{user_id}/following", get(following))
        .route("/api/social/requests", get(requests))
        .route("/api/social/requests/{user_id}/accept", post(accept))
        .route("/api/social/requests/{user_id}/reject", post(reject))
        .route("/api/social/block", post(block))
        .route("/api/social/unblock", post(unblock))
        .route("/api/social/blocked", get(blocked))
        .route("/api/social/report", post(report))
        .route("/api/social/relationship/{user_id}", get(relationship))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

type Listed = AppResult<Json<Page<ListedUser>>>;

async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.follow(&caller, body).await?))
}

async fn unfollow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.unfollow(&caller, body).await?))
}

async fn followers(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<String>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Listed {
    Ok(Json(state.user_list(&caller, &user_id, UserList::Followers, page.validate()?).await?))
}

async fn following(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<String>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Listed {
    Ok(Json(state.user_list(&caller, &user_id, UserList::Following, page.validate()?).await?))
}

async fn requests(State(state): State<AppState>, caller: Caller, QueryParams(page): QueryParams<PageQuery>) -> Listed {
    Ok(Json(state.follow_requests(&caller, page.validate()?).await?))
}

async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<String>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.accept_request(&caller, &user_id).await?))
}

async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<String>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.reject_request(&caller, &user_id).await?))
}

async fn block(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<BlockRequest>,
) -> AppResult<Json<BlockStatus>> {
    Ok(Json(state.block(&caller, body).await?))
}

async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<BlockStatus>> {
    Ok(Json(state.unblock(&caller, body).await?))
}

async fn blocked(State(state): State<AppState>, caller: Caller, QueryParams(page): QueryParams<PageQuery>) -> Listed {
    Ok(Json(state.blocked_users(&caller, page.validate()?).await?))
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ReportRequest>,
) -> AppResult<(StatusCode, Json<ReportCreated>)> {
    Ok((StatusCode::CREATED, Json(state.report(&caller, body).await?)))
}

async fn relationship(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<String>,
) -> AppResult<Json<Relationship>> {
    Ok(Json(state.relationship(&caller, &user_id).await?))
}
