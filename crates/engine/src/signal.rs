//! `on_signal`: one decoded signal (a CloudTrail call, a Config item, a lock record or file)
//! through its detector, against the slice of the index and the ledger items it needs; and
//! `watch`, a whole batch of them, recorded.

use crate::memory::LedgerMemory;
use crate::ports::{Ports, Retry};
use crate::record::{record, record_with, resolve, Recorded};
use chrono::{DateTime, Utc};
use driftwatch_core::detect::{self, self_defence, Context, Needs};
use driftwatch_core::heard::Heard;
use driftwatch_core::index::{IndexEntry, ManagedIndex};
use driftwatch_core::lifecycle::Resolve;
use driftwatch_core::ports::{IndexLookup, Ledger, PortResult};
use driftwatch_core::signal::Signal;
use driftwatch_core::Finding;
use driftwatch_decode::Decoded;
use std::collections::BTreeSet;

/// Look up every identity and ARN `needs` names (one lookup each) and build an in-memory
/// index of what was found, for the detectors.
pub async fn index_slice(index: &impl IndexLookup, needs: &Needs) -> PortResult<ManagedIndex> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut entries: Vec<IndexEntry> = Vec::new();
    for (t, id) in &needs.identities {
        if seen.insert((t.clone(), id.clone())) {
            entries.extend(index.lookup(t, id).await?);
        }
    }
    for arn in &needs.arns {
        for e in index.lookup_arn(arn).await? {
            if seen.insert((e.config_type.clone(), e.resource_id.clone())) {
                entries.extend(index.lookup(&e.config_type, &e.resource_id).await?);
            }
        }
    }
    Ok(ManagedIndex::from_entries(entries))
}

/// What detecting one signal gave: its findings, the open findings it shows resolved, and the
/// detectors' memory after it (unsaved).
pub struct Detected {
    pub findings: Vec<Finding>,
    pub resolved: Vec<Resolve>,
    pub memory: LedgerMemory,
}

/// Detect a decoded signal against the index slice and ledger items it needs. The detectors'
/// memory comes back unsaved: save it once the findings it explains are recorded, so that a
/// retry after a failed record sees the memory the findings came from (a lock still held, an
/// order not yet advanced) and finds them again. A signal without a time of its own is
/// detected at `at`.
pub async fn detect_signal(ports: &impl Ports, signal: &Signal, at: DateTime<Utc>) -> Result<Detected, Retry> {
    let needs = detect::needs(signal, ports.policy());
    let index = index_slice(ports.index(), &needs).await?;
    let mut mem = LedgerMemory::load(ports.ledger(), &needs).await?;
    let ctx = Context {
        index: &index,
        catalog: ports.catalog(),
        policy: ports.policy(),
        redactor: ports.redactor(),
        now: signal.time().unwrap_or(at),
    };
    let resolved = detect::resolutions(signal, &ctx, &mem);
    let findings = detect::process(signal, &ctx, &mut mem);
    Ok(Detected { findings, resolved, memory: mem })
}

/// Note the heartbeat a signal carries, if any: the ledger's `heartbeat` item of the watcher
/// that saw it holds the send time of the newest heartbeat seen (only forward, so a late
/// redelivery never moves it back). `true` when the signal is nothing but the heartbeat.
pub async fn note_heartbeat(ports: &impl Ports, signal: &Signal) -> Result<bool, Retry> {
    let Some(h) = self_defence::heartbeat(signal, &ports.policy().watcher) else { return Ok(false) };
    let order = u64::try_from(h.sent.timestamp()).unwrap_or(0);
    ports.ledger().advance(HEARTBEAT, h.observer, order, &serde_json::json!(h.sent)).await?;
    tracing::info!(observer = h.observer, sent = %h.sent, "heartbeat seen");
    Ok(h.only)
}

/// The ledger kind of the heartbeats: `heartbeat/<observer>` the newest seen, `heartbeat/sent`
/// the first the sweeper sent.
pub const HEARTBEAT: &str = "heartbeat";

/// [`detect_signal`], then record its findings and resolutions, then save the memory.
pub async fn on_signal(
    ports: &impl Ports,
    signal: &Signal,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Vec<Finding>, Recorded), Retry> {
    if note_heartbeat(ports, signal).await? {
        return Ok((Vec::new(), Recorded::default()));
    }
    let d = detect_signal(ports, signal, at).await?;
    let mut recorded = record(ports, d.findings.clone(), now).await?;
    recorded += resolve(ports, d.resolved, now).await?;
    d.memory.save(ports.ledger()).await?;
    Ok((d.findings, recorded))
}

/// The `input.invalid` finding of undecodable input, timed `at`.
pub fn invalid(ports: &impl Ports, bad: &driftwatch_core::signal::InvalidInput, at: DateTime<Utc>) -> Finding {
    tracing::warn!(source = %bad.source, index = ?bad.index, problem = %bad.message, "input.invalid");
    detect::invalid_input(bad, ports.catalog(), at)
}

/// What a batch of decoded items came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Items handed in.
    pub signals: usize,
    /// Items that did not decode (each an `input.invalid` finding).
    pub invalid: usize,
    pub findings: Vec<Finding>,
    pub recorded: Recorded,
}

impl Outcome {
    pub fn add(&mut self, o: Outcome) {
        self.signals += o.signals;
        self.invalid += o.invalid;
        self.findings.extend(o.findings);
        self.recorded += o.recorded;
    }
}

/// Detect and record decoded items, in order: each item's findings are recorded before the
/// detectors' memory it changed is saved (and before the next item is detected against it).
/// Undecodable input becomes `input.invalid`, timed `at` (the payload's time, so that a
/// redelivery gives an identical finding). `at` also times what has no time of its own; `now`
/// is the invocation's clock.
pub async fn watch(ports: &impl Ports, decoded: Vec<Decoded>, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Outcome, Retry> {
    let mut out = Outcome { signals: decoded.len(), invalid: decoded.iter().filter(|d| d.is_err()).count(), ..Default::default() };
    let mut exceptions = crate::record::Exceptions::default();
    let mut heard = BTreeSet::new();
    for d in decoded {
        let (found, resolved, mem) = match d {
            Ok(signal) => {
                heard.extend(Heard::of_signal(&signal, at));
                if note_heartbeat(ports, &signal).await? {
                    continue;
                }
                let d = detect_signal(ports, &signal, at).await?;
                (d.findings, d.resolved, Some(d.memory))
            }
            Err(bad) => (vec![invalid(ports, &bad, at)], Vec::new(), None),
        };
        out.recorded += record_with(ports, &mut exceptions, found.clone(), now).await?;
        out.recorded += resolve(ports, resolved, now).await?;
        if let Some(mem) = mem {
            mem.save(ports.ledger()).await?;
        }
        out.findings.extend(found);
    }
    note_heard(ports, heard).await?;
    Ok(out)
}

/// Record the accounts, regions and days a batch came from (`heard` evidence, one record per
/// place and day), except those this process recorded already.
async fn note_heard(ports: &impl Ports, heard: BTreeSet<Heard>) -> Result<(), Retry> {
    let done = |h: &Heard| ports.heard().is_some_and(|m| m.lock().is_ok_and(|seen| seen.contains(h)));
    for h in heard.into_iter().filter(|h| !done(h)) {
        crate::record::write_evidence(ports.evidence(), &h.record(), h.time()).await?;
        if let Some(Ok(mut seen)) = ports.heard().map(|m| m.lock()) {
            seen.insert(h);
        }
    }
    Ok(())
}

/// Decode a whole document (a CloudTrail log file, a Config item) and [`watch`] it.
pub async fn watch_document(
    ports: &impl Ports,
    bytes: &[u8],
    source: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Outcome, Retry> {
    let decoded = driftwatch_decode::decode_document(bytes, source, ports.policy(), ports.redactor());
    watch(ports, decoded, at, now).await
}
