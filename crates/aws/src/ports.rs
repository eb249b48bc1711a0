//! The core's ports ([`driftwatch_core::ports`]) over the adapters of this crate: what the
//! engine's use cases call. Each method is the adapter's own; only the error becomes a
//! [`PortError`] naming the resource (a lost conditional write stays a
//! [`PortError::Conflict`]).

use crate::{DynamoError, ExceptionsTable, FindingsTable, IndexTable, LedgerTable, S3EvidenceStore, SnsNotifier};
use chrono::{DateTime, Duration, Utc};
use driftwatch_core::evidence::PutOutcome;
use driftwatch_core::exceptions::Exceptions;
use driftwatch_core::index::IndexEntry;
use driftwatch_core::lifecycle::FindingRecord;
use driftwatch_core::ports::{
    AlertSink, EvidenceWriter, ExceptionSource, FindingStore, IndexLookup, Inserted, Ledger, PortError, PortResult, Stored,
};
use driftwatch_core::Finding;
use serde_json::Value;

impl IndexLookup for IndexTable {
    async fn lookup(&self, config_type: &str, resource_id: &str) -> PortResult<Vec<IndexEntry>> {
        IndexTable::lookup(self, config_type, resource_id).await.map_err(|e| PortError::failed("index table", e))
    }
    async fn lookup_arn(&self, arn: &str) -> PortResult<Vec<IndexEntry>> {
        IndexTable::lookup_arn(self, arn).await.map_err(|e| PortError::failed("index table", e))
    }
}

impl Ledger for LedgerTable {
    async fn get(&self, kind: &str, key: &str) -> PortResult<Option<Value>> {
        LedgerTable::get(self, kind, key).await.map_err(|e| PortError::failed("ledger", e))
    }
    async fn put(&self, kind: &str, key: &str, value: &Value) -> PortResult<()> {
        LedgerTable::put(self, kind, key, value).await.map_err(|e| PortError::failed("ledger", e))
    }
    async fn delete(&self, kind: &str, key: &str) -> PortResult<()> {
        LedgerTable::delete(self, kind, key).await.map_err(|e| PortError::failed("ledger", e))
    }
    async fn list(&self, kind: &str) -> PortResult<Vec<(String, Value)>> {
        LedgerTable::list(self, kind).await.map_err(|e| PortError::failed("ledger", e))
    }
    async fn claim(&self, kind: &str, key: &str, owner: &str, at: DateTime<Utc>, window: Duration) -> PortResult<bool> {
        LedgerTable::claim(self, kind, key, owner, at.timestamp_millis(), window.num_milliseconds())
            .await
            .map_err(|e| PortError::failed("ledger", e))
    }
    async fn advance(&self, kind: &str, key: &str, order: u64, value: &Value) -> PortResult<bool> {
        LedgerTable::advance(self, kind, key, order, value).await.map_err(|e| PortError::failed("ledger", e))
    }
    async fn claimed(&self, kind: &str, key: &str) -> PortResult<Option<(DateTime<Utc>, String)>> {
        let v = LedgerTable::get(self, kind, key).await.map_err(|e| PortError::failed("ledger", e))?;
        Ok(v.and_then(|v| serde_json::from_value::<(i64, String)>(v).ok())
            .and_then(|(ms, o)| Some((DateTime::from_timestamp_millis(ms)?, o))))
    }
}

impl ExceptionSource for ExceptionsTable {
    async fn load(&self, policy: &driftwatch_core::policy::ExceptionPolicy) -> PortResult<Exceptions> {
        ExceptionsTable::load(self, policy).await.map_err(|e| PortError::failed("exceptions table", e))
    }
}

fn findings_error(e: DynamoError) -> PortError {
    match e {
        DynamoError::VersionConflict { .. } => PortError::Conflict(e.to_string()),
        e => PortError::failed("findings table", e),
    }
}

impl FindingStore for FindingsTable {
    async fn get(&self, fingerprint: &str) -> PortResult<Option<Stored>> {
        FindingsTable::get(self, fingerprint).await.map_err(findings_error)
    }
    async fn put_if_new(&self, record: &FindingRecord) -> PortResult<Inserted> {
        FindingsTable::put_if_new(self, record).await.map_err(findings_error)
    }
    async fn update(&self, record: &FindingRecord, expected_version: u64) -> PortResult<u64> {
        FindingsTable::update(self, record, expected_version).await.map_err(findings_error)
    }
    async fn due(&self) -> PortResult<Vec<Stored>> {
        let open = FindingsTable::list_open(self).await.map_err(findings_error)?;
        Ok(open.into_iter().filter(|s| s.record.alert_due.is_some()).collect())
    }
}

impl EvidenceWriter for S3EvidenceStore {
    async fn put_new(&self, key: &str, bytes: &[u8]) -> PortResult<PutOutcome> {
        S3EvidenceStore::put_new(self, key, bytes).await.map_err(|e| PortError::failed("evidence", e))
    }
}

impl AlertSink for SnsNotifier {
    async fn alert(&self, finding: &Finding) -> PortResult<String> {
        self.notify_fitting(finding, None).await.map(|p| p.message_id).map_err(|e| PortError::failed("alerts topic", e))
    }
}
