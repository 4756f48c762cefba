//! Deleting accounts whose deactivation window has ended. Resumable and idempotent: the
//! items left in the account's partition are the work list (each edge goes in one
//! transaction with its mirror and the other user's counter; the rest in batches), and
//! the user item, which keeps the account in the `DEACTIVATED` queue, goes last with
//! the claims. A run stopped anywhere leaves a state the next run finishes; two runs
//! at once repeat deletes, which are harmless.

use std::time::Instant;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::one_time::Purpose;
use super::{dynamo_error, keys, s, sort_key, time, Item, Store};
use crate::bucket::ExportBucket;
use crate::domain::account_event::{AccountEvent, EventType};
use crate::domain::user::{AccountStatus, UserRecord};
use crate::error::{AppResult, Context};

/// Erasure of deactivated accounts past their grace period.
#[derive(Clone, Copy)]
pub struct Purge<'a> {
    pub(super) store: &'a Store,
}

/// What a run of the purge did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Accounts erased completely.
    pub accounts_deleted: u64,
    /// Edges removed with their mirrors (and the other users' counters).
    pub edges_removed: u64,
    /// Other items of the accounts' partitions removed (sessions, devices, search
    /// entries, the second factor, passkeys and identities with their claims, report
    /// guards).
    pub items_removed: u64,
    /// Export documents deleted from the bucket.
    pub documents_removed: u64,
    /// Whether the run stopped at its deadline with work left (the next run goes on).
    pub unfinished: bool,
}

/// Items read from a partition per round.
const PAGE: i32 = 200;
/// Edge transactions in flight at once.
const EDGES_AT_ONCE: usize = 16;

impl Purge<'_> {
    /// Deletes every account deactivated at or before `cutoff`, until `deadline`, with
    /// its export documents in `documents` (whatever the deletion window: an export may
    /// outlive a window shorter than its 7 days).
    pub async fn purge_deleted_accounts(
        self,
        cutoff: DateTime<Utc>,
        deadline: Instant,
        documents: Option<&ExportBucket>,
    ) -> AppResult<PurgeReport> {
        let mut report = PurgeReport::default();
        loop {
            let due = self.deactivated_before(cutoff).await?;
            if due.is_empty() {
                return Ok(report);
            }
            for user_id in due {
                if Instant::now() >= deadline {
                    report.unfinished = true;
                    return Ok(report);
                }
                if !self.purge_account(&user_id, cutoff, deadline, documents, &mut report).await? {
                    report.unfinished = true;
                    return Ok(report);
                }
            }
        }
    }

    /// The ids of accounts deactivated at or before `cutoff`, oldest first (a page).
    async fn deactivated_before(self, cutoff: DateTime<Utc>) -> AppResult<Vec<String>> {
        let out = self
            .store
            .query()
            .index_name(keys::gsi1::NAME)
            .key_condition_expression("#pk = :queue AND #sk < :end")
            .expression_attribute_names("#pk", keys::gsi1::PK)
            .expression_attribute_names("#sk", keys::gsi1::SK)
            .expression_attribute_values(":queue", s(keys::deactivated::QUEUE))
            .expression_attribute_values(":end", s(keys::deactivated::queue_end(cutoff)))
            .limit(25)
            .send()
            .await
            .map_err(dynamo_error("Query the deactivated accounts (GSI1)"))?;
        let prefix = keys::user::pk("");
        let ids = out.items.unwrap_or_default().into_iter().filter_map(|item| {
            let pk = item.get(keys::PK)?.as_s().ok()?;
            pk.strip_prefix(&prefix).map(str::to_owned)
        });
        Ok(ids.collect())
    }

    /// Erases one account, unless it is no longer due (reactivated, or deactivated
    /// again later). `false` when the deadline came first.
    async fn purge_account(
        self,
        user_id: &str,
        cutoff: DateTime<Utc>,
        deadline: Instant,
        documents: Option<&ExportBucket>,
        report: &mut PurgeReport,
    ) -> AppResult<bool> {
        let Some(user) = self.store.users().user_by_id(user_id).await? else {
            return Ok(true);
        };
        let due = user.status == AccountStatus::Deactivated && user.deactivated_at.is_some_and(|at| at <= cutoff);
        if !due || !self.mark_purging(&user).await? {
            return Ok(true);
        }
        tracing::info!(user_id, "deleting an account whose deactivation window ended");
        // The account's export documents, then their items (a partition of their own):
        // a run stopped between the two finds the items and deletes again.
        if let Some(bucket) = documents {
            report.documents_removed += bucket.delete_all_under(&keys::export::objects_prefix(user_id)).await?;
        }
        loop {
            let exports = self.keys_page(&keys::export::pk(user_id)).await?;
            if exports.is_empty() {
                break;
            }
            report.items_removed += exports.len() as u64;
            super::delete_items(self.store, exports).await?;
        }
        // The identities' claims first (keyed by who the person is at the provider, not
        // by anything in the partition's keys): a run stopped after finds them again.
        let identities = self.store.identities().list(user_id).await?;
        let claims: Vec<Item> = identities.iter().map(|i| keys::identity::claim(&i.claim_hash())).collect();
        if !claims.is_empty() {
            report.items_removed += claims.len() as u64;
            super::delete_items(self.store, claims).await?;
        }
        loop {
            let page = self.keys_page(&keys::user::pk(user_id)).await?;
            let page: Vec<Item> = page.into_iter().filter(|item| sort_key(item) != keys::user::PROFILE).collect();
            if page.is_empty() {
                break;
            }
            let (mut edges, mut claims, mut others) = (Vec::new(), Vec::new(), Vec::new());
            for item in page {
                let sk = sort_key(&item).to_owned();
                if super::graph::is_edge(&sk) {
                    edges.push(sk);
                } else {
                    // A passkey's credential claim goes before the passkey: a run stopped
                    // between the two finds the passkey and deletes its claim again.
                    claims.extend(keys::passkey::credential_hash(&sk).map(keys::passkey::claim));
                    others.push(item);
                }
            }
            if !claims.is_empty() {
                report.items_removed += claims.len() as u64;
                super::delete_items(self.store, claims).await?;
            }
            for chunk in edges.chunks(EDGES_AT_ONCE) {
                futures_util::future::try_join_all(chunk.iter().map(|sk| self.store.graph().erase_edge(user_id, sk)))
                    .await?;
                report.edges_removed += chunk.len() as u64;
                if Instant::now() >= deadline {
                    return Ok(false);
                }
            }
            report.items_removed += others.len() as u64;
            super::delete_items(self.store, others).await?;
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
        if self.delete_account_item(&user).await? {
            report.accounts_deleted += 1;
            tracing::info!(user_id, "account deleted");
        }
        Ok(true)
    }

    /// Takes the account out of reach of a reactivation that read it before: its
    /// `updatedAt` moves (reactivation writes only over the one it read).
    async fn mark_purging(self, user: &UserRecord) -> AppResult<bool> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET updatedAt = :now, purgeStartedAt = if_not_exists(purgeStartedAt, :now)")
            .condition_expression("#status = :deactivated AND deactivatedAt = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":deactivated", s("deactivated"))
            .expression_attribute_values(":seen", time(&user.deactivated_at.unwrap_or(user.updated_at)))
            .send()
            .await;
        super::conditional_write(result, "UpdateItem USER#/PROFILE (purging)".into())
    }

    /// The keys of a partition's items, a page at a time.
    async fn keys_page(self, pk: &str) -> AppResult<Vec<Item>> {
        let out = self
            .store
            .query()
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(pk))
            .projection_expression("#pk, #sk")
            .consistent_read(true)
            .limit(PAGE)
            .send()
            .await
            .map_err(dynamo_error("Query the keys of a partition"))?;
        Ok(out.items.unwrap_or_default())
    }

    /// The last step: the user item, the email claim (the address is free again), the
    /// username claim kept as a tombstone without the password hash (the name stays
    /// reserved), the account's pending tokens and its `user.deleted` event; at once.
    async fn delete_account_item(self, user: &UserRecord) -> AppResult<bool> {
        let account = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression("#status = :deactivated")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":deactivated", s("deactivated"))
            .build()
            .context("building a Delete")?;
        // Conditions that hold when a claim is already gone: a half-broken account must
        // still finish (the auditor reports such accounts).
        let email_claim = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::claim::email(&user.email)))
            .condition_expression("attribute_not_exists(PK) OR userId = :id")
            .expression_attribute_values(":id", s(&user.id))
            .build()
            .context("building a Delete")?;
        let tombstone = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::claim::username(&user.username.to_ascii_lowercase())))
            .update_expression("SET deletedAt = :now, userId = :id REMOVE passwordHash")
            .condition_expression("attribute_not_exists(PK) OR userId = :id")
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":id", s(&user.id))
            .build()
            .context("building an Update")?;
        // The platform's other services erase what they hold on `user.deleted`: it goes
        // out once the account is gone, never before.
        let deleted = AccountEvent::of_user(EventType::UserDeleted, &user.id, self.store.now());
        let mut items = vec![
            TransactWriteItem::builder().delete(account).build(),
            TransactWriteItem::builder().delete(email_claim).build(),
            TransactWriteItem::builder().update(tombstone).build(),
            self.store.events().put(&deleted)?,
        ];
        if let Some(hash) = &user.verify_token_hash {
            items.push(self.store.one_time_tokens().discard(hash, Purpose::Verify)?);
        }
        if let Some(hash) = &user.email_change_token_hash {
            items.push(self.store.one_time_tokens().discard(hash, Purpose::EmailChange)?);
        }
        Ok(self.store.try_transact(items).await?.is_ok())
    }
}
