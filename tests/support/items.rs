//! Direct reads and writes of the table, for states no route reaches (an expired
//! session, a planted inconsistency). Each write that changes an item asserts that the
//! item was there: a wrong key fails the test instead of creating a stray item.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::Item;

use super::TestApp;

/// A key from its two parts.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item from its attributes.
pub fn item(attributes: &[(&str, AttributeValue)]) -> Item {
    attributes.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
}

impl TestApp {
    /// The item under `key`, read consistently.
    pub async fn item(&self, key: Item) -> Option<Item> {
        let read = self.dynamodb.get_item().table_name(&self.table).set_key(Some(key)).consistent_read(true);
        read.send().await.expect("GetItem").item
    }

    /// Sets top-level attributes of the item under `key`, which must exist.
    pub async fn set_attributes(&self, key: Item, values: &[(&str, AttributeValue)]) {
        let mut update = self.existing(key);
        let mut sets = Vec::new();
        for (i, (name, value)) in values.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
            sets.push(format!("#a{i} = :v{i}"));
        }
        update.update_expression(format!("SET {}", sets.join(", "))).send().await.expect("the item is there");
    }

    /// Removes top-level attributes of the item under `key`, which must exist.
    pub async fn remove_attributes(&self, key: Item, names: &[&str]) {
        let mut update = self.existing(key);
        let mut removes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            update = update.expression_attribute_names(format!("#a{i}"), *name);
            removes.push(format!("#a{i}"));
        }
        update.update_expression(format!("REMOVE {}", removes.join(", "))).send().await.expect("the item is there");
    }

    /// Writes `item` as it is, over whatever has its key.
    pub async fn put_item(&self, item: Item) {
        self.dynamodb.put_item().table_name(&self.table).set_item(Some(item)).send().await.expect("PutItem");
    }

    /// Deletes the item under `key`, which must exist.
    pub async fn delete_item(&self, key: Item) {
        let delete = self.dynamodb.delete_item().table_name(&self.table).set_key(Some(key));
        delete.condition_expression("attribute_exists(PK)").send().await.expect("the item is there");
    }

    /// The items of one partition of the index `index` (`GSI1`), read as DynamoDB has them.
    pub async fn index_partition(&self, index: &str, partition: &str) -> Vec<Item> {
        let query = self.dynamodb.query().table_name(&self.table).index_name(index);
        let query = query.key_condition_expression("#pk = :pk").expression_attribute_names("#pk", format!("{index}PK"));
        let out = query.expression_attribute_values(":pk", s(partition)).send().await.expect("Query");
        out.items.unwrap_or_default()
    }

    fn existing(&self, key: Item) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let update = self.dynamodb.update_item().table_name(&self.table).set_key(Some(key));
        update.condition_expression("attribute_exists(PK)")
    }
}

impl TestApp {
    /// The put of a new device of `user_id` as a sign-in writes it (for sign-in writes
    /// staged at the store).
    pub fn new_device_put(&self, user_id: &str) -> aws_sdk_dynamodb::types::TransactWriteItem {
        let token = shared::domain::device::DeviceToken::new(user_id);
        let client = shared::domain::client::ClientInfo::default();
        let record = shared::domain::device::DeviceRecord::new(user_id, &client, 0, self.state.now());
        self.state.store.users().device_put(&token, &record).expect("a device put")
    }

    /// The put of a sign-in's security event of `user_id`.
    pub fn sign_in_event_put(&self, user_id: &str) -> aws_sdk_dynamodb::types::TransactWriteItem {
        use shared::domain::security_event::{SecurityEventRecord, SecurityEventType};
        let event = SecurityEventRecord::new(user_id, SecurityEventType::SignIn, &Default::default(), self.state.now());
        self.state.store.security_events().put(&event).expect("an event put")
    }
}
