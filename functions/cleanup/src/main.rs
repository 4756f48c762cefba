use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let config = shared::config::Config::from_env()?;
    let settings = cleanup::Settings::from(&config);
    let store = shared::startup::Startup::spawn(async move { Ok(shared::store::Store::from_config(&config).await) });
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let store = store.clone();
        let span = shared::logging::invocation_span(&event.context.request_id, event.context.xray_trace_id.as_deref());
        async move { cleanup::handle(store.get().await, settings, event).await }.instrument(span)
    }))
    .await
}
