//! The CORS answers: API Gateway gives them in AWS (`CorsConfiguration` in
//! template.yaml, checked against these by a test), the local server in development.
//! Tokens travel in the Authorization header, never in cookies, so no credentials mode.

pub const ALLOWED_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "OPTIONS"];
pub const ALLOWED_HEADERS: &[&str] = &["authorization", "content-type"];
pub const EXPOSED_HEADERS: &[&str] = &["x-request-id", "retry-after"];
pub const MAX_AGE_SECS: u64 = 600;
/// `CORS_ALLOWED_ORIGINS` (comma-separated) locally; the `AllowedOrigins` parameter in AWS.
pub const DEFAULT_ALLOWED_ORIGINS: &str = "*";
