//! Alerts: snapshots of subject and email body for sample findings, the Chatbot and SNS
//! shapes, and no secret in any alert format.

use crate::support;

use driftwatch_core::alert::{Alert, SUBJECT_MAX};
use driftwatch_core::{Finding, Rule};
use serde_json::Value;
use support::{assert_no_secret, fixture, snapshot};

fn all_fixtures() -> Vec<Finding> {
    let mut all = fixture("samples-findings");
    all.extend(fixture("sensitive-findings"));
    all.extend(fixture("console-edit-findings"));
    all
}

fn find<'a>(fs: &'a [Finding], rule: Rule, address_or_id: &str) -> &'a Finding {
    fs.iter()
        .find(|f| f.rule == rule && (f.resource.address.as_deref() == Some(address_or_id) || f.resource.id == address_or_id))
        .unwrap_or_else(|| panic!("no {rule} finding for {address_or_id}"))
}

/// Subject and body, as an email client shows them.
fn email(a: &Alert<'_>) -> String {
    format!("Subject: {}\n\n{}", a.subject(), a.email_body())
}

/// The fixtures are what `driftwatch scan` gives for the samples today.
#[test]
fn fixtures_match_a_fresh_scan_of_the_samples() {
    for (name, fresh) in [("samples-findings", support::sample_scan()), ("sensitive-findings", support::sensitive_scan())] {
        let mut text = serde_json::to_string_pretty(&fresh).expect("json");
        text.push('\n');
        let path = support::here().join("fixtures").join(format!("{name}.json"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &text).expect("write");
        }
        assert_eq!(fixture(name), fresh, "{name}: rerun with UPDATE_SNAPSHOTS=1 after a deliberate change");
    }
}

#[test]
fn email_snapshots() {
    let samples = fixture("samples-findings");
    let console = fixture("console-edit-findings");
    let cases: [(&str, &Finding, Option<&str>); 5] = [
        ("email-drift-changed-rds.txt", find(&samples, Rule::DriftChanged, "aws_db_instance.ehr_primary"), None),
        ("email-encryption-kms.txt", find(&samples, Rule::EncryptionRegression, "module.phi_storage[\"imaging\"].aws_kms_key.this"), None),
        (
            "email-encryption-s3-long-address.txt",
            find(
                &samples,
                Rule::EncryptionRegression,
                "module.phi_storage[\"clinical-notes\"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this",
            ),
            Some("none: EXC-2026-014 covers aws_s3_bucket.legacy_* only"),
        ),
        ("email-unmanaged-bucket.txt", find(&samples, Rule::DriftUnmanaged, "stmarys-ehr-export-tmp-20261118"), None),
        ("email-console-edit.txt", find(&console, Rule::ChangeConsole, "aws_security_group.app"), None),
    ];
    for (name, f, exc) in cases {
        let a = Alert::new(f, "prod").with_exception_status(exc);
        snapshot(name, &email(&a));
    }
}

#[test]
fn chatbot_and_sns_snapshots() {
    let console = fixture("console-edit-findings");
    let f = find(&console, Rule::ChangeConsole, "aws_security_group.app");
    let a = Alert::new(f, "prod");
    snapshot("chatbot-console-edit.json", &format!("{}\n", serde_json::to_string_pretty(&a.chatbot()).expect("json")));
    let sns = a.sns_message();
    let mut v = serde_json::to_value(&sns).expect("json");
    // Show the protocol keys decoded: the snapshot is for people.
    let message: Value = serde_json::from_str(&sns.message).expect("message is JSON");
    v["Message"] = message;
    snapshot("sns-console-edit.json", &format!("{}\n", serde_json::to_string_pretty(&v).expect("json")));
}

#[test]
fn subjects_are_short_ascii_and_say_what_and_where() {
    for f in all_fixtures() {
        for env in ["prod", "a-very-long-environment-name-for-the-shared-services-account"] {
            let s = Alert::new(&f, env).subject();
            assert!(s.len() <= SUBJECT_MAX, "{} chars: {s}", s.len());
            assert!(s.chars().all(|c| c.is_ascii() && !c.is_ascii_control()), "{s}");
            assert!(s.starts_with(&format!("[{}] {}", f.severity.as_str().to_uppercase(), f.rule.id())), "{s}");
        }
        let s = Alert::new(&f, "prod").subject();
        assert!(s.ends_with(" (prod)"), "{s}");
        let what = f.resource.address.clone().unwrap_or_else(|| f.resource.id.clone());
        let tail: String = what.chars().rev().take(10).collect::<String>().chars().rev().collect();
        assert!(s.contains(&tail), "subject keeps the end of {what}: {s}");
    }
}

#[test]
fn subjects_replace_non_ascii_and_keep_the_address_with_a_long_environment() {
    let mut f = fixture("samples-findings").remove(0);
    f.resource.address = Some("module.clinic[\"café-zürich\"].aws_db_instance.this".into());
    let s = Alert::new(&f, "prod").subject();
    assert_eq!(s, "[CRITICAL] drift.changed: module.clinic[\"caf?-z?rich\"].aws_db_instance.this (prod)");
    let s = Alert::new(&f, "shared-services-production-eu-west-2-blue").subject();
    assert!(s.len() <= SUBJECT_MAX, "{s}");
    assert!(s.contains("aws_db_instance.this (shared-services-produ...)"), "{s}");
}

#[test]
fn chatbot_notifications_have_the_custom_notification_shape() {
    for f in all_fixtures() {
        let c = Alert::new(&f, "prod").chatbot();
        assert_eq!(c["version"], "1.0");
        assert_eq!(c["source"], "custom");
        assert_eq!(c["content"]["textType"], "client-markdown");
        assert!(c["content"]["title"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 250));
        assert!(c["content"]["description"].as_str().is_some_and(|d| d.contains(f.resource.address.as_deref().unwrap_or(&f.resource.id))));
        assert!(c["content"]["nextSteps"].as_array().is_some_and(|n| !n.is_empty() && n.iter().all(Value::is_string)));
        assert!(c["content"]["keywords"].as_array().is_some_and(|k| k.iter().any(|k| k == f.rule.id())));
        assert_eq!(c["metadata"]["threadId"], f.fingerprint.as_str());
    }
}

#[test]
fn message_attributes_filter_on_severity_rule_account_environment() {
    let samples = fixture("samples-findings");
    let rds = find(&samples, Rule::DriftChanged, "aws_db_instance.ehr_primary");
    let attrs = serde_json::to_value(Alert::new(rds, "prod").message_attributes()).expect("json");
    assert_eq!(
        attrs,
        serde_json::json!({
            "account": {"DataType": "String", "StringValue": "123456789012"},
            "environment": {"DataType": "String", "StringValue": "prod"},
            "region": {"DataType": "String", "StringValue": "us-east-1"},
            "rule": {"DataType": "String", "StringValue": "drift.changed"},
            "severity": {"DataType": "String", "StringValue": "critical"},
        })
    );
    // S3 bucket ARNs name no account: the finding names its Config item's, and no region (the
    // item's region is not the ARN's, which names none).
    let bucket = find(&samples, Rule::DriftUnmanaged, "stmarys-ehr-export-tmp-20261118");
    let attrs = Alert::new(bucket, "prod").message_attributes();
    assert_eq!(attrs["account"].string_value, "123456789012");
    assert!(!attrs.contains_key("region"));
    // A finding that names no account, and whose ARN names none: the notifier's, else unknown.
    let mut nowhere = bucket.clone();
    nowhere.resource.account = None;
    assert_eq!(Alert::new(&nowhere, "prod").message_attributes()["account"].string_value, "unknown");
    assert_eq!(
        Alert::new(&nowhere, "prod").with_account(Some("210987654321")).message_attributes()["account"].string_value,
        "210987654321"
    );
}

#[test]
fn sns_message_has_a_key_per_protocol() {
    for f in all_fixtures() {
        let sns = Alert::new(&f, "prod").sns_message();
        assert_eq!(sns.message_structure, "json");
        let m: Value = serde_json::from_str(&sns.message).expect("json");
        let default: Finding = serde_json::from_str(m["default"].as_str().expect("default")).expect("finding");
        assert_eq!(default, f);
        assert!(m["email"].as_str().is_some_and(|e| e.contains("WHAT TO DO")));
        let chat: Value = serde_json::from_str(m["https"].as_str().expect("https")).expect("chatbot");
        assert_eq!(chat["source"], "custom");
        assert!(sns.message.len() < 256 * 1024, "SNS message limit");
    }
}

#[test]
fn suppressed_findings_say_which_exception() {
    let mut f = fixture("samples-findings").remove(0);
    f.suppressed_by = Some("EXC-0042".into());
    assert!(Alert::new(&f, "prod").email_body().contains("suppressed by exception EXC-0042"));
    f.suppressed_by = None;
    assert!(Alert::new(&f, "prod").email_body().contains("none: no exception covers this finding"));
}

/// No secret from the sample states appears in any alert format, for findings freshly
/// computed from the states (not only the stored fixtures).
#[test]
fn no_secret_in_any_alert() {
    let mut all = support::sensitive_scan();
    assert!(all.len() >= 2, "the sensitive samples give findings");
    // Not vacuous: the Lambda's changed DB_PASSWORD is among the changes, digested.
    assert!(all.iter().flat_map(|f| &f.changes).any(|c| c.desired.to_string().contains("(sensitive sha256:")));
    all.extend(support::sample_scan());
    all.extend(all_fixtures());
    for f in &all {
        let a = Alert::new(f, "prod").with_exception_status(Some("none"));
        assert_no_secret("subject", &a.subject());
        assert_no_secret("email body", &a.email_body());
        assert_no_secret("json", &a.json().to_string());
        assert_no_secret("chatbot", &a.chatbot().to_string());
        assert_no_secret("sns message", &serde_json::to_string(&a.sns_message()).expect("json"));
    }
}
