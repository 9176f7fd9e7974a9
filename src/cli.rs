//! The engine without Kubernetes: `apply`, `plan` and `delete` of one manifest.

use std::path::Path;
use std::time::Duration;

use kube::ResourceExt;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::aws::{Aws, AwsFactory, Owner};
use crate::crd::{PrivateApi, PrivateApiStatus};
use crate::error::{Error, Result};
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

/// The owner identity the CLI uses: the manifest's uid if it has one (so the CLI
/// can act on what the controller made), else one derived from namespace/name.
pub fn owner(obj: &PrivateApi) -> Owner {
    let namespace = obj.namespace().unwrap_or_else(|| "default".into());
    match obj.uid() {
        Some(uid) => Owner::new(namespace, obj.name_any(), uid),
        None => Owner::offline(&namespace, &obj.name_any()),
    }
}

fn clients(factory: &AwsFactory, obj: &PrivateApi) -> Result<Aws> {
    Ok(factory.for_region(obj.spec.region.as_deref())?)
}

pub struct ApplyResult {
    pub status: PrivateApiStatus,
    pub ready: bool,
}

/// Reconciles until Ready, Stalled or the timeout; progress goes to the log.
pub async fn apply(factory: &AwsFactory, obj: &PrivateApi, timeout: Duration, poll: Duration) -> Result<ApplyResult> {
    let aws = clients(factory, obj)?;
    let owner = owner(obj);
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

/// What apply would change, with no mutating call.
pub async fn plan(factory: &AwsFactory, obj: &PrivateApi) -> Result<Vec<Change>> {
    let aws = clients(factory, obj)?;
    Ok(reconcile::converge(&aws, &owner(obj), &obj.spec, Mode::Plan)
        .await?
        .changes)
}

/// What delete would remove, with no mutating call.
pub async fn plan_destroy(factory: &AwsFactory, obj: &PrivateApi) -> Result<Vec<Change>> {
    let aws = clients(factory, obj)?;
    Ok(reconcile::teardown(&aws, &owner(obj), &obj.spec, Mode::Plan)
        .await?
        .changes)
}

/// Tears down until nothing remains; `Ok(false)` on timeout.
pub async fn delete(factory: &AwsFactory, obj: &PrivateApi, timeout: Duration, poll: Duration) -> Result<bool> {
    let aws = clients(factory, obj)?;
    let owner = owner(obj);
    let deadline = Instant::now() + timeout;
    let mut last_wait = Vec::new();
    loop {
        match reconcile::teardown(&aws, &owner, &obj.spec, Mode::Apply).await {
            Ok(outcome) if outcome.is_done() => {
                info!("nothing of {} remains in AWS", owner.key());
                return Ok(true);
            }
            Ok(outcome) => {
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
            return Ok(false);
        }
        tokio::time::sleep(poll).await;
    }
}
