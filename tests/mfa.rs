//! The second factor: enrolment, two-step sign-in, replay-proof codes, recovery codes,
//! the `aal`/`amr` claims and the operations that need a session that passed it.

use futures::future::join_all;
use http::{Method, StatusCode};
use serde_json::json;
use shared::domain::mfa;
use support::{tokens_of, TestApp, User, PASSWORD};

#[tokio::test]
async fn the_whole_flow_from_enrolment_to_a_two_step_sign_in() {
    let app = TestApp::new().await;
    app.freeze();
    let user = app.user("ada").await;
    let other = tokens_of(&app.login("ada").await).1;
    let claims = app.claims(&user.token);
    assert_eq!((claims.aal, claims.amr.clone()), (mfa::Aal::Aal1, vec!["pwd".to_owned()]));

    let wrong = app.post_as(&user, "/api/auth/mfa/totp/enroll", json!({ "password": "not-the-password-at-all" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CREDENTIALS");
    let enroll = app.post_as(&user, "/api/auth/mfa/totp/enroll", json!({ "password": PASSWORD })).await;
    assert_eq!(enroll.status, StatusCode::OK, "{:?}", enroll.body);
    let secret = enroll.body["secret"].as_str().unwrap();
    let uri = enroll.body["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Social:ada?") && uri.contains(secret), "{uri}");
    assert_eq!(app.get_as(&user, "/api/auth/mfa").await.body["enabled"], false, "pending is not on");

    let bad = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": "000000" })).await;
    assert_eq!((bad.status, bad.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_CODE"));
    let confirm = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(secret, 0) })).await;
    assert_eq!(confirm.status, StatusCode::OK, "{:?}", confirm.body);
    let codes = confirm.body["recoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let (upgraded, _) = tokens_of(&confirm);
    let claims = app.claims(&upgraded);
    assert_eq!((claims.aal, claims.amr), (mfa::Aal::Aal2, vec!["pwd".to_owned(), "otp".to_owned()]));
    assert_eq!(app.refresh(&other).await.error_code(), "INVALID_TOKEN", "other sessions end");
    let me = app.get("/api/auth/me", Some(&upgraded)).await;
    assert_eq!(me.body["mfaEnabled"], true);
    let status = app.get("/api/auth/mfa", Some(&upgraded)).await;
    assert_eq!(
        (status.body["enabled"].clone(), status.body["recoveryCodesRemaining"].clone()),
        (json!(true), json!(10))
    );
    assert!(status.body["enabledAt"].is_string());
    let notices: Vec<_> = app.outbox().await.into_iter().filter(|m| m.kind == "mfa_changed").collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].data["change"], "enabled");

    app.advance(chrono::Duration::seconds(mfa::STEP_SECS));
    let login = app.login("ada").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["methods"], json!(["totp", "recovery_code"]));
    assert!(login.body.get("accessToken").is_none() && login.body.get("user").is_none(), "{:?}", login.body);
    let mfa_token = login.body["mfaToken"].as_str().unwrap();
    let verified = app.verify(mfa_token, json!({ "code": app.code(secret, 0) })).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["user"]["mfaEnabled"], true);
    assert!(verified.body["deviceToken"].is_string());
    let (access, refresh) = tokens_of(&verified);
    assert_eq!(app.claims(&access).aal, mfa::Aal::Aal2);
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(app.claims(&tokens_of(&refreshed).0).aal, mfa::Aal::Aal2, "refresh keeps the level");
    assert_eq!(app.verify(mfa_token, json!({ "code": app.code(secret, 1) })).await.error_code(), "INVALID_TOKEN");
}

#[tokio::test]
async fn a_code_is_accepted_once_even_within_its_window() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let code = app.code(&ada.secret, 0);
    let first = app.verify(&app.challenge("ada").await, json!({ "code": code })).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let replay = app.verify(&app.challenge("ada").await, json!({ "code": code })).await;
    assert_eq!((replay.status, replay.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_CODE"));
    // Nor an earlier step's code, once a later step was used.
    let earlier = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, -1) })).await;
    assert_eq!(earlier.error_code(), "INVALID_CODE");
    let next = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 1) })).await;
    assert_eq!(next.status, StatusCode::OK, "one step of skew ahead");
}

#[tokio::test]
async fn two_concurrent_verifications_of_one_code_give_one_session() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let mut challenges = Vec::new();
    for _ in 0..4 {
        challenges.push(app.challenge("ada").await);
    }
    let code = app.code(&ada.secret, 0);
    let answers = join_all(challenges.iter().map(|t| app.verify(t, json!({ "code": code })))).await;
    let statuses: Vec<_> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(answers.iter().filter(|a| a.status != StatusCode::OK).all(|a| a.error_code() == "INVALID_CODE"));

    let recovery = &ada.recovery_codes[0];
    let mut challenges = Vec::new();
    for _ in 0..3 {
        challenges.push(app.challenge("ada").await);
    }
    let answers = join_all(challenges.iter().map(|t| app.verify(t, json!({ "recoveryCode": recovery })))).await;
    assert_eq!(answers.iter().filter(|a| a.status == StatusCode::OK).count(), 1, "a recovery code once, too");
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    // As typed from paper: upper case, spaces for the dash.
    let typed = ada.recovery_codes[3].to_uppercase().replace('-', " ");
    let used = app.verify(&app.challenge("ada").await, json!({ "recoveryCode": typed })).await;
    assert_eq!(used.status, StatusCode::OK, "{:?}", used.body);
    let (access, _) = tokens_of(&used);
    assert_eq!(app.claims(&access).aal, mfa::Aal::Aal2);
    let again = app.verify(&app.challenge("ada").await, json!({ "recoveryCode": ada.recovery_codes[3] })).await;
    assert_eq!(again.error_code(), "INVALID_CODE");
    assert_eq!(app.get("/api/auth/mfa", Some(&access)).await.body["recoveryCodesRemaining"], 9);
}

#[tokio::test]
async fn five_wrong_codes_end_the_challenge() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let token = app.challenge("ada").await;
    for _ in 0..5 {
        let wrong = app.verify(&token, json!({ "code": "000000" })).await;
        assert_eq!(wrong.error_code(), "INVALID_CODE");
    }
    let right = app.verify(&token, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!((right.status, right.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
    // A new sign-in gets a new challenge.
    let fresh = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(fresh.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_past_the_account_limit_are_refused_with_retry_after() {
    let app = TestApp::with_env(&[("RATE_LIMIT_MFA_FAILURES_PER_ACCOUNT", "3/3600")]).await;
    let ada = app.enrolled("ada").await;
    app.start_of_window(3600);
    for _ in 0..3 {
        assert_eq!(
            app.verify(&app.challenge("ada").await, json!({ "code": "000000" })).await.error_code(),
            "INVALID_CODE"
        );
    }
    let locked = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers.contains_key("retry-after"));
    // The wrong codes counted toward the account's failed sign-ins as well.
    let failed = app.state.store.limits().hits(
        "login-fail",
        &ada.user.id,
        app.state.config.rate_limits.failed_logins_per_account,
    );
    assert_eq!(failed.await.unwrap().hits, 3);
    app.advance(chrono::Duration::seconds(3600));
    let later = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(later.status, StatusCode::OK, "{:?}", later.body);
}

/// The security review's race: with the limit read before a code was checked and
/// counted after, 20 challenges × 5 wrong codes at once got 100 codes checked where
/// 10 an hour are allowed. Counted before the check, no more than the limit are.
#[tokio::test]
async fn parallel_wrong_codes_get_no_more_checks_than_the_account_limit() {
    // The address's own limits out of the way: this is about the account's.
    let app = TestApp::with_env(&[
        ("RATE_LIMIT_LOGIN_PER_IDENTIFIER", "100/300"),
        ("RATE_LIMIT_LOGIN_PER_IP", "100/300"),
        ("RATE_LIMIT_TOKEN_ATTEMPTS_PER_IP", "1000/300"),
    ])
    .await;
    let ada = app.enrolled("ada").await;
    app.start_of_window(3600);
    let limit = app.state.config.rate_limits.mfa_failures_per_account.max;
    let mut challenges = Vec::new();
    for _ in 0..20 {
        challenges.push(app.challenge("ada").await);
    }
    let app = &app;
    let guesses = challenges
        .iter()
        .flat_map(|token| (0..5).map(move |i| app.verify(token, json!({ "code": format!("00000{i}") }))));
    let answers = join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.error_code() == "INVALID_CODE").count();
    let refused = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked as i64 <= limit, "{checked} wrong codes checked, the limit is {limit}");
    let codes: Vec<&str> = answers.iter().map(|a| a.error_code()).collect();
    assert_eq!(checked as i64, limit, "every attempt within the limit is checked: {codes:?}");
    assert_eq!(
        checked + refused,
        100,
        "each guess was checked or refused: {:?}",
        answers.iter().map(|a| a.error_code()).collect::<Vec<_>>()
    );
    // The right code is refused too until the window ends: the limit holds for everyone.
    let locked = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
}

/// A guess the address's limit refuses looks at no code, and leaves the account's
/// limit as it was: only checked codes use it up.
#[tokio::test]
async fn guesses_refused_by_the_address_limit_do_not_use_up_the_account_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_TOKEN_ATTEMPTS_PER_IP", "2/300")]).await;
    let ada = app.enrolled("ada").await;
    app.start_of_window(3600);
    let token = app.challenge("ada").await;
    let answers: Vec<String> =
        futures::future::join_all((0..5).map(|i| app.verify(&token, json!({ "code": format!("00000{i}") }))))
            .await
            .iter()
            .map(|a| a.error_code().to_owned())
            .collect();
    let checked = answers.iter().filter(|c| *c == "INVALID_CODE").count();
    assert_eq!((checked, answers.len() - checked), (2, 3), "{answers:?}");
    let limit = app.state.config.rate_limits.mfa_failures_per_account;
    let used = app.state.store.limits().hits("mfa-fail", &ada.user.id, limit).await.unwrap().hits;
    assert_eq!(used, 2, "the refused guesses took nothing from the account's limit");
}

/// A right code gives its counted attempt back: the limit counts wrong codes only.
#[tokio::test]
async fn right_codes_do_not_use_up_the_account_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_MFA_FAILURES_PER_ACCOUNT", "2/3600")]).await;
    let ada = app.enrolled("ada").await;
    app.start_of_window(3600);
    for step in 0..4 {
        app.advance(chrono::Duration::seconds(mfa::STEP_SECS));
        let token = app.challenge("ada").await;
        let right = app.verify(&token, json!({ "code": app.code(&ada.secret, 0) })).await;
        assert_eq!(right.status, StatusCode::OK, "sign-in {step}: {:?}", right.body);
    }
    let limit = app.state.config.rate_limits.mfa_failures_per_account;
    assert_eq!(app.state.store.limits().hits("mfa-fail", &ada.user.id, limit).await.unwrap().hits, 0);
}

/// Confirming an enrolment is a check of a code like any other: counted before it is
/// looked at, refused past the account's limit.
#[tokio::test]
async fn confirming_an_enrolment_counts_wrong_codes_against_the_account_limit() {
    let app = TestApp::with_env(&[("RATE_LIMIT_MFA_FAILURES_PER_ACCOUNT", "3/3600")]).await;
    app.freeze();
    app.start_of_window(3600);
    let ada = app.user("ada").await;
    let secret = app.enroll(&ada).await;
    let guesses =
        (0..8).map(|i| app.post_as(&ada, "/api/auth/mfa/totp/confirm", json!({ "code": format!("99999{i}") })));
    let answers = join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.error_code() == "INVALID_CODE").count();
    let refused = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (3, 5), "{:?}", answers.iter().map(|a| a.error_code()).collect::<Vec<_>>());
    let right = app.post_as(&ada, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&secret, 0) })).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "locked until the window ends");
    app.advance(chrono::Duration::seconds(3600));
    let secret = app.enroll(&ada).await;
    let right = app.post_as(&ada, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&secret, 0) })).await;
    assert_eq!(right.status, StatusCode::OK, "{:?}", right.body);
}

#[tokio::test]
async fn a_session_without_the_second_factor_cannot_change_what_guards_the_account() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let token = app.aal1_session(&ada.user).await;
    assert_eq!(app.get("/api/auth/me", Some(&token)).await.status, StatusCode::OK, "a live session");
    let code = app.code(&ada.secret, 0);
    for (path, body) in [
        ("/api/auth/change-password", json!({ "currentPassword": PASSWORD, "newPassword": "quartz-meadow-harbor-58" })),
        ("/api/users/deactivate", json!({ "password": PASSWORD })),
        ("/api/auth/change-email", json!({ "newEmail": "ada@new.example", "password": PASSWORD })),
        ("/api/users/me/export", json!({})),
        ("/api/auth/mfa/disable", json!({ "password": PASSWORD, "code": code })),
        ("/api/auth/mfa/recovery-codes", json!({ "code": code })),
    ] {
        let refused = app.call(Method::POST, path, Some(body), Some(&token)).await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::FORBIDDEN, "MFA_REQUIRED"), "{path}");
    }
    assert_eq!(app.get_as(&ada.user, "/api/auth/mfa").await.body["enabled"], true, "still on");
    let changed = app
        .post_as(
            &ada.user,
            "/api/auth/change-password",
            json!({ "currentPassword": PASSWORD, "newPassword": "quartz-meadow-harbor-58" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "the aal2 session may: {:?}", changed.body);
    assert_eq!(app.claims(&tokens_of(&changed).0).aal, mfa::Aal::Aal2, "and keeps its level");
}

#[tokio::test]
async fn a_password_reset_leaves_the_second_factor_on() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let pending = app.challenge("ada").await;
    app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let token = app.outbox_token("reset_password", &ada.user.id).await;
    let new_password = "quartz-meadow-harbor-58";
    let reset = app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": new_password })).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let login = app.login_with("ada", new_password).await;
    assert_eq!(login.body["mfaRequired"], true, "{:?}", login.body);
    let stale = app.verify(&pending, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(stale.error_code(), "INVALID_TOKEN", "a challenge from before the reset is over");
    let verified = app.verify(login.body["mfaToken"].as_str().unwrap(), json!({ "code": app.code(&ada.secret, 0) }));
    assert_eq!(verified.await.status, StatusCode::OK);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let wrong = app.post_as(&ada.user, "/api/auth/mfa/recovery-codes", json!({ "code": "000000" })).await;
    assert_eq!(wrong.error_code(), "INVALID_CODE");
    let fresh =
        app.post_as(&ada.user, "/api/auth/mfa/recovery-codes", json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.body);
    let codes = fresh.body["recoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let old = app.verify(&app.challenge("ada").await, json!({ "recoveryCode": ada.recovery_codes[0] })).await;
    assert_eq!(old.error_code(), "INVALID_CODE");
    let new = app.verify(&app.challenge("ada").await, json!({ "recoveryCode": codes[0] })).await;
    assert_eq!(new.status, StatusCode::OK);
    let changes: Vec<_> =
        app.outbox().await.into_iter().filter(|m| m.kind == "mfa_changed").map(|m| m.data["change"].clone()).collect();
    assert!(changes.contains(&"recovery_codes".to_owned()), "{changes:?}");
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let no_proof = app.post_as(&ada.user, "/api/auth/mfa/disable", json!({ "password": PASSWORD })).await;
    assert_eq!(no_proof.status, StatusCode::BAD_REQUEST);
    let both = json!({ "password": PASSWORD, "code": "123456", "recoveryCode": "abcde-fghjk" });
    assert_eq!(app.post_as(&ada.user, "/api/auth/mfa/disable", both).await.detail_fields(), vec!["recoveryCode"]);
    let wrong_password = json!({ "password": "not-the-password-at-all", "code": app.code(&ada.secret, 0) });
    assert_eq!(
        app.post_as(&ada.user, "/api/auth/mfa/disable", wrong_password).await.error_code(),
        "INVALID_CREDENTIALS"
    );
    let off = app.post_as(
        &ada.user,
        "/api/auth/mfa/disable",
        json!({ "password": PASSWORD, "code": app.code(&ada.secret, 0) }),
    );
    assert_eq!(off.await.status, StatusCode::OK);
    let status = app.get_as(&ada.user, "/api/auth/mfa").await;
    assert_eq!(status.body, json!({ "enabled": false, "enabledAt": null, "recoveryCodesRemaining": 0, "passkeys": 0 }));
    let login = app.login("ada").await;
    assert!(login.body["accessToken"].is_string(), "a password alone signs in again");
    assert_eq!(login.body["user"]["mfaEnabled"], false);
    let again = app.post_as(&ada.user, "/api/auth/mfa/disable", json!({ "password": PASSWORD, "code": "123456" }));
    assert_eq!(again.await.error_code(), "MFA_NOT_ENABLED");
    let changes: Vec<_> =
        app.outbox().await.into_iter().filter(|m| m.kind == "mfa_changed").map(|m| m.data["change"].clone()).collect();
    assert_eq!(changes.iter().filter(|c| *c == "disabled").count(), 1);
}

#[tokio::test]
async fn enrolment_rules() {
    let app = TestApp::new().await;
    app.freeze();
    let user = app.user("ada").await;
    let nothing = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": "123456" })).await;
    assert_eq!((nothing.status, nothing.error_code()), (StatusCode::CONFLICT, "MFA_NOT_ENABLED"));
    let first = app.enroll(&user).await;
    let second = app.enroll(&user).await;
    assert_ne!(first, second, "a new enrolment replaces the pending one");
    let old = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&first, 0) })).await;
    assert_eq!(old.error_code(), "INVALID_CODE");
    app.advance(chrono::Duration::seconds(mfa::ENROLMENT_SECS + 1));
    let late = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&second, 0) })).await;
    assert_eq!(late.error_code(), "MFA_NOT_ENABLED", "the enrolment expired");
    let third = app.enroll(&user).await;
    let on = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&third, 0) })).await;
    assert_eq!(on.status, StatusCode::OK);
    let user = User { token: tokens_of(&on).0, ..user };
    let again = app.post_as(&user, "/api/auth/mfa/totp/enroll", json!({ "password": PASSWORD })).await;
    assert_eq!((again.status, again.error_code()), (StatusCode::CONFLICT, "MFA_ALREADY_ENABLED"));
    let twice = app.post_as(&user, "/api/auth/mfa/totp/confirm", json!({ "code": app.code(&third, 1) })).await;
    assert_eq!(twice.error_code(), "MFA_ALREADY_ENABLED");
}

#[tokio::test]
async fn bad_verify_requests_are_clear_errors() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let token = app.challenge("ada").await;
    let both = app.verify(&token, json!({ "code": "123456", "recoveryCode": ada.recovery_codes[0] })).await;
    assert_eq!((both.status, both.detail_fields()), (StatusCode::BAD_REQUEST, vec!["recoveryCode".to_owned()]));
    let neither = app.post("/api/auth/mfa/verify", json!({ "mfaToken": token })).await;
    assert_eq!(neither.detail_fields(), vec!["code"]);
    for forged in ["x", &"A".repeat(43), &"é".repeat(100)] {
        let answer = app.verify(forged, json!({ "code": "123456" })).await;
        assert_eq!((answer.status, answer.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"), "{forged}");
    }
    let right = app.verify(&token, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(right.status, StatusCode::OK, "the bad requests used no attempt of the challenge");
}

#[tokio::test]
async fn reactivation_asks_for_the_second_factor_too() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let gone = app.post_as(&ada.user, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    let login = app.login("ada").await;
    assert_eq!(login.error_code(), "ACCOUNT_DEACTIVATED");
    let reactivate = app.post("/api/auth/reactivate", json!({ "identifier": "ada", "password": PASSWORD })).await;
    assert_eq!(reactivate.body["mfaRequired"], true, "{:?}", reactivate.body);
    assert_eq!(app.get("/api/users/by-username/ada", None).await.status, StatusCode::NOT_FOUND, "still deactivated");
    let token = reactivate.body["mfaToken"].as_str().unwrap();
    let back = app.verify(token, json!({ "code": app.code(&ada.secret, 0) })).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(app.claims(&tokens_of(&back).0).aal, mfa::Aal::Aal2);
    assert_eq!(app.get("/api/users/by-username/ada", None).await.status, StatusCode::OK, "active again");
}

#[tokio::test]
async fn a_known_device_gets_its_token_back_and_its_wrong_codes_spare_the_account_cap() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let first = app.verify(&app.challenge("ada").await, json!({ "code": app.code(&ada.secret, 0) })).await;
    let device = first.body["deviceToken"].as_str().unwrap().to_owned();
    app.advance(chrono::Duration::seconds(mfa::STEP_SECS));
    let login =
        app.post("/api/auth/login", json!({ "identifier": "ada", "password": PASSWORD, "deviceToken": device })).await;
    let token = login.body["mfaToken"].as_str().unwrap();
    assert_eq!(app.verify(token, json!({ "code": "000000" })).await.error_code(), "INVALID_CODE");
    let limit = app.state.config.rate_limits.failed_logins_per_account;
    assert_eq!(app.state.store.limits().hits("login-fail", &ada.user.id, limit).await.unwrap().hits, 0);
    let done = app.verify(token, json!({ "code": app.code(&ada.secret, 0), "deviceToken": device })).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["deviceToken"], device.as_str(), "the device keeps its token");
}

#[tokio::test]
async fn secrets_and_recovery_codes_are_not_stored_in_the_clear() {
    let app = TestApp::new().await;
    let ada = app.enrolled("ada").await;
    let raw = base32_decode(&ada.secret);
    let dump = format!("{:?}", app.all_items().await);
    assert!(!dump.contains(&ada.secret), "the base32 secret");
    for code in &ada.recovery_codes {
        assert!(!dump.contains(code) && !dump.contains(&code.replace('-', "")), "a recovery code");
    }
    let factor = app.state.store.factors().totp_factor(&ada.user.id).await.unwrap().unwrap();
    assert!(factor.sealed_secret.starts_with("v1."));
    let vault = shared::vault::Vault::new(support::TEST_MFA_SECRET);
    assert_eq!(vault.open(&ada.user.id, &factor.sealed_secret).unwrap(), raw);
    assert!(shared::vault::Vault::new(b"some other key, thirty-two bytes+")
        .open(&ada.user.id, &factor.sealed_secret)
        .is_err());
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.chars() {
        value = (value << 5) | ALPHABET.find(c).unwrap() as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}
