//! The operator image (`make image`, scripts/image.sh) run with buildah, as its
//! non-root user: `--version`, then `apply -f` of a manifest against the AWS
//! emulator from inside the image, with the JSON status on stdout.
//!
//! The image is built before `cargo test`, not here (a release build takes minutes):
//! `PRIVATEAPI_IMAGE` is the path of its OCI archive, the last line `make image`
//! prints. `make test` sets it; by hand:
//!
//! ```sh
//! export PRIVATEAPI_IMAGE="$(make -s image | tail -n1)"
//! cargo test --test image
//! ```
//!
//! Without it the test fails (skip it with `cargo test -- --skip operator_image`). It needs
//! buildah (scripts/image.sh installs it) and root (buildah's chroot isolation).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// The uid and gid the image runs as (scripts/image.sh, Dockerfile, the chart).
const NONROOT: &str = "65532";

fn image() -> PathBuf {
    let path = std::env::var_os("PRIVATEAPI_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "PRIVATEAPI_IMAGE is not set: build the image first and point it at the OCI archive, \
             export PRIVATEAPI_IMAGE=\"$(make -s image | tail -n1)\" (make test does this), \
             or skip this test with `cargo test -- --skip operator_image`"
            )
        });
    assert!(
        path.is_file(),
        "PRIVATEAPI_IMAGE={}: no such file (run make image)",
        path.display()
    );
    path
}

/// buildah with storage of its own (removed on drop): containers of the image.
struct Buildah {
    store: PathBuf,
    containers: Vec<String>,
}

impl Buildah {
    fn new() -> Self {
        let store = std::env::temp_dir().join(format!("privateapi-image-test-{:08x}", rand::random::<u32>()));
        Buildah {
            store,
            containers: Vec::new(),
        }
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.arg("--storage-driver")
            .arg("vfs")
            .arg("--root")
            .arg(self.store.join("root"))
            .arg("--runroot")
            .arg(self.store.join("run"));
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self
            .cmd()
            .args(args)
            .output()
            .expect("run buildah (scripts/image.sh installs it)");
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A working container of the OCI archive.
    fn from(&mut self, archive: &Path) -> String {
        let ctr = self.ok(&["from", "--quiet", &format!("oci-archive:{}", archive.display())]);
        self.containers.push(ctr.clone());
        ctr
    }

    /// Runs `args` in the container as the image's user, on the host's network (the
    /// emulator listens on 127.0.0.1), with `env` and `mounts` (host:container:ro).
    fn run(&self, ctr: &str, env: &[(&str, String)], mounts: &[String], args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(["run", "--isolation", "chroot", "--network", "host", "--user", NONROOT]);
        for (k, v) in env {
            cmd.arg("--env").arg(format!("{k}={v}"));
        }
        for m in mounts {
            cmd.arg("--volume").arg(m);
        }
        cmd.arg(ctr).arg("--").args(args);
        cmd.output().expect("buildah run")
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        for ctr in &self.containers {
            let _ = self.cmd().args(["rm", ctr]).output();
        }
        let _ = self.cmd().args(["rmi", "--all", "--force"]).output();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

#[tokio::test]
async fn operator_image_applies_a_manifest_as_nonroot() {
    let archive = image();
    let mut buildah = Buildah::new();
    let ctr = buildah.from(&archive);

    // What the Dockerfile and the chart rely on: the user, the entrypoint, the command.
    let config: serde_json::Value =
        serde_json::from_str(&buildah.ok(&["inspect", "--type", "container", &ctr])).expect("inspect JSON");
    let oci = &config["OCIv1"]["config"];
    assert_eq!(oci["User"], format!("{NONROOT}:{NONROOT}"), "{oci}");
    assert_eq!(oci["Entrypoint"], serde_json::json!(["/privateapi"]), "{oci}");
    assert_eq!(oci["Cmd"], serde_json::json!(["run"]), "{oci}");

    let version = buildah.run(&ctr, &[], &[], &["/privateapi", "--version"]);
    assert_eq!(
        version.status.code(),
        Some(0),
        "--version: {}",
        String::from_utf8_lossy(&version.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("privateapi {}", env!("CARGO_PKG_VERSION"))
    );

    // Not root: a file only root may read (root's, mode 0600) stays unread.
    let secret = std::env::temp_dir().join(format!("privateapi-image-secret-{:08x}", rand::random::<u32>()));
    std::fs::write(&secret, "kind: PrivateApi\n").expect("write");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let denied = buildah.run(
        &ctr,
        &aws_env(),
        &[format!("{}:/secret.yaml:ro", secret.display())],
        &["/privateapi", "plan", "-f", "/secret.yaml"],
    );
    let _ = std::fs::remove_file(&secret);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Permission denied"),
        "as uid {NONROOT}, a root-only file is unreadable: {}",
        String::from_utf8_lossy(&denied.stderr)
    );

    // A network made in the emulator, as tests/cli.rs does, and a manifest for it.
    let (_f, aws) = aws().await;
    let (vpc, subnets) = network(&aws).await;
    let name = format!("img{:x}", rand::random::<u16>());
    let manifest = std::env::temp_dir().join(format!("privateapi-image-{name}.yaml"));
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: privateapi.io/v1alpha1\nkind: PrivateApi\nmetadata: {{name: {name}, namespace: image}}\nspec:\n  network: {{vpcId: {vpc}, subnetIds: [{}]}}\n  service: {{image: 'nginx:1.27'}}\n",
            subnets.join(", ")
        ),
    )
    .expect("write manifest");
    let mount = format!("{}:/manifest.yaml:ro", manifest.display());

    let apply = buildah.run(
        &ctr,
        &aws_env(),
        std::slice::from_ref(&mount),
        &[
            "/privateapi",
            "apply",
            "-f",
            "/manifest.yaml",
            "-o",
            "json",
            "--poll-seconds",
            "1",
        ],
    );
    let stderr = String::from_utf8_lossy(&apply.stderr).into_owned();

    // Whatever happened, the stack goes: deleted with the host's binary.
    let delete = Command::new(env!("CARGO_BIN_EXE_privateapi"))
        .args(["delete", "-f", &manifest.display().to_string(), "--poll-seconds", "1"])
        .envs(aws_env())
        .output()
        .expect("run privateapi delete");
    let _ = std::fs::remove_file(&manifest);

    assert_eq!(apply.status.code(), Some(0), "apply in the image: {stderr}");
    let status: serde_json::Value = serde_json::from_slice(&apply.stdout).expect("JSON status on stdout");
    let endpoint = status["status"]["endpoint"].as_str().expect("endpoint");
    assert!(
        endpoint.starts_with("https://") && endpoint.ends_with(".execute-api.eu-west-1.amazonaws.com/prod"),
        "{endpoint}"
    );
    assert!(
        stderr.contains("+ VpcLink") && stderr.contains("ready"),
        "progress on stderr: {stderr}"
    );

    assert_eq!(
        delete.status.code(),
        Some(0),
        "delete: {}",
        String::from_utf8_lossy(&delete.stderr)
    );
    let owner = privateapi::aws::Owner::offline("image", &name);
    assert_eq!(inventory(&aws, &owner).await, Inventory::default());
}
