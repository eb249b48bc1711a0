//! `state-watcher`: a Terraform state object was written (or deleted) in the S3 backend.
//!
//! On a write: read that object version and the version before it, index it, and run the
//! engine's state-write check (`on_state_write`: the write's own lock cycle and digest, from
//! the ledger; parked until its digest arrives). A write is known by its version id, or in a
//! bucket without versions by its ETag and the event's sequencer, so each is processed once
//! and every new one is processed. A deletion retires the state only when nothing stands at
//! the key any more; a noncurrent version deleted changes nothing; when the indexed version
//! was deleted and an older one stands again, that one is indexed. Each checked write is
//! recorded as `state-write` evidence (the addresses it added, removed and changed — never
//! values).
//!
//! Indexing a write changes only the entries it added, changed or dropped when the ledger's
//! `state` item says the index holds all of the version before's entries, made on this
//! process's basis (catalog, salt, build) and written whole less than a day before;
//! otherwise every entry is put and the state's other entries removed. The summary says which
//! (`index_update`: `changes` or `whole`) and how many items it wrote.
//!
//! A state that cannot be parsed is `input.invalid` (the index keeps the previous version).

use super::{response, transient, HandlerError, Invocation};
use crate::adapters::{Adapters, LastState};
use driftwatch_aws::{ItemKey, StateAt, StateReadError};
use driftwatch_core::index::{entry_changes, ManagedIndex};
use driftwatch_core::signal::{InvalidInput, ObjectChange, Signal, StateObjectEvent};
use driftwatch_core::state::{StateLocation, StateReader};
use driftwatch_core::Finding;
use driftwatch_engine::state_write::{self, on_state_write, AfterDelete, WriteFacts};
use driftwatch_engine::{record, Recorded};
use serde_json::{json, Value};
use tracing::info;

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let decoded = driftwatch_decode::decode_document(&bytes, "event", &adapters.env.policy, &adapters.redactor);
    let signals = decoded.len();
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    let mut invalid = 0;
    let mut findings = Vec::new();
    let mut writes = Vec::new();
    let mut memories = Vec::new();
    let mut resolutions = Vec::new();
    for d in decoded {
        match d {
            Err(bad) => {
                invalid += 1;
                findings.push(driftwatch_engine::signal::invalid(adapters, &bad, at));
            }
            Ok(Signal::StateObject(ev)) => match ev.change {
                ObjectChange::Created => match state_written(adapters, &ev, inv, false).await? {
                    Ok((found, summary)) => {
                        findings.extend(found);
                        writes.push(summary);
                    }
                    Err(bad) => {
                        invalid += 1;
                        findings.push(driftwatch_engine::signal::invalid(adapters, &bad, ev.time));
                    }
                },
                ObjectChange::Deleted => writes.push(state_deleted(adapters, &ev, inv).await?),
            },
            Ok(other) => {
                let d = driftwatch_engine::detect_signal(adapters, &other, at).await?;
                findings.extend(d.findings);
                resolutions.extend(d.resolved);
                memories.push(d.memory);
            }
        }
    }
    let mut recorded: Recorded = record(adapters, findings.clone(), inv.now).await?;
    recorded += driftwatch_engine::resolve(adapters, resolutions, inv.now).await?;
    // What the writes resolved (closed in `on_state_write`).
    recorded.resolved += writes.iter().filter(|w| w.get("replay").is_none()).filter_map(|w| w["resolved"].as_u64()).sum::<u64>() as usize;
    // The detectors' memory after the findings it explains.
    for memory in memories {
        memory.save(&adapters.ledger).await?;
    }
    for w in &writes {
        if w.get("replay").is_none() && w.get("deleted").is_none() {
            mark_written(adapters, w).await?;
        }
    }
    let mut out = response(signals, invalid, &findings, recorded);
    out["states"] = Value::Array(writes);
    Ok(out)
}

/// A version of the state object was deleted: retire the state when nothing stands at the key
/// any more, re-index when another version stands now, nothing when the indexed one stands
/// (a noncurrent version deleted — a lifecycle rule, say).
async fn state_deleted(adapters: &Adapters, ev: &StateObjectEvent, inv: &Invocation) -> Result<Value, HandlerError> {
    let id = format!("{}/{}", ev.bucket, ev.key);
    let url = format!("s3://{id}");
    let now = adapters.states.current(&ev.bucket, &ev.key).await.map_err(transient)?;
    let indexed = adapters.ledger.get("state", &id).await.map_err(transient)?;
    let standing = now.as_ref().map(|c| (c.version_id.as_deref(), c.etag.as_deref()));
    match state_write::after_delete(standing, indexed.as_ref()) {
        AfterDelete::Retire => {
            let ws = StateLocation::s3(ev.bucket.clone(), ev.key.clone()).workspace();
            let at = StateAt { bucket: Some(&ev.bucket), key: &ev.key, workspace: &ws };
            // Spares the entries of a write newer than the deletion (processed first).
            let scan = indexed.as_ref().is_some_and(state_write::indexed_before_state_at);
            let removed = adapters.index.remove_state_entries(at, &[], ev.time.timestamp_millis(), scan).await.map_err(transient)?;
            adapters.ledger.delete("state", &id).await.map_err(transient)?;
            info!(state = %url, removed, "state deleted: entries removed");
            Ok(json!({"state": url, "deleted": true, "removed_entries": removed}))
        }
        AfterDelete::Stands => {
            info!(state = %url, version = ?ev.version_id, "a noncurrent version was deleted: the state stands");
            Ok(json!({"state": url, "deleted": false, "deleted_version": ev.version_id, "stands": true}))
        }
        AfterDelete::Reindex => {
            let cur = now.unwrap_or(driftwatch_aws::Current { version_id: None, etag: None });
            let standing = StateObjectEvent {
                version_id: cur.version_id,
                etag: cur.etag,
                change: ObjectChange::Created,
                sequencer: None,
                ..ev.clone()
            };
            info!(state = %url, deleted = ?ev.version_id, current = ?standing.version_id, "the indexed version was deleted: the one that stands now is indexed");
            let mut summary = match state_written(adapters, &standing, inv, true).await? {
                Ok((_, summary)) => summary,
                Err(bad) => json!({"state": url, "invalid": bad.message}),
            };
            summary["deleted"] = Value::Bool(false);
            summary["deleted_version"] = json!(ev.version_id);
            Ok(summary)
        }
    }
}

/// Index and check one state write. The outer error is transient (retry); the inner one is
/// the write's own invalid input. `again`: index it even if it was processed before (the
/// version that stands again after a deletion).
async fn state_written(
    adapters: &Adapters,
    ev: &StateObjectEvent,
    inv: &Invocation,
    again: bool,
) -> Result<Result<(Vec<Finding>, Value), InvalidInput>, HandlerError> {
    let id = format!("{}/{}", ev.bucket, ev.key);
    let url = format!("s3://{id}");
    let write = ev.write_id();
    // A redelivery of a write already processed does nothing (its findings, evidence and index
    // update are done). A write is its version id, or in a bucket without versions its ETag
    // and the event's sequencer.
    if !again {
        if let Some(done) = adapters.ledger.get("written", &format!("{id}#{write}")).await.map_err(transient)? {
            info!(state = %url, write = %write, "state write already processed");
            let mut summary = done;
            summary["replay"] = Value::Bool(true);
            return Ok(Ok((Vec::new(), summary)));
        }
    }
    let object = match adapters.states.open_version(&ev.bucket, &ev.key, ev.real_version()).await {
        Ok(o) => o,
        // The version is gone, or this role may not read it: the same on every retry.
        Err(e) if e.is_permanent() => {
            let source = format!("{url} (version {})", ev.version_id.as_deref().unwrap_or("current"));
            return Ok(Err(InvalidInput { source, index: None, message: e.to_string() }));
        }
        Err(e) => return Err(transient(e)),
    };
    let etag_sent = object.etag.clone();
    let object_etag = etag_sent.as_deref().map(|e| e.trim_matches('"'));
    // Without versions, only the object that stands can be read: when it is no longer this
    // write's (overwritten since), the write that replaced it has its own event.
    if ev.real_version().is_none() && ev.etag.is_some() && object_etag != ev.etag.as_deref() {
        info!(state = %url, write = %write, "unversioned state overwritten before it was read: its successor's event checks it");
        return Ok(Ok((Vec::new(), json!({"state": url, "write": write, "overwritten": true}))));
    }
    let loc = StateLocation::s3(ev.bucket.clone(), ev.key.clone());
    let object_version = object.version_id.clone();
    let version = object_version.clone().or_else(|| ev.version_id.clone());
    let real_version = version.clone().filter(|v| v != "null");
    // The version before, if any. This process may have read it last (the previous write of
    // this key came here): then it is neither read nor parsed again.
    let previous_id = match &real_version {
        Some(v) => adapters.states.previous_version(&ev.bucket, &ev.key, v).await.map_err(transient)?,
        None => None,
    };
    let kept = {
        let mut last = adapters.last_state.lock().unwrap_or_else(|p| p.into_inner());
        match last.take() {
            Some(l) if l.bucket == ev.bucket && l.key == ev.key && previous_id.as_deref() == Some(l.version_id.as_str()) => Some(l),
            _ => None,
        }
    };
    // The body is parsed as it arrives and never held whole; its resource elements are
    // remembered, so that the version before (or after) shares what the two have in common.
    let mut reader = StateReader::new(loc.clone(), &adapters.catalog, &adapters.redactor);
    reader.record_elements();
    if let Some(k) = &kept {
        reader.reuse(k.elements.clone(), k.state.instances.clone());
    }
    let read = match object.read(reader).await {
        Ok(r) => r,
        Err(StateReadError::Parse { source, .. }) => {
            let source_of = format!("{url} (version {})", ev.version_id.as_deref().unwrap_or("current"));
            return Ok(Err(InvalidInput { source: source_of, index: None, message: source.to_string() }));
        }
        Err(e) => return Err(transient(e)),
    };
    let (current, md5, elements) = (read.state, read.md5, read.elements);

    // The version before, if any (a previous version that no longer parses is treated as
    // absent). A bucket without versions keeps none.
    let mut previous = None;
    let mut previous_md5 = None;
    if let Some(k) = kept {
        previous_md5 = Some(k.md5);
        previous = Some(k.state);
    } else if let Some(pv) = &previous_id {
        let o = adapters.states.open_version(&ev.bucket, &ev.key, Some(pv)).await.map_err(transient)?;
        let mut reader = StateReader::new(loc.clone(), &adapters.catalog, &adapters.redactor);
        reader.reuse(elements.clone(), current.instances.clone());
        match o.read(reader).await {
            Ok(p) => {
                previous_md5 = Some(p.md5);
                previous = Some(p.state);
            }
            Err(StateReadError::Parse { .. }) => {}
            Err(e) => return Err(transient(e)),
        }
    }

    // Index the new version — only if it is still the object's current version: an older
    // write delivered late must not roll the index back (it is still checked below).
    let mut index = ManagedIndex::default();
    let summary = index.add_state(current.clone(), &adapters.catalog);
    let entries = index.into_entries();
    let is_current = match &real_version {
        None => true,
        // A delete marker (or nothing) at the key is not this version: a late delivery of a
        // write must not bring a deleted state back into the index.
        Some(v) => adapters.states.current_version(&ev.bucket, &ev.key).await.map_err(transient)?.is_some_and(|c| &c == v),
    };
    let (mut put, mut removed) = (0, 0);
    let mut update = None;
    // The check and the writes are not atomic: a newer write may be indexed meanwhile by
    // another invocation. Every index write is conditional on the write's time (the event's:
    // for a version standing again after a deletion, the deletion's), so the newer one's
    // entries and `state` item stand whichever invocation writes last.
    //
    // The ledger's `state` item is claimed first (`advance`: refused when a newer write is
    // indexed) and read again after the writes: when a newer write claimed it meanwhile, the
    // entries this write put that the newer one did not overwrite are taken back (the newer
    // one's removal may have run before they were put).
    //
    // When that item says the index holds all of the version before's entries (made on this
    // process's basis), only what the write changed is written: the claim is then
    // conditional on the item being still what was read, so the decision and the claim are
    // one step. Otherwise every entry is written and the state's other entries removed. The
    // item is marked complete once the writes are done.
    if is_current {
        let written = ev.time.timestamp_millis();
        let order = u64::try_from(written).unwrap_or(0);
        let basis = adapters.index_basis();
        let item = state_write::indexed_item(ev, &summary.state.workspace, current.serial, version.as_deref(), object_etag);
        let standing = adapters.ledger.get_text("state", &id).await.map_err(transient)?;
        let since = match (&previous, &previous_id, &standing) {
            (Some(p), Some(pid), Some(text)) if p.lineage == current.lineage => serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|s| state_write::changes_since(&s, basis, pid, written))
                .map(|whole| (p, whole, text)),
            _ => None,
        };
        let mut changes_from = None;
        let mut claimed = false;
        if let Some((p, whole, text)) = since {
            let claim = state_write::with_entries(item.clone(), basis, whole, false);
            if adapters.ledger.advance_from("state", &id, order, &claim, text).await.map_err(transient)? {
                (changes_from, claimed) = (Some((p, whole)), true);
            }
        }
        if !claimed {
            let claim = state_write::with_entries(item.clone(), basis, written, false);
            claimed = adapters.ledger.advance("state", &id, order, &claim).await.map_err(transient)?;
        }
        if claimed {
            // The keys this write stamped (what it takes back if a newer write overtook it).
            let stamped: Vec<ItemKey>;
            let whole = match changes_from {
                Some((p, whole)) => {
                    let changes = entry_changes(p, &current, &entries, &adapters.catalog);
                    let gone: Vec<ItemKey> = changes.removed.iter().map(ItemKey::of).collect();
                    stamped = changes.put.iter().map(|e| ItemKey::of(e)).collect();
                    (put, removed) =
                        adapters.index.change_state_entries(&summary.state, &changes.put, &gone, written).await.map_err(transient)?;
                    update = Some("changes");
                    whole
                }
                None => {
                    stamped = entries.iter().map(ItemKey::of).collect();
                    put = adapters.index.put_state_entries(&summary.state, &entries, written).await.map_err(transient)?;
                    // Items an older build wrote have no `state_at`: found by a scan, once.
                    let scan = standing
                        .as_deref()
                        .and_then(|t| serde_json::from_str::<Value>(t).ok())
                        .is_some_and(|s| state_write::indexed_before_state_at(&s));
                    removed = adapters
                        .index
                        .remove_state_entries(StateAt::of(&summary.state), &stamped, written, scan)
                        .await
                        .map_err(transient)?;
                    update = Some("whole");
                    written
                }
            };
            let standing = adapters.ledger.get("state", &id).await.map_err(transient)?;
            let newer = standing
                .as_ref()
                .and_then(|s| s["time"].as_str())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t.with_timezone(&chrono::Utc) > ev.time);
            if newer {
                let undone = adapters.index.undo_state_entries(&stamped, written).await.map_err(transient)?;
                info!(state = %url, write = %write, undone, "a newer write was indexed meanwhile: this write's entries taken back");
                put = 0;
            } else {
                // Refused when a newer write claimed the item since: then it is not complete.
                let done = state_write::with_entries(item, basis, whole, true);
                adapters.ledger.advance("state", &id, order, &done).await.map_err(transient)?;
            }
        } else {
            info!(state = %url, write = %write, "a newer write of this state is indexed: this one is checked, not indexed");
        }
    }

    // What the lock table says now.
    let digest = adapters.locks.get(&format!("{id}-md5")).await.map_err(transient)?.and_then(|i| i.digest);
    let lock_info = adapters.locks.get(&id).await.map_err(transient)?.and_then(|i| i.info);
    let facts = WriteFacts {
        event: ev,
        url: &url,
        version: version.as_deref(),
        current: &current,
        current_md5: &md5,
        previous: previous.as_ref(),
        previous_md5,
        lock_table_digest: digest,
        lock_info: lock_info.as_deref(),
        is_current,
        indexed: entries.len(),
        entries: &entries,
    };
    let (found, diff, resolved) = on_state_write(adapters, &facts, inv.now).await?;
    // Kept for the next write of this key (the version before it, then).
    drop(previous);
    if let Some(v) = &real_version {
        let last = LastState {
            bucket: ev.bucket.clone(),
            key: ev.key.clone(),
            version_id: v.clone(),
            state: current.clone(),
            elements,
            md5: md5.clone(),
        };
        *adapters.last_state.lock().unwrap_or_else(|p| p.into_inner()) = Some(last);
    }
    info!(state = %url, serial = current.serial, index_update = update.unwrap_or("none"), written_entries = put, removed_entries = removed, added = diff.added.len(), removed = diff.removed.len(), changed = diff.changed.len(), "state indexed");
    let summary = json!({"state": url, "version": version, "write": write, "serial": current.serial, "indexed": if is_current { entries.len() } else { 0 }, "index_update": update, "written_entries": put, "removed_entries": removed, "added": diff.added.len(), "removed": diff.removed.len(), "changed": diff.changed.len(), "resolved": resolved.resolved});
    Ok(Ok((found, summary)))
}

/// Remember that a write was processed, once its findings are recorded.
pub async fn mark_written(adapters: &Adapters, summary: &Value) -> Result<(), HandlerError> {
    let (Some(state), Some(write)) = (summary["state"].as_str(), summary["write"].as_str()) else { return Ok(()) };
    let id = state.trim_start_matches("s3://");
    adapters.ledger.put("written", &format!("{id}#{write}"), summary).await.map_err(transient)
}
