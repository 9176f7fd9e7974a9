//! Load-balancer groups (`spec.loadBalancer.group`): one internal ALB, one listener
//! and one security group shared by every PrivateApi of the same group name and VPC,
//! as the AWS Load Balancer Controller's IngressGroup does. Each member keeps its own
//! target group and gets a listener rule of its own, matching the header its API's
//! integration sets ([`ROUTE_HEADER`]); the listener's default action is a fixed 404.
//!
//! Like a shared VPC link (`shared_link.rs`), the ALB and its group belong to no
//! single resource: they are found by the tag [`TAG_GROUP`] (the group's [`key`]) and
//! by names derived from it, which AWS keeps unique (ALB names per region, security
//! group names per VPC), so racing makers end up with one of each. Members are tags
//! on the ALB (`privateapi.io/user/<uid>`, as on a shared link): added before the
//! member's rule is made (its creator's at `CreateLoadBalancer`), removed after the
//! rule is gone; the last member deletes the listener and the ALB, and the group's
//! security group goes once no ALB of the key remains. docs/engine.md, "Load-balancer
//! groups", has the reasoning.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2 as elbv2;
use elbv2::types::{ActionTypeEnum, HttpHeaderConditionConfig, RuleCondition, Tag};

use super::Aws;
use super::elb::{self, ObservedListener, ObservedLoadBalancer};
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{MANAGED_BY, MAX_TAG_VALUE, TAG_MANAGED_BY, TAG_PART, TAG_UID, fingerprint, shorten};
use super::security_group::{self, Rule};
use super::shared_link::{TAG_USER, user_tag};

/// The group an ALB, its listener and its security group serve: the value is its [`key`].
pub const TAG_GROUP: &str = "privateapi.io/lb-group";
/// The header a member's rule matches and its integration sets: `namespace/name`.
pub const ROUTE_HEADER: &str = "x-privateapi-route";
/// ELB's limit for one value of an `http-header` condition.
pub const MAX_ROUTE: usize = 128;
pub const PART_ALB: &str = "group-alb";
pub const PART_LISTENER: &str = "group-listener";
pub const PART_GROUP: &str = "sg-group-alb";
pub const PART_RULE: &str = "listener-rule";
/// Members per group. ELB allows 50 tags per load balancer; a group's ALB carries 3
/// of its own (the key, `managed-by`, `part`) and one per member, and 2 are left for
/// tags an administrator adds. (A listener's default quota of 100 rules is not
/// reached first.)
pub const MAX_MEMBERS: usize = 45;
/// A listener's rules (besides the default one): AWS's default quota.
pub const MAX_RULES: usize = 100;
// The ALB's own 3 tags and its members fit ELB's 50; each member's rule fits the listener.
const _: () = assert!(3 + MAX_MEMBERS <= 50 && MAX_MEMBERS <= MAX_RULES);
/// Rule priorities AWS accepts.
pub const MAX_PRIORITY: i32 = 50_000;

/// The key of a group: its name and VPC (a group name is not namespaced).
pub fn key(vpc_id: &str, group: &str) -> String {
    fingerprint(&format!("lb-group|{vpc_id}|{group}"))
}

/// The group ALB's name (ELB: at most 32 characters, unique per region).
pub fn alb_name(key: &str) -> String {
    format!("papi-g-{key}")
}

/// The header value of a member: its `namespace/name`, shortened (with a hash) to
/// ELB's 128 characters.
pub fn route(owner_key: &str) -> String {
    shorten(owner_key, MAX_ROUTE)
}

/// A member's rule priority: the first free one from a place derived from its uid,
/// so that members rarely collide and a member's priority is the same on every
/// pass that has to choose one (once made, a rule keeps its priority).
pub fn priority(uid: &str, taken: &BTreeSet<i32>) -> i32 {
    let hash = fingerprint(&format!("rule|{uid}"));
    let start = u64::from_str_radix(&hash[..8], 16).unwrap_or_default() % MAX_PRIORITY as u64;
    (0..MAX_PRIORITY as u64)
        .map(|i| ((start + i) % MAX_PRIORITY as u64) as i32 + 1)
        .find(|p| !taken.contains(p))
        .unwrap_or(1)
}

/// The group a PrivateApi is a member of, and who it is.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredLbGroup {
    pub name: String,
    pub key: String,
    pub vpc_id: String,
    /// The member: its uid, its `namespace/name` (the user tag's value), and the
    /// header value its rule matches.
    pub uid: String,
    pub user: String,
    pub route: String,
    /// The group's listener, as this member wants it (members must agree).
    pub port: i32,
    pub certificate: Option<String>,
    /// The rule's tags (ownership: the member's uid).
    pub rule_tags: BTreeMap<String, String>,
}

impl DesiredLbGroup {
    pub fn new(
        vpc_id: &str,
        name: &str,
        owner: &super::Owner,
        port: i32,
        certificate: Option<String>,
        rule_tags: BTreeMap<String, String>,
    ) -> Self {
        DesiredLbGroup {
            name: name.to_owned(),
            key: key(vpc_id, name),
            vpc_id: vpc_id.to_owned(),
            uid: owner.uid.clone(),
            user: shorten(&owner.key(), MAX_TAG_VALUE),
            route: route(&owner.key()),
            port,
            certificate,
            rule_tags,
        }
    }

    /// The tags of the group's ALB (`part`) or listener: no owner, the group's key.
    pub fn tags(&self, part: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (TAG_GROUP.to_owned(), self.key.clone()),
            (TAG_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
            (TAG_PART.to_owned(), part.to_owned()),
        ])
    }

    /// The security group's name: unique per VPC, which settles a race to make it.
    pub fn group_name(&self) -> String {
        format!("papi-lbgroup-{}", self.key)
    }
}

/// One of the listener's rules (not the default one).
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRule {
    pub arn: String,
    pub priority: i32,
    /// The value of its [`ROUTE_HEADER`] condition, when it has exactly that one.
    pub route: Option<String>,
    pub forwards_to: Vec<String>,
    /// Its `privateapi.io/uid` tag, read for the rules of our route only.
    pub uid: Option<String>,
}

/// The group's security group as found.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedGroupSg {
    pub id: String,
    pub rules: Vec<Rule>,
}

/// What AWS holds of one group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedLbGroup {
    /// The uid of the stack observed, one of the members or not.
    pub me: String,
    pub load_balancer: Option<ObservedLoadBalancer>,
    /// The uids of its members (user tags on the ALB).
    pub users: BTreeSet<String>,
    pub listeners: Vec<ObservedListener>,
    /// The rules of the listener on the group's port (every member's).
    pub rules: Vec<ObservedRule>,
    pub security_group: Option<ObservedGroupSg>,
}

impl ObservedLbGroup {
    /// Our rules: tagged with our uid (the route alone could be a deleted namesake's).
    pub fn ours(&self) -> impl Iterator<Item = &ObservedRule> {
        self.rules.iter().filter(|r| r.uid.as_deref() == Some(self.me.as_str()))
    }
}

/// The group's ALB (with its members and listeners), the rules of the listener on
/// `port` and the group's security group. An ALB of the group's name without the
/// group's tag is someone else's: a conflict.
pub async fn observe(aws: &Aws, wanted: &DesiredLbGroup) -> AwsResult<ObservedLbGroup> {
    let name = alb_name(&wanted.key);
    let (lbs, sg) = tokio::join!(
        aws.elb.describe_load_balancers().names(&name).send(),
        observe_group_sg(aws, &wanted.vpc_id, &wanted.key),
    );
    let sg = sg?;
    let lb =
        found(lbs.map_err(aws_err("DescribeLoadBalancers")))?.and_then(|out| out.load_balancers().first().cloned());
    let mut observed = ObservedLbGroup {
        me: wanted.uid.clone(),
        security_group: sg,
        ..ObservedLbGroup::default()
    };
    let Some(lb) = lb else {
        return Ok(observed);
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
    let tags = tags_of(aws, std::slice::from_ref(&arn)).await?;
    let tags = tags.get(&arn).cloned().unwrap_or_default();
    if tags.get(TAG_GROUP) != Some(&wanted.key) {
        return Err(AwsError::Conflict(format!(
            "load balancer {name} exists without the {TAG_GROUP} tag {}: it is not the operator's and is left alone",
            wanted.key
        )));
    }
    observed.users = tags
        .keys()
        .filter_map(|k| k.strip_prefix(TAG_USER))
        .map(str::to_owned)
        .collect();
    observed.listeners = elb::observe_listeners(aws, &arn).await?.unwrap_or_default();
    if let Some(listener) = observed.listeners.iter().find(|l| l.port == wanted.port) {
        observed.rules = observe_rules(aws, &listener.arn, &wanted.route).await?;
    }
    observed.load_balancer = Some(elb::convert(&lb));
    Ok(observed)
}

/// The group's security group in its VPC, by its tag.
async fn observe_group_sg(aws: &Aws, vpc_id: &str, key: &str) -> AwsResult<Option<ObservedGroupSg>> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name(format!("tag:{TAG_GROUP}")).values(key).build())
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .map_err(aws_err("DescribeSecurityGroups"))?;
    Ok(out.security_groups().first().and_then(|g| {
        Some(ObservedGroupSg {
            id: g.group_id()?.to_owned(),
            rules: security_group::flatten(g.ip_permissions()),
        })
    }))
}

/// The tags of ELB resources (at most 20 ARNs a call), by ARN.
async fn tags_of(aws: &Aws, arns: &[String]) -> AwsResult<BTreeMap<String, BTreeMap<String, String>>> {
    let mut all = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let out = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(aws_err("DescribeTags"))?;
        for d in out.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            all.insert(d.resource_arn().unwrap_or_default().to_owned(), tags);
        }
    }
    Ok(all)
}

/// The listener's rules; the uid tags are read for those matching `route` only (a
/// member needs to know its own, and only the priorities of the others).
async fn observe_rules(aws: &Aws, listener_arn: &str, route: &str) -> AwsResult<Vec<ObservedRule>> {
    let Some(out) = found(
        aws.elb
            .describe_rules()
            .listener_arn(listener_arn)
            .send()
            .await
            .map_err(aws_err("DescribeRules")),
    )?
    else {
        return Ok(Vec::new());
    };
    let mut rules: Vec<ObservedRule> = out
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| ObservedRule {
            arn: r.rule_arn().unwrap_or_default().to_owned(),
            priority: r.priority().and_then(|p| p.parse().ok()).unwrap_or_default(),
            route: match r.conditions() {
                [c] if c.field() == Some("http-header") => c
                    .http_header_config()
                    .filter(|h| {
                        h.http_header_name()
                            .is_some_and(|n| n.eq_ignore_ascii_case(ROUTE_HEADER))
                    })
                    .and_then(|h| match h.values() {
                        [v] => Some(v.clone()),
                        _ => None,
                    }),
                _ => None,
            },
            forwards_to: r
                .actions()
                .iter()
                .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
                .filter_map(|a| {
                    a.target_group_arn().map(str::to_owned).or_else(|| {
                        a.forward_config()
                            .and_then(|f| f.target_groups().first())
                            .and_then(|t| t.target_group_arn())
                            .map(str::to_owned)
                    })
                })
                .collect(),
            uid: None,
        })
        .collect();
    rules.sort_by_key(|r| r.priority);
    let candidates: Vec<String> = rules
        .iter()
        .filter(|r| r.route.as_deref() == Some(route))
        .map(|r| r.arn.clone())
        .collect();
    if !candidates.is_empty() {
        let tags = tags_of(aws, &candidates).await?;
        for rule in &mut rules {
            rule.uid = tags.get(&rule.arn).and_then(|t| t.get(TAG_UID)).cloned();
        }
    }
    Ok(rules)
}

/// The group's security group: made, or adopted when a racing maker made it first
/// (its name is unique in the VPC).
pub async fn create_group_sg(aws: &Aws, wanted: &DesiredLbGroup) -> AwsResult<String> {
    let name = wanted.group_name();
    let description = format!(
        "privateapi load-balancer group {} (no single owner)",
        shorten(&wanted.name, 150)
    );
    let tags = wanted.tags(PART_GROUP);
    if let Some(id) = security_group::create_named(aws, &wanted.vpc_id, &name, &description, &tags).await? {
        return Ok(id);
    }
    observe_group_sg(aws, &wanted.vpc_id, &wanted.key)
        .await?
        .map(|g| g.id)
        .ok_or_else(|| {
            AwsError::Conflict(format!(
                "security group {name} exists in {} without the {TAG_GROUP} tag: it is not the operator's and is left alone",
                wanted.vpc_id
            ))
        })
}

/// Revokes every rule of a load-balancer group's security group that admits
/// `source` (a shared link's group about to be deleted: AWS refuses to delete a group
/// another group's rule names, and no member reaches its ALB through it any more).
pub async fn release(aws: &Aws, source: &str) -> AwsResult<()> {
    let out = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("tag-key").values(TAG_GROUP).build())
        .filters(Filter::builder().name("ip-permission.group-id").values(source).build())
        .send()
        .await
        .map_err(aws_err("DescribeSecurityGroups"))?;
    for group in out.security_groups() {
        let Some(id) = group.group_id() else { continue };
        for rule in security_group::flatten(group.ip_permissions()) {
            if rule.source == security_group::Source::Group(source.to_owned()) {
                security_group::revoke(aws, id, &rule).await?;
            }
        }
    }
    Ok(())
}

fn elb_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Becomes a member of the group's ALB (before its rule is made), if the group still
/// has room as AWS lists its members now: the pass read them before others joined.
/// The caller holds [`Aws::shared_link_making`], so no resource of this operator joins
/// meanwhile. Full now: `Changed`, and the next pass finds the group full (stalled).
pub async fn join(aws: &Aws, lb_arn: &str, uid: &str, user: &str) -> AwsResult<()> {
    let Some(members) = users_now(aws, lb_arn).await? else {
        return Err(AwsError::Changed(format!(
            "load-balancer group {lb_arn} went since the pass read it"
        )));
    };
    if !members.contains(uid) && members.len() >= MAX_MEMBERS {
        return Err(AwsError::Changed(format!(
            "load-balancer group {lb_arn} has {} members now, its most",
            members.len()
        )));
    }
    aws.elb
        .add_tags()
        .resource_arns(lb_arn)
        .tags(Tag::builder().key(user_tag(uid)).value(user).build())
        .send()
        .await
        .map_err(aws_err("AddTags"))?;
    Ok(())
}

/// The member's rule: its route header, forwarding to its target group, tagged with
/// its uid in the same call (a rule never exists without its owner's tag).
pub async fn create_rule(
    aws: &Aws,
    listener_arn: &str,
    priority: i32,
    route: &str,
    target_group: &str,
    tags: &BTreeMap<String, String>,
) -> AwsResult<String> {
    let out = aws
        .elb
        .create_rule()
        .listener_arn(listener_arn)
        .priority(priority)
        .conditions(condition(route))
        .actions(elb::forward(target_group))
        .set_tags(Some(elb_tags(tags)))
        .send()
        .await
        .map_err(aws_err("CreateRule"))?;
    out.rules()
        .first()
        .and_then(|r| r.rule_arn())
        .map(str::to_owned)
        .ok_or(AwsError::Incomplete {
            operation: "CreateRule",
            field: "RuleArn",
        })
}

/// Our rule at `priority`, or, when AWS answers `PriorityInUse`, ours if that is
/// what took it (an earlier attempt whose answer was lost) or a rule at the next free
/// priority (a member that took it meanwhile). Returns the rule and its priority.
pub async fn create_rule_at(
    aws: &Aws,
    listener_arn: &str,
    wanted: &DesiredLbGroup,
    priority: i32,
    target_group: &str,
) -> AwsResult<(String, i32)> {
    let mut priority = priority;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match create_rule(
            aws,
            listener_arn,
            priority,
            &wanted.route,
            target_group,
            &wanted.rule_tags,
        )
        .await
        {
            Ok(arn) => return Ok((arn, priority)),
            Err(e) if is_priority_in_use(&e) && attempts < 4 => {
                let rules = observe_rules(aws, listener_arn, &wanted.route).await?;
                if let Some(ours) = rules.iter().find(|r| r.uid.as_deref() == Some(wanted.uid.as_str())) {
                    return Ok((ours.arn.clone(), ours.priority));
                }
                let taken: BTreeSet<i32> = rules.iter().map(|r| r.priority).collect();
                priority = self::priority(&wanted.uid, &taken);
            }
            Err(e) => return Err(e),
        }
    }
}

fn condition(route: &str) -> RuleCondition {
    RuleCondition::builder()
        .field("http-header")
        .http_header_config(
            HttpHeaderConditionConfig::builder()
                .http_header_name(ROUTE_HEADER)
                .values(route)
                .build(),
        )
        .build()
}

/// The rule back to the member's route and target group (its priority is kept).
pub async fn modify_rule(aws: &Aws, rule_arn: &str, route: &str, target_group: &str) -> AwsResult<()> {
    aws.elb
        .modify_rule()
        .rule_arn(rule_arn)
        .conditions(condition(route))
        .actions(elb::forward(target_group))
        .send()
        .await
        .map_err(aws_err("ModifyRule"))?;
    Ok(())
}

pub async fn delete_rule(aws: &Aws, rule_arn: &str) -> AwsResult<()> {
    found(
        aws.elb
            .delete_rule()
            .rule_arn(rule_arn)
            .send()
            .await
            .map_err(aws_err("DeleteRule")),
    )?;
    Ok(())
}

/// How leaving a group went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Left {
    /// Other members remain (this many).
    Others(usize),
    /// We were the last: listener and ALB deleted.
    Deleted,
    /// It was gone already.
    Gone,
}

/// The ALB's members as AWS has them now; `None` when it is gone.
async fn users_now(aws: &Aws, lb_arn: &str) -> AwsResult<Option<BTreeSet<String>>> {
    let tags = match tags_of(aws, &[lb_arn.to_owned()]).await {
        Err(e) if e.is_not_found() => return Ok(None),
        other => other?,
    };
    Ok(tags.get(lb_arn).map(|t| {
        t.keys()
            .filter_map(|k| k.strip_prefix(TAG_USER))
            .map(str::to_owned)
            .collect()
    }))
}

/// Stops being a member, once our rule is gone: drops our tag; if no other member
/// remains, deletes the listeners and the ALB (its security group goes once the ALB
/// has released it). The members are read from AWS, and again after our tag is
/// gone: of two last members leaving at once, the one that reads after both tags are
/// gone deletes it.
pub async fn leave(aws: &Aws, lb_arn: &str, uid: &str) -> AwsResult<Left> {
    let Some(mut users) = users_now(aws, lb_arn).await? else {
        return Ok(Left::Gone);
    };
    if users.contains(uid) && users.iter().any(|u| u != uid) {
        let removed = found(
            aws.elb
                .remove_tags()
                .resource_arns(lb_arn)
                .tag_keys(user_tag(uid))
                .send()
                .await
                .map_err(aws_err("RemoveTags")),
        )?;
        if removed.is_none() {
            return Ok(Left::Gone);
        }
        match users_now(aws, lb_arn).await? {
            None => return Ok(Left::Gone),
            Some(now) => users = now,
        }
    }
    users.remove(uid);
    if !users.is_empty() {
        return Ok(Left::Others(users.len()));
    }
    for listener in elb::observe_listeners(aws, lb_arn).await?.unwrap_or_default() {
        elb::delete_listener(aws, &listener.arn).await?;
    }
    elb::delete_load_balancer(aws, lb_arn).await?;
    Ok(Left::Deleted)
}

/// Whether AWS refused a rule for a priority another rule has.
pub fn is_priority_in_use(e: &AwsError) -> bool {
    e.code() == Some("PriorityInUse")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_group_name_in_its_vpc_and_the_alb_name_fits_elb() {
        let k = key("vpc-1", "shop");
        assert_ne!(k, key("vpc-2", "shop"));
        assert_ne!(k, key("vpc-1", "other"));
        assert!(alb_name(&k).len() <= elb::MAX_NAME, "{}", alb_name(&k));
    }

    #[test]
    fn a_priority_is_stable_in_range_and_free() {
        let none = BTreeSet::new();
        let p = priority("uid-1", &none);
        assert_eq!(p, priority("uid-1", &none), "the same uid, the same place");
        assert!((1..=MAX_PRIORITY).contains(&p));
        let taken = BTreeSet::from([p]);
        let q = priority("uid-1", &taken);
        assert_ne!(q, p);
        assert!((1..=MAX_PRIORITY).contains(&q));
        let wrap = BTreeSet::from([MAX_PRIORITY]);
        assert!((1..=MAX_PRIORITY).contains(&priority("x", &wrap)));
    }

    #[test]
    fn a_route_fits_an_http_header_condition() {
        let long = format!("{}/{}", "n".repeat(63), "a".repeat(253));
        assert!(route(&long).chars().count() <= MAX_ROUTE);
        assert_eq!(route("shop/orders"), "shop/orders");
    }
}
