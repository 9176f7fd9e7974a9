//! The API Gateway HTTP API (apigatewayv2): one HTTP_PROXY integration through the
//! VPC Link V2 to the load balancer's listener, the routes `ANY /{proxy+}` and
//! `$default` to it, and the auto-deployed `$default` stage.
//!
//! An HTTP API has no deployment to manage: the `$default` stage deploys every
//! change itself.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigatewayv2::types::{ConnectionType, IntegrationType, ProtocolType, RouteSettings};

use super::authorizer::{Auth, DesiredAuthorizer, SeenAuth};
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::{Owner, TAG_UID};
use super::queue_route::{Queue, QueueRoute};
use super::{Aws, all_pages};
use crate::crd::Throttle;

/// The routes every HTTP API of ours has, both to the one integration: the root
/// (and anything `/{proxy+}` does not match) goes to `$default`.
pub const ROUTE_KEYS: [&str; 2] = ["ANY /{proxy+}", "$default"];
pub const STAGE: &str = "$default";

/// The integration, as apigatewayv2 stores it; `R` names the link and listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Integration<R = String> {
    pub connection_id: R,
    /// The load balancer's listener ARN.
    pub uri: R,
    /// To an HTTPS listener: the name its certificate covers, which API Gateway
    /// verifies.
    pub server_name: Option<String>,
    /// In a load-balancer group: the route header's value (`lb_group.rs`), set on
    /// every request (`overwrite:header.…`), whatever the client sent.
    pub route: Option<String>,
}

impl<R> Integration<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<Integration<S>> {
        Some(Integration {
            connection_id: f(&self.connection_id)?,
            uri: f(&self.uri)?,
            server_name: self.server_name.clone(),
            route: self.route.clone(),
        })
    }
}

impl Integration {
    pub const KIND: &'static str = "HTTP_PROXY";
    pub const METHOD: &'static str = "ANY";
    pub const PAYLOAD_FORMAT: &'static str = "1.0";

    /// Its request parameters: the route header, in a load-balancer group.
    pub fn request_parameters(&self) -> BTreeMap<String, String> {
        self.route
            .iter()
            .map(|route| {
                (
                    format!("overwrite:header.{}", super::lb_group::ROUTE_HEADER),
                    route.clone(),
                )
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredHttpApi<R = String> {
    pub name: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// The `$default` stage's throttling of every route.
    pub throttle: Option<Throttle>,
    pub integration: Integration<R>,
    /// Routes straight to SQS, each with its own integration.
    pub routes: Vec<QueueRoute<R>>,
    /// Every route's authorization (`R`: the authorizer's id).
    pub auth: Auth<R>,
    /// The authorizer the routes name, if the type uses one.
    pub authorizer: Option<DesiredAuthorizer<R>>,
}

impl<R> DesiredHttpApi<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredHttpApi<S>> {
        Some(DesiredHttpApi {
            name: self.name.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            throttle: self.throttle,
            integration: self.integration.try_map(&mut f)?,
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
        })
    }
}

impl<R: Clone> DesiredHttpApi<R> {
    /// The API without its authorization: what the calls that do not set it need
    /// (made before the authorizer is).
    pub fn unauthorized(&self) -> DesiredHttpApi<R> {
        DesiredHttpApi {
            auth: Auth::none(),
            authorizer: None,
            ..self.clone()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedIntegration {
    pub id: String,
    pub kind: String,
    pub method: String,
    pub connection_type: String,
    pub connection_id: String,
    pub uri: String,
    pub payload_format: String,
    pub server_name: Option<String>,
    pub subtype: Option<String>,
    pub credentials: Option<String>,
    pub request_parameters: BTreeMap<String, String>,
}

/// The integration subtype that sends a message to a queue.
pub const SEND_MESSAGE: &str = "SQS-SendMessage";

/// A queue route's integration parameters: the queue, and the request body as the
/// message.
pub fn queue_parameters(route: &QueueRoute) -> BTreeMap<String, String> {
    let queue_url = Queue::parse(&route.queue_arn).map(|q| q.url()).unwrap_or_default();
    BTreeMap::from([
        ("QueueUrl".to_owned(), queue_url),
        ("MessageBody".to_owned(), "$request.body".to_owned()),
    ])
}

impl ObservedIntegration {
    /// Whether it is the integration `wanted` describes.
    pub fn is(&self, wanted: &Integration) -> bool {
        self.kind == Integration::KIND
            && self.method == Integration::METHOD
            && self.connection_type == "VPC_LINK"
            && self.connection_id == wanted.connection_id
            && self.uri == wanted.uri
            && self.payload_format == Integration::PAYLOAD_FORMAT
            && self.server_name == wanted.server_name
            && self.request_parameters == wanted.request_parameters()
            && self.subtype.is_none()
    }

    /// Whether it is the integration of the queue route `wanted`.
    pub fn sends(&self, wanted: &QueueRoute) -> bool {
        self.kind == "AWS_PROXY"
            && self.subtype.as_deref() == Some(SEND_MESSAGE)
            && self.credentials.as_deref() == Some(wanted.role.as_str())
            && self.payload_format == Integration::PAYLOAD_FORMAT
            && self.request_parameters == queue_parameters(wanted)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRoute {
    pub id: String,
    pub key: String,
    /// `integrations/{id}`, when it has a target.
    pub target: Option<String>,
    pub auth: SeenAuth,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedStage {
    pub name: String,
    pub auto_deploy: bool,
    pub throttle: Option<Throttle>,
}

/// The integrations, routes and stages of one HTTP API.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedDetails {
    pub integrations: Vec<ObservedIntegration>,
    pub routes: Vec<ObservedRoute>,
}

pub fn route_target(integration_id: &str) -> String {
    format!("integrations/{integration_id}")
}

/// One HTTP API of the region, as `GetApis` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedApi {
    pub id: String,
    pub created: i64,
    pub uid: Option<String>,
}

/// Every HTTP API of the region (WebSocket APIs are left out).
pub async fn list_all(aws: &Aws) -> AwsResult<Vec<ListedApi>> {
    all_pages("GetApis", |token| async move {
        let out = aws
            .apigwv2()
            .await
            .get_apis()
            .max_results("500")
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_err("GetApis"))?;
        let apis = out
            .items()
            .iter()
            .filter(|api| api.protocol_type() == Some(&ProtocolType::Http))
            .map(|api| ListedApi {
                id: api.api_id().unwrap_or_default().to_owned(),
                created: api.created_date().map(|d| d.secs()).unwrap_or_default(),
                uid: api.tags().and_then(|t| t.get(TAG_UID)).cloned(),
            })
            .collect();
        Ok((apis, out.next_token().map(str::to_owned)))
    })
    .await
}

/// IDs of every HTTP API of ours, oldest first.
pub async fn find(aws: &Aws, owner: &Owner) -> AwsResult<Vec<String>> {
    Ok(ours(list_all(aws).await?, &owner.uid))
}

/// The IDs of `uid`'s APIs among `apis`, oldest first.
pub fn ours(apis: impl IntoIterator<Item = ListedApi>, uid: &str) -> Vec<String> {
    let mut mine: Vec<(i64, String)> = apis
        .into_iter()
        .filter(|api| api.uid.as_deref() == Some(uid))
        .map(|api| (api.created, api.id))
        .collect();
    mine.sort();
    mine.into_iter().map(|(_, id)| id).collect()
}

/// The API's integrations and routes; `None` when the API is gone.
pub async fn observe_details(aws: &Aws, api_id: &str) -> AwsResult<Option<ObservedDetails>> {
    let client = aws.apigwv2().await;
    let (integrations, routes) = tokio::join!(
        client.get_integrations().api_id(api_id).max_results("500").send(),
        client.get_routes().api_id(api_id).max_results("500").send(),
    );
    let (Some(integrations), Some(routes)) = (
        found(integrations.map_err(aws_err("GetIntegrations")))?,
        found(routes.map_err(aws_err("GetRoutes")))?,
    ) else {
        return Ok(None);
    };
    Ok(Some(ObservedDetails {
        integrations: integrations
            .items()
            .iter()
            .map(|i| ObservedIntegration {
                id: i.integration_id().unwrap_or_default().to_owned(),
                kind: i.integration_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                method: i.integration_method().unwrap_or_default().to_owned(),
                connection_type: i.connection_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                connection_id: i.connection_id().unwrap_or_default().to_owned(),
                uri: i.integration_uri().unwrap_or_default().to_owned(),
                payload_format: i.payload_format_version().unwrap_or_default().to_owned(),
                server_name: i
                    .tls_config()
                    .and_then(|t| t.server_name_to_verify())
                    .map(str::to_owned),
                subtype: i.integration_subtype().map(str::to_owned),
                credentials: i.credentials_arn().map(str::to_owned),
                request_parameters: i
                    .request_parameters()
                    .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })
            .collect(),
        routes: routes
            .items()
            .iter()
            .map(|r| ObservedRoute {
                id: r.route_id().unwrap_or_default().to_owned(),
                key: r.route_key().unwrap_or_default().to_owned(),
                target: r.target().map(str::to_owned),
                auth: SeenAuth {
                    method: r
                        .authorization_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    authorizer: r.authorizer_id().map(str::to_owned),
                    scopes: r.authorization_scopes().to_vec(),
                    api_key: false,
                },
            })
            .collect(),
    }))
}

/// The API's stages; `None` when the API is gone.
pub async fn observe_stages(aws: &Aws, api_id: &str) -> AwsResult<Option<Vec<ObservedStage>>> {
    let out = found(
        aws.apigwv2()
            .await
            .get_stages()
            .api_id(api_id)
            .max_results("500")
            .send()
            .await
            .map_err(aws_err("GetStages")),
    )?;
    Ok(out.map(|out| {
        out.items()
            .iter()
            .map(|s| ObservedStage {
                name: s.stage_name().unwrap_or_default().to_owned(),
                auto_deploy: s.auto_deploy().unwrap_or(false),
                throttle: s.default_route_settings().and_then(|r| {
                    Some(Throttle {
                        rate_limit: r.throttling_rate_limit()?,
                        burst_limit: r.throttling_burst_limit()?,
                    })
                }),
            })
            .collect()
    }))
}

/// The new API's id. Tags go with the create call: never added afterwards.
pub async fn create(aws: &Aws, desired: &DesiredHttpApi) -> AwsResult<String> {
    aws.pacer.pace("CreateApi", &desired.name).await?;
    let out = aws
        .apigwv2()
        .await
        .create_api()
        .name(&desired.name)
        .protocol_type(ProtocolType::Http)
        .description(&desired.description)
        .set_tags(Some(desired.tags.clone().into_iter().collect::<HashMap<_, _>>()))
        .send()
        .await
        .map_err(aws_err("CreateApi"))?;
    out.api_id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateApi",
        field: "ApiId",
    })
}

fn tls(wanted: &Integration) -> Option<aws_sdk_apigatewayv2::types::TlsConfigInput> {
    wanted.server_name.as_ref().map(|name| {
        aws_sdk_apigatewayv2::types::TlsConfigInput::builder()
            .server_name_to_verify(name)
            .build()
    })
}

pub async fn create_integration(aws: &Aws, api_id: &str, wanted: &Integration) -> AwsResult<String> {
    let out = aws
        .apigwv2()
        .await
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method(Integration::METHOD)
        .connection_type(ConnectionType::VpcLink)
        .connection_id(&wanted.connection_id)
        .integration_uri(&wanted.uri)
        .payload_format_version(Integration::PAYLOAD_FORMAT)
        .set_tls_config(tls(wanted))
        .set_request_parameters(parameters(wanted))
        .send()
        .await
        .map_err(aws_err("CreateIntegration"))?;
    out.integration_id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateIntegration",
        field: "IntegrationId",
    })
}

pub async fn update_integration(aws: &Aws, api_id: &str, id: &str, wanted: &Integration) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .update_integration()
        .api_id(api_id)
        .integration_id(id)
        .integration_type(IntegrationType::HttpProxy)
        .integration_method(Integration::METHOD)
        .connection_type(ConnectionType::VpcLink)
        .connection_id(&wanted.connection_id)
        .integration_uri(&wanted.uri)
        .payload_format_version(Integration::PAYLOAD_FORMAT)
        .set_tls_config(tls(wanted))
        .set_request_parameters(parameters(wanted))
        .send()
        .await
        .map_err(aws_err("UpdateIntegration"))?;
    Ok(())
}

/// The route header, when the integration has one (none is sent otherwise).
fn parameters(wanted: &Integration) -> Option<std::collections::HashMap<String, String>> {
    let parameters = wanted.request_parameters();
    (!parameters.is_empty()).then(|| parameters.into_iter().collect())
}

/// A queue route's integration (AWS_PROXY, SQS-SendMessage); returns its id.
pub async fn create_queue_integration(aws: &Aws, api_id: &str, route: &QueueRoute) -> AwsResult<String> {
    let out = aws
        .apigwv2()
        .await
        .create_integration()
        .api_id(api_id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_subtype(SEND_MESSAGE)
        .credentials_arn(&route.role)
        .payload_format_version(Integration::PAYLOAD_FORMAT)
        .set_request_parameters(Some(queue_parameters(route).into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("CreateIntegration"))?;
    out.integration_id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateIntegration",
        field: "IntegrationId",
    })
}

/// Sets the queue, role and parameters of a queue route's integration.
pub async fn update_queue_integration(aws: &Aws, api_id: &str, id: &str, route: &QueueRoute) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .update_integration()
        .api_id(api_id)
        .integration_id(id)
        .integration_type(IntegrationType::AwsProxy)
        .integration_subtype(SEND_MESSAGE)
        .credentials_arn(&route.role)
        .payload_format_version(Integration::PAYLOAD_FORMAT)
        .set_request_parameters(Some(queue_parameters(route).into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("UpdateIntegration"))?;
    Ok(())
}

pub async fn delete_integration(aws: &Aws, api_id: &str, id: &str) -> AwsResult<()> {
    found(
        aws.apigwv2()
            .await
            .delete_integration()
            .api_id(api_id)
            .integration_id(id)
            .send()
            .await
            .map_err(aws_err("DeleteIntegration")),
    )?;
    Ok(())
}

pub async fn create_route(aws: &Aws, api_id: &str, key: &str, integration_id: &str, auth: &Auth) -> AwsResult<()> {
    match aws
        .apigwv2()
        .await
        .create_route()
        .api_id(api_id)
        .route_key(key)
        .target(route_target(integration_id))
        .authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::from(auth.method))
        .set_authorizer_id(auth.authorizer.clone())
        .send()
        .await
        .map_err(aws_err("CreateRoute"))
    {
        // Made by an earlier call whose answer was lost: the next pass points it.
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn point_route(aws: &Aws, api_id: &str, route_id: &str, integration_id: &str) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .update_route()
        .api_id(api_id)
        .route_id(route_id)
        .target(route_target(integration_id))
        .send()
        .await
        .map_err(aws_err("UpdateRoute"))?;
    Ok(())
}

pub async fn delete_route(aws: &Aws, api_id: &str, route_id: &str) -> AwsResult<()> {
    found(
        aws.apigwv2()
            .await
            .delete_route()
            .api_id(api_id)
            .route_id(route_id)
            .send()
            .await
            .map_err(aws_err("DeleteRoute")),
    )?;
    Ok(())
}

fn route_settings(throttle: Option<Throttle>) -> Option<RouteSettings> {
    throttle.map(|t| {
        RouteSettings::builder()
            .throttling_rate_limit(t.rate_limit)
            .throttling_burst_limit(t.burst_limit)
            .build()
    })
}

/// The auto-deployed `$default` stage, with the tags and throttling of the API.
pub async fn create_stage(aws: &Aws, api_id: &str, desired: &DesiredHttpApi) -> AwsResult<()> {
    match aws
        .apigwv2()
        .await
        .create_stage()
        .api_id(api_id)
        .stage_name(STAGE)
        .auto_deploy(true)
        .set_default_route_settings(route_settings(desired.throttle))
        .set_tags(Some(desired.tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(aws_err("CreateStage"))
    {
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Auto-deploy on, and the throttling the spec asks for (left as it is when none).
pub async fn update_stage(aws: &Aws, api_id: &str, throttle: Option<Throttle>) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .update_stage()
        .api_id(api_id)
        .stage_name(STAGE)
        .auto_deploy(true)
        .set_default_route_settings(route_settings(throttle))
        .send()
        .await
        .map_err(aws_err("UpdateStage"))?;
    Ok(())
}

pub async fn delete(aws: &Aws, api_id: &str) -> AwsResult<()> {
    aws.pacer.pace("DeleteApi", api_id).await?;
    found(
        aws.apigwv2()
            .await
            .delete_api()
            .api_id(api_id)
            .send()
            .await
            .map_err(aws_err("DeleteApi")),
    )?;
    Ok(())
}

/// The `$default` stage's URL.
pub fn invoke_url(api_id: &str, region: &str) -> String {
    let host = super::partition::Partition::of_region(region).service_host("execute-api", region);
    format!("https://{api_id}.{host}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(uri: &str) -> ObservedIntegration {
        ObservedIntegration {
            id: "i1".into(),
            kind: "HTTP_PROXY".into(),
            method: "ANY".into(),
            connection_type: "VPC_LINK".into(),
            connection_id: "vl1".into(),
            uri: uri.into(),
            payload_format: "1.0".into(),
            server_name: None,
            subtype: None,
            credentials: None,
            request_parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn an_integration_is_ours_only_with_every_field_as_wanted() {
        let wanted = Integration {
            connection_id: "vl1".to_owned(),
            uri: "arn:listener/1".to_owned(),
            server_name: None,
            route: None,
        };
        assert!(observed("arn:listener/1").is(&wanted));
        assert!(!observed("arn:listener/2").is(&wanted));
        let mut v2 = observed("arn:listener/1");
        v2.payload_format = "2.0".into();
        assert!(!v2.is(&wanted));
    }

    #[test]
    fn a_queue_integration_is_the_route_s_only_with_its_queue_and_role() {
        let route: QueueRoute = QueueRoute {
            method: "POST",
            path: "/orders".into(),
            queue_arn: "arn:aws:sqs:eu-west-1:123456789012:orders".into(),
            role: "arn:aws:iam::123456789012:role/privateapi/r".into(),
        };
        let sending = ObservedIntegration {
            kind: "AWS_PROXY".into(),
            subtype: Some(SEND_MESSAGE.into()),
            credentials: Some(route.role.clone()),
            request_parameters: queue_parameters(&route),
            connection_type: "INTERNET".into(),
            connection_id: String::new(),
            ..observed("")
        };
        assert!(sending.sends(&route));
        assert_eq!(
            sending.request_parameters["QueueUrl"],
            "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"
        );
        let other_queue = QueueRoute {
            queue_arn: "arn:aws:sqs:eu-west-1:123456789012:other".into(),
            ..route.clone()
        };
        assert!(!sending.sends(&other_queue));
        let other_role = QueueRoute {
            role: "arn:aws:iam::123456789012:role/else".into(),
            ..route.clone()
        };
        assert!(!sending.sends(&other_role));
        assert!(!sending.is(&Integration::default()));
    }

    #[test]
    fn our_apis_are_told_apart_by_uid_oldest_first() {
        let api = |id: &str, created, uid: Option<&str>| ListedApi {
            id: id.into(),
            created,
            uid: uid.map(str::to_owned),
        };
        let all = vec![
            api("b", 2, Some("u1")),
            api("x", 1, Some("u2")),
            api("a", 1, Some("u1")),
            api("n", 0, None),
        ];
        assert_eq!(ours(all, "u1"), vec!["a", "b"]);
    }
}
