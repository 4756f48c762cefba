//! The SQS side: the queue of webhook deliveries (one message per event and endpoint,
//! sent again with a delay for each retry) and the dead-letter queue where records that
//! can never be handled are set aside with their reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// SQS delays a message by at most 15 minutes; a longer wait is a chain of them.
pub const MAX_DELAY_SECS: i64 = 900;

/// One delivery of one event to one endpoint, as a queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The event's JSON, sent as it is.
    pub body: String,
    /// 1 for the first try.
    pub attempt: u32,
    pub first_attempt_at: DateTime<Utc>,
    /// Not to be tried before this (a wait longer than one SQS delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
}

pub struct Queue {
    client: aws_sdk_sqs::Client,
    deliveries_url: String,
    dead_letters_url: Option<String>,
}

impl Queue {
    pub fn new(aws: &aws_config::SdkConfig, deliveries_url: String, dead_letters_url: Option<String>) -> Self {
        Queue { client: aws_sdk_sqs::Client::new(aws), deliveries_url, dead_letters_url }
    }

    /// Queues `jobs` to be tried now, 10 to a call; `Err` names what could not be queued.
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<(), String> {
        for chunk in jobs.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    let body = serde_json::to_string(job).map_err(|e| e.to_string())?;
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, String>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.deliveries_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("SendMessageBatch: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
            if !out.failed.is_empty() {
                return Err(format!("the queue refused {} deliveries", out.failed.len()));
            }
        }
        Ok(())
    }

    /// Queues `job` to be tried at `at` (or, further away, looked at again in 15 minutes).
    pub async fn schedule(&self, mut job: Job, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
        let wait = (at - now).num_seconds().clamp(0, MAX_DELAY_SECS);
        job.not_before = Some(at);
        let body = serde_json::to_string(&job).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.deliveries_url)
            .message_body(body)
            .delay_seconds(wait as i32)
            .send()
            .await
            .map_err(|e| format!("SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }

    /// Sets a record that can never be handled aside, with why; `Err` when that failed too.
    pub async fn set_aside(&self, record: &Value, reason: &str) -> Result<(), String> {
        let Some(url) = &self.dead_letters_url else {
            tracing::error!(reason, "no dead-letter queue (EVENTS_DEAD_LETTER_QUEUE_URL): the record is dropped");
            return Ok(());
        };
        let body = serde_json::json!({ "reason": reason, "record": record }).to_string();
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| format!("SendMessage (dead letters): {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))?;
        Ok(())
    }
}
