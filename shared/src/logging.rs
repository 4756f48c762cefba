use tracing_subscriber::EnvFilter;

/// Structured JSON logs (CloudWatch reads them as they are), filtered by `RUST_LOG`
/// (default `info`). Nothing logged anywhere may carry a password, a token or a hash.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
