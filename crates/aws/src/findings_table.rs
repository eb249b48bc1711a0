//! The findings table: DynamoDB storage of the core's [`FindingRecord`]s, one item per
//! fingerprint.
//!
//! Item layout (the table's partition key is `fingerprint`, a string):
//!
//! | attribute     | type | content                                                        |
//! |---------------|------|----------------------------------------------------------------|
//! | `fingerprint` | S    | the finding's fingerprint (stable across replays)              |
//! | `record`      | S    | the whole `FindingRecord` as JSON (already redacted by the core) |
//! | `status`      | S    | `open` / `resolved` (the record's lifecycle status)            |
//! | `severity`    | S    | `critical` … `info`                                            |
//! | `rule`        | S    | the stable rule id (`drift.changed`, …)                        |
//! | `last_seen`   | S    | RFC 3339, UTC, fixed width (sorts as time)                     |
//! | `version`     | N    | optimistic-concurrency counter, 1 on creation                  |
//!
//! [`list_open`](FindingsTable::list_open) queries the global secondary index
//! [`STATUS_INDEX`] (`status` hash key, `last_seen` range key, projection ALL) and reads every
//! page.
//!
//! * **Dedup.** [`put_if_new`](FindingsTable::put_if_new) is a `PutItem` with
//!   `attribute_not_exists(fingerprint)`: a second delivery of the same event is a no-op
//!   reported as [`Inserted::AlreadyPresent`].
//! * **Optimistic concurrency.** [`update`](FindingsTable::update) writes only if the stored
//!   `version` is the one the caller read, and bumps it; otherwise
//!   [`DynamoError::VersionConflict`] (read again, fold again, retry).
//! * **Batches.** [`put_batch`](FindingsTable::put_batch) writes with `BatchWriteItem` in
//!   chunks of 25 and retries `UnprocessedItems` with bounded exponential backoff. What is
//!   still unprocessed at the end is returned as [`DynamoError::BatchIncomplete`], naming
//!   every fingerprint not written: nothing is dropped silently. Batch puts are
//!   unconditional (DynamoDB has no conditions in batches), so they are for bulk loads and
//!   backfills, not for deduplicating deliveries.
//!
//! Throttling and transient errors of each call are retried by the SDK's standard retry
//! strategy (from the shared SDK configuration).

use crate::iam::Action;
use crate::table::{table_accessors, table_error, Table};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::SecondsFormat;
use driftwatch_core::lifecycle::{FindingRecord, LifecycleStatus};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;

/// The global secondary index `list_open` queries: `status` (hash) + `last_seen` (range).
pub const STATUS_INDEX: &str = "status-last_seen";
/// The largest `record` attribute written: DynamoDB's item limit is 400 KB, and the other
/// attributes and their names take the rest.
pub const MAX_RECORD_BYTES: usize = 380 * 1024;

/// The most items one `BatchWriteItem` call takes.
pub const BATCH_SIZE: usize = 25;

type Item = HashMap<String, AttributeValue>;

table_error! {
    /// Errors of the findings table. Each is one line that says what went wrong where: the
    /// three cases of a failed call (`NoSuchTable`, `AccessDenied`, `Request`: `table_error!`),
    /// and these.
    #[derive(Debug, thiserror::Error)]
    pub enum DynamoError {
        #[error(
            "finding {fingerprint}: the stored item is absent or not at version {expected} (written concurrently); read it again and retry"
        )]
        VersionConflict { fingerprint: String, expected: u64 },
        #[error("finding record {fingerprint}: {message}")]
        Encode { fingerprint: String, message: String },
        #[error("item {fingerprint:?} in table {table:?} is not a finding record: {message}")]
        Decode { table: String, fingerprint: String, message: String },
        #[error("BatchWriteItem on table {table:?}: {written} written, {} not written: {}{}", unprocessed.len(), unprocessed.join(", "), cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
        BatchIncomplete {
            table: String,
            written: usize,
            /// The fingerprints not written, in input order.
            unprocessed: Vec<String>,
            /// Why: the last error, or `None` when DynamoDB kept returning them as unprocessed.
            cause: Option<String>,
        },
    }
}

/// What [`FindingsTable::put_if_new`] did, and a record as stored: the core's port types.
pub use driftwatch_core::ports::{Inserted, Stored};

pub use crate::table::TableOptions;

/// Build the DynamoDB client from the shared SDK configuration (endpoint from
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB`). Build one per process and clone it.
pub fn dynamodb_client(sdk: &SdkConfig) -> Client {
    Client::new(sdk)
}

fn status_str(s: LifecycleStatus) -> &'static str {
    match s {
        LifecycleStatus::Open => "open",
        LifecycleStatus::Resolved => "resolved",
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The item of a record at `version`.
pub fn encode(record: &FindingRecord, version: u64) -> Result<Item, DynamoError> {
    let fingerprint = record.finding.fingerprint.clone();
    if fingerprint.is_empty() {
        return Err(DynamoError::Encode { fingerprint, message: "empty fingerprint".into() });
    }
    let to_json = |r: &FindingRecord| {
        serde_json::to_string(r).map_err(|e| DynamoError::Encode { fingerprint: fingerprint.clone(), message: e.to_string() })
    };
    let mut json = to_json(record)?;
    // DynamoDB refuses items over 400 KB, on every retry. A finding too big for its record (a
    // resource with thousands of changed attributes) is stored summarised — its first changes
    // and how many more — as the alert is: its evidence record in S3 holds every change.
    let mut keep = record.finding.changes.len();
    while json.len() > MAX_RECORD_BYTES && keep > 0 {
        keep /= 2;
        let mut smaller = record.clone();
        smaller.finding = driftwatch_core::alert::summarised(&record.finding, keep);
        json = to_json(&smaller)?;
    }
    let mut item = Item::new();
    item.insert("fingerprint".into(), s(fingerprint));
    item.insert("record".into(), s(json));
    item.insert("status".into(), s(status_str(record.status)));
    item.insert("severity".into(), s(record.finding.severity.as_str()));
    item.insert("rule".into(), s(record.finding.rule.id()));
    item.insert("last_seen".into(), s(record.last_seen.to_rfc3339_opts(SecondsFormat::Millis, true)));
    item.insert("version".into(), AttributeValue::N(version.to_string()));
    Ok(item)
}

/// The record and version of an item.
pub fn decode(table: &str, item: &Item) -> Result<Stored, DynamoError> {
    let fingerprint = item.get("fingerprint").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let bad = |message: String| DynamoError::Decode { table: table.to_string(), fingerprint: fingerprint.clone(), message };
    let json = item.get("record").and_then(|v| v.as_s().ok()).ok_or_else(|| bad("no string attribute `record`".into()))?;
    let record: FindingRecord = serde_json::from_str(json).map_err(|e| bad(format!("`record`: {e}")))?;
    let version = item
        .get("version")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| bad("no numeric attribute `version`".into()))?;
    Ok(Stored { record, version })
}

/// The async findings table. Cheap to clone; build one per process.
#[derive(Debug, Clone)]
pub struct FindingsTable {
    base: Table,
}

impl FindingsTable {
    /// [`get`](Self::get).
    pub const READ: &'static [Action] = &[Action::new("dynamodb:GetItem", "get_item")];
    /// [`list_open`](Self::list_open): a `Query` of the [`STATUS_INDEX`].
    pub const LIST_OPEN: &'static [Action] = &[Action::new("dynamodb:Query", "query")];
    /// [`put_if_new`](Self::put_if_new), [`update`](Self::update).
    pub const WRITE: &'static [Action] = &[Action::new("dynamodb:PutItem", "put_item")];
    /// [`put_batch`](Self::put_batch) (bulk loads and backfills).
    pub const BULK: &'static [Action] = &[Action::new("dynamodb:BatchWriteItem", "batch_write_item")];

    pub fn new(client: Client, table: impl Into<String>, options: TableOptions) -> Self {
        FindingsTable { base: Table::new(client, table, options) }
    }

    table_accessors!();

    pub fn options(&self) -> &TableOptions {
        &self.base.options
    }

    /// A `PutItem` of `item` into this table.
    fn put(&self, item: Item) -> PutItemFluentBuilder {
        self.base.client.put_item().table_name(&self.base.name).set_item(Some(item))
    }

    /// Store `record` unless an item with its fingerprint exists (at-least-once deliveries:
    /// the second one is a no-op, [`Inserted::AlreadyPresent`]). New items are at version 1.
    pub async fn put_if_new(&self, record: &FindingRecord) -> Result<Inserted, DynamoError> {
        let put = self.put(encode(record, 1)?).condition_expression("attribute_not_exists(fingerprint)");
        match self.base.conditional("PutItem", put.send().await)? {
            Some(_) => Ok(Inserted::Created),
            None => Ok(Inserted::AlreadyPresent),
        }
    }

    /// Replace the stored record by `record` if the item is still at `expected_version` (the
    /// version [`get`](Self::get) returned); returns the new version.
    pub async fn update(&self, record: &FindingRecord, expected_version: u64) -> Result<u64, DynamoError> {
        let next = expected_version + 1;
        let put = self
            .put(encode(record, next)?)
            .condition_expression("#v = :expected")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":expected", AttributeValue::N(expected_version.to_string()));
        match self.base.conditional("PutItem", put.send().await)? {
            Some(_) => Ok(next),
            None => Err(DynamoError::VersionConflict { fingerprint: record.finding.fingerprint.clone(), expected: expected_version }),
        }
    }

    /// The stored record of `fingerprint` (a strongly consistent read), if any.
    pub async fn get(&self, fingerprint: &str) -> Result<Option<Stored>, DynamoError> {
        let out = self
            .base
            .client
            .get_item()
            .table_name(&self.base.name)
            .key("fingerprint", s(fingerprint))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.base.failed("GetItem", &e))?;
        out.item().map(|item| decode(&self.base.name, item)).transpose()
    }

    /// Every open record, oldest `last_seen` first: a `Query` on [`STATUS_INDEX`], reading
    /// every page.
    pub async fn list_open(&self) -> Result<Vec<Stored>, DynamoError> {
        let query = self
            .base
            .client
            .query()
            .index_name(STATUS_INDEX)
            .key_condition_expression("#s = :open")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":open", s(status_str(LifecycleStatus::Open)));
        self.base.query_all(query, decode).await
    }

    /// Write `records` with `BatchWriteItem`, 25 a call, retrying unprocessed items with
    /// bounded exponential backoff. Unconditional puts at version 1 (bulk loads, not
    /// dedup). Of records with the same fingerprint the last one is written. Returns how many
    /// items were written; anything not written is an error naming each fingerprint.
    pub async fn put_batch(&self, records: &[FindingRecord]) -> Result<usize, DynamoError> {
        // One request per key (DynamoDB rejects a batch with duplicate keys): the last wins.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            last.insert(r.finding.fingerprint.as_str(), i);
        }
        let mut requests = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if last.get(r.finding.fingerprint.as_str()) == Some(&i) {
                let put = PutRequest::builder()
                    .set_item(Some(encode(r, 1)?))
                    .build()
                    .map_err(|e| DynamoError::Encode { fingerprint: r.finding.fingerprint.clone(), message: e.to_string() })?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        let send = |chunk| self.base.client.batch_write_item().request_items(&self.base.name, chunk).send();
        self.base.batch_write(requests, request_key, send).await
    }
}

/// The fingerprint a write request is about.
fn request_key(r: &WriteRequest) -> String {
    r.put_request()
        .and_then(|p| p.item().get("fingerprint"))
        .or_else(|| r.delete_request().and_then(|d| d.key().get("fingerprint")))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Send `requests` of `table` in chunks of [`BATCH_SIZE`] through `send` (one
/// `BatchWriteItem` call, answering the unprocessed requests or an error line), retrying what
/// comes back unprocessed with bounded exponential backoff. `request_key` names the item a
/// request is about (for the error listing what was not written).
pub(crate) async fn write_all_by<F, Fut>(
    table: &str,
    requests: Vec<WriteRequest>,
    options: &TableOptions,
    request_key: fn(&WriteRequest) -> String,
    send: F,
) -> Result<usize, DynamoError>
where
    F: Fn(Vec<WriteRequest>) -> Fut,
    Fut: Future<Output = Result<Vec<WriteRequest>, String>>,
{
    let order: Vec<String> = requests.iter().map(request_key).collect();
    let total = requests.len();
    let mut unprocessed: BTreeSet<String> = BTreeSet::new();
    let mut cause = None;
    let mut rest = requests.into_iter();
    loop {
        let chunk: Vec<WriteRequest> = rest.by_ref().take(BATCH_SIZE).collect();
        if chunk.is_empty() {
            break;
        }
        let mut pending = chunk;
        let mut delay = options.batch_base_delay;
        for attempt in 1..=options.batch_attempts.max(1) {
            let keys: Vec<String> = pending.iter().map(request_key).collect();
            match send(pending).await {
                Ok(left) => pending = left,
                Err(e) => {
                    // A failed call (after the SDK's own retries): this chunk and everything
                    // after it stays unwritten.
                    unprocessed.extend(keys);
                    unprocessed.extend(rest.by_ref().map(|r| request_key(&r)));
                    cause = Some(e);
                    pending = Vec::new();
                    break;
                }
            }
            if pending.is_empty() {
                break;
            }
            if attempt < options.batch_attempts {
                tracing::debug!(table, attempt, unprocessed = pending.len(), "BatchWriteItem left items unprocessed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(options.batch_max_delay);
            }
        }
        unprocessed.extend(pending.iter().map(request_key));
        if cause.is_some() {
            break;
        }
    }
    if unprocessed.is_empty() {
        return Ok(total);
    }
    let unprocessed: Vec<String> = order.into_iter().filter(|k| unprocessed.contains(k)).collect();
    Err(DynamoError::BatchIncomplete { table: table.to_string(), written: total - unprocessed.len(), unprocessed, cause })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    fn req(key: &str) -> WriteRequest {
        let put = PutRequest::builder().item("fingerprint", s(key)).build().expect("put");
        WriteRequest::builder().put_request(put).build()
    }

    fn fast() -> TableOptions {
        TableOptions {
            batch_attempts: 4,
            batch_base_delay: Duration::from_millis(1),
            batch_max_delay: Duration::from_millis(4),
            ..Default::default()
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    }

    #[test]
    fn unprocessed_items_are_retried_until_written() {
        let calls: Mutex<Vec<usize>> = Mutex::new(Vec::new());
        let requests: Vec<WriteRequest> = (0..60).map(|i| req(&format!("fp{i:02}"))).collect();
        let written = rt()
            .block_on(write_all_by("t", requests, &fast(), request_key, |chunk| {
                let n = {
                    let mut c = calls.lock().unwrap();
                    c.push(chunk.len());
                    c.len()
                };
                // Every first call of a chunk leaves its last 3 items unprocessed.
                let left = if n % 2 == 1 { chunk[chunk.len().saturating_sub(3)..].to_vec() } else { Vec::new() };
                async move { Ok(left) }
            }))
            .expect("all written");
        assert_eq!(written, 60);
        assert_eq!(*calls.lock().unwrap(), vec![25, 3, 25, 3, 10, 3], "chunks of 25, then the retries");
    }

    #[test]
    fn items_still_unprocessed_after_the_attempts_are_reported() {
        let requests: Vec<WriteRequest> = (0..30).map(|i| req(&format!("fp{i:02}"))).collect();
        let calls = Mutex::new(0u32);
        let err = rt()
            .block_on(write_all_by("t", requests, &fast(), request_key, |chunk| {
                *calls.lock().unwrap() += 1;
                let left: Vec<WriteRequest> = chunk.into_iter().filter(|r| request_key(r) == "fp07").collect();
                async move { Ok(left) }
            }))
            .unwrap_err();
        match &err {
            DynamoError::BatchIncomplete { written, unprocessed, cause, .. } => {
                assert_eq!((*written, unprocessed.as_slice(), cause.as_deref()), (29, &["fp07".to_string()][..], None));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(*calls.lock().unwrap(), 4 + 1, "bounded: 4 attempts for the first chunk, 1 for the second");
        assert!(err.to_string().contains("1 not written: fp07"), "{err}");
    }

    #[test]
    fn a_failed_call_reports_its_chunk_and_the_rest() {
        let requests: Vec<WriteRequest> = (0..60).map(|i| req(&format!("fp{i:02}"))).collect();
        let calls = Mutex::new(0u32);
        let err = rt()
            .block_on(write_all_by("t", requests, &fast(), request_key, |_chunk| {
                let n = {
                    let mut c = calls.lock().unwrap();
                    *c += 1;
                    *c
                };
                async move {
                    if n == 2 {
                        Err("ProvisionedThroughputExceededException: slow down".to_string())
                    } else {
                        Ok(Vec::new())
                    }
                }
            }))
            .unwrap_err();
        match err {
            DynamoError::BatchIncomplete { written, unprocessed, cause, .. } => {
                assert_eq!(written, 25);
                assert_eq!(unprocessed.len(), 35);
                assert_eq!(unprocessed.first().map(String::as_str), Some("fp25"));
                assert!(cause.unwrap().contains("ProvisionedThroughput"));
            }
            other => panic!("{other:?}"),
        }
    }
}
