//! ECS on Fargate: the cluster (ours, or an existing one named in the spec), the
//! task definition (a new revision only when its content changes — the content's
//! fingerprint is kept in a tag) and the service behind the target group.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ClusterField, Compatibility, ContainerDefinition, DeploymentConfiguration,
    KeyValuePair, LaunchType, LoadBalancer, LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode,
    PortMapping, Secret, ServiceField, Tag, TaskDefinitionField, TransportProtocol,
};

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, fingerprint};
use super::{Aws, all_pages};
use crate::crd::{EnvVar, SecretVar};

pub const CONTAINER_NAME: &str = "app";
pub const TAG_CONFIG: &str = "privateapi.io/config";

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn owned_by(owner: &Owner, tags: &[Tag]) -> bool {
    owner.owns(tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

// ---------------------------------------------------------------- cluster

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredCluster {
    pub name: String,
    /// False when the spec names an existing cluster: we use it, never change it.
    pub managed: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedCluster {
    pub arn: String,
    pub active: bool,
}

pub async fn observe_cluster(aws: &Aws, owner: &Owner, desired: &DesiredCluster) -> AwsResult<Option<ObservedCluster>> {
    observe_cluster_named(aws, owner, &desired.name, desired.managed).await
}

/// The cluster called `name`; when `managed` (ours), one without our uid tag is a
/// conflict and an INACTIVE one is as good as gone.
pub async fn observe_cluster_named(
    aws: &Aws,
    owner: &Owner,
    name: &str,
    managed: bool,
) -> AwsResult<Option<ObservedCluster>> {
    let out = aws
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(aws_err("DescribeClusters"))?;
    let Some(cluster) = out.clusters().first() else {
        return Ok(None);
    };
    let active = cluster.status() == Some("ACTIVE");
    if managed && !owned_by(owner, cluster.tags()) {
        return Err(AwsError::Conflict(format!(
            "ECS cluster {name} exists but is not owned by {}; it is left alone",
            owner.key()
        )));
    }
    if !active && managed {
        // An INACTIVE cluster of ours is as good as gone; CreateCluster revives the name.
        return Ok(None);
    }
    Ok(Some(ObservedCluster {
        arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
        active,
    }))
}

pub async fn create_cluster(aws: &Aws, desired: &DesiredCluster) -> AwsResult<String> {
    let out = aws
        .ecs
        .create_cluster()
        .cluster_name(&desired.name)
        .set_tags(Some(tags(&desired.tags)))
        .send()
        .await
        .map_err(aws_err("CreateCluster"))?;
    out.cluster()
        .and_then(|c| c.cluster_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "CreateCluster",
            field: "clusterArn",
        })
}

pub async fn delete_cluster(aws: &Aws, name: &str) -> AwsResult<()> {
    found(
        aws.ecs
            .delete_cluster()
            .cluster(name)
            .send()
            .await
            .map_err(aws_err("DeleteCluster")),
    )?;
    Ok(())
}

// ---------------------------------------------------------------- task definition

/// `R`: how the roles are named (ARNs, or references in the stack model).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DesiredTaskDefinition<R = String> {
    pub family: String,
    pub image: String,
    pub port: i32,
    pub cpu: i32,
    pub memory: i32,
    pub env: Vec<EnvVar>,
    pub command: Vec<String>,
    pub execution_role_arn: R,
    pub task_role_arn: R,
    pub log_group: String,
    pub region: String,
    #[serde(skip)]
    pub tags: BTreeMap<String, String>,
    /// Read by ECS from their ARNs at task start. Left out of the fingerprint when
    /// empty, so task definitions made before secrets existed stay current.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretVar>,
}

impl<R> DesiredTaskDefinition<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredTaskDefinition<S>> {
        Some(DesiredTaskDefinition {
            family: self.family.clone(),
            image: self.image.clone(),
            port: self.port,
            cpu: self.cpu,
            memory: self.memory,
            env: self.env.clone(),
            command: self.command.clone(),
            execution_role_arn: f(&self.execution_role_arn)?,
            task_role_arn: f(&self.task_role_arn)?,
            log_group: self.log_group.clone(),
            region: self.region.clone(),
            tags: self.tags.clone(),
            secrets: self.secrets.clone(),
        })
    }
}

impl DesiredTaskDefinition {
    /// The content's fingerprint: equal fingerprints mean no new revision is needed.
    pub fn fingerprint(&self) -> String {
        fingerprint(&serde_json::to_string(self).unwrap_or_default())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedTaskDefinition {
    pub arn: String,
    pub fingerprint: Option<String>,
}

pub async fn observe_task_definition(
    aws: &Aws,
    owner: &Owner,
    family: &str,
) -> AwsResult<Option<ObservedTaskDefinition>> {
    let out = found(
        aws.ecs
            .describe_task_definition()
            .task_definition(family)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(aws_err("DescribeTaskDefinition")),
    )?;
    let Some(out) = out else { return Ok(None) };
    let Some(td) = out.task_definition() else {
        return Ok(None);
    };
    if !owned_by(owner, out.tags()) {
        return Err(AwsError::Conflict(format!(
            "task definition family {family} exists but is not owned by {}; it is left alone",
            owner.key()
        )));
    }
    Ok(Some(ObservedTaskDefinition {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        fingerprint: out
            .tags()
            .iter()
            .find(|t| t.key() == Some(TAG_CONFIG))
            .and_then(|t| t.value().map(str::to_owned)),
    }))
}

pub async fn register_task_definition(aws: &Aws, desired: &DesiredTaskDefinition) -> AwsResult<String> {
    let mut td_tags = desired.tags.clone();
    td_tags.insert(TAG_CONFIG.into(), desired.fingerprint());
    let container = ContainerDefinition::builder()
        .name(CONTAINER_NAME)
        .image(&desired.image)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(desired.port)
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .set_environment(Some(
            desired
                .env
                .iter()
                .map(|e| KeyValuePair::builder().name(&e.name).value(&e.value).build())
                .collect(),
        ))
        .set_secrets((!desired.secrets.is_empty()).then(|| {
            desired
                .secrets
                .iter()
                .filter_map(|s| Secret::builder().name(&s.name).value_from(&s.value_from).build().ok())
                .collect()
        }))
        .set_command((!desired.command.is_empty()).then(|| desired.command.clone()))
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", &desired.log_group)
                .options("awslogs-region", &desired.region)
                .options("awslogs-stream-prefix", "privateapi")
                .options("awslogs-create-group", "true")
                .build()
                .map_err(|_| AwsError::Incomplete {
                    operation: "RegisterTaskDefinition",
                    field: "logDriver",
                })?,
        )
        .build();
    let out = aws
        .ecs
        .register_task_definition()
        .family(&desired.family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(desired.cpu.to_string())
        .memory(desired.memory.to_string())
        .execution_role_arn(&desired.execution_role_arn)
        .task_role_arn(&desired.task_role_arn)
        .container_definitions(container)
        .set_tags(Some(tags(&td_tags)))
        .send()
        .await
        .map_err(aws_err("RegisterTaskDefinition"))?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "RegisterTaskDefinition",
            field: "taskDefinitionArn",
        })
}

/// Every ACTIVE revision of the family, oldest first.
pub async fn list_task_definitions(aws: &Aws, family: &str) -> AwsResult<Vec<String>> {
    all_pages("ListTaskDefinitions", |token| async move {
        let out = aws
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("ListTaskDefinitions"))?;
        // The prefix also matches longer family names; keep exact matches only.
        let arns = out
            .task_definition_arns()
            .iter()
            .filter(|arn| {
                arn.rsplit_once('/')
                    .and_then(|(_, fr)| fr.rsplit_once(':'))
                    .map(|(f, _)| f)
                    == Some(family)
            })
            .cloned()
            .collect();
        Ok((arns, out.next_token().map(str::to_owned)))
    })
    .await
}

pub async fn deregister_task_definition(aws: &Aws, arn: &str) -> AwsResult<()> {
    found(
        aws.ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(aws_err("DeregisterTaskDefinition")),
    )?;
    Ok(())
}

// ---------------------------------------------------------------- service

/// `R`: how the task definition, target group and security groups are named.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredService<R = String> {
    pub name: String,
    pub cluster: String,
    pub desired_count: i32,
    pub task_definition_arn: R,
    pub target_group_arn: R,
    pub container_port: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<R>,
    pub grace_period_seconds: i32,
    pub client_token: String,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredService<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredService<S>> {
        Some(DesiredService {
            name: self.name.clone(),
            cluster: self.cluster.clone(),
            desired_count: self.desired_count,
            task_definition_arn: f(&self.task_definition_arn)?,
            target_group_arn: f(&self.target_group_arn)?,
            container_port: self.container_port,
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.iter().map(&mut f).collect::<Option<_>>()?,
            grace_period_seconds: self.grace_period_seconds,
            client_token: self.client_token.clone(),
            tags: self.tags.clone(),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedService {
    pub arn: String,
    pub name: String,
    /// The cluster it runs in.
    pub cluster: String,
    pub status: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub task_definition_arn: String,
    pub target_groups: Vec<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub grace_period_seconds: i32,
    pub public_ip: bool,
    /// Deployments still rolling out (more than the primary, or the primary not done).
    pub rolling_out: bool,
}

/// Which fields of the service differ from the spec; empty means in sync.
pub fn service_drift(desired: &DesiredService, observed: &ObservedService) -> Vec<String> {
    let mut drift = Vec::new();
    if observed.desired_count != desired.desired_count {
        drift.push(format!(
            "desiredCount {} → {}",
            observed.desired_count, desired.desired_count
        ));
    }
    if observed.task_definition_arn != desired.task_definition_arn {
        drift.push(format!(
            "taskDefinition → {}",
            super::arn_name(&desired.task_definition_arn)
        ));
    }
    if observed.target_groups != [desired.target_group_arn.clone()] {
        drift.push("loadBalancers".into());
    }
    if observed.subnets != desired.subnets || observed.security_groups != desired.security_groups || observed.public_ip
    {
        drift.push("networkConfiguration".into());
    }
    if observed.grace_period_seconds != desired.grace_period_seconds {
        drift.push(format!(
            "healthCheckGracePeriodSeconds {} → {}",
            observed.grace_period_seconds, desired.grace_period_seconds
        ));
    }
    drift
}

pub async fn observe_service(
    aws: &Aws,
    owner: &Owner,
    cluster: &str,
    name: &str,
) -> AwsResult<Option<ObservedService>> {
    let out = found(
        aws.ecs
            .describe_services()
            .cluster(cluster)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(aws_err("DescribeServices")),
    )?;
    let Some(svc) = out.as_ref().and_then(|o| o.services().first()) else {
        return Ok(None);
    };
    let status = svc.status().unwrap_or_default().to_owned();
    if status == "INACTIVE" {
        return Ok(None);
    }
    if !owned_by(owner, svc.tags()) {
        return Err(AwsError::Conflict(format!(
            "ECS service {name} in cluster {cluster} is not owned by {}; it is left alone",
            owner.key()
        )));
    }
    let vpc = svc.network_configuration().and_then(|n| n.awsvpc_configuration());
    let mut subnets = vpc.map(|v| v.subnets().to_vec()).unwrap_or_default();
    subnets.sort();
    let mut security_groups = vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default();
    security_groups.sort();
    let deployments = svc.deployments();
    let rolling_out = deployments.len() > 1
        || deployments.iter().any(|d| {
            d.rollout_state()
                .is_some_and(|s| s != &aws_sdk_ecs::types::DeploymentRolloutState::Completed)
        });
    Ok(Some(ObservedService {
        arn: svc.service_arn().unwrap_or_default().to_owned(),
        name: name.to_owned(),
        cluster: cluster.to_owned(),
        status,
        desired_count: svc.desired_count(),
        running_count: svc.running_count(),
        task_definition_arn: svc.task_definition().unwrap_or_default().to_owned(),
        target_groups: svc
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
            .collect(),
        subnets,
        security_groups,
        grace_period_seconds: svc.health_check_grace_period_seconds().unwrap_or_default(),
        public_ip: vpc.and_then(|v| v.assign_public_ip()) == Some(&AssignPublicIp::Enabled),
        rolling_out,
    }))
}

fn network(desired: &DesiredService) -> AwsResult<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(desired.subnets.clone()))
                .set_security_groups(Some(desired.security_groups.clone()))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build()
                .map_err(|_| AwsError::Incomplete {
                    operation: "CreateService",
                    field: "subnets",
                })?,
        )
        .build())
}

fn load_balancer(desired: &DesiredService) -> LoadBalancer {
    LoadBalancer::builder()
        .target_group_arn(&desired.target_group_arn)
        .container_name(CONTAINER_NAME)
        .container_port(desired.container_port)
        .build()
}

pub async fn create_service(aws: &Aws, desired: &DesiredService) -> AwsResult<String> {
    let out = aws
        .ecs
        .create_service()
        .cluster(&desired.cluster)
        .service_name(&desired.name)
        .task_definition(&desired.task_definition_arn)
        .desired_count(desired.desired_count)
        .launch_type(LaunchType::Fargate)
        .network_configuration(network(desired)?)
        .load_balancers(load_balancer(desired))
        .health_check_grace_period_seconds(desired.grace_period_seconds)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(50)
                .maximum_percent(200)
                .build(),
        )
        .propagate_tags(aws_sdk_ecs::types::PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .client_token(&desired.client_token)
        .set_tags(Some(tags(&desired.tags)))
        .send()
        .await
        .map_err(aws_err("CreateService"))?;
    out.service()
        .and_then(|s| s.service_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "CreateService",
            field: "serviceArn",
        })
}

pub async fn update_service(aws: &Aws, desired: &DesiredService) -> AwsResult<()> {
    aws.ecs
        .update_service()
        .cluster(&desired.cluster)
        .service(&desired.name)
        .task_definition(&desired.task_definition_arn)
        .desired_count(desired.desired_count)
        .network_configuration(network(desired)?)
        .load_balancers(load_balancer(desired))
        .health_check_grace_period_seconds(desired.grace_period_seconds)
        .send()
        .await
        .map_err(aws_err("UpdateService"))?;
    Ok(())
}

/// Scales to zero and deletes in one call (`force`), leaving the service DRAINING.
pub async fn delete_service(aws: &Aws, cluster: &str, name: &str) -> AwsResult<()> {
    found(
        aws.ecs
            .delete_service()
            .cluster(cluster)
            .service(name)
            .force(true)
            .send()
            .await
            .map_err(aws_err("DeleteService")),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredService {
        DesiredService {
            name: "svc".into(),
            cluster: "c".into(),
            desired_count: 2,
            task_definition_arn: "arn:td:2".into(),
            target_group_arn: "arn:tg".into(),
            container_port: 80,
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-t".into()],
            grace_period_seconds: 60,
            client_token: "t".into(),
            tags: BTreeMap::new(),
        }
    }

    fn observed() -> ObservedService {
        ObservedService {
            arn: "arn:svc".into(),
            name: "svc".into(),
            cluster: "c".into(),
            status: "ACTIVE".into(),
            desired_count: 2,
            running_count: 2,
            task_definition_arn: "arn:td:2".into(),
            target_groups: vec!["arn:tg".into()],
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-t".into()],
            grace_period_seconds: 60,
            public_ip: false,
            rolling_out: false,
        }
    }

    #[test]
    fn in_sync_service_has_no_drift() {
        assert!(service_drift(&desired(), &observed()).is_empty());
    }

    #[test]
    fn each_field_drifts() {
        let d = desired();
        let mut o = observed();
        o.desired_count = 5;
        o.task_definition_arn = "arn:td:1".into();
        o.public_ip = true;
        let drift = service_drift(&d, &o).join(", ");
        assert!(drift.contains("desiredCount 5 → 2"), "{drift}");
        assert!(drift.contains("taskDefinition"), "{drift}");
        assert!(drift.contains("networkConfiguration"), "{drift}");
    }

    #[test]
    fn task_definition_fingerprint_follows_content() {
        let td = DesiredTaskDefinition {
            family: "f".into(),
            image: "nginx:1".into(),
            port: 80,
            cpu: 256,
            memory: 512,
            env: vec![],
            command: vec![],
            execution_role_arn: "e".into(),
            task_role_arn: "t".into(),
            log_group: "/g".into(),
            region: "eu-west-1".into(),
            tags: BTreeMap::new(),
            secrets: vec![],
        };
        // Made before secrets existed: the same fingerprint as then (no new revision on upgrade).
        assert_eq!(
            td.fingerprint(),
            "94010d561f300a7c",
            "the fingerprint of a stack without secrets changed"
        );
        let mut with_secret = td.clone();
        with_secret.secrets = vec![SecretVar {
            name: "DB".into(),
            value_from: "arn:aws:ssm:eu-west-1:123456789012:parameter/db".into(),
        }];
        assert_ne!(
            td.fingerprint(),
            with_secret.fingerprint(),
            "a secret makes a new revision"
        );
        let mut other = td.clone();
        other.tags.insert("team".into(), "x".into());
        assert_eq!(td.fingerprint(), other.fingerprint(), "tags do not make a new revision");
        other.image = "nginx:2".into();
        assert_ne!(td.fingerprint(), other.fingerprint());
    }
}
