//! The README's "Try it" and docs/development.md's walk-throughs, as a new user runs
//! them: `scripts/dev` (the real local server binary, a DynamoDB Local and a moto of its
//! own), a sign-up, a sign-in, the verification link read off the server's console and
//! the email verified with it, a data export downloaded through the link the console
//! shows, the account made a moderator with `scripts/grant-role`, and the table audited
//! with `scripts/audit-table`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;
use support::{free_port, http_json, http_json_as};

/// `scripts/dev` in a process group of its own, stopped with everything it started
/// when dropped.
struct DevServer {
    child: Child,
    lines: Receiver<String>,
    data: PathBuf,
    base: String,
    dynamodb_port: u16,
}

impl DevServer {
    /// Runs `scripts/<name>` against this server's DynamoDB Local and default table,
    /// as docs/operations.md shows; what it printed (it must succeed).
    fn operator_script(&self, name: &str, args: &[&str]) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new(root.join("scripts").join(name))
            .args(args)
            .current_dir(&root)
            .env("DYNAMODB_PORT", self.dynamodb_port.to_string())
            .env_remove("TABLE_NAME")
            .output()
            .unwrap_or_else(|e| panic!("run scripts/{name}: {e}"));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "scripts/{name}: {said} {}", String::from_utf8_lossy(&out.stderr));
        said
    }

    /// `start`, with more of the environment set (as a command line of the docs sets it).
    fn start_with(extra: &[(&str, &str)]) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let data = std::env::temp_dir().join(format!("user-service-dev-{}", uuid::Uuid::new_v4()));
        let listen = format!("127.0.0.1:{}", free_port());
        let dynamodb_port = free_port();
        let mut child = Command::new("bash")
            .arg(root.join("scripts/dev"))
            .current_dir(&root)
            .env("DYNAMODB_PORT", dynamodb_port.to_string())
            .env("DYNAMODB_DATA_DIR", data.join("dynamodb"))
            .env("JWT_KEYS_FILE", data.join("jwt-keys.json"))
            .env("CURSOR_KEY_FILE", data.join("cursor-key"))
            .env("MFA_KEY_FILE", data.join("mfa-key"))
            .env("WEBHOOK_KEY_FILE", data.join("webhook-key"))
            .env("LISTEN_ADDR", &listen)
            .env_remove("TABLE_NAME")
            .env_remove("MAIL_TRANSPORT")
            .env_remove("LOCAL_NOTIFY")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("start scripts/dev");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        DevServer { child, lines, data, base: format!("http://{listen}"), dynamodb_port }
    }

    /// `start`, once the server listens (the first run may build it: minutes on a cold cache).
    fn listening() -> Self {
        Self::listening_with(&[])
    }

    /// Three tries: the port chosen before the build (minutes, the first time) may be
    /// taken by another test's server meanwhile; the next try starts at once, built.
    fn listening_with(extra: &[(&str, &str)]) -> Self {
        for _ in 0..3 {
            let server = DevServer::start_with(extra);
            let listening = server.wait_for_line(Duration::from_secs(1200), |l| l.contains("local server listening"));
            if listening.is_some() {
                return server;
            }
        }
        panic!("scripts/dev did not start the server (stderr above says why)");
    }

    /// The first console line that `matches`, among those printed within `limit`.
    fn wait_for_line(&self, limit: Duration, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if matches(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }
}

impl Drop for DevServer {
    #[expect(clippy::disallowed_methods, reason = "waits for a real process to exit")]
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_walk_through_verifies_an_email_downloads_an_export_and_makes_a_moderator() {
    let server = DevServer::listening();

    let (status, registered) = http_json(
        Method::POST,
        &format!("{}/api/auth/register", server.base),
        Some(&json!({
            "username": "ada", "email": "ada@example.org", "password": support::PASSWORD, "agreeToTerms": true
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(registered["user"]["isVerified"], false);
    let login = json!({ "identifier": "ada", "password": support::PASSWORD });
    let (status, signed_in) = http_json(Method::POST, &format!("{}/api/auth/login", server.base), Some(&login)).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let token = signed_in["accessToken"].as_str().unwrap();
    let (status, me) = http_json_as(Method::GET, &format!("{}/api/auth/me", server.base), None, Some(token)).await;
    assert_eq!((status, &me["username"]), (StatusCode::OK, &json!("ada")), "{me}");
    let (status, jwks) = http_json(Method::GET, &format!("{}/.well-known/jwks.json", server.base), None).await;
    assert_eq!((status, &jwks["keys"][0]["alg"]), (StatusCode::OK, &json!("RS256")), "{jwks}");

    let header = server.wait_for_line(Duration::from_secs(5), |l| l == "── outbox: verify_email to ada@example.org ──");
    assert!(header.is_some(), "no verification message on the console within 5 s");
    let link = server.wait_for_line(Duration::from_secs(1), |l| l.trim_start().starts_with("link: ")).unwrap();
    let verification = link.split("token=").nth(1).expect("the link carries the token");
    assert!(link.contains("/verify-email?token="), "{link}");

    let (status, verified) = http_json(
        Method::POST,
        &format!("{}/api/auth/verify-email", server.base),
        Some(&json!({ "token": verification })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    assert_eq!(verified["isVerified"], true);

    let (status, asked) =
        http_json_as(Method::POST, &format!("{}/api/users/me/export", server.base), None, Some(token)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    let header =
        server.wait_for_line(Duration::from_secs(20), |l| l == "── outbox: data_export_ready to ada@example.org ──");
    assert!(header.is_some(), "no export message on the console within 20 s");
    let link = server.wait_for_line(Duration::from_secs(1), |l| l.trim_start().starts_with("link: ")).unwrap();
    let url = link.trim_start().trim_start_matches("link: ");
    let (status, document) = http_json(Method::GET, url, None).await;
    assert_eq!(status, StatusCode::OK, "the download link answers");
    assert_eq!(document["account"]["email"], "ada@example.org");

    // The first moderator, made as docs/development.md shows.
    let reports = format!("{}/api/admin/reports", server.base);
    let (status, _) = http_json_as(Method::GET, &reports, None, Some(token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not staff yet");
    let said = server.operator_script("grant-role", &["ada", "moderator"]);
    let first = said.lines().next().unwrap_or_default();
    assert!(said.starts_with("ada (") && first.contains(") is now moderator (audited as operator local:"), "{said}");
    assert!(said.contains("403 MFA_REQUIRED until ada turns on a second factor"), "{said}");
    let (status, refused) = http_json_as(Method::GET, &reports, None, Some(token)).await;
    assert_eq!((status, &refused["error"]["code"]), (StatusCode::FORBIDDEN, &json!("MFA_REQUIRED")), "{refused}");
    let enroll = json!({ "password": support::PASSWORD });
    let url = format!("{}/api/auth/mfa/totp/enroll", server.base);
    let (status, enrolled) = http_json_as(Method::POST, &url, Some(&enroll), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{enrolled}");
    let code = server.operator_script("totp", &[enrolled["secret"].as_str().unwrap()]);
    let url = format!("{}/api/auth/mfa/totp/confirm", server.base);
    let (status, confirmed) =
        http_json_as(Method::POST, &url, Some(&json!({ "code": code.trim() })), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let token = confirmed["accessToken"].as_str().unwrap();
    let (status, queue) = http_json_as(Method::GET, &reports, None, Some(token)).await;
    assert_eq!((status, &queue["items"]), (StatusCode::OK, &json!([])), "a moderator's session that passed the factor");

    // A password reset through the console's link.
    let url = format!("{}/api/auth/forgot-password", server.base);
    let (status, _) = http_json(Method::POST, &url, Some(&json!({ "email": "ada@example.org" }))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let header =
        server.wait_for_line(Duration::from_secs(5), |l| l == "── outbox: reset_password to ada@example.org ──");
    assert!(header.is_some(), "no reset message on the console within 5 s");
    let line = server.wait_for_line(Duration::from_secs(1), |l| l.trim_start().starts_with("token: ")).unwrap();
    let reset =
        json!({ "token": line.trim_start().trim_start_matches("token: "), "newPassword": "quartz-meadow-harbor-58" });
    let url = format!("{}/api/auth/reset-password", server.base);
    let (status, answer) = http_json(Method::POST, &url, Some(&reset)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = http_json_as(Method::GET, &reports, None, Some(token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the reset ended every session");

    // "This wasn't me": the password notice's link takes the account back.
    let header =
        server.wait_for_line(Duration::from_secs(5), |l| l == "── outbox: password_changed to ada@example.org ──");
    assert!(header.is_some(), "no password notice on the console within 5 s");
    let link = server.wait_for_line(Duration::from_secs(1), |l| l.trim_start().starts_with("link: ")).unwrap();
    assert!(link.contains("/secure-account?token="), "{link}");
    let line = server.wait_for_line(Duration::from_secs(1), |l| l.trim_start().starts_with("token: ")).unwrap();
    let secure =
        json!({ "token": line.trim_start().trim_start_matches("token: "), "newPassword": "willow-signal-beacon-64" });
    let url = format!("{}/api/auth/secure-account", server.base);
    let (status, secured) = http_json(Method::POST, &url, Some(&secure)).await;
    assert_eq!(status, StatusCode::OK, "{secured}");
    let token = secured["accessToken"].as_str().unwrap();
    let url = format!("{}/api/auth/security-events", server.base);
    let (status, history) = http_json_as(Method::GET, &url, None, Some(token)).await;
    assert_eq!((status, &history["items"][0]["type"]), (StatusCode::OK, &json!("account_secured")), "{history}");

    // The operator's audit of the table the walk-through wrote, as Operations shows it.
    let said = server.operator_script("audit-table", &[]);
    assert!(said.starts_with("table user-service: ") && said.contains("no violations"), "{said}");
}

/// Where a redirect answer points (`curl -w '%{redirect_url}'`).
async fn redirect_url(url: &str) -> String {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::get(url).body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    let answer = client.request(request).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(answer.status(), StatusCode::FOUND, "GET {url}");
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// docs/development.md's "Sign in with a provider" walk-through: `MOCK_OIDC=1 scripts/dev`, the
/// web flow followed redirect by redirect as its curl lines do, the login code exchanged,
/// and the account made with the signup token.
#[tokio::test(flavor = "multi_thread")]
async fn the_federated_walk_through_signs_up_through_the_mock_provider() {
    let mock_addr = format!("127.0.0.1:{}", free_port());
    let server = DevServer::listening_with(&[("MOCK_OIDC", "1"), ("MOCK_OIDC_ADDR", &mock_addr)]);
    let start =
        format!("{}/api/auth/federated/mock/authorize?redirectUri=http://localhost:3000/signed-in", server.base);
    let at_provider = redirect_url(&start).await;
    assert!(at_provider.starts_with(&format!("http://{mock_addr}/authorize?")), "{at_provider}");
    let callback = redirect_url(&at_provider).await;
    assert!(callback.contains("/api/auth/federated/mock/callback?"), "{callback}");
    let back = redirect_url(&callback).await;
    let login_code = back.split("loginCode=").nth(1).unwrap_or_else(|| panic!("{back}"));
    assert!(back.starts_with("http://localhost:3000/signed-in?"), "{back}");
    let url = format!("{}/api/auth/federated/exchange", server.base);
    let (status, outcome) = http_json(Method::POST, &url, Some(&json!({ "loginCode": login_code }))).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!((&outcome["signupRequired"], &outcome["email"]), (&json!(true), &json!("mock.person@example.org")));
    assert_eq!(outcome["suggestedUsername"], "mock_person");
    let signup = json!({ "signupToken": outcome["signupToken"], "username": "mock_person", "agreeToTerms": true });
    let url = format!("{}/api/auth/federated/signup", server.base);
    let (status, signed_up) = http_json(Method::POST, &url, Some(&signup)).await;
    assert_eq!(status, StatusCode::CREATED, "{signed_up}");
    assert_eq!(signed_up["user"]["hasPassword"], false);
    let token = signed_up["accessToken"].as_str().unwrap();
    let (status, identities) =
        http_json_as(Method::GET, &format!("{}/api/auth/identities", server.base), None, Some(token)).await;
    assert_eq!((status, &identities["items"][0]["provider"]), (StatusCode::OK, &json!("mock")), "{identities}");
}

/// The reference page (README, docs/development.md): `scripts/dev` serves it at /api/docs, and Debian's
/// Chromium (tools/docs-page.mjs, through playwright-core) finds every operation's
/// summary on it with no console error; the screenshot is kept in .local/.
#[tokio::test(flavor = "multi_thread")]
async fn the_reference_page_shows_every_operation_in_chromium() {
    let server = DevServer::listening();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let checked = Command::new("node")
        .arg("tools/docs-page.mjs")
        .args([server.base.as_str(), "shared/openapi.json", ".local/docs-page.png"])
        .current_dir(&root)
        .output()
        .expect("run node tools/docs-page.mjs (scripts/test installs Chromium)");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said} {}", String::from_utf8_lossy(&checked.stderr));
    assert!(said.contains("\"problems\":[]"), "{said}");
}

/// docs/integrating.md's "verifying our tokens from another service": the TypeScript example
/// signs up and in against `scripts/dev` and verifies the access token with jose.
#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_client_verifies_our_tokens_with_jose() {
    let server = DevServer::listening();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/typescript");
    assert!(
        root.join("node_modules/.bin/tsc").exists(),
        "clients/typescript has no packages: scripts/test installs them"
    );
    let ran = Command::new("npm")
        .args(["run", "--silent", "example"])
        .current_dir(&root)
        .env("BASE_URL", &server.base)
        .output()
        .expect("run the TypeScript example");
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "{said} {}", String::from_utf8_lossy(&ran.stderr));
    let verified: serde_json::Value = serde_json::from_str(said.trim()).expect("the example prints JSON");
    assert_eq!(verified["issuer"], server.base.as_str());
    assert_eq!(
        (verified["audience"].as_str(), verified["algorithm"].as_str()),
        (Some("social-platform"), Some("RS256"))
    );
    assert_eq!(verified["tamperedRefused"], true);
    assert!(verified["userId"].as_str().is_some_and(|id| !id.is_empty()));
}

/// A webhook endpoint on this machine: each request's headers and body, in order.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(http::HeaderMap, String)>) {
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: http::HeaderMap, body: String| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// Account events from `scripts/dev`: the local server runs the events code over DynamoDB
/// Local's stream, publishes to the bus in its moto (read back through a rule's queue),
/// and delivers a webhook an admin registered, signed, to a receiver on this machine.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_server_publishes_account_events_and_delivers_webhooks() {
    let moto_port = free_port().to_string();
    let server = DevServer::listening_with(&[("MOTO_PORT", &moto_port)]);
    let moto = support::sdk_config_at(&format!("http://127.0.0.1:{moto_port}"));
    let (sqs, queue) = support::queues::bus_target(&moto, local_server::events_local::BUS).await;

    // An admin with a second factor, as the walk-through above makes a moderator.
    let body =
        json!({ "username": "ada", "email": "ada@example.org", "password": support::PASSWORD, "agreeToTerms": true });
    let (status, ada) = http_json(Method::POST, &format!("{}/api/auth/register", server.base), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    server.operator_script("grant-role", &["ada", "admin"]);
    let url = format!("{}/api/auth/mfa/totp/enroll", server.base);
    let enroll = json!({ "password": support::PASSWORD });
    let (_, enrolled) = http_json_as(Method::POST, &url, Some(&enroll), ada["accessToken"].as_str()).await;
    let code = server.operator_script("totp", &[enrolled["secret"].as_str().unwrap()]);
    let url = format!("{}/api/auth/mfa/totp/confirm", server.base);
    let (_, confirmed) =
        http_json_as(Method::POST, &url, Some(&json!({ "code": code.trim() })), ada["accessToken"].as_str()).await;
    let token = confirmed["accessToken"].as_str();

    let (hook, mut received) = webhook_receiver().await;
    let register = json!({ "url": hook, "eventTypes": ["user.created"] });
    let url = format!("{}/api/admin/webhooks", server.base);
    let (status, webhook) = http_json_as(Method::POST, &url, Some(&register), token).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");

    let body =
        json!({ "username": "bob", "email": "bob@example.org", "password": support::PASSWORD, "agreeToTerms": true });
    let (status, bob) = http_json(Method::POST, &format!("{}/api/auth/register", server.base), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");
    let bob_id = bob["user"]["id"].as_str().unwrap();

    let (headers, delivered) =
        tokio::time::timeout(Duration::from_secs(30), received.recv()).await.expect("a delivery within 30 s").unwrap();
    let event: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    assert_eq!((&event["type"], &event["subject"]), (&json!("user.created"), &json!(bob_id)), "{event}");
    let stamp: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let secret = webhook["secret"].as_str().unwrap();
    let signature = events::sign::signature_header(&[secret], event["id"].as_str().unwrap(), stamp, &delivered);
    assert_eq!(Some(headers["webhook-signature"].to_str().unwrap().to_owned()), signature);

    // On the bus: both sign-ups (ada's came before the rule, and the stream is read in
    // order, so it may be there too), and the role change.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let bobs = (json!("user.created"), json!(bob_id));
    while !seen.contains(&bobs) && Instant::now() < deadline {
        let entries = support::queues::receive(&sqs, &queue).await;
        seen.extend(entries.into_iter().map(|e| (e["detail-type"].clone(), e["detail"]["subject"].clone())));
    }
    assert!(seen.contains(&bobs), "{seen:?}");
}

/// The steps of the shell blocks under `heading` (up to the next heading): each
/// `scripts/…` command and each curl request (method and path, or a placeholder for
/// the URL the reader pastes), in order; comments left out.
fn walk_through_steps(file: &str, heading: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)).unwrap();
    let section = text.split_once(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("{file} has no {heading}")).1;
    let (mut steps, mut fenced, mut in_shell) = (Vec::new(), false, false);
    for line in section.replace("\\\n", " ").lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            in_shell = fenced && line == "```sh";
            continue;
        }
        if !fenced && line.starts_with('#') {
            break; // the next heading
        }
        if !in_shell || line.starts_with('#') {
            continue;
        }
        let mut rest = line.split(" # ").next().unwrap();
        while let Some(at) = [rest.find("scripts/"), rest.find("curl ")].into_iter().flatten().min() {
            let word = &rest[at..];
            if let Some(command) = word.strip_prefix("curl ") {
                let method = if command.split_whitespace().take(3).any(|w| w == "POST") { "POST" } else { "GET" };
                let url = command.split_whitespace().find(|w| w.contains("localhost:3000") || w.starts_with("'<"));
                let url = url.unwrap_or_else(|| panic!("{file}: a curl without a URL: {line}"));
                let path =
                    url.trim_matches('\'').split_once("localhost:3000").map_or("<placeholder>", |(_, path)| path);
                steps.push(format!("{method} {}", path.split('?').next().unwrap()));
            } else {
                steps.push(word.split([' ', '"', ')']).next().unwrap().to_owned());
            }
            rest = &word[1..];
        }
    }
    steps
}

/// The walk-throughs the docs show are the ones the tests above run, step for step: a
/// command changed in the docs (or here) without the other fails this.
#[test]
fn the_docs_walk_throughs_are_the_steps_these_tests_run() {
    let try_it = [
        "scripts/dev",
        "POST /api/auth/register",
        "POST /api/auth/login",
        "GET /api/auth/me",
        "GET /.well-known/jwks.json",
    ];
    assert_eq!(walk_through_steps("README.md", "## Try it"), try_it);
    let whole = [
        "POST /api/auth/verify-email",
        "POST /api/users/me/export",
        "GET <placeholder>",
        "scripts/grant-role",
        "GET /api/admin/reports",
        "POST /api/auth/mfa/totp/enroll",
        "POST /api/auth/mfa/totp/confirm",
        "scripts/totp",
        "GET /api/admin/reports",
        "POST /api/auth/forgot-password",
        "POST /api/auth/reset-password",
        "POST /api/auth/secure-account",
        "GET /api/auth/security-events",
        "scripts/audit-table",
    ];
    assert_eq!(walk_through_steps("docs/development.md", "## The whole walk-through"), whole);
    let federated = [
        "scripts/dev",
        "GET /api/auth/federated/mock/authorize",
        "GET <placeholder>",
        "GET <placeholder>",
        "POST /api/auth/federated/exchange",
        "POST /api/auth/federated/signup",
    ];
    assert_eq!(walk_through_steps("docs/development.md", "### Sign in with a provider"), federated);
}
