//! TLS to the open web (OpenID providers, webhook endpoints): rustls on AWS-LC with the
//! Mozilla roots compiled in (webpki-roots), whatever the machine's store holds.

use std::sync::Arc;

pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
