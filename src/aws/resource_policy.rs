//! The REST API's resource policy (`api.resourcePolicy`, and the one a PRIVATE API
//! needs): generated from the spec, written with UpdateRestApi, compared with what AWS
//! holds after undoing AWS's rewriting (it stores `execute-api:/*` as the API's full
//! ARN).

use serde_json::{Value, json};

/// The policy document: everyone may invoke, except requests not from the VPC
/// endpoints (`aws:SourceVpce`) or the source addresses (`aws:SourceIp`; inside the
/// VPC for a PRIVATE API, `aws:VpcSourceIp`) the spec names. `None`: no policy.
pub fn document(private: bool, endpoints: &[String], source_ips: &[String]) -> Option<String> {
    if endpoints.is_empty() && source_ips.is_empty() {
        return None;
    }
    let sorted = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        items
    };
    let invoke = |effect: &str, condition: Option<Value>| {
        let mut statement = json!({
            "Effect": effect,
            "Principal": "*",
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
        });
        if let Some(condition) = condition {
            statement["Condition"] = condition;
        }
        statement
    };
    let mut statements = vec![invoke("Allow", None)];
    if !endpoints.is_empty() {
        statements.push(invoke(
            "Deny",
            Some(json!({"StringNotEquals": {"aws:SourceVpce": sorted(endpoints)}})),
        ));
    }
    if !source_ips.is_empty() {
        let key = if private { "aws:VpcSourceIp" } else { "aws:SourceIp" };
        statements.push(invoke("Deny", Some(json!({"NotIpAddress": {key: sorted(source_ips)}}))));
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
}

/// Whether the policy AWS holds (`observed`, as GetRestApis returns it: JSON with its
/// quotes escaped, the resources as full ARNs) is `wanted`.
pub fn same(observed: Option<&str>, wanted: Option<&str>) -> bool {
    match (observed.filter(|p| !p.is_empty()), wanted) {
        (None, None) => true,
        (Some(observed), Some(wanted)) => {
            let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
            let observed = parse(observed).or_else(|| parse(&observed.replace("\\\"", "\"")));
            match (observed, parse(wanted)) {
                (Some(mut observed), Some(wanted)) => {
                    unqualify(&mut observed);
                    observed == wanted
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// `arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/…` back to `execute-api:/…`.
fn unqualify(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(rest) = text.strip_prefix("arn:")
                && let Some((_, tail)) = rest.split_once(":execute-api:")
                && let Some((_, path)) = tail.split_once('/')
            {
                *text = format!("execute-api:/{path}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unqualify),
        Value::Object(fields) => fields.values_mut().for_each(unqualify),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_allows_only_the_named_endpoints_and_addresses() {
        assert_eq!(document(false, &[], &[]), None);
        let private = document(true, &["vpce-0b".into(), "vpce-0a".into()], &["10.0.0.0/16".into()]).expect("a policy");
        let value: Value = serde_json::from_str(&private).expect("JSON");
        assert_eq!(value["Statement"][0]["Effect"], "Allow");
        assert_eq!(
            value["Statement"][1]["Condition"]["StringNotEquals"]["aws:SourceVpce"],
            json!(["vpce-0a", "vpce-0b"])
        );
        assert_eq!(
            value["Statement"][2]["Condition"]["NotIpAddress"]["aws:VpcSourceIp"],
            json!(["10.0.0.0/16"])
        );
        let public = document(false, &[], &["203.0.113.0/24".into()]).expect("a policy");
        assert!(
            public.contains("\"aws:SourceIp\"") && !public.contains("SourceVpce"),
            "{public}"
        );
    }

    #[test]
    fn aws_s_rewriting_is_not_a_difference_but_a_changed_condition_is() {
        let wanted = document(true, &["vpce-0a".into()], &[]).expect("a policy");
        let stored = wanted
            .replace("execute-api:/*", "arn:aws:execute-api:eu-west-1:123456789012:abc123/*")
            .replace('"', "\\\"");
        assert!(same(Some(&stored), Some(&wanted)));
        assert!(same(Some(&wanted), Some(&wanted)));
        let other = document(true, &["vpce-0b".into()], &[]).expect("a policy");
        assert!(!same(Some(&stored), Some(&other)));
        assert!(!same(None, Some(&wanted)));
        assert!(!same(Some(&stored), None));
        assert!(same(Some(""), None));
        assert!(same(None, None));
    }
}
