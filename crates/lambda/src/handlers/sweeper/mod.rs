//! `sweeper`: the scheduled backstop. Each run, in this order, each part independent (a part
//! that fails is reported and the others still run; the invocation then fails so the schedule's
//! retry runs it again — every part is idempotent):
//!
//! 1. **stale locks**: every lock held in the policy's lock tables (a `Scan`) and `.tflock`
//!    objects in its state buckets, swept against the thresholds (`lock.stale`);
//! 2. **state writes settled**: each write the state watcher parked (its digest had not
//!    arrived) is decided once its digest has arrived or it is old enough for its lock and
//!    digest evidence to be complete (`state.unlocked_write`, `state.digest_mismatch`);
//! 3. **due alerts**: every alert still due — held back by a resource's quiet period that has
//!    ended, or left by a publisher that failed — is published (by the invocation's clock, not
//!    the schedule's time: a retry of a run whose publish failed must see the minute pass after
//!    which an alert left due is no longer taken as being published by another invocation);
//! 4. **exception notices**: each notice due is published, then recorded on its exception
//!    item (a conditional update) — so each is sent once across runs (twice only when a run
//!    fails between the two);
//! 5. **evidence digests**: every record not yet covered is sealed into a signed, chained
//!    digest (the key is the Secrets Manager secret [`SIGNING_KEY_SECRET`](crate::env::SIGNING_KEY_SECRET));
//! 6. **reconcile**: every indexed state against AWS Config, a chunk of states per run from a
//!    cursor kept in the ledger, stopping early when the deadline nears — so any estate is
//!    covered across runs without hitting the 15-minute limit;
//! 7. **heartbeat**: `watcher.silent` for a watcher that has seen none of the heartbeats sent
//!    for `silent_after_minutes` (resolved when one gets through), then this run's heartbeat:
//!    the heartbeat topic tagged, a write the watchers must see through CloudTrail and AWS
//!    Config.

mod alerts;
mod heartbeat;
mod locks;
mod notices;
mod reconcile;
mod seal;
mod settle;

use super::{response, HandlerError, Invocation};
use crate::adapters::Adapters;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracing::warn;

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let now = payload.get("time").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    // A scheduled event's own time is when the schedule fired; sweeping "as of" it keeps a
    // redelivered event's findings identical.
    // Publishing what is due goes by the invocation's own clock (never before the schedule):
    // a retry of this event must see time pass, or an alert whose publish failed would look
    // in flight to every retry.
    let clock = &Invocation { now: now.map_or(inv.now, |t| t.max(inv.now)), ..inv.clone() };
    // The watcher's account: the scheduled event's (its rule is the watcher's), else the
    // function's own.
    let account = payload.get("account").and_then(Value::as_str).map(str::to_string).or_else(|| inv.account.clone());
    let inv = &Invocation { now: now.unwrap_or(inv.now), account, ..inv.clone() };
    let mut errors: Vec<String> = Vec::new();
    let mut out = json!({});

    match locks::run(adapters, inv).await {
        Ok((findings, recorded, held)) => {
            out["locks"] = json!({"held": held});
            let r = response(held, 0, &findings, recorded);
            out["findings"] = r["findings"].clone();
            out["recorded"] = r["recorded"].clone();
        }
        Err(e) => errors.push(format!("stale locks: {e}")),
    }
    // The other parts, each independent: its report under its name, or its failure noted.
    let parts = [
        ("settled", "settling state writes", settle::run(adapters, inv).await),
        ("alerts", "due alerts", alerts::run(adapters, clock).await),
        ("notices", "exception notices", notices::run(adapters, inv).await),
        ("sealed", "evidence digests", seal::run(adapters, inv).await),
        ("reconcile", "reconcile", reconcile::run(adapters, inv).await),
        ("heartbeat", "heartbeat", heartbeat::run(adapters, inv).await),
    ];
    for (name, what, done) in parts {
        match done {
            Ok(v) => out[name] = v,
            Err(e) => errors.push(format!("{what}: {e}")),
        }
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
