//! Findings in the AWS Security Finding Format (ASFF), for AWS Security Hub.
//!
//! [`batch`] gives the body of `BatchImportFindings` (`{"Findings":[...]}`). Every finding
//! carries the fields Security Hub requires (`SchemaVersion`, `Id`, `ProductArn`,
//! `GeneratorId`, `AwsAccountId`, `Types`, `CreatedAt`, `UpdatedAt`, `Severity`, `Title`,
//! `Description`, `Resources`), within their length limits, plus `Compliance` (the finding's
//! HIPAA / NIST controls), `Workflow`, `RecordState` and `ProductFields`.
//!
//! Account and region are the finding's (its resource's, else its ARN's: S3 bucket ARNs have
//! neither); otherwise from [`AsffDefaults`]. Values are the finding's, which are already redacted.

use crate::finding::{Finding, Rule, Severity, Status};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// ASFF schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// `Title` limit.
pub const TITLE_MAX: usize = 256;
/// `Description` limit.
pub const DESCRIPTION_MAX: usize = 1024;
/// `Compliance.RelatedRequirements` holds at most this many entries.
pub const RELATED_REQUIREMENTS_MAX: usize = 32;
/// Keys and values of `ProductFields` and `Resources[].Details.Other`.
pub const FIELD_KEY_MAX: usize = 128;
pub const FIELD_VALUE_MAX: usize = 1024;

/// Where findings whose ARN names no account or region are imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsffDefaults {
    pub account: String,
    pub region: String,
    pub partition: String,
}

impl AsffDefaults {
    /// Account and region given by the caller, else the ones most findings' ARNs name, else
    /// `000000000000` and `us-east-1`.
    pub fn infer(findings: &[Finding], account: Option<&str>, region: Option<&str>) -> Self {
        fn most_common(it: impl Iterator<Item = String>) -> Option<String> {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for v in it {
                *counts.entry(v).or_default() += 1;
            }
            // Ties: the smallest value, so the choice is deterministic.
            counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(k, _)| k)
        }
        let arns = || findings.iter().filter_map(|f| f.resource.arn.as_deref()).filter_map(Arn::parse);
        AsffDefaults {
            account: account
                .map(str::to_string)
                .or_else(|| most_common(arns().filter_map(|a| a.account.map(str::to_string))))
                .unwrap_or_else(|| "000000000000".into()),
            region: region
                .map(str::to_string)
                .or_else(|| most_common(arns().filter_map(|a| a.region.map(str::to_string))))
                .unwrap_or_else(|| "us-east-1".into()),
            partition: most_common(arns().map(|a| a.partition.to_string())).unwrap_or_else(|| "aws".into()),
        }
    }
}

/// The parts of an ARN (`arn:partition:service:region:account:resource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: Option<&'a str>,
    pub account: Option<&'a str>,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(s: &'a str) -> Option<Arn<'a>> {
        let mut it = s.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        let partition = it.next().filter(|p| !p.is_empty())?;
        let service = it.next()?;
        let region = it.next()?;
        let account = it.next()?;
        let resource = it.next()?;
        let some = |v: &'a str| (!v.is_empty()).then_some(v);
        Some(Arn {
            partition,
            service,
            region: some(region),
            account: some(account).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())),
            resource,
        })
    }
}

/// The account a finding is about: the resource's, else its ARN's, when it names one.
pub fn account_of(f: &Finding) -> Option<&str> {
    f.resource.account.as_deref().or_else(|| f.resource.arn.as_deref().and_then(Arn::parse).and_then(|a| a.account))
}

/// The region a finding is about: the resource's, else its ARN's, when it names one.
pub fn region_of(f: &Finding) -> Option<&str> {
    f.resource.region.as_deref().or_else(|| f.resource.arn.as_deref().and_then(Arn::parse).and_then(|a| a.region))
}

/// ASFF `Severity.Label`.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRITICAL",
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
        Severity::Info => "INFORMATIONAL",
    }
}

/// ASFF resource type for an AWS Config type (`AWS::S3::Bucket` → `AwsS3Bucket`); `Other`
/// when Security Hub has no such type.
pub fn resource_type(config_type: &str) -> &'static str {
    match config_type {
        "AWS::S3::Bucket" => "AwsS3Bucket",
        "AWS::KMS::Key" => "AwsKmsKey",
        "AWS::RDS::DBInstance" => "AwsRdsDbInstance",
        "AWS::RDS::DBCluster" => "AwsRdsDbCluster",
        "AWS::EC2::Volume" => "AwsEc2Volume",
        "AWS::EC2::SecurityGroup" => "AwsEc2SecurityGroup",
        "AWS::DynamoDB::Table" => "AwsDynamoDbTable",
        "AWS::SNS::Topic" => "AwsSnsTopic",
        "AWS::SQS::Queue" => "AwsSqsQueue",
        "AWS::CloudTrail::Trail" => "AwsCloudTrailTrail",
        "AWS::IAM::Role" => "AwsIamRole",
        "AWS::Lambda::Function" => "AwsLambdaFunction",
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => "AwsElbv2LoadBalancer",
        _ => "Other",
    }
}

/// Finding types (`namespace/category/classifier`).
fn types(f: &Finding) -> Vec<String> {
    let mut t = vec![match f.rule {
        Rule::ChangeConsole
        | Rule::ChangeOutOfBand
        | Rule::StateWrittenOutsidePipeline
        | Rule::LockOutsidePipeline
        | Rule::LockForceUnlock => "Unusual Behaviors/User",
        Rule::EncryptionRegression => "Effects/Data Exposure",
        _ => "Software and Configuration Checks/AWS Security Best Practices",
    }
    .to_string()];
    if f.rule == Rule::EncryptionRegression {
        t.push("Software and Configuration Checks/AWS Security Best Practices".into());
    }
    if f.controls.iter().any(|c| c.starts_with("HIPAA")) {
        t.push("Software and Configuration Checks/Industry and Regulatory Standards/HIPAA Controls".into());
    }
    if f.controls.iter().any(|c| c.starts_with("NIST")) {
        t.push("Software and Configuration Checks/Industry and Regulatory Standards/NIST 800-53 Controls".into());
    }
    t
}

/// Truncate to at most `max` characters, marking the cut with `...`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn description(f: &Finding) -> String {
    let mut d = f.title.clone();
    if let Some(a) = &f.resource.address {
        d.push_str(&format!(". Terraform address {a}"));
        if let Some(st) = &f.resource.state {
            d.push_str(&format!(" in state {} (workspace {}, serial {})", st.key, st.workspace, st.serial));
        }
    }
    if let Some(p) = f.actor.as_ref().and_then(|a| a.principal_arn.as_deref()) {
        d.push_str(&format!(". Actor {p}"));
    }
    if !f.changes.is_empty() {
        let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
        d.push_str(&format!(". Changed: {}", paths.join(", ")));
    }
    d.push('.');
    truncate(&d, DESCRIPTION_MAX)
}

fn string_map(pairs: Vec<(&str, String)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if !v.is_empty() {
            m.insert(truncate(k, FIELD_KEY_MAX), Value::String(truncate(&v, FIELD_VALUE_MAX)));
        }
    }
    Value::Object(m)
}

/// One finding in ASFF. `now` is `UpdatedAt` (never before the finding's `last_seen`).
pub fn to_asff(f: &Finding, defaults: &AsffDefaults, now: DateTime<Utc>) -> Value {
    let arn = f.resource.arn.as_deref().and_then(Arn::parse);
    let account = account_of(f).unwrap_or(&defaults.account);
    let region = region_of(f).unwrap_or(&defaults.region);
    let partition = arn.map(|a| a.partition).unwrap_or(&defaults.partition);
    let resolved = f.status == Status::Resolved;
    let workflow = if resolved {
        "RESOLVED"
    } else if f.suppressed_by.is_some() || f.status == Status::Suppressed {
        "SUPPRESSED"
    } else {
        "NEW"
    };
    let mut other = vec![("driftwatch:fingerprint", f.fingerprint.clone()), ("driftwatch:resourceId", f.resource.id.clone())];
    if let Some(a) = &f.resource.address {
        other.push(("terraform:address", a.clone()));
    }
    if let Some(t) = &f.resource.terraform_type {
        other.push(("terraform:type", t.clone()));
    }
    if let Some(st) = &f.resource.state {
        other.push(("terraform:stateKey", st.key.clone()));
        other.push(("terraform:workspace", st.workspace.clone()));
        other.push(("terraform:serial", st.serial.to_string()));
        other.push(("terraform:lineage", st.lineage.clone()));
    }
    let mut product = vec![
        ("driftwatch/rule", f.rule.id().to_string()),
        ("driftwatch/fingerprint", f.fingerprint.clone()),
        ("driftwatch/severity", f.severity.as_str().to_string()),
    ];
    if let Some(s) = &f.suppressed_by {
        product.push(("driftwatch/suppressedBy", s.clone()));
    }
    if let Some(a) = &f.actor {
        product.push(("driftwatch/actor", a.principal_arn.clone().unwrap_or_default()));
        product.push(("driftwatch/viaConsole", a.via_console.to_string()));
    }
    if !f.evidence.is_empty() {
        product.push(("driftwatch/evidence", f.evidence.join(" ")));
    }
    let mut requirements: Vec<String> = f.controls.iter().take(RELATED_REQUIREMENTS_MAX).cloned().collect();
    requirements.dedup();
    let updated = now.max(f.last_seen);
    json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("driftwatch/{}/{}", f.rule.id(), f.fingerprint),
        "ProductArn": format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default"),
        "ProductName": "driftwatch",
        "CompanyName": "driftwatch",
        "GeneratorId": format!("driftwatch/{}", f.rule.id()),
        "AwsAccountId": account,
        "Region": region,
        "Types": types(f),
        "FirstObservedAt": time(f.first_seen),
        "LastObservedAt": time(f.last_seen),
        "CreatedAt": time(f.first_seen),
        "UpdatedAt": time(updated),
        "Severity": {"Label": severity_label(f.severity), "Original": f.severity.as_str()},
        "Title": truncate(&f.title, TITLE_MAX),
        "Description": description(f),
        "Remediation": {"Recommendation": {"Text": truncate(crate::finding::what_to_do(f.rule), 512)}},
        "ProductFields": string_map(product),
        "Resources": [{
            "Type": resource_type(&f.resource.resource_type),
            "Id": f.resource.arn.clone().unwrap_or_else(|| f.resource.id.clone()),
            "Partition": partition,
            "Region": region,
            "Details": {"Other": string_map(other)},
        }],
        "Compliance": {
            "Status": if resolved { "PASSED" } else { "FAILED" },
            "RelatedRequirements": requirements,
        },
        "Workflow": {"Status": workflow},
        "RecordState": if resolved { "ARCHIVED" } else { "ACTIVE" },
    })
}

/// `BatchImportFindings` body: `{"Findings":[...]}`, defaults inferred from the batch unless
/// given. (Security Hub takes at most 100 findings per call; the SNS/Hub adapter splits.)
pub fn batch(findings: &[Finding], defaults: &AsffDefaults, now: DateTime<Utc>) -> Value {
    json!({"Findings": findings.iter().map(|f| to_asff(f, defaults, now)).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_their_parts() {
        let a = Arn::parse("arn:aws:kms:us-east-1:123456789012:key/abc").unwrap();
        assert_eq!(
            (a.partition, a.service, a.region, a.account, a.resource),
            ("aws", "kms", Some("us-east-1"), Some("123456789012"), "key/abc")
        );
        let b = Arn::parse("arn:aws:s3:::bucket").unwrap();
        assert_eq!((b.region, b.account, b.resource), (None, None, "bucket"));
        assert!(Arn::parse("bucket").is_none());
        assert_eq!(truncate("abcdef", 5), "ab...");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
