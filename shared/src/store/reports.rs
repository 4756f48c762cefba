//! Reports and their moderation queue. A report moves between `open` and `resolved`
//! by a put over its whole item, conditioned on the `version` it was read at, so two
//! staff changing one report at once get one success and one `CONFLICT`.

use aws_sdk_dynamodb::types::{Delete, Put, Select, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pages::{PageKey, Pages};
use super::{dynamo_error, from_item, keys, n, s, sort_key, to_item, Item, Store};
use crate::error::{AppError, AppResult, Context};

/// Reports against users and the moderation queue.
#[derive(Clone, Copy)]
pub struct Reports<'a> {
    pub(super) store: &'a Store,
}

pub const OPEN: &str = "open";
pub const RESOLVED: &str = "resolved";

/// A report as stored (`REPORT#<id>`), in the queue of its status.
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
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// What resolving it did (`none, warn, limit, suspend`).
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Moves with every change; a change is written only over the version it read.
    #[serde(default)]
    pub version: i64,
}

impl ReportRecord {
    pub fn is_open(&self) -> bool {
        self.status == OPEN
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenReportGuard<'a> {
    report_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FiledReport<'a> {
    report_id: &'a str,
    target_id: &'a str,
    created_at: DateTime<Utc>,
}

/// A page of the moderation queue.
pub struct ReportPage {
    pub reports: Vec<ReportRecord>,
    pub last_key: Option<PageKey>,
}

impl Reports<'_> {
    /// The report, the reporter's guard for this target, the reporter's record of it and
    /// its entry among the open reports against the target, in one transaction: a second
    /// open report of the same user by the same reporter is refused (`false`).
    pub async fn create_report(self, report: &ReportRecord) -> AppResult<bool> {
        let guard_key = keys::report::guard_key(&report.reporter_id, &report.target_id);
        let guard = to_item(&OpenReportGuard { report_id: &report.id }, guard_key)?;
        let filed = FiledReport { report_id: &report.id, target_id: &report.target_id, created_at: report.created_at };
        let filed = to_item(&filed, keys::report::filed_key(&report.reporter_id, &report.id))?;
        let items = vec![
            self.store.put_new(self.report_item(report)?)?,
            self.store.put_new(guard)?,
            self.store.put_new(filed)?,
            self.store.put_new(self.against_item(report))?,
        ];
        match self.store.try_transact(items).await? {
            Ok(()) => Ok(true),
            Err(reasons) if reasons.get(1).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed") => Ok(false),
            Err(_) => Err(AppError::internal("report id collision")),
        }
    }

    fn report_item(self, report: &ReportRecord) -> AppResult<Item> {
        let mut item = to_item(report, keys::report::key(&report.id))?;
        let sorted_at = match report.resolved_at {
            Some(at) if !report.is_open() => at,
            _ => report.created_at,
        };
        item.insert(keys::gsi1::PK.into(), s(keys::report::queue_pk(&report.status)));
        item.insert(keys::gsi1::SK.into(), s(keys::report::queue_sk(sorted_at, &report.id)));
        Ok(item)
    }

    fn against_item(self, report: &ReportRecord) -> Item {
        let mut item = keys::report::against_key(&report.target_id, &report.id);
        item.insert("reporterId".into(), s(&report.reporter_id));
        item
    }

    pub async fn report(self, id: &str) -> AppResult<Option<ReportRecord>> {
        self.store.get(keys::report::key(id)).await
    }

    /// The writes that store each of `changed` (read at its `version - 1`) and move its
    /// guard and its entry against the target with its status. Two reports of one
    /// reporter about one target (one reopened) share a guard: it is written once.
    pub(crate) fn report_changes(self, changed: &[ReportRecord]) -> AppResult<Vec<TransactWriteItem>> {
        let mut guards = std::collections::HashSet::new();
        let mut items = Vec::new();
        for report in changed {
            let first_of_guard = guards.insert((&report.reporter_id, &report.target_id));
            items.extend(self.report_change(report, first_of_guard)?);
        }
        Ok(items)
    }

    fn report_change(self, changed: &ReportRecord, with_guard: bool) -> AppResult<Vec<TransactWriteItem>> {
        let put = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(self.report_item(changed)?))
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(version) OR version = :read)")
            .expression_attribute_values(":read", n(changed.version - 1))
            .build()
            .context("building a Put")?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        let guard_key = keys::report::guard_key(&changed.reporter_id, &changed.target_id);
        let against_key = keys::report::against_key(&changed.target_id, &changed.id);
        if changed.is_open() {
            let guard = to_item(&OpenReportGuard { report_id: &changed.id }, guard_key)?;
            for item in [Some(guard).filter(|_| with_guard), Some(self.against_item(changed))].into_iter().flatten() {
                items.push(super::writes::put_any(self.store, item)?);
            }
        } else {
            for key in [Some(guard_key).filter(|_| with_guard), Some(against_key)].into_iter().flatten() {
                let delete = Delete::builder().table_name(self.store.table()).set_key(Some(key)).build();
                items.push(TransactWriteItem::builder().delete(delete.context("building a Delete")?).build());
            }
        }
        Ok(items)
    }

    /// One page of the queue of `status`: open reports oldest first, resolved ones
    /// newest first.
    pub async fn report_queue(self, status: &str, limit: i32, start: Option<PageKey>) -> AppResult<ReportPage> {
        let out = self
            .store
            .query()
            .index_name(keys::gsi1::NAME)
            .key_condition_expression("#queue = :queue")
            .expression_attribute_names("#queue", keys::gsi1::PK)
            .expression_attribute_values(":queue", s(keys::report::queue_pk(status)))
            .scan_index_forward(status == OPEN)
            .limit(limit)
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query the report queue (GSI1)"))?;
        let ids: Vec<String> = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| keys::report::id(item.get(keys::PK)?.as_s().ok()?).map(str::to_owned))
            .collect();
        let mut found = self.reports_by_ids(&ids).await?;
        // In queue order; a report that changed queue meanwhile is left out.
        found.retain(|r| r.status == status);
        found.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
        Ok(ReportPage { reports: found, last_key: PageKey::after(out.last_evaluated_key) })
    }

    /// Reports by id, read consistently.
    pub async fn reports_by_ids(self, ids: &[String]) -> AppResult<Vec<ReportRecord>> {
        let keys = ids.iter().map(|id| keys::report::key(id)).collect();
        super::batch_get(self.store, keys).await?.into_iter().map(from_item).collect()
    }

    /// Up to `limit` ids of the open reports against `target_id`.
    pub async fn open_reports_against(self, target_id: &str, limit: i32) -> AppResult<Vec<String>> {
        let out = self
            .against(target_id)
            .consistent_read(true)
            .limit(limit)
            .send()
            .await
            .map_err(dynamo_error("Query the open reports against a user"))?;
        Ok(out.items.unwrap_or_default().iter().map(|item| sort_key(item).to_owned()).collect())
    }

    /// How many reports against `target_id` are open.
    pub async fn count_open_reports_against(self, target_id: &str) -> AppResult<i64> {
        let (mut count, mut pages) =
            (0, Pages::of(self.against(target_id).select(Select::Count), "the open reports against a user (count)"));
        while let Some(out) = pages.next().await? {
            count += i64::from(out.count);
        }
        Ok(count)
    }

    fn against(self, target_id: &str) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.store
            .query()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(keys::report::against_pk(target_id)))
    }
}
