//! One error type for every AWS call, classified once so the reconciler can decide
//! between "retry soon", "wait longer" and "a human must act".

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub type AwsResult<T> = Result<T, AwsError>;

/// What the reconciler should do about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Network trouble, 5xx, throttling: back off and try again.
    Retry,
    /// The request is fine but AWS is not ready for it yet (a dependency still
    /// exists, a resource is still being deleted): try again later, not an error.
    Wait,
    /// AWS refuses the request as it stands (bad input, access denied, quota):
    /// report `Stalled` and retry only slowly.
    Terminal,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{operation}: {code}: {message}")]
    Api {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("{operation}: {message}")]
    Transport { operation: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    /// What the pass read changed before its write (another resource's write came
    /// first): the next pass reads again.
    #[error("{0}")]
    Changed(String),
    #[error("no AWS region: set spec.region, AWS_REGION or a profile region")]
    NoRegion,
    /// Held back by our own pacing under the account quota: not an AWS error. The text
    /// goes into `.status` and must not change while the object waits (no countdown):
    /// a different status would be written, its watch event would wake the object
    /// again, and so on.
    #[error("{operation} waits for its turn under the API Gateway account quota")]
    Paced {
        operation: &'static str,
        retry_after: std::time::Duration,
    },
    #[error("{operation}: AWS answered without {field}")]
    Incomplete {
        operation: &'static str,
        field: &'static str,
    },
}

/// Error codes meaning "it does not exist", across the services we call.
const NOT_FOUND: &[&str] = &[
    "NotFoundException",
    "NoSuchEntity",
    "LoadBalancerNotFound",
    "TargetGroupNotFound",
    "ListenerNotFound",
    "RuleNotFound",
    "ServiceNotFoundException",
    "ClusterNotFoundException",
    "InvalidGroup.NotFound",
    "InvalidPermission.NotFound",
    "ResourceNotFoundException",
    // AWS WAF: no such web ACL, or the resource has none.
    "WAFNonexistentItemException",
];

/// Codes that mean "not yet": a dependency or an ongoing operation blocks the call.
const WAIT: &[&str] = &[
    "DependencyViolation",
    "ResourceInUse",
    "ConflictException",
    "ClusterContainsServicesException",
    "ClusterContainsTasksException",
    "DeleteConflict",
    "ServiceNotActiveException",
    "IncorrectState",
    // Someone made it first (another `apply` of the same file, a create whose answer
    // was lost): the next pass looks again and adopts it if its tags say it is ours, or
    // reports the name conflict if not (elb::observe finds these by name, then tags).
    "DuplicateLoadBalancerName",
    "DuplicateTargetGroupName",
];

const RETRY: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "ServerException",
    "ServiceException",
    // AWS WAF cannot see a resource made moments ago (a new stage) yet.
    "WAFUnavailableEntityException",
];

impl AwsError {
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match &err {
            // A 5xx whose body names no error (a proxy's HTML page, a truncated answer):
            // AWS's side failed, not our request, so it is retried like any 5xx.
            SdkError::ServiceError(service)
                if service.err().code().is_none() && service.raw().status().is_server_error() =>
            {
                AwsError::Transport {
                    operation,
                    message: format!(
                        "HTTP {} with an answer that names no AWS error",
                        service.raw().status().as_u16()
                    ),
                }
            }
            SdkError::ServiceError(service) => {
                let inner = service.err();
                AwsError::Api {
                    operation,
                    code: inner.code().unwrap_or("Unknown").to_owned(),
                    message: inner.message().unwrap_or_default().to_owned(),
                }
            }
            _ => AwsError::Transport {
                operation,
                message: describe_chain(&err),
            },
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            AwsError::Api { message, .. } | AwsError::Transport { message, .. } => message,
            _ => "",
        }
    }

    pub fn is_not_found(&self) -> bool {
        let Some(code) = self.code() else {
            return false;
        };
        NOT_FOUND.contains(&code)
            || (code.starts_with("Invalid") && code.ends_with(".NotFound"))
            // ECS answers a missing task definition with a generic client error.
            || (code == "ClientException" && self.message().contains("Unable to describe task definition"))
    }

    pub fn disposition(&self) -> Disposition {
        match self {
            AwsError::Transport { .. } => Disposition::Retry,
            AwsError::Conflict(_) | AwsError::NoRegion => Disposition::Terminal,
            AwsError::Incomplete { .. } | AwsError::Changed(_) => Disposition::Retry,
            AwsError::Paced { .. } => Disposition::Wait,
            // A group our rule names went between our read and our write (a shared
            // link's group, deleted by its last user): the next pass reads again.
            AwsError::Api { operation, code, .. }
                if *operation == "AuthorizeSecurityGroupIngress" && code == "InvalidGroup.NotFound" =>
            {
                Disposition::Retry
            }
            // Every group a load balancer names is one we made: one missing went between
            // our read and our write (a load-balancer group's, deleted by its last member).
            AwsError::Api { operation, code, .. }
                if matches!(*operation, "CreateLoadBalancer" | "SetSecurityGroups")
                    && code == "InvalidSecurityGroup" =>
            {
                Disposition::Retry
            }
            // A load-balancer group's ALB (or its listener) deleted by its last member
            // between our read and our write: the next pass reads again and makes it.
            AwsError::Api { operation, .. }
                if matches!(*operation, "AddTags" | "CreateRule") && self.is_not_found() =>
            {
                Disposition::Retry
            }
            AwsError::Api { code, message, .. } => {
                if RETRY.contains(&code.as_str()) || code.ends_with("Exception") && code.starts_with("Internal") {
                    Disposition::Retry
                } else if WAIT.contains(&code.as_str())
                    || message.contains("referenced in")
                    || message.contains("currently in use")
                    || message.contains("is in use")
                    // IAM is eventually consistent: a role made seconds ago may not be assumable yet.
                    || message.contains("unable to assume")
                    // ECS wants the listener in place before the service.
                    || message.contains("does not have an associated load balancer")
                {
                    Disposition::Wait
                } else {
                    Disposition::Terminal
                }
            }
        }
    }
}

fn describe_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// `call.send().await.map_err(aws_err("Operation"))`
pub fn aws_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| AwsError::from_sdk(operation, err)
}

/// Turns "not found" into `Ok(None)`.
pub fn found<T>(result: AwsResult<T>) -> AwsResult<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, message: &str) -> AwsError {
        AwsError::Api {
            operation: "Op",
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn classifies_codes() {
        assert_eq!(api("TooManyRequestsException", "").disposition(), Disposition::Retry);
        assert_eq!(api("Throttling", "").disposition(), Disposition::Retry);
        assert_eq!(api("DependencyViolation", "").disposition(), Disposition::Wait);
        let vanished = AwsError::Api {
            operation: "AuthorizeSecurityGroupIngress",
            code: "InvalidGroup.NotFound".into(),
            message: String::new(),
        };
        assert_eq!(vanished.disposition(), Disposition::Retry);
        let unmade = AwsError::Api {
            operation: "CreateLoadBalancer",
            code: "InvalidSecurityGroup".into(),
            message: String::new(),
        };
        assert_eq!(unmade.disposition(), Disposition::Retry);
        assert_eq!(
            api(
                "BadRequestException",
                "Cannot delete vpc link. Vpc link 'x', is referenced in [ANY:abc]"
            )
            .disposition(),
            Disposition::Wait
        );
        assert_eq!(api("InvalidSubnetID.NotFound", "").disposition(), Disposition::Terminal);
        assert_eq!(api("AccessDenied", "").disposition(), Disposition::Terminal);
        assert_eq!(api("TooManyLoadBalancers", "").disposition(), Disposition::Terminal);
        assert_eq!(api("DuplicateTargetGroupName", "").disposition(), Disposition::Wait);
        assert_eq!(api("DuplicateLoadBalancerName", "").disposition(), Disposition::Wait);
    }

    #[test]
    fn paced_text_stays_the_same_while_waiting() {
        let paced = |secs| AwsError::Paced {
            operation: "DeleteRestApi",
            retry_after: std::time::Duration::from_secs(secs),
        };
        // It is written to .status: a countdown in it would rewrite the status (and wake
        // the object through its own watch event) at every retry.
        assert_eq!(paced(1400).to_string(), paced(3).to_string());
        assert_eq!(paced(3).disposition(), Disposition::Wait);
    }

    /// A service error with this status and body, as the SDK builds it.
    fn answered(status: u16, code: Option<&str>) -> AwsError {
        let meta = match code {
            Some(code) => aws_smithy_types::error::ErrorMetadata::builder().code(code).build(),
            None => aws_smithy_types::error::ErrorMetadata::builder().build(),
        };
        let raw = HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("a status code"),
            aws_smithy_types::body::SdkBody::from("<html>Bad Gateway</html>"),
        );
        let err: SdkError<aws_sdk_ecs::operation::create_cluster::CreateClusterError, HttpResponse> =
            SdkError::service_error(
                aws_sdk_ecs::operation::create_cluster::CreateClusterError::generic(meta),
                raw,
            );
        AwsError::from_sdk("CreateCluster", err)
    }

    #[test]
    fn a_server_error_aws_did_not_name_is_retried() {
        let unnamed = answered(502, None);
        assert_eq!(unnamed.disposition(), Disposition::Retry, "{unnamed}");
        assert!(unnamed.to_string().contains("HTTP 502"), "{unnamed}");
        // a client error without a name stays AWS's refusal
        assert_eq!(answered(400, None).disposition(), Disposition::Terminal);
        assert_eq!(answered(500, Some("AccessDenied")).code(), Some("AccessDenied"));
    }

    #[test]
    fn recognises_not_found() {
        assert!(api("LoadBalancerNotFound", "").is_not_found());
        assert!(api("InvalidGroup.NotFound", "").is_not_found());
        assert!(api("NotFoundException", "").is_not_found());
        assert!(!api("AccessDenied", "").is_not_found());
    }
}
