//! Scale benchmark (`make bench`, or `scripts/bench.sh`): the operator binary against
//! the real API server (scripts/apiserver.sh) and the AWS emulator
//! (scripts/emulator.sh), its AWS traffic counted by scripts/awsproxy.py.
//!
//! For each N of `BENCH_SIZES` (default 1,10,100), unthrottled (`--aws-pacing off`,
//! no quotas in the proxy): time from `kubectl apply` of N PrivateApis to all Ready,
//! per-resource pick-up (first AWS call, finalizer, first status write) and Ready latency, AWS calls per resource
//! to create, per steady-state resync pass (reads and writes) and to tear down, API
//! Gateway deployments made, the operator's peak and idle RSS, teardown time.
//!
//! Then `BENCH_QUOTA_SIZE` (default 10; 0 skips) resources with the proxy enforcing
//! API Gateway's account quotas and the operator pacing itself (`--aws-pacing
//! quotas`): time to Ready and to deleted against the minimum the quotas allow, and
//! how many calls were throttled.
//!
//! Before it, `BENCH_WAIT_SIZE` (default 5; 0 skips) resources whose VPC links stay
//! PENDING for `BENCH_WAIT_PENDING_SECONDS` (default 120): how they are looked at
//! meanwhile (full passes and wait checks) and what that costs.
//! Knobs: BENCH_SIZES, BENCH_STEADY_UP_TO (100; larger N skip the steady state),
//! BENCH_CONCURRENCY (the operator's --concurrency), BENCH_QUOTA_SIZE,
//! BENCH_RESYNC_SECONDS (steady phase, default 10), BENCH_STEADY_SECONDS (measuring
//! window, default 30; drift checks are measured over at least four windows of the
//! region lists), AWSPROXY_PORT.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Operator, Proxy, Stats, cluster, cpu_seconds, free_port, kubectl, kubectl_apply, manifest, ok, percentile,
    script_pid,
};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher;
use privateapi::aws::{Aws, Owner};
use privateapi::crd::PrivateApi;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The commit the operator was built from, and whether src/ had local changes.
fn source_version() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(sha) => {
            let dirty = git(&["status", "--porcelain", "--", "src", "Cargo.lock"]).is_some_and(|s| !s.is_empty());
            format!("git {sha}{}", if dirty { " + uncommitted changes" } else { "" })
        }
        None => "unknown (not a git checkout)".into(),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs ({cpu}), {:.1} GiB RAM, Linux {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

/// When each object was first seen, first given a status, Ready, and deleted.
#[derive(Clone, Debug)]
struct Timeline {
    seen: Instant,
    finalizer: Option<Instant>,
    first_status: Option<Instant>,
    ready: Option<Instant>,
    deleted: Option<Instant>,
    uid: String,
}

type Timelines = Arc<Mutex<HashMap<String, Timeline>>>;

fn watch(client: kube::Client, ns: &str) -> (Timelines, tokio::task::JoinHandle<()>) {
    let timelines: Timelines = Arc::default();
    let api: Api<PrivateApi> = Api::namespaced(client, ns);
    let map = timelines.clone();
    let task = tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let now = Instant::now();
            let (obj, deleted) = match event {
                Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => (o, false),
                Ok(watcher::Event::Delete(o)) => (o, true),
                _ => continue,
            };
            let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
            let t = map.entry(obj.name_any()).or_insert_with(|| Timeline {
                seen: now,
                finalizer: None,
                first_status: None,
                ready: None,
                deleted: None,
                uid: obj.uid().unwrap_or_default(),
            });
            if obj.finalizers().iter().any(|f| f == privateapi::crd::FINALIZER) && t.finalizer.is_none() {
                t.finalizer = Some(now);
            }
            if obj.status.is_some() && t.first_status.is_none() {
                t.first_status = Some(now);
            }
            let ready = privateapi::status::is_ready(obj.status.as_ref())
                && obj.status.as_ref().and_then(|s| s.observed_generation) == obj.metadata.generation;
            if ready && t.ready.is_none() {
                t.ready = Some(now);
            }
            if deleted {
                t.deleted = Some(now);
            }
        }
    });
    (timelines, task)
}

async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// The operator built with this benchmark, or another build (PRIVATEAPI_BENCH_OPERATOR):
/// a long run can then go on while the tree is rebuilt.
fn operator_bin() -> PathBuf {
    std::env::var_os("PRIVATEAPI_BENCH_OPERATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_privateapi")))
}

struct Run<'a> {
    ns: String,
    proxy: &'a Proxy,
    log: PathBuf,
    metrics: String,
}

impl<'a> Run<'a> {
    fn new(ns: &str, proxy: &'a Proxy) -> Self {
        Run {
            ns: ns.to_owned(),
            proxy,
            log: std::env::temp_dir().join(format!("privateapi-bench-{ns}.log")),
            metrics: format!("127.0.0.1:{}", free_port()),
        }
    }

    fn operator(&self, extra: &[&str]) -> Operator {
        let mut env = common::aws_env();
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL" && *k != "PRIVATEAPI_AWS_PACING");
        env.push(("AWS_ENDPOINT_URL", self.proxy.url.clone()));
        env.push(("KUBECONFIG", cluster().kubeconfig.clone()));
        env.push(("RUST_LOG", "info".into()));
        let mut args = vec!["run", "--namespace", &self.ns, "--metrics-addr", &self.metrics];
        args.extend_from_slice(extra);
        // BENCH_CONCURRENCY: the operator's --concurrency (its default otherwise).
        let concurrency = std::env::var("BENCH_CONCURRENCY").unwrap_or_default();
        if !concurrency.is_empty() {
            args.extend_from_slice(&["--concurrency", &concurrency]);
        }
        Operator::start(&operator_bin(), &args, &env, &self.log)
    }

    /// `privateapi_reconciles_total`, all outcomes; None until the endpoint answers.
    async fn reconciles(&self) -> Option<u64> {
        self.metric_sum("privateapi_reconciles_total{").await
    }

    /// `privateapi_resyncs_total`, drift checks and full passes of Ready resources.
    async fn resyncs(&self) -> Option<u64> {
        self.metric_sum("privateapi_resyncs_total{").await
    }

    async fn metric_sum(&self, prefix: &str) -> Option<u64> {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|l| l.starts_with(prefix))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum(),
        )
    }

    /// Waits for `/readyz` (the controller listed the objects and watches).
    async fn wait_started(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let ready = reqwest::get(format!("http://{}/readyz", self.metrics))
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "operator not ready within {limit:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the reconcile count to move, and returns the new count.
    async fn next_reconcile(&self) -> u64 {
        let start = self.reconciles().await.unwrap_or(0);
        loop {
            let now = self.reconciles().await.unwrap_or(0);
            if now > start {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn wait_reconciles(&self, at_least: u64, limit: Duration) -> u64 {
        self.wait_metric("privateapi_reconciles_total{", at_least, limit).await
    }

    /// Waits until the sum of the metric lines starting with `prefix` reaches `at_least`.
    async fn wait_metric(&self, prefix: &str, at_least: u64, limit: Duration) -> u64 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(n) = self.metric_sum(prefix).await
                && n >= at_least
            {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "operator did not reach {at_least} of {prefix} in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[derive(Default, Debug)]
struct Figures {
    n: usize,
    all_ready: f64,
    ready_p50: f64,
    ready_p99: f64,
    pickup_p50: f64,
    pickup_p99: f64,
    /// From the object's appearance in a watch to its first pass's start, just before
    /// its first AWS call (the operator's "first look" log line).
    aws_pickup_p50: f64,
    aws_pickup_p99: f64,
    finalizer_p50: f64,
    finalizer_p99: f64,
    create_calls: u64,
    create_writes: u64,
    deployments: u64,
    /// Resync windows: [0] drift checks (the default cadence), [1] full passes only.
    steady: [Steady; 2],
    restart_writes: u64,
    teardown: f64,
    teardown_calls: u64,
    rss_start_kib: u64,
    peak_kib: u64,
    idle_kib: u64,
    cpu_operator_create: f64,
    cpu_moto_create: f64,
    cpu_proxy_create: f64,
    throttled_create: u64,
    throttled_teardown: u64,
    /// A restarted operator's first pass over N Ready objects: seconds, and 429s.
    restart: f64,
    throttled_restart: u64,
    throttled_ops: Vec<String>,
    throttle_log: Vec<String>,
    throttle_errors_in_reconciles: usize,
    stacks_ok: usize,
    leftovers: usize,
    create_by_service: BTreeMap<String, u64>,
    /// Where the emulator's time went while creating: (operation, seconds), slowest first.
    create_upstream: Vec<(String, f64)>,
}

/// One steady-state window: resyncs of Ready resources and the AWS calls they made.
#[derive(Debug, Default)]
struct Steady {
    window: u64,
    resyncs: u64,
    reads: u64,
    writes: u64,
    cpu: f64,
    by_op: BTreeMap<String, u64>,
}

impl Steady {
    fn calls_per_resync(&self) -> Option<f64> {
        (self.resyncs > 0).then(|| (self.reads + self.writes) as f64 / self.resyncs as f64)
    }

    fn cell(&self) -> String {
        match self.calls_per_resync() {
            Some(c) => format!(
                "{c:.2} ({}) over {} resyncs in {} s",
                self.writes, self.resyncs, self.window
            ),
            None => "-".into(),
        }
    }
}

/// Drift checks between full passes at the default cadence (5 min, 6 h).
const CHECKS_PER_FULL_PASS: u32 = 72;

/// The operator's defaults scaled to a `resync` of a few seconds: full passes as
/// many resyncs apart, the same read budget.
fn drift_check_settings(resync: u64) -> privateapi::controller::Settings {
    let resync = Duration::from_secs(resync);
    privateapi::controller::Settings {
        resync,
        full_resync: resync * CHECKS_PER_FULL_PASS,
        ..Default::default()
    }
}

/// `n` PrivateApis `api-000`… in one multi-document manifest.
fn stacks(ns: &str, n: usize, vpc: &str, subnets: &[String]) -> String {
    (0..n)
        .map(|i| {
            format!(
                "---\n{}",
                manifest(ns, &format!("api-{i:03}"), vpc, subnets, "nginx:1.27")
            )
        })
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

async fn until<F: FnMut() -> bool>(limit: Duration, what: &str, mut done: F) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run(
    aws: &Aws,
    client: &kube::Client,
    proxy: &Proxy,
    n: usize,
    quotas: bool,
    steady: Option<(u64, u64)>,
) -> Figures {
    let tag = if quotas { "q" } else { "u" };
    let ns = format!("bench-{tag}{n}-{:04x}", rand::random::<u16>());
    let (vpc, subnets) = common::network(aws).await;
    let run = Run::new(&ns, proxy);
    let pacing = if quotas { "quotas" } else { "off" };
    let mut f = Figures {
        n,
        ..Default::default()
    };
    proxy
        .config(serde_json::json!({"quotas": quotas, "error_rate": 0.0, "lose_rate": 0.0}))
        .await;
    let (timelines, watch_task) = watch(client.clone(), &ns);

    // ---- create
    let mut op = run.operator(&["--aws-pacing", pacing]);
    run.wait_started(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    f.rss_start_kib = op.memory_kib().map(|m| m.0).unwrap_or(0);
    proxy.reset().await;
    let manifests = stacks(&ns, n, &vpc, &subnets);
    let moto_pid = script_pid(&format!("moto-{}.pid", env_or("MOTO_PORT", 5055u16)));
    let proxy_pid = script_pid(&format!("awsproxy-{}.pid", proxy.port()));
    let cpu = |pid: Option<u32>| pid.and_then(cpu_seconds).unwrap_or(0.0);
    let (op_cpu0, moto_cpu0, proxy_cpu0) = (op.cpu_seconds(), cpu(moto_pid), cpu(proxy_pid));
    let t0 = Instant::now();
    let t0_wall = std::time::SystemTime::now();
    ok(kubectl_apply(&manifests));
    let limit = Duration::from_secs(if quotas {
        120 + 20 * n as u64
    } else {
        120 + 3 * n as u64
    });
    until(limit, "all Ready", || {
        let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
        map.len() == n && map.values().all(|t| t.ready.is_some())
    })
    .await;
    f.all_ready = secs(t0.elapsed());
    f.cpu_operator_create = op.cpu_seconds() - op_cpu0;
    f.cpu_moto_create = cpu(moto_pid) - moto_cpu0;
    f.cpu_proxy_create = cpu(proxy_pid) - proxy_cpu0;
    let create = proxy.stats().await;
    f.peak_kib = op.memory_kib().map(|m| m.1).unwrap_or(0);
    let owners: Vec<Owner> = {
        let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
        let mut ready: Vec<f64> = map.values().filter_map(|t| t.ready.map(|r| secs(r - t0))).collect();
        let mut pickup: Vec<f64> = map
            .values()
            .filter_map(|t| t.first_status.map(|s| secs(s.saturating_duration_since(t.seen))))
            .collect();
        let mut finalizer: Vec<f64> = map
            .values()
            .filter_map(|t| t.finalizer.map(|s| secs(s.saturating_duration_since(t.seen))))
            .collect();
        ready.sort_by(f64::total_cmp);
        pickup.sort_by(f64::total_cmp);
        finalizer.sort_by(f64::total_cmp);
        f.finalizer_p50 = percentile(&finalizer, 50.0);
        f.finalizer_p99 = percentile(&finalizer, 99.0);
        f.ready_p50 = percentile(&ready, 50.0);
        f.ready_p99 = percentile(&ready, 99.0);
        f.pickup_p50 = percentile(&pickup, 50.0);
        f.pickup_p99 = percentile(&pickup, 99.0);
        let looks = first_looks(&op.log());
        let mut aws_pickup: Vec<f64> = map
            .iter()
            .filter_map(|(name, t)| {
                let look = looks.get(name)?.duration_since(t0_wall).ok()?;
                Some(secs(look) - secs(t.seen.saturating_duration_since(t0)))
            })
            .collect();
        aws_pickup.sort_by(f64::total_cmp);
        if aws_pickup.len() < n {
            eprintln!("[bench] first look logged for {} of {n} objects", aws_pickup.len());
        }
        f.aws_pickup_p50 = percentile(&aws_pickup, 50.0);
        f.aws_pickup_p99 = percentile(&aws_pickup, 99.0);
        map.iter().map(|(name, t)| Owner::new(&ns, name, &t.uid)).collect()
    };
    f.create_calls = create.total();
    f.create_writes = create.writes();
    f.deployments = create.count("CreateDeployment");
    f.throttled_create = create.outcome("throttled");
    f.throttle_log = throttle_log(&create, "create");
    f.throttled_ops = create
        .throttled_operations()
        .into_iter()
        .map(|o| format!("create {o}"))
        .collect();
    for (service, _, count) in create.calls() {
        *f.create_by_service.entry(service).or_default() += count;
    }
    f.create_upstream = upstream_seconds(&create);
    tokio::time::sleep(Duration::from_secs(5)).await;
    f.idle_kib = op.memory_kib().map(|m| m.0).unwrap_or(0);
    let region = common::RegionListing::read(aws).await;
    for owner in &owners {
        if region.inventory(aws, owner).await == common::Inventory::one_stack() {
            f.stacks_ok += 1;
        }
    }
    op.terminate(Duration::from_secs(15));
    f.throttle_errors_in_reconciles = count_throttle_errors(&op);

    // ---- steady state: a restart (one full pass per object), then resyncs; once
    // with drift checks (full passes as rare as by default, relative to the resync),
    // once with full passes only
    if let Some((resync, window)) = steady {
        let resync_arg = resync.to_string();
        let checks = drift_check_settings(resync);
        let full_resync = checks.full_resync.as_secs().to_string();
        // How long `n` resources share the region lists (the operator's own rule).
        let list_window = privateapi::controller::drift_check_freshness(&checks).max_age(n);
        // Long enough for each resource to take every probe twice, and for the region
        // lists to be re-read a few times (with few resources they are shared across
        // resyncs, not only across resources).
        let probes = privateapi::reconcile::drift::probes(&common::spec(&vpc, &subnets)).len() as u64;
        let probe_cycles = 2 * resync * probes;
        let check_window = window.max(probe_cycles).max(4 * list_window.as_secs());
        for (slot, full_resync, window) in [(0, full_resync.as_str(), check_window), (1, "0", window)] {
            proxy.reset().await;
            let mut op = run.operator(&[
                "--aws-pacing",
                pacing,
                "--resync-seconds",
                &resync_arg,
                "--full-resync-seconds",
                full_resync,
            ]);
            // The restart's first pass over each Ready object is a full one: wait for
            // all of them, so that the window holds resyncs only.
            run.wait_metric(
                "privateapi_resyncs_total{kind=\"full\"}",
                n as u64,
                Duration::from_secs(60 + 2 * n as u64),
            )
            .await;
            if slot == 0 {
                f.restart_writes = proxy.stats().await.writes();
            }
            // The window opens and closes just after a reconcile finished, so that few
            // resyncs are cut in two by its edges (none with N = 1).
            run.next_reconcile().await;
            let resyncs_before = run.resyncs().await.unwrap_or(0);
            let cpu_before = op.cpu_seconds();
            proxy.reset().await;
            tokio::time::sleep(Duration::from_secs(window)).await;
            run.next_reconcile().await;
            let stats = proxy.stats().await;
            let steady = &mut f.steady[slot];
            steady.resyncs = run.resyncs().await.unwrap_or(0) - resyncs_before;
            steady.window = window;
            steady.cpu = op.cpu_seconds() - cpu_before;
            steady.reads = stats.reads();
            steady.writes = stats.writes();
            for (_, op_name, count) in stats.calls() {
                *steady.by_op.entry(op_name).or_default() += count;
            }
            f.peak_kib = f.peak_kib.max(op.memory_kib().map(|m| m.1).unwrap_or(0));
            op.terminate(Duration::from_secs(15));
        }
    }

    // ---- teardown (a fresh operator with the default resync, so that only deletes
    // run); its first pass over every Ready object is also a restart under the quotas
    proxy.reset().await;
    let mut op = run.operator(&["--aws-pacing", pacing]);
    let t_restart = Instant::now();
    run.wait_reconciles(n as u64, Duration::from_secs(60 + 2 * n as u64))
        .await;
    f.restart = secs(t_restart.elapsed());
    f.throttled_restart = proxy.stats().await.outcome("throttled");
    if quotas && !env_or("BENCH_QUOTA_TEARDOWN", true) {
        op.terminate(Duration::from_secs(15));
        f.throttle_errors_in_reconciles += count_throttle_errors(&op);
        f.teardown = f64::NAN;
        watch_task.abort();
        eprintln!("[bench] operator log: {}", run.log.display());
        return f;
    }
    proxy.reset().await;
    let t1 = Instant::now();
    ok(kubectl(&["delete", "papi", "--all", "-n", &ns, "--wait=false"]));
    let limit = Duration::from_secs(if quotas {
        120 + 40 * n as u64
    } else {
        120 + 3 * n as u64
    });
    until(limit, "all deleted", || {
        let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
        map.values().all(|t| t.deleted.is_some())
    })
    .await;
    f.teardown = secs(t1.elapsed());
    let teardown = proxy.stats().await;
    f.teardown_calls = teardown.total();
    f.throttled_teardown = teardown.outcome("throttled");
    f.throttle_log.extend(throttle_log(&teardown, "teardown"));
    f.throttled_ops.extend(
        teardown
            .throttled_operations()
            .into_iter()
            .map(|o| format!("teardown {o}")),
    );
    f.peak_kib = f.peak_kib.max(op.memory_kib().map(|m| m.1).unwrap_or(0));
    op.terminate(Duration::from_secs(15));
    f.throttle_errors_in_reconciles += count_throttle_errors(&op);
    let region = common::RegionListing::read(aws).await;
    for owner in &owners {
        if region.inventory(aws, owner).await != common::Inventory::default() {
            f.leftovers += 1;
        }
    }
    watch_task.abort();
    eprintln!("[bench] operator log: {}", run.log.display());
    f
}

/// What looking at resources that wait on AWS costs.
struct Waiting {
    all_ready: f64,
    full_passes: u64,
    wait_checks: u64,
    calls: u64,
    reads: u64,
    writes: u64,
}

/// `n` PrivateApis whose VPC links stay PENDING for `pending` (the emulator's knob,
/// as AWS keeps them for minutes): the looks while they wait, and their AWS calls,
/// from apply to all Ready. Deleted again afterwards.
async fn waiting(aws: &Aws, client: &kube::Client, proxy: &Proxy, n: usize, pending: Duration) -> Waiting {
    let ns = format!("bench-w{n}-{:04x}", rand::random::<u16>());
    let (vpc, subnets) = common::network(aws).await;
    let run = Run::new(&ns, proxy);
    proxy
        .config(serde_json::json!({"quotas": false, "error_rate": 0.0, "lose_rate": 0.0}))
        .await;
    let (timelines, watch_task) = watch(client.clone(), &ns);
    let mut op = run.operator(&["--aws-pacing", "off"]);
    run.wait_started(Duration::from_secs(30)).await;
    common::set_every_link_pending(Some(pending)).await;
    proxy.reset().await;
    let manifests = stacks(&ns, n, &vpc, &subnets);
    let t0 = Instant::now();
    ok(kubectl_apply(&manifests));
    until(pending + Duration::from_secs(120 + 3 * n as u64), "all Ready", || {
        let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
        map.len() == n && map.values().all(|t| t.ready.is_some())
    })
    .await;
    let all_ready = secs(t0.elapsed());
    common::set_every_link_pending(None).await;
    let stats = proxy.stats().await;
    let wait_checks = run
        .metric_sum("privateapi_resyncs_total{kind=\"wait_check\"}")
        .await
        .unwrap_or(0);
    let figures = Waiting {
        all_ready,
        // A full pass reads both IAM roles; nothing else reads them.
        full_passes: stats.count("GetRole") / 2,
        wait_checks,
        calls: stats.total(),
        reads: stats.reads(),
        writes: stats.writes(),
    };
    ok(kubectl(&["delete", "papi", "--all", "-n", &ns, "--wait=false"]));
    until(Duration::from_secs(120 + 3 * n as u64), "all deleted", || {
        let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
        map.values().all(|t| t.deleted.is_some())
    })
    .await;
    op.terminate(Duration::from_secs(15));
    watch_task.abort();
    eprintln!("[bench] operator log: {}", run.log.display());
    figures
}

/// One architecture, applied alone: (example, seconds to Ready, calls and writes to
/// create, seconds until deleted, calls to delete).
struct ArchitectureRun {
    example: &'static str,
    ready: f64,
    create_calls: u64,
    create_writes: u64,
    deleted: f64,
    delete_calls: u64,
}

/// Each example applied on its own through one operator (unthrottled): time from
/// `kubectl apply` to Ready and from `kubectl delete` to gone, and the AWS calls of each.
async fn architectures(aws: &Aws, client: &kube::Client, proxy: &Proxy) -> Vec<ArchitectureRun> {
    let ns = format!("bench-arch-{:04x}", rand::random::<u16>());
    let (vpc, subnets) = common::network(aws).await;
    let run = Run::new(&ns, proxy);
    proxy
        .config(serde_json::json!({"quotas": false, "error_rate": 0.0, "lose_rate": 0.0}))
        .await;
    let (timelines, watch_task) = watch(client.clone(), &ns);
    let mut op = run.operator(&["--aws-pacing", "off"]);
    run.wait_started(Duration::from_secs(30)).await;
    let mut results = Vec::new();
    for example in common::ARCHITECTURE_EXAMPLES {
        let (manifest, name) = common::example_manifest(example, &ns, &vpc, &subnets);
        proxy.reset().await;
        let t0 = Instant::now();
        ok(kubectl_apply(&manifest));
        until(Duration::from_secs(120), "Ready", || {
            let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
            map.get(&name).is_some_and(|t| t.ready.is_some())
        })
        .await;
        let ready = secs(t0.elapsed());
        let create = proxy.stats().await;
        proxy.reset().await;
        let t1 = Instant::now();
        ok(kubectl(&["delete", "papi", &name, "-n", &ns, "--wait=false"]));
        until(Duration::from_secs(120), "deleted", || {
            let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
            map.get(&name).is_some_and(|t| t.deleted.is_some())
        })
        .await;
        results.push(ArchitectureRun {
            example,
            ready,
            create_calls: create.total(),
            create_writes: create.writes(),
            deleted: secs(t1.elapsed()),
            delete_calls: proxy.stats().await.total(),
        });
    }
    op.terminate(Duration::from_secs(15));
    watch_task.abort();
    results
}

/// Memory with many objects: `n` PrivateApis whose subnets do not exist, so each
/// costs one AWS call and ends `Stalled`, cached by the operator with a status. What
/// the operator keeps per object (the reflector's copy, its schedule, backoff and
/// metrics entries) is the same for a Ready one, whose status holds a few more IDs.
/// Returns the RSS (KiB) at start, once every object has a status, and the peak.
async fn memory_with_many(client: &kube::Client, proxy: &Proxy, n: usize) -> (u64, u64, u64) {
    let ns = format!("bench-m{n}-{:04x}", rand::random::<u16>());
    let run = Run::new(&ns, proxy);
    let (timelines, watch_task) = watch(client.clone(), &ns);
    let mut op = run.operator(&["--aws-pacing", "off"]);
    run.wait_started(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = op.memory_kib().map(|m| m.0).unwrap_or(0);
    let subnets = [
        "subnet-0000000000000000a".to_string(),
        "subnet-0000000000000000b".to_string(),
    ];
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let manifests: String = chunk
            .iter()
            .map(|i| {
                format!(
                    "---\n{}",
                    manifest(
                        &ns,
                        &format!("m-{i:04}"),
                        "vpc-00000000000000000",
                        &subnets,
                        "nginx:1.27"
                    )
                )
            })
            .collect();
        ok(kubectl_apply(&manifests));
    }
    until(
        Duration::from_secs(120 + n as u64 / 2),
        "every object has a status",
        || {
            let map = timelines.lock().unwrap_or_else(|p| p.into_inner());
            map.len() == n && map.values().all(|t| t.first_status.is_some())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (idle, peak) = op.memory_kib().unwrap_or((0, 0));
    op.terminate(Duration::from_secs(15));
    watch_task.abort();
    eprintln!("[bench] operator log: {}", run.log.display());
    (start, idle, peak)
}

/// Throttling errors that got past the SDK's retries into a reconcile (logged by it).
/// Per object, when the operator's log says its first pass started ("first look"),
/// just before that pass's first AWS call; the first such line of each object.
fn first_looks(log: &str) -> HashMap<String, std::time::SystemTime> {
    let mut looks = HashMap::new();
    for line in log.lines().filter(|l| l.contains("first look")) {
        let Some(at) = line
            .split_whitespace()
            .next()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        else {
            continue;
        };
        let Some(name) = line
            .split("privateapi=")
            .nth(1)
            .and_then(|rest| rest.split(['}', ' ', ':']).next())
        else {
            continue;
        };
        looks
            .entry(name.to_owned())
            .or_insert_with(|| std::time::SystemTime::from(at));
    }
    looks
}

fn count_throttle_errors(op: &Operator) -> usize {
    op.log()
        .lines()
        .filter(|l| l.contains("TooManyRequests") || l.contains("Throttling"))
        .count()
}

/// Seconds the proxy waited on the emulator, per operation, slowest first.
fn upstream_seconds(stats: &Stats) -> Vec<(String, f64)> {
    let mut by_op: Vec<(String, f64)> = stats.0["upstream_seconds"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(op, s)| (op.clone(), s.as_f64().unwrap_or(0.0)))
        .collect();
    by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_op
}

/// The proxy's log of quota refusals, one line each.
fn throttle_log(stats: &Stats, phase: &str) -> Vec<String> {
    stats.0["throttle_log"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{phase} {:.1} s: {} {}",
                e["at_seconds"].as_f64().unwrap_or(0.0),
                e["operation"].as_str().unwrap_or("?"),
                e["tokens"]
            )
        })
        .collect()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn per(total: u64, n: usize) -> String {
    format!("{:.1}", total as f64 / n.max(1) as f64)
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` (make test) runs bench targets too, without `--bench`:
    // there the benchmark only says how to run it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scale benchmark: run it with `make bench` (or `cargo bench --bench scale`)");
        return;
    }
    privateapi::install_crypto_provider();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| *n > 0)
        .collect();
    let quota_n: usize = env_or("BENCH_QUOTA_SIZE", 10);
    let resync: u64 = env_or("BENCH_RESYNC_SECONDS", 10);
    let window: u64 = env_or("BENCH_STEADY_SECONDS", 30);
    // N = 1,000: create and teardown only (the steady state's windows would take an hour).
    let steady_up_to: usize = env_or("BENCH_STEADY_UP_TO", 100);
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build (cargo bench profile)"
    };
    println!("privateapi-operator scale benchmark");
    println!("machine:  {}", machine());
    println!(
        "operator: {} ({build}), source {}",
        operator_bin().display(),
        source_version()
    );
    println!(
        "setup:    apiextensions-apiserver + etcd (scripts/apiserver.sh), moto (scripts/emulator.sh), \
         every AWS call through scripts/awsproxy.py; operator defaults (--concurrency 128, --poll-seconds 10) \
         unless said otherwise"
    );
    println!();

    let started = Instant::now();
    let moto = common::endpoint();
    let proxy = Proxy::start(&moto, std::env::var("AWSPROXY_PORT").ok().and_then(|p| p.parse().ok()));
    let kubeconfig = cluster().kubeconfig.clone();
    let client = kube_client(&kubeconfig).await;
    let (_factory, aws) = common::aws().await;

    let mut results = Vec::new();
    for &n in &sizes {
        eprintln!("[bench] N={n}, unthrottled ...");
        let t = Instant::now();
        let steady = (n <= steady_up_to).then_some((resync, window));
        let f = run(&aws, &client, &proxy, n, false, steady).await;
        eprintln!("[bench] N={n} done in {:.0} s", t.elapsed().as_secs_f64());
        results.push(f);
    }

    if !results.is_empty() {
        println!("Unthrottled (--aws-pacing off, no quotas in the proxy)");
        println!();
        println!(
            "| N | all Ready | Ready p50 / p99 | pick-up p50 / p99: first AWS call, finalizer, first status | operator CPU / stack to create | AWS calls / resource to create (writes) | API deployments | calls / resource / resync (writes): drift check | … full pass | … default cadence (71 checks + 1 full pass per 6 h) | writes after restart | teardown | calls / resource to delete | RSS start / idle / peak (MiB) | stacks exact / leftovers |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for f in &results {
            println!(
                "| {} | {:.1} s | {:.1} / {:.1} s | {:.2} / {:.2} s, {:.0} / {:.0} ms, {:.2} / {:.2} s | {:.0} ms | {} ({}) | {} | {} | {} | {} | {} | {:.1} s | {} | {} / {} / {} | {}/{} / {} |",
                f.n,
                f.all_ready,
                f.ready_p50,
                f.ready_p99,
                f.aws_pickup_p50,
                f.aws_pickup_p99,
                f.finalizer_p50 * 1000.0,
                f.finalizer_p99 * 1000.0,
                f.pickup_p50,
                f.pickup_p99,
                f.cpu_operator_create * 1000.0 / f.n as f64,
                per(f.create_calls, f.n),
                per(f.create_writes, f.n),
                f.deployments,
                f.steady[0].cell(),
                f.steady[1].cell(),
                match (f.steady[0].calls_per_resync(), f.steady[1].calls_per_resync()) {
                    (Some(check), Some(full)) => {
                        let k = f64::from(CHECKS_PER_FULL_PASS);
                        format!("{:.2}", ((k - 1.0) * check + full) / k)
                    }
                    _ => "-".into(),
                },
                f.restart_writes,
                f.teardown,
                per(f.teardown_calls, f.n),
                mib(f.rss_start_kib),
                mib(f.idle_kib),
                mib(f.peak_kib),
                f.stacks_ok,
                f.n,
                f.leftovers,
            );
        }
        if let Some(f) = results.first() {
            println!();
            println!(
                "create calls by service, N={} (per resource): {}",
                f.n,
                f.create_by_service
                    .iter()
                    .map(|(s, c)| format!("{s} {}", per(*c, f.n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for f in &results {
            let total: f64 = f.create_upstream.iter().map(|(_, s)| s).sum();
            println!(
                "emulator time while creating, N={}: {:.1} s in all; slowest operations: {}",
                f.n,
                total,
                f.create_upstream
                    .iter()
                    .take(8)
                    .map(|(o, s)| format!("{o} {s:.1} s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for f in &results {
            for (kind, steady) in ["drift check", "full pass"].iter().zip(&f.steady) {
                if steady.resyncs == 0 {
                    continue;
                }
                println!(
                    "one {kind}, N={} (calls per resync): {}",
                    f.n,
                    steady
                        .by_op
                        .iter()
                        .map(|(o, c)| format!("{o} {:.2}", *c as f64 / steady.resyncs as f64))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        println!();
        println!(
            "| N | CPU to create all: operator / moto / proxy (s) | operator CPU per resource created (ms) | operator CPU per resync (ms): drift check / full pass |"
        );
        println!("|---|---|---|---|");
        for f in &results {
            println!(
                "| {} | {:.2} / {:.1} / {:.1} | {:.0} | {} |",
                f.n,
                f.cpu_operator_create,
                f.cpu_moto_create,
                f.cpu_proxy_create,
                f.cpu_operator_create * 1000.0 / f.n.max(1) as f64,
                f.steady
                    .iter()
                    .map(|s| match s.resyncs {
                        0 => "-".to_string(),
                        r => format!("{:.1}", s.cpu * 1000.0 / r as f64),
                    })
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
        }
        println!();
        println!(
            "pick-up = from the object's appearance in a watch to its first pass's start (the operator's \
         \"first look\" log line, just before the pass's first AWS call), to the operator's finalizer, and to its \
         first status write (after the first full pass over AWS); Ready = from `kubectl apply` of all N; \
         steady state: operator restarted with --resync-seconds {resync}, calls counted over a window and \
         divided by the resyncs of Ready resources made in it (privateapi_resyncs_total): first with \
         --full-resync-seconds {} (72 resyncs, as by default; every resync in the window is a drift check: \
         a share of the region lists plus one probe, over every probe twice and at least four list windows), then with \
         --full-resync-seconds 0 (every resync a full pass, over {window} s); default \
         cadence = --resync-seconds 300 and --full-resync-seconds 21600, i.e. 71 drift checks and 1 full pass \
         per 6 h; writes after restart = AWS writes of the restarted \
         operator's first pass over N Ready objects; teardown: `kubectl delete --all` until every object is gone \
         (finalizer released). Calls are HTTP requests seen by the proxy (SDK retries included).",
            drift_check_settings(resync).full_resync.as_secs()
        );
    }

    if env_or("BENCH_ARCHITECTURES", true) {
        eprintln!("[bench] architectures, one at a time ...");
        let runs = architectures(&aws, &client, &proxy).await;
        println!();
        println!("Architectures: each example of examples/ applied alone, unthrottled");
        println!();
        println!("| example | apply → Ready | AWS calls to create (writes) | delete → gone | AWS calls to delete |");
        println!("|---|---|---|---|---|");
        for r in &runs {
            println!(
                "| {} | {:.1} s | {} ({}) | {:.1} s | {} |",
                r.example, r.ready, r.create_calls, r.create_writes, r.deleted, r.delete_calls
            );
        }
    }

    let memory_sizes: Vec<usize> = std::env::var("BENCH_MEMORY_SIZES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| *n > 0)
        .collect();
    if !memory_sizes.is_empty() {
        println!();
        println!(
            "Memory with many objects (each Stalled after one AWS call: its subnets do not exist; cached with its \
             status like any other)"
        );
        println!();
        println!("| objects | RSS start | RSS with all cached (idle) | peak | per 1,000 objects |");
        println!("|---|---|---|---|---|");
        for &n in &memory_sizes {
            eprintln!("[bench] memory, {n} objects ...");
            let (start, idle, peak) = memory_with_many(&client, &proxy, n).await;
            println!(
                "| {n} | {} MiB | {} MiB | {} MiB | {:.1} MiB |",
                mib(start),
                mib(idle),
                mib(peak),
                idle.saturating_sub(start) as f64 / 1024.0 * 1000.0 / n as f64
            );
        }
    }

    let waiting_n: usize = env_or("BENCH_WAIT_SIZE", 5);
    if waiting_n > 0 {
        let pending = Duration::from_secs(env_or("BENCH_WAIT_PENDING_SECONDS", 120));
        eprintln!(
            "[bench] N={waiting_n}, VPC links PENDING for {} s ...",
            pending.as_secs()
        );
        let w = waiting(&aws, &client, &proxy, waiting_n, pending).await;
        let looks = w.full_passes + w.wait_checks;
        println!();
        println!(
            "Waiting on AWS: every VPC link PENDING for {} s (the emulator's knob), --poll-seconds 10, unthrottled",
            pending.as_secs()
        );
        println!();
        println!(
            "| N | all Ready | looks: full passes / wait checks | AWS calls, apply to Ready (writes) | reads per look | reads per look if every look were a full pass |"
        );
        println!("|---|---|---|---|---|---|");
        println!(
            "| {waiting_n} | {:.1} s | {} / {} | {} ({}) | {:.1} | about 19 |",
            w.all_ready,
            w.full_passes,
            w.wait_checks,
            w.calls,
            w.writes,
            w.reads as f64 / looks.max(1) as f64
        );
    }

    if quota_n > 0 {
        eprintln!("[bench] N={quota_n}, with quotas ...");
        let t = Instant::now();
        let f = run(&aws, &client, &proxy, quota_n, true, None).await;
        eprintln!("[bench] quotas N={quota_n} done in {:.0} s", t.elapsed().as_secs_f64());
        let n = quota_n as f64;
        let create_min = (n - 1.0) * 15.0;
        let delete_min = (n - 1.0) * 30.0;
        println!();
        println!(
            "With API Gateway's account quotas enforced by the proxy (CreateRestApi 1/3 s, CreateDeployment 1/5 s, \
             CreateVpcLink 1/15 s, DeleteVpcLink 1/30 s, DeleteRestApi 1/30 s, 10/s burst 40 overall) and \
             --aws-pacing quotas, N={quota_n}"
        );
        println!();
        println!(
            "| N | all Ready | quota minimum (CreateVpcLink) | Ready p50 / p99 | restart: first pass over all | teardown | quota minimum (DeleteVpcLink, DeleteRestApi) | 429s create / restart / teardown | throttling errors in reconciles | stacks exact / leftovers |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {} | {:.1} s | ≥ {:.0} s | {:.1} / {:.1} s | {:.1} s | {} | ≥ {:.0} s | {} / {} / {} | {} | {}/{} / {} |",
            f.n,
            f.all_ready,
            create_min,
            f.ready_p50,
            f.ready_p99,
            f.restart,
            if f.teardown.is_nan() {
                "not run (BENCH_QUOTA_TEARDOWN=false)".to_string()
            } else {
                format!("{:.1} s", f.teardown)
            },
            delete_min,
            f.throttled_create,
            f.throttled_restart,
            f.throttled_teardown,
            f.throttle_errors_in_reconciles,
            f.stacks_ok,
            f.n,
            f.leftovers
        );
        if !f.throttled_ops.is_empty() {
            println!();
            println!("429s by operation: {}", f.throttled_ops.join(", "));
            println!();
            println!("429s one by one (seconds into the phase, tokens left in the buckets):");
            for line in &f.throttle_log {
                println!("- {line}");
            }
        }
        println!();
        println!(
            "quota minimum = (N-1) × the slowest paced interval: N VPC links at 1 per 15 s need (N-1)×15 s after \
             the first (the pacer keeps a 10 % margin: (N-1)×16.5 s); deletes: 1 per 30 s. restart = a fresh \
             operator's first pass over the N Ready objects (every API Gateway call paced at 8/s). 429s = calls \
             the proxy refused as over quota (the SDK retries them); throttling errors in reconciles = operator \
             log lines with a throttling error (one that got past the SDK's retries)."
        );
    }
    println!();
    println!("total benchmark time: {:.0} s", started.elapsed().as_secs_f64());
}
