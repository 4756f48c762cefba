//! Account events out of the table: the `events` code publishing to EventBridge in moto
//! (read back through an SQS target, as a consumer would), webhooks registered by admins
//! and delivered through moto's SQS to receivers on this machine: signed (verified by
//! the `standardwebhooks` package, not by our code), retried after 500s and timeouts,
//! never sent to an inner address, a poison record set aside, a repeat harmless.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use shared::domain::user::Role;
use shared::domain::webhook::UrlRule;
use shared::services::moderation::{grant, Actor};
use support::{item, s, sdk_config, TestApp, User};

use crate::account_events::{assert_matches_schema, events_in};

async fn admin(app: &TestApp, name: &str) -> User {
    let user = app.enrolled_user(app.user(name).await).await;
    let record = app.state.store.users().user_by_id(&user.id).await.unwrap().unwrap();
    grant(&app.state.store, Actor::Operator("test-operator"), &record, Role::Admin).await.unwrap();
    user
}

/// Queues of this test's own in moto: the deliveries and the dead letters.
struct Moto {
    sqs: aws_sdk_sqs::Client,
    deliveries: String,
    dead_letters: String,
}

impl Moto {
    async fn new() -> Self {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config("MOTO_ENDPOINT"));
        let name = |kind: &str| format!("test-{kind}-{}", uuid::Uuid::new_v4().simple());
        let deliveries = sqs.create_queue().queue_name(name("deliveries")).send().await.unwrap().queue_url.unwrap();
        let dead_letters = sqs.create_queue().queue_name(name("dead")).send().await.unwrap().queue_url.unwrap();
        Moto { sqs, deliveries, dead_letters }
    }

    /// A publisher on this app's table and these queues (and `bus`, when given), whose
    /// deliveries resolve names with `resolve`.
    fn publisher(
        &self,
        app: &TestApp,
        bus: Option<&str>,
        timeout: Duration,
        resolve: events::deliver::Resolve,
    ) -> events::Publisher {
        let aws = sdk_config("MOTO_ENDPOINT");
        let key = app.state.webhook_key.clone().unwrap();
        let deliverer =
            events::Deliverer::new(app.state.store.clone(), key, UrlRule::AlsoLocalLoopback, timeout, resolve);
        let queue = events::Queue::new(&aws, self.deliveries.clone(), Some(self.dead_letters.clone()));
        events::Publisher::new(app.state.store.clone(), bus.map(|b| events::Bus::new(&aws, b)), queue, deliverer)
    }

    /// Every message of `url` that arrives within `wait`, deleted as read.
    async fn drain(&self, url: &str, wait: Duration) -> Vec<Value> {
        let mut found = Vec::new();
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until {
            found.extend(support::queues::receive(&self.sqs, url).await);
        }
        found
    }

    /// Hands the deliveries due to `publisher`, once some are.
    async fn deliver_some(&self, publisher: &events::Publisher) {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if local_server::events_local::poll_once(&self.sqs, &self.deliveries, publisher).await.unwrap() > 0 {
                return;
            }
        }
        panic!("no delivery came due");
    }

    /// Hands due deliveries to `publisher` as the local server's poller does, until
    /// `done` or `wait` runs out; how many were handled.
    async fn deliver_until(&self, publisher: &events::Publisher, wait: Duration, done: impl Fn() -> bool) -> usize {
        let until = std::time::Instant::now() + wait;
        let mut handled = 0;
        while !done() && std::time::Instant::now() < until {
            handled += local_server::events_local::poll_once(&self.sqs, &self.deliveries, publisher).await.unwrap();
        }
        handled
    }
}

/// The stream records Lambda would hand the function for these event ids (keys only,
/// as the table's stream has them).
fn stream_records(ids: &[String]) -> Value {
    let records: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "eventID": format!("e{i}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": { "Keys": { "PK": { "S": format!("EVENT#{id}") }, "SK": { "S": "EVENT" } }, "SequenceNumber": format!("{}", 100 + i) }
            })
        })
        .collect();
    json!({ "Records": records })
}

async fn event_ids(app: &TestApp) -> Vec<String> {
    events_in(app).await.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

/// What a receiver on this machine saw, and how it answers: the statuses in turn (then
/// 204), each after its delay.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<Vec<(u16, Duration)>>>,
    /// When each request arrived, and when each was answered.
    times: Arc<Mutex<(Vec<std::time::Instant>, Vec<std::time::Instant>)>>,
}

impl Receiver {
    async fn start(answers: Vec<(u16, Duration)>) -> (Self, String) {
        let receiver = Receiver { answers: Arc::new(Mutex::new(answers)), ..Default::default() };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn seen(&self) -> Vec<(HeaderMap, String)> {
        self.seen.lock().unwrap().clone()
    }

    fn arrivals(&self) -> Vec<std::time::Instant> {
        self.times.lock().unwrap().0.clone()
    }

    fn answered(&self) -> Vec<std::time::Instant> {
        self.times.lock().unwrap().1.clone()
    }
}

#[expect(clippy::disallowed_methods, reason = "a slow endpoint is slow: it answers after its delay")]
async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    receiver.times.lock().unwrap().0.push(std::time::Instant::now());
    receiver.seen.lock().unwrap().push((headers, body));
    let next = {
        let mut answers = receiver.answers.lock().unwrap();
        (!answers.is_empty()).then(|| answers.remove(0))
    };
    let (status, delay) = next.unwrap_or((204, Duration::ZERO));
    tokio::time::sleep(delay).await;
    receiver.times.lock().unwrap().1.push(std::time::Instant::now());
    StatusCode::from_u16(status).unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn register(app: &TestApp, admin: &User, url: &str, types: Value) -> Value {
    let answer = app.post_as(admin, "/api/admin/webhooks", json!({ "url": url, "eventTypes": types })).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn admins_register_list_rotate_test_and_delete_webhooks() {
    let app = TestApp::new().await;
    let root = admin(&app, "root").await;
    let (_, url) = Receiver::start(Vec::new()).await;
    let created = register(&app, &root, &url, json!(["user.deleted", "user.created", "user.deleted"])).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(created["eventTypes"], json!(["user.created", "user.deleted"]));
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap().to_owned();

    let listed = app.get_as(&root, "/api/admin/webhooks").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(!listed.body.to_string().contains("whsec_"), "a secret is shown once: {}", listed.body);
    let stored =
        app.all_items().await.into_iter().find(|i| i["PK"].as_s().unwrap() == &format!("WEBHOOK#{id}")).unwrap();
    assert!(!format!("{stored:?}").contains(&secret[6..]), "the secret is sealed in the table");

    let rotated = app.post_as(&root, &format!("/api/admin/webhooks/{id}/rotate-secret"), json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    assert_ne!(rotated.body["secret"], secret.as_str());

    let test = app.post_as(&root, &format!("/api/admin/webhooks/{id}/test"), json!({})).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{:?}", test.body);
    let test_event = events_in(&app).await.into_iter().find(|e| e["type"] == "webhook.test").unwrap();
    assert_eq!(test_event["id"], test.body["eventId"]);
    assert_matches_schema(&test_event);

    let deliveries = app.get_as(&root, &format!("/api/admin/webhooks/{id}/deliveries")).await;
    assert_eq!((deliveries.status, deliveries.body["items"].clone()), (StatusCode::OK, json!([])));

    let log = app.get_as(&root, "/api/admin/audit-log").await;
    let actions: Vec<&str> =
        log.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.starts_with(&["webhook.rotate_secret", "webhook.register"]), "{actions:?}");

    assert_eq!(
        app.call(http::Method::DELETE, &format!("/api/admin/webhooks/{id}"), None, Some(&root.token)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(http::Method::DELETE, &format!("/api/admin/webhooks/{id}"), None, Some(&root.token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get_as(&root, "/api/admin/webhooks").await.body["items"], json!([]));
}

#[tokio::test]
async fn only_admins_register_and_only_public_https_urls() {
    let app = TestApp::new().await;
    let root = admin(&app, "root").await;
    let moderator = app.enrolled_user(app.user("mod").await).await;
    let record = app.state.store.users().user_by_id(&moderator.id).await.unwrap().unwrap();
    grant(&app.state.store, Actor::Operator("test-operator"), &record, Role::Moderator).await.unwrap();
    let body = json!({ "url": "http://127.0.0.1:9/hook", "eventTypes": ["*"] });
    for (who, status) in [(&moderator, StatusCode::FORBIDDEN), (&app.user("ann").await, StatusCode::FORBIDDEN)] {
        assert_eq!(app.post_as(who, "/api/admin/webhooks", body.clone()).await.status, status);
    }
    for (url, types) in [
        ("http://hooks.example.com/users", json!(["*"])),
        ("https://10.0.0.8/hook", json!(["*"])),
        ("https://169.254.169.254/latest/meta-data/", json!(["*"])),
        ("https://[::1]/hook", json!(["*"])),
        ("https://localhost/hook", json!(["*"])),
        ("https://user:secret@hooks.example.com/", json!(["*"])),
        ("http://127.0.0.1/no-port", json!(["*"])),
        ("https://hooks.example.com/users", json!(["user.renamed"])),
        ("https://hooks.example.com/users", json!(["webhook.test"])),
        ("https://hooks.example.com/users", json!([])),
    ] {
        let answer = app.post_as(&root, "/api/admin/webhooks", json!({ "url": url, "eventTypes": types })).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{url} {types}"
        );
    }
    assert_eq!(app.get_as(&root, "/api/admin/webhooks").await.body["items"], json!([]));
}

#[tokio::test]
async fn events_reach_eventbridge_as_a_consumer_reads_them() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let aws = sdk_config("MOTO_ENDPOINT");
    let bus = format!("test-bus-{}", uuid::Uuid::new_v4().simple());
    aws_sdk_eventbridge::Client::new(&aws).create_event_bus().name(&bus).send().await.unwrap();
    let (sqs, target) = support::queues::bus_target(&aws, &bus).await;

    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    app.follow(&bob, &ada).await;
    let publisher = moto.publisher(&app, Some(&bus), Duration::from_secs(2), events::deliver::system_resolver());
    let response = publisher.handle(&stream_records(&event_ids(&app).await)).await;
    assert_eq!(response, events::BatchResponse::default());

    let received = support::queues::receive(&sqs, &target).await;
    let mut seen: Vec<(String, String)> = received
        .iter()
        .map(|e| (e["detail-type"].as_str().unwrap().to_owned(), e["detail"]["subject"].as_str().unwrap().to_owned()))
        .collect();
    seen.sort();
    let mut expected = vec![
        ("user.created".to_owned(), ada.id.clone()),
        ("user.created".into(), bob.id.clone()),
        ("follow.created".into(), bob.id.clone()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    for event in &received {
        assert_eq!(event["source"], "user-service");
        assert_matches_schema(&event["detail"]);
        let stored = events_in(&app).await.into_iter().find(|e| e["id"] == event["detail"]["id"]).unwrap();
        assert_eq!(event["detail"], stored, "the detail is the event as written");
    }
}

#[tokio::test]
async fn deliveries_are_signed_retried_after_500s_and_timeouts_and_repeats_keep_their_id() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let root = admin(&app, "root").await;
    // The first try answers 500, the second takes longer than the timeout, the third 200.
    let (receiver, url) =
        Receiver::start(vec![(500, Duration::ZERO), (200, Duration::from_millis(1500)), (200, Duration::ZERO)]).await;
    let webhook = register(&app, &root, &url, json!(["user.created"])).await;
    let id = webhook["id"].as_str().unwrap();
    let secret = webhook["secret"].as_str().unwrap();
    let before = event_ids(&app).await;
    app.user("ada").await;
    let new: Vec<String> = event_ids(&app).await.into_iter().filter(|e| !before.contains(e)).collect();
    assert_eq!(new.len(), 1, "ada's user.created");

    let publisher = moto.publisher(&app, None, Duration::from_millis(500), events::deliver::system_resolver());
    assert_eq!(publisher.handle(&stream_records(&new)).await, events::BatchResponse::default());
    // The retries wait 5 s and then 5 minutes; the test moves the queue's message on.
    moto.deliver_until(&publisher, Duration::from_secs(20), || receiver.seen().len() >= 2).await;
    let deliveries = app.get_as(&root, &format!("/api/admin/webhooks/{id}/deliveries")).await.body;
    let attempts: Vec<(u64, &str)> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    assert_eq!(attempts, [(2, "failed"), (1, "failed")], "newest first: {deliveries}");
    assert_eq!(deliveries["items"][1]["responseStatus"], 500);
    assert!(deliveries["items"][0]["error"].as_str().unwrap().contains("no answer within 0.5 s"), "{deliveries}");
    // The third try is due 5 minutes on: its message waits in the queue with its time.
    let waiting = moto.drain(&moto.deliveries, Duration::from_secs(2)).await;
    assert!(waiting.is_empty(), "held back by its delay: {waiting:?}");

    // A repeat of the stream record (Lambda retries batches): the same event again, with
    // the same webhook-id, which is how a consumer knows it.
    assert_eq!(publisher.handle(&stream_records(&new)).await, events::BatchResponse::default());
    moto.deliver_until(&publisher, Duration::from_secs(10), || receiver.seen().len() >= 3).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    let ids: Vec<&str> = seen.iter().map(|(h, _)| header(h, "webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == new[0]), "{ids:?}");
    for (headers, body) in &seen {
        assert_eq!(header(headers, "content-type"), "application/json");
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["type"], "user.created");
        let expected = events::sign::signature_header(
            &[secret],
            &new[0],
            header(headers, "webhook-timestamp").parse().unwrap(),
            body,
        );
        assert_eq!(Some(header(headers, "webhook-signature").to_owned()), expected);
    }
    // Webhooks, their deliveries and the events are items the auditor knows.
    let audit = app.state.store.consistency().audit_table(2).await.unwrap();
    assert!(audit.violations.is_empty(), "{:?}", audit.violations);
    let latest = app.get_as(&root, &format!("/api/admin/webhooks/{id}/deliveries?limit=1")).await.body;
    assert_eq!(
        (latest["items"][0]["status"].clone(), latest["items"][0]["responseStatus"].clone()),
        (json!("delivered"), json!(200))
    );
    let listed = app.get_as(&root, "/api/admin/webhooks").await.body;
    assert!(listed["items"][0].get("failingSince").is_none(), "it answered: no longer failing: {listed}");
}

#[tokio::test]
async fn inner_addresses_are_refused_at_delivery_and_one_slow_endpoint_delays_no_other() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let root = admin(&app, "root").await;
    // Names that resolved outside at registration and resolve inside now (DNS
    // rebinding), as this resolver says.
    let resolve: events::deliver::Resolve = Arc::new(|host: String| {
        Box::pin(async move {
            let ip: IpAddr = match host.as_str() {
                "rebound.example.com" => "10.0.0.7".parse().unwrap(),
                "metadata.example.com" => "169.254.169.254".parse().unwrap(),
                _ => "127.0.0.1".parse().unwrap(),
            };
            Ok(vec![ip])
        })
    });
    let (slow, slow_url) = Receiver::start(vec![(204, Duration::from_millis(1500))]).await;
    let (fast, fast_url) = Receiver::start(Vec::new()).await;
    let key = app.state.webhook_key.clone().unwrap();
    let urls = [
        "https://rebound.example.com/hook",
        "https://metadata.example.com/hook",
        "https://loop.example.com/hook",
        &slow_url,
        &fast_url,
    ];
    let mut ids = Vec::new();
    for url in urls {
        // Written as registration writes it (registration itself would refuse these names).
        let id = uuid::Uuid::new_v4().to_string();
        let record = shared::domain::webhook::WebhookRecord {
            sealed_secret: key.seal(&id, shared::domain::webhook::new_secret().as_bytes()).unwrap(),
            id: id.clone(),
            url: url.to_owned(),
            event_types: vec!["*".into()],
            description: None,
            created_at: app.state.now(),
            created_by: root.id.clone(),
            status: shared::domain::webhook::WebhookStatus::Active,
            failing_since: None,
            sealed_previous_secret: None,
            previous_until: None,
            version: 0,
        };
        app.put_item(app.state.store.webhooks().create(&record).unwrap().put.unwrap().item).await;
        ids.push(id);
    }
    let publisher = moto.publisher(&app, None, Duration::from_secs(5), resolve);
    let before = event_ids(&app).await;
    app.user("ada").await;
    let new: Vec<String> = event_ids(&app).await.into_iter().filter(|e| !before.contains(e)).collect();
    assert_eq!(publisher.handle(&stream_records(&new)).await, events::BatchResponse::default());
    // The five deliveries, handed over in one batch as Lambda would.
    let jobs = moto.drain(&moto.deliveries, Duration::from_secs(2)).await;
    assert_eq!(jobs.len(), 5);
    let records: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| json!({ "messageId": format!("m{i}"), "body": job.to_string(), "eventSource": "aws:sqs" }))
        .collect();
    let started = std::time::Instant::now();
    assert_eq!(publisher.handle(&json!({ "Records": records })).await, events::BatchResponse::default());
    let (fast_at, slow_at) = (fast.arrivals()[0], slow.answered()[0]);
    assert!(fast_at < slow_at, "the fast endpoint got its event before the slow one had answered");
    assert!(fast_at > started);
    for id in &ids[..3] {
        let deliveries = app.state.store.webhooks().deliveries(id, 10, None).await.unwrap().deliveries;
        assert_eq!(deliveries.len(), 1, "{id}");
        let error = deliveries[0].error.clone().unwrap_or_default();
        assert!(error.contains("loopback, private, link-local or reserved"), "{error}");
        assert_eq!(deliveries[0].response_status, None);
    }
    for id in &ids[3..] {
        let deliveries = app.state.store.webhooks().deliveries(id, 10, None).await.unwrap().deliveries;
        assert_eq!(deliveries[0].status, shared::domain::webhook::DeliveryStatus::Delivered);
    }
}

#[tokio::test]
async fn a_poison_record_is_set_aside_and_the_rest_go_on() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let publisher = moto.publisher(&app, None, Duration::from_secs(2), events::deliver::system_resolver());
    app.put_item(item(&[
        ("PK", s("EVENT#broken")),
        ("SK", s("EVENT")),
        ("body", s("{not json")),
        ("type", s("user.created")),
    ]))
    .await;
    app.user("ada").await;
    let mut ids = vec!["broken".to_owned()];
    ids.extend(event_ids(&app).await);
    assert_eq!(publisher.handle(&stream_records(&ids)).await, events::BatchResponse::default(), "nothing to retry");
    let aside = moto.drain(&moto.dead_letters, Duration::from_secs(2)).await;
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(aside[0]["reason"], "the event item does not read as an event");
    assert_eq!(aside[0]["record"]["dynamodb"]["Keys"]["PK"]["S"], "EVENT#broken");
    // A queue message that is no delivery: set aside too, not handed back forever.
    let junk = json!({ "Records": [{ "messageId": "m1", "body": "hello", "eventSource": "aws:sqs" }] });
    assert_eq!(publisher.handle(&junk).await, events::BatchResponse::default());
    assert_eq!(
        moto.drain(&moto.dead_letters, Duration::from_secs(2)).await[0]["reason"],
        "the queue message is not a webhook delivery"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_its_admin_told() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let root = admin(&app, "root").await;
    let (receiver, url) = Receiver::start(vec![(503, Duration::ZERO); 3]).await;
    let webhook = register(&app, &root, &url, json!(["*"])).await;
    let id = webhook["id"].as_str().unwrap();
    let publisher = moto.publisher(&app, None, Duration::from_secs(2), events::deliver::system_resolver());
    let before = event_ids(&app).await;
    app.user("ada").await;
    let new: Vec<String> = event_ids(&app).await.into_iter().filter(|e| !before.contains(e)).collect();
    publisher.handle(&stream_records(&new)).await;
    moto.deliver_until(&publisher, Duration::from_secs(10), || receiver.seen().len() == 1).await;
    let failing = app.get_as(&root, "/api/admin/webhooks").await.body["items"][0].clone();
    assert_eq!(failing["status"], "active");
    assert!(failing["failingSince"].is_string(), "{failing}");

    app.advance(chrono::Duration::days(5));
    app.user("bob").await;
    let newer: Vec<String> =
        event_ids(&app).await.into_iter().filter(|e| !before.contains(e) && !new.contains(e)).collect();
    publisher.handle(&stream_records(&newer)).await;
    moto.deliver_until(&publisher, Duration::from_secs(10), || receiver.seen().len() == 2).await;
    // (Five days on, root's second factor is too old for the admin routes: another admin looks.)
    let other = admin(&app, "other").await;
    let disabled = app.get_as(&other, "/api/admin/webhooks").await.body["items"][0].clone();
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    let notice: Vec<_> = app.outbox().await.into_iter().filter(|m| m.kind == "webhook_disabled").collect();
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].user_id, root.id);
    // Nothing more goes out to it; a test is refused.
    let test = app.post_as(&other, &format!("/api/admin/webhooks/{id}/test"), json!({})).await;
    assert_eq!(test.status, StatusCode::CONFLICT);
    app.user("cyd").await;
    let all = event_ids(&app).await;
    publisher.handle(&stream_records(&all)).await;
    // Whatever the queue still holds (a retry scheduled before it was disabled) is
    // handed over and passed over: the endpoint hears nothing more.
    moto.deliver_until(&publisher, Duration::from_secs(8), || false).await;
    assert_eq!(receiver.seen().len(), 2, "a disabled webhook is sent nothing");
}

/// The receiver in tools/webhook_receiver.py: the `standardwebhooks` package checks
/// each delivery.
struct ReferenceReceiver {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    url: String,
}

impl ReferenceReceiver {
    async fn start() -> Self {
        use tokio::io::AsyncBufReadExt;
        let python = std::env::var("WEBHOOK_VERIFIER_PYTHON").unwrap_or_else(|_| {
            panic!(
                "WEBHOOK_VERIFIER_PYTHON is not set: run the tests with scripts/test, which installs standardwebhooks"
            )
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/webhook_receiver.py");
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the reference receiver");
        let stdin = child.stdin.take().unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        let url = format!("http://127.0.0.1:{}/hook", first["port"]);
        ReferenceReceiver { child, stdin, lines, url }
    }

    async fn use_secrets(&mut self, secrets: &[&str]) {
        use tokio::io::AsyncWriteExt;
        self.stdin.write_all(format!("{}\n", json!(secrets)).as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        assert_eq!(self.next().await, json!({ "secrets": secrets.len() }), "the receiver took the secrets");
    }

    /// The next line it printed: a delivery as it judged it, or its taking of secrets.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line()).await.expect("a delivery");
        serde_json::from_str(&line.unwrap().unwrap()).unwrap()
    }
}

#[tokio::test]
async fn the_standard_webhooks_library_verifies_deliveries_before_and_after_a_rotation() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let root = admin(&app, "root").await;
    let mut receiver = ReferenceReceiver::start().await;
    let webhook = register(&app, &root, &receiver.url, json!(["*"])).await;
    let (id, first) = (webhook["id"].as_str().unwrap().to_owned(), webhook["secret"].as_str().unwrap().to_owned());
    receiver.use_secrets(&[&first]).await;
    let publisher = moto.publisher(&app, None, Duration::from_secs(5), events::deliver::system_resolver());
    let mut published = event_ids(&app).await;

    app.user("ada").await;
    let new: Vec<String> = event_ids(&app).await.into_iter().filter(|e| !published.contains(e)).collect();
    published.extend(new.clone());
    publisher.handle(&stream_records(&new)).await;
    moto.deliver_some(&publisher).await;
    let seen = receiver.next().await;
    assert_eq!(
        (seen["id"].as_str().unwrap(), &seen["type"], &seen["verifiedWith"]),
        (new[0].as_str(), &json!("user.created"), &json!([0]))
    );

    // After a rotation both secrets sign for a day: a consumer with either verifies.
    let rotated = app.post_as(&root, &format!("/api/admin/webhooks/{id}/rotate-secret"), json!({})).await;
    let second = rotated.body["secret"].as_str().unwrap().to_owned();
    receiver.use_secrets(&[&first, &second]).await;
    let test = app.post_as(&root, &format!("/api/admin/webhooks/{id}/test"), json!({})).await;
    let test_id = test.body["eventId"].as_str().unwrap().to_owned();
    publisher.handle(&stream_records(std::slice::from_ref(&test_id))).await;
    moto.deliver_some(&publisher).await;
    let seen = receiver.next().await;
    assert_eq!(
        (seen["id"].as_str().unwrap(), &seen["type"], &seen["verifiedWith"]),
        (test_id.as_str(), &json!("webhook.test"), &json!([0, 1]))
    );

    // The library's check can fail: a secret that is not the webhook's verifies nothing,
    // and the receiver's 401 is a failed delivery.
    receiver.use_secrets(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).await;
    app.user("bob").await;
    let new: Vec<String> =
        event_ids(&app).await.into_iter().filter(|e| !published.contains(e) && *e != test_id).collect();
    publisher.handle(&stream_records(&new)).await;
    moto.deliver_some(&publisher).await;
    assert_eq!(receiver.next().await["verifiedWith"], json!([]));
    let deliveries = app.state.store.webhooks().deliveries(&id, 1, None).await.unwrap().deliveries;
    assert_eq!(
        (deliveries[0].status, deliveries[0].response_status),
        (shared::domain::webhook::DeliveryStatus::Failed, Some(401))
    );
    receiver.child.kill().await.ok();
}

/// The sample batches of events/events/ (for `cargo lambda invoke` and the smoke test),
/// through the same handler: the stream's, with its items written as their changes
/// would write them, and the delivery queue's.
#[tokio::test]
async fn the_sample_batches_are_handled() {
    let app = TestApp::new().await;
    let moto = Moto::new().await;
    let root = admin(&app, "root").await;
    let (_, url) = Receiver::start(Vec::new()).await;
    register(&app, &root, &url, json!(["*"])).await;
    let read = |name: &str| -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/events").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let batch = read("stream-batch.json");
    for record in batch["Records"].as_array().unwrap() {
        let item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> = record["dynamodb"]
            ["NewImage"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| {
                let value = match (value.get("S"), value.get("N")) {
                    (Some(text), _) => s(text.as_str().unwrap()),
                    (_, Some(number)) => aws_sdk_dynamodb::types::AttributeValue::N(number.as_str().unwrap().into()),
                    _ => panic!("{name}: only S and N in the sample"),
                };
                (name.clone(), value)
            })
            .collect();
        app.put_item(item).await;
    }
    let publisher = moto.publisher(&app, None, Duration::from_secs(2), events::deliver::system_resolver());
    assert_eq!(publisher.handle(&batch).await, events::BatchResponse::default());
    let queued = moto.drain(&moto.deliveries, Duration::from_secs(2)).await;
    let mut types: Vec<&str> = queued.iter().map(|j| j["eventType"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["follow.created", "user.created"]);
    for job in &queued {
        assert_matches_schema(&serde_json::from_str(job["body"].as_str().unwrap()).unwrap());
    }
    // The queue's sample names a webhook that is not there: passed over, nothing handed back.
    assert_eq!(publisher.handle(&read("deliveries.json")).await, events::BatchResponse::default());
}
