//! The password of a signed-in user: the confirmation a grave change asks for, and its
//! check, whose failures are limited like sign-ins (accounts, email change and the
//! second factor all ask for it).

use secrecy::SecretString;

use crate::config::Config;
use crate::domain::user::UserRecord;
use crate::domain::{exposed, non_empty, Fields};
use crate::error::{AppError, AppResult};
use crate::password::{self, Passwords, Verified};
use crate::state::AppState;
use crate::store::Store;

pub(crate) const FAILED_LOGIN_SCOPE: &str = "login-fail";
/// Wrong passwords given by signed-in users (change password, deactivate).
const SIGNED_IN_FAILURE_SCOPE: &str = "password-fail";
/// The longest password text looked at: longer input is refused before any hashing.
pub(crate) const PASSWORD_FIELD_MAX: usize = password::MAX_LENGTH * 4;

/// The password a signed-in user confirms a grave change with (deactivation, the
/// second factor).
pub struct PasswordConfirmation(String);

impl PasswordConfirmation {
    pub(crate) fn new(password: String) -> Self {
        PasswordConfirmation(password)
    }

    fn into_text(self) -> String {
        self.0
    }

    /// The `password` field of a body, which must be there.
    pub(crate) fn required(password: &Option<SecretString>) -> AppResult<Self> {
        let mut fields = Fields::new();
        let password = fields.required("password", exposed(password), non_empty(PASSWORD_FIELD_MAX));
        fields.finish_with(password).map(PasswordConfirmation)
    }
}

/// The password of a signed-in user, checked before a grave change. Its failures count
/// apart from the sign-in ones, under the same cap: a thief with an access token cannot
/// guess on, and a stranger's wrong sign-ins for the username cannot lock the owner
/// out of their own password change or deactivation.
#[derive(Clone, Copy)]
pub(crate) struct PasswordCheck<'a> {
    config: &'a Config,
    store: &'a Store,
    passwords: &'a Passwords,
}

impl<'a> PasswordCheck<'a> {
    pub(crate) fn new(state: &'a AppState) -> Self {
        PasswordCheck { config: &state.config, store: &state.store, passwords: &state.passwords }
    }

    pub(crate) async fn check(&self, user: &UserRecord, password: PasswordConfirmation) -> AppResult<()> {
        let limit = self.config.rate_limits.failed_logins_per_account;
        let failures = self.store.limits().hits(SIGNED_IN_FAILURE_SCOPE, &user.id, limit).await?;
        if failures.hits >= limit.max {
            return Err(AppError::RateLimited { retry_after_secs: failures.retry_after_secs });
        }
        if self.passwords.verify(password.into_text(), Some(user.password_hash.clone())).await? == Verified::No {
            self.store.limits().add_hit(SIGNED_IN_FAILURE_SCOPE, &user.id, limit).await?;
            tracing::info!(user_id = %user.id, "wrong password of a signed-in user");
            return Err(AppError::InvalidCredentials);
        }
        Ok(())
    }
}
