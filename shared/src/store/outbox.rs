//! The outbox: every message to a user is an item written in the same transaction as
//! the state change it reports. The table's stream delivers it to the platform's
//! notification service; TTL removes it after a week.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{n, to_item, Store};
use crate::error::AppResult;

const OUTBOX_TTL_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    VerifyEmail,
    ResetPassword,
    PasswordChanged,
    NewSignIn,
    RefreshTokenReuse,
    AccountDeactivated,
}

/// An outbox message (`OUTBOX#<id>` / `MESSAGE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    pub id: String,
    pub kind: MessageKind,
    pub user_id: String,
    /// The address to write to.
    pub to: String,
    pub created_at: DateTime<Utc>,
    /// What the message needs: a `link` with a one-time token, a device, a time.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

impl OutboxMessage {
    pub fn new(
        kind: MessageKind,
        user_id: &str,
        to: &str,
        data: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        OutboxMessage {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            user_id: user_id.to_owned(),
            to: to.to_owned(),
            created_at: Utc::now(),
            data: data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

impl Store {
    pub(crate) fn outbox_put(&self, message: &OutboxMessage) -> AppResult<TransactWriteItem> {
        let mut item = to_item(message, format!("OUTBOX#{}", message.id), "MESSAGE".into())?;
        item.insert("expiresAt".into(), n((message.created_at + Duration::days(OUTBOX_TTL_DAYS)).timestamp()));
        self.put_new(item)
    }
}
