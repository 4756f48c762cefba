//! Deleting what has expired before TTL gets to it (TTL deletion lags by up to two
//! days). Reads only the sparse expiry index, bucket by bucket, so the cost follows the
//! number of expired items and not the size of the table.

use aws_sdk_dynamodb::types::Select;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::pages::Pages;
use super::{conditional_write, key, keys, n, s, Item, Store};
use crate::error::AppResult;

/// Removal of expired items.
#[derive(Clone, Copy)]
pub struct Cleanup<'a> {
    pub(super) store: &'a Store,
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupReport {
    /// Index entries read: the expired items found (the query reads nothing else).
    pub examined: u64,
    pub removed: u64,
    /// Found expired, but set anew (a mute muted again) or removed by someone else
    /// between the read and the delete: left as they are.
    pub kept: u64,
    pub buckets: u64,
}

/// An item the expiry index showed as expired: its key and the expiry it had then.
#[derive(Debug, Clone)]
pub struct ExpiredEntry {
    pub key: Item,
    pub expires_at: i64,
}

/// Deletes run this many at a time.
const DELETES_AT_ONCE: usize = 16;

impl Cleanup<'_> {
    /// Deletes every item of the expiry index that expired by `now`, in the day buckets
    /// from `lookback_days` ago to today. Each delete holds only while the item still
    /// has the expiry the index showed, so an item set anew meanwhile (a mute muted
    /// again for longer) stays; two runs at once, or a run after a crash half-way,
    /// delete each item once.
    pub async fn remove_expired(self, now: DateTime<Utc>, lookback_days: i64) -> AppResult<CleanupReport> {
        let mut report = CleanupReport::default();
        for days_ago in (0..=lookback_days).rev() {
            let bucket = keys::expiry::bucket((now - Duration::days(days_ago)).timestamp());
            report.buckets += 1;
            let query = self
                .store
                .query()
                .index_name(keys::expiry::NAME)
                .key_condition_expression("#bucket = :bucket AND #at <= :now")
                .expression_attribute_names("#bucket", keys::expiry::BUCKET)
                .expression_attribute_names("#at", keys::expiry::AT)
                .expression_attribute_values(":bucket", s(&bucket))
                .expression_attribute_values(":now", n(now.timestamp()))
                .select(Select::AllProjectedAttributes)
                .limit(500);
            let mut pages = Pages::of(query, "an expiry bucket");
            while let Some(out) = pages.next().await? {
                report.examined += out.scanned_count.max(0) as u64;
                let expired: Vec<ExpiredEntry> = out.items.unwrap_or_default().iter().filter_map(entry).collect();
                let removed = self.delete_expired(expired.clone()).await?;
                report.removed += removed;
                report.kept += expired.len() as u64 - removed;
            }
        }
        Ok(report)
    }

    /// Deletes each entry's item if it still has the expiry the index showed; how
    /// many were deleted.
    pub async fn delete_expired(self, entries: Vec<ExpiredEntry>) -> AppResult<u64> {
        let deletes = entries.into_iter().map(|entry| async move {
            let deleted = self
                .store
                .delete_item()
                .set_key(Some(entry.key))
                .condition_expression("#at = :at")
                .expression_attribute_names("#at", keys::expiry::AT)
                .expression_attribute_values(":at", n(entry.expires_at))
                .send()
                .await;
            conditional_write(deleted, "DeleteItem an expired item".into()).map(u64::from)
        });
        let counts: Vec<u64> = stream::iter(deletes).buffer_unordered(DELETES_AT_ONCE).try_collect().await?;
        Ok(counts.into_iter().sum())
    }
}

/// An index entry's key and expiry.
fn entry(item: &Item) -> Option<ExpiredEntry> {
    let pk = item.get(keys::PK)?.as_s().ok()?.clone();
    let sk = item.get(keys::SK)?.as_s().ok()?.clone();
    let expires_at = item.get(keys::expiry::AT)?.as_n().ok()?.parse().ok()?;
    Some(ExpiredEntry { key: key(pk, sk), expires_at })
}
