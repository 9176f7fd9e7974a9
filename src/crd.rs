//! The `PrivateApi` custom resource: one object for a whole private API on AWS.
//!
//! The schema refuses what it can at `kubectl apply` time (enums, bounds, Fargate
//! sizes, immutable fields, CEL rules); the CLI evaluates the very same schema and
//! rules ([`crate::schema`]), and [`PrivateApiSpec::beyond_schema`] adds the little
//! no schema can say.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const FINALIZER: &str = "privateapi.io/cleanup";

const FARGATE_RULE: &str = "self.cpu == 256 ? self.memory in [512, 1024, 2048] \
: self.cpu == 512 ? (self.memory >= 1024 && self.memory <= 4096 && self.memory % 1024 == 0) \
: self.cpu == 1024 ? (self.memory >= 2048 && self.memory <= 8192 && self.memory % 1024 == 0) \
: self.cpu == 2048 ? (self.memory >= 4096 && self.memory <= 16384 && self.memory % 1024 == 0) \
: self.cpu == 4096 ? (self.memory >= 8192 && self.memory <= 30720 && self.memory % 1024 == 0) \
: self.cpu == 8192 ? (self.memory >= 16384 && self.memory <= 61440 && self.memory % 4096 == 0) \
: (self.memory >= 32768 && self.memory <= 122880 && self.memory % 8192 == 0)";

/// A load-balancer group's members reach its ALB through shared V2 links (whose
/// security groups its own admits).
const LB_GROUP_RULE: &str = "!has(self.loadBalancer) || !has(self.loadBalancer.group) || !has(self.vpcLink) \
|| ((!has(self.vpcLink.version) || self.vpcLink.version == 'V2') && !has(self.vpcLink.existingId) \
&& (!has(self.vpcLink.shared) || self.vpcLink.shared))";

const ARCHITECTURE_RULE: &str = "!has(self.api) || !has(self.api.type) || self.api.type != 'HTTP' \
|| !has(self.vpcLink) || !has(self.vpcLink.version) || self.vpcLink.version != 'V1'";

const ARCHITECTURE_MESSAGE: &str = "an HTTP API reaches its load balancer through a VPC Link V2 only: \
set vpcLink.version V2 (the default) or api.type REST";

/// The NLB in front of an ALB forwards to the ALB's listener port, a target group
/// setting AWS does not let change.
const FRONT_PORT_RULE: &str = "!has(oldSelf.vpcLink) || !has(oldSelf.vpcLink.version) || oldSelf.vpcLink.version != 'V1' \
|| (has(oldSelf.loadBalancer) && has(oldSelf.loadBalancer.type) && oldSelf.loadBalancer.type == 'network') \
|| (has(self.loadBalancer) && has(self.loadBalancer.listenerPort) ? self.loadBalancer.listenerPort : 80) \
== (has(oldSelf.loadBalancer) && has(oldSelf.loadBalancer.listenerPort) ? oldSelf.loadBalancer.listenerPort : 80)";

const FRONT_PORT_MESSAGE: &str = "loadBalancer.listenerPort is immutable behind a VPC Link V1: the NLB in front of the \
ALB forwards to that port through a target group whose port AWS does not let change";

/// Which API type each authorization type needs (the `api.type` default is REST).
const AUTH_COGNITO_RULE: &str = "!has(self.api) || !has(self.api.authorization) || self.api.authorization.type != 'COGNITO' \
|| !has(self.api.type) || self.api.type == 'REST'";
const AUTH_JWT_RULE: &str = "!has(self.api) || !has(self.api.authorization) || self.api.authorization.type != 'JWT' \
|| (has(self.api.type) && self.api.type == 'HTTP')";

const PRIVATE_ENDPOINTS_RULE: &str = "!has(self.api) || ((has(self.api.endpointType) && self.api.endpointType == 'PRIVATE') \
== (has(self.api.vpcEndpointIds) && size(self.api.vpcEndpointIds) > 0))";

const FARGATE_MESSAGE: &str = "memory (MiB) is not a Fargate size for this cpu: cpu 256 → 512, 1024 or 2048; \
cpu 512 → 1024-4096; cpu 1024 → 2048-8192; cpu 2048 → 4096-16384; cpu 4096 → 8192-30720 \
(steps of 1024); cpu 8192 → 16384-61440 (steps of 4096); cpu 16384 → 32768-122880 (steps of 8192)";

/// AWS's rules for tags, the same in every service we tag: the CRD's CEL rules below,
/// [`tag_problems`] for the CLI. The character set is AWS's own pattern (CEL raw strings; RE2 knows \p{..}).
const TAG_KEY_LENGTH_RULE: &str = "self.all(k, size(k) >= 1 && size(k) <= 128)";
const TAG_PREFIX_RULE: &str = "self.all(k, !k.matches('^(?i)aws:'))";
const TAG_CHARACTERS_RULE: &str =
    r"self.all(k, k.matches(r'^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$') && self[k].matches(r'^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$'))";
const TAG_CHARACTERS_MESSAGE: &str =
    "tag keys and values may hold letters, numbers, spaces and _ . : / = + - @ (AWS's tag characters)";
/// User tags per object: with the operator's own (at most 5 on one object) within AWS's 50.
pub const MAX_USER_TAGS: usize = 40;

/// A private API: an API Gateway REST or HTTP API → a VPC link → an internal load
/// balancer → ECS Fargate.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "privateapi.io",
    version = "v1alpha1",
    kind = "PrivateApi",
    plural = "privateapis",
    shortname = "papi",
    category = "aws",
    namespaced,
    doc = "A private API on AWS from one object: an API Gateway REST or HTTP API, a VPC link, an internal load balancer and an ECS Fargate service, kept as the spec says and deleted in order.",
    status = "PrivateApiStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoint"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": ARCHITECTURE_RULE, "message": ARCHITECTURE_MESSAGE},
    {"rule": FRONT_PORT_RULE, "message": FRONT_PORT_MESSAGE},
    {"rule": "!has(self.vpcLink) || !has(self.vpcLink.version) || self.vpcLink.version != 'V1' || !has(self.vpcLink.existingId)", "message": "vpcLink.existingId names a VPC Link V2; a V1 link serves exactly one NLB, the one the operator makes"},
    {"rule": LB_GROUP_RULE, "message": "loadBalancer.group needs a shared VPC link V2 (the group's ALB admits the shared links' security groups): not vpcLink.version V1, vpcLink.existingId or vpcLink.shared false"},
    {"rule": "!has(self.api) || !has(self.api.type) || self.api.type != 'HTTP' || !has(self.api.endpointType) || self.api.endpointType == 'REGIONAL'", "message": "HTTP APIs are REGIONAL only: endpointType EDGE needs api.type REST"},
    {"rule": AUTH_COGNITO_RULE, "message": "api.authorization.type COGNITO needs api.type REST (an HTTP API takes Cognito's tokens with type JWT, issuer https://cognito-idp.REGION.amazonaws.com/POOL_ID)"},
    {"rule": AUTH_JWT_RULE, "message": "api.authorization.type JWT needs api.type HTTP (a REST API takes Cognito's tokens with type COGNITO, other issuers' with LAMBDA)"},
    {"rule": PRIVATE_ENDPOINTS_RULE, "message": "api.endpointType PRIVATE needs api.vpcEndpointIds (the execute-api VPC endpoints it is reachable through), and vpcEndpointIds needs endpointType PRIVATE"},
    {"rule": "!has(self.api) || !has(self.api.resourcePolicy) || !has(self.api.type) || self.api.type == 'REST'", "message": "api.resourcePolicy needs api.type REST (HTTP APIs have no resource policies)"},
    {"rule": "!has(self.api) || !has(self.api.endpointType) || self.api.endpointType != 'PRIVATE' || !has(self.api.domain)", "message": "api.domain is a public custom domain: a PRIVATE API cannot have one here"},
    {"rule": "!has(self.api) || !has(self.api.usagePlan) || !has(self.api.type) || self.api.type == 'REST'", "message": "api.usagePlan (API keys) needs api.type REST (HTTP APIs have no API keys or usage plans)"},
    {"rule": "!has(self.api) || !has(self.api.webAclArn) || !has(self.api.type) || self.api.type == 'REST'", "message": "api.webAclArn needs api.type REST (AWS WAF protects REST API stages, not HTTP APIs)"}
]))]
pub struct PrivateApiSpec {
    /// AWS region. Defaults to the operator's configured region. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "region is immutable"}]))]
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d$"))]
    pub region: Option<String>,
    /// Where the stack runs: the VPC and its private subnets.
    pub network: NetworkSpec,
    /// The ECS Fargate service behind the API.
    pub service: ServiceSpec,
    /// The internal load balancer in front of the service.
    #[serde(default)]
    pub load_balancer: LoadBalancerSpec,
    /// The API Gateway VPC link that reaches the load balancer.
    #[serde(default)]
    pub vpc_link: VpcLinkSpec,
    /// The API Gateway API and the stage it is deployed to.
    #[serde(default)]
    pub api: ApiSpec,
    /// What happens in AWS when the resource is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Tags added to every AWS object (the operator's own `privateapi.io/*` tags win):
    /// keys of 1-128 and values of up to 256 of AWS's tag characters, no `aws:` prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = MAX_USER_TAGS, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": TAG_KEY_LENGTH_RULE, "message": "tag keys are 1 to 128 characters (AWS's limit)"},
        {"rule": TAG_PREFIX_RULE, "message": "tag keys must not start with aws: in any case (AWS reserves it)"},
        {"rule": TAG_CHARACTERS_RULE, "message": TAG_CHARACTERS_MESSAGE}
    ]))]
    pub tags: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.subnetIds) != has(self.subnetSelector)", "message": "set exactly one of subnetIds or subnetSelector"}
]))]
pub struct NetworkSpec {
    /// The VPC of the private subnets. Immutable.
    #[schemars(regex(pattern = r"^vpc-[0-9a-f]+$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "vpcId is immutable"}]))]
    pub vpc_id: String,
    /// Private subnets (at least two, in different availability zones) for the ALB,
    /// the VPC link and the tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "pattern": "^subnet-[0-9a-f]+$"}))]
    pub subnet_ids: Option<Vec<String>>,
    /// Select the subnets of the VPC by tags instead (tag key → value; all must match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub subnet_selector: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": FARGATE_RULE, "message": FARGATE_MESSAGE}]))]
pub struct ServiceSpec {
    /// Container image, e.g. `nginx:1.27` or an ECR URI.
    #[schemars(length(min = 1, max = 1024))]
    pub image: String,
    /// The port the container listens on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Fargate vCPU units.
    #[serde(default = "default_cpu")]
    #[schemars(extend("enum" = [256, 512, 1024, 2048, 4096, 8192, 16384]))]
    pub cpu: i32,
    /// Memory in MiB; must be a Fargate size for `cpu`.
    #[serde(default = "default_memory")]
    #[schemars(range(min = 512, max = 122880))]
    pub memory: i32,
    /// How many tasks to run.
    #[serde(default = "default_desired_count")]
    #[schemars(range(min = 0, max = 1000))]
    pub desired_count: i32,
    /// Environment variables of the container (plain values: no secrets here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"], "maxItems" = 100))]
    pub env: Vec<EnvVar>,
    /// Overrides the image's command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// How the load balancer checks each task's health.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Seconds ECS ignores failing health checks after a task starts.
    #[serde(default = "default_grace")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub health_check_grace_period_seconds: i32,
    /// Run in an existing ECS cluster instead of one the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,
    /// Use this task execution role instead of one the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"))]
    pub execution_role_arn: Option<String>,
    /// Use this task role instead of one the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"))]
    pub task_role_arn: Option<String>,
    /// Secrets of the container, read by ECS when a task starts, from SSM Parameter
    /// Store or Secrets Manager. Only their ARNs pass through the operator; the
    /// execution role it makes may read exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"], "maxItems" = 100))]
    pub secrets: Vec<SecretVar>,
    /// The customer managed KMS key the secrets are encrypted with: the execution role
    /// the operator makes may decrypt with it (not needed for AWS managed keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"))]
    pub secrets_kms_key_arn: Option<String>,
    /// The tasks' CloudWatch Logs group (`/ecs/privateapi/NAMESPACE/NAME`).
    #[serde(default)]
    pub logs: LogsSpec,
}

/// The tasks' log group: made by the operator with this retention, deleted with the
/// stack unless `deletionPolicy: Retain`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsSpec {
    /// Days CloudWatch Logs keeps the events: one of 1, 3, 5, 7, 14, 30, 60, 90, 120,
    /// 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653.
    #[serde(default = "default_retention_days")]
    #[schemars(extend("enum" = crate::aws::log_group::RETENTION_DAYS))]
    pub retention_days: i32,
    /// `Retain` keeps the group (and its events) when the stack is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

impl Default for LogsSpec {
    fn default() -> Self {
        LogsSpec {
            retention_days: default_retention_days(),
            deletion_policy: DeletionPolicy::Delete,
        }
    }
}

fn default_retention_days() -> i32 {
    30
}

/// SSM Parameter Store or Secrets Manager ARNs (Secrets Manager's may end in
/// `:json-key:version-stage:version-id`).
pub const SECRET_ARN_PATTERN: &str = r"^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+|secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@\-]+(:[^:]*:[^:]*:[^:]*)?)$";

/// One secret of the container: an environment variable whose value ECS reads.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretVar {
    /// The variable's name.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: String,
    /// The ARN of an SSM parameter or a Secrets Manager secret.
    #[schemars(regex(pattern = SECRET_ARN_PATTERN))]
    pub value_from: String,
}

/// One environment variable of the container.
#[derive(Deserialize, Serialize, Clone, PartialEq, Eq, JsonSchema)]
pub struct EnvVar {
    /// The variable's name.
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// The value stays out of `{:?}`: a spec or task definition printed for debugging
/// must not put it in a log.
impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// An existing ECS cluster, by name.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ClusterRef {
    /// The cluster's name; it must be ACTIVE. The operator never changes or deletes it.
    /// ECS's characters: letters, digits, hyphens and underscores.
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub name: String,
}

/// The ALB target group's health check of each task.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.timeoutSeconds < self.intervalSeconds", "message": "timeoutSeconds must be less than intervalSeconds"}
]))]
pub struct HealthCheck {
    /// The HTTP path requested.
    #[serde(default = "default_health_path")]
    #[schemars(regex(pattern = r"^/.*$"), length(max = 1024))]
    pub path: String,
    /// HTTP codes that mean healthy, e.g. `200` or `200-399`.
    #[serde(default = "default_matcher")]
    #[schemars(regex(pattern = r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$"))]
    pub matcher: String,
    /// Seconds between checks.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 5, max = 300))]
    pub interval_seconds: i32,
    /// Seconds without an answer that fail a check; less than `intervalSeconds`.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 2, max = 120))]
    pub timeout_seconds: i32,
    /// Checks in a row that make an unhealthy task healthy.
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 2, max = 10))]
    pub healthy_threshold: i32,
    /// Checks in a row that make a healthy task unhealthy.
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 2, max = 10))]
    pub unhealthy_threshold: i32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: default_health_path(),
            matcher: default_matcher(),
            interval_seconds: default_interval(),
            timeout_seconds: default_timeout(),
            healthy_threshold: default_threshold(),
            unhealthy_threshold: default_threshold(),
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.certificateArn) || !has(self.type) || self.type == 'application'", "message": "certificateArn makes an HTTPS listener, which only an ALB (type application) offers here"},
    {"rule": "!has(self.group) || !has(self.type) || self.type == 'application'", "message": "loadBalancer.group shares an ALB: it needs loadBalancer.type application"},
    {"rule": "has(self.group) == has(oldSelf.group)", "message": "loadBalancer.group is immutable: create a new PrivateApi to join or leave a group"}
]))]
pub struct LoadBalancerSpec {
    /// `application` (an ALB: HTTP listener, HTTP health checks) or `network` (an NLB:
    /// TCP listener, TCP health checks, the tasks as direct targets). With a VPC Link
    /// V1 and `application`, an NLB forwards to the ALB. Immutable.
    #[serde(default, rename = "type")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "loadBalancer.type is immutable: create a new PrivateApi for another load balancer type"}]))]
    pub kind: LoadBalancerKind,
    /// An ACM certificate (in the stack's region) for an HTTPS listener: API Gateway
    /// then reaches the ALB over TLS, at a name the certificate covers. ALBs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"))]
    pub certificate_arn: Option<String>,
    /// The listener port (inside the VPC only: the load balancer is internal).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub listener_port: i32,
    /// A load-balancer group: every PrivateApi of the same group name (in any
    /// namespace) and VPC shares one internal ALB and its listener, each with a
    /// listener rule of its own (the README's "Load-balancer groups"). Members must
    /// agree on listenerPort and certificateArn. Needs a shared VPC link (V2).
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "loadBalancer.group is immutable: create a new PrivateApi to join or leave a group"}]))]
    pub group: Option<String>,
}

impl Default for LoadBalancerSpec {
    fn default() -> Self {
        LoadBalancerSpec {
            kind: LoadBalancerKind::default(),
            certificate_arn: None,
            listener_port: default_port(),
            group: None,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum LoadBalancerKind {
    /// An internal Application Load Balancer.
    #[default]
    #[serde(rename = "application")]
    Application,
    /// An internal Network Load Balancer.
    #[serde(rename = "network")]
    Network,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VpcLinkVersion {
    /// An apigatewayv2 VPC link into the subnets: serves REST and HTTP APIs, reaches
    /// ALBs and NLBs.
    #[default]
    V2,
    /// An apigateway VPC link bound to one NLB (in front of the ALB, with
    /// `loadBalancer.type: application`): REST APIs only.
    V1,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VpcLinkSpec {
    /// `V2` (default) or `V1` (REST APIs only; the link targets an NLB the operator
    /// makes: the load balancer itself with `loadBalancer.type: network`, else an NLB
    /// in front of the ALB). Immutable.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "vpcLink.version is immutable: create a new PrivateApi for another link version"}]))]
    pub version: VpcLinkVersion,
    /// Use an existing VPC Link V2 (apigatewayv2) instead of creating one. It must
    /// reach the ALB's subnets; the operator never modifies or deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]+$"))]
    pub existing_id: Option<String>,
    /// `true` (default): a V2 link made by the operator is shared with every other
    /// PrivateApi in the same VPC and subnets (AWS allows 10 VPC links V2 per account
    /// and region); `false`: this resource gets a link of its own. Ignored with
    /// `existingId` or `version: V1`.
    #[serde(default = "shared_by_default", skip_serializing_if = "is_shared_default")]
    pub shared: bool,
}

fn shared_by_default() -> bool {
    true
}

fn is_shared_default(shared: &bool) -> bool {
    *shared
}

impl Default for VpcLinkSpec {
    fn default() -> Self {
        VpcLinkSpec {
            version: VpcLinkVersion::default(),
            existing_id: None,
            shared: true,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(oldSelf.domain) || !has(oldSelf.domain.hostedZoneId) || (has(self.domain) && has(self.domain.hostedZoneId) && self.domain.hostedZoneId == oldSelf.domain.hostedZoneId)", "message": "api.domain.hostedZoneId cannot be changed or removed once set (the operator must know the zone to remove its records): delete the PrivateApi to move the domain"}
]))]
pub struct ApiSpec {
    /// `REST` (API Gateway REST API, deployed to `stageName`) or `HTTP` (an HTTP API,
    /// served by its auto-deployed `$default` stage). Immutable.
    #[serde(default, rename = "type")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "api.type is immutable: a REST and an HTTP API are different AWS objects with different endpoints"}]))]
    pub api_type: ApiType,
    /// The stage a REST API is deployed to; part of the invoke URL. HTTP APIs serve
    /// at their `$default` stage.
    #[serde(default = "default_stage")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_]{1,128}$"))]
    pub stage_name: String,
    /// Immutable: changing it would mean a new REST API (and a new endpoint).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "endpointType is immutable (a new endpoint would mean a new REST API)"}]))]
    pub endpoint_type: EndpointType,
    /// Description shown in the API Gateway console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
    /// Stage-wide throttling of every method. Omitted: the stage's throttling is
    /// left as it is (the account defaults for a new stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// A custom domain name for the API (REGIONAL, with an ACM certificate). DNS is
    /// yours to point at `status.resources.domainTarget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSpec>,
    /// Routes besides the service proxy, each integrated directly with an AWS service
    /// (today: SQS SendMessage). The service keeps every other path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["method", "path"], "maxItems" = 20))]
    pub routes: Vec<RouteSpec>,
    /// Who may call the API: every method (REST) or route (HTTP), the service proxy's
    /// and the queue routes' alike. Default `{type: NONE}`: anyone who can reach the
    /// endpoint (a namespace policy may forbid it).
    #[serde(default)]
    pub authorization: AuthorizationSpec,
    /// `endpointType: PRIVATE` (and only then): the interface VPC endpoints
    /// (`com.amazonaws.REGION.execute-api`) the API is reachable through. The operator
    /// associates them with the API and writes a resource policy that allows only them
    /// (AWS deploys no private API without a policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 30))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "pattern": "^vpce-[0-9a-f]{8,17}$"}))]
    pub vpc_endpoint_ids: Vec<String>,
    /// REST APIs: a resource policy the operator writes on the API, allowing requests
    /// only from these source addresses and VPC endpoints. Omitted: none (a PRIVATE
    /// API still gets one allowing its `vpcEndpointIds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<ResourcePolicySpec>,
    /// REST APIs: API keys and the usage plan that meters them. Set: every method
    /// requires a key (the `x-api-key` header); AWS generates each key's value (read it
    /// with `aws apigateway get-api-key --api-key ID --include-value`, the ID from
    /// `status.resources.apiKeyIds`). Omitted: no keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_plan: Option<UsagePlanSpec>,
    /// REST APIs: an AWS WAF (wafv2) web ACL of scope REGIONAL, in the API's region,
    /// associated with the stage. Omitted: none (one the operator associated is
    /// removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^arn:aws[a-z-]*:wafv2:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]{1,128}/[a-f0-9-]{36}$"
    ))]
    pub web_acl_arn: Option<String>,
}

/// API keys and the usage plan that throttles and meters them (REST APIs).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlanSpec {
    /// Each key's steady rate and burst. Omitted: the stage's throttling only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// How many requests each key may make per period. Omitted: no quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSpec>,
    /// The keys, one per caller; a key removed here is deleted in AWS.
    #[schemars(length(min = 1, max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub api_keys: Vec<ApiKeySpec>,
}

/// A usage plan's quota per key.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.offset) || (self.period == 'DAY' && self.offset == 0) || (self.period == 'WEEK' && self.offset <= 6) || (self.period == 'MONTH' && self.offset <= 27)", "message": "api.usagePlan.quota.offset is 0 for DAY, 0-6 for WEEK, 0-27 for MONTH (AWS's ranges)"}
]))]
pub struct QuotaSpec {
    /// Requests per period.
    #[schemars(range(min = 1))]
    pub limit: i32,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: QuotaPeriod,
    /// Days into the period the quota starts counting (AWS's `offset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub offset: Option<i32>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum QuotaPeriod {
    #[serde(rename = "DAY")]
    Day,
    #[serde(rename = "WEEK")]
    Week,
    #[serde(rename = "MONTH")]
    Month,
}

impl QuotaPeriod {
    pub fn as_aws(&self) -> &'static str {
        match self {
            QuotaPeriod::Day => "DAY",
            QuotaPeriod::Week => "WEEK",
            QuotaPeriod::Month => "MONTH",
        }
    }
}

/// One API key. Its value is AWS's to generate, never in the resource or its status.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySpec {
    /// The key's name: its AWS name is `papi-NAMESPACE-NAME-HASH-` followed by this.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
}

/// Who may reach a REST API, in its resource policy (`aws:SourceIp`, or
/// `aws:VpcSourceIp` for a PRIVATE API; `aws:SourceVpce`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "(has(self.sourceIps) && size(self.sourceIps) > 0) || (has(self.vpcEndpointIds) && size(self.vpcEndpointIds) > 0)", "message": "api.resourcePolicy needs sourceIps or vpcEndpointIds"}
]))]
pub struct ResourcePolicySpec {
    /// IPv4 or IPv6 CIDR blocks callers must come from (for a PRIVATE API: their
    /// addresses inside the VPC).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "pattern": CIDR_PATTERN}))]
    pub source_ips: Vec<String>,
    /// VPC endpoints callers must come through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 30))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "pattern": "^vpce-[0-9a-f]{8,17}$"}))]
    pub vpc_endpoint_ids: Vec<String>,
}

/// An IPv4 or IPv6 CIDR block.
pub const CIDR_PATTERN: &str = r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}/(3[0-2]|[12]?[0-9])|[0-9a-fA-F:]*:[0-9a-fA-F:.]*/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$";

/// How API Gateway authorizes each request before it reaches the service or a queue.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "(self.type == 'COGNITO') == has(self.cognito)", "message": "api.authorization.cognito is set exactly when type is COGNITO"},
    {"rule": "(self.type == 'JWT') == has(self.jwt)", "message": "api.authorization.jwt is set exactly when type is JWT"},
    {"rule": "(self.type == 'LAMBDA') == has(self.lambda)", "message": "api.authorization.lambda is set exactly when type is LAMBDA"}
]))]
pub struct AuthorizationSpec {
    /// `NONE` (no authorization), `IAM` (SigV4-signed requests, allowed by the
    /// caller's IAM policy), `COGNITO` (REST: a Cognito user pool's tokens), `JWT`
    /// (HTTP: any OpenID Connect issuer's tokens) or `LAMBDA` (a function of yours
    /// decides).
    #[serde(default, rename = "type")]
    pub kind: AuthorizationType,
    /// `type: COGNITO` (REST APIs only): the user pools whose ID or access tokens the
    /// `Authorization` header carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cognito: Option<CognitoAuthorization>,
    /// `type: JWT` (HTTP APIs only): the issuer and audiences of the JWT in the
    /// `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtAuthorization>,
    /// `type: LAMBDA`: the function API Gateway asks. API Gateway invokes it with a
    /// role the operator makes, allowed to invoke exactly this function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaAuthorization>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum AuthorizationType {
    /// Anyone who can reach the endpoint.
    #[default]
    #[serde(rename = "NONE")]
    None,
    /// AWS Signature Version 4: the caller's IAM identity needs execute-api:Invoke.
    #[serde(rename = "IAM")]
    Iam,
    /// A Cognito user pool authorizer (REST APIs).
    #[serde(rename = "COGNITO")]
    Cognito,
    /// A JWT authorizer (HTTP APIs).
    #[serde(rename = "JWT")]
    Jwt,
    /// A Lambda authorizer.
    #[serde(rename = "LAMBDA")]
    Lambda,
}

impl AuthorizationType {
    pub const ALL: [AuthorizationType; 5] = [
        AuthorizationType::None,
        AuthorizationType::Iam,
        AuthorizationType::Cognito,
        AuthorizationType::Jwt,
        AuthorizationType::Lambda,
    ];

    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationType::None => "NONE",
            AuthorizationType::Iam => "IAM",
            AuthorizationType::Cognito => "COGNITO",
            AuthorizationType::Jwt => "JWT",
            AuthorizationType::Lambda => "LAMBDA",
        }
    }
}

/// Cognito user pools (a COGNITO_USER_POOLS authorizer of the REST API).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CognitoAuthorization {
    /// User pool ARNs (`arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`).
    #[schemars(length(min = 1, max = 10))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "pattern": COGNITO_POOL_PATTERN}))]
    pub user_pool_arns: Vec<String>,
    /// OAuth scopes, one of which an access token must carry (each method's
    /// `authorizationScopes`). Omitted: an ID token is enough.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "minLength": 1, "maxLength": 256, "pattern": r"^[\x21\x23-\x5B\x5D-\x7E]+$"}))]
    pub scopes: Vec<String>,
}

pub const COGNITO_POOL_PATTERN: &str = r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+_[0-9a-zA-Z]+$";

/// A JWT authorizer of the HTTP API: tokens from `$request.header.Authorization`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthorization {
    /// The issuer's URL (the token's `iss`); API Gateway reads its OpenID Connect
    /// discovery document for the keys. For Cognito:
    /// `https://cognito-idp.REGION.amazonaws.com/POOL_ID`.
    #[schemars(length(max = 2048), regex(pattern = r"^https://[^\s]+$"))]
    pub issuer: String,
    /// Accepted audiences: a token's `aud` (or, for an access token, `client_id`)
    /// must be one of them.
    #[schemars(length(min = 1, max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "set", "items" = {"type": "string", "minLength": 1, "maxLength": 2048}))]
    pub audiences: Vec<String>,
}

/// A Lambda authorizer: REST APIs get a REQUEST authorizer, HTTP APIs a REQUEST
/// authorizer with payload format 2.0 and simple responses (`{"isAuthorized": true}`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaAuthorization {
    /// The function (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`, optionally with a
    /// version or alias), in the API's region.
    #[schemars(regex(pattern = LAMBDA_FUNCTION_PATTERN))]
    pub function_arn: String,
    /// The request header that carries the caller's credentials. A request without
    /// it is refused (401) before the function is asked.
    #[serde(default = "default_identity_header")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"))]
    pub identity_source: String,
    /// Seconds API Gateway caches the function's answer per identity (0: asks every
    /// time).
    #[serde(default = "default_authorizer_ttl")]
    #[schemars(range(min = 0, max = 3600))]
    pub result_ttl_seconds: i32,
}

pub const LAMBDA_FUNCTION_PATTERN: &str =
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$";

fn default_identity_header() -> String {
    "Authorization".into()
}

fn default_authorizer_ttl() -> i32 {
    300
}

/// One route integrated directly with an AWS service instead of the load balancer.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The HTTP method (`ANY` for all).
    pub method: RouteMethod,
    /// A fixed path below the root, e.g. `/orders` (no path parameters: `/` and
    /// `/{proxy+}` belong to the service proxy).
    #[schemars(length(min = 2, max = 512))]
    #[schemars(regex(pattern = r"^(/[A-Za-z0-9._~-]+)+$"))]
    pub path: String,
    /// Send the request body to an SQS queue.
    pub sqs: SqsTarget,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RouteMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Any,
}

impl RouteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Get => "GET",
            RouteMethod::Post => "POST",
            RouteMethod::Put => "PUT",
            RouteMethod::Patch => "PATCH",
            RouteMethod::Delete => "DELETE",
            RouteMethod::Any => "ANY",
        }
    }
}

/// The queue a route sends the request body to (SendMessage, one message per request).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqsTarget {
    /// A standard queue (FIFO queues need a message group per request, which these
    /// routes do not set).
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$"))]
    pub queue_arn: String,
    /// The role API Gateway sends with; omitted: one the operator makes, allowed only
    /// `sqs:SendMessage` to the route's queues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"))]
    pub role_arn: Option<String>,
}

/// A custom domain name: a REGIONAL API Gateway domain name serving the API's stage
/// at a base path.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "!has(self.hostedZoneId) || size(self.name) <= 241", "message": "with hostedZoneId, name may have at most 241 characters: the ownership record _privateapi.{name} must fit DNS's 253"}
]))]
pub struct DomainSpec {
    /// The host name, e.g. `api.example.com`.
    #[schemars(length(min = 1, max = 253))]
    #[schemars(regex(pattern = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"))]
    pub name: String,
    /// An ACM certificate in the API's region that covers `name`.
    #[schemars(regex(pattern = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$"))]
    pub certificate_arn: String,
    /// The path under the domain the API is served at; empty: the root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._~-]{0,255}$"))]
    pub base_path: String,
    /// A Route 53 hosted zone that holds `name`: the operator writes an alias record
    /// to the domain's regional name there (and a TXT record `_privateapi.{name}` that
    /// says it is this resource's). Omitted: DNS is yours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z0-9]{1,32}$"))]
    pub hosted_zone_id: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    /// Steady-state requests per second.
    #[schemars(range(min = 0.0, max = 100000.0))]
    pub rate_limit: f64,
    /// Largest burst of requests.
    #[schemars(range(min = 0, max = 100000))]
    pub burst_limit: i32,
}

impl Default for ApiSpec {
    fn default() -> Self {
        ApiSpec {
            api_type: ApiType::default(),
            stage_name: default_stage(),
            endpoint_type: EndpointType::default(),
            description: None,
            throttle: None,
            domain: None,
            routes: Vec::new(),
            authorization: AuthorizationSpec::default(),
            vpc_endpoint_ids: Vec::new(),
            resource_policy: None,
            usage_plan: None,
            web_acl_arn: None,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ApiType {
    /// API Gateway REST API (apigateway).
    #[default]
    #[serde(rename = "REST")]
    Rest,
    /// API Gateway HTTP API (apigatewayv2).
    #[serde(rename = "HTTP")]
    Http,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum EndpointType {
    #[default]
    #[serde(rename = "REGIONAL")]
    Regional,
    #[serde(rename = "EDGE")]
    Edge,
    /// Reachable only through the interface VPC endpoints (service `execute-api`)
    /// named in `api.vpcEndpointIds`; REST APIs only.
    #[serde(rename = "PRIVATE")]
    Private,
}

impl EndpointType {
    pub fn as_aws(&self) -> &'static str {
        match self {
            EndpointType::Regional => "REGIONAL",
            EndpointType::Edge => "EDGE",
            EndpointType::Private => "PRIVATE",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete every AWS object the operator created.
    #[default]
    Delete,
    /// Leave AWS untouched; only the Kubernetes object goes away.
    Retain,
}

fn default_port() -> i32 {
    80
}
fn default_cpu() -> i32 {
    256
}
fn default_memory() -> i32 {
    512
}
fn default_desired_count() -> i32 {
    1
}
fn default_grace() -> i32 {
    60
}
fn default_health_path() -> String {
    "/".into()
}
fn default_matcher() -> String {
    "200-399".into()
}
fn default_interval() -> i32 {
    30
}
fn default_timeout() -> i32 {
    5
}
fn default_threshold() -> i32 {
    3
}
fn default_stage() -> String {
    "prod".into()
}

/// What the operator observed and did, for humans and for GitOps health checks.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateApiStatus {
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The invoke URL: `https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}`
    /// (REST) or `https://{httpApiId}.execute-api.{region}.amazonaws.com/` (HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The API at its custom domain: `https://{api.domain.name}/{basePath}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_endpoint: Option<String>,
    /// kstatus conditions: Ready, Reconciling, Stalled, and one per part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// IDs and ARNs of the AWS objects behind the resource.
    #[serde(default)]
    pub resources: ResourceIds,
    /// The ECS service's tasks: running and wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceCounts>,
}

/// IDs and ARNs of every AWS object behind the resource.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIds {
    /// The REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_api_id: Option<String>,
    /// The HTTP API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_api_id: Option<String>,
    /// The host name the integrations use with an HTTPS listener (one the listener's
    /// certificate covers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_host: Option<String>,
    /// Where DNS must point the custom domain: its regional API Gateway domain name
    /// (a CNAME, or an alias record with `domainHostedZoneId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_target: Option<String>,
    /// The hosted zone of `domainTarget`, for a Route 53 alias record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_hosted_zone_id: Option<String>,
    /// The deployment the stage serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The VPC link the integrations go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_link_id: Option<String>,
    /// The internal ALB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_arn: Option<String>,
    /// The ALB's DNS name (the integrations' host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_dns: Option<String>,
    /// The ALB's listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_arn: Option<String>,
    /// In a load-balancer group: this resource's rule on the group's listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_rule_arn: Option<String>,
    /// In a load-balancer group: the priority of this resource's rule (kept for the
    /// rule's life).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_rule_priority: Option<i32>,
    /// The target group the tasks register in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    /// The NLB in front of the ALB (VPC Link V1 with an ALB): the link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_load_balancer_arn: Option<String>,
    /// The front NLB's DNS name (the integrations' host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_load_balancer_dns: Option<String>,
    /// The front NLB's target group, whose one target is the ALB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_target_group_arn: Option<String>,
    /// The ECS cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// The ECS service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_arn: Option<String>,
    /// The task definition revision the service runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The tasks' execution role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    /// The tasks' role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    /// The role API Gateway sends to the queue routes' queues with, when the operator
    /// made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway_role_arn: Option<String>,
    /// The API's authorizer (`api.authorization` COGNITO, JWT or LAMBDA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<String>,
    /// The usage plan of the API keys (`api.usagePlan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_plan_id: Option<String>,
    /// The API keys' IDs by name (never their values: `aws apigateway get-api-key
    /// --api-key ID --include-value` shows one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub api_key_ids: BTreeMap<String, String>,
    /// The AWS WAF web ACL associated with the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_acl_arn: Option<String>,
    /// The security groups, by role: `link`, `alb`, `tasks`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub security_group_ids: BTreeMap<String, String>,
    /// The subnets in use (resolved from the selector, if the spec has one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCounts {
    /// Tasks running.
    pub running_count: i32,
    /// Tasks wanted.
    pub desired_count: i32,
}

impl PrivateApiSpec {
    /// The CRD's schema and CEL rules ([`crate::schema`], read from the CRD itself),
    /// then what no schema can say ([`PrivateApiSpec::beyond_schema`]). Every problem
    /// found, each naming its field. The engine runs it on every pass (the controller's
    /// objects passed the API server; this is for specs from elsewhere).
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = crate::schema::spec_problems(self);
        problems.extend(self.beyond_schema());
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// What AWS would refuse that the CRD's schema does not express: the container
    /// image's reference (ECS's characters and 255-character limit, Docker's grammar)
    /// and a secret that is also a plain variable. Pure: no AWS call.
    pub fn beyond_schema(&self) -> Vec<String> {
        let svc = &self.service;
        let mut problems = Vec::new();
        if let Some(problem) = image_problem(&svc.image) {
            problems.push(format!("spec.service.image: {:?}: {problem}", svc.image));
        }
        for secret in &svc.secrets {
            if svc.env.iter().any(|e| e.name == secret.name) {
                problems.push(format!(
                    "spec.service.secrets: {} is also in env (ECS refuses a variable set twice)",
                    secret.name
                ));
            }
        }
        problems
    }
}

/// ECS's limit on `image` (before any `@digest`): 255 characters.
pub const MAX_IMAGE_NAME: usize = 255;

/// Why ECS (or the container runtime, when the task starts) would refuse this image
/// reference, if it would. ECS: up to 255 letters, digits, `-_:./#` before an
/// `@digest`, and the digest `sha256:` + 64 hex digits. The runtime: Docker's
/// reference grammar (lower-case path components, a tag of at most 128 characters).
pub fn image_problem(image: &str) -> Option<String> {
    use std::sync::OnceLock;
    // Docker's grammar (distribution/reference), RE2 syntax; ASCII only.
    static GRAMMAR: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if name.is_empty() {
        return Some("an image reference is needed".into());
    }
    let length = name.chars().count();
    if length > MAX_IMAGE_NAME {
        return Some(format!(
            "{length} characters before any @digest; ECS allows {MAX_IMAGE_NAME}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_:./#".contains(*c)))
    {
        return Some(format!(
            "{bad:?} is not allowed (ECS: letters, digits, - _ : . / # and an @digest)"
        ));
    }
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Some("the digest must be sha256: and 64 hexadecimal digits (ECS supports sha256 only)".into());
        }
    }
    let grammar = GRAMMAR.get_or_init(|| {
        let domain_part = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain = format!("{domain_part}(?:\\.{domain_part})*(?::[0-9]+)?");
        let component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        let tag = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
        regex::Regex::new(&format!("^(?:{domain}/)?{component}(?:/{component})*(?::{tag})?$")).ok()
    });
    match grammar {
        Some(grammar) if !grammar.is_match(name) => Some(
            "not an image reference: [registry[:port]/]name[:tag][@sha256:digest], with lower-case name components \
             and a tag of at most 128 letters, digits, _ . -"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PrivateApiSpec {
        serde_norway::from_str(
            "network: {vpcId: vpc-0abc, subnetIds: [subnet-a1, subnet-b2]}\nservice: {image: nginx:1.27}\n",
        )
        .expect("minimal spec parses")
    }

    #[test]
    fn minimal_spec_gets_defaults() {
        let s = spec();
        assert_eq!(s.service.port, 80);
        assert_eq!((s.service.cpu, s.service.memory), (256, 512));
        assert_eq!(s.api.stage_name, "prod");
        assert_eq!(s.deletion_policy, DeletionPolicy::Delete);
        assert_eq!(s.api.endpoint_type, EndpointType::Regional);
        assert_eq!(s.service.logs, LogsSpec::default());
        assert_eq!(s.service.logs.retention_days, 30);
        assert!(s.validate().is_ok());
        let mut odd = s.clone();
        odd.service.logs.retention_days = 31;
        let problems = odd.validate().expect_err("31 days").join("");
        assert!(
            problems.contains("spec.service.logs.retentionDays") && problems.contains("31"),
            "{problems}"
        );
    }

    #[test]
    fn secrets_come_from_ssm_or_secrets_manager() {
        let with_secret = |arn: &str| {
            let mut s = spec();
            s.service.secrets = vec![SecretVar {
                name: "DB".into(),
                value_from: arn.into(),
            }];
            s.validate()
        };
        for good in [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/shop/db-password",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/db-AbCdEf",
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf:password::",
        ] {
            assert_eq!(with_secret(good), Ok(()), "{good}");
        }
        for bad in [
            "arn:aws:s3:::bucket/key",
            "arn:aws:ssm:eu-west-1:123:parameter/x",
            "arn:aws:ssm:eu-west-1:123456789012:document/x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "plain-text-password",
        ] {
            let problems = with_secret(bad).expect_err(bad).join("\n");
            assert!(
                problems.contains("spec.service.secrets[0].valueFrom"),
                "{bad}: {problems}"
            );
        }
    }

    #[test]
    fn env_values_stay_out_of_debug_output() {
        let env = EnvVar {
            name: "TOKEN".into(),
            value: "hunter2".into(),
        };
        let printed = format!("{env:?}");
        assert!(printed.contains("TOKEN") && !printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn fargate_table() {
        let size = |cpu, memory| {
            let mut s = spec();
            (s.service.cpu, s.service.memory) = (cpu, memory);
            s.validate().is_ok()
        };
        assert!(size(256, 512));
        assert!(!size(256, 4096));
        assert!(size(512, 3072));
        assert!(!size(512, 1536));
        assert!(size(4096, 30720));
        assert!(!size(8192, 17408));
        assert!(size(16384, 122880));
        assert!(!size(300, 1024));
    }

    #[test]
    fn image_references_ecs_and_the_runtime_take() {
        for good in [
            "nginx",
            "nginx:1.27",
            "library/nginx:1.27-alpine",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.2.3",
            "localhost:5000/api",
            "public.ecr.aws/nginx/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_problem(good), None, "{good}");
        }
        let long = format!("registry.example.com/{}:v1", "a".repeat(240));
        for (bad, says) in [
            ("", "needed"),
            ("nginx 1.27", "not allowed"),
            ("Nginx:1.27", "not an image reference"),
            ("nginx:", "not an image reference"),
            ("nginx@sha256:abc", "64 hexadecimal"),
            (long.as_str(), "ECS allows 255"),
        ] {
            let problem = image_problem(bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad:?}: {problem:?}");
        }
        let mut s = spec();
        s.service.image = "   ".into();
        assert!(
            s.validate()
                .expect_err("blank image")
                .join("")
                .contains("spec.service.image")
        );
    }

    #[test]
    fn validate_names_every_bad_field() {
        let mut s = spec();
        s.network.subnet_ids = Some(vec!["subnet-a".into()]);
        s.service.cpu = 256;
        s.service.memory = 8192;
        s.service.env = vec![EnvVar {
            name: "1BAD".into(),
            value: String::new(),
        }];
        s.api.stage_name = "has space".into();
        s.service.secrets = vec![SecretVar {
            name: "DB".into(),
            value_from: "arn:aws:s3:::bucket/secret".into(),
        }];
        let problems = s.validate().expect_err("invalid");
        let joined = problems.join("\n");
        for field in ["subnetIds", "memory", "env", "stageName", "valueFrom"] {
            assert!(joined.contains(field), "{field} missing in {joined}");
        }
    }

    #[test]
    fn tags_aws_would_refuse_are_named() {
        let mut s = spec();
        s.tags = BTreeMap::from([
            ("k".repeat(128), "v".repeat(256)),
            ("team name".into(), "payments: é/ü @ 1+1=2".into()),
        ]);
        assert_eq!(s.validate(), Ok(()));
        for (key, value, says) in [
            ("k".repeat(129), String::new(), "1 to 128"),
            (String::new(), "v".into(), "1 to 128"),
            (
                "team".into(),
                "v".repeat(257),
                "spec.tags[team]: Too long: may not be more than 256",
            ),
            ("AWS:team".into(), "v".into(), "aws:"),
            ("aWs:x".into(), "v".into(), "aws:"),
            ("team".into(), "a;b".into(), "tag characters"),
            ("t#am".into(), "v".into(), "tag characters"),
        ] {
            s.tags = BTreeMap::from([(key.clone(), value)]);
            let problems = s.validate().expect_err(&key).join("\n");
            assert!(problems.contains(says), "{key:?}: {problems}");
        }
        s.tags = (0..=MAX_USER_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(s.validate().expect_err("41 tags").join("").contains("at most 40"));
    }

    #[test]
    fn authorization_types_need_their_settings_and_their_api_type() {
        let with = |api: &str| -> Result<(), Vec<String>> {
            let text = format!(
                "network: {{vpcId: vpc-0abc, subnetIds: [subnet-a1, subnet-b2]}}\nservice: {{image: nginx:1.27}}\napi: {api}\n"
            );
            let spec: PrivateApiSpec = serde_norway::from_str(&text).map_err(|e| vec![e.to_string()])?;
            spec.validate()
        };
        let pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123";
        let function = "arn:aws:lambda:eu-west-1:123456789012:function:authz";
        for good in [
            "{}".to_owned(),
            "{authorization: {type: NONE}}".to_owned(),
            "{authorization: {type: IAM}}".to_owned(),
            "{type: HTTP, authorization: {type: IAM}}".to_owned(),
            format!(
                "{{authorization: {{type: COGNITO, cognito: {{userPoolArns: ['{pool}'], scopes: [orders/write]}}}}}}"
            ),
            "{type: HTTP, authorization: {type: JWT, jwt: {issuer: 'https://id.example.com', audiences: [orders]}}}"
                .to_owned(),
            format!(
                "{{authorization: {{type: LAMBDA, lambda: {{functionArn: '{function}:live', resultTtlSeconds: 0}}}}}}"
            ),
            format!(
                "{{type: HTTP, authorization: {{type: LAMBDA, lambda: {{functionArn: '{function}', identitySource: X-Api-Token}}}}}}"
            ),
        ] {
            assert_eq!(with(&good), Ok(()), "{good}");
        }
        for (bad, says) in [
            (
                "{authorization: {type: COGNITO}}".to_owned(),
                "cognito is set exactly when type is COGNITO",
            ),
            (
                format!("{{authorization: {{type: IAM, lambda: {{functionArn: '{function}'}}}}}}"),
                "lambda is set exactly when type is LAMBDA",
            ),
            (
                format!("{{type: HTTP, authorization: {{type: COGNITO, cognito: {{userPoolArns: ['{pool}']}}}}}}"),
                "COGNITO needs api.type REST",
            ),
            (
                "{authorization: {type: JWT, jwt: {issuer: 'https://id.example.com', audiences: [a]}}}".to_owned(),
                "JWT needs api.type HTTP",
            ),
            (
                "{type: HTTP, authorization: {type: JWT, jwt: {issuer: 'http://id.example.com', audiences: [a]}}}"
                    .to_owned(),
                "spec.api.authorization.jwt.issuer",
            ),
            (
                "{type: HTTP, authorization: {type: JWT, jwt: {issuer: 'https://id.example.com', audiences: []}}}"
                    .to_owned(),
                "spec.api.authorization.jwt.audiences",
            ),
            (
                "{authorization: {type: COGNITO, cognito: {userPoolArns: ['arn:aws:iam::123456789012:role/x']}}}"
                    .to_owned(),
                "spec.api.authorization.cognito.userPoolArns[0]",
            ),
            (
                format!(
                    "{{authorization: {{type: LAMBDA, lambda: {{functionArn: '{function}', resultTtlSeconds: 3601}}}}}}"
                ),
                "spec.api.authorization.lambda.resultTtlSeconds",
            ),
            (
                "{authorization: {type: LAMBDA, lambda: {functionArn: 'arn:aws:sqs:eu-west-1:123456789012:q'}}}"
                    .to_owned(),
                "spec.api.authorization.lambda.functionArn",
            ),
            (
                format!(
                    "{{authorization: {{type: LAMBDA, lambda: {{functionArn: '{function}', identitySource: 'Authorization, X-Other'}}}}}}"
                ),
                "spec.api.authorization.lambda.identitySource",
            ),
            ("{authorization: {type: OPEN}}".to_owned(), "unknown variant `OPEN`"),
        ] {
            let problems = with(&bad).expect_err(&bad).join("\n");
            assert!(problems.contains(says), "{bad}: {problems}");
        }
    }

    #[test]
    fn private_endpoints_and_resource_policies_are_rest_only_and_complete() {
        let with = |api: &str| -> Result<(), Vec<String>> {
            let text = format!(
                "network: {{vpcId: vpc-0abc, subnetIds: [subnet-a1, subnet-b2]}}\nservice: {{image: nginx:1.27}}\napi: {api}\n"
            );
            let spec: PrivateApiSpec = serde_norway::from_str(&text).map_err(|e| vec![e.to_string()])?;
            spec.validate()
        };
        for good in [
            "{endpointType: PRIVATE, vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8]}",
            "{endpointType: PRIVATE, vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8], resourcePolicy: {sourceIps: [10.0.0.0/16]}}",
            "{resourcePolicy: {sourceIps: [203.0.113.0/24, '2001:db8::/32']}}",
            "{resourcePolicy: {vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8]}}",
            "{usagePlan: {apiKeys: [{name: partner-a}, {name: b2}]}}",
            "{usagePlan: {throttle: {rateLimit: 2.5, burstLimit: 5}, quota: {limit: 10, period: WEEK, offset: 6}, apiKeys: [{name: a}]}}",
            "{endpointType: EDGE, webAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/team-acl/0123abcd-0123-0123-0123-0123456789ab'}",
        ] {
            assert_eq!(with(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("{endpointType: PRIVATE}", "PRIVATE needs api.vpcEndpointIds"),
            (
                "{vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8]}",
                "PRIVATE needs api.vpcEndpointIds",
            ),
            (
                "{type: HTTP, endpointType: PRIVATE, vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8]}",
                "HTTP APIs are REGIONAL only",
            ),
            (
                "{type: HTTP, resourcePolicy: {sourceIps: [10.0.0.0/8]}}",
                "resourcePolicy needs api.type REST",
            ),
            ("{resourcePolicy: {}}", "needs sourceIps or vpcEndpointIds"),
            (
                "{type: HTTP, usagePlan: {apiKeys: [{name: a}]}}",
                "api.usagePlan (API keys) needs api.type REST",
            ),
            ("{usagePlan: {apiKeys: []}}", "spec.api.usagePlan.apiKeys"),
            (
                "{usagePlan: {apiKeys: [{name: Partner_A}]}}",
                "spec.api.usagePlan.apiKeys[0].name",
            ),
            (
                "{usagePlan: {quota: {limit: 10, period: DAY, offset: 1}, apiKeys: [{name: a}]}}",
                "quota.offset is 0 for DAY",
            ),
            (
                "{usagePlan: {quota: {limit: 0, period: MONTH}, apiKeys: [{name: a}]}}",
                "spec.api.usagePlan.quota.limit",
            ),
            (
                "{type: HTTP, webAclArn: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/a/0123abcd-0123-0123-0123-0123456789ab'}",
                "api.webAclArn needs api.type REST",
            ),
            (
                "{webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/a/0123abcd-0123-0123-0123-0123456789ab'}",
                "spec.api.webAclArn",
            ),
            (
                "{resourcePolicy: {sourceIps: [10.0.0.0/33]}}",
                "spec.api.resourcePolicy.sourceIps[0]",
            ),
            (
                "{endpointType: PRIVATE, vpcEndpointIds: [vpc-0abc]}",
                "spec.api.vpcEndpointIds[0]",
            ),
            (
                "{endpointType: PRIVATE, vpcEndpointIds: [vpce-0a1b2c3d4e5f6a7b8], domain: {name: api.example.com, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/01234567-89ab-cdef-0123-456789abcdef'}}",
                "PRIVATE API cannot have one",
            ),
        ] {
            let problems = with(bad).expect_err(bad).join("\n");
            assert!(problems.contains(says), "{bad}: {problems}");
        }
    }

    #[test]
    fn both_or_neither_subnet_source_is_refused() {
        let mut s = spec();
        s.network.subnet_selector = Some(BTreeMap::from([("tier".into(), "private".into())]));
        assert!(s.validate().is_err());
        s.network.subnet_ids = None;
        assert!(s.validate().is_ok());
        s.network.subnet_selector = None;
        assert!(s.validate().is_err());
    }
}
