//! Who is calling, from where: what the HTTP layer hands to the services.

/// Who is calling from where, for sessions and rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `Sec-CH-UA-Platform`, when the client sends client hints.
    pub platform_hint: Option<String>,
    /// `Sec-CH-UA-Mobile`, when the client sends client hints.
    pub mobile_hint: Option<bool>,
}

/// The authenticated caller, from a verified access token
/// (`Authorization: Bearer`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub session_id: String,
    pub username: String,
    pub email_verified: bool,
    /// The assurance level the token claims (the session's own is authoritative).
    pub aal: super::mfa::Aal,
    /// Where the request came from (for the account's security history).
    pub client: ClientInfo,
}
