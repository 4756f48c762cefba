//! Passkeys end to end, with a software authenticator (`support::passkey`: real CBOR,
//! real ES256/RS256 signatures) in place of the browser: registration, usernameless
//! sign-in, the second factor after a password, and each way an answer must fail.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use support::passkey::SoftPasskey;
use support::{TestApp, TestResponse, User};

/// Adds `key` to `user`'s account: options, the authenticator, the response.
async fn add_passkey(app: &TestApp, user: &User, key: &mut SoftPasskey) -> TestResponse {
    let options = app.post_as(user, "/api/auth/passkeys/register/options", json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{:?}", options.body);
    let credential = key.create(&options.body["publicKey"]);
    let body = json!({ "challengeId": options.body["challengeId"], "credential": credential });
    app.post_as(user, "/api/auth/passkeys/register", body).await
}

async fn added(app: &TestApp, user: &User, key: &mut SoftPasskey) -> Value {
    let response = add_passkey(app, user, key).await;
    assert_eq!(response.status, StatusCode::CREATED, "{:?}", response.body);
    response.body
}

/// The options of a usernameless sign-in.
async fn login_options(app: &TestApp) -> Value {
    let options = app.post("/api/auth/passkeys/login/options", json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{:?}", options.body);
    options.body
}

async fn login_answer(app: &TestApp, options: &Value, answer: Value) -> TestResponse {
    app.post("/api/auth/passkeys/login", json!({ "challengeId": options["challengeId"], "credential": answer })).await
}

async fn passkey_login(app: &TestApp, key: &mut SoftPasskey) -> TestResponse {
    let options = login_options(app).await;
    let answer = key.get(&options["publicKey"]);
    login_answer(app, &options, answer).await
}

async fn events(app: &TestApp, token: &str) -> Vec<String> {
    let list = app.get("/api/auth/security-events", Some(token)).await;
    let items = list.body["items"].as_array().unwrap().iter();
    items.map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_registered_passkey_signs_in_without_a_username_at_aal2() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();

    let options = app.post_as(&user, "/api/auth/passkeys/register/options", json!({})).await;
    let public_key = &options.body["publicKey"];
    // The JSON form parseCreationOptionsFromJSON() takes: discoverable, UV required, no attestation.
    assert_eq!(public_key["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(public_key["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(public_key["rp"]["id"], "localhost");
    let handle = public_key["user"]["id"].as_str().unwrap();
    assert_eq!(base64_len(handle), 32, "a 32-byte user handle");
    assert!(!handle.contains(&user.id) && public_key["user"]["name"] == "ada");
    let algs: Vec<i64> =
        public_key["pubKeyCredParams"].as_array().unwrap().iter().map(|p| p["alg"].as_i64().unwrap()).collect();
    assert!(algs.contains(&-7) && algs.contains(&-257), "{algs:?}");
    let credential = key.create(public_key);
    let body = json!({ "challengeId": options.body["challengeId"], "credential": credential, "name": "My laptop" });
    let registered = app.post_as(&user, "/api/auth/passkeys/register", body).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    assert_eq!(registered.body["name"], "My laptop");
    assert_eq!(registered.body["backedUp"], true);
    assert_eq!(registered.body["transports"], json!(["internal", "hybrid"]));

    let options = login_options(&app).await;
    assert!(options["publicKey"].get("allowCredentials").is_none(), "{:?}", options["publicKey"]);
    let answer = key.get(&options["publicKey"]);
    let signed_in = login_answer(&app, &options, answer).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], user.id.as_str());
    assert!(signed_in.body["deviceToken"].is_string());
    let claims = app.claims(signed_in.body["accessToken"].as_str().unwrap());
    assert_eq!(serde_json::to_value(claims.aal).unwrap(), "aal2");
    assert_eq!(claims.amr, ["pop", "mfa"]);

    let access = signed_in.body["accessToken"].as_str().unwrap();
    let list = app.get("/api/auth/passkeys", Some(access)).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], registered.body["id"]);
    assert!(items[0]["lastUsedAt"].is_string(), "the sign-in is its last use");
    let history = events(&app, access).await;
    assert!(history.contains(&"passkey_added".to_owned()) && history[0] == "sign_in", "{history:?}");
    // The account now asks a password sign-in for a second factor.
    assert_eq!(app.get("/api/auth/me", Some(access)).await.body["mfaEnabled"], true);
    let status = app.get("/api/auth/mfa", Some(access)).await;
    assert_eq!((status.body["enabled"].clone(), status.body["passkeys"].clone()), (json!(true), json!(1)));
    // The owner heard of it, with the link that undoes it.
    let notice = app.outbox().await.into_iter().find(|m| m.data.get("change").is_some_and(|c| c == "passkey_added"));
    let notice = notice.expect("a passkey_added notice");
    assert!(notice.data.contains_key("token") && notice.data["name"] == "My laptop");
}

fn base64_len(text: &str) -> usize {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap().len()
}

#[tokio::test]
async fn an_rs256_passkey_without_a_counter_signs_in_more_than_once() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::rs256();
    added(&app, &user, &mut key).await;
    for _ in 0..2 {
        let signed_in = passkey_login(&app, &mut key).await;
        assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    }
}

#[tokio::test]
async fn after_a_password_a_passkey_is_the_second_factor() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;

    let login = app.login("ada").await;
    assert_eq!(login.body["mfaRequired"], true, "{:?}", login.body);
    assert_eq!(login.body["methods"], json!(["passkey"]));
    let mfa_token = login.body["mfaToken"].as_str().unwrap();
    let options = app.post("/api/auth/mfa/passkey/options", json!({ "mfaToken": mfa_token })).await;
    assert_eq!(options.status, StatusCode::OK, "{:?}", options.body);
    let allowed = options.body["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    let answer = key.get(&options.body["publicKey"]);
    let passkey = json!({ "passkey": { "challengeId": options.body["challengeId"], "credential": answer } });
    let verified = app.verify(mfa_token, passkey.clone()).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    let claims = app.claims(verified.body["accessToken"].as_str().unwrap());
    assert_eq!(claims.amr, ["pwd", "pop"]);
    assert_eq!(serde_json::to_value(claims.aal).unwrap(), "aal2");
    // The answer and its challenge are used up.
    let again = app.verify(mfa_token, passkey).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{:?}", again.body);

    // A code and a passkey at once is no answer.
    let login = app.login("ada").await;
    let both = json!({ "code": "123456", "passkey": { "challengeId": "x", "credential": {} } });
    let refused = app.verify(login.body["mfaToken"].as_str().unwrap(), both).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{:?}", refused.body);
}

#[tokio::test]
async fn a_second_factor_ceremony_answers_only_its_own_sign_in_and_account() {
    let app = TestApp::new().await;
    let (ada, bob) = (app.user("ada").await, app.user("bob").await);
    let (mut ada_key, mut bob_key) = (SoftPasskey::es256(), SoftPasskey::es256());
    added(&app, &ada, &mut ada_key).await;
    added(&app, &bob, &mut bob_key).await;
    let ada_token = app.login("ada").await.body["mfaToken"].as_str().unwrap().to_owned();
    let bob_token = app.login("bob").await.body["mfaToken"].as_str().unwrap().to_owned();
    let options = app.post("/api/auth/mfa/passkey/options", json!({ "mfaToken": ada_token })).await;

    // Bob's passkey answering the ceremony of Ada's sign-in: another account's credential.
    let answer = bob_key.get(&options.body["publicKey"]);
    let passkey = json!({ "passkey": { "challengeId": options.body["challengeId"], "credential": answer } });
    assert_eq!(app.verify(&ada_token, passkey).await.status, StatusCode::UNAUTHORIZED);

    // Ada's answer to her ceremony, sent with Bob's mfaToken: the ceremony is Ada's.
    let options = app.post("/api/auth/mfa/passkey/options", json!({ "mfaToken": ada_token })).await;
    let answer = ada_key.get(&options.body["publicKey"]);
    let passkey = json!({ "passkey": { "challengeId": options.body["challengeId"], "credential": answer } });
    assert_eq!(app.verify(&bob_token, passkey).await.status, StatusCode::UNAUTHORIZED);

    // An unknown token gets no ceremony.
    let forged = app.post("/api/auth/mfa/passkey/options", json!({ "mfaToken": format!("{}.AAAA", ada.id) })).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn answers_from_another_origin_rp_or_without_user_verification_are_refused() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;

    // Registration: each broken key is refused, and adds nothing.
    for broken in [
        |k: &mut SoftPasskey| k.origin = "https://evil.example".into(),
        |k: &mut SoftPasskey| k.rp_id = "evil.example".into(),
        |k: &mut SoftPasskey| k.user_verified = false,
    ] {
        let mut key = SoftPasskey::es256();
        broken(&mut key);
        let refused = add_passkey(&app, &user, &mut key).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);
        assert_eq!(refused.error_code(), "INVALID_CREDENTIALS");
    }
    assert_eq!(app.get_as(&user, "/api/auth/passkeys").await.body["items"], json!([]));

    // Sign-in: a good key, then each of the same breakages.
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;
    for broken in [
        |k: &mut SoftPasskey| k.origin = "http://localhost:3001".into(),
        |k: &mut SoftPasskey| k.rp_id = "example.com".into(),
        |k: &mut SoftPasskey| k.user_verified = false,
    ] {
        let (origin, rp_id) = (key.origin.clone(), key.rp_id.clone());
        broken(&mut key);
        let refused = passkey_login(&app, &mut key).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);
        assert_eq!(refused.error_code(), "INVALID_CREDENTIALS");
        (key.origin, key.rp_id, key.user_verified) = (origin, rp_id, true);
    }
    assert_eq!(passkey_login(&app, &mut key).await.status, StatusCode::OK, "the key itself still works");
}

#[tokio::test]
async fn a_challenge_is_single_use_and_bound_to_its_purpose() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;

    // Replayed: the same answer twice.
    let options = login_options(&app).await;
    let answer = key.get(&options["publicKey"]);
    let signed_in = login_answer(&app, &options, answer.clone()).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    assert_eq!(login_answer(&app, &options, answer).await.status, StatusCode::UNAUTHORIZED);

    // A registration's challenge answered as a sign-in.
    let access = signed_in.body["accessToken"].as_str().unwrap();
    let registration =
        app.call(Method::POST, "/api/auth/passkeys/register/options", Some(json!({})), Some(access)).await;
    let answer = key.answer(registration.body["publicKey"]["challenge"].as_str().unwrap());
    let refused = login_answer(&app, &registration.body, answer).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);

    // A sign-in's answer for another challenge than its ceremony's.
    let (first, second) = (login_options(&app).await, login_options(&app).await);
    let answer = key.get(&first["publicKey"]);
    assert_eq!(login_answer(&app, &second, answer).await.status, StatusCode::UNAUTHORIZED);

    // Five minutes on, a ceremony is over.
    let options = login_options(&app).await;
    app.advance(chrono::Duration::seconds(301));
    let answer = key.get(&options["publicKey"]);
    assert_eq!(login_answer(&app, &options, answer).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_counter_that_goes_back_refuses_the_sign_in_and_tells_the_owner() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;
    assert_eq!(passkey_login(&app, &mut key).await.status, StatusCode::OK);
    // A clone made before that sign-in: its counter is behind.
    key.counter -= 1;
    let refused = passkey_login(&app, &mut key).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{:?}", refused.body);
    let notices = app.outbox().await;
    let cloned = notices.iter().find(|m| m.data.get("change").is_some_and(|c| c == "passkey_cloned"));
    assert!(cloned.is_some_and(|m| m.user_id == user.id), "a notice to the owner");
    let history = events(&app, &user.token).await;
    assert_eq!(history[0], "sign_in_failed", "{history:?}");
}

#[tokio::test]
async fn unknown_deleted_and_foreign_credentials_get_the_same_401() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let mut stranger = SoftPasskey::es256();
    stranger.user_handle = vec![7; 32];
    let unknown = passkey_login(&app, &mut stranger).await;
    assert_eq!((unknown.status, unknown.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"));

    let mut key = SoftPasskey::es256();
    let passkey = added(&app, &user, &mut key).await;
    // Deleting needs a session that passed the second factor: the password session did not.
    let path = format!("/api/auth/passkeys/{}", passkey["id"].as_str().unwrap());
    let refused = app.call(Method::DELETE, &path, None, Some(&user.token)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert_eq!(refused.error_code(), "MFA_REQUIRED");
    let signed_in = passkey_login(&app, &mut key).await;
    let access = signed_in.body["accessToken"].as_str().unwrap();
    let deleted = app.call(Method::DELETE, &path, None, Some(access)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_eq!(app.call(Method::DELETE, &path, None, Some(access)).await.status, StatusCode::NOT_FOUND);
    let gone = passkey_login(&app, &mut key).await;
    assert_eq!((gone.status, gone.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"));
    assert!(events(&app, access).await.contains(&"passkey_removed".to_owned()));
    assert!(app.outbox().await.iter().any(|m| m.data.get("change").is_some_and(|c| c == "passkey_removed")));
    // With no passkey left, the password alone signs in again.
    assert!(app.login("ada").await.body["accessToken"].is_string());

    // Another account's user handle on this account's credential.
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;
    key.user_handle = vec![9; 32];
    assert_eq!(passkey_login(&app, &mut key).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_credential_belongs_to_one_account_and_an_account_holds_ten() {
    let app = TestApp::new().await;
    let (ada, bob) = (app.user("ada").await, app.user("bob").await);
    let mut key = SoftPasskey::es256();
    added(&app, &ada, &mut key).await;
    // The same credential id, registered to another account.
    let adas_handle = key.user_handle.clone();
    let taken = add_passkey(&app, &bob, &mut key).await;
    key.user_handle = adas_handle;
    assert_eq!((taken.status, taken.error_code()), (StatusCode::CONFLICT, "CONFLICT"), "{:?}", taken.body);
    // With a passkey on, adding more needs a session that passed a second factor.
    let refused = app.post_as(&ada, "/api/auth/passkeys/register/options", json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let signed_in = passkey_login(&app, &mut key).await;
    let ada = User { token: signed_in.body["accessToken"].as_str().unwrap().to_owned(), ..ada };
    // The account's own passkeys are excluded from a registration.
    let options = app.post_as(&ada, "/api/auth/passkeys/register/options", json!({})).await;
    assert_eq!(options.body["publicKey"]["excludeCredentials"].as_array().unwrap().len(), 1);
    for _ in 1..10 {
        added(&app, &ada, &mut SoftPasskey::es256()).await;
    }
    let full = app.post_as(&ada, "/api/auth/passkeys/register/options", json!({})).await;
    assert_eq!(full.status, StatusCode::CONFLICT, "{:?}", full.body);
    assert_eq!(app.get_as(&ada, "/api/auth/passkeys").await.body["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn a_password_session_cannot_add_a_passkey_once_a_second_factor_is_on() {
    let app = TestApp::new().await;
    let enrolled = app.enrolled("ada").await;
    let aal1 = app.aal1_session(&enrolled.user).await;
    let refused = app.call(Method::POST, "/api/auth/passkeys/register/options", Some(json!({})), Some(&aal1)).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::FORBIDDEN, "MFA_REQUIRED"));
    // The session that passed the factor may; then login offers both.
    added(&app, &enrolled.user, &mut SoftPasskey::es256()).await;
    let login = app.login("ada").await;
    assert_eq!(login.body["methods"], json!(["totp", "recovery_code", "passkey"]));
}

#[tokio::test]
async fn passkeys_are_renamed_and_bad_input_is_a_400() {
    let app = TestApp::new().await;
    let user = app.user("ada").await;
    let passkey = added(&app, &user, &mut SoftPasskey::es256()).await;
    let path = format!("/api/auth/passkeys/{}", passkey["id"].as_str().unwrap());
    let renamed = app.call(Method::PATCH, &path, Some(json!({ "name": "  Work key " })), Some(&user.token)).await;
    assert_eq!((renamed.status, renamed.body["name"].clone()), (StatusCode::OK, json!("Work key")));
    let empty = app.call(Method::PATCH, &path, Some(json!({ "name": " " })), Some(&user.token)).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let other = format!("/api/auth/passkeys/{}", uuid::Uuid::new_v4());
    let missing = app.call(Method::PATCH, &other, Some(json!({ "name": "x" })), Some(&user.token)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for body in [
        json!({}),
        json!({ "challengeId": "x", "credential": "not an object" }),
        json!({ "challengeId": "x", "credential": { "id": 1 } }),
    ] {
        let bad = app.post("/api/auth/passkeys/login", body.clone()).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}: {:?}", bad.body);
        let bad = app.post_as(&user, "/api/auth/passkeys/register", body.clone()).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}: {:?}", bad.body);
    }
    let no_token = app.post("/api/auth/mfa/passkey/options", json!({})).await;
    assert_eq!(no_token.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn passkey_sign_in_is_rate_limited_per_address_and_per_credential() {
    let app =
        TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "2/3600"), ("RATE_LIMIT_LOGIN_PER_IP", "100/3600")])
            .await;
    app.clear_of_window_end(3600, 600);
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;
    for _ in 0..2 {
        assert_eq!(passkey_login(&app, &mut key).await.status, StatusCode::OK);
    }
    let limited = passkey_login(&app, &mut key).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", limited.body);
}

#[tokio::test]
async fn exports_list_passkeys_and_the_purge_erases_them_with_their_claims() {
    let app = TestApp::new().await.with_export_bucket().await;
    let user = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &user, &mut key).await;
    let signed_in = passkey_login(&app, &mut key).await;
    let user = User { token: signed_in.body["accessToken"].as_str().unwrap().to_owned(), ..user };

    let asked = app.call(Method::POST, "/api/users/me/export", None, Some(&user.token)).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let export_id = asked.body["exportId"].as_str().unwrap();
    app.build_export(&user.id, export_id).await;
    let ready = app.get_as(&user, &format!("/api/users/me/exports/{export_id}")).await;
    let (_, document) = support::http_json(Method::GET, ready.body["downloadUrl"].as_str().unwrap(), None).await;
    let passkeys = document["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1, "{document}");
    assert!(passkeys[0]["name"].is_string() && passkeys[0].get("credential").is_none(), "no key material");

    let gone = app.post_as(&user, "/api/users/deactivate", json!({ "password": support::PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    app.advance(chrono::Duration::days(31));
    let cutoff = app.state.now() - chrono::Duration::days(30);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let report = app.state.store.purge().purge_deleted_accounts(cutoff, deadline, app.state.bucket.as_deref()).await;
    assert_eq!(report.unwrap().accounts_deleted, 1);
    let left = support::keys_of(&app.all_items().await);
    assert!(!left.iter().any(|(pk, sk)| sk.starts_with("PASSKEY#") || pk.starts_with("CREDENTIAL#")), "{left:?}");
    // Its credential id is free again: the same authenticator can join another account.
    let other = app.user("grace").await;
    assert_eq!(add_passkey(&app, &other, &mut key).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn securing_the_account_removes_a_passkey_a_thief_added() {
    let app = TestApp::new().await;
    app.freeze();
    let owner = app.user("owner").await;
    // The thief has the password and adds a passkey of their own.
    let thief =
        User { token: app.login("owner").await.body["accessToken"].as_str().unwrap().to_owned(), ..owner.clone() };
    app.advance(chrono::Duration::seconds(30));
    let mut thiefs_key = SoftPasskey::es256();
    added(&app, &thief, &mut thiefs_key).await;
    assert_eq!(passkey_login(&app, &mut thiefs_key).await.status, StatusCode::OK);

    // The owner follows the notice's "this wasn't me" link.
    let notices = app.outbox().await;
    let notice = notices.iter().find(|m| m.data.get("change").is_some_and(|c| c == "passkey_added")).unwrap();
    let body = json!({ "token": notice.data["token"], "newPassword": support::NEW_PASSWORD });
    let secured = app.post("/api/auth/secure-account", body).await;
    assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
    assert_eq!(secured.body["details"]["passkeysRemoved"], 1);
    assert_eq!(secured.body["user"]["mfaEnabled"], false);
    let access = secured.body["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/api/auth/passkeys", Some(access)).await.body["items"], json!([]));
    let refused = passkey_login(&app, &mut thiefs_key).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "the thief's passkey no longer signs in");
    // The password alone signs the owner in: no second factor is left.
    let login = app.login_with("owner", support::NEW_PASSWORD).await;
    assert!(login.body["accessToken"].is_string(), "{:?}", login.body);
}

#[tokio::test]
async fn a_passkey_reactivates_its_deactivated_account_at_aal2() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let mut key = SoftPasskey::es256();
    added(&app, &ada, &mut key).await;
    let signed_in = passkey_login(&app, &mut key).await;
    let ada = User { token: signed_in.body["accessToken"].as_str().unwrap().to_owned(), ..ada };
    let gone = app.post_as(&ada, "/api/users/deactivate", json!({ "password": support::PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);

    let offered = passkey_login(&app, &mut key).await;
    assert_eq!(
        (offered.status, offered.error_code()),
        (StatusCode::FORBIDDEN, "ACCOUNT_DEACTIVATED"),
        "{:?}",
        offered.body
    );
    let token = offered.body["error"]["reactivationToken"].as_str().unwrap();
    let back = app.post("/api/auth/reactivate", json!({ "reactivationToken": token })).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    let claims = app.claims(back.body["accessToken"].as_str().unwrap());
    assert_eq!(serde_json::to_value(claims.aal).unwrap(), "aal2", "the passkey was the second factor");
    assert_eq!(claims.amr, ["pop", "mfa"]);
    assert_eq!(app.get("/api/users/by-username/ada", None).await.status, StatusCode::OK, "active again");
    // The offering sign-in counted as the passkey's use: a clone behind it is refused.
    key.counter -= 1;
    assert_eq!(passkey_login(&app, &mut key).await.status, StatusCode::UNAUTHORIZED);
}
