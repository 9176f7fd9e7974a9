//! The engine against the AWS emulator (patched moto, started by scripts/emulator.sh):
//! create → Ready, idempotence, drift repair, spec changes, teardown, lost
//! responses and crashes, foreign look-alikes, invalid input.

mod common;

use std::time::Duration;

use common::*;
use privateapi::aws::iam::execution_policy_arn;
use privateapi::aws::ownership::TAG_UID;
use privateapi::aws::partition::Partition;
use privateapi::aws::rest_api;
use privateapi::reconcile::{self, Mode};

#[tokio::test]
async fn create_is_ready_wired_and_idempotent() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("create");
    let spec = spec(&vpc, &subnets);

    let outcome = until_ready(&aws, &owner, &spec, 5).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());

    // The status names every part, and the invoke URL has the documented shape.
    let ids = &outcome.resources;
    let api_id = ids.rest_api_id.clone().expect("rest api id");
    assert_eq!(
        outcome.endpoint.as_deref(),
        Some(format!("https://{api_id}.execute-api.{REGION}.amazonaws.com/prod").as_str())
    );
    for (name, id) in [
        ("vpcLinkId", &ids.vpc_link_id),
        ("loadBalancerArn", &ids.load_balancer_arn),
        ("targetGroupArn", &ids.target_group_arn),
        ("listenerArn", &ids.listener_arn),
        ("serviceArn", &ids.service_arn),
        ("taskDefinitionArn", &ids.task_definition_arn),
        ("deploymentId", &ids.deployment_id),
    ] {
        assert!(
            id.as_deref().is_some_and(|v| !v.is_empty() && !v.starts_with('<')),
            "{name}: {id:?}"
        );
    }
    assert_eq!(ids.security_group_ids.len(), 3);
    assert_eq!(
        outcome.service.as_ref().map(|s| (s.running_count, s.desired_count)),
        Some((2, 2))
    );

    // The VPC-link wiring that other tools cannot express: connectionId = link,
    // integrationTarget = ALB ARN, on both ANY / and ANY /{proxy+}.
    let resources = aws
        .apigw
        .get_resources()
        .rest_api_id(&api_id)
        .send()
        .await
        .expect("GetResources");
    for path in [rest_api::ROOT_PATH, rest_api::PROXY_PATH] {
        let resource = resources
            .items()
            .iter()
            .find(|r| r.path() == Some(path))
            .expect("resource");
        let integration = aws
            .apigw
            .get_integration()
            .rest_api_id(&api_id)
            .resource_id(resource.id().unwrap_or_default())
            .http_method("ANY")
            .send()
            .await
            .expect("GetIntegration");
        assert_eq!(integration.r#type().map(|t| t.as_str()), Some("HTTP_PROXY"));
        assert_eq!(integration.connection_type().map(|t| t.as_str()), Some("VPC_LINK"));
        assert_eq!(integration.connection_id(), ids.vpc_link_id.as_deref());
        assert_eq!(integration.integration_target(), ids.load_balancer_arn.as_deref());
        let dns = ids.load_balancer_dns.as_deref().unwrap_or_default();
        let uri = if path == rest_api::PROXY_PATH {
            format!("http://{dns}/{{proxy}}")
        } else {
            format!("http://{dns}/")
        };
        assert_eq!(integration.uri(), Some(uri.as_str()));
    }

    // Every object carries the ownership tags.
    let alb_tags = aws
        .elb
        .describe_tags()
        .resource_arns(ids.load_balancer_arn.clone().unwrap_or_default())
        .send()
        .await
        .expect("DescribeTags");
    let tags = alb_tags.tag_descriptions()[0].tags();
    assert!(
        tags.iter()
            .any(|t| t.key() == Some(TAG_UID) && t.value() == Some(owner.uid.as_str()))
    );
    assert!(
        tags.iter()
            .any(|t| t.key() == Some("team") && t.value() == Some("tests"))
    );

    // A second pass of an unchanged resource: reads only.
    let before = aws.stats.snapshot();
    let again = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("second pass");
    let calls = aws.stats.snapshot().since(&before);
    assert!(again.is_ready() && again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(
        calls.writes(),
        0,
        "writes on a steady-state pass: {:?}",
        calls.write_operations()
    );
    println!("steady-state pass: {} reads, 0 writes: {:?}", calls.reads(), calls.0);
    // The read budget's arithmetic counts on this figure.
    assert_eq!(
        calls.reads() as f64,
        privateapi::schedule::FULL_PASS_READS,
        "a full pass's reads: {:?}",
        calls.0
    );
    let outcomes = aws.stats.outcomes();
    assert!(
        outcomes
            .iter()
            .any(|((_, op, outcome), n)| op == "CreateLoadBalancer" && *outcome == "ok" && *n >= 1),
        "call outcomes are counted: {outcomes:?}"
    );

    // plan agrees: nothing to do, and plan itself never writes.
    let before = aws.stats.snapshot();
    let plan = reconcile::converge(&aws, &owner, &spec, Mode::Plan)
        .await
        .expect("plan");
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert_eq!(aws.stats.snapshot().since(&before).writes(), 0);

    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn plan_lists_everything_and_sends_no_write() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("plan");
    let spec = spec(&vpc, &subnets);
    let before = aws.stats.snapshot();
    let plan = reconcile::converge(&aws, &owner, &spec, Mode::Plan)
        .await
        .expect("plan");
    assert_eq!(aws.stats.snapshot().since(&before).writes(), 0);
    let parts: Vec<&str> = plan.changes.iter().map(|c| c.part.as_str()).collect();
    for part in [
        "SecurityGroup",
        "IamRole",
        "EcsCluster",
        "TargetGroup",
        "LoadBalancer",
        "Listener",
        "VpcLink",
        "TaskDefinition",
        "EcsService",
        "RestApi",
        "ApiIntegration",
        "ApiDeployment",
        "ApiStage",
    ] {
        assert!(parts.contains(&part), "plan misses {part}: {parts:?}");
    }
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::default(),
        "plan created something"
    );
}

/// Drift behind the operator's back: the service scaled to `count` tasks.
async fn scale_by_hand(aws: &privateapi::aws::Aws, owner: &privateapi::aws::Owner, count: i32) {
    aws.ecs
        .update_service()
        .cluster(owner.resource_name("", 255))
        .service(owner.resource_name("", 255))
        .desired_count(count)
        .send()
        .await
        .expect("scale");
}

/// Drift behind the operator's back: the ALB's listener deleted.
async fn delete_listener_by_hand(aws: &privateapi::aws::Aws, ids: &privateapi::crd::ResourceIds) {
    aws.elb
        .delete_listener()
        .listener_arn(ids.listener_arn.clone().unwrap_or_default())
        .send()
        .await
        .expect("delete listener");
}

/// `plan` lists exactly what `apply` then does, also after drift made by hand, and
/// `apply` makes only those writes.
#[tokio::test]
async fn plan_lists_exactly_what_apply_then_does() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("plan-apply");
    let mut spec = spec(&vpc, &subnets);
    let ready = until_ready(&aws, &owner, &spec, 5).await;
    let ids = ready.resources;

    // Drift by hand, and a spec change, at once.
    scale_by_hand(&aws, &owner, 5).await;
    delete_listener_by_hand(&aws, &ids).await;
    aws.apigw
        .create_deployment()
        .rest_api_id(ids.rest_api_id.clone().unwrap_or_default())
        .stage_name("prod")
        .send()
        .await
        .expect("deploy by hand");
    spec.service.image = "nginx:1.28".into();

    let key = |c: &reconcile::Change| (c.verb, c.part, c.name.clone());
    let plan = reconcile::converge(&aws, &owner, &spec, Mode::Plan)
        .await
        .expect("plan");
    assert!(!plan.changes.is_empty());
    let before = aws.stats.snapshot();
    let applied = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("apply");
    let calls = aws.stats.snapshot().since(&before);
    let planned: Vec<_> = plan.changes.iter().map(key).collect();
    let made: Vec<_> = applied.changes.iter().map(key).collect();
    assert_eq!(planned, made, "plan {:?}\napply {:?}", plan.changes, applied.changes);
    assert_eq!(
        calls.writes() as usize,
        made.len(),
        "one write per change: {:?}",
        calls.write_operations()
    );
    until_ready(&aws, &owner, &spec, 3).await;
    until_gone(&aws, &owner, &spec, 10).await;
}

#[tokio::test]
async fn drift_is_repaired_without_redeploying() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("drift");
    let spec = spec(&vpc, &subnets);
    let ready = until_ready(&aws, &owner, &spec, 5).await;
    let ids = ready.resources.clone();

    // Someone scales the service, deletes the listener, points an integration
    // elsewhere and removes a security-group rule, all behind the operator's back.
    scale_by_hand(&aws, &owner, 7).await;
    delete_listener_by_hand(&aws, &ids).await;
    let api_id = ids.rest_api_id.clone().unwrap_or_default();
    let resources = aws
        .apigw
        .get_resources()
        .rest_api_id(&api_id)
        .send()
        .await
        .expect("GetResources");
    let proxy = resources
        .items()
        .iter()
        .find(|r| r.path() == Some(rest_api::PROXY_PATH))
        .and_then(|r| r.id())
        .unwrap_or_default()
        .to_owned();
    let mut hijacked = rest_api::integrations(
        "http://evil.example.com",
        ids.vpc_link_id.as_deref().unwrap_or_default(),
        Some("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/evil/1"),
    )
    .1;
    hijacked.uri = "http://evil.example.com/{proxy}".into();
    rest_api::put_integration(&aws, &api_id, &proxy, "ANY", &hijacked)
        .await
        .expect("hijack integration");
    let tasks_sg = ids.security_group_ids["tasks"].clone();
    let groups = privateapi::aws::security_group::observe(&aws, &owner, None)
        .await
        .expect("observe");
    let rule = groups.iter().find(|g| g.id == tasks_sg).expect("tasks group").rules[0].clone();
    privateapi::aws::security_group::revoke(&aws, &tasks_sg, &rule)
        .await
        .expect("revoke");

    let repair = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("repair pass");
    let repaired: Vec<String> = repair.changes.iter().map(|c| c.to_string()).collect();
    for expected in [
        "EcsService",
        "Listener",
        "ApiIntegration ANY /{proxy+}",
        "SecurityGroup",
    ] {
        assert!(
            repaired.iter().any(|c| c.contains(expected)),
            "{expected} not repaired: {repaired:?}"
        );
    }
    let after = until_ready(&aws, &owner, &spec, 3).await;
    assert_eq!(after.service.map(|s| s.desired_count), Some(2));
    let inv = inventory(&aws, &owner).await;
    assert_eq!(inv, Inventory::one_stack(), "one of each, and still one deployment");
    until_gone(&aws, &owner, &spec, 10).await;
}

#[tokio::test]
async fn spec_changes_update_in_place_and_redeploy_only_on_shape_change() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("change");
    let mut spec = spec(&vpc, &subnets);
    let first = until_ready(&aws, &owner, &spec, 5).await;

    // Image and desired count: a new task definition revision, the service updated,
    // the API untouched (no new deployment).
    spec.service.image = "nginx:1.28".into();
    spec.service.desired_count = 3;
    let changed = until_ready(&aws, &owner, &spec, 5).await;
    assert_ne!(
        changed.resources.task_definition_arn,
        first.resources.task_definition_arn
    );
    assert_eq!(changed.service.as_ref().map(|s| s.desired_count), Some(3));
    assert_eq!(
        changed.resources.deployment_id, first.resources.deployment_id,
        "no redeploy for a service change"
    );
    let inv = inventory(&aws, &owner).await;
    assert_eq!(
        (inv.task_definitions, inv.deployments),
        (1, 1),
        "old revision deregistered, one deployment"
    );

    // A third subnet changes the VPC link (links are immutable): a new link, the
    // integrations repointed, exactly one new deployment, the old link retired.
    let extra = aws
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.0.3.0/24")
        .availability_zone(format!("{REGION}c"))
        .send()
        .await
        .expect("subnet");
    let mut ids = subnets.clone();
    ids.push(
        extra
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned(),
    );
    spec.network.subnet_ids = Some(ids);
    let before = aws.stats.snapshot();
    let moved = until_ready(&aws, &owner, &spec, 5).await;
    let calls = aws.stats.snapshot().since(&before);
    assert_ne!(moved.resources.vpc_link_id, first.resources.vpc_link_id);
    assert_ne!(moved.resources.deployment_id, first.resources.deployment_id);
    assert_eq!(
        calls.count("CreateDeployment"),
        1,
        "exactly one new deployment: {:?}",
        calls.0
    );
    assert_eq!(calls.count("CreateVpcLink"), 1);
    let inv = inventory(&aws, &owner).await;
    assert_eq!((inv.vpc_links, inv.deployments, inv.stages), (1, 1, 1), "{inv:?}");

    // Renaming the stage moves the API to the new stage and removes the old one.
    spec.api.stage_name = "v2".into();
    let renamed = until_ready(&aws, &owner, &spec, 5).await;
    assert!(renamed.endpoint.as_deref().is_some_and(|e| e.ends_with("/v2")));
    assert_eq!(inventory(&aws, &owner).await.stages, 1);
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn tasks_not_running_keep_the_resource_reconciling() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("tasks");
    let spec = spec(&vpc, &subnets);
    set_running(&owner.resource_name("", 255), Some(0)).await;
    // Four passes at least, and on until the ALB and the VPC link are up (a second in
    // the emulator): then the tasks are what the resource waits on, and it stays so.
    let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
    let mut passes = 0;
    let waiting = loop {
        let outcome = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("pass");
        assert!(!outcome.is_ready());
        let waiting = outcome.waiting_on().cloned().expect("a part not ready");
        passes += 1;
        let provisioning = ["LoadBalancerProvisioning", "VpcLinkPending", "WaitingForVpcLink"];
        if passes >= 4 && !provisioning.contains(&waiting.reason.as_str()) || std::time::Instant::now() > deadline {
            break waiting;
        }
        tokio::time::sleep(AWS_WAIT_POLL).await;
    };
    assert_eq!(
        (waiting.condition.as_str(), waiting.reason.as_str()),
        ("ServiceReady", "TasksStarting")
    );
    assert_eq!(waiting.message, "0 of 2 tasks running");
    set_running(&owner.resource_name("", 255), None).await;
    until_ready(&aws, &owner, &spec, 3).await;
    until_gone(&aws, &owner, &spec, 10).await;
}

#[tokio::test]
async fn a_pending_vpc_link_holds_back_only_the_integrations() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("pending-link");
    let spec = spec(&vpc, &subnets);
    let link_name = privateapi::aws::shared_link::link_name(&privateapi::aws::shared_link::key(&vpc, &subnets));
    set_link_pending(&link_name, Some(Duration::from_secs(4))).await;

    // First pass: everything is made but the API's wiring, which needs a usable link.
    let first = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("first pass");
    assert!(!first.is_ready());
    let reason = |outcome: &reconcile::Outcome, condition: &str| {
        outcome
            .parts
            .iter()
            .find(|p| p.condition.as_str() == condition)
            .map(|p| p.reason.clone())
    };
    assert_eq!(reason(&first, "VpcLinkReady").as_deref(), Some("VpcLinkPending"));
    assert_eq!(reason(&first, "ApiReady").as_deref(), Some("WaitingForVpcLink"));
    assert!(
        first.resources.rest_api_id.is_some(),
        "the REST API itself does not wait"
    );
    assert_eq!(first.resources.deployment_id, None);
    let made: Vec<&str> = first.changes.iter().map(|c| c.part.as_str()).collect();
    for part in ["ApiIntegration", "ApiDeployment", "ApiStage"] {
        assert!(
            !made.contains(&part),
            "{part} made before the link was usable: {made:?}"
        );
    }

    // Still PENDING at the next pass: nothing more to do, nothing duplicated.
    let second = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("second pass");
    assert_eq!(reason(&second, "VpcLinkReady").as_deref(), Some("VpcLinkPending"));
    assert!(
        second.changes.iter().all(|c| c.part.as_str() != "VpcLink"),
        "{:?}",
        second.changes
    );

    // AVAILABLE: the integrations, the deployment and the stage follow.
    tokio::time::sleep(Duration::from_secs(4)).await;
    until_ready(&aws, &owner, &spec, 4).await;
    set_link_pending(&link_name, None).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());
    until_gone(&aws, &owner, &spec, 10).await;
}

/// A wait check that finds the link AVAILABLE is followed up (`reconcile::follow_up`):
/// from the region inventory and the IDs the first pass recorded, plus the API's and
/// the service's reads, it makes exactly the steps a full pass would, and a full pass
/// after it finds nothing to do and the same IDs. It reads far less than a full pass.
#[tokio::test]
async fn the_follow_up_of_a_wait_makes_what_a_full_pass_would() {
    use privateapi::aws::inventory::Inventory as RegionInventory;

    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("follow-up");
    let spec = spec(&vpc, &subnets);
    let link_name = privateapi::aws::shared_link::link_name(&privateapi::aws::shared_link::key(&vpc, &subnets));
    set_link_pending(&link_name, Some(Duration::from_secs(3))).await;
    let first = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("first pass");
    assert!(!first.is_ready());
    tokio::time::sleep(Duration::from_millis(3500)).await;
    set_link_pending(&link_name, None).await;

    // What a full pass would do now, and what the follow-up does.
    let key = |c: &reconcile::Change| (c.verb, c.part, c.name.clone());
    let planned = reconcile::converge(&aws, &owner, &spec, Mode::Plan)
        .await
        .expect("plan");
    assert!(!planned.changes.is_empty(), "the wiring waits");
    let inventory = RegionInventory::load(&aws).await.expect("inventory");
    let before = aws.stats.snapshot();
    let followed = Box::pin(reconcile::follow_up(
        &aws,
        &inventory,
        &owner,
        &spec,
        &first.resources,
        Mode::Apply,
    ))
    .await
    .expect("follow-up")
    .expect("a default stack is followed up");
    let calls = aws.stats.snapshot().since(&before);
    println!(
        "follow-up: {} reads, {} writes: {:?}",
        calls.reads(),
        calls.writes(),
        calls.0
    );
    assert_eq!(
        followed.changes.iter().map(key).collect::<Vec<_>>(),
        planned.changes.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(calls.writes() as usize, followed.changes.len());
    assert!(
        (calls.reads() as f64) < privateapi::schedule::FULL_PASS_READS / 2.0,
        "{} reads: {:?}",
        calls.reads(),
        calls.0
    );

    // A full pass after it: nothing left, and the same IDs and endpoint.
    let full = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("full pass");
    assert!(full.changes.is_empty(), "{:?}", full.changes);
    assert!(full.is_ready(), "{:?}", full.waiting_on());
    assert_eq!(followed.resources, full.resources);
    assert_eq!(followed.endpoint, full.endpoint);
    // Each part it read reads as the full pass reads it (the others keep the status's).
    for part in &followed.parts {
        let same = full.parts.iter().find(|p| p.condition == part.condition);
        assert_eq!(same.map(|p| p.ready), Some(part.ready), "{part:?}");
    }
    until_gone(&aws, &owner, &spec, 10).await;
}

/// The first pass of a new object (`History::New`: just finalized, no status) reads
/// only what it may share with other stacks, and makes exactly what a full pass would
/// have made; the passes after it read everything and find the stack as a full pass
/// makes it, nothing made twice.
#[tokio::test]
async fn a_new_object_s_first_pass_reads_only_what_it_may_share() {
    use privateapi::reconcile::History;

    let (_f, aws) = aws().await;
    let http = |mut spec: privateapi::crd::PrivateApiSpec| {
        spec.api.api_type = privateapi::crd::ApiType::Http;
        spec
    };
    for (name, kind) in [("new-rest", None), ("new-http", Some(http))] {
        // Each in a network of its own: neither finds the other's shared link.
        let specs: Vec<_> = [network(&aws).await, network(&aws).await]
            .into_iter()
            .map(|(vpc, subnets)| {
                let s = spec(&vpc, &subnets);
                kind.map_or(s.clone(), |k| k(s))
            })
            .collect();
        let owners = [owner(&format!("{name}-full")), owner(name)];
        let mut passes = Vec::new();
        for (owner, (spec, history)) in owners.iter().zip(specs.iter().zip([History::Unknown, History::New])) {
            let before = aws.stats.snapshot();
            let first = Box::pin(reconcile::converge_knowing(&aws, owner, spec, Mode::Apply, history))
                .await
                .expect("first pass");
            let calls = aws.stats.snapshot().since(&before);
            println!(
                "{name}, {history:?}: first pass {} reads, {} writes: {:?}",
                calls.reads(),
                calls.writes(),
                calls.0
            );
            let made: Vec<_> = first.changes.iter().map(|c| (c.verb, c.part)).collect();
            passes.push((made, calls.reads(), calls.writes()));
        }
        let (full, new) = (&passes[0], &passes[1]);
        assert_eq!(new.0, full.0, "{name}: the same changes");
        assert_eq!(new.2, full.2, "{name}: the same writes");
        assert!(new.1 + 5 <= full.1, "{name}: {} reads against {}", new.1, full.1);
        for (owner, spec) in owners.iter().zip(&specs) {
            until_ready(&aws, owner, spec, 5).await;
            let again = Box::pin(reconcile::converge(&aws, owner, spec, Mode::Apply))
                .await
                .expect("full pass");
            assert!(again.changes.is_empty(), "{name}: {:?}", again.changes);
        }
        for (owner, spec) in owners.iter().zip(&specs) {
            until_gone(&aws, owner, spec, 10).await;
        }
    }
}

/// Every mutating call of a create, once each: the call never sent (a crash before
/// it) or its answer lost (a crash after it). The next passes converge with exactly
/// one of each part: nothing duplicated, nothing lost. Needs the fault interceptor,
/// built only with `--features test-faults` (as `make test` does).
#[cfg(feature = "test-faults")]
#[tokio::test]
async fn lost_responses_and_crashes_never_duplicate() {
    use privateapi::aws::Fault;

    let (factory, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);

    // How many writes a clean create makes.
    let probe = owner("probe");
    let before = aws.stats.snapshot();
    until_ready(&aws, &probe, &spec, 5).await;
    let writes = aws.stats.snapshot().since(&before).writes();
    until_gone(&aws, &probe, &spec, 10).await;
    assert!(writes >= 20, "a create makes {writes} writes");

    // Fifty creates and teardowns: without AWS's slow steps (every other test has
    // them, a second each), or they alone would add two seconds to each. The probe
    // above had them, and counted the same writes.
    // Names are `papi-NAMESPACE-NAME-HASH` (Owner::resource_name); the owners below
    // are `fault-N`.
    let fault_prefix = "papi-tests-fault-";
    assert!(owner("fault-1").resource_name("", 32).starts_with(fault_prefix));
    set_delays(fault_prefix, Some(Duration::ZERO)).await;
    // The owners share the network's link, named after the network.
    let shared_link = privateapi::aws::shared_link::link_name(&privateapi::aws::shared_link::key(&vpc, &subnets));
    set_delays(&shared_link, Some(Duration::ZERO)).await;
    let faults = factory.faults();
    let mut injected = Vec::new();
    for fault in [Fault::LoseResponse, Fault::FailBeforeSend] {
        for nth in 1..=writes {
            let owner = owner(&format!("fault-{nth}"));
            faults.arm(nth, fault);
            let injected_before = faults.injected().len();
            // The pass fails, or succeeds because the SDK's own retry repeated the call
            // (exactly what happens to a lost response on AWS: a duplicate create).
            // A create spans passes (the API is wired once the new link is seen
            // AVAILABLE, the ALB active), so the n-th write may come in a later pass.
            // The first pass as the controller runs a new object's (nothing of it read
            // but what it may share), every later one reading everything.
            let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
            let mut history = reconcile::History::New;
            loop {
                let _ = reconcile::converge_knowing(&aws, &owner, &spec, Mode::Apply, history).await;
                history = reconcile::History::Unknown;
                if faults.injected().len() > injected_before || std::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(AWS_WAIT_POLL).await;
            }
            faults.disarm();
            assert_eq!(
                faults.injected().len(),
                injected_before + 1,
                "fault {nth} {fault:?} was injected"
            );
            until_ready(&aws, &owner, &spec, 6).await;
            let inv = inventory(&aws, &owner).await;
            assert_eq!(inv, Inventory::one_stack(), "after {:?}", faults.injected().last());
            // Teardown interrupted the same way, then resumed: nothing remains.
            faults.arm(nth.min(12), fault);
            let _ = reconcile::teardown(&aws, &owner, &spec, Mode::Apply).await;
            let _ = reconcile::teardown(&aws, &owner, &spec, Mode::Apply).await;
            faults.disarm();
            until_gone(&aws, &owner, &spec, 6).await;
            assert_eq!(
                inventory(&aws, &owner).await,
                Inventory::default(),
                "teardown after {:?}",
                faults.injected().last()
            );
        }
        injected.extend(faults.injected());
    }
    set_delays(fault_prefix, None).await;
    set_delays(&shared_link, None).await;
    println!("faults injected ({}): {injected:#?}", injected.len());
}

/// Without the feature the test above does not exist: say so instead of passing.
#[cfg(not(feature = "test-faults"))]
#[test]
#[ignore = "needs the fault interceptor: cargo test --features test-faults"]
fn lost_responses_and_crashes_never_duplicate() {
    panic!("built without the test-faults feature: nothing was tested");
}

#[tokio::test]
async fn foreign_look_alikes_are_left_alone() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("foreign");
    let spec = spec(&vpc, &subnets);

    // Someone else's REST API claiming the same owner name (but not our uid), and an
    // untagged ALB named like ours would be if the uid matched another object.
    let impostor = aws
        .apigw
        .create_rest_api()
        .name(format!("{}-{}", owner.namespace, owner.name))
        .tags("privateapi.io/owner", owner.key())
        .tags(TAG_UID, "someone-else")
        .send()
        .await
        .expect("foreign api");
    let impostor_id = impostor.id().unwrap_or_default().to_owned();

    until_ready(&aws, &owner, &spec, 5).await;
    assert_eq!(inventory(&aws, &owner).await.rest_apis, 1);
    until_gone(&aws, &owner, &spec, 10).await;
    aws.apigw
        .get_rest_api()
        .rest_api_id(&impostor_id)
        .send()
        .await
        .expect("the foreign API survives");

    // An ALB that has our deterministic name but is not ours: we stall, and touch nothing.
    let squatter = common::owner("squatted");
    let alb = aws
        .elb
        .create_load_balancer()
        .name(privateapi::aws::elb::name(&squatter))
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("foreign alb");
    let err = reconcile::converge(&aws, &squatter, &spec, Mode::Apply)
        .await
        .expect_err("name conflict");
    assert!(err.is_terminal());
    assert_eq!(err.reason(), "NameConflict");
    assert!(err.to_string().contains("not owned"), "{err}");
    let arn = alb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap_or_default()
        .to_owned();
    aws.elb
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .expect("the foreign ALB survives");
    until_gone(&aws, &squatter, &spec, 10).await;
    aws.elb
        .describe_load_balancers()
        .load_balancer_arns(&arn)
        .send()
        .await
        .expect("still there after our teardown");
}

#[tokio::test]
async fn invalid_input_is_a_clear_terminal_error() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("invalid");

    let mut bad_subnet = spec(&vpc, &subnets);
    bad_subnet.network.subnet_ids = Some(vec![subnets[0].clone(), "subnet-0000000000000dead".into()]);
    let err = reconcile::converge(&aws, &owner, &bad_subnet, Mode::Apply)
        .await
        .expect_err("unknown subnet");
    assert!(err.is_terminal(), "{err}");
    assert!(err.to_string().contains("subnet-0000000000000dead"), "{err}");

    let mut bad_size = spec(&vpc, &subnets);
    bad_size.service.cpu = 256;
    bad_size.service.memory = 4096;
    let err = reconcile::converge(&aws, &owner, &bad_size, Mode::Apply)
        .await
        .expect_err("bad fargate size");
    assert_eq!(err.reason(), "InvalidSpec");
    assert!(
        err.to_string()
            .contains("spec.service: memory (MiB) is not a Fargate size"),
        "{err}"
    );

    let mut selector = spec(&vpc, &subnets);
    selector.network.subnet_ids = None;
    selector.network.subnet_selector = Some(tags(&[("tier", "public")]));
    let err = reconcile::converge(&aws, &owner, &selector, Mode::Apply)
        .await
        .expect_err("no subnet matches");
    assert!(err.to_string().contains("found 0 subnet(s)"), "{err}");

    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::default(),
        "nothing created on bad input"
    );
}

#[tokio::test]
async fn subnet_selector_and_existing_cluster_and_roles() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("byo");
    let shared = aws
        .ecs
        .create_cluster()
        .cluster_name(format!("shared-{}", owner.short_hash()))
        .send()
        .await
        .expect("cluster");
    let mut spec = spec(&vpc, &subnets);
    spec.network.subnet_ids = None;
    spec.network.subnet_selector = Some(tags(&[("tier", "private")]));
    spec.service.cluster = Some(privateapi::crd::ClusterRef {
        name: format!("shared-{}", owner.short_hash()),
    });
    spec.service.execution_role_arn = Some("arn:aws:iam::123456789012:role/byo-exec".into());
    spec.service.task_role_arn = Some("arn:aws:iam::123456789012:role/byo-task".into());

    let ready = until_ready(&aws, &owner, &spec, 5).await;
    assert_eq!(ready.resources.subnet_ids, subnets);
    assert_eq!(
        ready.resources.cluster_arn.as_deref(),
        shared.cluster().and_then(|c| c.cluster_arn())
    );
    let inv = inventory(&aws, &owner).await;
    assert_eq!((inv.roles, inv.clusters), (0, 0), "no roles or cluster of our own");
    until_gone(&aws, &owner, &spec, 10).await;
    let cluster = aws
        .ecs
        .describe_clusters()
        .clusters(format!("shared-{}", owner.short_hash()))
        .send()
        .await
        .expect("describe");
    assert_eq!(
        cluster.clusters()[0].status(),
        Some("ACTIVE"),
        "the given cluster is never deleted"
    );
}

#[tokio::test]
async fn stage_throttling_is_set_kept_and_changed_without_redeploy() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("throttle");
    let mut spec = spec(&vpc, &subnets);
    spec.api.throttle = Some(privateapi::crd::Throttle {
        rate_limit: 50.0,
        burst_limit: 100,
    });
    let ready = until_ready(&aws, &owner, &spec, 5).await;
    let api_id = ready.resources.rest_api_id.clone().unwrap_or_default();
    let throttle = |stage: aws_sdk_apigateway::operation::get_stage::GetStageOutput| {
        stage
            .method_settings()
            .and_then(|m| m.get("*/*"))
            .map(|m| (m.throttling_rate_limit(), m.throttling_burst_limit()))
    };
    let stage = aws
        .apigw
        .get_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .send()
        .await
        .expect("GetStage");
    assert_eq!(throttle(stage), Some((50.0, 100)));

    let before = aws.stats.snapshot();
    reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("steady pass");
    assert_eq!(
        aws.stats.snapshot().since(&before).writes(),
        0,
        "unchanged throttling is not rewritten"
    );

    spec.api.throttle = Some(privateapi::crd::Throttle {
        rate_limit: 10.0,
        burst_limit: 20,
    });
    let before = aws.stats.snapshot();
    let changed = until_ready(&aws, &owner, &spec, 3).await;
    let calls = aws.stats.snapshot().since(&before);
    assert_eq!(
        calls.count("CreateDeployment"),
        0,
        "a stage setting is not a new deployment"
    );
    assert_eq!(changed.resources.deployment_id, ready.resources.deployment_id);
    let stage = aws
        .apigw
        .get_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .send()
        .await
        .expect("GetStage");
    assert_eq!(throttle(stage), Some((10.0, 20)));
    until_gone(&aws, &owner, &spec, 10).await;
}

/// The cheap resync: one shared region inventory plus one probe (one or two reads)
/// per resource and check. In sync no probe finds anything; each drift it claims to
/// see, it sees (in the inventory, or with the probe that looks at that part); after a
/// full pass repairs the drift it finds nothing again.
#[tokio::test]
async fn drift_check_sees_drift_with_one_probe_per_resource() {
    use privateapi::aws::inventory::Inventory;
    use privateapi::reconcile::drift::{Probe, probes};
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let spec = spec(&vpc, &subnets);
    let owners: Vec<_> = (0..5).map(|i| owner(&format!("driftcheck{i}"))).collect();
    let mut ids = Vec::new();
    for owner in &owners {
        ids.push(until_ready(&aws, owner, &spec, 5).await.resources);
    }

    // In sync: 6 listing calls for the whole region (one page each here), then every
    // probe of every resource: one read each, two for the execution role's policies.
    let every_probe = probes(&spec);
    assert_eq!(every_probe.len(), 6);
    let before = aws.stats.snapshot();
    let inventory = Inventory::load(&aws).await.expect("inventory");
    for (owner, ids) in owners.iter().zip(&ids) {
        for &probe in &every_probe {
            let found = Box::pin(reconcile::drift::check(&aws, &inventory, owner, &spec, ids, probe))
                .await
                .expect("check");
            assert!(found.is_empty(), "{} {probe:?}: {found:?}", owner.name);
        }
    }
    let calls = aws.stats.snapshot().since(&before);
    assert_eq!(calls.writes(), 0);
    assert_eq!(
        calls.total(),
        privateapi::aws::inventory::LISTS as u64 + 7 * owners.len() as u64,
        "{:?}",
        calls.0
    );

    // Drift behind the operator's back, one kind per resource.
    let (a, b, c, d, e) = (&owners[0], &owners[1], &owners[2], &owners[3], &owners[4]);
    aws.ecs
        .update_service()
        .cluster(a.resource_name("", 255))
        .service(a.resource_name("", 255))
        .desired_count(7)
        .send()
        .await
        .expect("scale a");
    let a_api = ids[0].rest_api_id.clone().unwrap_or_default();
    let a_proxy = rest_api::observe_resources(&aws, &a_api)
        .await
        .expect("a's API")
        .and_then(|api| api.proxy)
        .expect("a's proxy resource");
    let elsewhere = rest_api::Integration {
        uri: "http://elsewhere.internal/{proxy}".into(),
        ..a_proxy.integration.clone().expect("a's integration")
    };
    rest_api::put_integration(&aws, &a_api, &a_proxy.id, "ANY", &elsewhere)
        .await
        .expect("re-point a's integration");
    aws.apigw
        .create_deployment()
        .rest_api_id(&a_api)
        .stage_name("prod")
        .send()
        .await
        .expect("deploy a by hand");
    aws.elb
        .create_listener()
        .load_balancer_arn(ids[0].load_balancer_arn.as_deref().unwrap_or_default())
        .port(8081)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(ids[0].target_group_arn.as_deref().unwrap_or_default())
                .build(),
        )
        .send()
        .await
        .expect("add a listener to a's ALB");
    let a_exec_role = a.resource_name("exec", 64);
    aws.iam
        .detach_role_policy()
        .role_name(&a_exec_role)
        .policy_arn(execution_policy_arn(Partition::of_region(REGION)))
        .send()
        .await
        .expect("detach a's policy");
    let tasks_sg = ids[1].security_group_ids["tasks"].clone();
    let groups = privateapi::aws::security_group::observe(&aws, b, None)
        .await
        .expect("observe b");
    let rule = groups.iter().find(|g| g.id == tasks_sg).expect("tasks group").rules[0].clone();
    privateapi::aws::security_group::revoke(&aws, &tasks_sg, &rule)
        .await
        .expect("revoke b");
    rest_api::delete(&aws, ids[2].rest_api_id.as_deref().unwrap_or_default())
        .await
        .expect("delete c's API");
    aws.elb
        .delete_listener()
        .listener_arn(ids[3].listener_arn.as_deref().unwrap_or_default())
        .send()
        .await
        .expect("delete d's listener");
    aws.elb
        .modify_target_group()
        .target_group_arn(ids[4].target_group_arn.as_deref().unwrap_or_default())
        .health_check_path("/elsewhere")
        .send()
        .await
        .expect("change e's health check");

    let inventory = Inventory::load(&aws).await.expect("inventory");
    // What the inventory sees, every probe sees (and the probe is not read). A
    // finding is a step the full pass's diff would take (or, where the inventory
    // shows only part of a thing, what it saw).
    for (owner, ids, expected) in [
        (b, &ids[1], "~ SecurityGroup papi-tests-driftcheck1-"),
        (c, &ids[2], "+ RestApi"),
        (
            d,
            &ids[3],
            "no listener of the load balancer forwards to the target group",
        ),
        (e, &ids[4], "~ TargetGroup"),
    ] {
        for &probe in &every_probe {
            let found = Box::pin(reconcile::drift::check(&aws, &inventory, owner, &spec, ids, probe))
                .await
                .expect("check");
            assert!(
                found.iter().any(|f| f.what.contains(expected)),
                "{} {probe:?}: {found:?}",
                owner.name
            );
        }
    }
    // What only a probe sees, its probe sees, and the others do not: every finding is
    // about the probe's part.
    let lacks_policy = format!(
        "~ IamRole {a_exec_role} (attach {})",
        execution_policy_arn(Partition::of_region(REGION))
    );
    for (probe, expected) in [
        (Probe::Service, &["(desiredCount 7 → 2)"][..]),
        (Probe::Integrations, &["~ ApiIntegration ANY /{proxy+}"][..]),
        // A stage not serving its recorded deployment: deploy the shape, point the stage.
        (Probe::Stage, &["~ ApiStage prod", "+ ApiDeployment"][..]),
        (Probe::Listener, &["- Listener HTTP:8081 (not in spec)"][..]),
        (Probe::Role(0), &[lacks_policy.as_str()][..]),
    ] {
        let found = Box::pin(reconcile::drift::check(&aws, &inventory, a, &spec, &ids[0], probe))
            .await
            .expect("check");
        let whats: Vec<&str> = found.iter().map(|f| f.what.as_str()).collect();
        assert!(whats.iter().any(|w| w.contains(expected[0])), "{probe:?}: {whats:?}");
        assert!(
            whats.iter().all(|w| expected.iter().any(|e| w.contains(e))),
            "{probe:?}: {whats:?}"
        );
    }
    let task_role = Box::pin(reconcile::drift::check(
        &aws,
        &inventory,
        a,
        &spec,
        &ids[0],
        Probe::Role(1),
    ))
    .await
    .expect("check");
    assert!(task_role.is_empty(), "{task_role:?}");

    // A full pass repairs, and the next check finds nothing.
    for owner in &owners {
        until_ready(&aws, owner, &spec, 5).await;
    }
    let inventory = Inventory::load(&aws).await.expect("inventory");
    for owner in &owners {
        let ids = until_ready(&aws, owner, &spec, 1).await.resources;
        for &probe in &every_probe {
            let found = Box::pin(reconcile::drift::check(&aws, &inventory, owner, &spec, &ids, probe))
                .await
                .expect("check");
            assert!(found.is_empty(), "{} {probe:?} after repair: {found:?}", owner.name);
        }
    }
    for owner in &owners {
        until_gone(&aws, owner, &spec, 10).await;
    }
}

/// The shared inventory is reused while fresh enough for the resources sharing it,
/// and never when it is older than the asking resource's last full pass (which may
/// have made or repaired what it lists).
#[tokio::test]
async fn the_inventory_is_shared_but_never_older_than_the_last_full_pass() {
    use privateapi::aws::inventory::{Freshness, InventoryCache, LISTS};
    use tokio::time::Instant;
    let (_f, aws) = aws().await;
    // A lone resource with this budget may reuse the lists for 50 × 5 / 0.5 = 500 s.
    let cache = InventoryCache::new(Freshness::Shared {
        at_least: Duration::from_secs(1),
        resync: Duration::from_secs(50),
        reads_per_resync: 0.5,
        fresh_below: 0,
    });
    let full_pass = Instant::now();
    let reads = |before: &privateapi::aws::stats::CallSnapshot| aws.stats.snapshot().since(before).total();

    let before = aws.stats.snapshot();
    cache.get(&aws, "uid-a", full_pass).await.expect("first load");
    assert_eq!(reads(&before), LISTS as u64, "the first check loads the lists");

    let before = aws.stats.snapshot();
    cache.get(&aws, "uid-a", full_pass).await.expect("reuse");
    assert_eq!(reads(&before), 0, "a later check reuses them");

    // A full pass after the load: the next check must see what it made.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let repaired = Instant::now();
    let before = aws.stats.snapshot();
    let fresh = cache.get(&aws, "uid-a", repaired).await.expect("reload");
    assert_eq!(reads(&before), LISTS as u64, "reloaded after the full pass");
    assert!(fresh.taken >= repaired);
}

/// Kubernetes' longest names (a 63-character namespace, a 253-character name) and 40
/// user tags at AWS's limits (128-character keys, 256-character values) build a stack
/// AWS accepts and tear it down, every request checked against AWS's models by a
/// checking proxy of the test's own.
#[tokio::test]
async fn the_longest_kubernetes_names_build_a_stack_aws_accepts() {
    let proxy = Proxy::start(&endpoint(), None);
    proxy.config(serde_json::json!({"validate": true})).await;
    let factory = factory_at(&proxy.url, Duration::from_secs(20)).await;
    let aws = factory.for_region(None).expect("region");
    let (vpc, subnets) = network(&aws).await;
    let nonce: u64 = rand::random();
    let namespace = format!("longest-{nonce:016x}-{}", "n".repeat(63 - 25));
    let name = format!("{}.{}", "a".repeat(126), "b".repeat(126));
    assert_eq!((namespace.len(), name.len()), (63, 253));
    let owner = privateapi::aws::Owner::new(namespace, name, format!("longest-{nonce:016x}"));
    let mut spec = spec(&vpc, &subnets);
    spec.tags = (0..40)
        .map(|i| (format!("{i:02}{}", "k".repeat(126)), "v".repeat(256)))
        .collect();

    until_ready(&aws, &owner, &spec, 5).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());

    let stats = proxy.stats().await.0;
    assert_eq!(stats["violation_count"], 0, "{:#}", stats["violations"]);
    assert!(stats["validated"].as_u64().unwrap_or(0) > 50, "{stats}");
}

/// The names of the execution role's secrets policies (ours carry a prefix).
async fn secrets_policies(aws: &privateapi::aws::Aws, owner: &privateapi::aws::Owner) -> Vec<String> {
    let role = privateapi::reconcile::desired::role_name(owner, privateapi::aws::iam::RoleKind::Execution);
    let listed = aws
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .expect("ListRolePolicies");
    listed
        .policy_names()
        .iter()
        .filter(|name| name.starts_with(privateapi::aws::iam::SECRETS_POLICY_PREFIX))
        .cloned()
        .collect()
}

#[tokio::test]
async fn secrets_reach_the_task_definition_and_only_the_execution_role() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("secrets");
    let mut spec = spec(&vpc, &subnets);
    let first = until_ready(&aws, &owner, &spec, 5).await;
    assert!(secrets_policies(&aws, &owner).await.is_empty());

    let parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/privateapi/shop/db";
    spec.service.secrets = vec![privateapi::crd::SecretVar {
        name: "DB_PASSWORD".into(),
        value_from: parameter.into(),
    }];
    let with = until_ready(&aws, &owner, &spec, 5).await;
    assert_ne!(
        with.resources.task_definition_arn, first.resources.task_definition_arn,
        "a secret is a new revision"
    );
    let arn = with.resources.task_definition_arn.clone().expect("task definition");
    let described = aws
        .ecs
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .expect("DescribeTaskDefinition");
    let secrets: Vec<(String, String)> = described
        .task_definition()
        .map(|td| td.container_definitions())
        .unwrap_or_default()
        .iter()
        .flat_map(|c| c.secrets())
        .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
        .collect();
    assert_eq!(secrets, [("DB_PASSWORD".to_owned(), parameter.to_owned())]);
    let policies = secrets_policies(&aws, &owner).await;
    assert_eq!(policies.len(), 1, "{policies:?}");
    let role = privateapi::reconcile::desired::role_name(&owner, privateapi::aws::iam::RoleKind::Execution);
    let document = aws
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(&policies[0])
        .send()
        .await
        .expect("GetRolePolicy")
        .policy_document()
        .replace("%3A", ":")
        .replace("%2F", "/");
    assert!(
        document.contains(parameter) && document.contains("ssm:GetParameters"),
        "{document}"
    );
    let plan = reconcile::converge(&aws, &owner, &spec, Mode::Plan)
        .await
        .expect("plan");
    assert!(plan.changes.is_empty(), "in sync: {:?}", plan.changes);

    // Without secrets: another revision, and the read permission is gone.
    spec.service.secrets.clear();
    until_ready(&aws, &owner, &spec, 5).await;
    assert!(secrets_policies(&aws, &owner).await.is_empty());
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

/// The log group and its retention as CloudWatch Logs holds them (None: no group).
async fn log_group(aws: &privateapi::aws::Aws, owner: &privateapi::aws::Owner) -> Option<(Option<i32>, String)> {
    let name = privateapi::reconcile::desired::log_group(owner);
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&name)
        .send()
        .await
        .expect("DescribeLogGroups");
    let group = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))?;
    // ListTagsForResource takes the ARN without the trailing ":*" (logGroupArn).
    let arn = group
        .log_group_arn()
        .or(group.arn())
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_owned();
    Some((group.retention_in_days(), arn))
}

/// The tasks' log group: made with the spec's retention before the service, its
/// retention kept, deleted with the stack; with `logs.deletionPolicy: Retain` kept.
#[tokio::test]
async fn the_log_group_has_a_retention_and_goes_with_the_stack_unless_retained() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("logs");
    let mut spec = spec(&vpc, &subnets);
    assert_eq!(spec.service.logs.retention_days, 30, "the default");
    spec.service.logs.retention_days = 7;
    until_ready(&aws, &owner, &spec, 5).await;
    let (retention, arn) = log_group(&aws, &owner).await.expect("the log group is made");
    assert_eq!(retention, Some(7));
    let tags = aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("ListTagsForResource");
    let tags = tags.tags().cloned().unwrap_or_default();
    assert_eq!(
        tags.get(TAG_UID).map(String::as_str),
        Some(owner.uid.as_str()),
        "{tags:?}"
    );
    assert_eq!(tags.get("team").map(String::as_str), Some("tests"), "{tags:?}");

    // Changed by hand (or made by the awslogs driver of an older stack: no retention):
    // put back, without touching the service.
    aws.logs
        .delete_retention_policy()
        .log_group_name(privateapi::reconcile::desired::log_group(&owner))
        .send()
        .await
        .expect("DeleteRetentionPolicy");
    let repaired = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("pass");
    let changed: Vec<String> = repaired.changes.iter().map(ToString::to_string).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        changed[0].starts_with("~ LogGroup") && changed[0].contains("never expires → 7 days"),
        "{changed:?}"
    );
    assert_eq!(log_group(&aws, &owner).await.map(|g| g.0), Some(Some(7)));
    spec.service.logs.retention_days = 14;
    until_ready(&aws, &owner, &spec, 3).await;
    assert_eq!(log_group(&aws, &owner).await.map(|g| g.0), Some(Some(14)));

    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(log_group(&aws, &owner).await, None, "deleted with the stack");

    // Retain: the group and its events outlive the stack.
    let kept = common::owner("logs-kept");
    spec.service.logs.deletion_policy = privateapi::crd::DeletionPolicy::Retain;
    until_ready(&aws, &kept, &spec, 5).await;
    let destroy = reconcile::teardown(&aws, &kept, &spec, Mode::Plan)
        .await
        .expect("plan --destroy");
    assert!(
        destroy.changes.iter().all(|c| c.part != reconcile::Part::LogGroup),
        "{:?}",
        destroy.changes
    );
    until_gone(&aws, &kept, &spec, 10).await;
    assert_eq!(log_group(&aws, &kept).await.map(|g| g.0), Some(Some(14)), "retained");
    aws.logs
        .delete_log_group()
        .log_group_name(privateapi::reconcile::desired::log_group(&kept))
        .send()
        .await
        .expect("clean up the retained group");
}

/// China and GovCloud: a stack in `cn-north-1` (REST API) and one in `us-gov-west-1`
/// (HTTP API) get ARNs and endpoints of their partition, not `arn:aws:` and
/// `amazonaws.com` (the emulator, like AWS, refuses the `aws` partition's managed
/// policy in another partition).
#[tokio::test]
async fn china_and_govcloud_stacks_use_their_partition() {
    let factory = factory().await;
    for (region, api_type, partition, suffix) in [
        (
            "cn-north-1",
            privateapi::crd::ApiType::Rest,
            "aws-cn",
            "amazonaws.com.cn",
        ),
        (
            "us-gov-west-1",
            privateapi::crd::ApiType::Http,
            "aws-us-gov",
            "amazonaws.com",
        ),
    ] {
        let aws = factory.for_region(Some(region)).expect("region");
        let (vpc, subnets) = network(&aws).await;
        let owner = owner("partition");
        let mut spec = spec(&vpc, &subnets);
        spec.region = Some(region.into());
        spec.api.api_type = api_type;

        let outcome = until_ready(&aws, &owner, &spec, 5).await;
        let ids = &outcome.resources;
        let endpoint = match api_type {
            privateapi::crd::ApiType::Rest => {
                let api = ids.rest_api_id.as_deref().expect("rest api id");
                format!("https://{api}.execute-api.{region}.{suffix}/prod")
            }
            _ => {
                let api = ids.http_api_id.as_deref().expect("http api id");
                format!("https://{api}.execute-api.{region}.{suffix}/")
            }
        };
        assert_eq!(outcome.endpoint.as_deref(), Some(endpoint.as_str()), "{region}");
        let prefix = format!("arn:{partition}:");
        for (name, arn) in [
            ("loadBalancerArn", &ids.load_balancer_arn),
            ("targetGroupArn", &ids.target_group_arn),
            ("listenerArn", &ids.listener_arn),
            ("serviceArn", &ids.service_arn),
            ("taskDefinitionArn", &ids.task_definition_arn),
            ("executionRoleArn", &ids.execution_role_arn),
            ("taskRoleArn", &ids.task_role_arn),
        ] {
            assert!(
                arn.as_deref().is_some_and(|a| a.starts_with(&prefix)),
                "{region}: {name} {arn:?}"
            );
        }

        // The execution role carries the ECS managed policy of its partition.
        let role = ids
            .execution_role_arn
            .as_deref()
            .and_then(|arn| arn.rsplit('/').next())
            .expect("execution role");
        let attached = aws
            .iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .expect("ListAttachedRolePolicies");
        let arns: Vec<&str> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect();
        assert_eq!(arns, [execution_policy_arn(Partition::of_region(region))], "{region}");
        assert!(arns[0].starts_with(&prefix));

        // A second pass finds it all in place: nothing to change.
        let again = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("second pass");
        assert!(
            again.is_ready() && again.changes.is_empty(),
            "{region}: {:?}",
            again.changes
        );

        until_gone(&aws, &owner, &spec, 10).await;
        assert_eq!(inventory(&aws, &owner).await, Inventory::default(), "{region}");
    }
}

/// AWS refuses teardown steps while something still uses a part, and the teardown
/// waits rather than fails or forgets: a security group its just-deleted ALB's ENIs
/// still hold (DependencyViolation, for a second in the emulator, minutes on AWS), and
/// our target group that someone else's listener forwards to (ResourceInUse, until
/// that listener goes). Nothing of ours is left at the end.
#[tokio::test]
async fn teardown_meets_aws_refusals_and_still_leaves_nothing() {
    use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};

    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("refusals");
    let spec = spec(&vpc, &subnets);
    let ready = until_ready(&aws, &owner, &spec, 5).await;
    let target_group = ready.resources.target_group_arn.clone().expect("target group");

    // Someone else's ALB forwards to our target group.
    let foreign = aws
        .elb
        .create_load_balancer()
        .name(format!("foreign-{}", &owner.uid[owner.uid.len() - 8..]))
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("a foreign ALB");
    let foreign_arn = foreign.load_balancers()[0].load_balancer_arn().expect("arn").to_owned();
    let listener = aws
        .elb
        .create_listener()
        .load_balancer_arn(&foreign_arn)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&target_group)
                .build(),
        )
        .send()
        .await
        .expect("a foreign listener to our target group");
    let listener_arn = listener.listeners()[0].listener_arn().expect("arn").to_owned();

    // Teardown passes, back to back: each refusal is met, noted, and waited on.
    let (mut held, mut in_use) = (false, false);
    for _ in 0..20 {
        let pass = reconcile::teardown(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("a refusal is a wait, not an error");
        assert!(!pass.is_done(), "done while the target group is in use");
        let waiting = pass.waiting_for.join("; ");
        held |= waiting.contains("has a dependent object");
        in_use |= waiting.contains("currently in use");
        if held && in_use {
            break;
        }
    }
    assert!(held, "no DeleteSecurityGroup met DependencyViolation");
    assert!(in_use, "no DeleteTargetGroup met ResourceInUse");
    // Once the ENIs are released the groups go too; the target group waits (and the
    // roles and cluster, held behind anything not yet gone).
    let deadline = std::time::Instant::now() + AWS_WAIT_LIMIT;
    loop {
        let pass = reconcile::teardown(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("teardown pass");
        assert!(!pass.is_done(), "done while the target group is in use");
        let left = inventory(&aws, &owner).await;
        assert_eq!(left.target_groups, 1, "{left:?}");
        if left.security_groups == 0 && left.load_balancers == 0 && left.services == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left {left:?}, waiting for {:?}",
            pass.waiting_for
        );
        tokio::time::sleep(AWS_WAIT_POLL).await;
    }

    // The other listener goes: so does our target group.
    aws.elb
        .delete_listener()
        .listener_arn(&listener_arn)
        .send()
        .await
        .expect("delete the foreign listener");
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
    aws.elb
        .delete_load_balancer()
        .load_balancer_arn(&foreign_arn)
        .send()
        .await
        .expect("delete the foreign ALB");
}

/// Our ALB replaced behind our back by someone else's of the same name: teardown
/// leaves theirs alone and still deletes our target group (each part is judged by
/// its own tags, not the pair by the ALB's).
#[tokio::test]
async fn a_foreign_alb_of_our_name_does_not_hide_our_target_group_from_teardown() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("alb-swapped");
    let spec = spec(&vpc, &subnets);
    let ready = until_ready(&aws, &owner, &spec, 5).await;
    let ours = ready.resources.load_balancer_arn.clone().expect("our ALB");
    aws.elb
        .delete_load_balancer()
        .load_balancer_arn(&ours)
        .send()
        .await
        .expect("delete our ALB");
    let theirs = aws
        .elb
        .create_load_balancer()
        .name(privateapi::aws::elb::name(&owner))
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("their ALB");
    let theirs = theirs.load_balancers()[0]
        .load_balancer_arn()
        .unwrap_or_default()
        .to_owned();
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::default(),
        "our target group went too"
    );
    aws.elb
        .describe_load_balancers()
        .load_balancer_arns(&theirs)
        .send()
        .await
        .expect("their ALB is left alone");
    aws.elb
        .delete_load_balancer()
        .load_balancer_arn(&theirs)
        .send()
        .await
        .expect("clean up their ALB");
}
