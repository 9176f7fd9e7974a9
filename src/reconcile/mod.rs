//! The engine: desired (pure) → observe (by ownership tags) → diff (pure) → act
//! (dependency order) → outcome. The same code serves the controller, `apply`,
//! `plan` (which records changes without making them) and `delete`.

pub mod converge;
pub mod desired;
pub mod drift;
pub mod teardown;

use std::fmt;
use std::future::Future;

use crate::aws::{Aws, AwsResult};
use crate::crd::{ResourceIds, ServiceCounts};

pub use converge::converge;
pub use teardown::teardown;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Make the changes.
    Apply,
    /// Only record what would change (no mutating AWS call).
    Plan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Create,
    Update,
    Delete,
}

/// One change to one AWS object: made (apply) or pending (plan).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub verb: Verb,
    pub part: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Change {
    pub fn new(verb: Verb, part: &'static str, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Change {
            verb,
            part,
            name: name.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.verb {
            Verb::Create => "+",
            Verb::Update => "~",
            Verb::Delete => "-",
        };
        write!(f, "{sign} {} {}", self.part, self.name)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// Readiness of one part, reported as a `<Part>Ready` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartStatus {
    pub condition: &'static str,
    pub ready: bool,
    pub reason: String,
    pub message: String,
}

impl PartStatus {
    pub fn ready(condition: &'static str, message: impl Into<String>) -> Self {
        PartStatus {
            condition,
            ready: true,
            reason: "Ready".into(),
            message: message.into(),
        }
    }

    pub fn waiting(condition: &'static str, reason: impl Into<String>, message: impl Into<String>) -> Self {
        PartStatus {
            condition,
            ready: false,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// What one pass of the engine saw and did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub resources: ResourceIds,
    pub endpoint: Option<String>,
    pub service: Option<ServiceCounts>,
    pub parts: Vec<PartStatus>,
    pub changes: Vec<Change>,
}

impl Outcome {
    /// Ready means: a full pass found every part in place and made no change.
    pub fn is_ready(&self) -> bool {
        self.changes.is_empty() && self.parts.iter().all(|p| p.ready)
    }

    /// The first part not ready yet, for the `Reconciling` reason.
    pub fn waiting_on(&self) -> Option<&PartStatus> {
        self.parts.iter().find(|p| !p.ready)
    }
}

/// Carries the mode and collects the changes of one pass.
pub struct Run<'a> {
    pub aws: &'a Aws,
    pub mode: Mode,
    pub changes: Vec<Change>,
}

impl<'a> Run<'a> {
    pub fn new(aws: &'a Aws, mode: Mode) -> Self {
        Run {
            aws,
            mode,
            changes: Vec::new(),
        }
    }

    /// Makes one change (or, in plan mode, records it and returns `None` without
    /// ever polling `call`, so nothing is sent).
    pub async fn write<T>(&mut self, change: Change, call: impl Future<Output = AwsResult<T>>) -> AwsResult<Option<T>> {
        match self.mode {
            Mode::Plan => {
                self.changes.push(change);
                Ok(None)
            }
            Mode::Apply => {
                // Logged once done: a call held back by pacing, or refused, changed nothing.
                let value = call
                    .await
                    .inspect_err(|e| tracing::debug!(change = %change, error = %e, "not applied"))?;
                tracing::info!(change = %change, "applied");
                self.changes.push(change);
                Ok(Some(value))
            }
        }
    }
}

/// The changes as one line each (or joined by `separator`), for events and messages.
pub fn summary(changes: &[Change], separator: &str) -> String {
    changes
        .iter()
        .map(Change::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// Placeholder for an ID that only exists after apply (plan mode).
pub fn after_apply(what: &str) -> String {
    format!("<{what} after apply>")
}
