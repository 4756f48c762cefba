use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{keys, n, s, to_item, Store};
use crate::domain::session::SessionRecord;
use crate::error::AppResult;

/// The put of a new session, with its expiry-index entry.
pub(crate) fn session_put(store: &Store, session: &SessionRecord) -> AppResult<TransactWriteItem> {
    let mut item = to_item(session, keys::user(&session.user_id), keys::session(&session.id))?;
    item.insert("expiryBucket".into(), s(keys::expiry_bucket(session.expires_at)));
    item.insert("expiresAt".into(), n(session.expires_at));
    store.put_new(item)
}

impl Store {
    pub async fn session(&self, user_id: &str, session_id: &str) -> AppResult<Option<SessionRecord>> {
        self.get(keys::user(user_id), &keys::session(session_id)).await
    }
}
