//! The cheap resync of a Ready resource: compare what the last full pass recorded in
//! `.status.resources` with a shared region [`Inventory`] and one `DescribeServices`.
//! Anything missing, changed or not healthy is a finding, and the controller runs a
//! full pass (which repairs it) right away.
//!
//! What it sees: security groups and their rules, the ALB (state, security groups,
//! subnets), the target group (health check, and whether a listener of the ALB still
//! forwards to it), the VPC link (state, network), the REST API (there, and only one),
//! and the ECS service (counts, task definition, network, running tasks). What only a
//! full pass sees (it runs every `--full-resync-seconds`): a listener's port or extra
//! listeners, IAM roles, integrations and stages, leftovers to sweep.

use crate::aws::ecs;
use crate::aws::elb::LoadBalancerState;
use crate::aws::inventory::Inventory;
use crate::aws::security_group::{self, GroupRole};
use crate::aws::vpc_link::LinkState;
use crate::aws::{Aws, AwsResult, Owner};
use crate::crd::{PrivateApiSpec, ResourceIds};

use super::desired::{self, Inputs};

/// Everything that differs from what a full pass left; empty when in sync.
pub async fn check(
    aws: &Aws,
    inventory: &Inventory,
    owner: &Owner,
    spec: &PrivateApiSpec,
    ids: &ResourceIds,
) -> AwsResult<Vec<String>> {
    let inputs = Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &ids.subnet_ids,
    };
    let mut found = findings(inventory, inputs, ids);
    found.extend(service_findings(aws, inputs, ids).await?);
    Ok(found)
}

/// The inventory's side of the check (pure).
pub fn findings(inventory: &Inventory, i: Inputs<'_>, ids: &ResourceIds) -> Vec<String> {
    let mut found = Vec::new();
    let uid = i.owner.uid.as_str();

    // Security groups: one per role, with exactly the rules a full pass set.
    let observed = inventory.groups.get(uid).map(Vec::as_slice).unwrap_or_default();
    let group_ids: std::collections::BTreeMap<GroupRole, String> =
        observed.iter().map(|g| (g.role, g.id.clone())).collect();
    for wanted in desired::security_groups(i) {
        match observed.iter().find(|g| g.role == wanted.role) {
            None => found.push(format!("{} security group missing", wanted.role)),
            Some(group) => {
                let (add, remove) =
                    security_group::diff_rules(&security_group::desired_rules(&wanted, &group_ids), &group.rules);
                if !add.is_empty() || !remove.is_empty() {
                    found.push(format!("{} security group rules changed", wanted.role));
                }
            }
        }
    }

    // The ALB.
    let alb_group = group_ids.get(&GroupRole::LoadBalancer).cloned().unwrap_or_default();
    let wanted_lb = desired::load_balancer(i, &alb_group);
    match ids
        .load_balancer_arn
        .as_deref()
        .map(|arn| inventory.load_balancers.get(arn))
    {
        None => found.push("no ALB recorded in status".into()),
        Some(None) => found.push("ALB missing".into()),
        Some(Some(lb)) => {
            if lb.state != LoadBalancerState::Active {
                found.push(format!("ALB {:?}", lb.state));
            }
            if lb.security_groups != wanted_lb.security_groups {
                found.push("ALB security groups changed".into());
            }
            if lb.subnets != wanted_lb.subnets {
                found.push("ALB subnets changed".into());
            }
        }
    }

    // The target group: its health check, and a listener of our ALB forwarding to it.
    match ids
        .target_group_arn
        .as_deref()
        .map(|arn| inventory.target_groups.get(arn))
    {
        None => found.push("no target group recorded in status".into()),
        Some(None) => found.push("target group missing".into()),
        Some(Some(tg)) => {
            if tg.health != desired::target_group(i).health {
                found.push("target group health check changed".into());
            }
            if !ids
                .load_balancer_arn
                .as_ref()
                .is_some_and(|lb| tg.load_balancers.contains(lb))
            {
                found.push("no listener of the ALB forwards to the target group".into());
            }
        }
    }

    // The VPC link: the one in the spec, or ours (one only, on the current network).
    match &i.spec.vpc_link.existing_id {
        Some(id) => match inventory.vpc_links.get(id) {
            None => found.push(format!("VPC link {id} missing")),
            Some((_, link)) if link.state != LinkState::Available => {
                found.push(format!("VPC link {id} {:?}", link.state))
            }
            Some(_) => {}
        },
        None => {
            let link_group = group_ids.get(&GroupRole::VpcLink).cloned().unwrap_or_default();
            let fingerprint = desired::vpc_link(i, &link_group).fingerprint();
            let ours: Vec<_> = inventory.links_of(uid).collect();
            match ours.iter().find(|l| Some(&l.id) == ids.vpc_link_id.as_ref()) {
                None => found.push("VPC link missing".into()),
                Some(link) if link.state != LinkState::Available => found.push(format!("VPC link {:?}", link.state)),
                Some(link) if link.fingerprint.as_deref() != Some(fingerprint.as_str()) => {
                    found.push("VPC link network changed".into())
                }
                Some(_) => {}
            }
            if ours.len() > 1 {
                found.push(format!("{} VPC links, one wanted", ours.len()));
            }
        }
    }

    // The REST API: ours, and only one.
    let apis: Vec<_> = inventory.apis_of(uid).collect();
    if !apis.iter().any(|api| Some(&api.id) == ids.rest_api_id.as_ref()) {
        found.push("REST API missing".into());
    }
    if apis.len() > 1 {
        found.push(format!("{} REST APIs, one wanted", apis.len()));
    }
    found
}

/// The service: the part that changes by itself (tasks stop, deployments roll).
async fn service_findings(aws: &Aws, i: Inputs<'_>, ids: &ResourceIds) -> AwsResult<Vec<String>> {
    let (Some(task_definition), Some(target_group), Some(tasks_group)) = (
        ids.task_definition_arn.as_deref(),
        ids.target_group_arn.as_deref(),
        ids.security_group_ids.get(&GroupRole::Tasks.to_string()),
    ) else {
        return Ok(vec!["service not recorded in status".into()]);
    };
    let cluster = desired::cluster(i).name;
    let wanted = desired::service(i, &cluster, task_definition, target_group, tasks_group);
    let Some(service) = ecs::observe_service(aws, i.owner, &cluster, &wanted.name).await? else {
        return Ok(vec!["ECS service missing".into()]);
    };
    let mut found: Vec<String> = ecs::service_drift(&wanted, &service)
        .into_iter()
        .map(|d| format!("service {d}"))
        .collect();
    if service.status != "ACTIVE" {
        found.push(format!("service {}", service.status));
    }
    if service.running_count < wanted.desired_count || service.rolling_out {
        found.push(format!(
            "{} of {} tasks running{}",
            service.running_count,
            wanted.desired_count,
            if service.rolling_out { ", rolling out" } else { "" }
        ));
    }
    Ok(found)
}
