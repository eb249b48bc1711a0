//! `driftwatch scan --state s3://… --live aws` on moto server, the real binary with the
//! standard AWS environment (`AWS_ENDPOINT_URL`, dummy credentials, `AWS_REGION`) and
//! nothing else.
//!
//! Sample states are put in a moto state bucket — one in a workspace (`env:/prod/…`) — and
//! one sample bucket is created in moto's S3 with other tags and another public access block
//! than its state says: the scan reads the states under an `s3://` prefix, the live
//! configuration from AWS Config, and reports the drift with the Terraform addresses; the
//! sample buckets not created are missing; a bucket in no state is unmanaged.
//!
//! AWS Config is reached through a proxy in front of moto (`AWS_ENDPOINT_URL_CONFIG_SERVICE`)
//! that makes moto's timestamps readable by the SDK and answers `SelectResourceConfig`, which
//! moto cannot be seeded for from outside (see `tests/tests/config_proxy`). Without
//! `moto_server` the tests fail under `CI=true` and are skipped loudly elsewhere.

use crate::support;
use support::*;

#[path = "../../../tests/tests/config_proxy/mod.rs"]
mod config_proxy;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};
use driftwatch_tests::Moto;
use serde_json::{json, Value};
use std::process::Output;

const STATE_BUCKET: &str = "acme-tfstate";
const NOTES: &str = "stmarys-ehr-prod-phi-clinical-notes-123456789012";
const NOTES_ADDRESS: &str = "module.phi_storage[\"clinical-notes\"].module.bucket.aws_s3_bucket.this";
const NOTES_PAB_ADDRESS: &str = "module.phi_storage[\"clinical-notes\"].module.bucket.aws_s3_bucket_public_access_block.this";
const HANDMADE: &str = "stmarys-ehr-export-by-hand";

fn run(moto: &Moto, config_endpoint: &str, args: &[&str]) -> Output {
    moto.command(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(root())
        .env("AWS_ENDPOINT_URL_CONFIG_SERVICE", config_endpoint)
        .output()
        .expect("run driftwatch")
}

/// The state bucket with the sample states, and the clinical-notes bucket drifted.
fn estate(moto: &Moto) {
    let sdk = moto.sdk_config();
    let s3 = driftwatch_aws::s3_client(&sdk, driftwatch_aws::PathStyle::Auto);
    let rt = driftwatch_aws::blocking_runtime().expect("runtime");
    let read = |p: &str| std::fs::read(root().join(p)).expect("sample state");
    rt.block_on(async {
        s3.create_bucket().bucket(STATE_BUCKET).send().await.expect("state bucket");
        for (key, body) in [
            ("ehr/network.tfstate", read("samples/states/network.tfstate")),
            ("env:/prod/ehr/data.tfstate", read("samples/states/data.tfstate")),
            ("ehr/notes.txt", b"not a state".to_vec()),
            ("other/app.tfstate", read("samples/states/app.tfstate")),
        ] {
            s3.put_object().bucket(STATE_BUCKET).key(key).body(ByteStream::from(body)).send().await.expect("put state");
        }
        s3.create_bucket().bucket(NOTES).send().await.expect("notes bucket");
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().expect("tag");
        // As in the state, but Environment changed by hand.
        let tags = Tagging::builder()
            .tag_set(tag("CostCenter", "ehr-1042"))
            .tag_set(tag("Environment", "staging"))
            .tag_set(tag("Name", NOTES))
            .tag_set(tag("Owner", "platform-team"))
            .tag_set(tag("data-classification", "phi"))
            .tag_set(tag("phi-dataset", "clinical-notes"))
            .build()
            .expect("tagging");
        s3.put_bucket_tagging().bucket(NOTES).tagging(tags).send().await.expect("tag bucket");
        // The state blocks public ACLs; live no longer does.
        let pab = PublicAccessBlockConfiguration::builder()
            .block_public_acls(false)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3.put_public_access_block().bucket(NOTES).public_access_block_configuration(pab).send().await.expect("public access block");
    });
}

fn findings(out: &Output) -> Vec<Value> {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is not a JSON array of findings ({e}): {}", text(out)))
}

fn find<'a>(all: &'a [Value], rule: &str, address: &str) -> Option<&'a Value> {
    all.iter().find(|f| f["rule"] == rule && f["resource"]["address"] == address)
}

#[test]
fn scan_reads_states_from_s3_and_live_configuration_from_aws_config() {
    let Some(moto) = Moto::start("cli-scan-aws") else { return };
    estate(&moto);
    let unmanaged = json!({"resourceId": HANDMADE, "resourceType": "AWS::S3::Bucket", "arn": format!("arn:aws:s3:::{HANDMADE}"),
                           "resourceName": HANDMADE, "configurationItemStatus": "OK", "configuration": {"name": HANDMADE},
                           "supplementaryConfiguration": {}, "tags": []});
    let proxy = config_proxy::moto_config_proxy_selecting(&moto.endpoint, vec![unmanaged.to_string()]);
    let out = run(&moto, &proxy.endpoint, &["scan", "--state", &format!("s3://{STATE_BUCKET}/ehr/"), "--live", "aws", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "findings: exit 1: {}", text(&out));
    let all = findings(&out);

    // The drifted bucket: its tags, and its public access block facet, with their addresses,
    // from the state in the prod workspace.
    let tags = find(&all, "drift.changed", NOTES_ADDRESS).unwrap_or_else(|| panic!("tags drift on {NOTES_ADDRESS}: {all:#?}"));
    assert_eq!(tags["resource"]["id"], NOTES);
    assert_eq!(tags["resource"]["state"]["key"], "env:/prod/ehr/data.tfstate");
    assert_eq!(tags["resource"]["state"]["workspace"], "prod");
    let change = tags["changes"].as_array().unwrap().iter().find(|c| c["path"] == "tags_all").expect("a tags_all change");
    assert_eq!((change["desired"]["Environment"].as_str(), change["actual"]["Environment"].as_str()), (Some("prod"), Some("staging")));
    let pab = find(&all, "drift.changed", NOTES_PAB_ADDRESS).unwrap_or_else(|| panic!("public access block drift: {all:#?}"));
    let change = pab["changes"].as_array().unwrap().iter().find(|c| c["path"] == "block_public_acls").expect("block_public_acls");
    assert_eq!((&change["desired"], &change["actual"]), (&json!(true), &json!(false)));

    // Every other sample bucket of the states read is missing from moto.
    let missing: Vec<&str> = all
        .iter()
        .filter(|f| f["rule"] == "drift.missing" && f["resource"]["type"] == "AWS::S3::Bucket")
        .filter_map(|f| f["resource"]["id"].as_str())
        .collect();
    assert!(!missing.is_empty() && !missing.contains(&NOTES), "{missing:?}");
    assert!(missing.contains(&"stmarys-ehr-prod-phi-hl7-inbound-123456789012"), "{missing:?}");
    // The bucket in no state, from SelectResourceConfig.
    assert!(all.iter().any(|f| f["rule"] == "drift.unmanaged" && f["resource"]["id"] == HANDMADE), "unmanaged {HANDMADE}: {all:#?}");

    // Only the states under the prefix (and its workspaces) were read: app.tfstate and the
    // text file were not.
    let keys: std::collections::BTreeSet<&str> = all.iter().filter_map(|f| f["resource"]["state"]["key"].as_str()).collect();
    assert!(keys.iter().all(|k| ["ehr/network.tfstate", "env:/prod/ehr/data.tfstate"].contains(k)), "{keys:?}");

    // One state object by key: the same drift.
    let out = run(
        &moto,
        &proxy.endpoint,
        &["scan", "--state", &format!("s3://{STATE_BUCKET}/env:/prod/ehr/data.tfstate"), "--live", "aws", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(find(&findings(&out), "drift.changed", NOTES_ADDRESS).is_some());
    // AWS Config down: a warning, the states still read, nothing reported missing or changed.
    let out =
        run(&moto, "http://127.0.0.1:9", &["scan", "--state", &format!("s3://{STATE_BUCKET}/ehr/"), "--live", "aws", "--format", "json"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("warning: AWS Config BatchGetResourceConfig") && stderr.contains("not compared"), "{stderr}");
    assert!(findings(&out).iter().all(|f| f["rule"] != "drift.missing" && f["rule"] != "drift.changed"), "{}", text(&out));
}

#[test]
fn bad_s3_locations_are_one_line_errors_with_exit_2() {
    let Some(moto) = Moto::start("cli-scan-aws-errors") else { return };
    estate(&moto);
    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    for (state, says) in [
        ("s3://", "not an S3 bucket name"),
        ("s3://Not_A_Bucket/x.tfstate", "\"s3://Not_A_Bucket/x.tfstate\": not an S3 bucket name"),
        ("s3://no-such-bucket/prod.tfstate", "no-such-bucket"),
        (&format!("s3://{STATE_BUCKET}/nothing-here/"), "holds no Terraform state files"),
        (&format!("s3://{STATE_BUCKET}/ehr/missing.tfstate"), "no state at s3://acme-tfstate/ehr/missing.tfstate"),
    ] {
        let out = run(&moto, &proxy.endpoint, &["scan", "--state", state, "--live", "aws"]);
        assert_eq!(out.status.code(), Some(2), "{state}: {}", text(&out));
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{state}: one line: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(says), "{state}: {stderr}");
        assert!(out.stdout.is_empty(), "{state}: nothing on stdout");
    }
}

/// `--live aws --aggregator NAME`: the live configuration of every account and region through
/// a Config aggregator. moto implements `ListAggregateDiscoveredResources` and
/// `BatchGetAggregateResourceConfig` (over the caller's own account: it keeps no other
/// account's resources there), so the unmanaged bucket is found in another region without
/// `SelectResourceConfig`.
#[test]
fn scan_reads_an_aggregators_accounts_and_regions() {
    let Some(moto) = Moto::start("cli-scan-aggregator") else { return };
    estate(&moto);
    let sdk = moto.sdk_config();
    let rt = driftwatch_aws::blocking_runtime().expect("runtime");
    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    rt.block_on(async {
        config_proxy::put_aggregator(&sdk, "org-all").await;
        let eu = driftwatch_aws::s3_client(
            &sdk.to_builder().region(aws_config::Region::new("eu-west-1")).build(),
            driftwatch_aws::PathStyle::Auto,
        );
        let constraint = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
            .build();
        eu.create_bucket().bucket(HANDMADE).create_bucket_configuration(constraint).send().await.expect("bucket in eu-west-1");
    });
    let args = |name: &str| {
        ["scan", "--state", &format!("s3://{STATE_BUCKET}/ehr/"), "--live", "aws", "--aggregator", name, "--format", "json"]
            .map(String::from)
    };
    let out = run(&moto, &proxy.endpoint, &args("org-all").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "findings: exit 1: {}\n{}", text(&out), text(&out.stderr));
    let all = findings(&out);
    // The drift of the bucket the states manage, as with the account's own reader.
    let tags = find(&all, "drift.changed", NOTES_ADDRESS).unwrap_or_else(|| panic!("tags drift on {NOTES_ADDRESS}: {all:#?}"));
    assert_eq!(tags["resource"]["account"], "123456789012");
    assert!(all.iter().any(|f| f["rule"] == "drift.missing" && f["resource"]["id"] == "stmarys-ehr-prod-phi-hl7-inbound-123456789012"));
    // The bucket in no state, in another region, found through the aggregator and named by its
    // account (an S3 ARN names none).
    let handmade = all
        .iter()
        .find(|f| f["rule"] == "drift.unmanaged" && f["resource"]["id"] == HANDMADE)
        .unwrap_or_else(|| panic!("unmanaged {HANDMADE}: {all:#?}"));
    assert_eq!(handmade["resource"]["account"], "123456789012");

    // An aggregator that does not exist: one line naming it, exit 2, nothing reported.
    let out = run(&moto, &proxy.endpoint, &args("no-such").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--aggregator no-such") && stderr.contains("NoSuchConfigurationAggregator"), "{stderr}");
    // --aggregator without --live aws.
    let out = run(&moto, &proxy.endpoint, &["scan", "--state", "samples/states", "--live", "samples/live", "--aggregator", "org-all"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out.stderr).contains("give --live aws with it"), "{}", text(&out));
}

/// `--role ARN [--external-id ID]`: a workload account's state, kept in that account's bucket,
/// read through a role there (moto: the assumed credentials act in the role's account, whose
/// buckets the caller's account does not see). Without the role the bucket is not there.
#[test]
fn scan_reads_another_accounts_state_through_a_role() {
    let Some(moto) = Moto::start("cli-scan-aws-role") else { return };
    const WORKLOAD: &str = "workload-tfstate";
    let role = "arn:aws:iam::444455556666:role/driftwatch-state-read";
    let rt = driftwatch_aws::blocking_runtime().expect("runtime");
    rt.block_on(async {
        let member = driftwatch_aws::assume_role_config(&moto.sdk_config(), role, Some("ext-1")).await;
        let s3 = driftwatch_aws::s3_client(&member, driftwatch_aws::PathStyle::Auto);
        s3.create_bucket().bucket(WORKLOAD).send().await.expect("the member's bucket");
        let body = std::fs::read(root().join("samples/states/network.tfstate")).expect("sample state");
        s3.put_object().bucket(WORKLOAD).key("net/network.tfstate").body(ByteStream::from(body)).send().await.expect("put state");
    });
    let proxy = config_proxy::moto_config_proxy(&moto.endpoint);
    let state = format!("s3://{WORKLOAD}/net/");
    let through =
        run(&moto, &proxy.endpoint, &["scan", "--state", &state, "--live", "samples/live", "--role", role, "--external-id", "ext-1"]);
    assert!(matches!(through.status.code(), Some(0 | 1)), "{}", text(&through));
    let stdout = text(&through.stdout);
    assert!(stdout.contains("aws_security_group.app"), "the workload state was read and compared: {stdout}");
    // moto finds a bucket by its name from any account, so reading without the role works
    // there too. That the role's credentials read the state shows when STS cannot be reached:
    // with --role the read fails, naming the role; without it nothing asks STS.
    let no_sts = |args: &[&str]| {
        moto.command(env!("CARGO_BIN_EXE_driftwatch"))
            .args(args)
            .current_dir(root())
            .env("AWS_ENDPOINT_URL_CONFIG_SERVICE", &proxy.endpoint)
            .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
            .output()
            .expect("run driftwatch")
    };
    let failed = no_sts(&["scan", "--state", &state, "--live", "samples/live", "--role", role]);
    assert_eq!(failed.status.code(), Some(2), "{}", text(&failed));
    let stderr = text(&failed.stderr);
    assert!(stderr.starts_with("error: ") && stderr.contains(WORKLOAD), "{stderr}");
    let own = no_sts(&["scan", "--state", &state, "--live", "samples/live"]);
    assert!(matches!(own.status.code(), Some(0 | 1)), "{}", text(&own));
    for (args, says) in
        [(vec!["--role", "arn:aws:iam::444455556666:user/u"], "not an IAM role ARN"), (vec!["--external-id", "x"], "--role")]
    {
        let mut all = vec!["scan", "--state", state.as_str(), "--live", "samples/live"];
        all.extend(args.iter().copied());
        let out = run(&moto, &proxy.endpoint, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
}
