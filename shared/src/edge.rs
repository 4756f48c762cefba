//! CloudFront and AWS WAF in front of the API (the template's `ClientSignInLimit`): WAF
//! counts each client address's sign-in requests, which an HTTP API cannot do (its
//! budgets are shared by every client). Behind CloudFront, API Gateway sees CloudFront's
//! addresses, so the client's own comes from `CloudFront-Viewer-Address`, trusted only on
//! a request that carries the secret CloudFront adds. Any other request skipped the WAF,
//! or forges the address: `http` refuses it before a handler runs.

use std::net::IpAddr;

use axum::http::HeaderValue;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::BoxError;

/// The header CloudFront adds to every request it forwards (the template's origin).
pub const ORIGIN_SECRET_HEADER: &str = "x-origin-verify";
/// Where CloudFront puts the client's address and port.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";
const MIN_SECRET_BYTES: usize = 32;

/// The secret that tells CloudFront's requests from anyone else's: its current value,
/// and during a rotation the one before it, which CloudFront may still be sending.
pub struct OriginSecret(Vec<Vec<u8>>);

impl OriginSecret {
    pub fn new(secret: &[u8]) -> Self {
        OriginSecret(vec![secret.to_vec()])
    }

    /// The same secret, also admitting the value it had before a rotation.
    pub fn with_previous(mut self, previous: &[u8]) -> Self {
        self.0.push(previous.to_vec());
        self
    }

    pub fn admits(&self, presented: Option<&HeaderValue>) -> bool {
        presented.is_some_and(|value| self.0.iter().any(|secret| value.as_bytes().ct_eq(secret).into()))
    }
}

/// `198.51.100.10:46532` or `2001:db8::1:46532` (the port always last): the address.
pub fn viewer_ip(value: &str) -> Option<String> {
    let (ip, port) = value.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let ip = ip.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')).unwrap_or(ip);
    ip.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// The origin secret, when `EDGE_SECRET_ID` names one (the template sets it only with
/// CloudFront in front), with its previous value if it has one (`AWSPREVIOUS`): between
/// a new value and CloudFront's update to it, both are CloudFront's. None locally and
/// without the edge.
pub async fn load(config: &Config, aws: &aws_config::SdkConfig) -> Result<Option<OriginSecret>, BoxError> {
    let Some(id) = config.edge_secret_id.as_deref() else { return Ok(None) };
    let client = aws_sdk_secretsmanager::Client::new(aws);
    // Both versions at once: this is start-up time.
    let (current, previous) = tokio::join!(
        crate::tokens::secret_text(&client, id, "edge origin"),
        client.get_secret_value().secret_id(id).version_stage("AWSPREVIOUS").send(),
    );
    let current = current?;
    let previous = match previous {
        Ok(version) => version.secret_string().map(str::to_owned),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
        Err(err) => return Err(err.into()),
    };
    let mut secret = OriginSecret::new(long_enough(&current)?);
    if let Some(previous) = previous {
        secret = secret.with_previous(long_enough(&previous)?);
    }
    Ok(Some(secret))
}

fn long_enough(secret: &str) -> Result<&[u8], BoxError> {
    match secret.len() >= MIN_SECRET_BYTES {
        true => Ok(secret.as_bytes()),
        false => Err(format!("the edge origin secret must hold at least {MIN_SECRET_BYTES} bytes").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewer_address_is_the_ip_without_its_port() {
        assert_eq!(viewer_ip("198.51.100.10:46532").as_deref(), Some("198.51.100.10"));
        assert_eq!(viewer_ip("2001:db8:85a3::8a2e:370:7334:443").as_deref(), Some("2001:db8:85a3::8a2e:370:7334"));
        assert_eq!(viewer_ip("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        for junk in ["", "198.51.100.10", "198.51.100.10:port", "evil:443", "1.2.3.4:99999"] {
            assert_eq!(viewer_ip(junk), None, "{junk}");
        }
    }

    #[test]
    fn only_the_exact_secret_or_its_previous_value_is_admitted() {
        let secret = OriginSecret::new(b"0123456789abcdef0123456789abcdef");
        assert!(secret.admits(Some(&HeaderValue::from_static("0123456789abcdef0123456789abcdef"))));
        assert!(!secret.admits(Some(&HeaderValue::from_static("0123456789abcdef0123456789abcdeF"))));
        assert!(!secret.admits(Some(&HeaderValue::from_static("0123456789abcdef"))));
        assert!(!secret.admits(Some(&HeaderValue::from_static(""))));
        assert!(!secret.admits(None));
        let rotating = secret.with_previous(b"the-value-before-the-rotation-of-32-bytes");
        assert!(rotating.admits(Some(&HeaderValue::from_static("0123456789abcdef0123456789abcdef"))));
        assert!(rotating.admits(Some(&HeaderValue::from_static("the-value-before-the-rotation-of-32-bytes"))));
        assert!(!rotating.admits(Some(&HeaderValue::from_static("a-third-value-that-is-neither-of-them"))));
    }
}
