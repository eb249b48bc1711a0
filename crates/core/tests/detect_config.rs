//! Config change detector, data-driven: the index is built from `samples/states/*.tfstate`,
//! the items are the St Mary's configuration items of `samples/live/config-snapshot.json`
//! (which carry the planted differences a–f of samples/README.md), edited per case into the
//! change notification AWS Config would send. `check` runs every case twice with fresh
//! memories and requires identical findings.

use chrono::{DateTime, Utc};
use driftwatch_core::catalog::Catalog;
use driftwatch_core::detect::{self, ConfigOrder, Context, InMemory};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live;
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{ConfigChange, OversizedRef, Signal};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Finding, Redactor, Severity};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

const SG_APP: &str = "sg-0b553a59028de3b25";
const TRAIL: &str = "st-marys-ehr-prod-trail";
const DB_PRIMARY: &str = "db-H4ZH2Q6OCA3RAHWW344MRN53HV";
const CLINICAL_NOTES: &str = "stmarys-ehr-prod-phi-clinical-notes-123456789012";
const IMAGING_KEY: &str = "319d1c27-3eb0-4d5d-8b8d-55a374513c3d";
const EXPORT_TMP: &str = "stmarys-ehr-export-tmp-20261118";
const PACS_1: &str = "vol-0eb55b51fea93097f";
const PACS_2: &str = "vol-028da75557c266c20";
const AWS_S3_KEY: &str = "27c01183-1d61-4ad5-9907-190b0749ab9f";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn redactor() -> Redactor {
    Redactor::new(b"detect-config")
}

fn index() -> &'static ManagedIndex {
    static INDEX: OnceLock<ManagedIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let catalog = Catalog::builtin();
        let states = ["network", "data", "app"].map(|name| {
            let bytes = std::fs::read(root().join(format!("samples/states/{name}.tfstate"))).unwrap();
            parse_state(&bytes, StateLocation::s3("stmarys-tfstate", format!("{name}/terraform.tfstate")), &catalog, &redactor()).unwrap()
        });
        ManagedIndex::build(states, &catalog)
    })
}

/// The snapshot's item for a resource id, as JSON to edit.
fn item(resource_id: &str) -> Value {
    static SNAPSHOT: OnceLock<Value> = OnceLock::new();
    let snap =
        SNAPSHOT.get_or_init(|| serde_json::from_slice(&std::fs::read(root().join("samples/live/config-snapshot.json")).unwrap()).unwrap());
    snap["configurationItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["resourceId"] == resource_id)
        .unwrap_or_else(|| panic!("{resource_id}"))
        .clone()
}

fn with(mut v: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut v);
    v
}

/// A change notification for an item.
fn change(item: Value, change_type: Option<&str>, changed: Value) -> ConfigChange {
    ConfigChange {
        item: Some(live::item_from_value(item, &redactor()).unwrap()),
        changed_properties: changed,
        change_type: change_type.map(str::to_string),
        notification_time: Some("2026-11-20T07:00:00Z".parse().unwrap()),
        oversized: None,
    }
}

fn update(item: Value, changed: Value) -> ConfigChange {
    change(item, Some("UPDATE"), changed)
}

fn prop(prev: Value, new: Value) -> Value {
    json!({"previousValue": prev, "updatedValue": new, "changeType": "UPDATE"})
}

fn run(changes: &[ConfigChange]) -> Vec<Vec<Finding>> {
    let catalog = Catalog::builtin();
    let policy = Policy::default();
    let r = redactor();
    let ctx = Context { index: index(), catalog: &catalog, policy: &policy, redactor: &r, now: "2030-01-01T00:00:00Z".parse().unwrap() };
    let mut mem = InMemory::default();
    changes.iter().map(|c| detect::process(&Signal::ConfigChange(Box::new(c.clone())), &ctx, &mut mem)).collect()
}

/// Process `changes` in order; after each, expect these (rule, address or type+id) pairs.
fn check(changes: &[ConfigChange], want: &[&[(&str, &str)]]) -> Vec<Vec<Finding>> {
    assert_eq!(changes.len(), want.len());
    let got = run(changes);
    for (i, (fs, w)) in got.iter().zip(want).enumerate() {
        let pairs: Vec<(&str, String)> = fs
            .iter()
            .map(|f| (f.rule.id(), f.resource.address.clone().unwrap_or_else(|| format!("{} {}", f.resource.resource_type, f.resource.id))))
            .collect();
        let w: Vec<(&str, String)> = w.iter().map(|(r, a)| (*r, a.to_string())).collect();
        assert_eq!(pairs, w, "change {i}: {:#?}", fs.iter().map(|f| &f.title).collect::<Vec<_>>());
    }
    assert_eq!(got, run(changes), "replaying the same notifications gives identical findings");
    got
}

// ------------------------------------------------------------------------------ compared

#[test]
fn item_matching_state_gives_nothing() {
    check(&[update(item(TRAIL), json!({"Configuration.LatestDeliveryTime": prop(json!(1), json!(2))}))], &[&[]]);
    check(&[change(item(PACS_1), None, Value::Null)], &[&[]]);
}

#[test]
fn changed_attribute_is_drift() {
    // b: an SSH rule from 0.0.0.0/0 added in the console.
    let diff =
        json!({"Configuration.IpPermissions.0": {"previousValue": null, "updatedValue": {"ipProtocol": "tcp"}, "changeType": "CREATE"}});
    let got = check(
        &[update(item(SG_APP), diff)],
        &[&[("drift.changed", "aws_security_group.app"), ("control.network_exposure", "aws_security_group.app")]],
    );
    assert_eq!(got[0][0].changes[0].path, "ingress");
    assert_eq!(got[0][0].first_seen, "2026-11-20T06:02:16.551Z".parse::<DateTime<Utc>>().unwrap(), "timed by the item's capture time");
    // e: publicly accessible database.
    let diff = json!({"Configuration.PubliclyAccessible": prop(json!(false), json!(true))});
    check(
        &[update(item(DB_PRIMARY), diff)],
        &[&[("drift.changed", "aws_db_instance.ehr_primary"), ("control.public_exposure", "aws_db_instance.ehr_primary")]],
    );
}

#[test]
fn drift_on_properties_this_change_did_not_touch_is_not_raised_again() {
    let diff = json!({"Tags.Owner": prop(json!("platform"), json!("platform-team"))});
    // (The port still open to the internet is the control finding again: the same fingerprint,
    // so the same open finding, not a new alert.)
    check(&[update(item(SG_APP), diff)], &[&[("control.network_exposure", "aws_security_group.app")]]);
    // Without a diff (CREATE, a fetched oversized item) everything is compared.
    check(
        &[change(item(SG_APP), None, Value::Null)],
        &[&[("drift.changed", "aws_security_group.app"), ("control.network_exposure", "aws_security_group.app")]],
    );
    check(
        &[update(item(SG_APP), json!({}))],
        &[&[("drift.changed", "aws_security_group.app"), ("control.network_exposure", "aws_security_group.app")]],
    );
}

#[test]
fn weakened_encryption_is_a_regression_whatever_the_diff_says() {
    // a: default encryption aws:kms + key + bucket key → AES256.
    let sse = "module.phi_storage[\"clinical-notes\"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this";
    let diff = json!({"SupplementaryConfiguration.ServerSideEncryptionConfiguration": prop(json!({}), json!({}))});
    let got = check(&[update(item(CLINICAL_NOTES), diff)], &[&[("encryption.regression", sse)]]);
    assert_eq!(got[0][0].changes.len(), 3);
    assert_eq!(got[0][0].severity, Severity::Critical, "PHI bucket");
    let unrelated = json!({"SupplementaryConfiguration.BucketVersioningConfiguration": prop(json!({}), json!({}))});
    check(&[update(item(CLINICAL_NOTES), unrelated)], &[&[("encryption.regression", sse)]]);
    // d: key rotation turned off.
    let diff = json!({"Configuration.KeyRotationStatus": prop(json!(true), json!(false))});
    check(&[update(item(IMAGING_KEY), diff)], &[&[("encryption.regression", "module.phi_storage[\"imaging\"].aws_kms_key.this")]]);
}

#[test]
fn item_found_by_arn_when_its_id_differs() {
    let renamed = with(item(DB_PRIMARY), |v| v["resourceId"] = json!("ehr-primary"));
    check(
        &[change(renamed, None, Value::Null)],
        &[&[("drift.changed", "aws_db_instance.ehr_primary"), ("control.public_exposure", "aws_db_instance.ehr_primary")]],
    );
}

// ------------------------------------------------------------------------------ missing

#[test]
fn deleted_resource_is_missing() {
    // c: pacs_cache[2] deleted.
    let deleted = with(item(PACS_1), |v| {
        v["resourceId"] = json!(PACS_2);
        v["ARN"] = json!(format!("arn:aws:ec2:us-east-1:123456789012:volume/{PACS_2}"));
        v["configurationItemStatus"] = json!("ResourceDeleted");
        v["configuration"] = Value::Null;
        v["configurationStateId"] = json!("1795160000000");
    });
    check(&[change(deleted.clone(), Some("DELETE"), Value::Null)], &[&[("drift.missing", "aws_ebs_volume.pacs_cache[2]")]]);
    // The diff's DELETE is enough.
    let status_ok = with(deleted, |v| v["configurationItemStatus"] = json!("OK"));
    check(&[change(status_ok, Some("DELETE"), Value::Null)], &[&[("drift.missing", "aws_ebs_volume.pacs_cache[2]")]]);
}

#[test]
fn not_recorded_item_has_nothing_to_compare() {
    let not_recorded = with(item(SG_APP), |v| {
        v["configurationItemStatus"] = json!("ResourceNotRecorded");
        v["configuration"] = Value::Null;
    });
    check(&[change(not_recorded, None, Value::Null)], &[&[]]);
}

// ------------------------------------------------------------------------------ unmanaged

#[test]
fn new_resource_outside_state_is_unmanaged() {
    // f: a bucket created by hand.
    let got = check(
        &[change(item(EXPORT_TMP), Some("CREATE"), Value::Null)],
        &[&[("drift.unmanaged", &format!("AWS::S3::Bucket {EXPORT_TMP}"))]],
    );
    // Same fingerprint as the full reconcile's.
    assert_eq!(
        got[0][0].fingerprint,
        driftwatch_core::finding::fingerprint(driftwatch_core::Rule::DriftUnmanaged, &["123456789012", "AWS::S3::Bucket", EXPORT_TMP])
    );
    let discovered = with(item(EXPORT_TMP), |v| v["configurationItemStatus"] = json!("ResourceDiscovered"));
    check(&[change(discovered, None, Value::Null)], &[&[("drift.unmanaged", &format!("AWS::S3::Bucket {EXPORT_TMP}"))]]);
}

#[test]
fn update_of_an_unmanaged_resource_is_not_news() {
    check(&[update(item(EXPORT_TMP), json!({"Tags.Owner": prop(json!(null), json!("jdoe"))}))], &[&[]]);
}

#[test]
fn aws_managed_and_uncatalogued_creations_are_not_unmanaged() {
    check(&[change(item(AWS_S3_KEY), Some("CREATE"), Value::Null)], &[&[]]);
    check(&[change(item("ehr-prod-db"), Some("CREATE"), Value::Null)], &[&[]]);
}

#[test]
fn creation_of_a_managed_resource_is_compared() {
    check(&[change(item(TRAIL), Some("CREATE"), Value::Null)], &[&[]]);
}

// ------------------------------------------------------------------------------ ordering

#[test]
fn older_items_are_ignored() {
    let newer = with(item(DB_PRIMARY), |v| {
        v["configuration"]["publiclyAccessible"] = json!(false);
        v["configurationStateId"] = json!("1795155500000");
    });
    let older = item(DB_PRIMARY); // publicly accessible, captured before
    check(
        &[change(newer.clone(), None, Value::Null), change(older, None, Value::Null), change(newer, None, Value::Null)],
        &[&[], &[], &[]],
    );
}

#[test]
fn redelivered_item_gives_the_same_findings() {
    let diff = json!({"Configuration.PubliclyAccessible": prop(json!(false), json!(true))});
    let got = check(
        &[update(item(DB_PRIMARY), diff.clone()), update(item(DB_PRIMARY), diff)],
        &[
            &[("drift.changed", "aws_db_instance.ehr_primary"), ("control.public_exposure", "aws_db_instance.ehr_primary")],
            &[("drift.changed", "aws_db_instance.ehr_primary"), ("control.public_exposure", "aws_db_instance.ehr_primary")],
        ],
    );
    assert_eq!(got[0], got[1]);
}

#[test]
fn items_are_ordered_per_resource() {
    let catalog = Catalog::builtin();
    let policy = Policy::default();
    let r = redactor();
    let ctx = Context { index: index(), catalog: &catalog, policy: &policy, redactor: &r, now: "2030-01-01T00:00:00Z".parse().unwrap() };
    let mut mem = InMemory::default();
    detect::config_change::detect(&change(item(TRAIL), None, Value::Null), &ctx, &mut mem);
    assert_eq!(mem.last_state_id("AWS::CloudTrail::Trail", TRAIL), Some(1795154400766));
    // Another resource's newer item does not hide this one.
    let got = detect::config_change::detect(&change(item(DB_PRIMARY), None, Value::Null), &ctx, &mut mem);
    assert_eq!(got.len(), 2, "drift.changed and control.public_exposure: {got:?}");
}

// ------------------------------------------------------------------------------ oversized

#[test]
fn oversized_notification_without_item_waits_for_the_adapter() {
    let oversized = ConfigChange {
        item: None,
        changed_properties: Value::Null,
        change_type: Some("UPDATE".into()),
        notification_time: Some("2026-11-20T07:00:00Z".parse().unwrap()),
        oversized: Some(OversizedRef {
            s3_bucket: "stmarys-config".into(),
            s3_key: "AWSLogs/123456789012/Config/us-east-1/2026/11/20/OversizedChangeNotification/AWS::EC2::SecurityGroup/sg-0b553a59028de3b25/x.json.gz".into(),
            resource_type: Some("AWS::EC2::SecurityGroup".into()),
            resource_id: Some(SG_APP.into()),
            state_id: Some(1795154536551),
        }),
    };
    let mut fetched = change(item(SG_APP), Some("UPDATE"), Value::Null);
    fetched.oversized = oversized.oversized.clone();
    // The summary alone yields nothing and records no ordering; the fetched item is compared.
    check(
        &[oversized, fetched],
        &[&[], &[("drift.changed", "aws_security_group.app"), ("control.network_exposure", "aws_security_group.app")]],
    );
}
