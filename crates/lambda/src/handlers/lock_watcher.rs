//! `lock-watcher`: DynamoDB Streams batches of the Terraform lock table.
//!
//! Records are processed in order. A record that cannot be decoded is `input.invalid` and
//! acknowledged. A transient failure stops the batch and reports that record's sequence
//! number in `batchItemFailures` (the event source mapping has `ReportBatchItemFailures`), so
//! the platform retries from it and the records before it are not processed twice.

use super::{detect_signal, response, HandlerError, Invocation};
use crate::deps::Deps;
use crate::pipeline::{self, Recorded};
use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use driftwatch_core::detect;
use driftwatch_core::signal::InvalidInput;
use driftwatch_decode::One;
use serde_json::Value;
use tracing::warn;

pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    let at = super::payload_time(&payload).unwrap_or(inv.now);
    let event: Event = match serde_json::from_value(payload) {
        Ok(e) => e,
        Err(e) => {
            let bad =
                InvalidInput { source: "lock-watcher event".into(), index: None, message: format!("not a DynamoDB Streams event: {e}") };
            let f = detect::invalid_input(&bad, &deps.catalog, at);
            let recorded = pipeline::record(deps, vec![f.clone()], inv).await?;
            let mut out = response(0, 1, &[f], recorded);
            out["batchItemFailures"] = Value::Array(Vec::new());
            return Ok(out);
        }
    };
    let mut failures = Vec::new();
    let mut findings = Vec::new();
    let mut recorded = Recorded::default();
    let mut invalid = 0;
    for (i, rec) in event.records.iter().enumerate() {
        // The record's own time: a redelivery gives identical findings.
        let t = rec.change.approximate_creation_date_time;
        let at = if t.timestamp() > 0 { t } else { inv.now };
        let found = match driftwatch_decode::dynamodb::record(rec, &deps.env.policy) {
            Ok(One::Ignored) => Ok(Vec::new()),
            Ok(One::Signal(s)) => detect_signal(deps, &s, at).await,
            Err(message) => {
                invalid += 1;
                let source = format!("dynamodb stream record {}", rec.event_id);
                Ok(vec![detect::invalid_input(&InvalidInput { source, index: Some(i), message }, &deps.catalog, at)])
            }
        };
        let done = match found {
            Ok(f) => pipeline::record(deps, f.clone(), inv).await.map(|r| (f, r)),
            Err(e) => Err(e),
        };
        match done {
            Ok((f, r)) => {
                findings.extend(f);
                recorded += r;
            }
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
    let mut out = response(event.records.len(), invalid, &findings, recorded);
    let mut resp = DynamoDbEventResponse::default();
    resp.batch_item_failures = failures;
    out["batchItemFailures"] = serde_json::to_value(&resp).map(|v| v["batchItemFailures"].clone()).unwrap_or_default();
    Ok(out)
}
