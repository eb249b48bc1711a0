//! Secrets in nested or provider-marked attributes never reach a finding, and digesting them
//! never creates false drift.

use chrono::{TimeZone, Utc};
use driftwatch_core::drift::{scan, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{item_from_value, LiveInventory};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Catalog, Finding, Redactor};
use serde_json::{json, Value};

fn run(resource: Value, live: Value) -> Vec<Finding> {
    let catalog = Catalog::builtin();
    let redactor = Redactor::new(b"salt");
    let state = json!({"version": 4, "serial": 1, "lineage": "l", "resources": [resource]});
    let st = parse_state(state.to_string().as_bytes(), StateLocation::local("s.tfstate"), &catalog, &redactor).expect("parse");
    let index = ManagedIndex::build([st], &catalog);
    let inv: LiveInventory = [item_from_value(live, &redactor).expect("item")].into_iter().collect();
    scan(&index, &inv, &catalog, &redactor, &ScanPolicy::default(), Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()).findings
}

fn lambda(env: Value, sensitive: Value) -> Value {
    json!({"mode": "managed", "type": "aws_lambda_function", "name": "f", "instances": [{
        "attributes": {"function_name": "f", "arn": "arn:aws:lambda:us-east-1:1:function:f", "environment": [{"variables": env}]},
        "sensitive_attributes": sensitive}]})
}

fn lambda_live(env: Value) -> Value {
    json!({"resourceType": "AWS::Lambda::Function", "resourceId": "f", "configuration": {"environment": {"variables": env}}})
}

#[test]
fn provider_marked_nested_leaf_is_digested_on_both_sides() {
    let marked = json!([[{"type": "get_attr", "value": "environment"}, {"type": "index", "value": {"value": 0, "type": "number"}},
                         {"type": "get_attr", "value": "variables"}, {"type": "index", "value": {"value": "DB_CONN", "type": "string"}}]]);
    let same =
        run(lambda(json!({"DB_CONN": "postgres://u:pw1@h/db"}), marked.clone()), lambda_live(json!({"DB_CONN": "postgres://u:pw1@h/db"})));
    assert!(same.is_empty(), "equal secret, no drift: {same:#?}");
    let changed =
        run(lambda(json!({"DB_CONN": "postgres://u:pw1@h/db"}), marked), lambda_live(json!({"DB_CONN": "postgres://u:pw2@h/db"})));
    assert_eq!(changed.len(), 1, "{changed:#?}");
    let text = serde_json::to_string(&changed).expect("json");
    assert!(!text.contains("pw1@h") && !text.contains("pw2@h"), "secret leaked: {text}");
    assert!(text.contains("(sensitive sha256:"), "{text}");
}

#[test]
fn sensitive_key_reference_compares_in_normalised_form() {
    let vol = json!({"mode": "managed", "type": "aws_ebs_volume", "name": "v", "instances": [{
        "attributes": {"id": "vol-1", "encrypted": true, "kms_key_id": "arn:aws:kms:us-east-1:1:key/k-1"},
        "sensitive_attributes": [[{"type": "get_attr", "value": "kms_key_id"}]]}]});
    let live = |key: &str| json!({"resourceType": "AWS::EC2::Volume", "resourceId": "vol-1", "configuration": {"encrypted": true, "kmsKeyId": key}});
    assert!(run(vol.clone(), live("k-1")).is_empty(), "ARN in state, bare id live: same key");
    let swapped = run(vol, live("k-2"));
    assert_eq!(swapped.len(), 1);
    assert_eq!(swapped[0].rule.id(), "encryption.regression");
    assert!(!serde_json::to_string(&swapped).expect("json").contains("k-2"), "sensitive key id shown only as digest");
}

#[test]
fn secret_looking_tags_written_as_lists_are_digested() {
    let vol = json!({"mode": "managed", "type": "aws_ebs_volume", "name": "v", "instances": [{
        "attributes": {"id": "vol-1", "tags_all": {"Name": "v"}}}]});
    let live = json!({"resourceType": "AWS::EC2::Volume", "resourceId": "vol-1",
                      "configuration": {"tags": [{"key": "Name", "value": "v"}, {"key": "api_key", "value": "AKxyz-plain-secret"}]}});
    let f = run(vol, live);
    assert_eq!(f.len(), 1, "the extra tag is drift: {f:#?}");
    assert!(!serde_json::to_string(&f).expect("json").contains("AKxyz-plain-secret"));
}
