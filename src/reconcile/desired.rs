//! The desired stack: built once, purely, from the spec, the owner and the resolved
//! subnets. References between objects are [`Id`]s, resolved against what is observed
//! and what the executor creates. Deleting a stack is deploying [`DesiredStack::empty`].

use crate::aws::authorizer::{self, Auth};
use crate::aws::dns::DesiredRecord;
use crate::aws::domain::{self, DesiredDomain};
use crate::aws::ecs::{DesiredCluster, DesiredService, DesiredTaskDefinition};
use crate::aws::elb::{self, DesiredListener, DesiredLoadBalancer, DesiredTargetGroup, Targets};
use crate::aws::http_api::{self, DesiredHttpApi};
use crate::aws::iam::{self, DesiredRole, RoleKind};
use crate::aws::lb_group::{self, DesiredLbGroup};
use crate::aws::log_group::DesiredLogGroup;
use crate::aws::ownership::Owner;
use crate::aws::partition::Partition;
use crate::aws::queue_route::QueueRoute;
use crate::aws::rest_api::{DesiredApi, Target};
use crate::aws::security_group::{self, DesiredGroup, GroupRole};
use crate::aws::shared_link::DesiredSharedLink;
use crate::aws::usage_plan::{self, DesiredApiKey, DesiredUsagePlan};
use crate::aws::vpc_link::DesiredVpcLink;
use crate::aws::vpc_link_v1::DesiredVpcLinkV1;
use crate::crd::{ApiType, LoadBalancerKind, PrivateApiSpec, VpcLinkVersion};

use super::model::{Id, Slot, Tier};

/// What every builder needs: who owns the stack, the spec, and where it lives.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub owner: &'a Owner,
    pub spec: &'a PrivateApiSpec,
    pub region: &'a str,
    /// Resolved subnet IDs, sorted.
    pub subnets: &'a [String],
    /// With an HTTPS listener: the host name its certificate covers (from ACM).
    pub integration_host: Option<&'a str>,
}

/// The VPC link the API reaches the ALB through.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkWanted {
    /// Named in the spec: used as it is, never changed or deleted.
    Existing(String),
    /// Ours: replaced (not changed) when its network changes.
    Owned(DesiredVpcLink<Id>),
    /// Ours, a V1 link to our NLB: replaced when the NLB is.
    OwnedV1(DesiredVpcLinkV1<Id>),
    /// The shared link of the stack's network (`DesiredStack::shared_link`).
    Shared,
}

/// The NLB a VPC Link V1 needs in front of an ALB: a TCP listener forwarding to a
/// target group whose one target is the ALB, on the ALB's listener port.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredFront {
    pub target_group: DesiredTargetGroup,
    pub load_balancer: DesiredLoadBalancer<Id>,
    pub listener: DesiredListener<Id>,
    /// The ALB, registered on the target group's port.
    pub target: Id,
}

/// Every AWS object of one PrivateApi as the spec wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredStack {
    pub vpc_id: String,
    pub subnets: Vec<String>,
    pub groups: Vec<DesiredGroup>,
    /// Roles the operator makes (those the spec does not name).
    pub roles: Vec<DesiredRole>,
    pub cluster: Option<DesiredCluster>,
    pub target_group: Option<DesiredTargetGroup>,
    pub load_balancer: Option<DesiredLoadBalancer<Id>>,
    pub listener: Option<DesiredListener<Id>>,
    /// An NLB in front of the ALB (VPC Link V1 with `loadBalancer.type: application`).
    pub front: Option<DesiredFront>,
    pub vpc_link: Option<LinkWanted>,
    /// The shared VPC link (V2) and its security group, when the stack uses one: they
    /// belong to every stack of the same network, this one a user among them.
    pub shared_link: Option<DesiredSharedLink>,
    /// The load-balancer group (`loadBalancer.group`): then `load_balancer` and
    /// `listener` are the group's, shared by its members, and the ALB's security group
    /// is the group's, not one of `groups`.
    pub lb_group: Option<DesiredLbGroup>,
    pub task_definition: Option<DesiredTaskDefinition<Id>>,
    pub service: Option<DesiredService<Id>>,
    /// The REST API (`api.type: REST`).
    pub api: Option<DesiredApi<Id>>,
    /// The HTTP API (`api.type: HTTP`).
    pub http_api: Option<DesiredHttpApi<Id>>,
    /// The custom domain name and its mapping to the API's stage.
    pub domain: Option<DesiredDomain<Id>>,
    /// The domain's alias record, when the spec names its Route 53 zone.
    pub dns: Option<DesiredRecord<Id>>,
    /// The tasks' log group.
    pub log_group: Option<DesiredLogGroup>,
    /// The API keys' usage plan (`api.usagePlan`, REST).
    pub usage_plan: Option<DesiredUsagePlan<Id>>,
}

impl DesiredStack {
    pub fn build(i: Inputs<'_>) -> DesiredStack {
        let spec = i.spec;
        let svc = &spec.service;
        let owner = i.owner;
        let tags = |part: &str| owner.tags(part, &spec.tags);
        let group = |role| Id::Of(Slot::Group(role));
        let role_arn = |given: &Option<String>, kind| match given {
            Some(arn) => Id::Given(arn.clone()),
            None => Id::Of(Slot::Role(kind)),
        };
        let log_group = log_group(owner);
        let routes: Vec<QueueRoute<Id>> = spec
            .api
            .routes
            .iter()
            .map(|r| QueueRoute {
                method: r.method.as_str(),
                path: r.path.clone(),
                queue_arn: r.sqs.queue_arn.clone(),
                role: role_arn(&r.sqs.role_arn, RoleKind::ApiGateway),
            })
            .collect();
        // The queues our API Gateway role sends to: those of routes that name no role.
        let our_queues: std::collections::BTreeSet<String> = spec
            .api
            .routes
            .iter()
            .filter(|r| r.sqs.role_arn.is_none())
            .map(|r| r.sqs.queue_arn.clone())
            .collect();
        // A Lambda authorizer's function, which our API Gateway role may invoke.
        let authorizer_function = lambda_authorizer(spec);
        let roles = [
            (RoleKind::Execution, svc.execution_role_arn.is_none()),
            (RoleKind::Task, svc.task_role_arn.is_none()),
            (
                RoleKind::ApiGateway,
                !our_queues.is_empty() || authorizer_function.is_some(),
            ),
        ]
        .into_iter()
        .filter(|(_, ours)| *ours)
        .map(|(kind, _)| {
            iam::desired(owner, kind, &spec.tags, &log_group, Partition::of_region(i.region))
                .reading_secrets(&svc.secrets, svc.secrets_kms_key_arn.as_deref())
                .sending_to(&our_queues)
                .invoking(authorizer_function)
        })
        .collect();
        let cluster = match &svc.cluster {
            Some(existing) => DesiredCluster {
                name: existing.name.clone(),
                managed: false,
                tags: Default::default(),
            },
            None => DesiredCluster {
                name: cluster_name(owner),
                managed: true,
                tags: tags("ecs-cluster"),
            },
        };
        let link_id = match &spec.vpc_link.existing_id {
            Some(id) => Id::Given(id.clone()),
            None => Id::Of(Slot::VpcLink),
        };
        let api_name = format!("{}-{}", owner.namespace, owner.name);
        let api_description = spec
            .api
            .description
            .clone()
            .unwrap_or_else(|| format!("privateapi {} (managed by privateapi-operator)", owner.key()));
        let lb_kind = spec.load_balancer.kind;
        let v1 = spec.vpc_link.version == VpcLinkVersion::V1;
        let shared = !v1 && spec.vpc_link.existing_id.is_none() && spec.vpc_link.shared;
        // A V1 link reaches NLBs only: an ALB gets one in front of it.
        let front_tier = v1 && lb_kind == LoadBalancerKind::Application;
        // Where API Gateway's traffic enters: the NLB in front, else the load balancer.
        let entry = if front_tier { Tier::Front } else { Tier::Back };
        let https = spec.load_balancer.certificate_arn.is_some();
        // The CRD allows a group with a shared V2 link to an ALB only.
        let lb_group = Self::lb_group_of(owner, spec).filter(|_| shared);
        let route = lb_group.as_ref().map(|g| g.route.clone());
        let mut env = svc.env.clone();
        env.sort_by(|a, b| a.name.cmp(&b.name));
        let flavor = match spec.api.api_type {
            ApiType::Rest => authorizer::Flavor::Rest,
            ApiType::Http => authorizer::Flavor::Http,
        };
        let (auth, authorizer) = authorizer::desired(
            &spec.api.authorization,
            flavor,
            i.region,
            Id::Of(Slot::Authorizer),
            Id::Of(Slot::Role(RoleKind::ApiGateway)),
        );
        DesiredStack {
            vpc_id: spec.network.vpc_id.clone(),
            subnets: i.subnets.to_vec(),
            // A shared link has the shared group (`shared_link`): the ALB's admits it.
            groups: security_group::desired(
                owner,
                &spec.tags,
                spec.load_balancer.listener_port,
                svc.port,
                !v1,
                front_tier,
            )
            .into_iter()
            .filter(|g| !(shared && g.role == GroupRole::VpcLink))
            // A group member's ALB has the group's security group.
            .filter(|g| !(lb_group.is_some() && g.role == GroupRole::LoadBalancer))
            .collect(),
            roles,
            target_group: Some(DesiredTargetGroup {
                name: elb::name(owner),
                kind: lb_kind,
                targets: Targets::Ip,
                port: svc.port,
                vpc_id: spec.network.vpc_id.clone(),
                health: elb::health_for(lb_kind, &svc.health_check),
                tags: tags("target-group"),
            }),
            load_balancer: Some(DesiredLoadBalancer {
                name: lb_group
                    .as_ref()
                    .map_or_else(|| elb::name(owner), |g| lb_group::alb_name(&g.key)),
                kind: lb_kind,
                // Only an NLB a V1 link reaches directly turns this off.
                private_link_inbound_rules: !v1 || front_tier,
                subnets: i.subnets.to_vec(),
                security_groups: vec![group(GroupRole::LoadBalancer)],
                // A group's ALB: the group's tags and its creator as the first member.
                tags: match &lb_group {
                    Some(g) => {
                        let mut tags = g.tags(lb_group::PART_ALB);
                        tags.insert(crate::aws::shared_link::user_tag(&g.uid), g.user.clone());
                        tags
                    }
                    None => tags("alb"),
                },
            }),
            listener: Some(DesiredListener {
                kind: lb_kind,
                port: spec.load_balancer.listener_port,
                certificate: spec.load_balancer.certificate_arn.clone(),
                // A group's listener answers 404 to what no member's rule matches.
                target_group: lb_group.is_none().then_some(Id::Of(Slot::TargetGroup)),
                tags: match &lb_group {
                    Some(g) => g.tags(lb_group::PART_LISTENER),
                    None => tags("listener"),
                },
            }),
            vpc_link: Some(match &spec.vpc_link.existing_id {
                Some(id) => LinkWanted::Existing(id.clone()),
                None if shared => LinkWanted::Shared,
                None if v1 => LinkWanted::OwnedV1(DesiredVpcLinkV1 {
                    name: owner.resource_name("", 128),
                    target: Id::Of(entry.load_balancer()),
                    tags: tags("vpc-link"),
                }),
                None => LinkWanted::Owned(DesiredVpcLink {
                    name: owner.resource_name("", 128),
                    subnets: i.subnets.to_vec(),
                    security_groups: vec![group(GroupRole::VpcLink)],
                    tags: tags("vpc-link"),
                }),
            }),
            shared_link: shared
                .then(|| DesiredSharedLink::new(&spec.network.vpc_id, i.subnets, &owner.uid, &owner.key())),
            task_definition: Some(DesiredTaskDefinition {
                family: task_family(owner),
                image: svc.image.clone(),
                port: svc.port,
                cpu: svc.cpu,
                memory: svc.memory,
                env,
                command: svc.command.clone(),
                execution_role_arn: role_arn(&svc.execution_role_arn, RoleKind::Execution),
                task_role_arn: role_arn(&svc.task_role_arn, RoleKind::Task),
                log_group: log_group.clone(),
                region: i.region.to_owned(),
                tags: tags("task-definition"),
                secrets: sorted_secrets(&svc.secrets),
            }),
            service: Some(DesiredService {
                name: service_name(owner),
                cluster: cluster.name.clone(),
                desired_count: svc.desired_count,
                task_definition_arn: Id::Of(Slot::TaskDefinition),
                target_group_arn: Id::Of(Slot::TargetGroup),
                container_port: svc.port,
                subnets: i.subnets.to_vec(),
                security_groups: vec![group(GroupRole::Tasks)],
                grace_period_seconds: svc.health_check_grace_period_seconds,
                // ECS makes CreateService idempotent for a repeated token (≤ 36 chars).
                client_token: crate::aws::ownership::fingerprint(&format!("service/{}", owner.uid)),
                tags: tags("ecs-service"),
            }),
            api: (spec.api.api_type == ApiType::Rest).then(|| DesiredApi {
                name: api_name.clone(),
                description: api_description.clone(),
                endpoint_type: spec.api.endpoint_type,
                tags: tags("rest-api"),
                stage_name: spec.api.stage_name.clone(),
                throttle: spec.api.throttle,
                target: Target {
                    load_balancer_dns: match i.integration_host {
                        Some(host) => Id::Given(host.to_owned()),
                        None => Id::Of(entry.dns()),
                    },
                    https,
                    vpc_link: link_id.clone(),
                    load_balancer_arn: (!v1).then_some(Id::Of(Slot::LoadBalancer)),
                    route: route.clone(),
                },
                routes: routes.clone(),
                auth: Auth {
                    api_key: spec.api.usage_plan.is_some(),
                    ..auth.clone()
                },
                authorizer: authorizer.clone(),
                vpc_endpoint_ids: private_endpoints(spec),
                policy: rest_policy(spec),
                web_acl_arn: spec.api.web_acl_arn.clone(),
            }),
            usage_plan: spec
                .api
                .usage_plan
                .as_ref()
                .filter(|_| spec.api.api_type == ApiType::Rest)
                .map(|plan| {
                    let mut keys: Vec<DesiredApiKey> = plan
                        .api_keys
                        .iter()
                        .map(|k| DesiredApiKey {
                            spec_name: k.name.clone(),
                            name: usage_plan::key_name(owner, &k.name),
                            tags: tags("api-key"),
                        })
                        .collect();
                    keys.sort_by(|a, b| a.name.cmp(&b.name));
                    keys.dedup_by(|a, b| a.name == b.name);
                    DesiredUsagePlan {
                        name: owner.resource_name("", 255),
                        api: Id::Of(Slot::RestApi),
                        stage: spec.api.stage_name.clone(),
                        throttle: plan.throttle,
                        quota: plan.quota,
                        tags: tags("usage-plan"),
                        keys,
                    }
                }),
            domain: spec.api.domain.as_ref().map(|d| {
                let (flavor, api, stage) = match spec.api.api_type {
                    ApiType::Rest => (domain::Flavor::Rest, Slot::RestApi, spec.api.stage_name.clone()),
                    ApiType::Http => (domain::Flavor::Http, Slot::HttpApi, http_api::STAGE.to_owned()),
                };
                DesiredDomain {
                    flavor,
                    name: d.name.clone(),
                    certificate_arn: d.certificate_arn.clone(),
                    base_path: d.base_path.clone(),
                    api: Id::Of(api),
                    stage,
                    tags: tags("domain"),
                }
            }),
            dns: spec.api.domain.as_ref().and_then(|d| {
                Some(DesiredRecord {
                    zone_id: d.hosted_zone_id.clone()?,
                    name: d.name.clone(),
                    target: Id::Of(Slot::DomainTarget),
                    target_zone: Id::Of(Slot::DomainZone),
                    owner: owner.uid.clone(),
                })
            }),
            http_api: (spec.api.api_type == ApiType::Http).then(|| DesiredHttpApi {
                // apigatewayv2 names are at most 128 characters (its model); uniqueness
                // stays with the uid tag.
                name: crate::aws::ownership::shorten(&api_name, 128),
                description: api_description.clone(),
                tags: tags("http-api"),
                throttle: spec.api.throttle,
                integration: http_api::Integration {
                    connection_id: link_id.clone(),
                    uri: Id::Of(Slot::Listener),
                    server_name: i.integration_host.map(str::to_owned),
                    route: route.clone(),
                },
                routes,
                auth,
                authorizer,
            }),
            log_group: Some(DesiredLogGroup {
                name: log_group.clone(),
                retention_days: svc.logs.retention_days,
                tags: tags("log-group"),
            }),
            front: front_tier.then(|| front(owner, spec, i.subnets, https)),
            cluster: Some(cluster),
            lb_group,
        }
    }

    /// Nothing: what a deleted resource wants.
    pub fn empty() -> DesiredStack {
        DesiredStack {
            vpc_id: String::new(),
            subnets: Vec::new(),
            groups: Vec::new(),
            roles: Vec::new(),
            cluster: None,
            target_group: None,
            load_balancer: None,
            listener: None,
            front: None,
            vpc_link: None,
            shared_link: None,
            lb_group: None,
            task_definition: None,
            service: None,
            api: None,
            http_api: None,
            domain: None,
            dns: None,
            log_group: None,
            usage_plan: None,
        }
    }

    /// The load-balancer group the spec names (as [`DesiredStack::build`] makes it):
    /// what teardown looks for, whatever else the spec says now.
    pub fn lb_group_of(owner: &Owner, spec: &PrivateApiSpec) -> Option<DesiredLbGroup> {
        let name = spec.load_balancer.group.as_ref()?;
        Some(DesiredLbGroup::new(
            &spec.network.vpc_id,
            name,
            owner,
            spec.load_balancer.listener_port,
            spec.load_balancer.certificate_arn.clone(),
            owner.tags(lb_group::PART_RULE, &spec.tags),
        ))
    }

    pub fn role(&self, kind: RoleKind) -> Option<&DesiredRole> {
        self.roles.iter().find(|r| r.kind == kind)
    }
}

/// The NLB in front of the ALB: TCP on the ALB's listener port, through to the ALB,
/// whose listener the health checks call with the spec's path and matcher.
fn front(owner: &Owner, spec: &PrivateApiSpec, subnets: &[String], https: bool) -> DesiredFront {
    let tags = |part: &str| owner.tags(part, &spec.tags);
    let port = spec.load_balancer.listener_port;
    DesiredFront {
        target_group: DesiredTargetGroup {
            name: elb::front_name(owner),
            kind: LoadBalancerKind::Network,
            targets: Targets::Alb { https },
            port,
            vpc_id: spec.network.vpc_id.clone(),
            health: spec.service.health_check.clone(),
            tags: tags("front-target-group"),
        },
        load_balancer: DesiredLoadBalancer {
            name: elb::front_name(owner),
            kind: LoadBalancerKind::Network,
            private_link_inbound_rules: false,
            subnets: subnets.to_vec(),
            security_groups: vec![Id::Of(Slot::Group(GroupRole::Front))],
            tags: tags("front-nlb"),
        },
        listener: DesiredListener {
            kind: LoadBalancerKind::Network,
            port,
            certificate: None,
            target_group: Some(Id::Of(Slot::FrontTargetGroup)),
            tags: tags("front-listener"),
        },
        target: Id::Of(Slot::LoadBalancer),
    }
}

/// A PRIVATE REST API's VPC endpoints, sorted.
fn private_endpoints(spec: &PrivateApiSpec) -> Vec<String> {
    let mut ids = match spec.api.endpoint_type {
        crate::crd::EndpointType::Private => spec.api.vpc_endpoint_ids.clone(),
        _ => Vec::new(),
    };
    ids.sort();
    ids.dedup();
    ids
}

/// The REST API's resource policy: a PRIVATE API's endpoints and `api.resourcePolicy`.
fn rest_policy(spec: &PrivateApiSpec) -> Option<String> {
    let private = spec.api.endpoint_type == crate::crd::EndpointType::Private;
    let given = spec.api.resource_policy.clone().unwrap_or_default();
    let mut endpoints = private_endpoints(spec);
    endpoints.extend(given.vpc_endpoint_ids);
    crate::aws::resource_policy::document(private, &endpoints, &given.source_ips)
}

/// The function of a Lambda authorizer, when the spec has one.
pub fn lambda_authorizer(spec: &PrivateApiSpec) -> Option<&str> {
    let authorization = &spec.api.authorization;
    match authorization.kind {
        crate::crd::AuthorizationType::Lambda => authorization.lambda.as_ref().map(|l| l.function_arn.as_str()),
        _ => None,
    }
}

fn sorted_secrets(secrets: &[crate::crd::SecretVar]) -> Vec<crate::crd::SecretVar> {
    let mut secrets = secrets.to_vec();
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    secrets
}

/// Where the tasks log (the operator makes it; the awslogs driver would too, for
/// stacks made before it did).
pub fn log_group(owner: &Owner) -> String {
    format!("/ecs/privateapi/{}/{}", owner.namespace, owner.name)
}

/// Names derived from the owner alone, so that teardown finds them whatever the spec
/// says now.
pub fn cluster_name(owner: &Owner) -> String {
    owner.resource_name("", 255)
}

pub fn task_family(owner: &Owner) -> String {
    owner.resource_name("", 255)
}

pub fn service_name(owner: &Owner) -> String {
    owner.resource_name("", 255)
}

pub fn role_name(owner: &Owner, kind: RoleKind) -> String {
    iam::desired(owner, kind, &Default::default(), "", Partition::AWS).name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ownership::{TAG_OWNER, TAG_UID};
    use crate::reconcile::model::Refs;

    pub(crate) fn spec(extra: &str) -> PrivateApiSpec {
        serde_norway::from_str(&format!(
            "network: {{vpcId: vpc-1, subnetIds: [subnet-b, subnet-a]}}\nservice: {{image: nginx:1.27, port: 8080}}\ntags: {{team: payments}}\n{extra}"
        ))
        .expect("spec parses")
    }

    fn stack(spec: &PrivateApiSpec) -> DesiredStack {
        let owner = Owner::new("shop", "orders", "uid-1");
        let subnets = vec!["subnet-a".to_string(), "subnet-b".to_string()];
        DesiredStack::build(Inputs {
            owner: &owner,
            spec,
            region: "eu-west-1",
            subnets: &subnets,
            integration_host: None,
        })
    }

    fn some<T: Clone>(part: &Option<T>) -> T {
        part.clone().expect("part wanted")
    }

    #[test]
    fn every_part_carries_ownership_and_user_tags() {
        let s = stack(&spec("vpcLink: {shared: false}"));
        let Some(LinkWanted::Owned(link)) = &s.vpc_link else {
            panic!("our own link");
        };
        let tag_sets = [
            some(&s.load_balancer).tags,
            some(&s.target_group).tags,
            some(&s.listener).tags,
            link.tags.clone(),
            some(&s.task_definition).tags,
            some(&s.service).tags,
            some(&s.api).tags,
            some(&s.cluster).tags,
        ];
        for tags in tag_sets.iter().chain(s.groups.iter().map(|g| &g.tags)) {
            assert_eq!(tags[TAG_UID], "uid-1");
            assert_eq!(tags[TAG_OWNER], "shop/orders");
            assert_eq!(tags["team"], "payments");
        }
    }

    #[test]
    fn given_roles_and_cluster_are_used_not_created() {
        let s = spec("");
        assert_eq!(stack(&s).roles.len(), 2);
        let mut s = s;
        s.service.execution_role_arn = Some("arn:aws:iam::123456789012:role/exec".into());
        s.service.task_role_arn = Some("arn:aws:iam::123456789012:role/task".into());
        s.service.cluster = Some(crate::crd::ClusterRef { name: "shared".into() });
        let built = stack(&s);
        assert!(built.roles.is_empty());
        let c = some(&built.cluster);
        assert!(!c.managed);
        assert_eq!(c.name, "shared");
        let td = some(&built.task_definition)
            .try_map(|id| Refs::default().get(id))
            .expect("given roles need no reference");
        assert_eq!(td.execution_role_arn, "arn:aws:iam::123456789012:role/exec");
    }

    #[test]
    fn target_group_uses_the_container_port_and_listener_the_listener_port() {
        let s = stack(&spec("loadBalancer: {listenerPort: 81}"));
        assert_eq!(some(&s.target_group).port, 8080);
        assert_eq!(some(&s.listener).port, 81);
    }

    fn resolved(s: &DesiredStack) -> (String, String) {
        let mut refs = Refs::default();
        for slot in [
            Slot::Role(RoleKind::Execution),
            Slot::Role(RoleKind::Task),
            Slot::LoadBalancerDns,
            Slot::VpcLink,
            Slot::LoadBalancer,
        ] {
            refs.set(slot, format!("{slot}"));
        }
        let td = some(&s.task_definition).try_map(|id| refs.get(id)).expect("td");
        let api = some(&s.api).try_map(|id| refs.get(id)).expect("api");
        (td.fingerprint(), api.shape())
    }

    #[test]
    fn env_order_does_not_change_the_task_definition() {
        let mut b = spec("");
        b.service.env = vec![
            crate::crd::EnvVar {
                name: "B".into(),
                value: "2".into(),
            },
            crate::crd::EnvVar {
                name: "A".into(),
                value: "1".into(),
            },
        ];
        let mut c = b.clone();
        c.service.env.reverse();
        assert_eq!(resolved(&stack(&b)).0, resolved(&stack(&c)).0);
    }

    #[test]
    fn image_change_changes_the_task_definition_but_not_the_api_shape() {
        let a = spec("");
        let mut b = a.clone();
        b.service.image = "nginx:1.28".into();
        let (ta, aa) = resolved(&stack(&a));
        let (tb, ab) = resolved(&stack(&b));
        assert_ne!(ta, tb);
        assert_eq!(aa, ab);
    }

    #[test]
    fn an_http_api_name_fits_apigatewayv2_for_the_longest_kubernetes_names() {
        let owner = Owner::new("n".repeat(63), "a".repeat(253), "uid-1");
        let mut s = spec("");
        s.api.api_type = ApiType::Http;
        let subnets = vec!["subnet-a".to_string()];
        let built = DesiredStack::build(Inputs {
            owner: &owner,
            spec: &s,
            region: "eu-west-1",
            subnets: &subnets,
            integration_host: None,
        });
        let name = some(&built.http_api).name;
        assert!(name.chars().count() <= 128, "{} characters", name.chars().count());
    }

    #[test]
    fn a_v2_link_is_shared_by_default_and_its_group_is_the_networks() {
        let s = stack(&spec(""));
        assert_eq!(s.vpc_link, Some(LinkWanted::Shared));
        let shared = some(&s.shared_link);
        assert_eq!(shared.subnets, ["subnet-a", "subnet-b"]);
        assert_eq!((shared.uid.as_str(), shared.user.as_str()), ("uid-1", "shop/orders"));
        assert!(
            s.groups.iter().all(|g| g.role != GroupRole::VpcLink),
            "no link group of its own: {:?}",
            s.groups
        );
        let alb = s
            .groups
            .iter()
            .find(|g| g.role == GroupRole::LoadBalancer)
            .expect("alb group");
        assert_eq!(
            alb.ingress,
            Some((80, GroupRole::VpcLink)),
            "the ALB admits the shared group"
        );
        for not_shared in [
            "vpcLink: {shared: false}",
            "vpcLink: {existingId: abc123}",
            "vpcLink: {version: V1}",
        ] {
            assert!(stack(&spec(not_shared)).shared_link.is_none(), "{not_shared}");
        }
    }

    #[test]
    fn a_group_member_wants_the_group_s_alb_and_listener_and_sets_its_route() {
        let s = stack(&spec("loadBalancer: {group: shop}"));
        let group = some(&s.lb_group);
        assert_eq!(group.key, lb_group::key("vpc-1", "shop"));
        assert_eq!(group.route, "shop/orders");
        let alb = some(&s.load_balancer);
        assert_eq!(alb.name, lb_group::alb_name(&group.key));
        assert_eq!(alb.tags[lb_group::TAG_GROUP], group.key);
        assert_eq!(alb.tags[&crate::aws::shared_link::user_tag("uid-1")], "shop/orders");
        assert!(!alb.tags.contains_key(TAG_UID), "no single owner");
        assert_eq!(some(&s.listener).target_group, None);
        assert!(s.groups.iter().all(|g| g.role != GroupRole::LoadBalancer));
        let tasks = s
            .groups
            .iter()
            .find(|g| g.role == GroupRole::Tasks)
            .expect("tasks group");
        assert_eq!(
            tasks.ingress,
            Some((8080, GroupRole::LoadBalancer)),
            "the tasks admit the group's ALB"
        );
        assert_eq!(some(&s.api).target.route.as_deref(), Some("shop/orders"));
        let rest = resolved(&s);
        assert_ne!(
            rest.1,
            resolved(&stack(&spec(""))).1,
            "the header is part of the API's shape"
        );
        let mut http = spec("loadBalancer: {group: shop}");
        http.api.api_type = ApiType::Http;
        let integration = some(&stack(&http).http_api).integration;
        assert_eq!(
            integration
                .try_map(|_| Some(String::new()))
                .expect("map")
                .request_parameters(),
            std::collections::BTreeMap::from([(
                "overwrite:header.x-privateapi-route".to_owned(),
                "shop/orders".to_owned()
            )])
        );
        // Ungrouped: as before.
        let alone = stack(&spec(""));
        assert!(alone.lb_group.is_none() && some(&alone.api).target.route.is_none());
        assert_eq!(some(&alone.listener).target_group, Some(Id::Of(Slot::TargetGroup)));
    }

    #[test]
    fn an_empty_stack_wants_nothing() {
        let empty = DesiredStack::empty();
        assert!(empty.groups.is_empty() && empty.roles.is_empty());
        assert!(empty.api.is_none() && empty.service.is_none() && empty.vpc_link.is_none());
    }
}
