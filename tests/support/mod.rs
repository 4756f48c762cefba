//! Test helpers: every test gets its own table in the DynamoDB Local that `scripts/test`
//! started (`DYNAMODB_ENDPOINT`), and drives the real routers in process.

mod items;
pub mod passkey;
pub mod queues;

use std::sync::OnceLock;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use axum::body::Body;
use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::session::SessionRecord;
use shared::store::{schema, Store};
use shared::tokens::{PrivateJwk, PrivateJwkSet};
use shared::AppState;
use tower::ServiceExt;

pub use items::{item, key, n, s};

/// A password that passes every rule; never used outside tests.
pub const PASSWORD: &str = "lantern-orbit-velvet-93";
/// A second strong password (a change, a reset).
pub const NEW_PASSWORD: &str = "quartz-meadow-harbor-58";

fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with scripts/test, which starts the local services")
    })
}

/// A port nothing listens on, below Linux's ephemeral range (32768 and up): a port the
/// kernel handed out with `:0` may meanwhile become the source port of one of the
/// suite's many outgoing connections, and a server started minutes later (after a
/// build) then fails with "address in use".
pub fn free_port() -> u16 {
    use rand::Rng;
    loop {
        let port = rand::thread_rng().gen_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn sdk_config(endpoint_var: &str) -> aws_config::SdkConfig {
    sdk_config_at(&endpoint(endpoint_var))
}

pub fn sdk_config_at(endpoint_url: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(Credentials::for_tests()))
        .endpoint_url(endpoint_url)
        .build()
}

pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config("DYNAMODB_ENDPOINT"))
}

/// Records the name of every DynamoDB operation a client sends (once per operation,
/// however many attempts it takes).
#[derive(Debug, Clone, Default)]
pub struct CallLog(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl CallLog {
    /// The operations recorded since the last call, sorted.
    pub fn take(&self) -> Vec<String> {
        let mut calls = self.take_in_order();
        calls.sort();
        calls
    }

    /// The operations recorded since the last call, in the order they were sent.
    pub fn take_in_order(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl aws_sdk_dynamodb::config::Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    /// Once per operation (before any retry): the operation from its `X-Amz-Target`.
    fn read_after_serialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let name = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

/// The page-cursor secret of the tests' services (never used outside tests).
pub const TEST_CURSOR_SECRET: &[u8] = b"test cursor secret, 32 bytes or more";
pub const TEST_MFA_SECRET: &[u8] = b"test second-factor key, 32 bytes or more";
pub const TEST_WEBHOOK_SECRET: &[u8] = b"test webhook key, also 32 bytes or more";

/// One signing key per test binary: RSA key generation is the slow part.
pub fn test_keys() -> &'static PrivateJwkSet {
    static KEYS: OnceLock<PrivateJwkSet> = OnceLock::new();
    KEYS.get_or_init(|| PrivateJwkSet { keys: vec![PrivateJwk::generate().expect("key generation")] })
}

/// The configuration from these variables alone; the first of a repeated name wins.
pub fn config_with(vars: &[(&str, &str)]) -> Config {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("test configuration is valid")
}

pub struct TestApp {
    /// The DynamoDB operations the service sent (the test's own reads go unrecorded).
    pub calls: CallLog,
    /// The service's clock: tests move it forward instead of sleeping.
    pub clock: shared::clock::Clock,
    pub state: AppState,
    pub router: Router,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The fields named in a validation error's details.
    pub fn detail_fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| d.iter().filter_map(|x| x["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// A fresh table and the full service (every router) with extra configuration.
    /// Rate limits are generous unless a test sets them: most tests come from one address.
    pub async fn with_env(vars: &[(&str, &str)]) -> Self {
        Self::build(&endpoint("DYNAMODB_ENDPOINT"), vars, false).await
    }

    /// The service against a DynamoDB of the test's own (`endpoint_url`), with the
    /// production client's bounds on every call (`DYNAMODB_TIMEOUT_MS`).
    pub async fn on_dynamodb(endpoint_url: &str, vars: &[(&str, &str)]) -> Self {
        Self::build(endpoint_url, vars, true).await
    }

    async fn build(endpoint_url: &str, vars: &[(&str, &str)], bounded: bool) -> Self {
        // The service's logs, on demand: `TEST_LOG=1 cargo nextest run …`.
        if std::env::var_os("TEST_LOG").is_some() {
            shared::logging::init();
        }
        let table = format!("test-{}", uuid::Uuid::new_v4());
        let mut all = vec![("TABLE_NAME", table.as_str())];
        all.extend_from_slice(vars);
        if !bounded {
            // The shared DynamoDB Local under a full test run can be slow; only the
            // fault-injection tests hold requests to the production deadline.
            all.push(("REQUEST_TIMEOUT_MS", "30000"));
        }
        all.extend_from_slice(&[
            ("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "1000/60"),
            ("RATE_LIMIT_LOGIN_PER_IP", "1000/60"),
            ("RATE_LIMIT_REGISTER_PER_IP", "1000/60"),
            ("RATE_LIMIT_REFRESH_PER_SESSION", "1000/60"),
        ]);
        let config = config_with(&all);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config_at(endpoint_url));
        schema::create_table(&dynamodb, &table).await.expect("create the test table");
        let calls = CallLog::default();
        let mut client = aws_sdk_dynamodb::config::Builder::from(&sdk_config_at(endpoint_url))
            .interceptor(calls.clone())
            .interceptor(shared::store::CallMetrics);
        if bounded {
            let timeout = std::time::Duration::from_millis(config.dynamodb_timeout_ms);
            client = client.timeout_config(shared::store::timeouts(timeout));
        }
        let counted = aws_sdk_dynamodb::Client::from_conf(client.build());
        let clock = shared::clock::Clock::default();
        let store = Store::from_client(counted, table.clone()).with_clock(clock.clone());
        let state = AppState::new(config, store, test_keys(), TEST_CURSOR_SECRET)
            .expect("app state")
            .with_vault(Some(shared::vault::Vault::new(TEST_MFA_SECRET)))
            .with_webhook_key(Some(shared::vault::Vault::new(TEST_WEBHOOK_SECRET)));
        let router = local_server::app(state.clone());
        TestApp { calls, clock, state, router, dynamodb, table }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        send_to(&self.router, request).await
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.call(Method::POST, path, Some(body), None).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::GET, path, None, token).await
    }

    /// Registers `username` with `<username>@example.org` and the test password.
    pub async fn register(&self, username: &str) -> TestResponse {
        let response = self
            .post(
                "/api/auth/register",
                json!({
                    "username": username,
                    "email": format!("{}@example.org", username.to_lowercase()),
                    "password": PASSWORD,
                    "agreeToTerms": true
                }),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "register {username}: {:?}", response.body);
        response
    }

    /// Every item of the test table (tests may scan; the service never does).
    pub async fn all_items(&self) -> Vec<shared::store::Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out =
                self.dynamodb.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

/// The `PK`/`SK` pairs of items, for assertions on what was written.
pub fn keys_of(items: &[shared::store::Item]) -> Vec<(String, String)> {
    let text =
        |item: &shared::store::Item, k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let mut keys: Vec<_> = items.iter().map(|i| (text(i, "PK"), text(i, "SK"))).collect();
    keys.sort();
    keys
}

/// Access and refresh token of a register/login/refresh answer.
pub fn tokens_of(response: &TestResponse) -> (String, String) {
    (
        response.body["accessToken"].as_str().expect("accessToken").to_owned(),
        response.body["refreshToken"].as_str().expect("refreshToken").to_owned(),
    )
}

impl TestApp {
    /// The same service with an export bucket of its own in moto's S3.
    pub async fn with_export_bucket(mut self) -> Self {
        let name = format!("test-exports-{}", uuid::Uuid::new_v4());
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config("MOTO_ENDPOINT")).force_path_style(true).build(),
        );
        s3.create_bucket().bucket(&name).send().await.expect("create the test bucket");
        let bucket = shared::bucket::ExportBucket::new(&sdk_config("MOTO_ENDPOINT"), name);
        self.state = self.state.clone().with_bucket(Some(bucket));
        self.router = local_server::app(self.state.clone());
        self
    }

    /// What the notify function does with the stream record of a new export: builds it.
    pub async fn build_export(&self, user_id: &str, export_id: &str) {
        let bucket = self.state.bucket.as_deref().cloned();
        let notifier =
            notify::Notifier::new(self.state.store.clone(), notify::Transport::Console, "https://app.example")
                .with_exports(bucket);
        let record = json!({ "Records": [{
            "eventID": "export", "eventName": "INSERT",
            "dynamodb": { "Keys": { "PK": { "S": format!("EXPORT#{user_id}") }, "SK": { "S": format!("EXPORT#{export_id}") } },
                          "SequenceNumber": "1" }
        }] });
        let response = notifier.handle(&record).await;
        assert!(response.batch_item_failures.is_empty(), "the export was built");
    }

    pub async fn login(&self, identifier: &str) -> TestResponse {
        self.post("/api/auth/login", serde_json::json!({ "identifier": identifier, "password": PASSWORD })).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post("/api/auth/refresh", serde_json::json!({ "refreshToken": refresh_token })).await
    }

    /// A request from a given client address, as the local server sees it.
    pub async fn post_from(&self, ip: &str, path: &str, body: Value) -> TestResponse {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let addr: std::net::SocketAddr =
            format!("[{ip}]:443").parse().or_else(|_| format!("{ip}:443").parse()).unwrap();
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        self.send(request).await
    }
}

/// `request` answered by `router` (a function's own, say), read as `TestApp::send` reads it.
pub async fn send_to(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router.clone().oneshot(request).await.expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let html = headers.get("content-type").is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let body = match (bytes.is_empty(), html) {
        (true, _) => Value::Null,
        (false, true) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        (false, false) => serde_json::from_slice(&bytes).expect("JSON body"),
    };
    TestResponse { status, headers, body }
}

/// A registered user: id and access token.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub token: String,
    pub name: String,
}

impl User {
    /// The user a sign-up's or sign-in's answer names, with its access token.
    pub fn signed_in(name: &str, response: &TestResponse) -> Self {
        User {
            id: response.body["user"]["id"].as_str().unwrap().to_owned(),
            token: response.body["accessToken"].as_str().unwrap().to_owned(),
            name: name.to_owned(),
        }
    }
}

impl TestApp {
    /// `register` for the set-up of a test whose app has a short request deadline (the
    /// production one): on a loaded machine a sign-up may pass it (503, written or not),
    /// so a 503 is tried again, and a sign-up written after all is signed in to. A
    /// 201 or a sign-in's 200, with the user and tokens.
    pub async fn register_patiently(&self, username: &str) -> TestResponse {
        for _ in 0..10 {
            let body = json!({
                "username": username,
                "email": format!("{}@example.org", username.to_lowercase()),
                "password": PASSWORD,
                "agreeToTerms": true
            });
            let response = self.post("/api/auth/register", body).await;
            match response.status {
                StatusCode::CREATED => return response,
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT => {
                    let signed_in = self.login(username).await;
                    if signed_in.status == StatusCode::OK {
                        return signed_in;
                    }
                }
                _ => panic!("register {username}: {} {:?}", response.status, response.body),
            }
        }
        panic!("register {username}: the service kept answering 503")
    }

    /// `user` through `register_patiently`.
    pub async fn user_patiently(&self, name: &str) -> User {
        User::signed_in(name, &self.register_patiently(name).await)
    }

    pub async fn user(&self, name: &str) -> User {
        User::signed_in(name, &self.register(name).await)
    }

    pub async fn post_as(&self, user: &User, path: &str, body: Value) -> TestResponse {
        self.call(Method::POST, path, Some(body), Some(&user.token)).await
    }

    pub async fn get_as(&self, user: &User, path: &str) -> TestResponse {
        self.call(Method::GET, path, None, Some(&user.token)).await
    }

    /// Sets attributes of a user item directly, for states no route reaches yet.
    pub async fn set_user_attribute(&self, user_id: &str, path: &str, value: aws_sdk_dynamodb::types::AttributeValue) {
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user_id}")))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()));
        let mut names = Vec::new();
        for (i, part) in path.split('.').enumerate() {
            update = update.expression_attribute_names(format!("#p{i}"), part);
            names.push(format!("#p{i}"));
        }
        update
            .update_expression(format!("SET {} = :v", names.join(".")))
            .expression_attribute_values(":v", value)
            .send()
            .await
            .expect("update user attribute");
    }

    pub async fn set_profile_visibility(&self, user: &User, visibility: &str) {
        let value = aws_sdk_dynamodb::types::AttributeValue::S(visibility.into());
        self.set_user_attribute(&user.id, "privacySettings.profileVisibility", value).await;
    }

    pub async fn set_email_verified(&self, user: &User) {
        self.set_user_attribute(&user.id, "isVerified", aws_sdk_dynamodb::types::AttributeValue::Bool(true)).await;
    }

    /// `followersCount` and `followingCount` as stored.
    pub async fn counts(&self, user: &User) -> (i64, i64) {
        let me = self.get_as(user, "/api/auth/me").await;
        (me.body["followersCount"].as_i64().unwrap(), me.body["followingCount"].as_i64().unwrap())
    }
}

impl TestApp {
    pub async fn put_as(&self, user: &User, path: &str, body: Value) -> TestResponse {
        self.call(Method::PUT, path, Some(body), Some(&user.token)).await
    }

    /// Updates the user's profile through the API and checks it succeeded.
    pub async fn update_profile(&self, user: &User, patch: Value) -> TestResponse {
        let response = self.put_as(user, "/api/users/profile", patch.clone()).await;
        assert_eq!(response.status, StatusCode::OK, "{patch}: {:?}", response.body);
        response
    }

    pub async fn follow(&self, who: &User, whom: &User) {
        let response = self.post_as(who, "/api/social/follow", serde_json::json!({ "userId": whom.id })).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    }
}

/// An outbox message as stored.
#[derive(Debug, Clone)]
pub struct Outboxed {
    pub kind: String,
    pub user_id: String,
    pub to: String,
    pub data: std::collections::HashMap<String, String>,
}

impl TestApp {
    /// Every outbox message in the table.
    pub async fn outbox(&self) -> Vec<Outboxed> {
        let text =
            |item: &shared::store::Item, k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        self.all_items()
            .await
            .iter()
            .filter(|item| text(item, "PK").starts_with("OUTBOX#"))
            .map(|item| Outboxed {
                kind: text(item, "kind"),
                user_id: text(item, "userId"),
                to: text(item, "to"),
                data: item
                    .get("data")
                    .and_then(|d| d.as_m().ok())
                    .map(|m| m.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone()))).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The token of the newest outbox message of `kind` to `user_id`.
    pub async fn outbox_token(&self, kind: &str, user_id: &str) -> String {
        let messages: Vec<Outboxed> =
            self.outbox().await.into_iter().filter(|m| m.kind == kind && m.user_id == user_id).collect();
        assert!(!messages.is_empty(), "no {kind} message for {user_id}");
        // Tokens are random; the newest message is the one whose token item still exists.
        for message in &messages {
            // Not every message of a kind has one (a second factor turned off has no link).
            let Some(token) = message.data.get("token") else { continue };
            let hash = shared::domain::hash_secret(token);
            let sk = match kind {
                "verify_email" => "VERIFY",
                "confirm_email_change" => "EMAIL_CHANGE",
                "reset_password" => "RESET",
                // The "this wasn't me" link of a notice of a change of how it signs in.
                _ => "SECURE",
            };
            if self.item(shared::store::keys::token::key(&hash, sk)).await.is_some() {
                return token.clone();
            }
        }
        panic!("no live {kind} token for {user_id}");
    }
}

impl TestApp {
    pub async fn login_with(&self, identifier: &str, password: &str) -> TestResponse {
        let response =
            self.post("/api/auth/login", serde_json::json!({ "identifier": identifier, "password": password })).await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response
    }
}

impl TestApp {
    /// Moves the service's clock forward (expiries, windows, grace periods).
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// Stops the service's clock: it moves only by `advance` from then on.
    pub fn freeze(&self) {
        self.clock.freeze();
    }

    /// Milliseconds left in the current fixed window of `window_secs` (windows are
    /// aligned to the epoch).
    fn window_left_ms(&self, window_secs: i64) -> i64 {
        let now = self.state.now();
        let into_ms = now.timestamp().rem_euclid(window_secs) * 1000 + i64::from(now.timestamp_subsec_millis());
        window_secs * 1000 - into_ms
    }

    /// Moves the clock to just past the start of the next window of `window_secs` and
    /// stops it there, so the hits that follow share one window however slow the
    /// machine (`advance` still moves it).
    pub fn start_of_window(&self, window_secs: i64) {
        self.advance(chrono::Duration::milliseconds(self.window_left_ms(window_secs) + 50));
        self.clock.freeze();
    }

    /// A test that counts hits within one window moves past the end of the current one
    /// when fewer than `needed_secs` of it are left, and stops the clock there.
    pub fn clear_of_window_end(&self, window_secs: i64, needed_secs: i64) {
        if self.window_left_ms(window_secs) < needed_secs * 1000 {
            self.start_of_window(window_secs);
        }
        self.clock.freeze();
    }
}

/// One HTTP/1.1 request to a real server (the local server, moto): status and JSON body
/// (`Null` when empty or not JSON).
pub async fn http_json(method: Method, url: &str, body: Option<&Value>) -> (StatusCode, Value) {
    http_json_as(method, url, body, None).await
}

/// `http_json` with a bearer token.
pub async fn http_json_as(method: Method, url: &str, body: Option<&Value>, token: Option<&str>) -> (StatusCode, Value) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let request = request.body(Full::new(bytes::Bytes::from(bytes))).unwrap();
    let response = client.request(request).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("response body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Every email moto's SES has accepted since it started (all tests share it): each with
/// `id`, `source`, `subject`, `body` (the HTML part) and `destinations`.
pub async fn moto_sent_emails() -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", endpoint("MOTO_ENDPOINT"));
    let (status, data) = http_json(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "moto's model data");
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

/// A POST from an iPhone's browser (a device the sign-up's client is not).
pub fn post_from_phone(path: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A live session of `user_id` as a sign-in that read the account at `generation` would
/// write it (for races staged at the store).
pub fn session_record(user_id: &str, session_id: &str, refresh_hash: String, generation: i64) -> SessionRecord {
    let now = shared::clock::system_now();
    SessionRecord {
        id: session_id.to_owned(),
        user_id: user_id.to_owned(),
        refresh_token_hash: refresh_hash,
        previous_token_hash: None,
        rotated_at: None,
        rotated_by: None,
        created_at: now,
        last_used_at: now,
        expires_at: now.timestamp() + 3600,
        remember_me: false,
        device: Default::default(),
        ip_address: None,
        generation,
        aal: Default::default(),
        method: None,
        second_factor_at: None,
        device_hash: None,
    }
}

/// A user with MFA on: their aal2 session, the base32 secret and the recovery codes.
pub struct Enrolled {
    pub user: User,
    pub secret: String,
    pub recovery_codes: Vec<String>,
    pub refresh: String,
}

impl TestApp {
    /// The code the user's authenticator app shows now (the service's clock), `steps`
    /// time steps on.
    pub fn code(&self, secret: &str, steps: i64) -> String {
        let at = self.state.now() + chrono::Duration::seconds(steps * shared::domain::mfa::STEP_SECS);
        shared::domain::mfa::authenticator_code(secret, at).unwrap()
    }

    pub async fn enroll(&self, user: &User) -> String {
        let enroll = self.post_as(user, "/api/auth/mfa/totp/enroll", json!({ "password": PASSWORD })).await;
        assert_eq!(enroll.status, StatusCode::OK, "{:?}", enroll.body);
        enroll.body["secret"].as_str().unwrap().to_owned()
    }

    /// Registers `name` and turns MFA on from that first session (the clock frozen).
    pub async fn enrolled(&self, name: &str) -> Enrolled {
        self.freeze();
        let user = self.user(name).await;
        let (user, secret, recovery_codes, refresh) = self.turn_on_mfa(user).await;
        // The confirming code's step is used up: later codes come from the next step on.
        self.advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));
        Enrolled { user, secret, recovery_codes, refresh }
    }

    /// `user` with MFA on, and their session upgraded (its new access token).
    pub async fn enrolled_user(&self, user: User) -> User {
        self.turn_on_mfa(user).await.0
    }

    async fn turn_on_mfa(&self, mut user: User) -> (User, String, Vec<String>, String) {
        let secret = self.enroll(&user).await;
        let confirm = self.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": self.code(&secret, 0) })).await;
        assert_eq!(confirm.status, StatusCode::OK, "{:?}", confirm.body);
        let codes = confirm.body["recoveryCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned());
        let (access, refresh) = tokens_of(&confirm);
        user.token = access;
        (user, secret, codes.collect(), refresh)
    }

    /// A login that stops for the second factor: its `mfaToken`.
    pub async fn challenge(&self, name: &str) -> String {
        let login = self.login(name).await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
        assert_eq!(login.body["mfaRequired"], true, "{:?}", login.body);
        login.body["mfaToken"].as_str().unwrap().to_owned()
    }

    pub async fn verify(&self, mfa_token: &str, proof: Value) -> TestResponse {
        let mut body = json!({ "mfaToken": mfa_token });
        body.as_object_mut().unwrap().extend(proof.as_object().unwrap().clone());
        self.post("/api/auth/mfa/verify", body).await
    }

    pub fn claims(&self, access_token: &str) -> shared::tokens::AccessClaims {
        self.state.tokens.verify(access_token).unwrap()
    }

    /// A session that did not pass the second factor of an account that has one: as a
    /// sign-in that read the account just before enrolment would have written it.
    pub async fn aal1_session(&self, user: &User) -> String {
        let generation = self.state.store.users().user_by_id(&user.id).await.unwrap().unwrap().session_generation;
        let session = session_record(&user.id, "aal1-session", "unused".into(), generation);
        let item = shared::store::Item::from_iter(
            serde_dynamo::to_item::<_, shared::store::Item>(&session).unwrap().into_iter().chain([
                ("PK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{}", user.id))),
                ("SK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("SESSION#aal1-session".into())),
            ]),
        );
        self.put_item(item).await;
        let subject = shared::tokens::Subject {
            user_id: &user.id,
            session_id: "aal1-session",
            username: &user.name,
            email_verified: false,
            method: shared::domain::mfa::SignInMethod::Password,
        };
        self.state.tokens.issue(subject).unwrap()
    }
}
