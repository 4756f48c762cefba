//! Data exports: asked for, built from the stream into moto's S3, downloaded through a
//! presigned link; one a day; the owner's alone; nothing secret in them.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{TestApp, User};

async fn request(app: &TestApp, user: &User) -> support::TestResponse {
    app.call(Method::POST, "/api/users/me/export", None, Some(&user.token)).await
}

async fn status(app: &TestApp, user: &User, export_id: &str) -> support::TestResponse {
    app.get_as(user, &format!("/api/users/me/exports/{export_id}")).await
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn an_export_holds_each_kind_of_data_and_nothing_secret() {
    let app = TestApp::new().await.with_export_bucket().await;
    let (ada, grace, linus, mallory) =
        (app.user("ada").await, app.user("grace").await, app.user("linus").await, app.user("mallory").await);
    app.follow(&ada, &grace).await;
    app.follow(&grace, &ada).await;
    app.set_profile_visibility(&linus, "private").await;
    app.post_as(&ada, "/api/social/follow", json!({ "userId": linus.id })).await;
    // Followers the API no longer shows: one deactivated, one suspended.
    let (gone, suspended) = (app.user("gone").await, app.user("suspended").await);
    app.follow(&gone, &ada).await;
    app.follow(&suspended, &ada).await;
    let deactivated = app.post_as(&gone, "/api/users/deactivate", json!({ "password": support::PASSWORD })).await;
    assert_eq!(deactivated.status, StatusCode::OK, "{:?}", deactivated.body);
    let since = aws_sdk_dynamodb::types::AttributeValue::S(app.state.now().to_rfc3339());
    let restriction = aws_sdk_dynamodb::types::AttributeValue::M([("since".to_owned(), since)].into());
    app.set_user_attribute(&suspended.id, "suspended", restriction).await;
    let asker = app.user("asker").await;
    app.set_profile_visibility(&ada, "private").await;
    app.post_as(&asker, "/api/social/follow", json!({ "userId": ada.id })).await;
    app.post_as(&ada, "/api/social/block", json!({ "userId": mallory.id, "reason": "spam" })).await;
    let mute = json!({ "userId": linus.id, "notifications": false, "durationSeconds": 3600 });
    assert_eq!(app.post_as(&ada, "/api/social/mute", mute).await.status, StatusCode::OK);
    app.set_email_verified(&ada).await;
    let report = app.post_as(&ada, "/api/social/report", json!({ "userId": mallory.id, "reason": "spam" })).await;
    assert_eq!(report.status, StatusCode::CREATED, "{:?}", report.body);
    let ada = app.enrolled_user(ada).await;

    let asked = request(&app, &ada).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let export_id = asked.body["exportId"].as_str().unwrap().to_owned();
    let pending = status(&app, &ada, &export_id).await;
    assert_eq!(pending.body["status"], "pending");
    assert!(pending.body.get("downloadUrl").is_none());

    app.build_export(&ada.id, &export_id).await;
    let ready = status(&app, &ada, &export_id).await;
    assert_eq!(ready.body["status"], "ready", "{:?}", ready.body);
    assert!(ready.body["expiresAt"].is_string());
    let url = ready.body["downloadUrl"].as_str().unwrap();
    let (got, document) = support::http_json(Method::GET, url, None).await;
    assert_eq!(got, StatusCode::OK);

    assert_eq!(document["account"]["id"], ada.id.as_str());
    assert_eq!(document["account"]["email"], "ada@example.org");
    assert!(
        document["account"]["privacySettings"].is_object()
            && document["account"]["notificationPreferences"].is_object()
    );
    assert_eq!(document["secondFactor"]["enabled"], true);
    assert_eq!(document["secondFactor"]["recoveryCodesRemaining"], 10);
    assert!(!document["sessions"].as_array().unwrap().is_empty());
    let devices = document["devices"].as_array().unwrap();
    assert!(!devices.is_empty() && devices.iter().all(|d| d["name"].is_string() && d["id"].is_string()), "{devices:?}");
    let history: Vec<&str> =
        document["securityEvents"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(history.contains(&"mfa_enabled"), "the security history: {history:?}");
    assert_eq!(ids(&document["followers"]), vec![grace.id.clone()], "no deactivated or suspended follower");
    assert_eq!(document["followers"][0]["username"], "grace");
    assert_eq!(ids(&document["following"]), vec![grace.id.clone()]);
    assert_eq!(ids(&document["followRequestsSent"]), vec![linus.id.clone()]);
    assert_eq!(ids(&document["followRequestsReceived"]), vec![asker.id.clone()]);
    assert_eq!(ids(&document["blocking"]), vec![mallory.id.clone()]);
    assert_eq!(document["blocking"][0]["reason"], "spam");
    assert_eq!(ids(&document["mutes"]), vec![linus.id.clone()]);
    assert_eq!(
        (&document["mutes"][0]["notifications"], document["mutes"][0]["endsAt"].is_string()),
        (&json!(false), true)
    );
    assert_eq!(document["reportsFiled"][0]["userId"], mallory.id.as_str());

    let text = document.to_string();
    let factor = app.state.store.factors().totp_factor(&ada.id).await.unwrap().unwrap();
    let user = app.state.store.users().user_by_id(&ada.id).await.unwrap().unwrap();
    for secret in [
        factor.sealed_secret.as_str(),
        user.password_hash.as_str(),
        "passwordHash",
        "refreshTokenHash",
        "sealedSecret",
        "deviceHash",
    ] {
        assert!(!text.contains(secret), "the export shows {secret}");
    }
    for code in &factor.recovery_codes {
        assert!(!text.contains(code.as_str()));
    }

    let message = app.outbox().await.into_iter().find(|m| m.kind == "data_export_ready").expect("announced");
    assert_eq!((message.to.as_str(), message.data["exportId"].as_str()), ("ada@example.org", export_id.as_str()));
    assert!(message.data["downloadUrl"].starts_with("http"));
}

#[tokio::test]
async fn one_export_a_day_and_only_for_its_owner() {
    let app = TestApp::new().await.with_export_bucket().await;
    app.freeze();
    let (ada, grace) = (app.user("ada").await, app.user("grace").await);
    let first = request(&app, &ada).await.body["exportId"].as_str().unwrap().to_owned();
    let again = request(&app, &ada).await;
    assert_eq!((again.status, again.error_code()), (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"));
    let retry_after: i64 = again.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    assert_eq!(status(&app, &grace, &first).await.status, StatusCode::NOT_FOUND, "someone else's export");
    assert_eq!(status(&app, &ada, "not-an-id").await.status, StatusCode::NOT_FOUND);
    app.advance(chrono::Duration::hours(24));
    assert_eq!(request(&app, &ada).await.status, StatusCode::ACCEPTED, "a day later");
    app.advance(chrono::Duration::days(7));
    // A fresh sign-in: the status route wants a live session.
    let ada = User { token: support::tokens_of(&app.login("ada").await).0, ..ada };
    assert_eq!(status(&app, &ada, &first).await.status, StatusCode::NOT_FOUND, "kept 7 days");
}

#[tokio::test]
async fn the_export_needs_a_live_session() {
    let app = TestApp::new().await.with_export_bucket().await;
    let ada = app.user("ada").await;
    let logout = app.call(Method::POST, "/api/auth/logout", None, Some(&ada.token)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(request(&app, &ada).await.status, StatusCode::UNAUTHORIZED, "an ended session");
    let asked = app.post_as(&app.user("bea").await, "/api/users/me/export", json!({})).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let bea = app.login("bea").await;
    let (access, _) = support::tokens_of(&bea);
    let logout = app.call(Method::POST, "/api/auth/logout", None, Some(&access)).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let path = format!("/api/users/me/exports/{}", asked.body["exportId"].as_str().unwrap());
    let answer = app.call(Method::GET, &path, None, Some(&access)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "no export link for an ended session");
}
