//! The tasks' CloudWatch Logs group: made by the operator before the service starts,
//! with the retention the spec asks for, and deleted with the stack unless the spec
//! keeps it (`service.logs.deletionPolicy: Retain`).
//!
//! The group's name is derived from the owner (`/ecs/privateapi/NAMESPACE/NAME`), under
//! a prefix that is the operator's alone, and found by that name: a group the awslogs
//! driver made for a stack older than this (no tags, no retention) is adopted and given
//! the retention.

use std::collections::BTreeMap;

use super::Aws;
use super::error::{AwsResult, aws_err, found};

/// CloudWatch Logs' retention values (days), as PutRetentionPolicy takes them.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLogGroup {
    pub name: String,
    pub retention_days: i32,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedLogGroup {
    pub name: String,
    /// None: the events never expire (no retention policy).
    pub retention_days: Option<i32>,
}

/// The group of exactly this name, if it exists.
pub async fn observe(aws: &Aws, name: &str) -> AwsResult<Option<ObservedLogGroup>> {
    // The prefix is the whole name: at most the group and those whose names extend it
    // (another namespace/name pair never does: both parts are DNS names without '/').
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(aws_err("DescribeLogGroups"))?;
    Ok(out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .map(|g| ObservedLogGroup {
            name: name.to_owned(),
            retention_days: g.retention_in_days(),
        }))
}

/// CreateLogGroup (with the tags: only at creation), then its retention. A group that
/// appeared meanwhile (the awslogs driver of a starting task) gets the retention too.
pub async fn create(aws: &Aws, desired: &DesiredLogGroup) -> AwsResult<()> {
    let created = aws
        .logs
        .create_log_group()
        .log_group_name(&desired.name)
        .set_tags(Some(desired.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("CreateLogGroup"));
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(e),
    }
    set_retention(aws, &desired.name, desired.retention_days).await
}

pub async fn set_retention(aws: &Aws, name: &str, days: i32) -> AwsResult<()> {
    aws.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(aws_err("PutRetentionPolicy"))?;
    Ok(())
}

/// Deletes the group and its events; gone already is done.
pub async fn delete(aws: &Aws, name: &str) -> AwsResult<()> {
    found(
        aws.logs
            .delete_log_group()
            .log_group_name(name)
            .send()
            .await
            .map_err(aws_err("DeleteLogGroup")),
    )?;
    Ok(())
}
