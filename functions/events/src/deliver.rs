//! One webhook delivery: the endpoint read (gone or disabled: nothing to do), its URL
//! checked again, its host resolved once and every address checked before connecting to
//! it (a name that moved inside since registration is refused), the event POSTed signed
//! per Standard Webhooks, the attempt recorded. A 2xx answer is delivered; anything else,
//! or no answer within the timeout, is tried again later with backoff for up to 24 hours;
//! an endpoint failing for 5 days is disabled and the admin who registered it told.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shared::domain::webhook::{check_url, is_public, Delivery, DeliveryStatus, UrlRule, WebhookRecord, WebhookStatus};
use shared::services::Notices;
use shared::store::outbox::MessageKind;
use shared::store::Store;
use shared::vault::Vault;

use crate::queue::{Job, Queue};
use crate::sign::signature_header;

/// The waits between attempts (after the first try, 5 s, 5 min, 30 min, 2 h, 5 h, then
/// every 10 h), until 24 hours have passed since the first.
const RETRY_DELAYS_SECS: [i64; 6] = [5, 300, 1800, 7200, 18_000, 36_000];
const RETRY_FOR: chrono::Duration = chrono::Duration::hours(24);
/// An endpoint failing this long is disabled.
const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(5);
/// What of an answer's body is read (it is not kept).
const ANSWER_MAX: usize = 64 * 1024;

/// Resolves a host name, as the system does (tests give one of their own).
pub type Resolve =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> + Send + Sync>;

/// The system's resolver.
pub fn system_resolver() -> Resolve {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    })
}

/// The connector's resolver: every address a name resolves to must be public, and only
/// those addresses are connected to.
#[derive(Clone)]
struct PublicOnly(Resolve);

impl tower_service::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolve = self.0.clone();
        Box::pin(async move {
            let addresses = resolve(name.as_str().to_owned()).await?;
            if addresses.is_empty() || addresses.iter().any(|ip| !is_public(*ip)) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{} resolves to a loopback, private, link-local or reserved address", name.as_str()),
                ));
            }
            // The port is the connector's to set.
            Ok(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter())
        })
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector<PublicOnly>>, Full<bytes::Bytes>>;

pub struct Deliverer {
    store: Store,
    key: Arc<Vault>,
    client: HttpClient,
    urls: UrlRule,
    timeout: Duration,
}

/// What became of a delivery message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; tried again at this time.
    Retrying(DateTime<Utc>),
    /// Failed for good (24 hours of tries, or the endpoint was disabled).
    GaveUp,
    /// Nothing sent: the endpoint is gone or disabled, or the message waits on.
    Skipped(&'static str),
}

impl Deliverer {
    pub fn new(store: Store, key: Arc<Vault>, urls: UrlRule, timeout: Duration, resolve: Resolve) -> Self {
        Deliverer { store, key, client: http_client(resolve), urls, timeout }
    }

    /// Tries `job` (or puts it back to wait); `Err`: the table or the queue failed, and
    /// the message should come back.
    pub async fn deliver(&self, job: Job, queue: &Queue) -> Result<Outcome, String> {
        let now = self.store.now();
        if let Some(at) = job.not_before.filter(|at| *at > now) {
            queue.schedule(job, at, now).await?;
            return Ok(Outcome::Skipped("not yet due"));
        }
        let webhook = match self.store.webhooks().get(&job.webhook_id).await.map_err(|e| e.to_string())? {
            Some(webhook) if webhook.status == WebhookStatus::Active => webhook,
            Some(_) => return Ok(Outcome::Skipped("the webhook is disabled")),
            None => return Ok(Outcome::Skipped("the webhook was deleted")),
        };
        let tried = self.send(&webhook, &job, now).await;
        let delivery = Delivery {
            event_id: job.event_id.clone(),
            event_type: job.event_type.clone(),
            attempt: job.attempt,
            at: now,
            status: if tried.is_ok() { DeliveryStatus::Delivered } else { DeliveryStatus::Failed },
            response_status: match &tried {
                Ok(status) => Some(*status),
                Err(Failure::Answered(status)) => Some(*status),
                Err(Failure::NoAnswer(_)) => None,
            },
            error: match &tried {
                Ok(_) => None,
                Err(Failure::Answered(status)) => Some(format!("answered {status}")),
                Err(Failure::NoAnswer(why)) => Some(why.clone()),
            },
        };
        self.store.webhooks().record_delivery(&webhook.id, &delivery).await.map_err(|e| e.to_string())?;
        if tried.is_ok() {
            if webhook.failing_since.is_some() {
                self.store.webhooks().clear_failing(&webhook.id).await.map_err(|e| e.to_string())?;
            }
            return Ok(Outcome::Delivered);
        }
        tracing::warn!(webhook_id = %webhook.id, event_id = %job.event_id, attempt = job.attempt, error = delivery.error.as_deref().unwrap_or("-"), "webhook delivery failed");
        let failing_since = self.store.webhooks().mark_failing(&webhook.id, now).await.map_err(|e| e.to_string())?;
        if failing_since.is_some_and(|since| now - since >= DISABLE_AFTER) {
            self.disable(&webhook, failing_since.unwrap_or(now)).await?;
            return Ok(Outcome::GaveUp);
        }
        match next_attempt(&job, now) {
            Some(at) => {
                let next = Job { attempt: job.attempt + 1, not_before: None, ..job };
                queue.schedule(next, at, now).await?;
                Ok(Outcome::Retrying(at))
            }
            None => Ok(Outcome::GaveUp),
        }
    }

    /// POSTs the event; the answer's status when it is 2xx.
    async fn send(&self, webhook: &WebhookRecord, job: &Job, now: DateTime<Utc>) -> Result<u16, Failure> {
        let url =
            check_url(&webhook.url, self.urls).map_err(|why| Failure::NoAnswer(format!("refused: the URL {why}")))?;
        let secrets = self.secrets(webhook, now).map_err(Failure::NoAnswer)?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let timestamp = now.timestamp();
        let signature = signature_header(&secrets, &job.event_id, timestamp, &job.body)
            .ok_or_else(|| Failure::NoAnswer("the webhook's secret is not a whsec_ secret".into()))?;
        let request = http::Request::post(url.as_str())
            .header("content-type", "application/json")
            .header("user-agent", "user-service-webhooks/1")
            .header("webhook-id", &job.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(Full::new(bytes::Bytes::from(job.body.clone())))
            .map_err(|e| Failure::NoAnswer(format!("building the request: {e}")))?;
        let timeout = self.timeout;
        let answer = tokio::time::timeout(timeout, async {
            let response =
                self.client.request(request).await.map_err(|e| Failure::NoAnswer(shared::error::with_causes(&e)))?;
            let status = response.status().as_u16();
            // Read (a bounded part of) the body, so the connection closes cleanly.
            let _ = Limited::new(response.into_body(), ANSWER_MAX).collect().await;
            Ok(status)
        })
        .await
        .map_err(|_| Failure::NoAnswer(format!("no answer within {} s", timeout.as_secs_f64())))??;
        match answer {
            200..=299 => Ok(answer),
            status => Err(Failure::Answered(status)),
        }
    }

    /// The secrets that sign now: the current one, and the previous within its overlap.
    fn secrets(&self, webhook: &WebhookRecord, now: DateTime<Utc>) -> Result<Vec<String>, String> {
        let open = |sealed: &str| {
            let bytes = self.key.open(&webhook.id, sealed).map_err(|e| e.to_string())?;
            String::from_utf8(bytes).map_err(|_| "a webhook secret is not text".to_owned())
        };
        let mut secrets = vec![open(&webhook.sealed_secret)?];
        if let (Some(previous), Some(until)) = (&webhook.sealed_previous_secret, webhook.previous_until) {
            if until > now {
                secrets.push(open(previous)?);
            }
        }
        Ok(secrets)
    }

    /// Disables an endpoint failing since `since`, telling the admin who registered it.
    async fn disable(&self, webhook: &WebhookRecord, since: DateTime<Utc>) -> Result<(), String> {
        let creator = self.store.users().user_by_id(&webhook.created_by).await.map_err(|e| e.to_string())?;
        let notice = match creator {
            Some(admin) => vec![Notices::new(&self.store)
                .to(
                    &admin,
                    MessageKind::WebhookDisabled,
                    [("url", webhook.url.clone()), ("failingSince", since.to_rfc3339())],
                )
                .map_err(|e| e.to_string())?],
            None => Vec::new(),
        };
        if self.store.webhooks().disable(&webhook.id, since, notice).await.map_err(|e| e.to_string())? {
            tracing::error!(webhook_id = %webhook.id, failing_since = %since, "webhook disabled after 5 days of failures");
            shared::metrics::count("WebhooksDisabled", 1);
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Failure {
    /// It answered, not 2xx.
    Answered(u16),
    /// Refused before sending, no connection, or no answer in time.
    NoAnswer(String),
}

/// When the next attempt after a failed `job` is due: `None` when 24 hours of tries are up.
pub fn next_attempt(job: &Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let ends = job.first_attempt_at + RETRY_FOR;
    if now >= ends {
        return None;
    }
    let index = (job.attempt as usize).saturating_sub(1);
    let wait = RETRY_DELAYS_SECS.get(index).copied().unwrap_or(RETRY_DELAYS_SECS[RETRY_DELAYS_SECS.len() - 1]);
    Some((now + chrono::Duration::seconds(wait)).min(ends))
}

fn http_client(resolve: Resolve) -> HttpClient {
    #[expect(clippy::expect_used, reason = "AWS-LC supports rustls's default protocol versions")]
    let https = shared::web_tls::https(HttpConnector::new_with_resolver(PublicOnly(resolve)), Duration::from_secs(3))
        .expect("the default protocol versions");
    // No idle connections: each delivery resolves (and checks) its host again.
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(https)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(attempt: u32, first: DateTime<Utc>) -> Job {
        Job {
            webhook_id: "w".into(),
            event_id: "e".into(),
            event_type: "user.created".into(),
            body: "{}".into(),
            attempt,
            first_attempt_at: first,
            not_before: None,
        }
    }

    #[test]
    fn retries_back_off_for_a_day_then_stop() {
        let first = shared::clock::system_now();
        let mut now = first;
        let mut waits = Vec::new();
        let mut attempt = 1;
        while let Some(at) = next_attempt(&job(attempt, first), now) {
            waits.push((at - now).num_seconds());
            now = at;
            attempt += 1;
        }
        assert_eq!(waits, [5, 300, 1800, 7200, 18_000, 36_000, 23_095]);
        assert_eq!(now - first, RETRY_FOR, "the last try at 24 hours");
    }
}
