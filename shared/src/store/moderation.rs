//! What staff change, and the audit log that records it: the account's standing
//! (suspension, limitation) and role, each written only over the role it was read with
//! (a promotion meanwhile fails the write: a moderator never acts on staff), in one
//! transaction with its audit entry.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::pages::PageKey;
use super::{dynamo_error, from_item, keys, n, s, time, to_item, Item, Store};
use crate::domain::user::{Restriction, Role, UserRecord};
use crate::error::{AppResult, Context};

/// Staff writes and their audit chain.
#[derive(Clone, Copy)]
pub struct Moderation<'a> {
    pub(super) store: &'a Store,
}

/// One entry of the audit log, as stored (and never changed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    /// The actor's username when they acted (none for the operator's command line).
    pub actor_username: Option<String>,
    pub action: String,
    pub target_id: Option<String>,
    pub report_id: Option<String>,
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    /// The entry's place in its actor's chain (1, 2, …), set when it is written; none
    /// on entries from before the chain began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// The chain hash of the actor's entry before this one (empty for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<String>,
}

impl AuditRecord {
    /// SHA-256 (hex) over every field in a fixed, length-prefixed encoding (`audit-v1`),
    /// `seq` and `prevHash` included: an entry changed in any way no longer matches the
    /// next entry's `prevHash` or its actor's head.
    pub fn chain_hash(&self) -> String {
        let at = self.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let seq = self.seq.unwrap_or_default().to_string();
        let details: Vec<String> =
            self.details.iter().map(|(k, v)| format!("{}:{k}{}:{v}", k.len(), v.len())).collect();
        let details = details.concat();
        let fields = [
            "audit-v1",
            &self.id,
            &at,
            &self.actor_id,
            self.actor_username.as_deref().unwrap_or_default(),
            &self.action,
            self.target_id.as_deref().unwrap_or_default(),
            self.report_id.as_deref().unwrap_or_default(),
            self.note.as_deref().unwrap_or_default(),
            &details,
            &seq,
            self.prev_hash.as_deref().unwrap_or_default(),
        ];
        let mut hasher = Sha256::new();
        for field in fields {
            hasher.update(format!("{}:", field.len()).as_bytes());
            hasher.update(field.as_bytes());
        }
        hex(&hasher.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The head of an actor's chain as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// Tries of a staff write whose actor wrote another entry meanwhile (its chain moved).
const CHAIN_RETRIES: usize = 5;

/// A change of an account's standing; `None` leaves that part as it is.
#[derive(Debug, Default)]
pub struct StandingChange {
    /// `Some(None)` lifts the suspension.
    pub suspended: Option<Option<Restriction>>,
    pub limited: Option<Option<Restriction>>,
    /// Ends every session (a new session generation).
    pub end_sessions: bool,
}

/// A page of the audit log, newest first.
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    pub last_key: Option<PageKey>,
}

/// Which entries of the audit log.
pub enum AuditFilter<'a> {
    All,
    Actor(&'a str),
    /// The entries about a target, by one actor or any.
    Target {
        target: &'a str,
        actor: Option<&'a str>,
    },
}

impl Moderation<'_> {
    /// The entry, in the log and (with a target) in its target's copy.
    fn audit_puts(self, entry: &AuditRecord) -> AppResult<Vec<TransactWriteItem>> {
        let sk = keys::audit::sk(entry.at, &entry.id);
        let mut logged = to_item(entry, super::key(keys::audit::LOG.to_owned(), sk.clone()))?;
        logged.insert(keys::gsi1::PK.into(), s(keys::audit::actor_pk(&entry.actor_id)));
        logged.insert(keys::gsi1::SK.into(), s(&sk));
        let mut items = vec![self.store.put_new(logged)?];
        if let Some(target) = &entry.target_id {
            items.push(self.store.put_new(to_item(entry, super::key(keys::audit::target_pk(target), sk))?)?);
        }
        Ok(items)
    }

    /// The update of `user`'s standing, written only if its role is still the one read.
    pub(crate) fn standing_update(self, user: &UserRecord, change: &StandingChange) -> AppResult<TransactWriteItem> {
        let (mut sets, mut removes) = (vec!["updatedAt = :now"], vec![]);
        let mut values: Vec<(&str, AttributeValue)> = vec![(":now", time(&self.store.now()))];
        // Placeholders for both names: LIMITED is one of DynamoDB's reserved words.
        for (name, part) in [("#suspended", &change.suspended), ("#limited", &change.limited)] {
            match part {
                None => {}
                Some(None) => removes.push(name),
                Some(Some(restriction)) => {
                    let value = serde_dynamo::to_attribute_value(restriction)
                        .context("serializing restriction for DynamoDB")?;
                    let (set, placeholder) = match name {
                        "#suspended" => ("#suspended = :suspended", ":suspended"),
                        _ => ("#limited = :limited", ":limited"),
                    };
                    values.push((placeholder, value));
                    sets.push(set);
                }
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        if change.end_sessions {
            expression.push_str(" ADD sessionGeneration :one");
            values.push((":one", n(1)));
        }
        let names = [("#suspended", "suspended"), ("#limited", "limited")]
            .into_iter()
            .filter(|(placeholder, _)| expression.contains(placeholder))
            .collect();
        self.update_over_role(user, expression, names, values)
    }

    /// The update that gives `user` the role `role`, over the role it was read with.
    pub(crate) fn role_update(self, user: &UserRecord, role: Role) -> AppResult<TransactWriteItem> {
        let values = vec![(":now", time(&self.store.now())), (":role", s(role.as_str()))];
        self.update_over_role(user, "SET #role = :role, updatedAt = :now".to_owned(), vec![], values)
    }

    fn update_over_role(
        self,
        user: &UserRecord,
        expression: String,
        names: Vec<(&str, &str)>,
        values: Vec<(&str, AttributeValue)>,
    ) -> AppResult<TransactWriteItem> {
        // Accounts from before roles have none: the default, `user`.
        let seen = match user.role {
            Role::User => "attribute_exists(PK) AND (attribute_not_exists(#role) OR #role = :seenRole)",
            _ => "attribute_exists(PK) AND #role = :seenRole",
        };
        let mut update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression(expression)
            .condition_expression(seen)
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":seenRole", s(user.role.as_str()));
        for (placeholder, name) in names {
            update = update.expression_attribute_names(placeholder, name);
        }
        for (placeholder, value) in values {
            update = update.expression_attribute_values(placeholder, value);
        }
        update.build().map(|u| TransactWriteItem::builder().update(u).build()).context("building an Update")
    }

    /// A staff write and its audit entry in one transaction, on the condition that the
    /// staff member who makes it (none: the operator) still holds the role and the
    /// session generation they were read with, so that staff demoted or suspended a
    /// moment ago write nothing; and since nobody acts on their own account, two admins
    /// demoting or suspending each other at once cannot both succeed: the last admin
    /// stays. The entry is linked into its actor's chain (`seq`, `prevHash`) and the
    /// chain's head moves in the same transaction, on the condition that it is still
    /// the head read: a concurrent entry of the same actor makes it try again.
    /// `false`: another condition no longer held (that, the account's role, a report's
    /// version), or the chain moved on every try: nothing was written.
    pub(crate) async fn commit_staff_write(
        self,
        actor: Option<&UserRecord>,
        mut entry: AuditRecord,
        items: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        for _ in 0..CHAIN_RETRIES {
            let head: ChainHead = self.store.get(keys::audit::head_key(&entry.actor_id)).await?.unwrap_or_default();
            entry.seq = Some(head.seq + 1);
            entry.prev_hash = Some(head.hash.clone());
            let mut all = items.clone();
            all.extend(self.audit_puts(&entry)?);
            let head_index = all.len();
            all.push(self.chain_head_update(&entry, &head)?);
            if let Some(actor) = actor {
                all.push(self.actor_unchanged(actor)?);
            }
            match self.store.try_transact(all).await? {
                Ok(()) => return Ok(true),
                Err(reasons) if super::writes::failed(&reasons, head_index) => continue,
                Err(_) => return Ok(false),
            }
        }
        // The actor kept writing faster than this write could link in: like a lost
        // condition, nothing was written.
        Ok(false)
    }

    /// The actor's chain head moved from `head` to `entry`.
    fn chain_head_update(self, entry: &AuditRecord, head: &ChainHead) -> AppResult<TransactWriteItem> {
        let condition = match head.seq {
            0 => "attribute_not_exists(PK)",
            _ => "seq = :seen",
        };
        let mut update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::audit::head_key(&entry.actor_id)))
            .update_expression("SET seq = :seq, #hash = :hash")
            .condition_expression(condition)
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":seq", n(entry.seq.unwrap_or_default()))
            .expression_attribute_values(":hash", s(entry.chain_hash()));
        if head.seq > 0 {
            update = update.expression_attribute_values(":seen", n(head.seq));
        }
        update.build().map(|u| TransactWriteItem::builder().update(u).build()).context("building an Update")
    }

    fn actor_unchanged(self, actor: &UserRecord) -> AppResult<TransactWriteItem> {
        // Accounts that never ended their sessions have no generation yet.
        let generation = match actor.session_generation {
            0 => "(attribute_not_exists(sessionGeneration) OR sessionGeneration = :generation)",
            _ => "sessionGeneration = :generation",
        };
        ConditionCheck::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&actor.id)))
            .condition_expression(format!("#role = :role AND {generation}"))
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(actor.role.as_str()))
            .expression_attribute_values(":generation", n(actor.session_generation))
            .build()
            .map(|check| TransactWriteItem::builder().condition_check(check).build())
            .context("building a ConditionCheck")
    }

    /// A page of the audit log, newest first.
    pub async fn audit_page(self, filter: AuditFilter<'_>, limit: i32, start: Option<PageKey>) -> AppResult<AuditPage> {
        let query = self.store.query().scan_index_forward(false).limit(limit);
        let query = match &filter {
            AuditFilter::All => query
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(keys::audit::LOG))
                .consistent_read(true),
            AuditFilter::Actor(actor) => query
                .index_name(keys::gsi1::NAME)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", keys::gsi1::PK)
                .expression_attribute_values(":pk", s(keys::audit::actor_pk(actor))),
            AuditFilter::Target { target, actor } => {
                let query = query
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", s(keys::audit::target_pk(target)))
                    .consistent_read(true);
                match actor {
                    Some(actor) => {
                        query.filter_expression("actorId = :actor").expression_attribute_values(":actor", s(*actor))
                    }
                    None => query,
                }
            }
        };
        let out = query
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query the audit log"))?;
        let items = out.items.unwrap_or_default();
        let entries = match filter {
            // The actor's list holds keys only: the entries are read by key, in its order.
            AuditFilter::Actor(_) => {
                let order: Vec<Item> = items
                    .iter()
                    .map(|item| super::key(keys::audit::LOG.to_owned(), super::sort_key(item).to_owned()))
                    .collect();
                let mut entries: Vec<AuditRecord> = super::batch_get(self.store, order.clone())
                    .await?
                    .into_iter()
                    .map(from_item)
                    .collect::<AppResult<_>>()?;
                entries.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
                entries
            }
            _ => items.into_iter().map(from_item).collect::<AppResult<_>>()?,
        };
        Ok(AuditPage { entries, last_key: PageKey::after(out.last_evaluated_key) })
    }
}
