//! The cleanup function: exactly the expired items go, reading only them, safely twice
//! at once; and the schedule's event through the handler.

use serde_json::json;
use shared::store::cleanup::ExpiredEntry;
use shared::store::keys::expiry;
use support::{tokens_of, TestApp};

/// Makes the session of `refresh_token` one that expired `secs_ago`.
async fn expire_session(app: &TestApp, refresh_token: &str, secs_ago: i64) {
    let token = shared::domain::session::RefreshToken::parse(refresh_token).unwrap();
    let at = app.state.now().timestamp() - secs_ago;
    let session = shared::store::keys::session::key(&token.user_id, &token.session_id);
    app.set_attributes(session, &[("expiresAt", support::n(at)), ("expiryBucket", support::s(expiry::bucket(at)))])
        .await;
}

async fn session_count(app: &TestApp) -> usize {
    support::keys_of(&app.all_items().await).iter().filter(|(_, sk)| sk.starts_with("SESSION#")).count()
}

/// 1 + `live` + `expired` sessions, the expired ones spread over today and two days back.
async fn sessions(app: &TestApp, live: usize, expired: usize) {
    app.register("sleepy").await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..live + expired {
        refresh_tokens.push(tokens_of(&app.login("sleepy").await).1);
    }
    for (i, token) in refresh_tokens.iter().take(expired).enumerate() {
        expire_session(app, token, 60 + (i as i64 % 3) * 86_400).await;
    }
}

#[tokio::test]
async fn cleanup_removes_exactly_the_expired_and_reads_only_them() {
    let app = TestApp::with_env(&[("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "1000/60")]).await;
    sessions(&app, 30, 7).await;
    assert_eq!(session_count(&app).await, 38);
    let report = app.state.store.cleanup().remove_expired(app.state.now(), 3).await.unwrap();
    assert_eq!(report.removed, 7);
    assert_eq!(report.examined, 7, "the index read only the expired items, not the 31 live ones");
    assert_eq!(report.buckets, 4);
    assert_eq!(session_count(&app).await, 31);
    let again = app.state.store.cleanup().remove_expired(app.state.now(), 3).await.unwrap();
    assert_eq!((again.removed, again.examined), (0, 0), "nothing left to read");
}

#[tokio::test]
async fn two_cleanups_at_once_end_in_the_same_state() {
    let app = TestApp::new().await;
    sessions(&app, 5, 6).await;
    let (a, b) = tokio::join!(
        app.state.store.cleanup().remove_expired(app.state.now(), 3),
        app.state.store.cleanup().remove_expired(app.state.now(), 3)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.removed + b.removed, 6, "each expired session deleted once, by one of the two: {a:?} {b:?}");
    assert_eq!(session_count(&app).await, 6);
}

/// The security review: cleanup deleted what it had read as expired even when the item
/// was set anew in between; a mute muted again for longer was lost. The delete now
/// holds only while the item keeps the expiry the index showed.
#[tokio::test]
async fn an_item_set_anew_after_cleanup_read_it_is_kept() {
    let app = TestApp::new().await;
    let (ada, bob) = (app.user("ada").await, app.user("bob").await);
    let mute = |secs: i64| json!({ "userId": bob.id, "durationSeconds": secs });
    assert_eq!(app.post_as(&ada, "/api/social/mute", mute(60)).await.status, http::StatusCode::OK);
    let read_by_cleanup = mute_entry(&app, &ada.id, &bob.id).await;
    // Muted again, for a day, between cleanup's read of the index and its delete.
    assert_eq!(app.post_as(&ada, "/api/social/mute", mute(86_400)).await.status, http::StatusCode::OK);
    assert_ne!(mute_entry(&app, &ada.id, &bob.id).await.expires_at, read_by_cleanup.expires_at);
    assert_eq!(app.state.store.cleanup().delete_expired(vec![read_by_cleanup.clone()]).await.unwrap(), 0);
    let relation = app.get_as(&ada, &format!("/api/social/relationship/{}", bob.id)).await;
    assert_eq!(relation.body["muting"], true, "the new mute stays: {:?}", relation.body);
    // The entry as it is now is deleted.
    let current = mute_entry(&app, &ada.id, &bob.id).await;
    assert_eq!(app.state.store.cleanup().delete_expired(vec![current]).await.unwrap(), 1);
}

/// The mute edge of `who` muting `whom`, as the expiry index shows it.
async fn mute_entry(app: &TestApp, who: &str, whom: &str) -> ExpiredEntry {
    let items = app.all_items().await;
    let item = items
        .iter()
        .find(|i| {
            i.get("PK").and_then(|v| v.as_s().ok()) == Some(&format!("USER#{who}"))
                && i.get("SK").and_then(|v| v.as_s().ok()) == Some(&format!("MUTING#{whom}"))
        })
        .expect("the mute edge");
    let at = item.get(expiry::AT).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).expect("an expiry");
    let key = ["PK", "SK"].into_iter().map(|k| (k.to_owned(), item[k].clone())).collect();
    ExpiredEntry { key, expires_at: at }
}

#[tokio::test]
async fn the_schedule_event_runs_the_handler() {
    let app = TestApp::new().await;
    sessions(&app, 2, 3).await;
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/cleanup/schedule.json")).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
    let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
    let settings = cleanup::Settings { lookback_days: 3, deletion_days: 30 };
    let report = cleanup::handle(&app.state.store, None, settings, event).await.unwrap();
    assert_eq!(report.expired.removed, 3);
    assert_eq!(session_count(&app).await, 3);
    // One-time tokens expire through the same index.
    let user_tokens =
        support::keys_of(&app.all_items().await).into_iter().filter(|(pk, _)| pk.starts_with("TOKEN#")).count();
    assert_eq!(user_tokens, 1, "the live verification token stays");
}
