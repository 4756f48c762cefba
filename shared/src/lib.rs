//! The common crate of the user service: configuration, domain types, the single-table
//! store, passwords, tokens, the HTTP error envelope and logging.

pub mod aws;
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
