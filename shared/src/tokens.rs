//! Access tokens: RS256 JWTs signed with the first key of a JWK set and verified against
//! all of them, with algorithm, `typ`, `iss` and `aud` pinned. The key set comes from
//! Secrets Manager in AWS and from a key file generated on first run locally.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pkcs1::der::{Decode, Encode};
use pkcs1::UintRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::Config;
use crate::domain::client::Caller;
use crate::domain::mfa::{Aal, SignInMethod};
use crate::error::{AppError, AppResult, BoxError, Context};

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated between this service and token consumers.
const LEEWAY_SECS: u64 = 5;

/// An RSA private key as a JWK (RFC 7517/7518): the form the signing-key secret holds.
#[derive(Clone, Serialize, Deserialize)]
pub struct PrivateJwk {
    pub kty: String,
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    pub n: String,
    pub e: String,
    pub d: String,
    pub p: String,
    pub q: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivateJwkSet {
    pub keys: Vec<PrivateJwk>,
}

fn b64_uint(n: UintRef<'_>) -> String {
    B64.encode(n.as_bytes())
}

/// A JWK field's big-endian integer bytes.
fn uint_bytes(field: &str, value: Option<&str>) -> Result<Vec<u8>, BoxError> {
    let value = value.ok_or_else(|| format!("JWK field {field} is missing (the CRT parameters are required)"))?;
    Ok(B64.decode(value).map_err(|e| format!("JWK field {field}: {e}"))?)
}

/// Names the key, never its private parts.
impl std::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateJwk").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl PrivateJwk {
    /// A fresh 2048-bit key (AWS-LC's generator); its `kid` is the RFC 7638 thumbprint.
    pub fn generate() -> Result<Self, BoxError> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| "RSA key generation failed")?;
        let pkcs8 = pair.as_der().map_err(|_| "the new RSA key did not encode")?;
        let info = pkcs8::PrivateKeyInfo::from_der(pkcs8.as_ref())?;
        let key = pkcs1::RsaPrivateKey::from_der(info.private_key)?;
        let (n, e) = (b64_uint(key.modulus), b64_uint(key.public_exponent));
        Ok(PrivateJwk {
            kty: "RSA".into(),
            kid: thumbprint(&n, &e),
            alg: Some("RS256".into()),
            d: b64_uint(key.private_exponent),
            p: b64_uint(key.prime1),
            q: b64_uint(key.prime2),
            dp: Some(b64_uint(key.exponent1)),
            dq: Some(b64_uint(key.exponent2)),
            qi: Some(b64_uint(key.coefficient)),
            n,
            e,
        })
    }

    /// The key in PKCS#1 DER, checked by AWS-LC (the form the signer reads).
    pub fn encoding_key(&self) -> Result<EncodingKey, BoxError> {
        let fields = [
            ("n", Some(self.n.as_str())),
            ("e", Some(self.e.as_str())),
            ("d", Some(self.d.as_str())),
            ("p", Some(self.p.as_str())),
            ("q", Some(self.q.as_str())),
            ("dp", self.dp.as_deref()),
            ("dq", self.dq.as_deref()),
            ("qi", self.qi.as_deref()),
        ];
        let bytes = fields.map(|(name, value)| uint_bytes(name, value));
        let [n, e, d, p, q, dp, dq, qi] = bytes;
        let (n, e, d, p, q, dp, dq, qi) = (n?, e?, d?, p?, q?, dp?, dq?, qi?);
        let der = pkcs1::RsaPrivateKey {
            modulus: UintRef::new(&n)?,
            public_exponent: UintRef::new(&e)?,
            private_exponent: UintRef::new(&d)?,
            prime1: UintRef::new(&p)?,
            prime2: UintRef::new(&q)?,
            exponent1: UintRef::new(&dp)?,
            exponent2: UintRef::new(&dq)?,
            coefficient: UintRef::new(&qi)?,
            other_prime_infos: None,
        }
        .to_der()?;
        // The signer parses it again at every signature; a bad key must fail here, once.
        aws_lc_rs::signature::RsaKeyPair::from_der(&der).map_err(|e| format!("the RSA key is not valid: {e}"))?;
        Ok(EncodingKey::from_rsa_der(&der))
    }

    fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            use_: "sig".into(),
            alg: "RS256".into(),
            n: self.n.clone(),
            e: self.e.clone(),
        }
    }
}

impl PrivateJwkSet {
    /// The public half: what `/.well-known/jwks.json` serves, and what the functions
    /// that only verify tokens are given.
    pub fn public(&self) -> PublicJwkSet {
        PublicJwkSet { keys: self.keys.iter().map(PrivateJwk::public_jwk).collect() }
    }
}

/// The public keys that verify access tokens, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicJwkSet {
    pub keys: Vec<PublicJwk>,
}

/// An RS256 public key (RFC 7517): modulus `n` and exponent `e`, base64url.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicJwk {
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub n: String,
    pub e: String,
}

fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// The claims of an access token (docs/API.md, Authentication).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub username: String,
    #[serde(rename = "emailVerified")]
    pub email_verified: bool,
    /// `aal1` after a password, `aal2` after a second factor (absent: `aal1`).
    #[serde(default)]
    pub aal: Aal,
    /// RFC 8176 methods: `["pwd"]`, `["pwd", "otp"]`, `["pop", "mfa"]` (a passkey) or
    /// `["pwd", "pop"]` (a password, then a passkey).
    #[serde(default)]
    pub amr: Vec<String>,
}

impl From<AccessClaims> for Caller {
    fn from(claims: AccessClaims) -> Self {
        Caller {
            user_id: claims.sub,
            session_id: claims.sid,
            username: claims.username,
            email_verified: claims.email_verified,
            aal: claims.aal,
            client: Default::default(),
        }
    }
}

/// Signs and verifies access tokens; publishes the public keys.
pub struct Tokens {
    /// The key that signs, with its id; none in the functions that only verify.
    signing: Option<(String, EncodingKey)>,
    verifying_keys: HashMap<String, DecodingKey>,
    public_jwks: PublicJwkSet,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

/// Who an access token is for.
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub username: &'a str,
    pub email_verified: bool,
    pub method: SignInMethod,
}

impl Tokens {
    /// Signs with the first key of the set, verifies with all of them.
    pub fn new(keys: &PrivateJwkSet, config: &Config) -> Result<Self, BoxError> {
        let first = keys.keys.first().ok_or("the JWK set holds no key")?;
        if keys.keys.iter().any(|key| key.kty != "RSA" || key.alg.as_deref().is_some_and(|a| a != "RS256")) {
            return Err("every key must be an RS256 RSA key".into());
        }
        let mut tokens = Tokens::verifier(&keys.public(), config)?;
        tokens.signing = Some((first.kid.clone(), first.encoding_key()?));
        Ok(tokens)
    }

    /// Verifies with the public keys alone; issuing fails.
    pub fn verifier(keys: &PublicJwkSet, config: &Config) -> Result<Self, BoxError> {
        if keys.keys.is_empty() {
            return Err("the JWK set holds no key".into());
        }
        let mut verifying_keys = HashMap::new();
        for key in &keys.keys {
            if key.kty != "RSA" || key.alg != "RS256" {
                return Err(format!("key {} is not an RS256 RSA key", key.kid).into());
            }
            verifying_keys.insert(key.kid.clone(), DecodingKey::from_rsa_components(&key.n, &key.e)?);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Tokens {
            signing: None,
            verifying_keys,
            public_jwks: keys.clone(),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_token_ttl_secs,
        })
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWK set of public keys, as served at `/.well-known/jwks.json`.
    pub fn public_jwks(&self) -> &PublicJwkSet {
        &self.public_jwks
    }

    /// `issue` on the blocking pool, for the request paths: an RS256 signature takes
    /// about a millisecond of CPU (`scripts/bench`), which must not stall the executor.
    pub async fn issue_off_executor(self: &Arc<Self>, subject: Subject<'_>) -> AppResult<String> {
        let tokens = Arc::clone(self);
        let (user_id, session_id, username) =
            (subject.user_id.to_owned(), subject.session_id.to_owned(), subject.username.to_owned());
        let (email_verified, method) = (subject.email_verified, subject.method);
        tokio::task::spawn_blocking(move || {
            tokens.issue(Subject {
                user_id: &user_id,
                session_id: &session_id,
                username: &username,
                email_verified,
                method,
            })
        })
        .await
        .context("signing on the blocking pool")?
    }

    pub fn issue(&self, subject: Subject<'_>) -> AppResult<String> {
        // The system clock, not the service's: the JWT library checks `exp` against it.
        let now = crate::clock::system_now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.user_id.to_owned(),
            sid: subject.session_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + self.ttl_secs,
            username: subject.username.to_owned(),
            email_verified: subject.email_verified,
            aal: subject.method.aal(),
            amr: subject.method.amr().iter().map(|m| (*m).to_owned()).collect(),
        };
        let (kid, key) =
            self.signing.as_ref().ok_or_else(|| AppError::internal("this function holds no signing key"))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        jsonwebtoken::encode(&header, &claims, key).context("signing an access token")
    }

    /// Any failure is the same 401: which check failed is logged, not answered.
    pub fn verify(&self, token: &str) -> AppResult<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AppError::Unauthorized)?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            tracing::info!(alg = ?header.alg, "access token refused: algorithm or type");
            return Err(AppError::Unauthorized);
        }
        let key = header.kid.as_ref().and_then(|kid| self.verifying_keys.get(kid)).ok_or_else(|| {
            tracing::info!("access token refused: unknown key id");
            AppError::Unauthorized
        })?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map(|data| data.claims).map_err(|e| {
            tracing::info!(reason = ?e.kind(), "access token refused");
            AppError::Unauthorized
        })
    }
}

/// The tokens of a function, once per container: verifying only, from the public key
/// set's secret, when `JWT_PUBLIC_KEYS_SECRET_ID` is set (the functions that never sign
/// cannot read the private keys); else signing too, with `load_key_set`.
pub async fn load(config: &Config, aws: &aws_config::SdkConfig) -> Result<Tokens, BoxError> {
    let Some(secret_id) = &config.jwt_public_keys_secret_id else {
        return Tokens::new(&load_key_set(config, aws).await?, config);
    };
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let keys: PublicJwkSet =
        jwk_set_from_secret(&client, secret_id, "public-key", |k: &PublicJwkSet| k.keys.len()).await?;
    Tokens::verifier(&keys, config)
}

/// Loads the signing keys once per container: from Secrets Manager when
/// `JWT_KEYS_SECRET_ID` is set, else from the local key file (created on first run).
pub async fn load_key_set(config: &Config, aws: &aws_config::SdkConfig) -> Result<PrivateJwkSet, BoxError> {
    match &config.jwt_keys_secret_id {
        Some(secret_id) => {
            let client = aws_sdk_secretsmanager::Client::new(aws);
            key_set_from_secret(&client, secret_id).await
        }
        None => key_set_from_file(&config.jwt_keys_file),
    }
}

pub async fn key_set_from_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PrivateJwkSet, BoxError> {
    jwk_set_from_secret(client, secret_id, "signing-key", |k: &PrivateJwkSet| k.keys.len()).await
}

/// The text of a secret; `what` names it in errors.
pub(crate) async fn secret_text(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    what: &str,
) -> Result<String, BoxError> {
    let secret = client.get_secret_value().secret_id(secret_id).send().await?;
    Ok(secret.secret_string().ok_or(format!("the {what} secret has no string value"))?.to_owned())
}

/// A symmetric service key (cursor key, second-factor key) of at least `min_bytes`:
/// from Secrets Manager when `secret_id` is set (the template generates it), else from
/// the local file, generated (32 random bytes, hex, owner-only) on first run.
pub(crate) async fn service_secret(
    aws: &aws_config::SdkConfig,
    secret_id: Option<&str>,
    file: &Path,
    what: &str,
    min_bytes: usize,
) -> Result<Vec<u8>, BoxError> {
    let secret = match secret_id {
        Some(id) => {
            let client = aws_sdk_secretsmanager::Client::new(aws);
            secret_text(&client, id, what).await?.into_bytes()
        }
        None => secret_from_file(file, what)?,
    };
    if secret.len() < min_bytes {
        return Err(format!("the {what} must hold at least {min_bytes} bytes").into());
    }
    Ok(secret)
}

fn secret_from_file(path: &Path, what: &str) -> Result<Vec<u8>, BoxError> {
    if path.exists() {
        return Ok(std::fs::read_to_string(path)?.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match write_new_private_file(path, &hex) {
        Ok(()) => tracing::info!(path = %path.display(), "generated a new local {what}"),
        // Another process of this machine wrote it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Ok(std::fs::read_to_string(path)?.trim().as_bytes().to_vec())
        }
        Err(err) => return Err(err.into()),
    }
    Ok(hex.into_bytes())
}

/// A JWK set kept in a secret; one with no key is refused (the stack creates it empty).
async fn jwk_set_from_secret<T: serde::de::DeserializeOwned>(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    what: &str,
    count: impl Fn(&T) -> usize,
) -> Result<T, BoxError> {
    let text = secret_text(client, secret_id, what).await?;
    let keys: T = serde_json::from_str(&text).map_err(|e| format!("the {what} secret is not a JWK set: {e}"))?;
    if count(&keys) == 0 {
        return Err(format!("the {what} secret holds no key: see docs/operations.md, Deploy").into());
    }
    Ok(keys)
}

/// Reads the key file, or generates one key and writes it (owner-only) on first run.
pub fn key_set_from_file(path: &Path) -> Result<PrivateJwkSet, BoxError> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        return Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let keys = PrivateJwkSet { keys: vec![PrivateJwk::generate()?] };
    write_new_private_file(path, &serde_json::to_string_pretty(&keys)?)?;
    tracing::info!(path = %path.display(), "generated a new local signing key");
    Ok(keys)
}

/// Writes a new file only its owner may read, creating its folder.
pub(crate) fn write_new_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
