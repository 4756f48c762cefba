//! Webhook endpoints, managed by admins: register (the secret shown once), list,
//! delete, rotate the secret (the old one signs beside the new for 24 hours), the
//! deliveries, and a test event. Each change is a staff write with its audit entry.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::moderation::{audit_entry, Actor, Moderation};
use crate::cursor::Cursors;
use crate::domain::account_event::{AccountEvent, EventType};
use crate::domain::client::Caller;
use crate::domain::page::{Page, PageRequest};
use crate::domain::user::UserRecord;
use crate::domain::webhook::{
    check_url, is_local_loopback, is_public, new_secret, Delivery, UrlRule, WebhookRecord, WebhookStatus, WebhookView,
    MAX_WEBHOOKS, ROTATION_OVERLAP_HOURS,
};
use crate::domain::{non_empty, Fields};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::store::Store;
use crate::vault::Vault;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterWebhook {
    /// https, reaching the public internet (locally also `http://127.0.0.1:<port>`).
    #[schema(value_type = String, required = true)]
    pub url: Option<String>,
    /// Event types (`user.deleted`, …), or `["*"]` for all of them.
    #[schema(value_type = Vec<String>, required = true)]
    pub event_types: Option<Vec<String>>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A webhook as registered, with its signing secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…`: verify deliveries with it (any Standard Webhooks library does).
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret; the previous one keeps signing beside it for 24 hours.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSent {
    pub event_id: String,
}

/// A registration that passed validation.
struct NewWebhook {
    url: url::Url,
    event_types: Vec<String>,
    description: Option<String>,
}

impl RegisterWebhook {
    fn validate(self, rule: UrlRule) -> AppResult<NewWebhook> {
        let mut fields = Fields::new();
        let url = fields.required("url", self.url.as_deref(), |text| check_url(text, rule));
        let event_types = match self.event_types {
            None => fields.check("eventTypes", Err("is required")),
            Some(types) => fields.check("eventTypes", event_types(types)),
        };
        let description = fields.optional("description", self.description.as_deref(), non_empty(500));
        let (url, event_types) = fields.finish_with((url, event_types))?;
        Ok(NewWebhook { url, event_types, description })
    }
}

/// The types an endpoint asked for, each once: types of the catalog, or `["*"]`.
fn event_types(mut types: Vec<String>) -> Result<Vec<String>, &'static str> {
    let known = |t: &String| EventType::parse(t).is_some_and(|t| t != EventType::WebhookTest);
    if types != ["*"] && (types.is_empty() || !types.iter().all(known)) {
        return Err("must list event types of the catalog, or be [\"*\"]");
    }
    types.sort();
    types.dedup();
    Ok(types)
}

pub struct Webhooks<'a> {
    store: &'a Store,
    cursors: &'a Cursors,
    key: Option<&'a Vault>,
    moderation: Moderation<'a>,
    urls: UrlRule,
}

impl<'a> Webhooks<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Webhooks {
            store: &state.store,
            cursors: &state.cursors,
            key: state.webhook_key.as_deref(),
            moderation: Moderation::new(state),
            urls: state.config.webhook_urls,
        }
    }

    fn key(&self) -> AppResult<&Vault> {
        self.key.ok_or_else(|| AppError::internal("this function has no webhook key (WEBHOOK_KEY_SECRET_ID)"))
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn register(&self, caller: &Caller, request: RegisterWebhook) -> AppResult<RegisteredWebhook> {
        let admin = self.moderation.admin(caller).await?;
        let new = request.validate(self.urls)?;
        resolves_publicly(&new.url, self.urls).await?;
        if self.store.webhooks().list().await?.len() >= MAX_WEBHOOKS {
            return Err(AppError::ConflictWith("there are 20 webhooks already: delete one first"));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let secret = new_secret();
        let webhook = WebhookRecord {
            sealed_secret: self.key()?.seal(&id, secret.as_bytes())?,
            id,
            url: new.url.to_string(),
            event_types: new.event_types,
            description: new.description,
            created_at: self.store.now(),
            created_by: admin.id.clone(),
            status: WebhookStatus::Active,
            failing_since: None,
            sealed_previous_secret: None,
            previous_until: None,
            version: 0,
        };
        let write = self.store.webhooks().create(&webhook)?;
        self.audited(&admin, "webhook.register", &webhook, vec![write]).await?;
        tracing::info!(webhook_id = %webhook.id, "webhook registered");
        Ok(RegisteredWebhook { webhook: WebhookView::from(&webhook), secret })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn list(&self, caller: &Caller) -> AppResult<WebhookList> {
        self.moderation.admin(caller).await?;
        let webhooks = self.store.webhooks().list().await?;
        Ok(WebhookList { items: webhooks.iter().map(WebhookView::from).collect() })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, webhook_id = %id))]
    pub async fn delete(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let admin = self.moderation.admin(caller).await?;
        let webhook = self.store.webhooks().get(id).await?.ok_or(AppError::NotFound)?;
        let write = self.store.webhooks().delete(id)?;
        self.audited(&admin, "webhook.delete", &webhook, vec![write]).await
    }

    /// A new secret; the current one becomes the previous, signing beside it for 24 hours.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, webhook_id = %id))]
    pub async fn rotate_secret(&self, caller: &Caller, id: &str) -> AppResult<RotatedSecret> {
        let admin = self.moderation.admin(caller).await?;
        let webhook = self.store.webhooks().get(id).await?.ok_or(AppError::NotFound)?;
        let secret = new_secret();
        let now = self.store.now();
        let rotated = WebhookRecord {
            sealed_secret: self.key()?.seal(id, secret.as_bytes())?,
            sealed_previous_secret: Some(webhook.sealed_secret.clone()),
            previous_until: Some(now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS)),
            version: webhook.version + 1,
            ..webhook.clone()
        };
        let write = self.store.webhooks().replace(&rotated, webhook.version)?;
        self.audited(&admin, "webhook.rotate_secret", &webhook, vec![write]).await?;
        Ok(RotatedSecret { secret })
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, webhook_id = %id))]
    pub async fn deliveries(&self, caller: &Caller, id: &str, page: PageRequest) -> AppResult<Page<Delivery>> {
        self.moderation.admin(caller).await?;
        self.store.webhooks().get(id).await?.ok_or(AppError::NotFound)?;
        let scope = format!("webhook-deliveries|{id}");
        let start = page.cursor.as_deref().map(|c| self.cursors.decode(&scope, c)).transpose()?;
        let found = self.store.webhooks().deliveries(id, page.limit, start).await?;
        Ok(Page { items: found.deliveries, next_cursor: found.last_key.map(|k| self.cursors.encode(&scope, &k)) })
    }

    /// Sends a `webhook.test` event to this endpoint alone (through the stream, as any
    /// event goes).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, webhook_id = %id))]
    pub async fn test(&self, caller: &Caller, id: &str) -> AppResult<TestSent> {
        let admin = self.moderation.admin(caller).await?;
        let webhook = self.store.webhooks().get(id).await?.ok_or(AppError::NotFound)?;
        if webhook.status != WebhookStatus::Active {
            return Err(AppError::ConflictWith("the webhook is disabled: register it again"));
        }
        let event = AccountEvent::webhook_test(id, &admin.id, self.store.now());
        self.store.events().put_test(&event, id).await?;
        Ok(TestSent { event_id: event.id })
    }

    async fn audited(
        &self,
        admin: &UserRecord,
        action: &str,
        webhook: &WebhookRecord,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> AppResult<()> {
        let mut entry = audit_entry(self.store, Actor::Staff(admin), action, None, None, None);
        entry.details.insert("webhookId".into(), webhook.id.clone());
        entry.details.insert("url".into(), webhook.url.clone());
        match self.store.moderation().commit_staff_write(Some(admin), entry, items).await? {
            true => Ok(()),
            false => Err(AppError::Conflict),
        }
    }
}

/// Every address the URL's host resolves to now is public (the local exception aside):
/// a name that leads inside is refused at registration, as at every delivery.
async fn resolves_publicly(url: &url::Url, rule: UrlRule) -> AppResult<()> {
    if rule == UrlRule::AlsoLocalLoopback && is_local_loopback(url) {
        return Ok(());
    }
    let invalid = |why: &str| AppError::Validation(vec![FieldError::new("url", why)]);
    let host = url.host_str().ok_or_else(|| invalid("has no host"))?.trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<_> =
        match tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            _ => return Err(invalid("does not resolve")),
        };
    if addresses.is_empty() || addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(invalid("must not resolve to a loopback, private, link-local or reserved address"));
    }
    Ok(())
}
