//! `config-watcher`: AWS Config `Configuration Item Change` notifications. An oversized
//! notification carries no item: the item is read from the S3 object the notification names
//! (through the Config reader), then detected like any other. An oversized item that cannot
//! be read or parsed is `input.invalid`; S3 errors other than a missing object are retried.

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
            Err(e) if is_transient(&e) => return Err(HandlerError::Transient(format!("oversized configuration item: {e}"))),
            Err(e) => {
                let source = format!("s3://{}/{}", oversized.s3_bucket, oversized.s3_key);
                *d = Err(InvalidInput { source, index: None, message: e.to_string() });
            }
        }
    }
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    Ok(outcome_response(&driftwatch_engine::watch(adapters, decoded, at, inv.now).await?))
}

/// Is a failure to read an oversized item worth retrying? A missing object or an object that
/// is not a configuration item will not get better; a failed call may.
fn is_transient(e: &driftwatch_aws::LiveReadError) -> bool {
    match e {
        driftwatch_aws::LiveReadError::Oversized { message, .. } => {
            let m = message.to_ascii_lowercase();
            !(m.contains("nosuchkey") || m.contains("not found") || m.contains("json") || m.contains("gzip") || m.contains("item"))
        }
        driftwatch_aws::LiveReadError::Request { .. } => true,
        _ => false,
    }
}
