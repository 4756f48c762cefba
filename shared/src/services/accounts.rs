//! Sign-up, sign-in, the caller's own account, its password, deactivation and
//! reactivation.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history::History;
use super::mfa::{Proof, SecondFactor};
use super::passkey_check::{Expected, PasskeyAnswer, PasskeyAnswerRequest, PasskeyCheck};
use super::password_check::{PasswordCheck, PasswordConfirmation, FAILED_LOGIN_SCOPE, PASSWORD_FIELD_MAX};
use super::sessions::{Sessions, TokenPair};
use super::verification::Verification;
use super::{Limiter, Notices};
use crate::config::Config;
use crate::domain::account_event::{AccountEvent, EventType};
use crate::domain::ceremony::{CeremonyId, CeremonyPurpose};
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::device::{DeviceRecord, DeviceToken};
use crate::domain::mfa::{self, Aal, ChallengePurpose, MfaChallenge, MfaToken, SignInMethod, TotpFactor};
use crate::domain::security_event::{SecurityEventRecord, SecurityEventType};
use crate::domain::session::{RefreshToken, SessionRecord};
use crate::domain::user::{AccountStatus, Editable, OwnUserView, UserRecord};
use crate::domain::{exposed, non_empty, Email, Fields, PersonName, Username};
use crate::error::{AppError, AppResult, Context};
use crate::metrics::{self, SignInOutcome};
use crate::password::{Passwords, Verified};
use crate::rate_limit::{identifier_key, ip_key, refuse_if_full, Counter};
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::security_events::Attempted;
use crate::store::{Claim, EndDevices, GenerationBump, KeptSession, LoginWrite, SignUp, Store};

/// Devices remembered per account for new-sign-in notices.
const MAX_KNOWN_DEVICES: usize = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9_]{3,30}$")]
    pub username: Option<String>,
    #[schema(value_type = String, required = true, format = Email, max_length = 255)]
    pub email: Option<String>,
    /// At least 12 characters unless configured otherwise (never below 8).
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub password: Option<SecretString>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Must be `true`.
    #[schema(value_type = bool, required = true)]
    pub agree_to_terms: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    /// An email address or a username.
    #[schema(value_type = String, required = true)]
    pub identifier: Option<String>,
    #[schema(value_type = String, required = true)]
    pub password: Option<SecretString>,
    pub remember_me: Option<bool>,
    /// The `deviceToken` an earlier sign-in of this account answered on this device: such
    /// attempts are limited per device only, so strangers' wrong guesses cannot lock the
    /// owner out. An invalid or foreign one is ignored.
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Required when the account has a password; an account without one (a federated
    /// sign-up's) sets its first with a sign-in of the last 10 minutes instead.
    #[schema(value_type = Option<String>)]
    pub current_password: Option<SecretString>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub new_password: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeactivateRequest {
    /// Required when the account has a password; an account without one (a federated
    /// sign-up's) confirms with a sign-in of the last 10 minutes instead.
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: OwnUserView,
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// Keep it on this device and send it with later sign-ins (a year, this account only).
    pub device_token: String,
}

/// The answer of `login` and `reactivate`: a session, or, with a second factor on, the
/// challenge that `mfa/verify` completes.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignIn {
    Session(Box<AuthResponse>),
    MfaRequired(MfaChallengeView),
}

/// The password was right; a second factor is on.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallengeView {
    /// Always `true`.
    pub mfa_required: bool,
    /// For `POST /api/auth/mfa/verify`: five minutes, five codes, this account only.
    pub mfa_token: String,
    /// What may answer: `totp` and `recovery_code` with an authenticator app on,
    /// `passkey` with a passkey registered.
    pub methods: Vec<&'static str>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaVerifyRequest {
    #[schema(value_type = String, required = true)]
    pub mfa_token: Option<SecretString>,
    /// A code of the authenticator app; or send `recoveryCode`.
    #[schema(value_type = Option<String>)]
    pub code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    pub recovery_code: Option<SecretString>,
    /// A passkey's answer to the ceremony of `mfa/passkey/options`, in place of a code.
    pub passkey: Option<PasskeyAnswerRequest>,
    /// The `deviceToken` the sign-in presented, if any: answered back instead of a new one.
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

/// A second-factor attempt: the challenge's token (whether it is one of ours is for
/// the service to find out), the proof, and the device the client holds. No `Debug`.
pub struct SecondFactorAttempt {
    token: Option<MfaToken>,
    answer: Answer,
    device: Option<DeviceToken>,
}

/// What answers a second-factor challenge.
enum Answer {
    Code(Proof),
    Passkey(Box<PasskeyAnswer>),
}

impl TryFrom<MfaVerifyRequest> for SecondFactorAttempt {
    type Error = AppError;

    fn try_from(req: MfaVerifyRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let token = fields.required("mfaToken", exposed(&req.mfa_token), non_empty(512));
        let answer = match req.passkey {
            Some(_) if req.code.is_some() || req.recovery_code.is_some() => {
                fields.add("passkey", "send a code, a recoveryCode or a passkey, one of them");
                None
            }
            Some(passkey) => {
                PasskeyAnswer::from_fields(&mut fields, "passkey.", passkey).map(|a| Answer::Passkey(Box::new(a)))
            }
            None => Proof::from_fields(&mut fields, &req.code, &req.recovery_code).map(Answer::Code),
        };
        let (token, answer) = fields.finish_with((token, answer))?;
        Ok(SecondFactorAttempt {
            token: MfaToken::parse(&token),
            answer,
            device: exposed(&req.device_token).and_then(DeviceToken::parse),
        })
    }
}

/// A sign-in attempt with both fields present (`login`, `reactivate`). No `Debug`: it
/// holds a password.
pub struct SignInAttempt {
    identifier: String,
    password: String,
    remember_me: bool,
    device: Option<DeviceToken>,
}

impl TryFrom<LoginRequest> for SignInAttempt {
    type Error = AppError;

    fn try_from(req: LoginRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let identifier = fields.required("identifier", req.identifier.as_deref(), non_empty(255));
        let password = fields.required("password", exposed(&req.password), non_empty(PASSWORD_FIELD_MAX));
        let (identifier, password) = fields.finish_with((identifier, password))?;
        Ok(SignInAttempt {
            identifier,
            password,
            remember_me: req.remember_me.unwrap_or(false),
            device: exposed(&req.device_token).and_then(DeviceToken::parse),
        })
    }
}

/// `reactivate`'s body: a password sign-in's fields, or the `reactivationToken` that a
/// provider's or a passkey's sign-in of the deactivated account answered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReactivateRequest {
    /// An email address or a username; with `password`.
    pub identifier: Option<String>,
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
    /// Instead of `identifier` and `password`: `error.reactivationToken` of the 403
    /// `ACCOUNT_DEACTIVATED` that a sign-in with a provider or a passkey answered (single
    /// use, 10 minutes). A second factor that sign-in did not prove is asked now.
    #[schema(value_type = Option<String>)]
    pub reactivation_token: Option<SecretString>,
    pub remember_me: Option<bool>,
    /// As for `login`.
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

/// A reactivation: by password, or by the offer a provider's or a passkey's sign-in made.
pub enum Reactivation {
    Password(SignInAttempt),
    Offered(OfferedReactivation),
}

/// The `reactivationToken` (whether it is one of ours is for the service to find out)
/// and the device the client holds. No `Debug`: it holds the token.
pub struct OfferedReactivation {
    token: String,
    remember_me: bool,
    device: Option<DeviceToken>,
}

impl TryFrom<ReactivateRequest> for Reactivation {
    type Error = AppError;

    fn try_from(req: ReactivateRequest) -> AppResult<Self> {
        if req.reactivation_token.is_none() {
            let login = LoginRequest {
                identifier: req.identifier,
                password: req.password,
                remember_me: req.remember_me,
                device_token: req.device_token,
            };
            return login.try_into().map(Reactivation::Password);
        }
        let mut fields = Fields::new();
        if req.identifier.is_some() || req.password.is_some() {
            fields.add("reactivationToken", "send identifier and password, or a reactivationToken, not both");
        }
        let token = fields.required("reactivationToken", exposed(&req.reactivation_token), non_empty(64));
        Ok(Reactivation::Offered(OfferedReactivation {
            token: fields.finish_with(token)?,
            remember_me: req.remember_me.unwrap_or(false),
            device: exposed(&req.device_token).and_then(DeviceToken::parse),
        }))
    }
}

/// What a reactivation offer keeps: what proved the account, and its session generation
/// then (a password changed or reset since voids the offer).
#[derive(Serialize, Deserialize)]
struct ReactivationOffer {
    method: SignInMethod,
    generation: i64,
}

impl TryFrom<DeactivateRequest> for PasswordConfirmation {
    type Error = AppError;

    fn try_from(req: DeactivateRequest) -> AppResult<Self> {
        PasswordConfirmation::from_body(&req.password)
    }
}

/// A matching identifier and password.
struct Credentials {
    user: UserRecord,
    /// The password, while its hash needs new parameters.
    rehash: Option<String>,
    remember_me: bool,
    /// The known device the attempt came from, when it presented a valid token.
    device: Option<DeviceToken>,
    /// Whether the account's factor item says a second factor is on.
    second_factor: bool,
    /// What proved the first factor: a password, or an OpenID provider.
    first: SignInMethod,
}

/// A validated sign-up.
struct NewAccount {
    username: Username,
    email: Email,
    password: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

impl NewAccount {
    /// Validated after the sign-up rate limit, not by the handler: the password
    /// strength estimate is CPU work a flood must not get for free.
    async fn validate(req: RegisterRequest, passwords: &Passwords) -> AppResult<Self> {
        let mut fields = Fields::new();
        let username = fields.required("username", req.username.as_deref(), Username::parse);
        let email = fields.required("email", req.email.as_deref(), Email::parse);
        let first_name = fields.optional("firstName", req.first_name.as_deref(), PersonName::parse);
        let last_name = fields.optional("lastName", req.last_name.as_deref(), PersonName::parse);
        if req.agree_to_terms != Some(true) {
            fields.add("agreeToTerms", "must be true");
        }
        let mut related: Vec<&str> = Vec::new();
        if let Some(u) = &username {
            related.push(u.as_str());
        }
        if let Some(e) = &email {
            related.extend([e.as_str(), e.local_part()]);
        }
        let password = passwords.new_password_field(&mut fields, "password", exposed(&req.password), &related).await?;
        let (username, email, password) = fields.finish_with((username, email, password))?;
        Ok(NewAccount {
            username,
            email,
            password,
            first_name: first_name.map(PersonName::into_string),
            last_name: last_name.map(PersonName::into_string),
        })
    }
}

/// Accounts: their creation, sign-in, password and life cycle.
pub struct Accounts<'a> {
    config: &'a Config,
    store: &'a Store,
    passwords: &'a Passwords,
    sessions: Sessions<'a>,
    verification: Verification<'a>,
    factors: SecondFactor<'a>,
    password_check: PasswordCheck<'a>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
    history: History<'a>,
    passkey_check: PasskeyCheck<'a>,
}

impl<'a> Accounts<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Accounts {
            config: &state.config,
            store: &state.store,
            passwords: &state.passwords,
            sessions: Sessions::new(state),
            verification: Verification::new(state),
            factors: SecondFactor::new(state),
            password_check: PasswordCheck::new(state),
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
            passkey_check: PasskeyCheck::new(state),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn register(&self, req: RegisterRequest, client: &ClientInfo) -> AppResult<AuthResponse> {
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("register-ip", &ip, self.config.rate_limits.register_per_ip).await?;
        let account = NewAccount::validate(req, self.passwords).await?;
        let now = self.store.now();
        let password_hash = self.passwords.hash(account.password).await?;
        let mut user = UserRecord {
            editable: Editable { first_name: account.first_name, last_name: account.last_name, ..Default::default() },
            last_login: Some(now),
            ..UserRecord::new(account.username.as_str(), account.email.as_str(), password_hash, now)
        };
        let device = DeviceToken::new(&user.id);
        let (session, refresh) = self.sessions.open(&user, false, client, SignInMethod::Password, &device);
        user.known_devices.push(session.device.fingerprint());
        let (verify_hash, mut items) = self.verification.verification_items(&user)?;
        user.verify_token_hash = Some(verify_hash);
        items.push(self.store.users().device_put(&device, &DeviceRecord::new(&user.id, client, 0, now))?);
        items.push(self.store.events().put(&AccountEvent::user_created(&user.id, &user.username, now))?);
        match self.store.users().create_user(&user, &account.username.key(), &session, items).await? {
            SignUp::Created => {}
            SignUp::EmailTaken => return Err(AppError::EmailTaken),
            SignUp::UsernameTaken => return Err(AppError::UsernameTaken),
        }
        tracing::info!(user_id = %user.id, session_id = %session.id, "account created");
        metrics::count("SignUps", 1);
        let tokens = self.sessions.token_pair(&user, &session, &refresh).await?;
        Ok(AuthResponse { user: OwnUserView::from(&user), tokens, device_token: device.expose() })
    }

    /// Unknown identifier and wrong password give the same 401 after the same work;
    /// a deactivated account is told so only after the right password.
    /// With a second factor on, the right password gets a challenge, not a session.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, attempt: SignInAttempt, client: &ClientInfo) -> AppResult<SignIn> {
        let result = self.sign_in_attempt(attempt, client, ChallengePurpose::Login).await;
        sign_in_outcome(&result).into_iter().for_each(metrics::sign_in);
        result
    }

    /// Sign-in and reactivation: the credentials, the account's standing (a deactivated
    /// account signs in only to be reactivated, within its window), the second factor,
    /// then a session (and the account restored).
    async fn sign_in_attempt(
        &self,
        attempt: SignInAttempt,
        client: &ClientInfo,
        purpose: ChallengePurpose,
    ) -> AppResult<SignIn> {
        let credentials = self.authenticate(attempt, client).await?;
        if credentials.user.is_suspended() {
            return Err(AppError::AccountSuspended);
        }
        if !credentials.user.is_active() {
            match purpose {
                ChallengePurpose::Reactivate => self.check_reactivation_window(&credentials.user)?,
                ChallengePurpose::Login => return Err(AppError::AccountDeactivated),
            }
        }
        if let Some(challenge) = self.challenge_if_second_factor(&credentials, purpose).await? {
            return Ok(SignIn::MfaRequired(challenge));
        }
        let answer = match credentials.user.is_active() {
            true => self.sign_in(credentials, client, SignInMethod::Password, Vec::new()).await?,
            false => self.restore(credentials, client, SignInMethod::Password, Vec::new()).await?,
        };
        Ok(SignIn::Session(Box::new(answer)))
    }

    /// A challenge for the second factor when the account has one on, decided from the
    /// factor item itself. A password hash due for new parameters is re-hashed now,
    /// while the password is at hand: the sign-in completes without it.
    async fn challenge_if_second_factor(
        &self,
        credentials: &Credentials,
        purpose: ChallengePurpose,
    ) -> AppResult<Option<MfaChallengeView>> {
        let user = &credentials.user;
        if !credentials.second_factor {
            return Ok(None);
        }
        if let Some(password) = credentials.rehash.clone() {
            let hash = self.passwords.hash(password).await?;
            // Lost to a concurrent password change: that one's hash stands.
            self.store.users().rehash_password(user, &hash).await?;
        }
        let token = MfaToken::new(&user.id);
        let challenge = MfaChallenge {
            user_id: user.id.clone(),
            purpose,
            remember_me: credentials.remember_me,
            generation: user.session_generation,
            device_hash: credentials.device.as_ref().map(DeviceToken::hash),
            attempts: 0,
            federated: credentials.first == SignInMethod::Federated,
            expires_at: (self.store.now() + chrono::Duration::seconds(mfa::CHALLENGE_SECS)).timestamp(),
        };
        self.store.factors().put_challenge(&token.hash(), &challenge).await?;
        tracing::info!(user_id = %user.id, "first factor accepted; waiting for the second");
        let mut methods = Vec::new();
        if user.mfa_enabled {
            methods.extend(["totp", "recovery_code"]);
        }
        if user.passkeys > 0 {
            methods.push("passkey");
        }
        Ok(Some(MfaChallengeView { mfa_required: true, mfa_token: token.expose(), methods }))
    }

    /// Completes a sign-in (or reactivation) that stopped for its second factor. The
    /// challenge counts each attempt before the code is looked at, and ends after five;
    /// the code is accepted once (`SecondFactor::accept`); the session is `aal2`.
    #[tracing::instrument(skip_all)]
    pub async fn verify_second_factor(
        &self,
        attempt: SecondFactorAttempt,
        client: &ClientInfo,
    ) -> AppResult<AuthResponse> {
        let result = self.second_factor_attempt(attempt, client).await;
        let outcome = match &result {
            Ok(_) => Some(SignInOutcome::MfaPassed),
            Err(AppError::InvalidCode | AppError::InvalidToken) => Some(SignInOutcome::MfaFailed),
            Err(AppError::RateLimited { .. }) => Some(SignInOutcome::RateLimited),
            Err(AppError::AccountSuspended | AppError::AccountDeactivated) => Some(SignInOutcome::Refused),
            Err(_) => None,
        };
        outcome.into_iter().for_each(metrics::sign_in);
        result
    }

    async fn second_factor_attempt(
        &self,
        attempt: SecondFactorAttempt,
        client: &ClientInfo,
    ) -> AppResult<AuthResponse> {
        let ip = ip_key(client.ip.as_deref());
        let token = attempt.token.ok_or(AppError::InvalidToken)?;
        let hash = token.hash();
        // One round trip: the attempt counted on the challenge and on the account's
        // wrong codes (both before any code is looked at: parallel guesses cannot pass
        // the limits), the account and its factor, its failed sign-ins, the address.
        let (code_attempt, others) = tokio::join!(self.factors.take_code_attempt(&token.user_id), async {
            tokio::try_join!(
                self.limiter.enforce("mfa-ip", &ip, self.config.rate_limits.token_attempts_per_ip),
                self.store.factors().claim_challenge_attempt(&hash, mfa::CHALLENGE_ATTEMPTS),
                self.store.factors().user_and_factor(&token.user_id),
                self.factors.failed_sign_ins(&token.user_id),
            )
        });
        let (_, challenge, (user, factor), failed_sign_ins) = match others {
            Ok(read) => read,
            // Refused before any code was looked at (the address's limit): an attempt
            // taken meanwhile is given back, not lost to the account's limit.
            Err(err) => {
                if let Ok(attempt) = code_attempt {
                    self.store.limits().give_back_hit(attempt).await?;
                }
                return Err(err);
            }
        };
        let code_attempt = code_attempt?;
        // A known device's wrong codes count toward the code limit only, like its passwords.
        let failure_cap = challenge.as_ref().is_some_and(|c| c.device_hash.is_none());
        // Only a real challenge's account gets the attempt in its history (a forged token
        // may name anyone).
        let challenged = challenge.as_ref().is_some_and(|c| c.user_id == token.user_id);
        let outcome = async {
            let challenge = challenge.filter(|c| c.user_id == token.user_id).ok_or(AppError::InvalidToken)?;
            // A password changed or reset since, or the factor turned off: sign in again.
            let user = user.filter(|u| u.session_generation == challenge.generation).ok_or(AppError::InvalidToken)?;
            if failure_cap {
                self.factors.refuse_past_failure_cap(&user.id, failed_sign_ins)?;
            }
            let first = if challenge.federated { SignInMethod::Federated } else { SignInMethod::Password };
            let (take_proof, method) = self.take_answer(&attempt.answer, &user, factor, &hash, first, client).await?;
            let device = attempt.device.filter(|d| d.user_id == user.id && Some(d.hash()) == challenge.device_hash);
            let extra = vec![take_proof, self.store.factors().challenge_consume(&hash)?];
            let credentials = Credentials {
                user,
                rehash: None,
                remember_me: challenge.remember_me,
                device,
                second_factor: true,
                first,
            };
            if credentials.user.is_suspended() {
                return Err(AppError::AccountSuspended);
            }
            let signed_in = match (credentials.user.is_active(), challenge.purpose) {
                (true, _) => self.sign_in(credentials, client, method, extra).await,
                (false, ChallengePurpose::Reactivate) => self.restore(credentials, client, method, extra).await,
                (false, ChallengePurpose::Login) => return Err(AppError::AccountDeactivated),
            };
            match (signed_in, &attempt.answer) {
                // The write lost: the code, the passkey's counter or the challenge was
                // used by a concurrent request, or the account changed. Counted as a
                // wrong code; a passkey's is refused like a wrong one.
                (Err(AppError::Unauthorized | AppError::Conflict), Answer::Code(_)) => Err(AppError::InvalidCode),
                (Err(AppError::Unauthorized | AppError::Conflict), Answer::Passkey(_)) => {
                    Err(AppError::InvalidCredentials)
                }
                (other, _) => other,
            }
        }
        .await;
        // The attempt is settled and put in the history side by side: one write's wait.
        let who = Attempted::Account(&token.user_id);
        let in_history = async {
            match &outcome {
                Err(AppError::InvalidCode) if challenged => {
                    self.history.failed(who, client, &[("reason", "code")]).await
                }
                Err(AppError::RateLimited { .. }) if challenged => self.history.blocked(who, client).await,
                _ => Ok(()),
            }
        };
        tokio::try_join!(
            self.factors.settle_code_attempt(&token.user_id, code_attempt, failure_cap, &outcome),
            in_history
        )?;
        outcome
    }

    /// The write that takes the answer in the sign-in's own transaction (the code's step
    /// or the recovery code, the passkey's counter: of two sign-ins with one answer, the
    /// second's fails), and the method the session will say it passed.
    async fn take_answer(
        &self,
        answer: &Answer,
        user: &UserRecord,
        factor: Option<TotpFactor>,
        challenge_hash: &str,
        first: SignInMethod,
        client: &ClientInfo,
    ) -> AppResult<(TransactWriteItem, SignInMethod)> {
        match answer {
            Answer::Code(proof) => {
                let factor = factor.filter(TotpFactor::is_enabled).ok_or(AppError::InvalidToken)?;
                Ok((self.factors.check(&user.id, &factor, proof)?, first.with_second_factor(false)))
            }
            Answer::Passkey(answer) => {
                let expected = Expected { user_id: Some(&user.id), bound_to: Some(challenge_hash) };
                let purpose = CeremonyPurpose::SecondFactor;
                let asserted = self.passkey_check.verify(answer, purpose, expected, client).await?;
                Ok((asserted.use_write, first.with_second_factor(true)))
            }
        }
    }

    /// Checks an identifier and password under the login rate limits; the account,
    /// active or not, when they match.
    async fn authenticate(&self, attempt: SignInAttempt, client: &ClientInfo) -> AppResult<Credentials> {
        let SignInAttempt { identifier, password, remember_me, device } = attempt;
        let limits = self.config.rate_limits;
        let (ip, identifier_hash) = (ip_key(client.ip.as_deref()), identifier_key(&identifier));
        let device_hash = device.as_ref().map(DeviceToken::hash).unwrap_or_default();
        let mut counters = vec![
            Counter { scope: "login-ip", key: &ip, limit: limits.login_per_ip },
            Counter { scope: "login-id", key: &identifier_hash, limit: limits.login_per_identifier },
        ];
        if device.is_some() {
            counters.push(Counter { scope: "login-device", key: &device_hash, limit: limits.login_per_device });
        }
        // One read brings the claim (with the password hash), the presented device and
        // the counts: a client over a limit is refused before argon2 and without a
        // write. The hits are added while argon2 runs, and a request whose own hit went
        // over (past the read in a race with others) is refused as well: no answer
        // beyond the limit.
        let (claim, mut windows, device_record) =
            self.store.users().claim_and_counts(&identifier, &counters, device.as_ref()).await?;
        // A device of this very account answers to its own limit alone.
        let known_device = match (&device, &device_record, &claim) {
            (Some(device), Some(record), Some(claim)) if device.user_id == claim.user_id => {
                record.vouches_for(&claim.user_id, claim.device_generation, self.store.now())
            }
            _ => false,
        };
        if known_device {
            counters.drain(..2);
            windows.drain(..2);
        } else {
            counters.truncate(2);
            windows.truncate(2);
        }
        let claimed_by = claim.as_ref().map(|c| c.user_id.clone());
        let who = match &claimed_by {
            Some(user_id) => Attempted::Account(user_id),
            None => Attempted::Unknown { identifier_hash: &identifier_hash },
        };
        self.in_history_if_refused(refuse_if_full(&counters, &windows), who, client).await?;
        let count_hits =
            futures_util::future::try_join_all(counters.iter().map(|c| self.limiter.enforce(c.scope, c.key, c.limit)));
        // An unknown identifier's failures are counted under a key of its own, so that
        // it makes the same reads and writes, in the same order, as a wrong password.
        let unknown_key = format!("unknown:{identifier_hash}");
        let checked = self.check_claim(claim, &password, !known_device, &unknown_key);
        let (counted, checked) = tokio::join!(count_hits, checked);
        self.in_history_if_refused(counted, who, client).await?;
        let (user, verified, factor) = self.in_history_if_refused(checked, who, client).await?;
        let failed_key = match (user, verified) {
            (Some(user), Verified::Yes { needs_rehash }) => {
                let device = device.filter(|_| known_device);
                let rehash = needs_rehash.then_some(password);
                let second_factor = mfa::second_factor_on(&user, factor.as_ref());
                let first = SignInMethod::Password;
                return Ok(Credentials { user, rehash, remember_me, device, second_factor, first });
            }
            // A known device's wrong passwords do not count against the account's cap.
            (Some(_), Verified::No) if known_device => {
                self.history.failed(who, client, &[("reason", "password")]).await?;
                return Err(AppError::InvalidCredentials);
            }
            (Some(user), Verified::No) => {
                tracing::info!(user_id = %user.id, "wrong password");
                user.id
            }
            (None, _) => unknown_key,
        };
        // Counts the wrong password against the account's hourly cap (ASVS 2.2.1), and
        // puts it in the account's history. The cap, checked before the password, bounds
        // how many such events an hour can write.
        tokio::try_join!(
            self.store.limits().add_hit(FAILED_LOGIN_SCOPE, &failed_key, limits.failed_logins_per_account),
            self.history.failed(who, client, &[("reason", "password")]),
        )?;
        Err(AppError::InvalidCredentials)
    }

    /// A sign-in a limit refused goes in the account's history (one event an hour, with
    /// the count) before its 429.
    async fn in_history_if_refused<T>(
        &self,
        result: AppResult<T>,
        who: Attempted<'_>,
        client: &ClientInfo,
    ) -> AppResult<T> {
        if let Err(AppError::RateLimited { .. }) = &result {
            self.history.blocked(who, client).await?;
        }
        result
    }

    /// A session for an account a passkey proved by itself (usernameless sign-in), with
    /// `extra` writes (the passkey's use) in its transaction. Suspended and deactivated
    /// accounts are refused as after a password; a presented device token is kept when
    /// it still vouches for the account.
    pub(crate) async fn sign_in_proved(
        &self,
        user: UserRecord,
        device: Option<DeviceToken>,
        client: &ClientInfo,
        method: SignInMethod,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<AuthResponse> {
        self.refuse_unless_active(&user, method, &extra).await?;
        let device = self.vouched_device(&user, device).await?;
        let credentials =
            Credentials { user, rehash: None, remember_me: false, device, second_factor: true, first: method };
        match self.sign_in(credentials, client, method, extra).await {
            // The passkey's use lost to a concurrent sign-in with the same answer.
            Err(AppError::Unauthorized) => Err(AppError::InvalidCredentials),
            other => other,
        }
    }

    /// A sign-in with an OpenID provider's identity (linked to `user`): with a second
    /// factor on, its challenge (`mfa/verify` completes it, `amr` `fed` and the factor);
    /// else a session at `aal1`, `amr ["fed"]`, with `extra` writes (the identity's use).
    pub(crate) async fn sign_in_federated(
        &self,
        user: UserRecord,
        factor: Option<TotpFactor>,
        device: Option<DeviceToken>,
        client: &ClientInfo,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<SignIn> {
        let first = SignInMethod::Federated;
        self.refuse_unless_active(&user, first, &extra).await?;
        let device = self.vouched_device(&user, device).await?;
        let second_factor = mfa::second_factor_on(&user, factor.as_ref());
        let credentials = Credentials { user, rehash: None, remember_me: false, device, second_factor, first };
        if let Some(challenge) = self.challenge_if_second_factor(&credentials, ChallengePurpose::Login).await? {
            return Ok(SignIn::MfaRequired(challenge));
        }
        let signed_in = self.sign_in(credentials, client, first, extra).await?;
        Ok(SignIn::Session(Box::new(signed_in)))
    }

    /// Suspended and deactivated accounts are refused as after a right password. A
    /// deactivated one within its window is offered its reactivation: a
    /// `reactivationToken` for what `method` proved, kept in one transaction with
    /// `extra` (the credential's use), as a password's reactivation would take it.
    async fn refuse_unless_active(
        &self,
        user: &UserRecord,
        method: SignInMethod,
        extra: &[TransactWriteItem],
    ) -> AppResult<()> {
        if user.is_suspended() {
            return Err(AppError::AccountSuspended);
        }
        if user.is_active() {
            return Ok(());
        }
        self.check_reactivation_window(user)?;
        let token = CeremonyId::new();
        let offer = ReactivationOffer { method, generation: user.session_generation };
        let ceremonies = self.store.ceremonies();
        let mut writes = extra.to_vec();
        writes.push(ceremonies.put_write(&token, CeremonyPurpose::Reactivate, &offer, Some(&user.id), None)?);
        if self.store.try_transact(writes).await?.is_err() {
            // The credential's use lost to a concurrent sign-in with the same proof.
            return Err(AppError::Unauthorized);
        }
        Err(AppError::Reactivatable { reactivation_token: token.expose() })
    }

    /// The presented device token, while it still vouches for the account.
    async fn vouched_device(&self, user: &UserRecord, device: Option<DeviceToken>) -> AppResult<Option<DeviceToken>> {
        let Some(device) = device.filter(|d| d.user_id == user.id) else { return Ok(None) };
        let record = self.store.sessions().device(&user.id, &device.hash()).await?;
        let now = self.store.now();
        Ok(record.is_some_and(|r| r.vouches_for(&user.id, user.device_generation, now)).then_some(device))
    }

    /// A new session at `aal` for authenticated credentials (re-hashing an outdated
    /// password hash), with `extra` writes in the same transaction.
    async fn sign_in(
        &self,
        credentials: Credentials,
        client: &ClientInfo,
        method: SignInMethod,
        mut extra: Vec<TransactWriteItem>,
    ) -> AppResult<AuthResponse> {
        let Credentials { user, rehash, remember_me, device, .. } = credentials;
        let rehashed = match rehash {
            Some(password) => Some(self.passwords.hash(password).await?),
            None => None,
        };
        let rehashing = rehashed.is_some();
        let now = self.store.now();
        let (device, device_write) = self.device_for_answer(&user, device, client, now)?;
        let (session, refresh) = self.sessions.open(&user, remember_me, client, method, &device);
        let (known_devices, notice) = self.device_change(&user, &session, client)?;
        extra.extend(notice);
        let event = self.history.put(&self.sign_in_event(&user, &device, client, method))?;
        let login =
            LoginWrite { at: now, rehashed_password: rehashed, known_devices, device: device_write, event, extra };
        // The access token is signed (RSA, milliseconds, on the blocking pool) while the write is on
        // the wire; it leaves only once the session is stored.
        let (written, tokens) = tokio::join!(
            self.store.users().record_login(&user, &session, login),
            self.sessions.token_pair(&user, &session, &refresh),
        );
        if !written? {
            // The account is gone, or (re-hashing) its password changed since it was
            // verified: either way these credentials no longer sign in.
            return Err(if rehashing { AppError::InvalidCredentials } else { AppError::Unauthorized });
        }
        tracing::info!(user_id = %user.id, session_id = %session.id, "signed in");
        let user = UserRecord { last_login: Some(now), ..user };
        Ok(AuthResponse { user: OwnUserView::from(&user), tokens: tokens?, device_token: device.expose() })
    }

    /// A sign-in's event: the device, the address, and what it proved.
    fn sign_in_event(
        &self,
        user: &UserRecord,
        device: &DeviceToken,
        client: &ClientInfo,
        method: SignInMethod,
    ) -> SecurityEventRecord {
        let hash = device.hash();
        let amr = method.amr().to_vec();
        self.history.event(&user.id, SecurityEventType::SignIn, client).device(Some(&hash)).detail("amr", amr)
    }

    /// The device token a sign-in answers, with its write: the one presented, when it
    /// was valid (its last use), else a new one (its put).
    fn device_for_answer(
        &self,
        user: &UserRecord,
        presented: Option<DeviceToken>,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> AppResult<(DeviceToken, TransactWriteItem)> {
        match presented {
            Some(device) => {
                let seen = self.store.users().device_seen(&device, client.ip.as_deref(), now)?;
                Ok((device, seen))
            }
            None => {
                let device = DeviceToken::new(&user.id);
                let record = DeviceRecord::new(&user.id, client, user.device_generation, now);
                let put = self.store.users().device_put(&device, &record)?;
                Ok((device, put))
            }
        }
    }

    /// A sign-in from a device the account has not used before (among its last few):
    /// the device list to store, and the notice that tells the owner. Nothing for a
    /// known device.
    fn device_change(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        client: &ClientInfo,
    ) -> AppResult<(Option<Vec<String>>, Vec<TransactWriteItem>)> {
        let device = session.device.fingerprint();
        if user.known_devices.contains(&device) {
            return Ok((None, Vec::new()));
        }
        let mut known = user.known_devices.clone();
        known.push(device);
        let excess = known.len().saturating_sub(MAX_KNOWN_DEVICES);
        known.drain(..excess);
        let notice =
            self.notices.of_sign_in_change(user, MessageKind::NewSignIn, SecurityEventType::SignIn, client, [])?;
        Ok((Some(known), notice.into()))
    }

    /// The account behind a claim (with its factor) and whether the password matches,
    /// unless the account is locked by too many failed passwords (429). argon2 runs
    /// beside the account reads on the hash the claim carries; unknown identifiers make
    /// the same reads and run argon2 on a dummy hash.
    async fn check_claim(
        &self,
        claim: Option<Claim>,
        password: &str,
        failure_cap: bool,
        unknown_key: &str,
    ) -> AppResult<(Option<UserRecord>, Verified, Option<TotpFactor>)> {
        let limit = self.config.rate_limits.failed_logins_per_account;
        let Some(claim) = claim else {
            // The reads of a known account (no user has the id "none"), and argon2 on a
            // dummy hash of the same parameters.
            let (_, failures, verified) = tokio::try_join!(
                self.store.factors().user_and_factor("none"),
                self.store.limits().hits(FAILED_LOGIN_SCOPE, unknown_key, limit),
                self.passwords.verify(password.to_owned(), None),
            )?;
            // Locked like an account would be, so a lock-out tells nothing either.
            if failure_cap && failures.hits >= limit.max {
                return Err(AppError::RateLimited { retry_after_secs: failures.retry_after_secs });
            }
            return Ok((None, verified, None));
        };
        let early_verify = async {
            match &claim.password_hash {
                Some(hash) => self.passwords.verify(password.to_owned(), Some(hash.clone())).await.map(Some),
                None => Ok(None),
            }
        };
        let ((user, factor), failures, early) = tokio::try_join!(
            self.store.factors().user_and_factor(&claim.user_id),
            self.store.limits().hits(FAILED_LOGIN_SCOPE, &claim.user_id, limit),
            early_verify,
        )?;
        if failure_cap && failures.hits >= limit.max {
            tracing::warn!(user_id = %claim.user_id, "account locked by failed passwords");
            return Err(AppError::RateLimited { retry_after_secs: failures.retry_after_secs });
        }
        // The claim's copy of the hash changes with the account's, in one transaction; a
        // change between the two reads leaves them apart, and the account's is newer.
        let verified = match early {
            Some(verified) if user.as_ref().is_none_or(|u| Some(&u.password_hash) == claim.password_hash.as_ref()) => {
                verified
            }
            _ => self.passwords.verify(password.to_owned(), user.as_ref().map(|u| u.password_hash.clone())).await?,
        };
        Ok((user, verified, factor))
    }

    /// The caller's own account. An account that is gone or deactivated no longer
    /// answers to its still-unexpired access tokens.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn me(&self, caller: &Caller) -> AppResult<OwnUserView> {
        match self.store.users().user_by_id(&caller.user_id).await? {
            Some(user) if user.is_active() => Ok(OwnUserView::from(&user)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// Sets a new password, ends every other session at once and gives the caller's
    /// session a fresh pair of tokens. The body is validated here, against the account
    /// (a new password must not be built from its names).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn change_password(&self, caller: &Caller, req: ChangePasswordRequest) -> AppResult<TokenPair> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let mut fields = Fields::new();
        let current_text = exposed(&req.current_password).map(str::to_owned);
        let current = PasswordConfirmation::field(&mut fields, "currentPassword", &req.current_password);
        let related = user.password_related_words();
        let new =
            self.passwords.new_password_field(&mut fields, "newPassword", exposed(&req.new_password), &related).await?;
        if current_text.is_some() && current_text == new {
            fields.add("newPassword", "must differ from the current password");
        }
        let new = fields.finish_with(new)?;

        // The caller's device, read while the current password is checked, is the one kept.
        let (_, own_device) =
            tokio::try_join!(self.password_check.check(&user, &session, current), self.own_device(&user, &session),)?;
        let hash = self.passwords.hash(new).await?;
        let next = RefreshToken::new(&user.id, &session.id);
        let [notice, undo] = self.notices.of_sign_in_change(
            &user,
            MessageKind::PasswordChanged,
            SecurityEventType::PasswordChanged,
            &caller.client,
            [("via", "change-password".to_owned())],
        )?;
        let event = self
            .history
            .event(&user.id, SecurityEventType::PasswordChanged, &caller.client)
            .device(session.device_hash.as_deref());
        let next_hash = next.hash();
        let bump = GenerationBump {
            password_hash: Some(&hash),
            keep: Some(KeptSession { session: &session, new_refresh_hash: Some(&next_hash), aal: None }),
            end_devices: Some(EndDevices { keep: own_device.as_deref() }),
            extra: vec![notice, undo, self.history.put(&event)?],
            ..Default::default()
        };
        if self.store.sessions().bump_session_generation(&user, bump).await?.is_none() {
            // The account changed, or this session ended, since it was read.
            return Err(AppError::Unauthorized);
        }
        tracing::info!(user_id = %user.id, "password changed; other sessions ended");
        self.sessions.delete_ended_sessions(&user.id, Some(&session.id)).await;
        self.sessions.delete_ended_devices(&user.id, user.device_generation + 1).await;
        self.sessions.token_pair(&user, &session, &next).await
    }

    /// The hash of the session's own device, while its token still vouches for the account.
    async fn own_device(&self, user: &UserRecord, session: &SessionRecord) -> AppResult<Option<String>> {
        let Some(hash) = session.device_hash.clone() else { return Ok(None) };
        let device = self.store.sessions().device(&user.id, &hash).await?;
        let vouches = device.is_some_and(|d| d.vouches_for(&user.id, user.device_generation, self.store.now()));
        Ok(vouches.then_some(hash))
    }

    /// Needs the password and a live session. Every session ends; the account leaves
    /// search, profiles and lists; username and email stay reserved.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn deactivate(&self, caller: &Caller, password: PasswordConfirmation) -> AppResult<()> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        self.password_check.check(&user, &session, password).await?;
        let notice = self.notices.to(
            &user,
            MessageKind::AccountDeactivated,
            [("reactivateWithinDays", self.config.account_deletion_days.to_string())],
        )?;
        let now = self.store.now();
        let event = self.store.events().put(&AccountEvent::of_user(EventType::UserDeactivated, &user.id, now))?;
        if !self.store.accounts().deactivate(&user, now, vec![notice, event]).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "account deactivated");
        self.sessions.delete_ended_sessions(&user.id, None).await;
        Ok(())
    }

    /// Like sign-in, for a deactivated account within the reactivation window (an
    /// active account simply signs in); with a second factor on, a challenge first.
    #[tracing::instrument(skip_all)]
    pub async fn reactivate(&self, reactivation: Reactivation, client: &ClientInfo) -> AppResult<SignIn> {
        let result = match reactivation {
            Reactivation::Password(attempt) => {
                self.sign_in_attempt(attempt, client, ChallengePurpose::Reactivate).await
            }
            Reactivation::Offered(offered) => self.reactivate_offered(offered, client).await,
        };
        sign_in_outcome(&result).into_iter().for_each(metrics::sign_in);
        result
    }

    /// Reactivation by the offer of a provider's or a passkey's sign-in: taken once,
    /// limited like login per address; a second factor that sign-in did not prove (a
    /// provider's) is asked now, as after a password.
    async fn reactivate_offered(&self, offered: OfferedReactivation, client: &ClientInfo) -> AppResult<SignIn> {
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("login-ip", &ip, self.config.rate_limits.login_per_ip).await?;
        let token = CeremonyId::parse(&offered.token).ok_or(AppError::InvalidToken)?;
        let ceremony = self.store.ceremonies().take(&token.hash(), CeremonyPurpose::Reactivate).await?;
        let ceremony = ceremony.ok_or(AppError::InvalidToken)?;
        let offer: ReactivationOffer = serde_json::from_str(&ceremony.state).context("reading a reactivation offer")?;
        let user_id = ceremony.user_id.ok_or_else(|| AppError::internal("a reactivation offer names no account"))?;
        let (user, factor) = self.store.factors().user_and_factor(&user_id).await?;
        // Reactivated another way, or its password changed, since the offer: sign in again.
        let user = user
            .filter(|u| !u.is_active() && u.session_generation == offer.generation)
            .ok_or(AppError::InvalidToken)?;
        if user.is_suspended() {
            return Err(AppError::AccountSuspended);
        }
        let device = self.vouched_device(&user, offered.device).await?;
        let second_factor = offer.method.aal() == Aal::Aal1 && mfa::second_factor_on(&user, factor.as_ref());
        let credentials = Credentials {
            user,
            rehash: None,
            remember_me: offered.remember_me,
            device,
            second_factor,
            first: offer.method,
        };
        if let Some(challenge) = self.challenge_if_second_factor(&credentials, ChallengePurpose::Reactivate).await? {
            return Ok(SignIn::MfaRequired(challenge));
        }
        let restored = self.restore(credentials, client, offer.method, Vec::new()).await?;
        Ok(SignIn::Session(Box::new(restored)))
    }

    fn check_reactivation_window(&self, user: &UserRecord) -> AppResult<()> {
        let deactivated_at = user.deactivated_at.unwrap_or(user.updated_at);
        if self.store.now() - deactivated_at > chrono::Duration::days(self.config.account_deletion_days) {
            return Err(AppError::AccountDeactivated);
        }
        Ok(())
    }

    /// Restores a deactivated account within the window, with a first session at `aal`.
    async fn restore(
        &self,
        credentials: Credentials,
        client: &ClientInfo,
        method: SignInMethod,
        mut extra: Vec<TransactWriteItem>,
    ) -> AppResult<AuthResponse> {
        self.check_reactivation_window(&credentials.user)?;
        let (user, device) = (credentials.user, credentials.device);
        let now = self.store.now();
        let (device, device_write) = self.device_for_answer(&user, device, client, now)?;
        let (session, refresh) = self.sessions.open(&user, credentials.remember_me, client, method, &device);
        let (known_devices, notice) = self.device_change(&user, &session, client)?;
        extra.extend(notice);
        extra.push(device_write);
        extra.push(self.history.put(&self.sign_in_event(&user, &device, client, method).detail("reactivated", true))?);
        extra.push(self.store.events().put(&AccountEvent::of_user(EventType::UserReactivated, &user.id, now))?);
        if !self.store.accounts().reactivate(&user, &session, now, known_devices.as_deref(), extra).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(user_id = %user.id, "account reactivated");
        let user = UserRecord {
            status: AccountStatus::Active,
            deactivated_at: None,
            last_login: Some(now),
            updated_at: now,
            ..user
        };
        let tokens = self.sessions.token_pair(&user, &session, &refresh).await?;
        Ok(AuthResponse { user: OwnUserView::from(&user), tokens, device_token: device.expose() })
    }
}

/// How a password sign-in (or reactivation) ended, for the `SignIns` metric (none for a
/// failure of the service itself: the request metrics count those).
fn sign_in_outcome(result: &AppResult<SignIn>) -> Option<SignInOutcome> {
    Some(match result {
        Ok(SignIn::Session(_)) => SignInOutcome::Success,
        Ok(SignIn::MfaRequired(_)) => SignInOutcome::MfaRequired,
        Err(AppError::InvalidCredentials) => SignInOutcome::InvalidCredentials,
        Err(AppError::RateLimited { .. }) => SignInOutcome::RateLimited,
        Err(AppError::AccountSuspended | AppError::AccountDeactivated | AppError::Reactivatable { .. }) => {
            SignInOutcome::Refused
        }
        Err(_) => return None,
    })
}
