//! The state reader: Terraform states in the S3 backend, by object version.
//!
//! The S3 backend keeps the default workspace's state at `<key>` and every other workspace's
//! at `env:/<workspace>/<key>`; on a versioned bucket every write is a new object version.
//! The state watcher is told about one write (bucket, key, version id) and needs that version
//! and the one before it, to diff them:
//!
//! * [`S3StateReader::get_version`] — `GetObject`, of one version or the current one; the
//!   bytes, the version id and the ETag. A missing key or version is a clear error
//!   ([`StateReadError::NoSuchKey`], [`StateReadError::NoSuchVersion`]), never an empty state.
//! * [`S3StateReader::previous_version`] — `ListObjectVersions` with `prefix = key`, every
//!   page, keeping only versions of exactly that key (the prefix also matches
//!   `key.backup`, `key-md5`…); delete markers are not versions of a state and are skipped.
//!   Versions are ordered by `LastModified`, newest first, ties kept in S3's listing order
//!   (which is newest first within a key); the answer is the version just before the given
//!   one, or `None` when it is the first.
//! * [`S3StateReader::open_version`] then [`OpenVersion::read`] — the same `GetObject`, its
//!   body fed to the core's streaming [`StateReader`] as it arrives and hashed (MD5) on the
//!   way: a large state is never held whole, only its parsed instances.
//! * [`S3StateReader::read_state`] — fetch and parse, located at [`StateLocation::s3`], so the
//!   workspace comes from the `env:/<ws>/` key.

use crate::iam::Action;
use crate::sdk::{self, PathStyle};
use crate::sdk_error::{describe, one_line, status};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::DateTime as SdkDateTime;
use aws_sdk_s3::Client;
use driftwatch_core::state::{Elements, State, StateError, StateLocation, StateReader};
use driftwatch_core::{Catalog, Redactor};
use md5::{Digest, Md5};

/// Errors of the state reader, one line each, naming the object.
#[derive(Debug, thiserror::Error)]
pub enum StateReadError {
    #[error("S3 bucket {bucket:?} does not exist")]
    NoSuchBucket { bucket: String },
    #[error("no state at s3://{bucket}/{key}: the key does not exist (or its current version is a delete marker)")]
    NoSuchKey { bucket: String, key: String },
    #[error("no version {version:?} of s3://{bucket}/{key}: {message}")]
    NoSuchVersion { bucket: String, key: String, version: String, message: String },
    #[error("version {version:?} of s3://{bucket}/{key} is not among the key's listed versions")]
    VersionNotListed { bucket: String, key: String, version: String },
    #[error("access denied: S3 {op} on s3://{bucket}/{key}: {message}")]
    AccessDenied { op: &'static str, bucket: String, key: String, message: String },
    #[error("S3 {op} on s3://{bucket}/{key}: {message}")]
    Request { op: &'static str, bucket: String, key: String, message: String },
    #[error("s3://{bucket}/{key} (version {version}): {source}")]
    Parse {
        bucket: String,
        key: String,
        version: String,
        #[source]
        source: StateError,
    },
}

impl StateReadError {
    /// Will it fail the same way however often it is retried? The bucket, key or version is
    /// not there, this role may not read it, or the bytes are not a state.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, StateReadError::Request { .. })
    }
}

/// One version of a state object as read from S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateObject {
    pub bytes: Vec<u8>,
    /// The version id (`None` on a bucket that never had versioning).
    pub version_id: Option<String>,
    /// The ETag, quotes included, as S3 sends it.
    pub etag: Option<String>,
}

/// One version of a state object, opened: what S3 said of it; its body is read by
/// [`OpenVersion::read`].
#[derive(Debug)]
pub struct OpenVersion {
    /// The version id (`None` on a bucket that never had versioning).
    pub version_id: Option<String>,
    /// The ETag, quotes included, as S3 sends it.
    pub etag: Option<String>,
    bucket: String,
    key: String,
    asked: Option<String>,
    body: aws_sdk_s3::primitives::ByteStream,
}

/// A state version read through the streaming reader.
#[derive(Debug)]
pub struct ReadVersion {
    pub state: State,
    /// The resource elements, when the reader recorded them ([`StateReader::record_elements`]).
    pub elements: Elements,
    /// Hex MD5 of the object's bytes.
    pub md5: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

impl OpenVersion {
    /// Read the body through `reader` (located at `s3://bucket/key`, recording or reusing as
    /// it was set up) as it arrives, hashing it on the way. A body that breaks off is a
    /// [`StateReadError::Request`] (retry); bytes that are not a state are a
    /// [`StateReadError::Parse`].
    pub async fn read(mut self, mut reader: StateReader<'_>) -> Result<ReadVersion, StateReadError> {
        let mut md5 = Md5::new();
        let mut instances = Vec::new();
        let parse_error = |s: &Self, source: StateError| StateReadError::Parse {
            bucket: s.bucket.clone(),
            key: s.key.clone(),
            version: s.version_id.clone().or_else(|| s.asked.clone()).unwrap_or_else(|| "current".into()),
            source,
        };
        loop {
            let chunk = self.body.try_next().await.map_err(|e| StateReadError::Request {
                op: "GetObject",
                bucket: self.bucket.clone(),
                key: self.key.clone(),
                message: format!("reading the body: {}", one_line(&e)),
            })?;
            let Some(chunk) = chunk else { break };
            md5.update(&chunk);
            reader.feed(&chunk, &mut |i| instances.push(i)).map_err(|e| parse_error(&self, e))?;
        }
        let (header, elements) = reader.finish_with_elements(&mut |i| instances.push(i)).map_err(|e| parse_error(&self, e))?;
        let location = StateLocation::s3(self.bucket.clone(), self.key.clone());
        Ok(ReadVersion {
            state: State::from_parts(header, location, instances),
            elements,
            md5: driftwatch_core::redact::hex(&md5.finalize()),
            version_id: self.version_id,
            etag: self.etag,
        })
    }
}

/// The object that stands at a key: its version id (`None` in a bucket that never had
/// versioning, `null` in one whose versioning is suspended) and its ETag (no quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

/// One listed version of a key (delete markers are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedVersion {
    pub version_id: String,
    pub last_modified: Option<SdkDateTime>,
}

/// [`previous_of`]: the given version is not among the listed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotListed;

/// The version listed just before `version_id`, given the versions of one key in S3's listing
/// order: ordered by `LastModified` newest first, ties kept in listing order (S3 lists a key's
/// versions newest first). `Err(NotListed)` when `version_id` is not listed.
pub fn previous_of(mut versions: Vec<ListedVersion>, version_id: &str) -> Result<Option<String>, NotListed> {
    // Stable sort: equal timestamps (S3 has millisecond resolution) keep S3's order.
    versions.sort_by(|a, b| {
        let key = |v: &ListedVersion| v.last_modified.map(|t| (t.secs(), t.subsec_nanos()));
        key(b).cmp(&key(a))
    });
    let at = versions.iter().position(|v| v.version_id == version_id).ok_or(NotListed)?;
    Ok(versions.get(at + 1).map(|v| v.version_id.clone()))
}

/// The async state reader. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct S3StateReader {
    client: Client,
    /// Buckets of other accounts, each read with a client holding a role there: (bucket
    /// globs, client); the first whose globs match the bucket wins.
    roles: Vec<(Vec<String>, Client)>,
    page_size: Option<i32>,
}

impl S3StateReader {
    /// A reader over an existing client (the Lambdas build theirs at cold start).
    pub fn new(client: Client) -> Self {
        S3StateReader { client, roles: Vec::new(), page_size: None }
    }

    /// Read the buckets matching `buckets` (globs) with `client` (one holding a role of the
    /// account they are in, see [`crate::assume_role_config`]).
    pub fn with_role(mut self, buckets: &[String], client: Client) -> Self {
        self.roles.push((buckets.to_vec(), client));
        self
    }

    /// The client that reads `bucket`.
    fn client_for(&self, bucket: &str) -> &Client {
        self.roles
            .iter()
            .find(|(globs, _)| globs.iter().any(|g| driftwatch_core::glob::matches(g, bucket)))
            .map_or(&self.client, |(_, c)| c)
    }

    /// `MaxKeys` of each `ListObjectVersions` page (S3's default, 1,000, when unset). Every
    /// page is read either way.
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Load the standard AWS configuration and build the client.
    pub async fn from_env(path_style: PathStyle) -> Self {
        let sdk = sdk::load_sdk_config().await;
        S3StateReader::new(sdk::s3_client(&sdk, path_style))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// [`get_version`](Self::get_version), [`versions`](Self::versions),
    /// [`previous_version`](Self::previous_version), [`read_state`](Self::read_state),
    /// [`current_version`](Self::current_version). A `GetObject` or `HeadObject` of a given
    /// version needs `s3:GetObjectVersion` beside `s3:GetObject`.
    pub const READ: &'static [Action] = &[
        Action::new("s3:GetObject", "get_object"),
        Action::new("s3:GetObjectVersion", "get_object"),
        Action::new("s3:GetObject", "head_object"),
        Action::new("s3:ListBucketVersions", "list_object_versions"),
    ];
    /// [`state_keys`](Self::state_keys) (and the listing of [`lock_files`](Self::lock_files)).
    pub const LIST: &'static [Action] = &[Action::new("s3:ListBucket", "list_objects_v2")];
    /// [`lock_files`](Self::lock_files): reading the `.tflock` objects it lists.
    pub const LOCK_FILES: &'static [Action] = &[Action::new("s3:GetObject", "get_object")];
    /// [`lock_file`](Self::lock_file): one `.tflock` object, of a given version.
    pub const LOCK_FILE: &'static [Action] = &[Action::new("s3:GetObject", "get_object"), Action::new("s3:GetObjectVersion", "get_object")];

    /// The version id of the object's current version: `Ok(None)` when the key is gone (or
    /// its current version is a delete marker) or the bucket is unversioned.
    pub async fn current_version(&self, bucket: &str, key: &str) -> Result<Option<String>, StateReadError> {
        Ok(self.current(bucket, key).await?.and_then(|c| c.version_id))
    }

    /// The object that stands at `key` now (`HeadObject`): `None` when there is none (never
    /// written, deleted, or its latest version is a delete marker).
    pub async fn current(&self, bucket: &str, key: &str) -> Result<Option<Current>, StateReadError> {
        let client = self.client_for(bucket);
        match client.head_object().bucket(bucket).key(key).send().await {
            Ok(o) => Ok(Some(Current {
                version_id: o.version_id().map(str::to_string),
                etag: o.e_tag().map(|e| e.trim_matches('"').to_string()),
            })),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(Self::failed("HeadObject", bucket, key, None, &e)),
        }
    }

    /// Every key under `prefix` in `bucket` (`ListObjectsV2`, every page).
    async fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StateReadError> {
        let mut keys = Vec::new();
        let client = self.client_for(bucket);
        let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Self::failed("ListObjectsV2", bucket, prefix, None, &e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_string));
        }
        Ok(keys)
    }

    /// The state keys under `prefix` in `bucket`, sorted: keys starting with the prefix whose
    /// file name `is_state` accepts, and those of every workspace (`env:/<workspace>/<prefix>…`).
    pub async fn state_keys(&self, bucket: &str, prefix: &str, is_state: impl Fn(&str) -> bool) -> Result<Vec<String>, StateReadError> {
        let name_ok = |k: &str| k.rsplit('/').next().is_some_and(&is_state);
        let mut keys: std::collections::BTreeSet<String> = self.keys(bucket, prefix).await?.into_iter().filter(|k| name_ok(k)).collect();
        if !prefix.is_empty() && !prefix.starts_with("env:/") {
            for k in self.keys(bucket, "env:/").await? {
                let in_workspace =
                    k.strip_prefix("env:/").and_then(|r| r.split_once('/')).is_some_and(|(_, rest)| rest.starts_with(prefix));
                if in_workspace && name_ok(&k) {
                    keys.insert(k);
                }
            }
        }
        Ok(keys.into_iter().collect())
    }

    /// The body of one `.tflock` object — of `version` when given (a lock file is deleted on
    /// unlock; its versions stay in a versioned bucket) — or `None` when it is gone.
    pub async fn lock_file(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<Option<Vec<u8>>, StateReadError> {
        match self.get_version(bucket, key, version).await {
            Ok(o) => Ok(Some(o.bytes)),
            Err(StateReadError::NoSuchKey { .. } | StateReadError::NoSuchVersion { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every `.tflock` object in `bucket` with its bytes: `(key, bytes)`. A lock file released
    /// between the listing and the read is left out.
    pub async fn lock_files(&self, bucket: &str) -> Result<Vec<(String, Vec<u8>)>, StateReadError> {
        let mut out = Vec::new();
        for key in self.keys(bucket, "").await?.into_iter().filter(|k| k.ends_with(".tflock")) {
            let client = self.client_for(bucket);
            let Ok(o) = client.get_object().bucket(bucket).key(&key).send().await else { continue };
            let Ok(body) = o.body.collect().await else { continue };
            out.push((key, body.into_bytes().to_vec()));
        }
        Ok(out)
    }

    fn failed<E>(op: &'static str, bucket: &str, key: &str, version: Option<&str>, e: &SdkError<E>) -> StateReadError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        match (e.code(), status(e), version) {
            (Some("NoSuchBucket"), _, _) => StateReadError::NoSuchBucket { bucket },
            (Some("NoSuchVersion"), _, Some(v)) | (Some("InvalidArgument"), _, Some(v)) => {
                StateReadError::NoSuchVersion { bucket, key, version: v.to_string(), message: describe(e) }
            }
            (Some("NoSuchKey"), _, _) => StateReadError::NoSuchKey { bucket, key },
            (Some("AccessDenied"), _, _) | (_, Some(403), _) => StateReadError::AccessDenied { op, bucket, key, message: describe(e) },
            _ => StateReadError::Request { op, bucket, key, message: describe(e) },
        }
    }

    /// `GetObject` of `version_id`, or of the current version when `None`: the whole body.
    pub async fn get_version(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<StateObject, StateReadError> {
        let open = self.open_version(bucket, key, version_id).await?;
        let bytes = open.body.collect().await.map_err(|e| StateReadError::Request {
            op: "GetObject",
            bucket: bucket.to_string(),
            key: key.to_string(),
            message: format!("reading the body: {}", one_line(&e)),
        })?;
        Ok(StateObject { bytes: bytes.into_bytes().to_vec(), version_id: open.version_id, etag: open.etag })
    }

    /// Every version of exactly `key` (no delete markers), in S3's listing order, all pages.
    pub async fn versions(&self, bucket: &str, key: &str) -> Result<Vec<ListedVersion>, StateReadError> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let client = self.client_for(bucket);
            let page = client
                .list_object_versions()
                .bucket(bucket)
                .prefix(key)
                .set_max_keys(self.page_size)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| Self::failed("ListObjectVersions", bucket, key, None, &e))?;
            for v in page.versions() {
                if v.key() == Some(key) {
                    if let Some(id) = v.version_id() {
                        found.push(ListedVersion { version_id: id.to_string(), last_modified: v.last_modified().copied() });
                    }
                }
            }
            if !page.is_truncated().unwrap_or(false) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() && version_marker.is_none() {
                return Err(StateReadError::Request {
                    op: "ListObjectVersions",
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                    message: "a truncated page carried no NextKeyMarker / NextVersionIdMarker".into(),
                });
            }
            // Pages come in key order: once past our key, nothing more of it follows.
            if key_marker.as_deref().is_some_and(|m| m > key) {
                break;
            }
        }
        Ok(found)
    }

    /// The version of `key` written just before `version_id`; `None` when that is the first.
    pub async fn previous_version(&self, bucket: &str, key: &str, version_id: &str) -> Result<Option<String>, StateReadError> {
        let versions = self.versions(bucket, key).await?;
        previous_of(versions, version_id).map_err(|NotListed| StateReadError::VersionNotListed {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version: version_id.to_string(),
        })
    }

    /// Fetch one version (the current one when `None`) and parse it as it arrives; the
    /// state's location is `s3://bucket/key`, so its workspace is the one in an `env:/<ws>/`
    /// key.
    pub async fn read_state(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        catalog: &Catalog,
        redactor: &Redactor,
    ) -> Result<State, StateReadError> {
        let open = self.open_version(bucket, key, version_id).await?;
        let reader = StateReader::new(StateLocation::s3(bucket, key), catalog, redactor);
        Ok(open.read(reader).await?.state)
    }

    /// `GetObject` of `version_id` (the current version when `None`): the version id and
    /// ETag S3 answered with, and the body to [`OpenVersion::read`].
    pub async fn open_version(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<OpenVersion, StateReadError> {
        let client = self.client_for(bucket);
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| Self::failed("GetObject", bucket, key, version_id, &e))?;
        Ok(OpenVersion {
            version_id: out.version_id().map(str::to_string),
            etag: out.e_tag().map(str::to_string),
            bucket: bucket.to_string(),
            key: key.to_string(),
            asked: version_id.map(str::to_string),
            body: out.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, secs: Option<i64>) -> ListedVersion {
        ListedVersion { version_id: id.into(), last_modified: secs.map(SdkDateTime::from_secs) }
    }

    #[test]
    fn previous_is_the_next_older_by_last_modified() {
        // Listed out of time order: the order comes from LastModified.
        let listed = vec![v("b", Some(20)), v("c", Some(30)), v("a", Some(10))];
        assert_eq!(previous_of(listed.clone(), "c"), Ok(Some("b".into())));
        assert_eq!(previous_of(listed.clone(), "b"), Ok(Some("a".into())));
        assert_eq!(previous_of(listed.clone(), "a"), Ok(None));
        assert_eq!(previous_of(listed, "zz"), Err(NotListed));
    }

    #[test]
    fn equal_timestamps_keep_listing_order() {
        // S3 lists a key's versions newest first; same-millisecond writes keep that order.
        let listed = vec![v("new", Some(10)), v("mid", Some(10)), v("old", Some(5))];
        assert_eq!(previous_of(listed.clone(), "new"), Ok(Some("mid".into())));
        assert_eq!(previous_of(listed, "mid"), Ok(Some("old".into())));
    }
}
