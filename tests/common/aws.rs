//! The AWS emulator (patched moto, started by scripts/emulator.sh when the
//! environment does not point at one), clients of it, a fresh VPC and a unique owner
//! per test, the emulator's control endpoints, and an inventory of everything in AWS
//! that carries an owner's tags.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_ec2::config::{Credentials, Region};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use privateapi::aws::{Aws, AwsFactory, Owner, Pacer};

use super::repo;

pub const REGION: &str = "eu-west-1";

/// The emulator's URL: `AWS_ENDPOINT_URL` if set (make test), else a server started
/// here with scripts/emulator.sh (installs moto on first use).
pub fn endpoint() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
            return url;
        }
        let out = Command::new(repo().join("scripts/emulator.sh"))
            .arg("start")
            .output()
            .expect("run scripts/emulator.sh start");
        assert!(
            out.status.success(),
            "emulator failed to start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("export AWS_ENDPOINT_URL=").map(str::to_owned))
            .expect("emulator.sh prints AWS_ENDPOINT_URL")
    })
    .clone()
}

/// Environment for child processes (the CLI, the operator).
pub fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("PRIVATEAPI_AWS_PACING", "off".into()),
    ]
}

pub async fn factory() -> AwsFactory {
    factory_at(&endpoint(), Duration::from_secs(20)).await
}

/// Clients of `url` (the emulator, or a proxy in front of it), unpaced, with this
/// timeout per attempt.
pub async fn factory_at(url: &str, attempt_timeout: Duration) -> AwsFactory {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .timeout_config(privateapi::aws::request_timeouts(attempt_timeout))
        .load()
        .await;
    AwsFactory::new(config, Pacer::off())
}

pub async fn aws() -> (AwsFactory, Aws) {
    let factory = factory().await;
    let aws = factory.for_region(None).expect("region");
    (factory, aws)
}

/// A unique owner per test (tests run in parallel against one emulator).
pub fn owner(test: &str) -> Owner {
    let nonce: u64 = rand::random();
    Owner::new("tests", test, format!("{test}-{nonce:016x}"))
}

/// A fresh VPC with two private subnets in two AZs.
pub async fn network(aws: &Aws) -> (String, Vec<String>) {
    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned();
    let mut subnets = Vec::new();
    for (i, az) in ["a", "b"].iter().enumerate() {
        let s = aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.0.{}.0/24", i + 1))
            .availability_zone(format!("{}{az}", aws.region))
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .tags(Tag::builder().key("tier").value("private").build())
                    .build(),
            )
            .send()
            .await
            .expect("CreateSubnet");
        subnets.push(s.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned());
    }
    subnets.sort();
    (vpc_id, subnets)
}

/// How many of each part AWS holds for an owner.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
pub struct Inventory {
    pub security_groups: usize,
    pub load_balancers: usize,
    pub target_groups: usize,
    pub listeners: usize,
    pub vpc_links: usize,
    pub vpc_links_v1: usize,
    pub rest_apis: usize,
    pub http_apis: usize,
    pub deployments: usize,
    pub stages: usize,
    pub clusters: usize,
    pub services: usize,
    pub task_definitions: usize,
    pub roles: usize,
}

impl Inventory {
    /// One of everything (the shape of a Ready stack).
    pub fn one_stack() -> Self {
        Inventory {
            security_groups: 3,
            load_balancers: 1,
            target_groups: 1,
            listeners: 1,
            vpc_links: 1,
            vpc_links_v1: 0,
            rest_apis: 1,
            http_apis: 0,
            deployments: 1,
            stages: 1,
            clusters: 1,
            services: 1,
            task_definitions: 1,
            roles: 2,
        }
    }

    /// A Ready stack with a VPC Link V1 to an NLB (no link security group).
    pub fn one_v1_stack() -> Self {
        Inventory {
            security_groups: 2,
            vpc_links: 0,
            vpc_links_v1: 1,
            ..Inventory::one_stack()
        }
    }

    /// A Ready stack with a VPC Link V1 to an NLB in front of the ALB: two load
    /// balancers, two target groups, two listeners, the NLB's security group.
    pub fn one_front_stack() -> Self {
        Inventory {
            load_balancers: 2,
            target_groups: 2,
            listeners: 2,
            ..Inventory::one_v1_stack()
        }
        .with_security_groups(3)
    }

    fn with_security_groups(self, security_groups: usize) -> Self {
        Inventory {
            security_groups,
            ..self
        }
    }

    /// A Ready stack with an HTTP API (its `$default` stage deploys by itself).
    pub fn one_http_stack() -> Self {
        Inventory {
            rest_apis: 0,
            http_apis: 1,
            deployments: 0,
            ..Inventory::one_stack()
        }
    }
}

pub async fn inventory(aws: &Aws, owner: &Owner) -> Inventory {
    RegionListing::read(aws).await.inventory(aws, owner).await
}

/// What the region holds of every owner, read once: the region-wide lists an
/// inventory needs (security groups, load balancers and target groups with their
/// owner tags, VPC links, APIs). The benchmark checks a thousand owners against one.
pub struct RegionListing {
    groups: BTreeMap<String, usize>,
    load_balancers: Vec<(String, String)>,
    target_groups: BTreeMap<String, usize>,
    links: Vec<aws_sdk_apigatewayv2::types::VpcLink>,
    links_v1: Vec<(Option<String>, privateapi::aws::vpc_link_v1::ObservedVpcLinkV1)>,
    rest_apis: Vec<privateapi::aws::rest_api::ListedApi>,
    http_apis: Vec<privateapi::aws::http_api::ListedApi>,
}

impl RegionListing {
    pub async fn read(aws: &Aws) -> RegionListing {
        let mut groups = BTreeMap::new();
        let mut token = None;
        loop {
            let out = aws
                .ec2
                .describe_security_groups()
                .filters(Filter::builder().name("tag-key").values("privateapi.io/uid").build())
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .expect("DescribeSecurityGroups");
            for g in out.security_groups() {
                if let Some(uid) = g.tags().iter().find(|t| t.key() == Some("privateapi.io/uid")) {
                    *groups.entry(uid.value().unwrap_or_default().to_owned()).or_default() += 1;
                }
            }
            token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        // ALBs and target groups by tags, not by name: a duplicate would have the same
        // name. Every page: moto pages at 50, and the fault suite and benchmark make more.
        let lb_arns: Vec<String> = privateapi::aws::elb::list_load_balancers(aws)
            .await
            .expect("DescribeLoadBalancers")
            .into_iter()
            .map(|lb| lb.arn)
            .collect();
        let mut tg_arns = Vec::new();
        let mut marker = None;
        loop {
            let out = aws
                .elb
                .describe_target_groups()
                .set_marker(marker)
                .send()
                .await
                .expect("DescribeTargetGroups");
            tg_arns.extend(
                out.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_owned)),
            );
            marker = out.next_marker().filter(|m| !m.is_empty()).map(str::to_owned);
            if marker.is_none() {
                break;
            }
        }
        let mut target_groups = BTreeMap::new();
        for (_, uid) in owner_tags(aws, &tg_arns).await {
            *target_groups.entry(uid).or_default() += 1;
        }
        RegionListing {
            groups,
            load_balancers: owner_tags(aws, &lb_arns).await,
            target_groups,
            links: privateapi::aws::vpc_link::list_region(aws).await.expect("GetVpcLinks"),
            links_v1: privateapi::aws::vpc_link_v1::list_all(aws)
                .await
                .expect("GetVpcLinks (V1)"),
            rest_apis: privateapi::aws::rest_api::list_all(aws).await.expect("GetRestApis"),
            http_apis: privateapi::aws::http_api::list_all(aws).await.expect("GetApis"),
        }
    }

    /// The owner's parts: the region-wide ones from the listing, the rest (listeners,
    /// deployments, stages, cluster, service, task definitions, roles) read by name.
    pub async fn inventory(&self, aws: &Aws, owner: &Owner) -> Inventory {
        let mut inv = Inventory {
            security_groups: self.groups.get(&owner.uid).copied().unwrap_or(0),
            target_groups: self.target_groups.get(&owner.uid).copied().unwrap_or(0),
            ..Inventory::default()
        };
        let owned_lbs: Vec<&String> = self
            .load_balancers
            .iter()
            .filter(|(_, uid)| *uid == owner.uid)
            .map(|(arn, _)| arn)
            .collect();
        inv.load_balancers = owned_lbs.len();
        for arn in owned_lbs {
            let ls = aws
                .elb
                .describe_listeners()
                .load_balancer_arn(arn)
                .send()
                .await
                .expect("DescribeListeners");
            inv.listeners += ls.listeners().len();
        }

        // The links the owner uses: its own, and the shared links it is a user of, whose
        // group then counts among its groups (a shared stack has two of its own).
        let shared: Vec<_> = privateapi::aws::shared_link::from_listing(&self.links)
            .into_iter()
            .filter(|l| l.users.contains(&owner.uid))
            .collect();
        inv.vpc_links = privateapi::aws::vpc_link::ours(&self.links, owner).len() + shared.len();
        inv.security_groups += shared
            .iter()
            .flat_map(|l| l.security_groups.iter())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        inv.vpc_links_v1 = self
            .links_v1
            .iter()
            .filter(|(uid, _)| uid.as_deref() == Some(owner.uid.as_str()))
            .count();
        let apis: Vec<&str> = self
            .rest_apis
            .iter()
            .filter(|api| api.uid.as_deref() == Some(owner.uid.as_str()))
            .map(|api| api.id.as_str())
            .collect();
        inv.rest_apis = apis.len();
        for api in apis {
            let d = aws
                .apigw
                .get_deployments()
                .rest_api_id(api)
                .send()
                .await
                .expect("GetDeployments");
            inv.deployments += d.items().len();
            let s = aws.apigw.get_stages().rest_api_id(api).send().await.expect("GetStages");
            inv.stages += s.item().len();
        }

        let http_apis = privateapi::aws::http_api::ours(self.http_apis.iter().cloned(), &owner.uid);
        inv.http_apis = http_apis.len();
        for api in &http_apis {
            let s = aws.apigwv2.get_stages().api_id(api).send().await.expect("GetStages");
            inv.stages += s.items().len();
        }
        let cluster = owner.resource_name("", 255);
        let clusters = aws
            .ecs
            .describe_clusters()
            .clusters(&cluster)
            .send()
            .await
            .expect("DescribeClusters");
        inv.clusters = clusters
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .count();
        if inv.clusters > 0 {
            let services = aws
                .ecs
                .list_services()
                .cluster(&cluster)
                .send()
                .await
                .expect("ListServices");
            if !services.service_arns().is_empty() {
                let described = aws
                    .ecs
                    .describe_services()
                    .cluster(&cluster)
                    .set_services(Some(services.service_arns().to_vec()))
                    .send()
                    .await
                    .expect("DescribeServices");
                inv.services = described
                    .services()
                    .iter()
                    .filter(|s| s.status() == Some("ACTIVE"))
                    .count();
            }
        }
        inv.task_definitions = privateapi::aws::ecs::list_task_definitions(aws, &owner.resource_name("", 255))
            .await
            .expect("ListTaskDefinitions")
            .len();
        for suffix in ["exec", "task", "apigw"] {
            if aws
                .iam
                .get_role()
                .role_name(owner.resource_name(suffix, 64))
                .send()
                .await
                .is_ok()
            {
                inv.roles += 1;
            }
        }
        inv
    }
}

/// The owner uid of each of `arns` that carries one (ELB's DescribeTags, 20 a call).
async fn owner_tags(aws: &Aws, arns: &[String]) -> Vec<(String, String)> {
    let mut owned = Vec::new();
    for chunk in arns.chunks(20) {
        let tags = aws
            .elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .expect("DescribeTags");
        for d in tags.tag_descriptions() {
            if let Some(uid) = d.tags().iter().find(|t| t.key() == Some("privateapi.io/uid")) {
                owned.push((
                    d.resource_arn().unwrap_or_default().to_owned(),
                    uid.value().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    owned
}

/// Controls how many tasks a service of the emulator reports running
/// (`None` = as many as desired).
pub async fn set_running(service: &str, running: Option<i32>) {
    let body = match running {
        Some(n) => serde_json::json!({"service": service, "running": n}),
        None => serde_json::json!({"service": service, "unset": true}),
    };
    emulator_control("/_privateapi/ecs", body).await;
}

/// POSTs to one of the emulator's control endpoints (scripts/moto/patches.py).
async fn emulator_control(path: &str, body: serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", endpoint()))
        .json(&body)
        .send()
        .await
        .expect("emulator control endpoint");
    assert!(resp.status().is_success(), "emulator control {path}: {}", resp.status());
}

/// New VPC links named `name` are PENDING for this long from their creation, as AWS's
/// are while they provision (None: the emulator's default again, a second).
pub async fn set_link_pending(name: &str, pending: Option<Duration>) {
    let body = match pending {
        Some(d) => serde_json::json!({"name": name, "pending_seconds": d.as_secs_f64()}),
        None => serde_json::json!({"name": name, "unset": true}),
    };
    emulator_control("/_privateapi/vpclink", body).await;
}

/// Every new VPC link is PENDING for this long from its creation (None: the emulator's
/// default again). Server-wide: only for an emulator no parallel test shares.
pub async fn set_every_link_pending(pending: Option<Duration>) {
    let body = match pending {
        Some(d) => serde_json::json!({"pending_seconds": d.as_secs_f64()}),
        None => serde_json::json!({"unset": true}),
    };
    emulator_control("/_privateapi/vpclink", body).await;
}

/// The VPC links (V2) `region` allows (None: the emulator's default again, AWS's 10).
/// Per region: a test that fills the quota takes a region no other test uses.
pub async fn set_vpc_link_quota(region: &str, links: Option<usize>) {
    let body = match links {
        Some(n) => serde_json::json!({"region": region, "vpc_links_v2": n}),
        None => serde_json::json!({"region": region, "unset": true}),
    };
    emulator_control("/_privateapi/quotas", body).await;
}

/// How long AWS's slow steps take in the emulator for the ALBs, VPC links and ECS
/// services whose names start with `prefix`: a new ALB `provisioning`, a new VPC link
/// PENDING, and the security groups of a deleted one held by its ENIs (None: the
/// emulator's defaults again, a second each; scripts/moto/patches.py).
pub async fn set_delays(prefix: &str, delay: Option<Duration>) {
    let body = match delay {
        Some(d) => serde_json::json!({
            "prefix": prefix,
            "alb_provisioning_seconds": d.as_secs_f64(),
            "vpc_link_pending_seconds": d.as_secs_f64(),
            "eni_release_seconds": d.as_secs_f64(),
        }),
        None => serde_json::json!({"prefix": prefix, "unset": true}),
    };
    emulator_control("/_privateapi/delays", body).await;
}

pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The live shared links of the network.
pub async fn shared_links_of(
    aws: &Aws,
    vpc: &str,
    subnets: &[String],
) -> Vec<privateapi::aws::shared_link::ObservedSharedLink> {
    let key = privateapi::aws::shared_link::key(vpc, subnets);
    let listing = privateapi::aws::vpc_link::list_region(aws).await.expect("GetVpcLinks");
    privateapi::aws::shared_link::from_listing(&listing)
        .into_iter()
        .filter(|l| l.key == key && l.state != privateapi::aws::vpc_link::LinkState::Deleting)
        .collect()
}

/// The shared links' groups in the VPC.
pub async fn shared_groups_of(aws: &Aws, vpc: &str) -> Vec<String> {
    privateapi::aws::shared_link::observe_groups(aws, Some(vpc), None)
        .await
        .expect("DescribeSecurityGroups")
        .into_iter()
        .map(|g| g.id)
        .collect()
}
