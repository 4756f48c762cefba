//! The Secrets Manager path of the signing keys, against moto on loopback.

use shared::tokens::{self, Tokens};
use support::{config_with, sdk_config, test_keys};

fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config("MOTO_ENDPOINT"))
}

#[tokio::test]
async fn keys_load_from_secrets_manager_once_configured() {
    let client = secrets_client();
    let name = format!("user-service/jwks-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&name).secret_string(serde_json::to_string(test_keys()).unwrap()).send().await.unwrap();

    let config = config_with(&[("JWT_KEYS_SECRET_ID", &name)]);
    let keys = tokens::load_key_set(&config, &sdk_config("MOTO_ENDPOINT")).await.unwrap();
    assert_eq!(keys.keys[0].kid, test_keys().keys[0].kid);
    let tokens = Tokens::new(&keys, &config).unwrap();
    let token = tokens
        .issue(tokens::Subject {
            user_id: "u",
            session_id: "s",
            username: "vault",
            email_verified: false,
            method: Default::default(),
        })
        .unwrap();
    assert_eq!(tokens.verify(&token).unwrap().username, "vault");
}

#[tokio::test]
async fn a_missing_empty_or_malformed_secret_fails_start_up_clearly() {
    let client = secrets_client();
    let missing = tokens::key_set_from_secret(&client, "user-service/does-not-exist").await;
    assert!(missing.is_err());

    let empty = format!("user-service/empty-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&empty).secret_string(r#"{"keys":[]}"#).send().await.unwrap();
    let err = tokens::key_set_from_secret(&client, &empty).await.unwrap_err();
    assert!(err.to_string().contains("holds no key"), "{err}");

    let garbage = format!("user-service/garbage-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&garbage).secret_string("not json").send().await.unwrap();
    let err = tokens::key_set_from_secret(&client, &garbage).await.unwrap_err();
    assert!(err.to_string().contains("not a JWK set"), "{err}");
}

#[tokio::test]
async fn the_local_key_file_is_generated_once_and_reused() {
    let dir = std::env::temp_dir().join(format!("user-service-keys-{}", uuid::Uuid::new_v4()));
    let path = dir.join("nested").join("jwt-keys.json");
    let first = tokens::key_set_from_file(&path).unwrap();
    let second = tokens::key_set_from_file(&path).unwrap();
    assert_eq!(first.keys[0].kid, second.keys[0].kid);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_cursor_key_loads_from_its_own_secret_and_must_be_long_enough() {
    let client = secrets_client();
    let name = format!("user-service/cursor-{}", uuid::Uuid::new_v4());
    let generated = "A".repeat(40) + &"7".repeat(24);
    client.create_secret().name(&name).secret_string(&generated).send().await.unwrap();
    let config = config_with(&[("CURSOR_KEY_SECRET_ID", &name)]);
    let secret = shared::cursor::load_secret(&config, &sdk_config("MOTO_ENDPOINT")).await.unwrap();
    assert_eq!(secret, generated.as_bytes());

    let short = format!("user-service/short-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&short).secret_string("too short").send().await.unwrap();
    let config = config_with(&[("CURSOR_KEY_SECRET_ID", &short)]);
    let err = shared::cursor::load_secret(&config, &sdk_config("MOTO_ENDPOINT")).await.unwrap_err();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
}

/// The functions that never sign get the public half alone: they verify the signer's
/// tokens and cannot make one.
#[tokio::test]
async fn verifying_functions_load_the_public_keys_and_cannot_sign() {
    let client = secrets_client();
    let name = format!("user-service/public-jwks-{}", uuid::Uuid::new_v4());
    client
        .create_secret()
        .name(&name)
        .secret_string(serde_json::to_string(&test_keys().public()).unwrap())
        .send()
        .await
        .unwrap();
    let config = config_with(&[("JWT_PUBLIC_KEYS_SECRET_ID", &name)]);
    let verifier = tokens::load(&config, &sdk_config("MOTO_ENDPOINT")).await.unwrap();
    let signer = Tokens::new(test_keys(), &config).unwrap();
    let subject = || tokens::Subject {
        user_id: "u",
        session_id: "s",
        username: "reader",
        email_verified: true,
        method: Default::default(),
    };
    let token = signer.issue(subject()).unwrap();
    assert_eq!(verifier.verify(&token).unwrap().username, "reader");
    assert!(verifier.issue(subject()).is_err(), "no signing key to sign with");
    assert!(!serde_json::to_string(&test_keys().public()).unwrap().contains("\"d\""), "no private part");

    let empty = format!("user-service/public-empty-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&empty).secret_string(r#"{"keys":[]}"#).send().await.unwrap();
    let config = config_with(&[("JWT_PUBLIC_KEYS_SECRET_ID", &empty)]);
    assert!(tokens::load(&config, &sdk_config("MOTO_ENDPOINT")).await.is_err(), "an empty set refuses to start");
}

/// The second-factor key: from its own secret in AWS (the auth function's), none in a
/// function that only verifies tokens, and refused when too short.
#[tokio::test]
async fn the_second_factor_key_loads_from_its_own_secret_for_the_signing_function_alone() {
    let client = secrets_client();
    let name = format!("user-service/mfa-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&name).secret_string("B".repeat(64)).send().await.unwrap();
    let config = config_with(&[("MFA_KEY_SECRET_ID", &name)]);
    let vault = shared::vault::load(&config, &sdk_config("MOTO_ENDPOINT")).await.unwrap().expect("a vault");
    let sealed = vault.seal("u", b"secret").unwrap();
    assert_eq!(shared::vault::Vault::new("B".repeat(64).as_bytes()).open("u", &sealed).unwrap(), b"secret");

    let verifier = config_with(&[("JWT_PUBLIC_KEYS_SECRET_ID", "public-keys")]);
    assert!(shared::vault::load(&verifier, &sdk_config("MOTO_ENDPOINT")).await.unwrap().is_none());

    let short = format!("user-service/mfa-short-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&short).secret_string("too short").send().await.unwrap();
    let config = config_with(&[("MFA_KEY_SECRET_ID", &short)]);
    let err = shared::vault::load(&config, &sdk_config("MOTO_ENDPOINT")).await.err().expect("refused");
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
}

/// The edge's origin secret (CloudFront in front) loads from its own secret, is long
/// enough, and is what requests must carry, its previous value too during a rotation;
/// without `EDGE_SECRET_ID` there is no edge.
#[tokio::test]
async fn the_edge_secret_loads_from_its_own_secret_guards_every_route_and_rotates() {
    use shared::edge::{self, ORIGIN_SECRET_HEADER};
    use tower::ServiceExt;

    let client = secrets_client();
    let aws = sdk_config("MOTO_ENDPOINT");
    assert!(edge::load(&config_with(&[]), &aws).await.unwrap().is_none());
    let short = format!("user-service/edge-short-{}", uuid::Uuid::new_v4());
    client.create_secret().name(&short).secret_string("too short").send().await.unwrap();
    let err = edge::load(&config_with(&[("EDGE_SECRET_ID", &short)]), &aws).await.err().unwrap();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");

    let name = format!("user-service/edge-{}", uuid::Uuid::new_v4());
    let generated = "Edge".repeat(12);
    client.create_secret().name(&name).secret_string(&generated).send().await.unwrap();
    let secret = edge::load(&config_with(&[("EDGE_SECRET_ID", &name)]), &aws).await.unwrap();
    let app = support::TestApp::new().await;
    let router = users::app(app.state.clone().with_edge(secret));
    let me = |origin: Option<&str>| {
        let mut request = http::Request::get("/api/users/search?q=ab");
        if let Some(origin) = origin {
            request = request.header(ORIGIN_SECRET_HEADER, origin);
        }
        router.clone().oneshot(request.body(axum::body::Body::empty()).unwrap())
    };
    assert_eq!(me(None).await.unwrap().status(), http::StatusCode::FORBIDDEN);
    assert_eq!(me(Some(&generated)).await.unwrap().status(), http::StatusCode::OK, "past the edge");
    assert_eq!(me(Some(&"Edge".repeat(11))).await.unwrap().status(), http::StatusCode::FORBIDDEN);

    // A rotation: a function started after the new value admits it and, until CloudFront
    // sends the new one, the value before it.
    let rotated = "Next".repeat(12);
    client.put_secret_value().secret_id(&name).secret_string(&rotated).send().await.unwrap();
    let secret = edge::load(&config_with(&[("EDGE_SECRET_ID", &name)]), &aws).await.unwrap();
    let router = users::app(app.state.clone().with_edge(secret));
    let me = |origin: &str| {
        let request = http::Request::get("/api/users/search?q=ab").header(ORIGIN_SECRET_HEADER, origin);
        router.clone().oneshot(request.body(axum::body::Body::empty()).unwrap())
    };
    assert_eq!(me(&rotated).await.unwrap().status(), http::StatusCode::OK);
    assert_eq!(me(&generated).await.unwrap().status(), http::StatusCode::OK, "the previous value");
    assert_eq!(me(&"Last".repeat(12)).await.unwrap().status(), http::StatusCode::FORBIDDEN);
}
