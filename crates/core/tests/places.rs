//! One resource id in two accounts is two resources (issue 16). A security group id is unique
//! only within its account and region: the same `sg-…` in two accounts' states, each with its
//! live item, is compared, changed and reported per account. The network state of the samples
//! is indexed twice, as account A's (123456789012, as written) and as account B's (every ARN's
//! account rewritten to 444455556666, in another state bucket); B's live items are A's with the
//! same rewrite, and B's application security group has had its description edited. B's state
//! has a lineage of its own, as every state Terraform creates does (findings are fingerprinted
//! by lineage, workspace and address).

use driftwatch_core::catalog::Catalog;
use driftwatch_core::detect::{cloudtrail, config_change, Context, InMemory};
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{ApiCall, ConfigChange, Principal};
use driftwatch_core::state::{parse_state, StateLocation};
use driftwatch_core::{Finding, Redactor, Rule};
use serde_json::{json, Value};
use std::path::PathBuf;

const SG: &str = "sg-0b553a59028de3b25";
const ACCOUNT_A: &str = "123456789012";
const ACCOUNT_B: &str = "444455556666";
const BUCKET_A: &str = "tfstate-a";
const BUCKET_B: &str = "tfstate-b";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn redactor() -> Redactor {
    Redactor::new(b"places")
}

/// Account B's copy of a document: every ARN's (and `accountId`'s, `ownerId`'s) account is B's.
fn in_b(text: &str) -> String {
    text.replace(&format!(":{ACCOUNT_A}:"), &format!(":{ACCOUNT_B}:")).replace(&format!("\"{ACCOUNT_A}\""), &format!("\"{ACCOUNT_B}\""))
}

fn index() -> ManagedIndex {
    let catalog = Catalog::builtin();
    let text = std::fs::read_to_string(root().join("samples/states/network.tfstate")).unwrap();
    // Account B's state is another state: its own lineage (Terraform gives each new state one).
    let mut b: Value = serde_json::from_str(&in_b(&text)).unwrap();
    b["lineage"] = json!("5f0c8e9a-7b1d-4c2e-9a3f-b0d4e6f8a2c1");
    let states = [(BUCKET_A, text.clone()), (BUCKET_B, b.to_string())].map(|(bucket, text)| {
        parse_state(text.as_bytes(), StateLocation::s3(bucket, "network/terraform.tfstate"), &catalog, &redactor()).unwrap()
    });
    ManagedIndex::build(states, &catalog)
}

/// The snapshot's items: account A's as they are, and B's.
fn items() -> (Vec<Value>, Vec<Value>) {
    let text = std::fs::read_to_string(root().join("samples/live/config-snapshot.json")).unwrap();
    let a: Value = serde_json::from_str(&text).unwrap();
    let mut b: Value = serde_json::from_str(&in_b(&text)).unwrap();
    for item in b["configurationItems"].as_array_mut().unwrap() {
        if item["resourceId"] == SG {
            item["configuration"]["description"] = json!("edited in the console");
        }
    }
    let list = |v: Value| v["configurationItems"].as_array().unwrap().clone();
    (list(a), list(b))
}

fn bucket(f: &Finding) -> Option<&str> {
    f.resource.state.as_ref().and_then(|s| s.bucket.as_deref())
}

fn about_sg(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.resource.id == SG).collect()
}

fn ctx<'a>(index: &'a ManagedIndex, catalog: &'a Catalog, policy: &'a Policy, redactor: &'a Redactor) -> Context<'a> {
    Context { index, catalog, policy, redactor, now: "2026-11-22T12:00:00Z".parse().unwrap() }
}

#[test]
fn a_scan_compares_each_accounts_resource_with_its_own_item() {
    let (catalog, index) = (Catalog::builtin(), index());
    let (a, b) = items();
    let mut live = LiveInventory::default();
    for item in a.into_iter().chain(b) {
        live.insert(live::item_from_value(item, &redactor()).unwrap());
    }
    let policy = ScanPolicy { regulated_tag: None };
    let outcome = drift::scan(&index, &live, &catalog, &redactor(), &policy, "2026-11-22T12:00:00Z".parse().unwrap());
    let sg = about_sg(&outcome.findings);
    // The edited description: B's group only.
    let description: Vec<_> = sg.iter().filter(|f| f.changes.iter().any(|c| c.path == "description")).collect();
    assert_eq!(description.len(), 1, "{description:#?}");
    assert_eq!(bucket(description[0]), Some(BUCKET_B));
    // The open SSH rule both have: one finding each, distinct.
    let ingress: Vec<_> = sg.iter().filter(|f| f.changes.iter().any(|c| c.path == "ingress")).collect();
    let mut buckets: Vec<_> = ingress.iter().map(|f| bucket(f)).collect();
    buckets.sort();
    assert_eq!(buckets, [Some(BUCKET_A), Some(BUCKET_B)], "{ingress:#?}");
    assert_ne!(ingress[0].fingerprint, ingress[1].fingerprint);
    // Each account's group is managed and present: neither missing nor unmanaged.
    assert!(sg.iter().all(|f| f.rule != Rule::DriftMissing && f.rule != Rule::DriftUnmanaged), "{sg:#?}");
}

#[test]
fn a_config_change_in_one_account_is_that_accounts_resource() {
    let (catalog, index, policy, redactor) = (Catalog::builtin(), index(), Policy::default(), redactor());
    let (_, b) = items();
    let item = b.into_iter().find(|i| i["resourceId"] == SG).unwrap();
    let change = ConfigChange {
        item: Some(live::item_from_value(item, &redactor).unwrap()),
        changed_properties: json!({"Configuration.Description": {"previousValue": "EHR application tier (ECS tasks)", "updatedValue": "edited in the console", "changeType": "UPDATE"}}),
        change_type: Some("UPDATE".into()),
        notification_time: Some("2026-11-20T07:00:00Z".parse().unwrap()),
        oversized: None,
    };
    let findings = config_change::detect(&change, &ctx(&index, &catalog, &policy, &redactor), &mut InMemory::default());
    let sg = about_sg(&findings);
    assert!(!sg.is_empty(), "{findings:#?}");
    assert!(sg.iter().all(|f| bucket(f) == Some(BUCKET_B)), "{sg:#?}");
}

#[test]
fn a_console_call_in_one_account_names_that_accounts_address() {
    let (catalog, index, policy, redactor) = (Catalog::builtin(), index(), Policy::default(), redactor());
    let call = ApiCall {
        event_id: "7d1f3c0e-5b7a-4d2e-9d6a-0c4f1b2a3e44".into(),
        event_time: "2026-11-21T09:14:07Z".parse().unwrap(),
        event_source: "ec2.amazonaws.com".into(),
        event_name: "AuthorizeSecurityGroupIngress".into(),
        region: Some("us-east-1".into()),
        account: Some(ACCOUNT_B.into()),
        read_only: Some(false),
        error_code: None,
        error_message: None,
        event_category: Some("Management".into()),
        principal: Principal {
            arn: Some(format!("arn:aws:sts::{ACCOUNT_B}:assumed-role/AWSReservedSSO_Admin_3f1c2b/dana@stmarys.org")),
            principal_type: Some("AssumedRole".into()),
            account: Some(ACCOUNT_B.into()),
            session_name: Some("dana@stmarys.org".into()),
            user_agent: Some("AWS Internal".into()),
            session_credential_from_console: true,
            ..Principal::default()
        },
        request_parameters: json!({
            "groupId": SG,
            "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}
        }),
        response_elements: json!({"_return": true}),
        additional_event_data: Value::Null,
        resources: Vec::new(),
    };
    let findings = cloudtrail::detect(&call, &ctx(&index, &catalog, &policy, &redactor), &mut InMemory::default());
    let sg = about_sg(&findings);
    assert!(!sg.is_empty(), "{findings:#?}");
    assert!(sg.iter().all(|f| bucket(f) == Some(BUCKET_B)), "{sg:#?}");
}
