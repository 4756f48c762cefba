//! Configuration, read once at start from the environment. Every variable is listed in
//! docs/configuration.md; the defaults serve local development.

use std::path::PathBuf;

use crate::domain::webhook::UrlRule;
use crate::rate_limit::{Limit, RateLimits};

#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `JWT_ISSUER`: `iss` of access tokens, and the base of the published JWKS URL.
    pub issuer: String,
    /// `JWT_AUDIENCE`: `aud` of access tokens.
    pub audience: String,
    /// `ACCESS_TOKEN_TTL_SECONDS`.
    pub access_token_ttl_secs: i64,
    /// `SESSION_TTL_DAYS`.
    pub session_ttl_days: i64,
    /// `REMEMBER_ME_SESSION_TTL_DAYS`.
    pub remember_me_session_ttl_days: i64,
    /// `PASSWORD_MIN_LENGTH`: never below 8, whatever is set.
    pub password_min_length: usize,
    /// `JWT_KEYS_SECRET_ID`: where the signing keys live in AWS.
    pub jwt_keys_secret_id: Option<String>,
    /// `JWT_PUBLIC_KEYS_SECRET_ID`: the secret of the public key set, for the functions
    /// that verify tokens but never sign them (they get no access to the private keys).
    pub jwt_public_keys_secret_id: Option<String>,
    /// `JWT_KEYS_FILE`: the local key file, generated on first run when no secret is set.
    pub jwt_keys_file: PathBuf,
    /// `CURSOR_KEY_SECRET_ID`: the Secrets Manager secret of the page-cursor key in AWS.
    pub cursor_key_secret_id: Option<String>,
    /// `CURSOR_KEY_FILE`: the local cursor key, generated on first run when no secret is set.
    pub cursor_key_file: PathBuf,
    /// `EXPORT_BUCKET`: the S3 bucket of data exports (the template's; moto's locally).
    pub export_bucket: Option<String>,
    /// `MFA_KEY_SECRET_ID`: the Secrets Manager secret of the key that seals second-factor
    /// secrets in AWS (the `auth` function's alone).
    pub mfa_key_secret_id: Option<String>,
    /// `MFA_KEY_FILE`: the local second-factor key, generated on first run when no secret is set.
    pub mfa_key_file: PathBuf,
    /// `LEGACY_BCRYPT_COST`: the cost of the bcrypt hashes imported from the old Node
    /// service (0 or unset: the table holds none).
    pub legacy_bcrypt_cost: Option<u32>,
    /// `WEBHOOK_KEY_SECRET_ID`: the Secrets Manager secret of the key that seals webhook
    /// signing secrets in AWS (the `admin` and `events` functions').
    pub webhook_key_secret_id: Option<String>,
    /// `WEBHOOK_KEY_FILE`: the local webhook key, generated on first run when no secret is set.
    pub webhook_key_file: PathBuf,
    /// Where webhooks may point: outside AWS also `http://127.0.0.1:<port>`.
    pub webhook_urls: UrlRule,
    /// `EDGE_SECRET_ID`: the secret CloudFront sends with every request it forwards, when
    /// the stack puts CloudFront and WAF in front of the API (`ClientSignInLimit`); then
    /// every request without it is refused (`edge`).
    pub edge_secret_id: Option<String>,
    /// `TOTP_ISSUER`: the name authenticator apps show beside the account.
    pub totp_issuer: String,
    /// `WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGINS`: the passkeys' relying party.
    pub relying_party: RelyingParty,
    /// `FEDERATION_PROVIDERS`, `FEDERATION_REDIRECT_URIS`, `FEDERATION_SECRETS_SECRET_ID`:
    /// sign-in with Google, Apple or any OpenID provider.
    pub federation: Federation,
    /// `DYNAMODB_TIMEOUT_MS`: the bound on one DynamoDB call, retries included.
    pub dynamodb_timeout_ms: u64,
    /// `REQUEST_TIMEOUT_MS` (`DYNAMODB_TIMEOUT_MS` + 500 by default): the bound on a whole
    /// request, however many calls it makes; past it the answer is 503.
    pub request_timeout_ms: u64,
    /// `REFRESH_GRACE_SECONDS`: how long a rotated refresh token may be presented again
    /// (a client retrying a lost response) before it counts as stolen.
    pub refresh_grace_secs: i64,
    /// `RATE_LIMIT_*`: see `RateLimits`.
    pub rate_limits: RateLimits,
    /// `ACCOUNT_DELETION_DAYS`: how long a deactivated account can be reactivated; when
    /// it ends, cleanup deletes the account.
    pub account_deletion_days: i64,
    /// `CLEANUP_LOOKBACK_DAYS`: how many past days of the expiry index a cleanup run reads.
    pub cleanup_lookback_days: i64,
    /// `APP_BASE_URL`: the client app the links in messages point at (its pages
    /// `/verify-email?token=`, `/reset-password?token=`, …). In AWS it must be an
    /// `https` URL of a host other than this machine.
    pub app_base_url: String,
    /// `MAIL_FROM`: the sender of every message (an SES-verified identity in AWS).
    pub mail_from: String,
    /// `TLS_NATIVE_ROOTS=true`: trust the system's certificates beside the compiled-in
    /// Amazon Trust Services roots (see `shared::aws`).
    pub tls_native_roots: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let dynamodb_timeout_ms = vars.number("DYNAMODB_TIMEOUT_MS", 3000, 100)? as u64;
        Ok(Config {
            table_name: vars.text("TABLE_NAME", "user-service"),
            issuer: vars.text("JWT_ISSUER", "http://localhost:3000").trim_end_matches('/').to_owned(),
            audience: vars.text("JWT_AUDIENCE", "social-platform"),
            access_token_ttl_secs: vars.number("ACCESS_TOKEN_TTL_SECONDS", 900, 60)?,
            session_ttl_days: vars.number("SESSION_TTL_DAYS", 7, 1)?,
            remember_me_session_ttl_days: vars.number("REMEMBER_ME_SESSION_TTL_DAYS", 30, 1)?,
            password_min_length: vars.number("PASSWORD_MIN_LENGTH", 12, 8)? as usize,
            jwt_keys_secret_id: vars.optional("JWT_KEYS_SECRET_ID"),
            jwt_public_keys_secret_id: vars.optional("JWT_PUBLIC_KEYS_SECRET_ID"),
            jwt_keys_file: PathBuf::from(vars.text("JWT_KEYS_FILE", ".local/jwt-keys.json")),
            cursor_key_secret_id: vars.optional("CURSOR_KEY_SECRET_ID"),
            cursor_key_file: PathBuf::from(vars.text("CURSOR_KEY_FILE", ".local/cursor-key")),
            export_bucket: vars.optional("EXPORT_BUCKET"),
            mfa_key_secret_id: vars.optional("MFA_KEY_SECRET_ID"),
            mfa_key_file: PathBuf::from(vars.text("MFA_KEY_FILE", ".local/mfa-key")),
            relying_party: relying_party(
                &vars.text("WEBAUTHN_RP_ID", "localhost"),
                &vars.text("WEBAUTHN_ORIGINS", "http://localhost:3000"),
                &vars.text("TOTP_ISSUER", "Social"),
            )?,
            federation: federation(
                vars.optional("FEDERATION_PROVIDERS").as_deref(),
                vars.optional("FEDERATION_REDIRECT_URIS").as_deref(),
                vars.optional("FEDERATION_SECRETS_SECRET_ID"),
                vars.0("AWS_LAMBDA_INITIALIZATION_TYPE").is_some(),
            )?,
            legacy_bcrypt_cost: match vars.number("LEGACY_BCRYPT_COST", 0, 0)? {
                0 => None,
                cost @ 4..=31 => Some(cost as u32),
                _ => {
                    let reason = "expected bcrypt's cost, 4 to 31 (0: no bcrypt hashes)".into();
                    return Err(ConfigError { name: "LEGACY_BCRYPT_COST", reason });
                }
            },
            webhook_key_secret_id: vars.optional("WEBHOOK_KEY_SECRET_ID"),
            webhook_key_file: PathBuf::from(vars.text("WEBHOOK_KEY_FILE", ".local/webhook-key")),
            webhook_urls: match vars.0("AWS_LAMBDA_INITIALIZATION_TYPE") {
                Some(_) => UrlRule::PublicHttps,
                None => UrlRule::AlsoLocalLoopback,
            },
            edge_secret_id: vars.optional("EDGE_SECRET_ID"),
            totp_issuer: vars.text("TOTP_ISSUER", "Social"),
            dynamodb_timeout_ms,
            request_timeout_ms: vars.number("REQUEST_TIMEOUT_MS", dynamodb_timeout_ms as i64 + 500, 100)? as u64,
            refresh_grace_secs: vars.number("REFRESH_GRACE_SECONDS", 10, 0)?,
            cleanup_lookback_days: vars.number("CLEANUP_LOOKBACK_DAYS", 3, 0)?,
            account_deletion_days: vars.number("ACCOUNT_DELETION_DAYS", 30, 1)?,
            app_base_url: app_base_url(
                &vars.text("APP_BASE_URL", "http://localhost:3000"),
                vars.0("AWS_LAMBDA_INITIALIZATION_TYPE").is_some(),
            )?,
            mail_from: vars.text("MAIL_FROM", "User service <no-reply@localhost>"),
            tls_native_roots: vars.flag("TLS_NATIVE_ROOTS", false)?,
            rate_limits: vars.rate_limits()?,
        })
    }
}

/// The OpenID providers accounts may sign in with, and where the web flow may return.
#[derive(Debug, Clone, Default)]
pub struct Federation {
    pub providers: Vec<Provider>,
    /// The app's pages the web flow may send a person back to (nothing else: no open
    /// redirect).
    pub redirect_uris: Vec<url::Url>,
    /// The Secrets Manager secret of the providers' client secrets in AWS (a JSON object
    /// of provider id to secret).
    pub secrets_secret_id: Option<String>,
    /// Outside AWS: issuers may be plain http on this machine (a mock provider).
    pub local: bool,
}

/// One provider (`FEDERATION_PROVIDERS` is a JSON list of them): `google` and `apple`
/// know their issuers; any other needs `issuer`.
#[derive(Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    #[serde(default)]
    pub issuer: String,
    /// The client ids whose ID tokens are accepted (web, iOS, Android…); the first is
    /// the web flow's.
    pub client_ids: Vec<String>,
    /// Locally only; in AWS from `FEDERATION_SECRETS_SECRET_ID`.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The app sends the SHA-256 of its nonce to the provider (Apple's SDKs do).
    #[serde(default)]
    pub nonce_hashed: Option<bool>,
}

/// Never shows the client secret.
impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_ids", &self.client_ids)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Provider {
    pub fn nonce_hashed(&self) -> bool {
        self.nonce_hashed.unwrap_or(self.id == "apple")
    }
}

fn federation(
    providers: Option<&str>,
    redirect_uris: Option<&str>,
    secrets_secret_id: Option<String>,
    in_aws: bool,
) -> Result<Federation, ConfigError> {
    let invalid = |reason: String| ConfigError { name: "FEDERATION_PROVIDERS", reason };
    let mut list: Vec<Provider> = match providers {
        None => Vec::new(),
        Some(json) => {
            serde_json::from_str(json).map_err(|e| invalid(format!("expected a JSON list of providers: {e}")))?
        }
    };
    let mut seen = std::collections::HashSet::new();
    for provider in &mut list {
        let id_ok = !provider.id.is_empty()
            && provider.id.len() <= 32
            && provider.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok || !seen.insert(provider.id.clone()) {
            return Err(invalid(format!("provider id {:?}: 1-32 of a-z, 0-9 and -, each once", provider.id)));
        }
        if provider.issuer.is_empty() {
            provider.issuer = match provider.id.as_str() {
                "google" => "https://accounts.google.com".into(),
                "apple" => "https://appleid.apple.com".into(),
                other => return Err(invalid(format!("provider {other} needs an issuer"))),
            };
        }
        let issuer =
            url::Url::parse(&provider.issuer).map_err(|_| invalid(format!("{}: issuer is not a URL", provider.id)))?;
        let local_host = matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let allowed = issuer.scheme() == "https" || (!in_aws && issuer.scheme() == "http" && local_host);
        if !allowed {
            return Err(invalid(format!(
                "{}: the issuer must be https (http only on 127.0.0.1 outside AWS)",
                provider.id
            )));
        }
        if provider.client_ids.is_empty() || provider.client_ids.iter().any(|c| c.trim().is_empty()) {
            return Err(invalid(format!("{}: clientIds must list at least one client id", provider.id)));
        }
        if in_aws && provider.client_secret.is_some() {
            return Err(invalid(format!(
                "{}: in AWS, client secrets come from FEDERATION_SECRETS_SECRET_ID",
                provider.id
            )));
        }
    }
    let invalid_uri = |reason: String| ConfigError { name: "FEDERATION_REDIRECT_URIS", reason };
    let mut uris = Vec::new();
    for uri in redirect_uris.unwrap_or_default().split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let url = url::Url::parse(uri).map_err(|_| invalid_uri(format!("{uri} is not an absolute URL")))?;
        if url.fragment().is_some() || (in_aws && url.scheme() == "http") {
            return Err(invalid_uri(format!("{uri}: no fragment, and https (or an app's own scheme) in AWS")));
        }
        uris.push(url);
    }
    Ok(Federation { providers: list, redirect_uris: uris, secrets_secret_id, local: !in_aws })
}

/// The relying party of passkeys: the domain they are bound to (`WEBAUTHN_RP_ID`, a
/// host name such as `example.com`) and the origins of the pages allowed to use them
/// (`WEBAUTHN_ORIGINS`, comma-separated: `https://example.com,https://app.example.com`;
/// each must be the RP id or a subdomain of it, as browsers require).
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub id: String,
    /// The name authenticators show beside the account (`TOTP_ISSUER`).
    pub name: String,
    pub origins: Vec<url::Url>,
}

fn relying_party(id: &str, origins: &str, name: &str) -> Result<RelyingParty, ConfigError> {
    let id = id.trim().to_ascii_lowercase();
    if id.is_empty() || id.contains(['/', ':', ' ']) {
        return Err(ConfigError { name: "WEBAUTHN_RP_ID", reason: "expected a host name, e.g. example.com".into() });
    }
    let invalid = |reason: String| ConfigError { name: "WEBAUTHN_ORIGINS", reason };
    let mut parsed = Vec::new();
    for origin in origins.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let url = url::Url::parse(origin).map_err(|_| invalid(format!("{origin} is not an absolute URL")))?;
        let host = url.host_str().unwrap_or_default();
        if !matches!(url.scheme(), "http" | "https") || url.path() != "/" || url.query().is_some() {
            return Err(invalid(format!("{origin} is not an origin (scheme, host and port only)")));
        }
        if host != id && !host.ends_with(&format!(".{id}")) {
            return Err(invalid(format!("{origin} is not {id} or a subdomain of it")));
        }
        parsed.push(url);
    }
    if parsed.is_empty() {
        return Err(invalid("expected at least one origin".into()));
    }
    Ok(RelyingParty { id, name: name.to_owned(), origins: parsed })
}

/// The variables of a configuration source, read by type; blank counts as unset.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    fn number(&self, name: &'static str, default: i64, min: i64) -> Result<i64, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(ConfigError { name, reason: format!("expected a whole number ≥ {min}") }),
            },
        }
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(_) => Err(ConfigError { name, reason: "expected true or false".into() }),
        }
    }

    fn limit(&self, name: &'static str, default: Limit) -> Result<Limit, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => Limit::parse(&raw).map_err(|reason| ConfigError { name, reason }),
        }
    }

    fn rate_limits(&self) -> Result<RateLimits, ConfigError> {
        let defaults = RateLimits::default();
        Ok(RateLimits {
            login_per_identifier: self.limit("RATE_LIMIT_LOGIN_PER_IDENTIFIER", defaults.login_per_identifier)?,
            login_per_ip: self.limit("RATE_LIMIT_LOGIN_PER_IP", defaults.login_per_ip)?,
            login_per_device: self.limit("RATE_LIMIT_LOGIN_PER_DEVICE", defaults.login_per_device)?,
            failed_logins_per_account: self
                .limit("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", defaults.failed_logins_per_account)?,
            register_per_ip: self.limit("RATE_LIMIT_REGISTER_PER_IP", defaults.register_per_ip)?,
            refresh_per_session: self.limit("RATE_LIMIT_REFRESH_PER_SESSION", defaults.refresh_per_session)?,
            refresh_per_ip: self.limit("RATE_LIMIT_REFRESH_PER_IP", defaults.refresh_per_ip)?,
            reports_per_user: self.limit("RATE_LIMIT_REPORTS_PER_USER", defaults.reports_per_user)?,
            forgot_password_per_email: self
                .limit("RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL", defaults.forgot_password_per_email)?,
            forgot_password_per_ip: self.limit("RATE_LIMIT_FORGOT_PASSWORD_PER_IP", defaults.forgot_password_per_ip)?,
            verification_per_user: self.limit("RATE_LIMIT_VERIFICATION_PER_USER", defaults.verification_per_user)?,
            token_attempts_per_ip: self.limit("RATE_LIMIT_TOKEN_ATTEMPTS_PER_IP", defaults.token_attempts_per_ip)?,
            mfa_failures_per_account: self
                .limit("RATE_LIMIT_MFA_FAILURES_PER_ACCOUNT", defaults.mfa_failures_per_account)?,
        })
    }
}

/// The base of message links: an absolute http(s) URL; in AWS (where Lambda sets
/// `AWS_LAMBDA_INITIALIZATION_TYPE`) `https` and not loopback, so that no link sent to a
/// person points at their own machine or travels in the clear.
fn app_base_url(raw: &str, in_aws: bool) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError { name: "APP_BASE_URL", reason: reason.to_owned() };
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid("expected an absolute URL"))?;
    let host = url.host_str().ok_or_else(|| invalid("expected a URL with a host"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("expected an http(s) URL without query or fragment"));
    }
    if in_aws {
        let loopback = host == "localhost"
            || host.ends_with(".localhost")
            || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if url.scheme() != "https" || loopback {
            return Err(invalid("in AWS, links must be https and not point at localhost"));
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_serve_local_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.table_name, "user-service");
        assert_eq!(c.access_token_ttl_secs, 900);
        assert_eq!(c.password_min_length, 12);
        assert!(c.jwt_keys_secret_id.is_none());
    }

    #[test]
    fn password_minimum_never_goes_below_eight() {
        assert_eq!(config(&[("PASSWORD_MIN_LENGTH", "8")]).unwrap().password_min_length, 8);
        let err = config(&[("PASSWORD_MIN_LENGTH", "6")]).unwrap_err();
        assert_eq!(err.name, "PASSWORD_MIN_LENGTH");
    }

    #[test]
    fn rate_limits_come_from_the_environment() {
        let c = config(&[("RATE_LIMIT_LOGIN_PER_IP", "3/60")]).unwrap();
        assert_eq!(c.rate_limits.login_per_ip, Limit::new(3, 60));
        assert_eq!(c.rate_limits.failed_logins_per_account, Limit::new(100, 3600));
        assert_eq!(config(&[("RATE_LIMIT_REGISTER_PER_IP", "lots")]).unwrap_err().name, "RATE_LIMIT_REGISTER_PER_IP");
    }

    #[test]
    fn the_relying_party_is_a_host_and_origins_under_it() {
        let local = config(&[]).unwrap().relying_party;
        assert_eq!((local.id.as_str(), local.origins[0].as_str()), ("localhost", "http://localhost:3000/"));
        let ok = config(&[
            ("WEBAUTHN_RP_ID", "example.com"),
            ("WEBAUTHN_ORIGINS", "https://example.com, https://app.example.com"),
        ]);
        assert_eq!(ok.unwrap().relying_party.origins.len(), 2);
        for (id, origins) in [
            ("https://example.com", "https://example.com"),
            ("example.com", "https://example.org"),
            ("example.com", "https://notexample.com"),
            ("example.com", "https://example.com/login"),
            ("example.com", " , "),
        ] {
            let err = config(&[("WEBAUTHN_RP_ID", id), ("WEBAUTHN_ORIGINS", origins)]).unwrap_err();
            assert!(err.name.starts_with("WEBAUTHN_"), "{id} {origins}");
        }
    }

    #[test]
    fn federation_providers_are_checked_at_start() {
        assert!(config(&[]).unwrap().federation.providers.is_empty());
        let local = r#"[{"id":"google","clientIds":["web"]},{"id":"mock","issuer":"http://127.0.0.1:9000","clientIds":["app"],"clientSecret":"s"}]"#;
        let ok =
            config(&[("FEDERATION_PROVIDERS", local), ("FEDERATION_REDIRECT_URIS", "http://localhost:3000/signed-in")])
                .unwrap();
        assert_eq!(ok.federation.providers[0].issuer, "https://accounts.google.com");
        assert!(!format!("{:?}", ok.federation).contains("\"s\""), "no secret in Debug");
        assert_eq!(ok.federation.redirect_uris.len(), 1);
        let aws = |providers: &str| {
            config(&[
                ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
                ("APP_BASE_URL", "https://app.example"),
                ("FEDERATION_PROVIDERS", providers),
            ])
        };
        for refused in [
            r#"[{"id":"mock","issuer":"http://127.0.0.1:9000","clientIds":["app"]}]"#,
            r#"[{"id":"google","clientIds":["web"],"clientSecret":"inline"}]"#,
            r#"[{"id":"other","clientIds":["web"]}]"#,
            r#"[{"id":"google","clientIds":[]}]"#,
            r#"[{"id":"Google","clientIds":["web"]}]"#,
            r#"[{"id":"google","clientIds":["a"]},{"id":"google","clientIds":["b"]}]"#,
            "not json",
        ] {
            assert_eq!(aws(refused).unwrap_err().name, "FEDERATION_PROVIDERS", "{refused}");
        }
        assert!(
            aws(r#"[{"id":"apple","clientIds":["com.example.app"]}]"#).unwrap().federation.providers[0].nonce_hashed()
        );
    }

    #[test]
    fn native_roots_are_off_unless_asked_for() {
        assert!(!config(&[]).unwrap().tls_native_roots);
        assert!(config(&[("TLS_NATIVE_ROOTS", "true")]).unwrap().tls_native_roots);
        assert_eq!(config(&[("TLS_NATIVE_ROOTS", "yes please")]).unwrap_err().name, "TLS_NATIVE_ROOTS");
    }

    #[test]
    fn message_links_must_be_https_and_public_in_aws() {
        assert_eq!(config(&[]).unwrap().app_base_url, "http://localhost:3000");
        assert_eq!(
            config(&[("APP_BASE_URL", "https://app.example/base/")]).unwrap().app_base_url,
            "https://app.example/base"
        );
        for bad in ["app.example", "ftp://app.example", "https://app.example/?a=1"] {
            assert_eq!(config(&[("APP_BASE_URL", bad)]).unwrap_err().name, "APP_BASE_URL", "{bad}");
        }
        let aws = |base| config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"), ("APP_BASE_URL", base)]);
        assert!(aws("https://app.example").is_ok());
        for refused in [
            "http://app.example",
            "https://localhost:3000",
            "https://127.0.0.1",
            "https://[::1]/",
            "http://localhost:3000",
        ] {
            assert_eq!(aws(refused).unwrap_err().name, "APP_BASE_URL", "{refused}");
        }
        let unset = config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")]);
        assert_eq!(unset.unwrap_err().name, "APP_BASE_URL", "the local default is refused in AWS");
    }

    #[test]
    fn garbage_numbers_are_refused_with_the_variable_name() {
        let err = config(&[("SESSION_TTL_DAYS", "a week")]).unwrap_err();
        assert_eq!(err.name, "SESSION_TTL_DAYS");
    }
}
