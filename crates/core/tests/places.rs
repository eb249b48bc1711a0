//! One resource id in two accounts is two resources (issue 16). A security group id is unique
//! only within its account and region: the same `sg-…` in two accounts' states, each with its
//! live item, is compared, changed and reported per account. The network state of the samples
//! is indexed twice, as account A's (123456789012, as written) and as account B's (every ARN's
//! account rewritten to 444455556666, in another state bucket); B's live items are A's with the
//! same rewrite, and B's application security group has had its description edited. B's state
//! has a lineage of its own, as every state Terraform creates does (findings are fingerprinted
//! by lineage, workspace and address).

use driftwatch_core::alert::Alert;
use driftwatch_core::catalog::Catalog;
use driftwatch_core::detect::{self, cloudtrail, config_change, Context, InMemory};
use driftwatch_core::drift::{self, ScanPolicy};
use driftwatch_core::exceptions::Selector;
use driftwatch_core::index::ManagedIndex;
use driftwatch_core::live::{self, LiveInventory};
use driftwatch_core::policy::Policy;
use driftwatch_core::signal::{ApiCall, ConfigChange, Principal, Signal};
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

/// An unmanaged security group that the snapshot's group is copied into, in `account`.
fn unmanaged_group(account: &str) -> driftwatch_core::live::ConfigItem {
    const OTHER: &str = "sg-0c0ffee0c0ffee000";
    let text = std::fs::read_to_string(root().join("samples/live/config-snapshot.json")).unwrap();
    let text = text.replace(SG, OTHER).replace(ACCOUNT_A, account);
    let all: Value = serde_json::from_str(&text).unwrap();
    let item = all["configurationItems"].as_array().unwrap().iter().find(|i| i["resourceId"] == OTHER).unwrap().clone();
    live::item_from_value(item, &redactor()).unwrap()
}

fn created(item: driftwatch_core::live::ConfigItem) -> Signal {
    Signal::ConfigChange(Box::new(ConfigChange {
        item: Some(item),
        changed_properties: json!({"Configuration.IpPermissions": {"changeType": "UPDATE"}}),
        change_type: Some("UPDATE".into()),
        notification_time: Some("2026-11-20T07:00:00Z".parse().unwrap()),
        oversized: None,
    }))
}

#[test]
fn one_group_id_open_in_two_accounts_is_two_findings_each_naming_its_account_and_region() {
    let (catalog, index, policy, redactor) = (Catalog::builtin(), index(), Policy::default(), redactor());
    let ctx = ctx(&index, &catalog, &policy, &redactor);
    let mut findings = Vec::new();
    for account in [ACCOUNT_A, ACCOUNT_B] {
        findings.extend(
            detect::process(&created(unmanaged_group(account)), &ctx, &mut InMemory::default())
                .into_iter()
                .filter(|f| f.rule == Rule::ControlNetworkExposure),
        );
    }
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert_ne!(findings[0].fingerprint, findings[1].fingerprint, "one id in two accounts is two resources");
    let places: Vec<_> = findings.iter().map(|f| (f.resource.account.as_deref(), f.resource.region.as_deref())).collect();
    assert_eq!(places, [(Some(ACCOUNT_A), Some("us-east-1")), (Some(ACCOUNT_B), Some("us-east-1"))]);
    // The group restored in B resolves B's finding, not A's.
    let mut fixed = unmanaged_group(ACCOUNT_B);
    fixed.doc["configuration"]["ipPermissions"] = json!([]);
    let resolved: Vec<String> =
        detect::resolutions(&created(fixed), &ctx, &InMemory::default()).into_iter().map(|r| r.fingerprint).collect();
    assert!(resolved.contains(&findings[1].fingerprint), "{resolved:?}");
    assert!(!resolved.contains(&findings[0].fingerprint), "{resolved:?}");
}

const ORG_POLICY: &str = r#"
[pipeline]
principals = ["arn:aws:iam::*:role/terraform-ci"]
[units."Workloads/Prod"]
pipeline_only = true
[units.Sandbox]
[accounts."123456789012"]
name = "ehr-prod"
ou = "Workloads/Prod"
pipeline_principals = ["arn:aws:iam::123456789012:role/gha-terraform-apply"]
[accounts."444455556666"]
name = "sandbox"
ou = "Sandbox"
"#;

/// `PutBucketTagging` on a bucket no state manages, in `account`, by `role`'s session.
fn tagging(account: &str, role: &str) -> Signal {
    Signal::ApiCall(Box::new(ApiCall {
        event_id: format!("e-{account}-{role}"),
        event_time: "2026-11-21T09:14:07Z".parse().unwrap(),
        event_source: "s3.amazonaws.com".into(),
        event_name: "PutBucketTagging".into(),
        region: Some("eu-west-1".into()),
        account: Some(account.into()),
        read_only: Some(false),
        error_code: None,
        error_message: None,
        event_category: Some("Management".into()),
        principal: Principal {
            arn: Some(format!("arn:aws:sts::{account}:assumed-role/{role}/run-1")),
            principal_type: Some("AssumedRole".into()),
            account: Some(account.into()),
            session_issuer_arn: Some(format!("arn:aws:iam::{account}:role/{role}")),
            session_name: Some("run-1".into()),
            user_agent: Some("aws-cli/2.15".into()),
            ..Principal::default()
        },
        request_parameters: json!({"bucketName": format!("scratch-{account}"), "Tagging": {"TagSet": {"Tag": {"Key": "k", "Value": "v"}}}}),
        response_elements: Value::Null,
        additional_event_data: Value::Null,
        resources: Vec::new(),
    }))
}

#[test]
fn each_account_is_judged_by_its_own_policy_and_its_alerts_name_it() {
    let (catalog, index, redactor) = (Catalog::builtin(), index(), redactor());
    let policy = Policy::from_toml(ORG_POLICY).unwrap();
    let ctx = ctx(&index, &catalog, &policy, &redactor);
    let run = |signal: &Signal| -> Vec<Finding> {
        detect::process(signal, &ctx, &mut InMemory::default()).into_iter().filter(|f| f.rule == Rule::ChangeOutOfBand).collect()
    };
    // Workloads/Prod is pipeline-only, and ehr-prod's pipeline is its own role, not terraform-ci.
    let prod = run(&tagging(ACCOUNT_A, "terraform-ci"));
    assert_eq!(prod.len(), 1, "{prod:#?}");
    assert!(run(&tagging(ACCOUNT_A, "gha-terraform-apply")).is_empty(), "ehr-prod's own pipeline role");
    // The sandbox is not pipeline-only: the same write there is nobody's business.
    assert!(run(&tagging(ACCOUNT_B, "someone")).is_empty());
    // Without [accounts] the top level holds everywhere: terraform-ci is the pipeline, and no
    // account is pipeline-only.
    let flat = Policy::from_toml("[pipeline]\nprincipals = [\"arn:aws:iam::*:role/terraform-ci\"]").unwrap();
    let flat_ctx = Context { policy: &flat, ..ctx };
    assert!(detect::process(&tagging(ACCOUNT_A, "someone"), &flat_ctx, &mut InMemory::default()).is_empty());

    // The finding names the account and region the bucket (whose ARN has neither) is in.
    let f = &prod[0];
    assert_eq!((f.resource.account.as_deref(), f.resource.region.as_deref()), (Some(ACCOUNT_A), None), "{f:#?}");
    let alert = Alert::new(f, "prod").with_accounts(&policy.accounts);
    assert!(alert.email_body().contains("Account:           123456789012 (ehr-prod, OU Workloads/Prod)"), "{}", alert.email_body());
    let attrs = alert.message_attributes();
    assert_eq!(attrs["ou"].string_value, "Workloads/Prod");
    assert_eq!(attrs["account_name"].string_value, "ehr-prod");
    assert_eq!(alert.chatbot()["metadata"]["additionalContext"]["ou"], "Workloads/Prod");
    // An exception scoped to the account covers it, one scoped to another account does not.
    let scoped = |account: &str| Selector { account: Some(account.into()), ..Selector::default() };
    assert!(scoped(ACCOUNT_A).matches(f));
    assert!(!scoped(ACCOUNT_B).matches(f));
}

#[test]
fn a_policys_accounts_and_units_are_checked() {
    for (bad, says) in [
        ("[accounts.\"12345\"]\nname = \"x\"", "not an AWS account id"),
        ("[units.Prod]\n[accounts.\"123456789012\"]\nou = \"Prdo\"", "unit \"Prdo\""),
        ("[units.Prod]\nregulated_tag = \"phi\"", "KEY=VALUE"),
        ("[accounts.\"123456789012\"]\ncolour = \"red\"", "unknown field"),
        ("[[state.roles]]\nbuckets = [\"b\"]\nrole_arn = \"arn:aws:iam::1234:role/r\"", "not an IAM role ARN"),
        ("[[state.roles]]\nbuckets = [\"b\"]\nrole_arn = \"arn:aws:iam::123456789012:user/u\"", "not an IAM role ARN"),
        ("[[state.roles]]\nbuckets = []\nrole_arn = \"arn:aws:iam::123456789012:role/r\"", "names no bucket"),
        ("[organization]\nregions = [\"eu-west-1\", \"Ireland\"]", "\"Ireland\" is not an AWS region"),
        ("[accounts.\"123456789012\"]\nregions = [\"us-east-1 \"]", "accounts.regions"),
        ("[organization]\nregion = [\"eu-west-1\"]", "unknown field"),
    ] {
        let e = Policy::from_toml(bad).unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
    let ok = Policy::from_toml(
        "[organization]\nregions = [\"us-gov-west-1\", \"eu-west-1\"]\n[accounts.\"123456789012\"]\nregions = [\"us-east-1\"]",
    );
    assert_eq!(ok.expect("regions").organization.regions, ["us-gov-west-1", "eu-west-1"]);
}

#[test]
fn a_state_bucket_is_read_through_the_first_role_whose_globs_match_it() {
    let p = Policy::from_toml(
        "[[state.roles]]\nbuckets = [\"imaging-*\"]\nrole_arn = \"arn:aws:iam::444455556666:role/read\"\nexternal_id = \"x-1\"\n\
         [[state.roles]]\nbuckets = [\"*\"]\nrole_arn = \"arn:aws:iam::777788889999:role/read\"\nexternal_id = \"\"",
    )
    .unwrap();
    let imaging = p.state.role_for("imaging-tfstate").unwrap();
    assert_eq!((imaging.role_arn.as_str(), imaging.external_id()), ("arn:aws:iam::444455556666:role/read", Some("x-1")));
    let other = p.state.role_for("billing-tfstate").unwrap();
    assert_eq!((other.role_arn.as_str(), other.external_id()), ("arn:aws:iam::777788889999:role/read", None));
    assert!(Policy::default().state.role_for("imaging-tfstate").is_none());
}
