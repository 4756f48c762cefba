//! Moving off the Node service: its PostgreSQL (`users`, `user_profiles`,
//! `user_relationships`) into the table, keeping ids, times and bcrypt hashes.
//!
//! A run reads and checks everything first, so that what it writes is decided before
//! it writes: the users (each row against this service's rules; usernames and emails
//! that collide without regard to case, the lowest id keeping the name; claims already
//! held by another account of the table), then the relationships (both users imported,
//! blocks winning over follows), which give each account its counters. Then it writes
//! the accounts (one transaction each, as sign-up writes them, with their counters) and
//! the edges (in batches), saving a checkpoint after each chunk, and reports counts per
//! kind, source against table. Every write is idempotent (an account found by its own
//! claims is left as it is; an edge is the same item again), so a run stopped anywhere
//! continues from its checkpoint, and a finished import's second run writes nothing.
//! Refused rows go to the rejects file with their reasons; the import never stops on one.

pub mod rows;
pub mod source;

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use shared::domain::user::UserRecord;
use shared::store::imports::{Checkpoint, ClaimOwners, Imported, ImportedEdge, Relation};
use shared::store::Store;
use uuid::Uuid;

use crate::source::Source;

/// Edges to a `BatchWriteItem` (two items each, of its 25).
const EDGES_PER_BATCH: usize = 12;

pub struct Options {
    /// The old service's PostgreSQL URL.
    pub source: String,
    /// CA certificates (PEM) the source's server certificate must chain to.
    pub ssl_root_cert: Option<PathBuf>,
    /// The import's name: its checkpoint's key.
    pub name: String,
    pub rejects: PathBuf,
    pub dry_run: bool,
    /// Writes in flight at once.
    pub concurrency: usize,
    /// Accounts written between two checkpoints (edges: ten times as many).
    pub checkpoint_every: usize,
}

/// What a run found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub users: Counts,
    pub profiles: u64,
    pub relationships: RelationshipCounts,
    pub follows: Counts,
    pub requests: Counts,
    pub blocks: Counts,
    /// The table after the run: the imported accounts found, and their counters' sums
    /// against the follows imported.
    pub table: TableCheck,
    /// A finished import's run: nothing was written.
    pub already_finished: bool,
    pub dry_run: bool,
    pub times: PhaseTimes,
}

/// How long each phase of this run took.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimes {
    /// Reading and checking the source (and the claims the table holds).
    pub reading_ms: u64,
    pub accounts_ms: u64,
    pub relationships_ms: u64,
    pub table_check_ms: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// In the source (for relations: what its rows mean).
    pub source: u64,
    /// Written by this run.
    pub written: u64,
    /// Imported by an earlier run, left as they are.
    pub already: u64,
    pub rejected: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipCounts {
    pub source: u64,
    /// Rejected by the old service (`status = 'rejected'`): nothing to keep.
    pub declined: u64,
    pub rejected: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCheck {
    pub accounts_expected: u64,
    pub accounts_found: u64,
    pub followers_expected: i64,
    pub followers_found: i64,
    pub following_found: i64,
}

/// A row left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    pub table: &'static str,
    pub id: String,
    pub reason: String,
}

/// What was read and decided before writing.
struct Plan {
    users: Vec<UserRecord>,
    /// The edges, each with the id of the relationship row it came from, in that order.
    edges: Vec<(Uuid, ImportedEdge)>,
    rejects: Vec<Reject>,
}

pub async fn run(store: &Store, options: &Options) -> Result<Report, String> {
    let source = Source::connect(&options.source, options.ssl_root_cert.as_deref()).await?;
    let now = store.now();
    let mut report = Report { dry_run: options.dry_run, ..Report::default() };
    let mut phase = std::time::Instant::now();
    let mut lap = || std::mem::replace(&mut phase, std::time::Instant::now()).elapsed().as_millis() as u64;
    let plan = plan(store, &source, now, &mut report).await?;
    report.times.reading_ms = lap();
    write_rejects(&options.rejects, &plan.rejects)?;
    if options.dry_run {
        report.users.written = plan.users.len() as u64;
        report.follows.written = count(&plan.edges, Relation::Follow);
        report.requests.written = count(&plan.edges, Relation::Request);
        report.blocks.written = count(&plan.edges, Relation::Block);
        return Ok(report);
    }
    let imports = store.imports();
    let checkpoint = imports.checkpoint(&options.name).await.map_err(failure)?.unwrap_or_default();
    if checkpoint.phase == "done" {
        report.already_finished = true;
    } else {
        let rejected = write_users(store, options, &plan.users, &checkpoint, &mut report).await?;
        report.times.accounts_ms = lap();
        append_rejects(&options.rejects, &rejected)?;
        write_edges(store, options, &plan.edges, &checkpoint, &mut report).await?;
        report.times.relationships_ms = lap();
        let done = Checkpoint { phase: "done".into(), after: None, at: Some(store.now()) };
        imports.save_checkpoint(&options.name, &done).await.map_err(failure)?;
    }
    lap();
    report.table = check_table(store, &plan).await?;
    report.times.table_check_ms = lap();
    Ok(report)
}

fn count(edges: &[(Uuid, ImportedEdge)], relation: Relation) -> u64 {
    edges.iter().filter(|(_, e)| e.relation == relation).count() as u64
}

/// Reads and checks the source: the accounts to write with their counters, the edges,
/// the rejects.
async fn plan(store: &Store, source: &Source, now: DateTime<Utc>, report: &mut Report) -> Result<Plan, String> {
    let progress = bar(source.count("users").await? as u64, "reading users");
    let mut users = Vec::new();
    let mut rejects = Vec::new();
    let (mut emails, mut usernames) = (HashMap::new(), HashMap::new());
    let mut after = None;
    loop {
        let page = source.users(after).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for row in &page {
            report.users.source += 1;
            report.profiles +=
                u64::from(row.privacy_settings.is_some() || row.location.is_some() || row.phone.is_some());
            let refuse = |reason: String| Reject { table: "users", id: row.id.to_string(), reason };
            let user = match rows::account(row, now) {
                Ok(user) => user,
                Err(reason) => {
                    rejects.push(refuse(reason));
                    continue;
                }
            };
            // The lowest id keeps a name or address that others share without regard to case.
            if let Some(first) = usernames.get(&user.username.to_lowercase()) {
                rejects.push(refuse(format!("username collides (ignoring case) with user {first}")));
            } else if let Some(first) = emails.get(&user.email) {
                rejects.push(refuse(format!("email collides (ignoring case) with user {first}")));
            } else {
                usernames.insert(user.username.to_lowercase(), user.id.clone());
                emails.insert(user.email.clone(), user.id.clone());
                users.push(user);
            }
        }
        progress.inc(page.len() as u64);
    }
    progress.finish_and_clear();
    refuse_claimed(store, &mut users, &mut rejects).await?;
    let (edges, counters) = read_relationships(source, &users, now, &mut rejects, report).await?;
    for user in &mut users {
        let (followers, following) = counters.get(&user.id).copied().unwrap_or_default();
        (user.followers_count, user.following_count) = (followers, following);
    }
    report.users.rejected = rejects.iter().filter(|r| r.table == "users").count() as u64;
    Ok(Plan { users, edges, rejects })
}

/// Leaves out the users whose email or username another account of the table holds.
async fn refuse_claimed(store: &Store, users: &mut Vec<UserRecord>, rejects: &mut Vec<Reject>) -> Result<(), String> {
    let progress = bar(users.len() as u64, "checking the table's claims");
    // Owned values in each future: a spawned import's futures must not borrow across
    // the stream (a limit of the compiler's lifetimes in async closures).
    let chunks: Vec<(Vec<String>, Vec<String>)> = users
        .chunks(50)
        .map(|chunk| {
            (chunk.iter().map(|u| u.email.clone()).collect(), chunk.iter().map(|u| u.username.to_lowercase()).collect())
        })
        .collect();
    let found: Vec<ClaimOwners> = stream::iter(chunks)
        .map(|(emails, names)| {
            let (store, progress) = (store.clone(), progress.clone());
            async move {
                let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                let owners = store.imports().claim_owners(&emails, &names).await.map_err(failure);
                progress.inc(emails.len() as u64);
                owners
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    progress.finish_and_clear();
    let (mut emails, mut names) = (HashMap::new(), HashMap::new());
    for owners in found {
        emails.extend(owners.emails);
        names.extend(owners.usernames);
    }
    let taken = |user: &UserRecord| {
        let by_email = emails.get(&user.email).filter(|owner| **owner != user.id);
        let by_name = names.get(&user.username.to_lowercase()).filter(|owner| **owner != user.id);
        by_email.or(by_name).cloned()
    };
    users.retain(|user| match taken(user) {
        None => true,
        Some(owner) => {
            let reason = format!("its email or username belongs to another account of the table ({owner})");
            rejects.push(Reject { table: "users", id: user.id.clone(), reason });
            false
        }
    });
    Ok(())
}

type Counters = HashMap<String, (i64, i64)>;

/// The relationships as edges between imported users, and each account's counters
/// (followers, following).
async fn read_relationships(
    source: &Source,
    users: &[UserRecord],
    now: DateTime<Utc>,
    rejects: &mut Vec<Reject>,
    report: &mut Report,
) -> Result<(Vec<(Uuid, ImportedEdge)>, Counters), String> {
    let imported: HashSet<Uuid> = users.iter().filter_map(|u| Uuid::parse_str(&u.id).ok()).collect();
    let progress = bar(source.count("user_relationships").await? as u64, "reading relationships");
    let mut relations: Vec<(Uuid, Relation, Uuid, Uuid, DateTime<Utc>)> = Vec::new();
    let mut after = None;
    loop {
        let page = source.relationships(after).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for row in &page {
            report.relationships.source += 1;
            let refuse = |reason: String| Reject { table: "user_relationships", id: row.id.to_string(), reason };
            match rows::relations(row) {
                Err(reason) => rejects.push(refuse(reason)),
                Ok(_) if !imported.contains(&row.follower_id) || !imported.contains(&row.following_id) => {
                    rejects.push(refuse("a relationship with a user that is not imported".into()))
                }
                Ok(found) if found.is_empty() => report.relationships.declined += 1,
                Ok(found) => {
                    let at = rows::relationship_time(row, now);
                    relations.extend(found.into_iter().map(|(relation, a, b)| (row.id, relation, a, b, at)));
                }
            }
        }
        progress.inc(page.len() as u64);
    }
    progress.finish_and_clear();
    // A block ends every follow and request between the two, as a block does here.
    let blocked: HashSet<(Uuid, Uuid)> =
        relations.iter().filter(|r| r.1 == Relation::Block).flat_map(|&(_, _, a, b, _)| [(a, b), (b, a)]).collect();
    let mut seen = HashSet::new();
    let mut edges = Vec::new();
    let mut counters: Counters = HashMap::new();
    for (id, relation, a, b, at) in relations {
        let tally = match relation {
            Relation::Follow => &mut report.follows,
            Relation::Request => &mut report.requests,
            Relation::Block => &mut report.blocks,
        };
        tally.source += 1;
        if relation != Relation::Block && blocked.contains(&(a, b)) {
            tally.rejected += 1;
            let reason = "a follow or request between users one of whom blocks the other".into();
            rejects.push(Reject { table: "user_relationships", id: id.to_string(), reason });
            continue;
        }
        // A friendship and a follow may say the same: one edge.
        if !seen.insert((relation, a, b)) {
            continue;
        }
        if relation == Relation::Follow {
            counters.entry(a.to_string()).or_default().1 += 1;
            counters.entry(b.to_string()).or_default().0 += 1;
        }
        edges.push((id, ImportedEdge { relation, from: a.to_string(), to: b.to_string(), at }));
    }
    report.relationships.rejected = rejects.iter().filter(|r| r.table == "user_relationships").count() as u64;
    Ok((edges, counters))
}

/// Writes the accounts after the checkpoint's, a chunk at a time; those another account
/// took meanwhile come back as rejects.
async fn write_users(
    store: &Store,
    options: &Options,
    users: &[UserRecord],
    checkpoint: &Checkpoint,
    report: &mut Report,
) -> Result<Vec<Reject>, String> {
    let done_before = match checkpoint.phase.as_str() {
        "users" => checkpoint.after.clone(),
        "edges" => {
            report.users.already += users.len() as u64;
            return Ok(Vec::new());
        }
        _ => None,
    };
    let todo: Vec<&UserRecord> =
        users.iter().filter(|u| done_before.as_ref().is_none_or(|last| u.id > *last)).collect();
    report.users.already += (users.len() - todo.len()) as u64;
    let progress = bar(todo.len() as u64, "writing accounts");
    let mut rejected = Vec::new();
    for chunk in todo.chunks(options.checkpoint_every.max(1)) {
        let owned: Vec<UserRecord> = chunk.iter().map(|user| (*user).clone()).collect();
        let outcomes: Vec<Imported> = stream::iter(owned)
            .map(|user| {
                let store = store.clone();
                async move { store.imports().user(&user, &user.username.to_lowercase()).await.map_err(failure) }
            })
            .buffered(options.concurrency)
            .try_collect()
            .await?;
        for (user, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                Imported::Written => report.users.written += 1,
                Imported::AlreadyThere => report.users.already += 1,
                Imported::Taken { by } => {
                    report.users.rejected += 1;
                    let reason = format!("its email or username was taken meanwhile by account {by}");
                    rejected.push(Reject { table: "users", id: user.id.clone(), reason });
                }
            }
        }
        let last = chunk.last().map(|u| u.id.clone());
        let saved = Checkpoint { phase: "users".into(), after: last, at: Some(store.now()) };
        store.imports().save_checkpoint(&options.name, &saved).await.map_err(failure)?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(rejected)
}

/// Writes the edges after the checkpoint's, a chunk at a time.
async fn write_edges(
    store: &Store,
    options: &Options,
    edges: &[(Uuid, ImportedEdge)],
    checkpoint: &Checkpoint,
    report: &mut Report,
) -> Result<(), String> {
    let done_before = match checkpoint.phase.as_str() {
        "edges" => checkpoint.after.as_deref().and_then(|a| Uuid::parse_str(a).ok()),
        _ => None,
    };
    for (_, edge) in edges.iter().filter(|(id, _)| done_before.is_some_and(|last| *id <= last)) {
        tally(report, edge.relation).already += 1;
    }
    let todo: Vec<&(Uuid, ImportedEdge)> =
        edges.iter().filter(|(id, _)| done_before.is_none_or(|last| *id > last)).collect();
    let progress = bar(todo.len() as u64, "writing relationships");
    let mut start = 0;
    while start < todo.len() {
        // A chunk ends with the last edge of a relationship row: the checkpoint names rows.
        let mut end = (start + 10 * options.checkpoint_every.max(1)).min(todo.len());
        while end < todo.len() && todo[end].0 == todo[end - 1].0 {
            end += 1;
        }
        let chunk = &todo[start..end];
        let batches: Vec<Vec<ImportedEdge>> =
            chunk.chunks(EDGES_PER_BATCH).map(|b| b.iter().map(|(_, e)| e.clone()).collect()).collect();
        stream::iter(batches)
            .map(|batch| {
                let store = store.clone();
                async move { store.imports().edges(&batch).await.map_err(failure) }
            })
            .buffer_unordered(options.concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        for (_, edge) in chunk {
            tally(report, edge.relation).written += 1;
        }
        let last = chunk.last().map(|(id, _)| id.to_string());
        let saved = Checkpoint { phase: "edges".into(), after: last, at: Some(store.now()) };
        store.imports().save_checkpoint(&options.name, &saved).await.map_err(failure)?;
        progress.inc(chunk.len() as u64);
        start = end;
    }
    progress.finish_and_clear();
    Ok(())
}

fn tally(report: &mut Report, relation: Relation) -> &mut Counts {
    match relation {
        Relation::Follow => &mut report.follows,
        Relation::Request => &mut report.requests,
        Relation::Block => &mut report.blocks,
    }
}

/// The imported accounts as the table has them now, against the plan.
async fn check_table(store: &Store, plan: &Plan) -> Result<TableCheck, String> {
    let mut check = TableCheck {
        accounts_expected: plan.users.len() as u64,
        followers_expected: count(&plan.edges, Relation::Follow) as i64,
        ..TableCheck::default()
    };
    for chunk in plan.users.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|u| u.id.as_str()).collect();
        let found = store.users().users_by_ids(&ids).await.map_err(failure)?;
        check.accounts_found += found.len() as u64;
        check.followers_found += found.values().map(|u| u.followers_count).sum::<i64>();
        check.following_found += found.values().map(|u| u.following_count).sum::<i64>();
    }
    Ok(check)
}

/// The rejects file, one JSON object a line: `{ table, id, reason }`.
fn write_rejects(path: &PathBuf, rejects: &[Reject]) -> Result<(), String> {
    std::fs::write(path, "").map_err(|e| format!("writing {}: {e}", path.display()))?;
    append_rejects(path, rejects)
}

fn append_rejects(path: &PathBuf, rejects: &[Reject]) -> Result<(), String> {
    let mut file =
        std::fs::OpenOptions::new().append(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for reject in rejects {
        let line = serde_json::to_string(reject).map_err(|e| e.to_string())?;
        writeln!(file, "{line}").map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// A progress bar on the terminal (none when stderr is not one).
fn bar(total: u64, what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>26} {bar:40} {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// A store error with its causes (the table's own message, the operation that failed).
fn failure(err: shared::error::AppError) -> String {
    shared::error::with_causes(&err)
}
