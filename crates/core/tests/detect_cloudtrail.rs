//! CloudTrail detector, data-driven (STYLE.md habit 8): real-shaped CloudTrail records against
//! the managed-resource index of the shipped sample estate (`samples/states/*.tfstate`), so the
//! cases name real Terraform addresses. Each case is `check(call, expected)`: the findings'
//! (rule, address — or resource id when unmanaged), nothing more and nothing less.
//!
//! Request parameter names follow CloudTrail's records (lowerCamelCase for the JSON/query
//! services, S3's XML bodies as nested objects, `requestParameters.key` of DynamoDB data
//! events holding the key attributes as plain values).

use chrono::{DateTime, Utc};
use driftwatch_core::detect::cloudtrail_calls::{ApiTable, Kind};
use driftwatch_core::detect::{cloudtrail, Context, InMemory, LockLedger, Memory};
use driftwatch_core::finding::{ActorKind, Rule, Severity};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::redact::REDACTED_PREFIX;
use driftwatch_core::signal::{ApiCall, ApiResource, Principal};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Catalog, Finding, Redactor};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

const IMAGING_BUCKET: &str = "stmarys-ehr-prod-phi-imaging-123456789012";
const IMAGING_KEY_ID: &str = "319d1c27-3eb0-4d5d-8b8d-55a374513c3d";
const IMAGING_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/319d1c27-3eb0-4d5d-8b8d-55a374513c3d";
const APP_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/e2801a92-307e-4c57-9a05-7840e65c4ffb";
const OTHER_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ba0987654321";

const A_BUCKET: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket.this";
const A_SSE: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this";
const A_POLICY: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_policy.this";
const A_VERSIONING: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_versioning.this";
const A_KEY: &str = "module.phi_storage[\"imaging\"].aws_kms_key.this";

const HTTPS_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/ehr-public-alb/9954fcbaaf84b2a4/4b2681e8cc63b647";
const HTTP_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/ehr-public-alb/9954fcbaaf84b2a4/674abfec0692166a";

// ------------------------------------------------------------------------------ fixtures

struct Fixture {
    index: ManagedIndex,
    catalog: Catalog,
    policy: Policy,
    redactor: Redactor,
}

impl Fixture {
    fn samples() -> Self {
        let catalog = Catalog::builtin();
        let redactor = Redactor::new(b"test-salt");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/states");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("samples/states").map(|e| e.expect("entry").path()).collect();
        files.sort();
        let states = files.iter().filter(|p| p.extension().is_some_and(|e| e == "tfstate")).map(|p| {
            let bytes = std::fs::read(p).expect("read state");
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            parse_state(&bytes, StateLocation::s3("stmarys-tfstate", format!("prod/{name}")), &catalog, &redactor)
                .expect("sample state parses")
        });
        let index = ManagedIndex::build(states.collect::<Vec<_>>(), &catalog);
        Fixture { index, catalog, policy: policy(), redactor }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            index: &self.index,
            catalog: &self.catalog,
            policy: &self.policy,
            redactor: &self.redactor,
            now: time("2026-12-31T00:00:00Z"),
        }
    }

    fn run(&self, call: &ApiCall, mem: &mut dyn Memory) -> Vec<Finding> {
        cloudtrail::detect(call, &self.ctx(), mem)
    }
}

fn policy() -> Policy {
    Policy::from_toml(
        r#"
        regulated_tag = "data-classification=phi"
        [pipeline]
        principals = ["arn:aws:iam::*:role/terraform-ci", "arn:aws:sts::*:assumed-role/terraform-ci/*"]
        [state]
        buckets = ["stmarys-tfstate"]
        lock_tables = ["terraform-locks"]
        [watcher]
        exceptions_table = "driftwatch-exceptions"
        rules = ["driftwatch-trail-s3", "driftwatch-sweeper"]
        topics = ["arn:aws:sns:us-east-1:123456789012:driftwatch-alerts"]
        functions = ["driftwatch-trail-watcher"]
        keys = ["arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-3333-4444-555566667777"]
        trails = ["driftwatch"]
        buckets = ["driftwatch-evidence-123456789012"]
        config_recorder = true
        "#,
    )
    .expect("policy")
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("timestamp")
}

/// A person with the CLI (an SSO admin role session).
fn human() -> Principal {
    Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_3f1c2b/jane@stmarys.org".into()),
        principal_type: Some("AssumedRole".into()),
        account: Some(ACCOUNT.into()),
        session_issuer_arn: Some("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_3f1c2b".into()),
        session_name: Some("jane@stmarys.org".into()),
        invoked_by: None,
        source_ip: Some("203.0.113.10".into()),
        user_agent: Some(
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22 prompt/off command/s3api.put-bucket-encryption".into(),
        ),
        session_credential_from_console: false,
    }
}

/// The same person in the console (the console reports `AWS Internal` for many calls).
fn console() -> Principal {
    Principal { user_agent: Some("AWS Internal".into()), session_credential_from_console: true, ..human() }
}

fn other_human() -> Principal {
    Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_3f1c2b/raj@stmarys.org".into()),
        session_name: Some("raj@stmarys.org".into()),
        source_ip: Some("203.0.113.77".into()),
        ..human()
    }
}

fn pipeline() -> Principal {
    Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/terraform-ci/GitHubActions".into()),
        principal_type: Some("AssumedRole".into()),
        account: Some(ACCOUNT.into()),
        session_issuer_arn: Some("arn:aws:iam::123456789012:role/terraform-ci".into()),
        session_name: Some("GitHubActions".into()),
        invoked_by: None,
        source_ip: Some("4.148.0.12".into()),
        user_agent: Some("APN/1.0 HashiCorp/1.0 Terraform/1.11.2 (+https://www.terraform.io) terraform-provider-aws/5.84.0".into()),
        session_credential_from_console: false,
    }
}

/// An AWS service acting for the principal.
fn service() -> Principal {
    Principal {
        invoked_by: Some("cloudformation.amazonaws.com".into()),
        user_agent: Some("cloudformation.amazonaws.com".into()),
        source_ip: Some("cloudformation.amazonaws.com".into()),
        ..human()
    }
}

fn call(source: &str, name: &str, params: Value) -> ApiCall {
    ApiCall {
        event_id: format!("0f6b1f2e-{}", name.len()),
        event_time: time("2026-11-21T09:14:07Z"),
        event_source: source.into(),
        event_name: name.into(),
        region: Some(REGION.into()),
        account: Some(ACCOUNT.into()),
        read_only: Some(false),
        error_code: None,
        error_message: None,
        event_category: Some("Management".into()),
        principal: human(),
        request_parameters: params,
        response_elements: Value::Null,
        additional_event_data: Value::Null,
        resources: Vec::new(),
    }
}

trait CallExt {
    fn by(self, p: Principal) -> Self;
    fn response(self, v: Value) -> Self;
    fn resource(self, arn: &str, t: &str) -> Self;
    fn failed(self, code: &str) -> Self;
    fn data(self) -> Self;
}

impl CallExt for ApiCall {
    fn by(mut self, p: Principal) -> Self {
        self.principal = p;
        self
    }
    fn response(mut self, v: Value) -> Self {
        self.response_elements = v;
        self
    }
    fn resource(mut self, arn: &str, t: &str) -> Self {
        self.resources.push(ApiResource { arn: Some(arn.into()), resource_type: Some(t.into()), account: Some(ACCOUNT.into()) });
        self
    }
    fn failed(mut self, code: &str) -> Self {
        self.error_code = Some(code.into());
        self.error_message = Some("failed".into());
        self
    }
    fn data(mut self) -> Self {
        self.event_category = Some("Data".into());
        self
    }
}

fn s3(name: &str, extra: Value) -> ApiCall {
    let mut params = json!({"bucketName": IMAGING_BUCKET, "Host": format!("{IMAGING_BUCKET}.s3.us-east-1.amazonaws.com")});
    if let (Value::Object(p), Value::Object(e)) = (&mut params, extra) {
        p.extend(e);
    }
    call("s3.amazonaws.com", name, params)
}

fn sse(algorithm: &str, key: Option<&str>, bucket_key: bool) -> Value {
    let mut by_default = json!({"SSEAlgorithm": algorithm});
    if let Some(k) = key {
        by_default["KMSMasterKeyID"] = json!(k);
    }
    json!({"encryption": "", "ServerSideEncryptionConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bucket_key}}})
}

fn kms(name: &str, extra: Value) -> ApiCall {
    let mut params = json!({"keyId": IMAGING_KEY_ID});
    if let (Value::Object(p), Value::Object(e)) = (&mut params, extra) {
        p.extend(e);
    }
    call("kms.amazonaws.com", name, params).resource(IMAGING_KEY_ARN, "AWS::KMS::Key")
}

fn label(f: &Finding) -> (String, String) {
    (f.rule.id().to_string(), f.resource.address.clone().unwrap_or_else(|| f.resource.id.clone()))
}

/// Run a call with fresh memory and compare (rule, address or id) with `expected`.
fn check(fx: &Fixture, c: &ApiCall, expected: &[(&str, &str)]) -> Vec<Finding> {
    let got = fx.run(c, &mut InMemory::default());
    let got_labels: BTreeSet<(String, String)> = got.iter().map(label).collect();
    let want: BTreeSet<(String, String)> = expected.iter().map(|(r, a)| (r.to_string(), a.to_string())).collect();
    assert_eq!(got_labels, want, "{} {}: {:#?}", c.event_source, c.event_name, got);
    assert_eq!(got.len(), expected.len(), "{}: one finding per (rule, resource)", c.event_name);
    for f in &got {
        assert_eq!(f.first_seen, c.event_time, "timed by the event");
        assert!(f.evidence.contains(&format!("cloudtrail:{}", c.event_id)), "event id as evidence");
        let text = serde_json::to_string(f).expect("serialise");
        assert!(!text.contains("hunter2"), "secret leaked: {text}");
    }
    got
}

fn only<'a>(findings: &'a [Finding], rule: &str) -> &'a Finding {
    findings.iter().find(|f| f.rule.id() == rule).unwrap_or_else(|| panic!("no {rule} in {findings:#?}"))
}

// ------------------------------------------------------------------------------ the table

#[test]
fn table_covers_at_least_80_write_apis_of_catalog_types() {
    let catalog = Catalog::builtin();
    let table = ApiTable::builtin();
    assert!(table.rows().len() >= 80, "{} rows", table.rows().len());
    let problems = table.validate(&catalog);
    assert!(problems.is_empty(), "{problems:#?}");
    for r in table.rows() {
        assert!(
            catalog.tracks_config_type(&r.config_type) || (r.account_level && r.config_type == "AWS::::Account"),
            "{} {}",
            r.source,
            r.name
        );
        assert!(!r.name.starts_with("Get") && !r.name.starts_with("List") && !r.name.starts_with("Describe"), "{}: a write API", r.name);
    }
    // Every resource type of catalog.toml can be created and changed through some row; every
    // other type has some row (immutable ones, such as ECS task definitions or SageMaker
    // models, have no modify call; classic load balancers share their create call with ELBv2).
    let first = Catalog::from_toml(driftwatch_core::catalog::BUILTIN).expect("catalog.toml");
    for spec in catalog.rows().iter().filter(|s| s.role == driftwatch_core::catalog::Role::Primary) {
        let kinds: BTreeSet<String> =
            table.rows().iter().filter(|r| r.config_type == spec.config_type).map(|r| format!("{:?}", r.kind)).collect();
        assert!(!kinds.is_empty(), "{}: no row", spec.config_type);
        if first.get(&spec.terraform_type).is_some() {
            for k in [Kind::Create, Kind::Modify] {
                assert!(kinds.contains(&format!("{k:?}")), "{}: no {k:?} row", spec.config_type);
            }
        }
    }
    // Every service the issue names.
    let sources: BTreeSet<&str> = table.rows().iter().map(|r| r.source.as_str()).collect();
    for s in [
        "s3.amazonaws.com",
        "kms.amazonaws.com",
        "rds.amazonaws.com",
        "ec2.amazonaws.com",
        "dynamodb.amazonaws.com",
        "sns.amazonaws.com",
        "sqs.amazonaws.com",
        "cloudtrail.amazonaws.com",
        "iam.amazonaws.com",
        "lambda.amazonaws.com",
        "elasticfilesystem.amazonaws.com",
        "logs.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
    ] {
        assert!(sources.contains(s), "{s}");
    }
}

#[test]
fn a_broken_table_is_rejected() {
    let bad = [
        ("[[group]]\nsource = \"s\"\ntype = \"T\"\nid = [\"{requestParameters.x\"]\ncalls = [{ name = \"A\", kind = \"modify\" }]", "template"),
        ("[[group]]\nsource = \"s\"\ntype = \"T\"\ncalls = [{ name = \"A\", kind = \"modify\" }]", "no id"),
        ("[[group]]\nsource = \"s\"\ntype = \"T\"\nid = [\"{requestParameters.x}\"]\ncalls = [{ name = \"A\", kind = \"change\" }]", "kind"),
        (
            "[[group]]\nsource = \"s\"\ntype = \"T\"\nid = [\"{requestParameters.x}\"]\ncalls = [{ name = \"A\", kind = \"modify\", check = \"nope\" }]",
            "unknown check",
        ),
        (
            "[[group]]\nsource = \"s\"\ntype = \"T\"\nid = [\"{requestParameters.x}\"]\ncalls = [{ name = \"A\", kind = \"modify\" }, { name = \"A\", kind = \"delete\" }]",
            "twice",
        ),
    ];
    for (text, why) in bad {
        assert!(ApiTable::from_toml(text).is_err(), "{why}");
    }
    let untracked =
        ApiTable::from_toml("[[group]]\nsource = \"s\"\ntype = \"AWS::Foo::Bar\"\nid = [\"{requestParameters.x}\"]\ncalls = [{ name = \"A\", kind = \"modify\" }]")
            .expect("parses");
    assert_eq!(untracked.validate(&Catalog::builtin()).len(), 1, "type not in the catalog");
}

// ------------------------------------------------------------------------------ who made it

#[test]
fn console_cli_pipeline_and_service_callers() {
    let fx = Fixture::samples();
    let tag = json!({"tagging": "", "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": "owner", "Value": "radiology"}]}}});
    let f = check(&fx, &s3("PutBucketTagging", tag.clone()).by(console()), &[("change.console", A_BUCKET)]);
    let actor = f[0].actor.as_ref().expect("actor");
    assert!(actor.via_console && actor.kind == Some(ActorKind::Console));
    assert_eq!(actor.principal_arn, console().arn);
    assert_eq!(actor.session_name.as_deref(), Some("jane@stmarys.org"));
    assert_eq!(actor.source_ip.as_deref(), Some("203.0.113.10"));
    assert_eq!(f[0].resource.state.as_ref().map(|s| s.key.as_str()), Some("prod/data.tfstate"));
    assert_eq!(f[0].severity, Severity::Critical, "console change (high) on a PHI bucket, raised");

    let f = check(&fx, &s3("PutBucketTagging", tag.clone()), &[("change.out_of_band", A_BUCKET)]);
    assert_eq!(f[0].actor.as_ref().and_then(|a| a.kind), Some(ActorKind::Other));
    assert!(f.iter().all(|f| f.changes.iter().any(|c| c.path == "requestParameters.Tagging" && c.desired.is_null())));
    assert!(f[0].changes.iter().all(|c| c.path != "requestParameters.Host"), "noise dropped");

    // A browser user agent is a console session even without the flag.
    let browser = Principal { user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15".into()), ..human() };
    check(&fx, &s3("PutBucketTagging", tag.clone()).by(browser), &[("change.console", A_BUCKET)]);
    // `AWS Internal` alone is not proof of the console.
    let internal = Principal { user_agent: Some("AWS Internal".into()), ..human() };
    check(&fx, &s3("PutBucketTagging", tag.clone()).by(internal), &[("change.out_of_band", A_BUCKET)]);

    check(&fx, &s3("PutBucketTagging", tag.clone()).by(pipeline()), &[]);
    check(&fx, &s3("PutBucketTagging", tag).by(service()), &[]);
}

#[test]
fn read_only_and_failed_calls_yield_nothing() {
    let fx = Fixture::samples();
    let get = ApiCall { read_only: Some(true), ..s3("GetBucketEncryption", json!({"encryption": ""})) };
    check(&fx, &get, &[]);
    check(&fx, &ApiCall { read_only: None, ..s3("GetBucketPolicy", json!({"policy": ""})) }, &[]);
    check(&fx, &s3("DeleteBucketEncryption", json!({"encryption": ""})).failed("AccessDenied"), &[]);
    check(&fx, &kms("DisableKey", json!({})).failed("AccessDeniedException"), &[]);
    check(&fx, &call("kms.amazonaws.com", "Decrypt", json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})), &[]);
    check(&fx, &call("sts.amazonaws.com", "AssumeRole", json!({"roleArn": "arn:aws:iam::123456789012:role/x"})), &[]);
}

// ------------------------------------------------------------------------------ identities

#[test]
fn identities_resolve_to_sample_addresses() {
    let fx = Fixture::samples();
    let cases: Vec<(ApiCall, &str)> = vec![
        (
            // RDS: CloudTrail names the instance; the index keys it by its db-… resource id.
            call(
                "rds.amazonaws.com",
                "ModifyDBInstance",
                json!({"dBInstanceIdentifier": "ehr-primary", "backupRetentionPeriod": 1, "applyImmediately": true}),
            ),
            "aws_db_instance.ehr_primary",
        ),
        (
            call("rds.amazonaws.com", "ModifyDBCluster", json!({"dBClusterIdentifier": "ehr-analytics", "deletionProtection": false})),
            "aws_rds_cluster.analytics",
        ),
        (
            // IAM: CloudTrail gives the role name; the index keys it by AROA….
            call(
                "iam.amazonaws.com",
                "UpdateAssumeRolePolicy",
                json!({"roleName": "ehr-prod-fhir-api-lambda", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
            ),
            "aws_iam_role.lambda[\"fhir-api\"]",
        ),
        (
            call(
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": "ehr-prod-vpc-flow-logs", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            ),
            "aws_iam_role.vpc_flow_logs",
        ),
        (
            call(
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-0b553a59028de3b25", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
            ),
            "aws_security_group.app",
        ),
        (
            call(
                "ec2.amazonaws.com",
                "ModifySecurityGroupRules",
                json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0bd3b3153febd854e", "SecurityGroupRule": {"SecurityGroupRuleId": "sgr-017dc625a4374c5dd", "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIpv4": "0.0.0.0/0"}}}}),
            ),
            "aws_security_group.db",
        ),
        (
            call("ec2.amazonaws.com", "ModifyVolume", json!({"ModifyVolumeRequest": {"VolumeId": "vol-057b53378254e1235", "Size": 500}})),
            "aws_ebs_volume.pacs_cache[0]",
        ),
        (
            call(
                "sqs.amazonaws.com",
                "SetQueueAttributes",
                json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/ehr-prod-hl7-inbound", "attributes": {"VisibilityTimeout": "100"}}),
            ),
            "aws_sqs_queue.hl7_inbound",
        ),
        (
            call(
                "sns.amazonaws.com",
                "SetTopicAttributes",
                json!({"topicArn": "arn:aws:sns:us-east-1:123456789012:ehr-prod-security-alerts", "attributeName": "DisplayName", "attributeValue": "alerts"}),
            ),
            "aws_sns_topic.security_alerts",
        ),
        (
            call(
                "cloudtrail.amazonaws.com",
                "PutEventSelectors",
                json!({"trailName": "arn:aws:cloudtrail:us-east-1:123456789012:trail/st-marys-ehr-prod-trail", "eventSelectors": [{"readWriteType": "WriteOnly"}]}),
            ),
            "aws_cloudtrail.main",
        ),
        (
            call(
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                json!({"functionName": "arn:aws:lambda:us-east-1:123456789012:function:ehr-hl7-ingest", "publish": false}),
            ),
            "aws_lambda_function.handler[\"hl7-ingest\"]",
        ),
        (
            call(
                "dynamodb.amazonaws.com",
                "UpdateContinuousBackups",
                json!({"tableName": "ehr-prod-consent-records", "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": false}}),
            ),
            "aws_dynamodb_table.ehr[\"consent-records\"]",
        ),
        (
            call("elasticfilesystem.amazonaws.com", "PutFileSystemPolicy", json!({"fileSystemId": "fs-0c61e35f1a0e7e49d", "policy": "{}"})),
            "aws_efs_file_system.dicom_scratch",
        ),
        (
            call(
                "logs.amazonaws.com",
                "PutRetentionPolicy",
                json!({"logGroupName": "/aws/vpc/st-marys-ehr-prod/flow-logs", "retentionInDays": 3653}),
            ),
            "aws_cloudwatch_log_group.vpc_flow_logs",
        ),
        (
            call(
                "elasticloadbalancing.amazonaws.com",
                "AddListenerCertificates",
                json!({"listenerArn": HTTPS_LISTENER, "certificates": [{"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}]}),
            ),
            "aws_lb_listener.https",
        ),
        (kms("UpdateKeyDescription", json!({"description": "imaging"})), A_KEY),
        (s3("PutBucketVersioning", json!({"versioning": "", "VersioningConfiguration": {"Status": "Suspended"}})), A_VERSIONING),
        (
            call(
                "rds.amazonaws.com",
                "AddTagsToResource",
                json!({"resourceName": "arn:aws:rds:us-east-1:123456789012:cluster:ehr-analytics", "tags": [{"key": "x", "value": "y"}]}),
            ),
            "aws_rds_cluster.analytics",
        ),
    ];
    for (c, address) in cases {
        let got = fx.run(&c, &mut InMemory::default());
        let labels: BTreeSet<(String, String)> = got.iter().map(label).collect();
        assert!(labels.contains(&("change.out_of_band".to_string(), address.to_string())), "{}: {labels:?}", c.event_name);
        // A call that also weakens a safeguard (a backup cut, a port opened, an administrator
        // attached) is a control finding too; nothing else.
        assert!(labels.iter().all(|(r, _)| r == "change.out_of_band" || r.starts_with("control.")), "{}: {labels:?}", c.event_name);
    }
}

#[test]
fn iam_role_under_a_path_is_found_by_name() {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"s");
    let state = json!({"version": 4, "serial": 3, "lineage": "l-iam", "resources": [{
        "mode": "managed", "type": "aws_iam_role", "name": "svc", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{"attributes": {"name": "ehr-batch", "path": "/service/", "unique_id": "AROAEXAMPLEPATHROLE01",
            "arn": "arn:aws:iam::123456789012:role/service/ehr-batch", "assume_role_policy": "{}"}}]}]});
    let st = parse_state(state.to_string().as_bytes(), StateLocation::local("iam.tfstate"), &catalog, &redactor).expect("state");
    let fx = Fixture { index: ManagedIndex::build([st], &catalog), catalog, policy: policy(), redactor };
    check(
        &fx,
        &call("iam.amazonaws.com", "PutRolePolicy", json!({"roleName": "ehr-batch", "policyName": "p", "policyDocument": "{}"})),
        &[("change.out_of_band", "aws_iam_role.svc")],
    );
    // Same name in another account: not this role (and not a creation, so nothing).
    let elsewhere =
        ApiCall { account: Some("999999999999".into()), ..call("iam.amazonaws.com", "PutRolePolicy", json!({"roleName": "ehr-batch"})) };
    check(&fx, &elsewhere, &[]);
}

// ------------------------------------------------------------------------------ creations

#[test]
fn creations_outside_the_pipeline_are_unmanaged() {
    let fx = Fixture::samples();
    let create_bucket = || {
        call(
            "s3.amazonaws.com",
            "CreateBucket",
            json!({"bucketName": "jane-scratch-exports", "Host": "jane-scratch-exports.s3.amazonaws.com"}),
        )
    };
    let f = check(&fx, &create_bucket().by(console()), &[("drift.unmanaged", "jane-scratch-exports")]);
    assert_eq!(f[0].resource.resource_type, "AWS::S3::Bucket");
    assert_eq!(f[0].resource.terraform_type.as_deref(), Some("aws_s3_bucket"));
    assert_eq!(f[0].resource.arn.as_deref(), Some("arn:aws:s3:::jane-scratch-exports"));
    check(&fx, &create_bucket().by(pipeline()), &[]);
    check(&fx, &create_bucket().by(service()), &[]);
    // Re-creating a bucket the index knows is a change to a managed resource, not unmanaged.
    check(&fx, &s3("CreateBucket", json!({})), &[("change.out_of_band", A_BUCKET)]);

    let role = call("iam.amazonaws.com", "CreateRole", json!({"roleName": "jane-debug", "assumeRolePolicyDocument": "{}"}))
        .response(json!({"role": {"roleName": "jane-debug", "roleId": "AROAJANEDEBUGROLE0001", "arn": "arn:aws:iam::123456789012:role/jane-debug", "path": "/"}}));
    check(&fx, &role, &[("drift.unmanaged", "AROAJANEDEBUGROLE0001")]);
    let queue = call("sqs.amazonaws.com", "CreateQueue", json!({"queueName": "jane-tmp"}))
        .response(json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jane-tmp"}));
    check(&fx, &queue, &[("drift.unmanaged", "https://sqs.us-east-1.amazonaws.com/123456789012/jane-tmp")]);
    // Not a creation: an unmanaged resource's change is nobody's drift here.
    check(&fx, &call("s3.amazonaws.com", "PutBucketTagging", json!({"bucketName": "someone-elses-bucket"})), &[]);
}

// ------------------------------------------------------------------------------ encryption regressions

#[test]
fn s3_encryption_regressions() {
    let fx = Fixture::samples();
    // Downgrade to SSE-S3 in the console: both findings, different fingerprints.
    let f = check(
        &fx,
        &s3("PutBucketEncryption", sse("AES256", None, false)).by(console()),
        &[("change.console", A_SSE), ("encryption.regression", A_SSE)],
    );
    let reg = only(&f, "encryption.regression");
    assert_ne!(reg.fingerprint, only(&f, "change.console").fingerprint);
    assert_eq!(reg.severity, Severity::Critical, "PHI bucket");
    let paths: BTreeSet<&str> = reg.changes.iter().map(|c| c.path.as_str()).collect();
    assert!(paths.contains("rule[0].apply_server_side_encryption_by_default[0].sse_algorithm"), "{paths:?}");
    let alg = reg.changes.iter().find(|c| c.path.ends_with("sse_algorithm")).expect("algorithm change");
    assert_eq!((alg.desired.clone(), alg.actual.clone()), (json!("aws:kms"), json!("AES256")));
    assert!(reg.actor.as_ref().is_some_and(|a| a.via_console));

    // The desired configuration again: a change, no regression.
    check(&fx, &s3("PutBucketEncryption", sse("aws:kms", Some(IMAGING_KEY_ARN), true)), &[("change.out_of_band", A_SSE)]);
    // Another key.
    let f = check(
        &fx,
        &s3("PutBucketEncryption", sse("aws:kms", Some(OTHER_KEY_ARN), true)),
        &[("change.out_of_band", A_SSE), ("encryption.regression", A_SSE)],
    );
    assert!(only(&f, "encryption.regression").changes.iter().any(|c| c.path.ends_with("kms_master_key_id")));
    // Bucket key off.
    let f = check(
        &fx,
        &s3("PutBucketEncryption", sse("aws:kms", Some(IMAGING_KEY_ARN), false)),
        &[("change.out_of_band", A_SSE), ("encryption.regression", A_SSE)],
    );
    assert_eq!(only(&f, "encryption.regression").changes.len(), 1);
    // Deleted.
    check(
        &fx,
        &s3("DeleteBucketEncryption", json!({"encryption": ""})),
        &[("change.out_of_band", A_SSE), ("encryption.regression", A_SSE)],
    );
    // Deleted on a bucket Terraform does not manage: still a regression.
    let unmanaged = call("s3.amazonaws.com", "DeleteBucketEncryption", json!({"bucketName": "someone-elses-bucket", "encryption": ""}));
    check(&fx, &unmanaged, &[("encryption.regression", "someone-elses-bucket")]);
    // Made by an AWS service on someone's behalf: no change finding, still a regression.
    check(&fx, &s3("PutBucketEncryption", sse("AES256", None, false)).by(service()), &[("encryption.regression", A_SSE)]);
    // Made by the pipeline: the state-write detector's business.
    check(&fx, &s3("PutBucketEncryption", sse("AES256", None, false)).by(pipeline()), &[]);
}

#[test]
fn bucket_policy_dropping_the_tls_deny() {
    let fx = Fixture::samples();
    let resource = [format!("arn:aws:s3:::{IMAGING_BUCKET}"), format!("arn:aws:s3:::{IMAGING_BUCKET}/*")];
    let read_only = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Readers", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/radiology-viewer"}, "Action": "s3:GetObject", "Resource": resource[1]}]});
    let with_tls = json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
        "Action": "s3:*", "Resource": resource, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
    let f = check(
        &fx,
        &s3("PutBucketPolicy", json!({"policy": "", "bucketPolicy": read_only})),
        &[("change.out_of_band", A_POLICY), ("encryption.regression", A_POLICY)],
    );
    let c = &only(&f, "encryption.regression").changes[0];
    assert_eq!((c.path.as_str(), c.desired.clone(), c.actual.clone()), ("policy", json!(true), json!(false)));
    check(&fx, &s3("PutBucketPolicy", json!({"policy": "", "bucketPolicy": with_tls})), &[("change.out_of_band", A_POLICY)]);
    check(&fx, &s3("DeleteBucketPolicy", json!({"policy": ""})), &[("change.out_of_band", A_POLICY), ("encryption.regression", A_POLICY)]);
}

#[test]
fn kms_key_regressions() {
    let fx = Fixture::samples();
    let both = [("change.out_of_band", A_KEY), ("encryption.regression", A_KEY)];
    check(&fx, &kms("DisableKey", json!({})), &both);
    let f = check(&fx, &kms("ScheduleKeyDeletion", json!({"pendingWindowInDays": 7})), &both);
    assert_eq!(only(&f, "encryption.regression").changes[0].actual, json!("PendingDeletion"));
    check(&fx, &kms("DisableKeyRotation", json!({})), &both);
    check(&fx, &kms("EnableKeyRotation", json!({})), &[("change.out_of_band", A_KEY)]);
    // The key named by its ARN in requestParameters (no resources[]) still resolves.
    let by_arn = call("kms.amazonaws.com", "DisableKey", json!({"keyId": IMAGING_KEY_ARN}));
    check(&fx, &by_arn, &both);

    let open = "{\n \"Version\" : \"2012-10-17\",\n \"Statement\" : [ {\n \"Sid\" : \"Open\",\n \"Effect\" : \"Allow\",\n \"Principal\" : {\n \"AWS\" : \"*\"\n },\n \"Action\" : \"kms:*\",\n \"Resource\" : \"*\"\n } ]\n}";
    let root = "{\n \"Version\" : \"2012-10-17\",\n \"Id\" : \"key-default-1\",\n \"Statement\" : [ {\n \"Sid\" : \"Enable IAM User Permissions\",\n \"Effect\" : \"Allow\",\n \"Principal\" : {\n \"AWS\" : \"arn:aws:iam::123456789012:root\"\n },\n \"Action\" : \"kms:*\",\n \"Resource\" : \"*\"\n } ]\n}";
    let put = |p: &str| kms("PutKeyPolicy", json!({"policyName": "default", "policy": p, "bypassPolicyLockoutSafetyCheck": false}));
    // A key policy open to everyone is control.public_exposure (the control catalog), not an
    // encryption regression.
    check(&fx, &put(open), &[("change.out_of_band", A_KEY), ("control.public_exposure", A_KEY)]);
    check(&fx, &put(root), &[("change.out_of_band", A_KEY)]);
}

#[test]
fn ebs_rds_and_efs_regressions() {
    let fx = Fixture::samples();
    let acct = format!("{ACCOUNT}/{REGION}");
    let f = check(
        &fx,
        &call("ec2.amazonaws.com", "DisableEbsEncryptionByDefault", json!({"DisableEbsEncryptionByDefaultRequest": ""}))
            .response(json!({"DisableEbsEncryptionByDefaultResponse": {"ebsEncryptionByDefault": false}})),
        &[("encryption.regression", &acct)],
    );
    assert_eq!(f[0].resource.resource_type, "AWS::::Account");
    check(&fx, &call("ec2.amazonaws.com", "EnableEbsEncryptionByDefault", json!({})), &[]);

    let volume = |encrypted: Option<bool>| {
        let mut req = json!({"size": 200, "zone": "us-east-1a", "volumeType": "gp3"});
        if let Some(e) = encrypted {
            req["encrypted"] = json!(e);
        }
        call("ec2.amazonaws.com", "CreateVolume", req)
            .response(json!({"volumeId": "vol-0f1e2d3c4b5a69788", "size": 200, "zone": "us-east-1a", "status": "creating", "encrypted": encrypted.unwrap_or(false), "volumeType": "gp3"}))
    };
    check(&fx, &volume(Some(false)), &[("drift.unmanaged", "vol-0f1e2d3c4b5a69788"), ("encryption.regression", "vol-0f1e2d3c4b5a69788")]);
    check(&fx, &volume(None), &[("drift.unmanaged", "vol-0f1e2d3c4b5a69788"), ("encryption.regression", "vol-0f1e2d3c4b5a69788")]);
    check(&fx, &volume(Some(true)), &[("drift.unmanaged", "vol-0f1e2d3c4b5a69788")]);

    let db = |name: &str, req: Value, encrypted: bool| {
        call("rds.amazonaws.com", name, req).response(json!({"dBInstanceIdentifier": "ehr-restore-test", "dbiResourceId": "db-RESTORETEST0000000000000A",
            "dBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:ehr-restore-test", "storageEncrypted": encrypted, "dBInstanceStatus": "creating"}))
    };
    let expected = [("drift.unmanaged", "db-RESTORETEST0000000000000A"), ("encryption.regression", "db-RESTORETEST0000000000000A")];
    check(
        &fx,
        &db(
            "CreateDBInstance",
            json!({"dBInstanceIdentifier": "ehr-restore-test", "engine": "postgres", "storageEncrypted": false}),
            false,
        ),
        &expected,
    );
    check(
        &fx,
        &db(
            "RestoreDBInstanceFromDBSnapshot",
            json!({"dBInstanceIdentifier": "ehr-restore-test", "dBSnapshotIdentifier": "manual-2026-11-20"}),
            false,
        ),
        &expected,
    );
    check(
        &fx,
        &db("CreateDBInstance", json!({"dBInstanceIdentifier": "ehr-restore-test", "storageEncrypted": true}), true),
        &expected[..1],
    );

    let efs = call(
        "elasticfilesystem.amazonaws.com",
        "CreateFileSystem",
        json!({"creationToken": "jane-1", "performanceMode": "generalPurpose"}),
    )
    .response(json!({"fileSystemId": "fs-0aaaabbbbccccdddd", "encrypted": false, "lifeCycleState": "creating"}));
    check(&fx, &efs, &[("drift.unmanaged", "fs-0aaaabbbbccccdddd"), ("encryption.regression", "fs-0aaaabbbbccccdddd")]);
}

#[test]
fn dynamodb_sns_sqs_regressions() {
    let fx = Fixture::samples();
    let table = "aws_dynamodb_table.ehr[\"patient-index\"]";
    let f = check(
        &fx,
        &call(
            "dynamodb.amazonaws.com",
            "UpdateTable",
            json!({"tableName": "ehr-prod-patient-index", "sSESpecification": {"enabled": false}}),
        ),
        &[("change.out_of_band", table), ("encryption.regression", table)],
    );
    assert_eq!(only(&f, "encryption.regression").severity, Severity::Critical);
    check(
        &fx,
        &call("dynamodb.amazonaws.com", "UpdateTable", json!({"tableName": "ehr-prod-patient-index", "billingMode": "PAY_PER_REQUEST"})),
        &[("change.out_of_band", table)],
    );

    let topic = "arn:aws:sns:us-east-1:123456789012:ehr-prod-clinical-events";
    let attr = |name: &str, value: &str| {
        call("sns.amazonaws.com", "SetTopicAttributes", json!({"topicArn": topic, "attributeName": name, "attributeValue": value}))
    };
    let both = [("change.out_of_band", "aws_sns_topic.clinical_events"), ("encryption.regression", "aws_sns_topic.clinical_events")];
    check(&fx, &attr("KmsMasterKeyId", ""), &both);
    check(&fx, &attr("KmsMasterKeyId", "alias/aws/sns"), &both);
    check(&fx, &attr("KmsMasterKeyId", APP_KEY_ARN), &both[..1]);
    check(&fx, &attr("DisplayName", ""), &both[..1]);

    let q = |name: &str, attrs: Value| {
        call(
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            json!({"queueUrl": format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}"), "attributes": attrs}),
        )
    };
    let inbound = [("change.out_of_band", "aws_sqs_queue.hl7_inbound"), ("encryption.regression", "aws_sqs_queue.hl7_inbound")];
    check(&fx, &q("ehr-prod-hl7-inbound", json!({"KmsMasterKeyId": ""})), &inbound);
    let export = [("change.out_of_band", "aws_sqs_queue.claims_export"), ("encryption.regression", "aws_sqs_queue.claims_export")];
    check(&fx, &q("ehr-prod-claims-export", json!({"SqsManagedSseEnabled": "false"})), &export);
    // From SSE-SQS to SSE-KMS in one call: stronger, not a regression.
    check(&fx, &q("ehr-prod-claims-export", json!({"SqsManagedSseEnabled": "false", "KmsMasterKeyId": APP_KEY_ARN})), &export[..1]);
    // An unmanaged queue losing its key.
    check(
        &fx,
        &q("jane-tmp", json!({"KmsMasterKeyId": ""})),
        &[("encryption.regression", "https://sqs.us-east-1.amazonaws.com/123456789012/jane-tmp")],
    );
}

#[test]
fn cloudtrail_logs_lambda_and_listener_regressions() {
    let fx = Fixture::samples();
    let trail = [("change.out_of_band", "aws_cloudtrail.main"), ("encryption.regression", "aws_cloudtrail.main")];
    // Stopping, deleting or weakening the trail is a control (control.audit_weakened), not encryption.
    let audit = [("change.out_of_band", "aws_cloudtrail.main"), ("control.audit_weakened", "aws_cloudtrail.main")];
    let ct = |name: &str, extra: Value| {
        let mut p = json!({"name": "st-marys-ehr-prod-trail"});
        if let (Value::Object(p), Value::Object(e)) = (&mut p, extra) {
            p.extend(e);
        }
        call("cloudtrail.amazonaws.com", name, p)
    };
    check(&fx, &ct("UpdateTrail", json!({"kmsKeyId": ""})), &trail);
    check(&fx, &ct("UpdateTrail", json!({"enableLogFileValidation": false})), &audit);
    check(&fx, &ct("UpdateTrail", json!({"isMultiRegionTrail": true})), &trail[..1]);
    check(
        &fx,
        &ct("StopLogging", json!({})).by(console()),
        &[("change.console", "aws_cloudtrail.main"), ("control.audit_weakened", "aws_cloudtrail.main")],
    );
    check(&fx, &ct("StartLogging", json!({})), &trail[..1]);
    check(&fx, &ct("DeleteTrail", json!({})), &audit);

    let lg = "aws_cloudwatch_log_group.cloudtrail";
    check(
        &fx,
        &call("logs.amazonaws.com", "DisassociateKmsKey", json!({"logGroupName": "/aws/cloudtrail/st-marys-ehr-prod"})),
        &[("change.out_of_band", lg), ("encryption.regression", lg)],
    );
    check(
        &fx,
        &call(
            "logs.amazonaws.com",
            "AssociateKmsKey",
            json!({"logGroupName": "/aws/cloudtrail/st-marys-ehr-prod", "kmsKeyId": OTHER_KEY_ARN}),
        ),
        &[("change.out_of_band", lg), ("encryption.regression", lg)],
    );
    // Retention is a logging control: a change, not an encryption regression.
    check(
        &fx,
        &call(
            "logs.amazonaws.com",
            "PutRetentionPolicy",
            json!({"logGroupName": "/aws/cloudtrail/st-marys-ehr-prod", "retentionInDays": 7}),
        ),
        // audit-log retention shortened: a regression of the evidence's protection (issue 3),
        // and a weakened audit control (the control catalog)
        &[("change.out_of_band", lg), ("encryption.regression", lg), ("control.audit_weakened", lg)],
    );

    let fhir = "aws_lambda_function.handler[\"fhir-api\"]";
    check(
        &fx,
        &call("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"functionName": "ehr-fhir-api", "kMSKeyArn": ""})),
        &[("change.out_of_band", fhir), ("encryption.regression", fhir)],
    );
    check(
        &fx,
        &call("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"functionName": "ehr-fhir-api", "memorySize": 1024})),
        &[("change.out_of_band", fhir)],
    );

    let listener = |arn: &str, extra: Value| {
        let mut p = json!({"listenerArn": arn});
        if let (Value::Object(p), Value::Object(e)) = (&mut p, extra) {
            p.extend(e);
        }
        call("elasticloadbalancing.amazonaws.com", "ModifyListener", p)
    };
    let https = [("change.out_of_band", "aws_lb_listener.https"), ("encryption.regression", "aws_lb_listener.https")];
    let f = check(&fx, &listener(HTTPS_LISTENER, json!({"protocol": "HTTP", "port": 80})), &https);
    assert_eq!(only(&f, "encryption.regression").changes[0].actual, json!("HTTP"));
    check(&fx, &listener(HTTPS_LISTENER, json!({"sslPolicy": "ELBSecurityPolicy-2016-08"})), &https);
    check(&fx, &listener(HTTPS_LISTENER, json!({"sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06"})), &https[..1]);
    // The redirect listener is HTTP by design.
    check(
        &fx,
        &listener(HTTP_LISTENER, json!({"protocol": "HTTP", "port": 80})),
        &[("change.out_of_band", "aws_lb_listener.http_redirect")],
    );
}

// ------------------------------------------------------------------------------ secrets, replays

#[test]
fn secrets_in_request_parameters_never_reach_a_finding() {
    let fx = Fixture::samples();
    let c = call(
        "rds.amazonaws.com",
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": "ehr-primary", "masterUserPassword": "hunter2-Sup3rSecret!", "applyImmediately": true}),
    );
    let f = check(&fx, &c, &[("change.out_of_band", "aws_db_instance.ehr_primary")]);
    let pw = f[0].changes.iter().find(|c| c.path == "requestParameters.masterUserPassword").expect("the parameter is reported");
    assert!(pw.actual.as_str().is_some_and(|s| s.starts_with(REDACTED_PREFIX)), "{pw:?}");

    let lambda = call(
        "lambda.amazonaws.com",
        "UpdateFunctionConfiguration20150331v2",
        json!({"functionName": "ehr-fhir-api",
        "environment": {"variables": {"FHIR_BASE": "https://fhir.internal", "DB_URL": "postgres://fhir:hunter2@db.internal/ehr"}},
        "layers": [], "tracingConfig": {"mode": "Active"}, "authToken": "hunter2-token"}),
    );
    let f = check(&fx, &lambda, &[("change.out_of_band", "aws_lambda_function.handler[\"fhir-api\"]")]);
    let text = serde_json::to_string(&f).expect("json");
    assert!(!text.contains("fhir.internal") && !text.contains("hunter2"), "{text}");
    assert!(text.contains("\"Active\""), "ordinary parameters are kept");
}

#[test]
fn replaying_a_call_gives_identical_findings() {
    let fx = Fixture::samples();
    let calls = [
        s3("PutBucketEncryption", sse("AES256", None, false)).by(console()),
        call("ec2.amazonaws.com", "CreateVolume", json!({"size": 10, "zone": "us-east-1a"}))
            .response(json!({"volumeId": "vol-0aa", "encrypted": false})),
        kms("ScheduleKeyDeletion", json!({"pendingWindowInDays": 7})),
        lock_put("jane").by(human()),
    ];
    for c in calls {
        let mut mem = InMemory::default();
        let first = fx.run(&c, &mut mem);
        let second = fx.run(&c, &mut mem);
        assert!(!first.is_empty());
        assert_eq!(first, second, "{}", c.event_name);
        assert_eq!(first, fx.run(&c, &mut InMemory::default()), "fresh memory: same findings");
    }
}

// ------------------------------------------------------------------------------ locks and state

const LOCK_ID: &str = "stmarys-tfstate/prod/data.tfstate";

fn lock_put(_who: &str) -> ApiCall {
    call(
        "dynamodb.amazonaws.com",
        "PutItem",
        json!({"tableName": "terraform-locks", "key": {"LockID": LOCK_ID},
        "item": ["LockID", "Info"], "conditionExpression": "attribute_not_exists(LockID)"}),
    )
    .resource("arn:aws:dynamodb:us-east-1:123456789012:table/terraform-locks", "AWS::DynamoDB::Table")
    .data()
}

fn lock_delete() -> ApiCall {
    call("dynamodb.amazonaws.com", "DeleteItem", json!({"tableName": "terraform-locks", "key": {"LockID": LOCK_ID}})).data()
}

fn object(name: &str, key: &str) -> ApiCall {
    call(
        "s3.amazonaws.com",
        name,
        json!({"bucketName": "stmarys-tfstate", "Host": "stmarys-tfstate.s3.us-east-1.amazonaws.com", "key": key}),
    )
    .resource(&format!("arn:aws:s3:::stmarys-tfstate/{key}"), "AWS::S3::Object")
    .resource("arn:aws:s3:::stmarys-tfstate", "AWS::S3::Bucket")
    .data()
}

#[test]
fn lock_table_contention_outside_pipeline_and_force_unlock() {
    let fx = Fixture::samples();
    let state = format!("s3://{LOCK_ID}");
    let mut mem = InMemory::default();
    // The pipeline takes the lock: remembered, no finding.
    assert!(fx.run(&lock_put("ci").by(pipeline()), &mut mem).is_empty());
    assert_eq!(mem.acquirer(LOCK_ID).and_then(|(p, _)| p.arn), pipeline().arn);
    // A person's plan waits on it.
    let waiting = lock_put("jane").by(human()).failed("ConditionalCheckFailedException");
    let f = fx.run(&waiting, &mut mem);
    assert_eq!(f.iter().map(label).collect::<Vec<_>>(), vec![("lock.contention".to_string(), state.clone())]);
    let holder = &f[0].changes.iter().find(|c| c.path == "holder").expect("holder").actual;
    assert_eq!(holder["principal"], json!(pipeline().arn));
    assert!(f[0].title.contains("terraform-ci/GitHubActions") && f[0].title.contains("jane@stmarys.org"), "{}", f[0].title);
    assert_eq!(f[0].actor.as_ref().and_then(|a| a.principal_arn.clone()), human().arn, "the waiter");
    // Someone else removes the pipeline's lock.
    let f = fx.run(&lock_delete().by(human()), &mut mem);
    assert_eq!(f.iter().map(label).collect::<Vec<_>>(), vec![("lock.force_unlock".to_string(), state.clone())]);
    // The holder's own release is not.
    let mut mem = InMemory::default();
    fx.run(&lock_put("ci").by(pipeline()), &mut mem);
    assert!(fx.run(&lock_delete().by(pipeline()), &mut mem).is_empty());
    // A person takes the lock: outside the pipeline.
    let f = fx.run(&lock_put("jane").by(human()), &mut InMemory::default());
    assert_eq!(f.iter().map(label).collect::<Vec<_>>(), vec![("lock.outside_pipeline".to_string(), state.clone())]);

    // Not locks: the digest item, another table, another failure.
    let digest =
        call("dynamodb.amazonaws.com", "PutItem", json!({"tableName": "terraform-locks", "key": {"LockID": format!("{LOCK_ID}-md5")}}));
    check(&fx, &digest, &[]);
    check(&fx, &call("dynamodb.amazonaws.com", "PutItem", json!({"tableName": "ehr-prod-session-audit", "key": {"LockID": LOCK_ID}})), &[]);
    check(&fx, &lock_put("jane").failed("ProvisionedThroughputExceededException"), &[]);
}

#[test]
fn lock_file_contention_outside_pipeline_and_force_unlock() {
    let fx = Fixture::samples();
    let state = "s3://stmarys-tfstate/env:/staging/app.tfstate";
    let key = "env:/staging/app.tfstate.tflock";
    let mut mem = InMemory::default();
    assert!(fx.run(&object("PutObject", key).by(pipeline()), &mut mem).is_empty());
    let f = fx.run(&object("PutObject", key).by(human()).failed("PreconditionFailed"), &mut mem);
    assert_eq!(f.iter().map(label).collect::<Vec<_>>(), vec![("lock.contention".to_string(), state.to_string())]);
    let f = fx.run(&object("DeleteObject", key).by(other_human()), &mut mem);
    assert_eq!(f.iter().map(label).collect::<Vec<_>>(), vec![("lock.force_unlock".to_string(), state.to_string())]);
    check(&fx, &object("PutObject", key), &[("lock.outside_pipeline", state)]);
}

#[test]
fn state_written_outside_the_pipeline() {
    let fx = Fixture::samples();
    let f = check(
        &fx,
        &object("PutObject", "prod/data.tfstate").response(json!({"x-amz-version-id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"})),
        &[("state.written_outside_pipeline", "s3://stmarys-tfstate/prod/data.tfstate")],
    );
    assert_eq!(f[0].resource.resource_type, "driftwatch::TerraformState");
    check(&fx, &object("PutObject", "prod/data.tfstate").by(pipeline()), &[]);
    check(&fx, &object("PutObject", "prod/data.tfstate").failed("AccessDenied"), &[]);
    check(&fx, &object("PutObject", "exports/report.csv"), &[]);
    // Another bucket is not the state bucket.
    let elsewhere = call("s3.amazonaws.com", "PutObject", json!({"bucketName": IMAGING_BUCKET, "key": "x/terraform.tfstate"})).data();
    check(&fx, &elsewhere, &[]);
}

/// Put `value` at `path` (`requestParameters.a.b[0].c`) in a call, creating objects and lists.
fn set_path(c: &mut ApiCall, path: &driftwatch_core::path::AttrPath, value: &str) {
    use driftwatch_core::path::Step;
    let mut steps = path.0.iter();
    let cur = match steps.next() {
        Some(Step::Key(k)) if k == "requestParameters" => &mut c.request_parameters,
        Some(Step::Key(k)) if k == "responseElements" => &mut c.response_elements,
        _ => &mut c.additional_event_data,
    };
    let cur = driftwatch_core::path::AttrPath(steps.cloned().collect()).entry(cur);
    if cur.is_null() {
        *cur = json!(value);
    }
}

/// Every row, driven through the detector with its own identity fields filled: its templates
/// render, and a creation outside the pipeline is reported as unmanaged under that identity.
#[test]
fn every_row_renders_an_identity() {
    let fx = Fixture::samples();
    for row in ApiTable::builtin().rows() {
        let mut c = call(&row.source, &row.name, json!({}))
            .resource(&format!("arn:aws:svc:us-east-1:123456789012:thing/row-{}", row.name), &row.config_type);
        // A bare placeholder in the ARN list must hold an ARN; everything else a plain name.
        for t in row.arn.iter().filter(|t| t.as_str().starts_with('{')) {
            for p in t.paths() {
                set_path(&mut c, p, &format!("arn:aws:svc:us-east-1:123456789012:thing/row-{}", row.name));
            }
        }
        for t in row.id.iter().chain(&row.arn) {
            for p in t.paths() {
                set_path(&mut c, p, &format!("row-{}", row.name));
            }
        }
        let ids = row.ids(&c);
        assert!(!ids.is_empty() || !row.arns(&c).is_empty(), "{} {}: no identity rendered", row.source, row.name);
        let found = fx.run(&c, &mut InMemory::default());
        let unmanaged: Vec<&Finding> = found.iter().filter(|f| f.rule.id() == "drift.unmanaged").collect();
        if row.kind == Kind::Create {
            assert_eq!(unmanaged.len(), 1, "{} {}: {found:#?}", row.source, row.name);
            assert_eq!(unmanaged[0].resource.resource_type, row.config_type);
            assert!(unmanaged[0].resource.id.contains(&format!("row-{}", row.name)) || ids.is_empty(), "{} {}", row.source, row.name);
        } else {
            assert!(unmanaged.is_empty(), "{} {}: only creations are unmanaged", row.source, row.name);
        }
        assert!(
            found.iter().all(|f| f.rule.id() != "change.console" && f.rule.id() != "change.out_of_band"),
            "{}: nothing managed",
            row.name
        );
    }
}

// ------------------------------------------------------------------ the watcher itself

/// Issue 13 item 3: every write to the exceptions table is `exception.changed`, with its actor —
/// by an admin in the console and by the pipeline alike; a write to another table is not.
#[test]
fn writes_to_the_exceptions_table_are_exception_changed() {
    let fx = Fixture::samples();
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/driftwatch-exceptions";
    let put = call(
        "dynamodb.amazonaws.com",
        "PutItem",
        // As CloudTrail records it: key values plain, the item's attribute names only.
        json!({"tableName": "driftwatch-exceptions", "key": {"id": "EXC-2026-099"}, "item": ["id", "rules", "arn", "approved_by"]}),
    )
    .data()
    .resource(table, "AWS::DynamoDB::Table");
    let got = check(&fx, &put.clone().by(console()), &[("exception.changed", "EXC-2026-099")]);
    assert_eq!(got[0].severity, Severity::High);
    assert_eq!(got[0].actor.as_ref().and_then(|a| a.kind), Some(ActorKind::Console));
    assert!(got[0].title.contains("EXC-2026-099 created or replaced"), "{}", got[0].title);
    check(&fx, &put.clone().by(pipeline()), &[("exception.changed", "EXC-2026-099")]);
    let delete =
        call("dynamodb.amazonaws.com", "DeleteItem", json!({"tableName": "driftwatch-exceptions", "key": {"id": {"S": "EXC-2026-014"}}}))
            .data()
            .by(human());
    check(&fx, &delete, &[("exception.changed", "EXC-2026-014")]);
    let elsewhere =
        call("dynamodb.amazonaws.com", "PutItem", json!({"tableName": "orders", "key": {"id": {"S": "o-1"}}})).data().by(human());
    check(&fx, &elsewhere, &[]);
}

/// Issue 13 item 4: disabling or changing the watcher's own rules, subscriptions, functions,
/// key, trail, Config recorder or evidence bucket is `watcher.tampered` (critical), unless the
/// pipeline does it (a deployment); the same calls on other resources are not.
#[test]
fn blinding_the_watcher_is_watcher_tampered() {
    let fx = Fixture::samples();
    let topic = "arn:aws:sns:us-east-1:123456789012:driftwatch-alerts";
    let key = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-2222-3333-4444-555566667777";
    let cases: Vec<(ApiCall, &str)> = vec![
        (call("events.amazonaws.com", "DisableRule", json!({"name": "driftwatch-trail-s3"})), "driftwatch-trail-s3"),
        (call("events.amazonaws.com", "RemoveTargets", json!({"rule": "driftwatch-sweeper", "ids": ["sweeper"]})), "driftwatch-sweeper"),
        (
            call("sns.amazonaws.com", "Unsubscribe", json!({"subscriptionArn": format!("{topic}:0b3c5d2e-1111-2222-3333-444455556666")})),
            "0b3c5d2e-1111-2222-3333-444455556666",
        ),
        (
            call(
                "sns.amazonaws.com",
                "SetSubscriptionAttributes",
                json!({"subscriptionArn": format!("{topic}:0b3c"), "attributeName": "FilterPolicy", "attributeValue": "{}"}),
            ),
            "0b3c",
        ),
        (
            call("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", json!({"functionName": "driftwatch-trail-watcher"})),
            "driftwatch-trail-watcher",
        ),
        (
            call(
                "lambda.amazonaws.com",
                "PutFunctionConcurrency20171031",
                json!({"functionName": "arn:aws:lambda:us-east-1:123456789012:function:driftwatch-trail-watcher", "reservedConcurrentExecutions": 0}),
            ),
            "driftwatch-trail-watcher",
        ),
        (call("kms.amazonaws.com", "DisableKey", json!({"keyId": key})), "1111aaaa-2222-3333-4444-555566667777"),
        (
            call("cloudtrail.amazonaws.com", "StopLogging", json!({"name": "arn:aws:cloudtrail:us-east-1:123456789012:trail/driftwatch"})),
            "driftwatch",
        ),
        (call("config.amazonaws.com", "StopConfigurationRecorder", json!({"configurationRecorderName": "default"})), "default"),
        (
            call("s3.amazonaws.com", "PutBucketPolicy", json!({"bucketName": "driftwatch-evidence-123456789012", "policy": "{}"})),
            "driftwatch-evidence-123456789012",
        ),
    ];
    for (c, id) in cases {
        // Stopping the trail or the recorder also weakens the account's audit controls: that
        // is a finding whoever does it, the pipeline too.
        let audit = matches!(c.event_name.as_str(), "StopLogging" | "StopConfigurationRecorder");
        let human_want: Vec<(&str, &str)> =
            if audit { vec![("watcher.tampered", id), ("control.audit_weakened", id)] } else { vec![("watcher.tampered", id)] };
        let got = check(&fx, &c.clone().by(human()), &human_want);
        let tampered = got.iter().find(|f| f.rule == Rule::WatcherTampered).expect("watcher.tampered");
        assert_eq!(tampered.severity, Severity::Critical, "{}", c.event_name);
        let pipeline_want: &[(&str, &str)] = if audit { &[("control.audit_weakened", id)] } else { &[] };
        check(&fx, &c.by(pipeline()), pipeline_want);
    }
    // The same calls on resources that are not the watcher's.
    check(&fx, &call("events.amazonaws.com", "DisableRule", json!({"name": "nightly-backup"})).by(human()), &[]);
    check(&fx, &call("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", json!({"functionName": "billing"})).by(human()), &[]);
}

/// Issue 14: in a pipeline-only (production) account, any successful write by a person is a
/// finding even on a resource in no state; the pipeline and AWS services acting on their own
/// are not, nor are reads and failed calls; a break-glass role is still reported, at `low`,
/// with its actor (on managed resources too).
#[test]
fn a_person_writing_in_a_pipeline_only_account_is_reported_on_unmanaged_resources_too() {
    let mut fx = Fixture::samples();
    let unmanaged = || call("s3.amazonaws.com", "PutBucketTagging", json!({"bucketName": "stmarys-scratch-exports", "tagging": ""}));
    // Without the flag an unmanaged bucket's tags are nobody's business.
    check(&fx, &unmanaged().by(human()), &[]);
    fx.policy.pipeline.only = true;
    fx.policy.pipeline.break_glass = vec!["arn:aws:iam::*:role/BreakGlass".into()];
    let f = check(&fx, &unmanaged().by(human()), &[("change.out_of_band", "stmarys-scratch-exports")]);
    assert_eq!(f[0].severity, Severity::Medium);
    assert!(f[0].title.contains("pipeline-only account"), "{}", f[0].title);
    check(&fx, &unmanaged().by(console()), &[("change.console", "stmarys-scratch-exports")]);
    check(&fx, &unmanaged().by(pipeline()), &[]);
    check(&fx, &unmanaged().by(service()), &[]);
    check(&fx, &unmanaged().by(human()).failed("AccessDenied"), &[]);
    let mut read = unmanaged().by(human());
    read.event_name = "GetBucketTagging".into();
    read.read_only = Some(true);
    check(&fx, &read, &[]);
    let glass = Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/BreakGlass/oncall".into()),
        session_issuer_arn: Some("arn:aws:iam::123456789012:role/BreakGlass".into()),
        session_name: Some("oncall".into()),
        ..human()
    };
    let f = check(&fx, &unmanaged().by(glass.clone()), &[("change.out_of_band", "stmarys-scratch-exports")]);
    assert_eq!(f[0].severity, Severity::Low);
    assert!(f[0].title.contains("break-glass"), "{}", f[0].title);
    assert_eq!(
        f[0].actor.as_ref().and_then(|a| a.principal_arn.as_deref()),
        Some("arn:aws:sts::123456789012:assumed-role/BreakGlass/oncall")
    );
    // A managed resource changed by the break-glass role: change.out_of_band, low.
    let managed = s3("PutBucketTagging", json!({"tagging": ""})).by(glass);
    let f = fx.run(&managed, &mut InMemory::default());
    let change = f.iter().find(|f| f.rule.id() == "change.out_of_band").expect("change.out_of_band");
    assert_eq!(change.severity, Severity::Low);
}
