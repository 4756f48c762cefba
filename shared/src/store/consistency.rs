//! The table auditor: reads the whole table (parallel Scan segments, strongly
//! consistent) and checks the invariants the transactions keep: mirrored edges,
//! counters equal to edges, claims and users pointing at each other, search entries that
//! match the names, the deletion queue, the second factor, reports with their guards and
//! entries, audit entries with their copies, and nothing that belongs to a missing user.
//! An operator's tool (`audit-table`); no request path scans.
//!
//! A Scan is no snapshot: on a table taking writes, a change made during the scan can
//! show as a violation that is not one. Run it on a quiet table, or run it again and
//! trust what both runs find.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use serde::Serialize;

use super::graph::Edge;
use super::moderation::{AuditRecord, ChainHead};
use super::pages::Pages;
use super::{conditional_write, dynamo_error, from_item, keys, n, Item, Store};
use crate::domain::user::{AccountStatus, UserRecord};
use crate::error::{AppError, AppResult};

/// Whole-table audit of counters and pairs, and counter repair.
#[derive(Clone, Copy)]
pub struct Consistency<'a> {
    pub(super) store: &'a Store,
}

/// What the auditor checks; each violation names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// An edge whose mirror is missing from the other user's partition.
    MissingMirror,
    /// An edge to a user that does not exist.
    EdgeToMissingUser,
    /// A listed edge whose `GSI1` keys do not place it in its owner's list.
    EdgeListKeys,
    /// `followersCount` / `followingCount` differ from the edges.
    CounterDrift,
    /// A user without the claim on their email or username, or a claim naming another.
    MissingClaim,
    /// A claim that names a missing user (a username tombstone excepted) or a user whose
    /// email or username is another.
    OrphanClaim,
    /// A claim's copy of the password hash differs from the user's.
    StaleHashCopy,
    /// Search entries that differ from the tokens of the user's names, or any for a
    /// deactivated user, or index keys that do not match the token.
    SearchEntries,
    /// A deactivated user out of the deletion queue, or an active one in it.
    DeletionQueue,
    /// `mfaEnabled` disagrees with the factor item.
    SecondFactor,
    /// An item in the partition of a user that does not exist.
    OrphanPartitionItem,
    /// A live one-time token or sign-in challenge of a user that does not exist.
    OrphanToken,
    /// An outbox message still to be sent to a user that does not exist.
    OrphanMessage,
    /// An open report without its guard or its entry against the target, a guard or an
    /// entry against a target without an open report, a report without its filed record.
    ReportIndex,
    /// An audit entry without its copy under its target, or a copy without its entry.
    AuditCopy,
    /// An actor's chain of audit entries with a gap, an entry that does not follow the
    /// one before it, or a head that does not match its last entry: an entry was
    /// removed or changed.
    AuditChain,
    /// An item whose keys match no item type of the table.
    UnknownItem,
    /// A user item the service could not read.
    UnreadableItem,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::MissingMirror => "missing-mirror",
            Check::EdgeToMissingUser => "edge-to-missing-user",
            Check::EdgeListKeys => "edge-list-keys",
            Check::CounterDrift => "counter-drift",
            Check::MissingClaim => "missing-claim",
            Check::OrphanClaim => "orphan-claim",
            Check::StaleHashCopy => "stale-hash-copy",
            Check::SearchEntries => "search-entries",
            Check::DeletionQueue => "deletion-queue",
            Check::SecondFactor => "second-factor",
            Check::OrphanPartitionItem => "orphan-partition-item",
            Check::OrphanToken => "orphan-token",
            Check::OrphanMessage => "orphan-message",
            Check::ReportIndex => "report-index",
            Check::AuditCopy => "audit-copy",
            Check::AuditChain => "audit-chain",
            Check::UnknownItem => "unknown-item",
            Check::UnreadableItem => "unreadable-item",
        }
    }
}

/// One broken invariant, by ids only (no address, no token, no hash).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    pub check: Check,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Counter {
    FollowersCount,
    FollowingCount,
}

impl Counter {
    fn attribute(self) -> &'static str {
        match self {
            Counter::FollowersCount => "followersCount",
            Counter::FollowingCount => "followingCount",
        }
    }

    fn edge(self) -> Edge {
        match self {
            Counter::FollowersCount => Edge::Follower,
            Counter::FollowingCount => Edge::Following,
        }
    }
}

/// A counter that differs from its edges, as the scan saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterDrift {
    pub user_id: String,
    pub counter: Counter,
    pub stored: i64,
    pub edges: i64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub items: u64,
    /// Items by kind (users, edges, claims, …).
    pub kinds: BTreeMap<&'static str, u64>,
    pub violations: Vec<Violation>,
    pub drifts: Vec<CounterDrift>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// Violations per check.
    pub fn by_check(&self) -> BTreeMap<Check, usize> {
        let mut counts = BTreeMap::new();
        for v in &self.violations {
            *counts.entry(v.check).or_default() += 1;
        }
        counts
    }
}

/// How repairing one counter ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Set to the number of edges (`from` → `to`).
    Set { from: i64, to: i64 },
    /// Already equal to the edges: nothing written.
    AlreadyRight,
    /// The user is gone.
    Gone,
    /// The counter kept moving under the repair (ten times): left alone; run it again.
    KeptMoving,
}

/// What the scan keeps of each item: keys and the few attributes the checks compare.
#[derive(Default)]
struct Facts {
    items: u64,
    kinds: BTreeMap<&'static str, u64>,
    users: HashMap<String, UserFacts>,
    /// Every edge: (owner, edge, other) → its expiry (mutes end by themselves).
    edges: HashMap<(String, EdgeKind, String), Option<i64>>,
    /// Edge items whose list keys are wrong, by (owner, sort key).
    misplaced_edges: Vec<(String, String)>,
    search: HashMap<String, BTreeSet<String>>,
    misplaced_search: Vec<(String, String)>,
    factors: HashMap<String, String>,
    /// Other items of user partitions: (owner, kind).
    partition_items: Vec<(String, &'static str)>,
    /// (claim kind, claimed value, userId, password hash copy, tombstone).
    claims: Vec<ClaimFacts>,
    tokens: Vec<(String, String, Option<i64>)>,
    messages: Vec<(String, String)>,
    reports: HashMap<String, ReportFacts>,
    guards: Vec<(String, String, String)>,
    filed: HashSet<(String, String)>,
    against: Vec<(String, String)>,
    audit_entries: HashMap<String, Option<String>>,
    audit_copies: HashSet<(String, String)>,
    /// Entries written into their actor's chain (those from before it have no `seq`).
    chained: Vec<AuditRecord>,
    /// Each actor's chain head: its last `seq` and hash.
    chain_heads: HashMap<String, ChainHead>,
    unknown: Vec<(String, String)>,
    /// User ids whose item does not read as a user.
    unreadable: Vec<String>,
}

type EdgeKind = &'static str;

struct UserFacts {
    record: UserRecord,
    /// The deletion queue's keys on the item.
    queue: Option<(String, String)>,
}

struct ClaimFacts {
    kind: &'static str,
    value: String,
    user_id: String,
    hash: Option<String>,
    tombstone: bool,
}

struct ReportFacts {
    reporter: String,
    target: String,
    open: bool,
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

impl Facts {
    fn count(&mut self, kind: &'static str) {
        *self.kinds.entry(kind).or_default() += 1;
    }

    fn add(&mut self, item: Item) {
        self.items += 1;
        let pk = text(&item, keys::PK).unwrap_or_default();
        let sk = text(&item, keys::SK).unwrap_or_default();
        if let Some(owner) = keys::user::id(&pk) {
            return self.add_partition_item(owner.to_owned(), sk, item);
        }
        if let Some(owner) = keys::export::user_id(&pk) {
            self.count("exports");
            self.partition_items.push((owner.to_owned(), "exports"));
            return;
        }
        let email = pk.strip_prefix(keys::claim::EMAIL_PREFIX).filter(|_| sk == keys::claim::EMAIL);
        let username = pk.strip_prefix(keys::claim::USERNAME_PREFIX).filter(|_| sk == keys::claim::USERNAME);
        if let Some(value) = email {
            self.add_claim(keys::claim::EMAIL, value.to_owned(), &item);
        } else if let Some(value) = username {
            self.add_claim(keys::claim::USERNAME, value.to_owned(), &item);
        } else if pk.starts_with(keys::token::PREFIX) {
            self.count("one-time tokens and challenges");
            let user = text(&item, "userId").unwrap_or_default();
            self.tokens.push((sk, user, number(&item, keys::expiry::AT)));
        } else if let Some(id) = keys::outbox::message_id(&pk) {
            self.count("outbox messages");
            // Settled messages are records of the past (TTL removes them in a week).
            if text(&item, "delivery").is_none_or(|state| state == "sending") {
                self.messages.push((id.to_owned(), text(&item, "userId").unwrap_or_default()));
            }
        } else if keys::webhook::id(&pk).is_some() {
            // An endpoint, or a record of a delivery to it (TTL removes those).
            self.count(if sk.starts_with(keys::webhook::DELIVERY_PREFIX) { "webhook deliveries" } else { "webhooks" });
        } else if pk.starts_with(keys::import::PREFIX) {
            self.count("import checkpoints");
        } else if keys::event::event_id(&pk).is_some() {
            // Records of the past for the platform's other services (TTL removes them).
            self.count("account events");
        } else if let Some(id) = keys::report::id(&pk) {
            self.count("reports");
            let report = ReportFacts {
                reporter: text(&item, "reporterId").unwrap_or_default(),
                target: text(&item, "targetId").unwrap_or_default(),
                open: text(&item, "status").as_deref() == Some(super::reports::OPEN),
            };
            self.reports.insert(id.to_owned(), report);
        } else if let Some(target) = pk.strip_prefix(keys::report::AGAINST_PREFIX) {
            self.count("open-report entries");
            self.against.push((target.to_owned(), sk));
        } else if pk == keys::audit::LOG {
            self.count("audit entries");
            self.audit_entries.insert(sk, text(&item, "targetId"));
            match from_item::<AuditRecord>(item) {
                Ok(entry) if entry.seq.is_some() => self.chained.push(entry),
                Ok(_) => {}
                Err(_) => self.unknown.push((pk, "an audit entry that does not read as one".into())),
            }
        } else if let Some(actor) = pk.strip_prefix(keys::audit::HEAD_PREFIX) {
            self.count("audit chain heads");
            match from_item::<ChainHead>(item) {
                Ok(head) => drop(self.chain_heads.insert(actor.to_owned(), head)),
                Err(_) => self.unknown.push((pk, sk)),
            }
        } else if let Some(target) = pk.strip_prefix(keys::audit::TARGET_PREFIX) {
            self.count("audit target copies");
            self.audit_copies.insert((target.to_owned(), sk));
        } else if pk.starts_with(keys::rate::PREFIX) {
            self.count("rate-limit windows");
        } else {
            self.count("unknown");
            self.unknown.push((pk, sk));
        }
    }

    fn add_claim(&mut self, kind: &'static str, value: String, item: &Item) {
        self.count("claims");
        self.claims.push(ClaimFacts {
            kind,
            value,
            user_id: text(item, "userId").unwrap_or_default(),
            hash: text(item, "passwordHash"),
            tombstone: item.contains_key("deletedAt"),
        });
    }

    fn add_partition_item(&mut self, owner: String, sk: String, item: Item) {
        if sk == keys::user::PROFILE {
            self.count("users");
            let queue = text(&item, keys::gsi1::PK).map(|pk| (pk, text(&item, keys::gsi1::SK).unwrap_or_default()));
            match from_item::<UserRecord>(item) {
                Ok(record) => _ = self.users.insert(owner, UserFacts { record, queue }),
                Err(_) => self.unreadable.push(owner),
            }
        } else if let Some((edge, other)) = Edge::of(&sk) {
            self.count("edges");
            if let Some(list) = edge.list() {
                let placed = text(&item, keys::gsi1::PK) == Some(keys::edge::list_pk(list, &owner))
                    && text(&item, keys::gsi1::SK).is_some_and(|sk| sk.ends_with(&format!("#{other}")));
                if !placed {
                    self.misplaced_edges.push((owner.clone(), sk.clone()));
                }
            }
            let key = (owner, edge.prefix(), other.to_owned());
            self.edges.insert(key, number(&item, keys::expiry::AT));
        } else if let Some(token) = sk.strip_prefix(keys::search::PREFIX) {
            self.count("search entries");
            let partition = keys::search::partition_pk(&crate::domain::search::partition(token));
            let placed = text(&item, keys::gsi1::PK) == Some(partition)
                && text(&item, keys::gsi1::SK) == Some(keys::search::entry_sk(token, &owner));
            if !placed {
                self.misplaced_search.push((owner.clone(), token.to_owned()));
            }
            self.search.entry(owner).or_default().insert(token.to_owned());
        } else if sk == keys::factor::TOTP {
            self.count("second factors");
            self.factors.insert(owner.clone(), text(&item, "status").unwrap_or_default());
            self.partition_items.push((owner, "second factor"));
        } else if let Some(target) = sk.strip_prefix(keys::report::GUARD_PREFIX) {
            self.count("report guards");
            let report = text(&item, "reportId").unwrap_or_default();
            self.guards.push((owner.clone(), target.to_owned(), report));
            self.partition_items.push((owner, "report guard"));
        } else if let Some(report) = sk.strip_prefix(keys::report::FILED_PREFIX) {
            self.count("filed reports");
            self.filed.insert((owner.clone(), report.to_owned()));
            self.partition_items.push((owner, "filed report"));
        } else {
            let kind = if sk.starts_with(keys::session::PREFIX) {
                "sessions"
            } else if sk.starts_with(keys::device::PREFIX) {
                "known devices"
            } else if sk.starts_with(keys::security_event::PREFIX) {
                "security events"
            } else if keys::export::export_id(&sk).is_some() {
                // Written before exports moved to a partition of their own (they
                // expire within 7 days of that).
                "exports"
            } else {
                self.count("unknown");
                self.unknown.push((keys::user::pk(&owner), sk));
                return;
            };
            self.count(kind);
            self.partition_items.push((owner, kind));
        }
    }

    /// Every check over what the scan kept.
    fn judge(self, now: i64) -> AuditReport {
        let mut found = Found::default();
        let counted = self.check_edges(now, &mut found);
        let drifts = self.check_users(&counted, &mut found);
        self.check_claims(&mut found);
        self.check_orphans(now, &mut found);
        self.check_reports(&mut found);
        self.check_audit_log(&mut found);
        self.check_unreadable(&mut found);
        found.0.sort();
        AuditReport { items: self.items, kinds: self.kinds, violations: found.0, drifts }
    }

    /// A user that exists. An unreadable user item counts: its own violation says so,
    /// not every item it owns.
    fn exists(&self, id: &str) -> bool {
        self.users.contains_key(id) || self.unreadable.iter().any(|u| u == id)
    }

    /// Edges: mirrors, ends; what they count for each user.
    fn check_edges(&self, now: i64, found: &mut Found) -> EdgeCounts<'_> {
        // Edges: mirrors, ends, counters. A mute that has ended may have lost one side
        // to TTL already; it counts for nothing.
        let mut counted = EdgeCounts::default();
        for ((owner, prefix, other), expires) in &self.edges {
            if expires.is_some_and(|at| at <= now) {
                continue;
            }
            let Some((edge, _)) = Edge::of(prefix) else { continue }; // facts hold known prefixes only
            if !self.exists(owner) {
                continue; // reported once for the partition, below
            }
            if !self.exists(other) {
                found.flag(Check::EdgeToMissingUser, format!("user {owner}: {prefix}{other}"));
                continue;
            }
            let mirror = (other.clone(), edge.mirror().prefix(), owner.clone());
            if !self.edges.contains_key(&mirror) {
                found.flag(
                    Check::MissingMirror,
                    format!("user {owner}: {prefix}{other} has no {}{owner} in user {other}", mirror.1),
                );
            }
            match edge {
                Edge::Follower => *counted.followers.entry(owner).or_default() += 1,
                Edge::Following => *counted.following.entry(owner).or_default() += 1,
                _ => {}
            }
        }
        for (owner, sk) in &self.misplaced_edges {
            found.flag(Check::EdgeListKeys, format!("user {owner}: {sk}"));
        }
        counted
    }

    /// Each user: its counters against its edges, its claims, search entries, deletion
    /// queue keys and second factor.
    fn check_users(&self, counted: &EdgeCounts<'_>, found: &mut Found) -> Vec<CounterDrift> {
        let mut drifts = Vec::new();
        let mut email_claims: HashMap<&str, &ClaimFacts> = HashMap::new();
        let mut username_claims: HashMap<&str, &ClaimFacts> = HashMap::new();
        for claim in &self.claims {
            let by_value = if claim.kind == keys::claim::EMAIL { &mut email_claims } else { &mut username_claims };
            by_value.insert(&claim.value, claim);
        }

        for (id, UserFacts { record: user, queue }) in &self.users {
            for (counter, counted) in
                [(Counter::FollowersCount, &counted.followers), (Counter::FollowingCount, &counted.following)]
            {
                let edges = counted.get(id.as_str()).copied().unwrap_or(0);
                let stored =
                    if counter == Counter::FollowersCount { user.followers_count } else { user.following_count };
                if stored != edges {
                    found.flag(
                        Check::CounterDrift,
                        format!("user {id}: {} {stored}, edges {edges}", counter.attribute()),
                    );
                    drifts.push(CounterDrift { user_id: id.clone(), counter, stored, edges });
                }
            }

            let email_key = claim_value(keys::claim::email(&user.email), keys::claim::EMAIL_PREFIX);
            let username_key =
                claim_value(keys::claim::username(&user.username.to_ascii_lowercase()), keys::claim::USERNAME_PREFIX);
            for (kind, value, claims) in
                [("email", &email_key, &email_claims), ("username", &username_key, &username_claims)]
            {
                match claims.get(value.as_str()) {
                    None => found.flag(Check::MissingClaim, format!("user {id}: no {kind} claim")),
                    Some(claim) if claim.user_id != *id => found
                        .flag(Check::MissingClaim, format!("user {id}: its {kind} claim names user {}", claim.user_id)),
                    Some(claim) if claim.hash.as_ref().is_some_and(|h| *h != user.password_hash) => {
                        found.flag(Check::StaleHashCopy, format!("user {id}: the {kind} claim's password hash"))
                    }
                    Some(_) => {}
                }
            }

            let stored = self.search.get(id).cloned().unwrap_or_default();
            let wanted = if user.status == AccountStatus::Active { user.search_tokens() } else { BTreeSet::new() };
            if stored != wanted {
                let extra = stored.difference(&wanted).count();
                let missing = wanted.difference(&stored).count();
                found.flag(
                    Check::SearchEntries,
                    format!("user {id} ({:?}): {extra} entries not of its names, {missing} missing", user.status),
                );
            }

            let wanted_queue = (user.status == AccountStatus::Deactivated).then(|| {
                let at = user.deactivated_at.unwrap_or(user.updated_at);
                (keys::deactivated::QUEUE.to_owned(), keys::deactivated::queue_sk(at, id))
            });
            if *queue != wanted_queue {
                found.flag(
                    Check::DeletionQueue,
                    format!("user {id} ({:?}): deletion-queue keys {queue:?}", user.status),
                );
            }

            let factor_on = self.factors.get(id).is_some_and(|status| status == "enabled");
            if user.mfa_enabled != factor_on {
                found.flag(
                    Check::SecondFactor,
                    format!("user {id}: mfaEnabled {}, factor {:?}", user.mfa_enabled, self.factors.get(id)),
                );
            }
        }
        for (owner, token) in &self.misplaced_search {
            found.flag(
                Check::SearchEntries,
                format!("user {owner}: the index keys of one entry ({} bytes)", token.len()),
            );
        }
        for owner in self.search.keys().filter(|owner| !self.exists(owner)) {
            found.flag(Check::OrphanPartitionItem, format!("user {owner} (missing): search entries"));
        }
        drifts
    }

    /// Each claim names a user that holds its value.
    fn check_claims(&self, found: &mut Found) {
        for claim in &self.claims {
            let kind = if claim.kind == keys::claim::EMAIL { "email" } else { "username" };
            // The username is public; an address is named by its user only.
            let which = if kind == "email" {
                format!("an email claim of user {}", claim.user_id)
            } else {
                format!("username claim {:?}", claim.value)
            };
            match self.users.get(&claim.user_id) {
                None if claim.tombstone && kind == "username" => {}
                None if self.unreadable.contains(&claim.user_id) => {}
                None => found.flag(Check::OrphanClaim, format!("{which}: no such user")),
                Some(UserFacts { record, .. }) => {
                    let holds = if kind == "email" {
                        claim_value(keys::claim::email(&record.email), keys::claim::EMAIL_PREFIX) == claim.value
                    } else {
                        record.username.to_ascii_lowercase() == claim.value
                    };
                    if !holds {
                        found.flag(Check::OrphanClaim, format!("{which}: the user's {kind} is another"));
                    }
                }
            }
        }
    }

    /// Items of missing users: partition items, edges, live tokens, messages.
    fn check_orphans(&self, now: i64, found: &mut Found) {
        let mut orphans: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (owner, kind) in self.partition_items.iter().filter(|(owner, _)| !self.exists(owner)) {
            *orphans.entry((owner, kind)).or_default() += 1;
        }
        for ((owner, prefix, _), _) in self.edges.iter().filter(|((owner, ..), _)| !self.exists(owner)) {
            *orphans.entry((owner, prefix)).or_default() += 1;
        }
        for ((owner, kind), count) in orphans {
            found.flag(Check::OrphanPartitionItem, format!("user {owner} (missing): {count} × {kind}"));
        }
        for (purpose, user, expires) in &self.tokens {
            if !self.exists(user) && expires.is_none_or(|at| at > now) {
                found.flag(Check::OrphanToken, format!("a live {purpose} token of user {user}"));
            }
        }
        for (message, user) in &self.messages {
            if !self.exists(user) {
                found.flag(Check::OrphanMessage, format!("outbox message {message} to user {user}"));
            }
        }
    }

    /// Reports and their guard, against and filed records agree.
    fn check_reports(&self, found: &mut Found) {
        let guarded: HashSet<(&str, &str)> = self.guards.iter().map(|(r, t, _)| (r.as_str(), t.as_str())).collect();
        let against: HashSet<(&str, &str)> = self.against.iter().map(|(t, r)| (t.as_str(), r.as_str())).collect();
        for (id, report) in &self.reports {
            let reporter_exists = self.exists(&report.reporter);
            if report.open && reporter_exists && !guarded.contains(&(report.reporter.as_str(), report.target.as_str()))
            {
                found.flag(Check::ReportIndex, format!("open report {id}: no guard in user {}", report.reporter));
            }
            if report.open && !against.contains(&(report.target.as_str(), id.as_str())) {
                found.flag(Check::ReportIndex, format!("open report {id}: no entry against user {}", report.target));
            }
            if reporter_exists && !self.filed.contains(&(report.reporter.clone(), id.clone())) {
                found.flag(Check::ReportIndex, format!("report {id}: no filed record in user {}", report.reporter));
            }
        }
        for (reporter, target, report_id) in &self.guards {
            let names_open =
                self.reports.get(report_id).is_some_and(|r| r.open && r.reporter == *reporter && r.target == *target);
            if !names_open {
                found.flag(
                    Check::ReportIndex,
                    format!(
                        "user {reporter}: guard against user {target} names no open report of theirs ({report_id})"
                    ),
                );
            }
        }
        for (target, report_id) in &self.against {
            if !self.reports.get(report_id).is_some_and(|r| r.open && r.target == *target) {
                found.flag(
                    Check::ReportIndex,
                    format!("entry against user {target}: report {report_id} is not open against them"),
                );
            }
        }
        for (reporter, report_id) in &self.filed {
            if !self.reports.contains_key(report_id) {
                found.flag(Check::ReportIndex, format!("user {reporter}: filed record of missing report {report_id}"));
            }
        }
    }

    /// Audit entries, their copies under the target, and each actor's chain.
    fn check_audit_log(&self, found: &mut Found) {
        for (sk, target) in &self.audit_entries {
            if let Some(target) = target {
                if !self.audit_copies.contains(&(target.clone(), sk.clone())) {
                    found.flag(Check::AuditCopy, format!("audit entry {sk}: no copy under target {target}"));
                }
            }
        }
        for (target, sk) in &self.audit_copies {
            if self.audit_entries.get(sk).is_none_or(|t| t.as_deref() != Some(target.as_str())) {
                found.flag(Check::AuditCopy, format!("audit copy {sk} under target {target}: no such entry"));
            }
        }

        audit_chains(&self.chained, &self.chain_heads, &mut |check, detail| found.flag(check, detail));
    }

    /// Items that do not read as what their keys say, or whose keys are unknown.
    fn check_unreadable(&self, found: &mut Found) {
        for id in &self.unreadable {
            found.flag(Check::UnreadableItem, format!("user {id}: the user item does not read as a user"));
        }
        for (pk, sk) in &self.unknown {
            // Keys of unknown items are shown cut short: they could hold anything.
            let cut = |s: &str| s.chars().take(40).collect::<String>();
            found.flag(Check::UnknownItem, format!("{} / {}", cut(pk), cut(sk)));
        }
    }
}

/// The violations found so far.
#[derive(Default)]
struct Found(Vec<Violation>);

impl Found {
    fn flag(&mut self, check: Check, detail: String) {
        self.0.push(Violation { check, detail });
    }
}

/// The live follower and following edges of each user.
#[derive(Default)]
struct EdgeCounts<'a> {
    followers: HashMap<&'a str, i64>,
    following: HashMap<&'a str, i64>,
}

/// The claimed value of a claim's key (its partition key without the prefix).
fn claim_value(key: Item, prefix: &str) -> String {
    text(&key, keys::PK).and_then(|pk| pk.strip_prefix(prefix).map(str::to_owned)).unwrap_or_default()
}

impl Consistency<'_> {
    /// Reads the whole table in `segments` parallel Scan segments and checks every
    /// invariant. Memory grows with the number of users and edges (keys and a few
    /// attributes each).
    pub async fn audit_table(self, segments: i32) -> AppResult<AuditReport> {
        let segments = segments.clamp(1, 1_000_000);
        let facts = Mutex::new(Facts::default());
        let scans = (0..segments).map(|segment| self.scan_segment(segment, segments, &facts));
        futures_util::future::try_join_all(scans).await?;
        let facts = facts.into_inner().map_err(|_| AppError::internal("a scan segment panicked"))?;
        Ok(facts.judge(self.store.now().timestamp()))
    }

    async fn scan_segment(self, segment: i32, segments: i32, facts: &Mutex<Facts>) -> AppResult<()> {
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .segment(segment)
                .total_segments(segments)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_error("Scan a segment of the table"))?;
            {
                let mut facts = facts.lock().map_err(|_| AppError::internal("a scan segment panicked"))?;
                for item in out.items.unwrap_or_default() {
                    facts.add(item);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// Sets one counter to the number of its edges, counted now. Safe beside live
    /// traffic: the counter is written only over the value read before counting, so a
    /// follow or unfollow in between (which moves edge and counter together) makes it
    /// count again. Idempotent: a right counter is left alone.
    pub async fn repair_counter(self, user_id: &str, counter: Counter) -> AppResult<Repair> {
        for _ in 0..10 {
            let Some(item) = self
                .store
                .get_item()
                .set_key(Some(keys::user::key(user_id)))
                .consistent_read(true)
                .send()
                .await
                .map_err(dynamo_error("GetItem USER#/PROFILE"))?
                .item
            else {
                return Ok(Repair::Gone);
            };
            let stored = item.get(counter.attribute()).cloned();
            let from = stored.as_ref().and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
            let to = self.count_edges(user_id, counter.edge()).await?;
            if from == to && stored.is_some() {
                return Ok(Repair::AlreadyRight);
            }
            let update = self
                .store
                .update_item()
                .set_key(Some(keys::user::key(user_id)))
                .update_expression("SET #counter = :to")
                .expression_attribute_names("#counter", counter.attribute())
                .expression_attribute_values(":to", n(to));
            let update = match stored {
                Some(value) => {
                    update.condition_expression("#counter = :read").expression_attribute_values(":read", value)
                }
                None => update.condition_expression("attribute_exists(PK) AND attribute_not_exists(#counter)"),
            };
            if conditional_write(update.send().await, "UpdateItem a counter of USER#/PROFILE".into())? {
                return Ok(Repair::Set { from, to });
            }
        }
        Ok(Repair::KeptMoving)
    }

    /// The number of `edge` items in the user's partition (a consistent count query).
    async fn count_edges(self, user_id: &str, edge: Edge) -> AppResult<i64> {
        let query = self
            .store
            .prefix_query(keys::user::pk(user_id), edge.prefix())
            .select(aws_sdk_dynamodb::types::Select::Count);
        let (mut total, mut pages) = (0, Pages::of(query, "the edges of a user (count)"));
        while let Some(out) = pages.next().await? {
            total += i64::from(out.count);
        }
        Ok(total)
    }
}

/// Each actor's chain: entries numbered 1, 2, … with none missing, each naming the
/// hash of the one before, and the head naming the last; by ids only.
fn audit_chains(chained: &[AuditRecord], heads: &HashMap<String, ChainHead>, flag: &mut impl FnMut(Check, String)) {
    let mut chains: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for entry in chained {
        chains.entry(entry.actor_id.as_str()).or_default().push(entry);
    }
    for (actor, entries) in &mut chains {
        entries.sort_by_key(|e| e.seq);
        let mut last_hash = String::new();
        let mut whole = true;
        for (position, entry) in entries.iter().enumerate() {
            let expected = position as i64 + 1;
            if entry.seq != Some(expected) {
                flag(Check::AuditChain, format!("actor {actor}: entry {expected} is missing (found {})", entry.id));
                whole = false;
                break;
            }
            if entry.prev_hash.as_deref() != Some(last_hash.as_str()) {
                flag(Check::AuditChain, format!("actor {actor}: entry {} does not follow the one before it", entry.id));
                whole = false;
                break;
            }
            last_hash = entry.chain_hash();
        }
        let head = heads.get(*actor);
        if whole && head.is_none_or(|h| h.seq != entries.len() as i64 || h.hash != last_hash) {
            flag(Check::AuditChain, format!("actor {actor}: the chain's head does not match its last entry"));
        }
    }
    for (actor, head) in heads {
        if head.seq > 0 && !chains.contains_key(actor.as_str()) {
            flag(Check::AuditChain, format!("actor {actor}: the chain has a head and no entries"));
        }
    }
}
