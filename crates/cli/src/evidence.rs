//! Evidence stores, and the `evidence` / `verify` commands.
//!
//! Every `--evidence` takes an [`EvidenceLocation`]: a directory, or `s3://bucket/prefix`.
//!
//! * [`LocalStore`] is the CLI's real implementation of the core's `EvidenceStore` port on
//!   the file system: a directory whose relative paths are the object keys. Write-once: a new
//!   file is created with `O_EXCL` and made read-only; an existing file with identical content
//!   is a no-op; different content is refused.
//! * `s3://…` opens `driftwatch_aws::BlockingS3EvidenceStore` (conditional writes, Object
//!   Lock, SSE-KMS) with the standard AWS configuration: the default credential chain, the
//!   region, `AWS_ENDPOINT_URL`; `DRIFTWATCH_EVIDENCE_RETENTION_DAYS`,
//!   `DRIFTWATCH_EVIDENCE_KMS_KEY` and `DRIFTWATCH_S3_PATH_STYLE` shape it.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use driftwatch_aws::{BlockingS3EvidenceStore, PathStyle, S3Location, StoreOptions};
use driftwatch_core::evidence::{self, DigestSigner, EvidenceError, EvidenceStore, Listed, PublicKey, PutOutcome, Record, Signer25519};
use driftwatch_core::Finding;
use serde_json::{json, Value};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where evidence lives: a local directory or an S3 bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceLocation {
    Dir(PathBuf),
    S3(S3Location),
}

impl FromStr for EvidenceLocation {
    type Err = String;

    /// `s3://bucket[/prefix]`, or else a directory path.
    fn from_str(s: &str) -> Result<Self, String> {
        if S3Location::is_s3_url(s) {
            S3Location::parse(s).map(EvidenceLocation::S3).map_err(|e| e.to_string())
        } else if s.is_empty() {
            Err("empty evidence location".into())
        } else {
            Ok(EvidenceLocation::Dir(PathBuf::from(s)))
        }
    }
}

impl fmt::Display for EvidenceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceLocation::Dir(d) => write!(f, "{}", d.display()),
            EvidenceLocation::S3(l) => write!(f, "{l}"),
        }
    }
}

/// Open the store at `loc` for reading and writing. A directory is created if missing; an
/// S3 location is checked (credentials, bucket) before anything else happens.
pub fn open_store(loc: &EvidenceLocation) -> Result<Box<dyn EvidenceStore>> {
    match loc {
        EvidenceLocation::Dir(d) => Ok(Box::new(LocalStore::open(d)?)),
        EvidenceLocation::S3(l) => {
            let options = StoreOptions::from_env()?;
            let store = BlockingS3EvidenceStore::connect(l.clone(), options, PathStyle::from_env()?)
                .with_context(|| format!("evidence store {l}"))?;
            Ok(Box::new(store))
        }
    }
}

/// A directory of evidence objects.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Open (and create) a store directory.
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("evidence directory {}", root.display()))?;
        Ok(LocalStore { root: root.to_path_buf() })
    }

    fn path(&self, key: &str) -> Result<PathBuf, EvidenceError> {
        if key.split('/').any(|p| p.is_empty() || p == "." || p == "..") || key.starts_with('/') {
            return Err(EvidenceError::Store(format!("invalid key {key:?}")));
        }
        Ok(self.root.join(key))
    }
}

fn io(key: &str, e: std::io::Error) -> EvidenceError {
    EvidenceError::Store(format!("{key}: {e}"))
}

impl EvidenceStore for LocalStore {
    fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(key, e))?;
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(key, e))?;
                let mut perms = f.metadata().map_err(|e| io(key, e))?.permissions();
                perms.set_readonly(true);
                std::fs::set_permissions(&path, perms).map_err(|e| io(key, e))?;
                Ok(PutOutcome::Created)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = std::fs::read(&path).map_err(|e| io(key, e))?;
                if existing == bytes {
                    Ok(PutOutcome::AlreadyPresent)
                } else {
                    Err(EvidenceError::Conflict { key: key.to_string() })
                }
            }
            Err(e) => Err(io(key, e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
        match std::fs::read(self.path(key)?) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out).map_err(|e| io(prefix, e))?;
        out.retain(|l| l.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let key = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            let last_modified = entry.metadata().ok().and_then(|m| m.modified().ok()).map(DateTime::<Utc>::from);
            out.push(Listed { key, last_modified });
        }
    }
    Ok(())
}

/// Read an Ed25519 signing key: `--key FILE`, else `DRIFTWATCH_SIGNING_KEY` (hex seed or PEM).
pub fn signing_key(file: Option<&Path>) -> Result<Signer25519> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("--key {}", f.display()))?,
        None => match std::env::var("DRIFTWATCH_SIGNING_KEY") {
            Ok(t) => t,
            Err(_) => bail!("no signing key: pass --key FILE or set DRIFTWATCH_SIGNING_KEY (create one with `driftwatch evidence keygen`)"),
        },
    };
    Signer25519::from_text(&text).with_context(|| match file {
        Some(f) => format!("--key {}", f.display()),
        None => "DRIFTWATCH_SIGNING_KEY".into(),
    })
}

/// A signer whose key lives in KMS, on a runtime of its own, with the standard AWS
/// configuration.
fn kms_signer(key: &str) -> Result<driftwatch_aws::BlockingKmsSigner> {
    let rt = std::sync::Arc::new(driftwatch_aws::blocking_runtime().context("starting the AWS client runtime")?);
    let sdk = rt.block_on(driftwatch_aws::load_sdk_config());
    let signer = rt
        .block_on(driftwatch_aws::KmsSigner::connect(driftwatch_aws::kms_client(&sdk), key))
        .with_context(|| format!("--kms-key {key}"))?;
    Ok(driftwatch_aws::BlockingKmsSigner::new(signer, rt))
}

/// `driftwatch evidence …`
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Seal every record written since the last digest into a new signed digest
    Seal(SealArgs),
    /// Create an Ed25519 signing key (FILE, mode 0600) and its public key (FILE.pub)
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub struct SealArgs {
    /// Evidence store: a directory, or s3://BUCKET/PREFIX
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    evidence: EvidenceLocation,
    /// Ed25519 signing key (64 hex characters or PKCS#8 PEM); default: $DRIFTWATCH_SIGNING_KEY
    #[arg(long, value_name = "FILE", conflicts_with = "kms_key")]
    key: Option<PathBuf>,
    /// Sign inside AWS KMS with this asymmetric key (id, ARN or alias; ECC_NIST_P256,
    /// SIGN_VERIFY: the deployment's key, `infra/`): the private key never leaves KMS. Needs
    /// kms:GetPublicKey and kms:Sign on it
    #[arg(long, value_name = "KEY")]
    kms_key: Option<String>,
    /// Seal records written up to this time (RFC 3339); default now
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
    /// Key prefix inside the store
    #[arg(long, default_value = "")]
    prefix: String,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to FILE.pub
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run_evidence(cmd: EvidenceCommand) -> Result<bool> {
    match cmd {
        EvidenceCommand::Seal(a) => {
            let signer: Box<dyn DigestSigner> = match &a.kms_key {
                Some(key) => Box::new(kms_signer(key)?),
                None => Box::new(signing_key(a.key.as_deref())?),
            };
            let mut store = open_store(&a.evidence)?;
            let sealed = evidence::seal(store.as_mut(), &a.prefix, signer.as_ref(), a.now.unwrap_or_else(Utc::now))
                .with_context(|| format!("sealing {}", a.evidence))?;
            for key in &sealed.refused {
                eprintln!("not sealed: {key}: its content's SHA-256 is not its name (overwritten, or inserted under a made-up name)");
            }
            for key in &sealed.inserted {
                eprintln!("not sealed: {key}: a digest already sealed its day (inserted into a sealed window)");
            }
            if !sealed.written {
                println!(
                    "nothing new to seal: the last digest {} (sequence {}) already ends {}",
                    sealed.key,
                    sealed.sequence,
                    sealed.window_end.to_rfc3339()
                );
                return Ok(false);
            }
            println!(
                "sealed {} record(s) into {} (sequence {}, window {} .. {}, key {})",
                sealed.records,
                sealed.key,
                sealed.sequence,
                sealed.window_start.to_rfc3339(),
                sealed.window_end.to_rfc3339(),
                signer.public().fingerprint()
            );
            Ok(false)
        }
        EvidenceCommand::Keygen(a) => {
            let mut seed = [0u8; 32];
            let mut f = std::fs::File::open("/dev/urandom").context("reading /dev/urandom")?;
            std::io::Read::read_exact(&mut f, &mut seed).context("reading /dev/urandom")?;
            let signer = Signer25519::from_seed(seed);
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            {
                use std::os::unix::fs::OpenOptionsExt;
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&a.out)
                    .with_context(|| format!("--out {} (refusing to overwrite an existing key)", a.out.display()))?;
                writeln!(out, "{hex}").with_context(|| a.out.display().to_string())?;
            }
            let pub_path = PathBuf::from(format!("{}.pub", a.out.display()));
            std::fs::write(&pub_path, format!("{}\n", signer.public().to_hex())).with_context(|| pub_path.display().to_string())?;
            println!(
                "private key: {} (keep it secret)\npublic key:  {}\nfingerprint: {}",
                a.out.display(),
                pub_path.display(),
                signer.fingerprint()
            );
            Ok(false)
        }
    }
}

/// `driftwatch verify`
#[derive(Debug, Args)]
#[command(
    after_help = "What an auditor runs:\n  driftwatch verify --evidence ./evidence --public-key driftwatch.pub --from 2026-01-01T00:00:00Z --to 2026-04-01T00:00:00Z\n\nExit status: 0 everything verified, 1 problems found, 2 error."
)]
pub struct VerifyArgs {
    /// Evidence store: a directory, or s3://BUCKET/PREFIX (read with the default AWS
    /// credential chain; needs s3:ListBucket, s3:ListBucketVersions and s3:GetObject only)
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    evidence: EvidenceLocation,
    /// Trusted public key: Ed25519 (hex or PEM), or the KMS signing key's (PEM, e.g.
    /// `terraform output -raw signing_public_key_pem`, or the hex of `aws kms get-public-key`'s
    /// DER). Without it, the key recorded in the digests is used and its fingerprint printed, to
    /// be compared out of band.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// Check digests whose window ends at or after this time (RFC 3339)
    #[arg(long, value_name = "TIME")]
    from: Option<DateTime<Utc>>,
    /// Check digests whose window starts at or before this time; the chain must reach it
    #[arg(long, value_name = "TIME")]
    to: Option<DateTime<Utc>>,
    /// Key prefix inside the store
    #[arg(long, default_value = "")]
    prefix: String,
    /// Output: text for people, json for machines
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    format: VerifyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    Text,
    Json,
}

/// Run `verify`; `Ok(true)` when problems were found.
pub fn run_verify(a: VerifyArgs) -> Result<bool> {
    if let EvidenceLocation::Dir(d) = &a.evidence {
        if !d.is_dir() {
            bail!("{}: not an evidence directory", d.display());
        }
    }
    let key = match &a.public_key {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("--public-key {}", f.display()))?;
            Some(PublicKey::from_text(&text).with_context(|| format!("--public-key {}", f.display()))?)
        }
        None => None,
    };
    let store = open_store(&a.evidence)?;
    let report = evidence::verify(store.as_ref(), &a.prefix, key.as_ref(), a.from, a.to).with_context(|| a.evidence.to_string())?;
    match a.format {
        VerifyFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        VerifyFormat::Text => {
            for p in &report.problems {
                println!("FAIL  {p}");
            }
            let range = match (report.window_start, report.window_end) {
                (Some(s), Some(e)) => format!("{} .. {}", s.to_rfc3339(), e.to_rfc3339()),
                _ => "nothing (no digest)".into(),
            };
            println!(
                "{}: {} digest(s), {} record(s) verified, {} pending (written after the last seal), {} problem(s); proven: {range}; key {}{}",
                if report.ok() { "OK" } else { "FAILED" },
                report.digests,
                report.records_verified,
                report.records_pending,
                report.problems.len(),
                report.key_fingerprint.as_deref().unwrap_or("(none)"),
                if report.key_from_digests { " (taken from the digests: pass --public-key to pin it)" } else { "" }
            );
        }
    }
    Ok(!report.ok())
}

/// An input of a run (a state file, a live document, an event file), as evidence: where it came
/// from and the SHA-256 of its bytes — never its content, which may hold secrets.
#[derive(Debug, Clone)]
pub struct InputEvidence {
    pub kind: &'static str,
    pub source: String,
    pub sha256: String,
    pub bytes: u64,
    pub details: Value,
}

impl InputEvidence {
    pub fn new(kind: &'static str, source: &Path, bytes: &[u8], details: Value) -> Self {
        InputEvidence {
            kind,
            source: source.display().to_string(),
            sha256: evidence::sha256_hex(bytes),
            bytes: bytes.len() as u64,
            details,
        }
    }
}

/// What a run wrote to the evidence store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub created: usize,
    pub already_present: usize,
}

/// Record a run's inputs and findings in the evidence store at `loc`. Each finding gets
/// the keys of the input records behind it in `evidence` (`inputs_of` picks them), then is
/// written as a `finding` record. `at` is the run's evaluation time (records' `time`),
/// `written` the wall clock (the key's day). Same run twice: same keys, nothing new written.
/// Record what a scan compared and did not (a `coverage` record; the report shows the latest).
pub fn record_coverage(
    loc: &EvidenceLocation,
    coverage: &driftwatch_core::drift::Coverage,
    at: DateTime<Utc>,
    written: DateTime<Utc>,
) -> Result<PutOutcome> {
    let mut store = open_store(loc)?;
    let body = serde_json::to_value(coverage).context("serialising the coverage")?;
    let r = Record { kind: "coverage".into(), time: at, body };
    let (_, o) = evidence::write_record(store.as_mut(), "", &r, written).with_context(|| loc.to_string())?;
    Ok(o)
}

pub fn record_run(
    loc: &EvidenceLocation,
    inputs: &[InputEvidence],
    findings: &mut [Finding],
    inputs_of: impl Fn(&Finding, &InputEvidence) -> bool,
    at: DateTime<Utc>,
    written: DateTime<Utc>,
) -> Result<Written> {
    let mut store = open_store(loc)?;
    let mut out = Written::default();
    let mut count = |o: PutOutcome| match o {
        PutOutcome::Created => out.created += 1,
        PutOutcome::AlreadyPresent => out.already_present += 1,
    };
    let mut input_keys = Vec::with_capacity(inputs.len());
    for i in inputs {
        let r = Record {
            kind: "input".into(),
            time: at,
            body: json!({"kind": i.kind, "source": i.source, "sha256": i.sha256, "bytes": i.bytes, "details": i.details}),
        };
        let (key, o) = evidence::write_record(store.as_mut(), "", &r, written).with_context(|| loc.to_string())?;
        count(o);
        input_keys.push(key);
    }
    for f in findings.iter_mut() {
        for (i, key) in inputs.iter().zip(&input_keys) {
            if inputs_of(f, i) && !f.evidence.contains(key) {
                f.evidence.push(key.clone());
            }
        }
        let body = serde_json::to_value(&*f).context("serialising a finding")?;
        let r = Record { kind: "finding".into(), time: f.last_seen, body };
        let (_, o) = evidence::write_record(store.as_mut(), "", &r, written).with_context(|| loc.to_string())?;
        count(o);
    }
    Ok(out)
}
