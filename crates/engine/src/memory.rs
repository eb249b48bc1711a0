//! The detectors' memory, loaded from the [`Ledger`] port for one signal and written back
//! after it.
//!
//! Ledger items by kind:
//!
//! | kind   | key                     | value                                             |
//! |--------|-------------------------|---------------------------------------------------|
//! | `lock` | `<bucket>/<key>`        | the held lock ([`HeldLock`]); deleted on release   |
//! | `acq`  | `<bucket>/<key>`        | `[principal, time]` of the last CloudTrail acquisition |
//! | `rel`  | `<bucket>/<key>`        | the last locks released (`Released`, oldest first)  |
//! | `dig`  | `<bucket>/<key>`        | the last `-md5` digests written (`DigestRecord`, oldest first) |
//! | `pending` | `<bucket>/<key>#<version>` | a state write whose integrity rules wait for its lock and digest evidence (`Written`) |
//! | `cfg`  | `<type>#<id>`           | newest AWS Config `configurationStateId` processed (written only forward: `Ledger::advance`) |
//! | `state` | `<bucket>/<key>`       | an indexed state (the state watcher's; the reconcile's list): bucket, key, workspace, serial, version, time |
//! | `cursor` | `reconcile`           | the sweeper's reconcile position                   |
//! | `heartbeat` | `sent` / `<observer>` | when the sweeper sent its first heartbeat / the send time of the newest one a watcher saw ([`crate::heartbeat`]) |
//!
//! [`LedgerMemory`] loads what a signal [needs](driftwatch_core::detect::needs) into the core's
//! [`InMemory`], lets the detector run, and writes back only what changed.

use chrono::{DateTime, Utc};
use driftwatch_core::detect::{ConfigOrder, DigestRecord, HeldLock, InMemory, LockLedger, Needs, Released};
use driftwatch_core::ports::{Ledger, PortResult};
use driftwatch_core::signal::Principal;
use serde_json::Value;
use std::collections::BTreeSet;

fn cfg_key(t: &str, id: &str) -> String {
    format!("{t}#{id}")
}

/// The core's [`InMemory`] loaded with the ledger items a signal needs; records what the
/// detector changed so [`LedgerMemory::save`] writes back only that.
#[derive(Debug, Default)]
pub struct LedgerMemory {
    inner: InMemory,
    locks: BTreeSet<String>,
    acquirers: BTreeSet<String>,
    released: BTreeSet<String>,
    digests: BTreeSet<String>,
    configs: BTreeSet<(String, String)>,
}

impl LedgerMemory {
    /// Load the items `needs` names.
    pub async fn load(ledger: &impl Ledger, needs: &Needs) -> PortResult<LedgerMemory> {
        let mut inner = InMemory::default();
        for id in &needs.lock_ids {
            if let Some(v) = ledger.get("lock", id).await? {
                if let Ok(held) = serde_json::from_value::<HeldLock>(v) {
                    inner.hold(id, held);
                }
            }
            if let Some(v) = ledger.get("acq", id).await? {
                if let Ok((p, at)) = serde_json::from_value::<(Principal, DateTime<Utc>)>(v) {
                    inner.note_acquirer(id, p, at);
                }
            }
            if let Some(v) = ledger.get("rel", id).await? {
                for r in serde_json::from_value::<Vec<Released>>(v).unwrap_or_default() {
                    inner.note_release(id, r);
                }
            }
            if let Some(v) = ledger.get("dig", id).await? {
                for d in serde_json::from_value::<Vec<DigestRecord>>(v).unwrap_or_default() {
                    inner.note_digest(id, d);
                }
            }
        }
        for (t, id) in &needs.config_items {
            if let Some(n) = ledger.get("cfg", &cfg_key(t, id)).await?.and_then(|v| v.as_u64()) {
                inner.set_state_id(t, id, n);
            }
        }
        Ok(LedgerMemory { inner, ..Default::default() })
    }

    /// An empty memory with these locks held (the sweeper's view of the lock table).
    pub fn with_locks(locks: Vec<(String, HeldLock)>) -> LedgerMemory {
        let mut inner = InMemory::default();
        for (id, l) in locks {
            inner.hold(&id, l);
        }
        LedgerMemory { inner, ..Default::default() }
    }

    /// Write back what the detector changed.
    pub async fn save(&self, ledger: &impl Ledger) -> PortResult<()> {
        for id in &self.locks {
            match self.inner.held(id) {
                Some(l) => ledger.put("lock", id, &serde_json::to_value(l).unwrap_or(Value::Null)).await?,
                None => ledger.delete("lock", id).await?,
            }
        }
        for id in &self.acquirers {
            if let Some(a) = self.inner.acquirer(id) {
                ledger.put("acq", id, &serde_json::to_value(a).unwrap_or(Value::Null)).await?;
            }
        }
        for id in &self.released {
            ledger.put("rel", id, &serde_json::to_value(self.inner.releases(id)).unwrap_or(Value::Null)).await?;
        }
        for id in &self.digests {
            ledger.put("dig", id, &serde_json::to_value(self.inner.digests(id)).unwrap_or(Value::Null)).await?;
        }
        for (t, id) in &self.configs {
            if let Some(n) = self.inner.last_state_id(t, id) {
                // Only forward: an instance that processed an older item concurrently and
                // saves last must not move the order back.
                ledger.advance("cfg", &cfg_key(t, id), n, &Value::from(n)).await?;
            }
        }
        Ok(())
    }
}

impl LockLedger for LedgerMemory {
    fn held(&self, lock_id: &str) -> Option<HeldLock> {
        self.inner.held(lock_id)
    }
    fn hold(&mut self, lock_id: &str, lock: HeldLock) {
        self.locks.insert(lock_id.to_string());
        self.inner.hold(lock_id, lock)
    }
    fn release(&mut self, lock_id: &str) -> Option<HeldLock> {
        self.locks.insert(lock_id.to_string());
        self.inner.release(lock_id)
    }
    fn all_held(&self) -> Vec<(String, HeldLock)> {
        self.inner.all_held()
    }
    fn note_release(&mut self, lock_id: &str, released: Released) {
        self.released.insert(lock_id.to_string());
        self.inner.note_release(lock_id, released)
    }
    fn releases(&self, lock_id: &str) -> Vec<Released> {
        self.inner.releases(lock_id)
    }
    fn note_digest(&mut self, lock_id: &str, digest: DigestRecord) {
        self.digests.insert(lock_id.to_string());
        self.inner.note_digest(lock_id, digest)
    }
    fn digests(&self, lock_id: &str) -> Vec<DigestRecord> {
        self.inner.digests(lock_id)
    }
    fn note_acquirer(&mut self, lock_id: &str, principal: Principal, at: DateTime<Utc>) {
        self.acquirers.insert(lock_id.to_string());
        self.inner.note_acquirer(lock_id, principal, at)
    }
    fn acquirer(&self, lock_id: &str) -> Option<(Principal, DateTime<Utc>)> {
        self.inner.acquirer(lock_id)
    }
}

impl ConfigOrder for LedgerMemory {
    fn last_state_id(&self, resource_type: &str, resource_id: &str) -> Option<u64> {
        self.inner.last_state_id(resource_type, resource_id)
    }
    fn set_state_id(&mut self, resource_type: &str, resource_id: &str, id: u64) {
        self.configs.insert((resource_type.to_string(), resource_id.to_string()));
        self.inner.set_state_id(resource_type, resource_id, id)
    }
}
