//! Rate limits trip at their threshold, answer 429 with Retry-After, and reset with
//! their window. Limits are set small through the environment; windows of 3 s, and
//! tests that count within one window start at a window's beginning.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use support::{tokens_of, TestApp, TestResponse, PASSWORD};

fn assert_limited(response: &TestResponse, window_secs: u64) {
    assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", response.body);
    assert_eq!(response.error_code(), "RATE_LIMITED");
    let retry_after: u64 = response.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=window_secs).contains(&retry_after), "Retry-After {retry_after}");
}

/// Sleeps until a fixed window of `secs` begins, so the hits that follow share it.
async fn start_of_window(secs: i64) {
    let now = chrono::Utc::now();
    let into = now.timestamp().rem_euclid(secs) as u64 * 1000 + now.timestamp_subsec_millis() as u64;
    tokio::time::sleep(Duration::from_millis(secs as u64 * 1000 - into + 50)).await;
}

/// Sleeps into the window after the one that answered `response`.
async fn next_window(response: &TestResponse) {
    let retry_after: u64 = response.headers["retry-after"].to_str().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(retry_after * 1000 + 100)).await;
}

#[tokio::test]
async fn login_per_identifier_trips_and_resets() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "3/3")]).await;
    app.register("limited").await;
    start_of_window(3).await;
    let mut last = None;
    for attempt in 1..=4 {
        app.calls.take();
        let response = app.login("limited").await;
        if attempt <= 3 {
            assert_eq!(response.status, StatusCode::OK, "attempt {attempt}");
        } else {
            assert_limited(&response, 3);
            assert_eq!(app.calls.take(), ["BatchGetItem"], "refused on the first read, before argon2, writing nothing");
            last = Some(response);
        }
    }
    // Another identifier is not affected; the same one in other case is.
    assert_limited(&app.login("LIMITED").await, 3);
    assert_eq!(app.login("limited@example.org").await.status, StatusCode::OK);
    next_window(&last.unwrap()).await;
    assert_eq!(app.login("limited").await.status, StatusCode::OK, "a new window");
}

#[tokio::test]
async fn concurrent_logins_get_no_answer_beyond_the_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "3/5")]).await;
    app.register("raced").await;
    start_of_window(5).await;
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
    support::clear_of_window_end(60, 20).await;
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
    support::clear_of_window_end(60, 20).await;
    assert_eq!(app.post_from("203.0.113.5", "/api/auth/register", body("first")).await.status, StatusCode::CREATED);
    assert_eq!(app.post_from("203.0.113.5", "/api/auth/register", body("second")).await.status, StatusCode::CREATED);
    assert_limited(&app.post_from("203.0.113.5", "/api/auth/register", body("third")).await, 60);
    assert_eq!(app.post_from("203.0.113.6", "/api/auth/register", body("third")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn refresh_per_session() {
    let app = TestApp::with_env(&[("RATE_LIMIT_REFRESH_PER_SESSION", "2/60")]).await;
    let (_, mut refresh) = tokens_of(&app.register("refresher").await);
    support::clear_of_window_end(60, 20).await;
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
    support::clear_of_window_end(60, 20).await;
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
    support::clear_of_window_end(60, 20).await;
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
    let app = TestApp::with_env(&[("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "3/3")]).await;
    app.register("target").await;
    app.register("bystander").await;
    start_of_window(3).await;
    let wrong = json!({ "identifier": "target", "password": "not-the-password-at-all" });
    for _ in 0..3 {
        assert_eq!(app.post("/api/auth/login", wrong.clone()).await.error_code(), "INVALID_CREDENTIALS");
    }
    let locked = app.login("target").await;
    assert_limited(&locked, 3);
    assert_limited(&app.login("target@example.org").await, 3);
    assert_eq!(app.login("bystander").await.status, StatusCode::OK);
    next_window(&locked).await;
    assert_eq!(app.login("target").await.status, StatusCode::OK);
}
