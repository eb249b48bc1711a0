//! `trail-watcher`: CloudTrail API calls — one EventBridge `AWS API Call via CloudTrail`
//! event, a CloudTrail log document, or an S3 notification of a delivered log file (read,
//! gunzipped and replayed record by record; a corrupt record is `input.invalid`, the others
//! are still processed).
//!
//! The backfill queue (`driftwatch backfill`) delivers the same S3 notifications as an SQS
//! batch: each message's files are read as above. A message whose body is not a notification
//! of log files is `input.invalid` and acknowledged (S3's `s3:TestEvent` is skipped); one
//! that fails transiently is reported in `batchItemFailures` (the event source mapping has
//! `ReportBatchItemFailures`), so only it is delivered again.

use super::{outcome_response, response, HandlerError, Invocation};
use crate::adapters::Adapters;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use driftwatch_core::signal::InvalidInput;
use driftwatch_engine::{watch, watch_document, Outcome};
use serde_json::Value;
use tracing::warn;

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

/// Is the payload an SQS batch (the backfill queue's event source mapping)?
fn is_sqs_batch(payload: &Value) -> bool {
    payload["Records"].as_array().and_then(|r| r.first()).is_some_and(|r| r["eventSource"] == "aws:sqs")
}

/// Read, decode and detect each log file; a file gone or unreadable is `input.invalid` once.
async fn read_files(
    adapters: &Adapters,
    files: Vec<(String, String)>,
    at: DateTime<Utc>,
    inv: &Invocation,
) -> Result<Outcome, HandlerError> {
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
    Ok(all)
}

/// An SQS batch of S3 notifications: each message on its own; the ones that failed
/// transiently are named in `batchItemFailures`.
async fn queued(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let event: SqsEvent = match serde_json::from_value(payload) {
        Ok(e) => e,
        Err(e) => {
            let bad = InvalidInput { source: "trail-watcher SQS batch".into(), index: None, message: format!("not an SQS event: {e}") };
            let done = watch(adapters, vec![Err(bad)], inv.now, inv.now).await?;
            let mut out = outcome_response(&done);
            out["batchItemFailures"] = Value::Array(Vec::new());
            return Ok(out);
        }
    };
    let mut all = Outcome::default();
    let mut failures = Vec::new();
    for (i, m) in event.records.iter().enumerate() {
        let id = m.message_id.clone().unwrap_or_default();
        let body: Option<Value> = m.body.as_deref().and_then(|b| serde_json::from_str(b).ok());
        if body.as_ref().is_some_and(|b| b["Event"] == "s3:TestEvent") {
            continue;
        }
        let files = body.as_ref().map(log_files).unwrap_or_default();
        // The notification's time, else when the message was sent: the same on every delivery.
        let sent = m.attributes.get("SentTimestamp").and_then(|t| t.parse::<i64>().ok()).and_then(DateTime::from_timestamp_millis);
        let at = body.as_ref().and_then(super::payload_time).or(sent).unwrap_or(inv.now);
        let done = if files.is_empty() {
            let message = match &body {
                Some(_) => "not an S3 notification of CloudTrail log files".to_string(),
                None => "the message body is not JSON".to_string(),
            };
            let bad = InvalidInput { source: format!("sqs message {id}"), index: Some(i), message };
            watch(adapters, vec![Err(bad)], at, inv.now).await.map_err(HandlerError::from)
        } else {
            read_files(adapters, files, at, inv).await
        };
        match done {
            Ok(d) => all.add(d),
            Err(e) => {
                warn!(message = %id, error = %e, "message failed; it is delivered again");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                failures.push(f);
            }
        }
    }
    let mut out = response(all.signals, all.invalid, &all.findings, all.recorded);
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    out["batchItemFailures"] = serde_json::to_value(&resp).map(|v| v["batchItemFailures"].clone()).unwrap_or_default();
    Ok(out)
}

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    if is_sqs_batch(&payload) {
        return queued(adapters, payload, inv).await;
    }
    let files = log_files(&payload);
    if files.is_empty() {
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let at = super::payload_time(&payload).unwrap_or(inv.now);
        return Ok(outcome_response(&watch_document(adapters, &bytes, "event", at, inv.now).await?));
    }
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    Ok(outcome_response(&read_files(adapters, files, at, inv).await?))
}
