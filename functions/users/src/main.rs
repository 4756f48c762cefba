#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    shared::http::run_on_lambda(async { Ok(users::app(shared::AppState::from_env_with_exports().await?)) }).await
}
