//! The checked-in OpenAPI document (shared/openapi.json) is the one the code describes,
//! covers every route of the contract, and is what `GET /api/openapi.json` serves.
//! After changing a route or a type:
//! `UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::|^api_reference::/)'` (docs/API.md too).

use serde_json::Value;
use utoipa::OpenApi;

pub(crate) fn generated() -> String {
    let doc = shared::openapi::document([
        auth::ApiDoc::openapi(),
        users::ApiDoc::openapi(),
        social::ApiDoc::openapi(),
        admin::ApiDoc::openapi(),
    ]);
    doc.to_pretty_json().expect("the document serialises") + "\n"
}

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/openapi.json");

#[test]
fn checked_in_document_is_current() {
    let generated = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap();
    assert!(
        checked_in == generated,
        "shared/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::|^api_reference::/)'` and commit it"
    );
}

/// What generated docs and clients read: a summary and an explicit security requirement
/// on every operation (anonymous ones say `security: []`), servers, and a license.
#[test]
fn every_operation_has_a_summary_and_says_who_may_call_it() {
    let document: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty() && summary.len() <= 60, "{method} {path}: summary {summary:?}");
            assert!(operation["operationId"].is_string(), "{method} {path}");
            assert!(operation["security"].is_array(), "{method} {path}: no security requirement");
        }
    }
    assert_eq!(document["info"]["license"]["identifier"], "MIT");
    assert_eq!(document["servers"].as_array().map(Vec::len), Some(2));
}

/// The limits the document gives clients are the ones the code enforces.
#[test]
fn documented_limits_are_the_enforced_ones() {
    let document: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let schemas = &document["components"]["schemas"];
    let reason = &schemas["BlockRequest"]["properties"]["reason"];
    assert_eq!(reason["maxLength"], shared::services::social::BLOCK_REASON_MAX, "{reason}");
    let details = &schemas["ReportRequest"]["properties"]["details"];
    assert_eq!(details["maxLength"], shared::services::social::REPORT_DETAILS_MAX, "{details}");
}

/// Every route of the service's HTTP contract, and the document's own.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("post", "/api/auth/change-password"),
    ("post", "/api/auth/forgot-password"),
    ("post", "/api/auth/reset-password"),
    ("post", "/api/auth/verify-email"),
    ("post", "/api/auth/resend-verification"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{sessionId}"),
    ("get", "/api/auth/devices"),
    ("delete", "/api/auth/devices/{deviceId}"),
    ("get", "/api/auth/security-events"),
    ("post", "/api/auth/secure-account"),
    ("post", "/api/auth/reactivate"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/api/users/search"),
    ("get", "/api/users/{userId}"),
    ("get", "/api/users/by-username/{username}"),
    ("put", "/api/users/profile"),
    ("put", "/api/users/notifications"),
    ("post", "/api/users/deactivate"),
    ("get", "/api/users/{userId}/stats"),
    ("get", "/health"),
    ("get", "/health/detailed"),
    ("get", "/api/openapi.json"),
    ("get", "/api/docs"),
    ("post", "/api/social/follow"),
    ("post", "/api/social/unfollow"),
    ("get", "/api/social/{userId}/followers"),
    ("get", "/api/social/{userId}/following"),
    ("get", "/api/social/requests"),
    ("post", "/api/social/requests/{userId}/accept"),
    ("post", "/api/social/requests/{userId}/reject"),
    ("post", "/api/auth/change-email"),
    ("post", "/api/auth/confirm-email-change"),
    ("get", "/api/auth/mfa"),
    ("post", "/api/users/me/export"),
    ("get", "/api/users/me/exports/{exportId}"),
    ("post", "/api/auth/mfa/totp/enroll"),
    ("post", "/api/auth/mfa/totp/confirm"),
    ("post", "/api/auth/mfa/verify"),
    ("post", "/api/auth/mfa/recovery-codes"),
    ("post", "/api/auth/mfa/disable"),
    ("post", "/api/auth/mfa/passkey/options"),
    ("post", "/api/auth/passkeys/register/options"),
    ("post", "/api/auth/passkeys/register"),
    ("get", "/api/auth/passkeys"),
    ("patch", "/api/auth/passkeys/{passkeyId}"),
    ("delete", "/api/auth/passkeys/{passkeyId}"),
    ("post", "/api/auth/passkeys/login/options"),
    ("post", "/api/auth/passkeys/login"),
    ("get", "/api/auth/federated/providers"),
    ("post", "/api/auth/federated/{provider}/token"),
    ("get", "/api/auth/federated/{provider}/authorize"),
    ("get", "/api/auth/federated/{provider}/callback"),
    ("post", "/api/auth/federated/exchange"),
    ("post", "/api/auth/federated/signup"),
    ("post", "/api/auth/federated/link"),
    ("get", "/api/auth/identities"),
    ("delete", "/api/auth/identities/{provider}"),
    ("post", "/api/social/block"),
    ("post", "/api/social/unblock"),
    ("get", "/api/social/blocked"),
    ("post", "/api/social/report"),
    ("get", "/api/social/relationship/{userId}"),
    ("post", "/api/social/mute"),
    ("post", "/api/social/unmute"),
    ("get", "/api/social/muted"),
    ("get", "/api/admin/reports"),
    ("get", "/api/admin/reports/{reportId}"),
    ("post", "/api/admin/reports/{reportId}/assign"),
    ("post", "/api/admin/reports/{reportId}/resolve"),
    ("post", "/api/admin/reports/{reportId}/reopen"),
    ("get", "/api/admin/users/{userId}"),
    ("post", "/api/admin/users/{userId}/actions"),
    ("put", "/api/admin/users/{userId}/role"),
    ("get", "/api/admin/audit-log"),
    ("post", "/api/admin/webhooks"),
    ("get", "/api/admin/webhooks"),
    ("delete", "/api/admin/webhooks/{webhookId}"),
    ("post", "/api/admin/webhooks/{webhookId}/rotate-secret"),
    ("get", "/api/admin/webhooks/{webhookId}/deliveries"),
    ("post", "/api/admin/webhooks/{webhookId}/test"),
];

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
        {
            found.push((method.clone(), path.clone()));
        }
    }
    found.sort();
    found
}

#[test]
fn documents_every_route_of_the_contract() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let mut contract: Vec<(String, String)> = CONTRACT.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    contract.sort();
    assert_eq!(operations(&doc), contract);
}

/// Each documented operation reaches a handler: no 405, and no 404 where the
/// operation does not document one (the router's own 404 for an unknown path).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = support::TestApp::new().await;
    let doc: Value = serde_json::from_str(shared::openapi::SPEC).unwrap();
    for (method, path) in operations(&doc) {
        let concrete =
            path.replace("{userId}", "someone").replace("{sessionId}", "some-session").replace("{username}", "someone");
        let method_upper = http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app.call(method_upper, &concrete, None, None).await;
        let documented = doc["paths"][&path][&method]["responses"].as_object().unwrap();
        assert_ne!(response.status, http::StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let status = response.status.as_u16().to_string();
        assert!(
            documented.contains_key(&status),
            "{method} {path} answered an undocumented {status}: {:?}",
            response.body
        );
    }
}

#[tokio::test]
async fn serves_the_checked_in_document() {
    let app = support::TestApp::new().await;
    let response = app.get("/api/openapi.json", None).await;
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(response.body, serde_json::from_str::<Value>(shared::openapi::SPEC).unwrap());
}

/// The reference page is the checked-in one, under a policy that lets its own inline
/// scripts run and nothing else (tests/local_server.rs opens it in Chromium). This
/// request takes no gzip: the page comes unpacked.
#[tokio::test]
async fn serves_the_reference_page_under_a_policy_that_admits_only_its_own_scripts() {
    let app = support::TestApp::new().await;
    let response = app.get("/api/docs", None).await;
    assert_eq!(response.status, http::StatusCode::OK);
    assert_eq!(response.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(response.body.as_str(), Some(include_str!("../shared/api-docs.html")));
    assert!(response.headers.get("content-encoding").is_none());
    let policy = response.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'; script-src 'sha256-"), "{policy}");
    assert_eq!(policy.matches("'sha256-").count(), 2, "the page's two inline scripts: {policy}");
    for absent in ["'unsafe-eval'", "https:", "http:", "*"] {
        assert!(!policy.contains(absent), "{absent} in {policy}");
    }
    assert!(policy.contains("frame-ancestors 'none'"));
    assert!(!shared::openapi::docs_page().contains("cdn.redocly.com/redoc"), "Redoc is inlined, not fetched");
}

/// A client that takes gzip (every browser) gets the page as built in, gzipped, and it
/// unpacks to the checked-in page; one that refuses gzip gets it unpacked.
#[tokio::test]
async fn serves_the_reference_page_gzipped_to_clients_that_take_it() {
    use tower::ServiceExt as _;
    let app = support::TestApp::new().await;
    let fetch = |accept: &'static str| {
        let request = http::Request::get("/api/docs").header("accept-encoding", accept).body(axum::body::Body::empty());
        app.router.clone().oneshot(request.unwrap())
    };
    for accept in ["gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5", "*"] {
        let response = fetch(accept).await.unwrap();
        assert_eq!(response.headers()["content-encoding"], "gzip", "{accept}");
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&bytes[..], shared::openapi::DOCS_PAGE_GZIP);
        let mut page = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut page).unwrap();
        assert_eq!(page, include_str!("../shared/api-docs.html"));
    }
    for accept in ["identity", "br, gzip;q=0"] {
        let response = fetch(accept).await.unwrap();
        assert!(response.headers().get("content-encoding").is_none(), "{accept}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(bytes.len(), include_str!("../shared/api-docs.html").len());
    }
}
