//! IAM roles for the tasks: an execution role (pulls the image, writes logs) and a
//! task role (the application's identity), unless the spec names existing ones.
//!
//! Roles have deterministic names; a role with our name but without our uid tag is
//! someone else's and is never touched.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::Owner;

pub const EXECUTION_POLICY_ARN: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// Lets the awslogs driver create the service's log group on first start.
pub const LOGS_POLICY_NAME: &str = "privateapi-create-log-group";

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    Execution,
    Task,
}

impl RoleKind {
    pub fn part(self) -> &'static str {
        match self {
            RoleKind::Execution => "role-execution",
            RoleKind::Task => "role-task",
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
}

pub fn desired(owner: &Owner, kind: RoleKind, user_tags: &BTreeMap<String, String>, log_group: &str) -> DesiredRole {
    let suffix = match kind {
        RoleKind::Execution => "exec",
        RoleKind::Task => "task",
    };
    let (managed_policies, inline_policies) = match kind {
        RoleKind::Execution => (
            vec![EXECUTION_POLICY_ARN.to_owned()],
            BTreeMap::from([(
                LOGS_POLICY_NAME.to_owned(),
                serde_json::json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "logs:CreateLogGroup",
                        "Resource": format!("arn:aws:logs:*:*:log-group:{log_group}:*"),
                    }]
                })
                .to_string(),
            )]),
        ),
        RoleKind::Task => (Vec::new(), BTreeMap::new()),
    };
    DesiredRole {
        kind,
        name: owner.resource_name(suffix, 64),
        tags: owner.tags(kind.part(), user_tags),
        managed_policies,
        inline_policies,
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

/// Creates the role (trust: ECS tasks) and returns its ARN.
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
        .assume_role_policy_document(TRUST_POLICY)
        .description("privateapi-operator: ECS task role")
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
        let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x");
        assert_eq!(
            diff(&role, None),
            vec![
                RoleChange::Create,
                RoleChange::AttachPolicy(EXECUTION_POLICY_ARN.into()),
                RoleChange::PutInlinePolicy(LOGS_POLICY_NAME.into())
            ]
        );
    }

    #[test]
    fn detached_policy_is_reattached() {
        let owner = Owner::new("ns", "api", "uid");
        let role = desired(&owner, RoleKind::Execution, &BTreeMap::new(), "/ecs/x");
        let observed = ObservedRole {
            name: role.name.clone(),
            arn: "arn".into(),
            managed_policies: vec![],
            inline_policies: vec![LOGS_POLICY_NAME.into()],
        };
        assert_eq!(
            diff(&role, Some(&observed)),
            vec![RoleChange::AttachPolicy(EXECUTION_POLICY_ARN.into())]
        );
        let task = desired(&owner, RoleKind::Task, &BTreeMap::new(), "/ecs/x");
        let observed_task = ObservedRole {
            name: task.name.clone(),
            arn: "arn".into(),
            managed_policies: vec![],
            inline_policies: vec![],
        };
        assert!(diff(&task, Some(&observed_task)).is_empty());
    }
}
