//! Passkeys of the caller's account (register, list, rename, delete), usernameless
//! sign-in with one, and the ceremony of a passkey as the second factor after a
//! password. The WebAuthn checks are `PasskeyCheck`'s.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, CredProtect, CredentialProtectionPolicy, RegisterPublicKeyCredential,
    RegistrationState, RequestRegistrationExtensions, UserVerificationPolicy,
};

use super::accounts::{Accounts, AuthResponse};
use super::history::History;
use super::passkey_check::{
    webauthn_failure, CeremonyView, Expected, PasskeyAnswer, PasskeyAnswerRequest, PasskeyCheck,
};
use super::sessions::Sessions;
use super::{Limiter, Notices};
use crate::config::Config;
use crate::domain::ceremony::{self, CeremonyPurpose};
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::device::{device_name, DeviceToken};
use crate::domain::mfa::{self, MfaToken, SignInMethod};
use crate::domain::passkey::{self, PasskeyRecord, PasskeyView, MAX_PASSKEYS};
use crate::domain::security_event::SecurityEventType;
use crate::domain::session::DeviceInfo;
use crate::domain::{exposed, non_empty, Fields};
use crate::error::{AppError, AppResult, Context};
use crate::metrics::SignInOutcome;
use crate::rate_limit::ip_key;
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::passkeys::Added;
use crate::store::Store;

const ALREADY_REGISTERED: &str = "this passkey is registered already";
const TOO_MANY: &str = "an account holds at most 10 passkeys: delete one first";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPasskeyRequest {
    #[schema(value_type = String, required = true)]
    pub challenge_id: Option<String>,
    /// `RegistrationResponseJSON` (WebAuthn Level 3, `PublicKeyCredential.toJSON()`):
    /// `id`, `rawId`, `type`, `response.{clientDataJSON, attestationObject, transports}`.
    #[schema(value_type = Object, required = true)]
    pub credential: Option<Value>,
    /// What to call it (1–64 characters); by default the browser and system that added it.
    #[schema(max_length = 64)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenamePasskeyRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    #[schema(value_type = String, required = true)]
    pub challenge_id: Option<String>,
    /// `AuthenticationResponseJSON` (`PublicKeyCredential.toJSON()`), with its `userHandle`.
    #[schema(value_type = Object, required = true)]
    pub credential: Option<Value>,
    /// The `deviceToken` an earlier sign-in of this account answered on this device.
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaPasskeyOptionsRequest {
    /// The `mfaToken` that `login` answered.
    #[schema(value_type = String, required = true)]
    pub mfa_token: Option<SecretString>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct PasskeyList {
    pub items: Vec<PasskeyView>,
}

/// A registration response, parsed.
pub struct Registration {
    challenge: Option<ceremony::CeremonyId>,
    credential: Box<RegisterPublicKeyCredential>,
    name: Option<String>,
}

impl TryFrom<RegisterPasskeyRequest> for Registration {
    type Error = AppError;

    fn try_from(req: RegisterPasskeyRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let challenge = fields.required("challengeId", req.challenge_id.as_deref(), non_empty(64));
        let credential = match req.credential.map(serde_json::from_value::<RegisterPublicKeyCredential>) {
            Some(Ok(credential)) => Some(Box::new(credential)),
            Some(Err(_)) => {
                fields.add("credential", "must be a registration response (toJSON())");
                None
            }
            None => {
                fields.add("credential", "is required");
                None
            }
        };
        let name = fields.optional("name", req.name.as_deref(), passkey::parse_name);
        let (challenge, credential) = fields.finish_with((challenge, credential))?;
        Ok(Registration { challenge: ceremony::CeremonyId::parse(&challenge), credential, name })
    }
}

/// A usernameless sign-in's answer, parsed.
pub struct PasskeySignIn {
    answer: PasskeyAnswer,
    device: Option<DeviceToken>,
}

impl TryFrom<PasskeyLoginRequest> for PasskeySignIn {
    type Error = AppError;

    fn try_from(req: PasskeyLoginRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let device = exposed(&req.device_token).and_then(DeviceToken::parse);
        let answer = PasskeyAnswerRequest { challenge_id: req.challenge_id, credential: req.credential };
        let answer = PasskeyAnswer::from_fields(&mut fields, "", answer);
        Ok(PasskeySignIn { answer: fields.finish_with(answer)?, device })
    }
}

/// A passkey's new name.
pub struct PasskeyName(String);

impl TryFrom<RenamePasskeyRequest> for PasskeyName {
    type Error = AppError;

    fn try_from(req: RenamePasskeyRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let name = fields.required("name", req.name.as_deref(), passkey::parse_name);
        fields.finish_with(name).map(PasskeyName)
    }
}

pub struct Passkeys<'a> {
    config: &'a Config,
    store: &'a Store,
    sessions: Sessions<'a>,
    accounts: Accounts<'a>,
    check: PasskeyCheck<'a>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
    history: History<'a>,
}

impl<'a> Passkeys<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Passkeys {
            config: &state.config,
            store: &state.store,
            sessions: Sessions::new(state),
            accounts: Accounts::new(state),
            check: PasskeyCheck::new(state),
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
        }
    }

    /// The options of a new passkey for the caller's account: discoverable, user
    /// verification required, attestation `none`, the account's passkeys excluded.
    /// With a second factor on, only a session that passed it may add one.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn register_options(&self, caller: &Caller) -> AppResult<CeremonyView> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        // The handle is made at the account's first registration, then read with the user.
        let handle = async {
            match &user.passkey_user_handle {
                Some(handle) => Ok(handle.clone()),
                None => self.store.passkeys().user_handle(&user.id, &passkey::new_user_handle()).await,
            }
        };
        let (existing, handle) = tokio::try_join!(self.store.passkeys().list(&user.id), handle)?;
        if existing.len() as i64 >= MAX_PASSKEYS {
            return Err(AppError::ConflictWith(TOO_MANY));
        }
        let exclude = existing.iter().map(|p| B64.decode(&p.credential_id)).collect::<Result<Vec<_>, _>>();
        let handle = B64.decode(handle).context("reading the user handle")?;
        let display_name = match (&user.editable.first_name, &user.editable.last_name) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            (Some(name), None) | (None, Some(name)) => name.clone(),
            (None, None) => user.username.clone(),
        };
        let core = self.check.relying_party();
        let builder = core
            .new_challenge_register_builder(&handle, &user.username, &display_name)
            .map_err(webauthn_failure)?
            .attestation(AttestationConveyancePreference::None)
            .user_verification_policy(UserVerificationPolicy::Required)
            .require_resident_key(true)
            .exclude_credentials(Some(exclude.context("reading a stored credential id")?))
            .extensions(Some(RequestRegistrationExtensions {
                // As webauthn-rs's passkeys: the key asks for verification to be used
                // (not enforced: many authenticators fail the whole request otherwise).
                cred_protect: Some(CredProtect {
                    credential_protection_policy: CredentialProtectionPolicy::UserVerificationRequired,
                    enforce_credential_protection_policy: Some(false),
                }),
                uvm: Some(true),
                cred_props: Some(true),
                min_pin_length: None,
                hmac_create_secret: None,
            }));
        let (options, state) = core.generate_challenge_register(builder).map_err(webauthn_failure)?;
        let public_key = serde_json::to_value(options.public_key).context("serializing creation options")?;
        let expected = Expected { user_id: Some(&user.id), bound_to: Some(&session.id) };
        self.check.begin(CeremonyPurpose::Register, expected, &state, public_key).await
    }

    /// Verifies a registration response against its ceremony (this account, this
    /// session) and adds the passkey, with a notice that can undo it and an event.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn register(&self, caller: &Caller, registration: Registration) -> AppResult<PasskeyView> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let refused = |why: &str| {
            tracing::info!(why, "passkey registration refused");
            AppError::InvalidCredentials
        };
        let hash =
            registration.challenge.as_ref().map(ceremony::CeremonyId::hash).ok_or_else(|| refused("challenge"))?;
        let ceremony = self.store.ceremonies().take(&hash, CeremonyPurpose::Register).await?;
        let ceremony = ceremony.ok_or_else(|| refused("no such registration ceremony"))?;
        if ceremony.user_id.as_deref() != Some(&user.id) || ceremony.bound_to.as_deref() != Some(&session.id) {
            return Err(refused("the ceremony was made for another session"));
        }
        let state: RegistrationState = serde_json::from_str(&ceremony.state).context("reading a ceremony's state")?;
        let credential = match self.check.relying_party().register_credential(&registration.credential, &state, None) {
            Ok(credential) => credential,
            Err(WebauthnError::CredentialExcludedFromRequest) => {
                return Err(AppError::ConflictWith(ALREADY_REGISTERED))
            }
            Err(err) => return Err(refused(&err.to_string())),
        };
        let transports = registration.credential.response.transports.iter().flatten();
        let transports = transports.filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned));
        let record = PasskeyRecord {
            user_id: user.id.clone(),
            credential_id: B64.encode(&credential.cred_id),
            credential: serde_json::to_string(&credential).context("serializing a credential")?,
            name: registration.name.unwrap_or_else(|| device_name(&DeviceInfo::from_client(&caller.client))),
            created_at: self.store.now(),
            last_used_at: None,
            counter: credential.counter,
            backed_up: credential.backup_state,
            transports: transports.filter(|t| t != "unknown").collect(),
        };
        let view = PasskeyView::from(&record);
        let mut extra: Vec<_> = self
            .notices
            .of_sign_in_change(
                &user,
                MessageKind::MfaChanged,
                SecurityEventType::PasskeyAdded,
                &caller.client,
                [("change", "passkey_added".to_owned()), ("name", record.name.clone())],
            )?
            .into();
        extra.push(self.event(caller, session.device_hash.as_deref(), SecurityEventType::PasskeyAdded, &view)?);
        match self.store.passkeys().add(&user, &record, extra).await? {
            Added::Done => {}
            Added::Registered => return Err(AppError::ConflictWith(ALREADY_REGISTERED)),
            Added::Full => return Err(AppError::ConflictWith(TOO_MANY)),
            Added::Gone => return Err(AppError::Unauthorized),
        }
        tracing::info!(user_id = %user.id, passkey_id = %view.id, "passkey added");
        Ok(view)
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn list(&self, caller: &Caller) -> AppResult<PasskeyList> {
        self.sessions.live_session(caller).await?;
        let passkeys = self.store.passkeys().list(&caller.user_id).await?;
        Ok(PasskeyList { items: passkeys.iter().map(PasskeyView::from).collect() })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn rename(&self, caller: &Caller, passkey_id: &str, name: PasskeyName) -> AppResult<PasskeyView> {
        self.sessions.live_session(caller).await?;
        let passkey = self.own_passkey(&caller.user_id, passkey_id).await?;
        match self.store.passkeys().rename(&caller.user_id, &passkey.hash(), &name.0).await? {
            Some(renamed) => Ok(PasskeyView::from(&renamed)),
            None => Err(AppError::NotFound),
        }
    }

    /// Deletes one of the caller's passkeys: a session that passed the second factor,
    /// a notice and an event.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn delete(&self, caller: &Caller, passkey_id: &str) -> AppResult<()> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let passkey = self.own_passkey(&user.id, passkey_id).await?;
        let view = PasskeyView::from(&passkey);
        let notice = self.notices.to(
            &user,
            MessageKind::MfaChanged,
            [("change", "passkey_removed".to_owned()), ("name", passkey.name.clone())],
        )?;
        let event = self.event(caller, session.device_hash.as_deref(), SecurityEventType::PasskeyRemoved, &view)?;
        if !self.store.passkeys().remove(&user, &[passkey], vec![notice, event]).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(user_id = %user.id, passkey_id, "passkey removed");
        Ok(())
    }

    /// The options of a usernameless sign-in: no `allowCredentials`, the authenticator
    /// offers the account. Limited per address like login (each makes an item).
    #[tracing::instrument(skip_all)]
    pub async fn login_options(&self, client: &ClientInfo) -> AppResult<CeremonyView> {
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("login-ip", &ip, self.config.rate_limits.login_per_ip).await?;
        self.check.request_options(&[], CeremonyPurpose::SignIn, Expected::default()).await
    }

    /// A sign-in with a passkey alone: `aal2`, `amr ["pop", "mfa"]`, a device token.
    /// Limited like login, per address and per credential (so per account); every
    /// failure is the same 401.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, sign_in: PasskeySignIn, client: &ClientInfo) -> AppResult<AuthResponse> {
        let limits = self.config.rate_limits;
        let ip = ip_key(client.ip.as_deref());
        let credential = passkey::credential_hash(&sign_in.answer.credential_id());
        let limited = tokio::try_join!(
            self.limiter.enforce("login-ip", &ip, limits.login_per_ip),
            self.limiter.enforce("passkey-credential", &credential, limits.login_per_identifier),
        );
        if let Err(err) = limited {
            crate::metrics::sign_in(SignInOutcome::RateLimited);
            return Err(err);
        }
        let result = async {
            let asserted =
                self.check.verify(&sign_in.answer, CeremonyPurpose::SignIn, Expected::default(), client).await?;
            let extra = vec![asserted.use_write];
            self.accounts.sign_in_proved(asserted.user, sign_in.device, client, SignInMethod::Passkey, extra).await
        }
        .await;
        let outcome = match &result {
            Ok(_) => Some(SignInOutcome::Success),
            Err(AppError::InvalidCredentials) => Some(SignInOutcome::InvalidCredentials),
            Err(AppError::AccountSuspended | AppError::AccountDeactivated | AppError::Reactivatable { .. }) => {
                Some(SignInOutcome::Refused)
            }
            Err(_) => None,
        };
        outcome.into_iter().for_each(crate::metrics::sign_in);
        result
    }

    /// The options of a passkey as the second factor of the sign-in `mfaToken` started:
    /// that account's passkeys in `allowCredentials`, the ceremony bound to the token.
    #[tracing::instrument(skip_all)]
    pub async fn second_factor_options(
        &self,
        req: MfaPasskeyOptionsRequest,
        client: &ClientInfo,
    ) -> AppResult<CeremonyView> {
        let mut fields = Fields::new();
        let token = fields.required("mfaToken", exposed(&req.mfa_token), non_empty(512));
        let token = MfaToken::parse(&fields.finish_with(token)?).ok_or(AppError::InvalidToken)?;
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("mfa-ip", &ip, self.config.rate_limits.token_attempts_per_ip).await?;
        let hash = token.hash();
        let (challenge, passkeys) = tokio::try_join!(
            self.store.factors().challenge(&hash, mfa::CHALLENGE_ATTEMPTS),
            self.store.passkeys().list(&token.user_id),
        )?;
        if challenge.is_none_or(|c| c.user_id != token.user_id) || passkeys.is_empty() {
            return Err(AppError::InvalidToken);
        }
        let expected = Expected { user_id: Some(&token.user_id), bound_to: Some(&hash) };
        self.check.request_options(&passkeys, CeremonyPurpose::SecondFactor, expected).await
    }

    /// One of the account's passkeys by its API id (404 otherwise).
    async fn own_passkey(&self, user_id: &str, passkey_id: &str) -> AppResult<PasskeyRecord> {
        let passkeys = self.store.passkeys().list(user_id).await?;
        passkeys.into_iter().find(|p| p.id() == passkey_id).ok_or(AppError::NotFound)
    }

    fn event(
        &self,
        caller: &Caller,
        device_hash: Option<&str>,
        kind: SecurityEventType,
        passkey: &PasskeyView,
    ) -> AppResult<aws_sdk_dynamodb::types::TransactWriteItem> {
        let event = self
            .history
            .event(&caller.user_id, kind, &caller.client)
            .device(device_hash)
            .detail("passkeyId", passkey.id.as_str())
            .detail("name", passkey.name.as_str());
        self.history.put(&event)
    }
}
