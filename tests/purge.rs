//! Deletion when the deactivation window ends: what goes, what stays, the other users'
//! counters, and a purge that is interrupted or run twice at once.

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;
use support::{keys_of, TestApp, User, PASSWORD};

const WINDOW_DAYS: i64 = 30;

async fn deactivate(app: &TestApp, user: &User) {
    let gone = app.post_as(user, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
}

/// Runs the purge as the cleanup function does, with `budget` before its deadline.
async fn purge(app: &TestApp, budget: Duration) -> shared::store::purge::PurgeReport {
    let cutoff = app.state.now() - chrono::Duration::days(WINDOW_DAYS);
    app.state
        .store
        .purge()
        .purge_deleted_accounts(cutoff, Instant::now() + budget, app.state.bucket.as_deref())
        .await
        .unwrap()
}

fn partition(items: &[(String, String)], user: &User) -> Vec<(String, String)> {
    items.iter().filter(|(pk, _)| *pk == format!("USER#{}", user.id)).cloned().collect()
}

/// How many export documents of `user` the bucket holds.
async fn documents_of(app: &TestApp, user: &User) -> usize {
    let config =
        aws_sdk_s3::config::Builder::from(&support::sdk_config("MOTO_ENDPOINT")).force_path_style(true).build();
    let listed = aws_sdk_s3::Client::from_conf(config)
        .list_objects_v2()
        .bucket(app.state.bucket.as_deref().unwrap().name())
        .prefix(format!("exports/{}/", user.id))
        .send()
        .await
        .unwrap();
    listed.contents().len()
}

async fn counts(app: &TestApp, user: &User) -> (i64, i64) {
    let stats = app.get_as(user, &format!("/api/users/{}/stats", user.id)).await;
    (stats.body["followersCount"].as_i64().unwrap(), stats.body["followingCount"].as_i64().unwrap())
}

#[tokio::test]
async fn an_account_past_its_window_is_erased_and_the_others_stay_right() {
    let app = TestApp::new().await.with_export_bucket().await;
    let (ada, grace, linus) = (app.user("ada").await, app.user("grace").await, app.user("linus").await);
    app.follow(&ada, &grace).await;
    app.follow(&grace, &ada).await;
    app.follow(&linus, &ada).await;
    app.post_as(&linus, "/api/social/block", json!({ "userId": ada.id })).await;
    // Mutes both ways: the muted side holds the mirror.
    assert_eq!(app.post_as(&grace, "/api/social/mute", json!({ "userId": ada.id })).await.status, StatusCode::OK);
    assert_eq!(app.post_as(&ada, "/api/social/mute", json!({ "userId": linus.id })).await.status, StatusCode::OK);
    app.set_profile_visibility(&grace, "private").await;
    let private = app.user("private").await;
    app.set_profile_visibility(&private, "private").await;
    app.post_as(&ada, "/api/social/follow", json!({ "userId": private.id })).await;
    app.set_email_verified(&grace).await;
    let report = app.post_as(&grace, "/api/social/report", json!({ "userId": ada.id, "reason": "spam" })).await;
    assert_eq!(report.status, StatusCode::CREATED, "{:?}", report.body);
    let ada = app.enrolled_user(ada).await;
    assert_eq!(counts(&app, &grace).await, (1, 1));
    let export = app.post_as(&ada, "/api/users/me/export", json!({})).await;
    assert_eq!(export.status, StatusCode::ACCEPTED, "{:?}", export.body);
    app.build_export(&ada.id, export.body["exportId"].as_str().unwrap()).await;
    assert_eq!(documents_of(&app, &ada).await, 1);

    deactivate(&app, &ada).await;
    app.advance(chrono::Duration::days(WINDOW_DAYS - 1));
    assert_eq!(purge(&app, Duration::from_secs(60)).await.accounts_deleted, 0, "still within the window");
    app.advance(chrono::Duration::days(2));
    let report = purge(&app, Duration::from_secs(60)).await;
    assert_eq!(report.accounts_deleted, 1, "{report:?}");
    assert!(!report.unfinished);
    // The security review: with a window shorter than an export's 7 days, the document
    // outlived the account. It goes with it, whatever the window.
    assert_eq!((report.documents_removed, documents_of(&app, &ada).await), (1, 0), "the export document is gone");

    let items = keys_of(&app.all_items().await);
    assert_eq!(partition(&items, &ada), vec![], "nothing of the account's partition is left");
    let exports = items.iter().filter(|(pk, _)| *pk == format!("EXPORT#{}", ada.id)).count();
    assert_eq!(exports, 0, "nor of its exports' partition");
    assert!(!items.iter().any(|(pk, _)| pk == "EMAIL#ada@example.org"), "the address is free");
    assert!(items.iter().any(|(pk, _)| pk.starts_with("REPORT#")), "reports about the account are kept");
    // The reporter's guard against a second report stays with the report.
    let edges_to_ada = items.iter().filter(|(_, sk)| sk.ends_with(&ada.id) && !sk.starts_with("REPORTED#"));
    assert_eq!(edges_to_ada.count(), 0, "no edge points at the account: {items:?}");
    for path in [
        format!("/api/users/{}", ada.id),
        format!("/api/users/{}/stats", ada.id),
        "/api/users/by-username/ada".to_owned(),
        format!("/api/social/relationship/{}", ada.id),
        format!("/api/social/{}/followers", ada.id),
    ] {
        assert_eq!(app.get_as(&grace, &path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(counts(&app, &grace).await, (0, 0), "grace lost a follower and a followee");
    assert_eq!(counts(&app, &linus).await, (0, 0));
    let followers = app.get_as(&grace, &format!("/api/social/{}/followers", grace.id)).await;
    assert_eq!(followers.body["items"], json!([]));
    assert_eq!(app.get_as(&grace, "/api/social/muted").await.body["items"], json!([]), "grace's mute went too");
    assert_eq!(app.login("ada").await.error_code(), "INVALID_CREDENTIALS");
    let name = json!({ "username": "ADA", "email": "someone@example.org", "password": PASSWORD, "agreeToTerms": true });
    assert_eq!(app.post("/api/auth/register", name).await.error_code(), "USERNAME_TAKEN", "the name stays reserved");
    let address =
        json!({ "username": "ada_again", "email": "ada@example.org", "password": PASSWORD, "agreeToTerms": true });
    assert_eq!(app.post("/api/auth/register", address).await.status, StatusCode::CREATED, "the address is free");
    let tombstone = app.state.store.users().claim("ada").await.unwrap().unwrap();
    assert!(tombstone.password_hash.is_none(), "the tombstone keeps no password hash");
    assert_eq!(purge(&app, Duration::from_secs(60)).await, Default::default(), "nothing left to do");
}

#[tokio::test]
async fn reactivation_takes_an_account_out_of_the_queue() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    deactivate(&app, &ada).await;
    app.advance(chrono::Duration::days(WINDOW_DAYS - 1));
    let back = app.post("/api/auth/reactivate", json!({ "identifier": "ada", "password": PASSWORD })).await;
    assert_eq!(back.status, StatusCode::OK);
    app.advance(chrono::Duration::days(10));
    assert_eq!(purge(&app, Duration::from_secs(60)).await.accounts_deleted, 0);
    assert_eq!(app.get("/api/users/by-username/ada", None).await.status, StatusCode::OK);
}

/// An account with many followers, deactivated and past its window.
async fn popular_and_gone(app: &TestApp, followers: usize) -> (User, Vec<User>) {
    let ada = app.user("ada").await;
    let mut fans = Vec::new();
    for i in 0..followers {
        let fan = app.user(&format!("fan{i}")).await;
        app.follow(&fan, &ada).await;
        fans.push(fan);
    }
    deactivate(app, &ada).await;
    app.advance(chrono::Duration::days(WINDOW_DAYS + 1));
    (ada, fans)
}

#[tokio::test]
#[expect(clippy::disallowed_methods, reason = "polls a purge running on its own task, to stop it mid-way")]
async fn an_interrupted_purge_completes_on_the_next_run() {
    let app = TestApp::new().await;
    let (ada, fans) = popular_and_gone(&app, 24).await;
    app.calls.take();
    // A crash mid-way: the run is dropped once some edges are gone.
    let run = tokio::spawn({
        let store = app.state.store.clone();
        let cutoff = app.state.now() - chrono::Duration::days(WINDOW_DAYS);
        async move { store.purge().purge_deleted_accounts(cutoff, Instant::now() + Duration::from_secs(60), None).await }
    });
    let mut transactions = 0;
    while transactions < 5 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        transactions += app.calls.take().iter().filter(|c| *c == "TransactWriteItems").count();
    }
    run.abort();
    let _ = run.await;
    let left = partition(&keys_of(&app.all_items().await), &ada).len();
    assert!(left > 1, "the run was stopped part-way ({left} items left)");

    let report = purge(&app, Duration::from_secs(60)).await;
    assert_eq!(report.accounts_deleted, 1);
    assert_eq!(partition(&keys_of(&app.all_items().await), &ada), vec![]);
    for fan in &fans {
        assert_eq!(counts(&app, fan).await, (0, 0), "{}: decremented once, not twice", fan.name);
    }
}

#[tokio::test]
async fn a_run_out_of_time_stops_and_two_runs_at_once_do_no_harm() {
    let app = TestApp::new().await;
    let (ada, fans) = popular_and_gone(&app, 12).await;
    let late = purge(&app, Duration::ZERO).await;
    assert!(late.unfinished && late.accounts_deleted == 0, "{late:?}");

    let (a, b) = tokio::join!(purge(&app, Duration::from_secs(60)), purge(&app, Duration::from_secs(60)));
    assert_eq!(a.accounts_deleted + b.accounts_deleted, 1, "{a:?} {b:?}");
    assert_eq!(partition(&keys_of(&app.all_items().await), &ada), vec![]);
    for fan in &fans {
        assert_eq!(counts(&app, fan).await, (0, 0), "{}", fan.name);
    }
}

#[tokio::test]
async fn the_cleanup_function_runs_the_purge_with_the_configured_window() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    deactivate(&app, &ada).await;
    app.advance(chrono::Duration::days(3));
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    let settings = cleanup::Settings { lookback_days: 3, deletion_days: 2 };
    let report = cleanup::handle(&app.state.store, app.state.bucket.as_deref(), settings, event).await.unwrap();
    assert_eq!(report.purge.accounts_deleted, 1);
    assert_eq!(app.get("/api/users/by-username/ada", None).await.status, StatusCode::NOT_FOUND);
}
