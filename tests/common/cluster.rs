//! The real Kubernetes API server (scripts/apiserver.sh, or `USE_EXISTING_CLUSTER=1`:
//! the cluster of `KUBECONFIG`) with the CRD applied, kubectl, and PrivateApi
//! manifests and objects: applied as YAML, read back as the typed [`PrivateApi`].

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use privateapi::crd::PrivateApi;

use super::repo;

pub struct Cluster {
    pub kubeconfig: String,
    pub kubectl: String,
}

/// The API server of scripts/apiserver.sh (or `USE_EXISTING_CLUSTER=1`: the cluster of
/// `KUBECONFIG`), with the CRD applied and established.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let cluster = if std::env::var("USE_EXISTING_CLUSTER").as_deref() == Ok("1") {
            Cluster {
                kubeconfig: std::env::var("KUBECONFIG").expect("USE_EXISTING_CLUSTER=1 needs KUBECONFIG"),
                kubectl: "kubectl".into(),
            }
        } else {
            let script = repo().join("scripts/apiserver.sh");
            let out = Command::new(&script)
                .arg("start")
                .output()
                .expect("run scripts/apiserver.sh start");
            assert!(
                out.status.success(),
                "API server failed to start:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let kubeconfig = String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("export KUBECONFIG=").map(str::to_owned))
                .expect("apiserver.sh prints KUBECONFIG");
            let env = Command::new(&script).arg("env").output().expect("apiserver.sh env");
            let bin = String::from_utf8_lossy(&env.stdout)
                .lines()
                .find_map(|l| {
                    l.strip_prefix("export PATH=")
                        .and_then(|p| p.split(':').next())
                        .map(str::to_owned)
                })
                .expect("apiserver.sh env prints PATH");
            Cluster {
                kubeconfig,
                kubectl: format!("{bin}/kubectl"),
            }
        };
        let crd = repo().join("crds/privateapi.io_privateapis.yaml");
        let crd = crd.display().to_string();
        let out = kubectl_with(
            &cluster,
            &["apply", "--server-side", "--force-conflicts", "-f", &crd],
            None,
        );
        assert!(
            out.status.success(),
            "CRD apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = kubectl_with(
            &cluster,
            &[
                "wait",
                "--for=condition=Established",
                "crd/privateapis.privateapi.io",
                "--timeout=30s",
            ],
            None,
        );
        assert!(
            out.status.success(),
            "CRD not established: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    })
}

pub fn kubectl_with(cluster: &Cluster, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(&cluster.kubectl)
        .args(args)
        .env("KUBECONFIG", &cluster.kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("kubectl output")
}

pub fn kubectl(args: &[&str]) -> Output {
    kubectl_with(cluster(), args, None)
}

pub fn kubectl_apply(manifest: &str) -> Output {
    kubectl_with(cluster(), &["apply", "-f", "-"], Some(manifest))
}

pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A PrivateApi manifest: two replicas of `image` in the given subnets.
pub fn manifest(ns: &str, name: &str, vpc: &str, subnets: &[String], image: &str) -> String {
    manifest_with(ns, name, vpc, subnets, image, "")
}

/// [`manifest`] with more of the spec: `extra_spec` is YAML lines indented by two
/// spaces, each ending in a newline (`"  deletionPolicy: Retain\n"`).
pub fn manifest_with(ns: &str, name: &str, vpc: &str, subnets: &[String], image: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: '{image}', desiredCount: 2}}\n{extra_spec}",
        subnets.join(", ")
    )
}

/// The object, or None when it does not exist (or kubectl cannot say); panics when
/// the JSON is not a PrivateApi (a missing object must not hide a bad one).
pub fn find(ns: &str, name: &str) -> Option<PrivateApi> {
    let out = kubectl(&["get", "papi", name, "-n", ns, "-o", "json", "--ignore-not-found"]);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{ns}/{name} is not a PrivateApi: {e}\n{text}")))
}

/// The object; panics when kubectl fails or the JSON is not a PrivateApi.
pub fn get(ns: &str, name: &str) -> PrivateApi {
    let out = ok(kubectl(&["get", "papi", name, "-n", ns, "-o", "json"]));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{ns}/{name} is not a PrivateApi: {e}\n{out}"))
}

/// The status as indented JSON, for messages.
pub fn status_json(obj: &PrivateApi) -> String {
    serde_json::to_string_pretty(&obj.status).unwrap_or_default()
}

pub fn condition<'a>(obj: &'a PrivateApi, type_: &str) -> Option<&'a Condition> {
    privateapi::status::condition(obj.status.as_ref(), type_)
}

/// The status of a condition (`"True"`, `"False"`, `"Unknown"`), None when it is absent.
pub fn condition_status<'a>(obj: &'a PrivateApi, type_: &str) -> Option<&'a str> {
    condition(obj, type_).map(|c| c.status.as_str())
}

/// Ready=True for the current generation.
pub fn is_ready(obj: &PrivateApi) -> bool {
    obj.status.as_ref().and_then(|s| s.observed_generation) == obj.metadata.generation
        && condition_status(obj, "Ready") == Some("True")
}
