//! Passkeys (WebAuthn discoverable credentials, user verification required): what is
//! stored of one, what its owner sees, and the ceremonies between an options request
//! and its response. The cryptographic checks are webauthn-rs-core's
//! (`services/passkey_check.rs`); nothing here verifies a signature.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Passkeys an account may hold.
pub const MAX_PASSKEYS: i64 = 10;
/// The longest name a passkey may be given.
pub const NAME_MAX_CHARS: usize = 64;

/// A registered passkey (`USER#<id>` / `PASSKEY#<hash of the credential id>`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRecord {
    pub user_id: String,
    /// The credential id, base64url: what the authenticator names it by.
    pub credential_id: String,
    /// webauthn-rs-core's `Credential` as JSON: the public key (COSE), its algorithm and
    /// the flags at registration. Its counter is `counter`'s copy at registration.
    pub credential: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The signature counter last seen (0: the authenticator keeps none).
    #[serde(default)]
    pub counter: u32,
    /// Synced (a passkey provider's cloud) rather than bound to one device.
    #[serde(default)]
    pub backed_up: bool,
    #[serde(default)]
    pub transports: Vec<String>,
}

/// Names the credential's account and id, never its key material.
impl std::fmt::Debug for PasskeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRecord").field("user_id", &self.user_id).field("id", &self.id()).finish_non_exhaustive()
    }
}

impl PasskeyRecord {
    /// The id the API names it by: stable, and no way back to the credential id.
    pub fn id(&self) -> String {
        super::derived_id(&credential_hash(&self.credential_id))
    }

    pub fn hash(&self) -> String {
        credential_hash(&self.credential_id)
    }
}

/// The key of a credential id (base64url) in the table: its SHA-256, base64url.
pub fn credential_hash(credential_id: &str) -> String {
    super::hash_secret(credential_id)
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Passkey)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Synced by a passkey provider (it survives the loss of one device).
    pub backed_up: bool,
    /// How the browser may reach the authenticator: `internal`, `hybrid`, `usb`, …
    pub transports: Vec<String>,
}

impl From<&PasskeyRecord> for PasskeyView {
    fn from(record: &PasskeyRecord) -> Self {
        PasskeyView {
            id: record.id(),
            name: record.name.clone(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            backed_up: record.backed_up,
            transports: record.transports.clone(),
        }
    }
}

/// A passkey's name: trimmed, 1 to 64 characters, no control characters.
pub fn parse_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(format!("must be 1 to {NAME_MAX_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// The WebAuthn user handle of an account: 32 random bytes, base64url; never its id,
/// email or username (an authenticator may show or keep it).
pub fn new_user_handle() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  My phone ").unwrap(), "My phone");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"é".repeat(65)).is_err());
        assert!(parse_name("a\u{7}b").is_err());
        assert_eq!(parse_name(&"é".repeat(64)).unwrap().chars().count(), 64);
    }

    #[test]
    fn user_handles_are_32_random_bytes() {
        let (a, b) = (new_user_handle(), new_user_handle());
        assert_ne!(a, b);
        assert_eq!(B64.decode(a).unwrap().len(), 32);
    }
}
