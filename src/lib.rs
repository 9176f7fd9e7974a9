//! privateapi-operator: one Kubernetes resource, `PrivateApi`, for a private API on
//! AWS (API Gateway REST API → VPC Link V2 → internal ALB → ECS Fargate).
#![forbid(unsafe_code)]

pub mod aws;
pub mod crd;
pub mod error;
pub mod iam_policy;
pub mod leader;
pub mod metrics;
pub mod policy;
pub mod reconcile;
pub mod schema;

pub use error::{Error, Result};

pub mod cli;
pub mod controller;
pub mod schedule;
pub mod status;
pub mod sync;
pub mod telemetry;

/// Both ring (kube) and aws-lc-rs (the AWS SDK) are linked; rustls needs to be
/// told which one serves connections that do not pick their own. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
