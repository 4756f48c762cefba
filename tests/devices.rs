//! The devices list and the end of device tokens: a revoked or ended device token no
//! longer exempts its holder from the per-identifier window (the lock-out protection).

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::{tokens_of, TestApp, TestResponse, NEW_PASSWORD, PASSWORD};

const FIREFOX_ON_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// A sign-in from a browser at an address, presenting `device` if any.
async fn login_from(app: &TestApp, user_agent: &str, ip: &str, device: Option<&str>) -> TestResponse {
    let mut body = json!({ "identifier": "owner", "password": PASSWORD });
    if let Some(device) = device {
        body["deviceToken"] = json!(device);
    }
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/api/auth/login")
        .header("content-type", "application/json")
        .header("user-agent", user_agent)
        .body(Body::from(body.to_string()))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{ip}:443").parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    app.send(request).await
}

fn device_token(response: &TestResponse) -> String {
    response.body["deviceToken"].as_str().expect("a device token").to_owned()
}

/// An app whose per-identifier window is used up by a stranger's guesses: only a device
/// token that still vouches for "owner" gets through.
async fn app_with_a_locked_window() -> TestApp {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "3/3600")]).await;
    app.clear_of_window_end(3600, 600);
    app
}

async fn lock_the_window(app: &TestApp) {
    for _ in 0..3 {
        let guess =
            app.post("/api/auth/login", json!({ "identifier": "owner", "password": "a stranger's guess" })).await;
        assert!(matches!(guess.status.as_u16(), 401 | 429), "{:?}", guess.body);
    }
    let locked = app.login("owner").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "the window is used up");
}

/// Whether the device token still gets "owner" past the used-up window.
async fn vouches(app: &TestApp, device: &str) -> bool {
    let body = json!({ "identifier": "owner", "password": PASSWORD, "deviceToken": device });
    match app.post("/api/auth/login", body).await.status {
        StatusCode::OK => true,
        StatusCode::TOO_MANY_REQUESTS => false,
        other => panic!("unexpected {other}"),
    }
}

fn devices(list: &TestResponse) -> Vec<Value> {
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    list.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn devices_are_listed_with_a_name_their_last_use_and_the_current_one() {
    let app = TestApp::new().await;
    let registered = app.register("owner").await;
    let first = device_token(&registered);
    app.advance(chrono::Duration::minutes(5));
    let from_firefox = login_from(&app, FIREFOX_ON_LINUX, "198.51.100.7", None).await;
    let (access, _) = tokens_of(&from_firefox);
    app.advance(chrono::Duration::minutes(5));
    // The first device signs in again, from elsewhere: its last use and address move.
    let again = login_from(&app, "curl/8.5.0", "203.0.113.9", Some(&first)).await;
    assert_eq!(device_token(&again), first);

    let items = devices(&app.get("/api/auth/devices", Some(&access)).await);
    assert_eq!(items.len(), 2, "{items:?}");
    let (newest, firefox) = (&items[0], &items[1]);
    assert_eq!(newest["lastIpAddress"], "203.0.113.9", "most recently used first");
    assert_eq!(newest["name"], "An unknown device", "named at its first sign-in (the test client sends no agent)");
    assert_eq!(newest["current"], false);
    assert!(newest["lastUsedAt"].as_str() > newest["createdAt"].as_str());
    assert_eq!(firefox["name"], "Firefox on Linux");
    assert_eq!(firefox["lastIpAddress"], "198.51.100.7");
    assert_eq!(firefox["current"], true, "the caller's own device");
    for item in &items {
        let id = item["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert!(!first.contains(id), "the id is not the token");
    }
    assert_eq!(app.get("/api/auth/devices", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_device_stops_vouching_and_only_ones_own_can_be_revoked() {
    let app = app_with_a_locked_window().await;
    let registered = app.register("owner").await;
    let (access, _) = tokens_of(&registered);
    let kept = device_token(&registered);
    let revoked = device_token(&app.login("owner").await);
    let mallory = app.register("mallory").await;
    let (mallory_access, _) = tokens_of(&mallory);

    let items = devices(&app.get("/api/auth/devices", Some(&access)).await);
    let other = items.iter().find(|d| d["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/auth/devices/{other}");
    assert_eq!(app.call(Method::DELETE, &path, None, Some(&mallory_access)).await.error_code(), "NOT_FOUND");
    let unknown = format!("/api/auth/devices/{}", uuid::Uuid::new_v4());
    assert_eq!(app.call(Method::DELETE, &unknown, None, Some(&access)).await.error_code(), "NOT_FOUND");
    assert_eq!(app.call(Method::DELETE, "/api/auth/devices/not-an-id", None, Some(&access)).await.status, 404);

    assert_eq!(app.call(Method::DELETE, &path, None, Some(&access)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::DELETE, &path, None, Some(&access)).await.error_code(), "NOT_FOUND", "once");
    assert_eq!(devices(&app.get("/api/auth/devices", Some(&access)).await).len(), 1);

    lock_the_window(&app).await;
    assert!(!vouches(&app, &revoked).await, "the revoked device is a stranger now");
    assert!(vouches(&app, &kept).await, "the other device still vouches");
}

#[tokio::test]
async fn a_password_change_ends_every_device_token_but_the_callers() {
    let app = app_with_a_locked_window().await;
    let registered = app.register("owner").await;
    let (access, _) = tokens_of(&registered);
    let own = device_token(&registered);
    let other = device_token(&app.login("owner").await);

    let body = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    let changed = app.call(Method::POST, "/api/auth/change-password", Some(body), Some(&access)).await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    let access = changed.body["accessToken"].as_str().unwrap().to_owned();
    let listed = devices(&app.get("/api/auth/devices", Some(&access)).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["current"], true);
    let stored = support::keys_of(&app.all_items().await);
    let device_items = stored.iter().filter(|(_, sk)| sk.starts_with("DEVICE#")).count();
    assert_eq!(device_items, 1, "the ended device's item is deleted, not only ignored");

    lock_the_window(&app).await;
    let with = |device: &str| json!({ "identifier": "owner", "password": NEW_PASSWORD, "deviceToken": device });
    assert_eq!(app.post("/api/auth/login", with(&own)).await.status, StatusCode::OK, "the caller's device stays");
    assert_eq!(app.post("/api/auth/login", with(&other)).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_reset_and_signing_out_everywhere_end_every_device_token() {
    let app = app_with_a_locked_window().await;
    let registered = app.register("owner").await;
    let user_id = registered.body["user"]["id"].as_str().unwrap().to_owned();
    let (access, _) = tokens_of(&registered);
    let first = device_token(&registered);

    let everywhere = app.call(Method::DELETE, "/api/auth/sessions", None, Some(&access)).await;
    assert_eq!(everywhere.status, StatusCode::OK);
    assert_eq!(devices(&app.get("/api/auth/devices", Some(&access)).await), Vec::<Value>::new());
    let second = login_from(&app, FIREFOX_ON_LINUX, "198.51.100.7", Some(&first)).await;
    let second = device_token(&second);
    assert_ne!(second, first, "the ended token is answered with a new one");

    app.post("/api/auth/forgot-password", json!({ "email": "owner@example.org" })).await;
    let token = app.outbox_token("reset_password", &user_id).await;
    let reset = app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": NEW_PASSWORD })).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);

    lock_the_window(&app).await;
    for device in [&first, &second] {
        let body = json!({ "identifier": "owner", "password": NEW_PASSWORD, "deviceToken": device });
        assert_eq!(app.post("/api/auth/login", body).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
}
