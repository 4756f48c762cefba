//! Known devices: a sign-in answers a device token (opaque, a year, bound to the
//! account) that the client sends back at later sign-ins. An attempt with a valid one
//! is limited per device only, never by the per-identifier window or the per-account
//! failure cap, so a stranger's wrong guesses cannot lock a person out of their own
//! devices. Only a hash of the token's secret is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::hash_secret;
use super::id::is_id;

pub const DEVICE_TOKEN_DAYS: i64 = 365;

/// `<userId>.<256 random bits, URL-safe base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken {
    pub user_id: String,
    secret: String,
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceToken").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

impl DeviceToken {
    pub fn new(user_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DeviceToken { user_id: user_id.to_owned(), secret: B64.encode(bytes) }
    }

    /// A token of the right shape; anything else is no token at all (ignored).
    pub fn parse(token: &str) -> Option<Self> {
        let (user_id, secret) = token.split_once('.')?;
        let secret_ok =
            secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (is_id(user_id) && secret_ok).then(|| DeviceToken { user_id: user_id.to_owned(), secret: secret.to_owned() })
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    pub fn expose(&self) -> String {
        format!("{}.{}", self.user_id, self.secret)
    }
}

/// The stored device (`USER#<id>` / `DEVICE#<hash>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRecord {
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds: the TTL attribute; reads check it too.
    pub expires_at: i64,
}

impl DeviceRecord {
    pub fn new(user_id: &str, now: DateTime<Utc>) -> Self {
        DeviceRecord {
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: (now + chrono::Duration::days(DEVICE_TOKEN_DAYS)).timestamp(),
        }
    }

    /// The device vouches for `user_id` now.
    pub fn vouches_for(&self, user_id: &str, now: DateTime<Utc>) -> bool {
        self.user_id == user_id && self.expires_at > now.timestamp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_odd_shapes_are_no_token() {
        let id = uuid::Uuid::new_v4().to_string();
        let token = DeviceToken::new(&id);
        assert_eq!(DeviceToken::parse(&token.expose()), Some(token.clone()));
        assert!(!format!("{token:?}").contains(&token.secret), "the secret never reaches a log");
        for bad in [
            "",
            "x",
            &format!("{id}.short"),
            &format!("not-an-id.{}", "a".repeat(43)),
            &format!("{id}.{}", "+".repeat(43)),
        ] {
            assert!(DeviceToken::parse(bad).is_none(), "{bad}");
        }
    }
}
