//! The OpenAPI document of the whole service. Each function describes its routes beside
//! its handlers (`#[utoipa::path]`); this module holds what they share and assembles
//! the document. It is checked in as `shared/openapi.json` (tests/openapi.rs fails when
//! the file is stale) and served by the users function at `GET /api/openapi.json`.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, LicenseBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The checked-in document, as served.
pub const SPEC: &str = include_str!("../openapi.json");

/// The reference page, built from the document by `scripts/api-docs` (Redoc, with its
/// scripts inlined: nothing is fetched from elsewhere), gzipped as served at
/// `GET /api/docs`: 0.7 MB in the users binary instead of the page's 2.7.
pub const DOCS_PAGE_GZIP: &[u8] = include_bytes!("../api-docs.html.gz");

/// The page itself (`shared/api-docs.html`), unpacked once: for a client that takes no
/// gzip, and for the policy's script hashes. A test holds it equal to the checked-in page.
pub fn docs_page() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        let mut page = String::new();
        // Cannot fail on the bytes built in (the test above reads them whole).
        let _ = std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(DOCS_PAGE_GZIP), &mut page);
        page
    })
}

/// The page's Content-Security-Policy: its own inline scripts only (by their SHA-256, so
/// an injected script would not run), the inline styles Redoc writes, images and fonts
/// of its own or inline, workers from `blob:` (Redoc's search), nothing else, no framing.
pub fn docs_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let hashes: Vec<String> = inline_scripts(docs_page())
            .map(|script| {
                let digest = sha2::Sha256::digest(script.as_bytes());
                format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
            })
            .collect();
        format!(
            "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src 'self' data:; \
             font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            hashes.join(" ")
        )
    })
}

/// The text of each inline `<script>` of an HTML page (a script's own text may spell
/// `<script`, so the search goes on after each closing tag).
fn inline_scripts(page: &str) -> impl Iterator<Item = &str> {
    let mut rest = page;
    std::iter::from_fn(move || loop {
        let (_, after) = rest.split_once("<script")?;
        let (tag, body) = after.split_once('>')?;
        let (script, next) = body.split_once("</script>")?;
        rest = next;
        if !tag.contains("src=") {
            return Some(script);
        }
    })
}

/// The error envelope of docs/API.md, for `body = ApiError` in the route descriptions.
pub type ApiError = crate::error::Envelope<'static>;

/// 429 `RATE_LIMITED` with `Retry-After`, for `responses(...)` of the rate-limited routes.
#[derive(utoipa::IntoResponses)]
#[response(status = 429, description = "RATE_LIMITED", headers(("Retry-After" = u64, description = "Seconds")))]
pub struct RateLimited(#[allow(dead_code)] ApiError);

/// `{}`: the body of answers that carry no data.
#[derive(Debug, Serialize, ToSchema)]
pub struct Empty {}

/// The name routes give their bearer requirement: `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// The whole document from the functions' parts: the bearer scheme, and the failures
/// that any operation may answer with added where a route does not list them itself.
pub fn document(parts: impl IntoIterator<Item = OpenApi>) -> OpenApi {
    let mut doc = OpenApi::new(
        InfoBuilder::new()
            .title("User service")
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some("Sign-up, sessions, profiles, privacy and the social graph. Every non-2xx answer carries the `Error` envelope."))
            .license(Some(LicenseBuilder::new().name("MIT").identifier(Some("MIT")).build()))
            .build(),
        utoipa::openapi::Paths::new(),
    );
    doc.servers = Some(servers());
    for part in parts {
        doc.merge(part);
    }
    let mut components = doc.components.take().unwrap_or_else(|| ComponentsBuilder::new().build());
    components.add_security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    components.schemas.insert(ApiError::name().into_owned(), ApiError::schema());
    doc.components = Some(components);

    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            add_common_failures(operation);
            summarize(operation);
            // Anonymous operations say so: no requirement at all, not a forgotten one.
            operation.security.get_or_insert_with(Vec::new);
        }
    }
    drop_unused_schemas(&mut doc);
    doc
}

/// The local server, and the API Gateway URL a deployment answers at.
fn servers() -> Vec<utoipa::openapi::server::Server> {
    let variable = |default: &str, description: &str| {
        ServerVariableBuilder::new().default_value(default).description(Some(description)).build()
    };
    vec![
        ServerBuilder::new().url("http://127.0.0.1:3000").description(Some("The local server (scripts/dev)")).build(),
        ServerBuilder::new()
            .url("https://{apiId}.execute-api.{region}.amazonaws.com")
            .description(Some("A deployment: the ApiUrl output of the stack"))
            .parameter("apiId", variable("abcdef1234", "The HTTP API's id"))
            .parameter("region", variable("us-east-1", "The stack's region"))
            .build(),
    ]
}

/// A short summary of every operation, by its id (what generated docs and SDKs show).
const SUMMARIES: &[(&str, &str)] = &[
    ("register", "Sign up"),
    ("login", "Sign in"),
    ("refresh", "Rotate the refresh token for new tokens"),
    ("logout", "Sign out of this session"),
    ("me", "The signed-in account"),
    ("change_password", "Change the password"),
    ("forgot_password", "Ask for a password reset link"),
    ("reset_password", "Set a new password with a reset token"),
    ("verify_email", "Verify the email address with its token"),
    ("resend_verification", "Send a new verification link"),
    ("sessions", "List the account's sessions"),
    ("revoke_other_sessions", "End every other session"),
    ("revoke_session", "End one session"),
    ("devices", "List the devices whose tokens count for the account"),
    ("revoke_device", "Revoke one device's token"),
    ("security_events", "The account's security history"),
    ("secure_account", "Take the account back with a notice's link"),
    ("reactivate", "Reactivate a deactivated account"),
    ("change_email", "Ask to change the email address"),
    ("confirm_email_change", "Confirm the new email address with its token"),
    ("mfa_status", "Whether a second factor is on"),
    ("mfa_enroll", "Start a TOTP enrolment"),
    ("mfa_confirm", "Confirm the TOTP enrolment with a code"),
    ("mfa_verify", "Complete a sign-in with the second factor"),
    ("mfa_recovery_codes", "Replace the recovery codes"),
    ("mfa_disable", "Turn the second factor off"),
    ("passkey_register_options", "Start adding a passkey"),
    ("passkey_register", "Add a passkey"),
    ("passkey_list", "The account's passkeys"),
    ("passkey_rename", "Rename a passkey"),
    ("passkey_delete", "Delete a passkey"),
    ("passkey_login_options", "Start a sign-in with a passkey"),
    ("passkey_login", "Sign in with a passkey"),
    ("mfa_passkey_options", "Start a passkey as the second factor"),
    ("federated_providers", "The OpenID providers to sign in with"),
    ("federated_token", "Sign in with a provider's ID token (apps)"),
    ("federated_authorize", "Start signing in at a provider (web)"),
    ("federated_callback", "Come back from the provider (web)"),
    ("federated_exchange", "Exchange the login code (web)"),
    ("federated_signup", "Make an account for a provider's identity"),
    ("federated_link", "Link a provider's identity to the account"),
    ("identities", "The account's linked identities"),
    ("unlink_identity", "Unlink a provider's identity"),
    ("jwks", "Public keys that verify access tokens"),
    ("openid_configuration", "Discovery document (issuer, JWKS URL)"),
    ("search", "Search users by name"),
    ("profile", "A user's profile by id"),
    ("by_username", "A user's profile by username"),
    ("update_profile", "Update the own profile and privacy settings"),
    ("update_notifications", "Update notification preferences"),
    ("deactivate", "Deactivate the account"),
    ("request_export", "Ask for an export of the own data"),
    ("export_status", "An export's state and download link"),
    ("stats", "A user's follower and following counts"),
    ("health", "Liveness"),
    ("health_detailed", "Readiness of the dependencies"),
    ("openapi_document", "This OpenAPI document"),
    ("api_docs", "The API reference page"),
    ("follow", "Follow a user (or ask to)"),
    ("unfollow", "Unfollow a user (or withdraw a request)"),
    ("followers", "A user's followers"),
    ("following", "Who a user follows"),
    ("requests", "Incoming follow requests"),
    ("accept", "Accept a follow request"),
    ("reject", "Reject a follow request"),
    ("block", "Block a user"),
    ("unblock", "Unblock a user"),
    ("blocked", "Users the caller blocks"),
    ("report", "Report a user to moderation"),
    ("relationship", "The caller's relation to a user"),
    ("mute", "Mute a user"),
    ("unmute", "Unmute a user"),
    ("muted", "Users the caller mutes"),
    ("list_reports", "The moderation queue"),
    ("get_report", "One report"),
    ("assign_report", "Assign a report to yourself"),
    ("resolve_report", "Resolve a report, maybe with an action"),
    ("reopen_report", "Open a resolved report again"),
    ("staff_account_view", "An account as staff see it"),
    ("act_on_account", "Warn, limit or suspend an account, or lift it"),
    ("set_role", "Change an account's role"),
    ("audit_log", "The audit log"),
    ("register_webhook", "Register a webhook (its secret shown once)"),
    ("list_webhooks", "The webhooks"),
    ("delete_webhook", "Delete a webhook"),
    ("rotate_webhook_secret", "Rotate a webhook's signing secret"),
    ("webhook_deliveries", "A webhook's delivery attempts"),
    ("test_webhook", "Send a test event to a webhook"),
];

/// Sets the operation's summary from `SUMMARIES`; a doc-comment summary it had moves
/// into the description.
fn summarize(operation: &mut Operation) {
    let id = operation.operation_id.as_deref().unwrap_or_default();
    let Some((_, summary)) = SUMMARIES.iter().find(|(op, _)| *op == id) else { return };
    if let Some(old) = operation.summary.replace((*summary).to_owned()) {
        let description = operation.description.take().map_or(old.clone(), |d| format!("{old}\n\n{d}"));
        operation.description = Some(description);
    }
}

/// Removes component schemas nothing refers to (utoipa registers some that generics
/// inline), until none is left.
fn drop_unused_schemas(doc: &mut OpenApi) {
    loop {
        let text = serde_json::to_string(doc).unwrap_or_default();
        let Some(components) = doc.components.as_mut() else { return };
        let unused: Vec<String> = components
            .schemas
            .keys()
            .filter(|name| !text.contains(&format!("\"#/components/schemas/{name}\"")))
            .cloned()
            .collect();
        if unused.is_empty() {
            return;
        }
        for name in unused {
            components.schemas.remove(&name);
        }
    }
}

fn add_common_failures(operation: &mut Operation) {
    let mut failures = vec![
        ("500", "INTERNAL: an unexpected failure (no internals in the message)"),
        (
            "503",
            "SERVICE_UNAVAILABLE: DynamoDB or Secrets Manager is unreachable, or the request ran past its deadline",
        ),
    ];
    if operation.request_body.is_some() {
        failures.extend([
            ("400", "VALIDATION_ERROR (with `details`) or INVALID_JSON"),
            ("413", "PAYLOAD_TOO_LARGE: the body is over 64 KiB"),
            ("415", "UNSUPPORTED_MEDIA_TYPE: the body is not application/json"),
        ]);
    }
    for (status, description) in failures {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description).into());
    }
    // Every request with a bearer token first checks the account's standing.
    if operation.security.as_ref().is_some_and(|requirements| !requirements.is_empty()) {
        const SUSPENDED: &str = "ACCOUNT_SUSPENDED: the account was suspended (a token minted before counts no more)";
        let forbidden = operation.responses.responses.entry("403".to_owned());
        match forbidden.or_insert_with(|| error_response(SUSPENDED).into()) {
            RefOr::T(response) if !response.description.contains("ACCOUNT_SUSPENDED") => {
                response.description = format!("{}; {SUSPENDED}", response.description);
            }
            _ => {}
        }
    }
}

fn error_response(description: &str) -> Response {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ApiError::name()))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build()
}
