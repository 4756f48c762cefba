//! Account events: what the platform's other services learn about accounts (created,
//! renamed, suspended, deleted, followed, blocked). Each is written in the same
//! transaction as its change and published from the table's stream by the `events`
//! function, to EventBridge and to webhooks. An event never carries an email, phone,
//! date of birth, address, token or hash: ids, usernames and what changed.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The catalog. `webhook.test` goes only to the webhook it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.email_verified")]
    UserEmailVerified,
    #[serde(rename = "user.deactivated")]
    UserDeactivated,
    #[serde(rename = "user.reactivated")]
    UserReactivated,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "user.suspended")]
    UserSuspended,
    #[serde(rename = "user.unsuspended")]
    UserUnsuspended,
    #[serde(rename = "user.limited")]
    UserLimited,
    #[serde(rename = "user.unlimited")]
    UserUnlimited,
    #[serde(rename = "user.role_changed")]
    UserRoleChanged,
    #[serde(rename = "follow.created")]
    FollowCreated,
    #[serde(rename = "follow.deleted")]
    FollowDeleted,
    #[serde(rename = "block.created")]
    BlockCreated,
    #[serde(rename = "block.deleted")]
    BlockDeleted,
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserEmailVerified,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::UserSuspended,
        EventType::UserUnsuspended,
        EventType::UserLimited,
        EventType::UserUnlimited,
        EventType::UserRoleChanged,
        EventType::FollowCreated,
        EventType::FollowDeleted,
        EventType::BlockCreated,
        EventType::BlockDeleted,
        EventType::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserEmailVerified => "user.email_verified",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserSuspended => "user.suspended",
            EventType::UserUnsuspended => "user.unsuspended",
            EventType::UserLimited => "user.limited",
            EventType::UserUnlimited => "user.unlimited",
            EventType::UserRoleChanged => "user.role_changed",
            EventType::FollowCreated => "follow.created",
            EventType::FollowDeleted => "follow.deleted",
            EventType::BlockCreated => "block.created",
            EventType::BlockDeleted => "block.deleted",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// One event, as published: the same JSON on EventBridge (its `detail`) and in a
/// webhook's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: String,
    pub version: u32,
    /// The account the event is about (for follows and blocks: who acted).
    pub subject: String,
    /// Grows per subject: a consumer keeps the highest it applied and drops a lower one.
    pub sequence: i64,
    pub data: Value,
}

/// The last sequence this process gave out: sequences are the change's time in
/// microseconds, made strictly increasing within a process (two changes in one
/// microsecond, or a clock set back).
static LAST_SEQUENCE: AtomicI64 = AtomicI64::new(0);

fn next_sequence(at: DateTime<Utc>) -> i64 {
    let wanted = at.timestamp_micros();
    let previous = LAST_SEQUENCE.fetch_max(wanted, Ordering::SeqCst);
    if previous < wanted {
        wanted
    } else {
        LAST_SEQUENCE.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl AccountEvent {
    fn new(event_type: EventType, subject: &str, at: DateTime<Utc>, data: Value) -> Self {
        AccountEvent {
            id: uuid::Uuid::new_v4().to_string(),
            event_type,
            occurred_at: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            version: 1,
            subject: subject.to_owned(),
            sequence: next_sequence(at),
            data,
        }
    }

    pub fn user_created(user_id: &str, username: &str, at: DateTime<Utc>) -> Self {
        Self::new(EventType::UserCreated, user_id, at, json!({ "userId": user_id, "username": username }))
    }

    /// `changed`: the names of the public profile's fields that changed.
    pub fn user_updated(user_id: &str, username: &str, changed: &[&str], at: DateTime<Utc>) -> Self {
        let data = json!({ "userId": user_id, "username": username, "changed": changed });
        Self::new(EventType::UserUpdated, user_id, at, data)
    }

    /// An event whose data is the account alone (`user.deactivated`, `user.deleted`…).
    pub fn of_user(event_type: EventType, user_id: &str, at: DateTime<Utc>) -> Self {
        Self::new(event_type, user_id, at, json!({ "userId": user_id }))
    }

    /// `until`: when the suspension ends by itself (none: when staff lift it).
    pub fn user_suspended(user_id: &str, until: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Self {
        let until = until.map(|u| u.to_rfc3339_opts(SecondsFormat::Millis, true));
        Self::new(EventType::UserSuspended, user_id, at, json!({ "userId": user_id, "until": until }))
    }

    pub fn user_limited(user_id: &str, until: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Self {
        let until = until.map(|u| u.to_rfc3339_opts(SecondsFormat::Millis, true));
        Self::new(EventType::UserLimited, user_id, at, json!({ "userId": user_id, "until": until }))
    }

    pub fn user_role_changed(user_id: &str, role: &str, at: DateTime<Utc>) -> Self {
        Self::new(EventType::UserRoleChanged, user_id, at, json!({ "userId": user_id, "role": role }))
    }

    /// An accepted follow began (`created`) or ended.
    pub fn follow(created: bool, follower_id: &str, followee_id: &str, at: DateTime<Utc>) -> Self {
        let event_type = if created { EventType::FollowCreated } else { EventType::FollowDeleted };
        Self::new(event_type, follower_id, at, json!({ "followerId": follower_id, "followeeId": followee_id }))
    }

    pub fn block(created: bool, blocker_id: &str, blocked_id: &str, at: DateTime<Utc>) -> Self {
        let event_type = if created { EventType::BlockCreated } else { EventType::BlockDeleted };
        Self::new(event_type, blocker_id, at, json!({ "blockerId": blocker_id, "blockedId": blocked_id }))
    }

    /// The event a webhook's test sends: about the admin who asked for it.
    pub fn webhook_test(webhook_id: &str, admin_id: &str, at: DateTime<Utc>) -> Self {
        Self::new(EventType::WebhookTest, admin_id, at, json!({ "webhookId": webhook_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_its_name_both_ways() {
        for event_type in EventType::ALL {
            let json = serde_json::to_value(event_type).unwrap();
            assert_eq!(json, Value::String(event_type.as_str().into()));
            assert_eq!(EventType::parse(event_type.as_str()), Some(event_type));
        }
        assert_eq!(EventType::parse("user.renamed"), None);
    }

    #[test]
    fn sequences_grow_even_when_the_clock_does_not() {
        let at = crate::clock::system_now();
        let first = AccountEvent::of_user(EventType::UserUpdated, "a", at);
        let second = AccountEvent::of_user(EventType::UserUpdated, "a", at);
        let earlier = AccountEvent::of_user(EventType::UserUpdated, "a", at - chrono::Duration::seconds(5));
        assert!(first.sequence < second.sequence && second.sequence < earlier.sequence);
        assert!(first.sequence >= at.timestamp_micros());
    }

    #[test]
    fn an_event_reads_as_the_contract_writes_it() {
        let event = AccountEvent::follow(true, "a", "b", crate::clock::system_now());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "follow.created");
        assert_eq!(json["version"], 1);
        assert_eq!(json["subject"], "a");
        assert_eq!(json["data"], json!({ "followerId": "a", "followeeId": "b" }));
        assert!(json["occurredAt"].as_str().unwrap().ends_with('Z'));
        let back: AccountEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
