//! Taking an account back: a "thief" who has only the password signs in, enrols an
//! authenticator and moves the email; the owner, with the link of a notice that reached
//! their old address, gets it all back in one step.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::{tokens_of, TestApp, TestResponse, NEW_PASSWORD, PASSWORD};

const THIEF_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const THIEF_ADDRESS: &str = "198.51.100.66";

/// A request from the thief's browser and address.
async fn as_thief(app: &TestApp, method: Method, path: &str, body: Value, token: Option<&str>) -> TestResponse {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-agent", THIEF_AGENT);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut request = request.body(Body::from(body.to_string())).unwrap();
    let addr: std::net::SocketAddr = format!("{THIEF_ADDRESS}:443").parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    app.send(request).await
}

/// The "this wasn't me" link's token of the newest notice of `kind` to `to`.
async fn link_token(app: &TestApp, kind: &str, to: &str) -> String {
    let messages = app.outbox().await;
    let notice = messages.iter().rev().find(|m| m.kind == kind && m.to == to && m.data.contains_key("token"));
    notice.unwrap_or_else(|| panic!("a {kind} notice to {to}")).data["token"].clone()
}

struct Thief {
    access: String,
    refresh: String,
    device: String,
    secret: String,
}

/// The thief signs in with the password and enrols an authenticator app.
async fn thief_takes_the_second_factor(app: &TestApp) -> Thief {
    let body = json!({ "identifier": "owner", "password": PASSWORD });
    let signed_in = as_thief(app, Method::POST, "/api/auth/login", body, None).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    let device = signed_in.body["deviceToken"].as_str().unwrap().to_owned();
    let (access, _) = tokens_of(&signed_in);
    app.advance(chrono::Duration::seconds(40));
    let enrolled =
        as_thief(app, Method::POST, "/api/auth/mfa/totp/enroll", json!({ "password": PASSWORD }), Some(&access)).await;
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    let code = json!({ "code": app.code(&secret, 0) });
    let confirmed = as_thief(app, Method::POST, "/api/auth/mfa/totp/confirm", code, Some(&access)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    let (access, refresh) = tokens_of(&confirmed);
    app.advance(chrono::Duration::seconds(40));
    Thief { access, refresh, device, secret }
}

/// The thief moves the account's email to an address of theirs.
async fn thief_moves_the_email(app: &TestApp, thief: &Thief, user_id: &str) {
    let body = json!({ "newEmail": "thief@example.net", "password": PASSWORD });
    let asked = as_thief(app, Method::POST, "/api/auth/change-email", body, Some(&thief.access)).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let token = app.outbox_token("confirm_email_change", user_id).await;
    let confirmed =
        as_thief(app, Method::POST, "/api/auth/confirm-email-change", json!({ "token": token }), Some(&thief.access))
            .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{:?}", confirmed.body);
    app.advance(chrono::Duration::seconds(40));
}

/// An owner whose account the thief took (second factor and email): their id, the thief.
async fn robbed_owner(app: &TestApp) -> (String, Thief) {
    app.freeze();
    let owner = app.register("owner").await;
    let user_id = owner.body["user"]["id"].as_str().unwrap().to_owned();
    app.advance(chrono::Duration::minutes(1));
    let thief = thief_takes_the_second_factor(app).await;
    thief_moves_the_email(app, &thief, &user_id).await;
    (user_id, thief)
}

async fn secure(app: &TestApp, token: &str) -> TestResponse {
    app.post("/api/auth/secure-account", json!({ "token": token, "newPassword": NEW_PASSWORD })).await
}

#[tokio::test]
async fn the_owner_takes_the_account_back_with_the_link_sent_to_the_old_address() {
    let app = TestApp::new().await;
    let (_, thief) = robbed_owner(&app).await;

    // The first notice of the takeover: the thief's sign-in, to the owner's address. It
    // says when, from which device and address, and that the link undoes it.
    let sign_in_notice = app.outbox().await.into_iter().find(|m| m.kind == "new_sign_in").unwrap();
    assert_eq!(sign_in_notice.to, "owner@example.org");
    assert_eq!(sign_in_notice.data["device"], "Firefox on Linux");
    assert_eq!(sign_in_notice.data["ipAddress"], THIEF_ADDRESS);
    let link = link_token(&app, "new_sign_in", "owner@example.org").await;
    let later_link = link_token(&app, "email_changed", "owner@example.org").await;

    let secured = secure(&app, &link).await;
    assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
    assert_eq!(secured.body["user"]["email"], "owner@example.org", "the old address is back");
    assert_eq!(secured.body["user"]["mfaEnabled"], false);
    assert_eq!(
        secured.body["details"],
        json!({
            "reported": "sign_in",
            "factorRemoved": true,
            "passkeysRemoved": 0,
            "identitiesRemoved": 0,
            "emailChangeCancelled": false,
            "email": "restored"
        })
    );
    let (owner_access, _) = tokens_of(&secured);

    // The thief's session, refresh token, device token, factor and address are gone.
    assert_eq!(app.get("/api/auth/sessions", Some(&thief.access)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&thief.refresh).await.error_code(), "INVALID_TOKEN");
    let devices = app.get("/api/auth/devices", Some(&owner_access)).await;
    let devices = devices.body["items"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "only the owner's new device: {devices:?}");
    assert_eq!(devices[0]["current"], true);
    let thiefs_device = shared::domain::device::DeviceToken::parse(&thief.device).unwrap().hash();
    assert_ne!(devices[0]["id"], shared::domain::device::device_id(&thiefs_device).as_str());
    assert_eq!(app.get("/api/auth/mfa", Some(&owner_access)).await.body["enabled"], false);
    let body = json!({ "identifier": "thief@example.net", "password": NEW_PASSWORD });
    assert_eq!(app.post("/api/auth/login", body).await.error_code(), "INVALID_CREDENTIALS", "the address is let go");
    let thiefs_code = json!({ "code": app.code(&thief.secret, 0) });
    let refused = as_thief(&app, Method::POST, "/api/auth/mfa/recovery-codes", thiefs_code, Some(&thief.access)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // The owner signs in with the new password and no second-factor prompt; the old
    // password (the thief's way in) no longer works.
    let signed_in = app.login_with("owner@example.org", NEW_PASSWORD).await;
    assert!(signed_in.body["accessToken"].is_string(), "{:?}", signed_in.body);
    assert_eq!(app.login("owner").await.error_code(), "INVALID_CREDENTIALS");

    // Used once; and every other notice's link is void now.
    assert_eq!(secure(&app, &link).await.error_code(), "INVALID_TOKEN");
    assert_eq!(secure(&app, &later_link).await.error_code(), "INVALID_TOKEN");

    // The security history shows every step.
    let page = app.get("/api/auth/security-events?limit=100", Some(&owner_access)).await;
    let kinds: Vec<&str> = page.body["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    let story = [
        "sign_in_failed",
        "sign_in",
        "email_change_reverted",
        "account_secured",
        "email_changed",
        "email_change_requested",
        "mfa_enabled",
        "sign_in",
    ];
    assert_eq!(kinds, story, "{:?}", page.body);
    let thiefs_sign_in = &page.body["items"][7];
    assert_eq!(
        (thiefs_sign_in["ipAddress"].as_str(), thiefs_sign_in["userAgent"].as_str()),
        (Some(THIEF_ADDRESS), Some(THIEF_AGENT))
    );
    let secured_mail = app.outbox().await.into_iter().find(|m| m.kind == "account_secured").unwrap();
    assert_eq!(secured_mail.to, "owner@example.org");
}

#[tokio::test]
async fn securing_racing_the_thiefs_enrolment_leaves_no_factor_of_the_thiefs() {
    for _ in 0..3 {
        let app = TestApp::new().await;
        app.freeze();
        app.register("owner").await;
        app.advance(chrono::Duration::minutes(1));
        let body = json!({ "identifier": "owner", "password": PASSWORD });
        let signed_in = as_thief(&app, Method::POST, "/api/auth/login", body, None).await;
        let (access, _) = tokens_of(&signed_in);
        let link = link_token(&app, "new_sign_in", "owner@example.org").await;
        let enrolled =
            as_thief(&app, Method::POST, "/api/auth/mfa/totp/enroll", json!({ "password": PASSWORD }), Some(&access))
                .await;
        let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
        let code = json!({ "code": app.code(&secret, 0) });
        let (secured, confirmed) = tokio::join!(
            secure(&app, &link),
            as_thief(&app, Method::POST, "/api/auth/mfa/totp/confirm", code, Some(&access))
        );
        assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
        assert!(matches!(confirmed.status.as_u16(), 200 | 401 | 409), "{:?}", confirmed.body);
        let (owner_access, _) = tokens_of(&secured);
        assert_eq!(app.get("/api/auth/mfa", Some(&owner_access)).await.body["enabled"], false, "no factor is left");
        let factor = app.item(shared::store::keys::factor::totp(&app.claims(&owner_access).sub)).await;
        assert!(factor.is_none(), "not even a pending one: {factor:?}");
        assert_eq!(app.login_with("owner", NEW_PASSWORD).await.body["mfaRequired"], Value::Null);
    }
}

#[tokio::test]
async fn of_two_calls_with_one_link_one_wins() {
    let app = TestApp::new().await;
    app.register("owner").await;
    let body = json!({ "identifier": "owner", "password": PASSWORD });
    as_thief(&app, Method::POST, "/api/auth/login", body, None).await;
    let link = link_token(&app, "new_sign_in", "owner@example.org").await;
    let (a, b) = tokio::join!(secure(&app, &link), secure(&app, &link));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{:?} {:?}", a.body, b.body);
    let weak = app.post("/api/auth/secure-account", json!({ "token": "x", "newPassword": "short" })).await;
    assert_eq!(weak.error_code(), "INVALID_TOKEN", "an unknown token is refused before the password is judged");
}

#[tokio::test]
async fn an_address_taken_meanwhile_is_kept_and_the_answer_says_so() {
    let app = TestApp::new().await;
    robbed_owner(&app).await;
    // Someone else claims the freed address before the owner acts.
    let other =
        json!({ "username": "newcomer", "email": "owner@example.org", "password": PASSWORD, "agreeToTerms": true });
    assert_eq!(app.post("/api/auth/register", other).await.status, StatusCode::CREATED);

    let secured = secure(&app, &link_token(&app, "new_sign_in", "owner@example.org").await).await;
    assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
    assert_eq!(secured.body["details"]["email"], "kept");
    assert_eq!(secured.body["user"]["email"], "thief@example.net");
    assert_eq!(secured.body["details"]["factorRemoved"], true);
}

#[tokio::test]
async fn an_account_the_thief_deactivated_comes_back_active() {
    let app = TestApp::new().await;
    app.register("owner").await;
    let body = json!({ "identifier": "owner", "password": PASSWORD });
    let signed_in = as_thief(&app, Method::POST, "/api/auth/login", body, None).await;
    let (access, _) = tokens_of(&signed_in);
    let deactivated =
        as_thief(&app, Method::POST, "/api/users/deactivate", json!({ "password": PASSWORD }), Some(&access)).await;
    assert_eq!(deactivated.status, StatusCode::OK, "{:?}", deactivated.body);

    let secured = secure(&app, &link_token(&app, "new_sign_in", "owner@example.org").await).await;
    assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
    let (owner_access, _) = tokens_of(&secured);
    assert_eq!(app.get("/api/auth/me", Some(&owner_access)).await.status, StatusCode::OK, "active again");
    let found = app.get("/api/users/search?q=owner", Some(&owner_access)).await;
    assert_eq!(found.body["items"][0]["username"], "owner", "found in search again: {:?}", found.body);
    assert_eq!(app.login_with("owner", NEW_PASSWORD).await.status, StatusCode::OK);
}
