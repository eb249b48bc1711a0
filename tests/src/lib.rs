//! Shared helpers of the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

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
