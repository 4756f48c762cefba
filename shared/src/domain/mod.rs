//! Domain types. Values that reach the store have been validated on construction: a
//! `Username` or an `Email` cannot hold an invalid value.

pub mod account_event;
pub mod ceremony;
pub mod client;
pub mod device;
mod fields;
mod id;
pub mod identity;
pub mod mfa;
mod names;
pub mod page;
pub mod passkey;
pub mod profile;
pub mod search;
pub mod security_event;
pub mod session;
pub mod social;
pub mod user;
pub mod webhook;

pub use fields::{non_empty, Fields};
pub use id::{is_id, Id, OfUser};
pub use names::{Email, PersonName, Username};

/// The stored form of a random secret (a token, a session's refresh secret): SHA-256
/// suffices for 256-bit random secrets, there is nothing to brute-force.
pub fn hash_secret(secret: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A one-time token's secret: 256 random bits, URL-safe.
pub fn new_one_time_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An id with a UUID's shape derived from `text`: stable, and no way back to the text.
pub fn derived_id(text: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// The text of an optional secret field of a request, for validation.
pub fn exposed(secret: &Option<secrecy::SecretString>) -> Option<&str> {
    use secrecy::ExposeSecret;
    secret.as_ref().map(|s| s.expose_secret())
}
