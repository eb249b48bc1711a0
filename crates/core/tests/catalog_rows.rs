//! One test per catalog row (STYLE.md habits 4 and 8): every `terraform_type` in
//! `catalog/catalog.toml` has a `#[test]` below that feeds a tiny, realistic Terraform v4
//! state and an AWS Config configuration item through the real pipeline
//! (`parse_state` → `ManagedIndex` → `parse_document` → `drift::scan`) and checks
//!
//! * the matching live item (written the way AWS Config writes it: ARNs for bare key ids,
//!   tag lists for tag maps, numbers and booleans as strings, reordered lists, reformatted
//!   policies) gives no finding, and every comparable attribute of the row was actually
//!   compared (a value on both sides, or a catalog `default`);
//! * each mutation of the live item (or of the state) gives exactly the expected findings:
//!   rule, Terraform address and changed paths;
//! * every encryption attribute has a weakening that gives `encryption.regression`, and every
//!   ordered one a strengthening that gives `drift.changed` (never a regression).
//!
//! Adding a catalog row without a test here fails `every_catalog_row_has_a_test`.

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::{Catalog, Encryption, ResourceSpec, Role};
use driftwatch_core::drift::{self, ScanOutcome, ScanPolicy};
use driftwatch_core::finding::Change;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::redact::REDACTED_PREFIX;
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Finding, Redactor, Rule, Severity};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The catalog rows tested below, one `#[test] fn <terraform_type>()` each.
const TESTED: &[&str] = &[
    "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_logging",
    "aws_kms_key",
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_ebs_volume",
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_dynamodb_table",
    "aws_sns_topic",
    "aws_sqs_queue",
    "aws_cloudtrail",
    "aws_iam_role",
    "aws_lambda_function",
    "aws_efs_file_system",
    "aws_cloudwatch_log_group",
    "aws_lb_listener",
];

// ------------------------------------------------------------------------------ fixtures

const ACCOUNT: &str = "123456789012";
const LINEAGE: &str = "3b434c72-b76b-4317-a73a-370408f4de68";
const PROVIDER: &str = "provider[\"registry.terraform.io/hashicorp/aws\"]";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/0987dcba-09fe-87dc-65ba-ba0987654321";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T06:05:00Z").map(|t| t.with_timezone(&Utc)).expect("valid timestamp")
}

/// A managed resource with one instance, as Terraform writes it in a v4 state.
fn resource(rtype: &str, name: &str, attributes: Value) -> Value {
    resource_with_sensitive(rtype, name, attributes, &[])
}

/// The same, with top-level attributes listed in `sensitive_attributes`.
fn resource_with_sensitive(rtype: &str, name: &str, attributes: Value, sensitive: &[&str]) -> Value {
    let sensitive: Vec<Value> = sensitive.iter().map(|a| json!([{"type": "get_attr", "value": a}])).collect();
    json!({
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider": PROVIDER,
        "instances": [{
            "schema_version": 0,
            "attributes": attributes,
            "sensitive_attributes": sensitive,
            "private": "bnVsbA=="
        }]
    })
}

fn state_bytes(resources: &[Value]) -> Vec<u8> {
    let doc = json!({
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 42,
        "lineage": LINEAGE,
        "outputs": {},
        "resources": resources,
        "check_results": null
    });
    serde_json::to_vec_pretty(&doc).expect("serialisable")
}

/// A configuration item as it appears in a Config snapshot delivered to S3. `tags: None`
/// leaves the top-level `tags` out, as `BatchGetResourceConfig` items do.
fn item(resource_type: &str, resource_id: &str, arn: &str, configuration: Value, supplementary: Value, tags: Option<Value>) -> Value {
    let mut it = json!({
        "relatedEvents": [],
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": supplementary,
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": "2026-11-20T06:00:00.766Z",
        "configurationStateId": "1795154400766",
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": "OK",
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": resource_id,
        "ARN": arn,
        "awsRegion": "us-east-1",
        "availabilityZone": "Regional",
        "configurationStateMd5Hash": ""
    });
    if let Some(t) = tags {
        it["tags"] = t;
    }
    it
}

/// Percent-encode everything but RFC 3986 unreserved characters (how AWS Config writes IAM
/// policy documents).
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ------------------------------------------------------------------------------ the check

/// One row's data: the state resources (parents first, the row's own resource(s) last), the
/// matching live item, attributes compared only through their catalog `default` (absent on
/// one side), and mutations with their expected findings.
struct Row {
    resources: Vec<Value>,
    live: Value,
    absent: &'static [&'static str],
    mutations: Vec<Mutation>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Any out-of-band change.
    Drift,
    /// An encryption attribute moved to a weaker value.
    Weaken,
    /// An encryption attribute moved to a stronger value than the state asks for.
    Strengthen,
}

struct Mutation {
    what: &'static str,
    kind: Kind,
    edits: Vec<Edit>,
    expect: Vec<Expect>,
}

enum Edit {
    /// Set a JSON pointer in the live item (`-` appends to an array).
    Live(&'static str, Value),
    /// Remove a JSON pointer from the live item.
    LiveGone(&'static str),
    /// Set a JSON pointer in the attributes of the last state resource.
    Tf(&'static str, Value),
}

struct Expect {
    rule: Rule,
    address: &'static str,
    paths: Vec<&'static str>,
}

fn drift_m(what: &'static str, edits: Vec<Edit>, expect: Vec<Expect>) -> Mutation {
    Mutation { what, kind: Kind::Drift, edits, expect }
}
fn weaken(what: &'static str, edits: Vec<Edit>, expect: Vec<Expect>) -> Mutation {
    Mutation { what, kind: Kind::Weaken, edits, expect }
}
fn strengthen(what: &'static str, edits: Vec<Edit>, expect: Vec<Expect>) -> Mutation {
    Mutation { what, kind: Kind::Strengthen, edits, expect }
}
fn live(ptr: &'static str, v: Value) -> Edit {
    Edit::Live(ptr, v)
}
fn gone(ptr: &'static str) -> Edit {
    Edit::LiveGone(ptr)
}
fn tf(ptr: &'static str, v: Value) -> Edit {
    Edit::Tf(ptr, v)
}
fn changed(address: &'static str, paths: &[&'static str]) -> Expect {
    Expect { rule: Rule::DriftChanged, address, paths: paths.to_vec() }
}
fn regression(address: &'static str, paths: &[&'static str]) -> Expect {
    Expect { rule: Rule::EncryptionRegression, address, paths: paths.to_vec() }
}

fn set(doc: &mut Value, ptr: &str, v: Value) {
    let (parent, last) = ptr.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {ptr}"));
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(last.to_string(), v);
        }
        Some(Value::Array(a)) if last == "-" => a.push(v),
        Some(Value::Array(a)) => {
            let i: usize = last.parse().unwrap_or_else(|_| panic!("bad index in {ptr}"));
            a[i] = v;
        }
        _ => panic!("fixture has no object or array at {parent} (setting {ptr})"),
    }
}

fn remove(doc: &mut Value, ptr: &str) {
    let (parent, last) = ptr.rsplit_once('/').unwrap_or_else(|| panic!("bad pointer {ptr}"));
    let removed = doc.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|m| m.remove(last));
    assert!(removed.is_some(), "fixture has nothing at {ptr} to remove");
}

struct Scanned {
    outcome: ScanOutcome,
    index: ManagedIndex,
    live: LiveInventory,
}

fn scan_at(location: StateLocation, resources: &[Value], items: &[Value]) -> Scanned {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"t");
    let state = parse_state(&state_bytes(resources), location, &catalog, &redactor).expect("fixture state parses");
    let index = ManagedIndex::build([state], &catalog);
    let doc = json!({"fileVersion": "1.0", "configSnapshotId": "87ec1638-3427-42ce-a5cc-093404182296", "configurationItems": items});
    let (parsed, errors) =
        live::parse_document(&serde_json::to_vec(&doc).expect("serialisable"), &redactor).expect("fixture live document parses");
    assert!(errors.is_empty(), "fixture live items rejected: {errors:?}");
    let live: LiveInventory = parsed.into_iter().collect();
    let outcome = drift::scan(&index, &live, &catalog, &redactor, &ScanPolicy::default(), now());
    Scanned { outcome, index, live }
}

fn scan(resources: &[Value], items: &[Value]) -> Scanned {
    scan_at(StateLocation::local("t.tfstate"), resources, items)
}

/// (rule, address, sorted change paths) of each finding, sorted.
fn summary(findings: &[Finding]) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> = findings
        .iter()
        .map(|f| {
            let mut paths: Vec<String> = f.changes.iter().map(|c| c.path.clone()).collect();
            paths.sort();
            (f.rule.id().to_string(), f.resource.address.clone().unwrap_or_default(), paths)
        })
        .collect();
    out.sort();
    out
}

fn expected(expect: &[Expect]) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> = expect
        .iter()
        .map(|e| {
            let mut paths: Vec<String> = e.paths.iter().map(|p| p.to_string()).collect();
            paths.sort();
            (e.rule.id().to_string(), e.address.to_string(), paths)
        })
        .collect();
    out.sort();
    out
}

/// Is this change an ordered encryption attribute of the row moving to a stronger value?
fn is_strengthening(spec: &ResourceSpec, c: &Change) -> bool {
    spec.attrs.iter().filter(|a| a.tf.to_string() == c.path).any(|a| match &a.encryption {
        Some(Encryption::Ordered { order }) => {
            let pos = |v: &Value| order.iter().position(|o| o == v);
            matches!((pos(&c.desired), pos(&c.actual)), (Some(d), Some(a)) if a > d)
        }
        _ => false,
    })
}

fn check(tf_type: &str, row: Row) {
    let catalog = Catalog::builtin();
    assert!(TESTED.contains(&tf_type), "{tf_type} is tested but not listed in TESTED");
    let spec = catalog.get(tf_type).unwrap_or_else(|| panic!("{tf_type} is not a catalog row"));
    let own = row.resources.last().expect("a row has resources");
    assert_eq!(own["type"], tf_type, "the row's own resource comes last in `resources`");

    // (a) the matching live item gives no finding
    let base = scan(&row.resources, std::slice::from_ref(&row.live));
    assert!(base.outcome.findings.is_empty(), "{tf_type}: the matching live item gives findings:\n{:#?}", base.outcome.findings);
    assert!(base.outcome.notes.is_empty(), "{tf_type}: notes: {:?}", base.outcome.notes);

    // ... and that is because every comparable attribute was compared, not skipped.
    for name in row.absent {
        assert!(
            spec.attrs.iter().any(|a| a.tf.to_string() == *name && a.default.is_some()),
            "{tf_type}: `absent` lists {name}, which is not an attribute with a default"
        );
    }
    let entries: Vec<_> = base.index.entries().iter().filter(|e| e.terraform_type == tf_type).collect();
    assert!(!entries.is_empty(), "{tf_type}: the fixture resource was not indexed: {:?}", base.index.problems);
    for e in &entries {
        let item = base.live.get(&e.config_type, &e.resource_id).unwrap_or_else(|| panic!("{tf_type}: no live item {}", e.resource_id));
        if spec.role == Role::Contributor {
            assert!(
                spec.contributes.iter().any(|c| !base.index.contributions(&e.config_type, &e.resource_id, &c.to).is_empty()),
                "{tf_type}: {} contributed nothing",
                e.address
            );
            continue;
        }
        for (a, desired) in spec.attrs.iter().zip(e.desired.iter()) {
            let name = a.tf.to_string();
            if a.sensitive || a.live.is_empty() || row.absent.contains(&name.as_str()) {
                continue;
            }
            assert!(!desired.is_null(), "{tf_type}.{name}: no value in the state fixture");
            assert!(
                a.live.iter().any(|p| p.get(&item.doc).is_some_and(|v| !v.is_null())),
                "{tf_type}.{name}: no value in the live fixture at any of {:?}",
                a.live.iter().map(ToString::to_string).collect::<Vec<_>>()
            );
        }
    }

    // (b) each mutation gives exactly the expected findings
    let mut weakened = BTreeSet::new();
    let mut strengthened = BTreeSet::new();
    for m in &row.mutations {
        assert!(!m.expect.is_empty(), "{tf_type}: {}: a mutation expects findings", m.what);
        let mut resources = row.resources.clone();
        let mut item = row.live.clone();
        for e in &m.edits {
            match e {
                Edit::Live(p, v) => set(&mut item, p, v.clone()),
                Edit::LiveGone(p) => remove(&mut item, p),
                Edit::Tf(p, v) => {
                    let last = resources.last_mut().expect("a row has resources");
                    set(&mut last["instances"][0]["attributes"], p, v.clone())
                }
            }
        }
        let got = scan(&resources, &[item]);
        let findings = &got.outcome.findings;
        assert_eq!(summary(findings), expected(&m.expect), "{tf_type}: {}:\n{findings:#?}", m.what);
        assert!(got.outcome.notes.is_empty(), "{tf_type}: {}: notes: {:?}", m.what, got.outcome.notes);
        for f in findings {
            assert!(!f.controls.is_empty(), "{tf_type}: {}: a finding without controls", m.what);
            assert!(!f.fingerprint.is_empty() && !f.title.is_empty());
            if f.rule == Rule::EncryptionRegression {
                assert!(f.severity >= Severity::High, "{tf_type}: {}: a regression below high", m.what);
            }
        }
        match m.kind {
            Kind::Weaken => {
                for f in findings.iter().filter(|f| f.rule == Rule::EncryptionRegression) {
                    weakened.extend(f.changes.iter().map(|c| c.path.clone()));
                }
            }
            Kind::Strengthen => {
                assert!(
                    findings.iter().all(|f| f.rule != Rule::EncryptionRegression),
                    "{tf_type}: {}: a strengthening reported as a regression",
                    m.what
                );
                for f in findings.iter().filter(|f| f.rule == Rule::DriftChanged) {
                    strengthened.extend(f.changes.iter().filter(|c| is_strengthening(spec, c)).map(|c| c.path.clone()));
                }
            }
            Kind::Drift => {}
        }
    }

    // (c) encryption attributes: every one has a weakening, every ordered one a strengthening
    for a in spec.attrs.iter().filter(|a| a.encryption.is_some()) {
        let name = a.tf.to_string();
        assert!(weakened.contains(&name), "{tf_type}.{name} is an encryption attribute: add a mutation that weakens it");
        if let Some(Encryption::Ordered { order }) = &a.encryption {
            if order.len() > 1 {
                assert!(strengthened.contains(&name), "{tf_type}.{name} is ordered: add a mutation that strengthens it");
            }
        }
    }
}

#[test]
fn every_catalog_row_has_a_test() {
    // The rows of catalog.toml; those of catalog/resources/*.toml have their pairs
    // (catalog_pairs.rs).
    let catalog = Catalog::from_toml(driftwatch_core::catalog::BUILTIN).expect("catalog.toml loads");
    let rows: BTreeSet<&str> = catalog.rows().iter().map(|r| r.terraform_type.as_str()).collect();
    let tested: BTreeSet<&str> = TESTED.iter().copied().collect();
    assert_eq!(tested.len(), TESTED.len(), "TESTED lists a type twice");
    let untested: Vec<_> = rows.difference(&tested).collect();
    let stale: Vec<_> = tested.difference(&rows).collect();
    assert!(untested.is_empty(), "catalog rows without a test in tests/catalog_rows.rs: {untested:?}");
    assert!(stale.is_empty(), "tested types that are no longer catalog rows: {stale:?}");
}

// ------------------------------------------------------------------------------ S3

const BUCKET: &str = "ehr-prod-audit-logs-123456789012";
const BUCKET_ARN: &str = "arn:aws:s3:::ehr-prod-audit-logs-123456789012";

fn bucket_tf(object_lock: bool) -> Value {
    resource(
        "aws_s3_bucket",
        "audit",
        json!({
            "id": BUCKET,
            "arn": BUCKET_ARN,
            "bucket": BUCKET,
            "bucket_domain_name": "ehr-prod-audit-logs-123456789012.s3.amazonaws.com",
            "bucket_prefix": "",
            "force_destroy": false,
            "hosted_zone_id": "Z3AQBSTGFYJSTF",
            "object_lock_enabled": object_lock,
            "region": "us-east-1",
            "tags": {"Name": "audit-logs"},
            "tags_all": {"Environment": "prod", "Name": "audit-logs", "Owner": "platform-team"}
        }),
    )
}

/// A bucket's configuration item with everything unconfigured, plus `sup`.
fn bucket_live(sup: Value) -> Value {
    let mut supplementary = json!({
        "AccessControlList": "{\"grantSet\":null,\"grantList\":[],\"owner\":{\"displayName\":null,\"id\":\"a1b2c3\"},\"isRequesterCharged\":false}",
        "BucketAccelerateConfiguration": {"status": null},
        "BucketLoggingConfiguration": {"destinationBucketName": null, "logFilePrefix": null},
        "BucketNotificationConfiguration": {"configurations": {}},
        "BucketPolicy": {"policyText": null},
        "BucketVersioningConfiguration": {"status": "Off", "isMfaDeleteEnabled": null},
        "IsRequesterPaysEnabled": false
    });
    for (k, v) in sup.as_object().cloned().unwrap_or_default() {
        supplementary[k] = v;
    }
    item(
        "AWS::S3::Bucket",
        BUCKET,
        BUCKET_ARN,
        json!({"name": BUCKET, "owner": {"displayName": null, "id": "a1b2c3"}, "creationDate": "2024-11-17T19:48:53.000Z"}),
        supplementary,
        Some(json!({"Owner": "platform-team", "Name": "audit-logs", "Environment": "prod"})),
    )
}

#[test]
fn aws_s3_bucket() {
    check(
        "aws_s3_bucket",
        Row {
            resources: vec![bucket_tf(true)],
            // object lock written "Enabled", tags as a map in another key order
            live: bucket_live(json!({"ObjectLockConfiguration": {"objectLockEnabled": "Enabled", "rule": null}})),
            absent: &[],
            mutations: vec![
                drift_m(
                    "tag edited in the console",
                    vec![live("/tags/Environment", json!("staging"))],
                    vec![changed("aws_s3_bucket.audit", &["tags_all"])],
                ),
                drift_m(
                    "object lock configuration gone",
                    vec![gone("/supplementaryConfiguration/ObjectLockConfiguration")],
                    vec![changed("aws_s3_bucket.audit", &["object_lock_enabled"])],
                ),
            ],
        },
    );
}

const SSE_ALG: &str = "rule[0].apply_server_side_encryption_by_default[0].sse_algorithm";
const SSE_KEY: &str = "rule[0].apply_server_side_encryption_by_default[0].kms_master_key_id";
const SSE_BUCKET_KEY: &str = "rule[0].bucket_key_enabled";
const SSE_ADDR: &str = "aws_s3_bucket_server_side_encryption_configuration.audit";

#[test]
fn aws_s3_bucket_server_side_encryption_configuration() {
    check(
        "aws_s3_bucket_server_side_encryption_configuration",
        Row {
            resources: vec![
                bucket_tf(false),
                resource(
                    "aws_s3_bucket_server_side_encryption_configuration",
                    "audit",
                    json!({
                        "id": BUCKET,
                        "bucket": BUCKET,
                        "expected_bucket_owner": "",
                        "rule": [{
                            "apply_server_side_encryption_by_default": [{"kms_master_key_id": KEY_ARN, "sse_algorithm": "aws:kms"}],
                            "bucket_key_enabled": true
                        }]
                    }),
                ),
            ],
            // the key as a bare key id where the state has its ARN
            live: bucket_live(json!({"ServerSideEncryptionConfiguration": {"rules": [{
                "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": KEY_ID},
                "bucketKeyEnabled": true
            }]}})),
            absent: &[],
            mutations: vec![
                weaken(
                    "SSE-KMS replaced by SSE-S3",
                    vec![
                        live("/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules/0/applyServerSideEncryptionByDefault/sseAlgorithm", json!("AES256")),
                        gone("/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules/0/applyServerSideEncryptionByDefault/kmsMasterKeyID"),
                    ],
                    vec![regression(SSE_ADDR, &[SSE_ALG, SSE_KEY])],
                ),
                weaken(
                    "another KMS key",
                    vec![live("/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules/0/applyServerSideEncryptionByDefault/kmsMasterKeyID", json!(OTHER_KEY_ARN))],
                    vec![regression(SSE_ADDR, &[SSE_KEY])],
                ),
                weaken(
                    "bucket key disabled",
                    vec![live("/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules/0/bucketKeyEnabled", json!(false))],
                    vec![regression(SSE_ADDR, &[SSE_BUCKET_KEY])],
                ),
                strengthen(
                    "state asks for SSE-S3, bucket has SSE-KMS with a bucket key",
                    vec![
                        tf("/rule/0/apply_server_side_encryption_by_default/0/sse_algorithm", json!("AES256")),
                        tf("/rule/0/apply_server_side_encryption_by_default/0/kms_master_key_id", json!("")),
                        tf("/rule/0/bucket_key_enabled", json!(false)),
                    ],
                    vec![changed(SSE_ADDR, &[SSE_ALG, SSE_KEY, SSE_BUCKET_KEY])],
                ),
                strengthen(
                    "dual-layer SSE-KMS",
                    vec![live("/supplementaryConfiguration/ServerSideEncryptionConfiguration/rules/0/applyServerSideEncryptionByDefault/sseAlgorithm", json!("aws:kms:dsse"))],
                    vec![changed(SSE_ADDR, &[SSE_ALG])],
                ),
            ],
        },
    );
}

#[test]
fn aws_s3_bucket_versioning() {
    const ADDR: &str = "aws_s3_bucket_versioning.audit";
    check(
        "aws_s3_bucket_versioning",
        Row {
            resources: vec![
                bucket_tf(false),
                resource(
                    "aws_s3_bucket_versioning",
                    "audit",
                    json!({
                        "id": BUCKET,
                        "bucket": BUCKET,
                        "expected_bucket_owner": "",
                        "mfa": null,
                        "versioning_configuration": [{"mfa_delete": "", "status": "Enabled"}]
                    }),
                ),
            ],
            // supplementary configuration value as a JSON string (BatchGetResourceConfig style)
            live: bucket_live(json!({"BucketVersioningConfiguration": "{\"status\":\"Enabled\",\"isMfaDeleteEnabled\":null}"})),
            absent: &[],
            mutations: vec![
                drift_m(
                    "versioning suspended",
                    vec![live(
                        "/supplementaryConfiguration/BucketVersioningConfiguration",
                        json!({"status": "Suspended", "isMfaDeleteEnabled": null}),
                    )],
                    vec![changed(ADDR, &["versioning_configuration[0].status"])],
                ),
                drift_m(
                    "no versioning configuration recorded (Off)",
                    vec![gone("/supplementaryConfiguration/BucketVersioningConfiguration")],
                    vec![changed(ADDR, &["versioning_configuration[0].status"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_s3_bucket_public_access_block() {
    const ADDR: &str = "aws_s3_bucket_public_access_block.audit";
    check(
        "aws_s3_bucket_public_access_block",
        Row {
            resources: vec![
                bucket_tf(false),
                resource(
                    "aws_s3_bucket_public_access_block",
                    "audit",
                    json!({
                        "id": BUCKET,
                        "bucket": BUCKET,
                        "block_public_acls": true,
                        "block_public_policy": true,
                        "ignore_public_acls": true,
                        "restrict_public_buckets": true,
                        "skip_destroy": null
                    }),
                ),
            ],
            live: bucket_live(json!({"PublicAccessBlockConfiguration": {
                "blockPublicAcls": true, "ignorePublicAcls": "true", "blockPublicPolicy": true, "restrictPublicBuckets": true
            }})),
            absent: &[],
            mutations: vec![
                drift_m(
                    "public policies allowed",
                    vec![
                        live("/supplementaryConfiguration/PublicAccessBlockConfiguration/blockPublicPolicy", json!(false)),
                        live("/supplementaryConfiguration/PublicAccessBlockConfiguration/restrictPublicBuckets", json!(false)),
                    ],
                    vec![changed(ADDR, &["block_public_policy", "restrict_public_buckets"])],
                ),
                drift_m(
                    "public access block deleted",
                    vec![gone("/supplementaryConfiguration/PublicAccessBlockConfiguration")],
                    vec![changed(ADDR, &["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"])],
                ),
            ],
        },
    );
}

fn deny_insecure_transport() -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET_ARN, "arn:aws:s3:::ehr-prod-audit-logs-123456789012/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

fn allow_cloudtrail(principal: Value) -> Value {
    json!({
        "Sid": "AllowCloudTrailWrite",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::ehr-prod-audit-logs-123456789012/AWSLogs/123456789012/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    })
}

/// The same policy as AWS returns it: statements and lists reordered, scalars as lists,
/// `false` as a boolean, pretty-printed.
fn bucket_policy_live(with_deny: bool, principal: Value) -> Value {
    let mut statements = vec![json!({
        "Condition": {"StringEquals": {"s3:x-amz-acl": ["bucket-owner-full-control"]}},
        "Resource": ["arn:aws:s3:::ehr-prod-audit-logs-123456789012/AWSLogs/123456789012/*"],
        "Action": ["s3:PutObject"],
        "Principal": principal,
        "Effect": "Allow",
        "Sid": "AllowCloudTrailWrite"
    })];
    if with_deny {
        statements.push(json!({
            "Condition": {"Bool": {"aws:SecureTransport": false}},
            "Resource": ["arn:aws:s3:::ehr-prod-audit-logs-123456789012/*", BUCKET_ARN],
            "Action": ["s3:*"],
            "Principal": "*",
            "Effect": "Deny",
            "Sid": "DenyInsecureTransport"
        }));
    }
    let text = serde_json::to_string_pretty(&json!({"Statement": statements, "Version": "2012-10-17"})).expect("serialisable");
    json!({"policyText": text})
}

#[test]
fn aws_s3_bucket_policy() {
    const ADDR: &str = "aws_s3_bucket_policy.audit";
    let cloudtrail = json!({"Service": "cloudtrail.amazonaws.com"});
    let policy = |statements: Vec<Value>| json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    check(
        "aws_s3_bucket_policy",
        Row {
            resources: vec![
                bucket_tf(false),
                resource(
                    "aws_s3_bucket_policy",
                    "audit",
                    json!({
                        "id": BUCKET,
                        "bucket": BUCKET,
                        "policy": policy(vec![deny_insecure_transport(), allow_cloudtrail(cloudtrail.clone())])
                    }),
                ),
            ],
            live: bucket_live(json!({"BucketPolicy": bucket_policy_live(true, json!({"Service": ["cloudtrail.amazonaws.com"]}))})),
            absent: &[],
            mutations: vec![
                weaken(
                    "TLS-only statement deleted",
                    vec![live("/supplementaryConfiguration/BucketPolicy", bucket_policy_live(false, cloudtrail.clone()))],
                    vec![changed(ADDR, &["policy"]), regression(ADDR, &["policy"])],
                ),
                strengthen(
                    "TLS-only statement added outside Terraform",
                    vec![tf("/policy", json!(policy(vec![allow_cloudtrail(cloudtrail.clone())])))],
                    // the document changed (policy_json) and secure transport went false → true
                    vec![changed(ADDR, &["policy", "policy"])],
                ),
                drift_m(
                    "write opened to everyone",
                    vec![live("/supplementaryConfiguration/BucketPolicy", bucket_policy_live(true, json!("*")))],
                    vec![changed(ADDR, &["policy"])],
                ),
                weaken(
                    "bucket policy deleted out of band",
                    vec![live("/supplementaryConfiguration/BucketPolicy", json!({"policyText": null}))],
                    vec![changed(ADDR, &["policy"]), regression(ADDR, &["policy"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_s3_bucket_logging() {
    const ADDR: &str = "aws_s3_bucket_logging.audit";
    check(
        "aws_s3_bucket_logging",
        Row {
            resources: vec![
                bucket_tf(false),
                resource(
                    "aws_s3_bucket_logging",
                    "audit",
                    json!({
                        "id": BUCKET,
                        "bucket": BUCKET,
                        "expected_bucket_owner": "",
                        "target_bucket": "ehr-prod-access-logs-123456789012",
                        "target_grant": [],
                        "target_object_key_format": [],
                        "target_prefix": "s3/audit/"
                    }),
                ),
            ],
            live: bucket_live(json!({"BucketLoggingConfiguration": {
                "destinationBucketName": "ehr-prod-access-logs-123456789012", "logFilePrefix": "s3/audit/"
            }})),
            absent: &[],
            mutations: vec![
                drift_m(
                    "access logging turned off",
                    vec![live(
                        "/supplementaryConfiguration/BucketLoggingConfiguration",
                        json!({"destinationBucketName": null, "logFilePrefix": null}),
                    )],
                    vec![changed(ADDR, &["target_bucket", "target_prefix"])],
                ),
                drift_m(
                    "logs sent elsewhere",
                    vec![live("/supplementaryConfiguration/BucketLoggingConfiguration/destinationBucketName", json!("attacker-bucket"))],
                    vec![changed(ADDR, &["target_bucket"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ KMS

#[test]
fn aws_kms_key() {
    const ADDR: &str = "aws_kms_key.app";
    check(
        "aws_kms_key",
        Row {
            resources: vec![resource(
                "aws_kms_key",
                "app",
                json!({
                    "arn": KEY_ARN,
                    "bypass_policy_lockout_safety_check": false,
                    "custom_key_store_id": "",
                    "customer_master_key_spec": "SYMMETRIC_DEFAULT",
                    "deletion_window_in_days": 30,
                    "description": "ehr-prod application data key",
                    "enable_key_rotation": true,
                    "id": KEY_ID,
                    "is_enabled": true,
                    "key_id": KEY_ID,
                    "key_usage": "ENCRYPT_DECRYPT",
                    "multi_region": false,
                    "policy": "{\"Statement\":[{\"Action\":\"kms:*\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Resource\":\"*\"}],\"Version\":\"2012-10-17\"}",
                    "rotation_period_in_days": 365,
                    "tags_all": {"Name": "ehr-app"}
                }),
            )],
            live: item(
                "AWS::KMS::Key",
                KEY_ID,
                KEY_ARN,
                json!({
                    "aWSAccountId": ACCOUNT,
                    "keyId": KEY_ID,
                    "arn": KEY_ARN,
                    "creationDate": "2024-11-17T19:48:53.000Z",
                    "enabled": true,
                    "description": "ehr-prod application data key",
                    "keyUsage": "ENCRYPT_DECRYPT",
                    "keyState": "Enabled",
                    "origin": "AWS_KMS",
                    "keyManager": "CUSTOMER",
                    "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
                    "keySpec": "SYMMETRIC_DEFAULT",
                    "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                    "multiRegion": false
                }),
                // rotation status as the string Config records
                json!({"KeyRotationStatus": "true"}),
                Some(json!({"Name": "ehr-app"})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "rotation turned off",
                    vec![live("/supplementaryConfiguration/KeyRotationStatus", json!("false"))],
                    vec![regression(ADDR, &["enable_key_rotation"])],
                ),
                weaken(
                    "key disabled",
                    vec![live("/configuration/enabled", json!(false)), live("/configuration/keyState", json!("Disabled"))],
                    vec![regression(ADDR, &["is_enabled"])],
                ),
                strengthen(
                    "state has rotation off and the key disabled, live both on",
                    vec![tf("/enable_key_rotation", json!(false)), tf("/is_enabled", json!(false))],
                    vec![changed(ADDR, &["enable_key_rotation", "is_enabled"])],
                ),
                drift_m(
                    "description edited",
                    vec![live("/configuration/description", json!("temp"))],
                    vec![changed(ADDR, &["description"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ RDS

const DBI_RESOURCE_ID: &str = "db-7QZ4ZJ3X5XJ6G2YV5WQK3DHA4M";

#[test]
fn aws_db_instance() {
    const ADDR: &str = "aws_db_instance.ehr";
    check(
        "aws_db_instance",
        Row {
            resources: vec![resource_with_sensitive(
                "aws_db_instance",
                "ehr",
                json!({
                    "address": "ehr-prod.c7x2kq9vz1ab.us-east-1.rds.amazonaws.com",
                    "allocated_storage": 200,
                    "arn": "arn:aws:rds:us-east-1:123456789012:db:ehr-prod",
                    "backup_retention_period": 14,
                    "deletion_protection": true,
                    "engine": "postgres",
                    "engine_version": "16.3",
                    "iam_database_authentication_enabled": true,
                    "id": DBI_RESOURCE_ID,
                    "identifier": "ehr-prod",
                    "instance_class": "db.r6g.large",
                    "kms_key_id": KEY_ARN,
                    "multi_az": true,
                    "password": "Sup3r-Secret-Hunter2-XYZ",
                    "publicly_accessible": false,
                    "resource_id": DBI_RESOURCE_ID,
                    "storage_encrypted": true,
                    "username": "ehr_admin"
                }),
                &["password"],
            )],
            live: item(
                "AWS::RDS::DBInstance",
                DBI_RESOURCE_ID,
                "arn:aws:rds:us-east-1:123456789012:db:ehr-prod",
                json!({
                    "dBInstanceIdentifier": "ehr-prod",
                    "dBInstanceClass": "db.r6g.large",
                    "engine": "postgres",
                    "dBInstanceStatus": "available",
                    "masterUsername": "ehr_admin",
                    "backupRetentionPeriod": 14,
                    "multiAZ": true,
                    "publiclyAccessible": false,
                    "storageEncrypted": true,
                    "kmsKeyId": KEY_ARN,
                    "dbiResourceId": DBI_RESOURCE_ID,
                    "iAMDatabaseAuthenticationEnabled": true,
                    "deletionProtection": true,
                    "dBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:ehr-prod"
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "restored from an unencrypted snapshot",
                    vec![live("/configuration/storageEncrypted", json!(false)), gone("/configuration/kmsKeyId")],
                    vec![regression(ADDR, &["kms_key_id", "storage_encrypted"])],
                ),
                weaken(
                    "re-encrypted with another key",
                    vec![live("/configuration/kmsKeyId", json!(OTHER_KEY_ARN))],
                    vec![regression(ADDR, &["kms_key_id"])],
                ),
                strengthen(
                    "state unencrypted, live encrypted",
                    vec![tf("/storage_encrypted", json!(false)), tf("/kms_key_id", json!(""))],
                    vec![changed(ADDR, &["kms_key_id", "storage_encrypted"])],
                ),
                drift_m(
                    "made public with short backups",
                    vec![live("/configuration/publiclyAccessible", json!(true)), live("/configuration/backupRetentionPeriod", json!(1))],
                    vec![changed(ADDR, &["backup_retention_period", "publicly_accessible"])],
                ),
                drift_m(
                    "resilience and IAM auth turned off, resized",
                    vec![
                        live("/configuration/multiAZ", json!(false)),
                        live("/configuration/deletionProtection", json!(false)),
                        live("/configuration/iAMDatabaseAuthenticationEnabled", json!(false)),
                        live("/configuration/dBInstanceClass", json!("db.r6g.xlarge")),
                    ],
                    vec![changed(ADDR, &["deletion_protection", "iam_database_authentication_enabled", "instance_class", "multi_az"])],
                ),
            ],
        },
    );
}

const CLUSTER_RESOURCE_ID: &str = "cluster-5XQ2YQ7ZK3Q4J4QWERTYUIOP";

#[test]
fn aws_rds_cluster() {
    const ADDR: &str = "aws_rds_cluster.ehr";
    check(
        "aws_rds_cluster",
        Row {
            resources: vec![resource_with_sensitive(
                "aws_rds_cluster",
                "ehr",
                json!({
                    "arn": "arn:aws:rds:us-east-1:123456789012:cluster:ehr-aurora",
                    "backup_retention_period": 35,
                    "cluster_identifier": "ehr-aurora",
                    "cluster_resource_id": CLUSTER_RESOURCE_ID,
                    "deletion_protection": true,
                    "engine": "aurora-postgresql",
                    "engine_version": "15.4",
                    "iam_database_authentication_enabled": true,
                    "id": "ehr-aurora",
                    "kms_key_id": KEY_ARN,
                    "master_password": "Aur0ra-Secret-Pass-1",
                    "master_username": "ehr_admin",
                    "storage_encrypted": true
                }),
                &["master_password"],
            )],
            live: item(
                "AWS::RDS::DBCluster",
                CLUSTER_RESOURCE_ID,
                "arn:aws:rds:us-east-1:123456789012:cluster:ehr-aurora",
                json!({
                    "dBClusterIdentifier": "ehr-aurora",
                    "dbClusterResourceId": CLUSTER_RESOURCE_ID,
                    "engine": "aurora-postgresql",
                    "engineVersion": "15.4",
                    "status": "available",
                    // a number written as a string
                    "backupRetentionPeriod": "35",
                    "storageEncrypted": true,
                    "kmsKeyId": KEY_ARN,
                    "iAMDatabaseAuthenticationEnabled": true,
                    "deletionProtection": true
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "cluster restored unencrypted",
                    vec![live("/configuration/storageEncrypted", json!(false)), gone("/configuration/kmsKeyId")],
                    vec![regression(ADDR, &["kms_key_id", "storage_encrypted"])],
                ),
                strengthen(
                    "state unencrypted, live encrypted",
                    vec![tf("/storage_encrypted", json!(false)), tf("/kms_key_id", json!(""))],
                    vec![changed(ADDR, &["kms_key_id", "storage_encrypted"])],
                ),
                drift_m(
                    "deletion protection off, retention shortened, IAM auth off",
                    vec![
                        live("/configuration/deletionProtection", json!(false)),
                        live("/configuration/backupRetentionPeriod", json!(1)),
                        live("/configuration/iAMDatabaseAuthenticationEnabled", json!(false)),
                    ],
                    vec![changed(ADDR, &["backup_retention_period", "deletion_protection", "iam_database_authentication_enabled"])],
                ),
                drift_m("engine changed", vec![live("/configuration/engine", json!("aurora-mysql"))], vec![changed(ADDR, &["engine"])]),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ EC2

const VOLUME_ID: &str = "vol-0a1b2c3d4e5f60718";

#[test]
fn aws_ebs_volume() {
    const ADDR: &str = "aws_ebs_volume.data";
    check(
        "aws_ebs_volume",
        Row {
            resources: vec![resource(
                "aws_ebs_volume",
                "data",
                json!({
                    "arn": "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718",
                    "availability_zone": "us-east-1a",
                    "encrypted": true,
                    "final_snapshot": false,
                    "id": VOLUME_ID,
                    "iops": 3000,
                    "kms_key_id": KEY_ARN,
                    "multi_attach_enabled": false,
                    "size": 100,
                    "snapshot_id": "",
                    "tags": {"Name": "ehr-data"},
                    "tags_all": {"Environment": "prod", "Name": "ehr-data"},
                    "throughput": 125,
                    "type": "gp3"
                }),
            )],
            // no top-level tags (BatchGetResourceConfig): tags come from the configuration's list
            live: item(
                "AWS::EC2::Volume",
                VOLUME_ID,
                "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718",
                json!({
                    "attachments": [{"device": "/dev/xvdf", "instanceId": "i-0123456789abcdef0", "state": "attached"}],
                    "availabilityZone": "us-east-1a",
                    "createTime": "2024-11-17T19:48:53.000Z",
                    "encrypted": true,
                    "kmsKeyId": KEY_ARN,
                    "size": 100,
                    "snapshotId": "",
                    "state": "in-use",
                    "volumeId": VOLUME_ID,
                    "iops": 3000,
                    "tags": [{"key": "Name", "value": "ehr-data"}, {"key": "Environment", "value": "prod"}],
                    "volumeType": "gp3",
                    "throughput": 125
                }),
                json!({}),
                None,
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "swapped for an unencrypted volume",
                    vec![live("/configuration/encrypted", json!(false)), gone("/configuration/kmsKeyId")],
                    vec![regression(ADDR, &["encrypted", "kms_key_id"])],
                ),
                weaken(
                    "re-encrypted with another key",
                    vec![live("/configuration/kmsKeyId", json!(OTHER_KEY_ARN))],
                    vec![regression(ADDR, &["kms_key_id"])],
                ),
                strengthen(
                    "state unencrypted, live encrypted",
                    vec![tf("/encrypted", json!(false)), tf("/kms_key_id", json!(""))],
                    vec![changed(ADDR, &["encrypted", "kms_key_id"])],
                ),
                drift_m(
                    "resized and retyped",
                    vec![live("/configuration/size", json!(200)), live("/configuration/volumeType", json!("io2"))],
                    vec![changed(ADDR, &["size", "type"])],
                ),
                drift_m(
                    "tag removed",
                    vec![live("/configuration/tags", json!([{"key": "Name", "value": "ehr-data"}]))],
                    vec![changed(ADDR, &["tags_all"])],
                ),
                drift_m(
                    "moved to another AZ",
                    vec![live("/configuration/availabilityZone", json!("us-east-1b"))],
                    vec![changed(ADDR, &["availability_zone"])],
                ),
            ],
        },
    );
}

const SG_ID: &str = "sg-0123456789abcdef0";
const SG_ARN: &str = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0";
const LB_SG_ID: &str = "sg-0fedcba9876543210";

/// An `ingress`/`egress` block as `aws_security_group` stores it.
fn sg_block(protocol: &str, from: i64, to: i64, cidrs: &[&str], groups: &[&str], is_self: bool) -> Value {
    json!({
        "cidr_blocks": cidrs,
        "description": "",
        "from_port": from,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": protocol,
        "security_groups": groups,
        "self": is_self,
        "to_port": to
    })
}

fn sg_tf(ingress: Value, egress: Value) -> Value {
    resource(
        "aws_security_group",
        "app",
        json!({
            "arn": SG_ARN,
            "description": "ehr app tier",
            "egress": egress,
            "id": SG_ID,
            "ingress": ingress,
            "name": "ehr-app",
            "name_prefix": "",
            "owner_id": ACCOUNT,
            "revoke_rules_on_delete": false,
            "tags": {"Name": "ehr-app"},
            "tags_all": {"Name": "ehr-app", "Environment": "prod"},
            "timeouts": null,
            "vpc_id": "vpc-0a1b2c3d"
        }),
    )
}

/// An `ipPermissions` entry as AWS Config records it (both `ipRanges` and `ipv4Ranges`).
fn ip_permission(protocol: &str, ports: Option<(i64, i64)>, cidrs: &[&str], groups: &[&str]) -> Value {
    let mut p = json!({
        "ipProtocol": protocol,
        "ipv6Ranges": [],
        "prefixListIds": [],
        "userIdGroupPairs": groups.iter().map(|g| json!({"groupId": g, "userId": ACCOUNT})).collect::<Vec<_>>(),
        "ipv4Ranges": cidrs.iter().map(|c| json!({"cidrIp": c})).collect::<Vec<_>>(),
        "ipRanges": cidrs
    });
    if let Some((from, to)) = ports {
        p["fromPort"] = json!(from);
        p["toPort"] = json!(to);
    }
    p
}

fn sg_live(ingress: Value, egress: Value) -> Value {
    item(
        "AWS::EC2::SecurityGroup",
        SG_ID,
        SG_ARN,
        json!({
            "description": "ehr app tier",
            "groupName": "ehr-app",
            "ipPermissions": ingress,
            "ownerId": ACCOUNT,
            "groupId": SG_ID,
            "ipPermissionsEgress": egress,
            "tags": [{"key": "Environment", "value": "prod"}, {"key": "Name", "value": "ehr-app"}],
            "vpcId": "vpc-0a1b2c3d"
        }),
        json!({}),
        Some(json!({"Name": "ehr-app", "Environment": "prod"})),
    )
}

#[test]
fn aws_security_group() {
    const ADDR: &str = "aws_security_group.app";
    check(
        "aws_security_group",
        Row {
            resources: vec![sg_tf(
                json!([
                    sg_block("tcp", 443, 443, &["10.0.0.0/16", "10.1.0.0/16"], &[LB_SG_ID], false),
                    sg_block("tcp", 5432, 5432, &[], &[], true)
                ]),
                json!([sg_block("-1", 0, 0, &["0.0.0.0/0"], &[], false)]),
            )],
            // rules reordered, protocol number for tcp, the self rule as a group pair
            live: sg_live(
                json!([
                    ip_permission("6", Some((5432, 5432)), &[], &[SG_ID]),
                    ip_permission("tcp", Some((443, 443)), &["10.1.0.0/16", "10.0.0.0/16"], &[LB_SG_ID])
                ]),
                json!([ip_permission("-1", None, &["0.0.0.0/0"], &[])]),
            ),
            absent: &[],
            mutations: vec![
                drift_m(
                    "SSH opened to the world",
                    vec![live("/configuration/ipPermissions/-", ip_permission("tcp", Some((22, 22)), &["0.0.0.0/0"], &[]))],
                    vec![changed(ADDR, &["ingress"])],
                ),
                drift_m("egress removed", vec![live("/configuration/ipPermissionsEgress", json!([]))], vec![changed(ADDR, &["egress"])]),
                drift_m("tag changed", vec![live("/tags/Environment", json!("dev"))], vec![changed(ADDR, &["tags_all"])]),
                drift_m(
                    "description and VPC differ (group replaced)",
                    vec![live("/configuration/description", json!("launch-wizard-1")), live("/configuration/vpcId", json!("vpc-0ffff"))],
                    vec![changed(ADDR, &["description", "vpc_id"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_security_group_rule() {
    const PARENT: &str = "aws_security_group.app";
    let rule = |name: &str, attrs: Value| resource("aws_security_group_rule", name, attrs);
    check(
        "aws_security_group_rule",
        Row {
            // the group as first created: no inline rules
            resources: vec![
                sg_tf(json!([]), json!([])),
                rule(
                    "https_from_vpn",
                    json!({
                        "cidr_blocks": ["10.8.0.0/16"], "description": "VPN", "from_port": 443, "id": "sgrule-1234567890",
                        "ipv6_cidr_blocks": null, "prefix_list_ids": null, "protocol": "tcp", "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0a1b2c3d4e5f60001", "self": false, "source_security_group_id": null,
                        "to_port": 443, "type": "ingress"
                    }),
                ),
                rule(
                    "postgres_self",
                    json!({
                        "cidr_blocks": null, "description": "", "from_port": 5432, "id": "sgrule-2345678901",
                        "ipv6_cidr_blocks": null, "prefix_list_ids": null, "protocol": "tcp", "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0a1b2c3d4e5f60002", "self": true, "source_security_group_id": null,
                        "to_port": 5432, "type": "ingress"
                    }),
                ),
                rule(
                    "from_lb",
                    json!({
                        "cidr_blocks": null, "description": "", "from_port": 8080, "id": "sgrule-3456789012",
                        "ipv6_cidr_blocks": null, "prefix_list_ids": null, "protocol": "6", "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0a1b2c3d4e5f60003", "self": false, "source_security_group_id": LB_SG_ID,
                        "to_port": 8080, "type": "ingress"
                    }),
                ),
                rule(
                    "all_egress",
                    json!({
                        "cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "id": "sgrule-4567890123",
                        "ipv6_cidr_blocks": null, "prefix_list_ids": null, "protocol": "-1", "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0a1b2c3d4e5f60004", "self": false, "source_security_group_id": null,
                        "to_port": 0, "type": "egress"
                    }),
                ),
            ],
            live: sg_live(
                json!([
                    ip_permission("tcp", Some((8080, 8080)), &[], &[LB_SG_ID]),
                    ip_permission("tcp", Some((5432, 5432)), &[], &[SG_ID]),
                    ip_permission("tcp", Some((443, 443)), &["10.8.0.0/16"], &[])
                ]),
                json!([ip_permission("-1", None, &["0.0.0.0/0"], &[])]),
            ),
            absent: &[],
            mutations: vec![
                drift_m(
                    "VPN rule deleted",
                    vec![live(
                        "/configuration/ipPermissions",
                        json!([
                            ip_permission("tcp", Some((8080, 8080)), &[], &[LB_SG_ID]),
                            ip_permission("tcp", Some((5432, 5432)), &[], &[SG_ID])
                        ]),
                    )],
                    vec![changed(PARENT, &["ingress"])],
                ),
                drift_m(
                    "VPN rule widened to the internet",
                    vec![live("/configuration/ipPermissions/2", ip_permission("tcp", Some((443, 443)), &["0.0.0.0/0"], &[]))],
                    vec![changed(PARENT, &["ingress"])],
                ),
                drift_m(
                    "egress rule deleted",
                    vec![live("/configuration/ipPermissionsEgress", json!([]))],
                    vec![changed(PARENT, &["egress"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_vpc_security_group_ingress_rule() {
    const PARENT: &str = "aws_security_group.app";
    let rule = |name: &str, attrs: Value| resource("aws_vpc_security_group_ingress_rule", name, attrs);
    check(
        "aws_vpc_security_group_ingress_rule",
        Row {
            resources: vec![
                sg_tf(json!([]), json!([sg_block("-1", 0, 0, &["0.0.0.0/0"], &[], false)])),
                rule(
                    "https",
                    json!({
                        "arn": "arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-0b1b2c3d4e5f60001",
                        "cidr_ipv4": "10.8.0.0/16", "cidr_ipv6": null, "description": "VPN", "from_port": 443,
                        "id": "sgr-0b1b2c3d4e5f60001", "ip_protocol": "tcp", "prefix_list_id": null,
                        "referenced_security_group_id": null, "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0b1b2c3d4e5f60001", "tags": null, "tags_all": {}, "to_port": 443
                    }),
                ),
                rule(
                    "https_v6",
                    json!({
                        "arn": "arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-0b1b2c3d4e5f60002",
                        "cidr_ipv4": null, "cidr_ipv6": "2001:db8::/56", "description": "", "from_port": 443,
                        "id": "sgr-0b1b2c3d4e5f60002", "ip_protocol": "tcp", "prefix_list_id": null,
                        "referenced_security_group_id": null, "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0b1b2c3d4e5f60002", "tags": null, "tags_all": {}, "to_port": 443
                    }),
                ),
                rule(
                    "all_from_lb",
                    json!({
                        "arn": "arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-0b1b2c3d4e5f60003",
                        "cidr_ipv4": null, "cidr_ipv6": null, "description": "", "from_port": null,
                        "id": "sgr-0b1b2c3d4e5f60003", "ip_protocol": "-1", "prefix_list_id": null,
                        "referenced_security_group_id": LB_SG_ID, "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0b1b2c3d4e5f60003", "tags": null, "tags_all": {}, "to_port": null
                    }),
                ),
            ],
            live: sg_live(
                json!([
                    ip_permission("-1", None, &[], &[LB_SG_ID]),
                    {
                        "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "prefixListIds": [], "userIdGroupPairs": [],
                        "ipv4Ranges": [{"cidrIp": "10.8.0.0/16"}], "ipRanges": ["10.8.0.0/16"],
                        "ipv6Ranges": [{"cidrIpv6": "2001:db8::/56"}]
                    }
                ]),
                json!([ip_permission("-1", None, &["0.0.0.0/0"], &[])]),
            ),
            absent: &[],
            mutations: vec![
                drift_m(
                    "load balancer rule deleted",
                    vec![live(
                        "/configuration/ipPermissions/0",
                        json!({"ipProtocol": "-1", "ipv4Ranges": [], "ipRanges": [], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}),
                    )],
                    vec![changed(PARENT, &["ingress"])],
                ),
                drift_m(
                    "HTTPS port moved",
                    vec![
                        live("/configuration/ipPermissions/1/fromPort", json!(8443)),
                        live("/configuration/ipPermissions/1/toPort", json!(8443)),
                    ],
                    vec![changed(PARENT, &["ingress"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_vpc_security_group_egress_rule() {
    const PARENT: &str = "aws_security_group.app";
    check(
        "aws_vpc_security_group_egress_rule",
        Row {
            resources: vec![
                sg_tf(json!([]), json!([])),
                resource(
                    "aws_vpc_security_group_egress_rule",
                    "https_out",
                    json!({
                        "arn": "arn:aws:ec2:us-east-1:123456789012:security-group-rule/sgr-0e1b2c3d4e5f60001",
                        "cidr_ipv4": "10.0.0.0/8", "cidr_ipv6": null, "description": "to VPC endpoints", "from_port": 443,
                        "id": "sgr-0e1b2c3d4e5f60001", "ip_protocol": "tcp", "prefix_list_id": null,
                        "referenced_security_group_id": null, "security_group_id": SG_ID,
                        "security_group_rule_id": "sgr-0e1b2c3d4e5f60001", "tags": null, "tags_all": {}, "to_port": 443
                    }),
                ),
            ],
            live: sg_live(json!([]), json!([ip_permission("tcp", Some((443, 443)), &["10.0.0.0/8"], &[])])),
            absent: &[],
            mutations: vec![drift_m(
                "egress opened to the internet",
                vec![live("/configuration/ipPermissionsEgress/0/ipv4Ranges/0/cidrIp", json!("0.0.0.0/0"))],
                vec![changed(PARENT, &["egress"])],
            )],
        },
    );
}

// ------------------------------------------------------------------------------ DynamoDB

#[test]
fn aws_dynamodb_table() {
    const ADDR: &str = "aws_dynamodb_table.consent";
    const TABLE: &str = "ehr-prod-consent-records";
    const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/ehr-prod-consent-records";
    check(
        "aws_dynamodb_table",
        Row {
            resources: vec![resource(
                "aws_dynamodb_table",
                "consent",
                json!({
                    "arn": TABLE_ARN,
                    "attribute": [{"name": "consent_id", "type": "S"}],
                    "billing_mode": "PAY_PER_REQUEST",
                    "deletion_protection_enabled": true,
                    "hash_key": "consent_id",
                    "id": TABLE,
                    "name": TABLE,
                    "point_in_time_recovery": [{"enabled": true, "recovery_period_in_days": 35}],
                    "range_key": null,
                    "server_side_encryption": [{"enabled": true, "kms_key_arn": KEY_ARN}],
                    "table_class": "STANDARD",
                    "tags_all": {"Name": TABLE}
                }),
            )],
            live: item(
                "AWS::DynamoDB::Table",
                TABLE,
                TABLE_ARN,
                json!({
                    "attributeDefinitions": [{"attributeName": "consent_id", "attributeType": "S"}],
                    "tableName": TABLE,
                    "keySchema": [{"attributeName": "consent_id", "keyType": "HASH"}],
                    "tableStatus": "ACTIVE",
                    "tableArn": TABLE_ARN,
                    "sSEDescription": {"status": "ENABLED", "sSEType": "KMS", "kMSMasterKeyArn": KEY_ARN},
                    "deletionProtectionEnabled": true,
                    "billingModeSummary": {"billingMode": "PAY_PER_REQUEST", "lastUpdateToPayPerRequestDateTime": "2024-11-17T19:48:53.000Z"}
                }),
                json!({
                    "ContinuousBackupsDescription": {
                        "continuousBackupsStatus": "ENABLED",
                        "pointInTimeRecoveryDescription": {"pointInTimeRecoveryStatus": "ENABLED", "recoveryPeriodInDays": 35}
                    },
                    "Tags": [{"key": "Name", "value": TABLE}]
                }),
                Some(json!({"Name": TABLE})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "switched to the AWS owned key",
                    vec![gone("/configuration/sSEDescription")],
                    vec![regression(ADDR, &["server_side_encryption[0].enabled", "server_side_encryption[0].kms_key_arn"])],
                ),
                weaken(
                    "switched to another customer key",
                    vec![live("/configuration/sSEDescription/kMSMasterKeyArn", json!(OTHER_KEY_ARN))],
                    vec![regression(ADDR, &["server_side_encryption[0].kms_key_arn"])],
                ),
                strengthen(
                    "state has the AWS owned key, live a customer key",
                    vec![tf("/server_side_encryption", json!([{"enabled": false, "kms_key_arn": ""}]))],
                    vec![changed(ADDR, &["server_side_encryption[0].enabled", "server_side_encryption[0].kms_key_arn"])],
                ),
                drift_m(
                    "point-in-time recovery disabled",
                    vec![live(
                        "/supplementaryConfiguration/ContinuousBackupsDescription/pointInTimeRecoveryDescription/pointInTimeRecoveryStatus",
                        json!("DISABLED"),
                    )],
                    vec![changed(ADDR, &["point_in_time_recovery[0].enabled"])],
                ),
                drift_m(
                    "switched to provisioned capacity",
                    vec![gone("/configuration/billingModeSummary")],
                    vec![changed(ADDR, &["billing_mode"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ SNS / SQS

const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:ehr-alerts";
const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/ehr-jobs";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:ehr-jobs";

fn topic_policy(principal: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "SNS:Publish",
            "Resource": TOPIC_ARN,
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"}}
        }]
    })
}

#[test]
fn aws_sns_topic() {
    const ADDR: &str = "aws_sns_topic.alerts";
    // AWS returns the statement unwrapped, scalars as lists, its own key order and spacing.
    let live_policy = |principal: Value| {
        serde_json::to_string_pretty(&json!({
            "Statement": {
                "Condition": {"ArnLike": {"aws:SourceArn": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"]}},
                "Resource": [TOPIC_ARN],
                "Action": ["SNS:Publish"],
                "Principal": principal,
                "Effect": "Allow",
                "Sid": "AllowCloudWatchAlarms"
            },
            "Id": "__default_policy_ID",
            "Version": "2012-10-17"
        }))
        .expect("serialisable")
    };
    check(
        "aws_sns_topic",
        Row {
            resources: vec![resource(
                "aws_sns_topic",
                "alerts",
                json!({
                    "arn": TOPIC_ARN,
                    "display_name": "EHR alerts",
                    "fifo_topic": false,
                    "id": TOPIC_ARN,
                    "kms_master_key_id": "alias/aws/sns",
                    "name": "ehr-alerts",
                    "owner": ACCOUNT,
                    "policy": topic_policy(json!({"Service": "cloudwatch.amazonaws.com"})).to_string(),
                    "tags_all": {}
                }),
            )],
            live: item(
                "AWS::SNS::Topic",
                TOPIC_ARN,
                TOPIC_ARN,
                json!({
                    "TopicArn": TOPIC_ARN,
                    "DisplayName": "EHR alerts",
                    "KmsMasterKeyId": "alias/aws/sns",
                    "Owner": ACCOUNT,
                    "Policy": live_policy(json!({"Service": ["cloudwatch.amazonaws.com"]})),
                    "SubscriptionsConfirmed": "1"
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken("encryption removed", vec![gone("/configuration/KmsMasterKeyId")], vec![regression(ADDR, &["kms_master_key_id"])]),
                weaken(
                    "another key",
                    vec![live("/configuration/KmsMasterKeyId", json!("arn:aws:kms:us-east-1:123456789012:alias/other"))],
                    vec![regression(ADDR, &["kms_master_key_id"])],
                ),
                drift_m(
                    "publish opened to everyone",
                    vec![live("/configuration/Policy", json!(live_policy(json!({"AWS": ["*"]}))))],
                    vec![changed(ADDR, &["policy"])],
                ),
                drift_m(
                    "display name edited",
                    vec![live("/configuration/DisplayName", json!("alerts"))],
                    vec![changed(ADDR, &["display_name"])],
                ),
            ],
        },
    );
}

#[test]
fn aws_sqs_queue() {
    const ADDR: &str = "aws_sqs_queue.jobs";
    let policy = |source: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AllowSNS", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": QUEUE_ARN,
                "Condition": {"ArnEquals": {"aws:SourceArn": source}}
            }]
        })
    };
    check(
        "aws_sqs_queue",
        Row {
            resources: vec![resource(
                "aws_sqs_queue",
                "jobs",
                json!({
                    "arn": QUEUE_ARN,
                    "delay_seconds": 0,
                    "fifo_queue": false,
                    "id": QUEUE_URL,
                    "kms_data_key_reuse_period_seconds": 300,
                    "kms_master_key_id": KEY_ARN,
                    "message_retention_seconds": 1209600,
                    "name": "ehr-jobs",
                    "policy": policy(TOPIC_ARN).to_string(),
                    "sqs_managed_sse_enabled": false,
                    "tags_all": {},
                    "url": QUEUE_URL,
                    "visibility_timeout_seconds": 60
                }),
            )],
            // SQS attributes are all strings; the key as a bare id
            live: item(
                "AWS::SQS::Queue",
                QUEUE_URL,
                QUEUE_ARN,
                json!({
                    "QueueArn": QUEUE_ARN,
                    "KmsMasterKeyId": KEY_ID,
                    "KmsDataKeyReusePeriodSeconds": "300",
                    "SqsManagedSseEnabled": "false",
                    "MessageRetentionPeriod": "1209600",
                    "VisibilityTimeout": "60",
                    "DelaySeconds": "0",
                    "Policy": policy(TOPIC_ARN).to_string().replace(',', ", ")
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "customer key replaced by SQS-managed SSE",
                    vec![gone("/configuration/KmsMasterKeyId"), live("/configuration/SqsManagedSseEnabled", json!("true"))],
                    vec![regression(ADDR, &["kms_master_key_id"]), changed(ADDR, &["sqs_managed_sse_enabled"])],
                ),
                drift_m(
                    "retention and visibility timeout back to defaults",
                    vec![
                        live("/configuration/MessageRetentionPeriod", json!("345600")),
                        live("/configuration/VisibilityTimeout", json!("30")),
                    ],
                    vec![changed(ADDR, &["message_retention_seconds", "visibility_timeout_seconds"])],
                ),
                drift_m(
                    "another topic may send",
                    vec![live("/configuration/Policy", json!(policy("arn:aws:sns:us-east-1:999999999999:other").to_string()))],
                    vec![changed(ADDR, &["policy"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ CloudTrail

#[test]
fn aws_cloudtrail() {
    const ADDR: &str = "aws_cloudtrail.main";
    const TRAIL: &str = "ehr-prod-trail";
    const TRAIL_ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/ehr-prod-trail";
    check(
        "aws_cloudtrail",
        Row {
            resources: vec![resource(
                "aws_cloudtrail",
                "main",
                json!({
                    "arn": TRAIL_ARN,
                    "enable_log_file_validation": true,
                    "enable_logging": true,
                    "home_region": "us-east-1",
                    "id": TRAIL_ARN,
                    "include_global_service_events": true,
                    "is_multi_region_trail": true,
                    "is_organization_trail": false,
                    "kms_key_id": KEY_ARN,
                    "name": TRAIL,
                    "s3_bucket_name": "ehr-prod-cloudtrail-123456789012",
                    "s3_key_prefix": "",
                    "tags_all": {}
                }),
            )],
            live: item(
                "AWS::CloudTrail::Trail",
                TRAIL,
                TRAIL_ARN,
                json!({
                    "name": TRAIL,
                    "s3BucketName": "ehr-prod-cloudtrail-123456789012",
                    "includeGlobalServiceEvents": true,
                    "isMultiRegionTrail": true,
                    "homeRegion": "us-east-1",
                    "trailARN": TRAIL_ARN,
                    "logFileValidationEnabled": true,
                    "kmsKeyId": KEY_ARN,
                    "hasCustomEventSelectors": true,
                    "hasInsightSelectors": false,
                    "isOrganizationTrail": false
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "log file validation off",
                    vec![live("/configuration/logFileValidationEnabled", json!(false))],
                    vec![regression(ADDR, &["enable_log_file_validation"])],
                ),
                weaken("KMS encryption removed", vec![gone("/configuration/kmsKeyId")], vec![regression(ADDR, &["kms_key_id"])]),
                strengthen(
                    "state without validation, live with",
                    vec![tf("/enable_log_file_validation", json!(false))],
                    vec![changed(ADDR, &["enable_log_file_validation"])],
                ),
                drift_m(
                    "single region, other bucket, no global events",
                    vec![
                        live("/configuration/isMultiRegionTrail", json!(false)),
                        live("/configuration/s3BucketName", json!("somewhere-else")),
                        live("/configuration/includeGlobalServiceEvents", json!(false)),
                    ],
                    vec![changed(ADDR, &["include_global_service_events", "is_multi_region_trail", "s3_bucket_name"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ IAM

#[test]
fn aws_iam_role() {
    const ADDR: &str = "aws_iam_role.api";
    const ROLE_ID: &str = "AROA2EXAMPLE5ROLEID12";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/service/ehr-api-exec";
    let trust = |principal: Value| {
        serde_json::to_string(&json!({
            "Statement": [{"Principal": principal, "Effect": "Allow", "Action": ["sts:AssumeRole"]}],
            "Version": "2012-10-17"
        }))
        .expect("serialisable")
    };
    check(
        "aws_iam_role",
        Row {
            resources: vec![resource(
                "aws_iam_role",
                "api",
                json!({
                    "arn": ROLE_ARN,
                    "assume_role_policy": "{\"Statement\":[{\"Action\":\"sts:AssumeRole\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"}}],\"Version\":\"2012-10-17\"}",
                    "description": "",
                    "force_detach_policies": false,
                    "id": "ehr-api-exec",
                    "managed_policy_arns": [],
                    "max_session_duration": 3600,
                    "name": "ehr-api-exec",
                    "path": "/service/",
                    "permissions_boundary": "arn:aws:iam::123456789012:policy/ehr-boundary",
                    "tags_all": {"Name": "ehr-api-exec"},
                    "unique_id": ROLE_ID
                }),
            )],
            // the trust policy URL-encoded, as Config records IAM documents
            live: item(
                "AWS::IAM::Role",
                ROLE_ID,
                ROLE_ARN,
                json!({
                    "path": "/service/",
                    "roleName": "ehr-api-exec",
                    "roleId": ROLE_ID,
                    "arn": ROLE_ARN,
                    "createDate": "2024-11-17T19:48:53.000Z",
                    "assumeRolePolicyDocument": url_encode(&trust(json!({"Service": ["lambda.amazonaws.com"]}))),
                    "instanceProfileList": [],
                    "rolePolicyList": [],
                    "attachedManagedPolicies": [],
                    "permissionsBoundary": {"permissionsBoundaryType": "Policy", "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/ehr-boundary"},
                    "tags": [{"key": "Name", "value": "ehr-api-exec"}],
                    "maxSessionDuration": "3600"
                }),
                json!({}),
                Some(json!({"Name": "ehr-api-exec"})),
            ),
            absent: &[],
            mutations: vec![
                drift_m(
                    "another account may assume the role",
                    vec![live(
                        "/configuration/assumeRolePolicyDocument",
                        json!(url_encode(&trust(json!({"Service": "lambda.amazonaws.com", "AWS": "arn:aws:iam::999999999999:root"})))),
                    )],
                    vec![changed(ADDR, &["assume_role_policy"])],
                ),
                drift_m(
                    "permissions boundary detached",
                    vec![gone("/configuration/permissionsBoundary")],
                    vec![changed(ADDR, &["permissions_boundary"])],
                ),
                drift_m(
                    "sessions lengthened, role moved, tag changed",
                    vec![
                        live("/configuration/maxSessionDuration", json!(43200)),
                        live("/configuration/path", json!("/")),
                        live("/tags/Name", json!("x")),
                    ],
                    vec![changed(ADDR, &["max_session_duration", "path", "tags_all"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ Lambda

#[test]
fn aws_lambda_function() {
    const ADDR: &str = "aws_lambda_function.api";
    const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:ehr-fhir-api";
    const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/service/ehr-api-exec";
    check(
        "aws_lambda_function",
        Row {
            resources: vec![resource(
                "aws_lambda_function",
                "api",
                json!({
                    "architectures": ["arm64"],
                    "arn": FUNCTION_ARN,
                    "environment": [{"variables": {
                        "DB_PASSWORD": "Lambda-Secret-Pa55",
                        "LOG_LEVEL": "info",
                        "TABLE_NAME": "ehr-prod-consent-records"
                    }}],
                    "function_name": "ehr-fhir-api",
                    "handler": "app.handler",
                    "id": "ehr-fhir-api",
                    "kms_key_arn": KEY_ARN,
                    "memory_size": 512,
                    "role": ROLE_ARN,
                    "runtime": "python3.12",
                    "source_code_hash": "b3V0cHV0",
                    "tags_all": {},
                    "timeout": 30
                }),
            )],
            // the secret-looking variable is digested on both sides with the same salt
            live: item(
                "AWS::Lambda::Function",
                "ehr-fhir-api",
                FUNCTION_ARN,
                json!({
                    "functionName": "ehr-fhir-api",
                    "functionArn": FUNCTION_ARN,
                    "runtime": "python3.12",
                    "role": ROLE_ARN,
                    "handler": "app.handler",
                    "codeSize": 1048576,
                    "timeout": 30,
                    "memorySize": 512,
                    "version": "$LATEST",
                    "kMSKeyArn": KEY_ARN,
                    "environment": {"variables": {
                        "TABLE_NAME": "ehr-prod-consent-records",
                        "LOG_LEVEL": "info",
                        "DB_PASSWORD": "Lambda-Secret-Pa55"
                    }}
                }),
                json!({"Tags": {}}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "customer key removed from the environment",
                    vec![gone("/configuration/kMSKeyArn")],
                    vec![regression(ADDR, &["kms_key_arn"])],
                ),
                drift_m(
                    "log level raised",
                    vec![live("/configuration/environment/variables/LOG_LEVEL", json!("debug"))],
                    vec![changed(ADDR, &["environment[0].variables"])],
                ),
                drift_m(
                    "secret rotated outside Terraform",
                    vec![live("/configuration/environment/variables/DB_PASSWORD", json!("Rotated-Secret-99"))],
                    vec![changed(ADDR, &["environment[0].variables"])],
                ),
                drift_m(
                    "runtime, handler, role, memory and timeout edited",
                    vec![
                        live("/configuration/runtime", json!("python3.9")),
                        live("/configuration/handler", json!("debug.handler")),
                        live("/configuration/role", json!("arn:aws:iam::123456789012:role/admin")),
                        live("/configuration/memorySize", json!(1024)),
                        live("/configuration/timeout", json!(900)),
                    ],
                    vec![changed(ADDR, &["handler", "memory_size", "role", "runtime", "timeout"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ EFS

#[test]
fn aws_efs_file_system() {
    const ADDR: &str = "aws_efs_file_system.shared";
    const FS: &str = "fs-0a1b2c3d4e5f60718";
    const FS_ARN: &str = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0a1b2c3d4e5f60718";
    check(
        "aws_efs_file_system",
        Row {
            resources: vec![resource(
                "aws_efs_file_system",
                "shared",
                json!({
                    "arn": FS_ARN,
                    "creation_token": "ehr-shared",
                    "encrypted": true,
                    "id": FS,
                    "kms_key_id": KEY_ARN,
                    "performance_mode": "generalPurpose",
                    "tags_all": {"Name": "ehr-shared"},
                    "throughput_mode": "bursting"
                }),
            )],
            live: item(
                "AWS::EFS::FileSystem",
                FS,
                FS_ARN,
                json!({
                    "FileSystemId": FS,
                    "Arn": FS_ARN,
                    "Encrypted": true,
                    "KmsKeyId": KEY_ARN,
                    "PerformanceMode": "generalPurpose",
                    "ThroughputMode": "bursting",
                    "BackupPolicy": {"Status": "ENABLED"},
                    "FileSystemTags": [{"Key": "Name", "Value": "ehr-shared"}]
                }),
                json!({}),
                Some(json!({"Name": "ehr-shared"})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "replaced by an unencrypted file system",
                    vec![live("/configuration/Encrypted", json!(false)), gone("/configuration/KmsKeyId")],
                    vec![regression(ADDR, &["encrypted", "kms_key_id"])],
                ),
                strengthen(
                    "state unencrypted, live encrypted",
                    vec![tf("/encrypted", json!(false)), tf("/kms_key_id", json!(""))],
                    vec![changed(ADDR, &["encrypted", "kms_key_id"])],
                ),
                drift_m(
                    "performance mode differs",
                    vec![live("/configuration/PerformanceMode", json!("maxIO"))],
                    vec![changed(ADDR, &["performance_mode"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ CloudWatch Logs

#[test]
fn aws_cloudwatch_log_group() {
    const ADDR: &str = "aws_cloudwatch_log_group.lambda[\"fhir-api\"]";
    const GROUP: &str = "/aws/lambda/ehr-fhir-api";
    let mut group = resource(
        "aws_cloudwatch_log_group",
        "lambda",
        json!({
            "arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ehr-fhir-api",
            "id": GROUP,
            "kms_key_id": KEY_ARN,
            "log_group_class": "STANDARD",
            "name": GROUP,
            "name_prefix": "",
            "retention_in_days": 2192,
            "skip_destroy": false,
            "tags_all": {"Name": GROUP}
        }),
    );
    group["instances"][0]["index_key"] = json!("fhir-api");
    check(
        "aws_cloudwatch_log_group",
        Row {
            resources: vec![group],
            live: item(
                "AWS::Logs::LogGroup",
                GROUP,
                "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ehr-fhir-api:*",
                json!({
                    "LogGroupName": GROUP,
                    "RetentionInDays": 2192,
                    "KmsKeyId": KEY_ARN,
                    "LogGroupClass": "STANDARD",
                    "Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ehr-fhir-api:*"
                }),
                json!({}),
                Some(json!({"Name": GROUP})),
            ),
            absent: &[],
            mutations: vec![
                weaken("KMS key disassociated", vec![gone("/configuration/KmsKeyId")], vec![regression(ADDR, &["kms_key_id"])]),
                weaken(
                    "retention shortened",
                    vec![live("/configuration/RetentionInDays", json!(30))],
                    vec![regression(ADDR, &["retention_in_days"])],
                ),
                strengthen(
                    "retention policy deleted (never expire)",
                    vec![gone("/configuration/RetentionInDays")],
                    vec![changed(ADDR, &["retention_in_days"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ ELBv2

#[test]
fn aws_lb_listener() {
    const ADDR: &str = "aws_lb_listener.https";
    const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/ehr-api/50dc6c495c0c9188/f2f7dc8efc522ab2";
    const LB_ARN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/ehr-api/50dc6c495c0c9188";
    const CERT_ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/5a1b2c3d-1111-2222-3333-444455556666";
    check(
        "aws_lb_listener",
        Row {
            resources: vec![resource(
                "aws_lb_listener",
                "https",
                json!({
                    "alpn_policy": null,
                    "arn": LISTENER_ARN,
                    "certificate_arn": CERT_ARN,
                    "default_action": [{"type": "forward", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/ehr-api/1234567890abcdef"}],
                    "id": LISTENER_ARN,
                    "load_balancer_arn": LB_ARN,
                    "port": 443,
                    "protocol": "HTTPS",
                    "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "tags_all": {}
                }),
            )],
            live: item(
                "AWS::ElasticLoadBalancingV2::Listener",
                LISTENER_ARN,
                LISTENER_ARN,
                json!({
                    "ListenerArn": LISTENER_ARN,
                    "LoadBalancerArn": LB_ARN,
                    // a number written as a string
                    "Port": "443",
                    "Protocol": "HTTPS",
                    "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "Certificates": [{"CertificateArn": CERT_ARN}],
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/ehr-api/1234567890abcdef"}]
                }),
                json!({}),
                Some(json!({})),
            ),
            absent: &[],
            mutations: vec![
                weaken(
                    "older TLS policy",
                    vec![live("/configuration/SslPolicy", json!("ELBSecurityPolicy-2016-08"))],
                    vec![regression(ADDR, &["ssl_policy"])],
                ),
                weaken(
                    "downgraded to plain HTTP",
                    vec![
                        live("/configuration/Protocol", json!("HTTP")),
                        live("/configuration/Port", json!(80)),
                        gone("/configuration/SslPolicy"),
                        gone("/configuration/Certificates"),
                    ],
                    vec![regression(ADDR, &["protocol", "ssl_policy"]), changed(ADDR, &["certificate_arn", "port"])],
                ),
                strengthen(
                    "state has plain HTTP, live HTTPS with a TLS 1.3 policy",
                    vec![
                        tf("/protocol", json!("HTTP")),
                        tf("/port", json!(80)),
                        tf("/ssl_policy", json!("")),
                        tf("/certificate_arn", json!("")),
                    ],
                    vec![changed(ADDR, &["certificate_arn", "port", "protocol", "ssl_policy"])],
                ),
            ],
        },
    );
}

// ------------------------------------------------------------------------------ drift.missing

fn bucket_named(name: &str, tf_name: &str) -> (Value, Value) {
    let arn = format!("arn:aws:s3:::{name}");
    let tf = resource(
        "aws_s3_bucket",
        tf_name,
        json!({"id": name, "arn": arn, "bucket": name, "object_lock_enabled": false, "tags_all": {"Name": name}}),
    );
    let live = item(
        "AWS::S3::Bucket",
        name,
        &arn,
        json!({"name": name, "creationDate": "2024-11-17T19:48:53.000Z"}),
        json!({"BucketVersioningConfiguration": {"status": "Off"}}),
        Some(json!({"Name": name})),
    );
    (tf, live)
}

#[test]
fn missing_when_absent_from_an_inventory_that_covers_the_type() {
    let (a_tf, a_live) = bucket_named("ehr-a", "a");
    let (b_tf, _) = bucket_named("ehr-b", "b");
    let versioning_b = resource(
        "aws_s3_bucket_versioning",
        "b",
        json!({"id": "ehr-b", "bucket": "ehr-b", "versioning_configuration": [{"status": "Enabled", "mfa_delete": ""}]}),
    );
    let got = scan(&[a_tf, b_tf, versioning_b], &[a_live]);
    // one finding per live identity, on the primary resource, not one per facet
    assert_eq!(summary(&got.outcome.findings), vec![("drift.missing".to_string(), "aws_s3_bucket.b".to_string(), vec![])]);
    let f = &got.outcome.findings[0];
    assert_eq!(f.resource.id, "ehr-b");
    assert_eq!(f.resource.resource_type, "AWS::S3::Bucket");
    assert_eq!(f.resource.terraform_type.as_deref(), Some("aws_s3_bucket"));
    assert_eq!(f.resource.state.as_ref().map(|s| s.lineage.as_str()), Some(LINEAGE));
    assert_eq!(f.severity, Severity::High);
    assert!(got.outcome.notes.is_empty(), "{:?}", got.outcome.notes);
}

#[test]
fn missing_when_the_item_is_deleted() {
    let (a_tf, a_live) = bucket_named("ehr-a", "a");
    let (b_tf, mut b_live) = bucket_named("ehr-b", "b");
    // what Config records for a deleted resource
    b_live["configurationItemStatus"] = json!("ResourceDeleted");
    b_live["configuration"] = Value::Null;
    b_live["supplementaryConfiguration"] = json!({});
    b_live["tags"] = json!({});
    let got = scan(&[a_tf, b_tf], &[a_live, b_live]);
    // missing, and not also unmanaged, nor compared
    assert_eq!(summary(&got.outcome.findings), vec![("drift.missing".to_string(), "aws_s3_bucket.b".to_string(), vec![])]);
}

#[test]
fn nothing_missing_when_the_inventory_does_not_cover_the_type() {
    let (a_tf, a_live) = bucket_named("ehr-a", "a");
    let key = resource(
        "aws_kms_key",
        "app",
        json!({"id": KEY_ID, "key_id": KEY_ID, "arn": KEY_ARN, "enable_key_rotation": true, "is_enabled": true}),
    );
    let got = scan(&[a_tf, key], &[a_live]);
    assert!(got.outcome.findings.is_empty(), "{:#?}", got.outcome.findings);
    assert_eq!(got.outcome.notes.len(), 1, "{:?}", got.outcome.notes);
    assert!(got.outcome.notes[0].contains("AWS::KMS::Key"), "{:?}", got.outcome.notes);
}

// ------------------------------------------------------------------------------ drift.unmanaged

#[test]
fn unmanaged_items_are_reported_except_aws_managed_ones() {
    let (a_tf, a_live) = bucket_named("ehr-a", "a");
    let (_, stray_bucket) = bucket_named("someone-elses-bucket", "x");
    let kms = |id: &str, manager: &str| {
        item(
            "AWS::KMS::Key",
            id,
            &format!("arn:aws:kms:us-east-1:123456789012:key/{id}"),
            json!({"keyId": id, "keyManager": manager, "enabled": true, "keyState": "Enabled"}),
            json!({}),
            Some(json!({})),
        )
    };
    let sg = |id: &str, name: &str| {
        item(
            "AWS::EC2::SecurityGroup",
            id,
            &format!("arn:aws:ec2:us-east-1:123456789012:security-group/{id}"),
            json!({"groupId": id, "groupName": name, "vpcId": "vpc-0a1b2c3d", "ipPermissions": [], "ipPermissionsEgress": []}),
            json!({}),
            Some(json!({})),
        )
    };
    let role = |id: &str, path: &str, name: &str| {
        item(
            "AWS::IAM::Role",
            id,
            &format!("arn:aws:iam::123456789012:role{path}{name}"),
            json!({"roleId": id, "roleName": name, "path": path}),
            json!({}),
            Some(json!({})),
        )
    };
    let mut deleted_key = kms("deleted-0000-1111", "CUSTOMER");
    deleted_key["configurationItemStatus"] = json!("ResourceDeleted");
    // a type outside the catalog: never reported
    let instance = item(
        "AWS::Lightsail::Disk",
        "ehr-scratch-disk",
        "arn:aws:lightsail:us-east-1:123456789012:Disk/7c1e5b6a-2f55-4f0e-9d57-0d1b4c2f9e11",
        json!({"name": "ehr-scratch-disk"}),
        json!({}),
        Some(json!({})),
    );
    let items = vec![
        a_live,
        stray_bucket,
        kms("aws-managed-0000-aaaa", "AWS"),
        kms("customer-0000-bbbb", "CUSTOMER"),
        deleted_key,
        sg("sg-0000000000000000d", "default"),
        sg("sg-0000000000000000e", "launch-wizard-1"),
        role("AROASERVICELINKED0001", "/aws-service-role/rds.amazonaws.com/", "AWSServiceRoleForRDS"),
        role("AROARESERVED00000001", "/aws-reserved/sso.amazonaws.com/", "AWSReservedSSO_Admin_0123"),
        role("AROAHANDMADE00000001", "/", "hand-made-admin"),
        instance,
    ];
    let got = scan(&[a_tf], &items);
    let mut reported: Vec<(String, String, Option<String>)> = got
        .outcome
        .findings
        .iter()
        .map(|f| {
            assert_eq!(f.rule, Rule::DriftUnmanaged, "{f:#?}");
            assert!(f.resource.address.is_none() && f.resource.state.is_none());
            (f.resource.resource_type.clone(), f.resource.id.clone(), f.resource.terraform_type.clone())
        })
        .collect();
    reported.sort();
    let s = |a: &str| a.to_string();
    assert_eq!(
        reported,
        vec![
            (s("AWS::EC2::SecurityGroup"), s("sg-0000000000000000e"), Some(s("aws_security_group"))),
            (s("AWS::IAM::Role"), s("AROAHANDMADE00000001"), Some(s("aws_iam_role"))),
            (s("AWS::KMS::Key"), s("customer-0000-bbbb"), Some(s("aws_kms_key"))),
            (s("AWS::S3::Bucket"), s("someone-elses-bucket"), Some(s("aws_s3_bucket"))),
        ]
    );
}

#[test]
fn unmanaged_fingerprints_identify_the_live_resource() {
    let (_, stray) = bucket_named("someone-elses-bucket", "x");
    let first = scan(&[], std::slice::from_ref(&stray));
    let again = scan(&[], &[stray]);
    assert_eq!(first.outcome.findings.len(), 1);
    assert_eq!(first.outcome.findings, again.outcome.findings);
}

// ------------------------------------------------------------------------------ never compared

#[test]
fn data_sources_and_deposed_objects_are_never_compared() {
    let data = |rtype: &str, name: &str, attributes: Value| {
        json!({"mode": "data", "type": rtype, "name": name, "provider": PROVIDER,
               "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}]})
    };
    let shared = data(
        "aws_s3_bucket",
        "shared",
        json!({"id": "shared-artifacts", "bucket": "shared-artifacts", "arn": "arn:aws:s3:::shared-artifacts", "tags": {"Name": "old"}}),
    );
    let by_alias = data("aws_kms_key", "by_alias", json!({"id": KEY_ID, "key_id": KEY_ID, "arn": KEY_ARN, "enable_key_rotation": true}));
    // create_before_destroy left the old bucket deposed next to the new one
    let (mut current, current_live) = bucket_named("ehr-b-v2", "b");
    let deposed = json!({
        "schema_version": 0,
        "deposed": "00000001",
        "attributes": {"id": "ehr-b-v1", "bucket": "ehr-b-v1", "arn": "arn:aws:s3:::ehr-b-v1", "object_lock_enabled": true, "tags_all": {"Name": "v1"}},
        "sensitive_attributes": []
    });
    current["instances"].as_array_mut().expect("instances").push(deposed);

    // live: the new bucket as in state; the data source's bucket and key, different from
    // what the data source read; the deposed bucket is gone.
    let (_, mut shared_live) = bucket_named("shared-artifacts", "x");
    shared_live["tags"] = json!({"Name": "new"});
    let key_live = item(
        "AWS::KMS::Key",
        KEY_ID,
        KEY_ARN,
        json!({"keyId": KEY_ID, "keyManager": "CUSTOMER", "enabled": false}),
        json!({"KeyRotationStatus": false}),
        Some(json!({})),
    );
    let got = scan(&[shared, by_alias, current], &[current_live, shared_live, key_live]);

    assert_eq!(got.index.len(), 1, "only the current managed object is indexed: {:?}", got.index.entries());
    assert_eq!(got.index.managed_instances, 1);
    for f in &got.outcome.findings {
        assert_eq!(f.rule, Rule::DriftUnmanaged, "data sources and deposed objects compared: {f:#?}");
        assert!(!f.resource.address.as_deref().unwrap_or("").starts_with("data."), "{f:#?}");
    }
    // what data sources read is not managed by this state: it is reported as unmanaged
    let ids: BTreeSet<&str> = got.outcome.findings.iter().map(|f| f.resource.id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["shared-artifacts", KEY_ID]));
}

// ------------------------------------------------------------------------------ secrets

#[test]
fn sensitive_values_never_appear_in_findings() {
    const DB_PASSWORD: &str = "Sup3r-Secret-Hunter2-XYZ";
    const CLUSTER_PASSWORD: &str = "Aur0ra-Secret-Pass-1";
    const ENV_SECRET: &str = "Lambda-Secret-Pa55";
    const ENV_SECRET_ROTATED: &str = "Rotated-Secret-99";
    let db = resource_with_sensitive(
        "aws_db_instance",
        "ehr",
        json!({
            "arn": "arn:aws:rds:us-east-1:123456789012:db:ehr-prod", "id": DBI_RESOURCE_ID, "resource_id": DBI_RESOURCE_ID,
            "password": DB_PASSWORD, "publicly_accessible": false, "storage_encrypted": true, "kms_key_id": KEY_ARN
        }),
        &["password"],
    );
    // declared sensitive by the catalog only (no sensitive_attributes)
    let cluster = resource(
        "aws_rds_cluster",
        "ehr",
        json!({
            "arn": "arn:aws:rds:us-east-1:123456789012:cluster:ehr-aurora", "cluster_resource_id": CLUSTER_RESOURCE_ID,
            "master_password": CLUSTER_PASSWORD, "deletion_protection": true
        }),
    );
    let function = resource(
        "aws_lambda_function",
        "api",
        json!({
            "arn": "arn:aws:lambda:us-east-1:123456789012:function:ehr-fhir-api", "function_name": "ehr-fhir-api",
            "environment": [{"variables": {"DB_PASSWORD": ENV_SECRET, "LOG_LEVEL": "info"}}]
        }),
    );
    let db_live = item(
        "AWS::RDS::DBInstance",
        DBI_RESOURCE_ID,
        "arn:aws:rds:us-east-1:123456789012:db:ehr-prod",
        // made public and decrypted: findings are produced for this resource
        json!({"publiclyAccessible": true, "storageEncrypted": false, "masterUserPassword": DB_PASSWORD}),
        json!({}),
        Some(json!({})),
    );
    let cluster_live = item(
        "AWS::RDS::DBCluster",
        CLUSTER_RESOURCE_ID,
        "arn:aws:rds:us-east-1:123456789012:cluster:ehr-aurora",
        json!({"deletionProtection": false}),
        json!({}),
        Some(json!({})),
    );
    let function_live = item(
        "AWS::Lambda::Function",
        "ehr-fhir-api",
        "arn:aws:lambda:us-east-1:123456789012:function:ehr-fhir-api",
        json!({"environment": {"variables": {"DB_PASSWORD": ENV_SECRET_ROTATED, "LOG_LEVEL": "info"}}}),
        json!({}),
        Some(json!({})),
    );
    let got = scan(&[db, cluster, function], &[db_live, cluster_live, function_live]);
    let findings = &got.outcome.findings;
    let rules: BTreeSet<(&str, &str)> = findings.iter().map(|f| (f.rule.id(), f.resource.address.as_deref().unwrap_or(""))).collect();
    assert_eq!(
        rules,
        BTreeSet::from([
            ("drift.changed", "aws_db_instance.ehr"),
            ("encryption.regression", "aws_db_instance.ehr"),
            ("drift.changed", "aws_rds_cluster.ehr"),
            ("drift.changed", "aws_lambda_function.api"),
        ])
    );
    // the rotated secret is reported as changed, by digest
    let env = findings
        .iter()
        .flat_map(|f| &f.changes)
        .find(|c| c.path == "environment[0].variables")
        .expect("the environment change is reported");
    for v in [&env.desired["DB_PASSWORD"], &env.actual["DB_PASSWORD"]] {
        assert!(v.as_str().is_some_and(|s| s.starts_with(REDACTED_PREFIX)), "{v}");
    }
    assert_ne!(env.desired["DB_PASSWORD"], env.actual["DB_PASSWORD"]);
    // and no secret appears anywhere a finding can be shown or stored
    let debug = format!("{findings:?}");
    let json = serde_json::to_string(findings).expect("findings serialise");
    let pretty = serde_json::to_string_pretty(findings).expect("findings serialise");
    let notes = format!("{:?}", got.outcome.notes);
    for secret in [DB_PASSWORD, CLUSTER_PASSWORD, ENV_SECRET, ENV_SECRET_ROTATED] {
        for (name, text) in [("Debug", &debug), ("JSON", &json), ("pretty JSON", &pretty), ("notes", &notes)] {
            assert!(!text.contains(secret), "{secret} appears in the {name} of the findings");
        }
    }
}

// ------------------------------------------------------------------------------ severity

#[test]
fn regulated_resources_raise_severity() {
    let tagged = |class: &str| {
        resource(
            "aws_ebs_volume",
            "phi",
            json!({"id": VOLUME_ID, "encrypted": true, "kms_key_id": KEY_ARN, "size": 100, "tags_all": {"data-classification": class}}),
        )
    };
    let live_volume = item(
        "AWS::EC2::Volume",
        VOLUME_ID,
        "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718",
        json!({"volumeId": VOLUME_ID, "encrypted": true, "kmsKeyId": OTHER_KEY_ARN, "size": 200}),
        json!({}),
        None,
    );
    let severities = |class: &str| -> Vec<(Rule, Severity)> {
        let got = scan(&[tagged(class)], std::slice::from_ref(&live_volume));
        let mut s: Vec<_> = got.outcome.findings.iter().map(|f| (f.rule, f.severity)).collect();
        s.sort();
        s
    };
    // `size` is a low-severity attribute; the regression defaults to high
    assert_eq!(severities("internal"), vec![(Rule::DriftChanged, Severity::Low), (Rule::EncryptionRegression, Severity::High)]);
    assert_eq!(severities("phi"), vec![(Rule::DriftChanged, Severity::Medium), (Rule::EncryptionRegression, Severity::Critical)]);
}

/// Issue 14: the README's control tables are the catalog's (`driftwatch controls` prints the
/// same): families × rows × signals with their HIPAA / NIST / CIS controls, and every row.
#[test]
fn the_readme_shows_the_control_catalog_as_it_is() {
    use driftwatch_core::detect::controls::{self, Controls};
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).expect("README.md");
    let c = Controls::builtin();
    for (what, table) in [("summary", controls::summary_markdown(c)), ("rows", controls::rows_markdown(c))] {
        assert!(
            readme.contains(&table),
            "README.md's control {what} table is out of date; `driftwatch controls --format {what}` prints:\n{table}"
        );
    }
    assert!(c.rows().len() >= 80, "{} control rows", c.rows().len());
}
