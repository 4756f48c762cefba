//! An email change: the pending address on the user, and the swap of the two email
//! claims when it is confirmed, in one transaction.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::accounts::Accounts;
use super::users::Claim;
use super::{keys, n, s, time, to_item};
use crate::domain::session::SessionRecord;
use crate::domain::user::UserRecord;
use crate::error::{AppResult, Context};
use crate::store::one_time::Purpose;

/// How a confirmation's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailSwap {
    Swapped,
    /// Another account holds the address now.
    Taken,
    /// The token was used, replaced, or the account changed meanwhile.
    Stale,
}

impl Accounts<'_> {
    /// Points the user at a new pending address and its confirmation token; `items`
    /// write the token, its message, the notice and the old token's removal. `false`
    /// when the account changed since it was read.
    pub async fn set_pending_email(
        self,
        user: &UserRecord,
        new_email: &str,
        token_hash: &str,
        items: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET pendingEmail = :email, emailChangeTokenHash = :hash, updatedAt = :now")
            .condition_expression("updatedAt = :seen")
            .expression_attribute_values(":email", s(new_email))
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":seen", time(&user.updated_at))
            .build()
            .context("building an Update")?;
        let mut all = vec![TransactWriteItem::builder().update(update).build()];
        all.extend(items);
        Ok(self.store.try_transact(all).await?.is_ok())
    }

    /// The address swap: the user's email (verified), the token spent, the old claim
    /// removed and the new one put (it must be free), the pending change and any
    /// verification token cleared, every session but `keep` ended (a new generation);
    /// `extra` adds the notice. All or nothing.
    pub async fn swap_email(
        self,
        user: &UserRecord,
        token_hash: &str,
        new_email: &str,
        keep: Option<&SessionRecord>,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<EmailSwap> {
        let next = user.session_generation + 1;
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression(
                "SET email = :new, isVerified = :yes, updatedAt = :now, sessionGeneration = :next, \
                 previousEmail = :old, emailChangedAt = :now \
                 REMOVE pendingEmail, emailChangeTokenHash, verifyTokenHash",
            )
            // The new claim copies the password hash as read: it must still be the one.
            .condition_expression(
                "emailChangeTokenHash = :hash AND email = :old AND passwordHash = :pw AND #status = :active \
                 AND (attribute_not_exists(sessionGeneration) OR sessionGeneration = :current)",
            )
            .expression_attribute_values(":current", n(user.session_generation))
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":pw", s(&user.password_hash))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":new", s(new_email))
            .expression_attribute_values(":yes", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":old", s(&user.email))
            .expression_attribute_values(":active", s("active"))
            .build()
            .context("building an Update")?;
        let old_claim = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::claim::email(&user.email)))
            .condition_expression("userId = :id")
            .expression_attribute_values(":id", s(&user.id))
            .build()
            .context("building a Delete")?;
        let claim = Claim::of(user);
        let mut items = vec![
            TransactWriteItem::builder().update(update).build(),
            self.store.one_time_tokens().consume(token_hash, Purpose::EmailChange)?,
            TransactWriteItem::builder().delete(old_claim).build(),
            self.store.put_new(to_item(&claim, keys::claim::email(new_email))?)?,
        ];
        if let Some(verify) = &user.verify_token_hash {
            items.push(self.store.one_time_tokens().discard(verify, Purpose::Verify)?);
        }
        if let Some(session) = keep {
            items.push(self.store.sessions().session_carried_over(session, next)?);
        }
        items.extend(extra);
        Ok(match self.store.try_transact(items).await? {
            Ok(()) => EmailSwap::Swapped,
            Err(reasons) if super::writes::failed(&reasons, 3) => EmailSwap::Taken,
            Err(_) => EmailSwap::Stale,
        })
    }
}
