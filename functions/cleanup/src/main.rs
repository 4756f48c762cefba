use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    let config = shared::config::Config::from_env()?;
    let settings = cleanup::Settings::from(&config);
    let parts = shared::startup::Startup::spawn(async move {
        let aws = shared::aws::sdk_config(config.tls_native_roots).await;
        let timeout = std::time::Duration::from_millis(config.dynamodb_timeout_ms);
        let store = shared::store::Store::new(&aws, config.table_name.clone(), timeout);
        // Deleted accounts' export documents go with them (`EXPORT_BUCKET`).
        let exports = config.export_bucket.as_ref().map(|name| shared::bucket::ExportBucket::new(&aws, name));
        Ok((store, exports))
    });
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let parts = parts.clone();
        let span = shared::logging::invocation_span(&event.context.request_id, event.context.xray_trace_id.as_deref());
        async move {
            let (store, exports) = parts.get().await;
            cleanup::handle(store, exports.as_ref(), settings, event).await
        }
        .instrument(span)
    }))
    .await
}
