//! Moderation: the report queue, actions on accounts, roles and the audit log. Every
//! call checks the caller's session and reads their role from the account (a demotion
//! bites on the next call); every write carries its audit entry in its transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::history::History;
use super::sessions::Sessions;
use super::Notices;
use crate::cursor::Cursors;
use crate::domain::account_event::{AccountEvent, EventType};
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::mfa;
use crate::domain::page::{Page, PageRequest};
use crate::domain::security_event::{SecurityEventRecord, SecurityEventType};
use crate::domain::user::{OwnUserView, Restriction, Role, UserRecord};
use crate::domain::{non_empty, Fields};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::keys;
use crate::store::moderation::{AuditFilter, AuditRecord, StandingChange};
use crate::store::outbox::MessageKind;
use crate::store::reports::{ReportRecord, OPEN, RESOLVED};
use crate::store::Store;

/// The longest staff note kept.
pub const NOTE_MAX: usize = 1000;
/// The longest timed suspension or limitation (longer is "until lifted").
pub const DURATION_DAYS_MAX: i64 = 3650;
/// Audit entries shown with an account.
const HISTORY: i32 = 20;
/// Reports resolved per transaction (each is three writes; the action and its audit
/// entry take the rest of the hundred a transaction may hold).
const REPORTS_PER_WRITE: i32 = 25;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// `open` (the default, oldest first) or `resolved` (newest first).
    #[param(value_type = Option<String>)]
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only entries by this staff account.
    pub actor_id: Option<String>,
    /// Only entries about this account.
    pub target_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveRequest {
    /// `none, warn, limit, suspend`.
    #[schema(value_type = String, required = true)]
    pub action: Option<String>,
    /// For `limit` and `suspend`: 1 to 3650 days; absent: until lifted.
    #[schema(minimum = 1, maximum = 3650)]
    pub duration_days: Option<i64>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionRequest {
    /// `warn, limit, unlimit, suspend, unsuspend`.
    #[serde(rename = "type")]
    #[schema(value_type = String, required = true)]
    pub kind: Option<String>,
    /// For `limit` and `suspend`: 1 to 3650 days; absent: until lifted.
    #[schema(minimum = 1, maximum = 3650)]
    pub duration_days: Option<i64>,
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// The report this acts on (`warn`, `limit`, `suspend`): it and every other open
    /// report against the account are resolved with the action.
    pub report_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `user, moderator, admin`.
    #[schema(value_type = String, required = true)]
    pub role: Option<String>,
}

/// An account named in a report or an audit entry (a deleted one has no username).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountRef {
    pub id: String,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportTarget {
    pub id: String,
    pub username: Option<String>,
    /// `active, limited, suspended, deactivated` or `deleted`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Report)]
pub struct ReportView {
    pub id: String,
    pub reason: String,
    pub details: Option<String>,
    /// `open` or `resolved`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub reporter: AccountRef,
    pub target: ReportTarget,
    pub assigned_to: Option<AccountRef>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<AccountRef>,
    /// What resolving it did: `none, warn, limit, suspend`.
    pub action: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEntry)]
pub struct AuditEntryView {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: AccountRef,
    /// What was done: `report.assign`, `report.resolve`, `report.reopen`, `user.warn`,
    /// `user.limit`, `user.unlimit`, `user.suspend`, `user.unsuspend`, `user.role`.
    pub action: String,
    pub target_id: Option<String>,
    pub report_id: Option<String>,
    pub note: Option<String>,
    pub details: BTreeMap<String, String>,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(entry: AuditRecord) -> Self {
        AuditEntryView {
            id: entry.id,
            at: entry.at,
            actor: AccountRef { id: entry.actor_id, username: entry.actor_username },
            action: entry.action,
            target_id: entry.target_id,
            report_id: entry.report_id,
            note: entry.note,
            details: entry.details,
        }
    }
}

/// An account as staff see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffUserView {
    #[serde(flatten)]
    pub user: OwnUserView,
    /// `active, limited, suspended` or `deactivated`.
    pub status: &'static str,
    pub suspended_until: Option<DateTime<Utc>>,
    pub limited_until: Option<DateTime<Utc>>,
    /// How many reports against the account are open.
    pub open_reports: i64,
    /// The newest audit entries about the account.
    pub history: Vec<AuditEntryView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffUserAnswer {
    pub user: StaffUserView,
}

/// An account's standing after an action.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    /// `active, limited, suspended` or `deactivated`.
    pub status: &'static str,
    /// Null while not suspended, or suspended until lifted (then `suspended` is true).
    pub suspended_until: Option<DateTime<Utc>>,
    pub limited_until: Option<DateTime<Utc>>,
    pub suspended: bool,
    pub limited: bool,
}

impl Standing {
    fn of(user: &UserRecord) -> Self {
        Standing {
            status: user.standing(),
            suspended_until: user.suspended.and_then(|r| r.until),
            limited_until: user.limited.and_then(|r| r.until),
            suspended: user.is_suspended(),
            limited: user.is_limited(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleAnswer {
    /// `user, moderator` or `admin`.
    pub role: Role,
}

/// What staff can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Warn,
    Limit,
    Unlimit,
    Suspend,
    Unsuspend,
}

impl ActionKind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "warn" => ActionKind::Warn,
            "limit" => ActionKind::Limit,
            "unlimit" => ActionKind::Unlimit,
            "suspend" => ActionKind::Suspend,
            "unsuspend" => ActionKind::Unsuspend,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Warn => "warn",
            ActionKind::Limit => "limit",
            ActionKind::Unlimit => "unlimit",
            ActionKind::Suspend => "suspend",
            ActionKind::Unsuspend => "unsuspend",
        }
    }

    /// The word the target's notice uses.
    fn done(self) -> &'static str {
        match self {
            ActionKind::Warn => "warned",
            ActionKind::Limit => "limited",
            ActionKind::Unlimit => "unlimited",
            ActionKind::Suspend => "suspended",
            ActionKind::Unsuspend => "unsuspended",
        }
    }

    fn is_timed(self) -> bool {
        matches!(self, ActionKind::Limit | ActionKind::Suspend)
    }

    /// Whether a report can be resolved with it.
    fn resolves_reports(self) -> bool {
        matches!(self, ActionKind::Warn | ActionKind::Limit | ActionKind::Suspend)
    }
}

/// A validated action.
#[derive(Debug, Clone)]
pub struct StaffAction {
    kind: ActionKind,
    days: Option<i64>,
    note: Option<String>,
}

/// The duration and note of an action; `kind` none: checked for "none".
fn duration_and_note(
    kind: Option<ActionKind>,
    days: Option<i64>,
    note: Option<&str>,
    fields: &mut Fields,
) -> (Option<i64>, Option<String>) {
    let days = match (days, kind) {
        (None, _) => None,
        (Some(_), kind) if !kind.is_some_and(ActionKind::is_timed) => {
            fields.add("durationDays", "only limit and suspend take a duration");
            None
        }
        (Some(d @ 1..=DURATION_DAYS_MAX), _) => Some(d),
        (Some(_), _) => {
            fields.add("durationDays", format!("must be a whole number from 1 to {DURATION_DAYS_MAX}"));
            None
        }
    };
    (days, fields.optional("note", note, non_empty(NOTE_MAX)))
}

/// How a report is resolved.
pub enum Resolution {
    /// No action (`none`): this report alone.
    Dismiss { note: Option<String> },
    /// The action, and every open report against the account resolved with it.
    Act(StaffAction),
}

impl ResolveRequest {
    pub fn resolution(self) -> AppResult<Resolution> {
        let mut fields = Fields::new();
        let action = fields.required("action", self.action.as_deref(), |name| match name {
            "none" => Ok(None),
            name => match ActionKind::parse(name).filter(|k| k.resolves_reports()) {
                Some(kind) => Ok(Some(kind)),
                None => Err("must be one of none, warn, limit, suspend"),
            },
        });
        let (days, note) = duration_and_note(action.flatten(), self.duration_days, self.note.as_deref(), &mut fields);
        Ok(match fields.finish_with(action)? {
            None => Resolution::Dismiss { note },
            Some(kind) => Resolution::Act(StaffAction { kind, days, note }),
        })
    }
}

/// A validated action on an account, maybe on a report.
pub struct UserAction {
    action: StaffAction,
    report_id: Option<String>,
}

impl ActionRequest {
    pub fn action(self) -> AppResult<UserAction> {
        let mut fields = Fields::new();
        let kind = fields.required("type", self.kind.as_deref(), |name| {
            ActionKind::parse(name).ok_or("must be one of warn, limit, unlimit, suspend, unsuspend")
        });
        let (days, note) = duration_and_note(kind, self.duration_days, self.note.as_deref(), &mut fields);
        let report_id = fields.optional("reportId", self.report_id.as_deref(), non_empty(64));
        if report_id.is_some() && kind.is_some_and(|k| !k.resolves_reports()) {
            fields.add("reportId", "only warn, limit and suspend resolve reports");
        }
        let kind = fields.finish_with(kind)?;
        Ok(UserAction { action: StaffAction { kind, days, note }, report_id })
    }
}

impl RoleRequest {
    pub fn role(self) -> AppResult<Role> {
        let mut fields = Fields::new();
        let role = fields.required("role", self.role.as_deref(), parse_role);
        fields.finish_with(role)
    }
}

pub fn parse_role(name: &str) -> Result<Role, &'static str> {
    match name {
        "user" => Ok(Role::User),
        "moderator" => Ok(Role::Moderator),
        "admin" => Ok(Role::Admin),
        _ => Err("must be one of user, moderator, admin"),
    }
}

impl ReportsQuery {
    pub fn status(self) -> AppResult<&'static str> {
        match self.status.as_deref() {
            None | Some("") | Some("open") => Ok(OPEN),
            Some("resolved") => Ok(RESOLVED),
            Some(_) => Err(AppError::validation("status", "must be open or resolved")),
        }
    }
}

fn forbidden_self() -> AppError {
    AppError::Forbidden("staff do not act on their own account or on reports about it")
}

fn forbidden_staff() -> AppError {
    AppError::Forbidden("moderators do not act on staff accounts")
}

/// Who writes an audit entry.
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    Staff(&'a UserRecord),
    /// The operator's command line (`grant-role`), with the identity that ran it (the
    /// AWS principal's ARN, or `local:<user>` against a local table).
    Operator(&'a str),
}

/// How long a staff session's pass of the second factor lets it reach the admin routes.
pub const STAFF_SECOND_FACTOR_WITHIN: chrono::Duration = chrono::Duration::hours(12);

/// The operator's id in the audit log.
pub const OPERATOR: &str = "operator";

pub struct Moderation<'a> {
    store: &'a Store,
    cursors: &'a Cursors,
    sessions: Sessions<'a>,
    notices: Notices<'a>,
}

impl<'a> Moderation<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Moderation {
            store: &state.store,
            cursors: &state.cursors,
            sessions: Sessions::new(state),
            notices: Notices::new(&state.store),
        }
    }

    /// The caller's account, when it is staff's (as `staff`) and an admin's.
    pub(crate) async fn admin(&self, caller: &Caller) -> AppResult<UserRecord> {
        let staff = self.staff(caller).await?;
        if staff.role != Role::Admin {
            return Err(AppError::Forbidden("this needs an admin account"));
        }
        Ok(staff)
    }

    /// The caller's account, when its session is live, it holds a staff role now, and
    /// the session passed the account's second factor within the last 12 hours: staff
    /// without a factor are refused (403 `MFA_REQUIRED`) until they enroll one.
    async fn staff(&self, caller: &Caller) -> AppResult<UserRecord> {
        let (user, session, factor) = self.sessions.live_session_with_factor(caller).await?;
        if !user.role.is_staff() {
            return Err(AppError::Forbidden("this needs a moderator or admin account"));
        }
        let recent = session.passed_second_factor_within(STAFF_SECOND_FACTOR_WITHIN, self.store.now());
        if !mfa::second_factor_on(&user, factor.as_ref()) || !recent {
            return Err(AppError::MfaRequired);
        }
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn reports(&self, caller: &Caller, status: &str, page: PageRequest) -> AppResult<Page<ReportView>> {
        self.staff(caller).await?;
        let scope = keys::report::queue_pk(status);
        let start = page.cursor.as_deref().map(|c| self.cursors.decode(&scope, c)).transpose()?;
        let found = self.store.reports().report_queue(status, page.limit, start).await?;
        let items = self.report_views(found.reports).await?;
        Ok(Page { items, next_cursor: found.last_key.map(|k| self.cursors.encode(&scope, &k)) })
    }

    /// A report; reading it is a read of personal data, so it is audited.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, report_id = %report_id))]
    pub async fn report(&self, caller: &Caller, report_id: &str) -> AppResult<ReportView> {
        let staff = self.staff(caller).await?;
        let report = self.store.reports().report(report_id).await?.ok_or(AppError::NotFound)?;
        let viewed = self.record_read(&staff, "report.view", &report.target_id, Some(&report));
        let (_, view) = tokio::try_join!(viewed, self.report_view(report.clone()))?;
        Ok(view)
    }

    /// A staff read of someone's personal data, in the audit log (with the actor's
    /// standing checked, like every staff write) before the answer goes out.
    async fn record_read(
        &self,
        staff: &UserRecord,
        action: &str,
        target_id: &str,
        report: Option<&ReportRecord>,
    ) -> AppResult<()> {
        let entry = self.entry(Actor::Staff(staff), action, report, target_id, None);
        match self.store.moderation().commit_staff_write(Some(staff), entry, Vec::new()).await? {
            true => Ok(()),
            false => Err(AppError::Conflict),
        }
    }

    /// Assigns an open report to the caller.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, report_id = %report_id))]
    pub async fn assign(&self, caller: &Caller, report_id: &str) -> AppResult<ReportView> {
        let (staff, report, _) = self.report_to_change(caller, report_id).await?;
        if !report.is_open() {
            return Err(AppError::Conflict);
        }
        let mut changed = report.clone();
        changed.assigned_to = Some(staff.id.clone());
        changed.version += 1;
        let entry = self.entry(Actor::Staff(&staff), "report.assign", Some(&report), &report.target_id, None);
        self.write_reports(&staff, &[changed.clone()], entry).await?;
        self.report_view(changed).await
    }

    /// Opens a resolved report again (its action stays as it was); idempotent.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, report_id = %report_id))]
    pub async fn reopen(&self, caller: &Caller, report_id: &str) -> AppResult<ReportView> {
        let (staff, report, _) = self.report_to_change(caller, report_id).await?;
        if report.is_open() {
            return self.report_view(report).await;
        }
        let mut changed = report.clone();
        changed.status = OPEN.into();
        (changed.resolved_at, changed.resolved_by, changed.action, changed.note) = (None, None, None, None);
        changed.version += 1;
        let entry = self.entry(Actor::Staff(&staff), "report.reopen", Some(&report), &report.target_id, None);
        self.write_reports(&staff, &[changed.clone()], entry).await?;
        self.report_view(changed).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, report_id = %report_id))]
    pub async fn resolve(&self, caller: &Caller, report_id: &str, resolution: Resolution) -> AppResult<ReportView> {
        let (staff, report, target) = self.report_to_change(caller, report_id).await?;
        if !report.is_open() {
            return Err(AppError::Conflict);
        }
        match resolution {
            Resolution::Dismiss { note } => {
                let changed = self.resolved(&report, &staff, "none", note.clone());
                let mut entry =
                    self.entry(Actor::Staff(&staff), "report.resolve", Some(&report), &report.target_id, note);
                entry.details.insert("action".into(), "none".into());
                self.write_reports(&staff, &[changed], entry).await?;
            }
            Resolution::Act(action) => {
                let target = target.ok_or(AppError::Conflict)?;
                self.apply(&staff, &target, &action, Some(report.clone())).await?;
            }
        }
        let report = self.store.reports().report(report_id).await?.ok_or(AppError::NotFound)?;
        self.report_view(report).await
    }

    /// Warn, limit, suspend or lift; with a report, resolves the open reports against
    /// the account with it.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn act(&self, caller: &Caller, user_id: &str, action: UserAction) -> AppResult<Standing> {
        let staff = self.staff(caller).await?;
        let target = self.target_account(&staff, user_id).await?;
        let report = match &action.report_id {
            None => None,
            Some(id) => {
                let report = self.store.reports().report(id).await?.ok_or(AppError::NotFound)?;
                if report.target_id != target.id {
                    return Err(AppError::validation("reportId", "is a report about another account"));
                }
                Some(report)
            }
        };
        self.apply(&staff, &target, &action.action, report).await
    }

    /// Gives an account a role (admins only, never their own).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn set_role(&self, caller: &Caller, user_id: &str, role: Role) -> AppResult<RoleAnswer> {
        let staff = self.staff(caller).await?;
        if staff.role != Role::Admin {
            return Err(AppError::Forbidden("only admins change roles"));
        }
        if staff.id == user_id {
            return Err(AppError::Forbidden("admins do not change their own role"));
        }
        let target = self.store.users().user_by_id(user_id).await?.ok_or(AppError::NotFound)?;
        grant(self.store, Actor::Staff(&staff), &target, role).await?;
        Ok(RoleAnswer { role })
    }

    /// An account as staff see it; an audited read of personal data, whose entry the
    /// history it answers already holds.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn account(&self, caller: &Caller, user_id: &str) -> AppResult<StaffUserAnswer> {
        let staff = self.staff(caller).await?;
        let user = self.store.users().user_by_id(user_id).await?.ok_or(AppError::NotFound)?;
        self.record_read(&staff, "user.view", user_id, None).await?;
        let (open_reports, history) = tokio::try_join!(
            self.store.reports().count_open_reports_against(user_id),
            self.store.moderation().audit_page(AuditFilter::Target { target: user_id, actor: None }, HISTORY, None)
        )?;
        let standing = Standing::of(&user);
        Ok(StaffUserAnswer {
            user: StaffUserView {
                user: OwnUserView::from(&user),
                status: standing.status,
                suspended_until: standing.suspended_until,
                limited_until: standing.limited_until,
                open_reports,
                history: history.entries.into_iter().map(Into::into).collect(),
            },
        })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn audit_log(
        &self,
        caller: &Caller,
        query: AuditQuery,
        page: PageRequest,
    ) -> AppResult<Page<AuditEntryView>> {
        self.staff(caller).await?;
        let actor = query.actor_id.filter(|a| !a.is_empty());
        let target = query.target_id.filter(|t| !t.is_empty());
        let (filter, scope) = match (&target, &actor) {
            (Some(target), actor) => (
                AuditFilter::Target { target, actor: actor.as_deref() },
                format!("{}|{}", keys::audit::target_pk(target), actor.as_deref().unwrap_or_default()),
            ),
            (None, Some(actor)) => (AuditFilter::Actor(actor), keys::audit::actor_pk(actor)),
            (None, None) => (AuditFilter::All, keys::audit::LOG.to_owned()),
        };
        let start = page.cursor.as_deref().map(|c| self.cursors.decode(&scope, c)).transpose()?;
        let found = self.store.moderation().audit_page(filter, page.limit, start).await?;
        Ok(Page {
            items: found.entries.into_iter().map(Into::into).collect(),
            next_cursor: found.last_key.map(|k| self.cursors.encode(&scope, &k)),
        })
    }

    /// The staff account, a report it may change, and the report's target (if it still
    /// exists).
    async fn report_to_change(
        &self,
        caller: &Caller,
        report_id: &str,
    ) -> AppResult<(UserRecord, ReportRecord, Option<UserRecord>)> {
        let staff = self.staff(caller).await?;
        let report = self.store.reports().report(report_id).await?.ok_or(AppError::NotFound)?;
        if report.target_id == staff.id {
            return Err(forbidden_self());
        }
        let target = self.store.users().user_by_id(&report.target_id).await?;
        if staff.role == Role::Moderator && target.as_ref().is_some_and(|t| t.role.is_staff()) {
            return Err(forbidden_staff());
        }
        Ok((staff, report, target))
    }

    /// An account staff may act on: not their own, and no staff account for a moderator.
    async fn target_account(&self, staff: &UserRecord, user_id: &str) -> AppResult<UserRecord> {
        if staff.id == user_id {
            return Err(forbidden_self());
        }
        let target = self.store.users().user_by_id(user_id).await?.ok_or(AppError::NotFound)?;
        if staff.role == Role::Moderator && target.role.is_staff() {
            return Err(forbidden_staff());
        }
        Ok(target)
    }

    /// The action, its notice and audit entry, and (with a report) the open reports
    /// against the account resolved with it, in one transaction; more open reports than
    /// one transaction holds are resolved in the next ones, each with its entry.
    async fn apply(
        &self,
        staff: &UserRecord,
        target: &UserRecord,
        action: &StaffAction,
        report: Option<ReportRecord>,
    ) -> AppResult<Standing> {
        let now = self.store.now();
        let until = action.days.map(|d| seconds(now + Duration::days(d)));
        let restriction = Some(Restriction { since: seconds(now), until });
        let change = match action.kind {
            ActionKind::Warn => StandingChange::default(),
            ActionKind::Limit => StandingChange { limited: Some(restriction), ..Default::default() },
            ActionKind::Suspend => {
                StandingChange { suspended: Some(restriction), end_sessions: true, ..Default::default() }
            }
            // Lifting what is not there changes nothing and writes nothing.
            ActionKind::Unlimit if !target.is_limited() => return Ok(Standing::of(target)),
            ActionKind::Unsuspend if !target.is_suspended() => return Ok(Standing::of(target)),
            ActionKind::Unlimit => StandingChange { limited: Some(None), ..Default::default() },
            ActionKind::Unsuspend => StandingChange { suspended: Some(None), ..Default::default() },
        };
        let mut notice = vec![("action", action.kind.done().to_owned())];
        if let Some(until) = until {
            notice.push(("until", until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
        let action_name = format!("user.{}", action.kind.as_str());
        let mut entry = self.entry(Actor::Staff(staff), &action_name, report.as_ref(), &target.id, action.note.clone());
        if let Some(days) = action.days {
            entry.details.insert("durationDays".into(), days.to_string());
        }
        let mut items = vec![
            self.store.moderation().standing_update(target, &change)?,
            self.notices.to(target, MessageKind::AccountModerated, notice)?,
        ];
        if let Some(event) = standing_event(self.store, target, action.kind, until) {
            items.push(History::new(self.store).put(&event)?);
        }
        if let Some(event) = account_event(&target.id, action.kind, until, now) {
            items.push(self.store.events().put(&event)?);
        }
        let resolving = report.is_some();
        if let Some(report) = report {
            let mut batch = self.open_reports(&target.id, Some(report)).await?;
            batch.truncate(REPORTS_PER_WRITE as usize);
            let resolved: Vec<ReportRecord> = batch
                .iter()
                .map(|open| self.resolved(open, staff, action.kind.as_str(), action.note.clone()))
                .collect();
            items.extend(self.store.reports().report_changes(&resolved)?);
        }
        if !self.store.moderation().commit_staff_write(Some(staff), entry, items).await? {
            return Err(AppError::Conflict);
        }
        tracing::info!(actor = %staff.id, target = %target.id, action = %action_name, "moderation action");
        if change.end_sessions {
            self.sessions.delete_ended_sessions(&target.id, None).await;
        }
        if resolving {
            self.resolve_the_rest(staff, &target.id, action).await?;
        }
        let after = self.store.users().user_by_id(&target.id).await?.ok_or(AppError::NotFound)?;
        Ok(Standing::of(&after))
    }

    /// Resolves the open reports against `target_id` left after an action's own
    /// transaction, a transaction (with its audit entry) per batch.
    async fn resolve_the_rest(&self, staff: &UserRecord, target_id: &str, action: &StaffAction) -> AppResult<()> {
        loop {
            let batch = self.open_reports(target_id, None).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut entry = self.entry(Actor::Staff(staff), "report.resolve", None, target_id, action.note.clone());
            entry.details.insert("action".into(), action.kind.as_str().into());
            entry.details.insert("reports".into(), batch.len().to_string());
            let resolved: Vec<ReportRecord> = batch
                .iter()
                .map(|open| self.resolved(open, staff, action.kind.as_str(), action.note.clone()))
                .collect();
            self.write_reports(staff, &resolved, entry).await?;
        }
    }

    /// Up to a transaction's worth of open reports against `target_id`, `first` first.
    async fn open_reports(&self, target_id: &str, first: Option<ReportRecord>) -> AppResult<Vec<ReportRecord>> {
        let ids = self.store.reports().open_reports_against(target_id, REPORTS_PER_WRITE).await?;
        let mut reports: Vec<ReportRecord> =
            self.store.reports().reports_by_ids(&ids).await?.into_iter().filter(ReportRecord::is_open).collect();
        if let Some(first) = first {
            reports.retain(|r| r.id != first.id);
            reports.insert(0, first);
        }
        Ok(reports)
    }

    fn resolved(&self, report: &ReportRecord, staff: &UserRecord, action: &str, note: Option<String>) -> ReportRecord {
        let mut resolved = report.clone();
        resolved.status = RESOLVED.into();
        resolved.resolved_at = Some(self.store.now());
        resolved.resolved_by = Some(staff.id.clone());
        resolved.action = Some(action.into());
        resolved.note = note;
        resolved.version += 1;
        resolved
    }

    async fn write_reports(&self, staff: &UserRecord, changed: &[ReportRecord], entry: AuditRecord) -> AppResult<()> {
        let items = self.store.reports().report_changes(changed)?;
        match self.store.moderation().commit_staff_write(Some(staff), entry, items).await? {
            true => Ok(()),
            false => Err(AppError::Conflict),
        }
    }

    fn entry(
        &self,
        actor: Actor<'_>,
        action: &str,
        report: Option<&ReportRecord>,
        target_id: &str,
        note: Option<String>,
    ) -> AuditRecord {
        audit_entry(self.store, actor, action, Some(target_id), report.map(|r| r.id.clone()), note)
    }

    async fn report_view(&self, report: ReportRecord) -> AppResult<ReportView> {
        let mut views = self.report_views(vec![report]).await?;
        views.pop().ok_or_else(|| AppError::internal("a report view went missing"))
    }

    async fn report_views(&self, reports: Vec<ReportRecord>) -> AppResult<Vec<ReportView>> {
        let mut ids: Vec<&str> = Vec::new();
        for report in &reports {
            ids.extend([report.reporter_id.as_str(), report.target_id.as_str()]);
            ids.extend(report.assigned_to.as_deref());
            ids.extend(report.resolved_by.as_deref());
        }
        let users: HashMap<String, UserRecord> = self.store.users().users_by_ids(&ids).await?;
        let account = |id: &str| AccountRef { id: id.to_owned(), username: users.get(id).map(|u| u.username.clone()) };
        Ok(reports
            .into_iter()
            .map(|report| ReportView {
                reporter: account(&report.reporter_id),
                target: ReportTarget {
                    id: report.target_id.clone(),
                    username: users.get(&report.target_id).map(|u| u.username.clone()),
                    status: users.get(&report.target_id).map_or("deleted", UserRecord::standing),
                },
                assigned_to: report.assigned_to.as_deref().map(account),
                resolved_by: report.resolved_by.as_deref().map(account),
                id: report.id,
                reason: report.reason,
                details: report.details,
                status: report.status,
                created_at: report.created_at,
                resolved_at: report.resolved_at,
                action: report.action,
                note: report.note,
            })
            .collect())
    }
}

/// Gives `target` the role `role` with its audit entry, in one transaction (nothing
/// when it already has it). Used by admins through the API and by the operator's
/// command line.
pub async fn grant(store: &Store, actor: Actor<'_>, target: &UserRecord, role: Role) -> AppResult<()> {
    if target.role == role {
        return Ok(());
    }
    let mut entry = audit_entry(store, actor, "user.role", Some(&target.id), None, None);
    entry.details.insert("from".into(), target.role.as_str().into());
    entry.details.insert("to".into(), role.as_str().into());
    let history = History::new(store);
    // Staff act from their own address: the target's history says what, not from where.
    let event = history
        .event(&target.id, SecurityEventType::RoleChanged, &ClientInfo::default())
        .detail("from", target.role.as_str())
        .detail("to", role.as_str());
    let changed = AccountEvent::user_role_changed(&target.id, role.as_str(), store.now());
    let items =
        vec![store.moderation().role_update(target, role)?, history.put(&event)?, store.events().put(&changed)?];
    let staff = match actor {
        Actor::Staff(staff) => Some(staff),
        Actor::Operator(_) => None,
    };
    let actor_id = entry.actor_id.clone();
    if !store.moderation().commit_staff_write(staff, entry, items).await? {
        return Err(AppError::Conflict);
    }
    tracing::info!(actor = %actor_id, target = %target.id, role = role.as_str(), "role changed");
    Ok(())
}

/// The account event of a moderation action (a warning is between staff and the person).
fn account_event(
    user_id: &str,
    kind: ActionKind,
    until: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Option<AccountEvent> {
    match kind {
        ActionKind::Warn => None,
        ActionKind::Limit => Some(AccountEvent::user_limited(user_id, until, at)),
        ActionKind::Unlimit => Some(AccountEvent::of_user(EventType::UserUnlimited, user_id, at)),
        ActionKind::Suspend => Some(AccountEvent::user_suspended(user_id, until, at)),
        ActionKind::Unsuspend => Some(AccountEvent::of_user(EventType::UserUnsuspended, user_id, at)),
    }
}

pub(crate) fn audit_entry(
    store: &Store,
    actor: Actor<'_>,
    action: &str,
    target_id: Option<&str>,
    report_id: Option<String>,
    note: Option<String>,
) -> AuditRecord {
    let (actor_id, actor_username) = match actor {
        Actor::Staff(user) => (user.id.clone(), Some(user.username.clone())),
        Actor::Operator(_) => (OPERATOR.to_owned(), None),
    };
    let mut details = BTreeMap::new();
    if let Actor::Operator(identity) = actor {
        details.insert("operatorIdentity".to_owned(), identity.to_owned());
    }
    AuditRecord {
        id: uuid::Uuid::new_v4().to_string(),
        at: store.now(),
        actor_id,
        actor_username,
        action: action.to_owned(),
        target_id: target_id.map(str::to_owned),
        report_id,
        note,
        details,
        // Linked into the actor's chain when it is written.
        seq: None,
        prev_hash: None,
    }
}

/// The event a suspension or its lifting writes in the target's history (staff's
/// address is not the target's to read).
fn standing_event(
    store: &Store,
    target: &UserRecord,
    kind: ActionKind,
    until: Option<DateTime<Utc>>,
) -> Option<SecurityEventRecord> {
    let history = History::new(store);
    let event = |kind| history.event(&target.id, kind, &ClientInfo::default());
    match kind {
        ActionKind::Suspend => Some(match until {
            Some(until) => event(SecurityEventType::Suspended).detail("until", until.to_rfc3339()),
            None => event(SecurityEventType::Suspended),
        }),
        ActionKind::Unsuspend => Some(event(SecurityEventType::Unsuspended)),
        _ => None,
    }
}

/// A time to the second (what the table keeps of a restriction's end).
fn seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}
