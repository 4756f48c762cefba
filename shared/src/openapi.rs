//! The OpenAPI document of the whole service. Each function describes its routes beside
//! its handlers (`#[utoipa::path]`); this module holds what they share and assembles
//! the document. It is checked in as `shared/openapi.json` (tests/openapi.rs fails when
//! the file is stale) and served by the users function at `GET /api/openapi.json`.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

/// The checked-in document, as served.
pub const SPEC: &str = include_str!("../openapi.json");

/// The error envelope of API.md, for `body = ApiError` in the route descriptions.
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
            .build(),
        utoipa::openapi::Paths::new(),
    );
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
        }
    }
    doc
}

fn add_common_failures(operation: &mut Operation) {
    let mut failures = vec![
        ("500", "INTERNAL: an unexpected failure (no internals in the message)"),
        ("503", "SERVICE_UNAVAILABLE: DynamoDB or Secrets Manager is unreachable"),
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
}

fn error_response(description: &str) -> Response {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ApiError::name()))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build()
}

/// `anyOf` the named schemas. utoipa describes untagged enums as `oneOf`, which a full
/// view of a private profile would fail: it also matches the limited view.
pub fn any_of(names: &[std::borrow::Cow<'static, str>]) -> RefOr<Schema> {
    let builder = names.iter().fold(AnyOfBuilder::new(), |any, name| any.item(Ref::from_schema_name(name.clone())));
    RefOr::T(Schema::AnyOf(builder.build()))
}

/// Adds `T` and what it refers to, for a hand-written `ToSchema::schemas`.
pub fn collect<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}
