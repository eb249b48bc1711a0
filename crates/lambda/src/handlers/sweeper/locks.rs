//! The sweeper's stale locks: every lock held now, from the policy's lock tables (a `Scan`)
//! and the `.tflock` objects in its state buckets, swept against the thresholds
//! (`lock.stale`) by the engine.

use super::super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use chrono::{DateTime, Utc};
use driftwatch_core::detect::HeldLock;
use driftwatch_core::Finding;
use driftwatch_engine::{locks, Recorded};
use tracing::info;

/// Every lock held now, from the lock tables and `.tflock` objects.
async fn held_locks(adapters: &Adapters, now: DateTime<Utc>) -> Result<Vec<(String, HeldLock)>, HandlerError> {
    let mut held = Vec::new();
    for item in adapters.locks.held().await.map_err(transient)? {
        if let Some(lock) = locks::held_in_table(item.info.as_deref(), &item.table, now) {
            held.push((item.lock_id, lock));
        }
    }
    for bucket in &adapters.env.policy.state.buckets {
        for (key, bytes) in adapters.states.lock_files(bucket).await.map_err(transient)? {
            held.extend(locks::held_in_file(bucket, &key, &bytes, now));
        }
    }
    Ok(held)
}

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<(Vec<Finding>, Recorded, usize), HandlerError> {
    let held = held_locks(adapters, inv.now).await?;
    let n = held.len();
    let (found, recorded) = locks::sweep_locks(adapters, held, inv.now).await?;
    info!(held = n, stale = found.len(), "stale-lock sweep");
    Ok((found, recorded, n))
}
