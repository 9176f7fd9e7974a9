//! Who may call the API (`api.authorization`): the authorization type every method
//! (REST) or route (HTTP) carries, and the authorizer object it names, if any.
//!
//! An authorizer is never changed in place: its name ends in the fingerprint of its
//! settings, a changed setting makes a new one, the methods or routes move to it, and
//! the old one (ours by its name prefix) is deleted once nothing uses it. Authorizers
//! of other names on our API are left alone.

use std::collections::BTreeSet;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use serde::Serialize;

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err, found};
use super::ownership::fingerprint;
use super::partition::Partition;
use crate::crd::{AuthorizationSpec, AuthorizationType};

/// Our authorizers' names start so; the rest is the fingerprint of their settings.
pub const NAME_PREFIX: &str = "privateapi-";

/// REST (apigateway) or HTTP (apigatewayv2): the two spell everything differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Flavor {
    Rest,
    Http,
}

/// An authorizer as the spec wants it; `R` names the role API Gateway invokes a
/// Lambda authorizer with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DesiredAuthorizer<R = String> {
    pub flavor: Flavor,
    /// REST: `COGNITO_USER_POOLS` or `REQUEST`; HTTP: `JWT` or `REQUEST`.
    pub kind: &'static str,
    /// REST, Cognito: the user pools, sorted.
    pub provider_arns: Vec<String>,
    /// Lambda: the function's invocation URI.
    pub uri: Option<String>,
    /// Lambda: the role API Gateway invokes the function with (not in the name: it is
    /// the owner's API Gateway role, whose ARN does not change).
    #[serde(skip)]
    pub credentials: Option<R>,
    /// REST: `method.request.header.X`; HTTP: `$request.header.X`.
    pub identity_source: String,
    /// Lambda: seconds an answer is cached.
    pub ttl: Option<i32>,
    /// HTTP, JWT.
    pub issuer: Option<String>,
    /// HTTP, JWT: sorted.
    pub audiences: Vec<String>,
}

impl<R> DesiredAuthorizer<R> {
    pub fn try_map<S>(&self, f: impl FnOnce(&R) -> Option<S>) -> Option<DesiredAuthorizer<S>> {
        Some(DesiredAuthorizer {
            flavor: self.flavor,
            kind: self.kind,
            provider_arns: self.provider_arns.clone(),
            uri: self.uri.clone(),
            credentials: match &self.credentials {
                Some(role) => Some(f(role)?),
                None => None,
            },
            identity_source: self.identity_source.clone(),
            ttl: self.ttl,
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
        })
    }
}

impl<R> DesiredAuthorizer<R> {
    /// `privateapi-` and the fingerprint of the settings (the role left out).
    pub fn name(&self) -> String {
        let settings = self.try_map(|_| Some(()));
        format!(
            "{NAME_PREFIX}{}",
            fingerprint(&serde_json::to_string(&settings).unwrap_or_default())
        )
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match self.kind {
            "COGNITO_USER_POOLS" => format!("Cognito user pools {}", self.provider_arns.join(", ")),
            "JWT" => format!(
                "JWT from {} for {}",
                self.issuer.as_deref().unwrap_or_default(),
                self.audiences.join(", ")
            ),
            _ => format!(
                "Lambda {} (identity {}, cached {} s)",
                self.uri.as_deref().unwrap_or_default(),
                self.identity_source,
                self.ttl.unwrap_or_default()
            ),
        }
    }
}

/// The authorization of every method or route of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Auth<R = String> {
    /// The `authorizationType` sent: REST `NONE`, `AWS_IAM`, `COGNITO_USER_POOLS`,
    /// `CUSTOM`; HTTP `NONE`, `AWS_IAM`, `JWT`, `CUSTOM`.
    pub method: &'static str,
    /// The authorizer's id, when the type uses one.
    pub authorizer: Option<R>,
    /// REST, Cognito: the methods' `authorizationScopes`, sorted.
    pub scopes: Vec<String>,
    /// REST: the methods' `apiKeyRequired` (`api.usagePlan`). Left out of the
    /// serialized form when false, so that the deployment shape of an API without
    /// keys is what it was before keys existed.
    #[serde(skip_serializing_if = "is_false")]
    pub api_key: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl<R> Auth<R> {
    pub fn none() -> Auth<R> {
        Auth {
            method: "NONE",
            authorizer: None,
            scopes: Vec::new(),
            api_key: false,
        }
    }

    /// No authorization type (an API key may still be required).
    pub fn is_none(&self) -> bool {
        self.method == "NONE"
    }

    /// Nothing asked of a caller: no authorization type and no API key.
    pub fn is_open(&self) -> bool {
        self.is_none() && !self.api_key
    }

    pub fn try_map<S>(&self, f: impl FnOnce(&R) -> Option<S>) -> Option<Auth<S>> {
        Some(Auth {
            method: self.method,
            authorizer: match &self.authorizer {
                Some(id) => Some(f(id)?),
                None => None,
            },
            scopes: self.scopes.clone(),
            api_key: self.api_key,
        })
    }
}

/// A method's or route's authorization as API Gateway reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenAuth {
    pub method: String,
    pub authorizer: Option<String>,
    pub scopes: Vec<String>,
    /// REST: the method's `apiKeyRequired`.
    pub api_key: bool,
}

impl SeenAuth {
    /// Whether it is `wanted` (the authorizer id compared only where the type uses
    /// one: AWS keeps a stale id on a method set back to NONE, and it means nothing).
    pub fn is(&self, wanted: &Auth<String>) -> bool {
        let method = if self.method.is_empty() {
            "NONE"
        } else {
            self.method.as_str()
        };
        let scopes: BTreeSet<&String> = self.scopes.iter().collect();
        method == wanted.method
            && (wanted.authorizer.is_none() || self.authorizer == wanted.authorizer)
            && scopes == wanted.scopes.iter().collect()
            && self.api_key == wanted.api_key
    }
}

/// What the spec's authorization means for an API of `flavor` in `region`; the
/// authorizer's role is `role` (the owner's API Gateway role).
pub fn desired<R: Clone>(
    spec: &AuthorizationSpec,
    flavor: Flavor,
    region: &str,
    authorizer_id: R,
    role: R,
) -> (Auth<R>, Option<DesiredAuthorizer<R>>) {
    let header = |name: &str| match flavor {
        Flavor::Rest => format!("method.request.header.{name}"),
        Flavor::Http => format!("$request.header.{name}"),
    };
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        items
    };
    let base = DesiredAuthorizer {
        flavor,
        kind: "REQUEST",
        provider_arns: Vec::new(),
        uri: None,
        credentials: None,
        identity_source: header("Authorization"),
        ttl: None,
        issuer: None,
        audiences: Vec::new(),
    };
    let custom = |kind: &'static str, scopes: Vec<String>| Auth {
        method: kind,
        authorizer: Some(authorizer_id.clone()),
        scopes,
        api_key: false,
    };
    match (spec.kind, flavor) {
        (AuthorizationType::None, _) => (Auth::none(), None),
        (AuthorizationType::Iam, _) => (
            Auth {
                method: "AWS_IAM",
                authorizer: None,
                scopes: Vec::new(),
                api_key: false,
            },
            None,
        ),
        (AuthorizationType::Cognito, _) => {
            let cognito = spec
                .cognito
                .clone()
                .unwrap_or_else(|| crate::crd::CognitoAuthorization {
                    user_pool_arns: Vec::new(),
                    scopes: Vec::new(),
                });
            (
                custom("COGNITO_USER_POOLS", sorted(&cognito.scopes)),
                Some(DesiredAuthorizer {
                    kind: "COGNITO_USER_POOLS",
                    provider_arns: sorted(&cognito.user_pool_arns),
                    ..base
                }),
            )
        }
        (AuthorizationType::Jwt, _) => {
            let jwt = spec.jwt.clone();
            (
                custom("JWT", Vec::new()),
                Some(DesiredAuthorizer {
                    kind: "JWT",
                    issuer: jwt.as_ref().map(|j| j.issuer.clone()),
                    audiences: jwt.map(|j| sorted(&j.audiences)).unwrap_or_default(),
                    ..base
                }),
            )
        }
        (AuthorizationType::Lambda, _) => {
            let lambda = spec.lambda.as_ref();
            let function = lambda.map(|l| l.function_arn.as_str()).unwrap_or_default();
            (
                custom("CUSTOM", Vec::new()),
                Some(DesiredAuthorizer {
                    uri: Some(lambda_uri(region, function)),
                    credentials: Some(role),
                    identity_source: header(lambda.map_or("Authorization", |l| l.identity_source.as_str())),
                    ttl: Some(lambda.map_or(300, |l| l.result_ttl_seconds)),
                    ..base
                }),
            )
        }
    }
}

/// The URI API Gateway invokes a Lambda function at (the API's region).
pub fn lambda_uri(region: &str, function_arn: &str) -> String {
    let partition = Partition::of_region(region);
    partition.arn(
        "apigateway",
        region,
        "lambda",
        &format!("path/2015-03-31/functions/{function_arn}/invocations"),
    )
}

/// An authorizer of the API, as API Gateway reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAuthorizer {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub provider_arns: Vec<String>,
    pub uri: Option<String>,
    pub credentials: Option<String>,
    pub identity_source: String,
    pub ttl: Option<i32>,
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    /// HTTP, Lambda: the payload format and simple responses.
    pub payload_format: Option<String>,
    pub simple_responses: bool,
}

/// The payload format of HTTP Lambda authorizers: 2.0 allows simple responses.
pub const HTTP_PAYLOAD_FORMAT: &str = "2.0";

impl ObservedAuthorizer {
    /// Ours: made by the operator (by name; an API of ours has no other authorizers
    /// unless someone added them by hand, and those are left alone).
    pub fn ours(&self) -> bool {
        self.name.starts_with(NAME_PREFIX)
    }

    /// Whether it is the authorizer `wanted` describes, in every setting that matters.
    pub fn is(&self, wanted: &DesiredAuthorizer) -> bool {
        let mut arns = self.provider_arns.clone();
        arns.sort();
        let mut audiences = self.audiences.clone();
        audiences.sort();
        let common = self.ours() && self.kind == wanted.kind && self.identity_source == wanted.identity_source;
        match (wanted.flavor, wanted.kind) {
            (_, "COGNITO_USER_POOLS") => common && arns == wanted.provider_arns,
            (_, "JWT") => common && self.issuer == wanted.issuer && audiences == wanted.audiences,
            (flavor, _) => {
                common
                    && self.uri == wanted.uri
                    && self.credentials == wanted.credentials
                    && self.ttl == wanted.ttl
                    && (flavor == Flavor::Rest
                        || (self.payload_format.as_deref() == Some(HTTP_PAYLOAD_FORMAT) && self.simple_responses))
            }
        }
    }
}

// ------------------------------------------------------------ REST (apigateway)

pub async fn observe_rest(aws: &Aws, api_id: &str) -> AwsResult<Option<Vec<ObservedAuthorizer>>> {
    let out = aws
        .apigw()
        .await
        .get_authorizers()
        .rest_api_id(api_id)
        .limit(500)
        .send()
        .await;
    let Some(out) = found(out.map_err(aws_err("GetAuthorizers")))? else {
        return Ok(None);
    };
    Ok(Some(
        out.items()
            .iter()
            .map(|a| ObservedAuthorizer {
                id: a.id().unwrap_or_default().to_owned(),
                name: a.name().unwrap_or_default().to_owned(),
                kind: a.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                provider_arns: a.provider_arns().to_vec(),
                uri: a.authorizer_uri().map(str::to_owned),
                credentials: a.authorizer_credentials().map(str::to_owned),
                identity_source: a.identity_source().unwrap_or_default().to_owned(),
                ttl: a.authorizer_result_ttl_in_seconds(),
                issuer: None,
                audiences: Vec::new(),
                payload_format: None,
                simple_responses: false,
            })
            .collect(),
    ))
}

pub async fn create_rest(aws: &Aws, api_id: &str, wanted: &DesiredAuthorizer) -> AwsResult<String> {
    let out = aws
        .apigw()
        .await
        .create_authorizer()
        .rest_api_id(api_id)
        .name(wanted.name())
        .r#type(aws_sdk_apigateway::types::AuthorizerType::from(wanted.kind))
        .set_provider_arns(Some(wanted.provider_arns.clone()).filter(|a| !a.is_empty()))
        .set_authorizer_uri(wanted.uri.clone())
        .set_authorizer_credentials(wanted.credentials.clone())
        .identity_source(&wanted.identity_source)
        .set_authorizer_result_ttl_in_seconds(wanted.ttl)
        .send()
        .await
        .map_err(aws_err("CreateAuthorizer"))?;
    out.id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateAuthorizer",
        field: "id",
    })
}

pub async fn delete_rest(aws: &Aws, api_id: &str, id: &str) -> AwsResult<()> {
    found(
        aws.apigw()
            .await
            .delete_authorizer()
            .rest_api_id(api_id)
            .authorizer_id(id)
            .send()
            .await
            .map_err(aws_err("DeleteAuthorizer")),
    )?;
    Ok(())
}

/// Sets a method's authorization in place (PutMethod refuses an existing method):
/// the type, the authorizer, and the scopes (those it has and `wanted` has not go).
pub async fn update_method(
    aws: &Aws,
    api_id: &str,
    resource_id: &str,
    method: &str,
    wanted: &Auth,
    had_scopes: &[String],
) -> AwsResult<()> {
    let op = |op: Op, path: &str, value: Option<String>| {
        PatchOperation::builder().op(op).path(path).set_value(value).build()
    };
    // Without an authorizer, the id is cleared: AWS keeps it otherwise, and the
    // authorizer counts as used by the method (its DeleteAuthorizer is a conflict).
    let authorizer = wanted.authorizer.clone().unwrap_or_default();
    let mut ops = vec![
        op(Op::Replace, "/authorizationType", Some(wanted.method.to_owned())),
        op(Op::Replace, "/authorizerId", Some(authorizer)),
        op(Op::Replace, "/apiKeyRequired", Some(wanted.api_key.to_string())),
    ];
    for gone in had_scopes.iter().filter(|s| !wanted.scopes.contains(s)) {
        ops.push(op(Op::Remove, "/authorizationScopes", Some(gone.clone())));
    }
    for new in wanted.scopes.iter().filter(|s| !had_scopes.contains(s)) {
        ops.push(op(Op::Add, "/authorizationScopes", Some(new.clone())));
    }
    aws.apigw()
        .await
        .update_method()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .set_patch_operations(Some(ops))
        .send()
        .await
        .map_err(aws_err("UpdateMethod"))?;
    Ok(())
}

// ------------------------------------------------------------ HTTP (apigatewayv2)

pub async fn observe_http(aws: &Aws, api_id: &str) -> AwsResult<Option<Vec<ObservedAuthorizer>>> {
    let out = aws
        .apigwv2()
        .await
        .get_authorizers()
        .api_id(api_id)
        .max_results("500")
        .send()
        .await;
    let Some(out) = found(out.map_err(aws_err("GetAuthorizers")))? else {
        return Ok(None);
    };
    Ok(Some(
        out.items()
            .iter()
            .map(|a| ObservedAuthorizer {
                id: a.authorizer_id().unwrap_or_default().to_owned(),
                name: a.name().unwrap_or_default().to_owned(),
                kind: a.authorizer_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                provider_arns: Vec::new(),
                uri: a.authorizer_uri().map(str::to_owned),
                credentials: a.authorizer_credentials_arn().map(str::to_owned),
                identity_source: a.identity_source().join(","),
                ttl: a.authorizer_result_ttl_in_seconds(),
                issuer: a.jwt_configuration().and_then(|j| j.issuer()).map(str::to_owned),
                audiences: a.jwt_configuration().map(|j| j.audience().to_vec()).unwrap_or_default(),
                payload_format: a.authorizer_payload_format_version().map(str::to_owned),
                simple_responses: a.enable_simple_responses().unwrap_or(false),
            })
            .collect(),
    ))
}

pub async fn create_http(aws: &Aws, api_id: &str, wanted: &DesiredAuthorizer) -> AwsResult<String> {
    use aws_sdk_apigatewayv2::types::{AuthorizerType, JwtConfiguration};
    let lambda = wanted.kind == "REQUEST";
    let jwt = (wanted.kind == "JWT").then(|| {
        JwtConfiguration::builder()
            .set_issuer(wanted.issuer.clone())
            .set_audience(Some(wanted.audiences.clone()))
            .build()
    });
    let out = aws
        .apigwv2()
        .await
        .create_authorizer()
        .api_id(api_id)
        .name(wanted.name())
        .authorizer_type(AuthorizerType::from(wanted.kind))
        .identity_source(&wanted.identity_source)
        .set_jwt_configuration(jwt)
        .set_authorizer_uri(wanted.uri.clone())
        .set_authorizer_credentials_arn(wanted.credentials.clone())
        .set_authorizer_result_ttl_in_seconds(wanted.ttl)
        .set_authorizer_payload_format_version(lambda.then(|| HTTP_PAYLOAD_FORMAT.to_owned()))
        .set_enable_simple_responses(lambda.then_some(true))
        .send()
        .await
        .map_err(aws_err("CreateAuthorizer"))?;
    out.authorizer_id().map(str::to_owned).ok_or(AwsError::Incomplete {
        operation: "CreateAuthorizer",
        field: "AuthorizerId",
    })
}

pub async fn delete_http(aws: &Aws, api_id: &str, id: &str) -> AwsResult<()> {
    found(
        aws.apigwv2()
            .await
            .delete_authorizer()
            .api_id(api_id)
            .authorizer_id(id)
            .send()
            .await
            .map_err(aws_err("DeleteAuthorizer")),
    )?;
    Ok(())
}

/// Sets a route's authorization (type and authorizer) in place.
pub async fn update_route(aws: &Aws, api_id: &str, route_id: &str, wanted: &Auth) -> AwsResult<()> {
    aws.apigwv2()
        .await
        .update_route()
        .api_id(api_id)
        .route_id(route_id)
        .authorization_type(aws_sdk_apigatewayv2::types::AuthorizationType::from(wanted.method))
        // "" clears a former authorizer (which would otherwise stay attached, and
        // DeleteAuthorizer would be a conflict).
        .authorizer_id(wanted.authorizer.clone().unwrap_or_default())
        .send()
        .await
        .map_err(aws_err("UpdateRoute"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{CognitoAuthorization, JwtAuthorization, LambdaAuthorization};

    fn spec(kind: AuthorizationType) -> AuthorizationSpec {
        AuthorizationSpec {
            kind,
            cognito: (kind == AuthorizationType::Cognito).then(|| CognitoAuthorization {
                user_pool_arns: vec!["arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC".into()],
                scopes: vec!["orders/write".into()],
            }),
            jwt: (kind == AuthorizationType::Jwt).then(|| JwtAuthorization {
                issuer: "https://issuer.example.com".into(),
                audiences: vec!["b".into(), "a".into()],
            }),
            lambda: (kind == AuthorizationType::Lambda).then(|| LambdaAuthorization {
                function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:authz".into(),
                identity_source: "X-Token".into(),
                result_ttl_seconds: 0,
            }),
        }
    }

    #[test]
    fn each_type_maps_to_what_api_gateway_calls_it() {
        let auth = |kind, flavor| desired(&spec(kind), flavor, "eu-west-1", "az".to_owned(), "role".to_owned());
        assert_eq!(auth(AuthorizationType::None, Flavor::Rest), (Auth::none(), None));
        assert_eq!(auth(AuthorizationType::Iam, Flavor::Http).0.method, "AWS_IAM");
        let (method, cognito) = auth(AuthorizationType::Cognito, Flavor::Rest);
        assert_eq!(
            (method.method, method.scopes),
            ("COGNITO_USER_POOLS", vec!["orders/write".to_owned()])
        );
        let cognito = cognito.expect("an authorizer");
        assert_eq!(cognito.identity_source, "method.request.header.Authorization");
        assert_eq!(cognito.credentials, None);
        let (method, jwt) = auth(AuthorizationType::Jwt, Flavor::Http);
        let jwt = jwt.expect("an authorizer");
        assert_eq!((method.method, jwt.kind), ("JWT", "JWT"));
        assert_eq!(jwt.identity_source, "$request.header.Authorization");
        assert_eq!(jwt.audiences, vec!["a", "b"]);
        let (method, lambda) = auth(AuthorizationType::Lambda, Flavor::Rest);
        let lambda = lambda.expect("an authorizer");
        assert_eq!((method.method, lambda.kind), ("CUSTOM", "REQUEST"));
        assert_eq!(lambda.identity_source, "method.request.header.X-Token");
        assert_eq!(lambda.credentials.as_deref(), Some("role"));
        assert_eq!(
            lambda.uri.as_deref(),
            Some(
                "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:authz/invocations"
            )
        );
    }

    #[test]
    fn a_changed_setting_is_a_new_authorizer_name_but_the_role_is_not() {
        let make = |ttl, role: &str| {
            let mut s = spec(AuthorizationType::Lambda);
            s.lambda.as_mut().expect("lambda").result_ttl_seconds = ttl;
            desired(&s, Flavor::Http, "eu-west-1", String::new(), role.to_owned())
                .1
                .expect("authorizer")
        };
        assert_eq!(make(0, "a").name(), make(0, "b").name());
        assert_ne!(make(0, "a").name(), make(60, "a").name());
        assert!(make(0, "a").name().starts_with(NAME_PREFIX));
    }

    #[test]
    fn an_observed_authorizer_matches_only_with_every_setting() {
        let wanted = desired(
            &spec(AuthorizationType::Lambda),
            Flavor::Http,
            "eu-west-1",
            String::new(),
            "role".to_owned(),
        )
        .1
        .expect("authorizer");
        let seen = ObservedAuthorizer {
            id: "a1".into(),
            name: wanted.name(),
            kind: "REQUEST".into(),
            uri: wanted.uri.clone(),
            credentials: Some("role".into()),
            identity_source: wanted.identity_source.clone(),
            ttl: Some(0),
            payload_format: Some("2.0".into()),
            simple_responses: true,
            ..Default::default()
        };
        assert!(seen.is(&wanted));
        assert!(
            !ObservedAuthorizer {
                ttl: Some(300),
                ..seen.clone()
            }
            .is(&wanted)
        );
        assert!(
            !ObservedAuthorizer {
                credentials: None,
                ..seen.clone()
            }
            .is(&wanted)
        );
        assert!(
            !ObservedAuthorizer {
                simple_responses: false,
                ..seen.clone()
            }
            .is(&wanted)
        );
        // Someone else's, however alike.
        assert!(
            !ObservedAuthorizer {
                name: "hand-made".into(),
                ..seen
            }
            .is(&wanted)
        );
    }

    #[test]
    fn a_method_s_stale_authorizer_id_means_nothing_without_a_type_that_uses_one() {
        let seen = SeenAuth {
            method: "NONE".into(),
            authorizer: Some("old".into()),
            scopes: Vec::new(),
            api_key: false,
        };
        assert!(seen.is(&Auth::none()));
        assert!(SeenAuth::default().is(&Auth::none()));
        let cognito = Auth {
            method: "COGNITO_USER_POOLS",
            authorizer: Some("new".to_owned()),
            scopes: vec!["s".into()],
            api_key: false,
        };
        assert!(!seen.is(&cognito));
        let right = SeenAuth {
            method: "COGNITO_USER_POOLS".into(),
            authorizer: Some("new".into()),
            scopes: vec!["s".into()],
            api_key: false,
        };
        assert!(right.is(&cognito));
        assert!(
            !SeenAuth {
                scopes: Vec::new(),
                ..right
            }
            .is(&cognito)
        );
    }
}
