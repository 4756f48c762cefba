//! The account's security history: what changed how it signs in, and every sign-in,
//! failed and refused attempt, for the person to read (`GET /api/auth/security-events`).
//! Kept 90 days; never a password, code, token or another account's data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::ClientInfo;

/// How long an event is kept (the TTL; reads check it too).
pub const SECURITY_EVENT_DAYS: i64 = 90;

/// How many characters of a user agent an event keeps (the header is the client's).
const USER_AGENT_MAX_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurityEventType {
    SignIn,
    /// A wrong password or code for this account, from any client.
    SignInFailed,
    /// A limit refused a sign-in: one event per account and hour, with the count.
    SignInBlocked,
    PasswordChanged,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeReverted,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodesRegenerated,
    PasskeyAdded,
    PasskeyRemoved,
    IdentityLinked,
    IdentityUnlinked,
    SessionRevoked,
    DeviceRevoked,
    AccountSecured,
    RoleChanged,
    Suspended,
    Unsuspended,
}

impl SecurityEventType {
    pub const ALL: [SecurityEventType; 21] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignInBlocked,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailChangeReverted,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::SessionRevoked,
        Self::DeviceRevoked,
        Self::AccountSecured,
        Self::RoleChanged,
        Self::Suspended,
        Self::Unsuspended,
    ];

    pub fn as_str(self) -> &'static str {
        // The serde names (a test holds them equal).
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInBlocked => "sign_in_blocked",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::EmailChangeReverted => "email_change_reverted",
            Self::MfaEnabled => "mfa_enabled",
            Self::MfaDisabled => "mfa_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::IdentityLinked => "identity_linked",
            Self::IdentityUnlinked => "identity_unlinked",
            Self::SessionRevoked => "session_revoked",
            Self::DeviceRevoked => "device_revoked",
            Self::AccountSecured => "account_secured",
            Self::RoleChanged => "role_changed",
            Self::Suspended => "suspended",
            Self::Unsuspended => "unsuspended",
        }
    }

    /// The type a `type` query parameter names.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(Value::String(text.to_owned())).ok()
    }
}

/// An event as stored (`USER#<id>` / `SECEVENT#<time>#<id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventRecord {
    pub id: String,
    pub user_id: String,
    pub at: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: SecurityEventType,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default)]
    pub details: Map<String, Value>,
    /// Epoch seconds: the TTL attribute.
    pub expires_at: i64,
    /// A `sign_in_blocked` event's count of refused attempts in its hour (its `at`), the
    /// first and the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DateTime<Utc>>,
}

impl SecurityEventRecord {
    /// An event of `user_id` now, from the client that caused it.
    pub fn new(user_id: &str, kind: SecurityEventType, from: &ClientInfo, now: DateTime<Utc>) -> Self {
        SecurityEventRecord {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user_id.to_owned(),
            at: now,
            kind,
            ip_address: from.ip.clone(),
            user_agent: from.user_agent.as_ref().map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()),
            device_id: None,
            details: Map::new(),
            expires_at: (now + chrono::Duration::days(SECURITY_EVENT_DAYS)).timestamp(),
            attempts: None,
            first_at: None,
            last_at: None,
        }
    }

    /// The device (by the hash of its token) the event came from.
    pub fn device(mut self, token_hash: Option<&str>) -> Self {
        self.device_id = token_hash.map(super::device::device_id);
        self
    }

    pub fn detail(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.details.insert(name.to_owned(), value.into());
        self
    }
}

/// What the person reads.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SecurityEvent)]
pub struct SecurityEventView {
    pub id: String,
    pub at: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: SecurityEventType,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// What else the event says (`method`, `attempts`, `previousEmail`…), by type.
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl From<SecurityEventRecord> for SecurityEventView {
    fn from(mut record: SecurityEventRecord) -> Self {
        if let Some(attempts) = record.attempts {
            record.details.insert("attempts".to_owned(), attempts.into());
        }
        if let Some(first_at) = record.first_at {
            record.details.insert("firstAt".to_owned(), first_at.to_rfc3339().into());
        }
        if let Some(last_at) = record.last_at {
            record.details.insert("lastAt".to_owned(), last_at.to_rfc3339().into());
        }
        SecurityEventView {
            id: record.id,
            at: record.at,
            kind: record.kind,
            ip_address: record.ip_address,
            user_agent: record.user_agent,
            device_id: record.device_id,
            details: record.details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_and_write_as_the_contract_names_them() {
        for kind in SecurityEventType::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(SecurityEventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SecurityEventType::parse("SignIn"), None);
    }
}
