//! Start-up work (AWS clients, signing keys) done beside the Lambda runtime's first poll
//! for an invocation rather than before it: the first invocation waits for what is left
//! of it, later ones find it done.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinHandle;

use crate::error::BoxError;

pub struct Startup<T> {
    building: Mutex<Option<JoinHandle<Result<T, BoxError>>>>,
    value: OnceCell<T>,
}

impl<T: Send + Sync + 'static> Startup<T> {
    /// Starts building now, in the background.
    pub fn spawn(build: impl Future<Output = Result<T, BoxError>> + Send + 'static) -> Arc<Self> {
        Arc::new(Startup { building: Mutex::new(Some(tokio::spawn(build))), value: OnceCell::new() })
    }

    /// The built value. A build that failed ends the process, as a failed init would,
    /// so that Lambda starts a fresh environment instead of failing every invocation.
    pub async fn get(&self) -> &T {
        self.value
            .get_or_init(|| async {
                let handle = self.building.lock().await.take();
                let built = match handle {
                    Some(handle) => handle.await.map_err(|e| -> BoxError { Box::new(e) }).and_then(|built| built),
                    None => Err("start-up was abandoned".into()),
                };
                built.unwrap_or_else(|err| {
                    tracing::error!(error = %err, "the function could not start");
                    std::process::exit(1)
                })
            })
            .await
    }
}
