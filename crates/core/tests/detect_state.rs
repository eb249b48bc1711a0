//! State-write detector, data-driven: small hand-written v4 states of the St Mary's data tier
//! (real sample addresses and ids: the imaging PHI bucket and its facets, its KMS key, the PACS
//! cache volumes), a previous and a current version per case, and what the adapter knows about
//! the write. The default write is a benign pipeline apply (lock held, digest matching, the
//! deploy role writing); each case changes one thing. The managed-resource index is built from
//! `samples/states/*.tfstate`. `check` also runs every case twice and requires identical
//! findings.

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::detect::state_write::{self, ResourceIdentity, StateDiffSummary, StateWrite};
use driftwatch_core::detect::{Context, HeldLock, LockSource};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{LockInfo, ObjectChange, Principal, StateObjectEvent};
use driftwatch_core::state::{parse_state, State, StateLocation};
use driftwatch_core::{Finding, Redactor, Severity};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

const BUCKET: &str = "stmarys-tfstate";
const KEY: &str = "data/terraform.tfstate";
const LINEAGE: &str = "a481dbb3-1596-4513-a797-fbe7de2800f7";
const PROVIDER: &str = "provider[\"registry.terraform.io/hashicorp/aws\"]";
const IMAGING: &str = "stmarys-ehr-prod-phi-imaging-123456789012";
const KEY_ID: &str = "319d1c27-3eb0-4d5d-8b8d-55a374513c3d";
const APP_KEY_ID: &str = "e2801a92-307e-4c57-9a05-7840e65c4ffb";
const VOLS: [&str; 2] = ["vol-057b53378254e1235", "vol-0eb55b51fea93097f"];
const MD5: &str = "9a0364b9e99bb480dd25e1f0284c8555";
const PREV_MD5: &str = "5d41402abc4b2a76b9719d911017c592";

const BUCKET_ADDR: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket.this";
const SSE_ADDR: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this";
const POLICY_ADDR: &str = "module.phi_storage[\"imaging\"].module.bucket.aws_s3_bucket_policy.this";
const KMS_ADDR: &str = "module.phi_storage[\"imaging\"].aws_kms_key.this";
const STATE_ID: &str = "driftwatch::TerraformState s3://stmarys-tfstate/data/terraform.tfstate";

// ------------------------------------------------------------------------------ states

fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:123456789012:key/{id}")
}

fn tags(name: &str) -> Value {
    json!({"CostCenter": "ehr-1042", "Environment": "prod", "Name": name, "Owner": "platform-team", "data-classification": "phi"})
}

fn resource(module: Option<&str>, ty: &str, name: &str, instances: Vec<Value>) -> Value {
    let mut r = json!({"mode": "managed", "type": ty, "name": name, "provider": PROVIDER, "instances": instances});
    if let Some(m) = module {
        r["module"] = json!(m);
    }
    r
}

fn instance(attrs: Value) -> Value {
    json!({"schema_version": 0, "attributes": attrs, "sensitive_attributes": []})
}

const BUCKET_MODULE: Option<&str> = Some("module.phi_storage[\"imaging\"].module.bucket");
const KEY_MODULE: Option<&str> = Some("module.phi_storage[\"imaging\"]");

fn bucket() -> Value {
    resource(
        BUCKET_MODULE,
        "aws_s3_bucket",
        "this",
        vec![instance(json!({"id": IMAGING, "bucket": IMAGING, "arn": format!("arn:aws:s3:::{IMAGING}"), "object_lock_enabled": false,
            "tags": {"Name": IMAGING, "data-classification": "phi"}, "tags_all": tags(IMAGING)}))],
    )
}

fn sse(algorithm: &str, key: &str, bucket_key: bool) -> Value {
    resource(
        BUCKET_MODULE,
        "aws_s3_bucket_server_side_encryption_configuration",
        "this",
        vec![instance(json!({"id": IMAGING, "bucket": IMAGING, "expected_bucket_owner": "",
            "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": key, "sse_algorithm": algorithm}], "bucket_key_enabled": bucket_key}]}))],
    )
}

fn bucket_policy(tls_only: bool) -> Value {
    let mut statements = vec![json!({"Sid": "AllowImagingService", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{IMAGING}/*"), "Principal": {"AWS": "arn:aws:iam::123456789012:role/ehr-prod-image-indexer-lambda"}})];
    if tls_only {
        statements.push(json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{IMAGING}"), format!("arn:aws:s3:::{IMAGING}/*")], "Principal": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}));
    }
    let policy = serde_json::to_string_pretty(&json!({"Version": "2012-10-17", "Statement": statements})).unwrap();
    resource(BUCKET_MODULE, "aws_s3_bucket_policy", "this", vec![instance(json!({"id": IMAGING, "bucket": IMAGING, "policy": policy}))])
}

fn kms_key(id: &str, rotation: bool) -> Value {
    resource(
        KEY_MODULE,
        "aws_kms_key",
        "this",
        vec![instance(json!({"id": id, "key_id": id, "arn": key_arn(id), "enable_key_rotation": rotation, "is_enabled": true,
            "key_usage": "ENCRYPT_DECRYPT", "customer_master_key_spec": "SYMMETRIC_DEFAULT", "description": "PHI imaging", "multi_region": false,
            "tags_all": tags("ehr-prod-phi-imaging")}))],
    )
}

fn alias() -> Value {
    resource(
        KEY_MODULE,
        "aws_kms_alias",
        "this",
        vec![instance(json!({"id": "alias/ehr-prod-phi-imaging", "name": "alias/ehr-prod-phi-imaging",
        "arn": "arn:aws:kms:us-east-1:123456789012:alias/ehr-prod-phi-imaging", "target_key_id": KEY_ID}))],
    )
}

fn volume(index: usize, id: &str) -> Value {
    json!({"index_key": index, "schema_version": 0, "attributes": {"id": id, "arn": format!("arn:aws:ec2:us-east-1:123456789012:volume/{id}"),
        "availability_zone": "us-east-1a", "encrypted": true, "kms_key_id": key_arn("5112c488-9218-44d5-b696-8bc4cb676f37"), "size": 500,
        "type": "gp3", "tags_all": tags(&format!("ehr-prod-pacs-cache-{index}"))}})
}

fn volumes(ids: &[(usize, &str)]) -> Value {
    resource(None, "aws_ebs_volume", "pacs_cache", ids.iter().map(|(i, id)| volume(*i, id)).collect())
}

fn caller() -> Value {
    json!({"mode": "data", "type": "aws_caller_identity", "name": "current", "provider": PROVIDER,
           "instances": [{"schema_version": 0, "attributes": {"id": "123456789012", "account_id": "123456789012"}}]})
}

/// The previous version: the imaging bucket with SSE-KMS, bucket key and a TLS-only policy,
/// its key with rotation, two PACS cache volumes.
fn base() -> Vec<Value> {
    vec![
        caller(),
        volumes(&[(0, VOLS[0]), (1, VOLS[1])]),
        kms_key(KEY_ID, true),
        alias(),
        bucket(),
        bucket_policy(true),
        sse("aws:kms", &key_arn(KEY_ID), true),
    ]
}

fn state(serial: u64, lineage: &str, resources: Vec<Value>) -> Value {
    json!({"version": 4, "terraform_version": "1.11.2", "serial": serial, "lineage": lineage, "outputs": {}, "resources": resources, "check_results": null})
}

/// `base()` with resources replaced by type (and module) or removed (`None`).
fn edit(mut resources: Vec<Value>, ty: &str, with: Option<Value>) -> Vec<Value> {
    let i = resources.iter().position(|r| r["type"] == ty).unwrap_or_else(|| panic!("{ty}"));
    match with {
        Some(r) => resources[i] = r,
        None => {
            resources.remove(i);
        }
    }
    resources
}

fn redactor() -> Redactor {
    Redactor::new(b"detect-state")
}

fn parse(v: &Value) -> State {
    parse_state(v.to_string().as_bytes(), StateLocation::s3(BUCKET, KEY), &Catalog::builtin(), &redactor()).unwrap()
}

fn index() -> &'static ManagedIndex {
    static INDEX: OnceLock<ManagedIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let catalog = Catalog::builtin();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples/states");
        let states = ["network", "data", "app"].map(|name| {
            let bytes = std::fs::read(root.join(format!("{name}.tfstate"))).unwrap();
            parse_state(&bytes, StateLocation::s3(BUCKET, format!("{name}/terraform.tfstate")), &catalog, &redactor()).unwrap()
        });
        ManagedIndex::build(states, &catalog)
    })
}

fn policy() -> Policy {
    Policy::from_toml("[pipeline]\nprincipals = [\"arn:aws:iam::*:role/ehr-terraform-deploy\"]").unwrap()
}

fn deploy_role() -> Principal {
    Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/ehr-terraform-deploy/GitHubActions".into()),
        principal_type: Some("AssumedRole".into()),
        session_issuer_arn: Some("arn:aws:iam::123456789012:role/ehr-terraform-deploy".into()),
        session_name: Some("GitHubActions".into()),
        ..Default::default()
    }
}

fn console_admin() -> Principal {
    Principal {
        arn: Some("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1a2b/jdoe@stmarys.org".into()),
        session_credential_from_console: true,
        ..Default::default()
    }
}

fn at() -> DateTime<Utc> {
    "2026-11-20T14:03:07Z".parse().unwrap()
}

// ------------------------------------------------------------------------------ check

/// What the adapter knows about the write. `Default`: a pipeline apply.
#[derive(Clone)]
struct Known {
    object_md5: Option<&'static str>,
    previous_md5: Option<&'static str>,
    digest: Option<&'static str>,
    lock_held: Option<bool>,
    operation: Option<&'static str>,
    writer: Option<Principal>,
    still_live: Option<Vec<(&'static str, &'static str)>>,
}

impl Default for Known {
    fn default() -> Self {
        Known {
            object_md5: Some(MD5),
            previous_md5: Some(PREV_MD5),
            digest: Some(MD5),
            lock_held: Some(true),
            operation: Some("OperationTypeApply"),
            writer: Some(deploy_role()),
            still_live: None,
        }
    }
}

fn detect(prev: Option<&State>, cur: &State, known: &Known) -> (Vec<Finding>, StateDiffSummary) {
    let event = StateObjectEvent {
        bucket: BUCKET.into(),
        key: KEY.into(),
        version_id: Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo".into()),
        etag: known.object_md5.map(str::to_string),
        size: Some(48_213),
        change: ObjectChange::Created,
        time: at(),
        requester: Some("123456789012".into()),
        source_ip: None,
        sequencer: None,
    };
    let lock = known.operation.map(|op| HeldLock {
        info: LockInfo {
            id: "e31b62fc-0741-73e8-d5fb-e39148a1aa7e".into(),
            operation: op.into(),
            who: "runner@gha-prod-7".into(),
            version: "1.11.2".into(),
            created: Some("2026-11-20T14:01:55Z".parse().unwrap()),
            path: format!("{BUCKET}/{KEY}"),
            ..Default::default()
        },
        since: "2026-11-20T14:01:55Z".parse().unwrap(),
        principal: known.writer.clone(),
        source: LockSource::Table { table: Some("terraform-locks".into()) },
    });
    let mut w = StateWrite::new(&event, prev, cur);
    w.object_md5 = known.object_md5.map(str::to_string);
    w.previous_md5 = known.previous_md5.map(str::to_string);
    w.lock_table_digest = known.digest.map(str::to_string);
    w.lock_held = known.lock_held;
    w.lock = lock;
    w.writer = known.writer.clone();
    w.still_live = known
        .still_live
        .as_ref()
        .map(|l| l.iter().map(|(t, id)| ResourceIdentity { config_type: t.to_string(), resource_id: id.to_string() }).collect());
    let catalog = Catalog::builtin();
    let policy = policy();
    let r = redactor();
    let ctx = Context { index: index(), catalog: &catalog, policy: &policy, redactor: &r, now: "2030-01-01T00:00:00Z".parse().unwrap() };
    state_write::detect(&w, &ctx)
}

/// Detect on (previous, current) with what is known; expect these (rule, address or
/// `type id`) pairs, in the detector's order.
/// The two versions read as the state watcher reads them: the current one first, then the one
/// before taking its identical resource elements (the same objects in both).
fn read_sharing(prev: &Value, cur: &Value) -> (State, State) {
    use driftwatch_core::state::StateReader;
    let catalog = Catalog::builtin();
    let r = redactor();
    let read = |v: &Value, reuse: Option<(driftwatch_core::state::Elements, State)>| {
        let mut reader = StateReader::new(StateLocation::s3(BUCKET, KEY), &catalog, &r);
        reader.record_elements();
        if let Some((elements, other)) = reuse {
            reader.reuse(elements, other.instances);
        }
        let mut instances = Vec::new();
        reader.feed(serde_json::to_string_pretty(v).unwrap().as_bytes(), &mut |i| instances.push(i)).unwrap();
        let (header, elements) = reader.finish_with_elements(&mut |i| instances.push(i)).unwrap();
        (State::from_parts(header, StateLocation::s3(BUCKET, KEY), instances), elements)
    };
    let (current, elements) = read(cur, None);
    let (previous, _) = read(prev, Some((elements, current.clone())));
    (previous, current)
}

fn check(prev: Option<Value>, cur: Value, known: Known, want: &[(&str, &str)]) -> (Vec<Finding>, StateDiffSummary) {
    let shared = prev.as_ref().map(|p| read_sharing(p, &cur));
    if let (Some(p), Some((ps, cs))) = (&prev, &shared) {
        let same = |r: &Value| {
            cur["resources"].as_array().is_some_and(|c| c.contains(r) && r["instances"].as_array().is_some_and(|i| !i.is_empty()))
        };
        if p["resources"].as_array().is_some_and(|rs| rs.iter().any(same)) {
            assert!(
                ps.instances.iter().any(|i| cs.instances.iter().any(|j| std::sync::Arc::ptr_eq(i, j))),
                "identical resources are shared"
            );
        }
    }
    let prev = prev.map(|p| parse(&p));
    let cur = parse(&cur);
    let (findings, summary) = detect(prev.as_ref(), &cur, &known);
    let got: Vec<(&str, String)> = findings
        .iter()
        .map(|f| (f.rule.id(), f.resource.address.clone().unwrap_or_else(|| format!("{} {}", f.resource.resource_type, f.resource.id))))
        .collect();
    let want: Vec<(&str, String)> = want.iter().map(|(r, a)| (*r, a.to_string())).collect();
    assert_eq!(got, want, "{:#?}", findings.iter().map(|f| &f.title).collect::<Vec<_>>());
    for f in &findings {
        assert_eq!(f.first_seen, at(), "timed by the S3 event");
    }
    assert_eq!(detect(prev.as_ref(), &cur, &known), (findings.clone(), summary.clone()), "replay gives identical findings");
    // Read as the state watcher reads them (unchanged resources one object in both, which the
    // comparison skips): the same findings and summary.
    if let (Some((p, c)), Some(prev)) = (&shared, &prev) {
        assert_eq!(detect(Some(p), c, &known), (findings.clone(), summary.clone()), "read sharing their unchanged resources");
        let catalog = Catalog::builtin();
        assert_eq!(state_write::removed_identities(p, c, &catalog), state_write::removed_identities(prev, &cur, &catalog));
    }
    (findings, summary)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ------------------------------------------------------------------------------ summary

#[test]
fn pipeline_apply_that_changes_nothing_suspicious_is_quiet() {
    let queue = resource(
        None,
        "aws_sqs_queue",
        "imaging_events",
        vec![instance(json!({
        "id": "https://sqs.us-east-1.amazonaws.com/123456789012/ehr-prod-imaging-events",
        "arn": "arn:aws:sqs:us-east-1:123456789012:ehr-prod-imaging-events", "kms_master_key_id": KEY_ID}))],
    );
    let mut cur = base();
    cur.push(queue);
    let cur = edit(cur, "aws_kms_key", Some(kms_key(KEY_ID, true)));
    let mut tagged = bucket();
    tagged["instances"][0]["attributes"]["tags_all"]["Retention"] = json!("7y");
    let cur = edit(cur, "aws_s3_bucket", Some(tagged));
    // A tag on the bucket, a bigger volume; the key and the alias untouched.
    let mut bigger = volumes(&[(0, VOLS[0]), (1, VOLS[1])]);
    bigger["instances"][1]["attributes"]["size"] = json!(750);
    let cur = edit(cur, "aws_ebs_volume", Some(bigger));
    let (_, summary) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), Known::default(), &[]);
    assert_eq!(
        summary,
        StateDiffSummary {
            added: strings(&["aws_sqs_queue.imaging_events"]),
            removed: vec![],
            changed: strings(&["aws_ebs_volume.pacs_cache[1]", BUCKET_ADDR]),
            moved: vec![],
        }
    );
}

#[test]
fn first_version_adds_everything() {
    let (_, summary) = check(None, state(1, LINEAGE, base()), Known::default(), &[]);
    assert_eq!(summary.added.len(), 7, "{:?}", summary.added);
    assert!(summary.added.iter().all(|a| !a.starts_with("data.")), "data sources are not resources");
}

#[test]
fn strengthening_encryption_is_not_a_regression() {
    let prev = edit(base(), "aws_s3_bucket_server_side_encryption_configuration", Some(sse("AES256", "", false)));
    let (_, summary) = check(Some(state(41, LINEAGE, prev)), state(42, LINEAGE, base()), Known::default(), &[]);
    assert_eq!(summary.changed, strings(&[SSE_ADDR]));
}

#[test]
fn moved_resource_is_neither_added_nor_removed() {
    let moved = resource(None, "aws_ebs_volume", "pacs", vec![volume(1, VOLS[1])]);
    let mut cur = edit(base(), "aws_ebs_volume", Some(volumes(&[(0, VOLS[0])])));
    cur.push(moved);
    let known = Known { operation: Some("state-mv"), ..Known::default() };
    let (_, summary) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), known, &[]);
    assert_eq!(summary.moved, vec![("aws_ebs_volume.pacs_cache[1]".to_string(), "aws_ebs_volume.pacs[1]".to_string())]);
    assert!(summary.added.is_empty() && summary.removed.is_empty(), "{summary:?}");
}

// ------------------------------------------------------------------------------ encryption

#[test]
fn encryption_weakened_through_terraform() {
    // aws:kms with a CMK and bucket key → AES256: three weaker attributes, one finding.
    let cur = edit(base(), "aws_s3_bucket_server_side_encryption_configuration", Some(sse("AES256", "", false)));
    let (f, summary) =
        check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), Known::default(), &[("encryption.regression", SSE_ADDR)]);
    let f = &f[0];
    let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "rule[0].apply_server_side_encryption_by_default[0].sse_algorithm",
            "rule[0].apply_server_side_encryption_by_default[0].kms_master_key_id",
            "rule[0].bucket_key_enabled"
        ]
    );
    assert_eq!((f.changes[0].desired.as_str(), f.changes[0].actual.as_str()), (Some("aws:kms"), Some("AES256")));
    assert_eq!(f.severity, Severity::Critical, "the bucket is tagged data-classification=phi");
    assert_eq!(f.resource.arn.as_deref(), Some("arn:aws:s3:::stmarys-ehr-prod-phi-imaging-123456789012"));
    assert_eq!(f.resource.state.as_ref().map(|s| s.serial), Some(42));
    assert_eq!(f.actor.as_ref().and_then(|a| a.kind), Some(driftwatch_core::finding::ActorKind::Pipeline));
    assert_eq!(summary.changed, strings(&[SSE_ADDR]));
}

#[test]
fn key_rotation_turned_off_through_terraform() {
    let cur = edit(base(), "aws_kms_key", Some(kms_key(KEY_ID, false)));
    let known = Known { writer: Some(console_admin()), ..Known::default() };
    let (f, _) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), known, &[("encryption.regression", KMS_ADDR)]);
    assert!(f[0].actor.as_ref().is_some_and(|a| a.via_console), "the writer is the actor");
}

#[test]
fn key_written_as_arn_instead_of_id_is_the_same_key() {
    let prev = edit(base(), "aws_s3_bucket_server_side_encryption_configuration", Some(sse("aws:kms", KEY_ID, true)));
    check(Some(state(41, LINEAGE, prev)), state(42, LINEAGE, base()), Known::default(), &[]);
}

#[test]
fn encryption_facet_removed_while_the_bucket_stays() {
    let cur = edit(base(), "aws_s3_bucket_server_side_encryption_configuration", None);
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), Known::default(), &[("encryption.regression", SSE_ADDR)]);
    // With the bucket gone too, it is a destroy.
    let cur = edit(
        edit(edit(base(), "aws_s3_bucket_server_side_encryption_configuration", None), "aws_s3_bucket", None),
        "aws_s3_bucket_policy",
        None,
    );
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), Known::default(), &[]);
}

#[test]
fn tls_only_deny_dropped_from_the_bucket_policy() {
    let cur = edit(base(), "aws_s3_bucket_policy", Some(bucket_policy(false)));
    let (f, _) =
        check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, cur), Known::default(), &[("encryption.regression", POLICY_ADDR)]);
    assert_eq!(f[0].changes[0].path, "policy");
}

// ------------------------------------------------------------------------------ lineage, serial

#[test]
fn lineage_changed() {
    let other = "0c8a7d1e-6f0b-4d43-9a55-2b3c9e1f7a10";
    let (f, _) = check(Some(state(41, LINEAGE, base())), state(3, other, base()), Known::default(), &[("state.lineage_changed", STATE_ID)]);
    assert!(f[0].title.contains(LINEAGE) && f[0].title.contains(other), "{}", f[0].title);
    assert_eq!(f[0].resource.state.as_ref().map(|s| s.lineage.as_str()), Some(other));
}

#[test]
fn serial_went_back() {
    check(Some(state(41, LINEAGE, base())), state(40, LINEAGE, base()), Known::default(), &[("state.serial_regression", STATE_ID)]);
}

#[test]
fn same_serial_with_other_content() {
    check(Some(state(41, LINEAGE, base())), state(41, LINEAGE, base()), Known::default(), &[("state.serial_regression", STATE_ID)]);
    // Without digests, from what the parser kept.
    let known = Known { previous_md5: None, ..Known::default() };
    let cur = edit(base(), "aws_ebs_volume", Some(volumes(&[(0, VOLS[0])])));
    let (_, summary) =
        check(Some(state(41, LINEAGE, base())), state(41, LINEAGE, cur), known.clone(), &[("state.serial_regression", STATE_ID)]);
    assert_eq!(summary.removed, strings(&["aws_ebs_volume.pacs_cache[1]"]));
    check(Some(state(41, LINEAGE, base())), state(41, LINEAGE, base()), known, &[]);
}

#[test]
fn same_serial_same_object_is_a_redelivery() {
    let known = Known { previous_md5: Some(MD5), ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(41, LINEAGE, base()), known, &[]);
}

// ------------------------------------------------------------------------------ lock, digest

#[test]
fn written_with_no_lock_held() {
    let known = Known { lock_held: Some(false), operation: None, ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, base()), known, &[("state.unlocked_write", STATE_ID)]);
    let unknown = Known { lock_held: None, operation: None, ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, base()), unknown, &[]);
}

#[test]
fn lock_table_digest_is_not_the_object_md5() {
    let known = Known { digest: Some("d41d8cd98f00b204e9800998ecf8427e"), ..Known::default() };
    let (f, _) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, base()), known, &[("state.digest_mismatch", STATE_ID)]);
    assert_eq!(f[0].changes[0].desired, "d41d8cd98f00b204e9800998ecf8427e");
    let upper = Known { digest: Some("9A0364B9E99BB480DD25E1F0284C8555"), ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, base()), upper, &[]);
    let no_table = Known { digest: None, ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, base()), no_table, &[]);
}

// ------------------------------------------------------------------------------ state rm

fn without_volume_1() -> Vec<Value> {
    edit(base(), "aws_ebs_volume", Some(volumes(&[(0, VOLS[0])])))
}

const VOL_1: &str = "AWS::EC2::Volume vol-0eb55b51fea93097f";

#[test]
fn state_rm_leaves_the_resource_unmanaged() {
    let known = Known { operation: Some("state-rm"), ..Known::default() };
    let (f, summary) =
        check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, without_volume_1()), known, &[("drift.unmanaged", VOL_1)]);
    assert!(f[0].title.contains("aws_ebs_volume.pacs_cache[1]") && f[0].title.contains("state-rm"), "{}", f[0].title);
    // The live reconcile's fingerprint for the same volume.
    assert_eq!(
        f[0].fingerprint,
        driftwatch_core::finding::fingerprint(driftwatch_core::Rule::DriftUnmanaged, &["123456789012", "AWS::EC2::Volume", VOLS[1]])
    );
    assert_eq!(summary.removed, strings(&["aws_ebs_volume.pacs_cache[1]"]));
}

#[test]
fn destroy_by_apply_is_not_unmanaged() {
    let (_, summary) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, without_volume_1()), Known::default(), &[]);
    assert_eq!(summary.removed, strings(&["aws_ebs_volume.pacs_cache[1]"]));
}

#[test]
fn live_data_decides() {
    let live = Known { still_live: Some(vec![("AWS::EC2::Volume", VOLS[1])]), ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, without_volume_1()), live, &[("drift.unmanaged", VOL_1)]);
    let gone = Known { operation: Some("state-rm"), still_live: Some(vec![]), ..Known::default() };
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, without_volume_1()), gone, &[]);
}

#[test]
fn without_lock_or_live_data_the_states_decide() {
    let blind = Known { operation: None, lock_held: None, ..Known::default() };
    // Partial removal: reported.
    check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, without_volume_1()), blind.clone(), &[("drift.unmanaged", VOL_1)]);
    // Replaced at the same address (create_before_destroy): not unmanaged.
    let replaced = edit(base(), "aws_ebs_volume", Some(volumes(&[(0, VOLS[0]), (1, "vol-0ca9ff2acdd88dddb")])));
    let (_, summary) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, replaced), blind.clone(), &[]);
    assert_eq!(summary.changed, strings(&["aws_ebs_volume.pacs_cache[1]"]));
    // Full destroy: no managed resource left.
    let (_, summary) = check(Some(state(41, LINEAGE, base())), state(42, LINEAGE, vec![caller()]), blind, &[]);
    assert_eq!(summary.removed.len(), 7);
}

#[test]
fn resource_moved_to_another_state_is_still_managed() {
    // The app key is managed by app/terraform.tfstate in the index.
    let mut prev = base();
    prev.push(resource(
        None,
        "aws_kms_key",
        "app",
        vec![instance(json!({"id": APP_KEY_ID, "key_id": APP_KEY_ID, "arn": key_arn(APP_KEY_ID)}))],
    ));
    let known = Known { operation: Some("state-rm"), ..Known::default() };
    check(Some(state(41, LINEAGE, prev)), state(42, LINEAGE, base()), known, &[]);
}

#[test]
fn removed_identities_are_what_the_adapter_looks_up() {
    let prev = parse(&state(41, LINEAGE, base()));
    let cur = parse(&state(42, LINEAGE, without_volume_1()));
    let ids = state_write::removed_identities(&prev, &cur, &Catalog::builtin());
    assert_eq!(ids, vec![ResourceIdentity { config_type: "AWS::EC2::Volume".into(), resource_id: VOLS[1].into() }]);
    // Facets are not identities of their own.
    let cur = parse(&state(42, LINEAGE, edit(base(), "aws_s3_bucket_policy", None)));
    assert!(state_write::removed_identities(&prev, &cur, &Catalog::builtin()).is_empty());
}

#[test]
fn several_rules_on_one_write() {
    let known = Known {
        lock_held: Some(false),
        operation: Some("state-push"),
        digest: Some("d41d8cd98f00b204e9800998ecf8427e"),
        ..Known::default()
    };
    let cur = edit(without_volume_1(), "aws_kms_key", Some(kms_key(KEY_ID, false)));
    check(
        Some(state(41, LINEAGE, base())),
        state(40, LINEAGE, cur),
        known,
        &[
            ("encryption.regression", KMS_ADDR),
            ("state.unlocked_write", STATE_ID),
            ("state.digest_mismatch", STATE_ID),
            ("drift.unmanaged", VOL_1),
            ("state.serial_regression", STATE_ID),
        ],
    );
}

/// Each write of a state is told apart by what S3 gives for it: the version id; in a bucket
/// without versions (never versioned: no id; suspended: the `null` version) the ETag and the
/// event's sequencer, so that every new write is processed and each only once.
#[test]
fn a_write_is_identified_by_its_version_else_its_etag_and_sequencer() {
    let ev = |version: Option<&str>, etag: &str, sequencer: &str| StateObjectEvent {
        bucket: BUCKET.into(),
        key: KEY.into(),
        version_id: version.map(str::to_string),
        etag: Some(etag.into()),
        size: Some(1),
        change: ObjectChange::Created,
        time: at(),
        requester: None,
        source_ip: None,
        sequencer: Some(sequencer.into()),
    };
    assert_eq!(ev(Some("v1"), "e1", "s1").write_id(), "v1");
    assert_eq!(ev(Some("v1"), "e2", "s2").write_id(), "v1", "a redelivery of one version");
    let unversioned =
        [ev(None, "e1", "0055AED6DCD90281E5"), ev(None, "e2", "0055AED6DCD90281E6"), ev(Some("null"), "e3", "0055AED6DCD90281E7")];
    let ids: std::collections::BTreeSet<String> = unversioned.iter().map(StateObjectEvent::write_id).collect();
    assert_eq!(ids.len(), 3, "three writes of an unversioned object are three writes: {ids:?}");
    assert_eq!(unversioned[0].write_id(), ev(None, "e1", "0055AED6DCD90281E5").write_id(), "a redelivery is the same write");
    assert_eq!(unversioned[2].real_version(), None, "the null version of a suspended bucket is no version");
}

// ------------------------------------------------------------------------------ controls

fn public_policy() -> Value {
    let statements = json!([{"Sid": "Share", "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{IMAGING}/*"), "Principal": "*"}]);
    let policy = serde_json::to_string_pretty(&json!({"Version": "2012-10-17", "Statement": statements})).unwrap();
    resource(BUCKET_MODULE, "aws_s3_bucket_policy", "this", vec![instance(json!({"id": IMAGING, "bucket": IMAGING, "policy": policy}))])
}

fn ssh_group(cidr: &str) -> Value {
    resource(
        None,
        "aws_security_group",
        "pacs",
        vec![instance(
            json!({"id": "sg-0a1b2c3d4e5f60718", "arn": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d4e5f60718",
            "vpc_id": "vpc-0a1b2c3d4e5f60718", "description": "PACS", "egress": [],
            "ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": [cidr], "ipv6_cidr_blocks": [], "description": "", "self": false, "security_groups": [], "prefix_list_ids": []}]}),
        )],
    )
}

/// Issue 14: an apply that weakens a safeguard of the control catalog is a finding whoever
/// wrote the state, the pipeline included (the default writer here): a bucket policy opened to
/// everyone, a new security group with SSH open to the internet. The same objects in the next
/// version (nothing weakened by that apply) and the first version seen (no apply's change) are
/// quiet; closing the port again is quiet too.
#[test]
fn an_apply_that_weakens_a_control_is_a_finding_even_from_the_pipeline() {
    let prev = state(41, LINEAGE, base());
    let opened = edit(base(), "aws_s3_bucket_policy", Some(public_policy()));
    // (The new policy also drops the TLS-only deny: an encryption regression as well.)
    let (f, _) = check(
        Some(prev.clone()),
        state(42, LINEAGE, opened.clone()),
        Known::default(),
        &[("encryption.regression", POLICY_ADDR), ("control.public_exposure", POLICY_ADDR)],
    );
    let c = &f[1];
    assert_eq!(c.severity, Severity::Critical, "{c:?}");
    assert!(c.actor.as_ref().is_some_and(|a| a.kind == Some(driftwatch_core::finding::ActorKind::Pipeline)), "{:?}", c.actor);
    assert!(c.controls.iter().any(|x| x.starts_with("HIPAA")) && c.controls.iter().any(|x| x.starts_with("CIS AWS")), "{:?}", c.controls);
    // The next apply leaves it as it is: nothing new was weakened.
    check(Some(state(42, LINEAGE, opened.clone())), state(43, LINEAGE, opened), Known::default(), &[]);
    // A new group created open; then closed to the VPC.
    let mut with_group = base();
    with_group.push(ssh_group("0.0.0.0/0"));
    check(
        Some(prev.clone()),
        state(42, LINEAGE, with_group.clone()),
        Known::default(),
        &[("control.network_exposure", "aws_security_group.pacs")],
    );
    let mut closed = base();
    closed.push(ssh_group("10.20.0.0/16"));
    check(Some(state(42, LINEAGE, with_group.clone())), state(43, LINEAGE, closed), Known::default(), &[]);
    // The first version seen weakened nothing (it is no apply's change).
    let (f, _) = detect(None, &parse(&state(1, LINEAGE, with_group)), &Known::default());
    assert!(f.iter().all(|f| !f.rule.id().starts_with("control.")), "{f:?}");
}

/// Issue 14: a type outside the resource catalog that the control catalog reads keeps the
/// attributes it needs in the parsed state: an apply attaching AdministratorAccess to a role
/// (`aws_iam_role_policy_attachment`) is `control.identity_risk` on that role; ReadOnlyAccess is
/// not.
#[test]
fn an_administrator_attachment_applied_through_terraform_is_an_identity_risk() {
    let attach = |policy: &str| {
        resource(
            None,
            "aws_iam_role_policy_attachment",
            "analyst",
            vec![instance(json!({
            "id": "research-analyst-20261120140307000000000001", "role": "research-analyst", "policy_arn": policy,
            "unrelated_attribute": "dropped by the parser"}))],
        )
    };
    let prev = state(41, LINEAGE, base());
    let mut admin = base();
    admin.push(attach("arn:aws:iam::aws:policy/AdministratorAccess"));
    let parsed = parse(&state(42, LINEAGE, admin.clone()));
    let kept = parsed.instances.iter().find(|i| i.resource_type == "aws_iam_role_policy_attachment").expect("parsed");
    assert_eq!(kept.attributes.get("policy_arn"), Some(&json!("arn:aws:iam::aws:policy/AdministratorAccess")));
    assert!(kept.attributes.get("unrelated_attribute").is_none(), "only what a control reads is kept");
    let (f, _) = check(
        Some(prev.clone()),
        state(42, LINEAGE, admin),
        Known::default(),
        &[("control.identity_risk", "aws_iam_role_policy_attachment.analyst")],
    );
    assert_eq!((f[0].resource.resource_type.as_str(), f[0].resource.id.as_str()), ("AWS::IAM::Role", "research-analyst"));
    let mut read_only = base();
    read_only.push(attach("arn:aws:iam::aws:policy/ReadOnlyAccess"));
    check(Some(prev), state(42, LINEAGE, read_only), Known::default(), &[]);
}
