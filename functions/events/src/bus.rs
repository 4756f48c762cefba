//! Publishing to the stack's EventBridge bus: `source: "user-service"`, `detail-type` the
//! event type, `detail` the event. `PutEvents` takes 10 entries a call and may refuse
//! some of them (throttling, an internal failure): those are sent again, a few times.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::store::events::StoredEvent;

pub const SOURCE: &str = "user-service";
const ENTRIES_PER_CALL: usize = 10;
const ATTEMPTS: u32 = 3;

pub struct Bus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl Bus {
    pub fn new(aws: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        Bus { client: aws_sdk_eventbridge::Client::new(aws), name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publishes `events`; the ids of those the bus still refused after the retries.
    pub async fn publish(&self, events: &[&StoredEvent]) -> Vec<String> {
        let mut refused = Vec::new();
        for chunk in events.chunks(ENTRIES_PER_CALL) {
            refused.extend(self.publish_chunk(chunk).await);
        }
        refused
    }

    async fn publish_chunk(&self, chunk: &[&StoredEvent]) -> Vec<String> {
        let mut pending: Vec<&StoredEvent> = chunk.to_vec();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << (2 * attempt))).await;
            }
            let entries: Vec<PutEventsRequestEntry> = pending.iter().map(|e| self.entry(e)).collect();
            let out = match self.client.put_events().set_entries(Some(entries)).send().await {
                Ok(out) => out,
                Err(err) => {
                    tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&err), attempt, "PutEvents failed");
                    continue;
                }
            };
            // Entries answer in the order sent; an entry with an error code was refused.
            let results = out.entries.unwrap_or_default();
            pending = pending
                .into_iter()
                .zip(results.iter().map(Some).chain(std::iter::repeat(None)))
                .filter(|(_, result)| result.is_none_or(|r| r.error_code.is_some()))
                .map(|(event, result)| {
                    let code = result.and_then(|r| r.error_code.as_deref()).unwrap_or("no answer");
                    tracing::warn!(event_id = %event.event.id, code, attempt, "the bus refused an event");
                    event
                })
                .collect();
            if pending.is_empty() {
                return Vec::new();
            }
        }
        pending.into_iter().map(|e| e.event.id.clone()).collect()
    }

    fn entry(&self, event: &StoredEvent) -> PutEventsRequestEntry {
        let time = chrono::DateTime::parse_from_rfc3339(&event.event.occurred_at).ok();
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source(SOURCE)
            .detail_type(event.event.event_type.as_str())
            .detail(&event.body)
            .set_time(time.map(|t| aws_sdk_eventbridge::primitives::DateTime::from_millis(t.timestamp_millis())))
            .build()
    }
}
