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
const WEBHOOK_FOOTER: &str = "You get this message because you registered this webhook as an admin.";
const MODERATION_FOOTER: &str =
    "You get this message because it concerns your account's standing; it cannot be turned off.";

/// The email for a message; `Err` names what is missing (a message that can never be
/// sent, not an address or a token).
pub fn compose(message: &OutboxMessage, base_url: &str) -> Result<Email, String> {
    let data = Data { message, base_url };
    let content = match message.kind {
        MessageKind::VerifyEmail => verify_email(&data)?,
        MessageKind::ResetPassword => reset_password(&data)?,
        MessageKind::PasswordChanged => password_changed(&data)?,
        MessageKind::NewSignIn => new_sign_in(&data)?,
        MessageKind::RefreshTokenReuse => refresh_token_reuse(&data)?,
        MessageKind::AccountDeactivated => account_deactivated(&data)?,
        MessageKind::NewFollower => new_follower(&data)?,
        MessageKind::FollowRequest => follow_request(&data)?,
        MessageKind::ConfirmEmailChange => confirm_email_change(&data)?,
        MessageKind::EmailChangeRequested => email_change_requested(&data)?,
        MessageKind::EmailChanged => email_changed(&data)?,
        MessageKind::AccountModerated => account_moderated(&data)?,
        MessageKind::DataExportReady => data_export_ready(&data)?,
        MessageKind::MfaChanged => mfa_changed(&data)?,
        MessageKind::IdentityChanged => identity_changed(&data)?,
        MessageKind::WebhookDisabled => webhook_disabled(&data)?,
        MessageKind::AccountSecured => account_secured(&data)?,
    };
    content.render()
}

/// What a message says, before it is rendered.
struct Content {
    subject: String,
    paragraphs: Vec<String>,
    action: Option<Action>,
    footer: &'static str,
}

impl Content {
    fn render(self) -> Result<Email, String> {
        let Content { subject, paragraphs, action, footer } = self;
        let html = HtmlBody { subject: &subject, paragraphs: &paragraphs, action: &action, footer }
            .render()
            .map_err(|e| format!("the HTML template failed: {e}"))?;
        let text = TextBody { paragraphs: &paragraphs, action: &action, footer }
            .render()
            .map_err(|e| format!("the text template failed: {e}"))?;
        Ok(Email { subject, text, html, link: action.map(|a| a.url) })
    }
}

/// A message's data, read field by field.
struct Data<'a> {
    message: &'a OutboxMessage,
    base_url: &'a str,
}

impl Data<'_> {
    fn field(&self, name: &'static str) -> Result<&str, String> {
        self.message.data.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or(format!("{name} is missing"))
    }

    fn token(&self) -> Result<&str, String> {
        let token = self.field("token")?;
        let url_safe = token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if url_safe {
            Ok(token)
        } else {
            Err("the token is malformed".into())
        }
    }

    /// Who did it: `Ada Lovelace (@ada)`, or `@ada` without a name.
    fn actor(&self) -> Result<String, String> {
        let username = self.field("actorUsername")?;
        Ok(match self.message.data.get("actorName").filter(|n| !n.trim().is_empty()) {
            Some(name) => format!("{name} (@{username})"),
            None => format!("@{username}"),
        })
    }

    fn link(&self, label: &'static str, path: String) -> Option<Action> {
        Some(Action { label, url: format!("{}{path}", self.base_url) })
    }

    /// A notice of a change of how the account signs in, with its "this wasn't me"
    /// link: what happened (`what`), when, from which device and address, and what the
    /// link does. Without a token (written before notices had links): `otherwise`.
    fn undoable(&self, subject: &str, what: String, otherwise: (&str, Option<Action>)) -> Result<Content, String> {
        if !self.message.data.contains_key("token") {
            return Ok(Content {
                subject: subject.into(),
                paragraphs: vec![what, otherwise.0.into()],
                action: otherwise.1,
                footer: SECURITY_FOOTER,
            });
        }
        let from = format!(
            "When: {}. Device: {}. Address: {}.",
            self.field("at")?,
            self.field("device").unwrap_or("unknown"),
            self.field("ipAddress").unwrap_or("unknown")
        );
        Ok(Content {
            subject: subject.into(),
            paragraphs: vec![
                what,
                from,
                "If this was you, there is nothing to do. If it was not, the link below undoes it: you choose a new password, everyone else is signed out, anything added to your sign-in since (a second factor, a new email address) is removed, and your address comes back to this one. It works once, for 7 days.".into(),
            ],
            action: self.link("This wasn't me: secure my account", format!("/secure-account?token={}", self.token()?)),
            footer: SECURITY_FOOTER,
        })
    }
}

fn verify_email(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "Confirm your email address".into(),
        paragraphs: vec![
            "Welcome! Please confirm that this is your email address. The link works once, for 24 hours.".into()
        ],
        action: data.link("Confirm my email address", format!("/verify-email?token={}", data.token()?)),
        footer: ACCOUNT_FOOTER,
    })
}

fn reset_password(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "Reset your password".into(),
        paragraphs: vec![
            "Someone asked to reset the password of your account. The link works once, for 30 minutes.".into(),
            "If it was not you, ignore this message: your password stays as it is.".into(),
        ],
        action: data.link("Choose a new password", format!("/reset-password?token={}", data.token()?)),
        footer: SECURITY_FOOTER,
    })
}

fn password_changed(data: &Data) -> Result<Content, String> {
    let how = match data.field("via")? {
        "reset" => "with a reset link",
        _ => "from your account settings",
    };
    data.undoable(
        "Your password was changed",
        format!("The password of your account was changed {how}, and your other sessions were signed out."),
        ("If this was not you, reset your password now.", data.link("Reset my password", "/forgot-password".into())),
    )
}

fn new_sign_in(data: &Data) -> Result<Content, String> {
    if !data.message.data.contains_key("token") {
        return Ok(Content {
            subject: "New sign-in to your account".into(),
            paragraphs: vec![
                format!(
                    "Your account was signed in to from a new device: {}.",
                    data.field("device").unwrap_or("unknown device")
                ),
                format!("When: {}. Address: {}.", data.field("at")?, data.field("ipAddress").unwrap_or("unknown")),
                "If this was you, there is nothing to do. If not, change your password and sign out your other sessions."
                    .into(),
            ],
            action: data.link("Review my sessions", "/settings/sessions".into()),
            footer: SECURITY_FOOTER,
        });
    }
    data.undoable("New sign-in to your account", "Your account was signed in to from a new device.".into(), ("", None))
}

fn refresh_token_reuse(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "We ended a session that looked stolen".into(),
        paragraphs: vec![
            format!("At {}, an old sign-in token of one of your sessions was used again, as happens when a token is copied.", data.field("at")?),
            "We signed that session out. If you did not expect this, change your password.".into(),
        ],
        action: data.link("Review my sessions", "/settings/sessions".into()),
        footer: SECURITY_FOOTER,
    })
}

fn account_deactivated(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "Your account is deactivated".into(),
        paragraphs: vec![
            "Your account was deactivated and every session signed out.".into(),
            format!("You can reactivate it by signing in within {} days.", data.field("reactivateWithinDays")?),
        ],
        action: None,
        footer: SECURITY_FOOTER,
    })
}

fn new_follower(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: format!("{} now follows you", data.actor()?),
        paragraphs: vec![format!("{} now follows you.", data.actor()?)],
        action: data.link("See their profile", format!("/users/{}", url_safe_id(data.field("actorId")?)?)),
        footer: SOCIAL_FOOTER,
    })
}

fn follow_request(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: format!("{} asked to follow you", data.actor()?),
        paragraphs: vec![format!("{} asked to follow you. You can accept or decline the request.", data.actor()?)],
        action: data.link("See my follow requests", "/follow-requests".into()),
        footer: SOCIAL_FOOTER,
    })
}

fn confirm_email_change(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "Confirm your new email address".into(),
        paragraphs: vec![
            "Someone asked to use this address for their account. The link works once, for 24 hours.".into(),
            "If it was not you, ignore this message: nothing changes.".into(),
        ],
        action: data.link("Confirm this address", format!("/confirm-email-change?token={}", data.token()?)),
        footer: ACCOUNT_FOOTER,
    })
}

fn email_change_requested(data: &Data) -> Result<Content, String> {
    data.undoable(
        "A change of your email address was asked for",
        format!(
            "Someone signed in to your account asked to change its email address to {}. Your address stays as it is until the new one is confirmed.",
            data.field("newEmail")?
        ),
        ("If this was not you, change your password now.", data.link("Review my sessions", "/settings/sessions".into())),
    )
}

fn email_changed(data: &Data) -> Result<Content, String> {
    data.undoable(
        "Your email address was changed",
        format!(
            "Your account's email address is now {}; this address no longer signs in to it.",
            data.field("newEmail")?
        ),
        ("If this was not you, contact support at once.", None),
    )
}

/// Only the decision and its end: never who reported, never a staff note.
fn account_moderated(data: &Data) -> Result<Content, String> {
    let until = match data.message.data.get("until").filter(|u| !u.is_empty()) {
        Some(until) => format!(" until {until}"),
        None => " until our moderators lift it".into(),
    };
    let (subject, what) = match data.field("action")? {
        "warned" => ("A warning about your account", "Our moderators found that your account broke the community rules, and this is a warning. Please review the rules: a further breach may lead to a limit or a suspension.".to_owned()),
        "limited" => ("Your account was limited", format!("Our moderators limited your account{until}: your full profile is shown only to your accepted followers, new follows become requests, and others do not find you in search.")),
        "unlimited" => ("The limit on your account was lifted", "Our moderators lifted the limit on your account: it is shown and found as before.".to_owned()),
        "suspended" => ("Your account was suspended", format!("Our moderators suspended your account{until}: you were signed out everywhere, you cannot sign in, and others do not see your profile.")),
        "unsuspended" => ("The suspension of your account was lifted", "Our moderators lifted the suspension of your account: you can sign in again.".to_owned()),
        other => return Err(format!("unknown moderation action {other}")),
    };
    Ok(Content {
        subject: subject.into(),
        paragraphs: vec![what, "If you think this is a mistake, reply to our support team.".into()],
        action: None,
        footer: MODERATION_FOOTER,
    })
}

fn data_export_ready(data: &Data) -> Result<Content, String> {
    let url = data.field("downloadUrl")?;
    let plain = url.starts_with("https://") || url.starts_with("http://");
    if !plain || url.contains(|c: char| c.is_whitespace() || c == '"' || c == '<') {
        return Err("the download link is malformed".into());
    }
    Ok(Content {
        subject: "Your data export is ready".into(),
        paragraphs: vec![
            "The copy of your data you asked for is ready. The link works for 24 hours; the export is kept 7 days, and your account's settings give a new link meanwhile.".into(),
            "If you did not ask for it, change your password now.".into(),
        ],
        action: Some(Action { label: "Download my data", url: url.to_owned() }),
        footer: SECURITY_FOOTER,
    })
}

fn mfa_changed(data: &Data) -> Result<Content, String> {
    let what = match data.field("change")? {
        "enabled" => {
            let what = "Two-step sign-in was turned on for your account: signing in now asks for a code of an authenticator app, and your other sessions were signed out.";
            let otherwise = "If this was not you, reset your password now and review your sessions.";
            return data.undoable(
                "Your two-step sign-in changed",
                what.into(),
                (otherwise, data.link("Review my security settings", "/settings/security".into())),
            );
        }
        "passkey_added" => {
            let what = format!(
                "A passkey, \"{}\", was added to your account: it signs in without a password, and answers two-step sign-in.",
                data.field("name")?
            );
            let otherwise = "If this was not you, the passkey is someone else's key to your account.";
            return data.undoable(
                "A passkey was added to your account",
                what,
                (otherwise, data.link("Review my passkeys", "/settings/security".into())),
            );
        }
        "passkey_removed" => {
            &format!("The passkey \"{}\" was removed from your account: it no longer signs in.", data.field("name")?)
        }
        "passkey_cloned" => &format!(
            "A sign-in with your passkey \"{}\" was refused: its signature counter went back, which happens when a copy of the key is used beside the original. Remove the passkey if you do not recognise this, and add it again from your device.",
            data.field("name")?
        ),
        "disabled" => "Two-step sign-in was turned off for your account: signing in now asks for your password alone.",
        "recovery_codes" => "New recovery codes were made for your account; the old ones no longer work.",
        other => return Err(format!("unknown second-factor change {other}")),
    };
    Ok(Content {
        subject: "Your two-step sign-in changed".into(),
        paragraphs: vec![
            what.to_owned(),
            "If this was not you, reset your password now and review your sessions.".into(),
        ],
        action: data.link("Review my security settings", "/settings/security".into()),
        footer: SECURITY_FOOTER,
    })
}

/// To staff: the endpoint's URL is theirs to see, and no event's content is in it.
fn webhook_disabled(data: &Data) -> Result<Content, String> {
    Ok(Content {
        subject: "A webhook was disabled".into(),
        paragraphs: vec![
            format!(
                "The webhook {} has failed every delivery since {}, so it was disabled: it gets no more events.",
                data.field("url")?,
                data.field("failingSince")?
            ),
            "Once the endpoint answers again, register it again (and delete the disabled one); its deliveries list says what went wrong.".into(),
        ],
        action: None,
        footer: WEBHOOK_FOOTER,
    })
}

fn identity_changed(data: &Data) -> Result<Content, String> {
    let provider = data.field("provider")?;
    if !provider.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err("the provider id is malformed".into());
    }
    match data.field("change")? {
        "linked" => data.undoable(
            "A sign-in was added to your account",
            format!("Your account can now be signed in to with {provider}."),
            (
                "If this was not you, remove it from your account and review your sessions.",
                data.link("Review my sign-in methods", "/settings/security".into()),
            ),
        ),
        "unlinked" => Ok(Content {
            subject: "A sign-in was removed from your account".into(),
            paragraphs: vec![
                format!("Your account can no longer be signed in to with {provider}."),
                "If this was not you, reset your password now and review your sessions.".into(),
            ],
            action: data.link("Review my sign-in methods", "/settings/security".into()),
            footer: SECURITY_FOOTER,
        }),
        other => Err(format!("unknown identity change {other}")),
    }
}

fn account_secured(data: &Data) -> Result<Content, String> {
    let mut paragraphs = vec![
        "Your account was secured with the link of one of our notices: it has a new password, every session and device was signed out, and what was added to its sign-in since that change was removed.".to_owned(),
    ];
    match data.field("emailRestored")? {
        "true" => paragraphs.push("Its email address is this one again.".into()),
        "kept" => paragraphs.push(
            "Its email address could not be put back (another account uses it now): check it in your settings.".into(),
        ),
        _ => {}
    }
    Ok(Content {
        subject: "Your account is secured".into(),
        paragraphs,
        action: data.link("Review my security history", "/settings/security".into()),
        footer: SECURITY_FOOTER,
    })
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
        // What every notice of a change of how the account signs in carries.
        let change = |data: &[(&'static str, &'static str)]| {
            let context = [
                ("token", "abc_DEF-123"),
                ("device", "Safari on iOS"),
                ("ipAddress", "192.0.2.1"),
                ("at", "2026-11-26T10:00:00Z"),
            ];
            data.iter().chain(context.iter()).copied().collect::<Vec<_>>()
        };
        MessageKind::ALL
            .into_iter()
            .map(|kind| match kind {
                MessageKind::VerifyEmail | MessageKind::ResetPassword => message(kind, &[("token", "abc_DEF-123")]),
                MessageKind::PasswordChanged => message(kind, &change(&[("via", "reset")])),
                MessageKind::NewSignIn => message(kind, &change(&[])),
                MessageKind::RefreshTokenReuse => message(kind, &[("sessionId", "s1"), ("at", "2026-11-26T10:00:00Z")]),
                MessageKind::AccountDeactivated => message(kind, &[("reactivateWithinDays", "30")]),
                MessageKind::NewFollower | MessageKind::FollowRequest => message(kind, &actor),
                MessageKind::MfaChanged => message(kind, &change(&[("change", "enabled")])),
                // (the passkey notices, beside: `passkey_notices_name_the_passkey`)
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
                    message(kind, &change(&[("newEmail", "ada.new@example.org")]))
                }
                MessageKind::AccountSecured => message(kind, &[("emailRestored", "true")]),
                MessageKind::IdentityChanged => message(kind, &change(&[("change", "linked"), ("provider", "google")])),
                MessageKind::WebhookDisabled => message(
                    kind,
                    &[("url", "https://hooks.example.com/users"), ("failingSince", "2026-11-26T10:00:00Z")],
                ),
            })
            .collect()
    }

    #[test]
    fn notices_of_sign_in_changes_say_when_from_where_and_carry_the_link_that_undoes_them() {
        for message in
            every_kind().into_iter().filter(|m| m.data.contains_key("token") && m.data.contains_key("device"))
        {
            let email = compose(&message, "https://app.example").unwrap();
            assert_eq!(
                email.link.as_deref(),
                Some("https://app.example/secure-account?token=abc_DEF-123"),
                "{:?}",
                message.kind
            );
            for shown in ["2026-11-26T10:00:00Z", "Safari on iOS", "192.0.2.1", "undoes it"] {
                assert!(email.text.contains(shown), "{:?} says {shown}", message.kind);
            }
        }
        let old = message(MessageKind::MfaChanged, &[("change", "enabled")]);
        assert!(compose(&old, "https://app.example").unwrap().link.unwrap().ends_with("/settings/security"));
    }

    #[test]
    fn passkey_notices_name_the_passkey_and_an_added_one_can_be_undone() {
        let with = |change: &'static str| {
            let mut data = vec![("change", change), ("name", "Chrome on macOS")];
            if change == "passkey_added" {
                data.extend([
                    ("token", "abc_DEF-123"),
                    ("device", "Safari on iOS"),
                    ("ipAddress", "192.0.2.1"),
                    ("at", "2026-11-26T10:00:00Z"),
                ]);
            }
            compose(&message(MessageKind::MfaChanged, &data), "https://app.example").unwrap()
        };
        let added = with("passkey_added");
        assert_eq!(added.link.as_deref(), Some("https://app.example/secure-account?token=abc_DEF-123"));
        for change in ["passkey_added", "passkey_removed", "passkey_cloned"] {
            let email = with(change);
            assert!(email.text.contains("\"Chrome on macOS\""), "{change}: {}", email.text);
            assert!(email.html.contains("Chrome on macOS"), "{change}");
        }
        assert!(with("passkey_cloned").text.contains("counter went back"));
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
