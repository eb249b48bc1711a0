//! `record`: what every function does with the findings its detectors produce. Apply the
//! exceptions, fold each finding into its record (the lifecycle), write the evidence, and
//! alert once.
//!
//! Idempotency (EventBridge and Streams deliver at least once):
//! * a finding equal to its stored record (a replay) is a no-op: no write, no evidence, no alert;
//! * evidence records are content-addressed and written with `If-None-Match: *`;
//! * the record is written with a conditional put (new) or a versioned update (existing), and
//!   only the invocation whose write succeeds alerts. The record is stored with the alert
//!   *due* (`alert_due`) before publishing and cleared after, so a publish that fails is
//!   retried by the platform's retry of the invocation (a [`Retry`]) and a concurrent
//!   duplicate that sees a fresh pending alert backs off with a [`Retry`] rather than
//!   publishing twice.

use crate::ports::{Ports, Retry};
use chrono::{DateTime, Duration, Utc};
use driftwatch_core::evidence::{PutOutcome, Record};
use driftwatch_core::lifecycle::{self, AlertDecision, FindingRecord, Resolve};
use driftwatch_core::ports::{AlertSink, EvidenceWriter, ExceptionSource, FindingStore, Inserted, Ledger, PortError};
use driftwatch_core::Finding;
use serde::Serialize;
use std::collections::BTreeMap;
use tracing::{info, warn};

/// The ledger kind of the resources' quiet periods (key: `lifecycle::resource_key`).
const QUIET: &str = "quiet";

/// How long a pending alert claimed by another invocation is left to it.
const CLAIM_SECONDS: i64 = 60;

/// How often a record is read and folded again after losing a conditional write.
const ATTEMPTS: usize = 8;

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
    /// Open findings closed (their condition no longer holds).
    pub resolved: usize,
}

impl std::ops::AddAssign for Recorded {
    fn add_assign(&mut self, o: Self) {
        self.findings += o.findings;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.alerts += o.alerts;
        self.evidence += o.evidence;
        self.resolved += o.resolved;
    }
}

/// Whether `f` folded into `prev` changes nothing (first/last seen widened).
fn is_replay(prev: &FindingRecord, f: &Finding) -> bool {
    if prev.alert_due.is_some() {
        return false;
    }
    if prev.status == lifecycle::LifecycleStatus::Resolved {
        // Reported before the resolution (a late or redelivered event): it stays resolved,
        // and is new only if it widens the first sighting. After it: it reopens.
        return prev.resolved_at.is_some_and(|at| f.last_seen < at) && f.first_seen >= prev.first_seen;
    }
    if f.last_seen < prev.last_seen {
        // A report older than the record's newest (a late or redelivered event): the record
        // keeps the newer report, so it is new only if it widens the first sighting.
        return f.first_seen >= prev.first_seen;
    }
    let mut g = f.clone();
    g.first_seen = prev.first_seen.min(f.first_seen);
    g.last_seen = prev.last_seen.max(f.last_seen);
    g == prev.finding
}

/// Like [`is_replay`], for a record whose alert is still due.
fn is_replay_ignoring_due(prev: &FindingRecord, f: &Finding) -> bool {
    let mut p = prev.clone();
    p.alert_due = None;
    is_replay(&p, f)
}

/// Write one evidence record (write-once), keyed by `written`; whether it was new.
pub async fn write_evidence(evidence: &impl EvidenceWriter, record: &Record, written: DateTime<Utc>) -> Result<bool, Retry> {
    let bytes = record.to_bytes();
    let key = record.key("", &bytes, written);
    match evidence.put_new(&key, &bytes).await? {
        PutOutcome::Created => Ok(true),
        PutOutcome::AlreadyPresent => Ok(false),
    }
}

/// Apply the exceptions to `findings`, then record each (see the module documentation).
/// `now` is the invocation's clock: it dates the evidence and decides which exceptions are in
/// force.
pub async fn record(ports: &impl Ports, findings: Vec<Finding>, now: DateTime<Utc>) -> Result<Recorded, Retry> {
    record_with(ports, &mut Exceptions::default(), findings, now).await
}

/// The exceptions of a batch, loaded once, when the first finding needs them.
#[derive(Default)]
pub struct Exceptions(Option<driftwatch_core::exceptions::Exceptions>);

/// [`record`] with the batch's exceptions (loaded on first use).
pub async fn record_with(
    ports: &impl Ports,
    exceptions: &mut Exceptions,
    mut findings: Vec<Finding>,
    now: DateTime<Utc>,
) -> Result<Recorded, Retry> {
    let mut out = Recorded { findings: findings.len(), ..Default::default() };
    if findings.is_empty() {
        return Ok(out);
    }
    // A table that cannot be read fails the invocation (retried): recording findings without
    // the exceptions would alert on excepted resources.
    if exceptions.0.is_none() {
        exceptions.0 = Some(ports.exceptions().load(&ports.policy().exceptions).await?);
    }
    let exceptions = exceptions.0.as_ref().expect("loaded");
    driftwatch_core::exceptions::apply(&mut findings, exceptions, ports.catalog(), now);
    // Most severe first: when the quiet period lets one alert through for a resource, it is
    // the one that matters most.
    driftwatch_core::finding::sort(&mut findings);
    for f in &findings {
        out += record_one(ports, f, now).await?;
    }
    Ok(out)
}

async fn record_one(ports: &impl Ports, f: &Finding, now: DateTime<Utc>) -> Result<Recorded, Retry> {
    let mut out = Recorded::default();
    let table = ports.findings();
    let quiet_period = ports.policy().alerts.quiet_period();
    let resource = lifecycle::resource_key(f);
    for _attempt in 0..ATTEMPTS {
        let prev = table.get(&f.fingerprint).await?;
        // The resource's last alert (any rule): its quiet period holds alerts back — unless the
        // window is this finding's own (its alert was claimed, then recording or publishing it
        // failed: the retry).
        let claimed = ports.ledger().claimed(QUIET, &resource).await?;
        let own = claimed.as_ref().is_some_and(|(_, owner)| *owner == f.fingerprint);
        let last_alert = claimed.map(|(t, _)| t);
        let quiet_open = !own && last_alert.is_some_and(|t| now < t + quiet_period);
        if let Some(p) = &prev {
            if is_replay(&p.record, f) {
                out.unchanged += 1;
                return Ok(out);
            }
            if p.record.alert_due.is_some() && quiet_open && is_replay_ignoring_due(&p.record, f) {
                // Held back by the resource's quiet period, not being published: a replay.
                out.unchanged += 1;
                return Ok(out);
            }
            // An alert claimed for this finding moments ago and still due is being published
            // by another invocation (or its publisher died: the claim lapses). Whatever this
            // report is — a redelivery or a different event of the same finding — folding it
            // in now would publish a second alert: back off, and the platform's retry folds
            // it in after the publish (quietly) or takes the lapsed claim over.
            let fresh = p.record.last_alert_at.is_some_and(|t| now - t < Duration::seconds(CLAIM_SECONDS));
            if p.record.alert_due.is_some() && fresh && (own || quiet_period.is_zero()) {
                return Err(Retry(format!("finding {}: an alert is being published by another invocation; retry", f.fingerprint)));
            }
        }
        let mut alerts = BTreeMap::new();
        if let Some(t) = last_alert.filter(|_| !own) {
            alerts.insert(resource.clone(), t);
        }
        let (mut rec, decision) = lifecycle::observe(prev.as_ref().map(|p| &p.record), f, now, quiet_period, &mut alerts);
        let alert = match decision {
            // The quiet period is claimed across instances: of two findings on one resource
            // alerting at once, one alerts and the other is held back.
            AlertDecision::Alert(reason)
                if quiet_period.is_zero() || ports.ledger().claim(QUIET, &resource, &f.fingerprint, now, quiet_period).await? =>
            {
                rec.alert_due = Some(reason);
                true
            }
            AlertDecision::Alert(reason) => {
                // Another instance alerted on this resource meanwhile: held back, still due.
                rec.alert_due = Some(reason);
                rec.last_alert_at = prev.as_ref().and_then(|p| p.record.last_alert_at);
                rec.last_alerted_severity = prev.as_ref().and_then(|p| p.record.last_alerted_severity);
                false
            }
            AlertDecision::NoAlert(_) => false,
        };
        let body = serde_json::to_value(&rec.finding).map_err(|e| Retry(format!("serialising finding {}: {e}", f.fingerprint)))?;
        let evidence = Record { kind: "finding".into(), time: rec.finding.last_seen, body };
        if write_evidence(ports.evidence(), &evidence, now).await? {
            out.evidence += 1;
        }
        let version = match &prev {
            None => match table.put_if_new(&rec).await? {
                Inserted::Created => 1,
                Inserted::AlreadyPresent => continue,
            },
            Some(p) => match table.update(&rec, p.version).await {
                Ok(v) => v,
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            },
        };
        out.changed += 1;
        if alert {
            publish(ports, &rec.finding).await?;
            out.alerts += 1;
            rec.alert_due = None;
            if let Err(e) = table.update(&rec, version).await {
                warn!(fingerprint = %f.fingerprint, error = %e, "alert sent but its record was changed meanwhile");
            }
        }
        info!(rule = %f.rule, fingerprint = %f.fingerprint, resource = %f.resource.id, alert, "finding recorded");
        return Ok(out);
    }
    Err(Retry(format!("finding {}: the findings table kept changing under us; retry", f.fingerprint)))
}

async fn publish(ports: &impl Ports, f: &Finding) -> Result<(), Retry> {
    let Some(alerts) = ports.alerts() else {
        return Ok(());
    };
    let message_id = alerts.alert(f).await?;
    info!(rule = %f.rule, fingerprint = %f.fingerprint, message_id = %message_id, "alert published");
    Ok(())
}

/// Close the open findings that `resolves` names ([`lifecycle::resolve_by`]: not one reported
/// after the observation that resolves it), each with a `finding` evidence record of the
/// resolved finding timed at the resolution (the reports' time to resolve). A finding not in
/// the table, or resolved already, is left alone, so a replay changes nothing. A later report
/// of the finding reopens it and alerts.
pub async fn resolve(ports: &impl Ports, resolves: Vec<Resolve>, now: DateTime<Utc>) -> Result<Recorded, Retry> {
    let mut out = Recorded::default();
    'each: for r in resolves {
        for _attempt in 0..ATTEMPTS {
            let Some(prev) = ports.findings().get(&r.fingerprint).await? else { continue 'each };
            let Some(rec) = lifecycle::resolve_by(&prev.record, &r) else { continue 'each };
            let body = serde_json::to_value(&rec.finding).map_err(|e| Retry(format!("serialising finding {}: {e}", r.fingerprint)))?;
            if write_evidence(ports.evidence(), &Record { kind: "finding".into(), time: r.at, body }, now).await? {
                out.evidence += 1;
            }
            match ports.findings().update(&rec, prev.version).await {
                Ok(_) => {
                    info!(rule = %rec.finding.rule, fingerprint = %r.fingerprint, reason = ?r.reason, "finding resolved");
                    out.resolved += 1;
                    continue 'each;
                }
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        return Err(Retry(format!("finding {}: the findings table kept changing under us; retry", r.fingerprint)));
    }
    Ok(out)
}

/// What [`publish_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DueAlerts {
    /// Alerts published now.
    pub sent: usize,
    /// Alerts still held (their resource's quiet period, or a publish in flight).
    pub waiting: usize,
}

/// Publish the alerts still due: held back by a resource's quiet period that has ended, or left
/// due by a publisher that failed and was not retried. The sweeper runs it, so a held alert
/// goes out even when its finding is not observed again. Each claims its resource's quiet
/// period first (so it never doubles an alert a watcher is sending), and its record is updated
/// at the version read (a record changed meanwhile is left to the next run).
pub async fn publish_due(ports: &impl Ports, now: DateTime<Utc>) -> Result<DueAlerts, Retry> {
    let mut out = DueAlerts::default();
    let quiet_period = ports.policy().alerts.quiet_period();
    for stored in ports.findings().due().await? {
        let mut rec = stored.record;
        let f = rec.finding.clone();
        let resource = lifecycle::resource_key(&f);
        let claimed = ports.ledger().claimed(QUIET, &resource).await?;
        let own = claimed.as_ref().is_some_and(|(_, owner)| *owner == f.fingerprint);
        let in_flight = own && rec.last_alert_at.is_some_and(|t| now - t < Duration::seconds(CLAIM_SECONDS));
        let quiet = !own && claimed.as_ref().is_some_and(|(t, _)| now < *t + quiet_period);
        if in_flight
            || quiet
            || !(quiet_period.is_zero() || ports.ledger().claim(QUIET, &resource, &f.fingerprint, now, quiet_period).await?)
        {
            out.waiting += 1;
            continue;
        }
        publish(ports, &f).await?;
        rec.alert_due = None;
        rec.last_alert_at = Some(now);
        rec.last_alerted_severity = Some(f.severity);
        match ports.findings().update(&rec, stored.version).await {
            Ok(_) => {}
            Err(PortError::Conflict(_)) => warn!(fingerprint = %f.fingerprint, "due alert sent but its record was changed meanwhile"),
            Err(e) => return Err(e.into()),
        }
        info!(rule = %f.rule, fingerprint = %f.fingerprint, "due alert published");
        out.sent += 1;
    }
    Ok(out)
}
