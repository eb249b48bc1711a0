//! The fault matrix: every function × every fault kind, through the fault-injecting proxy in
//! front of moto (`driftwatch_tests::faults`).
//!
//! For each function, one scenario of `events/` that finds something: a fault-free run through
//! the proxy gives the expected outcome (findings, evidence, alerts, and the function's own
//! output: the index, the reports, the digest chain) and the census of its AWS calls. The
//! census names the function's critical calls: the first call it makes (what it reads first),
//! the first DynamoDB call, the findings-table writes, the ledger writes, the index writes, the
//! evidence `PutObject`s, the report `PutObject`s and the SNS `Publish`es — whichever it makes.
//!
//! Then, for each fault kind, in a fresh world: the fault on each critical call the kind
//! applies to (the DynamoDB errors on DynamoDB calls, `SlowDown` on S3 calls, a lost reply on
//! all but SNS — see [`Fault::applies_to`] — the others on all), either once per call (`×1`: the SDK's own retry absorbs it) or on as many consecutive
//! calls as the SDK attempts (`×3`: the call fails, the invocation fails). A timeout (a call
//! never answered) has no `×3`: the SDK sets no timeout, so the first one lasts until the
//! deadline. The handler runs as the platform runs it: against a deadline, and when it fails,
//! times out or reports a failed record (`batchItemFailures`), it is invoked again with the
//! same event (the lock watcher's batch from the failed record on) after the platform's delay
//! (1 minute, then 2, 4, …), in a new sandbox; what was left of a timed-out invocation reaches
//! nothing any more (the proxy's blackout). Rules count their calls across the retries, so a
//! `×3` run fails at each critical call in turn and its retries start from each of those
//! failures.
//!
//! Afterwards, the outcome must equal the fault-free run's: the same findings (rule,
//! fingerprint, status, severity, first and last seen, whether an alert is still due), the
//! same ledger keys, the same evidence records (keys are `<day>/<kind>/<sha256 of the
//! content>.json`: equal keys are equal content), a digest chain that verifies and covers every
//! record, the same alerts (rule and fingerprint, no duplicate), the same index entries and
//! the same report files. The matrix is printed and written to
//! `target/test-scratch/fault-matrix.md`.

use chrono::{DateTime, Duration, Utc};
use driftwatch_lambda::{handle, Adapters, Env, Function, Invocation};
use driftwatch_tests::deployment::{self, Deployment};
use driftwatch_tests::faults::{self, Call, Fault, FaultProxy, Matcher, SDK_MAX_ATTEMPTS};
use driftwatch_tests::{workspace_root, Moto};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The functions' deadline (a safety net: a held call ends the invocation at once, see
/// [`World::attempt`]).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// How long the rest of an invocation may go on after one of its calls is held, before its
/// deadline is taken as passed.
const GRACE: std::time::Duration = std::time::Duration::from_millis(50);

pub(crate) fn event(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join(path)).expect("event file")).expect("event JSON")
}

pub(crate) fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("time")
}

/// One moto server, the proxy in front of it, and the deployment on it.
pub(crate) struct World {
    pub moto: Moto,
    pub proxy: FaultProxy,
    pub deployed: Deployment,
    /// Strings that differ from one world to the next (S3 version ids) and the names they are
    /// compared under.
    pub volatile: Vec<(String, String)>,
}

/// How one invocation ended.
#[derive(Debug)]
pub(crate) enum Ended {
    Ok(Value),
    /// A failed record of a batch (its sequence number): the platform retries from it.
    Partial(String),
    Failed(String),
    TimedOut,
}

impl World {
    pub fn start(name: &str) -> Option<World> {
        let moto = Moto::start(name)?;
        let proxy = FaultProxy::start(&moto.endpoint);
        let deployed = Deployment::create(&moto);
        Some(World { moto, proxy, deployed, volatile: Vec::new() })
    }

    /// Forget everything: moto reset, the deployment created again, the proxy's rules and
    /// calls cleared.
    pub fn fresh(&mut self) {
        self.proxy.clear();
        faults::reset_moto(&self.moto.endpoint);
        self.deployed = Deployment::create(&self.moto);
        self.proxy.forget_calls();
        self.volatile.clear();
    }

    /// `text` with the world's volatile strings replaced by their names.
    pub fn normalized(&self, text: &str) -> String {
        self.volatile.iter().fold(text.to_string(), |t, (from, to)| t.replace(from, to))
    }

    /// A function's adapters: through the proxy, or straight to moto (setting a world up).
    pub fn adapters(&self, function: Function, through_proxy: bool) -> Adapters {
        let mut vars: Vec<(String, String)> = deployment::function_vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let policy = std::fs::read_to_string(workspace_root().join("events/policy.toml")).expect("policy");
        vars.push(("DRIFTWATCH_POLICY".into(), policy));
        vars.push(("DRIFTWATCH_REDACTION_SALT".into(), deployment::REDACTION_SALT.into()));
        let env = Env::from_vars(function, |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).expect("env");
        let sdk = if through_proxy { self.proxy.sdk_config(&self.moto.sdk_config()) } else { self.moto.sdk_config() };
        Adapters::with_sdk(env, &sdk).expect("adapters")
    }

    /// Invoke straight on moto (no proxy, no fault), expecting success.
    pub fn invoke_direct(&self, function: Function, payload: &Value, now: DateTime<Utc>) -> Value {
        let adapters = self.adapters(function, false);
        self.deployed.block_on(handle(&adapters, payload.clone(), &Invocation::at(now))).unwrap_or_else(|e| panic!("{function}: {e}"))
    }

    /// One invocation through the proxy, as the platform runs it: in a new sandbox, against
    /// the deadline. A call the proxy holds (a timeout) is never answered: the deadline passes,
    /// which the harness does not wait for — the invocation ends [`GRACE`] after the hold.
    pub fn attempt(&self, function: Function, payload: &Value, now: DateTime<Utc>) -> Ended {
        let adapters = self.adapters(function, true);
        let held = self.proxy.holds_started();
        let proxy = self.proxy.clone();
        let invocation = Invocation::at(now);
        let ended = self.deployed.block_on(async {
            tokio::select! {
                r = tokio::time::timeout(DEADLINE, handle(&adapters, payload.clone(), &invocation)) => match r {
                    Ok(Ok(v)) => match v["batchItemFailures"].as_array().and_then(|f| f.first()) {
                        Some(f) => Ended::Partial(f["itemIdentifier"].as_str().unwrap_or_default().to_string()),
                        None => Ended::Ok(v),
                    },
                    Ok(Err(e)) => Ended::Failed(e.to_string()),
                    Err(_) => Ended::TimedOut,
                },
                _ = async { proxy.held_since(held).await; tokio::time::sleep(GRACE).await } => Ended::TimedOut,
            }
        });
        if matches!(ended, Ended::TimedOut) {
            // The sandbox is gone: whatever it still had in flight reaches nothing.
            self.proxy.blackout(true);
            self.proxy.release();
            self.proxy.wait_quiet(std::time::Duration::from_millis(200), std::time::Duration::from_secs(10));
            self.proxy.blackout(false);
        }
        ended
    }

    /// Every item of the findings table that is a finding: `rule fingerprint status …`.
    pub fn findings(&self) -> BTreeSet<String> {
        self.deployed
            .items(deployment::FINDINGS_TABLE)
            .into_iter()
            .filter(|i| !i["fingerprint"].as_str().unwrap_or("").starts_with("ledger#"))
            .map(|i| {
                let rec: Value = serde_json::from_str(i["record"].as_str().unwrap_or("{}")).unwrap_or_default();
                format!(
                    "{} {} status={} severity={} seen={}..{} due={}",
                    rec["finding"]["rule"].as_str().unwrap_or("?"),
                    i["fingerprint"].as_str().unwrap_or("?"),
                    rec["status"].as_str().unwrap_or("?"),
                    rec["finding"]["severity"].as_str().unwrap_or("?"),
                    rec["first_seen"].as_str().unwrap_or("?"),
                    rec["last_seen"].as_str().unwrap_or("?"),
                    !rec["alert_due"].is_null(),
                )
            })
            .collect()
    }

    /// The ledger items' keys.
    pub fn ledger(&self) -> BTreeSet<String> {
        self.deployed
            .items(deployment::FINDINGS_TABLE)
            .into_iter()
            .filter_map(|i| i["fingerprint"].as_str().filter(|f| f.starts_with("ledger#")).map(|f| self.normalized(f)))
            .collect()
    }

    /// Every alert in the alerts queue (received and deleted): `rule fingerprint`, sorted.
    pub fn alerts(&self) -> Vec<String> {
        self.drain(&self.deployed.alerts_queue)
            .iter()
            .map(|m| {
                let f: Value = serde_json::from_str(m["Message"].as_str().unwrap_or("{}")).unwrap_or_default();
                format!("{} {}", f["rule"].as_str().unwrap_or("?"), f["fingerprint"].as_str().unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .tap_sort()
    }

    /// Receive and delete everything in a queue (short polls: moto delivers SNS to SQS before
    /// `Publish` answers).
    pub fn drain(&self, queue: &str) -> Vec<Value> {
        let sqs = &self.deployed.sqs;
        self.deployed.block_on(async {
            let mut out = Vec::new();
            loop {
                let got = sqs.receive_message().queue_url(queue).max_number_of_messages(10).send().await.expect("receive");
                if got.messages().is_empty() {
                    return out;
                }
                for m in got.messages() {
                    out.push(serde_json::from_str(m.body().unwrap_or_default()).unwrap_or(Value::Null));
                    if let Some(h) = m.receipt_handle() {
                        sqs.delete_message().queue_url(queue).receipt_handle(h).send().await.expect("delete message");
                    }
                }
            }
        })
    }

    /// Evidence keys: (records, digests). A record's key names the SHA-256 of its content; a
    /// record that holds a volatile string is named by the hash of its content normalized
    /// (`…/<sha256>~normalized`).
    pub fn evidence(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let (records, digests): (BTreeSet<String>, BTreeSet<String>) =
            self.deployed.keys(deployment::EVIDENCE_BUCKET, "").into_iter().partition(|k| !k.contains("/digests/"));
        if self.volatile.is_empty() {
            return (records, digests);
        }
        let records = records
            .into_iter()
            .map(|k| {
                let text = String::from_utf8_lossy(&self.deployed.get_object(deployment::EVIDENCE_BUCKET, &k)).into_owned();
                let normal = self.normalized(&text);
                if normal == text {
                    return k;
                }
                let dir = k.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                format!("{dir}/{}~normalized", driftwatch_core::evidence::sha256_hex(normal.as_bytes()))
            })
            .collect();
        (records, digests)
    }

    /// The evidence store verified with the signing key: its problems, and how many records it
    /// found pending (not covered by a digest).
    pub fn verify(&self) -> (Vec<String>, usize) {
        let client =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&self.moto.sdk_config()).force_path_style(true).build());
        let location =
            driftwatch_aws::S3Location { bucket: deployment::EVIDENCE_BUCKET.into(), prefix: format!("{}/", deployment::EVIDENCE_PREFIX) };
        let store = driftwatch_aws::S3EvidenceStore::new(client, location, driftwatch_aws::StoreOptions::default());
        let runtime = driftwatch_aws::blocking_runtime().expect("runtime");
        let store = driftwatch_aws::BlockingS3EvidenceStore::new(store, Arc::new(runtime));
        let key = driftwatch_core::evidence::Signer25519::from_text(deployment::SIGNING_KEY_HEX).expect("signing key").public();
        let report = driftwatch_core::evidence::verify(&store, "", Some(&key), None, None).expect("verify");
        (report.problems.iter().map(|p| p.to_string()).collect(), report.records_pending)
    }

    /// Index entries: `identity address`.
    pub fn index(&self) -> BTreeSet<String> {
        self.deployed
            .items(deployment::INDEX_TABLE)
            .into_iter()
            .map(|i| format!("{} {}", i["identity"].as_str().unwrap_or("?"), i["address"].as_str().unwrap_or("?")))
            .collect()
    }

    /// Report files: key → SHA-256 of the content.
    pub fn reports(&self) -> BTreeMap<String, String> {
        self.deployed
            .keys(deployment::REPORTS_BUCKET, "")
            .into_iter()
            .map(|k| {
                let bytes = self.deployed.get_object(deployment::REPORTS_BUCKET, &k);
                (k, driftwatch_core::evidence::sha256_hex(&bytes))
            })
            .collect()
    }

    /// What a run left behind.
    pub fn outcome(&self, function: Function) -> Outcome {
        let (records, digests) = self.evidence();
        let chain = if digests.is_empty() {
            Ok(())
        } else {
            match self.verify() {
                (problems, _) if !problems.is_empty() => Err(problems.join("; ")),
                (_, 0) => Ok(()),
                (_, pending) => Err(format!("{pending} record(s) not covered by a digest")),
            }
        };
        Outcome {
            findings: self.findings(),
            ledger: self.ledger(),
            evidence: records,
            sealed: !digests.is_empty(),
            chain,
            alerts: self.alerts(),
            index: if function == Function::StateWatcher { self.index() } else { BTreeSet::new() },
            reports: self.reports(),
        }
    }
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

/// What a run left behind, as compared with the fault-free run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub findings: BTreeSet<String>,
    pub ledger: BTreeSet<String>,
    /// Evidence records (not digests).
    pub evidence: BTreeSet<String>,
    /// Whether any digest was written.
    pub sealed: bool,
    /// The digest chain verifies and covers every record.
    pub chain: Result<(), String>,
    pub alerts: Vec<String>,
    pub index: BTreeSet<String>,
    pub reports: BTreeMap<String, String>,
}

impl Outcome {
    /// How `self` differs from `expected`, one line per difference.
    pub fn differences(&self, expected: &Outcome) -> Vec<String> {
        fn sets(what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>, out: &mut Vec<String>) {
            let lost: Vec<&String> = want.difference(got).collect();
            let extra: Vec<&String> = got.difference(want).collect();
            if !lost.is_empty() {
                out.push(format!("{what} lost: {lost:?}"));
            }
            if !extra.is_empty() {
                out.push(format!("{what} extra: {extra:?}"));
            }
        }
        let mut out = Vec::new();
        sets("findings", &self.findings, &expected.findings, &mut out);
        sets("ledger", &self.ledger, &expected.ledger, &mut out);
        sets("evidence", &self.evidence, &expected.evidence, &mut out);
        sets("index", &self.index, &expected.index, &mut out);
        if self.sealed != expected.sealed {
            out.push(format!("digests written: {} (fault-free: {})", self.sealed, expected.sealed));
        }
        if let Err(e) = &self.chain {
            out.push(format!("evidence chain: {e}"));
        }
        if self.alerts != expected.alerts {
            out.push(format!("alerts: {:?} (fault-free: {:?})", self.alerts, expected.alerts));
        }
        if self.reports != expected.reports {
            out.push(format!("reports: {:?} (fault-free: {:?})", self.reports, expected.reports));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios: one per function, each in a fresh world.

/// The S3 `Object Created` event (EventBridge) of a state write.
pub(crate) fn object_created(key: &str, version: &str, size: usize, time: DateTime<Utc>) -> Value {
    let mut ev = event("events/state-watcher/apply/event.json");
    ev["time"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    ev["id"] = json!(format!("state-write-{version}"));
    ev["detail"]["object"]["key"] = json!(key);
    ev["detail"]["object"]["version-id"] = json!(version);
    ev["detail"]["object"]["size"] = json!(size);
    ev["detail"]["object"].as_object_mut().expect("object").remove("etag");
    ev
}

pub(crate) fn sample_state(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(workspace_root().join("samples/states").join(name)).expect("sample state")).expect("state JSON")
}

/// The data estate without `aws_efs_file_system.dicom_scratch`.
pub(crate) fn without_dicom_scratch(state: &Value) -> Value {
    let mut s = state.clone();
    let rs = s["resources"].as_array_mut().expect("resources");
    let before = rs.len();
    rs.retain(|r| !(r.get("module").is_none() && r["type"] == "aws_efs_file_system" && r["name"] == "dicom_scratch"));
    assert_eq!(rs.len(), before - 1, "dicom_scratch in the sample");
    s
}

/// The DynamoDB lock item of `events/sweeper/stale-lock` (held since 06:00:05).
pub(crate) fn hold_stale_lock(w: &World) {
    let given = event("events/sweeper/stale-lock/00-given-lock-held.json");
    let image = &given["Records"][0]["dynamodb"]["NewImage"];
    let s = |v: &Value| aws_sdk_dynamodb::types::AttributeValue::S(v["S"].as_str().expect("string").to_string());
    w.deployed
        .block_on(
            w.deployed
                .dynamodb
                .put_item()
                .table_name(deployment::LOCK_TABLE)
                .item("LockID", s(&image["LockID"]))
                .item("Info", s(&image["Info"]))
                .send(),
        )
        .expect("put the held lock");
}

/// A function's scenario: its event and clock, after setting the world up (straight on moto).
pub(crate) struct Scenario {
    pub function: Function,
    pub case: &'static str,
    pub now: DateTime<Utc>,
}

pub(crate) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            function: Function::StateWatcher,
            case: "a push removing a resource (drift.unmanaged)",
            now: at("2026-11-20T09:10:05Z"),
        },
        Scenario {
            function: Function::TrailWatcher,
            case: "events/trail-watcher/encryption-put-bucket-encryption-aes256",
            now: at("2026-11-20T12:00:00Z"),
        },
        Scenario {
            function: Function::ConfigWatcher,
            case: "events/config-watcher/encryption-regression",
            now: at("2026-11-20T12:00:00Z"),
        },
        Scenario { function: Function::LockWatcher, case: "events/lock-watcher/force-unlock-overwritten", now: at("2026-11-20T12:05:00Z") },
        Scenario { function: Function::Sweeper, case: "events/sweeper/stale-lock", now: at("2026-11-20T09:00:00Z") },
        Scenario { function: Function::Reporter, case: "events/reporter/scheduled", now: at("2026-11-23T06:00:00Z") },
    ]
}

impl Scenario {
    /// Set the (fresh) world up; the payload to deliver.
    pub fn setup(&self, w: &mut World) -> Value {
        match self.function {
            Function::StateWatcher => {
                let key = "prod/data.tfstate";
                let mut data = sample_state("data.tfstate");
                data["serial"] = json!(200);
                let v1 = serde_json::to_vec(&data).expect("state bytes");
                let version = w.deployed.put_object(deployment::STATE_BUCKET, key, v1.clone()).expect("version");
                w.volatile.push((version.clone(), "VERSION-1".into()));
                w.invoke_direct(
                    Function::StateWatcher,
                    &object_created(key, &version, v1.len(), at("2026-11-20T09:00:00Z")),
                    at("2026-11-20T09:00:05Z"),
                );
                let mut smaller = without_dicom_scratch(&data);
                smaller["serial"] = json!(201);
                let v2 = serde_json::to_vec(&smaller).expect("state bytes");
                let version = w.deployed.put_object(deployment::STATE_BUCKET, key, v2.clone()).expect("version");
                w.volatile.push((version.clone(), "VERSION-2".into()));
                w.drain(&w.deployed.alerts_queue);
                object_created(key, &version, v2.len(), at("2026-11-20T09:10:00Z"))
            }
            Function::TrailWatcher | Function::ConfigWatcher => {
                assert!(w.deployed.seed_index() > 0);
                event(&format!("{}/event.json", self.case))
            }
            Function::LockWatcher => event(&format!("{}/event.json", self.case)),
            Function::Sweeper => {
                hold_stale_lock(w);
                event(&format!("{}/event.json", self.case))
            }
            Function::Reporter => {
                // Findings of the period to report on: a console edit seen by the trail watcher.
                assert!(w.deployed.seed_index() > 0);
                let edit = event("events/trail-watcher/console-edit/event.json");
                w.invoke_direct(Function::TrailWatcher, &edit, at("2026-11-20T12:00:00Z"));
                w.drain(&w.deployed.alerts_queue);
                event(&format!("{}/event.json", self.case))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The critical calls, named from the census.

pub(crate) struct Group {
    pub name: String,
    pub service: String,
    pub matcher: Matcher,
}

fn is_write(op: &str) -> bool {
    matches!(op, "dynamodb:PutItem" | "dynamodb:UpdateItem" | "dynamodb:DeleteItem" | "dynamodb:BatchWriteItem")
}

/// The critical calls of a fault-free census: the first call, the first DynamoDB call, the
/// findings-table, ledger and index writes, the evidence and report `PutObject`s, the
/// `Publish`es — those the census has.
pub(crate) fn groups(census: &[Call]) -> Vec<Group> {
    let findings = format!("{} ", deployment::FINDINGS_TABLE);
    let evidence = format!("{}/", deployment::EVIDENCE_BUCKET);
    let reports = format!("{}/", deployment::REPORTS_BUCKET);
    let f2 = findings.clone();
    let candidates: Vec<(String, &str, Matcher)> = vec![
        (
            "findings write".into(),
            "dynamodb",
            Arc::new(move |c: &Call| is_write(&c.op) && c.detail.starts_with(&findings) && !c.detail.contains(" ledger#")),
        ),
        (
            "ledger write".into(),
            "dynamodb",
            Arc::new(move |c: &Call| is_write(&c.op) && c.detail.starts_with(&f2) && c.detail.contains(" ledger#")),
        ),
        ("index write".into(), "dynamodb", Arc::new(|c: &Call| is_write(&c.op) && c.detail.contains(deployment::INDEX_TABLE))),
        ("evidence put".into(), "s3", Arc::new(move |c: &Call| c.op == "s3:PutObject" && c.detail.starts_with(&evidence))),
        ("report put".into(), "s3", Arc::new(move |c: &Call| c.op == "s3:PutObject" && c.detail.starts_with(&reports))),
        ("publish".into(), "sns", faults::op_is("sns:Publish")),
    ];
    let mut out = Vec::new();
    let first = census.first().expect("a census");
    out.push(Group { name: format!("first call ({})", first.op), service: first.service.clone(), matcher: faults::op_is(&first.op) });
    if let Some(d) = census.iter().find(|c| c.service == "dynamodb").filter(|d| d.op != first.op) {
        out.push(Group { name: format!("first DynamoDB call ({})", d.op), service: d.service.clone(), matcher: faults::op_is(&d.op) });
    }
    for (name, service, matcher) in candidates {
        if census.iter().any(|c| matcher(c)) {
            out.push(Group { name, service: service.into(), matcher });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running a cell.

/// When the platform retries the `n`-th delivery (0: the first): 1 minute after the first,
/// then 2, 4, … minutes more (Lambda's asynchronous retries, EventBridge's backoff).
pub(crate) fn delivery_time(now: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    now + Duration::minutes((1i64 << n) - 1)
}

/// The payload of the platform's retry: the same event, or for a Streams batch with a failed
/// record the batch from that record on.
pub(crate) fn retry_payload(payload: &Value, failed_at: Option<&str>) -> Value {
    let Some(id) = failed_at else { return payload.clone() };
    let mut p = payload.clone();
    if let Some(records) = p["Records"].as_array_mut() {
        if let Some(i) = records.iter().position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id)) {
            records.drain(..i);
        }
    }
    p
}

/// Deliver `payload` until an invocation succeeds (at most `max` invocations; the last one
/// with every rule cleared). Returns (invocations, what each ended with).
pub(crate) fn deliver(w: &World, function: Function, payload: &Value, now: DateTime<Utc>, max: u32) -> (u32, Vec<String>, bool) {
    let mut current = payload.clone();
    let mut log = Vec::new();
    for n in 0..max {
        if n + 1 == max {
            w.proxy.clear();
        }
        let ended = w.attempt(function, &current, delivery_time(now, n));
        match ended {
            Ended::Ok(_) => {
                log.push("ok".into());
                return (n + 1, log, true);
            }
            Ended::Partial(id) => {
                log.push(format!("record {id} failed"));
                current = retry_payload(&current, Some(&id));
            }
            Ended::Failed(e) => log.push(format!("failed: {}", e.chars().take(300).collect::<String>())),
            Ended::TimedOut => log.push("timed out".into()),
        }
    }
    (max, log, false)
}

/// A cell of the matrix: a fault kind and how many consecutive calls of each critical call
/// get it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Variant {
    pub fault: Fault,
    pub count: usize,
}

impl Variant {
    pub fn all() -> Vec<Variant> {
        let mut out = Vec::new();
        for fault in Fault::MATRIX {
            out.push(Variant { fault, count: 1 });
            if fault != Fault::Timeout {
                out.push(Variant { fault, count: SDK_MAX_ATTEMPTS as usize });
            }
        }
        out
    }

    pub fn name(&self) -> String {
        format!("{} ×{}", self.fault.name(), self.count)
    }
}

/// What a cell came to.
pub(crate) struct Cell {
    pub function: Function,
    pub variant: Variant,
    /// `None`: the fault applies to none of the function's critical calls.
    pub invocations: Option<u32>,
    pub injected: usize,
    pub converged: bool,
    pub differences: Vec<String>,
    pub log: Vec<String>,
    pub targets: Vec<String>,
}

impl Cell {
    pub fn ok(&self) -> bool {
        self.invocations.is_none() || (self.converged && self.differences.is_empty())
    }

    /// The outcome in words.
    pub fn outcome(&self) -> String {
        let Some(n) = self.invocations else { return "n/a".into() };
        if !self.converged {
            return format!("FAILED: no success in {n} invocations");
        }
        if !self.differences.is_empty() {
            return format!("WRONG: {}", self.differences.join("; "));
        }
        match (n, self.injected) {
            (1, 0) => "ok".into(),
            (1, f) => format!("ok after SDK retry ({f} faults)"),
            (n, f) => format!("failed→retried→ok ({n} invocations, {f} faults)"),
        }
    }

    /// The outcome in a grid cell.
    pub fn short(&self) -> String {
        let Some(n) = self.invocations else { return "n/a".into() };
        if !self.converged {
            return "FAILED".into();
        }
        if !self.differences.is_empty() {
            return "WRONG".into();
        }
        match (n, self.injected) {
            (1, 0) => "ok".into(),
            (1, f) => format!("sdk {f}f"),
            (n, f) => format!("retry {n}i {f}f"),
        }
    }
}

/// The fault-free run of a scenario through the proxy: its outcome and census.
pub(crate) fn baseline(w: &mut World, s: &Scenario) -> (Outcome, Vec<Call>) {
    w.fresh();
    let payload = s.setup(w);
    w.proxy.forget_calls();
    let (n, log, ok) = deliver(w, s.function, &payload, s.now, 1);
    assert!(ok && n == 1, "{} fault-free: {log:?}", s.function);
    let census = w.proxy.calls();
    let outcome = w.outcome(s.function);
    (outcome, census)
}

pub(crate) fn run_cell(w: &mut World, s: &Scenario, groups: &[Group], variant: Variant, expected: &Outcome) -> Cell {
    let targets: Vec<&Group> = groups.iter().filter(|g| variant.fault.applies_to(&g.service)).collect();
    let mut cell = Cell {
        function: s.function,
        variant,
        invocations: None,
        injected: 0,
        converged: true,
        differences: Vec::new(),
        log: Vec::new(),
        targets: targets.iter().map(|g| g.name.clone()).collect(),
    };
    if targets.is_empty() {
        return cell;
    }
    w.fresh();
    let payload = s.setup(w);
    for g in &targets {
        w.proxy.inject(&g.name, g.matcher.clone(), variant.fault, 1, variant.count);
    }
    let max = targets.len() as u32 + 3;
    let (n, log, converged) = deliver(w, s.function, &payload, s.now, max);
    cell.injected = w.proxy.stats().iter().map(|r| r.injected).sum();
    for r in w.proxy.stats() {
        if r.injected < r.count {
            cell.log.push(format!("{}: {} of {} faults injected ({} calls seen)", r.label, r.injected, r.count, r.seen));
        }
    }
    w.proxy.clear();
    cell.invocations = Some(n);
    cell.converged = converged;
    cell.log.splice(0..0, log);
    cell.differences = w.outcome(s.function).differences(expected);
    cell
}

/// One function's row of the matrix.
pub(crate) struct Row {
    /// Its place in [`scenarios`].
    pub order: usize,
    pub scenario: Scenario,
    /// The fault-free outcome, the census and the critical calls, in words.
    pub head: Vec<String>,
    pub cells: Vec<Cell>,
}

/// The matrix of one function: its census and its cells.
pub(crate) fn function_matrix(w: &mut World, order: usize, s: Scenario) -> Row {
    let (expected, census) = baseline(w, &s);
    assert!(!expected.evidence.is_empty(), "{}: the scenario writes evidence", s.function);
    let groups = groups(&census);
    let summary = format!(
        "{} findings, {} evidence records, {} alerts{}{}{}",
        expected.findings.len(),
        expected.evidence.len(),
        expected.alerts.len(),
        if expected.sealed { ", sealed" } else { "" },
        if expected.index.is_empty() { String::new() } else { format!(", {} index entries", expected.index.len()) },
        if expected.reports.is_empty() { String::new() } else { format!(", {} report files", expected.reports.len()) },
    );
    let critical: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let mut cells = Vec::new();
    for variant in Variant::all() {
        cells.push(run_cell(w, &s, &groups, variant, &expected));
    }
    let head = vec![
        format!("fault-free: {summary}"),
        format!("census ({} calls): {}", census.len(), faults::census_line(&census)),
        format!("critical calls: {}", critical.join(", ")),
    ];
    Row { order, scenario: s, head, cells }
}

fn render(rows: &[Row], elapsed: std::time::Duration) -> String {
    let variants = Variant::all();
    let mut md = String::from("# Fault matrix\n\n");
    md.push_str(
        "Each function's scenario through the fault proxy in front of moto; each cell: the fault on each of the function's \
         critical calls, ×1 (once each: the SDK's retry) or ×3 (on every SDK attempt: the call fails). `ok`: nothing hit; \
         `sdk Nf`: ok after the SDK's retries, N faults; `retry Ki Nf`: failed and retried by the platform, ok after K \
         invocations, N faults; `n/a`: the fault applies to none of its critical calls. After the retries every cell's findings, \
         evidence, alerts (no duplicate) and outputs equal the fault-free run's, or the cell says WRONG (FAILED: no invocation \
         succeeded). A lost reply is not injected on `Publish` (SNS sent the alert; the SDK's retry sends it again).\n\n",
    );
    md.push_str("| function |");
    for v in &variants {
        md.push_str(&format!(" {} |", v.name()));
    }
    md.push_str("\n|---|");
    for _ in &variants {
        md.push_str("---|");
    }
    md.push('\n');
    for row in rows {
        md.push_str(&format!("| {} |", row.scenario.function));
        for c in &row.cells {
            md.push_str(&format!(" {} |", c.short()));
        }
        md.push('\n');
    }
    md.push_str(&format!("\nWhole matrix: {:.1} s.\n", elapsed.as_secs_f64()));
    for row in rows {
        md.push_str(&format!("\n## {} — {}\n\n", row.scenario.function, row.scenario.case));
        for h in &row.head {
            md.push_str(&format!("* {h}\n"));
        }
        md.push('\n');
        for c in &row.cells {
            md.push_str(&format!("* {}: {}", c.variant.name(), c.outcome()));
            if !c.targets.is_empty() {
                md.push_str(&format!(" — on {}", c.targets.join(", ")));
            }
            if !c.log.is_empty() && (c.invocations.unwrap_or(0) > 1 || !c.ok()) {
                md.push_str(&format!(" — {}", c.log.join(" | ")));
            }
            md.push('\n');
        }
    }
    md
}

/// Every function × every fault kind: nothing lost, nothing duplicated.
#[test]
fn every_function_survives_every_fault_kind() {
    let started = std::time::Instant::now();
    // Two workers (two moto servers), each taking the next function.
    let queue: Arc<std::sync::Mutex<Vec<(usize, Scenario)>>> =
        Arc::new(std::sync::Mutex::new(scenarios().into_iter().enumerate().collect()));
    let results: Arc<std::sync::Mutex<Vec<Row>>> = Arc::default();
    let mut workers = Vec::new();
    for worker in 0..2 {
        let Some(mut w) = World::start(&format!("fault_matrix_{worker}")) else { return };
        let (queue, results) = (queue.clone(), results.clone());
        workers.push(std::thread::spawn(move || loop {
            let Some((i, s)) = queue.lock().expect("queue").pop() else { return };
            let t = std::time::Instant::now();
            let row = function_matrix(&mut w, i, s);
            eprintln!("fault matrix: {} done in {:.1} s", row.scenario.function, t.elapsed().as_secs_f64());
            results.lock().expect("results").push(row);
        }));
    }
    for h in workers {
        h.join().expect("a matrix worker panicked");
    }
    let mut rows = std::mem::take(&mut *results.lock().expect("results"));
    rows.sort_by_key(|r| r.order);
    let md = render(&rows, started.elapsed());
    println!("{md}");
    let path = workspace_root().join("target/test-scratch/fault-matrix.md");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("scratch dir");
    std::fs::write(&path, &md).expect("write the matrix");
    let wrong: Vec<String> = rows
        .iter()
        .flat_map(|r| r.cells.iter())
        .filter(|c| !c.ok())
        .map(|c| format!("{} × {}: {} — {}", c.function, c.variant.name(), c.outcome(), c.log.join(" | ")))
        .collect();
    assert!(wrong.is_empty(), "cells where something was lost, duplicated or never recovered:\n- {}", wrong.join("\n- "));
}

// ---------------------------------------------------------------------------------------------
// The proxy itself: the SDK works through it, and each fault reaches the SDK as AWS would send
// it.

#[test]
fn the_sdk_works_through_the_proxy_and_sees_its_faults() {
    let Some(moto) = Moto::start("fault_proxy_basics") else { return };
    let proxy = FaultProxy::start(&moto.endpoint);
    let deployed = Deployment::create(&moto);
    let sdk = proxy.sdk_config(&moto.sdk_config());
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let bucket = deployment::REPORTS_BUCKET;
    use aws_sdk_dynamodb::types::AttributeValue;
    let put_item = |fp: &str| {
        ddb.put_item()
            .table_name(deployment::EXCEPTIONS_TABLE)
            .item("id", AttributeValue::S(fp.into()))
            .item("n", AttributeValue::N("1".into()))
            .send()
    };
    deployed.block_on(async {
        // Plain traffic, several calls on the SDK's kept-alive connections.
        let body = vec![b'x'; 300_000];
        for i in 0..3 {
            s3.put_object().bucket(bucket).key(format!("k{i}")).body(body.clone().into()).send().await.expect("put through the proxy");
        }
        let got = s3.get_object().bucket(bucket).key("k1").send().await.expect("get through the proxy");
        assert_eq!(got.body.collect().await.expect("body").into_bytes().len(), body.len());
        let head = s3.head_object().bucket(bucket).key("k2").send().await.expect("head");
        assert_eq!(head.content_length(), Some(body.len() as i64));
        put_item("a").await.expect("put item through the proxy");
        let got = ddb.get_item().table_name(deployment::EXCEPTIONS_TABLE).key("id", AttributeValue::S("a".into())).send().await;
        assert!(got.expect("get item").item().is_some());
    });
    let census = faults::census_line(&proxy.calls());
    assert_eq!(census, "s3:PutObject×3, s3:GetObject, s3:HeadObject, dynamodb:PutItem, dynamodb:GetItem");
    assert!(proxy.connections() < 7, "the SDK's connections are kept alive: {} for 7 calls", proxy.connections());
    let code = |e: &dyn aws_sdk_s3::error::ProvideErrorMetadata| e.code().map(str::to_string);

    // Once: the SDK's retry absorbs it. Three times: the error reaches the caller, by its code.
    for (fault, want) in [
        (Fault::Throttling, Some("ThrottlingException")),
        (Fault::ThroughputExceeded, Some("ProvisionedThroughputExceededException")),
        (Fault::InternalError, Some("InternalServerError")),
        (Fault::ServiceUnavailable, Some("ServiceUnavailable")),
        (Fault::Reset, None),
    ] {
        proxy.clear();
        proxy.inject("put", faults::op_is("dynamodb:PutItem"), fault, 1, 1);
        deployed.block_on(put_item("b")).unwrap_or_else(|e| panic!("{fault:?} once is retried: {e:?}"));
        proxy.clear();
        proxy.inject("put", faults::op_is("dynamodb:PutItem"), fault, 1, SDK_MAX_ATTEMPTS as usize);
        let e = deployed.block_on(put_item("c")).expect_err("three faults in a row fail the call");
        assert_eq!(code(&e).as_deref(), want, "{fault:?}: {e:?}");
        assert_eq!(proxy.stats()[0].injected, SDK_MAX_ATTEMPTS as usize, "{fault:?}: the SDK attempted {SDK_MAX_ATTEMPTS} times");
    }
    for (fault, want) in [(Fault::SlowDown, Some("SlowDown")), (Fault::InternalError, Some("InternalError")), (Fault::Reset, None)] {
        proxy.clear();
        proxy.inject("put", faults::op_is("s3:PutObject"), fault, 1, SDK_MAX_ATTEMPTS as usize);
        let e = deployed.block_on(s3.put_object().bucket(bucket).key("z").body(b"z".to_vec().into()).send()).expect_err("fails");
        assert_eq!(code(&e).as_deref(), want, "{fault:?}: {e:?}");
    }
    // A timeout: the call is held until released; nothing reached moto.
    proxy.clear();
    proxy.inject("get", faults::op_is("s3:GetObject"), Fault::Timeout, 1, 1);
    let held = proxy.holds_started();
    let out = deployed.block_on(async {
        tokio::select! {
            r = s3.get_object().bucket(bucket).key("k1").send() => Err(format!("answered: {:?}", r.map(|_| ()))),
            _ = proxy.held_since(held) => Ok(()),
        }
    });
    assert_eq!(out, Ok(()));
    assert_eq!(proxy.holding(), 1);
    proxy.release();
    assert!(proxy.wait_quiet(std::time::Duration::from_millis(50), std::time::Duration::from_secs(5)));
    assert_eq!(proxy.holding(), 0);
}
