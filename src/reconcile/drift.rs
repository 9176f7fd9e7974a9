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

use super::converge::{LOAD_BALANCER, SERVICE, VPC_LINK};
use super::desired::{self, Inputs};

/// One difference between AWS and what the last full pass left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub what: String,
    /// The part condition (e.g. `VpcLinkReady`) AWS is still working on, when this is
    /// a wait (an ALB provisioning, a VPC link PENDING, tasks starting) rather than
    /// drift: nothing to repair, only to wait for.
    pub waiting_on: Option<&'static str>,
}

impl Finding {
    fn drift(what: impl Into<String>) -> Self {
        Finding {
            what: what.into(),
            waiting_on: None,
        }
    }

    fn waiting(condition: &'static str, what: impl Into<String>) -> Self {
        Finding {
            what: what.into(),
            waiting_on: Some(condition),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

/// Whether a waiting resource waits on exactly the same parts as when its status
/// was written (`waiting`: its part conditions that are not ready): then nothing
/// moved and a full pass would change nothing. Anything else (drift, or a part that
/// is done) calls for a full pass.
pub fn still_waiting(found: &[Finding], waiting: &std::collections::BTreeSet<&str>) -> bool {
    let parts: Option<std::collections::BTreeSet<&str>> = found.iter().map(|f| f.waiting_on).collect();
    !found.is_empty() && parts.is_some_and(|parts| &parts == waiting)
}

/// Everything that differs from what a full pass left; empty when in sync.
pub async fn check(
    aws: &Aws,
    inventory: &Inventory,
    owner: &Owner,
    spec: &PrivateApiSpec,
    ids: &ResourceIds,
) -> AwsResult<Vec<Finding>> {
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
pub fn findings(inventory: &Inventory, i: Inputs<'_>, ids: &ResourceIds) -> Vec<Finding> {
    let mut found = Vec::new();
    let uid = i.owner.uid.as_str();

    // Security groups: one per role, with exactly the rules a full pass set.
    let observed = inventory.groups.get(uid).map(Vec::as_slice).unwrap_or_default();
    let group_ids: std::collections::BTreeMap<GroupRole, String> =
        observed.iter().map(|g| (g.role, g.id.clone())).collect();
    for wanted in desired::security_groups(i) {
        match observed.iter().find(|g| g.role == wanted.role) {
            None => found.push(Finding::drift(format!("{} security group missing", wanted.role))),
            Some(group) => {
                let (add, remove) =
                    security_group::diff_rules(&security_group::desired_rules(&wanted, &group_ids), &group.rules);
                if !add.is_empty() || !remove.is_empty() {
                    found.push(Finding::drift(format!("{} security group rules changed", wanted.role)));
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
        None => found.push(Finding::drift("no ALB recorded in status")),
        Some(None) => found.push(Finding::drift("ALB missing")),
        Some(Some(lb)) => {
            match lb.state {
                LoadBalancerState::Active => {}
                LoadBalancerState::Provisioning => found.push(Finding::waiting(LOAD_BALANCER, "ALB provisioning")),
                LoadBalancerState::Failed => found.push(Finding::drift("ALB failed")),
            }
            if lb.security_groups != wanted_lb.security_groups {
                found.push(Finding::drift("ALB security groups changed"));
            }
            if lb.subnets != wanted_lb.subnets {
                found.push(Finding::drift("ALB subnets changed"));
            }
        }
    }

    // The target group: its health check, and a listener of our ALB forwarding to it.
    match ids
        .target_group_arn
        .as_deref()
        .map(|arn| inventory.target_groups.get(arn))
    {
        None => found.push(Finding::drift("no target group recorded in status")),
        Some(None) => found.push(Finding::drift("target group missing")),
        Some(Some(tg)) => {
            if tg.health != desired::target_group(i).health {
                found.push(Finding::drift("target group health check changed"));
            }
            if !ids
                .load_balancer_arn
                .as_ref()
                .is_some_and(|lb| tg.load_balancers.contains(lb))
            {
                found.push(Finding::drift("no listener of the ALB forwards to the target group"));
            }
        }
    }

    // The VPC link: the one in the spec, or ours (one only, on the current network).
    match &i.spec.vpc_link.existing_id {
        Some(id) => match inventory.vpc_links.get(id) {
            None => found.push(Finding::drift(format!("VPC link {id} missing"))),
            Some((_, link)) if link.state != LinkState::Available => {
                found.push(link_state(&format!("VPC link {id}"), link.state))
            }
            Some(_) => {}
        },
        None => {
            let link_group = group_ids.get(&GroupRole::VpcLink).cloned().unwrap_or_default();
            let fingerprint = desired::vpc_link(i, &link_group).fingerprint();
            let ours: Vec<_> = inventory.links_of(uid).collect();
            match ours.iter().find(|l| Some(&l.id) == ids.vpc_link_id.as_ref()) {
                None => found.push(Finding::drift("VPC link missing")),
                Some(link) if link.state != LinkState::Available => found.push(link_state("VPC link", link.state)),
                Some(link) if link.fingerprint.as_deref() != Some(fingerprint.as_str()) => {
                    found.push(Finding::drift("VPC link network changed"))
                }
                Some(_) => {}
            }
            if ours.len() > 1 {
                found.push(Finding::drift(format!("{} VPC links, one wanted", ours.len())));
            }
        }
    }

    // The REST API: ours, and only one.
    let apis: Vec<_> = inventory.apis_of(uid).collect();
    if !apis.iter().any(|api| Some(&api.id) == ids.rest_api_id.as_ref()) {
        found.push(Finding::drift("REST API missing"));
    }
    if apis.len() > 1 {
        found.push(Finding::drift(format!("{} REST APIs, one wanted", apis.len())));
    }
    found
}

/// A link that is not AVAILABLE: a wait while PENDING, drift otherwise.
fn link_state(name: &str, state: LinkState) -> Finding {
    match state {
        LinkState::Pending => Finding::waiting(VPC_LINK, format!("{name} pending")),
        other => Finding::drift(format!("{name} {other:?}")),
    }
}

/// The service: the part that changes by itself (tasks stop, deployments roll).
async fn service_findings(aws: &Aws, i: Inputs<'_>, ids: &ResourceIds) -> AwsResult<Vec<Finding>> {
    let (Some(task_definition), Some(target_group), Some(tasks_group)) = (
        ids.task_definition_arn.as_deref(),
        ids.target_group_arn.as_deref(),
        ids.security_group_ids.get(&GroupRole::Tasks.to_string()),
    ) else {
        return Ok(vec![Finding::drift("service not recorded in status")]);
    };
    let cluster = desired::cluster(i).name;
    let wanted = desired::service(i, &cluster, task_definition, target_group, tasks_group);
    let Some(service) = ecs::observe_service(aws, i.owner, &cluster, &wanted.name).await? else {
        return Ok(vec![Finding::drift("ECS service missing")]);
    };
    let mut found: Vec<Finding> = ecs::service_drift(&wanted, &service)
        .into_iter()
        .map(|d| Finding::drift(format!("service {d}")))
        .collect();
    if service.status != "ACTIVE" {
        found.push(Finding::drift(format!("service {}", service.status)));
    }
    if service.running_count < wanted.desired_count || service.rolling_out {
        found.push(Finding::waiting(
            SERVICE,
            format!(
                "{} of {} tasks running{}",
                service.running_count,
                wanted.desired_count,
                if service.rolling_out { ", rolling out" } else { "" }
            ),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn still_waiting_only_when_the_same_parts_wait_and_nothing_drifted() {
        let waiting = |parts: &[&'static str]| parts.iter().copied().collect::<std::collections::BTreeSet<_>>();
        let link = Finding::waiting(VPC_LINK, "VPC link pending");
        let alb = Finding::waiting(LOAD_BALANCER, "ALB provisioning");
        let tasks = Finding::waiting(SERVICE, "0 of 2 tasks running");
        let both = [link.clone(), alb.clone()];
        assert!(still_waiting(&both, &waiting(&[VPC_LINK, LOAD_BALANCER])));
        // The ALB is done: a full pass writes that down (and may have work to do).
        assert!(!still_waiting(
            std::slice::from_ref(&link),
            &waiting(&[VPC_LINK, LOAD_BALANCER])
        ));
        // A part started waiting that the status does not know of.
        assert!(!still_waiting(&[link.clone(), tasks], &waiting(&[VPC_LINK])));
        // Drift beside the wait.
        assert!(!still_waiting(
            &[link, Finding::drift("REST API missing")],
            &waiting(&[VPC_LINK])
        ));
        // Nothing found: the wait is over.
        assert!(!still_waiting(&[], &waiting(&[VPC_LINK])));
    }

    #[test]
    fn a_pending_link_is_a_wait_and_a_failed_one_is_drift() {
        assert_eq!(link_state("VPC link", LinkState::Pending).waiting_on, Some(VPC_LINK));
        assert_eq!(link_state("VPC link", LinkState::Failed).waiting_on, None);
        assert_eq!(link_state("VPC link", LinkState::Deleting).waiting_on, None);
    }
}
