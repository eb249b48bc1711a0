//! Benchmark: replay CloudTrail log files through decode → detectors.
//!
//! ```text
//! cargo run --release -p driftwatch-benches --bin bench-replay                 # generate (once) + measure
//! cargo run --release -p driftwatch-benches --bin bench-replay -- --records 1000000 --runs 3
//! ```
//!
//! Generates (once) `benches/data/cloudtrail-<N>/`: CloudTrail log files as CloudTrail
//! delivers them (gzip, `{"Records":[...]}`, 5,000 records a file), built from the events/
//! shapes — about 70% read-only calls (Describe/Get/List, KMS Decrypt/GenerateDataKey, S3
//! GetObject data events, AssumeRole), the rest writes: Terraform's pipeline applying changes to
//! managed resources, AWS services acting for someone, application data events (S3 PutObject,
//! DynamoDB PutItem), failed calls, and a few people changing managed resources by hand (console
//! and CLI: the findings). Every record names a resource of the 50,000-instance state of
//! `bench-state` (generated too, if missing).
//!
//! Then, in a fresh child process pinned to one core, it builds the index from that state and
//! replays the files with `driftwatch_decode::replay` (read, gunzip, decode, detect, merge
//! findings), reporting records/s over the replay alone, and peak RSS (wait4 rusage) for the
//! first 100,000 records and for all of them: streaming keeps memory independent of the input.

#![recursion_limit = "256"]

use chrono::{DateTime, Utc};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::state::{StateLocation, StateReader};
use driftwatch_core::{Catalog, Redactor};
use driftwatch_engine::replay::Replay;
use driftwatch_local::events::{self as replay, FileVersions};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{generate, ms, rss_now, run_child};

const INSTANCES: usize = 50_000;
const PER_FILE: usize = 5_000;
const POLICY: &str = r#"
[pipeline]
principals = ["arn:aws:iam::123456789012:role/terraform-ci"]
session_names = ["GitHubActions"]
[state]
buckets = ["stmarys-ehr-tfstate"]
lock_tables = ["stmarys-terraform-locks"]
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("measure") => {
            let (Some(state), Some(dir), Some(files)) = (args.get(2), args.get(3), args.get(4).and_then(|s| s.parse().ok())) else {
                eprintln!("usage: bench-replay measure STATE DIR FILES");
                std::process::exit(2);
            };
            measure(Path::new(state), Path::new(dir), files);
            return;
        }
        Some("generate") => {
            let (Some(dir), Some(n)) = (args.get(2), args.get(3).and_then(|s| s.parse().ok())) else {
                eprintln!("usage: bench-replay generate DIR RECORDS");
                std::process::exit(2);
            };
            generate_logs(Path::new(dir), n);
            return;
        }
        _ => {}
    }
    let mut records = 1_000_000usize;
    let mut runs = 3usize;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--records" => records = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(records),
            "--runs" => runs = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(runs),
            "-h" | "--help" => {
                println!("bench-replay [--records N] [--runs R]\n  Generates N CloudTrail records in gzip log files and replays them against a 50,000-instance index,\n  reporting records/s on one core and peak RSS for 100,000 records and for N.");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::create_dir_all(&data).expect("create benches/data");
    let exe = std::env::current_exe().expect("current exe");
    let state = data.join(format!("state-{INSTANCES}.tfstate"));
    if !state.exists() {
        eprintln!("generating {} ...", state.display());
        generate(&state, INSTANCES);
    }
    let dir = data.join(format!("cloudtrail-{records}"));
    if !dir.join("complete").exists() {
        eprintln!("generating {records} CloudTrail records in {} ...", dir.display());
        let ok = Command::new(&exe).arg("generate").arg(&dir).arg(records.to_string()).status().is_ok_and(|s| s.success());
        assert!(ok, "generation failed");
    }
    let files = replay::event_files(&dir).expect("log files").len();
    let (gz, raw) = sizes(&dir);
    println!(
        "CloudTrail log files: {} ({files} files, {records} records, {:.1} MB gzip, {:.1} MB JSON, {:.0} bytes/record)",
        dir.display(),
        gz as f64 / 1e6,
        raw as f64 / 1e6,
        raw as f64 / records as f64
    );
    println!("index: {} ({INSTANCES} instances)\n", state.display());
    let small = (100_000 / PER_FILE).min(files);
    println!(
        "{:<26} {:>9} {:>10} {:>12} {:>12} {:>14} {:>14}",
        "run", "records", "wall ms", "records/s", "peak RSS MB", "RSS index MB", "RSS after MB"
    );
    let mut results: Vec<(usize, f64, u64, u64)> = Vec::new();
    for r in 0..runs {
        for n_files in [small, files] {
            let (_, _, rss, out) = run_child(Command::new(&exe).arg("measure").arg(&state).arg(&dir).arg(n_files.to_string()));
            let line = out.lines().find(|l| l.starts_with("RESULT ")).unwrap_or_default().to_string();
            let f: Vec<&str> = line.split_whitespace().collect();
            let (recs, replay_ms): (usize, f64) =
                (f.get(1).and_then(|s| s.parse().ok()).unwrap_or(0), f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0.0));
            let (rss_index, rss_end): (u64, u64) =
                (f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0), f.get(4).and_then(|s| s.parse().ok()).unwrap_or(0));
            let rate = recs as f64 / (replay_ms / 1000.0);
            println!(
                "{:<26} {:>9} {:>10.0} {:>12.0} {:>12.1} {:>14.1} {:>14.1}",
                format!("replay #{} ({} files)", r + 1, n_files),
                recs,
                replay_ms,
                rate,
                rss as f64 / 1e6,
                rss_index as f64 / 1e6,
                rss_end as f64 / 1e6
            );
            if r == 0 && n_files == files {
                for l in out.lines().filter(|l| l.starts_with("  ")) {
                    println!("{l}");
                }
            }
            results.push((recs, rate, rss, rss_end.saturating_sub(rss_index)));
        }
    }
    let median = |recs: usize| {
        let mut v: Vec<(f64, u64, u64)> = results.iter().filter(|r| r.0 == recs).map(|r| (r.1, r.2, r.3)).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v.get(v.len() / 2).copied()
    };
    let all: usize = results.iter().map(|r| r.0).max().unwrap_or(0);
    let few: usize = results.iter().map(|r| r.0).min().unwrap_or(0);
    if let (Some((rate, rss, grow)), Some((_, rss_small, grow_small))) = (median(all), median(few)) {
        println!(
            "\nmedian: {rate:.0} records/s on one core over {all} records [target >= 200000]; peak RSS {:.1} MB for {few} records, {:.1} MB for {all} records; replay adds {:.1} MB / {:.1} MB to the indexed process",
            rss_small as f64 / 1e6,
            rss as f64 / 1e6,
            grow_small as f64 / 1e6,
            grow as f64 / 1e6
        );
    }
}

fn sizes(dir: &Path) -> (u64, u64) {
    let mut gz = 0;
    for f in replay::event_files(dir).unwrap_or_default() {
        gz += std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
    }
    let raw = std::fs::read_to_string(dir.join("complete")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    (gz, raw)
}

/// In the child: index the state, then replay the first `n_files` log files.
fn measure(state: &Path, dir: &Path, n_files: usize) {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"bench");
    let policy = Policy::from_toml(POLICY).expect("policy");
    let t0 = Instant::now();
    // The state read as the state-watcher reads it: in pieces, into the index.
    let location = StateLocation::local(state.display().to_string());
    let mut index = ManagedIndex::default();
    {
        let reader = StateReader::new(location.clone(), &catalog, &redactor);
        let mut indexer = index.indexer(location, &catalog);
        let (header, _) = common::read_in_pieces(state, reader, &mut |i| indexer.add(i));
        indexer.finish(&header);
    }
    let t_index = t0.elapsed();
    let rss_index = rss_now();
    let files: Vec<PathBuf> = replay::event_files(dir).expect("files").into_iter().take(n_files).collect();
    let now: DateTime<Utc> = "2026-11-21T00:00:00Z".parse().expect("now");
    let mut rep = Replay::new(
        driftwatch_core::detect::Context { index: &index, catalog: &catalog, policy: &policy, redactor: &redactor, now },
        Some(now),
    );
    let t1 = Instant::now();
    let mut t_read = Duration::ZERO;
    for f in &files {
        let r0 = Instant::now();
        let plain = replay::read_file(f).expect("read log file");
        t_read += r0.elapsed();
        let versions = FileVersions { dir: dir.to_path_buf() };
        rep.feed_bytes(&plain, &f.display().to_string(), false, &versions, &mut |_| {});
    }
    let (findings, stats, _) = rep.finish();
    let t_replay = t1.elapsed();
    // The same files decoded only (no detectors), for the split.
    let decoder = driftwatch_decode::Decoder::new(&policy, &redactor);
    let mut t_decode = Duration::ZERO;
    for f in &files {
        let plain = replay::read_file(f).expect("read log file");
        let d0 = Instant::now();
        decoder.document(&plain, "x", &mut |d| drop(d));
        t_decode += d0.elapsed();
    }
    let d = stats.decode;
    let rss_end = rss_now();
    println!("RESULT {} {:.1} {} {}", d.records, ms(t_replay), rss_index, rss_end);
    println!(
        "  index {:.0} ms ({} entries); replay {:.0} ms = read+gunzip {:.0} ms + decode+detect {:.0} ms (decode alone: {:.0} ms)",
        ms(t_index),
        index.len(),
        ms(t_replay),
        ms(t_read),
        ms(t_replay - t_read),
        ms(t_decode)
    );
    println!(
        "  {} records: {} read-only skipped, {} signals, {} ignored, {} invalid; {} findings ({} before merging by fingerprint)",
        d.records,
        d.read_only,
        d.signals,
        d.ignored,
        d.invalid,
        findings.len(),
        stats.raw_findings
    );
}

// ---------------------------------------------------------------- generator

const ACCT: &str = "123456789012";
const TYPES: [&str; 10] = [
    "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_kms_key",
    "aws_db_instance",
    "aws_ebs_volume",
    "aws_security_group",
    "aws_iam_role",
    "aws_lambda_function",
    "aws_sqs_queue",
    "aws_cloudwatch_log_group",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// A managed instance number of the given type (see `common::generate`: resources of 10
/// instances, types in turn).
fn instance_of(rng: &mut Rng, type_index: usize, pool: u64) -> usize {
    let groups = (INSTANCES / 10 / TYPES.len()) as u64;
    let g = rng.below(groups.min(pool).max(1)) as usize;
    (g * TYPES.len() + type_index) * 10 + rng.below(10) as usize
}

struct Who {
    identity: Value,
    ip: &'static str,
    ua: &'static str,
    console: bool,
}

fn pipeline() -> Who {
    Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAR7E5CI0PIPELINE01:GitHubActions", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/terraform-ci/GitHubActions"),
            "accountId": ACCT, "accessKeyId": "ASIAR7E5CIEXAMPLE001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAR7E5CI0PIPELINE01", "arn": format!("arn:aws:iam::{ACCT}:role/terraform-ci"), "accountId": ACCT, "userName": "terraform-ci"},
                "webIdFederationData": {}, "attributes": {"creationDate": "2026-11-20T08:58:40Z", "mfaAuthenticated": "false"}}}),
        ip: "20.42.10.5",
        ua: "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.3",
        console: false,
    }
}

fn app() -> Who {
    Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAR7E5APPLAMBDA001:ehr-fhir-api", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/ehr-prod-fhir-api-lambda/ehr-fhir-api"),
            "accountId": ACCT, "accessKeyId": "ASIAR7E5APPEXAMPLE01",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAR7E5APPLAMBDA001", "arn": format!("arn:aws:iam::{ACCT}:role/ehr-prod-fhir-api-lambda"), "accountId": ACCT, "userName": "ehr-prod-fhir-api-lambda"},
                "attributes": {"creationDate": "2026-11-20T08:00:00Z", "mfaAuthenticated": "false"}}}),
        ip: "10.20.3.41",
        ua: "aws-sdk-rust/1.3.9 os/linux lang/rust/1.95.0",
        console: false,
    }
}

fn service() -> Who {
    Who {
        identity: json!({"type": "AssumedRole", "principalId": "AROAR7E5ASGSERVICE01:AutoScaling", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling"),
            "accountId": ACCT, "invokedBy": "autoscaling.amazonaws.com",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAR7E5ASGSERVICE01", "arn": format!("arn:aws:iam::{ACCT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"), "accountId": ACCT, "userName": "AWSServiceRoleForAutoScaling"},
                "attributes": {"creationDate": "2026-11-20T08:00:00Z", "mfaAuthenticated": "false"}}}),
        ip: "autoscaling.amazonaws.com",
        ua: "autoscaling.amazonaws.com",
        console: false,
    }
}

fn human(console: bool) -> Who {
    if console {
        Who {
            identity: json!({"type": "AssumedRole", "principalId": "AROAR7E5SSOADMIN0001:jane.doe@stmarys.org",
                "arn": format!("arn:aws:sts::{ACCT}:assumed-role/AWSReservedSSO_AWSAdministratorAccess_5f2b0e7d1c9a3b48/jane.doe@stmarys.org"), "accountId": ACCT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAR7E5SSOADMIN0001", "arn": format!("arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AWSAdministratorAccess_5f2b0e7d1c9a3b48"), "accountId": ACCT, "userName": "AWSReservedSSO_AWSAdministratorAccess_5f2b0e7d1c9a3b48"},
                    "webIdFederationData": {}, "attributes": {"creationDate": "2026-11-20T09:02:11Z", "mfaAuthenticated": "false"}}}),
            ip: "198.51.100.23",
            ua: "AWS Internal",
            console: true,
        }
    } else {
        Who {
            identity: json!({"type": "AssumedRole", "principalId": "AROAR7E5PLATADMIN001:raj.patel", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/PlatformAdmin/raj.patel"), "accountId": ACCT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAR7E5PLATADMIN001", "arn": format!("arn:aws:iam::{ACCT}:role/PlatformAdmin"), "accountId": ACCT, "userName": "PlatformAdmin"},
                    "webIdFederationData": {}, "attributes": {"creationDate": "2026-11-20T08:41:07Z", "mfaAuthenticated": "true"}}}),
            ip: "203.0.113.77",
            ua: "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard",
            console: false,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    i: usize,
    t: u64,
    who: &Who,
    source: &str,
    name: &str,
    params: Value,
    response: Value,
    read_only: bool,
    data: bool,
    error: Option<(&str, &str)>,
) -> Value {
    let secs = 1_795_132_800 + t; // 2026-11-20T00:00:00Z + t
    let time = DateTime::from_timestamp(secs as i64, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut r = json!({
        "eventVersion": "1.10", "userIdentity": who.identity, "eventTime": time, "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": who.ip, "userAgent": who.ua,
    });
    let m = r.as_object_mut().expect("object");
    if let Some((code, msg)) = error {
        m.insert("errorCode".into(), json!(code));
        m.insert("errorMessage".into(), json!(msg));
    }
    m.insert("requestParameters".into(), params);
    m.insert("responseElements".into(), response);
    m.insert("requestID".into(), json!(format!("{:016X}", i as u64 * 2_654_435_761 % (1 << 63))));
    m.insert("eventID".into(), json!(format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", i, i % 65_536, i % 4096, (i / 7) % 4096, i * 31)));
    m.insert("readOnly".into(), json!(read_only));
    m.insert("eventType".into(), json!("AwsApiCall"));
    m.insert("managementEvent".into(), json!(!data));
    m.insert("recipientAccountId".into(), json!(ACCT));
    m.insert("eventCategory".into(), json!(if data { "Data" } else { "Management" }));
    m.insert("tlsDetails".into(), json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("{}.us-east-1.amazonaws.com", source.split('.').next().unwrap_or("api"))}));
    if who.console {
        m.insert("sessionCredentialFromConsole".into(), json!("true"));
    }
    r
}

fn gen_record(i: usize, rng: &mut Rng) -> Value {
    let t = (i as u64) / 12; // ~12 records a second over the day
    let roll = rng.below(1000);
    if roll < 700 {
        // read-only: 70%
        let ty = rng.below(10) as usize;
        let n = instance_of(rng, ty, u64::MAX);
        let who = if rng.below(3) == 0 { pipeline() } else { app() };
        return match rng.below(6) {
            0 => record(
                i,
                t,
                &who,
                "ec2.amazonaws.com",
                "DescribeSecurityGroups",
                json!({"securityGroupIdSet": {"items": [{"groupId": format!("aws_security_group-{n:07}")}]}, "filterSet": {}}),
                Value::Null,
                true,
                false,
                None,
            ),
            1 => record(
                i,
                t,
                &who,
                "kms.amazonaws.com",
                "Decrypt",
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:lambda:FunctionArn": format!("arn:aws:lambda:us-east-1:{ACCT}:function:fn-{n}")}}),
                Value::Null,
                true,
                false,
                None,
            ),
            2 => record(
                i,
                t,
                &who,
                "s3.amazonaws.com",
                "GetObject",
                json!({"bucketName": format!("bucket-{n}"), "Host": format!("bucket-{n}.s3.us-east-1.amazonaws.com"), "key": format!("studies/2026/11/20/{:08x}.dcm", rng.next() as u32)}),
                Value::Null,
                true,
                true,
                None,
            ),
            3 => record(
                i,
                t,
                &who,
                "sts.amazonaws.com",
                "AssumeRole",
                json!({"roleArn": format!("arn:aws:iam::{ACCT}:role/ehr-prod-fhir-api-lambda"), "roleSessionName": "ehr-fhir-api", "durationSeconds": 3600}),
                json!({"credentials": {"accessKeyId": "ASIAR7E5EXAMPLEKEY01", "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE", "expiration": "Nov 20, 2026, 10:00:00 AM"}, "assumedRoleUser": {"assumedRoleId": "AROAR7E5APPLAMBDA001:ehr-fhir-api", "arn": format!("arn:aws:sts::{ACCT}:assumed-role/ehr-prod-fhir-api-lambda/ehr-fhir-api")}}),
                true,
                false,
                None,
            ),
            4 => record(
                i,
                t,
                &who,
                "s3.amazonaws.com",
                "GetBucketEncryption",
                json!({"bucketName": format!("bucket-{n}"), "Host": format!("bucket-{n}.s3.amazonaws.com"), "encryption": ""}),
                Value::Null,
                true,
                false,
                None,
            ),
            _ => record(
                i,
                t,
                &who,
                "kms.amazonaws.com",
                "GenerateDataKey",
                json!({"keyId": format!("arn:aws:kms:us-east-1:{ACCT}:key/{n:08}-aaaa-bbbb-cccc-dddddddddddd"), "keySpec": "AES_256"}),
                Value::Null,
                true,
                false,
                None,
            ),
        };
    }
    // writes: 30%
    let (who, pool) = match roll {
        700..=979 => (if roll < 930 { pipeline() } else { service() }, u64::MAX),
        980..=989 => (pipeline(), u64::MAX),     // failed below
        _ => (human(roll.is_multiple_of(2)), 2), // 1%: people, on a few resources
    };
    let by_hand = roll >= 990;
    let error = (980..990).contains(&roll).then_some(("AccessDenied", "User is not authorized to perform this operation"));
    match rng.below(8) {
        0 => {
            let n = instance_of(rng, 0, pool);
            record(
                i,
                t,
                &who,
                "s3.amazonaws.com",
                "PutBucketTagging",
                json!({"bucketName": format!("bucket-{n}"), "Host": format!("bucket-{n}.s3.amazonaws.com"), "tagging": "",
                "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": "Name", "Value": format!("bucket-{n}")}, {"Key": "service", "Value": format!("svc-{}", n / 100)}]}}}),
                Value::Null,
                false,
                false,
                error,
            )
        }
        1 => {
            let n = instance_of(rng, 1, pool);
            let alg = if by_hand && rng.below(4) == 0 { "AES256" } else { "aws:kms" };
            record(
                i,
                t,
                &who,
                "s3.amazonaws.com",
                "PutBucketEncryption",
                json!({"bucketName": format!("bucket-{n}"), "Host": format!("bucket-{n}.s3.amazonaws.com"), "encryption": "",
                "ServerSideEncryptionConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": alg, "KMSMasterKeyID": format!("arn:aws:kms:us-east-1:{ACCT}:key/{n:08}")}, "BucketKeyEnabled": true}}}),
                Value::Null,
                false,
                false,
                error,
            )
        }
        2 => {
            let n = instance_of(rng, 2, pool);
            let name = if by_hand && rng.below(3) == 0 { "DisableKeyRotation" } else { "TagResource" };
            record(
                i,
                t,
                &who,
                "kms.amazonaws.com",
                name,
                json!({"keyId": format!("{n:08}-aaaa-bbbb-cccc-dddddddddddd"), "tags": [{"tagKey": "service", "tagValue": format!("svc-{}", n / 100)}]}),
                Value::Null,
                false,
                false,
                error,
            )
        }
        3 => {
            let n = instance_of(rng, 5, pool);
            record(
                i,
                t,
                &who,
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": format!("aws_security_group-{n:07}"),
                "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16", "description": "https"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
                json!({"requestId": format!("{:08x}-0000-4000-8000-000000000000", i), "_return": true}),
                false,
                false,
                error,
            )
        }
        4 => {
            let n = instance_of(rng, 7, pool);
            record(
                i,
                t,
                &who,
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2",
                json!({"functionName": format!("fn-{n}"), "timeout": 30, "memorySize": 1024,
                "environment": {"variables": {"LOG_LEVEL": "info", "API_TOKEN": "tok-redacted-by-driftwatch"}}}),
                json!({"functionName": format!("fn-{n}"), "functionArn": format!("arn:aws:lambda:us-east-1:{ACCT}:function:fn-{n}"), "runtime": "provided.al2023", "timeout": 30, "memorySize": 1024, "state": "Active", "lastUpdateStatus": "InProgress"}),
                false,
                false,
                error,
            )
        }
        5 => {
            let n = instance_of(rng, 9, pool);
            record(
                i,
                t,
                &who,
                "logs.amazonaws.com",
                "PutRetentionPolicy",
                json!({"logGroupName": format!("/aws/lambda/fn-{n}"), "retentionInDays": 365}),
                Value::Null,
                false,
                false,
                error,
            )
        }
        6 => {
            let n = instance_of(rng, 0, u64::MAX);
            record(
                i,
                t,
                &app(),
                "s3.amazonaws.com",
                "PutObject",
                json!({"bucketName": format!("bucket-{n}"), "Host": format!("bucket-{n}.s3.us-east-1.amazonaws.com"), "key": format!("studies/2026/11/20/{:08x}.dcm", rng.next() as u32), "x-amz-server-side-encryption": "aws:kms"}),
                json!({"x-amz-server-side-encryption": "aws:kms", "x-amz-version-id": format!("{:032x}", rng.next()), "ETag": format!("{:032x}", rng.next())}),
                false,
                true,
                None,
            )
        }
        _ => {
            let table = *rng.pick(&["ehr-prod-consent-records", "ehr-prod-patient-index", "ehr-prod-session-audit"]);
            record(
                i,
                t,
                &app(),
                "dynamodb.amazonaws.com",
                "PutItem",
                json!({"tableName": table, "key": {"pk": format!("PATIENT#{:08}", rng.below(10_000_000))}, "item": ["pk", "sk", "payload"], "returnConsumedCapacity": "NONE"}),
                Value::Null,
                false,
                true,
                None,
            )
        }
    }
}

fn generate_logs(dir: &Path, records: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create dir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut raw_total = 0u64;
    let mut i = 0usize;
    let mut file = 0usize;
    while i < records {
        let n = PER_FILE.min(records - i);
        let mut text = Vec::with_capacity(n * 1600);
        text.extend_from_slice(b"{\"Records\":[");
        for k in 0..n {
            if k > 0 {
                text.push(b',');
            }
            serde_json::to_writer(&mut text, &gen_record(i + k, &mut rng)).expect("serialize");
        }
        text.extend_from_slice(b"]}");
        raw_total += text.len() as u64;
        let minute = file * 5;
        let name = format!("{ACCT}_CloudTrail_us-east-1_20261120T{:02}{:02}Z_{:016x}.json.gz", (minute / 60) % 24, minute % 60, rng.next());
        let name = format!("{file:05}-{name}");
        let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(dir.join(name)).expect("create"), flate2::Compression::default());
        gz.write_all(&text).expect("write");
        gz.finish().expect("finish");
        i += n;
        file += 1;
    }
    std::fs::write(dir.join("complete"), format!("{raw_total}\n")).expect("marker");
}
