//! The import of the old Node service's data: accounts written as sign-up writes them
//! (the user item with its counters, both claims, the search entries), edges written in
//! batches, and the import's checkpoint. Each write is idempotent: an account already
//! imported is found by its claims and left as it is, an edge is the same item again.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::graph::{edge_item, Edge};
use super::users::Claim;
use super::writes::failed;
use super::{dynamo_error, from_item, keys, s, to_item, Item, Store};
use crate::domain::user::{AccountStatus, UserRecord};
use crate::error::{AppError, AppResult, Context};

#[derive(Clone, Copy)]
pub struct Imports<'a> {
    pub(super) store: &'a Store,
}

/// What became of an account's import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    Written,
    /// Imported by an earlier run (its claims are its own): left as it is.
    AlreadyThere,
    /// Its email or username belongs to another account of the table.
    Taken {
        by: String,
    },
}

/// The accounts that hold claims: by email, and by username (lower case).
#[derive(Debug, Default)]
pub struct ClaimOwners {
    pub emails: HashMap<String, String>,
    pub usernames: HashMap<String, String>,
}

/// A relation as this service keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    Follow,
    Request,
    Block,
}

/// One relation to import: `from` follows, asked to follow, or blocks `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedEdge {
    pub relation: Relation,
    pub from: String,
    pub to: String,
    pub at: DateTime<Utc>,
}

/// How far an import got: its phase and the last source id done in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub phase: String,
    #[serde(default)]
    pub after: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

impl Imports<'_> {
    /// Who holds each of these claims now (emails and usernames, lower case).
    pub async fn claim_owners(self, emails: &[&str], usernames: &[&str]) -> AppResult<ClaimOwners> {
        let keys: Vec<Item> = emails
            .iter()
            .map(|e| keys::claim::email(e))
            .chain(usernames.iter().map(|u| keys::claim::username(u)))
            .collect();
        let mut owners = ClaimOwners::default();
        for item in super::batch_get(self.store, keys).await? {
            let pk = item.get(keys::PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let claim: Claim = from_item(item)?;
            if let Some(email) = pk.strip_prefix(keys::claim::EMAIL_PREFIX) {
                owners.emails.insert(email.to_owned(), claim.user_id);
            } else if let Some(name) = pk.strip_prefix(keys::claim::USERNAME_PREFIX) {
                owners.usernames.insert(name.to_owned(), claim.user_id);
            }
        }
        Ok(owners)
    }

    /// Writes an account as sign-up does (without a session): the user item, both
    /// claims, its search entries while it is active, and, deactivated, its place in
    /// the deletion queue.
    pub async fn user(self, user: &UserRecord, username_key: &str) -> AppResult<Imported> {
        let claim = Claim::of(user);
        let mut item = to_item(user, keys::user::key(&user.id))?;
        if let (AccountStatus::Deactivated, Some(at)) = (user.status, user.deactivated_at) {
            item.insert(keys::gsi1::PK.into(), s(keys::deactivated::QUEUE));
            item.insert(keys::gsi1::SK.into(), s(keys::deactivated::queue_sk(at, &user.id)));
        }
        let mut items = vec![
            self.store.put_new(item)?,
            self.store.put_new(to_item(&claim, keys::claim::email(&user.email))?)?,
            self.store.put_new(to_item(&claim, keys::claim::username(username_key))?)?,
        ];
        if user.status == AccountStatus::Active {
            items.extend(self.store.search().search_entry_puts(&user.id, &user.search_tokens())?);
        }
        let reasons = match self.store.try_transact(items).await? {
            Ok(()) => return Ok(Imported::Written),
            Err(reasons) => reasons,
        };
        if !(0..3).any(|i| failed(&reasons, i)) {
            return Err(AppError::internal("an account's import was cancelled for another reason"));
        }
        let owners = self.claim_owners(&[&user.email], &[username_key]).await?;
        match owners.emails.values().chain(owners.usernames.values()).find(|owner| **owner != user.id) {
            Some(other) => Ok(Imported::Taken { by: other.clone() }),
            None => Ok(Imported::AlreadyThere),
        }
    }

    /// Writes both sides of each relation (25 items to a `BatchWriteItem`): the same
    /// items again for a relation written before.
    pub async fn edges(self, edges: &[ImportedEdge]) -> AppResult<()> {
        let mut requests = Vec::with_capacity(edges.len() * 2);
        for edge in edges {
            let (out, back) = match edge.relation {
                Relation::Follow => (Edge::Following, Edge::Follower),
                Relation::Request => (Edge::Requested, Edge::Request),
                Relation::Block => (Edge::Blocking, Edge::BlockedBy),
            };
            for item in [
                edge_item(&edge.from, out, &edge.to, edge.at, None)?,
                edge_item(&edge.to, back, &edge.from, edge.at, None)?,
            ] {
                let put = PutRequest::builder().set_item(Some(item)).build().context("building a PutRequest")?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        for chunk in requests.chunks(25) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn batch_write(self, mut requests: Vec<WriteRequest>) -> AppResult<()> {
        for attempt in 0..8u64 {
            let out = self
                .store
                .client()
                .batch_write_item()
                .request_items(self.store.table(), requests)
                .send()
                .await
                .map_err(dynamo_error("BatchWriteItem the imported edges"))?;
            requests = out.unprocessed_items.and_then(|mut u| u.remove(self.store.table())).unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt.min(5))).await;
        }
        Err(AppError::ServiceUnavailable("the edges' batch kept coming back unprocessed".into()))
    }

    pub async fn checkpoint(self, name: &str) -> AppResult<Option<Checkpoint>> {
        self.store.get(keys::import::key(name)).await
    }

    pub async fn save_checkpoint(self, name: &str, checkpoint: &Checkpoint) -> AppResult<()> {
        self.store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(to_item(checkpoint, keys::import::key(name))?))
            .send()
            .await
            .map_err(dynamo_error("PutItem IMPORT#/CHECKPOINT"))?;
        Ok(())
    }
}
