//! The service key that keeps second-factor secrets: TOTP secrets are sealed with
//! AES-256-GCM (a random nonce each, the user id as associated data, so a sealed secret
//! copied onto another account does not open), and recovery codes are stored as
//! HMAC-SHA-256 under the same key, so neither a copy of the table nor its backups
//! alone reveal a secret or let anyone test guesses offline.
//!
//! The key is a secret of its own (`MFA_KEY_SECRET_ID` in AWS, a generated file
//! locally), apart from the signing and cursor keys. Only the `auth` function has it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{AppError, AppResult, BoxError};

/// The form of a sealed secret, so that a later key or cipher can tell its own apart.
const VERSION: &str = "v1.";
const NONCE_BYTES: usize = 12;
const MIN_SECRET_BYTES: usize = 32;

pub struct Vault {
    cipher: Aes256Gcm,
    code_key: [u8; 32],
}

/// Two keys from one secret, each for one use.
fn derive(label: &str, secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(label.as_bytes());
    hasher.update([0]);
    hasher.update(secret);
    hasher.finalize().into()
}

impl Vault {
    pub fn new(secret: &[u8]) -> Self {
        let key = derive("user-service totp secret v1", secret);
        Vault { cipher: Aes256Gcm::new(&key.into()), code_key: derive("user-service recovery code v1", secret) }
    }

    /// The secret sealed for this user.
    pub fn seal(&self, user_id: &str, secret: &[u8]) -> AppResult<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: secret, aad: user_id.as_bytes() })
            .map_err(|_| AppError::internal("sealing a second-factor secret failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{VERSION}{}", B64.encode(bytes)))
    }

    /// The secret, if it was sealed for this user under this key. Anything else is an
    /// internal error: the table or the key is not what it should be.
    pub fn open(&self, user_id: &str, sealed: &str) -> AppResult<Vec<u8>> {
        let broken = || AppError::internal("a sealed second-factor secret does not open with this key");
        let bytes = sealed.strip_prefix(VERSION).and_then(|b| B64.decode(b).ok()).ok_or_else(broken)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(broken());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| broken())?;
        let payload = Payload { msg: sealed, aad: user_id.as_bytes() };
        self.cipher.decrypt(&Nonce::from(nonce), payload).map_err(|_| broken())
    }

    /// The stored form of a recovery code (normalized) of this user.
    pub fn recovery_code_hash(&self, user_id: &str, code: &str) -> String {
        #[expect(clippy::expect_used, reason = "HMAC takes a key of any length")]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key).expect("HMAC takes any key length");
        mac.update(user_id.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }
}

/// The vault of this function: from Secrets Manager when `MFA_KEY_SECRET_ID` is set,
/// none in a function that only verifies tokens (it is given the public keys alone),
/// else from the local key file, generated on first run.
pub async fn load(config: &Config, aws: &aws_config::SdkConfig) -> Result<Option<Vault>, BoxError> {
    let id = config.mfa_key_secret_id.as_deref();
    if id.is_none() && config.jwt_public_keys_secret_id.is_some() {
        return Ok(None);
    }
    let secret =
        crate::tokens::service_secret(aws, id, &config.mfa_key_file, "second-factor key", MIN_SECRET_BYTES).await?;
    Ok(Some(Vault::new(&secret)))
}

/// The webhook key of this function: from Secrets Manager when `WEBHOOK_KEY_SECRET_ID`
/// is set, none in a function in AWS without it, else from the local key file. A key of
/// its own (not the second factor's): the functions that deliver webhooks never hold a
/// way to open a second-factor secret.
pub async fn load_webhook_key(config: &Config, aws: &aws_config::SdkConfig) -> Result<Option<Vault>, BoxError> {
    let id = config.webhook_key_secret_id.as_deref();
    if id.is_none() && config.jwt_public_keys_secret_id.is_some() {
        return Ok(None);
    }
    let secret =
        crate::tokens::service_secret(aws, id, &config.webhook_key_file, "webhook key", MIN_SECRET_BYTES).await?;
    Ok(Some(Vault::new(&secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let vault = Vault::new(SECRET);
        let sealed = vault.seal("u1", b"twenty bytes secret!").unwrap();
        assert_eq!(vault.open("u1", &sealed).unwrap(), b"twenty bytes secret!");
        assert_ne!(sealed, vault.seal("u1", b"twenty bytes secret!").unwrap(), "a fresh nonce each time");
        assert!(vault.open("u2", &sealed).is_err(), "moved to another account");
        assert!(Vault::new(b"another key, also thirty-two byte").open("u1", &sealed).is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        for bad in [String::from_utf8(altered).unwrap(), sealed[3..].to_owned(), "v1.".into(), "v1.AAAA".into()] {
            assert!(vault.open("u1", &bad).is_err(), "{bad}");
        }
        assert!(!sealed.contains("twenty"));
    }

    #[test]
    fn recovery_code_hashes_are_keyed_and_per_user() {
        let vault = Vault::new(SECRET);
        let hash = vault.recovery_code_hash("u1", "abcdefghjk");
        assert_eq!(hash, vault.recovery_code_hash("u1", "abcdefghjk"));
        assert_ne!(hash, vault.recovery_code_hash("u2", "abcdefghjk"));
        assert_ne!(hash, Vault::new(b"another key, also thirty-two byte").recovery_code_hash("u1", "abcdefghjk"));
        assert_ne!(hash, crate::domain::hash_secret("abcdefghjk"), "not a plain hash");
    }
}
