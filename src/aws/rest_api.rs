//! The API Gateway REST API: `ANY /` and `ANY /{proxy+}` integrated through the VPC
//! Link V2 with the ALB as `integrationTarget`, deployed to a stage.
//!
//! A new deployment is made only when the API's shape changes: the stage's
//! description records the fingerprint of the shape it serves and the deployment
//! it points at, so an unchanged API is never redeployed.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{ConnectionType, EndpointConfiguration, IntegrationType, Op, PatchOperation};
use serde::Serialize;

use super::authorizer::{Auth, DesiredAuthorizer, SeenAuth};
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_UID, fingerprint};
use super::queue_route::{Queue, QueueRoute};
use super::{Aws, all_pages};
use crate::crd::{EndpointType, Throttle};

pub const PROXY_PATH: &str = "/{proxy+}";
pub const ROOT_PATH: &str = "/";
const STAGE_MARK: &str = "privateapi";

/// One method's integration, as API Gateway stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Integration {
    pub kind: String,
    pub http_method: String,
    pub uri: String,
    pub connection_type: String,
    pub connection_id: String,
    pub integration_target: String,
    pub request_parameters: BTreeMap<String, String>,
    /// The role API Gateway calls an AWS service with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credentials: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_templates: BTreeMap<String, String>,
    /// What an AWS integration does with a body no template matches (proxies pass
    /// everything through: left empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub passthrough_behavior: String,
}

/// The one answer of a route's method: 200, with what SQS said.
pub const ROUTE_STATUS: &str = "200";
/// The SQS query API takes a form; the body goes in `MessageBody`.
const SEND_MESSAGE_TEMPLATE: &str = "Action=SendMessage&MessageBody=$util.urlEncode($input.body)";

/// Where the API's integrations lead: `R` names the objects (IDs, or references in
/// the stack model).
#[derive(Clone, Debug, PartialEq)]
pub struct Target<R = String> {
    /// The integrations' host: the load balancer's DNS name, or (HTTPS) a name its
    /// certificate covers.
    pub load_balancer_dns: R,
    /// `https` to an HTTPS listener, else `http`.
    pub https: bool,
    pub vpc_link: R,
    /// The `integrationTarget` of a VPC Link V2; a V1 link has none (it is bound to
    /// its NLB).
    pub load_balancer_arn: Option<R>,
    /// In a load-balancer group: the value of the route header (`lb_group.rs`) the
    /// integrations set, which the member's listener rule matches.
    pub route: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredApi<R = String> {
    pub name: String,
    pub description: String,
    pub endpoint_type: EndpointType,
    pub tags: BTreeMap<String, String>,
    pub stage_name: String,
    /// A stage setting, not part of a deployment's snapshot.
    pub throttle: Option<Throttle>,
    pub target: Target<R>,
    /// Routes straight to SQS, besides the proxy.
    pub routes: Vec<QueueRoute<R>>,
    /// Every method's authorization (`R`: the authorizer's id).
    pub auth: Auth<R>,
    /// The authorizer the methods name, if the type uses one.
    pub authorizer: Option<DesiredAuthorizer<R>>,
    /// PRIVATE: the VPC endpoints associated with the API, sorted.
    pub vpc_endpoint_ids: Vec<String>,
    /// The resource policy document (`resource_policy::document`), if any.
    pub policy: Option<String>,
    /// The AWS WAF web ACL of the stage (a stage setting, not deployed).
    pub web_acl_arn: Option<String>,
}

impl<R> DesiredApi<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredApi<S>> {
        Some(DesiredApi {
            name: self.name.clone(),
            description: self.description.clone(),
            endpoint_type: self.endpoint_type,
            tags: self.tags.clone(),
            stage_name: self.stage_name.clone(),
            throttle: self.throttle,
            target: Target {
                load_balancer_dns: f(&self.target.load_balancer_dns)?,
                https: self.target.https,
                vpc_link: f(&self.target.vpc_link)?,
                load_balancer_arn: match &self.target.load_balancer_arn {
                    Some(arn) => Some(f(arn)?),
                    None => None,
                },
                route: self.target.route.clone(),
            },
            routes: self
                .routes
                .iter()
                .map(|route| route.try_map(&mut f))
                .collect::<Option<_>>()?,
            auth: self.auth.try_map(&mut f)?,
            authorizer: match &self.authorizer {
                Some(authorizer) => Some(authorizer.try_map(&mut f)?),
                None => None,
            },
            vpc_endpoint_ids: self.vpc_endpoint_ids.clone(),
            policy: self.policy.clone(),
            web_acl_arn: self.web_acl_arn.clone(),
        })
    }
}

impl<R: Clone> DesiredApi<R> {
    /// The API without its authorization: what the calls that do not set it need
    /// (made before the authorizer is).
    pub fn unauthorized(&self) -> DesiredApi<R> {
        DesiredApi {
            auth: Auth::none(),
            authorizer: None,
            ..self.clone()
        }
    }
}

impl DesiredApi {
    /// `ANY /` and `ANY /{proxy+}`, in that order.
    pub fn integrations(&self) -> [(&'static str, Integration); 2] {
        let t = &self.target;
        let scheme = if t.https { "https" } else { "http" };
        let base = format!("{scheme}://{}", t.load_balancer_dns);
        let (mut root, mut proxy) = integrations(&base, &t.vpc_link, t.load_balancer_arn.as_deref());
        if let Some(route) = &t.route {
            // A static value (in single quotes), which replaces whatever header of
            // that name the client sent.
            let header = format!("integration.request.header.{}", super::lb_group::ROUTE_HEADER);
            for integration in [&mut root, &mut proxy] {
                integration
                    .request_parameters
                    .insert(header.clone(), format!("'{route}'"));
            }
        }
        [(ROOT_PATH, root), (PROXY_PATH, proxy)]
    }

    /// Fingerprint of everything a deployment snapshots.
    pub fn shape(&self) -> String {
        let [(_, root), (_, proxy)] = self.integrations();
        let routes: Vec<_> = self
            .routes
            .iter()
            .map(|r| (r.method, &r.path, route_integration(r)))
            .collect();
        let text = if !self.auth.is_open() {
            // The methods' authorization (its authorizer's id changes with its settings).
            serde_json::to_string(&(&root, &proxy, routes, &self.auth))
        } else if self.routes.is_empty() {
            // As before routes existed: an API without them is not redeployed.
            serde_json::to_string(&(&root, &proxy))
        } else {
            serde_json::to_string(&(&root, &proxy, routes))
        };
        // A changed resource policy takes effect once deployed.
        let text = match &self.policy {
            Some(policy) => text.map(|t| format!("{t}{policy}")),
            None => text,
        };
        fingerprint(&text.unwrap_or_default())
    }
}

/// A route's `AWS` integration: SendMessage through SQS's query API, with the body
/// form-encoded by a request template. JSON bodies only; others are refused (415).
pub fn route_integration(route: &QueueRoute) -> Integration {
    let uri = Queue::parse(&route.queue_arn)
        .map(|q| q.rest_integration_uri())
        .unwrap_or_default();
    Integration {
        kind: "AWS".into(),
        http_method: "POST".into(),
        uri,
        connection_type: "INTERNET".into(),
        connection_id: String::new(),
        integration_target: String::new(),
        request_parameters: BTreeMap::from([(
            "integration.request.header.Content-Type".to_owned(),
            "'application/x-www-form-urlencoded'".to_owned(),
        )]),
        credentials: route.role.clone(),
        request_templates: BTreeMap::from([("application/json".to_owned(), SEND_MESSAGE_TEMPLATE.to_owned())]),
        passthrough_behavior: "NEVER".into(),
    }
}

/// `ANY /` and `ANY /{proxy+}` to `base` (`http://host` or `https://host`).
pub fn integrations(base_url: &str, vpc_link_id: &str, alb_arn: Option<&str>) -> (Integration, Integration) {
    let base = Integration {
        kind: "HTTP_PROXY".into(),
        http_method: "ANY".into(),
        uri: format!("{base_url}/"),
        connection_type: "VPC_LINK".into(),
        connection_id: vpc_link_id.into(),
        integration_target: alb_arn.unwrap_or_default().into(),
        request_parameters: BTreeMap::new(),
        ..Integration::default()
    };
    let proxy = Integration {
        uri: format!("{base_url}/{{proxy}}"),
        request_parameters: BTreeMap::from([(
            "integration.request.path.proxy".to_owned(),
            "method.request.path.proxy".to_owned(),
        )]),
        ..base.clone()
    };
    (base, proxy)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedResource {
    pub id: String,
    pub has_any_method: bool,
    pub integration: Option<Integration>,
    /// The `ANY` method's authorization.
    pub auth: SeenAuth,
}

/// A method of a route's resource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedMethod {
    pub integration: Option<Integration>,
    /// The method declares the 200 answer.
    pub method_response: bool,
    /// The integration maps SQS's answer to it.
    pub integration_response: bool,
    pub auth: SeenAuth,
}

/// A resource below the root other than `/{proxy+}`: a route's, or a parent of one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRouteResource {
    pub id: String,
    pub methods: BTreeMap<String, ObservedMethod>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedStage {
    pub name: String,
    pub deployment_id: Option<String>,
    pub description: Option<String>,
    /// Throttling of all methods (`*/*`).
    pub throttle: Option<Throttle>,
    /// The AWS WAF web ACL associated with the stage (GetStages reports it).
    pub web_acl_arn: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedApi {
    pub id: String,
    pub root: Option<ObservedResource>,
    pub proxy: Option<ObservedResource>,
    /// Every other resource, by path.
    pub routes: BTreeMap<String, ObservedRouteResource>,
    pub stages: Vec<ObservedStage>,
}

/// What the stage description says it serves: (shape fingerprint, deployment id).
pub fn stage_marker(description: Option<&str>) -> Option<(&str, &str)> {
    let rest = description?.strip_prefix(STAGE_MARK)?.strip_prefix(" shape=")?;
    let (shape, deployment) = rest.split_once(" deployment=")?;
    Some((shape, deployment))
}

pub fn stage_description(shape: &str, deployment_id: &str) -> String {
    format!("{STAGE_MARK} shape={shape} deployment={deployment_id}")
}

/// Does the stage serve the desired shape through the deployment it recorded?
pub fn stage_in_sync(stage: &ObservedStage, shape: &str) -> bool {
    match (
        stage_marker(stage.description.as_deref()),
        stage.deployment_id.as_deref(),
    ) {
        (Some((s, d)), Some(current)) => s == shape && d == current,
        _ => false,
    }
}

/// IDs of every REST API of ours, oldest first.
pub async fn find(aws: &Aws, owner: &Owner) -> AwsResult<Vec<String>> {
    let mut apis: Vec<(i64, String)> = list_all(aws)
        .await?
        .into_iter()
        .filter(|api| api.uid.as_deref() == Some(owner.uid.as_str()))
        .map(|api| (api.created, api.id))
        .collect();
    apis.sort();
    Ok(apis.into_iter().map(|(_, id)| id).collect())
}

/// One REST API of the region, as `GetRestApis` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedApi {
    pub id: String,
    pub created: i64,
    /// The uid of the PrivateApi that owns it, if any.
    pub uid: Option<String>,
    /// Its resource policy, as AWS stores it.
    pub policy: Option<String>,
    /// The VPC endpoints associated with it (PRIVATE).
    pub vpc_endpoint_ids: Vec<String>,
}

pub async fn list_all(aws: &Aws) -> AwsResult<Vec<ListedApi>> {
    all_pages("GetRestApis", |position| async move {
        let out = aws
            .apigw()
            .await
            .get_rest_apis()
            .limit(500)
            .set_position(position)
            .send()
            .await
            .map_err(aws_err("GetRestApis"))?;
        let apis = out
            .items()
            .iter()
            .map(|api| ListedApi {
                id: api.id().unwrap_or_default().to_owned(),
                created: api.created_date().map(|d| d.secs()).unwrap_or_default(),
                uid: api.tags().and_then(|t| t.get(TAG_UID)).cloned(),
                policy: api.policy().map(str::to_owned),
                vpc_endpoint_ids: api
                    .endpoint_configuration()
                    .map(|e| e.vpc_endpoint_ids().to_vec())
                    .unwrap_or_default(),
            })
            .collect();
        Ok((apis, out.position().map(str::to_owned)))
    })
    .await
}

/// Resources (with methods and integrations embedded) and stages of one API.
pub async fn observe(aws: &Aws, id: &str) -> AwsResult<Option<ObservedApi>> {
    let (api, stages) = tokio::try_join!(observe_resources(aws, id), observe_stages(aws, id))?;
    Ok(api.zip(stages).map(|(api, stages)| ObservedApi { stages, ..api }))
}

/// The API's `/` and `/{proxy+}` resources with their `ANY` methods and integrations
/// (no stages); `None` when the API is gone.
pub async fn observe_resources(aws: &Aws, id: &str) -> AwsResult<Option<ObservedApi>> {
    aws.pacer.pace("GetResources", id).await?;
    let resources = aws
        .apigw()
        .await
        .get_resources()
        .rest_api_id(id)
        .embed("methods")
        .limit(500)
        .send()
        .await;
    let Some(resources) = found(resources.map_err(aws_err("GetResources")))? else {
        return Ok(None);
    };
    let mut api = ObservedApi {
        id: id.to_owned(),
        ..Default::default()
    };
    for resource in resources.items() {
        let id = resource.id().unwrap_or_default().to_owned();
        let methods: BTreeMap<String, ObservedMethod> = resource
            .resource_methods()
            .into_iter()
            .flatten()
            .map(|(name, method)| (name.clone(), observed_method(method)))
            .collect();
        match resource.path() {
            Some(path @ (ROOT_PATH | PROXY_PATH)) => {
                let any = methods.get("ANY");
                let observed = ObservedResource {
                    id,
                    has_any_method: any.is_some(),
                    integration: any.and_then(|m| m.integration.clone()),
                    auth: any.map(|m| m.auth.clone()).unwrap_or_default(),
                };
                if path == ROOT_PATH {
                    api.root = Some(observed);
                } else {
                    api.proxy = Some(observed);
                }
            }
            Some(path) => {
                api.routes
                    .insert(path.to_owned(), ObservedRouteResource { id, methods });
            }
            None => {}
        }
    }
    Ok(Some(api))
}

fn observed_method(method: &aws_sdk_apigateway::types::Method) -> ObservedMethod {
    let integration = method.method_integration();
    ObservedMethod {
        integration: integration.map(|i| {
            let kind = i.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default();
            let aws_service = kind == "AWS";
            Integration {
                http_method: i.http_method().unwrap_or_default().to_owned(),
                uri: i.uri().unwrap_or_default().to_owned(),
                // AWS's default; an integration made without one says so.
                connection_type: i.connection_type().map_or("INTERNET", |t| t.as_str()).to_owned(),
                connection_id: i.connection_id().unwrap_or_default().to_owned(),
                integration_target: i.integration_target().unwrap_or_default().to_owned(),
                request_parameters: i
                    .request_parameters()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                credentials: i.credentials().unwrap_or_default().to_owned(),
                request_templates: i
                    .request_templates()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                // Only a template-mapped integration cares; proxies pass everything.
                passthrough_behavior: if aws_service {
                    i.passthrough_behavior().unwrap_or_default().to_owned()
                } else {
                    String::new()
                },
                kind,
            }
        }),
        method_response: method.method_responses().is_some_and(|r| r.contains_key(ROUTE_STATUS)),
        integration_response: integration
            .and_then(|i| i.integration_responses())
            .is_some_and(|r| r.contains_key(ROUTE_STATUS)),
        auth: SeenAuth {
            method: method.authorization_type().unwrap_or_default().to_owned(),
            authorizer: method.authorizer_id().map(str::to_owned),
            scopes: method.authorization_scopes().to_vec(),
            api_key: method.api_key_required().unwrap_or(false),
        },
    }
}

/// The API's stages; `None` when the API is gone.
pub async fn observe_stages(aws: &Aws, id: &str) -> AwsResult<Option<Vec<ObservedStage>>> {
    let stages = aws.apigw().await.get_stages().rest_api_id(id).send().await;
    let Some(stages) = found(stages.map_err(aws_err("GetStages")))? else {
        return Ok(None);
    };
    Ok(Some(
        stages
            .item()
            .iter()
            .map(|s| ObservedStage {
                name: s.stage_name().unwrap_or_default().to_owned(),
                deployment_id: s.deployment_id().map(str::to_owned),
                description: s.description().map(str::to_owned),
                throttle: s.method_settings().and_then(|m| m.get("*/*")).map(|m| Throttle {
                    rate_limit: m.throttling_rate_limit(),
                    burst_limit: m.throttling_burst_limit(),
                }),
                web_acl_arn: s.web_acl_arn().filter(|arn| !arn.is_empty()).map(str::to_owned),
            })
            .collect(),
    ))
}

/// A new API as CreateRestApi describes it: its id, and its root resource (`/`) when
/// AWS says which it is (it does), so that the pass needs not read the API back.
pub async fn create(aws: &Aws, desired: &DesiredApi) -> AwsResult<(String, Option<ObservedApi>)> {
    let endpoint = EndpointConfiguration::builder()
        .types(aws_sdk_apigateway::types::EndpointType::from(
            desired.endpoint_type.as_aws(),
        ))
        .set_vpc_endpoint_ids(Some(desired.vpc_endpoint_ids.clone()).filter(|ids| !ids.is_empty()))
        .build();
    let quota = match desired.endpoint_type {
        EndpointType::Edge => super::pacing::CREATE_EDGE_REST_API,
        EndpointType::Regional | EndpointType::Private => "CreateRestApi",
    };
    aws.pacer.pace(quota, &desired.name).await?;
    let out = aws
        .apigw()
        .await
        .create_rest_api()
        .name(&desired.name)
        .description(&desired.description)
        .endpoint_configuration(endpoint)
        .set_tags(Some(desired.tags.clone().into_iter().collect::<HashMap<_, _>>()))
        .send()
        .await
        .map_err(aws_err("CreateRestApi"))?;
    let id = out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateRestApi",
        field: "id",
    })?;
    let fresh = out.root_resource_id().map(|root| ObservedApi {
        id: id.clone(),
        root: Some(ObservedResource {
            id: root.to_owned(),
            has_any_method: false,
            integration: None,
            auth: SeenAuth::default(),
        }),
        proxy: None,
        routes: BTreeMap::new(),
        stages: Vec::new(),
    });
    Ok((id, fresh))
}

/// Makes the resource `path_part` below `parent_id` (`{proxy+}` below the root for
/// the proxy) and returns its id.
pub async fn create_resource(aws: &Aws, api_id: &str, parent_id: &str, path_part: &str) -> AwsResult<String> {
    aws.pacer.pace("CreateResource", api_id).await?;
    let out = aws
        .apigw()
        .await
        .create_resource()
        .rest_api_id(api_id)
        .parent_id(parent_id)
        .path_part(path_part)
        .send()
        .await
        .map_err(aws_err("CreateResource"))?;
    out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateResource",
        field: "id",
    })
}

/// `method` with its authorization (`auth`: the authorizer's id resolved).
pub async fn put_method(
    aws: &Aws,
    api_id: &str,
    resource_id: &str,
    method: &str,
    proxy: bool,
    auth: &Auth,
) -> AwsResult<()> {
    let mut req = aws
        .apigw()
        .await
        .put_method()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .authorization_type(auth.method)
        .set_authorizer_id(auth.authorizer.clone())
        .set_authorization_scopes(Some(auth.scopes.clone()).filter(|s| !s.is_empty()))
        .set_api_key_required(auth.api_key.then_some(true));
    if proxy {
        req = req.request_parameters("method.request.path.proxy", true);
    }
    match req.send().await.map_err(aws_err("PutMethod")) {
        // Already there (a lost response to an earlier call).
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Sets the integration of `method` on the resource (replacing any).
pub async fn put_integration(
    aws: &Aws,
    api_id: &str,
    resource_id: &str,
    method: &str,
    integration: &Integration,
) -> AwsResult<()> {
    let given = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    aws.apigw()
        .await
        .put_integration()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .r#type(IntegrationType::from(integration.kind.as_str()))
        .integration_http_method(&integration.http_method)
        .uri(&integration.uri)
        .connection_type(ConnectionType::from(integration.connection_type.as_str()))
        .set_connection_id(given(&integration.connection_id))
        .set_integration_target(given(&integration.integration_target))
        .set_credentials(given(&integration.credentials))
        .set_passthrough_behavior(given(&integration.passthrough_behavior))
        .set_request_parameters(Some(integration.request_parameters.clone().into_iter().collect()))
        .set_request_templates(
            Some(
                integration
                    .request_templates
                    .clone()
                    .into_iter()
                    .collect::<HashMap<_, _>>(),
            )
            .filter(|t| !t.is_empty()),
        )
        .send()
        .await
        .map_err(aws_err("PutIntegration"))?;
    Ok(())
}

/// Declares the route's 200 answer (a method needs one before its integration may
/// map to it).
pub async fn put_method_response(aws: &Aws, api_id: &str, resource_id: &str, method: &str) -> AwsResult<()> {
    let sent = aws
        .apigw()
        .await
        .put_method_response()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .status_code(ROUTE_STATUS)
        .send()
        .await
        .map_err(aws_err("PutMethodResponse"));
    match sent {
        // Already there (a lost response to an earlier call).
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Maps every answer of the integration to 200, passing SQS's body through.
pub async fn put_integration_response(aws: &Aws, api_id: &str, resource_id: &str, method: &str) -> AwsResult<()> {
    aws.apigw()
        .await
        .put_integration_response()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .status_code(ROUTE_STATUS)
        .send()
        .await
        .map_err(aws_err("PutIntegrationResponse"))?;
    Ok(())
}

/// Deletes a resource with its methods and every resource below it.
pub async fn delete_resource(aws: &Aws, api_id: &str, resource_id: &str) -> AwsResult<()> {
    found(
        aws.apigw()
            .await
            .delete_resource()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .send()
            .await
            .map_err(aws_err("DeleteResource")),
    )?;
    Ok(())
}

pub async fn delete_method(aws: &Aws, api_id: &str, resource_id: &str, method: &str) -> AwsResult<()> {
    found(
        aws.apigw()
            .await
            .delete_method()
            .rest_api_id(api_id)
            .resource_id(resource_id)
            .http_method(method)
            .send()
            .await
            .map_err(aws_err("DeleteMethod")),
    )?;
    Ok(())
}

/// A deployment already made for this shape (after a crash or a lost response),
/// so that it is reused instead of deploying twice.
pub fn find_deployment(deployments: &[Deployment], shape: &str) -> Option<String> {
    let wanted = deployment_description(shape);
    deployments
        .iter()
        .find(|d| d.description.as_deref() == Some(wanted.as_str()))
        .map(|d| d.id.clone())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub description: Option<String>,
}

pub async fn list_deployments(aws: &Aws, api_id: &str) -> AwsResult<Vec<Deployment>> {
    let out = aws
        .apigw()
        .await
        .get_deployments()
        .rest_api_id(api_id)
        .limit(500)
        .send()
        .await
        .map_err(aws_err("GetDeployments"))?;
    Ok(out
        .items()
        .iter()
        .filter_map(|d| {
            Some(Deployment {
                id: d.id()?.to_owned(),
                description: d.description().map(str::to_owned),
            })
        })
        .collect())
}

fn deployment_description(shape: &str) -> String {
    format!("{STAGE_MARK} shape={shape}")
}

pub async fn create_deployment(aws: &Aws, api_id: &str, shape: &str) -> AwsResult<String> {
    aws.pacer.pace("CreateDeployment", api_id).await?;
    let out = aws
        .apigw()
        .await
        .create_deployment()
        .rest_api_id(api_id)
        .description(deployment_description(shape))
        .send()
        .await
        .map_err(aws_err("CreateDeployment"))?;
    out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateDeployment",
        field: "id",
    })
}

pub async fn create_stage(aws: &Aws, api_id: &str, desired: &DesiredApi, deployment_id: &str) -> AwsResult<()> {
    aws.apigw()
        .await
        .create_stage()
        .rest_api_id(api_id)
        .stage_name(&desired.stage_name)
        .deployment_id(deployment_id)
        .description(stage_description(&desired.shape(), deployment_id))
        .set_tags(Some(desired.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("CreateStage"))?;
    Ok(())
}

/// Points the stage at a deployment and records the shape, in one call.
pub async fn point_stage(aws: &Aws, api_id: &str, stage: &str, shape: &str, deployment_id: &str) -> AwsResult<()> {
    let replace = |path: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    aws.apigw()
        .await
        .update_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .patch_operations(replace("/deploymentId", deployment_id.to_owned()))
        .patch_operations(replace("/description", stage_description(shape, deployment_id)))
        .send()
        .await
        .map_err(aws_err("UpdateStage"))?;
    Ok(())
}

/// Sets the stage-wide throttling (all methods).
pub async fn set_throttle(aws: &Aws, api_id: &str, stage: &str, throttle: Throttle) -> AwsResult<()> {
    let replace = |path: &str, value: String| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    aws.apigw()
        .await
        .update_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .patch_operations(replace("/*/*/throttling/rateLimit", throttle.rate_limit.to_string()))
        .patch_operations(replace("/*/*/throttling/burstLimit", throttle.burst_limit.to_string()))
        .send()
        .await
        .map_err(aws_err("UpdateStage"))?;
    Ok(())
}

pub async fn delete_stage(aws: &Aws, api_id: &str, stage: &str) -> AwsResult<()> {
    found(
        aws.apigw()
            .await
            .delete_stage()
            .rest_api_id(api_id)
            .stage_name(stage)
            .send()
            .await
            .map_err(aws_err("DeleteStage")),
    )?;
    Ok(())
}

pub async fn delete_deployment(aws: &Aws, api_id: &str, deployment_id: &str) -> AwsResult<()> {
    found(
        aws.apigw()
            .await
            .delete_deployment()
            .rest_api_id(api_id)
            .deployment_id(deployment_id)
            .send()
            .await
            .map_err(aws_err("DeleteDeployment")),
    )?;
    Ok(())
}

pub async fn delete(aws: &Aws, api_id: &str) -> AwsResult<()> {
    aws.pacer.pace("DeleteRestApi", api_id).await?;
    found(
        aws.apigw()
            .await
            .delete_rest_api()
            .rest_api_id(api_id)
            .send()
            .await
            .map_err(aws_err("DeleteRestApi")),
    )?;
    Ok(())
}

/// Our REST APIs as listed (with their policies and VPC endpoints), oldest first.
pub async fn find_listed(aws: &Aws, owner: &Owner) -> AwsResult<Vec<ListedApi>> {
    let mut apis: Vec<ListedApi> = list_all(aws)
        .await?
        .into_iter()
        .filter(|api| api.uid.as_deref() == Some(owner.uid.as_str()))
        .collect();
    apis.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(apis)
}

/// Writes (or, with `None`, removes) the API's resource policy. It takes effect with
/// the next deployment (the policy is in the deployment's shape).
pub async fn set_policy(aws: &Aws, api_id: &str, policy: Option<&str>) -> AwsResult<()> {
    let op = PatchOperation::builder()
        .op(Op::Replace)
        .path("/policy")
        .value(policy.unwrap_or_default())
        .build();
    aws.apigw()
        .await
        .update_rest_api()
        .rest_api_id(api_id)
        .patch_operations(op)
        .send()
        .await
        .map_err(aws_err("UpdateRestApi"))?;
    Ok(())
}

/// Associates `add` and dissociates `remove` (VPC endpoint ids) with a PRIVATE API.
pub async fn set_endpoints(aws: &Aws, api_id: &str, add: &[String], remove: &[String]) -> AwsResult<()> {
    let op = |op: Op, id: &String| {
        PatchOperation::builder()
            .op(op)
            .path("/endpointConfiguration/vpcEndpointIds")
            .value(id)
            .build()
    };
    let ops = add
        .iter()
        .map(|id| op(Op::Add, id))
        .chain(remove.iter().map(|id| op(Op::Remove, id)))
        .collect();
    aws.apigw()
        .await
        .update_rest_api()
        .rest_api_id(api_id)
        .set_patch_operations(Some(ops))
        .send()
        .await
        .map_err(aws_err("UpdateRestApi"))?;
    Ok(())
}

/// The ARN AWS WAF names a stage by: `arn:PARTITION:apigateway:REGION::/restapis/ID/stages/STAGE`.
pub fn stage_arn(region: &str, api_id: &str, stage: &str) -> String {
    super::partition::Partition::of_region(region).arn(
        "apigateway",
        region,
        "",
        &format!("/restapis/{api_id}/stages/{stage}"),
    )
}

pub fn invoke_url(api_id: &str, region: &str, stage: &str) -> String {
    let host = super::partition::Partition::of_region(region).service_host("execute-api", region);
    format!("https://{api_id}.{host}/{stage}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_integration_targets_the_alb_through_the_link() {
        let (root, proxy) = integrations("http://internal-x.elb.amazonaws.com", "vl123", Some("arn:alb"));
        assert_eq!(root.uri, "http://internal-x.elb.amazonaws.com/");
        assert_eq!(proxy.uri, "http://internal-x.elb.amazonaws.com/{proxy}");
        assert_eq!(proxy.connection_type, "VPC_LINK");
        assert_eq!(proxy.connection_id, "vl123");
        assert_eq!(proxy.integration_target, "arn:alb");
        assert_eq!(
            proxy.request_parameters["integration.request.path.proxy"],
            "method.request.path.proxy"
        );
    }

    #[test]
    fn stage_marker_round_trips() {
        let d = stage_description("abc123", "dep9");
        assert_eq!(stage_marker(Some(&d)), Some(("abc123", "dep9")));
        assert_eq!(stage_marker(Some("hand written")), None);
    }

    #[test]
    fn stage_out_of_sync_when_shape_or_deployment_differs() {
        let stage = |desc: &str, dep: &str| ObservedStage {
            name: "prod".into(),
            deployment_id: Some(dep.into()),
            description: Some(desc.into()),
            throttle: None,
            web_acl_arn: None,
        };
        assert!(stage_in_sync(&stage(&stage_description("s1", "d1"), "d1"), "s1"));
        assert!(!stage_in_sync(&stage(&stage_description("s1", "d1"), "d1"), "s2"));
        // Someone redeployed the stage by hand: we deploy ours again.
        assert!(!stage_in_sync(&stage(&stage_description("s1", "d1"), "d2"), "s1"));
    }

    #[test]
    fn shape_ignores_tags_and_stage_but_not_the_target() {
        let api = DesiredApi {
            name: "n".into(),
            description: "d".into(),
            endpoint_type: EndpointType::Regional,
            tags: BTreeMap::new(),
            stage_name: "prod".into(),
            throttle: None,
            target: Target {
                load_balancer_dns: "dns".to_owned(),
                https: false,
                vpc_link: "vl".to_owned(),
                load_balancer_arn: Some("arn:alb".to_owned()),
                route: None,
            },
            routes: Vec::new(),
            auth: Auth::none(),
            authorizer: None,
            vpc_endpoint_ids: Vec::new(),
            policy: None,
            web_acl_arn: None,
        };
        let mut other = api.clone();
        other.tags.insert("k".into(), "v".into());
        other.stage_name = "dev".into();
        other.throttle = Some(Throttle {
            rate_limit: 1.0,
            burst_limit: 2,
        });
        assert_eq!(api.shape(), other.shape());
        other.target.load_balancer_arn = Some("arn:other".into());
        assert_ne!(api.shape(), other.shape());
    }
}
