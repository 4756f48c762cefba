//! The `events` function: account events out to the rest of the platform.
//!
//! Two event sources feed it, both at least once:
//! - the table's stream (only event inserts, by the mapping's filter; the local server
//!   hands it every change): each event is read back by its key, published to the
//!   EventBridge bus, and queued once per webhook that wants it;
//! - the delivery queue (SQS): each message is one event for one webhook, POSTed signed;
//!   a failure is queued again with a delay (backoff for 24 hours), so a slow endpoint
//!   holds up nothing but its own message.
//!
//! A record that can never be handled (an event item that does not read as one, a queue
//! message that is no delivery) is set aside in the dead-letter queue with its reason;
//! what may pass (the table, the bus or the queue failing) goes back to Lambda as a
//! batch item failure. Repeats are harmless: an event keeps its id, which is the
//! deliveries' `webhook-id`, so consumers drop what they have seen.

pub mod bus;
pub mod deliver;
pub mod queue;
pub mod sign;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use shared::store::events::StoredEvent;
use shared::store::{keys, Store};

pub use bus::Bus;
pub use deliver::{Deliverer, Outcome};
pub use queue::{Job, Queue};

pub use shared::batch::{BatchResponse, ItemFailure};

/// What the function is given, from the environment: `EVENT_BUS_NAME`,
/// `WEBHOOK_QUEUE_URL`, `EVENTS_DEAD_LETTER_QUEUE_URL`, `WEBHOOK_TIMEOUT_MS` (10 000).
#[derive(Debug, Clone)]
pub struct Settings {
    pub bus_name: Option<String>,
    pub queue_url: Option<String>,
    pub dead_letter_queue_url: Option<String>,
    pub webhook_timeout: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, shared::error::BoxError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let timeout_ms = match var("WEBHOOK_TIMEOUT_MS") {
            None => 10_000,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|ms| (100..=30_000).contains(ms))
                .ok_or("WEBHOOK_TIMEOUT_MS: expected a number of milliseconds from 100 to 30000")?,
        };
        Ok(Settings {
            bus_name: var("EVENT_BUS_NAME"),
            queue_url: var("WEBHOOK_QUEUE_URL"),
            dead_letter_queue_url: var("EVENTS_DEAD_LETTER_QUEUE_URL"),
            webhook_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

pub struct Publisher {
    store: Store,
    bus: Option<Bus>,
    queue: Queue,
    deliverer: Deliverer,
}

impl Publisher {
    pub fn new(store: Store, bus: Option<Bus>, queue: Queue, deliverer: Deliverer) -> Self {
        Publisher { store, bus, queue, deliverer }
    }

    /// The production publisher: the table, bus, queues and webhook key as configured.
    pub async fn from_config(
        config: &shared::config::Config,
        settings: &Settings,
    ) -> Result<Self, shared::error::BoxError> {
        let aws = shared::aws::sdk_config(config.tls_native_roots).await;
        let store = Store::new(&aws, config.table_name.clone(), Duration::from_millis(config.dynamodb_timeout_ms));
        let key = shared::vault::load_webhook_key(config, &aws).await?.ok_or("WEBHOOK_KEY_SECRET_ID is not set")?;
        let queue_url = settings.queue_url.clone().ok_or("WEBHOOK_QUEUE_URL is not set")?;
        let queue = Queue::new(&aws, queue_url, settings.dead_letter_queue_url.clone());
        let bus = settings.bus_name.as_ref().map(|name| Bus::new(&aws, name));
        let deliverer = Deliverer::new(
            store.clone(),
            Arc::new(key),
            config.webhook_urls,
            settings.webhook_timeout,
            deliver::system_resolver(),
        );
        Ok(Publisher::new(store, bus, queue, deliverer))
    }

    /// A batch from either source, told apart by its records' `eventSource`.
    pub async fn handle(&self, event: &Value) -> BatchResponse {
        let records = event.get("Records").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let from_queue = records.first().and_then(|r| r.get("eventSource")).and_then(Value::as_str) == Some("aws:sqs");
        match from_queue {
            true => self.deliver_batch(records).await,
            false => self.publish_batch(records).await,
        }
    }

    /// Stream records: the events they announce, published and queued for webhooks.
    pub async fn publish_batch(&self, records: &[Value]) -> BatchResponse {
        let mut response = BatchResponse::default();
        let announced: Vec<(&Value, &str)> = records.iter().filter_map(|r| Some((r, event_insert(r)?))).collect();
        if announced.is_empty() {
            return response;
        }
        let ids: Vec<&str> = announced.iter().map(|(_, id)| *id).collect();
        let read = self.store.events().get_many(&ids).await;
        let webhooks = self.store.webhooks().list().await;
        let (found, webhooks) = match (read, webhooks) {
            (Ok(found), Ok(webhooks)) => (found, webhooks),
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(error = %err, "reading the batch's events or the webhooks failed; handed back");
                announced.iter().for_each(|(record, _)| response.fail(sequence_number(record)));
                return response;
            }
        };
        let mut events: Vec<StoredEvent> = Vec::new();
        for result in found {
            match result {
                Ok(event) => events.push(event),
                Err(id) => {
                    let record = announced.iter().find(|(_, announced)| *announced == id).map(|(r, _)| *r);
                    if let Err(err) = self
                        .queue
                        .set_aside(record.unwrap_or(&Value::Null), "the event item does not read as an event")
                        .await
                    {
                        tracing::error!(event_id = %id, error = %err, "setting a poison record aside failed");
                        record.into_iter().for_each(|r| response.fail(sequence_number(r)));
                    } else {
                        tracing::error!(event_id = %id, "an unreadable event item was set aside");
                    }
                }
            }
        }
        let kept: HashSet<&str> = events.iter().map(|e| e.event.id.as_str()).collect();
        for (_, id) in announced.iter().filter(|(_, id)| !kept.contains(id)) {
            // Expired (a week) or never written: nothing to send.
            tracing::info!(event_id = %id, "an announced event is no longer kept; passed over");
        }
        let mut failed: HashSet<String> = HashSet::new();
        if let Some(bus) = &self.bus {
            let public: Vec<&StoredEvent> = events.iter().filter(|e| e.only_webhook.is_none()).collect();
            failed.extend(bus.publish(&public).await);
        }
        let now = self.store.now();
        let jobs: Vec<Job> = events
            .iter()
            .flat_map(|event| {
                webhooks
                    .iter()
                    .filter(|w| match &event.only_webhook {
                        Some(only) => *only == w.id,
                        None => w.wants(event.event.event_type),
                    })
                    .map(|w| Job {
                        webhook_id: w.id.clone(),
                        event_id: event.event.id.clone(),
                        event_type: event.event.event_type.as_str().to_owned(),
                        body: event.body.clone(),
                        attempt: 1,
                        first_attempt_at: now,
                        not_before: None,
                    })
            })
            .collect();
        if let Err(err) = self.queue.enqueue(&jobs).await {
            tracing::warn!(error = %err, "queueing webhook deliveries failed; handed back");
            failed.extend(jobs.iter().map(|j| j.event_id.clone()));
        }
        for (record, id) in &announced {
            if failed.contains(*id) {
                response.fail(sequence_number(record));
            }
        }
        shared::metrics::count("EventsPublished", (events.len() - failed.len().min(events.len())) as u64);
        shared::metrics::count("WebhookDeliveriesQueued", jobs.len() as u64);
        response
    }

    /// Queue messages: each a delivery, all at once (one slow endpoint delays none of
    /// the others).
    pub async fn deliver_batch(&self, records: &[Value]) -> BatchResponse {
        let outcomes = futures_util::future::join_all(records.iter().map(|r| self.deliver_one(r))).await;
        let mut response = BatchResponse::default();
        for (record, ok) in records.iter().zip(outcomes) {
            if !ok {
                response.fail(record.get("messageId").and_then(Value::as_str).unwrap_or("-"));
            }
        }
        response
    }

    /// `false`: hand the message back.
    async fn deliver_one(&self, record: &Value) -> bool {
        let job = record.get("body").and_then(Value::as_str).and_then(|b| serde_json::from_str::<Job>(b).ok());
        let Some(job) = job else {
            return match self.queue.set_aside(record, "the queue message is not a webhook delivery").await {
                Ok(()) => true,
                Err(err) => {
                    tracing::error!(error = %err, "setting a poison message aside failed");
                    false
                }
            };
        };
        let (webhook_id, event_id) = (job.webhook_id.clone(), job.event_id.clone());
        match self.deliverer.deliver(job, &self.queue).await {
            Ok(outcome) => {
                tracing::info!(%webhook_id, %event_id, ?outcome, "webhook delivery");
                let metric = match outcome {
                    Outcome::Delivered => "WebhooksDelivered",
                    Outcome::Retrying(_) => "WebhooksRetried",
                    Outcome::GaveUp => "WebhooksFailed",
                    Outcome::Skipped(_) => "WebhooksSkipped",
                };
                shared::metrics::count(metric, 1);
                true
            }
            Err(err) => {
                tracing::warn!(%webhook_id, %event_id, error = %err, "a webhook delivery could not be handled; handed back");
                false
            }
        }
    }
}

/// The event id of an `INSERT` record of an account event, from its keys alone.
fn event_insert(record: &Value) -> Option<&str> {
    if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
        return None;
    }
    let pk = record.pointer("/dynamodb/Keys/PK/S").and_then(Value::as_str)?;
    keys::event::event_id(pk)
}

fn sequence_number(record: &Value) -> &str {
    record.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).unwrap_or("-")
}
