//! The cheap resync of a Ready resource: the same diff as a full pass, of a stack
//! observed cheaply: from a shared region [`Inventory`] plus one per-resource read (a
//! [`Probe`]), taken in turn, with the IDs of parts not read taken from what the last
//! full pass recorded in `.status.resources`. In sync means the diff has no step;
//! anything else is a finding, and the controller runs a full pass (which repairs it)
//! right away.
//!
//! What the inventory shows at every check: security groups and their rules, the ALB
//! (state, security groups, subnets), the target group (health check, and whether a
//! listener of the ALB still forwards to it), the VPC links and the REST APIs. What
//! the probes show, one per check in turn: the ECS service (counts, task definition,
//! network, running tasks), the API's integrations, its stage (the deployment of the
//! current shape, throttling), the ALB's listeners and each IAM role the operator
//! made (there, with its policies). What only a full pass sees (after a restart, on a
//! spec change and every `--full-resync-seconds`): the ECS cluster and task
//! definitions, subnets, tags, and leftovers to sweep (superseded deployments and task
//! definitions).

use std::collections::BTreeSet;

use crate::aws::iam;
use crate::aws::inventory::Inventory;
use crate::aws::{Aws, AwsResult, Owner};
use crate::crd::{PrivateApiSpec, ResourceIds};

use super::desired::{DesiredStack, Inputs, LinkWanted};
use super::diff::{self, Plan};
use super::model::{Condition, Refs, Slot};
use super::observe;

/// Parts whose readiness AWS works on by itself, so that a check can follow it.
pub const WAITABLE: [Condition; 3] = [Condition::LoadBalancer, Condition::VpcLink, Condition::Service];

/// One difference between AWS and the spec, or one part AWS is still working on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub what: String,
    /// The part AWS is still working on, when this is a wait (an ALB provisioning, a
    /// VPC link PENDING, tasks starting) rather than drift: nothing to repair, only to
    /// wait for.
    pub waiting_on: Option<Condition>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

/// What a diff says, as findings: every step is drift, a stuck part too, and each
/// part AWS works on is a wait.
pub fn findings(plan: &Plan) -> Vec<Finding> {
    let drift = plan.steps.iter().map(|step| Finding {
        what: step.change.to_string(),
        waiting_on: None,
    });
    let stuck = plan.stuck.iter().map(|stuck| Finding {
        what: stuck.message.clone(),
        waiting_on: None,
    });
    let waits = plan
        .parts
        .iter()
        .filter(|p| !p.ready && WAITABLE.contains(&p.condition))
        .map(|p| Finding {
            what: p.message.clone(),
            waiting_on: Some(p.condition),
        });
    drift.chain(stuck).chain(waits).collect()
}

/// Whether a waiting resource waits on exactly the same parts as when its status
/// was written (`waiting`: its part conditions that are not ready): then nothing
/// moved and a full pass would change nothing. Anything else (drift, or a part that
/// is done) calls for a full pass.
pub fn still_waiting(found: &[Finding], waiting: &BTreeSet<&str>) -> bool {
    let parts: Option<BTreeSet<&str>> = found.iter().map(|f| f.waiting_on.map(Condition::as_str)).collect();
    !found.is_empty() && parts.is_some_and(|parts| &parts == waiting)
}

/// One per-resource read of a drift check; a resource's checks take them in turn
/// (see [`probes`]), so each costs one or two reads besides its share of the
/// inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// DescribeServices: counts, task definition, network, running tasks.
    Service,
    /// GetResources: `ANY /` and `ANY /{proxy+}` with their integrations.
    Integrations,
    /// GetStages: the stage serves the current shape, with the spec's throttling.
    Stage,
    /// DescribeListeners: one listener, on the spec's port, forwarding to the target group.
    Listener,
    /// The n-th IAM role the operator made (see `DesiredStack::roles`): one or two reads.
    Role(usize),
}

/// The probes of a resource, in the order its checks take them.
pub fn probes(spec: &PrivateApiSpec) -> Vec<Probe> {
    let roles = [
        spec.service.execution_role_arn.is_none(),
        spec.service.task_role_arn.is_none(),
        spec.api.routes.iter().any(|r| r.sqs.role_arn.is_none()) || super::desired::lambda_authorizer(spec).is_some(),
    ]
    .into_iter()
    .filter(|made| *made)
    .count();
    [Probe::Service, Probe::Integrations, Probe::Stage, Probe::Listener]
        .into_iter()
        .chain((0..roles).map(Probe::Role))
        .collect()
}

/// The probe of a resource's `turn`-th drift check.
pub fn probe(spec: &PrivateApiSpec, turn: u32) -> Probe {
    let all = probes(spec);
    all[turn as usize % all.len()]
}

/// Everything that differs from the spec; empty when in sync. The probe is skipped
/// when the inventory already shows drift: a full pass follows anyway.
pub async fn check(
    aws: &Aws,
    inventory: &Inventory,
    owner: &Owner,
    spec: &PrivateApiSpec,
    ids: &ResourceIds,
    probe: Probe,
) -> AwsResult<Vec<Finding>> {
    // On the heap: a stack's model is large, and a caller's future holds it across
    // the probe's await (debug builds overflowed a 2 MiB test thread).
    let desired = Box::new(DesiredStack::build(Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &ids.subnet_ids,
        integration_host: ids.integration_host.as_deref(),
    }));
    let mut observed = Box::new(observe::from_inventory(inventory, owner, &desired, ids));
    let found = findings(&diff::diff_knowing(&desired, &observed, recorded(ids, &desired)));
    if found.iter().any(|f| f.waiting_on.is_none()) {
        return Ok(found);
    }
    Box::pin(observe::probe(aws, owner, &desired, ids, probe, &mut observed)).await?;
    Ok(findings(&diff::diff_knowing(
        &desired,
        &observed,
        recorded(ids, &desired),
    )))
}

/// The IDs the last full pass recorded, for the parts a drift check does not read
/// (a VPC Link V1 is not in the region inventory, which lists V2 links).
pub(crate) fn recorded(ids: &ResourceIds, desired: &DesiredStack) -> Refs {
    let mut refs = Refs::default();
    if let Some(LinkWanted::OwnedV1(_)) = desired.vpc_link {
        refs.learn(Slot::VpcLink, ids.vpc_link_id.as_deref());
    }
    for (slot, id) in [
        (Slot::TaskDefinition, &ids.task_definition_arn),
        (Slot::Listener, &ids.listener_arn),
        (Slot::Service, &ids.service_arn),
        (Slot::Cluster, &ids.cluster_arn),
        (Slot::Role(iam::RoleKind::Execution), &ids.execution_role_arn),
        (Slot::Role(iam::RoleKind::Task), &ids.task_role_arn),
        (Slot::Role(iam::RoleKind::ApiGateway), &ids.api_gateway_role_arn),
        (Slot::Authorizer, &ids.authorizer_id),
    ] {
        refs.learn(slot, id.as_deref());
    }
    refs
}
