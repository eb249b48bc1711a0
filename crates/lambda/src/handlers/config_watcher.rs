//! `config-watcher`: AWS Config `Configuration Item Change` notifications. An oversized
//! notification carries no item: the item is read from the S3 object the notification names
//! (through the Config reader), then detected like any other. An oversized item that cannot
//! be read for good (the object or its bucket missing, access denied, not a configuration
//! item) is `input.invalid`, recorded once; a failure that may pass (throttling, 5xx, a
//! timeout) fails the invocation so the platform retries it.

use super::{outcome_response, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_core::signal::{InvalidInput, Signal};
use serde_json::Value;

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let mut decoded = driftwatch_decode::decode_document(&bytes, "event", &adapters.env.policy, &adapters.redactor);
    for d in decoded.iter_mut() {
        let Ok(Signal::ConfigChange(change)) = d else { continue };
        let Some(oversized) = change.oversized.clone().filter(|_| change.item.is_none()) else { continue };
        match adapters.live.oversized(&oversized, &adapters.redactor).await {
            Ok(item) => change.item = Some(item),
            Err(e) if !e.is_permanent() => return Err(HandlerError::Transient(format!("oversized configuration item: {e}"))),
            Err(e) => {
                // Recorded once (input.invalid names the reason), never retried: a missing
                // object or bucket, or a role that may not read the Config delivery bucket
                // (infra's `config_delivery_bucket`), fails the same way on every retry.
                let source = format!("s3://{}/{}", oversized.s3_bucket, oversized.s3_key);
                *d = Err(InvalidInput { source, index: None, message: e.to_string() });
            }
        }
    }
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    Ok(outcome_response(&driftwatch_engine::watch(adapters, decoded, at, inv.now).await?))
}
