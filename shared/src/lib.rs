//! The common crate of the user service: configuration, domain types, the single-table
//! store, passwords, tokens, the HTTP error envelope and logging.

pub mod aws;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod http;
pub mod logging;
pub mod openapi;
pub mod password;
pub mod rate_limit;
pub mod services;
pub mod startup;
pub mod state;
pub mod store;
pub mod tokens;

pub use error::{AppError, AppResult};
pub use state::AppState;

/// What may reach a log through `{:?}`: none of these shows the secret it holds.
#[cfg(test)]
mod no_secret_in_debug {
    const SECRET: &str = "correct-horse-battery-staple-93";

    fn shown(value: &impl std::fmt::Debug) -> String {
        format!("{value:?}")
    }

    #[test]
    fn request_bodies_hide_passwords_and_tokens() {
        let body = format!(r#"{{"identifier":"ada","password":"{SECRET}","deviceToken":"{SECRET}"}}"#);
        let login: crate::services::auth::LoginRequest = serde_json::from_str(&body).unwrap();
        assert!(!shown(&login).contains(SECRET), "{login:?}");
        let change: crate::services::sessions::ChangePasswordRequest =
            serde_json::from_str(&format!(r#"{{"currentPassword":"{SECRET}","newPassword":"{SECRET}"}}"#)).unwrap();
        assert!(!shown(&change).contains(SECRET));
        let reset: crate::services::verification::ResetPasswordRequest =
            serde_json::from_str(&format!(r#"{{"token":"{SECRET}","newPassword":"{SECRET}"}}"#)).unwrap();
        assert!(!shown(&reset).contains(SECRET));
    }

    #[test]
    fn tokens_keys_and_messages_hide_their_secrets() {
        let refresh = crate::domain::session::RefreshToken::new("u", "s");
        assert!(!shown(&refresh).contains(refresh.expose().rsplit('.').next().unwrap()));
        let message = crate::store::outbox::OutboxMessage::new(
            crate::store::outbox::MessageKind::VerifyEmail,
            "u",
            "ada@example.org",
            chrono::Utc::now(),
            [("token", SECRET.to_owned())],
        );
        assert!(!shown(&message).contains(SECRET) && !shown(&message).contains("ada@example.org"));
        let key = crate::tokens::PrivateJwk::generate().unwrap();
        assert!(!shown(&key).contains(&key.d) && !shown(&key).contains(&key.p));
    }
}
