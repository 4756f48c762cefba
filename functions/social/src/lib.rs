//! The `social` function: follows, follow requests, lists, blocks, reports, relationships.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::domain::page::{Page, PageQuery};
use shared::domain::social::{ListedUser, Relationship};
use shared::domain::Id;
use shared::http::{Caller, JsonBody, PathParam, QueryParams};
use shared::openapi::{ApiError, RateLimited};
use shared::services::social::{
    BlockRequest, BlockStatus, FollowStatus, MuteRequest, MuteStatus, MutedUser, ReportCreated, ReportRequest,
    TargetRequest, UnmuteStatus, UserList,
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
        .route("/api/social/mute", post(mute))
        .route("/api/social/unmute", post(unmute))
        .route("/api/social/muted", get(muted))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        follow, unfollow, followers, following, requests, accept, reject, block, unblock, blocked, report,
        relationship, mute, unmute, muted
    ),
    tags((name = "social", description = "Follows, follow requests, blocks, mutes and reports"))
)]
pub struct ApiDoc;

type Listed = AppResult<Json<Page<ListedUser>>>;

#[utoipa::path(post, path = "/api/social/follow", tag = "social",
    request_body = TargetRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "`following`, or `requested` for a private account", body = FollowStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: a block between the two", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.social().follow(&caller, body.target(&caller, "follow")?).await?))
}

#[utoipa::path(post, path = "/api/social/unfollow", tag = "social",
    request_body = TargetRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "`none`; also cancels a pending request", body = FollowStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn unfollow(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.social().unfollow(&caller, body.target(&caller, "unfollow")?).await?))
}

#[utoipa::path(get, path = "/api/social/{userId}/followers", tag = "social",
    params(("userId" = String, Path), PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first", body = Page<ListedUser>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: the caller may not see this user's connections", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn followers(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Listed {
    Ok(Json(state.social().user_list(&caller, &user_id, UserList::Followers, page.validate()?).await?))
}

#[utoipa::path(get, path = "/api/social/{userId}/following", tag = "social",
    params(("userId" = String, Path), PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first", body = Page<ListedUser>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: the caller may not see this user's connections", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn following(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Listed {
    Ok(Json(state.social().user_list(&caller, &user_id, UserList::Following, page.validate()?).await?))
}

#[utoipa::path(get, path = "/api/social/requests", tag = "social",
    params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Incoming follow requests, newest first", body = Page<ListedUser>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn requests(State(state): State<AppState>, caller: Caller, QueryParams(page): QueryParams<PageQuery>) -> Listed {
    Ok(Json(state.social().follow_requests(&caller, page.validate()?).await?))
}

#[utoipa::path(post, path = "/api/social/requests/{userId}/accept", tag = "social",
    params(("userId" = String, Path, description = "Who asked")), security(("bearer" = [])),
    responses(
        (status = 200, description = "`following`", body = FollowStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no pending request from this user", body = ApiError),
    ))]
async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.social().accept_request(&caller, &user_id).await?))
}

#[utoipa::path(post, path = "/api/social/requests/{userId}/reject", tag = "social",
    params(("userId" = String, Path, description = "Who asked")), security(("bearer" = [])),
    responses(
        (status = 200, description = "`none`", body = FollowStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no pending request from this user", body = ApiError),
    ))]
async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<FollowStatus>> {
    Ok(Json(state.social().reject_request(&caller, &user_id).await?))
}

#[utoipa::path(post, path = "/api/social/block", tag = "social",
    request_body = BlockRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Blocked; follows and requests both ways are removed", body = BlockStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn block(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<BlockRequest>,
) -> AppResult<Json<BlockStatus>> {
    Ok(Json(state.social().block(&caller, body.block(&caller)?).await?))
}

#[utoipa::path(post, path = "/api/social/unblock", tag = "social",
    request_body = TargetRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = BlockStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<BlockStatus>> {
    Ok(Json(state.social().unblock(&caller, body.target(&caller, "unblock")?).await?))
}

#[utoipa::path(get, path = "/api/social/blocked", tag = "social",
    params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The users the caller blocks, newest first", body = Page<ListedUser>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn blocked(State(state): State<AppState>, caller: Caller, QueryParams(page): QueryParams<PageQuery>) -> Listed {
    Ok(Json(state.social().blocked_users(&caller, page.validate()?).await?))
}

#[utoipa::path(post, path = "/api/social/report", tag = "social",
    request_body = ReportRequest, security(("bearer" = [])),
    responses(
        (status = 201, description = "The report is open", body = ReportCreated),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "EMAIL_NOT_VERIFIED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
        (status = 409, description = "ALREADY_REPORTED: an open report of this user by the caller exists", body = ApiError),
        RateLimited,
    ))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ReportRequest>,
) -> AppResult<(StatusCode, Json<ReportCreated>)> {
    Ok((StatusCode::CREATED, Json(state.social().report(&caller, body.report(&caller)?).await?)))
}

#[utoipa::path(get, path = "/api/social/relationship/{userId}", tag = "social",
    params(("userId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "The flags, from the caller's side (the caller's own mute included)", body = Relationship),
        (status = 400, description = "VALIDATION_ERROR: the caller's own id", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, deactivated, or blocking the caller", body = ApiError),
    ))]
async fn relationship(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<Relationship>> {
    Ok(Json(state.social().relationship(&caller, &user_id).await?))
}

#[utoipa::path(post, path = "/api/social/mute", tag = "social",
    request_body = MuteRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Muted (again: the mute is replaced); the muted user is not told", body = MuteStatus),
        (status = 400, description = "VALIDATION_ERROR: the caller's own id, or `durationSeconds` out of range", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user, or deactivated", body = ApiError),
    ))]
async fn mute(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<MuteRequest>,
) -> AppResult<Json<MuteStatus>> {
    Ok(Json(state.social().mute(&caller, body.mute(&caller)?).await?))
}

#[utoipa::path(post, path = "/api/social/unmute", tag = "social",
    request_body = TargetRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Not muted (idempotent)", body = UnmuteStatus),
        (status = 400, description = "VALIDATION_ERROR: the caller's own id", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such user", body = ApiError),
    ))]
async fn unmute(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TargetRequest>,
) -> AppResult<Json<UnmuteStatus>> {
    Ok(Json(state.social().unmute(&caller, body.target(&caller, "unmute")?).await?))
}

#[utoipa::path(get, path = "/api/social/muted", tag = "social",
    params(PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "The users the caller mutes, newest first, with when each mute ends", body = Page<MutedUser>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn muted(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<MutedUser>>> {
    Ok(Json(state.social().muted_users(&caller, page.validate()?).await?))
}
