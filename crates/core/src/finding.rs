//! Findings: the one output shape of every detector.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// Stable rule ids (BRIEF.md). Tools and tests key on [`Rule::id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    DriftChanged,
    DriftMissing,
    DriftUnmanaged,
    ChangeConsole,
    ChangeOutOfBand,
    EncryptionRegression,
    LockContention,
    LockStale,
    LockForceUnlock,
    LockOutsidePipeline,
    StateUnlockedWrite,
    StateWrittenOutsidePipeline,
    StateLineageChanged,
    StateSerialRegression,
    StateDigestMismatch,
    ExceptionExpiring,
    ExceptionExpired,
    ExceptionInvalid,
    ExceptionChanged,
    WatcherTampered,
    WatcherSilent,
    ControlAuditWeakened,
    ControlPublicExposure,
    ControlIntegrityWeakened,
    ControlNetworkExposure,
    ControlDetectionDisabled,
    ControlIdentityRisk,
    InputInvalid,
}

impl Rule {
    /// All rules, in id order of BRIEF.md.
    pub const ALL: [Rule; 28] = [
        Rule::DriftChanged,
        Rule::DriftMissing,
        Rule::DriftUnmanaged,
        Rule::ChangeConsole,
        Rule::ChangeOutOfBand,
        Rule::EncryptionRegression,
        Rule::LockContention,
        Rule::LockStale,
        Rule::LockForceUnlock,
        Rule::LockOutsidePipeline,
        Rule::StateUnlockedWrite,
        Rule::StateWrittenOutsidePipeline,
        Rule::StateLineageChanged,
        Rule::StateSerialRegression,
        Rule::StateDigestMismatch,
        Rule::ExceptionExpiring,
        Rule::ExceptionExpired,
        Rule::ExceptionInvalid,
        Rule::ExceptionChanged,
        Rule::WatcherTampered,
        Rule::WatcherSilent,
        Rule::ControlAuditWeakened,
        Rule::ControlPublicExposure,
        Rule::ControlIntegrityWeakened,
        Rule::ControlNetworkExposure,
        Rule::ControlDetectionDisabled,
        Rule::ControlIdentityRisk,
        Rule::InputInvalid,
    ];

    /// The stable id, e.g. `drift.changed`.
    pub fn id(&self) -> &'static str {
        match self {
            Rule::DriftChanged => "drift.changed",
            Rule::DriftMissing => "drift.missing",
            Rule::DriftUnmanaged => "drift.unmanaged",
            Rule::ChangeConsole => "change.console",
            Rule::ChangeOutOfBand => "change.out_of_band",
            Rule::EncryptionRegression => "encryption.regression",
            Rule::LockContention => "lock.contention",
            Rule::LockStale => "lock.stale",
            Rule::LockForceUnlock => "lock.force_unlock",
            Rule::LockOutsidePipeline => "lock.outside_pipeline",
            Rule::StateUnlockedWrite => "state.unlocked_write",
            Rule::StateWrittenOutsidePipeline => "state.written_outside_pipeline",
            Rule::StateLineageChanged => "state.lineage_changed",
            Rule::StateSerialRegression => "state.serial_regression",
            Rule::StateDigestMismatch => "state.digest_mismatch",
            Rule::ExceptionExpiring => "exception.expiring",
            Rule::ExceptionExpired => "exception.expired",
            Rule::ExceptionInvalid => "exception.invalid",
            Rule::ExceptionChanged => "exception.changed",
            Rule::WatcherTampered => "watcher.tampered",
            Rule::WatcherSilent => "watcher.silent",
            Rule::ControlAuditWeakened => "control.audit_weakened",
            Rule::ControlPublicExposure => "control.public_exposure",
            Rule::ControlIntegrityWeakened => "control.integrity_weakened",
            Rule::ControlNetworkExposure => "control.network_exposure",
            Rule::ControlDetectionDisabled => "control.detection_disabled",
            Rule::ControlIdentityRisk => "control.identity_risk",
            Rule::InputInvalid => "input.invalid",
        }
    }

    /// Parse a stable id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// Severity used when the catalog does not set one.
    pub fn default_severity(&self) -> Severity {
        match self {
            Rule::EncryptionRegression | Rule::StateDigestMismatch | Rule::LockForceUnlock | Rule::StateWrittenOutsidePipeline => {
                Severity::High
            }
            Rule::ChangeConsole | Rule::DriftMissing | Rule::StateUnlockedWrite | Rule::ExceptionExpired | Rule::ExceptionChanged => {
                Severity::High
            }
            Rule::WatcherTampered | Rule::WatcherSilent => Severity::Critical,
            Rule::ControlAuditWeakened
            | Rule::ControlPublicExposure
            | Rule::ControlIntegrityWeakened
            | Rule::ControlNetworkExposure
            | Rule::ControlDetectionDisabled
            | Rule::ControlIdentityRisk => Severity::High,
            Rule::ExceptionExpiring | Rule::InputInvalid => Severity::Low,
            _ => Severity::Medium,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Rule::from_id(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown rule id {s:?}")))
    }
}

/// Severity, ordered `info < low < medium < high < critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a resource's desired state lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateRef {
    /// S3 bucket of the backend, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// State key (or local path).
    pub key: String,
    /// Workspace (`default` unless the key is `env:/<ws>/...`).
    pub workspace: String,
    pub serial: u64,
    pub lineage: String,
}

/// The resource a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// AWS Config resource type, e.g. `AWS::S3::Bucket`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// AWS Config resource id.
    pub id: String,
    /// The AWS account the resource is in, when known (its ARN, else the event or item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The AWS region the resource is in, when known; none for global resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Terraform address, when managed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<StateRef>,
}

impl ResourceRef {
    /// A resource known by its AWS Config type and id only.
    pub fn named(resource_type: impl Into<String>, id: impl Into<String>) -> ResourceRef {
        ResourceRef {
            arn: None,
            resource_type: resource_type.into(),
            id: id.into(),
            address: None,
            terraform_type: None,
            state: None,
            account: None,
            region: None,
        }
    }

    /// Where the resource is, as far as known.
    pub fn place(&self) -> crate::place::Place<'_> {
        crate::place::Place::new(self.account.as_deref(), self.region.as_deref())
    }

    /// Fill in the account and region not yet known: from the resource's ARN first, then from
    /// `around` (the event or item that named it) where it does not contradict the ARN. A
    /// region is not taken from `around` for a resource whose ARN names none (IAM, S3,
    /// CloudFront: global).
    pub fn locate(&mut self, around: crate::place::Place<'_>) {
        // driftwatch's own subjects (a Terraform state by its S3 location, an input) are named
        // alike by every signal that finds them, whatever account it came from: their quiet
        // period and their findings must not split by the signal's place.
        if self.resource_type.starts_with("driftwatch::") {
            return;
        }
        let from_arn = self.arn.as_deref().map(crate::place::Place::of_arn);
        if let Some(p) = from_arn {
            if self.account.is_none() {
                self.account = p.account.map(str::to_string);
            }
            if self.region.is_none() {
                self.region = p.region.map(str::to_string);
            }
        }
        if !self.place().agrees(around) {
            return;
        }
        if self.account.is_none() {
            self.account = around.account.map(str::to_string);
        }
        let arn_names_no_region =
            self.arn.as_deref().is_some_and(|a| a.starts_with("arn:")) && from_arn.is_some_and(|p| p.region.is_none());
        if self.region.is_none() && !arn_names_no_region {
            self.region = around.region.map(str::to_string);
        }
    }
}

/// How a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person in the AWS console.
    Console,
    /// The deployment pipeline (policy allowlist).
    Pipeline,
    /// An AWS service acting on someone's behalf (`invokedBy`).
    AwsService,
    /// Anyone else: CLI, SDK, scripts.
    Other,
}

/// Who made the change, when an event caused the finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub principal_arn: Option<String>,
    #[serde(default)]
    pub session_name: Option<String>,
    pub via_console: bool,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActorKind>,
}

/// One changed attribute. `desired` and `actual` are normalised and redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub desired: Value,
    pub actual: Value,
}

/// Lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Resolved,
    Suppressed,
}

/// A finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// One line for people.
    pub title: String,
    pub resource: ResourceRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    pub changes: Vec<Change>,
    pub controls: Vec<String>,
    pub fingerprint: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub status: Status,
    pub suppressed_by: Option<String>,
    pub evidence: Vec<String>,
    /// For `drift.unmanaged` of a catalogued type: the Terraform `import` block that brings
    /// the resource under Terraform (`driftwatch import` writes it with a resource block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportHint>,
}

/// A Terraform ≥ 1.5 `import { to = … id = … }`: the address to import to and the provider's
/// import id of the live resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImportHint {
    pub to: String,
    pub id: String,
}

/// Fingerprint of a finding: a hash of the rule and the identity of what it is about, so the
/// same problem on the same resource keeps the same fingerprint across runs and replays.
pub fn fingerprint(rule: Rule, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(rule.id().as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    crate::redact::hex(&h.finalize()[..16])
}

/// Deterministic order: most severe first, then rule, address, resource id.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then(a.resource.address.cmp(&b.resource.address))
            .then(a.resource.id.cmp(&b.resource.id))
            .then(a.fingerprint.cmp(&b.fingerprint))
    });
}

/// What to do about a finding of this rule: one or two sentences for the person on call.
pub fn what_to_do(rule: Rule) -> &'static str {
    match rule {
        Rule::DriftChanged => "Revert the live change by re-running the pipeline (terraform apply of this state), or, if the change is wanted, make it in the Terraform code and ship it through the pipeline. If it must stay for now, open an exception with an owner and an expiry.",
        Rule::DriftMissing => "Find out who deleted the resource (CloudTrail) and restore it through the pipeline (terraform apply recreates it); if the deletion was intended, remove it from the Terraform code, never with a hand-run terraform state rm.",
        Rule::DriftUnmanaged => "Import the resource into Terraform (an import block in the code) or delete it through the owning team; if it must exist outside Terraform, open an exception naming its owner.",
        Rule::ChangeConsole => "A person changed a managed resource in the console. Contact them, revert via the pipeline (terraform apply), and remind them that production changes go through the pipeline. Review the session in CloudTrail.",
        Rule::ChangeOutOfBand => "A managed resource was changed outside the pipeline (CLI, SDK or script). Identify the caller, revert via the pipeline (terraform apply), and restrict the principal's write access.",
        Rule::EncryptionRegression => "Restore the encryption setting now via the pipeline (terraform apply of this state) and check whether regulated data was written while it was weakened; treat it as a potential security incident.",
        Rule::LockContention => "Two runs wanted the same state lock. Check that the pipeline serialises runs of this state and that nobody is running terraform by hand.",
        Rule::LockStale => "A state lock has been held too long. Check whether its run is still alive before anything else; only if it is dead, release the lock with terraform force-unlock from the pipeline.",
        Rule::LockForceUnlock => "A state lock was removed by force. Confirm with whoever did it that no run was in progress, then run a plan to check the state is consistent.",
        Rule::LockOutsidePipeline => "A state lock was taken by someone other than the pipeline. Find out who is running terraform by hand against production and stop it.",
        Rule::StateUnlockedWrite => "The state was written without holding its lock. Find the writer, check the state for lost updates (compare with the previous version), and enforce locking.",
        Rule::StateWrittenOutsidePipeline => "The state was written by someone other than the pipeline. Compare the new version with the previous one and restore the previous version if the write was not authorised.",
        Rule::StateLineageChanged => "The state's lineage changed: a different state was pushed over this one. Restore the previous version from the bucket's version history unless this was a planned migration.",
        Rule::StateSerialRegression => "The state's serial went backwards: an older state was pushed. Restore the newest version from the bucket's version history and find out who pushed the old one.",
        Rule::StateDigestMismatch => "The state's checksum does not match the lock table's digest. Verify the state against its previous version before the next apply; it may have been edited by hand.",
        Rule::ExceptionExpiring => "The exception expires soon. Its owner should fix the underlying finding or renew the exception with a new approval before it expires.",
        Rule::ExceptionChanged => "An exception was created, changed or deleted in the exceptions table. Check that the change went through review (ticket, approver other than the requester) and that its selector is no broader than it must be; revert it if not.",
        Rule::WatcherTampered => "Someone disabled or changed a part of driftwatch itself (an EventBridge rule or target, an alert subscription, a function, its key, the trail, the Config recorder or the evidence bucket policy). Treat it as a security incident: restore it through the pipeline and review what happened while the watcher was blind.",
        Rule::WatcherSilent => "A watcher has seen none of the sweeper's heartbeats for longer than the policy allows: its trigger (the trail, AWS Config, an EventBridge rule or target) or the function itself no longer delivers. Until it is restored nothing of that kind is detected: find what stopped it, restore it through the pipeline, and replay the gap (CloudTrail log files, a reconcile).",
        Rule::ControlAuditWeakened => "An audit safeguard was weakened (a trail stopped, deleted or narrowed, the Config recorder stopped, flow logs, access logs or query logs deleted, log retention cut). Restore it through the pipeline and look at what happened while it was off.",
        Rule::ControlPublicExposure => "Data was made reachable from outside (a public access block removed, a policy or ACL granting everyone, a database or snapshot made public or shared outside the organisation). Revert it now and check the access logs for reads while it was open.",
        Rule::ControlIntegrityWeakened => "A recovery or integrity safeguard was weakened (versioning suspended, deletion protection off, backups or retention cut, a backup vault or plan deleted, replication or Object Lock removed). Restore it through the pipeline.",
        Rule::ControlNetworkExposure => "The network was opened (administrative or database ports open to the internet, a route to an internet gateway, a gateway attached). Close it through the pipeline and check the flow logs.",
        Rule::ControlDetectionDisabled => "A detection tool was disabled (GuardDuty, Security Hub, Macie, Access Analyzer, a WAF web ACL). Turn it back on through the pipeline; findings it would have raised meanwhile are lost.",
        Rule::ControlIdentityRisk => "An identity safeguard was weakened (an administrator policy attached, a trust opened to another account or to anyone, a login profile or access key made for another user, MFA deactivated, root used). Review the principal and revert through the pipeline.",
        Rule::ExceptionExpired => "The exception has expired and the findings it covered are open again. Fix them through the pipeline, or have the owner renew the exception with a new approval.",
        Rule::ExceptionInvalid => "The exception is invalid and suppresses nothing. Fix it in the exceptions file (driftwatch exceptions check names the line and field).",
        Rule::InputInvalid => "An input could not be decoded. Check the named source; the rest of the batch was processed.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Rule::ALL {
            assert_eq!(Rule::from_id(r.id()), Some(r));
            assert!(seen.insert(r.id()));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Rule>(&json).unwrap(), r);
        }
        assert_eq!(seen.len(), 28);
    }

    #[test]
    fn fingerprint_depends_on_every_part() {
        let a = fingerprint(Rule::DriftChanged, &["l", "aws_s3_bucket.a"]);
        assert_eq!(a, fingerprint(Rule::DriftChanged, &["l", "aws_s3_bucket.a"]));
        assert_ne!(a, fingerprint(Rule::DriftMissing, &["l", "aws_s3_bucket.a"]));
        assert_ne!(a, fingerprint(Rule::DriftChanged, &["l", "aws_s3_bucket.b"]));
        assert_ne!(fingerprint(Rule::DriftChanged, &["ab", "c"]), fingerprint(Rule::DriftChanged, &["a", "bc"]));
    }
}
