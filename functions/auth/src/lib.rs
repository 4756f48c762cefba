//! The `auth` function: sign-up, sign-in, the caller's account, and the published keys.

mod federation;
mod passkeys;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use shared::domain::page::{Page, PageQuery};
use shared::domain::security_event::SecurityEventView;
use shared::domain::user::OwnUserView;
use shared::domain::Id;
use shared::http::{Caller, ClientInfo, JsonBody, MaybeCaller, PathParam, QueryParams};
use shared::openapi::{ApiError, Empty, RateLimited};
use shared::services::accounts::{
    AuthResponse, ChangePasswordRequest, LoginRequest, MfaVerifyRequest, ReactivateRequest, RegisterRequest, SignIn,
};
use shared::services::devices::DeviceList;
use shared::services::email_change::{ChangeEmailRequest, EmailChanged};
use shared::services::history::SecurityEventsQuery;
use shared::services::mfa::{
    CodeRequest, Confirmed, DisableRequest, EnrollRequest, Enrollment, MfaStatus, RecoveryCodes,
};
use shared::services::secure_account::SecuredAccount;
use shared::services::sessions::{LogoutRequest, RefreshRequest, Revoked, SessionList, TokenPair};
use shared::services::verification::{ForgotPasswordRequest, ResetPasswordRequest, TokenRequest};
use shared::tokens::PublicJwkSet;
use shared::{AppResult, AppState};
use utoipa::ToSchema;

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
        .route("/api/auth/devices", get(devices))
        .route("/api/auth/devices/{device_id}", delete(revoke_device))
        .route("/api/auth/security-events", get(security_events))
        .route("/api/auth/secure-account", post(secure_account))
        .route("/api/auth/reactivate", post(reactivate))
        .route("/api/auth/verify-email", post(verify_email))
        .route("/api/auth/resend-verification", post(resend_verification))
        .route("/api/auth/forgot-password", post(forgot_password))
        .route("/api/auth/reset-password", post(reset_password))
        .route("/api/auth/change-email", post(change_email))
        .route("/api/auth/confirm-email-change", post(confirm_email_change))
        .route("/api/auth/mfa", get(mfa_status))
        .route("/api/auth/mfa/totp/enroll", post(mfa_enroll))
        .route("/api/auth/mfa/totp/confirm", post(mfa_confirm))
        .route("/api/auth/mfa/verify", post(mfa_verify))
        .route("/api/auth/mfa/recovery-codes", post(mfa_recovery_codes))
        .route("/api/auth/mfa/disable", post(mfa_disable))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .merge(passkeys::routes())
        .merge(federation::routes())
}

/// The function as Lambda runs it.
pub fn app(state: AppState) -> Router {
    shared::http::service(routes(), state)
}

/// This function's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        register,
        login,
        refresh,
        logout,
        me,
        change_password,
        forgot_password,
        reset_password,
        verify_email,
        resend_verification,
        sessions,
        revoke_other_sessions,
        revoke_session,
        devices,
        revoke_device,
        security_events,
        secure_account,
        reactivate,
        change_email,
        confirm_email_change,
        mfa_status,
        mfa_enroll,
        mfa_confirm,
        mfa_verify,
        mfa_recovery_codes,
        mfa_disable,
        passkeys::passkey_register_options,
        passkeys::passkey_register,
        passkeys::passkey_list,
        passkeys::passkey_rename,
        passkeys::passkey_delete,
        passkeys::passkey_login_options,
        passkeys::passkey_login,
        passkeys::mfa_passkey_options,
        federation::federated_providers,
        federation::federated_token,
        federation::federated_authorize,
        federation::federated_callback,
        federation::federated_exchange,
        federation::federated_signup,
        federation::federated_link,
        federation::identities,
        federation::unlink_identity,
        jwks,
        openid_configuration
    ),
    tags((name = "auth", description = "Sign-up, sign-in, sessions and the published keys"))
)]
pub struct ApiDoc;

#[utoipa::path(post, path = "/api/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account and a first session", body = AuthResponse),
        (status = 409, description = "USERNAME_TAKEN or EMAIL_TAKEN", body = ApiError),
        RateLimited,
    ))]
async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> AppResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(state.accounts().register(body, &client).await?)))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A session; or, with a second factor on, `mfaRequired` and the `mfaToken` for `/api/auth/mfa/verify`", body = SignIn),
        (status = 401, description = "INVALID_CREDENTIALS, for an unknown identifier as for a wrong password", body = ApiError),
        (status = 403, description = "ACCOUNT_DEACTIVATED or ACCOUNT_SUSPENDED (after the right password)", body = ApiError),
        RateLimited,
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<LoginRequest>,
) -> AppResult<Json<SignIn>> {
    Ok(Json(state.accounts().login(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The verified account", body = OwnUserView),
        (status = 401, description = "INVALID_TOKEN: unknown, used or expired", body = ApiError),
        RateLimited,
    ))]
async fn verify_email(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<TokenRequest>,
) -> AppResult<Json<OwnUserView>> {
    Ok(Json(state.verification().verify_email(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/resend-verification", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A new verification message is on its way (none when already verified)", body = Empty),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        RateLimited,
    ))]
async fn resend_verification(State(state): State<AppState>, caller: Caller) -> AppResult<(StatusCode, Json<Empty>)> {
    state.verification().resend_verification(&caller).await?;
    Ok((StatusCode::ACCEPTED, Json(Empty {})))
}

#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "The same answer whether or not the email is known", body = Empty),
        RateLimited,
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ForgotPasswordRequest>,
) -> AppResult<(StatusCode, Json<Empty>)> {
    state.verification().forgot_password(body.try_into()?, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(Empty {})))
}

#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "The password is set; every session ended", body = Empty),
        (status = 401, description = "INVALID_TOKEN: unknown, used or expired", body = ApiError),
        RateLimited,
    ))]
async fn reset_password(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> AppResult<Json<Empty>> {
    state.verification().reset_password(body.try_into()?, &client).await?;
    Ok(Json(Empty {}))
}

#[utoipa::path(post, path = "/api/auth/reactivate", tag = "auth",
    request_body = ReactivateRequest,
    responses(
        (status = 200, description = "The account is active again, with a new session; or, with a second factor on (and not proved by a passkey), `mfaRequired` and the `mfaToken`", body = SignIn),
        (status = 400, description = "VALIDATION_ERROR (with `details`): neither `identifier` and `password` nor a `reactivationToken`, or both; INVALID_JSON", body = ApiError),
        (status = 401, description = "INVALID_CREDENTIALS; INVALID_TOKEN: the `reactivationToken` is unknown, used or expired, or the account was reactivated or its password changed since", body = ApiError),
        (status = 403, description = "ACCOUNT_DEACTIVATED: the reactivation window has passed; ACCOUNT_SUSPENDED", body = ApiError),
        RateLimited,
    ))]
async fn reactivate(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ReactivateRequest>,
) -> AppResult<Json<SignIn>> {
    Ok(Json(state.accounts().reactivate(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/change-email", tag = "auth",
    request_body = ChangeEmailRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A confirmation link is on its way to the new address, a notice to the current one; the current address stays until the link is used", body = Empty),
        (status = 401, description = "UNAUTHORIZED, or INVALID_CREDENTIALS for a wrong password", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: with MFA on, the session must have passed the second factor", body = ApiError),
        (status = 409, description = "EMAIL_TAKEN, or CONFLICT", body = ApiError),
        RateLimited,
    ))]
async fn change_email(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChangeEmailRequest>,
) -> AppResult<(StatusCode, Json<Empty>)> {
    state.email_change().request(&caller, body.try_into()?).await?;
    Ok((StatusCode::ACCEPTED, Json(Empty {})))
}

#[utoipa::path(post, path = "/api/auth/confirm-email-change", tag = "auth",
    request_body = TokenRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The new, verified address. Every session of the account ends but the caller's own (when the request carries a live session of the account)", body = EmailChanged),
        (status = 401, description = "INVALID_TOKEN: unknown, used, replaced or expired", body = ApiError),
        (status = 409, description = "EMAIL_TAKEN: another account took the address meanwhile", body = ApiError),
        RateLimited,
    ))]
async fn confirm_email_change(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    client: ClientInfo,
    JsonBody(body): JsonBody<TokenRequest>,
) -> AppResult<Json<EmailChanged>> {
    Ok(Json(state.email_change().confirm(body.try_into()?, caller.as_ref(), &client).await?))
}

#[utoipa::path(get, path = "/api/auth/mfa", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Whether a second factor is on", body = MfaStatus),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn mfa_status(State(state): State<AppState>, caller: Caller) -> AppResult<Json<MfaStatus>> {
    Ok(Json(state.second_factor().status(&caller).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/totp/enroll", tag = "auth",
    request_body = EnrollRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A pending TOTP secret: confirm it with a code within 10 minutes", body = Enrollment),
        (status = 401, description = "UNAUTHORIZED, or INVALID_CREDENTIALS for a wrong password", body = ApiError),
        (status = 409, description = "MFA_ALREADY_ENABLED", body = ApiError),
        RateLimited,
    ))]
async fn mfa_enroll(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EnrollRequest>,
) -> AppResult<Json<Enrollment>> {
    Ok(Json(state.second_factor().enroll(&caller, body.try_into()?).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/totp/confirm", tag = "auth",
    request_body = CodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "MFA is on: ten recovery codes, shown once, and new tokens for this session (now aal2); every other session is ended", body = Confirmed),
        (status = 401, description = "UNAUTHORIZED, or INVALID_CODE", body = ApiError),
        (status = 409, description = "MFA_ALREADY_ENABLED, MFA_NOT_ENABLED (nothing enrolled or the enrolment expired) or CONFLICT", body = ApiError),
        RateLimited,
    ))]
async fn mfa_confirm(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CodeRequest>,
) -> AppResult<Json<Confirmed>> {
    Ok(Json(state.second_factor().confirm(&caller, body.try_into()?).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/verify", tag = "auth",
    request_body = MfaVerifyRequest,
    responses(
        (status = 200, description = "The sign-in (or reactivation) completes with an aal2 session (`amr` `[\"pwd\", \"otp\"]`, or `[\"pwd\", \"pop\"]` with a passkey)", body = AuthResponse),
        (status = 400, description = "VALIDATION_ERROR: none, or more than one, of `code`, `recoveryCode` and `passkey`", body = ApiError),
        (status = 401, description = "INVALID_TOKEN (unknown, expired, used, or ended by five attempts), INVALID_CODE, or INVALID_CREDENTIALS for a passkey answer that does not hold", body = ApiError),
        (status = 403, description = "ACCOUNT_DEACTIVATED or ACCOUNT_SUSPENDED", body = ApiError),
        RateLimited,
    ))]
async fn mfa_verify(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<MfaVerifyRequest>,
) -> AppResult<Json<AuthResponse>> {
    Ok(Json(state.accounts().verify_second_factor(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/recovery-codes", tag = "auth",
    request_body = CodeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Ten new recovery codes; the old ones stop working", body = RecoveryCodes),
        (status = 401, description = "UNAUTHORIZED, or INVALID_CODE", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: the session did not pass the second factor", body = ApiError),
        (status = 409, description = "MFA_NOT_ENABLED", body = ApiError),
        RateLimited,
    ))]
async fn mfa_recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CodeRequest>,
) -> AppResult<Json<RecoveryCodes>> {
    Ok(Json(state.second_factor().regenerate_recovery_codes(&caller, body.try_into()?).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/disable", tag = "auth",
    request_body = DisableRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "MFA is off", body = Empty),
        (status = 401, description = "UNAUTHORIZED, INVALID_CREDENTIALS or INVALID_CODE", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: the session did not pass the second factor", body = ApiError),
        (status = 409, description = "MFA_NOT_ENABLED", body = ApiError),
        RateLimited,
    ))]
async fn mfa_disable(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<DisableRequest>,
) -> AppResult<Json<Empty>> {
    state.second_factor().disable(&caller, body.try_into()?).await?;
    Ok(Json(Empty {}))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the refresh token sent is used up", body = TokenPair),
        (status = 401, description = "INVALID_TOKEN: unknown, expired or already rotated (which ends its session)", body = ApiError),
        RateLimited,
    ))]
async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(state.sessions().refresh(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    request_body(content = LogoutRequest, description = "Optional; an empty body is `{}`"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The caller's session is ended"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<LogoutRequest>,
) -> AppResult<StatusCode> {
    state.sessions().logout(&caller, body.other_session()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = OwnUserView), (status = 401, description = "UNAUTHORIZED", body = ApiError)))]
async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<impl IntoResponse> {
    Ok(Json(state.accounts().me(&caller).await?))
}

#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New tokens for the caller; every other session is ended", body = TokenPair),
        (status = 401, description = "UNAUTHORIZED, or INVALID_CREDENTIALS for a wrong current password", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: with MFA on, the session must have passed the second factor", body = ApiError),
        RateLimited,
    ))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ChangePasswordRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(state.accounts().change_password(&caller, body).await?))
}

#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's live sessions", body = SessionList), (status = 401, description = "UNAUTHORIZED", body = ApiError)))]
async fn sessions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<SessionList>> {
    Ok(Json(state.sessions().list(&caller).await?))
}

#[utoipa::path(delete, path = "/api/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Every session but the caller's is ended", body = Revoked), (status = 401, description = "UNAUTHORIZED", body = ApiError)))]
async fn revoke_other_sessions(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Revoked>> {
    Ok(Json(state.sessions().revoke_other_sessions(&caller).await?))
}

#[utoipa::path(delete, path = "/api/auth/sessions/{sessionId}", tag = "auth",
    params(("sessionId" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such session of the caller", body = ApiError),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(session_id): PathParam<Id>,
) -> AppResult<StatusCode> {
    state.sessions().revoke_session(&caller, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/auth/devices", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The devices whose device tokens still count for the account (the lock-out protection), most recently used first", body = DeviceList),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn devices(State(state): State<AppState>, caller: Caller) -> AppResult<Json<DeviceList>> {
    Ok(Json(state.devices().list(&caller).await?))
}

#[utoipa::path(delete, path = "/api/auth/devices/{deviceId}", tag = "auth",
    params(("deviceId" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "That device's token stops exempting anything; its sessions go on (end them under /api/auth/sessions)"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such device of the caller", body = ApiError),
    ))]
async fn revoke_device(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(device_id): PathParam<Id>,
) -> AppResult<StatusCode> {
    state.devices().revoke(&caller, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/auth/security-events", tag = "auth",
    params(SecurityEventsQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's security history, newest first (90 days): sign-ins, failed and refused attempts, and every change of how it signs in", body = Page<SecurityEventView>),
        (status = 400, description = "VALIDATION_ERROR (`limit`, `type`) or INVALID_CURSOR", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
async fn security_events(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<SecurityEventsQuery>,
    QueryParams(page): QueryParams<PageQuery>,
) -> AppResult<Json<Page<SecurityEventView>>> {
    Ok(Json(state.security_history().list(&caller, query, page.validate()?).await?))
}

#[utoipa::path(post, path = "/api/auth/secure-account", tag = "auth",
    request_body(content = ResetPasswordRequest, description = "`token`: from the \"this wasn't me\" link of a notice; `newPassword`"),
    responses(
        (status = 200, description = "The account is taken back: a new password, every other session and device token ended, what was added to its sign-in since the reported change removed, its previous address back (`details` says what was undone); a new session for the caller", body = SecuredAccount),
        (status = 400, description = "VALIDATION_ERROR (`newPassword`)", body = ApiError),
        (status = 401, description = "INVALID_TOKEN: unknown, used, expired, or void (the account was secured since)", body = ApiError),
        (status = 403, description = "ACCOUNT_SUSPENDED; ACCOUNT_DEACTIVATED past the deletion window (within it, securing reactivates the account)", body = ApiError),
        (status = 409, description = "CONFLICT: the account kept changing under the request", body = ApiError),
        RateLimited,
    ))]
async fn secure_account(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> AppResult<Json<SecuredAccount>> {
    Ok(Json(state.secure_account().secure(body.try_into()?, &client).await?))
}

/// Public keys change only on rotation; consumers may cache them for a few minutes.
const PUBLIC_CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=300");

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The public keys that verify access tokens", body = PublicJwkSet)))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([PUBLIC_CACHE], Json(state.tokens.public_jwks().clone()))
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "auth",
    responses((status = 200, body = OpenIdConfiguration)))]
async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let issuer = state.tokens.issuer();
    let body = OpenIdConfiguration {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: &["RS256"],
        token_endpoint_auth_methods_supported: &["none"],
        subject_types_supported: &["public"],
        response_types_supported: &["token"],
        grant_types_supported: &["password", "refresh_token"],
    };
    ([PUBLIC_CACHE], Json(body))
}

/// The discovery document: where the keys are, for the platform's other services.
#[derive(Serialize, ToSchema)]
struct OpenIdConfiguration {
    issuer: String,
    jwks_uri: String,
    id_token_signing_alg_values_supported: &'static [&'static str],
    token_endpoint_auth_methods_supported: &'static [&'static str],
    subject_types_supported: &'static [&'static str],
    response_types_supported: &'static [&'static str],
    grant_types_supported: &'static [&'static str],
}
