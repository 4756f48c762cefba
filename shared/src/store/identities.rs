//! Federated identities: the identity in its account's partition (one per provider) and
//! the claim of who it is at the provider (one account per person there), written and
//! removed together.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::writes::failed;
use super::{dynamo_error, from_item, keys, s, time, to_item, Item, Store};
use crate::domain::identity::IdentityRecord;
use crate::domain::user::UserRecord;
use crate::error::{AppResult, Context};

#[derive(Clone, Copy)]
pub struct Identities<'a> {
    pub(super) store: &'a Store,
}

/// What became of linking an identity.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    Done,
    /// The person at the provider is linked to an account already, or this account has
    /// an identity of that provider.
    Taken,
    /// The account changed or is gone.
    Gone,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityClaim {
    user_id: String,
}

impl Identities<'_> {
    /// The account a person at a provider is linked to.
    pub async fn owner(self, claim_hash: &str) -> AppResult<Option<String>> {
        let claim: Option<IdentityClaim> = self.store.get(keys::identity::claim(claim_hash)).await?;
        Ok(claim.map(|c| c.user_id))
    }

    /// The account's identities, by provider.
    pub async fn list(self, user_id: &str) -> AppResult<Vec<IdentityRecord>> {
        let out = self
            .store
            .prefix_query(keys::user::pk(user_id), keys::identity::PREFIX)
            .send()
            .await
            .map_err(dynamo_error("Query the identities of a user"))?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }

    /// The writes that link an identity (the identity and its claim, each new), for a
    /// transaction of the caller's (a sign-up's).
    pub(crate) fn link_writes(self, identity: &IdentityRecord) -> AppResult<Vec<TransactWriteItem>> {
        let claim: Item =
            [("userId".to_owned(), s(&identity.user_id)), ("linkedAt".to_owned(), time(&identity.linked_at))]
                .into_iter()
                .chain(keys::identity::claim(&identity.claim_hash()))
                .collect();
        Ok(vec![
            self.store.put_new(to_item(identity, keys::identity::key(&identity.user_id, &identity.provider))?)?,
            self.store.put_new(claim)?,
        ])
    }

    /// Links an identity to an existing account with `extra` writes (event, notice).
    pub async fn link(
        self,
        user: &UserRecord,
        identity: &IdentityRecord,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<Linked> {
        // The account as read: a session ended meanwhile (a reset, securing) links
        // nothing. The link is counted on it, which a securing that read the account
        // before finds changed (it reads again, and unlinks this one too).
        let counted = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET identityLinks = if_not_exists(identityLinks, :zero) + :one")
            .condition_expression("attribute_exists(PK) AND sessionGeneration = :generation")
            .expression_attribute_values(":generation", super::n(user.session_generation))
            .expression_attribute_values(":zero", super::n(0))
            .expression_attribute_values(":one", super::n(1))
            .build()
            .context("building an Update")?;
        let mut items = self.link_writes(identity)?;
        items.push(TransactWriteItem::builder().update(counted).build());
        items.extend(extra);
        Ok(match self.store.try_transact(items).await? {
            Ok(()) => Linked::Done,
            Err(reasons) if failed(&reasons, 0) || failed(&reasons, 1) => Linked::Taken,
            Err(_) => Linked::Gone,
        })
    }

    /// Unlinks an identity (and frees its claim) with `extra` writes: `false` when it
    /// was gone already.
    pub async fn unlink(self, identity: &IdentityRecord, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        let mut items = self.deletes(std::slice::from_ref(identity))?;
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// The deletes of identities and their claims.
    pub(crate) fn deletes(self, identities: &[IdentityRecord]) -> AppResult<Vec<TransactWriteItem>> {
        let mut items = Vec::with_capacity(identities.len() * 2);
        for identity in identities {
            let own = Delete::builder()
                .table_name(self.store.table())
                .set_key(Some(keys::identity::key(&identity.user_id, &identity.provider)))
                .condition_expression("attribute_exists(PK)")
                .build()
                .context("building a Delete")?;
            let claim = Delete::builder()
                .table_name(self.store.table())
                .set_key(Some(keys::identity::claim(&identity.claim_hash())))
                .condition_expression("attribute_not_exists(PK) OR userId = :id")
                .expression_attribute_values(":id", s(&identity.user_id))
                .build()
                .context("building a Delete")?;
            items.push(TransactWriteItem::builder().delete(own).build());
            items.push(TransactWriteItem::builder().delete(claim).build());
        }
        Ok(items)
    }

    /// The write that records a sign-in with the identity, for the sign-in's transaction.
    pub(crate) fn used_write(self, identity: &IdentityRecord, at: DateTime<Utc>) -> AppResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::identity::key(&identity.user_id, &identity.provider)))
            .update_expression("SET lastUsedAt = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", time(&at))
            .build()
            .context("building an Update")?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The identity of `user_id` at `provider`.
    pub async fn get(self, user_id: &str, provider: &str) -> AppResult<Option<IdentityRecord>> {
        self.store.get(keys::identity::key(user_id, provider)).await
    }
}
