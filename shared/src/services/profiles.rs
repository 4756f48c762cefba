//! Profiles as others see them, the owner's profile and notification updates, search
//! and stats.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use crate::cursor::Cursors;
use crate::domain::account_event::AccountEvent;
use crate::domain::client::Caller;
use crate::domain::page::{Page, PageRequest};
use crate::domain::profile::{NotificationPatch, ProfilePatch};
use crate::domain::search::fold;
use crate::domain::social::{access, Access, ListedUser, Viewer};
use crate::domain::user::{LimitedUserView, OwnUserView, UserRecord, UserView};
use crate::domain::{Fields, Username};
use crate::error::{AppError, AppResult};
use crate::schema;
use crate::state::AppState;
use crate::store::{keys, Store};

/// Reads and writes again this often when concurrent updates of one account collide.
const UPDATE_ATTEMPTS: usize = 3;

/// A profile as the viewer may see it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Profile {
    Own(Box<OwnUserView>),
    Full(UserView),
    Limited(LimitedUserView),
}

impl utoipa::PartialSchema for Profile {
    fn schema() -> RefOr<Schema> {
        schema::any_of(&[OwnUserView::name(), UserView::name(), LimitedUserView::name()])
    }
}

impl ToSchema for Profile {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schema::collect::<OwnUserView>(schemas);
        schema::collect::<UserView>(schemas);
        schema::collect::<LimitedUserView>(schemas);
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub followers_count: i64,
    pub following_count: i64,
    pub member_since: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A prefix of a username, first or last name (1–50 characters).
    #[param(value_type = String, required = true, min_length = 1, max_length = 50)]
    pub q: Option<String>,
}

/// A search query: the prefix as typed (for the exact username) and folded (for the
/// index).
pub struct SearchPrefix {
    typed: String,
    folded: String,
}

impl TryFrom<SearchQuery> for SearchPrefix {
    type Error = AppError;

    fn try_from(query: SearchQuery) -> AppResult<Self> {
        let mut fields = Fields::new();
        let q = fields.required("q", query.q.as_deref(), |q| {
            if !(1..=50).contains(&q.trim().chars().count()) {
                return Err("must be 1 to 50 characters".to_owned());
            }
            let folded = fold(q);
            if folded.is_empty() {
                return Err("must contain a letter or digit".to_owned());
            }
            Ok(SearchPrefix { typed: q.trim().to_owned(), folded })
        });
        fields.finish_with(q)
    }
}

/// Profiles, their edits by the owner, search and stats.
pub struct Profiles<'a> {
    store: &'a Store,
    cursors: &'a Cursors,
}

impl<'a> Profiles<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Profiles { store: &state.store, cursors: &state.cursors }
    }

    /// The target and how the viewer sees it; 404 for what the viewer may not see.
    async fn viewed(&self, viewer: Option<&Caller>, target: &str) -> AppResult<(UserRecord, Access)> {
        let (user, as_seen) = match viewer {
            Some(caller) if caller.user_id == target => (self.store.users().user_by_id(target).await?, Viewer::Owner),
            Some(caller) => {
                let (user, relation) = self.store.graph().user_and_relationship(&caller.user_id, target).await?;
                (user, Viewer::Other(relation))
            }
            None => (self.store.users().user_by_id(target).await?, Viewer::Anonymous),
        };
        let user = user.ok_or(AppError::NotFound)?;
        match access(&user, as_seen) {
            Access::Hidden => Err(AppError::NotFound),
            // An owner whose account is gone sees nothing either.
            Access::Own if !user.is_active() => Err(AppError::NotFound),
            seen => Ok((user, seen)),
        }
    }

    #[tracing::instrument(skip_all, fields(target = %target))]
    pub async fn profile(&self, viewer: Option<&Caller>, target: &str) -> AppResult<Profile> {
        let (user, seen) = self.viewed(viewer, target).await?;
        Ok(match seen {
            Access::Own => Profile::Own(Box::new(OwnUserView::from(&user))),
            Access::Full { contact_info } => Profile::Full(UserView::new(&user, contact_info)),
            Access::Limited | Access::Hidden => Profile::Limited(LimitedUserView::from(&user)),
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn profile_by_username(&self, viewer: Option<&Caller>, username: &str) -> AppResult<Profile> {
        let id = match Username::parse(username) {
            Ok(name) => self.store.users().user_id_by_identifier(&name.key()).await?,
            Err(_) => None,
        };
        self.profile(viewer, &id.ok_or(AppError::NotFound)?).await
    }

    #[tracing::instrument(skip_all, fields(target = %target))]
    pub async fn stats(&self, viewer: Option<&Caller>, target: &str) -> AppResult<Stats> {
        let (user, _) = self.viewed(viewer, target).await?;
        Ok(Stats {
            followers_count: user.followers_count,
            following_count: user.following_count,
            member_since: user.created_at,
        })
    }

    /// Reads the caller's account, applies `change`, writes it back guarded by what was
    /// read (again on a concurrent change), and answers the account as written.
    async fn update_own(
        &self,
        caller: &Caller,
        change: impl Fn(&mut UserRecord) -> AppResult<()>,
    ) -> AppResult<OwnUserView> {
        for _ in 0..UPDATE_ATTEMPTS {
            let before = self.store.users().active_user(&caller.user_id).await?.ok_or(AppError::Unauthorized)?;
            let mut after = before.clone();
            change(&mut after)?;
            after.updated_at = self.store.now();
            let changed = after.public_changes(&before);
            let event = (!changed.is_empty())
                .then(|| AccountEvent::user_updated(&after.id, &after.username, &changed, after.updated_at));
            let extra = event.map(|e| self.store.events().put(&e)).transpose()?;
            if self.store.accounts().save_profile(&before, &after, extra).await? {
                return Ok(OwnUserView::from(&after));
            }
        }
        Err(AppError::ServiceUnavailable("the account kept changing concurrently".into()))
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn update_profile(&self, caller: &Caller, patch: ProfilePatch) -> AppResult<OwnUserView> {
        self.update_own(caller, |user| patch.apply(&mut user.editable)).await
    }

    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn update_notifications(&self, caller: &Caller, patch: NotificationPatch) -> AppResult<OwnUserView> {
        self.update_own(caller, |user| patch.apply(&mut user.editable.notification_preferences)).await
    }

    /// Search by a prefix of the username, first or last name, ignoring case and
    /// accents; an exact username first; deactivated users and block relations left out.
    #[tracing::instrument(skip_all)]
    pub async fn search(
        &self,
        viewer: Option<&Caller>,
        query: SearchPrefix,
        page: PageRequest,
    ) -> AppResult<Page<ListedUser>> {
        let SearchPrefix { typed: raw, folded: prefix } = query;
        let list_id = keys::search::cursor_scope(&prefix);
        let (first_page, start) = match page.cursor.as_deref() {
            None => (true, None),
            Some(cursor) => {
                let key = self.cursors.decode(&list_id, cursor)?;
                (false, (!key.is_start()).then_some(key))
            }
        };
        let viewer_id = viewer.map(|c| c.user_id.as_str());

        // The exact username: first on the first page, and left out of every page after.
        let exact = match Username::parse(&raw) {
            Ok(name) => self.store.users().user_id_by_identifier(&name.key()).await?,
            Err(_) => None,
        };
        let mut items = Vec::new();
        if let (true, Some(id)) = (first_page, &exact) {
            items.extend(self.searchable(viewer_id, &[id.as_str()]).await?.into_values().map(|(_, listed)| listed));
        }
        let room = page.limit - items.len() as i32;
        if room == 0 {
            // The rest starts from the beginning of the prefix matches.
            return Ok(Page { items, next_cursor: Some(self.cursors.encode(&list_id, &Default::default())) });
        }
        let found = self.store.search().search_entries(&prefix, room, start).await?;
        let ids: Vec<&str> = found.hits.iter().map(|h| h.user_id.as_str()).collect();
        let mut visible = self.searchable(viewer_id, &ids).await?;
        for hit in &found.hits {
            if Some(&hit.user_id) == exact.as_ref() {
                continue;
            }
            let Some((user, _)) = visible.get(&hit.user_id) else { continue };
            // A user matching by several tokens is listed once: at the first of them.
            if user.search_tokens().into_iter().find(|t| t.starts_with(&prefix)).as_deref() != Some(hit.token.as_str())
            {
                continue;
            }
            if let Some((_, listed)) = visible.remove(&hit.user_id) {
                items.push(listed);
            }
        }
        Ok(Page { items, next_cursor: found.last_key.map(|k| self.cursors.encode(&list_id, &k)) })
    }

    /// The users search may show the viewer: active, no block either way, as seen.
    async fn searchable(
        &self,
        viewer: Option<&str>,
        ids: &[&str],
    ) -> AppResult<HashMap<String, (UserRecord, ListedUser)>> {
        let (users, relations) = match viewer {
            Some(v) => tokio::try_join!(
                self.store.users().users_by_ids(ids),
                self.store.graph().listing_relationships(v, ids)
            )?,
            None => (self.store.users().users_by_ids(ids).await?, Default::default()),
        };
        Ok(users
            .into_iter()
            .filter_map(|(id, user)| {
                let as_seen = match viewer {
                    Some(v) if v == id => Viewer::Owner,
                    Some(_) => Viewer::Other(relations.get(&id).copied().unwrap_or_default()),
                    None => Viewer::Anonymous,
                };
                // Limited accounts are left out of search for everyone but themselves.
                let hidden = !user.is_visible() || (user.is_limited() && viewer != Some(id.as_str()));
                if matches!(as_seen, Viewer::Other(r) if r.any_block()) || hidden {
                    return None;
                }
                let listed = ListedUser::new(&user, as_seen)?;
                Some((id, (user, listed)))
            })
            .collect())
    }
}
