//! Costs at 100× the data: a followers page at 100,000 followers against 1,000, a search
//! page among 100,000 users sharing a first letter against 1,000, and cleanup runs whose
//! time should follow the expired items, not the table. The data is written straight
//! into the table with BatchWriteItem, in the items' real shapes; every timed call goes
//! through the real handlers. Peak RSS (the bench process's, reset before each figure
//! through /proc/self/clear_refs) stands beside each.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shared::domain::user::UserRecord;
use shared::error::BoxError;
use shared::store::graph::Edge;
use shared::store::{keys, schema, Item, Store};
use shared::AppState;

use super::{batch_put, call, mb, median, peak_rss_kb, ratio, Row};

/// Page requests per figure, alternating between the large and the small case.
const ROUNDS: usize = 200;
/// Followers written per round of seeding.
const SEED_SLICE: usize = 5_000;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn with_key(mut item: Item, key: Item) -> Item {
    item.extend(key);
    item
}

/// Users `<letter>fan_<i>` for `i` in `range` (so all share the first letter), each with
/// its search entry and a follower edge to `owner`, in the list `owner`'s followers page
/// reads.
fn fans(
    owner: &str,
    letter: char,
    range: std::ops::Range<usize>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Item>, BoxError> {
    let mut items = Vec::with_capacity(range.len() * 3);
    for i in range {
        let username = format!("{letter}fan_{i}");
        let fan = UserRecord::new(&username, &format!("{username}@example.org"), "x".into(), now);
        let mut edge: Item = [("otherId".to_owned(), s(&fan.id)), ("createdAt".to_owned(), s(now.to_rfc3339()))].into();
        edge.extend(keys::edge::key(owner, Edge::Follower.prefix(), &fan.id));
        edge.insert(keys::gsi1::PK.into(), s(keys::edge::list_pk(Edge::Follower.list().unwrap_or_default(), owner)));
        let at = now - chrono::Duration::seconds(i as i64);
        edge.insert(keys::gsi1::SK.into(), s(keys::edge::list_sk(at, &fan.id)));
        items.push(edge);
        for token in fan.search_tokens() {
            let mut entry = keys::search::key(&fan.id, &token);
            let partition = shared::domain::search::partition(&token);
            entry.insert(keys::gsi1::PK.into(), s(keys::search::partition_pk(&partition)));
            entry.insert(keys::gsi1::SK.into(), s(keys::search::entry_sk(&token, &fan.id)));
            items.push(entry);
        }
        items.push(with_key(serde_dynamo::to_item(&fan)?, keys::user::key(&fan.id)));
    }
    Ok(items)
}

/// `count` sessions that expired an hour ago, in the expiry index as the service puts them.
fn expired_sessions(count: usize, now: chrono::DateTime<chrono::Utc>) -> Vec<Item> {
    let at = now.timestamp() - 3600;
    (0..count)
        .map(|i| {
            let mut item = keys::session::key(&format!("expired-owner-{i}"), &uuid::Uuid::new_v4().to_string());
            item.insert(keys::expiry::AT.into(), AttributeValue::N(at.to_string()));
            item.insert(keys::expiry::BUCKET.into(), s(keys::expiry::bucket(at)));
            item
        })
        .collect()
}

fn reset_peak_rss() {
    // "5" resets the process's peak resident set size to the current one (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss() -> String {
    peak_rss_kb(std::process::id()).map(mb).unwrap_or_default()
}

/// DynamoDB Local keeps every stream record in its database, and its writes slow down
/// as they pile up: a cost DynamoDB's streams do not have.
pub async fn without_stream(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), BoxError> {
    let off = aws_sdk_dynamodb::types::StreamSpecification::builder().stream_enabled(false).build()?;
    client.update_table().table_name(table).stream_specification(off).send().await?;
    Ok(())
}

/// One cleanup run (its expired-items part) over `count` sessions that expired; its time
/// and the peak RSS meanwhile.
async fn cleanup(
    store: &Store,
    count: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Duration, String), BoxError> {
    batch_put(store.client(), store.table(), expired_sessions(count, now)).await?;
    reset_peak_rss();
    let t = Instant::now();
    let done = store.cleanup().remove_expired(store.now(), 7).await?;
    let took = t.elapsed();
    println!("scale: cleanup of {count} expired items in {}: {took:?}", store.table());
    if done.removed != count as u64 {
        return Err(format!("cleanup removed {} of {count}", done.removed).into());
    }
    Ok((took, peak_rss()))
}

/// The p50 of `ROUNDS` GETs of each path, interleaved; each answer must hold 20 items.
async fn pages(app: &axum::Router, token: &str, paths: [&str; 2]) -> Result<[Duration; 2], BoxError> {
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..ROUNDS {
        for (path, times) in paths.iter().zip(&mut times) {
            let t = Instant::now();
            let answer: Value = call(app, "GET", path, None, Some(token)).await?;
            times.push(t.elapsed());
            let items = answer["items"].as_array().map(Vec::len);
            if items != Some(20) {
                return Err(format!("GET {path}: {items:?} items: {answer}").into());
            }
        }
    }
    let [large, small] = times;
    Ok([median(large), median(small)])
}

#[expect(clippy::too_many_lines, reason = "a script of measurements, one after another")]
pub async fn scale(
    app: &axum::Router,
    state: &AppState,
    client: &aws_sdk_dynamodb::Client,
    token: &str,
    rows: &mut Vec<Row>,
) -> Result<(), BoxError> {
    let large: usize = std::env::var("BENCH_SCALE").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let small = large / 100;
    let now = state.now();
    let table = state.store.table();
    let famous = UserRecord::new("scale_famous", "famous-scale@example.org", "x".into(), now);
    let known = UserRecord::new("scale_known", "known-scale@example.org", "x".into(), now);
    // DynamoDB Local keeps every stream record in its database, and its writes slow down
    // with their number (deletes took 0.2 s an item after this seeding): an emulator's
    // cost that DynamoDB's streams do not have. Nothing here reads the stream.
    without_stream(client, table).await?;
    let t = Instant::now();
    let owners = vec![
        with_key(serde_dynamo::to_item(&famous)?, keys::user::key(&famous.id)),
        with_key(serde_dynamo::to_item(&known)?, keys::user::key(&known.id)),
    ];
    let mut seeded = owners.len();
    batch_put(client, table, owners).await?;
    // In slices, so the bench's own memory stays small (its peak RSS is a figure).
    for (owner, letter, count) in [(&famous.id, 'm', large), (&known.id, 'k', small)] {
        for start in (0..count).step_by(SEED_SLICE) {
            let items = fans(owner, letter, start..count.min(start + SEED_SLICE), now)?;
            seeded += items.len();
            batch_put(client, table, items).await?;
        }
    }
    println!("scale: {seeded} items written in {:.0} s", t.elapsed().as_secs_f64());

    reset_peak_rss();
    let [at_large, at_small] = pages(
        app,
        token,
        [
            &format!("/api/social/{}/followers?limit=20", famous.id),
            &format!("/api/social/{}/followers?limit=20", known.id),
        ],
    )
    .await?;
    println!("scale: followers pages measured");
    rows.push(Row {
        figure: format!("followers page of 20 at {large} / {small} followers, p50 (peak RSS {})", peak_rss()),
        value: super::ms(at_large),
        floor: super::ms(at_small),
        ratio: ratio(at_large, at_small),
        target: "≤ 1.2",
    });

    reset_peak_rss();
    let [among_large, among_small] =
        pages(app, token, ["/api/users/search?q=m&limit=20", "/api/users/search?q=k&limit=20"]).await?;
    println!("scale: search pages measured");
    rows.push(Row {
        figure: format!(
            "search page of 20 among {large} / {small} users of one first letter, p50 (peak RSS {})",
            peak_rss()
        ),
        value: super::ms(among_large),
        floor: super::ms(among_small),
        ratio: ratio(among_large, among_small),
        target: "≤ 1.3",
    });

    // Cleanup: the same expired items in a table of their own and in this large one, and
    // ten times as many in the large one.
    let alone_table = format!("{table}-cleanup");
    schema::create_table(client, &alone_table).await?;
    without_stream(client, &alone_table).await?;
    // The bench's client, without the service's timeouts: seeding and cleanup of a large
    // table are the operator's work, not a request's.
    let alone = Store::from_client(client.clone(), alone_table.clone()).with_clock(state.store.clock().clone());
    let large_table = Store::from_client(client.clone(), table.to_owned()).with_clock(state.store.clock().clone());
    let few = small;
    // Uncounted: DynamoDB Local's first index queries and deletes on a table are slow.
    cleanup(&alone, few, now).await?;
    let (in_small, rss_small) = cleanup(&alone, few, now).await?;
    let (in_large, rss_large) = cleanup(&large_table, few, now).await?;
    let (more_in_large, rss_more) = cleanup(&large_table, few * 10, now).await?;
    rows.push(Row {
        figure: format!("cleanup of {few} expired items: in a table of {seeded} items / of those alone (peak RSS {rss_large} / {rss_small})"),
        value: super::ms(in_large),
        floor: super::ms(in_small),
        ratio: ratio(in_large, in_small),
        target: "≈ 1",
    });
    rows.push(Row {
        figure: format!("cleanup of {} expired items / {few} in the same large table (peak RSS {rss_more})", few * 10),
        value: super::ms(more_in_large),
        floor: super::ms(in_large),
        ratio: ratio(more_in_large, in_large),
        target: "≈ 10",
    });
    let _ = client.delete_table().table_name(&alone_table).send().await;
    Ok(())
}
