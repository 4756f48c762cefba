//! The service's metrics as CloudWatch reads them: Embedded Metric Format lines, valid
//! by the specification, naming only known metrics, and carrying no personal data.

use http::StatusCode;
use serde_json::{json, Value};
use support::{tokens_of, TestApp, PASSWORD};

/// Checks one line against the EMF specification and returns it parsed: `_aws` with an
/// integer `Timestamp` and `CloudWatchMetrics` directives, each with a namespace,
/// dimension sets whose keys are at the root as strings, and metrics whose values are at
/// the root as numbers (or arrays of numbers), each with a known name and unit.
fn valid_emf(line: &str) -> Value {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_i64(), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap();
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        assert_eq!(directive["Namespace"], "UserService", "{line}");
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30, "{line}");
            for key in set {
                assert!(doc[key.as_str().unwrap()].is_string(), "dimension {key} is a string at the root: {line}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let (_, unit) = shared::metrics::METRICS
                .iter()
                .find(|(known, _)| *known == name)
                .unwrap_or_else(|| panic!("{name} is not in shared::metrics::METRICS"));
            assert_eq!(metric["Unit"], format!("{unit:?}"), "{line}");
            let value = &doc[name];
            let numbers = value.is_number() || value.as_array().is_some_and(|v| v.iter().all(Value::is_number));
            assert!(numbers, "{name} has a number or numbers at the root: {line}");
        }
    }
    doc
}

/// The lines a test produced, each checked, that carry `metric`.
fn lines_with(lines: &[String], metric: &str) -> Vec<Value> {
    lines.iter().map(|l| valid_emf(l)).filter(|doc| doc.get(metric).is_some()).collect()
}

fn holds_no_personal_data(lines: &[String], secrets: &[&str]) {
    for line in lines {
        for secret in secrets {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
    }
}

#[tokio::test]
async fn a_sign_in_and_a_failed_one_are_counted_by_outcome_and_route() {
    let app = TestApp::new().await;
    let registered = app.register("ada").await;
    let user_id = registered.body["user"]["id"].as_str().unwrap().to_owned();
    shared::metrics::capture();
    let signed_in = app.login("ada").await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let (access, refresh) = tokens_of(&signed_in);
    let wrong =
        app.post("/api/auth/login", json!({ "identifier": "ada", "password": "not-the-password-at-all" })).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let lines = shared::metrics::captured();

    let outcomes: Vec<Value> = lines_with(&lines, "SignIns").iter().map(|d| d["Outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("success"), json!("invalid_credentials")]);
    let requests = lines_with(&lines, "Requests");
    let seen: Vec<(&str, &str)> =
        requests.iter().map(|d| (d["Route"].as_str().unwrap(), d["StatusClass"].as_str().unwrap())).collect();
    assert_eq!(seen, [("POST /api/auth/login", "2xx"), ("POST /api/auth/login", "4xx")]);
    assert!(requests.iter().all(|d| d["Latency"].as_f64().is_some_and(|ms| ms > 0.0)));
    let dynamodb = lines_with(&lines, "DynamoDbCalls");
    assert_eq!(dynamodb.len(), 2, "one line of DynamoDB calls per request");
    let calls = dynamodb[0]["DynamoDbCalls"].as_f64().unwrap() as usize;
    let latencies = &dynamodb[0]["DynamoDbLatency"];
    assert!(calls >= 2 && latencies.as_array().map_or(1, Vec::len) == calls, "{:?}", dynamodb[0]);
    assert_eq!(dynamodb[0]["DynamoDbThrottles"], 0.0);
    holds_no_personal_data(&lines, &["ada", &user_id, &access, &refresh, PASSWORD, "127.0.0.1"]);
}

#[tokio::test]
async fn a_refresh_token_reuse_is_counted() {
    let app = TestApp::with_env(&[("REFRESH_GRACE_SECONDS", "0")]).await;
    let registered = app.register("victim").await;
    let (access, stolen) = tokens_of(&registered);
    let (_, successor) = tokens_of(&app.refresh(&stolen).await);
    app.advance(chrono::Duration::seconds(1));
    shared::metrics::capture();
    assert_eq!(app.refresh(&stolen).await.error_code(), "INVALID_TOKEN");
    let lines = shared::metrics::captured();
    let reuse = lines_with(&lines, "RefreshTokenReuse");
    assert_eq!(reuse.len(), 1, "{lines:?}");
    assert_eq!(reuse[0]["RefreshTokenReuse"], 1.0);
    assert_eq!(reuse[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function"]]));
    let user_id = registered.body["user"]["id"].as_str().unwrap();
    holds_no_personal_data(&lines, &["victim", user_id, &access, &stolen, &successor]);
}

#[tokio::test]
async fn unknown_paths_are_one_route_whatever_they_hold() {
    let app = TestApp::new().await;
    shared::metrics::capture();
    app.get("/api/users/someone@example.org/anything", None).await;
    let user = app.user("ann").await;
    app.get_as(&user, &format!("/api/social/{}/followers", user.id)).await;
    let lines = shared::metrics::captured();
    let routes: Vec<String> =
        lines_with(&lines, "Requests").iter().map(|d| d["Route"].as_str().unwrap().to_owned()).collect();
    assert_eq!(routes[0], "unmatched");
    assert!(routes.contains(&"GET /api/social/{user_id}/followers".to_owned()), "{routes:?}");
    holds_no_personal_data(&lines, &["someone@example.org", &user.id]);
}
