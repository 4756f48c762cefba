//! Search entries: one item per token a user is found by, in the user's partition, and
//! in `GSI1` under `SEARCH#<first character>` sorted by `<token>#<userId>`, so a prefix
//! is one `begins_with` query. Entries change in the same transaction as the names.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::pages::PageKey;
use super::{dynamo_error, keys, s, Store};
use crate::domain::search;
use crate::error::{AppResult, Context};

/// The username search index.
#[derive(Clone, Copy)]
pub struct Search<'a> {
    pub(super) store: &'a Store,
}

/// A token that matched and the user it belongs to.
pub struct SearchHit {
    pub token: String,
    pub user_id: String,
}

pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub last_key: Option<PageKey>,
}

impl Search<'_> {
    pub(crate) fn search_entry_puts(
        self,
        user_id: &str,
        tokens: &BTreeSet<String>,
    ) -> AppResult<Vec<TransactWriteItem>> {
        tokens
            .iter()
            .map(|token| {
                let mut item = keys::search::key(user_id, token);
                item.insert(keys::gsi1::PK.into(), s(keys::search::partition_pk(&search::partition(token))));
                item.insert(keys::gsi1::SK.into(), s(keys::search::entry_sk(token, user_id)));
                super::writes::put_any(self.store, item)
            })
            .collect()
    }

    pub(crate) fn search_entry_deletes(
        self,
        user_id: &str,
        tokens: &BTreeSet<String>,
    ) -> AppResult<Vec<TransactWriteItem>> {
        tokens
            .iter()
            .map(|token| {
                Delete::builder()
                    .table_name(self.store.table())
                    .set_key(Some(keys::search::key(user_id, token)))
                    .build()
                    .map(|d| TransactWriteItem::builder().delete(d).build())
                    .context("building a Delete")
            })
            .collect()
    }

    /// Entries whose token starts with the folded `prefix`, in token order.
    pub async fn search_entries(self, prefix: &str, limit: i32, start: Option<PageKey>) -> AppResult<SearchPage> {
        let out = self
            .store
            .query()
            .index_name(keys::gsi1::NAME)
            .key_condition_expression("#partition = :partition AND begins_with(#entry, :prefix)")
            .expression_attribute_names("#partition", keys::gsi1::PK)
            .expression_attribute_names("#entry", keys::gsi1::SK)
            .expression_attribute_values(":partition", s(keys::search::partition_pk(&search::partition(prefix))))
            .expression_attribute_values(":prefix", s(prefix))
            .limit(limit)
            .set_exclusive_start_key(PageKey::start(start))
            .send()
            .await
            .map_err(dynamo_error("Query the search index (GSI1)"))?;
        let hits = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let sk = item.get(keys::gsi1::SK)?.as_s().ok()?;
                let (token, user_id) = sk.rsplit_once('#')?;
                Some(SearchHit { token: token.to_owned(), user_id: user_id.to_owned() })
            })
            .collect();
        Ok(SearchPage { hits, last_key: PageKey::after(out.last_evaluated_key) })
    }
}
