//! Account events against DynamoDB Local: each change of the catalog writes its event in
//! its own transaction (a change that fails writes none), each event matches its JSON
//! Schema in docs/events/, and none carries personal data beyond ids and usernames.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::{json, Value};
use shared::domain::account_event::EventType;
use shared::domain::user::Role;
use shared::services::moderation::{grant, Actor};
use support::{TestApp, User, PASSWORD};

/// Every account event in the table, oldest first (by sequence).
pub async fn events_in(app: &TestApp) -> Vec<Value> {
    let mut events: Vec<Value> = app
        .all_items()
        .await
        .into_iter()
        .filter(|item| item.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("EVENT#")))
        // (A test's deliberately broken item aside.)
        .filter_map(|item| serde_json::from_str(item["body"].as_s().ok()?).ok())
        .collect();
    events.sort_by_key(|e| e["sequence"].as_i64().unwrap());
    events
}

/// The events of `app` as `(type, subject)`, oldest first.
async fn kinds(app: &TestApp) -> Vec<(String, String)> {
    events_in(app).await.iter().map(|e| (text(&e["type"]), text(&e["subject"]))).collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap().to_owned()
}

/// What `event` breaks of its type's schema file in docs/events/.
fn schema_errors(event: &Value) -> Vec<String> {
    let name = event["type"].as_str().expect("an event has a type");
    let path = format!("{}/../docs/events/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("a schema per type")).unwrap();
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).expect("a valid schema");
    validator.iter_errors(event).map(|e| e.to_string()).collect()
}

pub fn assert_matches_schema(event: &Value) {
    let errors = schema_errors(event);
    assert!(errors.is_empty(), "{} does not match its schema: {errors:?}\n{event}", event["type"]);
}

async fn make_admin(app: &TestApp, name: &str) -> User {
    let user = app.enrolled_user(app.user(name).await).await;
    let record = app.state.store.users().user_by_id(&user.id).await.unwrap().unwrap();
    grant(&app.state.store, Actor::Operator("test-operator"), &record, Role::Admin).await.unwrap();
    user
}

fn ok(response: &support::TestResponse, what: &str) {
    assert!(response.status.is_success(), "{what}: {} {:?}", response.status, response.body);
}

#[tokio::test]
async fn each_account_change_writes_its_event() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    assert_eq!(kinds(&app).await, [("user.created".into(), ada.id.clone())]);

    let token = app.outbox_token("verify_email", &ada.id).await;
    ok(&app.post("/api/auth/verify-email", json!({ "token": token })).await, "verify");
    app.update_profile(&ada, json!({ "bio": "maths", "privacySettings": { "profileVisibility": "private" } })).await;
    let events = events_in(&app).await;
    assert_eq!(events[1]["type"], "user.email_verified");
    assert_eq!(events[2]["type"], "user.updated");
    assert_eq!(events[2]["data"], json!({ "userId": ada.id, "username": "ada", "changed": ["bio", "isPrivate"] }));

    // Settings that no other service sees are not events.
    let settings = app.put_as(&ada, "/api/users/notifications", json!({ "follows": false })).await;
    ok(&settings, "notification settings");
    app.update_profile(&ada, json!({ "privacySettings": { "contactInfoVisibility": "private" } })).await;
    assert_eq!(events_in(&app).await.len(), 3);

    let bob = app.user("bob").await;
    let follow = app.post_as(&bob, "/api/social/follow", json!({ "userId": ada.id })).await;
    assert_eq!(follow.body["status"], "requested", "ada is private: a request is no follow yet");
    assert_eq!(events_in(&app).await.len(), 4, "bob's user.created only");
    ok(&app.post_as(&ada, &format!("/api/social/requests/{}/accept", bob.id), json!({})).await, "accept");
    ok(&app.post_as(&ada, "/api/social/follow", json!({ "userId": bob.id })).await, "follow back");
    let before_block = events_in(&app).await.len();
    ok(&app.post_as(&ada, "/api/social/block", json!({ "userId": bob.id })).await, "block");
    ok(&app.post_as(&ada, "/api/social/unblock", json!({ "userId": bob.id })).await, "unblock");
    let follow_of = |e: &Value| (text(&e["type"]), text(&e["data"]["followerId"]), text(&e["data"]["followeeId"]));
    let events = events_in(&app).await;
    assert_eq!(follow_of(&events[4]), ("follow.created".into(), bob.id.clone(), ada.id.clone()));
    assert_eq!(follow_of(&events[5]), ("follow.created".into(), ada.id.clone(), bob.id.clone()));
    let block: Vec<&Value> = events[before_block..].iter().collect();
    let mut block_kinds: Vec<String> = block.iter().map(|e| text(&e["type"])).collect();
    block_kinds.sort();
    assert_eq!(block_kinds, ["block.created", "block.deleted", "follow.deleted", "follow.deleted"]);
    assert_eq!(block.last().unwrap()["data"], json!({ "blockerId": ada.id, "blockedId": bob.id }));

    ok(&app.post_as(&bob, "/api/social/follow", json!({ "userId": ada.id })).await, "request again");
    ok(&app.post_as(&ada, &format!("/api/social/requests/{}/accept", bob.id), json!({})).await, "accept");
    ok(&app.post_as(&bob, "/api/social/unfollow", json!({ "userId": ada.id })).await, "unfollow");
    let last = events_in(&app).await.pop().unwrap();
    assert_eq!(follow_of(&last), ("follow.deleted".into(), bob.id.clone(), ada.id.clone()));

    for event in events_in(&app).await {
        assert_matches_schema(&event);
        assert!(!event.to_string().contains("@example"), "no email in an event: {event}");
    }
}

#[tokio::test]
async fn moderation_deactivation_and_erasure_write_their_events() {
    let app = TestApp::new().await;
    let admin = make_admin(&app, "root").await;
    let eve = app.user("eve").await;
    let acts = [
        json!({ "type": "warn" }),
        json!({ "type": "limit", "durationDays": 3 }),
        json!({ "type": "unlimit" }),
        json!({ "type": "suspend" }),
        json!({ "type": "unsuspend" }),
    ];
    for body in acts {
        ok(
            &app.post_as(&admin, &format!("/api/admin/users/{}/actions", eve.id), body.clone()).await,
            &body.to_string(),
        );
    }
    let role = app.put_as(&admin, &format!("/api/admin/users/{}/role", eve.id), json!({ "role": "moderator" })).await;
    ok(&role, "role");
    let eves: Vec<Value> = events_in(&app).await.into_iter().filter(|e| e["subject"] == eve.id.as_str()).collect();
    let types: Vec<String> = eves.iter().map(|e| text(&e["type"])).collect();
    assert_eq!(
        types,
        ["user.created", "user.limited", "user.unlimited", "user.suspended", "user.unsuspended", "user.role_changed"],
        "a warning is no event"
    );
    let limited_until = chrono::DateTime::parse_from_rfc3339(eves[1]["data"]["until"].as_str().unwrap()).unwrap();
    assert_eq!((limited_until.to_utc() - app.state.now()).num_days(), 2, "three days from now, less a moment");
    assert_eq!(eves[3]["data"], json!({ "userId": eve.id, "until": null }));
    assert_eq!(eves[5]["data"], json!({ "userId": eve.id, "role": "moderator" }));

    // The suspension ended eve's sessions.
    let eve = User::signed_in("eve", &app.login("eve").await);
    let gone = app.post_as(&eve, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    ok(&gone, "deactivate");
    ok(&app.post("/api/auth/reactivate", json!({ "identifier": "eve", "password": PASSWORD })).await, "reactivate");
    let eve = User::signed_in("eve", &app.login("eve").await);
    ok(&app.post_as(&eve, "/api/users/deactivate", json!({ "password": PASSWORD })).await, "deactivate again");
    let purge = || async {
        let cutoff = app.state.now() - chrono::Duration::days(30);
        let deadline = Instant::now() + Duration::from_secs(60);
        app.state.store.purge().purge_deleted_accounts(cutoff, deadline, None).await.unwrap()
    };
    assert_eq!(purge().await.accounts_deleted, 0);
    assert!(!kinds(&app).await.contains(&("user.deleted".into(), eve.id.clone())), "not before the erasure");
    app.advance(chrono::Duration::days(31));
    assert_eq!(purge().await.accounts_deleted, 1);
    let tail: Vec<String> = kinds(&app).await.into_iter().filter(|(_, s)| *s == eve.id).map(|(t, _)| t).collect();
    assert_eq!(tail[tail.len() - 4..], ["user.deactivated", "user.reactivated", "user.deactivated", "user.deleted"]);
    for event in events_in(&app).await {
        assert_matches_schema(&event);
    }
}

#[tokio::test]
async fn a_change_that_fails_writes_no_event() {
    let app = TestApp::new().await;
    app.user("ada").await;
    // The same email again: the sign-up's transaction fails on its claim, event and all.
    let body = json!({ "username": "ada2", "email": "ada@example.org", "password": PASSWORD, "agreeToTerms": true });
    assert_eq!(app.post("/api/auth/register", body).await.status, StatusCode::CONFLICT);
    let body = json!({ "username": "ADA", "email": "other@example.com", "password": PASSWORD, "agreeToTerms": true });
    assert_eq!(app.post("/api/auth/register", body).await.status, StatusCode::CONFLICT);
    assert_eq!(kinds(&app).await.len(), 1);
}

#[test]
fn every_event_type_has_a_schema_and_every_schema_a_type() {
    let dir = format!("{}/../docs/events", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".schema.json").map(str::to_owned))
        .collect();
    files.sort();
    let mut types: Vec<String> = EventType::ALL.iter().map(|t| t.as_str().to_owned()).collect();
    types.sort();
    assert_eq!(files, types);
}

#[test]
fn the_schemas_refuse_what_the_catalog_does_not_say() {
    let event = serde_json::to_value(shared::domain::account_event::AccountEvent::follow(
        true,
        "0b7e3c5e-7d1f-4c3a-9a57-2f1a7c1e8b10",
        "5c0d8f6e-2b1a-4e9f-8c3d-7a6b5c4d3e2f",
        shared::clock::system_now(),
    ))
    .unwrap();
    assert_matches_schema(&event);
    let mut with_email = event.clone();
    with_email["data"]["email"] = json!("ada@example.org");
    let mut not_an_id = event.clone();
    not_an_id["subject"] = json!("ada");
    let mut other_version = event;
    other_version["version"] = json!(2);
    for wrong in [with_email, not_an_id, other_version] {
        assert!(!schema_errors(&wrong).is_empty(), "accepted: {wrong}");
    }
}
