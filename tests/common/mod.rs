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
use std::time::{Duration, Instant};

use privateapi::aws::{Aws, Owner};
use privateapi::crd::PrivateApiSpec;
use privateapi::reconcile::{self, Mode, Outcome};

/// The examples of examples/ that each build one architecture.
pub const ARCHITECTURE_EXAMPLES: [&str; 8] = [
    "privateapi.yaml",
    "http-api.yaml",
    "rest-api-nlb.yaml",
    "rest-api-vpclink-v1-nlb.yaml",
    "rest-api-vpclink-v1-nlb-alb.yaml",
    "custom-domain.yaml",
    "rest-api-sqs-routes.yaml",
    "http-api-sqs-routes.yaml",
];

/// An example of examples/ as a user applies it in namespace `ns` with this VPC's IDs:
/// the manifest (JSON) and the object's name.
pub fn example_manifest(example: &str, ns: &str, vpc: &str, subnets: &[String]) -> (String, String) {
    let text = std::fs::read_to_string(repo().join("examples").join(example)).expect("an example");
    let mut object: serde_json::Value = serde_norway::from_str(&text).expect("a manifest");
    object["metadata"]["namespace"] = ns.into();
    object["spec"]["network"] = serde_json::json!({"vpcId": vpc, "subnetIds": subnets});
    let name = object["metadata"]["name"].as_str().expect("a name").to_owned();
    (serde_json::to_string(&object).expect("json"), name)
}

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

/// How long the helpers below wait on AWS's slow steps in all (the emulator takes a
/// second for each: an ALB provisioning, a VPC link PENDING, a security group held by
/// a deleted ALB's ENIs; scripts/moto/patches.py, /_privateapi/delays).
pub const AWS_WAIT_LIMIT: Duration = Duration::from_secs(30);
/// The pause between passes that only wait on AWS (as the operator's poll would).
pub const AWS_WAIT_POLL: Duration = Duration::from_millis(250);

/// Converges until Ready, returning the last outcome: at most `passes` passes that
/// change something or fail, and, in between, passes that only wait on AWS, a short
/// pause apart, for up to [`AWS_WAIT_LIMIT`].
pub async fn until_ready(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, passes: usize) -> Outcome {
    let (mut last, mut counted) = (None, 0);
    let deadline = Instant::now() + AWS_WAIT_LIMIT;
    while counted < passes {
        // On the heap, as the controller runs it: a pass's future is large, and a debug
        // test thread's stack is 2 MiB.
        match Box::pin(reconcile::converge(aws, owner, spec, Mode::Apply)).await {
            Ok(outcome) if outcome.is_ready() => return outcome,
            Ok(outcome) => {
                last = Some(format!("{:?}", outcome.waiting_on()));
                if outcome.changes.is_empty() && Instant::now() < deadline {
                    tokio::time::sleep(AWS_WAIT_POLL).await;
                    continue;
                }
            }
            Err(e) => last = Some(format!("error: {e}")),
        }
        counted += 1;
    }
    panic!("not ready after {passes} passes; last: {last:?}");
}

/// Tears down until nothing remains: at most `passes` passes that delete something or
/// fail, and passes that only wait on AWS (a service draining, a security group its
/// deleted ALB's ENIs still hold), a short pause apart, for up to [`AWS_WAIT_LIMIT`].
pub async fn until_gone(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, passes: usize) {
    let (mut last, mut counted) = (None, 0);
    let deadline = Instant::now() + AWS_WAIT_LIMIT;
    while counted < passes {
        match Box::pin(reconcile::teardown(aws, owner, spec, Mode::Apply)).await {
            Ok(outcome) if outcome.is_done() => return,
            Ok(outcome) => {
                last = Some(outcome.waiting_for.join(", "));
                if outcome.changes.is_empty() && Instant::now() < deadline {
                    tokio::time::sleep(AWS_WAIT_POLL).await;
                    continue;
                }
            }
            Err(e) => last = Some(format!("error: {e}")),
        }
        counted += 1;
    }
    panic!("not gone after {passes} passes; last: {last:?}");
}
