//! Securing an account with a notice's link: one transaction that takes it back.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};
use serde::Serialize;

use super::accounts::Accounts;
use super::one_time::Purpose;
use super::sessions::session_put;
use super::users::{username_claim, Claim};
use super::writes::failed;
use super::{keys, n, s, time, to_item, ClaimCopies};
use crate::domain::identity::IdentityRecord;
use crate::domain::mfa::TotpFactor;
use crate::domain::passkey::PasskeyRecord;
use crate::domain::session::SessionRecord;
use crate::domain::user::UserRecord;
use crate::error::{AppResult, Context};

/// What securing an account writes, beside the user item it moves on.
pub struct Securing<'a> {
    /// The notice's token, consumed: of two calls with it, one wins.
    pub token_hash: &'a str,
    pub password_hash: &'a str,
    /// The factor as read: removed when `remove_factor`, else checked unchanged (a
    /// factor enrolled meanwhile makes the write fail, and the caller read again).
    pub factor: Option<&'a TotpFactor>,
    pub remove_factor: bool,
    /// The passkeys to remove (added at or after the reported change); the account's
    /// count must still be as read (`passkeys_seen`), so one added meanwhile makes the
    /// write fail and the caller read again.
    pub remove_passkeys: &'a [PasskeyRecord],
    pub passkeys_seen: i64,
    /// The identities to unlink (linked at or after the reported change); the account's
    /// `identityLinks` must still be as read, so one linked meanwhile makes the write
    /// fail and the caller read again.
    pub remove_identities: &'a [IdentityRecord],
    /// The address to put back (a confirmed email change being undone).
    pub restore_email: Option<&'a str>,
    /// The account is deactivated (within its window): it is active again, with its
    /// search entries back and off the deletion queue.
    pub reactivate: bool,
    /// The caller's new session, of the new generation.
    pub session: &'a SessionRecord,
    /// The notice, the events, the new device.
    pub extra: Vec<TransactWriteItem>,
}

/// How securing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secured {
    Done,
    /// The token was used (or is gone): another call won.
    TokenUsed,
    /// The address to put back belongs to another account now.
    AddressTaken,
    /// The account or its factor changed since it was read.
    Changed,
}

impl Accounts<'_> {
    /// Takes the account back in one transaction: the new password (on the user item
    /// and both claims), every session and device token ended (new generations), the
    /// notices' other tokens void (a new secure generation), a pending email change
    /// cancelled, the factor and passkeys removed when asked, the previous address put
    /// back when asked, and the caller's new session. Guarded by `updatedAt` and the
    /// passkey count as read.
    pub async fn secure(self, user: &UserRecord, securing: Securing<'_>) -> AppResult<Secured> {
        let store = self.store;
        let update = self.securing_update(user, &securing)?;
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            store.one_time_tokens().consume(securing.token_hash, Purpose::SecureAccount)?,
        ];
        let after = UserRecord {
            password_hash: securing.password_hash.to_owned(),
            device_generation: user.device_generation + 1,
            email: securing.restore_email.unwrap_or(&user.email).to_owned(),
            ..user.clone()
        };
        // The claims follow the password and device generation; a restored address's
        // claim is put back at `restoring_at`.
        let restoring_at = items.len() + 1;
        items.extend(self.claim_writes(user, &after, &securing)?);
        items.push(self.factor_write(&user.id, securing.factor, securing.remove_factor)?);
        items.extend(store.passkeys().deletes(&user.id, securing.remove_passkeys)?);
        items.extend(store.identities().deletes(securing.remove_identities)?);
        if let Some(pending) = &user.email_change_token_hash {
            items.push(store.one_time_tokens().discard(pending, Purpose::EmailChange)?);
        }
        items.push(session_put(store, securing.session)?);
        if securing.reactivate {
            items.extend(store.search().search_entry_puts(&user.id, &user.search_tokens())?);
        }
        items.extend(securing.extra);
        Ok(match store.try_transact(items).await? {
            Ok(()) => Secured::Done,
            Err(reasons) if failed(&reasons, 1) => Secured::TokenUsed,
            Err(reasons) if securing.restore_email.is_some() && failed(&reasons, restoring_at) => Secured::AddressTaken,
            Err(_) => Secured::Changed,
        })
    }

    /// The user item's part: the new password and generations, and what the plan
    /// undoes, on the condition that the account is as read.
    fn securing_update(self, user: &UserRecord, securing: &Securing<'_>) -> AppResult<Update> {
        let store = self.store;
        let mut sets = vec![
            "passwordHash = :hash",
            "sessionGeneration = :sessions",
            "deviceGeneration = :devices",
            "secureGeneration = :secure",
            "updatedAt = :now",
        ];
        let mut removes = vec!["pendingEmail", "emailChangeTokenHash"];
        let mut update = Update::builder()
            .table_name(store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression(format!(
                "updatedAt = :seen AND {} AND {}",
                unchanged_count("passkeys", ":passkeys", securing.passkeys_seen),
                unchanged_count("identityLinks", ":links", user.identity_links),
            ))
            .expression_attribute_values(":seen", value(&user.updated_at)?)
            .expression_attribute_values(":passkeys", n(securing.passkeys_seen))
            .expression_attribute_values(":links", n(user.identity_links))
            .expression_attribute_values(":hash", s(securing.password_hash))
            .expression_attribute_values(":sessions", n(user.session_generation + 1))
            .expression_attribute_values(":devices", n(user.device_generation + 1))
            .expression_attribute_values(":secure", n(user.secure_generation + 1))
            .expression_attribute_values(":now", time(&store.now()));
        if securing.remove_factor {
            sets.push("mfaEnabled = :off");
            update = update.expression_attribute_values(":off", AttributeValue::Bool(false));
        }
        if !securing.remove_passkeys.is_empty() {
            sets.push("passkeys = :kept");
            update = update.expression_attribute_values(
                ":kept",
                n(securing.passkeys_seen - securing.remove_passkeys.len() as i64),
            );
        }
        if let Some(previous) = securing.restore_email {
            sets.push("email = :previous");
            removes.extend(["previousEmail", "emailChangedAt"]);
            update = update.expression_attribute_values(":previous", s(previous));
        }
        if securing.reactivate {
            sets.push("#status = :active");
            removes.extend(["deactivatedAt", "#queue", "#queued"]);
            update = update
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#queue", keys::gsi1::PK)
                .expression_attribute_names("#queued", keys::gsi1::SK)
                .expression_attribute_values(":active", s("active"));
        }
        update
            .update_expression(format!("SET {} REMOVE {}", sets.join(", "), removes.join(", ")))
            .build()
            .context("building an Update")
    }

    /// The claims' part: both claims' copies updated, or, with an address to put back,
    /// the thief's address let go, the old one claimed again (another account may have
    /// taken it meanwhile: `AddressTaken`), and the username claim updated.
    fn claim_writes(
        self,
        user: &UserRecord,
        after: &UserRecord,
        securing: &Securing<'_>,
    ) -> AppResult<Vec<TransactWriteItem>> {
        let store = self.store;
        let copies = ClaimCopies {
            password_hash: Some(securing.password_hash),
            device_generation: Some(after.device_generation),
        };
        let Some(previous) = securing.restore_email else {
            return store.users().claim_updates(user, copies);
        };
        let taken = Delete::builder()
            .table_name(store.table())
            .set_key(Some(keys::claim::email(&user.email)))
            .condition_expression("userId = :id")
            .expression_attribute_values(":id", s(&user.id))
            .build()
            .context("building a Delete")?;
        let mut items = vec![
            TransactWriteItem::builder().delete(taken).build(),
            store.put_new(to_item(&Claim::of(after), keys::claim::email(previous))?)?,
        ];
        items.extend(store.users().claim_update(username_claim(user), user, copies)?);
        Ok(items)
    }

    /// The factor's part: its removal (whatever is there by then: a factor enrolled
    /// meanwhile goes too), or a check that it is still as read.
    fn factor_write(self, user_id: &str, read: Option<&TotpFactor>, remove: bool) -> AppResult<TransactWriteItem> {
        let key = keys::factor::totp(user_id);
        if remove {
            let delete = Delete::builder().table_name(self.store.table()).set_key(Some(key)).build();
            return Ok(TransactWriteItem::builder().delete(delete.context("building a Delete")?).build());
        }
        let check = ConditionCheck::builder().table_name(self.store.table()).set_key(Some(key));
        let check = match read.and_then(|f| f.enabled_at) {
            Some(enabled_at) => check
                .condition_expression("enabledAt = :enabled")
                .expression_attribute_values(":enabled", time(&enabled_at)),
            None => check.condition_expression("attribute_not_exists(PK)"),
        };
        Ok(TransactWriteItem::builder().condition_check(check.build().context("building a ConditionCheck")?).build())
    }
}

fn value<T: Serialize>(v: &T) -> AppResult<AttributeValue> {
    serde_dynamo::to_attribute_value(v).context("serializing a value for DynamoDB")
}

/// The condition that a counter of the user item is still `seen` (absent counts as 0).
fn unchanged_count(attribute: &str, placeholder: &str, seen: i64) -> String {
    match seen {
        0 => format!("(attribute_not_exists({attribute}) OR {attribute} = {placeholder})"),
        _ => format!("{attribute} = {placeholder}"),
    }
}
