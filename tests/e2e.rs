//! End to end: the operator binary against a real Kubernetes API server
//! (apiextensions-apiserver + etcd, built by scripts/apiserver.sh) and the AWS
//! emulator. Each test works in its own namespace with its own operator process
//! (`--namespace`), so tests run in parallel without seeing each other.
//!
//! `USE_EXISTING_CLUSTER=1` runs them against the cluster of the current KUBECONFIG.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use kube::ResourceExt;
use privateapi::aws::Owner;

const IMAGE: &str = "nginx:1.27";

/// The operator binary for one namespace (`--namespace`), polling every second, with
/// its log in a file of its own; killed (SIGKILL) when dropped.
fn start_operator(namespace: &str, extra: &[&str]) -> Operator {
    let log = std::env::temp_dir().join(format!("privateapi-e2e-{namespace}-{}.log", rand::random::<u32>()));
    let mut args = vec!["run", "--namespace", namespace, "--poll-seconds", "1"];
    if !extra.contains(&"--metrics-addr") {
        args.extend(["--metrics-addr", "off"]);
    }
    args.extend(extra);
    let mut env = aws_env();
    env.push(("KUBECONFIG", cluster().kubeconfig.clone()));
    env.push(("RUST_LOG", "info".into()));
    Operator::start(Path::new(env!("CARGO_BIN_EXE_privateapi")), &args, &env, &log)
}

fn owner_of(ns: &str, name: &str) -> Owner {
    let obj = get(ns, name);
    Owner::new(ns, name, obj.uid().expect("uid"))
}

fn wait_ready(ns: &str, name: &str, op: &Operator) {
    let out = kubectl(&[
        "wait",
        "--for=condition=Ready",
        &format!("papi/{name}"),
        "-n",
        ns,
        "--timeout=60s",
    ]);
    assert!(
        out.status.success(),
        "{ns}/{name} not Ready: {}\n{}\noperator log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        status_json(&get(ns, name)),
        op.log()
    );
}

fn wait_gone(ns: &str, name: &str, op: &Operator) {
    let out = kubectl(&[
        "wait",
        "--for=delete",
        &format!("papi/{name}"),
        "-n",
        ns,
        "--timeout=60s",
    ]);
    assert!(
        out.status.success(),
        "{ns}/{name} not deleted: {}\noperator log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        op.log()
    );
}

fn namespace(test: &str) -> String {
    format!("e2e-{test}-{:06x}", rand::random::<u32>() & 0xffffff)
}

#[tokio::test]
async fn apply_change_and_delete() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("life");
    let op = start_operator(&ns, &[]);

    ok(kubectl_apply(&manifest_with(
        &ns,
        "shop",
        &vpc,
        &subnets,
        IMAGE,
        "  tags: {team: e2e}\n",
    )));
    wait_ready(&ns, "shop", &op);
    let obj = get(&ns, "shop");
    let status = obj.status.clone().expect("status");
    let ids = &status.resources;
    let api_id = ids.rest_api_id.as_deref().expect("restApiId");
    assert_eq!(
        status.endpoint,
        Some(format!("https://{api_id}.execute-api.eu-west-1.amazonaws.com/prod"))
    );
    assert_eq!(status.observed_generation, obj.metadata.generation);
    for (id, value) in [
        ("vpcLinkId", &ids.vpc_link_id),
        ("loadBalancerArn", &ids.load_balancer_arn),
        ("loadBalancerDns", &ids.load_balancer_dns),
        ("targetGroupArn", &ids.target_group_arn),
        ("listenerArn", &ids.listener_arn),
        ("clusterArn", &ids.cluster_arn),
        ("serviceArn", &ids.service_arn),
        ("taskDefinitionArn", &ids.task_definition_arn),
        ("deploymentId", &ids.deployment_id),
    ] {
        assert!(
            value.as_deref().is_some_and(|v| !v.is_empty()),
            "status.resources.{id} missing"
        );
    }
    assert_eq!(status.service.as_ref().map(|s| s.running_count), Some(2));
    for c in [
        "Ready",
        "SecurityGroupsReady",
        "LoadBalancerReady",
        "VpcLinkReady",
        "ServiceReady",
        "ApiReady",
    ] {
        assert_eq!(condition_status(&obj, c), Some("True"), "{c}");
    }
    assert_eq!(condition_status(&obj, "Stalled"), Some("False"));
    assert!(obj.finalizers().iter().any(|f| f == "privateapi.io/cleanup"));
    let owner = owner_of(&ns, "shop");
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());
    let columns = ok(kubectl(&["get", "papi", "-n", &ns]));
    assert!(
        columns.contains("READY") && columns.contains("ENDPOINT") && columns.contains(api_id),
        "{columns}"
    );

    // Image and count change: AWS updated, generation observed, no new deployment.
    let deployment = ids.deployment_id.clone();
    ok(kubectl(&[
        "patch",
        "papi",
        "shop",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"service":{"image":"nginx:1.28","desiredCount":3}}}"#,
    ]));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let obj = get(&ns, "shop");
        let status = obj.status.clone().unwrap_or_default();
        if is_ready(&obj) && status.service.as_ref().map(|s| s.desired_count) == Some(3) {
            assert_eq!(status.resources.deployment_id, deployment, "no new API deployment");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "change not applied: {}\n{}",
            status_json(&obj),
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let inv = inventory(&aws, &owner).await;
    assert_eq!((inv.task_definitions, inv.deployments, inv.services), (1, 1, 1));

    // A change of the API's shape (a new subnet → a new VPC link → new integrations):
    // exactly one new deployment, the old link retired.
    let extra = aws
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.3.0/24")
        .availability_zone("eu-west-1c")
        .send()
        .await
        .expect("subnet");
    let third = extra
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_owned();
    let patch = format!(
        r#"{{"spec":{{"network":{{"subnetIds":["{}","{}","{third}"]}}}}}}"#,
        subnets[0], subnets[1]
    );
    ok(kubectl(&[
        "patch",
        "papi",
        "shop",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        &patch,
    ]));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let obj = get(&ns, "shop");
        if is_ready(&obj) {
            let redeployed = obj.status.as_ref().and_then(|s| s.resources.deployment_id.clone());
            assert_ne!(redeployed, deployment, "redeployed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "shape change not applied: {}\n{}",
            status_json(&obj),
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let inv = inventory(&aws, &owner).await;
    assert_eq!(
        (inv.vpc_links, inv.deployments),
        (1, 1),
        "one link, and one deployment (the old one removed): {inv:?}"
    );

    ok(kubectl(&["delete", "papi", "shop", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "shop", &op);
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::default(),
        "nothing left in AWS"
    );
}

#[tokio::test]
async fn invalid_resources_are_refused_by_the_schema() {
    let ns = namespace("invalid");
    let base = |spec: &str| {
        format!(
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: bad, namespace: {ns}}}\nspec:\n{spec}"
        )
    };
    let cases = [
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, cpu: 256, memory: 4096}\n",
            "not a Fargate size",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a]}\n  service: {image: x}\n",
            "should have at least 2 items",
        ),
        (
            "  network: {vpcId: vpc-1}\n  service: {image: x}\n",
            "set exactly one of subnetIds or subnetSelector",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, port: 70000}\n",
            "should be less than or equal to 65535",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  deletionPolicy: Orphan\n",
            "supported values: \"Delete\", \"Retain\"",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, cpu: 300}\n",
            "supported values",
        ),
        (
            "  network: {vpcId: not-a-vpc, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n",
            "should match",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, healthCheck: {intervalSeconds: 5, timeoutSeconds: 10}}\n",
            "timeoutSeconds must be less than intervalSeconds",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  api: {type: HTTP}\n  vpcLink: {version: V1}\n",
            "an HTTP API reaches its load balancer through a VPC Link V2 only",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  api: {type: HTTP, endpointType: EDGE}\n",
            "HTTP APIs are REGIONAL only",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  loadBalancer: {type: network}\n  vpcLink: {version: V1, existingId: abc123}\n",
            "a V1 link serves exactly one NLB",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  loadBalancer: {type: gateway}\n",
            "supported values: \"application\", \"network\"",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  loadBalancer: {type: network, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012'}\n",
            "only an ALB (type application) offers here",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n  loadBalancer: {certificateArn: 'arn:aws:iam::123456789012:server-certificate/x'}\n",
            "should match",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, secrets: [{name: DB, valueFrom: hunter2}]}\n",
            "spec.service.secrets[0].valueFrom: Invalid value",
        ),
        (
            "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x, secrets: [{name: DB, valueFrom: 'arn:aws:s3:::bucket/db'}]}\n",
            "should match",
        ),
    ];
    for (spec, message) in cases {
        let out = kubectl_apply(&base(spec));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted:\n{spec}");
        assert!(stderr.contains(message), "expected {message:?} in: {stderr}");
    }

    // vpcId is immutable once set.
    ok(kubectl_apply(&base(
        "  network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\n  service: {image: x}\n",
    )));
    let out = kubectl(&[
        "patch",
        "papi",
        "bad",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"network":{"vpcId":"vpc-2"}}}"#,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vpcId is immutable"));
    let out = kubectl(&[
        "patch",
        "papi",
        "bad",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"api":{"endpointType":"EDGE"}}}"#,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("endpointType is immutable"));
    // So are the kinds of the API, link and load balancer: other AWS objects altogether.
    for (patch, message) in [
        (r#"{"spec":{"api":{"type":"HTTP"}}}"#, "api.type is immutable"),
        (
            r#"{"spec":{"vpcLink":{"version":"V1"}}}"#,
            "vpcLink.version is immutable",
        ),
        (
            r#"{"spec":{"loadBalancer":{"type":"network"}}}"#,
            "loadBalancer.type is immutable",
        ),
    ] {
        let out = kubectl(&["patch", "papi", "bad", "-n", &ns, "--type=merge", "-p", patch]);
        assert!(!out.status.success(), "accepted: {patch}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "expected {message:?} in: {stderr}");
    }
    ok(kubectl(&["delete", "papi", "bad", "-n", &ns]));
}

#[tokio::test]
async fn aws_rejection_stalls_with_the_aws_message() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("stall");
    let op = start_operator(&ns, &[]);
    let wrong = vec![subnets[0].clone(), "subnet-0000000000000dead".to_string()];
    ok(kubectl_apply(&manifest(&ns, "ghost", &vpc, &wrong, IMAGE)));
    let out = kubectl(&[
        "wait",
        "--for=condition=Stalled",
        "papi/ghost",
        "-n",
        &ns,
        "--timeout=30s",
    ]);
    assert!(out.status.success(), "not Stalled: {}", op.log());
    let obj = get(&ns, "ghost");
    let stalled = condition(&obj, "Stalled").expect("Stalled");
    // Found by the pre-flight read of the subnets, before any write.
    assert_eq!(stalled.reason, "SubnetNotFound");
    assert!(stalled.message.contains("subnet-0000000000000dead"), "{stalled:?}");
    assert_eq!(condition_status(&obj, "Ready"), Some("False"));

    // Fixing the spec un-stalls it.
    ok(kubectl_apply(&manifest(&ns, "ghost", &vpc, &subnets, IMAGE)));
    wait_ready(&ns, "ghost", &op);
    ok(kubectl(&["delete", "papi", "ghost", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "ghost", &op);
}

#[tokio::test]
async fn retain_keeps_aws_and_drift_is_repaired_on_resync() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("retain");
    let op = start_operator(&ns, &["--resync-seconds", "1", "--full-resync-seconds", "20"]);
    ok(kubectl_apply(&manifest_with(
        &ns,
        "keep",
        &vpc,
        &subnets,
        IMAGE,
        "  deletionPolicy: Retain\n",
    )));
    wait_ready(&ns, "keep", &op);
    let owner = owner_of(&ns, "keep");

    // Drift the drift check sees (the service scaled by hand) is repaired when the
    // service's probe comes round (one resync in six).
    let name = owner.resource_name("", 255);
    aws.ecs
        .update_service()
        .cluster(&name)
        .service(&name)
        .desired_count(5)
        .send()
        .await
        .expect("scale");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let services = aws.ecs.describe_services().cluster(&name).services(&name).send().await;
        let count = services
            .ok()
            .and_then(|s| s.services().first().map(|s| s.desired_count()));
        if count == Some(2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scale not repaired (count {count:?}):\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        op.log().contains("drift found: full pass"),
        "repaired, but not after a drift check:\n{}",
        op.log()
    );

    // Drift one of the probes sees (the execution role's managed policy detached) is
    // found by a drift check when its turn comes, and repaired.
    op.settle(Duration::from_secs(3)).await;
    let role = get(&ns, "keep")
        .status
        .and_then(|s| s.resources.execution_role_arn)
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    let policy = privateapi::aws::iam::execution_policy_arn(privateapi::aws::partition::Partition::of_region(REGION));
    aws.iam
        .detach_role_policy()
        .role_name(&role)
        .policy_arn(&policy)
        .send()
        .await
        .expect("detach policy");
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let attached = aws.iam.list_attached_role_policies().role_name(&role).send().await;
        if attached.is_ok_and(|a| {
            a.attached_policies()
                .iter()
                .any(|p| p.policy_arn() == Some(policy.as_str()))
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "policy not re-attached:\n{}", op.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        op.log()
            .lines()
            .any(|line| line.contains("drift found") && line.contains(&format!("(attach {policy})"))),
        "re-attached, but not after a drift check found it:\n{}",
        op.log()
    );

    // A leftover only a full pass sweeps (a deployment made by hand, served by no
    // stage) is gone within the full resync period (20 s).
    let api_id = get(&ns, "keep")
        .status
        .and_then(|s| s.resources.rest_api_id)
        .unwrap_or_default();
    let stray = aws
        .apigw
        .create_deployment()
        .rest_api_id(&api_id)
        .description("by hand")
        .send()
        .await
        .expect("stray deployment")
        .id()
        .unwrap_or_default()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let deployments = aws.apigw.get_deployments().rest_api_id(&api_id).send().await;
        if deployments.is_ok_and(|d| d.items().iter().all(|d| d.id() != Some(stray.as_str()))) {
            break;
        }
        assert!(Instant::now() < deadline, "stray deployment not swept:\n{}", op.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    ok(kubectl(&["delete", "papi", "keep", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "keep", &op);
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::one_stack(),
        "Retain leaves AWS untouched"
    );
    until_gone(&aws, &owner, &spec(&vpc, &subnets), 10).await;
}

#[tokio::test]
async fn sigkill_during_create_and_delete_leaves_no_duplicate_and_no_orphan() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("kill");
    let names = ["a", "b", "c"];
    for round in 0..3u64 {
        let mut op = start_operator(&ns, &[]);
        for name in names {
            ok(kubectl_apply(&manifest(
                &ns,
                &format!("{name}{round}"),
                &vpc,
                &subnets,
                IMAGE,
            )));
        }
        tokio::time::sleep(Duration::from_millis(150 + 150 * round)).await;
        op.kill();
        let op = start_operator(&ns, &[]);
        for name in names {
            wait_ready(&ns, &format!("{name}{round}"), &op);
            let owner = owner_of(&ns, &format!("{name}{round}"));
            assert_eq!(
                inventory(&aws, &owner).await,
                Inventory::one_stack(),
                "{name}{round} after SIGKILL in create"
            );
        }
        let owners: Vec<Owner> = names.iter().map(|n| owner_of(&ns, &format!("{n}{round}"))).collect();
        // One VPC link for the network, however the kill fell among the joins.
        let links = shared_links_of(&aws, &vpc, &subnets).await;
        assert_eq!(links.len(), 1, "round {round}: {links:?}");
        let users: std::collections::BTreeSet<String> = owners.iter().map(|o| o.uid.clone()).collect();
        assert_eq!(links[0].users, users, "round {round}");
        drop(op);

        let mut op = start_operator(&ns, &[]);
        for name in names {
            ok(kubectl(&[
                "delete",
                "papi",
                &format!("{name}{round}"),
                "-n",
                &ns,
                "--wait=false",
            ]));
        }
        tokio::time::sleep(Duration::from_millis(100 + 100 * round)).await;
        op.kill();
        let op = start_operator(&ns, &[]);
        for name in names {
            wait_gone(&ns, &format!("{name}{round}"), &op);
        }
        for owner in &owners {
            assert_eq!(
                inventory(&aws, owner).await,
                Inventory::default(),
                "{} after SIGKILL in delete",
                owner.key()
            );
        }
        assert_eq!(
            shared_links_of(&aws, &vpc, &subnets).await,
            [],
            "round {round}: the link goes with the last"
        );
        assert_eq!(
            shared_groups_of(&aws, &vpc).await,
            Vec::<String>::new(),
            "round {round}: and its group"
        );
    }
}

#[tokio::test]
async fn ten_resources_at_once() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("ten");
    let op = start_operator(&ns, &[]);
    let started = Instant::now();
    let all: String = (0..10)
        .map(|i| format!("---\n{}", manifest(&ns, &format!("api-{i}"), &vpc, &subnets, IMAGE)))
        .collect();
    ok(kubectl_apply(&all));
    for i in 0..10 {
        wait_ready(&ns, &format!("api-{i}"), &op);
    }
    println!("10 PrivateApis Ready in {:?}", started.elapsed());
    let links = shared_links_of(&aws, &vpc, &subnets).await;
    assert_eq!(links.len(), 1, "ten APIs of one network share one VPC link: {links:?}");
    assert_eq!(links[0].users.len(), 10);
    for i in 0..10 {
        assert_eq!(
            inventory(&aws, &owner_of(&ns, &format!("api-{i}"))).await,
            Inventory::one_stack()
        );
    }
    ok(kubectl(&["delete", "papi", "--all", "-n", &ns, "--wait=false"]));
    for i in 0..10 {
        wait_gone(&ns, &format!("api-{i}"), &op);
    }
}

#[tokio::test]
async fn a_resource_waiting_on_aws_gets_cheap_checks_until_it_moves() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("waiting");
    // Applied before the operator starts, so that its VPC link (named after the uid)
    // can be made PENDING for its first 12 seconds.
    ok(kubectl_apply(&manifest(&ns, "slow", &vpc, &subnets, IMAGE)));
    let owner = owner_of(&ns, "slow");
    // The network's shared link: this test's VPC is its own.
    let link = privateapi::aws::shared_link::link_name(&privateapi::aws::shared_link::key(&vpc, &subnets));
    set_link_pending(&link, Some(Duration::from_secs(12))).await;
    let op = start_operator(&ns, &["--metrics-addr", "127.0.0.1:0"]);
    let addr = op.metrics_addr();
    wait_ready(&ns, "slow", &op);
    set_link_pending(&link, None).await;

    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let wait_checks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("privateapi_resyncs_total{kind=\"wait_check\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_default();
    assert!(
        wait_checks >= 3,
        "the link was PENDING for 12 s, yet {wait_checks} wait checks:\n{}",
        op.log()
    );
    // The wait over, the held-back wiring follows: a follow-up (a default stack) or
    // a full pass.
    assert!(
        op.log().contains("wait over: follow-up") || op.log().contains("wait over: full pass"),
        "the link's AVAILABLE was not seen by a wait check:\n{}",
        op.log()
    );
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());

    ok(kubectl(&["delete", "papi", "slow", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "slow", &op);
}

#[tokio::test]
async fn metrics_health_and_graceful_shutdown() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("ops");
    let mut op = start_operator(&ns, &["--metrics-addr", "127.0.0.1:0", "--log-format", "json"]);
    let addr = op.metrics_addr();
    ok(kubectl_apply(&manifest(&ns, "watched", &vpc, &subnets, IMAGE)));
    wait_ready(&ns, "watched", &op);

    let client = reqwest::Client::new();
    let ready = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let healthy = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthy.status(), 200);
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    for needle in [
        "privateapi_reconciles_total{outcome=\"ok\"}",
        "privateapi_reconcile_duration_seconds_bucket",
        "privateapi_resources{condition=\"Ready\"} 1",
        "operation=\"CreateLoadBalancer\",outcome=\"ok\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }

    // JSON logs carry the object on every reconcile line, and no credential.
    let log = op.log();
    let line = log
        .lines()
        .find(|l| l.contains("+ LoadBalancer"))
        .expect("a reconcile log line");
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(json["span"]["namespace"], ns.as_str(), "{line}");
    assert_eq!(json["span"]["privateapi"], "watched", "{line}");
    assert!(!log.contains("testing"), "a credential value leaked into the log");

    let (took, code) = op.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "clean exit within 10 s of SIGTERM:\n{}", op.log());
    assert!(took < Duration::from_secs(10));
    let op = start_operator(&ns, &[]);
    ok(kubectl(&["delete", "papi", "watched", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "watched", &op);
}

/// The Lease kind where the API server has none (see tests/fixtures/lease-crd.yaml).
fn ensure_lease_kind() {
    let served = kubectl(&["api-resources", "--api-group=coordination.k8s.io", "-o", "name"]);
    if String::from_utf8_lossy(&served.stdout).contains("leases") {
        return;
    }
    let crd = repo().join("tests/fixtures/lease-crd.yaml");
    ok(kubectl(&["apply", "--server-side", "-f", &crd.display().to_string()]));
    ok(kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/leases.coordination.k8s.io",
        "--timeout=30s",
    ]));
}

fn lease_holder(ns: &str) -> String {
    let out = kubectl(&[
        "get",
        "lease",
        "privateapi-operator",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn leader_election_lets_one_replica_act_and_fails_over() {
    ensure_lease_kind();
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("leader");
    let args = ["--leader-elect", "--lease-namespace", &ns];
    let mut first = start_operator(&ns, &args);
    // Let the first one lead before the second starts, so who leads is known.
    let deadline = Instant::now() + Duration::from_secs(20);
    while lease_holder(&ns).is_empty() {
        assert!(Instant::now() < deadline, "nobody took the lease:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut second = start_operator(&ns, &args);
    ok(kubectl_apply(&manifest(&ns, "one", &vpc, &subnets, IMAGE)));
    wait_ready(&ns, "one", &first);
    assert!(first.log().contains("acquired leadership"), "{}", first.log());
    assert!(second.log().contains("standing by"), "{}", second.log());
    assert!(
        !second.log().contains("applied"),
        "the standby acted:\n{}",
        second.log()
    );

    // The leader dies without releasing: the standby takes over once the lease expires.
    first.kill();
    let killed_at = Instant::now();
    ok(kubectl_apply(&manifest(&ns, "two", &vpc, &subnets, IMAGE)));
    let out = kubectl(&["wait", "--for=condition=Ready", "papi/two", "-n", &ns, "--timeout=60s"]);
    assert!(out.status.success(), "standby did not take over:\n{}", second.log());
    println!("failover after SIGKILL of the leader: {:?}", killed_at.elapsed());
    assert!(second.log().contains("acquired leadership"));

    // A clean shutdown releases the lease at once.
    let (_, code) = second.terminate(Duration::from_secs(10));
    assert_eq!(code, Some(0), "clean exit within 10 s of SIGTERM:\n{}", second.log());
    assert_eq!(lease_holder(&ns), "", "lease released on SIGTERM");

    let op = start_operator(&ns, &[]);
    ok(kubectl(&["delete", "papi", "--all", "-n", &ns, "--wait=false"]));
    wait_gone(&ns, "one", &op);
    wait_gone(&ns, "two", &op);
}

/// Each example of examples/ that builds one architecture, as a user applies it (with
/// this VPC's IDs): Ready with an endpoint, then deleted without a trace.
#[tokio::test]
async fn every_architecture_example_becomes_ready_and_leaves_nothing() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let ns = namespace("examples");
    let op = start_operator(&ns, &[]);
    let mut applied = Vec::new();
    for example in ARCHITECTURE_EXAMPLES {
        let (manifest, name) = example_manifest(example, &ns, &vpc, &subnets);
        ok(kubectl_apply(&manifest));
        applied.push((example, name));
    }
    let mut owners = Vec::new();
    for (example, name) in &applied {
        wait_ready(&ns, name, &op);
        owners.push(owner_of(&ns, name));
        let status = get(&ns, name).status.unwrap_or_default();
        let endpoint = status.endpoint.unwrap_or_default();
        assert!(
            endpoint.starts_with("https://") && endpoint.contains(".execute-api."),
            "{example}: endpoint {endpoint:?}"
        );
    }
    ok(kubectl(&["delete", "papi", "--all", "-n", &ns, "--wait=false"]));
    for ((example, name), owner) in applied.iter().zip(&owners) {
        wait_gone(&ns, name, &op);
        assert_eq!(
            inventory(&aws, owner).await,
            Inventory::default(),
            "{example} left something"
        );
    }
}
