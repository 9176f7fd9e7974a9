//! The AWS partition of a region: ARNs (`arn:PARTITION:…`) and endpoint host names
//! (`….DNS_SUFFIX`) differ between the commercial regions, China and GovCloud (and
//! the isolated partitions). Nothing the operator writes may assume `aws` and
//! `amazonaws.com`: a China region's invoke URL ends in `amazonaws.com.cn`, and its
//! managed policies are `arn:aws-cn:iam::aws:policy/…`.
//!
//! The SDK has this data (partitions.json, compiled into every `aws-sdk-*` crate's
//! endpoint resolver) but keeps its partition resolver private (`pub(crate)`), so the
//! table below copies it: each partition's region pattern and DNS suffix. A unit test
//! holds the table to the SDK's public endpoint resolver, which resolves host names
//! through that same data, so a partition the SDK learns of and the table lacks fails
//! a test rather than a user.

/// A partition: its ARN id and the DNS suffix of its endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// The partition in ARNs: `aws`, `aws-cn`, `aws-us-gov`, …
    pub id: &'static str,
    /// The suffix of its service endpoints: `amazonaws.com`, `amazonaws.com.cn`, …
    pub dns_suffix: &'static str,
}

impl Partition {
    /// The commercial partition, that of every region no other partition claims (as
    /// the SDK's resolver falls back to it).
    pub const AWS: Partition = Partition {
        id: "aws",
        dns_suffix: "amazonaws.com",
    };

    /// The partition of `region`.
    pub fn of_region(region: &str) -> Partition {
        // The region name prefixes of partitions.json's `regionRegex`es (aws-sdk-*
        // `endpoint_lib.rs`). "us-iso-" and "us-isob-" do not overlap: the first ends
        // in a dash.
        const TABLE: &[(&str, Partition)] = &[
            ("cn-", p("aws-cn", "amazonaws.com.cn")),
            ("us-gov-", p("aws-us-gov", "amazonaws.com")),
            ("us-iso-", p("aws-iso", "c2s.ic.gov")),
            ("us-isob-", p("aws-iso-b", "sc2s.sgov.gov")),
            ("us-isof-", p("aws-iso-f", "csp.hci.ic.gov")),
            ("eu-isoe-", p("aws-iso-e", "cloud.adc-e.uk")),
            ("eusc-", p("aws-eusc", "amazonaws.eu")),
        ];
        TABLE
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or(Partition::AWS, |(_, partition)| *partition)
    }

    /// An ARN in this partition: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`
    /// (region and account empty for global resources such as AWS managed policies).
    pub fn arn(&self, service: &str, region: &str, account: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{region}:{account}:{resource}", self.id)
    }

    /// The host name of a regional service endpoint (`ssm.REGION.SUFFIX`), as IAM
    /// conditions such as `kms:ViaService` name them.
    pub fn service_host(&self, service: &str, region: &str) -> String {
        format!("{service}.{region}.{}", self.dns_suffix)
    }
}

const fn p(id: &'static str, dns_suffix: &'static str) -> Partition {
    Partition { id, dns_suffix }
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigateway::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    use super::*;

    #[test]
    fn china_and_govcloud() {
        let cn = Partition::of_region("cn-north-1");
        assert_eq!((cn.id, cn.dns_suffix), ("aws-cn", "amazonaws.com.cn"));
        assert_eq!(Partition::of_region("cn-northwest-1"), cn);
        assert_eq!(cn.arn("iam", "", "aws", "policy/x"), "arn:aws-cn:iam::aws:policy/x");
        assert_eq!(cn.service_host("ssm", "cn-north-1"), "ssm.cn-north-1.amazonaws.com.cn");

        let gov = Partition::of_region("us-gov-west-1");
        assert_eq!((gov.id, gov.dns_suffix), ("aws-us-gov", "amazonaws.com"));
        assert_eq!(Partition::of_region("us-gov-east-1"), gov);
        assert_eq!(
            gov.arn("logs", "us-gov-west-1", "123456789012", "log-group:/ecs/x:*"),
            "arn:aws-us-gov:logs:us-gov-west-1:123456789012:log-group:/ecs/x:*"
        );

        for region in ["eu-west-1", "us-east-1", "ap-southeast-7", "mx-central-1", "us-west-2"] {
            assert_eq!(Partition::of_region(region), Partition::AWS, "{region}");
        }
        assert_eq!(Partition::of_region("us-iso-east-1").id, "aws-iso");
        assert_eq!(Partition::of_region("us-isob-east-1").id, "aws-iso-b");
    }

    #[test]
    fn invoke_urls_end_in_the_partitions_suffix() {
        use crate::aws::{http_api, rest_api};
        assert_eq!(
            rest_api::invoke_url("a1", "cn-north-1", "prod"),
            "https://a1.execute-api.cn-north-1.amazonaws.com.cn/prod"
        );
        assert_eq!(
            rest_api::invoke_url("a1", "us-gov-west-1", "prod"),
            "https://a1.execute-api.us-gov-west-1.amazonaws.com/prod"
        );
        assert_eq!(
            rest_api::invoke_url("a1", "eu-west-1", "v1"),
            "https://a1.execute-api.eu-west-1.amazonaws.com/v1"
        );
        assert_eq!(
            http_api::invoke_url("h1", "cn-northwest-1"),
            "https://h1.execute-api.cn-northwest-1.amazonaws.com.cn/"
        );
        assert_eq!(
            http_api::invoke_url("h1", "us-gov-east-1"),
            "https://h1.execute-api.us-gov-east-1.amazonaws.com/"
        );
    }

    /// The table agrees with the SDK's own partition data, as its public endpoint
    /// resolver applies it: API Gateway's endpoint is `apigateway.REGION.SUFFIX` in
    /// every partition.
    #[test]
    fn dns_suffixes_match_the_sdk() {
        let resolver = DefaultResolver::new();
        for region in [
            "eu-west-1",
            "us-east-1",
            "cn-north-1",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-gov-east-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "us-isof-south-1",
            "eu-isoe-west-1",
            "eusc-de-east-1",
        ] {
            let params = Params::builder().region(region).build().expect("params");
            let endpoint = futures::executor::block_on(resolver.resolve_endpoint(&params)).expect("resolves");
            let partition = Partition::of_region(region);
            assert_eq!(
                endpoint.url(),
                format!("https://{}", partition.service_host("apigateway", region)),
                "{region}: {partition:?}"
            );
        }
    }
}
