//! CloudFront and WAF in front (the template's `ClientSignInLimit`): the functions refuse
//! every request that did not come through CloudFront, and count a client by the
//! address CloudFront saw, never by a header anyone can send. Requests arrive as API
//! Gateway delivers them, from CloudFront's own address. (WAF's rate-based rule itself
//! runs only in AWS; tests/template.rs checks what it counts.)

use axum::Router;
use http::StatusCode;
use serde_json::json;
use shared::edge::{OriginSecret, ORIGIN_SECRET_HEADER, VIEWER_ADDRESS_HEADER};
use support::{send_to, TestApp, TestResponse, PASSWORD};

const SECRET: &str = "an-origin-secret-of-at-least-32-bytes";
/// The address API Gateway sees behind CloudFront: one of CloudFront's own.
const CLOUDFRONT: &str = "130.176.1.10";

/// A login as API Gateway delivers it, from `source_ip`, with `headers`.
fn login_event(source_ip: &str, headers: &[(&str, &str)]) -> lambda_http::Request {
    let mut all = json!({ "content-type": "application/json" });
    for (name, value) in headers {
        all[*name] = json!(value);
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "ANY /api/auth/login",
        "rawPath": "/api/auth/login",
        "rawQueryString": "",
        "headers": all,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "example",
            "domainName": "example.execute-api.us-east-1.amazonaws.com",
            "http": { "method": "POST", "path": "/api/auth/login", "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "test" },
            "requestId": "edge-login",
            "routeKey": "ANY /api/auth/login",
            "stage": "$default",
            "time": "04/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796385600000u64
        },
        "isBase64Encoded": false,
        "body": json!({ "identifier": "roamer", "password": PASSWORD }).to_string()
    });
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

async fn send(router: &Router, request: lambda_http::Request) -> TestResponse {
    send_to(router, request.map(axum::body::Body::new)).await
}

/// Two logins a minute per address, and the user they sign in as.
async fn service() -> TestApp {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IP", "2/60")]).await;
    app.register("roamer").await;
    app.clear_of_window_end(60, 20);
    app
}

async fn login_via_cloudfront(router: &Router, viewer: &str) -> TestResponse {
    let viewer = format!("{viewer}:50412");
    send(router, login_event(CLOUDFRONT, &[(ORIGIN_SECRET_HEADER, SECRET), (VIEWER_ADDRESS_HEADER, &viewer)])).await
}

#[tokio::test]
async fn requests_that_skip_cloudfront_are_refused_before_any_work() {
    let app = service().await;
    let router = auth::app(app.state.clone().with_edge(Some(OriginSecret::new(SECRET.as_bytes()))));
    let items_before = app.all_items().await.len();

    for headers in [
        vec![],
        vec![(ORIGIN_SECRET_HEADER, "a-guess-at-the-origin-secret-of-32-bytes")],
        vec![(ORIGIN_SECRET_HEADER, &SECRET[..20])],
        vec![(VIEWER_ADDRESS_HEADER, "198.51.100.7:443")],
    ] {
        let refused = send(&router, login_event("198.51.100.7", &headers)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{headers:?}: {:?}", refused.body);
        assert_eq!(refused.error_code(), "FORBIDDEN");
        assert_eq!(refused.body["requestId"], "edge-login", "the envelope, as every error");
    }
    assert_eq!(app.all_items().await.len(), items_before, "nothing counted, nothing written");
    assert_eq!(login_via_cloudfront(&router, "198.51.100.7").await.status, StatusCode::OK);

    // The public keys stay readable at the issuer's URL, where other services look.
    let mut jwks = login_event("198.51.100.7", &[]);
    *jwks.method_mut() = http::Method::GET;
    *jwks.uri_mut() = "/.well-known/jwks.json".parse().unwrap();
    assert_eq!(send(&router, jwks).await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_cloudfront_each_client_is_counted_by_the_address_cloudfront_saw() {
    let app = service().await;
    let router = auth::app(app.state.clone().with_edge(Some(OriginSecret::new(SECRET.as_bytes()))));

    // Every request comes from CloudFront's address; the clients behind it are apart.
    for _ in 0..2 {
        assert_eq!(login_via_cloudfront(&router, "203.0.113.5").await.status, StatusCode::OK);
    }
    let limited = login_via_cloudfront(&router, "203.0.113.5").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", limited.body);
    assert_eq!(login_via_cloudfront(&router, "203.0.113.6").await.status, StatusCode::OK, "another client");
    assert_eq!(login_via_cloudfront(&router, "2001:db8:1:2::1").await.status, StatusCode::OK);
    assert_eq!(login_via_cloudfront(&router, "2001:db8:1:2::2").await.status, StatusCode::OK);
    let same_64 = login_via_cloudfront(&router, "2001:db8:1:2::3").await;
    assert_eq!(same_64.status, StatusCode::TOO_MANY_REQUESTS, "IPv6 counted by /64, as without the edge");

    // Sessions and devices record the client's address, never CloudFront's.
    let items = format!("{:?}", app.all_items().await);
    assert!(items.contains("203.0.113.5") && !items.contains(CLOUDFRONT));
}

#[tokio::test]
async fn without_the_edge_a_forged_viewer_address_counts_for_nothing() {
    let app = service().await;
    let router = auth::app(app.state.clone());

    let login_claiming = |viewer: &str| {
        let forged = format!("{viewer}:443");
        send(&router, login_event("198.51.100.9", &[(VIEWER_ADDRESS_HEADER, &forged)]))
    };
    assert_eq!(login_claiming("203.0.113.1").await.status, StatusCode::OK);
    assert_eq!(login_claiming("203.0.113.2").await.status, StatusCode::OK);
    let third = login_claiming("203.0.113.3").await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "counted by API Gateway's source address");
}
