//! The scheduled `cleanup` function: deletes expired sessions and one-time tokens by
//! the expiry index (`Store::remove_expired`), then the accounts whose deactivation
//! window has ended (`Store::purge_deleted_accounts`), until shortly before Lambda's
//! deadline; what is left, the next run finishes. The schedule's event carries nothing
//! it needs; it logs and answers what it did.

use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::bucket::ExportBucket;
use shared::store::cleanup::CleanupReport;
use shared::store::purge::PurgeReport;
use shared::store::Store;

/// What a run reads from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `CLEANUP_LOOKBACK_DAYS`.
    pub lookback_days: i64,
    /// `ACCOUNT_DELETION_DAYS`.
    pub deletion_days: i64,
}

impl From<&shared::config::Config> for Settings {
    fn from(config: &shared::config::Config) -> Self {
        Settings { lookback_days: config.cleanup_lookback_days, deletion_days: config.account_deletion_days }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub expired: CleanupReport,
    pub purge: PurgeReport,
}

/// Stop starting work this long before Lambda's deadline.
const MARGIN: Duration = Duration::from_secs(20);
/// The budget of a run without a deadline (an invocation outside Lambda).
const BUDGET: Duration = Duration::from_secs(240);

/// One run: the store, and the export bucket whose documents go with deleted accounts.
pub async fn handle(
    store: &Store,
    exports: Option<&ExportBucket>,
    settings: Settings,
    event: LambdaEvent<Value>,
) -> Result<Report, Error> {
    let now = store.now();
    let expired = store.cleanup().remove_expired(now, settings.lookback_days).await?;
    let cutoff = now - chrono::Duration::days(settings.deletion_days);
    let purge = store.purge().purge_deleted_accounts(cutoff, deadline(event.context.deadline), exports).await?;
    tracing::info!(
        request_id = %event.context.request_id,
        removed = expired.removed,
        kept = expired.kept,
        examined = expired.examined,
        buckets = expired.buckets,
        accounts_deleted = purge.accounts_deleted,
        edges_removed = purge.edges_removed,
        documents_removed = purge.documents_removed,
        unfinished = purge.unfinished,
        "expired items and ended accounts removed"
    );
    shared::metrics::count("ExpiredItemsRemoved", expired.removed);
    shared::metrics::count("AccountsDeleted", purge.accounts_deleted);
    shared::metrics::count("EdgesRemoved", purge.edges_removed);
    Ok(Report { expired, purge })
}

/// When to stop starting work, from Lambda's deadline (epoch milliseconds).
fn deadline(lambda_deadline_ms: u64) -> Instant {
    let now_ms = shared::clock::system_now().timestamp_millis().max(0) as u64;
    let left = match lambda_deadline_ms {
        0 => BUDGET,
        deadline => Duration::from_millis(deadline.saturating_sub(now_ms)).saturating_sub(MARGIN),
    };
    Instant::now() + left
}
