//! Report aggregation and rendering: latest state per fingerprint, the period, counts with their
//! evidence keys, time to resolve, expiring exceptions, HTML escaping and CSV quoting.

use chrono::{DateTime, Utc};
use driftwatch_core::finding::{ResourceRef, Status};
use driftwatch_core::report::{build, csv_field, to_csv, to_html, to_json, FindingRecord, Period};
use driftwatch_core::{Finding, Rule, Severity};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// A finding record: key, fingerprint, rule, severity, status, (first_seen, last_seen), controls.
fn rec(key: &str, fp: &str, rule: Rule, sev: Severity, status: Status, (first, last): (&str, &str), controls: &[&str]) -> FindingRecord {
    FindingRecord {
        key: key.into(),
        time: t(last),
        finding: Finding {
            rule,
            severity: sev,
            title: format!("{} on {fp}", rule.id()),
            resource: ResourceRef {
                arn: None,
                resource_type: "AWS::S3::Bucket".into(),
                id: format!("bucket-{fp}"),
                address: Some(format!("aws_s3_bucket.{fp}")),
                terraform_type: Some("aws_s3_bucket".into()),
                state: None,
                account: None,
                region: None,
            },
            actor: None,
            changes: vec![],
            controls: controls.iter().map(|c| c.to_string()).collect(),
            fingerprint: fp.into(),
            first_seen: t(first),
            last_seen: t(last),
            status,
            suppressed_by: None,
            evidence: vec![format!("input-of-{fp}")],
            import: None,
        },
    }
}

fn sample() -> Vec<FindingRecord> {
    use Severity::*;
    use Status::*;
    vec![
        // a: opened day 1, seen again day 2 (latest record is k-a2)
        rec(
            "k-a1",
            "a",
            Rule::DriftChanged,
            High,
            Open,
            ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z"),
            &["HIPAA 164.312(c)(1)", "NIST CM-3"],
        ),
        rec(
            "k-a2",
            "a",
            Rule::DriftChanged,
            Critical,
            Open,
            ("2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"),
            &["HIPAA 164.312(c)(1)", "NIST CM-3"],
        ),
        // b: opened day 1, resolved 30 h later
        rec("k-b1", "b", Rule::DriftMissing, High, Open, ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"), &["NIST CM-8"]),
        rec("k-b2", "b", Rule::DriftMissing, High, Resolved, ("2026-11-01T00:00:00Z", "2026-11-02T06:00:00Z"), &["NIST CM-8"]),
        // c: suppressed, day 3
        rec("k-c", "c", Rule::DriftUnmanaged, Medium, Suppressed, ("2026-11-03T00:00:00Z", "2026-11-03T00:00:00Z"), &["NIST CM-8"]),
        // d: an expiring exception, day 3
        rec("k-d", "d", Rule::ExceptionExpiring, Low, Open, ("2026-11-03T00:00:00Z", "2026-11-03T00:00:00Z"), &[]),
        // e: outside the period below
        rec("k-e", "e", Rule::DriftChanged, Critical, Open, ("2026-12-05T00:00:00Z", "2026-12-05T00:00:00Z"), &["NIST SC-7"]),
    ]
}

fn count<'a>(counts: &'a [driftwatch_core::report::Count], label: &str) -> &'a driftwatch_core::report::Count {
    counts.iter().find(|c| c.label == label).unwrap_or_else(|| panic!("no {label}"))
}

#[test]
fn aggregates_latest_state_per_fingerprint_in_the_period() {
    let period = Period { from: Some(t("2026-11-01T00:00:00Z")), to: Some(t("2026-11-30T23:59:59Z")) };
    let r = build(&sample(), period, t("2026-11-30T00:00:00Z"), None);
    assert_eq!(r.records, 6, "k-e is after --to");
    assert_eq!(r.findings, 4);
    assert_eq!(count(&r.by_status, "open").evidence, ["k-a2", "k-d"]);
    assert_eq!(count(&r.by_status, "resolved").evidence, ["k-b2"]);
    assert_eq!(count(&r.by_status, "suppressed").evidence, ["k-c"]);
    // the latest record of `a` is critical; its first record (high) does not count
    assert_eq!(count(&r.open_by_severity, "critical").evidence, ["k-a2"]);
    assert_eq!(count(&r.open_by_severity, "high").count, 0);
    assert_eq!(count(&r.open_by_severity, "low").evidence, ["k-d"]);
    let labels: Vec<&str> = r.open_by_severity.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["critical", "high", "medium", "low", "info"]);
    // controls of open findings only, grouped by framework
    let controls: Vec<(&str, &str, usize)> =
        r.open_by_control.iter().map(|c| (c.framework.as_str(), c.control.as_str(), c.count)).collect();
    assert_eq!(controls, [("HIPAA", "HIPAA 164.312(c)(1)", 1), ("NIST 800-53", "NIST CM-3", 1)]);
    // trend: every day of the period, first_seen per day
    assert_eq!(r.trend.len(), 30);
    assert_eq!(r.trend[0].label, "2026-11-01");
    assert_eq!(r.trend[0].evidence, ["k-a2", "k-b2"]);
    assert_eq!(r.trend[1].count, 0);
    assert_eq!(r.trend[2].evidence, ["k-c", "k-d"]);
    // time to resolve: b took 30 hours
    assert_eq!(r.time_to_resolve.resolved, 1);
    assert_eq!(r.time_to_resolve.items[0].hours.hours(), 30.0);
    assert_eq!(r.time_to_resolve.items[0].evidence, ["k-b2"]);
    // expiring exceptions come from exception.* findings without an exceptions file
    assert_eq!(r.exceptions_expiring.len(), 1);
    assert_eq!(r.exceptions_expiring[0].evidence, ["k-d"]);
    // JSON carries the same numbers
    let j = to_json(&r);
    assert_eq!(j["findings"], 4);
    assert_eq!(j["time_to_resolve"]["median_hours"], 30.0);
    assert_eq!(j["open_by_severity"][0]["evidence"][0], "k-a2");
}

#[test]
fn without_a_period_everything_counts_and_no_resolution_is_said() {
    let recs: Vec<FindingRecord> = sample().into_iter().filter(|r| r.finding.fingerprint != "b").collect();
    let r = build(&recs, Period { from: None, to: None }, t("2026-12-06T00:00:00Z"), None);
    assert_eq!(r.findings, 4);
    assert_eq!(r.trend.first().map(|c| c.label.as_str()), Some("2026-11-01"));
    assert_eq!(r.trend.last().map(|c| c.label.as_str()), Some("2026-12-05"));
    assert_eq!(r.time_to_resolve.resolved, 0);
    assert!(to_html(&r).contains("No finding was resolved in the period."));
    let empty = build(&[], Period { from: None, to: None }, t("2026-12-06T00:00:00Z"), None);
    assert_eq!(empty.findings, 0);
    assert!(empty.trend.is_empty());
    let html = to_html(&empty);
    assert!(html.contains("No open finding."));
    assert!(html.contains("<table id=\"findings\""));
}

#[test]
fn html_escapes_user_data_and_has_no_urls_or_scripts() {
    let mut recs = sample();
    recs[1].finding.title = "<script>alert(1)</script> \"quoted\" & see https://evil.example/x <img src=http://x>".into();
    recs[1].finding.resource.address = Some("module.m[\"<b>\"].aws_s3_bucket.x".into());
    let r = build(&recs, Period { from: None, to: None }, t("2026-12-06T00:00:00Z"), None);
    let html = to_html(&r);
    assert!(!html.contains("<script"), "no script at all");
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot; &amp; see https&#58;//evil.example/x"));
    assert!(html.contains("module.m[&quot;&lt;b&gt;&quot;].aws_s3_bucket.x"));
    for needle in ["http://", "https://", "src=\"", "href=", "@import", "url(", "<link"] {
        assert!(!html.contains(needle), "{needle} in the HTML");
    }
    assert!(html.contains("<svg id=\"chart-severity\""));
    assert!(html.contains("<svg id=\"chart-trend\""));
    assert!(html.contains("<svg id=\"chart-control-hipaa\""));
    assert!(html.contains("<svg id=\"chart-resolve\""));
    // evidence keys behind each number: in <details> lists and in bar titles
    assert!(html.contains("<code>k-a2</code>"));
    assert!(html.contains("<title>critical: 2\nk-a2\nk-e</title>"));
}

#[test]
fn csv_is_one_row_per_finding_with_rfc4180_quoting() {
    for (input, expected) in [
        ("plain", "plain"),
        ("a,b", "\"a,b\""),
        ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("two\r\nlines", "\"two\r\nlines\""),
        ("=cmd()", "'=cmd()"),
        ("-1,2", "\"'-1,2\""),
        ("", ""),
    ] {
        assert_eq!(csv_field(input), expected, "{input:?}");
    }
    let mut recs = sample();
    recs[1].finding.title = "changed, \"really\"\nbadly".into();
    let r = build(&recs, Period { from: None, to: None }, t("2026-12-06T00:00:00Z"), None);
    let csv = to_csv(&r);
    assert!(csv.starts_with("fingerprint,severity,rule,status,title,"));
    assert!(csv.contains(",\"changed, \"\"really\"\"\nbadly\","));
    // 5 fingerprints + header; the embedded \n is not a record separator (CRLF is)
    assert_eq!(csv.split("\r\n").filter(|l| !l.is_empty()).count(), 1 + 5);
    assert!(csv.contains("HIPAA 164.312(c)(1); NIST CM-3"));
}

#[test]
fn open_findings_are_broken_down_by_account_unit_and_region() {
    let place = |mut r: FindingRecord, account: Option<&str>, region: Option<&str>| {
        r.finding.resource.account = account.map(str::to_string);
        r.finding.resource.region = region.map(str::to_string);
        r
    };
    let mut recs = sample();
    // a (open) and d (open) in ehr-prod, in two regions; c (suppressed) in the sandbox; a new
    // open finding f that names no account.
    recs = recs
        .into_iter()
        .map(|r| match r.finding.fingerprint.as_str() {
            "a" => place(r, Some("111122223333"), Some("eu-west-1")),
            "d" => place(r, Some("111122223333"), None),
            "c" => place(r, Some("444455556666"), Some("us-east-1")),
            _ => r,
        })
        .collect();
    recs.push(rec("k-f", "f", Rule::DriftChanged, Severity::High, Status::Open, ("2026-11-04T00:00:00Z", "2026-11-04T00:00:00Z"), &[]));
    let period = Period { from: Some(t("2026-11-01T00:00:00Z")), to: Some(t("2026-11-30T23:59:59Z")) };
    let mut r = build(&recs, period, t("2026-11-30T00:00:00Z"), None);
    let by = |counts: &[driftwatch_core::report::Count]| -> Vec<(String, Vec<String>)> {
        counts.iter().map(|c| (c.label.clone(), c.evidence.clone())).collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Open findings only: the sandbox's suppressed one is not counted.
    assert_eq!(
        by(&r.open_by_account),
        [("111122223333".to_string(), s(&["k-a2", "k-d"])), ("(account not known)".to_string(), s(&["k-f"]))]
    );
    assert_eq!(by(&r.open_by_region), [("global".to_string(), s(&["k-d", "k-f"])), ("eu-west-1".to_string(), s(&["k-a2"]))]);
    assert!(r.open_by_unit.is_empty(), "units come from the policy");

    let policy = driftwatch_core::policy::Policy::from_toml(
        "[accounts.\"111122223333\"]\nname = \"ehr-prod\"\nou = \"Workloads/Prod\"\n[accounts.\"444455556666\"]\nname = \"sandbox\"",
    )
    .unwrap();
    driftwatch_core::report::name_accounts(&mut r, &policy.accounts);
    assert_eq!(r.open_by_account[0].label, "111122223333 (ehr-prod, OU Workloads/Prod)");
    assert_eq!(by(&r.open_by_unit), [("Workloads/Prod".to_string(), s(&["k-a2", "k-d"])), ("(no unit)".to_string(), s(&["k-f"]))]);

    let html = to_html(&r);
    assert!(html.contains("<section id=\"by-account\">") && html.contains("<svg id=\"chart-account\""), "the account section");
    assert!(html.contains("111122223333 (ehr-prod, OU Workloads/Prod)") && html.contains("By organisational unit"));
    let csv = to_csv(&r);
    assert!(csv.lines().next().unwrap().ends_with(",account,region"));
    assert!(csv.lines().any(|l| l.starts_with("a,") && l.ends_with(",111122223333,eu-west-1")), "{csv}");
    assert_eq!(to_json(&r)["open_by_unit"][0]["label"], "Workloads/Prod");

    // A report whose findings name no account has no such section.
    let plain = build(&sample(), period, t("2026-11-30T00:00:00Z"), None);
    assert!(plain.open_by_account.is_empty() && !to_html(&plain).contains("id=\"by-account\""));
}
