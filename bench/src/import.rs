//! The move off the Node service at scale: `import-node` (the release binary, as an
//! operator runs it) reads 100,000 users and 1,000,000 relationships from a real
//! PostgreSQL holding the old schema and writes a fresh table of DynamoDB Local. The
//! schema and a few planted rows (good and bad) come from `tools/node_fixture.py`, the
//! bulk from `generate_series`; every bulk user shares one bcrypt hash made by Python's
//! `bcrypt` (the import checks a hash's form, it does not verify it). Reported: the
//! wall time, source rows and table items per second, and the command's peak RSS. The
//! import's own report must agree with the source, or the figure is not printed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::error::BoxError;
use shared::store::schema;

use super::{mb, peak_rss_kb, Row};

/// Relationships each bulk user starts: ten, to the users 7,919, 15,838, … ids further
/// along the ring (no pair is repeated, none is the reverse of another while the user
/// count is not a multiple of 7,919).
const RELATIONSHIPS_PER_USER: u64 = 10;

pub async fn import_at_scale(
    bin_dir: &std::path::Path,
    child_env: &[(String, String)],
    client: &aws_sdk_dynamodb::Client,
    work: &std::path::Path,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let (Ok(admin_url), Ok(python)) = (std::env::var("NODE_POSTGRES_URL"), std::env::var("IMPORT_FIXTURE_PYTHON"))
    else {
        return Err("NODE_POSTGRES_URL and IMPORT_FIXTURE_PYTHON are not set: run scripts/bench".into());
    };
    // BENCH_IMPORT_USERS: fewer users for a quick look (relationships follow: ten each).
    let users: u64 = std::env::var("BENCH_IMPORT_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let database = format!("bench_import_{}", std::process::id());
    let source_url = format!("{}/{database}", admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base));
    let admin = connect(&admin_url).await?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database}")).await?;
    admin.batch_execute(&format!("CREATE DATABASE {database}")).await?;
    let source = connect(&source_url).await?;
    fill_source(&source, &python, work, users).await?;
    let relationships = users * RELATIONSHIPS_PER_USER;

    let table = format!("bench-import-{}", uuid::Uuid::new_v4());
    schema::create_table(client, &table).await?;
    // As the scale rows do: DynamoDB Local's stream would cost each write more and more.
    super::scale::without_stream(client, &table).await?;
    let run = run_import(bin_dir, child_env, &table, &source_url, work);
    let measured = run.and_then(|(elapsed, peak_kb, report)| {
        check_report(&report, users)?;
        Ok((elapsed, peak_kb, report))
    });
    let items = table_items(client, &table).await;
    // DynamoDB Local keeps the table in memory: give it back before the next part.
    let _ = client.delete_table().table_name(&table).send().await;
    drop(source);
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
    let (elapsed, peak_kb, report) = measured?;
    let times = &report["times"];
    let items = items?;
    let seconds = elapsed.as_secs_f64();
    rows.push(Row {
        figure: format!("import-node: {users} users + {relationships} relationships into DynamoDB Local"),
        value: format!("{seconds:.0} s"),
        floor: String::new(),
        ratio: String::new(),
        target: "",
    });
    rows.push(Row {
        figure: "  its throughput: source rows a second (table items a second)".into(),
        value: format!("{:.0} rows/s", (users + relationships) as f64 / seconds),
        floor: format!("{items} items: {:.0} items/s", items as f64 / seconds),
        ratio: String::new(),
        target: "",
    });
    let phase = |name: &str| times[name].as_u64().map_or("?".into(), |ms| format!("{:.0} s", ms as f64 / 1000.0));
    rows.push(Row {
        figure: "  its phases: reading and checking / accounts / relationships / table check".into(),
        value: phase("readingMs"),
        floor: format!("{} / {} / {}", phase("accountsMs"), phase("relationshipsMs"), phase("tableCheckMs")),
        ratio: String::new(),
        target: "",
    });
    rows.push(Row {
        figure: "  its peak RSS".into(),
        value: mb(peak_kb),
        floor: String::new(),
        ratio: String::new(),
        target: "",
    });
    // Against DynamoDB the table's write capacity sets the pace: an item of a
    // transaction costs two write units, one of a BatchWriteItem one (items < 1 KB).
    let relations: i64 =
        ["follows", "requests", "blocks"].iter().filter_map(|kind| report[*kind]["written"].as_i64()).sum();
    let edge_items = 2 * relations;
    let units = 2 * (items - edge_items) + edge_items;
    let minutes = |per_second: f64| format!("{:.0} min", units as f64 / per_second / 60.0);
    rows.push(Row {
        figure: "  write units it needs on DynamoDB; minutes at 1,000 / 4,000 WCU a second".into(),
        value: format!("{units}"),
        floor: format!("{} / {}", minutes(1000.0), minutes(4000.0)),
        ratio: String::new(),
        target: "",
    });
    Ok(())
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, BoxError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The old schema with the fixture's planted rows, then `users` bulk users (a third with
/// a profile, every fiftieth inactive) and ten relationships each: 70% accepted
/// follows, 10% pending, 10% friends, 5% blocks, 5% rejected.
async fn fill_source(
    source: &tokio_postgres::Client,
    python: &str,
    work: &std::path::Path,
    users: u64,
) -> Result<(), BoxError> {
    let fixture = Command::new(python)
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/node_fixture.py"))
        .arg("--expect")
        .arg(work.join("import-expect.json"))
        .stderr(Stdio::inherit())
        .output()?;
    if !fixture.status.success() {
        return Err("tools/node_fixture.py failed".into());
    }
    source.batch_execute(std::str::from_utf8(&fixture.stdout)?).await?;
    let user_id = |n: &str| format!("md5('scale' || {n})::uuid");
    source
        .batch_execute(&format!(
            "INSERT INTO users (id, username, email, password_hash, first_name, last_name, bio, is_verified,
                                is_active, last_login, created_at, updated_at)
             SELECT {id}, 'scale' || i, 'scale' || i || '@example.org', h.password_hash, 'Scale', 'User ' || i,
                    'Moved from the old service', i % 10 <> 0, i % 50 <> 0, timestamp '2024-06-01',
                    timestamp '2023-01-01' + i * interval '1 minute', timestamp '2024-01-01'
             FROM generate_series(0, {last}) i, (SELECT password_hash FROM users WHERE username = 'bob') h;
             INSERT INTO user_profiles (user_id, location, interests, updated_at)
             SELECT {id}, 'Lisbon', ARRAY['chess'], timestamp '2024-01-01' FROM generate_series(0, {last}, 3) i;
             INSERT INTO user_relationships
             SELECT md5('edge' || i || '-' || k)::uuid, {id}, {other},
                    CASE WHEN r < 80 OR r >= 95 THEN 'follow' WHEN r < 90 THEN 'friend' ELSE 'block' END,
                    CASE WHEN r < 70 OR (r >= 80 AND r < 95) THEN 'accepted' WHEN r < 80 THEN 'pending'
                         ELSE 'rejected' END,
                    timestamp '2024-03-01', timestamp '2024-03-01'
             FROM generate_series(0, {last}) i, generate_series(1, {RELATIONSHIPS_PER_USER}) k,
                  LATERAL (SELECT (i * {RELATIONSHIPS_PER_USER} + k) * 37 % 100 AS r) x;
             ANALYZE",
            id = user_id("i"),
            other = user_id(&format!("((i + k * 7919) % {users})")),
            last = users - 1,
        ))
        .await?;
    Ok(())
}

/// Runs the release `import-node`, sampling its peak RSS until it exits: the wall time,
/// the peak (KiB) and its JSON report.
fn run_import(
    bin_dir: &std::path::Path,
    child_env: &[(String, String)],
    table: &str,
    source_url: &str,
    work: &std::path::Path,
) -> Result<(Duration, u64, Value), BoxError> {
    let started = Instant::now();
    let mut child = Command::new(bin_dir.join("import-node"))
        .envs(child_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("TABLE_NAME", table)
        .env("SOURCE_DATABASE_URL", source_url)
        .arg("--rejects")
        .arg(work.join("import-rejects.jsonl"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut peak_kb = 0;
    let status = loop {
        // VmHWM is the high-water mark: the last reading before the exit is the peak.
        peak_kb = peak_rss_kb(child.id()).unwrap_or(0).max(peak_kb);
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed();
    let mut report = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().ok_or("no stdout")?, &mut report)?;
    if !status.success() {
        return Err(format!("import-node failed ({status}): {report}").into());
    }
    Ok((elapsed, peak_kb, serde_json::from_str(&report)?))
}

/// The report must show every bulk user and the table's counters agreeing with the
/// follows written.
fn check_report(report: &Value, bulk_users: u64) -> Result<(), BoxError> {
    let number = |path: &str| report.pointer(path).and_then(Value::as_i64).unwrap_or(-1);
    let fine = number("/users/written") >= i64::try_from(bulk_users)?
        && number("/table/accountsFound") == number("/table/accountsExpected")
        && number("/table/followersFound") == number("/table/followersExpected")
        && number("/follows/written") > 0;
    if fine {
        Ok(())
    } else {
        Err(format!("the import's report does not match its source: {report}").into())
    }
}

/// The items of `table` (DynamoDB Local counts them at once; DynamoDB every six hours).
async fn table_items(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<i64, BoxError> {
    let described = client.describe_table().table_name(table).send().await?;
    Ok(described.table().and_then(|t| t.item_count()).unwrap_or(0))
}
