//! The second factor of the caller's own account: enrolment, confirmation, status,
//! recovery codes and turning it off; and the check of a code, which sign-in uses too.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history::History;
use super::password_check::{PasswordCheck, PasswordConfirmation, FAILED_LOGIN_SCOPE};
use super::sessions::{Sessions, TokenPair};
use super::Notices;
use crate::config::Config;
use crate::domain::client::Caller;
use crate::domain::mfa::{self, Aal, FactorStatus, TotpFactor};
use crate::domain::security_event::SecurityEventType;
use crate::domain::session::{RefreshToken, SessionRecord};
use crate::domain::{exposed, non_empty, Fields};
use crate::error::{AppError, AppResult};
use crate::rate_limit::RateWindow;
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::{GenerationBump, KeptSession, Store, TakenHit};
use crate::vault::Vault;

/// Wrong codes of one account, counted across sign-ins and signed-in checks.
const MFA_FAILURE_SCOPE: &str = "mfa-fail";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// Required when the account has a password; an account without one (a federated
    /// sign-up's) confirms with a sign-in of the last 10 minutes instead.
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6-digit code the authenticator app shows now.
    #[schema(value_type = String, required = true, pattern = "^[0-9]{6}$")]
    pub code: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisableRequest {
    /// Required when the account has a password; an account without one (a federated
    /// sign-up's) confirms with a sign-in of the last 10 minutes instead.
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
    /// A code of the authenticator app; or send `recoveryCode`.
    #[schema(value_type = Option<String>)]
    pub code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatus {
    /// Whether sign-in asks for a second factor: the authenticator app, or a passkey.
    pub enabled: bool,
    /// When the authenticator app was turned on.
    pub enabled_at: Option<DateTime<Utc>>,
    pub recovery_codes_remaining: usize,
    /// Passkeys registered (each one signs in by itself, and answers the second factor).
    pub passkeys: i64,
}

/// What an authenticator app needs; shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    /// The secret in base32 (RFC 4648), for typing in.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    /// Ten single-use codes, shown this once.
    pub recovery_codes: Vec<String>,
    /// The caller's session, now at `aal2`.
    #[serde(flatten)]
    pub tokens: TokenPair,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// What proves the second factor: a code of the app, or a recovery code. No `Debug`.
pub enum Proof {
    Totp(String),
    Recovery(String),
}

impl Proof {
    /// Exactly one of `code` and `recoveryCode`, each of a sane length.
    pub(crate) fn from_fields(
        fields: &mut Fields,
        code: &Option<SecretString>,
        recovery_code: &Option<SecretString>,
    ) -> Option<Self> {
        let code = fields.optional("code", exposed(code), non_empty(32));
        let recovery = fields.optional("recoveryCode", exposed(recovery_code), non_empty(64));
        match (code, recovery) {
            (Some(code), None) => Some(Proof::Totp(code)),
            (None, Some(recovery)) => Some(Proof::Recovery(recovery)),
            (Some(_), Some(_)) => {
                fields.add("recoveryCode", "send either code or recoveryCode, not both");
                None
            }
            (None, None) if fields.is_empty() => {
                fields.add("code", "send code or recoveryCode");
                None
            }
            (None, None) => None,
        }
    }
}

/// A code of the authenticator app, present.
pub struct TotpCode(String);

impl TryFrom<CodeRequest> for TotpCode {
    type Error = AppError;

    fn try_from(req: CodeRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let code = fields.required("code", exposed(&req.code), non_empty(32));
        fields.finish_with(code).map(TotpCode)
    }
}

/// Turning the factor off: the password and a proof.
pub struct Disabling {
    password: PasswordConfirmation,
    proof: Proof,
}

impl TryFrom<DisableRequest> for Disabling {
    type Error = AppError;

    fn try_from(req: DisableRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let password = PasswordConfirmation::field(&mut fields, "password", &req.password);
        let proof = Proof::from_fields(&mut fields, &req.code, &req.recovery_code);
        let proof = fields.finish_with(proof)?;
        Ok(Disabling { password, proof })
    }
}

/// The TOTP factor of an account, and the checks of its codes.
#[derive(Clone, Copy)]
pub struct SecondFactor<'a> {
    config: &'a Config,
    store: &'a Store,
    vault: Option<&'a Vault>,
    sessions: Sessions<'a>,
    password_check: PasswordCheck<'a>,
    notices: Notices<'a>,
}

impl<'a> SecondFactor<'a> {
    pub fn new(state: &'a AppState) -> Self {
        SecondFactor {
            config: &state.config,
            store: &state.store,
            vault: state.vault.as_deref(),
            sessions: Sessions::new(state),
            password_check: PasswordCheck::new(state),
            notices: Notices::new(&state.store),
        }
    }

    fn vault(&self) -> AppResult<&'a Vault> {
        self.vault.ok_or_else(|| AppError::internal("this function holds no second-factor key"))
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn status(&self, caller: &Caller) -> AppResult<MfaStatus> {
        let (user, _, factor) = self.sessions.live_session_with_factor(caller).await?;
        let enabled = mfa::second_factor_on(&user, factor.as_ref());
        Ok(match factor.filter(TotpFactor::is_enabled) {
            Some(factor) => MfaStatus {
                enabled,
                enabled_at: factor.enabled_at,
                recovery_codes_remaining: factor.recovery_codes.len(),
                passkeys: user.passkeys,
            },
            None => MfaStatus { enabled, enabled_at: None, recovery_codes_remaining: 0, passkeys: user.passkeys },
        })
    }

    /// A new secret, pending until a code of it confirms it (a new enrolment replaces a
    /// pending one). Needs the password: a borrowed session alone must not bind the
    /// account to someone else's app.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn enroll(&self, caller: &Caller, password: PasswordConfirmation) -> AppResult<Enrollment> {
        let (user, session, factor) = self.sessions.live_session_with_factor(caller).await?;
        if mfa::enabled(factor.as_ref()) {
            return Err(AppError::MfaAlreadyEnabled);
        }
        self.password_check.check(&user, &session, password).await?;
        let secret = mfa::new_secret();
        let (secret_text, otpauth_uri) = mfa::provisioning(&secret, &self.config.totp_issuer, &user.username)
            .ok_or_else(|| AppError::internal("the TOTP secret did not make a provisioning URI"))?;
        let now = self.store.now();
        let pending = TotpFactor {
            user_id: user.id.clone(),
            status: FactorStatus::Pending,
            sealed_secret: self.vault()?.seal(&user.id, &secret)?,
            created_at: now,
            enabled_at: None,
            last_step: None,
            recovery_codes: Vec::new(),
            expires_at: Some((now + Duration::seconds(mfa::ENROLMENT_SECS)).timestamp()),
        };
        if !self.store.factors().put_pending_factor(&pending).await? {
            return Err(AppError::MfaAlreadyEnabled);
        }
        tracing::info!(user_id = %user.id, "second factor enrolment started");
        Ok(Enrollment { secret: secret_text, otpauth_uri })
    }

    /// The first code turns the factor on: ten recovery codes, the caller's session
    /// at `aal2` with new tokens, every other session ended, a notice; all at once.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn confirm(&self, caller: &Caller, code: TotpCode) -> AppResult<Confirmed> {
        let (user, session, factor) = self.sessions.live_session_with_factor(caller).await?;
        let now = self.store.now();
        let factor = match factor {
            Some(factor) if factor.is_enabled() => return Err(AppError::MfaAlreadyEnabled),
            Some(factor) if factor.is_pending(now) => factor,
            _ => return Err(AppError::MfaNotEnabled("no enrolment is waiting for a code: enroll first")),
        };
        let secret = self.vault()?.open(&user.id, &factor.sealed_secret)?;
        let step = self
            .counted(&user.id, async { mfa::check_code(&secret, &code.0, now, None).ok_or(AppError::InvalidCode) })
            .await?;
        let (codes, hashes) = self.new_recovery_codes(&user.id)?;
        let next = RefreshToken::new(&user.id, &session.id);
        let next_hash = next.hash();
        let bump = GenerationBump {
            mfa_enabled: Some(true),
            keep: Some(KeptSession { session: &session, new_refresh_hash: Some(&next_hash), aal: Some(Aal::Aal2) }),
            extra: [
                vec![
                    self.store.factors().factor_enable(&user.id, step, &hashes)?,
                    self.event(caller, &session, SecurityEventType::MfaEnabled)?,
                ],
                self.notices
                    .of_sign_in_change(
                        &user,
                        MessageKind::MfaChanged,
                        SecurityEventType::MfaEnabled,
                        &caller.client,
                        [("change", "enabled".to_owned())],
                    )?
                    .into(),
            ]
            .concat(),
            ..Default::default()
        };
        if self.store.sessions().bump_session_generation(&user, bump).await?.is_none() {
            // The enrolment expired or was replaced, or the account or session changed.
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "second factor on; other sessions ended");
        self.sessions.delete_ended_sessions(&user.id, Some(&session.id)).await;
        let session = crate::domain::session::SessionRecord { aal: Aal::Aal2, second_factor_at: Some(now), ..session };
        let tokens = self.sessions.token_pair(&user, &session, &next).await?;
        Ok(Confirmed { recovery_codes: codes, tokens })
    }

    /// New recovery codes for a code of the app; the old ones stop working.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn regenerate_recovery_codes(&self, caller: &Caller, code: TotpCode) -> AppResult<RecoveryCodes> {
        let (user, session, factor) = self.sessions.second_factor_session(caller).await?;
        let factor = factor.filter(TotpFactor::is_enabled).ok_or(AppError::MfaNotEnabled("no second factor is on"))?;
        self.accept_signed_in(&user.id, &factor, &Proof::Totp(code.0)).await?;
        let (codes, hashes) = self.new_recovery_codes(&user.id)?;
        let notice = self.notices.to(&user, MessageKind::MfaChanged, [("change", "recovery_codes".to_owned())])?;
        let event = self.event(caller, &session, SecurityEventType::RecoveryCodesRegenerated)?;
        if !self.store.factors().replace_recovery_codes(&user.id, &hashes, vec![notice, event]).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "recovery codes replaced");
        Ok(RecoveryCodes { recovery_codes: codes })
    }

    /// Turns the factor off: a session that passed it, the password and a code.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn disable(&self, caller: &Caller, disabling: Disabling) -> AppResult<()> {
        let (user, session, factor) = self.sessions.second_factor_session(caller).await?;
        let factor = factor.filter(TotpFactor::is_enabled).ok_or(AppError::MfaNotEnabled("no second factor is on"))?;
        self.password_check.check(&user, &session, disabling.password).await?;
        self.accept_signed_in(&user.id, &factor, &disabling.proof).await?;
        let notice = self.notices.to(&user, MessageKind::MfaChanged, [("change", "disabled".to_owned())])?;
        let event = self.event(caller, &session, SecurityEventType::MfaDisabled)?;
        if !self.store.factors().remove_factor(&user, vec![notice, event]).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "second factor off");
        Ok(())
    }

    /// The put of the caller's change in the account's security history.
    fn event(&self, caller: &Caller, session: &SessionRecord, kind: SecurityEventType) -> AppResult<TransactWriteItem> {
        let history = History::new(self.store);
        history.put(&history.event(&caller.user_id, kind, &caller.client).device(session.device_hash.as_deref()))
    }

    /// One attempt at a code of the account, counted against its wrong-code limit
    /// before the code is looked at: a conditional increment, so that no number of
    /// parallel attempts gets more codes checked than the limit allows. 429 when the
    /// limit is reached. The caller settles it with `settle_code_attempt`.
    pub(crate) async fn take_code_attempt(&self, user_id: &str) -> AppResult<TakenHit> {
        let limit = self.config.rate_limits.mfa_failures_per_account;
        self.store.limits().take_hit(MFA_FAILURE_SCOPE, user_id, limit).await?.map_err(|retry_after_secs| {
            tracing::warn!(user_id, "second factor locked by wrong codes");
            AppError::RateLimited { retry_after_secs }
        })
    }

    /// The account's failed sign-ins (wrong passwords and codes) this window.
    pub(crate) async fn failed_sign_ins(&self, user_id: &str) -> AppResult<RateWindow> {
        self.store.limits().hits(FAILED_LOGIN_SCOPE, user_id, self.config.rate_limits.failed_logins_per_account).await
    }

    /// 429 when the account's failed sign-ins are at their cap.
    pub(crate) fn refuse_past_failure_cap(&self, user_id: &str, failed: RateWindow) -> AppResult<()> {
        if failed.hits >= self.config.rate_limits.failed_logins_per_account.max {
            tracing::warn!(user_id, "second factor locked by failed sign-ins");
            return Err(AppError::RateLimited { retry_after_secs: failed.retry_after_secs });
        }
        Ok(())
    }

    /// Settles a counted attempt by its outcome: a wrong code keeps its count (and, for
    /// a sign-in not from a known device, counts as a failed sign-in); anything else
    /// gives it back.
    pub(crate) async fn settle_code_attempt<T>(
        &self,
        user_id: &str,
        attempt: TakenHit,
        failure_cap: bool,
        outcome: &AppResult<T>,
    ) -> AppResult<()> {
        if !matches!(outcome, Err(AppError::InvalidCode)) {
            return self.store.limits().give_back_hit(attempt).await;
        }
        tracing::info!(user_id, "wrong second-factor code");
        if failure_cap {
            let limit = self.config.rate_limits.failed_logins_per_account;
            self.store.limits().add_hit(FAILED_LOGIN_SCOPE, user_id, limit).await?;
        }
        Ok(())
    }

    /// Runs the check of a signed-in user's code as one counted attempt.
    async fn counted<T>(&self, user_id: &str, check: impl std::future::Future<Output = AppResult<T>>) -> AppResult<T> {
        let attempt = self.take_code_attempt(user_id).await?;
        let outcome = check.await;
        self.settle_code_attempt(user_id, attempt, false, &outcome).await?;
        outcome
    }

    /// The write that accepts a proof once: a TOTP code moves the factor's last step
    /// forward, a recovery code is used up, each on a condition, so of two requests
    /// with the same code one wins (the caller commits it, alone or in its own
    /// transaction). A proof that does not match is 401 `INVALID_CODE`; the caller
    /// counted the attempt before.
    pub(crate) fn check(&self, user_id: &str, factor: &TotpFactor, proof: &Proof) -> AppResult<TransactWriteItem> {
        let update = match proof {
            Proof::Totp(code) => {
                let secret = self.vault()?.open(user_id, &factor.sealed_secret)?;
                match mfa::check_code(&secret, code, self.store.now(), factor.last_step) {
                    Some(step) => Some(self.store.factors().totp_step_update(user_id, step)?),
                    None => None,
                }
            }
            Proof::Recovery(code) => {
                let hash = self.vault()?.recovery_code_hash(user_id, &mfa::normalize_recovery_code(code));
                let known = factor.recovery_codes.contains(&hash);
                known.then(|| self.store.factors().recovery_code_update(user_id, &hash)).transpose()?
            }
        };
        let update = update.ok_or(AppError::InvalidCode)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Accepts a proof of a signed-in user, as a counted attempt, in a write of its own.
    async fn accept_signed_in(&self, user_id: &str, factor: &TotpFactor, proof: &Proof) -> AppResult<()> {
        self.counted(user_id, async {
            let update = self.check(user_id, factor, proof)?.update;
            let update = update.ok_or_else(|| AppError::internal("a code's write is an update"))?;
            match self.store.update_one(update).await? {
                true => Ok(()),
                // Used meanwhile by a concurrent request.
                false => Err(AppError::InvalidCode),
            }
        })
        .await
    }

    /// Ten recovery codes to show, and their keyed hashes to store.
    fn new_recovery_codes(&self, user_id: &str) -> AppResult<(Vec<String>, Vec<String>)> {
        let vault = self.vault()?;
        let codes = mfa::new_recovery_codes();
        let hashes =
            codes.iter().map(|c| vault.recovery_code_hash(user_id, &mfa::normalize_recovery_code(c))).collect();
        Ok((codes, hashes))
    }
}

impl TryFrom<EnrollRequest> for PasswordConfirmation {
    type Error = AppError;

    fn try_from(req: EnrollRequest) -> AppResult<Self> {
        PasswordConfirmation::from_body(&req.password)
    }
}
