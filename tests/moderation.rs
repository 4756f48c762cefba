//! Moderation through the admin routes against DynamoDB Local: roles and their guards,
//! the report queue, actions and what they do on every read path, the audit log.

use http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::user::Role;
use shared::services::moderation::{grant, Actor};
use support::{TestApp, TestResponse, User, PASSWORD};

/// Gives `user` a role as the operator's `grant-role` does.
async fn make(app: &TestApp, user: &User, role: Role) {
    let record = app.state.store.users().user_by_id(&user.id).await.unwrap().unwrap();
    grant(&app.state.store, Actor::Operator("test-operator"), &record, role).await.unwrap();
}

/// A staff member with a second factor, signed in through it (as the admin routes need).
async fn staff(app: &TestApp, name: &str, role: Role) -> User {
    let user = app.enrolled_user(app.user(name).await).await;
    make(app, &user, role).await;
    user
}

/// An open report of `target` by a new verified user `reporter`; its id.
async fn report(app: &TestApp, reporter: &str, target: &User) -> String {
    let reporter = app.user(reporter).await;
    app.set_email_verified(&reporter).await;
    let body = json!({ "userId": target.id, "reason": "harassment", "details": "rude replies" });
    let filed = app.post_as(&reporter, "/api/social/report", body).await;
    assert_eq!(filed.status, StatusCode::CREATED, "{:?}", filed.body);
    filed.body["id"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, who: &User, target: &User, body: Value) -> TestResponse {
    app.post_as(who, &format!("/api/admin/users/{}/actions", target.id), body).await
}

fn ok(response: &TestResponse) -> &Value {
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    &response.body
}

fn forbidden(response: &TestResponse, what: &str) {
    assert_eq!((response.status, response.error_code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{what}");
}

/// The audit entries about `target`, newest first, by action name.
async fn audit_actions(app: &TestApp, admin: &User, target: &str) -> Vec<String> {
    let log = app.get_as(admin, &format!("/api/admin/audit-log?targetId={target}")).await;
    ok(&log)["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn only_staff_reach_the_admin_routes_and_only_admins_change_roles() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    let report_id = report(&app, "rita", &bob).await;
    let role = json!({ "role": "moderator" });
    let calls = [
        (Method::GET, "/api/admin/reports".to_owned(), None),
        (Method::GET, format!("/api/admin/reports/{report_id}"), None),
        (Method::POST, format!("/api/admin/reports/{report_id}/assign"), Some(json!({}))),
        (Method::POST, format!("/api/admin/reports/{report_id}/resolve"), Some(json!({ "action": "none" }))),
        (Method::POST, format!("/api/admin/reports/{report_id}/reopen"), Some(json!({}))),
        (Method::GET, format!("/api/admin/users/{}", bob.id), None),
        (Method::POST, format!("/api/admin/users/{}/actions", bob.id), Some(json!({ "type": "warn" }))),
        (Method::PUT, format!("/api/admin/users/{}/role", bob.id), Some(role.clone())),
        (Method::GET, "/api/admin/audit-log".to_owned(), None),
    ];
    for (method, path, body) in &calls {
        let anonymous = app.call(method.clone(), path, body.clone(), None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        forbidden(&app.call(method.clone(), path, body.clone(), Some(&ann.token)).await, path);
    }

    let moderator = staff(&app, "mod", Role::Moderator).await;
    assert_eq!(ok(&app.get_as(&moderator, "/api/admin/reports").await)["items"][0]["id"], report_id.as_str());
    forbidden(&app.put_as(&moderator, &format!("/api/admin/users/{}/role", bob.id), role.clone()).await, "moderator");
    let admin = staff(&app, "boss", Role::Admin).await;
    forbidden(&app.put_as(&admin, &format!("/api/admin/users/{}/role", admin.id), role.clone()).await, "own role");
    assert_eq!(
        ok(&app.put_as(&admin, &format!("/api/admin/users/{}/role", ann.id), role.clone()).await)["role"],
        "moderator"
    );
    assert_eq!(ok(&app.get_as(&ann, "/api/auth/me").await)["role"], "moderator");
    let bad = app.put_as(&admin, &format!("/api/admin/users/{}/role", ann.id), json!({ "role": "owner" })).await;
    assert_eq!(bad.detail_fields(), vec!["role".to_string()]);
    let unknown = app.put_as(&admin, "/api/admin/users/no-such-user/role", role).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&admin, "/api/admin/reports/no-such-report").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&admin, "/api/admin/users/no-such-user").await.status, StatusCode::NOT_FOUND);
    let entries = audit_actions(&app, &admin, &ann.id).await;
    assert_eq!(entries, vec!["user.role"], "the promotion is in the log");
}

#[tokio::test]
async fn staff_never_act_on_themselves_and_moderators_never_on_staff() {
    let app = TestApp::new().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let other_moderator = staff(&app, "mod2", Role::Moderator).await;
    let admin = staff(&app, "boss", Role::Admin).await;
    let about_moderator = report(&app, "rita", &moderator).await;
    let about_other = report(&app, "sam", &other_moderator).await;

    forbidden(&act(&app, &moderator, &moderator, json!({ "type": "warn" })).await, "own account");
    for path in ["assign", "resolve", "reopen"] {
        let own = app
            .post_as(&moderator, &format!("/api/admin/reports/{about_moderator}/{path}"), json!({ "action": "none" }))
            .await;
        forbidden(&own, "a report about oneself");
        let staff_report = app
            .post_as(&moderator, &format!("/api/admin/reports/{about_other}/{path}"), json!({ "action": "none" }))
            .await;
        forbidden(&staff_report, "a moderator and a report about staff");
    }
    forbidden(&act(&app, &moderator, &other_moderator, json!({ "type": "suspend" })).await, "moderator on moderator");
    forbidden(&act(&app, &moderator, &admin, json!({ "type": "warn" })).await, "moderator on admin");
    // An admin may act on a moderator (never on themselves).
    ok(&act(&app, &admin, &other_moderator, json!({ "type": "warn", "note": "be careful" })).await);
    forbidden(&act(&app, &admin, &admin, json!({ "type": "warn" })).await, "admin on themselves");
    assert_eq!(audit_actions(&app, &admin, &other_moderator.id).await, vec!["user.warn", "user.role"]);
    assert_eq!(audit_actions(&app, &admin, &moderator.id).await, vec!["user.role"], "refusals write nothing");
}

async fn demote(app: &TestApp, who: &User, whom: &User) -> TestResponse {
    app.put_as(who, &format!("/api/admin/users/{}/role", whom.id), json!({ "role": "user" })).await
}

fn suspend() -> Value {
    json!({ "type": "suspend" })
}

/// The security review's race: two admins demoting each other at once both succeeded,
/// leaving none. Each staff write holds only while its actor still holds the role (and
/// the session generation) read at the start, so at most one of the two wins; the same
/// for two admins suspending each other. Three pairs race, each at once.
#[tokio::test]
async fn two_admins_acting_on_each_other_at_once_leave_an_admin() {
    let app = TestApp::new().await;
    let mut pairs = Vec::new();
    for i in 0..3 {
        pairs.push((
            staff(&app, &format!("ann{i}"), Role::Admin).await,
            staff(&app, &format!("bob{i}"), Role::Admin).await,
        ));
    }
    for (i, (ann, bob)) in pairs.iter().enumerate() {
        let (first, second) = match i {
            0 | 1 => tokio::join!(demote(&app, ann, bob), demote(&app, bob, ann)),
            _ => tokio::join!(act(&app, ann, bob, suspend()), act(&app, bob, ann, suspend())),
        };
        let answers = [&first, &second];
        let won = answers.iter().filter(|a| a.status == StatusCode::OK).count();
        assert!(won <= 1, "pair {i}: both won: {:?} {:?}", first.body, second.body);
        // The loser lost at its write (409), or read itself demoted (403 FORBIDDEN) or
        // suspended (403 ACCOUNT_SUSPENDED) already, or found its session ended by the
        // suspension (401), depending on how the race fell.
        for lost in answers.iter().filter(|a| a.status != StatusCode::OK) {
            let refused = ["CONFLICT", "FORBIDDEN", "ACCOUNT_SUSPENDED", "UNAUTHORIZED"].contains(&lost.error_code());
            assert!(refused, "pair {i}: {} {:?}", lost.status, lost.body);
        }
        let mut admins = 0;
        for who in [ann, bob] {
            let record = app.state.store.users().user_by_id(&who.id).await.unwrap().unwrap();
            admins += usize::from(record.role == Role::Admin && !record.is_suspended());
        }
        assert!(admins >= 1, "pair {i}: no admin left");
    }
}

#[tokio::test]
async fn a_demoted_moderator_is_refused_on_the_next_call_with_the_token_they_hold() {
    let app = TestApp::new().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let admin = staff(&app, "boss", Role::Admin).await;
    ok(&app.get_as(&moderator, "/api/admin/reports").await);
    let demoted =
        app.put_as(&admin, &format!("/api/admin/users/{}/role", moderator.id), json!({ "role": "user" })).await;
    assert_eq!(ok(&demoted)["role"], "user");
    forbidden(&app.get_as(&moderator, "/api/admin/reports").await, "the same access token, the next call");
}

fn mfa_required(response: &TestResponse, what: &str) {
    assert_eq!((response.status, response.error_code()), (StatusCode::FORBIDDEN, "MFA_REQUIRED"), "{what}");
}

/// Staff reach the admin routes only through a session that passed their second factor
/// within the last 12 hours; staff without one are told to enroll it.
#[tokio::test]
async fn staff_need_a_second_factor_passed_within_twelve_hours() {
    let app = TestApp::new().await;
    let plain = staff_without_a_factor(&app, "plain").await;
    mfa_required(&app.get_as(&plain, "/api/admin/reports").await, "staff without a second factor");

    let enrolled = app.enrolled("mod").await;
    make(&app, &enrolled.user, Role::Moderator).await;
    ok(&app.get_as(&enrolled.user, "/api/admin/reports").await);
    let token = app.aal1_session(&enrolled.user).await;
    mfa_required(&app.get("/api/admin/reports", Some(&token)).await, "a session that did not pass it");

    // Twelve hours on, the same session (refreshed, still aal2) must pass it again.
    app.advance(chrono::Duration::hours(12) + chrono::Duration::minutes(1));
    let refreshed = app.refresh(&enrolled.refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    let (access, _) = support::tokens_of(&refreshed);
    assert_eq!(app.claims(&access).aal, shared::domain::mfa::Aal::Aal2);
    mfa_required(&app.get("/api/admin/reports", Some(&access)).await, "a pass older than 12 hours");
    let signed_in = app.verify(&app.challenge("mod").await, json!({ "code": app.code(&enrolled.secret, 0) })).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let (access, _) = support::tokens_of(&signed_in);
    ok(&app.get("/api/admin/reports", Some(&access)).await);
}

/// A staff account as the operator's first grant leaves it: no second factor yet.
async fn staff_without_a_factor(app: &TestApp, name: &str) -> User {
    let user = app.user(name).await;
    make(app, &user, Role::Moderator).await;
    user
}

#[tokio::test]
async fn the_queue_assign_resolve_and_reopen() {
    let app = TestApp::new().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let (bob, carl) = (app.user("bob").await, app.user("carl").await);
    let first = report(&app, "rita", &bob).await;
    app.advance(chrono::Duration::seconds(1));
    let second = report(&app, "sam", &carl).await;
    app.advance(chrono::Duration::seconds(1));
    let third = report(&app, "tess", &carl).await;

    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let open = app.get_as(&moderator, "/api/admin/reports").await;
    assert_eq!(ids(ok(&open)), vec![first.clone(), second.clone(), third.clone()], "oldest first");
    let page = app.get_as(&moderator, "/api/admin/reports?limit=2").await;
    let cursor = ok(&page)["nextCursor"].as_str().unwrap().to_owned();
    let rest = app.get_as(&moderator, &format!("/api/admin/reports?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(ok(&rest)), vec![third.clone()]);
    let shown = &ok(&open)["items"][0];
    assert_eq!(
        (shown["target"]["username"].as_str(), shown["target"]["status"].as_str()),
        (Some("bob"), Some("active"))
    );
    assert_eq!((shown["reporter"]["username"].as_str(), shown["reason"].as_str()), (Some("rita"), Some("harassment")));

    let assigned = app.post_as(&moderator, &format!("/api/admin/reports/{first}/assign"), json!({})).await;
    assert_eq!(ok(&assigned)["assignedTo"], json!({ "id": moderator.id, "username": "mod" }));
    let dismissed = app
        .post_as(
            &moderator,
            &format!("/api/admin/reports/{first}/resolve"),
            json!({ "action": "none", "note": "banter" }),
        )
        .await;
    let dismissed = ok(&dismissed);
    assert_eq!((dismissed["status"].as_str(), dismissed["action"].as_str()), (Some("resolved"), Some("none")));
    assert_eq!(dismissed["resolvedBy"]["id"], moderator.id.as_str());
    let again =
        app.post_as(&moderator, &format!("/api/admin/reports/{first}/resolve"), json!({ "action": "none" })).await;
    assert_eq!(again.error_code(), "CONFLICT", "resolved already");
    assert_eq!(ok(&app.get_as(&bob, &format!("/api/users/{}", bob.id)).await)["id"], bob.id.as_str(), "no action");

    // A warning on one of carl's reports resolves both.
    let warned =
        app.post_as(&moderator, &format!("/api/admin/reports/{second}/resolve"), json!({ "action": "warn" })).await;
    assert_eq!(ok(&warned)["action"], "warn");
    let third_now = app.get_as(&moderator, &format!("/api/admin/reports/{third}")).await;
    assert_eq!(
        (ok(&third_now)["status"].as_str(), third_now.body["action"].as_str()),
        (Some("resolved"), Some("warn"))
    );
    assert_eq!(ids(ok(&app.get_as(&moderator, "/api/admin/reports").await)), Vec::<String>::new());
    let resolved = app.get_as(&moderator, "/api/admin/reports?status=resolved").await;
    let resolved = ids(ok(&resolved));
    assert_eq!(resolved.len(), 3);
    assert_eq!(resolved.last(), Some(&first), "newest first: the dismissal came first");
    let warnings = app.outbox().await.into_iter().filter(|m| m.kind == "account_moderated").collect::<Vec<_>>();
    assert_eq!(warnings.len(), 1, "one notice for the action");
    assert_eq!((warnings[0].user_id.as_str(), warnings[0].data["action"].as_str()), (carl.id.as_str(), "warned"));
    for reporter in ["sam", "tess"] {
        assert!(!warnings[0].data.values().any(|v| v.contains(reporter)), "the notice never names a reporter");
    }

    let reopened = app.post_as(&moderator, &format!("/api/admin/reports/{first}/reopen"), json!({})).await;
    assert_eq!((ok(&reopened)["status"].as_str(), reopened.body["action"].clone()), (Some("open"), Value::Null));
    assert_eq!(ids(ok(&app.get_as(&moderator, "/api/admin/reports").await)), vec![first.clone()]);
    let bad = app.get_as(&moderator, "/api/admin/reports?status=closed").await;
    assert_eq!(bad.detail_fields(), vec!["status".to_string()]);
}

#[tokio::test]
async fn a_suspension_ends_every_session_and_hides_the_account_everywhere() {
    let app = TestApp::new().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let viewer = app.user("viewer").await;
    let registered = app.register("zed").await;
    let (access, refresh) = support::tokens_of(&registered);
    let zed =
        User { id: registered.body["user"]["id"].as_str().unwrap().to_owned(), token: access, name: "zed".into() };
    app.follow(&zed, &viewer).await;
    app.follow(&viewer, &zed).await;
    let report_id = report(&app, "rita", &zed).await;

    let suspended =
        act(&app, &moderator, &zed, json!({ "type": "suspend", "note": "spam", "reportId": report_id })).await;
    assert_eq!(ok(&suspended)["status"], "suspended");
    assert_eq!(
        (suspended.body["suspended"].as_bool(), suspended.body["suspendedUntil"].clone()),
        (Some(true), Value::Null)
    );

    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED, "the session ended");
    let follow = app.post_as(&zed, "/api/social/follow", json!({ "userId": moderator.id })).await;
    assert_eq!(follow.error_code(), "ACCOUNT_SUSPENDED", "a graph write with the old access token");
    let sessions: Vec<_> = support::keys_of(&app.all_items().await)
        .into_iter()
        .filter(|(pk, sk)| *pk == format!("USER#{}", zed.id) && sk.starts_with("SESSION#"))
        .collect();
    assert_eq!(sessions, vec![], "the ended sessions are deleted");
    for identifier in ["zed", "zed@example.org"] {
        let login = app.login(identifier).await;
        assert_eq!((login.status, login.error_code()), (StatusCode::FORBIDDEN, "ACCOUNT_SUSPENDED"));
    }
    let wrong = app.post("/api/auth/login", json!({ "identifier": "zed", "password": "not the password at all" }));
    assert_eq!(wrong.await.error_code(), "INVALID_CREDENTIALS", "only the right password learns of the suspension");
    let reactivate = app.post("/api/auth/reactivate", json!({ "identifier": "zed", "password": PASSWORD })).await;
    assert_eq!(reactivate.error_code(), "ACCOUNT_SUSPENDED");

    for path in [
        format!("/api/users/{}", zed.id),
        "/api/users/by-username/zed".to_owned(),
        format!("/api/users/{}/stats", zed.id),
        format!("/api/social/relationship/{}", zed.id),
        format!("/api/social/{}/followers", zed.id),
    ] {
        assert_eq!(app.get_as(&viewer, &path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(app.get(&format!("/api/users/{}", zed.id), None).await.status, StatusCode::NOT_FOUND, "anonymous");
    let search = app.get_as(&viewer, "/api/users/search?q=zed").await;
    assert_eq!(ok(&search)["items"], json!([]));
    for list in ["followers", "following"] {
        let listed = app.get_as(&viewer, &format!("/api/social/{}/{list}", viewer.id)).await;
        assert_eq!(ok(&listed)["items"], json!([]), "{list}");
    }
    let stranger = app.user("stranger").await;
    for who in [&viewer, &stranger] {
        let follow = app.post_as(who, "/api/social/follow", json!({ "userId": zed.id })).await;
        assert_eq!(follow.status, StatusCode::NOT_FOUND, "as a deactivated account: {}", who.name);
    }

    let report = app.get_as(&moderator, &format!("/api/admin/reports/{report_id}")).await;
    assert_eq!(
        (ok(&report)["status"].as_str(), report.body["target"]["status"].as_str()),
        (Some("resolved"), Some("suspended"))
    );
    let notice = app.outbox().await.into_iter().find(|m| m.kind == "account_moderated").unwrap();
    assert_eq!((notice.to.as_str(), notice.data["action"].as_str()), ("zed@example.org", "suspended"));
    assert!(!notice.data.contains_key("until"));

    let lifted = act(&app, &moderator, &zed, json!({ "type": "unsuspend" })).await;
    assert_eq!(ok(&lifted)["status"], "active");
    assert_eq!(app.login("zed").await.status, StatusCode::OK);
    assert_eq!(ok(&app.get_as(&viewer, &format!("/api/users/{}", zed.id)).await)["username"], "zed");
    let again = act(&app, &moderator, &zed, json!({ "type": "unsuspend" })).await;
    assert_eq!(ok(&again)["status"], "active", "lifting what is not there changes nothing");
    let entries = audit_actions(&app, &moderator, &zed.id).await;
    assert_eq!(
        entries,
        vec!["user.unsuspend", "report.view", "user.suspend"],
        "newest first; the report read is audited; the no-op wrote nothing"
    );
}

/// The security review: a suspended account's access token still read /api/auth/me,
/// changed the profile and got export links for up to 15 minutes. Every route that
/// takes a bearer now refuses a token minted before the suspension, at once.
#[tokio::test]
async fn a_token_minted_before_a_suspension_is_refused_by_every_bearer_route() {
    let app = TestApp::new().await.with_export_bucket().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let (zed, viewer) = (app.user("zed").await, app.user("viewer").await);
    let asked = app.post_as(&zed, "/api/users/me/export", json!({})).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let export_id = asked.body["exportId"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&zed, "/api/auth/me").await.status, StatusCode::OK);
    ok(&act(&app, &moderator, &zed, json!({ "type": "suspend", "durationDays": 3 })).await);

    let other = viewer.id.as_str();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/auth/me".into(), None),
        (Method::PUT, "/api/users/profile".into(), Some(json!({ "bio": "still here" }))),
        (Method::PUT, "/api/users/notifications".into(), Some(json!({ "follows": false }))),
        (Method::GET, format!("/api/users/me/exports/{export_id}"), None),
        (Method::POST, "/api/users/me/export".into(), Some(json!({}))),
        (Method::GET, format!("/api/users/{other}"), None),
        (Method::GET, "/api/users/search?q=view".into(), None),
        (Method::GET, "/api/auth/sessions".into(), None),
        (Method::GET, "/api/auth/mfa".into(), None),
        (Method::POST, "/api/auth/logout".into(), Some(json!({}))),
        (Method::POST, "/api/auth/resend-verification".into(), Some(json!({}))),
        (Method::POST, "/api/social/follow".into(), Some(json!({ "userId": other }))),
        (Method::POST, "/api/social/block".into(), Some(json!({ "userId": other }))),
        (Method::POST, "/api/social/mute".into(), Some(json!({ "userId": other }))),
        (Method::GET, format!("/api/social/relationship/{other}"), None),
        (Method::GET, "/api/social/requests".into(), None),
        (Method::GET, "/api/social/blocked".into(), None),
        (Method::GET, "/api/social/muted".into(), None),
        (Method::GET, format!("/api/social/{other}/followers"), None),
    ];
    for (method, path, body) in calls {
        let answer = app.call(method.clone(), &path, body, Some(&zed.token)).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (StatusCode::FORBIDDEN, "ACCOUNT_SUSPENDED"),
            "{method} {path}: {:?}",
            answer.body
        );
    }
    let profile = app.state.store.users().user_by_id(&zed.id).await.unwrap().unwrap();
    assert_ne!(profile.editable.bio.as_deref(), Some("still here"), "nothing was written");
}

#[tokio::test]
async fn a_time_boxed_suspension_ends_by_itself() {
    let app = TestApp::new().await;
    let enrolled = app.enrolled("mod").await;
    make(&app, &enrolled.user, Role::Moderator).await;
    let moderator = enrolled.user.clone();
    let zed = app.user("zed").await;
    let in_a_day = app.state.now() + chrono::Duration::days(1);
    let suspended = act(&app, &moderator, &zed, json!({ "type": "suspend", "durationDays": 1 })).await;
    let until = chrono::DateTime::parse_from_rfc3339(ok(&suspended)["suspendedUntil"].as_str().unwrap()).unwrap();
    assert_eq!(until.timestamp(), in_a_day.timestamp());
    let notice = app.outbox().await.into_iter().find(|m| m.kind == "account_moderated").unwrap();
    assert!(notice.data["until"].starts_with(&until.format("%Y-%m-%d").to_string()));

    app.advance(chrono::Duration::hours(23));
    assert_eq!(app.login("zed").await.error_code(), "ACCOUNT_SUSPENDED");
    app.advance(chrono::Duration::hours(2));
    assert_eq!(app.login("zed").await.status, StatusCode::OK, "over: nobody had to lift it");
    let viewer = app.user("viewer").await;
    assert_eq!(app.get_as(&viewer, &format!("/api/users/{}", zed.id)).await.status, StatusCode::OK);
    // A day on, the moderator passes the second factor again (the admin routes want it recent).
    let signed_in = app.verify(&app.challenge("mod").await, json!({ "code": app.code(&enrolled.secret, 0) })).await;
    let moderator = User { token: support::tokens_of(&signed_in).0, ..moderator };
    let shown = app.get_as(&moderator, &format!("/api/admin/users/{}", zed.id)).await;
    assert_eq!(
        (ok(&shown)["user"]["status"].as_str(), shown.body["user"]["suspendedUntil"].clone()),
        (Some("active"), Value::Null)
    );
    let follow = app.post_as(&viewer, "/api/social/follow", json!({ "userId": zed.id })).await;
    assert_eq!(ok(&follow)["status"], "following", "the transaction's own check agrees");
}

#[tokio::test]
async fn a_limited_account_is_shown_to_followers_only_takes_requests_and_leaves_search() {
    let app = TestApp::new().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let (zed, follower, stranger) = (app.user("zed").await, app.user("follower").await, app.user("stranger").await);
    app.follow(&follower, &zed).await;
    let limited = act(&app, &moderator, &zed, json!({ "type": "limit", "durationDays": 7 })).await;
    assert_eq!((ok(&limited)["status"].as_str(), limited.body["limited"].as_bool()), (Some("limited"), Some(true)));

    let seen_by_stranger = app.get_as(&stranger, &format!("/api/users/{}", zed.id)).await;
    assert_eq!(ok(&seen_by_stranger)["isPrivate"], true);
    assert!(
        seen_by_stranger.body.get("bio").is_none() && seen_by_stranger.body.get("followersCount").is_none(),
        "limited view"
    );
    let seen_by_follower = app.get_as(&follower, &format!("/api/users/{}", zed.id)).await;
    assert!(ok(&seen_by_follower).get("followersCount").is_some(), "full view for an accepted follower");
    let follow = app.post_as(&stranger, "/api/social/follow", json!({ "userId": zed.id })).await;
    assert_eq!(ok(&follow)["status"], "requested", "a new follow becomes a request");
    assert_eq!(ok(&app.get_as(&stranger, "/api/users/search?q=zed").await)["items"], json!([]));
    let own = app.get_as(&zed, "/api/users/search?q=zed").await;
    assert_eq!(ok(&own)["items"][0]["id"], zed.id.as_str(), "the account still finds itself");
    assert_eq!(app.login("zed").await.status, StatusCode::OK, "a limited account signs in");

    let lifted = act(&app, &moderator, &zed, json!({ "type": "unlimit" })).await;
    assert_eq!(ok(&lifted)["status"], "active");
    assert_eq!(ok(&app.get_as(&stranger, "/api/users/search?q=zed").await)["items"][0]["id"], zed.id.as_str());
    let late = app.user("late").await;
    let follow = app.post_as(&late, "/api/social/follow", json!({ "userId": zed.id })).await;
    assert_eq!(ok(&follow)["status"], "following");
    let notices: Vec<String> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.kind == "account_moderated")
        .map(|m| m.data["action"].clone())
        .collect();
    assert_eq!(notices.len(), 2);
    assert!(notices.contains(&"limited".to_string()) && notices.contains(&"unlimited".to_string()));
}

#[tokio::test]
async fn actions_are_validated_and_two_staff_resolving_one_report_write_one_entry() {
    let app = TestApp::new().await;
    let (moderator, admin) = (staff(&app, "mod", Role::Moderator).await, staff(&app, "boss", Role::Admin).await);
    let zed = app.user("zed").await;
    for (body, field) in [
        (json!({ "type": "ban" }), "type"),
        (json!({}), "type"),
        (json!({ "type": "warn", "durationDays": 3 }), "durationDays"),
        (json!({ "type": "suspend", "durationDays": 0 }), "durationDays"),
        (json!({ "type": "limit", "durationDays": 3651 }), "durationDays"),
        (json!({ "type": "unsuspend", "reportId": "r1" }), "reportId"),
        (json!({ "type": "warn", "note": "x".repeat(1001) }), "note"),
    ] {
        let response = act(&app, &moderator, &zed, body.clone()).await;
        assert_eq!(response.detail_fields(), vec![field.to_string()], "{body}");
    }
    let unknown = act(&app, &moderator, &zed, json!({ "type": "warn", "reportId": "no-such-report" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let other = app.user("other").await;
    let about_other = report(&app, "rita", &other).await;
    let mismatch = act(&app, &moderator, &zed, json!({ "type": "warn", "reportId": about_other })).await;
    assert_eq!(mismatch.detail_fields(), vec!["reportId".to_string()]);
    let resolve = json!({ "action": "suspend", "durationDays": 3 });
    let path = format!("/api/admin/reports/{about_other}/resolve");
    let bad = app.post_as(&moderator, &path, json!({ "action": "ban" })).await;
    assert_eq!(bad.detail_fields(), vec!["action".to_string()]);

    let (a, b) = tokio::join!(app.post_as(&moderator, &path, resolve.clone()), app.post_as(&admin, &path, resolve));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{:?} {:?}", a.body, b.body);
    let suspensions = audit_actions(&app, &admin, &other.id).await;
    assert_eq!(suspensions, vec!["user.suspend"], "the losing write left no entry");
    let notices = app.outbox().await.into_iter().filter(|m| m.kind == "account_moderated").count();
    assert_eq!(notices, 1, "and no notice");
}

#[tokio::test]
async fn the_audit_log_lists_newest_first_by_actor_and_target_and_cannot_be_changed() {
    let app = TestApp::new().await;
    let (moderator, admin) = (staff(&app, "mod", Role::Moderator).await, staff(&app, "boss", Role::Admin).await);
    let (zed, yan) = (app.user("zed").await, app.user("yan").await);
    ok(&act(&app, &moderator, &zed, json!({ "type": "warn", "note": "first" })).await);
    app.advance(chrono::Duration::seconds(1));
    ok(&act(&app, &admin, &yan, json!({ "type": "limit" })).await);
    app.advance(chrono::Duration::seconds(1));
    ok(&act(&app, &moderator, &yan, json!({ "type": "warn" })).await);

    let page = |query: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let log = app.get_as(admin, &format!("/api/admin/audit-log{query}")).await;
            assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
            log.body["items"].as_array().unwrap().clone()
        }
    };
    let all = page("").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[..3], ["user.warn", "user.limit", "user.warn"], "newest first: {actions:?}");
    assert_eq!(all[2]["actor"], json!({ "id": moderator.id, "username": "mod" }));
    assert_eq!((all[2]["targetId"].as_str(), all[2]["note"].as_str()), (Some(zed.id.as_str()), Some("first")));
    assert_eq!(all.last().unwrap()["actor"], json!({ "id": "operator", "username": null }), "the grants");
    assert_eq!(all.last().unwrap()["details"]["operatorIdentity"], "test-operator", "and who ran the command");
    let by_moderator = page(Box::leak(format!("?actorId={}", moderator.id).into_boxed_str())).await;
    assert_eq!(by_moderator.len(), 2);
    assert_eq!(by_moderator[0]["targetId"], yan.id.as_str());
    let about_yan = page(Box::leak(format!("?targetId={}", yan.id).into_boxed_str())).await;
    assert_eq!(
        about_yan.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["user.warn", "user.limit"]
    );
    let both = page(Box::leak(format!("?targetId={}&actorId={}", yan.id, admin.id).into_boxed_str())).await;
    assert_eq!(both.len(), 1);
    let first = page("?limit=1").await;
    assert_eq!(first.len(), 1);

    let entry = all[0]["id"].as_str().unwrap();
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let response = app.call(method.clone(), "/api/admin/audit-log", Some(json!({})), Some(&admin.token)).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        let response =
            app.call(method.clone(), &format!("/api/admin/audit-log/{entry}"), None, Some(&admin.token)).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method}: no route for one entry");
    }
    let shown = app.get_as(&moderator, &format!("/api/admin/users/{}", yan.id)).await;
    let shown = &ok(&shown)["user"];
    assert_eq!(
        (shown["status"].as_str(), shown["role"].as_str(), shown["openReports"].as_i64()),
        (Some("limited"), Some("user"), Some(0))
    );
    let history: Vec<&str> =
        shown["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0], "user.view", "this very read of the account is in its history");
    assert_eq!((shown["email"].as_str(), shown["limitedUntil"].clone()), (Some("yan@example.org"), Value::Null));
}

#[tokio::test]
async fn resolved_reports_stay_in_the_reporters_export() {
    let app = TestApp::new().await.with_export_bucket().await;
    let moderator = staff(&app, "mod", Role::Moderator).await;
    let zed = app.user("zed").await;
    let rita = app.user("rita").await;
    app.set_email_verified(&rita).await;
    let filed = app.post_as(&rita, "/api/social/report", json!({ "userId": zed.id, "reason": "spam" })).await;
    let report_id = filed.body["id"].as_str().unwrap().to_owned();
    ok(&app.post_as(&moderator, &format!("/api/admin/reports/{report_id}/resolve"), json!({ "action": "none" })).await);
    let again = app.post_as(&rita, "/api/social/report", json!({ "userId": zed.id, "reason": "spam" })).await;
    assert_eq!(again.status, StatusCode::CREATED, "a resolved report no longer blocks a new one");

    let asked = app.post_as(&rita, "/api/users/me/export", json!({})).await;
    let export_id = asked.body["exportId"].as_str().unwrap().to_owned();
    app.build_export(&rita.id, &export_id).await;
    let ready = app.get_as(&rita, &format!("/api/users/me/exports/{export_id}")).await;
    let (_, document) = support::http_json(Method::GET, ready.body["downloadUrl"].as_str().unwrap(), None).await;
    let statuses: Vec<&str> =
        document["reportsFiled"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2, "{document}");
    assert!(statuses.contains(&"resolved") && statuses.contains(&"open"));
}
