//! Moving off the Node service: a real PostgreSQL (started by `scripts/test`) holding
//! the old service's schema and rows (tools/node_fixture.py; its bcrypt hashes made by
//! the `bcrypt` package), imported into a table of DynamoDB Local, then used through
//! the API: old passwords sign in and are re-hashed, profiles, settings, lists and
//! counters are the source's, the rejects file names each bad row, a second run writes
//! nothing, a run stopped half way ends where an uninterrupted one does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::StatusCode;
use serde_json::{json, Value};
use support::{keys_of, TestApp};

/// A database of the old service's, made for one test and dropped by `drop_now`.
struct NodeDatabase {
    name: String,
    url: String,
    expected: Value,
}

fn admin_url() -> String {
    std::env::var("NODE_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("NODE_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL")
    })
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    client
}

impl NodeDatabase {
    /// The fixture's planted rows, and `bulk_users` plain users with `bulk_relationships`
    /// relationships between them.
    async fn new(bulk_users: usize, bulk_relationships: usize) -> Self {
        let name = format!("node_{}", uuid::Uuid::new_v4().simple());
        connect(&admin_url()).await.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        let url = admin_url().rsplit_once('/').map(|(server, _)| format!("{server}/{name}")).unwrap();
        let python = std::env::var("IMPORT_FIXTURE_PYTHON")
            .unwrap_or_else(|_| panic!("IMPORT_FIXTURE_PYTHON is not set: run the tests with scripts/test"));
        let expect = std::env::temp_dir().join(format!("{name}.json"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/node_fixture.py");
        let out = tokio::process::Command::new(python)
            .args([
                script,
                "--bulk-users",
                &bulk_users.to_string(),
                "--bulk-relationships",
                &bulk_relationships.to_string(),
            ])
            .arg("--expect")
            .arg(&expect)
            .output()
            .await
            .expect("run the fixture");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        connect(&url).await.batch_execute(&String::from_utf8(out.stdout).unwrap()).await.expect("load the fixture");
        let expected = serde_json::from_str(&std::fs::read_to_string(&expect).unwrap()).unwrap();
        std::fs::remove_file(expect).ok();
        NodeDatabase { name, url, expected }
    }

    async fn drop_now(self) {
        let admin = connect(&admin_url()).await;
        admin.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name)).await.unwrap();
    }

    fn probe(&self, name: &str) -> &Value {
        &self.expected["probes"][name]
    }

    fn id(&self, name: &str) -> String {
        self.probe(name)["id"].as_str().unwrap().to_owned()
    }
}

fn options(source: &str, dry_run: bool) -> (node_import::Options, PathBuf) {
    let rejects = std::env::temp_dir().join(format!("rejects-{}.jsonl", uuid::Uuid::new_v4()));
    let options = node_import::Options {
        source: source.into(),
        ssl_root_cert: None,
        name: "node".into(),
        rejects: rejects.clone(),
        dry_run,
        concurrency: 4,
        // Small chunks: the stopped run's test stops between two of them.
        checkpoint_every: 10,
    };
    (options, rejects)
}

async fn app() -> TestApp {
    TestApp::with_env(&[("LEGACY_BCRYPT_COST", "4")]).await
}

async fn sign_in(app: &TestApp, name: &str, password: &str) -> support::TestResponse {
    app.post("/api/auth/login", json!({ "identifier": name, "password": password })).await
}

#[tokio::test]
async fn an_import_keeps_accounts_passwords_profiles_and_relations() {
    let app = app().await;
    let db = NodeDatabase::new(0, 0).await;
    let (options, rejects_path) = options(&db.url, false);
    let report = node_import::run(&app.state.store, &options).await.unwrap();
    assert_eq!((report.users.source, report.users.written, report.users.rejected), (11, 6, 5), "{report:#?}");
    assert_eq!((report.follows.written, report.requests.written, report.blocks.written), (4, 2, 1), "{report:#?}");
    assert_eq!(report.relationships.declined, 1, "the follow the old service rejected");
    assert_eq!((report.table.accounts_found, report.table.followers_found), (6, 4), "{report:#?}");
    assert_eq!(report.table.followers_expected, 4);

    // Each bad row, named with its reason.
    let rejects: Vec<Value> =
        std::fs::read_to_string(&rejects_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    std::fs::remove_file(&rejects_path).ok();
    let planted = db.expected["rejects"].as_object().unwrap();
    assert_eq!(rejects.len(), planted.len(), "{rejects:#?}");
    for (id, word) in planted {
        let found =
            rejects.iter().find(|r| r["id"] == id.as_str()).unwrap_or_else(|| panic!("{id} is not in the rejects"));
        assert!(found["reason"].as_str().unwrap().contains(word.as_str().unwrap()), "{found}");
    }

    // The old password signs in, and the bcrypt hash is replaced with argon2id.
    let ada = db.probe("ada");
    let password = ada["password"].as_str().unwrap();
    assert_eq!(sign_in(&app, "ada", "not-the-password").await.status, StatusCode::UNAUTHORIZED);
    let signed_in = sign_in(&app, "ada", password).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let item = app.item(support::key(format!("USER#{}", db.id("ada")), "PROFILE")).await.unwrap();
    assert!(item["passwordHash"].as_s().unwrap().starts_with("$argon2id$"), "re-hashed on the first sign-in");
    assert_eq!(
        sign_in(&app, "ADA@example.org", password).await.status,
        StatusCode::OK,
        "by email too, after the re-hash"
    );

    // The profile and settings, mapped from snake_case.
    let token = signed_in.body["accessToken"].as_str().unwrap().to_owned();
    let me = app.get("/api/auth/me", Some(&token)).await.body;
    assert_eq!(
        (me["id"].as_str().unwrap(), &me["username"], &me["firstName"]),
        (db.id("ada").as_str(), &json!("ada"), &json!("Ada"))
    );
    assert_eq!(me["profile"]["location"], "Lisbon");
    assert_eq!(me["profile"]["interests"], json!(["chess", "maths"]));
    assert_eq!(me["notificationPreferences"]["emailNotifications"], false);
    assert_eq!(me["createdAt"], "2024-01-01T10:00:00Z");
    assert_eq!(me["isVerified"], true);

    // Relations and their counters.
    let stats = app.get(&format!("/api/users/{}/stats", db.id("ada")), None).await.body;
    assert_eq!((&stats["followersCount"], &stats["followingCount"]), (&json!(3), &json!(1)));
    let followers = app.get(&format!("/api/social/{}/followers", db.id("ada")), Some(&token)).await.body;
    let mut ids: Vec<&str> = followers["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = [db.id("bob"), db.id("eve"), db.id("fay")];
    expected.sort();
    assert_eq!(ids, expected);
    let cyd = sign_in(&app, "cyd", db.probe("cyd")["password"].as_str().unwrap()).await;
    let requests = app.get("/api/social/requests", cyd.body["accessToken"].as_str()).await.body;
    let mut from: Vec<&str> = requests["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    from.sort();
    assert_eq!(json!(from), db.probe("cyd")["requests_from"]);

    // An inactive account is deactivated from the import: its owner may come back.
    let dee = db.probe("dee")["password"].as_str().unwrap();
    assert_eq!(sign_in(&app, "dee", dee).await.error_code(), "ACCOUNT_DEACTIVATED");
    let back = app.post("/api/auth/reactivate", json!({ "identifier": "dee", "password": dee })).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    // Back, dee shows in ada's list of blocked accounts (a deactivated one is left out).
    let blocked = app.get("/api/social/blocked", Some(&token)).await.body;
    assert_eq!(blocked["items"][0]["id"], db.id("dee").as_str());

    let audit = app.state.store.consistency().audit_table(2).await.unwrap();
    assert!(audit.is_clean(), "{:#?}", audit.violations);
    db.drop_now().await;
}

/// Every item of the table but the import's checkpoint, by key, and each account's
/// counters: what two imports of one source must agree on.
async fn imported(app: &TestApp) -> (Vec<(String, String)>, BTreeMap<String, (String, String)>) {
    let items = app.all_items().await;
    let keys = keys_of(&items).into_iter().filter(|(pk, _)| !pk.starts_with("IMPORT#")).collect();
    let counters = items
        .iter()
        .filter(|i| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "PROFILE"))
        .map(|i| {
            let n = |name: &str| i.get(name).and_then(|v| v.as_n().ok()).cloned().unwrap_or_default();
            (i["PK"].as_s().unwrap().clone(), (n("followersCount"), n("followingCount")))
        })
        .collect();
    (keys, counters)
}

#[tokio::test]
async fn a_second_run_writes_nothing_and_a_stopped_run_ends_as_an_uninterrupted_one() {
    let db = NodeDatabase::new(60, 200).await;
    let whole = app().await;
    let (options_whole, rejects) = options(&db.url, false);
    let report = node_import::run(&whole.state.store, &options_whole).await.unwrap();
    assert!(report.follows.written > 50, "{report:#?}");
    assert_eq!(report.table.followers_found, report.table.followers_expected);

    // A second run: nothing new is written.
    let before = whole.all_items().await;
    let again = node_import::run(&whole.state.store, &options_whole).await.unwrap();
    assert!(again.already_finished);
    assert_eq!((again.users.written, again.follows.written), (0, 0));
    let mut after = whole.all_items().await;
    let mut before_sorted = before;
    let sort = |items: &mut Vec<shared::store::Item>| items.sort_by_key(|i| format!("{:?}{:?}", i["PK"], i["SK"]));
    sort(&mut before_sorted);
    sort(&mut after);
    assert_eq!(before_sorted, after, "the second run changed the table");

    // Stopped as a kill would stop it: after its first checkpoint, mid-way.
    let stopped = app().await;
    let (options_stopped, rejects_stopped) = options(&db.url, false);
    let store = stopped.state.store.clone();
    let running = tokio::spawn(async move { node_import::run(&store, &options_stopped).await });
    let checkpoint = loop {
        if let Some(found) = stopped.state.store.imports().checkpoint("node").await.unwrap() {
            break found;
        }
        assert!(!running.is_finished(), "the import ended before its first checkpoint was seen");
    };
    running.abort();
    assert_ne!(checkpoint.phase, "done", "stopped mid-way");
    let (options_resumed, rejects_resumed) = options(&db.url, false);
    let resumed = node_import::run(&stopped.state.store, &options_resumed).await.unwrap();
    assert!(resumed.users.already > 0 || resumed.follows.already > 0, "it went on from the checkpoint: {resumed:#?}");
    assert_eq!(imported(&stopped).await, imported(&whole).await);
    for path in [rejects, rejects_stopped, rejects_resumed] {
        std::fs::remove_file(path).ok();
    }
    db.drop_now().await;
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let app = app().await;
    let db = NodeDatabase::new(0, 0).await;
    let (options, rejects) = options(&db.url, true);
    let report = node_import::run(&app.state.store, &options).await.unwrap();
    assert!(report.dry_run);
    assert_eq!((report.users.written, report.users.rejected), (6, 5), "what it would write: {report:#?}");
    assert!(app.all_items().await.is_empty(), "a dry run writes nothing");
    assert_eq!(std::fs::read_to_string(&rejects).unwrap().lines().count(), 7, "the rejects it found");
    std::fs::remove_file(rejects).ok();
    db.drop_now().await;
}

/// TLS to the source. The test server's certificate comes from a CA made for the run,
/// and its role `tls_reader` may connect over TLS only: `sslmode=require` alone refuses
/// the certificate (not from a public CA), the CA file (`--ssl-root-cert`, as RDS's
/// bundle would be given) makes the connection and the import reads through it, and a
/// file without a certificate is a clear error.
#[tokio::test]
async fn the_source_over_tls_with_its_ca_file() {
    let app = app().await;
    let db = NodeDatabase::new(0, 0).await;
    let ca = std::env::var("NODE_POSTGRES_CA")
        .unwrap_or_else(|_| panic!("NODE_POSTGRES_CA is not set: run the tests with scripts/test"));
    let tls_only = db.url.replacen("postgres://postgres@", "postgres://tls_reader@", 1);
    let attempt = |url: String, ca: Option<&str>| {
        let (mut options, rejects) = options(&url, true);
        options.ssl_root_cert = ca.map(PathBuf::from);
        let store = app.state.store.clone();
        async move {
            let result = node_import::run(&store, &options).await;
            std::fs::remove_file(rejects).ok();
            result
        }
    };
    let plain = attempt(tls_only.clone(), None).await.expect_err("a role that needs TLS, without TLS");
    assert!(plain.contains("no encryption"), "{plain}");
    let public_roots = attempt(format!("{tls_only}?sslmode=require"), None).await.expect_err("a private CA");
    assert!(public_roots.contains("certificate"), "{public_roots}");
    let report = attempt(tls_only.clone(), Some(&ca)).await.expect("TLS with the CA file");
    assert_eq!(report.users.written, 6, "read over TLS: {report:#?}");
    let empty = std::env::temp_dir().join(format!("empty-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&empty, "").unwrap();
    let no_cert = attempt(tls_only, empty.to_str()).await.expect_err("an empty CA file");
    assert!(no_cert.contains("holds no certificate"), "{no_cert}");
    std::fs::remove_file(empty).ok();
    assert!(app.all_items().await.is_empty(), "dry runs");
    db.drop_now().await;
}

/// The command lines of docs/operations.md (Moving off the Node service): `import-node --dry-run`, then the import, the source from
/// `SOURCE_DATABASE_URL`, through `scripts/import-node` (the binary as the operator runs
/// it) against this test's table; the report on stdout.
#[tokio::test]
async fn the_command_line_imports_as_the_readme_shows() {
    let app = app().await;
    let db = NodeDatabase::new(0, 0).await;
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    let port = endpoint.rsplit(':').next().unwrap().trim_end_matches('/').to_owned();
    let rejects = std::env::temp_dir().join(format!("rejects-{}.jsonl", uuid::Uuid::new_v4()));
    let run = |extra: &'static [&'static str]| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut command = tokio::process::Command::new(format!("{root}/scripts/import-node"));
        command
            .args(extra)
            .arg("--rejects")
            .arg(&rejects)
            .current_dir(root)
            .env("SOURCE_DATABASE_URL", &db.url)
            .env("DYNAMODB_PORT", &port)
            .env("TABLE_NAME", &app.table);
        command
    };
    let dry = run(&["--dry-run"]).output().await.unwrap();
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!((&report["dryRun"], &report["users"]["written"]), (&json!(true), &json!(6)));
    assert!(app.all_items().await.is_empty());
    let done = run(&[]).output().await.unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let report: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!((&report["users"]["written"], &report["table"]["accountsFound"]), (&json!(6), &json!(6)));
    let ada = db.probe("ada")["password"].as_str().unwrap().to_owned();
    assert_eq!(sign_in(&app, "ada", &ada).await.status, StatusCode::OK);
    std::fs::remove_file(&rejects).ok();
    db.drop_now().await;
}
