//! privateapi-operator: one Kubernetes resource, `PrivateApi`, for a private API on
//! AWS (API Gateway REST API → VPC Link V2 → internal ALB → ECS Fargate).
#![forbid(unsafe_code)]

pub mod aws;
pub mod crd;
pub mod error;
pub mod reconcile;

pub use error::{Error, Result};
pub mod cli;
pub mod controller;
pub mod status;
pub mod telemetry;
