//! The tests' AWS endpoint checks every request against AWS's service models
//! (scripts/awsmodels.py behind scripts/awsproxy.py, started by scripts/emulator.sh):
//! planted bad requests of each protocol are caught, and a request AWS would refuse
//! fails the call that sent it, naming the operation and the member.

mod common;

use std::process::Command;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use common::*;

/// scripts/awsmodels_test.py: a missing required member, a bad enum, a string too long
/// and an unknown member, in each protocol (query, ec2, json, rest-json), are caught;
/// valid requests pass.
#[test]
fn the_checker_catches_planted_bad_requests_of_every_protocol() {
    let cache = std::env::var("PRIVATEAPI_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::home_dir()
                .expect("a home directory")
                .join(".cache/privateapi-operator")
        });
    // The emulator's venv holds botocore's models; endpoint() installs it if needed.
    let _ = endpoint();
    let out = Command::new(cache.join("venv/bin/python"))
        .arg(repo().join("scripts/awsmodels_test.py"))
        .env("PRIVATEAPI_CACHE", &cache)
        .env("AWSMODELS_REQUIRED", "1")
        .output()
        .expect("run scripts/awsmodels_test.py");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scripts/awsmodels_test.py failed:\n{report}");
    assert!(!report.contains("skipped"), "the checks were skipped:\n{report}");
}

/// With the SDK, through a checking proxy of its own (a refusal on the tests' shared
/// endpoint would count as a finding of the run): a security-group description longer
/// than AWS's 255 characters is refused, naming operation and member, and counted.
#[tokio::test]
async fn a_request_aws_would_refuse_fails_the_call_that_sent_it() {
    let proxy = Proxy::start(&endpoint(), None);
    proxy.config(serde_json::json!({"validate": true})).await;
    let factory = factory_at(&proxy.url, std::time::Duration::from_secs(20)).await;
    let aws = factory.for_region(None).expect("region");
    let (vpc, _) = network(&aws).await;
    let refused = aws
        .ec2
        .create_security_group()
        .vpc_id(&vpc)
        .group_name("aws-checks-too-long")
        .description("d".repeat(256))
        .send()
        .await
        .expect_err("AWS refuses a 256-character description");
    let message = refused.message().unwrap_or_default();
    assert!(
        message.starts_with("awsproxy: request AWS would refuse: ec2.CreateSecurityGroup: GroupDescription"),
        "{message}"
    );
    let stats = proxy.stats().await.0;
    assert_eq!(stats["violation_count"], 1, "{stats}");
    assert_eq!(
        stats["violations"][0]["operation"], "ec2.CreateSecurityGroup",
        "{stats}"
    );
    // CreateVpc and two CreateSubnet passed the same checks
    assert_eq!(stats["validated"], 4, "{stats}");
}

/// Every test's AWS traffic goes through a checking proxy: the endpoint they share is one.
#[tokio::test]
async fn the_tests_endpoint_checks_every_request() {
    let stats: serde_json::Value = reqwest::get(format!("{}/_proxy/stats", endpoint()))
        .await
        .expect("the tests' endpoint is the checking proxy (scripts/emulator.sh start)")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(stats["config"]["validate"], true, "{stats}");
}
