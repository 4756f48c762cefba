use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{keys, s, to_item, Store};
use crate::error::{AppError, AppResult};

/// A report, stored with status `open` in the moderation queue (GSI1 partition
/// `REPORTS#open`, oldest first by `GSI1SK`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRecord {
    pub id: String,
    pub reporter_id: String,
    pub target_id: String,
    pub reason: String,
    pub details: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenReportGuard<'a> {
    report_id: &'a str,
}

impl Store {
    /// The report and the reporter's guard for this target in one transaction: a
    /// second open report of the same user by the same reporter is refused (`false`).
    /// Moderation closes a report by deleting the guard with the status change.
    pub async fn create_report(&self, report: &ReportRecord) -> AppResult<bool> {
        let mut item = to_item(report, keys::report::key(&report.id))?;
        item.insert(keys::gsi1::PK.into(), s(keys::report::queue_pk(&report.status)));
        item.insert(keys::gsi1::SK.into(), s(keys::report::queue_sk(report.created_at, &report.id)));
        let guard_key = keys::report::guard_key(&report.reporter_id, &report.target_id);
        let guard = to_item(&OpenReportGuard { report_id: &report.id }, guard_key)?;
        let items = vec![self.put_new(item)?, self.put_new(guard)?];
        match self.try_transact(items).await? {
            Ok(()) => Ok(true),
            Err(reasons) if reasons.get(1).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed") => Ok(false),
            Err(_) => Err(AppError::internal("report id collision")),
        }
    }
}
