//! Prometheus metrics and health endpoints, served on `--metrics-addr`:
//! `/metrics` (text format), `/healthz` (alive), `/readyz` (watching).
//!
//! A small hand-written HTTP/1.1 responder: three fixed GET routes do not need a
//! web framework in the dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::aws::CallStats;

/// Connections served at once: Prometheus and two probes need a handful.
pub const MAX_CONNECTIONS: usize = 32;

const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    reconciles: Mutex<BTreeMap<&'static str, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Resyncs of Ready resources, by kind (drift_check, full).
    resyncs: Mutex<BTreeMap<&'static str, u64>>,
    duration: Mutex<Histogram>,
    /// Current verdict per object (namespace/name → condition).
    conditions: Mutex<BTreeMap<String, &'static str>>,
    ready: AtomicBool,
    aws: Mutex<Option<Arc<CallStats>>>,
}

impl Metrics {
    pub fn new(aws: Arc<CallStats>) -> Self {
        let metrics = Metrics::default();
        *crate::sync::lock(&metrics.aws) = Some(aws);
        metrics
    }

    pub fn observe_reconcile(&self, elapsed: Duration, error: Option<&str>) {
        let outcome = if error.is_some() { "error" } else { "ok" };
        *crate::sync::lock(&self.reconciles).entry(outcome).or_default() += 1;
        if let Some(label) = error {
            *crate::sync::lock(&self.errors).entry(label.to_owned()).or_default() += 1;
        }
        let secs = elapsed.as_secs_f64();
        let mut h = crate::sync::lock(&self.duration);
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn observe_resync(&self, kind: &'static str) {
        *crate::sync::lock(&self.resyncs).entry(kind).or_default() += 1;
    }

    pub fn set_condition(&self, object: &str, condition: Option<&'static str>) {
        let mut map = crate::sync::lock(&self.conditions);
        match condition {
            Some(c) => map.insert(object.to_owned(), c),
            None => map.remove(object),
        };
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP privateapi_reconciles_total Reconciles by outcome.");
        let _ = writeln!(out, "# TYPE privateapi_reconciles_total counter");
        for (outcome, n) in crate::sync::lock(&self.reconciles).iter() {
            let _ = writeln!(out, "privateapi_reconciles_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP privateapi_reconcile_errors_total Failed reconciles by error kind."
        );
        let _ = writeln!(out, "# TYPE privateapi_reconcile_errors_total counter");
        for (kind, n) in crate::sync::lock(&self.errors).iter() {
            let _ = writeln!(out, "privateapi_reconcile_errors_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP privateapi_reconcile_duration_seconds Time of one reconcile."
        );
        let _ = writeln!(out, "# TYPE privateapi_reconcile_duration_seconds histogram");
        {
            let h = crate::sync::lock(&self.duration);
            for (le, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(out, "privateapi_reconcile_duration_seconds_bucket{{le=\"{le}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "privateapi_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "privateapi_reconcile_duration_seconds_sum {}", h.sum);
            let _ = writeln!(out, "privateapi_reconcile_duration_seconds_count {}", h.count);
        }
        let _ = writeln!(
            out,
            "# HELP privateapi_resyncs_total Re-checks: of Ready resources, drift_check (shared region inventory) or full (every part read); of resources waiting on AWS, wait_check (the same check, instead of a full pass); after a pass that made changes and found every part ready, confirm (the same check, instead of a second full pass); after a wait that is over, follow_up (the steps it held back, from the same check and the API's and service's reads, instead of a full pass)."
        );
        let _ = writeln!(out, "# TYPE privateapi_resyncs_total counter");
        for kind in ["drift_check", "full", "wait_check"] {
            let n = crate::sync::lock(&self.resyncs).get(kind).copied().unwrap_or(0);
            let _ = writeln!(out, "privateapi_resyncs_total{{kind=\"{kind}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP privateapi_resources Resources by current condition.");
        let _ = writeln!(out, "# TYPE privateapi_resources gauge");
        let mut by_condition: BTreeMap<&str, u64> = ["Ready", "Reconciling", "Stalled", "Deleting"]
            .into_iter()
            .map(|c| (c, 0))
            .collect();
        for c in crate::sync::lock(&self.conditions).values() {
            *by_condition.entry(c).or_default() += 1;
        }
        for (c, n) in by_condition {
            let _ = writeln!(out, "privateapi_resources{{condition=\"{c}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP privateapi_build_info The operator's version.");
        let _ = writeln!(out, "# TYPE privateapi_build_info gauge");
        let _ = writeln!(
            out,
            "privateapi_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        render_process(&mut out, &Process::read());
        if let Some(stats) = crate::sync::lock(&self.aws).as_ref() {
            let _ = writeln!(
                out,
                "# HELP privateapi_aws_calls_total AWS API calls by service, operation and outcome."
            );
            let _ = writeln!(out, "# TYPE privateapi_aws_calls_total counter");
            for ((service, operation, outcome), n) in stats.outcomes() {
                let _ = writeln!(
                    out,
                    "privateapi_aws_calls_total{{service=\"{service}\",operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out
    }

    /// Serves the endpoints until the process ends. A failed accept (out of file
    /// descriptors, say) is logged and retried after a pause: `/healthz` must outlive it.
    /// At most [`MAX_CONNECTIONS`] are served at once; more wait in the listen backlog
    /// (not accepted, so they hold no descriptor of ours), each served one bounded by
    /// the 5-second read timeout.
    pub async fn serve(self: Arc<Self>, addr: &str) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        // The bound address, not the requested one: `:0` asks the kernel for a free port.
        let bound = listener.local_addr()?;
        tracing::info!(addr = %bound, "metrics and health endpoints listening");
        self.serve_on(listener, MAX_CONNECTIONS).await
    }

    async fn serve_on(self: Arc<Self>, listener: TcpListener, max_connections: usize) -> std::io::Result<()> {
        let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
        loop {
            // A slot before the accept: idle clients cannot take every descriptor.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let mut socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let metrics = self.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let mut buf = vec![0u8; 4096];
                let n = match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (status, body) = match path {
                    "/metrics" => ("200 OK", metrics.render()),
                    "/healthz" | "/livez" => ("200 OK", "ok\n".to_owned()),
                    "/readyz" if metrics.ready.load(Ordering::Relaxed) => ("200 OK", "ok\n".to_owned()),
                    "/readyz" => ("503 Service Unavailable", "not watching yet\n".to_owned()),
                    _ => ("404 Not Found", "not found\n".to_owned()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    }
}

/// The process's own figures, from /proc (Linux); what cannot be read is left out.
#[derive(Clone, Debug, Default, PartialEq)]
struct Process {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<u64>,
    open_fds: Option<usize>,
}

impl Process {
    fn read() -> Process {
        Process {
            // Every thread's, not /proc/self/schedstat's (the main thread's alone,
            // which idles while the runtime's workers reconcile).
            cpu_seconds: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|s| cpu_seconds_of_stat(&s)),
            resident_bytes: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| vm_rss_bytes(&s)),
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count()),
        }
    }
}

/// The process's user and system time in `/proc/<pid>/stat` (fields 14 and 15,
/// counted after the command name, which may hold spaces and parentheses), in
/// seconds. The kernel reports them in USER_HZ, 100 per second on Linux.
fn cpu_seconds_of_stat(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so utime (14) is the 12th value here.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// `VmRSS:   1234 kB` of /proc/self/status, in bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The standard process metrics of Prometheus clients.
fn render_process(out: &mut String, process: &Process) {
    if let Some(cpu) = process.cpu_seconds {
        let _ = writeln!(out, "# HELP process_cpu_seconds_total CPU time of the process.");
        let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
        let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
    }
    if let Some(rss) = process.resident_bytes {
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory of the process."
        );
        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
        let _ = writeln!(out, "process_resident_memory_bytes {rss}");
    }
    if let Some(fds) = process.open_fds {
        let _ = writeln!(out, "# HELP process_open_fds Open file descriptors of the process.");
        let _ = writeln!(out, "# TYPE process_open_fds gauge");
        let _ = writeln!(out, "process_open_fds {fds}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_figures_and_build_info_are_exported() {
        assert_eq!(
            vm_rss_bytes("Name:\tx\nVmRSS:\t   2048 kB\nThreads: 4\n"),
            Some(2 * 1024 * 1024)
        );
        assert_eq!(vm_rss_bytes("Name:\tx\n"), None);
        // A name with spaces and a parenthesis; utime 250 and stime 50 ticks.
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 3 0 77 1000 200";
        assert_eq!(cpu_seconds_of_stat(stat), Some(3.0));
        assert_eq!(cpu_seconds_of_stat("4242 (x"), None);
        // Every thread counts: time spent on another thread shows.
        let before = Process::read().cpu_seconds.expect("cpu seconds");
        std::thread::spawn(|| {
            let t0 = std::time::Instant::now();
            let mut x = 0u64;
            while t0.elapsed() < std::time::Duration::from_millis(300) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        })
        .join()
        .expect("spinner");
        let after = Process::read().cpu_seconds.expect("cpu seconds");
        assert!(after - before >= 0.2, "{before} -> {after}");
        let process = Process::read();
        assert!(process.resident_bytes.is_some_and(|b| b > 0), "{process:?}");
        assert!(process.open_fds.is_some_and(|n| n >= 3), "{process:?}");
        let text = Metrics::default().render();
        for metric in [
            "privateapi_build_info{version=",
            "process_resident_memory_bytes ",
            "process_open_fds ",
        ] {
            assert!(text.contains(metric), "{metric} missing:\n{text}");
        }
    }

    /// Idle connections beyond the cap wait unaccepted; one that closes makes room,
    /// and /healthz answers again.
    #[tokio::test]
    async fn connections_are_capped_and_the_server_goes_on() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(Arc::new(Metrics::default()).serve_on(listener, 2));
        async fn health(addr: std::net::SocketAddr) -> Option<String> {
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await.ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).await.ok()?;
            Some(out)
        }
        assert!(health(addr).await.is_some_and(|r| r.starts_with("HTTP/1.1 200")));
        // Two idle clients take both slots: a third request waits, unanswered.
        let idle1 = tokio::net::TcpStream::connect(addr).await.expect("idle 1");
        let idle2 = tokio::net::TcpStream::connect(addr).await.expect("idle 2");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let waiting = tokio::spawn(health(addr));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "served beyond the cap");
        drop(idle1);
        let answer = tokio::time::timeout(Duration::from_secs(3), waiting)
            .await
            .expect("served once a slot is free")
            .expect("join");
        assert!(answer.is_some_and(|r| r.starts_with("HTTP/1.1 200")));
        drop(idle2);
    }

    #[test]
    fn renders_prometheus_text() {
        let stats = Arc::new(CallStats::default());
        stats.record_outcome("ECS", "DescribeServices", "ok");
        let m = Metrics::new(stats);
        m.observe_reconcile(Duration::from_millis(30), None);
        m.observe_reconcile(Duration::from_millis(2), Some("AwsRejected"));
        m.set_condition("ns/a", Some("Ready"));
        let text = m.render();
        assert!(text.contains("privateapi_reconciles_total{outcome=\"ok\"} 1"), "{text}");
        assert!(text.contains("privateapi_reconcile_errors_total{kind=\"AwsRejected\"} 1"));
        assert!(text.contains("privateapi_reconcile_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("privateapi_reconcile_duration_seconds_count 2"));
        assert!(text.contains("privateapi_resources{condition=\"Ready\"} 1"));
        assert!(
            text.contains(
                "privateapi_aws_calls_total{service=\"ECS\",operation=\"DescribeServices\",outcome=\"ok\"} 1"
            )
        );
    }
}
