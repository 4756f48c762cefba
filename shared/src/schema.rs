//! Schema helpers for types that describe themselves to the OpenAPI document by hand.

use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

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
