//! `lock-watcher`: DynamoDB Streams batches of the Terraform lock table.
//!
//! Records are processed in order. A record that cannot be decoded is `input.invalid` and
//! acknowledged. A transient failure stops the batch and reports that record's sequence
//! number in `batchItemFailures` (the event source mapping has `ReportBatchItemFailures`), so
//! the platform retries from it and the records before it are not processed twice.

use super::{response, HandlerError, Invocation};
use crate::adapters::Adapters;
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use driftwatch_core::signal::InvalidInput;
use driftwatch_decode::One;
use driftwatch_engine::{watch, Outcome};
use serde_json::Value;
use tracing::warn;

pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
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
