//! `sweeper`: the scheduled backstop. Each run, in this order, each part independent (a part
//! that fails is reported and the others still run; the invocation then fails so the schedule's
//! retry runs it again — every part is idempotent):
//!
//! 1. **stale locks**: every lock held in the policy's lock tables (a `Scan`) and `.tflock`
//!    objects in its state buckets, swept against the thresholds (`lock.stale`);
//! 2. **exception notices**: each notice due is recorded on its exception item first (a
//!    conditional update), then published — so each is sent once across runs;
//! 3. **evidence digests**: every record not yet covered is sealed into a signed, chained
//!    digest (the key is the Secrets Manager secret [`SIGNING_KEY_SECRET`](crate::env::SIGNING_KEY_SECRET));
//! 4. **reconcile**: every indexed state against AWS Config, a chunk of states per run from a
//!    cursor kept in the ledger, stopping early when the deadline nears — so any estate is
//!    covered across runs without hitting the 15-minute limit.

use super::{response, transient, HandlerError, Invocation};
use crate::deps::Deps;
use chrono::{DateTime, Duration, Utc};
use driftwatch_core::detect::HeldLock;
use driftwatch_core::Finding;
use driftwatch_engine::{locks, Recorded};
use serde_json::{json, Value};
use tracing::{info, warn};

pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let now = payload.get("time").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    // A scheduled event's own time is when the schedule fired; sweeping "as of" it keeps a
    // redelivered event's findings identical.
    let inv = &Invocation { now: now.unwrap_or(inv.now), ..inv.clone() };
    let mut errors: Vec<String> = Vec::new();
    let mut out = json!({});

    match stale_locks(deps, inv).await {
        Ok((findings, recorded, held)) => {
            out["locks"] = json!({"held": held});
            let r = response(held, 0, &findings, recorded);
            out["findings"] = r["findings"].clone();
            out["recorded"] = r["recorded"].clone();
        }
        Err(e) => errors.push(format!("stale locks: {e}")),
    }
    match super::sweeper_notices::run(deps, inv).await {
        Ok(v) => out["notices"] = v,
        Err(e) => errors.push(format!("exception notices: {e}")),
    }
    match seal(deps, inv).await {
        Ok(v) => out["sealed"] = v,
        Err(e) => errors.push(format!("evidence digests: {e}")),
    }
    match super::sweeper_reconcile::run(deps, inv).await {
        Ok(v) => out["reconcile"] = v,
        Err(e) => errors.push(format!("reconcile: {e}")),
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        for e in &errors {
            warn!(error = %e, "sweeper part failed");
        }
        Err(HandlerError::Transient(errors.join("; ")))
    }
}

/// Every lock held now, from the lock tables and `.tflock` objects.
async fn held_locks(deps: &Deps, now: DateTime<Utc>) -> Result<Vec<(String, HeldLock)>, HandlerError> {
    let mut held = Vec::new();
    for item in deps.locks.held().await.map_err(transient)? {
        if let Some(lock) = locks::held_in_table(item.info.as_deref(), &item.table, now) {
            held.push((item.lock_id, lock));
        }
    }
    for bucket in &deps.env.policy.state.buckets {
        for (key, bytes) in deps.states.lock_files(bucket).await.map_err(transient)? {
            held.extend(locks::held_in_file(bucket, &key, &bytes, now));
        }
    }
    Ok(held)
}

async fn stale_locks(deps: &Deps, inv: &Invocation) -> Result<(Vec<Finding>, Recorded, usize), HandlerError> {
    let held = held_locks(deps, inv.now).await?;
    let n = held.len();
    let (found, recorded) = locks::sweep_locks(deps, held, inv.now).await?;
    info!(held = n, stale = found.len(), "stale-lock sweep");
    Ok((found, recorded, n))
}

/// The signing key, from Secrets Manager.
async fn signer(deps: &Deps) -> Result<driftwatch_core::evidence::Signer25519, HandlerError> {
    let id = deps.env.signing_key_secret.clone().unwrap_or_default();
    let text = deps.secrets.get_string(&id).await.map_err(|e| transient(format!("signing key {e}")))?;
    driftwatch_core::evidence::Signer25519::from_text(&text).map_err(|e| transient(format!("signing key secret {id}: {e}")))
}

/// Seal what is not yet covered, up to a minute ago (records being written now wait for the
/// next run). The core's sealing is synchronous: it runs on a blocking thread with its own
/// client and runtime.
async fn seal(deps: &Deps, inv: &Invocation) -> Result<Value, HandlerError> {
    let signer = signer(deps).await?;
    // A client of its own (same configuration) for the blocking runtime: connections of one
    // runtime are not used from another.
    let client = driftwatch_aws::s3_client(&deps.sdk, deps.env.path_style);
    let store = driftwatch_aws::S3EvidenceStore::new(client, deps.evidence.location().clone(), deps.env.store_options.clone());
    let window_end = inv.now - Duration::minutes(1);
    let sealed = tokio::task::spawn_blocking(move || {
        let runtime = driftwatch_aws::blocking_runtime().map_err(|e| e.to_string())?;
        let mut store = driftwatch_aws::BlockingS3EvidenceStore::new(store, std::sync::Arc::new(runtime));
        let sealed = driftwatch_core::evidence::seal(&mut store, "", &signer, window_end).map_err(|e| e.to_string());
        // Drop the store (and its runtime) here, on the blocking thread: a runtime may not be
        // dropped from async code.
        drop(store);
        sealed
    })
    .await
    .map_err(transient)?
    .map_err(transient)?;
    info!(digest = %sealed.key, records = sealed.records, "evidence sealed");
    Ok(json!({"digest": sealed.key, "sequence": sealed.sequence, "records": sealed.records, "written": sealed.written}))
}
