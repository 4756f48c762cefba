//! The scheduled `cleanup` function: deletes expired sessions and one-time tokens by
//! the expiry index (see `Store::remove_expired`). The schedule's event carries nothing
//! it needs; it logs and answers what it removed.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::store::cleanup::CleanupReport;
use shared::store::Store;

pub async fn handle(store: &Store, lookback_days: i64, event: LambdaEvent<Value>) -> Result<CleanupReport, Error> {
    let report = store.remove_expired(store.now(), lookback_days).await?;
    tracing::info!(
        request_id = %event.context.request_id,
        removed = report.removed,
        examined = report.examined,
        buckets = report.buckets,
        "expired sessions and tokens removed"
    );
    Ok(report)
}
