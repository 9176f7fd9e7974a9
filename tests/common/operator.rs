//! The operator binary as a child process, logging to a file that survives restarts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::measure::cpu_seconds;

/// The operator binary as a child process (SIGKILL when dropped), logging to a file
/// that survives restarts.
pub struct Operator {
    child: Child,
    pub log_file: PathBuf,
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
            log_file: log.to_owned(),
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

    /// SIGTERM, then wait up to `grace` (SIGKILL after it): how long the process took
    /// to exit and its exit code (None when it had to be killed).
    pub fn terminate(&mut self, grace: Duration) -> (Duration, Option<i32>) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        while started.elapsed() < grace {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (started.elapsed(), status.code());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        (started.elapsed(), None)
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

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// The address the metrics server bound (start it with `--metrics-addr 127.0.0.1:0`),
    /// read from its log line; fails after 30 s.
    pub fn metrics_addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let bound = self
                .log()
                .lines()
                .filter(|l| l.contains("metrics and health endpoints listening"))
                .find_map(|l| {
                    let at = l.find("127.0.0.1:")?;
                    let addr: String = l[at..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    Some(addr)
                });
            if let Some(addr) = bound {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "the metrics server never said where it listens:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until the log has been still for `quiet` (no pass is changing anything:
    /// resyncs that find nothing log nothing at info); fails after a minute.
    pub async fn settle(&self, quiet: Duration) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut last, mut since) = (self.log().len(), Instant::now());
        while since.elapsed() < quiet {
            assert!(Instant::now() < deadline, "the operator never settled:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = self.log().len();
            if now != last {
                (last, since) = (now, Instant::now());
            }
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
