//! `config-watcher`: AWS Config `Configuration Item Change` notifications. An oversized
//! notification carries no item: the item is read from the S3 object the notification names,
//! then detected like any other.

use super::{watch_decoded, HandlerError, Invocation};
use crate::deps::Deps;
use serde_json::Value;

pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let decoded = driftwatch_decode::decode_document(&bytes, "event", &deps.env.policy, &deps.redactor);
    Ok(watch_decoded(deps, decoded, inv).await?.response())
}
