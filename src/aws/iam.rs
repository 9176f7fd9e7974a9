//! IAM roles for the tasks: an execution role (pulls the image, writes logs) and a
//! task role (the application's identity), unless the spec names existing ones.
//!
//! Roles have deterministic names; a role with our name but without our uid tag is
//! someone else's and is never touched.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::types::Tag;

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, fingerprint};
use super::partition::Partition;
use crate::crd::SecretVar;

/// The AWS managed policy of ECS task execution roles; its ARN is in the region's
/// partition ([`execution_policy_arn`]).
pub const EXECUTION_POLICY: &str = "policy/service-role/AmazonECSTaskExecutionRolePolicy";

/// `arn:PARTITION:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`.
pub fn execution_policy_arn(partition: Partition) -> String {
    partition.arn("iam", "", "aws", EXECUTION_POLICY)
}
/// Lets the awslogs driver create the service's log group on first start.
pub const LOGS_POLICY_NAME: &str = "privateapi-create-log-group";
/// Lets the execution role read the task's secrets. The name ends in the document's
/// fingerprint: changed secrets are a new policy, and the old one is deleted.
pub const SECRETS_POLICY_PREFIX: &str = "privateapi-read-secrets-";

/// Lets API Gateway send to the queues of the SQS routes. Named with the document's
/// fingerprint, like the secrets policy.
pub const QUEUES_POLICY_PREFIX: &str = "privateapi-send-to-queues-";

/// Lets API Gateway invoke the Lambda authorizer's function (exactly that one).
/// Named with the document's fingerprint, like the secrets policy.
pub const INVOKE_POLICY_PREFIX: &str = "privateapi-invoke-authorizer-";

/// The only trusts the operator ever writes: IAM cannot hold CreateRole to a trust
/// document, so the code keeps to these two and the permissions boundary caps the rest.
/// The principals are the same in every partition: service principals keep the global
/// `SERVICE.amazonaws.com` form (China and GovCloud included) except a few older
/// services neither ECS nor API Gateway is one of (EC2 in China is `ec2.amazonaws.com.cn`).
const TASKS_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const API_GATEWAY_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Roles the operator makes live under this path. Only the operator's policy (and
/// administrators) may create roles here, so every role it may pass to ECS is one it
/// made with the boundary, or one an administrator put here for it.
pub const ROLE_PATH: &str = "/privateapi/";

/// How the operator may make IAM roles: the installer's choice, one per operator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleSettings {
    /// The managed policy every role the operator creates carries as its permissions
    /// boundary (`--role-permissions-boundary`); the shipped IAM policy refuses
    /// CreateRole without it.
    pub permissions_boundary: Option<String>,
    /// `--no-role-creation`: every PrivateApi names its execution and task roles.
    pub creation_disabled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Execution,
    Task,
    /// API Gateway's, for the SQS routes.
    ApiGateway,
}

impl RoleKind {
    pub const ALL: [RoleKind; 3] = [RoleKind::Execution, RoleKind::Task, RoleKind::ApiGateway];

    pub fn part(self) -> &'static str {
        match self {
            RoleKind::Execution => "role-execution",
            RoleKind::Task => "role-task",
            RoleKind::ApiGateway => "role-api-gateway",
        }
    }

    fn name_suffix(self) -> &'static str {
        match self {
            RoleKind::Execution => "exec",
            RoleKind::Task => "task",
            RoleKind::ApiGateway => "apigw",
        }
    }

    fn trust_policy(self) -> &'static str {
        match self {
            RoleKind::Execution | RoleKind::Task => TASKS_TRUST_POLICY,
            RoleKind::ApiGateway => API_GATEWAY_TRUST_POLICY,
        }
    }

    fn description(self) -> &'static str {
        match self {
            RoleKind::Execution | RoleKind::Task => "privateapi-operator: ECS task role",
            RoleKind::ApiGateway => "privateapi-operator: API Gateway's role for SQS routes and a Lambda authorizer",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRole {
    pub kind: RoleKind,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub managed_policies: Vec<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, String>,
    /// The region's partition, which the policies' ARNs are in.
    pub partition: Partition,
}

impl DesiredRole {
    /// Policies to keep on the role (the task role has none).
    pub fn has_policies(&self) -> bool {
        !self.managed_policies.is_empty() || !self.inline_policies.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRole {
    pub name: String,
    pub arn: String,
    pub managed_policies: Vec<String>,
    pub inline_policies: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RoleChange {
    Create,
    AttachPolicy(String),
    PutInlinePolicy(String),
    /// A secrets policy of ours the spec no longer wants.
    DeleteInlinePolicy(String),
}

impl DesiredRole {
    /// The execution role, allowed to read exactly these secrets (and decrypt with
    /// the key, through SSM and Secrets Manager only); other roles unchanged.
    pub fn reading_secrets(mut self, secrets: &[SecretVar], kms_key: Option<&str>) -> Self {
        if self.kind != RoleKind::Execution || secrets.is_empty() {
            return self;
        }
        let document = secrets_policy(secrets, kms_key, self.partition);
        let name = format!("{SECRETS_POLICY_PREFIX}{}", fingerprint(&document));
        self.inline_policies.insert(name, document);
        self
    }

    /// The API Gateway role, allowed to send to exactly these queues.
    pub fn sending_to(mut self, queues: &BTreeSet<String>) -> Self {
        if self.kind != RoleKind::ApiGateway || queues.is_empty() {
            return self;
        }
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queues}],
        })
        .to_string();
        let name = format!("{QUEUES_POLICY_PREFIX}{}", fingerprint(&document));
        self.inline_policies.insert(name, document);
        self
    }
}

impl DesiredRole {
    /// The API Gateway role, allowed to invoke exactly this function (a Lambda
    /// authorizer's). The function's own resource policy is left as it is.
    pub fn invoking(mut self, function: Option<&str>) -> Self {
        let Some(function) = function.filter(|_| self.kind == RoleKind::ApiGateway) else {
            return self;
        };
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}],
        })
        .to_string();
        let name = format!("{INVOKE_POLICY_PREFIX}{}", fingerprint(&document));
        self.inline_policies.insert(name, document);
        self
    }
}

fn secrets_policy(secrets: &[SecretVar], kms_key: Option<&str>, partition: Partition) -> String {
    let (mut parameters, mut stored) = (BTreeSet::new(), BTreeSet::new());
    for secret in secrets {
        if secret.value_from.split(':').nth(2) == Some("ssm") {
            parameters.insert(secret.value_from.clone());
        } else {
            stored.insert(secret_resource(&secret.value_from));
        }
    }
    let mut statements = Vec::new();
    if !parameters.is_empty() {
        statements.push(serde_json::json!({"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameters}));
    }
    if !stored.is_empty() {
        statements.push(
            serde_json::json!({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": stored}),
        );
    }
    if let Some(key) = kms_key {
        statements.push(serde_json::json!({
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key,
            // The services' endpoint names, which end in the partition's DNS suffix.
            "Condition": {"StringLike": {"kms:ViaService": [
                partition.service_host("ssm", "*"),
                partition.service_host("secretsmanager", "*"),
            ]}},
        }));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// The IAM resource of a Secrets Manager `valueFrom`: the secret's ARN without a JSON
/// key or version, and, when it names the secret without AWS's random six-character
/// suffix, with a pattern for exactly that suffix.
fn secret_resource(value_from: &str) -> String {
    let arn = value_from.split(':').take(7).collect::<Vec<_>>().join(":");
    let name = arn.rsplit(':').next().unwrap_or_default();
    let suffixed = name
        .rsplit_once('-')
        .is_some_and(|(_, tail)| tail.len() == 6 && tail.chars().all(|c| c.is_ascii_alphanumeric()));
    if suffixed { arn } else { format!("{arn}-??????") }
}

/// The role of `kind`, its policies' ARNs in `partition` (the region's).
pub fn desired(
    owner: &Owner,
    kind: RoleKind,
    user_tags: &BTreeMap<String, String>,
    log_group: &str,
    partition: Partition,
) -> DesiredRole {
    let (managed_policies, inline_policies) = match kind {
        RoleKind::Execution => (
            vec![execution_policy_arn(partition)],
            BTreeMap::from([(
                LOGS_POLICY_NAME.to_owned(),
                serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "logs:CreateLogGroup",
                        "Resource": partition.arn("logs", "*", "*", &format!("log-group:{log_group}:*")),
                    }]
                })
                .to_string(),
            )]),
        ),
        RoleKind::Task | RoleKind::ApiGateway => (Vec::new(), BTreeMap::new()),
    };
    DesiredRole {
        kind,
        name: owner.resource_name(kind.name_suffix(), 64),
        tags: owner.tags(kind.part(), user_tags),
        managed_policies,
        inline_policies,
        partition,
    }
}

pub fn diff(desired: &DesiredRole, observed: Option<&ObservedRole>) -> Vec<RoleChange> {
    let Some(observed) = observed else {
        let mut changes = vec![RoleChange::Create];
        changes.extend(desired.managed_policies.iter().cloned().map(RoleChange::AttachPolicy));
        changes.extend(desired.inline_policies.keys().cloned().map(RoleChange::PutInlinePolicy));
        return changes;
    };
    let mut changes: Vec<RoleChange> = desired
        .managed_policies
        .iter()
        .filter(|p| !observed.managed_policies.contains(p))
        .cloned()
        .map(RoleChange::AttachPolicy)
        .collect();
    changes.extend(
        desired
            .inline_policies
            .keys()
            .filter(|p| !observed.inline_policies.contains(p))
            .cloned()
            .map(RoleChange::PutInlinePolicy),
    );
    // After the new one is in place, so that tasks never lose access in between.
    changes.extend(
        observed
            .inline_policies
            .iter()
            .filter(|p| {
                [SECRETS_POLICY_PREFIX, QUEUES_POLICY_PREFIX, INVOKE_POLICY_PREFIX]
                    .iter()
                    .any(|prefix| p.starts_with(prefix))
                    && !desired.inline_policies.contains_key(*p)
            })
            .cloned()
            .map(RoleChange::DeleteInlinePolicy),
    );
    changes
}

/// Reads the role (and, when it has policies to keep, its policies).
pub async fn observe(aws: &Aws, owner: &Owner, desired: &DesiredRole) -> AwsResult<Option<ObservedRole>> {
    observe_named(aws, owner, &desired.name, desired.has_policies()).await
}

/// Reads the role called `name` (and its policies, `with_policies`); a role of that
/// name without our uid tag is a conflict.
pub async fn observe_named(
    aws: &Aws,
    owner: &Owner,
    name: &str,
    with_policies: bool,
) -> AwsResult<Option<ObservedRole>> {
    let Some(role) = found(
        aws.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(aws_err("GetRole")),
    )?
    else {
        return Ok(None);
    };
    let Some(role) = role.role() else {
        return Ok(None);
    };
    if !owner.owns(role.tags().iter().map(|t| (t.key(), t.value()))) {
        return Err(AwsError::Conflict(format!(
            "IAM role {name} exists but is not owned by {} (no matching privateapi.io/uid tag); rename or delete it",
            owner.key()
        )));
    }
    let (managed_policies, inline_policies) = if !with_policies {
        (Vec::new(), Vec::new())
    } else {
        policies(aws, name).await?
    };
    Ok(Some(ObservedRole {
        name: name.to_owned(),
        arn: role.arn().to_owned(),
        managed_policies,
        inline_policies,
    }))
}

/// A role made by a full pass, read cheaply for the drift check: its policies when it
/// has some to keep (listing them fails once the role is gone), else only that it is
/// there. One or two reads where `observe` makes three; ownership is left to the full
/// pass, which reads the role's tags, and the ARN is not read.
pub async fn observe_policies(aws: &Aws, desired: &DesiredRole) -> AwsResult<Option<ObservedRole>> {
    let policies = if !desired.has_policies() {
        let role = aws.iam.get_role().role_name(&desired.name).send().await;
        found(role.map_err(aws_err("GetRole")))?.map(|_| Default::default())
    } else {
        found(policies(aws, &desired.name).await)?
    };
    Ok(policies.map(|(managed_policies, inline_policies)| ObservedRole {
        name: desired.name.clone(),
        arn: String::new(),
        managed_policies,
        inline_policies,
    }))
}

async fn policies(aws: &Aws, role: &str) -> AwsResult<(Vec<String>, Vec<String>)> {
    let (attached, inline) = tokio::join!(
        aws.iam.list_attached_role_policies().role_name(role).send(),
        aws.iam.list_role_policies().role_name(role).send(),
    );
    let attached = attached.map_err(aws_err("ListAttachedRolePolicies"))?;
    let inline = inline.map_err(aws_err("ListRolePolicies"))?;
    Ok((
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect(),
        inline.policy_names().to_vec(),
    ))
}

/// Creates the role (trust: ECS tasks; tags and boundary only here, at creation) and
/// returns its ARN.
pub async fn create(aws: &Aws, desired: &DesiredRole) -> AwsResult<String> {
    let tags: Vec<Tag> = desired
        .tags
        .iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect();
    let result = aws
        .iam
        .create_role()
        .role_name(&desired.name)
        .path(ROLE_PATH)
        .assume_role_policy_document(desired.kind.trust_policy())
        .set_permissions_boundary(aws.roles.permissions_boundary.clone())
        .description(desired.kind.description())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(aws_err("CreateRole"));
    match result {
        Ok(out) => out.role().map(|r| r.arn().to_owned()).ok_or(AwsError::Incomplete {
            operation: "CreateRole",
            field: "Role",
        }),
        // Created by an earlier call whose answer was lost.
        Err(e) if e.code() == Some("EntityAlreadyExists") => {
            let out = aws
                .iam
                .get_role()
                .role_name(&desired.name)
                .send()
                .await
                .map_err(aws_err("GetRole"))?;
            out.role().map(|r| r.arn().to_owned()).ok_or(AwsError::Incomplete {
                operation: "GetRole",
                field: "Role",
            })
        }
        Err(e) => Err(e),
    }
}

pub async fn attach_policy(aws: &Aws, role: &str, policy_arn: &str) -> AwsResult<()> {
    aws.iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(aws_err("AttachRolePolicy"))?;
    Ok(())
}

pub async fn put_inline_policy(aws: &Aws, desired: &DesiredRole, name: &str) -> AwsResult<()> {
    let document = desired.inline_policies.get(name).cloned().unwrap_or_default();
    aws.iam
        .put_role_policy()
        .role_name(&desired.name)
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .map_err(aws_err("PutRolePolicy"))?;
    Ok(())
}

pub async fn delete_inline_policy(aws: &Aws, role: &str, name: &str) -> AwsResult<()> {
    found(
        aws.iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(aws_err("DeleteRolePolicy")),
    )?;
    Ok(())
}

/// Detaches every policy and deletes the role; no-op when it is gone.
pub async fn delete(aws: &Aws, name: &str) -> AwsResult<()> {
    let (attached, inline) = match policies(aws, name).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for arn in attached {
        found(
            aws.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(aws_err("DetachRolePolicy")),
        )?;
    }
    for policy in inline {
        found(
            aws.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(aws_err("DeleteRolePolicy")),
        )?;
    }
    found(
        aws.iam
            .delete_role()
            .role_name(name)
            .send()
            .await
            .map_err(aws_err("DeleteRole")),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_role_is_created_with_its_policies() {
        let owner = Owner::new("ns", "api", "uid");
        let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", Partition::AWS);
        assert_eq!(
            diff(&role, None),
            vec![
                RoleChange::Create,
                RoleChange::AttachPolicy(execution_policy_arn(Partition::AWS)),
                RoleChange::PutInlinePolicy(LOGS_POLICY_NAME.into())
            ]
        );
    }

    #[test]
    fn detached_policy_is_reattached() {
        let owner = Owner::new("ns", "api", "uid");
        let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", Partition::AWS);
        let observed = ObservedRole {
            name: role.name.clone(),
            arn: "arn".into(),
            managed_policies: vec![],
            inline_policies: vec![LOGS_POLICY_NAME.into()],
        };
        assert_eq!(
            diff(&role, Some(&observed)),
            vec![RoleChange::AttachPolicy(execution_policy_arn(Partition::AWS))]
        );
        let task = desired(&owner, RoleKind::Task, &BTreeMap::new(), "/ecs/x", Partition::AWS);
        let observed_task = ObservedRole {
            name: task.name.clone(),
            arn: "arn".into(),
            managed_policies: vec![],
            inline_policies: vec![],
        };
        assert!(diff(&task, Some(&observed_task)).is_empty());
    }

    #[test]
    fn managed_policy_arns_follow_the_partition() {
        let owner = Owner::new("ns", "api", "uid");
        let secrets = [secret("DB", "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/db")];
        let kms = "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        for (region, policy, logs, via) in [
            (
                "cn-north-1",
                "arn:aws-cn:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                "arn:aws-cn:logs:*:*:log-group:/ecs/x:*",
                "ssm.*.amazonaws.com.cn",
            ),
            (
                "us-gov-west-1",
                "arn:aws-us-gov:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                "arn:aws-us-gov:logs:*:*:log-group:/ecs/x:*",
                "ssm.*.amazonaws.com",
            ),
            (
                "eu-west-1",
                "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
                "arn:aws:logs:*:*:log-group:/ecs/x:*",
                "ssm.*.amazonaws.com",
            ),
        ] {
            let partition = Partition::of_region(region);
            let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", partition)
                .reading_secrets(&secrets, Some(kms));
            assert_eq!(role.managed_policies, [policy], "{region}");
            assert_eq!(execution_policy_arn(partition), policy);
            let logs_policy = &role.inline_policies[LOGS_POLICY_NAME];
            assert!(
                logs_policy.contains(&format!("\"Resource\":\"{logs}\"")),
                "{region}: {logs_policy}"
            );
            let secrets_policy = role
                .inline_policies
                .iter()
                .find_map(|(name, document)| name.starts_with(SECRETS_POLICY_PREFIX).then_some(document))
                .expect("a secrets policy");
            assert!(
                secrets_policy.contains(&format!("\"{via}\"")),
                "{region}: {secrets_policy}"
            );
        }
    }

    fn secret(name: &str, value_from: &str) -> SecretVar {
        SecretVar {
            name: name.into(),
            value_from: value_from.into(),
        }
    }

    #[test]
    fn the_execution_role_reads_exactly_the_secrets() {
        let owner = Owner::new("ns", "api", "uid");
        let secrets = [
            secret("DB", "arn:aws:ssm:eu-west-1:123456789012:parameter/shop/db"),
            secret(
                "API_KEY",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/api-AbCdEf:key::",
            ),
            secret("TOKEN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token"),
        ];
        let kms = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", Partition::AWS)
            .reading_secrets(&secrets, Some(kms));
        let (name, document) = role
            .inline_policies
            .iter()
            .find(|(name, _)| name.starts_with(SECRETS_POLICY_PREFIX))
            .expect("a secrets policy");
        let document: serde_json::Value = serde_json::from_str(document).expect("JSON");
        let statements = document["Statement"].as_array().expect("statements");
        let resources = |action: &str| {
            statements
                .iter()
                .find(|s| s["Action"] == action)
                .map(|s| s["Resource"].clone())
                .unwrap_or_default()
        };
        assert_eq!(
            resources("ssm:GetParameters"),
            serde_json::json!([secrets[0].value_from])
        );
        assert_eq!(
            resources("secretsmanager:GetSecretValue"),
            serde_json::json!([
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/api-AbCdEf",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-??????"
            ])
        );
        assert_eq!(resources("kms:Decrypt"), serde_json::json!(kms));
        // The task role reads nothing.
        let task = desired(&owner, RoleKind::Task, &BTreeMap::new(), "/ecs/x", Partition::AWS)
            .reading_secrets(&secrets, Some(kms));
        assert!(!task.has_policies());
        // Another list is another policy; the old one goes after the new one is put.
        let changed = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", Partition::AWS)
            .reading_secrets(&secrets[..1], None);
        let observed = ObservedRole {
            name: role.name.clone(),
            arn: "arn".into(),
            managed_policies: vec![execution_policy_arn(Partition::AWS)],
            inline_policies: role.inline_policies.keys().cloned().collect(),
        };
        let changes = diff(&changed, Some(&observed));
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            matches!(&changes[0], RoleChange::PutInlinePolicy(p) if p.starts_with(SECRETS_POLICY_PREFIX) && p != name)
        );
        assert_eq!(changes[1], RoleChange::DeleteInlinePolicy(name.clone()));
        // No secrets: the policy goes, and nothing else changes.
        let none = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x", Partition::AWS);
        assert_eq!(
            diff(&none, Some(&observed)),
            vec![RoleChange::DeleteInlinePolicy(name.clone())]
        );
    }
}
