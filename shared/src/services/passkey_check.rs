//! The WebAuthn side of passkeys: the relying party, the ceremonies kept in the table,
//! and the check of an assertion (a passkey's answer to a challenge), which
//! usernameless sign-in and the second factor share.
//!
//! The verifier is webauthn-rs-core (origin, RP id hash, flags, challenge, signature,
//! counter; COSE ES256, RS256, EdDSA and more), used directly rather than through
//! `webauthn-rs` for two things that crate's passkey API cannot do: a 32-byte user handle
//! (it takes a UUID) and discoverable credentials (it asks for non-resident ones). The
//! invariants its wrapper keeps are kept here: user verification required, attestation
//! `none`, existing credentials excluded, a credential id unique across accounts (a claim
//! item), the counter checked and moved on a condition.

use aws_sdk_dynamodb::types::TransactWriteItem;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{AuthenticationState, Credential, PublicKeyCredential, UserVerificationPolicy};
use webauthn_rs_core::WebauthnCore;

use super::history::History;
use super::Notices;
use crate::config::Config;
use crate::domain::ceremony::{CeremonyId, CeremonyPurpose};
use crate::domain::client::ClientInfo;
use crate::domain::passkey::{credential_hash, PasskeyRecord};
use crate::domain::security_event::SecurityEventType;
use crate::domain::user::UserRecord;
use crate::domain::Fields;
use crate::error::{AppError, AppResult, Context};
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::Store;

/// A passkey's answer as a request carries it: the ceremony's id and the credential
/// as the browser's `PublicKeyCredential.toJSON()` gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyAnswerRequest {
    #[schema(value_type = String, required = true)]
    pub challenge_id: Option<String>,
    /// `AuthenticationResponseJSON` (WebAuthn Level 3): `id`, `rawId`, `type`,
    /// `response.{clientDataJSON, authenticatorData, signature, userHandle}`, base64url.
    #[schema(value_type = Object, required = true)]
    pub credential: Option<Value>,
}

/// A parsed answer. An unknown or malformed `challengeId` is no ceremony (401 later,
/// like a wrong signature); a credential that is not an assertion's JSON is a 400.
pub struct PasskeyAnswer {
    challenge: Option<CeremonyId>,
    credential: PublicKeyCredential,
}

impl PasskeyAnswer {
    pub(crate) fn from_fields(fields: &mut Fields, prefix: &str, req: PasskeyAnswerRequest) -> Option<Self> {
        let challenge_field = format!("{prefix}challengeId");
        let challenge = fields.required(&challenge_field, req.challenge_id.as_deref(), crate::domain::non_empty(64));
        let credential = match req.credential {
            None => {
                fields.add(&format!("{prefix}credential"), "is required");
                None
            }
            Some(value) => match serde_json::from_value::<PublicKeyCredential>(value) {
                Ok(credential) => Some(credential),
                Err(_) => {
                    fields.add(&format!("{prefix}credential"), "must be an authentication response (toJSON())");
                    None
                }
            },
        };
        Some(PasskeyAnswer { challenge: CeremonyId::parse(&challenge?), credential: credential? })
    }
}

impl PasskeyAnswer {
    /// The credential id the answer names, base64url (before anything is verified).
    pub(crate) fn credential_id(&self) -> String {
        B64.encode(&self.credential.raw_id)
    }
}

/// Options for the browser: `navigator.credentials.create()` / `.get()` after
/// `PublicKeyCredential.parseCreationOptionsFromJSON()` / `parseRequestOptionsFromJSON()`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyView {
    /// Send it back with the response: single use, five minutes.
    pub challenge_id: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    #[schema(value_type = Object)]
    pub public_key: Value,
}

/// Who a ceremony must have been made for.
#[derive(Clone, Copy, Default)]
pub struct Expected<'a> {
    pub user_id: Option<&'a str>,
    pub bound_to: Option<&'a str>,
}

/// A verified assertion: the account, its passkey, and the write that records the use
/// (for the sign-in's transaction: its condition refuses a lost race).
pub struct Asserted {
    pub user: UserRecord,
    pub passkey: PasskeyRecord,
    pub use_write: TransactWriteItem,
}

#[derive(Clone, Copy)]
pub struct PasskeyCheck<'a> {
    config: &'a Config,
    store: &'a Store,
    notices: Notices<'a>,
    history: History<'a>,
}

impl<'a> PasskeyCheck<'a> {
    pub fn new(state: &'a AppState) -> Self {
        PasskeyCheck {
            config: &state.config,
            store: &state.store,
            notices: Notices::new(&state.store),
            history: History::new(&state.store),
        }
    }

    /// The verifier for the configured relying party (no subdomains or other ports than
    /// the listed origins').
    pub(crate) fn relying_party(&self) -> WebauthnCore {
        let rp = &self.config.relying_party;
        WebauthnCore::new_unsafe_experts_only(
            &rp.name,
            &rp.id,
            rp.origins.clone(),
            std::time::Duration::from_secs(CeremonyPurpose::SignIn.lifetime_secs() as u64),
            Some(false),
            Some(false),
        )
    }

    /// Keeps a ceremony's state and answers its options with the ceremony's id.
    pub(crate) async fn begin(
        &self,
        purpose: CeremonyPurpose,
        expected: Expected<'_>,
        state: &impl Serialize,
        public_key: Value,
    ) -> AppResult<CeremonyView> {
        let id = CeremonyId::new();
        self.store.ceremonies().put(&id, purpose, state, expected.user_id, expected.bound_to).await?;
        Ok(CeremonyView { challenge_id: id.expose(), public_key })
    }

    /// A challenge for an assertion: by any passkey (`allowed` empty: the authenticator
    /// offers the account) or by one of `allowed`.
    pub(crate) async fn request_options(
        &self,
        allowed: &[PasskeyRecord],
        purpose: CeremonyPurpose,
        expected: Expected<'_>,
    ) -> AppResult<CeremonyView> {
        let credentials = allowed.iter().map(stored_credential).collect::<AppResult<Vec<_>>>()?;
        let core = self.relying_party();
        let builder = core
            .new_challenge_authenticate_builder(credentials, Some(UserVerificationPolicy::Required))
            .map(|b| b.allow_backup_eligible_upgrade(true))
            .map_err(webauthn_failure)?;
        let (options, state) = core.generate_challenge_authenticate(builder).map_err(webauthn_failure)?;
        let mut public_key = serde_json::to_value(options.public_key).context("serializing request options")?;
        // The JSON form leaves it out rather than sending an empty list.
        if public_key.get("allowCredentials").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            public_key.as_object_mut().map(|o| o.remove("allowCredentials"));
        }
        self.begin(purpose, expected, &state, public_key).await
    }

    /// Checks an assertion against the ceremony it answers (taken, whatever the
    /// outcome), the passkey it names and the account's user handle. Anything wrong is
    /// 401 `INVALID_CREDENTIALS`, the same for an unknown credential as for a bad
    /// signature; a counter that went back also sends the owner a security notice.
    pub(crate) async fn verify(
        &self,
        answer: &PasskeyAnswer,
        purpose: CeremonyPurpose,
        expected: Expected<'_>,
        client: &ClientInfo,
    ) -> AppResult<Asserted> {
        let refused = |why: &str| {
            tracing::info!(why, "passkey answer refused");
            AppError::InvalidCredentials
        };
        let challenge = answer.challenge.as_ref().ok_or_else(|| refused("malformed challenge id"))?;
        let ceremony = self.store.ceremonies().take(&challenge.hash(), purpose).await?;
        let ceremony = ceremony.ok_or_else(|| refused("no such ceremony for this purpose"))?;
        if ceremony.user_id.as_deref() != expected.user_id || ceremony.bound_to.as_deref() != expected.bound_to {
            return Err(refused("the ceremony was made for another account or sign-in"));
        }
        let hash = credential_hash(&answer.credential_id());
        let owner = self.store.passkeys().owner(&hash).await?.ok_or_else(|| refused("unknown credential"))?;
        if expected.user_id.is_some_and(|user_id| user_id != owner) {
            return Err(refused("another account's credential"));
        }
        let (user, passkey) = self.store.passkeys().user_and_passkey(&owner, &hash).await?;
        let (user, passkey) = user.zip(passkey).ok_or_else(|| refused("the credential's passkey is gone"))?;
        let handle = answer.credential.response.user_handle.as_deref().map(|h| B64.encode(h));
        let handle_matches = match handle {
            Some(handle) => user.passkey_user_handle.as_deref() == Some(handle.as_str()),
            // A usernameless sign-in learns the account from the handle: it must be there.
            None => purpose != CeremonyPurpose::SignIn,
        };
        if !handle_matches {
            return Err(refused("the user handle is not the account's"));
        }
        let state: AuthenticationState = serde_json::from_str(&ceremony.state).context("reading a ceremony's state")?;
        let mut credential = stored_credential(&passkey)?;
        credential.counter = passkey.counter;
        match self.relying_party().authenticate_single_credential(&answer.credential, &state, &credential) {
            Ok(result) => {
                let now = self.store.now();
                let use_write =
                    self.store.passkeys().use_write(&passkey, result.counter(), result.backup_state(), now)?;
                Ok(Asserted { user, passkey, use_write })
            }
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.report_counter_regression(&user, &passkey, client).await?;
                Err(refused("the signature counter went back"))
            }
            Err(err) => Err(refused(&err.to_string())),
        }
    }

    /// A counter that did not grow: two copies of the key exist (a cloned
    /// authenticator). The owner hears of it, and it goes in the account's history.
    async fn report_counter_regression(
        &self,
        user: &UserRecord,
        passkey: &PasskeyRecord,
        client: &ClientInfo,
    ) -> AppResult<()> {
        tracing::warn!(user_id = %user.id, passkey_id = %passkey.id(), "passkey counter went back: a cloned authenticator?");
        let notice = self.notices.to(
            user,
            MessageKind::MfaChanged,
            [("change", "passkey_cloned".to_owned()), ("name", passkey.name.clone())],
        )?;
        let event = self
            .history
            .event(&user.id, SecurityEventType::SignInFailed, client)
            .detail("reason", "passkey_counter")
            .detail("passkeyId", passkey.id());
        self.store
            .try_transact(vec![notice, self.history.put(&event)?])
            .await?
            .map_err(|_| AppError::internal("the notice of a cloned passkey was refused"))
    }
}

/// The stored credential of a passkey, as the verifier takes it.
pub(crate) fn stored_credential(passkey: &PasskeyRecord) -> AppResult<Credential> {
    serde_json::from_str(&passkey.credential).context("reading a stored passkey credential")
}

/// A verifier error that is the service's own (options it could not build).
pub(crate) fn webauthn_failure(err: WebauthnError) -> AppError {
    AppError::internal(format!("webauthn: {err}"))
}
