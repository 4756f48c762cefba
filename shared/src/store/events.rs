//! Account events: one item per event, written in its change's transaction (so a change
//! that fails leaves none), read back by the `events` function from the key its stream
//! record names. The event is kept as its published JSON (`body`), so what goes out is
//! byte for byte what was written; TTL removes it after a week, long after the stream
//! (24 hours) has let it go.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

use super::{from_item, keys, to_item, Store};
use crate::domain::account_event::AccountEvent;
use crate::error::{AppError, AppResult, Context};

const EVENT_TTL_DAYS: i64 = 7;

#[derive(Clone, Copy)]
pub struct Events<'a> {
    pub(super) store: &'a Store,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord {
    /// The event's JSON, as published.
    body: String,
    #[serde(rename = "type")]
    event_type: String,
    subject: String,
    sequence: i64,
    /// A test event: for this webhook only, not for the bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    only_webhook: Option<String>,
    expires_at: i64,
}

/// An event read back, with where it goes.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: AccountEvent,
    /// The JSON that is published, exactly as written.
    pub body: String,
    pub only_webhook: Option<String>,
}

impl Events<'_> {
    /// The event's put, for its change's transaction.
    pub fn put(self, event: &AccountEvent) -> AppResult<TransactWriteItem> {
        self.store.put_new(self.item(event, None)?)
    }

    /// A test event for one webhook, on its own.
    pub async fn put_test(self, event: &AccountEvent, webhook_id: &str) -> AppResult<()> {
        let put = self.store.put_new(self.item(event, Some(webhook_id))?)?;
        let put = put.put.ok_or_else(|| AppError::internal("a new item is a put"))?;
        if !self.store.put_alone(put).await? {
            return Err(AppError::internal("a new event's id was taken"));
        }
        Ok(())
    }

    fn item(self, event: &AccountEvent, only_webhook: Option<&str>) -> AppResult<super::Item> {
        let record = EventRecord {
            body: serde_json::to_string(event).context("serializing an event")?,
            event_type: event.event_type.as_str().to_owned(),
            subject: event.subject.clone(),
            sequence: event.sequence,
            only_webhook: only_webhook.map(str::to_owned),
            expires_at: self.store.now().timestamp() + EVENT_TTL_DAYS * 86_400,
        };
        to_item(&record, keys::event::key(&event.id))
    }

    /// The events of these ids that are still kept, in no particular order. An item
    /// that is not a readable event is an `Err` in its place, named by its id.
    pub async fn get_many(self, ids: &[&str]) -> AppResult<Vec<Result<StoredEvent, String>>> {
        let items = super::batch_get(self.store, ids.iter().map(|id| keys::event::key(id)).collect()).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let id = item
                    .get(keys::PK)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| keys::event::event_id(pk))
                    .unwrap_or("-")
                    .to_owned();
                let record: EventRecord = from_item(item).map_err(|_| id.clone())?;
                let event = serde_json::from_str(&record.body).map_err(|_| id)?;
                Ok(StoredEvent { event, body: record.body, only_webhook: record.only_webhook })
            })
            .collect())
    }
}
