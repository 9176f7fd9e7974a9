//! Shared by the integration tests (tests/*.rs) and the scale benchmark
//! (benches/scale.rs), one module per thing they drive or stand in for:
//!
//! - [`aws`]: the AWS emulator, clients of it, a fresh VPC, an owner per test, the
//!   inventory of an owner's AWS objects;
//! - [`cluster`]: the real Kubernetes API server (scripts/apiserver.sh), kubectl, and
//!   PrivateApi manifests and objects (read back typed);
//! - [`operator`]: the operator binary as a child process;
//! - [`proxy`]: scripts/awsproxy.py in front of the emulator (counts, quotas, faults);
//! - [`relay`]: a TCP relay that can sever the operator's API-server connection;
//! - [`measure`]: percentiles and the CPU time of processes;
//!
//! and here, the engine driven without Kubernetes: a spec, converge until Ready,
//! tear down until gone.
#![allow(dead_code)]

pub mod aws;
pub mod cluster;
pub mod measure;
pub mod operator;
pub mod proxy;
pub mod relay;

// Every test and the benchmark use some of these, none uses all.
#[allow(unused_imports)]
pub use {aws::*, cluster::*, measure::*, operator::*, proxy::*, relay::*};

use std::path::PathBuf;

use privateapi::aws::{Aws, Owner};
use privateapi::crd::PrivateApiSpec;
use privateapi::reconcile::{self, Mode, Outcome};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn spec(vpc: &str, subnets: &[String]) -> PrivateApiSpec {
    serde_norway::from_str(&format!(
        "network: {{vpcId: {vpc}, subnetIds: [{}]}}\nservice: {{image: 'nginx:1.27', desiredCount: 2}}\ntags: {{team: tests}}\n",
        subnets.join(", ")
    ))
    .expect("spec")
}

/// Converges until Ready (at most `passes` passes), returning the last outcome.
pub async fn until_ready(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, passes: usize) -> Outcome {
    let mut last = None;
    for _ in 0..passes {
        // On the heap, as the controller runs it: a pass's future is large, and a debug
        // test thread's stack is 2 MiB.
        match Box::pin(reconcile::converge(aws, owner, spec, Mode::Apply)).await {
            Ok(outcome) if outcome.is_ready() => return outcome,
            Ok(outcome) => last = Some(format!("{:?}", outcome.waiting_on())),
            Err(e) => last = Some(format!("error: {e}")),
        }
    }
    panic!("not ready after {passes} passes; last: {last:?}");
}

/// Tears down until nothing remains (at most `passes` passes).
pub async fn until_gone(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, passes: usize) {
    let mut last = None;
    for _ in 0..passes {
        match Box::pin(reconcile::teardown(aws, owner, spec, Mode::Apply)).await {
            Ok(outcome) if outcome.is_done() => return,
            Ok(outcome) => last = Some(outcome.waiting_for.join(", ")),
            Err(e) => last = Some(format!("error: {e}")),
        }
    }
    panic!("not gone after {passes} passes; last: {last:?}");
}
