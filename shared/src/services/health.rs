//! The detailed health check: what an operator's probe reads.

use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;
use crate::store::Store;
use crate::tokens::Tokens;

/// The bound on the health check's DynamoDB round trip.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`: liveness only.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    pub status: Health,
}

/// `GET /health/detailed`: 200 when `status` is `ok`, else 503.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    pub status: Health,
    pub checks: HealthChecks,
    pub version: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Unavailable,
}

impl From<bool> for Health {
    fn from(ok: bool) -> Self {
        if ok {
            Health::Ok
        } else {
            Health::Unavailable
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthChecks {
    pub dynamodb: DynamoDbCheck,
    pub signing_keys: SigningKeysCheck,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DynamoDbCheck {
    pub status: Health,
    pub latency_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeysCheck {
    pub status: Health,
    pub keys: usize,
}

pub struct HealthCheck<'a> {
    store: &'a Store,
    tokens: &'a Tokens,
}

impl<'a> HealthCheck<'a> {
    pub fn new(state: &'a AppState) -> Self {
        HealthCheck { store: &state.store, tokens: &state.tokens }
    }

    /// DynamoDB reachability and latency, the key set, the version; `false` when a
    /// dependency is down. No configuration values or secrets in it.
    #[tracing::instrument(skip_all)]
    pub async fn report(&self) -> HealthReport {
        let started = Instant::now();
        let dynamodb_ok =
            matches!(tokio::time::timeout(HEALTH_TIMEOUT, self.store.accounts().ping()).await, Ok(Ok(())));
        let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        let keys = self.tokens.public_jwks().keys.len();
        HealthReport {
            status: Health::from(dynamodb_ok),
            checks: HealthChecks {
                dynamodb: DynamoDbCheck { status: Health::from(dynamodb_ok), latency_ms },
                signing_keys: SigningKeysCheck { status: Health::from(keys > 0), keys },
            },
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}
