//! The integration tests, one module per area, in one binary: each test still runs in
//! a process of its own under nextest, against a table of its own in DynamoDB Local.

mod account_events;
mod api_reference;
mod audit_table;
mod auth;
mod cleanup;
mod consistency;
mod devices;
mod docs_check;
mod email_change;
mod envelope;
mod events;
mod exports;
mod federation;
mod hostile_input;
mod import;
mod local_server;
mod metrics;
mod mfa;
mod moderation;
mod notify;
mod openapi;
mod passkeys;
mod purge;
mod rate_limits;
mod round_trips;
mod secrets;
mod secure_account;
mod security_events;
mod sessions;
mod social;
mod template;
mod tokens;
mod users;
mod verification;
mod webhooks;
