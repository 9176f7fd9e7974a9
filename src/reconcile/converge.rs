//! One pass that brings AWS to the spec: observe every part (in parallel, by
//! ownership tags), then create / update in dependency order. Never waits for AWS:
//! a part still provisioning is reported as not ready and the pass moves on.

use std::collections::BTreeMap;

use crate::aws::ecs::{self, ObservedService};
use crate::aws::elb::{self, LoadBalancerState};
use crate::aws::iam::{self, RoleChange, RoleKind};
use crate::aws::network;
use crate::aws::rest_api;
use crate::aws::security_group::{self, GroupRole};
use crate::aws::vpc_link::{self, LinkState};
use crate::aws::{Aws, AwsError, AwsResult, Owner};
use crate::crd::{PrivateApiSpec, ServiceCounts};
use crate::error::{Error, Result};

use super::desired::{self, Inputs};
use super::{Change, Mode, Outcome, PartStatus, Run, Verb, after_apply};

pub const SECURITY_GROUPS: &str = "SecurityGroupsReady";
pub const ROLES: &str = "RolesReady";
pub const CLUSTER: &str = "ClusterReady";
pub const LOAD_BALANCER: &str = "LoadBalancerReady";
pub const VPC_LINK: &str = "VpcLinkReady";
pub const SERVICE: &str = "ServiceReady";
pub const API: &str = "ApiReady";

pub async fn converge(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec, mode: Mode) -> Result<Outcome> {
    spec.validate().map_err(Error::InvalidSpec)?;
    let net = &spec.network;
    let subnets = network::resolve_subnets(
        aws,
        &net.vpc_id,
        net.subnet_ids.as_deref(),
        net.subnet_selector.as_ref(),
    )
    .await?;
    let inputs = Inputs {
        owner,
        spec,
        region: &aws.region,
        subnets: &subnets,
    };
    let mut pass = Pass {
        run: Run::new(aws, mode),
        inputs,
        out: Outcome::default(),
    };
    pass.out.resources.subnet_ids = subnets.clone();
    // The pass's future is large (every part's calls): on the heap, so that no
    // caller's stack has to hold it (a debug build overflowed a 2 MiB test thread).
    Box::pin(pass.execute()).await?;
    pass.out.changes = pass.run.changes;
    Ok(pass.out)
}

struct Pass<'a> {
    run: Run<'a>,
    inputs: Inputs<'a>,
    out: Outcome,
}

/// IDs resolved so far, real or (in plan mode) placeholders.
struct Refs {
    groups: BTreeMap<GroupRole, String>,
    execution_role: String,
    task_role: String,
    cluster: String,
    target_group: String,
    load_balancer: Option<(String, String)>,
    vpc_link: Option<(String, LinkState)>,
}

impl Pass<'_> {
    async fn execute(&mut self) -> Result<()> {
        let aws = self.run.aws;
        let i = self.inputs;
        let wanted_roles = desired::roles(i);
        let wanted_cluster = desired::cluster(i);
        let (groups, roles, cluster, lb, links, apis) = tokio::try_join!(
            security_group::observe(aws, i.owner, Some(&i.spec.network.vpc_id)),
            observe_roles(aws, i.owner, &wanted_roles),
            ecs::observe_cluster(aws, i.owner, &wanted_cluster),
            elb::observe(aws, i.owner),
            observe_links(aws, i.owner, i.spec),
            rest_api::find(aws, i.owner),
        )?;

        let groups = self.security_groups(&groups).await?;
        let (execution_role, task_role) = self.roles(&wanted_roles, &roles).await?;
        let cluster = self.cluster(&wanted_cluster, cluster).await?;
        let mut refs = Refs {
            groups,
            execution_role,
            task_role,
            cluster,
            target_group: String::new(),
            load_balancer: None,
            vpc_link: None,
        };
        self.load_balancer(&lb, &mut refs).await?;
        let stale_links = self.vpc_link(&links, &mut refs).await?;
        self.service(&refs).await?;
        self.api(&apis, &refs).await?;
        self.retire_links(&stale_links).await;
        Ok(())
    }

    /// Records a part's readiness; a later word on the same part replaces the earlier
    /// (conditions are a map keyed by type).
    fn part(&mut self, status: PartStatus) {
        match self.out.parts.iter_mut().find(|p| p.condition == status.condition) {
            Some(existing) => *existing = status,
            None => self.out.parts.push(status),
        }
    }

    // ------------------------------------------------------------ security groups

    async fn security_groups(
        &mut self,
        observed: &[security_group::ObservedGroup],
    ) -> Result<BTreeMap<GroupRole, String>> {
        let aws = self.run.aws;
        let vpc = &self.inputs.spec.network.vpc_id;
        let wanted = desired::security_groups(self.inputs);
        let mut ids = BTreeMap::new();
        for group in &wanted {
            let id = match observed.iter().find(|o| o.role == group.role) {
                Some(o) => o.id.clone(),
                None => self
                    .run
                    .write(
                        Change::new(
                            Verb::Create,
                            "SecurityGroup",
                            &group.name,
                            format!("{} group", group.role),
                        ),
                        security_group::create(aws, vpc, group),
                    )
                    .await?
                    .unwrap_or_else(|| after_apply(&format!("sg-{}", group.role))),
            };
            ids.insert(group.role, id);
        }
        for group in &wanted {
            let current = observed
                .iter()
                .find(|o| o.role == group.role)
                .map(|o| o.rules.as_slice())
                .unwrap_or(&[]);
            let (add, remove) = security_group::diff_rules(&security_group::desired_rules(group, &ids), current);
            let id = ids.get(&group.role).cloned().unwrap_or_default();
            for rule in add {
                let change = Change::new(Verb::Update, "SecurityGroup", &group.name, format!("allow {rule}"));
                self.run
                    .write(change, security_group::authorize(aws, &id, &rule))
                    .await?;
            }
            for rule in remove {
                let change = Change::new(Verb::Update, "SecurityGroup", &group.name, format!("revoke {rule}"));
                self.run.write(change, security_group::revoke(aws, &id, &rule)).await?;
            }
        }
        self.out.resources.security_group_ids = ids.iter().map(|(role, id)| (role.to_string(), id.clone())).collect();
        self.part(PartStatus::ready(SECURITY_GROUPS, "link → ALB → tasks rules in place"));
        Ok(ids)
    }

    // ------------------------------------------------------------ IAM + cluster

    async fn roles(
        &mut self,
        wanted: &[iam::DesiredRole],
        observed: &[Option<iam::ObservedRole>],
    ) -> Result<(String, String)> {
        let aws = self.run.aws;
        let mut arns: BTreeMap<RoleKind, String> = BTreeMap::new();
        for (role, current) in wanted.iter().zip(observed) {
            let mut arn = current.as_ref().map(|r| r.arn.clone());
            for change in iam::diff(role, current.as_ref()) {
                match change {
                    RoleChange::Create => {
                        let change = Change::new(Verb::Create, "IamRole", &role.name, role.kind.part());
                        arn = self.run.write(change, iam::create(aws, role)).await?;
                    }
                    RoleChange::AttachPolicy(policy) => {
                        let change = Change::new(Verb::Update, "IamRole", &role.name, format!("attach {policy}"));
                        self.run
                            .write(change, iam::attach_policy(aws, &role.name, &policy))
                            .await?;
                    }
                    RoleChange::PutInlinePolicy(policy) => {
                        let change = Change::new(Verb::Update, "IamRole", &role.name, format!("put policy {policy}"));
                        self.run
                            .write(change, iam::put_inline_policy(aws, role, &policy))
                            .await?;
                    }
                }
            }
            arns.insert(role.kind, arn.unwrap_or_else(|| after_apply(role.kind.part())));
        }
        let svc = &self.inputs.spec.service;
        let execution = svc
            .execution_role_arn
            .clone()
            .or_else(|| arns.get(&RoleKind::Execution).cloned())
            .unwrap_or_default();
        let task = svc
            .task_role_arn
            .clone()
            .or_else(|| arns.get(&RoleKind::Task).cloned())
            .unwrap_or_default();
        self.out.resources.execution_role_arn = Some(execution.clone());
        self.out.resources.task_role_arn = Some(task.clone());
        self.part(PartStatus::ready(
            ROLES,
            if wanted.is_empty() {
                "roles given in spec"
            } else {
                "roles in place"
            },
        ));
        Ok((execution, task))
    }

    async fn cluster(
        &mut self,
        wanted: &ecs::DesiredCluster,
        observed: Option<ecs::ObservedCluster>,
    ) -> Result<String> {
        let aws = self.run.aws;
        let arn = match observed {
            Some(c) if c.active => c.arn,
            Some(_) => {
                return Err(AwsError::Api {
                    operation: "DescribeClusters",
                    code: "ClusterNotActive".into(),
                    message: format!("ECS cluster {} (spec.service.cluster) is not ACTIVE", wanted.name),
                }
                .into());
            }
            None if !wanted.managed => {
                return Err(AwsError::Api {
                    operation: "DescribeClusters",
                    code: "ClusterNotFoundException".into(),
                    message: format!("ECS cluster {} (spec.service.cluster) does not exist", wanted.name),
                }
                .into());
            }
            None => self
                .run
                .write(
                    Change::new(Verb::Create, "EcsCluster", &wanted.name, ""),
                    ecs::create_cluster(aws, wanted),
                )
                .await?
                .unwrap_or_else(|| after_apply("cluster")),
        };
        self.out.resources.cluster_arn = Some(arn);
        self.part(PartStatus::ready(CLUSTER, format!("cluster {}", wanted.name)));
        Ok(wanted.name.clone())
    }

    // ------------------------------------------------------------ ALB, target group, listener

    async fn load_balancer(&mut self, observed: &elb::Observed, refs: &mut Refs) -> Result<()> {
        let aws = self.run.aws;
        let i = self.inputs;
        let alb_group = refs.groups.get(&GroupRole::LoadBalancer).cloned().unwrap_or_default();

        let tg = desired::target_group(i);
        refs.target_group = match &observed.target_group {
            Some(current) => {
                if current.health != tg.health {
                    let change = Change::new(Verb::Update, "TargetGroup", &tg.name, "health check");
                    self.run
                        .write(change, elb::modify_health_check(aws, &current.arn, &tg.health))
                        .await?;
                }
                current.arn.clone()
            }
            None => self
                .run
                .write(
                    Change::new(
                        Verb::Create,
                        "TargetGroup",
                        &tg.name,
                        format!("ip targets, port {}", tg.port),
                    ),
                    elb::create_target_group(aws, &tg),
                )
                .await?
                .unwrap_or_else(|| after_apply("target group ARN")),
        };

        let lb = desired::load_balancer(i, &alb_group);
        let (lb_arn, dns, state) = match &observed.load_balancer {
            Some(current) => {
                if current.security_groups != lb.security_groups {
                    let change = Change::new(Verb::Update, "LoadBalancer", &lb.name, "security groups");
                    self.run
                        .write(change, elb::set_security_groups(aws, &current.arn, &lb.security_groups))
                        .await?;
                }
                if current.subnets != lb.subnets {
                    let change = Change::new(Verb::Update, "LoadBalancer", &lb.name, "subnets");
                    self.run
                        .write(change, elb::set_subnets(aws, &current.arn, &lb.subnets))
                        .await?;
                }
                if current.state == LoadBalancerState::Failed {
                    return Err(AwsError::Api {
                        operation: "DescribeLoadBalancers",
                        code: "LoadBalancerFailed".into(),
                        message: current
                            .state_reason
                            .clone()
                            .unwrap_or_else(|| "the ALB is in state failed".into()),
                    }
                    .into());
                }
                (current.arn.clone(), current.dns_name.clone(), current.state)
            }
            None => {
                let change = Change::new(
                    Verb::Create,
                    "LoadBalancer",
                    &lb.name,
                    format!("internal ALB in {} subnets", lb.subnets.len()),
                );
                match self.run.write(change, elb::create_load_balancer(aws, &lb)).await? {
                    Some((arn, dns)) => (arn, dns, LoadBalancerState::Provisioning),
                    None => (
                        after_apply("ALB ARN"),
                        after_apply("ALB DNS name"),
                        LoadBalancerState::Provisioning,
                    ),
                }
            }
        };

        let listener = desired::listener(i);
        let (keep, strays) = elb::pick_listener(&observed.listeners, listener.port);
        let listener_arn = match keep {
            Some(current) => {
                if !elb::listener_in_sync(current, listener.port, &refs.target_group) {
                    let change = Change::new(
                        Verb::Update,
                        "Listener",
                        format!("HTTP:{}", listener.port),
                        "port / forward action",
                    );
                    self.run
                        .write(
                            change,
                            elb::modify_listener(aws, &current.arn, &refs.target_group, listener.port),
                        )
                        .await?;
                }
                current.arn.clone()
            }
            None => self
                .run
                .write(
                    Change::new(
                        Verb::Create,
                        "Listener",
                        format!("HTTP:{}", listener.port),
                        "forward to target group",
                    ),
                    elb::create_listener(aws, &lb_arn, &refs.target_group, &listener),
                )
                .await?
                .unwrap_or_else(|| after_apply("listener ARN")),
        };
        for stray in strays {
            let change = Change::new(Verb::Delete, "Listener", format!("HTTP:{}", stray.port), "not in spec");
            self.run.write(change, elb::delete_listener(aws, &stray.arn)).await?;
        }

        let r = &mut self.out.resources;
        r.target_group_arn = Some(refs.target_group.clone());
        r.load_balancer_arn = Some(lb_arn.clone());
        r.load_balancer_dns = Some(dns.clone());
        r.listener_arn = Some(listener_arn);
        refs.load_balancer = Some((lb_arn, dns));
        self.part(match state {
            LoadBalancerState::Active => PartStatus::ready(LOAD_BALANCER, "ALB active"),
            _ => PartStatus::waiting(LOAD_BALANCER, "LoadBalancerProvisioning", "the ALB is provisioning"),
        });
        Ok(())
    }

    // ------------------------------------------------------------ VPC link

    /// Ensures the link; returns the links to retire once the API has moved off them.
    async fn vpc_link(&mut self, observed: &Links, refs: &mut Refs) -> Result<Vec<vpc_link::ObservedVpcLink>> {
        let aws = self.run.aws;
        let (id, state, message, stale) = match observed {
            Links::Existing(link) => (link.id.clone(), link.state, link.message.clone(), Vec::new()),
            Links::Owned(links) => {
                let link_group = refs.groups.get(&GroupRole::VpcLink).cloned().unwrap_or_default();
                let wanted = desired::vpc_link(self.inputs, &link_group);
                let (current, retire) = vpc_link::choose(&wanted, links);
                let stale: Vec<_> = retire.into_iter().cloned().collect();
                match current {
                    Some(link) => (link.id.clone(), link.state, link.message.clone(), stale),
                    None => {
                        let detail = format!("{} subnets", wanted.subnets.len());
                        let (id, state) = self
                            .run
                            .write(
                                Change::new(Verb::Create, "VpcLink", &wanted.name, detail),
                                vpc_link::create(aws, &wanted),
                            )
                            .await?
                            .unwrap_or_else(|| (after_apply("VPC link id"), LinkState::Pending));
                        (id, state, None, stale)
                    }
                }
            }
        };
        if state == LinkState::Failed {
            return Err(AwsError::Api {
                operation: "GetVpcLinks",
                code: "VpcLinkFailed".into(),
                message: message.unwrap_or_else(|| format!("VPC link {id} is FAILED")),
            }
            .into());
        }
        self.out.resources.vpc_link_id = Some(id.clone());
        self.part(match state {
            LinkState::Available => PartStatus::ready(VPC_LINK, format!("VPC link {id} available")),
            LinkState::Deleting => {
                PartStatus::waiting(VPC_LINK, "VpcLinkDeleting", format!("VPC link {id} is being deleted"))
            }
            _ => PartStatus::waiting(
                VPC_LINK,
                "VpcLinkPending",
                format!("VPC link {id} is PENDING (AWS takes up to ~10 minutes)"),
            ),
        });
        refs.vpc_link = Some((id, state));
        Ok(stale)
    }

    async fn retire_links(&mut self, stale: &[vpc_link::ObservedVpcLink]) {
        let aws = self.run.aws;
        for link in stale.iter().filter(|l| l.state != LinkState::Deleting) {
            let change = Change::new(Verb::Delete, "VpcLink", &link.id, "replaced");
            // Still referenced by an integration until the API moved: try again next pass.
            if let Err(e) = self.run.write(change, vpc_link::delete(aws, &link.id)).await {
                tracing::info!(link = %link.id, error = %e, "old VPC link not deleted yet");
                self.part(PartStatus::waiting(
                    VPC_LINK,
                    "RetiringVpcLink",
                    format!("old VPC link {} still in use: {e}", link.id),
                ));
            }
        }
    }

    // ------------------------------------------------------------ task definition + service

    async fn service(&mut self, refs: &Refs) -> Result<()> {
        let aws = self.run.aws;
        let i = self.inputs;
        let td = desired::task_definition(i, &refs.execution_role, &refs.task_role);
        let current_td = ecs::observe_task_definition(aws, i.owner, &td.family).await?;
        let td_arn = match current_td {
            Some(current) if current.fingerprint.as_deref() == Some(td.fingerprint().as_str()) => current.arn,
            other => {
                let detail = match other {
                    Some(_) => format!("new revision: image {}", td.image),
                    None => format!("image {}", td.image),
                };
                self.run
                    .write(
                        Change::new(Verb::Create, "TaskDefinition", &td.family, detail),
                        ecs::register_task_definition(aws, &td),
                    )
                    .await?
                    .unwrap_or_else(|| after_apply("task definition revision"))
            }
        };
        self.out.resources.task_definition_arn = Some(td_arn.clone());

        let tasks_group = refs.groups.get(&GroupRole::Tasks).cloned().unwrap_or_default();
        let wanted = desired::service(i, &refs.cluster, &td_arn, &refs.target_group, &tasks_group);
        // In plan mode the cluster may not exist yet: that reads as "no service".
        let current = ecs::observe_service(aws, i.owner, &refs.cluster, &wanted.name).await?;
        match current {
            None => {
                let detail = format!("{} task(s)", wanted.desired_count);
                let arn = self
                    .run
                    .write(
                        Change::new(Verb::Create, "EcsService", &wanted.name, detail),
                        ecs::create_service(aws, &wanted),
                    )
                    .await?
                    .unwrap_or_else(|| after_apply("service ARN"));
                self.out.resources.service_arn = Some(arn);
                self.out.service = Some(ServiceCounts {
                    running_count: 0,
                    desired_count: wanted.desired_count,
                });
                self.part(PartStatus::waiting(SERVICE, "ServiceStarting", "tasks are starting"));
            }
            Some(svc) if svc.status == "DRAINING" => {
                self.out.resources.service_arn = Some(svc.arn.clone());
                self.part(PartStatus::waiting(
                    SERVICE,
                    "ServiceDraining",
                    "a previous service of the same name is draining",
                ));
            }
            Some(svc) => {
                let drift = ecs::service_drift(&wanted, &svc);
                if !drift.is_empty() {
                    let change = Change::new(Verb::Update, "EcsService", &wanted.name, drift.join(", "));
                    self.run.write(change, ecs::update_service(aws, &wanted)).await?;
                }
                self.out.resources.service_arn = Some(svc.arn.clone());
                self.out.service = Some(ServiceCounts {
                    running_count: svc.running_count,
                    desired_count: wanted.desired_count,
                });
                self.part(service_status(&svc, wanted.desired_count));
            }
        }
        self.sweep_task_definitions(&td.family, &td_arn).await
    }

    /// Deregisters every ACTIVE revision of our family but the one in use. Old ones
    /// are superseded by an update; extra ones come from a repeated register (the
    /// SDK retries a call whose answer was lost) or a deregistration that failed.
    /// Running tasks keep their revision; it just stops being offered.
    async fn sweep_task_definitions(&mut self, family: &str, keep: &str) -> Result<()> {
        let aws = self.run.aws;
        if keep.starts_with('<') {
            return Ok(());
        }
        for arn in ecs::list_task_definitions(aws, family).await? {
            if arn != keep {
                let change = Change::new(Verb::Delete, "TaskDefinition", short(&arn), "not in use");
                self.run
                    .write(change, ecs::deregister_task_definition(aws, &arn))
                    .await?;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ REST API

    async fn api(&mut self, found: &[String], refs: &Refs) -> Result<()> {
        let aws = self.run.aws;
        let i = self.inputs;
        let (Some((alb_arn, dns)), Some((link_id, link_state))) = (&refs.load_balancer, &refs.vpc_link) else {
            return Ok(());
        };
        let wanted = desired::api(i, dns, link_id, alb_arn);
        let shape = wanted.shape();

        // Duplicates can only come from a lost CreateRestApi answer: keep the oldest.
        for extra in found.iter().skip(1) {
            let change = Change::new(Verb::Delete, "RestApi", extra, "duplicate");
            self.run.write(change, rest_api::delete(aws, extra)).await?;
        }
        let (api_id, mut current) = match found.first() {
            Some(id) => (id.clone(), rest_api::observe(aws, id).await?.unwrap_or_default()),
            None => {
                let created = self
                    .run
                    .write(
                        Change::new(Verb::Create, "RestApi", &wanted.name, wanted.endpoint_type.clone()),
                        rest_api::create(aws, &wanted),
                    )
                    .await?;
                match created {
                    Some((id, Some(fresh))) => (id, fresh),
                    Some((id, None)) => {
                        let observed = rest_api::observe(aws, &id).await?.unwrap_or_default();
                        (id, observed)
                    }
                    None => (after_apply("REST API id"), rest_api::ObservedApi::default()),
                }
            }
        };
        self.out.resources.rest_api_id = Some(api_id.clone());

        // Plan lists what apply will do once the link is up; apply waits for it.
        if *link_state != LinkState::Available && self.run.mode == Mode::Apply {
            // Integrations need a usable link; everything else is already in place.
            self.part(PartStatus::waiting(
                API,
                "WaitingForVpcLink",
                "the API is wired once the VPC link is AVAILABLE",
            ));
            return Ok(());
        }

        let root_id = current
            .root
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_else(|| after_apply("root resource id"));
        let proxy_id = match &current.proxy {
            Some(r) => r.id.clone(),
            None => self
                .run
                .write(
                    Change::new(Verb::Create, "ApiResource", rest_api::PROXY_PATH, ""),
                    rest_api::create_proxy_resource(aws, &api_id, &root_id),
                )
                .await?
                .unwrap_or_else(|| after_apply("proxy resource id")),
        };
        for (path, resource_id, observed, integration, proxy) in [
            (rest_api::ROOT_PATH, &root_id, current.root.take(), &wanted.root, false),
            (
                rest_api::PROXY_PATH,
                &proxy_id,
                current.proxy.take(),
                &wanted.proxy,
                true,
            ),
        ] {
            let observed = observed.unwrap_or_default();
            if !observed.has_any_method {
                let change = Change::new(Verb::Create, "ApiMethod", format!("ANY {path}"), "");
                self.run
                    .write(change, rest_api::put_method(aws, &api_id, resource_id, proxy))
                    .await?;
            }
            if observed.integration.as_ref() != Some(integration) {
                let detail = format!("HTTP_PROXY via VPC link {link_id} to {}", integration.uri);
                let change = Change::new(Verb::Update, "ApiIntegration", format!("ANY {path}"), detail);
                self.run
                    .write(
                        change,
                        rest_api::put_integration(aws, &api_id, resource_id, integration),
                    )
                    .await?;
            }
        }

        let stage = current.stages.iter().find(|s| s.name == wanted.stage_name);
        // Every deployment of our API: one to reuse after a lost answer, and the
        // garbage (superseded, or duplicated by a retried CreateDeployment) to sweep.
        // (An API made in this pass has none.)
        let deployments = match !found.is_empty() && (current.root.is_some() || !current.stages.is_empty()) {
            true => rest_api::list_deployments(aws, &api_id).await?,
            false => Vec::new(),
        };
        let deployment_id = match stage {
            Some(stage) if rest_api::stage_in_sync(stage, &shape) => stage.deployment_id.clone().unwrap_or_default(),
            _ => {
                let deployment = rest_api::find_deployment(&deployments, &shape);
                let deployment = match deployment {
                    Some(d) => d,
                    None => self
                        .run
                        .write(
                            Change::new(Verb::Create, "ApiDeployment", &api_id, format!("shape {shape}")),
                            rest_api::create_deployment(aws, &api_id, &shape),
                        )
                        .await?
                        .unwrap_or_else(|| after_apply("deployment id")),
                };
                match stage {
                    None => {
                        let change = Change::new(
                            Verb::Create,
                            "ApiStage",
                            &wanted.stage_name,
                            format!("deployment {deployment}"),
                        );
                        self.run
                            .write(change, rest_api::create_stage(aws, &api_id, &wanted, &deployment))
                            .await?;
                    }
                    Some(stage) => {
                        let change = Change::new(
                            Verb::Update,
                            "ApiStage",
                            &wanted.stage_name,
                            format!("deployment {deployment}"),
                        );
                        self.run
                            .write(
                                change,
                                rest_api::point_stage(aws, &api_id, &stage.name, &shape, &deployment),
                            )
                            .await?;
                    }
                }
                deployment
            }
        };
        // Deployments no stage serves any more (stages of other names keep theirs).
        let serving: Vec<&str> = current
            .stages
            .iter()
            .filter(|s| s.name != wanted.stage_name)
            .filter_map(|s| s.deployment_id.as_deref())
            .chain([deployment_id.as_str()])
            .collect();
        for unused in deployments.iter().filter(|d| !serving.contains(&d.id.as_str())) {
            let change = Change::new(Verb::Delete, "ApiDeployment", &unused.id, "not served by a stage");
            self.run
                .write(change, rest_api::delete_deployment(aws, &api_id, &unused.id))
                .await?;
        }
        if let Some(throttle) = wanted.throttle
            && stage.and_then(|s| s.throttle) != Some(throttle)
        {
            let detail = format!("throttle {} req/s, burst {}", throttle.0, throttle.1);
            let change = Change::new(Verb::Update, "ApiStage", &wanted.stage_name, detail);
            self.run
                .write(
                    change,
                    rest_api::set_throttle(aws, &api_id, &wanted.stage_name, throttle),
                )
                .await?;
        }
        // Stages we made under another name (the stage was renamed in the spec).
        for stale in current
            .stages
            .iter()
            .filter(|s| s.name != wanted.stage_name && rest_api::stage_marker(s.description.as_deref()).is_some())
        {
            let change = Change::new(Verb::Delete, "ApiStage", &stale.name, "renamed in spec");
            self.run
                .write(change, rest_api::delete_stage(aws, &api_id, &stale.name))
                .await?;
        }

        self.out.resources.deployment_id = Some(deployment_id);
        self.out.endpoint = Some(rest_api::invoke_url(&api_id, &aws.region, &wanted.stage_name));
        self.part(PartStatus::ready(
            API,
            format!("stage {} serves shape {shape}", wanted.stage_name),
        ));
        Ok(())
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn service_status(svc: &ObservedService, desired_count: i32) -> PartStatus {
    if svc.running_count < desired_count {
        PartStatus::waiting(
            SERVICE,
            "TasksStarting",
            format!("{} of {} tasks running", svc.running_count, desired_count),
        )
    } else if svc.rolling_out {
        PartStatus::waiting(SERVICE, "RollingOut", "a deployment is rolling out")
    } else {
        PartStatus::ready(
            SERVICE,
            format!("{} of {} tasks running", svc.running_count, desired_count),
        )
    }
}

async fn observe_roles(
    aws: &Aws,
    owner: &Owner,
    wanted: &[iam::DesiredRole],
) -> AwsResult<Vec<Option<iam::ObservedRole>>> {
    futures::future::try_join_all(wanted.iter().map(|role| iam::observe(aws, owner, role))).await
}

enum Links {
    Existing(vpc_link::ObservedVpcLink),
    Owned(Vec<vpc_link::ObservedVpcLink>),
}

async fn observe_links(aws: &Aws, owner: &Owner, spec: &PrivateApiSpec) -> AwsResult<Links> {
    match &spec.vpc_link.existing_id {
        Some(id) => Ok(Links::Existing(vpc_link::observe_existing(aws, id).await?)),
        None => Ok(Links::Owned(vpc_link::observe(aws, owner).await?)),
    }
}
