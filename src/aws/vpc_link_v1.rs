//! The API Gateway VPC Link V1 (apigateway `CreateVpcLink`): bound to one Network
//! Load Balancer, serving REST APIs only. Its integrations name the link as
//! `connectionId` and the NLB by its DNS name in the URI, without `integrationTarget`.
//!
//! A link's target cannot change: a link to another NLB is a new link, and the old one
//! is deleted once no integration uses it.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::VpcLinkStatus;

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_UID};
use super::vpc_link::LinkState;
use super::{Aws, all_pages};

/// `R`: how the NLB is named (its ARN, or a reference in the stack model).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredVpcLinkV1<R = String> {
    pub name: String,
    pub target: R,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredVpcLinkV1<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredVpcLinkV1<S>> {
        Some(DesiredVpcLinkV1 {
            name: self.name.clone(),
            target: f(&self.target)?,
            tags: self.tags.clone(),
        })
    }
}

impl From<Option<&VpcLinkStatus>> for LinkState {
    fn from(status: Option<&VpcLinkStatus>) -> Self {
        match status {
            Some(VpcLinkStatus::Available) => LinkState::Available,
            Some(VpcLinkStatus::Deleting) => LinkState::Deleting,
            Some(VpcLinkStatus::Failed) => LinkState::Failed,
            _ => LinkState::Pending,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedVpcLinkV1 {
    pub id: String,
    pub state: LinkState,
    pub message: Option<String>,
    pub targets: Vec<String>,
}

/// Every V1 link in the region, with the uid of the PrivateApi that owns it, if any.
pub async fn list_all(aws: &Aws) -> AwsResult<Vec<(Option<String>, ObservedVpcLinkV1)>> {
    all_pages("GetVpcLinks", |position| async move {
        let out = aws
            .apigw()
            .await
            .get_vpc_links()
            .limit(500)
            .set_position(position)
            .send()
            .await
            .map_err(aws_err("GetVpcLinks"))?;
        let links = out
            .items()
            .iter()
            .map(|link| {
                let uid = link.tags().and_then(|t| t.get(TAG_UID)).cloned();
                let observed = ObservedVpcLinkV1 {
                    id: link.id().unwrap_or_default().to_owned(),
                    state: LinkState::from(link.status()),
                    message: link.status_message().map(str::to_owned),
                    targets: link.target_arns().to_vec(),
                };
                (uid, observed)
            })
            .collect();
        Ok((links, out.position().map(str::to_owned)))
    })
    .await
}

/// Every V1 link of ours, by id (AWS gives no creation date).
pub async fn observe(aws: &Aws, owner: &Owner) -> AwsResult<Vec<ObservedVpcLinkV1>> {
    let mut links: Vec<ObservedVpcLinkV1> = list_all(aws)
        .await?
        .into_iter()
        .filter(|(uid, _)| uid.as_deref() == Some(owner.uid.as_str()))
        .map(|(_, link)| link)
        .collect();
    links.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(links)
}

/// The link to use (one to the desired NLB, not being deleted) and the links to retire.
pub fn choose<'a>(
    desired: &DesiredVpcLinkV1,
    observed: &'a [ObservedVpcLinkV1],
) -> (Option<&'a ObservedVpcLinkV1>, Vec<&'a ObservedVpcLinkV1>) {
    let current = observed
        .iter()
        .find(|l| l.targets == [desired.target.clone()] && l.state != LinkState::Deleting);
    let retire = observed
        .iter()
        .filter(|l| Some(l.id.as_str()) != current.map(|c| c.id.as_str()))
        .collect();
    (current, retire)
}

/// The new link's id and the state AWS reports for it (PENDING, on AWS).
pub async fn create(aws: &Aws, desired: &DesiredVpcLinkV1) -> AwsResult<(String, LinkState)> {
    aws.pacer.pace("CreateVpcLink", &desired.name).await?;
    let out = aws
        .apigw()
        .await
        .create_vpc_link()
        .name(&desired.name)
        .target_arns(&desired.target)
        .set_tags(Some(desired.tags.clone().into_iter().collect::<HashMap<_, _>>()))
        .send()
        .await
        .map_err(aws_err("CreateVpcLink"))?;
    let id = out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateVpcLink",
        field: "id",
    })?;
    Ok((id, LinkState::from(out.status())))
}

pub async fn delete(aws: &Aws, id: &str) -> AwsResult<()> {
    aws.pacer.pace("DeleteVpcLink", id).await?;
    found(
        aws.apigw()
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

    fn link(id: &str, target: &str, state: LinkState) -> ObservedVpcLinkV1 {
        ObservedVpcLinkV1 {
            id: id.into(),
            state,
            message: None,
            targets: vec![target.into()],
        }
    }

    #[test]
    fn keeps_a_link_to_the_nlb_and_retires_the_rest() {
        let desired = DesiredVpcLinkV1 {
            name: "l".into(),
            target: "arn:nlb/2".to_owned(),
            tags: BTreeMap::new(),
        };
        let links = vec![
            link("a", "arn:nlb/1", LinkState::Available),
            link("b", "arn:nlb/2", LinkState::Deleting),
            link("c", "arn:nlb/2", LinkState::Pending),
            link("d", "arn:nlb/2", LinkState::Available),
        ];
        let (current, retire) = choose(&desired, &links);
        assert_eq!(current.map(|l| l.id.as_str()), Some("c"));
        let retired: Vec<&str> = retire.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(retired, ["a", "b", "d"]);
    }
}
