//! When to look at an object again, and how: the controller's scheduling policy,
//! pure (no clock, no I/O; the time is passed in).
//!
//! [`Memory`] is what the controller remembers of an object between reconciles;
//! [`Observed`] is what the object says now. [`Memory::next_pass`] picks the pass a
//! reconcile runs (none, a wait check, a drift check, a full pass, the teardown), and
//! [`Memory::record`] how long to leave the object after it, by its [`Outcome`].
//! The read budget (`Settings::resync_reads`) sizes how long drift checks share the
//! region lists ([`drift_check_freshness`]).

use std::collections::BTreeSet;
use std::time::Duration;

use kube::ResourceExt;
use tokio::time::Instant;

use crate::aws::inventory::Freshness;
use crate::crd::{FINALIZER, PrivateApi, ResourceIds};
use crate::status;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Watch one namespace only (default: all).
    pub namespace: Option<String>,
    /// Only reconcile objects matching this label selector.
    pub selector: Option<String>,
    /// Re-check of a Ready resource against AWS (catches drift made outside): a drift
    /// check against the shared region inventory, or a full pass when one is due.
    pub resync: Duration,
    /// A full pass (every part read, leftovers swept) at least this often; a drift
    /// check in between. Zero or not above `resync`: every resync is a full pass.
    pub full_resync: Duration,
    /// AWS reads a resync may cost per Ready resource, on average: sizes how long the
    /// region lists are shared (see [`list_reads_per_resync`]).
    pub resync_reads: f64,
    /// Reconciles running at once. A pass mostly waits on AWS (the pacer keeps it
    /// under the quotas, not the number of passes), so this only bounds memory: a
    /// burst of up to this many new resources is picked up at once.
    pub concurrency: u16,
    /// Requeue while AWS is provisioning (longer after the first minute: see
    /// [`wait_delay`]).
    pub poll: Duration,
    /// The installer's namespace policy (`--policy`); none: every namespace may name
    /// anything, as before there was one.
    pub policy: Option<std::sync::Arc<crate::policy::NamespacePolicy>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: None,
            selector: None,
            resync: Duration::from_secs(300),
            full_resync: Duration::from_secs(6 * 3600),
            resync_reads: 2.0,
            concurrency: 128,
            poll: Duration::from_secs(10),
            policy: None,
        }
    }
}

/// The longest wait between looks at a resource waiting on AWS.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Looks at each wait length before it doubles.
const WAITS_PER_STEP: u32 = 6;
/// After a pass that changed something but is not Ready: look again this soon, to
/// confirm it took.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(2);
/// A stalled resource (a human must act) is retried this slowly: an admin may fix
/// the account (quota, permissions) without touching the spec.
pub const STALLED_RETRY: Duration = Duration::from_secs(300);
/// The longest backoff after errors in a row.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How long to leave a resource that is waiting on AWS (an ALB provisioning, a VPC
/// link PENDING, tasks starting) after `waited` such passes in a row: `poll` for the
/// first six, then twice as long every six passes, up to a minute or 16 × `poll`,
/// whichever is less (a `poll` above a minute is kept). A VPC link takes up to ten
/// minutes; each look costs AWS reads (a wait check: a share of the region
/// inventory and one `DescribeServices`; a full pass: [`FULL_PASS_READS`], 7 of them
/// to API Gateway, whose account quota the whole account shares).
pub fn wait_delay(poll: Duration, waited: u32) -> Duration {
    let factor = 1u32 << (waited / WAITS_PER_STEP).min(4);
    (poll * factor).min(MAX_WAIT.max(poll))
}

/// Reads of a full pass over one resource, as measured by `make bench`.
///
/// Not derived from the code, so it can go stale: an emulator test in
/// `tests/engine.rs` counts the reads of a full pass over a default stack and
/// asserts they equal this constant (`privateapi::schedule::FULL_PASS_READS`).
pub const FULL_PASS_READS: f64 = 22.0;
/// Reads of one drift-check probe, averaged over a default stack's six (one each,
/// two for the execution role's policies).
const PROBE_READS: f64 = 7.0 / 6.0;
/// The least share of a resync left to the region lists, whatever the budget says.
const MIN_LIST_READS: f64 = 0.1;

/// What the region lists may cost a Ready resource per resync: the budget
/// (`resync_reads`) less a probe and the full passes' share. The inventory cache
/// turns it into how long the lists are shared (see `Freshness`): with the defaults
/// (2 reads, a resync every 5 min, a full pass every 6 h) 0.53 reads, so from
/// [`FRESH_LISTS_BELOW`] resources on, twenty share them every 2.8 minutes and a
/// hundred every 2.5 (twice a resync, the most often they are read). Fewer are not
/// held to it (see [`FRESH_LISTS_BELOW`]).
pub fn list_reads_per_resync(settings: &Settings) -> f64 {
    let full_passes = if settings.full_resync > settings.resync {
        settings.resync.as_secs_f64() / settings.full_resync.as_secs_f64()
    } else {
        1.0
    };
    (settings.resync_reads - PROBE_READS - FULL_PASS_READS * full_passes).max(MIN_LIST_READS)
}

/// Below this many Ready resources in a region, every drift check reads the region's
/// lists afresh (they are never reused for more than half a resync), whatever the
/// read budget: drift the inventory shows is seen at the resource's next check.
///
/// The budget exists for many resources: held to it, a lone resource would re-read
/// the lists only every 11 resyncs (57 minutes by default), and drift would go unseen
/// that long. Below this size the whole region's lists cost at most 2 × 6 reads per
/// resync (0.04 a second at the default 5 minutes, three of the six to API Gateway),
/// whatever the budget says; from it on, the budget shares them as before (twenty
/// resources: every 2.8 minutes by default).
pub const FRESH_LISTS_BELOW: usize = 20;

/// How long the drift checks of Ready resources share a region's lists.
pub fn drift_check_freshness(settings: &Settings) -> Freshness {
    Freshness::Shared {
        // With many resources: lists twice a resync, so that drift the inventory
        // shows is seen within one and a half resyncs.
        at_least: (settings.resync / 2).max(Duration::from_secs(1)),
        resync: settings.resync,
        reads_per_resync: list_reads_per_resync(settings),
        fresh_below: FRESH_LISTS_BELOW,
    }
}

/// How long the wait checks of resources waiting on AWS share a region's lists.
pub fn wait_check_freshness(settings: &Settings) -> Freshness {
    Freshness::Fixed((settings.poll / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)))
}

/// After `failures` retryable errors in a row (counting this one): 2 s, doubling up
/// to 256 s from the eighth on (under the 5-minute cap), before jitter (the caller
/// adds up to half again).
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(8)).min(MAX_BACKOFF)
}

/// What the controller remembers of one object between reconciles. Objects it has
/// not seen yet (or has forgotten) have the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Retryable errors in a row, for backoff (kube's error_policy never hears about
    /// successes, so the count lives here).
    pub failures: u32,
    /// The next look, as scheduled by the last pass; watch events caused by our own
    /// status writes are answered from here.
    pub next: Option<Next>,
    /// The last full pass.
    pub last_full_pass: Option<FullPass>,
    /// Drift checks that found nothing: they take the probes in turn, across full
    /// passes (frequent full passes must not keep the later probes from ever being
    /// taken).
    pub drift_checks: u32,
}

/// The next look at an object, as scheduled by its last pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Next {
    /// The generation that pass looked at.
    pub generation: Option<i64>,
    /// Whether the object was being deleted then.
    pub deleting: bool,
    pub due: Instant,
    /// Passes in a row at this generation that only waited on AWS.
    pub waits: u32,
    /// What that pass made, for the look that follows it.
    pub made: Made,
}

/// What a pass made, as far as the look after it goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Made {
    /// Nothing (or it failed).
    #[default]
    Nothing,
    /// Changes, and some part is not ready: if its status says it waits on AWS, a wait
    /// check follows (the inventory shows what the pass made, and whether the wait is
    /// over), not a full pass that would find the same wait.
    Changes,
    /// Changes, and every part ready: a confirm check follows ([`Pass::Confirm`]).
    ChangesAllReady,
}

/// When an object's last full pass ran, and at which generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullPass {
    pub generation: Option<i64>,
    pub at: Instant,
}

/// What an object says now, as far as scheduling goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed<'a> {
    pub generation: Option<i64>,
    pub deleting: bool,
    /// Our finalizer is in place.
    pub finalized: bool,
    /// What its status reports, if written at this generation.
    pub reported: Option<Reported<'a>>,
}

/// What an object's status (of the object's generation) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported<'a> {
    pub ready: bool,
    pub ids: &'a ResourceIds,
    /// Parts not ready yet among those whose readiness AWS works on by itself.
    pub waiting_on: BTreeSet<&'a str>,
    /// Every part's condition is True (Ready itself aside).
    pub parts_ready: bool,
}

impl<'a> Observed<'a> {
    /// `waitable`: the parts whose readiness AWS works on by itself (a wait check can
    /// follow them).
    pub fn of(obj: &'a PrivateApi, waitable: &[&str]) -> Self {
        let generation = obj.metadata.generation;
        let reported = obj
            .status
            .as_ref()
            .filter(|s| s.observed_generation == generation)
            .map(|s| Reported {
                ready: status::is_ready(Some(s)),
                ids: &s.resources,
                waiting_on: s
                    .conditions
                    .iter()
                    .filter(|c| c.status == "False" && waitable.contains(&c.type_.as_str()))
                    .map(|c| c.type_.as_str())
                    .collect(),
                parts_ready: s
                    .conditions
                    .iter()
                    .filter(|c| !OVERALL.contains(&c.type_.as_str()))
                    .all(|c| c.status == "True"),
            });
        Observed {
            generation,
            deleting: obj.metadata.deletion_timestamp.is_some(),
            finalized: obj.finalizers().iter().any(|f| f == FINALIZER),
            reported,
        }
    }
}

/// The conditions about the whole resource rather than one part.
const OVERALL: [&str; 3] = [status::READY, status::RECONCILING, status::STALLED];

/// The pass a reconcile runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pass<'a> {
    /// Nothing we act on changed (same generation, same side of deletion, finalizer
    /// in place: our own status writes and finalizer patches come back as watch
    /// events) and the next look is not due: requeue after the time left.
    NotDue(Duration),
    /// Being deleted: tear down (the finalizer helper runs it).
    Teardown,
    /// Ready at this generation, and its last full pass, at this generation, is recent
    /// enough: a drift check against the shared region inventory will do.
    DriftCheck(DriftCheck<'a>),
    /// Its last passes, at this generation, only waited on AWS, and its status says on
    /// which parts: a check of those will do (the service's probe: tasks starting
    /// are among what it waits on).
    WaitCheck(WaitCheck<'a>),
    /// Its last pass, at this generation, made changes and found every part ready,
    /// and its status says so: the region inventory, taken after that pass, and the
    /// service confirm them (Ready), rather than a second full pass that would read
    /// every part again to find nothing to do.
    Confirm(ConfirmCheck<'a>),
    /// Every part read and converged, leftovers swept.
    Full,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmCheck<'a> {
    pub ids: &'a ResourceIds,
    /// The inventory must be taken after this (the pass that made the changes).
    pub after: Instant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftCheck<'a> {
    pub ids: &'a ResourceIds,
    /// Which probe's turn it is (see `drift::probe`).
    pub turn: u32,
    /// The inventory must be taken after this (the last full pass): an older one
    /// would not show what that pass made or repaired.
    pub after: Instant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitCheck<'a> {
    pub ids: &'a ResourceIds,
    /// The parts waited on.
    pub waiting: BTreeSet<&'a str>,
    /// The inventory must be taken after this (the last full pass, if any).
    pub after: Instant,
}

/// How a pass ended, as far as the next look goes (retryable errors are
/// [`Memory::failed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Ready (after a full pass, or a drift check that found nothing): look again at
    /// the next resync.
    Ready,
    /// Changed something, not Ready yet: look again soon ([`CONFIRM_AFTER`]).
    Changed,
    /// Changed something, and every part reports ready: look again soon
    /// ([`CONFIRM_AFTER`]) with a confirming check ([`Pass::Confirm`]).
    Applied,
    /// Changed nothing, only waits on AWS: look again after [`wait_delay`], longer
    /// the more such passes in a row.
    Waiting,
    /// AWS said "not yet" (a dependency still there, our pacing under its quotas):
    /// look again when it said, or after `poll`.
    NotYet(Option<Duration>),
    /// The teardown waits on AWS (the wait errors that reach the error policy are
    /// the teardown's: a full pass answers its own with `NotYet`): look again when it
    /// said, or soon (`poll`, at most 5 s).
    TeardownPending(Option<Duration>),
    /// A human must act: look again slowly ([`STALLED_RETRY`]).
    Stalled,
}

impl Memory {
    /// The pass a reconcile of `obj` runs at `now`.
    pub fn next_pass<'a>(&self, obj: &Observed<'a>, settings: &Settings, now: Instant) -> Pass<'a> {
        if let Some(left) = self.not_due(obj, now) {
            return Pass::NotDue(left);
        }
        if obj.deleting {
            return Pass::Teardown;
        }
        if let Some(check) = self.drift_check(obj, settings, now) {
            return Pass::DriftCheck(check);
        }
        if let Some(check) = self.confirm_check(obj) {
            return Pass::Confirm(check);
        }
        if let Some(check) = self.wait_check(obj, now) {
            return Pass::WaitCheck(check);
        }
        Pass::Full
    }

    fn confirm_check<'a>(&self, obj: &Observed<'a>) -> Option<ConfirmCheck<'a>> {
        self.next
            .filter(|next| next.made == Made::ChangesAllReady && next.generation == obj.generation && !next.deleting)?;
        // The status of that pass (all parts ready), not an older one still in the cache.
        let reported = obj
            .reported
            .as_ref()
            .filter(|r| r.parts_ready && !r.ready && (r.ids.rest_api_id.is_some() || r.ids.http_api_id.is_some()))?;
        let pass = self.last_full_pass.filter(|pass| pass.generation == obj.generation)?;
        Some(ConfirmCheck {
            ids: reported.ids,
            after: pass.at,
        })
    }

    fn not_due(&self, obj: &Observed, now: Instant) -> Option<Duration> {
        let next = self.next.filter(|_| obj.finalized)?;
        let same = next.generation == obj.generation && next.deleting == obj.deleting;
        (same && next.due > now).then(|| next.due - now)
    }

    fn drift_check<'a>(&self, obj: &Observed<'a>, settings: &Settings, now: Instant) -> Option<DriftCheck<'a>> {
        if settings.full_resync <= settings.resync {
            return None;
        }
        let reported = obj
            .reported
            .as_ref()
            .filter(|r| r.ready && (r.ids.rest_api_id.is_some() || r.ids.http_api_id.is_some()))?;
        let pass = self.last_full_pass?;
        let recent = now.saturating_duration_since(pass.at) < settings.full_resync;
        (pass.generation == obj.generation && recent).then_some(DriftCheck {
            ids: reported.ids,
            turn: self.drift_checks,
            after: pass.at,
        })
    }

    fn wait_check<'a>(&self, obj: &Observed<'a>, now: Instant) -> Option<WaitCheck<'a>> {
        let reported = obj
            .reported
            .as_ref()
            .filter(|_| self.waits(obj) > 0 || self.made(obj) == Made::Changes)?;
        (!reported.waiting_on.is_empty()).then(|| WaitCheck {
            ids: reported.ids,
            waiting: reported.waiting_on.clone(),
            after: self.last_full_pass.map_or(now, |pass| pass.at),
        })
    }

    /// What the last pass made, if it was at the object's generation.
    fn made(&self, obj: &Observed) -> Made {
        self.next
            .filter(|next| next.generation == obj.generation && !next.deleting)
            .map_or(Made::Nothing, |next| next.made)
    }

    /// Passes in a row that only waited on AWS, at the object's generation.
    pub fn waits(&self, obj: &Observed) -> u32 {
        self.next
            .filter(|next| next.generation == obj.generation && !next.deleting)
            .map_or(0, |next| next.waits)
    }

    /// Records how a pass over `obj` ended at `now`; returns how long to leave it.
    pub fn record(&mut self, obj: &Observed, outcome: Outcome, settings: &Settings, now: Instant) -> Duration {
        let mut waits = 0;
        let after = match outcome {
            Outcome::Ready => settings.resync,
            Outcome::Changed | Outcome::Applied => CONFIRM_AFTER,
            Outcome::Waiting => {
                let waited = self.waits(obj);
                waits = waited.saturating_add(1);
                wait_delay(settings.poll, waited)
            }
            Outcome::NotYet(retry_after) => retry_after.unwrap_or(settings.poll),
            Outcome::TeardownPending(retry_after) => retry_after.unwrap_or(settings.poll.min(Duration::from_secs(5))),
            Outcome::Stalled => STALLED_RETRY,
        };
        self.next = Some(Next {
            generation: obj.generation,
            deleting: obj.deleting,
            due: now + after,
            waits,
            made: match outcome {
                Outcome::Changed => Made::Changes,
                Outcome::Applied => Made::ChangesAllReady,
                _ => Made::Nothing,
            },
        });
        after
    }

    /// A full pass over the object, at `generation`, succeeded at `at`.
    pub fn full_pass_done(&mut self, generation: Option<i64>, at: Instant) {
        self.last_full_pass = Some(FullPass { generation, at });
    }

    /// A drift check found nothing: the next one takes the next probe.
    pub fn drift_check_done(&mut self) {
        self.drift_checks = self.drift_checks.wrapping_add(1);
    }

    /// A reconcile succeeded: the failures in a row are over.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// A reconcile failed with a retryable error: counted; returns the backoff
    /// before jitter (see [`backoff`]).
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        backoff(self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_get_what_the_read_budget_leaves() {
        let defaults = Settings::default();
        // 2 − 7/6 (a probe) − 22 × 300 / 21600 (the full passes' share).
        let share = list_reads_per_resync(&defaults);
        assert!((share - 0.5278).abs() < 1e-3, "{share}");
        // Full passes at every resync leave the lists the least share.
        let every_time = Settings {
            full_resync: Duration::ZERO,
            ..Settings::default()
        };
        assert_eq!(list_reads_per_resync(&every_time), MIN_LIST_READS);
        let generous = Settings {
            resync_reads: 10.0,
            ..Settings::default()
        };
        assert!(list_reads_per_resync(&generous) > 8.0);
    }

    #[test]
    fn drift_checks_share_the_lists_at_most_twice_a_resync() {
        let defaults = Settings::default();
        // The figures list_reads_per_resync's comment gives: 2.84 min for twenty, and
        // for a hundred the floor, half a resync.
        let freshness = drift_check_freshness(&defaults);
        let minutes = |n: usize| freshness.max_age(n).as_secs_f64() / 60.0;
        assert!((minutes(20) - 2.84).abs() < 0.01, "{}", minutes(20));
        assert_eq!(freshness.max_age(100), Duration::from_secs(150));
        // A resync under two seconds still keeps the lists a second.
        let hasty = Settings {
            resync: Duration::from_secs(1),
            ..Settings::default()
        };
        assert_eq!(drift_check_freshness(&hasty).max_age(1000), Duration::from_secs(1));
    }

    /// The budget scales with the region: below FRESH_LISTS_BELOW resources every
    /// resync reads the lists (they never outlive half a resync), whatever the budget,
    /// the resync or the full passes' cadence; from it on, the budget shares them.
    #[test]
    fn few_resources_read_the_lists_at_every_resync() {
        let stingy = Settings {
            resync_reads: 0.5,
            ..Settings::default()
        };
        let short = Settings {
            resync: Duration::from_secs(10),
            full_resync: Duration::from_secs(720),
            ..Settings::default()
        };
        for settings in [Settings::default(), stingy.clone(), short] {
            let freshness = drift_check_freshness(&settings);
            for n in 0..FRESH_LISTS_BELOW {
                let age = freshness.max_age(n);
                assert_eq!(age, (settings.resync / 2).max(Duration::from_secs(1)), "{n} resources");
                // A check one resync after the last load finds the lists too old: it
                // reads them, and sees drift made since.
                assert!(age < settings.resync, "{n} resources: {age:?}");
            }
        }
        // From FRESH_LISTS_BELOW on, the budget decides: a stingy one shares them for
        // longer than a resync (0.1 reads: 300 × 6 / (20 × 0.1) = 900 s).
        let freshness = drift_check_freshness(&stingy);
        assert_eq!(freshness.max_age(FRESH_LISTS_BELOW), Duration::from_secs(900));
        assert_eq!(freshness.max_age(1000), Duration::from_secs(150));
        // Before, a lone resource kept them 57 minutes: no longer.
        assert_eq!(
            drift_check_freshness(&Settings::default()).max_age(1),
            Duration::from_secs(150)
        );
    }

    #[test]
    fn wait_checks_share_the_lists_for_half_a_poll_within_bounds() {
        let max_age = |poll: u64| {
            let settings = Settings {
                poll: Duration::from_secs(poll),
                ..Settings::default()
            };
            wait_check_freshness(&settings).max_age(1).as_secs()
        };
        assert_eq!([max_age(1), max_age(10), max_age(120)], [1, 5, 30]);
    }

    #[test]
    fn waiting_looks_grow_from_poll_to_a_minute() {
        let poll = Duration::from_secs(10);
        let delays: Vec<u64> = (0..30).map(|n| wait_delay(poll, n).as_secs()).collect();
        assert_eq!(delays[..6], [10; 6]);
        assert_eq!(delays[6..12], [20; 6]);
        assert_eq!(delays[12..18], [40; 6]);
        assert_eq!(delays[18..], [60; 12]);
        // A ten-minute wait: 20 looks instead of 60.
        let mut elapsed = Duration::ZERO;
        let looks = (0..).take_while(|n| {
            elapsed += wait_delay(poll, *n);
            elapsed < Duration::from_secs(600)
        });
        assert_eq!(looks.count(), 20);
        // A poll longer than the cap is kept; a short one grows 16-fold at most.
        assert_eq!(wait_delay(Duration::from_secs(90), 30), Duration::from_secs(90));
        assert_eq!(wait_delay(Duration::from_secs(1), 100), Duration::from_secs(16));
    }

    #[test]
    fn failures_back_off_from_two_seconds_to_four_minutes() {
        let mut memory = Memory::default();
        let delays: Vec<u64> = (0..10).map(|_| memory.failed().as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 256, 256]);
        assert_eq!(memory.failures, 10);
        memory.succeeded();
        assert_eq!(memory.failed(), Duration::from_secs(2));
    }

    fn ids() -> ResourceIds {
        ResourceIds {
            rest_api_id: Some("api-1".into()),
            ..ResourceIds::default()
        }
    }

    /// Generation 1, finalized, not being deleted, no status.
    fn fresh(generation: i64) -> Observed<'static> {
        Observed {
            generation: Some(generation),
            deleting: false,
            finalized: true,
            reported: None,
        }
    }

    fn ready(ids: &ResourceIds) -> Observed<'_> {
        Observed {
            reported: Some(Reported {
                ready: true,
                ids,
                waiting_on: BTreeSet::new(),
                parts_ready: true,
            }),
            ..fresh(1)
        }
    }

    fn waiting<'a>(ids: &'a ResourceIds, on: &[&'a str]) -> Observed<'a> {
        Observed {
            reported: Some(Reported {
                ready: false,
                ids,
                waiting_on: on.iter().copied().collect(),
                parts_ready: on.is_empty(),
            }),
            ..fresh(1)
        }
    }

    /// Changes made, every part ready, not Ready yet: the status of an `Applied` pass.
    fn applied(ids: &ResourceIds) -> Observed<'_> {
        Observed {
            reported: Some(Reported {
                ready: false,
                ids,
                waiting_on: BTreeSet::new(),
                parts_ready: true,
            }),
            ..fresh(1)
        }
    }

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn the_status_counts_only_when_of_this_generation() {
        let waitable = ["LoadBalancerReady", "VpcLinkReady", "ServiceReady"];
        let obj: PrivateApi = serde_norway::from_str(&format!(
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: shop, namespace: ns, generation: 2, finalizers: [{FINALIZER}]}}\nspec:\n  network: {{vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}}\n  service: {{image: nginx}}\nstatus:\n  observedGeneration: 2\n  resources: {{restApiId: api-1}}\n  conditions:\n  - {{type: Ready, status: 'False', reason: Waiting, message: '', lastTransitionTime: '2026-01-01T00:00:00Z'}}\n  - {{type: VpcLinkReady, status: 'False', reason: Pending, message: '', lastTransitionTime: '2026-01-01T00:00:00Z'}}\n  - {{type: ServiceReady, status: 'True', reason: Running, message: '', lastTransitionTime: '2026-01-01T00:00:00Z'}}\n  - {{type: RestApiReady, status: 'False', reason: Missing, message: '', lastTransitionTime: '2026-01-01T00:00:00Z'}}\n"
        ))
        .expect("test object");
        let seen = Observed::of(&obj, &waitable);
        assert_eq!(seen.generation, Some(2));
        assert!(seen.finalized && !seen.deleting);
        let reported = seen.reported.expect("status of generation 2");
        assert!(!reported.ready);
        assert_eq!(reported.ids.rest_api_id.as_deref(), Some("api-1"));
        assert_eq!(reported.waiting_on, BTreeSet::from(["VpcLinkReady"]));
        assert!(!reported.parts_ready, "VpcLinkReady and RestApiReady are False");
        // A status of an older generation reports nothing.
        let mut newer = obj.clone();
        newer.metadata.generation = Some(3);
        assert_eq!(Observed::of(&newer, &waitable).reported, None);
        newer.metadata.finalizers = None;
        assert!(!Observed::of(&newer, &waitable).finalized);
    }

    /// Each row: what is remembered, what the object says, the seconds since `t0`;
    /// and the pass it gets.
    #[test]
    fn the_pass_follows_from_memory_and_the_object() {
        let t0 = Instant::now();
        let settings = Settings::default();
        let ids = ids();
        let no_api = ResourceIds::default();
        let scheduled = |generation, deleting, due, waits| Memory {
            next: Some(Next {
                generation: Some(generation),
                deleting,
                due: at(t0, due),
                waits,
                made: Made::Nothing,
            }),
            ..Memory::default()
        };
        let to_confirm = |memory: Memory| Memory {
            next: memory.next.map(|next| Next {
                made: Made::ChangesAllReady,
                ..next
            }),
            ..memory
        };
        let changed = |memory: Memory| Memory {
            next: memory.next.map(|next| Next {
                made: Made::Changes,
                ..next
            }),
            ..memory
        };
        let confirm = |after| {
            Pass::Confirm(ConfirmCheck {
                ids: &ids,
                after: at(t0, after),
            })
        };
        let full_pass = |memory: Memory, generation, secs, checks| Memory {
            last_full_pass: Some(FullPass {
                generation: Some(generation),
                at: at(t0, secs),
            }),
            drift_checks: checks,
            ..memory
        };
        let deleting = Observed {
            deleting: true,
            ..fresh(1)
        };
        let unfinalized = Observed {
            finalized: false,
            ..ready(&ids)
        };
        let hour = 3600;
        let drift = |turn, after| {
            Pass::DriftCheck(DriftCheck {
                ids: &ids,
                turn,
                after: at(t0, after),
            })
        };
        let wait = |after| {
            Pass::WaitCheck(WaitCheck {
                ids: &ids,
                waiting: BTreeSet::from(["VpcLinkReady"]),
                after: at(t0, after),
            })
        };
        #[rustfmt::skip]
        let rows: Vec<(&str, Memory, Observed, u64, Pass)> = vec![
            ("never seen", Memory::default(), fresh(1), 0, Pass::Full),
            ("our own status write comes back", scheduled(1, false, 300, 0), ready(&ids), 100, Pass::NotDue(Duration::from_secs(200))),
            ("due", scheduled(1, false, 300, 0), fresh(1), 300, Pass::Full),
            ("a new generation", scheduled(1, false, 300, 0), fresh(2), 100, Pass::Full),
            ("deletion starts", scheduled(1, false, 300, 0), deleting.clone(), 100, Pass::Teardown),
            ("our own status write during teardown", scheduled(1, true, 5, 0), deleting.clone(), 1, Pass::NotDue(Duration::from_secs(4))),
            ("no finalizer yet", scheduled(1, false, 300, 0), unfinalized, 100, Pass::Full),
            ("Ready after a full pass", full_pass(scheduled(1, false, 300, 0), 1, 0, 0), ready(&ids), 300, drift(0, 0)),
            ("probes in turn", full_pass(scheduled(1, false, 3300, 0), 1, 0, 10), ready(&ids), 3300, drift(10, 0)),
            ("full pass due", full_pass(scheduled(1, false, 6 * hour, 0), 1, 0, 10), ready(&ids), 6 * hour, Pass::Full),
            ("full pass of an older generation", full_pass(scheduled(1, false, 300, 0), 0, 0, 0), ready(&ids), 300, Pass::Full),
            ("never fully passed (restart)", Memory::default(), ready(&ids), 0, Pass::Full),
            ("no REST API in the status", full_pass(Memory::default(), 1, 0, 0), ready(&no_api), 300, Pass::Full),
            ("not Ready", full_pass(Memory::default(), 1, 0, 0), waiting(&ids, &[]), 300, Pass::Full),
            ("waited once", full_pass(scheduled(1, false, 10, 1), 1, 0, 0), waiting(&ids, &["VpcLinkReady"]), 10, wait(0)),
            ("waited, never fully passed", scheduled(1, false, 10, 1), waiting(&ids, &["VpcLinkReady"]), 10, wait(10)),
            ("waited, on nothing AWS works on", scheduled(1, false, 10, 1), waiting(&ids, &[]), 10, Pass::Full),
            ("did not wait", full_pass(scheduled(1, false, 2, 0), 1, 0, 0), waiting(&ids, &["VpcLinkReady"]), 2, Pass::Full),
            ("changes made, waiting on AWS", changed(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), waiting(&ids, &["VpcLinkReady"]), 2, wait(0)),
            ("changes made, waiting on nothing AWS works on", changed(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), waiting(&ids, &[]), 2, Pass::Full),
            ("changes made at an older generation", changed(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), Observed { generation: Some(2), ..waiting(&ids, &["VpcLinkReady"]) }, 2, Pass::Full),
            ("waited at an older generation", scheduled(1, false, 10, 1), Observed { generation: Some(2), ..waiting(&ids, &["VpcLinkReady"]) }, 10, Pass::Full),
            ("changes made, every part ready", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), applied(&ids), 2, confirm(0)),
            ("… its own status write comes back", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), applied(&ids), 1, Pass::NotDue(Duration::from_secs(1))),
            ("… the cache still has the status before", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), waiting(&ids, &["VpcLinkReady"]), 2, Pass::Full),
            ("… a new generation since", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), Observed { generation: Some(2), ..applied(&ids) }, 2, Pass::Full),
            ("… no API in the status", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), applied(&no_api), 2, Pass::Full),
            ("… after a restart", Memory::default(), applied(&ids), 2, Pass::Full),
            ("… being deleted", to_confirm(full_pass(scheduled(1, false, 2, 0), 1, 0, 0)), Observed { deleting: true, ..applied(&ids) }, 2, Pass::Teardown),
        ];
        for (name, memory, obj, now, pass) in rows {
            assert_eq!(memory.next_pass(&obj, &settings, at(t0, now)), pass, "{name}");
        }
        // Full passes at every resync: never a drift check.
        let every_time = Settings {
            full_resync: settings.resync,
            ..Settings::default()
        };
        let memory = full_pass(scheduled(1, false, 300, 0), 1, 0, 0);
        assert_eq!(memory.next_pass(&ready(&ids), &every_time, at(t0, 300)), Pass::Full);
    }

    /// Each row: the outcome, and how long until the next look.
    #[test]
    fn each_outcome_has_its_delay() {
        let settings = Settings::default();
        let secs = Duration::from_secs;
        let rows = [
            (Outcome::Ready, secs(300)),
            (Outcome::Changed, secs(2)),
            (Outcome::Applied, secs(2)),
            (Outcome::Waiting, secs(10)),
            (Outcome::NotYet(None), secs(10)),
            (Outcome::NotYet(Some(secs(42))), secs(42)),
            (Outcome::TeardownPending(None), secs(5)),
            (Outcome::TeardownPending(Some(secs(1))), secs(1)),
            (Outcome::Stalled, secs(300)),
        ];
        let t0 = Instant::now();
        for (outcome, after) in rows {
            let mut memory = Memory::default();
            assert_eq!(memory.record(&fresh(1), outcome, &settings, t0), after, "{outcome:?}");
            let next = memory.next.expect("scheduled");
            assert_eq!((next.due, next.generation), (t0 + after, Some(1)), "{outcome:?}");
            // Only an Applied pass is confirmed by a check.
            assert_eq!(
                next.made == Made::ChangesAllReady,
                outcome == Outcome::Applied,
                "{outcome:?}"
            );
            assert_eq!(next.made == Made::Changes, outcome == Outcome::Changed, "{outcome:?}");
        }
        // A poll shorter than 5 s is kept while tearing down.
        let quick = Settings {
            poll: secs(2),
            ..Settings::default()
        };
        let mut memory = Memory::default();
        assert_eq!(
            memory.record(&fresh(1), Outcome::TeardownPending(None), &quick, t0),
            secs(2)
        );
    }

    #[test]
    fn waits_are_counted_per_generation_and_reset_by_anything_else() {
        let settings = Settings::default();
        let t0 = Instant::now();
        let mut memory = Memory::default();
        let mut obj = fresh(1);
        let wait = |memory: &mut Memory, obj: &Observed| memory.record(obj, Outcome::Waiting, &settings, t0);
        for _ in 0..7 {
            wait(&mut memory, &obj);
        }
        let next = memory.next.expect("scheduled");
        assert_eq!(next.waits, 7);
        assert!(next.due - t0 > Duration::from_secs(15), "the 7th look waits 20 s");
        // A change (or Ready, or an error) starts over.
        memory.record(&obj, Outcome::NotYet(Some(Duration::from_secs(2))), &settings, t0);
        assert_eq!(memory.next.map(|n| n.waits), Some(0));
        assert_eq!(memory.waits(&obj), 0);
        for _ in 0..7 {
            wait(&mut memory, &obj);
        }
        // So does a new generation.
        obj.generation = Some(2);
        assert_eq!(memory.waits(&obj), 0);
        wait(&mut memory, &obj);
        let next = memory.next.expect("scheduled");
        assert_eq!(next.waits, 1);
        assert!(next.due - t0 <= Duration::from_secs(10));
        // And deletion.
        let deleting = Observed {
            deleting: true,
            ..obj.clone()
        };
        assert_eq!(memory.waits(&deleting), 1, "counted while not deleting");
        wait(&mut memory, &deleting);
        assert_eq!(memory.waits(&deleting), 0, "not counted once deleting");
    }

    #[test]
    fn drift_checks_go_on_in_turn_across_full_passes() {
        let t0 = Instant::now();
        let mut memory = Memory::default();
        memory.full_pass_done(Some(1), t0);
        memory.drift_check_done();
        memory.drift_check_done();
        memory.full_pass_done(Some(1), at(t0, 3600));
        assert_eq!(memory.drift_checks, 2);
        assert_eq!(memory.last_full_pass.map(|p| p.at), Some(at(t0, 3600)));
        // The turn wraps rather than overflowing.
        memory.drift_checks = u32::MAX;
        memory.drift_check_done();
        assert_eq!(memory.drift_checks, 0);
    }
}
