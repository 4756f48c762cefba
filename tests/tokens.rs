//! Access tokens: what a client can verify from the JWK set, and every tampering that
//! must be refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use shared::tokens::{PrivateJwk, PrivateJwkSet, Tokens};
use support::{config_with, test_keys, TestApp};

async fn registered_token(app: &TestApp) -> (String, Value) {
    let response = app.register("tokenholder").await;
    let token = response.body["accessToken"].as_str().unwrap().to_owned();
    let claims = decode_payload(&token);
    (token, claims)
}

fn decode_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256_header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".into());
    header
}

#[tokio::test]
async fn a_client_verifies_access_tokens_from_the_published_jwks() {
    let app = TestApp::new().await;
    let (token, _) = registered_token(&app).await;

    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let text = jwks.body.to_string();
    for private_part in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"qi\""] {
        assert!(!text.contains(private_part), "the JWKS leaks {private_part}");
    }
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the signing key is published");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["social-platform"]);
    validation.set_issuer(&["http://localhost:3000"]);
    let data =
        jsonwebtoken::decode::<Value>(&token, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
    for claim in ["iss", "aud", "sub", "sid", "jti", "iat", "exp", "username", "emailVerified"] {
        assert!(!data.claims[claim].is_null(), "claim {claim} is missing");
    }
    assert_eq!(data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap(), 900);

    let discovery = app.get("/.well-known/openid-configuration", None).await;
    assert_eq!(discovery.body["issuer"], "http://localhost:3000");
    assert_eq!(discovery.body["jwks_uri"], "http://localhost:3000/.well-known/jwks.json");
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let app = TestApp::new().await;
    let (good, claims) = registered_token(&app).await;
    assert_eq!(app.get("/api/auth/me", Some(&good)).await.status, StatusCode::OK);

    let key = &test_keys().keys[0];
    let signing = key.encoding_key().unwrap();
    let now = shared::clock::system_now().timestamp();
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };

    let mut forged = Vec::new();
    // alg: none, no signature.
    let none_header = B64.encode(json!({ "alg": "none", "typ": "at+jwt", "kid": key.kid }).to_string());
    forged.push(("alg none", format!("{none_header}.{}.", B64.encode(claims.to_string()))));
    // HS256 keyed with the public key material (the classic algorithm confusion).
    for secret in
        [key.n.as_bytes().to_vec(), app.get("/.well-known/jwks.json", None).await.body.to_string().into_bytes()]
    {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".into());
        forged.push(("HS256 with the public key", sign(header, &claims, &EncodingKey::from_secret(&secret))));
    }
    forged.push(("wrong aud", sign(rs256_header(&key.kid), &with(json!({ "aud": "another-service" })), &signing)));
    forged.push(("wrong iss", sign(rs256_header(&key.kid), &with(json!({ "iss": "https://evil.example" })), &signing)));
    forged.push((
        "expired",
        sign(rs256_header(&key.kid), &with(json!({ "iat": now - 3600, "exp": now - 600 })), &signing),
    ));
    forged.push((
        "no exp",
        sign(
            rs256_header(&key.kid),
            &{
                let mut c = claims.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            },
            &signing,
        ),
    ));
    let mut jwt_typ = rs256_header(&key.kid);
    jwt_typ.typ = Some("JWT".into());
    forged.push(("typ JWT", sign(jwt_typ, &claims, &signing)));
    forged.push(("unknown kid", sign(rs256_header("not-a-known-kid"), &claims, &signing)));
    // Another key that claims the real kid: the signature does not verify.
    let stranger = PrivateJwk::generate().unwrap();
    forged.push(("foreign key, real kid", sign(rs256_header(&key.kid), &claims, &stranger.encoding_key().unwrap())));
    forged
        .push(("foreign key, own kid", sign(rs256_header(&stranger.kid), &claims, &stranger.encoding_key().unwrap())));
    // A payload changed after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let other_sub = B64.encode(with(json!({ "sub": "someone-else" })).to_string());
    forged.push(("payload swapped", format!("{}.{}.{}", parts[0], other_sub, parts[2])));

    for (what, token) in forged {
        let response = app.get("/api/auth/me", Some(&token)).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what} was accepted");
        assert_eq!(response.error_code(), "UNAUTHORIZED", "{what}");
    }
}

#[tokio::test]
async fn tokens_of_another_issuer_configuration_are_refused() {
    let app = TestApp::new().await;
    app.register("crossover").await;
    let other = Tokens::new(test_keys(), &config_with(&[("JWT_AUDIENCE", "other-audience")])).unwrap();
    let token = other
        .issue(shared::tokens::Subject {
            user_id: "u",
            session_id: "s",
            username: "crossover",
            email_verified: false,
            method: Default::default(),
        })
        .unwrap();
    assert_eq!(app.get("/api/auth/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_key_of_the_set_verifies_and_the_first_signs() {
    let old = test_keys().keys[0].clone();
    let new = PrivateJwk::generate().unwrap();
    let config = config_with(&[]);
    let before = Tokens::new(&PrivateJwkSet { keys: vec![old.clone()] }, &config).unwrap();
    let after = Tokens::new(&PrivateJwkSet { keys: vec![new.clone(), old] }, &config).unwrap();
    let subject = || shared::tokens::Subject {
        user_id: "u",
        session_id: "s",
        username: "rotator",
        email_verified: true,
        method: Default::default(),
    };
    let old_token = before.issue(subject()).unwrap();
    let new_token = after.issue(subject()).unwrap();
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.as_deref(), Some(new.kid.as_str()));
    assert!(after.verify(&old_token).is_ok(), "tokens of the previous key still verify after a rotation");
    assert!(after.verify(&new_token).is_ok());
    assert!(before.verify(&new_token).is_err());
    assert_eq!(after.public_jwks().keys.len(), 2);
}
