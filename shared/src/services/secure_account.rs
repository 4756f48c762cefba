//! "This wasn't me": every notice of a change of how the account signs in carries a link
//! (`Notices::of_sign_in_change`) to the address the account had before it; the link's
//! token and a new password take the account back in one transaction.

use serde::Serialize;
use utoipa::ToSchema;

use super::accounts::AuthResponse;
use super::history::History;
use super::sessions::Sessions;
use super::verification::{PasswordReset, Verification};
use super::Notices;
use crate::config::Config;
use crate::domain::client::ClientInfo;
use crate::domain::device::{DeviceRecord, DeviceToken};
use crate::domain::hash_secret;
use crate::domain::identity::IdentityRecord;
use crate::domain::mfa::{SignInMethod, TotpFactor};
use crate::domain::passkey::PasskeyRecord;
use crate::domain::security_event::{SecurityEventRecord, SecurityEventType};
use crate::domain::user::{AccountStatus, OwnUserView, UserRecord};
use crate::domain::Fields;
use crate::error::{AppError, AppResult};
use crate::password::Passwords;
use crate::state::AppState;
use crate::store::one_time::{OneTimeToken, Purpose};
use crate::store::outbox::MessageKind;
use crate::store::securing::{Secured, Securing};
use crate::store::Store;

/// How often securing re-reads the account after a concurrent change before it gives up.
const ATTEMPTS: usize = 5;

/// The account taken back: a new session (and device token) for the person, and what
/// was undone.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuredAccount {
    #[serde(flatten)]
    pub signed_in: AuthResponse,
    pub details: SecuredDetails,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecuredDetails {
    /// The change the notice reported (a security event type).
    pub reported: String,
    /// A second factor added at or after that change was removed.
    pub factor_removed: bool,
    /// Passkeys added at or after that change, removed.
    pub passkeys_removed: usize,
    /// Identities (OpenID providers) linked at or after that change, unlinked.
    pub identities_removed: usize,
    /// A pending email change was cancelled.
    pub email_change_cancelled: bool,
    /// `restored`: the address from before an email change at or after the reported
    /// one is back; `kept`: another account took it meanwhile, the new one stays;
    /// `unchanged`: no such change.
    pub email: &'static str,
}

/// An account as securing reads it: the user, its factor, passkeys and identities.
type Account = (UserRecord, Option<TotpFactor>, Vec<PasskeyRecord>, Vec<IdentityRecord>);

/// What securing decides from the account as read.
struct Plan<'a> {
    remove_factor: bool,
    remove_passkeys: Vec<PasskeyRecord>,
    remove_identities: Vec<IdentityRecord>,
    restore_email: Option<&'a str>,
}

pub struct SecureAccount<'a> {
    config: &'a Config,
    store: &'a Store,
    passwords: &'a Passwords,
    sessions: Sessions<'a>,
    verification: Verification<'a>,
    notices: Notices<'a>,
    history: History<'a>,
}

impl<'a> SecureAccount<'a> {
    pub fn new(state: &'a AppState) -> Self {
        SecureAccount {
            config: &state.config,
            store: &state.store,
            passwords: &state.passwords,
            sessions: Sessions::new(state),
            verification: Verification::new(state),
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
        }
    }

    /// With a notice's token and a new password, in one transaction: the password set,
    /// every session and device token ended, every second factor added at or after the
    /// reported change removed, a pending email change cancelled, an email change
    /// confirmed at or after it undone (unless another account took the address since),
    /// and the notices' other tokens void. A concurrent change of the account (a thief
    /// enrolling a factor meanwhile) makes it read again and decide again.
    #[tracing::instrument(skip_all)]
    pub async fn secure(&self, request: PasswordReset, client: &ClientInfo) -> AppResult<SecuredAccount> {
        self.verification.count_token_attempt(client).await?;
        let hash = hash_secret(request.token.expose());
        let token = self.verification.live_one_time_token(&hash, Purpose::SecureAccount).await?;
        let reported_at = token.reported_at.ok_or(AppError::InvalidToken)?;
        let (mut user, mut factor, mut passkeys, mut identities) = self.account(&token).await?;
        // The rules are checked before the token is spent, so a weak choice can be retried.
        let mut fields = Fields::new();
        let related = user.password_related_words();
        fields.check("newPassword", self.passwords.check_policy(&request.new_password, &related).await?);
        fields.finish()?;
        let password_hash = self.passwords.hash(request.new_password).await?;
        let mut address_taken = false;
        for _ in 0..ATTEMPTS {
            let plan = Plan {
                remove_factor: factor.as_ref().is_some_and(|f| added_since(f, reported_at)),
                remove_passkeys: passkeys.iter().filter(|p| p.created_at >= reported_at).cloned().collect(),
                remove_identities: identities.iter().filter(|i| i.linked_at >= reported_at).cloned().collect(),
                restore_email: user
                    .previous_email
                    .as_deref()
                    .filter(|_| !address_taken && user.email_changed_at.is_some_and(|at| at >= reported_at)),
            };
            match self.write(&user, &token, factor.as_ref(), &plan, &hash, &password_hash, client).await? {
                Ok((signed_in, session_id)) => {
                    tracing::info!(user_id = %user.id, "account secured with a notice's link");
                    self.sessions.delete_ended_sessions(&user.id, Some(&session_id)).await;
                    self.sessions.delete_ended_devices(&user.id, user.device_generation + 1).await;
                    let email = match (plan.restore_email, address_taken) {
                        (Some(_), _) => "restored",
                        (None, true) => "kept",
                        (None, false) => "unchanged",
                    };
                    let details = SecuredDetails {
                        reported: token.reported.clone().unwrap_or_default(),
                        factor_removed: plan.remove_factor,
                        passkeys_removed: plan.remove_passkeys.len(),
                        identities_removed: plan.remove_identities.len(),
                        email_change_cancelled: user.pending_email.is_some(),
                        email,
                    };
                    return Ok(SecuredAccount { signed_in, details });
                }
                Err(Secured::TokenUsed) => return Err(AppError::InvalidToken),
                Err(Secured::AddressTaken) => address_taken = true,
                Err(Secured::Changed | Secured::Done) => {}
            }
            (user, factor, passkeys, identities) = self.account(&token).await?;
        }
        Err(AppError::Conflict)
    }

    /// The account a token leads to, with its factor, passkeys and identities, while the
    /// token still counts.
    async fn account(&self, token: &OneTimeToken) -> AppResult<Account> {
        // The account before what it counts: a passkey added or an identity linked after
        // this read moves a count the write is conditioned on (`passkeys`,
        // `identityLinks`); one added before it is in the lists read after it.
        let (user, factor) = self.store.factors().user_and_factor(&token.user_id).await?;
        let (passkeys, identities) = tokio::try_join!(
            self.store.passkeys().list(&token.user_id),
            self.store.identities().list(&token.user_id),
        )?;
        let user =
            user.filter(|u| token.secure_generation == Some(u.secure_generation)).ok_or(AppError::InvalidToken)?;
        // A link takes an account back from a thief, not from moderation. A deactivation
        // (the thief's, perhaps) is undone within its window, as signing in would.
        if user.is_suspended() {
            return Err(AppError::AccountSuspended);
        }
        let deactivated_at = user.deactivated_at.unwrap_or(user.updated_at);
        let window = chrono::Duration::days(self.config.account_deletion_days);
        if !user.is_active() && self.store.now() - deactivated_at > window {
            return Err(AppError::AccountDeactivated);
        }
        Ok((user, factor, passkeys, identities))
    }

    /// One try at the transaction: the person's new sign-in (and its session's id), or
    /// why the write did not happen.
    #[expect(clippy::too_many_arguments, reason = "one transaction's parts, each named")]
    async fn write(
        &self,
        user: &UserRecord,
        token: &OneTimeToken,
        factor: Option<&TotpFactor>,
        plan: &Plan<'_>,
        token_hash: &str,
        password_hash: &str,
        client: &ClientInfo,
    ) -> AppResult<Result<(AuthResponse, String), Secured>> {
        let now = self.store.now();
        let after = UserRecord {
            password_hash: password_hash.to_owned(),
            session_generation: user.session_generation + 1,
            device_generation: user.device_generation + 1,
            secure_generation: user.secure_generation + 1,
            email: plan.restore_email.unwrap_or(&user.email).to_owned(),
            mfa_enabled: user.mfa_enabled && !plan.remove_factor,
            passkeys: user.passkeys - plan.remove_passkeys.len() as i64,
            pending_email: None,
            email_change_token_hash: None,
            status: AccountStatus::Active,
            deactivated_at: None,
            updated_at: now,
            last_login: Some(now),
            ..user.clone()
        };
        let device = DeviceToken::new(&user.id);
        let (session, refresh) = self.sessions.open(&after, false, client, SignInMethod::Password, &device);
        let mut extra = vec![
            self.store
                .users()
                .device_put(&device, &DeviceRecord::new(&user.id, client, after.device_generation, now))?,
            self.notices.to(
                &after,
                MessageKind::AccountSecured,
                [("emailRestored", if plan.restore_email.is_some() { "true" } else { "false" }.to_owned())],
            )?,
        ];
        let secured = self
            .history
            .event(&user.id, SecurityEventType::AccountSecured, client)
            .device(Some(&device.hash()))
            .detail("reported", token.reported.clone().unwrap_or_default())
            .detail("factorRemoved", plan.remove_factor)
            .detail("passkeysRemoved", plan.remove_passkeys.len())
            .detail("identitiesRemoved", plan.remove_identities.len());
        extra.push(self.history.put(&secured)?);
        if let Some(previous) = plan.restore_email {
            extra.push(self.history.put(&self.reverted(user, previous, client))?);
        }
        let securing = Securing {
            token_hash,
            password_hash,
            factor,
            remove_factor: plan.remove_factor,
            remove_passkeys: &plan.remove_passkeys,
            passkeys_seen: user.passkeys,
            remove_identities: &plan.remove_identities,
            restore_email: plan.restore_email,
            reactivate: !user.is_active(),
            session: &session,
            extra,
        };
        match self.store.accounts().secure(user, securing).await? {
            Secured::Done => {}
            other => return Ok(Err(other)),
        }
        let tokens = self.sessions.token_pair(&after, &session, &refresh).await?;
        let signed_in = AuthResponse { user: OwnUserView::from(&after), tokens, device_token: device.expose() };
        Ok(Ok((signed_in, session.id)))
    }

    fn reverted(&self, user: &UserRecord, previous: &str, client: &ClientInfo) -> SecurityEventRecord {
        self.history
            .event(&user.id, SecurityEventType::EmailChangeReverted, client)
            .detail("restoredEmail", previous)
            .detail("releasedEmail", user.email.as_str())
    }
}

/// A factor enrolled (or waiting to be) at or after the reported change.
fn added_since(factor: &TotpFactor, reported_at: chrono::DateTime<chrono::Utc>) -> bool {
    factor.enabled_at.is_none_or(|at| at >= reported_at)
}
