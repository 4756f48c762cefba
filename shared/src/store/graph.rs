//! The social graph: every relation is a pair of edge items, one in each user's
//! partition, so either side reads its relations to anyone by key. Every change is one
//! transaction with both edges, both counters and conditions in place of read-then-write
//! checks; `false` from a change means a condition no longer held (read again, decide again).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pages::PageKey;
use super::{dynamo_error, from_item, keys, n, s, sort_key, to_item, Item, Store};
use crate::domain::social::Relationship;
use crate::domain::user::UserRecord;
use crate::error::{AppError, AppResult, Context};

/// The social graph: follows, requests, blocks, mutes.
#[derive(Clone, Copy)]
pub struct Graph<'a> {
    pub(super) store: &'a Store,
}

/// Who changes a relation, and with whom: `follow(Between { actor: ada, other: bob })`
/// is Ada following Bob; `accept_request(Between { actor: bob, other: ada })` is Bob
/// accepting Ada's request. Named, so that the two ids cannot be swapped unseen.
#[derive(Debug, Clone, Copy)]
pub struct Between<'a> {
    pub actor: &'a str,
    pub other: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Following,
    Follower,
    /// An incoming follow request (in the partition of the user asked).
    Request,
    /// An outgoing follow request (in the partition of the user asking).
    Requested,
    Blocking,
    BlockedBy,
    /// A mute (in the partition of the user muting).
    Muting,
    /// Its mirror in the muted user's partition: never shown to them, it lets the
    /// muted user's follows find the mute, and deletion find both.
    MutedBy,
}

impl Edge {
    const ALL: [Edge; 8] = [
        Edge::Following,
        Edge::Follower,
        Edge::Request,
        Edge::Requested,
        Edge::Blocking,
        Edge::BlockedBy,
        Edge::Muting,
        Edge::MutedBy,
    ];

    /// The sort-key prefix of this edge in its owner's partition.
    pub fn prefix(self) -> &'static str {
        match self {
            Edge::Following => "FOLLOWING#",
            Edge::Follower => "FOLLOWER#",
            Edge::Request => "REQUEST#",
            Edge::Requested => "REQUESTED#",
            Edge::Blocking => "BLOCKING#",
            Edge::BlockedBy => "BLOCKEDBY#",
            Edge::Muting => "MUTING#",
            Edge::MutedBy => "MUTEDBY#",
        }
    }

    /// The edge the other user holds for the same relation.
    pub(crate) fn mirror(self) -> Edge {
        match self {
            Edge::Following => Edge::Follower,
            Edge::Follower => Edge::Following,
            Edge::Request => Edge::Requested,
            Edge::Requested => Edge::Request,
            Edge::Blocking => Edge::BlockedBy,
            Edge::BlockedBy => Edge::Blocking,
            Edge::Muting => Edge::MutedBy,
            Edge::MutedBy => Edge::Muting,
        }
    }

    /// The list (GSI1 partition prefix) an edge appears in, newest first.
    pub fn list(self) -> Option<&'static str> {
        match self {
            Edge::Following => Some("FOLLOWING"),
            Edge::Follower => Some("FOLLOWERS"),
            Edge::Request => Some("REQUESTS"),
            Edge::Blocking => Some("BLOCKED"),
            Edge::Muting => Some("MUTED"),
            Edge::Requested | Edge::BlockedBy | Edge::MutedBy => None,
        }
    }

    /// The flags this edge, held by the viewer, sets (`item`: the edge as stored; a mute
    /// that has ended by `now` sets nothing).
    fn set_in(self, r: &mut Relationship, item: Item, now: DateTime<Utc>) -> AppResult<()> {
        if let Edge::Muting | Edge::MutedBy = self {
            let mute: MuteRecord = from_item(item)?;
            if mute.has_ended(now) {
                return Ok(());
            }
            if self == Edge::Muting {
                r.muting = true;
                r.muting_notifications = mute.notifications;
                r.muting_expires_at = mute.ends_at();
            } else {
                r.silenced_by = mute.notifications;
            }
            return Ok(());
        }
        match self {
            Edge::Following => r.following = true,
            Edge::Follower => r.followed_by = true,
            Edge::Requested => r.requested = true,
            Edge::Request => r.requested_by = true,
            Edge::Blocking => r.blocking = true,
            Edge::BlockedBy => r.blocked_by = true,
            Edge::Muting | Edge::MutedBy => {}
        }
        Ok(())
    }

    pub(crate) fn of(sk: &str) -> Option<(Edge, &str)> {
        Edge::ALL.into_iter().find_map(|edge| sk.strip_prefix(edge.prefix()).map(|other| (edge, other)))
    }
}

/// Whether a sort key in a user's partition is a graph edge.
pub(crate) fn is_edge(sk: &str) -> bool {
    Edge::of(sk).is_some()
}

/// A mute, as both of its edges hold it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MuteRecord {
    other_id: String,
    created_at: DateTime<Utc>,
    notifications: bool,
    /// Epoch seconds when the mute ends (also the table's TTL); none: when lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl MuteRecord {
    fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at.and_then(|at| DateTime::from_timestamp(at, 0))
    }

    /// Mutes end by themselves; TTL and cleanup remove them later.
    fn has_ended(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now.timestamp())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EdgeRecord {
    other_id: String,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// An edge item: `owner`'s side of a relation with `other`, listed where its kind is.
pub(super) fn edge_item(
    owner: &str,
    edge: Edge,
    other: &str,
    at: DateTime<Utc>,
    reason: Option<&str>,
) -> AppResult<Item> {
    let record = EdgeRecord { other_id: other.to_owned(), created_at: at, reason: reason.map(str::to_owned) };
    let mut item = to_item(&record, edge_key(owner, edge, other))?;
    if let Some(list) = edge.list() {
        item.insert(keys::gsi1::PK.into(), s(keys::edge::list_pk(list, owner)));
        item.insert(keys::gsi1::SK.into(), s(keys::edge::list_sk(at, other)));
    }
    Ok(item)
}

fn edge_key(owner: &str, edge: Edge, other: &str) -> Item {
    keys::edge::key(owner, edge.prefix(), other)
}

/// A page of a list: the other users' ids, newest first, and where the next page starts.
pub struct EdgePage {
    pub user_ids: Vec<String>,
    pub last_key: Option<PageKey>,
}

impl Graph<'_> {
    /// What lists and search need of the viewer's relation to each user: follows and
    /// blocks, either way, read eventually consistently (a third of the read units of all
    /// six edges read strongly); requests are not read and stay unset. The lists
    /// themselves come from an eventually consistent index; nothing here decides a change.
    pub async fn listing_relationships(
        self,
        viewer: &str,
        targets: &[&str],
    ) -> AppResult<HashMap<String, Relationship>> {
        let edges = [Edge::Following, Edge::Follower, Edge::Blocking, Edge::BlockedBy];
        let keys = targets.iter().flat_map(|t| edges.iter().map(|edge| edge_key(viewer, *edge, t))).collect();
        let mut relations: HashMap<String, Relationship> =
            targets.iter().map(|t| (t.to_string(), Relationship::default())).collect();
        let now = self.store.now();
        for item in super::batch_get_with(self.store, keys, false).await? {
            let Some((edge, other)) = Edge::of(sort_key(&item)).map(|(edge, other)| (edge, other.to_owned())) else {
                continue;
            };
            if let Some(r) = relations.get_mut(&other) {
                edge.set_in(r, item, now)?;
            }
        }
        Ok(relations)
    }

    /// The target's user item and the viewer's relation to it, in one batch read.
    pub async fn user_and_relationship(
        self,
        viewer: &str,
        target: &str,
    ) -> AppResult<(Option<UserRecord>, Relationship)> {
        let (target, _, relation) = self.parties(viewer, target, false).await?;
        Ok((target, relation))
    }

    /// Both user items and the viewer's relation to the target, in one batch read: what
    /// a change that notifies one of them needs (the recipient's address and
    /// preferences, the other's name).
    pub async fn users_and_relationship(
        self,
        viewer: &str,
        target: &str,
    ) -> AppResult<(Option<UserRecord>, Option<UserRecord>, Relationship)> {
        self.parties(viewer, target, true).await
    }

    async fn parties(
        self,
        viewer: &str,
        target: &str,
        with_viewer: bool,
    ) -> AppResult<(Option<UserRecord>, Option<UserRecord>, Relationship)> {
        let mut keys: Vec<Item> = Edge::ALL.map(|edge| edge_key(viewer, edge, target)).into();
        keys.push(keys::user::key(target));
        if with_viewer {
            keys.push(keys::user::key(viewer));
        }
        let (mut target_user, mut viewer_user, mut relation) = (None, None, Relationship::default());
        let now = self.store.now();
        for item in super::batch_get(self.store, keys).await? {
            if let Some((edge, _)) = Edge::of(sort_key(&item)) {
                edge.set_in(&mut relation, item, now)?;
                continue;
            }
            let user = self.store.users().user_record(item)?;
            if with_viewer && user.id == viewer {
                viewer_user = Some(user.clone());
            }
            if user.id == target {
                target_user = Some(user);
            }
        }
        Ok((target_user, viewer_user, relation))
    }

    /// One page of `owner`'s list of `edge` (followers, following, requests, blocked).
    pub async fn edge_page(self, owner: &str, edge: Edge, limit: i32, start: Option<PageKey>) -> AppResult<EdgePage> {
        let list = edge.list().ok_or_else(|| AppError::internal("this edge has no list"))?;
        let out = self
            .store
            .query()
            .index_name(keys::gsi1::NAME)
            .key_condition_expression("#list = :list")
            .expression_attribute_names("#list", keys::gsi1::PK)
            .expression_attribute_values(":list", s(format!("{list}#{owner}")))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query an edge list (GSI1)"))?;
        let user_ids = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| Edge::of(sort_key(item)).map(|(_, other)| other.to_owned()))
            .collect();
        Ok(EdgePage { user_ids, last_key: PageKey::after(out.last_evaluated_key) })
    }

    fn put_edge(
        self,
        owner: &str,
        edge: Edge,
        other: &str,
        now: DateTime<Utc>,
        reason: Option<&str>,
    ) -> AppResult<TransactWriteItem> {
        self.store.put_new(edge_item(owner, edge, other, now, reason)?)
    }

    /// Both edges of a new relation, from `a`'s side.
    fn put_pair(
        self,
        a: &str,
        edge: Edge,
        b: &str,
        now: DateTime<Utc>,
        reason: Option<&str>,
    ) -> AppResult<[TransactWriteItem; 2]> {
        Ok([self.put_edge(a, edge, b, now, reason)?, self.put_edge(b, edge.mirror(), a, now, None)?])
    }

    /// Deletes both edges of a relation that must exist.
    fn delete_pair(self, a: &str, edge: Edge, b: &str) -> AppResult<[TransactWriteItem; 2]> {
        let delete = |owner: &str, edge: Edge, other: &str| {
            Delete::builder()
                .table_name(self.store.table())
                .set_key(Some(edge_key(owner, edge, other)))
                .condition_expression("attribute_exists(PK)")
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .context("building a Delete")
        };
        Ok([delete(a, edge, b)?, delete(b, edge.mirror(), a)?])
    }

    /// A condition that `a` holds no such edge (its mirror is written with it).
    fn absent(self, a: &str, edge: Edge, b: &str) -> AppResult<TransactWriteItem> {
        ConditionCheck::builder()
            .table_name(self.store.table())
            .set_key(Some(edge_key(a, edge, b)))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map(|c| TransactWriteItem::builder().condition_check(c).build())
            .context("building a ConditionCheck")
    }

    /// Moves a user's counters; `condition` adds to "the user exists".
    fn counters(
        self,
        user: &str,
        following: i64,
        followers: i64,
        condition: Condition,
    ) -> AppResult<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(user)))
            .update_expression("ADD followingCount :following, followersCount :followers")
            .expression_attribute_values(":following", n(following))
            .expression_attribute_values(":followers", n(followers));
        update = condition.apply_to_update(update, self.store.now().timestamp());
        update.build().map(|u| TransactWriteItem::builder().update(u).build()).context("building an Update")
    }

    fn user_check(self, user: &str, condition: Condition) -> AppResult<TransactWriteItem> {
        let check = ConditionCheck::builder().table_name(self.store.table()).set_key(Some(keys::user::key(user)));
        condition
            .apply_to_check(check, self.store.now().timestamp())
            .build()
            .map(|c| TransactWriteItem::builder().condition_check(c).build())
            .context("building a ConditionCheck")
    }

    /// Erases one edge of an account being deleted (`sk` in its partition): the edge, its
    /// mirror in the other user's partition and the other user's counter, in one
    /// transaction, so the counter moves exactly when the mirror goes. A mirror already
    /// gone (or a user already deleted) leaves the counter as it is and removes the edge
    /// alone.
    pub(crate) async fn erase_edge(self, owner: &str, sk: &str) -> AppResult<()> {
        let Some((edge, other)) = Edge::of(sk) else {
            return Err(AppError::internal("not an edge"));
        };
        let mine = self.delete_edge(owner, edge, other)?;
        let [_, mirror] = self.delete_pair(owner, edge, other)?;
        let mut items = vec![mine.clone(), mirror];
        match edge {
            Edge::Following => items.push(self.counters(other, 0, -1, Condition::Exists)?),
            Edge::Follower => items.push(self.counters(other, -1, 0, Condition::Exists)?),
            _ => {}
        }
        if !self.commit(items).await? {
            self.commit(vec![mine]).await?;
        }
        Ok(())
    }

    async fn commit(self, items: Vec<TransactWriteItem>) -> AppResult<bool> {
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// `a` follows `b` (not private): both edges, both counters, no block either way,
    /// `b` active and still not private; a stale request is cleared. `extra` (a
    /// notification) is written with it.
    pub async fn follow(
        self,
        between: Between<'_>,
        had_request: bool,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let now = self.store.now();
        let mut items = extra;
        items.extend(self.put_pair(a, Edge::Following, b, now, None)?);
        items.push(self.counters(a, 1, 0, Condition::Active)?);
        items.push(self.counters(b, 0, 1, Condition::ActiveAndNotPrivate)?);
        items.push(self.absent(a, Edge::Blocking, b)?);
        items.push(self.absent(a, Edge::BlockedBy, b)?);
        if had_request {
            items.extend(self.delete_pair(a, Edge::Requested, b)?);
        }
        self.commit(items).await
    }

    /// `a` asks to follow `b` (private).
    pub async fn request_follow(self, between: Between<'_>, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let mut items = extra;
        items.extend(self.put_pair(a, Edge::Requested, b, self.store.now(), None)?);
        items.push(self.user_check(b, Condition::ActiveAndPrivate)?);
        items.push(self.user_check(a, Condition::Active)?);
        items.push(self.absent(a, Edge::Blocking, b)?);
        items.push(self.absent(a, Edge::BlockedBy, b)?);
        items.push(self.absent(a, Edge::Following, b)?);
        self.commit(items).await
    }

    pub async fn unfollow(self, between: Between<'_>, event: TransactWriteItem) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let mut items = Vec::from(self.delete_pair(a, Edge::Following, b)?);
        items.push(event);
        items.push(self.counters(a, -1, 0, Condition::Exists)?);
        items.push(self.counters(b, 0, -1, Condition::Exists)?);
        self.commit(items).await
    }

    /// Withdraws `a`'s request to `b` (or, seen from `b`, rejects it).
    pub async fn cancel_request(self, between: Between<'_>) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        self.commit(Vec::from(self.delete_pair(a, Edge::Requested, b)?)).await
    }

    /// `b` accepts `a`'s request: the request becomes a counted follow.
    pub async fn accept_request(self, between: Between<'_>, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        let Between { actor: b, other: a } = between;
        let now = self.store.now();
        let mut items = extra;
        items.extend(self.delete_pair(a, Edge::Requested, b)?);
        items.extend(self.put_pair(a, Edge::Following, b, now, None)?);
        items.push(self.counters(a, 1, 0, Condition::Exists)?);
        items.push(self.counters(b, 0, 1, Condition::Exists)?);
        self.commit(items).await
    }

    /// `a` blocks `b`: the block, and every follow and request between them removed,
    /// counters corrected, in one transaction. `seen` is the relation as read; each
    /// absent edge is made a condition, so a follow that slipped in meanwhile fails
    /// the transaction instead of surviving the block. `events` are written with it.
    pub async fn block(
        self,
        between: Between<'_>,
        seen: Relationship,
        reason: Option<&str>,
        events: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let mut items = Vec::from(self.put_pair(a, Edge::Blocking, b, self.store.now(), reason)?);
        items.extend(events);
        for (present, edge) in [
            (seen.following, Edge::Following),
            (seen.followed_by, Edge::Follower),
            (seen.requested, Edge::Requested),
            (seen.requested_by, Edge::Request),
        ] {
            if present {
                items.extend(self.delete_pair(a, edge, b)?);
            } else {
                items.push(self.absent(a, edge, b)?);
            }
        }
        let (out, back) = (i64::from(seen.following), i64::from(seen.followed_by));
        if out + back > 0 {
            items.push(self.counters(a, -out, -back, Condition::Exists)?);
            items.push(self.counters(b, -back, -out, Condition::Exists)?);
        }
        self.commit(items).await
    }

    pub async fn unblock(self, between: Between<'_>, event: TransactWriteItem) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let mut items = Vec::from(self.delete_pair(a, Edge::Blocking, b)?);
        items.push(event);
        self.commit(items).await
    }

    /// `a` mutes `b` (active), or changes the mute: both edges written over, ending by
    /// themselves at `ends` (TTL and cleanup remove them after). `false`: `b` is gone.
    pub async fn mute(self, between: Between<'_>, notifications: bool, ends: Option<DateTime<Utc>>) -> AppResult<bool> {
        let Between { actor: a, other: b } = between;
        let now = self.store.now();
        let expires_at = ends.map(|at| at.timestamp());
        let put = |owner: &str, edge: Edge, other: &str| {
            let record = MuteRecord { other_id: other.to_owned(), created_at: now, notifications, expires_at };
            let mut item = to_item(&record, edge_key(owner, edge, other))?;
            if let Some(list) = edge.list() {
                item.insert(keys::gsi1::PK.into(), s(keys::edge::list_pk(list, owner)));
                item.insert(keys::gsi1::SK.into(), s(keys::edge::list_sk(now, other)));
            }
            if let Some(at) = expires_at {
                item.insert(keys::expiry::BUCKET.into(), s(keys::expiry::bucket(at)));
            }
            super::writes::put_any(self.store, item)
        };
        let items = vec![put(a, Edge::Muting, b)?, put(b, Edge::MutedBy, a)?, self.user_check(b, Condition::Active)?];
        self.commit(items).await
    }

    /// `owner`'s mutes of `others` that have not ended, and when each ends (`None`: when
    /// lifted), in one batch read (the list index holds keys only).
    pub async fn live_mutes(self, owner: &str, others: &[&str]) -> AppResult<HashMap<String, Option<DateTime<Utc>>>> {
        let keys = others.iter().map(|other| edge_key(owner, Edge::Muting, other)).collect();
        let now = self.store.now();
        let mut mutes = HashMap::new();
        for item in super::batch_get_with(self.store, keys, false).await? {
            let mute: MuteRecord = from_item(item)?;
            if !mute.has_ended(now) {
                mutes.insert(mute.other_id.clone(), mute.ends_at());
            }
        }
        Ok(mutes)
    }

    /// Idempotent: deletes both edges of `a`'s mute of `b`, if any.
    pub async fn unmute(self, between: Between<'_>) -> AppResult<()> {
        let Between { actor: a, other: b } = between;
        let items = vec![self.delete_edge(a, Edge::Muting, b)?, self.delete_edge(b, Edge::MutedBy, a)?];
        self.store.try_transact(items).await?.map_err(|_| AppError::internal("an unconditional delete failed"))
    }

    /// Deletes one edge whether or not it exists.
    fn delete_edge(self, owner: &str, edge: Edge, other: &str) -> AppResult<TransactWriteItem> {
        Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(edge_key(owner, edge, other)))
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .context("building a Delete")
    }
}

/// What a user item must satisfy for a graph change.
#[derive(Clone, Copy)]
enum Condition {
    Exists,
    Active,
    ActiveAndPrivate,
    ActiveAndNotPrivate,
}

/// An expression placeholder and what it stands for.
type Placeholder = (&'static str, &'static str);

/// Not suspended, as of `:now` (a suspension's `until` is epoch seconds; none: until lifted).
const NOT_SUSPENDED: &str = "(attribute_not_exists(#sus) OR #sus.#until <= :now)";

impl Condition {
    fn expression(self) -> String {
        const ACTIVE: &str = "attribute_exists(PK) AND #status = :active";
        let limited = "(attribute_exists(#lim) AND (attribute_not_exists(#lim.#until) OR #lim.#until > :now))";
        match self {
            Condition::Exists => "attribute_exists(PK)".to_owned(),
            Condition::Active => format!("{ACTIVE} AND {NOT_SUSPENDED}"),
            // A limited account takes requests whatever its setting.
            Condition::ActiveAndPrivate => {
                format!("{ACTIVE} AND {NOT_SUSPENDED} AND (#ps.#pv = :private OR {limited})")
            }
            Condition::ActiveAndNotPrivate => {
                format!("{ACTIVE} AND {NOT_SUSPENDED} AND #ps.#pv <> :private AND NOT {limited}")
            }
        }
    }

    /// The expression's attribute names and string values, as (placeholder, text) pairs
    /// (`:now` is added as a number where the expression uses it).
    fn names_and_values(self) -> (Vec<Placeholder>, Vec<Placeholder>) {
        let active = [("#status", "status"), ("#sus", "suspended"), ("#until", "until")];
        match self {
            Condition::Exists => (vec![], vec![]),
            Condition::Active => (active.into(), vec![(":active", "active")]),
            Condition::ActiveAndPrivate | Condition::ActiveAndNotPrivate => (
                [active.as_slice(), &[("#ps", "privacySettings"), ("#pv", "profileVisibility"), ("#lim", "limited")]]
                    .concat(),
                vec![(":active", "active"), (":private", "private")],
            ),
        }
    }

    fn apply_to_update(
        self,
        mut update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        now: i64,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let (names, values) = self.names_and_values();
        let expression = self.expression();
        if expression.contains(":now") {
            update = update.expression_attribute_values(":now", n(now));
        }
        update = update.condition_expression(expression);
        for (k, v) in names {
            update = update.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            update = update.expression_attribute_values(k, s(v));
        }
        update
    }

    fn apply_to_check(
        self,
        mut check: aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
        now: i64,
    ) -> aws_sdk_dynamodb::types::builders::ConditionCheckBuilder {
        let (names, values) = self.names_and_values();
        let expression = self.expression();
        if expression.contains(":now") {
            check = check.expression_attribute_values(":now", n(now));
        }
        check = check.condition_expression(expression);
        for (k, v) in names {
            check = check.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            check = check.expression_attribute_values(k, s(v));
        }
        check
    }
}
