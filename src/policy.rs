//! The namespace policy: which AWS things of the account each namespace may name in a
//! PrivateApi (VPCs, subnets, execution and task roles, ECS clusters, VPC links and
//! secrets). The installer writes it (chart value `namespacePolicy`, rendered into a
//! ConfigMap the operator reads at start; `--policy FILE` for the CLI); see
//! docs/namespace-policy.md for why it is a file and not a resource.
//!
//! [`NamespacePolicy::check`] is pure: spec, namespace and its labels in, the fields
//! outside the policy out. The controller asks it before the engine runs, so that a
//! denied resource makes no AWS call at all.
//!
//! Rules, in short:
//! - No policy given: everything is allowed (the operator's behaviour before it).
//! - A policy given: a namespace matched by no rule may make no PrivateApi.
//! - Each field is a list of patterns (`*` matches any run of characters); a field left
//!   out allows nothing, `["*"]` allows anything. A role, cluster or VPC link the spec
//!   does not name is the operator's own and always allowed.
//! - Several rules matching one namespace add up: a value is allowed when any of them
//!   allows it.
//! - `authorizationTypes` (which `spec.api.authorization.type` values) is the one field
//!   whose absence allows everything: every PrivateApi has a type, and a policy written
//!   before the field existed must not start denying them all. A rule that lists types
//!   allows those; a namespace is held to them when every rule matching it lists types
//!   (e.g. `[IAM, COGNITO, JWT, LAMBDA]`: no `NONE` outside a sandbox rule).
//! - `requireApiKeys: true` holds a namespace to `spec.api.usagePlan` when every rule
//!   matching it says so; `webAcls` lists the web ACLs `spec.api.webAclArn` may name.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

use crate::crd::PrivateApiSpec;
use crate::error::{Error, Result};

/// The installer's policy: rules, each for some namespaces.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacePolicy {
    pub rules: Vec<Rule>,
}

/// What the namespaces a rule matches may name. A field left out allows nothing.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Namespaces by name (patterns).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Namespaces by their labels (Kubernetes' label selector).
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    /// `spec.network.vpcId`.
    #[serde(default)]
    pub vpcs: Vec<String>,
    /// `spec.network.subnetIds`; a `subnetSelector` needs `["*"]` (which subnets it
    /// finds only AWS knows, and the check makes no AWS call).
    #[serde(default)]
    pub subnets: Vec<String>,
    /// `spec.service.executionRoleArn` (ARN patterns).
    #[serde(default)]
    pub execution_roles: Vec<String>,
    /// `spec.service.taskRoleArn` (ARN patterns).
    #[serde(default)]
    pub task_roles: Vec<String>,
    /// `spec.service.cluster.name`.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// `spec.vpcLink.existingId`.
    #[serde(default)]
    pub vpc_links: Vec<String>,
    /// `spec.service.secrets[].valueFrom` and `secretsKmsKeyArn` (ARN patterns): the
    /// execution role the operator makes may read them, so they are the account's too.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `spec.api.authorization.type` (NONE, IAM, COGNITO, JWT, LAMBDA; patterns).
    /// Left out: any type (see the module's rules).
    #[serde(default)]
    pub authorization_types: Option<Vec<String>>,
    /// `spec.api.authorization.lambda.functionArn` (ARN patterns): API Gateway invokes
    /// the function with a role the operator makes, so it is the account's too.
    #[serde(default)]
    pub authorizer_functions: Vec<String>,
    /// `spec.api.webAclArn` (ARN patterns): the AWS WAF web ACLs the namespaces may
    /// put in front of their stages.
    #[serde(default)]
    pub web_acls: Vec<String>,
    /// Every PrivateApi must have `spec.api.usagePlan` (API keys on every method). A
    /// namespace is held to it when every rule matching it says so (as with
    /// `authorizationTypes`, a sandbox rule may lift it).
    #[serde(default)]
    pub require_api_keys: bool,
}

impl NamespacePolicy {
    /// Reads a policy file (YAML or JSON), refusing what it does not know: a misspelt
    /// field would otherwise allow nothing (or, in a selector, match everything).
    pub fn load(path: &Path) -> Result<NamespacePolicy> {
        let input = |message: String| Error::Input {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
        let policy: NamespacePolicy =
            serde_norway::from_str(&text).map_err(|e| input(format!("not a namespace policy: {e}")))?;
        policy.problems().map_err(|p| input(p.join("; ")))?;
        Ok(policy)
    }

    /// What would make the policy mean something else than it seems to.
    fn problems(&self) -> std::result::Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.namespaces.is_empty() && rule.namespace_selector.is_none() {
                problems.push(format!(
                    "rules[{i}]: names no namespaces and no namespaceSelector, so it matches none"
                ));
            }
            if let Some(selector) = &rule.namespace_selector
                && let Err(e) = selector_matches(selector, &BTreeMap::new())
            {
                problems.push(format!("rules[{i}].namespaceSelector: {e}"));
            }
            // A misspelt type would silently allow nothing of what was meant.
            for kind in rule.authorization_types.iter().flatten() {
                let known = crate::crd::AuthorizationType::ALL
                    .iter()
                    .any(|t| glob(kind, t.as_str()));
                if !known {
                    problems.push(format!(
                        "rules[{i}].authorizationTypes: {kind} matches none of NONE, IAM, COGNITO, JWT, LAMBDA"
                    ));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Whether some rule selects namespaces by label (then the controller reads the
    /// namespace's labels).
    pub fn uses_labels(&self) -> bool {
        self.rules.iter().any(|r| r.namespace_selector.is_some())
    }

    /// The rules matching the namespace.
    fn rules_for<'a>(
        &'a self,
        namespace: &'a str,
        labels: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Rule> {
        self.rules.iter().filter(move |rule| {
            rule.namespaces.iter().any(|p| glob(p, namespace))
                || rule
                    .namespace_selector
                    .as_ref()
                    .is_some_and(|s| selector_matches(s, labels).unwrap_or(false))
        })
    }

    /// Every field of `spec` that the policy does not allow in `namespace` (with these
    /// labels), each naming the field, the value and what is allowed; empty: allowed.
    pub fn check(&self, namespace: &str, labels: &BTreeMap<String, String>, spec: &PrivateApiSpec) -> Vec<String> {
        let rules: Vec<&Rule> = self.rules_for(namespace, labels).collect();
        if rules.is_empty() {
            return vec![format!(
                "namespace {namespace} matches no rule of the operator's namespace policy: no PrivateApi may be made here"
            )];
        }
        let mut denied = Vec::new();
        let mut need = |field: &str, value: &str, allowed: fn(&Rule) -> &Vec<String>| {
            if rules.iter().any(|r| allowed(r).iter().any(|p| glob(p, value))) {
                return;
            }
            let mut patterns: Vec<&str> = rules
                .iter()
                .flat_map(|r| allowed(r).iter().map(String::as_str))
                .collect();
            patterns.sort();
            patterns.dedup();
            let allowed = match patterns.is_empty() {
                true => "none".to_owned(),
                false => patterns.join(", "),
            };
            denied.push(format!(
                "{field}: {value} is not allowed in namespace {namespace} by the operator's namespace policy (allowed: {allowed})"
            ));
        };
        let net = &spec.network;
        need("spec.network.vpcId", &net.vpc_id, |r| &r.vpcs);
        for subnet in net.subnet_ids.iter().flatten() {
            need("spec.network.subnetIds", subnet, |r| &r.subnets);
        }
        if net.subnet_selector.is_some() {
            // Only AWS knows which subnets a selector finds: allowed where any subnet is.
            need("spec.network.subnetSelector", "a subnet selector", |r| &r.subnets);
        }
        let svc = &spec.service;
        if let Some(arn) = &svc.execution_role_arn {
            need("spec.service.executionRoleArn", arn, |r| &r.execution_roles);
        }
        if let Some(arn) = &svc.task_role_arn {
            need("spec.service.taskRoleArn", arn, |r| &r.task_roles);
        }
        if let Some(cluster) = &svc.cluster {
            need("spec.service.cluster.name", &cluster.name, |r| &r.clusters);
        }
        if let Some(id) = &spec.vpc_link.existing_id {
            need("spec.vpcLink.existingId", id, |r| &r.vpc_links);
        }
        for secret in &svc.secrets {
            let field = format!("spec.service.secrets[{}].valueFrom", secret.name);
            need(&field, &secret.value_from, |r| &r.secrets);
        }
        if let Some(key) = &svc.secrets_kms_key_arn {
            need("spec.service.secretsKmsKeyArn", key, |r| &r.secrets);
        }
        if let Some(function) = crate::reconcile::desired::lambda_authorizer(spec) {
            need("spec.api.authorization.lambda.functionArn", function, |r| {
                &r.authorizer_functions
            });
        }
        if let Some(arn) = &spec.api.web_acl_arn {
            need("spec.api.webAclArn", arn, |r| &r.web_acls);
        }
        if spec.api.usage_plan.is_none() && rules.iter().all(|r| r.require_api_keys) {
            denied.push(format!(
                "spec.api.usagePlan: API keys are required in namespace {namespace} by the operator's namespace policy (requireApiKeys)"
            ));
        }
        let kind = spec.api.authorization.kind.as_str();
        let types: Option<Vec<&String>> = rules
            .iter()
            .map(|r| r.authorization_types.as_ref())
            .collect::<Option<Vec<_>>>()
            .map(|lists| lists.into_iter().flatten().collect());
        if let Some(types) = types
            && !types.iter().any(|p| glob(p, kind))
        {
            let mut allowed: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            allowed.sort();
            allowed.dedup();
            let allowed = if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            };
            denied.push(format!(
                "spec.api.authorization.type: {kind} is not allowed in namespace {namespace} by the operator's namespace policy (allowed: {allowed})"
            ));
        }
        denied
    }
}

/// `pattern` with `*` matching any run of characters (none included); the rest literal.
pub fn glob(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole value.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Kubernetes' label selector semantics: every matchLabels pair and every expression
/// (In, NotIn, Exists, DoesNotExist) must hold; an empty selector matches everything.
fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> std::result::Result<bool, String> {
    let mut matches = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    for expr in selector.match_expressions.iter().flatten() {
        let value = labels.get(&expr.key);
        let values = expr.values.as_deref().unwrap_or_default();
        let holds = match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!("{} {} needs values", expr.key, expr.operator));
            }
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => return Err(format!("unknown operator {other} (In, NotIn, Exists, DoesNotExist)")),
        };
        matches &= holds;
    }
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> PrivateApiSpec {
        serde_norway::from_str(&format!(
            "network: {{vpcId: vpc-a, subnetIds: [subnet-1, subnet-2]}}\nservice: {{image: nginx{extra}}}\n"
        ))
        .expect("spec")
    }

    fn policy(yaml: &str) -> NamespacePolicy {
        let policy: NamespacePolicy = serde_norway::from_str(yaml).expect("policy");
        policy.problems().expect("valid policy");
        policy
    }

    const TEAMS: &str = r#"
rules:
  - namespaces: [payments]
    vpcs: [vpc-a]
    subnets: [subnet-1, subnet-2]
    executionRoles: ["arn:aws:iam::123456789012:role/payments-*"]
    clusters: [shared]
  - namespaceSelector: {matchLabels: {tier: sandbox}}
    vpcs: [vpc-sandbox]
    subnets: ["*"]
  - namespaces: ["team-*"]
    vpcs: [vpc-a]
    subnets: ["*"]
    vpcLinks: [vpclink-shared]
    secrets: ["arn:aws:ssm:*:123456789012:parameter/team/*"]
"#;

    fn none() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("vpc-a", "vpc-a"));
        assert!(!glob("vpc-a", "vpc-ab"));
        assert!(glob("team-*", "team-x"));
        assert!(!glob("team-*", "xteam-x"));
        assert!(glob("arn:*:role/a-*", "arn:aws:iam::1:role/a-b"));
        assert!(!glob("arn:*:role/a-*", "arn:aws:iam::1:role/b"));
        assert!(glob("a*b*b", "abb"));
        assert!(!glob("a*bb", "ab"));
    }

    #[test]
    fn what_the_rule_lists_is_allowed_and_the_operators_own_always() {
        let p = policy(TEAMS);
        assert_eq!(p.check("payments", &none(), &spec("")), Vec::<String>::new());
        let named = spec(", executionRoleArn: 'arn:aws:iam::123456789012:role/payments-exec', cluster: {name: shared}");
        assert_eq!(p.check("payments", &none(), &named), Vec::<String>::new());
    }

    #[test]
    fn each_field_outside_the_policy_is_named_with_what_is_allowed() {
        let p = policy(TEAMS);
        let mut s = spec(
            ", executionRoleArn: 'arn:aws:iam::123456789012:role/admin', taskRoleArn: 'arn:aws:iam::123456789012:role/t', cluster: {name: other}",
        );
        s.network.vpc_id = "vpc-b".into();
        s.network.subnet_ids = Some(vec!["subnet-1".into(), "subnet-9".into()]);
        s.vpc_link.existing_id = Some("vpclink-other".into());
        let denied = p.check("payments", &none(), &s);
        let joined = denied.join("\n");
        for (field, allowed) in [
            ("spec.network.vpcId: vpc-b", "allowed: vpc-a)"),
            ("spec.network.subnetIds: subnet-9", "allowed: subnet-1, subnet-2)"),
            (
                "spec.service.executionRoleArn: arn:aws:iam::123456789012:role/admin",
                "payments-*)",
            ),
            ("spec.service.taskRoleArn", "allowed: none)"),
            ("spec.service.cluster.name: other", "allowed: shared)"),
            ("spec.vpcLink.existingId: vpclink-other", "allowed: none)"),
        ] {
            assert!(
                denied.iter().any(|d| d.starts_with(field) && d.ends_with(allowed)),
                "{field} … {allowed} missing in:\n{joined}"
            );
        }
        assert_eq!(denied.len(), 6, "{joined}");
    }

    #[test]
    fn namespaces_match_by_name_pattern_or_labels_and_rules_add_up() {
        let p = policy(TEAMS);
        let sandbox = BTreeMap::from([("tier".to_owned(), "sandbox".to_owned())]);
        let mut s = spec("");
        s.network.vpc_id = "vpc-sandbox".into();
        assert!(p.check("anything", &sandbox, &s).is_empty());
        assert!(!p.check("anything", &none(), &s).is_empty());
        // team-x by name: vpc-a; labelled sandbox too: vpc-sandbox as well.
        assert!(!p.check("team-x", &none(), &s).is_empty());
        assert!(p.check("team-x", &sandbox, &s).is_empty());
        let link = spec("");
        let mut link = link;
        link.vpc_link.existing_id = Some("vpclink-shared".into());
        assert!(p.check("team-x", &none(), &link).is_empty());
        assert!(!p.check("payments", &none(), &link).is_empty());
    }

    #[test]
    fn an_unmatched_namespace_is_denied_outright() {
        let p = policy(TEAMS);
        let denied = p.check("intruder", &none(), &spec(""));
        assert_eq!(denied.len(), 1);
        assert!(denied[0].contains("namespace intruder matches no rule"), "{denied:?}");
        assert!(!NamespacePolicy::default().check("any", &none(), &spec("")).is_empty());
    }

    #[test]
    fn a_subnet_selector_needs_any_subnet_and_secrets_need_their_arns() {
        let p = policy(TEAMS);
        let mut s = spec(", secrets: [{name: DB, valueFrom: 'arn:aws:ssm:eu-west-1:123456789012:parameter/team/db'}]");
        s.network.subnet_ids = None;
        s.network.subnet_selector = Some(BTreeMap::from([("tier".into(), "private".into())]));
        assert!(p.check("team-x", &none(), &s).is_empty());
        let denied = p.check("payments", &none(), &s).join("\n");
        assert!(denied.contains("spec.network.subnetSelector"), "{denied}");
        assert!(denied.contains("spec.service.secrets[DB].valueFrom"), "{denied}");
        s.service.secrets[0].value_from = "arn:aws:ssm:eu-west-1:123456789012:parameter/other/db".into();
        let denied = p.check("team-x", &none(), &s).join("\n");
        assert!(denied.contains("parameter/other/db is not allowed"), "{denied}");
    }

    const AUTHORIZED: &str = r#"
rules:
  - namespaces: ["team-*"]
    vpcs: ["*"]
    subnets: ["*"]
    authorizationTypes: [IAM, COGNITO, JWT, LAMBDA]
    authorizerFunctions: ["arn:aws:lambda:*:123456789012:function:team-*"]
  - namespaceSelector: {matchLabels: {tier: sandbox}}
    vpcs: ["*"]
    subnets: ["*"]
    authorizationTypes: ["*"]
  - namespaces: [legacy]
    vpcs: ["*"]
    subnets: ["*"]
"#;

    #[test]
    fn authorization_types_and_authorizer_functions_are_held_to_the_policy() {
        let p = policy(AUTHORIZED);
        let open = spec("");
        let denied = p.check("team-a", &none(), &open).join("\n");
        assert!(
            denied.contains("spec.api.authorization.type: NONE is not allowed in namespace team-a")
                && denied.contains("allowed: COGNITO, IAM, JWT, LAMBDA)"),
            "{denied}"
        );
        let mut iam = spec("");
        iam.api.authorization.kind = crate::crd::AuthorizationType::Iam;
        assert!(p.check("team-a", &none(), &iam).is_empty());
        // A sandbox may stay open; so may a namespace whose rule lists no types.
        let sandbox = BTreeMap::from([("tier".to_owned(), "sandbox".to_owned())]);
        assert!(p.check("team-a", &sandbox, &open).is_empty(), "rules add up");
        assert!(p.check("legacy", &none(), &open).is_empty());
        // A Lambda authorizer's function is the account's: named or denied.
        let mut lambda = spec("");
        lambda.api.authorization = serde_norway::from_str(
            "{type: LAMBDA, lambda: {functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:team-a-authz'}}",
        )
        .expect("authorization");
        assert!(p.check("team-a", &none(), &lambda).is_empty());
        let denied = p.check("legacy", &none(), &lambda).join("\n");
        assert!(
            denied.contains("spec.api.authorization.lambda.functionArn: arn:aws:lambda:eu-west-1:123456789012:function:team-a-authz is not allowed")
                && denied.contains("allowed: none)"),
            "{denied}"
        );
        lambda.api.authorization.lambda.as_mut().expect("lambda").function_arn =
            "arn:aws:lambda:eu-west-1:123456789012:function:admin".into();
        assert!(!p.check("team-a", &none(), &lambda).is_empty());
        // A misspelt type is refused with the policy, not read as "allows nothing".
        let typo: NamespacePolicy =
            serde_norway::from_str("rules:\n- namespaces: [a]\n  authorizationTypes: [IAM, COGNTIO]\n")
                .expect("parses");
        let problems = typo.problems().expect_err("a typo").join("");
        assert!(problems.contains("COGNTIO matches none"), "{problems}");
    }

    #[test]
    fn api_keys_may_be_required_and_web_acls_are_held_to_the_policy() {
        let p = policy(
            "rules:\n- namespaces: [team-a]\n  vpcs: ['*']\n  subnets: ['*']\n  requireApiKeys: true\n  webAcls: ['arn:aws:wafv2:*:123456789012:regional/webacl/team-a-*/*']\n- namespaceSelector: {matchLabels: {tier: sandbox}}\n  vpcs: ['*']\n  subnets: ['*']\n",
        );
        let open = spec("");
        let denied = p.check("team-a", &none(), &open).join("\n");
        assert!(denied.contains("spec.api.usagePlan: API keys are required"), "{denied}");
        let sandbox = BTreeMap::from([("tier".to_owned(), "sandbox".to_owned())]);
        assert!(p.check("team-a", &sandbox, &open).is_empty(), "a sandbox rule lifts it");
        let mut keyed = spec("");
        keyed.api.usage_plan = serde_norway::from_str("{apiKeys: [{name: partner}]}").expect("usage plan");
        assert!(p.check("team-a", &none(), &keyed).is_empty());
        let acl = |name: &str| {
            format!("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/{name}/0123abcd-0123-0123-0123-0123456789ab")
        };
        keyed.api.web_acl_arn = Some(acl("team-a-edge"));
        assert!(p.check("team-a", &none(), &keyed).is_empty());
        keyed.api.web_acl_arn = Some(acl("team-b-edge"));
        let denied = p.check("team-a", &none(), &keyed).join("\n");
        assert!(denied.contains("spec.api.webAclArn"), "{denied}");
    }

    #[test]
    fn selectors_follow_kubernetes() {
        let p = policy(
            "rules:\n- namespaceSelector:\n    matchExpressions:\n    - {key: tier, operator: In, values: [dev, test]}\n    - {key: frozen, operator: DoesNotExist}\n  vpcs: ['*']\n  subnets: ['*']\n",
        );
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(p.check("a", &labels(&[("tier", "dev")]), &spec("")).is_empty());
        assert!(!p.check("a", &labels(&[("tier", "prod")]), &spec("")).is_empty());
        assert!(
            !p.check("a", &labels(&[("tier", "dev"), ("frozen", "")]), &spec(""))
                .is_empty()
        );
    }

    #[test]
    fn a_policy_that_means_something_else_is_refused() {
        let dir = std::env::temp_dir().join(format!("papi-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for (text, says) in [
            ("rules:\n- namespaces: [a]\n  vpc: [vpc-a]\n", "unknown field `vpc`"),
            ("rules:\n- vpcs: [vpc-a]\n", "matches none"),
            (
                "rules:\n- namespaceSelector: {matchExpressions: [{key: a, operator: Is}]}\n",
                "unknown operator Is",
            ),
            ("rules: {}\n", "not a namespace policy"),
        ] {
            let path = dir.join("policy.yaml");
            std::fs::write(&path, text).expect("write");
            let error = NamespacePolicy::load(&path).expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        let path = dir.join("ok.yaml");
        std::fs::write(&path, TEAMS).expect("write");
        assert_eq!(NamespacePolicy::load(&path).expect("loads"), policy(TEAMS));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
