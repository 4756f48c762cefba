use std::sync::Arc;
use std::time::Duration;

use crate::bucket::ExportBucket;
use crate::config::Config;
use crate::cursor::Cursors;
use crate::edge::OriginSecret;
use crate::error::BoxError;
use crate::oidc::Providers;
use crate::password::Passwords;
use crate::store::Store;
use crate::tokens::{self, PrivateJwkSet, Tokens};
use crate::vault::Vault;

/// Everything a handler needs, built once per container (cold start) and shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub passwords: Arc<Passwords>,
    pub cursors: Arc<Cursors>,
    /// The second-factor key; none in the functions that never see a second factor.
    pub vault: Option<Arc<Vault>>,
    /// The key that seals webhook secrets; none in the functions that never see one.
    pub webhook_key: Option<Arc<Vault>>,
    /// The export bucket, where `EXPORT_BUCKET` names one.
    pub bucket: Option<Arc<ExportBucket>>,
    /// The OpenID providers accounts may sign in with (none unless configured).
    pub providers: Arc<Providers>,
    /// The secret of requests that came through CloudFront, when it is in front.
    pub edge: Option<Arc<OriginSecret>>,
}

impl AppState {
    /// The service's time (the store's clock).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.now()
    }

    pub fn new(config: Config, store: Store, keys: &PrivateJwkSet, cursor_secret: &[u8]) -> Result<Self, BoxError> {
        let tokens = Tokens::new(keys, &config)?;
        Ok(AppState::with_tokens(config, store, tokens, cursor_secret))
    }

    pub fn with_tokens(config: Config, store: Store, tokens: Tokens, cursor_secret: &[u8]) -> Self {
        let passwords = Passwords::new(config.password_min_length).with_legacy_bcrypt(config.legacy_bcrypt_cost);
        let cursors = Cursors::new(cursor_secret);
        let providers = Arc::new(Providers::new(config.federation.clone(), Default::default()));
        AppState {
            config: Arc::new(config),
            store,
            tokens: Arc::new(tokens),
            passwords: Arc::new(passwords),
            cursors: Arc::new(cursors),
            vault: None,
            webhook_key: None,
            bucket: None,
            providers,
            edge: None,
        }
    }

    /// The same state with (or without) the second-factor key.
    pub fn with_vault(self, vault: Option<Vault>) -> Self {
        AppState { vault: vault.map(Arc::new), ..self }
    }

    /// The same state with (or without) the webhook key.
    pub fn with_webhook_key(self, key: Option<Vault>) -> Self {
        AppState { webhook_key: key.map(Arc::new), ..self }
    }

    /// The same state with the providers' client secrets loaded.
    pub fn with_providers(self, providers: Providers) -> Self {
        AppState { providers: Arc::new(providers), ..self }
    }

    /// The same state with (or without) CloudFront in front.
    pub fn with_edge(self, secret: Option<OriginSecret>) -> Self {
        AppState { edge: secret.map(Arc::new), ..self }
    }

    /// The same state with (or without) the export bucket.
    pub fn with_bucket(self, bucket: Option<ExportBucket>) -> Self {
        AppState { bucket: bucket.map(Arc::new), ..self }
    }

    /// The production path: configuration from the environment, AWS clients from the
    /// default credential chain (endpoints may be overridden with the standard
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`). No export
    /// bucket: see `from_env_with_exports`.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(Self::from_env_and_aws().await?.0)
    }

    /// `from_env` with the export bucket `EXPORT_BUCKET` names. Only the functions that
    /// export call it, so that the others' binaries leave the S3 client out (their linker
    /// keeps only what some call reaches: 0.22 MiB of code, docs/benchmarks.md, "Where the bytes go").
    pub async fn from_env_with_exports() -> Result<Self, BoxError> {
        let (state, aws) = Self::from_env_and_aws().await?;
        let bucket = state.config.export_bucket.as_ref().map(|name| ExportBucket::new(&aws, name));
        Ok(state.with_bucket(bucket))
    }

    async fn from_env_and_aws() -> Result<(Self, aws_config::SdkConfig), BoxError> {
        let config = Config::from_env()?;
        let aws = crate::aws::sdk_config(config.tls_native_roots).await;
        let store = Store::new(&aws, config.table_name.clone(), Duration::from_millis(config.dynamodb_timeout_ms));
        let (tokens, cursor_secret, vault, webhook_key, providers, edge) = tokio::try_join!(
            tokens::load(&config, &aws),
            crate::cursor::load_secret(&config, &aws),
            crate::vault::load(&config, &aws),
            crate::vault::load_webhook_key(&config, &aws),
            crate::oidc::load(&config, &aws),
            crate::edge::load(&config, &aws),
        )?;
        let state = AppState::with_tokens(config, store, tokens, &cursor_secret);
        Ok((state.with_vault(vault).with_webhook_key(webhook_key).with_providers(providers).with_edge(edge), aws))
    }
}
