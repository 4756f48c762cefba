//! One error type for every failure, mapped to the envelope of docs/API.md.

use std::borrow::Cow;
use std::panic::Location;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One field-level validation problem, as it appears in `error.details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure with what was being done (`UpdateItem USER#/PROFILE`, `building an
/// Update`) and the line of code that did it.
#[derive(Debug, thiserror::Error)]
#[error("{doing} (at {at})")]
pub struct Failed {
    doing: Cow<'static, str>,
    at: &'static Location<'static>,
    #[source]
    source: BoxError,
}

/// `.context("…")` on any fallible step: its error becomes a 500 that says what failed
/// and where (`map_err(AppError::internal)` said neither).
pub trait Context<T> {
    fn context(self, doing: &'static str) -> AppResult<T>;
}

impl<T, E: Into<BoxError>> Context<T> for Result<T, E> {
    #[track_caller]
    fn context(self, doing: &'static str) -> AppResult<T> {
        let at = Location::caller();
        self.map_err(|err| AppError::Internal(Box::new(Failed { doing: doing.into(), at, source: err.into() })))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the cursor is not valid")]
    InvalidCursor,
    #[error("authentication is required")]
    Unauthorized,
    #[error("the identifier or password is wrong")]
    InvalidCredentials,
    #[error("the token is unknown, used or expired")]
    InvalidToken,
    #[error("the code is wrong or already used")]
    InvalidCode,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the email address is not verified")]
    EmailNotVerified,
    #[error("the account is deactivated")]
    AccountDeactivated,
    /// A deactivated account that a provider's or a passkey's sign-in proved, within its
    /// window: `reactivate` takes the `reactivationToken` instead of a password.
    #[error("the account is deactivated: POST /api/auth/reactivate with the reactivationToken restores it")]
    Reactivatable { reactivation_token: String },
    #[error("the account is suspended")]
    AccountSuspended,
    #[error("this needs a session that passed the second factor")]
    MfaRequired,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the username is taken")]
    UsernameTaken,
    #[error("the email address is taken")]
    EmailTaken,
    #[error("this user is already reported")]
    AlreadyReported,
    #[error("a second factor is already on")]
    MfaAlreadyEnabled,
    #[error("{0}")]
    MfaNotEnabled(&'static str),
    #[error("the state changed under the request; try again")]
    Conflict,
    /// A conflict with the account's state, and what it is.
    #[error("{0}")]
    ConflictWith(&'static str),
    /// A federated identity whose email belongs to an account: its owner signs in, then
    /// redeems the `linkToken`.
    #[error("an account has this email: sign in to it, then link this identity with the linkToken")]
    AccountExists { link_token: String },
    #[error("the request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("a dependency is unavailable")]
    ServiceUnavailable(#[source] BoxError),
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl AppError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// The same failure, saying what was being done and where in the code (the log
    /// line of a 500 or 503 names them); a client's error stays as it is.
    #[track_caller]
    pub fn doing(self, doing: impl Into<Cow<'static, str>>) -> Self {
        self.doing_at(doing.into(), Location::caller())
    }

    /// `doing`, at a line found before (`dynamo_error` takes it where the call is made).
    pub fn doing_at(self, doing: Cow<'static, str>, at: &'static Location<'static>) -> Self {
        let wrap = |source: BoxError| -> BoxError { Box::new(Failed { doing, at, source }) };
        match self {
            AppError::Internal(source) => AppError::Internal(wrap(source)),
            AppError::ServiceUnavailable(source) => AppError::ServiceUnavailable(wrap(source)),
            other => other,
        }
    }

    pub fn validation(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            Validation(_) | InvalidJson(_) | InvalidCursor => StatusCode::BAD_REQUEST,
            Unauthorized | InvalidCredentials | InvalidToken | InvalidCode => StatusCode::UNAUTHORIZED,
            Forbidden(_)
            | EmailNotVerified
            | AccountDeactivated
            | Reactivatable { .. }
            | AccountSuspended
            | MfaRequired => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            UsernameTaken
            | EmailTaken
            | AlreadyReported
            | MfaAlreadyEnabled
            | MfaNotEnabled(_)
            | Conflict
            | ConflictWith(_)
            | AccountExists { .. } => StatusCode::CONFLICT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use AppError::*;
        match self {
            Validation(_) => "VALIDATION_ERROR",
            InvalidJson(_) => "INVALID_JSON",
            InvalidCursor => "INVALID_CURSOR",
            Unauthorized => "UNAUTHORIZED",
            InvalidCredentials => "INVALID_CREDENTIALS",
            InvalidToken => "INVALID_TOKEN",
            InvalidCode => "INVALID_CODE",
            Forbidden(_) => "FORBIDDEN",
            EmailNotVerified => "EMAIL_NOT_VERIFIED",
            AccountDeactivated | Reactivatable { .. } => "ACCOUNT_DEACTIVATED",
            AccountSuspended => "ACCOUNT_SUSPENDED",
            MfaRequired => "MFA_REQUIRED",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            UsernameTaken => "USERNAME_TAKEN",
            EmailTaken => "EMAIL_TAKEN",
            AlreadyReported => "ALREADY_REPORTED",
            MfaAlreadyEnabled => "MFA_ALREADY_ENABLED",
            MfaNotEnabled(_) => "MFA_NOT_ENABLED",
            Conflict | ConflictWith(_) => "CONFLICT",
            AccountExists { .. } => "ACCOUNT_EXISTS",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            RateLimited { .. } => "RATE_LIMITED",
            ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            Internal(_) => "INTERNAL",
        }
    }
}

/// The body of every non-2xx response.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct Envelope<'a> {
    error: &'a ErrorBody,
    #[serde(rename = "requestId")]
    request_id: &'a str,
}

// `AppError` leaves this in the response's extensions; the request-context middleware
// writes it out with the request's id (`Envelope::of`).
#[derive(Clone, Serialize, ToSchema)]
#[schema(as = ErrorBody)]
pub struct ErrorBody {
    /// One of the codes of docs/API.md (Error codes), e.g. `VALIDATION_ERROR`.
    code: &'static str,
    message: String,
    /// Field-level problems, with `VALIDATION_ERROR` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    details: Option<Vec<FieldError>>,
    /// With `ACCOUNT_EXISTS` only: for `POST /api/auth/federated/link` once signed in.
    #[serde(rename = "linkToken", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    link_token: Option<String>,
    /// With `ACCOUNT_DEACTIVATED` after a provider's or a passkey's sign-in: for
    /// `POST /api/auth/reactivate` (10 minutes, single use).
    #[serde(rename = "reactivationToken", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reactivation_token: Option<String>,
}

impl<'a> Envelope<'a> {
    pub fn of(error: &'a ErrorBody, request_id: &'a str) -> Self {
        Envelope { error, request_id }
    }
}

/// What a 500 or 503 was: the error and its whole cause chain. `into_response` leaves
/// it in the response's extensions and the request-context middleware writes the one
/// log line of the failure, with the request's id and route; the client never sees it.
#[derive(Clone, Debug)]
pub struct FailureCause {
    pub internal: bool,
    pub chain: String,
}

/// An error's text followed by its causes', `: `-separated (many errors say only "db
/// error" or "client error" and keep what happened in their sources).
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl FailureCause {
    fn of(err: &AppError) -> Option<Self> {
        let internal = match err {
            AppError::Internal(_) => true,
            AppError::ServiceUnavailable(_) => false,
            _ => return None,
        };
        Some(FailureCause { internal, chain: with_causes(err) })
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let cause = FailureCause::of(&self);
        let message = self.to_string();
        let (status, code) = (self.status(), self.code());
        let retry_after = match &self {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let (details, link_token, reactivation_token) = match self {
            AppError::Validation(details) => (Some(details), None, None),
            AppError::AccountExists { link_token } => (None, Some(link_token), None),
            AppError::Reactivatable { reactivation_token } => (None, None, Some(reactivation_token)),
            _ => (None, None, None),
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorBody { code, message, details, link_token, reactivation_token });
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        if let Some(secs) = retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
