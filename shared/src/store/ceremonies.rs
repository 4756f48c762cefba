//! Ceremonies between the steps of a sign-in (passkey challenges, the steps of federated
//! sign-in), and the ID tokens already accepted. A ceremony is taken by a conditional
//! delete that returns it: of two requests with one id, one gets it.

use aws_sdk_dynamodb::types::{Delete, ReturnValue, TransactWriteItem};

use super::{from_item, keys, n, to_item, Store};
use serde::Serialize;

use crate::domain::ceremony::{CeremonyId, CeremonyPurpose, CeremonyRecord};
use crate::error::{AppError, AppResult, Context};

/// The sort key under which an accepted ID token's hash is remembered.
const SEEN_TOKEN: &str = "OIDC_SEEN";

#[derive(Clone, Copy)]
pub struct Ceremonies<'a> {
    pub(super) store: &'a Store,
}

impl Ceremonies<'_> {
    /// Keeps a ceremony of `purpose` under `id` for its lifetime: `state` (what its next
    /// step needs, as JSON), the account it is for, and what it is bound to.
    pub async fn put(
        self,
        id: &CeremonyId,
        purpose: CeremonyPurpose,
        state: &impl Serialize,
        user_id: Option<&str>,
        bound_to: Option<&str>,
    ) -> AppResult<()> {
        let put = self.put_write(id, purpose, state, user_id, bound_to)?;
        let put = put.put.ok_or_else(|| AppError::internal("a new item is a put"))?;
        if !self.store.put_alone(put).await? {
            return Err(AppError::internal("a new ceremony's id was taken"));
        }
        Ok(())
    }

    /// The same ceremony as a write of a step's transaction.
    pub(crate) fn put_write(
        self,
        id: &CeremonyId,
        purpose: CeremonyPurpose,
        state: &impl Serialize,
        user_id: Option<&str>,
        bound_to: Option<&str>,
    ) -> AppResult<TransactWriteItem> {
        let ceremony = CeremonyRecord {
            state: serde_json::to_string(state).context("serializing a ceremony's state")?,
            user_id: user_id.map(str::to_owned),
            bound_to: bound_to.map(str::to_owned),
            expires_at: self.store.now().timestamp() + purpose.lifetime_secs(),
        };
        self.store.put_new(to_item(&ceremony, keys::ceremony::key(&id.hash(), purpose.as_str()))?)
    }

    /// Takes the ceremony of this id and purpose, once: deleted as it is read, whatever
    /// the step makes of it. `None`: no such ceremony (another purpose's, used, or never
    /// made) or expired.
    pub async fn take(self, hash: &str, purpose: CeremonyPurpose) -> AppResult<Option<CeremonyRecord>> {
        let result = self
            .store
            .delete_item()
            .set_key(Some(keys::ceremony::key(hash, purpose.as_str())))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                super::conditional_write(Err::<(), _>(err), "DeleteItem CEREMONY#".into())?;
                return Ok(None);
            }
        };
        let ceremony: Option<CeremonyRecord> = out.attributes.map(from_item).transpose()?;
        let now = self.store.now().timestamp();
        Ok(ceremony.filter(|c| c.expires_at > now))
    }

    /// A ceremony as it stands, unless expired: for a step that may fail for reasons
    /// the client can fix (a username taken), which consumes it in its own transaction
    /// (`consume_write`) only when it succeeds.
    pub async fn peek(self, hash: &str, purpose: CeremonyPurpose) -> AppResult<Option<CeremonyRecord>> {
        let ceremony: Option<CeremonyRecord> = self.store.get(keys::ceremony::key(hash, purpose.as_str())).await?;
        let now = self.store.now().timestamp();
        Ok(ceremony.filter(|c| c.expires_at > now))
    }

    /// The delete that uses a peeked ceremony up, in its step's transaction (it fails
    /// when another request used it first).
    pub(crate) fn consume_write(self, hash: &str, purpose: CeremonyPurpose) -> AppResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::ceremony::key(hash, purpose.as_str())))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(AppError::internal)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Remembers an accepted ID token (its hash) until it expires: `false` when it was
    /// accepted before (a replay).
    pub async fn first_use_of_token(self, token_hash: &str, expires_at: i64) -> AppResult<bool> {
        let mut item = keys::ceremony::key(token_hash, SEEN_TOKEN);
        item.insert(keys::expiry::AT.to_owned(), n(expires_at));
        let put = self.store.put_new(item)?.put.ok_or_else(|| AppError::internal("a new item is a put"))?;
        self.store.put_alone(put).await
    }
}
