#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    let state = shared::AppState::from_env().await?;
    lambda_http::run(users::app(state)).await
}
