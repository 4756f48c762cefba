use crate::error::{AppError, AppResult};
use crate::rate_limit::Limit;
use crate::store::Store;

/// Counts hits against the rate limits kept in the table.
#[derive(Clone, Copy)]
pub struct Limiter<'a> {
    store: &'a Store,
}

impl<'a> Limiter<'a> {
    pub fn new(store: &'a Store) -> Self {
        Limiter { store }
    }

    /// Counts a hit against `limit`; 429 with `Retry-After` once it is over.
    #[tracing::instrument(skip_all)]
    pub async fn enforce(&self, scope: &str, key: &str, limit: Limit) -> AppResult<()> {
        let window = self.store.limits().add_hit(scope, key, limit).await?;
        if window.hits > limit.max {
            tracing::warn!(scope, "rate limit reached");
            return Err(AppError::RateLimited { retry_after_secs: window.retry_after_secs });
        }
        Ok(())
    }
}
