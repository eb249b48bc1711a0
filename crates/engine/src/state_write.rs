//! `on_state_write`: check one state write (the state-write detector against the version
//! before it and what the lock table says), against the slice of the index it needs, and
//! record it as `state-write` evidence (the addresses added, removed and changed — never
//! values). The caller reads the versions and the lock table, and indexes the new version.

use crate::ports::{Ports, Retry};
use crate::record::write_evidence;
use crate::signal::index_slice;
use chrono::{DateTime, Utc};
use driftwatch_core::detect::state_write::{self, StateDiffSummary, StateWrite};
use driftwatch_core::detect::{Context, HeldLock, LockSource, Needs};
use driftwatch_core::evidence::Record;
use driftwatch_core::signal::{LockInfo, StateObjectEvent};
use driftwatch_core::state::State;
use driftwatch_core::Finding;
use serde_json::json;

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
    /// The lock table's `<bucket>/<key>-md5` digest.
    pub lock_table_digest: Option<String>,
    /// The lock table's item for the state, its `Info`, when a lock is held.
    pub lock_info: Option<&'a str>,
    /// Index entries the new version has.
    pub indexed: usize,
}

/// Check and record one state write; `now` dates the evidence. The findings are not recorded
/// here (the caller records every finding of its batch at once).
pub async fn on_state_write(ports: &impl Ports, w: &WriteFacts<'_>, now: DateTime<Utc>) -> Result<(Vec<Finding>, StateDiffSummary), Retry> {
    let ev = w.event;
    let lock = w.lock_info.and_then(|text| {
        let info: LockInfo = serde_json::from_str(text).ok()?;
        let since = info.created.unwrap_or(ev.time);
        Some(HeldLock { info, since, principal: None, source: LockSource::Table { table: None } })
    });
    // Identities the write removed: does another state still manage them?
    let mut needs = Needs::default();
    if let Some(prev) = w.previous {
        for r in state_write::removed_identities(prev, w.current, ports.catalog()) {
            needs.identities.push((r.config_type, r.resource_id));
        }
    }
    let others = index_slice(ports.index(), &needs).await?;
    let mut check = StateWrite::new(ev, w.previous, w.current);
    check.object_md5 = Some(w.current_md5.to_string());
    check.previous_md5 = w.previous_md5.clone();
    check.lock_table_digest = w.lock_table_digest.clone();
    // Terraform releases the lock right after writing: a lock gone by now proves nothing, so
    // only a lock still held is evidence (unknown otherwise).
    check.lock_held = lock.is_some().then_some(true);
    check.lock = lock;
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
    Ok((found, diff))
}
