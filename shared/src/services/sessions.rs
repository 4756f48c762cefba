//! Refresh-token rotation with reuse detection, logout, the session list, revocation
//! and password change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::history::History;
use super::{Limiter, Notices};
use crate::config::Config;
use crate::domain::client::{Caller, ClientInfo};
use crate::domain::device::DeviceToken;
use crate::domain::mfa::{self, Aal, SignInMethod, TotpFactor};
use crate::domain::security_event::SecurityEventType;
use crate::domain::session::{DeviceInfo, RefreshToken, SessionRecord};
use crate::domain::user::UserRecord;
use crate::domain::{exposed, non_empty, Fields, OfUser};
use crate::error::{AppError, AppResult};
use crate::rate_limit::ip_key;
use crate::state::AppState;
use crate::store::outbox::MessageKind;
use crate::store::{EndDevices, GenerationBump, KeptSession, RefreshRotation, Store};
use crate::tokens::{Subject, Tokens};

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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Tokens)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A refresh token as presented: there, and of a sane length. Whether it is one of
/// ours is for `refresh` to find out, under its rate limits.
pub struct PresentedToken(SecretString);

impl TryFrom<RefreshRequest> for PresentedToken {
    type Error = AppError;

    fn try_from(req: RefreshRequest) -> AppResult<Self> {
        let mut fields = Fields::new();
        let token = fields.required("refreshToken", exposed(&req.refresh_token), non_empty(512));
        fields.finish_with(token).map(|t| PresentedToken(t.into()))
    }
}

impl LogoutRequest {
    /// The other session to end with the caller's, when the body names one of theirs.
    pub fn other_session(&self) -> Option<RefreshToken> {
        exposed(&self.refresh_token).and_then(RefreshToken::parse)
    }
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
    pub(crate) fn new(session: SessionRecord, current_id: &str) -> Self {
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

/// Sessions: their creation, refresh, listing and end.
#[derive(Clone, Copy)]
pub struct Sessions<'a> {
    config: &'a Config,
    store: &'a Store,
    tokens: &'a Arc<Tokens>,
    limiter: Limiter<'a>,
    notices: Notices<'a>,
}

impl<'a> Sessions<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Sessions {
            config: &state.config,
            store: &state.store,
            tokens: &state.tokens,
            limiter: Limiter::new(&state.store),
            notices: Notices::new(&state.store),
        }
    }

    /// A new session of `user` for this client, and its first refresh token.
    pub(crate) fn open(
        &self,
        user: &UserRecord,
        remember_me: bool,
        client: &ClientInfo,
        method: SignInMethod,
        device: &DeviceToken,
    ) -> (SessionRecord, RefreshToken) {
        let aal = method.aal();
        let now = self.store.now();
        let days = if remember_me { self.config.remember_me_session_ttl_days } else { self.config.session_ttl_days };
        let id = uuid::Uuid::new_v4().to_string();
        let refresh = RefreshToken::new(&user.id, &id);
        let session = SessionRecord {
            id,
            user_id: user.id.clone(),
            refresh_token_hash: refresh.hash(),
            previous_token_hash: None,
            rotated_at: None,
            rotated_by: None,
            created_at: now,
            last_used_at: now,
            expires_at: (now + Duration::days(days)).timestamp(),
            remember_me,
            device: DeviceInfo::from_client(client),
            ip_address: client.ip.clone(),
            generation: user.session_generation,
            aal,
            method: Some(method),
            second_factor_at: (aal == Aal::Aal2).then_some(now),
            device_hash: Some(device.hash()),
        };
        (session, refresh)
    }

    /// An access token for the session (at its assurance level), beside its refresh token.
    pub(crate) async fn token_pair(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
        refresh: &RefreshToken,
    ) -> AppResult<TokenPair> {
        let subject = Subject {
            user_id: &user.id,
            session_id: &session.id,
            username: &user.username,
            email_verified: user.is_verified,
            method: session.sign_in_method(),
        };
        let access_token = self.tokens.issue_off_executor(subject).await?;
        Ok(TokenPair {
            access_token,
            refresh_token: refresh.expose(),
            token_type: "Bearer",
            expires_in: self.tokens.ttl_secs(),
        })
    }

    /// Rotates a refresh token. The current token gets a successor; the previous one,
    /// presented again within the grace window by the client the rotation answered,
    /// gets a fresh pair (the client lost the answer); presented by another client, or
    /// after the window, it ends the whole session (the token was stolen: a thief's
    /// retry must not take the session over silently). Any other token is simply
    /// refused: a guess must not be able to end someone's session.
    ///
    /// Limits: per client address before anything is read, and per session only once
    /// the token has matched it, so that knowing a session's ids (in every access token)
    /// is not enough to use up its owner's refreshes.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, presented: PresentedToken, client: &ClientInfo) -> AppResult<TokenPair> {
        let limits = self.config.rate_limits;
        let ip = ip_key(client.ip.as_deref());
        let per_ip = self.limiter.enforce("refresh-ip", &ip, limits.refresh_per_ip);
        let token = RefreshToken::parse(presented.0.expose_secret());
        let read = async {
            match &token {
                Some(token) => {
                    self.store.sessions().session_and_user(&token.user_id, &token.session_id).await.map(Some)
                }
                None => Ok(None),
            }
        };
        let (_, first_read) = tokio::try_join!(per_ip, read)?;
        let (Some(token), Some(first_read)) = (token, first_read) else {
            return Err(AppError::InvalidToken);
        };
        let presented = token.hash();
        let client_fingerprint = DeviceInfo::from_client(client).fingerprint();
        let (mut counted, mut first_read) = (false, Some(first_read));
        for _ in 0..ROTATION_ATTEMPTS {
            let read = match first_read.take() {
                Some(read) => read,
                None => self.store.sessions().session_and_user(&token.user_id, &token.session_id).await?,
            };
            let (Some(session), Some(user)) = read else {
                return Err(AppError::InvalidToken);
            };
            let matches = presented == session.refresh_token_hash
                || session.previous_token_hash.as_deref() == Some(presented.as_str());
            if matches && !counted {
                self.limiter.enforce("refresh-session", &token.session_id, limits.refresh_per_session).await?;
                counted = true;
            }
            let now = self.store.now();
            if !session.is_live(&user, now) {
                return Err(AppError::InvalidToken);
            }
            let (previous, rotated_at) = if presented == session.refresh_token_hash {
                (presented.as_str(), now)
            } else if session.previous_token_hash.as_deref() == Some(presented.as_str()) {
                let rotated_at = session.rotated_at.unwrap_or(session.created_at);
                let late = now - rotated_at > Duration::seconds(self.config.refresh_grace_secs);
                // Sessions rotated before rotations were signed by their client have none.
                let other_client = session.rotated_by.as_deref().is_some_and(|by| by != client_fingerprint);
                if late || other_client {
                    self.end_session_on_reuse(&session, &user, late).await?;
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
                rotated_by: &client_fingerprint,
            };
            if self.store.sessions().rotate_refresh_token(&session, rotation).await? {
                return self.token_pair(&user, &session, &next).await;
            }
            // Another refresh of this session won the write: judge again on what it left.
        }
        Err(AppError::InvalidToken)
    }

    async fn end_session_on_reuse(&self, session: &SessionRecord, user: &UserRecord, late: bool) -> AppResult<()> {
        let how = if late { "after the grace window" } else { "by another client within the grace window" };
        tracing::warn!(
            security_event = "refresh_token_reuse",
            user_id = %session.user_id,
            session_id = %session.id,
            "a rotated refresh token was presented {how}; the session is ended"
        );
        let notice = self.notices.to(
            user,
            MessageKind::RefreshTokenReuse,
            [("sessionId", session.id.clone()), ("at", self.store.now().to_rfc3339())],
        )?;
        // Lost to a concurrent end of the same session: it is ended either way.
        self.store
            .sessions()
            .delete_session_with(OfUser { user_id: &session.user_id, id: &session.id }, vec![notice])
            .await?;
        crate::metrics::count("RefreshTokenReuse", 1);
        Ok(())
    }

    /// Every bearer request: an access token of an account suspended since it was issued
    /// counts no more (403 `ACCOUNT_SUSPENDED`), from the moment of the suspension; one of
    /// a deleted account, not at all (401).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn check_standing(&self, caller: &Caller) -> AppResult<()> {
        match self.store.users().account_standing(&caller.user_id).await? {
            None => Err(AppError::Unauthorized),
            Some(standing) if standing.is_suspended(self.store.now()) => Err(AppError::AccountSuspended),
            Some(_) => Ok(()),
        }
    }

    /// The caller's user and session, if the session is still live: for the operations
    /// that must not trust a still-valid access token of an ended session.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn live_session(&self, caller: &Caller) -> AppResult<(UserRecord, SessionRecord)> {
        match self.store.sessions().session_and_user(&caller.user_id, &caller.session_id).await? {
            (Some(session), Some(user)) if session.is_live(&user, self.store.now()) => Ok((user, session)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// Like `live_session`, for the operations marked "second factor": with MFA on, the
    /// session must have passed it (403 `MFA_REQUIRED`), so that a session from before
    /// enrolment, or a stolen password alone, cannot undo it. The factor is read with
    /// the session, in the same round trip.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn second_factor_session(
        &self,
        caller: &Caller,
    ) -> AppResult<(UserRecord, SessionRecord, Option<TotpFactor>)> {
        let (user, session, factor) = self.live_session_with_factor(caller).await?;
        if mfa::second_factor_on(&user, factor.as_ref()) && session.aal != Aal::Aal2 {
            return Err(AppError::MfaRequired);
        }
        Ok((user, session, factor))
    }

    /// `live_session`, with the account's factor (enabled, pending or none).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn live_session_with_factor(
        &self,
        caller: &Caller,
    ) -> AppResult<(UserRecord, SessionRecord, Option<TotpFactor>)> {
        let (session, user, factor) =
            self.store.factors().session_user_and_factor(&caller.user_id, &caller.session_id).await?;
        match (session, user) {
            (Some(session), Some(user)) if session.is_live(&user, self.store.now()) => Ok((user, session, factor)),
            _ => Err(AppError::Unauthorized),
        }
    }

    /// Ends the caller's session, and the session of `refreshToken` when it is another
    /// session of the same user (a client signing out of two at once).
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn logout(&self, caller: &Caller, other: Option<RefreshToken>) -> AppResult<()> {
        self.live_session(caller).await?;
        if !self.store.sessions().delete_session(OfUser { user_id: &caller.user_id, id: &caller.session_id }).await? {
            return Err(AppError::Unauthorized);
        }
        if let Some(other) = other {
            if other.user_id == caller.user_id && other.session_id != caller.session_id {
                self.store
                    .sessions()
                    .delete_session(OfUser { user_id: &caller.user_id, id: &other.session_id })
                    .await?;
            }
        }
        tracing::info!(user_id = %caller.user_id, session_id = %caller.session_id, "signed out");
        crate::metrics::count("SessionsRevoked", 1);
        Ok(())
    }

    /// The caller's live sessions, most recently used first.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn list(&self, caller: &Caller) -> AppResult<SessionList> {
        let (user, _) = self.live_session(caller).await?;
        let now = self.store.now();
        let mut items: Vec<SessionView> = self
            .store
            .sessions()
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
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
    pub async fn revoke_other_sessions(&self, caller: &Caller) -> AppResult<Revoked> {
        let (user, session) = self.live_session(caller).await?;
        let now = self.store.now();
        let sessions = self.store.sessions().sessions_of(&user.id).await?;
        let revoked = sessions.iter().filter(|s| s.id != caller.session_id && s.is_live(&user, now)).count();
        let keep = KeptSession { session: &session, new_refresh_hash: None, aal: None };
        let event = self
            .history()
            .event(&user.id, SecurityEventType::SessionRevoked, &caller.client)
            .device(session.device_hash.as_deref())
            .detail("sessions", revoked)
            .detail("devices", "all");
        // "Sign out everywhere": device tokens end too, the caller's own included.
        let bump = GenerationBump {
            keep: Some(keep),
            end_devices: Some(EndDevices::default()),
            extra: vec![self.history().put(&event)?],
            ..Default::default()
        };
        if self.store.sessions().bump_session_generation(&user, bump).await?.is_none() {
            // The account changed, or this session ended, since it was read.
            return Err(AppError::Unauthorized);
        }
        tracing::info!(user_id = %user.id, revoked, "other sessions ended");
        crate::metrics::count("SessionsRevoked", revoked as u64);
        let ended: Vec<String> = sessions.into_iter().map(|s| s.id).filter(|id| *id != session.id).collect();
        if let Err(err) = self.store.sessions().delete_sessions(&user.id, &ended).await {
            tracing::warn!(user_id = %user.id, error = %err, "ended sessions left to expire");
        }
        self.delete_ended_devices(&user.id, user.device_generation + 1).await;
        Ok(Revoked { revoked })
    }

    /// Ends one of the caller's own sessions; anyone else's id is simply not found.
    #[tracing::instrument(skip_all, fields(user_id = %caller.user_id, session_id = %session_id))]
    pub async fn revoke_session(&self, caller: &Caller, session_id: &str) -> AppResult<()> {
        let (_, own) = self.live_session(caller).await?;
        let event = self
            .history()
            .event(&caller.user_id, SecurityEventType::SessionRevoked, &caller.client)
            .device(own.device_hash.as_deref())
            .detail("sessionId", session_id);
        let session = OfUser { user_id: &caller.user_id, id: session_id };
        if !self.store.sessions().delete_session_with(session, vec![self.history().put(&event)?]).await? {
            return Err(AppError::NotFound);
        }
        crate::metrics::count("SessionsRevoked", 1);
        Ok(())
    }

    fn history(&self) -> History<'a> {
        History::new(self.store)
    }

    /// Removes the items of devices that a device generation bump has already ended
    /// (those not of `generation`): reads stop paying for them. Failure changes nothing
    /// for security (they no longer vouch) and leaves them to expire.
    pub(crate) async fn delete_ended_devices(&self, user_id: &str, generation: i64) {
        let result = async {
            let devices = self.store.sessions().devices_of(user_id).await?;
            let ended: Vec<String> =
                devices.into_iter().filter(|(_, d)| d.generation != generation).map(|(hash, _)| hash).collect();
            self.store.sessions().delete_devices(user_id, &ended).await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(user_id = %user_id, error = %err, "ended devices left to expire");
        }
    }

    /// Removes the items of sessions that a generation bump has already ended. Failure
    /// changes nothing for security (they no longer work) and leaves them to expire.
    pub(crate) async fn delete_ended_sessions(&self, user_id: &str, keep: Option<&str>) {
        let result = async {
            let ids: Vec<String> = self
                .store
                .sessions()
                .sessions_of(user_id)
                .await?
                .into_iter()
                .map(|s| s.id)
                .filter(|id| Some(id.as_str()) != keep)
                .collect();
            self.store.sessions().delete_sessions(user_id, &ids).await
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(user_id = %user_id, error = %err, "ended sessions left to expire");
        }
    }
}
