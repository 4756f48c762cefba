use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::domain::client::{Caller, ClientInfo};
use crate::error::AppError;
use crate::services::sessions::Sessions;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Option<Result<&str, AppError>> {
    let value = parts.headers.get(AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized);
    Some(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer(parts).unwrap_or(Err(AppError::Unauthorized))?.to_owned();
        checked(state, &token, parts).await
    }
}

/// The caller a valid token names, when its account is still in good standing: a
/// token minted before a suspension is refused from the moment of the suspension.
async fn checked(state: &AppState, token: &str, parts: &mut Parts) -> Result<Caller, AppError> {
    let caller: Caller = state.tokens.verify(token)?.into();
    Sessions::new(state).check_standing(&caller).await?;
    let Ok(client) = ClientInfo::from_request_parts(parts, state).await;
    Ok(Caller { client, ..caller })
}

/// A caller who may be anonymous. A token that is present but invalid is still a 401:
/// a client holding a bad token should learn so rather than silently see less.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match bearer(parts) {
            None => Ok(MaybeCaller(None)),
            Some(token) => {
                let token = token?.to_owned();
                Ok(MaybeCaller(Some(checked(state, &token, parts).await?)))
            }
        }
    }
}
