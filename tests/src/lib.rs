//! Shared helpers of the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod faults;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Is this a CI run (`CI=true`)? There, missing tools fail tests instead of skipping them.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `terraform` on PATH, or `None` after saying loudly why the test is skipped.
/// Under CI a missing terraform is a failure.
pub fn terraform() -> Option<PathBuf> {
    let ok = Command::new("terraform").arg("version").output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(PathBuf::from("terraform"));
    }
    assert!(!under_ci(), "terraform is not on PATH but CI=true: install Terraform (>= 1.10) before running the suite");
    eprintln!("\n*** SKIPPED: terraform is not on PATH; install Terraform >= 1.10 to run this test ***\n");
    None
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = workspace_root().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// The `driftwatch` binary that `cargo test --workspace` built next to this test binary
/// (`target/<profile>/driftwatch`; the CLI's own integration tests make cargo build it).
/// When it is missing or may be older than the sources (after `cargo test -p driftwatch-tests`
/// alone, say), `cargo build -p driftwatch` is run first — cargo decides what is stale — so a
/// stale binary is never tested.
pub fn driftwatch_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current test binary");
    // target/<profile>/deps/<test> → target/<profile>/driftwatch
    let bin = exe.parent().and_then(|deps| deps.parent()).map(|p| p.join("driftwatch")).expect("target dir");
    if !binary_is_fresh(&bin) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", "driftwatch", "--bin", "driftwatch"]).current_dir(workspace_root());
        if bin.parent().and_then(|p| p.file_name()).is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build -p driftwatch");
        assert!(status.success(), "cargo build -p driftwatch failed");
    }
    assert!(bin.is_file(), "{} is missing after cargo build", bin.display());
    bin
}

/// Is the binary newer than every source and manifest under `crates/` and `Cargo.lock`?
fn binary_is_fresh(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else { return false };
    let root = workspace_root();
    let mut newest = std::fs::metadata(root.join("Cargo.lock")).and_then(|m| m.modified()).ok();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "toml") {
                newest = newest.max(entry.metadata().and_then(|m| m.modified()).ok());
            }
        }
    }
    newest.is_none_or(|n| n <= built)
}

/// Where `moto_server` is: `$DRIFTWATCH_MOTO_SERVER`, else the repository's
/// `.venv/bin/moto_server` (what `.ci/test` installs), else `moto_server` on PATH.
/// Nothing is installed here.
pub fn find_moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DRIFTWATCH_MOTO_SERVER").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "DRIFTWATCH_MOTO_SERVER={} does not exist", p.display());
        return Some(p);
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
}

/// A moto server (a real implementation of the AWS wire protocols) on a free loopback port,
/// killed when dropped. Talk to it with dummy credentials and region [`Moto::REGION`].
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    log: PathBuf,
}

impl Moto {
    pub const REGION: &'static str = "us-east-1";
    pub const ACCESS_KEY: &'static str = "testing";
    pub const SECRET_KEY: &'static str = "testing";

    /// An SDK configuration for this server: its endpoint, the test region and dummy static
    /// credentials, nothing from the environment.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        use aws_config::{BehaviorVersion, Region};
        use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(Self::REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(Self::ACCESS_KEY, Self::SECRET_KEY, None, None, "moto")))
            .build()
    }

    /// Start moto server for test `name`. When `moto_server` cannot be found: under CI the
    /// test fails; elsewhere it prints a loud SKIPPED line and returns `None`.
    pub fn start(name: &str) -> Option<Moto> {
        let Some(exe) = find_moto_server() else {
            assert!(
                !under_ci(),
                "moto_server not found but CI=true: run `bash .ci/test` (it installs moto[server] into .venv) or set DRIFTWATCH_MOTO_SERVER"
            );
            eprintln!(
                "\n*** SKIPPED {name}: moto_server not found (set DRIFTWATCH_MOTO_SERVER, or run `bash .ci/test`, which installs it into .venv) ***\n"
            );
            return None;
        };
        let dir = scratch(&format!("moto-{name}"));
        let mut last_error = String::new();
        // A port picked by binding port 0 may be taken before moto binds it: try again then.
        for attempt in 0..3 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
                l.local_addr().expect("local addr").port()
            };
            let log = dir.join(format!("moto-{attempt}.log"));
            let out = std::fs::File::create(&log).expect("moto log");
            let err = out.try_clone().expect("moto log");
            let child = Command::new(&exe)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
            let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}"), log };
            match moto.wait_ready(port) {
                Ok(()) => return Some(moto),
                Err(e) => last_error = e,
            }
        }
        panic!("moto_server ({}) did not start: {last_error}", exe.display());
    }

    /// Wait until the server answers HTTP, or it exits, or 60 s pass.
    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        use std::io::{Read, Write};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}: {}", self.log_text()));
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut head = [0u8; 12];
                if s.write_all(b"GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok()
                    && s.read_exact(&mut head).is_ok()
                    && head.starts_with(b"HTTP/1.")
                {
                    return Ok(());
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!("no answer within 60 s: {}", self.log_text()))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default().chars().take(2000).collect()
    }

    /// A command whose AWS environment is exactly: this moto as the endpoint, dummy
    /// credentials, the region, no profile, no shared config files, no instance metadata.
    /// Every other `AWS_*` variable of the test process is removed.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Self::bare_aws_command(program);
        c.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY)
            .env("AWS_REGION", Self::REGION);
        c
    }

    /// A command with no AWS configuration at all: no credentials anywhere, no region, no
    /// instance metadata (what a newcomer's shell looks like).
    pub fn bare_aws_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        // Empty shared files rather than missing ones, which the SDK warns about.
        let empty = workspace_root().join("target/test-scratch/aws-empty");
        std::fs::create_dir_all(&empty).expect("scratch dir");
        for f in ["config", "credentials"] {
            std::fs::write(empty.join(f), "").expect("empty AWS file");
        }
        c.env("AWS_CONFIG_FILE", empty.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", empty.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        c
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound then released: the caller retries when it is taken meanwhile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind a loopback port").port()
}

/// Where `cargo-lambda` is: `$DRIFTWATCH_CARGO_LAMBDA`, else the repository's
/// `.venv/bin/cargo-lambda` (what `.ci/test` installs from PyPI), else `cargo-lambda` on PATH.
/// Nothing is installed here.
pub fn find_cargo_lambda() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DRIFTWATCH_CARGO_LAMBDA").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "DRIFTWATCH_CARGO_LAMBDA={} does not exist", p.display());
        return Some(p);
    }
    let venv = workspace_root().join(".venv/bin/cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("cargo-lambda"))
        .find(|p| p.is_file())
}

/// [`find_cargo_lambda`] for test `name`: when it is missing, under CI the test fails;
/// elsewhere this prints a loud SKIPPED line and returns `None`.
pub fn cargo_lambda_or_skip(name: &str) -> Option<PathBuf> {
    let found = find_cargo_lambda();
    if found.is_none() {
        assert!(
            !under_ci(),
            "cargo-lambda not found but CI=true: run `bash .ci/test` (it installs cargo-lambda into .venv) or set DRIFTWATCH_CARGO_LAMBDA"
        );
        eprintln!("\n*** SKIPPED {name}: cargo-lambda not found (set DRIFTWATCH_CARGO_LAMBDA, or run `bash .ci/test`, which installs it into .venv) ***\n");
    }
    found
}

/// What `cargo lambda invoke` answered.
#[derive(Debug)]
pub struct Invoked {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
    /// No answer within the limit (the invoke command was killed).
    pub timed_out: bool,
}

impl Invoked {
    /// The function's response as JSON (`--output-format json` prints it on stdout).
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "the invocation failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.stdout))
    }
}

/// `cargo lambda watch`: the Lambda runtime API emulator, which builds and starts the
/// workspace's functions (`cargo run --bin <function>`) on their first invocation and hands
/// them events through the real runtime API. Runs on a free loopback port; killed (with its
/// functions) when dropped.
///
/// The functions' environment is each function's `[package.metadata.lambda.env]` plus the
/// emulator's own environment, which the functions inherit. Metadata wins for the variables it
/// sets (an `--env-var` flag or an inherited variable does not override it), so the variables
/// given to [`start`](Self::start) must be ones the metadata leaves out (AWS endpoint and
/// credentials, the redaction salt, the policy). They are passed as the emulator's environment
/// rather than `--env-var` flags because flags split values on commas (a policy has some).
pub struct CargoLambdaWatch {
    child: std::process::Child,
    exe: PathBuf,
    /// The invoke port (`--invoke-port`).
    pub port: u16,
    log: PathBuf,
}

impl CargoLambdaWatch {
    /// Start `cargo lambda watch` for test `name` with these extra function variables. When
    /// `cargo-lambda` cannot be found: under CI the test fails; elsewhere it prints a loud
    /// SKIPPED line and returns `None`.
    pub fn start(name: &str, vars: &[(&str, &str)]) -> Option<CargoLambdaWatch> {
        Self::start_with(name, &[], vars)
    }

    /// [`start`](Self::start) with extra `cargo lambda watch` arguments (`--release`, …).
    pub fn start_with(name: &str, args: &[&str], vars: &[(&str, &str)]) -> Option<CargoLambdaWatch> {
        let exe = cargo_lambda_or_skip(name)?;
        let dir = scratch(&format!("watch-{name}"));
        let mut last_error = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log = dir.join(format!("watch-{attempt}.log"));
            let out = std::fs::File::create(&log).expect("watch log");
            let err = out.try_clone().expect("watch log");
            let mut cmd = Moto::bare_aws_command(&exe);
            cmd.args(["lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
                .args(args);
            cmd.envs(vars.iter().copied());
            // The functions are built by `cargo run` with the same cargo as this test.
            if let Some(cargo) = std::env::var_os("CARGO") {
                if let Some(bin) = PathBuf::from(cargo).parent() {
                    let path = std::env::var_os("PATH").unwrap_or_default();
                    let joined = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)));
                    if let Ok(joined) = joined {
                        cmd.env("PATH", joined);
                    }
                }
            }
            use std::os::unix::process::CommandExt;
            let child = cmd
                .env("NO_COLOR", "1")
                .current_dir(workspace_root())
                .stdin(std::process::Stdio::null())
                .stdout(out)
                .stderr(err)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {} lambda watch: {e}", exe.display()));
            let mut watch = CargoLambdaWatch { child, exe: exe.clone(), port, log };
            match watch.wait_listening() {
                Ok(()) => return Some(watch),
                Err(e) => last_error = e,
            }
        }
        panic!("cargo lambda watch did not start: {last_error}");
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}: {}", self.log_text()));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!("not listening within 60 s: {}", self.log_text()))
    }

    /// `cargo lambda invoke <function> --data-file <payload> --output-format json` against
    /// this emulator, given up after 5 minutes (the first invocation of a function builds and
    /// starts it). See [`invoke_within`](Self::invoke_within).
    pub fn invoke(&self, function: &str, payload: &Path) -> Invoked {
        self.invoke_within(function, payload, std::time::Duration::from_secs(300))
    }

    /// [`invoke`](Self::invoke), killed after `limit`: the emulator never answers an
    /// invocation whose function died during its cold start, so that case ends here, as a
    /// failure with `timed_out` set.
    pub fn invoke_within(&self, function: &str, payload: &Path, limit: std::time::Duration) -> Invoked {
        use std::io::Read;
        let started = std::time::Instant::now();
        let mut child = Moto::bare_aws_command(&self.exe)
            .args(["lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", &self.port.to_string()])
            .arg("--data-file")
            .arg(payload)
            .args(["--output-format", "json"])
            .env("NO_COLOR", "1")
            .current_dir(workspace_root())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {} lambda invoke: {e}", self.exe.display()));
        let mut pipes = (child.stdout.take(), child.stderr.take());
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = pipes.0.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(p) = pipes.1.as_mut() {
                let _ = p.read_to_string(&mut s);
            }
            s
        });
        let mut timed_out = false;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        Invoked {
            success: status.is_some_and(|s| s.success()),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
            elapsed: started.elapsed(),
            timed_out,
        }
    }

    /// Everything the emulator and the functions printed so far (the functions' JSON logs).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for CargoLambdaWatch {
    fn drop(&mut self) {
        // The emulator runs the functions (and cargo) as its children: end its whole process
        // group (it leads one: process_group(0) at spawn), then reap it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The AWS resources the functions use, created on a moto server under the names the
/// functions' `[package.metadata.lambda.env]` gives them (`functions/*/Cargo.toml`), so
/// that `cargo lambda watch` needs only the endpoint and credentials on top.
pub mod deployment {
    use super::{workspace_root, Moto};
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    use serde_json::Value;
    use std::collections::HashMap;
    use std::sync::Arc;

    pub const ENVIRONMENT: &str = "local";
    pub const REDACTION_SALT: &str = "driftwatch-local-watch-salt";
    pub const EVIDENCE_BUCKET: &str = "driftwatch-evidence";
    pub const EVIDENCE_PREFIX: &str = "evidence";
    pub const REPORTS_BUCKET: &str = "driftwatch-reports";
    pub const REPORTS_PREFIX: &str = "reports";
    pub const FINDINGS_TABLE: &str = "driftwatch-findings";
    pub const INDEX_TABLE: &str = "driftwatch-index";
    pub const EXCEPTIONS_TABLE: &str = "driftwatch-exceptions";
    pub const ALERTS_TOPIC: &str = "driftwatch-alerts";
    pub const NOTICES_TOPIC: &str = "driftwatch-notices";
    pub const SIGNING_KEY_SECRET: &str = "driftwatch/evidence-signing-key";
    /// Ed25519 seed of the evidence signing key stored in the secret (test key).
    pub const SIGNING_KEY_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    /// The Terraform backend of `events/` (state bucket and lock table).
    pub const STATE_BUCKET: &str = "stmarys-ehr-tfstate";
    pub const LOCK_TABLE: &str = "stmarys-terraform-locks";
    /// moto's account.
    pub const ACCOUNT: &str = "123456789012";
    /// The sample states indexed by [`Deployment::seed_index`], with the key each lives under in
    /// [`STATE_BUCKET`].
    pub const SAMPLE_STATES: [(&str, &str); 3] = [
        ("samples/states/network.tfstate", "prod/network.tfstate"),
        ("samples/states/data.tfstate", "prod/data.tfstate"),
        ("samples/states/app.tfstate", "prod/app.tfstate"),
    ];

    pub fn topic_arn(name: &str) -> String {
        format!("arn:aws:sns:{}:{ACCOUNT}:{name}", Moto::REGION)
    }

    /// The functions' variables for this deployment: what the functions' metadata sets, except the
    /// redaction salt ([`REDACTION_SALT`]), which is a secret in a real deployment and so is
    /// never in a manifest; `cargo lambda watch` is given it separately.
    pub fn function_vars() -> Vec<(&'static str, String)> {
        vec![
            ("DRIFTWATCH_ENVIRONMENT", ENVIRONMENT.to_string()),
            ("DRIFTWATCH_INDEX_TABLE", INDEX_TABLE.to_string()),
            ("DRIFTWATCH_FINDINGS_TABLE", FINDINGS_TABLE.to_string()),
            ("DRIFTWATCH_EXCEPTIONS_TABLE", EXCEPTIONS_TABLE.to_string()),
            ("DRIFTWATCH_EVIDENCE", format!("s3://{EVIDENCE_BUCKET}/{EVIDENCE_PREFIX}")),
            ("DRIFTWATCH_ALERTS_TOPIC_ARN", topic_arn(ALERTS_TOPIC)),
            ("DRIFTWATCH_NOTICES_TOPIC_ARN", topic_arn(NOTICES_TOPIC)),
            ("DRIFTWATCH_SIGNING_KEY_SECRET", SIGNING_KEY_SECRET.to_string()),
            ("DRIFTWATCH_REPORTS", format!("s3://{REPORTS_BUCKET}/{REPORTS_PREFIX}")),
            ("DRIFTWATCH_S3_PATH_STYLE", "path".to_string()),
        ]
    }

    /// Clients on one moto server and the queues subscribed to the two topics.
    pub struct Deployment {
        rt: Arc<tokio::runtime::Runtime>,
        pub s3: aws_sdk_s3::Client,
        pub dynamodb: aws_sdk_dynamodb::Client,
        pub sns: aws_sdk_sns::Client,
        pub sqs: aws_sdk_sqs::Client,
        /// An SQS queue subscribed to the alerts topic (raw delivery off: SNS envelopes).
        pub alerts_queue: String,
        /// An SQS queue subscribed to the notices topic.
        pub notices_queue: String,
        endpoint: String,
    }

    impl Deployment {
        /// Create everything: the evidence bucket (versioned, Object Lock), the reports
        /// bucket, the versioned state bucket, the findings, index, exceptions and lock
        /// tables, both topics each with a subscribed queue, and the signing-key secret.
        pub fn create(moto: &Moto) -> Deployment {
            let sdk = moto.sdk_config();
            let rt = Arc::new(driftwatch_aws::blocking_runtime().expect("tokio runtime"));
            let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
            let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
            let sns = aws_sdk_sns::Client::new(&sdk);
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let mut deployed = Deployment {
                rt,
                s3,
                dynamodb,
                sns,
                sqs,
                alerts_queue: String::new(),
                notices_queue: String::new(),
                endpoint: moto.endpoint.clone(),
            };
            deployed.block_on(async {
                deployed
                    .s3
                    .create_bucket()
                    .bucket(EVIDENCE_BUCKET)
                    .object_lock_enabled_for_bucket(true)
                    .send()
                    .await
                    .expect("evidence bucket");
                deployed.s3.create_bucket().bucket(REPORTS_BUCKET).send().await.expect("reports bucket");
                deployed.s3.create_bucket().bucket(STATE_BUCKET).send().await.expect("state bucket");
                let on = aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build();
                deployed
                    .s3
                    .put_bucket_versioning()
                    .bucket(STATE_BUCKET)
                    .versioning_configuration(on)
                    .send()
                    .await
                    .expect("state bucket versioning");
            });
            deployed.create_table(
                FINDINGS_TABLE,
                ("fingerprint", None),
                Some((driftwatch_aws::findings_table::STATUS_INDEX, "status", Some("last_seen"))),
            );
            deployed
                .block_on(
                    driftwatch_aws::index_table::define_table(
                        deployed.dynamodb.create_table().table_name(INDEX_TABLE).billing_mode(BillingMode::PayPerRequest),
                    )
                    .send(),
                )
                .expect("create the index table");
            deployed.create_table(EXCEPTIONS_TABLE, ("id", None), None);
            deployed.create_table(LOCK_TABLE, ("LockID", None), None);
            deployed.alerts_queue = deployed.topic_with_queue(ALERTS_TOPIC);
            deployed.notices_queue = deployed.topic_with_queue(NOTICES_TOPIC);
            deployed.create_secret(SIGNING_KEY_SECRET, SIGNING_KEY_HEX);
            deployed
        }

        pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
            self.rt.block_on(f)
        }

        /// A table with string keys `(hash, range)` and optionally one GSI
        /// `(name, hash, range)` projecting everything.
        pub fn create_table(&self, name: &str, key: (&str, Option<&str>), gsi: Option<(&str, &str, Option<&str>)>) {
            let attr =
                |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().expect("attr");
            let elem = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().expect("key");
            let mut names = vec![key.0];
            names.extend(key.1);
            let mut req = self
                .dynamodb
                .create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(elem(key.0, KeyType::Hash));
            if let Some(range) = key.1 {
                req = req.key_schema(elem(range, KeyType::Range));
            }
            if let Some((index, hash, range)) = gsi {
                let mut g = GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(elem(hash, KeyType::Hash))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build());
                names.push(hash);
                if let Some(range) = range {
                    g = g.key_schema(elem(range, KeyType::Range));
                    names.push(range);
                }
                req = req.global_secondary_indexes(g.build().expect("gsi"));
            }
            for n in names {
                req = req.attribute_definitions(attr(n));
            }
            self.block_on(req.send()).unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
        }

        /// A topic and an SQS queue subscribed to it; returns the queue URL.
        fn topic_with_queue(&self, topic: &str) -> String {
            self.block_on(async {
                let arn =
                    self.sns.create_topic().name(topic).send().await.expect("create topic").topic_arn().expect("topic arn").to_string();
                assert_eq!(arn, topic_arn(topic), "moto's topic ARN");
                let url = self
                    .sqs
                    .create_queue()
                    .queue_name(format!("{topic}-queue"))
                    .send()
                    .await
                    .expect("create queue")
                    .queue_url()
                    .expect("url")
                    .to_string();
                let attrs = self
                    .sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .expect("queue attributes");
                let queue_arn =
                    attrs.attributes().and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)).expect("queue arn").clone();
                self.sns.subscribe().topic_arn(&arn).protocol("sqs").endpoint(queue_arn).send().await.expect("subscribe");
                url
            })
        }

        /// A Secrets Manager secret, through moto's JSON protocol (the tests do not otherwise
        /// need the Secrets Manager SDK).
        pub fn create_secret(&self, name: &str, value: &str) {
            use std::io::{Read, Write};
            let body = serde_json::json!({"Name": name, "SecretString": value}).to_string();
            let host = self.endpoint.trim_start_matches("http://");
            let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
            let request = format!(
                "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: secretsmanager.CreateSecret\r\n\
                 Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/{}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                Moto::ACCESS_KEY,
                Moto::REGION,
                body.len()
            );
            s.write_all(request.as_bytes()).expect("send CreateSecret");
            let mut answer = String::new();
            s.read_to_string(&mut answer).expect("read CreateSecret answer");
            assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "CreateSecret: {answer}");
        }

        /// Index the sample states as the state watcher does (the core's entries, written by
        /// the DynamoDB index adapter), so the watchers' point lookups find them.
        pub fn seed_index(&self) -> usize {
            use driftwatch_core::state::{self, StateLocation};
            let catalog = driftwatch_core::Catalog::builtin();
            let redactor = driftwatch_core::Redactor::new(REDACTION_SALT.as_bytes());
            let table = driftwatch_aws::IndexTable::new(self.dynamodb.clone(), INDEX_TABLE, driftwatch_aws::TableOptions::default());
            let mut written = 0;
            for (path, key) in SAMPLE_STATES {
                let bytes = std::fs::read(workspace_root().join(path)).expect("sample state");
                let parsed =
                    state::parse_state(&bytes, StateLocation::s3(STATE_BUCKET, key), &catalog, &redactor).expect("parse sample state");
                let index = driftwatch_core::index::ManagedIndex::build([parsed], &catalog);
                let entries = index.entries().to_vec();
                let state = entries.first().map(|e| e.state.clone()).expect("entries");
                written += self.block_on(table.put_state_entries(&state, &entries, 0)).expect("put index entries");
            }
            written
        }

        /// Every item of a table (a paginated `Scan`), string and number attributes as JSON.
        pub fn items(&self, table: &str) -> Vec<Value> {
            self.block_on(async {
                let mut pages = self.dynamodb.scan().table_name(table).into_paginator().items().send();
                let mut out = Vec::new();
                while let Some(item) = pages.next().await {
                    out.push(item_json(&item.expect("scan page")));
                }
                out
            })
        }

        /// Keys of every object under `prefix` in `bucket`.
        pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
            self.block_on(async {
                let mut pages = self.s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
                let mut out = Vec::new();
                while let Some(page) = pages.next().await {
                    out.extend(page.expect("list page").contents().iter().filter_map(|o| o.key().map(str::to_string)));
                }
                out
            })
        }

        /// An object's bytes.
        pub fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
            self.block_on(async {
                let got =
                    self.s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("get s3://{bucket}/{key}: {e:?}"));
                got.body.collect().await.expect("object body").into_bytes().to_vec()
            })
        }

        /// Put an object; returns its version id (versioned buckets).
        pub fn put_object(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Option<String> {
            self.block_on(self.s3.put_object().bucket(bucket).key(key).body(bytes.into()).send())
                .expect("put object")
                .version_id()
                .map(str::to_string)
        }

        /// Receive and delete everything in a queue: each message's SNS envelope as JSON.
        pub fn drain(&self, queue_url: &str) -> Vec<Value> {
            self.block_on(async {
                let mut out = Vec::new();
                for _ in 0..5 {
                    let got = self
                        .sqs
                        .receive_message()
                        .queue_url(queue_url)
                        .max_number_of_messages(10)
                        .wait_time_seconds(1)
                        .send()
                        .await
                        .expect("receive");
                    let msgs = got.messages();
                    if msgs.is_empty() && !out.is_empty() {
                        break;
                    }
                    for m in msgs {
                        out.push(serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null));
                        if let Some(h) = m.receipt_handle() {
                            self.sqs.delete_message().queue_url(queue_url).receipt_handle(h).send().await.expect("delete message");
                        }
                    }
                }
                out
            })
        }
    }

    /// A DynamoDB item as JSON: S → string, N → number (or string), BOOL → bool, other → null.
    pub fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
        let map = item
            .iter()
            .map(|(k, v)| {
                let j = match v {
                    AttributeValue::S(s) => Value::String(s.clone()),
                    AttributeValue::N(n) => n.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(n.clone())),
                    AttributeValue::Bool(b) => Value::Bool(*b),
                    _ => Value::Null,
                };
                (k.clone(), j)
            })
            .collect();
        Value::Object(map)
    }
}
