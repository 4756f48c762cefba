//! The single DynamoDB table. Every item type, its keys and its access patterns live
//! here; nothing in this module knows about HTTP.

mod accounts;
mod call_metrics;
pub mod ceremonies;
pub mod cleanup;
pub mod consistency;
mod email;
pub mod events;
pub mod exports;
pub mod graph;
pub mod identities;
pub mod imports;
pub mod keys;
mod mfa;
pub mod moderation;
pub mod one_time;
pub mod outbox;
pub mod pages;
pub mod passkeys;
pub mod purge;
mod rate_limits;
pub mod reports;
pub mod schema;
pub mod search;
pub mod securing;
pub mod security_events;
mod sessions;
mod users;
pub mod webhooks;
mod writes;

pub use call_metrics::CallMetrics;
pub use email::EmailSwap;
pub use rate_limits::TakenHit;
pub use sessions::{EndDevices, GenerationBump, KeptSession, RefreshRotation};
pub use users::{Claim, LoginWrite, SignUp};

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_types::timeout::TimeoutConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AppError, AppResult, Context};

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    clock: crate::clock::Clock,
}

impl Store {
    /// A client with bounded timeouts, so an unreachable DynamoDB answers 503 quickly
    /// instead of hanging until API Gateway gives up.
    pub fn new(aws: &aws_config::SdkConfig, table: impl Into<Arc<str>>, timeout: Duration) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(aws)
            .timeout_config(timeouts(timeout))
            .interceptor(call_metrics::CallMetrics)
            .build();
        Store::from_client(Client::from_conf(config), table)
    }

    /// The store as configured: AWS's default credential chain and endpoint (or
    /// `AWS_ENDPOINT_URL_DYNAMODB`), `TABLE_NAME`, `DYNAMODB_TIMEOUT_MS`.
    pub async fn from_config(config: &crate::config::Config) -> Self {
        let aws = crate::aws::sdk_config(config.tls_native_roots).await;
        Store::new(&aws, config.table_name.clone(), Duration::from_millis(config.dynamodb_timeout_ms))
    }

    pub fn from_client(client: Client, table: impl Into<Arc<str>>) -> Self {
        Store { client, table: table.into(), clock: Default::default() }
    }

    /// The same store reading the time from `clock` (tests move it).
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Store { clock, ..self }
    }

    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    /// The time every expiry, window and timestamp of the service is taken from.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table's requests, each with its table name set; the caller adds the rest.
    pub(crate) fn query(&self) -> QueryFluentBuilder {
        self.client.query().table_name(self.table())
    }

    pub(crate) fn get_item(&self) -> GetItemFluentBuilder {
        self.client.get_item().table_name(self.table())
    }

    pub(crate) fn update_item(&self) -> UpdateItemFluentBuilder {
        self.client.update_item().table_name(self.table())
    }

    pub(crate) fn delete_item(&self) -> DeleteItemFluentBuilder {
        self.client.delete_item().table_name(self.table())
    }

    /// The items of partition `pk` whose sort key starts with `prefix`, read consistently.
    pub(crate) fn prefix_query(&self, pk: String, prefix: &str) -> QueryFluentBuilder {
        self.query()
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    /// One item by its full key, read strongly consistently.
    async fn get<T: DeserializeOwned>(&self, key: Item) -> Result<Option<T>, AppError> {
        let doing = format!("GetItem {}", key_kind(&key));
        let out = self.get_item().set_key(Some(key)).consistent_read(true).send().await.map_err(dynamo_error(doing))?;
        out.item.map(from_item).transpose()
    }
}

/// The rooms: one handle per area of the table, each in its file, so a call says where
/// it lives (`store.graph().follow(..)`).
impl Store {
    pub fn users(&self) -> users::Users<'_> {
        users::Users { store: self }
    }

    pub fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts { store: self }
    }

    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions { store: self }
    }

    pub fn factors(&self) -> mfa::Factors<'_> {
        mfa::Factors { store: self }
    }

    pub fn one_time_tokens(&self) -> one_time::OneTimeTokens<'_> {
        one_time::OneTimeTokens { store: self }
    }

    pub fn limits(&self) -> rate_limits::Limits<'_> {
        rate_limits::Limits { store: self }
    }

    pub fn search(&self) -> search::Search<'_> {
        search::Search { store: self }
    }

    pub fn graph(&self) -> graph::Graph<'_> {
        graph::Graph { store: self }
    }

    pub fn reports(&self) -> reports::Reports<'_> {
        reports::Reports { store: self }
    }

    pub fn moderation(&self) -> moderation::Moderation<'_> {
        moderation::Moderation { store: self }
    }

    pub fn exports(&self) -> exports::Exports<'_> {
        exports::Exports { store: self }
    }

    pub fn outbox(&self) -> outbox::Outbox<'_> {
        outbox::Outbox { store: self }
    }

    pub fn cleanup(&self) -> cleanup::Cleanup<'_> {
        cleanup::Cleanup { store: self }
    }

    pub fn purge(&self) -> purge::Purge<'_> {
        purge::Purge { store: self }
    }

    pub fn consistency(&self) -> consistency::Consistency<'_> {
        consistency::Consistency { store: self }
    }

    pub fn security_events(&self) -> security_events::SecurityEvents<'_> {
        security_events::SecurityEvents { store: self }
    }

    pub fn passkeys(&self) -> passkeys::Passkeys<'_> {
        passkeys::Passkeys { store: self }
    }

    pub fn ceremonies(&self) -> ceremonies::Ceremonies<'_> {
        ceremonies::Ceremonies { store: self }
    }

    pub fn identities(&self) -> identities::Identities<'_> {
        identities::Identities { store: self }
    }

    pub fn events(&self) -> events::Events<'_> {
        events::Events { store: self }
    }

    pub fn webhooks(&self) -> webhooks::Webhooks<'_> {
        webhooks::Webhooks { store: self }
    }

    pub fn imports(&self) -> imports::Imports<'_> {
        imports::Imports { store: self }
    }
}

/// Items by key, any number of them (in requests of 100, run concurrently, asking
/// again for unprocessed keys), read consistently. Missing items are simply absent.
pub(crate) async fn batch_get(store: &Store, keys: Vec<Item>) -> AppResult<Vec<Item>> {
    batch_get_with(store, keys, true).await
}

/// Like `Store::batch_get`, read strongly consistently or not (half the read units).
pub(crate) async fn batch_get_with(store: &Store, mut keys: Vec<Item>, consistent: bool) -> AppResult<Vec<Item>> {
    // BatchGetItem refuses a request that names a key twice.
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert((sort_key(k).to_owned(), k.get(keys::PK).and_then(|v| v.as_s().ok()).cloned())));
    let chunks = keys.chunks(100).map(|chunk| batch_get_chunk(store, chunk.to_vec(), consistent));
    let results = futures_util::future::try_join_all(chunks).await?;
    Ok(results.into_iter().flatten().collect())
}

/// One `BatchGetItem` of at most 100 keys, asking again for the unprocessed ones.
async fn batch_get_chunk(store: &Store, keys: Vec<Item>, consistent: bool) -> AppResult<Vec<Item>> {
    let doing =
        format!("BatchGetItem {} keys, the first {}", keys.len(), keys.first().map(key_kind).unwrap_or_default());
    let mut found = Vec::with_capacity(keys.len());
    let mut request = Some(
        aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .context("building a KeysAndAttributes")?,
    );
    for attempt in 0..6u64 {
        let Some(keys) = request.take() else {
            return Ok(found);
        };
        let out = store
            .client
            .batch_get_item()
            .request_items(store.table(), keys)
            .send()
            .await
            .map_err(dynamo_error(doing.clone()))?;
        found.extend(out.responses.unwrap_or_default().into_values().flatten());
        request = out.unprocessed_keys.and_then(|mut u| u.remove(store.table()));
        if request.is_some() {
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
    }
    match request {
        None => Ok(found),
        Some(_) => Err(AppError::ServiceUnavailable("batch read kept returning unprocessed keys".into())),
    }
}

/// Deletes items by key, 25 to a BatchWriteItem, asking again for unprocessed ones.
/// Deleting an item that is already gone is no error.
pub(crate) async fn delete_items(store: &Store, keys: Vec<Item>) -> AppResult<()> {
    for chunk in keys.chunks(25) {
        let doing = format!("BatchWriteItem {} deletes, the first {}", chunk.len(), key_kind(&chunk[0]));
        let mut requests = chunk
            .iter()
            .map(|k| {
                let delete = aws_sdk_dynamodb::types::DeleteRequest::builder().set_key(Some(k.clone())).build();
                delete.map(|d| aws_sdk_dynamodb::types::WriteRequest::builder().delete_request(d).build())
            })
            .collect::<Result<Vec<_>, _>>()
            .context("building a WriteRequest")?;
        for attempt in 0..6u64 {
            let out = store
                .client
                .batch_write_item()
                .request_items(store.table(), requests)
                .send()
                .await
                .map_err(dynamo_error(doing.clone()))?;
            requests = out.unprocessed_items.and_then(|mut u| u.remove(store.table())).unwrap_or_default();
            if requests.is_empty() {
                break;
            }
            if attempt == 5 {
                return Err(AppError::ServiceUnavailable("batch delete kept returning unprocessed items".into()));
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
    }
    Ok(())
}

/// The bounds on every DynamoDB call: `timeout` for the whole operation, retries
/// included, and at most a second to connect.
pub fn timeouts(timeout: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1000).min(timeout))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build()
}

/// The key of an item.
pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([(keys::PK.to_owned(), AttributeValue::S(pk)), (keys::SK.to_owned(), AttributeValue::S(sk))])
}

/// What the claims copy from the user item, changed in the same transaction.
#[derive(Default, Clone, Copy)]
pub struct ClaimCopies<'a> {
    pub password_hash: Option<&'a str>,
    pub device_generation: Option<i64>,
}

/// The sort key of an item.
pub(crate) fn sort_key(item: &Item) -> &str {
    item.get(keys::SK).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

/// A record as an item under the given key.
pub(crate) fn to_item<T: Serialize>(record: &T, key: Item) -> Result<Item, AppError> {
    let mut item: Item = serde_dynamo::to_item(record).context("serializing a record as an item")?;
    item.extend(key);
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, AppError> {
    serde_dynamo::from_item(item)
        .map_err(|err| AppError::internal(err).doing(format!("reading an item as {}", std::any::type_name::<T>())))
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A time exactly as the records serialize it, so conditions comparing it match.
pub(crate) fn time(value: &chrono::DateTime<chrono::Utc>) -> AttributeValue {
    serde_dynamo::to_attribute_value(value).unwrap_or_else(|_| AttributeValue::S(value.to_rfc3339()))
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The outcome of a conditional write: `false` when its condition did not hold.
#[track_caller]
pub(crate) fn conditional_write<T, E, R>(result: Result<T, SdkError<E, R>>, doing: String) -> Result<bool, AppError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException") => {
            Ok(false)
        }
        Err(err) => Err(dynamo_error(doing)(err)),
    }
}

/// The kind of an item's key, for an error's context: each part up to its first `#`,
/// so no id or address shows (`USER#/SESSION#`, `USER#/PROFILE`).
pub(crate) fn key_kind(key: &Item) -> String {
    let part = |name: &str| {
        let value = key.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
        match value.split_once('#') {
            Some((kind, _)) => format!("{kind}#"),
            None if value.chars().all(|c| c.is_ascii_uppercase() || c == '_') => value.to_owned(),
            None => "…".to_owned(),
        }
    };
    format!("{}/{}", part(keys::PK), part(keys::SK))
}

/// What became of a DynamoDB call's error: unreachable, timed out or throttled is 503
/// (a client may retry); anything else is a bug or a misconfiguration, 500. `doing`
/// names the call (`UpdateItem USER#/PROFILE`, `Query the sessions of a user`), and the
/// error says it and the line that made the call.
#[track_caller]
pub fn dynamo_error<E, R>(doing: impl Into<Cow<'static, str>>) -> impl FnOnce(SdkError<E, R>) -> AppError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let (doing, at) = (doing.into(), Location::caller());
    move |err| classify(err).doing_at(doing, at)
}

fn classify<E, R>(err: SdkError<E, R>) -> AppError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let unavailable = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(ctx) => matches!(
            ctx.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            )
        ),
        _ => false,
    };
    if unavailable {
        return AppError::ServiceUnavailable(Box::new(err));
    }
    // Input is bounded before it becomes a key; should a value still outgrow DynamoDB's
    // key limits, that is the request's fault, not a 500.
    if let SdkError::ServiceError(ctx) = &err {
        let message = ctx.err().message().unwrap_or_default().to_lowercase();
        if ctx.err().code() == Some("ValidationException") && message.contains("size") && message.contains("key") {
            tracing::warn!(error = %message, "a key built from the request was too large");
            return AppError::validation("request", "a value in the request is too long");
        }
    }
    AppError::Internal(Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error names the kind of key it touched, never an id, an address or a hash.
    #[test]
    fn a_key_kind_shows_no_id() {
        let id = "0b7c2f6e-6f1d-4c3e-9a55-3e2b1d9c8a70";
        for (key, kind) in [
            (keys::session::key(id, "s-1"), "USER#/SESSION#"),
            (keys::user::key(id), "USER#/PROFILE"),
            (keys::claim::email("ada@example.org"), "EMAIL#/EMAIL"),
            (keys::token::key("q83vEjRWeJA", "RESET"), "TOKEN#/RESET"),
            (key("q83vEjRWeJA".into(), "lower-case".into()), "…/…"),
        ] {
            let shown = key_kind(&key);
            assert_eq!(shown, kind);
            assert!(!shown.contains(id) && !shown.contains("ada") && !shown.contains("q83v"), "{shown}");
        }
    }
}
