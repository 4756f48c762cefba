//! Every file in events/ through its function's Lambda handler (the router that
//! `lambda_http::run` serves), exactly as API Gateway would deliver it.

use std::path::{Path, PathBuf};

use axum::Router;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::user::Role;
use support::TestApp;
use tower::ServiceExt;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn event_files() -> Vec<String> {
    let mut files = Vec::new();
    for function in std::fs::read_dir(events_dir()).unwrap() {
        let function = function.unwrap().path();
        // notify/ and events/ hold stream and queue batches, not API Gateway events:
        // tests/notify.rs and tests/webhooks.rs feed them.
        if function.is_dir() && !function.ends_with("notify") && !function.ends_with("events") {
            for event in std::fs::read_dir(&function).unwrap() {
                let event = event.unwrap().path();
                let relative = event.strip_prefix(events_dir()).unwrap().to_string_lossy().into_owned();
                files.push(relative);
            }
        }
    }
    files.sort();
    files
}

/// The password of `events/auth/register-friend.json`, the account that becomes staff.
const FRIEND_PASSWORD: &str = "sample-meadow-compass-71";

/// Turns on a second factor for the holder of `access_token`; the upgraded session's token.
async fn turn_on_mfa(app: &TestApp, access_token: &str) -> String {
    let enroll = json!({ "password": FRIEND_PASSWORD });
    let enrolled = app.call(Method::POST, "/api/auth/mfa/totp/enroll", Some(enroll), Some(access_token)).await;
    assert_eq!(enrolled.status, StatusCode::OK, "{:?}", enrolled.body);
    let code = app.code(enrolled.body["secret"].as_str().unwrap(), 0);
    let confirm = json!({ "code": code });
    let confirmed = app.call(Method::POST, "/api/auth/mfa/totp/confirm", Some(confirm), Some(access_token)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    confirmed.body["accessToken"].as_str().unwrap().to_owned()
}

fn function_app(name: &str, app: &TestApp) -> Router {
    let state = app.state.clone();
    match name {
        "auth" => auth::app(state),
        "users" => users::app(state),
        "social" => social::app(state),
        "admin" => admin::app(state),
        other => panic!("no function named {other}"),
    }
}

#[tokio::test]
async fn every_event_file_is_answered_by_its_function() {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("manifest.json")).unwrap()).unwrap();
    let entries = manifest["events"].as_array().unwrap();
    let mut listed: Vec<String> = entries.iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    assert_eq!(listed, event_files(), "events/manifest.json must list every event file");

    let app = TestApp::new().await;
    let (mut access_token, mut refresh_token) = (String::new(), String::new());
    let (mut first_session, mut first_user, mut latest_user) = (String::new(), String::new(), String::new());
    let (mut totp_secret, mut mfa_token, mut report_id) = (String::new(), String::new(), String::new());
    let (mut other_device, mut webhook_id) = (String::new(), String::new());
    let mut staff = false;
    for entry in entries {
        let file = entry["event"].as_str().unwrap();
        let expected = StatusCode::from_u16(entry["status"].as_u64().unwrap() as u16).unwrap();
        let mut text = std::fs::read_to_string(events_dir().join(file)).unwrap();
        // One-time tokens reach users out of band: read them from the outbox.
        for (placeholder, kind) in [
            ("REPLACE_WITH_VERIFICATION_TOKEN", "verify_email"),
            ("REPLACE_WITH_RESET_TOKEN", "reset_password"),
            ("REPLACE_WITH_EMAIL_CHANGE_TOKEN", "confirm_email_change"),
            ("REPLACE_WITH_SECURE_TOKEN", "password_changed"),
        ] {
            if text.contains(placeholder) {
                text = text.replace(placeholder, &app.outbox_token(kind, &latest_user).await);
            }
        }
        if text.contains("REPLACE_WITH_TOTP_CODE") {
            // Each code is accepted once: the next one comes from the next time step.
            app.advance(chrono::Duration::seconds(shared::domain::mfa::STEP_SECS));
            let code = shared::domain::mfa::authenticator_code(&totp_secret, app.state.now()).unwrap();
            text = text.replace("REPLACE_WITH_TOTP_CODE", &code);
        }
        if file.starts_with("admin/") && !staff {
            // As the operator's grant-role command does it; then the new admin turns on
            // a second factor, which the admin routes need.
            let user = app.state.store.users().user_by_id(&latest_user).await.unwrap().unwrap();
            let actor = shared::services::moderation::Actor::Operator("test-operator");
            shared::services::moderation::grant(&app.state.store, actor, &user, Role::Admin).await.unwrap();
            access_token = turn_on_mfa(&app, &access_token).await;
            staff = true;
        }
        let text = text
            .replace("REPLACE_WITH_REPORT_ID", &report_id)
            .replace("REPLACE_WITH_MFA_TOKEN", &mfa_token)
            .replace("REPLACE_WITH_ACCESS_TOKEN", &access_token)
            .replace("REPLACE_WITH_REFRESH_TOKEN", &refresh_token)
            .replace("REPLACE_WITH_OTHER_SESSION_ID", &first_session)
            .replace("REPLACE_WITH_OTHER_DEVICE_ID", &other_device)
            .replace("REPLACE_WITH_OTHER_USER_ID", &first_user)
            .replace("REPLACE_WITH_WEBHOOK_ID", &webhook_id);
        let event: Value = serde_json::from_str(&text).unwrap();
        if file.starts_with("cleanup/") {
            // A scheduled event, not an HTTP one: the handler must run and report.
            let invocation = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            let report = cleanup::handle(
                &app.state.store,
                app.state.bucket.as_deref(),
                cleanup::Settings { lookback_days: 3, deletion_days: 30 },
                invocation,
            )
            .await;
            assert!(report.is_ok() == (expected == StatusCode::OK), "{file}: {report:?}");
            continue;
        }
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file} is not an API Gateway event: {e}"));
        let function = file.split('/').next().unwrap();
        let response = function_app(function, &app).oneshot(request).await.unwrap();
        let status = response.status();
        let request_id = response.headers().get("x-request-id").cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        // The reference page is HTML; every other answer is JSON.
        let body: Value = match serde_json::from_slice(&bytes) {
            Ok(json) => json,
            Err(_) if bytes.is_empty() || file == "users/docs.json" => Value::Null,
            Err(e) => panic!("{file}: the answer is not JSON: {e}"),
        };
        assert_eq!(status, expected, "{file}: {body}");
        assert_eq!(
            request_id.unwrap().to_str().unwrap(),
            event["requestContext"]["requestId"].as_str().unwrap(),
            "{file}: the API Gateway request id is the response's"
        );
        totp_secret = body["secret"].as_str().map_or(totp_secret, str::to_owned);
        mfa_token = body["mfaToken"].as_str().map_or(mfa_token, str::to_owned);
        if file == "auth/devices-list.json" {
            let other = body["items"].as_array().unwrap().iter().find(|d| d["current"] == false);
            other_device = other.expect("a device besides the caller's")["id"].as_str().unwrap().to_owned();
        }
        if file == "admin/webhook-register.json" {
            webhook_id = body["id"].as_str().unwrap().to_owned();
        }
        if file.starts_with("social/report") {
            report_id = body["id"].as_str().map_or(report_id, str::to_owned);
        }
        if let (Some(access), Some(refresh)) = (body["accessToken"].as_str(), body["refreshToken"].as_str()) {
            access_token = access.to_owned();
            latest_user = body["user"]["id"].as_str().map_or(latest_user, str::to_owned);
            refresh_token = refresh.to_owned();
            if first_session.is_empty() {
                first_session = refresh.split('.').nth(1).unwrap().to_owned();
                first_user = body["user"]["id"].as_str().unwrap().to_owned();
            }
        }
    }
}
