//! The sweeper's settling of state writes: every write parked by the state watcher whose
//! digest has arrived, or that is old enough for all of its lock and digest evidence to have
//! arrived, is decided (`state.unlocked_write`, `state.digest_mismatch`) by the engine.

use super::super::{response, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_engine::state_write;
use serde_json::{json, Value};
use tracing::info;

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    let done = state_write::settle(adapters, inv.now).await?;
    info!(settled = done.settled, waiting = done.waiting, findings = done.findings.len(), "state writes settled");
    let r = response(done.settled, 0, &done.findings, done.recorded);
    Ok(json!({"settled": done.settled, "waiting": done.waiting, "findings": r["findings"], "recorded": r["recorded"]}))
}
