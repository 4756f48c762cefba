//! Fixed-window rate limits kept in DynamoDB: one atomic `ADD` per check, items that
//! expire by TTL. Every limit is configurable (docs/configuration.md).

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// At most `max` hits per `window_secs`, written `max/window_secs` in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

impl Limit {
    pub const fn new(max: i64, window_secs: i64) -> Self {
        Limit { max, window_secs }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let (max, window) = text.trim().split_once('/').ok_or("expected MAX/WINDOW_SECONDS, e.g. 10/300")?;
        let max: i64 = max.trim().parse().map_err(|_| "MAX must be a whole number")?;
        let window_secs: i64 = window.trim().parse().map_err(|_| "WINDOW_SECONDS must be a whole number")?;
        if max < 1 || window_secs < 1 {
            return Err("both numbers must be at least 1".into());
        }
        Ok(Limit { max, window_secs })
    }
}

/// A fixed window's count after a hit, and how long until the window closes.
#[derive(Debug, Clone, Copy)]
pub struct RateWindow {
    pub hits: i64,
    pub retry_after_secs: u64,
}

/// A rate limit's counter: what it limits (`scope`), whose count it is (`key`), and how much.
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub limit: Limit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub login_per_identifier: Limit,
    pub login_per_ip: Limit,
    pub login_per_device: Limit,
    pub failed_logins_per_account: Limit,
    pub register_per_ip: Limit,
    pub refresh_per_session: Limit,
    pub refresh_per_ip: Limit,
    pub reports_per_user: Limit,
    pub forgot_password_per_email: Limit,
    pub forgot_password_per_ip: Limit,
    pub verification_per_user: Limit,
    pub token_attempts_per_ip: Limit,
    pub mfa_failures_per_account: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_per_identifier: Limit::new(10, 300),
            login_per_ip: Limit::new(50, 300),
            // Sign-ins that present a known device's token count here only.
            login_per_device: Limit::new(10, 300),
            // ASVS 2.2.1: no more than 100 failed attempts per hour on one account.
            failed_logins_per_account: Limit::new(100, 3600),
            register_per_ip: Limit::new(10, 3600),
            refresh_per_session: Limit::new(60, 3600),
            // Some 30 refreshes a user-day: room for a few hundred users behind one NAT.
            refresh_per_ip: Limit::new(600, 300),
            reports_per_user: Limit::new(10, 3600),
            forgot_password_per_email: Limit::new(3, 3600),
            forgot_password_per_ip: Limit::new(10, 3600),
            verification_per_user: Limit::new(5, 3600),
            token_attempts_per_ip: Limit::new(30, 300),
            // Wrong second-factor codes: with three codes right at any time, ten guesses
            // an hour give a password thief one chance in 33,000 per hour.
            mfa_failures_per_account: Limit::new(10, 3600),
        }
    }
}

/// The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber
/// usually holds a whole /64, so per-address limits would be free to evade).
pub fn ip_key(ip: Option<&str>) -> String {
    match ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
    }
}

/// Identifiers (emails, usernames) are keyed by hash: the table holds no list of the
/// addresses people tried.
pub fn identifier_key(identifier: &str) -> String {
    B64.encode(Sha256::digest(identifier.trim().to_lowercase().as_bytes()))
}

/// 429 if any counter's window already holds its limit's worth of hits: a refusal that
/// needs no write (the hit is not counted).
pub fn refuse_if_full(counters: &[Counter], windows: &[RateWindow]) -> AppResult<()> {
    for (counter, window) in counters.iter().zip(windows) {
        if window.hits >= counter.limit.max {
            tracing::warn!(scope = counter.scope, "rate limit reached");
            return Err(AppError::RateLimited { retry_after_secs: window.retry_after_secs });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_the_environment_form() {
        assert_eq!(Limit::parse("10/300"), Ok(Limit::new(10, 300)));
        assert_eq!(Limit::parse(" 3 / 60 "), Ok(Limit::new(3, 60)));
        for bad in ["", "10", "0/60", "10/0", "ten/60", "10/-5"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_ipv4_kept_whole() {
        assert_eq!(ip_key(Some("203.0.113.7")), "203.0.113.7");
        assert_eq!(ip_key(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(ip_key(Some("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
        assert_ne!(ip_key(Some("2001:db8:1:3::1")), ip_key(Some("2001:db8:1:2::1")));
        assert_eq!(ip_key(Some("::ffff:198.51.100.1")), "198.51.100.1");
        assert_eq!(ip_key(None), "unknown");
        assert_eq!(ip_key(Some("not an ip")), "unknown");
    }

    #[test]
    fn identifiers_are_hashed_without_regard_to_case() {
        assert_eq!(identifier_key("Ada@Example.org"), identifier_key(" ada@example.org"));
        assert!(!identifier_key("ada@example.org").contains("ada"));
    }
}
