//! `on_state_write`: check one state write — the state-write detector against the version
//! before it, the lock held when it was written and the digest Terraform wrote for it — against
//! the slice of the index it needs, and record it as `state-write` evidence (the addresses
//! added, removed and changed — never values). The caller reads the versions and indexes the
//! new version.
//!
//! **Settling.** The lock and digest evidence of a write reaches the ledger through the lock
//! watcher (DynamoDB Streams, `.tflock` events), which runs late and in no order relative to
//! the state watcher. So the integrity rules (`state.unlocked_write`, `state.digest_mismatch`)
//! decide only on evidence that belongs to the write: the lock cycle covering its time
//! ([`state_write::lock_at`]) and the first digest record after it
//! ([`state_write::digest_for`]). A write whose digest has not arrived is *parked* in the ledger
//! (`pending`) and [`settle`]d later — by the sweeper, once its digest has arrived or
//! [`state_write::SETTLE`] has passed. A retry of an old write therefore compares it with its
//! own digest, never a newer write's.

use crate::memory::LedgerMemory;
use crate::ports::{Ports, Retry};
use crate::record::{record, resolve, write_evidence, Recorded};
use crate::signal::index_slice;
use chrono::{DateTime, Utc};
use driftwatch_core::detect::state_write::{self, StateDiffSummary, StateWrite, Written};
use driftwatch_core::detect::{Context, HeldLock, LockSource, Needs};
use driftwatch_core::drift;
use driftwatch_core::evidence::Record;
use driftwatch_core::index::{IndexEntry, ManagedIndex};
use driftwatch_core::lifecycle::{LifecycleStatus, Resolution, Resolve};
use driftwatch_core::ports::{FindingStore, Ledger, PortResult};
use driftwatch_core::signal::{LockInfo, StateObjectEvent};
use driftwatch_core::state::State;
use driftwatch_core::Finding;
use serde_json::json;
use std::collections::BTreeSet;

/// What was read about one state write.
pub struct WriteFacts<'a> {
    pub event: &'a StateObjectEvent,
    /// `s3://<bucket>/<key>`.
    pub url: &'a str,
    /// The object version written (the event's, else the one read).
    pub version: Option<&'a str>,
    pub current: &'a State,
    /// MD5 of the bytes written, hex.
    pub current_md5: &'a str,
    /// The version before it, if it parses, and the MD5 of its bytes.
    pub previous: Option<&'a State>,
    pub previous_md5: Option<String>,
    /// The lock table's `-md5` digest now. Taken as this write's digest only when it is the MD5
    /// of these very bytes; a different one may be a newer or an older write's, so then the
    /// digest record that follows the write decides.
    pub lock_table_digest: Option<String>,
    /// The lock table's item for the state now, its `Info`, when a lock is held.
    pub lock_info: Option<&'a str>,
    /// Is the version written still the object's current version? (A late delivery of an
    /// older write is checked, but the digests that follow it may be a newer write's.)
    pub is_current: bool,
    /// Index entries the new version has.
    pub indexed: usize,
    /// The new version's index entries (to tell which open findings it absorbed).
    pub entries: &'a [IndexEntry],
}

/// The ledger key of a parked write.
fn pending_key(w: &Written) -> String {
    format!("{}#{}", w.lock_id(), w.event.write_id())
}

/// The ledger's `state` item of an indexed write: where, which write (`write`: its
/// [`write_id`](StateObjectEvent::write_id)), which version and ETag, when, and the serial.
pub fn indexed_item(ev: &StateObjectEvent, workspace: &str, serial: u64, version: Option<&str>, etag: Option<&str>) -> serde_json::Value {
    json!({
        "bucket": ev.bucket,
        "key": ev.key,
        "workspace": workspace,
        "serial": serial,
        "version": version,
        "etag": etag.map(|e| e.trim_matches('"')),
        "write": ev.write_id(),
        "time": ev.time,
    })
}

/// How long an index may be kept up to date by changes alone: a state's entries are written
/// whole again on its first write after this much time (whatever else may have changed
/// them — a table restored, an item edited by hand — lasts no longer).
pub const REWRITE_WHOLE_EVERY_MS: i64 = 24 * 60 * 60 * 1000;

/// The ledger's `state` item with what the index holds of it: entries made on `basis` (what
/// the writing process makes entries from: catalog, salt digest, build), written
/// whole at `whole_ms` and changed since by each write; `complete` once this write's entries
/// are all in the index.
pub fn with_entries(mut item: serde_json::Value, basis: &str, whole_ms: i64, complete: bool) -> serde_json::Value {
    item["entries"] = json!({"basis": basis, "whole_ms": whole_ms, "complete": complete});
    item
}

/// Whether the write at `written_ms` may change only what differs from `previous` (the
/// version before it): the ledger's `state` item `standing` says the index holds exactly that
/// version's entries — all written, on this `basis` — written whole less than
/// [`REWRITE_WHOLE_EVERY_MS`] before. Returns when they were written whole.
pub fn changes_since(standing: &serde_json::Value, basis: &str, previous: &str, written_ms: i64) -> Option<i64> {
    let entries = &standing["entries"];
    let whole = entries["whole_ms"].as_i64()?;
    let holds = standing["version"].as_str() == Some(previous)
        && entries["basis"].as_str() == Some(basis)
        && entries["complete"].as_bool() == Some(true)
        && written_ms >= whole
        && written_ms - whole < REWRITE_WHOLE_EVERY_MS;
    holds.then_some(whole)
}

/// Whether the ledger's `state` item was written by a build that kept no `entries` in it —
/// one whose index items have no `state_at` either, so that a state's items are found by a
/// scan rather than by the state index.
pub fn indexed_before_state_at(standing: &serde_json::Value) -> bool {
    standing.get("entries").is_none()
}

/// What the deletion of a state object's version means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDelete {
    /// Nothing stands at the key any more (the current object deleted, a delete marker
    /// became latest, or the last version went): the state is retired.
    Retire,
    /// The indexed version still stands (a noncurrent version was deleted, e.g. by a
    /// lifecycle rule): nothing changes.
    Stands,
    /// Another version stands now (the latest version was deleted and an older one is current
    /// again): it is indexed in place of the deleted one.
    Reindex,
}

/// What a deletion event means, from what stands at the key now (`version`, `etag` of
/// S3's `HeadObject`; `None` when nothing does) and the ledger's `state` item of what is
/// indexed.
pub fn after_delete(now: Option<(Option<&str>, Option<&str>)>, indexed: Option<&serde_json::Value>) -> AfterDelete {
    let Some((version, etag)) = now else { return AfterDelete::Retire };
    fn real(v: Option<&str>) -> Option<&str> {
        v.filter(|v| !v.is_empty() && *v != "null")
    }
    let same = match (indexed, real(version)) {
        (None, _) => false,
        (Some(i), Some(v)) => i["version"].as_str() == Some(v),
        (Some(i), None) => etag.is_some() && i["etag"].as_str() == etag.map(|e| e.trim_matches('"')),
    };
    if same {
        AfterDelete::Stands
    } else {
        AfterDelete::Reindex
    }
}

/// Check one state write and write its evidence; `now` is the invocation's clock (it dates the
/// evidence). The findings are not recorded here (the caller records every finding of its
/// batch at once); a write whose digest has not arrived yet is parked for [`settle`]. The open
/// findings the write resolves are closed here ([`resolutions`]): what it returns as
/// [`Recorded`].
pub async fn on_state_write(
    ports: &impl Ports,
    w: &WriteFacts<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<Finding>, StateDiffSummary, Recorded), Retry> {
    let ev = w.event;
    let id = format!("{}/{}", ev.bucket, ev.key);
    let needs = Needs { lock_ids: vec![id.clone()], ..Default::default() };
    let mem = LedgerMemory::load(ports.ledger(), &needs).await?;
    let (mut lock_held, mut lock) = state_write::lock_at(&mem, &id, ev.time);
    // A lock the table holds now, taken before the write, covers it too.
    if lock_held != Some(true) {
        let now_held = w.lock_info.and_then(|text| {
            let info: LockInfo = serde_json::from_str(text).ok()?;
            let since = info.created.unwrap_or(ev.time);
            Some(HeldLock { info, since, principal: None, source: LockSource::Table { table: None } })
        });
        if let Some(l) = now_held.filter(|l| l.since <= ev.time) {
            (lock_held, lock) = (Some(true), Some(l));
        }
    }
    let digest = if w.is_current { state_write::digest_for(&mem, &id, ev.time, w.current_md5, None) } else { None }
        .or_else(|| w.lock_table_digest.clone().filter(|d| d.eq_ignore_ascii_case(w.current_md5)));
    // Decided now only on the digest Terraform wrote for this write; otherwise parked for
    // `settle`, which also knows the digest that stands when none was written for it.
    let settled = digest.is_some();

    // Identities the write removed: does another state still manage them?
    let removed_ids = w.previous.map(|prev| state_write::removed_identities(prev, w.current, ports.catalog()));
    let mut removed = Needs::default();
    for r in removed_ids.iter().flatten() {
        removed.identities.push((r.config_type.clone(), r.resource_id.clone()));
    }
    let others = index_slice(ports.index(), &removed).await?;
    let mut check = StateWrite::new(ev, w.previous, w.current);
    // Computed once: the detector's unmanaged check takes the same identities.
    check.removed = removed_ids;
    check.object_md5 = Some(w.current_md5.to_string());
    check.previous_md5 = w.previous_md5.clone();
    check.lock = lock;
    if settled {
        check.lock_held = lock_held;
        check.lock_table_digest = digest;
    } else {
        // Only what is certain now; the rest when the write settles.
        check.lock_held = lock_held.filter(|h| *h);
        let parked = Written::of(&check);
        ports.ledger().put("pending", &pending_key(&parked), &serde_json::to_value(&parked).unwrap_or_default()).await?;
    }
    let ctx = Context { index: &others, catalog: ports.catalog(), policy: ports.policy(), redactor: ports.redactor(), now: ev.time };
    let (found, diff) = state_write::detect(&check, &ctx);
    let body = json!({
        "state": w.url,
        "version": w.version,
        "serial": w.current.serial,
        "lineage": w.current.lineage,
        "md5": w.current_md5,
        "added": diff.added,
        "removed": diff.removed,
        "changed": diff.changed,
        "moved": diff.moved,
        "indexed": w.indexed,
    });
    write_evidence(ports.evidence(), &Record { kind: "state-write".into(), time: ev.time, body }, now).await?;
    let resolved = if w.is_current { resolve(ports, resolutions(ports, w, &diff).await?, now).await? } else { Recorded::default() };
    Ok((found, diff, resolved))
}

/// The open findings a (current) state write resolves, as of its time: every condition finding
/// of an address it removed or moved away (no longer Terraform's there), and the
/// `drift.changed` / `encryption.regression` of a changed address whose new desired values are
/// what was found live (the code changed to match: [`drift::absorbed`]).
pub async fn resolutions(ports: &impl Ports, w: &WriteFacts<'_>, diff: &StateDiffSummary) -> PortResult<Vec<Resolve>> {
    let at = w.event.time;
    let mut out = Vec::new();
    if let Some(prev) = w.previous {
        let sref = prev.state_ref();
        for a in diff.removed.iter().chain(diff.moved.iter().map(|(from, _)| from)) {
            out.extend(drift::removed_from_state(&sref, a, at));
        }
    }
    let changed: BTreeSet<&str> = diff.changed.iter().map(String::as_str).collect();
    for e in w.entries.iter().filter(|e| changed.contains(e.address.as_str())) {
        for fingerprint in drift::absorbable(e) {
            let Some(stored) = ports.findings().get(&fingerprint).await? else { continue };
            if stored.record.status == LifecycleStatus::Open && drift::absorbed(&stored.record.finding, e, ports.catalog()) {
                out.push(Resolve { fingerprint, reason: Resolution::StateChanged, at });
            }
        }
    }
    Ok(out)
}

/// What [`settle`] did.
#[derive(Debug, Default)]
pub struct Settled {
    /// Parked writes decided now.
    pub settled: usize,
    /// Parked writes still waiting for their evidence.
    pub waiting: usize,
    pub findings: Vec<Finding>,
    pub recorded: Recorded,
}

/// When the state `id` was next written after `t`, by the ledger's `state` item (the newest
/// indexed write).
async fn next_write(ledger: &impl Ledger, id: &str, w: &Written) -> PortResult<Option<DateTime<Utc>>> {
    let Some(state) = ledger.get("state", id).await? else { return Ok(None) };
    let newer = state["write"].as_str() != Some(w.event.write_id().as_str());
    let time = state["time"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    Ok(time.filter(|t| newer && *t > w.event.time))
}

/// Decide the parked writes whose digest has arrived or that are [`state_write::SETTLE`] old
/// at `now`: `state.unlocked_write` and `state.digest_mismatch` on the evidence that belongs to
/// each, recorded; then the parked item goes (after its findings are recorded).
pub async fn settle(ports: &impl Ports, now: DateTime<Utc>) -> Result<Settled, Retry> {
    let mut out = Settled::default();
    for (key, value) in ports.ledger().list("pending").await? {
        let Ok(w) = serde_json::from_value::<Written>(value) else {
            ports.ledger().delete("pending", &key).await?;
            continue;
        };
        let id = w.lock_id();
        let needs = Needs { lock_ids: vec![id.clone()], ..Default::default() };
        let mem = LedgerMemory::load(ports.ledger(), &needs).await?;
        let next = next_write(ports.ledger(), &id, &w).await?;
        let md5 = w.object_md5.as_deref().unwrap_or_default();
        if state_write::digest_for(&mem, &id, w.event.time, md5, next).is_none() && now < w.event.time + state_write::SETTLE {
            out.waiting += 1;
            continue;
        }
        let digest = state_write::settled_digest(&mem, &id, w.event.time, md5, next);
        let (lock_held, _) = state_write::lock_at(&mem, &id, w.event.time);
        let index = ManagedIndex::default();
        let ctx =
            Context { index: &index, catalog: ports.catalog(), policy: ports.policy(), redactor: ports.redactor(), now: w.event.time };
        let found = state_write::integrity(&w, lock_held, digest.as_deref(), &ctx);
        out.recorded += record(ports, found.clone(), now).await?;
        out.findings.extend(found);
        ports.ledger().delete("pending", &key).await?;
        out.settled += 1;
    }
    Ok(out)
}
