//! The evidence bucket: the S3 implementation of the core's write-once `EvidenceStore` port.
//!
//! A store is a bucket and a root prefix (`s3://bucket/prefix`). Object keys are the port's
//! keys under that root, so digests record keys relative to the root, exactly as for a local
//! directory: a store copied to another bucket or prefix still verifies.
//!
//! * **Write-once.** [`S3EvidenceStore::put_new`] is a conditional `PutObject` with
//!   `If-None-Match: *`. S3 answers `412 PreconditionFailed` when the key exists; the store
//!   then reads the object and reports [`PutOutcome::AlreadyPresent`] when the bytes are the
//!   same (the key is the content hash, so that is the normal case of a replay), or refuses
//!   with a conflict. `409 ConditionalRequestConflict` (a concurrent write of the same key in
//!   flight) is retried.
//!   A digest's key is its sequence number, so this is also what keeps two sealers from
//!   forking the chain: the loser's `412` becomes [`EvidenceError::Conflict`] (distinct from
//!   any other failure), on which the core's `seal` re-reads the chain and seals on top.
//! * **Versions.** [`S3EvidenceStore::versions`] lists every object version under a prefix
//!   (`ListObjectVersions`), for the verifier: a digest key with a second version was
//!   overwritten. Only the CLI's `verify` calls it ([`S3EvidenceStore::VERSIONS`]).
//! * **Object Lock.** With [`StoreOptions::retention_days`], every new object carries
//!   `x-amz-object-lock-mode: COMPLIANCE` and a retain-until date that many days ahead, so
//!   nobody, root included, can delete that version or shorten its retention. Without it the
//!   bucket's default retention applies (the way `infra/` configures the evidence bucket).
//! * **Encryption.** With [`StoreOptions::kms_key_id`], objects are written with SSE-KMS
//!   under that key (and an S3 Bucket Key, to keep KMS calls down).
//!
//! Sync and async: [`S3EvidenceStore`] is async, for the Lambdas, which already run inside a
//! tokio runtime. The core's `seal` and `verify` are synchronous, so
//! [`BlockingS3EvidenceStore`] wraps the async store together with its own tokio runtime and
//! implements the `EvidenceStore` port by `block_on`. It is for synchronous programs (the
//! CLI): calling it from inside an async context panics, as `Runtime::block_on` does; async
//! code uses [`S3EvidenceStore`] directly.

use crate::iam::Action;
use crate::sdk::{self, EnvVarError, PathStyle};
use crate::sdk_error::{describe, one_line, status};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime as SdkDateTime};
use aws_sdk_s3::types::{ObjectLockMode, ServerSideEncryption};
use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use driftwatch_core::evidence::{EvidenceError, EvidenceStore, Listed, ObjectVersion, PutOutcome};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Object Lock retention of new evidence objects, in days (COMPLIANCE mode).
pub const RETENTION_DAYS_ENV: &str = "DRIFTWATCH_EVIDENCE_RETENTION_DAYS";
/// KMS key (id, ARN or alias) to encrypt new evidence objects with (SSE-KMS).
pub const KMS_KEY_ENV: &str = "DRIFTWATCH_EVIDENCE_KMS_KEY";

/// How many times a conditional write is tried while S3 reports a concurrent write of the
/// same key (`409 ConditionalRequestConflict`).
const CONFLICT_ATTEMPTS: u32 = 5;

/// Errors of the S3 evidence store. Each is one line that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum S3StoreError {
    #[error("{url:?} is not an S3 evidence location: {reason} (expected s3://bucket[/prefix])")]
    BadUrl { url: String, reason: &'static str },
    #[error(transparent)]
    Config(#[from] EnvVarError),
    #[error("no AWS credentials: the default chain (environment, shared config and credentials files, SSO, web identity, ECS, EC2 instance role) found none: {0}")]
    NoCredentials(String),
    #[error("no AWS region: set AWS_REGION or a region in the AWS profile")]
    NoRegion,
    #[error("S3 bucket {bucket:?} does not exist")]
    NoSuchBucket { bucket: String },
    #[error("S3 bucket {bucket:?} is in region {actual}, not {configured}: set AWS_REGION={actual}")]
    WrongRegion { bucket: String, actual: String, configured: String },
    #[error("access denied: S3 {op} on {target}: {message}")]
    AccessDenied { op: &'static str, target: String, message: String },
    #[error("S3 {op} on {target}: {message}")]
    Request { op: &'static str, target: String, message: String },
    #[error("refusing to overwrite evidence object {target}: it exists with different content")]
    Conflict { key: String, target: String },
    #[error("tokio runtime: {0}")]
    Runtime(String),
}

impl From<S3StoreError> for EvidenceError {
    fn from(e: S3StoreError) -> Self {
        match e {
            S3StoreError::Conflict { target, .. } => EvidenceError::Conflict { key: target },
            other => EvidenceError::Store(other.to_string()),
        }
    }
}

/// Where a store lives: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The root prefix: empty, or ending in `/`.
    pub prefix: String,
}

impl S3Location {
    /// Is this string meant as an S3 location (as opposed to a directory)?
    pub fn is_s3_url(s: &str) -> bool {
        s.starts_with("s3://")
    }

    /// Parse `s3://bucket[/prefix]`.
    pub fn parse(url: &str) -> Result<Self, S3StoreError> {
        let bad = |reason| S3StoreError::BadUrl { url: url.to_string(), reason };
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad("it does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.as_bytes()[0].is_ascii_alphanumeric()
            && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
        if !valid_bucket {
            return Err(bad("the bucket name must be 3 to 63 lower-case letters, digits, '.' or '-'"));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(bad("the prefix must not contain empty, '.' or '..' segments"));
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(S3Location { bucket: bucket.to_string(), prefix })
    }

    /// The object key of a store key.
    pub fn object_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `s3://bucket/<object key>` of a store key, for messages.
    pub fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.object_key(key))
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// How new evidence objects are written, and how listings are paged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Object Lock COMPLIANCE retention of each new object, in days from the write. `None`:
    /// no retention headers, the bucket's default retention applies.
    pub retention_days: Option<u32>,
    /// SSE-KMS key (id, ARN or alias) of each new object. `None`: the bucket's default
    /// encryption applies.
    pub kms_key_id: Option<String>,
    /// `MaxKeys` of each `ListObjectsV2` page; `None`: S3's default (1,000). Every page is
    /// read either way.
    pub list_page_size: Option<i32>,
}

impl StoreOptions {
    /// From variables ([`RETENTION_DAYS_ENV`], [`KMS_KEY_ENV`]); `get` looks one up.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, EnvVarError> {
        let retention_days = match get(RETENTION_DAYS_ENV).filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(d) if (1..=36_500).contains(&d) => Some(d),
                _ => {
                    return Err(EnvVarError::BadVar {
                        var: RETENTION_DAYS_ENV,
                        value: v,
                        expected: "expected a whole number of days from 1 to 36500",
                    })
                }
            },
        };
        let kms_key_id = get(KMS_KEY_ENV).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Ok(StoreOptions { retention_days, kms_key_id, list_page_size: None })
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self, EnvVarError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }
}

/// The async S3 evidence store. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct S3EvidenceStore {
    client: Client,
    location: S3Location,
    options: StoreOptions,
}

impl S3EvidenceStore {
    /// [`put_new`](Self::put_new): a write-once `PutObject` with Object Lock retention (which
    /// needs `s3:PutObjectRetention`), reading the existing object back on a conflict.
    pub const WRITE: &'static [Action] = &[
        Action::new("s3:PutObject", "put_object"),
        Action::new("s3:PutObjectRetention", "put_object"),
        Action::new("s3:GetObject", "get_object"),
    ];
    /// [`get`](Self::get), [`list`](Self::list), [`prefixes`](Self::prefixes).
    pub const READ: &'static [Action] = &[Action::new("s3:GetObject", "get_object"), Action::new("s3:ListBucket", "list_objects_v2")];
    /// [`versions`](Self::versions): `ListObjectVersions` needs `s3:ListBucketVersions`. The
    /// verifier's (the CLI's `verify`); no function calls it.
    pub const VERSIONS: &'static [Action] = &[Action::new("s3:ListBucketVersions", "list_object_versions")];
    /// [`check`](Self::check): `HeadBucket` needs `s3:ListBucket`.
    pub const CHECK: &'static [Action] = &[Action::new("s3:ListBucket", "head_bucket")];

    /// A store over an existing client (the Lambdas build theirs at cold start).
    pub fn new(client: Client, location: S3Location, options: StoreOptions) -> Self {
        S3EvidenceStore { client, location, options }
    }

    /// Load the standard AWS configuration, build the client and [`check`](Self::check)
    /// that credentials and the bucket are there.
    pub async fn connect(location: S3Location, options: StoreOptions, path_style: PathStyle) -> Result<Self, S3StoreError> {
        let sdk = sdk::load_sdk_config().await;
        if sdk.region().is_none() {
            return Err(S3StoreError::NoRegion);
        }
        match sdk.credentials_provider() {
            None => return Err(S3StoreError::NoCredentials("no credentials provider configured".into())),
            Some(p) => {
                use aws_sdk_s3::config::ProvideCredentials;
                p.provide_credentials().await.map_err(|e| S3StoreError::NoCredentials(one_line(&e)))?;
            }
        }
        let store = S3EvidenceStore::new(sdk::s3_client(&sdk, path_style), location, options);
        store.check().await?;
        Ok(store)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// `HeadBucket`: the bucket exists, is in the configured region and these credentials
    /// may list it. Turns the usual set-up mistakes into one clear line.
    pub async fn check(&self) -> Result<(), S3StoreError> {
        let bucket = &self.location.bucket;
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let actual = e.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_string);
                let configured = self.client.config().region().map(|r| r.to_string()).unwrap_or_default();
                match (status(&e), actual) {
                    (Some(404), _) => Err(S3StoreError::NoSuchBucket { bucket: bucket.clone() }),
                    (Some(301), Some(actual)) if actual != configured => {
                        Err(S3StoreError::WrongRegion { bucket: bucket.clone(), actual, configured })
                    }
                    (Some(403), _) => Err(S3StoreError::AccessDenied {
                        op: "HeadBucket",
                        target: format!("s3://{bucket}"),
                        message: "these credentials may not list the bucket (s3:ListBucket)".into(),
                    }),
                    _ => Err(S3StoreError::Request { op: "HeadBucket", target: format!("s3://{bucket}"), message: describe(&e) }),
                }
            }
        }
    }

    fn failed<E>(&self, op: &'static str, key: &str, e: &SdkError<E>) -> S3StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let target = self.location.url_of(key);
        match (e.code(), status(e)) {
            (Some("NoSuchBucket"), _) => S3StoreError::NoSuchBucket { bucket: self.location.bucket.clone() },
            (Some("AccessDenied"), _) | (_, Some(403)) => S3StoreError::AccessDenied { op, target, message: describe(e) },
            _ => S3StoreError::Request { op, target, message: describe(e) },
        }
    }

    /// Write `bytes` under `key` unless the key exists (`If-None-Match: *`). Identical
    /// content already there → `AlreadyPresent`; different content → `Conflict`.
    pub async fn put_new(&self, key: &str, bytes: &[u8]) -> Result<PutOutcome, S3StoreError> {
        let object_key = self.location.object_key(key);
        for attempt in 1..=CONFLICT_ATTEMPTS {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.location.bucket)
                .key(&object_key)
                .if_none_match("*")
                .content_type("application/json")
                .body(ByteStream::from(bytes.to_vec()));
            if let Some(days) = self.options.retention_days {
                let until = SystemTime::now() + Duration::from_secs(u64::from(days) * 86_400);
                req = req.object_lock_mode(ObjectLockMode::Compliance).object_lock_retain_until_date(SdkDateTime::from(until));
            }
            if let Some(kms) = &self.options.kms_key_id {
                req = req.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms).bucket_key_enabled(true);
            }
            let e = match req.send().await {
                Ok(_) => return Ok(PutOutcome::Created),
                Err(e) => e,
            };
            match (status(&e), e.code()) {
                (Some(412), _) | (_, Some("PreconditionFailed")) => match self.get(key).await? {
                    Some(existing) if existing == bytes => return Ok(PutOutcome::AlreadyPresent),
                    Some(_) => return Err(S3StoreError::Conflict { key: key.to_string(), target: self.location.url_of(key) }),
                    // Deleted between the two calls (a delete marker is "absent"): write again.
                    None => continue,
                },
                (Some(409), _) | (_, Some("ConditionalRequestConflict")) if attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(key = %object_key, attempt, "concurrent conditional write; retrying");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                _ => return Err(self.failed("PutObject", key, &e)),
            }
        }
        Err(S3StoreError::Request {
            op: "PutObject",
            target: self.location.url_of(key),
            message: format!("conditional write did not settle after {CONFLICT_ATTEMPTS} attempts"),
        })
    }

    /// Read the current version of `key`; `None` when there is none (absent, or a delete
    /// marker).
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, S3StoreError> {
        let out = self.client.get_object().bucket(&self.location.bucket).key(self.location.object_key(key)).send().await;
        match out {
            Ok(o) => {
                let body = o.body.collect().await.map_err(|e| S3StoreError::Request {
                    op: "GetObject",
                    target: self.location.url_of(key),
                    message: format!("reading the body: {}", one_line(&e)),
                })?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(self.failed("GetObject", key, &e)),
        }
    }

    /// Every key under `prefix` (relative to the store's root), in lexicographic order, with
    /// its last-modified time. Reads every `ListObjectsV2` page.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, S3StoreError> {
        let mut out = Vec::new();
        self.list_pages(prefix, None, |page| {
            for o in page.contents() {
                let Some(key) = o.key().and_then(|k| k.strip_prefix(&self.location.prefix)) else { continue };
                let last_modified = o.last_modified().and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
                out.push(Listed { key: key.to_string(), last_modified });
            }
        })
        .await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The "directories" right under `prefix` (relative to the store's root, ending in `/`):
    /// the common prefixes of a `ListObjectsV2` with delimiter `/`, every page, in order.
    pub async fn prefixes(&self, prefix: &str) -> Result<Vec<String>, S3StoreError> {
        let mut out = Vec::new();
        self.list_pages(prefix, Some("/"), |page| {
            out.extend(page.common_prefixes().iter().filter_map(|p| p.prefix()?.strip_prefix(&self.location.prefix).map(str::to_string)));
        })
        .await?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Every `ListObjectsV2` page under `prefix` (relative to the store's root), with
    /// `delimiter` if given, each handed to `visit` in turn.
    async fn list_pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        mut visit: impl FnMut(&aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output),
    ) -> Result<(), S3StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(self.location.object_key(prefix))
            .set_delimiter(delimiter.map(str::to_string))
            .set_max_keys(self.options.list_page_size)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            visit(&page.map_err(|e| self.failed("ListObjectsV2", prefix, &e))?);
        }
        Ok(())
    }

    /// Every version and delete marker of every object under `prefix` (relative to the
    /// store's root): `ListObjectVersions`, every page.
    pub async fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, S3StoreError> {
        let time = |t: Option<&SdkDateTime>| t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
        let mut out = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.location.bucket)
                .prefix(self.location.object_key(prefix))
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .set_max_keys(self.options.list_page_size)
                .send()
                .await
                .map_err(|e| self.failed("ListObjectVersions", prefix, &e))?;
            let mut relative = |key: Option<&str>, version_id: Option<&str>, delete_marker: bool, at: Option<&SdkDateTime>| {
                if let Some(key) = key.and_then(|k| k.strip_prefix(&self.location.prefix)) {
                    out.push(ObjectVersion {
                        key: key.to_string(),
                        version_id: version_id.map(str::to_string),
                        delete_marker,
                        last_modified: time(at),
                    });
                }
            };
            for v in page.versions() {
                relative(v.key(), v.version_id(), false, v.last_modified());
            }
            for m in page.delete_markers() {
                relative(m.key(), m.version_id(), true, m.last_modified());
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// The synchronous `EvidenceStore` port over [`S3EvidenceStore`]: each call is
/// `block_on` on a tokio runtime the store holds (by default a current-thread runtime with IO
/// and timers, see [`blocking_runtime`]). For synchronous programs only: calling it from
/// async code panics.
///
/// The runtime is shared (`Arc`) so that several stores, and other calls on the same client,
/// run on the one runtime the client's connections live on: a pooled connection is driven by
/// the runtime that opened it, so a client must not hop between current-thread runtimes.
#[derive(Debug, Clone)]
pub struct BlockingS3EvidenceStore {
    store: S3EvidenceStore,
    runtime: Arc<tokio::runtime::Runtime>,
}

/// A runtime for [`BlockingS3EvidenceStore`]: one thread, IO and timers.
pub fn blocking_runtime() -> Result<tokio::runtime::Runtime, S3StoreError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| S3StoreError::Runtime(e.to_string()))
}

impl BlockingS3EvidenceStore {
    /// Wrap an async store and the runtime its client runs on.
    pub fn new(store: S3EvidenceStore, runtime: Arc<tokio::runtime::Runtime>) -> Self {
        BlockingS3EvidenceStore { store, runtime }
    }

    /// [`S3EvidenceStore::connect`] on a new runtime.
    pub fn connect(location: S3Location, options: StoreOptions, path_style: PathStyle) -> Result<Self, S3StoreError> {
        let runtime = Arc::new(blocking_runtime()?);
        let store = runtime.block_on(S3EvidenceStore::connect(location, options, path_style))?;
        Ok(BlockingS3EvidenceStore { store, runtime })
    }

    /// The async store inside.
    pub fn store(&self) -> &S3EvidenceStore {
        &self.store
    }

    /// The runtime the store's calls run on.
    pub fn runtime(&self) -> &Arc<tokio::runtime::Runtime> {
        &self.runtime
    }

    /// Run a future to completion on the store's runtime (for other calls on the same
    /// client, e.g. in tests).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

impl EvidenceStore for BlockingS3EvidenceStore {
    fn put_new(&mut self, key: &str, bytes: &[u8]) -> Result<PutOutcome, EvidenceError> {
        Ok(self.runtime.block_on(self.store.put_new(key, bytes))?)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, EvidenceError> {
        Ok(self.runtime.block_on(self.store.get(key))?)
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, EvidenceError> {
        Ok(self.runtime.block_on(self.store.list(prefix))?)
    }

    fn prefixes(&self, prefix: &str) -> Result<Vec<String>, EvidenceError> {
        Ok(self.runtime.block_on(self.store.prefixes(prefix))?)
    }

    fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, EvidenceError> {
        Ok(self.runtime.block_on(self.store.versions(prefix))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let l = S3Location::parse("s3://evidence-bucket/prod/ev/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("evidence-bucket", "prod/ev/"));
        assert_eq!(l.object_key("2026/11/20/finding/ab.json"), "prod/ev/2026/11/20/finding/ab.json");
        assert_eq!(l.to_string(), "s3://evidence-bucket/prod/ev/");
        let root = S3Location::parse("s3://evidence-bucket").unwrap();
        assert_eq!(root.prefix, "");
        assert_eq!(root.url_of("k"), "s3://evidence-bucket/k");
        for bad in ["evidence-bucket", "s3://", "s3://ab", "s3://Upper", "s3://b_x/p", "s3://bucket/a/../b", "s3://bucket/a//b"] {
            let e = S3Location::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected s3://bucket[/prefix]"), "{bad}: {e}");
        }
    }

    #[test]
    fn options_from_vars() {
        let vars =
            |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(StoreOptions::from_vars(vars(&[])).unwrap(), StoreOptions::default());
        let o = StoreOptions::from_vars(vars(&[(RETENTION_DAYS_ENV, "2557"), (KMS_KEY_ENV, "alias/evidence")])).unwrap();
        assert_eq!((o.retention_days, o.kms_key_id.as_deref()), (Some(2557), Some("alias/evidence")));
        for bad in ["0", "-1", "seven", "36501"] {
            let e = StoreOptions::from_vars(move |k| (k == RETENTION_DAYS_ENV).then(|| bad.to_string())).unwrap_err();
            assert!(e.to_string().starts_with("DRIFTWATCH_EVIDENCE_RETENTION_DAYS="), "{e}");
        }
    }

    #[test]
    fn conflicts_keep_the_port_error_kind() {
        let l = S3Location::parse("s3://evidence-bucket/p").unwrap();
        let e: EvidenceError = S3StoreError::Conflict { key: "k".into(), target: l.url_of("k") }.into();
        assert!(matches!(&e, EvidenceError::Conflict { key } if key == "s3://evidence-bucket/p/k"), "{e}");
        let e: EvidenceError = S3StoreError::NoSuchBucket { bucket: "evidence-bucket".into() }.into();
        assert_eq!(e.to_string(), "evidence store: S3 bucket \"evidence-bucket\" does not exist");
    }
}
