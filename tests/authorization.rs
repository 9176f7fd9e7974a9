//! `api.authorization` against the AWS emulator, one test per mode (REST: IAM,
//! COGNITO, LAMBDA; HTTP: IAM, JWT, LAMBDA): create → Ready with every method or route
//! (the service proxy's and the queue routes') authorized, a steady pass makes no
//! write, a change of the settings is repaired (a new authorizer, the old one gone, a
//! REST API redeployed once), a method or route changed behind the operator's back is
//! set back, back to NONE leaves no authorizer, and teardown leaves nothing.

mod common;

use common::*;
use privateapi::aws::Aws;
use privateapi::aws::authorizer::NAME_PREFIX;
use privateapi::crd::{ApiType, PrivateApiSpec};
use privateapi::reconcile::{self, Mode, Outcome};

const QUEUE: &str = "arn:aws:sqs:eu-west-1:123456789012:orders";
const POOL: &str = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123";
const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:authz";

fn authorized(mut spec: PrivateApiSpec, api_type: ApiType, yaml: &str) -> PrivateApiSpec {
    spec.api.api_type = api_type;
    spec.api.routes = serde_norway::from_str(&format!(
        "- {{method: POST, path: /orders, sqs: {{queueArn: {QUEUE}}}}}"
    ))
    .expect("routes parse");
    spec.api.authorization = serde_norway::from_str(yaml).expect("authorization parses");
    spec.validate().expect("a valid spec");
    spec
}

/// Every method (REST) or route (HTTP) of the API: (name, authorizationType,
/// authorizerId, scopes); and our authorizers: (id, type).
type Methods = Vec<(String, String, Option<String>, Vec<String>)>;

async fn authorization(aws: &Aws, outcome: &Outcome) -> (Methods, Vec<(String, String)>) {
    let ids = &outcome.resources;
    if let Some(api) = &ids.rest_api_id {
        let resources = aws
            .apigw
            .get_resources()
            .rest_api_id(api)
            .embed("methods")
            .send()
            .await
            .expect("GetResources");
        let mut methods: Methods = Vec::new();
        for resource in resources.items() {
            for (verb, method) in resource.resource_methods().into_iter().flatten() {
                methods.push((
                    format!("{verb} {}", resource.path().unwrap_or_default()),
                    method.authorization_type().unwrap_or_default().to_owned(),
                    method.authorizer_id().map(str::to_owned).filter(|id| !id.is_empty()),
                    method.authorization_scopes().to_vec(),
                ));
            }
        }
        methods.sort();
        let authorizers = aws
            .apigw
            .get_authorizers()
            .rest_api_id(api)
            .send()
            .await
            .expect("GetAuthorizers");
        let ours = authorizers
            .items()
            .iter()
            .filter(|a| a.name().is_some_and(|n| n.starts_with(NAME_PREFIX)))
            .map(|a| {
                let kind = a.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default();
                (a.id().unwrap_or_default().to_owned(), kind)
            })
            .collect();
        return (methods, ours);
    }
    let api = ids.http_api_id.clone().expect("an API");
    let routes = aws.apigwv2.get_routes().api_id(&api).send().await.expect("GetRoutes");
    let mut methods: Methods = routes
        .items()
        .iter()
        .map(|r| {
            (
                r.route_key().unwrap_or_default().to_owned(),
                r.authorization_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                r.authorizer_id().map(str::to_owned).filter(|id| !id.is_empty()),
                r.authorization_scopes().to_vec(),
            )
        })
        .collect();
    methods.sort();
    let authorizers = aws
        .apigwv2
        .get_authorizers()
        .api_id(&api)
        .send()
        .await
        .expect("GetAuthorizers");
    let ours = authorizers
        .items()
        .iter()
        .filter(|a| a.name().is_some_and(|n| n.starts_with(NAME_PREFIX)))
        .map(|a| {
            let kind = a.authorizer_type().map(|t| t.as_str().to_owned()).unwrap_or_default();
            (a.authorizer_id().unwrap_or_default().to_owned(), kind)
        })
        .collect();
    (methods, ours)
}

/// Every method or route has `method` (with the one authorizer of ours of `kind`, named
/// in the status, when `kind` is given) and `scopes`.
async fn assert_authorized(aws: &Aws, outcome: &Outcome, method: &str, kind: Option<&str>, scopes: &[&str]) {
    let (methods, authorizers) = authorization(aws, outcome).await;
    // REST: ANY /, ANY /{proxy+}, POST /orders; HTTP: ANY /{proxy+}, $default, POST /orders.
    assert_eq!(methods.len(), 3, "{methods:#?}");
    let authorizer = match kind {
        Some(kind) => {
            let [(id, found)] = authorizers.as_slice() else {
                panic!("one authorizer of ours: {authorizers:?}");
            };
            assert_eq!(found, kind);
            assert_eq!(
                outcome.resources.authorizer_id.as_ref(),
                Some(id),
                "the status names it"
            );
            Some(id.clone())
        }
        None => {
            assert_eq!(authorizers, [], "no authorizer of ours is left");
            assert_eq!(outcome.resources.authorizer_id, None);
            None
        }
    };
    for (name, got, id, got_scopes) in &methods {
        assert_eq!(got, method, "{name}: {methods:#?}");
        if authorizer.is_some() {
            assert_eq!(id, &authorizer, "{name}");
        }
        assert_eq!(got_scopes, scopes, "{name}");
    }
}

/// A pass over an unchanged resource: Ready, nothing changed, no write.
async fn assert_steady(aws: &Aws, owner: &privateapi::aws::Owner, spec: &PrivateApiSpec) {
    let before = aws.stats.snapshot();
    let again = Box::pin(reconcile::converge(aws, owner, spec, Mode::Apply))
        .await
        .expect("a steady pass");
    let calls = aws.stats.snapshot().since(&before);
    assert!(again.is_ready() && again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(calls.writes(), 0, "{:?}", calls.write_operations());
}

/// The number of CreateDeployment calls since `before`.
fn deployments(aws: &Aws, before: &privateapi::aws::stats::CallSnapshot) -> u64 {
    aws.stats.snapshot().since(before).count("CreateDeployment")
}

/// Every drift-check probe of the stack in sync finds nothing (the authorizer's id
/// from the status, as the check reads no authorizer).
async fn assert_no_drift(aws: &Aws, owner: &privateapi::aws::Owner, spec: &PrivateApiSpec, outcome: &Outcome) {
    use privateapi::aws::inventory::Inventory;
    let inventory = Inventory::load(aws).await.expect("inventory");
    for probe in reconcile::drift::probes(spec) {
        let found = Box::pin(reconcile::drift::check(
            aws,
            &inventory,
            owner,
            spec,
            &outcome.resources,
            probe,
        ))
        .await
        .expect("check");
        assert!(found.is_empty(), "{probe:?}: {found:?}");
    }
}

/// Behind the operator's back: the proxy's method (REST) or route (HTTP) is opened.
async fn open_by_hand(aws: &Aws, outcome: &Outcome) {
    if let Some(api) = &outcome.resources.rest_api_id {
        let resources = aws
            .apigw
            .get_resources()
            .rest_api_id(api)
            .send()
            .await
            .expect("GetResources");
        let proxy = resources
            .items()
            .iter()
            .find(|r| r.path() == Some("/{proxy+}"))
            .and_then(|r| r.id())
            .expect("the proxy resource");
        privateapi::aws::authorizer::update_method(
            aws,
            api,
            proxy,
            "ANY",
            &privateapi::aws::authorizer::Auth::none(),
            &[],
        )
        .await
        .expect("UpdateMethod by hand");
    } else {
        let api = outcome.resources.http_api_id.clone().expect("an API");
        let routes = aws.apigwv2.get_routes().api_id(&api).send().await.expect("GetRoutes");
        let route = routes
            .items()
            .iter()
            .find(|r| r.route_key() == Some("$default"))
            .and_then(|r| r.route_id())
            .expect("the $default route");
        privateapi::aws::authorizer::update_route(aws, &api, route, &privateapi::aws::authorizer::Auth::none())
            .await
            .expect("UpdateRoute by hand");
    }
}

/// The whole life of an authorized stack: `first` (methods `first_method`, authorizer
/// `first_kind`), then `changed` (`changed_kind`), drift, back to NONE, teardown.
#[allow(clippy::too_many_arguments)]
async fn life(
    test: &str,
    api_type: ApiType,
    first: &str,
    (first_method, first_kind, first_scopes): (&str, Option<&str>, &[&str]),
    changed: &str,
    (changed_method, changed_kind, changed_scopes): (&str, Option<&str>, &[&str]),
) {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner(test);
    let spec = authorized(spec(&vpc, &subnets), api_type, first);

    let outcome = until_ready(&aws, &owner, &spec, 5).await;
    assert_authorized(&aws, &outcome, first_method, first_kind, first_scopes).await;
    assert_steady(&aws, &owner, &spec).await;
    assert_no_drift(&aws, &owner, &spec, &outcome).await;

    // The settings change: a new authorizer (if any), every method moves, the old goes;
    // a REST API is redeployed once.
    let changed_spec = authorized(spec.clone(), api_type, changed);
    let before = aws.stats.snapshot();
    let outcome = until_ready(&aws, &owner, &changed_spec, 3).await;
    assert_authorized(&aws, &outcome, changed_method, changed_kind, changed_scopes).await;
    let redeployed = deployments(&aws, &before);
    assert_eq!(redeployed, u64::from(api_type == ApiType::Rest), "deployments made");
    assert_steady(&aws, &owner, &changed_spec).await;

    // Opened behind the operator's back: closed again, without a new deployment (the
    // stage's snapshot is the operator's).
    open_by_hand(&aws, &outcome).await;
    let before = aws.stats.snapshot();
    let outcome = until_ready(&aws, &owner, &changed_spec, 3).await;
    assert_authorized(&aws, &outcome, changed_method, changed_kind, changed_scopes).await;
    assert_eq!(deployments(&aws, &before), 0);

    // Back to NONE: no authorizer of ours remains; the role a Lambda authorizer
    // needed goes unless a queue route still needs it.
    let open = authorized(spec.clone(), api_type, "{type: NONE}");
    let outcome = until_ready(&aws, &owner, &open, 3).await;
    assert_authorized(&aws, &outcome, "NONE", None, &[]).await;
    assert_steady(&aws, &owner, &open).await;

    until_gone(&aws, &owner, &changed_spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn rest_api_with_iam_authorization() {
    life(
        "auth-rest-iam",
        ApiType::Rest,
        "{type: IAM}",
        ("AWS_IAM", None, &[]),
        &format!("{{type: COGNITO, cognito: {{userPoolArns: ['{POOL}']}}}}"),
        ("COGNITO_USER_POOLS", Some("COGNITO_USER_POOLS"), &[]),
    )
    .await;
}

#[tokio::test]
async fn rest_api_with_a_cognito_user_pool() {
    life(
        "auth-rest-cognito",
        ApiType::Rest,
        &format!("{{type: COGNITO, cognito: {{userPoolArns: ['{POOL}'], scopes: [orders/read]}}}}"),
        ("COGNITO_USER_POOLS", Some("COGNITO_USER_POOLS"), &["orders/read"]),
        &format!("{{type: COGNITO, cognito: {{userPoolArns: ['{POOL}'], scopes: [orders/write]}}}}"),
        ("COGNITO_USER_POOLS", Some("COGNITO_USER_POOLS"), &["orders/write"]),
    )
    .await;
}

#[tokio::test]
async fn rest_api_with_a_lambda_authorizer_invoked_through_our_role() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("auth-rest-lambda-role");
    let spec = authorized(
        spec(&vpc, &subnets),
        ApiType::Rest,
        &format!("{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}'}}}}"),
    );
    let outcome = until_ready(&aws, &owner, &spec, 5).await;
    // The authorizer's credentials are the API Gateway role, which may invoke exactly
    // the function (and send to the route's queue).
    let role = outcome
        .resources
        .api_gateway_role_arn
        .clone()
        .expect("API Gateway's role");
    let api = outcome.resources.rest_api_id.clone().expect("the API");
    let authorizers = aws
        .apigw
        .get_authorizers()
        .rest_api_id(&api)
        .send()
        .await
        .expect("GetAuthorizers");
    let [authorizer] = authorizers.items() else {
        panic!("one authorizer: {authorizers:?}");
    };
    assert_eq!(authorizer.authorizer_credentials(), Some(role.as_str()));
    assert_eq!(
        authorizer.identity_source(),
        Some("method.request.header.Authorization")
    );
    assert!(
        authorizer.authorizer_uri().is_some_and(|uri| uri.contains(FUNCTION)),
        "{authorizer:?}"
    );
    let name = role.rsplit('/').next().unwrap_or_default();
    let policies = aws
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .expect("ListRolePolicies");
    let mut documents = Vec::new();
    for policy in policies.policy_names() {
        let document = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .expect("GetRolePolicy");
        documents.push(document.policy_document().to_owned());
    }
    let invoking: Vec<&String> = documents
        .iter()
        .filter(|d| d.contains("lambda%3AInvokeFunction") || d.contains("lambda:InvokeFunction"))
        .collect();
    assert_eq!(invoking.len(), 1, "{documents:?}");
    assert!(
        invoking[0].contains("function%3Aauthz") || invoking[0].contains("function:authz"),
        "{invoking:?}"
    );
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());

    life(
        "auth-rest-lambda",
        ApiType::Rest,
        &format!("{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}'}}}}"),
        ("CUSTOM", Some("REQUEST"), &[]),
        &format!(
            "{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}', identitySource: X-Api-Token, resultTtlSeconds: 0}}}}"
        ),
        ("CUSTOM", Some("REQUEST"), &[]),
    )
    .await;
}

#[tokio::test]
async fn http_api_with_iam_authorization() {
    life(
        "auth-http-iam",
        ApiType::Http,
        "{type: IAM}",
        ("AWS_IAM", None, &[]),
        "{type: JWT, jwt: {issuer: 'https://id.example.com', audiences: [orders]}}",
        ("JWT", Some("JWT"), &[]),
    )
    .await;
}

#[tokio::test]
async fn http_api_with_a_jwt_authorizer() {
    life(
        "auth-http-jwt",
        ApiType::Http,
        "{type: JWT, jwt: {issuer: 'https://id.example.com', audiences: [orders]}}",
        ("JWT", Some("JWT"), &[]),
        "{type: JWT, jwt: {issuer: 'https://id.example.com', audiences: [orders, admin]}}",
        ("JWT", Some("JWT"), &[]),
    )
    .await;
}

#[tokio::test]
async fn http_api_with_a_lambda_authorizer() {
    life(
        "auth-http-lambda",
        ApiType::Http,
        &format!("{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}'}}}}"),
        ("CUSTOM", Some("REQUEST"), &[]),
        &format!("{{type: LAMBDA, lambda: {{functionArn: '{FUNCTION}:live', resultTtlSeconds: 0}}}}"),
        ("CUSTOM", Some("REQUEST"), &[]),
    )
    .await;
}

/// The REST API as AWS lists it: (endpoint types, VPC endpoints, policy with its
/// quotes unescaped).
async fn access(aws: &Aws, api: &str) -> (Vec<String>, Vec<String>, Option<String>) {
    let got = aws
        .apigw
        .get_rest_api()
        .rest_api_id(api)
        .send()
        .await
        .expect("GetRestApi");
    let endpoint = got.endpoint_configuration();
    let types = endpoint
        .map(|e| e.types().iter().map(|t| t.as_str().to_owned()).collect())
        .unwrap_or_default();
    let mut endpoints: Vec<String> = endpoint.map(|e| e.vpc_endpoint_ids().to_vec()).unwrap_or_default();
    endpoints.sort();
    let policy = got.policy().filter(|p| !p.is_empty()).map(|p| p.replace("\\\"", "\""));
    (types, endpoints, policy)
}

const VPCE_A: &str = "vpce-0a1b2c3d4e5f6a7b8";
const VPCE_B: &str = "vpce-0b1b2c3d4e5f6a7b8";

#[tokio::test]
async fn a_private_rest_api_is_reachable_only_through_its_vpc_endpoints() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("private-api");
    let mut spec = spec(&vpc, &subnets);
    spec.api.endpoint_type = privateapi::crd::EndpointType::Private;
    spec.api.vpc_endpoint_ids = vec![VPCE_A.into()];
    spec.api.resource_policy = Some(privateapi::crd::ResourcePolicySpec {
        source_ips: vec!["10.0.0.0/16".into()],
        vpc_endpoint_ids: Vec::new(),
    });
    spec.validate().expect("a valid spec");

    // AWS deploys no PRIVATE API without a policy (the emulator refuses it too): the
    // policy is written before the first deployment.
    let outcome = until_ready(&aws, &owner, &spec, 5).await;
    let api = outcome.resources.rest_api_id.clone().expect("the API");
    let (types, endpoints, policy) = access(&aws, &api).await;
    assert_eq!(
        (types, endpoints),
        (vec!["PRIVATE".to_owned()], vec![VPCE_A.to_owned()])
    );
    let policy = policy.expect("a resource policy");
    assert!(
        policy.contains("aws:SourceVpce") && policy.contains(VPCE_A) && policy.contains("aws:VpcSourceIp"),
        "{policy}"
    );
    assert_steady(&aws, &owner, &spec).await;

    // A second endpoint: associated, allowed by the policy, deployed once.
    let mut two = spec.clone();
    two.api.vpc_endpoint_ids.push(VPCE_B.into());
    let before = aws.stats.snapshot();
    let outcome = until_ready(&aws, &owner, &two, 3).await;
    assert_eq!(deployments(&aws, &before), 1);
    let (_, endpoints, policy) = access(&aws, &api).await;
    assert_eq!(endpoints, [VPCE_A, VPCE_B]);
    assert!(policy.is_some_and(|p| p.contains(VPCE_B)));
    assert_steady(&aws, &owner, &two).await;
    assert_no_drift(&aws, &owner, &two, &outcome).await;

    until_gone(&aws, &owner, &two, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn a_regional_rest_api_resource_policy_is_written_and_removed() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("resource-policy");
    let open = spec(&vpc, &subnets);
    let mut limited = open.clone();
    limited.api.resource_policy = Some(privateapi::crd::ResourcePolicySpec {
        source_ips: vec!["203.0.113.0/24".into()],
        vpc_endpoint_ids: Vec::new(),
    });
    let outcome = until_ready(&aws, &owner, &limited, 5).await;
    let api = outcome.resources.rest_api_id.clone().expect("the API");
    let (types, _, policy) = access(&aws, &api).await;
    assert_eq!(types, ["REGIONAL"]);
    assert!(policy.is_some_and(|p| p.contains("203.0.113.0/24") && p.contains("aws:SourceIp")));
    assert_steady(&aws, &owner, &limited).await;

    let before = aws.stats.snapshot();
    until_ready(&aws, &owner, &open, 3).await;
    assert_eq!(deployments(&aws, &before), 1, "the policy's removal is deployed");
    assert_eq!(access(&aws, &api).await.2, None);
    assert_steady(&aws, &owner, &open).await;
    until_gone(&aws, &owner, &open, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

// ------------------------------------------------------------ API keys and WAF

/// Our usage plans and API keys (by the uid tag): (plan id, its stages, its quota
/// limit, its rate limit, the ids of its keys), (key id, key name).
async fn keys_of(
    aws: &Aws,
    owner: &privateapi::aws::Owner,
) -> (
    Vec<(String, Vec<String>, Option<i32>, Option<f64>, Vec<String>)>,
    Vec<(String, String)>,
) {
    let ours = |tags: Option<&std::collections::HashMap<String, String>>| {
        tags.and_then(|t| t.get("privateapi.io/uid")) == Some(&owner.uid)
    };
    let plans = aws
        .apigw
        .get_usage_plans()
        .limit(500)
        .send()
        .await
        .expect("GetUsagePlans");
    let mut found = Vec::new();
    for plan in plans.items().iter().filter(|p| ours(p.tags())) {
        let id = plan.id().unwrap_or_default().to_owned();
        let keys = aws
            .apigw
            .get_usage_plan_keys()
            .usage_plan_id(&id)
            .send()
            .await
            .expect("GetUsagePlanKeys");
        found.push((
            id,
            plan.api_stages()
                .iter()
                .map(|s| format!("{}:{}", s.api_id().unwrap_or_default(), s.stage().unwrap_or_default()))
                .collect(),
            plan.quota().map(|q| q.limit()),
            plan.throttle().map(|t| t.rate_limit()),
            keys.items().iter().filter_map(|k| k.id().map(str::to_owned)).collect(),
        ));
    }
    let keys = aws.apigw.get_api_keys().limit(500).send().await.expect("GetApiKeys");
    let keys = keys
        .items()
        .iter()
        .filter(|k| ours(k.tags()))
        .map(|k| {
            (
                k.id().unwrap_or_default().to_owned(),
                k.name().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (found, keys)
}

/// Whether every method of the API requires an API key (and how many methods).
async fn keys_required(aws: &Aws, api: &str) -> (usize, usize) {
    let resources = aws
        .apigw
        .get_resources()
        .rest_api_id(api)
        .embed("methods")
        .send()
        .await
        .expect("GetResources");
    let methods: Vec<bool> = resources
        .items()
        .iter()
        .flat_map(|r| r.resource_methods().into_iter().flatten())
        .map(|(_, m)| m.api_key_required().unwrap_or(false))
        .collect();
    (methods.iter().filter(|k| **k).count(), methods.len())
}

/// The stage's web ACL as AWS WAF and API Gateway report it.
async fn web_acl_of(aws: &Aws, api: &str, stage: &str) -> (Option<String>, Option<String>) {
    let arn = privateapi::aws::rest_api::stage_arn(&aws.region, api, stage);
    let waf = aws
        .wafv2
        .get_web_acl_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("GetWebACLForResource");
    let stage = aws
        .apigw
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("GetStage");
    (
        waf.web_acl().map(|a| a.arn().to_owned()),
        stage.web_acl_arn().map(str::to_owned),
    )
}

async fn make_web_acl(aws: &Aws, name: &str) -> String {
    use aws_sdk_wafv2::types::{AllowAction, DefaultAction, Scope, VisibilityConfig};
    let out = aws
        .wafv2
        .create_web_acl()
        .name(name)
        .scope(Scope::Regional)
        .default_action(DefaultAction::builder().allow(AllowAction::builder().build()).build())
        .visibility_config(
            VisibilityConfig::builder()
                .sampled_requests_enabled(false)
                .cloud_watch_metrics_enabled(false)
                .metric_name(name)
                .build()
                .expect("visibility"),
        )
        .send()
        .await
        .expect("CreateWebACL");
    out.summary().and_then(|s| s.arn()).expect("an ARN").to_owned()
}

fn with_keys(mut spec: PrivateApiSpec, yaml: &str) -> PrivateApiSpec {
    spec.api.usage_plan = Some(serde_norway::from_str(yaml).expect("usage plan parses"));
    spec.validate().expect("a valid spec");
    spec
}

#[tokio::test]
async fn api_keys_a_usage_plan_and_a_web_acl_are_made_changed_in_place_and_removed() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("api-keys");
    let acl = make_web_acl(&aws, &format!("acl-{:x}", rand::random::<u32>())).await;
    let other_acl = make_web_acl(&aws, &format!("acl2-{:x}", rand::random::<u32>())).await;
    let mut base = authorized(spec(&vpc, &subnets), ApiType::Rest, "{type: IAM}");
    base.api.web_acl_arn = Some(acl.clone());
    let keyed = with_keys(
        base.clone(),
        "{throttle: {rateLimit: 10, burstLimit: 20}, quota: {limit: 1000, period: DAY}, apiKeys: [{name: partner-a}, {name: partner-b}]}",
    );

    // Made: two keys on one plan that names the stage, every method requires a key,
    // the stage has the web ACL.
    let outcome = until_ready(&aws, &owner, &keyed, 5).await;
    let api = outcome.resources.rest_api_id.clone().expect("the API");
    let (plans, keys) = keys_of(&aws, &owner).await;
    assert_eq!(plans.len(), 1, "{plans:?}");
    let (plan, stages, quota, rate, linked) = &plans[0];
    assert_eq!(stages, &[format!("{api}:prod")]);
    assert_eq!((*quota, *rate), (Some(1000), Some(10.0)));
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut linked = linked.clone();
    linked.sort();
    let mut key_ids: Vec<String> = keys.iter().map(|(id, _)| id.clone()).collect();
    key_ids.sort();
    assert_eq!(linked, key_ids);
    assert!(keys.iter().any(|(_, name)| name.ends_with("-partner-a")), "{keys:?}");
    assert_eq!(outcome.resources.usage_plan_id.as_ref(), Some(plan));
    let mut status_ids: Vec<String> = outcome.resources.api_key_ids.values().cloned().collect();
    status_ids.sort();
    assert_eq!(status_ids, key_ids);
    assert_eq!(
        outcome.resources.api_key_ids.keys().collect::<Vec<_>>(),
        ["partner-a", "partner-b"]
    );
    let (required, methods) = keys_required(&aws, &api).await;
    assert_eq!(
        (required, methods),
        (methods, 3),
        "ANY /, ANY /{{proxy+}}, POST /orders"
    );
    assert_eq!(
        web_acl_of(&aws, &api, "prod").await,
        (Some(acl.clone()), Some(acl.clone()))
    );
    assert_eq!(outcome.resources.web_acl_arn.as_deref(), Some(acl.as_str()));
    assert_steady(&aws, &owner, &keyed).await;
    assert_no_drift(&aws, &owner, &keyed, &outcome).await;

    // No key value anywhere the operator writes: the status, the changes (Events).
    let mut values = Vec::new();
    for id in &key_ids {
        let key = aws
            .apigw
            .get_api_key()
            .api_key(id)
            .include_value(true)
            .send()
            .await
            .expect("GetApiKey");
        values.push(key.value().expect("a value").to_owned());
    }
    let shown = format!(
        "{} {:?}",
        serde_json::to_string(&outcome.resources).expect("json"),
        outcome.changes
    );
    for value in &values {
        assert!(
            value.len() >= 20 && !shown.contains(value.as_str()),
            "a key value in the status"
        );
    }

    // The quota and throttle changed: patched in place, no redeploy, no key made.
    let changed = with_keys(
        base.clone(),
        "{throttle: {rateLimit: 2.5, burstLimit: 5}, quota: {limit: 5000, period: WEEK, offset: 2}, apiKeys: [{name: partner-a}, {name: partner-b}]}",
    );
    let before = aws.stats.snapshot();
    until_ready(&aws, &owner, &changed, 3).await;
    let calls = aws.stats.snapshot().since(&before);
    assert_eq!(calls.count("CreateDeployment"), 0);
    assert_eq!(calls.count("UpdateUsagePlan"), 1, "{:?}", calls.write_operations());
    assert_eq!(calls.count("CreateApiKey"), 0);
    let (plans, _) = keys_of(&aws, &owner).await;
    assert_eq!((&plans[0].0, plans[0].2, plans[0].3), (plan, Some(5000), Some(2.5)));
    assert_steady(&aws, &owner, &changed).await;

    // Another web ACL: associated in its place, no redeploy.
    let mut other = changed.clone();
    other.api.web_acl_arn = Some(other_acl.clone());
    let before = aws.stats.snapshot();
    until_ready(&aws, &owner, &other, 3).await;
    assert_eq!(deployments(&aws, &before), 0);
    assert_eq!(web_acl_of(&aws, &api, "prod").await.0, Some(other_acl.clone()));

    // A key fewer: deleted; the other stays on the plan.
    let one = {
        let mut s = with_keys(
            base.clone(),
            "{throttle: {rateLimit: 2.5, burstLimit: 5}, quota: {limit: 5000, period: WEEK, offset: 2}, apiKeys: [{name: partner-a}]}",
        );
        s.api.web_acl_arn = Some(other_acl.clone());
        s
    };
    until_ready(&aws, &owner, &one, 3).await;
    let (plans, keys) = keys_of(&aws, &owner).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(plans[0].4, [keys[0].0.clone()]);

    // Keys and the ACL removed: the methods open again (one redeploy), the plan's
    // stage removed, key and plan deleted, the stage without an ACL.
    let mut open = base.clone();
    open.api.web_acl_arn = None;
    let before = aws.stats.snapshot();
    until_ready(&aws, &owner, &open, 3).await;
    assert_eq!(deployments(&aws, &before), 1);
    assert_eq!(keys_of(&aws, &owner).await, (Vec::new(), Vec::new()));
    assert_eq!(keys_required(&aws, &api).await.0, 0);
    assert_eq!(web_acl_of(&aws, &api, "prod").await, (None, None));
    assert_steady(&aws, &owner, &open).await;

    // Back to keys, then teardown: nothing of ours is left.
    until_ready(&aws, &owner, &keyed, 5).await;
    assert_eq!(keys_of(&aws, &owner).await.1.len(), 2);
    until_gone(&aws, &owner, &keyed, 10).await;
    assert_eq!(keys_of(&aws, &owner).await, (Vec::new(), Vec::new()));
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[tokio::test]
async fn a_web_acl_that_does_not_exist_stalls_the_pass_with_aws_s_message() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("no-acl");
    let mut spec = spec(&vpc, &subnets);
    spec.api.web_acl_arn = Some(
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/missing/0123abcd-0123-0123-0123-0123456789ab".into(),
    );
    spec.validate().expect("a valid spec");
    let mut last = None;
    for _ in 0..12 {
        match Box::pin(reconcile::converge(&aws, &owner, &spec, Mode::Apply)).await {
            Err(e) => {
                last = Some(e);
                break;
            }
            Ok(outcome) => {
                assert!(!outcome.is_ready(), "ready with an ACL that does not exist");
                tokio::time::sleep(AWS_WAIT_POLL).await;
            }
        }
    }
    let e = last.expect("the association fails");
    assert!(e.to_string().contains("AssociateWebACL"), "{e}");
    assert!(e.is_terminal(), "{e}");
    until_gone(&aws, &owner, &spec, 10).await;
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

#[cfg(feature = "test-faults")]
#[tokio::test]
async fn a_lost_create_api_key_answer_makes_no_second_key() {
    use privateapi::aws::Fault;
    let (factory, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let owner = owner("lost-key");
    let open = spec(&vpc, &subnets);
    until_ready(&aws, &owner, &open, 5).await;
    let keyed = with_keys(open.clone(), "{apiKeys: [{name: partner-a}]}");
    // The plan names the writes of the next pass in order: lose CreateApiKey's answer.
    let plan = Box::pin(reconcile::converge(&aws, &owner, &keyed, Mode::Plan))
        .await
        .expect("plan");
    let nth = plan
        .changes
        .iter()
        .position(|c| c.part == privateapi::reconcile::model::Part::ApiKey)
        .expect("a key to make");
    factory.faults().arm(nth as u64 + 1, Fault::LoseResponse);
    let failed = Box::pin(reconcile::converge(&aws, &owner, &keyed, Mode::Apply)).await;
    factory.faults().disarm();
    assert!(failed.is_err(), "the lost answer fails the pass");
    assert_eq!(keys_of(&aws, &owner).await.1.len(), 1, "AWS made the key");
    until_ready(&aws, &owner, &keyed, 5).await;
    let (plans, keys) = keys_of(&aws, &owner).await;
    assert_eq!(keys.len(), 1, "found by its tag and name, not made again: {keys:?}");
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].4, [keys[0].0.clone()]);
    until_gone(&aws, &owner, &keyed, 10).await;
    assert_eq!(keys_of(&aws, &owner).await, (Vec::new(), Vec::new()));
}
