//! The HTTP client every AWS SDK client of the operator shares: the SDK's default
//! (hyper 1, rustls with aws-lc, `HTTPS_PROXY` from the environment), except that an
//! idle connection is closed after [`IDLE_CONNECTION`] instead of hyper's 90 s, and
//! that at most [`IN_FLIGHT`] requests are sent at once: the others wait their turn.
//!
//! A burst of passes (a hundred PrivateApis applied at once, each pass reading a
//! dozen parts in parallel) opens hundreds of connections; kept for 90 s they held
//! about 40 MiB after the burst was over (BENCHMARKS.md, "Pick-up"). A connection that
//! waited this long has no burst to serve; steady-state checks are minutes apart, so
//! a short idle time costs them nothing they did not pay already.
//!
//! The idle timeout closes them, but the allocator keeps what they used: the cap on
//! requests in flight bounds the connections (one per request in flight, and hyper's
//! buffers with each) and so the memory a burst takes and keeps. AWS's own rate
//! limits are far below what the cap lets through (the pacer keeps writes under
//! them; pacing.rs).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::Semaphore;

/// How long a connection no request uses stays open.
pub const IDLE_CONNECTION: Duration = Duration::from_secs(5);

/// How many AWS requests the operator has in flight at most, over every service.
pub const IN_FLIGHT: usize = 64;

/// The SDK's default HTTPS client (as `aws-smithy-runtime` builds it for the
/// `default-https-client` feature), with [`IDLE_CONNECTION`] and [`IN_FLIGHT`].
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(Capped {
        inner: sdk_client(),
        permits: Arc::new(Semaphore::new(IN_FLIGHT)),
    })
}

fn sdk_client() -> SharedHttpClient {
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

/// An HTTP client whose connectors share one budget of requests in flight.
struct Capped {
    inner: SharedHttpClient,
    permits: Arc<Semaphore>,
}

impl fmt::Debug for Capped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capped").field("in_flight", &IN_FLIGHT).finish()
    }
}

impl HttpClient for Capped {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(CappedConnector {
            inner: self.inner.http_connector(settings, components),
            permits: self.permits.clone(),
        })
    }

    fn connector_metadata(&self) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct CappedConnector {
    inner: SharedHttpConnector,
    permits: Arc<Semaphore>,
}

impl HttpConnector for CappedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, permits) = (self.inner.clone(), self.permits.clone());
        HttpConnectorFuture::new(async move {
            // The semaphore is never closed: a permit always comes.
            let _turn = permits.acquire_owned().await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;

    /// Counts the requests it holds at once.
    #[derive(Debug, Default)]
    struct Counts {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[derive(Debug)]
    struct Slow(Arc<Counts>);

    impl HttpConnector for Slow {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let this = self.0.clone();
            HttpConnectorFuture::new(async move {
                let now = this.now.fetch_add(1, Ordering::SeqCst) + 1;
                this.most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                this.now.fetch_sub(1, Ordering::SeqCst);
                Ok(HttpResponse::new(200.try_into().expect("status"), SdkBody::empty()))
            })
        }
    }

    #[tokio::test]
    async fn no_more_than_the_cap_is_in_flight() {
        let slow = Arc::new(Counts::default());
        let connector = CappedConnector {
            inner: SharedHttpConnector::new(Slow(slow.clone())),
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
        };
        let calls = (0..IN_FLIGHT * 3).map(|_| {
            let request = HttpRequest::get("http://127.0.0.1/").expect("request");
            connector.call(request)
        });
        let answers = futures::future::join_all(calls).await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(slow.most.load(Ordering::SeqCst), IN_FLIGHT);
    }
}
