//! Ids in paths. Every user, session and report id the service makes is a UUID in its
//! canonical text (lower-case, hyphenated, 36 characters); a path segment of any other
//! shape names nothing, and is answered 404 before it reaches the table (where an
//! over-long key would be DynamoDB's validation error, not the client's).

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Id(String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if is_id(&text) {
            Ok(Id(text))
        } else {
            Err("not an id")
        }
    }
}

/// An item of one user's partition by its own id (a session, an export): the two ids
/// named, so that they cannot be swapped unseen.
#[derive(Debug, Clone, Copy)]
pub struct OfUser<'a> {
    pub user_id: &'a str,
    pub id: &'a str,
}

/// A UUID as `Uuid::to_string` writes it.
pub fn is_id(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_uuids_are_ids() {
        assert!(is_id(&uuid::Uuid::new_v4().to_string()));
        for not in [
            "",
            "abc",
            &"a".repeat(3000),
            "8C0F5A2E-1111-4222-8333-444455556666",
            "8c0f5a2e+1111-4222-8333-444455556666",
        ] {
            assert!(!is_id(not), "{not}");
        }
        assert!(Id::try_from("٣".repeat(12)).is_err());
    }
}
