//! The executor: runs a plan's steps in order, resolving each step's references with
//! the IDs learned so far (observed, then created), and never waits on AWS. In plan
//! mode it records the steps instead of calling.

use crate::aws::iam::RoleKind;
use crate::aws::security_group::{self, GroupRole, Rule, Source};
use crate::aws::vpc_link::LinkState;
use crate::aws::{
    Aws, dns, domain, ecs, elb, http_api, iam, lb_group, log_group, rest_api, shared_link, usage_plan, vpc_link,
    vpc_link_v1, web_acl,
};
use crate::error::{Error, Result};

use super::diff::{Action, Gate, IfNotYet, Plan, Step, link_status};
use super::model::{Condition, Id, Part, Refs, Slot};
use super::{Change, Mode, PartStatus};

/// What a run of the steps did.
#[derive(Debug, Default)]
pub struct Executed {
    pub changes: Vec<Change>,
    pub refs: Refs,
    pub parts: Vec<PartStatus>,
    /// What AWS still works on: the plan's, and each "not yet" met.
    pub waiting: Vec<String>,
    /// Whether the API's wiring waits for the VPC link made in this pass.
    pub wiring_held: bool,
}

pub async fn execute(aws: &Aws, mode: Mode, plan: Plan) -> Result<Executed> {
    let mut run = Executed {
        refs: plan.refs,
        parts: plan.parts,
        waiting: plan.waiting,
        ..Executed::default()
    };
    let mut not_yet = false;
    // The state AWS gave a link made in this pass (plan mode: assumed usable).
    let mut new_link = None;
    for step in plan.steps {
        match step.gate {
            Gate::Always => {}
            Gate::LinkUsable if new_link.is_some_and(|state| state != LinkState::Available) => {
                run.wiring_held = true;
                continue;
            }
            Gate::LinkUsable => {}
            Gate::Settled if not_yet => continue,
            Gate::Settled => {}
        }
        if mode == Mode::Plan {
            run.changes.push(step.change);
            continue;
        }
        if step.action == Action::Recheck {
            // Only a partial read asks for one; a full pass reads what it rechecks.
            continue;
        }
        let Step {
            mut change,
            action,
            if_not_yet,
            ..
        } = step;
        // On the heap: one call's future per kind of part, and the largest of them
        // overflowed a 2 MiB thread's stack in debug builds.
        match Box::pin(perform(aws, &action, &mut run.refs, &mut change)).await {
            Ok(learned) => {
                if let Some(state) = learned {
                    new_link = Some(state);
                    let id = run.refs.slot(Slot::VpcLink).unwrap_or_default().to_owned();
                    set_part(&mut run.parts, link_status(&id, state));
                }
                tracing::info!(change = %change, "applied");
                run.changes.push(change);
            }
            Err(Error::Aws(e)) if e.disposition() == crate::aws::error::Disposition::Wait => match if_not_yet {
                IfNotYet::Fail => return Err(e.into()),
                IfNotYet::Note { what, part } => {
                    tracing::info!(change = %change, error = %e, "not yet");
                    not_yet = true;
                    if let Some((condition, reason)) = part {
                        set_part(
                            &mut run.parts,
                            PartStatus::waiting(condition, reason, format!("{what}: {}", e.message())),
                        );
                    }
                    run.waiting.push(format!("{what} ({})", e.message()));
                }
            },
            Err(e) => {
                // A call held back by pacing, or refused, changed nothing.
                tracing::debug!(change = %change, error = %e, "not applied");
                return Err(e);
            }
        }
    }
    if run.wiring_held {
        set_part(
            &mut run.parts,
            PartStatus::waiting(
                Condition::Api,
                "WaitingForVpcLink",
                "the API is wired once the VPC link is AVAILABLE",
            ),
        );
    }
    Ok(run)
}

/// A part's readiness; a later word on the same condition replaces the earlier.
pub fn set_part(parts: &mut Vec<PartStatus>, status: PartStatus) {
    match parts.iter_mut().find(|p| p.condition == status.condition) {
        Some(existing) => *existing = status,
        None => parts.push(status),
    }
}

fn need(refs: &Refs, id: &Id) -> Result<String> {
    match id {
        Id::Given(value) => Ok(value.clone()),
        Id::Of(slot) => need_slot(refs, *slot),
    }
}

fn need_slot(refs: &Refs, slot: Slot) -> Result<String> {
    refs.slot(slot)
        .map(str::to_owned)
        .ok_or_else(|| Error::Unresolved(slot.to_string()))
}

/// A desired object with every reference replaced by its ID (`try_map` is the
/// object's own), or the error naming the first one not known.
fn resolve<T>(refs: &Refs, try_map: impl FnOnce(&mut dyn FnMut(&Id) -> Option<String>) -> Option<T>) -> Result<T> {
    let mut missing = None;
    let resolved = try_map(&mut |id: &Id| {
        let found = refs.get(id);
        if found.is_none() {
            missing.get_or_insert_with(|| format!("{id:?}"));
        }
        found
    });
    resolved.ok_or_else(|| Error::Unresolved(missing.unwrap_or_default()))
}

/// Makes one call. Returns the state of a VPC link it created.
///
/// Each family of calls is its own future, on the heap: one async fn over every kind
/// of call had a poll frame of a megabyte in debug builds (a stack slot per arm).
async fn perform(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<Option<LinkState>> {
    match action {
        Action::CreateRestApi(..)
        | Action::DeleteRestApi(..)
        | Action::CreateProxyResource
        | Action::CreateRouteResource { .. }
        | Action::PutMethod { .. }
        | Action::PutMethodResponse { .. }
        | Action::PutRouteIntegration { .. }
        | Action::PutIntegrationResponse { .. }
        | Action::DeleteApiResource(..)
        | Action::DeleteApiMethod { .. }
        | Action::PutIntegration { .. }
        | Action::CreateDeployment(..)
        | Action::CreateStage(..)
        | Action::PointStage(..)
        | Action::SetThrottle { .. }
        | Action::DeleteStage(..)
        | Action::DeleteDeployment(..) => {
            Box::pin(perform_rest_api(aws, action, refs, change)).await?;
            Ok(None)
        }
        Action::CreateHttpApi(..)
        | Action::DeleteHttpApi(..)
        | Action::CreateHttpIntegration(..)
        | Action::UpdateHttpIntegration { .. }
        | Action::DeleteHttpIntegration(..)
        | Action::CreateQueueIntegration { .. }
        | Action::UpdateQueueIntegration { .. }
        | Action::CreateRoute { .. }
        | Action::PointRoute { .. }
        | Action::DeleteRoute(..)
        | Action::CreateHttpStage(..)
        | Action::UpdateHttpStage(..) => {
            Box::pin(perform_http_api(aws, action, refs, change)).await?;
            Ok(None)
        }
        Action::CreateDomain(..)
        | Action::SetDomainCertificate(..)
        | Action::DeleteDomain { .. }
        | Action::CreateMapping(..)
        | Action::PointMapping { .. }
        | Action::DeleteMapping { .. }
        | Action::UpsertRecord(..)
        | Action::DeleteRecord(..) => {
            Box::pin(perform_domain(aws, action, refs, change)).await?;
            Ok(None)
        }
        Action::Recheck => Ok(None),
        Action::CreateAuthorizer(..)
        | Action::DeleteAuthorizer { .. }
        | Action::UpdateMethodAuth { .. }
        | Action::UpdateRouteAuth { .. }
        | Action::SetApiPolicy(..)
        | Action::SetApiEndpoints { .. } => {
            Box::pin(perform_authorization(aws, action, refs, change)).await?;
            Ok(None)
        }
        Action::SetWebAcl { .. }
        | Action::CreateUsagePlan(..)
        | Action::UpdateUsagePlan { .. }
        | Action::DeleteUsagePlan(..)
        | Action::CreateApiKey { .. }
        | Action::DeleteApiKey(..)
        | Action::LinkApiKey { .. } => {
            Box::pin(perform_access(aws, action, refs, change)).await?;
            Ok(None)
        }
        _ => Box::pin(perform_stack(aws, action, refs, change)).await,
    }
}

/// Security groups, roles, the cluster, load balancing, VPC links and the service.
async fn perform_stack(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<Option<LinkState>> {
    match action {
        Action::CreateGroup { vpc_id, group } => {
            let id = security_group::create(aws, vpc_id, group).await?;
            refs.set(Slot::Group(group.role), id);
        }
        Action::Authorize { group, port, from } => {
            let rule = Rule {
                protocol: "tcp".into(),
                from_port: *port,
                to_port: *port,
                source: Source::Group(need(refs, from)?),
            };
            change.detail = format!("allow {rule}");
            let admitted = security_group::authorize(aws, &need(refs, group)?, &rule).await;
            // Either group may be the one not found; the source may be a shared link's.
            if admitted
                .as_ref()
                .is_err_and(|e| e.code() == Some("InvalidGroup.NotFound"))
                && let Source::Group(source) = &rule.source
            {
                shared_link::discard_links_on_lost_group(aws, source).await?;
            }
            admitted?;
        }
        Action::Revoke { group, rule } => security_group::revoke(aws, group, rule).await?,
        Action::DeleteGroup(id) => security_group::delete(aws, id).await?,
        Action::CreateRole(role) => {
            let arn = iam::create(aws, role).await?;
            refs.set(Slot::Role(role.kind), arn);
        }
        Action::AttachPolicy { role, policy } => iam::attach_policy(aws, role, policy).await?,
        Action::PutInlinePolicy { role, policy } => iam::put_inline_policy(aws, role, policy).await?,
        Action::DeleteInlinePolicy { role, policy } => iam::delete_inline_policy(aws, role, policy).await?,
        Action::DeleteRole(name) => iam::delete(aws, name).await?,
        Action::CreateCluster(cluster) => {
            let arn = ecs::create_cluster(aws, cluster).await?;
            refs.set(Slot::Cluster, arn);
        }
        Action::DeleteCluster(name) => ecs::delete_cluster(aws, name).await?,
        Action::CreateLogGroup(group) => log_group::create(aws, group).await?,
        Action::SetLogRetention { name, days } => log_group::set_retention(aws, name, *days).await?,
        Action::DeleteLogGroup(name) => log_group::delete(aws, name).await?,
        Action::CreateTargetGroup { tier, group } => {
            let arn = elb::create_target_group(aws, group).await?;
            refs.set(tier.target_group(), arn);
        }
        Action::RegisterTarget {
            target_group,
            target,
            port,
        } => elb::register_target(aws, &need(refs, target_group)?, &need(refs, target)?, *port).await?,
        Action::ModifyHealthCheck { arn, health } => elb::modify_health_check(aws, arn, health).await?,
        Action::DeleteTargetGroup(arn) => elb::delete_target_group(aws, arn).await?,
        Action::CreateLoadBalancer { tier, load_balancer } => {
            let (arn, dns) = elb::create_load_balancer(aws, &resolve(refs, |f| load_balancer.try_map(f))?).await?;
            refs.set(tier.load_balancer(), arn);
            refs.set(tier.dns(), dns);
        }
        Action::SetSecurityGroups {
            arn,
            groups,
            private_link_inbound_rules,
        } => {
            let groups = groups.iter().map(|g| need(refs, g)).collect::<Result<Vec<_>>>()?;
            elb::set_security_groups(aws, &need(refs, arn)?, &groups, *private_link_inbound_rules).await?;
        }
        Action::SetSubnets { arn, subnets } => elb::set_subnets(aws, arn, subnets).await?,
        Action::DeleteLoadBalancer(arn) => elb::delete_load_balancer(aws, arn).await?,
        Action::CreateListener { tier, listener } => {
            let lb = need_slot(refs, tier.load_balancer())?;
            let arn = elb::create_listener(aws, &lb, &resolve(refs, |f| listener.try_map(f))?).await?;
            refs.set(tier.listener(), arn);
        }
        Action::ModifyListener { arn, listener } => {
            elb::modify_listener(aws, arn, &resolve(refs, |f| listener.try_map(f))?).await?
        }
        Action::DeleteListener(arn) => elb::delete_listener(aws, arn).await?,
        Action::CreateVpcLink(link) => {
            let (id, state) = vpc_link::create(aws, &resolve(refs, |f| link.try_map(f))?).await?;
            refs.set(Slot::VpcLink, id);
            return Ok(Some(state));
        }
        Action::DeleteVpcLink(id) => vpc_link::delete(aws, id).await?,
        Action::CreateVpcLinkV1(link) => {
            let (id, state) = vpc_link_v1::create(aws, &resolve(refs, |f| link.try_map(f))?).await?;
            refs.set(Slot::VpcLink, id);
            return Ok(Some(state));
        }
        Action::DeleteVpcLinkV1(id) => vpc_link_v1::delete(aws, id).await?,
        Action::CreateSharedGroup(link) => {
            let id = shared_link::create_group(aws, link).await?;
            refs.set(Slot::Group(GroupRole::VpcLink), id);
        }
        Action::CreateSharedLink { link, region_links } => {
            let _making = aws.shared_link_making.lock().await;
            // Another resource of this operator made it since this pass looked: join.
            if let Some(made) = shared_link::find_usable(aws, link).await? {
                // Its users as just listed, under the lock: no second read.
                if !made.users.contains(&link.uid) {
                    shared_link::add_user(aws, &made.id, &link.uid, &link.user).await?;
                }
                change.verb = super::Verb::Update;
                change.name = made.id.clone();
                change.detail = "join (made meanwhile by another API of the network)".into();
                if let Some(group) = made.security_groups.first() {
                    refs.set(Slot::Group(GroupRole::VpcLink), group.clone());
                }
                refs.set(Slot::VpcLink, made.id);
                return Ok(Some(made.state));
            }
            let group = need_slot(refs, Slot::Group(GroupRole::VpcLink))?;
            let (id, state) = match shared_link::create_on_group(aws, link, &group).await {
                Ok(made) => made,
                // Stalled, not retried at once: only fewer links or a higher quota help.
                Err(e) if shared_link::is_quota(&e) => {
                    return Err(Error::Stuck {
                        part: Part::VpcLink,
                        reason: "VpcLinkQuota",
                        message: format!(
                            "AWS refused a new VPC link: {} ({region_links} VPC links (V2) exist in {}; the links this operator shares serve every PrivateApi of one VPC and set of subnets: delete unused links or ask AWS for a higher quota)",
                            e.message(),
                            aws.region
                        ),
                    });
                }
                Err(e) => return Err(e.into()),
            };
            refs.set(Slot::VpcLink, id);
            return Ok(Some(state));
        }
        Action::JoinSharedLink { id, link } => {
            let _joining = aws.shared_link_making.lock().await;
            match shared_link::join(aws, id, &link.uid, &link.user).await {
                // Filled since the pass looked (at scale, by the joiners of the same
                // moment): another available link of the network with room, as AWS
                // lists them now, saves a whole pass; without one, the next pass makes it.
                Err(full @ crate::aws::AwsError::Changed(_)) => {
                    // The network's links share its one group, which the pass's rules name.
                    let group = refs.slot(Slot::Group(GroupRole::VpcLink)).map(str::to_owned);
                    let usable = |l: &shared_link::ObservedSharedLink| {
                        l.state == LinkState::Available && l.security_groups.first() == group.as_ref()
                    };
                    let Some(other) = shared_link::find_usable(aws, link).await?.filter(usable) else {
                        return Err(full.into());
                    };
                    if !other.users.contains(&link.uid) {
                        shared_link::add_user(aws, &other.id, &link.uid, &link.user).await?;
                    }
                    change.name = other.id.clone();
                    change.detail = format!(
                        "join (shared by {} other APIs; {id} filled meanwhile)",
                        other.users.len()
                    );
                    refs.set(Slot::VpcLink, other.id);
                    return Ok(Some(other.state));
                }
                joined => joined?,
            }
        }
        Action::LeaveSharedLink { id, uid, user } => {
            change.detail = match shared_link::leave(aws, id, uid, user).await? {
                shared_link::Left::Others(n) => format!("left; {n} other APIs use it"),
                shared_link::Left::Deleted => "its last user left: deleted".into(),
                shared_link::Left::Gone => "already gone".into(),
            };
        }
        Action::ReapSharedGroup(id) => {
            lb_group::release(aws, id).await?;
            security_group::delete(aws, id).await?
        }
        Action::CreateLbGroupSg(group) => {
            let id = lb_group::create_group_sg(aws, group).await?;
            refs.set(Slot::Group(GroupRole::LoadBalancer), id);
        }
        Action::JoinLbGroup { arn, group } => {
            let _joining = aws.shared_link_making.lock().await;
            lb_group::join(aws, arn, &group.uid, &group.user).await?
        }
        Action::CreateListenerRule { group, priority } => {
            let listener = need_slot(refs, Slot::Listener)?;
            let target = need_slot(refs, Slot::TargetGroup)?;
            let (arn, priority) = lb_group::create_rule_at(aws, &listener, group, *priority, &target).await?;
            change.detail = format!("priority {priority}: {} = {}", lb_group::ROUTE_HEADER, group.route);
            refs.set(Slot::ListenerRule, arn);
            refs.set(Slot::ListenerRulePriority, priority.to_string());
        }
        Action::ModifyListenerRule { arn, route } => {
            lb_group::modify_rule(aws, arn, route, &need_slot(refs, Slot::TargetGroup)?).await?
        }
        Action::DeleteListenerRule(arn) => lb_group::delete_rule(aws, arn).await?,
        Action::LeaveLbGroup { arn, uid } => {
            change.detail = match lb_group::leave(aws, arn, uid).await? {
                lb_group::Left::Others(n) => format!("left; {n} other members use it"),
                lb_group::Left::Deleted => "its last member left: listener and ALB deleted".into(),
                lb_group::Left::Gone => "already gone".into(),
            };
        }
        Action::RegisterTaskDefinition(td) => {
            let arn = ecs::register_task_definition(aws, &resolve(refs, |f| td.try_map(f))?).await?;
            refs.set(Slot::TaskDefinition, arn);
        }
        Action::DeregisterTaskDefinition(arn) => ecs::deregister_task_definition(aws, arn).await?,
        Action::CreateService(service) => {
            let arn = ecs::create_service(aws, &resolve(refs, |f| service.try_map(f))?).await?;
            refs.set(Slot::Service, arn);
        }
        Action::UpdateService(service) => ecs::update_service(aws, &resolve(refs, |f| service.try_map(f))?).await?,
        Action::DeleteService { cluster, name } => ecs::delete_service(aws, cluster, name).await?,
        other => return Err(misrouted(other)),
    }
    Ok(None)
}

async fn perform_rest_api(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<()> {
    match action {
        Action::CreateRestApi(api) => {
            let (id, fresh) = rest_api::create(aws, &resolve(refs, |f| api.unauthorized().try_map(f))?).await?;
            refs.set(Slot::RestApi, &id);
            let root = match fresh.and_then(|api| api.root) {
                Some(root) => Some(root.id),
                // AWS always says; read it back if not.
                None => rest_api::observe_resources(aws, &id)
                    .await?
                    .and_then(|api| api.root)
                    .map(|r| r.id),
            };
            refs.learn(Slot::RootResource, root.as_deref());
        }
        Action::DeleteRestApi(id) => rest_api::delete(aws, id).await?,
        Action::CreateProxyResource => {
            let (api, root) = (need_slot(refs, Slot::RestApi)?, need_slot(refs, Slot::RootResource)?);
            let id = rest_api::create_resource(aws, &api, &root, "{proxy+}").await?;
            refs.set(Slot::ProxyResource, id);
        }
        Action::CreateRouteResource {
            parent,
            path_part,
            slot,
        } => {
            let api = need_slot(refs, Slot::RestApi)?;
            let id = rest_api::create_resource(aws, &api, &need(refs, parent)?, path_part).await?;
            refs.set(*slot, id);
        }
        Action::PutMethod {
            resource,
            method,
            proxy,
            auth,
        } => {
            let api = need_slot(refs, Slot::RestApi)?;
            let auth = resolve(refs, |f| auth.try_map(f))?;
            rest_api::put_method(aws, &api, &need(refs, resource)?, method, *proxy, &auth).await?;
        }
        Action::PutMethodResponse { resource, method } => {
            let api = need_slot(refs, Slot::RestApi)?;
            rest_api::put_method_response(aws, &api, &need(refs, resource)?, method).await?;
        }
        Action::PutRouteIntegration { resource, route } => {
            let wanted = resolve(refs, |f| route.try_map(f))?;
            let api = need_slot(refs, Slot::RestApi)?;
            let integration = rest_api::route_integration(&wanted);
            rest_api::put_integration(aws, &api, &need(refs, resource)?, wanted.method, &integration).await?;
        }
        Action::PutIntegrationResponse { resource, method } => {
            let api = need_slot(refs, Slot::RestApi)?;
            rest_api::put_integration_response(aws, &api, &need(refs, resource)?, method).await?;
        }
        Action::DeleteApiResource(id) => rest_api::delete_resource(aws, &need_slot(refs, Slot::RestApi)?, id).await?,
        Action::DeleteApiMethod { resource, method } => {
            rest_api::delete_method(aws, &need_slot(refs, Slot::RestApi)?, resource, method).await?
        }
        Action::PutIntegration { resource, path, api } => {
            let wanted = resolve(refs, |f| api.unauthorized().try_map(f))?;
            let id = need_slot(refs, Slot::RestApi)?;
            let integrations = wanted.integrations();
            let integration = integrations
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, i)| i)
                .ok_or_else(|| Error::Unresolved(format!("the integration of ANY {path}")))?;
            // What is made in this pass is known by now: say it as it was sent.
            change.detail = format!(
                "HTTP_PROXY via VPC link {} to {}",
                integration.connection_id, integration.uri
            );
            rest_api::put_integration(aws, &id, &need(refs, resource)?, "ANY", integration).await?;
        }
        Action::CreateDeployment(api) => {
            let shape = resolve(refs, |f| api.try_map(f))?.shape();
            let api_id = need_slot(refs, Slot::RestApi)?;
            let id = rest_api::create_deployment(aws, &api_id, &shape).await?;
            change.name = api_id;
            change.detail = format!("shape {shape}");
            refs.set(Slot::Deployment, id);
        }
        Action::CreateStage(api) => {
            let (wanted, deployment) = (resolve(refs, |f| api.try_map(f))?, need_slot(refs, Slot::Deployment)?);
            change.detail = format!("deployment {deployment}");
            rest_api::create_stage(aws, &need_slot(refs, Slot::RestApi)?, &wanted, &deployment).await?;
        }
        Action::PointStage(api) => {
            let (wanted, deployment) = (resolve(refs, |f| api.try_map(f))?, need_slot(refs, Slot::Deployment)?);
            change.detail = format!("deployment {deployment}");
            let id = need_slot(refs, Slot::RestApi)?;
            rest_api::point_stage(aws, &id, &wanted.stage_name, &wanted.shape(), &deployment).await?;
        }
        Action::SetThrottle { stage, throttle } => {
            rest_api::set_throttle(aws, &need_slot(refs, Slot::RestApi)?, stage, *throttle).await?
        }
        Action::DeleteStage(stage) => rest_api::delete_stage(aws, &need_slot(refs, Slot::RestApi)?, stage).await?,
        Action::DeleteDeployment(id) => rest_api::delete_deployment(aws, &need_slot(refs, Slot::RestApi)?, id).await?,
        other => return Err(misrouted(other)),
    }
    Ok(())
}

async fn perform_http_api(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<()> {
    match action {
        Action::CreateHttpApi(api) => {
            let id = http_api::create(aws, &resolve(refs, |f| api.unauthorized().try_map(f))?).await?;
            refs.set(Slot::HttpApi, id);
        }
        Action::DeleteHttpApi(id) => http_api::delete(aws, id).await?,
        Action::CreateHttpIntegration(api) => {
            let wanted = resolve(refs, |f| api.unauthorized().try_map(f))?;
            change.detail = http_integration_detail(&wanted);
            let id = http_api::create_integration(aws, &need_slot(refs, Slot::HttpApi)?, &wanted.integration).await?;
            change.name = id.clone();
            refs.set(Slot::HttpIntegration, id);
        }
        Action::UpdateHttpIntegration { id, api } => {
            let wanted = resolve(refs, |f| api.unauthorized().try_map(f))?;
            change.detail = http_integration_detail(&wanted);
            http_api::update_integration(aws, &need_slot(refs, Slot::HttpApi)?, id, &wanted.integration).await?;
        }
        Action::DeleteHttpIntegration(id) => {
            http_api::delete_integration(aws, &need_slot(refs, Slot::HttpApi)?, id).await?
        }
        Action::CreateQueueIntegration { slot, route } => {
            let wanted = resolve(refs, |f| route.try_map(f))?;
            let id = http_api::create_queue_integration(aws, &need_slot(refs, Slot::HttpApi)?, &wanted).await?;
            change.name = id.clone();
            refs.set(*slot, id);
        }
        Action::UpdateQueueIntegration { id, route } => {
            let wanted = resolve(refs, |f| route.try_map(f))?;
            http_api::update_queue_integration(aws, &need_slot(refs, Slot::HttpApi)?, id, &wanted).await?;
        }
        Action::CreateRoute { key, integration, auth } => {
            let (api, integration) = (need_slot(refs, Slot::HttpApi)?, need_slot(refs, *integration)?);
            let auth = resolve(refs, |f| auth.try_map(f))?;
            http_api::create_route(aws, &api, key, &integration, &auth).await?;
        }
        Action::PointRoute { id, integration } => {
            let (api, integration) = (need_slot(refs, Slot::HttpApi)?, need_slot(refs, *integration)?);
            http_api::point_route(aws, &api, id, &integration).await?;
        }
        Action::DeleteRoute(id) => http_api::delete_route(aws, &need_slot(refs, Slot::HttpApi)?, id).await?,
        Action::CreateHttpStage(api) => {
            let wanted = resolve(refs, |f| api.unauthorized().try_map(f))?;
            http_api::create_stage(aws, &need_slot(refs, Slot::HttpApi)?, &wanted).await?;
        }
        Action::UpdateHttpStage(throttle) => {
            http_api::update_stage(aws, &need_slot(refs, Slot::HttpApi)?, *throttle).await?
        }
        other => return Err(misrouted(other)),
    }
    Ok(())
}

async fn perform_domain(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<()> {
    match action {
        Action::CreateDomain(d) => {
            let (target, zone) = domain::create(aws, &resolve_domain(refs, d)?).await?;
            refs.set(Slot::DomainTarget, target);
            refs.set(Slot::DomainZone, zone);
        }
        Action::SetDomainCertificate(d) => domain::set_certificate(aws, &resolve_domain(refs, d)?).await?,
        Action::DeleteDomain { flavor, name } => domain::delete(aws, *flavor, name).await?,
        Action::CreateMapping(d) => {
            let wanted = resolve(refs, |f| d.try_map(f))?;
            change.detail = format!("/{} → {} stage {}", wanted.base_path, wanted.api, wanted.stage);
            domain::create_mapping(aws, &wanted).await?;
        }
        Action::PointMapping { id, domain: d } => {
            let wanted = resolve(refs, |f| d.try_map(f))?;
            change.detail = format!("/{} → {} stage {}", wanted.base_path, wanted.api, wanted.stage);
            domain::point_mapping(aws, &wanted, id).await?;
        }
        Action::DeleteMapping {
            flavor,
            domain: name,
            id,
        } => domain::delete_mapping(aws, *flavor, name, id).await?,
        Action::UpsertRecord(record) => dns::upsert(aws, &resolve(refs, |f| record.try_map(f))?).await?,
        Action::DeleteRecord(record) => dns::delete(aws, record).await?,
        other => return Err(misrouted(other)),
    }
    Ok(())
}

/// A step handed to the wrong family of calls: a bug in `perform`, said as such.
/// Authorizers and the authorization of methods and routes.
async fn perform_authorization(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<()> {
    use crate::aws::authorizer::{self, Flavor};
    match action {
        Action::CreateAuthorizer(wanted) => {
            let wanted = resolve(refs, |f| wanted.try_map(f))?;
            let id = match wanted.flavor {
                Flavor::Rest => authorizer::create_rest(aws, &need_slot(refs, Slot::RestApi)?, &wanted).await?,
                Flavor::Http => authorizer::create_http(aws, &need_slot(refs, Slot::HttpApi)?, &wanted).await?,
            };
            change.detail = format!("{} (id {id})", wanted.describe());
            refs.set(Slot::Authorizer, id);
        }
        Action::DeleteAuthorizer { flavor, id } => match flavor {
            Flavor::Rest => authorizer::delete_rest(aws, &need_slot(refs, Slot::RestApi)?, id).await?,
            Flavor::Http => authorizer::delete_http(aws, &need_slot(refs, Slot::HttpApi)?, id).await?,
        },
        Action::UpdateMethodAuth {
            resource,
            method,
            auth,
            had_scopes,
        } => {
            let auth = resolve(refs, |f| auth.try_map(f))?;
            let api = need_slot(refs, Slot::RestApi)?;
            authorizer::update_method(aws, &api, &need(refs, resource)?, method, &auth, had_scopes).await?;
        }
        Action::UpdateRouteAuth { id, auth } => {
            let auth = resolve(refs, |f| auth.try_map(f))?;
            authorizer::update_route(aws, &need_slot(refs, Slot::HttpApi)?, id, &auth).await?;
        }
        Action::SetApiPolicy(policy) => {
            rest_api::set_policy(aws, &need_slot(refs, Slot::RestApi)?, policy.as_deref()).await?
        }
        Action::SetApiEndpoints { add, remove } => {
            rest_api::set_endpoints(aws, &need_slot(refs, Slot::RestApi)?, add, remove).await?
        }
        other => return Err(misrouted(other)),
    }
    Ok(())
}

/// The stage's web ACL, the usage plan and the API keys.
async fn perform_access(aws: &Aws, action: &Action, refs: &mut Refs, change: &mut Change) -> Result<()> {
    match action {
        Action::SetWebAcl { stage, web_acl_arn } => {
            let arn = rest_api::stage_arn(&aws.region, &need_slot(refs, Slot::RestApi)?, stage);
            match web_acl_arn {
                Some(acl) => web_acl::associate(aws, &arn, acl).await?,
                None => web_acl::disassociate(aws, &arn).await?,
            }
        }
        Action::CreateUsagePlan(wanted) => {
            let wanted = resolve(refs, |f| wanted.try_map(f))?;
            let id = usage_plan::create(aws, &wanted).await?;
            change.detail = format!("{} (id {id})", change.detail);
            refs.set(Slot::UsagePlan, id);
        }
        Action::UpdateUsagePlan { id, seen, wanted } => {
            let wanted = match wanted {
                Some(w) => Some(resolve(refs, |f| w.try_map(f))?),
                None => None,
            };
            let ops = usage_plan::patch_ops(seen, wanted.as_ref());
            if !ops.is_empty() {
                usage_plan::update(aws, id, ops).await?;
            }
        }
        Action::DeleteUsagePlan(id) => usage_plan::delete(aws, id).await?,
        Action::CreateApiKey { slot, key } => {
            // Only the id: the value AWS generated stays in this answer, dropped here.
            let id = usage_plan::create_key(aws, key).await?;
            change.detail = format!("{} (id {id})", change.detail);
            refs.set(*slot, id);
        }
        Action::DeleteApiKey(id) => usage_plan::delete_key(aws, id).await?,
        Action::LinkApiKey { key } => {
            usage_plan::link_key(aws, &need_slot(refs, Slot::UsagePlan)?, &need_slot(refs, *key)?).await?
        }
        other => return Err(misrouted(other)),
    }
    Ok(())
}

fn misrouted(action: &Action) -> Error {
    Error::Unresolved(format!("the call family of {action:?}"))
}

/// The domain as the domain calls need it: they do not name the API, which may not
/// exist yet when the domain is made.
fn resolve_domain(refs: &Refs, d: &domain::DesiredDomain<Id>) -> Result<domain::DesiredDomain> {
    d.try_map(|id| Some(refs.get(id).unwrap_or_default()))
        .ok_or_else(|| Error::Unresolved(format!("the domain {}", d.name)))
}

fn http_integration_detail(api: &http_api::DesiredHttpApi) -> String {
    format!(
        "HTTP_PROXY via VPC link {} to {}",
        api.integration.connection_id, api.integration.uri
    )
}

/// The security group IDs by role, as the status shows them.
pub fn group_ids(refs: &Refs) -> std::collections::BTreeMap<String, String> {
    GroupRole::ALL
        .into_iter()
        .filter_map(|role| Some((role.to_string(), refs.slot(Slot::Group(role))?.to_owned())))
        .collect()
}

/// A role's ARN: the spec's, or ours once known.
pub fn role_arn(refs: &Refs, given: &Option<String>, kind: RoleKind) -> Option<String> {
    given.clone().or_else(|| refs.slot(Slot::Role(kind)).map(str::to_owned))
}
