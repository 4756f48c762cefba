use std::collections::HashMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::rate_limits::{current_window, window_of};
use super::writes::failed;
use super::{dynamo_error, from_item, keys, s, to_item, ClaimCopies, Item, Store};
use crate::domain::device::{DeviceRecord, DeviceToken};
use crate::domain::session::SessionRecord;
use crate::domain::user::{AccountStanding, UserRecord};
use crate::error::{AppError, AppResult, Context};
use crate::rate_limit::{Counter, RateWindow};
use crate::store::sessions::session_put;

/// Accounts by id, email or username: sign-up, the claims, sign-in writes.
#[derive(Clone, Copy)]
pub struct Users<'a> {
    pub(super) store: &'a Store,
}

/// The key of the account's username claim.
pub(crate) fn username_claim(user: &UserRecord) -> Item {
    keys::claim::username(&user.username.to_ascii_lowercase())
}

/// The key of the claim on an email (with an `@`) or a username, without regard to case.
fn claim_key(identifier: &str) -> Item {
    let lower = identifier.trim().to_lowercase();
    if lower.contains('@') {
        keys::claim::email(&lower)
    } else {
        keys::claim::username(&lower)
    }
}

/// How a sign-up's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUp {
    Created,
    EmailTaken,
    UsernameTaken,
}

/// What a sign-in writes beside its session.
pub struct LoginWrite {
    pub at: DateTime<Utc>,
    pub rehashed_password: Option<String>,
    pub known_devices: Option<Vec<String>>,
    /// The device the sign-in answers: a new one's put (`device_put`), or the presented
    /// one's last use (`device_seen`).
    pub device: TransactWriteItem,
    /// The sign-in's event in the account's security history (a put).
    pub event: TransactWriteItem,
    pub extra: Vec<TransactWriteItem>,
}

/// A claim on an email or a username. It carries the password hash too, so that
/// sign-in can start argon2 after one read; every write of the hash writes the user
/// item and both claims in one transaction.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub user_id: String,
    /// Absent on claims written before claims carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// The account's device generation: a device token of another one has ended.
    #[serde(default)]
    pub device_generation: i64,
}

impl Claim {
    /// A claim of the account, with the copies it carries.
    pub(crate) fn of(user: &UserRecord) -> Self {
        Claim {
            user_id: user.id.clone(),
            password_hash: Some(user.password_hash.clone()),
            device_generation: user.device_generation,
        }
    }
}

impl Users<'_> {
    /// Sign-up as one transaction: the user, the claims on their email and username
    /// (whose conditions make both unique), the first session and the search entries. Two racing sign-ups
    /// for one email end with one user and one 409, never with an orphan claim.
    pub async fn create_user(
        self,
        user: &UserRecord,
        username_key: &str,
        session: &SessionRecord,
        extra: Vec<TransactWriteItem>,
    ) -> AppResult<SignUp> {
        let claim = Claim::of(user);
        let mut items = vec![
            self.store.put_new(to_item(user, keys::user::key(&user.id))?)?,
            self.store.put_new(to_item(&claim, keys::claim::email(&user.email))?)?,
            self.store.put_new(to_item(&claim, keys::claim::username(username_key))?)?,
            session_put(self.store, session)?,
        ];
        items.extend(self.store.search().search_entry_puts(&user.id, &user.search_tokens())?);
        items.extend(extra);
        match self.store.try_transact(items).await? {
            Ok(()) => Ok(SignUp::Created),
            Err(reasons) if failed(&reasons, 1) => Ok(SignUp::EmailTaken),
            Err(reasons) if failed(&reasons, 2) => Ok(SignUp::UsernameTaken),
            Err(_) => Err(AppError::internal("sign-up transaction cancelled for another reason")),
        }
    }

    pub async fn user_by_id(self, user_id: &str) -> AppResult<Option<UserRecord>> {
        let user: Option<UserRecord> = self.store.get(keys::user::key(user_id)).await?;
        Ok(user.map(|u| u.as_of(self.store.now())))
    }

    /// What decides whether the account's access tokens still count (one consistent
    /// read of the user item, only the attributes it needs); `None`: no such account.
    pub async fn account_standing(self, user_id: &str) -> AppResult<Option<AccountStanding>> {
        let out = self
            .store
            .get_item()
            .set_key(Some(keys::user::key(user_id)))
            .projection_expression("PK, #suspended")
            .expression_attribute_names("#suspended", "suspended")
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_error("GetItem USER#/PROFILE (standing)"))?;
        out.item.map(from_item).transpose()
    }

    /// A user item as of now (a suspension or limitation that ended is dropped). Every
    /// read of a user item goes through here or `user_by_id`.
    pub(crate) fn user_record(self, item: Item) -> AppResult<UserRecord> {
        Ok(from_item::<UserRecord>(item)?.as_of(self.store.now()))
    }

    /// The account, unless it is missing or deactivated.
    pub async fn active_user(self, user_id: &str) -> AppResult<Option<UserRecord>> {
        Ok(self.user_by_id(user_id).await?.filter(UserRecord::is_active))
    }

    /// The id of the account with this email (with an `@`) or username, without regard
    /// to case.
    pub async fn user_id_by_identifier(self, identifier: &str) -> AppResult<Option<String>> {
        Ok(self.claim(identifier).await?.map(|c| c.user_id))
    }

    /// The claim on this email (with an `@`) or username, without regard to case.
    pub async fn claim(self, identifier: &str) -> AppResult<Option<Claim>> {
        self.store.get(claim_key(identifier)).await
    }

    /// The claim on an identifier, the current windows of some rate limits and the
    /// presented device, in one BatchGetItem: sign-in's first round trip.
    pub async fn claim_and_counts(
        self,
        identifier: &str,
        counters: &[Counter<'_>],
        device: Option<&DeviceToken>,
    ) -> AppResult<(Option<Claim>, Vec<RateWindow>, Option<DeviceRecord>)> {
        let claim_key = claim_key(identifier);
        let device_key = device.map(|d| keys::device::key(&d.user_id, &d.hash()));
        let now = self.store.now().timestamp();
        let windows: Vec<_> = counters.iter().map(|counter| current_window(counter, now)).collect();
        let keys = std::iter::once(claim_key.clone())
            .chain(device_key.clone())
            .chain(windows.iter().map(|(k, _)| k.clone()))
            .collect();
        let items = super::batch_get(self.store, keys).await?;
        let found = |wanted: &Item| {
            let same = |item: &&Item| [keys::PK, keys::SK].iter().all(|name| item.get(*name) == wanted.get(*name));
            items.iter().find(same).cloned()
        };
        let claim = found(&claim_key).map(from_item).transpose()?;
        let device = device_key.as_ref().and_then(found).map(from_item).transpose()?;
        let counts = windows
            .iter()
            .map(|(window, remaining)| Ok(window_of(found(window).map(from_item).transpose()?, *remaining)))
            .collect::<AppResult<_>>()?;
        Ok((claim, counts, device))
    }

    /// A new known device, for the sign-in's write.
    pub fn device_put(self, token: &DeviceToken, record: &DeviceRecord) -> AppResult<TransactWriteItem> {
        let item = to_item(record, keys::device::key(&token.user_id, &token.hash()))?;
        super::writes::put_new_expiring(self.store, item, record.expires_at)
    }

    /// A known device's last sign-in, unless it was revoked meanwhile.
    pub(crate) fn device_seen(
        self,
        token: &DeviceToken,
        ip: Option<&str>,
        at: DateTime<Utc>,
    ) -> AppResult<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::device::key(&token.user_id, &token.hash())))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", super::time(&at));
        update = match ip {
            Some(ip) => update
                .update_expression("SET lastUsedAt = :at, lastIpAddress = :ip")
                .expression_attribute_values(":ip", s(ip)),
            None => update.update_expression("SET lastUsedAt = :at REMOVE lastIpAddress"),
        };
        Ok(TransactWriteItem::builder().update(update.build().context("building an Update")?).build())
    }

    /// The writes that keep both claims' copies (password hash, device generation) current.
    pub(crate) fn claim_updates(self, user: &UserRecord, copies: ClaimCopies<'_>) -> AppResult<Vec<TransactWriteItem>> {
        let claims = [keys::claim::email(&user.email), username_claim(user)];
        Ok(claims
            .into_iter()
            .map(|claim| self.claim_update(claim, user, copies))
            .collect::<AppResult<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The write that keeps one claim's copies current (none when nothing changes).
    pub(crate) fn claim_update(
        self,
        claim: Item,
        user: &UserRecord,
        copies: ClaimCopies<'_>,
    ) -> AppResult<Option<TransactWriteItem>> {
        let mut sets = Vec::new();
        let mut values = HashMap::from([(":id".to_owned(), s(&user.id))]);
        if let Some(hash) = copies.password_hash {
            sets.push("passwordHash = :hash");
            values.insert(":hash".to_owned(), s(hash));
        }
        if let Some(generation) = copies.device_generation {
            sets.push("deviceGeneration = :devices");
            values.insert(":devices".to_owned(), super::n(generation));
        }
        if sets.is_empty() {
            return Ok(None);
        }
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(claim))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression("userId = :id")
            .set_expression_attribute_values(Some(values))
            .build()
            .context("building an Update")?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }

    /// A sign-in: the new session and the user's `lastLogin`, with a re-hashed password
    /// when its parameters are out of date, the device list when the device is new, and
    /// the notice of it. Those go in one transaction; the common sign-in (a known device,
    /// a current hash) writes the session and `lastLogin` side by side instead: half the
    /// write units of a transaction, and one write's wait.
    pub async fn record_login(self, user: &UserRecord, session: &SessionRecord, login: LoginWrite) -> AppResult<bool> {
        let mut sets = vec!["lastLogin = :at"];
        let mut update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", super::time(&login.at));
        let mut claims = Vec::new();
        if let Some(hash) = login.rehashed_password {
            // Only over the hash just verified: a sign-in racing a reset or a password
            // change never writes the old password back.
            sets.push("passwordHash = :hash");
            claims = self.claim_updates(user, ClaimCopies { password_hash: Some(&hash), ..Default::default() })?;
            update = update
                .condition_expression("attribute_exists(PK) AND passwordHash = :verified")
                .expression_attribute_values(":verified", s(&user.password_hash))
                .expression_attribute_values(":hash", s(hash));
        }
        if let Some(devices) = login.known_devices {
            sets.push("knownDevices = :devices");
            let devices = serde_dynamo::to_attribute_value(&devices).context("serializing devices for DynamoDB")?;
            update = update.expression_attribute_values(":devices", devices);
        }
        let update =
            update.update_expression(format!("SET {}", sets.join(", "))).build().context("building an Update")?;
        let session_item = session_put(self.store, session)?;
        if claims.is_empty() && login.extra.is_empty() {
            let (Some(put), Some(event)) = (session_item.put, login.event.put) else {
                return Err(AppError::internal("a new session and its event are puts"));
            };
            let device = async {
                match (login.device.put, login.device.update) {
                    (Some(put), _) => self.store.put_alone(put).await,
                    // A device revoked meanwhile stays revoked (its token no longer vouches).
                    (_, Some(update)) => self.store.update_one(update).await,
                    _ => Ok(true),
                }
            };
            // No tokens leave unless the event was written too: a sign-in is never missing
            // from the history (an event whose session write failed says so in the logs).
            let (session_written, user_written, _, _) = tokio::try_join!(
                self.store.put_alone(put),
                self.store.update_one(update),
                device,
                self.store.put_alone(event)
            )?;
            // A failed condition: the account is gone (the session expires unused).
            return Ok(session_written && user_written);
        }
        let mut items = vec![session_item, TransactWriteItem::builder().update(update).build()];
        items.extend(claims);
        items.push(login.device);
        items.push(login.event);
        items.extend(login.extra);
        // A failed condition: the account is gone, or (re-hashing) its password changed
        // since it was verified.
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// A password hash with new parameters, only over the hash just verified (with both
    /// claims' copies): `false` when the password changed meanwhile.
    pub async fn rehash_password(self, user: &UserRecord, hash: &str) -> AppResult<bool> {
        let update = Update::builder()
            .table_name(self.store.table())
            .set_key(Some(keys::user::key(&user.id)))
            .update_expression("SET passwordHash = :hash")
            .condition_expression("passwordHash = :verified")
            .expression_attribute_values(":verified", s(&user.password_hash))
            .expression_attribute_values(":hash", s(hash))
            .build()
            .context("building an Update")?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(self.claim_updates(user, ClaimCopies { password_hash: Some(hash), ..Default::default() })?);
        Ok(self.store.try_transact(items).await?.is_ok())
    }

    /// User records by id for lists and search, in one or more batch reads, eventually
    /// consistent (half the read units) like the index the lists come from.
    pub async fn users_by_ids(self, ids: &[&str]) -> AppResult<HashMap<String, UserRecord>> {
        let keys = ids.iter().map(|id| keys::user::key(id)).collect();
        let mut users = HashMap::new();
        for item in super::batch_get_with(self.store, keys, false).await? {
            let user = self.user_record(item)?;
            users.insert(user.id.clone(), user);
        }
        Ok(users)
    }
}
