use chrono::{DateTime, SecondsFormat, Utc};
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
    /// second open report of the same user by the same reporter is `ALREADY_REPORTED`.
    /// Moderation closes a report by deleting the guard with the status change.
    pub async fn create_report(&self, report: &ReportRecord) -> AppResult<()> {
        let mut item = to_item(report, format!("REPORT#{}", report.id), "REPORT".into())?;
        item.insert("GSI1PK".into(), s(format!("REPORTS#{}", report.status)));
        item.insert(
            "GSI1SK".into(),
            s(format!("{}#{}", report.created_at.to_rfc3339_opts(SecondsFormat::Micros, true), report.id)),
        );
        let guard = to_item(
            &OpenReportGuard { report_id: &report.id },
            keys::user(&report.reporter_id),
            format!("REPORTED#{}", report.target_id),
        )?;
        let items = vec![self.put_new(item)?, self.put_new(guard)?];
        self.transact(items, |reasons| {
            if reasons.get(1).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed") {
                AppError::AlreadyReported
            } else {
                AppError::internal("report id collision")
            }
        })
        .await
    }
}
