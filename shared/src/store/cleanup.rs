//! Deleting what has expired before TTL gets to it (TTL deletion lags by up to two
//! days). Reads only the sparse expiry index, bucket by bucket, so the cost follows the
//! number of expired items and not the size of the table.

use aws_sdk_dynamodb::types::Select;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{dynamo_error, key, keys, n, s, Store};
use crate::error::AppResult;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupReport {
    /// Index entries read: the expired items found (the query reads nothing else).
    pub examined: u64,
    pub removed: u64,
    pub buckets: u64,
}

impl Store {
    /// Deletes every item of the expiry index that expired by `now`, in the day buckets
    /// from `lookback_days` ago to today. Deleting is idempotent, so two runs at once,
    /// or a run after a crash half-way, only repeat harmless deletes.
    pub async fn remove_expired(&self, now: DateTime<Utc>, lookback_days: i64) -> AppResult<CleanupReport> {
        let mut report = CleanupReport::default();
        for days_ago in (0..=lookback_days).rev() {
            let bucket = keys::expiry::bucket((now - Duration::days(days_ago)).timestamp());
            report.buckets += 1;
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(self.table())
                    .index_name(keys::expiry::NAME)
                    .key_condition_expression("#bucket = :bucket AND #at <= :now")
                    .expression_attribute_names("#bucket", keys::expiry::BUCKET)
                    .expression_attribute_names("#at", keys::expiry::AT)
                    .expression_attribute_values(":bucket", s(&bucket))
                    .expression_attribute_values(":now", n(now.timestamp()))
                    .select(Select::AllProjectedAttributes)
                    .limit(500)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(dynamo_error)?;
                report.examined += out.scanned_count.max(0) as u64;
                let expired: Vec<_> = out
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|item| {
                        let pk = item.get(keys::PK)?.as_s().ok()?.clone();
                        let sk = item.get(keys::SK)?.as_s().ok()?.clone();
                        Some(key(pk, sk))
                    })
                    .collect();
                report.removed += expired.len() as u64;
                self.delete_items(expired).await?;
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(report)
    }
}
