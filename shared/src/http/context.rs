use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::header::{CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, USER_AGENT, X_CONTENT_TYPE_OPTIONS};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use tracing::Instrument;

use crate::domain::client::ClientInfo;
use crate::edge::{self, OriginSecret};
use crate::error::{AppError, Envelope, ErrorBody, FailureCause};

/// The id of the request being served: API Gateway's, else Lambda's, else a fresh one
/// (local server). It is in the logs, the `X-Request-Id` header and every error body.
fn incoming_request_id(req: &Request) -> String {
    let extensions = req.extensions();
    if let Some(RequestContext::ApiGatewayV2(ctx)) = extensions.request_context_ref() {
        if let Some(id) = &ctx.request_id {
            return id.clone();
        }
    }
    if let Some(ctx) = extensions.lambda_context_ref() {
        return ctx.request_id.clone();
    }
    uuid::Uuid::new_v4().to_string()
}

/// The X-Ray trace id of the invocation (Lambda's context), for every log line.
fn trace_id(req: &Request) -> Option<String> {
    req.extensions().lambda_context_ref().and_then(|ctx| ctx.xray_trace_id.clone())
}

/// A request that runs past `REQUEST_TIMEOUT_MS` answers 503, however many DynamoDB
/// calls it was making (each is bounded on its own, but several in a row add up). A
/// write cut off may still land, as with a call that timed out: every write is one
/// transaction, so it lands whole or not at all.
pub(super) async fn within_deadline(State(deadline): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::ServiceUnavailable("the request ran past its deadline".into()).into_response(),
    }
}

/// The client's address as CloudFront saw it, on a request that came through the edge
/// (`crate::edge`); none: CloudFront sent no usable `CloudFront-Viewer-Address`.
#[derive(Clone)]
struct ViewerAddress(Option<String>);

/// With CloudFront in front, refuses what did not come through it and takes the client's
/// address from it.
pub(super) async fn through_the_edge(
    State(secret): State<Option<Arc<OriginSecret>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(secret) = secret else { return next.run(req).await };
    // The public keys stay readable at the issuer's own URL (the tokens' `iss`), where
    // other services look for them; they depend on no client's address.
    if req.uri().path().starts_with("/.well-known/") {
        return next.run(req).await;
    }
    if !secret.admits(req.headers().get(edge::ORIGIN_SECRET_HEADER)) {
        return AppError::Forbidden("this API is served through its CloudFront address only").into_response();
    }
    let viewer = req.headers().get(edge::VIEWER_ADDRESS_HEADER).and_then(|v| v.to_str().ok()).and_then(edge::viewer_ip);
    if viewer.is_none() {
        tracing::warn!(
            "a request through CloudFront without CloudFront-Viewer-Address: check the origin request policy"
        );
    }
    req.extensions_mut().insert(ViewerAddress(viewer));
    next.run(req).await
}

pub(super) async fn request_context(req: Request, next: Next) -> Response {
    let id = incoming_request_id(&req);
    // The route as declared (`POST /api/social/{user_id}/…`), never the path itself: a
    // metric dimension must not carry ids.
    let route = match req.extensions().get::<MatchedPath>() {
        Some(path) => format!("{} {}", req.method(), path.as_str()),
        None => "unmatched".to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        trace_id = tracing::field::Empty,
    );
    if let Some(trace) = trace_id(&req) {
        span.record("trace_id", trace.as_str());
    }
    let started = Instant::now();
    let (mut response, dynamodb) = crate::metrics::with_dynamodb_calls(next.run(req).instrument(span.clone())).await;
    if let Some(error) = response.extensions_mut().remove::<ErrorBody>() {
        let (parts, _) = response.into_parts();
        response = (parts, Json(Envelope::of(&error, &id))).into_response();
    }
    if let Some(cause) = response.extensions_mut().remove::<FailureCause>() {
        match cause.internal {
            true => span.in_scope(|| tracing::error!(route, cause = %cause.chain, "request failed")),
            false => span.in_scope(|| tracing::warn!(route, cause = %cause.chain, "dependency unavailable")),
        }
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), latency_ms, "request served"));
    crate::metrics::request(&route, response.status().as_u16(), latency_ms, &dynamodb);

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000"));
    // Most answers carry tokens or personal data; handlers that serve public,
    // cacheable documents set their own Cache-Control.
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned());
        let ip = match (parts.extensions.get::<ViewerAddress>(), parts.extensions.request_context_ref()) {
            (Some(ViewerAddress(viewer)), _) => viewer.clone(),
            (None, Some(RequestContext::ApiGatewayV2(ctx))) => ctx.http.source_ip.clone(),
            (None, _) => parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
        };
        Ok(ClientInfo {
            ip,
            user_agent: parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            platform_hint: header("sec-ch-ua-platform").map(|p| p.trim_matches('"').to_owned()),
            mobile_hint: header("sec-ch-ua-mobile").map(|m| m == "?1"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// The log lines a subscriber writes, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failure_is_logged_once_saying_what_failed_and_where() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let failing = || async {
            let err = SdkError::<UpdateItemError, ()>::construction_failure("the request could not be built");
            let line = line!() + 1;
            let failure = crate::store::dynamo_error("UpdateItem USER#/PROFILE")(err);
            (failure, line)
        };
        let line = failing().await.1;
        let app = Router::new()
            .route("/fails", get(move || async move { failing().await.0 }))
            .layer(axum::middleware::from_fn(request_context));

        let response = app.oneshot(Request::get("/fails").body(Body::empty()).unwrap()).await.unwrap();

        assert_eq!(response.status(), 500);
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let failures: Vec<&str> = logs.lines().filter(|l| l.contains("request failed")).collect();
        assert_eq!(failures.len(), 1, "one line for the failure, from the middleware: {logs}");
        for shown in [
            "UpdateItem USER#/PROFILE",
            &format!("shared/src/http/context.rs:{line}"),
            "the request could not be built",
            "GET /fails",
            "request_id",
        ] {
            assert!(failures[0].contains(shown), "{shown} in {}", failures[0]);
        }
    }
}
