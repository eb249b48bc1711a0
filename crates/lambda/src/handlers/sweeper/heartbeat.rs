//! The sweeper's heartbeat: first what the watchers heard of the heartbeats sent so far
//! (`watcher.silent` for a watcher that has seen none for `silent_after_minutes`, resolved
//! when one gets through again), then this run's heartbeat: the heartbeat topic tagged
//! `driftwatch:heartbeat` = the run's time in epoch seconds — a write that reaches the
//! trail-watcher through CloudTrail and EventBridge and the config-watcher through AWS Config.

use super::super::{response, transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_core::detect::self_defence::HEARTBEAT_TAG;
use serde_json::{json, Value};

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    if adapters.env.policy.watcher.heartbeat_topic.is_empty() {
        return Ok(json!({"off": "no [watcher] heartbeat_topic in the policy"}));
    }
    let (heard, silent, recorded) = driftwatch_engine::heartbeat::hear(adapters, inv.now).await?;
    let Some(topic) = &adapters.heartbeat else {
        return Err(transient("the policy names a heartbeat topic but DRIFTWATCH_HEARTBEAT_TOPIC_ARN is not set"));
    };
    topic.tag(HEARTBEAT_TAG, &inv.now.timestamp().to_string()).await.map_err(|e| transient(format!("heartbeat topic: {e}")))?;
    driftwatch_engine::heartbeat::sent(adapters, inv.now).await?;
    let r = response(heard.len(), 0, &silent, recorded);
    Ok(json!({"sent": inv.now, "heard": heard, "findings": r["findings"], "recorded": r["recorded"]}))
}
