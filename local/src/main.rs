use std::net::SocketAddr;

use shared::error::BoxError;
use shared::store::schema;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::logging::init();
    let state = shared::AppState::from_env_with_exports().await?;
    if schema::ensure_table(state.store.client(), state.store.table()).await? {
        tracing::info!(table = state.store.table(), "created the table");
    }
    if let Some(bucket) = &state.bucket {
        if bucket.create_if_missing().await? {
            tracing::info!(bucket = bucket.name(), "created the export bucket");
        }
    }
    local_server::start_notify(&state).await?;
    local_server::start_events(&state).await?;
    let app = local_server::app(state).layer(local_server::cors_from_env()?);
    let addr: SocketAddr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into()).parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "local server listening");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
