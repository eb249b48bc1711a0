//! The sweeper's reconcile: the backstop for missed events. Every indexed state (the ledger's
//! `state` items, kept by the state watcher) is read from S3 and compared with AWS Config
//! (`BatchGetResourceConfig` of its identities, in chunks of 100; with
//! `DRIFTWATCH_CONFIG_AGGREGATOR`, `BatchGetAggregateResourceConfig` through the aggregator, in
//! each identity's account and region) by the same core scan as `driftwatch scan`. A state
//! of another account (read through a `[[state.roles]]` role) is reconciled only through an
//! aggregator: this account's AWS Config does not have its resources.
//!
//! Chunked and resumable: at most `DRIFTWATCH_RECONCILE_CHUNK` states per run, and none
//! started once less than `DRIFTWATCH_TIME_RESERVE_SECONDS` remain before the deadline. The
//! last state done is kept in the ledger (`cursor#reconcile`); the next run resumes after it,
//! and after the last state the cursor is cleared so the next pass starts over. A state that
//! cannot be read or parsed is skipped with a warning (partial results over failure) and does
//! not stop the pass.

use super::super::{transient, HandlerError, Invocation};
use crate::adapters::Adapters;
use chrono::Duration;
use driftwatch_engine::{reconcile, Recorded};
use serde_json::{json, Value};
use tracing::{info, warn};

pub async fn run(adapters: &Adapters, inv: &Invocation) -> Result<Value, HandlerError> {
    let states = adapters.ledger.list("state").await.map_err(transient)?;
    let after = adapters.ledger.get("cursor", "reconcile").await.map_err(transient)?.and_then(|v| v["after"].as_str().map(str::to_string));
    let todo: Vec<&(String, Value)> = states.iter().filter(|(id, _)| after.as_deref().is_none_or(|a| id.as_str() > a)).collect();
    let stop_at = inv.deadline.map(|d| d - Duration::seconds(adapters.env.time_reserve_seconds as i64));
    let mut done = 0usize;
    let mut skipped = Vec::new();
    let mut recorded = Recorded::default();
    // Resources of other accounts in this account's states, not compared (no aggregator).
    let mut left_out = 0usize;
    let mut last = None;
    for (id, v) in todo.iter().take(adapters.env.reconcile_chunk) {
        if stop_at.is_some_and(|s| chrono::Utc::now() >= s) {
            info!(done, "reconcile: stopping before the deadline; the next run resumes");
            break;
        }
        let (Some(bucket), Some(key)) = (v["bucket"].as_str(), v["key"].as_str()) else { continue };
        match reconcile_state(adapters, bucket, key, inv).await? {
            Ok((r, n)) => {
                recorded += r;
                left_out += n;
            }
            Err(problem) => {
                warn!(state = %id, problem = %problem, "reconcile: state skipped");
                skipped.push(id.clone());
            }
        }
        done += 1;
        last = Some(id.clone());
        adapters.ledger.put("cursor", "reconcile", &json!({"after": id})).await.map_err(transient)?;
    }
    let remaining = todo.len() - done;
    let complete = remaining == 0;
    if complete {
        adapters.ledger.delete("cursor", "reconcile").await.map_err(transient)?;
    }
    Ok(json!({
        "states": states.len(),
        "done": done,
        "remaining": remaining,
        "complete": complete,
        "last": last,
        "skipped": skipped,
        "left_out": left_out,
        "recorded": recorded,
    }))
}

/// The plan's identities with the account and region their entries' ARNs name, for the
/// aggregator (the first entry of an identity that names them).
fn identities_with_places(plan: &reconcile::Plan) -> Vec<driftwatch_aws::AggregateIdentity> {
    plan.identities
        .iter()
        .map(|(t, id)| {
            let places = plan.index.lookup(t, id).filter_map(|e| e.arn.as_deref()).map(driftwatch_core::place::Place::of_arn);
            let (mut account, mut region) = (None, None);
            for p in places {
                account = account.or(p.account.map(str::to_string));
                region = region.or(p.region.map(str::to_string));
            }
            driftwatch_aws::AggregateIdentity { resource_type: t.clone(), resource_id: id.clone(), account, region }
        })
        .collect()
}

/// Reconcile one state. The inner error is a state that cannot be read (skipped); the outer
/// one a transient failure of the run.
async fn reconcile_state(
    adapters: &Adapters,
    bucket: &str,
    key: &str,
    inv: &Invocation,
) -> Result<Result<(Recorded, usize), String>, HandlerError> {
    let state = match adapters.states.read_state(bucket, key, None, &adapters.catalog, &adapters.redactor).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("s3://{bucket}/{key}: {e}"))),
    };
    let mut plan = reconcile::plan(state, adapters);
    let mut left_out = 0;
    let items = match &adapters.env.config_aggregator {
        Some(aggregator) => {
            let identities = identities_with_places(&plan);
            adapters
                .live
                .aggregate_identities(aggregator, &identities, &adapters.redactor)
                .await
                .map_err(|e| transient(format!("AWS Config aggregator {aggregator}: {e}")))?
        }
        // Another account's state, compared with this account's AWS Config, would be all
        // missing: it needs the aggregator.
        None if adapters.env.policy.state.role_for(bucket).is_some() => {
            return Ok(Err(format!(
                "s3://{bucket}/{key} is another account's (read through its [[state.roles]] role): set {} to reconcile it",
                crate::env::CONFIG_AGGREGATOR
            )))
        }
        // This account's AWS Config: what the state keeps in other accounts is not in it.
        None => {
            left_out = inv.account.as_deref().map_or(0, |a| plan.only_in(a));
            if left_out > 0 {
                info!(state = %format!("s3://{bucket}/{key}"), left_out, "reconcile: resources of other accounts left out (set {} to compare them)", crate::env::CONFIG_AGGREGATOR);
            }
            adapters.live.batch_get(&plan.identities, &adapters.redactor).await.map_err(|e| transient(format!("AWS Config: {e}")))?
        }
    };
    let (findings, recorded) = reconcile::reconcile(adapters, &plan, items, inv.now).await?;
    info!(state = %format!("s3://{bucket}/{key}"), identities = plan.identities.len(), findings, "reconciled");
    Ok(Ok((recorded, left_out)))
}
