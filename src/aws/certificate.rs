//! ACM certificates the spec names: read (never changed) for the host name an
//! HTTPS integration must use, so that API Gateway's TLS check of the load balancer
//! passes.

use super::Aws;
use super::error::{AwsError, AwsResult, aws_err};

/// The host name the certificate covers, for an integration's URI: its domain name,
/// with a wildcard's `*` replaced by `api`.
pub async fn host_name(aws: &Aws, arn: &str) -> AwsResult<String> {
    let out = aws
        .acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(aws_err("DescribeCertificate"))?;
    let name = out
        .certificate()
        .and_then(|c| c.domain_name())
        .ok_or(AwsError::Incomplete {
            operation: "DescribeCertificate",
            field: "Certificate.DomainName",
        })?;
    Ok(concrete(name))
}

/// `*.example.com` → `api.example.com`; other names as they are.
pub fn concrete(name: &str) -> String {
    match name.strip_prefix("*.") {
        Some(rest) => format!("api.{rest}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wildcard_becomes_one_name_it_covers() {
        assert_eq!(super::concrete("*.internal.example.com"), "api.internal.example.com");
        assert_eq!(super::concrete("svc.example.com"), "svc.example.com");
    }
}
