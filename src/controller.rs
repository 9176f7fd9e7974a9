//! The Kubernetes controller: a kube-runtime `Controller` over `PrivateApi`, the
//! finalizer helper for ordered cleanup, status by server-side apply, Events, and
//! per-object memory for the scheduling policy (see [`crate::schedule`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Resource, ResourceExt};
use rand::Rng;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::aws::inventory::InventoryCache;
use crate::aws::{AwsFactory, Owner};
use crate::crd::{DeletionPolicy, FINALIZER, PrivateApi, PrivateApiStatus, ResourceIds};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::reconcile::drift::{self, Finding, Probe};
use crate::reconcile::{self, History, Mode};
use crate::schedule::{Memory, Observed, Outcome, Pass, STALLED_RETRY};
// Still reachable from here, where `main` and the bench look for them.
pub use crate::schedule::{Settings, drift_check_freshness, list_reads_per_resync, wait_delay};
use crate::status::{self, Verdict};
use crate::sync::lock;

pub const FIELD_MANAGER: &str = "privateapi-operator";

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Parts whose readiness AWS works on by itself, and a wait check can follow.
const WAITABLE: [&str; 3] = [
    drift::WAITABLE[0].as_str(),
    drift::WAITABLE[1].as_str(),
    drift::WAITABLE[2].as_str(),
];

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub client: Client,
    pub aws: Arc<AwsFactory>,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    recorder: Recorder,
    events_available: AtomicBool,
    /// Per object (namespace/name): what the scheduling policy remembers of it.
    memory: Mutex<HashMap<String, Memory>>,
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
            memory: Mutex::default(),
            inventories: InventoryCache::new(drift_check_freshness(&settings)),
            wait_inventories: InventoryCache::new(crate::schedule::wait_check_freshness(&settings)),
            settings,
        }
    }

    /// The pass the policy gives the object now.
    fn next_pass<'a>(&self, obj: &'a PrivateApi) -> Pass<'a> {
        let memory = lock(&self.memory).get(&Self::key(obj)).copied().unwrap_or_default();
        memory.next_pass(&Observed::of(obj, &WAITABLE), &self.settings, Instant::now())
    }

    /// Changes what is remembered of the object (from nothing, if nothing is).
    fn remember<T>(&self, obj: &PrivateApi, change: impl FnOnce(&mut Memory) -> T) -> T {
        change(lock(&self.memory).entry(Self::key(obj)).or_default())
    }

    /// Records how a pass ended: the Action says when to look again.
    fn record(&self, obj: &PrivateApi, outcome: Outcome) -> Action {
        let observed = Observed::of(obj, &WAITABLE);
        let after = self.remember(obj, |m| m.record(&observed, outcome, &self.settings, Instant::now()));
        Action::requeue(after)
    }

    async fn publish(&self, obj: &PrivateApi, type_: EventType, reason: &str, action: &str, note: String) {
        if !self.events_available.load(Ordering::Relaxed) {
            return;
        }
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(status::truncate(&note, 1000)),
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

    /// `Some(PolicyDenied)` when the namespace policy does not allow the spec; reads
    /// the namespace's labels only when a rule selects by them.
    async fn policy_denial(&self, obj: &PrivateApi) -> Result<Option<Error>> {
        let Some(policy) = &self.settings.policy else {
            return Ok(None);
        };
        let namespace = obj.namespace().ok_or(Error::MissingObjectKey("metadata.namespace"))?;
        let labels = match policy.uses_labels() {
            true => {
                let namespaces: Api<Namespace> = Api::all(self.client.clone());
                namespaces
                    .get_metadata(&namespace)
                    .await?
                    .metadata
                    .labels
                    .unwrap_or_default()
            }
            false => Default::default(),
        };
        let denied = policy.check(&namespace, &labels, &obj.spec);
        Ok((!denied.is_empty()).then_some(Error::PolicyDenied(denied)))
    }

    fn key(obj: &PrivateApi) -> String {
        format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
    }

    fn forget(&self, obj: &PrivateApi) {
        let key = Self::key(obj);
        self.metrics.set_condition(&key, None);
        lock(&self.memory).remove(&key);
    }
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
    if let Pass::NotDue(left) = ctx.next_pass(&obj) {
        return Ok(Action::requeue(left));
    }
    let ns = obj.namespace().ok_or(Error::MissingObjectKey("metadata.namespace"))?;
    let api: Api<PrivateApi> = Api::namespaced(ctx.client.clone(), &ns);
    // A new object: the finalizer, then its first pass at once, in this reconcile.
    // (kube's finalizer helper would stop after the patch and wait for its watch
    // event: one more trip through the queue, behind every other object, before any
    // AWS work; with 100 applied at once, 20 s.)
    // Nothing of an object we have never finalized, nor written a status for, exists
    // in AWS: no pass writes before the finalizer is on. Its first pass reads only
    // what other stacks may share with it (observe::History).
    let (obj, history) = match needs_finalizer(&obj) {
        true if obj.status.is_none() => (add_finalizer(&api, &obj).await?, History::New),
        true => (add_finalizer(&api, &obj).await?, History::Unknown),
        false => (obj, History::Unknown),
    };
    let pass = ctx.next_pass(&obj);
    let result = finalizer(&api, FINALIZER, obj.clone(), |event| async {
        match event {
            Finalizer::Apply(obj) => apply(obj, &ctx, pass, history).await,
            Finalizer::Cleanup(obj) => cleanup(obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        // Not `remember`: an object just forgotten (deleted) stays forgotten.
        if let Some(memory) = lock(&ctx.memory).get_mut(&Context::key(&obj)) {
            memory.succeeded();
        }
    }
    result
}

fn needs_finalizer(obj: &PrivateApi) -> bool {
    obj.metadata.deletion_timestamp.is_none() && !obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds our finalizer as kube's finalizer helper does (a JSON patch that tests the
/// list it appends to, so that a concurrent change fails it rather than being lost),
/// and returns the object as the API server has it now.
async fn add_finalizer(api: &Api<PrivateApi>, obj: &PrivateApi) -> Result<Arc<PrivateApi>> {
    let ops = match obj.finalizers() {
        [] => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ]),
        present => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": present},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ]),
    };
    let patch = serde_json::from_value(ops).map_err(|e| Error::Input {
        path: "metadata.finalizers".into(),
        message: format!("finalizer patch: {e}"),
    })?;
    let patched = api
        .patch(&obj.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch))
        .await?;
    Ok(Arc::new(patched))
}

/// A wait check, a drift check or a full pass, as `pass` says (a full pass when a
/// check finds something).
async fn apply(obj: Arc<PrivateApi>, ctx: &Context, pass: Pass<'_>, history: History) -> Result<Action> {
    let owner = owner_of(&obj)?;
    let was_ready = status::is_ready(obj.status.as_ref());
    // The installer's namespace policy, before anything reaches AWS: a denied resource
    // makes no AWS call, whatever pass was due.
    if let Some(denied) = ctx.policy_denial(&obj).await? {
        return settle(&obj, ctx, was_ready, Err(denied)).await;
    }
    if ctx.remember(&obj, |m| m.next.is_none()) {
        // Its first AWS call follows: `make bench` reads the pick-up time from here.
        info!(generation = obj.metadata.generation, "first look: pass starts");
    }
    match pass {
        Pass::DriftCheck(check) => {
            let probe = drift::probe(&obj.spec, check.turn);
            let inventories = (&ctx.inventories, check.after);
            // Boxed, like the passes below: their futures are large, worker stacks are not.
            match Box::pin(drift_check(&obj, &owner, check.ids, ctx, inventories, probe)).await {
                Ok(findings) if findings.is_empty() => {
                    ctx.remember(&obj, Memory::drift_check_done);
                    ctx.metrics.observe_resync("drift_check");
                    return Ok(ctx.record(&obj, Outcome::Ready));
                }
                Ok(findings) => info!(drift = %summary(&findings), "drift found: full pass"),
                Err(error) => info!(error = %error, "drift check failed: full pass"),
            }
        }
        Pass::WaitCheck(check) => {
            // Only waiting on AWS: the same check says whether anything moved (the
            // service's probe: tasks starting are among what it waits on).
            let inventories = (&ctx.wait_inventories, check.after);
            match Box::pin(drift_check(&obj, &owner, check.ids, ctx, inventories, Probe::Service)).await {
                Ok(findings) if drift::still_waiting(&findings, &check.waiting) => {
                    ctx.metrics.observe_resync("wait_check");
                    debug!(waiting = %summary(&findings), "still waiting");
                    return Ok(ctx.record(&obj, Outcome::Waiting));
                }
                // The wait is over, or part of it, and nothing else moved: the steps
                // it held back (the API's wiring), without reading again what the last
                // full pass made.
                Ok(findings) if findings.iter().all(|f| f.waiting_on.is_some()) => {
                    match Box::pin(follow_up(&obj, &owner, check.ids, ctx, inventories)).await {
                        Ok(Some(mut outcome)) => {
                            info!("wait over: follow-up");
                            ctx.metrics.observe_resync("follow_up");
                            status::keep_unreported(obj.status.as_ref(), &mut outcome);
                            return settle(&obj, ctx, was_ready, Ok(outcome)).await;
                        }
                        Ok(None) => info!("wait over: full pass"),
                        Err(error) => info!(error = %error, "follow-up failed: full pass"),
                    }
                }
                Ok(findings) => info!(found = %summary(&findings), "wait check: full pass"),
                Err(error) => info!(error = %error, "wait check failed: full pass"),
            }
        }
        Pass::Confirm(check) => {
            // The last pass made changes and found every part ready: what it made is
            // in the region's inventory taken since, and the service runs its tasks.
            let inventories = (&ctx.wait_inventories, check.after);
            match Box::pin(drift_check(&obj, &owner, check.ids, ctx, inventories, Probe::Service)).await {
                Ok(findings) if findings.is_empty() => {
                    ctx.metrics.observe_resync("confirm");
                    return confirmed(&obj, ctx).await;
                }
                Ok(findings) => info!(found = %summary(&findings), "confirm: full pass"),
                Err(error) => info!(error = %error, "confirm failed: full pass"),
            }
        }
        Pass::Full | Pass::NotDue(_) | Pass::Teardown => {}
    }
    let result = async {
        let aws = ctx.aws.for_region(obj.spec.region.as_deref())?;
        Box::pin(reconcile::converge_knowing(
            &aws,
            &owner,
            &obj.spec,
            Mode::Apply,
            history,
        ))
        .await
    }
    .await;
    if result.is_ok() {
        ctx.remember(&obj, |m| m.full_pass_done(obj.metadata.generation, Instant::now()));
        if was_ready {
            ctx.metrics.observe_resync("full");
        }
    }
    settle(&obj, ctx, was_ready, result).await
}

/// Ready, as confirmed by a check after a pass that made changes: the status that pass
/// wrote (every part ready, its IDs and endpoint), now Ready.
async fn confirmed(obj: &PrivateApi, ctx: &Context) -> Result<Action> {
    let verdict = Verdict::Ready;
    ctx.metrics.set_condition(&Context::key(obj), Some(verdict.condition()));
    let next = status::next_status(obj.status.as_ref(), obj.metadata.generation, None, &verdict);
    ctx.patch_status(obj, next).await?;
    let endpoint = obj.status.as_ref().and_then(|s| s.endpoint.clone()).unwrap_or_default();
    ctx.publish(
        obj,
        EventType::Normal,
        "Ready",
        "Reconcile",
        format!("serving at {endpoint}"),
    )
    .await;
    info!(endpoint, "ready (confirmed)");
    Ok(ctx.record(obj, Outcome::Ready))
}

/// The status, Events and next look that follow a pass's result.
async fn settle(
    obj: &PrivateApi,
    ctx: &Context,
    was_ready: bool,
    result: Result<reconcile::Outcome>,
) -> Result<Action> {
    let generation = obj.metadata.generation;
    match result {
        Ok(outcome) => {
            let verdict = Verdict::of(&outcome);
            ctx.metrics.set_condition(&Context::key(obj), Some(verdict.condition()));
            let next = status::next_status(obj.status.as_ref(), generation, Some(&outcome), &verdict);
            ctx.patch_status(obj, next).await?;
            if !outcome.changes.is_empty() {
                let note = reconcile::summary(&outcome.changes, "\n");
                ctx.publish(obj, EventType::Normal, "Applied", "Reconcile", note).await;
            }
            let next = match &verdict {
                Verdict::Ready => {
                    if !was_ready {
                        let note = format!("serving at {}", outcome.endpoint.clone().unwrap_or_default());
                        ctx.publish(obj, EventType::Normal, "Ready", "Reconcile", note).await;
                        info!(endpoint = outcome.endpoint.as_deref().unwrap_or_default(), "ready");
                    }
                    Outcome::Ready
                }
                _ if !outcome.changes.is_empty() && outcome.parts.iter().all(|p| p.ready) => Outcome::Applied,
                _ if !outcome.changes.is_empty() => Outcome::Changed,
                _ => Outcome::Waiting,
            };
            Ok(ctx.record(obj, next))
        }
        Err(error) => {
            let verdict = Verdict::of_error(&error, "");
            ctx.metrics.set_condition(&Context::key(obj), Some(verdict.condition()));
            let next = status::next_status(obj.status.as_ref(), generation, None, &verdict);
            let changed = obj
                .status
                .as_ref()
                .is_none_or(|s| !status::same_ignoring_time(s, &next));
            ctx.patch_status(obj, next).await?;
            if error.is_terminal() {
                warn!(error = %error, "stalled");
                if changed {
                    ctx.publish(obj, EventType::Warning, error.reason(), "Reconcile", error.to_string())
                        .await;
                }
                Ok(ctx.record(obj, Outcome::Stalled))
            } else if error.is_wait() {
                info!(error = %error, retry_in = ?error.retry_after(), "waiting on AWS");
                Ok(ctx.record(obj, Outcome::NotYet(error.retry_after())))
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

/// The follow-up of a wait that is over (`reconcile::follow_up`), from the same
/// inventory the wait check used; `None` when the stack takes a full pass instead.
async fn follow_up(
    obj: &PrivateApi,
    owner: &Owner,
    ids: &ResourceIds,
    ctx: &Context,
    (inventories, after): (&InventoryCache, Instant),
) -> Result<Option<reconcile::Outcome>> {
    let aws = ctx.aws.for_region(obj.spec.region.as_deref())?;
    let inventory = inventories.get(&aws, &owner.uid, after).await?;
    reconcile::follow_up(&aws, &inventory, owner, &obj.spec, ids, Mode::Apply).await
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
        if let Some(retry_in) = error.retry_after() {
            info!(object = %key, error = %error, ?retry_in, "waiting on AWS");
        }
        // Deletion waits here (a pending teardown is an error, to keep the finalizer):
        // remembered, so that the watch events of its own status writes do not wake it.
        return ctx.record(&obj, Outcome::TeardownPending(error.retry_after()));
    }
    if error.is_terminal() {
        warn!(object = %key, error = %error, "reconcile failed (needs attention)");
        return Action::requeue(STALLED_RETRY);
    }
    let (attempts, base) = ctx.remember(&obj, |m| {
        let base = m.failed();
        (m.failures, base)
    });
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
    use http::{Method, Request, Response};
    use kube::client::Body;
    use tower_test::mock::{self, Handle};

    type ApiServer = Handle<Request<Body>, Response<Body>>;

    fn object(extra: &str) -> PrivateApi {
        serde_norway::from_str(&format!(
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

    /// The finalizer first, then, in the same reconcile (not after its watch event,
    /// through the queue again), the first pass: here its AWS calls fail (nothing
    /// listens), and the status says so.
    #[tokio::test]
    async fn finalizer_is_added_then_the_first_pass_runs_at_once() {
        let (ctx, mut server) = context().await;
        let obj = object("");
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx));
        let (patch, _, respond) = expect(&mut server, Method::PATCH, PATH).await;
        assert_eq!(
            patch,
            serde_json::json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
            ]),
            "JSON patch adds the finalizer, testing that there was none"
        );
        let mut finalized = obj.clone();
        finalized.metadata.finalizers = Some(vec![FINALIZER.into()]);
        reply(respond, &finalized);
        // The pass's AWS calls go nowhere (the SDK retries them first): its status.
        let (request, respond) = tokio::time::timeout(Duration::from_secs(60), server.next_request())
            .await
            .expect("a status write after the failed pass")
            .expect("service not called");
        assert_eq!(request.method(), Method::PATCH);
        assert_eq!(request.uri().path(), format!("{PATH}/status"));
        reply(respond, &finalized);
        let result = task.await.expect("join");
        // The pass's first AWS call failed: its error goes to the error policy's backoff.
        assert!(
            matches!(&result, Err(e) if format!("{e:?}").contains("DescribeSubnets")),
            "{result:?}"
        );
        no_more_requests(&mut server).await;
    }

    #[tokio::test]
    async fn a_finalizer_of_someone_else_is_kept() {
        let (ctx, mut server) = context().await;
        let obj = object(", finalizers: [example.com/other]");
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx));
        let (patch, _, respond) = expect(&mut server, Method::PATCH, PATH).await;
        assert_eq!(
            patch,
            serde_json::json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["example.com/other"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
            ])
        );
        // The API server refuses it (the list changed meanwhile): retried, nothing else.
        respond.send_response(
            Response::builder()
                .status(422)
                .body(Body::from(
                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"test failed","reason":"Invalid","code":422}"#.to_vec(),
                ))
                .expect("422"),
        );
        assert!(task.await.expect("join").is_err());
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

    fn policy(yaml: &str) -> Arc<crate::policy::NamespacePolicy> {
        Arc::new(serde_norway::from_str(yaml).expect("policy"))
    }

    async fn context_with(policy: Arc<crate::policy::NamespacePolicy>) -> (Arc<Context>, ApiServer) {
        let (ctx, server) = context().await;
        let ctx = Arc::into_inner(ctx).expect("one owner");
        let settings = Settings {
            policy: Some(policy),
            ..Settings::default()
        };
        (
            Arc::new(Context::new(ctx.client, ctx.aws, ctx.metrics, settings)),
            server,
        )
    }

    /// Status patched Stalled/PolicyDenied naming the field, then the Warning Event;
    /// returns the message.
    async fn expect_denied(server: &mut ApiServer, obj: &PrivateApi) -> String {
        let (patch, _, respond) = expect(server, Method::PATCH, &format!("{PATH}/status")).await;
        let stalled = patch["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(stalled["status"], "True", "{patch}");
        assert_eq!(stalled["reason"], "PolicyDenied", "{patch}");
        reply(respond, obj);
        let (event, _, respond) = expect(server, Method::POST, "/apis/events.k8s.io/v1/namespaces/ns/events").await;
        assert_eq!(event["reason"], "PolicyDenied", "{event}");
        assert_eq!(event["type"], "Warning", "{event}");
        respond.send_response(
            Response::builder()
                .body(Body::from(event.to_string().into_bytes()))
                .expect("event"),
        );
        stalled["message"].as_str().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_spec_outside_the_namespace_policy_stalls_without_an_aws_call() {
        let (ctx, mut server) = context_with(policy(
            "rules:\n- namespaces: [ns]\n  vpcs: [vpc-allowed]\n  subnets: ['*']\n",
        ))
        .await;
        let obj = object(", finalizers: [privateapi.io/cleanup]");
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));
        let message = expect_denied(&mut server, &obj).await;
        assert!(
            message.contains("spec.network.vpcId: vpc-1 is not allowed") && message.contains("allowed: vpc-allowed"),
            "{message}"
        );
        let action = task.await.expect("join").expect("a denial is handled, not retried hot");
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
        assert_eq!(ctx.aws.stats().snapshot().total(), 0, "no AWS call");
        no_more_requests(&mut server).await;
    }

    #[tokio::test]
    async fn namespace_labels_are_read_only_for_label_rules() {
        let (ctx, mut server) = context_with(policy(
            "rules:\n- namespaceSelector: {matchLabels: {tier: sandbox}}\n  vpcs: ['*']\n  subnets: ['*']\n",
        ))
        .await;
        let obj = object(", finalizers: [privateapi.io/cleanup]");
        let task = tokio::spawn(reconcile(Arc::new(obj.clone()), ctx.clone()));
        let (_, _, respond) = expect(&mut server, Method::GET, "/api/v1/namespaces/ns").await;
        let namespace = serde_json::json!({
            "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": "ns", "labels": {"tier": "production"}}
        });
        respond.send_response(
            Response::builder()
                .body(Body::from(namespace.to_string().into_bytes()))
                .expect("ns"),
        );
        let message = expect_denied(&mut server, &obj).await;
        assert!(message.contains("namespace ns matches no rule"), "{message}");
        task.await.expect("join").expect("reconcile");
        assert_eq!(ctx.aws.stats().snapshot().total(), 0, "no AWS call");
    }

    #[tokio::test]
    async fn retain_lets_go_without_touching_aws() {
        let (ctx, mut server) = context().await;
        let obj = object(", finalizers: [privateapi.io/cleanup], deletionTimestamp: '2026-11-25T10:00:00Z'");
        let mut obj = obj;
        obj.spec.deletion_policy = DeletionPolicy::Retain;
        // Remembered from an earlier failure, and to be forgotten.
        ctx.remember(&obj, Memory::failed);
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
        assert!(lock(&ctx.memory).is_empty(), "nothing remembered of a deleted object");
    }

    #[tokio::test]
    async fn own_status_write_does_not_trigger_aws_work() {
        let (ctx, mut server) = context().await;
        let obj = object(", finalizers: [privateapi.io/cleanup]");
        // As if its last pass had scheduled the next look a minute ahead.
        let _ = ctx.record(&obj, Outcome::NotYet(Some(Duration::from_secs(60))));
        let action = reconcile(Arc::new(obj), ctx.clone()).await.expect("reconcile");
        assert!(action != Action::await_change(), "still scheduled for its next check");
        assert_eq!(ctx.aws.stats().snapshot().total(), 0, "no AWS call");
        no_more_requests(&mut server).await;
    }
}
