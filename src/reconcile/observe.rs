//! The observed stack: what exists in AWS of one PrivateApi, found by its ownership
//! tags and owner-derived names. One observer for every reader: the full pass reads
//! every part ([`full`]), teardown reads by the owner alone, whatever the spec says now
//! ([`for_teardown`]), and the drift check fills it from the shared region inventory
//! ([`from_inventory`]) and one [`probe`]. A part not read is [`Seen::Unread`], and the
//! diff leaves it alone.

use std::collections::BTreeMap;

use crate::aws::authorizer::{self, ObservedAuthorizer};
use crate::aws::dns;
use crate::aws::domain::{self, Flavor, Mapping, ObservedDomain};
use crate::aws::ecs::{self, ObservedCluster, ObservedService, ObservedTaskDefinition};
use crate::aws::elb::{self, ObservedListener, ObservedLoadBalancer, ObservedTargetGroup};
use crate::aws::http_api;
use crate::aws::iam::{self, ObservedRole, RoleKind};
use crate::aws::inventory::Inventory;
use crate::aws::lb_group::{self, DesiredLbGroup, ObservedLbGroup};
use crate::aws::log_group::{self, ObservedLogGroup};
use crate::aws::rest_api::{self, Deployment, ObservedApi, ObservedStage};
use crate::aws::security_group::{self, ObservedGroup};
use crate::aws::shared_link::{self, ObservedSharedGroup, ObservedSharedLink};
use crate::aws::usage_plan::{self, ObservedKeys};
use crate::aws::vpc_link::{self, ObservedVpcLink};
use crate::aws::vpc_link_v1::{self, ObservedVpcLinkV1};
use crate::aws::{Aws, AwsError, AwsResult, Owner};
use crate::crd::ResourceIds;

use super::desired::{self, DesiredStack, LinkWanted};
use super::drift::Probe;

/// One part's observation: read (with what was found), or not read at all.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Seen<T> {
    #[default]
    Unread,
    Read(T),
}

impl<T> Seen<T> {
    pub fn read(&self) -> Option<&T> {
        match self {
            Seen::Read(value) => Some(value),
            Seen::Unread => None,
        }
    }
}

impl<T> Seen<Option<T>> {
    /// Read and there.
    pub fn found(&self) -> Option<&T> {
        self.read().and_then(Option::as_ref)
    }

    /// Read and not there.
    pub fn is_absent(&self) -> bool {
        matches!(self, Seen::Read(None))
    }
}

/// The task definitions of our family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskDefinitions {
    /// The latest ACTIVE revision, with the fingerprint of its content.
    pub latest: Option<ObservedTaskDefinition>,
    /// Every ACTIVE revision, oldest first.
    pub active: Vec<String>,
}

/// The NLB in front of the ALB, with its listeners, target group and that group's
/// registered targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedFront {
    pub target_group: Seen<Option<ObservedTargetGroup>>,
    pub load_balancer: Seen<Option<ObservedLoadBalancer>>,
    pub listeners: Seen<Vec<ObservedListener>>,
    pub targets: Seen<Vec<String>>,
}

impl ObservedFront {
    fn read(observed: elb::Observed, targets: Seen<Vec<String>>) -> ObservedFront {
        ObservedFront {
            target_group: Seen::Read(observed.target_group),
            load_balancer: Seen::Read(observed.load_balancer),
            listeners: Seen::Read(observed.listeners),
            targets,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedStack {
    pub groups: Seen<Vec<ObservedGroup>>,
    /// The roles read, by kind; a kind missing was not read.
    pub roles: BTreeMap<RoleKind, Option<ObservedRole>>,
    pub cluster: Seen<Option<ObservedCluster>>,
    pub target_group: Seen<Option<ObservedTargetGroup>>,
    pub load_balancer: Seen<Option<ObservedLoadBalancer>>,
    pub listeners: Seen<Vec<ObservedListener>>,
    /// The NLB in front of the ALB (read when the spec wants one, and on teardown).
    pub front: ObservedFront,
    /// Our VPC links, oldest first.
    pub vpc_links: Seen<Vec<ObservedVpcLink>>,
    /// Our VPC links V1.
    pub vpc_links_v1: Seen<Vec<ObservedVpcLinkV1>>,
    /// The link the spec names, if it does.
    pub existing_link: Seen<Option<ObservedVpcLink>>,
    /// The region's shared links (and some of their groups).
    pub shared_links: Seen<SharedLinks>,
    /// The load-balancer group: its ALB, listeners, rules and security group. In a
    /// full pass its ALB and listeners are also `load_balancer` and `listeners`.
    pub lb_group: Seen<ObservedLbGroup>,
    pub task_definitions: Seen<TaskDefinitions>,
    pub service: Seen<Option<ObservedService>>,
    /// Our REST APIs, oldest first; the first one is ours to keep.
    pub rest_apis: Seen<Vec<String>>,
    /// The kept API's resources, methods and integrations.
    pub api: Seen<Option<ObservedApi>>,
    pub stages: Seen<Vec<ObservedStage>>,
    pub deployments: Seen<Vec<Deployment>>,
    /// Our HTTP APIs, oldest first; the first one is ours to keep.
    pub http_apis: Seen<Vec<String>>,
    /// The kept HTTP API's integrations and routes.
    pub http_details: Seen<Option<http_api::ObservedDetails>>,
    pub http_stages: Seen<Vec<http_api::ObservedStage>>,
    /// Our custom domain names (of the flavor read, both on teardown).
    pub domains: Seen<Vec<(Flavor, ObservedDomain)>>,
    /// The desired domain name, when it exists but is not ours.
    pub foreign_domain: Option<String>,
    /// The mappings of the desired domain, when it is ours.
    pub mappings: Seen<Vec<Mapping>>,
    /// What the spec's Route 53 zone holds at the desired domain's name and at each
    /// of our domains' names.
    pub records: Seen<Vec<dns::ObservedRecord>>,
    /// The tasks' log group (by its owner-derived name).
    pub log_group: Seen<Option<ObservedLogGroup>>,
    /// The kept API's authorizers (REST or HTTP, as the API). Read when the spec wants
    /// one or a method or route names one; otherwise none is in use, and this is
    /// empty (an unused authorizer of ours, left by a pass that stopped between moving
    /// the methods and deleting it, goes with the API): a stack without authorization
    /// costs no read.
    pub authorizers: Seen<Vec<ObservedAuthorizer>>,
    /// The kept REST API as listed: its resource policy and VPC endpoints.
    pub rest_api_listed: Seen<Option<rest_api::ListedApi>>,
    /// Our usage plans and API keys (by tag). Read when the spec wants keys or a
    /// method of the kept API still requires one, and on teardown: a stack without
    /// keys costs no read.
    pub usage_keys: Seen<ObservedKeys>,
}

/// What the region holds of shared links, as the shared link part needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedLinks {
    /// The uid of the stack observed: a user among the links' users.
    pub me: String,
    /// Its `namespace/name`, the value of its user tags.
    pub user: String,
    /// Every shared link in the region, oldest first.
    pub links: Vec<ObservedSharedLink>,
    /// Shared links' groups, when read: those of the VPC when the stack's network
    /// has no link yet (a full pass), those we marked for deletion (teardown).
    pub groups: Option<Vec<ObservedSharedGroup>>,
    /// Every VPC link (V2) in the region, shared or not: the quota counts them all.
    pub region_links: usize,
}

impl SharedLinks {
    fn of(owner: &Owner, listing: &[aws_sdk_apigatewayv2::types::VpcLink]) -> SharedLinks {
        SharedLinks {
            me: owner.uid.clone(),
            user: crate::aws::ownership::shorten(&owner.key(), crate::aws::ownership::MAX_TAG_VALUE),
            links: shared_link::from_listing(listing),
            groups: None,
            region_links: listing.len(),
        }
    }

    /// The links `me` uses.
    pub fn mine(&self) -> impl Iterator<Item = &ObservedSharedLink> {
        self.links.iter().filter(|l| l.users.contains(&self.me))
    }
}

/// Our domain names among `all`, and whether `wanted` is someone else's.
fn domains_of(
    flavor: Flavor,
    all: Vec<ObservedDomain>,
    uid: &str,
    wanted: Option<&str>,
) -> (Vec<(Flavor, ObservedDomain)>, Option<String>) {
    let foreign = wanted.filter(|name| all.iter().any(|d| d.name == *name && d.uid.as_deref() != Some(uid)));
    let ours = all
        .into_iter()
        .filter(|d| d.uid.as_deref() == Some(uid))
        .map(|d| (flavor, d))
        .collect();
    (ours, foreign.map(str::to_owned))
}

/// What a pass knows, before it reads, of what exists of its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum History {
    /// Anything may exist (a crash, a lost answer, another writer): every part is read.
    Unknown,
    /// Nothing of the owner exists: its object has just been given our finalizer and
    /// has no status, and no pass writes to AWS before the finalizer is on. Its own
    /// parts (found by its uid tag or named after it) are read as absent without a
    /// call; what other stacks share with it (VPC links, the network's groups, a
    /// load-balancer group, domains and records), a cluster or link the spec names,
    /// the log group (named after the object: a namesake may have retained one) and
    /// the pre-flight checks are read as always. A pass that fails leaves the
    /// finalizer on: its retry reads everything.
    New,
}

/// Every part of the stack `desired` describes, in two rounds of parallel reads (the
/// API's details need its id); of a [`History::New`] owner, only what it may share.
pub async fn full(aws: &Aws, owner: &Owner, desired: &DesiredStack, history: History) -> AwsResult<ObservedStack> {
    let known = history == History::Unknown;
    let existing_link = match &desired.vpc_link {
        Some(LinkWanted::Existing(id)) => Some(id.as_str()),
        _ => None,
    };
    let vpc = (!desired.vpc_id.is_empty()).then_some(desired.vpc_id.as_str());
    let cluster = async {
        match &desired.cluster {
            Some(cluster) if known || !cluster.managed => ecs::observe_cluster(aws, owner, cluster).await,
            _ => Ok(None),
        }
    };
    // The service is read in the cluster the stack wants; a stack without one has none.
    let service = async {
        match (&desired.cluster, &desired.service) {
            (Some(cluster), Some(service)) if known => {
                ecs::observe_service(aws, owner, &cluster.name, &service.name).await
            }
            _ => Ok(None),
        }
    };
    let family = desired::task_family(owner);
    // Only the kind of API the spec asks for is read: the kind is immutable.
    let links_v1 = async {
        match &desired.vpc_link {
            Some(LinkWanted::OwnedV1(_)) if known => vpc_link_v1::observe(aws, owner).await.map(Some),
            Some(LinkWanted::OwnedV1(_)) => Ok(Some(Vec::new())),
            _ => Ok(None),
        }
    };
    let flavor = if desired.http_api.is_some() {
        Flavor::Http
    } else {
        Flavor::Rest
    };
    let domains = domain::list_all(aws, flavor);
    let rest_apis = async {
        match &desired.api {
            Some(_) if known => rest_api::find_listed(aws, owner).await.map(Some),
            Some(_) => Ok(Some(Vec::new())),
            None => Ok(None),
        }
    };
    let http_apis = async {
        match &desired.http_api {
            Some(_) if known => http_api::find(aws, owner).await.map(Some),
            Some(_) => Ok(Some(Vec::new())),
            None => Ok(None),
        }
    };
    let logs = async {
        match &desired.log_group {
            // Named after the object, not its uid: one a namesake retained may be there.
            Some(group) => log_group::observe(aws, &group.name).await.map(Seen::Read),
            None => Ok(Seen::Unread),
        }
    };
    // Only a stack that wants the front NLB reads it: the architecture is immutable.
    let front = async {
        match &desired.front {
            Some(_) if known => {
                let (found, targets) = elb::observe_front(aws, owner).await?;
                Ok(ObservedFront::read(found, Seen::Read(targets)))
            }
            Some(_) => Ok(ObservedFront::read(elb::Observed::default(), Seen::Read(Vec::new()))),
            None => Ok(ObservedFront::default()),
        }
    };
    let lb_group = async {
        match &desired.lb_group {
            Some(group) => lb_group::observe(aws, group).await.map(Some),
            None => Ok(None),
        }
    };
    let (
        groups,
        roles,
        cluster,
        elb,
        links,
        existing,
        task_definitions,
        service,
        (apis, http_apis, links_v1, domains, logs, front, lb_group),
    ) = tokio::try_join!(
        // Each read on the heap: the join's futures are built in this poll's frame,
        // and inline they took about 1 MiB of a debug build's 2 MiB test thread.
        Box::pin(async {
            match known {
                true => security_group::observe(aws, owner, vpc).await,
                false => Ok(Vec::new()),
            }
        }),
        Box::pin(async {
            match known {
                true => roles(aws, owner, desired).await,
                false => Ok(none_of_our_roles(desired)),
            }
        }),
        Box::pin(cluster),
        Box::pin(async {
            match known {
                true => elb::observe(aws, owner).await,
                false => Ok(elb::Observed::default()),
            }
        }),
        Box::pin(vpc_link::list_region(aws)),
        Box::pin(async {
            match existing_link {
                Some(id) => vpc_link::observe_existing(aws, id).await,
                None => Ok(None),
            }
        }),
        Box::pin(async {
            match known {
                true => task_definitions(aws, owner, &family).await,
                false => Ok(TaskDefinitions::default()),
            }
        }),
        Box::pin(service),
        Box::pin(async {
            tokio::try_join!(
                Box::pin(rest_apis),
                Box::pin(http_apis),
                Box::pin(links_v1),
                Box::pin(domains),
                Box::pin(logs),
                Box::pin(front),
                Box::pin(lb_group)
            )
        }),
    )?;
    let mut shared = SharedLinks::of(owner, &links);
    // The network's group is read only when its link is to be made (never in a pass
    // that finds the link: no extra read for a stack in sync).
    if let Some(wanted) = &desired.shared_link
        && !shared
            .links
            .iter()
            .any(|l| l.key == wanted.key && l.state != vpc_link::LinkState::Deleting && l.has_room_for(&owner.uid))
    {
        shared.groups = Some(shared_link::observe_groups(aws, Some(&wanted.vpc_id), None).await?);
    }
    let mut observed = ObservedStack {
        groups: Seen::Read(groups),
        roles,
        cluster: Seen::Read(cluster),
        target_group: Seen::Read(elb.target_group),
        load_balancer: Seen::Read(elb.load_balancer),
        listeners: Seen::Read(elb.listeners),
        front,
        vpc_links: Seen::Read(vpc_link::ours(&links, owner)),
        shared_links: Seen::Read(shared),
        existing_link: if existing_link.is_some() {
            Seen::Read(existing)
        } else {
            Seen::Unread
        },
        task_definitions: Seen::Read(task_definitions),
        service: Seen::Read(service),
        log_group: logs,
        ..ObservedStack::default()
    };
    // A group member's load balancer and listener are the group's.
    if let Some(group) = lb_group {
        observed.load_balancer = Seen::Read(group.load_balancer.clone());
        observed.listeners = Seen::Read(group.listeners.clone());
        observed.lb_group = Seen::Read(group);
    }
    if let Some(apis) = apis {
        observed.api = Seen::Read(None);
        observed.stages = Seen::Read(Vec::new());
        observed.deployments = Seen::Read(Vec::new());
        observed.rest_api_listed = Seen::Read(apis.first().cloned());
        observed.rest_apis = Seen::Read(apis.into_iter().map(|api| api.id).collect());
    }
    if let Some(links) = links_v1 {
        observed.vpc_links_v1 = Seen::Read(links);
    }
    let wanted_domain = desired.domain.as_ref().map(|d| d.name.as_str());
    let (ours, foreign) = domains_of(flavor, domains, &owner.uid, wanted_domain);
    let mappings = async {
        match wanted_domain.filter(|name| ours.iter().any(|(_, d)| d.name == *name)) {
            Some(name) => domain::mappings(aws, flavor, name).await.map(Option::unwrap_or_default),
            None => Ok(Vec::new()),
        }
    };
    let zone = desired.dns.as_ref().map(|r| r.zone_id.as_str());
    let (mappings, records) = tokio::try_join!(mappings, records(aws, owner, zone, wanted_domain, &ours))?;
    observed.mappings = Seen::Read(mappings);
    observed.records = records;
    observed.domains = Seen::Read(ours);
    observed.foreign_domain = foreign;
    if let Some(apis) = http_apis {
        observed.http_details = Seen::Read(None);
        observed.http_stages = Seen::Read(Vec::new());
        observed.http_apis = Seen::Read(apis);
    }
    if observed.http_apis.read().is_some() || observed.rest_apis.read().is_some() {
        observed.authorizers = Seen::Read(Vec::new());
    }
    if let Some(id) = observed.http_apis.read().and_then(|ids| ids.first()).cloned() {
        let wanted = desired.http_api.as_ref().is_some_and(|api| api.authorizer.is_some());
        let (details, stages) =
            tokio::try_join!(http_api::observe_details(aws, &id), http_api::observe_stages(aws, &id),)?;
        let named = details
            .iter()
            .flat_map(|d| &d.routes)
            .any(|r| r.auth.authorizer.is_some());
        if wanted || named {
            let authorizers = authorizer::observe_http(aws, &id).await?;
            observed.authorizers = Seen::Read(authorizers.unwrap_or_default());
        }
        observed.http_details = Seen::Read(details);
        observed.http_stages = Seen::Read(stages.unwrap_or_default());
    }
    if let Some(id) = observed.rest_apis.read().and_then(|ids| ids.first()).cloned() {
        let wanted = desired.api.as_ref().is_some_and(|api| api.authorizer.is_some());
        // With the resources when the spec wants an authorizer; after them, when a
        // method names one.
        let authorizers = async {
            match wanted {
                true => authorizer::observe_rest(aws, &id).await,
                false => Ok(None),
            }
        };
        let (resources, stages, deployments, mut authorizers) = tokio::try_join!(
            rest_api::observe_resources(aws, &id),
            rest_api::observe_stages(aws, &id),
            rest_api::list_deployments(aws, &id),
            authorizers,
        )?;
        let named = resources.iter().any(|api| {
            let ours = [&api.root, &api.proxy].into_iter().flatten().map(|r| &r.auth);
            let routes = api.routes.values().flat_map(|r| r.methods.values()).map(|m| &m.auth);
            ours.chain(routes).any(|auth| auth.authorizer.is_some())
        });
        if !wanted && named {
            authorizers = authorizer::observe_rest(aws, &id).await?;
        }
        let keys_required = resources.iter().any(|api| {
            let ours = [&api.root, &api.proxy].into_iter().flatten().map(|r| &r.auth);
            let routes = api.routes.values().flat_map(|r| r.methods.values()).map(|m| &m.auth);
            ours.chain(routes).any(|auth| auth.api_key)
        });
        if desired.usage_plan.is_none() && keys_required {
            observed.usage_keys = Seen::Read(usage_plan::observe(aws, owner).await?);
        }
        observed.api = Seen::Read(resources);
        observed.stages = Seen::Read(stages.unwrap_or_default());
        observed.deployments = Seen::Read(deployments);
        observed.authorizers = Seen::Read(authorizers.unwrap_or_default());
    }
    // Keys of a stack that wants them are read whether or not its API exists yet
    // (a key made before a crash is found by its tags, not made twice).
    if desired.usage_plan.is_some() {
        observed.usage_keys = Seen::Read(match known {
            true => usage_plan::observe(aws, owner).await?,
            false => ObservedKeys::default(),
        });
    }
    Ok(observed)
}

/// The records at the wanted domain's name and at each of our domains' names, in
/// the spec's zone (unread without one).
async fn records(
    aws: &Aws,
    owner: &Owner,
    zone: Option<&str>,
    wanted: Option<&str>,
    ours: &[(Flavor, ObservedDomain)],
) -> AwsResult<Seen<Vec<dns::ObservedRecord>>> {
    let Some(zone) = zone else {
        return Ok(Seen::Unread);
    };
    let mut names: Vec<&str> = wanted
        .into_iter()
        .chain(ours.iter().map(|(_, d)| d.name.as_str()))
        .collect();
    names.sort();
    names.dedup();
    let found = futures::future::try_join_all(names.into_iter().map(|name| dns::observe(aws, zone, name))).await?;
    let found = found.into_iter().filter(dns::ObservedRecord::exists);
    Ok(Seen::Read(found.map(|r| r.judged_for(&owner.uid)).collect()))
}

async fn roles(
    aws: &Aws,
    owner: &Owner,
    desired: &DesiredStack,
) -> AwsResult<BTreeMap<RoleKind, Option<ObservedRole>>> {
    let found = futures::future::try_join_all(desired.roles.iter().map(|role| iam::observe(aws, owner, role))).await?;
    let mut roles: BTreeMap<RoleKind, Option<ObservedRole>> = desired.roles.iter().map(|r| r.kind).zip(found).collect();
    // API Gateway's role outlives the last queue route only until this pass sees it.
    if let std::collections::btree_map::Entry::Vacant(unread) = roles.entry(RoleKind::ApiGateway) {
        let name = desired::role_name(owner, RoleKind::ApiGateway);
        unread.insert(not_ours_is_none(iam::observe_named(aws, owner, &name, false).await)?);
    }
    Ok(roles)
}

/// The roles a full pass reads, as a [`History::New`] owner has them: none.
fn none_of_our_roles(desired: &DesiredStack) -> BTreeMap<RoleKind, Option<ObservedRole>> {
    let read = desired.roles.iter().map(|r| r.kind).chain([RoleKind::ApiGateway]);
    read.map(|kind| (kind, None)).collect()
}

async fn task_definitions(aws: &Aws, owner: &Owner, family: &str) -> AwsResult<TaskDefinitions> {
    let (latest, active) = tokio::try_join!(
        ecs::observe_task_definition(aws, owner, family),
        ecs::list_task_definitions(aws, family),
    )?;
    Ok(TaskDefinitions { latest, active })
}

/// What the region inventory shows of the resource (pure). The load balancer and
/// target group are the ones the status records.
pub fn from_inventory(
    inventory: &Inventory,
    owner: &Owner,
    desired: &DesiredStack,
    ids: &ResourceIds,
) -> ObservedStack {
    let uid = owner.uid.as_str();
    let mut links: Vec<_> = inventory.links_of(uid).cloned().collect();
    links.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let mut apis: Vec<_> = inventory
        .apis_of(uid)
        .map(|api| (api.created, api.id.clone()))
        .collect();
    apis.sort();
    let existing_link = match &desired.vpc_link {
        Some(LinkWanted::Existing(id)) => Seen::Read(inventory.vpc_links.get(id).map(|(_, link)| link.clone())),
        _ => Seen::Unread,
    };
    let http_apis = http_api::ours(inventory.http_apis.values().cloned(), uid);
    // The shared links are in the listing too: a check sees the link a stack uses
    // (PENDING, gone, or without our user tag) like its own.
    let shared_links = match desired.shared_link {
        Some(_) => Seen::Read(SharedLinks {
            me: owner.uid.clone(),
            user: crate::aws::ownership::shorten(&owner.key(), crate::aws::ownership::MAX_TAG_VALUE),
            links: inventory.shared_links.clone(),
            groups: None,
            region_links: inventory.vpc_links.len(),
        }),
        None => Seen::Unread,
    };
    ObservedStack {
        shared_links,
        groups: Seen::Read(inventory.groups.get(uid).cloned().unwrap_or_default()),
        load_balancer: Seen::Read(
            ids.load_balancer_arn
                .as_ref()
                .and_then(|arn| inventory.load_balancers.get(arn))
                .cloned(),
        ),
        target_group: Seen::Read(
            ids.target_group_arn
                .as_ref()
                .and_then(|arn| inventory.target_groups.get(arn))
                .cloned(),
        ),
        front: match desired.front {
            // The listeners and targets are not in the inventory: the full pass reads them.
            Some(_) => ObservedFront {
                load_balancer: Seen::Read(
                    ids.front_load_balancer_arn
                        .as_ref()
                        .and_then(|arn| inventory.load_balancers.get(arn))
                        .cloned(),
                ),
                target_group: Seen::Read(
                    ids.front_target_group_arn
                        .as_ref()
                        .and_then(|arn| inventory.target_groups.get(arn))
                        .cloned(),
                ),
                ..ObservedFront::default()
            },
            None => ObservedFront::default(),
        },
        vpc_links: Seen::Read(links),
        existing_link,
        rest_apis: match desired.api {
            Some(_) => Seen::Read(apis.into_iter().map(|(_, id)| id).collect()),
            None => Seen::Unread,
        },
        http_apis: match desired.http_api {
            Some(_) => Seen::Read(http_apis),
            None => Seen::Unread,
        },
        ..ObservedStack::default()
    }
}

/// What a full pass's steps wait on a VPC link or an ALB for, read into an
/// observation taken from the region inventory ([`from_inventory`]): the service,
/// and the kept API's resources with their methods and integrations, its stages and
/// (REST) its deployments. See `reconcile::follow_up`.
pub async fn held_back(
    aws: &Aws,
    owner: &Owner,
    desired: &DesiredStack,
    observed: &mut ObservedStack,
) -> AwsResult<()> {
    let service = async {
        match (&desired.cluster, &desired.service) {
            (Some(cluster), Some(service)) => ecs::observe_service(aws, owner, &cluster.name, &service.name)
                .await
                .map(Seen::Read),
            _ => Ok(Seen::Unread),
        }
    };
    let rest = observed.rest_apis.read().and_then(|apis| apis.first()).cloned();
    let rest = async {
        match rest {
            Some(id) => tokio::try_join!(
                rest_api::observe_resources(aws, &id),
                rest_api::observe_stages(aws, &id),
                rest_api::list_deployments(aws, &id),
            )
            .map(Some),
            None => Ok(None),
        }
    };
    let http = observed.http_apis.read().and_then(|apis| apis.first()).cloned();
    let http = async {
        match http {
            Some(id) => {
                tokio::try_join!(http_api::observe_details(aws, &id), http_api::observe_stages(aws, &id)).map(Some)
            }
            None => Ok(None),
        }
    };
    let (service, rest, http) = tokio::try_join!(Box::pin(service), Box::pin(rest), Box::pin(http))?;
    observed.service = service;
    // As a full pass reads a new API: nothing of it yet when there is none.
    if observed.rest_apis.read().is_some() {
        let (resources, stages, deployments) = rest.unwrap_or_default();
        observed.api = Seen::Read(resources);
        observed.stages = Seen::Read(stages.unwrap_or_default());
        observed.deployments = Seen::Read(deployments);
    }
    if observed.http_apis.read().is_some() {
        let (details, stages) = http.unwrap_or_default();
        observed.http_details = Seen::Read(details);
        observed.http_stages = Seen::Read(stages.unwrap_or_default());
    }
    Ok(())
}

/// Reads one drift-check probe's part into `observed`.
pub async fn probe(
    aws: &Aws,
    owner: &Owner,
    desired: &DesiredStack,
    ids: &ResourceIds,
    probe: Probe,
    observed: &mut ObservedStack,
) -> AwsResult<()> {
    let api = observed.rest_apis.read().and_then(|apis| apis.first()).cloned();
    let http = observed.http_apis.read().and_then(|apis| apis.first()).cloned();
    match probe {
        Probe::Service => {
            if let (Some(cluster), Some(service)) = (&desired.cluster, &desired.service) {
                observed.service = Seen::Read(ecs::observe_service(aws, owner, &cluster.name, &service.name).await?);
            }
        }
        Probe::Integrations => {
            if let Some(id) = api {
                observed.api = Seen::Read(rest_api::observe_resources(aws, &id).await?);
            }
            if let Some(id) = http {
                observed.http_details = Seen::Read(http_api::observe_details(aws, &id).await?);
            }
        }
        Probe::Stage => {
            if let Some(id) = api {
                observed.stages = Seen::Read(rest_api::observe_stages(aws, &id).await?.unwrap_or_default());
            }
            if let Some(id) = http {
                observed.http_stages = Seen::Read(http_api::observe_stages(aws, &id).await?.unwrap_or_default());
            }
        }
        Probe::Listener => {
            if let Some(lb) = &ids.load_balancer_arn {
                observed.listeners = Seen::Read(elb::observe_listeners(aws, lb).await?.unwrap_or_default());
            }
        }
        Probe::Role(n) => {
            if let Some(role) = desired.roles.get(n) {
                observed
                    .roles
                    .insert(role.kind, iam::observe_policies(aws, role).await?);
            }
        }
    }
    Ok(())
}

/// What teardown needs to see first: the API, the links, the service (in our cluster
/// or the one the spec names), the load balancer and the security groups. Objects
/// with our names but not our tags are someone else's: for deletion, not there.
pub async fn for_teardown(
    aws: &Aws,
    owner: &Owner,
    spec_cluster: Option<&str>,
    dns_zone: Option<&str>,
    lb_group: Option<&DesiredLbGroup>,
) -> AwsResult<ObservedStack> {
    let service_name = desired::service_name(owner);
    let own_cluster = desired::cluster_name(owner);
    let clusters: Vec<&str> = spec_cluster.into_iter().chain([own_cluster.as_str()]).collect();
    let services = futures::future::try_join_all(clusters.iter().map(|cluster| async {
        match ecs::observe_service(aws, owner, cluster, &service_name).await {
            Err(e) if e.is_not_found() => Ok(None),
            other => not_ours_is_none(other),
        }
    }));
    let (apis, http_apis, links, links_v1, groups, (elb, front), services, rest_domains, http_domains) = tokio::try_join!(
        // On the heap, as in `full`: inline, the join's futures fill the poll's frame.
        Box::pin(rest_api::find(aws, owner)),
        Box::pin(http_api::find(aws, owner)),
        Box::pin(vpc_link::list_region(aws)),
        Box::pin(vpc_link_v1::observe(aws, owner)),
        Box::pin(security_group::observe(aws, owner, None)),
        Box::pin(async {
            // Someone else's part of our name is, for deletion, not there; ours still is.
            let ((ours, foreign), (front, front_foreign)) =
                tokio::try_join!(elb::observe_ours(aws, owner), elb::observe_front_ours(aws, owner))?;
            for message in foreign.into_iter().chain(front_foreign) {
                tracing::warn!("left alone: {message}");
            }
            Ok((ours, front))
        }),
        Box::pin(services),
        Box::pin(domain::list_all(aws, Flavor::Rest)),
        Box::pin(domain::list_all(aws, Flavor::Http)),
    )?;
    // The shared groups we marked for deletion as the last user of their links.
    let mut shared = SharedLinks::of(owner, &links);
    shared.groups = Some(shared_link::observe_groups(aws, None, Some(&owner.uid)).await?);
    // The group the spec names (immutable, as the VPC is): our rule, our membership,
    // and, once its ALB is gone, its security group.
    let lb_group = match lb_group {
        Some(group) => Seen::Read(not_ours_is_none(lb_group::observe(aws, group).await.map(Some))?.unwrap_or_default()),
        None => Seen::Unread,
    };
    let (mut domains, _) = domains_of(Flavor::Rest, rest_domains, &owner.uid, None);
    domains.extend(domains_of(Flavor::Http, http_domains, &owner.uid, None).0);
    // The spec's zone is the only one whose records can be ours (it cannot change).
    let records = records(aws, owner, dns_zone, None, &domains).await?;
    let usage_keys = usage_plan::observe(aws, owner).await?;
    Ok(ObservedStack {
        records,
        usage_keys: Seen::Read(usage_keys),
        rest_apis: Seen::Read(apis),
        http_apis: Seen::Read(http_apis),
        vpc_links: Seen::Read(vpc_link::ours(&links, owner)),
        shared_links: Seen::Read(shared),
        lb_group,
        vpc_links_v1: Seen::Read(links_v1),
        domains: Seen::Read(domains),
        groups: Seen::Read(groups),
        target_group: Seen::Read(elb.target_group),
        load_balancer: Seen::Read(elb.load_balancer),
        listeners: Seen::Read(elb.listeners),
        front: ObservedFront::read(front, Seen::Unread),
        service: Seen::Read(services.into_iter().flatten().next()),
        ..ObservedStack::default()
    })
}

/// The rest, once the first reads show teardown has got that far (or, with
/// `everything`, at once): the task definitions once the service is gone, the roles
/// and the cluster once nothing that AWS deletes slowly remains.
pub async fn rest_for_teardown(
    aws: &Aws,
    owner: &Owner,
    observed: &mut ObservedStack,
    everything: bool,
    keep_logs: bool,
) -> AwsResult<()> {
    if !everything && !observed.service.is_absent() {
        return Ok(());
    }
    let family = desired::task_family(owner);
    let active = ecs::list_task_definitions(aws, &family).await?;
    observed.task_definitions = Seen::Read(TaskDefinitions { latest: None, active });
    let slow_ones_gone = observed.vpc_links.read().is_some_and(Vec::is_empty)
        && observed.vpc_links_v1.read().is_none_or(Vec::is_empty)
        && observed.load_balancer.is_absent()
        && observed.front.load_balancer.is_absent();
    if !everything && !slow_ones_gone {
        return Ok(());
    }
    let roles = RoleKind::ALL.map(|kind| async move {
        // Whether a role of our name is ours, its tags say; its policies go with it.
        let name = desired::role_name(owner, kind);
        not_ours_is_none(iam::observe_named(aws, owner, &name, false).await).map(|role| (kind, role))
    });
    let own_cluster = desired::cluster_name(owner);
    // The log group goes with them (no task writes to it any more), unless the spec
    // keeps it: then it is not read, and the diff leaves it alone.
    let logs = async {
        match keep_logs {
            true => Ok(Seen::Unread),
            false => log_group::observe(aws, &desired::log_group(owner))
                .await
                .map(Seen::Read),
        }
    };
    let (roles, cluster, logs) = tokio::try_join!(
        futures::future::try_join_all(roles),
        async { not_ours_is_none(ecs::observe_cluster_named(aws, owner, &own_cluster, true).await) },
        logs,
    )?;
    observed.roles = roles.into_iter().collect();
    observed.cluster = Seen::Read(cluster);
    observed.log_group = logs;
    Ok(())
}

/// Something with our name that is not ours is, for deletion, not there at all.
fn not_ours_is_none<T>(result: AwsResult<Option<T>>) -> AwsResult<Option<T>> {
    match result {
        Err(AwsError::Conflict(message)) => {
            tracing::warn!("left alone: {message}");
            Ok(None)
        }
        other => other,
    }
}
