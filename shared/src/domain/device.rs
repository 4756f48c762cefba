//! Known devices: a sign-in answers a device token (opaque, a year, bound to the
//! account) that the client sends back at later sign-ins. An attempt with a valid one
//! is limited per device only, never by the per-identifier window or the per-account
//! failure cap, so a stranger's wrong guesses cannot lock a person out of their own
//! devices. Only a hash of the token's secret is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::client::ClientInfo;
use super::hash_secret;
use super::id::is_id;
use super::session::DeviceInfo;

pub const DEVICE_TOKEN_DAYS: i64 = 365;

/// `<userId>.<256 random bits, URL-safe base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken {
    pub user_id: String,
    secret: String,
}

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceToken").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

impl DeviceToken {
    pub fn new(user_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DeviceToken { user_id: user_id.to_owned(), secret: B64.encode(bytes) }
    }

    /// A token of the right shape; anything else is no token at all (ignored).
    pub fn parse(token: &str) -> Option<Self> {
        let (user_id, secret) = token.split_once('.')?;
        let secret_ok =
            secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (is_id(user_id) && secret_ok).then(|| DeviceToken { user_id: user_id.to_owned(), secret: secret.to_owned() })
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    pub fn expose(&self) -> String {
        format!("{}.{}", self.user_id, self.secret)
    }
}

/// The stored device (`USER#<id>` / `DEVICE#<hash>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRecord {
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds: the TTL attribute; reads check it too.
    pub expires_at: i64,
    /// "Firefox on Linux": for the person's list of devices.
    #[serde(default)]
    pub name: String,
    /// The last sign-in from this device, and its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ip_address: Option<String>,
    /// The account's device generation when the device was made (or kept by a password
    /// change): a later one (a reset, "sign out everywhere") has ended it.
    #[serde(default)]
    pub generation: i64,
}

impl DeviceRecord {
    pub fn new(user_id: &str, client: &ClientInfo, generation: i64, now: DateTime<Utc>) -> Self {
        DeviceRecord {
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: (now + chrono::Duration::days(DEVICE_TOKEN_DAYS)).timestamp(),
            name: device_name(&DeviceInfo::from_client(client)),
            last_used_at: Some(now),
            last_ip_address: client.ip.clone(),
            generation,
        }
    }

    /// The device vouches for `user_id`, whose devices are of `generation`, now.
    pub fn vouches_for(&self, user_id: &str, generation: i64, now: DateTime<Utc>) -> bool {
        self.user_id == user_id && self.generation == generation && self.expires_at > now.timestamp()
    }
}

/// A device's public id, from the hash that keys it: a UUID's shape (for paths), stable,
/// and no way back to the hash, let alone the token.
pub fn device_id(token_hash: &str) -> String {
    super::derived_id(&format!("device-id:{token_hash}"))
}

/// A name a person recognises their device by: the browser (or the app's own product
/// token) and the platform, e.g. "Firefox on Linux", "MyApp on iOS". A few markers
/// suffice for a label; nothing decides on it.
pub fn device_name(device: &DeviceInfo) -> String {
    let ua = device.user_agent.as_deref().unwrap_or("");
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| (*name).to_owned())
    .or_else(|| {
        // Not a browser: an app or a tool names itself first ("MyApp/2.1 (iOS)").
        let product = ua.split(['/', ' ']).next().unwrap_or("").trim();
        (!product.is_empty() && product != "Mozilla").then(|| product.chars().take(40).collect())
    });
    match (browser, device.platform.as_deref()) {
        (Some(browser), Some(platform)) => format!("{browser} on {platform}"),
        (Some(browser), None) => browser,
        (None, Some(platform)) => format!("A device on {platform}"),
        (None, None) => "An unknown device".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_odd_shapes_are_no_token() {
        let id = uuid::Uuid::new_v4().to_string();
        let token = DeviceToken::new(&id);
        assert_eq!(DeviceToken::parse(&token.expose()), Some(token.clone()));
        assert!(!format!("{token:?}").contains(&token.secret), "the secret never reaches a log");
        for bad in [
            "",
            "x",
            &format!("{id}.short"),
            &format!("not-an-id.{}", "a".repeat(43)),
            &format!("{id}.{}", "+".repeat(43)),
        ] {
            assert!(DeviceToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn devices_are_named_by_browser_and_platform() {
        let named = |ua: &str, platform: Option<&str>| {
            device_name(&DeviceInfo {
                user_agent: Some(ua.to_owned()),
                platform: platform.map(str::to_owned),
                mobile: false,
            })
        };
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(named(firefox, Some("Linux")), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0";
        assert_eq!(named(edge, Some("Windows")), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(named(safari, Some("iOS")), "Safari on iOS");
        assert_eq!(named("MyApp/2.1 (iPhone)", Some("iOS")), "MyApp on iOS");
        assert_eq!(named("", None), "An unknown device");
    }

    #[test]
    fn device_ids_are_stable_uuids_unlike_their_hash() {
        let hash = DeviceToken::new(&uuid::Uuid::new_v4().to_string()).hash();
        let id = device_id(&hash);
        assert!(is_id(&id), "{id}");
        assert_eq!(id, device_id(&hash));
        assert!(!hash.contains(&id) && !id.contains(&hash[..8]));
    }
}
