//! Profiles and privacy, profile and notification updates, search, stats,
//! deactivation and reactivation, and health, through the real routers.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::store::Store;
use shared::AppState;
use support::{config_with, test_keys, TestApp, TestResponse, User, PASSWORD};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Own,
    Full,
    Limited,
    Missing,
}

fn seen(response: &TestResponse) -> Seen {
    match response.status {
        StatusCode::NOT_FOUND => Seen::Missing,
        StatusCode::OK if response.body.get("email").is_some() => Seen::Own,
        StatusCode::OK if response.body.get("followersCount").is_some() => Seen::Full,
        StatusCode::OK => {
            assert_eq!(response.body["isPrivate"], true, "a limited user says it is private");
            assert!(response.body.get("bio").is_none());
            Seen::Limited
        }
        other => panic!("unexpected {other}: {:?}", response.body),
    }
}

struct Cast {
    target: User,
    stranger: User,
    follower: User,
    mutual: User,
    blocked: User,
}

async fn cast(app: &TestApp) -> Cast {
    let target = app.user("target").await;
    let (stranger, follower, mutual, blocked) =
        (app.user("stranger").await, app.user("follower").await, app.user("mutual").await, app.user("blocked").await);
    app.update_profile(&target, json!({ "bio": "hello", "location": "Lisbon", "phone": "+351 912 345 678" })).await;
    app.follow(&follower, &target).await;
    app.follow(&mutual, &target).await;
    app.follow(&target, &mutual).await;
    let block = app.post_as(&target, "/api/social/block", json!({ "userId": blocked.id })).await;
    assert_eq!(block.status, StatusCode::OK);
    Cast { target, stranger, follower, mutual, blocked }
}

async fn view(app: &TestApp, viewer: Option<&User>, target: &User) -> TestResponse {
    app.get(&format!("/api/users/{}", target.id), viewer.map(|v| v.token.as_str())).await
}

#[tokio::test]
async fn profile_visibility_for_every_viewer() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    use Seen::*;
    let expectations = [
        ("public", [Full, Full, Full, Full, Own, Missing]),
        ("friends", [Limited, Limited, Limited, Full, Own, Missing]),
        ("private", [Limited, Limited, Full, Full, Own, Missing]),
    ];
    for (setting, expected) in expectations {
        app.update_profile(&c.target, json!({ "privacySettings": { "profileVisibility": setting } })).await;
        let viewers = [None, Some(&c.stranger), Some(&c.follower), Some(&c.mutual), Some(&c.target), Some(&c.blocked)];
        for (viewer, want) in viewers.into_iter().zip(expected) {
            let by_id = view(&app, viewer, &c.target).await;
            assert_eq!(seen(&by_id), want, "{setting} seen by {:?}", viewer.map(|v| &v.name));
            let by_name = app.get("/api/users/by-username/TARGET", viewer.map(|v| v.token.as_str())).await;
            assert_eq!(seen(&by_name), want, "{setting} by username, seen by {:?}", viewer.map(|v| &v.name));
        }
    }
}

#[tokio::test]
async fn contact_info_for_every_viewer() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let expectations = [
        ("public", [true, true, true, true, true]),
        ("friends", [false, false, false, true, true]),
        ("private", [false, false, false, false, true]),
    ];
    for (setting, expected) in expectations {
        app.update_profile(&c.target, json!({ "privacySettings": { "contactInfoVisibility": setting } })).await;
        let viewers = [None, Some(&c.stranger), Some(&c.follower), Some(&c.mutual), Some(&c.target)];
        for (viewer, want) in viewers.into_iter().zip(expected) {
            let response = view(&app, viewer, &c.target).await;
            assert_eq!(response.status, StatusCode::OK);
            let contact = &response.body["profile"];
            assert_eq!(!contact.is_null(), want, "{setting} seen by {:?}: {}", viewer.map(|v| &v.name), response.body);
            if want {
                assert_eq!(contact["location"], "Lisbon");
                assert_eq!(contact["phone"], "+351912345678");
            }
        }
    }
    let blocked = view(&app, Some(&c.blocked), &c.target).await;
    assert_eq!(blocked.error_code(), "NOT_FOUND");
    let stats = app.get(&format!("/api/users/{}/stats", c.target.id), Some(&c.blocked.token)).await;
    assert_eq!(stats.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn profile_updates_validate_every_field() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "bio": "b".repeat(501) }), "bio"),
        (json!({ "location": "l".repeat(256) }), "location"),
        (json!({ "occupation": "o".repeat(101) }), "occupation"),
        (json!({ "website": "ftp://example.org" }), "website"),
        (json!({ "website": format!("https://example.org/{}", "p".repeat(500)) }), "website"),
        (json!({ "profilePicture": "not a url" }), "profilePicture"),
        (json!({ "phone": "call me maybe" }), "phone"),
        (json!({ "phone": "12" }), "phone"),
        (json!({ "interests": vec!["x"; 21] }), "interests"),
        (json!({ "interests": ["i".repeat(51)] }), "interests"),
        (json!({ "interests": "rust" }), "interests"),
        (json!({ "socialLinks": { "github": "javascript:alert(1)" } }), "socialLinks"),
        (json!({ "dateOfBirth": "2999-01-01" }), "dateOfBirth"),
        (json!({ "dateOfBirth": "1899-12-31" }), "dateOfBirth"),
        (json!({ "dateOfBirth": "yesterday" }), "dateOfBirth"),
        (json!({ "firstName": "R2D2" }), "firstName"),
        (json!({ "lastName": "" }), "lastName"),
        (json!({ "bio": 5 }), "bio"),
        (json!({ "privacySettings": { "profileVisibility": "secret" } }), "privacySettings.profileVisibility"),
        (json!({ "privacySettings": null }), "privacySettings"),
        (json!({ "privacySettings": { "everyone": true } }), "privacySettings.everyone"),
        (json!({ "email": "new@example.org" }), "email"),
        (json!({ "followersCount": 1000000 }), "followersCount"),
    ];
    for (patch, field) in cases {
        let response = app.put_as(&ada, "/api/users/profile", patch.clone()).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{patch} was accepted");
        assert_eq!(response.error_code(), "VALIDATION_ERROR");
        assert_eq!(response.detail_fields(), [field], "{patch}");
    }
    let several = app.put_as(&ada, "/api/users/profile", json!({ "bio": "b".repeat(501), "website": "nope" })).await;
    assert_eq!(several.detail_fields().len(), 2, "every invalid field at once");

    let updated = app
        .update_profile(
            &ada,
            json!({
                "firstName": "Zoe\u{308}", "lastName": "Ōkubo-Łukasiewicz", "bio": "  Mathematician  ",
                "website": "https://ada.example.org", "interests": ["Engines", "engines", "Poetry"],
                "socialLinks": { "GitHub": "https://github.com/ada" }, "dateOfBirth": "1990-12-10",
                "phone": "+44 20 7946 0958", "privacySettings": { "activityVisibility": "friends" }
            }),
        )
        .await;
    let user = &updated.body;
    assert_eq!(user["firstName"], "Zoë");
    assert_eq!(user["bio"], "Mathematician");
    assert_eq!(user["profile"]["interests"], json!(["Engines", "Poetry"]));
    assert_eq!(user["profile"]["socialLinks"], json!({ "github": "https://github.com/ada" }));
    assert_eq!(
        user["privacySettings"],
        json!({ "profileVisibility": "public", "contactInfoVisibility": "friends", "activityVisibility": "friends" })
    );
    assert_eq!(user["dateOfBirth"], "1990-12-10");

    let cleared = app.update_profile(&ada, json!({ "bio": null, "interests": null, "website": null })).await;
    assert!(cleared.body["bio"].is_null());
    assert_eq!(cleared.body["profile"]["interests"], json!([]));
    assert!(cleared.body["profile"]["website"].is_null());
    assert_eq!(cleared.body["firstName"], "Zoë", "absent fields stay");
    let me = app.get_as(&ada, "/api/auth/me").await;
    assert_eq!(me.body["lastName"], "Ōkubo-Łukasiewicz");
    assert!(me.body["bio"].is_null());
}

#[tokio::test]
async fn notification_preferences_but_security_alerts_stay_on() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    let off = app.put_as(&ada, "/api/users/notifications", json!({ "securityAlerts": false })).await;
    assert_eq!((off.status, off.detail_fields()), (StatusCode::BAD_REQUEST, vec!["securityAlerts".to_string()]));
    for (patch, field) in [(json!({ "follows": "no" }), "follows"), (json!({ "sms": true }), "sms")] {
        assert_eq!(app.put_as(&ada, "/api/users/notifications", patch).await.detail_fields(), [field]);
    }
    let updated =
        app.put_as(&ada, "/api/users/notifications", json!({ "follows": false, "securityAlerts": true })).await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(
        updated.body["notificationPreferences"],
        json!({ "emailNotifications": true, "pushNotifications": true, "follows": false, "followRequests": true, "securityAlerts": true })
    );
}

async fn search(app: &TestApp, viewer: Option<&User>, query: &str) -> TestResponse {
    let response = app.get(&format!("/api/users/search?{query}"), viewer.map(|v| v.token.as_str())).await;
    assert_eq!(response.status, StatusCode::OK, "{query}: {:?}", response.body);
    response
}

fn usernames(response: &TestResponse) -> Vec<String> {
    response.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn search_by_prefix_of_each_name_ignoring_case_and_accents() {
    let app = TestApp::new().await;
    let zoe = app.user("zoe_smith").await;
    app.update_profile(&zoe, json!({ "firstName": "Zoë", "lastName": "Smith-Ångström" })).await;
    let other = app.user("other_person").await;
    app.update_profile(&other, json!({ "firstName": "Zed" })).await;

    for q in ["zoe", "ZOË", "Zoe%CC%88", "zoe_s", "smi", "ang", "ÅNGSTR", "zoe%20smi"] {
        assert_eq!(usernames(&search(&app, None, &format!("q={q}")).await), ["zoe_smith"], "q={q}");
    }
    assert_eq!(usernames(&search(&app, None, "q=z").await).len(), 2, "one of each user, though both match twice");
    assert!(usernames(&search(&app, None, "q=zz").await).is_empty());

    // Renaming moves the search entries with the name.
    app.update_profile(&zoe, json!({ "lastName": "Jones" })).await;
    assert!(usernames(&search(&app, None, "q=smi").await).is_empty());
    assert_eq!(usernames(&search(&app, None, "q=jon").await), ["zoe_smith"]);

    for (query, field) in
        [("", "q"), ("q=", "q"), (&format!("q={}", "a".repeat(51)), "q"), ("q=%21%21", "q"), ("q=a&limit=0", "limit")]
    {
        let response = app.get(&format!("/api/users/search?{query}"), None).await;
        assert_eq!(response.detail_fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn search_ranks_the_exact_username_first_and_pages() {
    let app = TestApp::new().await;
    for name in ["annabel", "anna_k", "ann"] {
        let user = app.user(name).await;
        app.update_profile(&user, json!({ "firstName": "Annie" })).await;
    }
    assert_eq!(usernames(&search(&app, None, "q=ann").await)[0], "ann");
    assert_eq!(usernames(&search(&app, None, "q=ANN").await)[0], "ann");
    assert_eq!(usernames(&search(&app, None, "q=ann").await).len(), 3);

    for i in 0..12 {
        app.user(&format!("pager_{i:02}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("q=pager&limit=5&cursor={c}"),
            None => "q=pager&limit=5".into(),
        };
        let page = search(&app, None, &query).await;
        pages += 1;
        seen.extend(usernames(&page));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("pager_{i:02}")).collect();
    assert_eq!(seen, expected);
    assert!(pages >= 3);
    // An exact match with limit 1 fills the first page; the rest follows without it.
    let first = search(&app, None, "q=ann&limit=1").await;
    assert_eq!(usernames(&first), ["ann"]);
    let rest =
        search(&app, None, &format!("q=ann&limit=10&cursor={}", first.body["nextCursor"].as_str().unwrap())).await;
    assert_eq!(usernames(&rest), ["anna_k", "annabel"]);
    let forged = app.get("/api/users/search?q=ann&cursor=abc.def", None).await;
    assert_eq!(forged.error_code(), "INVALID_CURSOR");
}

#[tokio::test]
async fn search_leaves_out_blocks_both_ways() {
    let app = TestApp::new().await;
    let (seeker, blocker, blockee, bystander) = (
        app.user("seeker").await,
        app.user("sblocker").await,
        app.user("sblockee").await,
        app.user("sbystander").await,
    );
    app.post_as(&blocker, "/api/social/block", json!({ "userId": seeker.id })).await;
    app.post_as(&seeker, "/api/social/block", json!({ "userId": blockee.id })).await;
    assert_eq!(usernames(&search(&app, Some(&seeker), "q=sb").await), ["sbystander"]);
    assert_eq!(usernames(&search(&app, Some(&bystander), "q=sb").await).len(), 3);
    assert_eq!(usernames(&search(&app, None, "q=sb").await).len(), 3);
    assert!(usernames(&search(&app, Some(&blocker), "q=seeker").await).is_empty());
}

#[tokio::test]
async fn deactivation_hides_everywhere_until_reactivation() {
    let app = TestApp::new().await;
    let leaver = app.user("leaver").await;
    let fan = app.user("fan").await;
    app.follow(&fan, &leaver).await;
    let login = app.login("leaver").await;
    let refresh = login.body["refreshToken"].as_str().unwrap().to_owned();

    let missing = app.post_as(&leaver, "/api/users/deactivate", json!({})).await;
    assert_eq!(missing.detail_fields(), ["password"]);
    let wrong = app.post_as(&leaver, "/api/users/deactivate", json!({ "password": "not-the-password-at-all" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    let done = app.post_as(&leaver, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!((done.status, done.body.clone()), (StatusCode::OK, json!({})));

    assert_eq!(app.refresh(&refresh).await.error_code(), "INVALID_TOKEN", "every session ended");
    assert_eq!(app.get_as(&leaver, "/api/auth/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(view(&app, None, &leaver).await.status, StatusCode::NOT_FOUND);
    assert_eq!(view(&app, Some(&fan), &leaver).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/users/by-username/leaver", None).await.status, StatusCode::NOT_FOUND);
    assert!(usernames(&search(&app, None, "q=leaver").await).is_empty());
    let following = app.get_as(&fan, &format!("/api/social/{}/following", fan.id)).await;
    assert_eq!(following.body["items"], json!([]));
    assert_eq!(
        app.post_as(&fan, "/api/social/follow", json!({ "userId": leaver.id })).await.status,
        StatusCode::NOT_FOUND
    );
    let taken = app
        .post(
            "/api/auth/register",
            json!({ "username": "Leaver", "email": "x@example.org", "password": PASSWORD, "agreeToTerms": true }),
        )
        .await;
    assert_eq!(taken.error_code(), "USERNAME_TAKEN", "the username stays reserved");

    assert_eq!(app.login("leaver").await.error_code(), "ACCOUNT_DEACTIVATED");
    let wrong = app
        .post("/api/auth/reactivate", json!({ "identifier": "leaver", "password": "not-the-password-at-all" }))
        .await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    let back =
        app.post("/api/auth/reactivate", json!({ "identifier": "leaver@example.org", "password": PASSWORD })).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(back.body["user"]["username"], "leaver");
    let token = back.body["accessToken"].as_str().unwrap();
    assert_eq!(app.get("/api/auth/me", Some(token)).await.status, StatusCode::OK);
    assert_eq!(seen(&view(&app, Some(&fan), &leaver).await), Seen::Full);
    assert_eq!(usernames(&search(&app, None, "q=leaver").await), ["leaver"]);
    let following = app.get_as(&fan, &format!("/api/social/{}/following", fan.id)).await;
    assert_eq!(following.body["items"][0]["username"], "leaver");
    let stats = app.get(&format!("/api/users/{}/stats", leaver.id), None).await;
    assert_eq!(stats.body["followersCount"], 1, "the graph survived");
    assert!(stats.body["memberSince"].is_string());
    assert_eq!(app.login("leaver").await.status, StatusCode::OK);
}

#[tokio::test]
async fn reactivation_has_a_window() {
    let app = TestApp::new().await;
    let late = app.user("latecomer").await;
    app.post_as(&late, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    let long_ago = (app.state.now() - chrono::Duration::days(31)).to_rfc3339();
    app.set_user_attribute(&late.id, "deactivatedAt", aws_sdk_dynamodb::types::AttributeValue::S(long_ago)).await;
    let response = app.post("/api/auth/reactivate", json!({ "identifier": "latecomer", "password": PASSWORD })).await;
    assert_eq!((response.status, response.error_code()), (StatusCode::FORBIDDEN, "ACCOUNT_DEACTIVATED"));
}

#[tokio::test]
async fn health_reports_dynamodb_and_fails_fast_without_it() {
    let app = TestApp::new().await;
    let healthy = app.get("/health/detailed", None).await;
    assert_eq!(healthy.status, StatusCode::OK, "{:?}", healthy.body);
    assert_eq!(healthy.body["checks"]["dynamodb"]["status"], "ok");
    assert!(healthy.body["checks"]["dynamodb"]["latencyMs"].is_number());
    assert_eq!(healthy.body["checks"]["signingKeys"]["keys"], 1);
    assert!(!healthy.body.to_string().contains(&app.table), "no configuration values in it");

    let dead = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&support::sdk_config("DYNAMODB_ENDPOINT"))
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let state =
        AppState::new(config_with(&[]), Store::from_client(dead, "gone"), test_keys(), support::TEST_CURSOR_SECRET)
            .unwrap();
    let router = users::app(state);
    let started = Instant::now();
    let request =
        http::Request::builder().method(Method::GET).uri("/health/detailed").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
    let request = http::Request::builder().method(Method::GET).uri("/health").body(axum::body::Body::empty()).unwrap();
    assert_eq!(
        tower::ServiceExt::oneshot(router, request).await.unwrap().status(),
        StatusCode::OK,
        "liveness needs nothing"
    );
}

#[tokio::test]
async fn reactivation_from_a_new_device_is_told_and_remembered() {
    let app = TestApp::new().await;
    let ada = app.user("ada").await;
    app.post_as(&ada, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    let from_phone =
        || support::post_from_phone("/api/auth/reactivate", json!({ "identifier": "ada", "password": PASSWORD }));
    assert_eq!(app.send(from_phone()).await.status, StatusCode::OK);
    let notices: Vec<_> = app.outbox().await.into_iter().filter(|m| m.kind == "new_sign_in").collect();
    assert_eq!(notices.len(), 1, "a reactivation from a new device is a sign-in from it");
    assert!(notices[0].data["device"].contains("iOS"), "{:?}", notices[0].data);

    // The device is remembered: signing in from it again tells nobody.
    let login = support::post_from_phone("/api/auth/login", json!({ "identifier": "ada", "password": PASSWORD }));
    assert_eq!(app.send(login).await.status, StatusCode::OK);
    let notices = app.outbox().await.into_iter().filter(|m| m.kind == "new_sign_in").count();
    assert_eq!(notices, 1);
}
