//! `trail-watcher`: CloudTrail API calls — one EventBridge `AWS API Call via CloudTrail`
//! event, a CloudTrail log document, or an S3 notification of a delivered log file (read,
//! gunzipped and replayed record by record; a corrupt record is `input.invalid`, the others
//! are still processed).

use super::{outcome_response, HandlerError, Invocation};
use crate::adapters::Adapters;
use driftwatch_core::signal::InvalidInput;
use driftwatch_engine::{watch, watch_document, Outcome};
use serde_json::Value;

/// Largest CloudTrail log file read (decompressed).
const MAX_LOG_BYTES: u64 = 512 * 1024 * 1024;

/// Objects of the payload that are CloudTrail log files: `(bucket, key)`.
fn log_files(payload: &Value) -> Vec<(String, String)> {
    let is_log = |k: &str| k.contains("/CloudTrail/") && (k.ends_with(".json.gz") || k.ends_with(".json"));
    let mut out = Vec::new();
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        for r in records {
            let b = r.pointer("/s3/bucket/name").and_then(Value::as_str);
            let k = r.pointer("/s3/object/key").and_then(Value::as_str).map(driftwatch_decode::s3::url_decode);
            if let (Some(b), Some(k)) = (b, k) {
                if is_log(&k) {
                    out.push((b.to_string(), k));
                }
            }
        }
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some("Object Created") {
        let b = payload.pointer("/detail/bucket/name").and_then(Value::as_str);
        let k = payload.pointer("/detail/object/key").and_then(Value::as_str);
        if let (Some(b), Some(k)) = (b, k) {
            if is_log(k) {
                out.push((b.to_string(), k.to_string()));
            }
        }
    }
    out
}

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let files = log_files(&payload);
    if files.is_empty() {
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let at = super::payload_time(&payload).unwrap_or(inv.now);
        return Ok(outcome_response(&watch_document(adapters, &bytes, "event", at, inv.now).await?));
    }
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    let mut all = Outcome::default();
    for (bucket, key) in files {
        let source = format!("s3://{bucket}/{key}");
        let bytes = match adapters.log_files.get(&bucket, &key).await {
            Ok(b) => b,
            // Gone, or not readable by this role: the same on every retry. Recorded once.
            Err(e) if e.permanent => {
                all.add(
                    watch(adapters, vec![Err(InvalidInput { source: source.clone(), index: None, message: e.to_string() })], at, inv.now)
                        .await?,
                );
                continue;
            }
            Err(e) => return Err(HandlerError::Transient(e.to_string())),
        };
        let decoded = if bytes.starts_with(&[0x1f, 0x8b]) {
            match driftwatch_decode::gunzip(&bytes, MAX_LOG_BYTES) {
                Ok(b) => driftwatch_decode::decode_document(&b, &source, &adapters.env.policy, &adapters.redactor),
                Err(message) => vec![Err(InvalidInput { source: source.clone(), index: None, message })],
            }
        } else {
            driftwatch_decode::decode_document(&bytes, &source, &adapters.env.policy, &adapters.redactor)
        };
        all.add(watch(adapters, decoded, at, inv.now).await?);
    }
    Ok(outcome_response(&all))
}
