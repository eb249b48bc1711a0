//! One handler per function, dispatched by the configured [`Function`].
//!
//! | function | payload | does |
//! |---|---|---|
//! | `state-watcher` | S3 `Object Created/Deleted` (EventBridge or S3 notification) on a state key | indexes the state version, runs the state-write detector against the previous version |
//! | `trail-watcher` | `AWS API Call via CloudTrail` (EventBridge), a CloudTrail log document, or an S3 event of a log file | CloudTrail detectors |
//! | `config-watcher` | `Config Configuration Item Change` (EventBridge; oversized items fetched from S3) | Config change detectors |
//! | `lock-watcher` | DynamoDB Streams batch of the lock table | lock detectors; per-record failures (`batchItemFailures`) |
//! | `sweeper` | schedule | stale locks, exception notices, evidence digests, chunked reconcile |
//! | `reporter` | schedule | the continuous-compliance report |

pub mod config_watcher;
pub mod lock_watcher;
pub mod reporter;
pub mod state_watcher;
pub mod sweeper;
mod sweeper_notices;
mod sweeper_reconcile;
pub mod trail_watcher;

use crate::deps::Deps;
use crate::env::Function;
use crate::ledger::StoredMemory;
use crate::pipeline::{self, Recorded};
use chrono::{DateTime, Utc};
use driftwatch_core::detect::{self, Context};
use driftwatch_core::signal::Signal;
use driftwatch_core::Finding;
use driftwatch_decode::Decoded;
use serde_json::{json, Value};

pub(crate) use crate::invocation::transient;
pub use crate::invocation::{HandlerError, Invocation};

/// Handle one invocation of the configured function.
pub async fn handle(deps: &Deps, payload: Value, inv: &Invocation) -> Result<Value, HandlerError> {
    match deps.env.function {
        Function::StateWatcher => state_watcher::handle(deps, payload, inv).await,
        Function::TrailWatcher => trail_watcher::handle(deps, payload, inv).await,
        Function::ConfigWatcher => config_watcher::handle(deps, payload, inv).await,
        Function::LockWatcher => lock_watcher::handle(deps, payload, inv).await,
        Function::Sweeper => sweeper::handle(deps, payload, inv).await,
        Function::Reporter => reporter::handle(deps, payload, inv).await,
    }
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

/// Detect one decoded signal against the index slice and ledger items it needs; the ledger is
/// written back before returning. Undecodable input becomes `input.invalid`, timed `at` (the
/// payload's time).
pub async fn detect_one(deps: &Deps, decoded: Decoded, at: DateTime<Utc>) -> Result<Vec<Finding>, HandlerError> {
    let signal = match decoded {
        Ok(s) => s,
        Err(bad) => {
            tracing::warn!(source = %bad.source, index = ?bad.index, problem = %bad.message, "input.invalid");
            return Ok(vec![detect::invalid_input(&bad, &deps.catalog, at)]);
        }
    };
    detect_signal(deps, &signal, at).await
}

/// Detect a decoded signal (see [`detect_one`]); a signal without a time of its own is
/// detected at `at`.
pub async fn detect_signal(deps: &Deps, signal: &Signal, at: DateTime<Utc>) -> Result<Vec<Finding>, HandlerError> {
    let needs = detect::needs(signal, &deps.env.policy);
    let index = crate::index::load(&deps.index, &needs).await?;
    let mut mem = StoredMemory::load(&deps.ledger, &needs).await.map_err(transient)?;
    let ctx = Context {
        index: &index,
        catalog: &deps.catalog,
        policy: &deps.env.policy,
        redactor: &deps.redactor,
        now: signal.time().unwrap_or(at),
    };
    let found = detect::process(signal, &ctx, &mut mem);
    mem.save(&deps.ledger).await.map_err(transient)?;
    Ok(found)
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

/// What a watcher did with a payload.
#[derive(Debug, Default)]
pub struct Watched {
    pub signals: usize,
    pub invalid: usize,
    pub findings: Vec<Finding>,
    pub recorded: Recorded,
}

impl Watched {
    pub fn add(&mut self, o: Watched) {
        self.signals += o.signals;
        self.invalid += o.invalid;
        self.findings.extend(o.findings);
        self.recorded += o.recorded;
    }

    pub fn response(&self) -> Value {
        response(self.signals, self.invalid, &self.findings, self.recorded)
    }
}

/// Decode, detect and record a whole document (trail and config watchers); `at` times what has
/// no time of its own.
pub async fn watch_bytes(deps: &Deps, bytes: &[u8], source: &str, at: DateTime<Utc>, inv: &Invocation) -> Result<Watched, HandlerError> {
    let decoded = driftwatch_decode::decode_document(bytes, source, &deps.env.policy, &deps.redactor);
    watch_decoded(deps, decoded, at, inv).await
}

/// Detect and record decoded items.
pub async fn watch_decoded(deps: &Deps, decoded: Vec<Decoded>, at: DateTime<Utc>, inv: &Invocation) -> Result<Watched, HandlerError> {
    let signals = decoded.len();
    let invalid = decoded.iter().filter(|d| d.is_err()).count();
    let mut findings = Vec::new();
    for d in decoded {
        findings.extend(detect_one(deps, d, at).await?);
    }
    let recorded = pipeline::record(deps, findings.clone(), inv).await?;
    Ok(Watched { signals, invalid, findings, recorded })
}
