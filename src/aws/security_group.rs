//! Security groups: one for the VPC link, one for the ALB (admits the link on the
//! listener port), one for the tasks (admits the ALB on the container port).
//!
//! All three are found with one `DescribeSecurityGroups` filtered by our uid tag.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_ec2::types::{Filter, IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair};

use super::error::{AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_OWNER, TAG_UID, part_of};
use super::{Aws, all_pages};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupRole {
    VpcLink,
    LoadBalancer,
    Tasks,
    /// The NLB in front of the ALB (VPC Link V1 to an ALB).
    Front,
}

impl GroupRole {
    pub const ALL: [GroupRole; 4] = [
        GroupRole::VpcLink,
        GroupRole::LoadBalancer,
        GroupRole::Tasks,
        GroupRole::Front,
    ];

    pub fn tag(self) -> &'static str {
        match self {
            GroupRole::VpcLink => "sg-vpclink",
            GroupRole::LoadBalancer => "sg-alb",
            GroupRole::Tasks => "sg-tasks",
            GroupRole::Front => "sg-nlb",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            GroupRole::VpcLink => "link",
            GroupRole::LoadBalancer => "alb",
            GroupRole::Tasks => "tasks",
            GroupRole::Front => "nlb",
        }
    }

    fn from_tag(tag: &str) -> Option<GroupRole> {
        GroupRole::ALL.into_iter().find(|r| r.tag() == tag)
    }
}

impl fmt::Display for GroupRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// One ingress rule, in the atomic form "one protocol, one port range, one source".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Group(String),
    Cidr(String),
    Ipv6Cidr(String),
    PrefixList(String),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Group(g) => g.as_str(),
            Source::Cidr(c) | Source::Ipv6Cidr(c) | Source::PrefixList(c) => c.as_str(),
        };
        write!(f, "{} {}-{} from {source}", self.protocol, self.from_port, self.to_port)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredGroup {
    pub role: GroupRole,
    pub name: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// TCP port and the role of the group allowed in on it.
    pub ingress: Option<(i32, GroupRole)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedGroup {
    pub id: String,
    pub role: GroupRole,
    pub rules: Vec<Rule>,
}

/// AWS's limit for a security group's description.
const MAX_DESCRIPTION: usize = 255;

/// `privateapi namespace/name role`, the key shortened (with its hash) to fit AWS's limit.
fn description(owner: &Owner, role: GroupRole) -> String {
    let frame = "privateapi  ".len() + role.suffix().len();
    let key = super::ownership::shorten(&owner.key(), MAX_DESCRIPTION - frame);
    format!("privateapi {key} {}", role.suffix())
}

/// The groups of a stack; without `link_group` (a VPC Link V1 has no security group:
/// its traffic reaches the NLB through PrivateLink), the load balancer's admits none,
/// unless `front_group`: an NLB in front of the ALB has its own, the one the ALB admits.
pub fn desired(
    owner: &Owner,
    user_tags: &BTreeMap<String, String>,
    listener_port: i32,
    container_port: i32,
    link_group: bool,
    front_group: bool,
) -> Vec<DesiredGroup> {
    GroupRole::ALL
        .into_iter()
        .filter(|role| link_group || *role != GroupRole::VpcLink)
        .filter(|role| front_group || *role != GroupRole::Front)
        .map(|role| DesiredGroup {
            role,
            name: owner.resource_name(role.suffix(), 255),
            description: description(owner, role),
            tags: owner.tags(role.tag(), user_tags),
            ingress: match role {
                GroupRole::VpcLink | GroupRole::Front => None,
                GroupRole::LoadBalancer if link_group => Some((listener_port, GroupRole::VpcLink)),
                GroupRole::LoadBalancer => front_group.then_some((listener_port, GroupRole::Front)),
                GroupRole::Tasks => Some((container_port, GroupRole::LoadBalancer)),
            },
        })
        .collect()
}

pub async fn observe(aws: &Aws, owner: &Owner, vpc_id: Option<&str>) -> AwsResult<Vec<ObservedGroup>> {
    let mut req = aws.ec2.describe_security_groups().filters(
        Filter::builder()
            .name(format!("tag:{TAG_UID}"))
            .values(&owner.uid)
            .build(),
    );
    if let Some(vpc) = vpc_id {
        req = req.filters(Filter::builder().name("vpc-id").values(vpc).build());
    }
    let out = req.send().await.map_err(aws_err("DescribeSecurityGroups"))?;
    let mut groups: Vec<ObservedGroup> = out
        .security_groups()
        .iter()
        .filter_map(convert)
        .map(|(_, g)| g)
        .collect();
    groups.sort_by(|a, b| (a.role, &a.id).cmp(&(b.role, &b.id)));
    Ok(groups)
}

/// The uids of the stacks whose groups carry this owner tag (`namespace/name`, shortened
/// as [`Owner::key_tag`] writes it).
pub async fn owners_tagged(aws: &Aws, key: &str) -> AwsResult<Vec<String>> {
    let key = &super::ownership::shorten(key, super::ownership::MAX_TAG_VALUE);
    let groups = all_pages("DescribeSecurityGroups", |token| async move {
        let out = aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name(format!("tag:{TAG_OWNER}")).values(key).build())
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("DescribeSecurityGroups"))?;
        let groups = out
            .security_groups()
            .iter()
            .filter_map(convert)
            .map(|(uid, _)| uid)
            .collect();
        Ok((groups, out.next_token().map(str::to_owned)))
    })
    .await?;
    Ok(groups)
}

/// Every group of every PrivateApi in the region, with its owner's uid.
pub async fn list_all(aws: &Aws) -> AwsResult<Vec<(String, ObservedGroup)>> {
    all_pages("DescribeSecurityGroups", |token| async move {
        let out = aws
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("tag-key").values(TAG_UID).build())
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("DescribeSecurityGroups"))?;
        let groups = out.security_groups().iter().filter_map(convert).collect();
        Ok((groups, out.next_token().map(str::to_owned)))
    })
    .await
}

/// A group of ours, with its owner's uid; `None` for groups without our tags.
fn convert(g: &aws_sdk_ec2::types::SecurityGroup) -> Option<(String, ObservedGroup)> {
    let tags = || g.tags().iter().filter_map(|t| Some((t.key()?, t.value()?)));
    let role = GroupRole::from_tag(part_of(tags())?)?;
    let uid = tags().find(|(k, _)| *k == TAG_UID)?.1.to_owned();
    Some((
        uid,
        ObservedGroup {
            id: g.group_id()?.to_owned(),
            role,
            rules: flatten(g.ip_permissions()),
        },
    ))
}

pub(crate) fn flatten(perms: &[IpPermission]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_owned();
        let (from_port, to_port) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        let mut push = |source| {
            rules.push(Rule {
                protocol: protocol.clone(),
                from_port,
                to_port,
                source,
            });
        };
        p.user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id())
            .for_each(|g| push(Source::Group(g.into())));
        p.ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip())
            .for_each(|c| push(Source::Cidr(c.into())));
        p.ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6())
            .for_each(|c| push(Source::Ipv6Cidr(c.into())));
        p.prefix_list_ids()
            .iter()
            .filter_map(|r| r.prefix_list_id())
            .for_each(|c| push(Source::PrefixList(c.into())));
    }
    rules.sort();
    rules
}

/// The rules a group should have, once every group's ID is known.
pub fn desired_rules(group: &DesiredGroup, ids: &BTreeMap<GroupRole, String>) -> Vec<Rule> {
    group
        .ingress
        .and_then(|(port, from)| {
            Some(Rule {
                protocol: "tcp".into(),
                from_port: port,
                to_port: port,
                source: Source::Group(ids.get(&from)?.clone()),
            })
        })
        .into_iter()
        .collect()
}

/// Rules to add and rules to remove so that `observed` becomes `desired` exactly.
pub fn diff_rules(desired: &[Rule], observed: &[Rule]) -> (Vec<Rule>, Vec<Rule>) {
    let add = desired.iter().filter(|r| !observed.contains(r)).cloned().collect();
    let remove = observed.iter().filter(|r| !desired.contains(r)).cloned().collect();
    (add, remove)
}

pub async fn create(aws: &Aws, vpc_id: &str, group: &DesiredGroup) -> AwsResult<String> {
    match create_named(aws, vpc_id, &group.name, &group.description, &group.tags).await? {
        Some(id) => Ok(id),
        // Made by an earlier attempt whose answer was lost (the SDK retried): ours if
        // it carries our uid, someone else's otherwise.
        None => adopt(aws, vpc_id, group).await,
    }
}

/// Makes a security group with its tags (set at creation): its id, or `None` when
/// the VPC has a group of that name already (`InvalidGroup.Duplicate`; names are
/// unique per VPC): whether that one may be used, the caller knows.
pub async fn create_named(
    aws: &Aws,
    vpc_id: &str,
    name: &str,
    description: &str,
    tags: &BTreeMap<String, String>,
) -> AwsResult<Option<String>> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let out = aws
        .ec2
        .create_security_group()
        .group_name(name)
        .description(description)
        .vpc_id(vpc_id)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .map_err(aws_err("CreateSecurityGroup"));
    match out {
        Ok(out) => out
            .group_id()
            .map(|id| Some(id.to_owned()))
            .ok_or(super::AwsError::Incomplete {
                operation: "CreateSecurityGroup",
                field: "GroupId",
            }),
        Err(e) if e.code() == Some("InvalidGroup.Duplicate") => Ok(None),
        Err(e) => Err(e),
    }
}

async fn adopt(aws: &Aws, vpc_id: &str, group: &DesiredGroup) -> AwsResult<String> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(&group.name).build())
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(aws_err("DescribeSecurityGroups"))?;
    let uid = group.tags.get(TAG_UID).map(String::as_str);
    let ours = out
        .security_groups()
        .iter()
        .find(|g| g.tags().iter().any(|t| t.key() == Some(TAG_UID) && t.value() == uid));
    match ours.and_then(|g| g.group_id()) {
        Some(id) => Ok(id.to_owned()),
        None => Err(super::AwsError::Conflict(format!(
            "security group {} exists in {vpc_id} but is not ours (no matching {TAG_UID} tag); it is left alone",
            group.name
        ))),
    }
}

fn permission(rule: &Rule) -> IpPermission {
    let b = IpPermission::builder()
        .ip_protocol(&rule.protocol)
        .from_port(rule.from_port)
        .to_port(rule.to_port);
    match &rule.source {
        Source::Group(g) => b.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build()),
        Source::Cidr(c) => b.ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(c).build()),
        Source::Ipv6Cidr(c) => b.ipv6_ranges(aws_sdk_ec2::types::Ipv6Range::builder().cidr_ipv6(c).build()),
        Source::PrefixList(c) => {
            b.prefix_list_ids(aws_sdk_ec2::types::PrefixListId::builder().prefix_list_id(c).build())
        }
    }
    .build()
}

pub async fn authorize(aws: &Aws, group_id: &str, rule: &Rule) -> AwsResult<()> {
    let result = aws
        .ec2
        .authorize_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission(rule))
        .send()
        .await
        .map_err(aws_err("AuthorizeSecurityGroupIngress"));
    match result {
        // A lost response to an earlier identical call: the rule is there.
        Err(e) if e.code() == Some("InvalidPermission.Duplicate") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn revoke(aws: &Aws, group_id: &str, rule: &Rule) -> AwsResult<()> {
    let result = aws
        .ec2
        .revoke_security_group_ingress()
        .group_id(group_id)
        .ip_permissions(permission(rule))
        .send()
        .await
        .map_err(aws_err("RevokeSecurityGroupIngress"));
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Whether the group exists now (read by its id).
pub async fn exists(aws: &Aws, group_id: &str) -> AwsResult<bool> {
    let out = found(
        aws.ec2
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
            .map_err(aws_err("DescribeSecurityGroups")),
    )?;
    Ok(out.is_some_and(|o| !o.security_groups().is_empty()))
}

pub async fn delete(aws: &Aws, group_id: &str) -> AwsResult<()> {
    let result = aws
        .ec2
        .delete_security_group()
        .group_id(group_id)
        .send()
        .await
        .map_err(aws_err("DeleteSecurityGroup"));
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_chain_link_to_alb_to_tasks() {
        let owner = Owner::new("ns", "api", "uid");
        let groups = desired(&owner, &BTreeMap::new(), 8080, 3000, true, false);
        let ids = BTreeMap::from([
            (GroupRole::VpcLink, "sg-link".to_string()),
            (GroupRole::LoadBalancer, "sg-alb".to_string()),
            (GroupRole::Tasks, "sg-tasks".to_string()),
        ]);
        let alb = groups
            .iter()
            .find(|g| g.role == GroupRole::LoadBalancer)
            .expect("alb group");
        assert_eq!(
            desired_rules(alb, &ids),
            vec![Rule {
                protocol: "tcp".into(),
                from_port: 8080,
                to_port: 8080,
                source: Source::Group("sg-link".into())
            }]
        );
        let tasks = groups.iter().find(|g| g.role == GroupRole::Tasks).expect("tasks group");
        assert_eq!(desired_rules(tasks, &ids)[0].source, Source::Group("sg-alb".into()));
        let link = groups
            .iter()
            .find(|g| g.role == GroupRole::VpcLink)
            .expect("link group");
        assert!(desired_rules(link, &ids).is_empty());
        assert!(!groups.iter().any(|g| g.role == GroupRole::Front));
    }

    #[test]
    fn an_nlb_in_front_of_the_alb_is_the_one_the_alb_admits() {
        let owner = Owner::new("ns", "api", "uid");
        let groups = desired(&owner, &BTreeMap::new(), 8080, 3000, false, true);
        let roles: Vec<GroupRole> = groups.iter().map(|g| g.role).collect();
        assert_eq!(roles, [GroupRole::LoadBalancer, GroupRole::Tasks, GroupRole::Front]);
        let alb = groups
            .iter()
            .find(|g| g.role == GroupRole::LoadBalancer)
            .expect("alb group");
        assert_eq!(alb.ingress, Some((8080, GroupRole::Front)));
        let front = groups.iter().find(|g| g.role == GroupRole::Front).expect("front group");
        assert_eq!(
            front.ingress, None,
            "PrivateLink traffic is not judged by the NLB's groups"
        );
        assert!(front.name.ends_with("-nlb"));
    }

    #[test]
    fn descriptions_fit_for_the_longest_kubernetes_names() {
        let longest = Owner::new("n".repeat(63), "a".repeat(253), "uid");
        for group in desired(&longest, &BTreeMap::new(), 8080, 3000, true, true) {
            assert!(group.description.len() <= MAX_DESCRIPTION, "{}", group.description);
            assert!(
                group.description.ends_with(group.role.suffix()),
                "{}",
                group.description
            );
            assert!(group.name.len() <= 255, "{}", group.name);
        }
        let short = Owner::new("ns", "api", "uid");
        let groups = desired(&short, &BTreeMap::new(), 8080, 3000, true, false);
        assert!(
            groups.iter().any(|g| g.description == "privateapi ns/api link"),
            "{groups:?}"
        );
    }

    #[test]
    fn diff_adds_missing_and_removes_foreign_rules() {
        let want = Rule {
            protocol: "tcp".into(),
            from_port: 80,
            to_port: 80,
            source: Source::Group("sg-1".into()),
        };
        let stray = Rule {
            protocol: "tcp".into(),
            from_port: 22,
            to_port: 22,
            source: Source::Cidr("0.0.0.0/0".into()),
        };
        let (add, remove) = diff_rules(std::slice::from_ref(&want), std::slice::from_ref(&stray));
        assert_eq!(add, vec![want.clone()]);
        assert_eq!(remove, vec![stray]);
        let (add, remove) = diff_rules(std::slice::from_ref(&want), std::slice::from_ref(&want));
        assert!(add.is_empty() && remove.is_empty());
    }
}
