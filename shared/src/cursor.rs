//! Opaque page cursors: the store's last evaluated key, encrypted and authenticated
//! (XChaCha20-Poly1305, a random nonce each) with the list it belongs to as associated
//! data. A page never shows the ids, times or name tokens of the items it hides from
//! the viewer, and a forged, altered or foreign cursor is 400 `INVALID_CURSOR`, never a
//! query the client shaped.
//!
//! The key is a secret of its own (`CURSOR_KEY_SECRET_ID` in AWS, a generated file
//! locally), not derived from the token-signing key: a cursor key that leaks says
//! nothing about the signing key, and rotating either leaves the other alone.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{AppError, AppResult, BoxError};
use crate::store::pages::PageKey;

const NONCE_BYTES: usize = 24;
/// The least key material accepted, in bytes.
const MIN_SECRET_BYTES: usize = 32;

pub struct Cursors {
    cipher: XChaCha20Poly1305,
}

impl Cursors {
    /// The key is SHA-256 of the secret's bytes (at least 32 of them).
    pub fn new(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"user-service page cursor v2\0");
        hasher.update(secret);
        let key: [u8; 32] = hasher.finalize().into();
        Cursors { cipher: XChaCha20Poly1305::new(&key.into()) }
    }

    pub fn encode(&self, list: &str, last_key: &PageKey) -> String {
        let json = serde_json::to_vec(&last_key.to_text()).unwrap_or_default();
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed =
            self.cipher.encrypt(&XNonce::from(nonce), Payload { msg: &json, aad: list.as_bytes() }).unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        B64.encode(bytes)
    }

    pub fn decode(&self, list: &str, cursor: &str) -> AppResult<PageKey> {
        let bytes = B64.decode(cursor).map_err(|_| AppError::InvalidCursor)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(AppError::InvalidCursor);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| AppError::InvalidCursor)?;
        let json = self
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: list.as_bytes() })
            .map_err(|_| AppError::InvalidCursor)?;
        let key: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| AppError::InvalidCursor)?;
        Ok(PageKey::from_text(key))
    }
}

/// The cursor secret: from Secrets Manager when `CURSOR_KEY_SECRET_ID` is set (the
/// template generates it), else from the local file, generated on first run.
pub async fn load_secret(config: &Config, aws: &aws_config::SdkConfig) -> Result<Vec<u8>, BoxError> {
    let id = config.cursor_key_secret_id.as_deref();
    crate::tokens::service_secret(aws, id, &config.cursor_key_file, "cursor key", MIN_SECRET_BYTES).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> PageKey {
        PageKey::from_text(
            [("PK", "USER#a"), ("SK", "FOLLOWER#b"), ("GSI1PK", "FOLLOWERS#a"), ("GSI1SK", "2026#b")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    #[test]
    fn round_trip_and_tamper_evidence() {
        let cursors = Cursors::new(SECRET);
        let cursor = cursors.encode("FOLLOWERS#a", &key());
        assert_eq!(cursors.decode("FOLLOWERS#a", &cursor).unwrap(), key());
        assert!(matches!(cursors.decode("FOLLOWING#a", &cursor), Err(AppError::InvalidCursor)));
        assert!(matches!(Cursors::new(b"another secret").decode("FOLLOWERS#a", &cursor), Err(AppError::InvalidCursor)));
        let mut bytes = B64.decode(&cursor).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = B64.encode(bytes);
        for bad in [altered.as_str(), "", "garbage", "a.b", "..", &cursor[1..]] {
            assert!(matches!(cursors.decode("FOLLOWERS#a", bad), Err(AppError::InvalidCursor)), "{bad}");
        }
    }

    #[test]
    fn a_cursor_shows_nothing_of_the_key_it_carries() {
        let cursors = Cursors::new(SECRET);
        let (a, b) = (cursors.encode("FOLLOWERS#a", &key()), cursors.encode("FOLLOWERS#a", &key()));
        assert_ne!(a, b, "a fresh nonce each time");
        let bytes = B64.decode(&a).unwrap();
        for visible in ["USER#a", "FOLLOWER#b", "2026", "GSI1SK"] {
            assert!(!bytes.windows(visible.len()).any(|w| w == visible.as_bytes()), "{visible} shows");
        }
    }
}
