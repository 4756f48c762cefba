//! Against the peer a team would most likely pick instead: Better Auth (bench/peer/,
//! installed from its lockfile) on PostgreSQL, its password hook on argon2id at our
//! parameters through @node-rs/argon2, beside our local server on DynamoDB Local. Both
//! run on this machine at once and every figure is taken in turns, one request of each
//! side after the other: argon2id alone, sign-up, sign-in, an authenticated read, each
//! server's own CPU time per request (from /proc: all its threads, the datastore
//! excluded), the datastores' CPU beside it, and peak RSS.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::error::BoxError;
use shared::password::Passwords;

use super::{cpu_time, free_port, mb, median, ms, peak_rss_kb, percentile, ratio, wait_for, Row, PASSWORD};

/// Sign-ups and sign-ins per side.
const ACCOUNTS: usize = 40;
/// Authenticated reads per side.
const READS: usize = 500;
/// argon2id: rounds of hashes per side, each side in turn.
const HASH_ROUNDS: usize = 3;
const HASHES_PER_ROUND: usize = 30;

pub async fn against_better_auth(
    bin_dir: &Path,
    child_env: &[(String, String)],
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let admin_url =
        std::env::var("NODE_POSTGRES_URL").map_err(|_| "NODE_POSTGRES_URL is not set: run scripts/bench")?;
    let peer_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer");
    argon2_alone(&peer_dir, rows).await?;

    let database = format!("bench_peer_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database}")).await?;
    admin.batch_execute(&format!("CREATE DATABASE {database}")).await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
    let peer_port = free_port()?;
    let peer = Command::new("node")
        .arg(peer_dir.join("server.mjs"))
        .env("PEER_DATABASE_URL", format!("{base}/{database}"))
        .env("PORT", peer_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let (ours, ours_port) = super::spawn_local_server(bin_dir, child_env)?;
    let mut servers = Servers { ours, peer };
    let measured = side_by_side(&servers, ours_port, peer_port, rows);
    servers.stop();
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
    measured
}

/// Both servers, stopped on every way out.
struct Servers {
    ours: Child,
    peer: Child,
}

impl Servers {
    fn stop(&mut self) {
        for child in [&mut self.ours, &mut self.peer] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Our `Passwords::hash` (the blocking pool's hop included) against @node-rs/argon2's
/// `hash` in Node (its thread pool's hop included), rounds in turn.
async fn argon2_alone(peer_dir: &Path, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let passwords = Passwords::new(12);
    passwords.hash("warm-up-password-93".into()).await?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..HASH_ROUNDS {
        let mut times = Vec::new();
        for i in 0..HASHES_PER_ROUND {
            let started = Instant::now();
            passwords.hash(format!("lantern-orbit-velvet-{i}")).await?;
            times.push(started.elapsed());
        }
        ours.push(median(times));
        let out = Command::new("node").arg(peer_dir.join("argon2.mjs")).arg(HASHES_PER_ROUND.to_string()).output()?;
        let text = String::from_utf8(out.stdout)?;
        let millis: f64 = text.trim().parse().map_err(|_| format!("bench/peer/argon2.mjs said {text:?}"))?;
        theirs.push(Duration::from_secs_f64(millis / 1000.0));
    }
    let (ours, theirs) = (median(ours), median(theirs));
    rows.push(Row::beside(
        format!("argon2id hash (m=19456, t=2, p=1), median of {HASH_ROUNDS} rounds' medians"),
        ours,
        "@node-rs/argon2",
        theirs,
        "≤ 1.10",
    ));
    Ok(())
}

/// One side's figures.
#[derive(Default)]
struct Side {
    sign_ups: Vec<Duration>,
    sign_ins: Vec<Duration>,
    reads: Vec<Duration>,
    sign_up_cpu: Duration,
    sign_in_cpu: Duration,
    datastore_sign_in_cpu: Duration,
}

fn side_by_side(servers: &Servers, ours_port: u16, peer_port: u16, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    wait_for(ours_port)?;
    wait_for(peer_port)?;
    let (ours_pid, peer_pid) = (servers.ours.id().to_string(), servers.peer.id().to_string());
    let dynamodb_pid = std::env::var("DYNAMODB_LOCAL_PID").map_err(|_| "DYNAMODB_LOCAL_PID is not set")?;
    let cpu = |pid: &str| cpu_time(pid).ok_or_else(|| BoxError::from(format!("no /proc/{pid}/stat")));
    let (mut us, mut them) = (Side::default(), Side::default());
    let run = std::process::id();
    // A warm-up of each path, not counted (DynamoDB Local's JIT, Node's).
    for i in 0..5 {
        ours_sign_up(ours_port, &format!("warm_{run}_{i}"))?;
        peer_sign_up(peer_port, &format!("warm_{run}_{i}"))?;
    }
    for i in 0..ACCOUNTS {
        let name = format!("peer_{run}_{i}");
        let (before, t) = (cpu(&ours_pid)?, Instant::now());
        ours_sign_up(ours_port, &name)?;
        us.sign_ups.push(t.elapsed());
        us.sign_up_cpu += cpu(&ours_pid)?.saturating_sub(before);
        let (before, t) = (cpu(&peer_pid)?, Instant::now());
        peer_sign_up(peer_port, &name)?;
        them.sign_ups.push(t.elapsed());
        them.sign_up_cpu += cpu(&peer_pid)?.saturating_sub(before);
    }
    let (mut token, mut cookie) = (String::new(), String::new());
    for i in 0..ACCOUNTS {
        let name = format!("peer_{run}_{i}");
        let (before, store_before, t) = (cpu(&ours_pid)?, cpu(&dynamodb_pid)?, Instant::now());
        token = ours_sign_in(ours_port, &name)?;
        us.sign_ins.push(t.elapsed());
        us.sign_in_cpu += cpu(&ours_pid)?.saturating_sub(before);
        us.datastore_sign_in_cpu += cpu(&dynamodb_pid)?.saturating_sub(store_before);
        let (before, store_before, t) = (cpu(&peer_pid)?, postgres_cpu(), Instant::now());
        cookie = peer_sign_in(peer_port, &name)?;
        them.sign_ins.push(t.elapsed());
        them.sign_in_cpu += cpu(&peer_pid)?.saturating_sub(before);
        them.datastore_sign_in_cpu += postgres_cpu().saturating_sub(store_before);
    }
    for _ in 0..READS {
        let t = Instant::now();
        expect_ok(request(ours_port, "GET", "/api/auth/me", &[("authorization", &format!("Bearer {token}"))], "")?)?;
        us.reads.push(t.elapsed());
        let t = Instant::now();
        expect_ok(request(peer_port, "GET", "/api/auth/get-session", &[("cookie", &cookie)], "")?)?;
        them.reads.push(t.elapsed());
    }
    let rss = |pid: u32| peak_rss_kb(pid).ok_or_else(|| BoxError::from("no /proc status"));
    let (ours_rss, peer_rss) = (rss(servers.ours.id())?, rss(servers.peer.id())?);
    report(&us, &them, (ours_rss, peer_rss), rows);
    Ok(())
}

fn report(us: &Side, them: &Side, (ours_rss, peer_rss): (u64, u64), rows: &mut Vec<Row>) {
    let n = ACCOUNTS as u32;
    let row = |figure: String, ours: Duration, theirs: Duration, target| {
        Row::beside(figure, ours, "Better Auth", theirs, target)
    };
    rows.extend([
        row(
            format!("peer: sign-up, median of {ACCOUNTS}"),
            median(us.sign_ups.clone()),
            median(them.sign_ups.clone()),
            "",
        ),
        row(
            format!("peer: sign-in, median of {ACCOUNTS}"),
            median(us.sign_ins.clone()),
            median(them.sign_ins.clone()),
            "",
        ),
        row("peer: server CPU per sign-up (mean)".into(), us.sign_up_cpu / n, them.sign_up_cpu / n, ""),
        row("peer: server CPU per sign-in (mean)".into(), us.sign_in_cpu / n, them.sign_in_cpu / n, "≤ 1.0"),
        Row {
            figure: "peer: datastore CPU per sign-in (DynamoDB Local; PostgreSQL, mean)".into(),
            value: ms(us.datastore_sign_in_cpu / n),
            floor: format!("PostgreSQL {}", ms(them.datastore_sign_in_cpu / n)),
            ratio: ratio(us.datastore_sign_in_cpu / n, them.datastore_sign_in_cpu / n),
            target: "",
        },
    ]);
    for (name, p) in [("p50", 0.5), ("p99", 0.99)] {
        rows.push(row(
            format!("peer: authenticated read (/api/auth/me; get-session), {name} of {READS}"),
            percentile(us.reads.clone(), p),
            percentile(them.reads.clone(), p),
            "",
        ));
    }
    rows.push(Row {
        figure: "peer: peak RSS of the server after the run".into(),
        value: mb(ours_rss),
        floor: format!("Better Auth {}", mb(peer_rss)),
        ratio: format!("{:.2}", ours_rss as f64 / peer_rss as f64),
        target: "",
    });
}

fn ours_sign_up(port: u16, name: &str) -> Result<(), BoxError> {
    let body =
        json!({ "username": name, "email": format!("{name}@example.org"), "password": PASSWORD, "agreeToTerms": true });
    expect_ok(request(port, "POST", "/api/auth/register", &[], &body.to_string())?).map(drop)
}

fn peer_sign_up(port: u16, name: &str) -> Result<(), BoxError> {
    let body = json!({ "name": name, "email": format!("{name}@example.org"), "password": PASSWORD });
    expect_ok(request(port, "POST", "/api/auth/sign-up/email", &[], &body.to_string())?).map(drop)
}

/// Our sign-in: its access token.
fn ours_sign_in(port: u16, name: &str) -> Result<String, BoxError> {
    let body = json!({ "identifier": name, "password": PASSWORD });
    let answer = expect_ok(request(port, "POST", "/api/auth/login", &[], &body.to_string())?)?;
    let body: Value = serde_json::from_str(answer.body())?;
    Ok(body["accessToken"].as_str().ok_or("no accessToken")?.to_owned())
}

/// Better Auth's sign-in: its session cookie.
fn peer_sign_in(port: u16, name: &str) -> Result<String, BoxError> {
    let body = json!({ "email": format!("{name}@example.org"), "password": PASSWORD });
    let answer = expect_ok(request(port, "POST", "/api/auth/sign-in/email", &[], &body.to_string())?)?;
    let cookie = answer
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: ").or_else(|| line.strip_prefix("Set-Cookie: ")))
        .and_then(|value| value.split(';').next())
        .ok_or("no session cookie")?;
    Ok(cookie.to_owned())
}

/// One HTTP/1.1 request on a connection of its own (both sides alike): the whole answer.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<String, BoxError> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    write!(stream, "{head}\r\n{body}")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

trait Answer {
    fn body(&self) -> &str;
}

impl Answer for String {
    fn body(&self) -> &str {
        self.split_once("\r\n\r\n").map_or("", |(_, body)| body)
    }
}

fn expect_ok(answer: String) -> Result<String, BoxError> {
    match answer.split(' ').nth(1) {
        Some(status) if status.starts_with('2') => Ok(answer),
        _ => Err(format!("a request failed: {}", answer.lines().next().unwrap_or_default()).into()),
    }
}

/// CPU time of every PostgreSQL process so far, reaped backends included (a parent's
/// `cutime`/`cstime` hold its reaped children's): the machine's only cluster in a
/// `scripts/bench` run.
fn postgres_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Duration::ZERO };
    let ticks: u64 = entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            (name == "postgres")
                .then(|| fields.get(11..15).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum()))
        })
        .sum();
    Duration::from_millis(ticks * 10)
}
