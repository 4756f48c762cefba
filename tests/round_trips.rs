//! How many DynamoDB calls each endpoint makes, counted by an SDK interceptor. This is
//! deterministic, so it is asserted; docs/benchmarks.md's table of round trips and costs follows it.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{tokens_of, TestApp, TestResponse, User, PASSWORD};

/// `n` times the operation `name`.
fn ops(list: &[(&str, usize)]) -> Vec<String> {
    let mut all: Vec<String> = list.iter().flat_map(|(name, n)| std::iter::repeat_n(name.to_string(), *n)).collect();
    all.sort();
    all
}

/// An answer, and whether its request carried a bearer token.
struct Called {
    response: TestResponse,
    bearer: bool,
}

impl std::ops::Deref for Called {
    type Target = TestResponse;

    fn deref(&self) -> &TestResponse {
        &self.response
    }
}

/// Checks an answer's status and compares the calls its request made. A request with a
/// bearer token first checks the account's standing (one consistent `GetItem`: a token
/// of an account suspended since it was minted counts no more); that is asserted here,
/// and `expected` lists what the endpoint does after it.
async fn expect_calls(app: &TestApp, what: &str, status: StatusCode, expected: &[(&str, usize)], called: Called) {
    assert_eq!(called.status, status, "{what}: {:?}", called.body);
    let mut calls = app.calls.take_in_order();
    if called.bearer {
        assert_eq!(calls.first().map(String::as_str), Some("GetItem"), "{what}: the standing check comes first");
        calls.remove(0);
    }
    calls.sort();
    assert_eq!(calls, ops(expected), "{what}");
}

async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>, user: Option<&User>) -> Called {
    app.calls.take();
    let response = app.call(method, path, body, user.map(|u| u.token.as_str())).await;
    Called { response, bearer: user.is_some() }
}

#[tokio::test]
async fn auth_endpoints() {
    let app = TestApp::new().await;
    app.calls.take();
    let register = app.register("counted").await;
    assert_eq!(app.calls.take(), ops(&[("UpdateItem", 1), ("TransactWriteItems", 1)]), "register");
    let user = User {
        id: register.body["user"]["id"].as_str().unwrap().into(),
        token: register.body["accessToken"].as_str().unwrap().into(),
        name: "counted".into(),
    };
    let (_, refresh) = tokens_of(&register);

    let device = register.body["deviceToken"].as_str().unwrap();
    let login = json!({ "identifier": "counted", "password": PASSWORD, "deviceToken": device });
    let r = call(&app, Method::POST, "/api/auth/login", Some(login), None).await;
    expect_calls(
        &app,
        "login from a known device",
        StatusCode::OK,
        &[("BatchGetItem", 2), ("UpdateItem", 3), ("GetItem", 1), ("PutItem", 2)],
        r,
    )
    .await;
    let login = json!({ "identifier": "counted", "password": PASSWORD });
    let r = call(&app, Method::POST, "/api/auth/login", Some(login), None).await;
    expect_calls(
        &app,
        "login, no device token",
        StatusCode::OK,
        &[("BatchGetItem", 2), ("UpdateItem", 3), ("GetItem", 1), ("PutItem", 3)],
        r,
    )
    .await;
    let wrong = json!({ "identifier": "counted", "password": "not-the-password-at-all" });
    let r = call(&app, Method::POST, "/api/auth/login", Some(wrong), None).await;
    let counts = [("BatchGetItem", 2), ("UpdateItem", 3), ("GetItem", 1), ("PutItem", 1)];
    expect_calls(&app, "login, wrong password", StatusCode::UNAUTHORIZED, &counts, r).await;
    let unknown = json!({ "identifier": "nobody", "password": PASSWORD });
    let r = call(&app, Method::POST, "/api/auth/login", Some(unknown), None).await;
    expect_calls(
        &app,
        "login, unknown user (the same calls as a wrong password)",
        StatusCode::UNAUTHORIZED,
        &[("BatchGetItem", 2), ("UpdateItem", 3), ("GetItem", 1), ("PutItem", 1)],
        r,
    )
    .await;

    let r = call(&app, Method::GET, "/api/auth/me", None, Some(&user)).await;
    expect_calls(&app, "me", StatusCode::OK, &[("GetItem", 1)], r).await;
    let r = call(&app, Method::POST, "/api/auth/refresh", Some(json!({ "refreshToken": refresh })), None).await;
    expect_calls(&app, "refresh", StatusCode::OK, &[("UpdateItem", 3), ("BatchGetItem", 1)], r).await;
    let r = call(&app, Method::GET, "/api/auth/sessions", None, Some(&user)).await;
    expect_calls(&app, "sessions", StatusCode::OK, &[("BatchGetItem", 1), ("Query", 1)], r).await;
    let r = call(&app, Method::DELETE, "/api/auth/sessions", None, Some(&user)).await;
    // Then the ended sessions' and devices' items are deleted: a Query and a batch each.
    let revoke = [("BatchGetItem", 1), ("Query", 2), ("TransactWriteItems", 1), ("BatchWriteItem", 2)];
    expect_calls(&app, "revoke others", StatusCode::OK, &revoke, r).await;
    let change = json!({ "currentPassword": PASSWORD, "newPassword": "quartz-meadow-harbor-58" });
    let r = call(&app, Method::POST, "/api/auth/change-password", Some(change), Some(&user)).await;
    expect_calls(
        &app,
        "change password",
        StatusCode::OK,
        &[("BatchGetItem", 1), ("GetItem", 2), ("TransactWriteItems", 1), ("Query", 2)],
        r,
    )
    .await;
    let r = call(&app, Method::POST, "/api/auth/resend-verification", None, Some(&user)).await;
    expect_calls(
        &app,
        "resend verification",
        StatusCode::ACCEPTED,
        &[("GetItem", 1), ("UpdateItem", 1), ("TransactWriteItems", 1)],
        r,
    )
    .await;
    let token = app.outbox_token("verify_email", &user.id).await;
    let r = call(&app, Method::POST, "/api/auth/verify-email", Some(json!({ "token": token })), None).await;
    expect_calls(
        &app,
        "verify email",
        StatusCode::OK,
        &[("UpdateItem", 1), ("GetItem", 2), ("TransactWriteItems", 1)],
        r,
    )
    .await;

    let forgot = |email: &str| json!({ "email": email });
    let r = call(&app, Method::POST, "/api/auth/forgot-password", Some(forgot("counted@example.org")), None).await;
    let same = [("UpdateItem", 2), ("GetItem", 2), ("TransactWriteItems", 1)];
    expect_calls(&app, "forgot password", StatusCode::ACCEPTED, &same, r).await;
    let r = call(&app, Method::POST, "/api/auth/forgot-password", Some(forgot("unknown@example.org")), None).await;
    expect_calls(&app, "forgot password, unknown email: the same calls", StatusCode::ACCEPTED, &same, r).await;
    let token = app.outbox_token("reset_password", &user.id).await;
    let reset = json!({ "token": token, "newPassword": "another-fine-passphrase-77" });
    let r = call(&app, Method::POST, "/api/auth/reset-password", Some(reset), None).await;
    expect_calls(
        &app,
        "reset password",
        StatusCode::OK,
        &[("UpdateItem", 1), ("GetItem", 2), ("TransactWriteItems", 1), ("Query", 2), ("BatchWriteItem", 1)],
        r,
    )
    .await;

    let r = call(&app, Method::GET, "/.well-known/jwks.json", None, None).await;
    expect_calls(&app, "jwks", StatusCode::OK, &[], r).await;
    let again = app.login_with("counted", "another-fine-passphrase-77").await;
    let user = User { token: again.body["accessToken"].as_str().unwrap().into(), ..user };
    let r = call(&app, Method::POST, "/api/auth/logout", None, Some(&user)).await;
    expect_calls(&app, "logout", StatusCode::NO_CONTENT, &[("BatchGetItem", 1), ("DeleteItem", 1)], r).await;
}

#[tokio::test]
async fn users_endpoints() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    let r = call(&app, Method::GET, &format!("/api/users/{}", ann.id), None, None).await;
    expect_calls(&app, "profile, anonymous", StatusCode::OK, &[("GetItem", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/users/{}", ann.id), None, Some(&bob)).await;
    expect_calls(&app, "profile, signed in", StatusCode::OK, &[("BatchGetItem", 1)], r).await;
    let r = call(&app, Method::GET, "/api/users/by-username/ann", None, None).await;
    expect_calls(&app, "profile by username", StatusCode::OK, &[("GetItem", 2)], r).await;
    let r = call(&app, Method::GET, &format!("/api/users/{}/stats", ann.id), None, None).await;
    expect_calls(&app, "stats", StatusCode::OK, &[("GetItem", 1)], r).await;
    // A change of the public profile is a transaction with its `user.updated` event;
    // settings alone are a plain update.
    let r = call(&app, Method::PUT, "/api/users/profile", Some(json!({ "bio": "hi" })), Some(&ann)).await;
    expect_calls(&app, "profile update", StatusCode::OK, &[("GetItem", 1), ("TransactWriteItems", 1)], r).await;
    let settings = json!({ "privacySettings": { "contactInfoVisibility": "private" } });
    let r = call(&app, Method::PUT, "/api/users/profile", Some(settings), Some(&ann)).await;
    expect_calls(&app, "profile settings", StatusCode::OK, &[("GetItem", 1), ("UpdateItem", 1)], r).await;
    let r = call(&app, Method::PUT, "/api/users/profile", Some(json!({ "firstName": "Annie" })), Some(&ann)).await;
    expect_calls(&app, "profile update with a name", StatusCode::OK, &[("GetItem", 1), ("TransactWriteItems", 1)], r)
        .await;
    let r = call(&app, Method::PUT, "/api/users/notifications", Some(json!({ "follows": false })), Some(&ann)).await;
    expect_calls(&app, "notifications", StatusCode::OK, &[("GetItem", 1), ("UpdateItem", 1)], r).await;
    let r = call(&app, Method::GET, "/api/users/search?q=ann", None, None).await;
    expect_calls(&app, "search, anonymous", StatusCode::OK, &[("GetItem", 1), ("Query", 1), ("BatchGetItem", 2)], r)
        .await;
    let r = call(&app, Method::GET, "/api/users/search?q=ann", None, Some(&bob)).await;
    expect_calls(&app, "search, signed in", StatusCode::OK, &[("GetItem", 1), ("Query", 1), ("BatchGetItem", 4)], r)
        .await;
    let r = call(&app, Method::GET, "/health/detailed", None, None).await;
    expect_calls(&app, "health/detailed", StatusCode::OK, &[("GetItem", 1)], r).await;
    let r = call(&app, Method::GET, "/health", None, None).await;
    expect_calls(&app, "health", StatusCode::OK, &[], r).await;
    let r = call(&app, Method::POST, "/api/users/deactivate", Some(json!({ "password": PASSWORD })), Some(&ann)).await;
    expect_calls(
        &app,
        "deactivate",
        StatusCode::OK,
        &[("BatchGetItem", 1), ("GetItem", 1), ("TransactWriteItems", 1), ("Query", 1), ("BatchWriteItem", 1)],
        r,
    )
    .await;
    let r = call(
        &app,
        Method::POST,
        "/api/auth/reactivate",
        Some(json!({ "identifier": "ann", "password": PASSWORD })),
        None,
    )
    .await;
    expect_calls(
        &app,
        "reactivate",
        StatusCode::OK,
        &[("BatchGetItem", 2), ("UpdateItem", 2), ("GetItem", 1), ("TransactWriteItems", 1)],
        r,
    )
    .await;
}

#[tokio::test]
async fn social_endpoints() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.set_email_verified(&ann).await;
    let target = json!({ "userId": bob.id });
    let r = call(&app, Method::POST, "/api/social/follow", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "follow", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let r = call(&app, Method::POST, "/api/social/follow", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "follow again", StatusCode::OK, &[("BatchGetItem", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/social/relationship/{}", bob.id), None, Some(&ann)).await;
    expect_calls(&app, "relationship", StatusCode::OK, &[("BatchGetItem", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/social/{}/followers", bob.id), None, Some(&ann)).await;
    expect_calls(&app, "followers", StatusCode::OK, &[("BatchGetItem", 3), ("Query", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/social/{}/following", ann.id), None, Some(&ann)).await;
    expect_calls(&app, "own following", StatusCode::OK, &[("BatchGetItem", 2), ("Query", 1)], r).await;
    let r = call(&app, Method::GET, "/api/social/requests", None, Some(&bob)).await;
    expect_calls(&app, "requests (none)", StatusCode::OK, &[("Query", 1)], r).await;
    let r = call(&app, Method::POST, "/api/social/unfollow", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "unfollow", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let r = call(&app, Method::POST, "/api/social/block", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "block", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let r = call(&app, Method::GET, "/api/social/blocked", None, Some(&ann)).await;
    expect_calls(&app, "blocked", StatusCode::OK, &[("Query", 1), ("BatchGetItem", 2)], r).await;
    let r = call(&app, Method::POST, "/api/social/unblock", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "unblock", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let r = call(&app, Method::POST, &format!("/api/social/requests/{}/reject", bob.id), None, Some(&ann)).await;
    expect_calls(&app, "reject (none)", StatusCode::OK, &[("BatchGetItem", 1)], r).await;
    let r = call(&app, Method::POST, "/api/social/mute", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "mute", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let r = call(&app, Method::GET, "/api/social/muted", None, Some(&ann)).await;
    expect_calls(&app, "muted", StatusCode::OK, &[("Query", 1), ("BatchGetItem", 3)], r).await;
    let r = call(&app, Method::POST, "/api/social/unmute", Some(target.clone()), Some(&ann)).await;
    expect_calls(&app, "unmute", StatusCode::OK, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r).await;
    let report = json!({ "userId": bob.id, "reason": "spam" });
    let r = call(&app, Method::POST, "/api/social/report", Some(report), Some(&ann)).await;
    expect_calls(
        &app,
        "report",
        StatusCode::CREATED,
        &[("GetItem", 2), ("UpdateItem", 1), ("TransactWriteItems", 1)],
        r,
    )
    .await;
}

#[tokio::test]
async fn a_full_page_of_followers() {
    let app = TestApp::new().await;
    let (star, onlooker) = (app.user("star").await, app.user("onlooker").await);
    for i in 0..20 {
        let fan = app.user(&format!("fan{i}")).await;
        app.follow(&fan, &star).await;
    }
    // The listed users' relations to the viewer: 4 keys each, so 20 of them fit one request.
    let r = call(&app, Method::GET, &format!("/api/social/{}/followers", star.id), None, Some(&onlooker)).await;
    expect_calls(&app, "a page of 20 followers", StatusCode::OK, &[("BatchGetItem", 3), ("Query", 1)], r).await;
}

#[tokio::test]
async fn second_factor_endpoints() {
    let app = TestApp::new().await;
    app.freeze();
    let user = app.user("counted").await;
    let r =
        call(&app, Method::POST, "/api/auth/mfa/totp/enroll", Some(json!({ "password": PASSWORD })), Some(&user)).await;
    let secret = r.body["secret"].as_str().unwrap_or_default().to_owned();
    expect_calls(&app, "enroll", StatusCode::OK, &[("BatchGetItem", 1), ("GetItem", 1), ("PutItem", 1)], r).await;
    let confirm = json!({ "code": app.code(&secret, 0) });
    let r = call(&app, Method::POST, "/api/auth/mfa/totp/confirm", Some(confirm), Some(&user)).await;
    let user = User { token: r.body["accessToken"].as_str().unwrap_or_default().to_owned(), ..user };
    // The code's attempt counted before it is checked and given back when it was right.
    let confirmed = [("BatchGetItem", 1), ("UpdateItem", 2), ("TransactWriteItems", 1), ("Query", 1)];
    expect_calls(&app, "confirm", StatusCode::OK, &confirmed, r).await;
    let r = call(&app, Method::GET, "/api/auth/mfa", None, Some(&user)).await;
    expect_calls(&app, "status", StatusCode::OK, &[("BatchGetItem", 1)], r).await;
    app.advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));

    let login = json!({ "identifier": "counted", "password": PASSWORD });
    let r = call(&app, Method::POST, "/api/auth/login", Some(login), None).await;
    let mfa_token = r.body["mfaToken"].as_str().unwrap_or_default().to_owned();
    // Like a sign-in, up to the session: the challenge is put instead.
    let challenged = [("BatchGetItem", 2), ("UpdateItem", 2), ("GetItem", 1), ("PutItem", 1)];
    expect_calls(&app, "login with MFA", StatusCode::OK, &challenged, r).await;
    let verify = json!({ "mfaToken": mfa_token, "code": app.code(&secret, 0) });
    let r = call(&app, Method::POST, "/api/auth/mfa/verify", Some(verify), None).await;
    // At once: the attempt on the challenge and on the account's code limit, the
    // address's limit, the account and factor, the failed sign-ins; then the session
    // with the step taken and the challenge's end; the right code's attempt given back.
    let verified = [("UpdateItem", 4), ("BatchGetItem", 1), ("GetItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "mfa verify", StatusCode::OK, &verified, r).await;

    let regenerate = json!({ "code": app.code(&secret, 1) });
    let r = call(&app, Method::POST, "/api/auth/mfa/recovery-codes", Some(regenerate), Some(&user)).await;
    let recovery = r.body["recoveryCodes"][0].as_str().unwrap_or_default().to_owned();
    let regenerated = [("BatchGetItem", 1), ("UpdateItem", 3), ("TransactWriteItems", 1)];
    expect_calls(&app, "regenerate recovery codes", StatusCode::OK, &regenerated, r).await;
    let disable = json!({ "password": PASSWORD, "recoveryCode": recovery });
    let r = call(&app, Method::POST, "/api/auth/mfa/disable", Some(disable), Some(&user)).await;
    let disabled = [("BatchGetItem", 1), ("GetItem", 1), ("UpdateItem", 3), ("TransactWriteItems", 1)];
    expect_calls(&app, "disable", StatusCode::OK, &disabled, r).await;
}

#[tokio::test]
async fn email_change_endpoints() {
    let app = TestApp::new().await;
    let user = app.user("counted").await;
    let change = json!({ "newEmail": "counted@new.example", "password": PASSWORD });
    let r = call(&app, Method::POST, "/api/auth/change-email", Some(change), Some(&user)).await;
    // Session, user and factor; the password's failure count; the rate; the claim; the write.
    let requested = [("BatchGetItem", 1), ("GetItem", 2), ("UpdateItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "change email", StatusCode::ACCEPTED, &requested, r).await;
    let token = app.outbox_token("confirm_email_change", &user.id).await;
    let r = call(&app, Method::POST, "/api/auth/confirm-email-change", Some(json!({ "token": token })), None).await;
    // The swap ends every session (a new generation); the ended sessions are deleted after.
    let confirmed = [("UpdateItem", 1), ("GetItem", 2), ("TransactWriteItems", 1), ("Query", 1), ("BatchWriteItem", 1)];
    expect_calls(&app, "confirm email change", StatusCode::OK, &confirmed, r).await;
}

#[tokio::test]
async fn export_endpoints() {
    let app = TestApp::new().await.with_export_bucket().await;
    let user = app.user("counted").await;
    let r = call(&app, Method::POST, "/api/users/me/export", None, Some(&user)).await;
    let export_id = r.body["exportId"].as_str().unwrap_or_default().to_owned();
    // Session, user and factor; the request and its export in one transaction.
    expect_calls(&app, "request export", StatusCode::ACCEPTED, &[("BatchGetItem", 1), ("TransactWriteItems", 1)], r)
        .await;
    let path = format!("/api/users/me/exports/{export_id}");
    let r = call(&app, Method::GET, &path, None, Some(&user)).await;
    // The live session (session and user) beside the export.
    expect_calls(&app, "export status", StatusCode::OK, &[("BatchGetItem", 1), ("GetItem", 1)], r).await;
}

#[tokio::test]
async fn admin_endpoints() {
    let app = TestApp::new().await;
    let admin = app.enrolled_user(app.user("boss").await).await;
    let (bob, rita) = (app.user("bob").await, app.user("rita").await);
    let record = app.state.store.users().user_by_id(&admin.id).await.unwrap().unwrap();
    let operator = shared::services::moderation::Actor::Operator("test-operator");
    shared::services::moderation::grant(&app.state.store, operator, &record, shared::domain::user::Role::Admin)
        .await
        .unwrap();
    app.set_email_verified(&rita).await;
    let filed = app.post_as(&rita, "/api/social/report", json!({ "userId": bob.id, "reason": "spam" })).await;
    let report = filed.body["id"].as_str().unwrap().to_owned();
    let admin = Some(&admin);
    // Every staff write (and audited read) reads its actor's chain head (`GetItem`) and
    // writes the entry and the head's move in its transaction.

    let r = call(&app, Method::GET, "/api/admin/reports", None, admin).await;
    expect_calls(&app, "reports", StatusCode::OK, &[("BatchGetItem", 3), ("Query", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/admin/reports/{report}"), None, admin).await;
    // A read of personal data writes its audit entry (beside the named accounts' read).
    let viewed = [("BatchGetItem", 2), ("GetItem", 2), ("TransactWriteItems", 1)];
    expect_calls(&app, "report", StatusCode::OK, &viewed, r).await;
    let r = call(&app, Method::POST, &format!("/api/admin/reports/{report}/assign"), None, admin).await;
    let assign = [("BatchGetItem", 2), ("GetItem", 3), ("TransactWriteItems", 1)];
    expect_calls(&app, "assign", StatusCode::OK, &assign, r).await;
    let warn = json!({ "action": "warn" });
    let r = call(&app, Method::POST, &format!("/api/admin/reports/{report}/resolve"), Some(warn), admin).await;
    let resolve = [("BatchGetItem", 3), ("GetItem", 5), ("Query", 2), ("TransactWriteItems", 1)];
    expect_calls(&app, "resolve with an action", StatusCode::OK, &resolve, r).await;
    let r = call(&app, Method::POST, &format!("/api/admin/reports/{report}/reopen"), None, admin).await;
    expect_calls(&app, "reopen", StatusCode::OK, &assign, r).await;
    let none = json!({ "action": "none" });
    let r = call(&app, Method::POST, &format!("/api/admin/reports/{report}/resolve"), Some(none), admin).await;
    let dismiss = [("BatchGetItem", 2), ("GetItem", 4), ("TransactWriteItems", 1)];
    expect_calls(&app, "resolve without one", StatusCode::OK, &dismiss, r).await;
    let r = call(&app, Method::GET, &format!("/api/admin/users/{}", bob.id), None, admin).await;
    let viewed = [("BatchGetItem", 1), ("GetItem", 2), ("TransactWriteItems", 1), ("Query", 2)];
    expect_calls(&app, "user", StatusCode::OK, &viewed, r).await;
    let limit = json!({ "type": "limit", "durationDays": 7 });
    let r = call(&app, Method::POST, &format!("/api/admin/users/{}/actions", bob.id), Some(limit), admin).await;
    let action = [("BatchGetItem", 1), ("GetItem", 3), ("TransactWriteItems", 1)];
    expect_calls(&app, "action", StatusCode::OK, &action, r).await;
    let role = json!({ "role": "moderator" });
    let r = call(&app, Method::PUT, &format!("/api/admin/users/{}/role", bob.id), Some(role), admin).await;
    let role = [("BatchGetItem", 1), ("GetItem", 2), ("TransactWriteItems", 1)];
    expect_calls(&app, "role", StatusCode::OK, &role, r).await;
    let r = call(&app, Method::GET, "/api/admin/audit-log", None, admin).await;
    expect_calls(&app, "audit log", StatusCode::OK, &[("BatchGetItem", 1), ("Query", 1)], r).await;
    let r = call(&app, Method::GET, &format!("/api/admin/audit-log?actorId={}", record.id), None, admin).await;
    expect_calls(&app, "audit log by actor", StatusCode::OK, &[("BatchGetItem", 2), ("Query", 1)], r).await;
}

#[tokio::test]
async fn passkey_endpoints() {
    let app = TestApp::new().await;
    let user = app.user("counted").await;
    let mut key = support::passkey::SoftPasskey::es256();
    let r = call(&app, Method::POST, "/api/auth/passkeys/register/options", Some(json!({})), Some(&user)).await;
    let options = r.body.clone();
    // The session, account and factor; the passkeys and the user handle side by side; the ceremony.
    let asked = [("BatchGetItem", 1), ("Query", 1), ("UpdateItem", 1), ("PutItem", 1)];
    expect_calls(&app, "register options", StatusCode::OK, &asked, r).await;
    let body = json!({ "challengeId": options["challengeId"], "credential": key.create(&options["publicKey"]) });
    let r = call(&app, Method::POST, "/api/auth/passkeys/register", Some(body), Some(&user)).await;
    // The ceremony taken as it is read; the passkey, its claim, the count, notice and event at once.
    let registered = [("BatchGetItem", 1), ("DeleteItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "register", StatusCode::CREATED, &registered, r).await;

    let r = call(&app, Method::POST, "/api/auth/passkeys/login/options", Some(json!({})), None).await;
    let options = r.body.clone();
    expect_calls(&app, "login options", StatusCode::OK, &[("UpdateItem", 1), ("PutItem", 1)], r).await;
    let body = json!({ "challengeId": options["challengeId"], "credential": key.get(&options["publicKey"]) });
    let r = call(&app, Method::POST, "/api/auth/passkeys/login", Some(body), None).await;
    // Both limits; the ceremony; the claim; the account and passkey; the session with the
    // passkey's counter, the device, the event and the new-device notice in one transaction.
    let signed_in =
        [("UpdateItem", 2), ("DeleteItem", 1), ("GetItem", 1), ("BatchGetItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "passkey login", StatusCode::OK, &signed_in, r).await;

    let r = call(&app, Method::GET, "/api/auth/passkeys", None, Some(&user)).await;
    expect_calls(&app, "list", StatusCode::OK, &[("BatchGetItem", 1), ("Query", 1)], r).await;

    let login = app.login("counted").await;
    let mfa_token = login.body["mfaToken"].as_str().unwrap().to_owned();
    app.calls.take();
    let r =
        call(&app, Method::POST, "/api/auth/mfa/passkey/options", Some(json!({ "mfaToken": mfa_token })), None).await;
    let options = r.body.clone();
    // The address's limit; the challenge and the account's passkeys side by side; the ceremony.
    expect_calls(
        &app,
        "mfa passkey options",
        StatusCode::OK,
        &[("UpdateItem", 1), ("GetItem", 1), ("Query", 1), ("PutItem", 1)],
        r,
    )
    .await;
    let answer = json!({ "challengeId": options["challengeId"], "credential": key.get(&options["publicKey"]) });
    let verify = json!({ "mfaToken": mfa_token, "passkey": answer });
    let r = call(&app, Method::POST, "/api/auth/mfa/verify", Some(verify), None).await;
    // As with a code, plus the ceremony, the claim, the account and passkey.
    let verified =
        [("UpdateItem", 4), ("BatchGetItem", 2), ("GetItem", 2), ("DeleteItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "mfa verify with a passkey", StatusCode::OK, &verified, r).await;
}

#[tokio::test]
async fn federated_endpoints() {
    let mock = local_server::mock_oidc::MockProvider::start(shared::clock::Clock::default()).await.unwrap();
    let providers = json!([{ "id": "mock", "issuer": mock.issuer, "clientIds": ["app"] }]).to_string();
    let app = TestApp::with_env(&[("FEDERATION_PROVIDERS", &providers)]).await;
    mock.use_clock(app.clock.clone());
    let token = |nonce: &str| json!({ "idToken": mock.id_token("app", nonce, json!({})).unwrap(), "nonce": nonce });
    // The first token also fetches the provider's discovery and keys (no DynamoDB call).
    app.calls.take();
    let r = call(&app, Method::POST, "/api/auth/federated/mock/token", Some(token("n1")), None).await;
    let signup_token = r.body["signupToken"].as_str().unwrap_or_default().to_owned();
    // The address's limit, the token remembered, the identity's claim and the email's
    // claim, the signup token, the suggested username's claim.
    let unknown = [("UpdateItem", 1), ("PutItem", 2), ("GetItem", 3)];
    expect_calls(&app, "token, a new person", StatusCode::OK, &unknown, r).await;
    let body = json!({ "signupToken": signup_token, "username": "fed_user", "agreeToTerms": true });
    let r = call(&app, Method::POST, "/api/auth/federated/signup", Some(body), None).await;
    // The address's limit, the token read, then one transaction (user, claims, identity
    // and its claim, session, device, event, the token used up).
    let signed_up = [("UpdateItem", 1), ("GetItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "federated signup", StatusCode::CREATED, &signed_up, r).await;
    let r = call(&app, Method::POST, "/api/auth/federated/mock/token", Some(token("n2")), None).await;
    // The limit, the token remembered, the identity's claim, then the account, factor and
    // identity side by side, and the sign-in's transaction with the identity's last use.
    let linked = [("UpdateItem", 1), ("PutItem", 1), ("GetItem", 2), ("BatchGetItem", 1), ("TransactWriteItems", 1)];
    expect_calls(&app, "token, a linked identity", StatusCode::OK, &linked, r).await;
}
