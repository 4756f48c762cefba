//! The `notify` function: outbox messages from the table's stream, out to people.
//!
//! Lambda hands it batches of stream records (only outbox inserts, by the event source
//! mapping's filter); the local server hands it what it reads from DynamoDB Local's
//! stream, in the same JSON. Each record is taken on its own: it names the message by
//! its key, the message itself is read back from the table when it is claimed (see
//! `shared::store::outbox`), so nothing depends on how a stream renders an image. A
//! record that is not an outbox insert, a message that cannot be read or composed, and
//! a message the mail service refuses for good are logged by id, marked failed where
//! there is an item, and passed over; only what may succeed later (throttling, an
//! unreachable service, a message another delivery holds) goes back to Lambda as a
//! batch item failure.

pub mod compose;
pub mod transport;

use serde_json::Value;
use shared::bucket::ExportBucket;
use shared::domain::OfUser;
use shared::services::exports::{Built, ExportBuilder};
use shared::store::outbox::{self, Claim, Outcome};
use shared::store::{keys, Store};

pub use compose::{compose, Email};
pub use transport::{SendError, Transport};

/// How long a claim holds a message: longer than a send can take (the SES client gives
/// up after 10 s), so a lease outlives its send only when the holder crashed.
pub const LEASE_SECS: i64 = 30;

const NOT_AN_OUTBOX_INSERT: &str = "not an outbox insert";

pub use shared::batch::{BatchResponse, ItemFailure};

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delivered,
    /// Nothing to do: not an outbox insert, or settled before (a repeated record).
    Skipped(&'static str),
    /// Marked failed on its item, never to be sent.
    Failed(String),
    /// May succeed later: hand it back.
    Retry(String),
}

pub struct Notifier {
    store: Store,
    transport: Transport,
    base_url: String,
    /// Where data exports are written, when this notifier builds them.
    exports: Option<ExportBucket>,
}

impl Notifier {
    pub fn new(store: Store, transport: Transport, base_url: impl Into<String>) -> Self {
        Notifier { store, transport, base_url: base_url.into(), exports: None }
    }

    /// The same notifier building the data exports the stream announces, into `bucket`.
    pub fn with_exports(self, bucket: Option<ExportBucket>) -> Self {
        Notifier { exports: bucket, ..self }
    }

    /// The production notifier: the table from the configuration, mail through SES
    /// from `MAIL_FROM`.
    pub async fn with_ses(config: &shared::config::Config) -> Self {
        let aws = shared::aws::sdk_config(config.tls_native_roots).await;
        let store =
            Store::new(&aws, config.table_name.clone(), std::time::Duration::from_millis(config.dynamodb_timeout_ms));
        let bucket = config.export_bucket.as_ref().map(|name| ExportBucket::new(&aws, name));
        Notifier::new(store, Transport::ses(&aws, &config.mail_from), config.app_base_url.clone()).with_exports(bucket)
    }

    /// A batch of stream records (`{"Records": [...]}`, as Lambda sends it and as
    /// DynamoDB Streams' GetRecords answers), one record at a time, in order.
    pub async fn handle(&self, event: &Value) -> BatchResponse {
        let records = event.get("Records").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let mut response = BatchResponse::default();
        let (mut delivered, mut failed, mut retried) = (0, 0, 0);
        for record in records {
            let step = self.deliver(record).await;
            match step {
                Step::Delivered => delivered += 1,
                Step::Failed(_) => failed += 1,
                Step::Retry(_) => retried += 1,
                Step::Skipped(_) => {}
            }
            if let Step::Retry(_) = step {
                match sequence_number(record) {
                    Some(sequence) => response.fail(sequence),
                    None => tracing::error!(event_id = event_id(record), "a record to retry has no sequence number"),
                }
            }
        }
        shared::metrics::count("MessagesDelivered", delivered);
        shared::metrics::count("MessagesFailed", failed);
        shared::metrics::count("MessagesRetried", retried);
        response
    }

    /// Delivers the message a record announces, at most once unless a crash or a
    /// transient failure intervenes (then at least once).
    pub async fn deliver(&self, record: &Value) -> Step {
        let step = self.try_deliver(record).await;
        let (event_id, message_id) = (event_id(record), outbox_insert(record).unwrap_or("-"));
        match &step {
            Step::Delivered => {}
            // Only outbox inserts reach the function in AWS (the mapping's filter); the
            // local stream follower sees every change.
            Step::Skipped(NOT_AN_OUTBOX_INSERT) => tracing::debug!(event_id, "not an outbox insert"),
            Step::Skipped(why) => tracing::info!(event_id, message_id, why, "record passed over"),
            Step::Failed(why) => {
                tracing::warn!(event_id, message_id, why, "message failed for good; marked and passed over")
            }
            Step::Retry(why) => tracing::warn!(event_id, message_id, why, "message handed back to retry"),
        }
        step
    }

    async fn try_deliver(&self, record: &Value) -> Step {
        if let Some((user_id, export_id)) = export_insert(record) {
            return self.build_export(user_id, export_id).await;
        }
        let Some(id) = outbox_insert(record) else {
            return Step::Skipped(NOT_AN_OUTBOX_INSERT);
        };
        let item = match self.store.outbox().claim_message(id, self.store.now(), LEASE_SECS).await {
            Ok(Claim::Claimed(item)) => item,
            Ok(Claim::Settled(state)) => return Step::Skipped(state),
            Ok(Claim::Busy) => return Step::Retry("another delivery holds the message".into()),
            Err(err) => return Step::Retry(format!("claiming failed: {err}")),
        };
        let data = item.get("data").and_then(|d| d.as_m().ok());
        let secrets: Vec<&str> =
            outbox::SECRET_DATA.into_iter().filter(|k| data.is_some_and(|data| data.contains_key(*k))).collect();
        let message = match outbox::message_from_item(item) {
            Ok(message) => message,
            Err(_) => return self.fail(id, "the item is not a readable message".into(), &secrets).await,
        };
        let email = match compose(&message, &self.base_url) {
            Ok(email) => email,
            Err(why) => return self.fail(id, why, &secrets).await,
        };
        match self.transport.send(&message, &email).await {
            Ok(provider_id) => {
                let outcome = Outcome::Delivered { provider_id };
                if let Err(err) = self.store.outbox().settle_message(id, &outcome, &secrets).await {
                    // Sent is sent: a retry would send it again. The token expires with the item.
                    tracing::error!(message_id = id, error = %err, "delivered, but marking it so failed");
                }
                tracing::info!(message_id = id, kind = message.kind.as_str(), "message delivered");
                Step::Delivered
            }
            Err(SendError::Permanent(why)) => self.fail(id, why, &secrets).await,
            Err(SendError::Transient(why)) => {
                if let Err(err) = self.store.outbox().release_message(id).await {
                    tracing::warn!(message_id = id, error = %err, "releasing the lease failed; it runs out by itself");
                }
                Step::Retry(why)
            }
        }
    }

    /// Builds a data export the stream announced (its message then comes back through
    /// the stream like any other). A failure that may pass is handed back to retry.
    async fn build_export(&self, user_id: &str, export_id: &str) -> Step {
        let Some(bucket) = &self.exports else {
            return Step::Retry("this notifier has no export bucket (EXPORT_BUCKET)".into());
        };
        // Boxed: the builder's future is deep, and it is one per export, not per message.
        let builder = ExportBuilder::new(&self.store, bucket);
        match Box::pin(builder.build(OfUser { user_id, id: export_id })).await {
            Ok(Built::Ready) => Step::Delivered,
            Ok(Built::Skipped) => Step::Skipped("the export was settled before"),
            Ok(Built::Failed) => Step::Failed("the account is gone".into()),
            Err(err) => Step::Retry(format!("building the export failed: {err}")),
        }
    }

    async fn fail(&self, id: &str, reason: String, secrets: &[&str]) -> Step {
        match self.store.outbox().settle_message(id, &Outcome::Failed { reason: reason.clone() }, secrets).await {
            Ok(()) => Step::Failed(reason),
            Err(err) => Step::Retry(format!("marking the message failed did not work: {err}")),
        }
    }
}

/// The user and export ids of an `INSERT` record of a data export's item.
fn export_insert(record: &Value) -> Option<(&str, &str)> {
    if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
        return None;
    }
    let pk = record.pointer("/dynamodb/Keys/PK/S").and_then(Value::as_str)?;
    let sk = record.pointer("/dynamodb/Keys/SK/S").and_then(Value::as_str)?;
    Some((keys::export::user_id(pk)?, keys::export::export_id(sk)?))
}

/// The outbox message id of an `INSERT` record of an outbox item, read from its keys
/// alone (DynamoDB Local renders empty maps in images in a form the SDK's stream types
/// refuse; keys are plain strings).
fn outbox_insert(record: &Value) -> Option<&str> {
    if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
        return None;
    }
    let pk = record.pointer("/dynamodb/Keys/PK/S").and_then(Value::as_str)?;
    outbox::message_id(pk)
}

fn sequence_number(record: &Value) -> Option<&str> {
    record.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str)
}

fn event_id(record: &Value) -> &str {
    record.get("eventID").and_then(Value::as_str).unwrap_or("-")
}
