//! Domain operations: what each endpoint does, apart from HTTP parsing.

pub mod auth;
pub mod sessions;
pub mod social;
pub mod users;
pub mod verification;

use crate::error::{AppError, AppResult};
use crate::rate_limit::Limit;
use crate::state::AppState;

impl AppState {
    /// Counts a hit against `limit`; 429 with `Retry-After` once it is over.
    pub async fn enforce_limit(&self, scope: &str, key: &str, limit: Limit) -> AppResult<()> {
        let window = self.store.add_hit(scope, key, limit).await?;
        if window.hits > limit.max {
            tracing::warn!(scope, "rate limit reached");
            return Err(AppError::RateLimited { retry_after_secs: window.retry_after_secs });
        }
        Ok(())
    }
}
