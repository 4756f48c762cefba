//! The local stand-in for the stream consumers' event source mappings: follows the
//! table's stream in DynamoDB Local and hands each batch of records to the same code
//! that Lambda runs (`notify::Notifier`, `events::Publisher`), in the same JSON.
//!
//! GetRecords is read as plain JSON, not through the SDK's stream types: DynamoDB Local
//! renders an empty map as `{}` (without its `M`) in stream images, and the SDK refuses
//! a whole batch for one such value. DynamoDB Local checks no signatures, so these few
//! calls need none.

use std::collections::HashMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use shared::error::BoxError;

const POLL_EVERY: Duration = Duration::from_millis(500);
/// Records handed back this many times are given up (in AWS: the dead-letter queue).
const MAX_ATTEMPTS: u32 = 5;

/// A consumer of stream batches: the sequence numbers it hands back to retry.
pub trait Consumer: Send + Sync + 'static {
    fn handle(&self, batch: &Value) -> impl std::future::Future<Output = Vec<String>> + Send;
}

impl Consumer for notify::Notifier {
    async fn handle(&self, batch: &Value) -> Vec<String> {
        let response = notify::Notifier::handle(self, batch).await;
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }
}

impl Consumer for events::Publisher {
    async fn handle(&self, batch: &Value) -> Vec<String> {
        let records = batch.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
        let response = self.publish_batch(&records).await;
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    }
}

impl<C: Consumer> Consumer for std::sync::Arc<C> {
    async fn handle(&self, batch: &Value) -> Vec<String> {
        C::handle(self, batch).await
    }
}

pub struct StreamFollower {
    http: Client<HttpConnector, Full<bytes::Bytes>>,
    endpoint: String,
    arn: String,
    /// The next iterator of every shard seen; `None` once a closed shard is read out.
    iterators: HashMap<String, Option<String>>,
    /// Records handed back by the consumer, with how often they were tried.
    retries: Vec<(Value, u32)>,
}

impl StreamFollower {
    /// Follows the stream of `table` at `endpoint` (DynamoDB Local's URL).
    pub async fn new(endpoint: &str, table: &str) -> Result<Self, BoxError> {
        let http = Client::builder(TokioExecutor::new()).build_http();
        let mut follower = StreamFollower {
            http,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            arn: String::new(),
            iterators: HashMap::new(),
            retries: Vec::new(),
        };
        let described = follower.call("DynamoDB_20120810.DescribeTable", json!({ "TableName": table })).await?;
        follower.arn = described
            .pointer("/Table/LatestStreamArn")
            .and_then(Value::as_str)
            .ok_or("the table has no stream")?
            .to_owned();
        Ok(follower)
    }

    /// Delivers what the stream holds, then what arrives, until the process ends.
    /// Every shard is read from its start: a message written while the server was
    /// down is delivered when it is back, and one delivered before is passed over.
    pub async fn run(mut self, consumer: impl Consumer) {
        loop {
            if let Err(err) = self.poll(&consumer).await {
                tracing::warn!(error = %err, "reading the table stream failed; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn poll(&mut self, consumer: &impl Consumer) -> Result<(), BoxError> {
        let retries = std::mem::take(&mut self.retries);
        if !retries.is_empty() {
            self.deliver(consumer, retries).await;
        }
        let stream = self.call("DynamoDBStreams_20120810.DescribeStream", json!({ "StreamArn": self.arn })).await?;
        let shards = stream.pointer("/StreamDescription/Shards").and_then(Value::as_array).cloned().unwrap_or_default();
        for shard in shards.iter().filter_map(|s| s.get("ShardId").and_then(Value::as_str)) {
            if self.iterators.contains_key(shard) {
                continue;
            }
            let request = json!({ "StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" });
            let iterator = self.call("DynamoDBStreams_20120810.GetShardIterator", request).await?;
            let iterator = iterator.get("ShardIterator").and_then(Value::as_str).map(str::to_owned);
            self.iterators.insert(shard.to_owned(), iterator);
        }
        let shards: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shards {
            let Some(Some(iterator)) = self.iterators.get(&shard).cloned() else { continue };
            let out = match self.call("DynamoDBStreams_20120810.GetRecords", json!({ "ShardIterator": iterator })).await
            {
                Ok(out) => out,
                Err(err) => {
                    // An expired iterator: read the shard again from its start next time.
                    self.iterators.remove(&shard);
                    return Err(err);
                }
            };
            let records = out.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
            let next = out.get("NextShardIterator").and_then(Value::as_str).map(str::to_owned);
            self.iterators.insert(shard, next);
            if !records.is_empty() {
                self.deliver(consumer, records.into_iter().map(|r| (r, 0)).collect()).await;
            }
        }
        Ok(())
    }

    /// One batch through the consumer, as Lambda would send it; what it hands back is
    /// tried again at the next poll.
    async fn deliver(&mut self, consumer: &impl Consumer, batch: Vec<(Value, u32)>) {
        let records: Vec<&Value> = batch.iter().map(|(record, _)| record).collect();
        let failures = consumer.handle(&json!({ "Records": records })).await;
        for failure in failures {
            let sequence = Some(failure.as_str());
            let Some((record, attempts)) =
                batch.iter().find(|(r, _)| r.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str) == sequence)
            else {
                continue;
            };
            if attempts + 1 >= MAX_ATTEMPTS {
                tracing::error!(sequence = failure, "a record kept failing; given up");
            } else {
                self.retries.push((record.clone(), attempts + 1));
            }
        }
    }

    async fn call(&self, target: &str, body: Value) -> Result<Value, BoxError> {
        let request = http::Request::post(&self.endpoint)
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(bytes::Bytes::from(body.to_string())))?;
        let response = self.http.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!("{target} answered {status}: {}", String::from_utf8_lossy(&bytes)).into());
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}
