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
use crate::status::{self, Verdict};

/// Reads a `PrivateApi` manifest (the first YAML document of kind PrivateApi).
pub fn load(path: &Path) -> Result<PrivateApi> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Input {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    for doc in serde_norway::Deserializer::from_str(&text) {
        let value = serde_norway::Value::deserialize_from(doc, path)?;
        if value.get("kind").and_then(|k| k.as_str()) != Some("PrivateApi") {
            continue;
        }
        let obj: PrivateApi = serde_norway::from_value(value).map_err(|e| Error::Input {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if obj.metadata.name.as_deref().unwrap_or_default().is_empty() {
            return Err(Error::Input {
                path: path.display().to_string(),
                message: "metadata.name is required".into(),
            });
        }
        return Ok(obj);
    }
    Err(Error::Input {
        path: path.display().to_string(),
        message: "no document of kind PrivateApi".into(),
    })
}

trait FromDoc {
    fn deserialize_from(doc: serde_norway::Deserializer<'_>, path: &Path) -> Result<serde_norway::Value>;
}

impl FromDoc for serde_norway::Value {
    fn deserialize_from(doc: serde_norway::Deserializer<'_>, path: &Path) -> Result<serde_norway::Value> {
        use serde::Deserialize;
        serde_norway::Value::deserialize(doc).map_err(|e| Error::Input {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
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

/// Reconciles until Ready, Stalled or the timeout; progress goes to the log. A
/// manifest the namespace policy denies is Stalled (PolicyDenied) before any AWS call.
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
    let aws = clients(factory, obj)?;
    let owner = announce(target(factory, obj).await?);
    let deadline = Instant::now() + timeout;
    let mut status: Option<PrivateApiStatus> = None;
    let mut last_wait = String::new();
    loop {
        match reconcile::converge(&aws, &owner, &obj.spec, Mode::Apply).await {
            Ok(outcome) => {
                let verdict = Verdict::of(&outcome);
                status = Some(status::next_status(
                    status.as_ref(),
                    obj.metadata.generation,
                    Some(&outcome),
                    &verdict,
                ));
                match &verdict {
                    Verdict::Ready => {
                        info!(endpoint = outcome.endpoint.as_deref().unwrap_or_default(), "ready");
                        return Ok(ApplyResult {
                            status: status.unwrap_or_default(),
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
            Err(error) if error.is_terminal() => {
                let verdict = Verdict::of_error(&error, "");
                let status = status::next_status(status.as_ref(), obj.metadata.generation, None, &verdict);
                warn!(reason = error.reason(), "stalled: {error}");
                return Ok(ApplyResult { status, ready: false });
            }
            Err(error) => warn!(reason = error.reason(), "will retry: {error}"),
        }
        if Instant::now() >= deadline {
            warn!("timed out before Ready");
            return Ok(ApplyResult {
                status: status.unwrap_or_default(),
                ready: false,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// What apply would change, with no mutating call (none at all when the namespace
/// policy denies the manifest).
pub async fn plan(factory: &AwsFactory, policy: Option<&NamespacePolicy>, obj: &PrivateApi) -> Result<Vec<Change>> {
    admit(policy, obj).await?;
    let aws = clients(factory, obj)?;
    let owner = announce(target(factory, obj).await?);
    Ok(reconcile::converge(&aws, &owner, &obj.spec, Mode::Plan).await?.changes)
}

/// What delete would remove, with no mutating call.
pub async fn plan_destroy(factory: &AwsFactory, obj: &PrivateApi) -> Result<Vec<Change>> {
    let aws = clients(factory, obj)?;
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

/// Tears down until nothing remains; `done: false` on timeout.
pub async fn delete(factory: &AwsFactory, obj: &PrivateApi, timeout: Duration, poll: Duration) -> Result<Deleted> {
    let aws = clients(factory, obj)?;
    let owner = announce(target(factory, obj).await?);
    let deadline = Instant::now() + timeout;
    let mut last_wait = Vec::new();
    let mut changes = Vec::new();
    loop {
        match reconcile::teardown(&aws, &owner, &obj.spec, Mode::Apply).await {
            Ok(outcome) if outcome.is_done() => {
                changes.extend(outcome.changes);
                info!("nothing of {} remains in AWS", owner.key());
                return Ok(Deleted {
                    owner,
                    done: true,
                    changes,
                });
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
        if Instant::now() >= deadline {
            warn!("timed out; run delete again to resume");
            return Ok(Deleted {
                owner,
                done: false,
                changes,
            });
        }
        tokio::time::sleep(poll).await;
    }
}
