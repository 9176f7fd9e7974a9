//! The one comparison of a desired stack with an observed one (pure): the steps that
//! bring AWS to the desired stack, in dependency order, and each part's readiness.
//!
//! Matched objects are updated where they differ; desired objects not found are
//! created; observed objects not desired (leftovers, duplicates from lost answers,
//! superseded revisions, everything when the desired stack is empty) are deleted. A
//! part not read is left alone. The full pass, `plan`, teardown and the drift check
//! all ask this function; "in sync" means its steps are empty.

use std::collections::BTreeMap;

use crate::aws::arn_name;
use crate::aws::authorizer::{self, Auth, DesiredAuthorizer, SeenAuth};
use crate::aws::dns::{DesiredRecord, ObservedRecord};
use crate::aws::domain::{self, DesiredDomain, Flavor};
use crate::aws::ecs::{self, DesiredCluster, DesiredService, DesiredTaskDefinition, ObservedService};
use crate::aws::elb::{
    self, DesiredListener, DesiredLoadBalancer, DesiredTargetGroup, LoadBalancerState, ObservedListener,
    ObservedLoadBalancer, ObservedTargetGroup,
};
use crate::aws::http_api::{self, DesiredHttpApi};
use crate::aws::iam::{self, DesiredRole, RoleChange};
use crate::aws::lb_group::DesiredLbGroup;
use crate::aws::log_group::DesiredLogGroup;
use crate::aws::queue_route::{self, QueueRoute};
use crate::aws::rest_api::{self, DesiredApi, ObservedApi};
use crate::aws::security_group::{self, DesiredGroup, GroupRole, Rule};
use crate::aws::shared_link::DesiredSharedLink;
use crate::aws::usage_plan::{self, DesiredApiKey, DesiredUsagePlan, ObservedUsagePlan};
use crate::aws::vpc_link::{self, DesiredVpcLink, LinkState, ObservedVpcLink};
use crate::aws::vpc_link_v1::{self, DesiredVpcLinkV1, ObservedVpcLinkV1};
use crate::aws::web_acl;
use crate::crd::{HealthCheck, Throttle};

use super::desired::{DesiredStack, LinkWanted};
use super::model::{Condition, Id, Part, Refs, Slot, Tier};
use super::observe::{ObservedStack, Seen};
use super::{Change, PartStatus, Verb};

/// One call to AWS, with the references it needs resolved when it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    CreateGroup {
        vpc_id: String,
        group: DesiredGroup,
    },
    /// TCP on `port` into `group` from the members of `from`.
    Authorize {
        group: Id,
        port: i32,
        from: Id,
    },
    Revoke {
        group: String,
        rule: Rule,
    },
    DeleteGroup(String),
    CreateRole(DesiredRole),
    AttachPolicy {
        role: String,
        policy: String,
    },
    PutInlinePolicy {
        role: DesiredRole,
        policy: String,
    },
    DeleteInlinePolicy {
        role: String,
        policy: String,
    },
    DeleteRole(String),
    CreateCluster(DesiredCluster),
    DeleteCluster(String),
    /// CreateLogGroup (tagged), then its retention.
    CreateLogGroup(DesiredLogGroup),
    SetLogRetention {
        name: String,
        days: i32,
    },
    DeleteLogGroup(String),
    CreateTargetGroup {
        tier: Tier,
        group: DesiredTargetGroup,
    },
    ModifyHealthCheck {
        arn: String,
        health: HealthCheck,
    },
    DeleteTargetGroup(String),
    CreateLoadBalancer {
        tier: Tier,
        load_balancer: DesiredLoadBalancer<Id>,
    },
    SetSecurityGroups {
        arn: Id,
        groups: Vec<Id>,
        /// Whether an NLB judges PrivateLink traffic; `None`: left as it is.
        private_link_inbound_rules: Option<bool>,
    },
    SetSubnets {
        arn: String,
        subnets: Vec<String>,
    },
    DeleteLoadBalancer(String),
    CreateListener {
        tier: Tier,
        listener: DesiredListener<Id>,
    },
    /// One target (the ALB) in a target group, on `port`.
    RegisterTarget {
        target_group: Id,
        target: Id,
        port: i32,
    },
    ModifyListener {
        arn: String,
        listener: DesiredListener<Id>,
    },
    DeleteListener(String),
    CreateVpcLink(DesiredVpcLink<Id>),
    DeleteVpcLink(String),
    CreateVpcLinkV1(DesiredVpcLinkV1<Id>),
    DeleteVpcLinkV1(String),
    RegisterTaskDefinition(DesiredTaskDefinition<Id>),
    DeregisterTaskDefinition(String),
    CreateService(DesiredService<Id>),
    UpdateService(DesiredService<Id>),
    DeleteService {
        cluster: String,
        name: String,
    },
    CreateRestApi(DesiredApi<Id>),
    DeleteRestApi(String),
    CreateProxyResource,
    /// A resource of the queue routes, known as `slot` once made.
    CreateRouteResource {
        parent: Id,
        path_part: String,
        slot: Slot,
    },
    /// `method` on the resource (`/{proxy+}`'s path parameter when `proxy`), with
    /// its authorization.
    PutMethod {
        resource: Id,
        method: &'static str,
        proxy: bool,
        auth: Auth<Id>,
    },
    PutMethodResponse {
        resource: Id,
        method: &'static str,
    },
    /// The SQS integration of a queue route's method.
    PutRouteIntegration {
        resource: Id,
        route: QueueRoute<Id>,
    },
    PutIntegrationResponse {
        resource: Id,
        method: &'static str,
    },
    /// A resource (and all below it) no route wants.
    DeleteApiResource(String),
    DeleteApiMethod {
        resource: String,
        method: String,
    },
    /// The integration of `ANY path` (the api's `path` integration).
    PutIntegration {
        resource: Id,
        path: &'static str,
        api: DesiredApi<Id>,
    },
    CreateDeployment(DesiredApi<Id>),
    CreateStage(DesiredApi<Id>),
    PointStage(DesiredApi<Id>),
    SetThrottle {
        stage: String,
        throttle: Throttle,
    },
    DeleteStage(String),
    DeleteDeployment(String),
    CreateHttpApi(DesiredHttpApi<Id>),
    DeleteHttpApi(String),
    CreateHttpIntegration(DesiredHttpApi<Id>),
    UpdateHttpIntegration {
        id: String,
        api: DesiredHttpApi<Id>,
    },
    DeleteHttpIntegration(String),
    /// A queue route's integration, known as `slot` once made.
    CreateQueueIntegration {
        slot: Slot,
        route: QueueRoute<Id>,
    },
    UpdateQueueIntegration {
        id: String,
        route: QueueRoute<Id>,
    },
    /// A route to the integration known as `integration`, with its authorization.
    CreateRoute {
        key: String,
        integration: Slot,
        auth: Auth<Id>,
    },
    PointRoute {
        id: String,
        integration: Slot,
    },
    DeleteRoute(String),
    CreateHttpStage(DesiredHttpApi<Id>),
    UpdateHttpStage(Option<Throttle>),
    CreateDomain(DesiredDomain<Id>),
    SetDomainCertificate(DesiredDomain<Id>),
    DeleteDomain {
        flavor: Flavor,
        name: String,
    },
    CreateMapping(DesiredDomain<Id>),
    /// The alias (and ownership) record of the domain.
    UpsertRecord(DesiredRecord<Id>),
    DeleteRecord(ObservedRecord),
    PointMapping {
        id: String,
        domain: DesiredDomain<Id>,
    },
    DeleteMapping {
        flavor: Flavor,
        domain: String,
        id: String,
    },
    /// Not a call: a partial read (the drift check's) shows the part out of sync,
    /// and only a full read can say what to change.
    Recheck,
    /// The API's authorizer (REST or HTTP, as the API), known as `Slot::Authorizer`.
    CreateAuthorizer(DesiredAuthorizer<Id>),
    /// An authorizer of ours no method or route uses any more.
    DeleteAuthorizer {
        flavor: authorizer::Flavor,
        id: String,
    },
    /// A REST method's authorization, in place (`had_scopes`: its scopes now).
    UpdateMethodAuth {
        resource: Id,
        method: String,
        auth: Auth<Id>,
        had_scopes: Vec<String>,
    },
    /// An HTTP route's authorization, in place.
    UpdateRouteAuth {
        id: String,
        auth: Auth<Id>,
    },
    /// The REST API's resource policy (`None`: removed).
    SetApiPolicy(Option<String>),
    /// The stage's AWS WAF web ACL (`None`: disassociated).
    SetWebAcl {
        stage: String,
        web_acl_arn: Option<String>,
    },
    /// The usage plan of the API keys, known as `Slot::UsagePlan`.
    CreateUsagePlan(DesiredUsagePlan<Id>),
    /// A plan's throttle, quota and stages made what `wanted` says (`None`: no stage,
    /// before its deletion).
    UpdateUsagePlan {
        id: String,
        seen: ObservedUsagePlan,
        wanted: Option<DesiredUsagePlan<Id>>,
    },
    DeleteUsagePlan(String),
    /// An API key (AWS generates its value), known as `slot`.
    CreateApiKey {
        slot: Slot,
        key: DesiredApiKey,
    },
    DeleteApiKey(String),
    /// The key known as `key` linked to the usage plan.
    LinkApiKey {
        key: Slot,
    },
    /// A PRIVATE REST API's VPC endpoints.
    SetApiEndpoints {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// The security group of the network's shared link (made, or adopted from a
    /// racing maker: its name is unique in the VPC).
    CreateSharedGroup(DesiredSharedLink),
    /// A shared link for the network, its creator its first user; `region_links`:
    /// the VPC links (V2) the region had, for the message if AWS's quota refuses it.
    CreateSharedLink {
        link: DesiredSharedLink,
        region_links: usize,
    },
    /// Our user tag on the shared link `id`, before an integration points at it.
    JoinSharedLink {
        id: String,
        link: DesiredSharedLink,
    },
    /// Our user tag off the shared link `id`, once no integration of ours points at
    /// it; the last user deletes it (and marks its group for its own teardown).
    LeaveSharedLink {
        id: String,
        uid: String,
        user: String,
    },
    /// A shared link's group once no link uses it: first the rules of load-balancer
    /// groups' security groups that admit it (members of the network's groups
    /// admitted it; none is left), then the group.
    ReapSharedGroup(String),
    /// The security group of a load-balancer group (made, or adopted from a racing
    /// maker: its name is unique in the VPC), known as the ALB's group.
    CreateLbGroupSg(DesiredLbGroup),
    /// Our user tag on the group's ALB, before our rule is made.
    JoinLbGroup {
        arn: String,
        group: DesiredLbGroup,
    },
    /// Our rule on the group's listener (`Slot::Listener`), forwarding to our target
    /// group; on `PriorityInUse` (a racing member), the next free priority.
    CreateListenerRule {
        group: DesiredLbGroup,
        priority: i32,
    },
    /// Our rule back to our route header and target group.
    ModifyListenerRule {
        arn: String,
        route: String,
    },
    DeleteListenerRule(String),
    /// Our user tag off the group's ALB, once our rule is gone; the last member
    /// deletes the listener and the ALB.
    LeaveLbGroup {
        arn: String,
        uid: String,
    },
}

/// What a step may run into without failing the pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfNotYet {
    /// AWS's "not yet" is an error of the pass (retried).
    Fail,
    /// AWS's "not yet" (a dependency still there) is noted as `what` AWS still works
    /// on; later `Settled` steps are held. With a condition: reported on that part.
    Note {
        what: String,
        part: Option<(Condition, &'static str)>,
    },
}

/// When a step may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Always,
    /// Only once the VPC link made in this pass is usable (AWS reports new links
    /// PENDING for minutes): the API's wiring.
    LinkUsable,
    /// Only when no earlier step of this pass met a "not yet".
    Settled,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub change: Change,
    pub action: Action,
    pub gate: Gate,
    pub if_not_yet: IfNotYet,
}

/// A state of AWS the operator will not build on: a human must look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    pub part: Part,
    pub reason: &'static str,
    pub message: String,
}

/// The diff's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// IDs known from what was observed.
    pub refs: Refs,
    /// Each part's readiness as observed (the executor updates what it changes).
    pub parts: Vec<PartStatus>,
    /// What AWS still works on (deletions under way).
    pub waiting: Vec<String>,
    /// When set, the steps before it are run and the pass ends with it.
    pub stuck: Option<Stuck>,
    /// The ECS service's task counts: (running, desired).
    pub service_counts: Option<(i32, i32)>,
    /// The cluster's ARN, when known.
    pub cluster_arn: Option<String>,
}

impl Plan {
    /// Records a part's readiness; a later word on the same condition replaces it.
    pub fn part(&mut self, status: PartStatus) {
        match self.parts.iter_mut().find(|p| p.condition == status.condition) {
            Some(existing) => *existing = status,
            None => self.parts.push(status),
        }
    }

    fn step(&mut self, verb: Verb, part: Part, name: impl Into<String>, detail: impl Into<String>, action: Action) {
        self.gated(Gate::Always, verb, part, name, detail, action);
    }

    fn gated(
        &mut self,
        gate: Gate,
        verb: Verb,
        part: Part,
        name: impl Into<String>,
        detail: impl Into<String>,
        action: Action,
    ) {
        self.steps.push(Step {
            change: Change::new(verb, part, name, detail),
            action,
            gate,
            if_not_yet: IfNotYet::Fail,
        });
    }

    /// Adds a step whose "not yet" is noted, not failed.
    fn tolerant(
        &mut self,
        gate: Gate,
        change: Change,
        action: Action,
        what: String,
        part: Option<(Condition, &'static str)>,
    ) {
        self.steps.push(Step {
            change,
            action,
            gate,
            if_not_yet: IfNotYet::Note { what, part },
        });
    }
}

/// How the API's wiring relates to the VPC link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkReady {
    Yes,
    /// Made in this pass: usable if AWS says so.
    IfNewOneIs,
    No,
}

/// The steps from `observed` to `desired`, in dependency order.
pub fn diff(desired: &DesiredStack, observed: &ObservedStack) -> Plan {
    diff_knowing(desired, observed, Refs::default())
}

/// [`diff`], with the IDs of parts not read taken from `recorded` (what the last full
/// pass wrote into the status): the drift check reads only some parts.
pub fn diff_knowing(desired: &DesiredStack, observed: &ObservedStack, recorded: Refs) -> Plan {
    let mut plan = Plan::default();
    seed(&mut plan.refs, observed, desired);
    plan.refs.learn_all(recorded);
    let going = Going::of(desired, observed);
    Differ {
        desired,
        observed,
        plan: &mut plan,
    }
    .run(going);
    plan
}

/// Every deletion teardown will make, as if each slow one (a link, the service's
/// tasks, the ALB) had already finished: what `plan --destroy` lists.
pub fn diff_destroy(observed: &ObservedStack) -> Plan {
    let mut plan = Plan::default();
    seed(&mut plan.refs, observed, &DesiredStack::empty());
    let everything_gone = Going {
        service_gone: true,
        slow_ones_gone: true,
        assumed: true,
    };
    Differ {
        desired: &DesiredStack::empty(),
        observed,
        plan: &mut plan,
    }
    .run(everything_gone);
    plan
}

/// What the observation names: the IDs later steps refer to. A group of ours whose
/// role the stack no longer wants (the link group of a stack that moved to a shared
/// link) names nothing: the shared link's group takes its place.
fn seed(refs: &mut Refs, observed: &ObservedStack, desired: &DesiredStack) {
    let wanted = |role| desired.groups.is_empty() || desired.groups.iter().any(|g| g.role == role);
    for group in observed.groups.read().into_iter().flatten().filter(|g| wanted(g.role)) {
        refs.learn(Slot::Group(group.role), Some(&group.id));
    }
    for (kind, role) in &observed.roles {
        refs.learn(Slot::Role(*kind), role.as_ref().map(|r| r.arn.as_str()));
    }
    refs.learn(Slot::TargetGroup, observed.target_group.found().map(|t| t.arn.as_str()));
    if let Some(lb) = observed.load_balancer.found() {
        refs.learn(Slot::LoadBalancer, Some(&lb.arn));
        refs.learn(Slot::LoadBalancerDns, Some(&lb.dns_name));
    }
    let front = &observed.front;
    refs.learn(
        Slot::FrontTargetGroup,
        front.target_group.found().map(|t| t.arn.as_str()),
    );
    if let Some(lb) = front.load_balancer.found() {
        refs.learn(Slot::FrontLoadBalancer, Some(&lb.arn));
        refs.learn(Slot::FrontLoadBalancerDns, Some(&lb.dns_name));
    }
    refs.learn(Slot::Service, observed.service.found().map(|s| s.arn.as_str()));
    if let Some(id) = observed.rest_apis.read().and_then(|ids| ids.first()) {
        refs.learn(Slot::RestApi, Some(id));
    }
    if let Some(id) = observed.http_apis.read().and_then(|ids| ids.first()) {
        refs.learn(Slot::HttpApi, Some(id));
    }
    if let Some(api) = observed.api.found() {
        refs.learn(Slot::RootResource, api.root.as_ref().map(|r| r.id.as_str()));
        refs.learn(Slot::ProxyResource, api.proxy.as_ref().map(|r| r.id.as_str()));
    }
}

struct Differ<'a> {
    desired: &'a DesiredStack,
    observed: &'a ObservedStack,
    plan: &'a mut Plan,
}

impl<'a> Differ<'a> {
    fn run(mut self, going: Going) {
        // First: it names the link group the ALB's group admits.
        let Ok(shared) = self.shared_link() else {
            return;
        };
        // Then: it names the ALB's group the tasks' admits.
        if self.lb_group().is_err() {
            return;
        }
        self.security_groups();
        self.roles();
        if self.cluster().is_err() {
            return;
        }
        for tier in [Tier::Back, Tier::Front] {
            let lb = self.tier(tier);
            self.target_group(&lb);
            if self.load_balancer(&lb).is_err() {
                return;
            }
            self.listeners(&lb);
        }
        if self.lb_group_rule().is_err() {
            return;
        }
        self.front_target();
        // Deleting, the domain goes before the API it maps to, and the API before the
        // link: AWS keeps a link while an integration uses it.
        self.domain_deletes();
        if self.desired.api.is_none() {
            // Before the API: its stage is named by the plan.
            self.usage_plan(LinkReady::Yes);
        }
        self.api_deletes();
        let Ok((link, retire)) = self.vpc_link(shared) else {
            return;
        };
        self.log_group();
        self.task_definition_and_service(&going);
        self.api(link);
        if self.desired.api.is_some() {
            // After the stage the plan names, and after the methods stop requiring
            // keys that are about to go.
            self.usage_plan(link);
        }
        self.http_api(link);
        if self.domain(link).is_err() || self.dns().is_err() {
            return;
        }
        self.retire_api_gateway_role();
        self.retire_links(retire, link);
        self.leave_shared_links(link);
        // Our group rule before our target group, which AWS keeps while a rule
        // forwards to it.
        self.lb_group_deletes(&going);
        // The front NLB first: its target group holds the ALB.
        for tier in [Tier::Front, Tier::Back] {
            let lb = self.tier(tier);
            self.load_balancer_deletes(&lb, &going);
        }
        self.last_deletes(&going);
        self.reap_shared_groups(&going);
    }

    fn refs(&self) -> &Refs {
        &self.plan.refs
    }

    /// Ends the diff here: the steps so far run, then the pass stops with this.
    fn stuck(&mut self, part: Part, reason: &'static str, message: String) -> Result<(), ()> {
        self.plan.stuck = Some(Stuck { part, reason, message });
        Err(())
    }

    // ------------------------------------------------------------ security groups

    fn security_groups(&mut self) {
        let Some(observed) = self.observed.groups.read() else {
            return;
        };
        if self.desired.groups.is_empty() {
            return; // deleted last, once nothing in them remains (see `last_deletes`)
        }
        for group in &self.desired.groups {
            if !observed.iter().any(|o| o.role == group.role) {
                self.plan.step(
                    Verb::Create,
                    Part::SecurityGroup,
                    &group.name,
                    format!("{} group", group.role),
                    Action::CreateGroup {
                        vpc_id: self.desired.vpc_id.clone(),
                        group: group.clone(),
                    },
                );
            }
        }
        for group in &self.desired.groups {
            let current: &[Rule] = observed
                .iter()
                .find(|o| o.role == group.role)
                .map(|o| o.rules.as_slice())
                .unwrap_or(&[]);
            let known: BTreeMap<GroupRole, String> = GroupRole::ALL
                .into_iter()
                .filter_map(|role| Some((role, self.refs().slot(Slot::Group(role))?.to_owned())))
                .collect();
            let wanted = security_group::desired_rules(group, &known);
            let (add, mut remove) = security_group::diff_rules(&wanted, current);
            // The group of a link the API may still use keeps its way in until the
            // API has moved off that link.
            let in_use = self.link_groups_in_use();
            remove.retain(|rule| !matches!(&rule.source, security_group::Source::Group(g) if in_use.contains(g)));
            // A source group still to be made: its rule is added once it exists.
            let pending = group
                .ingress
                .filter(|(_, from)| !known.contains_key(from))
                .map(|(port, from)| (port, Id::Of(Slot::Group(from))));
            let adds = add
                .into_iter()
                .filter_map(|rule| match &rule.source {
                    security_group::Source::Group(id) => Some((rule.from_port, Id::Given(id.clone()))),
                    _ => None,
                })
                .chain(pending);
            for (port, from) in adds.collect::<Vec<_>>() {
                let detail = format!("allow tcp {port}-{port} from {}", self.refs().show(&from));
                self.plan.step(
                    Verb::Update,
                    Part::SecurityGroup,
                    &group.name,
                    detail,
                    Action::Authorize {
                        group: Id::Of(Slot::Group(group.role)),
                        port,
                        from,
                    },
                );
            }
            if let Some(id) = self.refs().slot(Slot::Group(group.role)).map(str::to_owned) {
                for rule in remove {
                    self.plan.step(
                        Verb::Update,
                        Part::SecurityGroup,
                        &group.name,
                        format!("revoke {rule}"),
                        Action::Revoke {
                            group: id.clone(),
                            rule,
                        },
                    );
                }
            }
        }
        self.retire_own_link_group(observed);
        self.plan.part(PartStatus::ready(
            Condition::SecurityGroups,
            "link → ALB → tasks rules in place",
        ));
    }

    /// The groups of the links the stack still uses: its own links' group, and those
    /// of the shared links it is a user of.
    fn link_groups_in_use(&self) -> Vec<String> {
        let own_links = self.observed.vpc_links.read().is_none_or(|l| !l.is_empty());
        let own = self
            .observed
            .groups
            .read()
            .into_iter()
            .flatten()
            .filter(|g| own_links && g.role == GroupRole::VpcLink)
            .map(|g| g.id.clone());
        let shared = self
            .observed
            .shared_links
            .read()
            .into_iter()
            .flat_map(|s| s.mine())
            .flat_map(|l| l.security_groups.iter().cloned());
        own.chain(shared).collect()
    }

    /// A stack that moved to a shared link deletes its own link group once its own
    /// links are gone.
    fn retire_own_link_group(&mut self, observed: &[security_group::ObservedGroup]) {
        let own_links_gone = self.observed.vpc_links.read().is_some_and(Vec::is_empty);
        if !own_links_gone || self.desired.groups.iter().any(|g| g.role == GroupRole::VpcLink) {
            return;
        }
        for group in observed.iter().filter(|g| g.role == GroupRole::VpcLink) {
            self.plan.tolerant(
                Gate::Always,
                Change::new(
                    Verb::Delete,
                    Part::SecurityGroup,
                    &group.id,
                    "link group, replaced by the shared link's",
                ),
                Action::DeleteGroup(group.id.clone()),
                format!("security group {} to be released", group.id),
                None,
            );
        }
    }

    // ------------------------------------------------------------ IAM + cluster

    fn roles(&mut self) {
        for role in &self.desired.roles {
            let Some(current) = self.observed.roles.get(&role.kind) else {
                continue;
            };
            for change in iam::diff(role, current.as_ref()) {
                match change {
                    RoleChange::Create => self.plan.step(
                        Verb::Create,
                        Part::IamRole,
                        &role.name,
                        role.kind.part(),
                        Action::CreateRole(role.clone()),
                    ),
                    RoleChange::AttachPolicy(policy) => self.plan.step(
                        Verb::Update,
                        Part::IamRole,
                        &role.name,
                        format!("attach {policy}"),
                        Action::AttachPolicy {
                            role: role.name.clone(),
                            policy,
                        },
                    ),
                    RoleChange::PutInlinePolicy(policy) => self.plan.step(
                        Verb::Update,
                        Part::IamRole,
                        &role.name,
                        format!("put policy {policy}"),
                        Action::PutInlinePolicy {
                            role: role.clone(),
                            policy,
                        },
                    ),
                    RoleChange::DeleteInlinePolicy(policy) => self.plan.step(
                        Verb::Update,
                        Part::IamRole,
                        &role.name,
                        format!("delete policy {policy}"),
                        Action::DeleteInlinePolicy {
                            role: role.name.clone(),
                            policy,
                        },
                    ),
                }
            }
        }
        if self.desired.task_definition.is_some() {
            self.plan.part(PartStatus::ready(
                Condition::Roles,
                if self.desired.roles.is_empty() {
                    "roles given in spec"
                } else {
                    "roles in place"
                },
            ));
        }
    }

    fn cluster(&mut self) -> Result<(), ()> {
        let Some(wanted) = &self.desired.cluster else {
            return Ok(());
        };
        let Some(observed) = self.observed.cluster.read() else {
            return Ok(());
        };
        match observed {
            Some(c) if !c.active => {
                let message = format!("ECS cluster {} (spec.service.cluster) is not ACTIVE", wanted.name);
                return self.stuck(Part::EcsCluster, "ClusterNotActive", message);
            }
            Some(c) => self.plan.cluster_arn = Some(c.arn.clone()),
            None if !wanted.managed => {
                let message = format!("ECS cluster {} (spec.service.cluster) does not exist", wanted.name);
                return self.stuck(Part::EcsCluster, "ClusterNotFound", message);
            }
            None => self.plan.step(
                Verb::Create,
                Part::EcsCluster,
                &wanted.name,
                "",
                Action::CreateCluster(wanted.clone()),
            ),
        }
        self.plan.part(PartStatus::ready(
            Condition::Cluster,
            format!("cluster {}", wanted.name),
        ));
        Ok(())
    }

    // ------------------------------------------------------------ load balancers, target groups, listeners

    /// One load balancer with its target group and listener, as wanted and as seen.
    fn tier(&self, tier: Tier) -> LbView<'a> {
        let (desired, observed) = (self.desired, self.observed);
        match tier {
            Tier::Back => LbView {
                tier,
                target_group: desired.target_group.as_ref(),
                load_balancer: desired.load_balancer.as_ref(),
                listener: desired.listener.as_ref(),
                seen_target_group: &observed.target_group,
                seen_load_balancer: &observed.load_balancer,
                seen_listeners: &observed.listeners,
            },
            Tier::Front => LbView {
                tier,
                target_group: desired.front.as_ref().map(|f| &f.target_group),
                load_balancer: desired.front.as_ref().map(|f| &f.load_balancer),
                listener: desired.front.as_ref().map(|f| &f.listener),
                seen_target_group: &observed.front.target_group,
                seen_load_balancer: &observed.front.load_balancer,
                seen_listeners: &observed.front.listeners,
            },
        }
    }

    fn target_group(&mut self, lb: &LbView<'_>) {
        let Some(observed) = lb.seen_target_group.read() else {
            return;
        };
        match (lb.target_group, observed) {
            (Some(wanted), Some(current)) if current.health != wanted.health => self.plan.step(
                Verb::Update,
                Part::TargetGroup,
                &wanted.name,
                "health check",
                Action::ModifyHealthCheck {
                    arn: current.arn.clone(),
                    health: wanted.health.clone(),
                },
            ),
            (Some(_), Some(_)) => {}
            (Some(wanted), None) => self.plan.step(
                Verb::Create,
                Part::TargetGroup,
                &wanted.name,
                match wanted.targets {
                    elb::Targets::Ip => format!("ip targets, port {}", wanted.port),
                    elb::Targets::Alb { .. } => format!("the ALB as target, port {}", wanted.port),
                },
                Action::CreateTargetGroup {
                    tier: lb.tier,
                    group: wanted.clone(),
                },
            ),
            (None, _) => {} // see `load_balancer_deletes`
        }
    }

    /// Listener, target group and load balancer, once the service no longer registers
    /// tasks in the target group.
    fn load_balancer_deletes(&mut self, lb: &LbView<'_>, going: &Going) {
        if !going.service_gone {
            return;
        }
        if lb.listener.is_none() {
            for listener in lb.seen_listeners.read().into_iter().flatten() {
                self.plan.step(
                    Verb::Delete,
                    Part::Listener,
                    format!("{}:{}", listener.protocol, listener.port),
                    "",
                    Action::DeleteListener(listener.arn.clone()),
                );
            }
        }
        if lb.target_group.is_none()
            && let Some(current) = lb.seen_target_group.found()
        {
            // ResourceInUse while any listener or rule forwards to it: one of someone
            // else's, or ours AWS has not quite let go of. Noted, not failed: the ALB
            // and the security groups need not wait for it.
            let name = arn_name(&current.arn);
            self.plan.tolerant(
                Gate::Always,
                Change::new(Verb::Delete, Part::TargetGroup, name, ""),
                Action::DeleteTargetGroup(current.arn.clone()),
                format!("target group {name} to be used by no listener or rule"),
                None,
            );
        }
        if lb.load_balancer.is_none()
            && let Some(current) = lb.seen_load_balancer.found()
        {
            self.plan.step(
                Verb::Delete,
                Part::LoadBalancer,
                arn_name(&current.arn),
                "",
                Action::DeleteLoadBalancer(current.arn.clone()),
            );
            self.plan.waiting.push(format!(
                "{} {} to be deleted",
                lb.kind_name(current),
                arn_name(&current.arn)
            ));
        }
    }

    fn load_balancer(&mut self, lb: &LbView<'_>) -> Result<(), ()> {
        let Some(observed) = lb.seen_load_balancer.read() else {
            return Ok(());
        };
        let Some(wanted) = lb.load_balancer else {
            return Ok(()); // see `load_balancer_deletes`
        };
        let Some(current) = observed else {
            let where_ = match lb.tier {
                Tier::Back => "",
                Tier::Front => " in front of the ALB",
            };
            self.plan.step(
                Verb::Create,
                Part::LoadBalancer,
                &wanted.name,
                format!(
                    "internal {}{where_} in {} subnets",
                    wanted.kind.short(),
                    wanted.subnets.len()
                ),
                Action::CreateLoadBalancer {
                    tier: lb.tier,
                    load_balancer: wanted.clone(),
                },
            );
            if !wanted.private_link_inbound_rules {
                // Only SetSecurityGroups turns it off: a second call, right after.
                self.plan.step(
                    Verb::Update,
                    Part::LoadBalancer,
                    &wanted.name,
                    "PrivateLink traffic not judged by its security groups",
                    Action::SetSecurityGroups {
                        arn: Id::Of(lb.tier.load_balancer()),
                        groups: wanted.security_groups.clone(),
                        private_link_inbound_rules: Some(false),
                    },
                );
            }
            self.plan.part(provisioning());
            return Ok(());
        };
        let groups_differ =
            resolve_all(self.refs(), &wanted.security_groups).as_ref() != Some(&current.security_groups);
        let private_link_differs =
            !wanted.private_link_inbound_rules && current.private_link_inbound_rules != Some(false);
        if groups_differ || private_link_differs {
            let detail = match (groups_differ, private_link_differs) {
                (true, true) => "security groups, PrivateLink traffic not judged by them",
                (true, false) => "security groups",
                _ => "PrivateLink traffic not judged by its security groups",
            };
            self.plan.step(
                Verb::Update,
                Part::LoadBalancer,
                &wanted.name,
                detail,
                Action::SetSecurityGroups {
                    arn: Id::Given(current.arn.clone()),
                    groups: wanted.security_groups.clone(),
                    private_link_inbound_rules: (!wanted.private_link_inbound_rules).then_some(false),
                },
            );
        }
        // A group's ALB keeps the subnets its first member made it in: members in
        // other subnets of the VPC reach it all the same.
        if current.subnets != wanted.subnets && !(lb.tier == Tier::Back && self.desired.lb_group.is_some()) {
            self.plan.step(
                Verb::Update,
                Part::LoadBalancer,
                &wanted.name,
                "subnets",
                Action::SetSubnets {
                    arn: current.arn.clone(),
                    subnets: wanted.subnets.clone(),
                },
            );
        }
        let short = wanted.kind.short();
        match (current.state, lb.tier) {
            (LoadBalancerState::Failed, _) => {
                let message = current
                    .state_reason
                    .clone()
                    .unwrap_or_else(|| format!("the {short} is in state failed"));
                return self.stuck(Part::LoadBalancer, "LoadBalancerFailed", message);
            }
            (LoadBalancerState::Active, Tier::Back) => self
                .plan
                .part(PartStatus::ready(Condition::LoadBalancer, format!("{short} active"))),
            // The back one's word stands unless the front one is not ready yet.
            (LoadBalancerState::Active, Tier::Front) => {}
            (LoadBalancerState::Provisioning, _) => self.plan.part(provisioning()),
        }
        Ok(())
    }

    fn listeners(&mut self, lb: &LbView<'_>) {
        let Some(wanted) = lb.listener else {
            return; // deleted with the target group
        };
        let name = format!("{}:{}", wanted.kind.protocol(), wanted.port);
        let Some(observed) = lb.seen_listeners.read() else {
            // Unread (a drift check): the target group's routing still tells whether a
            // listener of our load balancer forwards to it.
            let routed = lb.seen_target_group.found().map(|tg| &tg.load_balancers);
            if let (Some(routed), Some(arn)) = (routed, self.refs().slot(lb.tier.load_balancer()))
                && !routed.iter().any(|routed| routed == arn)
            {
                self.plan.step(
                    Verb::Update,
                    Part::Listener,
                    name,
                    "no listener of the load balancer forwards to the target group",
                    Action::Recheck,
                );
            }
            return;
        };
        let (keep, strays) = elb::pick_listener(observed, wanted.port);
        match keep {
            Some(current) => {
                let shown = wanted.try_map(|id| Some(self.refs().show(id)));
                if shown.is_none_or(|w| !elb::listener_in_sync(current, &w)) {
                    self.plan.step(
                        Verb::Update,
                        Part::Listener,
                        &name,
                        "port / forward action",
                        Action::ModifyListener {
                            arn: current.arn.clone(),
                            listener: wanted.clone(),
                        },
                    );
                }
                self.plan.refs.learn(lb.tier.listener(), Some(&current.arn));
            }
            None => self.plan.step(
                Verb::Create,
                Part::Listener,
                &name,
                "forward to target group",
                Action::CreateListener {
                    tier: lb.tier,
                    listener: wanted.clone(),
                },
            ),
        }
        for stray in strays {
            self.plan.step(
                Verb::Delete,
                Part::Listener,
                format!("{}:{}", stray.protocol, stray.port),
                "not in spec",
                Action::DeleteListener(stray.arn.clone()),
            );
        }
    }

    /// The ALB, registered in the front NLB's target group (on its listener's port).
    /// Any other target there is not ours to keep.
    fn front_target(&mut self) {
        let Some(front) = &self.desired.front else {
            return;
        };
        let Some(registered) = self.observed.front.targets.read() else {
            return;
        };
        let alb = self.refs().get(&front.target);
        if alb.as_ref().is_none_or(|arn| !registered.contains(arn)) {
            let shown = self.refs().show(&front.target);
            self.plan.step(
                Verb::Update,
                Part::TargetGroup,
                &front.target_group.name,
                format!("register {} on port {}", arn_name(&shown), front.target_group.port),
                Action::RegisterTarget {
                    target_group: Id::Of(Slot::FrontTargetGroup),
                    target: front.target.clone(),
                    port: front.target_group.port,
                },
            );
        }
    }

    // ------------------------------------------------------------ VPC link

    /// Whether the API may be wired through the link, and our links to retire once
    /// it has moved off them.
    fn vpc_link(&mut self, shared: LinkReady) -> Result<(LinkReady, Vec<Link>), ()> {
        let v2 = self.observed.vpc_links.read().into_iter().flatten().map(Link::v2);
        let v1 = self.observed.vpc_links_v1.read().into_iter().flatten().map(Link::v1);
        let ours: Vec<Link> = v2.chain(v1).collect();
        let (current, retire) = match &self.desired.vpc_link {
            None => {
                for link in &ours {
                    if link.state != LinkState::Deleting {
                        self.plan.step(Verb::Delete, Part::VpcLink, &link.id, "", link.delete());
                    }
                    self.plan.waiting.push(format!("VPC link {} to be deleted", link.id));
                }
                return Ok((LinkReady::No, Vec::new()));
            }
            Some(LinkWanted::Existing(id)) => match self.observed.existing_link.read() {
                None => return Ok((LinkReady::Yes, Vec::new())),
                Some(None) => {
                    let message = format!("VPC link {id} (spec.vpcLink.existingId) does not exist in this region");
                    self.stuck(Part::VpcLink, "VpcLinkNotFound", message)?;
                    return Err(());
                }
                Some(Some(link)) => (Link::v2(link), ours),
            },
            Some(LinkWanted::Owned(wanted)) => {
                if self.observed.vpc_links.read().is_none() {
                    return Ok((LinkReady::Yes, Vec::new()));
                }
                let v2: Vec<ObservedVpcLink> = self.observed.vpc_links.read().cloned().unwrap_or_default();
                let current = wanted
                    .try_map(|id| self.refs().get(id))
                    .and_then(|resolved| vpc_link::choose(&resolved, &v2).0.map(Link::v2));
                let retire = others(&ours, current.as_ref());
                match current {
                    Some(link) => (link, retire),
                    None => {
                        self.plan.step(
                            Verb::Create,
                            Part::VpcLink,
                            &wanted.name,
                            format!("V2, {} subnets", wanted.subnets.len()),
                            Action::CreateVpcLink(wanted.clone()),
                        );
                        self.plan.part(link_status("(new)", LinkState::Pending));
                        return Ok((LinkReady::IfNewOneIs, retire));
                    }
                }
            }
            // The shared link part said whether the API can be wired through it; links
            // of our own (from before sharing) are retired once the API has moved.
            Some(LinkWanted::Shared) => return Ok((shared, ours)),
            Some(LinkWanted::OwnedV1(wanted)) => {
                let Some(v1) = self.observed.vpc_links_v1.read() else {
                    return Ok((LinkReady::Yes, Vec::new()));
                };
                let current = wanted
                    .try_map(|id| self.refs().get(id))
                    .and_then(|resolved| vpc_link_v1::choose(&resolved, v1).0.map(Link::v1));
                let retire = others(&ours, current.as_ref());
                match current {
                    Some(link) => (link, retire),
                    None => {
                        let target = self.refs().show(&wanted.target);
                        self.plan.step(
                            Verb::Create,
                            Part::VpcLink,
                            &wanted.name,
                            format!("V1 to {target}"),
                            Action::CreateVpcLinkV1(wanted.clone()),
                        );
                        self.plan.part(link_status("(new)", LinkState::Pending));
                        return Ok((LinkReady::IfNewOneIs, retire));
                    }
                }
            }
        };
        if current.state == LinkState::Failed {
            let message = current
                .message
                .clone()
                .unwrap_or_else(|| format!("VPC link {} is FAILED", current.id));
            self.stuck(Part::VpcLink, "VpcLinkFailed", message)?;
            return Err(());
        }
        self.plan.refs.learn(Slot::VpcLink, Some(&current.id));
        self.plan.part(link_status(&current.id, current.state));
        let ready = match current.state {
            LinkState::Available => LinkReady::Yes,
            _ => LinkReady::No,
        };
        Ok((ready, retire))
    }

    fn retire_links(&mut self, retire: Vec<Link>, ready: LinkReady) {
        // Moving to a shared link: only as the API moves (a link in use must stay).
        let gate = match (&self.desired.vpc_link, ready) {
            (Some(LinkWanted::Shared), LinkReady::No) => return,
            (Some(LinkWanted::Shared), LinkReady::IfNewOneIs) => Gate::LinkUsable,
            _ => Gate::Always,
        };
        for link in retire.iter().filter(|l| l.state != LinkState::Deleting) {
            // Still referenced by an integration until the API moved: next pass.
            self.plan.tolerant(
                gate,
                Change::new(Verb::Delete, Part::VpcLink, &link.id, "replaced"),
                link.delete(),
                format!("old VPC link {} still in use", link.id),
                Some((Condition::VpcLink, "RetiringVpcLink")),
            );
        }
    }

    // ------------------------------------------------------------ task definition + service

    fn task_definition_and_service(&mut self, going: &Going) {
        let mut keep = None;
        if let (Some(wanted), Some(observed)) = (&self.desired.task_definition, self.observed.task_definitions.read()) {
            let fingerprint = wanted.try_map(|id| self.refs().get(id)).map(|td| td.fingerprint());
            match &observed.latest {
                Some(current) if fingerprint.is_some() && current.fingerprint == fingerprint => {
                    keep = Some(current.arn.clone());
                    self.plan.refs.learn(Slot::TaskDefinition, Some(&current.arn));
                }
                latest => {
                    let detail = match latest {
                        Some(_) => format!("new revision: image {}", wanted.image),
                        None => format!("image {}", wanted.image),
                    };
                    self.plan.step(
                        Verb::Create,
                        Part::TaskDefinition,
                        &wanted.family,
                        detail,
                        Action::RegisterTaskDefinition(wanted.clone()),
                    );
                }
            }
        }

        match (&self.desired.service, self.observed.service.read()) {
            (_, None) | (None, Some(None)) => {}
            (Some(wanted), Some(None)) => {
                self.plan.step(
                    Verb::Create,
                    Part::EcsService,
                    &wanted.name,
                    format!("{} task(s)", wanted.desired_count),
                    Action::CreateService(wanted.clone()),
                );
                self.plan.service_counts = Some((0, wanted.desired_count));
                self.plan.part(PartStatus::waiting(
                    Condition::Service,
                    "ServiceStarting",
                    "tasks are starting",
                ));
            }
            (Some(_), Some(Some(current))) if current.status == "DRAINING" => {
                self.plan.part(PartStatus::waiting(
                    Condition::Service,
                    "ServiceDraining",
                    "a previous service of the same name is draining",
                ));
            }
            (Some(wanted), Some(Some(current))) => {
                // Compared with what is known; what is still to be made differs anyway.
                let shown = wanted.try_map(|id| Some(self.refs().show(id)));
                let drift = shown.map(|w| ecs::service_drift(&w, current)).unwrap_or_default();
                if !drift.is_empty() {
                    self.plan.step(
                        Verb::Update,
                        Part::EcsService,
                        &wanted.name,
                        drift.join(", "),
                        Action::UpdateService(wanted.clone()),
                    );
                }
                self.plan.service_counts = Some((current.running_count, wanted.desired_count));
                self.plan.part(service_status(current, wanted.desired_count));
            }
            (None, Some(Some(current))) => {
                if current.status == "ACTIVE" {
                    self.plan.step(
                        Verb::Delete,
                        Part::EcsService,
                        &current.name,
                        "scale to 0 and delete",
                        Action::DeleteService {
                            cluster: current.cluster.clone(),
                            name: current.name.clone(),
                        },
                    );
                }
                self.plan.waiting.push(format!("ECS service {} to drain", current.name));
            }
        }

        // Every ACTIVE revision of ours but the one in use: superseded ones, and
        // extras from a repeated register (a lost answer) or a failed deregistration.
        // Running tasks keep their revision; it just stops being offered. Without a
        // service, they all go once it has drained.
        if let Some(observed) = self.observed.task_definitions.read()
            && (self.desired.task_definition.is_some() || going.service_gone)
        {
            for arn in observed.active.iter().filter(|arn| Some(*arn) != keep.as_ref()) {
                let detail = if self.desired.task_definition.is_some() {
                    "not in use"
                } else {
                    "deregister"
                };
                self.plan.step(
                    Verb::Delete,
                    Part::TaskDefinition,
                    arn_name(arn),
                    detail,
                    Action::DeregisterTaskDefinition(arn.clone()),
                );
            }
        }
    }

    // ------------------------------------------------------------ REST API

    /// Every API of ours, when none is wanted (their stages and deployments go with them).
    fn api_deletes(&mut self) {
        if self.desired.api.is_none() {
            for id in self.observed.rest_apis.read().into_iter().flatten() {
                self.plan
                    .step(Verb::Delete, Part::RestApi, id, "", Action::DeleteRestApi(id.clone()));
            }
        }
        if self.desired.http_api.is_none() {
            for id in self.observed.http_apis.read().into_iter().flatten() {
                self.plan
                    .step(Verb::Delete, Part::HttpApi, id, "", Action::DeleteHttpApi(id.clone()));
            }
        }
    }

    /// When the API's wiring may run, given the link; `None` (reported) when it must
    /// wait for the link.
    fn wiring_gate(&mut self, link: LinkReady) -> Option<Gate> {
        match link {
            LinkReady::Yes => Some(Gate::Always),
            LinkReady::IfNewOneIs => Some(Gate::LinkUsable),
            LinkReady::No => {
                // Integrations need a usable link; everything else is already in place.
                self.plan.part(PartStatus::waiting(
                    Condition::Api,
                    "WaitingForVpcLink",
                    "the API is wired once the VPC link is AVAILABLE",
                ));
                None
            }
        }
    }

    fn api(&mut self, link: LinkReady) {
        let Some(found) = self.observed.rest_apis.read() else {
            return;
        };
        let Some(wanted) = &self.desired.api else {
            return; // see `api_deletes`
        };
        // Duplicates can only come from a lost CreateRestApi answer: keep the oldest.
        for extra in found.iter().skip(1) {
            self.plan.step(
                Verb::Delete,
                Part::RestApi,
                extra,
                "duplicate",
                Action::DeleteRestApi(extra.clone()),
            );
        }
        let api_id = Id::Of(Slot::RestApi);
        if found.is_empty() {
            self.plan.step(
                Verb::Create,
                Part::RestApi,
                &wanted.name,
                wanted.endpoint_type.as_aws(),
                Action::CreateRestApi(wanted.clone()),
            );
        }
        self.api_access(found.is_empty(), wanted);
        let Some(gate) = self.wiring_gate(link) else {
            return;
        };
        // Before the methods, which name it (and known before they are compared).
        let retired = self.authorizer(gate, wanted.authorizer.as_ref());
        // Compared with what is known; what is still to be made differs anyway.
        let Some(shown) = wanted.try_map(|id| Some(self.refs().show(id))) else {
            return;
        };
        let shape = shown.shape();

        if let Some(api) = self.observed.api.read() {
            let api = api.clone().unwrap_or_default();
            let resources = [
                (Slot::RootResource, api.root.as_ref(), false),
                (Slot::ProxyResource, api.proxy.as_ref(), true),
            ];
            if api.proxy.is_none() {
                self.plan.gated(
                    gate,
                    Verb::Create,
                    Part::ApiResource,
                    rest_api::PROXY_PATH,
                    "",
                    Action::CreateProxyResource,
                );
            }
            for ((slot, observed, proxy), (path, integration)) in resources.into_iter().zip(shown.integrations()) {
                match observed.filter(|r| r.has_any_method) {
                    None => self.plan.gated(
                        gate,
                        Verb::Create,
                        Part::ApiMethod,
                        format!("ANY {path}"),
                        new_method_detail(&shown.auth),
                        Action::PutMethod {
                            resource: Id::Of(slot),
                            method: "ANY",
                            proxy,
                            auth: wanted.auth.clone(),
                        },
                    ),
                    Some(resource) => self.method_auth(gate, Id::Of(slot), "ANY", path, &resource.auth, wanted, &shown),
                }
                if observed.and_then(|r| r.integration.as_ref()) != Some(&integration) {
                    let detail = format!(
                        "HTTP_PROXY via VPC link {} to {}",
                        integration.connection_id, integration.uri
                    );
                    self.plan.gated(
                        gate,
                        Verb::Update,
                        Part::ApiIntegration,
                        format!("ANY {path}"),
                        detail,
                        Action::PutIntegration {
                            resource: Id::Of(slot),
                            path,
                            api: wanted.clone(),
                        },
                    );
                }
            }
            self.rest_routes(gate, &api, wanted, &shown);
        }

        let Some(stages) = self.observed.stages.read() else {
            return;
        };
        let stage = stages.iter().find(|s| s.name == wanted.stage_name);
        let api_name = self.refs().show(&api_id);
        let in_use = match stage {
            Some(stage) if rest_api::stage_in_sync(stage, &shape) => stage.deployment_id.clone(),
            _ => {
                let reused = self
                    .observed
                    .deployments
                    .read()
                    .and_then(|deployments| rest_api::find_deployment(deployments, &shape));
                match &reused {
                    Some(id) => self.plan.refs.learn(Slot::Deployment, Some(id)),
                    None => self.plan.gated(
                        gate,
                        Verb::Create,
                        Part::ApiDeployment,
                        &api_name,
                        format!("shape {shape}"),
                        Action::CreateDeployment(wanted.clone()),
                    ),
                }
                let (verb, action) = match stage {
                    None => (Verb::Create, Action::CreateStage(wanted.clone())),
                    Some(_) => (Verb::Update, Action::PointStage(wanted.clone())),
                };
                let detail = format!("deployment {}", self.refs().show(&Id::Of(Slot::Deployment)));
                self.plan
                    .gated(gate, verb, Part::ApiStage, &wanted.stage_name, detail, action);
                reused
            }
        };
        if let Some(id) = &in_use {
            self.plan.refs.learn(Slot::Deployment, Some(id));
        }
        // Deployments no stage serves any more (stages of other names keep theirs).
        if let Some(deployments) = self.observed.deployments.read() {
            let serving: Vec<&str> = stages
                .iter()
                .filter(|s| s.name != wanted.stage_name)
                .filter_map(|s| s.deployment_id.as_deref())
                .chain(in_use.as_deref())
                .collect();
            for unused in deployments.iter().filter(|d| !serving.contains(&d.id.as_str())) {
                self.plan.gated(
                    gate,
                    Verb::Delete,
                    Part::ApiDeployment,
                    &unused.id,
                    "not served by a stage",
                    Action::DeleteDeployment(unused.id.clone()),
                );
            }
        }
        if let Some(throttle) = wanted.throttle
            && stage.and_then(|s| s.throttle) != Some(throttle)
        {
            self.plan.gated(
                gate,
                Verb::Update,
                Part::ApiStage,
                &wanted.stage_name,
                format!("throttle {} req/s, burst {}", throttle.rate_limit, throttle.burst_limit),
                Action::SetThrottle {
                    stage: wanted.stage_name.clone(),
                    throttle,
                },
            );
        }
        let seen_acl = stage.and_then(|s| s.web_acl_arn.as_deref());
        if seen_acl != wanted.web_acl_arn.as_deref()
            && (wanted.web_acl_arn.is_some() || seen_acl.is_some_and(|arn| !web_acl::managed_elsewhere(arn)))
        {
            let detail = match &wanted.web_acl_arn {
                Some(arn) => format!("web ACL {arn}"),
                None => format!("no web ACL (was {})", seen_acl.unwrap_or_default()),
            };
            self.plan.gated(
                gate,
                Verb::Update,
                Part::WebAcl,
                &wanted.stage_name,
                detail,
                Action::SetWebAcl {
                    stage: wanted.stage_name.clone(),
                    web_acl_arn: wanted.web_acl_arn.clone(),
                },
            );
        }
        // Stages we made under another name (the stage was renamed in the spec).
        for stale in stages
            .iter()
            .filter(|s| s.name != wanted.stage_name && rest_api::stage_marker(s.description.as_deref()).is_some())
        {
            self.plan.gated(
                gate,
                Verb::Delete,
                Part::ApiStage,
                &stale.name,
                "renamed in spec",
                Action::DeleteStage(stale.name.clone()),
            );
        }
        // Once the methods name the new one and the stage serves them.
        self.retire_authorizers(gate, authorizer::Flavor::Rest, retired);
        self.plan.part(PartStatus::ready(
            Condition::Api,
            format!("stage {} serves shape {shape}", wanted.stage_name),
        ));
    }

    // ------------------------------------------------------------ resource policy

    /// The REST API's resource policy and (PRIVATE) VPC endpoints; before any
    /// deployment (AWS deploys no PRIVATE API without a policy). A new API gets its
    /// endpoints with CreateRestApi and its policy right after. Unread: left alone.
    fn api_access(&mut self, new: bool, wanted: &DesiredApi<Id>) {
        let Some(listed) = self.observed.rest_api_listed.read() else {
            return;
        };
        let (policy, endpoints) = match listed {
            Some(api) if !new => (api.policy.as_deref(), api.vpc_endpoint_ids.clone()),
            _ => (None, wanted.vpc_endpoint_ids.clone()),
        };
        let name = self.refs().show(&Id::Of(Slot::RestApi));
        if !crate::aws::resource_policy::same(policy, wanted.policy.as_deref()) {
            let detail = match &wanted.policy {
                Some(_) => "resource policy",
                None => "no resource policy",
            };
            let action = Action::SetApiPolicy(wanted.policy.clone());
            self.plan.step(Verb::Update, Part::RestApi, &name, detail, action);
        }
        let add: Vec<String> = (wanted.vpc_endpoint_ids.iter())
            .filter(|id| !endpoints.contains(id))
            .cloned()
            .collect();
        let remove: Vec<String> = (endpoints.iter())
            .filter(|id| !wanted.vpc_endpoint_ids.contains(id))
            .cloned()
            .collect();
        if !add.is_empty() || !remove.is_empty() {
            let detail = format!("VPC endpoints +[{}] -[{}]", add.join(", "), remove.join(", "));
            let action = Action::SetApiEndpoints { add, remove };
            self.plan.step(Verb::Update, Part::RestApi, &name, detail, action);
        }
    }

    // ------------------------------------------------------------ API keys

    /// The usage plan and its API keys: each wanted key found by its name (else
    /// made), the plan found by its tag (else made, naming the stage), its limits and
    /// stage patched in place, each key linked to it. What is ours and not wanted
    /// goes: a plan's stage first (AWS keeps a plan that names one), then the keys,
    /// then the plan. Unread: left alone.
    fn usage_plan(&mut self, link: LinkReady) {
        let Some(found) = self.observed.usage_keys.read() else {
            return;
        };
        let wanted = self.desired.usage_plan.as_ref();
        let keys = wanted.map(|w| w.keys.as_slice()).unwrap_or_default();
        // A new plan names the stage: with the stage's own gate (it may be made in
        // this pass, once the link is usable).
        let stage_seen = self
            .observed
            .stages
            .read()
            .is_some_and(|stages| wanted.is_some_and(|w| stages.iter().any(|s| s.name == w.stage)));
        let gate = match link {
            LinkReady::Yes => Some(Gate::Always),
            LinkReady::IfNewOneIs => Some(Gate::LinkUsable),
            LinkReady::No => stage_seen.then_some(Gate::Always),
        };
        let mut kept_keys: Vec<&str> = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let slot = Slot::ApiKey(u8::try_from(i).unwrap_or(u8::MAX));
            match found.keys.iter().find(|k| k.name == key.name) {
                Some(seen) => {
                    self.plan.refs.set(slot, &seen.id);
                    kept_keys.push(&seen.id);
                }
                None => {
                    self.plan.step(
                        Verb::Create,
                        Part::ApiKey,
                        &key.name,
                        format!("key {:?}", key.spec_name),
                        Action::CreateApiKey { slot, key: key.clone() },
                    );
                }
            }
        }
        let kept = wanted.and(found.plans.first());
        let name = wanted.map(|w| w.name.clone()).unwrap_or_default();
        match (wanted, kept, gate) {
            (Some(w), None, Some(gate)) => {
                self.plan.gated(
                    gate,
                    Verb::Create,
                    Part::UsagePlan,
                    &name,
                    format!("stage {}; {}", w.stage, w.describe()),
                    Action::CreateUsagePlan(w.clone()),
                );
            }
            (Some(w), Some(plan), _) => {
                self.plan.refs.set(Slot::UsagePlan, &plan.id);
                let shown = w.try_map(|id| Some(self.refs().show(id)));
                if let Some(shown) = shown
                    && !usage_plan::patch_ops(plan, Some(&shown)).is_empty()
                {
                    let detail = match plan.limits_are(&shown) {
                        true => format!("stage {}", shown.stage),
                        false => shown.describe(),
                    };
                    self.plan.gated(
                        gate.unwrap_or(Gate::Always),
                        Verb::Update,
                        Part::UsagePlan,
                        &plan.id,
                        detail,
                        Action::UpdateUsagePlan {
                            id: plan.id.clone(),
                            seen: plan.clone(),
                            wanted: Some(w.clone()),
                        },
                    );
                }
            }
            _ => {}
        }
        // Each wanted key on the plan (a new plan or key: linked once both exist).
        if let (Some(_), Some(gate)) = (wanted, gate.or(kept.map(|_| Gate::Always))) {
            for (i, key) in keys.iter().enumerate() {
                let slot = Slot::ApiKey(u8::try_from(i).unwrap_or(u8::MAX));
                let linked = kept.is_some_and(|p| {
                    self.plan
                        .refs
                        .slot(slot)
                        .is_some_and(|id| p.key_ids.iter().any(|k| k == id))
                });
                if !linked {
                    self.plan.gated(
                        gate,
                        Verb::Create,
                        Part::ApiKey,
                        &key.name,
                        "on the usage plan",
                        Action::LinkApiKey { key: slot },
                    );
                }
            }
        }
        // Ours and not wanted: duplicate plans (a lost answer), every plan without keys.
        let retired: Vec<&ObservedUsagePlan> = found
            .plans
            .iter()
            .filter(|p| kept.is_none_or(|k| k.id != p.id))
            .collect();
        for plan in &retired {
            if !plan.stages.is_empty() {
                self.plan.step(
                    Verb::Update,
                    Part::UsagePlan,
                    &plan.id,
                    "no stage",
                    Action::UpdateUsagePlan {
                        id: plan.id.clone(),
                        seen: (*plan).clone(),
                        wanted: None,
                    },
                );
            }
        }
        for key in found.keys.iter().filter(|k| !kept_keys.contains(&k.id.as_str())) {
            self.plan.step(
                Verb::Delete,
                Part::ApiKey,
                &key.name,
                "",
                Action::DeleteApiKey(key.id.clone()),
            );
        }
        for plan in retired {
            self.plan.step(
                Verb::Delete,
                Part::UsagePlan,
                &plan.id,
                "",
                Action::DeleteUsagePlan(plan.id.clone()),
            );
        }
    }

    // ------------------------------------------------------------ authorizers

    /// The API's authorizer: the observed one with every wanted setting is kept (and
    /// known as `Slot::Authorizer`), else a new one is made. Returns our other
    /// authorizers, to delete once nothing uses them ([`Self::retire_authorizers`]).
    /// Unread (a drift check): left alone, known from the status.
    fn authorizer(&mut self, gate: Gate, wanted: Option<&DesiredAuthorizer<Id>>) -> Vec<String> {
        let Some(found) = self.observed.authorizers.read() else {
            return Vec::new();
        };
        let resolved = wanted.and_then(|w| w.try_map(|id| self.refs().get(id)));
        let kept = resolved.as_ref().and_then(|w| found.iter().find(|a| a.is(w)));
        match (wanted, kept) {
            (Some(_), Some(kept)) => self.plan.refs.set(Slot::Authorizer, &kept.id),
            (Some(wanted), None) => self.plan.gated(
                gate,
                Verb::Create,
                Part::Authorizer,
                wanted.name(),
                wanted.describe(),
                Action::CreateAuthorizer(wanted.clone()),
            ),
            (None, _) => {}
        }
        found
            .iter()
            .filter(|a| a.ours() && kept.is_none_or(|k| k.id != a.id))
            .map(|a| a.id.clone())
            .collect()
    }

    fn retire_authorizers(&mut self, gate: Gate, flavor: authorizer::Flavor, retired: Vec<String>) {
        for id in retired {
            self.plan.gated(
                gate,
                Verb::Delete,
                Part::Authorizer,
                &id,
                "not in use",
                Action::DeleteAuthorizer { flavor, id: id.clone() },
            );
        }
    }

    /// A REST method's authorization, set in place where it differs.
    #[allow(clippy::too_many_arguments)]
    fn method_auth(
        &mut self,
        gate: Gate,
        resource: Id,
        method: &str,
        path: &str,
        seen: &SeenAuth,
        wanted: &DesiredApi<Id>,
        shown: &DesiredApi,
    ) {
        if seen.is(&shown.auth) {
            return;
        }
        self.plan.gated(
            gate,
            Verb::Update,
            Part::ApiMethod,
            format!("{method} {path}"),
            auth_detail(&shown.auth),
            Action::UpdateMethodAuth {
                resource,
                method: method.to_owned(),
                auth: wanted.auth.clone(),
                had_scopes: seen.scopes.clone(),
            },
        );
    }

    // ------------------------------------------------------------ HTTP API

    /// The HTTP API: one integration, the routes of `http_api::ROUTE_KEYS` to it, and
    /// the auto-deployed `$default` stage. Integrations and routes no one wants go.
    fn http_api(&mut self, link: LinkReady) {
        let Some(found) = self.observed.http_apis.read() else {
            return;
        };
        let Some(wanted) = &self.desired.http_api else {
            return; // see `api_deletes`
        };
        // Duplicates can only come from a lost CreateApi answer: keep the oldest.
        for extra in found.iter().skip(1) {
            self.plan.step(
                Verb::Delete,
                Part::HttpApi,
                extra,
                "duplicate",
                Action::DeleteHttpApi(extra.clone()),
            );
        }
        if found.is_empty() {
            self.plan.step(
                Verb::Create,
                Part::HttpApi,
                &wanted.name,
                "HTTP",
                Action::CreateHttpApi(wanted.clone()),
            );
        }
        let Some(gate) = self.wiring_gate(link) else {
            return;
        };
        let resolved = wanted.integration.try_map(|id| self.refs().get(id));
        let shown = wanted.integration.try_map(|id| Some(self.refs().show(id)));
        let Some(shown) = shown else { return };
        let detail = format!("HTTP_PROXY via VPC link {} to {}", shown.connection_id, shown.uri);

        // Before the routes, which name it; ours no route names any more go after.
        let retired = self.authorizer(gate, wanted.authorizer.as_ref());
        if let Some(details) = self.observed.http_details.read() {
            let details = details.clone().unwrap_or_default();
            self.http_wiring(gate, &details, wanted, resolved.as_ref(), detail);
        }
        self.retire_authorizers(gate, authorizer::Flavor::Http, retired);

        let Some(stages) = self.observed.http_stages.read() else {
            return;
        };
        match stages.iter().find(|s| s.name == http_api::STAGE) {
            None => self.plan.gated(
                gate,
                Verb::Create,
                Part::ApiStage,
                http_api::STAGE,
                "auto-deploy",
                Action::CreateHttpStage(wanted.clone()),
            ),
            Some(stage) if !stage.auto_deploy || (wanted.throttle.is_some() && stage.throttle != wanted.throttle) => {
                let detail = match wanted.throttle {
                    Some(t) => format!("auto-deploy, throttle {} req/s, burst {}", t.rate_limit, t.burst_limit),
                    None => "auto-deploy".into(),
                };
                self.plan.gated(
                    gate,
                    Verb::Update,
                    Part::ApiStage,
                    http_api::STAGE,
                    detail,
                    Action::UpdateHttpStage(wanted.throttle),
                )
            }
            Some(_) => {}
        }
        self.plan.part(PartStatus::ready(
            Condition::Api,
            "the $default stage serves the routes, deployed automatically",
        ));
    }

    /// The queue routes of a REST API: their resources (parents first), methods,
    /// answers and SQS integrations; resources and methods no route wants go.
    fn rest_routes(&mut self, gate: Gate, api: &ObservedApi, wanted: &DesiredApi<Id>, shown: &DesiredApi) {
        let paths = queue_route::resource_paths(&wanted.routes);
        let slot_of = |path: &str| {
            paths
                .iter()
                .position(|p| p == path)
                .map(|i| Slot::RouteResource(i as u8))
        };
        for (path, slot) in paths.iter().filter_map(|p| Some((p, slot_of(p)?))) {
            match api.routes.get(path) {
                Some(resource) => self.plan.refs.learn(slot, Some(&resource.id)),
                None => {
                    let (parent, path_part) = queue_route::split_path(path);
                    let parent = match slot_of(parent) {
                        Some(slot) => Id::Of(slot),
                        None => Id::Of(Slot::RootResource),
                    };
                    let action = Action::CreateRouteResource {
                        parent,
                        path_part: path_part.to_owned(),
                        slot,
                    };
                    self.plan.gated(gate, Verb::Create, Part::ApiResource, path, "", action);
                }
            }
        }
        for (route, shown_route) in wanted.routes.iter().zip(&shown.routes) {
            let Some(slot) = slot_of(&route.path) else { continue };
            let resource = Id::Of(slot);
            let method = route.method;
            let observed = api.routes.get(&route.path).and_then(|r| r.methods.get(method));
            let name = route.key();
            match observed {
                None => {
                    let action = Action::PutMethod {
                        resource: resource.clone(),
                        method,
                        proxy: false,
                        auth: wanted.auth.clone(),
                    };
                    let detail = new_method_detail(&shown.auth);
                    self.plan
                        .gated(gate, Verb::Create, Part::ApiMethod, &name, detail, action);
                }
                Some(seen) => self.method_auth(gate, resource.clone(), method, &route.path, &seen.auth, wanted, shown),
            }
            if !observed.is_some_and(|m| m.method_response) {
                let action = Action::PutMethodResponse {
                    resource: resource.clone(),
                    method,
                };
                self.plan
                    .gated(gate, Verb::Create, Part::ApiMethod, &name, "200 response", action);
            }
            let integration = rest_api::route_integration(shown_route);
            let integration_put = observed.and_then(|m| m.integration.as_ref()) != Some(&integration);
            if integration_put {
                let action = Action::PutRouteIntegration {
                    resource: resource.clone(),
                    route: route.clone(),
                };
                let detail = format!("SQS SendMessage to {}", route.queue_arn);
                self.plan
                    .gated(gate, Verb::Update, Part::ApiIntegration, &name, detail, action);
            }
            // A new integration comes without the answer mapping: put it again.
            if integration_put || !observed.is_some_and(|m| m.integration_response) {
                let action = Action::PutIntegrationResponse { resource, method };
                self.plan
                    .gated(gate, Verb::Create, Part::ApiIntegration, &name, "200 response", action);
            }
        }
        for (path, resource) in &api.routes {
            if slot_of(path).is_some() {
                let wanted_methods: Vec<&str> = wanted
                    .routes
                    .iter()
                    .filter(|r| &r.path == path)
                    .map(|r| r.method)
                    .collect();
                for method in resource
                    .methods
                    .keys()
                    .filter(|m| !wanted_methods.contains(&m.as_str()))
                {
                    let action = Action::DeleteApiMethod {
                        resource: resource.id.clone(),
                        method: method.clone(),
                    };
                    let name = format!("{method} {path}");
                    self.plan
                        .gated(gate, Verb::Delete, Part::ApiMethod, name, "not in spec", action);
                }
                continue;
            }
            // The topmost resource no route wants goes, and everything below with it.
            let (parent, _) = queue_route::split_path(path);
            if parent != "/" && api.routes.contains_key(parent) && slot_of(parent).is_none() {
                continue;
            }
            let action = Action::DeleteApiResource(resource.id.clone());
            self.plan
                .gated(gate, Verb::Delete, Part::ApiResource, path, "not in spec", action);
        }
    }

    /// The HTTP API's integrations and routes: the service proxy's integration
    /// behind `http_api::ROUTE_KEYS`, and one per queue route behind its key.
    /// Routes and integrations no one wants go, the routes first.
    fn http_wiring(
        &mut self,
        gate: Gate,
        details: &http_api::ObservedDetails,
        wanted: &DesiredHttpApi<Id>,
        resolved: Option<&http_api::Integration>,
        proxy_detail: String,
    ) {
        let mut claimed: Vec<String> = Vec::new();
        let mut all_keys: Vec<String> = Vec::new();
        let proxy_keys: Vec<String> = http_api::ROUTE_KEYS.iter().map(|k| k.to_string()).collect();
        let keep = choose_integration(
            details,
            &proxy_keys,
            &claimed,
            |i| resolved.is_some_and(|w| i.is(w)),
            |i| i.kind == http_api::Integration::KIND,
        );
        match keep {
            Some(current) => {
                claimed.push(current.id.clone());
                self.plan.refs.learn(Slot::HttpIntegration, Some(&current.id));
                if resolved.is_none_or(|w| !current.is(w)) {
                    let action = Action::UpdateHttpIntegration {
                        id: current.id.clone(),
                        api: wanted.clone(),
                    };
                    self.plan.gated(
                        gate,
                        Verb::Update,
                        Part::ApiIntegration,
                        &current.id,
                        proxy_detail,
                        action,
                    );
                }
            }
            None => self.plan.gated(
                gate,
                Verb::Create,
                Part::ApiIntegration,
                "ANY",
                proxy_detail,
                Action::CreateHttpIntegration(wanted.clone()),
            ),
        }
        self.http_routes(
            gate,
            details,
            &proxy_keys,
            Slot::HttpIntegration,
            keep.is_some(),
            &wanted.auth,
        );
        all_keys.extend(proxy_keys);

        for (i, route) in wanted.routes.iter().enumerate() {
            let slot = Slot::QueueIntegration(i as u8);
            let keys = vec![route.key()];
            let resolved_route = route.try_map(|id| self.refs().get(id));
            let keep = choose_integration(
                details,
                &keys,
                &claimed,
                |i| resolved_route.as_ref().is_some_and(|r| i.sends(r)),
                |_| false,
            );
            let detail = format!("SQS SendMessage to {}", route.queue_arn);
            match keep {
                Some(current) => {
                    claimed.push(current.id.clone());
                    self.plan.refs.learn(slot, Some(&current.id));
                    if resolved_route.as_ref().is_none_or(|r| !current.sends(r)) {
                        let action = Action::UpdateQueueIntegration {
                            id: current.id.clone(),
                            route: route.clone(),
                        };
                        self.plan
                            .gated(gate, Verb::Update, Part::ApiIntegration, &current.id, detail, action);
                    }
                }
                None => {
                    let action = Action::CreateQueueIntegration {
                        slot,
                        route: route.clone(),
                    };
                    self.plan
                        .gated(gate, Verb::Create, Part::ApiIntegration, route.key(), detail, action);
                }
            }
            self.http_routes(gate, details, &keys, slot, keep.is_some(), &wanted.auth);
            all_keys.extend(keys);
        }

        for stray in details.routes.iter().filter(|r| !all_keys.contains(&r.key)) {
            self.plan.gated(
                gate,
                Verb::Delete,
                Part::ApiRoute,
                &stray.key,
                "not in spec",
                Action::DeleteRoute(stray.id.clone()),
            );
        }
        // Once no route of ours points at them (the routes above moved first).
        for extra in details.integrations.iter().filter(|i| !claimed.contains(&i.id)) {
            self.plan.gated(
                gate,
                Verb::Delete,
                Part::ApiIntegration,
                &extra.id,
                "not in use",
                Action::DeleteHttpIntegration(extra.id.clone()),
            );
        }
    }

    /// The routes `keys`, each to the integration known as `integration` (`kept`:
    /// an observed one), with the authorization `auth`.
    fn http_routes(
        &mut self,
        gate: Gate,
        details: &http_api::ObservedDetails,
        keys: &[String],
        integration: Slot,
        kept: bool,
        auth: &Auth<Id>,
    ) {
        let target = self
            .refs()
            .slot(integration)
            .filter(|_| kept)
            .map(http_api::route_target);
        let shown_auth = auth.try_map(|id| Some(self.refs().show(id)));
        for key in keys {
            if let (Some(route), Some(shown)) = (details.routes.iter().find(|r| &r.key == key), &shown_auth)
                && !route.auth.is(shown)
            {
                self.plan.gated(
                    gate,
                    Verb::Update,
                    Part::ApiRoute,
                    key,
                    auth_detail(shown),
                    Action::UpdateRouteAuth {
                        id: route.id.clone(),
                        auth: auth.clone(),
                    },
                );
            }
            match details.routes.iter().find(|r| &r.key == key) {
                Some(route) if route.target.is_some() && route.target == target => {}
                Some(route) => self.plan.gated(
                    gate,
                    Verb::Update,
                    Part::ApiRoute,
                    key,
                    "to the integration",
                    Action::PointRoute {
                        id: route.id.clone(),
                        integration,
                    },
                ),
                None => self.plan.gated(
                    gate,
                    Verb::Create,
                    Part::ApiRoute,
                    key,
                    "to the integration",
                    Action::CreateRoute {
                        key: key.clone(),
                        integration,
                        auth: auth.clone(),
                    },
                ),
            }
        }
    }

    /// API Gateway's role once no queue route of a live stack needs it, after the API
    /// has stopped using it (teardown deletes every role in `last_deletes`).
    fn retire_api_gateway_role(&mut self) {
        let wanted = self.desired.role(iam::RoleKind::ApiGateway).is_some();
        if wanted || self.desired.groups.is_empty() {
            return;
        }
        if let Some(Some(role)) = self.observed.roles.get(&iam::RoleKind::ApiGateway) {
            self.plan.gated(
                Gate::Settled,
                Verb::Delete,
                Part::IamRole,
                &role.name,
                "no queue route uses it",
                Action::DeleteRole(role.name.clone()),
            );
        }
    }

    // ------------------------------------------------------------ custom domain

    /// Our domain names the spec does not name (renamed, removed, or teardown).
    fn domain_deletes(&mut self) {
        let wanted = self.desired.domain.as_ref().map(|d| d.name.as_str());
        // Our records first: they point at the domains that go next.
        let wanted_record = self.desired.dns.as_ref().map(|r| r.name.as_str());
        for record in self.observed.records.read().into_iter().flatten() {
            if record.ours && Some(record.name.as_str()) != wanted_record {
                self.plan.step(
                    Verb::Delete,
                    Part::DnsRecord,
                    &record.name,
                    format!("alias and ownership record in {}", record.zone_id),
                    Action::DeleteRecord(record.clone()),
                );
            }
        }
        for (flavor, current) in self.observed.domains.read().into_iter().flatten() {
            if Some(current.name.as_str()) != wanted {
                self.plan.step(
                    Verb::Delete,
                    Part::DomainName,
                    &current.name,
                    "",
                    Action::DeleteDomain {
                        flavor: *flavor,
                        name: current.name.clone(),
                    },
                );
            }
        }
    }

    /// The domain name and the mapping of its base path to the API's stage (once the
    /// stage is wired: a mapping needs the stage).
    fn domain(&mut self, link: LinkReady) -> Result<(), ()> {
        let (Some(wanted), Some(ours)) = (&self.desired.domain, self.observed.domains.read()) else {
            return Ok(());
        };
        if self.observed.foreign_domain.is_some() {
            let message = format!(
                "the domain name {} (spec.api.domain.name) exists in this region and is not this resource's",
                wanted.name
            );
            return self.stuck(Part::DomainName, "DomainNameTaken", message);
        }
        let current = ours.iter().map(|(_, d)| d).find(|d| d.name == wanted.name);
        match current {
            None => self.plan.step(
                Verb::Create,
                Part::DomainName,
                &wanted.name,
                "REGIONAL, TLS 1.2",
                Action::CreateDomain(wanted.clone()),
            ),
            Some(current) => {
                self.plan.refs.learn(Slot::DomainTarget, Some(&current.target));
                self.plan.refs.learn(Slot::DomainZone, Some(&current.hosted_zone));
                if current.certificate_arn != wanted.certificate_arn {
                    self.plan.step(
                        Verb::Update,
                        Part::DomainName,
                        &wanted.name,
                        "certificate",
                        Action::SetDomainCertificate(wanted.clone()),
                    );
                }
            }
        }
        let gate = match link {
            LinkReady::Yes => Gate::Always,
            LinkReady::IfNewOneIs => Gate::LinkUsable,
            LinkReady::No => return Ok(()), // the stage waits for the link
        };
        let mappings = self.observed.mappings.read().cloned().unwrap_or_default();
        let resolved = wanted.try_map(|id| self.refs().get(id));
        let shown = wanted.try_map(|id| Some(self.refs().show(id)));
        let detail = shown
            .map(|d| format!("/{} → {} stage {}", d.base_path, d.api, d.stage))
            .unwrap_or_default();
        match mappings.iter().find(|m| m.key == wanted.base_path) {
            Some(m) if resolved.as_ref().is_some_and(|d| domain::mapping_in_sync(m, d)) => {}
            Some(m) => self.plan.gated(
                gate,
                Verb::Update,
                Part::ApiMapping,
                &wanted.name,
                detail,
                Action::PointMapping {
                    id: m.id.clone(),
                    domain: wanted.clone(),
                },
            ),
            None => self.plan.gated(
                gate,
                Verb::Create,
                Part::ApiMapping,
                &wanted.name,
                detail,
                Action::CreateMapping(wanted.clone()),
            ),
        }
        for stray in mappings.iter().filter(|m| m.key != wanted.base_path) {
            self.plan.gated(
                gate,
                Verb::Delete,
                Part::ApiMapping,
                &wanted.name,
                format!("/{} not in spec", stray.key),
                Action::DeleteMapping {
                    flavor: wanted.flavor,
                    domain: wanted.name.clone(),
                    id: stray.id.clone(),
                },
            );
        }
        Ok(())
    }

    /// The domain's alias record in the spec's zone, with its ownership record. A name
    /// someone else's records hold stops the pass before anything is written there.
    fn dns(&mut self) -> Result<(), ()> {
        let (Some(wanted), Some(records)) = (&self.desired.dns, self.observed.records.read()) else {
            return Ok(());
        };
        let current = records.iter().find(|r| r.name == wanted.name);
        if let Some(current) = current.filter(|r| !r.ours) {
            let message = format!(
                "{} already has records in hosted zone {} that are not this resource's (no TXT record {} naming it): remove them or leave DNS to yourself (omit hostedZoneId)",
                wanted.name,
                wanted.zone_id,
                crate::aws::dns::owner_name(&current.name)
            );
            return self.stuck(Part::DnsRecord, "DnsRecordTaken", message);
        }
        let resolved = wanted.try_map(|id| self.refs().get(id));
        let in_place = current.zip(resolved.as_ref()).is_some_and(|(c, w)| c.points_at(w));
        if !in_place {
            let target = self.refs().show(&Id::Of(Slot::DomainTarget));
            let verb = if current.is_some() { Verb::Update } else { Verb::Create };
            self.plan.step(
                verb,
                Part::DnsRecord,
                &wanted.name,
                format!("alias A → {target} in {}", wanted.zone_id),
                Action::UpsertRecord(wanted.clone()),
            );
        }
        Ok(())
    }

    // ------------------------------------------------------------ log group

    /// Made before the service, so that its first line already expires; its retention
    /// kept as the spec says. Deleted in [`Self::last_deletes`].
    fn log_group(&mut self) {
        let (Some(wanted), Some(observed)) = (&self.desired.log_group, self.observed.log_group.read()) else {
            return;
        };
        match observed {
            None => self.plan.step(
                Verb::Create,
                Part::LogGroup,
                &wanted.name,
                format!("retention {} days", wanted.retention_days),
                Action::CreateLogGroup(wanted.clone()),
            ),
            Some(group) if group.retention_days != Some(wanted.retention_days) => {
                let was = group
                    .retention_days
                    .map_or("never expires".to_owned(), |d| format!("{d} days"));
                self.plan.step(
                    Verb::Update,
                    Part::LogGroup,
                    &wanted.name,
                    format!("retention {was} → {} days", wanted.retention_days),
                    Action::SetLogRetention {
                        name: wanted.name.clone(),
                        days: wanted.retention_days,
                    },
                )
            }
            Some(_) => {}
        }
    }

    // ------------------------------------------------------------ teardown's last steps

    /// Security groups, then roles and the cluster: once nothing AWS deletes slowly
    /// (links, the service's tasks, the ALB) remains. Rules between our groups are
    /// revoked first: a referenced group cannot be deleted.
    fn last_deletes(&mut self, going: &Going) {
        if !self.desired.groups.is_empty() || !going.slow_ones_gone {
            return;
        }
        let groups = self.observed.groups.read().cloned().unwrap_or_default();
        for group in &groups {
            for rule in &group.rules {
                self.plan.step(
                    Verb::Update,
                    Part::SecurityGroup,
                    &group.id,
                    format!("revoke {rule}"),
                    Action::Revoke {
                        group: group.id.clone(),
                        rule: rule.clone(),
                    },
                );
            }
        }
        for group in &groups {
            // ENIs of deleted tasks, ALB nodes or link endpoints linger for minutes.
            self.plan.tolerant(
                Gate::Always,
                Change::new(
                    Verb::Delete,
                    Part::SecurityGroup,
                    &group.id,
                    format!("{} group", group.role),
                ),
                Action::DeleteGroup(group.id.clone()),
                format!("security group {} to be released", group.id),
                None,
            );
        }
        let wanted_roles: Vec<_> = self.desired.roles.iter().map(|r| r.kind).collect();
        for role in self
            .observed
            .roles
            .iter()
            .filter(|(kind, _)| !wanted_roles.contains(kind))
            .filter_map(|(_, role)| role.as_ref())
        {
            self.plan.gated(
                Gate::Settled,
                Verb::Delete,
                Part::IamRole,
                &role.name,
                "",
                Action::DeleteRole(role.name.clone()),
            );
        }
        if self.desired.log_group.is_none()
            && let Some(group) = self.observed.log_group.found()
        {
            self.plan.step(
                Verb::Delete,
                Part::LogGroup,
                &group.name,
                "",
                Action::DeleteLogGroup(group.name.clone()),
            );
        }
        if self.desired.cluster.is_none()
            && let Some(cluster) = self.observed.cluster.found()
        {
            let name = arn_name(&cluster.arn).to_owned();
            self.plan.tolerant(
                Gate::Settled,
                Change::new(Verb::Delete, Part::EcsCluster, &name, ""),
                Action::DeleteCluster(name.clone()),
                format!("ECS cluster {name} to be empty"),
                None,
            );
        }
    }
}

/// One load balancer of the stack with its target group and listener: what the
/// desired stack wants of it and what was seen, so that one set of sections serves
/// both the load balancer of the tasks and the NLB in front of an ALB.
struct LbView<'s> {
    tier: Tier,
    target_group: Option<&'s DesiredTargetGroup>,
    load_balancer: Option<&'s DesiredLoadBalancer<Id>>,
    listener: Option<&'s DesiredListener<Id>>,
    seen_target_group: &'s Seen<Option<ObservedTargetGroup>>,
    seen_load_balancer: &'s Seen<Option<ObservedLoadBalancer>>,
    seen_listeners: &'s Seen<Vec<ObservedListener>>,
}

impl LbView<'_> {
    /// "ALB" or "NLB" for a load balancer being deleted (its type is in its ARN).
    fn kind_name(&self, lb: &ObservedLoadBalancer) -> &'static str {
        match (lb.arn.contains(":loadbalancer/net/"), self.tier) {
            (true, _) | (false, Tier::Front) => "NLB",
            (false, Tier::Back) => "ALB",
        }
    }
}

/// What teardown has got to, as observed: which deletions may start.
struct Going {
    /// No service of ours (read and not there): its task definitions, listener and
    /// target group may go.
    service_gone: bool,
    /// No link, service or ALB of ours left: the security groups, roles and cluster
    /// may go.
    slow_ones_gone: bool,
    /// `plan --destroy`: every deletion assumed done, those that follow others too
    /// (a shared link's group after the link its last user deletes).
    assumed: bool,
}

impl Going {
    fn of(desired: &DesiredStack, observed: &ObservedStack) -> Going {
        let service_gone = desired.service.is_none() && observed.service.is_absent();
        let links_gone = desired.vpc_link.is_none()
            && observed.vpc_links.read().is_some_and(Vec::is_empty)
            && observed.vpc_links_v1.read().is_none_or(Vec::is_empty);
        let alb_gone = desired.load_balancer.is_none()
            && observed.load_balancer.is_absent()
            && desired.front.is_none()
            && observed.front.load_balancer.read().is_none_or(Option::is_none);
        Going {
            service_gone,
            slow_ones_gone: service_gone && links_gone && alb_gone,
            assumed: false,
        }
    }
}

/// A VPC link of either version, as the diff weighs it.
#[derive(Clone, Debug, PartialEq)]
struct Link {
    id: String,
    state: LinkState,
    message: Option<String>,
    v1: bool,
}

impl Link {
    fn v2(link: &ObservedVpcLink) -> Link {
        Link {
            id: link.id.clone(),
            state: link.state,
            message: link.message.clone(),
            v1: false,
        }
    }

    fn v1(link: &ObservedVpcLinkV1) -> Link {
        Link {
            id: link.id.clone(),
            state: link.state,
            message: link.message.clone(),
            v1: true,
        }
    }

    fn delete(&self) -> Action {
        match self.v1 {
            true => Action::DeleteVpcLinkV1(self.id.clone()),
            false => Action::DeleteVpcLink(self.id.clone()),
        }
    }
}

/// Our links but `keep`.
/// The integration that serves the routes `keys`, among those not `claimed`: one as
/// wanted that they route to, else one as wanted no other route uses (a create whose
/// answer was lost), else the one they route to, else one of the same kind no other
/// route uses, changed in place.
fn choose_integration<'o>(
    details: &'o http_api::ObservedDetails,
    keys: &[String],
    claimed: &[String],
    as_wanted: impl Fn(&http_api::ObservedIntegration) -> bool,
    same_kind: impl Fn(&http_api::ObservedIntegration) -> bool,
) -> Option<&'o http_api::ObservedIntegration> {
    let routed = |i: &http_api::ObservedIntegration| {
        let target = http_api::route_target(&i.id);
        details
            .routes
            .iter()
            .any(|r| keys.contains(&r.key) && r.target.as_deref() == Some(target.as_str()))
    };
    // Another route's integration (routes to one queue have equal ones) is not taken.
    let routed_elsewhere = |i: &http_api::ObservedIntegration| {
        let target = http_api::route_target(&i.id);
        details
            .routes
            .iter()
            .any(|r| !keys.contains(&r.key) && r.target.as_deref() == Some(target.as_str()))
    };
    let free: Vec<&http_api::ObservedIntegration> = details
        .integrations
        .iter()
        .filter(|i| !claimed.contains(&i.id))
        .collect();
    free.iter()
        .find(|i| as_wanted(i) && routed(i))
        .or_else(|| free.iter().find(|i| as_wanted(i) && !routed_elsewhere(i)))
        .or_else(|| free.iter().find(|i| routed(i)))
        .or_else(|| free.iter().find(|i| same_kind(i) && !routed_elsewhere(i)))
        .copied()
}

fn others(ours: &[Link], keep: Option<&Link>) -> Vec<Link> {
    ours.iter()
        .filter(|l| Some(&l.id) != keep.map(|k| &k.id))
        .cloned()
        .collect()
}

/// A method's or route's authorization, for messages.
fn auth_detail(auth: &Auth) -> String {
    match &auth.authorizer {
        Some(id) if auth.scopes.is_empty() => format!("authorization {} ({id})", auth.method),
        Some(id) => format!("authorization {} ({id}, scopes {})", auth.method, auth.scopes.join(" ")),
        None => format!("authorization {}", auth.method),
    }
}

/// A new method's: nothing to say without authorization (as before it existed).
fn new_method_detail(auth: &Auth) -> String {
    if auth.is_none() {
        String::new()
    } else {
        auth_detail(auth)
    }
}

fn resolve_all(refs: &Refs, ids: &[Id]) -> Option<Vec<String>> {
    let mut all: Vec<String> = ids.iter().map(|id| refs.get(id)).collect::<Option<_>>()?;
    all.sort();
    Some(all)
}

fn provisioning() -> PartStatus {
    PartStatus::waiting(
        Condition::LoadBalancer,
        "LoadBalancerProvisioning",
        "the ALB is provisioning",
    )
}

/// The VPC link part's readiness in `state`.
pub fn link_status(id: &str, state: LinkState) -> PartStatus {
    match state {
        LinkState::Available => PartStatus::ready(Condition::VpcLink, format!("VPC link {id} available")),
        LinkState::Deleting => PartStatus::waiting(
            Condition::VpcLink,
            "VpcLinkDeleting",
            format!("VPC link {id} is being deleted"),
        ),
        _ => PartStatus::waiting(
            Condition::VpcLink,
            "VpcLinkPending",
            format!("VPC link {id} is PENDING (AWS takes up to ~10 minutes)"),
        ),
    }
}

fn service_status(svc: &ObservedService, desired_count: i32) -> PartStatus {
    let running = format!("{} of {} tasks running", svc.running_count, desired_count);
    if svc.running_count < desired_count {
        PartStatus::waiting(Condition::Service, "TasksStarting", running)
    } else if svc.rolling_out {
        PartStatus::waiting(Condition::Service, "RollingOut", "a deployment is rolling out")
    } else {
        PartStatus::ready(Condition::Service, running)
    }
}

#[path = "diff_shared.rs"]
mod shared;

#[path = "diff_lb_group.rs"]
mod lb_group;

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
