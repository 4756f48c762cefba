#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let config = shared::config::Config::from_env()?;
    let store = shared::store::Store::from_config(&config).await;
    let lookback_days = config.cleanup_lookback_days;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let store = store.clone();
        async move { cleanup::handle(&store, lookback_days, event).await }
    }))
    .await
}
