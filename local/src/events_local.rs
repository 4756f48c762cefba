//! Account events locally, as the `events` function runs them in AWS: the same
//! `events::Publisher`, fed by DynamoDB Local's stream, publishing to moto's EventBridge
//! and queueing webhook deliveries in moto's SQS, whose messages (delays and all) this
//! module polls and hands to the same delivery code. Needs moto (`scripts/dev` starts
//! it): without `AWS_ENDPOINT_URL_SQS`, or with `LOCAL_EVENTS=0`, events stay in the table.

use std::time::Duration;

use serde_json::{json, Value};
use shared::error::BoxError;
use shared::AppState;

pub const BUS: &str = "user-service-events";
pub const QUEUE: &str = "user-service-webhooks";
pub const DEAD_LETTERS: &str = "user-service-events-dead-letters";

/// The queue URLs of a local set-up (created if missing).
pub struct LocalQueues {
    pub deliveries: String,
    pub dead_letters: String,
}

pub async fn create_queues(sqs: &aws_sdk_sqs::Client) -> Result<LocalQueues, BoxError> {
    let mut urls = Vec::new();
    for name in [QUEUE, DEAD_LETTERS] {
        let out = sqs.create_queue().queue_name(name).send().await?;
        urls.push(out.queue_url.ok_or("CreateQueue answered no URL")?);
    }
    let dead_letters = urls.pop().unwrap_or_default();
    Ok(LocalQueues { deliveries: urls.pop().unwrap_or_default(), dead_letters })
}

pub async fn create_bus(eventbridge: &aws_sdk_eventbridge::Client) -> Result<(), BoxError> {
    let known = eventbridge.list_event_buses().name_prefix(BUS).send().await?;
    if !known.event_buses().iter().any(|b| b.name() == Some(BUS)) {
        eventbridge.create_event_bus().name(BUS).send().await?;
    }
    Ok(())
}

pub async fn start_events(state: &AppState) -> Result<(), BoxError> {
    if std::env::var("LOCAL_EVENTS").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    if std::env::var("AWS_ENDPOINT_URL_SQS").is_err() {
        tracing::warn!("no local SQS (AWS_ENDPOINT_URL_SQS): account events are kept in the table, not published");
        return Ok(());
    }
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok() else {
        return Ok(());
    };
    let aws = shared::aws::sdk_config(state.config.tls_native_roots).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queues = create_queues(&sqs).await?;
    create_bus(&aws_sdk_eventbridge::Client::new(&aws)).await?;
    let settings = events::Settings::from_env()?;
    let key = state.webhook_key.clone().ok_or("the local server has no webhook key")?;
    let deliverer = events::Deliverer::new(
        state.store.clone(),
        key,
        state.config.webhook_urls,
        settings.webhook_timeout,
        events::deliver::system_resolver(),
    );
    let queue = events::Queue::new(&aws, queues.deliveries.clone(), Some(queues.dead_letters));
    let bus = events::Bus::new(&aws, BUS);
    let publisher = std::sync::Arc::new(events::Publisher::new(state.store.clone(), Some(bus), queue, deliverer));
    let follower = crate::stream::StreamFollower::new(&endpoint, state.store.table()).await?;
    tokio::spawn(follower.run(publisher.clone()));
    tokio::spawn(poll_deliveries(sqs, queues.deliveries, publisher));
    tracing::info!(bus = BUS, queue = QUEUE, "account events: published to EventBridge and webhooks (moto)");
    Ok(())
}

/// The local stand-in for the delivery queue's event source mapping: receives what is
/// due, hands it to the deliverer as Lambda would, and deletes what it handled.
pub async fn poll_deliveries(sqs: aws_sdk_sqs::Client, url: String, publisher: std::sync::Arc<events::Publisher>) {
    loop {
        if let Err(err) = poll_once(&sqs, &url, &publisher).await {
            tracing::warn!(error = %err, "reading the delivery queue failed; trying again");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

pub async fn poll_once(sqs: &aws_sdk_sqs::Client, url: &str, publisher: &events::Publisher) -> Result<usize, BoxError> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .visibility_timeout(60)
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| json!({ "messageId": m.message_id(), "body": m.body(), "eventSource": "aws:sqs" }))
        .collect();
    let response = publisher.deliver_batch(&records).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    for message in &messages {
        if !message.message_id().is_some_and(|id| failed.contains(&id)) {
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message().queue_url(url).receipt_handle(handle).send().await?;
            }
        }
    }
    Ok(messages.len())
}
