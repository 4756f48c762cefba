//! A mock OpenID provider on 127.0.0.1, for the tests and for trying federated sign-in
//! locally (`scripts/dev` starts it with `MOCK_OIDC=1`): discovery, a JWK set (its own
//! RS256 keys, rotatable), an authorization endpoint that signs in a configurable person
//! at once (no page), and a token endpoint that checks the code, the redirect URI, the
//! client and PKCE S256. It also mints ID tokens directly, as a provider's app SDK would
//! hand them to an app, with any claim bent for a test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::clock::Clock;
use shared::error::BoxError;
use shared::tokens::PrivateJwk;

/// The person the provider signs in.
#[derive(Debug, Clone)]
pub struct MockPerson {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
}

impl Default for MockPerson {
    fn default() -> Self {
        MockPerson {
            subject: "mock-subject-1".into(),
            email: Some("ada@example.org".into()),
            email_verified: true,
            given_name: Some("Ada".into()),
        }
    }
}

/// A code the authorization endpoint issued, waiting for the token endpoint.
struct Issued {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: Option<String>,
    person: MockPerson,
}

struct Inner {
    issuer: String,
    clock: Clock,
    /// The key that signs; `published` is what the JWK set shows.
    signing: PrivateJwk,
    published: Vec<PrivateJwk>,
    person: MockPerson,
    codes: HashMap<String, Issued>,
    /// The client secret the token endpoint asks for, if any.
    client_secret: Option<String>,
}

/// A running mock provider.
#[derive(Clone)]
pub struct MockProvider {
    inner: Arc<Mutex<Inner>>,
    pub issuer: String,
}

impl MockProvider {
    /// Starts on a free port of 127.0.0.1, its times from `clock` (the tests' service
    /// clock, so that both agree when a test moves it).
    pub async fn start(clock: Clock) -> Result<Self, BoxError> {
        Self::start_on("127.0.0.1:0", clock).await
    }

    pub async fn start_on(addr: &str, clock: Clock) -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let key = PrivateJwk::generate()?;
        let inner = Inner {
            issuer: issuer.clone(),
            clock,
            signing: key.clone(),
            published: vec![key],
            person: MockPerson::default(),
            codes: HashMap::new(),
            client_secret: None,
        };
        let provider = MockProvider { inner: Arc::new(Mutex::new(inner)), issuer };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(provider)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Its times from `clock` from now on (a test's service clock, made after the mock).
    pub fn use_clock(&self, clock: Clock) {
        self.lock().clock = clock;
    }

    /// Who the authorization endpoint signs in from now on.
    pub fn sign_in_as(&self, person: MockPerson) {
        self.lock().person = person;
    }

    /// The token endpoint asks for this client secret.
    pub fn require_client_secret(&self, secret: &str) {
        self.lock().client_secret = Some(secret.to_owned());
    }

    /// A new signing key; `publish` puts it in the JWK set (beside the old one's
    /// removal), or leaves the set as it was (a key the service cannot know yet).
    pub fn rotate_keys(&self, publish: bool) -> Result<(), BoxError> {
        let key = PrivateJwk::generate()?;
        let mut inner = self.lock();
        inner.signing = key.clone();
        if publish {
            inner.published = vec![key];
        }
        Ok(())
    }

    /// Publishes the current signing key (after `rotate_keys(false)`).
    pub fn publish_signing_key(&self) {
        let mut inner = self.lock();
        inner.published = vec![inner.signing.clone()];
    }

    /// An ID token for the current person, as the provider's app SDK would give it:
    /// standard claims (`aud` the client id, `iat` now, `exp` in 10 minutes, `nonce`),
    /// then `overrides` merged over them (a `null` removes a claim).
    pub fn id_token(&self, client_id: &str, nonce: &str, overrides: Value) -> Result<String, BoxError> {
        let inner = self.lock();
        let mut claims = standard_claims(&inner, &inner.person, client_id, Some(nonce));
        if let (Some(claims), Some(overrides)) = (claims.as_object_mut(), overrides.as_object()) {
            for (name, value) in overrides {
                match value {
                    Value::Null => claims.remove(name),
                    value => claims.insert(name.clone(), value.clone()),
                };
            }
        }
        sign(&inner.signing, &claims)
    }

    /// The same token signed by a key of no provider (a forged signature).
    pub fn forged_id_token(&self, client_id: &str, nonce: &str) -> Result<String, BoxError> {
        let inner = self.lock();
        let mut stranger = PrivateJwk::generate()?;
        stranger.kid = inner.signing.kid.clone();
        sign(&stranger, &standard_claims(&inner, &inner.person, client_id, Some(nonce)))
    }
}

fn standard_claims(inner: &Inner, person: &MockPerson, client_id: &str, nonce: Option<&str>) -> Value {
    let now = inner.clock.now().timestamp();
    let mut claims = json!({
        "iss": inner.issuer,
        "sub": person.subject,
        "aud": client_id,
        "iat": now,
        "exp": now + 600,
        "email_verified": person.email_verified,
        // As real providers' tokens differ: two minted in one second are not one replay.
        "jti": B64.encode(rand::random::<[u8; 12]>()),
    });
    for (name, value) in
        [("nonce", nonce), ("email", person.email.as_deref()), ("given_name", person.given_name.as_deref())]
    {
        if let (Some(value), Some(claims)) = (value, claims.as_object_mut()) {
            claims.insert(name.to_owned(), json!(value));
        }
    }
    claims
}

fn sign(key: &PrivateJwk, claims: &Value) -> Result<String, BoxError> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    Ok(jsonwebtoken::encode(&header, claims, &key.encoding_key()?)?)
}

async fn discovery(State(provider): State<MockProvider>) -> Json<Value> {
    let issuer = provider.issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(State(provider): State<MockProvider>) -> Json<Value> {
    let inner = provider.lock();
    let keys: Vec<Value> = inner
        .published
        .iter()
        .map(|k| json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e }))
        .collect();
    Json(json!({ "keys": keys }))
}

#[derive(Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Signs the current person in at once and sends the browser back with a code.
async fn authorize(State(provider): State<MockProvider>, Query(params): Query<AuthorizeParams>) -> Response {
    let (Some(client_id), Some(redirect_uri)) = (params.client_id, params.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "client_id and redirect_uri are required").into_response();
    };
    if params.response_type.as_deref() != Some("code") || params.code_challenge_method.as_deref() != Some("S256") {
        return (StatusCode::BAD_REQUEST, "only the code flow with PKCE S256").into_response();
    }
    let code = B64.encode(rand::random::<[u8; 24]>());
    let mut inner = provider.lock();
    let person = inner.person.clone();
    let issued = Issued {
        client_id,
        redirect_uri: redirect_uri.clone(),
        nonce: params.nonce,
        challenge: params.code_challenge,
        person,
    };
    inner.codes.insert(code.clone(), issued);
    let Ok(mut back) = url::Url::parse(&redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = params.state {
        back.query_pairs_mut().append_pair("state", &state);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
}

/// The code (once), its redirect URI and client, the client secret (form or basic
/// authentication) and the PKCE verifier; then the tokens.
async fn token(
    State(provider): State<MockProvider>,
    headers: axum::http::HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    let mut inner = provider.lock();
    let Some(issued) = form.code.as_ref().and_then(|c| inner.codes.remove(c)) else { return refuse("invalid_grant") };
    let (basic_id, basic_secret) = basic_credentials(&headers);
    let client_id = form.client_id.or(basic_id);
    let secret = form.client_secret.or(basic_secret);
    if form.grant_type.as_deref() != Some("authorization_code")
        || form.redirect_uri.as_deref() != Some(issued.redirect_uri.as_str())
        || client_id.as_deref() != Some(issued.client_id.as_str())
    {
        return refuse("invalid_grant");
    }
    if inner.client_secret.is_some() && secret != inner.client_secret {
        return refuse("invalid_client");
    }
    let verified = match (&issued.challenge, &form.code_verifier) {
        (Some(challenge), Some(verifier)) => B64.encode(Sha256::digest(verifier.as_bytes())) == *challenge,
        _ => false,
    };
    if !verified {
        return refuse("invalid_grant");
    }
    let claims = standard_claims(&inner, &issued.person, &issued.client_id, issued.nonce.as_deref());
    match sign(&inner.signing, &claims) {
        Ok(id_token) => Json(json!({
            "access_token": B64.encode(rand::random::<[u8; 24]>()),
            "token_type": "Bearer",
            "expires_in": 600,
            "id_token": id_token,
        }))
        .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "signing failed").into_response(),
    }
}

fn basic_credentials(headers: &axum::http::HeaderMap) -> (Option<String>, Option<String>) {
    let Some(basic) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
    else {
        return (None, None);
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic).ok().and_then(|d| String::from_utf8(d).ok());
    let decode = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((id, secret)) => (decode(id), decode(secret)),
        None => (None, None),
    }
}
