//! Subnet resolution: explicit IDs are checked to exist in the VPC; a tag selector
//! is turned into IDs. One `DescribeSubnets` call either way.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err};

/// The subnets to use, sorted so that the result (and anything hashed from it) is
/// stable whatever order AWS or the user gives them in.
pub async fn resolve_subnets(
    aws: &Aws,
    vpc_id: &str,
    ids: Option<&[String]>,
    selector: Option<&BTreeMap<String, String>>,
) -> AwsResult<Vec<String>> {
    let mut req = aws
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build());
    if let Some(ids) = ids {
        req = req.filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(ids.to_vec()))
                .build(),
        );
    }
    if let Some(selector) = selector {
        for (key, value) in selector {
            req = req.filters(Filter::builder().name(format!("tag:{key}")).values(value).build());
        }
    }
    let out = req.send().await.map_err(aws_err("DescribeSubnets"))?;
    let mut found: Vec<String> = out
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    found.sort();
    found.dedup();
    if let Some(ids) = ids {
        let missing: Vec<&String> = ids.iter().filter(|id| !found.contains(id)).collect();
        if !missing.is_empty() {
            return Err(AwsError::Api {
                operation: "DescribeSubnets",
                code: "InvalidSubnetID.NotFound".into(),
                message: format!(
                    "subnet(s) {} not found in VPC {vpc_id}",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    if found.len() < 2 {
        return Err(AwsError::Api {
            operation: "DescribeSubnets",
            code: "InsufficientSubnets".into(),
            message: format!(
                "found {} subnet(s) in VPC {vpc_id} for the selector; an ALB needs at least two in different availability zones",
                found.len()
            ),
        });
    }
    Ok(found)
}
