//! The social graph through the social router against DynamoDB Local.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use http::StatusCode;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use support::{TestApp, User};

async fn follow(app: &TestApp, who: &User, whom: &User) -> Value {
    let response = app.post_as(who, "/api/social/follow", json!({ "userId": whom.id })).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

async fn relationship(app: &TestApp, who: &User, whom: &User) -> Value {
    let response = app.get_as(who, &format!("/api/social/relationship/{}", whom.id)).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

fn flags(
    following: bool,
    followed_by: bool,
    requested: bool,
    requested_by: bool,
    blocking: bool,
    blocked_by: bool,
) -> Value {
    json!({ "following": following, "followedBy": followed_by, "requested": requested,
            "requestedBy": requested_by, "blocking": blocking, "blockedBy": blocked_by,
            "muting": false, "mutingNotifications": false, "mutingExpiresAt": null })
}

#[tokio::test]
async fn following_a_public_account_is_counted_and_idempotent() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    assert_eq!(follow(&app, &ann, &bob).await, json!({ "status": "following" }));
    assert_eq!(follow(&app, &ann, &bob).await, json!({ "status": "following" }));
    assert_eq!(app.counts(&ann).await, (0, 1));
    assert_eq!(app.counts(&bob).await, (1, 0));
    assert_eq!(relationship(&app, &ann, &bob).await, flags(true, false, false, false, false, false));
    assert_eq!(relationship(&app, &bob, &ann).await, flags(false, true, false, false, false, false));

    let unfollow = app.post_as(&ann, "/api/social/unfollow", json!({ "userId": bob.id })).await;
    assert_eq!(unfollow.body, json!({ "status": "none" }));
    let again = app.post_as(&ann, "/api/social/unfollow", json!({ "userId": bob.id })).await;
    assert_eq!(again.body, json!({ "status": "none" }));
    assert_eq!(app.counts(&ann).await, (0, 0));
    assert_eq!(app.counts(&bob).await, (0, 0));
}

#[tokio::test]
async fn follow_rules_yourself_unknown_and_validation() {
    let app = TestApp::new().await;
    let ann = app.user("ann").await;
    let own = app.post_as(&ann, "/api/social/follow", json!({ "userId": ann.id })).await;
    assert_eq!((own.status, own.detail_fields()), (StatusCode::BAD_REQUEST, vec!["userId".to_string()]));
    let unknown = app.post_as(&ann, "/api/social/follow", json!({ "userId": "no-such-user" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let missing = app.post_as(&ann, "/api/social/follow", json!({})).await;
    assert_eq!(missing.detail_fields(), ["userId"]);
    let anonymous = app.post("/api/social/follow", json!({ "userId": ann.id })).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_private_account_gets_requests_that_count_once_accepted() {
    let app = TestApp::new().await;
    let (ann, bob, cat) = (app.user("ann").await, app.user("bob").await, app.user("cat").await);
    app.set_profile_visibility(&bob, "private").await;

    assert_eq!(follow(&app, &ann, &bob).await, json!({ "status": "requested" }));
    assert_eq!(follow(&app, &ann, &bob).await, json!({ "status": "requested" }));
    assert_eq!(app.counts(&bob).await, (0, 0), "requests are not counted");
    assert_eq!(relationship(&app, &ann, &bob).await, flags(false, false, true, false, false, false));
    assert_eq!(relationship(&app, &bob, &ann).await, flags(false, false, false, true, false, false));
    follow(&app, &cat, &bob).await;

    let requests = app.get_as(&bob, "/api/social/requests").await;
    let ids: Vec<&str> = requests.body["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [cat.id.as_str(), ann.id.as_str()], "newest first");

    let accepted = app.post_as(&bob, &format!("/api/social/requests/{}/accept", ann.id), json!({})).await;
    assert_eq!(accepted.body, json!({ "status": "following" }));
    let again = app.post_as(&bob, &format!("/api/social/requests/{}/accept", ann.id), json!({})).await;
    assert_eq!(again.body, json!({ "status": "following" }), "accepting twice is idempotent");
    assert_eq!(app.counts(&bob).await, (1, 0));
    assert_eq!(app.counts(&ann).await, (0, 1));
    assert_eq!(relationship(&app, &ann, &bob).await, flags(true, false, false, false, false, false));

    let rejected = app.post_as(&bob, &format!("/api/social/requests/{}/reject", cat.id), json!({})).await;
    assert_eq!(rejected.body, json!({ "status": "none" }));
    let again = app.post_as(&bob, &format!("/api/social/requests/{}/reject", cat.id), json!({})).await;
    assert_eq!(again.body, json!({ "status": "none" }));
    assert_eq!(relationship(&app, &cat, &bob).await, flags(false, false, false, false, false, false));
    let none = app.post_as(&bob, &format!("/api/social/requests/{}/accept", cat.id), json!({})).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&bob, "/api/social/requests").await.body["items"], json!([]));
}

#[tokio::test]
async fn unfollow_cancels_a_pending_request() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.set_profile_visibility(&bob, "private").await;
    follow(&app, &ann, &bob).await;
    let cancelled = app.post_as(&ann, "/api/social/unfollow", json!({ "userId": bob.id })).await;
    assert_eq!(cancelled.body, json!({ "status": "none" }));
    assert_eq!(relationship(&app, &bob, &ann).await, flags(false, false, false, false, false, false));
    assert_eq!(app.get_as(&bob, "/api/social/requests").await.body["items"], json!([]));
}

#[tokio::test]
async fn a_block_removes_everything_between_the_two_either_way() {
    for blocker_is_followed in [true, false] {
        let app = TestApp::new().await;
        let (ann, bob) = (app.user("ann").await, app.user("bob").await);
        // Both follow each other; a pending request too in one case.
        follow(&app, &ann, &bob).await;
        follow(&app, &bob, &ann).await;
        let (blocker, blocked) = if blocker_is_followed { (&ann, &bob) } else { (&bob, &ann) };
        let block = app.post_as(blocker, "/api/social/block", json!({ "userId": blocked.id, "reason": "spam" })).await;
        assert_eq!(block.body, json!({ "blocking": true }));
        let again = app.post_as(blocker, "/api/social/block", json!({ "userId": blocked.id })).await;
        assert_eq!(again.body, json!({ "blocking": true }));
        assert_eq!(app.counts(&ann).await, (0, 0));
        assert_eq!(app.counts(&bob).await, (0, 0));
        assert_eq!(relationship(&app, blocker, blocked).await, flags(false, false, false, false, true, false));
        assert_eq!(relationship(&app, blocked, blocker).await, flags(false, false, false, false, false, true));

        for (who, whom) in [(blocked, blocker), (blocker, blocked)] {
            let refused = app.post_as(who, "/api/social/follow", json!({ "userId": whom.id })).await;
            assert_eq!((refused.status, refused.error_code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        }
        let blocked_list = app.get_as(blocker, "/api/social/blocked").await;
        assert_eq!(blocked_list.body["items"][0]["id"], json!(blocked.id));

        let unblock = app.post_as(blocker, "/api/social/unblock", json!({ "userId": blocked.id })).await;
        assert_eq!(unblock.body, json!({ "blocking": false }));
        let again = app.post_as(blocker, "/api/social/unblock", json!({ "userId": blocked.id })).await;
        assert_eq!(again.body, json!({ "blocking": false }));
        assert_eq!(
            relationship(&app, blocker, blocked).await,
            flags(false, false, false, false, false, false),
            "nothing restored"
        );
        assert_eq!(
            follow(&app, blocked, blocker).await,
            json!({ "status": "following" }),
            "following is possible again"
        );
    }
}

#[tokio::test]
async fn a_block_removes_pending_requests_both_ways() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.set_profile_visibility(&ann, "private").await;
    app.set_profile_visibility(&bob, "private").await;
    follow(&app, &ann, &bob).await;
    follow(&app, &bob, &ann).await;
    app.post_as(&ann, "/api/social/block", json!({ "userId": bob.id })).await;
    assert_eq!(relationship(&app, &ann, &bob).await, flags(false, false, false, false, true, false));
    assert_eq!(app.get_as(&ann, "/api/social/requests").await.body["items"], json!([]));
    assert_eq!(app.get_as(&bob, "/api/social/requests").await.body["items"], json!([]));
}

#[tokio::test]
async fn lists_page_newest_first_with_stable_cursors() {
    let app = TestApp::new().await;
    let star = app.user("star").await;
    let mut fans = Vec::new();
    for i in 0..23 {
        let fan = app.user(&format!("fan_{i:02}")).await;
        follow(&app, &fan, &star).await;
        follow(&app, &star, &fan).await;
        fans.push(fan);
    }
    for list in ["followers", "following"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("?limit=10&cursor={c}"),
                None => "?limit=10".into(),
            };
            let page = app.get_as(&fans[0], &format!("/api/social/{}/{list}{query}", star.id)).await;
            assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
            pages += 1;
            seen.extend(
                page.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()),
            );
            match page.body["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let expected: Vec<String> = fans.iter().rev().map(|f| f.name.clone()).collect();
        assert_eq!(seen, expected, "{list}: every user once, newest first");
        assert!(pages >= 3, "{list} took {pages} pages");
    }
    let first = app.get_as(&fans[0], &format!("/api/social/{}/followers?limit=5", star.id)).await;
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let other_list = app.get_as(&fans[0], &format!("/api/social/{}/following?cursor={cursor}", star.id)).await;
    assert_eq!((other_list.status, other_list.error_code()), (StatusCode::BAD_REQUEST, "INVALID_CURSOR"));
    let forged = format!("{}x", cursor);
    for bad in [forged.as_str(), "bm9wZQ.bm9wZQ", "garbage"] {
        let response = app.get_as(&fans[0], &format!("/api/social/{}/followers?cursor={bad}", star.id)).await;
        assert_eq!(response.error_code(), "INVALID_CURSOR", "{bad}");
    }
    for bad in ["0", "101", "many"] {
        let response = app.get_as(&fans[0], &format!("/api/social/{}/followers?limit={bad}", star.id)).await;
        assert_eq!(response.detail_fields(), ["limit"], "{bad}");
    }
}

#[tokio::test]
async fn hidden_lists_answer_403_and_deactivated_users_are_left_out() {
    let app = TestApp::new().await;
    let (ann, bob, cat, dan) =
        (app.user("ann").await, app.user("bob").await, app.user("cat").await, app.user("dan").await);
    follow(&app, &cat, &ann).await;
    follow(&app, &dan, &ann).await;
    app.set_user_attribute(&dan.id, "status", aws_sdk_dynamodb::types::AttributeValue::S("deactivated".into())).await;
    let followers = app.get_as(&bob, &format!("/api/social/{}/followers", ann.id)).await;
    let names: Vec<&str> =
        followers.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["cat"]);

    app.set_profile_visibility(&ann, "private").await;
    let private = app.get_as(&bob, &format!("/api/social/{}/followers", ann.id)).await;
    assert_eq!((private.status, private.error_code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    assert_eq!(
        app.get_as(&cat, &format!("/api/social/{}/following", ann.id)).await.status,
        StatusCode::OK,
        "accepted follower"
    );
    assert_eq!(app.get_as(&ann, &format!("/api/social/{}/followers", ann.id)).await.status, StatusCode::OK, "self");

    app.set_profile_visibility(&ann, "public").await;
    app.set_user_attribute(
        &ann.id,
        "privacySettings.activityVisibility",
        aws_sdk_dynamodb::types::AttributeValue::S("friends".into()),
    )
    .await;
    assert_eq!(
        app.get_as(&cat, &format!("/api/social/{}/followers", ann.id)).await.status,
        StatusCode::FORBIDDEN,
        "not mutual"
    );
    follow(&app, &ann, &cat).await;
    assert_eq!(app.get_as(&cat, &format!("/api/social/{}/followers", ann.id)).await.status, StatusCode::OK, "mutual");

    app.post_as(&ann, "/api/social/block", json!({ "userId": bob.id })).await;
    app.set_user_attribute(
        &ann.id,
        "privacySettings.activityVisibility",
        aws_sdk_dynamodb::types::AttributeValue::S("public".into()),
    )
    .await;
    assert_eq!(
        app.get_as(&bob, &format!("/api/social/{}/followers", ann.id)).await.status,
        StatusCode::FORBIDDEN,
        "blocked"
    );
    assert_eq!(app.get_as(&bob, "/api/social/no-such-user/followers").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reports_need_a_verified_email_and_one_open_report_per_target() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    let body = json!({ "userId": bob.id, "reason": "spam", "details": "sells followers" });
    let unverified = app.post_as(&ann, "/api/social/report", body.clone()).await;
    assert_eq!((unverified.status, unverified.error_code()), (StatusCode::FORBIDDEN, "EMAIL_NOT_VERIFIED"));

    app.set_email_verified(&ann).await;
    let created = app.post_as(&ann, "/api/social/report", body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "open");
    assert!(created.body["id"].as_str().is_some_and(|id| !id.is_empty()));
    let duplicate = app.post_as(&ann, "/api/social/report", json!({ "userId": bob.id, "reason": "harassment" })).await;
    assert_eq!((duplicate.status, duplicate.error_code()), (StatusCode::CONFLICT, "ALREADY_REPORTED"));

    let cases = [
        (json!({ "userId": bob.id, "reason": "boring" }), vec!["reason"]),
        (json!({ "userId": bob.id }), vec!["reason"]),
        (json!({ "userId": bob.id, "reason": "other", "details": "x".repeat(1001) }), vec!["details"]),
        (json!({ "userId": ann.id, "reason": "other" }), vec!["userId"]),
        (json!({ "reason": 5 }), vec!["reason"]),
    ];
    for (body, fields) in cases {
        let response = app.post_as(&ann, "/api/social/report", body.clone()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(response.detail_fields(), fields, "{body}");
    }
    let unknown = app.post_as(&ann, "/api/social/report", json!({ "userId": "nobody", "reason": "spam" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The moderation queue holds the report, open.
    assert_eq!(app.index_partition("GSI1", "REPORTS#open").await.len(), 1);
}

#[tokio::test]
async fn relationship_of_unknown_or_self_is_refused() {
    let app = TestApp::new().await;
    let ann = app.user("ann").await;
    assert_eq!(app.get_as(&ann, "/api/social/relationship/nobody").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&ann, &format!("/api/social/relationship/{}", ann.id)).await.status, StatusCode::BAD_REQUEST);
    // Nobody asks to follow themselves: there is no such request to accept.
    let own = app.post_as(&ann, &format!("/api/social/requests/{}/accept", ann.id), serde_json::json!({})).await;
    assert_eq!(own.status, StatusCode::NOT_FOUND, "{:?}", own.body);
}

/// 200 random follow/unfollow/block/unblock/accept operations among a few users, run
/// concurrently; then every counter equals its edges and no edge is one-sided.
#[tokio::test]
async fn concurrent_graph_changes_keep_counters_and_edges_consistent() {
    let app = TestApp::new().await;
    let mut users = Vec::new();
    for name in ["u_one", "u_two", "u_three", "u_four", "u_five"] {
        users.push(app.user(name).await);
    }
    app.set_profile_visibility(&users[4], "private").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let ops: Vec<(usize, usize, u8)> = (0..200)
        .map(|_| {
            let a = rng.gen_range(0..users.len());
            let mut b = rng.gen_range(0..users.len());
            while b == a {
                b = rng.gen_range(0..users.len());
            }
            (a, b, rng.gen_range(0..10))
        })
        .collect();
    let app_ref = &app;
    let responses = join_all(ops.iter().map(|&(a, b, op)| {
        let (who, whom) = (&users[a], &users[b]);
        let (path, body) = match op {
            0..=4 => ("/api/social/follow".to_string(), json!({ "userId": whom.id })),
            5..=6 => ("/api/social/unfollow".to_string(), json!({ "userId": whom.id })),
            7 => ("/api/social/block".to_string(), json!({ "userId": whom.id })),
            8 => ("/api/social/unblock".to_string(), json!({ "userId": whom.id })),
            _ => (format!("/api/social/requests/{}/accept", whom.id), json!({})),
        };
        async move { app_ref.post_as(who, &path, body).await }
    }))
    .await;
    // Each operation answers what it can answer: a follow is refused across a block, an
    // accept finds no request; unfollow, block and unblock always hold. A 503 is a
    // transaction that kept conflicting past its retries: rare, never the rule.
    let mut by_status = std::collections::BTreeMap::new();
    for (&(_, _, op), response) in ops.iter().zip(&responses) {
        let (status, code) = (response.status.as_u16(), response.error_code().to_owned());
        let allowed: &[(u16, &str)] = match op {
            0..=4 => &[(200, ""), (403, "FORBIDDEN"), (503, "SERVICE_UNAVAILABLE")],
            9 => &[(200, ""), (404, "NOT_FOUND"), (503, "SERVICE_UNAVAILABLE")],
            _ => &[(200, ""), (503, "SERVICE_UNAVAILABLE")],
        };
        assert!(allowed.contains(&(status, code.as_str())), "op {op} answered {status} {code}: {:?}", response.body);
        *by_status.entry((op, status)).or_insert(0) += 1;
    }
    let unavailable = responses.iter().filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE).count();
    assert!(unavailable <= 10, "at most 5% of the changes give up on conflicts ({unavailable}/200): {by_status:?}");
    println!("answers by (operation, status): {by_status:?}");

    let items = app.all_items().await;
    let text =
        |item: &shared::store::Item, k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let edges: HashSet<(String, String)> = items
        .iter()
        .filter(|i| {
            ["FOLLOWING#", "FOLLOWER#", "REQUEST#", "REQUESTED#", "BLOCKING#", "BLOCKEDBY#"]
                .iter()
                .any(|p| text(i, "SK").starts_with(p))
        })
        .map(|i| (text(i, "PK").trim_start_matches("USER#").to_owned(), text(i, "SK")))
        .collect();
    let has = |owner: &str, prefix: &str, other: &str| edges.contains(&(owner.to_owned(), format!("{prefix}{other}")));
    for (owner, sk) in &edges {
        let (prefix, other) = sk.split_at(sk.find('#').unwrap() + 1);
        let mirror = match prefix {
            "FOLLOWING#" => "FOLLOWER#",
            "FOLLOWER#" => "FOLLOWING#",
            "REQUEST#" => "REQUESTED#",
            "REQUESTED#" => "REQUEST#",
            "BLOCKING#" => "BLOCKEDBY#",
            _ => "BLOCKING#",
        };
        assert!(has(other, mirror, owner), "one-sided edge {owner} {sk}");
        if prefix == "FOLLOWING#" || prefix == "REQUESTED#" {
            assert!(!has(owner, "BLOCKING#", other) && !has(owner, "BLOCKEDBY#", other), "{sk} survived a block");
        }
    }
    let mut counted: HashMap<String, (i64, i64)> = HashMap::new();
    for (owner, sk) in &edges {
        let entry = counted.entry(owner.clone()).or_default();
        if sk.starts_with("FOLLOWER#") {
            entry.0 += 1;
        } else if sk.starts_with("FOLLOWING#") {
            entry.1 += 1;
        }
    }
    for user in &users {
        assert_eq!(
            app.counts(user).await,
            counted.get(&user.id).copied().unwrap_or_default(),
            "{}'s counters",
            user.name
        );
    }
}

/// A deactivated account's access token stays valid for minutes; every graph write
/// answers it the same 401, at once (no 503 after retries, no write).
#[tokio::test]
async fn a_deactivated_callers_token_gets_401_on_every_graph_write() {
    let app = TestApp::new().await;
    let (ada, bob) = (app.user("ada").await, app.user("bob").await);
    app.set_email_verified(&bob).await;
    app.follow(&bob, &ada).await;
    app.follow(&ada, &bob).await;
    let gone = app.post_as(&bob, "/api/users/deactivate", json!({ "password": support::PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK);
    let before = app.all_items().await.len();
    let target = json!({ "userId": ada.id });
    for (path, body) in [
        ("/api/social/follow", target.clone()),
        ("/api/social/unfollow", target.clone()),
        ("/api/social/block", target.clone()),
        ("/api/social/unblock", target.clone()),
        ("/api/social/report", json!({ "userId": ada.id, "reason": "spam" })),
        (&format!("/api/social/requests/{}/accept", ada.id), json!({})),
        (&format!("/api/social/requests/{}/reject", ada.id), json!({})),
    ] {
        let response = app.post_as(&bob, path, body).await;
        assert_eq!((response.status, response.error_code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"), "{path}");
    }
    assert_eq!(app.all_items().await.len(), before, "nothing was written");
}

async fn mute(app: &TestApp, who: &User, whom: &User, extra: Value) -> Value {
    let mut body = json!({ "userId": whom.id });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let response = app.post_as(who, "/api/social/mute", body).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    response.body
}

fn mute_flags(relation: &Value) -> (bool, bool, bool) {
    let flag = |name: &str| relation[name].as_bool().unwrap();
    (flag("muting"), flag("mutingNotifications"), relation["mutingExpiresAt"].is_string())
}

#[tokio::test]
async fn a_mute_is_private_idempotent_listed_and_replaced_by_muting_again() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.freeze();
    assert_eq!(
        mute(&app, &ann, &bob, json!({})).await,
        json!({ "muting": true, "notifications": true, "expiresAt": null })
    );
    assert_eq!(mute_flags(&relationship(&app, &ann, &bob).await), (true, true, false));
    assert_eq!(relationship(&app, &bob, &ann).await, flags(false, false, false, false, false, false), "private");
    assert_eq!(relationship(&app, &ann, &bob).await["following"], false, "independent of follows");

    let timed = mute(&app, &ann, &bob, json!({ "notifications": false, "durationSeconds": 3600 })).await;
    assert_eq!((timed["muting"].as_bool(), timed["notifications"].as_bool()), (Some(true), Some(false)));
    let ends = chrono::DateTime::parse_from_rfc3339(timed["expiresAt"].as_str().unwrap()).unwrap();
    let in_an_hour = app.state.store.now() + chrono::Duration::seconds(3600);
    assert_eq!(ends.timestamp(), in_an_hour.timestamp(), "the clock is frozen");
    assert_eq!(mute_flags(&relationship(&app, &ann, &bob).await), (true, false, true));

    let listed = app.get_as(&ann, "/api/social/muted").await;
    assert_eq!(listed.status, StatusCode::OK);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["id"].as_str(), items[0]["username"].as_str()), (Some(bob.id.as_str()), Some("bob")));
    assert_eq!(items[0]["muteExpiresAt"], timed["expiresAt"]);
    assert_eq!(app.get_as(&bob, "/api/social/muted").await.body["items"], json!([]), "bob mutes nobody");

    for _ in 0..2 {
        let unmuted = app.post_as(&ann, "/api/social/unmute", json!({ "userId": bob.id })).await;
        assert_eq!((unmuted.status, &unmuted.body), (StatusCode::OK, &json!({ "muting": false })));
    }
    assert_eq!(relationship(&app, &ann, &bob).await, flags(false, false, false, false, false, false));
    assert_eq!(app.get_as(&ann, "/api/social/muted").await.body["items"], json!([]));
    let left: Vec<_> = support::keys_of(&app.all_items().await)
        .into_iter()
        .filter(|(_, sk)| sk.starts_with("MUTING#") || sk.starts_with("MUTEDBY#"))
        .collect();
    assert_eq!(left, vec![], "both edges are gone");
}

#[tokio::test]
async fn mute_rules_yourself_unknown_and_durations() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    let own = app.post_as(&ann, "/api/social/mute", json!({ "userId": ann.id })).await;
    assert_eq!((own.status, own.detail_fields()), (StatusCode::BAD_REQUEST, vec!["userId".to_string()]));
    let unknown = app.post_as(&ann, "/api/social/mute", json!({ "userId": "no-such-user" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for bad in [json!(-1), json!(315_360_001), json!("soon"), json!(1.5)] {
        let r = app.post_as(&ann, "/api/social/mute", json!({ "userId": bob.id, "durationSeconds": bad })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    let zero = mute(&app, &ann, &bob, json!({ "durationSeconds": 0 })).await;
    assert_eq!(zero["expiresAt"], Value::Null, "0 means until lifted");
    let own = app.post_as(&ann, "/api/social/unmute", json!({ "userId": ann.id })).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_mute_ends_by_itself() {
    let app = TestApp::new().await;
    let (ann, bob) = (app.user("ann").await, app.user("bob").await);
    app.freeze();
    mute(&app, &ann, &bob, json!({ "durationSeconds": 60 })).await;
    app.advance(chrono::Duration::seconds(59));
    assert_eq!(mute_flags(&relationship(&app, &ann, &bob).await), (true, true, true));
    app.advance(chrono::Duration::seconds(2));
    assert_eq!(relationship(&app, &ann, &bob).await, flags(false, false, false, false, false, false));
    assert_eq!(app.get_as(&ann, "/api/social/muted").await.body["items"], json!([]));
    follow(&app, &bob, &ann).await;
    let told = app.outbox().await.into_iter().filter(|m| m.kind == "new_follower" && m.user_id == ann.id).count();
    assert_eq!(told, 1, "an ended mute silences nothing");
}

#[tokio::test]
async fn a_muted_users_follows_and_requests_send_no_notification() {
    let app = TestApp::new().await;
    let (ann, bob, carol, dave) =
        (app.user("ann").await, app.user("bob").await, app.user("carol").await, app.user("dave").await);
    let told = |kind: &'static str, to: String| {
        let app = &app;
        async move { app.outbox().await.into_iter().filter(|m| m.kind == kind && m.user_id == to).count() }
    };
    mute(&app, &ann, &bob, json!({})).await;
    mute(&app, &ann, &carol, json!({ "notifications": false })).await;
    follow(&app, &bob, &ann).await;
    assert_eq!(told("new_follower", ann.id.clone()).await, 0, "bob is muted with notifications");
    follow(&app, &carol, &ann).await;
    assert_eq!(told("new_follower", ann.id.clone()).await, 1, "carol's mute leaves notifications on");

    app.set_profile_visibility(&ann, "private").await;
    mute(&app, &ann, &dave, json!({})).await;
    assert_eq!(follow(&app, &dave, &ann).await, json!({ "status": "requested" }));
    assert_eq!(told("follow_request", ann.id.clone()).await, 0, "a muted user's request is silent");
    let accepted = app.post_as(&ann, &format!("/api/social/requests/{}/accept", dave.id), json!({})).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(told("new_follower", ann.id.clone()).await, 1, "accepting a muted user's request is silent too");
    assert_eq!(app.counts(&ann).await, (3, 0), "muted users still follow");
}
