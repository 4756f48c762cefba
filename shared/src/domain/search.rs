//! Search terms: names folded so that case and accents do not matter ("Zoë" is found
//! by "zoe"), and the tokens a user is found by.

use std::collections::BTreeSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The longest folded text kept, in bytes: search keys stay far below DynamoDB's key
/// limits (1 KB for a sort key) even where folding multiplies a name's length (U+FDFA
/// folds to 18 letters). A longer name is found by its first 200 bytes, and a longer
/// query matches as its first 200 bytes.
pub const MAX_FOLDED_BYTES: usize = 200;

/// `text` cut to at most `MAX_FOLDED_BYTES` at a character boundary.
fn capped(mut text: String) -> String {
    if text.len() > MAX_FOLDED_BYTES {
        let end = (0..=MAX_FOLDED_BYTES).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.truncate(end);
        text.truncate(text.trim_end().len());
    }
    text
}

/// Folds text for matching: compatibility decomposition without combining marks,
/// lower case, letters, digits and `_` kept, every other run of characters one space;
/// at most `MAX_FOLDED_BYTES`.
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
            if folded.len() > MAX_FOLDED_BYTES {
                break;
            }
        } else {
            pending_space = true;
        }
    }
    capped(folded)
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
    let full = capped(format!("{first} {last}").trim().to_owned());
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
    fn folding_is_bounded_however_much_a_character_expands() {
        let ligatures = "\u{FDFA}".repeat(50);
        assert!(fold(&ligatures).len() <= MAX_FOLDED_BYTES);
        assert!(fold(&"é".repeat(300)).len() <= MAX_FOLDED_BYTES);
        let name = "\u{FDFA}".repeat(100);
        assert!(tokens("x_y", Some(&name), Some(&name)).iter().all(|t| t.len() <= MAX_FOLDED_BYTES));
        assert!(fold(&ligatures).starts_with(&fold("\u{FDFA}")), "a long query still matches as a prefix");
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
