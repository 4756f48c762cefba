use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::domain::user::UserRecord;
use crate::error::AppResult;
use crate::store::outbox::{MessageKind, OutboxMessage};
use crate::store::Store;

/// Messages to users, written to the outbox in the transaction of the change they
/// report (the notify function delivers them).
#[derive(Clone, Copy)]
pub struct Notices<'a> {
    store: &'a Store,
}

impl<'a> Notices<'a> {
    pub fn new(store: &'a Store) -> Self {
        Notices { store }
    }

    /// An outbox message to `user`, for the transaction of the change it reports.
    pub fn to(
        &self,
        user: &UserRecord,
        kind: MessageKind,
        data: impl IntoIterator<Item = (&'static str, String)>,
    ) -> AppResult<TransactWriteItem> {
        self.to_address(user, &user.email, kind, data)
    }

    /// An outbox message about `user` to another address of theirs (a new one to confirm).
    pub fn to_address(
        &self,
        user: &UserRecord,
        address: &str,
        kind: MessageKind,
        data: impl IntoIterator<Item = (&'static str, String)>,
    ) -> AppResult<TransactWriteItem> {
        self.store.outbox().outbox_put(&OutboxMessage::new(kind, &user.id, address, self.store.now(), data))
    }
}
