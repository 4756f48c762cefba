use tracing_subscriber::EnvFilter;

/// The span of one invocation of a function that is not behind the API (cleanup,
/// notify): its log lines carry the request id and the X-Ray trace id, as the HTTP
/// functions' lines do through their request span.
pub fn invocation_span(request_id: &str, trace_id: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!("invocation", request_id, trace_id = tracing::field::Empty);
    if let Some(trace_id) = trace_id {
        span.record("trace_id", trace_id);
    }
    span
}

/// Structured JSON logs (CloudWatch reads them as they are), filtered by `RUST_LOG`
/// (default `info`). Nothing logged anywhere may carry a password, a token or a hash.
/// Each line has its innermost span (`span`) and all of them (`spans`: the request's,
/// with its id, then the service method's, with the ids it works on).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .try_init();
}
