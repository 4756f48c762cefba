//! Webhook endpoints and their deliveries. An endpoint is one item (its secrets sealed),
//! listed in `GSI1`; each delivery attempt is an item in the endpoint's partition that
//! TTL removes after 30 days. Registering, rotating and deleting go through the staff
//! write (with their audit entries); the `events` function records deliveries and moves
//! an endpoint's failing state.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::pages::PageKey;
use super::{dynamo_error, from_item, keys, n, s, time, to_item, Store};
use crate::domain::webhook::{Delivery, WebhookRecord};
use crate::error::{AppResult, Context};

const DELIVERY_TTL_DAYS: i64 = 30;

#[derive(Clone, Copy)]
pub struct Webhooks<'a> {
    pub(super) store: &'a Store,
}

pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub last_key: Option<PageKey>,
}

impl Webhooks<'_> {
    /// A new endpoint's put, listed in `GSI1`.
    pub fn create(self, webhook: &WebhookRecord) -> AppResult<TransactWriteItem> {
        let mut item = to_item(webhook, keys::webhook::key(&webhook.id))?;
        item.insert(keys::gsi1::PK.into(), s(keys::webhook::LIST));
        item.insert(keys::gsi1::SK.into(), s(keys::webhook::list_sk(webhook.created_at, &webhook.id)));
        self.store.put_new(item)
    }

    /// The endpoint written over with `after` (a rotation), if it still is the version read.
    pub fn replace(self, after: &WebhookRecord, seen_version: i64) -> AppResult<TransactWriteItem> {
        let mut item = to_item(after, keys::webhook::key(&after.id))?;
        item.insert(keys::gsi1::PK.into(), s(keys::webhook::LIST));
        item.insert(keys::gsi1::SK.into(), s(keys::webhook::list_sk(after.created_at, &after.id)));
        let put = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_exists(PK) AND version = :seen")
            .expression_attribute_values(":seen", n(seen_version))
            .build()
            .context("building a Put")?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The endpoint's delete, if it is still there (its deliveries go with their TTL).
    pub fn delete(self, id: &str) -> AppResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::webhook::key(id)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .context("building a Delete")?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub async fn get(self, id: &str) -> AppResult<Option<WebhookRecord>> {
        self.store.get(keys::webhook::key(id)).await
    }

    /// Every endpoint, oldest first (there are at most 20).
    pub async fn list(self) -> AppResult<Vec<WebhookRecord>> {
        let mut pages = super::pages::Pages::of(
            self.store
                .query()
                .index_name(keys::gsi1::NAME)
                .key_condition_expression("#pk = :list")
                .expression_attribute_names("#pk", keys::gsi1::PK)
                .expression_attribute_values(":list", s(keys::webhook::LIST)),
            "the webhooks (GSI1)",
        );
        // The index holds keys only: the endpoints are read by them.
        let mut endpoints = Vec::new();
        while let Some(out) = pages.next().await? {
            endpoints.extend(out.items.unwrap_or_default().into_iter().map(|mut item| {
                item.retain(|name, _| name == keys::PK || name == keys::SK);
                item
            }));
        }
        let mut found: Vec<WebhookRecord> =
            super::batch_get(self.store, endpoints).await?.into_iter().map(from_item).collect::<AppResult<_>>()?;
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(found)
    }

    /// Records one attempt.
    pub async fn record_delivery(self, webhook_id: &str, delivery: &Delivery) -> AppResult<()> {
        let key = keys::webhook::delivery_key(webhook_id, delivery.at, &delivery.event_id, delivery.attempt);
        let mut item = to_item(delivery, key)?;
        item.insert(keys::expiry::AT.into(), n(delivery.at.timestamp() + DELIVERY_TTL_DAYS * 86_400));
        self.store
            .client()
            .put_item()
            .table_name(self.store.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_error("PutItem WEBHOOK#/DELIVERY#"))?;
        Ok(())
    }

    /// A page of the endpoint's deliveries, newest first.
    pub async fn deliveries(self, webhook_id: &str, limit: i32, start: Option<PageKey>) -> AppResult<DeliveryPage> {
        let out = self
            .store
            .prefix_query(keys::webhook::pk(webhook_id), keys::webhook::DELIVERY_PREFIX)
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query the deliveries of a webhook"))?;
        let deliveries = out.items.unwrap_or_default().into_iter().map(from_item).collect::<AppResult<_>>()?;
        Ok(DeliveryPage { deliveries, last_key: PageKey::after(out.last_evaluated_key) })
    }

    /// Marks the endpoint failing from `at` unless it already was: since when it fails
    /// (`None`: it is gone).
    pub async fn mark_failing(self, id: &str, at: DateTime<Utc>) -> AppResult<Option<DateTime<Utc>>> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::webhook::key(id)))
            .update_expression("SET failingSince = if_not_exists(failingSince, :at)")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", time(&at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let webhook: WebhookRecord = from_item(out.attributes.unwrap_or_default())?;
                Ok(webhook.failing_since)
            }
            Err(err) if matches!(err.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(None)
            }
            Err(err) => Err(dynamo_error("UpdateItem WEBHOOK# (failing)")(err)),
        }
    }

    /// The endpoint answered: no longer failing.
    pub async fn clear_failing(self, id: &str) -> AppResult<()> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::webhook::key(id)))
            .update_expression("REMOVE failingSince")
            .condition_expression("attribute_exists(failingSince)")
            .send()
            .await;
        super::conditional_write(result, "UpdateItem WEBHOOK# (answered)".into()).map(drop)
    }

    /// Disables the endpoint that has failed since `since` (unless it answered or was
    /// disabled meanwhile), with `notice`. `false`: nothing changed.
    pub async fn disable(self, id: &str, since: DateTime<Utc>, notice: Vec<TransactWriteItem>) -> AppResult<bool> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::webhook::key(id)))
            .update_expression("SET #status = :disabled")
            .condition_expression("#status = :active AND failingSince = :since")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":disabled", s("disabled"))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":since", time(&since))
            .build()
            .context("building an Update")?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(notice);
        match self.store.try_transact(items).await? {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }
}
