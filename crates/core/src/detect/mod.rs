//! Event detectors. Each is a pure function over a decoded [`Signal`] and a read-only
//! [`Context`] (index, catalog, policy), with a small mutable [`Memory`] for the facts that
//! span events (who holds a lock, the newest Config state id seen). Only adapters do I/O.
//!
//! | signal | module | rules |
//! |---|---|---|
//! | CloudTrail API call | [`cloudtrail`] | `change.console`, `change.out_of_band`, `drift.unmanaged`, `encryption.regression`, `lock.contention`, `lock.outside_pipeline`, `lock.force_unlock`, `state.written_outside_pipeline` |
//! | Config item change | [`config_change`] | `drift.changed`, `drift.missing`, `drift.unmanaged`, `encryption.regression` |
//! | state object written (with both versions) | [`state_write`] | `encryption.regression`, `state.lineage_changed`, `state.serial_regression`, `drift.unmanaged`, `state.unlocked_write`, `state.digest_mismatch` |
//! | CloudTrail call or Config item that weakens a safeguard of the control catalog | [`controls`] | `control.audit_weakened`, `control.public_exposure`, `control.integrity_weakened`, `control.network_exposure`, `control.detection_disabled`, `control.identity_risk` |
//! | CloudTrail call on driftwatch's own resources | [`self_defence`] | `exception.changed`, `watcher.tampered` |
//! | the sweeper's heartbeats sent and seen | [`self_defence::hearing`] | `watcher.silent` |
//! | lock table stream record, `.tflock` event, tick | [`lock`] | `lock.stale`, `lock.contention`, `lock.force_unlock` |
//! | undecodable input | [`invalid_input`] | `input.invalid` |

pub mod actor;
pub mod cloudtrail;
pub mod cloudtrail_calls;
pub mod config_change;
pub mod controls;
pub mod lock;
pub mod self_defence;
pub mod state_write;

use crate::catalog::Catalog;
use crate::finding::{self, Actor, ActorKind, Change, Finding, ResourceRef, Rule, Severity, Status};
use crate::index::{IndexEntry, ManagedIndex};
use crate::policy::Policy;
use crate::redact::Redactor;
use crate::signal::{InvalidInput, LockInfo, Principal, Signal};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Read-only context of detection.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub index: &'a ManagedIndex,
    pub catalog: &'a Catalog,
    pub policy: &'a Policy,
    pub redactor: &'a Redactor,
    /// The detector's clock (the Lambda's invocation time, or the replay's `--now`).
    pub now: DateTime<Utc>,
}

/// Where a lock is held.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LockSource {
    /// DynamoDB lock table item.
    Table { table: Option<String> },
    /// S3 `.tflock` object.
    File { bucket: String, key: String },
}

/// A lock somebody holds, as the lock detector remembers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeldLock {
    pub info: LockInfo,
    /// When we first saw it held (or `Info.Created`).
    pub since: DateTime<Utc>,
    /// The principal that took it, when a CloudTrail data event told us.
    pub principal: Option<Principal>,
    pub source: LockSource,
}

/// A lock that was held and released: when the state was protected by it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Released {
    /// The lock, when it was remembered (or its removed `Info` told of it).
    pub lock: Option<HeldLock>,
    /// Held since (the lock's `since`; the release time when nothing is known).
    pub since: DateTime<Utc>,
    /// When it was released (the stream record's or the S3 event's time).
    pub at: DateTime<Utc>,
}

/// A `-md5` digest item written to the lock table: Terraform's word on the state it just wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DigestRecord {
    pub digest: String,
    pub at: DateTime<Utc>,
}

/// How many released locks and digest records are remembered per state: enough to place a
/// write that is checked late among the lock cycles and digests that followed it.
pub const LOCK_HISTORY: usize = 8;

/// Port: locks currently held, by `LockID` (`<bucket>/<key>`), the last ones released, and the
/// digests written to the lock table.
pub trait LockLedger {
    fn held(&self, lock_id: &str) -> Option<HeldLock>;
    fn hold(&mut self, lock_id: &str, lock: HeldLock);
    fn release(&mut self, lock_id: &str) -> Option<HeldLock>;
    fn all_held(&self) -> Vec<(String, HeldLock)>;
    /// Remember a release (the newest [`LOCK_HISTORY`] are kept).
    fn note_release(&mut self, lock_id: &str, released: Released);
    /// The releases remembered, oldest first.
    fn releases(&self, lock_id: &str) -> Vec<Released>;
    /// Remember a digest written for the state `lock_id` (the newest [`LOCK_HISTORY`] are kept).
    fn note_digest(&mut self, lock_id: &str, digest: DigestRecord);
    /// The digests remembered, oldest first.
    fn digests(&self, lock_id: &str) -> Vec<DigestRecord>;
    /// Remember the principal of a lock acquisition seen in CloudTrail, to attribute the lock
    /// record that follows.
    fn note_acquirer(&mut self, lock_id: &str, principal: Principal, at: DateTime<Utc>);
    fn acquirer(&self, lock_id: &str) -> Option<(Principal, DateTime<Utc>)>;
}

/// Port: newest `configurationStateId` processed per (type, id), to drop out-of-order items.
pub trait ConfigOrder {
    fn last_state_id(&self, resource_type: &str, resource_id: &str) -> Option<u64>;
    fn set_state_id(&mut self, resource_type: &str, resource_id: &str, id: u64);
}

/// Everything detectors may remember between events.
pub trait Memory: LockLedger + ConfigOrder {}
impl<T: LockLedger + ConfigOrder> Memory for T {}

/// In-memory [`Memory`]: for the CLI's replay and for unit tests.
#[derive(Debug, Default, Clone)]
pub struct InMemory {
    locks: BTreeMap<String, HeldLock>,
    released: HashMap<String, Vec<Released>>,
    digests: HashMap<String, Vec<DigestRecord>>,
    acquirers: HashMap<String, (Principal, DateTime<Utc>)>,
    state_ids: HashMap<(String, String), u64>,
}

impl LockLedger for InMemory {
    fn held(&self, lock_id: &str) -> Option<HeldLock> {
        self.locks.get(lock_id).cloned()
    }
    fn hold(&mut self, lock_id: &str, lock: HeldLock) {
        self.locks.insert(lock_id.to_string(), lock);
    }
    fn release(&mut self, lock_id: &str) -> Option<HeldLock> {
        self.locks.remove(lock_id)
    }
    fn all_held(&self) -> Vec<(String, HeldLock)> {
        self.locks.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
    fn note_release(&mut self, lock_id: &str, released: Released) {
        keep_newest(self.released.entry(lock_id.to_string()).or_default(), released, |r| r.at);
    }
    fn releases(&self, lock_id: &str) -> Vec<Released> {
        self.released.get(lock_id).cloned().unwrap_or_default()
    }
    fn note_digest(&mut self, lock_id: &str, digest: DigestRecord) {
        keep_newest(self.digests.entry(lock_id.to_string()).or_default(), digest, |d| d.at);
    }
    fn digests(&self, lock_id: &str) -> Vec<DigestRecord> {
        self.digests.get(lock_id).cloned().unwrap_or_default()
    }
    fn note_acquirer(&mut self, lock_id: &str, principal: Principal, at: DateTime<Utc>) {
        self.acquirers.insert(lock_id.to_string(), (principal, at));
    }
    fn acquirer(&self, lock_id: &str) -> Option<(Principal, DateTime<Utc>)> {
        self.acquirers.get(lock_id).cloned()
    }
}

/// Insert `item` in time order (a redelivery is kept once) and keep the newest
/// [`LOCK_HISTORY`].
pub fn keep_newest<T: PartialEq>(list: &mut Vec<T>, item: T, at: impl Fn(&T) -> DateTime<Utc>) {
    if list.contains(&item) {
        return;
    }
    let pos = list.partition_point(|x| at(x) <= at(&item));
    list.insert(pos, item);
    if list.len() > LOCK_HISTORY {
        list.drain(..list.len() - LOCK_HISTORY);
    }
}

impl ConfigOrder for InMemory {
    fn last_state_id(&self, resource_type: &str, resource_id: &str) -> Option<u64> {
        self.state_ids.get(&(resource_type.to_string(), resource_id.to_string())).copied()
    }
    fn set_state_id(&mut self, resource_type: &str, resource_id: &str, id: u64) {
        self.state_ids.insert((resource_type.to_string(), resource_id.to_string()), id);
    }
}

/// Run the detectors a signal concerns.
///
/// State object writes need both state versions, which only an adapter can fetch: the caller
/// passes them to [`state_write::detect`]; here they yield nothing.
pub fn process(signal: &Signal, ctx: &Context<'_>, mem: &mut dyn Memory) -> Vec<Finding> {
    // A signal from an account is judged by that account's policy (its unit's, its own).
    let policy = ctx.policy.for_account(signal.place().account);
    let ctx = &Context { policy: &policy, ..*ctx };
    let mut out = match signal {
        Signal::ApiCall(call) => cloudtrail::detect(call, ctx, mem),
        Signal::ConfigChange(change) => config_change::detect(change, ctx, mem),
        Signal::LockRecord(rec) => lock::on_record(rec, ctx, mem),
        Signal::LockFile(ev) => lock::on_file(ev, ctx, mem),
        Signal::Tick(t) => lock::sweep(t.time, ctx, mem),
        Signal::StateObject(_) => Vec::new(),
    };
    for f in &mut out {
        f.resource.locate(signal.place());
    }
    finding::sort(&mut out);
    out
}

/// What detecting a signal may read, so that an adapter holding the index and the memory in a
/// database can load just that before calling [`process`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Index identities (AWS Config type, resource id).
    pub identities: Vec<(String, String)>,
    /// ARNs to look up in the index (each brings its whole identity).
    pub arns: Vec<String>,
    /// Lock ids (`<bucket>/<key>`) whose ledger entries (holder, acquirer) are read.
    pub lock_ids: Vec<String>,
    /// Config items (type, id) whose newest state id is read.
    pub config_items: Vec<(String, String)>,
}

/// The findings `signal` shows resolved, if open (only a Config item does): call before
/// [`process`], with the same memory.
pub fn resolutions(signal: &Signal, ctx: &Context<'_>, mem: &dyn ConfigOrder) -> Vec<crate::lifecycle::Resolve> {
    let policy = ctx.policy.for_account(signal.place().account);
    let ctx = &Context { policy: &policy, ..*ctx };
    match signal {
        Signal::ConfigChange(change) => config_change::resolutions(change, ctx, mem),
        _ => Vec::new(),
    }
}

/// What [`process`] may read for `signal`.
pub fn needs(signal: &Signal, policy: &Policy) -> Needs {
    let mut n = Needs::default();
    match signal {
        Signal::ApiCall(call) => cloudtrail::needs(call, policy, &mut n),
        Signal::ConfigChange(change) => {
            if let Some(item) = &change.item {
                n.identities.push((item.resource_type.clone(), item.resource_id.clone()));
                n.config_items.push((item.resource_type.clone(), item.resource_id.clone()));
                n.arns.extend(item.arn.clone());
            }
            if let Some(o) = &change.oversized {
                if let (Some(t), Some(id)) = (&o.resource_type, &o.resource_id) {
                    n.identities.push((t.clone(), id.clone()));
                    n.config_items.push((t.clone(), id.clone()));
                }
            }
        }
        Signal::LockRecord(rec) => {
            n.lock_ids.push(rec.lock_id.clone());
            // A digest item is remembered under its state's id.
            n.lock_ids.extend(rec.lock_id.strip_suffix(lock::DIGEST_SUFFIX).map(str::to_string));
        }
        Signal::LockFile(ev) => n.lock_ids.extend(lock::lock_id_for_file(&ev.bucket, &ev.key)),
        Signal::StateObject(ev) => n.lock_ids.push(format!("{}/{}", ev.bucket, ev.key)),
        Signal::Tick(_) => {}
    }
    n.identities.sort();
    n.identities.dedup();
    n.arns.sort();
    n.arns.dedup();
    n.lock_ids.sort();
    n.lock_ids.dedup();
    n
}

/// The `input.invalid` finding for input that could not be decoded.
pub fn invalid_input(bad: &InvalidInput, catalog: &Catalog, at: DateTime<Utc>) -> Finding {
    let defaults = catalog.rule(Rule::InputInvalid);
    let idx = bad.index.map(|i| i.to_string()).unwrap_or_default();
    Finding {
        rule: Rule::InputInvalid,
        severity: defaults.severity,
        title: match bad.index {
            Some(i) => format!("{} record #{i}: {}", bad.source, bad.message),
            None => format!("{}: {}", bad.source, bad.message),
        },
        resource: ResourceRef {
            arn: None,
            resource_type: "driftwatch::Input".into(),
            id: bad.source.clone(),
            address: None,
            terraform_type: None,
            state: None,
            account: None,
            region: None,
        },
        actor: None,
        changes: Vec::new(),
        controls: defaults.controls,
        fingerprint: finding::fingerprint(Rule::InputInvalid, &[&bad.source, &idx, &bad.message]),
        first_seen: at,
        last_seen: at,
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: None,
    }
}

/// The resource reference of an index entry.
pub fn resource_of(e: &IndexEntry) -> ResourceRef {
    let mut r = ResourceRef {
        arn: e.arn.clone(),
        resource_type: e.config_type.clone(),
        id: e.resource_id.clone(),
        address: Some(e.address.clone()),
        terraform_type: Some(e.terraform_type.clone()),
        state: Some((*e.state).clone()),
        account: None,
        region: None,
    };
    r.locate(crate::place::Place::ANYWHERE);
    r
}

/// Fingerprint anchor of a managed resource: state lineage (or key), workspace, address.
pub fn managed_anchor(e: &IndexEntry) -> [String; 3] {
    let anchor = if e.state.lineage.is_empty() { e.state.key.clone() } else { e.state.lineage.clone() };
    [anchor, e.state.workspace.clone(), e.address.clone()]
}

/// The actor of a finding, from a CloudTrail principal and its classification.
pub fn actor_of(p: &Principal, kind: ActorKind) -> Actor {
    Actor {
        principal_arn: p.arn.clone(),
        session_name: p.session_name.clone(),
        via_console: kind == ActorKind::Console,
        source_ip: p.source_ip.clone(),
        user_agent: p.user_agent.clone(),
        kind: Some(kind),
    }
}

/// Parts of a finding a detector supplies; [`build`] fills in defaults.
#[derive(Debug, Clone)]
pub struct Draft {
    pub rule: Rule,
    /// `None`: the rule's default from the catalog.
    pub severity: Option<Severity>,
    pub title: String,
    pub resource: ResourceRef,
    pub actor: Option<Actor>,
    pub changes: Vec<Change>,
    pub extra_controls: Vec<String>,
    /// What identifies the problem (besides the rule): stable across replays.
    pub fingerprint_parts: Vec<String>,
    /// When it happened (event time): findings from events are timed by the event, so a
    /// replay gives identical findings.
    pub at: DateTime<Utc>,
}

/// Build a finding from a draft, with the rule's default severity and controls.
pub fn build(mut d: Draft, catalog: &Catalog) -> Finding {
    d.resource.locate(crate::place::Place::ANYWHERE);
    let defaults = catalog.rule(d.rule);
    let mut controls: Vec<String> = defaults.controls;
    for c in d.extra_controls {
        if !controls.contains(&c) {
            controls.push(c);
        }
    }
    controls.sort();
    let parts: Vec<&str> = d.fingerprint_parts.iter().map(String::as_str).collect();
    Finding {
        rule: d.rule,
        severity: d.severity.unwrap_or(defaults.severity),
        title: d.title,
        resource: d.resource,
        actor: d.actor,
        changes: d.changes,
        controls,
        fingerprint: finding::fingerprint(d.rule, &parts),
        first_seen: d.at,
        last_seen: d.at,
        status: Status::Open,
        suppressed_by: None,
        evidence: Vec::new(),
        import: None,
    }
}
