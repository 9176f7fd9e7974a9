//! The API Gateway VPC Link V2 (apigatewayv2 `CreateVpcLink`, used by REST APIs too).
//!
//! Subnets and security groups of a link cannot change, so a link carries the
//! fingerprint of its network configuration in a tag: a different desired network
//! means a new link, and the old one is deleted once nothing references it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigatewayv2::types::{VpcLink, VpcLinkStatus};

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_UID, fingerprint};
use super::{Aws, all_pages};

pub const TAG_CONFIG: &str = "privateapi.io/config";

/// `R`: how the security groups are named (IDs, or references in the stack model).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredVpcLink<R = String> {
    pub name: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<R>,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredVpcLink<R> {
    pub fn try_map<S>(&self, f: impl FnMut(&R) -> Option<S>) -> Option<DesiredVpcLink<S>> {
        Some(DesiredVpcLink {
            name: self.name.clone(),
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.iter().map(f).collect::<Option<_>>()?,
            tags: self.tags.clone(),
        })
    }
}

impl DesiredVpcLink {
    pub fn fingerprint(&self) -> String {
        fingerprint(&format!("{:?}|{:?}", self.subnets, self.security_groups))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Pending,
    Available,
    Deleting,
    Failed,
}

impl From<Option<&VpcLinkStatus>> for LinkState {
    /// An INACTIVE link (unused for ~60 days) revives on use: usable.
    fn from(status: Option<&VpcLinkStatus>) -> Self {
        match status {
            Some(VpcLinkStatus::Available) | Some(VpcLinkStatus::Inactive) => LinkState::Available,
            Some(VpcLinkStatus::Deleting) => LinkState::Deleting,
            Some(VpcLinkStatus::Failed) => LinkState::Failed,
            _ => LinkState::Pending,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedVpcLink {
    pub id: String,
    pub state: LinkState,
    pub message: Option<String>,
    pub fingerprint: Option<String>,
    pub created: i64,
}

/// Every link of ours, oldest first.
pub async fn observe(aws: &Aws, owner: &Owner) -> AwsResult<Vec<ObservedVpcLink>> {
    Ok(ours(&list_region(aws).await?, owner))
}

/// Ours among a region's links (see [`list_region`]), oldest first.
pub fn ours(links: &[VpcLink], owner: &Owner) -> Vec<ObservedVpcLink> {
    let mut links: Vec<ObservedVpcLink> = links
        .iter()
        .filter(|link| link.tags().and_then(|t| t.get(TAG_UID)) == Some(&owner.uid))
        .map(convert)
        .collect();
    links.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    links
}

/// Every link in the region, with the uid of the PrivateApi that owns it, if any.
pub async fn list_all(aws: &Aws) -> AwsResult<Vec<(Option<String>, ObservedVpcLink)>> {
    Ok(owners(&list_region(aws).await?))
}

/// A region's links (see [`list_region`]), each with the uid of the PrivateApi that
/// owns it, if any.
pub fn owners(links: &[VpcLink]) -> Vec<(Option<String>, ObservedVpcLink)> {
    links
        .iter()
        .map(|link| (link.tags().and_then(|t| t.get(TAG_UID)).cloned(), convert(link)))
        .collect()
}

/// Every link in the region as AWS lists it: ours, shared ones (shared_link.rs) and
/// others'. One listing serves both kinds in a pass.
pub async fn list_region(aws: &Aws) -> AwsResult<Vec<VpcLink>> {
    all_pages("GetVpcLinks", |token| async move {
        let out = aws
            .apigwv2()
            .await
            .get_vpc_links()
            .max_results("500")
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("GetVpcLinks"))?;
        Ok((out.items().to_vec(), out.next_token().map(str::to_owned)))
    })
    .await
}

fn convert(link: &VpcLink) -> ObservedVpcLink {
    ObservedVpcLink {
        id: link.vpc_link_id().unwrap_or_default().to_owned(),
        state: LinkState::from(link.vpc_link_status()),
        message: link.vpc_link_status_message().map(str::to_owned),
        fingerprint: link.tags().and_then(|t| t.get(TAG_CONFIG)).cloned(),
        created: link.created_date().map(|d| d.secs()).unwrap_or_default(),
    }
}

/// A link named in the spec (used as it is, never changed or deleted); `None` when
/// the region has no such link.
pub async fn observe_existing(aws: &Aws, id: &str) -> AwsResult<Option<ObservedVpcLink>> {
    let out = found(
        aws.apigwv2()
            .await
            .get_vpc_link()
            .vpc_link_id(id)
            .send()
            .await
            .map_err(aws_err("GetVpcLink")),
    )?;
    Ok(out.map(|out| ObservedVpcLink {
        id: id.to_owned(),
        state: LinkState::from(out.vpc_link_status()),
        message: out.vpc_link_status_message().map(str::to_owned),
        fingerprint: None,
        created: 0,
    }))
}

/// The link to use (oldest with the desired configuration) and the links to retire.
pub fn choose<'a>(
    desired: &DesiredVpcLink,
    observed: &'a [ObservedVpcLink],
) -> (Option<&'a ObservedVpcLink>, Vec<&'a ObservedVpcLink>) {
    let wanted = desired.fingerprint();
    let current = observed
        .iter()
        .find(|l| l.fingerprint.as_deref() == Some(wanted.as_str()) && l.state != LinkState::Deleting);
    let retire = observed
        .iter()
        .filter(|l| Some(l.id.as_str()) != current.map(|c| c.id.as_str()))
        .collect();
    (current, retire)
}

/// The new link's id and the state AWS reports for it (PENDING, on AWS).
pub async fn create(aws: &Aws, desired: &DesiredVpcLink) -> AwsResult<(String, LinkState)> {
    let mut tags: HashMap<String, String> = desired.tags.clone().into_iter().collect();
    tags.insert(TAG_CONFIG.into(), desired.fingerprint());
    aws.pacer.pace("CreateVpcLink", &desired.name).await?;
    let out = aws
        .apigwv2()
        .await
        .create_vpc_link()
        .name(&desired.name)
        .set_subnet_ids(Some(desired.subnets.clone()))
        .set_security_group_ids(Some(desired.security_groups.clone()))
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(aws_err("CreateVpcLink"))?;
    let id = out.vpc_link_id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateVpcLink",
        field: "VpcLinkId",
    })?;
    Ok((id, LinkState::from(out.vpc_link_status())))
}

pub async fn delete(aws: &Aws, id: &str) -> AwsResult<()> {
    aws.pacer.pace("DeleteVpcLink", id).await?;
    found(
        aws.apigwv2()
            .await
            .delete_vpc_link()
            .vpc_link_id(id)
            .send()
            .await
            .map_err(aws_err("DeleteVpcLink")),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(subnets: &[&str]) -> DesiredVpcLink {
        DesiredVpcLink {
            name: "l".into(),
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            security_groups: vec!["sg-1".into()],
            tags: BTreeMap::new(),
        }
    }

    fn link(id: &str, fp: &str, created: i64) -> ObservedVpcLink {
        ObservedVpcLink {
            id: id.into(),
            state: LinkState::Available,
            message: None,
            fingerprint: Some(fp.into()),
            created,
        }
    }

    #[test]
    fn keeps_the_oldest_matching_link_and_retires_the_rest() {
        let d = desired(&["subnet-a", "subnet-b"]);
        let fp = d.fingerprint();
        let links = vec![link("old", "stale", 1), link("keep", &fp, 2), link("dup", &fp, 3)];
        let (current, retire) = choose(&d, &links);
        assert_eq!(current.map(|l| l.id.as_str()), Some("keep"));
        let retired: Vec<&str> = retire.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(retired, vec!["old", "dup"]);
    }

    #[test]
    fn new_subnets_mean_a_new_link() {
        let before = desired(&["subnet-a", "subnet-b"]);
        let after = desired(&["subnet-a", "subnet-c"]);
        let links = vec![link("l1", &before.fingerprint(), 1)];
        let (current, retire) = choose(&after, &links);
        assert!(current.is_none());
        assert_eq!(retire.len(), 1);
    }
}
