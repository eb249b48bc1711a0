//! Benchmark: sealing and verifying evidence in the local directory store.
//!
//! ```text
//! cargo run --release -p driftwatch-benches --bin bench-evidence -- --records 100000
//! ```
//!
//! Writes N finding-shaped records (content-addressed, write-once files) into a fresh
//! directory under `benches/data/`, seals them into one signed digest, then verifies the whole
//! store (every hash recomputed, chain walked, signature checked). Prints records/s for each
//! phase. Single-threaded.

#![recursion_limit = "256"]

use chrono::{TimeZone, Utc};
use driftwatch::evidence::LocalStore;
use driftwatch_core::evidence::{self, Record, Signer25519};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut records = 100_000usize;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--records" => records = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(records),
            "-h" | "--help" => {
                println!("bench-evidence [--records N]\n  Writes N records to a local evidence store, seals them, verifies the store; prints records/s.");
                return;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(format!("evidence-{records}"));
    if dir.exists() {
        // Files are read-only (write-once); make them writable again to clean up.
        let _ = std::process::Command::new("chmod").arg("-R").arg("u+w").arg(&dir).status();
        std::fs::remove_dir_all(&dir).expect("clean previous run");
    }
    let mut store = LocalStore::open(&dir).expect("open store");
    let day = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let signer = Signer25519::from_seed([42; 32]);

    let t0 = Instant::now();
    for n in 0..records {
        let r = Record {
            kind: "finding".into(),
            time: day,
            body: json!({
                "rule": "drift.changed", "severity": "high", "fingerprint": format!("{n:032x}"),
                "resource": {"type": "AWS::S3::Bucket", "id": format!("bucket-{n}"), "address": format!("module.m[\"k{n}\"].aws_s3_bucket.this")},
                "changes": [{"path": "versioning_configuration[0].status", "desired": "Enabled", "actual": "Suspended"}],
                "controls": ["HIPAA 164.308(a)(7)(ii)(A)", "NIST CP-9"]
            }),
        };
        evidence::write_record(&mut store, "", &r, day).expect("write");
    }
    let write = t0.elapsed();
    let t1 = Instant::now();
    let sealed = evidence::seal(&mut store, "", &signer, day + chrono::Duration::days(1)).expect("seal");
    let seal = t1.elapsed();
    let t2 = Instant::now();
    let report = evidence::verify(&store, "", Some(&signer.public()), None, None).expect("verify");
    let verify = t2.elapsed();
    assert!(report.ok(), "{:?}", &report.problems[..report.problems.len().min(5)]);
    assert_eq!(report.records_verified, records);
    let rate = |d: std::time::Duration| records as f64 / d.as_secs_f64();
    println!("{records} records, 1 digest ({} entries)", sealed.records);
    println!("write  {:>8.0} ms  {:>10.0} records/s", write.as_secs_f64() * 1e3, rate(write));
    println!("seal   {:>8.0} ms  {:>10.0} records/s", seal.as_secs_f64() * 1e3, rate(seal));
    println!("verify {:>8.0} ms  {:>10.0} records/s", verify.as_secs_f64() * 1e3, rate(verify));
}
