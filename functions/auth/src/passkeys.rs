//! Passkeys: the caller's (register, list, rename, delete), usernameless sign-in, and
//! the ceremony of a passkey as the second factor (`mfa/verify` takes its answer).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{patch, post};
use axum::{Json, Router};
use shared::domain::passkey::PasskeyView;
use shared::domain::Id;
use shared::http::{Caller, ClientInfo, JsonBody, PathParam};
use shared::openapi::{ApiError, RateLimited};
use shared::services::accounts::AuthResponse;
use shared::services::passkey_check::CeremonyView;
use shared::services::passkeys::{
    MfaPasskeyOptionsRequest, PasskeyList, PasskeyLoginRequest, RegisterPasskeyRequest, RenamePasskeyRequest,
};
use shared::{AppResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkeys", axum::routing::get(passkey_list))
        .route("/api/auth/passkeys/register/options", post(passkey_register_options))
        .route("/api/auth/passkeys/register", post(passkey_register))
        .route("/api/auth/passkeys/{passkey_id}", patch(passkey_rename).delete(passkey_delete))
        .route("/api/auth/passkeys/login/options", post(passkey_login_options))
        .route("/api/auth/passkeys/login", post(passkey_login))
        .route("/api/auth/mfa/passkey/options", post(mfa_passkey_options))
}

#[utoipa::path(post, path = "/api/auth/passkeys/register/options", tag = "auth",
    request_body(content = shared::openapi::Empty, description = "`{}` (or no body)"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`publicKey` for `PublicKeyCredential.parseCreationOptionsFromJSON()`, then `navigator.credentials.create()`: a discoverable credential, user verification required, attestation `none`, the account's passkeys excluded", body = CeremonyView),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: with a second factor on, the session must have passed it", body = ApiError),
        (status = 409, description = "CONFLICT: the account holds 10 passkeys", body = ApiError),
    ))]
/// From a browser, with WebAuthn Level 3's JSON helpers:
///
/// ```js
/// const { challengeId, publicKey } = await post("/api/auth/passkeys/register/options", {});
/// const created = await navigator.credentials.create({
///   publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey) });
/// await post("/api/auth/passkeys/register", { challengeId, credential: created.toJSON() });
/// ```
pub(crate) async fn passkey_register_options(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<CeremonyView>> {
    Ok(Json(state.passkeys().register_options(&caller).await?))
}

#[utoipa::path(post, path = "/api/auth/passkeys/register", tag = "auth",
    request_body = RegisterPasskeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The passkey is added (a notice with a \"this wasn't me\" link goes to the account's address)", body = PasskeyView),
        (status = 400, description = "VALIDATION_ERROR: `credential` is not a registration response, or `name`", body = ApiError),
        (status = 401, description = "UNAUTHORIZED; INVALID_CREDENTIALS: the response does not answer a registration of this session (challenge, origin, RP id, user verification, signature)", body = ApiError),
        (status = 403, description = "MFA_REQUIRED", body = ApiError),
        (status = 409, description = "CONFLICT: the credential is registered already (to any account), or the account holds 10", body = ApiError),
    ))]
pub(crate) async fn passkey_register(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<RegisterPasskeyRequest>,
) -> AppResult<(StatusCode, Json<PasskeyView>)> {
    let view = state.passkeys().register(&caller, body.try_into()?).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/auth/passkeys", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account's passkeys, oldest first", body = PasskeyList),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
    ))]
pub(crate) async fn passkey_list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<PasskeyList>> {
    Ok(Json(state.passkeys().list(&caller).await?))
}

#[utoipa::path(patch, path = "/api/auth/passkeys/{passkeyId}", tag = "auth",
    params(("passkeyId" = String, Path)),
    request_body = RenamePasskeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The passkey, renamed", body = PasskeyView),
        (status = 400, description = "VALIDATION_ERROR (`name`: 1–64 characters)", body = ApiError),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such passkey of the caller", body = ApiError),
    ))]
pub(crate) async fn passkey_rename(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(passkey_id): PathParam<Id>,
    JsonBody(body): JsonBody<RenamePasskeyRequest>,
) -> AppResult<Json<PasskeyView>> {
    Ok(Json(state.passkeys().rename(&caller, &passkey_id, body.try_into()?).await?))
}

#[utoipa::path(delete, path = "/api/auth/passkeys/{passkeyId}", tag = "auth",
    params(("passkeyId" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The passkey no longer signs in (a notice goes to the account's address)"),
        (status = 401, description = "UNAUTHORIZED", body = ApiError),
        (status = 403, description = "MFA_REQUIRED: the session must have passed the second factor", body = ApiError),
        (status = 404, description = "NOT_FOUND: no such passkey of the caller", body = ApiError),
    ))]
pub(crate) async fn passkey_delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(passkey_id): PathParam<Id>,
) -> AppResult<StatusCode> {
    state.passkeys().delete(&caller, &passkey_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/passkeys/login/options", tag = "auth",
    request_body(content = shared::openapi::Empty, description = "`{}` (or no body)"),
    responses(
        (status = 200, description = "`publicKey` for `PublicKeyCredential.parseRequestOptionsFromJSON()`, then `navigator.credentials.get()`: no `allowCredentials`, the authenticator offers the account", body = CeremonyView),
        RateLimited,
    ))]
/// From a browser (no username: the authenticator offers the account):
///
/// ```js
/// const { challengeId, publicKey } = await post("/api/auth/passkeys/login/options", {});
/// const asserted = await navigator.credentials.get({
///   publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey) });
/// const session = await post("/api/auth/passkeys/login", { challengeId, credential: asserted.toJSON() });
/// ```
///
/// As the second factor after a password, the same with `mfa/passkey/options` (`{ mfaToken }`)
/// and `mfa/verify` (`{ mfaToken, passkey: { challengeId, credential } }`).
pub(crate) async fn passkey_login_options(
    State(state): State<AppState>,
    client: ClientInfo,
) -> AppResult<Json<CeremonyView>> {
    Ok(Json(state.passkeys().login_options(&client).await?))
}

#[utoipa::path(post, path = "/api/auth/passkeys/login", tag = "auth",
    request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "A session at `aal2`, `amr [\"pop\", \"mfa\"]`", body = AuthResponse),
        (status = 400, description = "VALIDATION_ERROR: `credential` is not an authentication response", body = ApiError),
        (status = 401, description = "INVALID_CREDENTIALS: the same for an unknown passkey as for a wrong answer (challenge, origin, RP id, user verification, signature, counter)", body = ApiError),
        (status = 403, description = "ACCOUNT_SUSPENDED; ACCOUNT_DEACTIVATED, within the reactivation window with `error.reactivationToken`, which `reactivate` takes", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn passkey_login(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<PasskeyLoginRequest>,
) -> AppResult<Json<AuthResponse>> {
    Ok(Json(state.passkeys().login(body.try_into()?, &client).await?))
}

#[utoipa::path(post, path = "/api/auth/mfa/passkey/options", tag = "auth",
    request_body = MfaPasskeyOptionsRequest,
    responses(
        (status = 200, description = "`publicKey` for `navigator.credentials.get()` with the account's passkeys in `allowCredentials`; answer with `mfa/verify`'s `passkey`", body = CeremonyView),
        (status = 401, description = "INVALID_TOKEN: unknown, expired or used `mfaToken`, or an account without a passkey", body = ApiError),
        RateLimited,
    ))]
pub(crate) async fn mfa_passkey_options(
    State(state): State<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<MfaPasskeyOptionsRequest>,
) -> AppResult<Json<CeremonyView>> {
    Ok(Json(state.passkeys().second_factor_options(body, &client).await?))
}
