//! Ports: what the use cases (`crates/engine`) read and write, as small capability-named
//! traits. Declarations only, no I/O: the AWS adapters (`crates/aws`) implement them over the
//! SDK, `driftwatch_engine::memory` in memory (unit tests, local runs).
//!
//! Every method returns a future that is `Send` (a Lambda handler's future must be), and one
//! error, [`PortError`]: a lost conditional write ([`PortError::Conflict`], read again and
//! retry) or anything else ([`PortError::Failed`], the invocation fails and the platform
//! retries it).

use crate::evidence::PutOutcome;
use crate::exceptions::Exceptions;
use crate::finding::Finding;
use crate::index::IndexEntry;
use crate::lifecycle::FindingRecord;
use crate::policy::ExceptionPolicy;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::fmt::Display;
use std::future::Future;

/// Why a port call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost to a concurrent writer: read again and retry.
    #[error("{0}")]
    Conflict(String),
    /// Anything else (a transient AWS error, access denied, an undecodable item).
    #[error("{0}")]
    Failed(String),
}

impl PortError {
    /// A failure of `what` (the port's name: "findings table", "alerts topic" …).
    pub fn failed(what: &str, e: impl Display) -> Self {
        PortError::Failed(format!("{what}: {e}"))
    }
}

/// The result of a port call.
pub type PortResult<T> = Result<T, PortError>;

/// The managed-resource index, looked up by identity or ARN.
pub trait IndexLookup: Sync {
    /// The entries for a resource identity (AWS Config type and resource id).
    fn lookup(&self, config_type: &str, resource_id: &str) -> impl Future<Output = PortResult<Vec<IndexEntry>>> + Send;
    /// The entries whose ARN is `arn`.
    fn lookup_arn(&self, arn: &str) -> impl Future<Output = PortResult<Vec<IndexEntry>>> + Send;
}

/// The detectors' memory between invocations: JSON values keyed by kind and key.
pub trait Ledger: Sync {
    fn get(&self, kind: &str, key: &str) -> impl Future<Output = PortResult<Option<Value>>> + Send;
    fn put(&self, kind: &str, key: &str, value: &Value) -> impl Future<Output = PortResult<()>> + Send;
    fn delete(&self, kind: &str, key: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Every item of `kind`: `(key, value)`.
    fn list(&self, kind: &str) -> impl Future<Output = PortResult<Vec<(String, Value)>>> + Send;
    /// Claim the window `[at, at + window)` of `key` for `owner`, atomically across instances:
    /// `true` when no other owner's claim made less than `window` before `at` stands (the item
    /// records `at` and `owner`), `false` when one does (nothing written). An owner may claim
    /// again (a retry).
    fn claim(
        &self,
        kind: &str,
        key: &str,
        owner: &str,
        at: DateTime<Utc>,
        window: Duration,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    /// Write `value` at `key` as of `order`, atomically across instances: written when the
    /// item is absent or was written as of an order no higher (the same order: a retry),
    /// `false` (nothing written) when it holds a higher one. What orders events (AWS Config's `configurationStateId`,
    /// the write time of the indexed state version) moves only forward, so a late writer never
    /// moves it back.
    fn advance(&self, kind: &str, key: &str, order: u64, value: &Value) -> impl Future<Output = PortResult<bool>> + Send;
    /// The last claim of `key`: when, and by whom.
    fn claimed(&self, kind: &str, key: &str) -> impl Future<Output = PortResult<Option<(DateTime<Utc>, String)>>> + Send;
}

/// The exceptions in force.
pub trait ExceptionSource: Sync {
    /// Every exception (valid or not: invalid ones surface as `exception.invalid`), checked
    /// against the policy's `[exceptions]` (`max_days`, broad selectors, requester).
    fn load(&self, policy: &ExceptionPolicy) -> impl Future<Output = PortResult<Exceptions>> + Send;
}

/// What [`FindingStore::put_if_new`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// A record with this fingerprint exists: nothing written.
    AlreadyPresent,
}

/// A finding record as stored, with the version to pass to [`FindingStore::update`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub record: FindingRecord,
    pub version: u64,
}

/// The findings, one record per fingerprint, written conditionally.
pub trait FindingStore: Sync {
    fn get(&self, fingerprint: &str) -> impl Future<Output = PortResult<Option<Stored>>> + Send;
    /// Write a new record unless one with its fingerprint exists.
    fn put_if_new(&self, record: &FindingRecord) -> impl Future<Output = PortResult<Inserted>> + Send;
    /// Replace the record stored at `expected_version`; the new version, or
    /// [`PortError::Conflict`] when it was changed meanwhile.
    fn update(&self, record: &FindingRecord, expected_version: u64) -> impl Future<Output = PortResult<u64>> + Send;
    /// Every open record whose alert is still due (held back by a quiet period, or left by a
    /// publisher that died).
    fn due(&self) -> impl Future<Output = PortResult<Vec<Stored>>> + Send;
}

/// Write-once evidence.
pub trait EvidenceWriter: Sync {
    /// Write `bytes` under `key` unless it exists (identical content: `AlreadyPresent`).
    fn put_new(&self, key: &str, bytes: &[u8]) -> impl Future<Output = PortResult<PutOutcome>> + Send;
}

/// Where alerts go.
pub trait AlertSink: Sync {
    /// Publish the alert of one finding; the message id.
    fn alert(&self, finding: &Finding) -> impl Future<Output = PortResult<String>> + Send;
}
