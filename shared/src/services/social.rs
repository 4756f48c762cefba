//! Follow, follow requests, lists, block, report and relationship.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Limiter, Notices};
use crate::config::Config;
use crate::cursor::Cursors;
use crate::domain::account_event::AccountEvent;
use crate::domain::client::Caller;
use crate::domain::page::{Page, PageRequest};
use crate::domain::social::{sees_activity, ListedUser, Relationship, Viewer};
use crate::domain::user::UserRecord;
use crate::domain::{non_empty, Fields};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::graph::{Between, Edge};
use crate::store::keys;
use crate::store::outbox::MessageKind;
use crate::store::reports::ReportRecord;
use crate::store::Store;

/// Reads and decides again this often when concurrent changes keep invalidating the
/// conditions of a graph transaction.
const GRAPH_ATTEMPTS: usize = 5;

/// The longest block reason kept (the OpenAPI document says the same: `max_length = 500`).
pub const BLOCK_REASON_MAX: usize = 500;

/// The longest report details kept (the schema's `max_length` says the same; a test
/// compares them).
pub const REPORT_DETAILS_MAX: usize = 1000;

pub const REPORT_REASONS: &[&str] =
    &["spam", "harassment", "hate", "violence", "sexual", "impersonation", "self_harm", "illegal", "other"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRequest {
    #[schema(value_type = String, required = true)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlockRequest {
    #[schema(value_type = String, required = true)]
    pub user_id: Option<String>,
    /// Kept for moderation, never shown to the blocked user.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportRequest {
    #[schema(value_type = String, required = true)]
    pub user_id: Option<String>,
    /// One of `spam, harassment, hate, violence, sexual, impersonation, self_harm, illegal, other`.
    #[schema(value_type = String, required = true)]
    pub reason: Option<String>,
    #[schema(max_length = 1000)]
    pub details: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuteRequest {
    #[schema(value_type = String, required = true)]
    pub user_id: Option<String>,
    /// Also silence this user's follows and follow requests (default true).
    pub notifications: Option<bool>,
    /// How long the mute lasts; 0 or absent: until lifted.
    #[schema(minimum = 0, maximum = 315_360_000)]
    pub duration_seconds: Option<i64>,
}

/// The longest timed mute: ten years (longer is "until lifted").
pub const MUTE_SECONDS_MAX: i64 = 315_360_000;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MuteStatus {
    /// Always true.
    pub muting: bool,
    pub notifications: bool,
    /// When the mute ends by itself (null: when lifted).
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmuteStatus {
    /// Always false.
    pub muting: bool,
}

/// A user the caller mutes, as the caller may see them, and when the mute ends.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MutedUser {
    #[serde(flatten)]
    pub user: ListedUser,
    /// Null: until lifted.
    pub mute_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
pub struct FollowStatus {
    /// `following`, `requested` or `none`.
    pub status: &'static str,
}

const FOLLOWING: FollowStatus = FollowStatus { status: "following" };
const REQUESTED: FollowStatus = FollowStatus { status: "requested" };
const NONE: FollowStatus = FollowStatus { status: "none" };

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockStatus {
    pub blocking: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    pub id: String,
    pub status: &'static str,
}

/// Which list of a user.
#[derive(Debug, Clone, Copy)]
pub enum UserList {
    Followers,
    Following,
}

/// `userId` of a request body: present, and not the caller.
fn target_field(caller: &Caller, user_id: Option<&str>, verb: &str, fields: &mut Fields) -> Option<String> {
    let target = fields.required("userId", user_id, non_empty(64))?;
    if target == caller.user_id {
        fields.add("userId", format!("you cannot {verb} yourself"));
        return None;
    }
    Some(target)
}

/// Another user a graph write is about (never the caller).
pub struct Target(String);

impl TargetRequest {
    /// The target of `verb` (follow, unfollow, unblock) by `caller`.
    pub fn target(self, caller: &Caller, verb: &str) -> AppResult<Target> {
        let mut fields = Fields::new();
        let target = target_field(caller, self.user_id.as_deref(), verb, &mut fields);
        fields.finish_with(target).map(Target)
    }
}

/// A validated block.
pub struct Block {
    target: Target,
    reason: Option<String>,
}

impl BlockRequest {
    pub fn block(self, caller: &Caller) -> AppResult<Block> {
        let mut fields = Fields::new();
        let target = target_field(caller, self.user_id.as_deref(), "block", &mut fields);
        let reason = fields.optional("reason", self.reason.as_deref(), non_empty(BLOCK_REASON_MAX));
        let target = fields.finish_with(target)?;
        Ok(Block { target: Target(target), reason })
    }
}

/// A validated mute.
pub struct Mute {
    target: Target,
    notifications: bool,
    duration: Option<chrono::Duration>,
}

impl MuteRequest {
    pub fn mute(self, caller: &Caller) -> AppResult<Mute> {
        let mut fields = Fields::new();
        let target = target_field(caller, self.user_id.as_deref(), "mute", &mut fields);
        let duration = match self.duration_seconds {
            None | Some(0) => None,
            Some(secs @ 1..=MUTE_SECONDS_MAX) => Some(chrono::Duration::seconds(secs)),
            Some(_) => {
                fields.add("durationSeconds", format!("must be between 0 and {MUTE_SECONDS_MAX}"));
                None
            }
        };
        let target = fields.finish_with(target)?;
        Ok(Mute { target: Target(target), notifications: self.notifications.unwrap_or(true), duration })
    }
}

/// A validated report.
pub struct NewReport {
    target: Target,
    reason: String,
    details: Option<String>,
}

impl ReportRequest {
    pub fn report(self, caller: &Caller) -> AppResult<NewReport> {
        let mut fields = Fields::new();
        let target = target_field(caller, self.user_id.as_deref(), "report", &mut fields);
        let reason = fields.required("reason", self.reason.as_deref(), |r| {
            if REPORT_REASONS.contains(&r) {
                Ok(r.to_owned())
            } else {
                Err(format!("must be one of {}", REPORT_REASONS.join(", ")))
            }
        });
        let details = fields.optional("details", self.details.as_deref(), non_empty(REPORT_DETAILS_MAX));
        let (target, reason) = fields.finish_with((target, reason))?;
        Ok(NewReport { target: Target(target), reason, details })
    }
}

fn contention() -> AppError {
    AppError::ServiceUnavailable("too many concurrent changes to the same relation".into())
}

/// The social graph: follows, requests, blocks, their lists, and reports.
pub struct Social<'a> {
    config: &'a Config,
    store: &'a Store,
    cursors: &'a Cursors,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
}

impl<'a> Social<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Social {
            config: &state.config,
            store: &state.store,
            cursors: &state.cursors,
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
        }
    }

    /// An active user and the caller's relation to them; 404 for anyone else.
    async fn active_target(&self, caller: &Caller, target: &str) -> AppResult<(UserRecord, Relationship)> {
        match self.store.graph().user_and_relationship(&caller.user_id, target).await? {
            (Some(user), relation) if user.is_visible() => Ok((user, relation)),
            _ => Err(AppError::NotFound),
        }
    }

    /// What a graph write decides on, in one read: the caller's account (a deactivated or
    /// deleted caller's still-valid access token is 401 on every graph write), the
    /// target's, and the caller's relation to the target.
    async fn graph_parties(
        &self,
        caller: &Caller,
        target: &str,
    ) -> AppResult<(UserRecord, Option<UserRecord>, Relationship)> {
        match self.store.graph().users_and_relationship(&caller.user_id, target).await? {
            (user, Some(me), relation) if me.is_visible() => Ok((me, user, relation)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// Idempotent. A private account gets a request; a block either way is 403. The
    /// followed user is told (as their preferences allow) in the same transaction.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, target = %target))]
    pub async fn follow(&self, caller: &Caller, Target(target): Target) -> AppResult<FollowStatus> {
        for _ in 0..GRAPH_ATTEMPTS {
            let (actor, user, relation) = self.graph_parties(caller, &target).await?;
            let user = user.filter(UserRecord::is_visible).ok_or(AppError::NotFound)?;
            if relation.any_block() {
                return Err(AppError::Forbidden("a block between you and this user prevents following"));
            }
            if relation.following {
                return Ok(FOLLOWING);
            }
            if user.is_private() {
                if relation.requested {
                    return Ok(REQUESTED);
                }
                let notice = self.follow_notice(MessageKind::FollowRequest, &user, &actor, relation.silenced_by)?;
                if self.store.graph().request_follow(Between { actor: &caller.user_id, other: &target }, notice).await?
                {
                    return Ok(REQUESTED);
                }
            } else {
                let mut extra = self.follow_notice(MessageKind::NewFollower, &user, &actor, relation.silenced_by)?;
                extra.push(self.graph_event(&AccountEvent::follow(
                    true,
                    &caller.user_id,
                    &target,
                    self.store.now(),
                ))?);
                if self
                    .store
                    .graph()
                    .follow(Between { actor: &caller.user_id, other: &target }, relation.requested, extra)
                    .await?
                {
                    return Ok(FOLLOWING);
                }
            }
        }
        Err(contention())
    }

    /// An account event of the graph, for its change's transaction.
    fn graph_event(&self, event: &AccountEvent) -> AppResult<TransactWriteItem> {
        self.store.events().put(event)
    }

    /// The message that tells `recipient` about `actor`'s follow or request, when the
    /// recipient's preferences allow it and the recipient has not muted the actor's
    /// notifications (`muted`); none otherwise.
    fn follow_notice(
        &self,
        kind: MessageKind,
        recipient: &UserRecord,
        actor: &UserRecord,
        muted: bool,
    ) -> AppResult<Vec<TransactWriteItem>> {
        let prefs = &recipient.editable.notification_preferences;
        let wanted = !muted
            && prefs.email_notifications
            && match kind {
                MessageKind::FollowRequest => prefs.follow_requests,
                _ => prefs.follows,
            };
        if !wanted {
            return Ok(Vec::new());
        }
        let name = [actor.editable.first_name.as_deref(), actor.editable.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let data =
            [("actorId", actor.id.clone()), ("actorUsername", actor.username.clone()), ("actorName", name.join(" "))];
        Ok(vec![self.notices.to(recipient, kind, data)?])
    }

    /// Idempotent; also withdraws a pending request.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, target = %target))]
    pub async fn unfollow(&self, caller: &Caller, Target(target): Target) -> AppResult<FollowStatus> {
        for _ in 0..GRAPH_ATTEMPTS {
            let (_, user, relation) = self.graph_parties(caller, &target).await?;
            if user.is_none() {
                return Err(AppError::NotFound);
            }
            let done = if relation.following {
                let event =
                    self.graph_event(&AccountEvent::follow(false, &caller.user_id, &target, self.store.now()))?;
                self.store.graph().unfollow(Between { actor: &caller.user_id, other: &target }, event).await?
            } else if relation.requested {
                self.store.graph().cancel_request(Between { actor: &caller.user_id, other: &target }).await?
            } else {
                return Ok(NONE);
            };
            if done && !(relation.following && relation.requested) {
                return Ok(NONE);
            }
        }
        Err(contention())
    }

    /// `requester` asked the caller; accepting makes the counted follow, and tells the
    /// caller (as a `new_follower`, their preferences allowing) like any other follow.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, requester = %requester))]
    pub async fn accept_request(&self, caller: &Caller, requester: &str) -> AppResult<FollowStatus> {
        for _ in 0..GRAPH_ATTEMPTS {
            let (me, actor, relation) = self.graph_parties(caller, requester).await?;
            if relation.followed_by {
                return Ok(FOLLOWING);
            }
            if !relation.requested_by {
                return Err(AppError::NotFound);
            }
            let muted = relation.muting && relation.muting_notifications;
            let mut extra = match &actor {
                Some(actor) => self.follow_notice(MessageKind::NewFollower, &me, actor, muted)?,
                None => Vec::new(),
            };
            extra.push(self.graph_event(&AccountEvent::follow(true, requester, &caller.user_id, self.store.now()))?);
            if self.store.graph().accept_request(Between { actor: &caller.user_id, other: requester }, extra).await? {
                return Ok(FOLLOWING);
            }
        }
        Err(contention())
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, requester = %requester))]
    pub async fn reject_request(&self, caller: &Caller, requester: &str) -> AppResult<FollowStatus> {
        for _ in 0..GRAPH_ATTEMPTS {
            let (_, _, relation) = self.graph_parties(caller, requester).await?;
            if !relation.requested_by
                || self.store.graph().cancel_request(Between { actor: requester, other: &caller.user_id }).await?
            {
                return Ok(NONE);
            }
        }
        Err(contention())
    }

    /// Idempotent. Removes follows and requests both ways in the same transaction.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn block(&self, caller: &Caller, block: Block) -> AppResult<BlockStatus> {
        let Block { target: Target(target), reason } = block;
        for _ in 0..GRAPH_ATTEMPTS {
            let (_, user, relation) = self.graph_parties(caller, &target).await?;
            if user.is_none() {
                return Err(AppError::NotFound);
            }
            if relation.blocking {
                return Ok(BlockStatus { blocking: true });
            }
            let now = self.store.now();
            let mut events = vec![AccountEvent::block(true, &caller.user_id, &target, now)];
            if relation.following {
                events.push(AccountEvent::follow(false, &caller.user_id, &target, now));
            }
            if relation.followed_by {
                events.push(AccountEvent::follow(false, &target, &caller.user_id, now));
            }
            let events = events.iter().map(|e| self.graph_event(e)).collect::<AppResult<Vec<_>>>()?;
            if self
                .store
                .graph()
                .block(Between { actor: &caller.user_id, other: &target }, relation, reason.as_deref(), events)
                .await?
            {
                return Ok(BlockStatus { blocking: true });
            }
        }
        Err(contention())
    }

    /// Idempotent; restores nothing but the ability to follow.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, target = %target))]
    pub async fn unblock(&self, caller: &Caller, Target(target): Target) -> AppResult<BlockStatus> {
        for _ in 0..GRAPH_ATTEMPTS {
            let (_, _, relation) = self.graph_parties(caller, &target).await?;
            if !relation.blocking {
                return Ok(BlockStatus { blocking: false });
            }
            let event = self.graph_event(&AccountEvent::block(false, &caller.user_id, &target, self.store.now()))?;
            if self.store.graph().unblock(Between { actor: &caller.user_id, other: &target }, event).await? {
                return Ok(BlockStatus { blocking: false });
            }
        }
        Err(contention())
    }

    /// Idempotent: muting again replaces the mute. Private: nothing tells the muted user.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn mute(&self, caller: &Caller, mute: Mute) -> AppResult<MuteStatus> {
        let Mute { target: Target(target), notifications, duration } = mute;
        let (_, user, _) = self.graph_parties(caller, &target).await?;
        user.filter(UserRecord::is_visible).ok_or(AppError::NotFound)?;
        let expires_at = duration.map(|d| self.store.now() + d);
        if !self
            .store
            .graph()
            .mute(Between { actor: &caller.user_id, other: &target }, notifications, expires_at)
            .await?
        {
            return Err(AppError::NotFound);
        }
        let expires_at = expires_at.and_then(|at| DateTime::from_timestamp(at.timestamp(), 0));
        Ok(MuteStatus { muting: true, notifications, expires_at })
    }

    /// Idempotent.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, target = %target))]
    pub async fn unmute(&self, caller: &Caller, Target(target): Target) -> AppResult<UnmuteStatus> {
        let (_, user, _) = self.graph_parties(caller, &target).await?;
        if user.is_none() {
            return Err(AppError::NotFound);
        }
        self.store.graph().unmute(Between { actor: &caller.user_id, other: &target }).await?;
        Ok(UnmuteStatus { muting: false })
    }

    /// The users the caller mutes (mutes that have ended are left out), newest first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn muted_users(&self, caller: &Caller, page: PageRequest) -> AppResult<Page<MutedUser>> {
        let (ids, next_cursor) = self.edge_page(&caller.user_id, Edge::Muting, page).await?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let (users, mutes) = tokio::try_join!(
            self.listed_users(Some(&caller.user_id), &ids, true),
            self.store.graph().live_mutes(&caller.user_id, &ids)
        )?;
        let items = users
            .into_iter()
            .filter_map(|user| {
                let mute_expires_at = *mutes.get(user.id())?;
                Some(MutedUser { user, mute_expires_at })
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, target = %target))]
    pub async fn relationship(&self, caller: &Caller, target: &str) -> AppResult<Relationship> {
        if target == caller.user_id {
            return Err(AppError::validation("userId", "this is your own account"));
        }
        Ok(self.active_target(caller, target).await?.1)
    }

    /// Followers or following of `owner`, newest first, as the caller may see them.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn user_list(
        &self,
        caller: &Caller,
        owner: &str,
        list: UserList,
        page: PageRequest,
    ) -> AppResult<Page<ListedUser>> {
        if owner != caller.user_id {
            let (user, relation) = self.active_target(caller, owner).await?;
            if !sees_activity(&user, Viewer::Other(relation)) {
                return Err(AppError::Forbidden("you may not see this user's connections"));
            }
        }
        let edge = match list {
            UserList::Followers => Edge::Follower,
            UserList::Following => Edge::Following,
        };
        self.edge_list(caller, owner, edge, page).await
    }

    /// The caller's incoming follow requests, newest first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn follow_requests(&self, caller: &Caller, page: PageRequest) -> AppResult<Page<ListedUser>> {
        self.edge_list(caller, &caller.user_id, Edge::Request, page).await
    }

    /// The users the caller blocks, newest first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn blocked_users(&self, caller: &Caller, page: PageRequest) -> AppResult<Page<ListedUser>> {
        self.edge_list(caller, &caller.user_id, Edge::Blocking, page).await
    }

    async fn edge_list(
        &self,
        caller: &Caller,
        owner: &str,
        edge: Edge,
        page: PageRequest,
    ) -> AppResult<Page<ListedUser>> {
        let (ids, next_cursor) = self.edge_page(owner, edge, page).await?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let items = self.listed_users(Some(&caller.user_id), &ids, edge == Edge::Blocking).await?;
        Ok(Page { items, next_cursor })
    }

    /// The other users' ids of a page of `owner`'s list, and the next page's cursor.
    async fn edge_page(&self, owner: &str, edge: Edge, page: PageRequest) -> AppResult<(Vec<String>, Option<String>)> {
        let list_id = keys::edge::list_pk(edge.list().unwrap_or_default(), owner);
        let start = page.cursor.as_deref().map(|c| self.cursors.decode(&list_id, c)).transpose()?;
        let found = self.store.graph().edge_page(owner, edge, page.limit, start).await?;
        Ok((found.user_ids, found.last_key.map(|k| self.cursors.encode(&list_id, &k))))
    }

    /// Users in the given order as `viewer` may see them; deactivated users and users
    /// who block the viewer are left out (unless `keep_hidden`, for the caller's own
    /// block list, where they show as limited).
    pub(crate) async fn listed_users(
        &self,
        viewer: Option<&str>,
        ids: &[&str],
        keep_hidden: bool,
    ) -> AppResult<Vec<ListedUser>> {
        let (users, relations) = match viewer {
            Some(viewer) => tokio::try_join!(
                self.store.users().users_by_ids(ids),
                self.store.graph().listing_relationships(viewer, ids)
            )?,
            None => (self.store.users().users_by_ids(ids).await?, Default::default()),
        };
        let listed = ids.iter().filter_map(|id| {
            let user = users.get(*id).filter(|u| u.is_visible())?;
            let as_seen = match viewer {
                Some(v) if v == *id => Viewer::Owner,
                Some(_) => Viewer::Other(relations.get(*id).copied().unwrap_or_default()),
                None => Viewer::Anonymous,
            };
            ListedUser::new(user, as_seen).or_else(|| keep_hidden.then(|| ListedUser::Limited(user.into())))
        });
        Ok(listed.collect())
    }

    /// Needs a verified email; one open report per reporter and target.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn report(&self, caller: &Caller, report: NewReport) -> AppResult<ReportCreated> {
        let NewReport { target: Target(target), reason, details } = report;
        let reporter = self.store.users().active_user(&caller.user_id).await?.ok_or(AppError::Unauthorized)?;
        if !reporter.is_verified {
            return Err(AppError::EmailNotVerified);
        }
        self.limiter.enforce("report-user", &caller.user_id, self.config.rate_limits.reports_per_user).await?;
        if self.store.users().user_by_id(&target).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let report = ReportRecord {
            id: uuid::Uuid::new_v4().to_string(),
            reporter_id: caller.user_id.clone(),
            target_id: target,
            reason,
            details,
            status: crate::store::reports::OPEN.into(),
            created_at: self.store.now(),
            assigned_to: None,
            resolved_at: None,
            resolved_by: None,
            action: None,
            note: None,
            version: 0,
        };
        if !self.store.reports().create_report(&report).await? {
            return Err(AppError::AlreadyReported);
        }
        tracing::info!(report_id = %report.id, reason = %report.reason, "user reported");
        Ok(ReportCreated { id: report.id, status: "open" })
    }
}
