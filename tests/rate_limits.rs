//! Rate limits trip at their threshold, answer 429 with Retry-After, and reset with
//! their window. Limits are set small through the environment; tests that count within
//! one window move the service's clock to a window's beginning, and to the next window,
//! instead of sleeping.

use http::StatusCode;
use serde_json::json;
use support::{tokens_of, TestApp, TestResponse, PASSWORD};

fn assert_limited(response: &TestResponse, window_secs: u64) {
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", response.body);
    assert_eq!(response.error_code(), "RATE_LIMITED");
    let retry_after: u64 = response.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=window_secs).contains(&retry_after), "Retry-After {retry_after}");
}

/// Moves the clock into the window after the one that answered `response`.
fn next_window(app: &TestApp, response: &TestResponse) {
    let retry_after: i64 = response.headers["retry-after"].to_str().unwrap().parse().unwrap();
    app.advance(chrono::Duration::milliseconds(retry_after * 1000 + 100));
}

#[tokio::test]
async fn login_per_identifier_trips_and_resets() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "3/8")]).await;
    app.register("limited").await;
    app.start_of_window(8);
    let mut last = None;
    for attempt in 1..=4 {
        app.calls.take();
        let response = app.login("limited").await;
        if attempt <= 3 {
            assert_eq!(response.status, StatusCode::OK, "attempt {attempt}");
        } else {
            assert_limited(&response, 8);
            assert_eq!(
                app.calls.take(),
                ["BatchGetItem", "UpdateItem"],
                "refused on the first read, before argon2, writing only the refusal's count in the account's history"
            );
            last = Some(response);
        }
    }
    // Another identifier is not affected; the same one in other case is.
    assert_limited(&app.login("LIMITED").await, 8);
    assert_eq!(app.login("limited@example.org").await.status, StatusCode::OK);
    next_window(&app, &last.unwrap());
    assert_eq!(app.login("limited").await.status, StatusCode::OK, "a new window");
}

#[tokio::test]
async fn concurrent_logins_get_no_answer_beyond_the_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "3/5")]).await;
    app.register("raced").await;
    app.start_of_window(5);
    // All of them may read a count under the limit; their own hits decide.
    let responses = futures::future::join_all((0..8).map(|_| app.login("raced"))).await;
    let ok = responses.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 3, "{:?}", responses.iter().map(|r| r.status).collect::<Vec<_>>());
    for refused in responses.iter().filter(|r| r.status != StatusCode::OK) {
        assert_limited(refused, 5);
    }
}

#[tokio::test]
async fn login_per_ip_groups_ipv6_by_64() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IP", "2/60")]).await;
    app.register("roamer").await;
    app.clear_of_window_end(60, 20);
    let body = json!({ "identifier": "roamer", "password": PASSWORD });
    assert_eq!(app.post_from("2001:db8:5:6::1", "/api/auth/login", body.clone()).await.status, StatusCode::OK);
    assert_eq!(app.post_from("2001:db8:5:6::2", "/api/auth/login", body.clone()).await.status, StatusCode::OK);
    assert_limited(&app.post_from("2001:db8:5:6:ffff::9", "/api/auth/login", body.clone()).await, 60);
    assert_eq!(
        app.post_from("2001:db8:5:7::1", "/api/auth/login", body.clone()).await.status,
        StatusCode::OK,
        "another /64"
    );
    assert_eq!(app.post_from("198.51.100.4", "/api/auth/login", body.clone()).await.status, StatusCode::OK);
    assert_eq!(app.post_from("198.51.100.4", "/api/auth/login", body.clone()).await.status, StatusCode::OK);
    assert_limited(&app.post_from("198.51.100.4", "/api/auth/login", body).await, 60);
}

#[tokio::test]
async fn register_per_ip() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REGISTER_PER_IP", "2/60")]).await;
    let body = |name: &str| json!({ "username": name, "email": format!("{name}@example.org"), "password": PASSWORD, "agreeToTerms": true });
    app.clear_of_window_end(60, 20);
    assert_eq!(app.post_from("203.0.113.5", "/api/auth/register", body("first")).await.status, StatusCode::CREATED);
    assert_eq!(app.post_from("203.0.113.5", "/api/auth/register", body("second")).await.status, StatusCode::CREATED);
    assert_limited(&app.post_from("203.0.113.5", "/api/auth/register", body("third")).await, 60);
    assert_eq!(app.post_from("203.0.113.6", "/api/auth/register", body("third")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn refresh_per_session() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REFRESH_PER_SESSION", "2/60")]).await;
    let (_, mut refresh) = tokens_of(&app.register("refresher").await);
    app.clear_of_window_end(60, 20);
    for _ in 0..2 {
        let response = app.refresh(&refresh).await;
        assert_eq!(response.status, StatusCode::OK);
        refresh = tokens_of(&response).1;
    }
    assert_limited(&app.refresh(&refresh).await, 60);
    let (_, other_session) = tokens_of(&app.login("refresher").await);
    assert_eq!(app.refresh(&other_session).await.status, StatusCode::OK, "limits are per session");
}

/// A session's ids are in every access token; guesses with them must not use up the
/// owner's refreshes (only a token that matches the session counts against it).
#[tokio::test]
async fn forged_refresh_tokens_with_a_known_session_cannot_block_its_refreshes() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REFRESH_PER_SESSION", "2/60")]).await;
    let (_, refresh) = tokens_of(&app.register("victim").await);
    app.clear_of_window_end(60, 20);
    let token = shared::domain::session::RefreshToken::parse(&refresh).unwrap();
    for guess in 0..5 {
        let forged = format!("{}.{}.guess{guess}", token.user_id, token.session_id);
        assert_eq!(app.refresh(&forged).await.error_code(), "INVALID_TOKEN");
    }
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::OK, "the owner's refresh still works");
}

#[tokio::test]
async fn refresh_per_address() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REFRESH_PER_IP", "3/60")]).await;
    let (_, refresh) = tokens_of(&app.register("roamer").await);
    app.clear_of_window_end(60, 20);
    for _ in 0..3 {
        let junk = app.post_from("198.51.100.7", "/api/auth/refresh", json!({ "refreshToken": "a.b.c" })).await;
        assert_eq!(junk.error_code(), "INVALID_TOKEN");
    }
    let refused = app.post_from("198.51.100.7", "/api/auth/refresh", json!({ "refreshToken": refresh })).await;
    assert_limited(&refused, 60);
    let elsewhere = app.post_from("198.51.100.8", "/api/auth/refresh", json!({ "refreshToken": refresh })).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{:?}", elsewhere.body);
}

#[tokio::test]
async fn failed_logins_lock_the_account_for_the_window_even_with_the_right_password() {
    let app = TestApp::with_env(&[("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "3/8")]).await;
    app.register("target").await;
    app.register("bystander").await;
    app.start_of_window(8);
    let wrong = json!({ "identifier": "target", "password": "not-the-password-at-all" });
    for _ in 0..3 {
        assert_eq!(app.post("/api/auth/login", wrong.clone()).await.error_code(), "INVALID_CREDENTIALS");
    }
    let locked = app.login("target").await;
    assert_limited(&locked, 8);
    assert_limited(&app.login("target@example.org").await, 8);
    assert_eq!(app.login("bystander").await.status, StatusCode::OK);
    next_window(&app, &locked);
    assert_eq!(app.login("target").await.status, StatusCode::OK);
}

/// Signs in as `identifier` with `password`, presenting `device_token` if any.
async fn login_on(app: &TestApp, identifier: &str, password: &str, device_token: Option<&str>) -> TestResponse {
    let mut body = json!({ "identifier": identifier, "password": password });
    if let Some(token) = device_token {
        body["deviceToken"] = json!(token);
    }
    app.post("/api/auth/login", body).await
}

/// `count` wrong passwords for `identifier`, eight at a time, from one stranger.
async fn guesses(app: &TestApp, identifier: &str, count: usize) {
    for batch in (0..count).collect::<Vec<_>>().chunks(8) {
        let attempts = batch.iter().map(|_| login_on(app, identifier, "a wrong guess of a stranger", None));
        for response in futures::future::join_all(attempts).await {
            assert!(matches!(response.status.as_u16(), 401 | 429), "{:?}", response.body);
        }
    }
}

/// ASVS 2.2.1: the failure cap holds off guessing, but a stranger's guesses cannot lock
/// the owner out of a device an earlier sign-in answered a token to.
#[tokio::test]
async fn a_strangers_guesses_cannot_lock_the_owner_out_of_a_known_device() {
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "100/3600"),
        ("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "1000/3600"),
    ])
    .await;
    let registered = app.register("owner").await;
    let device = registered.body["deviceToken"].as_str().expect("sign-up answers a device token").to_owned();
    let bob = app.register("bob").await;
    let bobs_device = bob.body["deviceToken"].as_str().unwrap().to_owned();
    app.clear_of_window_end(3600, 120);

    guesses(&app, "owner", 110).await;
    assert_limited(&login_on(&app, "owner", PASSWORD, None).await, 3600);
    let forged = format!("{}.{}", registered.body["user"]["id"].as_str().unwrap(), "A".repeat(43));
    assert_limited(&login_on(&app, "owner", PASSWORD, Some(&forged)).await, 3600);
    assert_limited(&login_on(&app, "owner", PASSWORD, Some("not a token at all")).await, 3600);
    assert_limited(&login_on(&app, "owner", PASSWORD, Some(&bobs_device)).await, 3600);

    let from_device = login_on(&app, "owner", PASSWORD, Some(&device)).await;
    assert_eq!(from_device.status, StatusCode::OK, "{:?}", from_device.body);
    assert_eq!(from_device.body["deviceToken"], device.as_str(), "the known device keeps its token");
    assert_eq!(login_on(&app, "owner@example.org", PASSWORD, Some(&device)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_known_device_is_exempt_from_the_identifier_window_and_limited_on_its_own() {
    let app =
        TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "5/60"), ("RATE_LIMIT_LOGIN_PER_DEVICE", "3/60")])
            .await;
    let device = app.register("owner").await.body["deviceToken"].as_str().unwrap().to_owned();
    app.clear_of_window_end(60, 30);

    guesses(&app, "owner", 6).await;
    assert_limited(&login_on(&app, "owner", PASSWORD, None).await, 60);
    let first = login_on(&app, "owner", PASSWORD, Some(&device)).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    // The device's own window: two more attempts, then 429 even with the right password.
    assert_eq!(
        login_on(&app, "owner", "a wrong one of the owner", Some(&device)).await.error_code(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(login_on(&app, "owner", PASSWORD, Some(&device)).await.status, StatusCode::OK);
    assert_limited(&login_on(&app, "owner", PASSWORD, Some(&device)).await, 60);
}

#[tokio::test]
async fn sign_up_sign_in_and_reactivation_answer_a_device_token_that_is_kept() {
    let app = TestApp::new().await;
    let registered = app.register("keeper").await;
    let first = registered.body["deviceToken"].as_str().unwrap().to_owned();
    let login = app.login("keeper").await;
    let second = login.body["deviceToken"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "a sign-in that presents none gets a new one");
    let devices =
        support::keys_of(&app.all_items().await).into_iter().filter(|(_, sk)| sk.starts_with("DEVICE#")).count();
    assert_eq!(devices, 2, "stored by hash, one per device");
    assert!(app.all_items().await.iter().all(|item| !format!("{item:?}").contains(second.split('.').nth(1).unwrap())));

    let access = tokens_of(&login).0;
    app.call(http::Method::POST, "/api/users/deactivate", Some(json!({ "password": PASSWORD })), Some(&access)).await;
    let body = json!({ "identifier": "keeper", "password": PASSWORD, "deviceToken": first });
    let reactivated = app.post("/api/auth/reactivate", body).await;
    assert_eq!(reactivated.status, StatusCode::OK, "{:?}", reactivated.body);
    assert_eq!(reactivated.body["deviceToken"], first.as_str());
}

/// Wrong passwords at sign-in and wrong current passwords of a signed-in user count
/// apart: a stranger locking the sign-in does not lock the owner's password change, and
/// a thief with the owner's access token is capped all the same.
#[tokio::test]
async fn strangers_sign_in_failures_do_not_lock_the_owners_password_change() {
    let app = TestApp::with_env(&[("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "3/3600")]).await;
    let (access, _) = tokens_of(&app.register("owner").await);
    app.clear_of_window_end(3600, 120);
    guesses(&app, "owner", 4).await;
    assert_limited(&login_on(&app, "owner", PASSWORD, None).await, 3600);

    let change = |current: &str| json!({ "currentPassword": current, "newPassword": "quartz-meadow-harbor-58" });
    let post = |body| app.call(http::Method::POST, "/api/auth/change-password", Some(body), Some(&access));
    for _ in 0..3 {
        assert_eq!(post(change("a thief's guess at it")).await.error_code(), "INVALID_CREDENTIALS");
    }
    assert_limited(&post(change(PASSWORD)).await, 3600);

    let (fresh, _) = tokens_of(&app.register("other").await);
    guesses(&app, "other", 4).await;
    let changed = app.call(http::Method::POST, "/api/auth/change-password", Some(change(PASSWORD)), Some(&fresh)).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
}

/// An unknown identifier answers like an account under the same guesses: 401, then 429
/// once the cap is reached, so neither the answers nor a lock-out tell which exists.
#[tokio::test]
async fn unknown_identifiers_lock_like_accounts() {
    let app = TestApp::with_env(&[("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "3/3600")]).await;
    app.register("someone").await;
    app.clear_of_window_end(3600, 120);
    for identifier in ["someone", "no_one_at_all"] {
        for _ in 0..3 {
            let wrong = login_on(&app, identifier, "a wrong guess of a stranger", None).await;
            assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS", "{identifier}");
        }
        assert_limited(&login_on(&app, identifier, "a wrong guess of a stranger", None).await, 3600);
    }
}
