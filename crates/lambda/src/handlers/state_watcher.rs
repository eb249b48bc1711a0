//! `state-watcher`: a Terraform state object was written (or deleted) in the S3 backend.
//!
//! On a write: read that object version, index it (put its entries, remove the entries its
//! previous version had and this one has not), read the version before it, and run the
//! state-write detector with what the lock table says (the `-md5` digest item, a lock still
//! held). A deletion removes the state's entries. Each checked write is recorded as
//! `state-write` evidence (the addresses it added, removed and changed — never values).
//!
//! A state that cannot be parsed is `input.invalid` (the index keeps the previous version).

use super::{response, transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_aws::{ItemKey, StateAt};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::signal::{InvalidInput, ObjectChange, Signal, StateObjectEvent};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::Finding;
use driftwatch_engine::state_write::{on_state_write, WriteFacts};
use driftwatch_engine::{record, Recorded};
use md5::{Digest, Md5};
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
    for d in decoded {
        match d {
            Err(bad) => {
                invalid += 1;
                findings.push(driftwatch_engine::signal::invalid(adapters, &bad, at));
            }
            Ok(Signal::StateObject(ev)) => match ev.change {
                ObjectChange::Created => match state_written(adapters, &ev, inv).await? {
                    Ok((found, summary)) => {
                        findings.extend(found);
                        writes.push(summary);
                    }
                    Err(bad) => {
                        invalid += 1;
                        findings.push(driftwatch_engine::signal::invalid(adapters, &bad, ev.time));
                    }
                },
                ObjectChange::Deleted => writes.push(state_deleted(adapters, &ev).await?),
            },
            Ok(other) => findings.extend(driftwatch_engine::on_signal(adapters, &other, at).await?),
        }
    }
    let recorded: Recorded = record(adapters, findings.clone(), inv.now).await?;
    for w in &writes {
        if w.get("replay").is_none() && w.get("deleted").is_none() {
            mark_written(adapters, w).await?;
        }
    }
    let mut out = response(signals, invalid, &findings, recorded);
    out["states"] = Value::Array(writes);
    Ok(out)
}

async fn state_deleted(adapters: &Adapters, ev: &StateObjectEvent) -> Result<Value, HandlerError> {
    let ws = StateLocation::s3(ev.bucket.clone(), ev.key.clone()).workspace();
    let at = StateAt { bucket: Some(&ev.bucket), key: &ev.key, workspace: &ws };
    let removed = adapters.index.remove_state_entries(at, &[]).await.map_err(transient)?;
    adapters.ledger.delete("state", &format!("{}/{}", ev.bucket, ev.key)).await.map_err(transient)?;
    info!(state = %format!("s3://{}/{}", ev.bucket, ev.key), removed, "state deleted: entries removed");
    Ok(json!({"state": format!("s3://{}/{}", ev.bucket, ev.key), "deleted": true, "removed_entries": removed}))
}

/// Index and check one state write. The outer error is transient (retry); the inner one is
/// the write's own invalid input.
async fn state_written(
    adapters: &Adapters,
    ev: &StateObjectEvent,
    inv: &Invocation,
) -> Result<Result<(Vec<Finding>, Value), InvalidInput>, HandlerError> {
    let id = format!("{}/{}", ev.bucket, ev.key);
    let url = format!("s3://{id}");
    // A redelivery of a write already processed does nothing (its findings, evidence and index
    // update are done).
    let marker = format!("{id}#{}", ev.version_id.as_deref().unwrap_or("-"));
    if let Some(done) = adapters.ledger.get("written", &marker).await.map_err(transient)? {
        info!(state = %url, version = ?ev.version_id, "state write already processed");
        let mut summary = done;
        summary["replay"] = Value::Bool(true);
        return Ok(Ok((Vec::new(), summary)));
    }
    let object = adapters.states.get_version(&ev.bucket, &ev.key, ev.version_id.as_deref()).await.map_err(transient)?;
    let loc = StateLocation::s3(ev.bucket.clone(), ev.key.clone());
    let current = match parse_state(&object.bytes, loc.clone(), &adapters.catalog, &adapters.redactor) {
        Ok(s) => s,
        Err(e) => {
            let source = format!("{url} (version {})", ev.version_id.as_deref().unwrap_or("current"));
            return Ok(Err(InvalidInput { source, index: None, message: e.to_string() }));
        }
    };
    let md5 = driftwatch_core::redact::hex(&Md5::digest(&object.bytes));

    // The version before, if any (a previous version that no longer parses is treated as absent).
    let version = object.version_id.clone().or_else(|| ev.version_id.clone());
    let mut previous = None;
    let mut previous_md5 = None;
    if let Some(v) = &version {
        if let Some(pv) = adapters.states.previous_version(&ev.bucket, &ev.key, v).await.map_err(transient)? {
            let o = adapters.states.get_version(&ev.bucket, &ev.key, Some(&pv)).await.map_err(transient)?;
            previous_md5 = Some(driftwatch_core::redact::hex(&Md5::digest(&o.bytes)));
            previous = parse_state(&o.bytes, loc.clone(), &adapters.catalog, &adapters.redactor).ok();
        }
    }

    // Index the new version — only if it is still the object's current version: an older
    // write delivered late must not roll the index back (it is still checked below).
    let mut index = ManagedIndex::default();
    let summary = index.add_state(current.clone(), &adapters.catalog);
    let entries = index.entries().to_vec();
    let is_current = match &version {
        None => true,
        Some(v) => adapters.states.current_version(&ev.bucket, &ev.key).await.map_err(transient)?.is_none_or(|c| &c == v),
    };
    let (mut put, mut removed) = (0, 0);
    if is_current {
        let keep: Vec<ItemKey> = entries.iter().map(ItemKey::of).collect();
        put = adapters.index.put_state_entries(&summary.state, &entries).await.map_err(transient)?;
        removed = adapters.index.remove_state_entries(StateAt::of(&summary.state), &keep).await.map_err(transient)?;
        adapters.ledger
            .put(
                "state",
                &id,
                &json!({"bucket": ev.bucket, "key": ev.key, "workspace": summary.state.workspace, "serial": current.serial, "version": version, "time": ev.time}),
            )
            .await
            .map_err(transient)?;
    }

    // What the lock table says.
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
    };
    let (found, diff) = on_state_write(adapters, &facts, inv.now).await?;
    info!(state = %url, serial = current.serial, indexed = put, removed_entries = removed, added = diff.added.len(), removed = diff.removed.len(), changed = diff.changed.len(), "state indexed");
    let summary = json!({"state": url, "version": version, "serial": current.serial, "indexed": if is_current { entries.len() } else { 0 }, "removed_entries": removed, "added": diff.added.len(), "removed": diff.removed.len(), "changed": diff.changed.len()});
    Ok(Ok((found, summary)))
}

/// Remember that a write was processed, once its findings are recorded.
pub async fn mark_written(adapters: &Adapters, summary: &Value) -> Result<(), HandlerError> {
    let (Some(state), version) = (summary["state"].as_str(), summary["version"].as_str().unwrap_or("-")) else { return Ok(()) };
    let id = state.trim_start_matches("s3://");
    adapters.ledger.put("written", &format!("{id}#{version}"), summary).await.map_err(transient)
}
