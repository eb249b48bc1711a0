//! The engine's `record` over in-memory ports, with faults injected into the ports: at least
//! once, concurrent writers, and a publish that fails.

use chrono::{DateTime, TimeZone, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::evidence::PutOutcome;
use driftwatch_core::finding::Finding;
use driftwatch_core::lifecycle::FindingRecord;
use driftwatch_core::policy::Policy;
use driftwatch_core::ports::{AlertSink, EvidenceWriter, FindingStore, Inserted, PortError, PortResult, Stored};
use driftwatch_core::redact::Redactor;
use driftwatch_core::signal::InvalidInput;
use driftwatch_engine::in_memory::{InMemoryPorts, MemoryAlerts, MemoryExceptions, MemoryFindings, MemoryIndex, MemoryLedger};
use driftwatch_engine::{record, Ports, Recorded};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

/// Run a future of the in-memory ports: they never wait, so it is ready at its first poll.
fn now_or_never<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory port waited"),
    }
}

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap()
}

fn policy() -> Policy {
    Policy::from_toml("").expect("the default policy")
}

/// A real finding of the catalog: an `input.invalid` about `source`.
fn finding(ports: &impl Ports, source: &str, t: DateTime<Utc>) -> Finding {
    let bad = InvalidInput { source: source.into(), index: Some(3), message: "not JSON".into() };
    driftwatch_engine::signal::invalid(ports, &bad, t)
}

#[test]
fn a_finding_delivered_five_times_is_one_record_one_evidence_record_one_alert() {
    let ports = InMemoryPorts::new(policy(), b"salt");
    let f = finding(&ports, "s3://logs/a.json.gz", at(10));
    let mut total = Recorded::default();
    for _ in 0..5 {
        total += now_or_never(record(&ports, vec![f.clone()], at(11))).expect("record");
    }
    assert_eq!(total, Recorded { findings: 5, changed: 1, unchanged: 4, alerts: 1, evidence: 1, resolved: 0 });
    assert_eq!(ports.findings.records().len(), 1);
    assert_eq!(ports.evidence.objects().len(), 1);
    assert_eq!(ports.alerts.sent(), vec![f]);
}

/// The findings table of [`Faulty`]: the first `update`s lose to a concurrent writer (the
/// stored version moves on under them).
#[derive(Default)]
struct RacingFindings {
    inner: MemoryFindings,
    lose: AtomicUsize,
}

impl FindingStore for RacingFindings {
    async fn get(&self, fingerprint: &str) -> PortResult<Option<Stored>> {
        self.inner.get(fingerprint).await
    }
    async fn put_if_new(&self, record: &FindingRecord) -> PortResult<Inserted> {
        self.inner.put_if_new(record).await
    }
    async fn due(&self) -> PortResult<Vec<Stored>> {
        self.inner.due().await
    }
    async fn update(&self, record: &FindingRecord, expected_version: u64) -> PortResult<u64> {
        if self.lose.load(Ordering::SeqCst) > 0 {
            self.lose.fetch_sub(1, Ordering::SeqCst);
            // Someone else wrote the record meanwhile (same content, next version).
            let current = self.inner.get(&record.finding.fingerprint).await?.expect("stored");
            self.inner.update(&current.record, current.version).await?;
            return Err(PortError::Conflict(format!("not at version {expected_version}")));
        }
        self.inner.update(record, expected_version).await
    }
}

/// An alerts topic that fails its first `fail` publishes.
#[derive(Default)]
struct FlakyAlerts {
    inner: MemoryAlerts,
    fail: AtomicUsize,
}

impl AlertSink for FlakyAlerts {
    async fn alert(&self, finding: &Finding) -> PortResult<String> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::failed("alerts topic", "503 Service Unavailable"));
        }
        self.inner.alert(finding).await
    }
}

/// Evidence that fails its first `fail` writes.
#[derive(Default)]
struct FlakyEvidence {
    inner: driftwatch_engine::in_memory::MemoryEvidence,
    fail: AtomicUsize,
}

impl EvidenceWriter for FlakyEvidence {
    async fn put_new(&self, key: &str, bytes: &[u8]) -> PortResult<PutOutcome> {
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(PortError::failed("evidence", "SlowDown"));
        }
        self.inner.put_new(key, bytes).await
    }
}

/// In-memory ports with faults.
struct Faulty {
    base: InMemoryPorts,
    findings: RacingFindings,
    alerts: FlakyAlerts,
    evidence: FlakyEvidence,
}

impl Faulty {
    fn new() -> Self {
        Faulty {
            base: InMemoryPorts::new(policy(), b"salt"),
            findings: Default::default(),
            alerts: Default::default(),
            evidence: Default::default(),
        }
    }
}

impl Ports for Faulty {
    type Index = MemoryIndex;
    type Ledger = MemoryLedger;
    type Exceptions = MemoryExceptions;
    type Findings = RacingFindings;
    type Evidence = FlakyEvidence;
    type Alerts = FlakyAlerts;
    fn index(&self) -> &MemoryIndex {
        &self.base.index
    }
    fn ledger(&self) -> &MemoryLedger {
        &self.base.ledger
    }
    fn exceptions(&self) -> &MemoryExceptions {
        &self.base.exceptions
    }
    fn findings(&self) -> &RacingFindings {
        &self.findings
    }
    fn evidence(&self) -> &FlakyEvidence {
        &self.evidence
    }
    fn alerts(&self) -> Option<&FlakyAlerts> {
        Some(&self.alerts)
    }
    fn catalog(&self) -> &Catalog {
        &self.base.catalog
    }
    fn policy(&self) -> &Policy {
        &self.base.policy
    }
    fn redactor(&self) -> &Redactor {
        &self.base.redactor
    }
}

#[test]
fn a_write_lost_to_a_concurrent_writer_is_read_and_folded_again() {
    let ports = Faulty::new();
    let first = finding(&ports, "s3://logs/b.json.gz", at(10));
    now_or_never(record(&ports, vec![first.clone()], at(10))).expect("first");
    // A later sighting widens last_seen: an update, which loses twice before it lands.
    let later = finding(&ports, "s3://logs/b.json.gz", at(12));
    ports.findings.lose.store(2, Ordering::SeqCst);
    let r = now_or_never(record(&ports, vec![later.clone()], at(12))).expect("recorded after two conflicts");
    assert_eq!(r.changed, 1, "{r:?}");
    assert_eq!(ports.findings.lose.load(Ordering::SeqCst), 0, "both conflicts were met");
    let stored = now_or_never(ports.findings.get(&first.fingerprint)).unwrap().expect("stored");
    assert_eq!(stored.record.finding.last_seen, at(12));
    assert_eq!(stored.record.finding.first_seen, at(10));
    assert_eq!(ports.alerts.inner.sent().len(), 1, "one alert, for the first sighting");
}

#[test]
fn a_failed_publish_is_retried_and_alerts_once() {
    let ports = Faulty::new();
    let f = finding(&ports, "s3://logs/c.json.gz", at(10));
    ports.alerts.fail.store(1, Ordering::SeqCst);
    let err = now_or_never(record(&ports, vec![f.clone()], at(10))).expect_err("the publish failed: the invocation is retried");
    assert!(err.0.contains("503"), "{err}");
    let stored = now_or_never(ports.findings.get(&f.fingerprint)).unwrap().expect("stored with its alert due");
    assert!(stored.record.alert_due.is_some(), "the alert stays due until published");
    // The platform retries the invocation (after the claim on the pending alert lapsed).
    now_or_never(record(&ports, vec![f.clone()], at(11))).expect("the retry");
    now_or_never(record(&ports, vec![f.clone()], at(12))).expect("a redelivery");
    assert_eq!(ports.alerts.inner.sent(), vec![f.clone()], "one alert in all");
    let stored = now_or_never(ports.findings.get(&f.fingerprint)).unwrap().expect("stored");
    assert!(stored.record.alert_due.is_none(), "published: no longer due");
}

#[test]
fn a_failed_evidence_write_fails_the_invocation_and_the_retry_records_everything_once() {
    let ports = Faulty::new();
    let f = finding(&ports, "s3://logs/d.json.gz", at(10));
    ports.evidence.fail.store(1, Ordering::SeqCst);
    let err = now_or_never(record(&ports, vec![f.clone()], at(10))).expect_err("evidence failed");
    assert!(err.0.contains("SlowDown"), "{err}");
    assert!(now_or_never(ports.findings.get(&f.fingerprint)).unwrap().is_none(), "no record without its evidence");
    assert!(ports.alerts.inner.sent().is_empty(), "no alert without evidence");
    let r = now_or_never(record(&ports, vec![f.clone()], at(10))).expect("the retry");
    assert_eq!((r.changed, r.evidence, r.alerts), (1, 1, 1));
    assert_eq!(ports.evidence.inner.objects().len(), 1);
}

/// A lock record of the lock table: `old` → `new` Info IDs (`None`: no image).
fn lock_record(
    event: driftwatch_core::signal::StreamEvent,
    old: Option<&str>,
    new: Option<&str>,
    t: DateTime<Utc>,
) -> driftwatch_decode::Decoded {
    use driftwatch_core::signal::{LockInfo, LockRecord, Signal};
    let info =
        |id: &str| LockInfo { id: id.into(), operation: "OperationTypeApply".into(), who: format!("runner-{id}"), ..Default::default() };
    Ok(Signal::LockRecord(LockRecord {
        event,
        lock_id: "tfstate/prod/app.tfstate".into(),
        table: Some("terraform-locks".into()),
        new_info: new.map(info),
        old_info: old.map(info),
        digest: None,
        time: t,
        sequence_number: None,
        removed_by_service: false,
    }))
}

/// The detectors' memory is saved after the findings it explains are recorded: when the alert
/// of a force-unlock cannot be published, the retry still finds the replaced lock in the
/// ledger, finds the force-unlock again and publishes its alert once.
#[test]
fn a_failed_record_leaves_the_memory_as_it_was_so_the_retry_finds_the_same() {
    use driftwatch_core::signal::StreamEvent;
    let ports = Faulty::new();
    now_or_never(driftwatch_engine::watch(&ports, vec![lock_record(StreamEvent::Insert, None, Some("A"), at(10))], at(10), at(10)))
        .expect("A takes the lock");
    let replaced = || vec![lock_record(StreamEvent::Modify, Some("A"), Some("B"), at(11))];
    ports.alerts.fail.store(1, Ordering::SeqCst);
    let err = now_or_never(driftwatch_engine::watch(&ports, replaced(), at(11), at(11))).expect_err("the alert failed: retried");
    assert!(err.0.contains("503"), "{err}");
    // The platform retries the record (after the claim on the pending alert lapsed).
    let retry = now_or_never(driftwatch_engine::watch(&ports, replaced(), at(11), at(12))).expect("the retry");
    let rules: Vec<&str> = retry.findings.iter().map(|f| f.rule.id()).collect();
    assert_eq!(rules, vec!["lock.force_unlock"], "the retry finds the force-unlock again");
    let sent = ports.alerts.inner.sent();
    assert_eq!(sent.len(), 1, "one alert");
    assert_eq!(sent[0].rule.id(), "lock.force_unlock");
    let stored = now_or_never(ports.findings.get(&sent[0].fingerprint)).unwrap().expect("stored");
    assert!(stored.record.alert_due.is_none(), "published");
    // Against the right holder: the one record is the first attempt's (holder A), no second
    // one against B, and no alert left due.
    let records = ports.findings.inner.records();
    assert_eq!(
        records.len(),
        1,
        "one force-unlock, not one per attempt: {:?}",
        records.iter().map(|r| &r.finding.title).collect::<Vec<_>>()
    );
    assert!(records[0].finding.title.contains("runner-A"), "{}", records[0].finding.title);
    assert!(records.iter().all(|r| r.alert_due.is_none()));
}

/// An `input.invalid` about `source` saying `message`: one resource, one finding per message.
fn invalid_at(ports: &impl Ports, source: &str, message: &str, t: DateTime<Utc>) -> Finding {
    let bad = InvalidInput { source: source.into(), index: None, message: message.into() };
    driftwatch_engine::signal::invalid(ports, &bad, t)
}

fn minutes(h: u32, m: i64) -> DateTime<Utc> {
    at(h) + chrono::Duration::minutes(m)
}

/// One alert per resource per quiet period (15 minutes by default), whatever the finding: a
/// second finding on the resource is recorded and held back, stays quiet on redelivery, and
/// alerts at its first observation after the period.
#[test]
fn a_resource_alerts_once_per_quiet_period_and_a_held_alert_goes_out_after_it() {
    let ports = InMemoryPorts::new(policy(), b"salt");
    assert_eq!(ports.policy.alerts.quiet_minutes, 15);
    let first = invalid_at(&ports, "s3://logs/e.json.gz", "not JSON", minutes(10, 0));
    let second = invalid_at(&ports, "s3://logs/e.json.gz", "truncated gzip", minutes(10, 5));
    assert_ne!(first.fingerprint, second.fingerprint);
    let r = now_or_never(record(&ports, vec![first.clone()], minutes(10, 0))).unwrap();
    assert_eq!(r.alerts, 1);
    let r = now_or_never(record(&ports, vec![second.clone()], minutes(10, 5))).unwrap();
    assert_eq!((r.changed, r.alerts), (1, 0), "held back by the quiet period");
    let held = now_or_never(ports.findings.get(&second.fingerprint)).unwrap().expect("recorded");
    assert!(held.record.alert_due.is_some(), "the held alert stays due");
    let r = now_or_never(record(&ports, vec![second.clone()], minutes(10, 10))).unwrap();
    assert_eq!((r.changed, r.unchanged, r.alerts), (0, 1, 0), "a redelivery within the period is a replay");
    let later = invalid_at(&ports, "s3://logs/e.json.gz", "truncated gzip", minutes(10, 20));
    let r = now_or_never(record(&ports, vec![later], minutes(10, 20))).unwrap();
    assert_eq!(r.alerts, 1, "the held alert goes out at the first observation after the period");
    assert_eq!(ports.alerts.sent().len(), 2);
    let other = invalid_at(&ports, "s3://logs/other.json.gz", "not JSON", minutes(10, 21));
    assert_eq!(now_or_never(record(&ports, vec![other], minutes(10, 21))).unwrap().alerts, 1, "another resource is not held");
}

/// The quiet period is claimed, not just read: of two instances recording findings on one
/// resource at once, one alerts and the other's finding is held back.
#[test]
fn two_instances_racing_on_one_resource_alert_once() {
    let ports = InMemoryPorts::new(policy(), b"salt");
    let a = invalid_at(&ports, "s3://logs/f.json.gz", "not JSON", minutes(10, 0));
    let b = invalid_at(&ports, "s3://logs/f.json.gz", "truncated gzip", minutes(10, 0));
    // Instance B claims the resource's window between instance A's read and A's claim: A's
    // claim then fails (the in-memory claim is as atomic as DynamoDB's conditional put).
    assert!(now_or_never(driftwatch_core::ports::Ledger::claim(
        &ports.ledger,
        "quiet",
        &driftwatch_core::lifecycle::resource_key(&b),
        &b.fingerprint,
        minutes(10, 0),
        chrono::Duration::minutes(15)
    ))
    .unwrap());
    let r = now_or_never(record(&ports, vec![a.clone()], minutes(10, 0))).unwrap();
    assert_eq!((r.changed, r.alerts), (1, 0), "A is held back");
    let r = now_or_never(record(&ports, vec![b.clone()], minutes(10, 0))).unwrap();
    assert_eq!(r.alerts, 1, "B, which holds the window, alerts");
    assert_eq!(ports.alerts.sent(), vec![b]);
}

/// The sweeper publishes an alert held back by its resource's quiet period once the period is
/// over, although the finding is not observed again; within the period it waits; and it never
/// doubles an alert.
#[test]
fn a_held_alert_is_published_by_the_sweeper_after_the_quiet_period() {
    let ports = InMemoryPorts::new(policy(), b"salt");
    let first = invalid_at(&ports, "s3://logs/g.json.gz", "not JSON", minutes(10, 0));
    let second = invalid_at(&ports, "s3://logs/g.json.gz", "truncated gzip", minutes(10, 1));
    now_or_never(record(&ports, vec![first], minutes(10, 0))).unwrap();
    now_or_never(record(&ports, vec![second.clone()], minutes(10, 1))).unwrap();
    assert_eq!(ports.alerts.sent().len(), 1, "the second is held back");
    let early = now_or_never(driftwatch_engine::record::publish_due(&ports, minutes(10, 10))).unwrap();
    assert_eq!((early.sent, early.waiting), (0, 1), "within the quiet period it waits");
    let later = now_or_never(driftwatch_engine::record::publish_due(&ports, minutes(10, 16))).unwrap();
    assert_eq!((later.sent, later.waiting), (1, 0));
    assert_eq!(ports.alerts.sent().last().map(|f| f.fingerprint.clone()), Some(second.fingerprint.clone()));
    let stored = now_or_never(ports.findings.get(&second.fingerprint)).unwrap().expect("stored");
    assert!(stored.record.alert_due.is_none() && stored.record.last_alert_at == Some(minutes(10, 16)));
    let again = now_or_never(driftwatch_engine::record::publish_due(&ports, minutes(10, 40))).unwrap();
    assert_eq!((again.sent, again.waiting), (0, 0), "nothing left due");
    // A redelivery of the second finding after that is a replay: no second alert.
    now_or_never(record(&ports, vec![second], minutes(10, 41))).unwrap();
    assert_eq!(ports.alerts.sent().len(), 2);
}

/// A late report (older than the record's newest) widens the record once and is a replay after
/// that, however often it is redelivered; the record keeps the newer report.
#[test]
fn a_late_report_redelivered_changes_the_record_once() {
    let ports = InMemoryPorts::new(policy(), b"salt");
    let newer = invalid_at(&ports, "s3://logs/h.json.gz", "not JSON", minutes(10, 30));
    let older = invalid_at(&ports, "s3://logs/h.json.gz", "not JSON", minutes(10, 0));
    assert_eq!(newer.fingerprint, older.fingerprint);
    now_or_never(record(&ports, vec![newer.clone()], minutes(10, 30))).unwrap();
    let mut changed = 0;
    for i in 0..3 {
        changed += now_or_never(record(&ports, vec![older.clone()], minutes(10, 31 + i))).unwrap().changed;
    }
    assert_eq!(changed, 1, "the late report widens the first sighting once");
    let stored = now_or_never(ports.findings.get(&newer.fingerprint)).unwrap().expect("stored");
    assert_eq!((stored.record.first_seen, stored.record.last_seen), (minutes(10, 0), minutes(10, 30)));
    assert_eq!(ports.alerts.sent().len(), 1);
}

/// An alerts topic that, while publishing its first alert, lets another invocation record
/// `pending` (a different event of the same finding) against the same stores.
struct Interleaving<'a> {
    base: &'a InMemoryPorts,
    pending: std::sync::Mutex<Option<(Finding, DateTime<Utc>)>>,
    nested: std::sync::Mutex<Option<Result<Recorded, driftwatch_engine::Retry>>>,
}

impl AlertSink for Interleaving<'_> {
    async fn alert(&self, finding: &Finding) -> PortResult<String> {
        let pending = self.pending.lock().unwrap().take();
        if let Some((other, t)) = pending {
            let r = record(self.base, vec![other], t).await;
            *self.nested.lock().unwrap() = Some(r);
        }
        self.base.alerts.alert(finding).await
    }
}

/// The base ports, alerting through an [`Interleaving`] topic.
struct DuringPublish<'a> {
    base: &'a InMemoryPorts,
    alerts: Interleaving<'a>,
}

impl<'a> Ports for DuringPublish<'a> {
    type Index = MemoryIndex;
    type Ledger = MemoryLedger;
    type Exceptions = MemoryExceptions;
    type Findings = MemoryFindings;
    type Evidence = driftwatch_engine::in_memory::MemoryEvidence;
    type Alerts = Interleaving<'a>;
    fn index(&self) -> &MemoryIndex {
        &self.base.index
    }
    fn ledger(&self) -> &MemoryLedger {
        &self.base.ledger
    }
    fn exceptions(&self) -> &MemoryExceptions {
        &self.base.exceptions
    }
    fn findings(&self) -> &MemoryFindings {
        &self.base.findings
    }
    fn evidence(&self) -> &driftwatch_engine::in_memory::MemoryEvidence {
        &self.base.evidence
    }
    fn alerts(&self) -> Option<&Interleaving<'a>> {
        Some(&self.alerts)
    }
    fn catalog(&self) -> &Catalog {
        &self.base.catalog
    }
    fn policy(&self) -> &Policy {
        &self.base.policy
    }
    fn redactor(&self) -> &Redactor {
        &self.base.redactor
    }
}

/// Issue 12 item 5: two different events of one finding, the second recorded while the
/// first's alert is being published, alert once. The second backs off (the platform retries
/// it) and its retry folds it into the record without a second alert.
#[test]
fn a_different_event_of_a_finding_during_its_publish_does_not_alert_again() {
    let base = InMemoryPorts::new(policy(), b"salt");
    let first = finding(&base, "s3://logs/i.json.gz", minutes(10, 0));
    let second = finding(&base, "s3://logs/i.json.gz", minutes(10, 0) + chrono::Duration::seconds(20));
    assert_eq!(first.fingerprint, second.fingerprint);
    assert_ne!(first, second, "a different event, not a redelivery");
    let ports = DuringPublish {
        base: &base,
        alerts: Interleaving {
            base: &base,
            pending: std::sync::Mutex::new(Some((second.clone(), minutes(10, 0) + chrono::Duration::seconds(20)))),
            nested: Default::default(),
        },
    };
    let r = now_or_never(record(&ports, vec![first.clone()], minutes(10, 0))).expect("the first event");
    assert_eq!(r.alerts, 1);
    let nested = ports.alerts.nested.lock().unwrap().take().expect("the second event was recorded during the publish");
    assert!(nested.is_err(), "the second event backs off while the alert is in flight: {nested:?}");
    assert_eq!(base.alerts.sent().len(), 1, "one alert while both ran");
    // The platform retries the second event a minute later: folded in, quietly.
    let retry = now_or_never(record(&base, vec![second.clone()], minutes(10, 2))).expect("the retry");
    assert_eq!((retry.changed, retry.alerts), (1, 0), "{retry:?}");
    let stored = now_or_never(base.findings.get(&first.fingerprint)).unwrap().expect("stored");
    assert_eq!(stored.record.last_seen, second.last_seen);
    assert!(stored.record.alert_due.is_none());
    assert_eq!(base.alerts.sent().len(), 1, "one alert in all");
}

/// Issue 12 item 5: the newest AWS Config `configurationStateId` is written only forward. An
/// instance that processed an older item and saves its memory after one that processed a
/// newer item leaves the newer id; and the late older item is then ignored.
#[test]
fn the_config_order_is_never_moved_back_by_a_late_writer() {
    use driftwatch_core::detect::{ConfigOrder, Needs};
    use driftwatch_engine::memory::LedgerMemory;
    let ports = InMemoryPorts::new(policy(), b"salt");
    let needs = Needs { config_items: vec![("AWS::S3::Bucket".into(), "phi".into())], ..Default::default() };
    // Both instances load the ledger before either saves.
    let mut older = now_or_never(LedgerMemory::load(&ports.ledger, &needs)).unwrap();
    let mut newer = now_or_never(LedgerMemory::load(&ports.ledger, &needs)).unwrap();
    newer.set_state_id("AWS::S3::Bucket", "phi", 6);
    older.set_state_id("AWS::S3::Bucket", "phi", 5);
    now_or_never(newer.save(&ports.ledger)).unwrap();
    now_or_never(older.save(&ports.ledger)).unwrap();
    let after = now_or_never(LedgerMemory::load(&ports.ledger, &needs)).unwrap();
    assert_eq!(after.last_state_id("AWS::S3::Bucket", "phi"), Some(6), "the late writer moved the order back");
}

/// Issue 12 item 1, by a state write: the code changed to match a console edit (the new
/// version desires what was found live) resolves the drift as `state_changed`; a resource
/// removed from the state resolves its findings too; a changed address whose new desired
/// values still differ from what was found live stays open.
#[test]
fn a_state_write_that_absorbs_a_change_or_removes_the_resource_resolves_its_findings() {
    use driftwatch_core::detect::state_write::StateDiffSummary;
    use driftwatch_core::drift;
    use driftwatch_core::finding::Change;
    use driftwatch_core::index::ManagedIndex;
    use driftwatch_core::lifecycle::{LifecycleStatus, Resolution};
    use driftwatch_core::signal::{ObjectChange, StateObjectEvent};
    use driftwatch_core::state::{parse_state, StateLocation};
    use driftwatch_engine::state_write::{on_state_write, WriteFacts};
    use serde_json::{json, Value};

    const NOTES: &str = "stmarys-ehr-prod-phi-clinical-notes-123456789012";
    let ports = InMemoryPorts::new(policy(), b"salt");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/states/data.tfstate");
    let text = std::fs::read_to_string(path).expect("sample state");
    let loc = StateLocation::s3("tfstate", "prod/data.tfstate");
    let parse = |v: &Value| parse_state(v.to_string().as_bytes(), loc.clone(), &ports.catalog, &ports.redactor).expect("state");
    let before: Value = serde_json::from_str(&text).unwrap();
    // The next version: the notes bucket's Environment tag as found live ("staging"), and the
    // first other bucket gone.
    let mut after = before.clone();
    after["serial"] = json!(before["serial"].as_u64().unwrap() + 1);
    let resources = after["resources"].as_array_mut().unwrap();
    let is_bucket =
        |r: &Value, name: Option<&str>| r["type"] == "aws_s3_bucket" && name.is_none_or(|n| r["instances"][0]["attributes"]["bucket"] == n);
    let gone_at = resources.iter().position(|r| is_bucket(r, None) && r["instances"][0]["attributes"]["bucket"] != NOTES).unwrap();
    let gone = resources.remove(gone_at);
    let notes = resources.iter_mut().find(|r| is_bucket(r, Some(NOTES))).unwrap();
    for attr in ["tags_all", "tags"] {
        notes["instances"][0]["attributes"][attr]["Environment"] = json!("staging");
    }
    let (prev, cur) = (parse(&before), parse(&after));
    let old_index = ManagedIndex::build([prev.clone()], &ports.catalog);
    let new_index = ManagedIndex::build([cur.clone()], &ports.catalog);
    let entry = |index: &ManagedIndex, bucket: &str| {
        index.entries().iter().find(|e| e.terraform_type == "aws_s3_bucket" && e.resource_id == bucket).cloned().expect("entry")
    };
    let gone_bucket = gone["instances"][0]["attributes"]["bucket"].as_str().unwrap().to_string();

    // Open findings: the notes bucket's tag drift (live "staging"), a console edit of it, and
    // drift on the bucket about to leave the state.
    let t0 = at(9);
    let open = |rule: driftwatch_core::Rule, fingerprint: String, changes: Vec<Change>| {
        let mut f = finding(&ports, "s3://x", t0);
        f.rule = rule;
        f.fingerprint = fingerprint;
        f.changes = changes;
        now_or_never(record(&ports, vec![f.clone()], t0)).expect("record");
        f
    };
    let tags = |env: &str| json!({"CostCenter": "ehr-1042", "Environment": env, "Name": NOTES, "Owner": "platform-team", "data-classification": "phi", "phi-dataset": "clinical-notes"});
    let [drift_fp, _] = drift::absorbable(&entry(&old_index, NOTES));
    let drifted = open(
        driftwatch_core::Rule::DriftChanged,
        drift_fp,
        vec![Change { path: "tags_all".into(), desired: tags("prod"), actual: tags("staging") }],
    );
    let [other_fp, _] = drift::absorbable(&entry(&old_index, &gone_bucket));
    let removed = open(
        driftwatch_core::Rule::DriftChanged,
        other_fp,
        vec![Change { path: "tags_all".into(), desired: json!({}), actual: json!({"a": "b"}) }],
    );
    // A finding on a changed address that the new version does not absorb stays open.
    let [_, regression_fp] = drift::absorbable(&entry(&old_index, NOTES));
    let still = open(
        driftwatch_core::Rule::EncryptionRegression,
        regression_fp,
        vec![Change { path: "tags_all".into(), desired: tags("prod"), actual: tags("qa") }],
    );

    let ev = StateObjectEvent {
        bucket: "tfstate".into(),
        key: "prod/data.tfstate".into(),
        version_id: Some("v2".into()),
        etag: None,
        size: None,
        change: ObjectChange::Created,
        time: at(10),
        requester: None,
        source_ip: None,
        sequencer: None,
    };
    let facts = WriteFacts {
        event: &ev,
        url: "s3://tfstate/prod/data.tfstate",
        version: Some("v2"),
        current: &cur,
        current_md5: "00",
        previous: Some(&prev),
        previous_md5: Some("11".into()),
        lock_table_digest: None,
        lock_info: None,
        is_current: true,
        indexed: new_index.entries().len(),
        entries: new_index.entries(),
    };
    let (_, diff, resolved): (_, StateDiffSummary, _) = now_or_never(on_state_write(&ports, &facts, at(10))).expect("state write");
    assert!(diff.removed.iter().any(|a| a.contains(&gone["name"].as_str().unwrap().to_string())), "{diff:?}");
    let status = |f: &Finding| now_or_never(ports.findings.get(&f.fingerprint)).unwrap().expect("stored").record;
    assert_eq!((status(&drifted).status, status(&drifted).resolution), (LifecycleStatus::Resolved, Some(Resolution::StateChanged)));
    assert_eq!(status(&drifted).resolved_at, Some(at(10)));
    assert_eq!((status(&removed).status, status(&removed).resolution), (LifecycleStatus::Resolved, Some(Resolution::StateChanged)));
    assert_eq!(status(&still).status, LifecycleStatus::Open, "not absorbed: the state says staging, live was qa");
    assert_eq!(resolved.resolved, 2, "{resolved:?}");
    // Checked again (a retry): nothing more.
    let (_, _, again) = now_or_never(on_state_write(&ports, &facts, at(11))).expect("retry");
    assert_eq!(again.resolved, 0);
}

/// The reconcile of a state holding another account's resources, read against this account's
/// AWS Config only (no aggregator): those resources are left out, not reported missing; this
/// account's are still compared.
#[test]
fn a_reconcile_in_one_account_leaves_other_accounts_resources_out() {
    use driftwatch_core::state::{parse_state, StateLocation};
    use driftwatch_engine::reconcile;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let state_text = std::fs::read_to_string(root.join("samples/states/app.tfstate")).expect("sample state");
    let ports = InMemoryPorts::new(policy(), b"salt");
    let (items, _) =
        driftwatch_core::live::parse_document(&std::fs::read(root.join("samples/live/config-snapshot.json")).unwrap(), &ports.redactor)
            .expect("sample items");
    // One of the sample roles is gone from the live configuration.
    let gone = "AROAXTMHKBVANX7FSZC3O";
    let live: Vec<_> = items.into_iter().filter(|i| i.resource_id != gone).collect();
    let missing_roles = |ports: &InMemoryPorts| {
        ports
            .findings
            .records()
            .iter()
            .filter(|r| r.finding.rule == driftwatch_core::Rule::DriftMissing && r.finding.resource.resource_type == "AWS::IAM::Role")
            .map(|r| r.finding.resource.id.clone())
            .collect::<Vec<_>>()
    };
    let plan_of = |text: &str, key: &str| {
        let state = parse_state(text.as_bytes(), StateLocation::local(key), &ports.catalog, &ports.redactor).expect("state");
        reconcile::plan(state, &ports)
    };

    // The state in this account: the gone role is missing.
    let mut plan = plan_of(&state_text, "app.tfstate");
    assert_eq!(plan.only_in("123456789012"), 0, "every resource of the state is this account's or names none");
    now_or_never(reconcile::reconcile(&ports, &plan, live.clone(), at(10))).expect("reconcile");
    assert_eq!(missing_roles(&ports), [gone], "this account's role is missing");

    // The same state with its roles in another account, reconciled in this one: left out.
    let ports_other = InMemoryPorts::new(policy(), b"salt");
    let other = state_text.replace("arn:aws:iam::123456789012:", "arn:aws:iam::444455556666:");
    let state = parse_state(other.as_bytes(), StateLocation::local("shared.tfstate"), &ports_other.catalog, &ports_other.redactor).unwrap();
    let mut plan = reconcile::plan(state, &ports_other);
    let roles = plan.identities.iter().filter(|(t, _)| t == "AWS::IAM::Role").count();
    assert!(roles > 0);
    assert_eq!(plan.only_in("123456789012"), roles, "every role names the other account");
    assert!(plan.identities.iter().all(|(t, _)| t != "AWS::IAM::Role"));
    now_or_never(reconcile::reconcile(&ports_other, &plan, live, at(10))).expect("reconcile");
    assert!(missing_roles(&ports_other).is_empty(), "another account's role is not reported missing: {:?}", missing_roles(&ports_other));
}
