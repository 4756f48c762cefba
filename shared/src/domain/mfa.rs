//! The second factor: a TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30 s steps, one
//! step of skew either way) with ten single-use recovery codes, the assurance level a
//! session reached, and the short-lived challenge between a password and its code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::hash_secret;

/// Seconds per TOTP time step.
pub const STEP_SECS: i64 = 30;
/// Recovery codes handed out at once.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// How long an enrolment waits for its confirming code.
pub const ENROLMENT_SECS: i64 = 600;
/// How long a sign-in waits for its second factor.
pub const CHALLENGE_SECS: i64 = 300;
/// Codes a challenge takes, right or wrong; the sixth finds it ended.
pub const CHALLENGE_ATTEMPTS: i64 = 5;

/// The authentication assurance level (NIST SP 800-63B) a session reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    /// A password alone.
    #[default]
    Aal1,
    /// A password and a second factor.
    Aal2,
}

/// What a sign-in proved: the session's `amr` claim (RFC 8176) and its level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    #[default]
    Password,
    /// A password, then a code of the authenticator app or a recovery code.
    PasswordOtp,
    /// A passkey alone: possession of the key and the user verification that unlocked it.
    Passkey,
    /// A password, then a passkey.
    PasswordPasskey,
    /// An OpenID provider's ID token.
    Federated,
    /// An OpenID provider, then a code of the authenticator app or a recovery code.
    FederatedOtp,
    /// An OpenID provider, then a passkey.
    FederatedPasskey,
}

impl SignInMethod {
    pub fn aal(self) -> Aal {
        match self {
            SignInMethod::Password | SignInMethod::Federated => Aal::Aal1,
            _ => Aal::Aal2,
        }
    }

    pub fn amr(self) -> &'static [&'static str] {
        match self {
            SignInMethod::Password => &["pwd"],
            SignInMethod::PasswordOtp => &["pwd", "otp"],
            SignInMethod::Passkey => &["pop", "mfa"],
            SignInMethod::PasswordPasskey => &["pwd", "pop"],
            SignInMethod::Federated => &["fed"],
            SignInMethod::FederatedOtp => &["fed", "otp"],
            SignInMethod::FederatedPasskey => &["fed", "pop"],
        }
    }

    /// The method once a second factor of the given kind (`otp` or `pop`) is passed.
    pub fn with_second_factor(self, passkey: bool) -> Self {
        match (self, passkey) {
            (SignInMethod::Federated, false) => SignInMethod::FederatedOtp,
            (SignInMethod::Federated, true) => SignInMethod::FederatedPasskey,
            (_, false) => SignInMethod::PasswordOtp,
            (_, true) => SignInMethod::PasswordPasskey,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FactorStatus {
    /// Enrolled, waiting for a first code; expires.
    Pending,
    Enabled,
}

/// An account's TOTP factor as stored. The secret only sealed (`vault`), the recovery
/// codes only as keyed hashes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpFactor {
    pub user_id: String,
    pub status: FactorStatus,
    /// The secret, sealed under the service key with the user id as associated data.
    pub sealed_secret: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub enabled_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for: no code of it or before is taken again.
    #[serde(default)]
    pub last_step: Option<i64>,
    /// Hashes of the unused recovery codes (a string set; the store writes it).
    #[serde(default, skip_serializing)]
    pub recovery_codes: Vec<String>,
    /// Epoch seconds, while pending (an expiry-index key: absent, never null, once on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Shows the factor's state, never its sealed secret or code hashes.
impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("user_id", &self.user_id)
            .field("status", &self.status)
            .field("last_step", &self.last_step)
            .field("recovery_codes", &self.recovery_codes.len())
            .finish_non_exhaustive()
    }
}

impl TotpFactor {
    pub fn is_enabled(&self) -> bool {
        self.status == FactorStatus::Enabled
    }

    /// A pending enrolment that may still be confirmed.
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.status == FactorStatus::Pending && self.expires_at.is_some_and(|at| at > now.timestamp())
    }
}

/// The factor an account has on, if any (a pending enrolment is not on).
pub fn enabled(factor: Option<&TotpFactor>) -> bool {
    factor.is_some_and(TotpFactor::is_enabled)
}

/// Whether a password sign-in of `user` asks for a second factor, decided from the
/// factor item itself (not the user item's copy) and the user's passkey count.
pub fn second_factor_on(user: &super::user::UserRecord, factor: Option<&TotpFactor>) -> bool {
    enabled(factor) || user.passkeys > 0
}

/// A fresh TOTP secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<totp_rs::Totp> {
    // The otpauth label forbids ':' in either part.
    let clean = |s: &str| s.replace(':', " ");
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .ok()
}

/// What an authenticator app needs: the secret in base32 and the `otpauth://` URI.
pub fn provisioning(secret: &[u8], issuer: &str, account: &str) -> Option<(String, String)> {
    let totp = totp(secret, issuer, account)?;
    Some((totp.secret().to_base32(), totp.to_url().ok()?))
}

/// The time step a code is for, within one step either side of `now`, if it is right
/// and later than `after` (RFC 6238 §5.2: a step is accepted once).
pub fn check_code(secret: &[u8], code: &str, now: DateTime<Utc>, after: Option<i64>) -> Option<i64> {
    let totp = totp(secret, "-", "-")?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp().div_euclid(STEP_SECS);
    (current - 1..=current + 1)
        .filter(|step| after.is_none_or(|last| *step > last) && *step >= 0)
        .find(|step| totp.generate((*step * STEP_SECS) as u64).to_string() == code)
}

/// The code an authenticator app shows at `at` for a base32 secret as `enroll` gives it
/// (what the tests, the benchmark and a scripted client do).
pub fn authenticator_code(base32_secret: &str, at: DateTime<Utc>) -> Option<String> {
    let secret = totp_rs::Secret::try_from_base32(base32_secret).ok()?;
    let totp = totp(secret.as_ref(), "-", "-")?;
    Some(totp.generate(at.timestamp().max(0) as u64).to_string())
}

/// Ten new recovery codes as shown once: `xxxxx-xxxxx`, 50 random bits each, from an
/// alphabet without look-alikes.
pub fn new_recovery_codes() -> Vec<String> {
    // 32 symbols, 5 bits each: no i, l or o to mistake for 1 or 0.
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let chars: String = bytes.iter().map(|b| ALPHABET[*b as usize % 32] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as typed, in the form it was hashed in: lowercase, without spaces
/// or dashes.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// What a sign-in was for when it stopped for its second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengePurpose {
    Login,
    Reactivate,
}

/// A sign-in between its password and its second factor (`mfaToken`), stored by the
/// token's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallenge {
    pub user_id: String,
    pub purpose: ChallengePurpose,
    pub remember_me: bool,
    /// The account's session generation when the password was checked: a password
    /// change or reset since then ends the challenge.
    pub generation: i64,
    /// The hash of the known device's token the sign-in presented, if any: its code
    /// failures do not count toward the account's failed-sign-in cap.
    #[serde(default)]
    pub device_hash: Option<String>,
    /// Codes tried so far.
    #[serde(default)]
    pub attempts: i64,
    /// The first factor was an OpenID provider's, not a password (for the session's `amr`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub federated: bool,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// The opaque `mfaToken`: `<userId>.<256 random bits>`; only the secret's hash is
/// stored. The id lets `mfa/verify` read the account while it claims the challenge.
pub struct MfaToken {
    pub user_id: String,
    secret: String,
}

impl MfaToken {
    pub fn new(user_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MfaToken { user_id: user_id.to_owned(), secret: B64.encode(bytes) }
    }

    /// A presented token, if it could be one of ours.
    pub fn parse(token: &str) -> Option<Self> {
        let (user_id, secret) = token.split_once('.')?;
        let id_like = !user_id.is_empty()
            && user_id.len() <= 64
            && user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let secret_like =
            secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (id_like && secret_like).then(|| MfaToken { user_id: user_id.to_owned(), secret: secret.to_owned() })
    }

    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    pub fn expose(&self) -> String {
        format!("{}.{}", self.user_id, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (its 8-digit codes; ours are their last 6 digits).
    #[test]
    fn the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        let totp = totp(secret, "Example", "alice").unwrap();
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), code[2..], "T = {time}");
            let at = DateTime::from_timestamp(time as i64, 0).unwrap();
            assert_eq!(check_code(secret, &code[2..], at, None), Some(time as i64 / STEP_SECS), "T = {time}");
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_each_step_once() {
        let secret = new_secret();
        let now = DateTime::from_timestamp(1_800_000_015, 0).unwrap();
        let step = now.timestamp() / STEP_SECS;
        let code_at = |s: i64| totp(&secret, "-", "-").unwrap().generate((s * STEP_SECS) as u64).to_string();
        for s in [step - 1, step, step + 1] {
            assert_eq!(check_code(&secret, &code_at(s), now, None), Some(s));
        }
        for s in [step - 2, step + 2] {
            assert_eq!(check_code(&secret, &code_at(s), now, None), None, "two steps off");
        }
        assert_eq!(check_code(&secret, &code_at(step), now, Some(step)), None, "a step already used");
        assert_eq!(check_code(&secret, &code_at(step - 1), now, Some(step - 1)), None);
        assert_eq!(check_code(&secret, &code_at(step + 1), now, Some(step)), Some(step + 1));
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5"] {
            assert_eq!(check_code(&secret, bad, now, None), None, "{bad}");
        }
    }

    #[test]
    fn provisioning_gives_base32_and_an_otpauth_uri() {
        let (secret, uri) = provisioning(&[7u8; SECRET_BYTES], "Social", "ada:lovelace").unwrap();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        assert!(uri.starts_with("otpauth://totp/Social:ada%20lovelace?"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Social"), "{uri}");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalize() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 11);
            assert_eq!(normalize_recovery_code(&code.to_uppercase().replace('-', " ")), code.replace('-', ""));
        }
    }

    #[test]
    fn mfa_tokens_parse_only_their_own_shape() {
        let token = MfaToken::new("0b7e-42");
        let parsed = MfaToken::parse(&token.expose()).unwrap();
        assert_eq!((parsed.hash(), parsed.user_id.as_str()), (token.hash(), "0b7e-42"));
        let secret = token.expose().split_once('.').unwrap().1.to_owned();
        for bad in
            ["", "short", &secret, &format!(".{secret}"), &format!("a b.{secret}"), &format!("u.{}!", &secret[..42])]
        {
            assert!(MfaToken::parse(bad).is_none(), "{bad}");
        }
    }
}
