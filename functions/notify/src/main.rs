use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let config = shared::config::Config::from_env()?;
    let notifier = shared::startup::Startup::spawn(async move { Ok(notify::Notifier::with_ses(&config).await) });
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let notifier = notifier.clone();
        let span = shared::logging::invocation_span(&event.context.request_id, event.context.xray_trace_id.as_deref());
        async move { Ok::<_, lambda_runtime::Error>(notifier.get().await.handle(&event.payload).instrument(span).await) }
    }))
    .await
}
