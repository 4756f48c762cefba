//! Where every item of the single table lives: one section per item type with its key
//! and index keys. No other file writes a key format (a test holds it); docs/data-model.md's
//! table documents the layout for people.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{key, Item};

pub const PK: &str = "PK";
pub const SK: &str = "SK";

/// The one global secondary index: lists (edges, search, the report queue).
pub mod gsi1 {
    pub const NAME: &str = "GSI1";
    pub const PK: &str = "GSI1PK";
    pub const SK: &str = "GSI1SK";
}

/// The sparse index of items that expire, read by cleanup.
pub mod expiry {
    pub const NAME: &str = "ExpiryIndex";
    /// The index's partition key: one per UTC day.
    pub const BUCKET: &str = "expiryBucket";
    /// Epoch seconds; also the table's TTL attribute.
    pub const AT: &str = "expiresAt";

    /// The partition of the expiry index an item expiring at `epoch_secs` falls in: one
    /// per UTC day, so that cleanup reads only the days that have passed.
    pub fn bucket(epoch_secs: i64) -> String {
        let day = chrono::DateTime::from_timestamp(epoch_secs, 0).unwrap_or_default().format("%Y-%m-%d");
        format!("EXP#{day}")
    }
}

/// A time in index sort keys: fixed width, so text order is time order.
fn sortable(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The user item (`USER#<id>` / `PROFILE`); the user's sessions, devices, edges and
/// search entries share its partition.
pub mod user {
    pub const PROFILE: &str = "PROFILE";
    pub const PREFIX: &str = "USER#";

    pub fn pk(id: &str) -> String {
        format!("{PREFIX}{id}")
    }

    /// The user id of a partition key, if it is a user's partition.
    pub fn id(pk: &str) -> Option<&str> {
        pk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }

    pub fn key(id: &str) -> super::Item {
        super::key(pk(id), PROFILE.to_owned())
    }
}

/// Deactivated accounts in `GSI1`, oldest deactivation first: cleanup reads those
/// whose window has ended and deletes them (set at deactivation, removed at
/// reactivation, gone with the account).
pub mod deactivated {
    pub const QUEUE: &str = "DEACTIVATED";

    pub fn queue_sk(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
        format!("{}#{id}", super::sortable(at))
    }

    /// The first sort key after every deactivation at or before `at`.
    pub fn queue_end(at: chrono::DateTime<chrono::Utc>) -> String {
        format!("{}~", super::sortable(at))
    }
}

/// The claims that keep emails and usernames unique, by their lowercase form.
pub mod claim {
    pub const EMAIL: &str = "EMAIL";
    pub const USERNAME: &str = "USERNAME";
    pub const EMAIL_PREFIX: &str = "EMAIL#";
    pub const USERNAME_PREFIX: &str = "USERNAME#";

    pub fn email(lower_email: &str) -> super::Item {
        super::key(format!("{EMAIL_PREFIX}{lower_email}"), EMAIL.to_owned())
    }

    pub fn username(lower_username: &str) -> super::Item {
        super::key(format!("{USERNAME_PREFIX}{lower_username}"), USERNAME.to_owned())
    }
}

/// A session, in its user's partition.
pub mod session {
    pub const PREFIX: &str = "SESSION#";

    pub fn key(user_id: &str, session_id: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{session_id}"))
    }
}

/// A known device, in its user's partition, by the hash of its token's secret.
pub mod device {
    pub const PREFIX: &str = "DEVICE#";

    pub fn key(user_id: &str, token_hash: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{token_hash}"))
    }
}

/// An event of the account's security history, in its user's partition, by time.
pub mod security_event {
    pub const PREFIX: &str = "SECEVENT#";

    pub fn key(user_id: &str, at: chrono::DateTime<chrono::Utc>, id: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{}#{id}", super::sortable(at)))
    }
}

/// A passkey in its user's partition, by the hash of its credential id; and the claim
/// that keeps a credential id to one account and finds the account of a usernameless
/// sign-in.
pub mod passkey {
    pub const PREFIX: &str = "PASSKEY#";
    pub const CLAIM_PREFIX: &str = "CREDENTIAL#";
    pub const CLAIM: &str = "CREDENTIAL";

    pub fn key(user_id: &str, credential_hash: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{credential_hash}"))
    }

    pub fn claim(credential_hash: &str) -> super::Item {
        super::key(format!("{CLAIM_PREFIX}{credential_hash}"), CLAIM.to_owned())
    }

    /// The credential hash of a passkey item's sort key.
    pub fn credential_hash(sk: &str) -> Option<&str> {
        sk.strip_prefix(PREFIX).filter(|hash| !hash.is_empty())
    }
}

/// A federated identity in its user's partition, one per provider; and the claim that
/// keeps an identity (issuer and subject, hashed) to one account.
pub mod identity {
    pub const PREFIX: &str = "IDENTITY#";
    pub const CLAIM: &str = "IDENTITY";

    pub fn key(user_id: &str, provider: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{provider}"))
    }

    pub fn claim(claim_hash: &str) -> super::Item {
        super::key(format!("{PREFIX}{claim_hash}"), CLAIM.to_owned())
    }
}

/// A WebAuthn ceremony waiting for its response, by the hash of its id and its purpose.
pub mod ceremony {
    pub const PREFIX: &str = "CEREMONY#";

    pub fn key(hash: &str, purpose: &str) -> super::Item {
        super::key(format!("{PREFIX}{hash}"), purpose.to_owned())
    }
}

/// A one-time token (verification, reset), by its hash and purpose.
pub mod token {
    pub const PREFIX: &str = "TOKEN#";

    pub fn key(hash: &str, purpose: &str) -> super::Item {
        super::key(format!("{PREFIX}{hash}"), purpose.to_owned())
    }
}

/// An account's TOTP factor, in its user's partition.
pub mod factor {
    pub const TOTP: &str = "MFA#TOTP";

    pub fn totp(user_id: &str) -> super::Item {
        super::key(super::user::pk(user_id), TOTP.to_owned())
    }
}

/// A data export of a user, in their partition.
/// Data exports, in a partition of the account's own beside (not inside) its user
/// partition: notify, which builds them, may update these and outbox items, no USER#
/// item.
pub mod export {
    pub const PREFIX: &str = "EXPORT#";

    pub fn pk(user_id: &str) -> String {
        format!("{PREFIX}{user_id}")
    }

    /// The account of an export partition's key.
    pub fn user_id(pk: &str) -> Option<&str> {
        pk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }

    pub fn key(user_id: &str, export_id: &str) -> super::Item {
        super::key(pk(user_id), format!("{PREFIX}{export_id}"))
    }

    /// The export's id, if an item's sort key is an export's.
    pub fn export_id(sk: &str) -> Option<&str> {
        sk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }

    /// Where the document lives in the export bucket.
    pub fn object_key(user_id: &str, export_id: &str) -> String {
        format!("{}{export_id}.json", objects_prefix(user_id))
    }

    /// Where all of an account's documents live in the export bucket.
    pub fn objects_prefix(user_id: &str) -> String {
        format!("exports/{user_id}/")
    }
}

/// A sign-in waiting for its second factor, by the hash of its `mfaToken` (beside the
/// one-time tokens).
pub mod challenge {
    pub fn key(hash: &str) -> super::Item {
        super::key(format!("{}{hash}", super::token::PREFIX), "MFA".to_owned())
    }
}

/// A graph edge in its owner's partition (`<EDGE>#<other>`), and, for edges that make
/// a list, its place in the list (`GSI1`: `<LIST>#<owner>`, newest first by time).
pub mod edge {
    pub fn key(owner: &str, prefix: &str, other: &str) -> super::Item {
        super::key(super::user::pk(owner), format!("{prefix}{other}"))
    }

    pub fn list_pk(list: &str, owner: &str) -> String {
        format!("{list}#{owner}")
    }

    pub fn list_sk(at: chrono::DateTime<chrono::Utc>, other: &str) -> String {
        format!("{}#{other}", super::sortable(at))
    }
}

/// A report (`REPORT#<id>`), in the moderation queue of its status (`GSI1`:
/// `REPORTS#<status>`; open ones by creation, oldest first, resolved ones by resolution,
/// read newest first); while open, the reporter's guard against reporting the same user
/// twice (`REPORTED#<target>` in the reporter's partition) and the entry of the open
/// reports against the target (`AGAINST#<target>`); for good, the reporter's record of
/// having filed it (`FILED#<id>`, for the data export).
pub mod report {
    const SK: &str = "REPORT";

    pub fn queue_pk(status: &str) -> String {
        format!("REPORTS#{status}")
    }

    pub fn queue_sk(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
        format!("{}#{id}", super::sortable(at))
    }

    pub fn key(id: &str) -> super::Item {
        super::key(format!("REPORT#{id}"), SK.to_owned())
    }

    /// The report's id, if a partition key is a report's.
    pub fn id(pk: &str) -> Option<&str> {
        pk.strip_prefix("REPORT#").filter(|id| !id.is_empty())
    }

    pub const GUARD_PREFIX: &str = "REPORTED#";

    pub fn guard_key(reporter_id: &str, target_id: &str) -> super::Item {
        super::key(super::user::pk(reporter_id), format!("{GUARD_PREFIX}{target_id}"))
    }

    pub const FILED_PREFIX: &str = "FILED#";

    pub fn filed_key(reporter_id: &str, report_id: &str) -> super::Item {
        super::key(super::user::pk(reporter_id), format!("{FILED_PREFIX}{report_id}"))
    }

    pub const AGAINST_PREFIX: &str = "AGAINST#";

    pub fn against_pk(target_id: &str) -> String {
        format!("{AGAINST_PREFIX}{target_id}")
    }

    pub fn against_key(target_id: &str, report_id: &str) -> super::Item {
        super::key(against_pk(target_id), report_id.to_owned())
    }
}

/// The audit log: each entry once in `AUDIT` (all entries, by time) and listed by actor
/// (`GSI1`: `AUDIT#ACTOR#<actor>`), and a copy under its target
/// (`AUDIT#TARGET#<target>`). Entries are only ever put, never changed or deleted.
pub mod audit {
    pub const LOG: &str = "AUDIT";

    pub fn sk(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
        format!("{}#{id}", super::sortable(at))
    }

    pub fn actor_pk(actor_id: &str) -> String {
        format!("AUDIT#ACTOR#{actor_id}")
    }

    pub const TARGET_PREFIX: &str = "AUDIT#TARGET#";

    /// The head of an actor's chain of entries (its last `seq` and hash): the one audit
    /// item that is updated, so apart from the `AUDIT` partitions, whose writes the
    /// policies confine to puts.
    pub const HEAD_PREFIX: &str = "AUDITHEAD#";
    pub const HEAD_SK: &str = "HEAD";

    pub fn head_key(actor_id: &str) -> super::Item {
        super::key(format!("{HEAD_PREFIX}{actor_id}"), HEAD_SK.to_owned())
    }

    pub fn target_pk(target_id: &str) -> String {
        format!("{TARGET_PREFIX}{target_id}")
    }
}

/// A search entry: in the user's partition by token, and in `GSI1` under the token's
/// partition, sorted by `<token>#<userId>` so a prefix is one `begins_with` query.
pub mod search {
    /// The prefix of an entry's sort key in the user's partition.
    pub const PREFIX: &str = "SEARCH#";

    pub fn key(user_id: &str, token: &str) -> super::Item {
        super::key(super::user::pk(user_id), format!("{PREFIX}{token}"))
    }

    pub fn partition_pk(partition: &str) -> String {
        format!("SEARCH#{partition}")
    }

    pub fn entry_sk(token: &str, user_id: &str) -> String {
        format!("{token}#{user_id}")
    }

    /// What a search cursor is bound to: the query's folded prefix.
    pub fn cursor_scope(prefix: &str) -> String {
        format!("SEARCH#{prefix}")
    }
}

/// A rate-limit counter's window: `RATE#<scope>#<key>` / window start.
pub mod rate {
    pub const PREFIX: &str = "RATE#";

    pub fn key(scope: &str, key: &str, window_start: i64) -> super::Item {
        super::key(format!("{PREFIX}{scope}#{key}"), window_start.to_string())
    }
}

/// An outbox message: `OUTBOX#<id>` / `MESSAGE`.
pub mod outbox {
    pub const PREFIX: &str = "OUTBOX#";
    const SK: &str = "MESSAGE";

    pub fn key(id: &str) -> super::Item {
        super::key(format!("{PREFIX}{id}"), SK.to_owned())
    }

    /// The message id of an item's partition key, if the item is an outbox message.
    pub fn message_id(pk: &str) -> Option<&str> {
        pk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }
}

/// An account event, written in the transaction of its change, for the `events`
/// function (which reads it back by the key its stream record names).
pub mod event {
    pub const PREFIX: &str = "EVENT#";
    const SK: &str = "EVENT";

    pub fn key(id: &str) -> super::Item {
        super::key(format!("{PREFIX}{id}"), SK.to_owned())
    }

    /// The event id of an item's partition key, if the item is an account event.
    pub fn event_id(pk: &str) -> Option<&str> {
        pk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }
}

/// A webhook endpoint (`WEBHOOK#<id>` / `WEBHOOK`), listed in `GSI1` under `WEBHOOKS`
/// by creation; its deliveries in its partition, newest last by time.
pub mod webhook {
    const PREFIX: &str = "WEBHOOK#";
    const SK: &str = "WEBHOOK";
    pub const LIST: &str = "WEBHOOKS";
    pub const DELIVERY_PREFIX: &str = "DELIVERY#";

    pub fn pk(id: &str) -> String {
        format!("{PREFIX}{id}")
    }

    pub fn key(id: &str) -> super::Item {
        super::key(pk(id), SK.to_owned())
    }

    pub fn list_sk(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
        format!("{}#{id}", super::sortable(at))
    }

    pub fn delivery_key(id: &str, at: chrono::DateTime<chrono::Utc>, event_id: &str, attempt: u32) -> super::Item {
        super::key(pk(id), format!("{DELIVERY_PREFIX}{}#{event_id}#{attempt}", super::sortable(at)))
    }

    /// The webhook id of an item's partition key, if it is a webhook's.
    pub fn id(pk: &str) -> Option<&str> {
        pk.strip_prefix(PREFIX).filter(|id| !id.is_empty())
    }
}

/// An import's checkpoint (`IMPORT#<name>` / `CHECKPOINT`): how far it got.
pub mod import {
    pub const PREFIX: &str = "IMPORT#";
    const SK: &str = "CHECKPOINT";

    pub fn key(name: &str) -> super::Item {
        super::key(format!("{PREFIX}{name}"), SK.to_owned())
    }
}

/// An item that never exists, read by the health check.
pub fn health_probe() -> Item {
    key(HEALTH.into(), HEALTH.into())
}

pub const HEALTH: &str = "HEALTH";

#[cfg(test)]
mod tests {
    /// Key formats live here only: any other store file that spells one out is a second
    /// home for it.
    #[test]
    fn no_other_store_file_writes_a_key_format() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut found = Vec::new();
        for sub in ["store", "services", "domain"] {
            for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
                let path = entry.unwrap().path();
                if path.ends_with("keys.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (line_no, line) in text.lines().enumerate() {
                    let spelled = line.match_indices("format!(\"").any(|(at, _)| {
                        let rest = &line[at + 9..];
                        let name: String = rest.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
                        name.len() >= 3 && rest[name.len()..].starts_with('#')
                    }) || ["\"GSI1", "\"expiryBucket\"", "\"expiresAt\""]
                        .iter()
                        .any(|name| line.contains(name));
                    if spelled && !line.trim_start().starts_with("//") {
                        found.push(format!("{}:{}: {}", path.display(), line_no + 1, line.trim()));
                    }
                }
            }
        }
        assert!(found.is_empty(), "key formats outside store/keys.rs:\n{}", found.join("\n"));
    }
}
