//! The HTTP client every AWS SDK client of the operator shares: the SDK's default
//! (hyper 1, rustls with aws-lc, `HTTPS_PROXY` from the environment), except that an
//! idle connection is closed after [`IDLE_CONNECTION`] instead of hyper's 90 s.
//!
//! A burst of passes (a hundred PrivateApis applied at once, each pass reading a
//! dozen parts in parallel) opens hundreds of connections; kept for 90 s they held
//! about 40 MiB after the burst was over (BENCHMARKS.md, "Pick-up"). A connection that
//! waited this long has no burst to serve; steady-state checks are minutes apart, so
//! a short idle time costs them nothing they did not pay already.

use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// How long a connection no request uses stays open.
pub const IDLE_CONNECTION: Duration = Duration::from_secs(5);

/// The SDK's default HTTPS client (as `aws-smithy-runtime` builds it for the
/// `default-https-client` feature), with [`IDLE_CONNECTION`].
pub fn client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = ConnectorBuilder::default()
            .pool_idle_timeout(IDLE_CONNECTION)
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    })
}
