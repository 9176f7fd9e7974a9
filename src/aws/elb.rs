//! The internal load balancer, its target group (target type `ip`, for Fargate tasks)
//! and its listener: an Application Load Balancer with an HTTP listener and HTTP
//! health checks, or a Network Load Balancer with a TCP listener and TCP health
//! checks.
//!
//! ALB and target group have deterministic names (≤ 32 chars) derived from the
//! owner's uid; the ownership tags are checked before anything is changed.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::types::{
    Action, ActionTypeEnum, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, Matcher,
    ProtocolEnum, Tag, TargetGroup, TargetTypeEnum,
};

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::Owner;
use super::{Aws, all_pages};
use crate::crd::{HealthCheck, LoadBalancerKind};

impl LoadBalancerKind {
    /// The listener's and target group's protocol.
    pub fn protocol(self) -> &'static str {
        match self {
            LoadBalancerKind::Application => "HTTP",
            LoadBalancerKind::Network => "TCP",
        }
    }

    fn protocol_enum(self) -> ProtocolEnum {
        ProtocolEnum::from(self.protocol())
    }

    /// "ALB" or "NLB", for messages.
    pub fn short(self) -> &'static str {
        match self {
            LoadBalancerKind::Application => "ALB",
            LoadBalancerKind::Network => "NLB",
        }
    }
}

pub const MAX_NAME: usize = 32;

/// `R` is how other objects are named: their IDs (`String`, what AWS is sent) or,
/// in the stack model, references to objects that may not exist yet.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredLoadBalancer<R = String> {
    pub name: String,
    pub kind: LoadBalancerKind,
    /// Whether an NLB's security groups judge PrivateLink traffic (a VPC Link V1's):
    /// `false` turns that off, as AWS documents for NLBs behind a V1 link.
    pub private_link_inbound_rules: bool,
    pub subnets: Vec<String>,
    pub security_groups: Vec<R>,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredLoadBalancer<R> {
    /// The same load balancer with its references replaced, if `f` knows them all.
    pub fn try_map<S>(&self, f: impl FnMut(&R) -> Option<S>) -> Option<DesiredLoadBalancer<S>> {
        Some(DesiredLoadBalancer {
            name: self.name.clone(),
            kind: self.kind,
            private_link_inbound_rules: self.private_link_inbound_rules,
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.iter().map(f).collect::<Option<_>>()?,
            tags: self.tags.clone(),
        })
    }
}

/// What a target group's targets are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Targets {
    /// The tasks, registered by ECS.
    Ip,
    /// One ALB, registered by us (an NLB in front of it); health checks go to the
    /// ALB's listener, over HTTPS when `https`.
    Alb { https: bool },
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredTargetGroup {
    pub name: String,
    pub kind: LoadBalancerKind,
    pub targets: Targets,
    pub port: i32,
    pub vpc_id: String,
    /// As AWS reports it back (see [`health_for`]).
    pub health: HealthCheck,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredListener<R = String> {
    pub kind: LoadBalancerKind,
    pub port: i32,
    /// An ACM certificate: an HTTPS listener with [`TLS_POLICY`].
    pub certificate: Option<String>,
    /// Where its default action forwards; `None`: a fixed 404 (a load-balancer
    /// group's listener, whose members' traffic goes by their rules).
    pub target_group: Option<R>,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredListener<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredListener<S>> {
        Some(DesiredListener {
            kind: self.kind,
            port: self.port,
            certificate: self.certificate.clone(),
            target_group: match &self.target_group {
                Some(tg) => Some(f(tg)?),
                None => None,
            },
            tags: self.tags.clone(),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedLoadBalancer {
    pub arn: String,
    pub dns_name: String,
    pub state: LoadBalancerState,
    pub state_reason: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic`, when AWS reports it.
    pub private_link_inbound_rules: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadBalancerState {
    Provisioning,
    Active,
    Failed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedTargetGroup {
    pub arn: String,
    pub health: HealthCheck,
    /// The load balancers with a listener (or rule) that forwards to it.
    pub load_balancers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedListener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    /// The default certificate and the TLS policy of an HTTPS listener.
    pub certificate: Option<String>,
    pub tls_policy: Option<String>,
    /// Target groups of the default forward action.
    pub forwards_to: Vec<String>,
    /// Whether the default action is the fixed 404 of a load-balancer group.
    pub not_found: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub load_balancer: Option<ObservedLoadBalancer>,
    pub target_group: Option<ObservedTargetGroup>,
    pub listeners: Vec<ObservedListener>,
}

/// The health check a target group of `kind` runs, as AWS reports it: a TCP check has
/// no path and no matcher.
pub fn health_for(kind: LoadBalancerKind, spec: &HealthCheck) -> HealthCheck {
    match kind {
        LoadBalancerKind::Application => spec.clone(),
        LoadBalancerKind::Network => HealthCheck {
            path: String::new(),
            matcher: String::new(),
            ..spec.clone()
        },
    }
}

/// The TLS policy of HTTPS listeners: TLS 1.3 and 1.2 only (AWS's recommended
/// policy for new listeners).
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

impl<R> DesiredListener<R> {
    pub fn protocol(&self) -> &'static str {
        match self.certificate {
            Some(_) => "HTTPS",
            None => self.kind.protocol(),
        }
    }
}

fn certificates(desired: &DesiredListener) -> Option<Vec<elbv2::types::Certificate>> {
    desired
        .certificate
        .as_ref()
        .map(|arn| vec![elbv2::types::Certificate::builder().certificate_arn(arn).build()])
}

pub fn name(owner: &Owner) -> String {
    owner.resource_name("", MAX_NAME)
}

/// The name of the NLB in front of the ALB, and of its target group.
pub fn front_name(owner: &Owner) -> String {
    owner.resource_name("nlb", MAX_NAME)
}

/// Our load balancer (with its listeners) and target group; one of our name that is
/// not ours is a conflict.
pub async fn observe(aws: &Aws, owner: &Owner) -> AwsResult<Observed> {
    let (observed, foreign) = observe_ours(aws, owner).await?;
    match foreign {
        Some(message) => Err(AwsError::Conflict(message)),
        None => Ok(observed),
    }
}

/// Our load balancer and target group, each judged on its own by its tags: one of
/// our name that is someone else's is left out (and said, second), so that teardown
/// still finds the other part if it is ours.
pub async fn observe_ours(aws: &Aws, owner: &Owner) -> AwsResult<(Observed, Option<String>)> {
    observe_ours_named(aws, owner, &name(owner)).await
}

/// [`observe`] for the front NLB: its parts and the targets registered in its group.
pub async fn observe_front(aws: &Aws, owner: &Owner) -> AwsResult<(Observed, Vec<String>)> {
    let (observed, foreign) = observe_ours_named(aws, owner, &front_name(owner)).await?;
    if let Some(message) = foreign {
        return Err(AwsError::Conflict(message));
    }
    let targets = match &observed.target_group {
        Some(tg) => registered_targets(aws, &tg.arn).await?,
        None => Vec::new(),
    };
    Ok((observed, targets))
}

/// [`observe_ours`] for the front NLB.
pub async fn observe_front_ours(aws: &Aws, owner: &Owner) -> AwsResult<(Observed, Option<String>)> {
    observe_ours_named(aws, owner, &front_name(owner)).await
}

async fn observe_ours_named(aws: &Aws, owner: &Owner, name: &str) -> AwsResult<(Observed, Option<String>)> {
    let name = name.to_owned();
    let (lbs, tgs) = tokio::join!(
        aws.elb.describe_load_balancers().names(&name).send(),
        aws.elb.describe_target_groups().names(&name).send(),
    );
    let mut lb =
        found(lbs.map_err(aws_err("DescribeLoadBalancers")))?.and_then(|out| out.load_balancers().first().cloned());
    let mut tg =
        found(tgs.map_err(aws_err("DescribeTargetGroups")))?.and_then(|out| out.target_groups().first().cloned());

    let arns: Vec<String> = lb
        .iter()
        .filter_map(|l| l.load_balancer_arn())
        .chain(tg.iter().filter_map(|t| t.target_group_arn()))
        .map(str::to_owned)
        .collect();
    let mut foreign = None;
    if !arns.is_empty() {
        let tags = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
            .map_err(aws_err("DescribeTags"))?;
        for description in tags.tag_descriptions() {
            let pairs = description.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
            if owner.owns(pairs) {
                continue;
            }
            let arn = description.resource_arn().unwrap_or_default();
            if lb.as_ref().and_then(|l| l.load_balancer_arn()) == Some(arn) {
                lb = None;
            }
            if tg.as_ref().and_then(|t| t.target_group_arn()) == Some(arn) {
                tg = None;
            }
            foreign.get_or_insert_with(|| {
                format!(
                    "{} is named {name} but is not owned by {} (no matching privateapi.io/uid tag); it is left alone",
                    if arn.is_empty() {
                        "a load balancer resource"
                    } else {
                        arn
                    },
                    owner.key()
                )
            });
        }
    }

    let mut observed = Observed::default();
    if let Some(lb) = lb {
        let lb = convert(&lb);
        let arn = lb.arn.clone();
        observed.listeners = observe_listeners(aws, &arn).await?.unwrap_or_default();
        observed.load_balancer = Some(lb);
    }
    if let Some(tg) = tg {
        observed.target_group = Some(convert_target_group(&tg));
    }
    Ok((observed, foreign))
}

/// The listeners of one load balancer; `None` when the load balancer is gone.
pub async fn observe_listeners(aws: &Aws, lb_arn: &str) -> AwsResult<Option<Vec<ObservedListener>>> {
    let Some(listeners) = found(
        aws.elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(aws_err("DescribeListeners")),
    )?
    else {
        return Ok(None);
    };
    Ok(Some(
        listeners
            .listeners()
            .iter()
            .map(|l| ObservedListener {
                arn: l.listener_arn().unwrap_or_default().to_owned(),
                port: l.port().unwrap_or_default(),
                protocol: l.protocol().map(|p| p.as_str().to_owned()).unwrap_or_default(),
                certificate: l
                    .certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .map(str::to_owned),
                tls_policy: l.ssl_policy().map(str::to_owned),
                forwards_to: l
                    .default_actions()
                    .iter()
                    .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
                    .flat_map(|a| {
                        a.target_group_arn().map(str::to_owned).into_iter().chain(
                            a.forward_config()
                                .map(|f| f.target_groups())
                                .unwrap_or_default()
                                .iter()
                                .filter_map(|t| t.target_group_arn().map(str::to_owned)),
                        )
                    })
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                not_found: is_not_found(l.default_actions()),
            })
            .collect(),
    ))
}

/// Whether `actions` are exactly the fixed 404 of [`not_found`].
pub fn is_not_found(actions: &[Action]) -> bool {
    matches!(actions, [a] if a.r#type() == Some(&ActionTypeEnum::FixedResponse)
        && a.fixed_response_config().and_then(|c| c.status_code()) == Some(NOT_FOUND))
}

fn health_check(tg: &TargetGroup) -> HealthCheck {
    let http = tg
        .health_check_protocol()
        .is_some_and(|p| p.as_str().starts_with("HTTP"));
    HealthCheck {
        path: if http {
            tg.health_check_path().unwrap_or("/").to_owned()
        } else {
            String::new()
        },
        matcher: if http {
            tg.matcher().and_then(|m| m.http_code()).unwrap_or("200").to_owned()
        } else {
            String::new()
        },
        interval_seconds: tg.health_check_interval_seconds().unwrap_or_default(),
        timeout_seconds: tg.health_check_timeout_seconds().unwrap_or_default(),
        healthy_threshold: tg.healthy_threshold_count().unwrap_or_default(),
        unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default(),
    }
}

/// Every target group of the region (ownership is not checked: callers look up
/// ARNs they already proved are theirs).
pub async fn list_target_groups(aws: &Aws) -> AwsResult<Vec<ObservedTargetGroup>> {
    all_pages("DescribeTargetGroups", |marker| async move {
        let out = aws
            .elb
            .describe_target_groups()
            .page_size(400)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws_err("DescribeTargetGroups"))?;
        let groups = out.target_groups().iter().map(convert_target_group).collect();
        Ok((groups, out.next_marker().map(str::to_owned)))
    })
    .await
}

fn convert_target_group(tg: &TargetGroup) -> ObservedTargetGroup {
    ObservedTargetGroup {
        arn: tg.target_group_arn().unwrap_or_default().to_owned(),
        health: health_check(tg),
        load_balancers: tg.load_balancer_arns().to_vec(),
    }
}

pub(crate) fn convert(lb: &LoadBalancer) -> ObservedLoadBalancer {
    let state = lb.state();
    let mut subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|az| az.subnet_id().map(str::to_owned))
        .collect();
    subnets.sort();
    let mut security_groups = lb.security_groups().to_vec();
    security_groups.sort();
    ObservedLoadBalancer {
        arn: lb.load_balancer_arn().unwrap_or_default().to_owned(),
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        state: match state.and_then(|s| s.code()) {
            Some(LoadBalancerStateEnum::Active) | Some(LoadBalancerStateEnum::ActiveImpaired) => {
                LoadBalancerState::Active
            }
            Some(LoadBalancerStateEnum::Failed) => LoadBalancerState::Failed,
            _ => LoadBalancerState::Provisioning,
        },
        state_reason: state.and_then(|s| s.reason()).map(str::to_owned),
        subnets,
        security_groups,
        private_link_inbound_rules: lb
            .enforce_security_group_inbound_rules_on_private_link_traffic()
            .map(|v| v == "on"),
    }
}

/// Every load balancer of the region (ownership is not checked: callers look up
/// ARNs they already proved are theirs).
pub async fn list_load_balancers(aws: &Aws) -> AwsResult<Vec<ObservedLoadBalancer>> {
    all_pages("DescribeLoadBalancers", |marker| async move {
        let out = aws
            .elb
            .describe_load_balancers()
            .page_size(400)
            .set_marker(marker)
            .send()
            .await
            .map_err(aws_err("DescribeLoadBalancers"))?;
        let lbs = out.load_balancers().iter().map(convert).collect();
        Ok((lbs, out.next_marker().map(str::to_owned)))
    })
    .await
}

fn tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Returns the new ALB's ARN and DNS name.
pub async fn create_load_balancer(aws: &Aws, desired: &DesiredLoadBalancer) -> AwsResult<(String, String)> {
    let out = aws
        .elb
        .create_load_balancer()
        .name(&desired.name)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .r#type(match desired.kind {
            LoadBalancerKind::Application => LoadBalancerTypeEnum::Application,
            LoadBalancerKind::Network => LoadBalancerTypeEnum::Network,
        })
        .set_subnets(Some(desired.subnets.clone()))
        .set_security_groups(Some(desired.security_groups.clone()))
        .set_tags(Some(tags(&desired.tags)))
        .send()
        .await
        .map_err(aws_err("CreateLoadBalancer"))?;
    let lb = out.load_balancers().first().ok_or(AwsError::Incomplete {
        operation: "CreateLoadBalancer",
        field: "LoadBalancers",
    })?;
    Ok((
        lb.load_balancer_arn().unwrap_or_default().to_owned(),
        lb.dns_name().unwrap_or_default().to_owned(),
    ))
}

/// With `private_link_inbound_rules`, also whether an NLB judges PrivateLink traffic.
pub async fn set_security_groups(
    aws: &Aws,
    arn: &str,
    groups: &[String],
    private_link_inbound_rules: Option<bool>,
) -> AwsResult<()> {
    use elbv2::types::EnforceSecurityGroupInboundRulesOnPrivateLinkTrafficEnum as Enforce;
    aws.elb
        .set_security_groups()
        .load_balancer_arn(arn)
        .set_security_groups(Some(groups.to_vec()))
        .set_enforce_security_group_inbound_rules_on_private_link_traffic(
            private_link_inbound_rules.map(|on| if on { Enforce::On } else { Enforce::Off }),
        )
        .send()
        .await
        .map_err(aws_err("SetSecurityGroups"))?;
    Ok(())
}

pub async fn set_subnets(aws: &Aws, arn: &str, subnets: &[String]) -> AwsResult<()> {
    aws.elb
        .set_subnets()
        .load_balancer_arn(arn)
        .set_subnets(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(aws_err("SetSubnets"))?;
    Ok(())
}

pub async fn create_target_group(aws: &Aws, desired: &DesiredTargetGroup) -> AwsResult<String> {
    let hc = &desired.health;
    let http = !hc.path.is_empty();
    let (target_type, health_protocol) = match desired.targets {
        Targets::Ip => (TargetTypeEnum::Ip, desired.kind.protocol_enum()),
        Targets::Alb { https: false } => (TargetTypeEnum::Alb, ProtocolEnum::Http),
        Targets::Alb { https: true } => (TargetTypeEnum::Alb, ProtocolEnum::Https),
    };
    let out = aws
        .elb
        .create_target_group()
        .name(&desired.name)
        .protocol(desired.kind.protocol_enum())
        .port(desired.port)
        .vpc_id(&desired.vpc_id)
        .target_type(target_type)
        .health_check_protocol(health_protocol)
        .set_health_check_path(http.then(|| hc.path.clone()))
        .health_check_interval_seconds(hc.interval_seconds)
        .health_check_timeout_seconds(hc.timeout_seconds)
        .healthy_threshold_count(hc.healthy_threshold)
        .unhealthy_threshold_count(hc.unhealthy_threshold)
        .set_matcher(http.then(|| Matcher::builder().http_code(&hc.matcher).build()))
        .set_tags(Some(tags(&desired.tags)))
        .send()
        .await
        .map_err(aws_err("CreateTargetGroup"))?;
    out.target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "CreateTargetGroup",
            field: "TargetGroupArn",
        })
}

/// The IDs of the targets registered in a target group (an ALB's ARN, for ours).
pub async fn registered_targets(aws: &Aws, target_group_arn: &str) -> AwsResult<Vec<String>> {
    let out = found(
        aws.elb
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(aws_err("DescribeTargetHealth")),
    )?;
    let mut ids: Vec<String> = out
        .iter()
        .flat_map(|o| o.target_health_descriptions())
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Registers one target (an ALB, by ARN) on `port`.
pub async fn register_target(aws: &Aws, target_group_arn: &str, target: &str, port: i32) -> AwsResult<()> {
    aws.elb
        .register_targets()
        .target_group_arn(target_group_arn)
        .targets(elbv2::types::TargetDescription::builder().id(target).port(port).build())
        .send()
        .await
        .map_err(aws_err("RegisterTargets"))?;
    Ok(())
}

/// `hc` as [`health_for`] gives it: a TCP check (no path) sends neither path nor matcher.
pub async fn modify_health_check(aws: &Aws, arn: &str, hc: &HealthCheck) -> AwsResult<()> {
    let http = !hc.path.is_empty();
    aws.elb
        .modify_target_group()
        .target_group_arn(arn)
        .set_health_check_path(http.then(|| hc.path.clone()))
        .health_check_interval_seconds(hc.interval_seconds)
        .health_check_timeout_seconds(hc.timeout_seconds)
        .healthy_threshold_count(hc.healthy_threshold)
        .unhealthy_threshold_count(hc.unhealthy_threshold)
        .set_matcher(http.then(|| Matcher::builder().http_code(&hc.matcher).build()))
        .send()
        .await
        .map_err(aws_err("ModifyTargetGroup"))?;
    Ok(())
}

pub(crate) fn forward(target_group_arn: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group_arn)
        .build()
}

/// The status of a load-balancer group's default action: what no member's rule
/// matches is answered here, never forwarded.
pub const NOT_FOUND: &str = "404";

/// A fixed 404 (a load-balancer group's default action).
pub fn not_found() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            elbv2::types::FixedResponseActionConfig::builder()
                .status_code(NOT_FOUND)
                .content_type("text/plain")
                .message_body("no route")
                .build(),
        )
        .build()
}

fn default_action(desired: &DesiredListener) -> Action {
    match &desired.target_group {
        Some(tg) => forward(tg),
        None => not_found(),
    }
}

pub async fn create_listener(aws: &Aws, lb_arn: &str, desired: &DesiredListener) -> AwsResult<String> {
    let out = aws
        .elb
        .create_listener()
        .load_balancer_arn(lb_arn)
        .protocol(ProtocolEnum::from(desired.protocol()))
        .set_certificates(certificates(desired))
        .set_ssl_policy(desired.certificate.as_ref().map(|_| TLS_POLICY.to_owned()))
        .port(desired.port)
        .default_actions(default_action(desired))
        .set_tags(Some(tags(&desired.tags)))
        .send()
        .await
        .map_err(aws_err("CreateListener"))?;
    out.listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "CreateListener",
            field: "ListenerArn",
        })
}

pub async fn modify_listener(aws: &Aws, listener_arn: &str, desired: &DesiredListener) -> AwsResult<()> {
    aws.elb
        .modify_listener()
        .listener_arn(listener_arn)
        .protocol(ProtocolEnum::from(desired.protocol()))
        .set_certificates(certificates(desired))
        .set_ssl_policy(desired.certificate.as_ref().map(|_| TLS_POLICY.to_owned()))
        .port(desired.port)
        .default_actions(default_action(desired))
        .send()
        .await
        .map_err(aws_err("ModifyListener"))?;
    Ok(())
}

pub async fn delete_listener(aws: &Aws, arn: &str) -> AwsResult<()> {
    found(
        aws.elb
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .map_err(aws_err("DeleteListener")),
    )?;
    Ok(())
}

pub async fn delete_target_group(aws: &Aws, arn: &str) -> AwsResult<()> {
    found(
        aws.elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(aws_err("DeleteTargetGroup")),
    )?;
    Ok(())
}

pub async fn delete_load_balancer(aws: &Aws, arn: &str) -> AwsResult<()> {
    found(
        aws.elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(aws_err("DeleteLoadBalancer")),
    )?;
    Ok(())
}

/// Which listener to keep: the one on the desired port, else the oldest; the rest
/// are strays (someone added them, or the port changed) and get removed.
pub fn pick_listener(listeners: &[ObservedListener], port: i32) -> (Option<&ObservedListener>, Vec<&ObservedListener>) {
    let keep = listeners.iter().find(|l| l.port == port).or_else(|| listeners.first());
    let strays = listeners
        .iter()
        .filter(|l| Some(l.arn.as_str()) != keep.map(|k| k.arn.as_str()))
        .collect();
    (keep, strays)
}

pub fn listener_in_sync(listener: &ObservedListener, wanted: &DesiredListener) -> bool {
    let tls_as_wanted = match &wanted.certificate {
        Some(_) => listener.certificate == wanted.certificate && listener.tls_policy.as_deref() == Some(TLS_POLICY),
        None => true,
    };
    listener.port == wanted.port
        && listener.protocol == wanted.protocol()
        && tls_as_wanted
        && match &wanted.target_group {
            Some(tg) => listener.forwards_to == [tg.clone()],
            None => listener.not_found && listener.forwards_to.is_empty(),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(arn: &str, port: i32, tg: &str) -> ObservedListener {
        ObservedListener {
            arn: arn.into(),
            port,
            protocol: "HTTP".into(),
            certificate: None,
            tls_policy: None,
            forwards_to: vec![tg.into()],
            not_found: false,
        }
    }

    fn wanted(port: i32, tg: &str) -> DesiredListener {
        DesiredListener {
            kind: LoadBalancerKind::Application,
            port,
            certificate: None,
            target_group: Some(tg.into()),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn keeps_the_listener_on_the_desired_port() {
        let ls = vec![listener("a", 8080, "tg"), listener("b", 80, "tg")];
        let (keep, strays) = pick_listener(&ls, 80);
        assert_eq!(keep.map(|l| l.arn.as_str()), Some("b"));
        assert_eq!(strays.len(), 1);
        assert!(listener_in_sync(&ls[1], &wanted(80, "tg")));
        assert!(!listener_in_sync(&ls[1], &wanted(80, "other-tg")));
        let tcp = DesiredListener {
            kind: LoadBalancerKind::Network,
            ..wanted(80, "tg")
        };
        assert!(!listener_in_sync(&ls[1], &tcp), "an HTTP listener is not an NLB's");
    }

    #[test]
    fn port_change_modifies_the_existing_listener() {
        let ls = vec![listener("a", 8080, "tg")];
        let (keep, strays) = pick_listener(&ls, 80);
        assert_eq!(keep.map(|l| l.arn.as_str()), Some("a"));
        assert!(strays.is_empty());
        assert!(!listener_in_sync(&ls[0], &wanted(80, "tg")));
    }
}
