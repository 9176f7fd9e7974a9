//! kstatus conditions: `Ready`, `Reconciling`, `Stalled`, and one `<Part>Ready` per
//! part. `lastTransitionTime` only moves when a condition's status flips, so an
//! unchanged resource produces an identical status (and no write at all).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::crd::PrivateApiStatus;
use crate::error::Error;
use crate::reconcile::{Outcome, PartStatus};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

/// The overall verdict of one reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    /// Work in progress (AWS provisioning, a change just made, a retry pending).
    Reconciling {
        reason: String,
        message: String,
    },
    /// A human must act: invalid input, access denied, quota, a name conflict.
    Stalled {
        reason: String,
        message: String,
    },
}

impl Verdict {
    /// A failed reconcile: Stalled when a human must act, else Reconciling.
    pub fn of_error(error: &Error, context: &str) -> Verdict {
        let message = if context.is_empty() {
            error.to_string()
        } else {
            format!("{context}: {error}")
        };
        let reason = error.reason().to_owned();
        if error.is_terminal() {
            Verdict::Stalled { reason, message }
        } else {
            Verdict::Reconciling { reason, message }
        }
    }

    /// The kstatus condition that is True under this verdict.
    pub fn condition(&self) -> &'static str {
        match self {
            Verdict::Ready => READY,
            Verdict::Reconciling { .. } => RECONCILING,
            Verdict::Stalled { .. } => STALLED,
        }
    }

    pub fn of(outcome: &Outcome) -> Verdict {
        if outcome.is_ready() {
            return Verdict::Ready;
        }
        match outcome.waiting_on() {
            Some(part) => Verdict::Reconciling {
                reason: part.reason.clone(),
                message: part.message.clone(),
            },
            None => Verdict::Reconciling {
                reason: "Applied".into(),
                message: format!(
                    "{} change(s) made: {}",
                    outcome.changes.len(),
                    crate::reconcile::summary(&outcome.changes, "; ")
                ),
            },
        }
    }
}

/// Builds the next status from the previous one and what this reconcile found.
/// With no outcome (an error), IDs and endpoint of the previous status are kept.
pub fn next_status(
    previous: Option<&PrivateApiStatus>,
    generation: Option<i64>,
    outcome: Option<&Outcome>,
    verdict: &Verdict,
) -> PrivateApiStatus {
    let mut status = previous.cloned().unwrap_or_default();
    let old = std::mem::take(&mut status.conditions);
    if let Some(outcome) = outcome {
        status.resources = outcome.resources.clone();
        status.endpoint = outcome.endpoint.clone().or(status.endpoint);
        status.domain_endpoint = outcome.domain_endpoint.clone();
        status.service = outcome.service.clone();
    }
    status.observed_generation = generation;
    let message = |m: &str| truncate(m, 1024);
    let (ready, reconciling, stalled) = match verdict {
        Verdict::Ready => (
            cond(
                READY,
                true,
                "Ready",
                &format!("serving at {}", status.endpoint.clone().unwrap_or_default()),
            ),
            cond(RECONCILING, false, "Ready", ""),
            cond(STALLED, false, "Ready", ""),
        ),
        Verdict::Reconciling { reason, message: m } => (
            cond(READY, false, reason, &message(m)),
            cond(RECONCILING, true, reason, &message(m)),
            cond(STALLED, false, reason, ""),
        ),
        Verdict::Stalled { reason, message: m } => (
            cond(READY, false, reason, &message(m)),
            cond(RECONCILING, false, reason, ""),
            cond(STALLED, true, reason, &message(m)),
        ),
    };
    let mut conditions = vec![ready, reconciling, stalled];
    match outcome {
        Some(outcome) => conditions.extend(outcome.parts.iter().map(part_condition)),
        // Keep what we knew of each part.
        None => conditions.extend(
            old.iter()
                .filter(|c| ![READY, RECONCILING, STALLED].contains(&c.type_.as_str()))
                .cloned(),
        ),
    }
    for c in &mut conditions {
        c.observed_generation = generation;
        if let Some(before) = old.iter().find(|o| o.type_ == c.type_ && o.status == c.status) {
            c.last_transition_time = before.last_transition_time.clone();
        }
    }
    status.conditions = conditions;
    status
}

/// A pass that read only some parts (`reconcile::follow_up`) reports only those: the
/// others keep what the previous status said of them, as a full pass at the same
/// generation found them.
pub fn keep_unreported(previous: Option<&PrivateApiStatus>, outcome: &mut Outcome) {
    let Some(previous) = previous else { return };
    let kept: Vec<PartStatus> = previous
        .conditions
        .iter()
        .filter_map(|c| {
            let condition = crate::reconcile::Condition::named(&c.type_)?;
            let reported = outcome.parts.iter().any(|p| p.condition == condition);
            (!reported).then(|| PartStatus {
                condition,
                ready: c.status == "True",
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
        })
        .collect();
    outcome.parts.extend(kept);
    outcome.parts.sort_by_key(|p| p.condition);
}

fn part_condition(part: &PartStatus) -> Condition {
    cond(part.condition.as_str(), part.ready, &part.reason, &part.message)
}

fn cond(type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: camel(reason),
        message: message.to_owned(),
        last_transition_time: Time(Timestamp::now()),
        observed_generation: None,
    }
}

/// Condition reasons must match `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`.
fn camel(reason: &str) -> String {
    let cleaned: String = reason
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_alphabetic()) {
        cleaned
    } else {
        format!("R{cleaned}")
    }
}

/// `s` cut to at most `max` bytes (on a character boundary), with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub fn condition<'a>(status: Option<&'a PrivateApiStatus>, type_: &str) -> Option<&'a Condition> {
    status?.conditions.iter().find(|c| c.type_ == type_)
}

pub fn is_ready(status: Option<&PrivateApiStatus>) -> bool {
    condition(status, READY).is_some_and(|c| c.status == "True")
}

/// Equal apart from timestamps: used to skip status writes that change nothing.
pub fn same_ignoring_time(a: &PrivateApiStatus, b: &PrivateApiStatus) -> bool {
    let strip = |s: &PrivateApiStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        }
        s
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{Change, Verb};

    fn ready_outcome() -> Outcome {
        Outcome {
            endpoint: Some("https://x.execute-api.eu-west-1.amazonaws.com/prod".into()),
            parts: vec![PartStatus::ready(crate::reconcile::Condition::Api, "ok")],
            ..Default::default()
        }
    }

    /// Parts a follow-up did not read keep the previous status's word; the parts it
    /// read say what it found; the overall conditions are not parts.
    #[test]
    fn unreported_parts_keep_the_previous_status() {
        let mut before = ready_outcome();
        before.parts = vec![
            PartStatus::ready(crate::reconcile::Condition::Roles, "3 roles"),
            PartStatus::ready(crate::reconcile::Condition::Cluster, "ACTIVE"),
            PartStatus::waiting(crate::reconcile::Condition::VpcLink, "Pending", "link PENDING"),
        ];
        let previous = next_status(None, Some(1), Some(&before), &Verdict::of(&before));
        let mut outcome = ready_outcome();
        outcome.parts = vec![PartStatus::ready(crate::reconcile::Condition::VpcLink, "AVAILABLE")];
        keep_unreported(Some(&previous), &mut outcome);
        let parts: Vec<(&str, bool, &str)> = outcome
            .parts
            .iter()
            .map(|p| (p.condition.as_str(), p.ready, p.message.as_str()))
            .collect();
        assert_eq!(
            parts,
            [
                ("RolesReady", true, "3 roles"),
                ("ClusterReady", true, "ACTIVE"),
                ("VpcLinkReady", true, "AVAILABLE"),
            ]
        );
        assert!(outcome.is_ready());
        // Nothing before: nothing kept.
        let mut alone = ready_outcome();
        alone.parts.clear();
        keep_unreported(None, &mut alone);
        assert!(alone.parts.is_empty());
    }

    #[test]
    fn ready_outcome_gives_kstatus_ready() {
        let outcome = ready_outcome();
        let s = next_status(None, Some(3), Some(&outcome), &Verdict::of(&outcome));
        assert!(is_ready(Some(&s)));
        assert_eq!(
            condition(Some(&s), RECONCILING).map(|c| c.status.as_str()),
            Some("False")
        );
        assert_eq!(condition(Some(&s), STALLED).map(|c| c.status.as_str()), Some("False"));
        assert_eq!(condition(Some(&s), "ApiReady").map(|c| c.status.as_str()), Some("True"));
        assert!(s.conditions.iter().all(|c| c.observed_generation == Some(3)));
        assert_eq!(s.observed_generation, Some(3));
    }

    #[test]
    fn changes_made_mean_reconciling() {
        let mut outcome = ready_outcome();
        outcome.changes.push(Change::new(
            Verb::Update,
            crate::reconcile::Part::EcsService,
            "svc",
            "desiredCount 1 → 2",
        ));
        let verdict = Verdict::of(&outcome);
        assert!(matches!(&verdict, Verdict::Reconciling { reason, .. } if reason == "Applied"));
    }

    #[test]
    fn transition_time_kept_when_nothing_flips() {
        let outcome = ready_outcome();
        let first = next_status(None, Some(1), Some(&outcome), &Verdict::Ready);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = next_status(Some(&first), Some(1), Some(&outcome), &Verdict::Ready);
        assert_eq!(first, second);
        let stalled = Verdict::Stalled {
            reason: "AwsRejected".into(),
            message: "AccessDenied".into(),
        };
        let third = next_status(Some(&second), Some(2), None, &stalled);
        assert_eq!(
            condition(Some(&third), STALLED).map(|c| c.status.as_str()),
            Some("True")
        );
        assert_eq!(third.endpoint, first.endpoint, "IDs survive an error");
        assert_eq!(
            condition(Some(&third), "ApiReady").map(|c| c.status.as_str()),
            Some("True")
        );
        assert!(same_ignoring_time(&first, &second));
        assert!(!same_ignoring_time(&second, &third));
    }

    #[test]
    fn reasons_are_valid_condition_reasons() {
        assert_eq!(camel("Load balancer: provisioning"), "Loadbalancerprovisioning");
        assert_eq!(camel("123"), "R123");
    }
}
