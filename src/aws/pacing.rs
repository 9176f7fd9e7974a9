//! Client-side pacing under API Gateway's account-level rate quotas, shared by all
//! reconciles, so that many resources queue politely instead of tripping
//! `TooManyRequestsException` and retrying (see notes on quotas in the README).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::AwsError;

/// Slots a little wider than the quota: calls spaced exactly at the quota's interval
/// meet AWS's bucket a few milliseconds early now and then (measured: 429s at
/// teardown with exact spacing).
const MARGIN: f64 = 1.1;

/// Spaces out calls of the same operation: each one takes the next free slot.
/// A caller whose slot is further away than `max_wait` is told to come back later
/// instead of holding a worker.
#[derive(Debug)]
pub struct Pacer {
    intervals: HashMap<&'static str, Duration>,
    next_slot: Mutex<HashMap<&'static str, Instant>>,
    max_wait: Duration,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            intervals: HashMap::new(),
            next_slot: Mutex::new(HashMap::new()),
            max_wait: Duration::MAX,
        }
    }
}

impl Pacer {
    /// No pacing at all (emulators, tests).
    pub fn off() -> Self {
        Pacer::default()
    }

    /// The published, non-raisable API Gateway account quotas per region.
    pub fn account_quotas() -> Self {
        let intervals = HashMap::from([
            ("CreateRestApi", Duration::from_secs(3).mul_f64(MARGIN)),
            ("CreateDeployment", Duration::from_secs(5).mul_f64(MARGIN)),
            ("CreateVpcLink", Duration::from_secs(15).mul_f64(MARGIN)),
            ("DeleteVpcLink", Duration::from_secs(30).mul_f64(MARGIN)),
            ("DeleteRestApi", Duration::from_secs(30).mul_f64(MARGIN)),
        ]);
        Pacer {
            intervals,
            ..Pacer::default()
        }
    }

    /// Waits at most this long for a slot; beyond, `pace` answers `Paced`.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Waits for this operation's next slot (immediately if it is not paced).
    pub async fn pace(&self, operation: &'static str) -> Result<(), AwsError> {
        let Some(interval) = self.intervals.get(operation).copied() else {
            return Ok(());
        };
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = next.get(operation).copied().filter(|t| *t > now).unwrap_or(now);
            if slot - now > self.max_wait {
                return Err(AwsError::Paced {
                    operation,
                    retry_after: slot - now,
                });
            }
            next.insert(operation, slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_of_one_operation() {
        let pacer = Pacer::account_quotas();
        let start = Instant::now();
        for _ in 0..3 {
            pacer.pace("CreateRestApi").await.expect("slot");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6).mul_f64(MARGIN));
        // Unpaced operations never wait.
        let t = Instant::now();
        pacer.pace("GetRestApis").await.expect("unpaced");
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_far_slot_is_refused_not_waited_for() {
        let pacer = Pacer::account_quotas().with_max_wait(Duration::from_secs(2));
        pacer.pace("CreateVpcLink").await.expect("first is free");
        let err = pacer.pace("CreateVpcLink").await.expect_err("next slot is 15 s away");
        assert!(
            matches!(
                err,
                AwsError::Paced {
                    operation: "CreateVpcLink",
                    ..
                }
            ),
            "{err}"
        );
        // The refused caller did not take the slot: after 15 s it is free again.
        tokio::time::advance(Duration::from_secs(15)).await;
        pacer.pace("CreateVpcLink").await.expect("free again");
    }
}
