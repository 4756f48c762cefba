//! `audit-table [--segments N] [--repair-counters] [--json]`: reads the whole table and
//! checks its invariants (shared::store::consistency); prints a summary and every
//! violation by ids, and exits 1 when there is any (2 when it could not run).
//! `--repair-counters` first sets each drifted follower/following counter to its edges
//! (idempotent, safe beside traffic), then audits again. It reads `TABLE_NAME` and AWS's
//! usual settings: DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`) or AWS with the
//! operator's credentials.

use std::process::ExitCode;
use std::time::Instant;

use shared::store::consistency::{AuditReport, Repair};
use shared::store::Store;

const USAGE: &str = "usage: audit-table [--segments N] [--repair-counters] [--json]";

struct Options {
    segments: i32,
    repair: bool,
    json: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options { segments: 4, repair: false, json: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--segments" => {
                let value = args.next().ok_or("--segments needs a number")?;
                options.segments =
                    value.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or("--segments: 1 to 1000")?;
            }
            "--repair-counters" => options.repair = true,
            "--json" => options.json = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("audit-table: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options).await {
        Ok(report) if report.is_clean() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("audit-table: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run(options: &Options) -> Result<AuditReport, String> {
    let config = shared::config::Config::from_env().map_err(|e| e.to_string())?;
    let store = Store::from_config(&config).await;
    let started = Instant::now();
    let mut report = audit(&store, options.segments).await?;
    if options.repair && !report.drifts.is_empty() {
        for drift in &report.drifts {
            let outcome = store
                .consistency()
                .repair_counter(&drift.user_id, drift.counter)
                .await
                .map_err(|e| format!("repairing user {}: {e}", drift.user_id))?;
            let what = match outcome {
                Repair::Set { from, to } => format!("set {from} → {to}"),
                Repair::AlreadyRight => "already right".to_owned(),
                Repair::Gone => "the user is gone".to_owned(),
                Repair::KeptMoving => "the counter kept moving; left alone (run again)".to_owned(),
            };
            eprintln!("repaired user {} {:?}: {what}", drift.user_id, drift.counter);
        }
        report = audit(&store, options.segments).await?;
    }
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    } else {
        print(&report, store.table(), options.segments, started.elapsed().as_secs_f64());
    }
    Ok(report)
}

async fn audit(store: &Store, segments: i32) -> Result<AuditReport, String> {
    store.consistency().audit_table(segments).await.map_err(|e| format!("reading table {} failed: {e}", store.table()))
}

fn print(report: &AuditReport, table: &str, segments: i32, secs: f64) {
    println!("table {table}: {} items in {secs:.1} s ({segments} segments)", report.items);
    for (kind, count) in &report.kinds {
        println!("  {count:>9}  {kind}");
    }
    if report.is_clean() {
        println!("no violations");
        return;
    }
    println!("{} violations:", report.violations.len());
    for (check, count) in report.by_check() {
        println!("  {count:>9}  {}", check.name());
    }
    for violation in &report.violations {
        println!("{}: {}", violation.check.name(), violation.detail);
    }
}
