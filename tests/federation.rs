//! Sign-in with an OpenID provider, against a mock provider on 127.0.0.1 with its own
//! keys (`local_server::mock_oidc`): the native flow (an app's ID token), the web flow
//! (authorize → provider → callback → loginCode → exchange), the three outcomes, every
//! refusal, linking only after the owner signs in, and unlinking.

use http::{Method, StatusCode};
use local_server::mock_oidc::{MockPerson, MockProvider};
use serde_json::{json, Value};
use support::{TestApp, TestResponse, User, PASSWORD};

const APP_PAGE: &str = "http://localhost:3000/signed-in";
const NONCE: &str = "a-nonce-of-the-app-0123456789";

struct Fed {
    app: TestApp,
    mock: MockProvider,
}

async fn fed() -> Fed {
    let mock = MockProvider::start(shared::clock::Clock::default()).await.unwrap();
    let providers = json!([{ "id": "mock", "issuer": mock.issuer, "clientIds": ["web-client", "ios-client"], "clientSecret": "s3cret" }]);
    let app =
        TestApp::with_env(&[("FEDERATION_PROVIDERS", &providers.to_string()), ("FEDERATION_REDIRECT_URIS", APP_PAGE)])
            .await;
    mock.use_clock(app.clock.clone());
    mock.require_client_secret("s3cret");
    Fed { app, mock }
}

impl Fed {
    /// The native flow with an ID token for `client_id`, bent by `overrides`.
    async fn token_with(&self, client_id: &str, overrides: Value) -> TestResponse {
        let id_token = self.mock.id_token(client_id, NONCE, overrides).unwrap();
        self.app.post("/api/auth/federated/mock/token", json!({ "idToken": id_token, "nonce": NONCE })).await
    }

    async fn token(&self) -> TestResponse {
        self.token_with("ios-client", json!({})).await
    }

    /// The web flow through the mock provider: the callback's redirect to the app.
    async fn web_flow(&self) -> url::Url {
        let authorize = self.app.get(&format!("/api/auth/federated/mock/authorize?redirectUri={APP_PAGE}"), None).await;
        assert_eq!(authorize.status, StatusCode::FOUND, "{:?}", authorize.body);
        let at_provider = location(&authorize);
        let query: std::collections::HashMap<_, _> = at_provider.query_pairs().into_owned().collect();
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(query.contains_key("state") && query.contains_key("nonce") && query.contains_key("code_challenge"));
        assert_eq!(query["client_id"], "web-client");
        // The browser at the provider, which signs the person in and sends it back.
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let request =
            http::Request::get(at_provider.as_str()).body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
        let back = client.request(request).await.unwrap();
        assert_eq!(back.status(), StatusCode::FOUND);
        let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        assert!(callback.path().ends_with("/api/auth/federated/mock/callback"), "{callback}");
        let returned = self.app.get(&format!("{}?{}", callback.path(), callback.query().unwrap()), None).await;
        assert_eq!(returned.status, StatusCode::FOUND, "{:?}", returned.body);
        location(&returned)
    }
}

fn location(response: &TestResponse) -> url::Url {
    url::Url::parse(response.headers["location"].to_str().unwrap()).unwrap()
}

fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn sign_up(app: &TestApp, signup_token: &str, username: &str) -> TestResponse {
    let body = json!({ "signupToken": signup_token, "username": username, "agreeToTerms": true });
    app.post("/api/auth/federated/signup", body).await
}

#[tokio::test]
async fn a_new_person_signs_up_then_signs_in_with_the_provider() {
    let fed = fed().await;
    let first = fed.token().await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["signupRequired"], true);
    assert_eq!(first.body["email"], "ada@example.org");
    assert_eq!(first.body["suggestedUsername"], "ada");
    let signed_up = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "ada_fed").await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{:?}", signed_up.body);
    let user = &signed_up.body["user"];
    assert_eq!((user["hasPassword"].clone(), user["isVerified"].clone()), (json!(false), json!(true)));
    assert_eq!(user["firstName"], "Ada");
    let claims = fed.app.claims(signed_up.body["accessToken"].as_str().unwrap());
    assert_eq!(claims.amr, ["fed"]);
    // The token is used up.
    let again = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "ada_other").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);

    let signed_in = fed.token().await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    assert_eq!(signed_in.body["user"]["username"], "ada_fed");
    let access = signed_in.body["accessToken"].as_str().unwrap();
    let claims = fed.app.claims(access);
    assert_eq!((claims.amr, serde_json::to_value(claims.aal).unwrap()), (vec!["fed".to_owned()], json!("aal1")));
    let identities = fed.app.get("/api/auth/identities", Some(access)).await;
    assert_eq!(identities.body["items"][0]["provider"], "mock");
    assert!(identities.body["items"][0]["lastUsedAt"].is_string());
    // No password: a password sign-in is the same 401 as a wrong one.
    let by_password = fed
        .app
        .post("/api/auth/login", json!({ "identifier": "ada_fed", "password": "any password at all 123" }))
        .await;
    assert_eq!(by_password.status, StatusCode::UNAUTHORIZED, "{:?}", by_password.body);
    let providers = fed.app.get("/api/auth/federated/providers", None).await;
    assert_eq!(providers.body["items"][0]["id"], "mock");
}

#[tokio::test]
async fn every_bad_id_token_is_refused() {
    let fed = fed().await;
    let now = fed.app.clock.now().timestamp();
    for (what, overrides) in [
        ("another issuer", json!({ "iss": "http://127.0.0.1:1" })),
        ("another audience", json!({ "aud": "someone-elses-client" })),
        ("expired", json!({ "exp": now - 60, "iat": now - 700 })),
        ("issued in the future", json!({ "iat": now + 600, "exp": now + 1200 })),
        ("issued over 10 minutes ago", json!({ "iat": now - 900 })),
        ("another nonce", json!({ "nonce": "not the app's" })),
        ("no nonce", json!({ "nonce": null })),
    ] {
        let refused = fed.token_with("web-client", overrides).await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"), "{what}");
    }
    let forged = fed.mock.forged_id_token("web-client", NONCE).unwrap();
    let refused = fed.app.post("/api/auth/federated/mock/token", json!({ "idToken": forged, "nonce": NONCE })).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a bad signature");
    let garbage = fed.app.post("/api/auth/federated/mock/token", json!({ "idToken": "a.b.c", "nonce": NONCE })).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    let unknown = fed.app.post("/api/auth/federated/nobody/token", json!({ "idToken": "a.b.c", "nonce": NONCE })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Accepted once: the same token again is a replay.
    let id_token = fed.mock.id_token("web-client", NONCE, json!({})).unwrap();
    let body = json!({ "idToken": id_token, "nonce": NONCE });
    assert_eq!(fed.app.post("/api/auth/federated/mock/token", body.clone()).await.status, StatusCode::OK);
    let replayed = fed.app.post("/api/auth/federated/mock/token", body).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "{:?}", replayed.body);
}

#[tokio::test]
async fn rotated_keys_are_fetched_on_an_unknown_key_id_at_most_once_a_minute() {
    let fed = fed().await;
    assert_eq!(fed.token().await.status, StatusCode::OK, "the keys are fetched and cached");
    // A key the provider does not publish yet: the keys were fetched moments ago, so
    // they are not fetched again; refused.
    fed.mock.rotate_keys(false).unwrap();
    assert_eq!(fed.token().await.status, StatusCode::UNAUTHORIZED);
    // Published now, but the keys were fetched less than a minute ago: no new fetch.
    fed.mock.publish_signing_key();
    fed.app.advance(chrono::Duration::seconds(30));
    assert_eq!(fed.token().await.status, StatusCode::UNAUTHORIZED, "at most once a minute");
    fed.app.advance(chrono::Duration::seconds(31));
    let rotated = fed.token().await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
}

#[tokio::test]
async fn the_web_flow_brings_a_login_code_back_to_the_app() {
    let fed = fed().await;
    let back = fed.web_flow().await;
    assert!(back.as_str().starts_with(APP_PAGE), "{back}");
    let code = query_value(&back, "loginCode").expect("a login code");
    let exchanged = fed.app.post("/api/auth/federated/exchange", json!({ "loginCode": code })).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{:?}", exchanged.body);
    assert_eq!(exchanged.body["signupRequired"], true);
    let reused = fed.app.post("/api/auth/federated/exchange", json!({ "loginCode": code })).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED, "a login code is used once");
    // The code expires within a minute.
    let code = query_value(&fed.web_flow().await, "loginCode").unwrap();
    fed.app.advance(chrono::Duration::seconds(61));
    let late = fed.app.post("/api/auth/federated/exchange", json!({ "loginCode": code })).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_web_flow_refuses_foreign_redirects_states_and_codes() {
    let fed = fed().await;
    let elsewhere = fed.app.get("/api/auth/federated/mock/authorize?redirectUri=https://evil.example/cb", None).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST, "no open redirect");
    let missing = fed.app.get("/api/auth/federated/mock/authorize", None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let forged_state = fed
        .app
        .get("/api/auth/federated/mock/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None)
        .await;
    assert_eq!(forged_state.status, StatusCode::UNAUTHORIZED);

    // A state used once; the person refusing at the provider; a code the provider never gave.
    let authorize = fed.app.get(&format!("/api/auth/federated/mock/authorize?redirectUri={APP_PAGE}"), None).await;
    let state = query_value(&location(&authorize), "state").unwrap();
    let denied =
        fed.app.get(&format!("/api/auth/federated/mock/callback?error=access_denied&state={state}"), None).await;
    assert_eq!(denied.status, StatusCode::FOUND);
    assert_eq!(query_value(&location(&denied), "error").as_deref(), Some("access_denied"));
    let again = fed.app.get(&format!("/api/auth/federated/mock/callback?code=x&state={state}"), None).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a state is used once");
    let authorize = fed.app.get(&format!("/api/auth/federated/mock/authorize?redirectUri={APP_PAGE}"), None).await;
    let state = query_value(&location(&authorize), "state").unwrap();
    let bad_code = fed.app.get(&format!("/api/auth/federated/mock/callback?code=made-up&state={state}"), None).await;
    assert_eq!(query_value(&location(&bad_code), "error").as_deref(), Some("invalid_token"));
}

#[tokio::test]
async fn an_email_of_an_account_is_never_linked_without_its_owner_signing_in() {
    let fed = fed().await;
    let owner = fed.app.user("ada").await; // ada@example.org, with a password
    let stranger = fed.app.user("mallory").await;
    let exists = fed.token().await;
    assert_eq!((exists.status, exists.error_code()), (StatusCode::CONFLICT, "ACCOUNT_EXISTS"), "{:?}", exists.body);
    let link_token = exists.body["error"]["linkToken"].as_str().expect("a link token").to_owned();
    // Not signed in; signed in as another account: nothing is linked.
    let anonymous = fed.app.post("/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let foreign = fed.app.post_as(&stranger, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED, "{:?}", foreign.body);
    // Still not linked: the provider's sign-in is refused again.
    assert_eq!(fed.token().await.status, StatusCode::CONFLICT);
    // The owner, signed in, redeems it.
    let linked = fed.app.post_as(&owner, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    assert_eq!(linked.body["provider"], "mock");
    let used = fed.app.post_as(&owner, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(used.status, StatusCode::UNAUTHORIZED, "a link token is used once");
    let signed_in = fed.token().await;
    assert_eq!(signed_in.body["user"]["id"], owner.id.as_str(), "{:?}", signed_in.body);
    let notices = fed.app.outbox().await;
    assert!(notices
        .iter()
        .any(|m| m.kind == "identity_changed" && m.user_id == owner.id && m.data.contains_key("token")));
    let history: Vec<Value> =
        fed.app.get_as(&owner, "/api/auth/security-events").await.body["items"].as_array().unwrap().clone();
    assert!(history.iter().any(|e| e["type"] == "identity_linked"));
}

#[tokio::test]
async fn the_second_factor_is_still_asked_after_a_provider() {
    let fed = fed().await;
    let enrolled = fed.app.enrolled("ada").await;
    let link_token = fed.token().await.body["error"]["linkToken"].as_str().unwrap().to_owned();
    let linked = fed.app.post_as(&enrolled.user, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    let challenged = fed.token().await;
    assert_eq!(challenged.body["mfaRequired"], true, "{:?}", challenged.body);
    let verified = fed
        .app
        .verify(challenged.body["mfaToken"].as_str().unwrap(), json!({ "code": fed.app.code(&enrolled.secret, 0) }))
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(fed.app.claims(verified.body["accessToken"].as_str().unwrap()).amr, ["fed", "otp"]);
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let fed = fed().await;
    let first = fed.token().await;
    let signed_up = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "ada_fed").await;
    let access = signed_up.body["accessToken"].as_str().unwrap();
    let refused = fed.app.call(Method::DELETE, "/api/auth/identities/mock", None, Some(access)).await;
    assert_eq!((refused.status, refused.error_code()), (StatusCode::CONFLICT, "CONFLICT"), "{:?}", refused.body);
    let missing = fed.app.call(Method::DELETE, "/api/auth/identities/other", None, Some(access)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // With a password (set through forgot / reset), it can go.
    fed.app.post("/api/auth/forgot-password", json!({ "email": "ada@example.org" })).await;
    let token = fed.app.outbox_token("reset_password", signed_up.body["user"]["id"].as_str().unwrap()).await;
    let reset = fed.app.post("/api/auth/reset-password", json!({ "token": token, "newPassword": PASSWORD })).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    let login = fed.app.login_with("ada_fed", PASSWORD).await;
    assert_eq!(login.body["user"]["hasPassword"], true, "{:?}", login.body);
    let user = User {
        id: login.body["user"]["id"].as_str().unwrap().into(),
        token: login.body["accessToken"].as_str().unwrap().into(),
        name: "ada_fed".into(),
    };
    let unlinked = fed.app.call(Method::DELETE, "/api/auth/identities/mock", None, Some(&user.token)).await;
    assert_eq!(unlinked.status, StatusCode::NO_CONTENT, "{:?}", unlinked.body);
    assert_eq!(fed.app.get_as(&user, "/api/auth/identities").await.body["items"], json!([]));
    // Unlinked: the provider's identity is a stranger again (its email is the account's).
    assert_eq!(fed.token().await.error_code(), "ACCOUNT_EXISTS");
}

#[tokio::test]
async fn an_identity_without_an_email_or_of_a_new_person_elsewhere() {
    let fed = fed().await;
    fed.mock.sign_in_as(MockPerson { email: None, ..MockPerson::default() });
    let refused = fed.token().await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "no account can be found or made without an email");
    fed.mock.sign_in_as(MockPerson {
        subject: "2".into(),
        email: Some("grace@example.org".into()),
        email_verified: false,
        given_name: None,
    });
    let first = fed.token().await;
    let signed_up = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "grace").await;
    assert_eq!(signed_up.body["user"]["isVerified"], false, "the provider did not vouch for the address");
    let taken = fed.token().await;
    assert_eq!(taken.status, StatusCode::OK, "{:?}", taken.body);
}

#[tokio::test]
async fn an_account_without_a_password_confirms_with_a_fresh_sign_in() {
    let fed = fed().await;
    let first = fed.token().await;
    let signed_up = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "ada_fed").await;
    let access = signed_up.body["accessToken"].as_str().unwrap().to_owned();
    // Signed in just now: enrolling an authenticator needs no password.
    let enroll = fed.app.call(Method::POST, "/api/auth/mfa/totp/enroll", Some(json!({})), Some(&access)).await;
    assert_eq!(enroll.status, StatusCode::OK, "{:?}", enroll.body);
    // Eleven minutes on, the same session no longer confirms anything.
    fed.app.advance(chrono::Duration::minutes(11));
    let (fresh_access, _) =
        support::tokens_of(&fed.app.refresh(signed_up.body["refreshToken"].as_str().unwrap()).await);
    let stale = fed
        .app
        .call(Method::POST, "/api/auth/change-password", Some(json!({ "newPassword": PASSWORD })), Some(&fresh_access))
        .await;
    assert_eq!((stale.status, stale.error_code()), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{:?}", stale.body);
    // A new sign-in with the provider confirms again: the first password is set.
    let again = fed.token().await;
    let access = again.body["accessToken"].as_str().unwrap();
    let set = fed
        .app
        .call(Method::POST, "/api/auth/change-password", Some(json!({ "newPassword": PASSWORD })), Some(access))
        .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    let login = fed.app.login_with("ada_fed", PASSWORD).await;
    assert_eq!(login.body["user"]["hasPassword"], true);
    // With a password, it is asked for again.
    let access = login.body["accessToken"].as_str().unwrap();
    let missing = fed.app.call(Method::POST, "/api/users/deactivate", Some(json!({})), Some(access)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{:?}", missing.body);
}

#[tokio::test]
async fn securing_the_account_unlinks_an_identity_a_thief_linked() {
    let fed = fed().await;
    fed.app.freeze();
    let owner = fed.app.user("ada").await;
    // The thief has the password, and an identity at a lax provider with the owner's address.
    let thief =
        User { token: fed.app.login("ada").await.body["accessToken"].as_str().unwrap().to_owned(), ..owner.clone() };
    fed.app.advance(chrono::Duration::seconds(30));
    let link_token = fed.token().await.body["error"]["linkToken"].as_str().unwrap().to_owned();
    let linked = fed.app.post_as(&thief, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    assert_eq!(fed.token().await.body["user"]["id"], owner.id.as_str(), "the thief's way in");

    let notices = fed.app.outbox().await;
    let notice = notices.iter().find(|m| m.kind == "identity_changed" && m.data.contains_key("token")).unwrap();
    let body = json!({ "token": notice.data["token"], "newPassword": support::NEW_PASSWORD });
    let secured = fed.app.post("/api/auth/secure-account", body).await;
    assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
    assert_eq!(secured.body["details"]["identitiesRemoved"], 1);
    let refused = fed.token().await;
    assert_eq!(refused.error_code(), "ACCOUNT_EXISTS", "unlinked: the identity is a stranger again");
}

#[tokio::test]
async fn a_provider_whose_sdks_hash_the_nonce_gets_the_raw_one_from_the_app() {
    let mock = MockProvider::start(shared::clock::Clock::default()).await.unwrap();
    // Apple's way: the app hands the SDK sha256(nonce) in hex, the token carries that.
    let providers = json!([{ "id": "hashing", "issuer": mock.issuer, "clientIds": ["app"], "nonceHashed": true }]);
    let app = TestApp::with_env(&[("FEDERATION_PROVIDERS", &providers.to_string())]).await;
    mock.use_clock(app.clock.clone());
    use sha2::Digest as _;
    let hashed: String = sha2::Sha256::digest(NONCE.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let id_token = mock.id_token("app", &hashed, json!({})).unwrap();
    let accepted = app.post("/api/auth/federated/hashing/token", json!({ "idToken": id_token, "nonce": NONCE })).await;
    assert_eq!(accepted.status, StatusCode::OK, "{:?}", accepted.body);
    // The hash itself sent as the nonce does not match (it is hashed again).
    let id_token = mock.id_token("app", &hashed, json!({})).unwrap();
    let refused = app.post("/api/auth/federated/hashing/token", json!({ "idToken": id_token, "nonce": hashed })).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

/// `reactivate` with the offer that a provider's sign-in (`offered`, checked to be a 403) made.
async fn reactivate_offered(fed: &Fed, offered: &TestResponse) -> TestResponse {
    assert_eq!(
        (offered.status, offered.error_code()),
        (StatusCode::FORBIDDEN, "ACCOUNT_DEACTIVATED"),
        "{:?}",
        offered.body
    );
    let token = offered.body["error"]["reactivationToken"].as_str().expect("an offer within the window");
    fed.app.post("/api/auth/reactivate", json!({ "reactivationToken": token })).await
}

#[tokio::test]
async fn an_account_without_a_password_is_reactivated_with_its_provider() {
    let fed = fed().await;
    fed.app.freeze();
    let first = fed.token().await;
    let signed_up = sign_up(&fed.app, first.body["signupToken"].as_str().unwrap(), "ada_fed").await;
    let access = signed_up.body["accessToken"].as_str().unwrap();
    // Signed in just now: no password to give.
    let gone = fed.app.call(Method::POST, "/api/users/deactivate", Some(json!({})), Some(access)).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);

    let offered = fed.token().await;
    let token = offered.body["error"]["reactivationToken"].as_str().unwrap_or_default();
    assert_eq!(fed.app.get("/api/users/by-username/ada_fed", None).await.status, StatusCode::NOT_FOUND, "offered only");
    let both = json!({ "reactivationToken": token, "identifier": "ada_fed", "password": PASSWORD });
    let both = fed.app.post("/api/auth/reactivate", both).await;
    assert_eq!((both.status, both.error_code()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{:?}", both.body);
    let back = reactivate_offered(&fed, &offered).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(back.body["user"]["username"], "ada_fed");
    assert_eq!(fed.app.claims(back.body["accessToken"].as_str().unwrap()).amr, ["fed"]);
    assert_eq!(fed.app.get("/api/users/by-username/ada_fed", None).await.status, StatusCode::OK, "active again");
    let again = reactivate_offered(&fed, &offered).await;
    assert_eq!((again.status, again.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"), "single use");
    let signed_in = fed.token().await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);

    // The web flow offers it too; past the window, nothing is offered.
    let access = signed_in.body["accessToken"].as_str().unwrap();
    let gone = fed.app.call(Method::POST, "/api/users/deactivate", Some(json!({})), Some(access)).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    let code = query_value(&fed.web_flow().await, "loginCode").unwrap();
    let exchanged = fed.app.post("/api/auth/federated/exchange", json!({ "loginCode": code })).await;
    assert!(exchanged.body["error"]["reactivationToken"].is_string(), "{:?}", exchanged.body);
    fed.app.advance(chrono::Duration::days(31));
    let late = fed.token().await;
    assert_eq!((late.status, late.error_code()), (StatusCode::FORBIDDEN, "ACCOUNT_DEACTIVATED"), "{:?}", late.body);
    assert!(late.body["error"].get("reactivationToken").is_none(), "{:?}", late.body);
}

#[tokio::test]
async fn reactivating_with_a_provider_still_asks_the_second_factor() {
    let fed = fed().await;
    let enrolled = fed.app.enrolled("ada").await;
    let link_token = fed.token().await.body["error"]["linkToken"].as_str().unwrap().to_owned();
    let linked = fed.app.post_as(&enrolled.user, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    let gone = fed.app.post_as(&enrolled.user, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);

    let offered = fed.token().await;
    let challenged = reactivate_offered(&fed, &offered).await;
    assert_eq!(challenged.body["mfaRequired"], true, "{:?}", challenged.body);
    assert_eq!(fed.app.get("/api/users/by-username/ada", None).await.status, StatusCode::NOT_FOUND, "not yet");
    let code = json!({ "code": fed.app.code(&enrolled.secret, 0) });
    let back = fed.app.verify(challenged.body["mfaToken"].as_str().unwrap(), code).await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(fed.app.claims(back.body["accessToken"].as_str().unwrap()).amr, ["fed", "otp"]);
    assert_eq!(fed.app.get("/api/users/by-username/ada", None).await.status, StatusCode::OK, "active again");
}

#[tokio::test]
async fn an_offer_ends_when_the_account_is_reactivated_another_way() {
    let fed = fed().await;
    let owner = fed.app.user("ada").await;
    let link_token = fed.token().await.body["error"]["linkToken"].as_str().unwrap().to_owned();
    let linked = fed.app.post_as(&owner, "/api/auth/federated/link", json!({ "linkToken": link_token })).await;
    assert_eq!(linked.status, StatusCode::OK, "{:?}", linked.body);
    let gone = fed.app.post_as(&owner, "/api/users/deactivate", json!({ "password": PASSWORD })).await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);

    let offered = fed.token().await;
    let by_password = fed.app.post("/api/auth/reactivate", json!({ "identifier": "ada", "password": PASSWORD })).await;
    assert_eq!(by_password.status, StatusCode::OK, "{:?}", by_password.body);
    let late = reactivate_offered(&fed, &offered).await;
    assert_eq!((late.status, late.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"), "{:?}", late.body);
    let unknown = fed.app.post("/api/auth/reactivate", json!({ "reactivationToken": "not-one-of-ours" })).await;
    assert_eq!((unknown.status, unknown.error_code()), (StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
}

/// The thief's sign-in with the password, from another browser and address: the owner
/// is told (`new_sign_in`, with the link that takes the account back). Its access token.
async fn thiefs_sign_in(app: &TestApp, username: &str) -> String {
    let body = json!({ "identifier": username, "password": PASSWORD });
    let mut request = http::Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let addr: std::net::SocketAddr = "198.51.100.66:443".parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    let signed_in = app.send(request).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{:?}", signed_in.body);
    signed_in.body["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn securing_racing_the_thiefs_link_leaves_no_identity_of_the_thiefs() {
    // The thief links while securing runs, after 0, 1 or 3 requests of their own: whichever
    // commits first, no identity stays (a link that lands after securing read the account
    // makes it read again).
    for requests_before in [0, 1, 3] {
        let fed = fed().await;
        fed.app.freeze();
        fed.app.user("ada").await;
        fed.app.advance(chrono::Duration::minutes(1));
        let thief = thiefs_sign_in(&fed.app, "ada").await;
        let notices = fed.app.outbox().await;
        let notice = notices.iter().find(|m| m.kind == "new_sign_in" && m.data.contains_key("token")).unwrap();
        let link_token = fed.token().await.body["error"]["linkToken"].as_str().unwrap().to_owned();
        let body = json!({ "token": notice.data["token"], "newPassword": support::NEW_PASSWORD });
        let (secured, linked) = tokio::join!(fed.app.post("/api/auth/secure-account", body), async {
            for _ in 0..requests_before {
                fed.app.get("/api/auth/me", Some(&thief)).await;
            }
            let link = json!({ "linkToken": link_token });
            fed.app.call(Method::POST, "/api/auth/federated/link", Some(link), Some(&thief)).await
        });
        assert_eq!(secured.status, StatusCode::OK, "{:?}", secured.body);
        assert!(matches!(linked.status.as_u16(), 200 | 401), "{:?}", linked.body);
        let after = fed.token().await;
        assert_eq!(after.error_code(), "ACCOUNT_EXISTS", "after {requests_before} requests: {:?}", after.body);
    }
}
