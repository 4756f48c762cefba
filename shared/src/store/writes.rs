//! The write shapes every room shares: transaction items, transactions retried past
//! conflicts, and a transaction's single write sent on its own.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{conditional_write, dynamo_error, key_kind, keys, s, Item, Store};
use crate::error::{AppError, AppResult, Context};

/// Attempts at a transaction that DynamoDB cancelled for a conflicting concurrent one.
const CONFLICT_RETRIES: usize = 5;

impl Store {
    /// A put that must not overwrite anything.
    pub(crate) fn put_new(&self, item: Item) -> AppResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .context("building a Put")?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction, retrying the ones cancelled only by a concurrent conflict;
    /// the inner `Err` holds the per-item cancellation reasons when a condition did not
    /// hold (the caller decides what that means, and whether to read again).
    pub(crate) async fn try_transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> AppResult<Result<(), Vec<Option<String>>>> {
        for attempt in 0..=CONFLICT_RETRIES {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            let reasons: Option<Vec<Option<String>>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Some(cancelled.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect())
                }
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(dynamo_error(transaction_kinds(&items))(err));
            };
            if reasons.iter().any(|r| r.as_deref() == Some("ConditionalCheckFailed")) {
                return Ok(Err(reasons));
            }
            if !reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict")) {
                return Err(dynamo_error(transaction_kinds(&items))(err));
            }
            let jitter = rand::random::<u64>() % 20;
            tokio::time::sleep(std::time::Duration::from_millis(10 * (attempt as u64 + 1) + jitter)).await;
        }
        Err(AppError::ServiceUnavailable("transaction kept conflicting with concurrent ones".into()))
    }

    /// A conditional update on its own: `false` when its condition did not hold.
    pub async fn update_one(&self, update: Update) -> AppResult<bool> {
        let doing = format!("UpdateItem {}", key_kind(&update.key));
        let result = self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await;
        conditional_write(result, doing)
    }

    /// A transaction's put sent on its own (a plain write costs half): `false` when
    /// its condition did not hold.
    pub(crate) async fn put_alone(&self, put: Put) -> AppResult<bool> {
        let doing = format!("PutItem {}", key_kind(&put.item));
        let result = self
            .client
            .put_item()
            .table_name(put.table_name)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .set_expression_attribute_names(put.expression_attribute_names)
            .set_expression_attribute_values(put.expression_attribute_values)
            .send()
            .await;
        conditional_write(result, doing)
    }
}

/// A transaction for an error's context: `TransactWriteItems Put USER#/PROFILE, …`.
fn transaction_kinds(items: &[TransactWriteItem]) -> String {
    let kinds: Vec<String> = items
        .iter()
        .map(|item| match (&item.put, &item.update, &item.delete, &item.condition_check) {
            (Some(put), ..) => format!("Put {}", key_kind(&put.item)),
            (_, Some(update), ..) => format!("Update {}", key_kind(&update.key)),
            (_, _, Some(delete), _) => format!("Delete {}", key_kind(&delete.key)),
            (.., Some(check)) => format!("ConditionCheck {}", key_kind(&check.key)),
            _ => "?".to_owned(),
        })
        .collect();
    format!("TransactWriteItems {}", kinds.join(", "))
}

/// Whether the transaction item at `index` failed its condition.
pub(super) fn failed(reasons: &[Option<String>], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed")
}

/// A put that replaces whatever is there (entries derived from another item).
pub(crate) fn put_any(store: &Store, item: Item) -> AppResult<TransactWriteItem> {
    let put = Put::builder().table_name(store.table()).set_item(Some(item)).build().context("building a Put")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A put that must not overwrite anything, of an item that expires at `expires_at`
/// (epoch seconds): in the expiry index's bucket of that day, for cleanup.
pub(crate) fn put_new_expiring(store: &Store, mut item: Item, expires_at: i64) -> AppResult<TransactWriteItem> {
    item.insert(keys::expiry::BUCKET.into(), s(keys::expiry::bucket(expires_at)));
    store.put_new(item)
}
