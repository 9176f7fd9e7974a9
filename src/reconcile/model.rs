//! The stack's vocabulary: its parts (behind changes, conditions and metrics), and
//! references to objects that may not exist yet, resolved as their IDs become known.

use std::collections::BTreeMap;
use std::fmt;

use crate::aws::iam::RoleKind;
use crate::aws::security_group::GroupRole;

/// One kind of AWS object of a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Part {
    SecurityGroup,
    IamRole,
    EcsCluster,
    TaskDefinition,
    EcsService,
    TargetGroup,
    LoadBalancer,
    Listener,
    /// A load-balancer group member's rule on the group's listener.
    ListenerRule,
    VpcLink,
    RestApi,
    ApiResource,
    ApiMethod,
    ApiIntegration,
    ApiDeployment,
    ApiStage,
    HttpApi,
    ApiRoute,
    DomainName,
    ApiMapping,
    DnsRecord,
    LogGroup,
    Authorizer,
    UsagePlan,
    ApiKey,
    WebAcl,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::SecurityGroup => "SecurityGroup",
            Part::IamRole => "IamRole",
            Part::EcsCluster => "EcsCluster",
            Part::TaskDefinition => "TaskDefinition",
            Part::EcsService => "EcsService",
            Part::TargetGroup => "TargetGroup",
            Part::LoadBalancer => "LoadBalancer",
            Part::Listener => "Listener",
            Part::ListenerRule => "ListenerRule",
            Part::VpcLink => "VpcLink",
            Part::RestApi => "RestApi",
            Part::ApiResource => "ApiResource",
            Part::ApiMethod => "ApiMethod",
            Part::ApiIntegration => "ApiIntegration",
            Part::ApiDeployment => "ApiDeployment",
            Part::ApiStage => "ApiStage",
            Part::HttpApi => "HttpApi",
            Part::ApiRoute => "ApiRoute",
            Part::DomainName => "DomainName",
            Part::ApiMapping => "ApiMapping",
            Part::DnsRecord => "DnsRecord",
            Part::LogGroup => "LogGroup",
            Part::Authorizer => "Authorizer",
            Part::UsagePlan => "UsagePlan",
            Part::ApiKey => "ApiKey",
            Part::WebAcl => "WebAcl",
        }
    }

    /// The condition that reports this part's readiness.
    pub fn condition(self) -> Condition {
        match self {
            Part::SecurityGroup => Condition::SecurityGroups,
            Part::IamRole => Condition::Roles,
            Part::EcsCluster => Condition::Cluster,
            Part::TaskDefinition | Part::EcsService | Part::LogGroup => Condition::Service,
            Part::TargetGroup | Part::LoadBalancer | Part::Listener | Part::ListenerRule => Condition::LoadBalancer,
            Part::VpcLink => Condition::VpcLink,
            Part::RestApi
            | Part::ApiResource
            | Part::ApiMethod
            | Part::ApiIntegration
            | Part::ApiDeployment
            | Part::ApiStage
            | Part::HttpApi
            | Part::ApiRoute
            | Part::DomainName
            | Part::ApiMapping
            | Part::DnsRecord
            | Part::Authorizer
            | Part::UsagePlan
            | Part::ApiKey
            | Part::WebAcl => Condition::Api,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `<Part>Ready` conditions, one per group of parts, in the order a stack is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    SecurityGroups,
    Roles,
    Cluster,
    LoadBalancer,
    VpcLink,
    Service,
    Api,
}

impl Condition {
    pub const ALL: [Condition; 7] = [
        Condition::SecurityGroups,
        Condition::Roles,
        Condition::Cluster,
        Condition::LoadBalancer,
        Condition::VpcLink,
        Condition::Service,
        Condition::Api,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Condition::SecurityGroups => "SecurityGroupsReady",
            Condition::Roles => "RolesReady",
            Condition::Cluster => "ClusterReady",
            Condition::LoadBalancer => "LoadBalancerReady",
            Condition::VpcLink => "VpcLinkReady",
            Condition::Service => "ServiceReady",
            Condition::Api => "ApiReady",
        }
    }

    pub fn named(name: &str) -> Option<Condition> {
        Condition::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ID (or ARN, or DNS name) of one object of the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    Group(GroupRole),
    Role(RoleKind),
    Cluster,
    TargetGroup,
    LoadBalancer,
    LoadBalancerDns,
    Listener,
    /// A load-balancer group member's rule, and its priority.
    ListenerRule,
    ListenerRulePriority,
    VpcLink,
    TaskDefinition,
    Service,
    RestApi,
    RootResource,
    ProxyResource,
    /// The REST API resource of `queue_route::resource_paths(routes)[i]`.
    RouteResource(u8),
    Deployment,
    HttpApi,
    HttpIntegration,
    /// The HTTP API integration of the `i`th queue route.
    QueueIntegration(u8),
    DomainTarget,
    DomainZone,
    /// The NLB in front of the ALB (VPC Link V1 to an ALB), and its parts.
    FrontTargetGroup,
    FrontLoadBalancer,
    FrontLoadBalancerDns,
    FrontListener,
    /// The API's authorizer (REST or HTTP).
    Authorizer,
    /// The usage plan of the API keys.
    UsagePlan,
    /// The `i`th API key of `api.usagePlan.apiKeys` (sorted by name).
    ApiKey(u8),
}

/// Which load balancer of the stack: the one whose targets are the tasks, or the NLB
/// a VPC Link V1 needs in front of an ALB (its one target is that ALB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Back,
    Front,
}

impl Tier {
    pub fn target_group(self) -> Slot {
        match self {
            Tier::Back => Slot::TargetGroup,
            Tier::Front => Slot::FrontTargetGroup,
        }
    }

    pub fn load_balancer(self) -> Slot {
        match self {
            Tier::Back => Slot::LoadBalancer,
            Tier::Front => Slot::FrontLoadBalancer,
        }
    }

    pub fn dns(self) -> Slot {
        match self {
            Tier::Back => Slot::LoadBalancerDns,
            Tier::Front => Slot::FrontLoadBalancerDns,
        }
    }

    pub fn listener(self) -> Slot {
        match self {
            Tier::Back => Slot::Listener,
            Tier::Front => Slot::FrontListener,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Group(role) => write!(f, "{role} security group id"),
            Slot::Role(RoleKind::Execution) => f.write_str("execution role ARN"),
            Slot::Role(RoleKind::Task) => f.write_str("task role ARN"),
            Slot::Role(RoleKind::ApiGateway) => f.write_str("API Gateway role ARN"),
            Slot::Cluster => f.write_str("cluster ARN"),
            Slot::TargetGroup => f.write_str("target group ARN"),
            Slot::LoadBalancer => f.write_str("ALB ARN"),
            Slot::LoadBalancerDns => f.write_str("ALB DNS name"),
            Slot::Listener => f.write_str("listener ARN"),
            Slot::ListenerRule => f.write_str("listener rule ARN"),
            Slot::ListenerRulePriority => f.write_str("listener rule priority"),
            Slot::VpcLink => f.write_str("VPC link id"),
            Slot::TaskDefinition => f.write_str("task definition revision"),
            Slot::Service => f.write_str("service ARN"),
            Slot::RestApi => f.write_str("REST API id"),
            Slot::RootResource => f.write_str("root resource id"),
            Slot::ProxyResource => f.write_str("proxy resource id"),
            Slot::RouteResource(i) => write!(f, "route resource {i} id"),
            Slot::Deployment => f.write_str("deployment id"),
            Slot::HttpApi => f.write_str("HTTP API id"),
            Slot::HttpIntegration => f.write_str("integration id"),
            Slot::QueueIntegration(i) => write!(f, "queue route {i} integration id"),
            Slot::DomainTarget => f.write_str("domain's regional name"),
            Slot::DomainZone => f.write_str("domain's hosted zone"),
            Slot::FrontTargetGroup => f.write_str("front NLB's target group ARN"),
            Slot::FrontLoadBalancer => f.write_str("front NLB ARN"),
            Slot::FrontLoadBalancerDns => f.write_str("front NLB DNS name"),
            Slot::FrontListener => f.write_str("front NLB's listener ARN"),
            Slot::Authorizer => f.write_str("authorizer id"),
            Slot::UsagePlan => f.write_str("usage plan id"),
            Slot::ApiKey(i) => write!(f, "API key {i} id"),
        }
    }
}

/// A reference from one desired object to another: an ID given in the spec, or the
/// ID of a stack object, known once it is observed or created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Id {
    Given(String),
    Of(Slot),
}

/// The IDs known so far: from what was observed, then from what the executor creates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs(BTreeMap<Slot, String>);

impl Refs {
    pub fn get(&self, id: &Id) -> Option<String> {
        match id {
            Id::Given(value) => Some(value.clone()),
            Id::Of(slot) => self.0.get(slot).cloned(),
        }
    }

    pub fn slot(&self, slot: Slot) -> Option<&str> {
        self.0.get(&slot).map(String::as_str)
    }

    pub fn set(&mut self, slot: Slot, value: impl Into<String>) {
        self.0.insert(slot, value.into());
    }

    /// Learns `value` for `slot` unless already known.
    pub fn learn(&mut self, slot: Slot, value: Option<&str>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            self.0.entry(slot).or_insert_with(|| value.to_owned());
        }
    }

    /// Learns every ID of `other` not already known.
    pub fn learn_all(&mut self, other: Refs) {
        for (slot, value) in other.0 {
            self.0.entry(slot).or_insert(value);
        }
    }

    /// `id` for messages: the ID itself, or what it will be once made.
    pub fn show(&self, id: &Id) -> String {
        match (self.get(id), id) {
            (Some(value), _) => value,
            (None, Id::Of(slot)) => format!("<{slot} after apply>"),
            (None, Id::Given(value)) => value.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_reports_through_a_condition_and_conditions_round_trip() {
        for condition in Condition::ALL {
            assert_eq!(Condition::named(condition.as_str()), Some(condition));
        }
        assert_eq!(Part::ApiStage.condition(), Condition::Api);
        assert_eq!(
            serde_json::to_string(&Part::VpcLink).expect("json"),
            format!("\"{}\"", Part::VpcLink.as_str())
        );
    }

    #[test]
    fn references_resolve_once_known() {
        let mut refs = Refs::default();
        let link = Id::Of(Slot::VpcLink);
        assert_eq!(refs.get(&link), None);
        assert_eq!(refs.show(&link), "<VPC link id after apply>");
        refs.learn(Slot::VpcLink, Some("vl-1"));
        refs.learn(Slot::VpcLink, Some("vl-2"));
        assert_eq!(refs.get(&link).as_deref(), Some("vl-1"), "the first word stands");
        assert_eq!(refs.get(&Id::Given("x".into())).as_deref(), Some("x"));
    }
}
