//! The old service's rows as this service keeps them: a user row (with its profile) as
//! an account, a relationship row as the relations it means, each refused with a reason
//! where it breaks this service's rules.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use shared::domain::user::{
    AccountStatus, ContactProfile, Editable, NotificationPreferences, PrivacySettings, UserRecord, Visibility,
};
use shared::domain::{Email, PersonName, Username};
use shared::password::is_bcrypt;
use shared::store::imports::Relation;
use uuid::Uuid;

/// A row of `users` with its `user_profiles` row (absent: every profile field `None`).
#[derive(Debug, Clone, Default)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture: Option<String>,
    pub bio: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub is_verified: Option<bool>,
    pub is_active: Option<bool>,
    pub last_login: Option<NaiveDateTime>,
    pub created_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub website: Option<String>,
    pub occupation: Option<String>,
    pub interests: Option<Vec<String>>,
    pub privacy_settings: Option<Value>,
    pub notification_preferences: Option<Value>,
    pub social_links: Option<Value>,
}

/// A row of `user_relationships`.
#[derive(Debug, Clone)]
pub struct RelationshipRow {
    pub id: Uuid,
    pub follower_id: Uuid,
    pub following_id: Uuid,
    pub relationship_type: String,
    pub status: String,
    pub created_at: Option<NaiveDateTime>,
}

/// The old service's timestamps carry no zone: they were UTC.
fn utc(at: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    at.map(|at| at.and_utc())
}

/// The account a user row becomes (its counters still 0), or why it is refused.
/// `now` is the import's time: an inactive account is deactivated from then, so its
/// deletion window starts at the import.
pub fn account(row: &UserRow, now: DateTime<Utc>) -> Result<UserRecord, String> {
    let username = Username::parse(&row.username).map_err(|why| format!("invalid username: {why}"))?;
    let email = Email::parse(&row.email).map_err(|why| format!("invalid email: {why}"))?;
    let password_hash = match row.password_hash.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(hash) if is_bcrypt(hash) => hash.to_owned(),
        Some(_) => return Err("unknown password hash format (only bcrypt $2a$, $2b$, $2y$ are kept)".into()),
    };
    // Names as this service writes them where they pass its rules, else as they were:
    // nothing is dropped (the owner meets the rules at their next edit).
    let name = |raw: &Option<String>| {
        let raw = raw.as_deref().map(str::trim).filter(|n| !n.is_empty())?;
        Some(PersonName::parse(raw).map_or_else(|_| raw.to_owned(), PersonName::into_string))
    };
    let created_at = utc(row.created_at).unwrap_or(now);
    let active = row.is_active.unwrap_or(true);
    let mut user = UserRecord {
        id: row.id.to_string(),
        editable: Editable {
            first_name: name(&row.first_name),
            last_name: name(&row.last_name),
            bio: row.bio.clone().filter(|b| !b.trim().is_empty()),
            profile_picture: row.profile_picture.clone().filter(|p| !p.trim().is_empty()),
            date_of_birth: row.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string()),
            profile: ContactProfile {
                location: row.location.clone(),
                website: row.website.clone(),
                occupation: row.occupation.clone(),
                interests: row.interests.clone().unwrap_or_default(),
                social_links: social_links(row.social_links.as_ref()),
                phone: row.phone.clone(),
            },
            privacy_settings: privacy(row.privacy_settings.as_ref()),
            notification_preferences: notifications(row.notification_preferences.as_ref()),
        },
        is_verified: row.is_verified.unwrap_or(false),
        created_at,
        updated_at: utc(row.updated_at).unwrap_or(created_at),
        last_login: utc(row.last_login),
        ..UserRecord::new(username.as_str(), email.as_str(), password_hash, now)
    };
    if !active {
        user.status = AccountStatus::Deactivated;
        user.deactivated_at = Some(now);
    }
    Ok(user)
}

/// `{"profile_visibility": "public", "contact_info_visibility": "friends", …}` as ours;
/// a missing or unknown value takes this service's default.
fn privacy(settings: Option<&Value>) -> PrivacySettings {
    let defaults = PrivacySettings::default();
    let read = |name: &str, default: Visibility| match settings.and_then(|s| s.get(name)).and_then(Value::as_str) {
        Some("public") => Visibility::Public,
        Some("friends") => Visibility::Friends,
        Some("private") => Visibility::Private,
        _ => default,
    };
    PrivacySettings {
        profile_visibility: read("profile_visibility", defaults.profile_visibility),
        contact_info_visibility: read("contact_info_visibility", defaults.contact_info_visibility),
        activity_visibility: read("activity_visibility", defaults.activity_visibility),
    }
}

/// `{"email_notifications": true, "push_notifications": true, …}` as ours.
fn notifications(preferences: Option<&Value>) -> NotificationPreferences {
    let defaults = NotificationPreferences::default();
    let read =
        |name: &str, default: bool| preferences.and_then(|p| p.get(name)).and_then(Value::as_bool).unwrap_or(default);
    NotificationPreferences {
        email_notifications: read("email_notifications", defaults.email_notifications),
        push_notifications: read("push_notifications", defaults.push_notifications),
        follows: read("follows", defaults.follows),
        follow_requests: read("follow_requests", defaults.follow_requests),
        security_alerts: true,
    }
}

/// The links whose values are text (`{"twitter": "@ada"}`).
fn social_links(links: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(links)) = links else { return BTreeMap::new() };
    links.iter().filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned()))).collect()
}

/// The relations a relationship row means, from the follower's side: an accepted follow
/// is a follow, a pending one a request, a rejected one nothing; a block (whatever its
/// status) a block; a friendship a follow each way (pending: a request; rejected:
/// nothing). `Err`: a row of a kind this service has no place for.
pub fn relations(row: &RelationshipRow) -> Result<Vec<(Relation, Uuid, Uuid)>, String> {
    let (a, b) = (row.follower_id, row.following_id);
    if a == b {
        return Err("a relationship of a user with themselves".into());
    }
    Ok(match (row.relationship_type.as_str(), row.status.as_str()) {
        ("block", _) => vec![(Relation::Block, a, b)],
        ("follow" | "friend", "rejected") => Vec::new(),
        ("follow" | "friend", "pending") => vec![(Relation::Request, a, b)],
        ("follow", "accepted") => vec![(Relation::Follow, a, b)],
        ("friend", "accepted") => vec![(Relation::Follow, a, b), (Relation::Follow, b, a)],
        (kind, status) => return Err(format!("unknown relationship {kind:?} with status {status:?}")),
    })
}

/// When a relationship row was made.
pub fn relationship_time(row: &RelationshipRow, now: DateTime<Utc>) -> DateTime<Utc> {
    utc(row.created_at).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    fn row() -> UserRow {
        UserRow {
            id: Uuid::new_v4(),
            username: "Ada_L".into(),
            email: "Ada@Example.org".into(),
            password_hash: Some(BCRYPT.into()),
            is_active: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn a_user_row_keeps_its_id_names_hash_times_and_settings() {
        let now = shared::clock::system_now();
        let created = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap().and_hms_opt(9, 30, 0).unwrap();
        let row = UserRow {
            first_name: Some(" Ada ".into()),
            bio: Some("maths".into()),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 12, 10),
            created_at: Some(created),
            interests: Some(vec!["engines".into()]),
            privacy_settings: Some(
                serde_json::json!({ "profile_visibility": "private", "contact_info_visibility": "bogus" }),
            ),
            notification_preferences: Some(serde_json::json!({ "email_notifications": false })),
            social_links: Some(serde_json::json!({ "site": "https://ada.example", "n": 3 })),
            ..row()
        };
        let user = account(&row, now).unwrap();
        assert_eq!(
            (user.id.as_str(), user.username.as_str(), user.email.as_str()),
            (row.id.to_string().as_str(), "Ada_L", "ada@example.org")
        );
        assert_eq!(user.password_hash, BCRYPT);
        assert_eq!(user.editable.first_name.as_deref(), Some("Ada"));
        assert_eq!(user.editable.date_of_birth.as_deref(), Some("1990-12-10"));
        assert_eq!(user.created_at, created.and_utc());
        assert_eq!(user.editable.privacy_settings.profile_visibility, Visibility::Private);
        assert_eq!(user.editable.privacy_settings.contact_info_visibility, Visibility::Friends, "unknown: the default");
        assert!(!user.editable.notification_preferences.email_notifications);
        assert_eq!(user.editable.profile.social_links.len(), 1);
        assert_eq!(user.status, AccountStatus::Active);
    }

    #[test]
    fn inactive_users_are_deactivated_from_the_import_and_bad_rows_say_why() {
        let now = shared::clock::system_now();
        let user = account(&UserRow { is_active: Some(false), ..row() }, now).unwrap();
        assert_eq!((user.status, user.deactivated_at), (AccountStatus::Deactivated, Some(now)));
        let refused = |row: UserRow| account(&row, now).unwrap_err();
        assert!(refused(UserRow { username: "a b".into(), ..row() }).starts_with("invalid username"));
        assert!(refused(UserRow { email: "nope".into(), ..row() }).starts_with("invalid email"));
        assert!(
            refused(UserRow { password_hash: Some("sha1$abc".into()), ..row() }).starts_with("unknown password hash")
        );
        assert_eq!(account(&UserRow { password_hash: None, ..row() }, now).unwrap().password_hash, "");
    }

    #[test]
    fn relationship_rows_become_the_relations_they_mean() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let rel = |kind: &str, status: &str| RelationshipRow {
            id: Uuid::new_v4(),
            follower_id: a,
            following_id: b,
            relationship_type: kind.into(),
            status: status.into(),
            created_at: None,
        };
        assert_eq!(relations(&rel("follow", "accepted")).unwrap(), [(Relation::Follow, a, b)]);
        assert_eq!(relations(&rel("follow", "pending")).unwrap(), [(Relation::Request, a, b)]);
        assert!(relations(&rel("follow", "rejected")).unwrap().is_empty());
        assert_eq!(relations(&rel("block", "pending")).unwrap(), [(Relation::Block, a, b)]);
        assert_eq!(
            relations(&rel("friend", "accepted")).unwrap(),
            [(Relation::Follow, a, b), (Relation::Follow, b, a)]
        );
        assert!(relations(&rel("poke", "accepted")).is_err());
        assert!(relations(&RelationshipRow { following_id: a, ..rel("follow", "accepted") }).is_err());
    }
}
