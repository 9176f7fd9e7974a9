//! Desired state: pure functions from the spec (and IDs already known) to the
//! desired shape of every AWS part. No I/O here; everything is unit-tested.

use crate::aws::ecs::{DesiredCluster, DesiredService, DesiredTaskDefinition};
use crate::aws::elb::{self, DesiredListener, DesiredLoadBalancer, DesiredTargetGroup};
use crate::aws::iam::{self, DesiredRole, RoleKind};
use crate::aws::ownership::Owner;
use crate::aws::rest_api::{self, DesiredApi};
use crate::aws::security_group::{self, DesiredGroup};
use crate::aws::vpc_link::DesiredVpcLink;
use crate::crd::PrivateApiSpec;

/// What every builder needs: who owns the stack, the spec, and where it lives.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub owner: &'a Owner,
    pub spec: &'a PrivateApiSpec,
    pub region: &'a str,
    /// Resolved subnet IDs, sorted.
    pub subnets: &'a [String],
}

impl Inputs<'_> {
    pub fn log_group(&self) -> String {
        format!("/ecs/privateapi/{}/{}", self.owner.namespace, self.owner.name)
    }
}

pub fn security_groups(i: Inputs<'_>) -> Vec<DesiredGroup> {
    security_group::desired(
        i.owner,
        &i.spec.tags,
        i.spec.load_balancer.listener_port,
        i.spec.service.port,
    )
}

/// Roles the operator must create (those the spec does not name).
pub fn roles(i: Inputs<'_>) -> Vec<DesiredRole> {
    let svc = &i.spec.service;
    let mut roles = Vec::new();
    if svc.execution_role_arn.is_none() {
        roles.push(iam::desired(i.owner, RoleKind::Execution, &i.spec.tags, &i.log_group()));
    }
    if svc.task_role_arn.is_none() {
        roles.push(iam::desired(i.owner, RoleKind::Task, &i.spec.tags, &i.log_group()));
    }
    roles
}

pub fn cluster(i: Inputs<'_>) -> DesiredCluster {
    match &i.spec.service.cluster {
        Some(existing) => DesiredCluster {
            name: existing.name.clone(),
            managed: false,
            tags: Default::default(),
        },
        None => DesiredCluster {
            name: i.owner.resource_name("", 255),
            managed: true,
            tags: i.owner.tags("ecs-cluster", &i.spec.tags),
        },
    }
}

pub fn load_balancer(i: Inputs<'_>, alb_security_group: &str) -> DesiredLoadBalancer {
    DesiredLoadBalancer {
        name: elb::name(i.owner),
        subnets: i.subnets.to_vec(),
        security_groups: vec![alb_security_group.to_owned()],
        tags: i.owner.tags("alb", &i.spec.tags),
    }
}

pub fn target_group(i: Inputs<'_>) -> DesiredTargetGroup {
    DesiredTargetGroup {
        name: elb::name(i.owner),
        port: i.spec.service.port,
        vpc_id: i.spec.network.vpc_id.clone(),
        health: i.spec.service.health_check.clone(),
        tags: i.owner.tags("target-group", &i.spec.tags),
    }
}

pub fn listener(i: Inputs<'_>) -> DesiredListener {
    DesiredListener {
        port: i.spec.load_balancer.listener_port,
        tags: i.owner.tags("listener", &i.spec.tags),
    }
}

pub fn vpc_link(i: Inputs<'_>, link_security_group: &str) -> DesiredVpcLink {
    DesiredVpcLink {
        name: i.owner.resource_name("", 128),
        subnets: i.subnets.to_vec(),
        security_groups: vec![link_security_group.to_owned()],
        tags: i.owner.tags("vpc-link", &i.spec.tags),
    }
}

pub fn task_family(owner: &Owner) -> String {
    owner.resource_name("", 255)
}

pub fn task_definition(i: Inputs<'_>, execution_role_arn: &str, task_role_arn: &str) -> DesiredTaskDefinition {
    let svc = &i.spec.service;
    let mut env = svc.env.clone();
    env.sort_by(|a, b| a.name.cmp(&b.name));
    DesiredTaskDefinition {
        family: task_family(i.owner),
        image: svc.image.clone(),
        port: svc.port,
        cpu: svc.cpu,
        memory: svc.memory,
        env,
        command: svc.command.clone(),
        execution_role_arn: svc
            .execution_role_arn
            .clone()
            .unwrap_or_else(|| execution_role_arn.to_owned()),
        task_role_arn: svc.task_role_arn.clone().unwrap_or_else(|| task_role_arn.to_owned()),
        log_group: i.log_group(),
        region: i.region.to_owned(),
        tags: i.owner.tags("task-definition", &i.spec.tags),
    }
}

pub fn service_name(owner: &Owner) -> String {
    owner.resource_name("", 255)
}

pub fn service(
    i: Inputs<'_>,
    cluster: &str,
    task_definition_arn: &str,
    target_group_arn: &str,
    tasks_security_group: &str,
) -> DesiredService {
    let svc = &i.spec.service;
    DesiredService {
        name: service_name(i.owner),
        cluster: cluster.to_owned(),
        desired_count: svc.desired_count,
        task_definition_arn: task_definition_arn.to_owned(),
        target_group_arn: target_group_arn.to_owned(),
        container_port: svc.port,
        subnets: i.subnets.to_vec(),
        security_groups: vec![tasks_security_group.to_owned()],
        grace_period_seconds: svc.health_check_grace_period_seconds,
        // ECS makes CreateService idempotent for a repeated token (≤ 36 chars).
        client_token: crate::aws::ownership::fingerprint(&format!("service/{}", i.owner.uid)),
        tags: i.owner.tags("ecs-service", &i.spec.tags),
    }
}

pub fn api(i: Inputs<'_>, alb_dns: &str, vpc_link_id: &str, alb_arn: &str) -> DesiredApi {
    let (root, proxy) = rest_api::integrations(alb_dns, vpc_link_id, alb_arn);
    DesiredApi {
        name: format!("{}-{}", i.owner.namespace, i.owner.name),
        description: i
            .spec
            .api
            .description
            .clone()
            .unwrap_or_else(|| format!("privateapi {} (managed by privateapi-operator)", i.owner.key())),
        endpoint_type: i.spec.api.endpoint_type.as_aws().to_owned(),
        tags: i.owner.tags("rest-api", &i.spec.tags),
        stage_name: i.spec.api.stage_name.clone(),
        throttle: i.spec.api.throttle.map(|t| (t.rate_limit, t.burst_limit)),
        root,
        proxy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ownership::{TAG_OWNER, TAG_UID};

    fn spec(extra: &str) -> PrivateApiSpec {
        serde_yaml::from_str(&format!(
            "network: {{vpcId: vpc-1, subnetIds: [subnet-b, subnet-a]}}\nservice: {{image: nginx:1.27, port: 8080}}\ntags: {{team: payments}}\n{extra}"
        ))
        .expect("spec parses")
    }

    fn with<T>(spec: &PrivateApiSpec, f: impl FnOnce(Inputs<'_>) -> T) -> T {
        let owner = Owner::new("shop", "orders", "uid-1");
        let subnets = vec!["subnet-a".to_string(), "subnet-b".to_string()];
        f(Inputs {
            owner: &owner,
            spec,
            region: "eu-west-1",
            subnets: &subnets,
        })
    }

    #[test]
    fn every_part_carries_ownership_and_user_tags() {
        let s = spec("");
        with(&s, |i| {
            let tag_sets = [
                load_balancer(i, "sg").tags,
                target_group(i).tags,
                listener(i).tags,
                vpc_link(i, "sg").tags,
                task_definition(i, "e", "t").tags,
                service(i, "c", "td", "tg", "sg").tags,
                api(i, "dns", "vl", "alb").tags,
                cluster(i).tags,
            ];
            for tags in tag_sets {
                assert_eq!(tags[TAG_UID], "uid-1");
                assert_eq!(tags[TAG_OWNER], "shop/orders");
                assert_eq!(tags["team"], "payments");
            }
        });
    }

    #[test]
    fn given_roles_and_cluster_are_used_not_created() {
        let s = spec("");
        assert_eq!(with(&s, roles).len(), 2);
        let mut s = s;
        s.service.execution_role_arn = Some("arn:aws:iam::123456789012:role/exec".into());
        s.service.task_role_arn = Some("arn:aws:iam::123456789012:role/task".into());
        s.service.cluster = Some(crate::crd::ClusterRef { name: "shared".into() });
        assert!(with(&s, roles).is_empty());
        let c = with(&s, cluster);
        assert!(!c.managed);
        assert_eq!(c.name, "shared");
        let td = with(&s, |i| task_definition(i, "ignored", "ignored"));
        assert_eq!(td.execution_role_arn, "arn:aws:iam::123456789012:role/exec");
    }

    #[test]
    fn target_group_uses_the_container_port_and_listener_the_listener_port() {
        let s = spec("loadBalancer: {listenerPort: 81}");
        assert_eq!(with(&s, target_group).port, 8080);
        assert_eq!(with(&s, listener).port, 81);
    }

    #[test]
    fn env_order_does_not_change_the_task_definition() {
        let a = spec("");
        let mut b = a.clone();
        a.service.env.len();
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
        let fb = with(&b, |i| task_definition(i, "e", "t").fingerprint());
        let fc = with(&c, |i| task_definition(i, "e", "t").fingerprint());
        assert_eq!(fb, fc);
    }

    #[test]
    fn image_change_changes_the_task_definition_but_not_the_api_shape() {
        let a = spec("");
        let mut b = a.clone();
        b.service.image = "nginx:1.28".into();
        let (ta, tb) = (
            with(&a, |i| task_definition(i, "e", "t")),
            with(&b, |i| task_definition(i, "e", "t")),
        );
        assert_ne!(ta.fingerprint(), tb.fingerprint());
        let (aa, ab) = (
            with(&a, |i| api(i, "d", "v", "alb")),
            with(&b, |i| api(i, "d", "v", "alb")),
        );
        assert_eq!(aa.shape(), ab.shape());
    }
}
