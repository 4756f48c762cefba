//! Passkeys. A passkey lives in its user's partition beside a claim of its credential id
//! (unique across accounts, and the look-up of a usernameless sign-in); the user item
//! counts them, in the same transaction, so that "at most 10" and "a second factor is
//! on" need no query.

use aws_sdk_dynamodb::types::{Delete, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::writes::failed;
use super::{dynamo_error, from_item, keys, n, s, sort_key, time, to_item, Item, Store};
use crate::domain::passkey::{PasskeyRecord, MAX_PASSKEYS};
use crate::domain::user::UserRecord;
use crate::error::{AppResult, Context};

/// Passkeys and their credential claims.
#[derive(Clone, Copy)]
pub struct Passkeys<'a> {
    pub(super) store: &'a Store,
}

/// What became of adding a passkey.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    Done,
    /// The credential id is registered already (to this account or another).
    Registered,
    /// The account holds the most it may.
    Full,
    /// The account changed or is gone.
    Gone,
}

/// The claim of a credential id: whose it is.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialClaim {
    user_id: String,
}

impl Passkeys<'_> {
    /// The account's WebAuthn user handle, made from `new` the first time (a
    /// conditional `if_not_exists`: two first registrations at once get the same one).
    pub async fn user_handle(self, user_id: &str, new: &str) -> AppResult<String> {
        let out = self
            .store
            .update_item()
            .set_key(Some(keys::user::key(user_id)))
            .update_expression("SET passkeyUserHandle = if_not_exists(passkeyUserHandle, :new)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":new", s(new))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(dynamo_error("UpdateItem USER#/PROFILE (passkey user handle)"))?;
        let handle = out.attributes.and_then(|mut a| a.remove("passkeyUserHandle"));
        handle
            .and_then(|v| v.as_s().ok().cloned())
            .ok_or_else(|| crate::error::AppError::internal("the user handle was not returned"))
    }

    /// The account's passkeys, oldest first (at most 10: one page).
    pub async fn list(self, user_id: &str) -> AppResult<Vec<PasskeyRecord>> {
        let out = self
            .store
            .prefix_query(keys::user::pk(user_id), keys::passkey::PREFIX)
            .send()
            .await
            .map_err(dynamo_error("Query the passkeys of a user"))?;
        let mut passkeys: Vec<PasskeyRecord> =
            out.items.unwrap_or_default().into_iter().map(from_item).collect::<AppResult<_>>()?;
        passkeys.sort_by_key(|p| p.created_at);
        Ok(passkeys)
    }

    /// The account a credential id (its hash) is registered to.
    pub async fn owner(self, credential_hash: &str) -> AppResult<Option<String>> {
        let claim: Option<CredentialClaim> = self.store.get(keys::passkey::claim(credential_hash)).await?;
        Ok(claim.map(|c| c.user_id))
    }

    /// An account and one of its passkeys, in one round trip.
    pub async fn user_and_passkey(
        self,
        user_id: &str,
        credential_hash: &str,
    ) -> AppResult<(Option<UserRecord>, Option<PasskeyRecord>)> {
        let wanted = vec![keys::user::key(user_id), keys::passkey::key(user_id, credential_hash)];
        let (mut user, mut passkey) = (None, None);
        for item in super::batch_get(self.store, wanted).await? {
            match sort_key(&item) {
                keys::user::PROFILE => user = Some(self.store.users().user_record(item)?),
                _ => passkey = Some(from_item(item)?),
            }
        }
        Ok((user, passkey))
    }

    /// Adds a passkey to `user` with `extra` writes (its event and notice), at once:
    /// the passkey, the claim of its credential id, and the account's count, each on a
    /// condition.
    pub async fn add(
        self,
        user: &UserRecord,
        passkey: &PasskeyRecord,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<Added> {
        let hash = passkey.hash();
        let claim: Item = [("userId".to_owned(), s(&user.id)), ("createdAt".to_owned(), time(&passkey.created_at))]
            .into_iter()
            .chain(keys::passkey::claim(&hash))
            .collect();
        let count = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET passkeys = if_not_exists(passkeys, :zero) + :one")
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(passkeys) OR passkeys < :max)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_PASSKEYS))
            .build()
            .context("building an Update")?;
        let mut items = vec![
            self.store.put_new(to_item(passkey, keys::passkey::key(&user.id, &hash))?)?,
            self.store.put_new(claim)?,
            TransactWriteItem::builder().update(count).build(),
        ];
        items.extend(extra);
        Ok(match self.store.try_transact(items).await? {
            Ok(()) => Added::Done,
            Err(reasons) if failed(&reasons, 0) || failed(&reasons, 1) => Added::Registered,
            Err(reasons) if failed(&reasons, 2) => match self.store.users().user_by_id(&user.id).await? {
                Some(_) => Added::Full,
                None => Added::Gone,
            },
            Err(_) => Added::Gone,
        })
    }

    /// Renames a passkey; `None` when the account has no such passkey.
    pub async fn rename(self, user_id: &str, credential_hash: &str, name: &str) -> AppResult<Option<PasskeyRecord>> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::passkey::key(user_id, credential_hash)))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(err) => {
                super::conditional_write(Err::<(), _>(err), "UpdateItem USER#/PASSKEY# (name)".into())?;
                Ok(None)
            }
        }
    }

    /// Removes passkeys of `user` with `extra` writes (their events and notice), at
    /// once: each passkey, its claim, and the account's count. `false` when one of them
    /// or the account changed meanwhile.
    pub async fn remove(
        self,
        user: &UserRecord,
        passkeys: &[PasskeyRecord],
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let mut items = self.removal(user, passkeys)?;
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// The writes that remove passkeys of `user` with the account's count.
    fn removal(self, user: &UserRecord, passkeys: &[PasskeyRecord]) -> AppResult<Vec<TransactWriteItem>> {
        let mut items = self.deletes(&user.id, passkeys)?;
        let count = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET passkeys = passkeys - :gone")
            .condition_expression("passkeys >= :gone")
            .expression_attribute_values(":gone", n(passkeys.len() as i64))
            .build()
            .context("building an Update")?;
        items.push(TransactWriteItem::builder().update(count).build());
        Ok(items)
    }

    /// The deletes of passkeys and their claims, for a transaction that also moves the
    /// account's count (`passkeys`) down by as many.
    pub(crate) fn deletes(self, user_id: &str, passkeys: &[PasskeyRecord]) -> AppResult<Vec<TransactWriteItem>> {
        let mut items = Vec::with_capacity(passkeys.len() * 2);
        for passkey in passkeys {
            let hash = passkey.hash();
            for (key, condition) in [
                (keys::passkey::key(user_id, &hash), "attribute_exists(PK)"),
                (keys::passkey::claim(&hash), "userId = :id"),
            ] {
                let mut delete =
                    Delete::builder().table_name(self.store.table()).set_key(Some(key)).condition_expression(condition);
                if condition.contains(":id") {
                    delete = delete.expression_attribute_values(":id", s(user_id));
                }
                items.push(TransactWriteItem::builder().delete(delete.build().context("building a Delete")?).build());
            }
        }
        Ok(items)
    }

    /// The write that records a sign-in with a passkey, for the sign-in's transaction:
    /// its counter moves forward (the condition refuses a replayed or cloned one that
    /// lost a race), its last use and whether it is backed up now.
    pub(crate) fn use_write(
        self,
        passkey: &PasskeyRecord,
        counter: u32,
        backed_up: bool,
        at: DateTime<Utc>,
    ) -> AppResult<TransactWriteItem> {
        // A counter of 0 stays 0 (the authenticator keeps none); any other must grow.
        let condition = match counter {
            0 => "attribute_exists(PK) AND #counter = :counter",
            _ => "attribute_exists(PK) AND #counter < :counter",
        };
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::passkey::key(&passkey.user_id, &passkey.hash())))
            .update_expression("SET #counter = :counter, lastUsedAt = :at, backedUp = :backed")
            .condition_expression(condition)
            .expression_attribute_names("#counter", "counter")
            .expression_attribute_values(":counter", n(i64::from(counter)))
            .expression_attribute_values(":at", time(&at))
            .expression_attribute_values(":backed", aws_sdk_dynamodb::types::AttributeValue::Bool(backed_up))
            .build()
            .context("building an Update")?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
