//! Email verification, password reset and the outbox, end to end through the routers,
//! reading the tokens from the outbox items as the notification service would.

use http::{Method, StatusCode};
use serde_json::json;
use support::{tokens_of, TestApp, NEW_PASSWORD, PASSWORD};

fn hash(token: &str) -> String {
    shared::domain::hash_secret(token)
}

async fn expire_token(app: &TestApp, token: &str, sk: &str) {
    let token = shared::store::keys::token::key(&hash(token), sk);
    app.set_attributes(token, &[("expiresAt", support::n(app.state.now().timestamp() - 1))]).await;
}

#[tokio::test]
async fn registration_sends_a_verification_that_works_once() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let messages = app.outbox().await;
    assert_eq!(messages.len(), 1);
    assert_eq!((messages[0].kind.as_str(), messages[0].to.as_str()), ("verify_email", "ada@example.org"));
    assert_eq!(messages[0].data.keys().collect::<Vec<_>>(), ["token"], "the link is built at delivery");
    let token = app.outbox_token("verify_email", &ada.id).await;

    let verified = app.post("/api/auth/verify-email", json!({ "token": token })).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["isVerified"], true);
    assert_eq!(verified.body["email"], "ada@example.org");
    assert_eq!(app.get_as(&ada, "/api/auth/me").await.body["isVerified"], true);
    let again = app.post("/api/auth/verify-email", json!({ "token": token })).await;
    assert_eq!((again.status, again.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
    let bob = app.user("bob").await;
    let report = app.post_as(&ada, "/api/social/report", json!({ "userId": bob.id, "reason": "spam" })).await;
    assert_eq!(report.status, StatusCode::CREATED, "verified users may report");

    for bad in [json!({ "token": "made-up" }), json!({ "token": "" })] {
        let response = app.post("/api/auth/verify-email", bad.clone()).await;
        assert!(response.status == StatusCode::UNAUTHORIZED || response.status == StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn verification_tokens_expire_and_a_new_one_replaces_the_old() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let first = app.outbox_token("verify_email", &ada.id).await;
    let resend = app.call(Method::POST, "/api/auth/resend-verification", None, Some(&ada.token)).await;
    assert_eq!((resend.status, resend.body.clone()), (StatusCode::ACCEPTED, json!({})));
    let second = app.outbox_token("verify_email", &ada.id).await;
    assert_ne!(first, second);
    assert_eq!(app.post("/api/auth/verify-email", json!({ "token": first })).await.error_code(), "INVALID_TOKEN");

    expire_token(&app, &second, "VERIFY").await;
    assert_eq!(app.post("/api/auth/verify-email", json!({ "token": second })).await.error_code(), "INVALID_TOKEN");
    app.call(Method::POST, "/api/auth/resend-verification", None, Some(&ada.token)).await;
    let third = app.outbox_token("verify_email", &ada.id).await;
    assert_eq!(app.post("/api/auth/verify-email", json!({ "token": third })).await.status, StatusCode::OK);

    let before = app.outbox().await.len();
    let resend = app.call(Method::POST, "/api/auth/resend-verification", None, Some(&ada.token)).await;
    assert_eq!(resend.status, StatusCode::ACCEPTED);
    assert_eq!(app.outbox().await.len(), before, "a verified email gets no more verification messages");
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_unknown_emails_and_writes_nothing() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let not_rate = |keys: Vec<(String, String)>| -> Vec<(String, String)> {
        keys.into_iter().filter(|(pk, _)| !pk.starts_with("RATE#")).collect()
    };
    let before = not_rate(support::keys_of(&app.all_items().await));
    let unknown = app.post("/api/auth/forgot-password", json!({ "email": "nobody@example.org" })).await;
    let after = not_rate(support::keys_of(&app.all_items().await));
    assert_eq!(before, after, "an unknown email writes nothing but rate-limit counts");
    let known = app.post("/api/auth/forgot-password", json!({ "email": "ADA@example.org" })).await;
    assert_eq!((unknown.status, unknown.body.clone()), (StatusCode::ACCEPTED, json!({})));
    assert_eq!((known.status, known.body.clone()), (unknown.status, unknown.body.clone()));
    let resets: Vec<_> = app.outbox().await.into_iter().filter(|m| m.kind == "reset_password").collect();
    assert_eq!(resets.len(), 1, "only the known account got a message");
    assert_eq!(resets[0].user_id, ada.id);
    assert_eq!(resets[0].data["token"].len(), 43, "256 random bits, URL-safe base64");
    let malformed = app.post("/api/auth/forgot-password", json!({ "email": "not-an-email" })).await;
    assert_eq!(malformed.detail_fields(), ["email"]);
}

#[tokio::test]
async fn a_reset_sets_the_password_once_and_ends_every_session() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let (_, refresh) = tokens_of(&app.login("ada").await);
    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let token = app.outbox_token("reset_password", &ada.id).await;

    let weak = app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": "password1234" })).await;
    assert_eq!(weak.detail_fields(), ["newPassword"], "a weak password does not spend the token");
    let missing = app.post("/api/auth/reset-password", json!({})).await;
    assert_eq!(missing.detail_fields(), ["token", "newPassword"]);

    let reset = app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": NEW_PASSWORD })).await;
    assert_eq!((reset.status, reset.body.clone()), (StatusCode::OK, json!({})));
    assert_eq!(app.refresh(&refresh).await.error_code(), "INVALID_TOKEN", "every session ended");
    assert_eq!(app.get_as(&ada, "/api/auth/sessions").await.status, StatusCode::UNAUTHORIZED);
    let again = app
        .post("/api/auth/reset-password", json!({ "token": token, "newPassword": "another-fine-passphrase-77" }))
        .await;
    assert_eq!((again.status, again.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
    assert_eq!(app.login("ada").await.error_code(), "INVALID_CREDENTIALS");
    let login = app.post("/api/auth/login", json!({ "identifier": "ada", "password": NEW_PASSWORD })).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(app.outbox().await.iter().any(|m| m.kind == "password_changed" && m.user_id == ada.id));
    let sessions = support::keys_of(&app.all_items().await);
    assert_eq!(sessions.iter().filter(|(_, sk)| sk.starts_with("SESSION#")).count(), 1, "only the new login's session");
}

#[tokio::test]
async fn reset_tokens_expire_and_die_with_any_password_change() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let expired = app.outbox_token("reset_password", &ada.id).await;
    expire_token(&app, &expired, "RESET").await;
    let response = app.post("/api/auth/reset-password", json!({ "token": expired, "newPassword": NEW_PASSWORD })).await;
    assert_eq!(response.error_code(), "INVALID_TOKEN");

    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let stale = app.outbox_token("reset_password", &ada.id).await;
    let change = app
        .call(
            Method::POST,
            "/api/auth/change-password",
            Some(json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD })),
            Some(&ada.token),
        )
        .await;
    assert_eq!(change.status, StatusCode::OK);
    let response = app
        .post("/api/auth/reset-password", json!({ "token": stale, "newPassword": "another-fine-passphrase-77" }))
        .await;
    assert_eq!(response.error_code(), "INVALID_TOKEN", "a token issued before a password change is dead");
}

#[tokio::test]
async fn forgot_password_is_rate_limited_per_email_and_per_address() {
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_FORGOT_PASSWORD_PER_EMAIL", "2/60"),
        ("RATE_LIMIT_FORGOT_PASSWORD_PER_IP", "3/60"),
    ])
    .await;
    app.clear_of_window_end(60, 20);
    for _ in 0..2 {
        assert_eq!(
            app.post_from("198.51.100.1", "/api/auth/forgot-password", json!({ "email": "a@example.org" }))
                .await
                .status,
            StatusCode::ACCEPTED
        );
    }
    let per_email =
        app.post_from("198.51.100.2", "/api/auth/forgot-password", json!({ "email": "A@example.org" })).await;
    assert_eq!(per_email.error_code(), "RATE_LIMITED");
    assert_eq!(
        app.post_from("198.51.100.1", "/api/auth/forgot-password", json!({ "email": "b@example.org" })).await.status,
        StatusCode::ACCEPTED
    );
    let per_ip = app.post_from("198.51.100.1", "/api/auth/forgot-password", json!({ "email": "c@example.org" })).await;
    assert_eq!(per_ip.error_code(), "RATE_LIMITED");
    assert!(per_ip.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn security_notices_go_through_the_outbox() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let count = |messages: &[support::Outboxed], kind: &str| messages.iter().filter(|m| m.kind == kind).count();

    assert_eq!(app.login("ada").await.status, StatusCode::OK);
    assert_eq!(count(&app.outbox().await, "new_sign_in"), 0, "the device that signed up is known");
    let from_phone = support::post_from_phone("/api/auth/login", json!({ "identifier": "ada", "password": PASSWORD }));
    assert_eq!(app.send(from_phone).await.status, StatusCode::OK);
    let messages = app.outbox().await;
    assert_eq!(count(&messages, "new_sign_in"), 1);
    let notice = messages.iter().find(|m| m.kind == "new_sign_in").unwrap();
    assert!(notice.data["device"].contains("iOS"), "{:?}", notice.data);

    app.call(
        Method::POST,
        "/api/auth/change-password",
        Some(json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD })),
        Some(&ada.token),
    )
    .await;
    assert_eq!(count(&app.outbox().await, "password_changed"), 1);

    let app2 = TestApp::with_env(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    let bob = app2.user("bob").await;
    let (_, stolen) = tokens_of(&app2.login("bob").await);
    app2.refresh(&stolen).await;
    app2.advance(chrono::Duration::seconds(1));
    app2.refresh(&stolen).await;
    let reuse: Vec<_> = app2.outbox().await.into_iter().filter(|m| m.kind == "refresh_token_reuse").collect();
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].user_id, bob.id);

    let deactivate = app2.post_as(&bob, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!(deactivate.status, StatusCode::OK);
    assert_eq!(count(&app2.outbox().await, "account_deactivated"), 1);
}
