//! Lambda's partial batch response, for the functions fed by event source mappings (the
//! table's stream, an SQS queue): `FunctionResponseTypes: [ReportBatchItemFailures]`.

use serde::Serialize;

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// A stream record's sequence number, or a queue message's id.
    pub item_identifier: String,
}

impl BatchResponse {
    /// Hands the item back to be tried again.
    pub fn fail(&mut self, identifier: &str) {
        self.batch_item_failures.push(ItemFailure { item_identifier: identifier.to_owned() });
    }
}
