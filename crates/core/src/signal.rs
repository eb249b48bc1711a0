//! Domain signals: every trigger (CloudTrail call, Config change, state object write, lock
//! record, lock file, schedule) decoded into one of these before any detector sees it.
//!
//! Decoding from AWS payload shapes lives outside the core (`crates/decode`); these types are
//! what the pure detectors take.

use crate::live::ConfigItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who made an API call, as CloudTrail tells it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// `userIdentity.arn` (for assumed roles: `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`).
    pub arn: Option<String>,
    /// `userIdentity.type`: `IAMUser`, `AssumedRole`, `Root`, `AWSService`, `FederatedUser`, …
    pub principal_type: Option<String>,
    pub account: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn` (the role behind an assumed-role session).
    pub session_issuer_arn: Option<String>,
    /// Role session name (last part of an assumed-role ARN).
    pub session_name: Option<String>,
    /// `userIdentity.invokedBy`: set when an AWS service made the call on the principal's behalf.
    pub invoked_by: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `sessionCredentialFromConsole == "true"` (the field is present only when true).
    pub session_credential_from_console: bool,
}

/// One resource of CloudTrail's `resources[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiResource {
    pub arn: Option<String>,
    pub resource_type: Option<String>,
    pub account: Option<String>,
}

/// A CloudTrail management or data event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    /// e.g. `s3.amazonaws.com`
    pub event_source: String,
    /// e.g. `PutBucketEncryption`
    pub event_name: String,
    pub region: Option<String>,
    /// `recipientAccountId` (or the EventBridge envelope's account).
    pub account: Option<String>,
    /// `readOnly`, when CloudTrail says.
    pub read_only: Option<bool>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `Management` or `Data`.
    pub event_category: Option<String>,
    pub principal: Principal,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub additional_event_data: Value,
    pub resources: Vec<ApiResource>,
}

/// An AWS Config `Config Configuration Item Change` notification.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChange {
    /// The new item. For an oversized notification whose item the adapter has not fetched
    /// yet, `None` and `oversized` says where it is.
    pub item: Option<ConfigItem>,
    /// `configurationItemDiff.changedProperties` (may be `Null`).
    pub changed_properties: Value,
    /// `configurationItemDiff.changeType`: `CREATE`, `UPDATE`, `DELETE`.
    pub change_type: Option<String>,
    pub notification_time: Option<DateTime<Utc>>,
    /// `OversizedConfigurationItemChangeNotification`: where the full item is in S3, plus the
    /// summary's identity.
    pub oversized: Option<OversizedRef>,
}

/// Location of an oversized configuration item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OversizedRef {
    pub s3_bucket: String,
    pub s3_key: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub state_id: Option<u64>,
}

/// Created or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectChange {
    Created,
    Deleted,
}

/// An S3 object event on a Terraform state key (`*.tfstate`, `env:/<ws>/...`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateObjectEvent {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub change: ObjectChange,
    pub time: DateTime<Utc>,
    /// Requester account / principal when the event carries it.
    pub requester: Option<String>,
    pub source_ip: Option<String>,
    /// S3's `sequencer`: orders the events of one key; with the ETag it tells the writes of
    /// an unversioned object apart.
    #[serde(default)]
    pub sequencer: Option<String>,
}

impl StateObjectEvent {
    /// The version id S3 gave the write: `None` for an unversioned bucket, and for the `null`
    /// version of a bucket whose versioning is suspended (every write replaces it).
    pub fn real_version(&self) -> Option<&str> {
        self.version_id.as_deref().filter(|v| !v.is_empty() && *v != "null")
    }

    /// What tells this write apart from every other write of the object: the version id; in
    /// a bucket without versions, the ETag and the event's sequencer (else its time).
    pub fn write_id(&self) -> String {
        match self.real_version() {
            Some(v) => v.to_string(),
            None => format!(
                "etag:{}#{}",
                self.etag.as_deref().unwrap_or("-").trim_matches('"'),
                self.sequencer.clone().unwrap_or_else(|| self.time.to_rfc3339())
            ),
        }
    }
}

/// `Info` of a Terraform lock (DynamoDB item attribute `Info`, or the `.tflock` object body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Operation", default)]
    pub operation: String,
    #[serde(rename = "Info", default)]
    pub info: String,
    #[serde(rename = "Who", default)]
    pub who: String,
    #[serde(rename = "Version", default)]
    pub version: String,
    #[serde(rename = "Created", default)]
    pub created: Option<DateTime<Utc>>,
    #[serde(rename = "Path", default)]
    pub path: String,
}

/// DynamoDB Streams event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StreamEvent {
    Insert,
    Modify,
    Remove,
}

/// A DynamoDB Streams record of the Terraform lock table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockRecord {
    pub event: StreamEvent,
    /// `LockID`: `<bucket>/<key>` for a lock, `<bucket>/<key>-md5` for the digest item.
    pub lock_id: String,
    pub table: Option<String>,
    /// `Info` of the new image (INSERT/MODIFY).
    pub new_info: Option<LockInfo>,
    /// `Info` of the old image (MODIFY/REMOVE).
    pub old_info: Option<LockInfo>,
    /// `Digest` of the `-md5` item (new image).
    pub digest: Option<String>,
    pub time: DateTime<Utc>,
    pub sequence_number: Option<String>,
    /// Set for TTL deletions (`userIdentity.principalId == dynamodb.amazonaws.com`).
    pub removed_by_service: bool,
}

/// An S3 event on a `.tflock` lock file (Terraform >= 1.10 `use_lockfile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockFileEvent {
    pub bucket: String,
    /// `<state key>.tflock`
    pub key: String,
    pub change: ObjectChange,
    pub time: DateTime<Utc>,
    pub version_id: Option<String>,
    /// The lock file's body, when the adapter read it.
    pub info: Option<LockInfo>,
}

/// A scheduled tick (sweeper, reporter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub time: DateTime<Utc>,
    pub rule: Option<String>,
    /// The account and region of the scheduled event: a member account's heartbeat, forwarded
    /// to the watcher's bus, names where it comes from.
    pub account: Option<String>,
    pub region: Option<String>,
}

/// Any decoded trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    ApiCall(Box<ApiCall>),
    ConfigChange(Box<ConfigChange>),
    StateObject(StateObjectEvent),
    LockRecord(LockRecord),
    LockFile(LockFileEvent),
    Tick(Tick),
}

impl Signal {
    /// Where it happened, as far as it says: a call's recipient account and region, a Config
    /// item's account and region.
    pub fn place(&self) -> crate::place::Place<'_> {
        match self {
            Signal::ApiCall(c) => crate::place::Place::new(c.account.as_deref().or(c.principal.account.as_deref()), c.region.as_deref()),
            Signal::ConfigChange(c) => c.item.as_ref().map_or(crate::place::Place::ANYWHERE, |i| i.place()),
            Signal::Tick(t) => crate::place::Place::new(t.account.as_deref(), t.region.as_deref()),
            _ => crate::place::Place::ANYWHERE,
        }
    }

    /// When it happened.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Signal::ApiCall(c) => Some(c.event_time),
            Signal::ConfigChange(c) => c.notification_time,
            Signal::StateObject(e) => Some(e.time),
            Signal::LockRecord(r) => Some(r.time),
            Signal::LockFile(e) => Some(e.time),
            Signal::Tick(t) => Some(t.time),
        }
    }
}

/// Input that could not be decoded: becomes an `input.invalid` finding; the rest of the batch
/// goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidInput {
    /// Where it came from: a file name, an S3 key, a stream ARN, an event id.
    pub source: String,
    /// Record index within the source (CloudTrail log file record, batch record).
    pub index: Option<usize>,
    /// One line: what is wrong.
    pub message: String,
}
