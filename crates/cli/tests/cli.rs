//! The `driftwatch` binary, end to end on files: samples, bad inputs, secrets, exit codes.

use crate::support;
use support::driftwatch_without_no_color as driftwatch;
use support::*;

use serde_json::Value;
use std::collections::BTreeSet;

const NOW: &str = "2026-11-22T12:00:00Z";

#[test]
fn samples_give_exactly_the_documented_findings() {
    let expected: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("samples/expected-findings.json")).expect("samples/expected-findings.json"),
    )
    .expect("expected json");
    let want: BTreeSet<(String, String)> = expected
        .iter()
        .map(|e| (e["rule"].as_str().expect("rule").to_string(), e["resource"].as_str().expect("resource").to_string()))
        .collect();
    assert!(want.len() >= 6, "the samples plant at least six differences");
    let out = driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--format", "json", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "findings → exit 1; stderr: {}", text(&out.stderr));
    let got = keys(&findings_json(&out));
    assert_eq!(got, want, "scan must report exactly the planted differences of samples/README.md");
    // And the README lists the same.
    let readme = std::fs::read_to_string(root().join("samples/README.md")).expect("samples/README.md");
    for (rule, what) in &want {
        assert!(
            readme.contains(rule.as_str()) && what.split(' ').all(|part| readme.contains(part)),
            "samples/README.md does not document {rule} {what}"
        );
    }
}

#[test]
fn findings_carry_the_contract_fields_and_are_stable_across_runs() {
    let args = ["scan", "--state", "samples/states", "--live", "samples/live", "--format", "json", "--now", NOW];
    let a = driftwatch(&args);
    let b = driftwatch(&args);
    assert_eq!(a.stdout, b.stdout, "same inputs, same output (fingerprints included)");
    for f in findings_json(&a) {
        for field in [
            "rule",
            "severity",
            "title",
            "resource",
            "changes",
            "controls",
            "fingerprint",
            "first_seen",
            "last_seen",
            "status",
            "suppressed_by",
            "evidence",
        ] {
            assert!(f.get(field).is_some(), "finding lacks {field}: {f}");
        }
        assert_eq!(f["fingerprint"].as_str().map(str::len), Some(32));
        let controls: Vec<&str> = f["controls"].as_array().expect("controls").iter().filter_map(Value::as_str).collect();
        assert!(controls.iter().any(|c| c.starts_with("HIPAA ")) && controls.iter().any(|c| c.starts_with("NIST ")), "{controls:?}");
        if f["resource"]["address"].is_string() {
            let st = &f["resource"]["state"];
            assert!(st["key"].is_string() && st["lineage"].is_string() && st["serial"].is_u64(), "{st}");
        }
    }
}

#[test]
fn out_dir_gets_the_same_findings_as_stdout() {
    let dir = scratch("cli", "out");
    let d = dir.to_str().expect("utf8");
    let out = driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--format", "json", "--now", NOW, "--out", d]);
    assert_eq!(out.status.code(), Some(1));
    let written: Value = serde_json::from_slice(&std::fs::read(dir.join("findings.json")).expect("findings.json")).expect("json");
    assert_eq!(written, Value::Array(findings_json(&out)));
}

#[test]
fn table_output_names_rule_address_and_change() {
    let out = driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live"]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    assert!(t.starts_with("SEVERITY"), "{t}");
    assert!(t.contains("encryption.regression") && t.contains("aws:kms → AES256"), "{t}");
    assert!(t.contains("tcp 22-22 0.0.0.0/0"), "{t}");
    assert!(!t.contains("\u{1b}["), "no colour when stdout is not a terminal");
    assert!(out.stderr.is_empty(), "the main job prints the findings and nothing else: {}", text(&out.stderr));
}

#[test]
fn no_drift_exits_zero() {
    let dir = scratch("cli", "clean");
    let state = r#"{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"l-1","outputs":{},"resources":[
      {"mode":"managed","type":"aws_ebs_volume","name":"v","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]",
       "instances":[{"schema_version":0,"attributes":{"id":"vol-1","arn":"arn:aws:ec2:us-east-1:1:volume/vol-1","encrypted":true,
         "kms_key_id":"arn:aws:kms:us-east-1:1:key/k-1","size":100,"type":"gp3","availability_zone":"us-east-1a",
         "tags":{"Name":"v"},"tags_all":{"Name":"v","Environment":"prod"}}}]}]}"#;
    let live = r#"{"configurationItems":[{"resourceType":"AWS::EC2::Volume","resourceId":"vol-1","configurationItemStatus":"OK",
      "tags":{"Environment":"prod","Name":"v"},
      "configuration":{"volumeId":"vol-1","encrypted":true,"kmsKeyId":"k-1","size":100,"volumeType":"GP3","availabilityZone":"us-east-1a"}}]}"#;
    std::fs::write(dir.join("s.tfstate"), state).expect("write");
    std::fs::write(dir.join("live.json"), live).expect("write");
    let out = driftwatch(&[
        "scan",
        "--state",
        dir.join("s.tfstate").to_str().expect("utf8"),
        "--live",
        dir.join("live.json").to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("No findings"), "{}", text(&out.stdout));
}

/// Each bad input: exit 2, one line on stderr naming the file, no panic.
#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let empty_dir = scratch("cli", "empty-dir");
    let not_json = scratch("cli", "live-bad").join("live.json");
    std::fs::write(&not_json, "{\"configurationItems\": [").expect("write");
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (vec!["samples/bad/malformed.tfstate".into()], "samples/bad/malformed.tfstate", "line 5"),
        (vec!["samples/bad/truncated.tfstate".into()], "samples/bad/truncated.tfstate", "truncated"),
        (vec!["samples/bad/v3.tfstate".into()], "samples/bad/v3.tfstate", "version 3"),
        (vec!["samples/bad/empty.tfstate".into()], "samples/bad/empty.tfstate", "empty"),
        (vec!["samples/bad/flat.tfstate".into()], "samples/bad/flat.tfstate", "attributes_flat"),
        (vec![empty_dir.display().to_string()], empty_dir.to_str().expect("utf8"), "no Terraform state files"),
        (vec!["samples/bad/does-not-exist.tfstate".into()], "samples/bad/does-not-exist.tfstate", "No such file"),
    ];
    for (state, names, says) in cases {
        let out = driftwatch(&["scan", "--state", &state[0], "--live", "samples/live"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{state:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{state:?}: one line, got: {err}");
        assert!(err.starts_with("error: ") && err.contains(names) && err.contains(says), "{state:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "nothing on stdout on error");
    }
    let out = driftwatch(&["scan", "--state", "samples/states", "--live", not_json.to_str().expect("utf8")]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("live.json") && err.contains("line 1"), "{err}");
    let out = driftwatch(&["scan", "--state", "samples/states"]);
    assert_eq!(out.status.code(), Some(2), "missing --live is a usage error");
}

/// Secrets from state or live configuration never reach stdout, --out files or logs.
#[test]
fn secrets_never_leave_the_process() {
    let secrets = ["Sup3r-Secret-Hunter2-XYZ", "Different-Hunter3-ABC"];
    for log_format in ["text", "json"] {
        let dir = scratch("cli", &format!("secret-{log_format}"));
        let out = driftwatch(&[
            "scan",
            "--state",
            "samples/sensitive/secret.tfstate",
            "--live",
            "samples/sensitive/live.json",
            "--format",
            "json",
            "--out",
            dir.to_str().expect("utf8"),
            "-vv",
            "--log-format",
            log_format,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let findings = findings_json(&out);
        // Not vacuous: the changed secret is reported, as digests.
        let env_change = findings
            .iter()
            .flat_map(|f| f["changes"].as_array().cloned().unwrap_or_default())
            .find(|c| c["path"].as_str().is_some_and(|p| p.starts_with("environment")))
            .expect("the Lambda's changed DB_PASSWORD is reported");
        assert!(env_change["desired"]["DB_PASSWORD"].as_str().is_some_and(|s| s.starts_with("(sensitive sha256:")), "{env_change}");
        assert_ne!(env_change["desired"]["DB_PASSWORD"], env_change["actual"]["DB_PASSWORD"]);
        assert!(!text(&out.stderr).is_empty(), "-vv logs something");
        let mut blobs = vec![out.stdout.clone(), out.stderr.clone()];
        for e in std::fs::read_dir(&dir).expect("out dir") {
            blobs.push(std::fs::read(e.expect("entry").path()).expect("read"));
        }
        for blob in &blobs {
            for s in secrets {
                assert!(!blob.windows(s.len()).any(|w| w == s.as_bytes()), "secret {s} leaked ({log_format} logs)");
            }
        }
    }
}

#[test]
fn help_explains_exit_codes_and_inputs() {
    let out = driftwatch(&["scan", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    for s in ["--state", "--live", "--format", "--out", "Examples"] {
        assert!(t.contains(s), "scan --help lacks {s}");
    }
    let t = text(&driftwatch(&["--help"]).stdout);
    assert!(t.contains("0 no findings") && t.contains("2 error"), "{t}");
}
