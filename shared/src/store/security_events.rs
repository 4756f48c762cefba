use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::pages::PageKey;
use super::{dynamo_error, from_item, keys, n, s, to_item, Item, Store};
use crate::domain::security_event::{SecurityEventRecord, SecurityEventType};
use crate::error::{AppResult, Context};

/// The account's security history: events in its partition, newest last by key.
#[derive(Clone, Copy)]
pub struct SecurityEvents<'a> {
    pub(super) store: &'a Store,
}

/// Whose sign-in attempt failed or was refused: an account, or an identifier no account
/// has. The latter's writes go to a stand-in item of its own (a rate item, gone within
/// the hour), so that a wrong password and an unknown identifier make the same calls.
#[derive(Clone, Copy, Debug)]
pub enum Attempted<'a> {
    Account(&'a str),
    Unknown { identifier_hash: &'a str },
}

impl<'a> Attempted<'a> {
    pub fn user_id(self) -> &'a str {
        match self {
            Attempted::Account(user_id) => user_id,
            Attempted::Unknown { .. } => "",
        }
    }

    /// Where its event of the hour starting at `hour` goes, and when that expires.
    fn key(self, event: &SecurityEventRecord, hour: i64, id: &str) -> (Item, i64) {
        match self {
            Attempted::Account(user_id) => {
                let start = chrono::DateTime::from_timestamp(hour, 0).unwrap_or(event.at);
                (keys::security_event::key(user_id, start, id), event.expires_at)
            }
            Attempted::Unknown { identifier_hash } => {
                (keys::rate::key(UNKNOWN_SCOPE, identifier_hash, hour), hour + 3600 + 60)
            }
        }
    }
}

/// The rate scope of an unknown identifier's stand-in events.
const UNKNOWN_SCOPE: &str = "unknown-history";

/// A page of events, newest first.
pub struct EventPage {
    pub events: Vec<SecurityEventRecord>,
    pub last_key: Option<PageKey>,
}

impl SecurityEvents<'_> {
    /// The put of an event, for the transaction of the change it records. Kept by TTL
    /// alone (no expiry-index entry: reads skip expired events, and the index would add
    /// a write unit to every sign-in).
    pub fn put(self, event: &SecurityEventRecord) -> AppResult<TransactWriteItem> {
        let put = self.put_item(event)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A failed sign-in's event, written beside its count.
    pub(crate) async fn write_failed(self, who: Attempted<'_>, event: &SecurityEventRecord) -> AppResult<()> {
        let put = match who {
            Attempted::Account(_) => self.put_item(event)?,
            Attempted::Unknown { .. } => {
                let hour = event.at.timestamp() - event.at.timestamp().rem_euclid(3600);
                let (key, expires_at) = who.key(event, hour, &event.id);
                let mut item = to_item(event, key)?;
                item.insert(keys::expiry::AT.to_owned(), n(expires_at));
                Put::builder().table_name(self.store.table()).set_item(Some(item)).build().context("building a Put")?
            }
        };
        self.store.put_alone(put).await.map(|_| ())
    }

    fn put_item(self, event: &SecurityEventRecord) -> AppResult<Put> {
        let item = to_item(event, keys::security_event::key(&event.user_id, event.at, &event.id))?;
        Put::builder()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .context("building a Put")
    }

    /// One refused attempt more on the account's `sign_in_blocked` event of this hour
    /// (made by the first): a flood at one account adds to a count, not items.
    pub(crate) async fn count_blocked(self, who: Attempted<'_>, event: &SecurityEventRecord) -> AppResult<()> {
        let hour = event.at.timestamp() - event.at.timestamp().rem_euclid(3600);
        let id = crate::domain::derived_id(&format!("blocked:{}:{hour}", event.user_id));
        let (key, expires_at) = who.key(event, hour, &id);
        let hour_start = chrono::DateTime::from_timestamp(hour, 0).unwrap_or(event.at);
        let mut sets = vec![
            "id = if_not_exists(id, :id)",
            "userId = :user",
            "#at = if_not_exists(#at, :at)",
            "#type = :type",
            "firstAt = if_not_exists(firstAt, :now)",
            "lastAt = :now",
            "#expires = if_not_exists(#expires, :expires)",
        ];
        let mut update = self
            .store
            .update_item()
            .set_key(Some(key))
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#type", "type")
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":id", s(&id))
            .expression_attribute_values(":user", s(&event.user_id))
            // The event is the hour's: it sits (and sorts) at the hour's start.
            .expression_attribute_values(":at", super::time(&hour_start))
            .expression_attribute_values(":now", super::time(&event.at))
            .expression_attribute_values(":type", s(SecurityEventType::SignInBlocked.as_str()))
            .expression_attribute_values(":expires", n(expires_at))
            .expression_attribute_values(":one", n(1));
        // The latest refused attempt's address and agent.
        if let Some(ip) = &event.ip_address {
            sets.push("ipAddress = :ip");
            update = update.expression_attribute_values(":ip", s(ip));
        }
        if let Some(agent) = &event.user_agent {
            sets.push("userAgent = :agent");
            update = update.expression_attribute_values(":agent", s(agent));
        }
        update
            .update_expression(format!("SET {} ADD attempts :one", sets.join(", ")))
            .send()
            .await
            .map_err(dynamo_error("UpdateItem USER#/SECEVENT# (blocked)"))?;
        Ok(())
    }

    /// A page of the account's events, newest first, of one type when asked. Expired
    /// events (TTL deletion lags) are left out. A filtered read goes on (a few queries at
    /// most) until it has a page's worth or the history ends.
    pub async fn page(
        self,
        user_id: &str,
        kind: Option<SecurityEventType>,
        limit: i32,
        mut start: Option<PageKey>,
    ) -> AppResult<EventPage> {
        let now = self.store.now().timestamp();
        let mut query = self
            .store
            .prefix_query(keys::user::pk(user_id), keys::security_event::PREFIX)
            .scan_index_forward(false)
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":now", n(now));
        query = match kind {
            None => query.filter_expression("#expires > :now"),
            Some(kind) => query
                .filter_expression("#expires > :now AND #type = :type")
                .expression_attribute_names("#type", "type")
                .expression_attribute_values(":type", s(kind.as_str())),
        };
        let mut events = Vec::new();
        for _ in 0..QUERIES_PER_PAGE {
            // Never more evaluated than still wanted, so a page never overshoots.
            let wanted = limit - events.len() as i32;
            let out = query
                .clone()
                .limit(wanted)
                .set_exclusive_start_key(PageKey::start(start.take()))
                .send()
                .await
                .map_err(dynamo_error("Query the security events of a user"))?;
            for item in out.items.unwrap_or_default() {
                events.push(from_item(item)?);
            }
            start = PageKey::after(out.last_evaluated_key);
            if start.is_none() || events.len() as i32 >= limit {
                break;
            }
        }
        Ok(EventPage { events, last_key: start })
    }
}

/// How many queries one page of a filtered history may take.
const QUERIES_PER_PAGE: usize = 5;
