//! The cheap resync of a Ready resource: compare what the last full pass recorded in
//! `.status.resources` with a shared region [`Inventory`], plus one per-resource read
//! (a [`Probe`]), taken in turn. Anything missing, changed or not healthy is a
//! finding, and the controller runs a full pass (which repairs it) right away.
//!
//! What the inventory shows at every check: security groups and their rules, the ALB
//! (state, security groups, subnets), the target group (health check, and whether a
//! listener of the ALB still forwards to it), the VPC link (state, network) and the
//! REST API (there, and only one). What the probes show, one per check in turn: the
//! ECS service (counts, task definition, network, running tasks), the API's
//! integrations, its stage (the deployment of the current shape, throttling), the
//! ALB's listeners (one, on the spec's port) and each IAM role the operator made (there,
//! with its policies). What only a full pass sees (after a restart, on a spec change and
//! every `--full-resync-seconds`): the ECS cluster and task definitions, subnets, tags,
//! and leftovers to sweep (superseded deployments and task definitions).

use crate::aws::elb::{self, LoadBalancerState};
use crate::aws::inventory::Inventory;
use crate::aws::security_group::{self, GroupRole};
use crate::aws::vpc_link::LinkState;
use crate::aws::{Aws, AwsResult, Owner};
use crate::aws::{ecs, iam, rest_api};
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
    /// The n-th IAM role the operator made (see `desired::roles`): one or two reads.
    Role(usize),
}

/// The probes of a resource, in the order its checks take them.
pub fn probes(spec: &PrivateApiSpec) -> Vec<Probe> {
    let roles = [
        spec.service.execution_role_arn.is_none(),
        spec.service.task_role_arn.is_none(),
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

/// Everything that differs from what a full pass left; empty when in sync. The probe
/// is skipped when the inventory already found drift: a full pass follows anyway.
pub async fn check(
    aws: &Aws,
    inventory: &Inventory,
    owner: &Owner,
    spec: &PrivateApiSpec,
    ids: &ResourceIds,
    probe: Probe,
) -> AwsResult<Vec<Finding>> {
    let inputs = Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &ids.subnet_ids,
    };
    let mut found = findings(inventory, inputs, ids);
    if found.iter().any(|f| f.waiting_on.is_none()) {
        return Ok(found);
    }
    found.extend(match probe {
        Probe::Service => service_findings(aws, inputs, ids).await?,
        Probe::Integrations | Probe::Stage => api_findings(aws, inventory, inputs, ids, probe).await?,
        Probe::Listener => listener_findings(aws, inputs, ids).await?,
        Probe::Role(n) => role_findings(aws, inputs, n).await?,
    });
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

/// The API as the stack around it wants it: the integrations through the link to the
/// ALB, and the stage serving their shape.
async fn api_findings(
    aws: &Aws,
    inventory: &Inventory,
    i: Inputs<'_>,
    ids: &ResourceIds,
    probe: Probe,
) -> AwsResult<Vec<Finding>> {
    let link = i.spec.vpc_link.existing_id.as_ref().or(ids.vpc_link_id.as_ref());
    let lb = ids
        .load_balancer_arn
        .as_ref()
        .and_then(|arn| inventory.load_balancers.get(arn));
    let (Some(api_id), Some(link), Some(lb)) = (&ids.rest_api_id, link, lb) else {
        return Ok(vec![Finding::drift("API not recorded in status")]);
    };
    let wanted = desired::api(i, &lb.dns_name, link, &lb.arn);
    if probe == Probe::Stage {
        let Some(stages) = rest_api::observe_stages(aws, api_id).await? else {
            return Ok(vec![Finding::drift("REST API missing")]);
        };
        return Ok(stage_findings(&stages, &wanted));
    }
    let Some(api) = rest_api::observe_resources(aws, api_id).await? else {
        return Ok(vec![Finding::drift("REST API missing")]);
    };
    Ok(integration_findings(&api, &wanted))
}

/// `ANY /` and `ANY /{proxy+}`, each integrated as wanted (pure).
pub fn integration_findings(api: &rest_api::ObservedApi, wanted: &rest_api::DesiredApi) -> Vec<Finding> {
    [
        (rest_api::ROOT_PATH, &api.root, &wanted.root),
        (rest_api::PROXY_PATH, &api.proxy, &wanted.proxy),
    ]
    .into_iter()
    .filter_map(|(path, observed, integration)| match observed {
        None => Some(Finding::drift(format!("API resource {path} missing"))),
        Some(r) if !r.has_any_method => Some(Finding::drift(format!("ANY {path} missing"))),
        Some(r) if r.integration.as_ref() != Some(integration) => {
            Some(Finding::drift(format!("ANY {path} integration changed")))
        }
        Some(_) => None,
    })
    .collect()
}

/// The stage: there, serving the current shape through the deployment it records,
/// throttled as the spec says (pure).
pub fn stage_findings(stages: &[rest_api::ObservedStage], wanted: &rest_api::DesiredApi) -> Vec<Finding> {
    let Some(stage) = stages.iter().find(|s| s.name == wanted.stage_name) else {
        return vec![Finding::drift(format!("stage {} missing", wanted.stage_name))];
    };
    let mut found = Vec::new();
    if !rest_api::stage_in_sync(stage, &wanted.shape()) {
        found.push(Finding::drift(format!(
            "stage {} does not serve the current deployment",
            stage.name
        )));
    }
    if wanted.throttle.is_some() && stage.throttle != wanted.throttle {
        found.push(Finding::drift(format!("stage {} throttling changed", stage.name)));
    }
    found
}

/// The ALB's listeners: exactly one, on the spec's port, forwarding to our target group.
async fn listener_findings(aws: &Aws, i: Inputs<'_>, ids: &ResourceIds) -> AwsResult<Vec<Finding>> {
    let (Some(lb), Some(tg)) = (&ids.load_balancer_arn, &ids.target_group_arn) else {
        return Ok(vec![Finding::drift("ALB not recorded in status")]);
    };
    let Some(listeners) = elb::observe_listeners(aws, lb).await? else {
        return Ok(vec![Finding::drift("ALB missing")]);
    };
    let port = desired::listener(i).port;
    let (keep, strays) = elb::pick_listener(&listeners, port);
    let mut found = Vec::new();
    match keep {
        None => found.push(Finding::drift("listener missing")),
        Some(listener) if !elb::listener_in_sync(listener, port, tg) => found.push(Finding::drift("listener changed")),
        Some(_) => {}
    }
    if !strays.is_empty() {
        found.push(Finding::drift(format!("{} listeners, one wanted", listeners.len())));
    }
    Ok(found)
}

/// One IAM role the operator made: there, with the policies it was given.
async fn role_findings(aws: &Aws, i: Inputs<'_>, n: usize) -> AwsResult<Vec<Finding>> {
    let Some(role) = desired::roles(i).into_iter().nth(n) else {
        return Ok(Vec::new());
    };
    Ok(iam::changes_due(aws, &role)
        .await?
        .into_iter()
        .map(|change| {
            Finding::drift(match change {
                iam::RoleChange::Create => format!("IAM role {} missing", role.name),
                iam::RoleChange::AttachPolicy(p) => format!("IAM role {} lacks policy {p}", role.name),
                iam::RoleChange::PutInlinePolicy(p) => format!("IAM role {} lacks inline policy {p}", role.name),
            })
        })
        .collect())
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
    use crate::aws::ownership::Owner;

    fn spec(extra: &str) -> PrivateApiSpec {
        serde_yaml::from_str(&format!(
            "network: {{vpcId: vpc-1, subnetIds: [subnet-a]}}\nservice: {{image: nginx:1.27{extra}}}\napi: {{throttle: {{rateLimit: 50, burstLimit: 100}}}}"
        ))
        .expect("spec parses")
    }

    fn wanted_api(spec: &PrivateApiSpec) -> rest_api::DesiredApi {
        let owner = Owner::new("shop", "orders", "uid-1");
        let subnets = vec!["subnet-a".to_string()];
        let inputs = Inputs {
            owner: &owner,
            spec,
            region: "eu-west-1",
            subnets: &subnets,
        };
        desired::api(inputs, "internal-alb.example", "vl-1", "arn:alb")
    }

    #[test]
    fn the_probes_go_round_every_part_a_full_pass_would_read_per_resource() {
        let all = probes(&spec(""));
        assert_eq!(
            all,
            [
                Probe::Service,
                Probe::Integrations,
                Probe::Stage,
                Probe::Listener,
                Probe::Role(0),
                Probe::Role(1)
            ]
        );
        let taken: Vec<Probe> = (0..12).map(|turn| probe(&spec(""), turn)).collect();
        assert_eq!(taken[..6], all[..]);
        assert_eq!(taken[6..], all[..]);
        // Roles the spec brings are not the operator's to check.
        let own_roles = spec(", executionRoleArn: 'arn:aws:iam::1:role/x', taskRoleArn: 'arn:aws:iam::1:role/y'");
        assert_eq!(probes(&own_roles).len(), 4);
        assert_eq!(probe(&own_roles, 4), Probe::Service);
    }

    #[test]
    fn the_stage_must_serve_the_current_shape_with_the_spec_throttling() {
        let spec = spec("");
        let wanted = wanted_api(&spec);
        let in_sync = rest_api::ObservedStage {
            name: wanted.stage_name.clone(),
            deployment_id: Some("d1".into()),
            description: Some(rest_api::stage_description(&wanted.shape(), "d1")),
            throttle: Some((50.0, 100)),
        };
        assert_eq!(stage_findings(std::slice::from_ref(&in_sync), &wanted), []);
        let by_hand = rest_api::ObservedStage {
            deployment_id: Some("d2".into()),
            throttle: Some((5.0, 10)),
            ..in_sync.clone()
        };
        let whats: Vec<String> = stage_findings(&[by_hand], &wanted)
            .into_iter()
            .map(|f| f.what)
            .collect();
        assert_eq!(
            whats,
            [
                "stage prod does not serve the current deployment",
                "stage prod throttling changed"
            ]
        );
        let other = rest_api::ObservedStage {
            name: "beta".into(),
            ..in_sync
        };
        assert_eq!(stage_findings(&[other], &wanted)[0].what, "stage prod missing");
    }

    #[test]
    fn both_methods_must_be_integrated_as_wanted() {
        let wanted = wanted_api(&spec(""));
        let resource = |integration: &rest_api::Integration| rest_api::ObservedResource {
            id: "r".into(),
            has_any_method: true,
            integration: Some(integration.clone()),
        };
        let mut api = rest_api::ObservedApi {
            root: Some(resource(&wanted.root)),
            proxy: Some(resource(&wanted.proxy)),
            ..Default::default()
        };
        assert_eq!(integration_findings(&api, &wanted), []);
        api.proxy = Some(resource(&rest_api::Integration {
            uri: "http://elsewhere/{proxy}".into(),
            ..wanted.proxy.clone()
        }));
        api.root = None;
        let whats: Vec<String> = integration_findings(&api, &wanted)
            .into_iter()
            .map(|f| f.what)
            .collect();
        assert_eq!(whats, ["API resource / missing", "ANY /{proxy+} integration changed"]);
    }

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
