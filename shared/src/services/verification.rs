//! Email verification, password reset and the notices sent through the outbox.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::history::History;
use super::sessions::Sessions;
use super::{Limiter, Notices};
use crate::config::Config;
use crate::domain::account_event::{AccountEvent, EventType};
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::security_event::SecurityEventType;
use crate::domain::user::{OwnUserView, UserRecord};
use crate::domain::{exposed, non_empty, Email, Fields};
use crate::domain::{hash_secret, new_one_time_secret};
use crate::error::{AppError, AppResult};
use crate::password::{self, Passwords};
use crate::rate_limit::{identifier_key, ip_key};
use crate::state::AppState;
use crate::store::one_time::{OneTimeToken, Purpose};
use crate::store::outbox::MessageKind;
use crate::store::{EndDevices, GenerationBump, Store};

pub const VERIFY_TTL_HOURS: i64 = 24;
pub const RESET_TTL_MINUTES: i64 = 30;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(value_type = String, required = true)]
    pub token: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(value_type = String, required = true)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[schema(value_type = String, required = true)]
    pub token: Option<SecretString>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub new_password: Option<SecretString>,
}

/// A one-time token as presented (verification, reset): there, and of a sane length.
pub struct PresentedSecret(String);

/// The longest one-time token looked at.
const TOKEN_FIELD_MAX: usize = 256;

impl PresentedSecret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<TokenRequest> for PresentedSecret {
    type Error = AppError;

    fn try_from(req: TokenRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let token = fields.required("token", exposed(&req.token), non_empty(TOKEN_FIELD_MAX));
        fields.finish_with(token).map(PresentedSecret)
    }
}

/// The address a reset is asked for.
pub struct ResetFor(Email);

impl TryFrom<ForgotPasswordRequest> for ResetFor {
    type Error = AppError;

    fn try_from(req: ForgotPasswordRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let email = fields.required("email", req.email.as_deref(), Email::parse);
        fields.finish_with(email).map(ResetFor)
    }
}

/// A reset token and the new password, both present. The password rules are checked
/// against the account, once the token has led to it.
pub struct PasswordReset {
    pub(crate) token: PresentedSecret,
    pub(crate) new_password: String,
}

impl TryFrom<ResetPasswordRequest> for PasswordReset {
    type Error = AppError;

    fn try_from(req: ResetPasswordRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let token = fields.required("token", exposed(&req.token), non_empty(TOKEN_FIELD_MAX));
        let new_password =
            fields.required("newPassword", exposed(&req.new_password), non_empty(password::MAX_LENGTH * 4));
        let (token, new_password) = fields.finish_with((token, new_password))?;
        Ok(PasswordReset { token: PresentedSecret(token), new_password })
    }
}

/// A short fingerprint of the password hash and the address, so a reset token dies
/// with either.
fn reset_fingerprint(user: &UserRecord) -> String {
    hash_secret(&format!("{}\0{}", user.password_hash, user.email))[..16].to_owned()
}

/// Email verification and password reset: one-time tokens and their messages.
#[derive(Clone, Copy)]
pub struct Verification<'a> {
    config: &'a Config,
    store: &'a Store,
    passwords: &'a Passwords,
    sessions: Sessions<'a>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
}

impl<'a> Verification<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Verification {
            config: &state.config,
            store: &state.store,
            passwords: &state.passwords,
            sessions: Sessions::new(state),
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
        }
    }

    /// A new verification token for `user`: the hash to keep on the user item, and the
    /// token and message items to write with it.
    pub(crate) fn verification_items(&self, user: &UserRecord) -> AppResult<(String, Vec<TransactWriteItem>)> {
        let secret = new_one_time_secret();
        let hash = hash_secret(&secret);
        let expires_at = (self.store.now() + Duration::hours(VERIFY_TTL_HOURS)).timestamp();
        let token = OneTimeToken { user_id: user.id.clone(), expires_at, ..Default::default() };
        let items = vec![
            self.store.one_time_tokens().put(&hash, Purpose::Verify, &token)?,
            self.notices.to(user, MessageKind::VerifyEmail, [("token", secret)])?,
        ];
        Ok((hash, items))
    }

    /// Issues a new verification token; the previous one stops working.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn resend_verification(&self, caller: &Caller) -> AppResult<()> {
        let user = self.store.users().active_user(&caller.user_id).await?.ok_or(AppError::Unauthorized)?;
        if user.is_verified {
            return Ok(());
        }
        self.limiter.enforce("verify-user", &user.id, self.config.rate_limits.verification_per_user).await?;
        let (hash, mut items) = self.verification_items(&user)?;
        if let Some(old) = &user.verify_token_hash {
            items.push(self.store.one_time_tokens().discard(old, Purpose::Verify)?);
        }
        if !self.store.accounts().set_verify_token(&user, &hash, items).await? {
            return Err(AppError::ServiceUnavailable("the account changed concurrently; try again".into()));
        }
        Ok(())
    }

    /// Consumes a verification token and marks the email verified.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: PresentedSecret, client: &ClientInfo) -> AppResult<OwnUserView> {
        self.count_token_attempt(client).await?;
        let hash = hash_secret(&token.0);
        let record = self.live_one_time_token(&hash, Purpose::Verify).await?;
        let user = self.store.users().active_user(&record.user_id).await?.ok_or(AppError::InvalidToken)?;
        if user.verify_token_hash.as_deref() != Some(hash.as_str()) {
            return Err(AppError::InvalidToken);
        }
        let event = AccountEvent::of_user(EventType::UserEmailVerified, &user.id, self.store.now());
        if !self.store.accounts().mark_verified(&user, &hash, self.store.events().put(&event)?).await? {
            return Err(AppError::InvalidToken);
        }
        tracing::info!(user_id = %user.id, "email verified");
        let user = UserRecord { is_verified: true, verify_token_hash: None, updated_at: self.store.now(), ..user };
        Ok(OwnUserView::from(&user))
    }

    /// Answers the same for every well-formed email, known or not, after the same
    /// number of round trips; only a known, active account gets a token and a message.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, ResetFor(email): ResetFor, client: &ClientInfo) -> AppResult<()> {
        let limits = self.config.rate_limits;
        let (ip, email_key) = (ip_key(client.ip.as_deref()), identifier_key(email.as_str()));
        tokio::try_join!(
            self.limiter.enforce("forgot-ip", &ip, limits.forgot_password_per_ip),
            self.limiter.enforce("forgot-email", &email_key, limits.forgot_password_per_email),
        )?;
        let claim = self.store.users().user_id_by_identifier(email.as_str()).await?;
        let unknown_claim = claim.is_none();
        let user = match claim {
            Some(id) => self.store.users().active_user(&id).await?,
            None => None,
        };
        let Some(user) = user else {
            // The same round trips as for a real account (a user read, a transaction),
            // writing nothing.
            if unknown_claim {
                self.store.users().user_by_id("none").await?;
            }
            self.store.accounts().condition_on_missing_user().await?;
            return Ok(());
        };
        let secret = new_one_time_secret();
        let hash = hash_secret(&secret);
        let token = OneTimeToken {
            user_id: user.id.clone(),
            expires_at: (self.store.now() + Duration::minutes(RESET_TTL_MINUTES)).timestamp(),
            password_fingerprint: Some(reset_fingerprint(&user)),
            ..Default::default()
        };
        let items = vec![
            self.store.one_time_tokens().put(&hash, Purpose::Reset, &token)?,
            self.notices.to(&user, MessageKind::ResetPassword, [("token", secret)])?,
        ];
        self.store.accounts().write_for_active_user(&user, items).await?;
        tracing::info!(user_id = %user.id, "password reset requested");
        Ok(())
    }

    /// Sets a new password with a reset token; every session and device token ends.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, reset: PasswordReset, client: &ClientInfo) -> AppResult<()> {
        let PasswordReset { token, new_password } = reset;
        self.count_token_attempt(client).await?;
        let hash = hash_secret(&token.0);
        let record = self.live_one_time_token(&hash, Purpose::Reset).await?;
        let user = self.store.users().active_user(&record.user_id).await?.ok_or(AppError::InvalidToken)?;
        if record.password_fingerprint.as_deref() != Some(reset_fingerprint(&user).as_str()) {
            return Err(AppError::InvalidToken);
        }
        // The rules are checked before the token is spent, so a weak choice can be retried.
        let mut fields = Fields::new();
        fields.check("newPassword", self.passwords.check_policy(&new_password, &user.password_related_words()).await?);
        fields.finish()?;
        let password_hash = self.passwords.hash(new_password).await?;
        let history = History::new(self.store);
        let extra = vec![
            self.store.one_time_tokens().consume(&hash, Purpose::Reset)?,
            history.put(&history.event(&user.id, SecurityEventType::PasswordReset, client))?,
        ];
        let kind = MessageKind::PasswordChanged;
        let via = [("via", "reset".to_owned())];
        let extra =
            [extra, self.notices.of_sign_in_change(&user, kind, SecurityEventType::PasswordReset, client, via)?.into()]
                .concat();
        let bump = GenerationBump {
            password_hash: Some(&password_hash),
            end_devices: Some(EndDevices::default()),
            extra,
            ..Default::default()
        };
        if self.store.sessions().bump_session_generation(&user, bump).await?.is_none() {
            // The account changed since the token led to it (another reset won).
            return Err(AppError::InvalidToken);
        }
        tracing::info!(user_id = %user.id, "password reset; every session ended");
        self.sessions.delete_ended_sessions(&user.id, None).await;
        self.sessions.delete_ended_devices(&user.id, user.device_generation + 1).await;
        Ok(())
    }

    /// Counts a one-time token's use under the per-address attempt limit.
    pub(crate) async fn count_token_attempt(&self, client: &ClientInfo) -> AppResult<()> {
        let limit = self.config.rate_limits.token_attempts_per_ip;
        self.limiter.enforce("token-ip", &ip_key(client.ip.as_deref()), limit).await
    }

    /// The token if it exists and has not expired (TTL deletion lags; reads check).
    pub(crate) async fn live_one_time_token(&self, hash: &str, purpose: Purpose) -> AppResult<OneTimeToken> {
        match self.store.one_time_tokens().get(hash, purpose).await? {
            Some(token) if token.expires_at > self.store.now().timestamp() => Ok(token),
            _ => Err(AppError::InvalidToken),
        }
    }
}
