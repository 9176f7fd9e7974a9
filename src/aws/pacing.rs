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
///
/// A caller whose slot is further away than `max_wait` is told to come back later
/// (`Paced`, with the time to come back) instead of holding a worker, and the slot
/// is kept for it under its key (the object the call is about). So a hundred
/// resources waiting for `CreateVpcLink` form a queue and each comes back once, at
/// its turn, instead of all of them retrying at every slot.
#[derive(Debug)]
pub struct Pacer {
    intervals: HashMap<&'static str, Duration>,
    queues: Mutex<HashMap<&'static str, Queue>>,
    max_wait: Duration,
    /// Every API Gateway call of the account, reads included, shares one quota.
    api_gateway: Option<Mutex<Bucket>>,
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

/// API Gateway's account quota is 10 requests a second with a burst of 40, for all
/// callers of the account together: keep clear of it so that the console, CI and
/// other tools of the same account still get their share.
const API_GATEWAY_RATE: f64 = 8.0;
const API_GATEWAY_BURST: f64 = 20.0;

/// CreateRestApi of an edge-optimized API: a quota of its own, ten times slower.
pub const CREATE_EDGE_REST_API: &str = "CreateRestApi (EDGE)";

/// One paced operation's schedule.
#[derive(Debug, Default)]
struct Queue {
    /// The latest slot handed out: no call goes out sooner than one interval after it.
    last: Option<Instant>,
    /// The next slot nobody holds.
    next_free: Option<Instant>,
    /// Slots promised to callers that were sent away, by key.
    held: HashMap<String, Instant>,
}

/// A promised slot nobody came back for within this long is given up (the object
/// was deleted, or its spec changed and the call is no longer needed).
const FORGET_AFTER: Duration = Duration::from_secs(300);

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            intervals: HashMap::new(),
            queues: Mutex::new(HashMap::new()),
            max_wait: Duration::MAX,
            api_gateway: None,
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
            (CREATE_EDGE_REST_API, Duration::from_secs(30).mul_f64(MARGIN)),
            ("CreateResource", Duration::from_millis(200).mul_f64(MARGIN)),
            // 5 every 2 s: a full pass and a drift probe read an API's resources.
            ("GetResources", Duration::from_millis(400).mul_f64(MARGIN)),
            ("CreateDomainName", Duration::from_secs(30).mul_f64(MARGIN)),
            ("UpdateDomainName", Duration::from_secs(30).mul_f64(MARGIN)),
            ("DeleteDomainName", Duration::from_secs(30).mul_f64(MARGIN)),
            ("CreateDeployment", Duration::from_secs(5).mul_f64(MARGIN)),
            ("CreateVpcLink", Duration::from_secs(15).mul_f64(MARGIN)),
            ("DeleteVpcLink", Duration::from_secs(30).mul_f64(MARGIN)),
            ("DeleteRestApi", Duration::from_secs(30).mul_f64(MARGIN)),
        ]);
        Pacer {
            intervals,
            api_gateway: Some(Mutex::new(Bucket {
                rate: API_GATEWAY_RATE,
                burst: API_GATEWAY_BURST,
                tokens: API_GATEWAY_BURST,
                at: Instant::now(),
            })),
            ..Pacer::default()
        }
    }

    /// Waits for room under the account-wide API Gateway request quota (every call,
    /// read or write). A restart over many resources reads every API at once: without
    /// this, the reads alone trip the quota and the SDK's retries run out.
    pub async fn api_gateway_call(&self) {
        let Some(bucket) = &self.api_gateway else {
            return;
        };
        let wake = {
            let mut b = bucket.lock().await;
            let now = Instant::now();
            b.tokens = (b.tokens + (now - b.at).as_secs_f64() * b.rate).min(b.burst);
            b.at = now;
            // Take the token now, even if it is not there yet: callers queue in order.
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                return;
            }
            now + Duration::from_secs_f64(-b.tokens / b.rate)
        };
        tokio::time::sleep_until(wake).await;
    }

    /// Takes only `share` (0 < share ≤ 1) of every quota: each paced operation's slots
    /// are `1 / share` times further apart, and the account-wide bucket fills and holds
    /// `share` times as much (at least one call's worth). API Gateway's quotas are per
    /// account and region, not per caller: operators sharded by `--selector` over one
    /// account split them (two shards: 0.5 each) instead of each taking the whole.
    pub fn with_share(mut self, share: f64) -> Self {
        let share = share.clamp(f64::MIN_POSITIVE, 1.0);
        for interval in self.intervals.values_mut() {
            *interval = interval.div_f64(share);
        }
        if let Some(bucket) = &mut self.api_gateway {
            let b = bucket.get_mut();
            b.rate *= share;
            b.burst = (b.burst * share).max(1.0);
            b.tokens = b.burst;
        }
        self
    }

    /// Waits at most this long for a slot; beyond, `pace` answers `Paced`.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Waits for this operation's next slot (immediately if it is not paced).
    /// `key` names what the call is about (a resource name or id): a caller sent
    /// away keeps its slot under that key.
    pub async fn pace(&self, operation: &'static str, key: &str) -> Result<(), AwsError> {
        let Some(interval) = self.intervals.get(operation).copied() else {
            return Ok(());
        };
        let slot = {
            let mut queues = self.queues.lock().await;
            let queue = queues.entry(operation).or_default();
            let now = Instant::now();
            queue.held.retain(|_, slot| *slot + FORGET_AFTER > now);
            let earliest = queue.last.map_or(now, |last| (last + interval).max(now));
            let slot = match queue.held.get(key) {
                // A late comer cannot use its slot if a later one was handed out meanwhile.
                Some(held) => (*held).max(earliest),
                None => {
                    let slot = queue.next_free.map_or(earliest, |free| free.max(earliest));
                    queue.next_free = Some(slot + interval);
                    slot
                }
            };
            if slot - now > self.max_wait {
                queue.held.insert(key.to_owned(), slot);
                // Back a little early: the remaining wait is then spent here, in `sleep_until`.
                let retry_after = (slot - now).saturating_sub(self.max_wait / 2);
                return Err(AwsError::Paced { operation, retry_after });
            }
            queue.held.remove(key);
            queue.last = Some(queue.last.map_or(slot, |last| last.max(slot)));
            if queue.next_free.is_none_or(|free| free < slot + interval) {
                queue.next_free = Some(slot + interval);
            }
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
    async fn edge_apis_and_domain_names_wait_thirty_seconds_regional_apis_three() {
        let pacer = Pacer::account_quotas();
        let start = Instant::now();
        for name in ["a", "b"] {
            pacer.pace(CREATE_EDGE_REST_API, name).await.expect("slot");
            pacer.pace("CreateRestApi", name).await.expect("slot");
        }
        // Two quotas: sharing the edge one, the four calls would have taken 99 s.
        assert_eq!(start.elapsed(), Duration::from_secs(33));
        let start = Instant::now();
        pacer.pace("CreateDomainName", "x").await.expect("slot");
        pacer.pace("CreateDomainName", "y").await.expect("slot");
        assert_eq!(start.elapsed(), Duration::from_secs(33));
        // GetResources: 5 every 2 s.
        let start = Instant::now();
        for _ in 0..6 {
            pacer.pace("GetResources", "api").await.expect("slot");
        }
        assert!(start.elapsed() <= Duration::from_millis(2200), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_calls_of_one_operation() {
        let pacer = Pacer::account_quotas();
        let start = Instant::now();
        for _ in 0..3 {
            pacer.pace("CreateRestApi", "a").await.expect("slot");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6).mul_f64(MARGIN));
        // Unpaced operations never wait.
        let t = Instant::now();
        pacer.pace("GetRestApis", "a").await.expect("unpaced");
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_far_slot_is_held_for_the_caller_sent_away() {
        let interval = Duration::from_secs(15).mul_f64(MARGIN);
        let pacer = Pacer::account_quotas().with_max_wait(Duration::from_secs(2));
        pacer.pace("CreateVpcLink", "a").await.expect("first is free");
        let start = Instant::now();
        let retry_b = match pacer.pace("CreateVpcLink", "b").await {
            Err(AwsError::Paced {
                operation: "CreateVpcLink",
                retry_after,
            }) => retry_after,
            other => panic!("b: {other:?}"),
        };
        let retry_c = match pacer.pace("CreateVpcLink", "c").await {
            Err(AwsError::Paced { retry_after, .. }) => retry_after,
            other => panic!("c: {other:?}"),
        };
        // Each is told to come back a little before its own slot, b before c.
        assert_eq!(retry_b, interval - Duration::from_secs(1));
        assert_eq!(retry_c, interval * 2 - Duration::from_secs(1));
        // c coming back early is sent away again, with its slot kept.
        tokio::time::advance(retry_b).await;
        assert!(pacer.pace("CreateVpcLink", "c").await.is_err());
        // b comes back and gets its slot, exactly one interval after a.
        pacer.pace("CreateVpcLink", "b").await.expect("b's slot");
        assert_eq!(start.elapsed(), interval);
        // A newcomer queues behind c.
        assert!(pacer.pace("CreateVpcLink", "d").await.is_err());
        tokio::time::advance(retry_c - retry_b).await;
        pacer.pace("CreateVpcLink", "c").await.expect("c's slot");
        assert_eq!(start.elapsed(), interval * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_comer_pushes_the_next_slot_back() {
        let interval = Duration::from_secs(30).mul_f64(MARGIN);
        let pacer = Pacer::account_quotas().with_max_wait(Duration::from_secs(2));
        let start = Instant::now();
        pacer.pace("DeleteRestApi", "a").await.expect("first is free");
        assert!(pacer.pace("DeleteRestApi", "b").await.is_err());
        assert!(pacer.pace("DeleteRestApi", "c").await.is_err());
        // b comes back 1.5 s after its slot: it goes at once.
        tokio::time::advance(interval + Duration::from_millis(1500)).await;
        pacer.pace("DeleteRestApi", "b").await.expect("b, late");
        let b_sent = start.elapsed();
        // c, on time for its own slot, still waits one whole interval after b.
        tokio::time::advance(interval * 2 - b_sent - Duration::from_millis(500)).await;
        pacer.pace("DeleteRestApi", "c").await.expect("c waits < 2 s");
        assert_eq!(start.elapsed() - b_sent, interval);
    }

    #[tokio::test(start_paused = true)]
    async fn api_gateway_calls_stay_under_the_account_rate() {
        let pacer = Pacer::account_quotas();
        let start = Instant::now();
        // The burst goes at once, then API_GATEWAY_RATE a second.
        for _ in 0..API_GATEWAY_BURST as usize {
            pacer.api_gateway_call().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..(2.0 * API_GATEWAY_RATE) as usize {
            pacer.api_gateway_call().await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.01, "{took}");
        // Unpaced: never waits.
        let off = Pacer::off();
        for _ in 0..1000 {
            off.api_gateway_call().await;
        }
        assert_eq!(start.elapsed().as_secs_f64(), took);
    }

    /// Half the quota: every operation's slots twice as far apart, the account bucket
    /// half as fast and half as deep; the whole quota is the same as no share.
    #[tokio::test(start_paused = true)]
    async fn a_share_scales_every_bucket() {
        let half = Pacer::account_quotas().with_share(0.5);
        let start = Instant::now();
        for _ in 0..3 {
            half.pace("CreateRestApi", "a").await.expect("slot");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(12).mul_f64(MARGIN));
        let start = Instant::now();
        for _ in 0..2 {
            half.pace(CREATE_EDGE_REST_API, "a").await.expect("slot");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60).mul_f64(MARGIN));
        // The bucket: half the burst at once, then half the rate.
        let start = Instant::now();
        for _ in 0..(API_GATEWAY_BURST / 2.0) as usize {
            half.api_gateway_call().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..(API_GATEWAY_RATE / 2.0 * 2.0) as usize {
            half.api_gateway_call().await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((took - 2.0).abs() < 0.01, "{took}");
        // The whole quota: as without a share.
        let whole = Pacer::account_quotas().with_share(1.0);
        let start = Instant::now();
        for _ in 0..3 {
            whole.pace("CreateRestApi", "a").await.expect("slot");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6).mul_f64(MARGIN));
        // A tiny share still lets one call through at a time.
        let tiny = Pacer::account_quotas().with_share(0.01);
        let start = Instant::now();
        tiny.api_gateway_call().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        tiny.api_gateway_call().await;
        let took = start.elapsed().as_secs_f64();
        assert!((took - 1.0 / (API_GATEWAY_RATE * 0.01)).abs() < 0.01, "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_nobody_comes_back_for_is_given_up() {
        let pacer = Pacer::account_quotas().with_max_wait(Duration::from_secs(2));
        pacer.pace("CreateVpcLink", "a").await.expect("first is free");
        assert!(pacer.pace("CreateVpcLink", "gone").await.is_err());
        tokio::time::advance(FORGET_AFTER + Duration::from_secs(60)).await;
        pacer
            .pace("CreateVpcLink", "new")
            .await
            .expect("free: the held slot is long past");
        assert!(pacer.queues.lock().await["CreateVpcLink"].held.is_empty());
    }
}
