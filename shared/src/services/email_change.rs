//! Changing the account's email: a token to the new address, a notice to the current
//! one, and the swap of the two claims when the token comes back.

use chrono::Duration;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history::History;
use super::password_check::{PasswordCheck, PasswordConfirmation};
use super::sessions::Sessions;
use super::verification::{PresentedSecret, Verification, VERIFY_TTL_HOURS};
use super::{Limiter, Notices};
use crate::config::Config;
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::security_event::SecurityEventType;
use crate::domain::{hash_secret, new_one_time_secret};
use crate::domain::{Email, Fields};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::one_time::{OneTimeToken, Purpose};
use crate::store::outbox::MessageKind;
use crate::store::{EmailSwap, Store};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeEmailRequest {
    #[schema(value_type = String, required = true, format = Email, max_length = 255)]
    pub new_email: Option<String>,
    /// Required when the account has a password; an account without one (a federated
    /// sign-up's) confirms with a sign-in of the last 10 minutes instead.
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

/// A new address and the password that allows it.
pub struct EmailChangeRequest {
    new_email: Email,
    password: PasswordConfirmation,
}

impl TryFrom<ChangeEmailRequest> for EmailChangeRequest {
    type Error = AppError;

    fn try_from(req: ChangeEmailRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let new_email = fields.required("newEmail", req.new_email.as_deref(), Email::parse);
        let password = PasswordConfirmation::field(&mut fields, "password", &req.password);
        let new_email = fields.finish_with(new_email)?;
        Ok(EmailChangeRequest { new_email, password })
    }
}

/// A confirmed change: the account's address now.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged {
    pub email: String,
}

#[derive(Clone, Copy)]
pub struct EmailChange<'a> {
    config: &'a Config,
    store: &'a Store,
    sessions: Sessions<'a>,
    verification: Verification<'a>,
    password_check: PasswordCheck<'a>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
    history: History<'a>,
}

impl<'a> EmailChange<'a> {
    pub fn new(state: &'a AppState) -> Self {
        EmailChange {
            config: &state.config,
            store: &state.store,
            sessions: Sessions::new(state),
            verification: Verification::new(state),
            password_check: PasswordCheck::new(state),
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
        }
    }

    /// Sends a confirmation token to the new address (a new request replaces an older
    /// one) and a notice to the current one; the account keeps its current address
    /// until the token comes back. Needs the password, and the second factor when on.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn request(&self, caller: &Caller, change: EmailChangeRequest) -> AppResult<()> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let new_email = change.new_email.as_str();
        if new_email == user.email {
            return Err(AppError::validation("newEmail", "must differ from the current address"));
        }
        self.password_check.check(&user, &session, change.password).await?;
        // It goes out as mail to an address of the caller's choosing: counted like
        // verification messages.
        self.limiter.enforce("email-change-user", &user.id, self.config.rate_limits.verification_per_user).await?;
        if self.store.users().user_id_by_identifier(new_email).await?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let secret = new_one_time_secret();
        let hash = hash_secret(&secret);
        let token = OneTimeToken {
            user_id: user.id.clone(),
            expires_at: (self.store.now() + Duration::hours(VERIFY_TTL_HOURS)).timestamp(),
            password_fingerprint: None,
            new_email: Some(new_email.to_owned()),
            ..Default::default()
        };
        let mut items = vec![
            self.store.one_time_tokens().put(&hash, Purpose::EmailChange, &token)?,
            self.notices.to_address(&user, new_email, MessageKind::ConfirmEmailChange, [("token", secret)])?,
            self.history.put(
                &self
                    .history
                    .event(&user.id, SecurityEventType::EmailChangeRequested, &caller.client)
                    .device(session.device_hash.as_deref())
                    .detail("newEmail", new_email),
            )?,
        ];
        items.extend(self.notices.of_sign_in_change(
            &user,
            MessageKind::EmailChangeRequested,
            SecurityEventType::EmailChangeRequested,
            &caller.client,
            [("newEmail", new_email.to_owned())],
        )?);
        if let Some(old) = &user.email_change_token_hash {
            items.push(self.store.one_time_tokens().discard(old, Purpose::EmailChange)?);
        }
        if !self.store.accounts().set_pending_email(&user, new_email, &hash, items).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "email change requested");
        Ok(())
    }

    /// Swaps the address when the token is the account's current one: the old address
    /// is free again, the new one verified, reset and verification tokens void (reset
    /// tokens carry a fingerprint of the address), every other session ended, and the
    /// old address is told. "Other": a live session of the account that sends the
    /// confirmation (a client confirming in-app) stays; an anonymous confirmation, the
    /// link opened anywhere, ends them all. The answer is the new address alone.
    #[tracing::instrument(skip_all)]
    pub async fn confirm(
        &self,
        token: PresentedSecret,
        caller: Option<&Caller>,
        client: &ClientInfo,
    ) -> AppResult<EmailChanged> {
        self.verification.count_token_attempt(client).await?;
        let hash = hash_secret(token.expose());
        let record = self.verification.live_one_time_token(&hash, Purpose::EmailChange).await?;
        let user = self.store.users().active_user(&record.user_id).await?.ok_or(AppError::InvalidToken)?;
        let new_email = record.new_email.ok_or(AppError::InvalidToken)?;
        if user.email_change_token_hash.as_deref() != Some(hash.as_str())
            || user.pending_email.as_deref() != Some(new_email.as_str())
        {
            return Err(AppError::InvalidToken);
        }
        let kept = match caller.filter(|c| c.user_id == user.id) {
            Some(caller) => match self.sessions.live_session(caller).await {
                Ok((_, session)) => Some(session),
                Err(AppError::Unauthorized) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };
        // To the address the account had until now (`user` is as read).
        let notice = self.notices.of_sign_in_change(
            &user,
            MessageKind::EmailChanged,
            SecurityEventType::EmailChanged,
            client,
            [("newEmail", new_email.clone())],
        )?;
        let event = self
            .history
            .event(&user.id, SecurityEventType::EmailChanged, client)
            .detail("previousEmail", user.email.as_str())
            .detail("newEmail", new_email.as_str());
        let extra = [notice.to_vec(), vec![self.history.put(&event)?]].concat();
        match self.store.accounts().swap_email(&user, &hash, &new_email, kept.as_ref(), extra).await? {
            EmailSwap::Swapped => {}
            EmailSwap::Taken => return Err(AppError::EmailTaken),
            EmailSwap::Stale => return Err(AppError::InvalidToken),
        }
        tracing::info!(user_id = %user.id, "email changed; other sessions ended");
        self.sessions.delete_ended_sessions(&user.id, kept.as_ref().map(|s| s.id.as_str())).await;
        Ok(EmailChanged { email: new_email })
    }
}
