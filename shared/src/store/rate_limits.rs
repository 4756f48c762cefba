use aws_sdk_dynamodb::types::ReturnValue;

use super::{conditional_write, dynamo_error, keys, n, Item, Store};
use crate::error::{AppError, AppResult};
use crate::rate_limit::{Counter, Limit, RateWindow};

/// Rate-limit windows.
#[derive(Clone, Copy)]
pub struct Limits<'a> {
    pub(super) store: &'a Store,
}

/// The window of `limit` that holds `now` (epoch seconds): its start, and the seconds left.
fn window(limit: Limit, now: i64) -> (i64, i64) {
    let start = now - now.rem_euclid(limit.window_secs);
    (start, (start + limit.window_secs - now).max(1))
}

/// The counter's current window: its item key and how long until it closes.
pub(super) fn current_window(counter: &Counter, now: i64) -> (Item, u64) {
    let (start, remaining) = window(counter.limit, now);
    (keys::rate::key(counter.scope, counter.key, start), remaining as u64)
}

/// A hit counted by `take_hit`: the window's item it went to.
#[must_use = "a taken hit is kept, or given back with give_back_hit"]
pub struct TakenHit {
    key: Item,
}

/// A window's item as stored.
#[derive(serde::Deserialize)]
pub(super) struct Window {
    hits: i64,
}

/// The count a window's item holds (none yet: no hits).
pub(super) fn window_of(found: Option<Window>, retry_after_secs: u64) -> RateWindow {
    RateWindow { hits: found.map_or(0, |w| w.hits), retry_after_secs }
}

impl Limits<'_> {
    /// One atomic `ADD` on the window's item (`RATE#<scope>#<key>` / window start); the
    /// item expires by TTL a minute after its window.
    pub async fn add_hit(self, scope: &str, key: &str, limit: Limit) -> AppResult<RateWindow> {
        let (start, remaining) = window(limit, self.store.now().timestamp());
        let out = self
            .store
            .update_item()
            .set_key(Some(keys::rate::key(scope, key, start)))
            .update_expression("ADD hits :one SET #expires = if_not_exists(#expires, :expires)")
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(start + limit.window_secs + 60))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(dynamo_error("UpdateItem a rate window (add)"))?;
        let hits = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| AppError::internal("rate-limit update returned no count"))?;
        Ok(RateWindow { hits, retry_after_secs: remaining as u64 })
    }

    /// One hit, only while the window holds fewer than `limit.max` (a conditional
    /// `ADD`): however many requests race, no more than `max` are counted and let
    /// through. `Err(retry_after_secs)` when the window is full.
    pub async fn take_hit(self, scope: &str, key: &str, limit: Limit) -> AppResult<Result<TakenHit, u64>> {
        let (start, remaining) = window(limit, self.store.now().timestamp());
        let item_key = keys::rate::key(scope, key, start);
        let result = self
            .store
            .update_item()
            .set_key(Some(item_key.clone()))
            .update_expression("ADD hits :one SET #expires = if_not_exists(#expires, :expires)")
            .condition_expression("attribute_not_exists(hits) OR hits < :max")
            .expression_attribute_names("#expires", keys::expiry::AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(limit.max))
            .expression_attribute_values(":expires", n(start + limit.window_secs + 60))
            .send()
            .await;
        match conditional_write(result, "UpdateItem a rate window (take)".into())? {
            true => Ok(Ok(TakenHit { key: item_key })),
            false => Ok(Err(remaining as u64)),
        }
    }

    /// Gives a taken hit back to the window it was taken from (what it counted did not
    /// happen: a right code is no failure).
    pub async fn give_back_hit(self, hit: TakenHit) -> AppResult<()> {
        let result = self
            .store
            .update_item()
            .set_key(Some(hit.key))
            .update_expression("ADD hits :minus_one")
            .condition_expression("hits > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        // `false`: the window's item expired meanwhile, nothing to give back.
        conditional_write(result, "UpdateItem a rate window (give back)".into()).map(drop)
    }

    /// The window's count without adding to it.
    pub async fn hits(self, scope: &str, key: &str, limit: Limit) -> AppResult<RateWindow> {
        let (start, remaining) = window(limit, self.store.now().timestamp());
        let found = self.store.get(keys::rate::key(scope, key, start)).await?;
        Ok(window_of(found, remaining as u64))
    }
}
