//! The engine, in the shape of the AWS Load Balancer Controller's: a pure model of
//! the whole stack ([`desired::DesiredStack`]), what AWS holds of it, found by
//! ownership tags ([`observe::ObservedStack`]), one pure comparison ([`diff::diff`])
//! and one [`execute`]or. `apply`, `plan`, the controller's full pass and drift check,
//! and teardown (the diff against an empty stack) all go through it.

pub mod desired;
pub mod diff;
pub mod drift;
pub mod execute;
pub mod model;
pub mod observe;
pub mod preflight;

use std::fmt;

use crate::aws::{Aws, Owner, network};
use crate::crd::{PrivateApiSpec, ResourceIds, ServiceCounts};
use crate::error::{Error, Result};

pub use model::{Condition, Part};
pub use observe::History;

use desired::{DesiredStack, Inputs};
use model::Slot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Make the changes.
    Apply,
    /// Only record what would change (no mutating AWS call).
    Plan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Create,
    Update,
    Delete,
}

/// One change to one AWS object: made (apply) or pending (plan).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub verb: Verb,
    pub part: Part,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Change {
    pub fn new(verb: Verb, part: Part, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Change {
            verb,
            part,
            name: name.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.verb {
            Verb::Create => "+",
            Verb::Update => "~",
            Verb::Delete => "-",
        };
        write!(f, "{sign} {} {}", self.part, self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Readiness of one part, reported as a `<Part>Ready` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartStatus {
    pub condition: Condition,
    pub ready: bool,
    pub reason: String,
    pub message: String,
}

impl PartStatus {
    pub fn ready(condition: Condition, message: impl Into<String>) -> Self {
        PartStatus {
            condition,
            ready: true,
            reason: "Ready".into(),
            message: message.into(),
        }
    }

    pub fn waiting(condition: Condition, reason: impl Into<String>, message: impl Into<String>) -> Self {
        PartStatus {
            condition,
            ready: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// What one pass of the engine saw and did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub resources: ResourceIds,
    pub endpoint: Option<String>,
    /// The API at its custom domain, once mapped.
    pub domain_endpoint: Option<String>,
    pub service: Option<ServiceCounts>,
    pub parts: Vec<PartStatus>,
    pub changes: Vec<Change>,
}

impl Outcome {
    /// Ready means: a full pass found every part in place and made no change.
    pub fn is_ready(&self) -> bool {
        self.changes.is_empty() && self.parts.iter().all(|p| p.ready)
    }

    /// The first part not ready yet, for the `Reconciling` reason.
    pub fn waiting_on(&self) -> Option<&PartStatus> {
        self.parts.iter().find(|p| !p.ready)
    }
}

/// The changes as one line each (or joined by `separator`), for events and messages.
pub fn summary(changes: &[Change], separator: &str) -> String {
    changes
        .iter()
        .map(Change::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// One pass that brings AWS to the spec: the desired stack, what exists of it, their
/// diff, and the steps run (plan mode: recorded). Never waits for AWS: a part still
/// provisioning is reported as not ready and the pass moves on.
pub async fn converge(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, mode: Mode) -> Result<Outcome> {
    converge_knowing(aws, owner, spec, mode, History::Unknown).await
}

/// [`converge`], knowing what may exist of the owner: the first pass of a new object
/// (`History::New`) reads only what it may share with other stacks.
pub async fn converge_knowing(
    aws: &Aws,
    owner: &Owner,
    spec: &PrivateApiSpec,
    mode: Mode,
    history: History,
) -> Result<Outcome> {
    spec.validate().map_err(Error::InvalidSpec)?;
    roles_allowed(&aws.roles, spec)?;
    // Pre-flight: what only AWS knows, read before the first write, so that input AWS
    // would refuse stops the pass with nothing made (preflight.rs).
    region_exists(aws).await?;
    let net = &spec.network;
    let found = network::describe_subnets(
        aws,
        &net.vpc_id,
        net.subnet_ids.as_deref(),
        net.subnet_selector.as_ref(),
    )
    .await?;
    let subnets = preflight::subnets(spec, &found)?;
    // A certificate that does not exist stops the pass here too.
    let integration_host = match &spec.load_balancer.certificate_arn {
        Some(arn) => Some(crate::aws::certificate::host_name(aws, arn).await?),
        None => None,
    };
    // On the heap too: the pass's future holds it across every await below.
    let desired = Box::new(DesiredStack::build(Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &subnets,
        integration_host: integration_host.as_deref(),
    }));
    if let Some(td) = &desired.task_definition {
        preflight::task_definition(td)?;
    }
    // Observing and executing are large futures (every part's calls): on the heap, so
    // that no caller's stack has to hold them (a debug build overflowed a 2 MiB test
    // thread).
    let observed = Box::new(Box::pin(observe::full(aws, owner, &desired, history)).await?);
    let plan = diff::diff(&desired, &observed);
    Box::pin(carry_out(aws, spec, mode, plan, integration_host, subnets)).await
}

/// The pass after a full pass that made changes and left some part to AWS (a VPC link
/// PENDING, an ALB provisioning), once a wait check finds that wait over: the same
/// diff and steps as a full pass, of a stack observed as the wait check observed it
/// (the region's `inventory`, taken after that full pass, and the IDs its status
/// recorded: `ids`) plus what the wait held back: the API's resources, integrations,
/// stage and deployments, and the service. The parts that full pass made and found
/// ready (roles, cluster, task definition, listener, log group) are not read again:
/// 4 reads (REST: DescribeServices, GetResources, GetStages, GetDeployments; HTTP: 4
/// too) besides its share of the inventory, instead of a full pass's 22
/// (`schedule::FULL_PASS_READS`).
///
/// `None` for the stacks a follow-up does not cover (see [`follows_up`]): the caller
/// runs a full pass.
pub async fn follow_up(
    aws: &Aws,
    inventory: &crate::aws::inventory::Inventory,
    owner: &Owner,
    spec: &PrivateApiSpec,
    ids: &ResourceIds,
    mode: Mode,
) -> Result<Option<Outcome>> {
    spec.validate().map_err(Error::InvalidSpec)?;
    roles_allowed(&aws.roles, spec)?;
    let desired = Box::new(DesiredStack::build(Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &ids.subnet_ids,
        integration_host: ids.integration_host.as_deref(),
    }));
    if !follows_up(&desired) {
        return Ok(None);
    }
    let mut observed = Box::new(observe::from_inventory(inventory, owner, &desired, ids));
    Box::pin(observe::held_back(aws, owner, &desired, &mut observed)).await?;
    let plan = diff::diff_knowing(&desired, &observed, drift::recorded(ids, &desired));
    // A part it did not read may be missing (no listener routes to the target group):
    // the full pass reads it.
    if plan.steps.iter().any(|step| step.action == diff::Action::Recheck) {
        return Ok(None);
    }
    let outcome = Box::pin(carry_out(
        aws,
        spec,
        mode,
        plan,
        ids.integration_host.clone(),
        ids.subnet_ids.clone(),
    ))
    .await?;
    Ok(Some(outcome))
}

/// Whether the steps a VPC link or an ALB holds back are all among the parts a
/// [`follow_up`] reads (the API's and the service's). Not for a custom domain (its
/// mapping and record follow the stage), routes to queues (API Gateway's role), an
/// authorizer, a V1 link (not in the region inventory) and the NLB in front of
/// the ALB it needs, a usage plan (its keys are read apart) or a load-balancer group
/// (the group's ALB, listener and rules): those take a full pass.
pub fn follows_up(desired: &DesiredStack) -> bool {
    let plain_rest = desired
        .api
        .as_ref()
        .is_none_or(|api| api.authorizer.is_none() && api.routes.is_empty());
    let plain_http = desired
        .http_api
        .as_ref()
        .is_none_or(|api| api.authorizer.is_none() && api.routes.is_empty());
    plain_rest
        && plain_http
        && desired.domain.is_none()
        && desired.dns.is_none()
        && desired.front.is_none()
        && desired.usage_plan.is_none()
        && desired.lb_group.is_none()
        && !matches!(desired.vpc_link, Some(desired::LinkWanted::OwnedV1(_)))
}

/// Runs a plan's steps and reports the pass: the IDs, the endpoint, each part's
/// readiness and the changes.
async fn carry_out(
    aws: &Aws,
    spec: &PrivateApiSpec,
    mode: Mode,
    plan: diff::Plan,
    integration_host: Option<String>,
    subnets: Vec<String>,
) -> Result<Outcome> {
    let stuck = plan.stuck.clone();
    let service = plan.service_counts;
    let cluster_arn = plan.cluster_arn.clone();
    let run = Box::pin(execute::execute(aws, mode, plan)).await?;
    if let Some(stuck) = stuck {
        return Err(Error::Stuck {
            part: stuck.part,
            reason: stuck.reason,
            message: stuck.message,
        });
    }
    let refs = &run.refs;
    let known = |slot| refs.slot(slot).map(str::to_owned);
    let wired = !run.wiring_held && run.parts.iter().any(|p| p.condition == Condition::Api && p.ready);
    let svc = &spec.service;
    let resources = ResourceIds {
        rest_api_id: known(Slot::RestApi),
        http_api_id: known(Slot::HttpApi),
        domain_target: known(Slot::DomainTarget),
        domain_hosted_zone_id: known(Slot::DomainZone),
        deployment_id: known(Slot::Deployment).filter(|_| wired),
        vpc_link_id: known(Slot::VpcLink).or_else(|| spec.vpc_link.existing_id.clone()),
        load_balancer_arn: known(Slot::LoadBalancer),
        load_balancer_dns: known(Slot::LoadBalancerDns),
        listener_arn: known(Slot::Listener),
        listener_rule_arn: known(Slot::ListenerRule),
        listener_rule_priority: known(Slot::ListenerRulePriority).and_then(|p| p.parse().ok()),
        target_group_arn: known(Slot::TargetGroup),
        front_load_balancer_arn: known(Slot::FrontLoadBalancer),
        front_load_balancer_dns: known(Slot::FrontLoadBalancerDns),
        front_target_group_arn: known(Slot::FrontTargetGroup),
        cluster_arn: cluster_arn.or_else(|| known(Slot::Cluster)),
        service_arn: known(Slot::Service),
        task_definition_arn: known(Slot::TaskDefinition),
        execution_role_arn: execute::role_arn(refs, &svc.execution_role_arn, crate::aws::iam::RoleKind::Execution),
        task_role_arn: execute::role_arn(refs, &svc.task_role_arn, crate::aws::iam::RoleKind::Task),
        api_gateway_role_arn: known(Slot::Role(crate::aws::iam::RoleKind::ApiGateway)).filter(|_| {
            spec.api.routes.iter().any(|r| r.sqs.role_arn.is_none()) || desired::lambda_authorizer(spec).is_some()
        }),
        authorizer_id: known(Slot::Authorizer).filter(|_| wired),
        usage_plan_id: known(Slot::UsagePlan).filter(|_| spec.api.usage_plan.is_some()),
        api_key_ids: api_key_ids(refs, spec),
        web_acl_arn: spec.api.web_acl_arn.clone().filter(|_| wired),
        security_group_ids: execute::group_ids(refs),
        integration_host,
        subnet_ids: subnets,
    };
    let endpoint = match (&resources.rest_api_id, &resources.http_api_id, wired) {
        (Some(id), _, true) => Some(crate::aws::rest_api::invoke_url(id, &aws.region, &spec.api.stage_name)),
        (None, Some(id), true) => Some(crate::aws::http_api::invoke_url(id, &aws.region)),
        _ => None,
    };
    let domain_endpoint = spec
        .api
        .domain
        .as_ref()
        .filter(|_| endpoint.is_some() && resources.domain_target.is_some())
        .map(|d| crate::aws::domain::url(&d.name, &d.base_path));
    let mut parts = run.parts;
    parts.sort_by_key(|p| p.condition);
    Ok(Outcome {
        resources,
        endpoint,
        domain_endpoint,
        service: service.map(|(running_count, desired_count)| ServiceCounts {
            running_count,
            desired_count,
        }),
        parts,
        changes: run.changes,
    })
}

/// The API keys' IDs by their spec names (never their values), once known.
fn api_key_ids(
    refs: &crate::reconcile::model::Refs,
    spec: &PrivateApiSpec,
) -> std::collections::BTreeMap<String, String> {
    let mut names: Vec<&str> = (spec.api.usage_plan.iter())
        .flat_map(|p| p.api_keys.iter().map(|k| k.name.as_str()))
        .collect();
    // The slots follow the keys' AWS names, which sort as their spec names do (one prefix).
    names.sort();
    names.dedup();
    names
        .into_iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let id = refs.slot(Slot::ApiKey(u8::try_from(i).ok()?))?;
            Some((name.to_owned(), id.to_owned()))
        })
        .collect()
}

/// The region's endpoints resolve in DNS (a typo'd region has none): looked up once
/// per region and process ([`preflight::region`]); a failure is not remembered.
pub async fn region_exists(aws: &Aws) -> Result<()> {
    aws.region_resolved
        .get_or_try_init(|| preflight::region(&aws.region, aws.endpoint_override))
        .await?;
    Ok(())
}

/// With role creation off (`--no-role-creation`), a spec that leaves a role to the
/// operator is refused before any AWS call: its policy has no IAM writes.
fn roles_allowed(roles: &crate::aws::RoleSettings, spec: &PrivateApiSpec) -> Result<()> {
    let svc = &spec.service;
    let mut missing: Vec<String> = [
        ("service.executionRoleArn", &svc.execution_role_arn),
        ("service.taskRoleArn", &svc.task_role_arn),
    ]
    .into_iter()
    .filter(|(_, given)| given.is_none())
    .map(|(field, _)| field.to_owned())
    .collect();
    missing.extend(
        (spec.api.routes.iter().enumerate())
            .filter(|(_, route)| route.sqs.role_arn.is_none())
            .map(|(i, _)| format!("api.routes[{i}].sqs.roleArn")),
    );
    // API Gateway invokes a Lambda authorizer with a role the operator makes.
    if desired::lambda_authorizer(spec).is_some() {
        missing.push("api.authorization.type other than LAMBDA (its invoke role is made by the operator)".into());
    }
    if !roles.creation_disabled || missing.is_empty() {
        return Ok(());
    }
    Err(Error::RoleCreationDisabled(format!(
        "this operator creates no IAM roles (--no-role-creation): set spec.{}",
        missing.join(" and spec.")
    )))
}

/// What a teardown pass did and what it still waits for.
#[derive(Debug, Default)]
pub struct TeardownOutcome {
    pub changes: Vec<Change>,
    /// Empty when nothing of the resource remains in AWS.
    pub waiting_for: Vec<String>,
}

impl TeardownOutcome {
    pub fn is_done(&self) -> bool {
        self.waiting_for.is_empty()
    }
}

/// One pass of deletion: the diff of what exists against an empty stack, run in
/// reverse dependency order (REST APIs → VPC links → ECS service (until INACTIVE) →
/// task definitions, listener, target group → ALB → security groups (once their
/// ENIs are released) → IAM roles and cluster). Everything is found by ownership tags
/// or owner-derived names, whatever the spec says now, so a crash half-way (or a
/// spec edited before deletion) leaves nothing.
///
/// In plan mode: every object the whole teardown will delete, as if each slow
/// deletion had already finished (what `privateapi plan --destroy` lists).
pub async fn teardown(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, mode: Mode) -> Result<TeardownOutcome> {
    let spec_cluster = spec.service.cluster.as_ref().map(|c| c.name.as_str());
    let everything = mode == Mode::Plan;
    let dns_zone = spec.api.domain.as_ref().and_then(|d| d.hosted_zone_id.as_deref());
    let lb_group = DesiredStack::lb_group_of(owner, spec);
    let mut observed = Box::pin(observe::for_teardown(
        aws,
        owner,
        spec_cluster,
        dns_zone,
        lb_group.as_ref(),
    ))
    .await?;
    let keep_logs = spec.service.logs.deletion_policy == crate::crd::DeletionPolicy::Retain;
    Box::pin(observe::rest_for_teardown(
        aws,
        owner,
        &mut observed,
        everything,
        keep_logs,
    ))
    .await?;
    let plan = match mode {
        Mode::Plan => diff::diff_destroy(&observed),
        Mode::Apply => diff::diff(&DesiredStack::empty(), &observed),
    };
    let run = Box::pin(execute::execute(aws, mode, plan)).await?;
    Ok(TeardownOutcome {
        changes: run.changes,
        waiting_for: run.waiting,
    })
}
