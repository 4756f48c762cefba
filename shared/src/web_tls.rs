//! TLS to the open web (OpenID providers, webhook endpoints): rustls on AWS-LC with the
//! Mozilla roots compiled in (webpki-roots), whatever the machine's store holds.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    client_config_trusting(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
}

/// The same settings with other roots (a private CA's, such as a database's).
pub fn client_config_trusting(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `http` (the caller's connector, with its own resolver) under this TLS: HTTP/1.1,
/// `connect_timeout` to connect. Plain http passes too: callers decide where it may go.
pub fn https<R: Clone>(
    mut http: HttpConnector<R>,
    connect_timeout: Duration,
) -> Result<HttpsConnector<HttpConnector<R>>, rustls::Error> {
    http.set_connect_timeout(Some(connect_timeout));
    http.enforce_http(false);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(client_config()?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
