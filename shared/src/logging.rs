use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

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
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .finish()
        .with(filter(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// `RUST_LOG` as a level (`debug`) or per-target levels (`shared=debug,warn`); anything
/// else means `info`. `Targets` rather than `EnvFilter`: the latter's span and field
/// matchers bring a regex engine into every binary (0.24 MiB) for filters nobody sets.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log.and_then(|value| value.parse().ok()).unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_levels_per_target_and_defaults_to_info() {
        assert!(filter(None).would_enable("shared", &Level::INFO));
        assert!(!filter(None).would_enable("shared", &Level::DEBUG));
        assert!(!filter(Some("[span{bad")).would_enable("shared", &Level::DEBUG));
        assert!(filter(Some("debug")).would_enable("anything", &Level::DEBUG));
        let per_target = filter(Some("shared=debug,warn"));
        assert!(per_target.would_enable("shared::store", &Level::DEBUG));
        assert!(!per_target.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(per_target.would_enable("aws_smithy_runtime", &Level::WARN));
    }
}
