//! The user as stored, and the three views of the API: OwnUser, User and LimitedUser.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Friends,
    Private,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivacySettings {
    pub profile_visibility: Visibility,
    pub contact_info_visibility: Visibility,
    pub activity_visibility: Visibility,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        PrivacySettings {
            profile_visibility: Visibility::Public,
            contact_info_visibility: Visibility::Friends,
            activity_visibility: Visibility::Public,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPreferences {
    pub email_notifications: bool,
    pub push_notifications: bool,
    pub follows: bool,
    pub follow_requests: bool,
    /// Always true: security alerts cannot be turned off.
    pub security_alerts: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        NotificationPreferences {
            email_notifications: true,
            push_notifications: true,
            follows: true,
            follow_requests: true,
            security_alerts: true,
        }
    }
}

/// Contact information, shown only to viewers that `contactInfoVisibility` allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactProfile {
    pub location: Option<String>,
    pub website: Option<String>,
    pub occupation: Option<String>,
    #[serde(default)]
    pub interests: Vec<String>,
    #[serde(default)]
    pub social_links: BTreeMap<String, String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    #[default]
    Active,
    Deactivated,
}

/// What the account may do beyond its own: staff work the moderation queue; only
/// admins change roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn is_staff(self) -> bool {
        self != Role::User
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

/// A suspension or limitation put on the account by moderation, from `since` until
/// `until` (none: until lifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    pub since: DateTime<Utc>,
    /// Epoch seconds in the table, so that a transaction's condition can compare it
    /// with the time.
    #[serde(default, with = "chrono::serde::ts_seconds_option", skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// The part of an account that decides whether its access tokens still count.
#[derive(Debug, Deserialize)]
pub struct AccountStanding {
    #[serde(default)]
    suspended: Option<Restriction>,
}

impl AccountStanding {
    pub fn is_suspended(&self, now: DateTime<Utc>) -> bool {
        self.suspended.as_ref().is_some_and(|r| r.holds(now))
    }
}

impl Restriction {
    fn holds(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// What the owner edits through the profile and settings routes. A profile save writes
/// exactly these attributes (the store derives them from this type), so a field added
/// here is saved, and nothing else (counters, status, the password) is overwritten.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Editable {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    pub profile_picture: Option<String>,
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub profile: ContactProfile,
    #[serde(default)]
    pub privacy_settings: PrivacySettings,
    #[serde(default)]
    pub notification_preferences: NotificationPreferences,
}

/// The user item's content (the store adds the keys). `password_hash` is a PHC string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    #[serde(flatten)]
    pub editable: Editable,
    #[serde(default)]
    pub is_verified: bool,
    #[serde(default)]
    pub status: AccountStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub followers_count: i64,
    #[serde(default)]
    pub following_count: i64,
    /// Sessions of an older generation have ended (password change or reset,
    /// deactivation): one write ends them all, however many there are.
    #[serde(default)]
    pub session_generation: i64,
    /// The hash of the one verification token that may still verify the email.
    #[serde(default)]
    pub verify_token_hash: Option<String>,
    /// Fingerprints of the devices that signed in before (a new one gets a notice).
    #[serde(default)]
    pub known_devices: Vec<String>,
    /// Device tokens of an older generation have ended (a password reset or change,
    /// "sign out everywhere"); the claims carry a copy for sign-in's first read.
    #[serde(default)]
    pub device_generation: i64,
    /// Moves on each time the account is secured: the notices' secure-account tokens
    /// of an older one are void.
    #[serde(default)]
    pub secure_generation: i64,
    /// The address before the last confirmed email change, and when it changed: what
    /// secure-account puts back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_changed_at: Option<DateTime<Utc>>,
    /// Whether a second factor is on: for display. Sign-in and the "second factor"
    /// checks read the factor item itself; both change in one transaction.
    #[serde(default)]
    pub mfa_enabled: bool,
    /// Passkeys registered, kept in the transaction that adds or removes one: with any,
    /// a password sign-in asks for a second factor.
    #[serde(default)]
    pub passkeys: i64,
    /// Identities ever linked to the account after its sign-up, counted by each link's
    /// transaction: securing's write is conditioned on it, so that an identity linked
    /// meanwhile makes securing read again (and unlink it).
    #[serde(default)]
    pub identity_links: i64,
    /// The WebAuthn user handle (32 random bytes, base64url), made at the first
    /// passkey registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_user_handle: Option<String>,
    /// The address of an email change awaiting confirmation.
    #[serde(default)]
    pub pending_email: Option<String>,
    /// The hash of the one token that may still confirm it.
    #[serde(default)]
    pub email_change_token_hash: Option<String>,
    /// When the last data export was asked for (one a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_export_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub role: Role,
    /// The account is treated as deactivated and cannot sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Restriction>,
    /// Follows become requests, the full profile is for accepted followers, and search
    /// leaves the account out for others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limited: Option<Restriction>,
}

impl UserRecord {
    /// Whether a password sign-in asks for a second factor: the authenticator app is on
    /// (`mfa_enabled`, changed with the factor item) or a passkey is registered.
    pub fn has_second_factor(&self) -> bool {
        self.mfa_enabled || self.passkeys > 0
    }

    /// Whether the account has a password (a federated sign-up's has none until set).
    pub fn has_password(&self) -> bool {
        !self.password_hash.is_empty()
    }

    /// A new, active account with default settings and no profile yet.
    pub fn new(username: &str, email: &str, password_hash: String, now: DateTime<Utc>) -> Self {
        UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.to_owned(),
            email: email.to_owned(),
            password_hash,
            editable: Editable::default(),
            is_verified: false,
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
            last_login: None,
            deactivated_at: None,
            followers_count: 0,
            following_count: 0,
            session_generation: 0,
            verify_token_hash: None,
            known_devices: Vec::new(),
            device_generation: 0,
            secure_generation: 0,
            previous_email: None,
            email_changed_at: None,
            mfa_enabled: false,
            passkeys: 0,
            identity_links: 0,
            passkey_user_handle: None,
            pending_email: None,
            email_change_token_hash: None,
            last_export_at: None,
            role: Role::User,
            suspended: None,
            limited: None,
        }
    }

    /// The record as of `now`: a suspension or limitation that has ended is dropped, so
    /// that every check reads the current state (the store applies this to each user
    /// it reads; the item keeps the ended restriction until the next moderation write).
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        self.suspended = self.suspended.filter(|r| r.holds(now));
        self.limited = self.limited.filter(|r| r.holds(now));
        self
    }

    /// Not deactivated (a suspended account is still active: see `is_visible`).
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    pub fn is_suspended(&self) -> bool {
        self.suspended.is_some()
    }

    pub fn is_limited(&self) -> bool {
        self.limited.is_some()
    }

    /// Shown to others at all: active and not suspended (profiles, lists, search,
    /// relations and follows treat a suspended account as a deactivated one).
    pub fn is_visible(&self) -> bool {
        self.is_active() && !self.is_suspended()
    }

    /// The account's standing as staff see it.
    pub fn standing(&self) -> &'static str {
        match (self.status, self.is_suspended(), self.is_limited()) {
            (AccountStatus::Deactivated, _, _) => "deactivated",
            (_, true, _) => "suspended",
            (_, _, true) => "limited",
            _ => "active",
        }
    }

    /// What search finds this user by.
    pub fn search_tokens(&self) -> std::collections::BTreeSet<String> {
        super::search::tokens(&self.username, self.editable.first_name.as_deref(), self.editable.last_name.as_deref())
    }

    /// What a new password must not be built from: the account's names.
    pub fn password_related_words(&self) -> [&str; 3] {
        let local_part = self.email.split('@').next().unwrap_or_default();
        [self.username.as_str(), self.email.as_str(), local_part]
    }

    /// The fields of the public profile (`User`) that differ from `before`, by their
    /// names in the API: what a `user.updated` event lists.
    pub fn public_changes(&self, before: &UserRecord) -> Vec<&'static str> {
        let (old, new) = (&before.editable, &self.editable);
        [
            ("firstName", old.first_name != new.first_name),
            ("lastName", old.last_name != new.last_name),
            ("bio", old.bio != new.bio),
            ("profilePicture", old.profile_picture != new.profile_picture),
            ("isPrivate", before.is_private() != self.is_private()),
            ("profile", old.profile != new.profile),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }

    /// "private" makes follows into requests; friends-only profiles accept follows. A
    /// limited account is private whatever its setting.
    pub fn is_private(&self) -> bool {
        self.profile_visibility() == Visibility::Private
    }

    /// `profileVisibility` as it applies: private while the account is limited.
    pub fn profile_visibility(&self) -> Visibility {
        match self.is_limited() {
            true => Visibility::Private,
            false => self.editable.privacy_settings.profile_visibility,
        }
    }
}

/// What anyone allowed to see the profile gets.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    pub profile_picture: Option<String>,
    pub is_verified: bool,
    pub is_private: bool,
    pub created_at: DateTime<Utc>,
    pub followers_count: i64,
    pub following_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ContactProfile>,
}

impl UserView {
    pub fn new(user: &UserRecord, with_contact_info: bool) -> Self {
        UserView {
            id: user.id.clone(),
            username: user.username.clone(),
            first_name: user.editable.first_name.clone(),
            last_name: user.editable.last_name.clone(),
            bio: user.editable.bio.clone(),
            profile_picture: user.editable.profile_picture.clone(),
            is_verified: user.is_verified,
            is_private: user.is_private(),
            created_at: user.created_at,
            followers_count: user.followers_count,
            following_count: user.following_count,
            profile: with_contact_info.then(|| user.editable.profile.clone()),
        }
    }
}

/// The owner's own view: everything but secrets.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OwnUser)]
pub struct OwnUserView {
    #[serde(flatten)]
    pub user: UserView,
    pub email: String,
    pub date_of_birth: Option<String>,
    pub last_login: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub privacy_settings: PrivacySettings,
    pub notification_preferences: NotificationPreferences,
    /// Whether sign-in asks for a second factor: an authenticator app or a passkey.
    pub mfa_enabled: bool,
    /// `false` for an account made by a federated sign-up that has set none yet (forgot /
    /// reset password sets one).
    pub has_password: bool,
    /// The new address of an email change awaiting confirmation.
    pub pending_email: Option<String>,
    pub role: Role,
}

impl From<&UserRecord> for OwnUserView {
    fn from(user: &UserRecord) -> Self {
        OwnUserView {
            user: UserView::new(user, true),
            email: user.email.clone(),
            date_of_birth: user.editable.date_of_birth.clone(),
            last_login: user.last_login,
            updated_at: user.updated_at,
            privacy_settings: user.editable.privacy_settings.clone(),
            notification_preferences: user.editable.notification_preferences.clone(),
            mfa_enabled: user.has_second_factor(),
            has_password: user.has_password(),
            pending_email: user.pending_email.clone(),
            role: user.role,
        }
    }
}

/// A private or friends-only profile seen by someone not allowed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LimitedUser)]
pub struct LimitedUserView {
    pub id: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture: Option<String>,
    pub is_verified: bool,
    pub is_private: bool,
}

impl From<&UserRecord> for LimitedUserView {
    fn from(user: &UserRecord) -> Self {
        LimitedUserView {
            id: user.id.clone(),
            username: user.username.clone(),
            first_name: user.editable.first_name.clone(),
            last_name: user.editable.last_name.clone(),
            profile_picture: user.editable.profile_picture.clone(),
            is_verified: user.is_verified,
            is_private: true,
        }
    }
}
