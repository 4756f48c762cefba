//! The notify function's handler over stream batches (the files in events/notify/, as
//! Lambda would deliver them), sending through moto's SES; each message once, failures
//! set aside without holding up the rest; follow notifications and their preferences.

use std::collections::HashMap;

use notify::{BatchResponse, Notifier, Transport};
use serde_json::{json, Value};
use shared::store::Item;
use support::{moto_sent_emails, sdk_config, TestApp, User};

const BASE_URL: &str = "https://app.example";

fn event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/notify").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn records(event: &Value) -> &Vec<Value> {
    event["Records"].as_array().unwrap()
}

/// A sender identity of its own, verified in moto's SES.
async fn verified_sender() -> String {
    let address = format!("no-reply-{}@mail.example.test", uuid::Uuid::new_v4().simple());
    let ses = aws_sdk_sesv2::Client::new(&sdk_config("MOTO_ENDPOINT"));
    ses.create_email_identity().email_identity(&address).send().await.expect("verify the sender in moto");
    address
}

/// The notify function as Lambda runs it, on the test's table, sending through moto.
async fn notifier(app: &TestApp) -> (Notifier, String) {
    let from = verified_sender().await;
    (Notifier::new(app.state.store.clone(), Transport::ses(&sdk_config("MOTO_ENDPOINT"), &from), BASE_URL), from)
}

/// Writes every record's new image into the table, as the change that produced it did.
async fn put_images(app: &TestApp, event: &Value) {
    for image in records(event).iter().filter_map(|r| r["dynamodb"].get("NewImage")) {
        let item: Item = serde_json::from_value::<serde_dynamo::Item>(image.clone()).unwrap().into();
        app.put_item(item).await;
    }
}

fn message_id(record: &Value) -> &str {
    record["dynamodb"]["Keys"]["PK"]["S"].as_str().unwrap().strip_prefix("OUTBOX#").unwrap()
}

fn sequence(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned()
}

fn failures(response: &BatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

async fn message_item(app: &TestApp, id: &str) -> Item {
    app.item(shared::store::keys::outbox::key(id)).await.unwrap_or_else(|| panic!("message {id} is gone"))
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn data_keys(item: &Item) -> Vec<String> {
    let data = item.get("data").and_then(|d| d.as_m().ok()).cloned().unwrap_or_default();
    let mut keys: Vec<String> = data.into_keys().collect();
    keys.sort();
    keys
}

/// The email moto accepted under SES's message id.
async fn sent_email(provider_id: &str) -> Value {
    moto_sent_emails().await.into_iter().find(|m| m["id"] == provider_id).unwrap_or_else(|| {
        panic!("moto has no email {provider_id}");
    })
}

/// Emails accepted from a sender (each test has its own; moto is shared).
async fn emails_from(sender: &str) -> usize {
    moto_sent_emails().await.iter().filter(|m| m["source"] == sender).count()
}

async fn emails_to(address: &str) -> usize {
    moto_sent_emails().await.iter().filter(|m| m["destinations"]["ToAddresses"][0] == address).count()
}

#[tokio::test]
async fn every_kind_of_message_reaches_ses_with_its_subject_and_link_and_leaves_no_token() {
    let app = TestApp::new().await;
    let (notifier, from) = notifier(&app).await;
    let event = event("messages.json");
    put_images(&app, &event).await;

    let response = notifier.handle(&event).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let expected: HashMap<&str, (&str, Option<&str>)> = HashMap::from([
        (
            "verify_email",
            ("Confirm your email address", Some("/verify-email?token=sample-verification-token-not-a-secret")),
        ),
        ("reset_password", ("Reset your password", Some("/reset-password?token=sample-reset-token-not-a-secret"))),
        ("password_changed", ("Your password was changed", Some("/forgot-password"))),
        ("new_sign_in", ("New sign-in to your account", Some("/settings/sessions"))),
        ("refresh_token_reuse", ("We ended a session that looked stolen", Some("/settings/sessions"))),
        ("account_deactivated", ("Your account is deactivated", None)),
        (
            "new_follower",
            ("Sample O'Friend (@sample_friend) now follows you", Some("/users/5a3f0c1e-0000-4000-8000-000000000002")),
        ),
        ("follow_request", ("Sample O'Friend (@sample_friend) asked to follow you", Some("/follow-requests"))),
        ("mfa_changed", ("Your two-step sign-in changed", Some("/settings/security"))),
        (
            "confirm_email_change",
            (
                "Confirm your new email address",
                Some("/confirm-email-change?token=sample-email-change-token-not-a-secret"),
            ),
        ),
        ("email_change_requested", ("A change of your email address was asked for", Some("/settings/sessions"))),
        ("email_changed", ("Your email address was changed", None)),
        ("data_export_ready", ("Your data export is ready", None)),
        ("account_moderated", ("Your account was suspended", None)),
    ]);
    assert_eq!(records(&event).len(), expected.len(), "one record of each kind");
    for record in records(&event) {
        let item = message_item(&app, message_id(record)).await;
        let kind = text(&item, "kind").unwrap();
        let (subject, link) = expected[kind];
        assert_eq!(text(&item, "delivery"), Some("delivered"), "{kind}");
        let secrets = shared::store::outbox::SECRET_DATA;
        assert!(data_keys(&item).iter().all(|k| !secrets.contains(&k.as_str())), "{kind}: tokens and links are gone");
        let email = sent_email(text(&item, "providerMessageId").expect("SES's message id is kept")).await;
        assert_eq!(email["destinations"]["ToAddresses"], json!([text(&item, "to").unwrap()]), "{kind}");
        let to_new_address = kind == "confirm_email_change";
        assert_eq!(text(&item, "to") == Some("sample_user@example.org"), !to_new_address, "{kind}");
        assert_eq!(email["source"], from.as_str(), "{kind}");
        assert_eq!(email["subject"], subject, "{kind}");
        let body = email["body"].as_str().unwrap();
        if let Some(link) = link {
            assert!(body.contains(&format!("href=\"{BASE_URL}{link}\"")), "{kind}: {body}");
        }
        if kind.starts_with("new_follower") {
            assert!(body.contains("Sample O&#39;Friend"), "names are escaped in HTML: {body}");
        }
    }
}

#[tokio::test]
async fn a_bad_record_and_a_refused_message_hold_up_nothing_and_only_the_transient_come_back() {
    let app = TestApp::new().await;
    let (notifier, from) = notifier(&app).await;
    let event = event("mixed-batch.json");
    put_images(&app, &event).await;
    let [good, garbled, unreadable, refused, held, later] = records(&event).as_slice() else {
        panic!("mixed-batch.json holds six records");
    };
    // Another delivery (a crashed one, say) holds this message's lease for 30 s.
    let claim = app.state.store.outbox().claim_message(message_id(held), app.state.now(), 30).await.unwrap();
    assert!(matches!(claim, shared::store::outbox::Claim::Claimed(_)));
    assert!(garbled["dynamodb"].get("Keys").is_none(), "a record without keys cannot be read");

    let response = notifier.handle(&event).await;
    assert_eq!(failures(&response), [sequence(held)], "exactly the transient one goes back");
    for delivered in [good, later] {
        let item = message_item(&app, message_id(delivered)).await;
        assert_eq!(text(&item, "delivery"), Some("delivered"));
        sent_email(text(&item, "providerMessageId").unwrap()).await;
    }
    let unreadable = message_item(&app, message_id(unreadable)).await;
    assert_eq!(text(&unreadable, "delivery"), Some("failed"));
    assert_eq!(text(&unreadable, "failure"), Some("the item is not a readable message"));
    assert_eq!(data_keys(&unreadable), Vec::<String>::new(), "a failed message keeps no token either");
    let refused = message_item(&app, message_id(refused)).await;
    assert_eq!(text(&refused, "delivery"), Some("failed"));
    assert_eq!(text(&refused, "failure"), Some("SES refused the message: InvalidParameterValue"));
    assert!(!text(&refused, "failure").unwrap().contains('@'), "no address in the recorded reason");

    // Lambda hands the batch back from the failed record on: nothing is sent twice,
    // nothing settled is tried again, and the held message still waits.
    let sent_before = emails_from(&from).await;
    assert_eq!(sent_before, 2);
    let again = notifier.handle(&event).await;
    assert_eq!(failures(&again), [sequence(held)]);
    assert_eq!(emails_from(&from).await, sent_before, "a repeated batch sends nothing new");

    // Once the other delivery's lease is gone, the retry delivers it, once.
    app.state.store.outbox().release_message(message_id(held)).await.unwrap();
    let last = notifier.handle(&json!({ "Records": [held] })).await;
    assert_eq!(failures(&last), Vec::<String>::new());
    let item = message_item(&app, message_id(held)).await;
    assert_eq!(text(&item, "delivery"), Some("delivered"));
    assert_eq!(item["attempts"].as_n().unwrap(), "2", "claimed by the other delivery, then by this one");
}

#[tokio::test]
async fn an_unreachable_mail_service_hands_the_message_back_and_frees_it_for_the_retry() {
    let app = TestApp::new().await;
    let event = event("messages.json");
    put_images(&app, &event).await;
    let record = &records(&event)[0];
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::for_tests(),
        ))
        .endpoint_url(format!("http://127.0.0.1:{closed_port}"))
        .build();
    let down =
        Notifier::new(app.state.store.clone(), Transport::ses(&unreachable, "no-reply@mail.example.test"), BASE_URL);

    let batch = json!({ "Records": [record] });
    assert_eq!(failures(&down.handle(&batch).await), [sequence(record)]);
    let item = message_item(&app, message_id(record)).await;
    assert_eq!(text(&item, "delivery"), None, "the lease is released at once");
    assert_eq!(data_keys(&item), ["token"], "an undelivered message keeps its token");

    let (notifier, _) = notifier(&app).await;
    assert_eq!(failures(&notifier.handle(&batch).await), Vec::<String>::new());
    assert_eq!(text(&message_item(&app, message_id(record)).await, "delivery"), Some("delivered"));
}

/// One record of `messages.json` to an address of its own, written to the table.
async fn message_to_own_address(app: &TestApp) -> (Value, String) {
    let address = format!("twice-{}@example.org", uuid::Uuid::new_v4().simple());
    let mut record = records(&event("messages.json"))[2].clone();
    record["dynamodb"]["NewImage"]["to"] = json!({ "S": address });
    put_images(app, &json!({ "Records": [record.clone()] })).await;
    (record, address)
}

#[tokio::test]
async fn the_same_record_delivered_twice_sends_one_email() {
    let app = TestApp::new().await;
    let (notifier, _) = notifier(&app).await;

    let (record, address) = message_to_own_address(&app).await;
    let batch = json!({ "Records": [record] });
    assert_eq!(failures(&notifier.handle(&batch).await), Vec::<String>::new());
    assert_eq!(failures(&notifier.handle(&batch).await), Vec::<String>::new());
    assert_eq!(emails_to(&address).await, 1, "one email for a record seen twice");

    // Two deliveries at once (a redrive beside the mapping's retry): one sends.
    let (record, address) = message_to_own_address(&app).await;
    let batch = json!({ "Records": [record] });
    let (a, b) = tokio::join!(notifier.handle(&batch), notifier.handle(&batch));
    assert!(failures(&a).len() + failures(&b).len() <= 1, "at most the loser waits for the winner");
    assert_eq!(failures(&notifier.handle(&batch).await), Vec::<String>::new(), "then it is settled");
    assert_eq!(emails_to(&address).await, 1, "one email for two concurrent deliveries");
}

/// The outbox messages of `kind` to `user`, as the data they carry.
async fn messages_to(app: &TestApp, kind: &str, user: &User) -> Vec<HashMap<String, String>> {
    app.outbox().await.into_iter().filter(|m| m.kind == kind && m.user_id == user.id).map(|m| m.data).collect()
}

async fn set_notifications(app: &TestApp, user: &User, preferences: Value) {
    let response = app.put_as(user, "/api/users/notifications", preferences).await;
    assert_eq!(response.status, http::StatusCode::OK, "{:?}", response.body);
}

async fn refollow(app: &TestApp, who: &User, whom: &User) {
    let response = app.post_as(who, "/api/social/unfollow", json!({ "userId": whom.id })).await;
    assert_eq!(response.status, http::StatusCode::OK);
    app.follow(who, whom).await;
}

#[tokio::test]
async fn new_follower_messages_follow_the_email_and_follows_switches() {
    let app = TestApp::new().await;
    let (ada, bob) = (app.user("ada").await, app.user("bob").await);
    app.update_profile(&bob, json!({ "firstName": "Bob", "lastName": "O'Brien" })).await;

    app.follow(&bob, &ada).await;
    let sent = messages_to(&app, "new_follower", &ada).await;
    assert_eq!(sent.len(), 1, "on by default");
    assert_eq!((sent[0]["actorId"].as_str(), sent[0]["actorUsername"].as_str()), (bob.id.as_str(), "bob"));
    assert_eq!(sent[0]["actorName"], "Bob O'Brien");
    app.follow(&bob, &ada).await;
    assert_eq!(messages_to(&app, "new_follower", &ada).await.len(), 1, "following again changes nothing");

    set_notifications(&app, &ada, json!({ "follows": false })).await;
    refollow(&app, &bob, &ada).await;
    assert_eq!(messages_to(&app, "new_follower", &ada).await.len(), 1, "follows off: no message");

    set_notifications(&app, &ada, json!({ "follows": true, "emailNotifications": false })).await;
    refollow(&app, &bob, &ada).await;
    assert_eq!(messages_to(&app, "new_follower", &ada).await.len(), 1, "email off: no message");

    set_notifications(&app, &ada, json!({ "emailNotifications": true })).await;
    refollow(&app, &bob, &ada).await;
    assert_eq!(messages_to(&app, "new_follower", &ada).await.len(), 2, "both on again: a message");
    assert!(messages_to(&app, "new_follower", &bob).await.is_empty(), "the follower is not told");
}

#[tokio::test]
async fn follow_request_messages_follow_their_switch_and_an_accepted_request_tells_of_the_new_follower() {
    let app = TestApp::new().await;
    let (ada, bob, cy) = (app.user("ada").await, app.user("bob").await, app.user("cyd").await);
    app.set_profile_visibility(&ada, "private").await;

    set_notifications(&app, &ada, json!({ "followRequests": false })).await;
    app.follow(&cy, &ada).await;
    assert!(messages_to(&app, "follow_request", &ada).await.is_empty(), "requests off: no message");

    set_notifications(&app, &ada, json!({ "followRequests": true, "follows": false })).await;
    app.follow(&bob, &ada).await;
    let requests = messages_to(&app, "follow_request", &ada).await;
    assert_eq!(requests.len(), 1, "requests on: a message");
    assert_eq!(requests[0]["actorUsername"], "bob");

    let accepted = app.post_as(&ada, &format!("/api/social/requests/{}/accept", cy.id), json!({})).await;
    assert_eq!(accepted.status, http::StatusCode::OK);
    assert!(messages_to(&app, "new_follower", &ada).await.is_empty(), "follows off: no message on accept");

    set_notifications(&app, &ada, json!({ "follows": true })).await;
    let accepted = app.post_as(&ada, &format!("/api/social/requests/{}/accept", bob.id), json!({})).await;
    assert_eq!(accepted.status, http::StatusCode::OK);
    let followers = messages_to(&app, "new_follower", &ada).await;
    assert_eq!(followers.len(), 1, "follows on: the accepted request is a new follower");
    assert_eq!(followers[0]["actorUsername"], "bob");
}
