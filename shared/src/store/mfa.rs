//! The second factor's items: the TOTP factor in its user's partition, and the
//! challenges of sign-ins waiting for a code. Every acceptance of a code is one
//! conditional write, so that of two requests with the same code exactly one wins.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};

use super::{dynamo_error, from_item, keys, n, s, sort_key, time, to_item, Store};
use crate::domain::mfa::{MfaChallenge, TotpFactor};
use crate::domain::session::SessionRecord;
use crate::domain::user::UserRecord;
use crate::error::{AppError, AppResult, Context};

/// Second factors, recovery codes and sign-in challenges.
#[derive(Clone, Copy)]
pub struct Factors<'a> {
    pub(super) store: &'a Store,
}

fn status(value: &str) -> AttributeValue {
    s(value)
}

fn code_set(hashes: &[String]) -> AttributeValue {
    AttributeValue::Ss(hashes.to_vec())
}

impl Factors<'_> {
    /// The session, its user and the user's factor in one round trip, read consistently.
    pub async fn session_user_and_factor(
        self,
        user_id: &str,
        session_id: &str,
    ) -> AppResult<(Option<SessionRecord>, Option<UserRecord>, Option<TotpFactor>)> {
        let factor_key = keys::factor::totp(user_id);
        let factor_sk = sort_key(&factor_key).to_owned();
        let wanted = vec![keys::session::key(user_id, session_id), keys::user::key(user_id), factor_key];
        let (mut session, mut user, mut factor) = (None, None, None);
        for item in super::batch_get(self.store, wanted).await? {
            match sort_key(&item) {
                keys::user::PROFILE => user = Some(self.store.users().user_record(item)?),
                sk if sk == factor_sk => factor = Some(from_item(item)?),
                _ => session = Some(from_item(item)?),
            }
        }
        Ok((session, user, factor))
    }

    /// An account and its factor in one round trip, read consistently: what sign-in
    /// needs after the password's hash (the factor item decides "MFA on").
    pub async fn user_and_factor(self, user_id: &str) -> AppResult<(Option<UserRecord>, Option<TotpFactor>)> {
        let (mut user, mut factor) = (None, None);
        for item in super::batch_get(self.store, vec![keys::user::key(user_id), keys::factor::totp(user_id)]).await? {
            match sort_key(&item) {
                keys::user::PROFILE => user = Some(self.store.users().user_record(item)?),
                _ => factor = Some(from_item(item)?),
            }
        }
        Ok((user, factor))
    }

    pub async fn totp_factor(self, user_id: &str) -> AppResult<Option<TotpFactor>> {
        self.store.get(keys::factor::totp(user_id)).await
    }

    /// A pending enrolment, replacing a pending one; `false` when a factor is on. TTL
    /// removes it once expired, but it stays out of the expiry index: cleanup deletes
    /// by key without a condition, and this key is reused by the factor once it is on.
    pub async fn put_pending_factor(self, factor: &TotpFactor) -> AppResult<bool> {
        let item = to_item(factor, keys::factor::totp(&factor.user_id))?;
        let put = Put::builder()
            .table_name(self.store.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR #status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", status("pending"))
            .build()
            .context("building a Put")?;
        self.store.put_alone(put).await
    }

    /// Turns a pending factor on at the step of its first code, with its recovery codes:
    /// a part of the transaction that also ends the account's other sessions.
    pub(crate) fn factor_enable(
        self,
        user_id: &str,
        step: i64,
        code_hashes: &[String],
    ) -> AppResult<TransactWriteItem> {
        let now = self.store.now();
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::factor::totp(user_id)))
            .update_expression(
                "SET #status = :enabled, enabledAt = :now, lastStep = :step, recoveryCodes = :codes REMOVE #expires",
            )
            .condition_expression("#status = :pending AND #expires > :epoch")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":enabled", status("enabled"))
            .expression_attribute_values(":pending", status("pending"))
            .expression_attribute_values(":now", time(&now))
            .expression_attribute_values(":epoch", n(now.timestamp()))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":codes", code_set(code_hashes))
            .build()
            .context("building an Update")?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The write that takes a TOTP time step for the factor; its condition fails when
    /// this step or a later one was taken already (a replayed code, or a concurrent
    /// request with the same one).
    pub(crate) fn totp_step_update(self, user_id: &str, step: i64) -> AppResult<Update> {
        Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::factor::totp(user_id)))
            .update_expression("SET lastStep = :step")
            .condition_expression("#status = :enabled AND (attribute_not_exists(lastStep) OR lastStep < :step)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":enabled", status("enabled"))
            .expression_attribute_values(":step", n(step))
            .build()
            .context("building an Update")
    }

    /// The write that uses up a recovery code by its hash; its condition fails when it
    /// is not (or no longer) one.
    pub(crate) fn recovery_code_update(self, user_id: &str, hash: &str) -> AppResult<Update> {
        Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::factor::totp(user_id)))
            .update_expression("DELETE recoveryCodes :code")
            .condition_expression("#status = :enabled AND contains(recoveryCodes, :hash)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":enabled", status("enabled"))
            .expression_attribute_values(":code", code_set(&[hash.to_owned()]))
            .expression_attribute_values(":hash", s(hash))
            .build()
            .context("building an Update")
    }

    /// New recovery codes for a factor that is on (the old ones stop working), with
    /// the notice of it.
    pub async fn replace_recovery_codes(
        self,
        user_id: &str,
        code_hashes: &[String],
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<bool> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::factor::totp(user_id)))
            .update_expression("SET recoveryCodes = :codes")
            .condition_expression("#status = :enabled")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":enabled", status("enabled"))
            .expression_attribute_values(":codes", code_set(code_hashes))
            .build()
            .context("building an Update")?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Turns the factor off: the item gone and the account's flag down, with the notice.
    pub async fn remove_factor(self, user: &UserRecord, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        let delete = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::factor::totp(&user.id)))
            .condition_expression("#status = :enabled")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":enabled", status("enabled"))
            .build()
            .context("building a Delete")?;
        let user_update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET mfaEnabled = :off, updatedAt = :now")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":off", AttributeValue::Bool(false))
            .expression_attribute_values(":now", time(&self.store.now()))
            .build()
            .context("building an Update")?;
        let mut items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(user_update).build(),
        ];
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Stores a sign-in's challenge under its token's hash.
    pub async fn put_challenge(self, hash: &str, challenge: &MfaChallenge) -> AppResult<()> {
        let item = to_item(challenge, keys::challenge::key(hash))?;
        let Some(put) = super::writes::put_new_expiring(self.store, item, challenge.expires_at)?.put else {
            return Err(AppError::internal("a new item is a put"));
        };
        if !self.store.put_alone(put).await? {
            return Err(AppError::internal("a fresh challenge token collided"));
        }
        Ok(())
    }

    /// A sign-in's challenge as it stands, unless unknown, expired or used up by `max`
    /// attempts (for the options of its passkey ceremony: no attempt is counted).
    pub async fn challenge(self, hash: &str, max: i64) -> AppResult<Option<MfaChallenge>> {
        let challenge: Option<MfaChallenge> = self.store.get(keys::challenge::key(hash)).await?;
        let now = self.store.now().timestamp();
        Ok(challenge.filter(|c| c.expires_at > now && c.attempts < max))
    }

    /// Counts one attempt at the challenge and reads it back: `None` when it is unknown,
    /// expired, used up by `max` attempts or ended. The count comes before the code is
    /// looked at, so that concurrent guesses cannot get past the limit.
    pub async fn claim_challenge_attempt(self, hash: &str, max: i64) -> AppResult<Option<MfaChallenge>> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::challenge::key(hash)))
            .update_expression("ADD attempts :one")
            .condition_expression(
                "attribute_exists(PK) AND #expires > :epoch AND (attribute_not_exists(attempts) OR attempts < :max)",
            )
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":epoch", n(self.store.now().timestamp()))
            .expression_attribute_values(":max", n(max))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(None),
            Err(err) => Err(dynamo_error("UpdateItem a sign-in challenge")(err)),
        }
    }

    /// Ends a challenge as part of the sign-in it completes (the write fails if another
    /// request completed it first).
    pub(crate) fn challenge_consume(self, hash: &str) -> AppResult<TransactWriteItem> {
        Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::challenge::key(hash)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .context("building a Delete")
    }
}
