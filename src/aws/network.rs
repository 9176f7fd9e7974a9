//! Subnet resolution: explicit IDs are looked up (wherever they are, so that one in
//! another VPC is named as such); a tag selector is turned into the VPC's subnets
//! that match. One `DescribeSubnets` call either way, before the first write: its
//! answer also carries what the pre-flight checks need (VPC, availability zone).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::Aws;
use super::error::{AwsResult, aws_err};

/// A subnet as the pre-flight checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub zone: String,
}

/// The subnets AWS holds for the spec's IDs (any VPC; the caller checks) or for the
/// selector (the VPC's only), sorted by ID so that the result (and anything hashed
/// from it) is stable whatever order AWS or the user gives them in.
pub async fn describe_subnets(
    aws: &Aws,
    vpc_id: &str,
    ids: Option<&[String]>,
    selector: Option<&BTreeMap<String, String>>,
) -> AwsResult<Vec<Subnet>> {
    let mut req = aws.ec2.describe_subnets();
    match ids {
        // A filter, not SubnetIds: an unknown ID is then missing from the answer
        // (and named below) instead of failing the whole call.
        Some(ids) => {
            req = req.filters(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(ids.to_vec()))
                    .build(),
            )
        }
        None => req = req.filters(Filter::builder().name("vpc-id").values(vpc_id).build()),
    }
    if let Some(selector) = selector {
        for (key, value) in selector {
            req = req.filters(Filter::builder().name(format!("tag:{key}")).values(value).build());
        }
    }
    let out = req.send().await.map_err(aws_err("DescribeSubnets"))?;
    let mut found: Vec<Subnet> = out
        .subnets()
        .iter()
        .filter_map(|s| {
            Some(Subnet {
                id: s.subnet_id()?.to_owned(),
                vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                zone: s.availability_zone().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found.dedup_by(|a, b| a.id == b.id);
    Ok(found)
}
