//! Each kind of message as an email: a subject, a plain-text body and an HTML body,
//! from the two templates in `templates/` (compiled and checked by askama at build
//! time; the HTML one escapes every value, so a name or a user agent is shown as text).
//! Links point at the client app, under `APP_BASE_URL`.

use askama::Template;
use shared::store::outbox::{MessageKind, OutboxMessage};

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The message's link, if it has one (the local console prints it).
    pub link: Option<String>,
}

struct Action {
    label: &'static str,
    url: String,
}

#[derive(Template)]
#[template(path = "email.html")]
struct HtmlBody<'a> {
    subject: &'a str,
    paragraphs: &'a [String],
    action: &'a Option<Action>,
    footer: &'a str,
}

#[derive(Template)]
#[template(path = "email.txt")]
struct TextBody<'a> {
    paragraphs: &'a [String],
    action: &'a Option<Action>,
    footer: &'a str,
}

const SECURITY_FOOTER: &str =
    "You get this message because it concerns the security of your account; it cannot be turned off.";
const SOCIAL_FOOTER: &str = "You can turn these emails off in your notification settings.";
const ACCOUNT_FOOTER: &str = "If this was not you, you can ignore this message.";
const MODERATION_FOOTER: &str =
    "You get this message because it concerns your account's standing; it cannot be turned off.";

/// The email for a message; `Err` names what is missing (a message that can never be
/// sent, not an address or a token).
pub fn compose(message: &OutboxMessage, base_url: &str) -> Result<Email, String> {
    let field = |name: &'static str| -> Result<&str, String> {
        message.data.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or(format!("{name} is missing"))
    };
    let token = || -> Result<&str, String> {
        let token = field("token")?;
        let url_safe = token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if url_safe {
            Ok(token)
        } else {
            Err("the token is malformed".into())
        }
    };
    let actor = || -> Result<String, String> {
        let username = field("actorUsername")?;
        Ok(match message.data.get("actorName").filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("{name} (@{username})"),
            None => format!("@{username}"),
        })
    };
    let link = |label, path: String| Some(Action { label, url: format!("{base_url}{path}") });

    let (subject, paragraphs, action, footer): (String, Vec<String>, Option<Action>, &str) = match message.kind {
        MessageKind::VerifyEmail => (
            "Confirm your email address".into(),
            vec!["Welcome! Please confirm that this is your email address. The link works once, for 24 hours.".into()],
            link("Confirm my email address", format!("/verify-email?token={}", token()?)),
            ACCOUNT_FOOTER,
        ),
        MessageKind::ResetPassword => (
            "Reset your password".into(),
            vec![
                "Someone asked to reset the password of your account. The link works once, for 30 minutes.".into(),
                "If it was not you, ignore this message: your password stays as it is.".into(),
            ],
            link("Choose a new password", format!("/reset-password?token={}", token()?)),
            SECURITY_FOOTER,
        ),
        MessageKind::PasswordChanged => {
            let how = match field("via")? {
                "reset" => "with a reset link",
                _ => "from your account settings",
            };
            (
                "Your password was changed".into(),
                vec![
                    format!("The password of your account was changed {how}, and your other sessions were signed out."),
                    "If this was not you, reset your password now.".into(),
                ],
                link("Reset my password", "/forgot-password".into()),
                SECURITY_FOOTER,
            )
        }
        MessageKind::NewSignIn => (
            "New sign-in to your account".into(),
            vec![
                format!("Your account was signed in to from a new device: {}.", field("device").unwrap_or("unknown device")),
                format!("When: {}. Address: {}.", field("at")?, field("ipAddress").unwrap_or("unknown")),
                "If this was you, there is nothing to do. If not, change your password and sign out your other sessions.".into(),
            ],
            link("Review my sessions", "/settings/sessions".into()),
            SECURITY_FOOTER,
        ),
        MessageKind::RefreshTokenReuse => (
            "We ended a session that looked stolen".into(),
            vec![
                format!("At {}, an old sign-in token of one of your sessions was used again, as happens when a token is copied.", field("at")?),
                "We signed that session out. If you did not expect this, change your password.".into(),
            ],
            link("Review my sessions", "/settings/sessions".into()),
            SECURITY_FOOTER,
        ),
        MessageKind::AccountDeactivated => (
            "Your account is deactivated".into(),
            vec![
                "Your account was deactivated and every session signed out.".into(),
                format!("You can reactivate it by signing in within {} days.", field("reactivateWithinDays")?),
            ],
            None,
            SECURITY_FOOTER,
        ),
        MessageKind::NewFollower => (
            format!("{} now follows you", actor()?),
            vec![format!("{} now follows you.", actor()?)],
            link("See their profile", format!("/users/{}", url_safe_id(field("actorId")?)?)),
            SOCIAL_FOOTER,
        ),
        MessageKind::FollowRequest => (
            format!("{} asked to follow you", actor()?),
            vec![format!("{} asked to follow you. You can accept or decline the request.", actor()?)],
            link("See my follow requests", "/follow-requests".into()),
            SOCIAL_FOOTER,
        ),
        MessageKind::ConfirmEmailChange => (
            "Confirm your new email address".into(),
            vec![
                "Someone asked to use this address for their account. The link works once, for 24 hours.".into(),
                "If it was not you, ignore this message: nothing changes.".into(),
            ],
            link("Confirm this address", format!("/confirm-email-change?token={}", token()?)),
            ACCOUNT_FOOTER,
        ),
        MessageKind::EmailChangeRequested => (
            "A change of your email address was asked for".into(),
            vec![
                format!("Someone signed in to your account asked to change its email address to {}.", field("newEmail")?),
                "Your address stays as it is until the new one is confirmed. If this was not you, change your password now.".into(),
            ],
            link("Review my sessions", "/settings/sessions".into()),
            SECURITY_FOOTER,
        ),
        MessageKind::EmailChanged => (
            "Your email address was changed".into(),
            vec![
                format!("Your account's email address is now {}; this address no longer signs in to it.", field("newEmail")?),
                "If this was not you, contact support at once.".into(),
            ],
            None,
            SECURITY_FOOTER,
        ),
        MessageKind::AccountModerated => {
            // Only the decision and its end: never who reported, never a staff note.
            let until = match message.data.get("until").filter(|u| !u.is_empty()) {
                Some(until) => format!(" until {until}"),
                None => " until our moderators lift it".into(),
            };
            let (subject, what) = match field("action")? {
                "warned" => ("A warning about your account", "Our moderators found that your account broke the community rules, and this is a warning. Please review the rules: a further breach may lead to a limit or a suspension.".to_owned()),
                "limited" => ("Your account was limited", format!("Our moderators limited your account{until}: your full profile is shown only to your accepted followers, new follows become requests, and others do not find you in search.")),
                "unlimited" => ("The limit on your account was lifted", "Our moderators lifted the limit on your account: it is shown and found as before.".to_owned()),
                "suspended" => ("Your account was suspended", format!("Our moderators suspended your account{until}: you were signed out everywhere, you cannot sign in, and others do not see your profile.")),
                "unsuspended" => ("The suspension of your account was lifted", "Our moderators lifted the suspension of your account: you can sign in again.".to_owned()),
                other => return Err(format!("unknown moderation action {other}")),
            };
            (subject.into(), vec![what, "If you think this is a mistake, reply to our support team.".into()], None, MODERATION_FOOTER)
        }
        MessageKind::DataExportReady => {
            let url = field("downloadUrl")?;
            let plain = url.starts_with("https://") || url.starts_with("http://");
            if !plain || url.contains(|c: char| c.is_whitespace() || c == '"' || c == '<') {
                return Err("the download link is malformed".into());
            }
            (
                "Your data export is ready".into(),
                vec![
                    "The copy of your data you asked for is ready. The link works for 24 hours; the export is kept 7 days, and your account's settings give a new link meanwhile.".into(),
                    "If you did not ask for it, change your password now.".into(),
                ],
                Some(Action { label: "Download my data", url: url.to_owned() }),
                SECURITY_FOOTER,
            )
        }
        MessageKind::MfaChanged => {
            let what = match field("change")? {
                "enabled" => "Two-step sign-in was turned on for your account: signing in now asks for a code of your authenticator app, and your other sessions were signed out.",
                "disabled" => "Two-step sign-in was turned off for your account: signing in now asks for your password alone.",
                "recovery_codes" => "New recovery codes were made for your account; the old ones no longer work.",
                other => return Err(format!("unknown second-factor change {other}")),
            };
            (
                "Your two-step sign-in changed".into(),
                vec![what.into(), "If this was not you, reset your password now and review your sessions.".into()],
                link("Review my security settings", "/settings/security".into()),
                SECURITY_FOOTER,
            )
        }
    };
    let html = HtmlBody { subject: &subject, paragraphs: &paragraphs, action: &action, footer }
        .render()
        .map_err(|e| format!("the HTML template failed: {e}"))?;
    let text = TextBody { paragraphs: &paragraphs, action: &action, footer }
        .render()
        .map_err(|e| format!("the text template failed: {e}"))?;
    Ok(Email { subject, text, html, link: action.map(|a| a.url) })
}

fn url_safe_id(id: &str) -> Result<&str, String> {
    if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(id)
    } else {
        Err("the actor id is malformed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: MessageKind, data: &[(&'static str, &str)]) -> OutboxMessage {
        OutboxMessage::new(
            kind,
            "u1",
            "ada@example.org",
            shared::clock::system_now(),
            data.iter().map(|(k, v)| (*k, v.to_string())),
        )
    }

    /// A message of each kind with the data its writer gives it.
    fn every_kind() -> Vec<OutboxMessage> {
        let actor = [("actorId", "0b7e-42"), ("actorUsername", "grace"), ("actorName", "Grace Hopper")];
        MessageKind::ALL
            .into_iter()
            .map(|kind| match kind {
                MessageKind::VerifyEmail | MessageKind::ResetPassword => message(kind, &[("token", "abc_DEF-123")]),
                MessageKind::PasswordChanged => message(kind, &[("via", "reset")]),
                MessageKind::NewSignIn => message(
                    kind,
                    &[("device", "iOS — Safari"), ("ipAddress", "192.0.2.1"), ("at", "2026-11-26T10:00:00Z")],
                ),
                MessageKind::RefreshTokenReuse => message(kind, &[("sessionId", "s1"), ("at", "2026-11-26T10:00:00Z")]),
                MessageKind::AccountDeactivated => message(kind, &[("reactivateWithinDays", "30")]),
                MessageKind::NewFollower | MessageKind::FollowRequest => message(kind, &actor),
                MessageKind::MfaChanged => message(kind, &[("change", "enabled")]),
                MessageKind::ConfirmEmailChange => message(kind, &[("token", "abc_DEF-123")]),
                MessageKind::DataExportReady => message(
                    kind,
                    &[
                        ("exportId", "e1"),
                        ("downloadUrl", "https://app.example/bucket/exports/u1/e1.json?X-Amz-Signature=abc"),
                    ],
                ),
                MessageKind::AccountModerated => {
                    message(kind, &[("action", "suspended"), ("until", "2026-12-03T10:00:00Z")])
                }
                MessageKind::EmailChangeRequested | MessageKind::EmailChanged => {
                    message(kind, &[("newEmail", "ada.new@example.org")])
                }
            })
            .collect()
    }

    #[test]
    fn every_kind_renders_a_subject_a_text_and_an_html_body() {
        for message in every_kind() {
            let email = compose(&message, "https://app.example").unwrap_or_else(|e| panic!("{:?}: {e}", message.kind));
            assert!(!email.subject.is_empty() && email.html.starts_with("<!doctype html>"), "{:?}", message.kind);
            assert!(email.html.contains(&format!("<title>{}</title>", email.subject)), "{:?}", message.kind);
            assert!(!email.text.contains('<'), "{:?}: the text body is plain", message.kind);
            if let Some(link) = &email.link {
                assert!(link.starts_with("https://app.example/"), "{link}");
                assert!(email.text.contains(link.as_str()) && email.html.contains(link.as_str()));
            }
        }
    }

    #[test]
    fn links_carry_the_token_under_the_base_url() {
        let verify = compose(&message(MessageKind::VerifyEmail, &[("token", "abc_DEF-123")]), "https://app.example");
        assert_eq!(verify.unwrap().link.unwrap(), "https://app.example/verify-email?token=abc_DEF-123");
        let reset = compose(&message(MessageKind::ResetPassword, &[("token", "t0k")]), "http://localhost:3000");
        assert_eq!(reset.unwrap().link.unwrap(), "http://localhost:3000/reset-password?token=t0k");
    }

    #[test]
    fn what_a_user_controls_is_escaped_in_html_and_kept_in_text() {
        let follow = message(
            MessageKind::NewFollower,
            &[("actorId", "a1"), ("actorUsername", "mallory"), ("actorName", "<script>alert('x')</script> & Co")],
        );
        let email = compose(&follow, "https://app.example").unwrap();
        assert!(!email.html.contains("<script>"), "{}", email.html);
        assert!(email.html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; Co"), "{}", email.html);
        assert!(email.text.contains("<script>alert('x')</script> & Co (@mallory) now follows you."));
        let sign_in = message(MessageKind::NewSignIn, &[("device", "\"><img src=x>"), ("at", "now")]);
        assert!(!compose(&sign_in, "https://app.example").unwrap().html.contains("<img"));
    }

    #[test]
    fn a_message_without_what_it_needs_cannot_be_composed() {
        assert_eq!(
            compose(&message(MessageKind::VerifyEmail, &[]), "https://a.example").unwrap_err(),
            "token is missing"
        );
        let odd = message(MessageKind::ResetPassword, &[("token", "a\"b")]);
        assert_eq!(compose(&odd, "https://a.example").unwrap_err(), "the token is malformed");
        assert!(compose(&message(MessageKind::NewFollower, &[("actorId", "a")]), "https://a.example").is_err());
    }
}
