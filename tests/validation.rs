//! One validation, two doors: the same bad manifests are refused by `privateapi`
//! (before any AWS call) and by the real API server with the CRD applied; pre-flight
//! checks of what only AWS knows stop a pass before its first write; `apply` keeps
//! its deadline and names a region that does not exist.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use privateapi::reconcile::{self, Mode};

/// An endpoint where nothing listens: a CLI run that reached AWS would fail with a
/// connection error, not with the refusal the test looks for.
const DEAD_ENDPOINT: &str = "http://127.0.0.1:9";

fn privateapi_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join("privateapi-validation-home");
    let _ = std::fs::create_dir_all(&home);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_privateapi"));
    cmd.args(args)
        // No cluster to look the object up in: the CLI's own doors only.
        .env_remove("KUBECONFIG")
        // AWS only where a test says where (make test exports the emulator's URL).
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", &home)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PRIVATEAPI_AWS_PACING", "off");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("run privateapi")
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("privateapi-validation-{name}-{}.yaml", rand::random::<u32>()));
    std::fs::write(&path, text).expect("write manifest");
    path
}

const NETWORK: &str = "  network: {vpcId: vpc-0abc, subnetIds: [subnet-0a1, subnet-0b2]}\n";

fn doc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: validation}}\nspec:\n{spec}"
    )
}

/// A valid spec with `extra` (lines indented by two spaces) added to it.
fn with(name: &str, extra: &str) -> String {
    doc(name, &format!("{NETWORK}  service: {{image: 'nginx:1.27'}}\n{extra}"))
}

/// Which door refuses a manifest: both, or the CLI only (what no API server checks:
/// the file itself, and what AWS would refuse beyond the schema).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Doors {
    Both,
    CliOnly,
}

/// The table: (case, manifest, what the CLI says, which doors refuse it).
fn bad_manifests() -> Vec<(&'static str, String, &'static str, Doors)> {
    let long_value = "v".repeat(257);
    let many_tags: String = (0..41).map(|i| format!("k{i}: v, ")).collect();
    vec![
        // The file.
        (
            "two documents",
            format!("{}---\n{}", with("one", ""), with("two", "")),
            "2 PrivateApi documents (documents 1, 2)",
            Doors::CliOnly,
        ),
        (
            "wrong apiVersion",
            with("v1", "").replace("privateapi.io/v1alpha1", "privateapi.io/v1"),
            "apiVersion: \"privateapi.io/v1\" is not privateapi.io/v1alpha1",
            Doors::Both,
        ),
        (
            "wrong kind",
            with("kind", "").replace("kind: PrivateApi", "kind: PrivateAPI"),
            "kind: \"PrivateAPI\" is not PrivateApi",
            Doors::Both,
        ),
        // Unknown fields, at the top and deep down.
        (
            "unknown field",
            doc(
                "unknown",
                &format!("{NETWORK}  service: {{image: 'nginx:1.27', imagePullPolicy: Always}}\n"),
            ),
            "spec.service.imagePullPolicy: unknown field",
            Doors::Both,
        ),
        (
            "unknown top-level field",
            format!("{}specs: {{}}\n", with("top", "")),
            "specs: unknown field",
            Doors::Both,
        ),
        (
            "unknown metadata field",
            with("meta", "").replace("namespace: validation}", "namespace: validation, nmae: x}"),
            "metadata.nmae: unknown field",
            Doors::Both,
        ),
        // The schema: types, required, enums, bounds, patterns, lengths, list types.
        (
            "wrong type",
            doc(
                "type",
                &format!("{NETWORK}  service: {{image: 'nginx:1.27', desiredCount: two}}\n"),
            ),
            "spec.service.desiredCount: \"two\" must be of type integer",
            Doors::Both,
        ),
        (
            "required field",
            doc("required", &format!("{NETWORK}  service: {{port: 8080}}\n")),
            "spec.service.image: Required value",
            Doors::Both,
        ),
        (
            "enum",
            doc(
                "enum",
                &format!("{NETWORK}  service: {{image: 'nginx:1.27', cpu: 300, memory: 1024}}\n"),
            ),
            "spec.service.cpu: Unsupported value: 300",
            Doors::Both,
        ),
        (
            "maximum",
            doc(
                "max",
                &format!("{NETWORK}  service: {{image: 'nginx:1.27', port: 70000}}\n"),
            ),
            "spec.service.port: Invalid value: 70000: should be less than or equal to 65535",
            Doors::Both,
        ),
        (
            "bad pattern: the health-check matcher",
            with("matcher", "").replace(
                "image: 'nginx:1.27'}",
                "image: 'nginx:1.27', healthCheck: {matcher: '200,abc'}}",
            ),
            "spec.service.healthCheck.matcher: Invalid value: \"200,abc\": should match",
            Doors::Both,
        ),
        (
            "bad pattern: the region",
            with("region", "  region: eu-west\n"),
            "spec.region: Invalid value: \"eu-west\": should match",
            Doors::Both,
        ),
        (
            "bad pattern: a cluster name with a space",
            with("cluster", "").replace(
                "image: 'nginx:1.27'}",
                "image: 'nginx:1.27', cluster: {name: 'my cluster'}}",
            ),
            "spec.service.cluster.name: Invalid value: \"my cluster\": should match",
            Doors::Both,
        ),
        (
            "minItems",
            doc(
                "subnets",
                "  network: {vpcId: vpc-0abc, subnetIds: [subnet-0a1]}\n  service: {image: 'nginx:1.27'}\n",
            ),
            "spec.network.subnetIds: Invalid value: 1 items: should have at least 2 items",
            Doors::Both,
        ),
        (
            "duplicate env names (list-type map)",
            with("dupenv", "").replace(
                "image: 'nginx:1.27'}",
                "image: 'nginx:1.27', env: [{name: A, value: x}, {name: A, value: y}]}",
            ),
            "spec.service.env[1]: Duplicate value",
            Doors::Both,
        ),
        (
            "maxLength of a tag value",
            with("tagvalue", &format!("  tags: {{team: {long_value}}}\n")),
            "spec.tags[team]: Too long: may not be more than 256 characters",
            Doors::Both,
        ),
        (
            "maxProperties: 41 tags",
            with("tagcount", &format!("  tags: {{{many_tags}}}\n")),
            "spec.tags: Too many: 41: must have at most 40 items",
            Doors::Both,
        ),
        (
            "metadata.name",
            with("Bad_Name", ""),
            "metadata.name: Invalid value: \"Bad_Name\"",
            Doors::Both,
        ),
        // The CEL rules, one of each class.
        (
            "rule on an object: exactly one subnet source",
            doc(
                "both",
                "  network: {vpcId: vpc-0abc, subnetIds: [subnet-0a1, subnet-0b2], subnetSelector: {tier: private}}\n  service: {image: 'nginx:1.27'}\n",
            ),
            "spec.network: set exactly one of subnetIds or subnetSelector",
            Doors::Both,
        ),
        (
            "rule with a ternary: Fargate sizes",
            doc(
                "fargate",
                &format!("{NETWORK}  service: {{image: 'nginx:1.27', cpu: 256, memory: 8192}}\n"),
            ),
            "spec.service: memory (MiB) is not a Fargate size for this cpu",
            Doors::Both,
        ),
        (
            "rule across fields after defaulting: timeout below interval",
            with("health", "").replace(
                "image: 'nginx:1.27'}",
                "image: 'nginx:1.27', healthCheck: {timeoutSeconds: 60}}",
            ),
            "spec.service.healthCheck: timeoutSeconds must be less than intervalSeconds",
            Doors::Both,
        ),
        (
            "rule on the whole spec: HTTP APIs and VPC Link V1",
            with(
                "arch",
                "  api: {type: HTTP}\n  vpcLink: {version: V1}\n  loadBalancer: {type: network}\n",
            ),
            "spec: an HTTP API reaches its load balancer through a VPC Link V2 only",
            Doors::Both,
        ),
        (
            "rule on the whole spec: a load-balancer group with a V1 link",
            with("grpv1", "  vpcLink: {version: V1}\n  loadBalancer: {group: shop}\n"),
            "spec: loadBalancer.group needs a shared VPC link V2",
            Doors::Both,
        ),
        (
            "rule on the whole spec: a load-balancer group with a link of its own",
            with("grpown", "  vpcLink: {shared: false}\n  loadBalancer: {group: shop}\n"),
            "spec: loadBalancer.group needs a shared VPC link V2",
            Doors::Both,
        ),
        (
            "rule on a struct: a load-balancer group of NLBs",
            with("grpnlb", "  loadBalancer: {type: network, group: shop}\n"),
            "spec.loadBalancer: loadBalancer.group shares an ALB: it needs loadBalancer.type application",
            Doors::Both,
        ),
        (
            "pattern: a group name that is no DNS label",
            with("grpname", "  loadBalancer: {group: Shop_1}\n"),
            "spec.loadBalancer.group",
            Doors::Both,
        ),
        (
            "rule on a struct: the ownership record of a long domain",
            with(
                "dns",
                &format!(
                    "  api: {{domain: {{name: {}.example.com, certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012', hostedZoneId: Z123}}}}\n",
                    ["a".repeat(60), "b".repeat(60), "c".repeat(60), "d".repeat(48)].join(".")
                ),
            ),
            "spec.api.domain: with hostedZoneId, name may have at most 241 characters",
            Doors::Both,
        ),
        (
            "rule with all() over a map: the aws: prefix",
            with("prefix", "  tags: {'AWS:team': x}\n"),
            "spec.tags: tag keys must not start with aws: in any case",
            Doors::Both,
        ),
        (
            "rule with matches(): AWS's tag characters",
            with("chars", "  tags: {team: 'a;b'}\n"),
            "spec.tags: tag keys and values may hold letters",
            Doors::Both,
        ),
        // Beyond the schema: what AWS would refuse at the first write.
        (
            "image reference",
            with("image", "").replace("image: 'nginx:1.27'", "image: 'nginx 1.27'"),
            "spec.service.image: \"nginx 1.27\": ' ' is not allowed",
            Doors::CliOnly,
        ),
    ]
}

/// Every bad manifest is refused by the CLI, with the field and the CRD's message,
/// before any AWS call (there is no AWS to call); the API server refuses the same
/// ones. A valid manifest passes both doors, so that neither refuses everything.
#[test]
fn the_cli_and_the_api_server_refuse_the_same_manifests() {
    let valid = with("valid", "  tags: {team: payments}\n");
    let path = write("valid", &valid);
    privateapi::cli::load(&path).unwrap_or_else(|e| panic!("the CLI refuses a valid manifest: {e}"));
    let _ = kubectl(&["create", "namespace", "validation"]);
    let accepted = kubectl_with(
        cluster(),
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&valid),
    );
    assert!(
        accepted.status.success(),
        "the API server refuses a valid manifest: {}",
        String::from_utf8_lossy(&accepted.stderr)
    );

    let mut failures = Vec::new();
    for (case, manifest, says, doors) in bad_manifests() {
        let path = write("bad", &manifest);
        let started = Instant::now();
        let out = privateapi_with(
            &["plan", "-f", &path.display().to_string()],
            &[("AWS_ENDPOINT_URL", DEAD_ENDPOINT)],
        );
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.code() != Some(1) || !stderr.contains(says) {
            failures.push(format!("{case}: the CLI said (exit {:?}): {stderr}", out.status.code()));
        }
        // Refused before any AWS call: no retries against the dead endpoint.
        if started.elapsed() > Duration::from_secs(5) || stderr.contains("dispatch failure") {
            failures.push(format!("{case}: the CLI called AWS first: {stderr}"));
        }
        if doors == Doors::Both {
            let server = kubectl_with(
                cluster(),
                &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
                Some(&manifest),
            );
            if server.status.success() {
                failures.push(format!(
                    "{case}: the API server accepted it: {}",
                    String::from_utf8_lossy(&server.stdout)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A file over 4 MiB is refused unread (the API server's own limit is 3 MiB).
#[test]
fn an_oversized_file_is_refused() {
    let padding = format!("# {}\n", "x".repeat(1024)).repeat(4 * 1024 + 1);
    let path = write("big", &format!("{}{padding}", with("big", "")));
    let out = privateapi_with(
        &["plan", "-f", &path.display().to_string()],
        &[("AWS_ENDPOINT_URL", DEAD_ENDPOINT)],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("larger than 4 MiB"), "{stderr}");
    let none = write("none", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
    let out = privateapi_with(
        &["plan", "-f", &none.display().to_string()],
        &[("AWS_ENDPOINT_URL", DEAD_ENDPOINT)],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no document of kind PrivateApi") && stderr.contains("v1/Namespace"),
        "{stderr}"
    );
}

/// Transition rules (immutable fields) apply on update: the API server refuses a
/// changed region of a stored object, and so does the validator given the old object.
#[test]
fn immutable_fields_are_refused_on_update_by_both() {
    let _ = kubectl(&["create", "namespace", "validation"]);
    let name = format!("immutable{:x}", rand::random::<u16>());
    let old = with(&name, "  region: eu-west-1\n");
    ok(kubectl_apply(&old));
    let new = old.replace("region: eu-west-1", "region: eu-central-1");
    let server = kubectl_apply(&new);
    assert!(!server.status.success(), "the API server accepted a new region");
    assert!(String::from_utf8_lossy(&server.stderr).contains("region is immutable"));
    let _ = kubectl(&["delete", "papi", &name, "-n", "validation", "--wait=false"]);

    let parse = |text: &str| -> serde_json::Value { serde_norway::from_str(text).expect("YAML") };
    let validator = privateapi::schema::validator();
    let (mut before, mut after) = (parse(&old), parse(&new));
    assert_eq!(validator.validate_object(&mut before, None), Vec::<String>::new());
    let problems = validator.validate_object(&mut after, Some(&before));
    assert_eq!(problems, vec!["spec.region: region is immutable".to_owned()]);
    // Without the old object (a create), the rule does not apply.
    let mut fresh = parse(&new);
    assert_eq!(validator.validate_object(&mut fresh, None), Vec::<String>::new());
}

/// Behind a VPC Link V1 to an ALB, the NLB in front forwards to the listener port:
/// that port may not change, a V1 link to an NLB's may, and both doors say so.
#[test]
fn the_listener_port_behind_an_nlb_in_front_is_immutable_for_both() {
    let _ = kubectl(&["create", "namespace", "validation"]);
    let name = format!("frontport{:x}", rand::random::<u16>());
    let old = with(
        &name,
        "  vpcLink: {version: V1}\n  loadBalancer: {listenerPort: 8080}\n",
    );
    ok(kubectl_apply(&old));
    let new = old.replace("listenerPort: 8080", "listenerPort: 8081");
    let server = kubectl_apply(&new);
    assert!(!server.status.success(), "the API server accepted a new port");
    assert!(
        String::from_utf8_lossy(&server.stderr).contains("listenerPort is immutable behind a VPC Link V1"),
        "{}",
        String::from_utf8_lossy(&server.stderr)
    );
    let _ = kubectl(&["delete", "papi", &name, "-n", "validation", "--wait=false"]);

    let parse = |text: &str| -> serde_json::Value { serde_norway::from_str(text).expect("YAML") };
    let validator = privateapi::schema::validator();
    let (mut before, mut after) = (parse(&old), parse(&new));
    assert_eq!(validator.validate_object(&mut before, None), Vec::<String>::new());
    let problems = validator.validate_object(&mut after, Some(&before));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("listenerPort is immutable behind a VPC Link V1"),
        "{problems:?}"
    );
    // The NLB itself behind a V1 link: its listener port may change.
    let nlb = |port: &str| parse(&old.replace("listenerPort: 8080", &format!("type: network, listenerPort: {port}")));
    let (mut before, mut after) = (nlb("8080"), nlb("8081"));
    assert_eq!(validator.validate_object(&mut before, None), Vec::<String>::new());
    assert_eq!(
        validator.validate_object(&mut after, Some(&before)),
        Vec::<String>::new()
    );
}

/// A load-balancer group is immutable: joining, leaving or changing it is refused by
/// both doors.
#[test]
fn a_load_balancer_group_is_immutable_for_both() {
    let parse = |text: &str| -> serde_json::Value { serde_norway::from_str(text).expect("YAML") };
    let validator = privateapi::schema::validator();
    let none = with("grpimm", "");
    let shop = with("grpimm", "  loadBalancer: {group: shop}\n");
    let other = with("grpimm", "  loadBalancer: {group: other}\n");
    for (old, new) in [(&none, &shop), (&shop, &none), (&shop, &other)] {
        let (mut before, mut after) = (parse(old), parse(new));
        assert_eq!(validator.validate_object(&mut before, None), Vec::<String>::new());
        let problems = validator.validate_object(&mut after, Some(&before));
        assert!(
            problems.iter().any(|p| p.contains("loadBalancer.group is immutable")),
            "{old} → {new}: {problems:?}"
        );
    }
    let _ = kubectl(&["create", "namespace", "validation"]);
    let name = format!("grpimm{:x}", rand::random::<u16>());
    let old = with(&name, "  loadBalancer: {group: shop}\n");
    ok(kubectl_apply(&old));
    let server = kubectl_apply(&old.replace("group: shop", "group: other"));
    assert!(!server.status.success(), "the API server accepted another group");
    assert!(
        String::from_utf8_lossy(&server.stderr).contains("loadBalancer.group is immutable"),
        "{}",
        String::from_utf8_lossy(&server.stderr)
    );
    let _ = kubectl(&["delete", "papi", &name, "-n", "validation", "--wait=false"]);
}

/// Every CEL rule and pattern of the CRD can be evaluated by the CLI: a rule the CEL
/// crate cannot read would otherwise refuse every manifest it applies to.
#[test]
fn every_rule_of_the_crd_is_understood() {
    assert_eq!(privateapi::schema::validator().uncompiled(), Vec::<String>::new());
    for example in std::fs::read_dir(repo().join("examples")).expect("examples/") {
        let path = example.expect("entry").path();
        privateapi::cli::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

async fn subnet_in(aws: &privateapi::aws::Aws, vpc: &str, cidr: &str, zone: &str) -> String {
    let out = aws
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone)
        .send()
        .await
        .expect("CreateSubnet");
    out.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned()
}

/// Input only AWS can judge stops the pass before its first write: subnets in one
/// zone under an ALB, a subnet of another VPC, a task definition over 64 KiB, an
/// image reference ECS refuses. The pass makes reads only, and AWS holds nothing.
#[tokio::test]
async fn preflight_refusals_make_no_aws_write() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let one_zone = vec![
        subnet_in(&aws, &vpc, "10.0.10.0/24", "eu-west-1a").await,
        subnet_in(&aws, &vpc, "10.0.11.0/24", "eu-west-1a").await,
    ];
    let (other_vpc, other_subnets) = network(&aws).await;
    let owner = owner("preflight");

    let mut cases = Vec::new();
    let mut spec = spec(&vpc, &one_zone);
    cases.push(("SubnetsInOneZone", "at least two availability zones", spec.clone()));
    spec.network.subnet_ids = Some(vec![subnets[0].clone(), other_subnets[1].clone()]);
    cases.push(("SubnetNotInVpc", other_vpc.as_str(), spec.clone()));
    let mut big = common::spec(&vpc, &subnets);
    big.service.env = (0..100)
        .map(|i| privateapi::crd::EnvVar {
            name: format!("VAR_{i}"),
            value: "x".repeat(700),
        })
        .collect();
    cases.push(("TaskDefinitionTooLarge", "ECS allows 64 KiB", big));
    let mut image = common::spec(&vpc, &subnets);
    image.service.image = format!("registry.example.com/{}:v1", "a".repeat(240));
    cases.push(("InvalidSpec", "ECS allows 255", image));

    for (reason, says, spec) in cases {
        let before = aws.stats.snapshot();
        let err = reconcile::converge(&aws, &owner, &spec, Mode::Apply)
            .await
            .expect_err(reason);
        let calls = aws.stats.snapshot().since(&before);
        assert_eq!((err.reason(), err.is_terminal()), (reason, true), "{err}");
        assert!(err.to_string().contains(says), "{reason}: {err}");
        assert_eq!(calls.writes(), 0, "{reason}: writes {calls:?}");
        assert!(calls.reads() <= 1, "{reason}: one DescribeSubnets at most: {calls:?}");
    }
    assert_eq!(inventory(&aws, &owner).await, Inventory::default(), "nothing made");
}

/// A server that takes connections and never answers: AWS not answering.
fn silent_endpoint() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (url, handle)
}

/// A server that answers every request with a 503 and a body that names no error.
fn failing_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        listener.set_nonblocking(true).expect("nonblocking");
        while Instant::now() < until {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let body = "<html>Service Unavailable</html>";
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// `--timeout-seconds` bounds a pass in flight: with AWS not answering (and 20 s per
/// attempt, four attempts), apply returns at its deadline, not a pass later.
#[test]
fn apply_keeps_its_deadline_when_aws_does_not_answer() {
    let (url, _server) = silent_endpoint();
    let path = write("deadline", &with("deadline", ""));
    let started = Instant::now();
    let out = privateapi_with(
        &[
            "apply",
            "-f",
            &path.display().to_string(),
            "-o",
            "json",
            "--timeout-seconds",
            "3",
        ],
        &[("AWS_ENDPOINT_URL", &url)],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(8), "apply took {took:?} for a 3 s timeout");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON on timeout");
    let text = status.to_string();
    assert!(
        text.contains("TimedOut") && text.contains("timed out after 3 s"),
        "{text}"
    );
}

/// On timeout, the status printed says what went wrong last.
#[test]
fn the_status_on_timeout_carries_the_last_error() {
    let url = failing_endpoint();
    let path = write("lasterror", &with("lasterror", ""));
    let out = privateapi_with(
        &[
            "apply",
            "-f",
            &path.display().to_string(),
            "-o",
            "json",
            "--timeout-seconds",
            "4",
            "--poll-seconds",
            "1",
        ],
        &[("AWS_ENDPOINT_URL", &url), ("AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON on timeout");
    let ready = status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("last error") && message.contains("HTTP 503"),
        "{status}"
    );
}

/// A region that does not exist fails at once, naming the host that does not resolve,
/// instead of retrying until the deadline.
#[test]
fn a_misspelt_region_fails_fast_naming_the_host() {
    let path = write("region", &with("region", "  region: eu-wset-1\n"));
    let started = Instant::now();
    let out = privateapi_with(
        &["apply", "-f", &path.display().to_string(), "--timeout-seconds", "600"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("ec2.eu-wset-1.amazonaws.com") && stderr.contains("eu-wset-1"),
        "{stderr}"
    );
}
