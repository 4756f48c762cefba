//! Search terms: names folded so that case and accents do not matter ("Zoë" is found
//! by "zoe"), and the tokens a user is found by.

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds text for matching: compatibility decomposition without combining marks,
/// lower case, letters, digits and `_` kept, every other run of characters one space.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '_' {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.push(c);
        } else {
            pending_space = true;
        }
    }
    folded
}

/// Most words of a name that are indexed, so one user writes a bounded number of entries.
const MAX_WORDS: usize = 4;

/// The tokens a user is found by: the username, each word of the first and last name,
/// and the whole name ("ada love" finds Ada Lovelace).
pub fn tokens(username: &str, first_name: Option<&str>, last_name: Option<&str>) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    tokens.insert(fold(username));
    let (first, last) = (first_name.map(fold).unwrap_or_default(), last_name.map(fold).unwrap_or_default());
    for name in [&first, &last] {
        tokens.extend(name.split(' ').filter(|w| !w.is_empty()).take(MAX_WORDS).map(str::to_owned));
    }
    let full = format!("{first} {last}").trim().to_owned();
    if full.contains(' ') {
        tokens.insert(full);
    }
    tokens.retain(|t| !t.is_empty());
    tokens
}

/// The index partition of a token: its first character.
pub fn partition(token: &str) -> String {
    token.chars().next().map(String::from).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Zoë"), "zoe");
        assert_eq!(fold("Zoe\u{308}"), "zoe");
        assert_eq!(fold("ÅNGSTRÖM"), "angstrom");
        assert_eq!(fold("  O'Brien-Smith "), "o brien smith");
        assert_eq!(fold("Ada_Lovelace"), "ada_lovelace");
        assert_eq!(fold("ﬁne"), "fine");
        assert_eq!(fold("李小龙"), "李小龙");
        assert_eq!(fold("#%!"), "");
    }

    #[test]
    fn tokens_of_a_user() {
        let t = tokens("Ada_L", Some("Ada"), Some("Lovelace Byron"));
        let expected: BTreeSet<String> =
            ["ada_l", "ada", "lovelace", "byron", "ada lovelace byron"].iter().map(|s| s.to_string()).collect();
        assert_eq!(t, expected);
        assert_eq!(tokens("solo", None, None).len(), 1);
        assert_eq!(partition("zoe"), "z");
    }
}
