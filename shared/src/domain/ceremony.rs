//! Ceremonies: a multi-step sign-in's state between its steps, kept in the table (never
//! in a function's memory: the next step may reach another instance), single use and
//! bound to its purpose: passkey challenges, and the steps of federated sign-in.

use serde::{Deserialize, Serialize};

/// What a ceremony is for: it is taken only by the step of that purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to the signed-in account of the ceremony.
    Register,
    /// Signing in with a passkey alone (any account's).
    SignIn,
    /// A passkey as the second factor of the sign-in whose `mfaToken` the ceremony names.
    SecondFactor,
    /// The web flow at a provider: its state, nonce and PKCE verifier (10 minutes).
    FederatedState,
    /// The web flow back at the app: the `loginCode` it exchanges (60 s).
    LoginCode,
    /// A verified identity no account has: the `signupToken` (15 minutes).
    Signup,
    /// A verified identity whose email an account has: the `linkToken` (15 minutes).
    Link,
    /// A provider's or a passkey's sign-in of a deactivated account: the
    /// `reactivationToken` that `reactivate` takes instead of a password (10 minutes).
    Reactivate,
}

impl CeremonyPurpose {
    /// The sort key of its ceremonies.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyPurpose::Register => "REGISTER",
            CeremonyPurpose::SignIn => "SIGNIN",
            CeremonyPurpose::SecondFactor => "MFA",
            CeremonyPurpose::FederatedState => "OIDC_STATE",
            CeremonyPurpose::LoginCode => "OIDC_LOGIN",
            CeremonyPurpose::Signup => "OIDC_SIGNUP",
            CeremonyPurpose::Link => "OIDC_LINK",
            CeremonyPurpose::Reactivate => "REACTIVATE",
        }
    }

    /// How long a ceremony of this purpose lives.
    pub fn lifetime_secs(self) -> i64 {
        match self {
            CeremonyPurpose::Register | CeremonyPurpose::SignIn | CeremonyPurpose::SecondFactor => 300,
            CeremonyPurpose::FederatedState | CeremonyPurpose::Reactivate => 600,
            CeremonyPurpose::LoginCode => 60,
            CeremonyPurpose::Signup | CeremonyPurpose::Link => 900,
        }
    }
}

/// A ceremony waiting for its next step (`CEREMONY#<hash of its id>` / purpose): single
/// use (taken by a conditional delete), short-lived.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyRecord {
    /// What the next step needs, as JSON: webauthn-rs-core's registration or
    /// authentication state; a provider flow's state; a verified identity.
    pub state: String,
    /// The account a registration, a second factor or a reactivation is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The session that asked for a registration; the hash of the `mfaToken` of a
    /// second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<String>,
    /// Epoch seconds: the TTL attribute; taking it checks it too.
    pub expires_at: i64,
}

/// A ceremony's id as the client holds it (`challengeId`, `loginCode`, `signupToken`,
/// `linkToken`, `reactivationToken`, a provider flow's `state`): 256 random bits, base64url.
pub struct CeremonyId(String);

impl CeremonyId {
    pub fn new() -> Self {
        CeremonyId(super::new_one_time_secret())
    }

    /// An id of the right shape; anything else names no ceremony.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == 43 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| CeremonyId(text.to_owned()))
    }

    pub fn hash(&self) -> String {
        super::hash_secret(&self.0)
    }

    pub fn expose(&self) -> String {
        self.0.clone()
    }
}

impl Default for CeremonyId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceremony_ids_round_trip_and_refuse_garbage() {
        let id = CeremonyId::new();
        assert_eq!(CeremonyId::parse(&id.expose()).unwrap().hash(), id.hash());
        for bad in ["", "short", &"a".repeat(44), &format!("{}!", "a".repeat(42))] {
            assert!(CeremonyId::parse(bad).is_none(), "{bad}");
        }
    }
}
