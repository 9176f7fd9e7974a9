//! Logging: human-readable by default, JSON with `--log-format json`; the level
//! from `RUST_LOG` (default `info`). Logs go to stderr so stdout stays for results.
//!
//! The AWS SDK and the HTTP stack under it log credentials below info: the SigV4
//! `Authorization` header and the session token at trace, the access key ID at
//! debug, and request bodies (a task definition's environment) at trace. Those
//! targets are capped at info by a second filter that `RUST_LOG` cannot lift.

use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Target prefixes that may log secrets below info (`aws` covers `aws_config`,
/// `aws_sigv4`, `aws_smithy_*`, `aws_sdk_*`, `aws_runtime`, `aws_credential_types`).
pub const SECRET_BEARING_TARGETS: &[&str] = &["aws", "hyper", "h2", "http", "rustls", "reqwest", "tower"];

/// The cap: secret-bearing targets at info at most, everything else untouched.
pub fn secret_cap() -> Targets {
    SECRET_BEARING_TARGETS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |targets, target| {
            targets.with_target(*target, LevelFilter::INFO)
        })
}

pub fn init(format: LogFormat) {
    // The SDKs and hyper are chatty at info; keep them at warn unless asked.
    let wanted = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn,kube=warn,tower=warn")
    });
    let filter = wanted.and(secret_cap());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let layer = match format {
        LogFormat::Json => layer.json().flatten_event(true).with_current_span(true).boxed(),
        LogFormat::Text => layer.with_target(false).compact().boxed(),
    };
    tracing_subscriber::registry().with(layer.with_filter(filter)).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn secret_bearing_targets_stop_at_info_and_ours_do_not() {
        let cap = secret_cap();
        for target in [
            "aws_sigv4::http_request::sign",
            "aws_smithy_runtime::client",
            "aws_config",
            "hyper_util::client",
            "h2::codec",
        ] {
            assert!(cap.would_enable(target, &Level::INFO), "{target} at info");
            assert!(!cap.would_enable(target, &Level::DEBUG), "{target} at debug");
            assert!(!cap.would_enable(target, &Level::TRACE), "{target} at trace");
        }
        assert!(cap.would_enable("privateapi::reconcile::execute", &Level::TRACE));
        assert!(cap.would_enable("kube_runtime::controller", &Level::DEBUG));
    }
}
