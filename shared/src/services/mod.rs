//! What each endpoint does, apart from HTTP: one small service per context, each
//! holding just the parts of the state it uses (`state.accounts()`, `state.social()`,
//! …). Handlers turn request bodies into commands (validated values) and call one
//! method; the store reports outcomes, and the services choose the `AppError`.

pub mod accounts;
pub mod devices;
pub mod email_change;
pub mod exports;
pub mod federation;
pub mod health;
pub mod history;
mod limits;
pub mod mfa;
pub mod moderation;
mod notices;
pub mod passkey_check;
pub mod passkeys;
mod password_check;
pub mod profiles;
pub mod secure_account;
pub mod sessions;
pub mod social;
pub mod verification;
pub mod webhooks;

pub use limits::Limiter;
pub use notices::Notices;

use crate::state::AppState;

impl AppState {
    /// Sign-up, sign-in, the own account, its password and its life cycle.
    pub fn accounts(&self) -> accounts::Accounts<'_> {
        accounts::Accounts::new(self)
    }

    /// Refresh, sign-out and the session list.
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions::new(self)
    }

    /// The devices that signed in, and their revocation.
    pub fn devices(&self) -> devices::Devices<'_> {
        devices::Devices::new(self)
    }

    /// "This wasn't me": taking the account back with a notice's link.
    pub fn secure_account(&self) -> secure_account::SecureAccount<'_> {
        secure_account::SecureAccount::new(self)
    }

    /// Passkeys: the caller's, and signing in with one.
    pub fn passkeys(&self) -> passkeys::Passkeys<'_> {
        passkeys::Passkeys::new(self)
    }

    /// Webhook endpoints of the platform's other services (admins only).
    pub fn webhooks(&self) -> webhooks::Webhooks<'_> {
        webhooks::Webhooks::new(self)
    }

    /// Sign-in with OpenID providers, and the caller's linked identities.
    pub fn federation(&self) -> federation::Federation<'_> {
        federation::Federation::new(self)
    }

    /// The caller's security history.
    pub fn security_history(&self) -> history::SecurityHistory<'_> {
        history::SecurityHistory::new(self)
    }

    /// Changing the account's email address.
    pub fn email_change(&self) -> email_change::EmailChange<'_> {
        email_change::EmailChange::new(self)
    }

    /// The caller's data exports.
    pub fn exports(&self) -> exports::Exports<'_> {
        exports::Exports::new(self)
    }

    /// The caller's second factor.
    pub fn second_factor(&self) -> mfa::SecondFactor<'_> {
        mfa::SecondFactor::new(self)
    }

    /// Email verification and password reset.
    pub fn verification(&self) -> verification::Verification<'_> {
        verification::Verification::new(self)
    }

    /// Profiles as others see them, the owner's edits, search and stats.
    pub fn profiles(&self) -> profiles::Profiles<'_> {
        profiles::Profiles::new(self)
    }

    /// The report queue, actions on accounts, roles and the audit log (staff only).
    pub fn moderation(&self) -> moderation::Moderation<'_> {
        moderation::Moderation::new(self)
    }

    /// Follows, requests, blocks, lists, reports.
    pub fn social(&self) -> social::Social<'_> {
        social::Social::new(self)
    }

    /// The detailed health check.
    pub fn health(&self) -> health::HealthCheck<'_> {
        health::HealthCheck::new(self)
    }
}
