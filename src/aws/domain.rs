//! A custom domain name for the API: a REGIONAL API Gateway domain name with an ACM
//! certificate, and one mapping of its base path to the API's stage. REST APIs use
//! apigateway's domain names and base-path mappings, HTTP APIs apigatewayv2's domain
//! names and API mappings; both are described here as one shape.
//!
//! A domain name is unique in the region: one of our name without our tags belongs
//! to someone else and is never touched.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, Op, PatchOperation, SecurityPolicy};
use aws_sdk_apigatewayv2::types::{DomainNameConfiguration, EndpointType as V2EndpointType};

use super::error::{AwsResult, aws_err, found};
use super::ownership::TAG_UID;
use super::{Aws, all_pages};

/// apigateway's name for the empty base path.
const NO_BASE_PATH: &str = "(none)";

/// Which API Gateway holds the domain: apigateway (REST) or apigatewayv2 (HTTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Rest,
    Http,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredDomain<R = String> {
    pub flavor: Flavor,
    pub name: String,
    pub certificate_arn: String,
    /// "" for the root.
    pub base_path: String,
    pub api: R,
    pub stage: String,
    pub tags: BTreeMap<String, String>,
}

impl<R> DesiredDomain<R> {
    pub fn try_map<S>(&self, mut f: impl FnMut(&R) -> Option<S>) -> Option<DesiredDomain<S>> {
        Some(DesiredDomain {
            flavor: self.flavor,
            name: self.name.clone(),
            certificate_arn: self.certificate_arn.clone(),
            base_path: self.base_path.clone(),
            api: f(&self.api)?,
            stage: self.stage.clone(),
            tags: self.tags.clone(),
        })
    }
}

/// One base path's mapping to an API's stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The base path (REST) or the mapping's id (HTTP): what names it in calls.
    pub id: String,
    /// The base path, "" for the root.
    pub key: String,
    pub api: String,
    pub stage: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedDomain {
    pub name: String,
    pub certificate_arn: String,
    /// Where DNS must point: the regional domain name and its hosted zone.
    pub target: String,
    pub hosted_zone: String,
    pub uid: Option<String>,
}

/// Every domain name of the region, of one flavor.
pub async fn list_all(aws: &Aws, flavor: Flavor) -> AwsResult<Vec<ObservedDomain>> {
    match flavor {
        Flavor::Rest => {
            all_pages("GetDomainNames", |position| async move {
                let out = aws
                    .apigw()
                    .await
                    .get_domain_names()
                    .limit(500)
                    .set_position(position)
                    .send()
                    .await
                    .map_err(aws_err("GetDomainNames"))?;
                let domains = out
                    .items()
                    .iter()
                    .map(|d| ObservedDomain {
                        name: d.domain_name().unwrap_or_default().to_owned(),
                        certificate_arn: d.regional_certificate_arn().unwrap_or_default().to_owned(),
                        target: d.regional_domain_name().unwrap_or_default().to_owned(),
                        hosted_zone: d.regional_hosted_zone_id().unwrap_or_default().to_owned(),
                        uid: d.tags().and_then(|t| t.get(TAG_UID)).cloned(),
                    })
                    .collect();
                Ok((domains, out.position().map(str::to_owned)))
            })
            .await
        }
        Flavor::Http => {
            all_pages("GetDomainNames", |token| async move {
                let out = aws
                    .apigwv2()
                    .await
                    .get_domain_names()
                    .max_results("500")
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(aws_err("GetDomainNames"))?;
                let domains = out
                    .items()
                    .iter()
                    .map(|d| {
                        let config = d.domain_name_configurations().first();
                        ObservedDomain {
                            name: d.domain_name().unwrap_or_default().to_owned(),
                            certificate_arn: config.and_then(|c| c.certificate_arn()).unwrap_or_default().to_owned(),
                            target: config
                                .and_then(|c| c.api_gateway_domain_name())
                                .unwrap_or_default()
                                .to_owned(),
                            hosted_zone: config.and_then(|c| c.hosted_zone_id()).unwrap_or_default().to_owned(),
                            uid: d.tags().and_then(|t| t.get(TAG_UID)).cloned(),
                        }
                    })
                    .collect();
                Ok((domains, out.next_token().map(str::to_owned)))
            })
            .await
        }
    }
}

/// The mappings of one domain; `None` when the domain is gone.
pub async fn mappings(aws: &Aws, flavor: Flavor, domain: &str) -> AwsResult<Option<Vec<Mapping>>> {
    match flavor {
        Flavor::Rest => {
            let out = found(
                aws.apigw()
                    .await
                    .get_base_path_mappings()
                    .domain_name(domain)
                    .limit(500)
                    .send()
                    .await
                    .map_err(aws_err("GetBasePathMappings")),
            )?;
            Ok(out.map(|out| {
                out.items()
                    .iter()
                    .map(|m| {
                        let path = m.base_path().unwrap_or(NO_BASE_PATH).to_owned();
                        Mapping {
                            key: if path == NO_BASE_PATH {
                                String::new()
                            } else {
                                path.clone()
                            },
                            id: path,
                            api: m.rest_api_id().unwrap_or_default().to_owned(),
                            stage: m.stage().unwrap_or_default().to_owned(),
                        }
                    })
                    .collect()
            }))
        }
        Flavor::Http => {
            let out = found(
                aws.apigwv2()
                    .await
                    .get_api_mappings()
                    .domain_name(domain)
                    .max_results("500")
                    .send()
                    .await
                    .map_err(aws_err("GetApiMappings")),
            )?;
            Ok(out.map(|out| {
                out.items()
                    .iter()
                    .map(|m| Mapping {
                        id: m.api_mapping_id().unwrap_or_default().to_owned(),
                        key: m.api_mapping_key().unwrap_or_default().to_owned(),
                        api: m.api_id().unwrap_or_default().to_owned(),
                        stage: m.stage().unwrap_or_default().to_owned(),
                    })
                    .collect()
            }))
        }
    }
}

/// Makes the domain name (tags with the create call); returns where DNS must point.
pub async fn create(aws: &Aws, desired: &DesiredDomain) -> AwsResult<(String, String)> {
    match desired.flavor {
        Flavor::Rest => {
            aws.pacer.pace("CreateDomainName", &desired.name).await?;
            let out = aws
                .apigw()
                .await
                .create_domain_name()
                .domain_name(&desired.name)
                .regional_certificate_arn(&desired.certificate_arn)
                .endpoint_configuration(EndpointConfiguration::builder().types(EndpointType::Regional).build())
                .security_policy(SecurityPolicy::Tls12)
                .set_tags(Some(desired.tags.clone().into_iter().collect::<HashMap<_, _>>()))
                .send()
                .await
                .map_err(aws_err("CreateDomainName"))?;
            Ok((
                out.regional_domain_name().unwrap_or_default().to_owned(),
                out.regional_hosted_zone_id().unwrap_or_default().to_owned(),
            ))
        }
        Flavor::Http => {
            let config = DomainNameConfiguration::builder()
                .certificate_arn(&desired.certificate_arn)
                .endpoint_type(V2EndpointType::Regional)
                .security_policy(aws_sdk_apigatewayv2::types::SecurityPolicy::Tls12)
                .build();
            let out = aws
                .apigwv2()
                .await
                .create_domain_name()
                .domain_name(&desired.name)
                .domain_name_configurations(config)
                .set_tags(Some(desired.tags.clone().into_iter().collect::<HashMap<_, _>>()))
                .send()
                .await
                .map_err(aws_err("CreateDomainName"))?;
            let config = out.domain_name_configurations().first();
            Ok((
                config
                    .and_then(|c| c.api_gateway_domain_name())
                    .unwrap_or_default()
                    .to_owned(),
                config.and_then(|c| c.hosted_zone_id()).unwrap_or_default().to_owned(),
            ))
        }
    }
}

/// Serves the domain with another ACM certificate.
pub async fn set_certificate(aws: &Aws, desired: &DesiredDomain) -> AwsResult<()> {
    match desired.flavor {
        Flavor::Rest => {
            aws.pacer.pace("UpdateDomainName", &desired.name).await?;
            aws.apigw()
                .await
                .update_domain_name()
                .domain_name(&desired.name)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/regionalCertificateArn")
                        .value(&desired.certificate_arn)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_err("UpdateDomainName"))?;
        }
        Flavor::Http => {
            let config = DomainNameConfiguration::builder()
                .certificate_arn(&desired.certificate_arn)
                .endpoint_type(V2EndpointType::Regional)
                .security_policy(aws_sdk_apigatewayv2::types::SecurityPolicy::Tls12)
                .build();
            aws.apigwv2()
                .await
                .update_domain_name()
                .domain_name(&desired.name)
                .domain_name_configurations(config)
                .send()
                .await
                .map_err(aws_err("UpdateDomainName"))?;
        }
    }
    Ok(())
}

pub async fn create_mapping(aws: &Aws, desired: &DesiredDomain) -> AwsResult<()> {
    match desired.flavor {
        Flavor::Rest => {
            aws.apigw()
                .await
                .create_base_path_mapping()
                .domain_name(&desired.name)
                .set_base_path(Some(desired.base_path.clone()).filter(|p| !p.is_empty()))
                .rest_api_id(&desired.api)
                .stage(&desired.stage)
                .send()
                .await
                .map_err(aws_err("CreateBasePathMapping"))?;
        }
        Flavor::Http => {
            aws.apigwv2()
                .await
                .create_api_mapping()
                .domain_name(&desired.name)
                .api_id(&desired.api)
                .stage(&desired.stage)
                .set_api_mapping_key(Some(desired.base_path.clone()).filter(|p| !p.is_empty()))
                .send()
                .await
                .map_err(aws_err("CreateApiMapping"))?;
        }
    }
    Ok(())
}

/// Points the mapping `id` at the desired API and stage.
pub async fn point_mapping(aws: &Aws, desired: &DesiredDomain, id: &str) -> AwsResult<()> {
    match desired.flavor {
        Flavor::Rest => {
            let replace = |path: &str, value: &str| {
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path(path)
                    .value(value)
                    .build()
            };
            aws.apigw()
                .await
                .update_base_path_mapping()
                .domain_name(&desired.name)
                .base_path(id)
                .patch_operations(replace("/restapiId", &desired.api))
                .patch_operations(replace("/stage", &desired.stage))
                .send()
                .await
                .map_err(aws_err("UpdateBasePathMapping"))?;
        }
        Flavor::Http => {
            aws.apigwv2()
                .await
                .update_api_mapping()
                .domain_name(&desired.name)
                .api_mapping_id(id)
                .api_id(&desired.api)
                .stage(&desired.stage)
                .send()
                .await
                .map_err(aws_err("UpdateApiMapping"))?;
        }
    }
    Ok(())
}

pub async fn delete_mapping(aws: &Aws, flavor: Flavor, domain: &str, id: &str) -> AwsResult<()> {
    match flavor {
        Flavor::Rest => {
            found(
                aws.apigw()
                    .await
                    .delete_base_path_mapping()
                    .domain_name(domain)
                    .base_path(id)
                    .send()
                    .await
                    .map_err(aws_err("DeleteBasePathMapping")),
            )?;
        }
        Flavor::Http => {
            found(
                aws.apigwv2()
                    .await
                    .delete_api_mapping()
                    .domain_name(domain)
                    .api_mapping_id(id)
                    .send()
                    .await
                    .map_err(aws_err("DeleteApiMapping")),
            )?;
        }
    }
    Ok(())
}

/// Deletes the domain name (its mappings go with it).
pub async fn delete(aws: &Aws, flavor: Flavor, domain: &str) -> AwsResult<()> {
    match flavor {
        Flavor::Rest => {
            aws.pacer.pace("DeleteDomainName", domain).await?;
            found(
                aws.apigw()
                    .await
                    .delete_domain_name()
                    .domain_name(domain)
                    .send()
                    .await
                    .map_err(aws_err("DeleteDomainName")),
            )?;
        }
        Flavor::Http => {
            found(
                aws.apigwv2()
                    .await
                    .delete_domain_name()
                    .domain_name(domain)
                    .send()
                    .await
                    .map_err(aws_err("DeleteDomainName")),
            )?;
        }
    }
    Ok(())
}

/// The URL the domain serves the API at.
pub fn url(name: &str, base_path: &str) -> String {
    match base_path {
        "" => format!("https://{name}/"),
        path => format!("https://{name}/{path}"),
    }
}

/// A mapping is as wanted: same base path, API and stage.
pub fn mapping_in_sync(mapping: &Mapping, desired: &DesiredDomain) -> bool {
    mapping.key == desired.base_path && mapping.api == desired.api && mapping.stage == desired.stage
}
