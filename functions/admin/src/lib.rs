//! The `admin` function: the moderation queue, actions on accounts, roles and the
//! audit log, for staff only (the role is read from the account on every call).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use shared::domain::page::{Page, PageQuery};
use shared::domain::webhook::Delivery;
use shared::domain::Id;
use shared::http::{Caller, JsonBody, PathParam, QueryParams};
use shared::openapi::ApiError;
use shared::services::moderation::{
    ActionRequest, AuditEntryView, AuditQuery, ReportView, ReportsQuery, ResolveRequest, RoleAnswer, RoleRequest,
    StaffUserAnswer, Standing,
};
use shared::services::webhooks::{RegisterWebhook, RegisteredWebhook, RotatedSecret, TestSent, WebhookList};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/reports", get(list_reports))
        .route("/api/admin/reports/{report_id}", get(get_report))
        .route("/api/admin/reports/{report_id}/assign", post(assign_report))
        .route("/api/admin/reports/{report_id}/resolve", post(resolve_report))
        .route("/api/admin/reports/{report_id}/reopen", post(reopen_report))
        .route("/api/admin/users/{user_id}", get(staff_account_view))
        .route("/api/admin/users/{user_id}/actions", post(act_on_account))
        .route("/api/admin/users/{user_id}/role", put(set_role))
        .route("/api/admin/audit-log", get(audit_log))
        .route("/api/admin/webhooks", post(register_webhook).get(list_webhooks))
        .route("/api/admin/webhooks/{webhook_id}", delete(delete_webhook))
        .route("/api/admin/webhooks/{webhook_id}/rotate-secret", post(rotate_webhook_secret))
        .route("/api/admin/webhooks/{webhook_id}/deliveries", get(webhook_deliveries))
        .route("/api/admin/webhooks/{webhook_id}/test", post(test_webhook))
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_reports, get_report, assign_report, resolve_report, reopen_report, staff_account_view, act_on_account,
        set_role, audit_log, register_webhook, list_webhooks, delete_webhook, rotate_webhook_secret,
        webhook_deliveries, test_webhook
    ),
    tags((name = "admin", description = "Moderation: reports, actions on accounts, roles and the audit log (staff only); webhooks of account events (admins only)"))
)]
pub struct ApiDoc;

#[utoipa::path(get, path = "/api/admin/reports", tag = "admin",
    params(ReportsQuery, PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Open reports oldest first, or resolved ones newest first", body = Page<ReportView>),
        (status = 400, description = "VALIDATION_ERROR (`status`, `limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff; MFA_REQUIRED: staff need a session that passed their second factor within the last 12 hours (staff without one must enroll it)", body = ApiError),
    ))]
async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ReportsQuery>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<ReportView>>> {
    Ok(Json(state.moderation().reports(&caller, query.status()?, page.validate()?).await?))
}

#[utoipa::path(get, path = "/api/admin/reports/{reportId}", tag = "admin",
    params(("reportId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = ReportView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
    ))]
async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(report_id): PathParam<Id>,
) -> AppResult<Json<ReportView>> {
    Ok(Json(state.moderation().report(&caller, &report_id).await?))
}

#[utoipa::path(post, path = "/api/admin/reports/{reportId}/assign", tag = "admin",
    params(("reportId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "Assigned to the caller", body = ReportView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff, a report about the caller, or a moderator and a report about staff; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: resolved, or changed meanwhile", body = ApiError),
    ))]
async fn assign_report(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(report_id): PathParam<Id>,
) -> AppResult<Json<ReportView>> {
    Ok(Json(state.moderation().assign(&caller, &report_id).await?))
}

#[utoipa::path(post, path = "/api/admin/reports/{reportId}/resolve", tag = "admin",
    params(("reportId" = String, Path)), request_body = ResolveRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "Resolved; with an action, applied and every open report against the account resolved with it", body = ReportView),
        (status = 400, description = "VALIDATION_ERROR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff, a report about the caller, or a moderator and a report about staff; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: already resolved, or changed meanwhile", body = ApiError),
    ))]
async fn resolve_report(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(report_id): PathParam<Id>,
    JsonBody(body): JsonBody<ResolveRequest>,
) -> AppResult<Json<ReportView>> {
    Ok(Json(state.moderation().resolve(&caller, &report_id, body.resolution()?).await?))
}

#[utoipa::path(post, path = "/api/admin/reports/{reportId}/reopen", tag = "admin",
    params(("reportId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "Open again (an action it had stays applied)", body = ReportView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff, a report about the caller, or a moderator and a report about staff; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: changed meanwhile", body = ApiError),
    ))]
async fn reopen_report(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(report_id): PathParam<Id>,
) -> AppResult<Json<ReportView>> {
    Ok(Json(state.moderation().reopen(&caller, &report_id).await?))
}

#[utoipa::path(get, path = "/api/admin/users/{userId}", tag = "admin",
    params(("userId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "The account with its standing, open reports and recent audit entries", body = StaffUserAnswer),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
    ))]
async fn staff_account_view(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
) -> AppResult<Json<StaffUserAnswer>> {
    Ok(Json(state.moderation().account(&caller, &user_id).await?))
}

#[utoipa::path(post, path = "/api/admin/users/{userId}/actions", tag = "admin",
    params(("userId" = String, Path)), request_body = ActionRequest, security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's standing after the action", body = Standing),
        (status = 400, description = "VALIDATION_ERROR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff, the caller's own account, or a moderator and a staff account; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such account or report", body = ApiError),
        (status = 409, description = "CONFLICT: the account or a report changed meanwhile", body = ApiError),
    ))]
async fn act_on_account(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
    JsonBody(body): JsonBody<ActionRequest>,
) -> AppResult<Json<Standing>> {
    Ok(Json(state.moderation().act(&caller, &user_id, body.action()?).await?))
}

#[utoipa::path(put, path = "/api/admin/users/{userId}/role", tag = "admin",
    params(("userId" = String, Path)), request_body = RoleRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = RoleAnswer),
        (status = 400, description = "VALIDATION_ERROR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin, or the caller's own role; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: the role changed meanwhile", body = ApiError),
    ))]
async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(user_id): PathParam<Id>,
    JsonBody(body): JsonBody<RoleRequest>,
) -> AppResult<Json<RoleAnswer>> {
    Ok(Json(state.moderation().set_role(&caller, &user_id, body.role()?).await?))
}

#[utoipa::path(get, path = "/api/admin/audit-log", tag = "admin",
    params(AuditQuery, PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Newest first", body = Page<AuditEntryView>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not staff; MFA_REQUIRED", body = ApiError),
    ))]
async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AuditQuery>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<AuditEntryView>>> {
    Ok(Json(state.moderation().audit_log(&caller, query, page.validate()?).await?))
}

#[utoipa::path(post, path = "/api/admin/webhooks", tag = "admin",
    request_body = RegisterWebhook, security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered; `secret` is shown this once", body = RegisteredWebhook),
        (status = 400, description = "VALIDATION_ERROR: `url` (https to a public address), `eventTypes`, `description`", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
        (status = 409, description = "CONFLICT: 20 webhooks already", body = ApiError),
    ))]
async fn register_webhook(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<RegisterWebhook>,
) -> AppResult<(StatusCode, Json<RegisteredWebhook>)> {
    Ok((StatusCode::CREATED, Json(state.webhooks().register(&caller, body).await?)))
}

#[utoipa::path(get, path = "/api/admin/webhooks", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every webhook, oldest first (never a secret)", body = WebhookList),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
    ))]
async fn list_webhooks(State(state): State<AppState>, caller: Caller) -> AppResult<Json<WebhookList>> {
    Ok(Json(state.webhooks().list(&caller).await?))
}

#[utoipa::path(delete, path = "/api/admin/webhooks/{webhookId}", tag = "admin",
    params(("webhookId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted: nothing more is sent to it"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: changed meanwhile", body = ApiError),
    ))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(webhook_id): PathParam<Id>,
) -> AppResult<StatusCode> {
    state.webhooks().delete(&caller, &webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/admin/webhooks/{webhookId}/rotate-secret", tag = "admin",
    params(("webhookId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 200, description = "The new secret; the old one keeps signing beside it for 24 hours", body = RotatedSecret),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: rotated or deleted meanwhile", body = ApiError),
    ))]
async fn rotate_webhook_secret(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(webhook_id): PathParam<Id>,
) -> AppResult<Json<RotatedSecret>> {
    Ok(Json(state.webhooks().rotate_secret(&caller, &webhook_id).await?))
}

#[utoipa::path(get, path = "/api/admin/webhooks/{webhookId}/deliveries", tag = "admin",
    params(("webhookId" = String, Path), PageQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Delivery attempts, newest first (kept 30 days)", body = Page<Delivery>),
        (status = 400, description = "VALIDATION_ERROR (`limit`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
    ))]
async fn webhook_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(webhook_id): PathParam<Id>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<Delivery>>> {
    Ok(Json(state.webhooks().deliveries(&caller, &webhook_id, page.validate()?).await?))
}

#[utoipa::path(post, path = "/api/admin/webhooks/{webhookId}/test", tag = "admin",
    params(("webhookId" = String, Path)), security(("bearer" = [])),
    responses(
        (status = 202, description = "A `webhook.test` event is on its way to this webhook alone", body = TestSent),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "FORBIDDEN: not an admin; MFA_REQUIRED", body = ApiError),
        (status = 404, description = "NOT_FOUND", body = ApiError),
        (status = 409, description = "CONFLICT: the webhook is disabled", body = ApiError),
    ))]
async fn test_webhook(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(webhook_id): PathParam<Id>,
) -> AppResult<(StatusCode, Json<TestSent>)> {
    Ok((StatusCode::ACCEPTED, Json(state.webhooks().test(&caller, &webhook_id).await?)))
}
