//! The error envelope and headers of API.md on every kind of bad request.

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::json;
use shared::store::Store;
use shared::AppState;
use support::{config_with, test_keys, TestApp, TestResponse, PASSWORD};

fn assert_envelope(response: &TestResponse, status: StatusCode, code: &str) {
    assert_eq!(response.status, status, "{:?}", response.body);
    assert_eq!(response.error_code(), code, "{:?}", response.body);
    assert!(response.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let request_id = response.body["requestId"].as_str().expect("requestId in the body");
    assert!(!request_id.is_empty());
    assert_eq!(response.headers["x-request-id"], request_id, "the same id in header and body");
    assert_eq!(response.headers["x-content-type-options"], "nosniff");
    assert_eq!(response.headers["strict-transport-security"], "max-age=63072000");
    assert!(response.headers["content-type"].to_str().unwrap().starts_with("application/json"));
}

fn raw(method: Method, path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder.body(body.into()).unwrap()
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405() {
    let app = TestApp::new().await;
    assert_envelope(&app.get("/api/nothing/here", None).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_envelope(&app.get("/", None).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_envelope(&app.get("/api/auth/register", None).await, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    let delete_me = app.call(Method::DELETE, "/api/auth/me", None, None).await;
    assert_envelope(&delete_me, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn malformed_json_wrong_type_and_oversized_bodies() {
    let app = TestApp::new().await;
    let cases = [
        (
            raw(Method::POST, "/api/auth/register", Some("application/json"), "{\"username\": "),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            raw(Method::POST, "/api/auth/register", Some("application/json"), "{} trailing"),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            raw(Method::POST, "/api/auth/register", Some("application/json"), "[1, 2]"),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            raw(Method::POST, "/api/auth/register", Some("application/json"), "\"text\""),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
        (
            raw(Method::POST, "/api/auth/login", Some("text/plain"), "identifier=a&password=b"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            raw(Method::POST, "/api/auth/login", None, "{\"identifier\":\"a\"}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            raw(Method::POST, "/api/auth/login", Some("application/json"), vec![0xff, 0xfe, 0x00]),
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        ),
    ];
    for (request, status, code) in cases {
        assert_envelope(&app.send(request).await, status, code);
    }

    let big = json!({ "identifier": "someone", "password": "x".repeat(70 * 1024) }).to_string();
    let response = app.send(raw(Method::POST, "/api/auth/login", Some("application/json"), big)).await;
    assert_envelope(&response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    // Just under the limit is read (and then refused on its merits, not its size).
    let under = json!({ "identifier": "someone", "password": "x".repeat(60 * 1024) }).to_string();
    let response = app.send(raw(Method::POST, "/api/auth/login", Some("application/json; charset=utf-8"), under)).await;
    assert_envelope(&response, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn successful_answers_carry_the_security_headers_too() {
    let app = TestApp::new().await;
    let registered = app.register("headers").await;
    assert_eq!(registered.headers["x-content-type-options"], "nosniff");
    assert_eq!(registered.headers["strict-transport-security"], "max-age=63072000");
    assert!(!registered.headers["x-request-id"].is_empty());
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.headers["cache-control"], "public, max-age=300");
    let health = app.get("/health", None).await;
    assert_eq!((health.status, health.body.clone()), (StatusCode::OK, json!({ "status": "ok" })));
}

#[tokio::test]
async fn unreachable_dynamodb_is_503_quickly() {
    // A port nothing listens on: connection refused, like a DynamoDB that is down.
    let dead = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&support::sdk_config("DYNAMODB_ENDPOINT"))
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let state = AppState::new(
        config_with(&[]),
        Store::from_client(dead, "unreachable"),
        test_keys(),
        support::TEST_CURSOR_SECRET,
    )
    .unwrap();
    let router = local_server::app(state);
    let started = Instant::now();
    let request = raw(
        Method::POST,
        "/api/auth/login",
        Some("application/json"),
        json!({ "identifier": "someone", "password": PASSWORD }).to_string(),
    );
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(!body["error"]["message"].as_str().unwrap().contains("127.0.0.1"), "no internals: {body}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded, not a hang");
}

/// A handler that panics is answered in the envelope, as a bare 500 with the request id.
#[tokio::test]
async fn a_panicking_handler_is_a_500_in_the_envelope() {
    let app = TestApp::new().await;
    let routes = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            "unreachable"
        }),
    );
    let router = shared::http::service(routes, app.state.clone());
    let response = tower::ServiceExt::oneshot(router, raw(Method::GET, "/boom", None, String::new())).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "INTERNAL");
    assert_eq!(body["requestId"], request_id.as_str());
    assert!(!body.to_string().contains("a bug"), "no internals in the answer: {body}");
}
