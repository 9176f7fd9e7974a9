//! Table tests of the diff: a stack in sync, then one change at a time to what AWS
//! holds, and the steps that must (and must not) follow. No AWS, no emulator.

use super::*;
use crate::aws::ecs::ObservedTaskDefinition;
use crate::aws::elb::{ObservedListener, ObservedLoadBalancer, ObservedTargetGroup};
use crate::aws::iam::{ObservedRole, RoleKind};
use crate::aws::ownership::Owner;
use crate::aws::rest_api::{Deployment, ObservedApi, ObservedResource, ObservedStage};
use crate::aws::security_group::ObservedGroup;
use crate::aws::vpc_link::ObservedVpcLink;
use crate::aws::vpc_link_v1::ObservedVpcLinkV1;
use crate::crd::PrivateApiSpec;
use crate::reconcile::desired::DesiredFront;
use crate::reconcile::desired::Inputs;
use crate::reconcile::observe::{ObservedFront, Seen, SharedLinks, TaskDefinitions};

const TG: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/papi-tg/1";
const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/papi-lb/1";
const TD: &str = "arn:aws:ecs:eu-west-1:1:task-definition/papi-family:1";
const LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/papi-lb/1/2";
const APIGW_ROLE: &str = "arn:aws:iam::1:role/privateapi/apigw";
const FRONT_TG: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/papi-nlb/3";
const FRONT_LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/papi-nlb/3";
const FRONT_LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:listener/net/papi-nlb/3/4";
const FRONT_DNS: &str = "papi-nlb.elb.example";

/// A stack with a VPC link of its own (`vpcLink.shared: false`); `shared_spec` for
/// the default, a shared link.
fn spec() -> PrivateApiSpec {
    serde_norway::from_str(
        "network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\nservice: {image: nginx:1.27, port: 8080}\napi: {throttle: {rateLimit: 50, burstLimit: 100}}\nvpcLink: {shared: false}",
    )
    .expect("spec parses")
}

fn desired(spec: &PrivateApiSpec, subnets: &[&str]) -> DesiredStack {
    let owner = Owner::new("shop", "orders", "uid-1");
    let subnets: Vec<String> = subnets.iter().map(|s| s.to_string()).collect();
    DesiredStack::build(Inputs {
        owner: &owner,
        spec,
        region: "eu-west-1",
        subnets: &subnets,
        integration_host: None,
    })
}

/// The IDs AWS gave the stack in sync.
fn ids() -> Refs {
    let mut refs = Refs::default();
    for role in GroupRole::ALL {
        refs.set(Slot::Group(role), format!("sg-{role}"));
    }
    refs.set(Slot::Role(RoleKind::Execution), "arn:aws:iam::1:role/exec");
    refs.set(Slot::Role(RoleKind::Task), "arn:aws:iam::1:role/task");
    refs.set(Slot::Role(RoleKind::ApiGateway), APIGW_ROLE);
    refs.set(Slot::TargetGroup, TG);
    refs.set(Slot::LoadBalancer, LB);
    refs.set(Slot::LoadBalancerDns, "internal-papi.elb.example");
    refs.set(Slot::VpcLink, "vl-1");
    refs.set(Slot::TaskDefinition, TD);
    refs.set(Slot::Listener, LISTENER);
    refs.set(Slot::Authorizer, "az-1");
    refs.set(Slot::FrontTargetGroup, FRONT_TG);
    refs.set(Slot::FrontLoadBalancer, FRONT_LB);
    refs.set(Slot::FrontLoadBalancerDns, FRONT_DNS);
    refs.set(Slot::FrontListener, FRONT_LISTENER);
    refs
}

/// A method's or route's authorization as AWS reports `auth`.
fn seen(auth: &Auth) -> SeenAuth {
    SeenAuth {
        method: auth.method.into(),
        authorizer: auth.authorizer.clone(),
        scopes: auth.scopes.clone(),
        api_key: auth.api_key,
    }
}

/// The authorizer `wanted` as AWS holds it, with `id`.
fn observed_authorizer(wanted: &DesiredAuthorizer, id: &str) -> authorizer::ObservedAuthorizer {
    authorizer::ObservedAuthorizer {
        id: id.into(),
        name: wanted.name(),
        kind: wanted.kind.into(),
        provider_arns: wanted.provider_arns.clone(),
        uri: wanted.uri.clone(),
        credentials: wanted.credentials.clone(),
        identity_source: wanted.identity_source.clone(),
        ttl: wanted.ttl,
        issuer: wanted.issuer.clone(),
        audiences: wanted.audiences.clone(),
        payload_format: (wanted.flavor == authorizer::Flavor::Http && wanted.kind == "REQUEST")
            .then(|| authorizer::HTTP_PAYLOAD_FORMAT.to_owned()),
        simple_responses: wanted.flavor == authorizer::Flavor::Http && wanted.kind == "REQUEST",
    }
}

fn some<T: Clone>(part: &Option<T>) -> T {
    part.clone().expect("part wanted")
}

/// AWS holding exactly what `d` wants.
fn in_sync(d: &DesiredStack) -> ObservedStack {
    let refs = ids();
    let known: BTreeMap<GroupRole, String> = GroupRole::ALL.map(|r| (r, format!("sg-{r}"))).into_iter().collect();
    let (links, links_v1) = match &d.vpc_link {
        Some(LinkWanted::Owned(link)) => {
            let link = link.try_map(|id| refs.get(id)).expect("link resolves");
            let observed = ObservedVpcLink {
                id: "vl-1".into(),
                state: LinkState::Available,
                message: None,
                fingerprint: Some(link.fingerprint()),
                created: 1,
            };
            (vec![observed], Seen::Unread)
        }
        Some(LinkWanted::OwnedV1(_)) => {
            let observed = ObservedVpcLinkV1 {
                id: "vl-1".into(),
                state: LinkState::Available,
                message: None,
                targets: vec![if d.front.is_some() { FRONT_LB } else { LB }.into()],
            };
            (Vec::new(), Seen::Read(vec![observed]))
        }
        Some(LinkWanted::Shared) => (Vec::new(), Seen::Unread),
        _ => panic!("a link of the operator's"),
    };
    let td = some(&d.task_definition)
        .try_map(|id| refs.get(id))
        .expect("td resolves");
    let service = some(&d.service).try_map(|id| refs.get(id)).expect("service resolves");
    let lb = some(&d.load_balancer);
    let stack = ObservedStack {
        groups: Seen::Read(
            d.groups
                .iter()
                .map(|g| ObservedGroup {
                    id: known[&g.role].clone(),
                    role: g.role,
                    rules: security_group::desired_rules(g, &known),
                })
                .collect(),
        ),
        roles: d
            .roles
            .iter()
            .map(|r| {
                let observed = ObservedRole {
                    name: r.name.clone(),
                    arn: refs.slot(Slot::Role(r.kind)).unwrap_or_default().to_owned(),
                    managed_policies: r.managed_policies.clone(),
                    inline_policies: r.inline_policies.keys().cloned().collect(),
                };
                (r.kind, Some(observed))
            })
            .collect(),
        cluster: Seen::Read(Some(crate::aws::ecs::ObservedCluster {
            arn: "arn:aws:ecs:eu-west-1:1:cluster/papi".into(),
            active: true,
        })),
        target_group: Seen::Read(Some(ObservedTargetGroup {
            arn: TG.into(),
            health: some(&d.target_group).health,
            load_balancers: vec![LB.into()],
        })),
        load_balancer: Seen::Read(Some(ObservedLoadBalancer {
            arn: LB.into(),
            dns_name: "internal-papi.elb.example".into(),
            state: LoadBalancerState::Active,
            state_reason: None,
            subnets: lb.subnets.clone(),
            security_groups: vec!["sg-alb".into()],
            private_link_inbound_rules: (!lb.private_link_inbound_rules).then_some(false),
        })),
        listeners: Seen::Read(vec![ObservedListener {
            arn: LISTENER.into(),
            port: some(&d.listener).port,
            protocol: some(&d.listener).protocol().into(),
            certificate: some(&d.listener).certificate,
            tls_policy: some(&d.listener)
                .certificate
                .map(|_| crate::aws::elb::TLS_POLICY.to_owned()),
            forwards_to: vec![TG.into()],
            not_found: false,
        }]),
        vpc_links: Seen::Read(links),
        vpc_links_v1: links_v1,
        existing_link: Seen::Unread,
        shared_links: match &d.shared_link {
            // The network's link "vl-1" with its group "sg-link", we its only user.
            Some(wanted) => Seen::Read(SharedLinks {
                me: "uid-1".into(),
                user: "shop/orders".into(),
                links: vec![shared("vl-1", &wanted.key, 1, &["uid-1"])],
                groups: None,
                region_links: 1,
            }),
            None => Seen::Unread,
        },
        task_definitions: Seen::Read(TaskDefinitions {
            latest: Some(ObservedTaskDefinition {
                arn: TD.into(),
                fingerprint: Some(td.fingerprint()),
            }),
            active: vec![TD.into()],
        }),
        service: Seen::Read(Some(ObservedService {
            arn: "arn:service".into(),
            name: service.name.clone(),
            cluster: service.cluster.clone(),
            status: "ACTIVE".into(),
            desired_count: service.desired_count,
            running_count: service.desired_count,
            task_definition_arn: TD.into(),
            target_groups: vec![TG.into()],
            subnets: service.subnets.clone(),
            security_groups: vec!["sg-tasks".into()],
            grace_period_seconds: service.grace_period_seconds,
            public_ip: false,
            rolling_out: false,
        })),
        front: match &d.front {
            Some(front) => front_in_sync(front),
            None => Default::default(),
        },
        ..ObservedStack::default()
    };
    match (&d.api, &d.http_api) {
        (Some(api), _) => with_rest_api(stack, &api.try_map(|id| refs.get(id)).expect("api resolves")),
        (_, Some(api)) => with_http_api(stack, &api.try_map(|id| refs.get(id)).expect("api resolves")),
        _ => stack,
    }
}

/// The NLB in front of the ALB as `front` wants it, with the ALB registered.
fn front_in_sync(front: &DesiredFront) -> ObservedFront {
    ObservedFront {
        target_group: Seen::Read(Some(ObservedTargetGroup {
            arn: FRONT_TG.into(),
            health: front.target_group.health.clone(),
            load_balancers: vec![FRONT_LB.into()],
        })),
        load_balancer: Seen::Read(Some(ObservedLoadBalancer {
            arn: FRONT_LB.into(),
            dns_name: FRONT_DNS.into(),
            state: LoadBalancerState::Active,
            state_reason: None,
            subnets: front.load_balancer.subnets.clone(),
            security_groups: vec!["sg-nlb".into()],
            private_link_inbound_rules: Some(false),
        })),
        listeners: Seen::Read(vec![ObservedListener {
            arn: FRONT_LISTENER.into(),
            port: front.listener.port,
            protocol: "TCP".into(),
            certificate: None,
            tls_policy: None,
            forwards_to: vec![FRONT_TG.into()],
            not_found: false,
        }]),
        targets: Seen::Read(vec![LB.into()]),
    }
}

fn with_rest_api(stack: ObservedStack, api: &rest_api::DesiredApi) -> ObservedStack {
    use crate::aws::rest_api::{ObservedMethod, ObservedRouteResource};
    let [(_, root), (_, proxy)] = api.integrations();
    let resource = |id: &str, integration| ObservedResource {
        id: id.into(),
        has_any_method: true,
        integration: Some(integration),
        auth: seen(&api.auth),
    };
    let mut routes: BTreeMap<String, ObservedRouteResource> = queue_route::resource_paths(&api.routes)
        .into_iter()
        .map(|path| {
            let id = format!("res{path}");
            (
                path,
                ObservedRouteResource {
                    id,
                    ..Default::default()
                },
            )
        })
        .collect();
    for route in &api.routes {
        let method = ObservedMethod {
            integration: Some(rest_api::route_integration(route)),
            method_response: true,
            integration_response: true,
            auth: seen(&api.auth),
        };
        if let Some(resource) = routes.get_mut(&route.path) {
            resource.methods.insert(route.method.into(), method);
        }
    }
    ObservedStack {
        rest_apis: Seen::Read(vec!["api-1".into()]),
        api: Seen::Read(Some(ObservedApi {
            id: "api-1".into(),
            root: Some(resource("root", root)),
            proxy: Some(resource("proxy", proxy)),
            routes,
            stages: Vec::new(),
        })),
        stages: Seen::Read(vec![ObservedStage {
            name: api.stage_name.clone(),
            deployment_id: Some("d-1".into()),
            description: Some(rest_api::stage_description(&api.shape(), "d-1")),
            throttle: api.throttle,
            web_acl_arn: api.web_acl_arn.clone(),
        }]),
        deployments: Seen::Read(vec![Deployment {
            id: "d-1".into(),
            description: Some(format!("privateapi shape={}", api.shape())),
        }]),
        authorizers: Seen::Read(api.authorizer.iter().map(|a| observed_authorizer(a, "az-1")).collect()),
        ..stack
    }
}

fn with_http_api(stack: ObservedStack, api: &DesiredHttpApi) -> ObservedStack {
    use crate::aws::http_api::{ObservedDetails, ObservedIntegration, ObservedRoute};
    let proxy = ObservedIntegration {
        id: "int-1".into(),
        kind: "HTTP_PROXY".into(),
        method: "ANY".into(),
        connection_type: "VPC_LINK".into(),
        connection_id: api.integration.connection_id.clone(),
        uri: api.integration.uri.clone(),
        payload_format: "1.0".into(),
        server_name: api.integration.server_name.clone(),
        subtype: None,
        credentials: None,
        request_parameters: api.integration.request_parameters(),
    };
    let mut integrations = vec![proxy];
    let mut routes: Vec<ObservedRoute> = http_api::ROUTE_KEYS
        .iter()
        .map(|key| ObservedRoute {
            id: format!("route {key}"),
            key: (*key).into(),
            target: Some("integrations/int-1".into()),
            auth: seen(&api.auth),
        })
        .collect();
    for (i, route) in api.routes.iter().enumerate() {
        let id = format!("int-q{i}");
        integrations.push(sending(&id, route));
        routes.push(ObservedRoute {
            id: format!("route {}", route.key()),
            key: route.key(),
            target: Some(format!("integrations/{id}")),
            auth: seen(&api.auth),
        });
    }
    ObservedStack {
        http_apis: Seen::Read(vec!["http-1".into()]),
        http_details: Seen::Read(Some(ObservedDetails { integrations, routes })),
        http_stages: Seen::Read(vec![http_api::ObservedStage {
            name: "$default".into(),
            auto_deploy: true,
            throttle: api.throttle,
        }]),
        authorizers: Seen::Read(api.authorizer.iter().map(|a| observed_authorizer(a, "az-1")).collect()),
        ..stack
    }
}

/// A queue route's integration as AWS holds it.
fn sending(id: &str, route: &QueueRoute) -> http_api::ObservedIntegration {
    http_api::ObservedIntegration {
        id: id.into(),
        kind: "AWS_PROXY".into(),
        method: String::new(),
        connection_type: "INTERNET".into(),
        connection_id: String::new(),
        uri: String::new(),
        payload_format: "1.0".into(),
        server_name: None,
        subtype: Some(http_api::SEND_MESSAGE.into()),
        credentials: Some(route.role.clone()),
        request_parameters: http_api::queue_parameters(route),
    }
}

fn v1_spec() -> PrivateApiSpec {
    let mut s = spec();
    s.vpc_link.version = crate::crd::VpcLinkVersion::V1;
    s.load_balancer.kind = crate::crd::LoadBalancerKind::Network;
    s
}

/// A VPC Link V1 to an ALB: an NLB in front of it.
fn front_spec() -> PrivateApiSpec {
    let mut s = spec();
    s.vpc_link.version = crate::crd::VpcLinkVersion::V1;
    s
}

fn http_spec() -> PrivateApiSpec {
    let mut s = spec();
    s.api.api_type = crate::crd::ApiType::Http;
    s
}

/// The steps as `(verb, part, detail)`.
fn steps(plan: &Plan) -> Vec<(Verb, Part, String)> {
    plan.steps
        .iter()
        .map(|s| (s.change.verb, s.change.part, s.change.detail.clone()))
        .collect()
}

fn verbs_and_parts(plan: &Plan) -> Vec<(Verb, Part)> {
    plan.steps.iter().map(|s| (s.change.verb, s.change.part)).collect()
}

#[test]
fn a_stack_in_sync_needs_no_step_and_every_part_is_ready() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    let plan = diff(&d, &in_sync(&d));
    assert_eq!(steps(&plan), []);
    assert!(plan.stuck.is_none());
    let ready: Vec<Condition> = plan.parts.iter().filter(|p| p.ready).map(|p| p.condition).collect();
    assert_eq!(ready.len(), Condition::ALL.len(), "{:?}", plan.parts);
    assert_eq!(plan.refs.slot(Slot::Deployment), Some("d-1"));
}

#[test]
fn nothing_in_aws_means_every_part_created_in_dependency_order() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    let nothing = ObservedStack {
        groups: Seen::Read(Vec::new()),
        roles: [(RoleKind::Execution, None), (RoleKind::Task, None)]
            .into_iter()
            .collect(),
        cluster: Seen::Read(None),
        target_group: Seen::Read(None),
        load_balancer: Seen::Read(None),
        listeners: Seen::Read(Vec::new()),
        vpc_links: Seen::Read(Vec::new()),
        task_definitions: Seen::Read(TaskDefinitions::default()),
        service: Seen::Read(None),
        rest_apis: Seen::Read(Vec::new()),
        ..ObservedStack::default()
    };
    let plan = diff(&d, &nothing);
    let created: Vec<Part> = plan
        .steps
        .iter()
        .filter(|s| s.change.verb == Verb::Create)
        .map(|s| s.change.part)
        .collect();
    use Part::*;
    assert_eq!(
        created,
        [
            SecurityGroup,
            SecurityGroup,
            SecurityGroup,
            IamRole,
            IamRole,
            EcsCluster,
            TargetGroup,
            LoadBalancer,
            Listener,
            VpcLink,
            TaskDefinition,
            EcsService,
            RestApi
        ]
    );
    // The API's details are not known before it exists: they are wired the next pass
    // (the API's wiring is gated on the new link, and its stage on the API's read).
    assert!(plan.steps.iter().all(|s| s.change.verb != Verb::Delete));
    // References to objects of this pass are shown as such, never as IDs.
    let rule = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::Authorize { .. }))
        .expect("a rule between our groups");
    assert!(rule.change.detail.contains("after apply"), "{}", rule.change.detail);
}

/// One change behind the operator's back each, and the one step that repairs it.
#[test]
fn each_field_that_drifted_is_updated_alone() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    type Edit = fn(&mut ObservedStack);
    type Expected = Vec<(Verb, Part, &'static str)>;
    let cases: Vec<(&str, Edit, Expected)> = vec![
        (
            "service scaled",
            |o| {
                if let Seen::Read(Some(s)) = &mut o.service {
                    s.desired_count = 7;
                }
            },
            vec![(Verb::Update, Part::EcsService, "desiredCount 7 → 1")],
        ),
        (
            "health check edited",
            |o| {
                if let Seen::Read(Some(tg)) = &mut o.target_group {
                    tg.health.path = "/elsewhere".into();
                }
            },
            vec![(Verb::Update, Part::TargetGroup, "health check")],
        ),
        (
            "ALB security group swapped",
            |o| {
                if let Seen::Read(Some(lb)) = &mut o.load_balancer {
                    lb.security_groups = vec!["sg-other".into()];
                }
            },
            vec![(Verb::Update, Part::LoadBalancer, "security groups")],
        ),
        (
            "ALB subnets changed",
            |o| {
                if let Seen::Read(Some(lb)) = &mut o.load_balancer {
                    lb.subnets = vec!["subnet-z".into()];
                }
            },
            vec![(Verb::Update, Part::LoadBalancer, "subnets")],
        ),
        (
            "listener re-pointed",
            |o| {
                if let Seen::Read(listeners) = &mut o.listeners {
                    listeners[0].forwards_to = vec!["arn:other-tg".into()];
                }
            },
            vec![(Verb::Update, Part::Listener, "port / forward action")],
        ),
        (
            "listener added by hand",
            |o| {
                if let Seen::Read(listeners) = &mut o.listeners {
                    let extra = ObservedListener {
                        arn: "arn:extra".into(),
                        port: 8081,
                        ..listeners[0].clone()
                    };
                    listeners.push(extra);
                }
            },
            vec![(Verb::Delete, Part::Listener, "not in spec")],
        ),
        (
            "integration re-pointed",
            |o| {
                if let Seen::Read(Some(api)) = &mut o.api
                    && let Some(proxy) = &mut api.proxy
                    && let Some(integration) = &mut proxy.integration
                {
                    integration.uri = "http://elsewhere/{proxy}".into();
                }
            },
            vec![(Verb::Update, Part::ApiIntegration, "HTTP_PROXY via VPC link vl-1")],
        ),
        (
            "stage throttling changed",
            |o| {
                if let Seen::Read(stages) = &mut o.stages {
                    stages[0].throttle = Some(Throttle {
                        rate_limit: 5.0,
                        burst_limit: 10,
                    });
                }
            },
            vec![(Verb::Update, Part::ApiStage, "throttle 50 req/s, burst 100")],
        ),
        (
            "rule revoked",
            |o| {
                if let Seen::Read(groups) = &mut o.groups {
                    groups.iter_mut().for_each(|g| {
                        if g.role == GroupRole::Tasks {
                            g.rules.clear();
                        }
                    });
                }
            },
            vec![(Verb::Update, Part::SecurityGroup, "allow tcp 8080-8080 from sg-alb")],
        ),
        (
            "rule added by hand",
            |o| {
                if let Seen::Read(groups) = &mut o.groups {
                    let tasks = groups.iter_mut().find(|g| g.role == GroupRole::Tasks).expect("tasks");
                    tasks.rules.push(Rule {
                        protocol: "tcp".into(),
                        from_port: 22,
                        to_port: 22,
                        source: security_group::Source::Cidr("0.0.0.0/0".into()),
                    });
                }
            },
            vec![(Verb::Update, Part::SecurityGroup, "revoke tcp 22-22 from 0.0.0.0/0")],
        ),
        (
            "policy detached",
            |o| {
                if let Some(Some(role)) = o.roles.get_mut(&RoleKind::Execution) {
                    role.managed_policies.clear();
                }
            },
            vec![(Verb::Update, Part::IamRole, "attach arn:aws:iam::aws:policy")],
        ),
        (
            "a revision registered twice (lost answer)",
            |o| {
                if let Seen::Read(t) = &mut o.task_definitions {
                    t.active.push(format!("{TD}0"));
                }
            },
            vec![(Verb::Delete, Part::TaskDefinition, "not in use")],
        ),
        (
            "a deployment made twice (lost answer)",
            |o| {
                if let Seen::Read(deployments) = &mut o.deployments {
                    deployments.push(Deployment {
                        id: "d-2".into(),
                        description: None,
                    });
                }
            },
            vec![(Verb::Delete, Part::ApiDeployment, "not served by a stage")],
        ),
        (
            "a REST API made twice (lost answer)",
            |o| {
                if let Seen::Read(apis) = &mut o.rest_apis {
                    apis.push("api-2".into());
                }
            },
            vec![(Verb::Delete, Part::RestApi, "duplicate")],
        ),
    ];
    for (what, edit, expected) in cases {
        let mut observed = in_sync(&d);
        edit(&mut observed);
        let plan = diff(&d, &observed);
        let got = steps(&plan);
        assert_eq!(got.len(), expected.len(), "{what}: {got:?}");
        for ((verb, part, detail), (want_verb, want_part, want_detail)) in got.iter().zip(&expected) {
            assert_eq!((verb, part), (want_verb, want_part), "{what}: {got:?}");
            assert!(detail.contains(want_detail), "{what}: {detail:?} lacks {want_detail:?}");
        }
    }
}

#[test]
fn a_new_image_is_a_new_revision_the_service_moves_to_and_the_old_one_goes() {
    let before = desired(&spec(), &["subnet-a", "subnet-b"]);
    let mut changed = spec();
    changed.service.image = "nginx:1.28".into();
    let plan = diff(&desired(&changed, &["subnet-a", "subnet-b"]), &in_sync(&before));
    assert_eq!(
        verbs_and_parts(&plan),
        [
            (Verb::Create, Part::TaskDefinition),
            (Verb::Update, Part::EcsService),
            (Verb::Delete, Part::TaskDefinition),
        ]
    );
    assert!(plan.steps[1].change.detail.contains("taskDefinition"));
}

#[test]
fn new_subnets_replace_the_link_rewire_redeploy_and_retire_the_old_link_last() {
    let before = desired(&spec(), &["subnet-a", "subnet-b"]);
    let after = desired(&spec(), &["subnet-a", "subnet-b", "subnet-c"]);
    let plan = diff(&after, &in_sync(&before));
    let parts = verbs_and_parts(&plan);
    assert_eq!(parts.first(), Some(&(Verb::Update, Part::LoadBalancer)), "{parts:?}");
    assert!(parts.contains(&(Verb::Create, Part::VpcLink)));
    assert!(parts.contains(&(Verb::Update, Part::ApiIntegration)));
    assert!(parts.contains(&(Verb::Create, Part::ApiDeployment)));
    assert_eq!(parts.last(), Some(&(Verb::Delete, Part::VpcLink)), "{parts:?}");
    // The wiring waits for AWS to make the new link usable; retiring the old one
    // waits for nothing to point at it.
    for step in &plan.steps {
        let wiring = matches!(
            step.change.part,
            Part::ApiIntegration | Part::ApiDeployment | Part::ApiStage
        );
        assert_eq!(step.gate == Gate::LinkUsable, wiring, "{}", step.change);
    }
    assert!(matches!(
        plan.steps.last().map(|s| &s.if_not_yet),
        Some(IfNotYet::Note { .. })
    ));
}

#[test]
fn a_pending_link_holds_back_only_the_wiring() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    if let Seen::Read(links) = &mut observed.vpc_links {
        links[0].state = LinkState::Pending;
    }
    if let Seen::Read(Some(api)) = &mut observed.api {
        api.proxy = None;
    }
    let plan = diff(&d, &observed);
    assert_eq!(steps(&plan), []);
    let reason = |c: Condition| plan.parts.iter().find(|p| p.condition == c).map(|p| p.reason.as_str());
    assert_eq!(reason(Condition::VpcLink), Some("VpcLinkPending"));
    assert_eq!(reason(Condition::Api), Some("WaitingForVpcLink"));
}

#[test]
fn a_missing_given_cluster_stops_the_pass_after_what_comes_before_it() {
    let mut s = spec();
    s.service.cluster = Some(crate::crd::ClusterRef { name: "shared".into() });
    let d = desired(&s, &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.cluster = Seen::Read(None);
    if let Seen::Read(groups) = &mut observed.groups {
        groups.retain(|g| g.role != GroupRole::VpcLink);
    }
    let plan = diff(&d, &observed);
    let stuck = plan.stuck.clone().expect("stuck");
    assert_eq!((stuck.part, stuck.reason), (Part::EcsCluster, "ClusterNotFound"));
    assert!(
        plan.steps
            .iter()
            .all(|s| matches!(s.change.part, Part::SecurityGroup | Part::IamRole)),
        "nothing after the cluster: {:?}",
        steps(&plan)
    );
}

#[test]
fn teardown_is_the_diff_against_nothing_in_reverse_order_waiting_on_slow_deletes() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    // Teardown reads the roles and the cluster only once the slow parts are gone.
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let first = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&first),
        [
            (Verb::Delete, Part::RestApi),
            (Verb::Delete, Part::VpcLink),
            (Verb::Delete, Part::EcsService),
        ]
    );
    assert_eq!(first.waiting.len(), 2, "{:?}", first.waiting);

    // Link, service and ALB gone: the rest, security groups before roles and cluster.
    let mut later = in_sync(&d);
    later.vpc_links = Seen::Read(Vec::new());
    later.service = Seen::Read(None);
    later.load_balancer = Seen::Read(None);
    later.rest_apis = Seen::Read(Vec::new());
    let last = diff(&DesiredStack::empty(), &later);
    let parts = verbs_and_parts(&last);
    assert_eq!(
        parts
            .iter()
            .filter(|(v, p)| (*v, *p) == (Verb::Delete, Part::SecurityGroup))
            .count(),
        3
    );
    let position = |part| parts.iter().position(|(v, p)| *v == Verb::Delete && *p == part);
    assert!(position(Part::Listener) < position(Part::TargetGroup));
    assert!(position(Part::TaskDefinition) < position(Part::SecurityGroup));
    assert!(position(Part::SecurityGroup) < position(Part::IamRole));
    assert!(position(Part::IamRole) < position(Part::EcsCluster));
    let held: Vec<Part> = last
        .steps
        .iter()
        .filter(|s| s.gate == Gate::Settled)
        .map(|s| s.change.part)
        .collect();
    assert_eq!(held, [Part::IamRole, Part::IamRole, Part::EcsCluster]);
    assert!(last.waiting.is_empty());
}

#[test]
fn parts_not_read_are_left_alone_and_partial_routing_is_a_recheck() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.listeners = Seen::Unread;
    observed.task_definitions = Seen::Unread;
    observed.stages = Seen::Unread;
    observed.deployments = Seen::Unread;
    observed.api = Seen::Unread;
    // What the last full pass recorded stands in for what was not read.
    let mut recorded = Refs::default();
    recorded.set(Slot::TaskDefinition, TD);
    assert_eq!(steps(&diff_knowing(&d, &observed, recorded.clone())), []);
    // The target group's routing says no listener of our ALB forwards to it.
    if let Seen::Read(Some(tg)) = &mut observed.target_group {
        tg.load_balancers.clear();
    }
    let plan = diff_knowing(&d, &observed, recorded);
    assert_eq!(verbs_and_parts(&plan), [(Verb::Update, Part::Listener)]);
    assert_eq!(plan.steps[0].action, Action::Recheck);
}

#[test]
fn arn_names() {
    assert_eq!(arn_name(LB), "papi-lb");
    assert_eq!(arn_name(TG), "papi-tg");
    assert_eq!(arn_name("arn:aws:ecs:eu-west-1:1:cluster/papi"), "papi");
    assert_eq!(arn_name(TD), "papi-family:1");
}

#[test]
fn an_http_api_in_sync_needs_no_step_and_integrates_with_the_listener() {
    let d = desired(&http_spec(), &["subnet-a", "subnet-b"]);
    assert!(d.api.is_none());
    let http = some(&d.http_api);
    assert_eq!(http.integration.uri, Id::Of(Slot::Listener));
    let plan = diff(&d, &in_sync(&d));
    assert_eq!(steps(&plan), []);
    let ready: Vec<Condition> = plan.parts.iter().filter(|p| p.ready).map(|p| p.condition).collect();
    assert_eq!(ready.len(), Condition::ALL.len(), "{:?}", plan.parts);
    assert_eq!(plan.refs.slot(Slot::HttpIntegration), Some("int-1"));
}

#[test]
fn a_new_http_api_is_made_and_wired_in_one_pass_behind_the_new_link() {
    let d = desired(&http_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.vpc_links = Seen::Read(Vec::new());
    observed.http_apis = Seen::Read(Vec::new());
    observed.http_details = Seen::Read(None);
    observed.http_stages = Seen::Read(Vec::new());
    let plan = diff(&d, &observed);
    assert_eq!(
        verbs_and_parts(&plan),
        [
            (Verb::Create, Part::VpcLink),
            (Verb::Create, Part::HttpApi),
            (Verb::Create, Part::ApiIntegration),
            (Verb::Create, Part::ApiRoute),
            (Verb::Create, Part::ApiRoute),
            (Verb::Create, Part::ApiStage),
        ]
    );
    for step in &plan.steps[2..] {
        assert_eq!(step.gate, Gate::LinkUsable, "{}", step.change);
    }
}

#[test]
fn each_http_api_drift_is_repaired_alone() {
    use crate::aws::http_api::{ObservedIntegration, ObservedRoute};
    let d = desired(&http_spec(), &["subnet-a", "subnet-b"]);
    type Edit = fn(&mut ObservedStack);
    type Expected = Vec<(Verb, Part, &'static str)>;
    let cases: Vec<(&str, Edit, Expected)> = vec![
        (
            "integration re-pointed",
            |o| {
                if let Seen::Read(Some(d)) = &mut o.http_details {
                    d.integrations[0].uri = "arn:other-listener".into();
                }
            },
            vec![(Verb::Update, Part::ApiIntegration, "to arn:aws:elasticloadbalancing")],
        ),
        (
            "route re-pointed",
            |o| {
                if let Seen::Read(Some(d)) = &mut o.http_details {
                    d.routes[0].target = Some("integrations/other".into());
                }
            },
            vec![(Verb::Update, Part::ApiRoute, "to the integration")],
        ),
        (
            "route deleted",
            |o| {
                if let Seen::Read(Some(d)) = &mut o.http_details {
                    d.routes.remove(1);
                }
            },
            vec![(Verb::Create, Part::ApiRoute, "to the integration")],
        ),
        (
            "route added by hand",
            |o| {
                if let Seen::Read(Some(d)) = &mut o.http_details {
                    d.routes.push(ObservedRoute {
                        id: "r-x".into(),
                        key: "GET /admin".into(),
                        target: None,
                        auth: Default::default(),
                    });
                }
            },
            vec![(Verb::Delete, Part::ApiRoute, "not in spec")],
        ),
        (
            "an integration made twice (lost answer)",
            |o| {
                if let Seen::Read(Some(d)) = &mut o.http_details {
                    let copy = ObservedIntegration {
                        id: "int-0".into(),
                        ..d.integrations[0].clone()
                    };
                    d.integrations.insert(0, copy);
                }
            },
            vec![(Verb::Delete, Part::ApiIntegration, "not in use")],
        ),
        (
            "auto-deploy turned off",
            |o| {
                if let Seen::Read(stages) = &mut o.http_stages {
                    stages[0].auto_deploy = false;
                }
            },
            vec![(Verb::Update, Part::ApiStage, "auto-deploy, throttle 50 req/s")],
        ),
        (
            "an HTTP API made twice (lost answer)",
            |o| {
                if let Seen::Read(apis) = &mut o.http_apis {
                    apis.push("http-2".into());
                }
            },
            vec![(Verb::Delete, Part::HttpApi, "duplicate")],
        ),
    ];
    for (what, edit, expected) in cases {
        let mut observed = in_sync(&d);
        edit(&mut observed);
        let got = steps(&diff(&d, &observed));
        assert_eq!(got.len(), expected.len(), "{what}: {got:?}");
        for ((verb, part, detail), (want_verb, want_part, want_detail)) in got.iter().zip(&expected) {
            assert_eq!((verb, part), (want_verb, want_part), "{what}: {got:?}");
            assert!(detail.contains(want_detail), "{what}: {detail:?} lacks {want_detail:?}");
        }
    }
}

#[test]
fn an_http_api_goes_first_on_teardown() {
    let d = desired(&http_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let first = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&first),
        [
            (Verb::Delete, Part::HttpApi),
            (Verb::Delete, Part::VpcLink),
            (Verb::Delete, Part::EcsService),
        ]
    );
}

#[test]
fn a_v1_link_stack_in_sync_needs_no_step_and_integrates_without_a_target() {
    let d = desired(&v1_spec(), &["subnet-a", "subnet-b"]);
    assert_eq!(d.groups.len(), 2, "no link group: PrivateLink reaches the NLB");
    let api = some(&d.api).try_map(|id| ids().get(id)).expect("resolves");
    let [(_, root), _] = api.integrations();
    assert_eq!(
        (root.connection_id.as_str(), root.integration_target.as_str()),
        ("vl-1", "")
    );
    let plan = diff(&d, &in_sync(&d));
    assert_eq!(steps(&plan), []);
    let ready = plan.parts.iter().filter(|p| p.ready).count();
    assert_eq!(ready, Condition::ALL.len(), "{:?}", plan.parts);
}

#[test]
fn a_v1_link_follows_its_nlb_and_private_link_rules_stay_off() {
    let d = desired(&v1_spec(), &["subnet-a", "subnet-b"]);
    // The NLB judges PrivateLink traffic again (someone turned it on).
    let mut observed = in_sync(&d);
    if let Seen::Read(Some(lb)) = &mut observed.load_balancer {
        lb.private_link_inbound_rules = Some(true);
    }
    let plan = diff(&d, &observed);
    assert_eq!(verbs_and_parts(&plan), [(Verb::Update, Part::LoadBalancer)]);
    assert!(matches!(
        plan.steps[0].action,
        Action::SetSecurityGroups {
            private_link_inbound_rules: Some(false),
            ..
        }
    ));
    // A link to another NLB (the NLB was replaced): a new link, the API rewired behind
    // it, the old link retired last.
    let mut observed = in_sync(&d);
    if let Seen::Read(links) = &mut observed.vpc_links_v1 {
        links[0].targets = vec!["arn:an-old-nlb".into()];
    }
    let parts = verbs_and_parts(&diff(&d, &observed));
    assert_eq!(parts.first(), Some(&(Verb::Create, Part::VpcLink)), "{parts:?}");
    assert!(parts.contains(&(Verb::Update, Part::ApiIntegration)), "{parts:?}");
    assert_eq!(parts.last(), Some(&(Verb::Delete, Part::VpcLink)), "{parts:?}");
    // Nothing yet: the NLB is made, then told to let PrivateLink in, then the link.
    let mut nothing = in_sync(&d);
    nothing.load_balancer = Seen::Read(None);
    nothing.vpc_links_v1 = Seen::Read(Vec::new());
    let parts = verbs_and_parts(&diff(&d, &nothing));
    let lb = parts.iter().position(|p| *p == (Verb::Create, Part::LoadBalancer));
    let off = parts.iter().position(|p| *p == (Verb::Update, Part::LoadBalancer));
    let link = parts.iter().position(|p| *p == (Verb::Create, Part::VpcLink));
    assert!(lb < off && off < link && lb.is_some(), "{parts:?}");
}

#[test]
fn teardown_deletes_v1_links_too() {
    let d = desired(&v1_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let first = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&first),
        [
            (Verb::Delete, Part::RestApi),
            (Verb::Delete, Part::VpcLink),
            (Verb::Delete, Part::EcsService),
        ]
    );
    assert_eq!(first.steps[1].action, Action::DeleteVpcLinkV1("vl-1".into()));
}

fn domain_spec() -> PrivateApiSpec {
    let mut s = spec();
    s.api.domain = Some(crate::crd::DomainSpec {
        name: "api.example.com".into(),
        certificate_arn: "arn:aws:acm:eu-west-1:1:certificate/x".into(),
        base_path: "v1".into(),
        hosted_zone_id: None,
    });
    s
}

fn with_domain(d: &DesiredStack, mut observed: ObservedStack) -> ObservedStack {
    use crate::aws::domain::{Flavor, Mapping, ObservedDomain};
    let wanted = some(&d.domain);
    observed.domains = Seen::Read(vec![(
        Flavor::Rest,
        ObservedDomain {
            name: wanted.name.clone(),
            certificate_arn: wanted.certificate_arn.clone(),
            target: "d-1.execute-api.eu-west-1.amazonaws.com".into(),
            hosted_zone: "Z1".into(),
            uid: Some("uid-1".into()),
        },
    )]);
    observed.mappings = Seen::Read(vec![Mapping {
        id: "v1".into(),
        key: "v1".into(),
        api: "api-1".into(),
        stage: wanted.stage.clone(),
    }]);
    observed
}

#[test]
fn a_custom_domain_in_sync_needs_no_step_and_follows_the_spec() {
    let d = desired(&domain_spec(), &["subnet-a", "subnet-b"]);
    let observed = with_domain(&d, in_sync(&d));
    let plan = diff(&d, &observed);
    assert_eq!(steps(&plan), []);
    assert_eq!(
        plan.refs.slot(Slot::DomainTarget),
        Some("d-1.execute-api.eu-west-1.amazonaws.com")
    );

    // Not there yet: the domain, then its mapping.
    let mut missing = observed.clone();
    missing.domains = Seen::Read(Vec::new());
    missing.mappings = Seen::Read(Vec::new());
    assert_eq!(
        verbs_and_parts(&diff(&d, &missing)),
        [(Verb::Create, Part::DomainName), (Verb::Create, Part::ApiMapping)]
    );
    // A new certificate; the mapping pointed elsewhere; a mapping added by hand.
    let mut drifted = observed.clone();
    if let Seen::Read(domains) = &mut drifted.domains {
        domains[0].1.certificate_arn = "arn:aws:acm:eu-west-1:1:certificate/old".into();
    }
    if let Seen::Read(mappings) = &mut drifted.mappings {
        mappings[0].stage = "dev".into();
        mappings.push(crate::aws::domain::Mapping {
            id: "admin".into(),
            key: "admin".into(),
            api: "api-9".into(),
            stage: "prod".into(),
        });
    }
    assert_eq!(
        verbs_and_parts(&diff(&d, &drifted)),
        [
            (Verb::Update, Part::DomainName),
            (Verb::Update, Part::ApiMapping),
            (Verb::Delete, Part::ApiMapping)
        ]
    );
    // Someone else's domain of that name: stuck, nothing planned for it.
    let mut taken = observed.clone();
    taken.domains = Seen::Read(Vec::new());
    taken.foreign_domain = Some("api.example.com".into());
    let plan = diff(&d, &taken);
    assert_eq!(plan.stuck.map(|s| s.reason), Some("DomainNameTaken"));
    assert!(plan.steps.iter().all(|s| s.change.part != Part::DomainName));
}

#[test]
fn teardown_deletes_the_domain_before_the_api() {
    let d = desired(&domain_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = with_domain(&d, in_sync(&d));
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let first = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&first)[..2],
        [(Verb::Delete, Part::DomainName), (Verb::Delete, Part::RestApi)]
    );
}

// ------------------------------------------------------------ queue routes

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:orders";

fn with_routes(mut s: PrivateApiSpec) -> PrivateApiSpec {
    s.api.routes = serde_norway::from_str(&format!(
        "- {{method: POST, path: /orders, sqs: {{queueArn: {QUEUE}}}}}\n- {{method: PUT, path: /orders/bulk, sqs: {{queueArn: {QUEUE}}}}}"
    ))
    .expect("routes parse");
    s
}

/// With the API Gateway role the routes need, as AWS holds it.
fn with_api_gateway_role(d: &DesiredStack, mut observed: ObservedStack) -> ObservedStack {
    let role = d.role(RoleKind::ApiGateway).expect("the routes' role");
    observed.roles.insert(
        RoleKind::ApiGateway,
        Some(ObservedRole {
            name: role.name.clone(),
            arn: APIGW_ROLE.into(),
            managed_policies: Vec::new(),
            inline_policies: role.inline_policies.keys().cloned().collect(),
        }),
    );
    observed
}

#[test]
fn queue_routes_in_sync_need_no_step() {
    for s in [with_routes(spec()), with_routes(http_spec())] {
        let d = desired(&s, &["subnet-a", "subnet-b"]);
        let policy = &some(&d.role(RoleKind::ApiGateway).cloned()).inline_policies;
        assert!(
            policy
                .values()
                .all(|doc| doc.contains("sqs:SendMessage") && doc.contains(QUEUE)),
            "{policy:?}"
        );
        let plan = diff(&d, &with_api_gateway_role(&d, in_sync(&d)));
        assert_eq!(steps(&plan), [], "{:?}", s.api.api_type);
    }
}

#[test]
fn a_route_added_to_a_live_rest_api_is_built_parents_first_then_redeployed() {
    let before = desired(&spec(), &["subnet-a", "subnet-b"]);
    let after = desired(&with_routes(spec()), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&before);
    observed.roles.insert(RoleKind::ApiGateway, None);
    let plan = diff(&after, &observed);
    let names: Vec<(Verb, Part, String)> = plan
        .steps
        .iter()
        .map(|s| {
            (
                s.change.verb,
                s.change.part,
                format!("{} {}", s.change.name, s.change.detail),
            )
        })
        .collect();
    use Part::*;
    use Verb::*;
    let expected: Vec<(Verb, Part, &str)> = vec![
        (Create, IamRole, ""),
        (Update, IamRole, ""),
        (Create, ApiResource, "/orders "),
        (Create, ApiResource, "/orders/bulk "),
        (Create, ApiMethod, "POST /orders "),
        (Create, ApiMethod, "POST /orders 200 response"),
        (
            Update,
            ApiIntegration,
            "POST /orders SQS SendMessage to arn:aws:sqs:eu-west-1:123456789012:orders",
        ),
        (Create, ApiIntegration, "POST /orders 200 response"),
        (Create, ApiMethod, "PUT /orders/bulk "),
        (Create, ApiMethod, "PUT /orders/bulk 200 response"),
        (
            Update,
            ApiIntegration,
            "PUT /orders/bulk SQS SendMessage to arn:aws:sqs:eu-west-1:123456789012:orders",
        ),
        (Create, ApiIntegration, "PUT /orders/bulk 200 response"),
        (Create, ApiDeployment, ""),
        (Update, ApiStage, ""),
        (Delete, ApiDeployment, ""),
    ];
    assert_eq!(names.len(), expected.len(), "{names:#?}");
    for ((verb, part, text), (want_verb, want_part, want)) in names.iter().zip(&expected) {
        assert_eq!((verb, part), (want_verb, want_part), "{names:#?}");
        if matches!(part, ApiResource | ApiMethod | ApiIntegration) {
            assert_eq!(text, want, "{names:#?}");
        }
    }
    // /orders/bulk hangs below /orders, made in the same pass.
    let bulk = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::CreateRouteResource { parent, path_part, .. } if path_part == "bulk" => Some(parent.clone()),
            _ => None,
        })
        .expect("bulk resource");
    assert_eq!(bulk, Id::Of(Slot::RouteResource(0)));
}

#[test]
fn a_route_removed_goes_with_its_resources_then_its_role() {
    let with = desired(&with_routes(spec()), &["subnet-a", "subnet-b"]);
    let without = desired(&spec(), &["subnet-a", "subnet-b"]);
    let observed = with_api_gateway_role(&with, in_sync(&with));
    let plan = diff(&without, &observed);
    let deletes: Vec<(Part, String)> = plan
        .steps
        .iter()
        .filter(|s| s.change.verb == Verb::Delete)
        .map(|s| (s.change.part, s.change.name.clone()))
        .collect();
    // Only the topmost resource: AWS deletes what is below it.
    assert_eq!(
        deletes,
        [
            (Part::ApiResource, "/orders".to_owned()),
            (Part::ApiDeployment, "d-1".to_owned()),
            (Part::IamRole, some(&with.role(RoleKind::ApiGateway).cloned()).name),
        ],
        "{:#?}",
        plan.steps
    );
    let position = |part| plan.steps.iter().position(|s| s.change.part == part);
    assert!(
        position(Part::ApiStage) < position(Part::IamRole),
        "the stage moves before the role goes"
    );
}

#[test]
fn a_changed_method_replaces_the_method_on_the_same_resource() {
    let before = desired(&with_routes(spec()), &["subnet-a", "subnet-b"]);
    let mut changed = with_routes(spec());
    changed.api.routes[0].method = crate::crd::RouteMethod::Any;
    let after = desired(&changed, &["subnet-a", "subnet-b"]);
    let plan = diff(&after, &with_api_gateway_role(&before, in_sync(&before)));
    let parts: Vec<(Verb, Part, String)> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.change.part, Part::ApiMethod | Part::ApiResource))
        .map(|s| (s.change.verb, s.change.part, s.change.name.clone()))
        .collect();
    assert!(
        parts.contains(&(Verb::Create, Part::ApiMethod, "ANY /orders".into())),
        "{parts:?}"
    );
    assert!(
        parts.contains(&(Verb::Delete, Part::ApiMethod, "POST /orders".into())),
        "{parts:?}"
    );
    assert!(
        !parts.iter().any(|(_, part, _)| *part == Part::ApiResource),
        "{parts:?}"
    );
}

#[test]
fn an_http_queue_route_gets_its_own_integration_and_a_lost_create_is_adopted() {
    let s = with_routes(http_spec());
    let d = desired(&s, &["subnet-a", "subnet-b"]);
    let before = desired(&http_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = with_api_gateway_role(&d, in_sync(&before));
    let plan = diff(&d, &observed);
    let made: Vec<(Part, String)> = plan
        .steps
        .iter()
        .map(|s| (s.change.part, s.change.name.clone()))
        .collect();
    assert_eq!(
        made,
        [
            (Part::ApiIntegration, "POST /orders".to_owned()),
            (Part::ApiRoute, "POST /orders".to_owned()),
            (Part::ApiIntegration, "PUT /orders/bulk".to_owned()),
            (Part::ApiRoute, "PUT /orders/bulk".to_owned()),
        ]
    );
    // The first CreateIntegration's answer was lost: the next pass routes to it.
    let route = d.http_api.as_ref().expect("http api").routes[0]
        .try_map(|_| Some(APIGW_ROLE.to_owned()))
        .expect("role");
    if let Seen::Read(Some(details)) = &mut observed.http_details {
        details.integrations.push(sending("lost", &route));
    }
    let plan = diff(&d, &observed);
    assert!(
        plan.steps.iter().any(|s| s.action
            == Action::CreateRoute {
                key: "POST /orders".into(),
                integration: Slot::QueueIntegration(0),
                auth: Auth::none(),
            }),
        "{:#?}",
        plan.steps
    );
    assert_eq!(plan.refs.slot(Slot::QueueIntegration(0)), Some("lost"));
    let creates = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::CreateQueueIntegration { .. }))
        .count();
    assert_eq!(creates, 1, "only the second route's integration is new");
}

// ------------------------------------------------------------ Route 53 records

fn dns_spec() -> PrivateApiSpec {
    let mut s = domain_spec();
    if let Some(d) = &mut s.api.domain {
        d.hosted_zone_id = Some("ZONE1".into());
    }
    s
}

fn record(name: &str, owner: Option<&str>, ours: bool) -> crate::aws::dns::ObservedRecord {
    crate::aws::dns::ObservedRecord {
        zone_id: "ZONE1".into(),
        name: name.into(),
        alias: Some(("d-1.execute-api.eu-west-1.amazonaws.com.".into(), "Z1".into())),
        plain_a: false,
        owner: owner.map(crate::aws::dns::owner_value),
        ours,
    }
}

#[test]
fn the_domain_s_alias_record_is_written_once_and_then_left_alone() {
    let d = desired(&dns_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = with_domain(&d, in_sync(&d));
    observed.records = Seen::Read(Vec::new());
    let plan = diff(&d, &observed);
    assert_eq!(
        steps(&plan),
        [(
            Verb::Create,
            Part::DnsRecord,
            "alias A → d-1.execute-api.eu-west-1.amazonaws.com in ZONE1".to_owned()
        )]
    );
    observed.records = Seen::Read(vec![record("api.example.com", Some("uid-1"), true)]);
    assert_eq!(steps(&diff(&d, &observed)), []);
    // Pointed elsewhere behind our back: pointed back.
    let mut moved = record("api.example.com", Some("uid-1"), true);
    moved.alias = Some(("elsewhere.example.com.".into(), "Z9".into()));
    observed.records = Seen::Read(vec![moved]);
    assert_eq!(verbs_and_parts(&diff(&d, &observed)), [(Verb::Update, Part::DnsRecord)]);
}

#[test]
fn someone_else_s_record_stalls_the_pass_without_a_write_to_the_zone() {
    let d = desired(&dns_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = with_domain(&d, in_sync(&d));
    for foreign in [
        record("api.example.com", None, false),
        record("api.example.com", Some("uid-2"), false),
    ] {
        observed.records = Seen::Read(vec![foreign]);
        let plan = diff(&d, &observed);
        let stuck = plan.stuck.as_ref().expect("stuck");
        assert_eq!((stuck.part, stuck.reason), (Part::DnsRecord, "DnsRecordTaken"));
        assert!(
            stuck.message.contains("_privateapi.api.example.com"),
            "{}",
            stuck.message
        );
        assert!(!plan.steps.iter().any(|s| s.change.part == Part::DnsRecord));
    }
}

#[test]
fn our_records_go_before_their_domain_and_a_renamed_domain_s_record_with_it() {
    let d = desired(&dns_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = with_domain(&d, in_sync(&d));
    observed.records = Seen::Read(vec![record("api.example.com", Some("uid-1"), true)]);
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let teardown = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&teardown)[..3],
        [
            (Verb::Delete, Part::DnsRecord),
            (Verb::Delete, Part::DomainName),
            (Verb::Delete, Part::RestApi)
        ]
    );
    let mut renamed = dns_spec();
    if let Some(domain) = &mut renamed.api.domain {
        domain.name = "new.example.com".into();
    }
    let r = desired(&renamed, &["subnet-a", "subnet-b"]);
    let mut observed = with_domain(&d, in_sync(&d));
    observed.records = Seen::Read(vec![record("api.example.com", Some("uid-1"), true)]);
    let plan = diff(&r, &observed);
    let dns: Vec<(Verb, String)> = plan
        .steps
        .iter()
        .filter(|s| s.change.part == Part::DnsRecord)
        .map(|s| (s.change.verb, s.change.name.clone()))
        .collect();
    assert_eq!(
        dns,
        [
            (Verb::Delete, "api.example.com".to_owned()),
            (Verb::Create, "new.example.com".to_owned())
        ]
    );
}

// ------------------------------------------------------------ log group

type SeenGroup = Seen<Option<crate::aws::log_group::ObservedLogGroup>>;

fn log_group(retention_days: Option<i32>) -> SeenGroup {
    Seen::Read(Some(crate::aws::log_group::ObservedLogGroup {
        name: "/ecs/privateapi/shop/orders".into(),
        retention_days,
    }))
}

#[test]
fn the_log_group_is_made_before_the_service_and_keeps_its_retention() {
    let mut s = spec();
    s.service.logs.retention_days = 90;
    let d = desired(&s, &["subnet-a", "subnet-b"]);
    let wanted = some(&d.log_group);
    assert_eq!(wanted.name, "/ecs/privateapi/shop/orders");
    assert_eq!(wanted.retention_days, 90);
    assert_eq!(
        wanted.tags.get(crate::aws::ownership::TAG_UID).map(String::as_str),
        Some("uid-1")
    );
    type Case = (&'static str, SeenGroup, Vec<(Verb, Part, String)>);
    let cases: Vec<Case> = vec![
        ("in sync", log_group(Some(90)), vec![]),
        ("not read (a drift check)", Seen::Unread, vec![]),
        (
            "missing",
            Seen::Read(None),
            vec![(Verb::Create, Part::LogGroup, "retention 90 days".into())],
        ),
        (
            "another retention",
            log_group(Some(30)),
            vec![(Verb::Update, Part::LogGroup, "retention 30 days → 90 days".into())],
        ),
        (
            "made by the awslogs driver of an older stack: never expires",
            log_group(None),
            vec![(Verb::Update, Part::LogGroup, "retention never expires → 90 days".into())],
        ),
    ];
    for (case, observed_group, expected) in cases {
        let mut observed = in_sync(&d);
        observed.log_group = observed_group;
        let plan = diff(&d, &observed);
        assert_eq!(steps(&plan), expected, "{case}");
        match plan.steps.first().map(|s| &s.action) {
            Some(Action::CreateLogGroup(group)) => assert_eq!(group, &wanted),
            Some(Action::SetLogRetention { name, days }) => assert_eq!((name, *days), (&wanted.name, 90)),
            Some(other) => panic!("{case}: {other:?}"),
            None => {}
        }
    }
    // Nothing of the stack yet: the group comes before the task definition and service.
    let mut nothing = in_sync(&d);
    nothing.log_group = Seen::Read(None);
    nothing.task_definitions = Seen::Read(TaskDefinitions::default());
    nothing.service = Seen::Read(None);
    let parts: Vec<Part> = diff(&d, &nothing).steps.iter().map(|s| s.change.part).collect();
    let at = |part| parts.iter().position(|p| *p == part);
    assert!(at(Part::LogGroup) < at(Part::TaskDefinition), "{parts:?}");
    assert!(at(Part::LogGroup) < at(Part::EcsService), "{parts:?}");
}

#[test]
fn teardown_deletes_the_log_group_last_unless_it_was_not_read() {
    let d = desired(&spec(), &["subnet-a", "subnet-b"]);
    // While the service still runs, its tasks write: the group stays.
    let mut early = in_sync(&d);
    early.log_group = log_group(Some(30));
    let first = diff(&DesiredStack::empty(), &early);
    assert!(!verbs_and_parts(&first).contains(&(Verb::Delete, Part::LogGroup)));
    // The slow parts gone: deleted with the roles and the cluster.
    let mut later = in_sync(&d);
    later.vpc_links = Seen::Read(Vec::new());
    later.service = Seen::Read(None);
    later.load_balancer = Seen::Read(None);
    later.rest_apis = Seen::Read(Vec::new());
    later.log_group = log_group(Some(30));
    let last = diff(&DesiredStack::empty(), &later);
    let deleted: Vec<&Action> = last
        .steps
        .iter()
        .filter(|s| s.change.part == Part::LogGroup)
        .map(|s| &s.action)
        .collect();
    assert_eq!(deleted, [&Action::DeleteLogGroup("/ecs/privateapi/shop/orders".into())]);
    // `service.logs.deletionPolicy: Retain`: teardown does not read it, and leaves it.
    later.log_group = Seen::Unread;
    let kept = diff(&DesiredStack::empty(), &later);
    assert!(kept.steps.iter().all(|s| s.change.part != Part::LogGroup));
    // Already gone: nothing to do.
    later.log_group = Seen::Read(None);
    assert!(
        diff(&DesiredStack::empty(), &later)
            .steps
            .iter()
            .all(|s| s.change.part != Part::LogGroup)
    );
}

// ------------------------------------------------------------ authorization

const POOL: &str = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC";
const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:authz";

fn authorized(mut s: PrivateApiSpec, yaml: &str) -> PrivateApiSpec {
    s.api.authorization = serde_norway::from_str(yaml).expect("authorization parses");
    s
}

fn cognito() -> &'static str {
    "{type: COGNITO, cognito: {userPoolArns: [arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC], scopes: [orders/write]}}"
}

fn lambda(ttl: i32) -> String {
    format!("{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}', resultTtlSeconds: {ttl}}}}}")
}

fn jwt(audience: &str) -> String {
    format!("{{type: JWT, jwt: {{issuer: 'https://issuer.example.com', audiences: [{audience}]}}}}")
}

/// AWS holding exactly what `d` wants, the API Gateway role included when wanted.
fn in_sync_with_role(d: &DesiredStack) -> ObservedStack {
    let observed = in_sync(d);
    match d.role(RoleKind::ApiGateway) {
        Some(_) => with_api_gateway_role(d, observed),
        None => observed,
    }
}

fn named(plan: &Plan) -> Vec<(Verb, Part, String)> {
    plan.steps
        .iter()
        .map(|s| (s.change.verb, s.change.part, s.change.name.clone()))
        .collect()
}

#[test]
fn every_authorization_type_in_sync_needs_no_step() {
    let cases = [
        authorized(with_routes(spec()), "{type: IAM}"),
        authorized(with_routes(spec()), cognito()),
        authorized(with_routes(spec()), &lambda(300)),
        authorized(with_routes(http_spec()), "{type: IAM}"),
        authorized(with_routes(http_spec()), &jwt("orders")),
        authorized(with_routes(http_spec()), &lambda(0)),
    ];
    for s in cases {
        let d = desired(&s, &["subnet-a", "subnet-b"]);
        let plan = diff(&d, &in_sync_with_role(&d));
        assert_eq!(steps(&plan), [], "{:?}", s.api.authorization);
        let ready = plan.parts.iter().filter(|p| p.ready).count();
        assert_eq!(ready, Condition::ALL.len(), "{:?}", plan.parts);
    }
}

#[test]
fn a_lambda_authorizer_is_invoked_through_our_role_allowed_exactly_that_function() {
    for s in [authorized(spec(), &lambda(300)), authorized(http_spec(), &lambda(300))] {
        let d = desired(&s, &["subnet-a", "subnet-b"]);
        let role = d.role(RoleKind::ApiGateway).expect("API Gateway's role");
        let documents: Vec<&String> = role.inline_policies.values().collect();
        assert_eq!(documents.len(), 1, "{documents:?}");
        let document: serde_json::Value = serde_json::from_str(documents[0]).expect("JSON");
        assert_eq!(document["Statement"][0]["Action"], "lambda:InvokeFunction");
        assert_eq!(document["Statement"][0]["Resource"], FUNCTION);
        let authorizer = match (&d.api, &d.http_api) {
            (Some(api), _) => api.authorizer.clone(),
            (_, Some(api)) => api.authorizer.clone(),
            _ => None,
        };
        let authorizer = authorizer.expect("an authorizer");
        assert_eq!(authorizer.credentials, Some(Id::Of(Slot::Role(RoleKind::ApiGateway))));
    }
    // No role for the other types (none for the API without queue routes).
    for yaml in ["{type: IAM}", cognito()] {
        let d = desired(&authorized(spec(), yaml), &["subnet-a", "subnet-b"]);
        assert!(d.role(RoleKind::ApiGateway).is_none(), "{yaml}");
    }
}

#[test]
fn turning_authorization_on_makes_the_authorizer_first_sets_every_method_and_redeploys_once() {
    let before = desired(&with_routes(spec()), &["subnet-a", "subnet-b"]);
    let after = desired(&authorized(with_routes(spec()), cognito()), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync_with_role(&before);
    observed.authorizers = Seen::Read(Vec::new());
    let plan = diff(&after, &observed);
    let name = some(&after.api).authorizer.expect("authorizer").name();
    use Part::*;
    use Verb::*;
    assert_eq!(
        named(&plan),
        [
            (Create, Authorizer, name),
            (Update, ApiMethod, "ANY /".into()),
            (Update, ApiMethod, "ANY /{proxy+}".into()),
            (Update, ApiMethod, "POST /orders".into()),
            (Update, ApiMethod, "PUT /orders/bulk".into()),
            (Create, ApiDeployment, "api-1".into()),
            (Update, ApiStage, "prod".into()),
            (Delete, ApiDeployment, "d-1".into()),
        ]
    );
    let detail = &plan.steps[1].change.detail;
    assert!(
        detail.contains("COGNITO_USER_POOLS")
            && detail.contains("<authorizer id after apply>")
            && detail.contains("orders/write"),
        "{detail}"
    );
    match &plan.steps[0].action {
        Action::CreateAuthorizer(a) => {
            assert_eq!(
                (a.kind, a.provider_arns.clone()),
                ("COGNITO_USER_POOLS", vec![POOL.to_owned()])
            );
            assert_eq!(a.identity_source, "method.request.header.Authorization");
        }
        other => panic!("{other:?}"),
    }
    // A new API gets its methods with the authorization at once.
    let mut fresh = in_sync_with_role(&after);
    if let Seen::Read(Some(api)) = &mut fresh.api {
        api.proxy = None;
    }
    let plan = diff(&after, &fresh);
    let put = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::PutMethod { auth, proxy: true, .. } => Some(auth.clone()),
            _ => None,
        })
        .expect("ANY /{proxy+} is put");
    assert_eq!(put.method, "COGNITO_USER_POOLS");
    assert_eq!(put.authorizer, Some(Id::Of(Slot::Authorizer)));
}

#[test]
fn each_rest_authorization_change_is_repaired_and_only_ours_are_deleted() {
    let s = authorized(spec(), &lambda(300));
    let d = desired(&s, &["subnet-a", "subnet-b"]);
    let synced = in_sync_with_role(&d);
    let ours = |o: &ObservedStack| match &o.authorizers {
        Seen::Read(found) => found[0].clone(),
        Seen::Unread => panic!("read"),
    };
    let kept = ours(&synced);
    use Part::*;
    use Verb::*;
    type Case = (
        &'static str,
        PrivateApiSpec,
        Box<dyn Fn(&mut ObservedStack)>,
        Vec<(Verb, Part)>,
    );
    let cases: Vec<Case> = vec![
        (
            "cache time changed: a new authorizer, the methods move, one redeploy, the old one goes",
            authorized(spec(), &lambda(60)),
            Box::new(|_| {}),
            vec![
                (Create, Authorizer),
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
                (Delete, Authorizer),
            ],
        ),
        (
            "function changed",
            authorized(
                spec(),
                "{type: LAMBDA, lambda: {functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:other'}}",
            ),
            Box::new(|_| {}),
            vec![
                (Update, IamRole),
                (Update, IamRole),
                (Create, Authorizer),
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
                (Delete, Authorizer),
            ],
        ),
        (
            "type changed to IAM: no authorizer, the role goes last",
            authorized(spec(), "{type: IAM}"),
            Box::new(|_| {}),
            vec![
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
                (Delete, Authorizer),
                (Delete, IamRole),
            ],
        ),
        (
            "back to NONE",
            spec(),
            Box::new(|_| {}),
            vec![
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
                (Delete, Authorizer),
                (Delete, IamRole),
            ],
        ),
        (
            "a method's authorization changed by hand: set back (the stage's snapshot is ours)",
            s.clone(),
            Box::new(|o| {
                if let Seen::Read(Some(api)) = &mut o.api
                    && let Some(proxy) = &mut api.proxy
                {
                    proxy.auth.method = "NONE".into();
                }
            }),
            vec![(Update, ApiMethod)],
        ),
        (
            "our authorizer edited by hand: replaced",
            s.clone(),
            Box::new(|o| {
                if let Seen::Read(found) = &mut o.authorizers {
                    found[0].ttl = Some(1);
                }
            }),
            vec![
                (Create, Authorizer),
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
                (Delete, Authorizer),
            ],
        ),
        (
            "a leftover of ours: deleted",
            s.clone(),
            Box::new(move |o| {
                if let Seen::Read(found) = &mut o.authorizers {
                    found.push(authorizer::ObservedAuthorizer {
                        id: "az-old".into(),
                        name: "privateapi-0123456789abcdef".into(),
                        ..kept.clone()
                    });
                }
            }),
            vec![(Delete, Authorizer)],
        ),
        (
            "someone else's look-alike on our API: left alone",
            s.clone(),
            Box::new(|o| {
                if let Seen::Read(found) = &mut o.authorizers {
                    let mine = found[0].clone();
                    found.push(authorizer::ObservedAuthorizer {
                        id: "az-theirs".into(),
                        name: "team-authorizer".into(),
                        ..mine
                    });
                }
            }),
            vec![],
        ),
        (
            "only a look-alike (ours gone): ours is made, theirs left alone",
            s.clone(),
            Box::new(|o| {
                if let Seen::Read(found) = &mut o.authorizers {
                    found[0].name = "team-authorizer".into();
                    found[0].id = "az-theirs".into();
                }
            }),
            vec![
                (Create, Authorizer),
                (Update, ApiMethod),
                (Update, ApiMethod),
                (Create, ApiDeployment),
                (Update, ApiStage),
                (Delete, ApiDeployment),
            ],
        ),
    ];
    for (what, spec, edit, expected) in cases {
        let wanted = desired(&spec, &["subnet-a", "subnet-b"]);
        let mut observed = synced.clone();
        edit(&mut observed);
        let plan = diff(&wanted, &observed);
        assert_eq!(verbs_and_parts(&plan), expected, "{what}: {:#?}", named(&plan));
        for step in &plan.steps {
            if let Action::DeleteAuthorizer { id, .. } = &step.action {
                assert!(id != "az-theirs", "{what}: deleted someone else's authorizer");
            }
        }
    }
}

#[test]
fn each_http_authorization_change_moves_the_routes() {
    let s = authorized(http_spec(), &jwt("orders"));
    let d = desired(&s, &["subnet-a", "subnet-b"]);
    let synced = in_sync_with_role(&d);
    use Part::*;
    use Verb::*;
    type Case = (&'static str, PrivateApiSpec, Vec<(Verb, Part)>);
    let cases: Vec<Case> = vec![
        (
            "an audience added: a new authorizer, both routes move, the old one goes",
            authorized(http_spec(), &jwt("orders, admin")),
            vec![
                (Create, Authorizer),
                (Update, ApiRoute),
                (Update, ApiRoute),
                (Delete, Authorizer),
            ],
        ),
        (
            "IAM",
            authorized(http_spec(), "{type: IAM}"),
            vec![(Update, ApiRoute), (Update, ApiRoute), (Delete, Authorizer)],
        ),
        (
            "back to NONE",
            http_spec(),
            vec![(Update, ApiRoute), (Update, ApiRoute), (Delete, Authorizer)],
        ),
        (
            "LAMBDA: the role first",
            authorized(http_spec(), &lambda(0)),
            vec![
                (Create, IamRole),
                (Update, IamRole),
                (Create, Authorizer),
                (Update, ApiRoute),
                (Update, ApiRoute),
                (Delete, Authorizer),
            ],
        ),
    ];
    for (what, spec, expected) in cases {
        let wanted = desired(&spec, &["subnet-a", "subnet-b"]);
        let mut observed = synced.clone();
        observed.roles.insert(RoleKind::ApiGateway, None);
        let plan = diff(&wanted, &observed);
        assert_eq!(verbs_and_parts(&plan), expected, "{what}: {:#?}", named(&plan));
    }
    // A new route gets the authorization at once.
    let mut observed = synced.clone();
    if let Seen::Read(Some(details)) = &mut observed.http_details {
        details.routes.remove(0);
    }
    let plan = diff(&d, &observed);
    match &plan.steps[..] {
        [step] => match &step.action {
            Action::CreateRoute { auth, .. } => {
                assert_eq!(
                    (auth.method, auth.authorizer.clone()),
                    ("JWT", Some(Id::Of(Slot::Authorizer)))
                );
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:#?}"),
    }
}

#[test]
fn unread_authorizers_are_left_alone_and_known_from_the_status() {
    let d = desired(&authorized(spec(), cognito()), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.authorizers = Seen::Unread;
    let mut recorded = Refs::default();
    recorded.set(Slot::Authorizer, "az-1");
    let plan = diff_knowing(&d, &observed, recorded);
    assert_eq!(steps(&plan), []);
    // Without the status's word, the methods look out of sync: a full pass follows.
    let plan = diff(&d, &observed);
    assert!(
        plan.steps.iter().all(|s| s.change.part != Part::Authorizer),
        "{:#?}",
        plan.steps
    );
    assert!(!plan.steps.is_empty());
}

// ------------------------------------------------------------ resource policy, PRIVATE

const VPCE: &str = "vpce-0a1b2c3d4e5f6a7b8";

fn private_spec(endpoints: &[&str]) -> PrivateApiSpec {
    let mut s = spec();
    s.api.endpoint_type = crate::crd::EndpointType::Private;
    s.api.vpc_endpoint_ids = endpoints.iter().map(|e| e.to_string()).collect();
    s
}

/// AWS holding `d`'s REST API as listed: its policy as AWS rewrites it.
fn with_listing(d: &DesiredStack, mut observed: ObservedStack) -> ObservedStack {
    let api = some(&d.api);
    let policy = api.policy.as_ref().map(|p| {
        p.replace("execute-api:/*", "arn:aws:execute-api:eu-west-1:123456789012:api-1/*")
            .replace('"', "\\\"")
    });
    observed.rest_api_listed = Seen::Read(Some(rest_api::ListedApi {
        id: "api-1".into(),
        created: 1,
        uid: Some("uid-1".into()),
        policy,
        vpc_endpoint_ids: api.vpc_endpoint_ids.clone(),
    }));
    observed
}

#[test]
fn a_new_private_api_gets_its_endpoints_at_create_and_its_policy_before_the_deployment() {
    let d = desired(&private_spec(&[VPCE]), &["subnet-a", "subnet-b"]);
    let api = some(&d.api);
    assert_eq!(api.vpc_endpoint_ids, [VPCE]);
    let policy = api.policy.clone().expect("a PRIVATE API has a policy");
    assert!(policy.contains(VPCE) && policy.contains("aws:SourceVpce"), "{policy}");
    let mut observed = in_sync(&d);
    observed.rest_apis = Seen::Read(Vec::new());
    observed.api = Seen::Read(None);
    observed.stages = Seen::Read(Vec::new());
    observed.deployments = Seen::Read(Vec::new());
    observed.rest_api_listed = Seen::Read(None);
    let plan = diff(&d, &observed);
    let at = |wanted: fn(&Action) -> bool| plan.steps.iter().position(|s| wanted(&s.action));
    let create = at(|a| matches!(a, Action::CreateRestApi(_))).expect("create");
    let policy = at(|a| matches!(a, Action::SetApiPolicy(Some(_)))).expect("policy");
    let deploy = at(|a| matches!(a, Action::CreateDeployment(_))).expect("deployment");
    assert!(create < policy && policy < deploy, "{:#?}", named(&plan));
    assert!(
        at(|a| matches!(a, Action::SetApiEndpoints { .. })).is_none(),
        "the create names them"
    );
}

#[test]
fn each_resource_policy_change_is_repaired_and_redeployed_once() {
    let base = private_spec(&[VPCE]);
    let d = desired(&base, &["subnet-a", "subnet-b"]);
    let synced = with_listing(&d, in_sync(&d));
    assert_eq!(steps(&diff(&d, &synced)), [], "AWS's rewritten policy is ours");
    use Part::*;
    use Verb::*;
    let redeploy = [(Create, ApiDeployment), (Update, ApiStage), (Delete, ApiDeployment)];
    let mut two = base.clone();
    two.api.vpc_endpoint_ids.push("vpce-0b0b0b0b0b0b0b0b0".into());
    let mut ips = base.clone();
    ips.api.resource_policy = Some(crate::crd::ResourcePolicySpec {
        source_ips: vec!["10.0.0.0/16".into()],
        vpc_endpoint_ids: Vec::new(),
    });
    type Case = (
        &'static str,
        PrivateApiSpec,
        Box<dyn Fn(&mut ObservedStack)>,
        Vec<(Verb, Part)>,
    );
    let cases: Vec<Case> = vec![
        (
            "an endpoint added: the policy, the association, one redeploy",
            two,
            Box::new(|_| {}),
            [(Update, RestApi), (Update, RestApi)]
                .into_iter()
                .chain(redeploy)
                .collect(),
        ),
        (
            "source addresses added",
            ips,
            Box::new(|_| {}),
            [(Update, RestApi)].into_iter().chain(redeploy).collect(),
        ),
        (
            "the policy edited by hand: written back (the stage's deployment is ours)",
            base.clone(),
            Box::new(|o| {
                if let Seen::Read(Some(api)) = &mut o.rest_api_listed {
                    api.policy = Some("{}".into());
                }
            }),
            vec![(Update, RestApi)],
        ),
        (
            "an endpoint dissociated by hand: associated again",
            base.clone(),
            Box::new(|o| {
                if let Seen::Read(Some(api)) = &mut o.rest_api_listed {
                    api.vpc_endpoint_ids.clear();
                }
            }),
            vec![(Update, RestApi)],
        ),
        (
            "not read (a drift check): left alone",
            base.clone(),
            Box::new(|o| o.rest_api_listed = Seen::Unread),
            vec![],
        ),
    ];
    for (what, spec, edit, expected) in cases {
        let wanted = desired(&spec, &["subnet-a", "subnet-b"]);
        let mut observed = synced.clone();
        edit(&mut observed);
        let plan = diff(&wanted, &observed);
        assert_eq!(verbs_and_parts(&plan), expected, "{what}: {:#?}", named(&plan));
    }
    // A REGIONAL API's policy removed: written empty, redeployed once.
    let mut regional = spec();
    regional.api.resource_policy = Some(crate::crd::ResourcePolicySpec {
        source_ips: vec!["203.0.113.0/24".into()],
        vpc_endpoint_ids: Vec::new(),
    });
    let with = desired(&regional, &["subnet-a", "subnet-b"]);
    let observed = with_listing(&with, in_sync(&with));
    assert_eq!(steps(&diff(&with, &observed)), []);
    let without = desired(&spec(), &["subnet-a", "subnet-b"]);
    let plan = diff(&without, &observed);
    assert_eq!(plan.steps[0].action, Action::SetApiPolicy(None));
    assert_eq!(
        verbs_and_parts(&plan),
        [(Update, RestApi)].into_iter().chain(redeploy).collect::<Vec<_>>()
    );
}

#[test]
fn an_nlb_in_front_of_the_alb_in_sync_needs_no_step_and_is_what_link_and_api_reach() {
    let d = desired(&front_spec(), &["subnet-a", "subnet-b"]);
    let roles: Vec<GroupRole> = d.groups.iter().map(|g| g.role).collect();
    assert_eq!(roles, [GroupRole::LoadBalancer, GroupRole::Tasks, GroupRole::Front]);
    let Some(LinkWanted::OwnedV1(link)) = &d.vpc_link else {
        panic!("a V1 link of our own");
    };
    assert_eq!(link.target, Id::Of(Slot::FrontLoadBalancer));
    assert!(
        some(&d.load_balancer).private_link_inbound_rules,
        "the ALB is not PrivateLink's"
    );
    let front = some(&d.front);
    assert!(!front.load_balancer.private_link_inbound_rules);
    assert_eq!(
        front.target_group.port,
        some(&d.listener).port,
        "AWS: the ALB's listener port"
    );
    assert_eq!(
        front.target_group.health,
        spec().service.health_check,
        "HTTP checks through the ALB"
    );
    let api = some(&d.api).try_map(|id| ids().get(id)).expect("resolves");
    let [(_, root), _] = api.integrations();
    assert_eq!(root.connection_id, "vl-1");
    assert!(root.uri.contains(FRONT_DNS), "{}", root.uri);
    assert_eq!(root.integration_target, "");
    let plan = diff(&d, &in_sync(&d));
    assert_eq!(steps(&plan), []);
    let ready = plan.parts.iter().filter(|p| p.ready).count();
    assert_eq!(ready, Condition::ALL.len(), "{:?}", plan.parts);
}

#[test]
fn nothing_in_aws_builds_the_alb_then_the_nlb_in_front_then_registers_it_then_the_link() {
    let d = desired(&front_spec(), &["subnet-a", "subnet-b"]);
    let mut nothing = in_sync(&d);
    nothing.target_group = Seen::Read(None);
    nothing.load_balancer = Seen::Read(None);
    nothing.listeners = Seen::Read(Vec::new());
    nothing.front = ObservedFront {
        target_group: Seen::Read(None),
        load_balancer: Seen::Read(None),
        listeners: Seen::Read(Vec::new()),
        targets: Seen::Read(Vec::new()),
    };
    nothing.vpc_links_v1 = Seen::Read(Vec::new());
    let plan = diff_knowing(&d, &nothing, Refs::default());
    let elb_and_link: Vec<(Verb, Part)> = verbs_and_parts(&plan)
        .into_iter()
        .filter(|(_, p)| {
            matches!(
                p,
                Part::TargetGroup | Part::LoadBalancer | Part::Listener | Part::VpcLink
            )
        })
        .collect();
    use Part::*;
    assert_eq!(
        elb_and_link,
        [
            (Verb::Create, TargetGroup),
            (Verb::Create, LoadBalancer),
            (Verb::Create, Listener),
            (Verb::Create, TargetGroup),
            (Verb::Create, LoadBalancer),
            (Verb::Update, LoadBalancer),
            (Verb::Create, Listener),
            (Verb::Update, TargetGroup),
            (Verb::Create, VpcLink),
        ]
    );
    let tiers: Vec<Tier> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::CreateTargetGroup { tier, .. }
            | Action::CreateLoadBalancer { tier, .. }
            | Action::CreateListener { tier, .. } => Some(*tier),
            _ => None,
        })
        .collect();
    assert_eq!(
        tiers,
        [Tier::Back; 3].into_iter().chain([Tier::Front; 3]).collect::<Vec<_>>()
    );
    let register = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::RegisterTarget { .. }))
        .expect("the ALB is registered");
    assert_eq!(
        register.action,
        Action::RegisterTarget {
            target_group: Id::Of(Slot::FrontTargetGroup),
            target: Id::Of(Slot::LoadBalancer),
            port: 80,
        }
    );
    assert!(
        register.change.detail.contains("after apply"),
        "{}",
        register.change.detail
    );
}

/// Drift of the front NLB's parts, one at a time, and the one step that repairs it.
#[test]
fn each_drift_of_the_nlb_in_front_is_repaired_alone() {
    let d = desired(&front_spec(), &["subnet-a", "subnet-b"]);
    type Edit = fn(&mut ObservedFront);
    type Repairs = fn(&Action) -> bool;
    let cases: Vec<(&str, Edit, (Verb, Part), Repairs)> = vec![
        (
            "the ALB deregistered",
            |f| f.targets = Seen::Read(Vec::new()),
            (Verb::Update, Part::TargetGroup),
            |a| matches!(a, Action::RegisterTarget { .. }),
        ),
        (
            "health check changed",
            |f| {
                if let Seen::Read(Some(tg)) = &mut f.target_group {
                    tg.health.path = "/elsewhere".into();
                }
            },
            (Verb::Update, Part::TargetGroup),
            |a| matches!(a, Action::ModifyHealthCheck { arn, .. } if arn == FRONT_TG),
        ),
        (
            "PrivateLink traffic judged again",
            |f| {
                if let Seen::Read(Some(lb)) = &mut f.load_balancer {
                    lb.private_link_inbound_rules = Some(true);
                }
            },
            (Verb::Update, Part::LoadBalancer),
            |a| matches!(a, Action::SetSecurityGroups { arn: Id::Given(arn), private_link_inbound_rules: Some(false), .. } if arn == FRONT_LB),
        ),
        (
            "listener forwards elsewhere",
            |f| {
                if let Seen::Read(listeners) = &mut f.listeners {
                    listeners[0].forwards_to = vec!["arn:other".into()];
                }
            },
            (Verb::Update, Part::Listener),
            |a| matches!(a, Action::ModifyListener { arn, .. } if arn == FRONT_LISTENER),
        ),
        (
            "listener deleted",
            |f| f.listeners = Seen::Read(Vec::new()),
            (Verb::Create, Part::Listener),
            |a| matches!(a, Action::CreateListener { tier: Tier::Front, .. }),
        ),
    ];
    for (name, edit, expected, action) in cases {
        let mut observed = in_sync(&d);
        edit(&mut observed.front);
        let plan = diff(&d, &observed);
        assert_eq!(verbs_and_parts(&plan), [expected], "{name}");
        assert!(action(&plan.steps[0].action), "{name}: {:?}", plan.steps[0].action);
    }
}

#[test]
fn teardown_deletes_the_nlb_in_front_before_the_alb_and_the_groups_after_both() {
    let d = desired(&front_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    observed.vpc_links_v1 = Seen::Read(Vec::new());
    observed.service = Seen::Read(None);
    observed.rest_apis = Seen::Read(Vec::new());
    observed.api = Seen::Read(None);
    let plan = diff(&DesiredStack::empty(), &observed);
    let deleted: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::DeleteListener(arn) | Action::DeleteTargetGroup(arn) | Action::DeleteLoadBalancer(arn) => {
                Some(arn.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [FRONT_LISTENER, FRONT_TG, FRONT_LB, LISTENER, TG, LB]);
    assert!(
        plan.waiting.iter().any(|w| w.starts_with("NLB papi-nlb")),
        "{:?}",
        plan.waiting
    );
    assert!(
        plan.waiting.iter().any(|w| w.starts_with("ALB papi-lb")),
        "{:?}",
        plan.waiting
    );
    assert!(
        !plan.steps.iter().any(|s| s.change.part == Part::SecurityGroup),
        "groups wait for both load balancers"
    );
    // The ALB gone but not the NLB in front: the groups still wait.
    observed.load_balancer = Seen::Read(None);
    let plan = diff(&DesiredStack::empty(), &observed);
    assert!(!plan.steps.iter().any(|s| s.change.part == Part::SecurityGroup));
    observed.front.load_balancer = Seen::Read(None);
    let plan = diff(&DesiredStack::empty(), &observed);
    assert!(plan.steps.iter().any(|s| s.change.part == Part::SecurityGroup));
}

// ------------------------------------------------------------ shared VPC links

fn shared_spec() -> PrivateApiSpec {
    let mut s = spec();
    s.vpc_link.shared = true;
    s
}

/// A shared link of network `key` made at `created`, with its group `sg-link` (the
/// first one's; `sg-<id>` for the others).
fn shared(id: &str, key: &str, created: i64, users: &[&str]) -> crate::aws::shared_link::ObservedSharedLink {
    crate::aws::shared_link::ObservedSharedLink {
        id: id.into(),
        key: key.into(),
        state: LinkState::Available,
        message: None,
        created,
        users: users.iter().map(|u| u.to_string()).collect(),
        security_groups: vec![if id == "vl-1" {
            "sg-link".into()
        } else {
            format!("sg-{id}")
        }],
    }
}

fn shared_links(observed: &mut ObservedStack) -> &mut SharedLinks {
    match &mut observed.shared_links {
        Seen::Read(s) => s,
        Seen::Unread => panic!("shared links read"),
    }
}

fn position(plan: &Plan, verb: Verb, part: Part) -> usize {
    plan.steps
        .iter()
        .position(|s| (s.change.verb, s.change.part) == (verb, part))
        .unwrap_or_else(|| panic!("no {verb:?} {part:?} in {:?}", steps(plan)))
}

#[test]
fn a_stack_on_a_shared_link_in_sync_needs_no_step() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    assert!(d.groups.iter().all(|g| g.role != GroupRole::VpcLink));
    let plan = diff(&d, &in_sync(&d));
    assert_eq!(steps(&plan), []);
    assert!(plan.parts.iter().all(|p| p.ready), "{:?}", plan.parts);
    let link = plan
        .parts
        .iter()
        .find(|p| p.condition == Condition::VpcLink)
        .expect("link part");
    assert_eq!(link.message, "VPC link vl-1 available (shared)");
}

#[test]
fn the_first_of_a_network_makes_the_group_then_the_link_and_wires_behind_it() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    shared_links(&mut observed).links.clear();
    shared_links(&mut observed).groups = Some(Vec::new());
    let plan = diff(&d, &observed);
    let all = steps(&plan);
    assert_eq!(
        all[..2],
        [
            (Verb::Create, Part::SecurityGroup, "shared link group".into()),
            (
                Verb::Create,
                Part::VpcLink,
                "V2, shared by the network's APIs, 2 subnets".into()
            ),
        ],
        "{all:?}"
    );
    assert!(matches!(
        &plan.steps[1].action,
        Action::CreateSharedLink { region_links: 1, .. }
    ));
    // The ALB's group admits the new group (named once made); the wiring waits for
    // the new link to be usable.
    assert!(plan.steps.iter().any(|s| matches!(
        &s.action,
        Action::Authorize {
            from: Id::Of(Slot::Group(GroupRole::VpcLink)),
            ..
        }
    )));
    for step in &plan.steps {
        let wiring = matches!(
            step.change.part,
            Part::ApiIntegration | Part::ApiDeployment | Part::ApiStage
        );
        assert_eq!(step.gate == Gate::LinkUsable, wiring, "{}", step.change);
    }
    // The network's group made by someone else (or by an earlier pass) is used.
    shared_links(&mut observed).groups = Some(vec![crate::aws::shared_link::ObservedSharedGroup {
        id: "sg-link".into(),
        key: d.shared_link.clone().expect("shared").key,
        reapers: Default::default(),
    }]);
    let plan = diff(&d, &observed);
    assert_eq!(verbs_and_parts(&plan)[0], (Verb::Create, Part::VpcLink));
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::Authorize { .. } | Action::Revoke { .. }))
    );
}

#[test]
fn joining_a_link_another_api_made_tags_us_before_the_api_points_at_it() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    shared_links(&mut observed).links[0].users = ["uid-2".to_string()].into();
    // A new API: its integrations are still to be made.
    if let Seen::Read(Some(api)) = &mut observed.api {
        api.proxy = None;
    }
    let plan = diff(&d, &observed);
    assert_eq!(
        steps(&plan)[0],
        (Verb::Update, Part::VpcLink, "join (shared by 1 other APIs)".into())
    );
    assert_eq!(
        plan.steps[0].action,
        Action::JoinSharedLink {
            id: "vl-1".into(),
            link: d.shared_link.clone().expect("shared"),
        }
    );
    assert!(position(&plan, Verb::Update, Part::VpcLink) < position(&plan, Verb::Update, Part::ApiIntegration));
    assert!(plan.steps.iter().all(|s| s.gate == Gate::Always));
}

#[test]
fn new_subnets_move_to_that_network_s_link_and_leave_the_old_one_after_the_api_moved() {
    let before = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let after = desired(&shared_spec(), &["subnet-a", "subnet-c"]);
    let mut observed = in_sync(&before);
    let new_key = after.shared_link.clone().expect("shared").key;
    let links = &mut shared_links(&mut observed).links;
    links[0].users = ["uid-1".to_string(), "uid-2".to_string()].into();
    links.push(shared("vl-2", &new_key, 2, &["uid-3"]));
    let plan = diff(&after, &observed);
    let join = position(&plan, Verb::Update, Part::VpcLink);
    assert_eq!(
        plan.steps[join].action,
        Action::JoinSharedLink {
            id: "vl-2".into(),
            link: after.shared_link.clone().expect("shared")
        }
    );
    let wire = position(&plan, Verb::Update, Part::ApiIntegration);
    let stage = position(&plan, Verb::Update, Part::ApiStage);
    let leave = plan
        .steps
        .iter()
        .rposition(|s| matches!(s.action, Action::LeaveSharedLink { .. }))
        .expect("leave");
    assert!(join < wire && stage < leave, "{:?}", steps(&plan));
    assert_eq!(
        plan.steps[leave].action,
        Action::LeaveSharedLink {
            id: "vl-1".into(),
            uid: "uid-1".into(),
            user: "shop/orders".into()
        }
    );
    assert_eq!(plan.steps[leave].change.detail, "leave (shared by 1 other APIs)");
    // The ALB admits the new link's group; the old one's way in stays until we left.
    assert!(
        plan.steps
            .iter()
            .any(|s| matches!(&s.action, Action::Authorize { from: Id::Given(g), .. } if g == "sg-vl-2"))
    );
    assert!(
        plan.steps.iter().all(|s| !matches!(s.action, Action::Revoke { .. })),
        "{:?}",
        steps(&plan)
    );
    assert!(plan.waiting.is_empty(), "others still use it: {:?}", plan.waiting);

    // Once left: the old group's rule goes.
    let mut moved = observed.clone();
    shared_links(&mut moved).links[0].users = ["uid-2".to_string()].into();
    shared_links(&mut moved).links[1].users = ["uid-3".to_string(), "uid-1".to_string()].into();
    let plan = diff(&after, &moved);
    assert!(plan.steps.iter().any(|s| matches!(&s.action, Action::Revoke { rule, .. } if rule.source == security_group::Source::Group("sg-link".into()))));
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::LeaveSharedLink { .. } | Action::JoinSharedLink { .. }))
    );
}

#[test]
fn the_last_user_deletes_the_link_on_teardown_and_then_its_group() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    observed.roles.clear();
    observed.cluster = Seen::Unread;
    let first = diff(&DesiredStack::empty(), &observed);
    assert_eq!(
        verbs_and_parts(&first),
        [
            (Verb::Delete, Part::RestApi),
            (Verb::Delete, Part::EcsService),
            (Verb::Delete, Part::VpcLink)
        ]
    );
    assert_eq!(first.steps[2].change.detail, "shared, its last user leaves");
    assert!(
        first
            .waiting
            .contains(&"shared VPC link vl-1 to be deleted".to_string()),
        "{:?}",
        first.waiting
    );

    // `plan --destroy` lists the group too, which teardown deletes after the link.
    let destroy = diff_destroy(&observed);
    assert!(
        destroy
            .steps
            .iter()
            .any(|s| s.action == Action::ReapSharedGroup("sg-link".into())),
        "{:?}",
        steps(&destroy)
    );

    // Others still use it: we only leave, and teardown need not wait for it.
    shared_links(&mut observed).links[0].users = ["uid-1".to_string(), "uid-2".to_string()].into();
    let plan = diff(&DesiredStack::empty(), &observed);
    assert_eq!(plan.steps[2].change.detail, "leave (shared by 1 other APIs)");
    assert!(!plan.waiting.iter().any(|w| w.contains("vl-1")));

    // Deleting: teardown waits for it, and then deletes the group we marked.
    let mut later = in_sync(&d);
    later.service = Seen::Read(None);
    later.load_balancer = Seen::Read(None);
    later.rest_apis = Seen::Read(Vec::new());
    let key = d.shared_link.clone().expect("shared").key;
    shared_links(&mut later).links[0].state = LinkState::Deleting;
    shared_links(&mut later).groups = Some(vec![crate::aws::shared_link::ObservedSharedGroup {
        id: "sg-link".into(),
        key: key.clone(),
        reapers: ["uid-1".to_string()].into(),
    }]);
    let plan = diff(&DesiredStack::empty(), &later);
    assert!(
        plan.steps
            .iter()
            .all(|s| s.action != Action::ReapSharedGroup("sg-link".into()))
    );
    assert!(plan.waiting.iter().any(|w| w.contains("vl-1")), "{:?}", plan.waiting);
    shared_links(&mut later).links.clear();
    let plan = diff(&DesiredStack::empty(), &later);
    let last = plan.steps.last().expect("a step");
    assert_eq!(
        last.action,
        Action::ReapSharedGroup("sg-link".into()),
        "{:?}",
        steps(&plan)
    );
    assert!(matches!(last.if_not_yet, IfNotYet::Note { .. }));
    // A new link of the network uses the group again: not ours to delete any more.
    shared_links(&mut later).links.push(shared("vl-9", &key, 9, &["uid-7"]));
    let plan = diff(&DesiredStack::empty(), &later);
    assert!(
        plan.steps
            .iter()
            .all(|s| s.action != Action::ReapSharedGroup("sg-link".into()))
    );
}

#[test]
fn another_network_s_link_and_a_look_alike_are_left_alone() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&d);
    // Another network's link, even one without users (its last user's business).
    shared_links(&mut observed)
        .links
        .push(shared("vl-other", "another-network", 0, &["uid-2"]));
    shared_links(&mut observed)
        .links
        .push(shared("vl-empty", "another-network", 0, &[]));
    assert_eq!(steps(&diff(&d, &observed)), []);
    // A link of our name without the shared tag is not listed as shared at all
    // (shared_link::from_listing), and teardown reads only links we use.
    let plan = diff(&DesiredStack::empty(), &observed);
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(&s.action, Action::LeaveSharedLink { id, .. } if id != "vl-1"))
    );
}

#[test]
fn a_duplicate_from_a_race_is_left_for_the_oldest_and_deleted() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let key = d.shared_link.clone().expect("shared").key;
    let mut observed = in_sync(&d);
    // Another replica made vl-0 a moment before we made vl-1 (same network); a lost
    // answer left vl-2 with its maker gone.
    let links = &mut shared_links(&mut observed).links;
    links.insert(0, shared("vl-0", &key, 0, &["uid-2"]));
    links.push(shared("vl-2", &key, 3, &[]));
    let plan = diff(&d, &observed);
    assert_eq!(
        plan.steps[0].action,
        Action::JoinSharedLink {
            id: "vl-0".into(),
            link: d.shared_link.clone().expect("shared")
        }
    );
    let wire = position(&plan, Verb::Update, Part::ApiIntegration);
    let leaves: Vec<(usize, &str, &str)> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.action {
            Action::LeaveSharedLink { id, .. } => Some((i, id.as_str(), s.change.detail.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        leaves.iter().map(|(_, id, detail)| (*id, *detail)).collect::<Vec<_>>(),
        [("vl-1", "shared, its last user leaves"), ("vl-2", "shared, no user")]
    );
    assert!(leaves.iter().all(|(i, _, _)| *i > wire));
}

#[test]
fn a_full_link_sends_the_next_user_to_a_new_link_of_the_network() {
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let key = d.shared_link.clone().expect("shared").key;
    let mut observed = in_sync(&d);
    let full: Vec<String> = (0..crate::aws::shared_link::MAX_USERS)
        .map(|i| format!("u{i}"))
        .collect();
    let mut link = shared("vl-1", &key, 1, &[]);
    link.users = full.into_iter().collect();
    shared_links(&mut observed).links = vec![link];
    shared_links(&mut observed).groups = Some(vec![crate::aws::shared_link::ObservedSharedGroup {
        id: "sg-link".into(),
        key,
        reapers: Default::default(),
    }]);
    let plan = diff(&d, &observed);
    assert_eq!(verbs_and_parts(&plan)[0], (Verb::Create, Part::VpcLink));
}

#[test]
fn a_stack_with_its_own_link_moves_to_the_shared_one_without_a_gap() {
    let own = desired(&spec(), &["subnet-a", "subnet-b"]);
    let d = desired(&shared_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_sync(&own);
    let key = d.shared_link.clone().expect("shared").key;
    observed.shared_links = Seen::Read(SharedLinks {
        me: "uid-1".into(),
        user: "shop/orders".into(),
        links: vec![shared("vl-9", &key, 9, &["uid-2"])],
        groups: None,
        region_links: 2,
    });
    let plan = diff(&d, &observed);
    let join = position(&plan, Verb::Update, Part::VpcLink);
    let wire = position(&plan, Verb::Update, Part::ApiIntegration);
    let retire = position(&plan, Verb::Delete, Part::VpcLink);
    assert!(join < wire && wire < retire, "{:?}", steps(&plan));
    assert_eq!(plan.steps[retire].action, Action::DeleteVpcLink("vl-1".into()));
    // Our own link's group keeps its way into the ALB, and stays, while that link does.
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::Revoke { .. } | Action::DeleteGroup(_))),
        "{:?}",
        steps(&plan)
    );
    assert!(
        plan.steps
            .iter()
            .any(|s| matches!(&s.action, Action::Authorize { from: Id::Given(g), .. } if g == "sg-vl-9"))
    );

    // Own link gone: its group's rule is revoked and the group deleted.
    let mut later = observed.clone();
    later.vpc_links = Seen::Read(Vec::new());
    shared_links(&mut later).links[0].users = ["uid-2".to_string(), "uid-1".to_string()].into();
    let plan = diff(&d, &later);
    let revoke = plan
        .steps
        .iter()
        .position(|s| matches!(&s.action, Action::Revoke { rule, .. } if rule.source == security_group::Source::Group("sg-link".into())))
        .expect("the own link group's rule revoked");
    let delete = position(&plan, Verb::Delete, Part::SecurityGroup);
    assert!(revoke < delete);
    assert_eq!(plan.steps[delete].action, Action::DeleteGroup("sg-link".into()));
}

// ------------------------------------------------------------ API keys and WAF

const WEB_ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/team/0123abcd-0123-0123-0123-0123456789ab";

fn keys_spec(keys: &[&str]) -> PrivateApiSpec {
    let mut s = spec();
    s.api.usage_plan = Some(crate::crd::UsagePlanSpec {
        throttle: Some(crate::crd::Throttle {
            rate_limit: 10.0,
            burst_limit: 20,
        }),
        quota: Some(crate::crd::QuotaSpec {
            limit: 1000,
            period: crate::crd::QuotaPeriod::Day,
            offset: None,
        }),
        api_keys: keys
            .iter()
            .map(|k| crate::crd::ApiKeySpec { name: (*k).into() })
            .collect(),
    });
    s
}

/// The plan and keys `d` wants, as AWS holds them once made (ids `plan-1`, `key-NAME`).
fn with_keys(d: &DesiredStack, mut observed: ObservedStack) -> ObservedStack {
    use crate::aws::usage_plan::{ObservedApiKey, ObservedKeys, ObservedUsagePlan};
    let keys: Vec<ObservedApiKey> = d
        .usage_plan
        .iter()
        .flat_map(|p| &p.keys)
        .map(|k| ObservedApiKey {
            id: format!("key-{}", k.spec_name),
            name: k.name.clone(),
            created: 1,
        })
        .collect();
    let plans = d
        .usage_plan
        .iter()
        .map(|p| ObservedUsagePlan {
            id: "plan-1".into(),
            stages: vec![format!("api-1:{}", p.stage)],
            throttle: p.throttle,
            quota: p.quota,
            key_ids: keys.iter().map(|k| k.id.clone()).collect(),
        })
        .collect();
    observed.usage_keys = Seen::Read(ObservedKeys { plans, keys });
    observed
}

#[test]
fn keys_in_sync_need_no_step_and_the_methods_require_them() {
    let d = desired(&keys_spec(&["partner-a", "partner-b"]), &["subnet-a", "subnet-b"]);
    assert!(some(&d.api).auth.api_key, "every method requires a key");
    let plan_wanted = some(&d.usage_plan);
    assert_eq!(plan_wanted.keys.len(), 2);
    assert!(
        plan_wanted.keys[0].name.ends_with("-partner-a"),
        "{:?}",
        plan_wanted.keys
    );
    assert_eq!(plan_wanted.tags["privateapi.io/uid"], "uid-1");
    let observed = with_keys(&d, in_sync(&d));
    let plan = diff(&d, &observed);
    assert_eq!(steps(&plan), []);
    assert_eq!(plan.refs.slot(Slot::UsagePlan), Some("plan-1"));
    assert_eq!(plan.refs.slot(Slot::ApiKey(1)), Some("key-partner-b"));
    // Keys change the deployment's shape; an API without them keeps the shape it had.
    let open = desired(&spec(), &["subnet-a", "subnet-b"]);
    assert_ne!(
        some(&open.api).try_map(|id| ids().get(id)).expect("api").shape(),
        some(&d.api).try_map(|id| ids().get(id)).expect("api").shape()
    );
    assert!(!some(&open.api).auth.api_key);
}

#[test]
fn keys_made_on_an_api_in_sync_are_plan_keys_links_and_one_redeploy() {
    use Part::*;
    use Verb::*;
    let open = desired(&spec(), &["subnet-a", "subnet-b"]);
    let observed = in_sync(&open);
    let d = desired(&keys_spec(&["partner-a"]), &["subnet-a", "subnet-b"]);
    let mut observed = observed;
    observed.usage_keys = Seen::Read(Default::default());
    let plan = diff(&d, &observed);
    assert_eq!(
        verbs_and_parts(&plan),
        [
            (Update, ApiMethod),
            (Update, ApiMethod),
            (Create, ApiDeployment),
            (Update, ApiStage),
            (Delete, ApiDeployment),
            (Create, ApiKey),
            (Create, UsagePlan),
            (Create, ApiKey),
        ],
        "{:#?}",
        named(&plan)
    );
    assert!(matches!(
        plan.steps.last().map(|s| &s.action),
        Some(Action::LinkApiKey { key: Slot::ApiKey(0) })
    ));
    let Some(Action::UpdateMethodAuth { auth, .. }) = plan.steps.first().map(|s| &s.action) else {
        panic!("the methods first");
    };
    assert!(auth.api_key);
}

/// An edit of the observed usage plans and keys (read ones).
fn on_keys(edit: fn(&mut crate::aws::usage_plan::ObservedKeys)) -> Box<dyn Fn(&mut ObservedStack)> {
    Box::new(move |o| {
        if let Seen::Read(keys) = &mut o.usage_keys {
            edit(keys);
        }
    })
}

#[test]
fn each_usage_plan_change_is_one_step_in_place_without_a_redeploy() {
    use Part::*;
    use Verb::*;
    let base = keys_spec(&["partner-a", "partner-b"]);
    let d = desired(&base, &["subnet-a", "subnet-b"]);
    let synced = with_keys(&d, in_sync(&d));
    let mut quota = base.clone();
    if let Some(plan) = quota.api.usage_plan.as_mut() {
        plan.quota = Some(crate::crd::QuotaSpec {
            limit: 5000,
            period: crate::crd::QuotaPeriod::Week,
            offset: Some(1),
        });
    }
    let mut throttle = base.clone();
    if let Some(plan) = throttle.api.usage_plan.as_mut() {
        plan.throttle = None;
    }
    let more = keys_spec(&["partner-a", "partner-b", "partner-c"]);
    let fewer = keys_spec(&["partner-a"]);
    type Case = (
        &'static str,
        PrivateApiSpec,
        Box<dyn Fn(&mut ObservedStack)>,
        Vec<(Verb, Part)>,
    );
    let cases: Vec<Case> = vec![
        (
            "the quota changed: patched in place",
            quota,
            Box::new(|_| {}),
            vec![(Update, UsagePlan)],
        ),
        (
            "the throttle removed: patched in place",
            throttle,
            Box::new(|_| {}),
            vec![(Update, UsagePlan)],
        ),
        (
            "a key added: made and linked",
            more,
            Box::new(|_| {}),
            vec![(Create, ApiKey), (Create, ApiKey)],
        ),
        (
            "a key removed: deleted",
            fewer,
            Box::new(|_| {}),
            vec![(Delete, ApiKey)],
        ),
        (
            "a key unlinked by hand: linked again",
            base.clone(),
            on_keys(|keys| {
                keys.plans[0].key_ids.pop();
            }),
            vec![(Create, ApiKey)],
        ),
        (
            "the plan's stage removed by hand: added again",
            base.clone(),
            on_keys(|keys| {
                keys.plans[0].stages.clear();
            }),
            vec![(Update, UsagePlan)],
        ),
        (
            "a key deleted by hand: made again and linked",
            base.clone(),
            on_keys(|keys| {
                keys.keys.pop();
                keys.plans[0].key_ids.pop();
            }),
            vec![(Create, ApiKey), (Create, ApiKey)],
        ),
        (
            "a duplicate key (a lost CreateApiKey answer): the newer deleted",
            base.clone(),
            on_keys(|keys| {
                let mut twin = keys.keys[0].clone();
                twin.id = "key-twin".into();
                twin.created = 2;
                keys.keys.push(twin);
            }),
            vec![(Delete, ApiKey)],
        ),
        (
            "a duplicate plan (a lost CreateUsagePlan answer): its stage removed, then deleted",
            base.clone(),
            on_keys(|keys| {
                let mut twin = keys.plans[0].clone();
                twin.id = "plan-2".into();
                keys.plans.push(twin);
            }),
            vec![(Update, UsagePlan), (Delete, UsagePlan)],
        ),
        (
            "not read (a drift check): left alone",
            base.clone(),
            Box::new(|o| o.usage_keys = Seen::Unread),
            vec![],
        ),
    ];
    for (what, spec, edit, expected) in cases {
        let wanted = desired(&spec, &["subnet-a", "subnet-b"]);
        let mut observed = synced.clone();
        edit(&mut observed);
        let plan = diff(&wanted, &observed);
        assert_eq!(verbs_and_parts(&plan), expected, "{what}: {:#?}", named(&plan));
    }
}

#[test]
fn keys_removed_from_the_spec_open_the_methods_then_go_stage_first() {
    use Part::*;
    use Verb::*;
    let with = desired(&keys_spec(&["partner-a"]), &["subnet-a", "subnet-b"]);
    let observed = with_keys(&with, in_sync(&with));
    let without = desired(&spec(), &["subnet-a", "subnet-b"]);
    let plan = diff(&without, &observed);
    assert_eq!(
        verbs_and_parts(&plan),
        [
            (Update, ApiMethod),
            (Update, ApiMethod),
            (Create, ApiDeployment),
            (Update, ApiStage),
            (Delete, ApiDeployment),
            (Update, UsagePlan),
            (Delete, ApiKey),
            (Delete, UsagePlan),
        ],
        "{:#?}",
        named(&plan)
    );
    let Some(Action::UpdateUsagePlan { wanted: None, seen, .. }) = plan
        .steps
        .iter()
        .map(|s| &s.action)
        .find(|a| matches!(a, Action::UpdateUsagePlan { .. }))
    else {
        panic!("the plan's stage removed");
    };
    assert_eq!(crate::aws::usage_plan::patch_ops(seen, None).len(), 1);
}

#[test]
fn teardown_deletes_the_usage_plan_and_keys_before_the_api() {
    let d = desired(&keys_spec(&["partner-a"]), &["subnet-a", "subnet-b"]);
    let mut observed = with_keys(&d, in_sync(&d));
    observed.roles.clear();
    let plan = diff(&DesiredStack::empty(), &observed);
    let at = |f: &dyn Fn(&Action) -> bool| plan.steps.iter().position(|s| f(&s.action));
    let stage_off = at(&|a| matches!(a, Action::UpdateUsagePlan { wanted: None, .. })).expect("stage removed");
    let key = at(&|a| matches!(a, Action::DeleteApiKey(_))).expect("key deleted");
    let usage = at(&|a| matches!(a, Action::DeleteUsagePlan(_))).expect("plan deleted");
    let api = at(&|a| matches!(a, Action::DeleteRestApi(_))).expect("api deleted");
    assert!(stage_off < key && key < usage && usage < api, "{:#?}", named(&plan));
}

#[test]
fn the_web_acl_is_associated_replaced_and_removed_without_a_redeploy() {
    use Part::*;
    use Verb::*;
    let mut with = spec();
    with.api.web_acl_arn = Some(WEB_ACL.into());
    let d = desired(&with, &["subnet-a", "subnet-b"]);
    let synced = in_sync(&d);
    assert_eq!(steps(&diff(&d, &synced)), [], "the stage reports the ACL: in sync");
    let set = |o: &ObservedStack, acl: Option<&str>| {
        let mut o = o.clone();
        if let Seen::Read(stages) = &mut o.stages {
            stages[0].web_acl_arn = acl.map(str::to_owned);
        }
        o
    };
    let plan = diff(&d, &set(&synced, None));
    assert_eq!(verbs_and_parts(&plan), [(Update, WebAcl)]);
    assert_eq!(
        plan.steps[0].action,
        Action::SetWebAcl {
            stage: "prod".into(),
            web_acl_arn: Some(WEB_ACL.into())
        }
    );
    let other = WEB_ACL.replace("/team/", "/other/");
    assert_eq!(
        verbs_and_parts(&diff(&d, &set(&synced, Some(&other)))),
        [(Update, WebAcl)]
    );
    let without = desired(&spec(), &["subnet-a", "subnet-b"]);
    let plan = diff(&without, &set(&synced, Some(WEB_ACL)));
    assert_eq!(verbs_and_parts(&plan), [(Update, WebAcl)]);
    assert_eq!(
        plan.steps[0].action,
        Action::SetWebAcl {
            stage: "prod".into(),
            web_acl_arn: None
        }
    );
    // Firewall Manager's ACL on a stage the spec gives none: left alone.
    let fms = WEB_ACL.replace("/team/", "/FMManagedWebACLV2-org-policy/");
    assert_eq!(steps(&diff(&without, &set(&synced, Some(&fms)))), []);
}

// ------------------------------------------------------------ load-balancer groups

const RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/papi-g/1/2/3";
const OTHER_RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/papi-g/1/2/4";

fn group_spec() -> PrivateApiSpec {
    let mut s = shared_spec();
    s.load_balancer.group = Some("shop".into());
    s
}

fn lb_group(observed: &mut ObservedStack) -> &mut crate::aws::lb_group::ObservedLbGroup {
    match &mut observed.lb_group {
        Seen::Read(g) => g,
        Seen::Unread => panic!("group read"),
    }
}

/// A member in sync: the group's ALB (`LB`, its group `sg-alb` admitting the shared
/// link's group), its listener answering 404, our rule at priority 7 and another
/// member's at 8.
fn in_group(d: &DesiredStack) -> ObservedStack {
    use crate::aws::lb_group::{ObservedGroupSg, ObservedLbGroup, ObservedRule};
    let wanted = d.lb_group.clone().expect("a group member");
    let mut observed = in_sync(d);
    let listeners = vec![ObservedListener {
        forwards_to: Vec::new(),
        not_found: true,
        ..observed.listeners.read().expect("listeners")[0].clone()
    }];
    observed.listeners = Seen::Read(listeners.clone());
    let rule = |arn: &str, priority, route: &str, uid| ObservedRule {
        arn: arn.into(),
        priority,
        route: Some(route.into()),
        forwards_to: vec![TG.into()],
        uid,
    };
    observed.lb_group = Seen::Read(ObservedLbGroup {
        me: "uid-1".into(),
        load_balancer: observed.load_balancer.found().cloned(),
        users: ["uid-1".to_string(), "uid-2".to_string()].into(),
        listeners,
        rules: vec![
            rule(RULE, 7, &wanted.route, Some("uid-1".into())),
            rule(OTHER_RULE, 8, "shop/other", None),
        ],
        security_group: Some(ObservedGroupSg {
            id: "sg-alb".into(),
            rules: vec![Rule {
                protocol: "tcp".into(),
                from_port: 80,
                to_port: 80,
                source: security_group::Source::Group("sg-link".into()),
            }],
        }),
    });
    observed
}

#[test]
fn a_group_member_in_sync_needs_no_step_and_knows_its_rule() {
    let d = desired(&group_spec(), &["subnet-a", "subnet-b"]);
    assert!(
        d.groups.iter().all(|g| g.role != GroupRole::LoadBalancer),
        "the group's ALB group, not one of ours"
    );
    assert_eq!(some(&d.listener).target_group, None, "a fixed 404 by default");
    let plan = diff(&d, &in_group(&d));
    assert_eq!(steps(&plan), []);
    assert!(plan.stuck.is_none());
    assert_eq!(plan.refs.slot(Slot::ListenerRule), Some(RULE));
    assert_eq!(plan.refs.slot(Slot::ListenerRulePriority), Some("7"));
    assert_eq!(plan.refs.slot(Slot::Group(GroupRole::LoadBalancer)), Some("sg-alb"));
    // Another member's subnets are not ours to impose on the group's ALB.
    let other = desired(&group_spec(), &["subnet-a", "subnet-c"]);
    let mut observed = in_group(&other);
    observed.load_balancer = in_group(&d).load_balancer;
    assert!(
        diff(&other, &observed)
            .steps
            .iter()
            .all(|s| !matches!(s.action, Action::SetSubnets { .. })),
        "{:?}",
        steps(&diff(&other, &observed))
    );
}

/// One row per part of the group: what AWS lacks, and the one step that repairs it.
#[test]
fn each_group_part_out_of_sync_is_repaired_by_its_one_step() {
    use crate::aws::lb_group;
    let d = desired(&group_spec(), &["subnet-a", "subnet-b"]);
    let wanted = d.lb_group.clone().expect("group");
    type Drift = fn(&mut ObservedStack);
    let rows: Vec<(&str, Drift, Action)> = vec![
        (
            "group security group admits our link group",
            |o| lb_group(o).security_group.as_mut().expect("sg").rules.clear(),
            Action::Authorize {
                group: Id::Of(Slot::Group(GroupRole::LoadBalancer)),
                port: 80,
                from: Id::Of(Slot::Group(GroupRole::VpcLink)),
            },
        ),
        (
            "membership",
            |o| {
                lb_group(o).users.remove("uid-1");
            },
            Action::JoinLbGroup {
                arn: LB.into(),
                group: desired(&group_spec(), &["subnet-a", "subnet-b"])
                    .lb_group
                    .expect("group"),
            },
        ),
        (
            "rule missing",
            |o| lb_group(o).rules.retain(|r| r.uid.is_none()),
            Action::CreateListenerRule {
                group: desired(&group_spec(), &["subnet-a", "subnet-b"])
                    .lb_group
                    .expect("group"),
                priority: lb_group::priority("uid-1", &[8].into()),
            },
        ),
        (
            "rule forwarding elsewhere",
            |o| lb_group(o).rules[0].forwards_to = vec!["arn:other-tg".into()],
            Action::ModifyListenerRule {
                arn: RULE.into(),
                route: "shop/orders".into(),
            },
        ),
        (
            "a second rule of ours (a lost answer)",
            |o| {
                let mut second = lb_group(o).rules[0].clone();
                second.arn = "arn:second".into();
                second.priority = 9;
                lb_group(o).rules.push(second);
            },
            Action::DeleteListenerRule("arn:second".into()),
        ),
        (
            "listener forwarding instead of answering 404",
            |o| {
                if let Seen::Read(ls) = &mut o.listeners {
                    ls[0].not_found = false;
                    ls[0].forwards_to = vec![TG.into()];
                }
            },
            Action::ModifyListener {
                arn: LISTENER.into(),
                listener: some(&desired(&group_spec(), &["subnet-a", "subnet-b"]).listener),
            },
        ),
    ];
    for (what, drift, action) in rows {
        let mut observed = in_group(&d);
        drift(&mut observed);
        let plan = diff(&d, &observed);
        assert_eq!(
            plan.steps.iter().map(|s| &s.action).collect::<Vec<_>>(),
            [&action],
            "{what}: {:?}",
            steps(&plan)
        );
    }
    assert_eq!(wanted.route, "shop/orders");
}

#[test]
fn a_new_member_of_a_new_group_makes_its_parts_in_order() {
    let d = desired(&group_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_group(&d);
    let group = lb_group(&mut observed);
    group.load_balancer = None;
    group.listeners.clear();
    group.rules.clear();
    group.users.clear();
    group.security_group = None;
    observed.load_balancer = Seen::Read(None);
    observed.listeners = Seen::Read(Vec::new());
    observed.target_group = Seen::Read(None);
    if let Seen::Read(groups) = &mut observed.groups {
        groups.iter_mut().for_each(|g| g.rules.clear());
    }
    let plan = diff(&d, &observed);
    let at = |f: fn(&Action) -> bool| {
        plan.steps
            .iter()
            .position(|s| f(&s.action))
            .unwrap_or_else(|| panic!("{:?}", steps(&plan)))
    };
    let sg = at(|a| matches!(a, Action::CreateLbGroupSg(_)));
    let tasks_rule = at(|a| {
        matches!(
            a,
            Action::Authorize {
                group: Id::Of(Slot::Group(GroupRole::Tasks)),
                ..
            }
        )
    });
    let alb = at(|a| matches!(a, Action::CreateLoadBalancer { .. }));
    let listener = at(|a| matches!(a, Action::CreateListener { listener, .. } if listener.target_group.is_none()));
    let tg = at(|a| matches!(a, Action::CreateTargetGroup { .. }));
    let rule = at(|a| matches!(a, Action::CreateListenerRule { .. }));
    assert!(
        sg < tasks_rule && sg < alb && alb < listener && listener < rule && tg < rule,
        "{:?}",
        steps(&plan)
    );
    let Action::CreateLoadBalancer { load_balancer, .. } = &plan.steps[alb].action else {
        unreachable!()
    };
    assert_eq!(
        load_balancer
            .tags
            .get(&crate::aws::shared_link::user_tag("uid-1"))
            .map(String::as_str),
        Some("shop/orders"),
        "the creator is the first member"
    );
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::JoinLbGroup { .. }))
    );
}

#[test]
fn a_full_group_or_a_disagreeing_member_is_stuck() {
    use crate::aws::lb_group::{MAX_MEMBERS, MAX_RULES};
    let d = desired(&group_spec(), &["subnet-a", "subnet-b"]);
    let mut full = in_group(&d);
    lb_group(&mut full).users = (0..MAX_MEMBERS).map(|i| format!("u{i}")).collect();
    let plan = diff(&d, &full);
    assert_eq!(plan.stuck.as_ref().map(|s| s.reason), Some("LoadBalancerGroupFull"));
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::JoinLbGroup { .. }))
    );

    let mut rules = in_group(&d);
    let group = lb_group(&mut rules);
    let other = group.rules[1].clone();
    group.rules = (0..MAX_RULES as i32)
        .map(|i| crate::aws::lb_group::ObservedRule {
            priority: 100 + i,
            ..other.clone()
        })
        .collect();
    assert_eq!(diff(&d, &rules).stuck.map(|s| s.reason), Some("LoadBalancerGroupFull"));

    let mut odd = group_spec();
    odd.load_balancer.listener_port = 8080;
    let d = desired(&odd, &["subnet-a", "subnet-b"]);
    let mut observed = in_group(&desired(&group_spec(), &["subnet-a", "subnet-b"]));
    lb_group(&mut observed).users.remove("uid-1");
    let plan = diff(&d, &observed);
    let stuck = plan.stuck.clone().expect("stuck");
    assert_eq!(stuck.reason, "LoadBalancerGroupMismatch");
    assert!(
        stuck.message.contains("HTTP:80") && stuck.message.contains("HTTP:8080"),
        "{}",
        stuck.message
    );
    assert!(
        plan.steps.iter().all(|s| !matches!(
            s.action,
            Action::ModifyListener { .. }
                | Action::JoinLbGroup { .. }
                | Action::Authorize {
                    group: Id::Of(Slot::Group(GroupRole::LoadBalancer)),
                    ..
                }
        )),
        "the group's listener and security group are left as they are: {:?}",
        steps(&plan)
    );
}

#[test]
fn teardown_deletes_our_rule_then_leaves_and_the_last_member_takes_the_group() {
    let d = desired(&group_spec(), &["subnet-a", "subnet-b"]);
    let mut observed = in_group(&d);
    // Teardown reads the group apart from the stack's own (no ALB or listener of ours).
    observed.load_balancer = Seen::Read(None);
    observed.listeners = Seen::Read(Vec::new());
    observed.service = Seen::Read(None);
    let plan = diff(&DesiredStack::empty(), &observed);
    let rule = plan
        .steps
        .iter()
        .position(|s| s.action == Action::DeleteListenerRule(RULE.into()))
        .expect("our rule");
    let leave = plan
        .steps
        .iter()
        .position(|s| matches!(s.action, Action::LeaveLbGroup { .. }))
        .expect("leave");
    let tg = position(&plan, Verb::Delete, Part::TargetGroup);
    assert!(rule < leave && rule < tg, "{:?}", steps(&plan));
    assert_eq!(plan.steps[leave].change.detail, "leave group (1 other members)");
    assert!(
        plan.steps
            .iter()
            .all(|s| s.action != Action::DeleteListenerRule(OTHER_RULE.into())),
        "another member's rule is left"
    );
    assert!(!plan.waiting.iter().any(|w| w.contains("load-balancer group")));

    // The last member: the ALB goes, and teardown waits for it.
    lb_group(&mut observed).users.remove("uid-2");
    let plan = diff(&DesiredStack::empty(), &observed);
    let leave = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::LeaveLbGroup { .. }))
        .expect("leave");
    assert_eq!(leave.change.verb, Verb::Delete);
    assert!(
        plan.waiting.iter().any(|w| w.contains("load-balancer group")),
        "{:?}",
        plan.waiting
    );
    assert!(
        diff_destroy(&observed)
            .steps
            .iter()
            .any(|s| s.action == Action::DeleteGroup("sg-alb".into())),
        "plan --destroy lists the group's security group"
    );

    // Its ALB gone: the group's security group, tolerantly (ENIs linger).
    lb_group(&mut observed).load_balancer = None;
    lb_group(&mut observed).rules.clear();
    let plan = diff(&DesiredStack::empty(), &observed);
    let sg = plan
        .steps
        .iter()
        .find(|s| s.action == Action::DeleteGroup("sg-alb".into()))
        .expect("the group's security group");
    assert!(matches!(sg.if_not_yet, IfNotYet::Note { .. }));
    assert!(
        plan.steps
            .iter()
            .all(|s| !matches!(s.action, Action::LeaveLbGroup { .. }))
    );
}

/// A follow-up (`reconcile::follow_up`) wires a REST or HTTP API of a V2 link (shared,
/// its own, or an existing one), to an ALB or an NLB; a stack whose held-back steps
/// reach parts it does not read takes a full pass.
#[test]
fn only_stacks_whose_wiring_is_the_api_s_are_followed_up() {
    let subnets = ["subnet-a", "subnet-b"];
    let mut nlb = spec();
    nlb.load_balancer.kind = crate::crd::LoadBalancerKind::Network;
    let mut existing = spec();
    existing.vpc_link.existing_id = Some("link1".into());
    for (name, s, covered) in [
        ("REST, own link", spec(), true),
        ("REST, shared link", shared_spec(), true),
        ("REST, existing link", existing, true),
        ("HTTP", http_spec(), true),
        ("NLB", nlb, true),
        ("V1 link to an NLB", v1_spec(), false),
        ("V1 link, NLB in front of the ALB", front_spec(), false),
        ("custom domain", domain_spec(), false),
        ("queue routes", with_routes(spec()), false),
        ("HTTP queue routes", with_routes(http_spec()), false),
        (
            "IAM authorization (no authorizer)",
            authorized(spec(), "{type: IAM}"),
            true,
        ),
        ("Cognito authorizer", authorized(spec(), cognito()), false),
        ("JWT authorizer", authorized(http_spec(), &jwt("orders")), false),
        ("Lambda authorizer", authorized(spec(), &lambda(300)), false),
        ("API keys", keys_spec(&["partner-a"]), false),
        ("load-balancer group", group_spec(), false),
    ] {
        assert_eq!(crate::reconcile::follows_up(&desired(&s, &subnets)), covered, "{name}");
    }
}
