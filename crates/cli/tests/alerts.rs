//! `--format asff` on scan and replay, and the `driftwatch alerts` preview.

use crate::support;
use support::*;

use serde_json::Value;

const SECRETS: [&str; 4] = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];

#[test]
fn scan_format_asff_prints_a_batch_import_body() {
    let out = scan_samples(&["--now", "2026-11-22T12:00:00Z", "--format", "asff", "--account", "210987654321"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let list = v["Findings"].as_array().expect("Findings");
    assert_eq!(list.len(), 6);
    for f in list {
        assert_eq!(f["SchemaVersion"], "2018-10-08");
        assert_eq!(f["UpdatedAt"], "2026-11-22T12:00:00.000Z");
    }
    // The unmanaged bucket's ARN names no account, but its Config item does: the finding names
    // it, and --account (for findings that name none) does not override it.
    let bucket = list.iter().find(|f| f["Resources"][0]["Id"] == "arn:aws:s3:::stmarys-ehr-export-tmp-20261118").expect("bucket");
    assert_eq!(bucket["AwsAccountId"], "123456789012");
    let rds = list.iter().find(|f| f["Resources"][0]["Type"] == "AwsRdsDbInstance").expect("rds");
    assert_eq!(rds["AwsAccountId"], "123456789012");
}

#[test]
fn replay_format_asff_carries_the_actor() {
    let out = driftwatch(&[
        "replay",
        "--state",
        "samples/states",
        "--events",
        "events/trail-watcher/console-edit",
        "--policy",
        "events/policy.toml",
        "--now",
        "2026-11-22T12:00:00Z",
        "--format",
        "asff",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = &v["Findings"][0];
    assert_eq!(f["GeneratorId"], "driftwatch/change.console");
    assert!(f["ProductFields"]["driftwatch/actor"].as_str().is_some_and(|a| a.contains("jane.doe")));
}

#[test]
fn alerts_preview_every_format_without_secrets() {
    let dir = root().join("target/test-scratch/alerts");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let findings = dir.join("sensitive.json");
    let out =
        driftwatch(&["scan", "--state", "samples/sensitive/secret.tfstate", "--live", "samples/sensitive/live.json", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    std::fs::write(&findings, &out.stdout).expect("write");
    let path = findings.to_str().expect("utf8");
    for format in ["email", "json", "chatbot", "sns"] {
        let out = driftwatch(&["alerts", path, "--format", format, "--environment", "prod"]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("billing_sync") || stdout.contains("billing-sync"), "{format}: {stdout}");
        if format != "email" {
            let v: Value = serde_json::from_str(&stdout).expect("json");
            assert_eq!(v.as_array().map(Vec::len), Some(2), "{format}");
        } else {
            assert!(stdout.starts_with("Subject: ["), "{stdout}");
            assert!(stdout.contains("WHAT TO DO"));
        }
        for s in SECRETS {
            assert!(!stdout.contains(s) && !text(&out.stderr).contains(s), "secret {s} in alerts --format {format}");
        }
    }
    let out = driftwatch(&["alerts", "samples/README.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a JSON array of findings"), "{}", text(&out.stderr));
}
