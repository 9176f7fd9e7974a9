//! One region's PrivateApi parts, read with a handful of list calls and shared by
//! every drift check of a resync window: security groups (with their rules), load
//! balancers, target groups (with the load balancers that route to them), VPC links
//! and REST APIs. A hundred resources cost five reads together instead of five each.
//!
//! The listing calls are the same ones the full pass uses (`list_all` in each part's
//! module), so what counts as "ours" is decided in one place.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::elb::{self, ListedTargetGroup, ObservedLoadBalancer};
use super::rest_api::{self, ListedApi};
use super::security_group::{self, ObservedGroup};
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
    pub target_groups: HashMap<String, ListedTargetGroup>,
    /// Every VPC link of the region, by id, with its owner's uid.
    pub vpc_links: HashMap<String, (Option<String>, ObservedVpcLink)>,
    /// Every REST API of the region, by id.
    pub rest_apis: HashMap<String, ListedApi>,
}

impl Inventory {
    pub async fn load(aws: &Aws) -> AwsResult<Inventory> {
        let (groups, load_balancers, target_groups, vpc_links, rest_apis) = tokio::try_join!(
            security_group::list_all(aws),
            elb::list_load_balancers(aws),
            elb::list_target_groups(aws),
            vpc_link::list_all(aws),
            rest_api::list_all(aws),
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
            vpc_links: vpc_links
                .into_iter()
                .map(|(uid, link)| (link.id.clone(), (uid, link)))
                .collect(),
            rest_apis: rest_apis.into_iter().map(|api| (api.id.clone(), api)).collect(),
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

/// Inventories per region, each reused until it is `max_age` old. One is loaded at a
/// time per cache: reconciles that need it meanwhile wait for it rather than each
/// loading their own.
#[derive(Debug)]
pub struct InventoryCache {
    max_age: Duration,
    by_region: Mutex<HashMap<String, Arc<Inventory>>>,
}

impl InventoryCache {
    pub fn new(max_age: Duration) -> Self {
        InventoryCache {
            max_age,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, aws: &Aws) -> AwsResult<Arc<Inventory>> {
        let mut by_region = self.by_region.lock().await;
        if let Some(inventory) = by_region.get(&aws.region)
            && inventory.taken.elapsed() < self.max_age
        {
            return Ok(inventory.clone());
        }
        let inventory = Arc::new(Inventory::load(aws).await?);
        by_region.insert(aws.region.clone(), inventory.clone());
        Ok(inventory)
    }
}
