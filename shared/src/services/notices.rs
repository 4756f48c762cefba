use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::domain::client::ClientInfo;
use crate::domain::device::device_name;
use crate::domain::security_event::SecurityEventType;
use crate::domain::session::DeviceInfo;
use crate::domain::user::UserRecord;
use crate::domain::{hash_secret, new_one_time_secret};
use crate::error::AppResult;
use crate::store::one_time::{OneTimeToken, Purpose};
use crate::store::outbox::{MessageKind, OutboxMessage};
use crate::store::Store;

/// How long a notice's "this wasn't me" link works.
pub const SECURE_LINK_DAYS: i64 = 7;

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

    /// A notice of a change of how the account signs in, to the address it has before
    /// the change: it says when, from which device and address, and carries the "this
    /// wasn't me" link (a single-use token, 7 days) that undoes it
    /// (`POST /api/auth/secure-account`). The notice and the token's put, for the
    /// change's transaction.
    pub fn of_sign_in_change(
        &self,
        user: &UserRecord,
        kind: MessageKind,
        reported: SecurityEventType,
        from: &ClientInfo,
        data: impl IntoIterator<Item = (&'static str, String)>,
    ) -> AppResult<[TransactWriteItem; 2]> {
        let now = self.store.now();
        let secret = new_one_time_secret();
        let token = OneTimeToken {
            user_id: user.id.clone(),
            expires_at: (now + chrono::Duration::days(SECURE_LINK_DAYS)).timestamp(),
            reported: Some(reported.as_str().to_owned()),
            reported_at: Some(now),
            secure_generation: Some(user.secure_generation),
            ..Default::default()
        };
        let device = device_name(&DeviceInfo::from_client(from));
        let context = [
            ("at", now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ("device", device),
            ("ipAddress", from.ip.clone().unwrap_or_default()),
            ("token", secret.clone()),
        ];
        let notice = self.to(user, kind, data.into_iter().chain(context))?;
        Ok([notice, self.store.one_time_tokens().put(&hash_secret(&secret), Purpose::SecureAccount, &token)?])
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
