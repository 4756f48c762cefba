//! Sign-in with Google, Apple or any OpenID provider: the native flow (an ID token from
//! the app's provider SDK), the web flow (authorize → provider → callback → the app with
//! a single-use `loginCode` → exchange), and what a verified identity leads to: a
//! sign-in when it is linked, a sign-up when no account has its email, and otherwise a
//! `linkToken` that only the account's signed-in owner can redeem. Never a link by email
//! alone.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::accounts::{Accounts, AuthResponse, MfaChallengeView, SignIn};
use super::history::History;
use super::sessions::Sessions;
use super::verification::Verification;
use super::{Limiter, Notices};
use crate::config::{Config, Provider};
use crate::domain::account_event::AccountEvent;
use crate::domain::ceremony::{CeremonyId, CeremonyPurpose};
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::device::{DeviceRecord, DeviceToken};
use crate::domain::identity::{suggested_username, IdentityRecord, IdentityView};
use crate::domain::mfa::SignInMethod;
use crate::domain::security_event::SecurityEventType;
use crate::domain::user::{Editable, OwnUserView, UserRecord};
use crate::domain::{exposed, new_one_time_secret, non_empty, Email, Fields, PersonName, Username};
use crate::error::{AppError, AppResult, Context};
use crate::oidc::{Providers, VerifiedIdentity};
use crate::rate_limit::ip_key;
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::{identities::Linked, SignUp, Store};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedTokenRequest {
    /// The ID token the provider's SDK gave the app.
    #[schema(value_type = String, required = true)]
    pub id_token: Option<SecretString>,
    /// The nonce the app gave the SDK (raw: for Apple, whose SDK takes its SHA-256, the
    /// service hashes it).
    #[schema(value_type = String, required = true)]
    pub nonce: Option<String>,
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// One of the app's configured redirect URIs.
    #[param(required = true)]
    pub redirect_uri: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's refusal (`access_denied` when the person said no).
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeRequest {
    #[schema(value_type = String, required = true)]
    pub login_code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    pub device_token: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedSignupRequest {
    #[schema(value_type = String, required = true)]
    pub signup_token: Option<SecretString>,
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9_]{3,30}$")]
    pub username: Option<String>,
    /// Must be `true`.
    #[schema(value_type = bool, required = true)]
    pub agree_to_terms: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    #[schema(value_type = String, required = true)]
    pub link_token: Option<SecretString>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderView>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub issuer: String,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityList {
    pub items: Vec<IdentityView>,
}

/// What a verified identity leads to: a session, the second factor's challenge, or a
/// sign-up (409 `ACCOUNT_EXISTS` with a `linkToken` is the fourth, as an error).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum FederatedSignIn {
    Session(Box<AuthResponse>),
    MfaRequired(MfaChallengeView),
    SignupRequired(SignupRequired),
}

/// No account has this identity or its email: `federated/signup` makes one.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupRequired {
    /// Always `true`.
    pub signup_required: bool,
    /// For `POST /api/auth/federated/signup`: single use, 15 minutes.
    pub signup_token: String,
    pub email: String,
    pub suggested_username: String,
}

/// The web flow's state between authorize and callback.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowState {
    provider: String,
    redirect_uri: String,
    nonce: String,
    pkce_verifier: String,
}

pub struct Federation<'a> {
    config: &'a Config,
    store: &'a Store,
    providers: &'a Providers,
    accounts: Accounts<'a>,
    sessions: Sessions<'a>,
    verification: Verification<'a>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
    history: History<'a>,
}

impl<'a> Federation<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Federation {
            config: &state.config,
            store: &state.store,
            providers: &state.providers,
            accounts: Accounts::new(state),
            sessions: Sessions::new(state),
            verification: Verification::new(state),
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
        }
    }

    pub fn providers(&self) -> ProviderList {
        let items = self.providers.list().iter().map(|p| ProviderView { id: p.id.clone(), issuer: p.issuer.clone() });
        ProviderList { items: items.collect() }
    }

    fn provider(&self, id: &str) -> AppResult<&'a Provider> {
        self.providers.get(id).ok_or(AppError::NotFound)
    }

    /// The native flow: an ID token the app's provider SDK gave it, with its nonce.
    #[tracing::instrument(skip_all, fields(provider = %provider_id))]
    pub async fn token(
        &self,
        provider_id: &str,
        req: FederatedTokenRequest,
        client: &ClientInfo,
    ) -> AppResult<FederatedSignIn> {
        let provider = self.provider(provider_id)?;
        let mut fields = Fields::new();
        let id_token = fields.required("idToken", exposed(&req.id_token), non_empty(8192));
        let nonce = fields.required("nonce", req.nonce.as_deref(), non_empty(512));
        let (id_token, nonce) = fields.finish_with((id_token, nonce))?;
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("login-ip", &ip, self.config.rate_limits.login_per_ip).await?;
        let verified = self.providers.verify_id_token(provider, &id_token, &nonce, self.store.now()).await?;
        if !self.store.ceremonies().first_use_of_token(&verified.token_hash, verified.expires_at).await? {
            tracing::info!("an ID token presented again");
            return Err(AppError::InvalidToken);
        }
        let device = exposed(&req.device_token).and_then(DeviceToken::parse);
        self.resolve(verified.identity, device, client).await
    }

    /// The web flow's first step: where to send the browser (the provider's
    /// authorization URL), with state, nonce and PKCE kept in the table for 10 minutes.
    #[tracing::instrument(skip_all, fields(provider = %provider_id))]
    pub async fn authorize(&self, provider_id: &str, query: AuthorizeQuery, client: &ClientInfo) -> AppResult<String> {
        let provider = self.provider(provider_id)?;
        let redirect_uri = query.redirect_uri.unwrap_or_default();
        if !self.providers.is_redirect_uri(&redirect_uri) {
            return Err(AppError::validation("redirectUri", "must be one of the app's configured redirect URIs"));
        }
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("login-ip", &ip, self.config.rate_limits.login_per_ip).await?;
        let (state, nonce, pkce_verifier) = (CeremonyId::new(), new_one_time_secret(), new_one_time_secret());
        let flow = FlowState { provider: provider.id.clone(), redirect_uri, nonce, pkce_verifier };
        let url = self
            .providers
            .authorization_url(
                provider,
                &self.callback_url(provider),
                &state.expose(),
                &flow.nonce,
                &flow.pkce_verifier,
                self.store.now(),
            )
            .await?;
        self.store.ceremonies().put(&state, CeremonyPurpose::FederatedState, &flow, None, None).await?;
        Ok(url.to_string())
    }

    /// The web flow's return from the provider: the code exchanged (with PKCE) for an ID
    /// token, verified against the flow's nonce, and the app's redirect URI with a
    /// single-use `loginCode` (60 s), or `error`. An unknown or used `state` has no
    /// redirect URI to go back to: 401 `INVALID_TOKEN`.
    #[tracing::instrument(skip_all, fields(provider = %provider_id))]
    pub async fn callback(&self, provider_id: &str, query: CallbackQuery) -> AppResult<String> {
        let state = query.state.as_deref().and_then(CeremonyId::parse).ok_or(AppError::InvalidToken)?;
        let ceremony = self.store.ceremonies().take(&state.hash(), CeremonyPurpose::FederatedState).await?;
        let flow: FlowState = match ceremony {
            Some(c) => serde_json::from_str(&c.state).context("reading a flow's state")?,
            None => return Err(AppError::InvalidToken),
        };
        if flow.provider != provider_id {
            return Err(AppError::InvalidToken);
        }
        let provider = self.provider(provider_id)?;
        let back = |key: &str, value: &str| -> AppResult<String> {
            let mut url = url::Url::parse(&flow.redirect_uri).context("a configured redirect URI")?;
            url.query_pairs_mut().append_pair(key, value);
            Ok(url.to_string())
        };
        if let Some(error) = query.error {
            let error: String = error.chars().filter(|c| c.is_ascii_lowercase() || *c == '_').take(64).collect();
            return back("error", &error);
        }
        let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
            return back("error", "invalid_request");
        };
        let now = self.store.now();
        let callback = self.callback_url(provider);
        let verified =
            match self.providers.exchange_code(provider, &callback, &code, &flow.pkce_verifier, &flow.nonce, now).await
            {
                Ok(verified) => verified,
                Err(AppError::ServiceUnavailable(err)) => {
                    tracing::warn!(error = %err, "the provider was unavailable at the callback");
                    return back("error", "temporarily_unavailable");
                }
                Err(_) => return back("error", "invalid_token"),
            };
        if !self.store.ceremonies().first_use_of_token(&verified.token_hash, verified.expires_at).await? {
            return back("error", "invalid_token");
        }
        let login_code = CeremonyId::new();
        self.store.ceremonies().put(&login_code, CeremonyPurpose::LoginCode, &verified.identity, None, None).await?;
        back("loginCode", &login_code.expose())
    }

    /// The web flow's last step: the `loginCode` the app got, for the outcome.
    #[tracing::instrument(skip_all)]
    pub async fn exchange(&self, req: ExchangeRequest, client: &ClientInfo) -> AppResult<FederatedSignIn> {
        let mut fields = Fields::new();
        let code = fields.required("loginCode", exposed(&req.login_code), non_empty(64));
        let code = fields.finish_with(code)?;
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("login-ip", &ip, self.config.rate_limits.login_per_ip).await?;
        let code = CeremonyId::parse(&code).ok_or(AppError::InvalidToken)?;
        let ceremony = self.store.ceremonies().take(&code.hash(), CeremonyPurpose::LoginCode).await?;
        let identity: VerifiedIdentity = match ceremony {
            Some(c) => serde_json::from_str(&c.state).context("reading a login code's identity")?,
            None => return Err(AppError::InvalidToken),
        };
        let device = exposed(&req.device_token).and_then(DeviceToken::parse);
        self.resolve(identity, device, client).await
    }

    /// What a verified identity leads to.
    async fn resolve(
        &self,
        identity: VerifiedIdentity,
        device: Option<DeviceToken>,
        client: &ClientInfo,
    ) -> AppResult<FederatedSignIn> {
        let claim = crate::domain::identity::claim_hash(&identity.issuer, &identity.subject);
        if let Some(user_id) = self.store.identities().owner(&claim).await? {
            let ((user, factor), linked) = tokio::try_join!(
                self.store.factors().user_and_factor(&user_id),
                self.store.identities().get(&user_id, &identity.provider),
            )?;
            let (user, linked) = user.zip(linked).ok_or(AppError::InvalidToken)?;
            let used = self.store.identities().used_write(&linked, self.store.now())?;
            let signed_in = self.accounts.sign_in_federated(user, factor, device, client, vec![used]).await?;
            return Ok(match signed_in {
                SignIn::Session(session) => FederatedSignIn::Session(session),
                SignIn::MfaRequired(challenge) => FederatedSignIn::MfaRequired(challenge),
            });
        }
        let Some(email) = identity.email.clone() else {
            tracing::info!("the provider gave no email: no account can be made or found");
            return Err(AppError::InvalidToken);
        };
        if let Some(owner) = self.store.users().user_id_by_identifier(&email).await? {
            let token = CeremonyId::new();
            self.store.ceremonies().put(&token, CeremonyPurpose::Link, &identity, Some(&owner), None).await?;
            return Err(AppError::AccountExists { link_token: token.expose() });
        }
        let token = CeremonyId::new();
        self.store.ceremonies().put(&token, CeremonyPurpose::Signup, &identity, None, None).await?;
        let mut suggested = suggested_username(Some(&email), identity.given_name.as_deref());
        if self.store.users().user_id_by_identifier(&suggested).await?.is_some() {
            suggested = format!("{}{}", &suggested[..suggested.len().min(26)], rand::random::<u16>() % 10_000);
        }
        Ok(FederatedSignIn::SignupRequired(SignupRequired {
            signup_required: true,
            signup_token: token.expose(),
            email,
            suggested_username: suggested,
        }))
    }

    /// A new account for a verified identity no account had: no password
    /// (`hasPassword: false`), the email verified when the provider said so, the identity
    /// linked, a first session; the `signupToken` used up only if all of it is written.
    #[tracing::instrument(skip_all)]
    pub async fn signup(&self, req: FederatedSignupRequest, client: &ClientInfo) -> AppResult<AuthResponse> {
        let mut fields = Fields::new();
        let token = fields.required("signupToken", exposed(&req.signup_token), non_empty(64));
        let username = fields.required("username", req.username.as_deref(), Username::parse);
        let first_name = fields.optional("firstName", req.first_name.as_deref(), PersonName::parse);
        let last_name = fields.optional("lastName", req.last_name.as_deref(), PersonName::parse);
        if req.agree_to_terms != Some(true) {
            fields.add("agreeToTerms", "must be true");
        }
        let (token, username) = fields.finish_with((token, username))?;
        let ip = ip_key(client.ip.as_deref());
        self.limiter.enforce("register-ip", &ip, self.config.rate_limits.register_per_ip).await?;
        let token = CeremonyId::parse(&token).ok_or(AppError::InvalidToken)?;
        let ceremony = self.store.ceremonies().peek(&token.hash(), CeremonyPurpose::Signup).await?;
        let identity: VerifiedIdentity = match ceremony {
            Some(c) => serde_json::from_str(&c.state).context("reading a signup token's identity")?,
            None => return Err(AppError::InvalidToken),
        };
        let email = identity.email.as_deref().map(Email::parse).transpose().map_err(|_| AppError::InvalidToken)?;
        let email = email.ok_or(AppError::InvalidToken)?;
        let now = self.store.now();
        let names = Editable {
            first_name: first_name.map(PersonName::into_string).or(identity.given_name.clone()),
            last_name: last_name.map(PersonName::into_string).or(identity.family_name.clone()),
            ..Default::default()
        };
        let mut user = UserRecord {
            editable: names,
            is_verified: identity.email_verified,
            last_login: Some(now),
            ..UserRecord::new(username.as_str(), email.as_str(), String::new(), now)
        };
        let device = DeviceToken::new(&user.id);
        let (session, refresh) = self.sessions.open(&user, false, client, SignInMethod::Federated, &device);
        user.known_devices.push(session.device.fingerprint());
        let mut items = Vec::new();
        if !user.is_verified {
            let (verify_hash, verify_items) = self.verification.verification_items(&user)?;
            user.verify_token_hash = Some(verify_hash);
            items.extend(verify_items);
        }
        let linked = self.identity_record(&user.id, &identity, now);
        items.extend(self.store.identities().link_writes(&linked)?);
        items.push(self.store.ceremonies().consume_write(&token.hash(), CeremonyPurpose::Signup)?);
        items.push(self.store.users().device_put(&device, &DeviceRecord::new(&user.id, client, 0, now))?);
        items.push(self.history.put(&self.linked_event(&user.id, &linked, client))?);
        items.push(self.store.events().put(&AccountEvent::user_created(&user.id, &user.username, now))?);
        match self.store.users().create_user(&user, &username.key(), &session, items).await? {
            SignUp::Created => {}
            SignUp::EmailTaken => return Err(AppError::EmailTaken),
            SignUp::UsernameTaken => return Err(AppError::UsernameTaken),
        }
        tracing::info!(user_id = %user.id, provider = %identity.provider, "account created with a federated identity");
        crate::metrics::count("SignUps", 1);
        let tokens = self.sessions.token_pair(&user, &session, &refresh).await?;
        Ok(AuthResponse { user: OwnUserView::from(&user), tokens, device_token: device.expose() })
    }

    /// Links the identity of a `linkToken` to the caller's account: only the account
    /// whose email the identity asserted, signed in (with its second factor if on).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn link(&self, caller: &Caller, req: LinkRequest) -> AppResult<IdentityView> {
        let mut fields = Fields::new();
        let token = fields.required("linkToken", exposed(&req.link_token), non_empty(64));
        let token = fields.finish_with(token)?;
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let token = CeremonyId::parse(&token).ok_or(AppError::InvalidToken)?;
        let ceremony = self.store.ceremonies().peek(&token.hash(), CeremonyPurpose::Link).await?;
        let ceremony = ceremony.filter(|c| c.user_id.as_deref() == Some(&user.id)).ok_or(AppError::InvalidToken)?;
        let identity: VerifiedIdentity = serde_json::from_str(&ceremony.state).context("reading a link token")?;
        let linked = self.identity_record(&user.id, &identity, self.store.now());
        let event = self.linked_event(&user.id, &linked, &caller.client).device(session.device_hash.as_deref());
        let mut extra: Vec<_> = self
            .notices
            .of_sign_in_change(
                &user,
                MessageKind::IdentityChanged,
                SecurityEventType::IdentityLinked,
                &caller.client,
                [("change", "linked".to_owned()), ("provider", linked.provider.clone())],
            )?
            .into();
        extra.push(self.history.put(&event)?);
        extra.push(self.store.ceremonies().consume_write(&token.hash(), CeremonyPurpose::Link)?);
        match self.store.identities().link(&user, &linked, extra).await? {
            Linked::Done => Ok(IdentityView::from(&linked)),
            Linked::Taken => Err(AppError::ConflictWith("this identity, or one of this provider, is linked already")),
            Linked::Gone => Err(AppError::InvalidToken),
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn identities(&self, caller: &Caller) -> AppResult<IdentityList> {
        self.sessions.live_session(caller).await?;
        let identities = self.store.identities().list(&caller.user_id).await?;
        Ok(IdentityList { items: identities.iter().map(IdentityView::from).collect() })
    }

    /// Unlinks an identity, unless it is the account's only way to sign in (no password,
    /// no passkey, no other identity): 409 `CONFLICT`.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn unlink(&self, caller: &Caller, provider: &str) -> AppResult<()> {
        let (user, session, _) = self.sessions.second_factor_session(caller).await?;
        let identities = self.store.identities().list(&user.id).await?;
        let identity = identities.iter().find(|i| i.provider == provider).ok_or(AppError::NotFound)?;
        if !user.has_password() && user.passkeys == 0 && identities.len() == 1 {
            return Err(AppError::ConflictWith("this identity is the account's only way to sign in"));
        }
        let event = self
            .history
            .event(&user.id, SecurityEventType::IdentityUnlinked, &caller.client)
            .device(session.device_hash.as_deref())
            .detail("provider", provider);
        let notice = self.notices.to(
            &user,
            MessageKind::IdentityChanged,
            [("change", "unlinked".to_owned()), ("provider", provider.to_owned())],
        )?;
        if !self.store.identities().unlink(identity, vec![notice, self.history.put(&event)?]).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(user_id = %user.id, provider, "identity unlinked");
        Ok(())
    }

    fn identity_record(
        &self,
        user_id: &str,
        identity: &VerifiedIdentity,
        now: chrono::DateTime<chrono::Utc>,
    ) -> IdentityRecord {
        IdentityRecord {
            user_id: user_id.to_owned(),
            provider: identity.provider.clone(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            linked_at: now,
            last_used_at: None,
        }
    }

    fn linked_event(
        &self,
        user_id: &str,
        identity: &IdentityRecord,
        client: &ClientInfo,
    ) -> crate::domain::security_event::SecurityEventRecord {
        self.history
            .event(user_id, SecurityEventType::IdentityLinked, client)
            .detail("provider", identity.provider.as_str())
    }

    /// Where the provider sends the browser back: this service's callback for it.
    fn callback_url(&self, provider: &Provider) -> String {
        format!("{}/api/auth/federated/{}/callback", self.config.issuer, provider.id)
    }
}
