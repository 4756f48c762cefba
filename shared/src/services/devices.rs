//! The devices that signed in to the account (each holds a device token): listed for
//! the person, revoked one by one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::history::History;
use super::sessions::Sessions;
use crate::domain::client::Caller;
use crate::domain::device::{device_id, DeviceRecord};
use crate::domain::security_event::SecurityEventType;
use crate::domain::user::UserRecord;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::Store;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Device)]
pub struct DeviceView {
    pub id: String,
    /// From the user agent, e.g. "Firefox on Linux".
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The last sign-in from this device.
    pub last_used_at: DateTime<Utc>,
    pub last_ip_address: Option<String>,
    /// The device of the caller's session.
    pub current: bool,
}

impl DeviceView {
    /// A device as its owner sees it (never its hash).
    pub(crate) fn new(hash: &str, device: DeviceRecord, current: bool) -> Self {
        DeviceView {
            id: device_id(hash),
            current,
            last_used_at: device.last_used_at.unwrap_or(device.created_at),
            name: device.name,
            created_at: device.created_at,
            last_ip_address: device.last_ip_address,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub items: Vec<DeviceView>,
}

/// The account's devices.
pub struct Devices<'a> {
    store: &'a Store,
    sessions: Sessions<'a>,
}

impl<'a> Devices<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Devices { store: &state.store, sessions: Sessions::new(state) }
    }

    /// The devices whose tokens still vouch for the account, most recently used first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn list(&self, caller: &Caller) -> AppResult<DeviceList> {
        let (user, session) = self.sessions.live_session(caller).await?;
        let mut items: Vec<DeviceView> = self
            .vouching(&user)
            .await?
            .into_iter()
            .map(|(hash, device)| {
                let current = session.device_hash.as_deref() == Some(hash.as_str());
                DeviceView::new(&hash, device, current)
            })
            .collect();
        items.sort_by_key(|d| std::cmp::Reverse(d.last_used_at));
        Ok(DeviceList { items })
    }

    /// Revokes one of the caller's devices: its token stops exempting anything. Anyone
    /// else's id, or an ended device's, is simply not found.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, device_id = %id))]
    pub async fn revoke(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let (user, session) = self.sessions.live_session(caller).await?;
        let devices = self.vouching(&user).await?;
        let (hash, device) = devices.into_iter().find(|(hash, _)| device_id(hash) == id).ok_or(AppError::NotFound)?;
        let history = History::new(self.store);
        let event = history
            .event(&user.id, SecurityEventType::DeviceRevoked, &caller.client)
            .device(session.device_hash.as_deref())
            .detail("revokedDeviceId", id)
            .detail("revokedDeviceName", device.name);
        if !self.store.sessions().delete_device_with(&user.id, &hash, vec![history.put(&event)?]).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(user_id = %user.id, "device revoked");
        Ok(())
    }

    /// The account's device items that still vouch for it, with their keys' hashes.
    async fn vouching(&self, user: &UserRecord) -> AppResult<Vec<(String, DeviceRecord)>> {
        let now = self.store.now();
        let devices = self.store.sessions().devices_of(&user.id).await?;
        Ok(devices.into_iter().filter(|(_, d)| d.vouches_for(&user.id, user.device_generation, now)).collect())
    }
}
