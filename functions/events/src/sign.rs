//! Standard Webhooks signatures: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`
//! with the secret's bytes (the base64 after `whsec_`), sent as `v1,<base64>`; during a
//! rotation, one signature per secret, separated by spaces.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `webhook-signature` header of a message under each of `secrets`; `None` when a
/// secret is not a `whsec_` secret.
pub fn signature_header(secrets: &[&str], message_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let signatures: Option<Vec<String>> = secrets
        .iter()
        .map(|secret| {
            let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
            mac.update(format!("{message_id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
        })
        .collect();
    signatures.filter(|s| !s.is_empty()).map(|s| s.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its libraries' tests).
    #[test]
    fn signs_the_specifications_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let header = signature_header(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let header =
            signature_header(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_dGVzdCBzZWNyZXQ="], "m", 1, "{}")
                .unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|s| s.starts_with("v1,")));
        assert_eq!(signature_header(&["not a secret"], "m", 1, "{}"), None);
    }
}
