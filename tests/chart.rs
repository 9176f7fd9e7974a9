//! The Helm chart (charts/privateapi-operator) and the deploy/ manifests.
//!
//! The chart is rendered by real Helm: v4, as a library in the helm-python-sdk
//! wheel, which scripts/helm-render.sh installs (pinned version and hashes,
//! scripts/helm/requirements.txt) into a venv under $PRIVATEAPI_CACHE. `template`
//! is Helm's own client-only dry-run install (values merging, values.schema.json
//! validation, rendering, install-order sorting), `lint` is `helm lint --strict`.
//! The rendered documents are checked by parsing them (kinds, the restricted Pod
//! Security Standard, probes, values reaching args/env, RBAC rules), and the ones
//! the test API server serves are applied to it:
//!
//!   - the CRD: `kubectl apply --server-side --dry-run=server`, then applied for
//!     real so that PrivateApi examples (NOTES.txt's, deploy/flux's) are
//!     validated against its schema, CEL rules included;
//!   - the built-in kinds (ServiceAccount, (Cluster)Role(Binding), Service,
//!     Deployment, PodDisruptionBudget, and the CRD) are NOT validated
//!     server-side: the test API server is the bare apiextensions-apiserver (no
//!     core/v1, apps, rbac, policy groups; a full cluster given with
//!     USE_EXISTING_CLUSTER=1 does validate them). Instead each is decoded
//!     strictly into its k8s-openapi type (`strictly_typed`: a field the type
//!     does not have, or a mistyped one, fails, as the API server's strict
//!     decoding would), and checked by the structural assertions in this file
//!     (names, labels, selectors, ports, probes, RBAC references). The API
//!     server's semantic validation of those kinds is not reproduced;
//!     ServiceMonitor and PrometheusRule (Prometheus Operator CRDs) are checked
//!     by their own assertions only.
//!
//! The API server comes from scripts/apiserver.sh as in tests/e2e.rs
//! (USE_EXISTING_CLUSTER=1 uses the current KUBECONFIG instead).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::repo;
use serde::Deserialize;
use serde_norway::Value;

const RELEASE: &str = "privateapi-operator";
const NAMESPACE: &str = "privateapi-system";
const CHART: &str = "charts/privateapi-operator";
const CRD: &str = "crds/privateapi.io_privateapis.yaml";
const CRD_TEMPLATE: &str = "templates/crds.yaml";

fn check(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

fn helm_render(args: &[&str]) -> Output {
    Command::new(repo().join("scripts/helm-render.sh"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run scripts/helm-render.sh")
}

/// `helm template privateapi-operator charts/privateapi-operator -n privateapi-system ARGS`.
fn template(args: &[&str]) -> String {
    let mut all = vec!["template", RELEASE, CHART, "-n", NAMESPACE];
    all.extend_from_slice(args);
    check(&helm_render(&all), &format!("helm-render.sh {}", all.join(" ")))
}

/// One rendered document: its `# Source:` and its raw text and parsed value.
struct Doc {
    source: String,
    text: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }
}

fn docs(stream: &str) -> Vec<Doc> {
    assert!(
        stream.starts_with("---\n# Source: "),
        "not helm template output:\n{stream}"
    );
    stream
        .split("---\n# Source: ")
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            let (source, text) = chunk.split_once('\n').expect("a source line");
            let value: Value =
                serde_norway::from_str(text).unwrap_or_else(|e| panic!("{source} is not YAML: {e}\n{text}"));
            Doc {
                source: source.to_owned(),
                text: text.to_owned(),
                value,
            }
        })
        .collect()
}

fn kinds(docs: &[Doc]) -> Vec<String> {
    docs.iter().map(|d| d.kind().to_owned()).collect()
}

fn find<'a>(docs: &'a [Doc], kind: &str) -> &'a Doc {
    docs.iter()
        .find(|d| d.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} in the rendering (kinds: {:?})", kinds(docs)))
}

fn container(docs: &[Doc]) -> &Value {
    let containers = find(docs, "Deployment").value["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container expected");
    &containers[0]
}

fn env(docs: &[Doc]) -> BTreeMap<String, Value> {
    container(docs)["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| (e["name"].as_str().expect("env name").to_owned(), e.clone()))
        .collect()
}

fn env_value(docs: &[Doc], name: &str) -> Option<String> {
    env(docs).get(name).map(|e| {
        e["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no string value"))
            .to_owned()
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

// ---------------------------------------------------------------- structure

/// Checks every built-in kind the chart renders the way the API server would
/// catch the mistakes that matter here (the test server cannot: see the top).
fn structurally_valid(docs: &[Doc]) {
    let dns1123_label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let expected_api = BTreeMap::from([
        ("CustomResourceDefinition", "apiextensions.k8s.io/v1"),
        ("ServiceAccount", "v1"),
        ("Service", "v1"),
        ("ClusterRole", "rbac.authorization.k8s.io/v1"),
        ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
        ("Role", "rbac.authorization.k8s.io/v1"),
        ("RoleBinding", "rbac.authorization.k8s.io/v1"),
        ("Deployment", "apps/v1"),
        ("ServiceMonitor", "monitoring.coreos.com/v1"),
        ("PodDisruptionBudget", "policy/v1"),
        ("PrometheusRule", "monitoring.coreos.com/v1"),
        ("NetworkPolicy", "networking.k8s.io/v1"),
        ("ConfigMap", "v1"),
    ]);
    for d in docs {
        let api = expected_api
            .get(d.kind())
            .unwrap_or_else(|| panic!("{}: unexpected kind {:?}", d.source, d.kind()));
        assert_eq!(d.value["apiVersion"].as_str(), Some(*api), "{}: apiVersion", d.source);
        let name = d.name();
        assert!(
            !name.is_empty() && name.len() <= 253 && name.split('.').all(dns1123_label),
            "{}: metadata.name {name:?} is not a DNS-1123 subdomain",
            d.source
        );
        if let Some(labels) = d.value["metadata"]["labels"].as_mapping() {
            for (k, v) in labels {
                let v = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: label {k:?} is not a string", d.source));
                assert!(
                    v.len() <= 63 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                    "{}: label value {v:?} is invalid",
                    d.source
                );
            }
        }
        let cluster_scoped = ["CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"].contains(&d.kind());
        assert_eq!(
            d.value["metadata"]["namespace"].is_null(),
            cluster_scoped,
            "{}: {} should {}have metadata.namespace",
            d.source,
            d.kind(),
            if cluster_scoped { "not " } else { "" }
        );
    }
    let deployment = &find(docs, "Deployment").value;
    let pod = &deployment["spec"]["template"];
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("selector");
    for (k, v) in selector {
        assert_eq!(
            &pod["metadata"]["labels"][k], v,
            "pod template lacks selector label {k:?}"
        );
    }
    let c = container(docs);
    let port_names: Vec<&str> = c["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("port name");
            assert!(name.len() <= 15 && dns1123_label(name), "port name {name:?} invalid");
            assert!(
                p["containerPort"].as_u64().is_some_and(|n| (1..=65535).contains(&n)),
                "containerPort"
            );
            name
        })
        .collect();
    for probe in ["livenessProbe", "readinessProbe"] {
        let port = c[probe]["httpGet"]["port"].as_str().expect("named probe port");
        assert!(
            port_names.contains(&port),
            "{probe} uses port {port:?}, not a container port"
        );
    }
    for name in env(docs).keys() {
        assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !name.as_bytes()[0].is_ascii_digit(),
            "env name {name:?}"
        );
    }
    let service = &find(docs, "Service").value;
    for (k, v) in service["spec"]["selector"].as_mapping().expect("service selector") {
        assert_eq!(
            &pod["metadata"]["labels"][k], v,
            "Service selects label {k:?} the pods lack"
        );
    }
    for p in service["spec"]["ports"].as_sequence().expect("service ports") {
        let target = p["targetPort"].as_str().expect("named targetPort");
        assert!(
            port_names.contains(&target),
            "Service targetPort {target:?} is no container port"
        );
    }
    // The binding binds the role the chart renders, to the ServiceAccount it renders.
    let role = docs
        .iter()
        .find(|d| d.kind().ends_with("Role") && !d.kind().ends_with("Binding"))
        .expect("a Role or ClusterRole");
    let binding = find(docs, &format!("{}Binding", role.kind()));
    assert_eq!(binding.value["roleRef"]["kind"].as_str(), Some(role.kind()));
    assert_eq!(binding.value["roleRef"]["name"].as_str(), Some(role.name()));
    assert_eq!(
        binding.value["roleRef"]["apiGroup"].as_str(),
        Some("rbac.authorization.k8s.io")
    );
    let subject = &binding.value["subjects"][0];
    assert_eq!(subject["kind"].as_str(), Some("ServiceAccount"));
    assert_eq!(
        subject["name"], pod["spec"]["serviceAccountName"],
        "binding subject is not the pod's SA"
    );
    assert_eq!(subject["namespace"].as_str(), Some(NAMESPACE));
}

/// Where `typed` (the object after a trip through its k8s-openapi type) lost or
/// changed something of `original`: a field the type does not know is dropped.
fn first_difference(path: &str, original: &serde_json::Value, typed: &serde_json::Value) -> Option<String> {
    use serde_json::Value as J;
    match (original, typed) {
        (J::Object(a), J::Object(b)) => a
            .iter()
            .filter(|(_, v)| !v.is_null())
            .find_map(|(k, v)| match b.get(k) {
                None => Some(format!("{path}.{k}: unknown field")),
                Some(w) => first_difference(&format!("{path}.{k}"), v, w),
            }),
        (J::Array(a), J::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(&format!("{path}[{i}]"), v, w)),
        (J::Number(a), J::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: {a} became {b}")),
    }
}

/// Decodes `doc` into the k8s-openapi type `K` and back: Err names a field `K`
/// does not have (unknown or misspelled) or could not decode (mistyped).
fn decode_strictly<K: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> Result<(), String> {
    let original = serde_json::to_value(doc).map_err(|e| e.to_string())?;
    let typed: K = serde_json::from_value(original.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    first_difference("", &original, &back).map_or(Ok(()), Err)
}

/// Decodes every built-in object strictly into its k8s-openapi type (see the
/// top): a misspelled or mistyped field fails, as with `kubectl apply
/// --validate=strict` on a full cluster. Returns the kinds decoded.
fn strictly_typed(stream: &str) -> Vec<String> {
    use k8s_openapi::api::{
        apps::v1 as apps, core::v1 as core, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    let mut decoded = Vec::new();
    for d in docs(stream) {
        let result = match (d.value["apiVersion"].as_str().unwrap_or_default(), d.kind()) {
            ("v1", "ServiceAccount") => decode_strictly::<core::ServiceAccount>(&d.value),
            ("v1", "Service") => decode_strictly::<core::Service>(&d.value),
            ("v1", "ConfigMap") => decode_strictly::<core::ConfigMap>(&d.value),
            ("apps/v1", "Deployment") => decode_strictly::<apps::Deployment>(&d.value),
            ("policy/v1", "PodDisruptionBudget") => decode_strictly::<policy::PodDisruptionBudget>(&d.value),
            ("networking.k8s.io/v1", "NetworkPolicy") => decode_strictly::<networking::NetworkPolicy>(&d.value),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => decode_strictly::<rbac::ClusterRole>(&d.value),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                decode_strictly::<rbac::ClusterRoleBinding>(&d.value)
            }
            ("rbac.authorization.k8s.io/v1", "Role") => decode_strictly::<rbac::Role>(&d.value),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => decode_strictly::<rbac::RoleBinding>(&d.value),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
                decode_strictly::<apiext::CustomResourceDefinition>(&d.value)
            }
            // Prometheus Operator kinds: no k8s-openapi type; checked by their tests.
            ("monitoring.coreos.com/v1", "ServiceMonitor" | "PrometheusRule") => continue,
            (api, kind) => panic!("{}: no strict decoding for {api}/{kind}", d.source),
        };
        if let Err(e) = result {
            panic!("{} ({} {}) does not decode strictly: {e}", d.source, d.kind(), d.name());
        }
        decoded.push(d.kind().to_owned());
    }
    assert!(
        decoded.iter().any(|k| k == "Deployment"),
        "no Deployment decoded: {decoded:?}"
    );
    decoded
}

#[test]
fn strict_decoding_catches_unknown_and_mistyped_fields() {
    let good = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  namespace: b\nautomountServiceAccountToken: true\n";
    let value: Value = serde_norway::from_str(good).expect("yaml");
    decode_strictly::<k8s_openapi::api::core::v1::ServiceAccount>(&value).expect("a valid ServiceAccount");
    for (bad, expect) in [
        (
            good.replace("automountServiceAccountToken", "automountServiceAcountToken"),
            "automountServiceAcountToken",
        ),
        (good.replace("true", "\"yes\""), "expected a boolean"),
        (
            good.replace("  namespace: b", "  namespace: b\n  labels: {a: 1}"),
            "expected a string",
        ),
    ] {
        let value: Value = serde_norway::from_str(&bad).expect("yaml");
        let err = decode_strictly::<k8s_openapi::api::core::v1::ServiceAccount>(&value)
            .expect_err(&format!("should fail:\n{bad}"));
        assert!(err.contains(expect), "{err:?} should mention {expect:?}");
    }
}

/// The restricted Pod Security Standard (v1.36), for the one pod the chart runs.
fn restricted_pod_security(docs: &[Doc]) {
    let spec = &find(docs, "Deployment").value["spec"]["template"]["spec"];
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(!spec[host].as_bool().unwrap_or(false), "{host} must be off");
    }
    // The volume types the restricted standard allows (none by default).
    for v in spec["volumes"].as_sequence().cloned().unwrap_or_default() {
        for key in v.as_mapping().expect("volume").keys() {
            let key = key.as_str().expect("key");
            assert!(
                [
                    "name",
                    "configMap",
                    "csi",
                    "downwardAPI",
                    "emptyDir",
                    "ephemeral",
                    "persistentVolumeClaim",
                    "projected",
                    "secret"
                ]
                .contains(&key),
                "volume type {key:?} is not allowed by the restricted standard"
            );
        }
    }
    let pod_sc = &spec["securityContext"];
    assert_eq!(pod_sc["runAsNonRoot"].as_bool(), Some(true), "pod runAsNonRoot");
    assert_eq!(
        pod_sc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault"),
        "pod seccompProfile"
    );
    assert_ne!(pod_sc["runAsUser"].as_u64(), Some(0), "runAsUser 0");
    let c = container(docs);
    let sc = &c["securityContext"];
    assert_eq!(
        sc["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "allowPrivilegeEscalation"
    );
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "capabilities.drop");
    assert!(sc["capabilities"]["add"].is_null(), "no capability may be added");
    assert!(!sc["privileged"].as_bool().unwrap_or(false), "privileged");
    assert_eq!(
        sc["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "readOnlyRootFilesystem"
    );
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "container runAsNonRoot");
    for p in c["ports"].as_sequence().expect("ports") {
        assert!(p["hostPort"].is_null(), "hostPort");
    }
}

// ---------------------------------------------------------------- rendering

#[test]
fn default_rendering() {
    let out = template(&[]);
    let docs = docs(&out);
    assert_eq!(
        kinds(&docs),
        [
            "ServiceAccount",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment"
        ],
        "kinds and Helm's install order"
    );
    structurally_valid(&docs);
    assert_eq!(
        strictly_typed(&out),
        kinds(&docs),
        "every object of the default rendering decodes strictly"
    );
    restricted_pod_security(&docs);
    assert_eq!(
        find(&docs, "CustomResourceDefinition").source,
        format!("{RELEASE}/{CRD_TEMPLATE}")
    );

    let d = &find(&docs, "Deployment").value;
    assert_eq!(d["spec"]["replicas"].as_u64(), Some(1));
    assert_eq!(
        d["spec"]["strategy"]["type"].as_str(),
        Some("Recreate"),
        "no two operators at once"
    );
    let c = container(&docs);
    assert_eq!(
        c["image"].as_str(),
        Some("ghcr.io/privateapi-io/privateapi-operator:0.1.0"),
        "image defaults to the released one, tagged with the appVersion"
    );
    assert_eq!(strings(&c["args"]), ["run"]);
    assert!(c["command"].is_null(), "the image's ENTRYPOINT is /privateapi");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(8080));
    assert_eq!(c["resources"]["requests"]["cpu"].as_str(), Some("50m"));
    assert_eq!(c["resources"]["requests"]["memory"].as_str(), Some("64Mi"));
    assert_eq!(c["resources"]["limits"]["cpu"].as_str(), Some("500m"));
    assert_eq!(c["resources"]["limits"]["memory"].as_str(), Some("256Mi"));
    let pod_name = &env(&docs)["POD_NAME"];
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("metadata.name")
    );
    for (name, value) in [
        ("PRIVATEAPI_METRICS_ADDR", "0.0.0.0:8080"),
        ("PRIVATEAPI_LOG_FORMAT", "json"),
        ("PRIVATEAPI_AWS_PACING", "quotas"),
        ("PRIVATEAPI_AWS_RATE_SHARE", "1"),
        ("PRIVATEAPI_RESYNC_SECONDS", "300"),
        ("PRIVATEAPI_FULL_RESYNC_SECONDS", "21600"),
        ("PRIVATEAPI_RESYNC_READS", "2"),
        ("PRIVATEAPI_POLL_SECONDS", "10"),
        ("PRIVATEAPI_CONCURRENCY", "128"),
    ] {
        assert_eq!(env_value(&docs, name).as_deref(), Some(value), "{name}");
    }
    // Empty values are not passed at all (the operator then uses its defaults).
    for name in ["PRIVATEAPI_NAMESPACE", "PRIVATEAPI_SELECTOR", "AWS_REGION"] {
        assert!(
            env_value(&docs, name).is_none(),
            "{name} set although its value is empty"
        );
    }

    let rules = find(&docs, "ClusterRole").value["rules"].clone();
    let rules: Vec<(Vec<String>, Vec<String>, Vec<String>)> = rules
        .as_sequence()
        .expect("rules")
        .iter()
        .map(|r| (strings(&r["apiGroups"]), strings(&r["resources"]), strings(&r["verbs"])))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rules,
        [
            (
                s(&["privateapi.io"]),
                s(&["privateapis"]),
                s(&["get", "list", "watch", "patch", "update"])
            ),
            (
                s(&["privateapi.io"]),
                s(&["privateapis/status"]),
                s(&["get", "patch", "update"])
            ),
            (s(&["privateapi.io"]), s(&["privateapis/finalizers"]), s(&["update"])),
            (s(&["events.k8s.io"]), s(&["events"]), s(&["create", "patch"])),
        ],
        "RBAC rules: exactly what the operator calls"
    );
    let sa = find(&docs, "ServiceAccount");
    assert_eq!(sa.name(), RELEASE);
    assert!(
        sa.value["metadata"]["annotations"].is_null(),
        "no IRSA annotation by default"
    );
}

#[test]
fn namespaced_rbac_for_one_watched_namespace() {
    let out = template(&["--set", "rbac.scope=namespace", "--set", "watchNamespace=team-a"]);
    let docs = docs(&out);
    assert_eq!(
        kinds(&docs),
        [
            "ServiceAccount",
            "CustomResourceDefinition",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment"
        ]
    );
    structurally_valid(&docs);
    strictly_typed(&out);
    restricted_pod_security(&docs);
    for kind in ["Role", "RoleBinding"] {
        assert_eq!(
            find(&docs, kind).value["metadata"]["namespace"].as_str(),
            Some("team-a"),
            "the {kind} lives in the watched namespace"
        );
    }
    assert_eq!(env_value(&docs, "PRIVATEAPI_NAMESPACE").as_deref(), Some("team-a"));
    assert_eq!(
        find(&docs, "Deployment").value["metadata"]["namespace"].as_str(),
        Some(NAMESPACE),
        "the operator itself stays in the release namespace"
    );
}

#[test]
fn values_reach_args_env_and_objects() {
    let out = template(&[
        "--set",
        "resyncSeconds=60,resyncReads=4,pollSeconds=5,concurrency=3,logFormat=text,awsPacing=off",
        "--set-json",
        "awsRateShare=0.5",
        "--set",
        "awsRegion=eu-west-1",
        "--set",
        "selector=team=payments",
        "--set",
        "metrics.port=9090",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "crds.enabled=false",
        "--set",
        "image.repository=registry.example/privateapi-operator,image.tag=1.2.3",
        "--set-string",
        r"serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::123456789012:role/papi-operator",
        "--set",
        "watchNamespace=team-b",
        "--set",
        "rolePermissionsBoundary=arn:aws:iam::123456789012:policy/privateapi-role-boundary,noRoleCreation=true",
    ]);
    let docs = docs(&out);
    assert!(
        !kinds(&docs).iter().any(|k| k == "CustomResourceDefinition"),
        "crds.enabled=false"
    );
    structurally_valid(&docs);
    strictly_typed(&out);
    restricted_pod_security(&docs);
    for (name, value) in [
        ("PRIVATEAPI_RESYNC_SECONDS", "60"),
        ("PRIVATEAPI_RESYNC_READS", "4"),
        ("PRIVATEAPI_POLL_SECONDS", "5"),
        ("PRIVATEAPI_CONCURRENCY", "3"),
        ("PRIVATEAPI_LOG_FORMAT", "text"),
        ("PRIVATEAPI_AWS_PACING", "off"),
        ("PRIVATEAPI_AWS_RATE_SHARE", "0.5"),
        ("AWS_REGION", "eu-west-1"),
        ("PRIVATEAPI_SELECTOR", "team=payments"),
        ("PRIVATEAPI_NAMESPACE", "team-b"),
        ("PRIVATEAPI_METRICS_ADDR", "0.0.0.0:9090"),
        (
            "PRIVATEAPI_ROLE_PERMISSIONS_BOUNDARY",
            "arn:aws:iam::123456789012:policy/privateapi-role-boundary",
        ),
        ("PRIVATEAPI_NO_ROLE_CREATION", "true"),
    ] {
        assert_eq!(env_value(&docs, name).as_deref(), Some(value), "{name}");
    }
    let c = container(&docs);
    assert_eq!(c["image"].as_str(), Some("registry.example/privateapi-operator:1.2.3"));
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(9090));
    let service = &find(&docs, "Service").value;
    assert_eq!(service["spec"]["ports"][0]["port"].as_u64(), Some(9090));
    let monitor = &find(&docs, "ServiceMonitor").value;
    assert_eq!(monitor["spec"]["endpoints"][0]["port"].as_str(), Some("metrics"));
    assert_eq!(monitor["spec"]["endpoints"][0]["path"].as_str(), Some("/metrics"));
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"].as_str(), Some("30s"));
    assert_eq!(
        find(&docs, "ServiceAccount").value["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str(),
        Some("arn:aws:iam::123456789012:role/papi-operator")
    );
    // Cluster scope still works with one watched namespace.
    assert!(kinds(&docs).iter().any(|k| k == "ClusterRole"));
}

#[test]
fn a_network_policy_admits_only_the_metrics_port_from_the_given_peers() {
    let out = template(&[
        "--set",
        "metrics.networkPolicy.enabled=true,metrics.port=9090",
        "--set-json",
        r#"metrics.networkPolicy.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]"#,
    ]);
    let docs = docs(&out);
    structurally_valid(&docs);
    strictly_typed(&out);
    let policy = &find(&docs, "NetworkPolicy").value;
    let deployment = &find(&docs, "Deployment").value;
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"], deployment["spec"]["selector"]["matchLabels"],
        "the operator's pods"
    );
    assert_eq!(policy["spec"]["policyTypes"][0].as_str(), Some("Ingress"));
    let rules = policy["spec"]["ingress"].as_sequence().cloned().unwrap_or_default();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["ports"][0]["port"].as_str(), Some("metrics"));
    assert_eq!(container(&docs)["ports"][0]["name"].as_str(), Some("metrics"));
    assert_eq!(
        rules[0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].as_str(),
        Some("monitoring")
    );
    let default = template(&[]);
    assert!(!default.contains("kind: NetworkPolicy"), "off by default");
}

/// The chart's namespace policy is the file the operator reads: the ConfigMap's
/// policy.yaml loads with the operator's own loader, at the path its env names; a new
/// policy rolls the pods; namespaces are readable only when a rule selects by label.
#[test]
fn the_namespace_policy_reaches_the_operator_as_a_file_it_loads() {
    let values = values_yaml(
        "policy",
        r#"
namespacePolicy:
  enabled: true
  rules:
    - namespaces: [payments]
      vpcs: [vpc-0a1b2c3d]
      subnets: [subnet-0aa, subnet-0bb]
      executionRoles: ["arn:aws:iam::123456789012:role/payments-*"]
      clusters: [payments]
      authorizationTypes: [IAM, COGNITO]
      authorizerFunctions: []
    - namespaceSelector: {matchExpressions: [{key: tier, operator: In, values: [sandbox]}]}
      vpcs: [vpc-0sandbox]
      subnets: ["*"]
"#,
    );
    let out = template(&["-f", &values.display().to_string()]);
    let docs = docs(&out);
    structurally_valid(&docs);
    strictly_typed(&out);
    restricted_pod_security(&docs);
    let config_map = find(&docs, "ConfigMap");
    let text = config_map.value["data"]["policy.yaml"].as_str().expect("policy.yaml");
    let file = std::env::temp_dir().join(format!("chart-policy-{}.yaml", std::process::id()));
    std::fs::write(&file, text).expect("write policy");
    let policy = privateapi::policy::NamespacePolicy::load(&file).expect("the operator loads the chart's policy");
    let _ = std::fs::remove_file(&file);
    assert_eq!(policy.rules.len(), 2);
    assert!(policy.uses_labels());
    let spec: privateapi::crd::PrivateApiSpec = serde_norway::from_str(
        "network: {vpcId: vpc-0a1b2c3d, subnetIds: [subnet-0aa, subnet-0bb]}\nservice: {image: nginx}\n",
    )
    .expect("spec");
    assert!(
        !policy.check("payments", &BTreeMap::new(), &spec).is_empty(),
        "NONE is not allowed"
    );
    let mut iam = spec.clone();
    iam.api.authorization.kind = privateapi::crd::AuthorizationType::Iam;
    assert!(policy.check("payments", &BTreeMap::new(), &iam).is_empty());
    assert!(!policy.check("other", &BTreeMap::new(), &iam).is_empty());
    // The env names the file where the ConfigMap is mounted.
    let path = env_value(&docs, "PRIVATEAPI_POLICY_FILE").expect("PRIVATEAPI_POLICY_FILE");
    let pod = pod_spec(&docs);
    let volume = pod["volumes"]
        .as_sequence()
        .and_then(|v| {
            v.iter()
                .find(|v| v["configMap"]["name"].as_str() == Some(config_map.name()))
        })
        .expect("a volume of the policy ConfigMap");
    let mount = container(&docs)["volumeMounts"]
        .as_sequence()
        .and_then(|m| m.iter().find(|m| m["name"] == volume["name"]))
        .expect("the policy volume mounted");
    let dir = mount["mountPath"].as_str().expect("mountPath");
    assert_eq!(path, format!("{dir}/policy.yaml"));
    assert_eq!(mount["readOnly"].as_bool(), Some(true), "read-only");
    let annotations = &find(&docs, "Deployment").value["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations["checksum/namespace-policy"]
            .as_str()
            .is_some_and(|c| c.len() == 64),
        "{annotations:?}"
    );
    let role = find(&docs, "ClusterRole");
    assert!(role.text.contains("resources: [\"namespaces\"]"), "{}", role.text);
    // Rules by name only: no namespace reads granted.
    let by_name = template(&[
        "--set-json",
        r#"namespacePolicy={"enabled":true,"rules":[{"namespaces":["a"],"vpcs":["*"]}]}"#,
    ]);
    assert!(by_name.contains("kind: ConfigMap") && !by_name.contains("\"namespaces\""));
    // Off by default: no ConfigMap, no env.
    let default = template(&[]);
    assert!(!default.contains("kind: ConfigMap") && !default.contains("PRIVATEAPI_POLICY_FILE"));
    // A label rule with a namespaced Role cannot read namespaces: refused with the reason.
    let refused = helm_render(&[
        "template",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "-f",
        &values.display().to_string(),
        "--set",
        "rbac.scope=namespace,watchNamespace=team-a",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("namespaceSelector needs rbac.scope=cluster"));
    // A misspelt field is refused by the schema, not silently allowing nothing.
    for (json, says) in [
        (r#"{"enabled":true,"rules":[{"namespaces":["a"],"vpc":["*"]}]}"#, "vpc"),
        (
            r#"{"enabled":true,"rules":[{"vpcs":["*"]}]}"#,
            "/namespacePolicy/rules/0",
        ),
        (
            r#"{"enabled":true,"rules":[{"namespaceSelector":{"matchExpressions":[{"key":"a","operator":"Is"}]}}]}"#,
            "operator",
        ),
    ] {
        let out = helm_render(&[
            "template",
            RELEASE,
            CHART,
            "-n",
            NAMESPACE,
            "--set-json",
            &format!("namespacePolicy={json}"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(says), "{json}: {stderr}");
    }
}

#[test]
fn invalid_values_are_refused() {
    for (set, expect) in [
        ("rbac.scope=namespace", "watchNamespace"),
        ("rbac.scope=tenant", "/rbac/scope"),
        ("replicaCount=2", "/replicaCount"),
        ("logFormat=xml", "/logFormat"),
        ("awsPacing=fast", "/awsPacing"),
        ("awsRateShare=2", "/awsRateShare"),
        (
            "securityContext.allowPrivilegeEscalation=true",
            "allowPrivilegeEscalation",
        ),
        ("podSecurityContext.runAsNonRoot=false", "runAsNonRoot"),
        ("watchNamespace=Team_A", "/watchNamespace"),
        ("metrics.port=0", "/metrics/port"),
        ("extraEnv[0].name=A,extraEnv[0].value=1", "/extraEnv/0/value"),
        ("watchNamespaces=typo", "watchNamespaces"),
        ("installCRDs=false", "installCRDs"),
        ("crds.keep=maybe", "/crds/keep"),
        (
            "podDisruptionBudget.maxUnavailable=-1",
            "/podDisruptionBudget/maxUnavailable",
        ),
        ("credentialsSecret=AWS_Keys", "/credentialsSecret"),
        (
            "rolePermissionsBoundary=AdministratorAccess",
            "/rolePermissionsBoundary",
        ),
        ("noRoleCreation=maybe", "/noRoleCreation"),
        ("extraVolumes[0].name=host,extraVolumes[0].hostPath.path=/", "hostPath"),
        ("extraVolumeMounts[0].name=x", "/extraVolumeMounts/0"),
        ("topologySpreadConstraints[0].maxSkew=1", "/topologySpreadConstraints/0"),
        ("defaultTopologySpread=yes", "/defaultTopologySpread"),
        ("metrics.prometheusRule.for=soon", "/metrics/prometheusRule/for"),
        (
            "metrics.prometheusRule.throttleRate=-1",
            "/metrics/prometheusRule/throttleRate",
        ),
    ] {
        let out = helm_render(&["template", RELEASE, CHART, "-n", NAMESPACE, "--set", set]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "--set {set} should be refused, rendered:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains(expect),
            "--set {set}: the error should name {expect:?}:\n{stderr}"
        );
    }
}

#[test]
fn notes_explain_the_first_privateapi() {
    let out = helm_render(&[
        "notes",
        RELEASE,
        CHART,
        "-n",
        NAMESPACE,
        "--set",
        "watchNamespace=team-a",
    ]);
    let notes = check(&out, "helm-render.sh notes");
    for needle in [
        "kind: PrivateApi",
        "kubectl wait -n team-a privateapi/hello --for=condition=Ready",
        ".status.endpoint",
        "eks.amazonaws.com/role-arn",
        "deploy/iam-policy.json",
    ] {
        assert!(notes.contains(needle), "NOTES.txt should mention {needle:?}:\n{notes}");
    }
    // With an IRSA role set, the warning goes away.
    let out = helm_render(&[
        "notes",
        RELEASE,
        CHART,
        "--set-string",
        r"serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::1:role/x",
    ]);
    assert!(!check(&out, "notes").contains("NOTE: the ServiceAccount has no"));
}

/// The example PrivateApi of NOTES.txt (the lines between the heredoc markers).
fn notes_example() -> String {
    let out = helm_render(&["notes", RELEASE, CHART, "-n", NAMESPACE]);
    let notes = check(&out, "helm-render.sh notes");
    let start = notes.find("<<'YAML'").expect("a heredoc in NOTES.txt");
    let body = &notes[start..];
    let body = &body[body.find('\n').expect("newline") + 1..];
    let end = body.find("\n  YAML").expect("end of heredoc");
    body[..end]
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------- deploy/

/// kubectl 1.36 from scripts/apiserver.sh (built with the API server).
fn kubectl_path() -> String {
    common::cluster().kubectl.clone()
}

/// Integral floats as integers (kustomize writes `maximum: 65535.0` as 65535).
fn integral(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Number((f as i64).into()),
            _ => v.clone(),
        },
        Value::Sequence(s) => Value::Sequence(s.iter().map(integral).collect()),
        Value::Mapping(m) => Value::Mapping(m.iter().map(|(k, x)| (k.clone(), integral(x))).collect()),
        _ => v.clone(),
    }
}

fn normalized(v: &Value) -> Value {
    let mut v = integral(v);
    if let Some(labels) = v
        .get_mut("metadata")
        .and_then(|m| m.get_mut("labels"))
        .and_then(|l| l.as_mapping_mut())
    {
        labels.remove("helm.sh/chart");
        labels.remove("app.kubernetes.io/managed-by");
    }
    v
}

#[test]
fn kustomize_base_matches_the_chart() {
    let crd = std::fs::read(repo().join(CRD)).expect("crds/");
    let copy = std::fs::read(repo().join("deploy/kustomize").join(CRD)).expect("deploy/kustomize/crds/");
    assert!(copy == crd, "deploy/kustomize/{CRD} differs from {CRD}: copy it again");

    let out = Command::new(kubectl_path())
        .args(["kustomize", "deploy/kustomize"])
        .current_dir(repo())
        .output()
        .expect("kubectl kustomize");
    let built = check(&out, "kubectl kustomize deploy/kustomize");
    let mut kustomized: BTreeMap<(String, String), Value> = BTreeMap::new();
    for doc in serde_norway::Deserializer::from_str(&built) {
        let v = Value::deserialize(doc).expect("kustomize output is YAML");
        let key = (
            v["kind"].as_str().expect("kind").to_owned(),
            v["metadata"]["name"].as_str().expect("name").to_owned(),
        );
        kustomized.insert(key, v);
    }
    let ns = kustomized
        .remove(&("Namespace".to_owned(), NAMESPACE.to_owned()))
        .expect("the base creates the privateapi-system Namespace");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as_str(),
        Some("restricted"),
        "the namespace enforces the restricted Pod Security Standard"
    );
    // The CRD is deploy/kustomize/crds/ (checked above); the chart's carries its labels.
    assert!(
        kustomized
            .remove(&(
                "CustomResourceDefinition".to_owned(),
                "privateapis.privateapi.io".to_owned()
            ))
            .is_some(),
        "the base installs the CRD"
    );
    let chart: BTreeMap<(String, String), Value> = docs(&template(&["--set", "crds.enabled=false"]))
        .iter()
        .map(|d| ((d.kind().to_owned(), d.name().to_owned()), d.value.clone()))
        .collect();
    assert_eq!(
        kustomized.keys().collect::<Vec<_>>(),
        chart.keys().collect::<Vec<_>>(),
        "deploy/kustomize has other objects than the chart's default rendering"
    );
    for (key, value) in &chart {
        assert!(
            normalized(value) == normalized(&kustomized[key]),
            "{key:?} differs between the chart's default rendering and deploy/kustomize \
             (regenerate deploy/kustomize from `scripts/helm-render.sh template {RELEASE} {CHART} -n {NAMESPACE}`):\n\
             chart:\n{}\nkustomize:\n{}",
            serde_norway::to_string(&normalized(value)).unwrap_or_default(),
            serde_norway::to_string(&normalized(&kustomized[key])).unwrap_or_default()
        );
    }
}

/// The chart values embedded in a GitOps manifest, written to a file for -f.
fn values_file(name: &str, values: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("privateapi-chart-test-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, serde_norway::to_string(values).expect("values")).expect("write values");
    path
}

#[test]
fn gitops_manifests_use_valid_values() {
    let app: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo().join("deploy/argocd/application.yaml")).expect("application.yaml"),
    )
    .expect("application.yaml is YAML");
    assert_eq!(app["kind"].as_str(), Some("Application"));
    assert_eq!(app["spec"]["source"]["path"].as_str(), Some(CHART));
    assert_eq!(app["spec"]["destination"]["namespace"].as_str(), Some(NAMESPACE));
    let release: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo().join("deploy/flux/operator/helmrelease.yaml")).expect("helmrelease.yaml"),
    )
    .expect("helmrelease.yaml is YAML");
    assert_eq!(release["kind"].as_str(), Some("HelmRelease"));
    assert_eq!(
        release["spec"]["chart"]["spec"]["chart"].as_str(),
        Some(&format!("./{CHART}")[..])
    );
    for (name, values) in [
        ("argocd", &app["spec"]["source"]["helm"]["valuesObject"]),
        ("flux", &release["spec"]["values"]),
    ] {
        assert!(values.is_mapping(), "{name}: no chart values found");
        let file = values_file(name, values);
        let out = template(&["-f", &file.display().to_string()]);
        let _ = std::fs::remove_file(&file);
        let docs = docs(&out);
        structurally_valid(&docs);
        strictly_typed(&out);
        restricted_pod_security(&docs);
        assert!(
            container(&docs)["image"]
                .as_str()
                .is_some_and(|i| i.ends_with("/privateapi-operator:0.1.0")),
            "{name}: image"
        );
        assert!(
            find(&docs, "ServiceAccount").value["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].is_string(),
            "{name}: IRSA annotation"
        );
    }
    // The Flux Kustomization health-checks the PrivateApi objects it applies.
    let text = std::fs::read_to_string(repo().join("deploy/flux/kustomizations.yaml")).expect("kustomizations");
    let checks: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|k| k["metadata"]["name"].as_str() == Some("privateapis"))
        .flat_map(|k| k["spec"]["healthChecks"].as_sequence().cloned().unwrap_or_default())
        .collect();
    assert!(
        checks
            .iter()
            .any(|c| c["kind"].as_str() == Some("PrivateApi")
                && c["apiVersion"].as_str() == Some("privateapi.io/v1alpha1")),
        "deploy/flux/kustomizations.yaml: the privateapis Kustomization must health-check PrivateApi objects"
    );
}

// ---------------------------------------------------------------- Argo CD health

fn health(object: &str) -> (String, String) {
    let mut child = Command::new(repo().join("scripts/helm-render.sh"))
        .args(["argocd-health", "deploy/argocd/health-check.lua", "-"])
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("helm-render.sh argocd-health");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(object.as_bytes())
        .expect("write");
    let out = check(&child.wait_with_output().expect("output"), "argocd-health");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    (
        v["status"].as_str().expect("status").to_owned(),
        v["message"].as_str().expect("message").to_owned(),
    )
}

/// A PrivateApi at `generation` with the three kstatus conditions as the operator writes them.
fn object(generation: u32, observed: u32, ready: bool, reconciling: bool, stalled: bool, message: &str) -> String {
    let c = |t: &str, s: bool, m: &str| {
        format!(
            "  - {{type: {t}, status: \"{}\", reason: {}, message: \"{}\", observedGeneration: {observed}, lastTransitionTime: \"2026-01-01T00:00:00Z\"}}\n",
            if s { "True" } else { "False" },
            if s { "Because" } else { "Other" },
            if s { m } else { "" }
        )
    };
    format!(
        "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: a, namespace: n, generation: {generation}}}\n\
         status:\n  observedGeneration: {observed}\n  conditions:\n{}{}{}",
        c("Ready", ready, message),
        c("Reconciling", reconciling, message),
        c("Stalled", stalled, message)
    )
}

#[test]
fn argocd_health_check_follows_the_conditions() {
    let cm: Value = serde_norway::from_str(
        &std::fs::read_to_string(repo().join("deploy/argocd/argocd-cm.yaml")).expect("argocd-cm.yaml"),
    )
    .expect("argocd-cm.yaml is YAML");
    let lua = std::fs::read_to_string(repo().join("deploy/argocd/health-check.lua")).expect("health-check.lua");
    assert_eq!(
        cm["data"]["resource.customizations.health.privateapi.io_PrivateApi"].as_str(),
        Some(lua.as_str()),
        "argocd-cm.yaml must carry health-check.lua verbatim"
    );

    let cases = [
        ("apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {name: a, generation: 1}\n".to_owned(), "Progressing", ""),
        (object(1, 1, true, false, false, "serving at https://x"), "Healthy", "serving at https://x"),
        (object(2, 1, true, false, false, "serving at https://x"), "Progressing", "generation 2"),
        (object(3, 3, false, true, false, "waiting for the ALB"), "Progressing", "waiting for the ALB"),
        (object(3, 3, false, false, true, "AccessDenied: not authorized"), "Degraded", "AccessDenied"),
        (object(4, 3, false, false, true, "AccessDenied: not authorized"), "Progressing", "generation 4"),
        (
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {name: a, generation: 1, deletionTimestamp: \"2026-01-01T00:00:00Z\"}\n"
                .to_owned(),
            "Progressing",
            "Deleting",
        ),
    ];
    for (obj, status, message) in cases {
        let (got, msg) = health(&obj);
        assert_eq!(got, status, "health of:\n{obj}\nmessage: {msg}");
        assert!(
            msg.contains(message),
            "message {msg:?} should contain {message:?} for:\n{obj}"
        );
    }
}

// ---------------------------------------------------------------- API server

fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    common::kubectl_with(common::cluster(), args, stdin)
}

#[test]
fn crd_and_examples_pass_the_real_api_server() {
    let docs = docs(&template(&["--set", "metrics.serviceMonitor.enabled=true"]));
    let crd = find(&docs, "CustomResourceDefinition");
    let out = kubectl(
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&crd.text),
    );
    check(&out, "kubectl apply --dry-run=server (CRD)");
    // Install it (the same file tests/e2e.rs installs) to validate PrivateApi objects.
    check(
        &kubectl(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&crd.text),
        ),
        "kubectl apply (CRD)",
    );
    check(
        &kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/privateapis.privateapi.io",
                "--timeout=30s",
            ],
            None,
        ),
        "CRD established",
    );
    let mut examples = vec![
        ("NOTES.txt example".to_owned(), notes_example()),
        (
            "deploy/flux/apis/hello.yaml".to_owned(),
            std::fs::read_to_string(repo().join("deploy/flux/apis/hello.yaml")).expect("hello.yaml"),
        ),
    ];
    // Every example of examples/, one per architecture: the schema's CEL rules accept them.
    for entry in std::fs::read_dir(repo().join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let text = std::fs::read_to_string(&path).expect("example");
            examples.push((path.display().to_string(), text));
        }
    }
    for (what, manifest) in examples {
        let object: serde_json::Value = serde_norway::from_str(&manifest).expect("a manifest");
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default");
        let out = kubectl(
            &["apply", "--dry-run=server", "-n", namespace, "-f", "-"],
            Some(&manifest),
        );
        check(&out, &format!("kubectl apply --dry-run=server ({what})"));
    }

    // What the server does not serve: these kinds are checked structurally only.
    let out = kubectl(&["api-resources", "-o", "name"], None);
    let served = check(&out, "kubectl api-resources");
    for (kind, resource) in [
        ("ServiceAccount", "serviceaccounts"),
        ("Service", "services"),
        ("ClusterRole", "clusterroles.rbac.authorization.k8s.io"),
        ("Deployment", "deployments.apps"),
        ("ServiceMonitor", "servicemonitors.monitoring.coreos.com"),
    ] {
        assert!(kinds(&docs).iter().any(|k| k == kind), "{kind} rendered");
        if !served.lines().any(|l| l == resource) {
            continue;
        }
        // A full cluster (USE_EXISTING_CLUSTER=1): validate it server-side too,
        // when the release namespace exists there.
        let doc = docs.iter().find(|d| d.kind() == kind).expect("doc");
        let namespaced = !doc.value["metadata"]["namespace"].is_null();
        if namespaced && !kubectl(&["get", "namespace", NAMESPACE], None).status.success() {
            continue;
        }
        let out = kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&doc.text));
        check(&out, &format!("kubectl apply --dry-run=server ({kind})"));
    }
    structurally_valid(&docs);
}

#[test]
fn leader_election_allows_replicas_with_a_lease_role() {
    let out = template(&["--set", "leaderElection.enabled=true", "--set", "replicaCount=2"]);
    let docs = docs(&out);
    structurally_valid(&docs);
    strictly_typed(&out);
    restricted_pod_security(&docs);
    let deployment = &find(&docs, "Deployment").value;
    assert_eq!(deployment["spec"]["replicas"].as_i64(), Some(2));
    assert_eq!(deployment["spec"]["strategy"]["type"].as_str(), Some("RollingUpdate"));
    assert_eq!(env_value(&docs, "PRIVATEAPI_LEADER_ELECT").as_deref(), Some("true"));
    assert_eq!(
        env_value(&docs, "PRIVATEAPI_LEASE_NAME").as_deref(),
        Some("privateapi-operator")
    );
    assert!(
        env(&docs).contains_key("POD_NAMESPACE"),
        "the Lease's namespace comes from the pod"
    );
    let role = docs
        .iter()
        .find(|d| d.kind() == "Role" && d.name().ends_with("-leader"))
        .expect("a Role for the Lease");
    assert_eq!(role.value["metadata"]["namespace"].as_str(), Some(NAMESPACE));
    let rules = role.value["rules"].as_sequence().expect("rules");
    let one = |s: &str| Value::Sequence(vec![Value::String(s.into())]);
    assert!(rules.iter().all(|r| r["apiGroups"] == one("coordination.k8s.io")));
    assert!(rules.iter().any(|r| r["resourceNames"] == one("privateapi-operator")));
    assert!(
        docs.iter()
            .any(|d| d.kind() == "RoleBinding" && d.name().ends_with("-leader"))
    );

    // Without it: one replica, Recreate, no Lease role.
    let plain = self::docs(&template(&[]));
    assert_eq!(
        find(&plain, "Deployment").value["spec"]["strategy"]["type"].as_str(),
        Some("Recreate")
    );
    assert!(!plain.iter().any(|d| d.name().ends_with("-leader")));
}

// ---------------------------------------------------------------- CRD as a template

#[test]
fn crd_template_is_the_crd() {
    assert!(
        !repo().join(CHART).join("crds").exists(),
        "the CRD is a template now: {CHART}/crds/ would install it a second way"
    );
    let generated = check(
        &Command::new(repo().join("scripts/crd-template.sh"))
            .current_dir(repo())
            .output()
            .expect("scripts/crd-template.sh"),
        "scripts/crd-template.sh",
    );
    let committed = std::fs::read_to_string(repo().join(CHART).join(CRD_TEMPLATE)).expect("crds template");
    assert!(
        generated == committed,
        "{CHART}/{CRD_TEMPLATE} is not what scripts/crd-template.sh makes of {CRD}: run `make crds`"
    );

    let crd: Value = serde_norway::from_str(&std::fs::read_to_string(repo().join(CRD)).expect("crds/")).expect("CRD");
    let docs = docs(&template(&[]));
    let mut rendered = find(&docs, "CustomResourceDefinition").value.clone();
    let metadata = rendered["metadata"].as_mapping_mut().expect("metadata");
    let annotations = metadata.remove("annotations").expect("annotations");
    assert_eq!(
        annotations["helm.sh/resource-policy"].as_str(),
        Some("keep"),
        "crds.keep defaults to true"
    );
    let labels = metadata.remove("labels").expect("labels");
    assert_eq!(labels["app.kubernetes.io/managed-by"].as_str(), Some("Helm"));
    assert!(
        rendered == crd,
        "the rendered CRD (less the chart's labels and annotations) differs from {CRD}"
    );

    let unkept = self::docs(&template(&["--set", "crds.keep=false"]));
    assert!(
        find(&unkept, "CustomResourceDefinition").value["metadata"]["annotations"].is_null(),
        "crds.keep=false: no resource policy"
    );
    let none = self::docs(&template(&["--set", "crds.enabled=false"]));
    assert!(!kinds(&none).iter().any(|k| k == "CustomResourceDefinition"));
}

// ---------------------------------------------------------------- production values

fn values_yaml(name: &str, yaml: &str) -> PathBuf {
    values_file(name, &serde_norway::from_str(yaml).expect("values YAML"))
}

fn pod_spec(docs: &[Doc]) -> &Value {
    &find(docs, "Deployment").value["spec"]["template"]["spec"]
}

#[test]
fn production_values_pdb_spread_volumes_and_credentials() {
    // IRSA outside EKS: a projected token, its mount and the SDK's variables.
    let file = values_yaml(
        "production",
        r#"
leaderElection: {enabled: true}
replicaCount: 3
credentialsSecret: aws-credentials
extraEnv:
  - {name: AWS_ROLE_ARN, value: "arn:aws:iam::123456789012:role/privateapi-operator"}
  - {name: AWS_WEB_IDENTITY_TOKEN_FILE, value: /var/run/secrets/eks.amazonaws.com/serviceaccount/token}
extraVolumes:
  - name: aws-token
    projected:
      sources:
        - serviceAccountToken: {audience: sts.amazonaws.com, expirationSeconds: 86400, path: token}
extraVolumeMounts:
  - {name: aws-token, mountPath: /var/run/secrets/eks.amazonaws.com/serviceaccount, readOnly: true}
"#,
    );
    let out = template(&["-f", &file.display().to_string()]);
    let _ = std::fs::remove_file(&file);
    let docs = docs(&out);
    structurally_valid(&docs);
    let decoded = strictly_typed(&out);
    assert!(decoded.iter().any(|k| k == "PodDisruptionBudget"), "{decoded:?}");
    restricted_pod_security(&docs);
    let pod_labels = &find(&docs, "Deployment").value["spec"]["template"]["metadata"]["labels"];

    let pdb = &find(&docs, "PodDisruptionBudget").value;
    assert_eq!(pdb["spec"]["maxUnavailable"].as_u64(), Some(1));
    for (k, v) in pdb["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("PDB selector")
    {
        assert_eq!(&pod_labels[k], v, "the PDB selects label {k:?} the pods lack");
    }

    let spread = pod_spec(&docs)["topologySpreadConstraints"]
        .as_sequence()
        .expect("default spread with 3 replicas");
    let keys: Vec<&str> = spread.iter().map(|c| c["topologyKey"].as_str().expect("key")).collect();
    assert_eq!(keys, ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]);
    for c in spread {
        assert_eq!(c["whenUnsatisfiable"].as_str(), Some("ScheduleAnyway"), "best effort");
        assert_eq!(c["maxSkew"].as_u64(), Some(1));
        for (k, v) in c["labelSelector"]["matchLabels"].as_mapping().expect("spread selector") {
            assert_eq!(&pod_labels[k], v, "the spread selects label {k:?} the pods lack");
        }
    }

    let c = container(&docs);
    assert_eq!(
        c["envFrom"][0]["secretRef"]["name"].as_str(),
        Some("aws-credentials"),
        "credentials come from the Secret"
    );
    assert!(
        !out.contains("AWS_SECRET_ACCESS_KEY") && !out.contains("AWS_ACCESS_KEY_ID"),
        "no credential appears in the rendering"
    );
    assert_eq!(
        env_value(&docs, "AWS_WEB_IDENTITY_TOKEN_FILE").as_deref(),
        Some("/var/run/secrets/eks.amazonaws.com/serviceaccount/token")
    );
    let volume = &pod_spec(&docs)["volumes"][0];
    assert_eq!(volume["name"].as_str(), Some("aws-token"));
    assert_eq!(
        volume["projected"]["sources"][0]["serviceAccountToken"]["audience"].as_str(),
        Some("sts.amazonaws.com")
    );
    assert_eq!(c["volumeMounts"][0]["name"].as_str(), Some("aws-token"));
    assert_eq!(c["volumeMounts"][0]["readOnly"].as_bool(), Some(true));

    // The switches.
    let base = ["--set", "leaderElection.enabled=true,replicaCount=2"];
    let no_pdb = self::docs(&template(
        &[&base[..], &["--set", "podDisruptionBudget.enabled=false"]].concat(),
    ));
    assert!(!kinds(&no_pdb).iter().any(|k| k == "PodDisruptionBudget"));
    let percent = self::docs(&template(
        &[&base[..], &["--set-string", "podDisruptionBudget.maxUnavailable=50%"]].concat(),
    ));
    assert_eq!(
        find(&percent, "PodDisruptionBudget").value["spec"]["maxUnavailable"].as_str(),
        Some("50%")
    );
    let unspread = self::docs(&template(
        &[&base[..], &["--set", "defaultTopologySpread=false"]].concat(),
    ));
    assert!(pod_spec(&unspread)["topologySpreadConstraints"].is_null());
    let own = template(
        &[
            &base[..],
            &[
                "--set-json",
                r#"topologySpreadConstraints=[{"maxSkew":2,"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"privateapi-operator"}}}]"#,
            ],
        ]
        .concat(),
    );
    strictly_typed(&own);
    let own = self::docs(&own);
    let constraints = pod_spec(&own)["topologySpreadConstraints"]
        .as_sequence()
        .expect("given");
    assert_eq!(constraints.len(), 1, "the given constraints replace the default");
    assert_eq!(constraints[0]["maxSkew"].as_u64(), Some(2));

    // One replica (the default): no PDB (it would block every drain), no spread,
    // no volume, no envFrom.
    let plain = self::docs(&template(&[]));
    assert!(!kinds(&plain).iter().any(|k| k == "PodDisruptionBudget"));
    assert!(pod_spec(&plain)["topologySpreadConstraints"].is_null());
    assert!(pod_spec(&plain)["volumes"].is_null());
    assert!(container(&plain)["envFrom"].is_null());
    assert!(container(&plain)["volumeMounts"].is_null());
}

#[test]
fn prometheus_rule_alerts_on_the_exported_metrics() {
    let plain = docs(&template(&[]));
    assert!(!kinds(&plain).iter().any(|k| k == "PrometheusRule"), "off by default");

    let out = template(&[
        "--set",
        "metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=kube-prometheus-stack",
        "--set",
        "metrics.prometheusRule.alertLabels.team=platform,metrics.prometheusRule.for=30m",
    ]);
    let docs = docs(&out);
    structurally_valid(&docs);
    strictly_typed(&out);
    let rule = &find(&docs, "PrometheusRule").value;
    assert_eq!(
        rule["metadata"]["labels"]["release"].as_str(),
        Some("kube-prometheus-stack")
    );
    let rules = rule["spec"]["groups"][0]["rules"].as_sequence().expect("rules");
    let names: Vec<&str> = rules.iter().map(|r| r["alert"].as_str().expect("alert")).collect();
    assert_eq!(
        names,
        [
            "PrivateApiStalled",
            "PrivateApiReconcileErrors",
            "PrivateApiAwsThrottled"
        ]
    );

    // Every metric and label value an alert uses is one the operator exports.
    let metrics_rs = std::fs::read_to_string(repo().join("src/metrics.rs")).expect("src/metrics.rs");
    let error_rs = std::fs::read_to_string(repo().join("src/error.rs")).expect("src/error.rs");
    for r in rules {
        let expr = r["expr"].as_str().expect("expr");
        assert_eq!(r["for"].as_str(), Some("30m"));
        assert_eq!(r["labels"]["severity"].as_str(), Some("warning"));
        assert_eq!(r["labels"]["team"].as_str(), Some("platform"));
        assert!(r["annotations"]["summary"].is_string() && r["annotations"]["description"].is_string());
        assert!(
            expr.contains(&format!("namespace=\"{NAMESPACE}\"")),
            "{expr}: scoped to the release namespace"
        );
        let mut rest = expr;
        let mut metrics = 0;
        while let Some(i) = rest.find("privateapi_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                metrics_rs.contains(&format!("\"{name}{{")) || metrics_rs.contains(&format!("\"{name} ")),
                "{expr}: {name} is not a metric src/metrics.rs exports"
            );
            metrics += 1;
            rest = &rest[i + name.len()..];
        }
        assert!(metrics > 0, "{expr} uses no metric of ours");
        if let Some(i) = expr.find("kind") {
            let values = expr[i..].split('"').nth(1).expect("kind values");
            for kind in values.split('|') {
                assert!(
                    error_rs.contains(&format!("\"{kind}\"")),
                    "{expr}: {kind} is no reconcile error kind (src/error.rs reason())"
                );
            }
        }
    }
    assert!(metrics_rs.contains("\"Stalled\""), "the Stalled condition is exported");
}

// ---------------------------------------------------------------- lint, every template

#[test]
fn every_template_renders_and_lints_under_value_sets() {
    let value_sets: [&[&str]; 5] = [
        &[],
        &["--set", "rbac.scope=namespace,watchNamespace=team-a,crds.keep=false"],
        &[
            "--set",
            "leaderElection.enabled=true,replicaCount=3,credentialsSecret=aws",
            "--set",
            "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.networkPolicy.enabled=true,rolePermissionsBoundary=arn:aws:iam::123456789012:policy/b,noRoleCreation=true",
            "--set-json",
            r#"namespacePolicy={"enabled":true,"rules":[{"namespaceSelector":{"matchLabels":{"tier":"sandbox"}},"vpcs":["*"],"subnets":["*"]}]}"#,
        ],
        &[
            "--set",
            "crds.enabled=false,rbac.create=false,metrics.service.type=LoadBalancer",
            "--set-json",
            r#"extraVolumes=[{"name":"tmp","emptyDir":{}}]"#,
            "--set-json",
            r#"extraVolumeMounts=[{"name":"tmp","mountPath":"/tmp"}]"#,
        ],
        &[
            "--set",
            "serviceAccount.create=false,serviceAccount.name=existing,replicaCount=0",
        ],
    ];
    let mut sources = std::collections::BTreeSet::new();
    for set in value_sets {
        let mut lint = vec!["lint", CHART, "-n", NAMESPACE];
        lint.extend_from_slice(set);
        let report = check(&helm_render(&lint), &format!("helm lint --strict {set:?}"));
        assert!(
            !report.contains("[WARNING]") && !report.contains("[ERROR]"),
            "helm lint {set:?}:\n{report}"
        );
        let out = template(set);
        let docs = docs(&out);
        if !set.iter().any(|s| s.contains("rbac.create=false")) {
            structurally_valid(&docs);
        }
        strictly_typed(&out);
        restricted_pod_security(&docs);
        sources.extend(docs.iter().map(|d| d.source.clone()));
    }
    for entry in std::fs::read_dir(repo().join(CHART).join("templates")).expect("templates/") {
        let name = entry.expect("entry").file_name().into_string().expect("utf-8");
        if name.ends_with(".yaml") {
            assert!(
                sources.contains(&format!("{RELEASE}/templates/{name}")),
                "templates/{name} is rendered by none of the value sets: {sources:?}"
            );
        }
    }
}
