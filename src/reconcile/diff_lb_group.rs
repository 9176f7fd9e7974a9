//! The load-balancer group part of the diff (aws/lb_group.rs; docs/engine.md,
//! "Load-balancer groups"). The group's ALB and listener go through the sections
//! every load balancer goes through (`load_balancer`, `listeners`: the desired stack
//! names the group's); what is the group's own is here: its security group and the
//! rule admitting our link group, our membership, the members' agreement on the
//! listener, our listener rule, and, on teardown, leaving.

use std::collections::BTreeSet;

use crate::aws::lb_group::{self, MAX_MEMBERS, MAX_RULES, ObservedLbGroup};
use crate::aws::security_group::{GroupRole, Source};

use super::super::model::{Id, Part, Slot};
use super::super::{Change, Verb};
use super::{Action, Differ, Gate, Going};

impl Differ<'_> {
    /// Before the stack's own security groups (the tasks' admits the group's): the
    /// group's security group, found or made, and its rule admitting our link group;
    /// our membership of the ALB, before our rule is made; and the members' agreement
    /// on the listener. `Err`: stuck (full, or a listener this member disagrees with).
    pub(super) fn lb_group(&mut self) -> Result<(), ()> {
        let (Some(wanted), Some(seen)) = (&self.desired.lb_group, self.observed.lb_group.read()) else {
            return Ok(());
        };
        match &seen.security_group {
            Some(sg) => self.plan.refs.learn(Slot::Group(GroupRole::LoadBalancer), Some(&sg.id)),
            None => self.plan.step(
                Verb::Create,
                Part::SecurityGroup,
                wanted.group_name(),
                "load-balancer group's",
                Action::CreateLbGroupSg(wanted.clone()),
            ),
        }
        // A member that disagrees with the group's listener, or finds it full, writes
        // nothing to the group.
        if seen.load_balancer.is_some()
            && let Some(message) = disagreement(seen, wanted)
        {
            return self.stuck(Part::Listener, "LoadBalancerGroupMismatch", message);
        }
        if seen.load_balancer.is_some() && !seen.users.contains(&wanted.uid) && seen.users.len() >= MAX_MEMBERS {
            let message = format!(
                "load-balancer group {} has {} members, the most one ALB carries (ELB allows 50 tags per load balancer): use another group name",
                wanted.name,
                seen.users.len()
            );
            return self.stuck(Part::LoadBalancer, "LoadBalancerGroupFull", message);
        }
        // Every member admits its own link group; none revokes another's (the
        // shared link group's last user does, before deleting it).
        let link = self.refs().slot(Slot::Group(GroupRole::VpcLink)).map(str::to_owned);
        let admitted = match (&seen.security_group, &link) {
            (Some(sg), Some(link)) => sg.rules.iter().any(|r| {
                r.protocol == "tcp"
                    && r.from_port == wanted.port
                    && r.to_port == wanted.port
                    && r.source == Source::Group(link.clone())
            }),
            _ => false,
        };
        if !admitted {
            let from = Id::Of(Slot::Group(GroupRole::VpcLink));
            self.plan.step(
                Verb::Update,
                Part::SecurityGroup,
                wanted.group_name(),
                format!("allow tcp {0}-{0} from {1}", wanted.port, self.refs().show(&from)),
                Action::Authorize {
                    group: Id::Of(Slot::Group(GroupRole::LoadBalancer)),
                    port: wanted.port,
                    from,
                },
            );
        }
        let Some(lb) = &seen.load_balancer else {
            return Ok(()); // made by `load_balancer`, with us as its first member
        };
        if !seen.users.contains(&wanted.uid) {
            self.plan.step(
                Verb::Update,
                Part::LoadBalancer,
                lb_group::alb_name(&wanted.key),
                format!("join group {} ({} other members)", wanted.name, seen.users.len()),
                Action::JoinLbGroup {
                    arn: lb.arn.clone(),
                    group: wanted.clone(),
                },
            );
        }
        Ok(())
    }

    /// After the listener: our rule, matching our route header and forwarding to our
    /// target group. A rule found keeps its priority; a new one takes the first free
    /// priority from the place our uid gives; more than one of ours (a lost answer)
    /// are one too many.
    pub(super) fn lb_group_rule(&mut self) -> Result<(), ()> {
        let (Some(wanted), Some(seen)) = (&self.desired.lb_group, self.observed.lb_group.read()) else {
            return Ok(());
        };
        let ours: Vec<_> = seen.ours().collect();
        let Some(kept) = ours.first() else {
            if seen.rules.len() >= MAX_RULES {
                let message = format!(
                    "the listener of load-balancer group {} has {} rules, AWS's default quota: use another group name",
                    wanted.name,
                    seen.rules.len()
                );
                return self.stuck(Part::ListenerRule, "LoadBalancerGroupFull", message);
            }
            let taken: BTreeSet<i32> = seen.rules.iter().map(|r| r.priority).collect();
            let priority = lb_group::priority(&wanted.uid, &taken);
            self.plan.step(
                Verb::Create,
                Part::ListenerRule,
                &wanted.route,
                format!(
                    "priority {priority}: {} = {} → target group",
                    lb_group::ROUTE_HEADER,
                    wanted.route
                ),
                Action::CreateListenerRule {
                    group: wanted.clone(),
                    priority,
                },
            );
            return Ok(());
        };
        self.plan.refs.learn(Slot::ListenerRule, Some(&kept.arn));
        self.plan
            .refs
            .learn(Slot::ListenerRulePriority, Some(&kept.priority.to_string()));
        let target = self.refs().slot(Slot::TargetGroup).map(str::to_owned);
        let forwards = target.is_some_and(|tg| kept.forwards_to == [tg]);
        if kept.route.as_deref() != Some(wanted.route.as_str()) || !forwards {
            self.plan.step(
                Verb::Update,
                Part::ListenerRule,
                &wanted.route,
                format!("priority {}: route header / forward action", kept.priority),
                Action::ModifyListenerRule {
                    arn: kept.arn.clone(),
                    route: wanted.route.clone(),
                },
            );
        }
        for extra in &ours[1..] {
            self.plan.step(
                Verb::Delete,
                Part::ListenerRule,
                &wanted.route,
                format!("priority {}: a second rule of ours", extra.priority),
                Action::DeleteListenerRule(extra.arn.clone()),
            );
        }
        Ok(())
    }

    /// Teardown: our rules, then our membership (the last member deletes the listener
    /// and the ALB); once no ALB of the group is left, the group's security group.
    pub(super) fn lb_group_deletes(&mut self, going: &Going) {
        if self.desired.lb_group.is_some() {
            return;
        }
        let Some(seen) = self.observed.lb_group.read() else {
            return;
        };
        for rule in seen.ours() {
            self.plan.step(
                Verb::Delete,
                Part::ListenerRule,
                rule.route.clone().unwrap_or_default(),
                format!("priority {}", rule.priority),
                Action::DeleteListenerRule(rule.arn.clone()),
            );
        }
        let others = seen.users.iter().filter(|u| **u != seen.me).count();
        match (&seen.load_balancer, &seen.security_group) {
            (Some(lb), _) if seen.users.contains(&seen.me) || seen.users.is_empty() => {
                let (verb, detail) = match others {
                    0 => (
                        Verb::Delete,
                        "group ALB and listener: its last member leaves".to_owned(),
                    ),
                    n => (Verb::Update, format!("leave group ({n} other members)")),
                };
                self.plan.step(
                    verb,
                    Part::LoadBalancer,
                    crate::aws::arn_name(&lb.arn),
                    detail,
                    Action::LeaveLbGroup {
                        arn: lb.arn.clone(),
                        uid: seen.me.clone(),
                    },
                );
                if others == 0 {
                    self.plan
                        .waiting
                        .push(format!("the ALB of load-balancer group {} to be deleted", lb.arn));
                    if going.assumed {
                        self.delete_group_sg(seen);
                    }
                }
            }
            (None, Some(_)) => self.delete_group_sg(seen),
            _ => {}
        }
    }

    /// The group's security group, once no ALB of the group uses it: any member's
    /// teardown may delete it (AWS refuses while the ALB's network interfaces or a
    /// member's rule still hold it: noted, retried).
    fn delete_group_sg(&mut self, seen: &ObservedLbGroup) {
        if let Some(sg) = &seen.security_group {
            self.plan.tolerant(
                Gate::Always,
                Change::new(Verb::Delete, Part::SecurityGroup, &sg.id, "load-balancer group's"),
                Action::DeleteGroup(sg.id.clone()),
                format!("security group {} to be released", sg.id),
                None,
            );
        }
    }
}

/// Why this member cannot use the group's listener as it is, if it cannot: the
/// group's port, protocol and certificate are its first member's, and a member that
/// wants others would take them from every other member.
fn disagreement(seen: &ObservedLbGroup, wanted: &lb_group::DesiredLbGroup) -> Option<String> {
    let first = seen.listeners.first()?;
    let protocol = if wanted.certificate.is_some() { "HTTPS" } else { "HTTP" };
    let agrees = seen.listeners.iter().any(|l| {
        l.port == wanted.port
            && l.protocol == protocol
            && (wanted.certificate.is_none() || l.certificate == wanted.certificate)
    });
    if agrees {
        return None;
    }
    let has = match &first.certificate {
        Some(cert) => format!("{}:{} with certificate {cert}", first.protocol, first.port),
        None => format!("{}:{}", first.protocol, first.port),
    };
    let wants = match &wanted.certificate {
        Some(cert) => format!("{protocol}:{} with certificate {cert}", wanted.port),
        None => format!("{protocol}:{}", wanted.port),
    };
    Some(format!(
        "load-balancer group {} listens on {has}; this resource wants {wants}: members of a group must agree on loadBalancer.listenerPort and loadBalancer.certificateArn",
        wanted.name
    ))
}
