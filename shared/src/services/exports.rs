//! Data exports: the request and its status (users function), and the document itself,
//! built in the background from the table's stream (notify function) and written to
//! the export bucket as a stream of parts, so memory stays bounded whatever the size of
//! the account's lists.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::devices::DeviceView;
use super::sessions::{SessionView, Sessions};
use super::Notices;
use crate::bucket::{ExportBucket, ObjectWriter};
use crate::domain::client::Caller;
use crate::domain::identity::IdentityView;
use crate::domain::mfa::TotpFactor;
use crate::domain::passkey::PasskeyView;
use crate::domain::security_event::SecurityEventView;
use crate::domain::user::OwnUserView;
use crate::domain::OfUser;
use crate::error::{AppError, AppResult, Context};
use crate::state::AppState;
use crate::store::exports::{ExportRequest, ExportStatus, EXPORT_EVERY_HOURS};
use crate::store::graph::Edge;
use crate::store::outbox::MessageKind;
use crate::store::{keys, Item, Store};

/// How long a download link works.
pub const LINK_HOURS: u64 = 24;
/// Items read per page while building (and users looked up at once).
const PAGE: i32 = 100;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportStarted {
    pub export_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Export)]
pub struct ExportView {
    pub id: String,
    pub status: ExportStatus,
    pub created_at: DateTime<Utc>,
    /// When ready: a link to the document, valid 24 hours from this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    /// When ready: when the link stops working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Asking for exports and reading their state.
pub struct Exports<'a> {
    store: &'a Store,
    bucket: Option<&'a ExportBucket>,
    sessions: Sessions<'a>,
}

fn no_bucket() -> AppError {
    AppError::internal("no export bucket configured (EXPORT_BUCKET)")
}

impl<'a> Exports<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Exports { store: &state.store, bucket: state.bucket.as_deref(), sessions: Sessions::new(state) }
    }

    /// One export per account per 24 hours (429 with the time left); it is built in the
    /// background and announced by a message.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn request(&self, caller: &Caller) -> AppResult<ExportStarted> {
        let (user, _, _) = self.sessions.second_factor_session(caller).await?;
        self.bucket.ok_or_else(no_bucket)?;
        match self.store.exports().request_export(&user.id).await? {
            ExportRequest::Created(export) => {
                tracing::info!(user_id = %user.id, export_id = %export.id, "data export requested");
                Ok(ExportStarted { export_id: export.id })
            }
            ExportRequest::TooSoon => {
                let last = self.store.users().user_by_id(&user.id).await?.and_then(|u| u.last_export_at);
                let next = last.map(|at| at + chrono::Duration::hours(EXPORT_EVERY_HOURS));
                let wait = next.map_or(0, |next| (next - self.store.now()).num_seconds().max(1));
                Err(AppError::RateLimited { retry_after_secs: wait as u64 })
            }
        }
    }

    /// An export of the caller's (anyone else's is not found), with a fresh link when
    /// ready: only to a live session of an active account (a link outlives the session
    /// that asked for it).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, export_id = %export_id))]
    pub async fn status(&self, caller: &Caller, export_id: &str) -> AppResult<ExportView> {
        let (_, export) = tokio::try_join!(
            self.sessions.live_session(caller),
            self.store.exports().export(OfUser { user_id: &caller.user_id, id: export_id })
        )?;
        let export = export.filter(|e| e.is_live(self.store.now())).ok_or(AppError::NotFound)?;
        let (download_url, expires_at) = match (&export.status, &export.object_key) {
            (ExportStatus::Ready, Some(key)) => {
                let bucket = self.bucket.ok_or_else(no_bucket)?;
                let valid = Duration::from_secs(LINK_HOURS * 3600);
                let url = bucket.presign_get(key, valid).await?;
                (Some(url), Some(self.store.now() + chrono::Duration::hours(LINK_HOURS as i64)))
            }
            _ => (None, None),
        };
        Ok(ExportView { id: export.id, status: export.status, created_at: export.created_at, download_url, expires_at })
    }
}

/// What became of a build.
#[derive(Debug, PartialEq, Eq)]
pub enum Built {
    /// Written, marked ready, and the message on its way.
    Ready,
    /// Nothing to do: unknown, expired, or settled before (a repeated stream record).
    Skipped,
    /// The account is gone: marked failed.
    Failed,
}

/// Writes an account's export document.
pub struct ExportBuilder<'a> {
    store: &'a Store,
    bucket: &'a ExportBucket,
}

impl<'a> ExportBuilder<'a> {
    pub fn new(store: &'a Store, bucket: &'a ExportBucket) -> Self {
        ExportBuilder { store, bucket }
    }

    /// Builds a pending export: the document into the bucket, then the export marked
    /// ready with its `data_export_ready` message, at once. Building again (a repeated
    /// record) writes the same document over and changes nothing else.
    #[tracing::instrument(skip_all, fields(user_id = %export.user_id, export_id = %export.id))]
    pub async fn build(&self, export: OfUser<'_>) -> AppResult<Built> {
        let OfUser { user_id, id: export_id } = export;
        let Some(export) = self.store.exports().export(export).await? else {
            return Ok(Built::Skipped);
        };
        if export.status != ExportStatus::Pending || !export.is_live(self.store.now()) {
            return Ok(Built::Skipped);
        }
        let (user, factor) = self.store.factors().user_and_factor(user_id).await?;
        let Some(user) = user else {
            self.store.exports().fail_export(&export).await?;
            return Ok(Built::Failed);
        };
        let key = keys::export::object_key(user_id, export_id);
        let mut writer = self.bucket.writer(&key);
        self.write_document(&mut writer, &OwnUserView::from(&user), factor.as_ref()).await?;
        writer.finish().await?;
        let url = self.bucket.presign_get(&key, Duration::from_secs(LINK_HOURS * 3600)).await?;
        let message = Notices::new(self.store).to(
            &user,
            MessageKind::DataExportReady,
            [("exportId", export.id.clone()), ("downloadUrl", url)],
        )?;
        if !self.store.exports().finish_export(&export, &key, message).await? {
            return Ok(Built::Skipped);
        }
        tracing::info!(user_id, export_id, "data export ready");
        Ok(Built::Ready)
    }

    async fn write_document(
        &self,
        out: &mut ObjectWriter<'_>,
        account: &OwnUserView,
        factor: Option<&TotpFactor>,
    ) -> AppResult<()> {
        let user_id = &account.user.id;
        let enabled = factor.filter(|f| f.is_enabled());
        let head = json!({
            "exportedAt": self.store.now(),
            "account": account,
            "secondFactor": {
                "enabled": enabled.is_some(),
                "enabledAt": enabled.and_then(|f| f.enabled_at),
                "recoveryCodesRemaining": enabled.map_or(0, |f| f.recovery_codes.len()),
            },
        });
        let head = serde_json::to_string(&head).context("serializing an export entry as JSON")?;
        // The head without its closing brace; the lists follow as further members.
        out.write(&head.as_bytes()[..head.len() - 1]).await?;

        out.write(br#","sessions":["#).await?;
        let sessions = self.store.sessions().sessions_of(user_id).await?;
        for (i, session) in sessions.into_iter().enumerate() {
            // As the session list shows them (no refresh-token hash).
            let entry =
                serde_json::to_value(SessionView::new(session, "")).context("serializing an export entry as JSON")?;
            self.write_entry(out, i, &entry).await?;
        }
        out.write(b"]").await?;
        self.write_devices_and_history(out, user_id).await?;

        for (name, edge) in [
            ("followers", Edge::Follower),
            ("following", Edge::Following),
            ("followRequestsReceived", Edge::Request),
            ("followRequestsSent", Edge::Requested),
            ("blocking", Edge::Blocking),
            ("mutes", Edge::Muting),
        ] {
            out.write(format!(",\"{name}\":[").as_bytes()).await?;
            self.write_edges(out, user_id, edge).await?;
            out.write(b"]").await?;
        }
        out.write(br#","reportsFiled":["#).await?;
        self.write_reports(out, user_id).await?;
        out.write(b"]}").await
    }

    /// The devices that hold a device token of the account (as the devices list shows
    /// them, ended ones too), its passkeys (never their keys), its linked identities and
    /// its security history (90 days).
    async fn write_devices_and_history(&self, out: &mut ObjectWriter<'_>, user_id: &str) -> AppResult<()> {
        out.write(br#","devices":["#).await?;
        let devices = self.store.sessions().devices_of(user_id).await?;
        for (i, (hash, device)) in devices.into_iter().enumerate() {
            let entry = serde_json::to_value(DeviceView::new(&hash, device, false))
                .context("serializing an export entry as JSON")?;
            self.write_entry(out, i, &entry).await?;
        }
        out.write(br#"],"passkeys":["#).await?;
        for (i, passkey) in self.store.passkeys().list(user_id).await?.iter().enumerate() {
            let entry =
                serde_json::to_value(PasskeyView::from(passkey)).context("serializing an export entry as JSON")?;
            self.write_entry(out, i, &entry).await?;
        }
        out.write(br#"],"identities":["#).await?;
        for (i, identity) in self.store.identities().list(user_id).await?.iter().enumerate() {
            let entry =
                serde_json::to_value(IdentityView::from(identity)).context("serializing an export entry as JSON")?;
            self.write_entry(out, i, &entry).await?;
        }
        out.write(br#"],"securityEvents":["#).await?;
        let (mut start, mut written) = (None, 0);
        loop {
            let page = self.store.security_events().page(user_id, None, PAGE, start).await?;
            for event in page.events {
                let entry = serde_json::to_value(SecurityEventView::from(event))
                    .context("serializing an export entry as JSON")?;
                self.write_entry(out, written, &entry).await?;
                written += 1;
            }
            start = page.last_key;
            if start.is_none() {
                return out.write(b"]").await;
            }
        }
    }

    async fn write_entry(&self, out: &mut ObjectWriter<'_>, index: usize, entry: &serde_json::Value) -> AppResult<()> {
        if index > 0 {
            out.write(b",").await?;
        }
        out.write(&serde_json::to_vec(entry).context("serializing an export entry as JSON")?).await
    }

    /// One list, a page of edges at a time, each with the other user's current username;
    /// as the API's lists show them, without accounts that are deactivated, suspended
    /// or gone (their ids are not the caller's to learn).
    async fn write_edges(&self, out: &mut ObjectWriter<'_>, user_id: &str, edge: Edge) -> AppResult<()> {
        let (mut start, mut written) = (None, 0);
        loop {
            let page = self.store.exports().partition_prefix_page(user_id, edge.prefix(), start, PAGE).await?;
            let others: Vec<String> = page
                .items
                .iter()
                .filter_map(|i| text(i, keys::SK)?.strip_prefix(edge.prefix()).map(str::to_owned))
                .collect();
            let names = self.store.users().users_by_ids(&others.iter().map(String::as_str).collect::<Vec<_>>()).await?;
            for (item, other) in page.items.iter().zip(&others) {
                let Some(user) = names.get(other).filter(|u| u.is_visible()) else {
                    continue;
                };
                let mut entry = json!({
                    "id": other,
                    "username": user.username,
                    "since": text(item, "createdAt"),
                });
                if let Some(reason) = text(item, "reason") {
                    entry["reason"] = json!(reason);
                }
                if let Some(notifications) = item.get("notifications").and_then(|v| v.as_bool().ok()) {
                    entry["notifications"] = json!(notifications);
                    let ends = item.get(keys::expiry::AT).and_then(|v| v.as_n().ok()?.parse().ok());
                    entry["endsAt"] = json!(ends.and_then(|at| chrono::DateTime::from_timestamp(at, 0)));
                }
                self.write_entry(out, written, &entry).await?;
                written += 1;
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The reports the account filed, through its records of them.
    async fn write_reports(&self, out: &mut ObjectWriter<'_>, user_id: &str) -> AppResult<()> {
        let (mut start, mut written) = (None, 0);
        loop {
            let page =
                self.store.exports().partition_prefix_page(user_id, keys::report::FILED_PREFIX, start, PAGE).await?;
            let ids: Vec<String> = page.items.iter().filter_map(|i| text(i, "reportId").map(str::to_owned)).collect();
            for report in self.store.reports().reports_by_ids(&ids).await? {
                let entry = json!({
                    "id": report.id,
                    "userId": report.target_id,
                    "reason": report.reason,
                    "details": report.details,
                    "status": report.status,
                    "createdAt": report.created_at,
                });
                self.write_entry(out, written, &entry).await?;
                written += 1;
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }
}

fn text<'i>(item: &'i Item, name: &str) -> Option<&'i str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}
