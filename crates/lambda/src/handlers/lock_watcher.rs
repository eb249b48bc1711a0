//! `lock-watcher`: DynamoDB Streams batches of the Terraform lock tables, and the S3
//! notifications of `.tflock` objects (`use_lockfile`, Terraform 1.10+).
//!
//! A lock file created is read (that version's body: its `Info`) so the ledger knows who holds
//! the state and since when; one deleted releases it. A lock file gone before it is read is
//! taken without its `Info`; one whose body is not Terraform's is `input.invalid`.
//!
//! Stream records are processed in order. A record that cannot be decoded is `input.invalid` and
//! acknowledged. A transient failure stops the batch and reports that record's sequence
//! number in `batchItemFailures` (the event source mapping has `ReportBatchItemFailures`), so
//! the platform retries from it and the records before it are not processed twice.

use super::{outcome_response, response, HandlerError, Invocation};
use crate::adapters::Adapters;
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use driftwatch_core::signal::{InvalidInput, LockInfo, ObjectChange, Signal};
use driftwatch_decode::One;
use driftwatch_engine::{watch, Outcome};
use serde_json::Value;
use tracing::warn;

/// Is the payload S3's (`.tflock` notifications) rather than a Streams batch?
fn is_s3_notification(payload: &Value) -> bool {
    payload["Records"].as_array().and_then(|r| r.first()).is_some_and(|r| r["eventSource"] == "aws:s3") || payload["source"] == "aws.s3"
}

/// `.tflock` objects created or deleted: each created one's body read, then detected.
async fn lock_files(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    let bytes = serde_json::to_vec(&payload).unwrap_or_default();
    let mut decoded = driftwatch_decode::decode_document(&bytes, "event", &adapters.env.policy, &adapters.redactor);
    for d in decoded.iter_mut() {
        let Ok(Signal::LockFile(ev)) = d else { continue };
        if ev.change != ObjectChange::Created || ev.info.is_some() {
            continue;
        }
        let version = ev.version_id.as_deref().filter(|v| !v.is_empty() && *v != "null");
        let body = match adapters.states.lock_file(&ev.bucket, &ev.key, version).await {
            Ok(b) => b,
            Err(e) if e.is_permanent() => {
                *d = Err(InvalidInput { source: format!("s3://{}/{}", ev.bucket, ev.key), index: None, message: e.to_string() });
                continue;
            }
            Err(e) => return Err(HandlerError::Transient(e.to_string())),
        };
        match body.map(|b| serde_json::from_slice::<LockInfo>(&b)) {
            Some(Ok(info)) => ev.info = Some(info),
            Some(Err(e)) => {
                let message = format!("lock file body is not Terraform lock info: {e}");
                *d = Err(InvalidInput { source: format!("s3://{}/{}", ev.bucket, ev.key), index: None, message });
            }
            // Released before it was read: taken without its Info.
            None => {}
        }
    }
    Ok(outcome_response(&watch(adapters, decoded, at, inv.now).await?))
}

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    if is_s3_notification(&payload) {
        return lock_files(adapters, payload, inv).await;
    }
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    let event: Event = match serde_json::from_value(payload) {
        Ok(e) => e,
        Err(e) => {
            let bad =
                InvalidInput { source: "lock-watcher event".into(), index: None, message: format!("not a DynamoDB Streams event: {e}") };
            let done = watch(adapters, vec![Err(bad)], at, inv.now).await?;
            let mut out = response(0, 1, &done.findings, done.recorded);
            out["batchItemFailures"] = Value::Array(Vec::new());
            return Ok(out);
        }
    };
    let mut failures = Vec::new();
    let mut all = Outcome::default();
    for (i, rec) in event.records.iter().enumerate() {
        // The record's own time: a redelivery gives identical findings.
        let t = rec.change.approximate_creation_date_time;
        let at = if t.timestamp() > 0 { t } else { inv.now };
        let decoded = match driftwatch_decode::dynamodb::record(rec, &adapters.env.policy) {
            Ok(One::Ignored) => continue,
            Ok(One::Signal(s)) => Ok(s),
            Err(message) => Err(InvalidInput { source: format!("dynamodb stream record {}", rec.event_id), index: Some(i), message }),
        };
        match watch(adapters, vec![decoded], at, inv.now).await {
            Ok(done) => all.add(done),
            Err(e) => {
                let id = rec.change.sequence_number.clone().unwrap_or_else(|| rec.event_id.clone());
                warn!(record = %rec.event_id, sequence = %id, error = %e, "record failed; the batch is retried from it");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(id);
                failures.push(failure);
                break;
            }
        }
    }
    let mut out = response(event.records.len(), all.invalid, &all.findings, all.recorded);
    let mut resp = DynamoDbEventResponse::default();
    resp.batch_item_failures = failures;
    out["batchItemFailures"] = serde_json::to_value(&resp).map(|v| v["batchItemFailures"].clone()).unwrap_or_default();
    Ok(out)
}
