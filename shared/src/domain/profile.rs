//! Profile and notification updates: which fields a client may send, what each may
//! hold, and how a patch applies. Absent fields stay as they are; `null` clears.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::user::{Editable, NotificationPreferences, Visibility};
use super::{Fields, PersonName};
use crate::error::AppResult;

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub profile_picture: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub occupation: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub interests: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub social_links: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "present")]
    pub privacy_settings: Option<Option<PrivacyPatch>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrivacyPatch {
    pub profile_visibility: Option<Visibility>,
    pub contact_info_visibility: Option<Visibility>,
    pub activity_visibility: Option<Visibility>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationPatch {
    pub email_notifications: Option<bool>,
    pub push_notifications: Option<bool>,
    pub follows: Option<bool>,
    pub follow_requests: Option<bool>,
    pub security_alerts: Option<bool>,
}

const MAX_INTERESTS: usize = 20;
const MAX_SOCIAL_LINKS: usize = 10;

/// Trimmed text of at most `max` characters; blank clears the field.
fn text(max: usize) -> impl Fn(&str) -> Result<Option<String>, String> {
    move |raw| {
        let value = raw.trim();
        if value.chars().count() > max {
            Err(format!("must be at most {max} characters"))
        } else {
            Ok((!value.is_empty()).then(|| value.to_owned()))
        }
    }
}

/// An absolute http(s) URL of at most 500 characters.
pub fn web_url(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.chars().count() > 500 {
        return Err("must be at most 500 characters".into());
    }
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => {
            Ok(url.to_string())
        }
        _ => Err("must be an http or https URL".into()),
    }
}

/// E.164-like: an optional `+` and 7–15 digits, spaces, dots, hyphens and parentheses
/// allowed between them; stored as `+` and digits when it starts with `+`.
fn phone(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let (plus, rest) = value.strip_prefix('+').map_or((false, value), |r| (true, r));
    if !rest.chars().all(|c| c.is_ascii_digit() || " .-()".contains(c)) {
        return Err("must be a phone number such as +14155550123".into());
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') && plus {
        return Err("must be a phone number such as +14155550123".into());
    }
    Ok(if plus { format!("+{digits}") } else { digits })
}

fn date_of_birth(raw: &str) -> Result<String, String> {
    let date =
        NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| "must be a date as YYYY-MM-DD".to_owned())?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
    if date <= earliest || date >= crate::clock::system_now().date_naive() {
        return Err("must be in the past and after 1900-01-01".into());
    }
    Ok(date.format("%Y-%m-%d").to_string())
}

/// Sets a cleared or validated optional field.
fn set<T>(
    fields: &mut Fields,
    name: &str,
    patch: Option<Option<String>>,
    slot: &mut Option<T>,
    parse: impl Fn(&str) -> Result<Option<T>, String>,
) {
    match patch {
        None => {}
        Some(None) => *slot = None,
        Some(Some(raw)) => {
            if let Some(value) = fields.check(name, parse(&raw)) {
                *slot = value;
            }
        }
    }
}

impl ProfilePatch {
    /// Applies the patch to `user`'s editable part, or answers every invalid field at once.
    pub fn apply(&self, user: &mut Editable) -> AppResult<()> {
        let patch = self.clone();
        let mut f = Fields::new();
        let name = |raw: &str| PersonName::parse(raw).map(|n| Some(n.into_string())).map_err(str::to_owned);
        set(&mut f, "firstName", patch.first_name, &mut user.first_name, name);
        set(&mut f, "lastName", patch.last_name, &mut user.last_name, name);
        set(&mut f, "bio", patch.bio, &mut user.bio, text(500));
        set(&mut f, "profilePicture", patch.profile_picture, &mut user.profile_picture, |r| web_url(r).map(Some));
        set(&mut f, "dateOfBirth", patch.date_of_birth, &mut user.date_of_birth, |r| date_of_birth(r).map(Some));
        let contact = &mut user.profile;
        set(&mut f, "phone", patch.phone, &mut contact.phone, |r| phone(r).map(Some));
        set(&mut f, "location", patch.location, &mut contact.location, text(255));
        set(&mut f, "website", patch.website, &mut contact.website, |r| web_url(r).map(Some));
        set(&mut f, "occupation", patch.occupation, &mut contact.occupation, text(100));
        match patch.interests {
            None => {}
            Some(None) => contact.interests.clear(),
            Some(Some(list)) => {
                if let Some(list) = f.check("interests", interests(list)) {
                    contact.interests = list;
                }
            }
        }
        match patch.social_links {
            None => {}
            Some(None) => contact.social_links.clear(),
            Some(Some(links)) => {
                if let Some(links) = f.check("socialLinks", social_links(links)) {
                    contact.social_links = links;
                }
            }
        }
        match patch.privacy_settings {
            None => {}
            Some(None) => f.add("privacySettings", "cannot be null; send the settings to change"),
            Some(Some(p)) => {
                let settings = &mut user.privacy_settings;
                settings.profile_visibility = p.profile_visibility.unwrap_or(settings.profile_visibility);
                settings.contact_info_visibility =
                    p.contact_info_visibility.unwrap_or(settings.contact_info_visibility);
                settings.activity_visibility = p.activity_visibility.unwrap_or(settings.activity_visibility);
            }
        }
        f.finish()
    }
}

fn interests(list: Vec<String>) -> Result<Vec<String>, String> {
    if list.len() > MAX_INTERESTS {
        return Err(format!("must hold at most {MAX_INTERESTS} items"));
    }
    let mut kept: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        let item = item.trim().to_owned();
        if item.is_empty() || item.chars().count() > 50 {
            return Err("each item must be 1 to 50 characters".into());
        }
        if !kept.iter().any(|k| k.to_lowercase() == item.to_lowercase()) {
            kept.push(item);
        }
    }
    Ok(kept)
}

fn social_links(links: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    if links.len() > MAX_SOCIAL_LINKS {
        return Err(format!("must hold at most {MAX_SOCIAL_LINKS} links"));
    }
    links
        .into_iter()
        .map(|(network, url)| {
            let network = network.trim().to_lowercase();
            let valid = (1..=30).contains(&network.len())
                && network.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err("names must be 1 to 30 letters, digits, '-' or '_'".to_owned());
            }
            web_url(&url).map(|url| (network, url)).map_err(|e| format!("links {e}"))
        })
        .collect()
}

impl NotificationPatch {
    /// Security alerts cannot be turned off.
    pub fn apply(&self, prefs: &mut NotificationPreferences) -> AppResult<()> {
        let mut f = Fields::new();
        if self.security_alerts == Some(false) {
            f.add("securityAlerts", "security alerts cannot be turned off");
        }
        f.finish()?;
        for (value, slot) in [
            (self.email_notifications, &mut prefs.email_notifications),
            (self.push_notifications, &mut prefs.push_notifications),
            (self.follows, &mut prefs.follows),
            (self.follow_requests, &mut prefs.follow_requests),
        ] {
            if let Some(value) = value {
                *slot = value;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_urls() {
        assert_eq!(phone("+1 (415) 555-0123").unwrap(), "+14155550123");
        assert_eq!(phone("0201234567").unwrap(), "0201234567");
        for bad in ["12345", "+0123456789", "call me", "+1234567890123456", "+44 20 ext 5"] {
            assert!(phone(bad).is_err(), "{bad}");
        }
        assert!(web_url("https://example.org/me").is_ok());
        for bad in [
            "ftp://example.org",
            "javascript:alert(1)",
            "example.org",
            "https://",
            &format!("https://e.org/{}", "a".repeat(500)),
        ] {
            assert!(web_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_of_birth() {
        assert_eq!(date_of_birth("1990-02-28").unwrap(), "1990-02-28");
        for bad in ["1899-12-31", "1900-01-01", "2999-01-01", "1990-02-30", "28/02/1990"] {
            assert!(date_of_birth(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interests_and_links() {
        assert_eq!(interests(vec!["Rust".into(), " rust ".into(), "Go".into()]).unwrap(), ["Rust", "Go"]);
        assert!(interests(vec!["x".into(); 21]).is_err());
        assert!(interests(vec!["".into()]).is_err());
        assert!(interests(vec!["y".repeat(51)]).is_err());
        let links = BTreeMap::from([("GitHub".to_string(), "https://github.com/ada".to_string())]);
        assert_eq!(social_links(links).unwrap()["github"], "https://github.com/ada");
        assert!(social_links(BTreeMap::from([("bad key!".to_string(), "https://x.org".to_string())])).is_err());
        assert!(social_links(BTreeMap::from([("x".to_string(), "not a url".to_string())])).is_err());
    }
}
