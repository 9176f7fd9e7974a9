//! Fault suite: the operator binary against the real API server, its AWS traffic
//! through scripts/awsproxy.py injecting faults (10 % of calls answered with
//! throttling / HTTP 500 / a timeout, 10 % of mutating calls acted on by AWS with the
//! answer lost), SIGKILLed at random moments during create, update and delete, and
//! its API-server connection severed and restored through a TCP relay. Then faults
//! off: every resource converges, AWS holds exactly one of each part per live
//! resource and nothing of a deleted one, and look-alikes that are not ours (made
//! directly in AWS before the run) are untouched.
//!
//! Reproducible: the proxy's dice and the kill moments come from one seed
//! (`PRIVATEAPI_FAULTS_SEED`, printed on failure). Timing still varies from run to
//! run (which call a kill interrupts), so a seed narrows a failure down, it does not
//! replay it exactly.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use common::*;
use kube::ResourceExt;
use privateapi::aws::Owner;
use privateapi::reconcile::Mode;
use rand::{Rng, SeedableRng};

const DEFAULT_SEED: u64 = 0x5eed_2025;
const OLD_IMAGE: &str = "nginx:1.27";
const NEW_IMAGE: &str = "nginx:1.28";

fn seed() -> u64 {
    std::env::var("PRIVATEAPI_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// Prints how to replay the run when the test fails.
struct SeedOnFailure(u64, &'static str);

impl Drop for SeedOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\n{} failed with seed {} — rerun with PRIVATEAPI_FAULTS_SEED={} cargo test --test faults",
                self.1, self.0, self.0
            );
        }
    }
}

fn operator_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_privateapi"))
}

/// The operator with its AWS calls through the proxy and its API-server traffic
/// through the relay (when there is one).
struct Harness {
    ns: String,
    proxy: Proxy,
    kubeconfig: String,
    log: PathBuf,
    op: Option<Operator>,
    starts: u32,
    kills: u32,
}

impl Harness {
    fn start_operator(&mut self) {
        let mut env = aws_env();
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL", self.proxy.url.clone()));
        env.push(("KUBECONFIG", self.kubeconfig.clone()));
        env.push(("RUST_LOG", "info".into()));
        let args = [
            "run",
            "--namespace",
            &self.ns,
            "--poll-seconds",
            "1",
            "--metrics-addr",
            "off",
        ];
        self.op = Some(Operator::start(&operator_bin(), &args, &env, &self.log));
        self.starts += 1;
    }

    fn kill_and_restart(&mut self) {
        if let Some(mut op) = self.op.take() {
            op.kill();
        }
        self.kills += 1;
        self.start_operator();
    }

    fn log_tail(&self) -> String {
        self.op.as_ref().map(|o| o.log_tail(80)).unwrap_or_default()
    }
}

fn random_pause(rng: &mut impl Rng, min_ms: u64, max_ms: u64) -> Duration {
    Duration::from_millis(rng.random_range(min_ms..=max_ms))
}

/// Waits (without failing) until `done` holds or `limit` passes; true when it held.
async fn settle(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn ready_with(ns: &str, name: &str, image: &str) -> bool {
    find(ns, name).is_some_and(|o| is_ready(&o) && o.spec.service.image == image)
}

/// AWS objects that look like ours but are not: made before the run, directly in AWS.
struct LookAlikes {
    rest_api: String,
    vpc_link: String,
    security_group: String,
    role: String,
}

async fn make_look_alikes(
    aws: &privateapi::aws::Aws,
    ns: &str,
    name: &str,
    vpc: &str,
    subnets: &[String],
) -> LookAlikes {
    // A previous incarnation of ns/name (same owner key, another uid), e.g. one
    // deleted with deletionPolicy Retain: tagged exactly like ours but for the uid.
    let former = Owner::new(ns, name, format!("former-{:08x}", rand::random::<u32>()));
    let api_tags = former.tags("api", &tags(&[("team", "someone-else")]));
    let api = aws
        .apigw
        .create_rest_api()
        .name(format!("{ns}-{name}"))
        .description("not the operator's: another uid")
        .set_tags(Some(api_tags.into_iter().collect()))
        .send()
        .await
        .expect("CreateRestApi look-alike");
    let link = aws
        .apigwv2
        .create_vpc_link()
        .name(former.resource_name("", 128))
        .set_subnet_ids(Some(subnets.to_vec()))
        .set_tags(Some(former.tags("vpc-link", &Default::default()).into_iter().collect()))
        .send()
        .await
        .expect("CreateVpcLink look-alike");
    // A group in the same VPC with a name like ours and no ownership tags.
    let group = aws
        .ec2
        .create_security_group()
        .group_name(format!("papi-{ns}-{name}-alb"))
        .description("look-alike, not the operator")
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("team").value("someone-else").build())
                .build(),
        )
        .send()
        .await
        .expect("CreateSecurityGroup look-alike");
    let group_id = group.group_id().expect("group id").to_owned();
    aws.ec2
        .authorize_security_group_ingress()
        .group_id(&group_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("10.9.0.0/16").build())
                .build(),
        )
        .send()
        .await
        .expect("AuthorizeSecurityGroupIngress look-alike");
    let role = format!("papi-{ns}-{name}-exec");
    aws.iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .expect("CreateRole look-alike");
    LookAlikes {
        rest_api: api.id().expect("api id").to_owned(),
        vpc_link: link.vpc_link_id().expect("link id").to_owned(),
        security_group: group_id,
        role,
    }
}

/// What is wrong with the look-alikes now (empty: untouched).
async fn look_alikes_damage(aws: &privateapi::aws::Aws, l: &LookAlikes) -> Vec<String> {
    let mut damage = Vec::new();
    match aws.apigw.get_rest_api().rest_api_id(&l.rest_api).send().await {
        Ok(api) => {
            let t = api.tags().cloned().unwrap_or_default();
            if !t.get("privateapi.io/uid").is_some_and(|u| u.starts_with("former-")) {
                damage.push(format!("REST API {} retagged: {t:?}", l.rest_api));
            }
        }
        Err(e) => damage.push(format!("REST API {} gone: {e:?}", l.rest_api)),
    }
    if let Err(e) = aws.apigwv2.get_vpc_link().vpc_link_id(&l.vpc_link).send().await {
        damage.push(format!("VPC link {} gone: {e:?}", l.vpc_link));
    }
    match aws
        .ec2
        .describe_security_groups()
        .group_ids(&l.security_group)
        .send()
        .await
    {
        Ok(out) => {
            let g = out.security_groups().first();
            let rules: Vec<String> = g
                .map(|g| {
                    g.ip_permissions()
                        .iter()
                        .flat_map(|p| {
                            p.ip_ranges()
                                .iter()
                                .map(move |r| format!("{:?}:{}", p.from_port(), r.cidr_ip().unwrap_or_default()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if rules != ["Some(443):10.9.0.0/16"] {
                damage.push(format!("security group {} rules changed: {rules:?}", l.security_group));
            }
            let tagged = g.map(|g| {
                g.tags()
                    .iter()
                    .any(|t| t.key().is_some_and(|k| k.starts_with("privateapi.io/")))
            });
            if tagged == Some(true) {
                damage.push(format!("security group {} got ownership tags", l.security_group));
            }
        }
        Err(e) => damage.push(format!("security group {} gone: {e:?}", l.security_group)),
    }
    match aws.iam.get_role().role_name(&l.role).send().await {
        Ok(_) => {
            let attached = aws
                .iam
                .list_attached_role_policies()
                .role_name(&l.role)
                .send()
                .await
                .map(|a| a.attached_policies().len())
                .unwrap_or(0);
            if attached != 0 {
                damage.push(format!("role {} got {attached} policies attached", l.role));
            }
        }
        Err(e) => damage.push(format!("role {} gone: {e:?}", l.role)),
    }
    damage
}

async fn remove_look_alikes(aws: &privateapi::aws::Aws, l: &LookAlikes) {
    let _ = aws.apigw.delete_rest_api().rest_api_id(&l.rest_api).send().await;
    let _ = aws.apigwv2.delete_vpc_link().vpc_link_id(&l.vpc_link).send().await;
    let _ = aws.ec2.delete_security_group().group_id(&l.security_group).send().await;
    let _ = aws.iam.delete_role().role_name(&l.role).send().await;
}

/// One phase: `kills` SIGKILLs at random moments (each followed by a restart), with
/// a cut of the API-server connection after the `cut_after`-th kill.
async fn storm(
    h: &mut Harness,
    rng: &mut impl Rng,
    relay: Option<&Relay>,
    kills: u32,
    cut_after: Option<u32>,
    journal: &mut Vec<String>,
    phase: &str,
) {
    for k in 1..=kills {
        let pause = random_pause(rng, 200, 2500);
        tokio::time::sleep(pause).await;
        h.kill_and_restart();
        journal.push(format!("{phase}: SIGKILL after {} ms", pause.as_millis()));
        if cut_after == Some(k)
            && let Some(relay) = relay
        {
            let before = random_pause(rng, 300, 1500);
            tokio::time::sleep(before).await;
            let down = random_pause(rng, 1500, 4000);
            relay.cut();
            tokio::time::sleep(down).await;
            relay.restore();
            journal.push(format!(
                "{phase}: API server connection cut {} ms after the restart, for {} ms",
                before.as_millis(),
                down.as_millis()
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_cuts_and_aws_faults_converge_to_exactly_one_stack() {
    let seed = seed();
    let _report = SeedOnFailure(seed, "kills_cuts_and_aws_faults_converge_to_exactly_one_stack");
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (_f, aws) = aws().await; // direct to the emulator: the test's own calls are never faulted
    let (vpc, subnets) = network(&aws).await;
    let ns = format!("faults-{:06x}", rand::random::<u32>() & 0xffffff);
    let cluster = cluster();

    let look_alikes = make_look_alikes(&aws, &ns, "a", &vpc, &subnets).await;

    // The operator's API-server traffic goes through a relay we can sever.
    let relay = loopback_server(&cluster.kubeconfig).map(|(server, addr)| {
        let relay = Relay::start(addr);
        let path = std::env::temp_dir().join(format!("privateapi-faults-{ns}.kubeconfig"));
        kubeconfig_via(&cluster.kubeconfig, &server, relay.addr, &path);
        (relay, path)
    });
    let kubeconfig = match &relay {
        Some((_, path)) => path.display().to_string(),
        None => {
            eprintln!("API server is not on a loopback address: connection cuts skipped");
            cluster.kubeconfig.clone()
        }
    };
    let proxy = Proxy::start(&endpoint(), None);
    proxy
        .config(serde_json::json!({
            "error_rate": 0.1, "lose_rate": 0.1, "seed": seed, "hold_seconds": 0.5,
        }))
        .await;
    let mut h = Harness {
        ns: ns.clone(),
        proxy,
        kubeconfig,
        log: std::env::temp_dir().join(format!("privateapi-faults-{ns}.log")),
        op: None,
        starts: 0,
        kills: 0,
    };
    let relay_ref = relay.as_ref().map(|(r, _)| r);
    let mut journal = Vec::new();
    let names = ["a", "b", "c", "d"];

    // ---- create, with kills and a cut
    h.start_operator();
    let all: String = names
        .iter()
        .map(|n| format!("---\n{}", manifest(&ns, n, &vpc, &subnets, OLD_IMAGE)))
        .collect();
    ok(kubectl_apply(&all));
    let owners: HashMap<&str, Owner> = names
        .iter()
        .map(|n| {
            let obj = find(&ns, n).expect("just applied");
            (*n, Owner::new(&ns, *n, obj.uid().expect("uid")))
        })
        .collect();
    storm(&mut h, &mut rng, relay_ref, 3, Some(2), &mut journal, "create").await;
    let t = Instant::now();
    let created = settle(Duration::from_secs(45), || {
        names.iter().all(|n| ready_with(&ns, n, OLD_IMAGE))
    })
    .await;
    journal.push(format!(
        "create: all Ready under faults: {created} ({:.1} s)",
        t.elapsed().as_secs_f64()
    ));

    // ---- update (image change) of a, b, c, with kills and a cut
    for n in ["a", "b", "c"] {
        ok(kubectl(&[
            "patch",
            "papi",
            n,
            "-n",
            &ns,
            "--type=merge",
            "-p",
            &format!(r#"{{"spec":{{"service":{{"image":"{NEW_IMAGE}"}}}}}}"#),
        ]));
    }
    storm(&mut h, &mut rng, relay_ref, 3, Some(1), &mut journal, "update").await;
    let t = Instant::now();
    let updated = settle(Duration::from_secs(30), || {
        ["a", "b"].iter().all(|n| ready_with(&ns, n, NEW_IMAGE))
    })
    .await;
    journal.push(format!(
        "update: a, b Ready under faults: {updated} ({:.1} s)",
        t.elapsed().as_secs_f64()
    ));

    // ---- delete c (maybe mid-update) and d, with kills
    ok(kubectl(&["delete", "papi", "c", "d", "-n", &ns, "--wait=false"]));
    storm(&mut h, &mut rng, relay_ref, 3, None, &mut journal, "delete").await;

    // ---- faults off: everything converges
    let stats = h.proxy.stats().await;
    journal.push(format!(
        "AWS calls under faults: {} ({} injected errors: {:?}; {} lost responses)",
        stats.total(),
        stats.outcome("injected_error"),
        stats.0["injected"],
        stats.outcome("lost"),
    ));
    h.proxy
        .config(serde_json::json!({"error_rate": 0.0, "lose_rate": 0.0}))
        .await;
    if !h.op.as_mut().is_some_and(|o| o.alive()) {
        h.start_operator();
    }
    let context = |h: &Harness, journal: &[String]| {
        format!(
            "seed {seed}\n{}\nobjects:\n{}\noperator log (tail):\n{}",
            journal.join("\n"),
            ok(kubectl(&["get", "papi", "-n", &ns, "-o", "wide"])),
            h.log_tail()
        )
    };
    let converged = settle(Duration::from_secs(90), || {
        ready_with(&ns, "a", NEW_IMAGE)
            && ready_with(&ns, "b", NEW_IMAGE)
            && find(&ns, "c").is_none()
            && find(&ns, "d").is_none()
    })
    .await;
    assert!(
        converged,
        "not converged 90 s after faults off\n{}",
        context(&h, &journal)
    );

    for n in ["a", "b"] {
        let family = owners[n].resource_name("", 255);
        let revisions = privateapi::aws::ecs::list_task_definitions(&aws, &family)
            .await
            .unwrap_or_default();
        assert_eq!(
            inventory(&aws, &owners[n]).await,
            Inventory::one_stack(),
            "{n}: exactly one of each part (ACTIVE task definitions: {revisions:?})\n{}",
            context(&h, &journal)
        );
        let obj = find(&ns, n).expect("live");
        let td = obj
            .status
            .and_then(|s| s.resources.task_definition_arn)
            .unwrap_or_default();
        let described = aws
            .ecs
            .describe_task_definition()
            .task_definition(&td)
            .send()
            .await
            .expect("DescribeTaskDefinition");
        let image = described
            .task_definition()
            .and_then(|t| t.container_definitions().first())
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(image, NEW_IMAGE, "{n}: the service runs the new image");
    }
    for n in ["c", "d"] {
        assert_eq!(
            inventory(&aws, &owners[n]).await,
            Inventory::default(),
            "{n}: nothing of a deleted resource remains\n{}",
            context(&h, &journal)
        );
    }
    let damage = look_alikes_damage(&aws, &look_alikes).await;
    assert!(
        damage.is_empty(),
        "look-alikes touched: {damage:?}\n{}",
        context(&h, &journal)
    );

    // ---- and the survivors still delete cleanly
    ok(kubectl(&["delete", "papi", "a", "b", "-n", &ns, "--wait=false"]));
    let gone = settle(Duration::from_secs(60), || {
        find(&ns, "a").is_none() && find(&ns, "b").is_none()
    })
    .await;
    assert!(gone, "a, b not deleted\n{}", context(&h, &journal));
    for n in ["a", "b"] {
        assert_eq!(
            inventory(&aws, &owners[n]).await,
            Inventory::default(),
            "{n} after delete"
        );
    }
    let damage = look_alikes_damage(&aws, &look_alikes).await;
    assert!(damage.is_empty(), "look-alikes touched by deletes: {damage:?}");
    remove_look_alikes(&aws, &look_alikes).await;

    let cuts = relay.as_ref().map(|(r, _)| r.cuts()).unwrap_or(0);
    println!(
        "seed {seed}: {} SIGKILLs, {} operator starts, {cuts} API-server connection cuts, {:.0} s\n{}",
        h.kills,
        h.starts,
        started.elapsed().as_secs_f64(),
        journal.join("\n")
    );
    if let Some(mut op) = h.op.take() {
        op.kill();
    }
    let _ = std::fs::remove_file(&h.log);
    if let Some((_, path)) = &relay {
        let _ = std::fs::remove_file(path);
    }
}

/// The proxy's accounting agrees with the SDK's: every operation the operator calls
/// is named as the SDK names it, and counted once per call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_names_and_counts_every_call_like_the_sdk() {
    let proxy = Proxy::start(&endpoint(), None);
    let (_factory, via_proxy) = engine_via(&proxy).await;
    let (_f, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let owner = owner("proxycount");
    let spec = spec(&vpc, &subnets);

    proxy.reset().await;
    let before = via_proxy.stats.snapshot();
    until_ready(&via_proxy, &owner, &spec, 6).await;
    // a pass over a Ready stack writes nothing, by either count
    let steady_from = via_proxy.stats.snapshot();
    let proxy_before_steady = proxy.stats().await;
    until_ready(&via_proxy, &owner, &spec, 1).await;
    let steady = via_proxy.stats.snapshot().since(&steady_from);
    let proxy_steady = proxy.stats().await;
    assert_eq!(steady.writes(), 0, "{:?}", steady.write_operations());
    assert_eq!(proxy_steady.writes(), proxy_before_steady.writes());
    assert_eq!(proxy_steady.total() - proxy_before_steady.total(), steady.total());
    until_gone(&via_proxy, &owner, &spec, 10).await;

    let sdk = via_proxy.stats.snapshot().since(&before);
    let mut expected: HashMap<String, u64> = HashMap::new();
    for ((_, op), n) in &sdk.0 {
        *expected.entry(op.clone()).or_default() += n;
    }
    let mut counted: HashMap<String, u64> = HashMap::new();
    for (_, op, n) in proxy.stats().await.calls() {
        *counted.entry(op).or_default() += n;
    }
    let mut diff: Vec<String> = expected
        .keys()
        .chain(counted.keys())
        .filter(|op| expected.get(*op) != counted.get(*op))
        .map(|op| format!("{op}: SDK {:?}, proxy {:?}", expected.get(op), counted.get(op)))
        .collect();
    diff.sort();
    diff.dedup();
    assert!(diff.is_empty(), "proxy vs SDK per operation:\n{}", diff.join("\n"));
}

/// An engine (`converge` / `teardown` from the library) whose AWS calls go through
/// the proxy.
async fn engine_via(proxy: &Proxy) -> (privateapi::aws::AwsFactory, privateapi::aws::Aws) {
    engine_with_timeout(proxy, Duration::from_secs(20)).await
}

async fn engine_with_timeout(
    proxy: &Proxy,
    attempt_timeout: Duration,
) -> (privateapi::aws::AwsFactory, privateapi::aws::Aws) {
    let factory = factory_at(&proxy.url, attempt_timeout).await;
    let aws = factory.for_region(None).expect("region");
    (factory, aws)
}

/// An AWS call that never answers is abandoned after the attempt timeout and
/// retried: the pass goes on instead of holding a worker until the connection dies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_is_abandoned_and_retried() {
    let proxy = Proxy::start(&endpoint(), None);
    let (_f, via) = engine_with_timeout(&proxy, Duration::from_secs(4)).await;
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let owner = owner("unanswered");
    let spec = spec(&vpc, &subnets);
    proxy
        .config(serde_json::json!({
            "error_rate": 1.0, "error_kinds": ["timeout"], "hold_seconds": 60,
            "faults_on": "all", "faults_ops": ["GetRestApis", "DescribeSecurityGroups"], "fault_budget": 2,
        }))
        .await;
    let started = Instant::now();
    let first = privateapi::reconcile::converge(&via, &owner, &spec, Mode::Apply).await;
    let took = started.elapsed();
    assert_eq!(proxy.stats().await.0["injected"]["timeout"], 2, "both calls were held");
    // On a loaded machine a slow answer may time out too; that error is a retry, never
    // a verdict on the spec.
    if let Err(e) = &first {
        assert!(!e.is_terminal(), "a timeout ended in a terminal error: {e}");
    }
    assert!(
        took < Duration::from_secs(30),
        "held for {took:?}: the 60 s hang was waited out"
    );
    proxy.config(serde_json::json!({"error_rate": 0.0})).await;
    until_ready(&via, &owner, &spec, 6).await;
    until_gone(&via, &owner, &spec, 10).await;
}

/// Each mutating call the engine makes, in turn, has its answer lost once (AWS acts,
/// the SDK hears nothing and retries): create, an image change and delete still end
/// in exactly one of each part, and then in nothing. Operations are spread over a
/// few proxies working in parallel (a proxy's faults apply to all its traffic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_answer_ends_in_one_stack_and_then_nothing() {
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    lost_answers(&direct, spec(&vpc, &subnets), Inventory::one_stack(), "lost", |_| true).await;
}

/// The same for an HTTP API's own calls (the rest of its stack is the REST stack's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_answer_of_an_http_api_ends_in_one_stack_and_then_nothing() {
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let mut base = spec(&vpc, &subnets);
    base.api.api_type = privateapi::crd::ApiType::Http;
    let http_only = |op: &str| {
        [
            "CreateApi",
            "DeleteApi",
            "CreateIntegration",
            "CreateRoute",
            "CreateStage",
        ]
        .contains(&op)
    };
    lost_answers(&direct, base, Inventory::one_http_stack(), "lost-http", http_only).await;
}

/// The same for a VPC Link V1 and its NLB's own calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_answer_of_a_v1_link_and_nlb_ends_in_one_stack_and_then_nothing() {
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let mut base = spec(&vpc, &subnets);
    base.vpc_link.version = privateapi::crd::VpcLinkVersion::V1;
    base.load_balancer.kind = privateapi::crd::LoadBalancerKind::Network;
    let expected = Inventory::one_v1_stack();
    let link_and_nlb = |op: &str| {
        [
            "CreateVpcLink",
            "DeleteVpcLink",
            "CreateLoadBalancer",
            "SetSecurityGroups",
            "CreateListener",
            "CreateTargetGroup",
        ]
        .contains(&op)
    };
    lost_answers(&direct, base, expected, "lost-v1", link_and_nlb).await;
}

/// The same for an NLB in front of the ALB (VPC Link V1 to an ALB): both load
/// balancers' calls and the ALB's registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_answer_of_an_nlb_in_front_of_the_alb_ends_in_one_stack_and_then_nothing() {
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let mut base = spec(&vpc, &subnets);
    base.vpc_link.version = privateapi::crd::VpcLinkVersion::V1;
    let front = |op: &str| {
        [
            "CreateVpcLink",
            "CreateLoadBalancer",
            "SetSecurityGroups",
            "CreateListener",
            "CreateTargetGroup",
            "RegisterTargets",
            "DeleteLoadBalancer",
            "DeleteTargetGroup",
        ]
        .contains(&op)
    };
    lost_answers(&direct, base, Inventory::one_front_stack(), "lost-front", front).await;
}

/// The same for the calls of SQS routes (their resources, methods, integrations and
/// API Gateway's role), REST and HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lost_answer_of_queue_routes_ends_in_one_stack_and_then_nothing() {
    let (_g, direct) = aws().await;
    let (vpc, subnets) = network(&direct).await;
    let mut rest = spec(&vpc, &subnets);
    rest.api.routes = serde_norway::from_str(
        "- {method: POST, path: /orders/new, sqs: {queueArn: 'arn:aws:sqs:eu-west-1:123456789012:orders'}}",
    )
    .expect("routes parse");
    let rest_routes = |op: &str| {
        [
            "CreateResource",
            "PutMethod",
            "PutMethodResponse",
            "PutIntegration",
            "PutIntegrationResponse",
            "CreateRole",
            "PutRolePolicy",
            "DeleteRole",
        ]
        .contains(&op)
    };
    let with_role = Inventory {
        roles: 3,
        ..Inventory::one_stack()
    };
    lost_answers(&direct, rest.clone(), with_role, "lost-rest-sqs", rest_routes).await;

    let mut http = rest;
    http.api.api_type = privateapi::crd::ApiType::Http;
    let http_routes = |op: &str| {
        [
            "CreateApi",
            "CreateIntegration",
            "CreateRoute",
            "CreateRole",
            "PutRolePolicy",
        ]
        .contains(&op)
    };
    let with_role = Inventory {
        roles: 3,
        ..Inventory::one_http_stack()
    };
    lost_answers(&direct, http, with_role, "lost-http-sqs", http_routes).await;
}

/// Each of the mutating operations of `base`'s create, image change and delete that
/// `covered` names loses one answer, on a stack of its own; each must end in
/// `expected`, then in nothing.
async fn lost_answers(
    direct: &privateapi::aws::Aws,
    base: privateapi::crd::PrivateApiSpec,
    expected: Inventory,
    prefix: &str,
    covered: impl Fn(&str) -> bool,
) {
    // Which mutating operations are there? One clean run tells.
    let writes = {
        let proxy = Proxy::start(&endpoint(), None);
        let (_f, via) = engine_via(&proxy).await;
        let mut spec = base.clone();
        let baseline = owner(&format!("{prefix}-baseline"));
        until_ready(&via, &baseline, &spec, 6).await;
        spec.service.image = NEW_IMAGE.into();
        until_ready(&via, &baseline, &spec, 6).await;
        until_gone(&via, &baseline, &spec, 10).await;
        let mut writes: Vec<String> = proxy
            .stats()
            .await
            .calls()
            .into_iter()
            .filter(|c| !is_read(&c.1) && covered(&c.1))
            .map(|c| c.1)
            .collect();
        writes.sort();
        writes.dedup();
        writes
    };
    assert!(writes.len() >= 5, "too few mutating operations seen: {writes:?}");
    // PRIVATEAPI_FAULTS_OPS=CreateDeployment,RegisterTaskDefinition: only these
    let writes: Vec<String> = match std::env::var("PRIVATEAPI_FAULTS_OPS") {
        Ok(only) => writes
            .into_iter()
            .filter(|w| only.split(',').any(|o| o.trim() == w))
            .collect(),
        Err(_) => writes,
    };

    const WORKERS: usize = 6;
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); WORKERS];
    for (i, op) in writes.iter().enumerate() {
        groups[i % WORKERS].push(op.clone());
    }
    let work = groups.into_iter().map(|ops| {
        let base = base.clone();
        let direct = direct.clone();
        let expected = expected.clone();
        async move {
            let proxy = Proxy::start(&endpoint(), None);
            let (_f, via) = engine_via(&proxy).await;
            let mut failures = Vec::new();
            for op in ops {
                let owner = owner(&format!("{prefix}-{}", op.to_lowercase()));
                let mut spec = base.clone();
                let lose_one = serde_json::json!({"lose_rate": 1.0, "error_rate": 0.0, "faults_ops": [op], "fault_budget": 1});
                // every attempt the SDK makes (4) fails: the call fails, the pass stops there
                let fail_call = serde_json::json!({
                    "lose_rate": 0.0, "error_rate": 1.0, "error_kinds": ["error500"], "faults_ops": [op], "fault_budget": 4,
                });
                proxy.reset().await;
                let outcome = async {
                    let phases = [
                        (OLD_IMAGE, "create, one answer lost", &lose_one),
                        (NEW_IMAGE, "image change, one answer lost", &lose_one),
                        (OLD_IMAGE, "image change, one call failed", &fail_call),
                    ];
                    for (image, what, faults) in phases {
                        spec.service.image = image.into();
                        proxy.config(faults.clone()).await; // a fresh budget per phase
                        let mut last = String::new();
                        for _ in 0..8 {
                            match privateapi::reconcile::converge(&via, &owner, &spec, Mode::Apply).await {
                                Ok(o) if o.is_ready() => {
                                    last.clear();
                                    break;
                                }
                                Ok(o) => last = format!("waiting on {:?}", o.waiting_on()),
                                // The controller would mark the resource Stalled and wait 5 min.
                                Err(e) if e.is_terminal() => {
                                    return Err(format!("after {what}: a terminal error: {e}"));
                                }
                                Err(e) => last = format!("error: {e}"),
                            }
                        }
                        if !last.is_empty() {
                            return Err(format!("after {what}: not Ready after 8 passes ({last})"));
                        }
                        let inv = inventory(&direct, &owner).await;
                        if inv != expected {
                            return Err(format!("after {what}: {}", inventory_diff(&inv, &expected)));
                        }
                    }
                    proxy.config(lose_one.clone()).await; // and one lost answer while deleting
                    if !teardown_until_done(&via, &owner, &spec).await {
                        return Err("teardown not done after 12 passes".into());
                    }
                    let inv = inventory(&direct, &owner).await;
                    if inv != Inventory::default() {
                        return Err(format!("after delete: {}", inventory_diff(&inv, &Inventory::default())));
                    }
                    Ok(())
                }
                .await;
                if let Err(e) = outcome {
                    failures.push(format!("{op}: {e}"));
                    proxy.config(serde_json::json!({"lose_rate": 0.0, "error_rate": 0.0})).await;
                    teardown_until_done(&via, &owner, &spec).await;
                }
            }
            failures
        }
    });
    let failures: Vec<String> = futures::future::join_all(work).await.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "a lost answer left a duplicate or an orphan ({} of {} operations):\n{}",
        failures.len(),
        writes.len(),
        failures.join("\n")
    );
}

async fn teardown_until_done(
    aws: &privateapi::aws::Aws,
    owner: &Owner,
    spec: &privateapi::crd::PrivateApiSpec,
) -> bool {
    for _ in 0..12 {
        let pass = privateapi::reconcile::teardown(aws, owner, spec, Mode::Apply).await;
        if pass.is_ok_and(|o| o.is_done()) {
            return true;
        }
    }
    false
}

/// "deployments 2 (want 1), task_definitions 2 (want 1)".
fn inventory_diff(got: &Inventory, want: &Inventory) -> String {
    let g = format!("{got:?}");
    let w = format!("{want:?}");
    let fields = |s: &str| -> Vec<(String, String)> {
        s.trim_start_matches("Inventory { ")
            .trim_end_matches(" }")
            .split(", ")
            .filter_map(|kv| kv.split_once(": ").map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect()
    };
    fields(&g)
        .into_iter()
        .zip(fields(&w))
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("{} {} (want {})", a.0, a.1, b.1))
        .collect::<Vec<_>>()
        .join(", ")
}
