//! deploy/iam-policy.json is the least-privilege policy of the operator's IAM role
//! (deploy/iam-policy-no-roles.json the same without IAM writes, for
//! `--no-role-creation`). This test derives what the code needs from the code
//! itself — every `aws_err("Operation")` in src/aws/<service>.rs is one AWS call —
//! maps each call to its IAM action, an example resource ARN and the request context
//! the real call carries (its tags, the roles' permissions boundary, ...), adds the
//! few actions AWS implies (tag-on-create, PassRole, service-linked roles), and runs
//! them through an IAM policy evaluator (explicit deny > allow > implicit deny;
//! String/Arn/Null operators, IfExists, ForAllValues/ForAnyValue):
//!   - every needed call is allowed, and denied without its ownership condition
//!     (the request tag on creates, the resource tag on changes, ...);
//!   - the policy allows nothing else: no action and no Resource pattern that no
//!     needed call uses; no wildcard in Action; no NotAction/NotResource; Resource
//!     "*" only for actions without resource-level permissions;
//!   - each escalation route of issue 17 is attempted and denied.
//!
//! A new AWS call in src/aws makes this test fail until the table below and the
//! policy cover it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use privateapi::iam_policy::{self, Choices, DEFAULT_BOUNDARY, Partition};
use serde_json::Value;

const MANAGED_BY_KEY: &str = "privateapi.io/managed-by";
const MANAGED_BY: &str = "privateapi-operator";
const EXECUTION_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";

/// The ownership condition a call carries, which the policy must require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    /// Reads: none needed.
    None,
    /// Creates: aws:RequestTag/privateapi.io/managed-by = privateapi-operator.
    RequestTag,
    /// Changes to existing resources: aws:ResourceTag/privateapi.io/managed-by.
    ResourceTag,
    /// Tagging as part of this create (<service>:CreateAction), with the request tags.
    CreateAction(&'static str),
    /// iam:PassedToService = ecs-tasks.amazonaws.com.
    PassedToEcsTasks,
    /// iam:PassedToService = apigateway.amazonaws.com.
    PassedToApiGateway,
    /// route53:ChangeResourceRecordSetsRecordTypes = the types of the batch (A, TXT).
    RecordTypes,
    /// iam:AWSServiceName of the service that needs the role.
    AwsServiceName(&'static str),
    /// A shared VPC link's user tag (or its group's mark), on an object already ours:
    /// aws:ResourceTag/privateapi.io/managed-by and aws:TagKeys = privateapi.io/user/UID.
    UserTagOnOwned,
}

struct Need {
    action: String,
    resource: String,
    cond: Cond,
    why: String,
}

// Example ARNs in the operator's naming scheme (names start with "papi-", roles
// live under the path /privateapi/).
const SG: &str = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0";
const VPC: &str = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0";
const ALB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/papi-ns-api-1a2b3c4d/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/papi-ns-api-1a2b3c4d/73e2d6bc24d8a067";
const LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/papi-ns-api-1a2b3c4d/50dc6c495c0c9188/f2f7dc8efc522ab2";
/// A load-balancer group's ALB (named by the group's key) and one member's rule on its listener.
const GROUP_ALB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/papi-g-0123456789abcdef/70dc6c495c0c9188";
const GROUP_LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/papi-g-0123456789abcdef/70dc6c495c0c9188/b2f7dc8efc522ab2";
const RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/papi-g-0123456789abcdef/70dc6c495c0c9188/b2f7dc8efc522ab2/9683b2d02a6cabee";
const NLB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/papi-ns-api-1a2b3c4d/60dc6c495c0c9188";
const NLB_LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/papi-ns-api-1a2b3c4d/60dc6c495c0c9188/a2f7dc8efc522ab2";
const ENDPOINT_SERVICE: &str = "arn:aws:ec2:eu-west-1:123456789012:vpc-endpoint-service/vpce-svc-0123456789abcdef0";
const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/papi-ns-api-1a2b3c4d";
const SERVICE: &str = "arn:aws:ecs:eu-west-1:123456789012:service/shared-cluster/papi-ns-api-1a2b3c4d";
const TASK_DEF: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/papi-ns-api-1a2b3c4d:3";
const ZONE: &str = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ";
const ROLE: &str = "arn:aws:iam::123456789012:role/privateapi/papi-ns-api-1a2b3c4d-exec";
/// How IAM names a role it cannot find (a GetRole before the create): no path.
const ROLE_NOT_YET_MADE: &str = "arn:aws:iam::123456789012:role/papi-ns-api-1a2b3c4d-exec";
const ANY: &str = "*";
const WEB_ACL: &str =
    "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/team-acl/0123abcd-0123-0123-0123-0123456789ab";
const STAGE: &str = "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages/prod";
/// The tasks' log group (`/ecs/privateapi/NAMESPACE/NAME`), and every group (what
/// DescribeLogGroups is authorized on).
const LOG_GROUP: &str = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/privateapi/ns/api";
const LOG_GROUPS: &str = "arn:aws:logs:eu-west-1:123456789012:log-group:*";

/// Per source file: the IAM service prefix, and per operation its resources.
/// API Gateway (v1 REST and the apigatewayv2 VPC links alike) authorizes by HTTP
/// verb on a path ARN, so its operations map to apigateway:<VERB>.
/// (operation, HTTP verb for API Gateway or "", [(example resource, condition)]).
type Operation = (&'static str, &'static str, Vec<(&'static str, Cond)>);
/// file name → (IAM service prefix, its operations).
type Table = BTreeMap<&'static str, (&'static str, Vec<Operation>)>;

fn table() -> Table {
    use Cond::*;
    let mut t = BTreeMap::new();
    let ec2 = vec![
        ("DescribeSubnets", "", vec![(ANY, None)]),
        ("DescribeSecurityGroups", "", vec![(ANY, None)]),
        // Authorized on the VPC it goes into and on the new group (which carries the request tags).
        ("CreateSecurityGroup", "", vec![(VPC, None), (SG, RequestTag)]),
        ("AuthorizeSecurityGroupIngress", "", vec![(SG, ResourceTag)]),
        ("RevokeSecurityGroupIngress", "", vec![(SG, ResourceTag)]),
        ("DeleteSecurityGroup", "", vec![(SG, ResourceTag)]),
    ];
    t.insert("network.rs", ("ec2", ec2.clone()));
    t.insert("security_group.rs", ("ec2", ec2));
    t.insert(
        "elb.rs",
        (
            "elasticloadbalancing",
            vec![
                ("DescribeLoadBalancers", "", vec![(ANY, None)]),
                ("DescribeTargetGroups", "", vec![(ANY, None)]),
                ("DescribeTags", "", vec![(ANY, None)]),
                ("DescribeListeners", "", vec![(ANY, None)]),
                ("DescribeTargetHealth", "", vec![(TG, None)]),
                ("CreateLoadBalancer", "", vec![(ALB, RequestTag), (NLB, RequestTag)]),
                ("SetSecurityGroups", "", vec![(ALB, ResourceTag), (NLB, ResourceTag)]),
                ("SetSubnets", "", vec![(ALB, ResourceTag), (NLB, ResourceTag)]),
                ("CreateTargetGroup", "", vec![(TG, RequestTag)]),
                ("ModifyTargetGroup", "", vec![(TG, ResourceTag)]),
                ("RegisterTargets", "", vec![(TG, ResourceTag)]),
                (
                    "CreateListener",
                    "",
                    vec![
                        (LISTENER, RequestTag),
                        (ALB, RequestTag),
                        (NLB_LISTENER, RequestTag),
                        (NLB, RequestTag),
                    ],
                ),
                (
                    "ModifyListener",
                    "",
                    vec![(LISTENER, ResourceTag), (NLB_LISTENER, ResourceTag)],
                ),
                (
                    "DeleteListener",
                    "",
                    vec![(LISTENER, ResourceTag), (NLB_LISTENER, ResourceTag)],
                ),
                ("DeleteTargetGroup", "", vec![(TG, ResourceTag)]),
                ("DeleteLoadBalancer", "", vec![(ALB, ResourceTag), (NLB, ResourceTag)]),
            ],
        ),
    );
    t.insert(
        "ecs.rs",
        (
            "ecs",
            vec![
                ("DescribeClusters", "", vec![(ANY, None)]),
                ("CreateCluster", "", vec![(CLUSTER, RequestTag)]),
                ("DeleteCluster", "", vec![(CLUSTER, ResourceTag)]),
                ("DescribeTaskDefinition", "", vec![(ANY, None)]),
                ("RegisterTaskDefinition", "", vec![(TASK_DEF, RequestTag)]),
                ("ListTaskDefinitions", "", vec![(ANY, None)]),
                // Not authorizable by resource or tag (see deploy/README.md).
                ("DeregisterTaskDefinition", "", vec![(TASK_DEF, None)]),
                ("DescribeServices", "", vec![(ANY, None)]),
                ("CreateService", "", vec![(SERVICE, RequestTag)]),
                ("UpdateService", "", vec![(SERVICE, ResourceTag)]),
                ("DeleteService", "", vec![(SERVICE, ResourceTag)]),
            ],
        ),
    );
    t.insert(
        "iam.rs",
        (
            "iam",
            vec![
                ("GetRole", "", vec![(ROLE, None), (ROLE_NOT_YET_MADE, None)]),
                ("ListAttachedRolePolicies", "", vec![(ROLE, None)]),
                ("ListRolePolicies", "", vec![(ROLE, None)]),
                ("CreateRole", "", vec![(ROLE, RequestTag)]),
                ("AttachRolePolicy", "", vec![(ROLE, ResourceTag)]),
                ("PutRolePolicy", "", vec![(ROLE, ResourceTag)]),
                ("DetachRolePolicy", "", vec![(ROLE, ResourceTag)]),
                ("DeleteRolePolicy", "", vec![(ROLE, ResourceTag)]),
                ("DeleteRole", "", vec![(ROLE, ResourceTag)]),
            ],
        ),
    );
    t.insert(
        "rest_api.rs",
        (
            "apigateway",
            vec![
                (
                    "GetRestApis",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis", None)],
                ),
                (
                    "GetResources",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources", None)],
                ),
                (
                    "GetStages",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages", None)],
                ),
                (
                    "CreateRestApi",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis", RequestTag)],
                ),
                (
                    "CreateResource",
                    "POST",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r00t",
                        ResourceTag,
                    )],
                ),
                (
                    "PutMethod",
                    "PUT",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/pr0xy/methods/ANY",
                        ResourceTag,
                    )],
                ),
                (
                    "PutIntegration",
                    "PUT",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/pr0xy/methods/ANY/integration",
                        ResourceTag,
                    )],
                ),
                (
                    "PutMethodResponse",
                    "PUT",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r0ute/methods/POST/responses/200",
                        ResourceTag,
                    )],
                ),
                (
                    "PutIntegrationResponse",
                    "PUT",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r0ute/methods/POST/integration/responses/200",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteMethod",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r0ute/methods/PUT",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteResource",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/r0ute",
                        ResourceTag,
                    )],
                ),
                (
                    "GetDeployments",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/deployments", None)],
                ),
                (
                    "CreateDeployment",
                    "POST",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/deployments",
                        ResourceTag,
                    )],
                ),
                (
                    "CreateStage",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages", ResourceTag)],
                ),
                (
                    "UpdateStage",
                    "PATCH",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages/prod",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteStage",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/stages/prod",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteDeployment",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/deployments/d3pl0y",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteRestApi",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3", ResourceTag)],
                ),
                (
                    "UpdateRestApi",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3", ResourceTag)],
                ),
            ],
        ),
    );
    // Groups the awslogs driver made for stacks older than the operator's own log
    // groups carry no tags: retention and deletion are held to the operator's name
    // prefix instead of a tag.
    t.insert(
        "log_group.rs",
        (
            "logs",
            vec![
                ("DescribeLogGroups", "", vec![(LOG_GROUPS, None)]),
                ("CreateLogGroup", "", vec![(LOG_GROUP, RequestTag)]),
                ("PutRetentionPolicy", "", vec![(LOG_GROUP, None)]),
                ("DeleteLogGroup", "", vec![(LOG_GROUP, None)]),
            ],
        ),
    );
    t.insert(
        "dns.rs",
        (
            "route53",
            vec![
                ("ListResourceRecordSets", "", vec![(ZONE, None)]),
                ("ChangeResourceRecordSets", "", vec![(ZONE, RecordTypes)]),
            ],
        ),
    );
    t.insert(
        "certificate.rs",
        (
            "acm",
            vec![(
                "DescribeCertificate",
                "",
                // The user's certificates, named in the spec: read, never changed.
                vec![(
                    "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
                    None,
                )],
            )],
        ),
    );
    t.insert(
        "domain.rs",
        (
            "apigateway",
            vec![
                (
                    "GetDomainNames",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/domainnames", None)],
                ),
                (
                    "GetBasePathMappings",
                    "GET",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/basepathmappings",
                        None,
                    )],
                ),
                (
                    "GetApiMappings",
                    "GET",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/apimappings",
                        None,
                    )],
                ),
                (
                    "CreateDomainName",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/domainnames", RequestTag)],
                ),
                (
                    "UpdateDomainName",
                    "PATCH",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteDomainName",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com",
                        ResourceTag,
                    )],
                ),
                (
                    "CreateBasePathMapping",
                    "POST",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/basepathmappings",
                        ResourceTag,
                    )],
                ),
                (
                    "UpdateBasePathMapping",
                    "PATCH",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/basepathmappings/v1",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteBasePathMapping",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/basepathmappings/v1",
                        ResourceTag,
                    )],
                ),
                (
                    "CreateApiMapping",
                    "POST",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/apimappings",
                        ResourceTag,
                    )],
                ),
                (
                    "UpdateApiMapping",
                    "PATCH",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/apimappings/m4pp1ng",
                        ResourceTag,
                    )],
                ),
                (
                    "DeleteApiMapping",
                    "DELETE",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/domainnames/api.example.com/apimappings/m4pp1ng",
                        ResourceTag,
                    )],
                ),
            ],
        ),
    );
    // Usage plans and API keys are tagged at creation; a plan's keys live below it.
    t.insert(
        "usage_plan.rs",
        (
            "apigateway",
            vec![
                (
                    "GetUsagePlans",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans", None)],
                ),
                (
                    "GetApiKeys",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/apikeys", None)],
                ),
                (
                    "GetUsagePlanKeys",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans/p1an/keys", None)],
                ),
                (
                    "CreateUsagePlan",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans", RequestTag)],
                ),
                (
                    "UpdateUsagePlan",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans/p1an", ResourceTag)],
                ),
                (
                    "DeleteUsagePlan",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans/p1an", ResourceTag)],
                ),
                (
                    "CreateApiKey",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/apikeys", RequestTag)],
                ),
                (
                    "DeleteApiKey",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/apikeys/k3y", ResourceTag)],
                ),
                (
                    "CreateUsagePlanKey",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans/p1an/keys", ResourceTag)],
                ),
                (
                    "DeleteUsagePlanKey",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/usageplans/p1an/keys/k3y", ResourceTag)],
                ),
            ],
        ),
    );
    // AWS WAF: authorized on the web ACL and on the stage (the Service Authorization
    // Reference lists both resource types); the stage's own apigateway:SetWebACL,
    // on our tagged stages only, is in implied().
    t.insert(
        "web_acl.rs",
        (
            "wafv2",
            vec![
                ("AssociateWebACL", "", vec![(WEB_ACL, None), (STAGE, None)]),
                ("DisassociateWebACL", "", vec![(STAGE, None)]),
            ],
        ),
    );
    // Authorizers live below their API (REST and HTTP): the API's tag authorizes them.
    t.insert(
        "authorizer.rs",
        (
            "apigateway",
            vec![
                (
                    "GetAuthorizers",
                    "GET",
                    vec![
                        ("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/authorizers", None),
                        ("arn:aws:apigateway:eu-west-1::/apis/h77p/authorizers", None),
                    ],
                ),
                (
                    "CreateAuthorizer",
                    "POST",
                    vec![
                        (
                            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/authorizers",
                            ResourceTag,
                        ),
                        ("arn:aws:apigateway:eu-west-1::/apis/h77p/authorizers", ResourceTag),
                    ],
                ),
                (
                    "DeleteAuthorizer",
                    "DELETE",
                    vec![
                        (
                            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/authorizers/4uth",
                            ResourceTag,
                        ),
                        ("arn:aws:apigateway:eu-west-1::/apis/h77p/authorizers/4uth", ResourceTag),
                    ],
                ),
                (
                    "UpdateMethod",
                    "PATCH",
                    vec![(
                        "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3/resources/pr0xy/methods/ANY",
                        ResourceTag,
                    )],
                ),
                (
                    "UpdateRoute",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/routes/r0ute", ResourceTag)],
                ),
            ],
        ),
    );
    t.insert(
        "http_api.rs",
        (
            "apigateway",
            vec![
                ("GetApis", "GET", vec![("arn:aws:apigateway:eu-west-1::/apis", None)]),
                (
                    "GetIntegrations",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/integrations", None)],
                ),
                (
                    "GetRoutes",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/routes", None)],
                ),
                (
                    "GetStages",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/stages", None)],
                ),
                (
                    "CreateApi",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/apis", RequestTag)],
                ),
                (
                    "CreateIntegration",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/integrations", ResourceTag)],
                ),
                (
                    "UpdateIntegration",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/integrations/1nt", ResourceTag)],
                ),
                (
                    "DeleteIntegration",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/integrations/1nt", ResourceTag)],
                ),
                (
                    "CreateRoute",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/routes", ResourceTag)],
                ),
                (
                    "UpdateRoute",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/routes/r0ute", ResourceTag)],
                ),
                (
                    "DeleteRoute",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/routes/r0ute", ResourceTag)],
                ),
                (
                    "CreateStage",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/stages", ResourceTag)],
                ),
                (
                    "UpdateStage",
                    "PATCH",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p/stages/$default", ResourceTag)],
                ),
                (
                    "DeleteApi",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/apis/h77p", ResourceTag)],
                ),
            ],
        ),
    );
    t.insert(
        "vpc_link_v1.rs",
        (
            "apigateway",
            vec![
                (
                    "GetVpcLinks",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks", None)],
                ),
                (
                    "CreateVpcLink",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks", RequestTag)],
                ),
                (
                    "DeleteVpcLink",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks/vl1nk", ResourceTag)],
                ),
            ],
        ),
    );
    let shared_link_tags =
        "arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Fvpclinks%2Fvl1nk";
    t.insert(
        "lb_group.rs",
        (
            "",
            vec![
                (
                    "DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    vec![(ANY, None)],
                ),
                ("DescribeTags", "elasticloadbalancing:DescribeTags", vec![(ANY, None)]),
                ("DescribeRules", "elasticloadbalancing:DescribeRules", vec![(ANY, None)]),
                (
                    "DescribeSecurityGroups",
                    "ec2:DescribeSecurityGroups",
                    vec![(ANY, None)],
                ),
                (
                    "CreateSecurityGroup",
                    "ec2:CreateSecurityGroup",
                    vec![(VPC, None), (SG, RequestTag)],
                ),
                // A member joining and leaving the group's ALB.
                (
                    "AddTags",
                    "elasticloadbalancing:AddTags",
                    vec![(GROUP_ALB, UserTagOnOwned)],
                ),
                (
                    "RemoveTags",
                    "elasticloadbalancing:RemoveTags",
                    vec![(GROUP_ALB, UserTagOnOwned)],
                ),
                (
                    "CreateRule",
                    "elasticloadbalancing:CreateRule",
                    vec![(RULE, RequestTag)],
                ),
                (
                    "ModifyRule",
                    "elasticloadbalancing:ModifyRule",
                    vec![(RULE, ResourceTag)],
                ),
                (
                    "DeleteRule",
                    "elasticloadbalancing:DeleteRule",
                    vec![(RULE, ResourceTag)],
                ),
            ],
        ),
    );
    t.insert(
        "shared_link.rs",
        (
            "",
            vec![
                (
                    "DescribeSecurityGroups",
                    "ec2:DescribeSecurityGroups",
                    vec![(ANY, None)],
                ),
                (
                    "CreateSecurityGroup",
                    "ec2:CreateSecurityGroup",
                    vec![(VPC, None), (SG, RequestTag)],
                ),
                // The last user's mark on the link's group.
                ("CreateTags", "ec2:CreateTags", vec![(SG, UserTagOnOwned)]),
                (
                    "CreateVpcLink",
                    "apigateway:POST",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks", RequestTag)],
                ),
                (
                    "GetVpcLink",
                    "apigateway:GET",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks/vl1nk", None)],
                ),
                (
                    "TagResource",
                    "apigateway:POST",
                    vec![(shared_link_tags, UserTagOnOwned)],
                ),
                (
                    "UntagResource",
                    "apigateway:DELETE",
                    vec![(shared_link_tags, UserTagOnOwned)],
                ),
                (
                    "DeleteVpcLink",
                    "apigateway:DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks/vl1nk", ResourceTag)],
                ),
            ],
        ),
    );
    t.insert(
        "vpc_link.rs",
        (
            "apigateway",
            vec![
                (
                    "GetVpcLinks",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks", None)],
                ),
                (
                    "GetVpcLink",
                    "GET",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks/vl1nk", None)],
                ),
                (
                    "CreateVpcLink",
                    "POST",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks", RequestTag)],
                ),
                (
                    "DeleteVpcLink",
                    "DELETE",
                    vec![("arn:aws:apigateway:eu-west-1::/vpclinks/vl1nk", ResourceTag)],
                ),
            ],
        ),
    );
    t
}

/// Actions no `aws_err` names but AWS checks all the same, each with its reason.
fn implied() -> Vec<Need> {
    use Cond::*;
    let need = |action: &str, resource: &str, cond: Cond, why: &str| Need {
        action: action.into(),
        resource: resource.into(),
        cond,
        why: why.into(),
    };
    vec![
        // CloudWatch Logs: "To assign tags when you create a log group, you must have
        // either the logs:TagResource or logs:TagLogGroup permission" (its API model).
        need("logs:TagResource", LOG_GROUP, RequestTag, "CreateLogGroup passes tags"),
        // API Gateway: "To update an API Gateway resource policy, you'll need the
        // apigateway:UpdateRestApiPolicy permission and the apigateway:PATCH permission".
        // AWS WAF: "AssociateWebACL / DisassociateWebACL ... apigateway:SetWebACL" for
        // an API Gateway stage (the WAF developer guide's permissions per resource type).
        need(
            "apigateway:SetWebACL",
            STAGE,
            ResourceTag,
            "wafv2 AssociateWebACL on a stage",
        ),
        need(
            "apigateway:UpdateRestApiPolicy",
            "arn:aws:apigateway:eu-west-1::/restapis/a1b2c3",
            ResourceTag,
            "UpdateRestApi of /policy",
        ),
        need(
            "ec2:CreateTags",
            SG,
            CreateAction("CreateSecurityGroup"),
            "CreateSecurityGroup passes TagSpecifications",
        ),
        need(
            "elasticloadbalancing:AddTags",
            ALB,
            CreateAction("CreateLoadBalancer"),
            "CreateLoadBalancer passes Tags",
        ),
        need(
            "elasticloadbalancing:AddTags",
            TG,
            CreateAction("CreateTargetGroup"),
            "CreateTargetGroup passes Tags",
        ),
        need(
            "elasticloadbalancing:AddTags",
            LISTENER,
            CreateAction("CreateListener"),
            "CreateListener passes Tags",
        ),
        need(
            "elasticloadbalancing:AddTags",
            NLB,
            CreateAction("CreateLoadBalancer"),
            "CreateLoadBalancer passes Tags",
        ),
        need(
            "elasticloadbalancing:AddTags",
            RULE,
            CreateAction("CreateRule"),
            "CreateRule passes Tags",
        ),
        need(
            "elasticloadbalancing:AddTags",
            GROUP_ALB,
            CreateAction("CreateLoadBalancer"),
            "CreateLoadBalancer (a group's ALB) passes Tags",
        ),
        need(
            "elasticloadbalancing:DeleteListener",
            GROUP_LISTENER,
            ResourceTag,
            "the group's last member deletes its listener (lb_group.rs through elb.rs)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            NLB_LISTENER,
            CreateAction("CreateListener"),
            "CreateListener passes Tags",
        ),
        need(
            "ecs:TagResource",
            CLUSTER,
            CreateAction("CreateCluster"),
            "CreateCluster passes tags",
        ),
        need(
            "ecs:TagResource",
            SERVICE,
            CreateAction("CreateService"),
            "CreateService passes tags",
        ),
        need(
            "ecs:TagResource",
            TASK_DEF,
            CreateAction("RegisterTaskDefinition"),
            "RegisterTaskDefinition passes tags",
        ),
        // IAM has no "on create only" key: the path keeps it to the operator's roles.
        need(
            "iam:TagRole",
            ROLE,
            RequestTag,
            "CreateRole passes Tags (tag on create)",
        ),
        need(
            "iam:PassRole",
            ROLE,
            PassedToEcsTasks,
            "RegisterTaskDefinition names the execution and task roles",
        ),
        need(
            "iam:PassRole",
            "arn:aws:iam::123456789012:role/privateapi/papi-ns-api-1a2b3c4d-apigw",
            PassedToApiGateway,
            "PutIntegration / CreateIntegration name API Gateway's role for the queue routes",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            AwsServiceName("ecs.amazonaws.com"),
            "the first ECS cluster/service of an account creates AWSServiceRoleForECS",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            AwsServiceName("elasticloadbalancing.amazonaws.com"),
            "the first load balancer of an account creates AWSServiceRoleForElasticLoadBalancing",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway",
            AwsServiceName("ops.apigateway.amazonaws.com"),
            "the first VPC link (v2) of an account creates AWSServiceRoleForAPIGateway",
        ),
        // A VPC Link V1 is a VPC endpoint service of the NLB, made and removed by API
        // Gateway with the caller's permissions (API Gateway's "grant permissions to
        // create a VPC link").
        need(
            "ec2:CreateVpcEndpointServiceConfiguration",
            ENDPOINT_SERVICE,
            None,
            "CreateVpcLink (V1) makes the NLB's endpoint service",
        ),
        need(
            "ec2:ModifyVpcEndpointServicePermissions",
            ENDPOINT_SERVICE,
            None,
            "CreateVpcLink (V1) lets API Gateway connect to it",
        ),
        need(
            "ec2:DeleteVpcEndpointServiceConfigurations",
            ENDPOINT_SERVICE,
            None,
            "DeleteVpcLink (V1) removes it",
        ),
        need(
            "ec2:DescribeVpcEndpointServiceConfigurations",
            ANY,
            None,
            "CreateVpcLink (V1) looks it up",
        ),
    ]
}

/// Actions that AWS cannot scope to a resource: the only ones allowed on "*".
const STAR_RESOURCE_OK: &[&str] = &[
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ecs:DescribeClusters",
    "ecs:DescribeServices",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
];

/// IAM writes: none of them in the no-roles policy.
const ROLE_WRITES: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:TagRole",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `aws_err("Operation")` calls per file of src/aws.
fn calls_in_code() -> BTreeMap<String, BTreeSet<String>> {
    let mut calls = BTreeMap::new();
    let dir = repo().join("src/aws");
    for entry in std::fs::read_dir(&dir).expect("src/aws") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        let mut ops = BTreeSet::new();
        for line in text.lines() {
            // The doc comment of aws_err itself shows the pattern; it is no call.
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(i) = rest.find("aws_err(\"") {
                let tail = &rest[i + "aws_err(\"".len()..];
                let end = tail.find('"').expect("closing quote");
                ops.insert(tail[..end].to_owned());
                rest = &tail[end..];
            }
        }
        if !ops.is_empty() {
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            calls.insert(name, ops);
        }
    }
    calls
}

fn needs() -> Vec<Need> {
    let table = table();
    let mut needs = Vec::new();
    let mut problems = Vec::new();
    for (file, ops) in calls_in_code() {
        let Some((service, known)) = table.get(file.as_str()) else {
            problems.push(format!(
                "src/aws/{file} makes AWS calls ({}) but tests/iam_policy.rs does not know its service: add it to table()",
                ops.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        for op in ops {
            let Some((_, verb, resources)) = known.iter().find(|(name, _, _)| *name == op) else {
                problems.push(format!(
                    "src/aws/{file} calls {service} {op}, which tests/iam_policy.rs does not map to an IAM action: \
                     add it to table() and grant it in deploy/iam-policy.json"
                ));
                continue;
            };
            // A file calling two services (shared_link.rs) names each action whole.
            let action = if verb.contains(':') {
                (*verb).to_owned()
            } else if verb.is_empty() {
                format!("{service}:{op}")
            } else {
                format!("{service}:{verb}")
            };
            for (resource, cond) in resources {
                needs.push(Need {
                    action: action.clone(),
                    resource: (*resource).to_owned(),
                    cond: *cond,
                    why: format!("src/aws/{file} calls {op}"),
                });
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    assert!(
        needs.len() > 40,
        "found only {} AWS calls in src/aws: is the aws_err(\"...\") pattern still used?",
        needs.len()
    );
    needs.extend(implied());
    needs
}

// ---------------------------------------------------------------------------
// The evaluator.

/// One request as IAM sees it: the action, the resource ARN, the context keys.
#[derive(Clone, Debug)]
struct Request {
    action: String,
    resource: String,
    context: BTreeMap<String, Vec<String>>,
}

impl Request {
    fn new(action: &str, resource: &str) -> Self {
        Request {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    fn with(mut self, key: &str, value: &str) -> Self {
        self.context.entry(key.into()).or_default().push(value.into());
        self
    }

    fn without(mut self, key: &str) -> Self {
        self.context.remove(key);
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

struct Statement {
    sid: String,
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

impl Statement {
    fn applies(&self, request: &Request) -> bool {
        self.actions
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), &request.action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| glob(r, &request.resource))
            && conditions_hold(&self.condition, &request.context)
    }
}

struct Policy {
    name: String,
    statements: Vec<Statement>,
}

impl Policy {
    fn evaluate(&self, request: &Request) -> Decision {
        let applying: Vec<&Statement> = self.statements.iter().filter(|s| s.applies(request)).collect();
        if applying.iter().any(|s| !s.allow) {
            Decision::ExplicitDeny
        } else if applying.iter().any(|s| s.allow) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }

    fn allowing(&self, request: &Request) -> Vec<&str> {
        let mut unconditioned = Request::new(&request.action, &request.resource);
        unconditioned.context = request.context.clone();
        self.statements
            .iter()
            .filter(|s| s.allow && s.applies(&unconditioned))
            .map(|s| s.sid.as_str())
            .collect()
    }
}

/// Every condition operator holds (AND), every key in it holds (AND), any of a key's
/// values matches (OR). Missing keys: false, except for negated operators, `Null`
/// and `...IfExists`, as IAM does.
fn conditions_hold(condition: &Value, context: &BTreeMap<String, Vec<String>>) -> bool {
    let Some(operators) = condition.as_object() else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        let keys = keys.as_object().expect("a condition block maps keys to values");
        keys.iter().all(|(key, wanted)| {
            let wanted = list(wanted);
            let present = context.get(key);
            operator_holds(operator, &wanted, present.map(Vec::as_slice))
        })
    })
}

fn operator_holds(operator: &str, wanted: &[String], present: Option<&[String]>) -> bool {
    if operator == "Null" {
        let absent = present.is_none_or(|v| v.is_empty());
        return wanted.iter().any(|w| (w == "true") == absent);
    }
    let (set, rest) = match operator.split_once(':') {
        Some((set, rest)) => (Some(set), rest),
        None => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let negated = base.contains("Not");
    let matches = |value: &str| {
        wanted.iter().any(|w| match base {
            "StringEquals" | "StringNotEquals" => w == value,
            "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => w.eq_ignore_ascii_case(value),
            "StringLike" | "StringNotLike" | "ArnEquals" | "ArnLike" | "ArnNotEquals" | "ArnNotLike" => glob(w, value),
            "Bool" => w == value,
            other => panic!("the evaluator does not know the condition operator {other}"),
        })
    };
    let Some(values) = present.filter(|v| !v.is_empty()) else {
        return match set {
            Some("ForAllValues") => true,
            Some(_) => false,
            None => if_exists || negated,
        };
    };
    let hit = match set {
        Some("ForAllValues") => values.iter().all(|v| matches(v)),
        Some("ForAnyValue") => values.iter().any(|v| matches(v)),
        Some(other) => panic!("unknown set operator {other}"),
        None => values.iter().any(|v| matches(v)),
    };
    if negated { !hit } else { hit }
}

/// The context the operator's real call carries for `need`.
fn request_for(need: &Need, boundary: &str) -> Request {
    let service = need.action.split(':').next().unwrap_or_default();
    let mut request = Request::new(&need.action, &need.resource);
    match need.cond {
        Cond::None => {}
        Cond::RequestTag => request = request.with(&format!("aws:RequestTag/{MANAGED_BY_KEY}"), MANAGED_BY),
        Cond::ResourceTag => request = request.with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY),
        Cond::CreateAction(create) => {
            request = request
                .with(&format!("{service}:CreateAction"), create)
                .with(&format!("aws:RequestTag/{MANAGED_BY_KEY}"), MANAGED_BY)
        }
        Cond::PassedToEcsTasks => request = request.with("iam:PassedToService", "ecs-tasks.amazonaws.com"),
        Cond::PassedToApiGateway => request = request.with("iam:PassedToService", "apigateway.amazonaws.com"),
        Cond::RecordTypes => {
            request = request
                .with("route53:ChangeResourceRecordSetsRecordTypes", "A")
                .with("route53:ChangeResourceRecordSetsRecordTypes", "TXT")
        }
        Cond::AwsServiceName(name) => request = request.with("iam:AWSServiceName", name),
        Cond::UserTagOnOwned => {
            request = request
                .with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY)
                .with("aws:TagKeys", "privateapi.io/user/0d9c1f6e-uid")
        }
    }
    // The operator's roles carry the installer's boundary; the calls on them say so.
    if [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
    ]
    .contains(&need.action.as_str())
    {
        request = request.with("iam:PermissionsBoundary", boundary);
    }
    if need.action == "iam:AttachRolePolicy" {
        let partition = need.resource.split(':').nth(1).unwrap_or("aws");
        request = request.with(
            "iam:PolicyARN",
            &EXECUTION_POLICY.replacen("arn:aws:", &format!("arn:{partition}:"), 1),
        );
    }
    if need.action == "elasticloadbalancing:CreateLoadBalancer" {
        request = request.with("elasticloadbalancing:Scheme", "internal");
    }
    request
}

/// The same request without the ownership condition's keys.
fn without_ownership(request: &Request) -> Request {
    let mut bare = request.clone();
    bare.context
        .retain(|k, _| !k.starts_with("aws:RequestTag/") && !k.starts_with("aws:ResourceTag/"));
    for key in [
        "iam:PassedToService",
        "iam:AWSServiceName",
        "route53:ChangeResourceRecordSetsRecordTypes",
    ] {
        bare = bare.without(key);
    }
    bare.context.retain(|k, _| !k.ends_with(":CreateAction"));
    bare
}

fn load(text: &str, name: &str) -> Policy {
    load_allowing_star(text, name, STAR_RESOURCE_OK)
}

/// `star_ok`: the actions that may be allowed on Resource "*".
fn load_allowing_star(text: &str, name: &str, star_ok: &[&str]) -> Policy {
    let policy: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name} is valid JSON: {e}"));
    assert_eq!(policy["Version"], "2012-10-17", "{name}: Version must be 2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement is a list");
    let mut out = Vec::new();
    let mut sids = BTreeSet::new();
    for s in statements {
        let sid = s["Sid"].as_str().unwrap_or_default().to_owned();
        assert!(!sid.is_empty(), "{name}: every statement needs a Sid: {s}");
        assert!(sids.insert(sid.clone()), "{name}: duplicate Sid {sid}");
        let allow = match s["Effect"].as_str() {
            Some("Allow") => true,
            Some("Deny") => false,
            other => panic!("{name} {sid}: Effect {other:?}"),
        };
        for forbidden in ["NotAction", "NotResource", "NotPrincipal", "Principal"] {
            assert!(
                s.get(forbidden).is_none(),
                "{name} {sid}: {forbidden} is not allowed in this policy"
            );
        }
        let actions = list(&s["Action"]);
        for a in &actions {
            assert!(
                !a.contains('*') && !a.contains('?'),
                "{name} {sid}: wildcard action {a}: list the actions the operator calls instead"
            );
            assert!(a.contains(':'), "{name} {sid}: {a} is not service:Action");
        }
        let resources = list(&s["Resource"]);
        if allow && resources.iter().any(|r| r == "*") {
            for a in &actions {
                assert!(
                    star_ok.contains(&a.as_str()),
                    "{name} {sid}: {a} is allowed on Resource \"*\" but can be scoped to resource ARNs"
                );
            }
        }
        out.push(Statement {
            sid,
            allow,
            actions,
            resources,
            condition: s.get("Condition").cloned().unwrap_or(Value::Null),
        });
    }
    Policy {
        name: name.into(),
        statements: out,
    }
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("a list of strings").to_owned())
            .collect(),
        _ => panic!("expected a string or a list of strings, got {v}"),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn with_roles() -> Policy {
    load(&read("deploy/iam-policy.json"), "deploy/iam-policy.json")
}

fn no_roles() -> Policy {
    load(
        &read("deploy/iam-policy-no-roles.json"),
        "deploy/iam-policy-no-roles.json",
    )
}

/// The role-writing needs are not needs of the no-roles policy.
fn is_role_write(need: &Need) -> bool {
    ROLE_WRITES.contains(&need.action.as_str())
}

fn check_needs_allowed(policy: &Policy, needs: &[Need], boundary: &str) {
    let mut problems = Vec::new();
    for need in needs {
        let request = request_for(need, boundary);
        let decision = policy.evaluate(&request);
        if decision != Decision::Allow {
            problems.push(format!(
                "{} on {} is {decision:?} ({})",
                need.action, need.resource, need.why
            ));
            continue;
        }
        if need.cond != Cond::None {
            let bare = without_ownership(&request);
            if policy.evaluate(&bare) == Decision::Allow {
                problems.push(format!(
                    "{} on {} is allowed without its {:?} condition, by {} ({})",
                    need.action,
                    need.resource,
                    need.cond,
                    policy.allowing(&bare).join(", "),
                    need.why
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} lacks what the code needs, or grants it without the ownership condition:\n  {}",
        policy.name,
        problems.join("\n  ")
    );
}

fn check_nothing_extra(policy: &Policy, needs: &[Need]) {
    let needed: BTreeSet<&str> = needs.iter().map(|n| n.action.as_str()).collect();
    let mut extra = Vec::new();
    for s in policy.statements.iter().filter(|s| s.allow) {
        for action in &s.actions {
            if !needed.contains(action.as_str()) {
                extra.push(format!("{}: {action} is called nowhere in src/aws", s.sid));
                continue;
            }
            // The action must be needed on one of this statement's resources...
            let used = needs
                .iter()
                .any(|n| &n.action == action && s.resources.iter().any(|r| glob(r, &n.resource)));
            if !used {
                extra.push(format!(
                    "{}: {action} is granted on {:?}, where the code never needs it",
                    s.sid, s.resources
                ));
            }
        }
        // ...and every resource pattern must serve some needed call.
        for r in &s.resources {
            let used = needs
                .iter()
                .any(|n| s.actions.contains(&n.action) && glob(r, &n.resource));
            if !used {
                extra.push(format!("{}: resource {r} serves none of the needed calls", s.sid));
            }
        }
    }
    assert!(
        extra.is_empty(),
        "{} allows more than the code needs:\n  {}",
        policy.name,
        extra.join("\n  ")
    );
}

#[test]
fn every_aws_call_is_allowed_only_with_its_ownership_condition() {
    check_needs_allowed(&with_roles(), &needs(), DEFAULT_BOUNDARY);
}

#[test]
fn the_policy_allows_nothing_the_code_does_not_need() {
    check_nothing_extra(&with_roles(), &needs());
}

#[test]
fn the_no_roles_policy_allows_every_call_but_the_iam_writes() {
    let policy = no_roles();
    let (writes, rest): (Vec<Need>, Vec<Need>) = needs().into_iter().partition(is_role_write);
    check_needs_allowed(&policy, &rest, DEFAULT_BOUNDARY);
    check_nothing_extra(&policy, &rest);
    assert!(!writes.is_empty());
    for need in &writes {
        let request = request_for(need, DEFAULT_BOUNDARY);
        assert_ne!(
            policy.evaluate(&request),
            Decision::Allow,
            "{} is allowed by the no-roles policy",
            need.action
        );
    }
    // The same document as the full one, less exactly the statements that write roles.
    let mut expected: Value = serde_json::from_str(&read("deploy/iam-policy.json")).expect("JSON");
    let statements = expected["Statement"].as_array_mut().expect("list");
    statements.retain(|s| !list(&s["Action"]).iter().any(|a| ROLE_WRITES.contains(&a.as_str())));
    let actual: Value = serde_json::from_str(&read("deploy/iam-policy-no-roles.json")).expect("JSON");
    assert_eq!(
        actual, expected,
        "deploy/iam-policy-no-roles.json drifted from deploy/iam-policy.json"
    );
}

/// The one exception to tagging in the create call: the users of a shared VPC link are
/// tags on it, added and removed as resources join and leave (and the last one marks
/// the link's group). The policy allows only `privateapi.io/user/*` keys there, on
/// objects that already carry `managed-by`.
const STANDALONE_TAGGING: &[(&str, &str)] = &[
    ("shared_link.rs", "TagResource"),
    ("shared_link.rs", "UntagResource"),
    ("shared_link.rs", "CreateTags"),
    ("lb_group.rs", "AddTags"),
    ("lb_group.rs", "RemoveTags"),
];

#[test]
fn the_operator_tags_only_when_it_creates() {
    let standalone = [
        "TagResource",
        "TagRole",
        "AddTags",
        "CreateTags",
        "UntagResource",
        "UntagRole",
        "RemoveTags",
    ];
    for (file, ops) in calls_in_code() {
        for op in ops {
            assert!(
                !standalone.contains(&op.as_str()) || STANDALONE_TAGGING.contains(&(file.as_str(), op.as_str())),
                "src/aws/{file} calls {op}: tags go in the create call only (the policy grants no standalone tagging)"
            );
        }
    }
}

#[test]
fn every_partition_renders_a_policy_that_allows_exactly_the_calls() {
    for partition in [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov] {
        for no_role_creation in [false, true] {
            let name = partition.name();
            let boundary = format!("arn:{name}:iam::123456789012:policy/team-boundary");
            let choices = Choices {
                partition,
                boundary: Some(boundary.clone()),
                no_role_creation,
            };
            let text = iam_policy::render(&choices).expect("renders");
            let policy = load(
                &text,
                &format!("iam-policy --partition {name} (no roles: {no_role_creation})"),
            );
            let needs: Vec<Need> = needs()
                .into_iter()
                .filter(|n| !no_role_creation || !is_role_write(n))
                .map(|n| Need {
                    resource: n.resource.replacen("arn:aws:", &format!("arn:{name}:"), 1),
                    ..n
                })
                .collect();
            check_needs_allowed(&policy, &needs, &boundary);
            check_nothing_extra(&policy, &needs);
            if !no_role_creation {
                // The installer's boundary, not the template's, is the one required.
                let create = needs.iter().find(|n| n.action == "iam:CreateRole").expect("CreateRole");
                let with_template_boundary = request_for(create, DEFAULT_BOUNDARY);
                assert_ne!(policy.evaluate(&with_template_boundary), Decision::Allow, "{name}");
            }
        }
    }
    // The committed files are the renderings for partition aws and the default boundary.
    let rendered = |no_role_creation| {
        iam_policy::render(&Choices {
            no_role_creation,
            ..Choices::default()
        })
        .expect("renders")
    };
    assert_eq!(rendered(false), read("deploy/iam-policy.json"));
    assert_eq!(rendered(true), read("deploy/iam-policy-no-roles.json"));
}

// ---------------------------------------------------------------------------
// The escalation routes of issue 17, attempted against both policies.

fn both() -> [Policy; 2] {
    [with_roles(), no_roles()]
}

fn denied(policy: &Policy, request: &Request, route: &str) {
    let decision = policy.evaluate(request);
    assert_ne!(
        decision,
        Decision::Allow,
        "{}: {route} is allowed by {}",
        policy.name,
        policy.allowing(request).join(", ")
    );
}

fn tagged_request(action: &str, resource: &str) -> Request {
    Request::new(action, resource).with(&format!("aws:RequestTag/{MANAGED_BY_KEY}"), MANAGED_BY)
}

#[test]
fn a_role_without_the_boundary_cannot_be_created() {
    let policy = with_roles();
    let create = tagged_request("iam:CreateRole", ROLE);
    assert_eq!(
        policy.evaluate(&create.clone().with("iam:PermissionsBoundary", DEFAULT_BOUNDARY)),
        Decision::Allow,
        "the route below must be denied for its missing boundary, not for anything else"
    );
    for policy in both() {
        denied(&policy, &create, "CreateRole without a boundary");
        denied(
            &policy,
            &create
                .clone()
                .with("iam:PermissionsBoundary", "arn:aws:iam::aws:policy/AdministratorAccess"),
            "CreateRole with another boundary",
        );
        // Outside the operator's path, where PassRole would not reach it anyway.
        denied(
            &policy,
            &tagged_request("iam:CreateRole", ROLE_NOT_YET_MADE).with("iam:PermissionsBoundary", DEFAULT_BOUNDARY),
            "CreateRole outside /privateapi/",
        );
    }
}

#[test]
fn a_policy_cannot_be_put_on_a_role_without_the_boundary() {
    // IAM cannot look into the document ("Action": "*"): the boundary is what caps it.
    let ours = Request::new("iam:PutRolePolicy", ROLE).with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY);
    assert_eq!(
        with_roles().evaluate(&ours.clone().with("iam:PermissionsBoundary", DEFAULT_BOUNDARY)),
        Decision::Allow
    );
    for policy in both() {
        denied(
            &policy,
            &ours,
            "PutRolePolicy \"*\" on a tagged role without a boundary",
        );
        for action in ["iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePolicy"] {
            let request = Request::new(action, ROLE)
                .with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY)
                .with("iam:PolicyARN", EXECUTION_POLICY);
            denied(&policy, &request, &format!("{action} on a role without the boundary"));
        }
        let admin = Request::new("iam:AttachRolePolicy", ROLE)
            .with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY)
            .with("iam:PermissionsBoundary", DEFAULT_BOUNDARY)
            .with("iam:PolicyARN", "arn:aws:iam::aws:policy/AdministratorAccess");
        denied(&policy, &admin, "AttachRolePolicy AdministratorAccess");
        for action in [
            "iam:DeleteRolePermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:UpdateAssumeRolePolicy",
        ] {
            let request = Request::new(action, ROLE).with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY);
            assert_eq!(
                policy.evaluate(&request),
                Decision::ExplicitDeny,
                "{}: {action} must be denied outright",
                policy.name
            );
        }
    }
}

#[test]
fn another_teams_role_cannot_be_taken_over_by_tagging() {
    let foreign = "arn:aws:iam::123456789012:role/papi-payments-orders-9f8e7d6c-exec";
    let elsewhere = "arn:aws:iam::123456789012:role/payments/admin";
    for policy in both() {
        for role in [foreign, elsewhere] {
            denied(
                &policy,
                &tagged_request("iam:TagRole", role),
                "TagRole with our tag on a foreign role",
            );
            denied(
                &policy,
                &Request::new("iam:PassRole", role).with("iam:PassedToService", "ecs-tasks.amazonaws.com"),
                "PassRole of a role outside /privateapi/",
            );
        }
        assert_eq!(
            policy.evaluate(&Request::new("iam:UntagRole", ROLE)),
            Decision::ExplicitDeny,
            "{}: UntagRole",
            policy.name
        );
        denied(
            &policy,
            &Request::new("iam:PassRole", ROLE).with("iam:PassedToService", "lambda.amazonaws.com"),
            "PassRole to another service",
        );
    }
}

#[test]
fn a_foreign_api_gateway_object_cannot_be_tagged_or_deleted() {
    let foreign_link = "arn:aws:apigateway:eu-west-1::/vpclinks/other1";
    let foreign_api = "arn:aws:apigateway:eu-west-1::/restapis/other2";
    for policy in both() {
        for target in [foreign_link, foreign_api] {
            let encoded = target.replace(':', "%3A").replace('/', "%2F");
            let tags = format!("arn:aws:apigateway:eu-west-1::/tags/{encoded}");
            // v2 TagResource is POST, v1 is PUT on /tags/{arn}.
            for verb in ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH"] {
                denied(&policy, &tagged_request(verb, &tags), &format!("{verb} on {tags}"));
            }
            denied(
                &policy,
                &tagged_request("apigateway:PATCH", target),
                "PATCH tags onto a foreign object",
            );
            denied(
                &policy,
                &Request::new("apigateway:DELETE", target),
                "DELETE of an untagged object",
            );
        }
    }
}

/// The shared links' user tags cannot claim anything or change whose it is: only
/// `privateapi.io/user/*` keys, and only on objects that already carry `managed-by`.
#[test]
fn a_shared_link_user_tag_cannot_claim_or_change_ownership() {
    let link = "arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Fvpclinks%2Fvl1nk";
    for policy in both() {
        for (action, resource) in [
            ("apigateway:POST", link),
            ("apigateway:DELETE", link),
            ("ec2:CreateTags", SG),
        ] {
            let owned = Request::new(action, resource).with(&format!("aws:ResourceTag/{MANAGED_BY_KEY}"), MANAGED_BY);
            assert_eq!(
                policy.evaluate(&owned.clone().with("aws:TagKeys", "privateapi.io/user/uid-1")),
                Decision::Allow,
                "{action}: a user tag on a shared link of ours"
            );
            for key in [MANAGED_BY_KEY, "privateapi.io/uid", "privateapi.io/shared-link", "team"] {
                denied(
                    &policy,
                    &owned
                        .clone()
                        .with("aws:TagKeys", "privateapi.io/user/uid-1")
                        .with("aws:TagKeys", key),
                    &format!("{action} writing {key} along with a user tag"),
                );
            }
            denied(
                &policy,
                &Request::new(action, resource).with("aws:TagKeys", "privateapi.io/user/uid-1"),
                &format!("{action}: a user tag on someone else's object"),
            );
        }
    }
}

/// The log-group permissions reach the operator's prefix only: another team's groups
/// (and their events) cannot be deleted, made to expire or tagged.
#[test]
fn foreign_log_groups_cannot_be_deleted_expired_or_tagged() {
    for policy in both() {
        for group in [
            "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/payments",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/audit",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/privateapi-other/x",
        ] {
            denied(
                &policy,
                &Request::new("logs:DeleteLogGroup", group),
                "DeleteLogGroup outside /ecs/privateapi/",
            );
            denied(
                &policy,
                &Request::new("logs:PutRetentionPolicy", group),
                "PutRetentionPolicy outside /ecs/privateapi/",
            );
            denied(
                &policy,
                &tagged_request("logs:TagResource", group),
                "TagResource outside /ecs/privateapi/",
            );
            denied(
                &policy,
                &tagged_request("logs:CreateLogGroup", group),
                "CreateLogGroup outside /ecs/privateapi/",
            );
        }
        denied(
            &policy,
            &Request::new("logs:CreateLogGroup", LOG_GROUP),
            "an untagged log group",
        );
        denied(
            &policy,
            &Request::new("logs:DeleteRetentionPolicy", LOG_GROUP),
            "logs that never expire",
        );
    }
}

#[test]
fn nothing_is_registered_or_created_outside_the_operators_names() {
    for policy in both() {
        for family in [
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/payments:7",
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/other-papi-x:1",
        ] {
            denied(
                &policy,
                &tagged_request("ecs:RegisterTaskDefinition", family),
                "RegisterTaskDefinition in a foreign family",
            );
            denied(
                &policy,
                &tagged_request("ecs:TagResource", family).with("ecs:CreateAction", "RegisterTaskDefinition"),
                "TagResource on a foreign family",
            );
        }
        denied(
            &policy,
            &tagged_request(
                "ecs:CreateCluster",
                "arn:aws:ecs:eu-west-1:123456789012:cluster/payments",
            ),
            "CreateCluster outside papi-*",
        );
        denied(
            &policy,
            &tagged_request("ecs:TagResource", CLUSTER),
            "TagResource outside a create",
        );
        denied(
            &policy,
            &tagged_request("elasticloadbalancing:CreateLoadBalancer", ALB)
                .with("elasticloadbalancing:Scheme", "internet-facing"),
            "an internet-facing load balancer",
        );
        denied(
            &policy,
            &tagged_request(
                "elasticloadbalancing:AddTags",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/papi-x/1",
            ),
            "AddTags outside a create",
        );
    }
}

#[test]
fn the_suggested_boundary_lets_the_execution_role_work_and_caps_the_rest() {
    let boundary = load_allowing_star(
        &read("deploy/role-boundary.json"),
        "deploy/role-boundary.json",
        &[
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetAuthorizationToken",
            "ecr:GetDownloadUrlForLayer",
            "kms:Decrypt",
        ],
    );
    let group = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/privateapi/shop/orders";
    let stream = format!("{group}:log-stream:privateapi/app/1");
    for (action, resource) in [
        ("ecr:GetAuthorizationToken", "*"),
        (
            "ecr:BatchGetImage",
            "arn:aws:ecr:eu-west-1:123456789012:repository/shop",
        ),
        ("logs:CreateLogGroup", group),
        // API Gateway's role: a Lambda authorizer (its inline policy names the one function).
        (
            "lambda:InvokeFunction",
            "arn:aws:lambda:eu-west-1:123456789012:function:authz",
        ),
        ("logs:CreateLogStream", stream.as_str()),
        ("logs:PutLogEvents", stream.as_str()),
        (
            "ssm:GetParameters",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/privateapi/shop/db",
        ),
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:privateapi/shop-AbCdEf",
        ),
    ] {
        assert_eq!(
            boundary.evaluate(&Request::new(action, resource)),
            Decision::Allow,
            "{action} on {resource}"
        );
    }
    let via_ssm = Request::new("kms:Decrypt", "arn:aws:kms:eu-west-1:123456789012:key/k")
        .with("kms:ViaService", "ssm.eu-west-1.amazonaws.com");
    assert_eq!(boundary.evaluate(&via_ssm), Decision::Allow);
    // Whatever policy a role of the operator's is given, nothing else gets through.
    for (action, resource) in [
        ("iam:CreateRole", ROLE),
        ("kms:Decrypt", "arn:aws:kms:eu-west-1:123456789012:key/k"),
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payments/db-AbCdEf",
        ),
        (
            "logs:PutLogEvents",
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/x:log-stream:y",
        ),
        ("s3:GetObject", "arn:aws:s3:::bucket/key"),
    ] {
        assert_ne!(
            boundary.evaluate(&Request::new(action, resource)),
            Decision::Allow,
            "{action} on {resource}"
        );
    }
}

#[test]
fn the_policy_grants_no_managed_full_access() {
    for path in ["deploy/iam-policy.json", "deploy/iam-policy-no-roles.json"] {
        let text = read(path);
        assert!(
            !text.contains("FullAccess") && !text.contains("AdministratorAccess"),
            "{path} must not refer to AWS managed *FullAccess / AdministratorAccess policies"
        );
    }
}

#[test]
fn the_evaluator_behaves_like_iam() {
    assert!(glob("arn:aws:iam::*:role/papi-*", "arn:aws:iam::1:role/papi-x"));
    assert!(!glob("arn:aws:iam::*:role/papi-*", "arn:aws:iam::1:role/other"));
    assert!(glob(
        "arn:aws:apigateway:*::/restapis/*",
        "arn:aws:apigateway:eu-west-1::/restapis/a/b"
    ));
    assert!(!glob(
        "arn:aws:apigateway:*::/restapis/*",
        "arn:aws:apigateway:eu-west-1::/restapis"
    ));
    assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // A missing key: positive operators fail, negated ones and IfExists hold.
    assert!(!operator_holds("StringEquals", &v(&["a"]), None));
    assert!(operator_holds("StringNotEquals", &v(&["a"]), None));
    assert!(operator_holds("StringEqualsIfExists", &v(&["a"]), None));
    assert!(operator_holds("Null", &v(&["true"]), None));
    assert!(!operator_holds("Null", &v(&["true"]), Some(&v(&["x"]))));
    assert!(operator_holds(
        "ForAllValues:StringEquals",
        &v(&["a", "b"]),
        Some(&v(&["a"]))
    ));
    assert!(!operator_holds(
        "ForAllValues:StringEquals",
        &v(&["a"]),
        Some(&v(&["a", "c"]))
    ));
    assert!(operator_holds(
        "ForAnyValue:StringEquals",
        &v(&["a"]),
        Some(&v(&["a", "c"]))
    ));
    assert!(operator_holds(
        "ArnEquals",
        &v(&["arn:aws:iam::*:policy/b"]),
        Some(&v(&["arn:aws:iam::1:policy/b"]))
    ));
    // An explicit deny wins over an allow.
    let policy = load(
        r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::*"},
            {"Sid":"D","Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::secret/*"}]}"#,
        "inline",
    );
    assert_eq!(
        policy.evaluate(&Request::new("s3:GetObject", "arn:aws:s3:::open/x")),
        Decision::Allow
    );
    assert_eq!(
        policy.evaluate(&Request::new("s3:GetObject", "arn:aws:s3:::secret/x")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        policy.evaluate(&Request::new("s3:PutObject", "arn:aws:s3:::open/x")),
        Decision::ImplicitDeny
    );
}
