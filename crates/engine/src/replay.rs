//! Replay: a stream of trigger documents through decode → detectors, as the Lambdas would
//! see them, with in-memory detector memory. `driftwatch replay` and the events/ tests both run
//! this, so the tests exercise exactly what the CLI does. Pure: the documents and the bytes
//! behind object events come in through the caller (`driftwatch_local::events` reads them
//! from files).
//!
//! # Conventions
//!
//! * **Files.** Event files are `*.json`, `*.json.gz`, `*.jsonl` and `*.jsonl.gz` (one
//!   document per line). Files named `expected*.json` are test expectations and are skipped.
//!   Files are replayed in path order, records in file order.
//! * **Clock.** Each signal is detected with `Context::now` = its own event time (when the
//!   Lambda would have run); signals without a time, `input.invalid` findings and the final
//!   sweep use the replay's clock (`--now`).
//! * **State versions.** An S3 `Object Created` event on a state key with version id `V`
//!   is a *state write* when a file `V.tfstate` lies next to the event file (the bytes
//!   Terraform wrote). Then the state-write detector runs with:
//!   * `previous` — the state of the last write of the same `bucket/key` earlier in the replay;
//!   * `object_md5` — MD5 of `V.tfstate`;
//!   * `lock_table_digest` — the `Digest` of the first `<bucket>/<key>-md5` lock-table record
//!     *after* the write (Terraform updates the digest right after writing the state); if the
//!     key is written again or the replay ends first, the digest that stands
//!     (`state_write::settled_digest`: the newest before the write), or none if there is none;
//!   * `lock_held` — whether a lock the replay has seen covers the write's time; not held
//!     only if a lock cycle ended before the write and none covers it; otherwise unknown
//!     (`state_write::lock_at`, as the state watcher decides it);
//!   * `writer` — the principal of the last CloudTrail `PutObject` on the same bucket/key
//!     seen before the check runs.
//!
//!   The check runs when the write settles: at that digest record, at the next write of
//!   the key, or at the end of the replay. Without `V.tfstate` the write is only counted.
//! * **Lock files.** A `.tflock` event with version id `V` gets its lock info from
//!   `V.tflock` next to the event file, when present.
//! * **End.** After the last file, a `Tick` at the replay clock (if one was given) runs the
//!   stale-lock sweep.
//! * **Duplicates.** Findings are merged by fingerprint: the latest `last_seen` wins and
//!   `first_seen` is the earliest.

use chrono::{DateTime, Utc};
use driftwatch_core::detect::{self, state_write, Context, HeldLock, InMemory};
use driftwatch_core::finding::{self, Finding};
use driftwatch_core::signal::{InvalidInput, LockInfo, ObjectChange, Principal, Signal, StateObjectEvent, Tick};
use driftwatch_core::state::{self, State, StateLocation};
use driftwatch_decode::{DecodeStats, Decoded, Decoder};
use md5::{Digest, Md5};
use std::collections::{BTreeMap, HashMap};

/// Where a replay finds the bytes behind object events.
pub trait Versions {
    /// The state bytes Terraform wrote for this state object event; `None` if not available.
    fn state_version(&self, ev: &StateObjectEvent) -> Option<Result<Vec<u8>, String>>;
    /// The body of a `.tflock` object with this version id; `None` if not available.
    fn lock_body(&self, version_id: &str) -> Option<Result<Vec<u8>, String>>;
}

/// No versions at all (Lambdas without S3 access, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVersions;

impl Versions for NoVersions {
    fn state_version(&self, _: &StateObjectEvent) -> Option<Result<Vec<u8>, String>> {
        None
    }
    fn lock_body(&self, _: &str) -> Option<Result<Vec<u8>, String>> {
        None
    }
}

/// Counters of a replay.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub files: u64,
    pub decode: DecodeStats,
    /// State writes checked with both versions' bytes at hand.
    pub state_writes_checked: u64,
    /// State writes without a `V.tfstate` file (not checked).
    pub state_writes_unchecked: u64,
    /// Findings before merging by fingerprint.
    pub raw_findings: u64,
}

/// A state write waiting for its digest record.
struct PendingWrite {
    event: StateObjectEvent,
    state: State,
    md5: String,
    lock_held: Option<bool>,
    lock: Option<HeldLock>,
}

/// A replay in progress.
pub struct Replay<'a> {
    /// The estate, catalog, policy and redactor; `now` is the replay's clock.
    base: Context<'a>,
    sweep_at: Option<DateTime<Utc>>,
    mem: InMemory,
    findings: HashMap<String, Finding>,
    pending: BTreeMap<String, PendingWrite>,
    /// Last settled version of each state, with its MD5.
    previous: HashMap<String, (State, String)>,
    writers: HashMap<String, Principal>,
    /// One line per checked state write: what the apply changed.
    pub summaries: Vec<String>,
    pub stats: ReplayStats,
}

impl<'a> Replay<'a> {
    /// `base.now` (the replay's clock) dates `input.invalid` findings and signals without a
    /// time; `sweep_at`, when given, is the time of the final stale-lock sweep.
    pub fn new(base: Context<'a>, sweep_at: Option<DateTime<Utc>>) -> Self {
        Replay {
            base,
            sweep_at,
            mem: InMemory::default(),
            findings: HashMap::new(),
            pending: BTreeMap::new(),
            previous: HashMap::new(),
            writers: HashMap::new(),
            summaries: Vec::new(),
            stats: ReplayStats::default(),
        }
    }

    fn ctx(&self, now: DateTime<Utc>) -> Context<'a> {
        Context { now, ..self.base }
    }

    /// Replay one document (or JSON Lines text) already in memory.
    pub fn feed_bytes(&mut self, bytes: &[u8], source: &str, json_lines: bool, versions: &dyn Versions, progress: &mut dyn FnMut(u64)) {
        let policy = self.base.policy;
        let redactor = self.base.redactor;
        let decoder = Decoder::new(policy, redactor);
        let mut n = 0u64;
        let mut sink = |d: Decoded| {
            self.feed(d, versions);
            n += 1;
            if n % 16_384 == 0 {
                progress(n);
            }
        };
        let stats = if json_lines { decoder.json_lines(bytes, source, &mut sink) } else { decoder.document(bytes, source, &mut sink) };
        self.stats.files += 1;
        self.stats.decode += stats;
    }

    fn add(&mut self, found: Vec<Finding>) {
        self.stats.raw_findings += found.len() as u64;
        for f in found {
            match self.findings.get_mut(&f.fingerprint) {
                Some(old) => {
                    let first = old.first_seen.min(f.first_seen);
                    if f.last_seen >= old.last_seen {
                        *old = f;
                    }
                    old.first_seen = first;
                }
                None => {
                    self.findings.insert(f.fingerprint.clone(), f);
                }
            }
        }
    }

    fn invalid(&mut self, bad: &InvalidInput) {
        let f = detect::invalid_input(bad, self.base.catalog, self.base.now);
        self.add(vec![f]);
    }

    /// Feed one decoded item.
    pub fn feed(&mut self, item: Decoded, versions: &dyn Versions) {
        let mut signal = match item {
            Ok(s) => s,
            Err(bad) => return self.invalid(&bad),
        };
        match &mut signal {
            Signal::LockRecord(r) => {
                if let Some(state_id) = r.lock_id.strip_suffix("-md5") {
                    if let Some(d) = r.digest.clone() {
                        let id = state_id.to_string();
                        self.settle(&id, Some(d));
                    }
                }
            }
            Signal::LockFile(ev) if ev.info.is_none() => {
                if let Some(body) = ev.version_id.as_deref().and_then(|v| versions.lock_body(v)) {
                    match body.and_then(|b| serde_json::from_slice::<LockInfo>(&b).map_err(|e| format!("lock file body: {e}"))) {
                        Ok(info) => ev.info = Some(info),
                        Err(message) => self.invalid(&InvalidInput { source: format!("{}/{}", ev.bucket, ev.key), index: None, message }),
                    }
                }
            }
            Signal::ApiCall(c) if c.event_source == "s3.amazonaws.com" && c.event_name == "PutObject" && c.error_code.is_none() => {
                let rp = &c.request_parameters;
                if let (Some(b), Some(k)) = (rp["bucketName"].as_str(), rp["key"].as_str().or(rp["Key"].as_str())) {
                    self.writers.insert(format!("{b}/{k}"), c.principal.clone());
                }
            }
            Signal::StateObject(ev) if ev.change == ObjectChange::Created => {
                let id = format!("{}/{}", ev.bucket, ev.key);
                self.settle(&id, None);
                match versions.state_version(ev) {
                    None => self.stats.state_writes_unchecked += 1,
                    Some(Err(message)) => self.invalid(&InvalidInput { source: id.clone(), index: None, message }),
                    Some(Ok(bytes)) => {
                        let loc = StateLocation::s3(ev.bucket.clone(), ev.key.clone());
                        match state::parse_state(&bytes, loc, self.base.catalog, self.base.redactor) {
                            Ok(st) => {
                                let md5 = driftwatch_core::redact::hex(&Md5::digest(&bytes));
                                let (lock_held, lock) = state_write::lock_at(&self.mem, &id, ev.time);
                                self.pending.insert(id, PendingWrite { event: ev.clone(), state: st, md5, lock_held, lock });
                            }
                            Err(e) => {
                                let source = format!("{} (version {})", id, ev.version_id.as_deref().unwrap_or("?"));
                                self.invalid(&InvalidInput { source, index: None, message: e.to_string() })
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        // The sweeper's heartbeat is not a change to report (the Lambdas note it as seen).
        if detect::self_defence::heartbeat(&signal, &self.base.policy.watcher).is_some_and(|h| h.only) {
            return;
        }
        let now = signal.time().unwrap_or(self.base.now);
        let found = detect::process(&signal, &self.ctx(now), &mut self.mem);
        self.add(found);
    }

    /// Run the state-write detector on a pending write of `id`, if there is one.
    fn settle(&mut self, id: &str, digest: Option<String>) {
        let Some(p) = self.pending.remove(id) else { return };
        let mut w = state_write::StateWrite::new(&p.event, self.previous.get(id).map(|(st, _)| st), &p.state);
        w.object_md5 = Some(p.md5.clone());
        w.previous_md5 = self.previous.get(id).map(|(_, md5)| md5.clone());
        // At the digest record, that digest; at the next write or the end, the one that stands.
        w.lock_table_digest = digest.or_else(|| state_write::settled_digest(&self.mem, id, p.event.time, &p.md5, None));
        w.lock_held = p.lock_held;
        w.lock = p.lock.clone();
        w.writer = self.writers.get(id).cloned();
        let (found, summary) = state_write::detect(&w, &self.ctx(p.event.time));
        self.stats.state_writes_checked += 1;
        self.summaries.push(format!(
            "{id} serial {}: {} added, {} removed, {} changed",
            p.state.serial,
            summary.added.len(),
            summary.removed.len(),
            summary.changed.len()
        ));
        self.add(found);
        self.previous.insert(id.to_string(), (p.state, p.md5));
    }

    /// Settle what is pending, run the final sweep, and return the findings, merged by
    /// fingerprint and sorted.
    pub fn finish(mut self) -> (Vec<Finding>, ReplayStats, Vec<String>) {
        let ids: Vec<String> = self.pending.keys().cloned().collect();
        for id in ids {
            self.settle(&id, None);
        }
        if let Some(t) = self.sweep_at {
            let tick = Signal::Tick(Tick { time: t, rule: Some("replay".into()), account: None, region: None });
            let found = detect::process(&tick, &self.ctx(t), &mut self.mem);
            self.add(found);
        }
        let mut out: Vec<Finding> = self.findings.into_values().collect();
        finding::sort(&mut out);
        (out, self.stats, self.summaries)
    }
}
