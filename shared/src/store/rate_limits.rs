use aws_sdk_dynamodb::types::ReturnValue;
use chrono::Utc;

use super::{dynamo_error, n, s, Store};
use crate::error::{AppError, AppResult};
use crate::rate_limit::Limit;

/// A fixed window's count after a hit, and how long until the window closes.
#[derive(Debug, Clone, Copy)]
pub struct RateWindow {
    pub hits: i64,
    pub retry_after_secs: u64,
}

fn window(limit: Limit) -> (i64, i64) {
    let now = Utc::now().timestamp();
    let start = now - now.rem_euclid(limit.window_secs);
    (start, (start + limit.window_secs - now).max(1))
}

impl Store {
    /// One atomic `ADD` on the window's item (`RATE#<scope>#<key>` / window start); the
    /// item expires by TTL a minute after its window.
    pub async fn add_hit(&self, scope: &str, key: &str, limit: Limit) -> AppResult<RateWindow> {
        let (start, remaining) = window(limit);
        let out = self
            .client
            .update_item()
            .table_name(self.table())
            .key(super::keys::PK, s(format!("RATE#{scope}#{key}")))
            .key(super::keys::SK, s(start.to_string()))
            .update_expression("ADD hits :one SET expiresAt = if_not_exists(expiresAt, :expires)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(start + limit.window_secs + 60))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(dynamo_error)?;
        let hits = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| AppError::internal("rate-limit update returned no count"))?;
        Ok(RateWindow { hits, retry_after_secs: remaining as u64 })
    }

    /// The window's count without adding to it.
    pub async fn hits(&self, scope: &str, key: &str, limit: Limit) -> AppResult<RateWindow> {
        let (start, remaining) = window(limit);
        #[derive(serde::Deserialize)]
        struct Window {
            hits: i64,
        }
        let found: Option<Window> = self.get(format!("RATE#{scope}#{key}"), &start.to_string()).await?;
        Ok(RateWindow { hits: found.map_or(0, |w| w.hits), retry_after_secs: remaining as u64 })
    }
}
