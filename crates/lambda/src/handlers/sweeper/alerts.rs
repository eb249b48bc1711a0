//! The sweeper's due alerts: every alert still due — held back by a resource's quiet period
//! that has ended, or left by a publisher that failed — is published by the engine
//! (`driftwatch_engine::record::publish_due`), so it goes out even when its finding is not
//! observed again.

use super::super::{HandlerError, Invocation};
use crate::adapters::Adapters;
use serde_json::{json, Value};
use tracing::info;

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    let done = driftwatch_engine::record::publish_due(adapters, inv.now).await?;
    info!(sent = done.sent, waiting = done.waiting, "due alerts");
    Ok(json!(done))
}
