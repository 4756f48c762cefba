//! The local server: every function's routes on one port, at the same paths as the
//! HTTP API, with the CORS answers API Gateway gives in AWS.

pub mod events_local;
pub mod mock_oidc;
pub mod stream;

pub use events_local::start_events;

use axum::Router;
use shared::AppState;

/// All routes of the service, as the tests and the local server mount them.
pub fn app(state: AppState) -> Router {
    let routes = auth::routes().merge(users::routes()).merge(social::routes()).merge(admin::routes());
    shared::http::service(routes, state)
}

/// Delivers outbox messages as the `notify` function does in AWS: the same code, fed by
/// DynamoDB Local's stream, printing each message (`MAIL_TRANSPORT=console`, the default)
/// or sending it through SES (`MAIL_TRANSPORT=ses`, e.g. moto's). `LOCAL_NOTIFY=0` turns
/// delivery off.
pub async fn start_notify(state: &AppState) -> Result<(), shared::error::BoxError> {
    if std::env::var("LOCAL_NOTIFY").is_ok_and(|v| v == "0") {
        return Ok(());
    }
    let transport = match std::env::var("MAIL_TRANSPORT").as_deref() {
        Err(_) | Ok("") | Ok("console") => notify::Transport::Console,
        Ok("ses") => notify::Transport::ses(
            &shared::aws::sdk_config(state.config.tls_native_roots).await,
            &state.config.mail_from,
        ),
        Ok(other) => return Err(format!("MAIL_TRANSPORT must be console or ses, not {other:?}").into()),
    };
    let endpoint = ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "AWS_ENDPOINT_URL_DYNAMODB"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let Some(endpoint) = endpoint else {
        tracing::warn!(
            "no local DynamoDB endpoint: outbox messages are not delivered (the notify function does that in AWS)"
        );
        return Ok(());
    };
    let follower = stream::StreamFollower::new(&endpoint, state.store.table()).await?;
    let notifier = notify::Notifier::new(state.store.clone(), transport, state.config.app_base_url.clone())
        .with_exports(state.bucket.as_deref().cloned());
    tokio::spawn(follower.run(notifier));
    Ok(())
}

/// The CORS layer from `CORS_ALLOWED_ORIGINS`, with the settings API Gateway uses.
pub fn cors_from_env() -> Result<tower_http::cors::CorsLayer, shared::error::BoxError> {
    use shared::http::cors;
    use tower_http::cors::{AllowOrigin, CorsLayer};

    let origins = std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_else(|_| cors::DEFAULT_ALLOWED_ORIGINS.into());
    let allow_origin = if origins.trim() == "*" {
        AllowOrigin::any()
    } else {
        let list = origins.split(',').map(|o| o.trim().parse()).collect::<Result<Vec<http::HeaderValue>, _>>()?;
        AllowOrigin::list(list)
    };
    let methods = cors::ALLOWED_METHODS.iter().map(|m| m.parse()).collect::<Result<Vec<http::Method>, _>>()?;
    let headers = |names: &[&str]| names.iter().map(|h| h.parse()).collect::<Result<Vec<http::HeaderName>, _>>();
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(methods)
        .allow_headers(headers(cors::ALLOWED_HEADERS)?)
        .expose_headers(headers(cors::EXPOSED_HEADERS)?)
        .max_age(std::time::Duration::from_secs(cors::MAX_AGE_SECS)))
}
