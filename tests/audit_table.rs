//! The table auditor (shared::store::consistency, `audit-table`): a table the service
//! wrote through every feature is clean; each kind of violation planted by hand is
//! found, by ids and without an address; `scripts/audit-table --repair-counters` fixes
//! planted counter drift, and a second run finds nothing to fix.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use http::StatusCode;
use serde_json::json;
use shared::domain::user::Role;
use shared::services::moderation::{grant, Actor};
use shared::store::consistency::{AuditReport, Check};
use support::{item, key, TestApp, User, PASSWORD};

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

async fn audit(app: &TestApp) -> AuditReport {
    app.state.store.consistency().audit_table(3).await.expect("the audit runs")
}

fn ok(what: &str, response: support::TestResponse) {
    assert!(response.status.is_success(), "{what}: {} {:?}", response.status, response.body);
}

/// A table written through every feature that adds items: follows, a request and its
/// acceptance, a pending request, blocks, mutes (one timed), a report resolved with an
/// action (audit entries) and one left open, a deactivated account, a second factor,
/// a pending email change, a reset token, renamed profiles.
async fn lived_in(app: &TestApp) -> (User, User, User, User) {
    let (ada, bob, cy, dee) =
        (app.user("ada").await, app.user("bob").await, app.user("cyd").await, app.user("dee").await);
    app.set_profile_visibility(&cy, "private").await;
    for (who, whom) in [(&ada, &bob), (&bob, &ada), (&dee, &bob)] {
        ok("follow", app.post_as(who, "/api/social/follow", json!({ "userId": whom.id })).await);
    }
    ok("request", app.post_as(&ada, "/api/social/follow", json!({ "userId": cy.id })).await);
    ok("request", app.post_as(&bob, "/api/social/follow", json!({ "userId": cy.id })).await);
    ok("accept", app.post_as(&cy, &format!("/api/social/requests/{}/accept", bob.id), json!({})).await);
    ok("block", app.post_as(&dee, "/api/social/block", json!({ "userId": cy.id, "reason": "spam" })).await);
    ok("mute", app.post_as(&ada, "/api/social/mute", json!({ "userId": dee.id })).await);
    ok("mute", app.post_as(&bob, "/api/social/mute", json!({ "userId": dee.id, "durationSeconds": 3600 })).await);
    ok("profile", app.update_profile(&bob, json!({ "firstName": "Robert", "lastName": "Zoë Smith" })).await);

    for reporter in [&ada, &bob] {
        app.set_email_verified(reporter).await;
    }
    let filed = app.post_as(&ada, "/api/social/report", json!({ "userId": dee.id, "reason": "spam" })).await;
    let report_id = filed.body["id"].as_str().expect("a report id").to_owned();
    ok("report", app.post_as(&bob, "/api/social/report", json!({ "userId": cy.id, "reason": "spam" })).await);
    let moderator = app.enrolled_user(app.user("mod").await).await;
    let record = app.state.store.users().user_by_id(&moderator.id).await.unwrap().unwrap();
    grant(&app.state.store, Actor::Operator("test-operator"), &record, Role::Moderator).await.unwrap();
    let resolve = json!({ "action": "warn", "note": "first warning" });
    ok("resolve", app.post_as(&moderator, &format!("/api/admin/reports/{report_id}/resolve"), resolve).await);

    let eve = app.user("eve").await;
    ok("follow", app.post_as(&eve, "/api/social/follow", json!({ "userId": ada.id })).await);
    ok("deactivate", app.post_as(&eve, "/api/users/deactivate", json!({ "password": PASSWORD })).await);
    app.enrolled("fay").await;
    ok(
        "change email",
        app.post_as(&dee, "/api/auth/change-email", json!({ "newEmail": "dee.new@example.org", "password": PASSWORD }))
            .await,
    );
    app.post("/api/auth/forgot-password", json!({ "email": "cyd@example.org" })).await;
    (ada, bob, cy, dee)
}

#[tokio::test]
async fn a_table_the_service_wrote_is_clean() {
    let app = TestApp::new().await;
    lived_in(&app).await;
    let report = audit(&app).await;
    assert!(report.is_clean(), "violations: {:#?}", report.violations);
    for kind in ["users", "edges", "claims", "search entries", "sessions", "reports", "audit entries", "second factors"]
    {
        assert!(report.kinds.get(kind).is_some_and(|n| *n > 0), "no {kind} seen: {:?}", report.kinds);
    }
    assert_eq!(report.items as usize, app.all_items().await.len());
}

/// Each check, planted once by a write the service would never make.
#[tokio::test]
async fn every_planted_violation_is_found_by_ids() {
    let app = TestApp::new().await;
    let (ada, bob, cy, dee) = lived_in(&app).await;
    let delete = |pk: String, sk: &str| app.delete_item(key(pk, sk));
    let put = |attributes: Vec<(&str, AttributeValue)>| app.put_item(item(&attributes));
    let user_pk = |user: &User| format!("USER#{}", user.id);
    let ghost = "00000000-0000-4000-8000-000000000000";

    // An edge without its mirror; an edge to nobody; a listed edge out of its list.
    delete(user_pk(&ada), &format!("FOLLOWER#{}", bob.id)).await;
    put(vec![
        ("PK", s(&user_pk(&cy))),
        ("SK", s(&format!("BLOCKING#{ghost}"))),
        ("GSI1PK", s(&format!("BLOCKED#{}", cy.id))),
        ("GSI1SK", s(&format!("2026-01-01T00:00:00.000000Z#{ghost}"))),
    ])
    .await;
    let listed = key(user_pk(&dee), format!("FOLLOWING#{}", bob.id));
    app.set_attributes(listed, &[("GSI1PK", s("FOLLOWING#someone-else"))]).await;
    // A counter off by one.
    app.set_user_attribute(&cy.id, "followersCount", AttributeValue::N("5".into())).await;
    // A user without its username claim; an email claim naming nobody; a stale hash copy.
    delete("USERNAME#bob".into(), "USERNAME").await;
    put(vec![("PK", s("EMAIL#nobody@example.org")), ("SK", s("EMAIL")), ("userId", s(ghost))]).await;
    app.set_attributes(key("EMAIL#ada@example.org", "EMAIL"), &[("passwordHash", s("$argon2id$stale"))]).await;
    // A search entry of a name no longer held; a deactivated user back in no queue.
    put(vec![
        ("PK", s(&user_pk(&ada))),
        ("SK", s("SEARCH#oldname")),
        ("GSI1PK", s("SEARCH#o")),
        ("GSI1SK", s(&format!("oldname#{}", ada.id))),
    ])
    .await;
    let eve = app.state.store.users().user_id_by_identifier("eve").await.unwrap().unwrap();
    app.remove_attributes(key(format!("USER#{eve}"), "PROFILE"), &["GSI1PK", "GSI1SK"]).await;
    // mfaEnabled without a factor.
    app.set_user_attribute(&cy.id, "mfaEnabled", AttributeValue::Bool(true)).await;
    // A session of nobody; a live token of nobody; a message to nobody.
    put(vec![
        ("PK", s(&format!("USER#{ghost}"))),
        ("SK", s("SESSION#s1")),
        ("expiresAt", AttributeValue::N("9999999999".into())),
    ])
    .await;
    put(vec![
        ("PK", s("TOKEN#abc")),
        ("SK", s("RESET")),
        ("userId", s(ghost)),
        ("expiresAt", AttributeValue::N("9999999999".into())),
    ])
    .await;
    put(vec![("PK", s("OUTBOX#m1")), ("SK", s("MESSAGE")), ("userId", s(ghost)), ("to", s("ghost@example.org"))]).await;
    // An open report whose entry against its target is gone.
    let open = app
        .all_items()
        .await
        .into_iter()
        .find(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("AGAINST#")))
        .expect("the open report's entry");
    delete(open["PK"].as_s().unwrap().clone(), open["SK"].as_s().unwrap()).await;
    // An audit entry's copy under its target gone.
    let copy = app
        .all_items()
        .await
        .into_iter()
        .find(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk.starts_with("AUDIT#TARGET#")))
        .expect("an audit copy");
    delete(copy["PK"].as_s().unwrap().clone(), copy["SK"].as_s().unwrap()).await;
    // An audit entry rewritten in place (a put over its key, which the admin role may
    // make): its actor's chain no longer holds.
    let entry = app
        .all_items()
        .await
        .into_iter()
        .find(|i| i.get("PK").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk == "AUDIT") && i.contains_key("seq"))
        .expect("a chained audit entry");
    app.set_attributes(key("AUDIT", entry["SK"].as_s().unwrap()), &[("note", s("nothing happened"))]).await;
    // Something no item type of the table looks like.
    put(vec![("PK", s("STRAY#1")), ("SK", s("X"))]).await;
    // A user item that does not read as one.
    let broken = "11111111-1111-4111-8111-111111111111";
    put(vec![("PK", s(&format!("USER#{broken}"))), ("SK", s("PROFILE")), ("username", AttributeValue::N("7".into()))])
        .await;

    let report = audit(&app).await;
    let found: BTreeSet<&str> = report.violations.iter().map(|v| v.check.name()).collect();
    let every: BTreeSet<&str> = [
        Check::MissingMirror,
        Check::EdgeToMissingUser,
        Check::EdgeListKeys,
        Check::CounterDrift,
        Check::MissingClaim,
        Check::OrphanClaim,
        Check::StaleHashCopy,
        Check::SearchEntries,
        Check::DeletionQueue,
        Check::SecondFactor,
        Check::OrphanPartitionItem,
        Check::OrphanToken,
        Check::OrphanMessage,
        Check::ReportIndex,
        Check::AuditCopy,
        Check::AuditChain,
        Check::UnknownItem,
        Check::UnreadableItem,
    ]
    .iter()
    .map(|c| c.name())
    .collect();
    assert_eq!(found, every, "{:#?}", report.violations);
    let text = format!("{:?}", report.violations);
    assert!(!text.contains('@') && !text.contains("argon2"), "no address or hash in a violation: {text}");
    assert!(text.contains(&format!("user {}: followersCount 5, edges", cy.id)), "{text}");
    assert!(text.contains(&format!("FOLLOWING#{} has no FOLLOWER#{}", ada.id, bob.id)), "{text}");
    let drifted: BTreeSet<&str> = report.drifts.iter().map(|d| d.user_id.as_str()).collect();
    assert_eq!(drifted, BTreeSet::from([cy.id.as_str(), ada.id.as_str()]), "cy's counter; ada lost a follower edge");
}

/// The operator command of docs/operations.md: `scripts/audit-table` exits 1 on drift, repairs it
/// with `--repair-counters`, and a second repair finds nothing to do.
#[tokio::test(flavor = "multi_thread")]
async fn the_command_repairs_counter_drift_idempotently() {
    let app = TestApp::new().await;
    let (ada, bob, ..) = lived_in(&app).await;
    app.set_user_attribute(&ada.id, "followersCount", AttributeValue::N("40".into())).await;
    app.set_user_attribute(&bob.id, "followingCount", AttributeValue::N("0".into())).await;
    let before = (app.counts(&ada).await, app.counts(&bob).await);

    let run = |args: &[&str]| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let port = std::env::var("DYNAMODB_ENDPOINT").unwrap().rsplit(':').next().unwrap().to_owned();
        let out = Command::new("bash")
            .arg(root.join("scripts/audit-table"))
            .args(args)
            .current_dir(&root)
            .env("DYNAMODB_PORT", port)
            .env("TABLE_NAME", &app.table)
            .output()
            .expect("run scripts/audit-table");
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), said)
    };
    let (code, said) = run(&[]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains(&format!("counter-drift: user {}: followersCount 40, edges 2", ada.id)), "{said}");
    assert_eq!((app.counts(&ada).await, app.counts(&bob).await), before, "a plain audit changes nothing");

    let (code, said) = run(&["--repair-counters"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("set 40 → 2") && said.contains("no violations"), "{said}");
    assert_eq!(app.counts(&ada).await.0, 2);
    assert_eq!(app.counts(&bob).await.1, 2);

    let (code, said) = run(&["--repair-counters"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("repaired") && said.contains("no violations"), "nothing left to repair: {said}");

    let (code, said) = run(&["--json", "--segments", "8"]);
    assert_eq!(code, Some(0), "{said}");
    let report: serde_json::Value = serde_json::from_str(&said).expect("--json prints the report");
    assert_eq!(report["violations"], json!([]));
    assert_eq!(StatusCode::OK, app.get_as(&ada, &format!("/api/users/{}/stats", ada.id)).await.status);
}
