//! Relations between two users and what they allow one to see of the other.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::schema;

use super::user::{LimitedUserView, UserRecord, UserView, Visibility};

/// The flags of `GET /api/social/relationship/{userId}`, from the viewer's side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    /// The viewer follows the target (an accepted follow).
    pub following: bool,
    /// The target follows the viewer.
    pub followed_by: bool,
    /// The viewer asked to follow the target (pending).
    pub requested: bool,
    /// The target asked to follow the viewer (pending).
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    /// The viewer mutes the target (a mute that has not ended).
    pub muting: bool,
    /// The viewer's mute also silences the target's follow notifications.
    pub muting_notifications: bool,
    /// When the viewer's mute ends by itself (null: when lifted).
    pub muting_expires_at: Option<DateTime<Utc>>,
    /// The target mutes the viewer's notifications. Never shown: mutes are private.
    #[serde(skip)]
    pub silenced_by: bool,
}

impl Relationship {
    /// "friends" in the privacy settings: a mutual accepted follow.
    pub fn is_mutual(&self) -> bool {
        self.following && self.followed_by
    }

    pub fn any_block(&self) -> bool {
        self.blocking || self.blocked_by
    }
}

/// Who is looking.
#[derive(Debug, Clone, Copy)]
pub enum Viewer {
    Anonymous,
    Owner,
    Other(Relationship),
}

/// What a viewer gets of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 404: deactivated or suspended, or the target blocks the viewer.
    Hidden,
    Limited,
    Full {
        contact_info: bool,
    },
    Own,
}

/// `profileVisibility`: private means accepted followers only.
fn sees_profile(setting: Visibility, viewer: Viewer) -> bool {
    match (setting, viewer) {
        (_, Viewer::Owner) | (Visibility::Public, _) => true,
        (_, Viewer::Anonymous) => false,
        (Visibility::Friends, Viewer::Other(r)) => r.is_mutual(),
        (Visibility::Private, Viewer::Other(r)) => r.following,
    }
}

/// `contactInfoVisibility` and `activityVisibility`: private means the owner only.
fn sees_detail(setting: Visibility, viewer: Viewer) -> bool {
    match (setting, viewer) {
        (_, Viewer::Owner) | (Visibility::Public, _) => true,
        (_, Viewer::Anonymous) | (Visibility::Private, _) => false,
        (Visibility::Friends, Viewer::Other(r)) => r.is_mutual(),
    }
}

pub fn access(target: &UserRecord, viewer: Viewer) -> Access {
    if let Viewer::Owner = viewer {
        return Access::Own;
    }
    if !target.is_visible() || matches!(viewer, Viewer::Other(r) if r.blocked_by) {
        return Access::Hidden;
    }
    let settings = &target.editable.privacy_settings;
    if sees_profile(target.profile_visibility(), viewer) {
        Access::Full { contact_info: sees_detail(settings.contact_info_visibility, viewer) }
    } else {
        Access::Limited
    }
}

/// Followers and following lists: the full profile and `activityVisibility`, and no block.
pub fn sees_activity(target: &UserRecord, viewer: Viewer) -> bool {
    match viewer {
        Viewer::Owner => true,
        Viewer::Other(r) if r.any_block() => false,
        _ => {
            matches!(access(target, viewer), Access::Full { .. })
                && sees_detail(target.editable.privacy_settings.activity_visibility, viewer)
        }
    }
}

/// A user as another sees them in a list or a search: full or limited.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ListedUser {
    Full(UserView),
    Limited(LimitedUserView),
}

impl utoipa::PartialSchema for ListedUser {
    fn schema() -> RefOr<Schema> {
        schema::any_of(&[UserView::name(), LimitedUserView::name()])
    }
}

impl ToSchema for ListedUser {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schema::collect::<UserView>(schemas);
        schema::collect::<LimitedUserView>(schemas);
    }
}

impl ListedUser {
    pub fn id(&self) -> &str {
        match self {
            ListedUser::Full(user) => &user.id,
            ListedUser::Limited(user) => &user.id,
        }
    }

    /// `None` when the viewer may not see the user at all.
    pub fn new(target: &UserRecord, viewer: Viewer) -> Option<Self> {
        match access(target, viewer) {
            Access::Hidden => None,
            Access::Limited => Some(ListedUser::Limited(target.into())),
            Access::Full { contact_info } => Some(ListedUser::Full(UserView::new(target, contact_info))),
            Access::Own => Some(ListedUser::Full(UserView::new(target, true))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::{AccountStatus, PrivacySettings};

    fn user(profile: Visibility, contact: Visibility, activity: Visibility) -> UserRecord {
        let mut user = UserRecord::new("target", "t@example.org", String::new(), crate::clock::system_now());
        user.editable.privacy_settings = PrivacySettings {
            profile_visibility: profile,
            contact_info_visibility: contact,
            activity_visibility: activity,
        };
        user
    }

    fn rel(following: bool, followed_by: bool) -> Viewer {
        Viewer::Other(Relationship { following, followed_by, ..Default::default() })
    }

    #[test]
    fn profile_visibility_by_viewer() {
        use Visibility::*;
        let stranger = rel(false, false);
        let follower = rel(true, false);
        let mutual = rel(true, true);
        let followed = rel(false, true);
        let cases = [
            (Public, Viewer::Anonymous, true),
            (Public, stranger, true),
            (Friends, Viewer::Anonymous, false),
            (Friends, stranger, false),
            (Friends, follower, false),
            (Friends, followed, false),
            (Friends, mutual, true),
            (Private, Viewer::Anonymous, false),
            (Private, stranger, false),
            (Private, followed, false),
            (Private, follower, true),
            (Private, mutual, true),
        ];
        for (setting, viewer, full) in cases {
            let got = access(&user(setting, Public, Public), viewer);
            assert_eq!(matches!(got, Access::Full { .. }), full, "{setting:?} {viewer:?}");
            if !full {
                assert_eq!(got, Access::Limited);
            }
        }
        assert_eq!(access(&user(Private, Private, Private), Viewer::Owner), Access::Own);
    }

    #[test]
    fn contact_info_and_activity_follow_their_own_settings() {
        use Visibility::*;
        let mutual = rel(true, true);
        let follower = rel(true, false);
        assert_eq!(access(&user(Public, Friends, Public), follower), Access::Full { contact_info: false });
        assert_eq!(access(&user(Public, Friends, Public), mutual), Access::Full { contact_info: true });
        assert_eq!(access(&user(Public, Private, Public), mutual), Access::Full { contact_info: false });
        assert_eq!(access(&user(Public, Public, Public), Viewer::Anonymous), Access::Full { contact_info: true });
        assert!(sees_activity(&user(Public, Public, Public), Viewer::Anonymous));
        assert!(!sees_activity(&user(Public, Public, Friends), follower));
        assert!(sees_activity(&user(Public, Public, Friends), mutual));
        assert!(!sees_activity(&user(Private, Public, Public), rel(false, true)));
        assert!(sees_activity(&user(Private, Public, Public), follower));
        assert!(!sees_activity(&user(Public, Public, Private), mutual));
        assert!(sees_activity(&user(Public, Public, Private), Viewer::Owner));
    }

    #[test]
    fn blocks_and_deactivation_hide() {
        use Visibility::*;
        let blocked_by = Viewer::Other(Relationship { blocked_by: true, ..Default::default() });
        let blocking = Viewer::Other(Relationship { blocking: true, ..Default::default() });
        assert_eq!(access(&user(Public, Public, Public), blocked_by), Access::Hidden);
        assert_eq!(access(&user(Public, Public, Public), blocking), Access::Full { contact_info: true });
        assert!(!sees_activity(&user(Public, Public, Public), blocking));
        let mut gone = user(Public, Public, Public);
        gone.status = AccountStatus::Deactivated;
        assert_eq!(access(&gone, Viewer::Anonymous), Access::Hidden);
    }
}
