//! Pages of a query: where the next page starts, opaque outside the store, and a walk
//! over every page for the reads that need them all.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{dynamo_error, Item};
use crate::error::AppResult;

/// Where the next page of a list starts: the last key DynamoDB evaluated. Only the
/// store reads it; a page cursor seals its text form. The empty key is the start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageKey(Item);

impl PageKey {
    /// The key's attributes as text (every key attribute of the table is a string).
    pub fn to_text(&self) -> BTreeMap<String, String> {
        self.0.iter().filter_map(|(name, v)| Some((name.clone(), v.as_s().ok()?.clone()))).collect()
    }

    pub fn from_text(text: BTreeMap<String, String>) -> Self {
        PageKey(text.into_iter().map(|(name, v)| (name, AttributeValue::S(v))).collect())
    }

    /// The start of the list (a page that ended exactly before the list's first item).
    pub fn is_start(&self) -> bool {
        self.0.is_empty()
    }

    /// Where a page that ended at DynamoDB's `last_evaluated_key` goes on.
    pub(super) fn after(last_evaluated_key: Option<Item>) -> Option<PageKey> {
        last_evaluated_key.map(PageKey)
    }

    /// The key to start a query from (`None` for the start).
    pub(super) fn start(key: Option<PageKey>) -> Option<Item> {
        key.map(|k| k.0).filter(|k| !k.is_empty())
    }
}

/// Every page of a query in turn: `while let Some(page) = pages.next().await? { … }`.
pub(crate) struct Pages {
    query: QueryFluentBuilder,
    /// What the query reads, for its error (`the sessions of a user`).
    reads: &'static str,
    start: Option<Item>,
    done: bool,
}

impl Pages {
    pub(crate) fn of(query: QueryFluentBuilder, reads: &'static str) -> Self {
        Pages { query, reads, start: None, done: false }
    }

    pub(crate) async fn next(&mut self) -> AppResult<Option<QueryOutput>> {
        if self.done {
            return Ok(None);
        }
        let out = self
            .query
            .clone()
            .set_exclusive_start_key(self.start.take())
            .send()
            .await
            .map_err(dynamo_error(format!("Query {}", self.reads)))?;
        self.start = out.last_evaluated_key.clone();
        self.done = self.start.is_none();
        Ok(Some(out))
    }
}
