//! `sweep_locks`: the stale-lock sweep over every lock held now (the sweeper reads them from
//! the lock tables and the `.tflock` objects), and how a held lock is read from either.

use crate::memory::LedgerMemory;
use crate::ports::{Ports, Retry};
use crate::record::{record, Recorded};
use chrono::{DateTime, Utc};
use driftwatch_core::detect::{self, Context, HeldLock, LockSource};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::signal::LockInfo;
use driftwatch_core::Finding;

/// A lock-table item's `Info` as a held lock (`None`: no info, or not Terraform's); held since
/// the info's `Created`, else `now`.
pub fn held_in_table(info: Option<&str>, table: &str, now: DateTime<Utc>) -> Option<HeldLock> {
    let info: LockInfo = serde_json::from_str(info?).ok()?;
    let since = info.created.unwrap_or(now);
    Some(HeldLock { info, since, principal: None, source: LockSource::Table { table: Some(table.to_string()) } })
}

/// A `.tflock` object as a held lock: `(lock id, lock)`, the lock id being
/// `<bucket>/<state key>`; `None` for another key or a body that is not Terraform's.
pub fn held_in_file(bucket: &str, key: &str, body: &[u8], now: DateTime<Utc>) -> Option<(String, HeldLock)> {
    let state_key = key.strip_suffix(".tflock")?;
    let info: LockInfo = serde_json::from_slice(body).ok()?;
    let since = info.created.unwrap_or(now);
    let source = LockSource::File { bucket: bucket.to_string(), key: key.to_string() };
    Some((format!("{bucket}/{state_key}"), HeldLock { info, since, principal: None, source }))
}

/// Sweep `held` against the policy's thresholds at `now` (`lock.stale`) and record what it
/// finds.
pub async fn sweep_locks(ports: &impl Ports, held: Vec<(String, HeldLock)>, now: DateTime<Utc>) -> Result<(Vec<Finding>, Recorded), Retry> {
    let mut mem = LedgerMemory::with_locks(held);
    let index = ManagedIndex::default();
    let ctx = Context { index: &index, catalog: ports.catalog(), policy: ports.policy(), redactor: ports.redactor(), now };
    let found = detect::lock::sweep(now, &ctx, &mut mem);
    let recorded = record(ports, found.clone(), now).await?;
    Ok((found, recorded))
}
