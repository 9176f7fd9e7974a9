//! The engine without Kubernetes: `apply`, `plan` and `delete` of one manifest.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::aws::{Aws, AwsFactory, Owner};
use crate::crd::{PrivateApi, PrivateApiStatus};
use crate::error::{Error, Result};
use crate::policy::NamespacePolicy;
use crate::reconcile::{self, Change, Mode};
use crate::schema;
use crate::status::{self, Verdict};

/// The largest manifest read: a PrivateApi is a few KiB; the API server's own limit
/// on a request is 3 MiB. Larger is a wrong file, refused before it is parsed.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Reads the `PrivateApi` of a manifest and checks it as the API server would
/// ([`crate::schema`]: the CRD's schema, its CEL rules, unknown fields refused), plus
/// what no schema can say ([`crate::crd::PrivateApiSpec::beyond_schema`]). Documents
/// of other kinds (a Namespace beside it) are skipped; two PrivateApi documents, a
/// PrivateApi of another apiVersion, or a file over [`MAX_MANIFEST_BYTES`] are refused.
/// Nothing here calls AWS.
pub fn load(path: &Path) -> Result<PrivateApi> {
    let input = |message: String| Error::Input {
        path: path.display().to_string(),
        message,
    };
    let text = read_bounded(path).map_err(|e| input(e.to_string()))?;
    let text = text?;
    let mut ours: Vec<(usize, serde_json::Value)> = Vec::new();
    let mut others = Vec::new();
    for (index, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
        use serde::Deserialize;
        let value = serde_json::Value::deserialize(doc).map_err(|e| input(format!("document {}: {e}", index + 1)))?;
        if value.is_null() {
            continue;
        }
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        // Ours if it says so by kind or by group: a wrong version or a mistyped kind
        // is refused below rather than skipped.
        if kind.eq_ignore_ascii_case(schema::KIND) || api_version.starts_with("privateapi.io/") {
            ours.push((index + 1, value));
        } else {
            others.push(format!("{api_version}/{kind}"));
        }
    }
    let (index, mut value) = match ours.len() {
        0 => {
            let found = match others.is_empty() {
                true => "it has no document".to_owned(),
                false => format!("found {}", others.join(", ")),
            };
            return Err(input(format!(
                "no document of kind {} ({}): {found}",
                schema::KIND,
                schema::API_VERSION
            )));
        }
        1 => ours.remove(0),
        n => {
            let at: Vec<String> = ours.iter().map(|(i, _)| i.to_string()).collect();
            return Err(input(format!(
                "{n} PrivateApi documents (documents {}); apply, plan and delete take one: one file per PrivateApi",
                at.join(", ")
            )));
        }
    };
    let problems = schema::validator().validate_object(&mut value, None);
    if !problems.is_empty() {
        return Err(input(refused(index, &problems)));
    }
    let obj: PrivateApi = serde_json::from_value(value).map_err(|e| input(format!("document {index}: {e}")))?;
    let problems = obj.spec.beyond_schema();
    if !problems.is_empty() {
        return Err(input(refused(index, &problems)));
    }
    Ok(obj)
}

fn refused(index: usize, problems: &[String]) -> String {
    format!(
        "document {index} is not a valid PrivateApi (the API server would refuse it too):\n  {}",
        problems.join("\n  ")
    )
}

/// The file's text, refused unread past [`MAX_MANIFEST_BYTES`] (also for a pipe or a
/// device, where the size is known only by reading).
fn read_bounded(path: &Path) -> std::io::Result<Result<String>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Ok(Err(Error::Input {
            path: path.display().to_string(),
            message: format!(
                "larger than {} MiB: a PrivateApi manifest is a few KiB; is this the right file?",
                MAX_MANIFEST_BYTES / (1024 * 1024)
            ),
        }));
    }
    Ok(String::from_utf8(bytes).map_err(|e| Error::Input {
        path: path.display().to_string(),
        message: format!("not UTF-8 text: {e}"),
    }))
}

/// The stack a manifest means, and how it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub owner: Owner,
    pub found_by: String,
}

/// Which stack to act on: the manifest's uid if it has one; else the live object's
/// in the cluster (when one is reachable), so that a manifest straight from git acts
/// on the stack the operator made; else the stack AWS has tagged with the manifest's
/// namespace/name; else a new stack of the CLI's own (a uid derived from the key).
pub async fn target(factory: &AwsFactory, obj: &PrivateApi) -> Result<Target> {
    let namespace = obj.namespace().unwrap_or_else(|| "default".into());
    let name = obj.name_any();
    if let Some(uid) = obj.uid() {
        return Ok(Target {
            owner: Owner::new(namespace, name, uid),
            found_by: "the manifest's metadata.uid".into(),
        });
    }
    if let Some(uid) = live_uid(&namespace, &name).await {
        return Ok(Target {
            owner: Owner::new(namespace, name, uid),
            found_by: "the PrivateApi in the cluster".into(),
        });
    }
    let aws = clients(factory, obj)?;
    let key = format!("{namespace}/{name}");
    let mut uids = crate::aws::security_group::owners_tagged(&aws, &key).await?;
    uids.sort();
    uids.dedup();
    match uids.as_slice() {
        [] => Ok(Target {
            owner: Owner::offline(&namespace, &name),
            found_by: "nothing in the cluster or in AWS yet: a new stack".into(),
        }),
        [uid] => Ok(Target {
            owner: Owner::new(namespace, name, uid.clone()),
            found_by: format!("its AWS tags ({} = {key})", crate::aws::ownership::TAG_OWNER),
        }),
        many => Err(Error::Input {
            path: key,
            message: format!(
                "{} stacks in AWS are tagged with this namespace/name (uids {}); put the one meant in metadata.uid",
                many.len(),
                many.join(", ")
            ),
        }),
    }
}

/// The uid of the live object, when a cluster is configured and answers in time.
async fn live_uid(namespace: &str, name: &str) -> Option<String> {
    if !cluster_configured() {
        return None;
    }
    let lookup = async {
        let client = kube::Client::try_default().await.ok()?;
        let api: kube::Api<PrivateApi> = kube::Api::namespaced(client, namespace);
        api.get_opt(name).await.ok().flatten().and_then(|obj| obj.uid())
    };
    tokio::time::timeout(Duration::from_secs(5), lookup)
        .await
        .ok()
        .flatten()
}

fn clients(factory: &AwsFactory, obj: &PrivateApi) -> Result<Aws> {
    Ok(factory.for_region(obj.spec.region.as_deref())?)
}

/// The region's clients, once its endpoints are known to resolve: a typo'd region
/// fails here, naming the host, before any AWS call.
async fn region_clients(factory: &AwsFactory, obj: &PrivateApi) -> Result<Aws> {
    let aws = clients(factory, obj)?;
    reconcile::region_exists(&aws).await?;
    Ok(aws)
}

/// Says which stack the command acts on (stderr).
fn announce(target: Target) -> Owner {
    info!(stack = %target.owner.key(), uid = %target.owner.uid, "acting on the stack found by {}", target.found_by);
    target.owner
}

/// The namespace policy's verdict on a manifest (`--policy FILE`), before any AWS
/// call: the same check the controller makes. The namespace's labels come from the
/// cluster when one is configured; without them only rules by name can match.
pub async fn admit(policy: Option<&NamespacePolicy>, obj: &PrivateApi) -> Result<()> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let namespace = obj.namespace().unwrap_or_else(|| "default".into());
    let labels = match policy.uses_labels() {
        true => live_namespace_labels(&namespace).await.unwrap_or_default(),
        false => BTreeMap::new(),
    };
    let denied = policy.check(&namespace, &labels, &obj.spec);
    if denied.is_empty() {
        Ok(())
    } else {
        Err(Error::PolicyDenied(denied))
    }
}

/// The labels of the namespace in the configured cluster, when it answers in time.
async fn live_namespace_labels(namespace: &str) -> Option<BTreeMap<String, String>> {
    if !cluster_configured() {
        return None;
    }
    let lookup = async {
        let client = kube::Client::try_default().await.ok()?;
        let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
        api.get_metadata_opt(namespace)
            .await
            .ok()
            .flatten()
            .map(|ns| ns.metadata.labels.unwrap_or_default())
    };
    tokio::time::timeout(Duration::from_secs(5), lookup)
        .await
        .ok()
        .flatten()
}

fn cluster_configured() -> bool {
    std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || std::env::home_dir().is_some_and(|home| home.join(".kube/config").exists())
}

pub struct ApplyResult {
    pub status: PrivateApiStatus,
    pub ready: bool,
}

/// Reconciles until Ready, Stalled or the timeout; progress goes to the log. The
/// timeout bounds everything, a pass in flight included (AWS not answering): the pass
/// is abandoned as a crash would abandon it, and the next apply picks up from what
/// AWS holds. The status returned on timeout carries the last error, if any.
///
/// A manifest the namespace policy denies is Stalled (PolicyDenied) before any AWS call.
pub async fn apply(
    factory: &AwsFactory,
    policy: Option<&NamespacePolicy>,
    obj: &PrivateApi,
    timeout: Duration,
    poll: Duration,
) -> Result<ApplyResult> {
    if let Err(error) = admit(policy, obj).await {
        let verdict = Verdict::of_error(&error, "");
        let status = status::next_status(None, obj.metadata.generation, None, &verdict);
        warn!(reason = error.reason(), "stalled: {error}");
        return Ok(ApplyResult { status, ready: false });
    }
    let mut progress = Progress::default();
    let run = apply_until_done(factory, obj, poll, &mut progress);
    match tokio::time::timeout(timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            let (reason, message) = match progress.last_error.take() {
                Some((reason, error)) => (
                    reason,
                    format!(
                        "timed out after {} s before Ready; last error: {error}",
                        timeout.as_secs()
                    ),
                ),
                None if progress.status.is_none() => (
                    "TimedOut".to_owned(),
                    format!(
                        "timed out after {} s in the first pass: AWS did not answer in time",
                        timeout.as_secs()
                    ),
                ),
                None => {
                    warn!("timed out after {} s before Ready", timeout.as_secs());
                    return Ok(ApplyResult {
                        status: progress.status.unwrap_or_default(),
                        ready: false,
                    });
                }
            };
            warn!(reason, "{message}");
            let verdict = Verdict::Reconciling { reason, message };
            Ok(ApplyResult {
                status: status::next_status(progress.status.as_ref(), obj.metadata.generation, None, &verdict),
                ready: false,
            })
        }
    }
}

/// What an apply knows so far: it outlives the passes when the timeout drops them.
#[derive(Default)]
struct Progress {
    status: Option<PrivateApiStatus>,
    /// The last pass's error (reason, message), while no later pass went through.
    last_error: Option<(String, String)>,
}

async fn apply_until_done(
    factory: &AwsFactory,
    obj: &PrivateApi,
    poll: Duration,
    progress: &mut Progress,
) -> Result<ApplyResult> {
    let aws = region_clients(factory, obj).await?;
    let mut owner: Option<Owner> = None;
    let mut last_wait = String::new();
    let mut polls = Polls::new(poll);
    loop {
        // Finding the stack is retried like a pass: AWS may be briefly unavailable.
        let pass = match &owner {
            Some(owner) => reconcile::converge(&aws, owner, &obj.spec, Mode::Apply).await,
            None => match target(factory, obj).await {
                Ok(found) => {
                    owner = Some(announce(found));
                    continue;
                }
                Err(error) => Err(error),
            },
        };
        match pass {
            Ok(outcome) => {
                progress.last_error = None;
                let verdict = Verdict::of(&outcome);
                progress.status = Some(status::next_status(
                    progress.status.as_ref(),
                    obj.metadata.generation,
                    Some(&outcome),
                    &verdict,
                ));
                match &verdict {
                    Verdict::Ready => {
                        info!(endpoint = outcome.endpoint.as_deref().unwrap_or_default(), "ready");
                        return Ok(ApplyResult {
                            status: progress.status.take().unwrap_or_default(),
                            ready: true,
                        });
                    }
                    Verdict::Reconciling { reason, message } if outcome.changes.is_empty() && *message != last_wait => {
                        info!(reason, "waiting: {message}");
                        last_wait = message.clone();
                    }
                    _ => {}
                }
            }
            Err(error) => {
                let verdict = Verdict::of_error(&error, "");
                progress.status = Some(status::next_status(
                    progress.status.as_ref(),
                    obj.metadata.generation,
                    None,
                    &verdict,
                ));
                if error.is_terminal() {
                    warn!(reason = error.reason(), "stalled: {error}");
                    return Ok(ApplyResult {
                        status: progress.status.take().unwrap_or_default(),
                        ready: false,
                    });
                }
                warn!(reason = error.reason(), "will retry: {error}");
                progress.last_error = Some((error.reason().to_owned(), error.to_string()));
            }
        }
        tokio::time::sleep(polls.next_wait()).await;
    }
}

/// The waits between passes: a quarter of a second at first, doubling up to `poll`.
/// Most of a stack is made in the first pass and the rest follows within seconds on a
/// fast AWS (or an emulator); waits of minutes (a VPC link PENDING) still cost one
/// pass per `poll`.
struct Polls {
    poll: Duration,
    next: Duration,
}

impl Polls {
    const FIRST: Duration = Duration::from_millis(250);

    fn new(poll: Duration) -> Self {
        Polls {
            poll,
            next: Self::FIRST.min(poll),
        }
    }

    fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.poll);
        wait
    }
}

/// What apply would change, with no mutating call (none at all when the namespace
/// policy denies the manifest).
pub async fn plan(factory: &AwsFactory, policy: Option<&NamespacePolicy>, obj: &PrivateApi) -> Result<Vec<Change>> {
    admit(policy, obj).await?;
    let aws = region_clients(factory, obj).await?;
    let owner = announce(target(factory, obj).await?);
    Ok(reconcile::converge(&aws, &owner, &obj.spec, Mode::Plan).await?.changes)
}

/// What delete would remove, with no mutating call.
pub async fn plan_destroy(factory: &AwsFactory, obj: &PrivateApi) -> Result<Vec<Change>> {
    let aws = region_clients(factory, obj).await?;
    let owner = announce(target(factory, obj).await?);
    Ok(reconcile::teardown(&aws, &owner, &obj.spec, Mode::Plan).await?.changes)
}

/// What a delete did.
pub struct Deleted {
    pub owner: Owner,
    /// Nothing of the stack remains in AWS.
    pub done: bool,
    pub changes: Vec<Change>,
}

/// Tears down until nothing remains; `done: false` on timeout. As for apply, the
/// timeout bounds a pass in flight too.
pub async fn delete(factory: &AwsFactory, obj: &PrivateApi, timeout: Duration, poll: Duration) -> Result<Deleted> {
    let deadline = Instant::now() + timeout;
    let timed_out = || Error::Input {
        path: format!(
            "{}/{}",
            obj.namespace().unwrap_or_else(|| "default".into()),
            obj.name_any()
        ),
        message: format!("timed out after {} s looking for the stack in AWS", timeout.as_secs()),
    };
    let found = async {
        let aws = region_clients(factory, obj).await?;
        let owner = announce(target(factory, obj).await?);
        Ok::<_, Error>((aws, owner))
    };
    let (aws, owner) = tokio::time::timeout_at(deadline, found)
        .await
        .map_err(|_| timed_out())??;
    let mut changes = Vec::new();
    let run = async {
        let mut last_wait = Vec::new();
        let mut polls = Polls::new(poll);
        loop {
            match reconcile::teardown(&aws, &owner, &obj.spec, Mode::Apply).await {
                Ok(outcome) if outcome.is_done() => {
                    changes.extend(outcome.changes);
                    info!("nothing of {} remains in AWS", owner.key());
                    return Ok(());
                }
                Ok(outcome) => {
                    changes.extend(outcome.changes);
                    if outcome.waiting_for != last_wait {
                        info!("waiting for {}", outcome.waiting_for.join(", "));
                        last_wait = outcome.waiting_for;
                    }
                }
                Err(error) if error.is_terminal() => return Err(error),
                Err(error) => warn!(reason = error.reason(), "will retry: {error}"),
            }
            tokio::time::sleep(polls.next_wait()).await;
        }
    };
    let done = match tokio::time::timeout_at(deadline, run).await {
        Ok(finished) => {
            finished?;
            true
        }
        Err(_) => {
            warn!("timed out after {} s; run delete again to resume", timeout.as_secs());
            false
        }
    };
    Ok(Deleted { owner, done, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_start_quick_and_double_up_to_the_poll() {
        let mut polls = Polls::new(Duration::from_secs(5));
        let waits: Vec<u128> = (0..8).map(|_| polls.next_wait().as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        let mut short = Polls::new(Duration::from_millis(100));
        assert_eq!(short.next_wait(), Duration::from_millis(100), "never above the poll");
    }
}
