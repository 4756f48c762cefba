#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::logging::init();
    lambda_runtime::run(lambda_runtime::service_fn(cleanup::handle)).await
}
