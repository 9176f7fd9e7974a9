//! The AWS WAF web ACL of a REST API's stage (`api.webAclArn`): associated with
//! wafv2 AssociateWebACL, removed with DisassociateWebACL. Which ACL a stage has,
//! GetStages already says (`webAclArn`): no read of its own.

use super::Aws;
use super::error::{AwsResult, aws_err, found};

/// Associates `web_acl_arn` with the stage `stage_arn` (replacing any other ACL).
pub async fn associate(aws: &Aws, stage_arn: &str, web_acl_arn: &str) -> AwsResult<()> {
    aws.wafv2
        .associate_web_acl()
        .web_acl_arn(web_acl_arn)
        .resource_arn(stage_arn)
        .send()
        .await
        .map_err(aws_err("AssociateWebACL"))?;
    Ok(())
}

/// Removes the stage's web ACL, if it has one.
pub async fn disassociate(aws: &Aws, stage_arn: &str) -> AwsResult<()> {
    found(
        aws.wafv2
            .disassociate_web_acl()
            .resource_arn(stage_arn)
            .send()
            .await
            .map_err(aws_err("DisassociateWebACL")),
    )?;
    Ok(())
}

/// Whether the web ACL is Firewall Manager's (its names start `FMManagedWebACL`): a
/// stage the spec gives no ACL keeps such an one (an organization's policy put it
/// there), where any other is removed.
pub fn managed_elsewhere(web_acl_arn: &str) -> bool {
    web_acl_arn
        .split('/')
        .rev()
        .nth(1)
        .is_some_and(|name| name.starts_with("FMManagedWebACL"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn firewall_manager_s_acls_are_told_apart_by_name() {
        let arn = |name: &str| {
            format!("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/{name}/0123abcd-0123-0123-0123-0123456789ab")
        };
        assert!(super::managed_elsewhere(&arn("FMManagedWebACLV2-policy-1234")));
        assert!(!super::managed_elsewhere(&arn("team-acl")));
    }
}
