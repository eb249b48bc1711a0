//! Several invocations at once against one moto, through the fault proxy
//! (`driftwatch_tests::faults`), as AWS runs them: EventBridge and Streams deliver at least
//! once, and nothing stops two sandboxes from handling the same event at the same time.
//!
//! * the same console edit delivered to four trail watchers at once, and the same Config item
//!   to four config watchers: one finding record, one alert, the evidence of a single run;
//! * two sweepers sealing at once (the same schedule delivered twice, and two schedules
//!   overlapping): one digest chain, which `verify` accepts and which covers every record;
//! * two writes of one state processed at once, and the older write's invocation paused at its
//!   index writes while the newer one is processed whole: the index ends at the newer serial.
//!
//! The proxy serialises the calls at moto ([`FaultProxy::serialize`]): AWS applies each
//! conditional write atomically, moto does not under concurrent requests. The invocations
//! still interleave call by call. An invocation that fails (the engine backs off from an alert
//! another invocation is publishing) is retried as the platform would, a minute later.

use crate::fault_matrix::{at, delivery_time, event, object_created, sample_state, without_dicom_scratch, Ended, Outcome, World};
use chrono::{DateTime, Utc};
use driftwatch_lambda::{handle, Function, Invocation};
use driftwatch_tests::deployment;
use driftwatch_tests::faults::{Call, Fault};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Invocations of `function`, one per payload, started at the same time, each in its own
/// sandbox (adapters), on a multi-threaded runtime. `meanwhile` runs while they do (on this
/// thread); then what each ended with.
fn at_once_with(w: &World, function: Function, payloads: &[Value], now: DateTime<Utc>, meanwhile: impl FnOnce()) -> Vec<Ended> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    let tasks: Vec<_> = payloads
        .iter()
        .map(|p| {
            let adapters = w.adapters(function, true);
            let p = p.clone();
            runtime.spawn(async move {
                match handle(&adapters, p, &Invocation::at(now)).await {
                    Ok(v) => Ended::Ok(v),
                    Err(e) => Ended::Failed(e.to_string()),
                }
            })
        })
        .collect();
    meanwhile();
    let out = runtime.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("invocation task"));
        }
        out
    });
    runtime.shutdown_background();
    out
}

/// [`at_once_with`] with nothing to do meanwhile.
fn at_once(w: &World, function: Function, payloads: &[Value], now: DateTime<Utc>) -> Vec<Ended> {
    at_once_with(w, function, payloads, now, || {})
}

/// The platform's retries of the invocations that failed: one after the other, a minute
/// later, then two more… (at most three each).
fn retry_failed(w: &World, function: Function, payload: &Value, now: DateTime<Utc>, ended: &[Ended]) -> Vec<String> {
    let mut log = Vec::new();
    for e in ended {
        let Ended::Failed(first) = e else { continue };
        log.push(format!("failed: {first}"));
        let mut ok = false;
        for n in 1..=3 {
            match w.attempt(function, payload, delivery_time(now, n)) {
                Ended::Ok(_) => {
                    ok = true;
                    log.push(format!("retry {n}: ok"));
                    break;
                }
                other => log.push(format!("retry {n}: {other:?}")),
            }
        }
        assert!(ok, "{function}: a failed invocation never succeeded on retry: {log:?}");
    }
    log
}

/// The same event to four instances of `function` at once: the outcome of one run.
fn four_at_once(name: &str, function: Function, setup: impl Fn(&mut World) -> Value, now: DateTime<Utc>) {
    let Some(mut w) = World::start(name) else { return };
    w.proxy.serialize(true);
    // One run alone: what four must come to.
    let payload = setup(&mut w);
    match w.attempt(function, &payload, now) {
        Ended::Ok(_) => {}
        other => panic!("{function} alone: {other:?}"),
    }
    let single = w.outcome(function);
    // (A console edit that opens a port is two findings on one resource: one alert.)
    assert!(!single.findings.is_empty(), "{single:?}");
    assert_eq!(single.alerts.len(), 1, "{single:?}");
    w.fresh();
    let payload = setup(&mut w);
    let ended = at_once(&w, function, &[payload.clone(), payload.clone(), payload.clone(), payload.clone()], now);
    let first: Vec<String> = ended.iter().map(|e| if matches!(e, Ended::Ok(_)) { "ok".into() } else { format!("{e:?}") }).collect();
    let log = retry_failed(&w, function, &payload, now, &ended);
    println!("{function}, four at once: {first:?}; retries: {log:?}");
    let after: Outcome = w.outcome(function);
    let wrong = after.differences(&single);
    assert!(wrong.is_empty(), "{function}: four concurrent deliveries differ from one:\n- {}", wrong.join("\n- "));
}

#[test]
fn four_trail_watchers_on_one_console_edit_record_it_once_and_alert_once() {
    four_at_once(
        "concurrency_trail",
        Function::TrailWatcher,
        |w| {
            assert!(w.deployed.seed_index() > 0);
            event("events/trail-watcher/console-edit/event.json")
        },
        at("2026-11-20T12:00:00Z"),
    );
}

#[test]
fn four_config_watchers_on_one_item_record_it_once_and_alert_once() {
    four_at_once(
        "concurrency_config",
        Function::ConfigWatcher,
        |w| {
            assert!(w.deployed.seed_index() > 0);
            event("events/config-watcher/encryption-regression/event.json")
        },
        at("2026-11-20T12:00:00Z"),
    );
}

// ---------------------------------------------------------------------------------------------
// Two sealers.

/// A world with evidence to seal: two watchers' findings recorded (straight on moto).
fn evidence_to_seal(w: &World) {
    assert!(w.deployed.seed_index() > 0);
    w.invoke_direct(Function::TrailWatcher, &event("events/trail-watcher/console-edit/event.json"), at("2026-11-20T08:00:00Z"));
    w.invoke_direct(Function::ConfigWatcher, &event("events/config-watcher/encryption-regression/event.json"), at("2026-11-20T08:01:00Z"));
    w.drain(&w.deployed.alerts_queue);
}

/// A scheduled sweeper event at `time`.
fn tick(time: &str) -> Value {
    let mut e = event("events/sweeper/stale-lock/event.json");
    e["time"] = json!(time);
    e["id"] = json!(format!("schedule-{time}"));
    e
}

/// The digests: (key, sequence, previous key).
fn digests(w: &World) -> Vec<(String, u64, Option<String>)> {
    let (_, keys) = w.evidence();
    keys.into_iter()
        .map(|k| {
            let d: Value = serde_json::from_slice(&w.deployed.get_object(deployment::EVIDENCE_BUCKET, &k)).expect("digest JSON");
            let previous = d["previous"]["key"].as_str().map(str::to_string);
            (k, d["sequence"].as_u64().expect("sequence"), previous)
        })
        .collect()
}

/// Two sweepers at once with `ticks`, then their retries; the chain must be one line that
/// verifies and covers every record.
fn two_sealers(name: &str, ticks: [&str; 2]) {
    let Some(w) = World::start(name) else { return };
    w.proxy.serialize(true);
    evidence_to_seal(&w);
    let (records, _) = w.evidence();
    assert!(records.len() >= 2, "{records:?}");
    // Both sweepers start together (their payloads differ only by time). Each one's digest
    // write is held until both have reached theirs — both read the chain before either
    // extends it — or 10 s have passed (a sealer that waits for the other never gets there).
    let payloads = [tick(ticks[0]), tick(ticks[1])];
    let now = at(ticks[1]);
    let digest_put =
        |c: &Call| c.op == "s3:PutObject" && c.detail.starts_with(&format!("{}/evidence/digests/", deployment::EVIDENCE_BUCKET));
    w.proxy.inject("digest writes", Arc::new(digest_put), Fault::Pause, 1, 2);
    let ended = at_once_with(&w, Function::Sweeper, &payloads, now, || {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while w.proxy.holding() < 2 && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        println!("digest writes held at once: {}", w.proxy.holding());
        w.proxy.release();
    });
    w.proxy.clear();
    let sealed: Vec<String> = ended
        .iter()
        .map(|e| match e {
            Ended::Ok(v) => format!("sealed {}", v["sealed"]),
            other => format!("{other:?}"),
        })
        .collect();
    for (e, p) in ended.iter().zip(&payloads) {
        retry_failed(&w, Function::Sweeper, p, now, std::slice::from_ref(e));
    }
    println!("two sweepers at once ({ticks:?}): {sealed:?}");
    let chain = digests(&w);
    let (problems, pending) = w.verify();
    println!("verify: problems {problems:?}, {pending} record(s) pending");
    let mut sequences: Vec<u64> = chain.iter().map(|(_, s, _)| *s).collect();
    sequences.sort();
    let mut unique = sequences.clone();
    unique.dedup();
    assert_eq!(sequences, unique, "two digests with one sequence number (a fork; verify said {problems:?}): {chain:#?}");
    assert!(problems.is_empty(), "verify: {problems:#?}\nchain: {chain:#?}");
    assert_eq!(pending, 0, "records left out of the chain: {chain:#?}");
}

#[test]
fn two_sweepers_sealing_the_same_schedule_at_once_leave_one_chain() {
    two_sealers("concurrency_seal_same", ["2026-11-20T09:00:00Z", "2026-11-20T09:00:00Z"]);
}

#[test]
fn two_overlapping_schedules_sealing_at_once_leave_one_chain() {
    // A schedule's delivery delayed into the next one (EventBridge retries a delivery for an
    // hour): two windows sealed at once.
    two_sealers("concurrency_seal_overlap", ["2026-11-20T09:00:00Z", "2026-11-20T09:15:00Z"]);
}

// ---------------------------------------------------------------------------------------------
// Two writes of one state.

const STATE_KEY: &str = "prod/data.tfstate";

/// Versions 1 (serial 300, the whole data estate) and 2 (serial 301, without the DICOM scratch
/// file system) of one state; the events of their writes (at 09:00 and 09:10). Version 2 is put
/// only when `both` (else the caller puts it with [`put_second`]).
fn two_writes(w: &mut World, both: bool) -> (Value, Option<Value>) {
    let mut data = sample_state("data.tfstate");
    data["serial"] = json!(300);
    let bytes = serde_json::to_vec(&data).expect("state bytes");
    let v1 = w.deployed.put_object(deployment::STATE_BUCKET, STATE_KEY, bytes.clone()).expect("version");
    w.volatile.push((v1.clone(), "VERSION-1".into()));
    let first = object_created(STATE_KEY, &v1, bytes.len(), at("2026-11-20T09:00:00Z"));
    (first, both.then(|| put_second(w)))
}

fn put_second(w: &mut World) -> Value {
    let mut smaller = without_dicom_scratch(&sample_state("data.tfstate"));
    smaller["serial"] = json!(301);
    let bytes = serde_json::to_vec(&smaller).expect("state bytes");
    let v2 = w.deployed.put_object(deployment::STATE_BUCKET, STATE_KEY, bytes.clone()).expect("version");
    w.volatile.push((v2.clone(), "VERSION-2".into()));
    object_created(STATE_KEY, &v2, bytes.len(), at("2026-11-20T09:10:00Z"))
}

/// What the index says of the state: its entries and the indexed version's serial.
fn indexed(w: &World) -> (std::collections::BTreeSet<String>, Value) {
    let state = w
        .deployed
        .items(deployment::FINDINGS_TABLE)
        .into_iter()
        .find(|i| i["fingerprint"].as_str() == Some(&format!("ledger#state#{}/{STATE_KEY}", deployment::STATE_BUCKET)))
        .map(|i| serde_json::from_str::<Value>(i["value"].as_str().unwrap_or("null")).unwrap_or_default())
        .unwrap_or_default();
    (w.index(), state["serial"].clone())
}

/// The index after the two writes processed one after the other, in order.
fn in_order(w: &mut World) -> (std::collections::BTreeSet<String>, Value) {
    let (first, second) = two_writes(w, true);
    w.invoke_direct(Function::StateWatcher, &first, at("2026-11-20T09:00:05Z"));
    w.invoke_direct(Function::StateWatcher, &second.expect("second"), at("2026-11-20T09:10:05Z"));
    let out = indexed(w);
    assert_eq!(out.1, json!(301), "in order, the index is at the newer serial");
    assert!(!out.0.iter().any(|e| e.contains("aws_efs_file_system.dicom_scratch")), "{:?}", out.0);
    out
}

#[test]
fn two_writes_of_one_state_processed_at_once_leave_the_newer_serial() {
    let Some(mut w) = World::start("concurrency_state_writes") else { return };
    w.proxy.serialize(true);
    let expected = in_order(&mut w);
    w.fresh();
    let (first, second) = two_writes(&mut w, true);
    let ended = at_once(&w, Function::StateWatcher, &[first.clone(), second.clone().expect("second")], at("2026-11-20T09:10:05Z"));
    for (e, p) in ended.iter().zip([&first, &second.expect("second")]) {
        retry_failed(&w, Function::StateWatcher, p, at("2026-11-20T09:10:05Z"), std::slice::from_ref(e));
    }
    let got = indexed(&w);
    assert_eq!(got.1, expected.1, "the indexed serial");
    assert_eq!(got.0, expected.0, "the index entries");
}

/// The race of a late write: the older write's invocation checks that its version is current
/// (it is), then is held at its index writes; meanwhile the newer version is written and
/// processed whole; then the older invocation goes on. The index must stay at the newer serial.
#[test]
fn an_older_write_held_at_its_index_writes_does_not_roll_the_index_back() {
    let Some(mut w) = World::start("concurrency_state_race") else { return };
    w.proxy.serialize(true);
    let expected = in_order(&mut w);
    w.fresh();
    let (first, _) = two_writes(&mut w, false);
    let older = Arc::new(AtomicBool::new(true));
    let holding = older.clone();
    let index_write = move |c: &Call| {
        holding.load(Ordering::SeqCst)
            && matches!(c.op.as_str(), "dynamodb:PutItem" | "dynamodb:DeleteItem" | "dynamodb:BatchWriteItem")
            && c.detail.starts_with(deployment::INDEX_TABLE)
    };
    w.proxy.inject("the older write's index writes", Arc::new(index_write), Fault::Pause, 1, usize::MAX);
    let held = w.proxy.holds_started();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let adapters = w.adapters(Function::StateWatcher, true);
    let late = runtime
        .spawn(async move { handle(&adapters, first, &Invocation::at(at("2026-11-20T09:10:30Z"))).await.map_err(|e| e.to_string()) });
    runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), w.proxy.held_since(held))
            .await
            .expect("the older write reached its index writes")
    });
    // Every index write it has in flight is held (it sends a bounded number at once, then
    // waits for them): no new one for 300 ms.
    loop {
        let n = w.proxy.holding();
        std::thread::sleep(std::time::Duration::from_millis(300));
        if w.proxy.holding() == n {
            break;
        }
    }
    // Only the older invocation's calls are held.
    older.store(false, Ordering::SeqCst);
    let second = put_second(&mut w);
    match w.attempt(Function::StateWatcher, &second, at("2026-11-20T09:10:05Z")) {
        Ended::Ok(_) => {}
        other => panic!("the newer write: {other:?}"),
    }
    w.proxy.release();
    let late = runtime.block_on(late).expect("the older invocation");
    runtime.shutdown_background();
    println!("the older write, resumed: {late:?}");
    let got = indexed(&w);
    assert_eq!(got.1, expected.1, "the indexed serial after the older write resumed");
    let back: Vec<&String> = got.0.difference(&expected.0).collect();
    let gone: Vec<&String> = expected.0.difference(&got.0).collect();
    assert!(
        back.is_empty() && gone.is_empty(),
        "the older write changed the index after the newer one: entries the newer write removed are back {back:?}, entries it wrote are gone {gone:?}"
    );
}
