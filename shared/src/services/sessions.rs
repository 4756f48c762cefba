//! Refresh-token rotation with reuse detection, logout, the session list, revocation
//! and password change.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::TokenPair;
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::session::{DeviceInfo, RefreshToken, SessionRecord};
use crate::domain::user::UserRecord;
use crate::domain::{exposed, non_empty, Fields};
use crate::error::{AppError, AppResult};
use crate::password;
use crate::rate_limit::ip_key;
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::RefreshRotation;

/// How often a refresh may lose the race against concurrent refreshes of the same
/// session before it gives up.
const ROTATION_ATTEMPTS: usize = 8;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(value_type = String, required = true)]
    pub refresh_token: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutRequest {
    /// Checked against the caller's session when sent.
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, required = true)]
    pub current_password: Option<SecretString>,
    #[schema(value_type = String, required = true, min_length = 8, max_length = 128)]
    pub new_password: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionView {
    pub id: String,
    pub device_info: DeviceInfo,
    pub ip_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: usize,
}

impl SessionView {
    fn new(session: SessionRecord, current_id: &str) -> Self {
        SessionView {
            current: session.id == current_id,
            expires_at: DateTime::from_timestamp(session.expires_at, 0).unwrap_or_default(),
            id: session.id,
            device_info: session.device,
            ip_address: session.ip_address,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
        }
    }
}

impl AppState {
    /// Rotates a refresh token. The current token gets a successor; the previous one,
    /// presented again within the grace window, gets a fresh pair (the client lost the
    /// answer) and after it ends the whole session (the token was stolen). Any other
    /// token is simply refused: a guess must not be able to end someone's session.
    ///
    /// Limits: per client address before anything is read, and per session only once
    /// the token has matched it, so that knowing a session's ids (in every access token)
    /// is not enough to use up its owner's refreshes.
    pub async fn refresh(&self, req: RefreshRequest, client: &ClientInfo) -> AppResult<TokenPair> {
        let mut fields = Fields::new();
        let raw = fields.required("refreshToken", exposed(&req.refresh_token), non_empty(512));
        fields.finish()?;
        let limits = self.config.rate_limits;
        let ip = ip_key(client.ip.as_deref());
        let per_ip = self.enforce_limit("refresh-ip", &ip, limits.refresh_per_ip);
        let token = raw.as_deref().and_then(RefreshToken::parse);
        let read = async {
            match &token {
                Some(token) => self.store.session_and_user(&token.user_id, &token.session_id).await.map(Some),
                None => Ok(None),
            }
        };
        let (_, first_read) = tokio::try_join!(per_ip, read)?;
        let (Some(token), Some(first_read)) = (token, first_read) else {
            return Err(AppError::InvalidToken);
        };
        let presented = token.hash();
        let (mut counted, mut first_read) = (false, Some(first_read));
        for _ in 0..ROTATION_ATTEMPTS {
            let read = match first_read.take() {
                Some(read) => read,
                None => self.store.session_and_user(&token.user_id, &token.session_id).await?,
            };
            let (Some(session), Some(user)) = read else {
                return Err(AppError::InvalidToken);
            };
            let matches = presented == session.refresh_token_hash
                || session.previous_token_hash.as_deref() == Some(presented.as_str());
            if matches && !counted {
                self.enforce_limit("refresh-session", &token.session_id, limits.refresh_per_session).await?;
                counted = true;
            }
            let now = self.now();
            if !session.is_live(&user, now) {
                return Err(AppError::InvalidToken);
            }
            let (previous, rotated_at) = if presented == session.refresh_token_hash {
                (presented.as_str(), now)
            } else if session.previous_token_hash.as_deref() == Some(presented.as_str()) {
                let rotated_at = session.rotated_at.unwrap_or(session.created_at);
                if now - rotated_at > Duration::seconds(self.config.refresh_grace_secs) {
                    self.end_session_on_reuse(&session, &user).await?;
                    return Err(AppError::InvalidToken);
                }
                // A retry within the grace window: a new successor, the same previous
                // token and rotation time, so the window never stretches.
                (presented.as_str(), rotated_at)
            } else {
                return Err(AppError::InvalidToken);
            };
            let next = RefreshToken::new(&user.id, &session.id);
            let rotation = RefreshRotation {
                expected_current: &session.refresh_token_hash,
                new_current: &next.hash(),
                previous,
                rotated_at,
            };
            if self.store.rotate_refresh_token(&session, rotation).await? {
                return self.token_pair(&user, &session.id, &next);
            }
            // Another refresh of this session won the write: judge again on what it left.
        }
        Err(AppError::InvalidToken)
    }

    async fn end_session_on_reuse(&self, session: &SessionRecord, user: &UserRecord) -> AppResult<()> {
        tracing::warn!(
            security_event = "refresh_token_reuse",
            user_id = %session.user_id,
            session_id = %session.id,
            "a rotated refresh token was presented after the grace window; the session is ended"
        );
        let notice = self.notice(
            MessageKind::RefreshTokenReuse,
            user,
            [("sessionId", session.id.clone()), ("at", self.now().to_rfc3339())],
        )?;
        // Lost to a concurrent end of the same session: it is ended either way.
        self.store.delete_session_with(&session.user_id, &session.id, vec![notice]).await?;
        Ok(())
    }

    /// The caller's user and session, if the session is still live: for the operations
    /// that must not trust a still-valid access token of an ended session.
    pub async fn live_session(&self, caller: &Caller) -> AppResult<(UserRecord, SessionRecord)> {
        match self.store.session_and_user(&caller.user_id, &caller.session_id).await? {
            (Some(session), Some(user)) if session.is_live(&user, self.now()) => Ok((user, session)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// Ends the caller's session, and the session of `refreshToken` when it is another
    /// session of the same user (a client signing out of two at once).
    pub async fn logout(&self, caller: &Caller, req: LogoutRequest) -> AppResult<()> {
        self.live_session(caller).await?;
        if !self.store.delete_session(&caller.user_id, &caller.session_id).await? {
            return Err(AppError::Unauthorized);
        }
        if let Some(other) = exposed(&req.refresh_token).and_then(RefreshToken::parse) {
            if other.user_id == caller.user_id && other.session_id != caller.session_id {
                self.store.delete_session(&caller.user_id, &other.session_id).await?;
            }
        }
        tracing::info!(user_id = %caller.user_id, session_id = %caller.session_id, "signed out");
        Ok(())
    }

    /// The caller's live sessions, most recently used first.
    pub async fn sessions(&self, caller: &Caller) -> AppResult<SessionList> {
        let (user, _) = self.live_session(caller).await?;
        let now = self.now();
        let mut items: Vec<SessionView> = self
            .store
            .sessions_of(&user.id)
            .await?
            .into_iter()
            .filter(|s| s.is_live(&user, now))
            .map(|s| SessionView::new(s, &caller.session_id))
            .collect();
        items.sort_by_key(|s| std::cmp::Reverse(s.last_used_at));
        Ok(SessionList { items })
    }

    /// Ends every session of the caller but the current one, at once: a new session
    /// generation that carries the caller's session over, so that a session written
    /// meanwhile (by a sign-in that read the account before) is ended too. `revoked`
    /// counts the other sessions that were live; their items are deleted afterwards.
    pub async fn revoke_other_sessions(&self, caller: &Caller) -> AppResult<Revoked> {
        let (user, session) = self.live_session(caller).await?;
        let now = self.now();
        let sessions = self.store.sessions_of(&user.id).await?;
        let revoked = sessions.iter().filter(|s| s.id != caller.session_id && s.is_live(&user, now)).count();
        self.store.bump_session_generation(&user, None, Some((&session, None)), Vec::new()).await?;
        tracing::info!(user_id = %user.id, revoked, "other sessions ended");
        let ended: Vec<String> = sessions.into_iter().map(|s| s.id).filter(|id| *id != session.id).collect();
        if let Err(err) = self.store.delete_sessions(&user.id, &ended).await {
            tracing::warn!(user_id = %user.id, error = %err, "ended sessions left to expire");
        }
        Ok(Revoked { revoked })
    }

    /// Ends one of the caller's own sessions; anyone else's id is simply not found.
    pub async fn revoke_session(&self, caller: &Caller, session_id: &str) -> AppResult<()> {
        self.live_session(caller).await?;
        if !self.store.delete_session(&caller.user_id, session_id).await? {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// Sets a new password, ends every other session at once and gives the caller's
    /// session a fresh pair of tokens.
    pub async fn change_password(&self, caller: &Caller, req: ChangePasswordRequest) -> AppResult<TokenPair> {
        let (user, session) = self.live_session(caller).await?;
        let mut fields = Fields::new();
        let current =
            fields.required("currentPassword", exposed(&req.current_password), non_empty(password::MAX_LENGTH * 4));
        let local_part = user.email.split('@').next().unwrap_or_default();
        let related = [user.username.as_str(), user.email.as_str(), local_part];
        let new = fields.required("newPassword", exposed(&req.new_password), |p| {
            self.passwords.check_policy(p, &related).map(|()| p.to_owned())
        });
        if current.is_some() && current == new {
            fields.add("newPassword", "must differ from the current password");
        }
        fields.finish()?;
        let (Some(current), Some(new)) = (current, new) else {
            return Err(AppError::internal("validation passed without every required field"));
        };

        self.check_password(&user, current).await?;
        let hash = self.passwords.hash(new).await?;
        let next = RefreshToken::new(&user.id, &session.id);
        let notice = self.notice(MessageKind::PasswordChanged, &user, [("via", "change-password".to_owned())])?;
        self.store
            .bump_session_generation(&user, Some(&hash), Some((&session, Some(&next.hash()))), vec![notice])
            .await?;
        tracing::info!(user_id = %user.id, "password changed; other sessions ended");
        self.delete_ended_sessions(&user.id, Some(&session.id)).await;
        self.token_pair(&user, &session.id, &next)
    }

    /// Removes the items of sessions that a generation bump has already ended. Failure
    /// changes nothing for security (they no longer work) and leaves them to expire.
    pub(crate) async fn delete_ended_sessions(&self, user_id: &str, keep: Option<&str>) {
        let result = async {
            let ids: Vec<String> = self
                .store
                .sessions_of(user_id)
                .await?
                .into_iter()
                .map(|s| s.id)
                .filter(|id| Some(id.as_str()) != keep)
                .collect();
            self.store.delete_sessions(user_id, &ids).await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(user_id = %user_id, error = %err, "ended sessions left to expire");
        }
    }
}
