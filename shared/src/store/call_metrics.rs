//! Each DynamoDB call's latency and throttling, for the service's metrics (`DynamoDbLatency`,
//! `DynamoDbThrottles`): an SDK interceptor, so no store method has to remember it.

use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// The interceptor every store client carries (`Store::new`; the tests' clients too).
#[derive(Debug)]
pub struct CallMetrics;

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Attempts of the call that DynamoDB throttled.
#[derive(Debug, Clone)]
struct Throttled(u64);

impl Storable for Throttled {
    type Storer = StoreReplace<Self>;
}

/// The error types that mean "slow down" (each throttled attempt counts, retried or not).
const THROTTLING: [&str; 3] = ["ProvisionedThroughputExceeded", "ThrottlingException", "RequestLimitExceeded"];

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "CallMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let error_type = context.response().headers().get("x-amzn-errortype").unwrap_or_default();
        if THROTTLING.iter().any(|t| error_type.contains(t)) {
            let so_far = cfg.load::<Throttled>().map_or(0, |t| t.0);
            cfg.interceptor_state().store_put(Throttled(so_far + 1));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let latency_ms = cfg.load::<Started>().map_or(0.0, |s| s.0.elapsed().as_secs_f64() * 1000.0);
        crate::metrics::dynamodb_call(latency_ms, cfg.load::<Throttled>().map_or(0, |t| t.0));
        Ok(())
    }
}
