//! The findings lifecycle: open → resolved → reopened (open again), and when to alert.
//!
//! A [`FindingRecord`] is what the findings table keeps per fingerprint. Each time a detector
//! reports a finding, [`observe`] folds it into the previous record and decides whether to
//! alert. When the finding's condition goes away (live matches desired again, the resource is
//! gone, or the state changed to match), [`resolve`] closes it.
//!
//! Alerts are sent only when a finding opens, reopens, or its severity rises above what was
//! last alerted, and never for a suppressed finding (`suppressed_by` set: an exception covers
//! it; when that exception expires, `exception.expired` is the alert). Events arrive in bursts
//! and EventBridge delivers at least once, so alerts are also rate-limited per *resource*: at
//! most one alert per resource within the quiet period, whatever the rule. An alert held back
//! by the quiet period stays due in the record and goes out with the first observation after
//! the period, carrying the finding as it is then (one alert for the burst).
//!
//! The per-resource times live behind the small [`ResourceAlerts`] port (a DynamoDB item per
//! resource in AWS; a map locally and in tests).

use crate::finding::{Finding, Severity};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default quiet period per resource.
pub const DEFAULT_QUIET_PERIOD_MINUTES: i64 = 15;

/// Lifecycle status of a record. A reopened finding is `Open` again (with `reopened` counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStatus {
    Open,
    Resolved,
}

/// Why a finding was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The live configuration matches the desired state again.
    LiveMatches,
    /// The resource no longer exists (and is no longer in state).
    ResourceGone,
    /// The Terraform state changed to match the live configuration.
    StateChanged,
}

/// Why an alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AlertReason {
    Opened,
    Reopened,
    SeverityIncreased { from: Severity, to: Severity },
}

/// Why no alert is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Quiet {
    /// Nothing new: already alerted at this severity.
    NothingNew,
    /// A late duplicate of an event from before the finding was resolved: it stays resolved.
    Stale,
    /// An exception covers the finding.
    Suppressed,
    /// Another alert for the same resource went out less than the quiet period ago; the
    /// alert stays due until then.
    QuietPeriod { until: DateTime<Utc> },
}

/// The decision [`observe`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertDecision {
    Alert(AlertReason),
    NoAlert(Quiet),
}

impl AlertDecision {
    pub fn is_alert(&self) -> bool {
        matches!(self, AlertDecision::Alert(_))
    }
}

/// What the findings table keeps per fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The latest version of the finding (its `first_seen`/`last_seen` are the record's).
    pub finding: Finding,
    pub status: LifecycleStatus,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many times a detector reported it (duplicates included).
    pub occurrences: u64,
    /// How many times it reopened after being resolved.
    pub reopened: u32,
    pub last_alert_at: Option<DateTime<Utc>>,
    /// The severity last alerted, or seen while suppressed (so lifting an exception alone
    /// does not alert; a later rise does).
    pub last_alerted_severity: Option<Severity>,
    /// An alert not yet sent (held back by the quiet period).
    pub alert_due: Option<AlertReason>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<Resolution>,
}

/// Port: when the last alert about a resource went out, by resource identity
/// ([`resource_key`]).
pub trait ResourceAlerts {
    fn last_alert(&self, resource: &str) -> Option<DateTime<Utc>>;
    fn note_alert(&mut self, resource: &str, at: DateTime<Utc>);
}

impl ResourceAlerts for BTreeMap<String, DateTime<Utc>> {
    fn last_alert(&self, resource: &str) -> Option<DateTime<Utc>> {
        self.get(resource).copied()
    }
    fn note_alert(&mut self, resource: &str, at: DateTime<Utc>) {
        let e = self.entry(resource.to_string()).or_insert(at);
        *e = (*e).max(at);
    }
}

/// The identity a quiet period is kept under: the ARN, else the Config type and id (after the
/// account and region, when known: the same id in two accounts is two resources).
pub fn resource_key(f: &Finding) -> String {
    let r = &f.resource;
    match (&r.arn, &r.account, &r.region) {
        (Some(arn), _, _) => arn.clone(),
        (None, None, None) => format!("{}/{}", r.resource_type, r.id),
        (None, a, g) => format!("{}/{}/{}/{}", a.as_deref().unwrap_or(""), g.as_deref().unwrap_or(""), r.resource_type, r.id),
    }
}

/// Fold a new report of a finding into its record (`prev`, `None` the first time) at `now`,
/// and decide whether to alert. `alerts` is read for the quiet period and updated when the
/// decision is to alert.
pub fn observe(
    prev: Option<&FindingRecord>,
    new: &Finding,
    now: DateTime<Utc>,
    quiet_period: Duration,
    alerts: &mut dyn ResourceAlerts,
) -> (FindingRecord, AlertDecision) {
    let mut rec = match prev {
        None => FindingRecord {
            finding: new.clone(),
            status: LifecycleStatus::Open,
            first_seen: new.first_seen,
            last_seen: new.last_seen,
            occurrences: 1,
            reopened: 0,
            last_alert_at: None,
            last_alerted_severity: None,
            alert_due: Some(AlertReason::Opened),
            resolved_at: None,
            resolution: None,
        },
        Some(p) if p.status == LifecycleStatus::Resolved && p.resolved_at.is_some_and(|at| new.last_seen < at) => {
            // EventBridge redelivers and events arrive out of order: an event older than the
            // resolution does not reopen the finding.
            let mut r = p.clone();
            r.occurrences += 1;
            r.first_seen = r.first_seen.min(new.first_seen);
            return (r, AlertDecision::NoAlert(Quiet::Stale));
        }
        Some(p) => {
            let mut r = p.clone();
            r.occurrences += 1;
            r.first_seen = r.first_seen.min(new.first_seen);
            r.last_seen = r.last_seen.max(new.last_seen);
            if r.status == LifecycleStatus::Resolved {
                r.status = LifecycleStatus::Open;
                r.reopened += 1;
                r.resolved_at = None;
                r.resolution = None;
                r.alert_due = Some(AlertReason::Reopened);
            } else if r.alert_due.is_none() {
                let base = r.last_alerted_severity.unwrap_or(p.finding.severity);
                if new.severity > base {
                    r.alert_due = Some(AlertReason::SeverityIncreased { from: base, to: new.severity });
                }
            } else if let Some(AlertReason::SeverityIncreased { from, .. }) = r.alert_due {
                // Still held back: the alert will say the latest severity.
                r.alert_due = (new.severity > from).then_some(AlertReason::SeverityIncreased { from, to: new.severity });
            }
            // A late event (older than what the record holds: CloudTrail delivers minutes
            // late, EventBridge out of order) widens the record's times and counts, but does
            // not replace the newer report's actor and changes.
            if new.last_seen >= p.last_seen {
                r.finding = new.clone();
            }
            r
        }
    };
    rec.finding.first_seen = rec.first_seen;
    rec.finding.last_seen = rec.last_seen;

    if new.suppressed_by.is_some() {
        // Suppressed findings never alert, not even later: the exception's expiry alerts. The
        // severity it had while covered counts as known, so lifting the exception alone does
        // not alert either; only a later rise does.
        rec.alert_due = None;
        rec.last_alerted_severity = Some(rec.last_alerted_severity.map_or(new.severity, |s| s.max(new.severity)));
        return (rec, AlertDecision::NoAlert(Quiet::Suppressed));
    }
    let Some(reason) = rec.alert_due else {
        return (rec, AlertDecision::NoAlert(Quiet::NothingNew));
    };
    let key = resource_key(new);
    if let Some(last) = alerts.last_alert(&key) {
        let until = last + quiet_period;
        if now < until {
            return (rec, AlertDecision::NoAlert(Quiet::QuietPeriod { until }));
        }
    }
    alerts.note_alert(&key, now);
    rec.alert_due = None;
    rec.last_alert_at = Some(now);
    rec.last_alerted_severity = Some(new.severity);
    (rec, AlertDecision::Alert(reason))
}

/// A finding a signal shows resolved: its condition no longer held at `at` (the time of the
/// observation: a Config item's capture time, a state write's time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolve {
    pub fingerprint: String,
    pub reason: Resolution,
    pub at: DateTime<Utc>,
}

/// Close `prev` as `r` says, or `None` when nothing changes: it is resolved already, or it was
/// reported after `r`'s observation (a Config item captured before a console edit, delivered
/// after it, does not resolve the edit).
pub fn resolve_by(prev: &FindingRecord, r: &Resolve) -> Option<FindingRecord> {
    if prev.status == LifecycleStatus::Resolved || prev.last_seen > r.at {
        return None;
    }
    Some(resolve(prev, r.at, r.reason))
}

/// Close a record: the finding's condition no longer holds.
pub fn resolve(prev: &FindingRecord, now: DateTime<Utc>, reason: Resolution) -> FindingRecord {
    let mut r = prev.clone();
    if r.status == LifecycleStatus::Resolved {
        return r;
    }
    r.status = LifecycleStatus::Resolved;
    r.resolved_at = Some(now);
    r.resolution = Some(reason);
    r.alert_due = None;
    r.finding.status = crate::finding::Status::Resolved;
    r
}
