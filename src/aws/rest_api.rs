//! The API Gateway REST API: `ANY /` and `ANY /{proxy+}` integrated through the VPC
//! Link V2 with the ALB as `integrationTarget`, deployed to a stage.
//!
//! A new deployment is made only when the API's shape changes: the stage's
//! description records the fingerprint of the shape it serves and the deployment
//! it points at, so an unchanged API is never redeployed.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{ConnectionType, EndpointConfiguration, IntegrationType, Op, PatchOperation};
use serde::Serialize;

use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_UID, fingerprint};
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
}

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
            },
        })
    }
}

impl DesiredApi {
    /// `ANY /` and `ANY /{proxy+}`, in that order.
    pub fn integrations(&self) -> [(&'static str, Integration); 2] {
        let t = &self.target;
        let scheme = if t.https { "https" } else { "http" };
        let base = format!("{scheme}://{}", t.load_balancer_dns);
        let (root, proxy) = integrations(&base, &t.vpc_link, t.load_balancer_arn.as_deref());
        [(ROOT_PATH, root), (PROXY_PATH, proxy)]
    }

    /// Fingerprint of everything a deployment snapshots.
    pub fn shape(&self) -> String {
        let [(_, root), (_, proxy)] = self.integrations();
        fingerprint(&serde_json::to_string(&(&root, &proxy)).unwrap_or_default())
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
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedStage {
    pub name: String,
    pub deployment_id: Option<String>,
    pub description: Option<String>,
    /// Throttling of all methods (`*/*`).
    pub throttle: Option<Throttle>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedApi {
    pub id: String,
    pub root: Option<ObservedResource>,
    pub proxy: Option<ObservedResource>,
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
        let method = resource.resource_methods().and_then(|m| m.get("ANY"));
        let observed = ObservedResource {
            id: resource.id().unwrap_or_default().to_owned(),
            has_any_method: method.is_some(),
            integration: method.and_then(|m| m.method_integration()).map(|i| Integration {
                kind: i.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                http_method: i.http_method().unwrap_or_default().to_owned(),
                uri: i.uri().unwrap_or_default().to_owned(),
                connection_type: i.connection_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                connection_id: i.connection_id().unwrap_or_default().to_owned(),
                integration_target: i.integration_target().unwrap_or_default().to_owned(),
                request_parameters: i
                    .request_parameters()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            }),
        };
        match resource.path() {
            Some(ROOT_PATH) => api.root = Some(observed),
            Some(PROXY_PATH) => api.proxy = Some(observed),
            _ => {}
        }
    }
    Ok(Some(api))
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
        .build();
    aws.pacer.pace("CreateRestApi", &desired.name).await?;
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
        }),
        proxy: None,
        stages: Vec::new(),
    });
    Ok((id, fresh))
}

pub async fn create_proxy_resource(aws: &Aws, api_id: &str, root_id: &str) -> AwsResult<String> {
    let out = aws
        .apigw()
        .await
        .create_resource()
        .rest_api_id(api_id)
        .parent_id(root_id)
        .path_part("{proxy+}")
        .send()
        .await
        .map_err(aws_err("CreateResource"))?;
    out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateResource",
        field: "id",
    })
}

pub async fn put_method(aws: &Aws, api_id: &str, resource_id: &str, proxy: bool) -> AwsResult<()> {
    let mut req = aws
        .apigw()
        .await
        .put_method()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method("ANY")
        .authorization_type("NONE");
    if proxy {
        req = req.request_parameters("method.request.path.proxy", true);
    }
    match req.send().await.map_err(aws_err("PutMethod")) {
        // Already there (a lost response to an earlier call).
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn put_integration(aws: &Aws, api_id: &str, resource_id: &str, integration: &Integration) -> AwsResult<()> {
    aws.apigw()
        .await
        .put_integration()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method("ANY")
        .r#type(IntegrationType::from(integration.kind.as_str()))
        .integration_http_method(&integration.http_method)
        .uri(&integration.uri)
        .connection_type(ConnectionType::from(integration.connection_type.as_str()))
        .connection_id(&integration.connection_id)
        .set_integration_target(Some(integration.integration_target.clone()).filter(|t| !t.is_empty()))
        .set_request_parameters(Some(integration.request_parameters.clone().into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("PutIntegration"))?;
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
            },
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
