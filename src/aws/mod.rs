//! The AWS side of the operator: one module per part of the stack, plus the shared
//! client layer (SDK configuration, call accounting, pacing, error classification).
//!
//! Nothing in here knows about Kubernetes: a part is described by typed desired and
//! observed structs, found by its ownership tags, and changed by explicit calls.

pub mod authorizer;
pub mod certificate;
pub mod dns;
pub mod domain;
pub mod ecs;
pub mod elb;
pub mod error;
#[cfg(feature = "test-faults")]
pub mod faults;
pub mod http_api;
pub mod iam;
pub mod inventory;
pub mod lb_group;
pub mod log_group;
pub mod network;
pub mod ownership;
pub mod pacing;
pub mod partition;
pub mod queue_route;
pub mod resource_policy;
pub mod rest_api;
pub mod security_group;
pub mod shared_link;
pub mod stats;
pub mod transport;
pub mod usage_plan;
pub mod vpc_link;
pub mod vpc_link_v1;
pub mod web_acl;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_types::SdkConfig;

pub use error::{AwsError, AwsResult};
pub use iam::RoleSettings;

#[cfg(feature = "test-faults")]
pub use faults::{Fault, Faults};
pub use ownership::Owner;
pub use pacing::Pacer;
pub use stats::CallStats;

/// The SDK clients for one region, sharing call accounting and pacing.
#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
    pub ec2: aws_sdk_ec2::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub apigw: aws_sdk_apigateway::Client,
    pub apigwv2: aws_sdk_apigatewayv2::Client,
    pub acm: aws_sdk_acm::Client,
    /// Route 53 (global): the custom domain's records, when the spec names a zone.
    pub route53: aws_sdk_route53::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// AWS WAF (the stage's web ACL).
    pub wafv2: aws_sdk_wafv2::Client,
    pub stats: Arc<CallStats>,
    pub pacer: Arc<Pacer>,
    pub roles: Arc<RoleSettings>,
    /// Calls go to this URL (`AWS_ENDPOINT_URL`: an emulator, a proxy), not to the
    /// region's AWS endpoints.
    pub endpoint_override: bool,
    /// The region's endpoint was found in DNS once: not looked up again (pre-flight).
    pub region_resolved: Arc<tokio::sync::OnceCell<()>>,
    /// Held while a shared VPC link is looked for and made, or a shared link or
    /// load-balancer group joined, so that the resources of one operator never race
    /// each other to make the same link, nor to fill one past its limit
    /// (shared_link.rs, lb_group.rs).
    pub shared_link_making: Arc<tokio::sync::Mutex<()>>,
}

impl Aws {
    /// The API Gateway client, once the account-wide request quota has room.
    pub async fn apigw(&self) -> &aws_sdk_apigateway::Client {
        self.pacer.api_gateway_call().await;
        &self.apigw
    }

    /// The API Gateway V2 client (VPC links), under the same account-wide quota.
    pub async fn apigwv2(&self) -> &aws_sdk_apigatewayv2::Client {
        self.pacer.api_gateway_call().await;
        &self.apigwv2
    }

    fn from_sdk_config(
        config: &SdkConfig,
        stats: Arc<CallStats>,
        pacer: Arc<Pacer>,
        roles: Arc<RoleSettings>,
        #[cfg(feature = "test-faults")] faults: Arc<Faults>,
    ) -> Self {
        let counter = stats::CountingInterceptor::new(stats.clone());
        #[cfg(feature = "test-faults")]
        let faults = faults::FaultInterceptor(faults);
        macro_rules! client {
            ($krate:ident) => {{
                let conf = $krate::config::Builder::from(config).interceptor(counter.clone());
                #[cfg(feature = "test-faults")]
                let conf = conf.interceptor(faults.clone());
                $krate::Client::from_conf(conf.build())
            }};
        }
        Aws {
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            ec2: client!(aws_sdk_ec2),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            ecs: client!(aws_sdk_ecs),
            iam: client!(aws_sdk_iam),
            apigw: client!(aws_sdk_apigateway),
            apigwv2: client!(aws_sdk_apigatewayv2),
            acm: client!(aws_sdk_acm),
            route53: client!(aws_sdk_route53),
            logs: client!(aws_sdk_cloudwatchlogs),
            wafv2: client!(aws_sdk_wafv2),
            stats,
            pacer,
            roles,
            endpoint_override: config.endpoint_url().is_some(),
            region_resolved: Arc::default(),
            shared_link_making: Arc::default(),
        }
    }
}

/// The operator's retries (standard mode, 4 attempts), unless the user set the SDK's
/// own, in the environment (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`) or in the selected
/// shared-config profile (`max_attempts`, `retry_mode`): then the SDK reads them.
fn default_retries(env: impl Fn(&str) -> Option<String>, profile_sets_retries: bool) -> Option<RetryConfig> {
    let user_set = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
        .iter()
        .any(|name| env(name).is_some_and(|v| !v.trim().is_empty()));
    (!user_set && !profile_sets_retries).then(|| RetryConfig::standard().with_max_attempts(4))
}

/// Whether the shared config's selected profile (`AWS_PROFILE`, `AWS_CONFIG_FILE`, as
/// the SDK picks them) sets retries; a config that cannot be read sets none.
async fn profile_sets_retries(fs: &aws_types::os_shim_internal::Fs, env: &aws_types::os_shim_internal::Env) -> bool {
    match aws_config::profile::load(fs, env, &Default::default(), None).await {
        Ok(profiles) => ["max_attempts", "retry_mode"]
            .iter()
            .any(|key| profiles.get(key).is_some_and(|v| !v.trim().is_empty())),
        Err(_) => false,
    }
}

/// Bounds on AWS calls: an attempt that never answers (a dropped connection, a
/// black-holed endpoint) is abandoned and retried instead of holding a worker. The
/// slowest calls we make (DescribeSecurityGroups in a big account, GetRestApis) answer
/// in well under a second, so the default of 20 s per attempt leaves room for a slow region.
pub fn request_timeouts(attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5).min(attempt))
        .operation_attempt_timeout(attempt)
        // Every attempt of the standard retry policy, plus its backoff.
        .operation_timeout(attempt * 4 + Duration::from_secs(30))
        .build()
}

/// Hands out [`Aws`] clients per region, built once from the standard SDK
/// configuration (environment, profile, IRSA / Pod Identity, `AWS_ENDPOINT_URL`).
#[derive(Debug)]
pub struct AwsFactory {
    base: SdkConfig,
    stats: Arc<CallStats>,
    pacer: Arc<Pacer>,
    roles: Arc<RoleSettings>,
    #[cfg(feature = "test-faults")]
    faults: Arc<Faults>,
    by_region: Mutex<HashMap<String, Aws>>,
}

impl AwsFactory {
    pub async fn from_env(pacer: Pacer, attempt_timeout: Duration) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(transport::client())
            .timeout_config(request_timeouts(attempt_timeout));
        let (fs, env) = (
            aws_types::os_shim_internal::Fs::real(),
            aws_types::os_shim_internal::Env::real(),
        );
        let profile = profile_sets_retries(&fs, &env).await;
        if let Some(retry) = default_retries(|name| std::env::var(name).ok(), profile) {
            loader = loader.retry_config(retry);
        }
        Self::new(loader.load().await, pacer)
    }

    pub fn new(base: SdkConfig, pacer: Pacer) -> Self {
        AwsFactory {
            base,
            stats: Arc::new(CallStats::default()),
            pacer: Arc::new(pacer),
            roles: Arc::default(),
            #[cfg(feature = "test-faults")]
            faults: Arc::new(Faults::default()),
            by_region: Mutex::new(HashMap::new()),
        }
    }

    /// How every client of this factory makes roles (before the first `for_region`).
    pub fn with_role_settings(mut self, roles: RoleSettings) -> Self {
        self.roles = Arc::new(roles);
        self
    }

    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    pub fn stats(&self) -> Arc<CallStats> {
        self.stats.clone()
    }

    /// The fault injector shared by every client of this factory (inert unless armed).
    /// Built with the `test-faults` feature only: tests use it, the operator never does.
    #[cfg(feature = "test-faults")]
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// Clients for `region`, or for the configured default region when `None`.
    pub fn for_region(&self, region: Option<&str>) -> Result<Aws, AwsError> {
        let region = match region.map(str::to_owned).or_else(|| self.default_region()) {
            Some(r) if !r.is_empty() => r,
            _ => return Err(AwsError::NoRegion),
        };
        let mut cache = crate::sync::lock(&self.by_region);
        if let Some(aws) = cache.get(&region) {
            return Ok(aws.clone());
        }
        let config = self
            .base
            .to_builder()
            .region(aws_types::region::Region::new(region.clone()))
            .build();
        let aws = Aws::from_sdk_config(
            &config,
            self.stats.clone(),
            self.pacer.clone(),
            self.roles.clone(),
            #[cfg(feature = "test-faults")]
            self.faults.clone(),
        );
        cache.insert(region, aws.clone());
        Ok(aws)
    }
}

/// The name in an ARN: its last segment (`cluster/NAME`, `task-definition/FAMILY:REV`),
/// or the one before the id in Elastic Load Balancing's (`loadbalancer/app/NAME/ID`,
/// `targetgroup/NAME/ID`).
pub fn arn_name(arn: &str) -> &str {
    let mut segments = arn.rsplit('/');
    let last = segments.next().unwrap_or(arn);
    match segments.next() {
        Some(name) if arn.contains(":elasticloadbalancing:") => name,
        _ => last,
    }
}

/// Every page of a listing. `page(token)` fetches one page: its items and the next
/// token. The listing ends at a missing or empty token (moto answers last pages with
/// an empty one); pages may be empty and still have a next one (EC2 with filters does
/// that). A token seen before is an error: a partial listing must never pass for a
/// whole one (finding nothing of ours would mean creating it again).
pub async fn all_pages<T, F, Fut>(operation: &'static str, mut page: F) -> AwsResult<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = AwsResult<(Vec<T>, Option<String>)>>,
{
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        all.extend(items);
        match next.filter(|t| !t.is_empty()) {
            None => return Ok(all),
            Some(next) if !seen.insert(next.clone()) => {
                return Err(AwsError::Incomplete {
                    operation,
                    field: "a new page token (it repeated one)",
                });
            }
            Some(next) => token = Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_retry_settings_win_over_the_operators_default() {
        let none = |_: &str| None;
        assert_eq!(
            default_retries(none, false).map(|r| r.max_attempts()),
            Some(4),
            "nothing set: the operator's default"
        );
        let attempts = |name: &str| (name == "AWS_MAX_ATTEMPTS").then(|| "9".to_owned());
        assert!(
            default_retries(attempts, false).is_none(),
            "AWS_MAX_ATTEMPTS: the SDK's"
        );
        let mode = |name: &str| (name == "AWS_RETRY_MODE").then(|| "adaptive".to_owned());
        assert!(default_retries(mode, false).is_none(), "AWS_RETRY_MODE: the SDK's");
        assert!(default_retries(none, true).is_none(), "the profile's: the SDK's");
    }

    #[tokio::test]
    async fn a_profile_that_sets_retries_is_seen() {
        use aws_types::os_shim_internal::{Env, Fs};
        let config = "[default]\nregion = eu-west-1\n\n[profile slow]\nmax_attempts = 10\nretry_mode = adaptive\n";
        let fs = Fs::from_slice(&[("/home/u/.aws/config", config)]);
        let env = |profile: &str| {
            Env::from_slice(&[
                ("HOME", "/home/u"),
                ("AWS_CONFIG_FILE", "/home/u/.aws/config"),
                ("AWS_PROFILE", profile),
            ])
        };
        assert!(profile_sets_retries(&fs, &env("slow")).await);
        assert!(!profile_sets_retries(&fs, &env("default")).await);
        // No config at all: none set.
        assert!(!profile_sets_retries(&Fs::from_slice(&[]), &env("default")).await);
    }

    /// Pages served from a script: (items, next token) per call, and the tokens asked for.
    async fn list(script: Vec<(Vec<u32>, Option<&'static str>)>) -> (AwsResult<Vec<u32>>, Vec<Option<String>>) {
        let asked = Mutex::new(Vec::new());
        let pages = Mutex::new(script.into_iter());
        let items = all_pages("ListThings", |token| {
            crate::sync::lock(&asked).push(token);
            let page = crate::sync::lock(&pages).next();
            async move {
                let (items, next) = page.expect("no page asked past the last one");
                Ok((items, next.map(str::to_owned)))
            }
        })
        .await;
        (items, asked.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    #[tokio::test]
    async fn all_pages_follows_tokens_through_empty_pages() {
        let (items, asked) = list(vec![(vec![1, 2], Some("a")), (vec![], Some("b")), (vec![3], None)]).await;
        assert_eq!(items.expect("listing"), [1, 2, 3]);
        assert_eq!(asked, [None, Some("a".into()), Some("b".into())]);
    }

    #[tokio::test]
    async fn all_pages_stops_at_an_empty_token_and_refuses_a_repeated_one() {
        let (items, asked) = list(vec![(vec![1], Some(""))]).await;
        assert_eq!((items.expect("listing"), asked.len()), (vec![1], 1));
        let (items, asked) = list(vec![(vec![1], Some("a")), (vec![2], Some("a"))]).await;
        assert_eq!(asked.len(), 2);
        let error = items.expect_err("a repeated token is not the end of the listing");
        assert!(error.to_string().starts_with("ListThings: "), "{error}");
        assert_eq!(error.disposition(), error::Disposition::Retry);
    }
}
