use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::pages::Pages;
use super::{conditional_write, from_item, keys, n, s, sort_key, time, to_item, ClaimCopies, Item, Store};
use crate::domain::device::DeviceRecord;
use crate::domain::mfa::Aal;
use crate::domain::session::SessionRecord;
use crate::domain::user::UserRecord;
use crate::domain::OfUser;
use crate::error::{AppResult, Context};

/// Sessions and their refresh tokens, and the devices that signed in.
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    pub(super) store: &'a Store,
}

/// The put of a new session, with its expiry-index entry.
pub(crate) fn session_put(store: &Store, session: &SessionRecord) -> AppResult<TransactWriteItem> {
    let item = to_item(session, keys::session::key(&session.user_id, &session.id))?;
    super::writes::put_new_expiring(store, item, session.expires_at)
}

/// A change of a session's refresh-token hashes.
pub struct RefreshRotation<'a> {
    /// The hash the session must still hold: the write is lost to a concurrent one otherwise.
    pub expected_current: &'a str,
    pub new_current: &'a str,
    /// The hash a client may still present within the grace window.
    pub previous: &'a str,
    pub rotated_at: DateTime<Utc>,
    /// The fingerprint of the client the rotation answers (its user agent and platform):
    /// only that client may retry within the grace window.
    pub rotated_by: &'a str,
}

impl Sessions<'_> {
    /// The session and its user in one round trip, both read consistently.
    pub async fn session_and_user(
        self,
        user_id: &str,
        session_id: &str,
    ) -> AppResult<(Option<SessionRecord>, Option<UserRecord>)> {
        let keys = vec![keys::session::key(user_id, session_id), keys::user::key(user_id)];
        let (mut session, mut user) = (None, None);
        for item in super::batch_get(self.store, keys).await? {
            if sort_key(&item) == keys::user::PROFILE {
                user = Some(self.store.users().user_record(item)?);
            } else {
                session = Some(from_item(item)?);
            }
        }
        Ok((session, user))
    }

    /// Swaps the refresh-token hash if the session still holds `expected_current`
    /// and has not expired. `false` when a concurrent rotation or revocation won.
    pub async fn rotate_refresh_token(self, session: &SessionRecord, change: RefreshRotation<'_>) -> AppResult<bool> {
        let result = self
            .store
            .update_item()
            .set_key(Some(keys::session::key(&session.user_id, &session.id)))
            .update_expression(
                "SET refreshTokenHash = :new, previousTokenHash = :previous, rotatedAt = :rotated, \
                 rotatedBy = :by, lastUsedAt = :now",
            )
            .condition_expression("refreshTokenHash = :expected AND expiresAt > :now_epoch")
            .expression_attribute_values(":new", s(change.new_current))
            .expression_attribute_values(":previous", s(change.previous))
            .expression_attribute_values(":rotated", time(&change.rotated_at))
            .expression_attribute_values(":by", s(change.rotated_by))
            .expression_attribute_values(":now", time(&self.store.now()))
            .expression_attribute_values(":expected", s(change.expected_current))
            .expression_attribute_values(":now_epoch", n(self.store.now().timestamp()))
            .send()
            .await;
        conditional_write(result, "UpdateItem USER#/SESSION# (rotate)".into())
    }

    /// Deletes one session of the user; `false` when there was none.
    pub async fn delete_session(self, session: OfUser<'_>) -> AppResult<bool> {
        let OfUser { user_id, id: session_id } = session;
        let result = self
            .store
            .delete_item()
            .set_key(Some(keys::session::key(user_id, session_id)))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        conditional_write(result, "DeleteItem USER#/SESSION#".into())
    }

    /// Deletes a session together with other writes (a notice of why) in one transaction.
    pub async fn delete_session_with(self, session: OfUser<'_>, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        self.delete_with(keys::session::key(session.user_id, session.id), extra).await
    }

    /// Deletes an item that must be there, with other writes, in one transaction.
    async fn delete_with(self, key: Item, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(self.store.table())
            .set_key(Some(key))
            .condition_expression("attribute_exists(PK)")
            .build()
            .context("building a Delete")?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        items.extend(extra);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// Every session item of the user (live or not), by one paginated Query.
    pub async fn sessions_of(self, user_id: &str) -> AppResult<Vec<SessionRecord>> {
        let query = self.store.prefix_query(keys::user::pk(user_id), keys::session::PREFIX);
        let (mut sessions, mut pages) = (Vec::new(), Pages::of(query, "the sessions of a user"));
        while let Some(out) = pages.next().await? {
            for item in out.items.unwrap_or_default() {
                sessions.push(from_item(item)?);
            }
        }
        Ok(sessions)
    }

    /// Every device item of the user (ended ones too), with the hash that keys each.
    pub async fn devices_of(self, user_id: &str) -> AppResult<Vec<(String, DeviceRecord)>> {
        let query = self.store.prefix_query(keys::user::pk(user_id), keys::device::PREFIX);
        let (mut devices, mut pages) = (Vec::new(), Pages::of(query, "the devices of a user"));
        while let Some(out) = pages.next().await? {
            for item in out.items.unwrap_or_default() {
                let hash = sort_key(&item).trim_start_matches(keys::device::PREFIX).to_owned();
                devices.push((hash, from_item(item)?));
            }
        }
        Ok(devices)
    }

    /// One device of the user, by the hash that keys it.
    pub async fn device(self, user_id: &str, hash: &str) -> AppResult<Option<DeviceRecord>> {
        self.store.get(keys::device::key(user_id, hash)).await
    }

    /// Deletes a device of the user, with other writes (its security event) in one
    /// transaction; `false` when it was gone already.
    pub async fn delete_device_with(self, user_id: &str, hash: &str, extra: Vec<TransactWriteItem>) -> AppResult<bool> {
        self.delete_with(keys::device::key(user_id, hash), extra).await
    }

    /// Deletes device items that no longer vouch (ended by a newer generation), after
    /// the fact: tidiness only, they expire anyway.
    pub async fn delete_devices(self, user_id: &str, hashes: &[String]) -> AppResult<()> {
        super::delete_items(self.store, hashes.iter().map(|h| keys::device::key(user_id, h)).collect()).await
    }

    /// Deletes the given sessions of the user in batches of 25, asking again for the
    /// unprocessed ones. Deleting a session that is already gone is no error.
    pub async fn delete_sessions(self, user_id: &str, session_ids: &[String]) -> AppResult<()> {
        super::delete_items(self.store, session_ids.iter().map(|id| keys::session::key(user_id, id)).collect()).await
    }

    /// Ends every session of the user at once by moving the user to a new session
    /// generation (older sessions stop working the moment this commits, however many
    /// there are), with the changes of `bump` to the user and the one session it carries
    /// over. The old session items are deleted afterwards by the caller, or expire.
    /// `None`: a concurrent change of the same account, or the kept session ended
    /// meanwhile (the caller's view is stale).
    pub async fn bump_session_generation(self, user: &UserRecord, bump: GenerationBump<'_>) -> AppResult<Option<i64>> {
        let next = user.session_generation + 1;
        let now = time(&self.store.now());
        let mut sets = vec!["sessionGeneration = :next", "updatedAt = :now"];
        let mut user_update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(sessionGeneration) OR sessionGeneration = :current)",
            )
            .expression_attribute_values(":current", n(user.session_generation))
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":now", now.clone())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None);
        if let Some(hash) = bump.password_hash {
            sets.push("passwordHash = :hash");
            user_update = user_update.expression_attribute_values(":hash", s(hash));
        }
        let devices_next = bump.end_devices.map(|_| user.device_generation + 1);
        if let Some(next) = devices_next {
            sets.push("deviceGeneration = :devices");
            user_update = user_update.expression_attribute_values(":devices", n(next));
        }
        if let Some(on) = bump.mfa_enabled {
            sets.push("mfaEnabled = :mfa");
            user_update = user_update.expression_attribute_values(":mfa", AttributeValue::Bool(on));
        }
        let user_update = user_update.update_expression(format!("SET {}", sets.join(", ")));
        let mut items =
            vec![TransactWriteItem::builder().update(user_update.build().context("building an Update")?).build()];
        let copies = ClaimCopies { password_hash: bump.password_hash, device_generation: devices_next };
        items.extend(self.store.users().claim_updates(user, copies)?);
        if let (Some(EndDevices { keep: Some(device_hash) }), Some(next)) = (bump.end_devices, devices_next) {
            // The caller's own device moves to the new generation with them.
            let kept = Update::builder()
                .table_name(self.store.table())
                .set_key(Some(keys::device::key(&user.id, device_hash)))
                .update_expression("SET generation = :devices")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":devices", n(next))
                .build()
                .context("building an Update")?;
            items.push(TransactWriteItem::builder().update(kept).build());
        }
        if let Some(kept) = bump.keep {
            // Carried over to the new generation, with a new refresh token or its own.
            let mut sets = vec!["generation = :next", "lastUsedAt = :now"];
            let mut session_update = Update::builder()
                .table_name(self.store.table())
                .set_key(Some(keys::session::key(&kept.session.user_id, &kept.session.id)))
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":next", n(next))
                .expression_attribute_values(":now", now.clone());
            let mut remove = "";
            if let Some(hash) = kept.new_refresh_hash {
                sets.push("refreshTokenHash = :hash");
                remove = " REMOVE previousTokenHash, rotatedAt";
                session_update = session_update.expression_attribute_values(":hash", s(hash));
            }
            if let Some(aal) = kept.aal {
                sets.push("aal = :aal");
                if aal == Aal::Aal2 {
                    sets.push("secondFactorAt = :now");
                }
                let aal = serde_dynamo::to_attribute_value(aal).context("serializing aal for DynamoDB")?;
                session_update = session_update.expression_attribute_values(":aal", aal);
            }
            let session_update = session_update
                .update_expression(format!("SET {}{remove}", sets.join(", ")))
                .build()
                .context("building an Update")?;
            items.push(TransactWriteItem::builder().update(session_update).build());
        }
        items.extend(bump.extra);
        Ok(self.store.try_transact(items).await?.ok().map(|()| next))
    }
}

impl Sessions<'_> {
    /// `session` carried over into its user's new generation `next`, in the transaction
    /// that moves the user there.
    pub(crate) fn session_carried_over(self, session: &SessionRecord, next: i64) -> AppResult<TransactWriteItem> {
        Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::session::key(&session.user_id, &session.id)))
            .update_expression("SET generation = :next")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":next", n(next))
            .build()
            .map(|u| TransactWriteItem::builder().update(u).build())
            .context("building an Update")
    }
}

/// What ending every other session changes beside the generation.
#[derive(Default)]
pub struct GenerationBump<'a> {
    /// A new password hash (with both claims' copies).
    pub password_hash: Option<&'a str>,
    /// The display flag of a second factor turned on.
    pub mfa_enabled: Option<bool>,
    /// The caller's session, carried over.
    pub keep: Option<KeptSession<'a>>,
    /// Device tokens end too (all but the one named).
    pub end_devices: Option<EndDevices<'a>>,
    /// Other writes of the same transaction (a notice, the factor).
    pub extra: Vec<TransactWriteItem>,
}

/// Device tokens ended with the sessions: the account's device generation moves on.
#[derive(Clone, Copy, Default)]
pub struct EndDevices<'a> {
    /// The hash of a device that stays (a password change's own, while it vouches).
    pub keep: Option<&'a str>,
}

/// A session carried over into the new generation.
pub struct KeptSession<'a> {
    pub session: &'a SessionRecord,
    /// Its next refresh token's hash, when it gets a new one.
    pub new_refresh_hash: Option<&'a str>,
    /// A new assurance level (a second factor just confirmed).
    pub aal: Option<Aal>,
}
