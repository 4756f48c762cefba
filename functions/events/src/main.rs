use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let config = shared::config::Config::from_env()?;
    let settings = events::Settings::from_env()?;
    let publisher =
        shared::startup::Startup::spawn(async move { events::Publisher::from_config(&config, &settings).await });
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let publisher = publisher.clone();
        let span = shared::logging::invocation_span(&event.context.request_id, event.context.xray_trace_id.as_deref());
        async move { Ok::<_, lambda_runtime::Error>(publisher.get().await.handle(&event.payload).instrument(span).await) }
    }))
    .await
}
