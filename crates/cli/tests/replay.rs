//! `driftwatch replay` end to end: events/ cases, input shapes (JSON Lines, gzip), the final
//! sweep, exit codes and one-line errors.

use crate::support;
use support::driftwatch_without_no_color as driftwatch;
use support::*;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::Output;

const NOW: &str = "2026-11-22T12:00:00Z";

fn replay(events: &str, extra: &[&str]) -> Output {
    let mut args = vec!["replay", "--state", "samples/states", "--events", events, "--policy", "events/policy.toml"];
    args.extend_from_slice(extra);
    driftwatch(&args)
}

fn expected(case: &str) -> BTreeSet<(String, String)> {
    let v: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join(format!("events/{case}/expected.json"))).expect("expected.json"))
            .expect("json");
    v.iter().map(|e| (e["rule"].as_str().unwrap_or("").to_string(), e["resource"].as_str().unwrap_or("").to_string())).collect()
}

#[test]
fn a_case_gives_its_expected_findings_and_exit_1() {
    for case in
        ["trail-watcher/console-edit", "trail-watcher/input-invalid-log-file", "state-watcher/digest-mismatch", "sweeper/stale-lock"]
    {
        let out = replay(&format!("events/{case}"), &["--format", "json", "--now", NOW]);
        assert_eq!(out.status.code(), Some(1), "{case}: {}", text(&out.stderr));
        assert_eq!(keys(&findings_json(&out)), expected(case), "{case}");
    }
}

#[test]
fn a_negative_case_exits_0() {
    let out = replay("events/trail-watcher/negative-pipeline-change", &[]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("No findings: 1 event file(s), 1 records"), "{}", text(&out.stdout));
}

#[test]
fn table_names_rule_address_actor_and_change() {
    let out = replay("events/trail-watcher/console-edit", &[]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out.stdout);
    assert!(t.starts_with("SEVERITY"), "{t}");
    for s in ["change.console", "aws_security_group.app", "jane.doe@stmarys.org", "actor in the console, from 198.51.100.23"] {
        assert!(t.contains(s), "table lacks {s}:\n{t}");
    }
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn the_final_sweep_at_now_reports_locks_still_held() {
    // The overwritten lock is still held at the end of the case: a sweep days later finds it stale.
    let case = "events/lock-watcher/force-unlock-overwritten";
    let without = keys(&findings_json(&replay(case, &["--format", "json"])));
    let with = keys(&findings_json(&replay(case, &["--format", "json", "--now", NOW])));
    let stale = ("lock.stale".to_string(), "driftwatch::TerraformState s3://stmarys-ehr-tfstate/prod/data.tfstate".to_string());
    assert!(!without.contains(&stale) && with.contains(&stale), "{without:?} / {with:?}");
}

#[test]
fn json_lines_gzip_and_out_dir() {
    let dir = scratch("replay", "shapes");
    // One EventBridge event per line, plus a gzipped CloudTrail log file.
    let ev = std::fs::read_to_string(root().join("events/trail-watcher/console-edit/event.json")).expect("event");
    let one_line: Value = serde_json::from_str(&ev).expect("json");
    std::fs::write(dir.join("a.jsonl"), format!("{one_line}\n\n")).expect("write");
    let log = std::fs::read(root().join("events/trail-watcher/input-invalid-log-file/event.json")).expect("log");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&log).expect("gz");
    std::fs::write(dir.join("b_CloudTrail_us-east-1.json.gz"), gz.finish().expect("gz")).expect("write");
    std::fs::write(dir.join("expected.json"), "[]").expect("write");
    let out_dir = dir.join("out");
    let out = replay(dir.to_str().expect("utf8"), &["--format", "json", "--now", NOW, "--out", out_dir.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let got = keys(&findings_json(&out));
    assert!(got.contains(&("change.console".into(), "aws_security_group.app".into())), "{got:?}");
    let gz_name = dir.join("b_CloudTrail_us-east-1.json.gz").display().to_string();
    assert!(got.contains(&("input.invalid".into(), format!("driftwatch::Input {gz_name}"))), "{got:?}");
    // The console edit opens SSH to the internet: control.network_exposure too.
    assert!(got.contains(&("control.network_exposure".into(), "aws_security_group.app".into())), "{got:?}");
    assert_eq!(got.len(), 3, "expected.json is skipped: {got:?}");
    let written: Value = serde_json::from_slice(&std::fs::read(out_dir.join("findings.json")).expect("findings.json")).expect("json");
    let stdout: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(written, stdout);
}

#[test]
fn same_inputs_same_output() {
    let a = replay("events/trail-watcher", &["--format", "json", "--now", NOW]);
    let b = replay("events/trail-watcher", &["--format", "json", "--now", NOW]);
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn errors_exit_2_with_one_line_naming_the_file() {
    let dir = scratch("replay", "errors");
    let bad_policy = dir.join("policy.toml");
    std::fs::write(&bad_policy, "[pipeline]\nprincipal = []\n").expect("write");
    let bad_gz = dir.join("trail.json.gz");
    std::fs::write(&bad_gz, b"\x1f\x8bnot really gzip").expect("write");
    let empty = scratch("replay", "errors-empty");
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (
            vec!["replay", "--state", "samples/states", "--events", "events/sweeper", "--policy", bad_policy.to_str().expect("utf8")],
            bad_policy.display().to_string(),
            "unknown field",
        ),
        (vec!["replay", "--state", "samples/states", "--events", bad_gz.to_str().expect("utf8")], bad_gz.display().to_string(), "gzip"),
        (
            vec!["replay", "--state", "samples/states", "--events", empty.to_str().expect("utf8")],
            empty.display().to_string(),
            "no event files",
        ),
        (vec!["replay", "--state", "samples/states", "--events", "events/nope"], "events/nope".into(), "No such file"),
        (vec!["replay", "--state", "samples/bad/v3.tfstate", "--events", "events/sweeper"], "samples/bad/v3.tfstate".into(), "version 3"),
    ];
    for (args, names, says) in cases {
        let out = driftwatch(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(&names) && err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = driftwatch(&["replay", "--state", "samples/states"]);
    assert_eq!(out.status.code(), Some(2), "missing --events is a usage error");
}

#[test]
fn help_has_examples_and_conventions() {
    let out = driftwatch(&["replay", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    for s in ["--state", "--events", "--policy", "--format", "--now", "--out", "Examples", "V.tfstate", "*.jsonl", "Exit status"] {
        assert!(t.contains(s), "replay --help lacks {s}:\n{t}");
    }
    assert!(text(&driftwatch(&["--help"]).stdout).contains("replay"));
}
