//! `privateapi`: the operator (`run`) and the same engine without Kubernetes
//! (`apply`, `plan`, `delete`), plus `crd` to print the CustomResourceDefinition.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use kube::CustomResourceExt;

use privateapi::aws::{AwsFactory, Pacer, RoleSettings};
use privateapi::cli;
use privateapi::controller::{self, Settings};
use privateapi::crd::PrivateApi;
use privateapi::iam_policy;
use privateapi::leader::{LeaderElection, LeaseConfig};
use privateapi::metrics::Metrics;
use privateapi::policy::NamespacePolicy;
use privateapi::telemetry::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "privateapi",
    version,
    about = "A private API on AWS from one Kubernetes resource"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format (logs go to stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PRIVATEAPI_LOG_FORMAT")]
    log_format: LogFormat,
    /// Pace API Gateway writes under the account quotas (`off` for emulators).
    #[arg(long, global = true, value_enum, default_value_t = Pacing::Quotas, env = "PRIVATEAPI_AWS_PACING")]
    aws_pacing: Pacing,
    /// The share of API Gateway's account quotas this process paces itself to (0 to 1):
    /// they are per account and region, so operators sharded by `--selector` over one
    /// account split them, e.g. 0.5 each for two.
    #[arg(long, global = true, default_value_t = 1.0, value_parser = rate_share, env = "PRIVATEAPI_AWS_RATE_SHARE")]
    aws_rate_share: f64,
    /// Abandon (and retry) one AWS HTTP attempt after this many seconds without an answer.
    #[arg(long, global = true, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600), env = "PRIVATEAPI_AWS_ATTEMPT_TIMEOUT_SECONDS")]
    aws_attempt_timeout_seconds: u64,
    /// ARN of the managed policy every IAM role the operator creates carries as its
    /// permissions boundary (the shipped IAM policy refuses roles without it).
    #[arg(long, global = true, env = "PRIVATEAPI_ROLE_PERMISSIONS_BOUNDARY")]
    role_permissions_boundary: Option<String>,
    /// Create no IAM roles: every PrivateApi must name its execution and task roles
    /// (others become Stalled, RoleCreationDisabled); pairs with iam-policy-no-roles.json.
    #[arg(long, global = true, env = "PRIVATEAPI_NO_ROLE_CREATION")]
    no_role_creation: bool,
    /// The installer's namespace policy (YAML): which VPCs, subnets, roles, clusters,
    /// VPC links and secrets each namespace may name (docs/namespace-policy.md).
    /// `run` reads it at start and refuses to start on a file it cannot read;
    /// `apply` and `plan` check the manifest against it before any AWS call.
    /// Without it every namespace may name anything.
    #[arg(long, global = true, env = "PRIVATEAPI_POLICY_FILE")]
    policy: Option<PathBuf>,
}

/// `--aws-rate-share`: a fraction above 0, at most 1.
fn rate_share(value: &str) -> Result<f64, String> {
    let share: f64 = value.parse().map_err(|e| format!("{e}"))?;
    match share > 0.0 && share <= 1.0 {
        true => Ok(share),
        false => Err(format!("{share} is not a share of the quotas: above 0, at most 1")),
    }
}

/// The exit code of a command line the CLI cannot take (sysexits' EX_USAGE).
const USAGE_ERROR: u8 = 64;

#[derive(Clone, Copy, ValueEnum)]
enum Pacing {
    Quotas,
    Off,
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum Output {
    #[default]
    Yaml,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (in-cluster, or with the current kubeconfig).
    Run {
        /// Only watch this namespace.
        #[arg(long, env = "PRIVATEAPI_NAMESPACE")]
        namespace: Option<String>,
        /// Only reconcile objects matching this label selector.
        #[arg(long, env = "PRIVATEAPI_SELECTOR")]
        selector: Option<String>,
        /// Seconds between checks of a Ready resource against AWS (drift checks: a
        /// shared region inventory and one per-resource read, taken in turn).
        #[arg(long, default_value_t = 300, env = "PRIVATEAPI_RESYNC_SECONDS")]
        resync_seconds: u64,
        /// Seconds between full passes over a Ready resource (every part read, leftovers
        /// swept); resyncs in between are drift checks. 0: every resync is a full pass.
        #[arg(long, default_value_t = 21600, env = "PRIVATEAPI_FULL_RESYNC_SECONDS")]
        full_resync_seconds: u64,
        /// AWS reads a resync may cost per Ready resource, on average. The region's
        /// lists are shared by every resource: with few resources they are re-read
        /// less often to stay within it. Raise it for quicker drift detection with few.
        #[arg(long, default_value_t = 2.0, env = "PRIVATEAPI_RESYNC_READS")]
        resync_reads: f64,
        /// Seconds between checks while AWS provisions (doubling after every six
        /// checks of the same wait, up to a minute).
        #[arg(long, default_value_t = 10, env = "PRIVATEAPI_POLL_SECONDS")]
        poll_seconds: u64,
        /// Reconciles at once: a burst of new resources up to this many is picked up at
        /// once (a pass mostly waits on AWS, whose quotas the pacer keeps to).
        #[arg(long, default_value_t = 128, env = "PRIVATEAPI_CONCURRENCY")]
        concurrency: u16,
        /// Address of /metrics, /healthz and /readyz ("off" to disable).
        #[arg(long, default_value = "0.0.0.0:8080", env = "PRIVATEAPI_METRICS_ADDR")]
        metrics_addr: String,
        /// Act only while holding a coordination.k8s.io Lease (for more than one replica).
        #[arg(long, env = "PRIVATEAPI_LEADER_ELECT")]
        leader_elect: bool,
        /// Namespace of the Lease.
        #[arg(long, default_value = "default", env = "POD_NAMESPACE")]
        lease_namespace: String,
        #[arg(long, default_value = "privateapi-operator", env = "PRIVATEAPI_LEASE_NAME")]
        lease_name: String,
    },
    /// Create or update the stack of one manifest until Ready; prints the status.
    Apply {
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Yaml)]
        output: Output,
        #[arg(long, default_value_t = 1200)]
        timeout_seconds: u64,
        /// The longest wait between passes (the first are a quarter of a second,
        /// doubling up to this).
        #[arg(long, default_value_t = 5)]
        poll_seconds: u64,
    },
    /// Show what apply (or, with --destroy, delete) would change; exit 0 in sync, 2
    /// changes pending, 1 error.
    Plan {
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        /// List every AWS object delete would remove.
        #[arg(long)]
        destroy: bool,
    },
    /// Delete everything the manifest's stack owns in AWS; exit 0 when none remains.
    Delete {
        #[arg(short = 'f', long)]
        file: PathBuf,
        /// Print the result (which stack, whether anything remains) as YAML or JSON.
        #[arg(short = 'o', long, value_enum)]
        output: Option<Output>,
        #[arg(long, default_value_t = 1800)]
        timeout_seconds: u64,
        /// The longest wait between passes (the first are a quarter of a second,
        /// doubling up to this).
        #[arg(long, default_value_t = 5)]
        poll_seconds: u64,
    },
    /// Print the CustomResourceDefinition (YAML).
    Crd,
    /// Print the operator's IAM policy for these choices (--role-permissions-boundary,
    /// --no-role-creation and the partition).
    IamPolicy {
        #[arg(long, value_enum, default_value_t = iam_policy::Partition::Aws)]
        partition: iam_policy::Partition,
    },
    /// Print a shell completion script, e.g. `privateapi completions bash > /etc/bash_completion.d/privateapi`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // A usage error is neither success (0) nor "changes pending" (2, `plan`).
    let args = match Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(USAGE_ERROR),
            };
        }
    };
    privateapi::install_crypto_provider();
    if let Command::Completions { shell } = args.command {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "privateapi", &mut script);
        emit(&script);
        return ExitCode::SUCCESS;
    }
    if let Command::Crd = args.command {
        return match serde_norway::to_string(&PrivateApi::crd()) {
            Ok(yaml) => {
                emit(yaml.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::IamPolicy { partition } = args.command {
        let choices = iam_policy::Choices {
            partition,
            boundary: args.role_permissions_boundary.clone(),
            no_role_creation: args.no_role_creation,
        };
        return match iam_policy::render(&choices) {
            Ok(policy) => {
                emit(policy.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(USAGE_ERROR)
            }
        };
    }
    telemetry::init(args.log_format);
    if args.role_permissions_boundary.is_none() && !args.no_role_creation {
        tracing::warn!(
            "no --role-permissions-boundary: roles are created without one, which the shipped IAM policy refuses"
        );
    }
    let pacer = match args.aws_pacing {
        // The controller never holds a worker long for a slot: it requeues instead.
        Pacing::Quotas if matches!(args.command, Command::Run { .. }) => Pacer::account_quotas()
            .with_share(args.aws_rate_share)
            .with_max_wait(Duration::from_secs(2)),
        Pacing::Quotas => Pacer::account_quotas().with_share(args.aws_rate_share),
        Pacing::Off => Pacer::off(),
    };
    let roles = RoleSettings {
        permissions_boundary: args.role_permissions_boundary,
        creation_disabled: args.no_role_creation,
    };
    let factory = Arc::new(
        AwsFactory::from_env(pacer, Duration::from_secs(args.aws_attempt_timeout_seconds))
            .await
            .with_role_settings(roles),
    );
    // Fail closed: a policy that cannot be read stops the operator (and the CLI)
    // rather than letting every namespace through.
    let policy = match args.policy.as_deref().map(NamespacePolicy::load).transpose() {
        Ok(policy) => policy.map(Arc::new),
        Err(e) => {
            eprintln!("error: --policy: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    match execute(args.command, factory, policy).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(
    command: Command,
    factory: Arc<AwsFactory>,
    policy: Option<Arc<NamespacePolicy>>,
) -> privateapi::Result<ExitCode> {
    match command {
        Command::Run {
            namespace,
            selector,
            resync_seconds,
            full_resync_seconds,
            resync_reads,
            poll_seconds,
            concurrency,
            metrics_addr,
            leader_elect,
            lease_namespace,
            lease_name,
        } => {
            let client = kube::Client::try_default().await?;
            let metrics = Arc::new(Metrics::new(factory.stats()));
            if metrics_addr != "off" {
                let server = metrics.clone();
                tokio::spawn(async move {
                    if let Err(e) = server.serve(&metrics_addr).await {
                        tracing::error!(error = %e, addr = metrics_addr, "metrics endpoint failed");
                    }
                });
            }
            let settings = Settings {
                namespace,
                selector,
                resync: Duration::from_secs(resync_seconds),
                full_resync: Duration::from_secs(full_resync_seconds),
                resync_reads,
                poll: Duration::from_secs(poll_seconds),
                concurrency,
                policy: policy.clone(),
            };
            if let Some(policy) = &policy {
                tracing::info!(
                    rules = policy.rules.len(),
                    "namespace policy loaded: namespaces no rule matches are denied"
                );
            }
            if !leader_elect {
                controller::run(client, factory, metrics, settings).await?;
                return Ok(ExitCode::SUCCESS);
            }
            let election = LeaderElection::new(
                client.clone(),
                LeaseConfig {
                    namespace: lease_namespace,
                    name: lease_name,
                    identity: identity(),
                    duration: Duration::from_secs(15),
                    renew_every: Duration::from_secs(5),
                },
            );
            // A standby is healthy and ready: it only waits.
            metrics.set_ready(true);
            tokio::select! {
                acquired = election.acquire() => acquired?,
                _ = shutdown_signal() => return Ok(ExitCode::SUCCESS),
            }
            tokio::select! {
                ran = controller::run(client, factory, metrics, settings) => {
                    election.release().await;
                    ran?;
                }
                _ = election.keep() => {
                    tracing::error!("leadership lost; exiting so that a restart rejoins as a standby");
                    return Ok(ExitCode::from(3));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply {
            file,
            output,
            timeout_seconds,
            poll_seconds,
        } => {
            let obj = cli::load(&file)?;
            let result = cli::apply(
                &factory,
                policy.as_deref(),
                &obj,
                Duration::from_secs(timeout_seconds),
                Duration::from_secs(poll_seconds),
            )
            .await?;
            print_value(&serde_json::json!({ "status": result.status }), output)?;
            Ok(if result.ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Plan { file, output, destroy } => {
            let obj = cli::load(&file)?;
            let changes = match destroy {
                true => cli::plan_destroy(&factory, &obj).await?,
                false => cli::plan(&factory, policy.as_deref(), &obj).await?,
            };
            match output {
                Some(format) => print_value(&serde_json::json!({ "changes": changes }), format)?,
                None if changes.is_empty() && destroy => emit(b"Nothing to delete: AWS holds nothing of this stack.\n"),
                None if changes.is_empty() => emit(b"No changes: AWS matches the spec.\n"),
                None => {
                    let mut text: String = changes.iter().map(|change| format!("{change}\n")).collect();
                    text.push_str(&format!("\n{} change(s) pending.\n", changes.len()));
                    emit(text.as_bytes());
                }
            }
            Ok(if changes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Command::Delete {
            file,
            output,
            timeout_seconds,
            poll_seconds,
        } => {
            let obj = cli::load(&file)?;
            let deleted = cli::delete(
                &factory,
                &obj,
                Duration::from_secs(timeout_seconds),
                Duration::from_secs(poll_seconds),
            )
            .await?;
            if let Some(format) = output {
                let result = serde_json::json!({
                    "namespace": deleted.owner.namespace,
                    "name": deleted.owner.name,
                    "uid": deleted.owner.uid,
                    "done": deleted.done,
                    "changes": deleted.changes,
                });
                print_value(&result, format)?;
            }
            Ok(if deleted.done {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Crd | Command::Completions { .. } | Command::IamPolicy { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// This replica's name in the Lease: the pod name, else host name + random suffix.
fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "privateapi".into())
        });
    format!("{base}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

fn print_value(value: &serde_json::Value, output: Output) -> privateapi::Result<()> {
    let text = match output {
        Output::Json => serde_json::to_string_pretty(value).map_err(|e| privateapi::Error::Input {
            path: "stdout".into(),
            message: e.to_string(),
        })?,
        Output::Yaml => serde_norway::to_string(value).map_err(|e| privateapi::Error::Input {
            path: "stdout".into(),
            message: e.to_string(),
        })?,
    };
    emit(format!("{}\n", text.trim_end()).as_bytes());
    Ok(())
}

/// Writes to stdout. A reader that went away (`| head`) ends the output quietly, as
/// for any Unix tool: `print!` would panic.
fn emit(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => eprintln!("error: writing to stdout: {e}"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::rate_share;

    #[test]
    fn a_rate_share_is_above_zero_and_at_most_one() {
        assert_eq!(rate_share("0.5"), Ok(0.5));
        assert_eq!(rate_share("1"), Ok(1.0));
        for refused in ["0", "-0.5", "1.5", "NaN", "half"] {
            assert!(rate_share(refused).is_err(), "{refused}");
        }
    }
}
