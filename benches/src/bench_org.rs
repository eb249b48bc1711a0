//! Benchmark: an AWS Organization at scale — the index of every account's states, and what
//! one CloudTrail write costs against it.
//!
//! ```text
//! cargo run --release -p driftwatch-benches --bin bench-org
//! cargo run --release -p driftwatch-benches --bin bench-org -- --accounts 100 --regions 3 --states 1000 \
//!     --instances 1000000 --events 100000 --monthly-events 10000000
//! ```
//!
//! 1. **Index.** `--states` Terraform states (default 1,000) of `--instances` / `--states`
//!    catalogued instances each (default 1,000,000 in all: S3 buckets, KMS keys, EBS volumes,
//!    security groups and DB instances as the AWS provider writes them), spread over
//!    `--accounts` × `--regions` places (default 100 × 3): each state is one account's and one
//!    region's, its ARNs name them. Each state is generated in memory, then parsed and indexed;
//!    the figures are the parse and the index build alone, and the process's RSS.
//! 2. **Events.** `--events` CloudTrail write calls (default 100,000) on resources of random
//!    states, 99 % by the pipeline and 1 % by a person in the console, through the engine's
//!    `on_signal` — index lookups, the detectors' memory, finding records, evidence and
//!    alerts — with every port in memory and counted: lookups per event, reads and writes per
//!    event, and the time per event in this process (percentiles).
//! 3. **Cost.** A month of `--monthly-events` such writes (default 10 million) at AWS list
//!    prices (us-east-1; the constants below): Lambda GB-s and requests (512 MB arm64, each
//!    event one invocation lasting the measured compute plus one DynamoDB round trip per port
//!    call), DynamoDB on-demand reads and writes, S3 evidence PUTs, cross-account EventBridge
//!    delivery and SNS alerts; beside it, what AWS Config rules cost to evaluate the same
//!    changes (a change-triggered rule per check, tiered per account and region).

#![recursion_limit = "256"]

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::evidence::PutOutcome;
use driftwatch_core::exceptions::Exceptions;
use driftwatch_core::index::{IndexEntry, ManagedIndex};
use driftwatch_core::lifecycle::FindingRecord;
use driftwatch_core::policy::{ExceptionPolicy, Policy};
use driftwatch_core::ports::{AlertSink, EvidenceWriter, ExceptionSource, FindingStore, IndexLookup, Inserted, Ledger, PortResult, Stored};
use driftwatch_core::signal::{ApiCall, Principal, Signal};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Finding, Redactor};
use driftwatch_engine::in_memory::{MemoryAlerts, MemoryEvidence, MemoryFindings, MemoryLedger};
use driftwatch_engine::Ports;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::{build_state, ms, provider_instance, rss_now};

// AWS list prices, us-east-1, December 2026 (per unit).
/// Lambda arm64, per GB-second.
const LAMBDA_GB_S: f64 = 0.000_013_333_4;
/// Lambda, per request.
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// DynamoDB on-demand, per read request unit (an item up to 4 KB, strongly consistent).
const DYNAMO_READ: f64 = 0.125 / 1e6;
/// DynamoDB on-demand, per write request unit (an item up to 1 KB; index items and finding
/// records are counted as one unit each, which undercounts large records).
const DYNAMO_WRITE: f64 = 0.625 / 1e6;
/// S3 PUT.
const S3_PUT: f64 = 0.005 / 1e3;
/// EventBridge: an event delivered to another account's bus is charged as a custom event.
const EVENTBRIDGE_CROSS_ACCOUNT: f64 = 1.00 / 1e6;
/// SNS publish.
const SNS_PUBLISH: f64 = 0.50 / 1e6;
/// AWS Config rule evaluations, tiered per account and region per month.
const CONFIG_TIERS: [(f64, f64); 3] = [(100_000.0, 0.001), (400_000.0, 0.000_8), (f64::INFINITY, 0.000_5)];
/// The functions' memory.
const LAMBDA_GB: f64 = 0.5;
/// One DynamoDB (or S3, SNS) round trip from a Lambda in the same region, as the engine makes
/// them one after another (p50 of GetItem/Query/PutItem is a few milliseconds).
const ROUND_TRIP_MS: f64 = 5.0;

const TYPES: [&str; 5] = ["aws_s3_bucket", "aws_kms_key", "aws_ebs_volume", "aws_security_group", "aws_db_instance"];
const REGIONS: [&str; 6] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "ca-central-1"];
const PIPELINE: &str = "terraform-ci";
const POLICY: &str = r#"
[pipeline]
principals = ["arn:aws:iam::*:role/terraform-ci"]
"#;

struct Args {
    accounts: usize,
    regions: usize,
    states: usize,
    instances: usize,
    events: usize,
    monthly: f64,
}

fn parse_args() -> Args {
    let mut a = Args { accounts: 100, regions: 3, states: 1000, instances: 1_000_000, events: 100_000, monthly: 10_000_000.0 };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        let n = |what: &str| -> usize {
            v.parse().unwrap_or_else(|_| {
                eprintln!("{what}: expected a number, got {v:?}");
                std::process::exit(2)
            })
        };
        match argv[i].as_str() {
            "--accounts" => a.accounts = n("--accounts"),
            "--regions" => a.regions = n("--regions").min(REGIONS.len()),
            "--states" => a.states = n("--states"),
            "--instances" => a.instances = n("--instances"),
            "--events" => a.events = n("--events"),
            "--monthly-events" => a.monthly = n("--monthly-events") as f64,
            "-h" | "--help" => {
                println!(
                    "bench-org [--accounts 100] [--regions 3] [--states 1000] [--instances 1000000] [--events 100000] [--monthly-events 10000000]\n  \
                     Indexes the states of an Organization, runs CloudTrail writes through the engine against it with every port\n  \
                     counted, and estimates a month's cost beside AWS Config rules (see the source for the prices)."
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument {other:?} (see --help)");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    if a.accounts == 0 || a.regions == 0 || a.states == 0 || a.instances < a.states || a.events == 0 {
        eprintln!("every count must be at least 1, and --instances at least --states");
        std::process::exit(2);
    }
    a
}

/// The account of place `p` (12 digits).
fn account(p: usize) -> String {
    format!("{:012}", 210_000_000_000u64 + p as u64)
}

/// State `s`'s account and region: states go round the places.
fn place_of(s: usize, a: &Args) -> (String, &'static str) {
    let p = s % (a.accounts * a.regions);
    (account(p % a.accounts), REGIONS[p / a.accounts])
}

/// State `s`: instances `s * per ..`, its ARNs and regions rewritten to its place.
fn state_text(s: usize, per: usize, a: &Args) -> String {
    let module = |r: usize, t: &str| format!("module.workload[\"team-{r:04}\"].module.{}", t.trim_start_matches("aws_"));
    let instance = |t: &str, n: usize, i: usize| provider_instance(t, s * per + n, &format!("k{i}"));
    let lineage = format!("{s:08x}-0000-4000-8000-org000000000");
    let state = build_state(&TYPES, per, module, instance, 1, &lineage);
    let (acct, region) = place_of(s, a);
    serde_json::to_string(&state).expect("state").replace("123456789012", &acct).replace("us-east-1", region)
}

/// The index in DynamoDB, as a hash map: one lookup per call, counted.
struct CountingIndex {
    by_id: HashMap<(String, String), Vec<IndexEntry>>,
    by_arn: HashMap<String, (String, String)>,
    lookups: AtomicU64,
}

impl IndexLookup for CountingIndex {
    async fn lookup(&self, config_type: &str, resource_id: &str) -> PortResult<Vec<IndexEntry>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        Ok(self.by_id.get(&(config_type.to_string(), resource_id.to_string())).cloned().unwrap_or_default())
    }
    async fn lookup_arn(&self, arn: &str) -> PortResult<Vec<IndexEntry>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        Ok(self.by_arn.get(arn).and_then(|k| self.by_id.get(k)).cloned().unwrap_or_default())
    }
}

/// Reads and writes of the other ports.
#[derive(Default)]
struct Counts {
    reads: AtomicU64,
    writes: AtomicU64,
    evidence: AtomicU64,
    alerts: AtomicU64,
}

struct OrgPorts {
    index: CountingIndex,
    ledger: Counted<MemoryLedger>,
    findings: Counted<MemoryFindings>,
    evidence: Counted<MemoryEvidence>,
    alerts: Counted<MemoryAlerts>,
    exceptions: NoExceptions,
    catalog: Catalog,
    policy: Policy,
    redactor: Redactor,
}

struct Counted<T> {
    inner: T,
    counts: std::sync::Arc<Counts>,
}

impl<T> Counted<T> {
    fn read(&self) {
        self.counts.reads.fetch_add(1, Ordering::Relaxed);
    }
    fn write(&self) {
        self.counts.writes.fetch_add(1, Ordering::Relaxed);
    }
}

impl Ledger for Counted<MemoryLedger> {
    async fn get(&self, kind: &str, key: &str) -> PortResult<Option<Value>> {
        self.read();
        self.inner.get(kind, key).await
    }
    async fn put(&self, kind: &str, key: &str, value: &Value) -> PortResult<()> {
        self.write();
        self.inner.put(kind, key, value).await
    }
    async fn delete(&self, kind: &str, key: &str) -> PortResult<()> {
        self.write();
        self.inner.delete(kind, key).await
    }
    async fn list(&self, kind: &str) -> PortResult<Vec<(String, Value)>> {
        self.read();
        self.inner.list(kind).await
    }
    async fn claim(&self, kind: &str, key: &str, owner: &str, at: DateTime<Utc>, window: chrono::Duration) -> PortResult<bool> {
        self.write();
        self.inner.claim(kind, key, owner, at, window).await
    }
    async fn advance(&self, kind: &str, key: &str, order: u64, value: &Value) -> PortResult<bool> {
        self.write();
        self.inner.advance(kind, key, order, value).await
    }
    async fn claimed(&self, kind: &str, key: &str) -> PortResult<Option<(DateTime<Utc>, String)>> {
        self.read();
        self.inner.claimed(kind, key).await
    }
}

impl FindingStore for Counted<MemoryFindings> {
    async fn get(&self, fingerprint: &str) -> PortResult<Option<Stored>> {
        self.read();
        self.inner.get(fingerprint).await
    }
    async fn put_if_new(&self, record: &FindingRecord) -> PortResult<Inserted> {
        self.write();
        self.inner.put_if_new(record).await
    }
    async fn update(&self, record: &FindingRecord, expected_version: u64) -> PortResult<u64> {
        self.write();
        self.inner.update(record, expected_version).await
    }
    async fn due(&self) -> PortResult<Vec<Stored>> {
        self.read();
        self.inner.due().await
    }
}

impl EvidenceWriter for Counted<MemoryEvidence> {
    async fn put_new(&self, key: &str, bytes: &[u8]) -> PortResult<PutOutcome> {
        self.counts.evidence.fetch_add(1, Ordering::Relaxed);
        self.inner.put_new(key, bytes).await
    }
}

impl AlertSink for Counted<MemoryAlerts> {
    async fn alert(&self, finding: &Finding) -> PortResult<String> {
        self.counts.alerts.fetch_add(1, Ordering::Relaxed);
        self.inner.alert(finding).await
    }
}

struct NoExceptions;

impl ExceptionSource for NoExceptions {
    async fn load(&self, policy: &ExceptionPolicy) -> PortResult<Exceptions> {
        Ok(Exceptions { exceptions: Vec::new(), max_days: policy.max_days })
    }
}

impl Ports for OrgPorts {
    type Index = CountingIndex;
    type Ledger = Counted<MemoryLedger>;
    type Exceptions = NoExceptions;
    type Findings = Counted<MemoryFindings>;
    type Evidence = Counted<MemoryEvidence>;
    type Alerts = Counted<MemoryAlerts>;

    fn index(&self) -> &CountingIndex {
        &self.index
    }
    fn ledger(&self) -> &Counted<MemoryLedger> {
        &self.ledger
    }
    fn exceptions(&self) -> &NoExceptions {
        &self.exceptions
    }
    fn findings(&self) -> &Counted<MemoryFindings> {
        &self.findings
    }
    fn evidence(&self) -> &Counted<MemoryEvidence> {
        &self.evidence
    }
    fn alerts(&self) -> Option<&Counted<MemoryAlerts>> {
        Some(&self.alerts)
    }
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    fn policy(&self) -> &Policy {
        &self.policy
    }
    fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

/// A deterministic pseudo-random sequence (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A write call on instance `n` (of state `s`), by the pipeline or a person in the console.
fn call(k: usize, s: usize, n: usize, console: bool, a: &Args) -> ApiCall {
    let (acct, region) = place_of(s, a);
    let t = TYPES[(n / 10) % TYPES.len()];
    let (source, name, request, response) = match t {
        "aws_s3_bucket" => ("s3.amazonaws.com", "PutBucketTagging", json!({"bucketName": format!("ehr-docs-{n:07}")}), Value::Null),
        "aws_kms_key" => ("kms.amazonaws.com", "EnableKey", json!({"keyId": format!("{n:08x}-4b1e-4c6a-9d2e-{n:012x}")}), Value::Null),
        "aws_ebs_volume" => (
            "ec2.amazonaws.com",
            "ModifyVolume",
            json!({"ModifyVolumeRequest": {"VolumeId": format!("vol-{n:017x}"), "Size": 200}}),
            Value::Null,
        ),
        "aws_security_group" => (
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            json!({"groupId": format!("sg-{n:017x}"), "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}}),
            json!({"_return": true}),
        ),
        _ => (
            "rds.amazonaws.com",
            "ModifyDBInstance",
            json!({"dBInstanceIdentifier": format!("ehr-db-{n}"), "backupRetentionPeriod": 35}),
            json!({"dBInstanceArn": format!("arn:aws:rds:{region}:{acct}:db:ehr-db-{n}")}),
        ),
    };
    let (role, session) = if console { ("AWSReservedSSO_Admin_3f1c2b", "dana@example.org") } else { (PIPELINE, "run-1") };
    ApiCall {
        event_id: format!("00000000-0000-4000-8000-{k:012}"),
        event_time: DateTime::<Utc>::from_timestamp(1_796_000_000 + k as i64, 0).expect("time"),
        event_source: source.into(),
        event_name: name.into(),
        region: Some(region.into()),
        account: Some(acct.clone()),
        read_only: Some(false),
        error_code: None,
        error_message: None,
        event_category: Some("Management".into()),
        principal: Principal {
            arn: Some(format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")),
            principal_type: Some("AssumedRole".into()),
            account: Some(acct.clone()),
            session_issuer_arn: Some(format!("arn:aws:iam::{acct}:role/{role}")),
            session_name: Some(session.into()),
            user_agent: Some(if console { "AWS Internal".into() } else { "APN/1.0 HashiCorp/1.0 Terraform/1.11.4".into() }),
            session_credential_from_console: console,
            ..Principal::default()
        },
        request_parameters: request,
        response_elements: response,
        additional_event_data: Value::Null,
        resources: Vec::new(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    ms(sorted[i])
}

/// AWS Config rule evaluations of `per_place` evaluations in each of `places` places.
fn config_rules_cost(per_place: f64, places: usize) -> f64 {
    let mut left = per_place;
    let mut cost = 0.0;
    for (size, price) in CONFIG_TIERS {
        let n = left.min(size);
        cost += n * price;
        left -= n;
        if left <= 0.0 {
            break;
        }
    }
    cost * places as f64
}

fn main() {
    let a = parse_args();
    let places = a.accounts * a.regions;
    let per = a.instances / a.states;
    println!(
        "bench-org: {} accounts × {} regions ({places} places), {} states of {per} instances ({} in all), {} events",
        a.accounts,
        a.regions,
        a.states,
        a.states * per,
        a.events
    );
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"bench-org");

    // 1. The index.
    let rss_before = rss_now();
    let (mut parse, mut bytes) = (Duration::ZERO, 0usize);
    let mut states = Vec::with_capacity(a.states);
    for s in 0..a.states {
        let text = state_text(s, per, &a);
        bytes += text.len();
        let (acct, region) = place_of(s, &a);
        let location = StateLocation::s3("org-tfstate", format!("{acct}/{region}/stack-{s:04}.tfstate"));
        let started = Instant::now();
        states.push(parse_state(text.as_bytes(), location, &catalog, &redactor).expect("state parses"));
        parse += started.elapsed();
        if (s + 1) % 100 == 0 {
            eprintln!("  {} of {} states parsed", s + 1, a.states);
        }
    }
    let started = Instant::now();
    let index = ManagedIndex::build(states, &catalog);
    let build = started.elapsed();
    let rss_index = rss_now().saturating_sub(rss_before);
    let entries = index.entries().len();
    println!(
        "index: {entries} entries from {:.0} MB of state: parse {:.2} s ({:.1} µs/instance), build {:.2} s; RSS {:.0} MB",
        bytes as f64 / 1e6,
        parse.as_secs_f64(),
        parse.as_secs_f64() * 1e6 / (a.states * per) as f64,
        build.as_secs_f64(),
        rss_index as f64 / 1e6
    );

    // 2. The events, through the engine, against the index as DynamoDB would hold it.
    let mut by_id: HashMap<(String, String), Vec<IndexEntry>> = HashMap::with_capacity(entries);
    let mut by_arn = HashMap::with_capacity(entries);
    for e in index.entries() {
        if let Some(arn) = &e.arn {
            by_arn.insert(arn.clone(), (e.config_type.clone(), e.resource_id.clone()));
        }
        by_id.entry((e.config_type.clone(), e.resource_id.clone())).or_default().push(e.clone());
    }
    drop(index);
    let counts = std::sync::Arc::new(Counts::default());
    let ports = OrgPorts {
        index: CountingIndex { by_id, by_arn, lookups: AtomicU64::new(0) },
        ledger: Counted { inner: MemoryLedger::default(), counts: counts.clone() },
        findings: Counted { inner: MemoryFindings::default(), counts: counts.clone() },
        evidence: Counted { inner: MemoryEvidence::default(), counts: counts.clone() },
        alerts: Counted { inner: MemoryAlerts::default(), counts: counts.clone() },
        exceptions: NoExceptions,
        catalog: Catalog::builtin(),
        policy: Policy::from_toml(POLICY).expect("policy"),
        redactor: Redactor::new(b"bench-org"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut times = Vec::with_capacity(a.events);
    let (mut findings, mut console_events, mut max_lookups) = (0usize, 0usize, 0u64);
    let now = DateTime::<Utc>::from_timestamp(1_797_000_000, 0).expect("now");
    for k in 0..a.events {
        let s = rng.below(a.states);
        let n = s * per + rng.below(per);
        let console = k % 100 == 37;
        console_events += usize::from(console);
        let signal = Signal::ApiCall(Box::new(call(k, s, n, console, &a)));
        let before = ports.index.lookups.load(Ordering::Relaxed);
        let started = Instant::now();
        let (found, _) = rt.block_on(driftwatch_engine::on_signal(&ports, &signal, now, now)).expect("on_signal");
        times.push(started.elapsed());
        max_lookups = max_lookups.max(ports.index.lookups.load(Ordering::Relaxed) - before);
        findings += found.len();
    }
    times.sort();
    let e = a.events as f64;
    let per_event = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / e;
    let (lookups, reads, writes) = (per_event(&ports.index.lookups), per_event(&counts.reads), per_event(&counts.writes));
    let (evidence, alerts) = (per_event(&counts.evidence), per_event(&counts.alerts));
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e3 / e;
    println!("events: {} ({console_events} by a person in the console): {findings} findings, {:.0} alerts", a.events, alerts * e);
    println!("  per event: {lookups:.2} index lookups (at most {max_lookups}), {reads:.2} other reads, {writes:.2} writes, {evidence:.3} evidence objects, {alerts:.3} alerts");
    println!(
        "  compute per event (this process, every port in memory): mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        ms(*times.last().expect("an event"))
    );
    let round_trips = lookups + reads + writes + evidence + alerts;
    let latency = mean + round_trips * ROUND_TRIP_MS;
    println!("  per-event latency in Lambda (compute + {round_trips:.2} round trips × {ROUND_TRIP_MS} ms): {latency:.1} ms");

    // 3. A month.
    let m = a.monthly;
    let billed_ms = latency.ceil();
    let lambda = m * (billed_ms / 1000.0 * LAMBDA_GB * LAMBDA_GB_S + LAMBDA_REQUEST);
    let dynamo = m * ((lookups + reads) * DYNAMO_READ + writes * DYNAMO_WRITE);
    let s3 = m * evidence * S3_PUT;
    let cross = m * (a.accounts.saturating_sub(1)) as f64 / a.accounts as f64;
    let eventbridge = cross * EVENTBRIDGE_CROSS_ACCOUNT;
    let sns = m * alerts * SNS_PUBLISH;
    let total = lambda + dynamo + s3 + eventbridge + sns;
    println!("month of {:.0} million CloudTrail writes (list prices, us-east-1):", m / 1e6);
    println!(
        "  Lambda     ${lambda:>10.2}  ({:.0} GB-s at {billed_ms:.0} ms × {LAMBDA_GB} GB, {:.0} M requests)",
        m * billed_ms / 1000.0 * LAMBDA_GB,
        m / 1e6
    );
    println!("  DynamoDB   ${dynamo:>10.2}  ({:.1} M reads, {:.1} M writes, on demand)", m * (lookups + reads) / 1e6, m * writes / 1e6);
    println!("  S3         ${s3:>10.2}  ({:.0} evidence PUTs)", m * evidence);
    println!("  EventBridge ${eventbridge:>9.2}  ({:.1} M events from member accounts to the watcher's bus)", cross / 1e6);
    println!("  SNS        ${sns:>10.2}  ({:.0} alerts)", m * alerts);
    println!("  driftwatch ${total:>10.2} a month");
    let per_place = m / places as f64;
    let one_rule = config_rules_cost(per_place, places);
    let controls = driftwatch_core::detect::controls::Controls::builtin();
    let checks: f64 = TYPES
        .iter()
        .map(|t| {
            let config_type = catalog.rows().iter().find(|r| r.terraform_type == *t).map(|r| r.config_type.as_str()).unwrap_or_default();
            1.0 + controls.rows_of_type(config_type) as f64
        })
        .sum::<f64>()
        / TYPES.len() as f64;
    let rules = config_rules_cost(per_place * checks, places);
    println!("AWS Config rules for the same changes ({places} accounts × regions, {:.0} evaluations each a month per rule):", per_place);
    println!("  one rule   ${one_rule:>10.2} a month");
    println!(
        "  {checks:.1} rules  ${rules:>10.2} a month  (drift plus the control rows driftwatch checks on these types, one rule each; configuration items not counted, for either)"
    );
}
