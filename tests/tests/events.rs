//! The events/ cases, data-driven: every `events/<function>/<case>/` is replayed through the
//! same engine as `driftwatch replay` (`driftwatch_engine::replay`: decode → detectors, with
//! the state-version, digest and lock conventions), against the sample estate in
//! `samples/states` and `events/policy.toml`, and the findings' (rule, resource) set must equal
//! the case's `expected.json` exactly. Resource: the Terraform address, else "<type> <id>".

use chrono::{DateTime, Utc};
use driftwatch_core::detect::Context;
use driftwatch_core::finding::Finding;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_engine::replay::{Replay, ReplayStats};
use driftwatch_local::events as replay;
use driftwatch_tests::workspace_root;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The replay clock of the tests (dates `input.invalid`; no final sweep: the sweeper cases
/// carry their own schedule event).
const NOW: &str = "2026-11-22T12:00:00Z";

/// The rules the events/ cases are about (issue 3's, and the watcher's own of issue 13); each
/// must fire in some case, and only where expected.
const ISSUE3_RULES: [&str; 24] = [
    "drift.changed",
    "drift.missing",
    "drift.unmanaged",
    "change.console",
    "change.out_of_band",
    "encryption.regression",
    "lock.contention",
    "lock.stale",
    "lock.force_unlock",
    "lock.outside_pipeline",
    "state.unlocked_write",
    "state.written_outside_pipeline",
    "state.lineage_changed",
    "state.serial_regression",
    "state.digest_mismatch",
    "input.invalid",
    "exception.changed",
    "watcher.tampered",
    "control.audit_weakened",
    "control.public_exposure",
    "control.integrity_weakened",
    "control.network_exposure",
    "control.detection_disabled",
    "control.identity_risk",
];

const FUNCTIONS: [&str; 5] = ["trail-watcher", "config-watcher", "state-watcher", "lock-watcher", "sweeper"];

type Key = (String, String);

struct Estate {
    index: ManagedIndex,
    catalog: Catalog,
    policy: Policy,
    redactor: Redactor,
}

fn estate() -> &'static Estate {
    static W: OnceLock<Estate> = OnceLock::new();
    W.get_or_init(|| {
        let root = workspace_root();
        let catalog = Catalog::builtin();
        let redactor = Redactor::new(b"driftwatch-events-tests");
        let mut index = ManagedIndex::default();
        for name in ["app", "data", "network"] {
            let path = root.join(format!("samples/states/{name}.tfstate"));
            let bytes = std::fs::read(&path).expect("sample state");
            let st =
                parse_state(&bytes, StateLocation::local(format!("samples/states/{name}.tfstate")), &catalog, &redactor).expect("parse");
            index.add_state(st, &catalog);
        }
        let policy =
            Policy::from_toml(&std::fs::read_to_string(root.join("events/policy.toml")).expect("events/policy.toml")).expect("policy");
        Estate { index, catalog, policy, redactor }
    })
}

struct Case {
    /// `<function>/<case>`
    name: String,
    dir: PathBuf,
    expected: BTreeSet<Key>,
}

fn cases() -> Vec<Case> {
    let root = workspace_root().join("events");
    let mut out = Vec::new();
    for function in FUNCTIONS {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(function))
            .unwrap_or_else(|e| panic!("events/{function}: {e}"))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = format!("{function}/{}", dir.file_name().and_then(|n| n.to_str()).expect("utf8"));
            let exp = dir.join("expected.json");
            let text = std::fs::read_to_string(&exp).unwrap_or_else(|e| panic!("{name}: expected.json: {e}"));
            let items: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: expected.json: {e}"));
            let expected = items
                .iter()
                .map(|i| (i["rule"].as_str().expect("rule").to_string(), i["resource"].as_str().expect("resource").to_string()))
                .collect();
            out.push(Case { name, dir, expected });
        }
    }
    assert!(out.len() >= 30, "events/ holds {} cases", out.len());
    out
}

fn run(case: &Case) -> (Vec<Finding>, ReplayStats) {
    let w = estate();
    let now: DateTime<Utc> = NOW.parse().expect("NOW");
    let mut rep = Replay::new(Context { index: &w.index, catalog: &w.catalog, policy: &w.policy, redactor: &w.redactor, now }, None);
    let files = replay::event_files(&case.dir).expect("event files");
    assert!(files.iter().any(|f| f.ends_with("event.json")), "{}: no event.json", case.name);
    for f in &files {
        replay::feed_file(&mut rep, f, &mut |_| {}).unwrap_or_else(|e| panic!("{}: {}: {e}", case.name, f.display()));
    }
    let (findings, stats, _) = rep.finish();
    (findings, stats)
}

/// (rule, address or "<type> <id>"); ids naming files are made relative to the workspace.
fn key(f: &Finding, root: &Path) -> Key {
    let r = &f.resource;
    let what = match &r.address {
        Some(a) => a.clone(),
        None => {
            let prefix = format!("{}/", root.display());
            format!("{} {}", r.resource_type, r.id.strip_prefix(&prefix).unwrap_or(&r.id))
        }
    };
    (f.rule.id().to_string(), what)
}

fn keys(findings: &[Finding]) -> BTreeSet<Key> {
    let root = workspace_root();
    findings.iter().map(|f| key(f, &root)).collect()
}

#[test]
fn every_case_gives_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = keys(&run(&case).0);
        if got != case.expected {
            let missing: Vec<_> = case.expected.difference(&got).collect();
            let extra: Vec<_> = got.difference(&case.expected).collect();
            failures.push(format!("{}: missing {missing:?}, unexpected {extra:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ from expected.json:\n  {}", failures.len(), failures.join("\n  "));
}

#[test]
fn every_issue3_rule_fires_in_some_case_and_only_where_expected() {
    let mut expected_in: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut fired_in: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for case in cases() {
        for (rule, _) in &case.expected {
            let r = ISSUE3_RULES.iter().find(|r| **r == rule).unwrap_or_else(|| panic!("{}: expects unknown rule {rule}", case.name));
            expected_in.entry(r).or_default().insert(case.name.clone());
        }
        for (rule, _) in keys(&run(&case).0) {
            fired_in.entry(rule).or_default().insert(case.name.clone());
        }
    }
    let mut problems = Vec::new();
    for rule in ISSUE3_RULES {
        let want = expected_in.get(rule).cloned().unwrap_or_default();
        let got = fired_in.get(rule).cloned().unwrap_or_default();
        if want.is_empty() {
            problems.push(format!("{rule}: no case expects it"));
        }
        if got.is_empty() {
            problems.push(format!("{rule}: fires in no case"));
        }
        let stray: Vec<_> = got.difference(&want).collect();
        if !stray.is_empty() {
            problems.push(format!("{rule}: fires in cases that do not expect it: {stray:?}"));
        }
    }
    for rule in fired_in.keys() {
        if !ISSUE3_RULES.contains(&rule.as_str()) {
            problems.push(format!("{rule}: fired, but no events/ case is about it"));
        }
    }
    assert!(problems.is_empty(), "\n  {}", problems.join("\n  "));
}

#[test]
fn replaying_a_case_twice_gives_identical_findings() {
    let mut fingerprints = 0;
    for case in cases() {
        let (a, _) = run(&case);
        let (b, _) = run(&case);
        let fa: Vec<&str> = a.iter().map(|f| f.fingerprint.as_str()).collect();
        let fb: Vec<&str> = b.iter().map(|f| f.fingerprint.as_str()).collect();
        assert_eq!(fa, fb, "{}: fingerprints differ between replays", case.name);
        assert_eq!(serde_json::to_value(&a).expect("json"), serde_json::to_value(&b).expect("json"), "{}: findings differ", case.name);
        fingerprints += fa.len();
    }
    assert!(fingerprints >= 20, "not vacuous: {fingerprints} fingerprints compared");
}

#[test]
fn a_corrupt_log_record_is_one_input_invalid_and_the_others_are_read() {
    let case = cases().into_iter().find(|c| c.name == "trail-watcher/input-invalid-log-file").expect("case");
    let (findings, stats) = run(&case);
    assert_eq!(stats.decode.records, 6, "{stats:?}");
    assert_eq!((stats.decode.read_only, stats.decode.signals, stats.decode.invalid), (3, 2, 1), "{stats:?}");
    let bad: Vec<&Finding> = findings.iter().filter(|f| f.rule.id() == "input.invalid").collect();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].title.contains("event.json record #3") && bad[0].title.contains("eventTime"), "{}", bad[0].title);
}

#[test]
fn every_payload_decodes_and_is_real_shaped() {
    for case in cases() {
        let (findings, stats) = run(&case);
        if !case.expected.iter().any(|(r, _)| r == "input.invalid") {
            assert_eq!(
                stats.decode.invalid,
                0,
                "{}: a payload did not decode: {:?}",
                case.name,
                findings.iter().map(|f| &f.title).collect::<Vec<_>>()
            );
        }
        assert!(stats.decode.records >= 1, "{}: no records", case.name);
        // The trigger payload a Lambda would receive is one document of a known shape.
        let text = std::fs::read_to_string(case.dir.join("event.json")).expect("event.json");
        let v: Value = serde_json::from_str(&text).expect("event.json is JSON");
        let shape_ok = v.get("detail-type").is_some() || v.get("Records").is_some();
        assert!(shape_ok, "{}: event.json is neither an EventBridge event nor a Records batch", case.name);
        let function = case.name.split('/').next().unwrap_or("");
        let want = match function {
            // Scheduled: a member account's heartbeat (infra/modules/member).
            "trail-watcher" => &["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", "Scheduled Event", "Records"][..],
            "config-watcher" => &["Config Configuration Item Change"][..],
            "state-watcher" => &["Object Created", "Object Deleted"][..],
            "lock-watcher" => &["Records"][..],
            "sweeper" => &["Scheduled Event"][..],
            _ => &[][..],
        };
        let got = v.get("detail-type").and_then(Value::as_str).unwrap_or("Records");
        assert!(want.contains(&got), "{}: {function} is not triggered by {got}", case.name);
    }
}

/// The Lambdas read only the slice of the index a signal [`needs`](driftwatch_core::detect::needs)
/// (point lookups in the DynamoDB index table). For every API call and Config change of every
/// case, detecting against that slice — rebuilt with `ManagedIndex::from_entries` as the
/// Lambdas do — must give exactly the findings the full index gives.
#[test]
fn the_slice_of_the_index_a_signal_needs_is_enough() {
    use driftwatch_core::detect::{self, Context, InMemory};
    use driftwatch_core::index::IndexEntry;
    use driftwatch_core::signal::Signal;
    let w = estate();
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let mut checked = 0;
    let mut with_findings = 0;
    for case in cases() {
        if !(case.name.starts_with("trail-watcher/") || case.name.starts_with("config-watcher/")) {
            continue;
        }
        {
            for file in replay::event_files(&case.dir).expect("event files") {
                let bytes = replay::read_file(&file).expect("event file");
                let decoded = driftwatch_decode::decode_document(&bytes, &file.display().to_string(), &w.policy, &w.redactor);
                for signal in decoded.into_iter().flatten() {
                    if !matches!(signal, Signal::ApiCall(_) | Signal::ConfigChange(_)) {
                        continue;
                    }
                    let needs = detect::needs(&signal, &w.policy);
                    let mut slice: Vec<IndexEntry> = Vec::new();
                    let mut seen = BTreeSet::new();
                    let mut take = |t: &str, id: &str, slice: &mut Vec<IndexEntry>| {
                        if seen.insert((t.to_string(), id.to_string())) {
                            slice.extend(w.index.lookup(t, id).cloned());
                        }
                    };
                    for (t, id) in &needs.identities {
                        take(t, id, &mut slice);
                    }
                    for arn in &needs.arns {
                        if let Some(e) = w.index.lookup_arn(arn) {
                            let (t, id) = (e.config_type.clone(), e.resource_id.clone());
                            take(&t, &id, &mut slice);
                        }
                    }
                    let small = ManagedIndex::from_entries(slice);
                    let at = signal.time().unwrap_or(now);
                    let ctx = |index| Context { index, catalog: &w.catalog, policy: &w.policy, redactor: &w.redactor, now: at };
                    let full = detect::process(&signal, &ctx(&w.index), &mut InMemory::default());
                    let sliced = detect::process(&signal, &ctx(&small), &mut InMemory::default());
                    assert_eq!(sliced, full, "{}: the index slice gives other findings", file.display());
                    checked += 1;
                    with_findings += usize::from(!full.is_empty());
                }
            }
        }
    }
    assert!(checked >= 25, "only {checked} signals checked");
    assert!(with_findings >= 15, "only {with_findings} signals with findings: the comparison is weak");
}

/// The Lambda path and the replay (`driftwatch replay`) give the same findings for every case
/// of every function. Each file of a case is decoded as the handler decodes it and goes
/// through the use case its function calls, over the engine's in-memory ports with one ledger
/// for the whole case, at the file's own time (when the function would run):
///
/// * a state write (`V.tfstate` beside the file) — `state_write::on_state_write` with the
///   version before it (the case's previous write of the key), as the state watcher reads them
///   from S3; then the state watcher's `state` ledger item;
/// * a schedule event — the sweeper's stale-lock sweep (`locks::sweep_locks`) over the locks the
///   case left held (what the lock table holds);
/// * anything else — `watch` (index slice, ledger memory, detectors, exceptions, lifecycle
///   records, evidence, alerts).
///
/// After the last file, a sweeper run settles the parked state writes (`state_write::settle`),
/// as the replay settles them at its end. Every file is delivered twice: the second delivery
/// records nothing new and alerts no more.
/// A state version as S3 keeps it: version id, the parsed state, the MD5 of its bytes.
type Version = (Option<String>, driftwatch_core::state::State, String);

#[test]
fn the_lambda_use_cases_give_the_replays_findings() {
    use driftwatch_core::detect::HeldLock;
    use driftwatch_core::ports::Ledger;
    use driftwatch_core::signal::{ObjectChange, Signal};
    use driftwatch_engine::in_memory::{InMemoryPorts, MemoryIndex};
    use driftwatch_engine::replay::Versions;
    use driftwatch_engine::state_write::{self, WriteFacts};
    use driftwatch_engine::{record, Outcome};
    use md5::{Digest, Md5};
    use std::cell::RefCell;
    use std::collections::HashMap;
    let w = estate();
    let now: DateTime<Utc> = NOW.parse().expect("NOW");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut checked = 0;
    let (mut swept, mut writes, mut settled) = (0, 0, 0);
    for case in cases() {
        let mut ports = InMemoryPorts::new(w.policy.clone(), b"driftwatch-events-tests");
        ports.index = MemoryIndex(w.index.entries().to_vec());
        let versions = replay::FileVersions { dir: case.dir.clone() };
        // The versions written of each state, in order (S3's version list).
        let written: RefCell<HashMap<String, Vec<Version>>> = RefCell::default();
        let state_write_of = |ev: &driftwatch_core::signal::StateObjectEvent, source: &str| -> Option<Vec<Finding>> {
            let bytes = versions.state_version(ev)?.unwrap_or_else(|e| panic!("{source}: {e}"));
            let id = format!("{}/{}", ev.bucket, ev.key);
            let loc = StateLocation::s3(ev.bucket.clone(), ev.key.clone());
            let current = parse_state(&bytes, loc, &w.catalog, &w.redactor).unwrap_or_else(|e| panic!("{source}: {e}"));
            let md5 = driftwatch_core::redact::hex(&Md5::digest(&bytes));
            let mut all = written.borrow_mut();
            let list = all.entry(id.clone()).or_default();
            let at = list.iter().position(|(v, _, _)| *v == ev.version_id).unwrap_or(list.len());
            let before = at.checked_sub(1).map(|i| (list[i].1.clone(), list[i].2.clone()));
            if at == list.len() {
                list.push((ev.version_id.clone(), current.clone(), md5.clone()));
            }
            drop(all);
            let url = format!("s3://{id}");
            let facts = WriteFacts {
                event: ev,
                url: &url,
                version: ev.version_id.as_deref(),
                current: &current,
                current_md5: &md5,
                previous: before.as_ref().map(|(s, _)| s),
                previous_md5: before.as_ref().map(|(_, m)| m.clone()),
                lock_table_digest: None,
                lock_info: None,
                is_current: true,
                indexed: 0,
                entries: &[],
            };
            let (found, _, _) =
                rt.block_on(state_write::on_state_write(&ports, &facts, ev.time)).unwrap_or_else(|e| panic!("{source}: {e}"));
            let item =
                state_write::indexed_item(ev, &current.location.workspace(), current.serial, ev.version_id.as_deref(), ev.etag.as_deref());
            rt.block_on(ports.ledger.put("state", &id, &item)).expect("state item");
            Some(found)
        };
        let deliver = |bytes: &[u8], source: &str, at: DateTime<Utc>| -> Outcome {
            let decoded = driftwatch_decode::decode_document(bytes, source, &w.policy, &w.redactor);
            if let [Ok(Signal::Tick(tick))] = decoded.as_slice() {
                // The sweeper: the locks held now (the lock table: what the case left held).
                let held: Vec<(String, HeldLock)> = ports
                    .ledger
                    .0
                    .lock()
                    .expect("ledger")
                    .iter()
                    .filter(|((kind, _), _)| kind == "lock")
                    .map(|((_, id), v)| (id.clone(), serde_json::from_value(v.clone()).expect("held lock")))
                    .collect();
                let (findings, recorded) =
                    rt.block_on(driftwatch_engine::locks::sweep_locks(&ports, held, tick.time)).unwrap_or_else(|e| panic!("{source}: {e}"));
                return Outcome { signals: 1, invalid: 0, findings, recorded };
            }
            let mut rest = Vec::new();
            let mut found = Vec::new();
            for d in decoded {
                match &d {
                    Ok(Signal::StateObject(ev)) if ev.change == ObjectChange::Created => match state_write_of(ev, source) {
                        Some(f) => found.extend(f),
                        None => rest.push(d),
                    },
                    _ => rest.push(d),
                }
            }
            let recorded = rt.block_on(record(&ports, found.clone(), at)).unwrap_or_else(|e| panic!("{source}: {e}"));
            let mut out = rt.block_on(driftwatch_engine::watch(&ports, rest, at, at)).unwrap_or_else(|e| panic!("{source}: {e}"));
            out.findings.extend(found);
            out.recorded += recorded;
            out
        };
        let mut lambda = Vec::new();
        for file in replay::event_files(&case.dir).expect("event files") {
            let bytes = replay::read_file(&file).expect("event file");
            let payload: Option<Value> = serde_json::from_slice(&bytes).ok();
            let at = payload.as_ref().and_then(driftwatch_lambda::handlers::payload_time).unwrap_or(now);
            let source = file.display().to_string();
            let first = deliver(&bytes, &source, at);
            let (alerts, evidence) = (ports.alerts.sent().len(), ports.evidence.objects().len());
            let again = deliver(&bytes, &source, at);
            assert_eq!(keys(&again.findings), keys(&first.findings), "{source}: a redelivery finds otherwise");
            assert_eq!(again.recorded.changed, 0, "{source}: a redelivery changed records: {:?}", again.recorded);
            assert_eq!(
                (ports.alerts.sent().len(), ports.evidence.objects().len()),
                (alerts, evidence),
                "{source}: a redelivery alerted or wrote evidence"
            );
            swept += usize::from(case.name.starts_with("sweeper/") && file.ends_with("event.json"));
            writes += usize::from(case.name.starts_with("state-watcher/") && file.ends_with("event.json"));
            lambda.extend(first.findings);
        }
        // A later sweeper run settles what was parked.
        let done = rt.block_on(state_write::settle(&ports, now)).unwrap_or_else(|e| panic!("{}: settle: {e}", case.name));
        assert_eq!(done.waiting, 0, "{}: writes still parked after the settle time", case.name);
        settled += done.settled;
        lambda.extend(done.findings);
        let (replayed, _) = run(&case);
        assert_eq!(keys(&lambda), keys(&replayed), "{}: the Lambda path and the replay disagree", case.name);
        assert_eq!(keys(&lambda), case.expected, "{}", case.name);
        let recorded: BTreeSet<String> = ports.findings.records().iter().map(|r| r.finding.fingerprint.clone()).collect();
        let found: BTreeSet<String> = lambda.iter().map(|f| f.fingerprint.clone()).collect();
        assert_eq!(recorded, found, "{}: every finding has its record", case.name);
        checked += 1;
    }
    assert_eq!(checked, cases().len(), "every case ran through the engine");
    assert_eq!(swept, 2, "both sweeper cases ran the sweeper's path");
    assert_eq!(writes, 5, "the five state-watcher cases ran the state watcher's path");
    assert!(settled >= 3, "only {settled} parked writes were settled: the settling path is barely exercised");
}

/// Issue 14: every row of the control catalog has an `events/` case that gives its rule, and a
/// negative case (the call that strengthens or leaves the safeguard alone, the same call
/// failing, a read) that gives nothing; a row with an AWS Config signal has a
/// `config-watcher` case and a negative one too. (Every case's findings are checked against its
/// `expected.json` by `every_case_gives_exactly_its_expected_findings`.)
#[test]
fn every_control_row_has_a_case_and_a_negative_case() {
    let root = workspace_root().join("events");
    let expected = |dir: &Path| -> Vec<Value> {
        let text = std::fs::read_to_string(dir.join("expected.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        serde_json::from_str::<Vec<Value>>(&text).expect("expected.json")
    };
    let rows = driftwatch_core::detect::controls::Controls::builtin().rows();
    assert!(rows.len() >= 80, "{} rows", rows.len());
    for row in rows {
        let slug = row.id.replace(['.', '_'], "-");
        let mut functions = Vec::new();
        if !row.call.is_empty() {
            functions.push("trail-watcher");
        }
        if !row.config.is_empty() {
            functions.push("config-watcher");
        }
        for f in functions {
            let case = root.join(f).join(format!("control-{slug}"));
            let rule = row.rule().id();
            assert!(expected(&case).iter().any(|e| e["rule"] == rule), "{}: its case does not expect {rule}", case.display());
            let negative = root.join(f).join(format!("control-{slug}-negative"));
            // (a resource a person creates outside Terraform is drift.unmanaged, not a control)
            assert!(
                expected(&negative).iter().all(|e| !e["rule"].as_str().unwrap_or_default().starts_with("control.")),
                "{}: a negative case expects no control finding",
                negative.display()
            );
        }
    }
}
