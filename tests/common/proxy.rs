//! scripts/awsproxy.py in front of the AWS emulator: counts every call, enforces the
//! AWS quotas when asked, injects faults (throttling, HTTP 500, timeouts, lost answers).

use std::process::Command;

use super::repo;

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
