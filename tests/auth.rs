//! Sign-up, sign-in and `me` through the real routers against DynamoDB Local.

use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use shared::store::keys;
use support::{keys_of, TestApp, NEW_PASSWORD, PASSWORD};

#[tokio::test]
async fn register_then_login_by_email_and_username_then_me() {
    let app = TestApp::new().await;
    let registered = app
        .post(
            "/api/auth/register",
            json!({
                "username": "Ada_L", "email": "Ada@Example.org", "password": PASSWORD,
                "firstName": "Ada", "lastName": "Lovelace", "agreeToTerms": true
            }),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    let user = &registered.body["user"];
    assert_eq!(user["username"], "Ada_L");
    assert_eq!(user["email"], "ada@example.org");
    assert_eq!(user["firstName"], "Ada");
    assert_eq!(user["isVerified"], false);
    assert_eq!(user["privacySettings"]["contactInfoVisibility"], "friends");
    assert_eq!(user["notificationPreferences"]["securityAlerts"], true);
    assert_eq!(registered.body["tokenType"], "Bearer");
    assert_eq!(registered.body["expiresIn"], 900);
    assert_eq!(registered.headers["cache-control"], "no-store");
    let text = registered.body.to_string();
    assert!(!text.contains("argon2") && !text.contains("passwordHash"), "no secret in responses: {text}");

    for identifier in ["ada@example.org", "ADA@EXAMPLE.ORG", "ada_l", "Ada_L"] {
        let login = app.post("/api/auth/login", json!({ "identifier": identifier, "password": PASSWORD })).await;
        assert_eq!(login.status, StatusCode::OK, "{identifier}: {:?}", login.body);
        assert_eq!(login.body["user"]["id"], user["id"]);
        assert!(login.body["user"]["lastLogin"].is_string());
        let me = app.get("/api/auth/me", login.body["accessToken"].as_str()).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["id"], user["id"]);
        assert_eq!(me.body["email"], "ada@example.org");
        assert_eq!(me.headers["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn me_needs_a_token() {
    let app = TestApp::new().await;
    let response = app.get("/api/auth/me", None).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(response.error_code(), "UNAUTHORIZED");
    let response = app.get("/api/auth/me", Some("not-a-jwt")).await;
    assert_eq!(response.error_code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::new().await;
    app.register("grace").await;
    let wrong =
        app.post("/api/auth/login", json!({ "identifier": "grace", "password": "not-the-password-at-all" })).await;
    let unknown = app.post("/api/auth/login", json!({ "identifier": "nobody_here", "password": PASSWORD })).await;
    let unknown_email =
        app.post("/api/auth/login", json!({ "identifier": "nobody@example.org", "password": PASSWORD })).await;
    for response in [&wrong, &unknown, &unknown_email] {
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
        assert_eq!(response.error_code(), "INVALID_CREDENTIALS");
        assert_eq!(response.body["error"]["message"], wrong.body["error"]["message"]);
    }
}

#[tokio::test]
async fn duplicate_email_or_username_is_409_whatever_the_case() {
    let app = TestApp::new().await;
    app.register("linus").await;
    let same_email = app
        .post(
            "/api/auth/register",
            json!({ "username": "other", "email": "LINUS@example.org", "password": PASSWORD, "agreeToTerms": true }),
        )
        .await;
    assert_eq!(same_email.status, StatusCode::CONFLICT);
    assert_eq!(same_email.error_code(), "EMAIL_TAKEN");
    let same_username = app
        .post(
            "/api/auth/register",
            json!({ "username": "LiNuS", "email": "other@example.org", "password": PASSWORD, "agreeToTerms": true }),
        )
        .await;
    assert_eq!(same_username.status, StatusCode::CONFLICT);
    assert_eq!(same_username.error_code(), "USERNAME_TAKEN");
    // Nothing of the refused sign-ups was written.
    let keys = keys_of(&app.all_items().await);
    assert!(!keys.iter().any(|(pk, _)| pk == "EMAIL#other@example.org" || pk == "USERNAME#other"), "{keys:?}");
    assert_eq!(keys.iter().filter(|(_, sk)| sk == "PROFILE").count(), 1);
}

#[tokio::test]
async fn concurrent_duplicate_sign_ups_have_exactly_one_winner_and_no_orphans() {
    let app = TestApp::new().await;
    // Same email, different usernames: one may win, the rest must leave nothing behind.
    let attempts = (0..8).map(|i| {
        app.post(
            "/api/auth/register",
            json!({ "username": format!("racer_{i}"), "email": "race@example.org", "password": PASSWORD, "agreeToTerms": true }),
        )
    });
    let responses = join_all(attempts).await;
    let created = responses.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let conflicts = responses.iter().filter(|r| r.error_code() == "EMAIL_TAKEN").count();
    assert_eq!((created, conflicts), (1, 7), "{:?}", responses.iter().map(|r| &r.body).collect::<Vec<_>>());

    let winner = responses.iter().find(|r| r.status == StatusCode::CREATED).unwrap();
    let winner_name = winner.body["user"]["username"].as_str().unwrap().to_lowercase();
    let keys = keys_of(&app.all_items().await);
    let usernames: Vec<_> = keys.iter().filter(|(pk, _)| pk.starts_with("USERNAME#")).collect();
    assert_eq!(usernames, vec![&(format!("USERNAME#{winner_name}"), "USERNAME".to_string())]);
    assert_eq!(keys.iter().filter(|(pk, _)| pk.starts_with("EMAIL#")).count(), 1);
    assert_eq!(keys.iter().filter(|(_, sk)| sk == "PROFILE").count(), 1);
    assert_eq!(keys.iter().filter(|(_, sk)| sk.starts_with("SESSION#")).count(), 1);

    // Same username in different case, different emails.
    let attempts = (0..6).map(|i| {
        app.post(
            "/api/auth/register",
            json!({ "username": if i % 2 == 0 { "Twin" } else { "tWIN" }, "email": format!("twin{i}@example.org"),
                    "password": PASSWORD, "agreeToTerms": true }),
        )
    });
    let responses = join_all(attempts).await;
    let created = responses.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let conflicts = responses.iter().filter(|r| r.error_code() == "USERNAME_TAKEN").count();
    assert_eq!((created, conflicts), (1, 5));
    let keys = keys_of(&app.all_items().await);
    assert_eq!(keys.iter().filter(|(pk, _)| pk.starts_with("EMAIL#twin")).count(), 1);
}

#[tokio::test]
async fn every_validation_rule_names_its_field() {
    let app = TestApp::new().await;
    let cases = [
        (json!({}), vec!["username", "email", "agreeToTerms", "password"]),
        (
            json!({ "username": "ab", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true }),
            vec!["username"],
        ),
        (
            json!({ "username": "bad name", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true }),
            vec!["username"],
        ),
        (
            json!({ "username": "okname", "email": "not-an-email", "password": PASSWORD, "agreeToTerms": true }),
            vec!["email"],
        ),
        (
            json!({ "username": "okname", "email": "x@localhost", "password": PASSWORD, "agreeToTerms": true }),
            vec!["email"],
        ),
        (
            json!({ "username": "okname", "email": format!("{}@example.org", "a".repeat(250)), "password": PASSWORD, "agreeToTerms": true }),
            vec!["email"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": "short", "agreeToTerms": true }),
            vec!["password"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": "a".repeat(129), "agreeToTerms": true }),
            vec!["password"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": false }),
            vec!["agreeToTerms"],
        ),
        (json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD }), vec!["agreeToTerms"]),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true, "firstName": "R2D2" }),
            vec!["firstName"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true, "lastName": "x".repeat(101) }),
            vec!["lastName"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true, "lastName": "" }),
            vec!["lastName"],
        ),
        (
            json!({ "username": 42, "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true }),
            vec!["username"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": "yes" }),
            vec!["agreeToTerms"],
        ),
        (
            json!({ "username": "okname", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true, "isAdmin": true }),
            vec!["isAdmin"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post("/api/auth/register", body.clone()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.error_code(), "VALIDATION_ERROR", "{body}");
        let mut got = response.detail_fields();
        let mut want: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{body}: {:?}", response.body);
    }
    let login = app.post("/api/auth/login", json!({ "identifier": "" })).await;
    assert_eq!(login.error_code(), "VALIDATION_ERROR");
    let mut fields = login.detail_fields();
    fields.sort();
    assert_eq!(fields, ["identifier", "password"]);
    let written: Vec<_> =
        support::keys_of(&app.all_items().await).into_iter().filter(|(pk, _)| !pk.starts_with("RATE#")).collect();
    assert!(written.is_empty(), "no invalid sign-up wrote anything but rate-limit counts: {written:?}");
}

#[tokio::test]
async fn unicode_names_are_accepted_and_normalised() {
    let app = TestApp::new().await;
    let response = app
        .post(
            "/api/auth/register",
            json!({ "username": "zoe_x", "email": "zoe@example.org", "password": PASSWORD, "agreeToTerms": true,
                    "firstName": "Zoe\u{308}", "lastName": "O'Brien-Łukasz" }),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    assert_eq!(response.body["user"]["firstName"], "Zoë");
}

#[tokio::test]
async fn weak_and_user_similar_passwords_are_rejected() {
    let app = TestApp::new().await;
    for password in [
        "password1234",
        "qwertyuiop123",
        "111111111111",
        "iloveyou2024!",
        "marcus_aurelius!",
        "marcus@example.org1",
        "xMARCUS_AURELIUSx",
    ] {
        let response = app
            .post(
                "/api/auth/register",
                json!({ "username": "marcus_aurelius", "email": "marcus@example.org", "password": password, "agreeToTerms": true }),
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{password} was accepted");
        assert_eq!(response.detail_fields(), ["password"], "{password}");
    }
}

#[tokio::test]
async fn deactivated_accounts_are_told_only_after_the_right_password() {
    let app = TestApp::new().await;
    let registered = app.register("sleeper").await;
    let user_id = registered.body["user"]["id"].as_str().unwrap();
    app.set_attributes(keys::user::key(user_id), &[("status", support::s("deactivated"))]).await;
    let wrong =
        app.post("/api/auth/login", json!({ "identifier": "sleeper", "password": "not-the-password-at-all" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    let right = app.post("/api/auth/login", json!({ "identifier": "sleeper", "password": PASSWORD })).await;
    assert_eq!(right.status, StatusCode::FORBIDDEN);
    assert_eq!(right.error_code(), "ACCOUNT_DEACTIVATED");
    let me = app.get("/api/auth/me", registered.body["accessToken"].as_str()).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_creates_a_session_item_with_device_and_expiry() {
    let app = TestApp::new().await;
    app.register("traveller").await;
    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header("content-type", "application/json")
        .header("user-agent", "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36")
        .body(axum::body::Body::from(
            json!({ "identifier": "traveller", "password": PASSWORD, "rememberMe": true }).to_string(),
        ))
        .unwrap();
    let login = app.send(request).await;
    assert_eq!(login.status, StatusCode::OK);
    let refresh = login.body["refreshToken"].as_str().unwrap();
    let session_id = refresh.split('.').nth(1).unwrap();
    let items = app.all_items().await;
    let session =
        items.iter().find(|i| i["SK"].as_s().unwrap() == &format!("SESSION#{session_id}")).expect("the session item");
    assert_eq!(session["device"].as_m().unwrap()["platform"].as_s().unwrap(), "Android");
    assert_eq!(session["rememberMe"].as_bool().unwrap(), &true);
    let expires: i64 = session["expiresAt"].as_n().unwrap().parse().unwrap();
    let days = (expires - app.state.now().timestamp()) as f64 / 86400.0;
    assert!((29.9..=30.0).contains(&days), "remember-me sessions last 30 days, got {days}");
    assert!(session["expiryBucket"].as_s().unwrap().starts_with("EXP#"));
    // Only a hash of the refresh token is stored.
    let secret = refresh.split('.').nth(2).unwrap();
    assert!(!format!("{session:?}").contains(secret));
}

/// The `passwordHash` of the user item, then of the email and username claims.
async fn password_hashes(app: &TestApp, user_id: &str) -> Vec<Option<String>> {
    let items = app.all_items().await;
    let hash_of = |pk: &str, sk: &str| {
        items
            .iter()
            .find(|i| i["PK"].as_s().unwrap() == pk && i["SK"].as_s().unwrap() == sk)
            .and_then(|i| i.get("passwordHash"))
            .map(|v| v.as_s().unwrap().clone())
    };
    let email = items
        .iter()
        .find(|i| i["SK"].as_s().unwrap() == "EMAIL" && i["userId"].as_s().unwrap() == user_id)
        .map(|i| i["PK"].as_s().unwrap().clone())
        .unwrap();
    let username = items
        .iter()
        .find(|i| i["SK"].as_s().unwrap() == "USERNAME" && i["userId"].as_s().unwrap() == user_id)
        .map(|i| i["PK"].as_s().unwrap().clone())
        .unwrap();
    vec![hash_of(&format!("USER#{user_id}"), "PROFILE"), hash_of(&email, "EMAIL"), hash_of(&username, "USERNAME")]
}

/// Sets (or with `None` removes) the copy of the password hash on both claims.
async fn set_claim_hashes(app: &TestApp, email: &str, username: &str, hash: Option<&str>) {
    for claim in [keys::claim::email(email), keys::claim::username(username)] {
        match hash {
            Some(hash) => app.set_attributes(claim, &[("passwordHash", support::s(hash))]).await,
            None => app.remove_attributes(claim, &["passwordHash"]).await,
        }
    }
}

fn login_with(password: &str) -> serde_json::Value {
    json!({ "identifier": "claim_keeper", "password": password })
}

/// Sign-in starts argon2 on the hash the claim carries, so every write of the hash
/// writes both claims too; a claim that is behind, or has no hash, still gives the
/// account's answer.
#[tokio::test]
async fn claims_carry_the_current_password_hash() {
    let app = TestApp::new().await;
    let user = app.user("claim_keeper").await;
    let email = "claim_keeper@example.org";
    let at_sign_up = password_hashes(&app, &user.id).await;
    assert!(at_sign_up[0].is_some() && at_sign_up.iter().all(|h| *h == at_sign_up[0]), "{at_sign_up:?}");

    let body = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    assert_eq!(app.post_as(&user, "/api/auth/change-password", body).await.status, StatusCode::OK);
    let changed = password_hashes(&app, &user.id).await;
    assert!(changed.iter().all(|h| *h == changed[0]) && changed[0] != at_sign_up[0], "{changed:?}");

    // A claim still holding the old password's hash: the old password does not sign in.
    set_claim_hashes(&app, email, "claim_keeper", at_sign_up[0].as_deref()).await;
    assert_eq!(app.post("/api/auth/login", login_with(PASSWORD)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post("/api/auth/login", login_with(NEW_PASSWORD)).await.status, StatusCode::OK);

    // Claims without the hash (written before claims carried it) sign in too.
    set_claim_hashes(&app, email, "claim_keeper", None).await;
    assert_eq!(app.post("/api/auth/login", login_with(NEW_PASSWORD)).await.status, StatusCode::OK);

    // A hash with outdated parameters is replaced at sign-in, on all three items.
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8192, 1, 1, None).unwrap(),
    );
    let weak_hash = weak.hash_password(NEW_PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap().to_string();
    app.set_user_attribute(&user.id, "passwordHash", aws_sdk_dynamodb::types::AttributeValue::S(weak_hash.clone()))
        .await;
    assert_eq!(app.post("/api/auth/login", login_with(NEW_PASSWORD)).await.status, StatusCode::OK);
    let rehashed = password_hashes(&app, &user.id).await;
    assert!(rehashed.iter().all(|h| *h == rehashed[0]), "{rehashed:?}");
    assert!(rehashed[0].as_deref().is_some_and(|h| h != weak_hash && h.contains("m=19456")), "{rehashed:?}");
}

/// A sign-in whose stored hash needs new parameters writes the re-hash only over the
/// hash it verified: a reset that lands between its verification and its write wins.
#[tokio::test]
async fn a_rehash_never_writes_the_old_password_back_over_a_reset() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    // What a sign-in with the old password read and verified…
    let verified = app.state.store.users().user_by_id(&ada.id).await.unwrap().unwrap();
    let rehash = app.state.passwords.hash(PASSWORD.to_owned()).await.unwrap();
    // …then a reset…
    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let token = app.outbox_token("reset_password", &ada.id).await;
    let reset = app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": NEW_PASSWORD })).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    // …then the sign-in's write, with the re-hash of the old password.
    let now = app.state.now();
    let session_id = uuid::Uuid::new_v4().to_string();
    let session = support::session_record(&ada.id, &session_id, "unused".into(), verified.session_generation);
    let login = shared::store::LoginWrite {
        at: now,
        rehashed_password: Some(rehash),
        known_devices: None,
        device: app.new_device_put(&ada.id),
        event: app.sign_in_event_put(&ada.id),
        extra: vec![],
    };
    let written = app.state.store.users().record_login(&verified, &session, login).await.unwrap();
    assert!(!written, "the sign-in's write is refused: the password changed since it was verified");

    assert_eq!(app.login_with("ada", NEW_PASSWORD).await.status, StatusCode::OK, "the reset's password stands");
    let old = app.post("/api/auth/login", json!({ "identifier": "ada", "password": PASSWORD })).await;
    assert_eq!(old.error_code(), "INVALID_CREDENTIALS", "the old password did not come back");
    let by_email = app.post("/api/auth/login", json!({ "identifier": "ada@example.org", "password": PASSWORD })).await;
    assert_eq!(by_email.error_code(), "INVALID_CREDENTIALS", "nor on the claims' copies");
}
