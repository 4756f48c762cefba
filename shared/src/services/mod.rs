//! Domain operations: what each endpoint does, apart from HTTP parsing.

pub mod auth;
pub mod sessions;
pub mod social;
pub mod users;
pub mod verification;
