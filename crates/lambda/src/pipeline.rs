//! What every function does with the findings its detectors produce: apply exceptions, fold
//! each into its findings-table record (the lifecycle), write the evidence, and alert once.
//!
//! Idempotency (EventBridge and Streams deliver at least once):
//! * a finding equal to its stored record (a replay) is a no-op: no write, no evidence, no alert;
//! * evidence records are content-addressed and written with `If-None-Match: *`;
//! * the record is written with a conditional put (new) or a versioned update (existing), and
//!   only the invocation whose write succeeds alerts. The record is stored with the alert
//!   *due* (`alert_due`) before publishing and cleared after, so a publish that fails is
//!   retried by the platform's retry of the invocation (the error is transient) and a
//!   concurrent duplicate that sees a fresh pending alert backs off with a retryable error
//!   rather than publishing twice.

use crate::deps::Deps;
use crate::invocation::{HandlerError, Invocation};
use chrono::{DateTime, Duration, Utc};
use driftwatch_aws::{DynamoError, Inserted};
use driftwatch_core::evidence::{PutOutcome, Record};
use driftwatch_core::lifecycle::{self, AlertDecision, FindingRecord};
use driftwatch_core::Finding;
use serde::Serialize;
use std::collections::BTreeMap;
use tracing::{info, warn};

/// How long a pending alert claimed by another invocation is left to it.
const CLAIM_SECONDS: i64 = 60;

/// What recording a batch of findings did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// Findings handed in.
    pub findings: usize,
    /// Records created or changed.
    pub changed: usize,
    /// Replays of what the table already had.
    pub unchanged: usize,
    /// Alerts published.
    pub alerts: usize,
    /// Evidence records newly written.
    pub evidence: usize,
}

impl std::ops::AddAssign for Recorded {
    fn add_assign(&mut self, o: Self) {
        self.findings += o.findings;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.alerts += o.alerts;
        self.evidence += o.evidence;
    }
}

fn transient(what: &str, e: impl std::fmt::Display) -> HandlerError {
    crate::invocation::transient(format!("{what}: {e}"))
}

/// The finding as the record would hold it after folding `f` in (first/last seen widened).
fn is_replay(prev: &FindingRecord, f: &Finding) -> bool {
    if prev.alert_due.is_some() {
        return false;
    }
    let mut g = f.clone();
    g.first_seen = prev.first_seen.min(f.first_seen);
    g.last_seen = prev.last_seen.max(f.last_seen);
    g == prev.finding
}

/// Write one evidence record (write-once); returns whether it was new.
pub async fn write_evidence(deps: &Deps, record: &Record, written: DateTime<Utc>) -> Result<bool, HandlerError> {
    let bytes = record.to_bytes();
    let key = record.key("", &bytes, written);
    match deps.evidence.put_new(&key, &bytes).await {
        Ok(PutOutcome::Created) => Ok(true),
        Ok(PutOutcome::AlreadyPresent) => Ok(false),
        Err(e) => Err(transient("evidence", e)),
    }
}

/// Apply exceptions to `findings`, then record each (see the module documentation).
pub async fn record(deps: &Deps, mut findings: Vec<Finding>, inv: &Invocation) -> Result<Recorded, HandlerError> {
    let mut out = Recorded { findings: findings.len(), ..Default::default() };
    if findings.is_empty() {
        return Ok(out);
    }
    let exceptions = crate::exceptions::load(deps).await?;
    driftwatch_core::exceptions::apply(&mut findings, &exceptions, &deps.catalog, inv.now);
    for f in &findings {
        out += record_one(deps, f, inv).await?;
    }
    Ok(out)
}

async fn record_one(deps: &Deps, f: &Finding, inv: &Invocation) -> Result<Recorded, HandlerError> {
    let mut out = Recorded::default();
    for _attempt in 0..8 {
        let prev = deps.findings.get(&f.fingerprint).await.map_err(|e| transient("findings table", e))?;
        if let Some(p) = &prev {
            if is_replay(&p.record, f) {
                out.unchanged += 1;
                return Ok(out);
            }
            if p.record.alert_due.is_some()
                && p.record.last_alert_at.is_some_and(|t| inv.now - t < Duration::seconds(CLAIM_SECONDS))
                && is_replay_ignoring_due(&p.record, f)
            {
                return Err(HandlerError::Transient(format!(
                    "finding {}: an alert is being published by another invocation; retry",
                    f.fingerprint
                )));
            }
        }
        let mut quiet = BTreeMap::new();
        let (mut rec, decision) = lifecycle::observe(prev.as_ref().map(|p| &p.record), f, inv.now, Duration::zero(), &mut quiet);
        let alert = match decision {
            AlertDecision::Alert(reason) => {
                rec.alert_due = Some(reason);
                true
            }
            AlertDecision::NoAlert(_) => false,
        };
        let body = serde_json::to_value(&rec.finding).map_err(|e| transient("serialising a finding", e))?;
        let evidence = Record { kind: "finding".into(), time: rec.finding.last_seen, body };
        if write_evidence(deps, &evidence, inv.now).await? {
            out.evidence += 1;
        }
        let version = match &prev {
            None => match deps.findings.put_if_new(&rec).await {
                Ok(Inserted::Created) => 1,
                Ok(Inserted::AlreadyPresent) => continue,
                Err(e) => return Err(transient("findings table", e)),
            },
            Some(p) => match deps.findings.update(&rec, p.version).await {
                Ok(v) => v,
                Err(DynamoError::VersionConflict { .. }) => continue,
                Err(e) => return Err(transient("findings table", e)),
            },
        };
        out.changed += 1;
        if alert {
            publish(deps, &rec.finding).await?;
            out.alerts += 1;
            rec.alert_due = None;
            if let Err(e) = deps.findings.update(&rec, version).await {
                warn!(fingerprint = %f.fingerprint, error = %e, "alert sent but its record was changed meanwhile");
            }
        }
        info!(rule = %f.rule, fingerprint = %f.fingerprint, resource = %f.resource.id, alert, "finding recorded");
        return Ok(out);
    }
    Err(HandlerError::Transient(format!("finding {}: the findings table kept changing under us; retry", f.fingerprint)))
}

/// Like [`is_replay`], for a record whose alert is still due.
fn is_replay_ignoring_due(prev: &FindingRecord, f: &Finding) -> bool {
    let mut p = prev.clone();
    p.alert_due = None;
    is_replay(&p, f)
}

async fn publish(deps: &Deps, f: &Finding) -> Result<(), HandlerError> {
    let Some(alerts) = &deps.alerts else {
        return Ok(());
    };
    let published = alerts.notify(f, None).await.map_err(|e| transient("alerts topic", e))?;
    info!(rule = %f.rule, fingerprint = %f.fingerprint, message_id = %published.message_id, "alert published");
    Ok(())
}
