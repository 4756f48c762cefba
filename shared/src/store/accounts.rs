//! Writes to an existing account: profile and settings, deactivation, reactivation.
//! Each is one write guarded by `updatedAt` as read, so a concurrent change is never
//! overwritten (counters, which the graph moves, are never written here).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::sessions::session_put;
use super::{keys, n, s, Item, Store};
use crate::domain::session::SessionRecord;
use crate::domain::user::UserRecord;
use crate::error::{AppResult, Context};

/// Changes to an account: profile, deactivation, verification, email change.
#[derive(Clone, Copy)]
pub struct Accounts<'a> {
    pub(super) store: &'a Store,
}

fn value<T: Serialize>(v: &T) -> AppResult<AttributeValue> {
    serde_dynamo::to_attribute_value(v).context("serializing v for DynamoDB")
}

impl Accounts<'_> {
    fn user_update(self, user: &UserRecord) -> AppResult<aws_sdk_dynamodb::types::builders::UpdateBuilder> {
        Ok(Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression("updatedAt = :seen")
            .expression_attribute_values(":seen", value(&user.updated_at)?))
    }

    /// Writes the profile fields and settings of `after`, as long as the user item is
    /// still as `before` was read, with the search entries of changed names and `event`.
    /// `false` when a concurrent change came first.
    pub async fn save_profile(
        self,
        before: &UserRecord,
        after: &UserRecord,
        event: Option<TransactWriteItem>,
    ) -> AppResult<bool> {
        // Every attribute of `Editable`, by placeholder (`#e0 = :e0, …`): the type says
        // what a profile save writes.
        let editable: Item = serde_dynamo::to_item(&after.editable).context("serializing the editable fields")?;
        let mut update = self.user_update(before)?.expression_attribute_values(":now", value(&after.updated_at)?);
        let mut sets = vec!["updatedAt = :now".to_owned()];
        for (i, (name, attribute)) in editable.into_iter().enumerate() {
            sets.push(format!("#e{i} = :e{i}"));
            update = update
                .expression_attribute_names(format!("#e{i}"), name)
                .expression_attribute_values(format!(":e{i}"), attribute);
        }
        let update =
            update.update_expression(format!("SET {}", sets.join(", "))).build().context("building an Update")?;
        let (old, new) = (before.search_tokens(), after.search_tokens());
        if old == new && event.is_none() {
            // Settings alone: a plain update costs half a transaction.
            return self.store.update_one(update).await;
        }
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(event);
        items.extend(self.store.search().search_entry_deletes(&before.id, &old.difference(&new).cloned().collect())?);
        items.extend(self.store.search().search_entry_puts(&before.id, &new.difference(&old).cloned().collect())?);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Deactivation: the status, every session ended (a new generation), and the
    /// search entries removed, at once. Username and email claims stay reserved.
    pub async fn deactivate(
        self,
        user: &UserRecord,
        at: DateTime<Utc>,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let update = self
            .user_update(user)?
            .update_expression(
                "SET #status = :deactivated, deactivatedAt = :at, updatedAt = :at, sessionGeneration = :generation, \
                 #queue = :queue, #queued = :queued",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#queue", keys::gsi1::PK)
            .expression_attribute_names("#queued", keys::gsi1::SK)
            .expression_attribute_values(":queue", s(keys::deactivated::QUEUE))
            .expression_attribute_values(":queued", s(keys::deactivated::queue_sk(at, &user.id)))
            .expression_attribute_values(":deactivated", s("deactivated"))
            .expression_attribute_values(":at", value(&at)?)
            .expression_attribute_values(":generation", n(user.session_generation + 1))
            .build()
            .context("building an Update")?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(self.store.search().search_entry_deletes(&user.id, &user.search_tokens())?);
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Reactivation: the status back, the search entries back, and a first session.
    /// Reactivation within the window: the status, the new session, the search entries
    /// back, and a new device's list and notice, at once.
    pub async fn reactivate(
        self,
        user: &UserRecord,
        session: &SessionRecord,
        at: DateTime<Utc>,
        known_devices: Option<&[String]>,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let mut update = self
            .user_update(user)?
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":at", value(&at)?);
        let mut set = "SET #status = :active, updatedAt = :at, lastLogin = :at".to_owned();
        if let Some(devices) = known_devices {
            set.push_str(", knownDevices = :devices");
            let devices = serde_dynamo::to_attribute_value(devices).context("serializing devices for DynamoDB")?;
            update = update.expression_attribute_values(":devices", devices);
        }
        let update = update
            .update_expression(format!("{set} REMOVE deactivatedAt, #queue, #queued"))
            .expression_attribute_names("#queue", keys::gsi1::PK)
            .expression_attribute_names("#queued", keys::gsi1::SK)
            .build()
            .context("building an Update")?;
        let mut items = vec![TransactWriteItem::builder().update(update).build(), session_put(self.store, session)?];
        items.extend(extra);
        items.extend(self.store.search().search_entry_puts(&user.id, &user.search_tokens())?);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Points the user at a new verification token (the items write it and its message).
    pub async fn set_verify_token(
        self,
        user: &UserRecord,
        hash: &str,
        items: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let update = self
            .user_update(user)?
            .update_expression("SET verifyTokenHash = :hash, updatedAt = :now")
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":now", value(&self.store.now())?)
            .build()
            .context("building an Update")?;
        let mut all = vec![TransactWriteItem::builder().update(update).build()];
        all.extend(items);
        Ok(self.store.try_transact(all).await?.is_ok())
    }

    /// Spends the verification token and marks the email verified, if the token is
    /// still the user's current one.
    pub async fn mark_verified(self, user: &UserRecord, hash: &str, event: TransactWriteItem) -> AppResult<bool> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET isVerified = :yes, updatedAt = :now REMOVE verifyTokenHash")
            .condition_expression("verifyTokenHash = :hash")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":now", value(&self.store.now())?)
            .expression_attribute_values(":hash", s(hash))
            .build()
            .context("building an Update")?;
        let items = vec![
            self.store.one_time_tokens().consume(hash, crate::store::one_time::Purpose::Verify)?,
            TransactWriteItem::builder().update(update).build(),
            event,
        ];
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Writes `items` only while the user is active.
    pub async fn write_for_active_user(self, user: &UserRecord, items: Vec<TransactWriteItem>) -> AppResult<bool> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .build()
            .context("building a ConditionCheck")?;
        let mut all = vec![TransactWriteItem::builder().condition_check(check).build()];
        all.extend(items);
        Ok(self.store.try_transact(all).await?.is_ok())
    }

    /// A transaction that checks for a user that does not exist and so writes nothing:
    /// the same round trip as `write_for_active_user`, for requests about unknown emails.
    pub async fn condition_on_missing_user(self) -> AppResult<()> {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&uuid::Uuid::new_v4().to_string())))
            .condition_expression("attribute_exists(PK)")
            .build()
            .context("building a ConditionCheck")?;
        self.store.try_transact(vec![TransactWriteItem::builder().condition_check(check).build()]).await?.ok();
        Ok(())
    }

    /// One cheap read, to tell whether the table answers.
    pub async fn ping(self) -> AppResult<()> {
        self.store
            .get_item()
            .set_key(Some(keys::health_probe()))
            .projection_expression("PK")
            .send()
            .await
            .map_err(super::dynamo_error("GetItem the health probe"))?;
        Ok(())
    }
}
