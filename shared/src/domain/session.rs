//! Sessions and their opaque refresh tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::domain::client::ClientInfo;
use crate::domain::hash_secret;
use crate::domain::user::UserRecord;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub user_agent: Option<String>,
    pub platform: Option<String>,
    pub mobile: bool,
}

/// How much of a client's `Sec-CH-UA-Platform` hint is kept.
pub const PLATFORM_MAX_CHARS: usize = 64;

impl DeviceInfo {
    /// The platform from client hints when sent, else guessed from the user agent.
    pub fn from_client(client: &ClientInfo) -> Self {
        let ua = client.user_agent.as_deref().unwrap_or("");
        let guessed = [
            ("Android", "Android"),
            ("iPhone", "iOS"),
            ("iPad", "iOS"),
            ("CrOS", "Chrome OS"),
            ("Windows", "Windows"),
            ("Macintosh", "macOS"),
            ("Mac OS X", "macOS"),
            ("Linux", "Linux"),
        ]
        .iter()
        .find(|(marker, _)| ua.contains(marker))
        .map(|(_, platform)| platform.to_string());
        DeviceInfo {
            // Bounded: the header is client-controlled and lands in the table.
            user_agent: client.user_agent.as_ref().map(|ua| ua.chars().take(512).collect()),
            // Bounded too: it is stored with the session and named in sign-in notices.
            platform: client
                .platform_hint
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(|p| p.chars().take(PLATFORM_MAX_CHARS).collect())
                .or(guessed),
            mobile: client.mobile_hint.unwrap_or_else(|| ua.contains("Mobi") || ua.contains("iPhone")),
        }
    }
}

impl DeviceInfo {
    /// What identifies a device for "new sign-in" notices: its user agent and platform.
    pub fn fingerprint(&self) -> String {
        let text = format!("{}|{}", self.user_agent.as_deref().unwrap_or(""), self.platform.as_deref().unwrap_or(""));
        hash_secret(&text)[..16].to_owned()
    }
}

/// A session as stored. Only hashes of refresh tokens are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub refresh_token_hash: String,
    pub previous_token_hash: Option<String>,
    pub rotated_at: Option<DateTime<Utc>>,
    /// The fingerprint of the client the last rotation answered (`DeviceInfo::fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// Epoch seconds: the TTL attribute. Reads check it too, since TTL deletion lags.
    pub expires_at: i64,
    #[serde(default)]
    pub remember_me: bool,
    #[serde(default)]
    pub device: DeviceInfo,
    pub ip_address: Option<String>,
    /// The user's session generation when this session was made (or carried over).
    #[serde(default)]
    pub generation: i64,
    /// What the session's sign-in proved: a password, or a second factor too.
    #[serde(default)]
    pub aal: super::mfa::Aal,
    /// How its sign-in proved the person (absent on older sessions: read from `aal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<super::mfa::SignInMethod>,
    /// When this session last passed the second factor (staff routes want it recent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_factor_at: Option<DateTime<Utc>>,
    /// The hash of the device token its sign-in answered: the caller's own device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_hash: Option<String>,
}

impl SessionRecord {
    /// An `aal2` session whose second factor was passed no longer than `within` ago.
    pub fn passed_second_factor_within(&self, within: chrono::Duration, now: DateTime<Utc>) -> bool {
        self.aal == super::mfa::Aal::Aal2 && self.second_factor_at.is_some_and(|at| now - at <= within)
    }

    /// What the session proved, for its tokens' `amr`: its sign-in's method while the
    /// level is still that sign-in's (a factor turned on later raises the level).
    pub fn sign_in_method(&self) -> super::mfa::SignInMethod {
        use super::mfa::{Aal, SignInMethod};
        match (self.method, self.aal) {
            (Some(method), aal) if method.aal() == aal => method,
            (_, Aal::Aal2) => SignInMethod::PasswordOtp,
            (_, Aal::Aal1) => SignInMethod::Password,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now.timestamp()
    }

    /// Not expired, and not ended by a later "end every session" of its user (a
    /// suspension ends them all; the check on the account holds besides).
    pub fn is_live(&self, user: &UserRecord, now: DateTime<Utc>) -> bool {
        !self.is_expired(now) && self.generation == user.session_generation && user.is_visible()
    }
}

/// An opaque refresh token: `<userId>.<sessionId>.<secret>`, the secret 256 random
/// bits. The ids route the lookup to the session item; only the secret's hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub user_id: String,
    pub session_id: String,
    secret: String,
}

/// Names the session, never the secret.
impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    pub fn new(user_id: &str, session_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        RefreshToken { user_id: user_id.to_owned(), session_id: session_id.to_owned(), secret: B64.encode(bytes) }
    }

    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (user_id, session_id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let well_formed = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (parts.next().is_none() && well_formed(user_id) && well_formed(session_id) && well_formed(secret)).then(|| {
            RefreshToken { user_id: user_id.to_owned(), session_id: session_id.to_owned(), secret: secret.to_owned() }
        })
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    pub fn expose(&self) -> String {
        format!("{}.{}.{}", self.user_id, self.session_id, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_round_trip_and_reject_garbage() {
        let token = RefreshToken::new("u-1", "s-1");
        let parsed = RefreshToken::parse(&token.expose()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(RefreshToken::new("u-1", "s-1").hash(), token.hash());
        for bad in ["", "a.b", "a.b.c.d", "a..c", "a.b.c d", "a.b.<script>"] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn device_from_user_agent_and_hints() {
        let iphone = ClientInfo {
            user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148".into()),
            ..Default::default()
        };
        let d = DeviceInfo::from_client(&iphone);
        assert_eq!((d.platform.as_deref(), d.mobile), (Some("iOS"), true));
        let hinted = ClientInfo {
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
            platform_hint: Some("Chrome OS".into()),
            mobile_hint: Some(false),
            ..Default::default()
        };
        let d = DeviceInfo::from_client(&hinted);
        assert_eq!((d.platform.as_deref(), d.mobile), (Some("Chrome OS"), false));
        assert_eq!(DeviceInfo::from_client(&ClientInfo::default()), DeviceInfo::default());
    }

    /// The security review: a client-chosen platform hint of any length was stored and
    /// mailed as it came.
    #[test]
    fn a_long_platform_hint_is_cut_to_64_characters() {
        let long = ClientInfo { platform_hint: Some("é".repeat(5000)), ..Default::default() };
        let platform = DeviceInfo::from_client(&long).platform.unwrap();
        assert_eq!(platform.chars().count(), PLATFORM_MAX_CHARS);
    }
}
