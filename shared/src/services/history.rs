//! The account's security history: the events each change writes (in its own
//! transaction, through `History::put`), the sign-in failures and refusals written
//! beside their counts, and the person's read of it.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::cursor::Cursors;
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::page::{Page, PageRequest};
use crate::domain::security_event::{SecurityEventRecord, SecurityEventType, SecurityEventView};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::store::security_events::Attempted;
use crate::store::Store;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventsQuery {
    /// Only events of this type (`sign_in`, `password_changed`, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

/// Events of the account's history.
#[derive(Clone, Copy)]
pub struct History<'a> {
    store: &'a Store,
}

impl<'a> History<'a> {
    pub fn new(store: &'a Store) -> Self {
        History { store }
    }

    /// An event of `user_id` now, from `from`.
    pub fn event(&self, user_id: &str, kind: SecurityEventType, from: &ClientInfo) -> SecurityEventRecord {
        SecurityEventRecord::new(user_id, kind, from, self.store.now())
    }

    /// The put of an event, for the transaction of the change it records.
    pub fn put(&self, event: &SecurityEventRecord) -> AppResult<TransactWriteItem> {
        self.store.security_events().put(event)
    }

    /// A wrong password or code, beside its count. `who` is the account, or an
    /// unknown identifier (whose stand-in write keeps both paths alike).
    pub async fn failed(&self, who: Attempted<'_>, from: &ClientInfo, details: &[(&str, &str)]) -> AppResult<()> {
        let mut event = self.event(who.user_id(), SecurityEventType::SignInFailed, from);
        for (name, value) in details {
            event = event.detail(name, *value);
        }
        self.store.security_events().write_failed(who, &event).await
    }

    /// A sign-in a limit refused: counted on the account's event of the hour.
    pub async fn blocked(&self, who: Attempted<'_>, from: &ClientInfo) -> AppResult<()> {
        let event = self.event(who.user_id(), SecurityEventType::SignInBlocked, from);
        self.store.security_events().count_blocked(who, &event).await
    }
}

/// The person's read of their history.
pub struct SecurityHistory<'a> {
    store: &'a Store,
    cursors: &'a Cursors,
}

impl<'a> SecurityHistory<'a> {
    pub fn new(state: &'a AppState) -> Self {
        SecurityHistory { store: &state.store, cursors: &state.cursors }
    }

    /// The caller's events, newest first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn list(
        &self,
        caller: &Caller,
        query: SecurityEventsQuery,
        page: PageRequest,
    ) -> AppResult<Page<SecurityEventView>> {
        let kind = match query.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            None => None,
            Some(text) => Some(SecurityEventType::parse(text).ok_or_else(|| {
                AppError::Validation(vec![FieldError::new("type", "must be one of the security event types")])
            })?),
        };
        let scope = format!("security-events|{}|{}", caller.user_id, kind.map_or("", SecurityEventType::as_str));
        let start = page.cursor.as_deref().map(|c| self.cursors.decode(&scope, c)).transpose()?;
        let found = self.store.security_events().page(&caller.user_id, kind, page.limit, start).await?;
        Ok(Page {
            items: found.events.into_iter().map(Into::into).collect(),
            next_cursor: found.last_key.map(|k| self.cursors.encode(&scope, &k)),
        })
    }
}
