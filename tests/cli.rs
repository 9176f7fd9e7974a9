//! The `privateapi` binary without Kubernetes: apply / plan / delete of a manifest
//! against the AWS emulator, with the documented exit codes and outputs.

mod common;

use std::process::{Command, Output};

use common::*;

fn privateapi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privateapi"))
        .args(args)
        .envs(aws_env())
        .output()
        .expect("run privateapi")
}

fn write_manifest(name: &str, vpc: &str, subnets: &[String], image: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("privateapi-cli-{name}-{}.yaml", rand::random::<u32>()));
    let yaml = format!(
        "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: cli}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: '{image}'}}\n",
        subnets.join(", ")
    );
    std::fs::write(&path, yaml).expect("write manifest");
    path
}

#[tokio::test]
async fn plan_apply_plan_delete() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("cli{:x}", rand::random::<u16>());
    let file = write_manifest(&name, &vpc, &subnets, "nginx:1.27");
    let f = file.display().to_string();

    let plan = privateapi(&["plan", "-f", &f]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "changes pending: {}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("+ LoadBalancer") && text.contains("+ RestApi") && text.contains("change(s) pending"),
        "{text}"
    );

    let apply = privateapi(&["apply", "-f", &f, "-o", "json", "--poll-seconds", "1"]);
    assert_eq!(
        apply.status.code(),
        Some(0),
        "apply: {}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("JSON status on stdout");
    let endpoint = status["status"]["endpoint"].as_str().expect("endpoint");
    assert!(
        endpoint.starts_with("https://") && endpoint.ends_with(".execute-api.eu-west-1.amazonaws.com/prod"),
        "{endpoint}"
    );
    let progress = String::from_utf8_lossy(&apply.stderr);
    assert!(
        progress.contains("+ VpcLink") && progress.contains("ready"),
        "progress on stderr: {progress}"
    );

    let plan = privateapi(&["plan", "-f", &f, "-o", "json"]);
    assert_eq!(plan.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(plan["changes"], serde_json::json!([]));

    let changed = write_manifest(&name, &vpc, &subnets, "nginx:1.28");
    let plan = privateapi(&["plan", "-f", &changed.display().to_string()]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("~ EcsService"),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );

    // What delete would remove: every object of the stack, and nothing removed yet.
    let owner = privateapi::aws::Owner::offline("cli", &name);
    let destroy = privateapi(&["plan", "--destroy", "-f", &f]);
    assert_eq!(
        destroy.status.code(),
        Some(2),
        "plan --destroy: {}",
        String::from_utf8_lossy(&destroy.stderr)
    );
    let text = String::from_utf8_lossy(&destroy.stdout);
    for part in [
        "- RestApi",
        "- VpcLink",
        "- EcsService",
        "- TaskDefinition",
        "- Listener",
        "- TargetGroup",
        "- LoadBalancer",
        "- SecurityGroup",
        "- IamRole",
        "- EcsCluster",
        "- LogGroup",
    ] {
        assert!(text.contains(part), "plan --destroy misses {part}: {text}");
    }
    assert!(!text.contains("+ "), "{text}");
    // In the order delete takes them.
    let at = |part: &str| text.find(part).unwrap_or(usize::MAX);
    // The API before the link it names; a shared link is left after the service (the
    // two do not depend on each other), a link of the stack's own goes before it.
    assert!(
        at("- RestApi") < at("- VpcLink") && at("- RestApi") < at("- EcsService"),
        "{text}"
    );
    assert!(
        at("- EcsService") < at("- LoadBalancer") && at("- LoadBalancer") < at("- SecurityGroup"),
        "{text}"
    );
    assert!(
        at("- SecurityGroup") < at("- IamRole") && at("- IamRole") < at("- EcsCluster"),
        "{text}"
    );
    assert_eq!(
        inventory(&aws, &owner).await,
        Inventory::one_stack(),
        "plan --destroy deleted something"
    );
    let destroy = privateapi(&["plan", "--destroy", "-f", &f, "-o", "json"]);
    assert_eq!(destroy.status.code(), Some(2));
    let listed: serde_json::Value = serde_json::from_slice(&destroy.stdout).expect("plan --destroy JSON");
    let deletes = listed["changes"].as_array().cloned().unwrap_or_default();
    // Deletes only, but for the rules between our groups (revoked first: a group
    // another's rule names cannot be deleted).
    assert!(
        deletes
            .iter()
            .all(|c| c["verb"] == "delete" || (c["verb"] == "update" && c["part"] == "SecurityGroup")),
        "{listed}"
    );
    // Three groups, two roles, one of each of the nine other parts (the log group too).
    assert_eq!(
        deletes.iter().filter(|c| c["verb"] == "delete").count(),
        3 + 2 + 9,
        "{listed}"
    );
    assert!(deletes.iter().any(|c| c["part"] == "LogGroup"), "{listed}");

    let delete = privateapi(&["delete", "-f", &f, "--poll-seconds", "1"]);
    assert_eq!(
        delete.status.code(),
        Some(0),
        "delete: {}",
        String::from_utf8_lossy(&delete.stderr)
    );
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
    let destroy = privateapi(&["plan", "--destroy", "-f", &f]);
    assert_eq!(destroy.status.code(), Some(0), "nothing left to delete");
}

#[tokio::test]
async fn bad_input_exits_1_with_the_reason() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let missing = privateapi(&["plan", "-f", "/nonexistent.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.yaml"));

    let path = std::env::temp_dir().join(format!("privateapi-cli-bad-{}.yaml", rand::random::<u32>()));
    std::fs::write(
        &path,
        format!("apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: bad}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: x, cpu: 256, memory: 8192}}\n", subnets.join(", ")),
    )
    .expect("write");
    // Refused before any AWS call, with the CRD's own message and the field.
    let apply = privateapi(&["apply", "-f", &path.display().to_string(), "-o", "json"]);
    assert_eq!(apply.status.code(), Some(1));
    let said = String::from_utf8_lossy(&apply.stderr);
    assert!(
        said.contains("spec.service: memory (MiB) is not a Fargate size") && apply.stdout.is_empty(),
        "{said}"
    );

    // Tags AWS would refuse are refused before any write, with the CRD's reason.
    std::fs::write(
        &path,
        format!("apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: bad-tags}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: x}}\n  tags: {{'AWS:team': x, team: {}}}\n", subnets.join(", "), "v".repeat(257)),
    )
    .expect("write");
    let apply = privateapi(&["apply", "-f", &path.display().to_string(), "-o", "json"]);
    assert_eq!(apply.status.code(), Some(1));
    let said = String::from_utf8_lossy(&apply.stderr);
    assert!(
        said.contains("must not start with aws:") && said.contains("spec.tags[team]: Too long"),
        "{said}"
    );

    let crd = privateapi(&["crd"]);
    assert_eq!(crd.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&crd.stdout).contains("name: privateapis.privateapi.io"));
}

/// A manifest straight from git (no uid) acts on the stack that exists for its
/// namespace/name, whoever made it, and says which one it found.
#[tokio::test]
async fn a_manifest_without_uid_finds_the_live_stack_by_its_tags() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("live{:x}", rand::random::<u16>());
    let file = write_manifest(&name, &vpc, &subnets, "nginx:1.27");
    let f = file.display().to_string();
    // The operator's stack: its uid is the Kubernetes object's, not the CLI's.
    let obj = privateapi::cli::load(&file).expect("manifest");
    let made_by_operator = privateapi::aws::Owner::new("cli", &name, format!("uid-{name}"));
    until_ready(&aws, &made_by_operator, &obj.spec, 5).await;

    let plan = privateapi(&["plan", "-f", &f]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the live stack is in sync: {}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    let said = String::from_utf8_lossy(&plan.stderr);
    assert!(
        said.contains(&format!("uid-{name}")) && said.contains("AWS tags"),
        "{said}"
    );

    let delete = privateapi(&["delete", "-f", &f, "-o", "json", "--poll-seconds", "1"]);
    assert_eq!(
        delete.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&delete.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&delete.stdout).expect("delete JSON");
    assert_eq!(
        (result["uid"].as_str(), result["done"].as_bool()),
        (Some(format!("uid-{name}").as_str()), Some(true))
    );
    assert_eq!(inventory(&aws, &made_by_operator).await, Inventory::default());
}

/// A manifest of PrivateApi `name` in namespace `cli` on this network, with `rest`
/// (YAML lines below `spec:`, after the network); returns its path.
fn traced_manifest(name: &str, vpc: &str, subnets: &[String], rest: &str) -> String {
    let path = std::env::temp_dir().join(format!("privateapi-cli-{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: cli}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n{rest}",
            subnets.join(", ")
        ),
    )
    .expect("write manifest");
    path.display().to_string()
}

/// The CLI at `RUST_LOG=trace` against the emulator, with `env` besides.
fn traced(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_privateapi"))
        .args(args)
        .envs(aws_env())
        .envs(env.iter().copied())
        .env("RUST_LOG", "trace")
        .output()
        .expect("run privateapi")
}

/// At `RUST_LOG=trace` the SDK would log the SigV4 `Authorization` header, the
/// session token and request bodies: a whole apply and delete, logs and output
/// together, must carry none of the credentials nor the environment's values.
#[tokio::test]
async fn trace_logs_carry_no_credentials_and_no_env_values() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("trace{:x}", rand::random::<u16>());
    let key_id = "AKIAPRIVATEAPITRACE7";
    let secret_key = "TraceSecretKey/MustNotBeLogged+0123456789";
    let session_token = "TraceSessionTokenMustNotBeLogged0123456789";
    let env_value = "TraceEnvValueMustNotBeLogged0123456789";
    let f = traced_manifest(
        &name,
        &vpc,
        &subnets,
        &format!("  service:\n    image: nginx:1.27\n    env: [{{name: DATABASE_PASSWORD, value: {env_value}}}]\n"),
    );
    let credentials = [
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret_key),
        ("AWS_SESSION_TOKEN", session_token),
    ];
    let run = |args: &[&str]| traced(args, &credentials);
    let mut log = String::new();
    for args in [
        &["apply", "-f", &f, "--poll-seconds", "1"][..],
        &["delete", "-f", &f, "--poll-seconds", "1"][..],
    ] {
        let out = run(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        log.push_str(&stdout);
        log.push_str(&stderr);
    }
    // The run did log at trace level, and did send the environment to AWS.
    assert!(log.lines().count() > 20 && log.contains("applied"), "{log}");
    assert!(log.contains("TaskDefinition"), "{log}");
    for (what, secret) in [
        ("access key ID", key_id),
        ("secret access key", secret_key),
        ("session token", session_token),
        ("environment value", env_value),
    ] {
        let line = log.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "the {what} is in the log: {}", line.unwrap_or_default());
    }
    assert_eq!(
        inventory(&aws, &privateapi::aws::Owner::offline("cli", &name)).await,
        Inventory::default()
    );
}

/// API keys' values are AWS's: a whole apply (at `RUST_LOG=trace`), its output and
/// the status it prints carry the keys' IDs and never their values.
#[tokio::test]
async fn api_key_values_never_reach_the_log_or_the_output() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("keys{:x}", rand::random::<u16>());
    let f = traced_manifest(
        &name,
        &vpc,
        &subnets,
        "  service: {image: nginx:1.27}\n  api:\n    usagePlan: {quota: {limit: 100, period: DAY}, apiKeys: [{name: partner-a}, {name: partner-b}]}\n",
    );
    let run = |args: &[&str]| traced(args, &[]);
    let out = run(&["apply", "-f", &f, "--poll-seconds", "1"]);
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{log}");
    let owner = privateapi::aws::Owner::offline("cli", &name);
    let keys = aws
        .apigw
        .get_api_keys()
        .include_values(true)
        .limit(500)
        .send()
        .await
        .expect("GetApiKeys");
    let values: Vec<(String, String)> = keys
        .items()
        .iter()
        .filter(|k| k.tags().and_then(|t| t.get("privateapi.io/uid")) == Some(&owner.uid))
        .map(|k| {
            (
                k.id().unwrap_or_default().to_owned(),
                k.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
    // The run did log at trace level and made the keys.
    assert!(log.lines().count() > 20 && log.contains("ApiKey"), "{log}");
    for (id, value) in &values {
        assert!(value.len() >= 20, "a generated value");
        let line = log.lines().find(|l| l.contains(value.as_str()));
        assert!(
            line.is_none(),
            "key {id}'s value is in the log: {}",
            line.unwrap_or_default()
        );
    }
    let out = run(&["delete", "-f", &f, "--poll-seconds", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}

/// `--no-role-creation`: a spec that leaves a role to the operator stalls with the
/// reason, and nothing of it is made in AWS; one that names both roles goes ahead.
#[tokio::test]
async fn without_role_creation_a_spec_must_name_its_roles() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("noroles{:x}", rand::random::<u16>());
    let file = write_manifest(&name, &vpc, &subnets, "nginx:1.27");
    let apply = privateapi(&[
        "--no-role-creation",
        "apply",
        "-f",
        &file.display().to_string(),
        "-o",
        "json",
    ]);
    assert_eq!(
        apply.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("status JSON");
    let stalled = status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(stalled["reason"], "RoleCreationDisabled", "{status}");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("executionRoleArn") && message.contains("taskRoleArn"),
        "{message}"
    );
    assert_eq!(
        inventory(&aws, &privateapi::aws::Owner::offline("cli", &name)).await,
        Inventory::default(),
        "an AWS object was made"
    );
}

#[test]
fn iam_policy_prints_the_policy_for_the_installers_choices() {
    let boundary = "arn:aws-cn:iam::123456789012:policy/tasks";
    let printed = privateapi(&[
        "iam-policy",
        "--partition",
        "aws-cn",
        "--role-permissions-boundary",
        boundary,
    ]);
    assert_eq!(
        printed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let policy: serde_json::Value = serde_json::from_slice(&printed.stdout).expect("policy JSON");
    let text = policy.to_string();
    assert!(text.contains(boundary) && !text.contains("\"arn:aws:"), "{text}");
    let no_roles = privateapi(&["iam-policy", "--no-role-creation"]);
    assert_eq!(no_roles.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&no_roles.stdout).contains("iam:CreateRole"));
    let wrong = privateapi(&["iam-policy", "--role-permissions-boundary", boundary]);
    assert_eq!(
        wrong.status.code(),
        Some(64),
        "a boundary of another partition is a usage error"
    );
}

#[test]
fn usage_errors_are_not_success_nor_changes_pending() {
    let mistyped = privateapi(&["plan", "--destory", "-f", "x.yaml"]);
    assert_eq!(
        mistyped.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&mistyped.stderr)
    );
    let missing = privateapi(&["apply"]);
    assert_eq!(missing.status.code(), Some(64));
    let help = privateapi(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let version = privateapi(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("privateapi "));
    for shell in ["bash", "zsh", "fish"] {
        let completions = privateapi(&["completions", shell]);
        assert_eq!(completions.status.code(), Some(0), "{shell}");
        assert!(
            String::from_utf8_lossy(&completions.stdout).contains("privateapi"),
            "{shell}"
        );
    }
}

/// A reader that stops early (`privateapi crd | head -1`) ends the output quietly:
/// no panic, no backtrace, exit 0.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    for args in [&["crd"][..], &["completions", "bash"], &["iam-policy"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_privateapi"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run privateapi");
        drop(child.stdout.take()); // the reader is gone before the first write
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `--policy FILE`: a manifest the namespace policy denies is Stalled (PolicyDenied)
/// naming the field, before any AWS call: the AWS endpoint here is a port nothing
/// listens on, which any call would have failed on. Allowed, it goes ahead.
#[tokio::test]
async fn a_manifest_outside_the_namespace_policy_makes_no_aws_call() {
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("policy{:x}", rand::random::<u16>());
    let file = write_manifest(&name, &vpc, &subnets, "nginx:1.27");
    let policy = std::env::temp_dir().join(format!("privateapi-policy-{}.yaml", rand::random::<u32>()));
    std::fs::write(
        &policy,
        "rules:\n- namespaces: [cli]\n  vpcs: [vpc-0allowed]\n  subnets: ['*']\n",
    )
    .expect("write policy");
    let nowhere: Vec<(&str, String)> = aws_env()
        .into_iter()
        .map(|(k, v)| match k {
            "AWS_ENDPOINT_URL" => (k, "http://127.0.0.1:9".to_owned()),
            _ => (k, v),
        })
        .chain([("AWS_MAX_ATTEMPTS", "1".to_owned())])
        .collect();
    let run = |args: &[&str], env: &[(&str, String)]| {
        Command::new(env!("CARGO_BIN_EXE_privateapi"))
            .args(args)
            .envs(env.iter().cloned())
            .output()
            .expect("run privateapi")
    };
    let (policy_arg, file_arg) = (policy.display().to_string(), file.display().to_string());
    let apply = run(
        &["--policy", &policy_arg, "apply", "-f", &file_arg, "-o", "json"],
        &nowhere,
    );
    let stderr = String::from_utf8_lossy(&apply.stderr);
    assert_eq!(apply.status.code(), Some(1), "{stderr}");
    let status: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("status JSON");
    let stalled = status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(stalled["reason"], "PolicyDenied", "{status}");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("spec.network.vpcId: {vpc} is not allowed in namespace cli"))
            && message.contains("allowed: vpc-0allowed"),
        "{message}"
    );
    assert!(!stderr.contains("127.0.0.1:9"), "an AWS call was tried:\n{stderr}");
    let plan = run(&["--policy", &policy_arg, "plan", "-f", &file_arg], &nowhere);
    assert_eq!(plan.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(
        stderr.contains("spec.network.vpcId") && stderr.contains("is not allowed"),
        "{stderr}"
    );

    // The VPC allowed: plan goes to AWS (the emulator) and lists the stack.
    std::fs::write(
        &policy,
        format!("rules:\n- namespaces: [cli]\n  vpcs: [{vpc}]\n  subnets: ['*']\n"),
    )
    .expect("write policy");
    let plan = privateapi(&["--policy", &policy_arg, "plan", "-f", &file_arg]);
    assert_eq!(plan.status.code(), Some(2), "{}", String::from_utf8_lossy(&plan.stderr));
    // A policy that cannot be read stops the CLI before it starts.
    std::fs::write(&policy, "rules:\n- namespaces: [cli]\n  vpc: [x]\n").expect("write policy");
    let bad = privateapi(&["--policy", &policy_arg, "plan", "-f", &file_arg]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown field `vpc`"));
    assert_eq!(
        inventory(&aws, &privateapi::aws::Owner::offline("cli", &name)).await,
        Inventory::default()
    );
    let _ = std::fs::remove_file(&policy);
}

/// The namespace policy's `authorizationTypes`: an open API (`NONE`, the default) where
/// the policy asks for authorization is Stalled (PolicyDenied) before any AWS call (the
/// AWS endpoint is a port nothing listens on); the same API with `type: IAM` passes
/// the policy and goes ahead to AWS.
#[tokio::test]
async fn an_unauthorized_api_where_the_policy_wants_authorization_makes_no_aws_call() {
    let name = format!("authz{:x}", rand::random::<u16>());
    let subnets = vec!["subnet-0a".to_owned(), "subnet-0b".to_owned()];
    let file = write_manifest(&name, "vpc-0a", &subnets, "nginx:1.27");
    let policy = std::env::temp_dir().join(format!("privateapi-policy-{}.yaml", rand::random::<u32>()));
    std::fs::write(
        &policy,
        "rules:\n- namespaces: [cli]\n  vpcs: ['*']\n  subnets: ['*']\n  authorizationTypes: [IAM, COGNITO, LAMBDA]\n",
    )
    .expect("write policy");
    let nowhere: Vec<(&str, String)> = aws_env()
        .into_iter()
        .map(|(k, v)| match k {
            "AWS_ENDPOINT_URL" => (k, "http://127.0.0.1:9".to_owned()),
            _ => (k, v),
        })
        .chain([("AWS_MAX_ATTEMPTS", "1".to_owned())])
        .collect();
    let run = |verb: &str, file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_privateapi"))
            .args(["--policy", &policy.display().to_string(), verb, "-f"])
            .arg(file)
            .args(["-o", "json"])
            .envs(nowhere.iter().cloned())
            .output()
            .expect("run privateapi")
    };
    let apply = run("apply", &file);
    let stderr = String::from_utf8_lossy(&apply.stderr);
    assert_eq!(apply.status.code(), Some(1), "{stderr}");
    let status: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("status JSON");
    let stalled = status["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(stalled["reason"], "PolicyDenied", "{status}");
    let message = stalled["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("spec.api.authorization.type: NONE is not allowed in namespace cli")
            && message.contains("allowed: COGNITO, IAM, LAMBDA"),
        "{message}"
    );
    assert!(!stderr.contains("127.0.0.1:9"), "an AWS call was tried:\n{stderr}");

    // Authorized: the policy lets it through, and `plan` goes to AWS (which is not
    // there: the call fails, which shows it was made).
    let text = std::fs::read_to_string(&file).expect("manifest");
    std::fs::write(&file, format!("{text}  api: {{authorization: {{type: IAM}}}}\n")).expect("write");
    let plan = run("plan", &file);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(
        !out.contains("PolicyDenied") && !out.contains("is not allowed"),
        "{out}"
    );
    assert!(
        out.contains("127.0.0.1:9") || out.to_lowercase().contains("connect"),
        "{out}"
    );
    let _ = std::fs::remove_file(&policy);
    let _ = std::fs::remove_file(&file);
}
