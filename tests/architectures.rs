//! The engine against the AWS emulator for each architecture besides REST + VPC Link
//! V2 + ALB (tests/engine.rs): create → Ready, a second pass that writes nothing,
//! drift repaired, teardown that leaves nothing.

mod common;

use common::*;
use privateapi::aws::http_api;
use privateapi::crd::{ApiType, LoadBalancerKind, PrivateApiSpec, VpcLinkVersion};
use privateapi::reconcile::{self, Mode};

fn http(vpc: &str, subnets: &[String]) -> PrivateApiSpec {
    let mut spec = spec(vpc, subnets);
    spec.api.api_type = ApiType::Http;
    spec
}

/// Converges `spec` until Ready and prints the AWS calls it took (the figures of
/// BENCHMARKS.md's architectures table).
async fn create_counted(
    aws: &privateapi::aws::Aws,
    owner: &privateapi::aws::Owner,
    spec: &PrivateApiSpec,
    label: &str,
) -> privateapi::reconcile::Outcome {
    let before = aws.stats.snapshot();
    let outcome = until_ready(aws, owner, spec, 5).await;
    let calls = aws.stats.snapshot().since(&before);
    println!(
        "{label}: create {} calls ({} writes, {} reads)",
        calls.reads() + calls.writes(),
        calls.writes(),
        calls.reads()
    );
    outcome
}

/// Tears `spec` down until nothing remains and prints the AWS calls it took.
async fn delete_counted(
    aws: &privateapi::aws::Aws,
    owner: &privateapi::aws::Owner,
    spec: &PrivateApiSpec,
    label: &str,
) {
    let before = aws.stats.snapshot();
    until_gone(aws, owner, spec, 10).await;
    let calls = aws.stats.snapshot().since(&before);
    println!(
        "{label}: delete {} calls ({} writes, {} reads)",
        calls.reads() + calls.writes(),
        calls.writes(),
        calls.reads()
    );
}

/// A second pass that finds everything in place: reads only, Ready, nothing to plan.
async fn steady(aws: &privateapi::aws::Aws, owner: &privateapi::aws::Owner, spec: &PrivateApiSpec) {
    let before = aws.stats.snapshot();
    let again = reconcile::converge(aws, owner, spec, Mode::Apply)
        .await
        .expect("second pass");
    let calls = aws.stats.snapshot().since(&before);
    assert!(again.is_ready() && again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(calls.writes(), 0, "writes: {:?}", calls.write_operations());
}

#[tokio::test]
async fn http_api_through_a_v2_link_to_the_alb_listener() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("http-alb");
    let spec = http(&vpc, &subnets);

    let outcome = create_counted(&aws, &owner, &spec, "HTTP API → V2 → ALB").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_http_stack());
    let ids = &outcome.resources;
    let api_id = ids.http_api_id.clone().expect("http api id");
    assert!(ids.rest_api_id.is_none());
    assert_eq!(
        outcome.endpoint.as_deref(),
        Some(format!("https://{api_id}.execute-api.{REGION}.amazonaws.com/").as_str())
    );

    // One HTTP_PROXY integration through the link to the listener (not the ALB), both
    // routes to it, and an auto-deployed $default stage.
    let integrations = aws
        .apigwv2
        .get_integrations()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetIntegrations");
    let [integration] = integrations.items() else {
        panic!("one integration: {:?}", integrations.items());
    };
    assert_eq!(integration.integration_type().map(|t| t.as_str()), Some("HTTP_PROXY"));
    assert_eq!(integration.connection_type().map(|t| t.as_str()), Some("VPC_LINK"));
    assert_eq!(integration.connection_id(), ids.vpc_link_id.as_deref());
    assert_eq!(integration.integration_uri(), ids.listener_arn.as_deref());
    assert_eq!(integration.payload_format_version(), Some("1.0"));
    let routes = aws
        .apigwv2
        .get_routes()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetRoutes");
    let target = http_api::route_target(integration.integration_id().unwrap_or_default());
    let mut keys: Vec<&str> = routes.items().iter().filter_map(|r| r.route_key()).collect();
    keys.sort();
    assert_eq!(keys, ["$default", "ANY /{proxy+}"]);
    assert!(routes.items().iter().all(|r| r.target() == Some(target.as_str())));
    let stages = aws
        .apigwv2
        .get_stages()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetStages");
    let stage = &stages.items()[0];
    assert_eq!(
        (stage.stage_name(), stage.auto_deploy()),
        (Some(http_api::STAGE), Some(true))
    );

    steady(&aws, &owner, &spec).await;

    // Behind the operator's back: the integration points elsewhere, a route is gone.
    let evil = http_api::Integration {
        connection_id: ids.vpc_link_id.clone().unwrap_or_default(),
        uri: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/evil/1/2".to_owned(),
        server_name: None,
        route: None,
    };
    http_api::update_integration(&aws, &api_id, integration.integration_id().unwrap_or_default(), &evil)
        .await
        .expect("hijack the integration");
    let default_route = routes
        .items()
        .iter()
        .find(|r| r.route_key() == Some("$default"))
        .and_then(|r| r.route_id())
        .unwrap_or_default();
    http_api::delete_route(&aws, &api_id, default_route)
        .await
        .expect("delete a route");
    let repair = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("repair pass");
    let repaired: Vec<String> = repair.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(repaired.len(), 2, "{repaired:?}");
    assert!(repaired[0].starts_with("~ ApiIntegration"), "{repaired:?}");
    assert!(repaired[1].starts_with("+ ApiRoute $default"), "{repaired:?}");
    steady(&aws, &owner, &spec).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_http_stack());

    delete_counted(&aws, &owner, &spec, "HTTP API → V2 → ALB").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

fn network_lb(mut spec: PrivateApiSpec) -> PrivateApiSpec {
    spec.load_balancer.kind = LoadBalancerKind::Network;
    spec
}

/// The load balancer, its listener and target group as AWS describes them.
async fn load_balancer_kinds(
    aws: &privateapi::aws::Aws,
    ids: &privateapi::crd::ResourceIds,
) -> (String, String, String) {
    let lb = aws
        .elb
        .describe_load_balancers()
        .load_balancer_arns(ids.load_balancer_arn.clone().unwrap_or_default())
        .send()
        .await
        .expect("DescribeLoadBalancers");
    let listeners = aws
        .elb
        .describe_listeners()
        .load_balancer_arn(ids.load_balancer_arn.clone().unwrap_or_default())
        .send()
        .await
        .expect("DescribeListeners");
    let tgs = aws
        .elb
        .describe_target_groups()
        .target_group_arns(ids.target_group_arn.clone().unwrap_or_default())
        .send()
        .await
        .expect("DescribeTargetGroups");
    let tg = &tgs.target_groups()[0];
    (
        lb.load_balancers()[0]
            .r#type()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        listeners.listeners()[0]
            .protocol()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        format!(
            "{}/{}",
            tg.protocol().map(|p| p.as_str()).unwrap_or_default(),
            tg.health_check_protocol().map(|p| p.as_str()).unwrap_or_default()
        ),
    )
}

#[tokio::test]
async fn rest_and_http_apis_through_a_v2_link_to_an_nlb() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    for (name, spec) in [
        ("REST API → V2 → NLB", network_lb(spec(&vpc, &subnets))),
        ("HTTP API → V2 → NLB", network_lb(http(&vpc, &subnets))),
    ] {
        let owner = owner(if name.starts_with("REST") {
            "rest-nlb"
        } else {
            "http-nlb"
        });
        let outcome = create_counted(&aws, &owner, &spec, name).await;
        let ids = &outcome.resources;
        assert_eq!(
            load_balancer_kinds(&aws, ids).await,
            ("network".into(), "TCP".into(), "TCP/TCP".into()),
            "{name}"
        );
        let lb = ids.load_balancer_arn.clone().unwrap_or_default();
        assert!(lb.contains(":loadbalancer/net/"), "{name}: {lb}");
        if let Some(api_id) = &ids.rest_api_id {
            // REST: the integration's target is the NLB, through the V2 link.
            let resources = aws
                .apigw
                .get_resources()
                .rest_api_id(api_id)
                .send()
                .await
                .expect("GetResources");
            let proxy = resources
                .items()
                .iter()
                .find(|r| r.path() == Some("/{proxy+}"))
                .and_then(|r| r.id())
                .unwrap_or_default();
            let integration = aws
                .apigw
                .get_integration()
                .rest_api_id(api_id)
                .resource_id(proxy)
                .http_method("ANY")
                .send()
                .await
                .expect("GetIntegration");
            assert_eq!(integration.integration_target(), Some(lb.as_str()));
            assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack(), "{name}");
        } else {
            let api_id = ids.http_api_id.clone().expect("an HTTP API");
            let integrations = aws
                .apigwv2
                .get_integrations()
                .api_id(&api_id)
                .send()
                .await
                .expect("GetIntegrations");
            assert_eq!(integrations.items()[0].integration_uri(), ids.listener_arn.as_deref());
            assert_eq!(inventory(&aws, &owner).await, Inventory::one_http_stack(), "{name}");
        }
        steady(&aws, &owner, &spec).await;

        // A health check edited by hand comes back as a TCP check.
        aws.elb
            .modify_target_group()
            .target_group_arn(ids.target_group_arn.clone().unwrap_or_default())
            .healthy_threshold_count(9)
            .send()
            .await
            .expect("edit the health check");
        let repair = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("repair");
        let repaired: Vec<String> = repair.changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(repaired.len(), 1, "{name}: {repaired:?}");
        assert!(repaired[0].starts_with("~ TargetGroup"), "{name}: {repaired:?}");
        steady(&aws, &owner, &spec).await;

        delete_counted(&aws, &owner, &spec, name).await;
        assert_eq!(inventory(&aws, &owner).await, Inventory::default(), "{name}");
    }
}

/// The stack's one V1 link targets `nlb`, which lets PrivateLink traffic in unjudged,
/// and every integration goes through the link to `dns` with no integrationTarget.
async fn assert_v1_link_reaches(
    aws: &privateapi::aws::Aws,
    owner: &privateapi::aws::Owner,
    ids: &privateapi::crd::ResourceIds,
    nlb: &str,
    dns: &str,
) -> privateapi::aws::vpc_link_v1::ObservedVpcLinkV1 {
    let links = privateapi::aws::vpc_link_v1::observe(aws, owner)
        .await
        .expect("GetVpcLinks");
    let [link] = links.as_slice() else {
        panic!("one V1 link: {links:?}");
    };
    assert_eq!(link.targets, [nlb.to_owned()]);
    let described = aws
        .elb
        .describe_load_balancers()
        .load_balancer_arns(nlb)
        .send()
        .await
        .expect("DescribeLoadBalancers");
    assert_eq!(
        described.load_balancers()[0].enforce_security_group_inbound_rules_on_private_link_traffic(),
        Some("off")
    );
    let api_id = ids.rest_api_id.clone().expect("a REST API");
    let resources = aws
        .apigw
        .get_resources()
        .rest_api_id(&api_id)
        .embed("methods")
        .send()
        .await
        .expect("GetResources");
    for resource in resources.items() {
        let integration = resource
            .resource_methods()
            .and_then(|m| m.get("ANY"))
            .and_then(|m| m.method_integration())
            .expect("an integration");
        assert_eq!(integration.connection_id(), Some(link.id.as_str()));
        assert_eq!(integration.integration_target(), None);
        let uri = integration.uri().unwrap_or_default();
        assert!(uri.starts_with(&format!("http://{dns}/")), "{uri}");
    }
    link.clone()
}

#[tokio::test]
async fn rest_api_through_a_v1_link_to_an_nlb() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("rest-v1");
    let mut spec = network_lb(spec(&vpc, &subnets));
    spec.vpc_link.version = VpcLinkVersion::V1;

    let outcome = create_counted(&aws, &owner, &spec, "REST API → V1 → NLB").await;
    let ids = &outcome.resources;
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::one_v1_stack(),
        "no V2 link, no link security group"
    );
    let lb = ids.load_balancer_arn.clone().unwrap_or_default();
    // The V1 link targets our NLB, which lets PrivateLink traffic in, and the
    // integrations name the link and the NLB's DNS name, with no integrationTarget.
    let dns = ids.load_balancer_dns.clone().unwrap_or_default();
    let link = assert_v1_link_reaches(&aws, &owner, ids, &lb, &dns).await;
    assert_eq!(ids.vpc_link_id.as_deref(), Some(link.id.as_str()));
    steady(&aws, &owner, &spec).await;

    // The link deleted behind the operator's back: a new one, the API rewired to it.
    privateapi::aws::vpc_link_v1::delete(&aws, &link.id)
        .await
        .expect("delete the link");
    let repair = until_ready(&aws, &owner, &spec, 5).await;
    assert_ne!(repair.resources.vpc_link_id, ids.vpc_link_id);
    steady(&aws, &owner, &spec).await;

    delete_counted(&aws, &owner, &spec, "REST API → V1 → NLB").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
    assert!(
        privateapi::aws::vpc_link_v1::observe(&aws, &owner)
            .await
            .expect("GetVpcLinks")
            .is_empty()
    );
}

#[tokio::test]
async fn rest_api_through_a_v1_link_to_an_nlb_in_front_of_the_alb() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("rest-v1-alb");
    let mut spec = spec(&vpc, &subnets);
    spec.vpc_link.version = VpcLinkVersion::V1;

    let outcome = create_counted(&aws, &owner, &spec, "REST API → V1 → NLB → ALB").await;
    let ids = outcome.resources.clone();
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_front_stack());
    let alb = ids.load_balancer_arn.clone().expect("the ALB");
    let nlb = ids.front_load_balancer_arn.clone().expect("the NLB in front");
    assert!(
        alb.contains(":loadbalancer/app/") && nlb.contains(":loadbalancer/net/"),
        "{alb} {nlb}"
    );
    // The link targets the NLB, which forwards TCP to the ALB registered in its group.
    let front_dns = ids.front_load_balancer_dns.clone().expect("the NLB's name");
    assert_v1_link_reaches(&aws, &owner, &ids, &nlb, &front_dns).await;
    let front_tg = ids.front_target_group_arn.clone().expect("the NLB's target group");
    let groups = aws
        .elb
        .describe_target_groups()
        .target_group_arns(&front_tg)
        .send()
        .await
        .expect("DescribeTargetGroups");
    let group = &groups.target_groups()[0];
    assert_eq!(group.target_type().map(|t| t.as_str()), Some("alb"));
    assert_eq!(group.protocol().map(|p| p.as_str()), Some("TCP"));
    assert_eq!(group.port(), Some(spec.load_balancer.listener_port));
    assert_eq!(group.health_check_protocol().map(|p| p.as_str()), Some("HTTP"));
    assert_eq!(
        privateapi::aws::elb::registered_targets(&aws, &front_tg)
            .await
            .expect("targets"),
        std::slice::from_ref(&alb)
    );
    // The ALB admits only the NLB's security group.
    let sg = &ids.security_group_ids;
    let alb_group = aws
        .ec2
        .describe_security_groups()
        .group_ids(&sg["alb"])
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let sources: Vec<&str> = alb_group.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.user_id_group_pairs())
        .filter_map(|pair| pair.group_id())
        .collect();
    assert_eq!(sources, [sg["nlb"].as_str()]);
    steady(&aws, &owner, &spec).await;

    // The ALB deregistered behind the operator's back: registered again, nothing else.
    aws.elb
        .deregister_targets()
        .target_group_arn(&front_tg)
        .targets(
            aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                .id(&alb)
                .port(spec.load_balancer.listener_port)
                .build(),
        )
        .send()
        .await
        .expect("DeregisterTargets");
    let before = aws.stats.snapshot();
    let repair = until_ready(&aws, &owner, &spec, 5).await;
    assert_eq!(
        aws.stats.snapshot().since(&before).write_operations(),
        ["Elastic Load Balancing v2.RegisterTargets×1"],
        "{:?}",
        repair.changes
    );
    steady(&aws, &owner, &spec).await;

    delete_counted(&aws, &owner, &spec, "REST API → V1 → NLB → ALB").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

const CERTIFICATE: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012";

#[tokio::test]
async fn a_custom_domain_serves_rest_and_http_apis() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let suffix: u32 = rand::random();
    for (name, mut spec) in [
        ("rest-domain", spec(&vpc, &subnets)),
        ("http-domain", http(&vpc, &subnets)),
    ] {
        let owner = owner(name);
        let host = format!("{name}-{suffix}.example.com");
        spec.api.domain = Some(privateapi::crd::DomainSpec {
            name: host.clone(),
            certificate_arn: CERTIFICATE.into(),
            base_path: "v1".into(),
            hosted_zone_id: None,
        });
        let label = format!(
            "{} + custom domain",
            if name.starts_with("rest") {
                "REST API → V2 → ALB"
            } else {
                "HTTP API → V2 → ALB"
            }
        );
        let outcome = create_counted(&aws, &owner, &spec, &label).await;
        assert_eq!(outcome.domain_endpoint, Some(format!("https://{host}/v1")), "{name}");
        assert!(
            outcome
                .resources
                .domain_target
                .as_deref()
                .is_some_and(|t| !t.is_empty()),
            "{name}: {:?}",
            outcome.resources
        );
        steady(&aws, &owner, &spec).await;

        // Another base path: the mapping moves, the old one goes.
        if let Some(d) = &mut spec.api.domain {
            d.base_path = "v2".into();
        }
        let moved = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect("move the mapping");
        let changes: Vec<String> = moved.changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(changes.len(), 2, "{name}: {changes:?}");
        assert!(changes[0].starts_with("+ ApiMapping"), "{name}: {changes:?}");
        assert!(changes[1].starts_with("- ApiMapping"), "{name}: {changes:?}");
        steady(&aws, &owner, &spec).await;

        // The domain dropped from the spec: it goes, the API stays.
        let mut without = spec.clone();
        without.api.domain = None;
        let dropped = reconcile::converge(&aws, &owner, &without, Mode::Apply)
            .await
            .expect("drop the domain");
        let changes: Vec<String> = dropped.changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(changes, [format!("- DomainName {host}")], "{name}");
        until_ready(&aws, &owner, &spec, 5).await;

        delete_counted(&aws, &owner, &spec, &label).await;
        assert_eq!(inventory(&aws, &owner).await, Inventory::default(), "{name}");
    }
}

#[tokio::test]
async fn a_domain_name_someone_else_holds_stalls_without_touching_it() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("taken-domain");
    let host = format!("taken-{}.example.com", rand::random::<u32>());
    aws.apigw
        .create_domain_name()
        .domain_name(&host)
        .regional_certificate_arn(CERTIFICATE)
        .endpoint_configuration(
            aws_sdk_apigateway::types::EndpointConfiguration::builder()
                .types(aws_sdk_apigateway::types::EndpointType::Regional)
                .build(),
        )
        .send()
        .await
        .expect("someone else's domain");
    let mut spec = spec(&vpc, &subnets);
    spec.api.domain = Some(privateapi::crd::DomainSpec {
        name: host.clone(),
        certificate_arn: CERTIFICATE.into(),
        base_path: String::new(),
        hosted_zone_id: None,
    });
    let mut stuck = None;
    for _ in 0..5 {
        if let Err(e) = reconcile::converge(&aws, &owner, &spec, Mode::Apply).await {
            stuck = Some(e);
            break;
        }
    }
    let e = stuck.expect("a stuck pass");
    assert!(e.is_terminal(), "{e}");
    assert!(e.to_string().contains(&host), "{e}");
    until_gone(&aws, &owner, &spec, 10).await;
    aws.apigw
        .get_domain_name()
        .domain_name(&host)
        .send()
        .await
        .expect("the other domain is still there");
}

#[tokio::test]
async fn an_https_listener_is_reached_over_tls_at_the_certificates_name() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let certificate = aws
        .acm
        .request_certificate()
        .domain_name("*.internal.example.com")
        .send()
        .await
        .expect("RequestCertificate")
        .certificate_arn()
        .unwrap_or_default()
        .to_owned();
    for (name, mut spec) in [
        ("rest-https", spec(&vpc, &subnets)),
        ("http-https", http(&vpc, &subnets)),
    ] {
        let owner = owner(name);
        spec.load_balancer.certificate_arn = Some(certificate.clone());
        spec.load_balancer.listener_port = 443;
        let outcome = until_ready(&aws, &owner, &spec, 5).await;
        let ids = &outcome.resources;
        assert_eq!(ids.integration_host.as_deref(), Some("api.internal.example.com"));
        let listeners = aws
            .elb
            .describe_listeners()
            .load_balancer_arn(ids.load_balancer_arn.clone().unwrap_or_default())
            .send()
            .await
            .expect("DescribeListeners");
        let listener = &listeners.listeners()[0];
        assert_eq!(listener.protocol().map(|p| p.as_str()), Some("HTTPS"));
        assert_eq!(listener.ssl_policy(), Some(privateapi::aws::elb::TLS_POLICY));
        assert_eq!(
            listener.certificates()[0].certificate_arn(),
            Some(certificate.as_str()),
            "{name}"
        );
        if let Some(api_id) = &ids.rest_api_id {
            let resources = aws
                .apigw
                .get_resources()
                .rest_api_id(api_id)
                .embed("methods")
                .send()
                .await
                .expect("GetResources");
            for resource in resources.items() {
                let uri = resource
                    .resource_methods()
                    .and_then(|m| m.get("ANY"))
                    .and_then(|m| m.method_integration())
                    .and_then(|i| i.uri())
                    .unwrap_or_default();
                assert!(uri.starts_with("https://api.internal.example.com/"), "{uri}");
            }
        } else {
            let api_id = ids.http_api_id.clone().expect("an HTTP API");
            let integrations = aws
                .apigwv2
                .get_integrations()
                .api_id(&api_id)
                .send()
                .await
                .expect("GetIntegrations");
            let tls = integrations.items()[0]
                .tls_config()
                .and_then(|t| t.server_name_to_verify());
            assert_eq!(tls, Some("api.internal.example.com"));
        }
        steady(&aws, &owner, &spec).await;
        until_gone(&aws, &owner, &spec, 10).await;
        assert_eq!(inventory(&aws, &owner).await, Inventory::default(), "{name}");
    }

    // A certificate ACM does not know: refused before anything is made.
    let owner = owner("no-such-certificate");
    let mut spec = spec(&vpc, &subnets);
    spec.load_balancer.certificate_arn =
        Some("arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000".into());
    let before = aws.stats.snapshot();
    let e = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect_err("an unknown certificate");
    assert!(e.to_string().contains("DescribeCertificate"), "{e}");
    assert!(e.is_terminal(), "stalled with ACM's answer, not retried: {e}");
    assert_eq!(aws.stats.snapshot().since(&before).writes(), 0, "nothing made");
}

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:orders";

fn with_queue_routes(mut spec: PrivateApiSpec) -> PrivateApiSpec {
    spec.api.routes = serde_norway::from_str(&format!(
        "- {{method: POST, path: /orders, sqs: {{queueArn: {QUEUE}}}}}\n- {{method: PUT, path: /orders/bulk, sqs: {{queueArn: {QUEUE}}}}}"
    ))
    .expect("routes parse");
    spec
}

/// API Gateway's role for the routes: trusted by API Gateway only, and allowed only
/// to send to the routes' queue.
async fn assert_api_gateway_role(aws: &privateapi::aws::Aws, arn: &str) {
    let name = arn.rsplit('/').next().unwrap_or_default();
    let role = aws.iam.get_role().role_name(name).send().await.expect("GetRole");
    let trust = role
        .role()
        .map(|r| r.assume_role_policy_document().unwrap_or_default().to_owned());
    let trust = urlencoding_decode(&trust.unwrap_or_default());
    assert!(
        trust.contains("apigateway.amazonaws.com") && !trust.contains("ecs-tasks"),
        "{trust}"
    );
    let policies = aws
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .expect("ListRolePolicies");
    let [policy] = policies.policy_names() else {
        panic!("one inline policy: {:?}", policies.policy_names());
    };
    let document = aws
        .iam
        .get_role_policy()
        .role_name(name)
        .policy_name(policy)
        .send()
        .await
        .expect("GetRolePolicy");
    let document: serde_json::Value =
        serde_json::from_str(&urlencoding_decode(document.policy_document())).expect("a policy document");
    assert_eq!(
        document["Statement"],
        serde_json::json!([{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [QUEUE]}])
    );
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                let hex = std::str::from_utf8(hex).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn rest_api_queue_routes_send_to_sqs_with_a_role_that_may_only_send() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("rest-sqs");
    let spec = with_queue_routes(spec(&vpc, &subnets));

    let outcome = create_counted(&aws, &owner, &spec, "REST API + SQS routes").await;
    let ids = outcome.resources.clone();
    let role_arn = ids.api_gateway_role_arn.clone().expect("the routes' role");
    assert_api_gateway_role(&aws, &role_arn).await;
    let api_id = ids.rest_api_id.clone().expect("rest api id");
    let resources = aws
        .apigw
        .get_resources()
        .rest_api_id(&api_id)
        .embed("methods")
        .send()
        .await
        .expect("GetResources");
    let mut paths: Vec<&str> = resources.items().iter().filter_map(|r| r.path()).collect();
    paths.sort();
    assert_eq!(paths, ["/", "/orders", "/orders/bulk", "/{proxy+}"]);
    let orders = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/orders"))
        .expect("/orders");
    let post = orders
        .resource_methods()
        .and_then(|m| m.get("POST"))
        .expect("POST /orders");
    let integration = post.method_integration().expect("an integration");
    assert_eq!(integration.r#type().map(|t| t.as_str()), Some("AWS"));
    assert_eq!(
        integration.uri(),
        Some("arn:aws:apigateway:eu-west-1:sqs:path/123456789012/orders")
    );
    assert_eq!(integration.credentials(), Some(role_arn.as_str()));
    assert_eq!(integration.http_method(), Some("POST"));
    let template = integration
        .request_templates()
        .and_then(|t| t.get("application/json"))
        .cloned()
        .unwrap_or_default();
    assert!(template.starts_with("Action=SendMessage&MessageBody="), "{template}");
    assert!(post.method_responses().is_some_and(|r| r.contains_key("200")));
    assert!(
        integration
            .integration_responses()
            .is_some_and(|r| r.contains_key("200"))
    );
    steady(&aws, &owner, &spec).await;

    // Behind the operator's back: the route's integration is gone.
    aws.apigw
        .delete_integration()
        .rest_api_id(&api_id)
        .resource_id(orders.id().unwrap_or_default())
        .http_method("POST")
        .send()
        .await
        .expect("DeleteIntegration");
    let repair = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("repair pass");
    let repaired: Vec<String> = repair.changes.iter().map(|c| c.to_string()).collect();
    assert!(
        repaired.iter().any(|c| c.starts_with("~ ApiIntegration POST /orders")),
        "{repaired:?}"
    );
    steady(&aws, &owner, &spec).await;

    // The routes go: their resources and the role go with them, the proxy stays.
    let plain = privateapi::crd::PrivateApiSpec {
        api: privateapi::crd::ApiSpec {
            routes: Vec::new(),
            ..spec.api.clone()
        },
        ..spec.clone()
    };
    until_ready(&aws, &owner, &plain, 3).await;
    steady(&aws, &owner, &plain).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::one_stack());

    delete_counted(&aws, &owner, &plain, "REST API + SQS routes").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn http_api_queue_routes_use_the_send_message_integration() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("http-sqs");
    let spec = with_queue_routes(http(&vpc, &subnets));

    let outcome = create_counted(&aws, &owner, &spec, "HTTP API + SQS routes").await;
    let ids = outcome.resources.clone();
    let role_arn = ids.api_gateway_role_arn.clone().expect("the routes' role");
    assert_api_gateway_role(&aws, &role_arn).await;
    let api_id = ids.http_api_id.clone().expect("http api id");
    let integrations = aws
        .apigwv2
        .get_integrations()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetIntegrations");
    let sending: Vec<_> = integrations
        .items()
        .iter()
        .filter(|i| i.integration_subtype() == Some(http_api::SEND_MESSAGE))
        .collect();
    assert_eq!(sending.len(), 2, "one per route: {:?}", integrations.items());
    for integration in &sending {
        assert_eq!(integration.integration_type().map(|t| t.as_str()), Some("AWS_PROXY"));
        assert_eq!(integration.credentials_arn(), Some(role_arn.as_str()));
        let parameters = integration.request_parameters().cloned().unwrap_or_default();
        assert_eq!(
            parameters.get("QueueUrl").map(String::as_str),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
        );
        assert_eq!(parameters.get("MessageBody").map(String::as_str), Some("$request.body"));
    }
    let routes = aws
        .apigwv2
        .get_routes()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetRoutes");
    let mut keys: Vec<&str> = routes.items().iter().filter_map(|r| r.route_key()).collect();
    keys.sort();
    assert_eq!(keys, ["$default", "ANY /{proxy+}", "POST /orders", "PUT /orders/bulk"]);
    steady(&aws, &owner, &spec).await;

    // Behind the operator's back: a route's integration sends to another queue.
    let hijacked = privateapi::aws::queue_route::QueueRoute {
        method: "POST",
        path: "/orders".into(),
        queue_arn: "arn:aws:sqs:eu-west-1:123456789012:elsewhere".into(),
        role: role_arn.clone(),
    };
    let id = sending[0].integration_id().unwrap_or_default();
    http_api::update_queue_integration(&aws, &api_id, id, &hijacked)
        .await
        .expect("hijack");
    let repair = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
        .await
        .expect("repair pass");
    let repaired: Vec<String> = repair.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(repaired.len(), 1, "{repaired:?}");
    assert!(repaired[0].starts_with("~ ApiIntegration"), "{repaired:?}");
    steady(&aws, &owner, &spec).await;

    delete_counted(&aws, &owner, &spec, "HTTP API + SQS routes").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

/// A hosted zone of the emulator for `zone_name`; its id as the spec takes it.
async fn hosted_zone(aws: &privateapi::aws::Aws, zone_name: &str) -> String {
    let zone = aws
        .route53
        .create_hosted_zone()
        .name(zone_name)
        .caller_reference(zone_name)
        .send()
        .await
        .expect("CreateHostedZone");
    let id = zone.hosted_zone().map(|z| z.id().to_owned()).expect("a zone id");
    id.trim_start_matches("/hostedzone/").to_owned()
}

#[tokio::test]
async fn a_custom_domain_gets_its_alias_record_and_others_records_are_left_alone() {
    use privateapi::aws::dns;
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let zone_name = format!("zone-{}.example.com", rand::random::<u32>());
    let zone_id = hosted_zone(&aws, &zone_name).await;
    let owner = owner("dns");
    let host = format!("api.{zone_name}");
    let mut spec = spec(&vpc, &subnets);
    spec.api.domain = Some(privateapi::crd::DomainSpec {
        name: host.clone(),
        certificate_arn: CERTIFICATE.into(),
        base_path: String::new(),
        hosted_zone_id: Some(zone_id.clone()),
    });
    let outcome = create_counted(&aws, &owner, &spec, "REST API → V2 → ALB + custom domain + Route 53").await;
    let target = outcome
        .resources
        .domain_target
        .clone()
        .expect("the domain's regional name");
    let record = dns::observe(&aws, &zone_id, &host).await.expect("the records");
    assert!(
        record.alias.as_ref().is_some_and(
            |(alias, zone)| alias.trim_end_matches('.') == target.trim_end_matches('.')
                && Some(zone) == outcome.resources.domain_hosted_zone_id.as_ref()
        ),
        "{record:?} vs {:?}",
        outcome.resources
    );
    assert!(record.is_owned_by(&owner.uid), "{record:?}");
    steady(&aws, &owner, &spec).await;

    // A name whose A record someone else wrote: the resource stalls, the record stays.
    let taken = format!("taken.{zone_name}");
    let foreign = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(format!("{taken}."))
        .r#type(aws_sdk_route53::types::RrType::A)
        .ttl(60)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("10.0.0.1")
                .build()
                .expect("a record"),
        )
        .build()
        .expect("a record set");
    aws.route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Create)
                        .resource_record_set(foreign)
                        .build()
                        .expect("a change"),
                )
                .build()
                .expect("a batch"),
        )
        .send()
        .await
        .expect("someone else's record");
    let other_owner = privateapi::aws::Owner::new("tests", "dns-other", format!("uid-{}", rand::random::<u32>()));
    let mut other = spec.clone();
    if let Some(d) = &mut other.api.domain {
        d.name = taken.clone();
    }
    let mut stuck = None;
    for _ in 0..5 {
        if let Err(e) = reconcile::converge(&aws, &other_owner, &other, Mode::Apply).await {
            stuck = Some(e);
            break;
        }
    }
    let e = stuck.expect("a stuck pass");
    assert!(e.is_terminal() && e.to_string().contains("not this resource's"), "{e}");
    until_gone(&aws, &other_owner, &other, 10).await;
    let still = dns::observe(&aws, &zone_id, &taken).await.expect("the records");
    assert!(still.plain_a && still.owner.is_none(), "{still:?}");

    delete_counted(&aws, &owner, &spec, "REST API → V2 → ALB + custom domain + Route 53").await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
    let gone = dns::observe(&aws, &zone_id, &host).await.expect("the records");
    assert!(!gone.exists(), "{gone:?}");
}
