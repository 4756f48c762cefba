use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// 3–30 of `[A-Za-z0-9_]`, shown as typed, unique without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let len = raw.chars().count();
        if !(3..=30).contains(&len) {
            return Err("must be 3 to 30 characters");
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("may contain only letters A-Z, digits and underscores");
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, stored and compared lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.chars().count() > Self::MAX_LEN {
            return Err("must be at most 255 characters");
        }
        let invalid = "must be a valid email address";
        let (local, domain) = email.rsplit_once('@').ok_or(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.chars().count() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.len() >= 2);
        if local_ok && domain_ok {
            Ok(Email(email))
        } else {
            Err(invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }
}

/// A first or last name: 1–100 characters of letters (any script), spaces, hyphens and
/// apostrophes, NFC-normalised so that "Zoë" is one form however it was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name: String = raw.trim().nfc().collect();
        let len = name.chars().count();
        if !(1..=100).contains(&len) {
            return Err("must be 1 to 100 characters");
        }
        let allowed = |c: char| {
            c.is_alphabetic()
                || c == ' '
                || c == '-'
                || c == '\''
                || c == '\u{2019}'
                // Combining marks that have no precomposed form still belong to letters.
                || unicode_normalization::char::is_combining_mark(c)
        };
        if !name.chars().all(allowed) || !name.chars().next().is_some_and(char::is_alphabetic) {
            return Err("may contain only letters, spaces, hyphens and apostrophes");
        }
        Ok(PersonName(name))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Ada_Lovelace1").unwrap().key(), "ada_lovelace1");
        for bad in ["ab", "a".repeat(31).as_str(), "has space", "dash-ed", "zoë"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_need_two_domain_labels() {
        assert_eq!(Email::parse("Ada@Example.ORG").unwrap().as_str(), "ada@example.org");
        assert_eq!(Email::parse("first.last+tag@mail.example.co").unwrap().local_part(), "first.last+tag");
        for bad in [
            "plain",
            "@example.org",
            "ada@localhost",
            "ada@.org",
            "ada@example.",
            "a b@example.org",
            "ada@exa mple.org",
            "ada..x@example.org",
            "ada@-example.org",
            "ada@example.o",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@{}.org", "a".repeat(64), "b".repeat(190));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn names_accept_any_script_and_normalise() {
        assert_eq!(PersonName::parse("Zoe\u{308}").unwrap().into_string(), "Zoë");
        for good in ["O'Brien", "Jean-Luc", "Anne Marie", "Žofie", "李", "Ærø", "Владимир"] {
            assert!(PersonName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "   ", "R2D2", "a_b", "<script>", "-dash", &"x".repeat(101)] {
            assert!(PersonName::parse(bad).is_err(), "{bad}");
        }
    }
}
