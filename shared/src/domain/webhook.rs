//! Webhooks: endpoints of the platform's other services that admins register to get
//! account events, signed per the Standard Webhooks specification. A URL must be https
//! and reach the public internet: no loopback, private, link-local (the cloud's metadata
//! service), shared or reserved address, at registration and at every delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account_event::EventType;

/// At most this many endpoints (each event is one queue message per endpoint).
pub const MAX_WEBHOOKS: usize = 20;
/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Active,
    /// Failing for 5 days: nothing more is sent until it is registered again.
    Disabled,
}

/// A webhook as stored: its secrets sealed with the webhook key (the webhook id bound
/// in), never in the clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    /// Event type names, or `["*"]` for all of them.
    pub event_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub status: WebhookStatus,
    // Absent, not NULL: marking it failing writes it only if it is not there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    pub sealed_secret: String,
    /// The secret before the last rotation, signing beside the new one until `previous_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_previous_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<DateTime<Utc>>,
    /// Moves on every rotation: a rotation writes over the version it read.
    #[serde(default)]
    pub version: i64,
}

impl WebhookRecord {
    /// Whether this endpoint gets events of this type (`webhook.test` only when sent to it).
    pub fn wants(&self, event_type: EventType) -> bool {
        self.status == WebhookStatus::Active
            && event_type != EventType::WebhookTest
            && self.event_types.iter().any(|t| t == "*" || t == event_type.as_str())
    }
}

/// A webhook as admins see it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: WebhookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
}

impl From<&WebhookRecord> for WebhookView {
    fn from(record: &WebhookRecord) -> Self {
        WebhookView {
            id: record.id.clone(),
            url: record.url.clone(),
            event_types: record.event_types.clone(),
            description: record.description.clone(),
            created_at: record.created_at,
            status: record.status,
            failing_since: record.failing_since,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Delivered,
    Failed,
}

/// One attempt at delivering one event to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A new signing secret as Standard Webhooks writes one: `whsec_` and 32 random bytes
/// in base64.
pub fn new_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Where a webhook URL may point, before any name is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRule {
    /// https to a public host (AWS).
    PublicHttps,
    /// Also `http://127.0.0.1:<port>` (the local server's settings, for a receiver on
    /// this machine).
    AlsoLocalLoopback,
}

/// A webhook URL that passed the rules that need no DNS: absolute, https (or the local
/// loopback exception), no credentials, and an address literal only if it is public.
pub fn check_url(text: &str, rule: UrlRule) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(text).map_err(|_| "is not an absolute URL")?;
    if text.len() > 2000 {
        return Err("is longer than 2000 characters");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    if is_local_loopback(&url) {
        return match rule {
            UrlRule::AlsoLocalLoopback => Ok(url),
            UrlRule::PublicHttps => Err("must not point at this machine"),
        };
    }
    if url.scheme() != "https" {
        return Err("must be https");
    }
    match url.host() {
        Some(url::Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost") => {
            Err("must not point at this machine")
        }
        Some(url::Host::Domain(_)) => Ok(url),
        Some(url::Host::Ipv4(ip)) if is_public(IpAddr::V4(ip)) => Ok(url),
        Some(url::Host::Ipv6(ip)) if is_public(IpAddr::V6(ip)) => Ok(url),
        Some(_) => Err("must not point at a loopback, private, link-local or reserved address"),
        None => Err("has no host"),
    }
}

/// `http://127.0.0.1:<port>` exactly: the only local exception.
pub fn is_local_loopback(url: &url::Url) -> bool {
    url.scheme() == "http" && url.host() == Some(url::Host::Ipv4(Ipv4Addr::LOCALHOST)) && url.port().is_some()
}

/// Whether an address is on the public internet: not loopback, private, link-local
/// (169.254.169.254, the metadata service, is one), shared (CGNAT), multicast,
/// documentation, benchmarking or reserved, nor one of those behind an IPv6 mapping.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)); // benchmarking
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is the metadata service)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]; // discard-only
    !reserved && first != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_https_to_public_hosts_with_one_local_exception() {
        let public = UrlRule::PublicHttps;
        assert!(check_url("https://hooks.example.com/user-events", public).is_ok());
        assert!(check_url("https://93.184.216.34/hook", public).is_ok());
        for refused in [
            "http://hooks.example.com/",
            "https://user:pass@hooks.example.com/",
            "https://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://localhost/",
            "https://api.localhost/",
            "http://127.0.0.1:8080/hook",
            "ftp://example.com/",
            "/relative",
        ] {
            assert!(check_url(refused, public).is_err(), "{refused}");
        }
        let local = UrlRule::AlsoLocalLoopback;
        assert!(check_url("http://127.0.0.1:8080/hook", local).is_ok());
        for refused in ["http://127.0.0.1/hook", "http://localhost:8080/", "http://10.0.0.1:80/", "https://10.0.0.1/"] {
            assert!(check_url(refused, local).is_err(), "{refused}");
        }
    }

    #[test]
    fn secrets_read_as_standard_webhooks_writes_them() {
        use base64::Engine as _;
        let secret = new_secret();
        let raw = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(raw).unwrap().len(), 32);
        assert_ne!(secret, new_secret());
    }
}
