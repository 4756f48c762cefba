//! No request a client can send answers 5xx: over-long and odd-Unicode values in every
//! path id, query parameter, body id and token, anonymously and signed in.

use http::{Method, StatusCode};
use serde_json::json;
use support::TestApp;

/// Values that once reached DynamoDB as keys, or might: over-long, expanding under
/// Unicode folding, control and direction characters, lone combining marks, emoji.
fn hostile_values() -> Vec<String> {
    vec![
        "a".repeat(3000),
        "\u{FDFA}".repeat(50),
        "\u{FDFA}".repeat(400),
        "\u{0}abc".into(),
        "\u{202E}evil\u{202C}".into(),
        "\u{0301}".repeat(400),
        "😀".repeat(600),
        "../../etc/passwd".into(),
        "%".into(),
        " ".into(),
        "USER#x".into(),
    ]
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn hostile_path_ids_and_queries_never_answer_5xx() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let routes = [
        (Method::GET, "/api/users/{}"),
        (Method::GET, "/api/users/{}/stats"),
        (Method::GET, "/api/users/by-username/{}"),
        (Method::GET, "/api/social/{}/followers"),
        (Method::GET, "/api/social/{}/following"),
        (Method::POST, "/api/social/requests/{}/accept"),
        (Method::POST, "/api/social/requests/{}/reject"),
        (Method::GET, "/api/social/relationship/{}"),
        (Method::DELETE, "/api/auth/sessions/{}"),
        (Method::GET, "/api/users/search?q={}"),
        (Method::GET, "/api/users/search?q=ada&cursor={}"),
        (Method::GET, "/api/users/search?q=ada&limit={}"),
        (Method::GET, "/api/social/ME/followers?cursor={}"),
        (Method::GET, "/api/social/ME/following?limit={}"),
        (Method::GET, "/api/social/requests?cursor={}"),
        (Method::GET, "/api/social/blocked?cursor={}&limit={}"),
    ];
    for value in hostile_values() {
        for (method, template) in &routes {
            let path = template.replace("ME", &ada.id).replace("{}", &encode(&value));
            for token in [None, Some(ada.token.as_str())] {
                let response = app.call(method.clone(), &path, None, token).await;
                assert!(
                    response.status.as_u16() < 500,
                    "{method} {}… ({} chars) answered {}: {:?}",
                    &path.chars().take(80).collect::<String>(),
                    value.chars().count(),
                    response.status,
                    response.body
                );
            }
        }
    }
    let id_path = app.get(&format!("/api/users/{}", "a".repeat(3000)), None).await;
    assert_eq!(id_path.status, StatusCode::NOT_FOUND, "an id of the wrong shape names nothing");
    let folded = app.get(&format!("/api/users/search?q={}", encode(&"\u{FDFA}".repeat(50))), None).await;
    assert_eq!(folded.status, StatusCode::OK, "a query that folds long is searched by its first 200 bytes");
}

#[tokio::test]
async fn hostile_body_ids_tokens_and_names_never_answer_5xx() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    app.set_email_verified(&ada).await;
    for value in hostile_values() {
        for path in ["/api/social/follow", "/api/social/unfollow", "/api/social/block", "/api/social/unblock"] {
            let response = app.post_as(&ada, path, json!({ "userId": value })).await;
            assert!(response.status.as_u16() < 500, "{path} {}: {:?}", response.status, response.body);
        }
        let report = app.post_as(&ada, "/api/social/report", json!({ "userId": value, "reason": "spam" })).await;
        assert!(report.status.as_u16() < 500, "report {}: {:?}", report.status, report.body);
        for (path, body) in [
            ("/api/auth/verify-email", json!({ "token": value })),
            ("/api/auth/reset-password", json!({ "token": value, "newPassword": "quartz-meadow-harbor-58" })),
            ("/api/auth/refresh", json!({ "refreshToken": value })),
            ("/api/auth/login", json!({ "identifier": value, "password": value })),
            ("/api/auth/forgot-password", json!({ "email": value })),
        ] {
            let response = app.post(path, body).await;
            assert!(response.status.as_u16() < 500, "{path} {}: {:?}", response.status, response.body);
        }
        let names = app.put_as(&ada, "/api/users/profile", json!({ "firstName": value, "lastName": value })).await;
        assert!(names.status.as_u16() < 500, "profile {}: {:?}", names.status, names.body);
    }
    // Names of letters that fold long are accepted and found.
    let long = "\u{FDFA}".repeat(100);
    app.update_profile(&ada, json!({ "firstName": long, "lastName": long })).await;
    let found = app.get(&format!("/api/users/search?q={}", encode(&"\u{FDFA}".repeat(3))), None).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["items"][0]["id"], ada.id.as_str(), "{:?}", found.body);
}
