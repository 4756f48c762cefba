//! moto's SQS and EventBridge as a consumer of account events uses them: a queue that a
//! rule on the bus feeds, and the messages a queue holds.

use serde_json::Value;

/// A new queue fed by a rule on `bus` for every event of the user service.
pub async fn bus_target(aws: &aws_config::SdkConfig, bus: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let eventbridge = aws_sdk_eventbridge::Client::new(aws);
    let name = format!("bus-target-{}", uuid::Uuid::new_v4().simple());
    let queue = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let arn_name = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
    let attributes = sqs.get_queue_attributes().queue_url(&queue).attribute_names(arn_name.clone()).send().await;
    let arn = attributes.unwrap().attributes.unwrap()[&arn_name].clone();
    let pattern = serde_json::json!({ "source": ["user-service"] }).to_string();
    eventbridge.put_rule().name(&name).event_bus_name(bus).event_pattern(pattern).send().await.unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(arn).build().unwrap();
    eventbridge.put_targets().rule(&name).event_bus_name(bus).targets(target).send().await.unwrap();
    (sqs, queue)
}

/// The messages of `url` that one long poll (a second) finds, deleted as read.
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let out =
        sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
    let mut found = Vec::new();
    for message in out.messages.unwrap_or_default() {
        found.push(serde_json::from_str(message.body().unwrap()).unwrap());
        let handle = message.receipt_handle().unwrap();
        sqs.delete_message().queue_url(url).receipt_handle(handle).send().await.unwrap();
    }
    found
}
