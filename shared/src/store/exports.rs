//! Data exports: the request (one per account per 24 hours, a condition on the user
//! item), its item in the user's partition, and what the builder reads: the account's
//! partition one kind of item at a time, a page at a time.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::pages::PageKey;
use super::{dynamo_error, keys, s, time, to_item, Item, Store};
use crate::domain::OfUser;
use crate::error::{AppResult, Context};

/// Data export requests and their state.
#[derive(Clone, Copy)]
pub struct Exports<'a> {
    pub(super) store: &'a Store,
}

/// How long an export is kept (its item; the bucket's lifecycle removes the document).
pub const EXPORT_KEEP_DAYS: i64 = 7;
/// One export per account in this many hours.
pub const EXPORT_EVERY_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    Pending,
    Ready,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    pub id: String,
    pub user_id: String,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub ready_at: Option<DateTime<Utc>>,
    /// The document's key in the bucket, once written.
    #[serde(default)]
    pub object_key: Option<String>,
    /// Epoch seconds: TTL and the expiry index.
    pub expires_at: i64,
}

impl ExportRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now.timestamp()
    }
}

/// How an export request ended.
pub enum ExportRequest {
    Created(ExportRecord),
    /// The account asked less than 24 hours ago, at this time.
    TooSoon,
}

/// A page of items of one kind from a user's partition.
pub struct PartitionPage {
    pub items: Vec<Item>,
    pub next: Option<PageKey>,
}

impl Exports<'_> {
    /// A new pending export, unless the account asked for one within 24 hours (or is no
    /// longer active): the user's `lastExportAt` moves in the same transaction.
    pub async fn request_export(self, user_id: &str) -> AppResult<ExportRequest> {
        let now = self.store.now();
        let export = ExportRecord {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            status: ExportStatus::Pending,
            created_at: now,
            ready_at: None,
            object_key: None,
            expires_at: (now + Duration::days(EXPORT_KEEP_DAYS)).timestamp(),
        };
        let item = to_item(&export, keys::export::key(user_id, &export.id))?;
        let put = super::writes::put_new_expiring(self.store, item, export.expires_at)?;
        let user = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(user_id)))
            .update_expression("SET lastExportAt = :now")
            .condition_expression(
                "#status = :active AND (attribute_not_exists(lastExportAt) OR attribute_type(lastExportAt, :null) \
                 OR lastExportAt <= :since)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":now", time(&now))
            .expression_attribute_values(":since", time(&(now - Duration::hours(EXPORT_EVERY_HOURS))))
            .expression_attribute_values(":null", s("NULL"))
            .build()
            .context("building an Update")?;
        let items = vec![TransactWriteItem::builder().update(user).build(), put];
        Ok(match self.store.try_transact(items).await? {
            Ok(()) => ExportRequest::Created(export),
            Err(_) => ExportRequest::TooSoon,
        })
    }

    pub async fn export(self, export: OfUser<'_>) -> AppResult<Option<ExportRecord>> {
        let OfUser { user_id, id: export_id } = export;
        self.store.get(keys::export::key(user_id, export_id)).await
    }

    /// Marks a pending export ready at `object_key`, with the message that announces
    /// it. `false` when it was settled before (a repeated stream record).
    pub async fn finish_export(
        self,
        export: &ExportRecord,
        object_key: &str,
        message: TransactWriteItem,
    ) -> AppResult<bool> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::export::key(&export.user_id, &export.id)))
            .update_expression("SET #status = :ready, readyAt = :now, objectKey = :key")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":ready", s("ready"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":key", s(object_key))
            .build()
            .context("building an Update")?;
        let items = vec![TransactWriteItem::builder().update(update).build(), message];
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Marks a pending export failed for good.
    pub async fn fail_export(self, export: &ExportRecord) -> AppResult<()> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::export::key(&export.user_id, &export.id)))
            .update_expression("SET #status = :failed")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        super::conditional_write(result, "UpdateItem EXPORT#/EXPORT#".into()).map(|_| ())
    }

    /// One page of the items of `user_id`'s partition whose sort key starts with
    /// `prefix` (edges, sessions, report guards), read consistently.
    pub async fn partition_prefix_page(
        self,
        user_id: &str,
        prefix: &str,
        start: Option<PageKey>,
        limit: i32,
    ) -> AppResult<PartitionPage> {
        let out = self
            .store
            .prefix_query(keys::user::pk(user_id), prefix)
            .limit(limit)
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query a prefix of a user's partition"))?;
        Ok(PartitionPage { items: out.items.unwrap_or_default(), next: PageKey::after(out.last_evaluated_key) })
    }
}
