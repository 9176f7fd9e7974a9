//! Client-side pacing under API Gateway's account-level rate quotas, shared by all
//! reconciles, so that many resources queue politely instead of tripping
//! `TooManyRequestsException` and retrying (see notes on quotas in the README).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces out calls of the same operation: each one takes the next free slot.
#[derive(Debug, Default)]
pub struct Pacer {
    intervals: HashMap<&'static str, Duration>,
    next_slot: Mutex<HashMap<&'static str, Instant>>,
}

impl Pacer {
    /// No pacing at all (emulators, tests).
    pub fn off() -> Self {
        Pacer::default()
    }

    /// The published, non-raisable API Gateway account quotas per region.
    pub fn account_quotas() -> Self {
        let intervals = HashMap::from([
            ("CreateRestApi", Duration::from_secs(3)),
            ("CreateDeployment", Duration::from_secs(5)),
            ("CreateVpcLink", Duration::from_secs(15)),
            ("DeleteVpcLink", Duration::from_secs(30)),
            ("DeleteRestApi", Duration::from_secs(30)),
        ]);
        Pacer {
            intervals,
            next_slot: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for this operation's next slot (immediately if it is not paced).
    pub async fn pace(&self, operation: &'static str) {
        let Some(interval) = self.intervals.get(operation).copied() else {
            return;
        };
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = next
                .get(operation)
                .copied()
                .filter(|t| *t > now)
                .unwrap_or(now);
            next.insert(operation, slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_of_one_operation() {
        let pacer = Pacer::account_quotas();
        let start = Instant::now();
        pacer.pace("CreateRestApi").await;
        pacer.pace("CreateRestApi").await;
        pacer.pace("CreateRestApi").await;
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        // Unpaced operations never wait.
        let t = Instant::now();
        pacer.pace("GetRestApis").await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
