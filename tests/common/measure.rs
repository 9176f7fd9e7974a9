//! Measuring: percentiles, and the CPU time and pids of the processes a test or the
//! benchmark starts.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

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
