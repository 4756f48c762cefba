//! The service's own metrics, as CloudWatch Embedded Metric Format lines: one JSON line
//! on stdout per event, which CloudWatch Logs turns into metrics. Nothing is called on
//! the request path. Dimensions are the function, the route, an outcome or a status
//! class: never an id, an email, a name or a token (a test holds that).
//!
//! Lines are written only in Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set) or while a test
//! captures them (`capture`); the local server prints none.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Map, Value};

/// What a metric counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Every metric the service emits, with its unit: the dashboard and the alarms in
/// template.yaml name only these (a test holds that).
pub const METRICS: &[(&str, Unit)] = &[
    ("Requests", Unit::Count),
    ("Latency", Unit::Milliseconds),
    ("DynamoDbCalls", Unit::Count),
    ("DynamoDbLatency", Unit::Milliseconds),
    ("DynamoDbThrottles", Unit::Count),
    ("SignUps", Unit::Count),
    ("SignIns", Unit::Count),
    ("RefreshTokenReuse", Unit::Count),
    ("SessionsRevoked", Unit::Count),
    ("MessagesDelivered", Unit::Count),
    ("MessagesFailed", Unit::Count),
    ("MessagesRetried", Unit::Count),
    ("ExpiredItemsRemoved", Unit::Count),
    ("AccountsDeleted", Unit::Count),
    ("EdgesRemoved", Unit::Count),
];

/// The outcomes of a sign-in attempt (`SignIns`, dimension `Outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    Success,
    /// A wrong password or an unknown account (told apart nowhere, not even here).
    InvalidCredentials,
    RateLimited,
    /// The right password of an account with a second factor: a challenge.
    MfaRequired,
    MfaPassed,
    MfaFailed,
    /// The right password of a deactivated (past its window) or suspended account.
    Refused,
}

impl SignInOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::InvalidCredentials => "invalid_credentials",
            SignInOutcome::RateLimited => "rate_limited",
            SignInOutcome::MfaRequired => "mfa_required",
            SignInOutcome::MfaPassed => "mfa_passed",
            SignInOutcome::MfaFailed => "mfa_failed",
            SignInOutcome::Refused => "refused",
        }
    }
}

/// One sign-in attempt.
pub fn sign_in(outcome: SignInOutcome) {
    emit(&[("Outcome", outcome.as_str())], &[("SignIns", vec![1.0])]);
}

/// `n` of `metric` (a count), with the function as its only dimension.
pub fn count(metric: &'static str, n: u64) {
    if n > 0 {
        emit(&[], &[(metric, vec![n as f64])]);
    }
}

/// One served request: by route and status class, its latency, and the DynamoDB calls it
/// made (each call's latency a value of `DynamoDbLatency`).
pub fn request(route: &str, status: u16, latency_ms: f64, dynamodb: &DynamoDbCalls) {
    let class = match status {
        500.. => "5xx",
        400..=499 => "4xx",
        _ => "2xx",
    };
    emit(&[("Route", route), ("StatusClass", class)], &[("Requests", vec![1.0]), ("Latency", vec![latency_ms])]);
    dynamodb.emit();
}

/// The DynamoDB calls of one request (or of one run of a function without requests).
#[derive(Debug, Default, Clone)]
pub struct DynamoDbCalls {
    pub latencies_ms: Vec<f64>,
    pub throttles: u64,
}

impl DynamoDbCalls {
    fn emit(&self) {
        if self.latencies_ms.is_empty() && self.throttles == 0 {
            return;
        }
        emit(
            &[],
            &[
                ("DynamoDbCalls", vec![self.latencies_ms.len() as f64]),
                ("DynamoDbLatency", self.latencies_ms.clone()),
                ("DynamoDbThrottles", vec![self.throttles as f64]),
            ],
        );
    }
}

tokio::task_local! {
    /// The DynamoDB calls of the request being served (set by the HTTP middleware).
    static CALLS: std::cell::RefCell<DynamoDbCalls>;
}

/// Runs `work` collecting its DynamoDB calls, and returns them with its output.
pub async fn with_dynamodb_calls<F: std::future::Future>(work: F) -> (F::Output, DynamoDbCalls) {
    CALLS
        .scope(Default::default(), async move {
            let output = work.await;
            (output, CALLS.with(|calls| calls.borrow().clone()))
        })
        .await
}

/// One DynamoDB call (from the store's interceptor): added to the request's calls, or
/// emitted on its own outside a request (cleanup, notify).
pub fn dynamodb_call(latency_ms: f64, throttles: u64) {
    let added = CALLS.try_with(|calls| {
        let mut calls = calls.borrow_mut();
        calls.latencies_ms.push(latency_ms);
        calls.throttles += throttles;
    });
    if added.is_err() {
        DynamoDbCalls { latencies_ms: vec![latency_ms], throttles }.emit();
    }
}

/// Where lines go: stdout in Lambda, a buffer while a test captures, nowhere else.
enum Sink {
    Stdout,
    Captured(Vec<String>),
    Off,
}

fn sink() -> &'static Mutex<Sink> {
    static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
        Mutex::new(if in_lambda { Sink::Stdout } else { Sink::Off })
    })
}

/// From now on, lines are kept for `captured` instead of written (tests).
pub fn capture() {
    *sink().lock().unwrap_or_else(|e| e.into_inner()) = Sink::Captured(Vec::new());
}

/// The lines kept since `capture`, taken.
pub fn captured() -> Vec<String> {
    match &mut *sink().lock().unwrap_or_else(|e| e.into_inner()) {
        Sink::Captured(lines) => std::mem::take(lines),
        _ => Vec::new(),
    }
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "UserService".into()))
}

fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into()))
}

/// One EMF line: the `Function` dimension and `dimensions`, and each metric's values.
fn emit(dimensions: &[(&'static str, &str)], metrics: &[(&'static str, Vec<f64>)]) {
    let mut guard = sink().lock().unwrap_or_else(|e| e.into_inner());
    if matches!(*guard, Sink::Off) {
        return;
    }
    let line = line(dimensions, metrics, crate::clock::system_now().timestamp_millis());
    match &mut *guard {
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
        Sink::Captured(lines) => lines.push(line),
        Sink::Off => {}
    }
}

fn line(dimensions: &[(&'static str, &str)], metrics: &[(&'static str, Vec<f64>)], at_ms: i64) -> String {
    let mut names = vec!["Function"];
    names.extend(dimensions.iter().map(|(name, _)| *name));
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| {
            let unit = METRICS.iter().find(|(known, _)| known == name).map_or(Unit::Count, |(_, unit)| *unit);
            json!({ "Name": name, "Unit": unit.as_str() })
        })
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at_ms,
            "CloudWatchMetrics": [{ "Namespace": namespace(), "Dimensions": [names], "Metrics": definitions }],
        }),
    );
    root.insert("Function".into(), json!(function_name()));
    let values: BTreeMap<&str, &str> = dimensions.iter().copied().collect();
    for (name, value) in values {
        root.insert(name.into(), json!(value));
    }
    for (name, values) in metrics {
        let value = match values.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        root.insert((*name).into(), value);
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document() {
        let one = line(&[("Outcome", "success")], &[("SignIns", vec![1.0])], 1_700_000_000_000);
        let doc: Value = serde_json::from_str(&one).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(directive["Dimensions"], json!([["Function", "Outcome"]]));
        assert_eq!(directive["Metrics"], json!([{ "Name": "SignIns", "Unit": "Count" }]));
        assert_eq!((doc["Outcome"].as_str(), doc["SignIns"].as_f64()), (Some("success"), Some(1.0)));
        let many = line(&[], &[("DynamoDbLatency", vec![1.5, 2.5])], 0);
        let doc: Value = serde_json::from_str(&many).unwrap();
        assert_eq!(doc["DynamoDbLatency"], json!([1.5, 2.5]));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
    }
}
