//! OpenID providers (Google, Apple, any OpenID Connect issuer): discovery and JWK sets,
//! cached per provider and refetched on an unknown key id at most once a minute; ID
//! token verification; the code flow's authorization URL and code exchange (PKCE S256).
//! The protocol checks are `openidconnect`'s. The HTTP client is this module's: rustls
//! with AWS-LC and the Mozilla roots compiled in, 2 s to connect, 5 s a request, no
//! redirects followed, bodies bounded, and https only (plain http to this machine is
//! allowed outside AWS, for a mock provider).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse as _,
};
use sha2::{Digest, Sha256};

use crate::config::{Federation, Provider};
use crate::error::{AppError, AppResult};

/// How often a provider's keys are fetched again for an unknown key id, at most (s).
const KEYS_REFRESH_SECS: i64 = 60;
/// How long a provider's discovery document is trusted before it is fetched again (s).
const METADATA_TTL_SECS: i64 = 3600;
/// The largest answer read from a provider.
const BODY_MAX: usize = 256 * 1024;
/// How old an ID token may be (its `iat`).
const MAX_TOKEN_AGE_SECS: i64 = 600;

/// What a verified ID token says about the person.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
}

/// A verified ID token: the identity, and what remembers it as used.
pub struct VerifiedToken {
    pub identity: VerifiedIdentity,
    /// The token's hash: accepted once, remembered until it expires.
    pub token_hash: String,
    pub expires_at: i64,
}

/// The providers of the configuration, their cached metadata, and the HTTP client.
pub struct Providers {
    federation: Federation,
    secrets: HashMap<String, String>,
    http: OnceLock<Result<HttpClient, String>>,
    cache: Mutex<HashMap<String, Cached>>,
}

#[derive(Clone)]
struct Cached {
    metadata: CoreProviderMetadata,
    fetched_at: DateTime<Utc>,
    keys_fetched_at: DateTime<Utc>,
}

impl Providers {
    /// `secrets`: client secrets by provider id (from Secrets Manager in AWS); a
    /// provider's inline `clientSecret` is used otherwise.
    pub fn new(federation: Federation, secrets: HashMap<String, String>) -> Self {
        Providers { federation, secrets, http: OnceLock::new(), cache: Mutex::new(HashMap::new()) }
    }

    pub fn list(&self) -> &[Provider] {
        &self.federation.providers
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.federation.providers.iter().find(|p| p.id == id)
    }

    /// Whether `uri` is one of the app's configured redirect URIs, exactly.
    pub fn is_redirect_uri(&self, uri: &str) -> bool {
        url::Url::parse(uri).is_ok_and(|u| self.federation.redirect_uris.contains(&u))
    }

    fn secret(&self, provider: &Provider) -> Option<ClientSecret> {
        let secret = self.secrets.get(&provider.id).cloned().or_else(|| provider.client_secret.clone());
        secret.map(ClientSecret::new)
    }

    fn http(&self) -> AppResult<&HttpClient> {
        let client = self.http.get_or_init(|| HttpClient::new(self.federation.local).map_err(|e| e.to_string()));
        client.as_ref().map_err(|e| AppError::internal(format!("the providers' HTTP client: {e}")))
    }

    /// The provider's metadata and keys: cached, fetched when missing or stale, and its
    /// keys again when `unknown_key` and the last fetch is a minute old.
    async fn metadata(
        &self,
        provider: &Provider,
        unknown_key: bool,
        now: DateTime<Utc>,
    ) -> AppResult<CoreProviderMetadata> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(&provider.id).cloned());
        match cached {
            Some(c) if unknown_key && (now - c.keys_fetched_at).num_seconds() >= KEYS_REFRESH_SECS => {
                let http = self.http()?;
                let keys = CoreJsonWebKeySet::fetch_async(c.metadata.jwks_uri(), http).await;
                let keys = keys.map_err(|e| unavailable(provider, e))?;
                let metadata = c.metadata.set_jwks(keys);
                self.remember(provider, &metadata, c.fetched_at, now);
                Ok(metadata)
            }
            Some(c) if (now - c.fetched_at).num_seconds() < METADATA_TTL_SECS => Ok(c.metadata),
            _ => {
                let issuer = IssuerUrl::new(provider.issuer.clone()).map_err(AppError::internal)?;
                let http = self.http()?;
                let metadata = CoreProviderMetadata::discover_async(issuer, http).await;
                let metadata = metadata.map_err(|e| unavailable(provider, e))?;
                self.remember(provider, &metadata, now, now);
                Ok(metadata)
            }
        }
    }

    fn remember(
        &self,
        provider: &Provider,
        metadata: &CoreProviderMetadata,
        fetched_at: DateTime<Utc>,
        keys_at: DateTime<Utc>,
    ) {
        if let Ok(mut cache) = self.cache.lock() {
            let cached = Cached { metadata: metadata.clone(), fetched_at, keys_fetched_at: keys_at };
            cache.insert(provider.id.clone(), cached);
        }
    }

    /// Verifies an ID token the app got from the provider's SDK (the native flow) or the
    /// code exchange: signature (keys refetched once for an unknown key id), `iss`, `aud`
    /// (one of the provider's client ids), `exp`, `iat` (not in the future, at most 10
    /// minutes old) and `nonce` (its SHA-256 for a provider whose SDKs hash it). Anything
    /// else is 401 `INVALID_TOKEN`.
    pub async fn verify_id_token(
        &self,
        provider: &Provider,
        id_token: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> AppResult<VerifiedToken> {
        let expected_nonce = match provider.nonce_hashed() {
            true => hex(&Sha256::digest(nonce.as_bytes())),
            false => nonce.to_owned(),
        };
        self.verify(provider, id_token, &expected_nonce, now).await
    }

    /// `verify_id_token` against the nonce the token must carry, as it is.
    async fn verify(
        &self,
        provider: &Provider,
        id_token: &str,
        expected_nonce: &str,
        now: DateTime<Utc>,
    ) -> AppResult<VerifiedToken> {
        let refused = |why: String| {
            tracing::info!(provider = %provider.id, why, "ID token refused");
            AppError::InvalidToken
        };
        let token = CoreIdToken::from_str(id_token).map_err(|e| refused(format!("malformed: {e}")))?;
        let mut metadata = self.metadata(provider, false, now).await?;
        let mut refetched = false;
        loop {
            match self.claims(provider, &metadata, &token, expected_nonce, now) {
                Ok(identity) => {
                    let expires_at = identity.1;
                    let token_hash = crate::domain::hash_secret(id_token);
                    return Ok(VerifiedToken { identity: identity.0, token_hash, expires_at });
                }
                Err(Refusal::UnknownKey) if !refetched => {
                    refetched = true;
                    metadata = self.metadata(provider, true, now).await?;
                }
                Err(Refusal::UnknownKey) => return Err(refused("no key of the provider has its key id".into())),
                Err(Refusal::Other(why)) => return Err(refused(why)),
            }
        }
    }

    /// The claims of `token` for the first of the provider's client ids it is meant for.
    fn claims(
        &self,
        provider: &Provider,
        metadata: &CoreProviderMetadata,
        token: &CoreIdToken,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<(VerifiedIdentity, i64), Refusal> {
        let issuer = metadata.issuer().clone();
        let mut last = Refusal::Other("no client id".into());
        for client_id in &provider.client_ids {
            let verifier = CoreIdTokenVerifier::new_public_client(
                ClientId::new(client_id.clone()),
                issuer.clone(),
                metadata.jwks().clone(),
            )
            .set_time_fn(move || now)
            .set_issue_time_verifier_fn(move |iat| {
                let age = (now - iat).num_seconds();
                match age {
                    _ if age < -30 => Err("issued in the future".into()),
                    _ if age > MAX_TOKEN_AGE_SECS => Err("issued more than 10 minutes ago".into()),
                    _ => Ok(()),
                }
            });
            let expected = Nonce::new(nonce.to_owned());
            match token.claims(&verifier, &expected) {
                Ok(claims) => {
                    let identity = VerifiedIdentity {
                        provider: provider.id.clone(),
                        issuer: claims.issuer().to_string(),
                        subject: claims.subject().to_string(),
                        email: claims.email().map(|e| e.to_string()),
                        email_verified: claims.email_verified().unwrap_or(false),
                        given_name: claims.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                        family_name: claims.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
                    };
                    return Ok((identity, claims.expiration().timestamp()));
                }
                Err(openidconnect::ClaimsVerificationError::InvalidAudience(why)) => last = Refusal::Other(why),
                Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                    openidconnect::SignatureVerificationError::NoMatchingKey,
                )) => return Err(Refusal::UnknownKey),
                Err(err) => return Err(Refusal::Other(err.to_string())),
            }
        }
        Err(last)
    }

    /// The provider's authorization URL of the code flow: the first client id, our
    /// callback, `openid email profile`, and the state, nonce and PKCE challenge given.
    pub async fn authorization_url(
        &self,
        provider: &Provider,
        callback: &str,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: DateTime<Utc>,
    ) -> AppResult<url::Url> {
        let metadata = self.metadata(provider, false, now).await?;
        let client = self.client(provider, metadata, callback)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    /// Exchanges a code (with its PKCE verifier) at the token endpoint for the ID token
    /// it answers, verified against the flow's nonce.
    pub async fn exchange_code(
        &self,
        provider: &Provider,
        callback: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> AppResult<VerifiedToken> {
        let metadata = self.metadata(provider, false, now).await?;
        let client = self.client(provider, metadata, callback)?;
        let http = self.http()?;
        let request = client.exchange_code(AuthorizationCode::new(code.to_owned())).map_err(AppError::internal)?;
        let response = request
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| {
                tracing::info!(provider = %provider.id, error = %e, "the code exchange failed");
                AppError::InvalidToken
            })?;
        let id_token = response.id_token().ok_or(AppError::InvalidToken)?.to_string();
        // The flow's nonce is the raw one (never hashed: this service made it).
        self.verify(provider, &id_token, nonce, now).await
    }

    fn client(
        &self,
        provider: &Provider,
        metadata: CoreProviderMetadata,
        callback: &str,
    ) -> AppResult<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let client_id = ClientId::new(provider.client_ids.first().cloned().unwrap_or_default());
        let redirect = RedirectUrl::new(callback.to_owned()).map_err(AppError::internal)?;
        Ok(CoreClient::from_provider_metadata(metadata, client_id, self.secret(provider)).set_redirect_uri(redirect))
    }
}

/// The providers as configured, with their client secrets from Secrets Manager when
/// `FEDERATION_SECRETS_SECRET_ID` names a secret (a JSON object of provider id to client
/// secret; the template creates it, the operator fills it in).
pub async fn load(
    config: &crate::config::Config,
    aws: &aws_config::SdkConfig,
) -> Result<Providers, crate::error::BoxError> {
    let federation = config.federation.clone();
    let secrets = match &federation.secrets_secret_id {
        Some(id) => {
            let client = aws_sdk_secretsmanager::Client::new(aws);
            let text = crate::tokens::secret_text(&client, id, "federation client secrets").await?;
            serde_json::from_str::<HashMap<String, String>>(&text)
                .map_err(|_| "the federation client secrets must be a JSON object of provider id to secret")?
        }
        None => HashMap::new(),
    };
    Ok(Providers::new(federation, secrets))
}

enum Refusal {
    UnknownKey,
    Other(String),
}

fn unavailable(provider: &Provider, err: impl std::fmt::Display) -> AppError {
    AppError::ServiceUnavailable(format!("the provider {} did not answer usably: {err}", provider.id).into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The HTTP client of provider requests.
struct HttpClient {
    client:
        Client<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, Full<bytes::Bytes>>,
    local: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl<'c> openidconnect::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

impl HttpClient {
    fn new(local: bool) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let http = hyper_util::client::legacy::connect::HttpConnector::new();
        let https = crate::web_tls::https(http, Duration::from_secs(2))?;
        Ok(HttpClient { client: Client::builder(TokioExecutor::new()).build(https), local })
    }

    /// One request: https only (http to this machine outside AWS), 5 s, the body bounded.
    async fn send(&self, request: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
        let uri = request.uri().clone();
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if uri.scheme_str() != Some("https") && !(self.local && loopback) {
            return Err(HttpError(format!("refused a request to {uri}: providers are reached over https only")));
        }
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(bytes::Bytes::from(body)));
        let response = tokio::time::timeout(Duration::from_secs(5), self.client.request(request))
            .await
            .map_err(|_| HttpError(format!("{uri}: no answer within 5 s")))?
            .map_err(|e| HttpError(format!("{uri}: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(5), Limited::new(body, BODY_MAX).collect())
            .await
            .map_err(|_| HttpError(format!("{uri}: the body took over 5 s")))?
            .map_err(|e| HttpError(format!("{uri}: {e}")))?;
        Ok(http::Response::from_parts(parts, body.to_bytes().to_vec()))
    }
}
