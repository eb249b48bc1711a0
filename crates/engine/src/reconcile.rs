//! `reconcile`: one indexed state against its live configuration (the sweeper's backstop for
//! missed events, a chunk of states per run), by the same core scan as `driftwatch scan`.

use crate::ports::{Ports, Retry};
use crate::record::{record, resolve, Recorded};
use chrono::{DateTime, Utc};
use driftwatch_core::drift;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{ConfigItem, LiveInventory};
use driftwatch_core::state::State;
use driftwatch_core::Rule;
use std::collections::BTreeSet;

/// A state to reconcile: its index and the identities (AWS Config type, resource id) whose
/// live configuration is to be read.
pub struct Plan {
    pub index: ManagedIndex,
    pub identities: Vec<(String, String)>,
    /// Identities not read, so not compared: in another account than the one whose AWS Config
    /// is read ([`Plan::only_in`]). Nothing is reported missing for them.
    pub left_out: BTreeSet<(String, String)>,
}

/// What to read for `state`.
pub fn plan(state: State, ports: &impl Ports) -> Plan {
    let index = ManagedIndex::build([state], ports.catalog());
    let identities =
        index.entries().iter().map(|e| (e.config_type.clone(), e.resource_id.clone())).collect::<BTreeSet<_>>().into_iter().collect();
    Plan { index, identities, left_out: BTreeSet::new() }
}

impl Plan {
    /// Keep only what can be in `account` (a state of one account may hold resources of others:
    /// providers with `assume_role`): an identity whose entries' ARNs all name another account
    /// is left out. Returns how many were.
    pub fn only_in(&mut self, account: &str) -> usize {
        let index = &self.index;
        let elsewhere = |(t, id): &(String, String)| {
            let mut accounts = index.lookup(t, id).map(|e| e.arn.as_deref().and_then(|a| driftwatch_core::place::Place::of_arn(a).account));
            accounts.all(|a| a.is_some_and(|a| a != account))
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.identities).into_iter().partition(|i| elsewhere(i));
        self.identities = kept;
        let n = gone.len();
        self.left_out.extend(gone);
        n
    }
}

/// Compare the plan's state with the live `items` read for it at `now`, record the findings,
/// and resolve the open ones the items show gone (timed by each item's capture time); the
/// number of findings and what recording did.
pub async fn reconcile(ports: &impl Ports, plan: &Plan, items: Vec<ConfigItem>, now: DateTime<Utc>) -> Result<(usize, Recorded), Retry> {
    let mut live = LiveInventory::default();
    for it in items {
        live.insert(it);
    }
    let outcome = drift::scan(&plan.index, &live, ports.catalog(), ports.redactor(), &ports.policy().scan_policy(), now);
    // What this pass could not watch: in the function's log, and as a `coverage` record for the
    // report. Timed at the start of the day, so the same coverage all day is one record.
    tracing::info!(coverage = %outcome.coverage.line(), "reconcile coverage");
    let day = now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now);
    let body = serde_json::to_value(&outcome.coverage).unwrap_or_default();
    crate::record::write_evidence(ports.evidence(), &driftwatch_core::evidence::Record { kind: "coverage".into(), time: day, body }, now)
        .await?;
    // Only this state's identities were read: "unmanaged" would be meaningless here.
    // Nor "missing" for what was left out: it was not looked for.
    let left_out = |f: &driftwatch_core::Finding| plan.left_out.contains(&(f.resource.resource_type.clone(), f.resource.id.clone()));
    let findings: Vec<_> = outcome.findings.into_iter().filter(|f| f.rule != Rule::DriftUnmanaged && !left_out(f)).collect();
    let n = findings.len();
    let mut recorded = record(ports, findings, now).await?;
    // What the pass shows compliant again: the findings open on those resources close.
    recorded += resolve(ports, outcome.resolved, now).await?;
    Ok((n, recorded))
}
