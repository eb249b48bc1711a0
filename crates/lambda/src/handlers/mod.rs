//! One handler per function, dispatched by the configured [`Function`].
//!
//! | function | payload | does |
//! |---|---|---|
//! | `state-watcher` | S3 `Object Created/Deleted` (EventBridge or S3 notification) on a state key | indexes the state version, runs the state-write detector against the previous version |
//! | `trail-watcher` | `AWS API Call via CloudTrail` (EventBridge), a CloudTrail log document, an S3 event of a log file, or an SQS batch of such events (the backfill queue; per-message failures in `batchItemFailures`) | CloudTrail detectors |
//! | `config-watcher` | `Config Configuration Item Change` (EventBridge; oversized items fetched from S3) | Config change detectors |
//! | `lock-watcher` | DynamoDB Streams batch of the lock table, or S3 notifications of `.tflock` objects | lock detectors (a created lock file's body read); per-record failures (`batchItemFailures`) |
//! | `sweeper` | schedule | stale locks, exception notices, evidence digests, chunked reconcile |
//! | `reporter` | schedule | the continuous-compliance report |

pub mod config_watcher;
pub mod lock_watcher;
pub mod reporter;
pub mod state_watcher;
pub mod sweeper;
pub mod trail_watcher;

use crate::adapters::Adapters;
use crate::env::Function;
use chrono::{DateTime, Utc};
use driftwatch_core::Finding;
use driftwatch_engine::{Outcome, Recorded};
use serde_json::{json, Value};

pub(crate) use crate::invocation::transient;
pub use crate::invocation::{HandlerError, Invocation};

/// Handle one invocation of the configured function.
pub async fn handle(adapters: &Adapters, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    if is_heartbeat(&payload) {
        return heartbeat(adapters).await;
    }
    match adapters.env.function {
        Function::StateWatcher => state_watcher::handle(adapters, payload, inv).await,
        Function::TrailWatcher => trail_watcher::handle(adapters, payload, inv).await,
        Function::ConfigWatcher => config_watcher::handle(adapters, payload, inv).await,
        Function::LockWatcher => lock_watcher::handle(adapters, payload, inv).await,
        Function::Sweeper => sweeper::handle(adapters, payload, inv).await,
        Function::Reporter => reporter::handle(adapters, payload, inv).await,
    }
}

/// The heartbeat's payload (`{"driftwatch": "heartbeat"}`, the constant input of each function's
/// heartbeat schedule in `infra/`).
pub fn is_heartbeat(payload: &Value) -> bool {
    payload.get("driftwatch").and_then(Value::as_str) == Some("heartbeat")
}

/// A heartbeat: the schedule, its target, the function's permission, the runtime and the
/// function's own read of its ledger all worked. Each function's invocations are alarmed on with
/// missing data breaching (`infra/alarms.tf`): when the heartbeat stops, the alarm fires.
async fn heartbeat(adapters: &Adapters) -> Result<Value, HandlerError> {
    adapters.ledger.get("heartbeat", adapters.env.function.name()).await.map_err(transient)?;
    tracing::info!(function = %adapters.env.function, "heartbeat");
    Ok(json!({"heartbeat": true, "function": adapters.env.function.name()}))
}

/// The time a payload carries (an EventBridge envelope's `time`, an S3 or Streams record's
/// event time), so that findings about it — `input.invalid` included — are timed by the event
/// and a redelivery gives identical findings.
pub fn payload_time(payload: &Value) -> Option<DateTime<Utc>> {
    let parse =
        |v: Option<&Value>| v.and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    parse(payload.get("time")).or_else(|| {
        let first = payload.get("Records").and_then(Value::as_array).and_then(|r| r.first())?;
        parse(first.get("eventTime")).or_else(|| {
            let secs = first.pointer("/dynamodb/ApproximateCreationDateTime").and_then(Value::as_f64)?;
            DateTime::from_timestamp_millis((secs * 1000.0) as i64).filter(|_| secs > 0.0)
        })
    })
}

/// The response of a watcher: counts, and the fingerprints of what it found.
pub fn response(signals: usize, invalid: usize, findings: &[Finding], recorded: Recorded) -> Value {
    json!({
        "signals": signals,
        "invalid": invalid,
        "findings": findings.iter().map(|f| json!({"rule": f.rule.id(), "fingerprint": f.fingerprint, "resource": f.resource.address.clone().unwrap_or_else(|| format!("{} {}", f.resource.resource_type, f.resource.id))})).collect::<Vec<_>>(),
        "recorded": recorded,
    })
}

/// The response of a watcher for what the engine's `watch` came to.
pub fn outcome_response(o: &Outcome) -> Value {
    response(o.signals, o.invalid, &o.findings, o.recorded)
}
