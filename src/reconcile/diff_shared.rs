//! The shared VPC link part of the diff (aws/shared_link.rs; docs/engine.md, "Shared
//! VPC links"): find or make the network's link and join it before the API is wired
//! through it; leave the links the API no longer uses after it has moved; delete the
//! groups of links we were the last user of, once the links are gone.

use crate::aws::security_group::GroupRole;
use crate::aws::shared_link::ObservedSharedLink;
use crate::aws::vpc_link::LinkState;

use super::super::desired::LinkWanted;
use super::super::model::{Condition, Part, Slot};
use super::super::{Change, Verb};
use super::{Action, Differ, Gate, Going, LinkReady, link_status};

impl Differ<'_> {
    /// The link the API is to use: the oldest of the network's shared links with room
    /// for us (a deterministic choice, so that racing makers converge on one), joined
    /// if we are not a user yet; made (with the network's group) when there is none.
    /// `Err`: the link failed (the pass stops). Without a shared link wanted, or
    /// unread: nothing to wait for here.
    pub(super) fn shared_link(&mut self) -> Result<LinkReady, ()> {
        let (Some(wanted), Some(shared)) = (&self.desired.shared_link, self.observed.shared_links.read()) else {
            return Ok(LinkReady::Yes);
        };
        let target = shared
            .links
            .iter()
            .find(|l| l.key == wanted.key && l.state != LinkState::Deleting && l.has_room_for(&wanted.uid));
        let Some(link) = target else {
            let group = shared
                .groups
                .iter()
                .flatten()
                .find(|g| g.key == wanted.key)
                .map(|g| g.id.clone());
            match group {
                Some(id) => self.plan.refs.learn(Slot::Group(GroupRole::VpcLink), Some(&id)),
                None => self.plan.step(
                    Verb::Create,
                    Part::SecurityGroup,
                    wanted.group().name,
                    "shared link group",
                    Action::CreateSharedGroup(wanted.clone()),
                ),
            }
            self.plan.step(
                Verb::Create,
                Part::VpcLink,
                wanted.name(),
                format!("V2, shared by the network's APIs, {} subnets", wanted.subnets.len()),
                Action::CreateSharedLink {
                    link: wanted.clone(),
                    region_links: shared.region_links,
                },
            );
            self.plan.part(link_status("(new)", LinkState::Pending));
            return Ok(LinkReady::IfNewOneIs);
        };
        if link.state == LinkState::Failed {
            let message = link
                .message
                .clone()
                .unwrap_or_else(|| format!("shared VPC link {} is FAILED", link.id));
            self.stuck(Part::VpcLink, "VpcLinkFailed", message)?;
            return Err(());
        }
        if !link.users.contains(&wanted.uid) {
            self.plan.step(
                Verb::Update,
                Part::VpcLink,
                &link.id,
                format!("join (shared by {} other APIs)", link.users.len()),
                Action::JoinSharedLink {
                    id: link.id.clone(),
                    link: wanted.clone(),
                },
            );
        }
        self.plan.refs.learn(Slot::VpcLink, Some(&link.id));
        self.plan.refs.learn(
            Slot::Group(GroupRole::VpcLink),
            link.security_groups.first().map(String::as_str),
        );
        let mut status = link_status(&link.id, link.state);
        if status.ready {
            status.message = format!("{} (shared)", status.message);
        }
        self.plan.part(status);
        Ok(match link.state {
            LinkState::Available => LinkReady::Yes,
            _ => LinkReady::No,
        })
    }

    /// The shared links we use but no longer want, left once the API has moved off
    /// them (`ready`: whether it could move in this pass); teardown leaves them after
    /// the API is deleted. Also the network's links no one uses (made twice by a race
    /// or a lost answer, whose makers have moved to the oldest).
    pub(super) fn leave_shared_links(&mut self, ready: LinkReady) {
        let Some(shared) = self.observed.shared_links.read() else {
            return;
        };
        let gate = match (&self.desired.vpc_link, ready) {
            (None, _) | (Some(_), LinkReady::Yes) => Gate::Always,
            (Some(_), LinkReady::IfNewOneIs) => Gate::LinkUsable,
            (Some(_), LinkReady::No) => return,
        };
        let keep = match self.desired.vpc_link {
            Some(LinkWanted::Shared) => self.plan.refs.slot(Slot::VpcLink).map(str::to_owned),
            _ => None,
        };
        let unused = |l: &&ObservedSharedLink| {
            self.desired
                .shared_link
                .as_ref()
                .is_some_and(|w| w.key == l.key && l.users.is_empty())
        };
        let leaving: Vec<ObservedSharedLink> = shared
            .links
            .iter()
            .filter(|l| l.users.contains(&shared.me) || unused(l))
            .filter(|l| Some(&l.id) != keep.as_ref())
            .cloned()
            .collect();
        for link in leaving {
            if link.state == LinkState::Deleting {
                self.plan
                    .waiting
                    .push(format!("shared VPC link {} to be deleted", link.id));
                continue;
            }
            let others = link.users.iter().filter(|u| **u != shared.me).count();
            let (verb, detail) = match others {
                0 if link.users.is_empty() => (Verb::Delete, "shared, no user".to_owned()),
                0 => (Verb::Delete, "shared, its last user leaves".to_owned()),
                n => (Verb::Update, format!("leave (shared by {n} other APIs)")),
            };
            if others == 0 {
                self.plan
                    .waiting
                    .push(format!("shared VPC link {} to be deleted", link.id));
            }
            // AWS refuses while an integration (or a REST stage's deployment) still
            // names it: noted, left on the next pass.
            self.plan.tolerant(
                gate,
                Change::new(verb, Part::VpcLink, &link.id, detail),
                Action::LeaveSharedLink {
                    id: link.id.clone(),
                    uid: shared.me.clone(),
                    user: shared.user.clone(),
                },
                format!("shared VPC link {} still in use", link.id),
                Some((Condition::VpcLink, "RetiringVpcLink")),
            );
        }
    }

    /// The groups of shared links we were the last user of, once no link uses them:
    /// the last step, after our own groups' rules naming them are gone. A group a
    /// live link uses again (a new user made one) is left to that link's last user.
    pub(super) fn reap_shared_groups(&mut self, going: &Going) {
        let Some(shared) = self.observed.shared_links.read() else {
            return;
        };
        // `plan --destroy`: the groups of the links we are the last user of go too,
        // once teardown has deleted those links.
        if going.assumed && self.desired.shared_link.is_none() {
            let last = shared
                .links
                .iter()
                .filter(|l| l.users.len() == 1 && l.users.contains(&shared.me))
                .flat_map(|l| l.security_groups.iter().cloned())
                .collect::<Vec<_>>();
            for group in last {
                self.plan.tolerant(
                    Gate::Always,
                    Change::new(Verb::Delete, Part::SecurityGroup, &group, "shared link group"),
                    Action::ReapSharedGroup(group.clone()),
                    format!("security group {group} to be released"),
                    None,
                );
            }
        }
        let wanted_key = self.desired.shared_link.as_ref().map(|w| w.key.as_str());
        for group in shared.groups.iter().flatten() {
            if !group.reapers.contains(&shared.me) || Some(group.key.as_str()) == wanted_key {
                continue;
            }
            let users: Vec<&ObservedSharedLink> = shared
                .links
                .iter()
                .filter(|l| l.key == group.key || l.security_groups.contains(&group.id))
                .collect();
            if users.iter().any(|l| l.state != LinkState::Deleting) {
                continue;
            }
            if !users.is_empty() {
                self.plan
                    .waiting
                    .push(format!("the shared VPC link of group {} to be deleted", group.id));
                continue;
            }
            self.plan.tolerant(
                Gate::Always,
                Change::new(Verb::Delete, Part::SecurityGroup, &group.id, "shared link group"),
                Action::ReapSharedGroup(group.id.clone()),
                format!("security group {} to be released", group.id),
                None,
            );
        }
    }
}
