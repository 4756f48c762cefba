//! Changing the email address: a token to the new address, notices to the old, and the
//! atomic swap of the two claims.

use futures::future::join_all;
use http::StatusCode;
use serde_json::json;
use support::{TestApp, User, PASSWORD};

async fn request_change(app: &TestApp, user: &User, new_email: &str) -> support::TestResponse {
    app.post_as(user, "/api/auth/change-email", json!({ "newEmail": new_email, "password": PASSWORD })).await
}

async fn confirm(app: &TestApp, token: &str) -> support::TestResponse {
    app.post("/api/auth/confirm-email-change", json!({ "token": token })).await
}

fn messages_to(outbox: &[support::Outboxed], kind: &str) -> Vec<String> {
    outbox.iter().filter(|m| m.kind == kind).map(|m| m.to.clone()).collect()
}

#[tokio::test]
async fn the_new_address_counts_only_once_confirmed_and_the_old_one_is_free_again() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let wrong = app
        .post_as(
            &ada,
            "/api/auth/change-email",
            json!({ "newEmail": "ada@new.example", "password": "not-the-password-at-all" }),
        )
        .await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    let same = request_change(&app, &ada, "ADA@example.org").await;
    assert_eq!((same.status, same.detail_fields()), (StatusCode::BAD_REQUEST, vec!["newEmail".to_owned()]));
    let malformed = request_change(&app, &ada, "not-an-address").await;
    assert_eq!(malformed.detail_fields(), vec!["newEmail"]);

    let asked = request_change(&app, &ada, "Ada@New.example").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let me = app.get_as(&ada, "/api/auth/me").await;
    assert_eq!(
        (me.body["email"].clone(), me.body["pendingEmail"].clone()),
        (json!("ada@example.org"), json!("ada@new.example"))
    );
    let outbox = app.outbox().await;
    assert_eq!(messages_to(&outbox, "confirm_email_change"), vec!["ada@new.example"]);
    assert_eq!(messages_to(&outbox, "email_change_requested"), vec!["ada@example.org"]);
    let notice = outbox.iter().find(|m| m.kind == "email_change_requested").unwrap();
    assert_eq!(notice.data["newEmail"], "ada@new.example");
    assert_eq!(app.login("ada@example.org").await.status, StatusCode::OK, "the current address still signs in");
    assert_eq!(app.login("ada@new.example").await.error_code(), "INVALID_CREDENTIALS");

    let token = app.outbox_token("confirm_email_change", &ada.id).await;
    let confirmed = confirm(&app, &token).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(confirmed.body, json!({ "email": "ada@new.example" }), "the address alone, not the account");
    let me = app.get_as(&ada, "/api/auth/sessions").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "an anonymous confirmation ends every session");
    let ada = User { token: support::tokens_of(&app.login("ada@new.example").await).0, ..ada };
    let me = app.get_as(&ada, "/api/auth/me").await;
    assert_eq!((me.body["isVerified"].clone(), me.body["pendingEmail"].clone()), (json!(true), json!(null)));
    let outbox = app.outbox().await;
    assert_eq!(messages_to(&outbox, "email_changed"), vec!["ada@example.org"], "the old address is told");
    assert_eq!(app.login("ada@new.example").await.status, StatusCode::OK);
    assert_eq!(app.login("ada@example.org").await.error_code(), "INVALID_CREDENTIALS");
    assert_eq!(confirm(&app, &token).await.error_code(), "INVALID_TOKEN", "single use");
    // The old address is free again.
    app.post(
        "/api/auth/register",
        json!({ "username": "ada2", "email": "ada@example.org", "password": PASSWORD, "agreeToTerms": true }),
    )
    .await;
    assert_eq!(app.login("ada2").await.status, StatusCode::OK);
}

/// The security review: confirming answers the address alone and ends the account's
/// other sessions; a live session of the account that sends the confirmation stays.
#[tokio::test]
async fn confirming_ends_every_other_session_and_keeps_the_callers() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let (_, other_refresh) = support::tokens_of(&app.login("ada").await);
    assert_eq!(request_change(&app, &ada, "ada@new.example").await.status, StatusCode::ACCEPTED);
    let token = app.outbox_token("confirm_email_change", &ada.id).await;
    let confirmed = app
        .call(http::Method::POST, "/api/auth/confirm-email-change", Some(json!({ "token": token })), Some(&ada.token))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    assert_eq!(confirmed.body, json!({ "email": "ada@new.example" }));
    assert_eq!(app.refresh(&other_refresh).await.status, StatusCode::UNAUTHORIZED, "the other session ended");
    let sessions = app.get_as(&ada, "/api/auth/sessions").await;
    assert_eq!(sessions.status, StatusCode::OK, "the confirming session stays: {:?}", sessions.body);
    assert_eq!(sessions.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_new_request_replaces_the_old_and_a_taken_address_is_refused() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    app.user("grace").await;
    let taken = request_change(&app, &ada, "grace@example.org").await;
    assert_eq!((taken.status, taken.error_code()), (StatusCode::CONFLICT, "EMAIL_TAKEN"));
    request_change(&app, &ada, "first@new.example").await;
    let first = app.outbox_token("confirm_email_change", &ada.id).await;
    request_change(&app, &ada, "second@new.example").await;
    assert_eq!(confirm(&app, &first).await.error_code(), "INVALID_TOKEN", "replaced");
    let second = app.outbox_token("confirm_email_change", &ada.id).await;
    assert_eq!(confirm(&app, &second).await.body["email"], "second@new.example");
}

#[tokio::test]
async fn two_accounts_confirming_one_address_at_once_end_with_one_owner() {
    let app = TestApp::new().await;
    let (ada, grace) = (app.user("ada").await, app.user("grace").await);
    request_change(&app, &ada, "shared@new.example").await;
    request_change(&app, &grace, "shared@new.example").await;
    let tokens = [
        app.outbox_token("confirm_email_change", &ada.id).await,
        app.outbox_token("confirm_email_change", &grace.id).await,
    ];
    let answers = join_all(tokens.iter().map(|t| confirm(&app, t))).await;
    let mut statuses: Vec<_> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::CONFLICT], "{answers:?}");
    let loser = answers.iter().find(|a| a.status == StatusCode::CONFLICT).unwrap();
    assert_eq!(loser.error_code(), "EMAIL_TAKEN");
    // No half swap: each account signs in with exactly one address, and the claims agree.
    let emails = [app.get_as(&ada, "/api/auth/me").await, app.get_as(&grace, "/api/auth/me").await]
        .map(|me| me.body["email"].as_str().unwrap().to_owned());
    assert_eq!(emails.iter().filter(|e| *e == "shared@new.example").count(), 1, "{emails:?}");
    for email in &emails {
        assert_eq!(app.login(email).await.status, StatusCode::OK, "{email}");
    }
    let claims: Vec<_> =
        support::keys_of(&app.all_items().await).into_iter().filter(|(pk, _)| pk.starts_with("EMAIL#")).collect();
    assert_eq!(claims.len(), 2, "{claims:?}");
}

#[tokio::test]
async fn the_address_taken_before_confirmation_is_refused_then() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    request_change(&app, &ada, "wanted@new.example").await;
    app.post(
        "/api/auth/register",
        json!({ "username": "quick", "email": "wanted@new.example", "password": PASSWORD, "agreeToTerms": true }),
    )
    .await;
    let token = app.outbox_token("confirm_email_change", &ada.id).await;
    assert_eq!(confirm(&app, &token).await.error_code(), "EMAIL_TAKEN");
    assert_eq!(app.get_as(&ada, "/api/auth/me").await.body["email"], "ada@example.org");
}

#[tokio::test]
async fn a_confirmed_change_voids_reset_and_verification_tokens() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let verify = app.outbox_token("verify_email", &ada.id).await;
    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let reset = app.outbox_token("reset_password", &ada.id).await;
    request_change(&app, &ada, "ada@new.example").await;
    let token = app.outbox_token("confirm_email_change", &ada.id).await;
    assert_eq!(confirm(&app, &token).await.status, StatusCode::OK);
    let reset =
        app.post("/api/auth/reset-password", json!({ "token": reset, "newPassword": "quartz-meadow-harbor-58" }));
    assert_eq!(reset.await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.post("/api/auth/verify-email", json!({ "token": verify })).await.error_code(), "INVALID_TOKEN");
}
