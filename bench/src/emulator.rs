//! A minimal Lambda Runtime API for cold-start timing: it records when a freshly
//! spawned function first polls for an invocation and when it answers it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use shared::error::BoxError;
use tokio::sync::mpsc;

pub struct ColdStart {
    pub init: Duration,
    pub first_response: Duration,
    /// The bootstrap's peak resident memory by its first answer, in KiB.
    pub peak_rss_kb: u64,
}

enum Seen {
    Poll(Instant),
    Answer(Instant, String),
    Failed(String),
}

#[derive(Clone)]
struct Emulator {
    event: Arc<Value>,
    served: Arc<Mutex<bool>>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(emulator): State<Emulator>) -> (HeaderMap, String) {
    let _ = emulator.seen.send(Seen::Poll(Instant::now()));
    let first = !std::mem::replace(&mut *emulator.served.lock().unwrap_or_else(|e| e.into_inner()), true);
    if !first {
        // One invocation per process: later polls wait until the process is killed.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static("bench-request"));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(u64::MAX / 2));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (headers, emulator.event.to_string())
}

async fn response(State(emulator): State<Emulator>, body: String) -> StatusCode {
    let _ = emulator.seen.send(Seen::Answer(Instant::now(), body));
    StatusCode::ACCEPTED
}

async fn error(State(emulator): State<Emulator>, body: String) -> StatusCode {
    let _ = emulator.seen.send(Seen::Failed(body));
    StatusCode::ACCEPTED
}

/// Spawns `binary` against a fresh emulator serving `event`, and times it. An answer
/// with a status outside `expected` fails the run: it would time another path.
pub async fn cold_start(
    binary: &Path,
    name: &str,
    vars: &[(String, String)],
    event: &Value,
    expected: std::ops::Range<u64>,
) -> Result<ColdStart, BoxError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let emulator = Emulator { event: Arc::new(event.clone()), served: Arc::new(Mutex::new(false)), seen: tx };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let result = async {
        let mut init = None;
        loop {
            match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
                Ok(Some(Seen::Poll(at))) => {
                    init.get_or_insert(at - started);
                }
                Ok(Some(Seen::Answer(at, body))) => {
                    let init = init.ok_or("answered before polling")?;
                    // A refused request would time a shorter path than the one named.
                    let status = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["statusCode"].as_u64());
                    if status.is_some_and(|code| !expected.contains(&code)) {
                        return Err(format!("{name} answered {body}").into());
                    }
                    let peak_rss_kb = child.id().and_then(crate::peak_rss_kb).unwrap_or_default();
                    return Ok(ColdStart { init, first_response: at - started, peak_rss_kb });
                }
                Ok(Some(Seen::Failed(body))) => return Err(format!("{name} failed: {body}").into()),
                _ => return Err(format!("{name} did not answer in time").into()),
            }
        }
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}
