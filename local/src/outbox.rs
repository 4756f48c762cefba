//! The local stand-in for the notification service: reads the table's stream, as the
//! real one does in AWS, and prints every new outbox message with its link, so a
//! developer can click through verification and password reset.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, ShardIteratorType};
use shared::error::BoxError;

const POLL_EVERY: Duration = Duration::from_secs(1);

/// Follows the stream until the process ends. Messages written before the server
/// started are not printed again.
pub async fn print_messages(aws: &aws_config::SdkConfig, table: &str) -> Result<(), BoxError> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let streams = aws_sdk_dynamodbstreams::Client::new(aws);
    let described = dynamodb.describe_table().table_name(table).send().await?;
    let arn = described.table.and_then(|t| t.latest_stream_arn).ok_or("the table has no stream")?;
    // Shards seen at start are read from their end; shards that appear later, whole.
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut first_pass = true;
    loop {
        let stream = streams.describe_stream().stream_arn(&arn).send().await?;
        for shard in stream.stream_description.and_then(|d| d.shards).unwrap_or_default() {
            let Some(id) = shard.shard_id else { continue };
            if iterators.contains_key(&id) {
                continue;
            }
            let kind = if first_pass { ShardIteratorType::Latest } else { ShardIteratorType::TrimHorizon };
            let iterator =
                streams.get_shard_iterator().stream_arn(&arn).shard_id(&id).shard_iterator_type(kind).send().await?;
            iterators.insert(id, iterator.shard_iterator);
        }
        first_pass = false;
        for iterator in iterators.values_mut() {
            let Some(current) = iterator.take() else { continue };
            let out = streams.get_records().shard_iterator(current).send().await?;
            for record in out.records.unwrap_or_default() {
                if record.event_name != Some(OperationType::Insert) {
                    continue;
                }
                if let Some(image) = record.dynamodb.and_then(|d| d.new_image) {
                    print_if_message(&image);
                }
            }
            *iterator = out.next_shard_iterator;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn text(image: &HashMap<String, AttributeValue>, name: &str) -> String {
    image.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn print_if_message(image: &HashMap<String, AttributeValue>) {
    if !text(image, "PK").starts_with("OUTBOX#") {
        return;
    }
    println!("\n── outbox: {} to {} ──", text(image, "kind"), text(image, "to"));
    if let Some(Ok(data)) = image.get("data").map(AttributeValue::as_m) {
        let mut fields: Vec<_> = data.iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in fields {
            if let Ok(value) = value.as_s() {
                println!("   {name}: {value}");
            }
        }
    }
}
