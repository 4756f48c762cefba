//! Creates the table (`TABLE_NAME`) unless it exists: for the Lambda smoke test and for
//! a fresh DynamoDB Local that the functions, unlike the local server, never set up.

use shared::error::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let config = shared::config::Config::from_env()?;
    let store = shared::store::Store::from_config(&config).await;
    let created = shared::store::schema::ensure_table(store.client(), store.table()).await?;
    println!("{} {}", store.table(), if created { "created" } else { "exists" });
    Ok(())
}
