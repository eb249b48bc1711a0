//! ASFF export: every sample finding is a valid Security Hub finding (required fields, types,
//! length limits), plus a snapshot of one.

use crate::support;

use chrono::{DateTime, Utc};
use driftwatch_core::asff::{self, AsffDefaults};
use driftwatch_core::Finding;
use serde_json::Value;
use support::{assert_no_secret, fixture, snapshot};

fn now() -> DateTime<Utc> {
    support::NOW.parse().expect("now")
}

fn all() -> Vec<Finding> {
    let mut all = fixture("samples-findings");
    all.extend(fixture("sensitive-findings"));
    all.extend(fixture("console-edit-findings"));
    all
}

fn is_time(v: &Value) -> bool {
    v.as_str().is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z'))
}

fn string(v: &Value, max: usize) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty() && s.chars().count() <= max)
}

/// The checks of the ASFF syntax page for the fields we fill.
fn check(f: &Finding, a: &Value) {
    let ctx = format!("{} {}", f.rule, f.resource.id);
    let obj = a.as_object().expect("object");
    for k in [
        "SchemaVersion",
        "Id",
        "ProductArn",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "CreatedAt",
        "UpdatedAt",
        "Severity",
        "Title",
        "Description",
        "Resources",
    ] {
        assert!(obj.contains_key(k), "{ctx}: required {k} missing");
    }
    assert_eq!(a["SchemaVersion"], "2018-10-08");
    assert!(string(&a["Id"], 512), "{ctx}: Id");
    assert!(string(&a["GeneratorId"], 512), "{ctx}: GeneratorId");
    let account = a["AwsAccountId"].as_str().expect("account");
    assert!(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()), "{ctx}: AwsAccountId {account}");
    let region = a["Region"].as_str().expect("region");
    assert_eq!(a["ProductArn"].as_str().expect("ProductArn"), format!("arn:aws:securityhub:{region}:{account}:product/{account}/default"));
    let types = a["Types"].as_array().expect("Types");
    assert!(!types.is_empty() && types.len() <= 50, "{ctx}: Types");
    for t in types {
        let t = t.as_str().expect("type string");
        let ns = t.split('/').next().expect("namespace");
        assert!(
            ["Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors", "Sensitive Data Identifications"].contains(&ns),
            "{ctx}: type namespace {t}"
        );
        assert!(t.split('/').count() <= 3, "{ctx}: {t}");
    }
    for k in ["CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"] {
        assert!(is_time(&a[k]), "{ctx}: {k} {}", a[k]);
    }
    let created = DateTime::parse_from_rfc3339(a["CreatedAt"].as_str().expect("c")).expect("c");
    let updated = DateTime::parse_from_rfc3339(a["UpdatedAt"].as_str().expect("u")).expect("u");
    assert!(updated >= created, "{ctx}: UpdatedAt before CreatedAt");
    assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&a["Severity"]["Label"].as_str().expect("label")), "{ctx}");
    assert!(string(&a["Title"], 256), "{ctx}: Title");
    assert!(string(&a["Description"], 1024), "{ctx}: Description");
    let resources = a["Resources"].as_array().expect("Resources");
    assert!(!resources.is_empty() && resources.len() <= 32, "{ctx}");
    for r in resources {
        assert!(string(&r["Type"], 256), "{ctx}: Resources.Type");
        assert!(string(&r["Id"], 512), "{ctx}: Resources.Id");
        assert!(["aws", "aws-cn", "aws-us-gov"].contains(&r["Partition"].as_str().expect("partition")), "{ctx}");
        assert!(string(&r["Region"], 16), "{ctx}: Resources.Region");
        for (k, v) in r["Details"]["Other"].as_object().expect("Details.Other") {
            assert!(k.chars().count() <= 128 && string(v, 1024), "{ctx}: Details.Other {k}");
        }
    }
    let pf = a["ProductFields"].as_object().expect("ProductFields");
    assert!(pf.len() <= 50);
    for (k, v) in pf {
        assert!(k.chars().count() <= 128 && string(v, 1024), "{ctx}: ProductFields {k}");
    }
    assert!(["PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"].contains(&a["Compliance"]["Status"].as_str().expect("Compliance.Status")));
    let reqs = a["Compliance"]["RelatedRequirements"].as_array().expect("RelatedRequirements");
    assert!(reqs.len() <= 32);
    assert_eq!(reqs.iter().map(|r| r.as_str().expect("req").to_string()).collect::<Vec<_>>(), f.controls);
    assert!(["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"].contains(&a["Workflow"]["Status"].as_str().expect("Workflow")));
    assert!(["ACTIVE", "ARCHIVED"].contains(&a["RecordState"].as_str().expect("RecordState")));
    assert!(string(&a["Remediation"]["Recommendation"]["Text"], 512), "{ctx}: Remediation");
}

#[test]
fn every_sample_finding_is_valid_asff() {
    let findings = all();
    let defaults = AsffDefaults::infer(&findings, None, None);
    assert_eq!(defaults, AsffDefaults { account: "123456789012".into(), region: "us-east-1".into(), partition: "aws".into() });
    let batch = asff::batch(&findings, &defaults, now());
    let list = batch["Findings"].as_array().expect("Findings");
    assert_eq!(list.len(), findings.len());
    assert!(list.len() <= 100, "one BatchImportFindings call");
    for (f, a) in findings.iter().zip(list) {
        check(f, a);
    }
    let ids: std::collections::BTreeSet<_> = list.iter().map(|a| a["Id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), list.len(), "Ids are unique");
}

#[test]
fn long_titles_and_descriptions_are_cut_to_the_limits() {
    let mut f = fixture("samples-findings").remove(0);
    f.title = "x".repeat(5000);
    f.controls = (0..40).map(|i| format!("NIST XX-{i}")).collect();
    let a = asff::to_asff(&f, &AsffDefaults::infer(&[], None, None), now());
    check(
        &{
            let mut g = f.clone();
            g.controls.truncate(32);
            g
        },
        &a,
    );
    assert!(a["Title"].as_str().expect("t").ends_with("..."));
}

#[test]
fn account_and_region_come_from_the_arn_else_the_flags() {
    let samples = fixture("samples-findings");
    let defaults = AsffDefaults::infer(&samples, Some("210987654321"), Some("eu-west-2"));
    for f in &samples {
        let a = asff::to_asff(f, &defaults, now());
        match asff::account_of(f) {
            Some(acct) => assert_eq!(a["AwsAccountId"], acct),
            None => assert_eq!(a["AwsAccountId"], "210987654321", "{}", f.resource.id),
        }
        match asff::region_of(f) {
            Some(r) => assert_eq!(a["Resources"][0]["Region"], r),
            None => assert_eq!(a["Resources"][0]["Region"], "eu-west-2"),
        }
    }
    assert_eq!(AsffDefaults::infer(&[], None, None).account, "000000000000");
}

#[test]
fn suppressed_and_resolved_findings_map_to_workflow_and_record_state() {
    let mut f = fixture("samples-findings").remove(0);
    let d = AsffDefaults::infer(&[], None, None);
    assert_eq!(asff::to_asff(&f, &d, now())["Workflow"]["Status"], "NEW");
    f.suppressed_by = Some("EXC-1".into());
    let a = asff::to_asff(&f, &d, now());
    assert_eq!(a["Workflow"]["Status"], "SUPPRESSED");
    assert_eq!(a["ProductFields"]["driftwatch/suppressedBy"], "EXC-1");
    f.status = driftwatch_core::finding::Status::Resolved;
    let a = asff::to_asff(&f, &d, now());
    assert_eq!(
        (a["Workflow"]["Status"].as_str(), a["RecordState"].as_str(), a["Compliance"]["Status"].as_str()),
        (Some("RESOLVED"), Some("ARCHIVED"), Some("PASSED"))
    );
}

#[test]
fn asff_snapshot_and_no_secrets() {
    let findings = fixture("samples-findings");
    let defaults = AsffDefaults::infer(&findings, None, None);
    let kms = findings.iter().find(|f| f.resource.resource_type == "AWS::KMS::Key").expect("kms finding");
    snapshot(
        "asff-encryption-kms.json",
        &format!("{}\n", serde_json::to_string_pretty(&asff::to_asff(kms, &defaults, now())).expect("json")),
    );
    let mut fresh = support::sensitive_scan();
    fresh.extend(support::sample_scan());
    assert_no_secret("asff", &asff::batch(&fresh, &defaults, now()).to_string());
}
