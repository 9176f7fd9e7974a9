//! One region's PrivateApi parts, read with a handful of list calls and shared by
//! every drift check of a resync window: security groups (with their rules), load
//! balancers, target groups (with the load balancers that route to them), VPC links
//! and REST and HTTP APIs. A hundred resources cost five reads together instead of five each.
//!
//! The listing calls are the same ones the full pass uses (`list_all` in each part's
//! module), so what counts as "ours" is decided in one place.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::elb::{self, ObservedLoadBalancer, ObservedTargetGroup};
use super::http_api;
use super::rest_api::{self, ListedApi};
use super::security_group::{self, ObservedGroup};
use super::shared_link::{self, ObservedSharedLink};
use super::vpc_link::{self, ObservedVpcLink};
use super::{Aws, AwsResult};

#[derive(Debug)]
pub struct Inventory {
    pub taken: Instant,
    /// Our security groups, by the uid of their PrivateApi.
    pub groups: HashMap<String, Vec<ObservedGroup>>,
    /// Every load balancer of the region, by ARN.
    pub load_balancers: HashMap<String, ObservedLoadBalancer>,
    /// Every target group of the region, by ARN.
    pub target_groups: HashMap<String, ObservedTargetGroup>,
    /// Every VPC link of the region, by id, with its owner's uid.
    pub vpc_links: HashMap<String, (Option<String>, ObservedVpcLink)>,
    /// The shared VPC links among them (no owner), oldest first.
    pub shared_links: Vec<ObservedSharedLink>,
    /// Every REST API of the region, by id.
    pub rest_apis: HashMap<String, ListedApi>,
    /// Every HTTP API of the region, by id.
    pub http_apis: HashMap<String, http_api::ListedApi>,
}

impl Inventory {
    pub async fn load(aws: &Aws) -> AwsResult<Inventory> {
        let (groups, load_balancers, target_groups, vpc_links, rest_apis, http_apis) = tokio::try_join!(
            security_group::list_all(aws),
            elb::list_load_balancers(aws),
            elb::list_target_groups(aws),
            vpc_link::list_region(aws),
            rest_api::list_all(aws),
            http_api::list_all(aws),
        )?;
        let mut by_uid: HashMap<String, Vec<ObservedGroup>> = HashMap::new();
        for (uid, group) in groups {
            by_uid.entry(uid).or_default().push(group);
        }
        Ok(Inventory {
            taken: Instant::now(),
            groups: by_uid,
            load_balancers: load_balancers.into_iter().map(|lb| (lb.arn.clone(), lb)).collect(),
            target_groups: target_groups.into_iter().map(|tg| (tg.arn.clone(), tg)).collect(),
            shared_links: shared_link::from_listing(&vpc_links),
            vpc_links: vpc_link::owners(&vpc_links)
                .into_iter()
                .map(|(uid, link)| (link.id.clone(), (uid, link)))
                .collect(),
            rest_apis: rest_apis.into_iter().map(|api| (api.id.clone(), api)).collect(),
            http_apis: http_apis.into_iter().map(|api| (api.id.clone(), api)).collect(),
        })
    }

    /// VPC links owned by this uid.
    pub fn links_of<'a>(&'a self, uid: &'a str) -> impl Iterator<Item = &'a ObservedVpcLink> + 'a {
        self.vpc_links
            .values()
            .filter(move |(owner, _)| owner.as_deref() == Some(uid))
            .map(|(_, link)| link)
    }

    /// REST APIs owned by this uid.
    pub fn apis_of<'a>(&'a self, uid: &'a str) -> impl Iterator<Item = &'a ListedApi> + 'a {
        self.rest_apis
            .values()
            .filter(move |api| api.uid.as_deref() == Some(uid))
    }
}

/// Reads one inventory costs (one page per list).
pub const LISTS: usize = 6;

/// How long an inventory is reused. `Fixed`: for checks that must see AWS move (a
/// resource waiting on it). `Shared`: for the resync of Ready resources, sized so that
/// the lists cost each resource about `reads_per_resync` reads per resync: a hundred
/// resources share one inventory per window. Never fresher than `at_least` (with many
/// resources, once a window). Fewer than `fresh_below` resources are not held to the
/// budget: their lists are as fresh as `at_least` allows, so a lone resource's drift is
/// seen at its next check (the budget is for many resources; a few cost little).
#[derive(Clone, Copy, Debug)]
pub enum Freshness {
    Fixed(Duration),
    Shared {
        at_least: Duration,
        resync: Duration,
        reads_per_resync: f64,
        fresh_below: usize,
    },
}

impl Freshness {
    /// The longest an inventory may be reused by `resources` resources (pure).
    pub fn max_age(&self, resources: usize) -> Duration {
        match *self {
            Freshness::Fixed(age) => age,
            Freshness::Shared { at_least, .. } if resources < self.fresh_below() => at_least,
            Freshness::Shared {
                at_least,
                resync,
                reads_per_resync,
                ..
            } => {
                let share = resync.as_secs_f64() * LISTS as f64 / (resources.max(1) as f64 * reads_per_resync);
                at_least.max(Duration::try_from_secs_f64(share).unwrap_or(Duration::MAX))
            }
        }
    }

    fn fresh_below(&self) -> usize {
        match *self {
            Freshness::Fixed(_) => 0,
            Freshness::Shared { fresh_below, .. } => fresh_below,
        }
    }

    /// How long a resource counts as one of those sharing the inventory after its
    /// last check.
    fn user_memory(&self) -> Duration {
        match *self {
            Freshness::Fixed(age) => age * 2,
            Freshness::Shared { resync, .. } => resync * 2,
        }
    }
}

#[derive(Debug, Default)]
struct Region {
    inventory: Option<Arc<Inventory>>,
    /// Resources that checked against this region lately, by uid: when last.
    users: HashMap<String, Instant>,
}

/// Inventories per region, each reused while fresh enough (see [`Freshness`]) and
/// taken after the asking resource's last full pass (an older one would not show
/// what that pass made or repaired). One is loaded at a time per cache: reconciles
/// that need it meanwhile wait for it rather than each loading their own.
#[derive(Debug)]
pub struct InventoryCache {
    freshness: Freshness,
    by_region: Mutex<HashMap<String, Region>>,
}

impl InventoryCache {
    pub fn new(freshness: Freshness) -> Self {
        InventoryCache {
            freshness,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    /// The region's inventory for the resource `uid`, taken after `not_before`.
    pub async fn get(&self, aws: &Aws, uid: &str, not_before: Instant) -> AwsResult<Arc<Inventory>> {
        let mut by_region = self.by_region.lock().await;
        let region = by_region.entry(aws.region.clone()).or_default();
        let now = Instant::now();
        let memory = self.freshness.user_memory();
        region.users.retain(|_, last| now.duration_since(*last) < memory);
        region.users.insert(uid.to_owned(), now);
        let max_age = self.freshness.max_age(region.users.len());
        if let Some(inventory) = &region.inventory
            && inventory.taken >= not_before
            && inventory.taken.elapsed() < max_age
        {
            return Ok(inventory.clone());
        }
        let inventory = Arc::new(Inventory::load(aws).await?);
        region.inventory = Some(inventory.clone());
        Ok(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_inventory_lasts_longer_the_fewer_resources_share_it() {
        let shared = Freshness::Shared {
            at_least: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            reads_per_resync: 0.5,
            fresh_below: 0,
        };
        // One resource: the six lists every twelve resyncs cost it half a read each.
        assert_eq!(shared.max_age(1), Duration::from_secs(3600));
        assert_eq!(shared.max_age(0), Duration::from_secs(3600));
        assert_eq!(shared.max_age(10), Duration::from_secs(360));
        // A hundred: the floor, six lists a minute among them (0.3 reads each).
        assert_eq!(shared.max_age(100), Duration::from_secs(60));
        assert_eq!(
            Freshness::Fixed(Duration::from_secs(5)).max_age(1000),
            Duration::from_secs(5)
        );
        // Below `fresh_below`, the budget does not stretch the lists' life.
        let few_fresh = Freshness::Shared {
            at_least: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            reads_per_resync: 0.5,
            fresh_below: 20,
        };
        assert_eq!(few_fresh.max_age(1), Duration::from_secs(60));
        assert_eq!(few_fresh.max_age(19), Duration::from_secs(60));
        assert_eq!(few_fresh.max_age(20), Duration::from_secs(180));
    }
}
