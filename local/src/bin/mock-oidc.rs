//! The mock OpenID provider on its own, for trying federated sign-in locally
//! (`MOCK_OIDC=1 scripts/dev` starts it). `MOCK_OIDC_ADDR` (default 127.0.0.1:9000);
//! `MOCK_OIDC_EMAIL` and `MOCK_OIDC_SUBJECT` say whom it signs in; `MOCK_OIDC_CLIENT_SECRET`
//! is the client secret its token endpoint asks for.

use local_server::mock_oidc::{MockPerson, MockProvider};

#[tokio::main]
async fn main() -> Result<(), shared::error::BoxError> {
    let addr = std::env::var("MOCK_OIDC_ADDR").unwrap_or_else(|_| "127.0.0.1:9000".into());
    let provider = MockProvider::start_on(&addr, shared::clock::Clock::default()).await?;
    let defaults = MockPerson::default();
    provider.sign_in_as(MockPerson {
        subject: std::env::var("MOCK_OIDC_SUBJECT").unwrap_or(defaults.subject),
        email: Some(std::env::var("MOCK_OIDC_EMAIL").unwrap_or_else(|_| "mock.person@example.org".into())),
        ..defaults
    });
    if let Ok(secret) = std::env::var("MOCK_OIDC_CLIENT_SECRET") {
        provider.require_client_secret(&secret);
    }
    println!("mock OpenID provider at {}", provider.issuer);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
