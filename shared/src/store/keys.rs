//! Key layout of the single table (the README's table documents it for people).

pub const PK: &str = "PK";
pub const SK: &str = "SK";

pub const PROFILE: &str = "PROFILE";
pub const EMAIL: &str = "EMAIL";
pub const USERNAME: &str = "USERNAME";

pub fn user(id: &str) -> String {
    format!("USER#{id}")
}

pub fn email_claim(lower_email: &str) -> String {
    format!("EMAIL#{lower_email}")
}

pub fn username_claim(lower_username: &str) -> String {
    format!("USERNAME#{lower_username}")
}

pub fn session(session_id: &str) -> String {
    format!("SESSION#{session_id}")
}

pub const SESSION_PREFIX: &str = "SESSION#";

/// A known device, by the hash of its token's secret.
pub fn device(token_hash: &str) -> String {
    format!("DEVICE#{token_hash}")
}

/// The partition of the expiry index an item expiring at `epoch_secs` falls in: one
/// per UTC day, so that cleanup reads only the days that have passed.
pub fn expiry_bucket(epoch_secs: i64) -> String {
    let day = chrono::DateTime::from_timestamp(epoch_secs, 0).unwrap_or_default().format("%Y-%m-%d");
    format!("EXP#{day}")
}
