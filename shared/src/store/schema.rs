//! The one definition of the table: local tables are created from it, and a test checks
//! that `template.yaml` declares exactly the same keys, indexes, TTL and stream.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::keys;
use crate::error::BoxError;

pub struct IndexDefinition {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// `ALL` or `KEYS_ONLY`.
    pub projection: &'static str,
}

/// Every key attribute of the table and its indexes, with its type (`S` or `N`).
pub const KEY_ATTRIBUTES: &[(&str, &str)] = &[
    (keys::PK, "S"),
    (keys::SK, "S"),
    (keys::gsi1::PK, "S"),
    (keys::gsi1::SK, "S"),
    (keys::expiry::BUCKET, "S"),
    (keys::expiry::AT, "N"),
];

pub const INDEXES: &[IndexDefinition] = &[
    // Inverted lookups: follower/following/request/block lists newest first, search
    // entries, the moderation queue. Keys only: readers fetch the current items by key.
    IndexDefinition {
        name: keys::gsi1::NAME,
        partition_key: keys::gsi1::PK,
        sort_key: keys::gsi1::SK,
        projection: "KEYS_ONLY",
    },
    // Sparse: only items that expire carry `expiryBucket`; cleanup reads past buckets.
    IndexDefinition {
        name: keys::expiry::NAME,
        partition_key: keys::expiry::BUCKET,
        sort_key: keys::expiry::AT,
        projection: "KEYS_ONLY",
    },
];

/// DynamoDB TTL deletes items some time (up to days) after this epoch-seconds attribute.
pub const TTL_ATTRIBUTE: &str = keys::expiry::AT;
/// Keys only: stream readers read what a record names from the table, so no secret
/// (a password hash, a raw one-time token) ever enters the stream.
pub const STREAM_VIEW_TYPE: &str = "KEYS_ONLY";

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder().attribute_name(name).key_type(key_type).build()?)
}

/// Creates the table as defined above (on-demand, stream on) and turns TTL on.
pub async fn create_table(client: &Client, table: &str) -> Result<(), BoxError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(keys::PK, KeyType::Hash)?)
        .key_schema(key(keys::SK, KeyType::Range)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE))
                .build()?,
        );
    for (name, kind) in KEY_ATTRIBUTES {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::from(*kind))
                .build()?,
        );
    }
    for index in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition_key, KeyType::Hash)?)
                .key_schema(key(index.sort_key, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::from(index.projection)).build())
                .build()?,
        );
    }
    request.send().await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL_ATTRIBUTE).enabled(true).build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// Creates the table unless it exists (the local server's start-up).
pub async fn ensure_table(client: &Client, table: &str) -> Result<bool, BoxError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(false),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            create_table(client, table).await?;
            Ok(true)
        }
        Err(err) => Err(err.into()),
    }
}
