//! Shared by tests/e2e.rs, tests/chart.rs, tests/faults.rs and benches/scale.rs (next
//! to tests/common): the real Kubernetes API server (scripts/apiserver.sh) and
//! kubectl, the operator binary as a child process, the AWS proxy
//! (scripts/awsproxy.py: counts, quotas, faults) and a TCP relay that can sever the
//! operator's connection to the API server.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ------------------------------------------------------------------ the cluster

pub struct Cluster {
    pub kubeconfig: String,
    pub kubectl: String,
}

/// The API server of scripts/apiserver.sh (or `USE_EXISTING_CLUSTER=1`: the cluster of
/// `KUBECONFIG`), with the CRD applied and established.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = if std::env::var("USE_EXISTING_CLUSTER").as_deref() == Ok("1") {
            Cluster {
                kubeconfig: std::env::var("KUBECONFIG").expect("USE_EXISTING_CLUSTER=1 needs KUBECONFIG"),
                kubectl: "kubectl".into(),
            }
        } else {
            let script = repo().join("scripts/apiserver.sh");
            let out = Command::new(&script)
                .arg("start")
                .output()
                .expect("run scripts/apiserver.sh start");
            assert!(
                out.status.success(),
                "API server failed to start:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let kubeconfig = String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("export KUBECONFIG=").map(str::to_owned))
                .expect("apiserver.sh prints KUBECONFIG");
            let env = Command::new(&script).arg("env").output().expect("apiserver.sh env");
            let bin = String::from_utf8_lossy(&env.stdout)
                .lines()
                .find_map(|l| {
                    l.strip_prefix("export PATH=")
                        .and_then(|p| p.split(':').next())
                        .map(str::to_owned)
                })
                .expect("apiserver.sh env prints PATH");
            Cluster {
                kubeconfig,
                kubectl: format!("{bin}/kubectl"),
            }
        };
        let crd = repo().join("crds/privateapi.io_privateapis.yaml");
        let crd = crd.display().to_string();
        let out = kubectl_with(
            &cluster,
            &["apply", "--server-side", "--force-conflicts", "-f", &crd],
            None,
        );
        assert!(
            out.status.success(),
            "CRD apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = kubectl_with(
            &cluster,
            &[
                "wait",
                "--for=condition=Established",
                "crd/privateapis.privateapi.io",
                "--timeout=30s",
            ],
            None,
        );
        assert!(
            out.status.success(),
            "CRD not established: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    })
}

pub fn kubectl_with(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(&cluster.kubectl)
        .args(args)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("kubectl output")
}

pub fn kubectl(args: &[&str]) -> Output {
    kubectl_with(cluster(), args, None)
}

pub fn kubectl_apply(manifest: &str) -> Output {
    kubectl_with(cluster(), &["apply", "-f", "-"], Some(manifest))
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A PrivateApi manifest in the style of tests/e2e.rs.
pub fn manifest(ns: &str, name: &str, vpc: &str, subnets: &[String], image: &str) -> String {
    format!(
        "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: '{image}', desiredCount: 2}}\n",
        subnets.join(", ")
    )
}

/// The object as JSON, or None when it does not exist.
pub fn get(ns: &str, name: &str) -> Option<serde_json::Value> {
    let out = kubectl(&["get", "papi", name, "-n", ns, "-o", "json", "--ignore-not-found"]);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        return None;
    }
    serde_json::from_str(&text).ok()
}

pub fn condition<'a>(obj: &'a serde_json::Value, type_: &str) -> Option<&'a serde_json::Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Ready=True for the current generation.
pub fn is_ready(obj: &serde_json::Value) -> bool {
    obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
        && condition(obj, "Ready").is_some_and(|c| c["status"] == "True")
}

// ------------------------------------------------------------------ the operator

/// The operator binary as a child process (SIGKILL when dropped), logging to a file
/// that survives restarts.
pub struct Operator {
    child: Child,
    pub log: PathBuf,
}

impl Operator {
    pub fn start(bin: &Path, args: &[&str], env: &[(&str, String)], log: &Path) -> Operator {
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("operator log file");
        let child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the operator");
        Operator {
            child,
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (SIGKILL after 15 s).
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }

    /// (VmRSS, VmHWM) in KiB, from /proc.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// CPU time (user + system) used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id()).unwrap_or(0.0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

// ------------------------------------------------------------------ the AWS proxy

/// scripts/awsproxy.py in front of the emulator, started and stopped by
/// scripts/awsproxy.sh on a port of its own.
pub struct Proxy {
    pub url: String,
    port: u16,
    http: reqwest::Client,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Proxy {
    /// Starts a proxy to `upstream` on `port` (a free one when None).
    pub fn start(upstream: &str, port: Option<u16>) -> Proxy {
        let port = port.unwrap_or_else(free_port);
        let out = Command::new(repo().join("scripts/awsproxy.sh"))
            .arg("start")
            .env("AWSPROXY_PORT", port.to_string())
            .env("AWSPROXY_UPSTREAM", upstream)
            .output()
            .expect("run scripts/awsproxy.sh start");
        assert!(
            out.status.success(),
            "proxy failed to start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("export AWSPROXY_URL=").map(str::to_owned))
            .expect("awsproxy.sh prints AWSPROXY_URL");
        Proxy {
            url,
            port,
            http: reqwest::Client::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn config(&self, config: serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/_proxy/config", self.url))
            .json(&config)
            .send()
            .await
            .expect("proxy config");
        assert!(resp.status().is_success(), "proxy config: {:?}", resp.text().await);
    }

    pub async fn reset(&self) {
        let resp = self
            .http
            .post(format!("{}/_proxy/reset", self.url))
            .send()
            .await
            .expect("proxy reset");
        assert!(resp.status().is_success());
    }

    pub async fn stats(&self) -> Stats {
        let value: serde_json::Value = self
            .http
            .get(format!("{}/_proxy/stats", self.url))
            .send()
            .await
            .expect("proxy stats")
            .json()
            .await
            .expect("proxy stats JSON");
        Stats(value)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/awsproxy.sh"))
            .arg("stop")
            .env("AWSPROXY_PORT", self.port.to_string())
            .output();
    }
}

/// GET /_proxy/stats.
#[derive(Clone, Debug)]
pub struct Stats(pub serde_json::Value);

pub fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List"].iter().any(|p| operation.starts_with(p))
}

impl Stats {
    /// (service, operation, attempts) of every call.
    pub fn calls(&self) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        if let Some(services) = self.0["calls"].as_object() {
            for (service, ops) in services {
                for (op, n) in ops.as_object().into_iter().flatten() {
                    out.push((service.clone(), op.clone(), n.as_u64().unwrap_or(0)));
                }
            }
        }
        out
    }

    pub fn total(&self) -> u64 {
        self.calls().iter().map(|c| c.2).sum()
    }

    pub fn reads(&self) -> u64 {
        self.calls().iter().filter(|c| is_read(&c.1)).map(|c| c.2).sum()
    }

    pub fn writes(&self) -> u64 {
        self.total() - self.reads()
    }

    pub fn count(&self, operation: &str) -> u64 {
        self.calls().iter().filter(|c| c.1 == operation).map(|c| c.2).sum()
    }

    pub fn outcome(&self, outcome: &str) -> u64 {
        self.0["outcomes"][outcome].as_u64().unwrap_or(0)
    }

    /// Mutating operations with counts, for messages: `ec2.CreateSecurityGroup×3`.
    pub fn write_operations(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|c| !is_read(&c.1))
            .map(|(s, o, n)| format!("{s}.{o}×{n}"))
            .collect()
    }

    /// Operations answered with a throttle by the quotas (not injected).
    pub fn throttled_operations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ops) = self.0["by_operation"].as_object() {
            for (op, outcomes) in ops {
                if let Some(n) = outcomes["throttled"].as_u64() {
                    out.push(format!("{op}×{n}"));
                }
            }
        }
        out
    }
}

// ------------------------------------------------------------------ the TCP relay

/// A TCP relay between the operator and the API server. `cut` closes every relayed
/// connection and turns new ones away (accepted, then closed at once: the client
/// sees its connection reset, as when an API server or the load balancer in front
/// of it goes away); `restore` lets connections through again. The TLS session is
/// the operator's own, end to end: the relay only moves bytes.
pub struct Relay {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    cuts: AtomicU64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Relay {
    /// Runs on a thread and runtime of its own, so that blocking test code (kubectl,
    /// sleeps) never stalls the relayed traffic.
    pub fn start(target: SocketAddr) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("relay addr");
        let up = Arc::new(AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        {
            let up = up.clone();
            let generation = generation.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("relay runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("relay listener");
                    loop {
                        let accepted = tokio::select! {
                            a = listener.accept() => a,
                            _ = &mut stopped => break,
                        };
                        let Ok((mut inbound, _)) = accepted else {
                            continue;
                        };
                        if !up.load(Ordering::SeqCst) {
                            drop(inbound);
                            continue;
                        }
                        let mut cut = generation.subscribe();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                    generation.send_modify(|g| *g += 1);
                });
            });
        }
        Relay {
            addr,
            up,
            generation,
            cuts: AtomicU64::new(0),
            stop: Some(stop),
        }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.fetch_add(1, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.generation.send_modify(|g| *g += 1);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The API server's address in a kubeconfig (`server: https://HOST:PORT`), when HOST
/// is a loopback address the relay can stand in for.
pub fn loopback_server(kubeconfig: &str) -> Option<(String, SocketAddr)> {
    let text = std::fs::read_to_string(kubeconfig).ok()?;
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server:"))?
        .trim()
        .trim_matches('"')
        .to_owned();
    let hostport = server.strip_prefix("https://")?.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':')?;
    let ip = match host {
        "127.0.0.1" | "localhost" => "127.0.0.1",
        _ => return None,
    };
    Some((server.clone(), format!("{ip}:{port}").parse().ok()?))
}

/// A copy of `kubeconfig` pointing at the relay instead of the API server.
pub fn kubeconfig_via(kubeconfig: &str, server: &str, relay: SocketAddr, out: &Path) {
    let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
    let host = if server.contains("localhost") {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let replaced = text.replace(server, &format!("https://{host}:{}", relay.port()));
    std::fs::write(out, replaced).expect("write kubeconfig");
}

// ------------------------------------------------------------------ small helpers

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// CPU time (user + system) a process used so far, in seconds (/proc/PID/stat).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    static TICKS: OnceLock<f64> = OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // after the command: state(0) ppid(1) ... utime(11) stime(12)
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// The pid recorded by one of the project's scripts (`moto-PORT.pid`, `awsproxy-PORT.pid`)
/// in `$PRIVATEAPI_STATE`.
pub fn script_pid(file: &str) -> Option<u32> {
    let state = std::env::var("PRIVATEAPI_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("PRIVATEAPI_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|_| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/privateapi-operator")
                });
            cache.join("state")
        });
    std::fs::read_to_string(state.join(file)).ok()?.trim().parse().ok()
}
