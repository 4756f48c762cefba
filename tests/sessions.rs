//! Refresh rotation and reuse detection, logout, the session list and revocation,
//! password change, and the live-session rule.

use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use shared::domain::session::RefreshToken;
use support::{tokens_of, TestApp, NEW_PASSWORD, PASSWORD};

fn session_id(refresh_token: &str) -> String {
    RefreshToken::parse(refresh_token).unwrap().session_id
}

async fn session_item(app: &TestApp, refresh_token: &str) -> Option<shared::store::Item> {
    let token = RefreshToken::parse(refresh_token).unwrap();
    app.item(shared::store::keys::session::key(&token.user_id, &token.session_id)).await
}

#[tokio::test]
async fn a_refresh_chain_rotates_every_time() {
    let app = TestApp::with_env(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    let (_, mut refresh) = tokens_of(&app.register("chain").await);
    let sid = session_id(&refresh);
    let mut seen = vec![refresh.clone()];
    for _ in 0..5 {
        let response = app.refresh(&refresh).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        assert_eq!(response.body["tokenType"], "Bearer");
        let (access, next) = tokens_of(&response);
        assert!(!seen.contains(&next), "a new refresh token every time");
        assert_eq!(session_id(&next), sid, "the same session");
        assert_eq!(app.get("/api/auth/me", Some(&access)).await.status, StatusCode::OK);
        seen.push(next.clone());
        refresh = next;
    }
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn reuse_after_the_grace_window_ends_the_whole_session() {
    let app = TestApp::with_env(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    let (access, stolen) = tokens_of(&app.register("victim").await);
    let (_, successor) = tokens_of(&app.refresh(&stolen).await);
    app.advance(chrono::Duration::seconds(1));

    let reuse = app.refresh(&stolen).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reuse.error_code(), "INVALID_TOKEN");
    let newest = app.refresh(&successor).await;
    assert_eq!(newest.error_code(), "INVALID_TOKEN", "the newest token of the session dies too");
    assert!(session_item(&app, &successor).await.is_none());
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_a_fresh_pair() {
    let app = TestApp::new().await; // default grace: 10 s
    let (_, original) = tokens_of(&app.register("retrier").await);
    let (_, lost) = tokens_of(&app.refresh(&original).await);
    let retry = app.refresh(&original).await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    let (access, fresh) = tokens_of(&retry);
    assert_ne!(fresh, lost);
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::OK);
    // The answer that was lost is superseded, without ending the session.
    assert_eq!(app.refresh(&lost).await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.refresh(&fresh).await.status, StatusCode::OK);
}

/// A refresh as sent by the client with this user agent.
async fn refresh_as(app: &TestApp, user_agent: &str, refresh_token: &str) -> support::TestResponse {
    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/api/auth/refresh")
        .header("content-type", "application/json")
        .header("user-agent", user_agent)
        .body(axum::body::Body::from(json!({ "refreshToken": refresh_token }).to_string()))
        .unwrap();
    app.send(request).await
}

/// The security review: a thief holding a rotated refresh token could present it inside
/// the grace window and take the session over silently (the owner's newest token was
/// merely refused). A retry is the rotating client's alone; from another client it is
/// reuse, and the whole session ends.
#[tokio::test]
async fn a_retry_within_the_grace_window_from_another_client_ends_the_session() {
    let app = TestApp::new().await;
    app.freeze();
    let (_, original) = tokens_of(&app.register("owner").await);
    let phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
    let rotated = refresh_as(&app, phone, &original).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let (access, current) = tokens_of(&rotated);

    let thief = refresh_as(&app, "curl/8.5.0", &original).await;
    assert_eq!((thief.status, thief.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
    assert!(session_item(&app, &current).await.is_none(), "the session ended");
    assert_eq!(refresh_as(&app, phone, &current).await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::UNAUTHORIZED);
    let notices = app.outbox().await.into_iter().filter(|m| m.kind == "refresh_token_reuse").count();
    assert_eq!(notices, 1, "the owner is told");

    // The rotating client's own retry still works.
    let (_, original) = tokens_of(&app.login("owner").await);
    assert_eq!(refresh_as(&app, phone, &original).await.status, StatusCode::OK);
    assert_eq!(refresh_as(&app, phone, &original).await.status, StatusCode::OK, "a retry of the same client");
}

#[tokio::test]
async fn concurrent_refreshes_leave_exactly_one_live_chain() {
    let app = TestApp::new().await;
    let (_, original) = tokens_of(&app.register("racer").await);
    // All ten within the grace window, however slow the machine.
    app.freeze();
    let responses = join_all((0..10).map(|_| app.refresh(&original))).await;
    let issued: Vec<String> = responses.iter().filter(|r| r.status == StatusCode::OK).map(|r| tokens_of(r).1).collect();
    assert!(!issued.is_empty());
    for failed in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(failed.error_code(), "INVALID_TOKEN");
    }
    let item = session_item(&app, &original).await.expect("the session lives on");
    let current = item["refreshTokenHash"].as_s().unwrap();
    let live: Vec<&String> = issued.iter().filter(|t| &RefreshToken::parse(t).unwrap().hash() == current).collect();
    assert_eq!(live.len(), 1, "exactly one issued token is the session's current one");
    assert_eq!(item["previousTokenHash"].as_s().unwrap(), &RefreshToken::parse(&original).unwrap().hash());
    for token in issued.iter().filter(|t| *t != live[0]) {
        assert_eq!(app.refresh(token).await.error_code(), "INVALID_TOKEN");
    }
    assert_eq!(app.refresh(live[0]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn garbage_and_foreign_refresh_tokens_are_refused_without_harm() {
    let app = TestApp::new().await;
    let (_, real) = tokens_of(&app.register("sturdy").await);
    let token = RefreshToken::parse(&real).unwrap();
    let guessed = format!("{}.{}.{}", token.user_id, token.session_id, "A".repeat(43));
    for bad in ["nonsense", "a.b.c", guessed.as_str()] {
        let response = app.refresh(bad).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(response.error_code(), "INVALID_TOKEN");
    }
    assert_eq!(app.refresh(&real).await.status, StatusCode::OK, "a guess does not end the session");
    let missing = app.post("/api/auth/refresh", json!({})).await;
    assert_eq!(missing.detail_fields(), ["refreshToken"]);
}

#[tokio::test]
async fn expired_sessions_are_refused_before_ttl_deletes_them() {
    let app = TestApp::new().await;
    let (access, refresh) = tokens_of(&app.register("expired").await);
    let token = RefreshToken::parse(&refresh).unwrap();
    let session = shared::store::keys::session::key(&token.user_id, &token.session_id);
    app.set_attributes(session, &[("expiresAt", support::n(app.state.now().timestamp() - 5))]).await;
    assert_eq!(app.refresh(&refresh).await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::new().await;
    let (access, refresh) = tokens_of(&app.register("leaver").await);
    let logout = app.call(Method::POST, "/api/auth/logout", None, Some(&access)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&refresh).await.error_code(), "INVALID_TOKEN");
    // The access token still verifies, but the live-session endpoints refuse it.
    let again = app.call(Method::POST, "/api/auth/logout", None, Some(&access)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::UNAUTHORIZED);
    let change = app
        .call(
            Method::POST,
            "/api/auth/change-password",
            Some(json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD })),
            Some(&access),
        )
        .await;
    assert_eq!(change.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::POST, "/api/auth/logout", None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_session_list_marks_the_current_one() {
    let app = TestApp::new().await;
    app.register("multi").await;
    let (_, first_refresh) = tokens_of(&app.login("multi").await);
    let (access, refresh) = tokens_of(&app.login("multi").await);
    let list = app.get("/api/auth/sessions", Some(&access)).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "register and two logins");
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], session_id(&refresh));
    assert!(items.iter().any(|s| s["id"] == session_id(&first_refresh)));
    for session in items {
        for field in ["id", "deviceInfo", "createdAt", "lastUsedAt", "expiresAt", "current"] {
            assert!(!session[field].is_null(), "{field} in {session}");
        }
        assert!(session.get("refreshTokenHash").is_none());
    }
}

#[tokio::test]
async fn revoking_the_others_keeps_the_caller() {
    let app = TestApp::new().await;
    let (_, registered_refresh) = tokens_of(&app.register("keeper").await);
    let (_, other_refresh) = tokens_of(&app.login("keeper").await);
    let (access, refresh) = tokens_of(&app.login("keeper").await);
    let revoked = app.call(Method::DELETE, "/api/auth/sessions", None, Some(&access)).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.body, json!({ "revoked": 2 }));
    assert_eq!(app.refresh(&registered_refresh).await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.refresh(&other_refresh).await.error_code(), "INVALID_TOKEN");
    let list = app.get("/api/auth/sessions", Some(&access)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK);
}

/// A sign-in that read the account before the revocation and writes its session after
/// it (a race with the call) gets a session that is ended all the same.
#[tokio::test]
async fn revoking_the_others_also_ends_a_session_written_during_the_call() {
    let app = TestApp::new().await;
    let (access, refresh) = tokens_of(&app.register("racer").await);
    let user_id = shared::domain::session::RefreshToken::parse(&refresh).unwrap().user_id;
    let read_before = app.state.store.users().user_by_id(&user_id).await.unwrap().unwrap();

    let revoked = app.call(Method::DELETE, "/api/auth/sessions", None, Some(&access)).await;
    assert_eq!(revoked.status, StatusCode::OK);

    // The racing sign-in's write, with what it read before the revocation.
    let late = shared::domain::session::RefreshToken::new(&user_id, &uuid::Uuid::new_v4().to_string());
    let session = support::session_record(&user_id, &late.session_id, late.hash(), read_before.session_generation);
    let login = shared::store::LoginWrite {
        at: app.state.now(),
        rehashed_password: None,
        known_devices: None,
        device: app.new_device_put(&user_id),
        event: app.sign_in_event_put(&user_id),
        extra: vec![],
    };
    assert!(
        app.state.store.users().record_login(&read_before, &session, login).await.unwrap(),
        "the late sign-in is written"
    );

    assert_eq!(app.refresh(&late.expose()).await.error_code(), "INVALID_TOKEN", "written during the call: ended");
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK, "the caller's session goes on");
    assert_eq!(app.get("/api/auth/sessions", Some(&access)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_session_can_be_revoked_but_only_ones_own() {
    let app = TestApp::new().await;
    let (_, mallory_refresh) = tokens_of(&app.register("mallory").await);
    let (access, _) = tokens_of(&app.register("alice").await);
    let (_, alice_other) = tokens_of(&app.login("alice").await);

    let foreign = app
        .call(Method::DELETE, &format!("/api/auth/sessions/{}", session_id(&mallory_refresh)), None, Some(&access))
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.error_code(), "NOT_FOUND");
    assert_eq!(app.refresh(&mallory_refresh).await.status, StatusCode::OK, "someone else's session is untouched");
    let unknown = app.call(Method::DELETE, "/api/auth/sessions/no-such-session", None, Some(&access)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad_encoding = app.call(Method::DELETE, "/api/auth/sessions/%FF%FE", None, Some(&access)).await;
    assert_eq!(bad_encoding.error_code(), "NOT_FOUND");

    let own = app
        .call(Method::DELETE, &format!("/api/auth/sessions/{}", session_id(&alice_other)), None, Some(&access))
        .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&alice_other).await.error_code(), "INVALID_TOKEN");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let app = TestApp::new().await;
    let (other_access, other_refresh) = tokens_of(&app.register("changer").await);
    let (access, old_refresh) = tokens_of(&app.login("changer").await);

    let change = |current: &str, new: &str| {
        app.call(
            Method::POST,
            "/api/auth/change-password",
            Some(json!({ "currentPassword": current, "newPassword": new })),
            Some(&access),
        )
    };
    let wrong = change("not-the-password-at-all", NEW_PASSWORD).await;
    assert_eq!((wrong.status, wrong.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"));
    assert_eq!(change(PASSWORD, PASSWORD).await.detail_fields(), ["newPassword"]);
    assert_eq!(change(PASSWORD, "password1234").await.detail_fields(), ["newPassword"]);
    assert_eq!(change(PASSWORD, "changer-is-my-name").await.detail_fields(), ["newPassword"]);

    let changed = change(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let (new_access, new_refresh) = tokens_of(&changed);
    assert_eq!(session_id(&new_refresh), session_id(&old_refresh), "the caller keeps its session");

    assert_eq!(app.refresh(&other_refresh).await.error_code(), "INVALID_TOKEN");
    assert_eq!(app.get("/api/auth/sessions", Some(&other_access)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&old_refresh).await.error_code(),
        "INVALID_TOKEN",
        "the caller's old refresh token is replaced"
    );
    let list = app.get("/api/auth/sessions", Some(&new_access)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.refresh(&new_refresh).await.status, StatusCode::OK);

    assert_eq!(app.login("changer").await.error_code(), "INVALID_CREDENTIALS", "the old password stops working");
    let user = support::User { id: String::new(), token: new_access.clone(), name: "changer".into() };
    app.update_profile(&user, json!({ "bio": "still editable after a password change" })).await;
    let with_new = app.post("/api/auth/login", json!({ "identifier": "changer", "password": NEW_PASSWORD })).await;
    assert_eq!(with_new.status, StatusCode::OK);
    let keys = support::keys_of(&app.all_items().await);
    assert_eq!(keys.iter().filter(|(_, sk)| sk.starts_with("SESSION#")).count(), 2, "ended session items are deleted");
}
