//! State-write detector: a new Terraform state version compared with the previous one.
//!
//! The adapter (state watcher, `driftwatch replay`) fetches both versions, parses them, and
//! gathers what it can about the write: the object's MD5, the lock table's `-md5` digest, the
//! lock held at the time ([`super::LockLedger::held`] on `<bucket>/<key>`), the writer
//! (CloudTrail `PutObject` data event) and which removed resources still exist live. Every one
//! of those is optional; a rule whose input is unknown stays silent.
//!
//! | rule | when |
//! |---|---|
//! | `encryption.regression` | an encryption attribute of the catalog is weaker in the new version ([`drift::is_regression`] on the normalised values), or an encryption facet (`aws_s3_bucket_server_side_encryption_configuration`, the bucket policy's TLS-only deny) was removed while its resource stays managed |
//! | `state.lineage_changed` | the lineage differs: another state was written over this one |
//! | `state.serial_regression` | same lineage, and the serial went back, or stayed equal with different content (Terraform never rewrites a serial with new content) |
//! | `drift.unmanaged` | a managed resource left the state without being destroyed (below) |
//! | `state.unlocked_write` | `lock_held == Some(false)` |
//! | `state.digest_mismatch` | the lock table's digest is not the MD5 of the object |
//!
//! `state.written_outside_pipeline` is the CloudTrail detector's (it sees the `PutObject`).
//!
//! **`terraform state rm` versus destroy.** Both remove the resource from the state; only the
//! live account can tell them apart for sure. So:
//!
//! 1. with `still_live` (the adapter looked up [`removed_identities`] in AWS Config or the
//!    service APIs), a removed identity is `drift.unmanaged` exactly when it still exists;
//! 2. without it, the lock the write was made under says what Terraform did: `Info.Operation`
//!    is `OperationTypeApply` for `apply` and `destroy` (removals are destroys — or, with
//!    `refresh`, objects found gone), and the name of the state command otherwise (`state-rm`,
//!    `state-mv`, `state-push`, …: removals are *not* destroys);
//! 3. with neither, the states alone: a write that leaves no managed resource is a destroy; a
//!    resource whose address is still in the new state under another identity was replaced;
//!    every other removed resource is reported. A targeted `destroy` without lock information
//!    is then reported too — the one false positive this rule accepts rather than miss a
//!    `state rm`.
//!
//! In every case an identity still managed by another state in the index (moved with
//! `state mv` or a `removed`/`import` refactor) is not unmanaged, and only primary catalog rows
//! count (a bucket, not its versioning facet).
//!
//! The summary lists managed resource addresses (data sources and deposed objects aside):
//! added, removed, changed (retained attributes or taint differ) and moved (same type and id at
//! a new address).
//!
//! Findings are timed by the S3 event. State-level findings are about the state itself:
//! resource type `driftwatch::TerraformState`, id `s3://<bucket>/<key>` (the key for a local
//! state), with the reference of the new version.

use super::{build, lock::STATE_RESOURCE_TYPE, Context, DigestRecord, Draft, HeldLock, LockLedger};
use crate::catalog::{AttrSpec, Catalog, ResourceSpec, Role};
use crate::drift;
use crate::finding::{Actor, Change, Finding, ResourceRef, Rule, Severity, StateRef};
use crate::normalize::Ctx;
use crate::place::Place;
use crate::policy::Policy;
use crate::signal::{Principal, StateObjectEvent};
use crate::state::{Mode, ResourceInstance, State};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A live resource identity: AWS Config type and resource id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceIdentity {
    pub config_type: String,
    pub resource_id: String,
}

/// A state write with everything the adapter could gather about it.
#[derive(Debug, Clone)]
pub struct StateWrite<'a> {
    pub event: &'a StateObjectEvent,
    /// The version before this write, if any.
    pub previous: Option<&'a State>,
    /// The version written.
    pub current: &'a State,
    /// Hex MD5 of the written object's bytes.
    pub object_md5: Option<String>,
    /// Hex MD5 of the previous version's bytes (its ETag, for a single-part upload).
    pub previous_md5: Option<String>,
    /// `Digest` of the lock table's `<bucket>/<key>-md5` item after the write, when known.
    /// Terraform updates it right *after* the `PutObject`: read it once the item's stream
    /// record for this write has arrived, or an early read compares the previous digest.
    pub lock_table_digest: Option<String>,
    /// Was a lock held on this state when it was written? `None` when unknown.
    pub lock_held: Option<bool>,
    /// The lock held when it was written (the ledger's entry for `<bucket>/<key>`), when known.
    pub lock: Option<HeldLock>,
    /// Who wrote it (from the CloudTrail `PutObject` data event), when known.
    pub writer: Option<Principal>,
    /// Of [`removed_identities`], those that still exist live; `None` when the adapter did not
    /// look (see the module documentation for what is decided then).
    pub still_live: Option<Vec<ResourceIdentity>>,
    /// [`removed_identities`] of the two versions, when the caller computed them already (to
    /// look them up); `None`: computed here.
    pub removed: Option<Vec<ResourceIdentity>>,
}

impl<'a> StateWrite<'a> {
    /// A write known only by its event and its versions; the rest unknown.
    pub fn new(event: &'a StateObjectEvent, previous: Option<&'a State>, current: &'a State) -> Self {
        StateWrite {
            event,
            previous,
            current,
            object_md5: None,
            previous_md5: None,
            lock_table_digest: None,
            lock_held: None,
            lock: None,
            writer: None,
            still_live: None,
            removed: None,
        }
    }
}

/// What the apply changed, for the summary. Addresses are sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiffSummary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// (from, to): the same resource (type and id) at a new address.
    pub moved: Vec<(String, String)>,
}

impl StateDiffSummary {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() && self.moved.is_empty()
    }
}

/// The actor of a finding made by `p`, classified like CloudTrail callers ([`super::actor::classify`]).
pub(super) fn actor(p: &Principal, policy: &Policy) -> Actor {
    super::actor_of(p, super::actor::classify(p, policy))
}

/// Resources (primary catalog rows) managed in `previous` and in no managed object of
/// `current`: what an adapter should look up live to fill [`StateWrite::still_live`].
pub fn removed_identities(previous: &State, current: &State, catalog: &Catalog) -> Vec<ResourceIdentity> {
    // An object the two versions share (read once: [`crate::state::StateReader::reuse`]), or
    // one whose address holds the same identity now, is kept: only the others are looked up
    // among every managed object of the new version.
    let (gone, new) = crate::state::unshared(previous, current);
    let now: HashMap<&str, &ResourceInstance, foldhash::fast::RandomState> = new.into_iter().map(|i| (i.address.as_str(), i)).collect();
    let candidates: BTreeSet<ResourceIdentity> = gone
        .into_iter()
        .filter_map(|p| {
            let id = primary_identity(p, catalog)?;
            let same_here = now.get(p.address.as_str()).is_some_and(|c| primary_identity(c, catalog).as_ref() == Some(&id));
            (!same_here).then_some(id)
        })
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let kept: BTreeSet<ResourceIdentity> =
        current.instances.iter().filter(|i| i.mode == Mode::Managed).filter_map(|i| primary_identity(i, catalog)).collect();
    candidates.into_iter().filter(|id| !kept.contains(id)).collect()
}

/// Findings and the change summary for one state write.
pub fn detect(w: &StateWrite<'_>, ctx: &Context<'_>) -> (Vec<Finding>, StateDiffSummary) {
    let cur = w.current;
    let diff = Diff::new(w.previous, cur, ctx.catalog);
    let mut out = Vec::new();
    if let Some(prev) = w.previous {
        // (The first version seen is no apply's change: nothing was weakened by it.)
        controls(w, &diff, ctx, &mut out);
        regressions(w, prev, &diff, ctx, &mut out);
        unmanaged(w, prev, ctx, &mut out);
        lineage_and_serial(w, prev, ctx, &mut out);
    }
    out.extend(integrity(&Written::of(w), w.lock_held, w.lock_table_digest.as_deref(), ctx));
    crate::finding::sort(&mut out);
    (out, diff.summary)
}

/// A written state version as the integrity rules need it: the write, the version's
/// reference, the MD5 of its bytes and its writer. Small enough to be parked until the lock
/// and digest evidence of the write has arrived (see [`lock_at`] and [`digest_for`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub event: StateObjectEvent,
    pub state: StateRef,
    /// `s3://<bucket>/<key>`, or the key of a local state.
    pub location: String,
    pub object_md5: Option<String>,
    pub writer: Option<Principal>,
}

impl Written {
    pub fn of(w: &StateWrite<'_>) -> Written {
        Written {
            event: w.event.clone(),
            state: w.current.state_ref(),
            location: location(w),
            object_md5: w.object_md5.clone(),
            writer: w.writer.clone(),
        }
    }

    /// The id of the write's lock (and of its digest item, without `-md5`): `<bucket>/<key>`.
    pub fn lock_id(&self) -> String {
        format!("{}/{}", self.event.bucket, self.event.key)
    }
}

/// `state.unlocked_write` (`lock_held == Some(false)`) and `state.digest_mismatch` (the digest
/// Terraform wrote for this write is not the MD5 of the object) for one written version.
pub fn integrity(v: &Written, lock_held: Option<bool>, digest: Option<&str>, ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if lock_held == Some(false) {
        let title = format!("Terraform state {} written with no lock held (serial {})", v.location, v.state.serial);
        out.push(written_finding(
            v,
            ctx,
            Rule::StateUnlockedWrite,
            title,
            Vec::new(),
            vec![v.state.lineage.clone(), v.state.serial.to_string()],
        ));
    }
    let known = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if let (Some(digest), Some(md5)) = (known(digest), known(v.object_md5.as_deref())) {
        if !digest.eq_ignore_ascii_case(&md5) {
            let title = format!("Terraform state {}: lock-table digest {digest} is not the MD5 of the object ({md5})", v.location);
            let changes =
                vec![Change { path: "Digest".into(), desired: Value::String(digest.clone()), actual: Value::String(md5.clone()) }];
            let parts = vec![md5.to_ascii_lowercase(), digest.to_ascii_lowercase()];
            out.push(written_finding(v, ctx, Rule::StateDigestMismatch, title, changes, parts));
        }
    }
    out
}

/// How long after a write its lock and digest evidence may still arrive (DynamoDB Streams and
/// EventBridge deliver late and in no order across items): a write is *settled* — its
/// integrity rules decided on what is known — when its digest has arrived, or this long after
/// it.
pub const SETTLE: Duration = Duration::minutes(5);

/// Stream record times are whole seconds: a record stamped up to a second before a write may
/// still follow it.
const RECORD_SLACK: Duration = Duration::seconds(1);

/// Was a lock held on `lock_id` when the state was written at `t`, by what the ledger
/// remembers (the lock held now, the last locks released)? `Some(false)` only when a lock
/// cycle is known to have ended before `t` and none covers `t`; `None` when nothing tells.
pub fn lock_at(mem: &dyn LockLedger, lock_id: &str, t: DateTime<Utc>) -> (Option<bool>, Option<HeldLock>) {
    let held = mem.held(lock_id);
    if let Some(h) = held.as_ref().filter(|h| h.since <= t + RECORD_SLACK) {
        return (Some(true), Some(h.clone()));
    }
    let releases = mem.releases(lock_id);
    if let Some(r) = releases.iter().rev().find(|r| r.since <= t + RECORD_SLACK && t <= r.at + RECORD_SLACK) {
        return (Some(true), r.lock.clone());
    }
    // Not held at `t` only when the lock was watched before it: a cycle ended before `t`.
    if releases.iter().any(|r| r.at + RECORD_SLACK < t) {
        (Some(false), None)
    } else {
        (None, None)
    }
}

/// The digest Terraform wrote for the write at `t` of bytes with MD5 `md5`: among the digest
/// records from `t` up to `next_write` (the state's next write, when there is one), the one
/// equal to `md5` if there is one (record times are whole seconds: a quick second apply's
/// digest may share the second), else the first.
pub fn digest_for(mem: &dyn LockLedger, lock_id: &str, t: DateTime<Utc>, md5: &str, next_write: Option<DateTime<Utc>>) -> Option<String> {
    let after: Vec<DigestRecord> =
        mem.digests(lock_id).into_iter().filter(|d| t < d.at + RECORD_SLACK && next_write.is_none_or(|n| d.at <= n)).collect();
    after.iter().find(|d| d.digest.eq_ignore_ascii_case(md5)).or(after.first()).map(|d| d.digest.clone())
}

/// The digest that stands for the write at `t` once it has settled: the one Terraform wrote
/// for it ([`digest_for`]), else the newest written before it — which the lock table still
/// holds when nothing wrote a digest for this write (an upload outside Terraform), so that
/// Terraform itself would refuse the state. `None` when no digest was ever seen (a state
/// locked with `.tflock` files, or without locking).
pub fn settled_digest(
    mem: &dyn LockLedger,
    lock_id: &str,
    t: DateTime<Utc>,
    md5: &str,
    next_write: Option<DateTime<Utc>>,
) -> Option<String> {
    digest_for(mem, lock_id, t, md5, next_write)
        .or_else(|| mem.digests(lock_id).into_iter().rev().find(|d| d.at + RECORD_SLACK <= t).map(|d| d.digest))
}

/// `s3://<bucket>/<key>`, or the key of a local state.
fn location(w: &StateWrite<'_>) -> String {
    let bucket = Some(w.event.bucket.as_str()).filter(|b| !b.is_empty()).or(w.current.location.bucket.as_deref());
    let key = if w.event.key.is_empty() { w.current.location.key.as_str() } else { w.event.key.as_str() };
    match bucket {
        Some(b) => format!("s3://{b}/{key}"),
        None => key.to_string(),
    }
}

fn writer_actor(w: &StateWrite<'_>, ctx: &Context<'_>) -> Option<Actor> {
    w.writer.as_ref().map(|p| actor(p, ctx.policy))
}

fn known(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A finding about the state itself.
fn state_finding(w: &StateWrite<'_>, ctx: &Context<'_>, rule: Rule, title: String, changes: Vec<Change>, parts: Vec<String>) -> Finding {
    written_finding(&Written::of(w), ctx, rule, title, changes, parts)
}

/// A finding about a written state version.
fn written_finding(v: &Written, ctx: &Context<'_>, rule: Rule, title: String, changes: Vec<Change>, parts: Vec<String>) -> Finding {
    let id = v.location.clone();
    let mut fingerprint_parts = vec![id.clone()];
    fingerprint_parts.extend(parts);
    build(
        Draft {
            rule,
            severity: None,
            title,
            resource: ResourceRef {
                arn: None,
                resource_type: STATE_RESOURCE_TYPE.to_string(),
                id,
                address: None,
                terraform_type: None,
                state: Some(v.state.clone()),
                account: None,
                region: None,
            },
            actor: v.writer.as_ref().map(|p| actor(p, ctx.policy)),
            changes,
            extra_controls: Vec::new(),
            fingerprint_parts,
            at: v.event.time,
        },
        ctx.catalog,
    )
}

fn lineage_and_serial(w: &StateWrite<'_>, prev: &State, ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cur = w.current;
    if prev.lineage != cur.lineage {
        let title = format!(
            "Terraform state {}: lineage changed from {} to {} (serial {} → {}): another state was written over it",
            location(w),
            prev.lineage,
            cur.lineage,
            prev.serial,
            cur.serial
        );
        let changes = vec![Change { path: "lineage".into(), desired: prev.lineage.clone().into(), actual: cur.lineage.clone().into() }];
        out.push(state_finding(w, ctx, Rule::StateLineageChanged, title, changes, vec![prev.lineage.clone(), cur.lineage.clone()]));
        // Serials of different lineages are not comparable.
        return;
    }
    let why = if cur.serial < prev.serial {
        Some(format!("serial went back from {} to {}", prev.serial, cur.serial))
    } else if cur.serial == prev.serial && content_differs(w, prev) {
        Some(format!("serial {} rewritten with different content", cur.serial))
    } else {
        None
    };
    if let Some(why) = why {
        let title = format!("Terraform state {}: {why}", location(w));
        let changes = vec![Change { path: "serial".into(), desired: prev.serial.into(), actual: cur.serial.into() }];
        let parts = vec![cur.lineage.clone(), prev.serial.to_string(), cur.serial.to_string(), w.object_md5.clone().unwrap_or_default()];
        out.push(state_finding(w, ctx, Rule::StateSerialRegression, title, changes, parts));
    }
}

/// Does the new version differ from the previous one? By MD5 when both are known, else by
/// what the parser kept (resources and their compared attributes).
fn content_differs(w: &StateWrite<'_>, prev: &State) -> bool {
    if let (Some(a), Some(b)) = (known(&w.previous_md5), known(&w.object_md5)) {
        return !a.eq_ignore_ascii_case(b);
    }
    let cur = w.current;
    prev.terraform_version != cur.terraform_version
        || prev.instances.len() != cur.instances.len()
        || prev.instances.iter().zip(&cur.instances).any(|(p, c)| !Arc::ptr_eq(p, c) && p != c)
}

// ------------------------------------------------------------------------------ diff

/// A version's managed objects by address (looked up, not walked in order: what is reported
/// is sorted).
type Addresses<'s> = HashMap<&'s str, &'s ResourceInstance, foldhash::fast::RandomState>;

/// Addresses of the two versions' objects they do not share, matched.
struct Diff<'s> {
    summary: StateDiffSummary,
    prev: Addresses<'s>,
    cur: Addresses<'s>,
    /// current address → previous address, for moved resources.
    moved_from: BTreeMap<&'s str, &'s str>,
}

impl<'s> Diff<'s> {
    /// Only the objects the two versions do not share are matched ([`crate::state::unshared`]):
    /// the rest are the same in both.
    fn new(previous: Option<&'s State>, current: &'s State, catalog: &Catalog) -> Self {
        let (prev, cur) = match previous {
            Some(p) => crate::state::unshared(p, current),
            None => (Vec::new(), current.managed().collect()),
        };
        let by_address =
            |objects: Vec<&'s ResourceInstance>| objects.into_iter().map(|i| (i.address.as_str(), i)).collect::<Addresses<'s>>();
        let (prev, cur) = (by_address(prev), by_address(cur));
        let mut added: Vec<&str> = cur.keys().filter(|a| !prev.contains_key(*a)).copied().collect();
        let mut removed: Vec<&str> = prev.keys().filter(|a| !cur.contains_key(*a)).copied().collect();
        added.sort_unstable();
        removed.sort_unstable();
        // Moves: a removed and an added address holding the same resource.
        let mut added_by_identity: BTreeMap<(&str, String), &str> = BTreeMap::new();
        for (a, i) in added.iter().filter_map(|a| cur.get(a).map(|i| (*a, *i))) {
            if let Some(id) = instance_id(i, catalog) {
                added_by_identity.entry((i.resource_type.as_str(), id)).or_insert(a);
            }
        }
        let mut moved_from = BTreeMap::new();
        for (r, i) in removed.iter().filter_map(|r| prev.get(r).map(|i| (*r, *i))) {
            if let Some(id) = instance_id(i, catalog) {
                if let Some(to) = added_by_identity.remove(&(i.resource_type.as_str(), id)) {
                    moved_from.insert(to, r);
                }
            }
        }
        let moved_away: BTreeSet<&str> = moved_from.values().copied().collect();
        added.retain(|a| !moved_from.contains_key(a));
        removed.retain(|r| !moved_away.contains(r));
        let mut changed: Vec<String> = cur
            .iter()
            .filter_map(|(a, c)| {
                let p = prev.get(a).or_else(|| moved_from.get(a).and_then(|f| prev.get(f)))?;
                let same = std::ptr::eq(*p, *c) || p.attributes == c.attributes && p.tainted == c.tainted;
                (!same).then(|| a.to_string())
            })
            .collect();
        changed.sort_unstable();
        let mut moved: Vec<(String, String)> = moved_from.iter().map(|(to, from)| (from.to_string(), to.to_string())).collect();
        moved.sort();
        let summary = StateDiffSummary {
            added: added.into_iter().map(str::to_string).collect(),
            removed: removed.into_iter().map(str::to_string).collect(),
            changed,
            moved,
        };
        Diff { summary, prev, cur, moved_from }
    }

    /// The previous object of a current address (same address, or moved here).
    fn previous_of(&self, address: &str) -> Option<&'s ResourceInstance> {
        self.prev.get(address).or_else(|| self.moved_from.get(address).and_then(|f| self.prev.get(f))).copied()
    }
}

/// The id that names an instance's remote object: the catalog's id attribute, else `id`.
fn instance_id(i: &ResourceInstance, catalog: &Catalog) -> Option<String> {
    let v = match catalog.get(&i.resource_type) {
        Some(spec) => spec.id_attr.get(&i.attributes),
        None => i.attributes.get("id"),
    };
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn identity(i: &ResourceInstance, spec: &ResourceSpec, catalog: &Catalog) -> Option<ResourceIdentity> {
    instance_id(i, catalog).map(|resource_id| ResourceIdentity { config_type: spec.config_type.clone(), resource_id })
}

fn primary_identity(i: &ResourceInstance, catalog: &Catalog) -> Option<ResourceIdentity> {
    let spec = catalog.get(&i.resource_type).filter(|s| s.role == Role::Primary)?;
    identity(i, spec, catalog)
}

fn arn_of(i: &ResourceInstance, spec: &ResourceSpec) -> Option<String> {
    spec.arn_attr.as_ref().and_then(|p| p.get(&i.attributes)).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

// ------------------------------------------------------------------------------ controls

/// Safeguards an apply weakened (the control catalog's Terraform signals), whoever wrote the
/// state: the pipeline too.
fn controls(w: &StateWrite<'_>, diff: &Diff<'_>, ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let catalog = ctx.catalog;
    let table = super::controls::Controls::builtin();
    for (address, c) in &diff.cur {
        let before = diff.previous_of(address);
        if before.is_some_and(|p| std::ptr::eq(p, *c)) {
            continue; // the same object in both versions: nothing weakened
        }
        let prev = before.map(|p| &p.attributes);
        let spec = catalog.get(&c.resource_type);
        let text = |attr: &str| match c.attributes.get(attr) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let arn = match spec {
            Some(s) => arn_of(c, s),
            None => text("arn").filter(|a| a.starts_with("arn:")),
        };
        // The object's own account is trusted (a role trusting its own account).
        let own = arn.as_deref().and_then(account_in);
        let scope = super::controls::Scope::of(ctx.policy, own.as_deref());
        for (row, t) in table.weakened_in_state(&c.resource_type, &c.attributes, prev, &scope) {
            // What the control guards: the attribute the signal names, else the catalog's
            // identity, else `id`.
            let resource_id = match (&t.id_attr, spec) {
                (Some(a), _) => text(a),
                (None, Some(s)) => identity(c, s, catalog).map(|i| i.resource_id),
                (None, None) => text("id"),
            };
            let Some(resource_id) = resource_id else { continue };
            let config_type = match (&t.id_attr, spec) {
                (None, Some(s)) => s.config_type.clone(),
                _ => row.config_type.clone(),
            };
            let resource = ResourceRef {
                arn: arn.clone(),
                resource_type: config_type,
                id: resource_id,
                address: Some(c.address.clone()),
                terraform_type: Some(c.resource_type.clone()),
                state: Some(w.current.state_ref()),
                account: None,
                region: None,
            };
            out.push(super::controls::on_state(row, t, &c.attributes, resource, writer_actor(w, ctx), w.event.time, ctx));
        }
    }
}

// ------------------------------------------------------------------------------ encryption

/// Encryption weakened through Terraform itself.
fn regressions(w: &StateWrite<'_>, prev: &State, diff: &Diff<'_>, ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let catalog = ctx.catalog;
    // Primary objects by identity (the new version's win): ARN and tags of facets' resources.
    // Built when a regression needs them (most writes have none).
    let primaries: std::cell::OnceCell<BTreeMap<ResourceIdentity, &ResourceInstance>> = std::cell::OnceCell::new();
    let primaries = || {
        primaries.get_or_init(|| {
            prev.managed().chain(w.current.managed()).filter_map(|i| primary_identity(i, catalog).map(|id| (id, i))).collect()
        })
    };
    let kept: std::cell::OnceCell<BTreeSet<ResourceIdentity>> = std::cell::OnceCell::new();
    let kept = || kept.get_or_init(|| w.current.managed().filter_map(|i| primary_identity(i, catalog)).collect());
    let has_encryption = |s: &ResourceSpec| s.attrs.iter().any(|a| a.encryption.is_some() && !a.sensitive);
    // Objects in both versions.
    for (address, c) in &diff.cur {
        let Some(spec) = catalog.get(&c.resource_type).filter(|s| has_encryption(s) && s.role != Role::Contributor) else { continue };
        let Some(p) = diff.previous_of(address) else { continue };
        if std::ptr::eq(p, *c) {
            continue;
        }
        let Some(id) = identity(c, spec, catalog) else { continue };
        let weaker = weakened(spec, &id, Some(&p.attributes), Some(&c.attributes));
        if !weaker.is_empty() {
            out.push(regression(w, ctx, spec, c, &id, primaries().get(&id).copied(), weaker, false));
        }
    }
    // Encryption facets removed while their resource stays managed (the bucket's default
    // encryption or its TLS-only policy deleted by Terraform).
    for r in &diff.summary.removed {
        let Some(p) = diff.prev.get(r.as_str()).copied() else { continue };
        let Some(spec) = catalog.get(&p.resource_type).filter(|s| has_encryption(s) && s.role == Role::Facet) else { continue };
        let Some(id) = identity(p, spec, catalog) else { continue };
        if !kept().contains(&id) {
            continue;
        }
        let weaker = weakened(spec, &id, Some(&p.attributes), None);
        if !weaker.is_empty() {
            out.push(regression(w, ctx, spec, p, &id, primaries().get(&id).copied(), weaker, true));
        }
    }
}

/// The encryption attributes of `spec` weaker in `cur` than in `prev` (normalised; absent
/// values take the catalog default; an attribute with neither value nor default is unknown).
fn weakened<'c>(spec: &'c ResourceSpec, id: &ResourceIdentity, prev: Option<&Value>, cur: Option<&Value>) -> Vec<(&'c AttrSpec, Change)> {
    let ctx = Ctx { self_id: Some(&id.resource_id) };
    let value = |attrs: Option<&Value>, a: &AttrSpec| -> Option<Value> {
        let v = attrs.and_then(|x| a.tf.get(x)).map(|v| a.normalize.apply(v, &ctx)).filter(|v| !v.is_null());
        v.or_else(|| a.default.as_ref().map(|d| a.normalize.apply(d, &ctx)))
    };
    spec.attrs
        .iter()
        .filter(|a| !a.sensitive)
        .filter_map(|a| {
            let enc = a.encryption.as_ref()?;
            let (before, after) = (value(prev, a)?, value(cur, a)?);
            drift::is_regression(enc, &before, &after).then(|| (a, Change { path: a.tf.to_string(), desired: before, actual: after }))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn regression(
    w: &StateWrite<'_>,
    ctx: &Context<'_>,
    spec: &ResourceSpec,
    inst: &ResourceInstance,
    id: &ResourceIdentity,
    primary: Option<&ResourceInstance>,
    weaker: Vec<(&AttrSpec, Change)>,
    removed: bool,
) -> Finding {
    let defaults = ctx.catalog.rule(Rule::EncryptionRegression);
    let regulated = primary.is_some_and(|p| is_regulated(p.attributes.get("tags_all"), ctx.policy));
    let severity = if regulated {
        Severity::Critical
    } else {
        weaker.iter().filter_map(|(a, _)| a.severity).max().unwrap_or(defaults.severity).max(defaults.severity)
    };
    let mut controls: Vec<String> = weaker.iter().flat_map(|(a, _)| a.controls.iter().cloned()).collect();
    controls.sort();
    controls.dedup();
    let first = &weaker[0].1;
    let title = if removed {
        format!(
            "encryption weakened through Terraform: {} removed from state {} ({} was {})",
            inst.address,
            location(w),
            first.path,
            drift::title_value(&first.desired)
        )
    } else {
        format!(
            "encryption weakened through Terraform: {} {} → {} (state {} serial {})",
            first.path,
            drift::title_value(&first.desired),
            drift::title_value(&first.actual),
            location(w),
            w.current.serial
        )
    };
    let sref = w.current.state_ref();
    let anchor = if sref.lineage.is_empty() { sref.key.clone() } else { sref.lineage.clone() };
    let arn = arn_of(inst, spec).or_else(|| primary.and_then(|p| ctx.catalog.get(&p.resource_type).and_then(|s| arn_of(p, s))));
    build(
        Draft {
            rule: Rule::EncryptionRegression,
            severity: Some(severity),
            title,
            resource: ResourceRef {
                arn,
                resource_type: id.config_type.clone(),
                id: id.resource_id.clone(),
                address: Some(inst.address.clone()),
                terraform_type: Some(inst.resource_type.clone()),
                state: Some(sref.clone()),
                account: None,
                region: None,
            },
            actor: writer_actor(w, ctx),
            changes: weaker.into_iter().map(|(_, c)| c).collect(),
            extra_controls: controls,
            fingerprint_parts: vec![anchor, sref.workspace, inst.address.clone(), "terraform".into()],
            at: w.event.time,
        },
        ctx.catalog,
    )
}

fn is_regulated(tags: Option<&Value>, policy: &Policy) -> bool {
    match (policy.regulated(), tags) {
        (Some((k, v)), Some(Value::Object(m))) => m.get(&k).and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(&v)),
        _ => false,
    }
}

// ------------------------------------------------------------------------------ state rm

/// Why removals from this write are (or are not) destroys.
enum Removal {
    /// Every candidate is checked against live data.
    Live(BTreeSet<ResourceIdentity>),
    /// The lock's operation says the removals are not destroys.
    NotDestroy(String),
    /// The lock's operation (apply, refresh) or an emptied state says they are.
    Destroy,
    /// Nothing known: addresses gone from the state are reported.
    Unknown,
}

fn unmanaged(w: &StateWrite<'_>, prev: &State, ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let cur = w.current;
    let catalog = ctx.catalog;
    let removal = match (&w.still_live, w.lock.as_ref().map(|l| l.info.operation.as_str()).filter(|o| !o.is_empty())) {
        (Some(live), _) => Removal::Live(live.iter().cloned().collect()),
        (None, Some(op)) => {
            let short = op.strip_prefix("OperationType").unwrap_or(op).to_ascii_lowercase();
            if short == "apply" || short == "refresh" {
                Removal::Destroy
            } else {
                Removal::NotDestroy(op.to_string())
            }
        }
        (None, None) if cur.managed().next().is_none() => Removal::Destroy,
        (None, None) => Removal::Unknown,
    };
    if matches!(removal, Removal::Destroy) {
        return;
    }
    let candidates = w.removed.clone().unwrap_or_else(|| removed_identities(prev, cur, catalog));
    if candidates.is_empty() {
        return;
    }
    let removed_objects: BTreeMap<ResourceIdentity, &ResourceInstance> =
        prev.managed().filter_map(|i| primary_identity(i, catalog).map(|id| (id, i))).collect();
    let accounts = Accounts::of(prev, catalog);
    let here = cur.state_ref();
    let cur_addresses: BTreeSet<&str> = cur.managed().map(|i| i.address.as_str()).collect();
    for id in candidates {
        let Some(inst) = removed_objects.get(&id).copied() else { continue };
        let Some(spec) = catalog.get(&inst.resource_type) else { continue };
        let reason = match &removal {
            Removal::Live(live) if live.contains(&id) => "and still exists live".to_string(),
            Removal::NotDestroy(op) => format!("by `{op}`, which destroys nothing"),
            Removal::Unknown if !cur_addresses.contains(inst.address.as_str()) => {
                "outside a full destroy (no lock operation or live data to tell `state rm` from a targeted destroy)".to_string()
            }
            _ => continue,
        };
        // Still managed by another state (moved there), in the same account and region.
        let arn = arn_of(inst, spec);
        let place = arn.as_deref().map_or(Place::ANYWHERE, Place::of_arn);
        if ctx.index.lookup_at(&id.config_type, &id.resource_id, place).any(|e| e.state.key != here.key || e.state.bucket != here.bucket) {
            continue;
        }
        let title = format!(
            "{} {} was removed from Terraform state {} (was {}) {reason}: now unmanaged",
            id.config_type,
            id.resource_id,
            location(w),
            inst.address
        );
        out.push(build(
            Draft {
                rule: Rule::DriftUnmanaged,
                severity: None,
                title,
                resource: ResourceRef {
                    arn: arn_of(inst, spec),
                    resource_type: id.config_type.clone(),
                    id: id.resource_id.clone(),
                    address: None,
                    terraform_type: Some(inst.resource_type.clone()),
                    state: None,
                    account: None,
                    region: None,
                },
                actor: writer_actor(w, ctx),
                changes: vec![Change { path: "address".into(), desired: Value::String(inst.address.clone()), actual: Value::Null }],
                extra_controls: Vec::new(),
                // The live reconcile's fingerprint of drift.unmanaged: (account, type, id).
                fingerprint_parts: vec![accounts.of_instance(inst, spec), id.config_type.clone(), id.resource_id.clone()],
                at: w.event.time,
            },
            catalog,
        ));
    }
}

/// Accounts of a state's resources, from their ARNs: per instance, else per provider
/// configuration (an S3 bucket ARN has no account; its provider's other resources tell it).
struct Accounts<'s> {
    by_provider: BTreeMap<&'s str, String>,
}

impl<'s> Accounts<'s> {
    fn of(state: &'s State, catalog: &Catalog) -> Self {
        let mut by_provider = BTreeMap::new();
        for i in state.managed() {
            if by_provider.contains_key(i.provider.as_str()) {
                continue;
            }
            let arn = catalog
                .get(&i.resource_type)
                .and_then(|s| arn_of(i, s))
                .or_else(|| i.attributes.get("arn").and_then(Value::as_str).map(str::to_string));
            if let Some(a) = arn.as_deref().and_then(account_in) {
                by_provider.insert(i.provider.as_str(), a);
            }
        }
        Accounts { by_provider }
    }

    fn of_instance(&self, inst: &ResourceInstance, spec: &ResourceSpec) -> String {
        arn_of(inst, spec)
            .as_deref()
            .and_then(account_in)
            .or_else(|| self.by_provider.get(inst.provider.as_str()).cloned())
            .unwrap_or_default()
    }
}

fn account_in(arn: &str) -> Option<String> {
    arn.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_string)
}
