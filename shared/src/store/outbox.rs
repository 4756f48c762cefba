//! The outbox: every message to a user is an item written in the same transaction as
//! the state change it reports. The table's stream hands new items to the `notify`
//! function, which delivers each at least once and records the outcome on the item;
//! TTL removes it after a week.
//!
//! Delivery of one message: claim it (a conditional update that takes a short lease and
//! reads the item back), send it, then mark it delivered, which also removes its raw
//! one-time token. A crash between the send and the mark repeats the send when the
//! record comes back (once the lease has run out); it never loses one. A message
//! marked delivered or failed is never claimed again, so a repeated record sends nothing.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{dynamo_error, from_item, keys, n, s, time, to_item, Item, Store};
use crate::error::{AppError, AppResult};

/// Email messages waiting to be sent.
#[derive(Clone, Copy)]
pub struct Outbox<'a> {
    pub(super) store: &'a Store,
}

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
    NewFollower,
    FollowRequest,
    /// The second factor turned on or off, or new recovery codes (`change`).
    MfaChanged,
    /// To the new address: the link that confirms it.
    ConfirmEmailChange,
    /// To the current address: a change was asked for.
    EmailChangeRequested,
    /// To the old address: the change is done.
    EmailChanged,
    /// A data export can be downloaded (`downloadUrl`, a presigned link).
    DataExportReady,
    /// Moderation acted on the account (`action`: warned, limited, unlimited,
    /// suspended, unsuspended; `until` when it ends by itself). Never names a reporter.
    AccountModerated,
    /// The account was secured with a notice's link (`emailRestored`).
    AccountSecured,
    /// A federated identity was linked or unlinked (`change`, `provider`).
    IdentityChanged,
    /// To the admin who registered it: a webhook failed for 5 days and was disabled
    /// (`url`, `failingSince`).
    WebhookDisabled,
}

impl MessageKind {
    pub const ALL: [MessageKind; 17] = [
        MessageKind::VerifyEmail,
        MessageKind::ResetPassword,
        MessageKind::PasswordChanged,
        MessageKind::NewSignIn,
        MessageKind::RefreshTokenReuse,
        MessageKind::AccountDeactivated,
        MessageKind::NewFollower,
        MessageKind::FollowRequest,
        MessageKind::MfaChanged,
        MessageKind::ConfirmEmailChange,
        MessageKind::EmailChangeRequested,
        MessageKind::EmailChanged,
        MessageKind::DataExportReady,
        MessageKind::AccountModerated,
        MessageKind::AccountSecured,
        MessageKind::IdentityChanged,
        MessageKind::WebhookDisabled,
    ];

    /// The name stored on the item and shown in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::VerifyEmail => "verify_email",
            MessageKind::ResetPassword => "reset_password",
            MessageKind::PasswordChanged => "password_changed",
            MessageKind::NewSignIn => "new_sign_in",
            MessageKind::RefreshTokenReuse => "refresh_token_reuse",
            MessageKind::AccountDeactivated => "account_deactivated",
            MessageKind::NewFollower => "new_follower",
            MessageKind::FollowRequest => "follow_request",
            MessageKind::MfaChanged => "mfa_changed",
            MessageKind::ConfirmEmailChange => "confirm_email_change",
            MessageKind::EmailChangeRequested => "email_change_requested",
            MessageKind::EmailChanged => "email_changed",
            MessageKind::DataExportReady => "data_export_ready",
            MessageKind::AccountModerated => "account_moderated",
            MessageKind::AccountSecured => "account_secured",
            MessageKind::IdentityChanged => "identity_changed",
            MessageKind::WebhookDisabled => "webhook_disabled",
        }
    }
}

/// The data of a message that is a credential (a one-time token, a download link):
/// removed from the item once the message is settled, delivered or failed.
pub const SECRET_DATA: [&str; 2] = ["token", "downloadUrl"];

/// An outbox message (`OUTBOX#<id>` / `MESSAGE`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    pub id: String,
    pub kind: MessageKind,
    pub user_id: String,
    /// The address to write to.
    pub to: String,
    pub created_at: DateTime<Utc>,
    /// What the message needs: a one-time `token`, a device, a time, an actor.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// Shows what a message is, never its address or data (a one-time token, a device).
impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("data", &self.data.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl OutboxMessage {
    pub fn new(
        kind: MessageKind,
        user_id: &str,
        to: &str,
        created_at: DateTime<Utc>,
        data: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Self {
        OutboxMessage {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            user_id: user_id.to_owned(),
            to: to.to_owned(),
            created_at,
            data: data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

pub use super::keys::outbox::message_id;

/// What claiming a message for delivery found.
#[derive(Debug)]
pub enum Claim {
    /// The caller holds the message until its lease ends: send it, then mark it.
    Claimed(Item),
    /// Delivered or failed before, or gone (expired): nothing to send.
    Settled(&'static str),
    /// Another delivery holds a live lease on it: try again later.
    Busy,
}

/// How a delivery ended, as recorded on the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent; the provider's message id, if it gave one.
    Delivered { provider_id: Option<String> },
    /// Never to be sent: unreadable, or refused for good. `reason` names no address or token.
    Failed { reason: String },
}

impl Outbox<'_> {
    pub(crate) fn outbox_put(self, message: &OutboxMessage) -> AppResult<TransactWriteItem> {
        let mut item = to_item(message, message_key(&message.id))?;
        item.insert(keys::expiry::AT.into(), n((message.created_at + Duration::days(OUTBOX_TTL_DAYS)).timestamp()));
        self.store.put_new(item)
    }

    /// Takes a lease of `lease_secs` on a message that is neither delivered nor failed
    /// nor held by a live lease, and answers the item as it is now.
    pub async fn claim_message(self, id: &str, now: DateTime<Utc>, lease_secs: i64) -> AppResult<Claim> {
        let result = self.store.update_item()
            .set_key(Some(message_key(id)))
            .update_expression("SET #delivery = :sending, leaseUntil = :until ADD attempts :one")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(#delivery) OR (#delivery = :sending AND leaseUntil < :now))",
            )
            .expression_attribute_names("#delivery", "delivery")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":until", n(now.timestamp() + lease_secs))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Claim::Claimed(out.attributes.unwrap_or_default())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let state = failed.item().and_then(|item| item.get("delivery")).and_then(|v| v.as_s().ok());
                    Ok(match state.map(String::as_str) {
                        None => Claim::Settled("gone"),
                        Some("delivered") => Claim::Settled("delivered"),
                        Some("failed") => Claim::Settled("failed"),
                        Some(_) => Claim::Busy,
                    })
                }
                _ => Err(dynamo_error("UpdateItem an outbox message (claim)")(err)),
            },
        }
    }

    /// Records how a claimed delivery ended, and removes the message's raw one-time
    /// token (only hashes of live tokens stay in the table).
    pub async fn settle_message(self, id: &str, outcome: &Outcome, secrets: &[&str]) -> AppResult<()> {
        let now = self.store.now();
        let mut update = self
            .store
            .update_item()
            .set_key(Some(message_key(id)))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#delivery", "delivery")
            .expression_attribute_values(":at", time(&now));
        let mut set = match outcome {
            Outcome::Delivered { provider_id } => {
                update = update.expression_attribute_values(":state", s("delivered"));
                match provider_id {
                    Some(provider_id) => {
                        update = update.expression_attribute_values(":provider", s(provider_id.clone()));
                        "SET #delivery = :state, deliveredAt = :at, providerMessageId = :provider".to_owned()
                    }
                    None => "SET #delivery = :state, deliveredAt = :at".to_owned(),
                }
            }
            Outcome::Failed { reason } => {
                update = update
                    .expression_attribute_values(":state", s("failed"))
                    .expression_attribute_values(":reason", s(reason.clone()));
                "SET #delivery = :state, failedAt = :at, failure = :reason".to_owned()
            }
        };
        set.push_str(" REMOVE leaseUntil");
        for (i, secret) in secrets.iter().enumerate() {
            set.push_str(&format!(", #data.#secret{i}"));
            update = update
                .expression_attribute_names("#data", "data")
                .expression_attribute_names(format!("#secret{i}"), *secret);
        }
        let result = update.update_expression(set).send().await;
        // A message that expired meanwhile has nothing left to settle.
        super::conditional_write(result, "UpdateItem an outbox message (settle)".into()).map(|_| ())
    }

    /// Ends a lease early after a send that may succeed when tried again, so the retry
    /// need not wait for the lease to run out.
    pub async fn release_message(self, id: &str) -> AppResult<()> {
        let result = self
            .store
            .update_item()
            .set_key(Some(message_key(id)))
            .update_expression("REMOVE #delivery, leaseUntil")
            .condition_expression("#delivery = :sending")
            .expression_attribute_names("#delivery", "delivery")
            .expression_attribute_values(":sending", s("sending"))
            .send()
            .await;
        super::conditional_write(result, "UpdateItem an outbox message (release)".into()).map(|_| ())
    }
}

fn message_key(id: &str) -> Item {
    keys::outbox::key(id)
}

/// A claimed item as a message; `Err` when it cannot be read as one.
pub fn message_from_item(item: Item) -> Result<OutboxMessage, AppError> {
    from_item(item)
}
