//! template.yaml against the code: the table follows `shared::store::schema`, CORS
//! follows `shared::http::cors`, and every route of API.md goes to its function.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;
use shared::http::cors;
use shared::store::schema;

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    &template["Resources"][name]
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_sequence().unwrap().iter().map(text).collect()
}

/// `[(attribute, HASH|RANGE)]` of a KeySchema.
fn key_schema(value: &Value) -> Vec<(String, String)> {
    value.as_sequence().unwrap().iter().map(|k| (text(&k["AttributeName"]), text(&k["KeyType"]))).collect()
}

#[test]
fn the_table_matches_the_code_definition() {
    let template = template();
    let table = resource(&template, "Table");
    assert_eq!(text(&table["Type"]), "AWS::DynamoDB::Table");
    let props = &table["Properties"];
    assert_eq!(text(&props["BillingMode"]), "PAY_PER_REQUEST");

    let attributes: BTreeSet<(String, String)> = props["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let expected: BTreeSet<(String, String)> =
        schema::KEY_ATTRIBUTES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(attributes, expected);

    assert_eq!(key_schema(&props["KeySchema"]), [("PK".into(), "HASH".into()), ("SK".into(), "RANGE".into())]);

    let indexes = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), schema::INDEXES.len());
    for expected in schema::INDEXES {
        let index = indexes
            .iter()
            .find(|i| text(&i["IndexName"]) == expected.name)
            .unwrap_or_else(|| panic!("index {} is missing from template.yaml", expected.name));
        assert_eq!(
            key_schema(&index["KeySchema"]),
            [(expected.partition_key.into(), "HASH".into()), (expected.sort_key.into(), "RANGE".into())],
            "{}",
            expected.name
        );
        assert_eq!(text(&index["Projection"]["ProjectionType"]), expected.projection, "{}", expected.name);
    }

    assert_eq!(text(&props["TimeToLiveSpecification"]["AttributeName"]), schema::TTL_ATTRIBUTE);
    assert_eq!(text(&props["TimeToLiveSpecification"]["Enabled"]), "true");
    assert_eq!(text(&props["StreamSpecification"]["StreamViewType"]), schema::STREAM_VIEW_TYPE);
    assert_eq!(text(&props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]), "true");
}

#[test]
fn cors_matches_the_local_server() {
    let template = template();
    let config = &resource(&template, "HttpApi")["Properties"]["CorsConfiguration"];
    let lower = |v: &Value| strings(v).iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
    assert_eq!(strings(&config["AllowMethods"]), cors::ALLOWED_METHODS);
    assert_eq!(lower(&config["AllowHeaders"]), cors::ALLOWED_HEADERS);
    assert_eq!(lower(&config["ExposeHeaders"]), cors::EXPOSED_HEADERS);
    assert_eq!(text(&config["MaxAge"]), cors::MAX_AGE_SECS.to_string());
    assert_eq!(text(&template["Parameters"]["AllowedOrigins"]["Default"]), cors::DEFAULT_ALLOWED_ORIGINS);
}

/// Every path of the service's HTTP contract, by the function that serves it.
const ROUTES: &[(&str, &[&str])] = &[
    (
        "AuthFunction",
        &[
            "/api/auth/register",
            "/api/auth/login",
            "/api/auth/refresh",
            "/api/auth/logout",
            "/api/auth/me",
            "/api/auth/change-password",
            "/api/auth/forgot-password",
            "/api/auth/reset-password",
            "/api/auth/verify-email",
            "/api/auth/resend-verification",
            "/api/auth/sessions",
            "/api/auth/sessions/{sessionId}",
            "/api/auth/devices",
            "/api/auth/devices/{deviceId}",
            "/api/auth/security-events",
            "/api/auth/secure-account",
            "/api/auth/reactivate",
            "/api/auth/change-email",
            "/api/auth/confirm-email-change",
            "/api/auth/mfa",
            "/api/auth/mfa/totp/enroll",
            "/api/auth/mfa/totp/confirm",
            "/api/auth/mfa/verify",
            "/api/auth/mfa/recovery-codes",
            "/api/auth/mfa/disable",
            "/api/auth/mfa/passkey/options",
            "/api/auth/passkeys",
            "/api/auth/passkeys/{passkeyId}",
            "/api/auth/passkeys/register/options",
            "/api/auth/passkeys/register",
            "/api/auth/passkeys/login/options",
            "/api/auth/passkeys/login",
            "/api/auth/federated/providers",
            "/api/auth/federated/{provider}/token",
            "/api/auth/federated/{provider}/authorize",
            "/api/auth/federated/{provider}/callback",
            "/api/auth/federated/exchange",
            "/api/auth/federated/signup",
            "/api/auth/federated/link",
            "/api/auth/identities",
            "/api/auth/identities/{provider}",
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
        ],
    ),
    (
        "UsersFunction",
        &[
            "/api/users/search",
            "/api/users/{userId}",
            "/api/users/by-username/{username}",
            "/api/users/profile",
            "/api/users/notifications",
            "/api/users/deactivate",
            "/api/users/{userId}/stats",
            "/health",
            "/health/detailed",
            "/api/openapi.json",
            "/api/docs",
        ],
    ),
    (
        "SocialFunction",
        &[
            "/api/social/follow",
            "/api/social/unfollow",
            "/api/social/{userId}/followers",
            "/api/social/{userId}/following",
            "/api/social/requests",
            "/api/social/requests/{userId}/accept",
            "/api/social/requests/{userId}/reject",
            "/api/social/block",
            "/api/social/unblock",
            "/api/social/blocked",
            "/api/social/report",
            "/api/social/relationship/{userId}",
            "/api/social/mute",
            "/api/social/unmute",
            "/api/social/muted",
        ],
    ),
    (
        "AdminFunction",
        &[
            "/api/admin/reports",
            "/api/admin/reports/{reportId}",
            "/api/admin/reports/{reportId}/assign",
            "/api/admin/reports/{reportId}/resolve",
            "/api/admin/reports/{reportId}/reopen",
            "/api/admin/users/{userId}",
            "/api/admin/users/{userId}/actions",
            "/api/admin/users/{userId}/role",
            "/api/admin/audit-log",
            "/api/admin/webhooks",
            "/api/admin/webhooks/{webhookId}",
            "/api/admin/webhooks/{webhookId}/rotate-secret",
            "/api/admin/webhooks/{webhookId}/deliveries",
            "/api/admin/webhooks/{webhookId}/test",
        ],
    ),
];

#[test]
fn every_route_goes_to_its_function_and_unknown_routes_get_the_envelope() {
    let template = template();
    for (function, paths) in ROUTES {
        let events = resource(&template, function)["Properties"]["Events"].as_mapping().unwrap();
        let mut routed = BTreeSet::new();
        for event in events.values() {
            assert_eq!(text(&event["Type"]), "HttpApi", "{function}");
            let props = &event["Properties"];
            match props.get("Path") {
                // Every method of a path reaches the function, which answers 405 itself.
                Some(path) => {
                    assert_eq!(text(&props["Method"]), "ANY", "{function} {}", text(path));
                    routed.insert(text(path));
                }
                None => assert_eq!(*function, "UsersFunction", "only one function takes the $default route"),
            }
        }
        let expected: BTreeSet<String> = paths.iter().map(|p| p.to_string()).collect();
        assert_eq!(routed, expected, "{function}");
    }
}

#[test]
fn every_function_is_a_cargo_lambda_build_of_its_binary() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    assert_eq!(text(&globals["Handler"]), "bootstrap");
    for (resource_name, binary) in [
        ("AuthFunction", "auth"),
        ("UsersFunction", "users"),
        ("SocialFunction", "social"),
        ("AdminFunction", "admin"),
        ("CleanupFunction", "cleanup"),
        ("NotifyFunction", "notify"),
    ] {
        let function = resource(&template, resource_name);
        assert_eq!(text(&function["Type"]), "AWS::Serverless::Function");
        assert_eq!(text(&function["Metadata"]["BuildMethod"]), "rust-cargolambda");
        assert_eq!(text(&function["Metadata"]["BuildProperties"]["Binary"]), binary);
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../functions/{binary}/Cargo.toml"));
        let cargo = std::fs::read_to_string(manifest).unwrap();
        assert!(cargo.contains(&format!("name = \"{binary}\"")), "functions/{binary} builds a binary named {binary}");
    }
    let schedule = &resource(&template, "CleanupFunction")["Properties"]["Events"];
    let schedule = schedule.as_mapping().unwrap().values().next().unwrap();
    assert_eq!(text(&schedule["Type"]), "Schedule");
}

#[test]
fn message_links_come_from_a_required_https_parameter() {
    let template = template();
    let parameter = &template["Parameters"]["AppBaseUrl"];
    assert!(parameter.get("Default").is_none(), "no default: a deployment must say where links point");
    assert!(text(&parameter["AllowedPattern"]).starts_with("^https://"), "the pattern admits https URLs only");
    assert_eq!(
        intrinsic(&template["Globals"]["Function"]["Environment"]["Variables"]["APP_BASE_URL"], "Ref"),
        "AppBaseUrl"
    );
    assert!(template["Parameters"]["SenderAddress"].get("Default").is_none(), "SenderAddress is required");
}

/// The argument of an intrinsic function (`!Ref X` or `Ref: X`, `!GetAtt A.B`, `!Sub "…"`).
fn intrinsic(value: &Value, function: &str) -> String {
    match value {
        Value::Tagged(tagged) if tagged.tag == format!("!{function}") => text(&tagged.value),
        Value::Mapping(map) => {
            let key = if function == "Ref" { function.to_owned() } else { format!("Fn::{function}") };
            text(map.get(key.as_str()).unwrap_or_else(|| panic!("no {key} in {value:?}")))
        }
        other => panic!("expected !{function}, got {other:?}"),
    }
}

#[test]
fn only_outbox_inserts_reach_notify_with_partial_failures_bounded_retries_and_a_dead_letter_queue() {
    let template = template();
    let mapping = resource(&template, "NotifyStream");
    assert_eq!(text(&mapping["Type"]), "AWS::Lambda::EventSourceMapping");
    let props = &mapping["Properties"];
    assert_eq!(intrinsic(&props["EventSourceArn"], "GetAtt"), "Table.StreamArn");
    assert_eq!(intrinsic(&props["FunctionName"], "Ref"), "NotifyFunction");
    let filters = props["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value = serde_json::from_str(&text(&filters[0]["Pattern"])).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({ "eventName": ["INSERT"], "dynamodb": { "Keys": { "PK": { "S": [{ "prefix": "OUTBOX#" }] } } } })
    );
    assert_eq!(strings(&props["FunctionResponseTypes"]), ["ReportBatchItemFailures"]);
    assert_eq!(text(&props["BisectBatchOnFunctionError"]), "true");
    let retries: i64 = text(&props["MaximumRetryAttempts"]).parse().unwrap();
    assert!((0..=20).contains(&retries), "retries are bounded: {retries}");
    assert_eq!(
        intrinsic(&props["DestinationConfig"]["OnFailure"]["Destination"], "GetAtt"),
        "NotifyDeadLetterQueue.Arn"
    );
    assert_eq!(text(&resource(&template, "NotifyDeadLetterQueue")["Type"]), "AWS::SQS::Queue");
    // Exports come by a mapping of their own, one record at a time.
    let exports = &resource(&template, "NotifyExportStream")["Properties"];
    assert_eq!(text(&exports["BatchSize"]), "1");
    let pattern: serde_json::Value =
        serde_json::from_str(&text(&exports["FilterCriteria"]["Filters"][0]["Pattern"])).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({ "eventName": ["INSERT"], "dynamodb": { "Keys": { "SK": { "S": [{ "prefix": "EXPORT#" }] } } } })
    );
}

#[test]
fn the_export_bucket_is_private_encrypted_and_forgets_after_a_week() {
    let template = template();
    let bucket = &resource(&template, "ExportBucket")["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(text(&block[setting]), "true", "{setting}");
    }
    let sse = &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert_eq!(text(&sse["SSEAlgorithm"]), "AES256");
    let rule = &bucket["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(text(&rule["ExpirationInDays"]), "7");
    let policy = serde_yaml::to_string(&resource(&template, "ExportBucketPolicy")).unwrap();
    assert!(policy.contains("aws:SecureTransport"), "{policy}");
}

#[test]
fn notify_may_send_only_from_the_configured_sender() {
    let template = template();
    let notify = resource(&template, "NotifyFunction");
    let statements = notify["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
    let ses: Vec<&Value> =
        statements.iter().filter(|s| s["Action"].as_str().is_some_and(|a| a.starts_with("ses:"))).collect();
    assert_eq!(ses.len(), 1);
    assert_eq!(text(&ses[0]["Action"]), "ses:SendEmail");
    assert_eq!(intrinsic(&ses[0]["Condition"]["StringEquals"]["ses:FromAddress"], "Ref"), "SenderAddress");
    for resource in ses[0]["Resource"].as_sequence().unwrap() {
        let arn = serde_yaml::to_string(resource).unwrap();
        assert!(arn.contains(":identity/"), "identities only, never *: {arn}");
    }
    let actions: BTreeSet<String> = statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::Sequence(list) => list.iter().map(text).collect(),
            single => vec![text(single)],
        })
        .collect();
    let expected = [
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "ses:SendEmail",
        "sqs:SendMessage",
    ];
    assert_eq!(actions, expected.iter().map(|a| a.to_string()).collect(), "nothing beyond delivery and exports");
    assert_eq!(
        intrinsic(&notify["Properties"]["Environment"]["Variables"]["MAIL_FROM"], "Sub"),
        "${SenderName} <${SenderAddress}>"
    );
}

#[test]
fn every_function_logs_to_a_group_with_a_retention() {
    let template = template();
    for function in
        ["AuthFunction", "UsersFunction", "SocialFunction", "AdminFunction", "CleanupFunction", "NotifyFunction"]
    {
        let name = function.trim_end_matches("Function");
        let group = resource(&template, &format!("{name}LogGroup"));
        assert_eq!(text(&group["Type"]), "AWS::Logs::LogGroup", "{function}");
        assert_eq!(intrinsic(&group["Properties"]["LogGroupName"], "Sub"), format!("/aws/lambda/${{{function}}}"));
        assert_eq!(intrinsic(&group["Properties"]["RetentionInDays"], "Ref"), "LogRetentionDays");
    }
}

#[test]
fn sign_in_and_refresh_routes_have_budgets_of_their_own() {
    let template = template();
    let settings = resource(&template, "HttpApi")["Properties"]["RouteSettings"].as_mapping().unwrap();
    let auth_paths: BTreeSet<&str> = ROUTES[0].1.iter().copied().collect();
    for (route, limits) in settings {
        let route = text(route);
        let path = route.strip_prefix("ANY ").expect("routes are ANY, as the functions' events");
        assert!(auth_paths.contains(path), "{route} is a route of the auth function");
        let rate = intrinsic(&limits["ThrottlingRateLimit"], "Ref");
        assert!(template["Parameters"].get(rate.as_str()).is_some(), "{rate} is a parameter");
    }
    for path in [
        "register",
        "login",
        "reactivate",
        "forgot-password",
        "reset-password",
        "verify-email",
        "refresh",
        "mfa/verify",
        "confirm-email-change",
        "passkeys/login",
        "passkeys/login/options",
        "mfa/passkey/options",
        "federated/{provider}/token",
        "federated/exchange",
        "federated/signup",
    ] {
        assert!(settings.contains_key(format!("ANY /api/auth/{path}").as_str()), "{path} has its own budget");
    }
}

/// The statements allowing actions on the table of a function's policy, as (actions, resources).
fn table_statements(template: &Value, function: &str) -> Vec<(Vec<String>, String)> {
    let statements = resource(template, function)["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
    statements
        .iter()
        .filter(|s| text(&s["Effect"]) == "Allow" && serde_yaml::to_string(&s["Action"]).unwrap().contains("dynamodb:"))
        .map(|s| {
            let actions = match &s["Action"] {
                Value::Sequence(list) => list.iter().map(text).collect(),
                single => vec![text(single)],
            };
            (actions, serde_yaml::to_string(&s["Resource"]).unwrap() + &serde_yaml::to_string(&s["Condition"]).unwrap())
        })
        .collect()
}

/// The security review: the auth, users and social roles could write the audit log's
/// partitions. Only the admin function writes it; the others are denied every write
/// there, and cleanup and notify may write only key prefixes that are not the log's.
#[test]
fn no_function_but_admin_may_write_the_audit_log() {
    let template = template();
    for function in ["AuthFunction", "UsersFunction", "SocialFunction"] {
        let statements =
            resource(&template, function)["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap().clone();
        let deny = statements.iter().find(|s| text(&s["Effect"]) == "Deny").unwrap_or_else(|| panic!("{function}"));
        assert_eq!(
            strings(&deny["Action"]),
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
            "{function}"
        );
        let condition = serde_yaml::to_string(&deny["Condition"]).unwrap();
        assert!(
            condition.contains("ForAnyValue:StringLike") && condition.contains("AUDIT#*"),
            "{function}: {condition}"
        );
    }
    for function in ["CleanupFunction", "NotifyFunction"] {
        for (actions, condition) in table_statements(&template, function) {
            let writes = actions.iter().any(|a| ["Put", "Update", "Delete", "Write"].iter().any(|w| a.contains(w)));
            if writes {
                assert!(condition.contains("dynamodb:LeadingKeys") && !condition.contains("AUDIT"), "{function}");
            }
        }
    }
}

#[test]
fn table_access_is_narrowed_to_the_indexes_and_keys_each_function_uses() {
    let template = template();
    let auth = table_statements(&template, "AuthFunction");
    assert!(auth.iter().all(|(_, resource)| !resource.contains("/index/")), "auth reads no index: {auth:?}");
    for function in ["UsersFunction", "SocialFunction", "AdminFunction"] {
        for (_, resource) in table_statements(&template, function) {
            assert!(!resource.contains("index/*") && resource.contains("/index/GSI1"), "{function}: {resource}");
        }
    }
    let notify = table_statements(&template, "NotifyFunction");
    // The security review: notify may update its own items (outbox, exports), never an
    // account's (USER#…: password hashes, roles, status), and writes nothing else.
    let writes: Vec<_> = notify
        .iter()
        .filter(|(actions, _)| {
            actions.iter().any(|a| a.contains("Update") || a.contains("Delete") || a.contains("BatchWrite"))
        })
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (actions, condition) = writes[0];
    assert_eq!(actions, &["dynamodb:UpdateItem"]);
    let leading = condition.split("dynamodb:LeadingKeys:").nth(1).unwrap_or_default();
    let keys: Vec<&str> = leading.lines().filter_map(|l| l.trim().strip_prefix("- ")).collect();
    assert_eq!(keys, ["OUTBOX#*", "EXPORT#*"], "{condition}");
    let admin = resource(&template, "AdminFunction")["Properties"]["Policies"][0]["Statement"].as_sequence().unwrap();
    let deny = admin.iter().find(|s| text(&s["Effect"]) == "Deny").expect("the audit log is append-only");
    assert_eq!(strings(&deny["Action"]), ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]);
    let audit = serde_yaml::to_string(&deny["Condition"]).unwrap();
    assert!(audit.contains("dynamodb:LeadingKeys") && audit.contains("AUDIT#*"), "{audit}");
    let cleanup = table_statements(&template, "CleanupFunction");
    let deletes = cleanup.iter().find(|(actions, _)| actions.contains(&"dynamodb:BatchWriteItem".into())).unwrap();
    assert!(deletes.1.contains("dynamodb:LeadingKeys") && deletes.1.contains("TOKEN#*"), "{deletes:?}");
}

#[test]
fn only_the_auth_function_can_read_the_private_signing_keys() {
    let template = template();
    assert!(template["Globals"]["Function"]["Environment"]["Variables"].get("JWT_KEYS_SECRET_ID").is_none());
    for (function, may_sign) in
        [("AuthFunction", true), ("UsersFunction", false), ("SocialFunction", false), ("AdminFunction", false)]
    {
        let props = &resource(&template, function)["Properties"];
        let variables = &props["Environment"]["Variables"];
        assert_eq!(variables.get("JWT_KEYS_SECRET_ID").is_some(), may_sign, "{function}");
        assert_eq!(variables.get("JWT_PUBLIC_KEYS_SECRET_ID").is_some(), !may_sign, "{function}");
        let policy = serde_yaml::to_string(&props["Policies"]).unwrap();
        assert_eq!(policy.contains("!Ref SigningKeys"), may_sign, "{function}: {policy}");
        // The second-factor key goes with signing: the auth function alone.
        assert_eq!(variables.get("MFA_KEY_SECRET_ID").is_some(), may_sign, "{function}");
        assert_eq!(policy.contains("!Ref MfaKey"), may_sign, "{function}: {policy}");
    }
    for function in ["CleanupFunction", "NotifyFunction"] {
        let policy = serde_yaml::to_string(&resource(&template, function)["Properties"]["Policies"]).unwrap();
        assert!(!policy.contains("secretsmanager"), "{function} reads no secret");
    }
}

/// The alarms an operator must hear about, each sending to the alarm topic.
#[test]
fn the_alarms_watch_what_matters_and_notify_the_topic() {
    let template = template();
    let alarm = |name: &str| {
        let alarm = resource(&template, name);
        assert_eq!(text(&alarm["Type"]), "AWS::CloudWatch::Alarm", "{name}");
        let actions = serde_yaml::to_string(&alarm["Properties"]["AlarmActions"]).unwrap();
        assert!(actions.contains("AlarmTopic"), "{name} notifies the topic: {actions}");
        serde_yaml::to_string(&alarm["Properties"]).unwrap()
    };
    let api = alarm("Api5xxRateAlarm");
    assert!(api.contains("AWS/ApiGateway") && api.contains("5xx") && api.contains("Count") && api.contains("HttpApi"));
    for function in ["Auth", "Users", "Social", "Admin", "Cleanup", "Notify"] {
        let watched = alarm(&format!("{function}FunctionErrorsAlarm"));
        assert!(watched.contains("Errors") && watched.contains("Throttles"), "{function}: {watched}");
        assert!(watched.contains(&format!("!Ref {function}Function")), "{function}: {watched}");
    }
    let age = alarm("NotifyIteratorAgeAlarm");
    assert!(age.contains("IteratorAge") && age.contains("NotifyFunction"));
    for queue in ["NotifyDeadLetterQueue", "CleanupDeadLetterQueue"] {
        let prefix = queue.trim_end_matches("DeadLetterQueue");
        let depth = alarm(&format!("{prefix}DeadLetterAlarm"));
        assert!(depth.contains("ApproximateNumberOfMessagesVisible") && depth.contains(queue), "{depth}");
    }
    let throttles = alarm("TableThrottleAlarm");
    assert!(throttles.contains("ReadThrottleEvents") && throttles.contains("WriteThrottleEvents"));
    let reuse = alarm("RefreshTokenReuseAlarm");
    assert!(
        reuse.contains("RefreshTokenReuse") && reuse.contains("MetricsNamespace") && reuse.contains("AuthFunction")
    );
    let subscription = resource(&template, "AlarmEmailSubscription");
    assert_eq!(text(&subscription["Condition"]), "HasAlarmEmail");
    assert_eq!(text(&subscription["Properties"]["Protocol"]), "email");
}

/// The dashboard parses as JSON once its references are filled in, and shows only
/// metrics the code emits (shared::metrics::METRICS) or AWS publishes.
#[test]
fn the_dashboard_shows_the_metrics_the_service_emits() {
    let template = template();
    let body = &resource(&template, "Dashboard")["Properties"]["DashboardBody"];
    let Value::Tagged(sub) = body else { panic!("DashboardBody is a !Sub") };
    let sub = sub.value.clone();
    let source = text(&sub.as_sequence().unwrap()[0]);
    let filled = regex_free_fill(&source);
    let dashboard: serde_json::Value = serde_json::from_str(&filled).expect("the dashboard body is JSON");
    let widgets = dashboard["widgets"].as_array().unwrap();
    assert!(widgets.len() >= 8);
    let mut custom = BTreeSet::new();
    for widget in widgets {
        // Rows repeat the one before with "." (this part) and "..." (all but the last).
        let mut previous = (String::new(), String::new());
        for metric in widget["properties"]["metrics"].as_array().unwrap() {
            let metric = metric.as_array().unwrap();
            let part = |i: usize, before: &str| match metric[i].as_str().unwrap() {
                "." => before.to_owned(),
                own => own.to_owned(),
            };
            let (namespace, name) = match metric[0].as_str() {
                Some("...") => previous.clone(),
                _ => (part(0, &previous.0), part(1, &previous.1)),
            };
            if namespace == "NAMESPACE" {
                custom.insert(name.clone());
            }
            previous = (namespace, name);
        }
    }
    for name in &custom {
        assert!(shared::metrics::METRICS.iter().any(|(known, _)| known == name), "{name} is never emitted");
    }
    for shown in ["SignIns", "SignUps", "RefreshTokenReuse", "SessionsRevoked", "DynamoDbLatency", "MessagesDelivered"]
    {
        assert!(custom.contains(shown), "{shown} is on the dashboard");
    }
}

/// `${Name}` and `${Name.Attr}` of a !Sub replaced: the namespace by NAMESPACE, the rest
/// by a placeholder string.
fn regex_free_fill(source: &str) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 2..end];
        out.push_str(if name == "Namespace" { "NAMESPACE" } else { "ref" });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The HTTP API's access log: JSON lines with the request id, route, status, latency
/// and source address, never a header that could carry a token.
#[test]
fn the_api_writes_access_logs_without_credentials() {
    let template = template();
    let settings = &resource(&template, "HttpApi")["Properties"]["AccessLogSettings"];
    assert!(serde_yaml::to_string(&settings["DestinationArn"]).unwrap().contains("ApiAccessLogGroup"));
    let format = text(&settings["Format"]);
    let fields: serde_json::Value = serde_json::from_str(&format).expect("the access log format is JSON");
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatencyMs", "$context.responseLatency"),
        ("sourceIp", "$context.identity.sourceIp"),
    ] {
        assert_eq!(fields[field], variable);
    }
    let lower = format.to_lowercase();
    for never in ["authorization", "header", "token", "cookie", "requestoverride"] {
        assert!(!lower.contains(never), "{never} in the access log format");
    }
    let group = resource(&template, "ApiAccessLogGroup");
    assert_eq!(intrinsic(&group["Properties"]["RetentionInDays"], "Ref"), "LogRetentionDays");
}

/// Reserved concurrency from a parameter per function, X-Ray tracing on, a dead-letter
/// queue for the scheduled function, and every checkov finding the design declines
/// skipped in place with its reason.
#[test]
fn functions_are_bounded_traced_and_every_scanner_exception_says_why() {
    let template = template();
    assert_eq!(text(&template["Globals"]["Function"]["Tracing"]), "Active");
    for function in ["Auth", "Users", "Social", "Admin", "Cleanup", "Notify"] {
        let props = &resource(&template, &format!("{function}Function"))["Properties"];
        let reserved = serde_yaml::to_string(&props["ReservedConcurrentExecutions"]).unwrap();
        assert!(reserved.contains(&format!("{function}ReservedConcurrency")), "{function}: {reserved}");
        assert!(template["Parameters"].get(format!("{function}ReservedConcurrency").as_str()).is_some());
    }
    let cleanup = &resource(&template, "CleanupFunction")["Properties"]["DeadLetterQueue"];
    assert!(serde_yaml::to_string(cleanup).unwrap().contains("CleanupDeadLetterQueue"));
    let mut skips = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let Some(skip) = resource["Metadata"]["checkov"]["skip"].as_sequence() else { continue };
        for entry in skip {
            let (id, reason) = (text(&entry["id"]), text(&entry["comment"]));
            assert!(id.starts_with("CKV_"), "{name:?}: {id}");
            assert!(reason.len() >= 40, "{name:?} skips {id} without a reason worth the name: {reason:?}");
            skips += 1;
        }
    }
    assert!(skips > 0);
}

/// The edge (`ClientSignInLimit`): each resource only when it is on; WAF counts per
/// client exactly the routes that share the sign-in budget, and answers in the envelope.
#[test]
fn the_per_client_limit_counts_the_sign_in_routes_and_answers_in_the_envelope() {
    let template = template();
    for name in ["EdgeOriginSecret", "EdgeWebAcl", "EdgeDistribution"] {
        assert_eq!(text(&resource(&template, name)["Condition"]), "HasEdge", "{name}");
    }
    let acl = &resource(&template, "EdgeWebAcl")["Properties"];
    assert_eq!(text(&acl["Scope"]), "CLOUDFRONT");
    let rules = acl["Rules"].as_sequence().unwrap();
    assert_eq!(rules.len(), 1);
    let rate = &rules[0]["Statement"]["RateBasedStatement"];
    assert_eq!(intrinsic(&rate["Limit"], "Ref"), "ClientSignInLimit");
    assert_eq!(text(&rate["AggregateKeyType"]), "IP");
    let pattern = text(&rate["ScopeDownStatement"]["RegexMatchStatement"]["RegexString"]);
    let pattern = regex::Regex::new(&pattern).unwrap();

    let settings = resource(&template, "HttpApi")["Properties"]["RouteSettings"].as_mapping().unwrap();
    let mut counted = 0;
    for path in ROUTES.iter().flat_map(|(_, paths)| paths.iter()) {
        let budget =
            settings.get(format!("ANY {path}").as_str()).map(|limits| intrinsic(&limits["ThrottlingRateLimit"], "Ref"));
        let sign_in = budget.as_deref() == Some("SignInRateLimit");
        let example = path.replace("{provider}", "google").replace("{user_id}", "u1").replace("{id}", "x1");
        assert_eq!(
            pattern.is_match(&example),
            sign_in,
            "{path}: counted per client exactly when it has the sign-in budget"
        );
        counted += usize::from(sign_in);
    }
    assert!(counted >= 15, "{counted}");
    assert!(!pattern.is_match("/api/auth/login/extra") && !pattern.is_match("/x/api/auth/login"));

    let block = &rules[0]["Action"]["Block"]["CustomResponse"];
    assert_eq!(text(&block["ResponseCode"]), "429");
    assert_eq!(text(&block["ResponseHeaders"][0]["Name"]), "retry-after");
    let body = &acl["CustomResponseBodies"][text(&block["CustomResponseBodyKey"]).as_str()];
    let envelope: serde_json::Value = serde_json::from_str(&text(&body["Content"])).unwrap();
    assert_eq!(envelope["error"]["code"], "RATE_LIMITED");
    assert!(envelope["error"]["message"].is_string() && envelope["requestId"].is_string());
}

/// Behind CloudFront the HTTP functions, and no other, read the origin secret that
/// CloudFront sends (shared/src/edge.rs), under the header name the code checks.
#[test]
fn cloudfront_sends_the_origin_secret_the_http_functions_check() {
    use shared::edge::ORIGIN_SECRET_HEADER;

    let template = template();
    let config = &resource(&template, "EdgeDistribution")["Properties"]["DistributionConfig"];
    assert_eq!(intrinsic(&config["WebACLId"], "GetAtt"), "EdgeWebAcl.Arn");
    assert!(intrinsic(&config["Comment"], "Sub").contains("${EdgeOriginSecretGeneration}"));
    let origin = &config["Origins"][0];
    assert!(intrinsic(&origin["DomainName"], "Sub").starts_with("${HttpApi}.execute-api."));
    assert_eq!(text(&origin["CustomOriginConfig"]["OriginProtocolPolicy"]), "https-only");
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(text(&header["HeaderName"]), ORIGIN_SECRET_HEADER);
    assert_eq!(intrinsic(&header["HeaderValue"], "Sub"), "{{resolve:secretsmanager:${EdgeOriginSecret}:SecretString}}");
    let behavior = &config["DefaultCacheBehavior"];
    assert_eq!(text(&behavior["CachePolicyId"]), "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "CachingDisabled");
    assert_eq!(
        text(&behavior["OriginRequestPolicyId"]),
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
        "AllViewerExceptHostHeader"
    );

    for (function, serves_http) in [
        ("AuthFunction", true),
        ("UsersFunction", true),
        ("SocialFunction", true),
        ("AdminFunction", true),
        ("CleanupFunction", false),
        ("NotifyFunction", false),
        ("EventsFunction", false),
    ] {
        let props = &resource(&template, function)["Properties"];
        let variable = serde_yaml::to_string(&props["Environment"]["Variables"]["EDGE_SECRET_ID"]).unwrap();
        let policy = serde_yaml::to_string(&props["Policies"]).unwrap();
        assert_eq!(
            variable.contains("HasEdge") && variable.contains("EdgeOriginSecret"),
            serves_http,
            "{function}: {variable}"
        );
        assert_eq!(policy.contains("EdgeOriginSecret"), serves_http, "{function}: {policy}");
        // A rotation's deploy restarts them (to admit the new value beside the old one)
        // before it updates the distribution, which depends on them through the API.
        let generation = serde_yaml::to_string(&props["Environment"]["Variables"]["EDGE_SECRET_GENERATION"]).unwrap();
        assert_eq!(generation.contains("EdgeOriginSecretGeneration"), serves_http, "{function}: {generation}");
    }
}
