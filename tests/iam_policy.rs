//! deploy/iam-policy.json is the least-privilege policy of the operator's IAM role.
//! This test derives what the code needs from the code itself — every
//! `aws_err("Operation")` in src/aws/<service>.rs is one AWS call — maps each call
//! to its IAM action and an example resource ARN, adds the few actions AWS implies
//! (tag-on-create, PassRole, service-linked roles), and checks both directions:
//!   - every needed (action, resource) is allowed by a statement carrying the
//!     ownership condition the call should have (request tags on creates,
//!     resource tags on changes to existing resources, ...);
//!   - the policy allows nothing else: no action, no statement action and no
//!     Resource pattern that no needed call uses; no wildcard in Action; no
//!     NotAction/NotResource; Allow only; Resource "*" only for actions without
//!     resource-level permissions.
//!
//! A new AWS call in src/aws makes this test fail until the table below and the
//! policy cover it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

const MANAGED_BY_KEY: &str = "privateapi.io/managed-by";
const MANAGED_BY: &str = "privateapi-operator";

/// The ownership condition a statement must carry for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    /// Reads: none needed.
    None,
    /// Creates: aws:RequestTag/privateapi.io/managed-by = privateapi-operator.
    RequestTag,
    /// Changes to existing resources: aws:ResourceTag/privateapi.io/managed-by.
    ResourceTag,
    /// Tagging allowed only as part of a create (<service>:CreateAction).
    CreateAction,
    /// iam:PassedToService = ecs-tasks.amazonaws.com.
    PassedToEcsTasks,
    /// iam:AWSServiceName limited to the services that need the role.
    AwsServiceName,
}

struct Need {
    action: String,
    resource: &'static str,
    cond: Cond,
    why: String,
}

// Example ARNs in the operator's naming scheme (names start with "papi-").
const SG: &str = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0";
const VPC: &str = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0";
const ALB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/papi-ns-api-1a2b3c4d/50dc6c495c0c9188";
const TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/papi-ns-api-1a2b3c4d/73e2d6bc24d8a067";
const LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/papi-ns-api-1a2b3c4d/50dc6c495c0c9188/f2f7dc8efc522ab2";
const NLB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/papi-ns-api-1a2b3c4d/60dc6c495c0c9188";
const NLB_LISTENER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/papi-ns-api-1a2b3c4d/60dc6c495c0c9188/a2f7dc8efc522ab2";
const ENDPOINT_SERVICE: &str = "arn:aws:ec2:eu-west-1:123456789012:vpc-endpoint-service/vpce-svc-0123456789abcdef0";
const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/papi-ns-api-1a2b3c4d";
const SERVICE: &str = "arn:aws:ecs:eu-west-1:123456789012:service/shared-cluster/papi-ns-api-1a2b3c4d";
const TASK_DEF: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/papi-ns-api-1a2b3c4d:3";
const ROLE: &str = "arn:aws:iam::123456789012:role/papi-ns-api-1a2b3c4d-exec";
const ANY: &str = "*";

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
                ("CreateLoadBalancer", "", vec![(ALB, RequestTag), (NLB, RequestTag)]),
                ("SetSecurityGroups", "", vec![(ALB, ResourceTag), (NLB, ResourceTag)]),
                ("SetSubnets", "", vec![(ALB, ResourceTag), (NLB, ResourceTag)]),
                ("CreateTargetGroup", "", vec![(TG, RequestTag)]),
                ("ModifyTargetGroup", "", vec![(TG, ResourceTag)]),
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
                // No resource-level permissions: "*" with the request-tag condition.
                ("CreateCluster", "", vec![(ANY, RequestTag)]),
                ("DeleteCluster", "", vec![(CLUSTER, ResourceTag)]),
                ("DescribeTaskDefinition", "", vec![(ANY, None)]),
                ("RegisterTaskDefinition", "", vec![(ANY, RequestTag)]),
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
                ("GetRole", "", vec![(ROLE, None)]),
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
    let need = |action: &str, resource: &'static str, cond: Cond, why: &str| Need {
        action: action.into(),
        resource,
        cond,
        why: why.into(),
    };
    vec![
        need(
            "ec2:CreateTags",
            SG,
            CreateAction,
            "CreateSecurityGroup passes TagSpecifications (tag on create)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            ALB,
            CreateAction,
            "CreateLoadBalancer passes Tags (tag on create)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            TG,
            CreateAction,
            "CreateTargetGroup passes Tags (tag on create)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            LISTENER,
            CreateAction,
            "CreateListener passes Tags (tag on create)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            NLB,
            CreateAction,
            "CreateLoadBalancer passes Tags (tag on create)",
        ),
        need(
            "elasticloadbalancing:AddTags",
            NLB_LISTENER,
            CreateAction,
            "CreateListener passes Tags (tag on create)",
        ),
        need(
            "ecs:TagResource",
            ANY,
            CreateAction,
            "CreateCluster/RegisterTaskDefinition/CreateService pass tags",
        ),
        need(
            "iam:TagRole",
            ROLE,
            RequestTag,
            "CreateRole passes Tags (tag on create)",
        ),
        need(
            "apigateway:POST",
            "arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Frestapis%2Fa1b2c3",
            RequestTag,
            "CreateRestApi/CreateStage/CreateVpcLink pass tags (tag on create)",
        ),
        need(
            "iam:PassRole",
            ROLE,
            PassedToEcsTasks,
            "RegisterTaskDefinition names the execution and task roles",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            AwsServiceName,
            "the first ECS cluster/service of an account creates AWSServiceRoleForECS",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            AwsServiceName,
            "the first load balancer of an account creates AWSServiceRoleForElasticLoadBalancing",
        ),
        need(
            "iam:CreateServiceLinkedRole",
            "arn:aws:iam::123456789012:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway",
            AwsServiceName,
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
    "ecs:CreateCluster",
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:TagResource",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
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
            let action = if verb.is_empty() {
                format!("{service}:{op}")
            } else {
                format!("{service}:{verb}")
            };
            for (resource, cond) in resources {
                needs.push(Need {
                    action: action.clone(),
                    resource,
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

fn policy() -> Value {
    let path = repo().join("deploy/iam-policy.json");
    let text = std::fs::read_to_string(&path).expect("deploy/iam-policy.json exists");
    serde_json::from_str(&text).expect("deploy/iam-policy.json is valid JSON")
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

struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

impl Statement {
    fn condition_value(&self, operator: &str, key: &str) -> Vec<String> {
        self.condition
            .get(operator)
            .and_then(|block| block.get(key))
            .map(list)
            .unwrap_or_default()
    }

    fn satisfies(&self, cond: Cond) -> bool {
        match cond {
            Cond::None => true,
            Cond::RequestTag => {
                self.condition_value("StringEquals", &format!("aws:RequestTag/{MANAGED_BY_KEY}")) == [MANAGED_BY]
            }
            Cond::ResourceTag => {
                self.condition_value("StringEquals", &format!("aws:ResourceTag/{MANAGED_BY_KEY}")) == [MANAGED_BY]
            }
            Cond::CreateAction => self
                .condition
                .get("StringEquals")
                .and_then(|b| b.as_object())
                .is_some_and(|b| b.keys().any(|k| k.ends_with(":CreateAction"))),
            Cond::PassedToEcsTasks => {
                self.condition_value("StringEquals", "iam:PassedToService") == ["ecs-tasks.amazonaws.com"]
            }
            Cond::AwsServiceName => !self.condition_value("StringEquals", "iam:AWSServiceName").is_empty(),
        }
    }

    fn allows(&self, need: &Need) -> bool {
        self.actions.contains(&need.action)
            && self
                .resources
                .iter()
                .any(|r| glob(r, need.resource) || (need.resource == ANY && r == ANY))
    }
}

fn statements() -> Vec<Statement> {
    let policy = policy();
    assert_eq!(policy["Version"], "2012-10-17", "policy Version must be 2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement is a list");
    let mut out = Vec::new();
    let mut sids = BTreeSet::new();
    for s in statements {
        let sid = s["Sid"].as_str().unwrap_or_default().to_owned();
        assert!(!sid.is_empty(), "every statement needs a Sid: {s}");
        assert!(sids.insert(sid.clone()), "duplicate Sid {sid}");
        assert_eq!(s["Effect"], "Allow", "{sid}: only Allow statements are expected");
        for forbidden in ["NotAction", "NotResource", "NotPrincipal", "Principal"] {
            assert!(
                s.get(forbidden).is_none(),
                "{sid}: {forbidden} is not allowed in this policy"
            );
        }
        let actions = list(&s["Action"]);
        for a in &actions {
            assert!(
                !a.contains('*') && !a.contains('?'),
                "{sid}: wildcard action {a}: list the actions the operator calls instead"
            );
            assert!(a.contains(':'), "{sid}: {a} is not service:Action");
        }
        let resources = list(&s["Resource"]);
        if resources.iter().any(|r| r == "*") {
            for a in &actions {
                assert!(
                    STAR_RESOURCE_OK.contains(&a.as_str()),
                    "{sid}: {a} is allowed on Resource \"*\" but can be scoped to resource ARNs"
                );
            }
        }
        out.push(Statement {
            sid,
            actions,
            resources,
            condition: s.get("Condition").cloned().unwrap_or(Value::Null),
        });
    }
    out
}

#[test]
fn every_aws_call_is_allowed_with_its_ownership_condition() {
    let statements = statements();
    let mut missing = Vec::new();
    for need in needs() {
        let matching: Vec<&Statement> = statements.iter().filter(|s| s.allows(&need)).collect();
        if matching.is_empty() {
            missing.push(format!(
                "{} on {} is not allowed ({})",
                need.action, need.resource, need.why
            ));
        } else if !matching.iter().any(|s| s.satisfies(need.cond)) {
            missing.push(format!(
                "{} on {} is allowed only by {} without the {:?} condition it should carry ({})",
                need.action,
                need.resource,
                matching.iter().map(|s| s.sid.as_str()).collect::<Vec<_>>().join(", "),
                need.cond,
                need.why
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "deploy/iam-policy.json lacks what the code needs:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_policy_allows_nothing_the_code_does_not_need() {
    let statements = statements();
    let needs = needs();
    let needed: BTreeSet<&str> = needs.iter().map(|n| n.action.as_str()).collect();
    let mut extra = Vec::new();
    for s in &statements {
        for action in &s.actions {
            if !needed.contains(action.as_str()) {
                extra.push(format!("{}: {action} is called nowhere in src/aws", s.sid));
                continue;
            }
            // The action must be needed on one of this statement's resources...
            let used = needs
                .iter()
                .any(|n| &n.action == action && s.resources.iter().any(|r| glob(r, n.resource)));
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
                .any(|n| s.actions.contains(&n.action) && glob(r, n.resource));
            if !used {
                extra.push(format!("{}: resource {r} serves none of the needed calls", s.sid));
            }
        }
    }
    assert!(
        extra.is_empty(),
        "deploy/iam-policy.json allows more than the code needs:\n  {}",
        extra.join("\n  ")
    );
}

#[test]
fn the_policy_grants_no_managed_full_access() {
    let text = std::fs::read_to_string(repo().join("deploy/iam-policy.json")).expect("policy");
    assert!(
        !text.contains("FullAccess") && !text.contains("AdministratorAccess"),
        "the policy must not refer to AWS managed *FullAccess / AdministratorAccess policies"
    );
}

#[test]
fn wildcard_matching_behaves_like_iam() {
    assert!(glob("arn:aws:iam::*:role/papi-*", ROLE));
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
}
