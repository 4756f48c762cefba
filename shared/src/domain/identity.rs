//! Federated identities: an account's link to a person at an OpenID provider (their
//! `sub` at its issuer). An identity is linked only by its account's signed-in owner or at
//! the sign-up it makes, never because an email matches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A linked identity (`USER#<id>` / `IDENTITY#<provider>`), one per provider and account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRecord {
    pub user_id: String,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The address the provider gave at linking, for the person's list.
    #[serde(default)]
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl IdentityRecord {
    /// The key of its claim: who the person is at the provider, whatever it is called here.
    pub fn claim_hash(&self) -> String {
        claim_hash(&self.issuer, &self.subject)
    }
}

/// The hash an identity's claim is keyed by (issuer and subject can be long).
pub fn claim_hash(issuer: &str, subject: &str) -> String {
    super::hash_secret(&format!("{issuer} {subject}"))
}

/// An identity as its owner sees it (never the provider's tokens).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Identity)]
pub struct IdentityView {
    pub provider: String,
    pub email: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&IdentityRecord> for IdentityView {
    fn from(record: &IdentityRecord) -> Self {
        IdentityView {
            provider: record.provider.clone(),
            email: record.email.clone(),
            linked_at: record.linked_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A username to suggest for a new account: the email's local part (or a name) made
/// into 3-30 of `A-Za-z0-9_`.
pub fn suggested_username(email: Option<&str>, given_name: Option<&str>) -> String {
    let base = email.and_then(|e| e.split('@').next()).or(given_name).unwrap_or("user");
    let mut name: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(30).collect();
    while name.len() < 3 {
        name.push('_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_usernames_fit_the_rules() {
        assert_eq!(suggested_username(Some("ada.lovelace@example.org"), None), "ada_lovelace");
        assert_eq!(suggested_username(None, Some("Zoë")), "Zo_");
        assert_eq!(suggested_username(None, None), "user");
        assert_eq!(suggested_username(Some(&format!("{}@x.org", "a".repeat(40))), None).len(), 30);
        assert_ne!(claim_hash("https://a", "1"), claim_hash("https://a", "2"));
    }
}
