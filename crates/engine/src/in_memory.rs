//! Every port in memory ([`InMemoryPorts`]): for unit tests of the use cases and for running
//! them without AWS. The state lives behind mutexes that no `await` holds, so every future
//! completes at its first poll.

use crate::ports::Ports;
use chrono::{DateTime, Duration, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::evidence::{EvidenceError, EvidenceStore, MemoryStore, PutOutcome};
use driftwatch_core::exceptions::Exceptions;
use driftwatch_core::index::IndexEntry;
use driftwatch_core::lifecycle::FindingRecord;
use driftwatch_core::policy::Policy;
use driftwatch_core::ports::{
    AlertSink, EvidenceWriter, ExceptionSource, FindingStore, IndexLookup, Inserted, Ledger, PortError, PortResult, Stored,
};
use driftwatch_core::redact::Redactor;
use driftwatch_core::Finding;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The managed-resource index as a list of entries.
#[derive(Debug, Default)]
pub struct MemoryIndex(pub Vec<IndexEntry>);

impl IndexLookup for MemoryIndex {
    async fn lookup(&self, config_type: &str, resource_id: &str) -> PortResult<Vec<IndexEntry>> {
        Ok(self.0.iter().filter(|e| e.config_type == config_type && e.resource_id == resource_id).cloned().collect())
    }
    async fn lookup_arn(&self, arn: &str) -> PortResult<Vec<IndexEntry>> {
        Ok(self.0.iter().filter(|e| e.arn.as_deref() == Some(arn)).cloned().collect())
    }
}

/// Ledger items by (kind, key), and the order of those written by `advance`.
#[derive(Debug, Default)]
pub struct MemoryLedger(pub Mutex<BTreeMap<(String, String), Value>>, pub Mutex<BTreeMap<(String, String), u64>>);

impl Ledger for MemoryLedger {
    async fn get(&self, kind: &str, key: &str) -> PortResult<Option<Value>> {
        Ok(lock(&self.0).get(&(kind.to_string(), key.to_string())).cloned())
    }
    async fn put(&self, kind: &str, key: &str, value: &Value) -> PortResult<()> {
        lock(&self.0).insert((kind.to_string(), key.to_string()), value.clone());
        Ok(())
    }
    async fn delete(&self, kind: &str, key: &str) -> PortResult<()> {
        lock(&self.0).remove(&(kind.to_string(), key.to_string()));
        Ok(())
    }
    async fn claim(&self, kind: &str, key: &str, owner: &str, at: DateTime<Utc>, window: Duration) -> PortResult<bool> {
        let mut map = lock(&self.0);
        let k = (kind.to_string(), key.to_string());
        let standing = map
            .get(&k)
            .and_then(|v| serde_json::from_value::<(i64, String)>(v.clone()).ok())
            .is_some_and(|(ms, o)| o != owner && ms > (at - window).timestamp_millis());
        if standing {
            return Ok(false);
        }
        map.insert(k, serde_json::json!([at.timestamp_millis(), owner]));
        Ok(true)
    }
    async fn advance(&self, kind: &str, key: &str, order: u64, value: &Value) -> PortResult<bool> {
        let mut orders = lock(&self.1);
        let k = (kind.to_string(), key.to_string());
        if orders.get(&k).is_some_and(|n| *n > order) {
            return Ok(false);
        }
        orders.insert(k.clone(), order);
        lock(&self.0).insert(k, value.clone());
        Ok(true)
    }
    async fn claimed(&self, kind: &str, key: &str) -> PortResult<Option<(DateTime<Utc>, String)>> {
        let v = lock(&self.0).get(&(kind.to_string(), key.to_string())).cloned();
        Ok(v.and_then(|v| serde_json::from_value::<(i64, String)>(v).ok())
            .and_then(|(ms, o)| Some((DateTime::from_timestamp_millis(ms)?, o))))
    }
    async fn list(&self, kind: &str) -> PortResult<Vec<(String, Value)>> {
        Ok(lock(&self.0).iter().filter(|((k, _), _)| k == kind).map(|((_, key), v)| (key.clone(), v.clone())).collect())
    }
}

/// Exceptions as parsed (the file's, or none).
#[derive(Debug, Default)]
pub struct MemoryExceptions(pub Exceptions);

impl ExceptionSource for MemoryExceptions {
    async fn load(&self, _policy: &driftwatch_core::policy::ExceptionPolicy) -> PortResult<Exceptions> {
        Ok(self.0.clone())
    }
}

/// Finding records by fingerprint, versioned as the findings table versions them.
#[derive(Debug, Default)]
pub struct MemoryFindings(pub Mutex<BTreeMap<String, Stored>>);

impl MemoryFindings {
    /// Every record, by fingerprint.
    pub fn records(&self) -> Vec<FindingRecord> {
        lock(&self.0).values().map(|s| s.record.clone()).collect()
    }
}

impl FindingStore for MemoryFindings {
    async fn get(&self, fingerprint: &str) -> PortResult<Option<Stored>> {
        Ok(lock(&self.0).get(fingerprint).cloned())
    }
    async fn put_if_new(&self, record: &FindingRecord) -> PortResult<Inserted> {
        let mut map = lock(&self.0);
        if map.contains_key(&record.finding.fingerprint) {
            return Ok(Inserted::AlreadyPresent);
        }
        map.insert(record.finding.fingerprint.clone(), Stored { record: record.clone(), version: 1 });
        Ok(Inserted::Created)
    }
    async fn update(&self, record: &FindingRecord, expected_version: u64) -> PortResult<u64> {
        let mut map = lock(&self.0);
        match map.get_mut(&record.finding.fingerprint) {
            Some(s) if s.version == expected_version => {
                *s = Stored { record: record.clone(), version: expected_version + 1 };
                Ok(s.version)
            }
            _ => Err(PortError::Conflict(format!("finding {}: not at version {expected_version}", record.finding.fingerprint))),
        }
    }
    async fn due(&self) -> PortResult<Vec<Stored>> {
        let open = driftwatch_core::lifecycle::LifecycleStatus::Open;
        Ok(lock(&self.0).values().filter(|s| s.record.status == open && s.record.alert_due.is_some()).cloned().collect())
    }
}

/// Write-once evidence in memory (the core's [`MemoryStore`]).
#[derive(Debug, Default)]
pub struct MemoryEvidence(pub Mutex<MemoryStore>);

impl MemoryEvidence {
    /// Every object, by key.
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.0).objects.clone()
    }
}

impl EvidenceWriter for MemoryEvidence {
    async fn put_new(&self, key: &str, bytes: &[u8]) -> PortResult<PutOutcome> {
        lock(&self.0).put_new(key, bytes).map_err(|e: EvidenceError| PortError::failed("evidence", e))
    }
}

/// The alerts published, in order.
#[derive(Debug, Default)]
pub struct MemoryAlerts(pub Mutex<Vec<Finding>>);

impl MemoryAlerts {
    pub fn sent(&self) -> Vec<Finding> {
        lock(&self.0).clone()
    }
}

impl AlertSink for MemoryAlerts {
    async fn alert(&self, finding: &Finding) -> PortResult<String> {
        let mut sent = lock(&self.0);
        sent.push(finding.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}

/// Every port in memory, with the settings the use cases read.
pub struct InMemoryPorts {
    pub index: MemoryIndex,
    pub ledger: MemoryLedger,
    pub exceptions: MemoryExceptions,
    pub findings: MemoryFindings,
    pub evidence: MemoryEvidence,
    pub alerts: MemoryAlerts,
    pub catalog: Catalog,
    pub policy: Policy,
    pub redactor: Redactor,
}

impl InMemoryPorts {
    /// Empty stores, the built-in catalog, `policy`, and a redactor salted with `salt`.
    pub fn new(policy: Policy, salt: &[u8]) -> Self {
        InMemoryPorts {
            index: MemoryIndex::default(),
            ledger: MemoryLedger::default(),
            exceptions: MemoryExceptions::default(),
            findings: MemoryFindings::default(),
            evidence: MemoryEvidence::default(),
            alerts: MemoryAlerts::default(),
            catalog: Catalog::builtin(),
            policy,
            redactor: Redactor::new(salt),
        }
    }
}

impl Ports for InMemoryPorts {
    type Index = MemoryIndex;
    type Ledger = MemoryLedger;
    type Exceptions = MemoryExceptions;
    type Findings = MemoryFindings;
    type Evidence = MemoryEvidence;
    type Alerts = MemoryAlerts;

    fn index(&self) -> &MemoryIndex {
        &self.index
    }
    fn ledger(&self) -> &MemoryLedger {
        &self.ledger
    }
    fn exceptions(&self) -> &MemoryExceptions {
        &self.exceptions
    }
    fn findings(&self) -> &MemoryFindings {
        &self.findings
    }
    fn evidence(&self) -> &MemoryEvidence {
        &self.evidence
    }
    fn alerts(&self) -> Option<&MemoryAlerts> {
        Some(&self.alerts)
    }
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn policy(&self) -> &Policy {
        &self.policy
    }
    fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}
