//! The password of a signed-in user: the confirmation a grave change asks for, and its
//! check, whose failures are limited like sign-ins (accounts, email change and the
//! second factor all ask for it).

use secrecy::SecretString;

use crate::config::Config;
use crate::domain::session::SessionRecord;
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
/// second factor, an email or password change): the field's name, and its text when
/// sent. An account without a password (a federated sign-up's) sends none.
pub struct PasswordConfirmation {
    field: &'static str,
    text: Option<String>,
}

impl PasswordConfirmation {
    /// The `password` field of a body, checked for length when present.
    pub(crate) fn from_body(password: &Option<SecretString>) -> AppResult<Self> {
        let mut fields = Fields::new();
        let confirmation = Self::field(&mut fields, "password", password);
        fields.finish()?;
        Ok(confirmation)
    }

    /// A password field among a body's others (its length problem joins theirs).
    pub(crate) fn field(fields: &mut Fields, name: &'static str, password: &Option<SecretString>) -> Self {
        let text = fields.optional(name, exposed(password), non_empty(PASSWORD_FIELD_MAX));
        PasswordConfirmation { field: name, text }
    }
}

/// How recent a sign-in confirms a grave change of an account without a password.
const FRESH_SIGN_IN_MINUTES: i64 = 10;

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

    /// The password of `user`, required when the account has one; an account without one
    /// confirms with its session instead: signed in within the last 10 minutes (403
    /// `FORBIDDEN` otherwise: sign in again).
    pub(crate) async fn check(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        password: PasswordConfirmation,
    ) -> AppResult<()> {
        if !user.has_password() {
            let fresh = self.store.now() - session.created_at <= chrono::Duration::minutes(FRESH_SIGN_IN_MINUTES);
            return match fresh {
                true => Ok(()),
                false => Err(AppError::Forbidden(
                    "an account without a password confirms this with a sign-in of the last 10 minutes: sign in again",
                )),
            };
        }
        let Some(text) = password.text else {
            return Err(AppError::validation(password.field, "is required"));
        };
        let limit = self.config.rate_limits.failed_logins_per_account;
        let failures = self.store.limits().hits(SIGNED_IN_FAILURE_SCOPE, &user.id, limit).await?;
        if failures.hits >= limit.max {
            return Err(AppError::RateLimited { retry_after_secs: failures.retry_after_secs });
        }
        if self.passwords.verify(text, Some(user.password_hash.clone())).await? == Verified::No {
            self.store.limits().add_hit(SIGNED_IN_FAILURE_SCOPE, &user.id, limit).await?;
            tracing::info!(user_id = %user.id, "wrong password of a signed-in user");
            return Err(AppError::InvalidCredentials);
        }
        Ok(())
    }
}
