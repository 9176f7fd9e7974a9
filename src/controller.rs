//! The Kubernetes controller: a kube-runtime `Controller` over `PrivateApi`, the
//! finalizer helper for ordered cleanup, status by server-side apply, Events, and
//! per-object backoff.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Resource, ResourceExt};
use rand::Rng;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::aws::inventory::{Freshness, InventoryCache};
use crate::aws::{AwsFactory, Owner};
use crate::crd::{DeletionPolicy, FINALIZER, PrivateApi, PrivateApiStatus, ResourceIds};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::reconcile::drift::{self, Finding, Probe};
use crate::reconcile::{self, Mode};
use crate::status::{self, Verdict};
use crate::sync::lock;

pub const FIELD_MANAGER: &str = "privateapi-operator";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

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
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Requeue while AWS is provisioning (longer after the first minute: see
    /// [`wait_delay`]).
    pub poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace: None,
            selector: None,
            resync: Duration::from_secs(300),
            full_resync: Duration::from_secs(6 * 3600),
            resync_reads: 2.0,
            concurrency: 8,
            poll: Duration::from_secs(10),
        }
    }
}

/// When an object was last looked at, and when it is next due.
#[derive(Clone, Copy, Debug)]
struct Checked {
    generation: Option<i64>,
    deleting: bool,
    due: Instant,
    /// Passes in a row at this generation that only waited on AWS.
    waits: u32,
}

/// Parts whose readiness AWS works on by itself, and a wait check can follow.
const WAITABLE: [&str; 3] = [
    reconcile::converge::LOAD_BALANCER,
    reconcile::converge::VPC_LINK,
    reconcile::converge::SERVICE,
];

/// The longest wait between looks at a resource waiting on AWS.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Looks at each wait length before it doubles.
const WAITS_PER_STEP: u32 = 6;

/// How long to leave a resource that is waiting on AWS (an ALB provisioning, a VPC
/// link PENDING, tasks starting) after `waited` such passes in a row: `poll` for the
/// first six, then twice as long every six passes, up to a minute or 16 × `poll`,
/// whichever is less (a `poll` above a minute is kept). A VPC link takes up to ten
/// minutes; each look costs AWS reads (a wait check: a share of the region
/// inventory and one `DescribeServices`; a full pass: about 19, 6 of them to API
/// Gateway, whose account quota the whole account shares).
pub fn wait_delay(poll: Duration, waited: u32) -> Duration {
    let factor = 1u32 << (waited / WAITS_PER_STEP).min(4);
    (poll * factor).min(MAX_WAIT.max(poll))
}

/// Reads of a full pass over one resource (19, measured by `make bench`).
const FULL_PASS_READS: f64 = 19.0;
/// Reads of one drift-check probe, averaged over a default stack's six (one each,
/// two for the execution role's policies).
const PROBE_READS: f64 = 7.0 / 6.0;
/// The least share of a resync left to the region lists, whatever the budget says.
const MIN_LIST_READS: f64 = 0.1;

/// What the region lists may cost a Ready resource per resync: the budget
/// (`resync_reads`) less a probe and the full passes' share. The inventory cache
/// turns it into how long the lists are shared (see `Freshness`): with the defaults
/// (2 reads, a resync every 5 min, a full pass every 6 h) 0.57 reads, so a lone
/// resource re-reads the lists every 44 minutes, ten share them every 4.4 minutes and
/// a hundred every 2.5 (twice a resync, the most often they are read).
pub fn list_reads_per_resync(settings: &Settings) -> f64 {
    let full_passes = if settings.full_resync > settings.resync {
        settings.resync.as_secs_f64() / settings.full_resync.as_secs_f64()
    } else {
        1.0
    };
    (settings.resync_reads - PROBE_READS - FULL_PASS_READS * full_passes).max(MIN_LIST_READS)
}

/// How long the drift checks of Ready resources share a region's lists.
pub fn drift_check_freshness(settings: &Settings) -> Freshness {
    Freshness::Shared {
        // With many resources: lists twice a resync, so that drift the inventory
        // shows is seen within one and a half resyncs.
        at_least: (settings.resync / 2).max(Duration::from_secs(1)),
        resync: settings.resync,
        reads_per_resync: list_reads_per_resync(settings),
    }
}

/// When an object's last full pass ran, at which generation, and how many drift
/// checks the object has had (they take the probes in turn).
#[derive(Clone, Copy, Debug)]
struct FullPass {
    generation: Option<i64>,
    at: Instant,
    checks: u32,
}

/// What a drift check of an object needs from its last full pass.
struct DriftCheck<'a> {
    ids: &'a ResourceIds,
    after: Instant,
    turn: u32,
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub client: Client,
    pub aws: Arc<AwsFactory>,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    recorder: Recorder,
    events_available: AtomicBool,
    /// Per object: consecutive failures, for backoff (kube's error_policy never
    /// hears about successes, so the count lives here).
    failures: Mutex<HashMap<String, u32>>,
    /// Per object: the generation last checked and when the next check is due;
    /// watch events caused by our own status writes are answered from here.
    schedule: Mutex<HashMap<String, Checked>>,
    /// Per object: its last full pass.
    last_full_pass: Mutex<HashMap<String, FullPass>>,
    /// Region inventories shared by the drift checks of Ready resources.
    inventories: InventoryCache,
    /// Fresher ones for the checks of resources waiting on AWS.
    wait_inventories: InventoryCache,
}

impl Context {
    pub fn new(client: Client, aws: Arc<AwsFactory>, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            aws,
            metrics,
            events_available: AtomicBool::new(true),
            failures: Mutex::default(),
            schedule: Mutex::default(),
            last_full_pass: Mutex::default(),
            inventories: InventoryCache::new(drift_check_freshness(&settings)),
            wait_inventories: InventoryCache::new(Freshness::Fixed(
                (settings.poll / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)),
            )),
            settings,
        }
    }

    /// What to drift-check (the IDs, the probe's turn, how fresh the inventory must
    /// be), when a drift check will do instead of a full pass: the object is Ready at
    /// this generation, and its last full pass, at this generation, is recent enough.
    fn drift_check_of<'a>(&self, obj: &'a PrivateApi) -> Option<DriftCheck<'a>> {
        if self.settings.full_resync <= self.settings.resync {
            return None;
        }
        let generation = obj.metadata.generation;
        let status = obj.status.as_ref().filter(|s| {
            s.observed_generation == generation && status::is_ready(Some(s)) && s.resources.rest_api_id.is_some()
        })?;
        let last = lock(&self.last_full_pass);
        let pass = last.get(&Self::key(obj))?;
        (pass.generation == generation && pass.at.elapsed() < self.settings.full_resync).then_some(DriftCheck {
            ids: &status.resources,
            after: pass.at,
            turn: pass.checks,
        })
    }

    /// A drift check of the object found nothing: the next one takes the next probe.
    fn drift_check_done(&self, obj: &PrivateApi) {
        let mut last = lock(&self.last_full_pass);
        if let Some(pass) = last.get_mut(&Self::key(obj)) {
            pass.checks = pass.checks.wrapping_add(1);
        }
    }

    /// When the object's last full pass ran (its inventory must be newer).
    fn last_full_pass_at(&self, obj: &PrivateApi) -> Option<Instant> {
        let last = lock(&self.last_full_pass);
        last.get(&Self::key(obj)).map(|pass| pass.at)
    }

    /// The IDs to check, and the parts waited on, when a check will do instead of a
    /// full pass: the object's last pass, at this generation, changed nothing and only
    /// waited on AWS (see `schedule_wait`), and its status says on which parts.
    fn waiting_on<'a>(&self, obj: &'a PrivateApi) -> Option<(&'a ResourceIds, BTreeSet<&'a str>)> {
        let generation = obj.metadata.generation;
        let waited = self.waits(obj) > 0;
        let status = obj
            .status
            .as_ref()
            .filter(|s| waited && s.observed_generation == generation)?;
        let waiting: BTreeSet<&str> = status
            .conditions
            .iter()
            .filter(|c| c.status == "False" && WAITABLE.contains(&c.type_.as_str()))
            .map(|c| c.type_.as_str())
            .collect();
        (!waiting.is_empty()).then_some((&status.resources, waiting))
    }

    fn full_pass_done(&self, obj: &PrivateApi) {
        let mut last = lock(&self.last_full_pass);
        let key = Self::key(obj);
        // The probes go on in turn across full passes: frequent full passes must not
        // keep the later probes from ever being taken.
        let checks = last.get(&key).map_or(0, |pass| pass.checks);
        let pass = FullPass {
            generation: obj.metadata.generation,
            at: Instant::now(),
            checks,
        };
        last.insert(key, pass);
    }

    async fn publish(&self, obj: &PrivateApi, type_: EventType, reason: &str, action: &str, note: String) {
        if !self.events_available.load(Ordering::Relaxed) {
            return;
        }
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(truncate(note, 1000)),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            let missing = matches!(&e, kube::Error::Api(s) if s.code == 404);
            if missing {
                // API servers without the events API (e.g. a bare apiextensions-apiserver).
                self.events_available.store(false, Ordering::Relaxed);
                warn!("the API server serves no Events API; events are only logged from now on");
            } else {
                warn!(error = %e, "could not publish event");
            }
        }
    }

    async fn patch_status(&self, obj: &PrivateApi, status: PrivateApiStatus) -> Result<()> {
        if obj
            .status
            .as_ref()
            .is_some_and(|s| status::same_ignoring_time(s, &status))
        {
            return Ok(());
        }
        let api: Api<PrivateApi> = Api::namespaced(self.client.clone(), &obj.namespace().unwrap_or_default());
        let patch = serde_json::json!({
            "apiVersion": "privateapi.io/v1alpha1",
            "kind": "PrivateApi",
            "status": status,
        });
        api.patch_status(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        Ok(())
    }

    fn key(obj: &PrivateApi) -> String {
        format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
    }

    fn schedule_next(&self, obj: &PrivateApi, after: Duration) -> Action {
        self.schedule_at(obj, after, 0)
    }

    /// Passes in a row that only waited on AWS, at the object's generation.
    fn waits(&self, obj: &PrivateApi) -> u32 {
        let schedule = lock(&self.schedule);
        schedule
            .get(&Self::key(obj))
            .filter(|c| c.generation == obj.metadata.generation && !c.deleting)
            .map_or(0, |c| c.waits)
    }

    /// After a pass that only waited on AWS: look again after [`wait_delay`].
    fn schedule_wait(&self, obj: &PrivateApi) -> Action {
        let waited = self.waits(obj);
        self.schedule_at(obj, wait_delay(self.settings.poll, waited), waited.saturating_add(1))
    }

    fn schedule_at(&self, obj: &PrivateApi, after: Duration, waits: u32) -> Action {
        let mut schedule = lock(&self.schedule);
        let checked = Checked {
            generation: obj.metadata.generation,
            deleting: obj.metadata.deletion_timestamp.is_some(),
            due: Instant::now() + after,
            waits,
        };
        schedule.insert(Self::key(obj), checked);
        Action::requeue(after)
    }

    /// Time left before the next check, if this event changes nothing we act on:
    /// same generation, same side of deletion, finalizer in place (our own status
    /// writes and finalizer patches come back as watch events).
    fn not_due(&self, obj: &PrivateApi) -> Option<Duration> {
        if !obj.finalizers().iter().any(|f| f == FINALIZER) {
            return None;
        }
        let schedule = lock(&self.schedule);
        let checked = schedule.get(&Self::key(obj))?;
        let now = Instant::now();
        let same = checked.generation == obj.metadata.generation
            && checked.deleting == obj.metadata.deletion_timestamp.is_some();
        (same && checked.due > now).then(|| checked.due - now)
    }

    fn forget(&self, obj: &PrivateApi) {
        let key = Self::key(obj);
        self.metrics.set_condition(&key, None);
        lock(&self.schedule).remove(&key);
        lock(&self.failures).remove(&key);
        lock(&self.last_full_pass).remove(&key);
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn owner_of(obj: &PrivateApi) -> Result<Owner> {
    Ok(Owner::new(
        obj.namespace().ok_or(Error::MissingObjectKey("metadata.namespace"))?,
        obj.name_any(),
        obj.uid().ok_or(Error::MissingObjectKey("metadata.uid"))?,
    ))
}

async fn reconcile(obj: Arc<PrivateApi>, ctx: Arc<Context>) -> Result<Action> {
    let span = info_span!("reconcile", namespace = %obj.namespace().unwrap_or_default(), privateapi = %obj.name_any());
    let started = std::time::Instant::now();
    let metrics = ctx.metrics.clone();
    let result = reconcile_inner(obj, ctx).instrument(span).await;
    let label = result.as_ref().err().filter(|e| !e.is_wait()).map(|e| e.metric_label());
    metrics.observe_reconcile(started.elapsed(), label.as_deref());
    result
}

async fn reconcile_inner(obj: Arc<PrivateApi>, ctx: Arc<Context>) -> Result<Action> {
    if let Some(left) = ctx.not_due(&obj) {
        return Ok(Action::requeue(left));
    }
    let ns = obj.namespace().ok_or(Error::MissingObjectKey("metadata.namespace"))?;
    let api: Api<PrivateApi> = Api::namespaced(ctx.client.clone(), &ns);
    let key = Context::key(&obj);
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(obj, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup(obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        lock(&ctx.failures).remove(&key);
    }
    result
}

async fn apply(obj: Arc<PrivateApi>, ctx: &Context) -> Result<Action> {
    let owner = owner_of(&obj)?;
    let was_ready = status::is_ready(obj.status.as_ref());
    if let Some(check) = ctx.drift_check_of(&obj) {
        let probe = drift::probe(&obj.spec, check.turn);
        let inventories = (&ctx.inventories, check.after);
        // Boxed, like the passes below: their futures are large, worker stacks are not.
        match Box::pin(drift_check(&obj, &owner, check.ids, ctx, inventories, probe)).await {
            Ok(findings) if findings.is_empty() => {
                ctx.drift_check_done(&obj);
                ctx.metrics.observe_resync("drift_check");
                return Ok(ctx.schedule_next(&obj, ctx.settings.resync));
            }
            Ok(findings) => info!(drift = %summary(&findings), "drift found: full pass"),
            Err(error) => info!(error = %error, "drift check failed: full pass"),
        }
    } else if let Some((ids, waiting)) = ctx.waiting_on(&obj) {
        // Only waiting on AWS: the same check says whether anything moved (the
        // service's probe: tasks starting are among what it waits on).
        let after = ctx.last_full_pass_at(&obj).unwrap_or_else(Instant::now);
        let inventories = (&ctx.wait_inventories, after);
        match Box::pin(drift_check(&obj, &owner, ids, ctx, inventories, Probe::Service)).await {
            Ok(findings) if drift::still_waiting(&findings, &waiting) => {
                ctx.metrics.observe_resync("wait_check");
                debug!(waiting = %summary(&findings), "still waiting");
                return Ok(ctx.schedule_wait(&obj));
            }
            Ok(findings) if findings.is_empty() => info!("wait over: full pass"),
            Ok(findings) => info!(found = %summary(&findings), "wait check: full pass"),
            Err(error) => info!(error = %error, "wait check failed: full pass"),
        }
    }
    let result = async {
        let aws = ctx.aws.for_region(obj.spec.region.as_deref())?;
        Box::pin(reconcile::converge(&aws, &owner, &obj.spec, Mode::Apply)).await
    }
    .await;
    if result.is_ok() {
        ctx.full_pass_done(&obj);
        if was_ready {
            ctx.metrics.observe_resync("full");
        }
    }
    let generation = obj.metadata.generation;
    match result {
        Ok(outcome) => {
            let verdict = Verdict::of(&outcome);
            ctx.metrics
                .set_condition(&Context::key(&obj), Some(verdict.condition()));
            let next = status::next_status(obj.status.as_ref(), generation, Some(&outcome), &verdict);
            ctx.patch_status(&obj, next).await?;
            if !outcome.changes.is_empty() {
                let note = reconcile::summary(&outcome.changes, "\n");
                ctx.publish(&obj, EventType::Normal, "Applied", "Reconcile", note).await;
            }
            let after = match &verdict {
                Verdict::Ready => {
                    if !was_ready {
                        let note = format!("serving at {}", outcome.endpoint.clone().unwrap_or_default());
                        ctx.publish(&obj, EventType::Normal, "Ready", "Reconcile", note).await;
                        info!(endpoint = outcome.endpoint.as_deref().unwrap_or_default(), "ready");
                    }
                    ctx.settings.resync
                }
                // Just changed something: look again soon to confirm it took.
                _ if !outcome.changes.is_empty() => Duration::from_secs(2),
                _ => return Ok(ctx.schedule_wait(&obj)),
            };
            Ok(ctx.schedule_next(&obj, after))
        }
        Err(error) => {
            let verdict = Verdict::of_error(&error, "");
            ctx.metrics
                .set_condition(&Context::key(&obj), Some(verdict.condition()));
            let next = status::next_status(obj.status.as_ref(), generation, None, &verdict);
            let changed = obj
                .status
                .as_ref()
                .is_none_or(|s| !status::same_ignoring_time(s, &next));
            ctx.patch_status(&obj, next).await?;
            if error.is_terminal() {
                warn!(error = %error, "stalled");
                if changed {
                    ctx.publish(&obj, EventType::Warning, error.reason(), "Reconcile", error.to_string())
                        .await;
                }
                // Retry slowly: an admin may fix the account (quota, permissions) without touching the spec.
                Ok(ctx.schedule_next(&obj, Duration::from_secs(300)))
            } else if error.is_wait() {
                info!(error = %error, retry_in = ?error.retry_after(), "waiting on AWS");
                Ok(ctx.schedule_next(&obj, error.retry_after().unwrap_or(ctx.settings.poll)))
            } else {
                Err(error)
            }
        }
    }
}

/// The drift check against the region's inventory: `inventories` decides how fresh,
/// and it is taken after the given time (the object's last full pass).
async fn drift_check(
    obj: &PrivateApi,
    owner: &Owner,
    ids: &ResourceIds,
    ctx: &Context,
    (inventories, after): (&InventoryCache, Instant),
    probe: Probe,
) -> Result<Vec<Finding>> {
    let aws = ctx.aws.for_region(obj.spec.region.as_deref())?;
    let inventory = inventories.get(&aws, &owner.uid, after).await?;
    Ok(reconcile::drift::check(&aws, &inventory, owner, &obj.spec, ids, probe).await?)
}

fn summary(findings: &[Finding]) -> String {
    findings.iter().map(Finding::to_string).collect::<Vec<_>>().join("; ")
}

async fn cleanup(obj: Arc<PrivateApi>, ctx: &Context) -> Result<Action> {
    if obj.spec.deletion_policy == DeletionPolicy::Retain {
        ctx.publish(
            &obj,
            EventType::Normal,
            "Retained",
            "Delete",
            "deletionPolicy Retain: AWS resources kept".into(),
        )
        .await;
        ctx.forget(&obj);
        return Ok(Action::await_change());
    }
    ctx.metrics.set_condition(&Context::key(&obj), Some("Deleting"));
    let owner = owner_of(&obj)?;
    let aws = ctx.aws.for_region(obj.spec.region.as_deref())?;
    let outcome = Box::pin(reconcile::teardown(&aws, &owner, &obj.spec, Mode::Apply)).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(error) => {
            let verdict = Verdict::of_error(&error, "deleting");
            let next = status::next_status(obj.status.as_ref(), obj.metadata.generation, None, &verdict);
            ctx.patch_status(&obj, next).await?;
            return Err(error);
        }
    };
    if !outcome.changes.is_empty() {
        let note = reconcile::summary(&outcome.changes, "\n");
        ctx.publish(&obj, EventType::Normal, "Deleting", "Delete", note).await;
    }
    if outcome.is_done() {
        info!("all AWS resources deleted");
        ctx.publish(
            &obj,
            EventType::Normal,
            "Deleted",
            "Delete",
            "all AWS resources deleted".into(),
        )
        .await;
        ctx.forget(&obj);
        return Ok(Action::await_change());
    }
    let message = format!("waiting for {}", outcome.waiting_for.join(", "));
    let verdict = Verdict::Reconciling {
        reason: "Deleting".into(),
        message: message.clone(),
    };
    let next = status::next_status(obj.status.as_ref(), obj.metadata.generation, None, &verdict);
    ctx.patch_status(&obj, next).await?;
    // An error keeps the finalizer on; error_policy requeues soon without counting a failure.
    // Something was deleted: the next layer can usually go soon. Otherwise AWS is
    // still releasing something (ENIs, a draining service): poll.
    let retry_after = match outcome.changes.is_empty() {
        true => ctx.settings.poll.min(Duration::from_secs(5)),
        false => Duration::from_secs(1),
    };
    Err(Error::DeletionPending { message, retry_after })
}

fn error_policy(obj: Arc<PrivateApi>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = Context::key(&obj);
    if error.is_wait() {
        let soon = ctx.settings.poll.min(Duration::from_secs(5));
        if let Some(retry_in) = error.retry_after() {
            info!(object = %key, error = %error, ?retry_in, "waiting on AWS");
        }
        // Deletion waits here (a pending teardown is an error, to keep the finalizer):
        // remembered, so that the watch events of its own status writes do not wake it.
        return ctx.schedule_next(&obj, error.retry_after().unwrap_or(soon));
    }
    if error.is_terminal() {
        warn!(object = %key, error = %error, "reconcile failed (needs attention)");
        return Action::requeue(Duration::from_secs(300));
    }
    let attempts = {
        let mut failures = lock(&ctx.failures);
        let n = failures.entry(key.clone()).or_default();
        *n = n.saturating_add(1);
        *n
    };
    let base = Duration::from_secs(1u64 << attempts.min(8)).min(Duration::from_secs(300));
    let jitter = Duration::from_millis(rand::rng().random_range(0..=base.as_millis() as u64 / 2));
    warn!(object = %key, error = %error, attempts, retry_in = ?(base + jitter), "reconcile failed, will retry");
    Action::requeue(base + jitter)
}

/// Runs the controller until SIGTERM / Ctrl-C.
pub async fn run(client: Client, aws: Arc<AwsFactory>, metrics: Arc<Metrics>, settings: Settings) -> Result<()> {
    let api: Api<PrivateApi> = match &settings.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    // Fail fast, with a useful message, when the CRD is not installed.
    if let Err(e) = api.list(&ListParams::default().limit(1)).await {
        return Err(Error::Input {
            path: "privateapis.privateapi.io".into(),
            message: format!(
                "cannot list PrivateApi objects ({e}); is the CRD installed? (`privateapi crd | kubectl apply -f -`)"
            ),
        });
    }
    let mut watch = watcher::Config::default();
    if let Some(selector) = &settings.selector {
        watch = watch.labels(selector);
    }
    let concurrency = settings.concurrency;
    metrics.set_ready(true);
    let ctx = Arc::new(Context::new(client, aws, metrics, settings));
    info!(concurrency, "controller started");
    // The cache keeps what reconciles read: not the field-ownership bookkeeping nor
    // kubectl's copy of the last applied manifest, which together outweigh the object.
    let (reader, writer) = reflector::store();
    let objects = watcher(api, watch)
        .default_backoff()
        .modify(|obj: &mut PrivateApi| {
            obj.managed_fields_mut().clear();
            obj.annotations_mut().remove(LAST_APPLIED);
        })
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(objects, reader)
        .with_config(controller::Config::default().concurrency(concurrency))
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "reconcile result");
            }
        })
        .await;
    info!("controller stopped");
    Ok(())
}

/// Controller behaviour against a mock API server (tower-test): each scenario
/// lists the exact Kubernetes requests the reconcile must make, in order, and a
/// 1-second timeout catches requests it should not make. None of them reaches AWS.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_get_what_the_read_budget_leaves() {
        let defaults = Settings::default();
        // 2 − 7/6 (a probe) − 19 × 300 / 21600 (the full passes' share).
        let share = list_reads_per_resync(&defaults);
        assert!((share - 0.5695).abs() < 1e-3, "{share}");
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
    use http::{Method, Request, Response};
    use kube::client::Body;
    use tower_test::mock::{self, Handle};

    type ApiServer = Handle<Request<Body>, Response<Body>>;

    fn object(extra: &str) -> PrivateApi {
        serde_yaml::from_str(&format!(
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: shop, namespace: ns, uid: u-1, generation: 1{extra}}}\nspec:\n  network: {{vpcId: vpc-1, subnetIds: [subnet-a, subnet-b]}}\n  service: {{image: nginx}}\n"
        ))
        .expect("test object")
    }

    async fn context() -> (Arc<Context>, ApiServer) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(service, "default");
        // An AWS endpoint nothing listens on: any AWS call would fail the scenario.
        let config = aws_config::SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let aws = Arc::new(AwsFactory::new(config, crate::aws::Pacer::off()));
        let metrics = Arc::new(Metrics::new(aws.stats()));
        (
            Arc::new(Context::new(client, aws, metrics, Settings::default())),
            handle,
        )
    }

    async fn expect(
        server: &mut ApiServer,
        method: Method,
        path: &str,
    ) -> (serde_json::Value, String, mock::SendResponse<Response<Body>>) {
        let (request, respond) = tokio::time::timeout(Duration::from_secs(1), server.next_request())
            .await
            .unwrap_or_else(|_| panic!("no {method} {path} within 1 s"))
            .expect("service not called");
        assert_eq!(request.method(), method);
        let uri = request.uri().to_string();
        assert!(uri.starts_with(path), "{uri} does not start with {path}");
        let body = request.into_body().collect_bytes().await.expect("body");
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (json, uri, respond)
    }

    fn reply(respond: mock::SendResponse<Response<Body>>, obj: &PrivateApi) {
        let body = serde_json::to_vec(obj).expect("serialize");
        respond.send_response(Response::builder().body(Body::from(body)).expect("response"));
    }

    async fn no_more_requests(server: &mut ApiServer) {
        let next = tokio::time::timeout(Duration::from_millis(200), server.next_request()).await;
        // Timed out, or the client is gone: either way nothing more was asked.
        if let Ok(Some((request, _))) = next {
            panic!("unexpected request: {} {}", request.method(), request.uri());
        }
    }

    const PATH: &str = "/apis/privateapi.io/v1alpha1/namespaces/ns/privateapis/shop";

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

    #[tokio::test]
    async fn waits_are_counted_per_generation_and_reset_by_anything_else() {
        let (ctx, _server) = context().await;
        let mut obj = object("");
        let waits = |ctx: &Context, obj: &PrivateApi| {
            let schedule = lock(&ctx.schedule);
            schedule
                .get(&Context::key(obj))
                .map(|c| (c.waits, c.due - Instant::now()))
        };
        for _ in 0..7 {
            let _ = ctx.schedule_wait(&obj);
        }
        let (count, due) = waits(&ctx, &obj).expect("scheduled");
        assert_eq!(count, 7);
        assert!(due > Duration::from_secs(15), "the 7th look waits 20 s: {due:?}");
        // A change (or Ready, or an error) starts over.
        let _ = ctx.schedule_next(&obj, Duration::from_secs(2));
        assert_eq!(waits(&ctx, &obj).map(|w| w.0), Some(0));
        for _ in 0..7 {
            let _ = ctx.schedule_wait(&obj);
        }
        // So does a new generation.
        obj.metadata.generation = Some(2);
        let _ = ctx.schedule_wait(&obj);
        let (count, due) = waits(&ctx, &obj).expect("scheduled");
        assert_eq!(count, 1);
        assert!(due <= Duration::from_secs(10), "{due:?}");
    }

    #[tokio::test]
    async fn finalizer_is_added_before_anything_else() {
        let (ctx, mut server) = context().await;
        let obj = object("");
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx));
        let (patch, _, respond) = expect(&mut server, Method::PATCH, PATH).await;
        assert!(
            patch.to_string().contains(FINALIZER),
            "JSON patch adds the finalizer: {patch}"
        );
        reply(respond, &obj);
        let action = task.await.expect("join").expect("reconcile");
        assert_eq!(action, Action::await_change());
        no_more_requests(&mut server).await;
    }

    #[tokio::test]
    async fn invalid_spec_is_stalled_by_server_side_apply_of_status() {
        let (ctx, mut server) = context().await;
        let mut obj = object(", finalizers: [privateapi.io/cleanup]");
        obj.spec.service.memory = 8192; // not a Fargate size for 256 CPU
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx));
        let (patch, uri, respond) = expect(&mut server, Method::PATCH, &format!("{PATH}/status")).await;
        assert!(
            uri.contains("fieldManager=privateapi-operator") && uri.contains("force=true"),
            "{uri}"
        );
        let stalled = patch["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(stalled["status"], "True", "{patch}");
        assert_eq!(stalled["reason"], "InvalidSpec");
        assert_eq!(patch["status"]["observedGeneration"], 1);
        reply(respond, &obj);
        // Then a Warning event; this API server has no events API (404), which is fine.
        let (_, uri, respond) = expect(&mut server, Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events").await;
        assert!(uri.contains("events"), "{uri}");
        respond.send_response(
            Response::builder()
                .status(404)
                .body(Body::from(b"{}".to_vec()))
                .expect("404"),
        );
        let action = task
            .await
            .expect("join")
            .expect("terminal errors are handled, not retried hot");
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    }

    #[tokio::test]
    async fn retain_lets_go_without_touching_aws() {
        let (ctx, mut server) = context().await;
        let obj = object(", finalizers: [privateapi.io/cleanup], deletionTimestamp: '2026-11-25T10:00:00Z'");
        let mut obj = obj;
        obj.spec.deletion_policy = DeletionPolicy::Retain;
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));
        // The Retained event (404 here: no events API), then the finalizer removal.
        let mut saw_finalizer_patch = false;
        for _ in 0..3 {
            let Ok(Some((request, respond))) =
                tokio::time::timeout(Duration::from_secs(1), server.next_request()).await
            else {
                break;
            };
            if request.uri().path() == PATH && request.method() == Method::PATCH {
                saw_finalizer_patch = true;
                let mut released = obj.clone();
                released.metadata.finalizers = None;
                reply(respond, &released);
                break;
            }
            respond.send_response(
                Response::builder()
                    .status(404)
                    .body(Body::from(b"{}".to_vec()))
                    .expect("404"),
            );
        }
        assert!(saw_finalizer_patch, "finalizer removed");
        let action = task.await.expect("join").expect("reconcile");
        assert_eq!(action, Action::await_change());
        assert_eq!(ctx.aws.stats().snapshot().total(), 0, "no AWS call");
    }

    #[tokio::test]
    async fn own_status_write_does_not_trigger_aws_work() {
        let (ctx, mut server) = context().await;
        let obj = object(", finalizers: [privateapi.io/cleanup]");
        ctx.schedule_next(&obj, Duration::from_secs(60));
        let action = reconcile(Arc::new(obj), ctx.clone()).await.expect("reconcile");
        assert!(action != Action::await_change(), "still scheduled for its next check");
        assert_eq!(ctx.aws.stats().snapshot().total(), 0, "no AWS call");
        no_more_requests(&mut server).await;
    }
}
