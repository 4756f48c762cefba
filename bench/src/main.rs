//! `scripts/bench`: every figure beside its floor, measured side by side in one run on
//! this machine, printed as a table. Absolute times drift on a shared machine; the
//! ratios are what to read.

mod emulator;
mod import;
mod peer;
mod scale;
// The tests' software authenticator (real CBOR and ES256 signatures), for the passkey row.
#[allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#[path = "../../tests/support/passkey.rs"]
mod soft_passkey;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::config::Config;
use shared::error::BoxError;
use shared::password::Passwords;
use shared::store::{schema, Store};
use shared::tokens::{self, Subject};
use shared::AppState;
use tower::ServiceExt;

/// Cold starts: rounds of this many starts of each binary, interleaved.
const COLD_STARTS: usize = 20;
const COLD_ROUNDS: usize = 3;
const WARM_CALLS: usize = 2000;
const LOGINS: usize = 30;
/// Wrong-password and unknown-identifier attempts, each, interleaved.
const FAILED_LOGINS: usize = 100;
/// The same with bcrypt hashes in the table (each attempt ≈ 270 ms: fewer rounds).
const FAILED_LOGINS_BCRYPT: usize = 30;
const LOGIN_WARM_UP: usize = 20;
const PASSWORD: &str = "lantern-orbit-velvet-93";

struct Row {
    figure: String,
    value: String,
    floor: String,
    ratio: String,
    target: &'static str,
}

impl Row {
    /// A time beside its floor (`floor_name` says what the floor is).
    fn beside(figure: String, value: Duration, floor_name: &str, floor: Duration, target: &'static str) -> Row {
        Row {
            figure,
            value: ms(value),
            floor: format!("{floor_name} {}", ms(floor)),
            ratio: ratio(value, floor),
            target,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set: run scripts/bench").into())
}

#[tokio::main]
#[expect(clippy::too_many_lines, reason = "the set-up, then each part of the bench in turn")]
async fn main() -> Result<(), BoxError> {
    if let Ok(job) = std::env::var("BENCH_BUILD_EXPORT") {
        return build_export_alone(&job).await;
    }
    let bin_dir = PathBuf::from(env("BENCH_BIN_DIR")?);
    let endpoint = env("DYNAMODB_ENDPOINT")?;
    let work = std::env::temp_dir().join(format!("user-service-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    // One table, one key file, one user: shared by the in-process and the spawned runs.
    let table = format!("bench-{}", uuid::Uuid::new_v4());
    let key_file = work.join("jwt-keys.json");
    let vars = [
        ("TABLE_NAME", table.clone()),
        ("JWT_KEYS_FILE", key_file.display().to_string()),
        ("CURSOR_KEY_FILE", work.join("cursor-key").display().to_string()),
        ("MFA_KEY_FILE", work.join("mfa-key").display().to_string()),
        ("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "100000/60".into()),
        ("RATE_LIMIT_LOGIN_PER_IP", "100000/60".into()),
        ("RATE_LIMIT_REGISTER_PER_IP", "100000/60".into()),
        ("RATE_LIMIT_FAILED_LOGINS_PER_ACCOUNT", "100000/60".into()),
    ];
    let config = Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))?;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "bench"),
        ))
        .endpoint_url(&endpoint)
        .build();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    schema::create_table(&client, &table).await?;
    let keys = tokens::key_set_from_file(&key_file)?;
    let store = Store::new(&sdk, table.clone(), Duration::from_millis(config.dynamodb_timeout_ms));
    let cursor_secret = shared::cursor::load_secret(&config, &sdk).await?;
    let vault = shared::vault::load(&config, &sdk).await?;
    let state = AppState::new(config, store, &keys, &cursor_secret)?.with_vault(vault);
    let app = local_server::app(state.clone());
    let user_id = register(&app, "bench_user", "bench@example.org").await?;
    // Someone to look at: the relationship to oneself is refused without a read.
    let other_id = register(&app, "bench_other", "other@example.org").await?;
    let token = state.tokens.issue(Subject {
        user_id: &user_id,
        session_id: "bench",
        username: "bench_user",
        email_verified: false,
        method: Default::default(),
    })?;

    let mut rows = Vec::new();
    let child_env: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain([
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "local".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("RUST_LOG".into(), "warn".into()),
        ])
        .collect();
    // BENCH_ONLY=cold,warm,login,mfa,export,scale,cpu,memory,throughput,peer,import,size runs a part (all when unset).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if wanted("cold") {
        cold_starts(&bin_dir, &child_env, &user_id, &other_id, &token, &mut rows).await?;
    }
    if wanted("warm") {
        warm_overhead(&app, &client, &table, &user_id, &mut rows).await?;
    }
    if wanted("login") {
        login(&app, &mut rows).await?;
        login_memory_change(&state, &mut rows).await?;
        wrong_password_vs_unknown(&app, &mut rows).await?;
        failed_logins_with_bcrypt(&state, &mut rows).await?;
    }
    if wanted("mfa") {
        second_factor(&app, &state, &mut rows).await?;
        passkey_sign_in(&app, &mut rows).await?;
    }
    if wanted("export") {
        export_of_a_large_account(&state, &sdk, &mut rows).await?;
    }
    if wanted("memory") {
        login_memory(&bin_dir, &child_env, &mut rows)?;
    }
    if wanted("cpu") {
        cpu_work(&state, &mut rows).await?;
    }
    if wanted("throughput") {
        throughput(&bin_dir, &child_env, &endpoint, &table, &user_id, &work, &mut rows)?;
    }
    if wanted("peer") {
        peer::against_better_auth(&bin_dir, &child_env, &mut rows).await?;
    }
    if wanted("import") {
        import::import_at_scale(&bin_dir, &child_env, &client, &work, &mut rows).await?;
    }
    // Last: it leaves the table 300,000 items larger.
    if wanted("scale") {
        scale::scale(&app, &state, &client, &token, &mut rows).await?;
    }
    let functions = ["hello", "auth", "users", "social", "admin", "cleanup", "notify", "events"];
    for name in functions.into_iter().filter(|_| wanted("size")) {
        let size = std::fs::metadata(bin_dir.join(name))?.len();
        rows.push(Row {
            figure: format!("binary size: {name} (stripped)"),
            value: format!("{:.1} MB", size as f64 / 1e6),
            floor: String::new(),
            ratio: String::new(),
            target: "",
        });
    }
    print(&rows);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> Result<Value, BoxError> {
    let mut request = http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map(|b| axum::body::Body::from(b.to_string())).unwrap_or_default();
    let response = app.clone().oneshot(request.body(body)?).await?;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    Ok(if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? })
}

/// Signs up an account through the handler; its id.
async fn register(app: &axum::Router, username: &str, email: &str) -> Result<String, BoxError> {
    let body = json!({ "username": username, "email": email, "password": PASSWORD, "agreeToTerms": true });
    let registered = call(app, "POST", "/api/auth/register", Some(body), None).await?;
    Ok(registered["user"]["id"].as_str().ok_or_else(|| format!("register failed: {registered}"))?.to_owned())
}

/// An API Gateway event for `path`, from the events folder's shape.
fn http_event(path: &str, token: Option<&str>) -> Value {
    let mut headers = json!({ "accept": "application/json", "host": "bench.local" });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": headers,
        "requestContext": { "accountId": "123456789012", "apiId": "bench", "domainName": "bench.local", "domainPrefix": "bench",
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench" },
            "requestId": "bench", "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 0 },
        "isBase64Encoded": false
    })
}

/// The cold starts timed: each binary, the event it answers, what that answer does, and
/// the statuses that show it took that path.
type ColdRun = (&'static str, Value, &'static str, std::ops::Range<u64>);

fn cold_runs(user_id: &str, other_id: &str, token: &str) -> Vec<ColdRun> {
    let ok = 200..400;
    vec![
        ("hello", http_event("/health", None), "nothing", ok.clone()),
        ("auth", http_event("/.well-known/jwks.json", None), "GET /.well-known/jwks.json", ok.clone()),
        ("users", http_event(&format!("/api/users/{user_id}"), None), "GET /api/users/{id} (GetItem)", ok.clone()),
        (
            "social",
            http_event(&format!("/api/social/relationship/{other_id}"), Some(token)),
            "GET relationship (BatchGetItem)",
            ok.clone(),
        ),
        (
            "admin",
            http_event(&format!("/api/admin/users/{other_id}"), Some(token)),
            "a member's bearer refused (401, after the bearer's checks)",
            401..404,
        ),
        (
            "cleanup",
            json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} }),
            "scheduled run (Query)",
            ok.clone(),
        ),
        // events is not timed: it starts only with its webhook key and queue, which the
        // bench does not set up (WEBHOOK_KEY_SECRET_ID, WEBHOOK_QUEUE_URL).
        ("notify", json!({ "Records": [] }), "an empty stream batch", ok),
    ]
}

async fn cold_starts(
    bin_dir: &Path,
    vars: &[(String, String)],
    user_id: &str,
    other_id: &str,
    token: &str,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let runs = cold_runs(user_id, other_id, token);
    // Interleaved rounds (every binary once per round), so that all see the same machine;
    // each figure is the median of the rounds' medians.
    let mut times: Vec<[Vec<Vec<Duration>>; 2]> = runs.iter().map(|_| [vec![], vec![]]).collect();
    let mut peak_kb = vec![0; runs.len()];
    for _ in 0..COLD_ROUNDS {
        let (mut inits, mut firsts) = (vec![vec![]; runs.len()], vec![vec![]; runs.len()]);
        for _ in 0..COLD_STARTS {
            for (i, (name, event, _, expected)) in runs.iter().enumerate() {
                let start = emulator::cold_start(&bin_dir.join(name), name, vars, event, expected.clone()).await?;
                inits[i].push(start.init);
                firsts[i].push(start.first_response);
                peak_kb[i] = peak_kb[i].max(start.peak_rss_kb);
            }
        }
        for (i, (init, first)) in inits.into_iter().zip(firsts).enumerate() {
            times[i][0].push(init);
            times[i][1].push(first);
        }
    }
    let rounds_median = |rounds: &[Vec<Duration>]| median(rounds.iter().map(|v| median(v.clone())).collect());
    let (floor_init, floor_first) = (rounds_median(&times[0][0]), rounds_median(&times[0][1]));
    let mut peaks = Vec::new();
    for (i, (name, _, what, _)) in runs.iter().enumerate() {
        peaks.push(format!("{name} {:.1}", peak_kb[i] as f64 / 1024.0));
        let (init, first) = (rounds_median(&times[i][0]), rounds_median(&times[i][1]));
        let spread = |rounds: &[Vec<Duration>]| {
            rounds
                .iter()
                .map(|v| format!("{:.2}", median(v.clone()).as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let is_floor = *name == "hello";
        rows.push(Row {
            figure: format!("cold start: {name}, spawn → first poll (rounds: {} ms)", spread(&times[i][0])),
            value: ms(init),
            floor: if is_floor { "(the floor)".into() } else { ms(floor_init) },
            ratio: ratio(init, floor_init),
            target: if is_floor { "" } else { "≤ 1.5" },
        });
        rows.push(Row {
            figure: format!("cold start: {name}, spawn → first answer: {what}"),
            value: ms(first),
            floor: if is_floor { "(the floor)".into() } else { ms(floor_first) },
            ratio: ratio(first, floor_first),
            target: "",
        });
    }
    rows.push(Row {
        figure: "peak RSS of each bootstrap by its first answer (largest of the runs), MB".into(),
        value: peaks[1..].join(" / "),
        floor: peaks[0].clone(),
        ratio: String::new(),
        target: "",
    });
    Ok(())
}

async fn warm_overhead(
    app: &axum::Router,
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user_id: &str,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let path = format!("/api/users/{user_id}");
    let (mut handler, mut bare) = (Vec::with_capacity(WARM_CALLS), Vec::with_capacity(WARM_CALLS));
    // Interleaved, so both see the same machine.
    for _ in 0..WARM_CALLS {
        let t = Instant::now();
        let body = call(app, "GET", &path, None, None).await?;
        handler.push(t.elapsed());
        assert!(body["id"].is_string(), "profile read failed: {body}");
        let t = Instant::now();
        client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S(format!("USER#{user_id}")))
            .key("SK", AttributeValue::S("PROFILE".into()))
            .consistent_read(true)
            .send()
            .await?;
        bare.push(t.elapsed());
    }
    for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
        let (h, b) = (percentile(handler.clone(), p), percentile(bare.clone(), p));
        rows.push(Row::beside(
            format!("warm GET /api/users/{{id}} through the handler, {label} of {WARM_CALLS}"),
            h,
            "bare GetItem",
            b,
            "≤ 1.10",
        ));
    }
    rows.push(Row {
        figure: "peak RSS of the bench process after the warm run".into(),
        value: peak_rss(std::process::id()).unwrap_or_default(),
        floor: String::new(),
        ratio: String::new(),
        target: "",
    });
    Ok(())
}

/// The CPU-bound steps of a request beside what handing them to the blocking pool costs:
/// what takes milliseconds runs there, not on the async executor.
async fn cpu_work(state: &AppState, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    const RUNS: usize = 50;
    let timed = |f: &dyn Fn()| {
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        times.sort();
        times[RUNS / 2]
    };
    let mut handoffs = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        tokio::task::spawn_blocking(|| ()).await?;
        handoffs.push(t.elapsed());
    }
    let handoff = median(handoffs);
    let floor = format!("spawn_blocking hand-off {:.3} ms", handoff.as_secs_f64() * 1000.0);
    let longest = "correct horse battery staple ".repeat(5)[..shared::password::MAX_LENGTH].to_owned();
    let related = ["bench_user", "bench@example.org", "bench"];
    type Work<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let work: [Work; 3] = [
        ("password strength estimate, 23 characters", Box::new(|| drop(zxcvbn::zxcvbn(PASSWORD, &related)))),
        ("password strength estimate, 128 characters", Box::new(|| drop(zxcvbn::zxcvbn(&longest, &related)))),
        (
            "access token signing (RS256)",
            Box::new(|| {
                let subject = Subject {
                    user_id: "u",
                    session_id: "s",
                    username: "bench_user",
                    email_verified: true,
                    method: Default::default(),
                };
                drop(state.tokens.issue(subject));
            }),
        ),
    ];
    for (figure, f) in work {
        let t = timed(&*f);
        rows.push(Row {
            figure: format!("{figure}, median of {RUNS}"),
            value: ms(t),
            floor: floor.clone(),
            ratio: ratio(t, handoff),
            target: "off the executor",
        });
    }
    Ok(())
}

async fn login(app: &axum::Router, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let passwords = Passwords::new(12);
    let hash = passwords.hash(PASSWORD.into()).await?;
    let (mut logins, mut verifies) = (Vec::new(), Vec::new());
    let dynamodb_local = std::env::var("DYNAMODB_LOCAL_PID").ok();
    let (mut dynamodb_cpu, mut own_cpu) = (Duration::ZERO, Duration::ZERO);
    let own = std::process::id().to_string();
    // The first rounds warm DynamoDB Local's JIT for the write paths; they are not counted.
    for round in 0..LOGIN_WARM_UP + LOGINS {
        let cpu_before = dynamodb_local.as_deref().and_then(cpu_time);
        let own_before = cpu_time(&own);
        let t = Instant::now();
        let body = call(
            app,
            "POST",
            "/api/auth/login",
            Some(json!({ "identifier": "bench_user", "password": PASSWORD })),
            None,
        )
        .await?;
        let login = t.elapsed();
        let own_after = cpu_time(&own);
        let cpu_after = dynamodb_local.as_deref().and_then(cpu_time);
        assert!(body["accessToken"].is_string(), "login failed: {body}");
        let t = Instant::now();
        passwords.verify(PASSWORD.into(), Some(hash.clone())).await?;
        if round >= LOGIN_WARM_UP {
            logins.push(login);
            verifies.push(t.elapsed());
            dynamodb_cpu += cpu_after.zip(cpu_before).map_or(Duration::ZERO, |(a, b)| a.saturating_sub(b));
            own_cpu += own_after.zip(own_before).map_or(Duration::ZERO, |(a, b)| a.saturating_sub(b));
        }
    }
    let (l, v) = (median(logins), median(verifies));
    rows.push(Row::beside(format!("login, median of {LOGINS}"), l, "one argon2id verify", v, "≤ 1.25"));
    // The service's own work per login (handler, argon2, SDK, signing), which DynamoDB
    // Local's load does not move: the figure to compare builds by.
    rows.push(Row::beside(
        "CPU time the service spends per login (mean)".to_owned(),
        own_cpu / LOGINS as u32,
        "one argon2id verify",
        v,
        "",
    ));
    if dynamodb_local.is_some() {
        // DynamoDB Local runs on the same two cores: its work is part of every login here.
        rows.push(Row {
            figure: "CPU time DynamoDB Local spends per login (mean)".into(),
            value: ms(dynamodb_cpu / LOGINS as u32),
            floor: String::new(),
            ratio: String::new(),
            target: "",
        });
    }
    Ok(())
}

/// `mfa/verify` beside a plain login, in turn: the second step runs no argon2, only
/// the code check and DynamoDB writes. Each verify takes a fresh challenge (a login of
/// an account with MFA on, not timed) and a code of a later time step (the service's
/// clock moves a step on each round: a code is accepted once).
async fn second_factor(app: &axum::Router, state: &AppState, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    register(app, "bench_mfa", "mfa@example.org").await?;
    let signed_in =
        call(app, "POST", "/api/auth/login", Some(json!({ "identifier": "bench_mfa", "password": PASSWORD })), None)
            .await?;
    let token = signed_in["accessToken"].as_str().ok_or_else(|| format!("login failed: {signed_in}"))?;
    let enroll =
        call(app, "POST", "/api/auth/mfa/totp/enroll", Some(json!({ "password": PASSWORD })), Some(token)).await?;
    let secret = enroll["secret"].as_str().ok_or_else(|| format!("enroll failed: {enroll}"))?.to_owned();
    let code = || shared::domain::mfa::authenticator_code(&secret, state.now()).unwrap_or_default();
    let confirm = call(app, "POST", "/api/auth/mfa/totp/confirm", Some(json!({ "code": code() })), Some(token)).await?;
    if !confirm["accessToken"].is_string() {
        return Err(format!("confirm failed: {confirm}").into());
    }
    let plain = json!({ "identifier": "bench_user", "password": PASSWORD });
    let with_mfa = json!({ "identifier": "bench_mfa", "password": PASSWORD });
    let (mut logins, mut verifies) = (Vec::new(), Vec::new());
    for round in 0..LOGIN_WARM_UP + LOGINS {
        state.store.clock().advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));
        let challenge = call(app, "POST", "/api/auth/login", Some(with_mfa.clone()), None).await?;
        let mfa_token = challenge["mfaToken"].as_str().ok_or_else(|| format!("no challenge: {challenge}"))?;
        let body = json!({ "mfaToken": mfa_token, "code": code() });
        let t = Instant::now();
        let verified = call(app, "POST", "/api/auth/mfa/verify", Some(body), None).await?;
        let verify = t.elapsed();
        let t = Instant::now();
        let login = call(app, "POST", "/api/auth/login", Some(plain.clone()), None).await?;
        let plain_login = t.elapsed();
        if !verified["accessToken"].is_string() || !login["accessToken"].is_string() {
            return Err(format!("a sign-in failed: {verified} {login}").into());
        }
        if round >= LOGIN_WARM_UP {
            verifies.push(verify);
            logins.push(plain_login);
        }
    }
    let (v, l) = (median(verifies), median(logins));
    rows.push(Row::beside(format!("mfa/verify, median of {LOGINS}"), v, "login", l, "≤ 0.30"));
    Ok(())
}

/// A usernameless passkey sign-in (its options and its answer: the two requests a client
/// makes) beside a plain login, in turn. No argon2 on its path: the options' ceremony
/// item, the claim, the account and passkey, one ES256 verification, the sign-in's
/// transaction.
async fn passkey_sign_in(app: &axum::Router, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    register(app, "bench_passkey", "passkey@example.org").await?;
    let signed_in = call(
        app,
        "POST",
        "/api/auth/login",
        Some(json!({ "identifier": "bench_passkey", "password": PASSWORD })),
        None,
    )
    .await?;
    let token = signed_in["accessToken"].as_str().ok_or_else(|| format!("login failed: {signed_in}"))?;
    let mut key = soft_passkey::SoftPasskey::es256();
    let options = call(app, "POST", "/api/auth/passkeys/register/options", Some(json!({})), Some(token)).await?;
    if !options["publicKey"].is_object() {
        return Err(format!("register options failed: {options}").into());
    }
    let credential = key.create(&options["publicKey"]);
    let body = json!({ "challengeId": options["challengeId"], "credential": credential });
    let added = call(app, "POST", "/api/auth/passkeys/register", Some(body), Some(token)).await?;
    added["id"].as_str().ok_or_else(|| format!("registration failed: {added}"))?;
    let plain = json!({ "identifier": "bench_user", "password": PASSWORD });
    let (mut passkeys, mut logins) = (Vec::new(), Vec::new());
    for round in 0..LOGIN_WARM_UP + LOGINS {
        let t = Instant::now();
        let options = call(app, "POST", "/api/auth/passkeys/login/options", Some(json!({})), None).await?;
        let answer = key.get(&options["publicKey"]);
        let body = json!({ "challengeId": options["challengeId"], "credential": answer });
        let signed_in = call(app, "POST", "/api/auth/passkeys/login", Some(body), None).await?;
        let passkey = t.elapsed();
        let t = Instant::now();
        let login = call(app, "POST", "/api/auth/login", Some(plain.clone()), None).await?;
        let plain_login = t.elapsed();
        if !signed_in["accessToken"].is_string() || !login["accessToken"].is_string() {
            return Err(format!("a sign-in failed: {signed_in} {login}").into());
        }
        if round >= LOGIN_WARM_UP {
            passkeys.push(passkey);
            logins.push(plain_login);
        }
    }
    let (p, l) = (median(passkeys), median(logins));
    rows.push(Row::beside(format!("passkey sign-in (options + answer), median of {LOGINS}"), p, "login", l, "< 1"));
    Ok(())
}

/// Followers of the account the export bench builds.
const EXPORT_FOLLOWERS: usize = 100_000;

/// The export of an account with 100,000 followers (each a user with a name), built as
/// the notify function builds it, into moto's S3 (`MOTO_ENDPOINT`): time, size, and the
/// peak resident memory of this process while building (its peak is reset first).
async fn export_of_a_large_account(
    state: &AppState,
    sdk: &aws_config::SdkConfig,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let moto = env("MOTO_ENDPOINT")?;
    let s3_config = sdk.to_builder().endpoint_url(&moto).build();
    let bucket = shared::bucket::ExportBucket::new(&s3_config, format!("bench-exports-{}", std::process::id()));
    bucket.create_if_missing().await?;
    let owner = shared::domain::user::UserRecord::new("bench_famous", "famous@example.org", "x".into(), state.now());
    let client = state.store.client();
    let table = state.store.table().to_owned();
    let with_key = |mut item: shared::store::Item, pk: String, sk: String| {
        item.insert("PK".into(), AttributeValue::S(pk));
        item.insert("SK".into(), AttributeValue::S(sk));
        item
    };
    let mut writes = vec![with_key(serde_dynamo::to_item(&owner)?, format!("USER#{}", owner.id), "PROFILE".into())];
    let since = AttributeValue::S(state.now().to_rfc3339());
    for i in 0..EXPORT_FOLLOWERS {
        let fan = shared::domain::user::UserRecord::new(
            &format!("fan_{i}"),
            &format!("fan{i}@example.org"),
            "x".into(),
            state.now(),
        );
        let edge: shared::store::Item =
            [("otherId".to_owned(), AttributeValue::S(fan.id.clone())), ("createdAt".to_owned(), since.clone())].into();
        writes.push(with_key(edge, format!("USER#{}", owner.id), format!("FOLLOWER#{}", fan.id)));
        writes.push(with_key(serde_dynamo::to_item(&fan)?, format!("USER#{}", fan.id), "PROFILE".into()));
    }
    batch_put(client, &table, writes).await?;

    let export = match state.store.exports().request_export(&owner.id).await? {
        shared::store::exports::ExportRequest::Created(export) => export,
        shared::store::exports::ExportRequest::TooSoon => return Err("the export was refused".into()),
    };
    // Built by a process of its own, as notify would: its peak RSS is the build's.
    let t = Instant::now();
    let job = format!("{table} {} {} {}", bucket.name(), owner.id, export.id);
    let child = Command::new(std::env::current_exe()?)
        .env("BENCH_BUILD_EXPORT", job)
        .env("MOTO_ENDPOINT", &moto)
        .stderr(Stdio::inherit())
        .output()?;
    let elapsed = t.elapsed();
    if !child.status.success() {
        return Err("the export build failed".into());
    }
    let peak: u64 = String::from_utf8_lossy(&child.stdout).trim().parse()?;
    let key = shared::store::keys::export::object_key(&owner.id, &export.id);
    let url = bucket.presign_get(&key, Duration::from_secs(60)).await?;
    let size = http_get_len(&url)?;
    rows.push(Row {
        figure: format!("export of an account with {EXPORT_FOLLOWERS} followers"),
        value: format!("{:.1} s", elapsed.as_secs_f64()),
        floor: format!("{:.1} MB document", size as f64 / 1e6),
        ratio: String::new(),
        target: "",
    });
    rows.push(Row {
        figure: "peak RSS of the process that built it".into(),
        value: mb(peak),
        floor: String::new(),
        ratio: String::new(),
        target: "≤ 128 MB (notify's size)",
    });
    Ok(())
}

/// The child of `export_of_a_large_account`: builds one export (`<table> <bucket> <user>
/// <export>` in `BENCH_BUILD_EXPORT`) with a store and a bucket of its own, and prints
/// its peak RSS in KiB.
async fn build_export_alone(job: &str) -> Result<(), BoxError> {
    let parts: Vec<&str> = job.split(' ').collect();
    let [table, bucket, user_id, export_id] = parts[..] else {
        return Err("BENCH_BUILD_EXPORT: <table> <bucket> <user> <export>".into());
    };
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "bench"),
        ))
        .endpoint_url(env("DYNAMODB_ENDPOINT")?)
        .build();
    let store = Store::new(&sdk, table, Duration::from_secs(10));
    let bucket =
        shared::bucket::ExportBucket::new(&sdk.to_builder().endpoint_url(env("MOTO_ENDPOINT")?).build(), bucket);
    let built = shared::services::exports::ExportBuilder::new(&store, &bucket)
        .build(shared::domain::OfUser { user_id, id: export_id })
        .await?;
    if built != shared::services::exports::Built::Ready {
        return Err(format!("the export was not built: {built:?}").into());
    }
    println!("{}", peak_rss_kb(std::process::id()).unwrap_or(0));
    Ok(())
}

/// Writes `items` as they are, 25 to a BatchWriteItem, 16 requests at once, asking
/// again for unprocessed ones: how the benches seed large tables.
async fn batch_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<shared::store::Item>,
) -> Result<(), BoxError> {
    let put = |item| {
        let request = aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(item)).build()?;
        Ok::<_, BoxError>(aws_sdk_dynamodb::types::WriteRequest::builder().put_request(request).build())
    };
    let requests = items.into_iter().map(put).collect::<Result<Vec<_>, _>>()?;
    let batches = requests.chunks(25).map(|chunk| {
        let mut pending = chunk.to_vec();
        async move {
            while !pending.is_empty() {
                let out = client.batch_write_item().request_items(table, pending).send().await?;
                pending = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
            }
            Ok::<_, BoxError>(())
        }
    });
    let mut batches = futures::StreamExt::buffer_unordered(futures::stream::iter(batches), 16);
    while let Some(done) = futures::StreamExt::next(&mut batches).await {
        done?;
    }
    Ok(())
}

/// The size of what a GET of `url` (plain HTTP: moto) answers.
fn http_get_len(url: &str) -> Result<usize, BoxError> {
    let output = Command::new("curl").args(["-sf", url]).output()?;
    if !output.status.success() {
        return Err(format!("GET {url} failed").into());
    }
    Ok(output.stdout.len())
}

/// Medians of login attempts timed in turn, `rounds` times each, so all see the same
/// machine; `check` holds each answer to what the attempt must get.
async fn interleaved<const N: usize>(
    rounds: usize,
    attempts: [(&axum::Router, &Value); N],
    check: impl Fn(&Value),
) -> Result<[Duration; N], BoxError> {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..rounds {
        for ((app, body), times) in attempts.iter().zip(&mut times) {
            let t = Instant::now();
            let answer = call(app, "POST", "/api/auth/login", Some((*body).clone()), None).await?;
            times.push(t.elapsed());
            check(&answer);
        }
    }
    Ok(times.map(median))
}

/// Login through the handler with argon2's memory reused (as now) and allocated per
/// hash (as before).
async fn login_memory_change(state: &AppState, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let mut allocating = state.clone();
    allocating.passwords = std::sync::Arc::new(Passwords::with_memory_reuse(12, false));
    let (before, after) = (local_server::app(allocating), local_server::app(state.clone()));
    let body = json!({ "identifier": "bench_user", "password": PASSWORD });
    let signed_in = |answer: &Value| assert!(answer["accessToken"].is_string(), "login failed: {answer}");
    let [reused, allocated] = interleaved(LOGINS, [(&after, &body), (&before, &body)], signed_in).await?;
    rows.push(Row::beside(
        format!("login, argon2 memory reused, median of {LOGINS}"),
        reused,
        "allocated per hash",
        allocated,
        "≤ 1.05",
    ));
    Ok(())
}

/// A wrong password for an existing account beside an unknown identifier, interleaved:
/// the contract promises both answer in about the same time.
async fn wrong_password_vs_unknown(app: &axum::Router, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let wrong = json!({ "identifier": "bench_user", "password": "not-the-password-at-all" });
    let unknown = json!({ "identifier": "nobody_by_this_name", "password": "not-the-password-at-all" });
    let refused = |answer: &Value| assert_eq!(answer["error"]["code"], "INVALID_CREDENTIALS", "{answer}");
    let [w, u] = interleaved(FAILED_LOGINS, [(app, &wrong), (app, &unknown)], refused).await?;
    rows.push(Row::beside(
        format!("wrong password on an existing account, median of {FAILED_LOGINS}"),
        w,
        "unknown identifier",
        u,
        "0.95–1.05",
    ));
    Ok(())
}

/// Failed sign-ins while the table holds the old service's bcrypt hashes
/// (`LEGACY_BCRYPT_COST` at its default, 12): a wrong password of a bcrypt account, of an
/// argon2id account and an unknown identifier, interleaved. Each should cost one argon2id
/// and one bcrypt verification, so that none tells what the account holds.
async fn failed_logins_with_bcrypt(state: &AppState, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let mut legacy = state.clone();
    legacy.passwords = std::sync::Arc::new(Passwords::new(12).with_legacy_bcrypt(Some(12)));
    let app = local_server::app(legacy);
    // Written as the import writes it: the claims carry the bcrypt hash too.
    let hash = tokio::task::spawn_blocking(|| bcrypt::hash(PASSWORD, 12)).await??;
    let account = shared::domain::user::UserRecord::new("bench_legacy", "legacy@example.org", hash, state.store.now());
    state.store.imports().user(&account, "bench_legacy").await?;
    let wrong = |identifier: &str| json!({ "identifier": identifier, "password": "not-the-password-at-all" });
    let (bcrypt_account, argon2_account, unknown) =
        (wrong("bench_legacy"), wrong("bench_user"), wrong("nobody_by_this_name"));
    let refused = |answer: &Value| assert_eq!(answer["error"]["code"], "INVALID_CREDENTIALS", "{answer}");
    // The first failure makes the dummy bcrypt hash: not counted.
    interleaved(1, [(&app, &unknown)], refused).await?;
    let [b, a, u] = interleaved(
        FAILED_LOGINS_BCRYPT,
        [(&app, &bcrypt_account), (&app, &argon2_account), (&app, &unknown)],
        refused,
    )
    .await?;
    for (figure, time) in [("bcrypt account", b), ("argon2id account", a)] {
        rows.push(Row::beside(
            format!("bcrypt hashes held (cost 12): wrong password, {figure}, median of {FAILED_LOGINS_BCRYPT}"),
            time,
            "unknown identifier",
            u,
            "0.95–1.05",
        ));
    }
    Ok(())
}

/// The local server's peak resident memory: doing nothing, after 100 sequential logins,
/// and after 10 bursts of 8 concurrent ones (a fresh server each).
fn login_memory(bin_dir: &Path, vars: &[(String, String)], rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let body = json!({ "identifier": "bench_user", "password": PASSWORD }).to_string();
    let idle = with_local_server(bin_dir, vars, |_| Ok(()))?;
    let sequential = with_local_server(bin_dir, vars, |port| {
        (0..100).try_for_each(|_| http_post(port, "/api/auth/login", &body).map(drop))
    })?;
    let bursts = with_local_server(bin_dir, vars, |port| {
        for _ in 0..10 {
            std::thread::scope(|scope| {
                let logins: Vec<_> =
                    (0..8).map(|_| scope.spawn(|| http_post(port, "/api/auth/login", &body))).collect();
                logins.into_iter().try_for_each(|login| login.join().map_err(|_| "a login thread panicked")?.map(drop))
            })?;
        }
        Ok(())
    })?;
    for (figure, kb) in
        [("after 100 sequential logins", sequential), ("after 10 bursts of 8 concurrent logins", bursts)]
    {
        rows.push(Row {
            figure: format!("peak RSS of the local server {figure}"),
            value: mb(kb),
            floor: format!("no logins {}", mb(idle)),
            ratio: format!("{:.2}", kb as f64 / idle as f64),
            target: "≤ 64 MB",
        });
    }
    Ok(())
}

/// Starts the local server, runs `work` against its port, and answers its peak RSS (KiB).
fn with_local_server(
    bin_dir: &Path,
    vars: &[(String, String)],
    work: impl FnOnce(u16) -> Result<(), BoxError>,
) -> Result<u64, BoxError> {
    let (mut server, port) = spawn_local_server(bin_dir, vars)?;
    let result = (|| {
        wait_for(port)?;
        work(port)?;
        peak_rss_kb(server.id()).ok_or_else(|| "no /proc status of the local server".into())
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// The release local server on a free port (no stream consumers), and that port.
fn spawn_local_server(bin_dir: &Path, vars: &[(String, String)]) -> Result<(std::process::Child, u16), BoxError> {
    let port = free_port()?;
    let server = Command::new(bin_dir.join("local-server"))
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("LOCAL_NOTIFY", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok((server, port))
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something listens on `port` (30 s at most).
fn wait_for(port: u16) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {port} after 30 s").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// One HTTP/1.1 POST of a JSON body; the response's status line must say 2xx.
fn http_post(port: u16, path: &str, body: &str) -> Result<String, BoxError> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    match answer.split(' ').nth(1) {
        Some(status) if status.starts_with('2') => Ok(answer),
        _ => Err(format!("{path} answered {}", answer.lines().next().unwrap_or_default()).into()),
    }
}

/// User and system CPU time a process has used so far (Linux: /proc, 100 ticks a second).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The local server under wrk, beside wrk on DynamoDB Local's own GetItem.
fn throughput(
    bin_dir: &Path,
    vars: &[(String, String)],
    endpoint: &str,
    table: &str,
    user_id: &str,
    work: &Path,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    if Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        rows.push(Row {
            figure: "throughput".into(),
            value: "wrk not installed".into(),
            floor: String::new(),
            ratio: String::new(),
            target: "",
        });
        return Ok(());
    }
    let mut service = 0.0;
    let rss_kb = with_local_server(bin_dir, vars, |port| {
        service = wrk(&format!("http://127.0.0.1:{port}/api/users/{user_id}"), None)?;
        Ok(())
    })?;
    let rss = mb(rss_kb);
    let script = work.join("getitem.lua");
    let body = json!({ "TableName": table, "Key": { "PK": { "S": format!("USER#{user_id}") }, "SK": { "S": "PROFILE" } }, "ConsistentRead": true });
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{}'\nwrk.headers[\"Content-Type\"] = \"application/x-amz-json-1.0\"\nwrk.headers[\"X-Amz-Target\"] = \"DynamoDB_20120810.GetItem\"\nwrk.headers[\"Authorization\"] = \"AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\"\n",
            body
        ),
    )?;
    let raw = wrk(endpoint, Some(&script))?;
    rows.push(Row {
        figure: "throughput: local server, GET /api/users/{id} (wrk -t2 -c32 -d10s)".into(),
        value: format!("{service:.0} req/s"),
        floor: format!("raw GetItem {raw:.0} req/s"),
        ratio: format!("{:.2}", service / raw),
        target: "",
    });
    rows.push(Row {
        figure: "peak RSS of the local server under that load".into(),
        value: rss,
        floor: String::new(),
        ratio: String::new(),
        target: "",
    });
    Ok(())
}

fn wrk(url: &str, script: Option<&Path>) -> Result<f64, BoxError> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c32", "-d10s"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command.arg(url).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("Requests/sec:")).ok_or_else(|| format!("wrk said: {text}"))?;
    Ok(line.trim_start_matches("Requests/sec:").trim().parse()?)
}

fn peak_rss(pid: u32) -> Option<String> {
    peak_rss_kb(pid).map(mb)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// A process's peak resident memory so far (`VmHWM`), in KiB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn print(rows: &[Row]) {
    let width = rows.iter().map(|r| r.figure.chars().count()).max().unwrap_or(10);
    println!("\n{:width$}  {:>14}  {:>28}  {:>6}  target", "figure", "value", "floor", "ratio");
    println!("{}", "-".repeat(width + 60));
    for r in rows {
        println!("{:width$}  {:>14}  {:>28}  {:>6}  {}", r.figure, r.value, r.floor, r.ratio, r.target);
    }
}
