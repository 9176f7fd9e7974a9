//! The operator's error type. Every variant answers one question: is it worth
//! retrying soon, or must a human change something first?

use crate::aws::error::{AwsError, Disposition};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("AWS {0}")]
    Aws(#[from] AwsError),

    #[error("invalid spec: {}", .0.join("; "))]
    InvalidSpec(Vec<String>),

    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),

    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

    #[error("object has no {0}")]
    MissingObjectKey(&'static str),

    #[error("{path}: {message}")]
    Input { path: String, message: String },

    /// A state of AWS the operator will not build on (a cluster the spec names is
    /// missing, the ALB failed, …): the operator's own judgement, not an AWS error.
    #[error("{message}")]
    Stuck {
        part: crate::reconcile::Part,
        reason: &'static str,
        message: String,
    },

    /// A pre-flight check before the first write found input AWS would refuse
    /// (subnets in one zone, a task definition over 64 KiB, a region without endpoints).
    #[error("{message}")]
    Preflight { reason: &'static str, message: String },

    /// The operator runs with `--no-role-creation` and the spec leaves a role to it.
    #[error("{0}")]
    RoleCreationDisabled(String),

    /// The installer's namespace policy does not allow what the spec names (each
    /// entry: the field, its value and what is allowed). Found before any AWS call.
    #[error("{}", .0.join("; "))]
    PolicyDenied(Vec<String>),

    /// A step needed an ID the pass never learned: a bug, retried.
    #[error("internal: {0} not known when needed")]
    Unresolved(String),

    /// Teardown is under way and waits on AWS; not a failure. Look again after
    /// `retry_after`.
    #[error("deletion in progress: {message}")]
    DeletionPending {
        message: String,
        retry_after: std::time::Duration,
    },
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error::Kube(e)
    }
}

impl Error {
    /// The error an apply or a cleanup failed with, when the finalizer helper wraps
    /// one; the error itself otherwise. Every question below is asked of this.
    fn cause(&self) -> &Error {
        match self {
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e) | kube::runtime::finalizer::Error::CleanupFailed(e) => {
                    e.cause()
                }
                _ => self,
            },
            _ => self,
        }
    }

    /// Terminal errors need a change of spec (or of the AWS account) to go away;
    /// the resource goes `Stalled` and is retried only slowly.
    pub fn is_terminal(&self) -> bool {
        match self.cause() {
            Error::Aws(e) => e.disposition() == Disposition::Terminal,
            Error::InvalidSpec(_) | Error::Input { .. } | Error::MissingObjectKey(_) | Error::Stuck { .. } => true,
            Error::RoleCreationDisabled(_) | Error::PolicyDenied(_) | Error::Preflight { .. } => true,
            Error::Kube(_) | Error::DeletionPending { .. } | Error::Finalizer(_) | Error::Unresolved(_) => false,
        }
    }

    /// A "not yet" answer from AWS (dependency still there): wait, do not alarm.
    pub fn is_wait(&self) -> bool {
        match self.cause() {
            Error::Aws(e) => e.disposition() == Disposition::Wait,
            Error::DeletionPending { .. } => true,
            _ => false,
        }
    }

    /// When AWS (or our pacing under its quotas) said when to come back.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self.cause() {
            Error::Aws(AwsError::Paced { retry_after, .. }) | Error::DeletionPending { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The condition reason shown to users, in CamelCase.
    pub fn reason(&self) -> &'static str {
        match self.cause() {
            Error::Aws(AwsError::Conflict(_)) => "NameConflict",
            Error::Aws(AwsError::NoRegion) => "NoRegion",
            Error::Aws(AwsError::Paced { .. }) => "Paced",
            Error::Aws(e) => match e.disposition() {
                Disposition::Terminal => "AwsRejected",
                Disposition::Wait => "AwsDependency",
                Disposition::Retry => "AwsUnavailable",
            },
            Error::InvalidSpec(_) | Error::Input { .. } => "InvalidSpec",
            Error::Kube(_) => "KubernetesError",
            Error::Finalizer(_) => "FinalizerError",
            Error::MissingObjectKey(_) => "InvalidObject",
            Error::DeletionPending { .. } => "Deleting",
            Error::Stuck { reason, .. } | Error::Preflight { reason, .. } => reason,
            Error::Unresolved(_) => "InternalError",
            Error::RoleCreationDisabled(_) => "RoleCreationDisabled",
            Error::PolicyDenied(_) => "PolicyDenied",
        }
    }

    /// Label for the errors metric.
    pub fn metric_label(&self) -> String {
        self.reason().to_owned()
    }
}
