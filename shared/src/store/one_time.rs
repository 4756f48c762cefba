//! One-time tokens (email verification, password reset, email change): stored only by the SHA-256 of
//! the token, single use (consumed by a conditional delete), with an expiry that every
//! read checks and that the cleanup index and TTL both know.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{keys, to_item, Store};
use crate::error::{AppResult, Context};

/// Single-use tokens (verification, reset, email change).
#[derive(Clone, Copy)]
pub struct OneTimeTokens<'a> {
    pub(super) store: &'a Store,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
    EmailChange,
    /// The "this wasn't me" link of a notice (`secure-account`).
    SecureAccount,
}

impl Purpose {
    fn sort_key(self) -> &'static str {
        match self {
            Purpose::Verify => "VERIFY",
            Purpose::Reset => "RESET",
            Purpose::EmailChange => "EMAIL_CHANGE",
            Purpose::SecureAccount => "SECURE",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTimeToken {
    pub user_id: String,
    /// Epoch seconds.
    pub expires_at: i64,
    /// For reset tokens: a fingerprint of the password hash and the address when
    /// issued, so that any password or email change makes every older reset token useless.
    #[serde(default)]
    pub password_fingerprint: Option<String>,
    /// For email-change tokens: the address to confirm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// For secure-account tokens: the change the notice reported, when, and the
    /// account's secure generation then (securing the account by any notice voids the
    /// others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_generation: Option<i64>,
}

fn token_key(hash: &str, purpose: Purpose) -> super::Item {
    keys::token::key(hash, purpose.sort_key())
}

impl OneTimeTokens<'_> {
    pub(crate) fn put(self, hash: &str, purpose: Purpose, token: &OneTimeToken) -> AppResult<TransactWriteItem> {
        super::writes::put_new_expiring(self.store, to_item(token, token_key(hash, purpose))?, token.expires_at)
    }

    /// Consumes the token: the transaction fails if it was used meanwhile.
    pub(crate) fn consume(self, hash: &str, purpose: Purpose) -> AppResult<TransactWriteItem> {
        Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(token_key(hash, purpose)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .context("building a Delete")
    }

    /// Removes a superseded token, whether or not it is still there.
    pub(crate) fn discard(self, hash: &str, purpose: Purpose) -> AppResult<TransactWriteItem> {
        Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(token_key(hash, purpose)))
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .context("building a Delete")
    }

    pub async fn get(self, hash: &str, purpose: Purpose) -> AppResult<Option<OneTimeToken>> {
        self.store.get(token_key(hash, purpose)).await
    }
}
