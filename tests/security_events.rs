//! The security history: what each change writes, the failures and refusals beside
//! their counts (bounded under a flood), and the person's read of it.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::user::Role;
use support::{tokens_of, TestApp, User, NEW_PASSWORD, PASSWORD};

/// The caller's events, newest first, as `(type, details)`.
async fn history(app: &TestApp, token: &str, query: &str) -> Vec<(String, Value)> {
    let page = app.get(&format!("/api/auth/security-events{query}"), Some(token)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let items = page.body["items"].as_array().unwrap();
    items.iter().map(|e| (e["type"].as_str().unwrap().to_owned(), e["details"].clone())).collect()
}

fn types(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

/// The history of an account as the store holds it (for accounts that cannot read it).
async fn stored_types(app: &TestApp, user_id: &str) -> Vec<String> {
    let page = app.state.store.security_events().page(user_id, None, 100, None).await.unwrap();
    page.events.iter().map(|e| e.kind.as_str().to_owned()).collect()
}

#[tokio::test]
async fn sign_ins_failures_and_changes_are_written_and_read_newest_first() {
    let app = TestApp::new().await;
    app.freeze();
    let registered = app.register("owner").await;
    let wrong = app.post("/api/auth/login", json!({ "identifier": "owner", "password": "not the password" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    app.advance(chrono::Duration::seconds(1));
    let signed_in = app.login("owner").await;
    let (access, _) = tokens_of(&signed_in);
    app.advance(chrono::Duration::seconds(1));
    let body = json!({ "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD });
    let changed = app.call(Method::POST, "/api/auth/change-password", Some(body), Some(&access)).await;
    let (access, _) = tokens_of(&changed);
    app.advance(chrono::Duration::seconds(1));
    let first_session = tokens_of(&registered).1.split('.').nth(1).unwrap().to_owned();
    let path = format!("/api/auth/sessions/{first_session}");
    // Ended by the change already: nothing to revoke, nothing written.
    assert_eq!(app.call(Method::DELETE, &path, None, Some(&access)).await.status, StatusCode::NOT_FOUND);

    let events = history(&app, &access, "").await;
    assert_eq!(types(&events), ["password_changed", "sign_in", "sign_in_failed"], "{events:?}");
    assert_eq!(events[1].1["amr"], json!(["pwd"]));
    assert_eq!(events[2].1["reason"], "password");
    let page = app.get("/api/auth/security-events?limit=1", Some(&access)).await;
    let item = &page.body["items"][0];
    assert_eq!(item["type"], "password_changed");
    assert!(item["deviceId"].is_string(), "the caller's device: {item}");
    assert!(uuid::Uuid::parse_str(item["id"].as_str().unwrap()).is_ok());
    let cursor = page.body["nextCursor"].as_str().expect("more").to_owned();
    let rest = history(&app, &access, &format!("?limit=5&cursor={cursor}")).await;
    assert_eq!(types(&rest), ["sign_in", "sign_in_failed"]);
    // The sign-up wrote no sign-in event of its own: registration is the account's start.
    assert_eq!(types(&history(&app, &access, "?type=sign_in").await), ["sign_in"]);

    let bad = app.get("/api/auth/security-events?type=everything", Some(&access)).await;
    assert_eq!((bad.status, bad.detail_fields()), (StatusCode::BAD_REQUEST, vec!["type".to_owned()]));
    let forged = app.get("/api/auth/security-events?cursor=bm90LWEtY3Vyc29y", Some(&access)).await;
    assert_eq!(forged.error_code(), "INVALID_CURSOR");
    assert_eq!(app.get("/api/auth/security-events", None).await.status, StatusCode::UNAUTHORIZED);
    let text = serde_json::to_string(&events).unwrap();
    for secret in [PASSWORD, NEW_PASSWORD, "not the password"] {
        assert!(!text.contains(secret), "no password in the history");
    }
}

#[tokio::test]
async fn refused_sign_ins_add_to_one_event_an_hour_and_failures_stop_at_the_cap() {
    let app = TestApp::with_env(&[("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "3/3600")]).await;
    let registered = app.register("owner").await;
    let (access, _) = tokens_of(&registered);
    app.clear_of_window_end(3600, 600);
    app.freeze();
    for _ in 0..12 {
        let guess =
            app.post("/api/auth/login", json!({ "identifier": "owner", "password": "a stranger's guess" })).await;
        assert!(matches!(guess.status.as_u16(), 401 | 429), "{:?}", guess.body);
        app.advance(chrono::Duration::seconds(1));
    }
    // The refusals' event is the hour's (it sorts at the hour's start).
    let events = history(&app, &access, "").await;
    let mut kinds = types(&events);
    kinds.sort();
    assert_eq!(kinds, ["sign_in_blocked", "sign_in_failed", "sign_in_failed", "sign_in_failed"], "{events:?}");
    let (_, blocked) = events.iter().find(|(t, _)| t == "sign_in_blocked").unwrap();
    assert_eq!(blocked["attempts"], 9, "nine refusals, one item: {blocked}");
    assert!(blocked["firstAt"].as_str() < blocked["lastAt"].as_str(), "{blocked}");
}

#[tokio::test]
async fn factor_changes_and_wrong_codes_at_sign_in_are_in_the_history() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let token = app.challenge("ada").await;
    let wrong = app.verify(&token, json!({ "code": "000000" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CODE");
    let done = app.verify(&token, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    let user = User { token: tokens_of(&done).0, ..ada.user };
    app.advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));
    let regenerated =
        app.post_as(&user, "/api/auth/mfa/recovery-codes", json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(regenerated.status, StatusCode::OK);
    app.advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));
    let body = json!({ "password": PASSWORD, "code": app.code(&ada.secret, 0) });
    assert_eq!(app.post_as(&user, "/api/auth/mfa/disable", body).await.status, StatusCode::OK);

    let events = history(&app, &user.token, "").await;
    assert_eq!(
        types(&events),
        ["mfa_disabled", "recovery_codes_regenerated", "sign_in", "sign_in_failed", "mfa_enabled"],
        "{events:?}"
    );
    assert_eq!(events[2].1["amr"], json!(["pwd", "otp"]));
    assert_eq!(events[3].1["reason"], "code");
    // A forged challenge naming the account writes nothing in its history.
    let forged = format!("{}.{}", user.id, "A".repeat(43));
    assert_eq!(app.verify(&forged, json!({ "code": "000000" })).await.error_code(), "INVALID_TOKEN");
    assert_eq!(history(&app, &user.token, "").await.len(), 5);
}

#[tokio::test]
async fn staff_actions_reach_the_targets_history_without_the_staffs_address() {
    let app = TestApp::new().await;
    let admin = app.enrolled_user(app.user("boss").await).await;
    let record = app.state.store.users().user_by_id(&admin.id).await.unwrap().unwrap();
    let operator = shared::services::moderation::Actor::Operator("test-operator");
    shared::services::moderation::grant(&app.state.store, operator, &record, Role::Admin).await.unwrap();
    let target = app.user("target").await;

    let role =
        app.put_as(&admin, &format!("/api/admin/users/{}/role", target.id), json!({ "role": "moderator" })).await;
    assert_eq!(role.status, StatusCode::OK, "{:?}", role.body);
    let path = format!("/api/admin/users/{}/actions", target.id);
    let role_back =
        app.put_as(&admin, &format!("/api/admin/users/{}/role", target.id), json!({ "role": "user" })).await;
    assert_eq!(role_back.status, StatusCode::OK);
    let suspend = app.post_as(&admin, &path, json!({ "type": "suspend", "durationDays": 3 })).await;
    assert_eq!(suspend.status, StatusCode::OK, "{:?}", suspend.body);
    let lift = app.post_as(&admin, &path, json!({ "type": "unsuspend" })).await;
    assert_eq!(lift.status, StatusCode::OK);

    let signed_in = app.login("target").await;
    let events = history(&app, &tokens_of(&signed_in).0, "").await;
    assert_eq!(types(&events)[1..5], ["unsuspended", "suspended", "role_changed", "role_changed"], "{events:?}");
    assert_eq!(events[0].0, "sign_in");
    assert_eq!(events[3].1, json!({ "from": "moderator", "to": "user" }));
    assert!(events[2].1["until"].is_string());
    let page = app.state.store.security_events().page(&target.id, None, 10, None).await.unwrap();
    assert!(page.events[1..5].iter().all(|e| e.ip_address.is_none() && e.user_agent.is_none()));
    // The operator's grant is in the admin's own history.
    assert!(stored_types(&app, &admin.id).await.contains(&"role_changed".to_owned()));
}
