//! Shared VPC links (V2): one link and one link security group per network, used by
//! every PrivateApi whose own link would be the same (same VPC, same subnets, and the
//! same link security group, which has no rule of its own). AWS allows 10 VPC links
//! (V2) per account and region; sharing makes that 10 networks, not 10 APIs.
//!
//! A shared link belongs to no single resource. It is found by the tag
//! [`TAG_SHARED`] (the network's [`key`]) and its users are tags on the link itself,
//! one per PrivateApi ([`TAG_USER`]`<uid>`): added before the user's integration
//! points at the link (its creator's at `CreateVpcLink`), removed after it no longer
//! does. The last user deletes the link, and leaves its mark on the link's security
//! group so that its teardown finds the group again once the link is gone (the group
//! outlives the link by the minutes its ENIs take to go). docs/engine.md has the
//! reasoning: races, crashes, the 50-tag limit.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ec2::types::{Filter, Tag};

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{MANAGED_BY, TAG_MANAGED_BY, TAG_PART, fingerprint, shorten};
use super::partition::Partition;
use super::security_group::{self, DesiredGroup, GroupRole};
use super::vpc_link::LinkState;
use super::{Aws, all_pages};

/// The network a shared link serves: the value is its [`key`].
pub const TAG_SHARED: &str = "privateapi.io/shared-link";
/// A user of a shared link (on the link), or the last one, that deletes the link's
/// security group (on the group): the key is this prefix and the PrivateApi's uid,
/// the value its `namespace/name`.
pub const TAG_USER: &str = "privateapi.io/user/";
/// The `part` tag of shared links and their groups.
pub const PART_LINK: &str = "shared-vpc-link";
pub const PART_GROUP: &str = "sg-shared-link";
/// Users per link. API Gateway allows 50 tags per resource; a shared link carries 3
/// of its own (the key, `managed-by`, `part`), and the rest is kept as headroom for
/// tags an administrator adds. The next user past it gets a second link of the same
/// network (one more against the quota, at 41 APIs on one network).
pub const MAX_USERS: usize = 40;
// The link's own 3 tags and its users fit API Gateway's 50.
const _: () = assert!(3 + MAX_USERS <= 50);

/// The key of a network: VPC and sorted subnets. The link's security group has no
/// ingress rule (the ALBs' groups admit it), so it adds nothing to the key.
pub fn key(vpc_id: &str, subnets: &[String]) -> String {
    let mut subnets = subnets.to_vec();
    subnets.sort();
    subnets.dedup();
    fingerprint(&format!("vpc-link-v2|{vpc_id}|{}", subnets.join(",")))
}

/// The name of the shared link of `key` (link names need not be unique; the tag is
/// what counts).
pub fn link_name(key: &str) -> String {
    format!("papi-shared-{key}")
}

pub fn user_tag(uid: &str) -> String {
    format!("{TAG_USER}{uid}")
}

/// The shared link a PrivateApi wants, and who it is.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredSharedLink {
    pub key: String,
    pub vpc_id: String,
    /// Sorted.
    pub subnets: Vec<String>,
    /// The user: the PrivateApi's uid, and its `namespace/name` (the tag's value).
    pub uid: String,
    pub user: String,
}

impl DesiredSharedLink {
    pub fn new(vpc_id: &str, subnets: &[String], uid: &str, user: &str) -> Self {
        let mut sorted = subnets.to_vec();
        sorted.sort();
        sorted.dedup();
        DesiredSharedLink {
            key: key(vpc_id, &sorted),
            vpc_id: vpc_id.to_owned(),
            subnets: sorted,
            uid: uid.to_owned(),
            user: shorten(user, super::ownership::MAX_TAG_VALUE),
        }
    }

    pub fn name(&self) -> String {
        link_name(&self.key)
    }

    /// The link's security group: one per network, found by its name in the VPC
    /// (AWS keeps group names unique per VPC, which settles a race to make it).
    pub fn group(&self) -> DesiredGroup {
        DesiredGroup {
            role: GroupRole::VpcLink,
            name: format!("papi-shared-link-{}", self.key),
            description: format!("privateapi shared VPC link {} (no single owner)", self.key),
            tags: BTreeMap::from([
                (TAG_SHARED.to_owned(), self.key.clone()),
                (TAG_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
                (TAG_PART.to_owned(), PART_GROUP.to_owned()),
            ]),
            ingress: None,
        }
    }
}

/// A shared link as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedSharedLink {
    pub id: String,
    pub key: String,
    pub state: LinkState,
    pub message: Option<String>,
    pub created: i64,
    /// The uids of its users.
    pub users: BTreeSet<String>,
    pub security_groups: Vec<String>,
}

impl ObservedSharedLink {
    /// Room for `uid`: already a user, or under [`MAX_USERS`].
    pub fn has_room_for(&self, uid: &str) -> bool {
        self.users.contains(uid) || self.users.len() < MAX_USERS
    }
}

/// A shared link's security group as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedSharedGroup {
    pub id: String,
    pub key: String,
    /// The uids that marked it for deletion (the last users of its links).
    pub reapers: BTreeSet<String>,
}

/// Every shared link among `links` (a region's `GetVpcLinks`), oldest first.
pub fn from_listing(links: &[aws_sdk_apigatewayv2::types::VpcLink]) -> Vec<ObservedSharedLink> {
    let mut shared: Vec<ObservedSharedLink> = links
        .iter()
        .filter_map(|link| {
            let tags = link.tags()?;
            let key = tags.get(TAG_SHARED)?.clone();
            Some(ObservedSharedLink {
                id: link.vpc_link_id()?.to_owned(),
                key,
                state: LinkState::from(link.vpc_link_status()),
                message: link.vpc_link_status_message().map(str::to_owned),
                created: link.created_date().map(|d| d.secs()).unwrap_or_default(),
                users: users(tags),
                security_groups: link.security_group_ids().to_vec(),
            })
        })
        .collect();
    shared.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    shared
}

fn users(tags: &HashMap<String, String>) -> BTreeSet<String> {
    tags.keys()
        .filter_map(|k| k.strip_prefix(TAG_USER))
        .map(str::to_owned)
        .collect()
}

/// The shared links' groups: of one VPC, or (teardown, by `reaper`) those a
/// PrivateApi marked for deletion, wherever they are.
pub async fn observe_groups(
    aws: &Aws,
    vpc_id: Option<&str>,
    reaper: Option<&str>,
) -> AwsResult<Vec<ObservedSharedGroup>> {
    all_pages("DescribeSecurityGroups", |token| async move {
        // One `tag-key` filter (the mark, or the network tag); the network tag is
        // checked below either way.
        let tag_key = reaper.map_or_else(|| TAG_SHARED.to_owned(), user_tag);
        let mut req = aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("tag-key").values(tag_key).build());
        if let Some(vpc) = vpc_id {
            req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
        }
        let out = req
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("DescribeSecurityGroups"))?;
        let groups = out
            .security_groups()
            .iter()
            .filter_map(|g| {
                let tags: Vec<(&str, &str)> = g.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))).collect();
                let key = tags.iter().find(|(k, _)| *k == TAG_SHARED)?.1.to_owned();
                Some(ObservedSharedGroup {
                    id: g.group_id()?.to_owned(),
                    key,
                    reapers: tags
                        .iter()
                        .filter_map(|(k, _)| k.strip_prefix(TAG_USER))
                        .map(str::to_owned)
                        .collect(),
                })
            })
            .collect();
        Ok((groups, out.next_token().map(str::to_owned)))
    })
    .await
}

/// The network's link security group: made, or, when a racing maker (another
/// resource, another replica, a lost answer) made it first, adopted if it carries
/// the network's tag.
pub async fn create_group(aws: &Aws, wanted: &DesiredSharedLink) -> AwsResult<String> {
    let group = wanted.group();
    let made = security_group::create_named(aws, &wanted.vpc_id, &group.name, &group.description, &group.tags);
    if let Some(id) = made.await? {
        return Ok(id);
    }
    let groups = observe_groups(aws, Some(&wanted.vpc_id), None).await?;
    groups
        .into_iter()
        .find(|g| g.key == wanted.key)
        .map(|g| g.id)
        .ok_or_else(|| {
            AwsError::Conflict(format!(
                "security group {} exists in {} without the {TAG_SHARED} tag: it is not the operator's and is left alone",
                group.name, wanted.vpc_id
            ))
        })
}

/// Whether AWS refused a new link for the account's VPC link quota ("There are too
/// many Vpc Links defined for this account. Limit is 10.", a BadRequestException).
pub fn is_quota(e: &AwsError) -> bool {
    e.code() == Some("BadRequestException") && e.message().to_ascii_lowercase().contains("too many vpc links")
}

/// A new shared link with `group`, its creator already a user (the tags go with
/// `CreateVpcLink`: a link never exists without its first user).
pub async fn create(aws: &Aws, wanted: &DesiredSharedLink, group: &str) -> AwsResult<(String, LinkState)> {
    let tags = HashMap::from([
        (TAG_SHARED.to_owned(), wanted.key.clone()),
        (TAG_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
        (TAG_PART.to_owned(), PART_LINK.to_owned()),
        (user_tag(&wanted.uid), wanted.user.clone()),
    ]);
    aws.pacer.pace("CreateVpcLink", &wanted.name()).await?;
    let out = aws
        .apigwv2()
        .await
        .create_vpc_link()
        .name(wanted.name())
        .set_subnet_ids(Some(wanted.subnets.clone()))
        .security_group_ids(group)
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

/// A new shared link on the network's `group`, which this pass read before: the last
/// user of the network's previous link may have deleted the group since (AWS refuses
/// that only once a link uses it). A link on a deleted group would refuse every
/// user's ingress rule, so it goes at once, and the next pass makes both again.
pub async fn create_on_group(aws: &Aws, wanted: &DesiredSharedLink, group: &str) -> AwsResult<(String, LinkState)> {
    let made = create(aws, wanted, group).await;
    if made.as_ref().is_err_and(is_quota) || security_group::exists(aws, group).await? {
        return made;
    }
    if let Ok((id, _)) = &made {
        super::vpc_link::delete(aws, id).await?;
    }
    Err(AwsError::Changed(format!(
        "security group {group} of the network's VPC links was deleted while a link was made with it: the link is deleted, and both are made again"
    )))
}

/// The shared links made on `group` after it was deleted, deleted in turn, if the
/// group is gone: a maker that did not live to check its new link
/// ([`create_on_group`]) left one. No user can have wired through such a link (each
/// stops at the rule admitting the group), so AWS lets it go. `Changed` when one went:
/// the next pass makes the network's link again.
pub async fn discard_links_on_lost_group(aws: &Aws, group: &str) -> AwsResult<()> {
    if security_group::exists(aws, group).await? {
        return Ok(());
    }
    let links = from_listing(&super::vpc_link::list_region(aws).await?);
    let lost: Vec<&ObservedSharedLink> = links
        .iter()
        .filter(|l| l.security_groups.iter().any(|g| g == group))
        .collect();
    for link in &lost {
        super::vpc_link::delete(aws, &link.id).await?;
    }
    match lost.as_slice() {
        [] => Ok(()),
        some => Err(AwsError::Changed(format!(
            "shared VPC link {} was made on security group {group}, deleted before it: the link is deleted, and the network's link is made again",
            some.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The oldest live link of the network with room for `uid`, as AWS lists them now:
/// made since the pass looked (by another resource of this operator, which held
/// [`Aws::shared_link_making`] then).
pub async fn find_usable(aws: &Aws, wanted: &DesiredSharedLink) -> AwsResult<Option<ObservedSharedLink>> {
    let links = from_listing(&super::vpc_link::list_region(aws).await?);
    Ok(links
        .into_iter()
        .find(|l| l.key == wanted.key && l.state != LinkState::Deleting && l.has_room_for(&wanted.uid)))
}

fn link_arn(aws: &Aws, id: &str) -> String {
    Partition::of_region(&aws.region).arn("apigateway", &aws.region, "", &format!("/vpclinks/{id}"))
}

/// Becomes a user of the link (before any integration of ours points at it), if it
/// still has room as AWS lists its users now: the pass read them before others of
/// the network joined. The caller holds [`Aws::shared_link_making`], so no resource
/// of this operator joins meanwhile. Full now (or gone): `Changed`, and the next
/// pass uses or makes another link.
pub async fn join(aws: &Aws, id: &str, uid: &str, user: &str) -> AwsResult<()> {
    let Some((users, _)) = users_now(aws, id).await? else {
        return Err(AwsError::Changed(format!(
            "shared VPC link {id} went since the pass read it"
        )));
    };
    if users.contains(uid) {
        return Ok(());
    }
    if users.len() >= MAX_USERS {
        return Err(AwsError::Changed(format!(
            "shared VPC link {id} has {} users now, its most: the next pass uses another",
            users.len()
        )));
    }
    add_user(aws, id, uid, user).await
}

/// Tags `uid` a user of the link.
pub async fn add_user(aws: &Aws, id: &str, uid: &str, user: &str) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .tag_resource()
        .resource_arn(link_arn(aws, id))
        .tags(user_tag(uid), user)
        .send()
        .await
        .map_err(aws_err("TagResource"))?;
    Ok(())
}

/// How leaving a link went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// Other users remain (this many).
    Others(usize),
    /// We were the last: the link is being deleted.
    Deleted,
    /// It was gone already.
    Gone,
}

/// The link's users and security groups, as AWS has them now.
async fn users_now(aws: &Aws, id: &str) -> AwsResult<Option<(BTreeSet<String>, Vec<String>)>> {
    let out = found(
        aws.apigwv2()
            .await
            .get_vpc_link()
            .vpc_link_id(id)
            .send()
            .await
            .map_err(aws_err("GetVpcLink")),
    )?;
    Ok(out.map(|out| {
        let users = out.tags().map(users).unwrap_or_default();
        (users, out.security_group_ids().to_vec())
    }))
}

/// Stops using the link, once no integration of ours points at it: drops our user
/// tag; if no other user remains, marks its security group for our teardown and
/// deletes the link. The users are read from AWS here, not from the pass's
/// observation, and again after our tag is gone: of two last users leaving at once,
/// the one that reads after both tags are gone deletes it.
pub async fn leave(aws: &Aws, id: &str, uid: &str, user: &str) -> AwsResult<Left> {
    let Some((mut users, groups)) = users_now(aws, id).await? else {
        return Ok(Left::Gone);
    };
    if users.contains(uid) && users.iter().any(|u| u != uid) {
        aws.apigwv2()
            .await
            .untag_resource()
            .resource_arn(link_arn(aws, id))
            .tag_keys(user_tag(uid))
            .send()
            .await
            .map_err(aws_err("UntagResource"))?;
        match users_now(aws, id).await? {
            None => return Ok(Left::Gone),
            Some((now, _)) => users = now,
        }
    }
    users.remove(uid);
    if !users.is_empty() {
        return Ok(Left::Others(users.len()));
    }
    for group in &groups {
        mark_group(aws, group, uid, user).await?;
    }
    super::vpc_link::delete(aws, id).await?;
    Ok(Left::Deleted)
}

/// Our mark on a link's security group: ours to delete once no link uses it.
async fn mark_group(aws: &Aws, group: &str, uid: &str, user: &str) -> AwsResult<()> {
    aws.ec2
        .create_tags()
        .resources(group)
        .tags(Tag::builder().key(user_tag(uid)).value(user).build())
        .send()
        .await
        .map_err(aws_err("CreateTags"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_network_whatever_the_order_of_subnets() {
        let a = key("vpc-1", &["subnet-b".into(), "subnet-a".into()]);
        assert_eq!(a, key("vpc-1", &["subnet-a".into(), "subnet-b".into()]));
        assert_ne!(a, key("vpc-2", &["subnet-a".into(), "subnet-b".into()]));
        assert_ne!(a, key("vpc-1", &["subnet-a".into(), "subnet-c".into()]));
    }

    #[test]
    fn a_link_has_room_for_its_users_and_up_to_the_limit() {
        let mut link = ObservedSharedLink {
            id: "l".into(),
            key: "k".into(),
            state: LinkState::Available,
            message: None,
            created: 0,
            users: (0..MAX_USERS).map(|i| format!("u{i}")).collect(),
            security_groups: vec![],
        };
        assert!(link.has_room_for("u0"));
        assert!(!link.has_room_for("new"));
        link.users.remove("u1");
        assert!(link.has_room_for("new"));
    }

    #[test]
    fn users_and_own_tags_fit_apigateways_50() {
        let wanted = DesiredSharedLink::new("vpc-1", &["subnet-a".into()], "uid", &"n".repeat(400));
        assert!(wanted.user.chars().count() <= super::super::ownership::MAX_TAG_VALUE);
        assert!(wanted.group().name.len() <= 255);
    }
}
