//! `driftwatch exceptions check|notices` and `scan|replay --exceptions` end to end on the samples.

use crate::support;
use support::driftwatch_without_no_color as driftwatch;
use support::*;

use serde_json::Value;
use std::collections::BTreeSet;

const NOW: &str = "2026-11-22T12:00:00Z";
const EXCEPTIONS: &str = "samples/exceptions/exceptions.toml";

/// (rule, address or "<type> <id>", status, suppressed_by)
type Key = (String, String, String, Option<String>);

fn keys(findings: &[Value]) -> BTreeSet<Key> {
    findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                what(f),
                f["status"].as_str().unwrap_or("").to_string(),
                f["suppressed_by"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn expected() -> BTreeSet<Key> {
    let v: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("samples/exceptions/expected-findings.json")).expect("expected-findings.json"),
    )
    .expect("json");
    v.iter()
        .map(|e| {
            (
                e["rule"].as_str().expect("rule").to_string(),
                e["resource"].as_str().expect("resource").to_string(),
                e["status"].as_str().expect("status").to_string(),
                e["suppressed_by"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn samples_scan_with_exceptions_gives_exactly_the_documented_suppressions() {
    let out = driftwatch(&[
        "scan",
        "--state",
        "samples/states",
        "--live",
        "samples/live",
        "--exceptions",
        EXCEPTIONS,
        "--format",
        "json",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(1), "open findings remain → exit 1; stderr: {}", text(&out.stderr));
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let want = expected();
    assert_eq!(want.len(), 8);
    assert_eq!(keys(&findings), want);
    // The README documents the same.
    let readme = std::fs::read_to_string(root().join("samples/README.md")).expect("samples/README.md");
    for (rule, _, _, by) in &want {
        assert!(readme.contains(rule.as_str()), "samples/README.md does not document {rule}");
        if let Some(id) = by {
            assert!(readme.contains(id.as_str()), "samples/README.md does not document {id}");
        }
    }
    // The table says what is suppressed, and by which exception.
    let table = driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--exceptions", EXCEPTIONS, "--now", NOW]);
    let t = text(&table.stdout);
    assert!(t.contains("suppressed by EXC-2026-031") && t.contains("suppressed by EXC-2026-029"), "{t}");
    assert!(t.contains("exception.expired") && t.contains("exception.invalid"), "{t}");
}

#[test]
fn without_exceptions_the_scan_is_unchanged_and_suppressed_findings_do_not_fail_the_run() {
    let base = driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--format", "json", "--now", NOW]);
    let findings: Vec<Value> = serde_json::from_slice(&base.stdout).expect("json");
    assert!(findings.iter().all(|f| f["status"] == "open" && f["suppressed_by"].is_null()));
    // An exceptions file that covers every finding: exit 0, every finding still reported.
    let dir = scratch("exceptions", "all");
    let file = dir.join("all.toml");
    std::fs::write(
        &file,
        r#"[[exception]]
id = "EXC-ALL"
state_key = "samples/states/*"
reason = "r"
ticket = "T-1"
owner = { email = "o@example.org" }
approved_by = "a@example.org"
compensating_control = "c"
created = 2026-11-20
expires = 2026-12-20

[[exception]]
id = "EXC-S3"
arn = "arn:aws:s3:::stmarys-ehr-export-tmp-*"
reason = "r"
ticket = "T-2"
owner = { email = "o@example.org" }
approved_by = "a@example.org"
compensating_control = "c"
created = 2026-11-20
expires = 2026-12-20
"#,
    )
    .expect("write");
    let out = driftwatch(&[
        "scan",
        "--state",
        "samples/states",
        "--live",
        "samples/live",
        "--exceptions",
        file.to_str().expect("utf8"),
        "--format",
        "json",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(0), "only suppressed findings → exit 0: {}", text(&out.stderr));
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(all.len(), findings.len());
    assert!(all.iter().all(|f| f["status"] == "suppressed"), "{all:?}");
}

#[test]
fn malformed_exceptions_file_is_an_error_naming_file_and_line() {
    let out =
        driftwatch(&["scan", "--state", "samples/states", "--live", "samples/live", "--exceptions", "samples/exceptions/malformed.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("samples/exceptions/malformed.toml:7: ticket:"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out =
        driftwatch(&["replay", "--state", "samples/states", "--events", "events/", "--exceptions", "samples/exceptions/malformed.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn check_lists_problems_as_file_line_field() {
    let ok_dir = scratch("exceptions", "check");
    let ok = ok_dir.join("ok.toml");
    let sample = std::fs::read_to_string(root().join(EXCEPTIONS)).expect("sample");
    // Only the first exception of the samples: valid.
    let first: String = sample.split("\n[[exception]]").take(2).collect::<Vec<_>>().join("\n[[exception]]");
    std::fs::write(&ok, &first).expect("write");
    let out = driftwatch(&["exceptions", "check", ok.to_str().expect("utf8"), "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1 exception(s), all valid"), "{}", text(&out.stdout));

    let out = driftwatch(&["exceptions", "check", EXCEPTIONS, "--now", NOW]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "samples/exceptions/exceptions.toml:43: expires: expired 2026-11-20T00:00:00Z (exception EXC-2026-007)\n\
         samples/exceptions/exceptions.toml:56: expires: lasts 365.0 days, longer than the 90 days the policy allows (exception EXC-2026-040)\n"
    );
    // A looser policy makes the long one valid.
    let out = driftwatch(&["exceptions", "check", EXCEPTIONS, "--now", "2026-11-01T00:00:00Z", "--max-days", "400"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = driftwatch(&["exceptions", "check", "samples/exceptions/malformed.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("samples/exceptions/malformed.toml:7: ticket: "), "{}", text(&out.stdout));

    let out = driftwatch(&["exceptions", "check", "samples/exceptions/no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-file.toml"), "{}", text(&out.stderr));
}

#[test]
fn notices_over_thirty_days_are_sent_exactly_once_each() {
    let dir = scratch("exceptions", "notices");
    let ledger = dir.join("ledger.json");
    let l = ledger.to_str().expect("utf8");
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z").expect("t");
    let mut sent: Vec<(String, String, String)> = Vec::new();
    for day in 0..=30 {
        let at = (start + chrono::Duration::days(day)).to_rfc3339();
        let out = driftwatch(&["exceptions", "notices", EXCEPTIONS, "--now", &at, "--ledger", l, "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let notices: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
        for n in notices {
            sent.push((n["exception"].as_str().expect("id").into(), n["threshold"].as_str().expect("t").into(), at[..10].to_string()));
        }
    }
    let want: Vec<(String, String, String)> = [
        // --now: the vendor-SSH exception is 3 days out (its 7-day notice), the PACS one expired.
        ("EXC-2026-029", "7d", "2026-11-22"),
        ("EXC-2026-007", "expired", "2026-11-22"),
        ("EXC-2026-029", "1d", "2026-11-24"),
        ("EXC-2026-029", "expired", "2026-11-25"),
        // The export bucket exception expires 2026-12-18T00:00Z.
        ("EXC-2026-031", "14d", "2026-12-04"),
        ("EXC-2026-031", "7d", "2026-12-11"),
        ("EXC-2026-031", "1d", "2026-12-17"),
        ("EXC-2026-031", "expired", "2026-12-18"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(sent, want);
    // The over-long exception never gets a notice; the ledger is valid JSON and no temp file is left.
    let names: Vec<String> =
        std::fs::read_dir(&dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["ledger.json"]);
    let v: Value = serde_json::from_slice(&std::fs::read(&ledger).expect("ledger")).expect("ledger json");
    assert!(v["sent"]["EXC-2026-040"].is_null());
    // Running again at the end sends nothing.
    let out = driftwatch(&["exceptions", "notices", EXCEPTIONS, "--now", "2026-12-22T12:00:00Z", "--ledger", l]);
    assert_eq!(text(&out.stdout), "No notices due.\n");
}

#[test]
fn replay_takes_exceptions_too() {
    let args = ["replay", "--state", "samples/states", "--events", "events/trail-watcher/console-edit", "--policy", "events/policy.toml"];
    let base = driftwatch(&[&args[..], &["--format", "json", "--now", NOW]].concat());
    assert_eq!(base.status.code(), Some(1), "{}", text(&base.stderr));
    // EXC-2026-029 covers drift.changed only: the console edit of the same group stays open.
    let out = driftwatch(&[&args[..], &["--format", "json", "--now", NOW, "--exceptions", EXCEPTIONS]].concat());
    assert_eq!(out.status.code(), Some(1));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let console: Vec<&Value> = got.iter().filter(|f| f["rule"] == "change.console").collect();
    assert_eq!(console.len(), 1);
    assert!(console[0]["suppressed_by"].is_null());
    assert!(got.iter().any(|f| f["rule"] == "exception.expired") && got.iter().any(|f| f["rule"] == "exception.invalid"));
    // An exception for it: suppressed, and replay exits 0 when nothing else is open.
    let dir = scratch("exceptions", "replay");
    let file = dir.join("console.toml");
    std::fs::write(
        &file,
        r#"[[exception]]
id = "EXC-CONSOLE"
rules = ["change.console", "control.network_exposure"]
address = "aws_security_group.app"
reason = "break-glass during incident INC-77"
ticket = "INC-77"
owner = { sns_topic = "arn:aws:sns:us-east-1:123456789012:secops" }
approved_by = "incident-commander@example.org"
compensating_control = "session recorded"
created = 2026-11-20
expires = 2026-11-27
"#,
    )
    .expect("write");
    let out = driftwatch(&[&args[..], &["--now", NOW, "--exceptions", file.to_str().expect("utf8")]].concat());
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("suppressed by EXC-CONSOLE"), "{}", text(&out.stdout));
}
