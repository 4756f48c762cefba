//! The AWS SDK configuration of the functions, with an HTTPS client that trusts the
//! roots of Amazon Trust Services, compiled in. The SDK's default client reads the
//! system's whole certificate store at start-up (a bundle file and a directory of
//! some 150 files: milliseconds of a cold start), to talk to endpoints whose
//! certificates all chain to these five roots.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// `TLS_NATIVE_ROOTS=true` trusts the system's certificate store as well (an HTTPS
/// endpoint override behind a private CA, say).
pub async fn sdk_config(native_roots: bool) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(native_roots)).load().await
}

fn https_client(native_roots: bool) -> SharedHttpClient {
    let trust = TrustStore::empty().with_native_roots(native_roots).with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    #[expect(clippy::expect_used, reason = "a trust store alone is a valid TLS context")]
    let context =
        TlsContext::builder().with_trust_store(trust).build().expect("a trust store alone is a valid TLS context");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    /// The TLS context parses the roots only when it first connects, and panics on a bad
    /// one: check them here instead.
    #[test]
    fn compiled_in_roots_are_five_valid_trust_anchors() {
        let certs = CertificateDer::pem_slice_iter(super::AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let mut store = rustls::RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(certs);
        assert_eq!((valid, invalid), (5, 0));
    }
}
