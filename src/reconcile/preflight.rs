//! Pre-flight: what only AWS knows, checked before the first write of a pass, so
//! that input AWS would refuse partway through (after security groups, roles and a
//! cluster were made) stops the pass with nothing made. Reads only, and few: the
//! subnets' `DescribeSubnets` the pass needs anyway, and one DNS lookup of the
//! region's endpoint per region and process.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::aws::ecs::DesiredTaskDefinition;
use crate::aws::network::Subnet;
use crate::crd::{LoadBalancerKind, PrivateApiSpec};
use crate::error::{Error, Result};

/// ECS's limit on a task definition (the RegisterTaskDefinition request's JSON).
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// The longest role ARN the operator makes or a spec is likely to hold: 20 characters
/// of `arn:aws-us-gov:iam::`, the account, `:role/`, a path and a 64-character name.
const ROLE_ARN_ESTIMATE: usize = 160;

fn refused(reason: &'static str, message: String) -> Error {
    Error::Preflight { reason, message }
}

/// The subnets the spec names, as AWS has them: every one found, in the spec's VPC,
/// and (for an Application Load Balancer, which AWS requires so) in at least two
/// availability zones. A selector must find at least two subnets. Returns their IDs.
pub fn subnets(spec: &PrivateApiSpec, found: &[Subnet]) -> Result<Vec<String>> {
    let net = &spec.network;
    if let Some(ids) = &net.subnet_ids {
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !found.iter().any(|s| &s.id == *id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(refused(
                "SubnetNotFound",
                format!(
                    "spec.network.subnetIds: {} not found in this account and region",
                    missing.join(", ")
                ),
            ));
        }
        let elsewhere: Vec<String> = found
            .iter()
            .filter(|s| s.vpc_id != net.vpc_id)
            .map(|s| format!("{} is in {}", s.id, s.vpc_id))
            .collect();
        if !elsewhere.is_empty() {
            return Err(refused(
                "SubnetNotInVpc",
                format!(
                    "spec.network.subnetIds: {}, not in spec.network.vpcId {}",
                    elsewhere.join(", "),
                    net.vpc_id
                ),
            ));
        }
    }
    if found.len() < 2 {
        return Err(refused(
            "InsufficientSubnets",
            format!(
                "spec.network.subnetSelector: found {} subnet(s) in VPC {}; at least two, in different availability zones, are needed",
                found.len(),
                net.vpc_id
            ),
        ));
    }
    let zones: BTreeSet<&str> = found.iter().map(|s| s.zone.as_str()).collect();
    if spec.load_balancer.kind == LoadBalancerKind::Application && zones.len() < 2 {
        let by_zone: BTreeMap<&str, Vec<&str>> = found.iter().fold(BTreeMap::new(), |mut m, s| {
            m.entry(s.zone.as_str()).or_default().push(s.id.as_str());
            m
        });
        let listed: Vec<String> = by_zone
            .iter()
            .map(|(zone, ids)| format!("{} in {zone}", ids.join(", ")))
            .collect();
        return Err(refused(
            "SubnetsInOneZone",
            format!(
                "an Application Load Balancer needs subnets in at least two availability zones: {}",
                listed.join("; ")
            ),
        ));
    }
    Ok(found.iter().map(|s| s.id.clone()).collect())
}

/// ECS refuses a task definition over 64 KiB: the request as RegisterTaskDefinition
/// sends it, with role ARNs not known yet counted at their likely longest.
pub fn task_definition<R>(td: &DesiredTaskDefinition<R>) -> Result<()> {
    let role = "r".repeat(ROLE_ARN_ESTIMATE);
    let body = serde_json::json!({
        "family": td.family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": td.cpu.to_string(),
        "memory": td.memory.to_string(),
        "executionRoleArn": role,
        "taskRoleArn": role,
        "containerDefinitions": [{
            "name": crate::aws::ecs::CONTAINER_NAME,
            "image": td.image,
            "essential": true,
            "portMappings": [{"containerPort": td.port, "protocol": "tcp"}],
            "environment": td.env.iter().map(|e| serde_json::json!({"name": e.name, "value": e.value})).collect::<Vec<_>>(),
            "secrets": td.secrets.iter().map(|s| serde_json::json!({"name": s.name, "valueFrom": s.value_from})).collect::<Vec<_>>(),
            "command": td.command,
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": td.log_group,
                "awslogs-region": td.region,
                "awslogs-stream-prefix": "privateapi",
                "awslogs-create-group": "true",
            }},
        }],
        "tags": td.tags.iter().map(|(k, v)| serde_json::json!({"key": k, "value": v})).collect::<Vec<_>>(),
    });
    let bytes = body.to_string().len();
    if bytes > MAX_TASK_DEFINITION_BYTES {
        return Err(refused(
            "TaskDefinitionTooLarge",
            format!(
                "the task definition would be {} KiB; ECS allows 64 KiB: spec.service.env and spec.service.command are too long \
                 (large values belong in spec.service.secrets or in the image)",
                bytes.div_ceil(1024)
            ),
        ));
    }
    Ok(())
}

/// The host the SDK would send EC2 calls to in `region`, from the SDK's own
/// endpoint rules (partition included: `amazonaws.com.cn` for China).
pub async fn endpoint_host(region: &str) -> Option<String> {
    use aws_sdk_ec2::config::endpoint::{Params, ResolveEndpoint};
    let params = Params::builder().region(region).build().ok()?;
    let resolver = aws_sdk_ec2::config::endpoint::DefaultResolver::new();
    let endpoint = ResolveEndpoint::resolve_endpoint(&resolver, &params).await.ok()?;
    let url = endpoint.url();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    Some(rest.split(['/', ':']).next().unwrap_or(rest).to_owned())
}

/// A region that does not exist (a typo: `eu-wset-1`) has no endpoints: its name
/// does not resolve in DNS. Found here in one lookup, with the host named, rather
/// than by every call's retries until the deadline. Only where the SDK resolves
/// endpoints from the region (no `AWS_ENDPOINT_URL` override). A lookup that takes
/// longer than a few seconds, or that the resolver could not answer, is left to the
/// calls themselves.
pub async fn region(region: &str, endpoint_override: bool) -> Result<()> {
    if endpoint_override {
        return Ok(());
    }
    let Some(host) = endpoint_host(region).await else {
        return Err(refused(
            "UnknownRegion",
            format!(
                "region {region:?}: the AWS SDK knows no endpoint for it (spec.region, AWS_REGION or the profile's region)"
            ),
        ));
    };
    let lookup = tokio::net::lookup_host((host.as_str(), 443));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(_)) | Err(_) => Ok(()),
        // The resolver could not answer (EAI_AGAIN): not a verdict on the region; a
        // passing DNS hiccup must not stall every object of the region.
        Ok(Err(e)) if e.to_string().contains("Temporary failure") => Ok(()),
        Ok(Err(e)) => Err(refused(
            "UnknownRegion",
            format!(
                "region {region:?}: its endpoint {host} does not resolve in DNS ({e}); is the region spelt right \
                 (spec.region, AWS_REGION or the profile's region), and is DNS reachable?"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> PrivateApiSpec {
        serde_norway::from_str(&format!("service: {{image: nginx}}\n{yaml}")).expect("spec")
    }

    fn subnet(id: &str, vpc: &str, zone: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: vpc.into(),
            zone: zone.into(),
        }
    }

    #[test]
    fn subnets_must_exist_be_in_the_vpc_and_span_two_zones_for_an_alb() {
        let alb = spec("network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}");
        let two_zones = [
            subnet("subnet-a", "vpc-1", "eu-west-1a"),
            subnet("subnet-b", "vpc-1", "eu-west-1b"),
        ];
        assert_eq!(
            subnets(&alb, &two_zones).ok(),
            Some(vec!["subnet-a".into(), "subnet-b".into()])
        );

        let one_zone = [
            subnet("subnet-a", "vpc-1", "eu-west-1a"),
            subnet("subnet-b", "vpc-1", "eu-west-1a"),
        ];
        let err = subnets(&alb, &one_zone).expect_err("one zone");
        assert_eq!(err.reason(), "SubnetsInOneZone");
        assert!(err.to_string().contains("subnet-a, subnet-b in eu-west-1a"), "{err}");
        // An NLB may live in one zone.
        let nlb = spec("network: {vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}\nloadBalancer: {type: network}");
        assert!(subnets(&nlb, &one_zone).is_ok());

        let err = subnets(&alb, &two_zones[..1]).expect_err("missing");
        assert_eq!(err.reason(), "SubnetNotFound");
        assert!(err.to_string().contains("subnet-b"), "{err}");

        let other_vpc = [
            subnet("subnet-a", "vpc-1", "eu-west-1a"),
            subnet("subnet-b", "vpc-2", "eu-west-1b"),
        ];
        let err = subnets(&alb, &other_vpc).expect_err("other VPC");
        assert_eq!(err.reason(), "SubnetNotInVpc");
        assert!(err.to_string().contains("subnet-b is in vpc-2"), "{err}");

        let selector = spec("network: {vpcId: vpc-1, subnetSelector: {tier: private}}");
        let err = subnets(&selector, &two_zones[..1]).expect_err("one found");
        assert_eq!(err.reason(), "InsufficientSubnets");
        assert!(err.is_terminal());
    }

    #[tokio::test]
    async fn the_endpoint_host_comes_from_the_partition() {
        assert_eq!(
            endpoint_host("eu-west-1").await.as_deref(),
            Some("ec2.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            endpoint_host("cn-north-1").await.as_deref(),
            Some("ec2.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            endpoint_host("eu-wset-1").await.as_deref(),
            Some("ec2.eu-wset-1.amazonaws.com")
        );
    }
}
