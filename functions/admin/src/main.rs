#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    shared::http::run_on_lambda(async { Ok(admin::app(shared::AppState::from_env().await?)) }).await
}
